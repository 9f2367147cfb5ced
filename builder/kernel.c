// SPDX-License-Identifier: MIT
/* The kernel of a build: its modules into the tree, its image beside the initrd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "common/buf.h"
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

int kernel_apply(struct tree *t, const struct build_config *cfg, struct kernel_result *k,
		 struct it_error *err)
{
	int r;

	if (cfg->kernel_package) {
		r = kmod_from_tree(t, NULL, &cfg->modules, &k->kmod, err);
		if (r < 0)
			return r;
		log_verbose("kernel %s from package '%s', %zu modules", k->kmod.version,
			    cfg->kernel_package, k->kmod.modules.n);
		return 0;
	}
	if (!cfg->kernel_image) {
		if (cfg->modules.n)
			return it_error_set(err, -IT_EUSAGE,
					    "modules asked for but no kernel given (kernel host, "
					    "kernel image PATH or kernel package NAME)");
		return 0;
	}
	k->host_image = strdup(cfg->kernel_image);
	if (!k->host_image)
		return -ENOMEM;
	r = kmod_image_version_file(cfg->kernel_image, &k->kmod.version, err);
	if (r < 0)
		return r;
	if (!cfg->modules.n)
		return 0;
	r = kmod_add_from_dir(t, cfg->modules_dir ? cfg->modules_dir : "/lib/modules",
			      k->kmod.version, &cfg->modules, &k->kmod, err);
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
