// SPDX-License-Identifier: MIT
/* Shared command-line options: repository, kernel, cache, trust; applied over a scenario. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/builder.h"
#include "common/util.h"
#include "src/overrides.h"

void overrides_init(struct overrides *o)
{
	memset(o, 0, sizeof(*o));
}

void overrides_release(struct overrides *o)
{
	strlist_clear(&o->repos);
	strlist_clear(&o->modules);
	overrides_init(o);
}

enum {
	OPT_REPO = 1,
	OPT_RELEASE,
	OPT_ARCH,
	OPT_CACHE_DIR,
	OPT_OFFLINE,
	OPT_KEYS_DIR,
	OPT_ALLOW_UNTRUSTED,
	OPT_JOBS,
	OPT_KERNEL,
	OPT_MODULES_DIR,
	OPT_MODULE,
	OPT_VMLINUX,
	OPT_HOSTNAME,
	OPT_COMPRESSION,
	OPT_LOCK,
	OPT_WRITE_LOCK,
	OPT_UPDATE_LOCK,
	OPT_FROZEN,
	OPT_SBOM,
};

static const struct opt packages_opts[] = {
    {OPT_REPO, 'r', "repo", "URL|DIR",
     "a repository (https://, http://, file:// or a directory),\n"
     "highest priority first; repeatable; replaces the scenario's;\n"
     "'@testing URL' tags it: its packages come only for\n"
     "'NAME@testing' (and what they need), as apk pins"},
    {OPT_REPO, 0, "repository", "URL|DIR", "the same as --repo"},
    {OPT_RELEASE, 0, "release", "VER",
     "Alpine's mirror for release VER (v3.19): its main repository"},
    {OPT_ARCH, 0, "arch", "ARCH", "package architecture (default x86_64)"},
    {OPT_CACHE_DIR, 0, "cache-dir", "DIR", "download cache (default $XDG_CACHE_HOME/initrd-test)"},
    {OPT_OFFLINE, 0, "offline", NULL, "use the cache and local repositories only"},
    {OPT_KEYS_DIR, 0, "keys-dir", "DIR",
     "trusted signing keys (default: Alpine's, shipped with us)"},
    {OPT_ALLOW_UNTRUSTED, 0, "allow-untrusted", NULL,
     "accept unsigned or unknown-key packages (loudly)"},
    {OPT_JOBS, 'j', "jobs", "N", "parallel downloads (default 4)"},
};

static const struct opt kernel_opts[] = {
    {OPT_KERNEL, 0, "kernel", "PATH|DIR|host",
     "a bzImage; a built Linux tree (its bzImage, vmlinux and\n"
     "modules, its .config checked first); or 'host': the\n"
     "newest /boot/vmlinuz-VERSION"},
    {OPT_MODULES_DIR, 0, "modules-dir", "DIR",
     "its modules (/lib/modules/VERSION, or an INSTALL_MOD_PATH\n"
     "holding lib/modules); default from the image or the tree"},
    {OPT_MODULE, 0, "module", "NAME", "also include this module and its dependencies; repeatable"},
    {OPT_VMLINUX, 0, "vmlinux", "FILE",
     "the kernel's vmlinux with debug info: crash reports name\n"
     "each frame's FILE:LINE (modules' from their .ko)"},
};

static const struct opt image_opts[] = {
    {OPT_HOSTNAME, 0, "hostname", "NAME", "/etc/hostname"},
    {OPT_COMPRESSION, 0, "compression", "C", "gzip (default), zstd or none"},
};

static const struct opt lock_opts[] = {
    {OPT_LOCK, 0, "lock", "FILE",
     "the lock (default: initrd-test.lock beside the scenario);\n"
     "when it exists, its exact packages are built (docs/lockfile.md)"},
    {OPT_WRITE_LOCK, 0, "write-lock", NULL, "resolve, and write the lock after the build"},
    {OPT_UPDATE_LOCK, 0, "update-lock", NULL, "the same: resolve again and rewrite the lock"},
    {OPT_FROZEN, 0, "frozen", NULL, "fail (exit 2) if resolving now would change the lock"},
    {OPT_SBOM, 0, "sbom", "FILE", "write an SPDX 2.3 JSON SBOM of the initrd (docs/sbom.md)"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct overrides *o = ctx;

	switch (id) {
	case OPT_REPO:
		return strlist_add(&o->repos, arg);
	case OPT_RELEASE:
		o->release = arg;
		return 0;
	case OPT_ARCH:
		o->arch = arg;
		return 0;
	case OPT_CACHE_DIR:
		o->cache_dir = arg;
		return 0;
	case OPT_OFFLINE:
		o->offline = true;
		return 0;
	case OPT_KEYS_DIR:
		o->keys_dir = arg;
		return 0;
	case OPT_ALLOW_UNTRUSTED:
		o->allow_untrusted = true;
		return 0;
	case OPT_JOBS:
		if (!parse_long(arg, 1, 64, &o->jobs))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --jobs '%s': give a number from 1 to 64", arg);
		return 0;
	default:
		break;
	}
	return -EINVAL;
}

static int take_kernel(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct overrides *o = ctx;

	(void)err;
	switch (id) {
	case OPT_KERNEL:
		o->kernel = arg;
		return 0;
	case OPT_MODULES_DIR:
		o->modules_dir = arg;
		return 0;
	case OPT_MODULE:
		return strlist_add(&o->modules, arg);
	case OPT_VMLINUX:
		o->vmlinux = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

static int take_image(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct overrides *o = ctx;

	if (id == OPT_HOSTNAME) {
		o->hostname = arg;
		return 0;
	}
	if (strcmp(arg, "gzip") && strcmp(arg, "zstd") && strcmp(arg, "none"))
		return it_error_set(err, -IT_EUSAGE,
				    "bad --compression '%s': use gzip, zstd or none", arg);
	o->compression = arg;
	return 0;
}

static int take_lock(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct overrides *o = ctx;

	(void)err;
	if (id == OPT_LOCK)
		o->lock = arg;
	else if (id == OPT_SBOM)
		o->sbom = arg;
	else if (id == OPT_FROZEN)
		o->frozen = true;
	else
		o->write_lock = true;
	return 0;
}

const struct opt_group overrides_packages = OPT_GROUP("packages", packages_opts, take);
const struct opt_group overrides_kernel = OPT_GROUP("kernel", kernel_opts, take_kernel);
const struct opt_group overrides_image = OPT_GROUP("image", image_opts, take_image);
const struct opt_group overrides_lock = OPT_GROUP("lock and SBOM", lock_opts, take_lock);

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* The lock file and its mode, the SBOM's path. */
static int apply_lock(const struct overrides *o, struct scenario *s, struct it_error *err)
{
	struct build_config *b = &s->build;
	char path[PATH_MAX];
	int r = 0;

	if (o->frozen && o->write_lock)
		return it_error_set(
		    err, -IT_EUSAGE,
		    "--frozen checks the lock, --update-lock rewrites it: give one");
	b->lock_mode = o->frozen       ? BUILD_LOCK_FROZEN
		       : o->write_lock ? BUILD_LOCK_WRITE
				       : BUILD_LOCK_USE;
	free(b->lock_file);
	b->lock_file = NULL;
	if (o->lock)
		r = set_str(&b->lock_file, o->lock);
	else if (s->dir && path_join(path, sizeof(path), s->dir, "initrd-test.lock") == 0)
		r = set_str(&b->lock_file, path);
	else if (o->frozen || o->write_lock)
		return it_error_set(err, -IT_EUSAGE, "%s: no scenario to keep the lock beside",
				    o->frozen ? "--frozen" : "--update-lock");
	if (r == 0 && o->sbom)
		r = set_str(&b->sbom_file, o->sbom);
	return r;
}

int overrides_apply(const struct overrides *o, struct scenario *s, struct it_error *err)
{
	struct build_config *b = &s->build;
	int r = 0;

	if (o->repos.n || o->release) {
		strlist_clear(&b->repos);
		r = strlist_copy(&b->repos, &o->repos);
		if (r == 0 && o->release)
			r = strlist_addf(&b->repos, "%s/%s/main", BUILDER_DEFAULT_MIRROR,
					 o->release);
	}
	if (r == 0 && o->arch)
		r = set_str(&b->arch, o->arch);
	if (r == 0 && o->kernel) {
		bool dir = is_dir(o->kernel);

		if (!strcmp(o->kernel, "host")) {
			s->kernel_host = true;
			free(b->kernel_image);
			b->kernel_image = NULL;
		} else if (dir) {
			s->kernel_host = false;
			free(b->kernel_image);
			b->kernel_image = NULL;
			r = set_str(&b->kernel_tree, o->kernel);
		} else {
			s->kernel_host = false;
			r = set_str(&b->kernel_image, o->kernel);
		}
		if (!dir) {
			free(b->kernel_tree);
			b->kernel_tree = NULL;
		}
		free(b->kernel_package);
		b->kernel_package = NULL;
		if (r == 0 && !o->modules_dir) {
			free(b->modules_dir);
			b->modules_dir = NULL;
		}
	}
	if (r == 0 && o->modules_dir)
		r = set_str(&b->modules_dir, o->modules_dir);
	if (r == 0 && o->vmlinux)
		r = set_str(&s->vmlinux, o->vmlinux);
	for (size_t i = 0; r == 0 && i < o->modules.n; i++)
		if (!strlist_has(&b->modules, o->modules.v[i]))
			r = strlist_add(&b->modules, o->modules.v[i]);
	if (r == 0 && o->cache_dir)
		r = set_str(&b->cache_dir, o->cache_dir);
	if (r == 0 && o->keys_dir)
		r = set_str(&b->keys_dir, o->keys_dir);
	if (r == 0 && o->hostname)
		r = set_str(&b->hostname, o->hostname);
	if (o->offline)
		b->offline = true;
	if (o->allow_untrusted)
		b->allow_untrusted = true;
	if (o->jobs)
		b->jobs = (int)o->jobs;
	if (o->compression)
		b->compression = !strcmp(o->compression, "zstd")   ? COMPRESS_ZSTD
				 : !strcmp(o->compression, "none") ? COMPRESS_NONE
								   : COMPRESS_GZIP;
	if (r == 0)
		r = apply_lock(o, s, err);
	if (r < 0)
		return it_error_set(err, r, "cannot apply the command-line options");
	return 0;
}

int overrides_load(struct scenario *s, const char *path, const struct overrides *o, int argc,
		   char **argv, struct it_error *err)
{
	int r = 0;

	if (path)
		r = scenario_load(s, path, err);
	for (int i = 0; r == 0 && i < argc; i++)
		if (!strlist_has(&s->build.packages, argv[i]))
			r = strlist_add(&s->build.packages, argv[i]);
	if (r == 0)
		r = overrides_apply(o, s, err);
	if (r == 0 && s->build.repos.n == 0)
		r = strlist_addf(&s->build.repos, "%s/%s/main", BUILDER_DEFAULT_MIRROR,
				 BUILDER_DEFAULT_RELEASE);
	return r;
}
