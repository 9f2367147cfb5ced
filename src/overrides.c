// SPDX-License-Identifier: MIT
/* Shared command-line options: repository, kernel, cache, trust; applied over a scenario. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int overrides_take(struct overrides *o, int opt, const char *arg, struct it_error *err)
{
	int r = 1;

	switch (opt) {
	case OPT_REPO:
		r = strlist_add(&o->repos, arg);
		break;
	case OPT_RELEASE:
		o->release = arg;
		break;
	case OPT_ARCH:
		o->arch = arg;
		break;
	case OPT_KERNEL:
		o->kernel = arg;
		break;
	case OPT_MODULES_DIR:
		o->modules_dir = arg;
		break;
	case OPT_MODULE:
		r = strlist_add(&o->modules, arg);
		break;
	case OPT_CACHE_DIR:
		o->cache_dir = arg;
		break;
	case OPT_KEYS_DIR:
		o->keys_dir = arg;
		break;
	case OPT_OFFLINE:
		o->offline = true;
		break;
	case OPT_ALLOW_UNTRUSTED:
		o->allow_untrusted = true;
		break;
	case 'j':
	case OPT_JOBS:
		if (!parse_long(arg, 1, 64, &o->jobs))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --jobs '%s': give a number from 1 to 64", arg);
		break;
	case OPT_HOSTNAME:
		o->hostname = arg;
		break;
	case OPT_COMPRESSION:
		if (strcmp(arg, "gzip") && strcmp(arg, "zstd") && strcmp(arg, "none"))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --compression '%s': use gzip, zstd or none", arg);
		o->compression = arg;
		break;
	default:
		return 0;
	}
	return r < 0 ? r : 1;
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
		if (!strcmp(o->kernel, "host")) {
			s->kernel_host = true;
			free(b->kernel_image);
			b->kernel_image = NULL;
		} else {
			s->kernel_host = false;
			r = set_str(&b->kernel_image, o->kernel);
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
	if (r < 0)
		return it_error_set(err, r, "cannot apply the command-line options");
	return 0;
}
