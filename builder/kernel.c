// SPDX-License-Identifier: MIT
/* The kernel of a build: its modules into the tree, its image beside the initrd; the host's. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/kimage.h"
#include "common/log.h"
#include "common/util.h"

void kernel_result_init(struct kernel_result *k)
{
	memset(k, 0, sizeof(*k));
}

void kernel_result_release(struct kernel_result *k)
{
	kmod_result_release(&k->kmod);
	free(k->host_image);
	kernel_result_init(k);
}

bool kernel_result_has_image(const struct kernel_result *k)
{
	return k->kmod.image_len > 0 || k->host_image;
}

/* An image for another architecture than the build's packages is an error naming both. */
static int check_image_arch(const struct build_config *cfg, struct it_error *err)
{
	const char *want = cfg->arch ? cfg->arch : BUILDER_DEFAULT_ARCH;
	struct kimage_info ki;

	if (kimage_arch_parse(want) == KIMAGE_ARCH_UNKNOWN ||
	    kimage_detect_file(cfg->kernel_image, &ki) < 0 || ki.arch == kimage_arch_parse(want))
		return 0;
	it_error_set(err, -IT_EKERNEL, "kernel '%s' is an %s image, but the arch is '%s'",
		     cfg->kernel_image, kimage_arch_name(ki.arch), want);
	it_error_hint(err, "give a kernel for %s, or set 'arch %s'", want,
		      kimage_arch_name(ki.arch));
	return -IT_EKERNEL;
}

/*
 * The modules directory to read: the one given, or its lib/modules when it is
 * an INSTALL_MOD_PATH ('make modules_install INSTALL_MOD_PATH=DIR'), or the host's.
 */
static const char *modules_source(const char *given, char *buf, size_t n)
{
	struct stat st;

	if (!given)
		return "/lib/modules";
	if (path_join(buf, n, given, "lib/modules") == 0 && stat(buf, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		return buf;
	return given;
}

int kernel_apply(struct tree *t, const struct build_config *cfg, struct kernel_result *k,
		 struct it_error *err)
{
	char inst[PATH_MAX];
	int r;

	if (cfg->kernel_package) {
		r = kmod_from_tree(t, NULL, &cfg->modules, &cfg->optional_modules, &k->kmod, err);
		if (r < 0)
			return r;
		log_verbose("kernel %s from package '%s', %zu modules", k->kmod.version,
			    cfg->kernel_package, k->kmod.modules.n);
		return 0;
	}
	if (!cfg->kernel_image) {
		if (cfg->modules
			.n) /* optional ones need a kernel no more than they need anything */
			return it_error_set(err, -IT_EUSAGE,
					    "modules asked for but no kernel given (kernel host, "
					    "kernel image PATH or kernel package NAME)");
		return 0;
	}
	r = check_image_arch(cfg, err);
	if (r < 0)
		return r;
	k->host_image = strdup(cfg->kernel_image);
	if (!k->host_image)
		return -ENOMEM;
	r = kmod_image_version_file(cfg->kernel_image, &k->kmod.version, err);
	if (r < 0)
		return r;
	if (!cfg->modules.n && !cfg->optional_modules.n)
		return 0;
	if (cfg->kernel_tree && !cfg->modules_dir)
		r = kmod_add_from_build(t, cfg->kernel_tree, k->kmod.version, &cfg->modules,
					&cfg->optional_modules, &k->kmod, err);
	else
		r = kmod_add_from_dir(t, modules_source(cfg->modules_dir, inst, sizeof(inst)),
				      k->kmod.version, &cfg->modules, &cfg->optional_modules,
				      &k->kmod, err);
	if (r < 0)
		return r;
	log_verbose("kernel %s from '%s', %zu modules", k->kmod.version, cfg->kernel_image,
		    k->kmod.modules.n);
	return 0;
}

int kernel_place(const struct kernel_result *k, const char *path, struct it_error *err)
{
	struct buf img = BUF_INIT;
	const void *data;
	size_t len;
	int r;

	buf_init(&img, 0);
	if (k->host_image) {
		r = buf_read_file(&img, k->host_image);
		if (r < 0) {
			buf_release(&img);
			return it_error_set(err, r, "cannot read kernel '%s': %s", k->host_image,
					    it_strerror(r));
		}
		data = img.data;
		len = img.len;
	} else {
		data = k->kmod.image;
		len = k->kmod.image_len;
	}
	r = write_file_atomic(path, data, len, 0644);
	buf_release(&img);
	if (r < 0)
		return it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
	return 0;
}

int builder_host_kernel(const char *boot_dir, const char *modules_root, char **image,
			char **modules_dir, struct it_error *err)
{
	char best[NAME_MAX + 1] = "", path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int r = 0;

	*image = NULL;
	*modules_dir = NULL;
	boot_dir = boot_dir ? boot_dir : "/boot";
	modules_root = modules_root ? modules_root : "/lib/modules";
	d = opendir(boot_dir);
	if (!d) {
		r = -errno;
		it_error_set(err, -IT_ENOTFOUND, "cannot read '%s': %s", boot_dir, strerror(-r));
		r = -IT_ENOTFOUND;
		goto out;
	}
	for (de = readdir(d); de; de = readdir(d)) {
		const char *ver = de->d_name + 8;

		if (strncmp(de->d_name, "vmlinuz-", 8) || !*ver)
			continue;
		if (path_join(path, sizeof(path), modules_root, ver) < 0 || stat(path, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (!best[0] || strverscmp(ver, best) > 0)
			snprintf(best, sizeof(best), "%s", ver);
	}
	if (!best[0]) {
		r = it_error_set(
		    err, -IT_ENOTFOUND,
		    "no host kernel: no '%s/vmlinuz-VERSION' with a matching '%s/VERSION'",
		    boot_dir, modules_root);
		it_error_hint(err, "install one (Debian: apt-get install linux-image-amd64) or "
				   "write 'kernel image PATH modules DIR'");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/vmlinuz-%s", boot_dir, best);
	if (access(path, R_OK) < 0) {
		r = it_error_set(err, -IT_EKERNEL, "cannot read kernel '%s': %s", path,
				 strerror(errno));
		it_error_hint(err,
			      "some distributions make kernels readable by root only: "
			      "sudo chmod 0644 '%s'",
			      path);
		goto out;
	}
	*image = strdup(path);
	if (asprintf(modules_dir, "%s/%s", modules_root, best) < 0)
		*modules_dir = NULL;
	if (!*image || !*modules_dir) {
		free(*image);
		free(*modules_dir);
		*image = NULL;
		*modules_dir = NULL;
		r = it_error_set(err, -ENOMEM, "out of memory");
	}
out:
	if (d)
		closedir(d);
	return r;
}
