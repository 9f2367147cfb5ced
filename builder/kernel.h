/* SPDX-License-Identifier: MIT */
/*
 * The kernel of a build: from a package in the tree or an image plus modules on the host.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_KERNEL_H
#define IT_BUILDER_KERNEL_H

#include <stddef.h>

#include "builder/builder.h"
#include "builder/kmod.h"
#include "builder/tree.h"
#include "common/err.h"

struct kernel_result {
	struct kmod_result kmod; /* version, modules, and the image taken from a package */
	char *host_image;	 /* the image on the host, when it came from there */
};

void kernel_result_init(struct kernel_result *k);
void kernel_result_release(struct kernel_result *k);
/* True when the build has a kernel image to place. */
bool kernel_result_has_image(const struct kernel_result *k);

/*
 * Put the configured kernel's modules in the tree: from the kernel package
 * (cfg->kernel_package, already installed in the tree: its image is taken
 * out), or from cfg->kernel_image with cfg->modules_dir (default
 * /lib/modules/VERSION, VERSION read from the image). Modules without a
 * kernel are an error; no kernel at all is fine (k stays empty).
 */
int kernel_apply(struct tree *t, const struct build_config *cfg, struct kernel_result *k,
		 struct it_error *err);
/* Write the kernel image to 'path', whole or not at all. */
int kernel_place(const struct kernel_result *k, const char *path, struct it_error *err);

#endif
