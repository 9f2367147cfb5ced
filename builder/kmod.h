/* SPDX-License-Identifier: MIT */
/*
 * Kernel images and modules: a bzImage's version, and named modules with their dependencies.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_KMOD_H
#define IT_BUILDER_KMOD_H

#include <stddef.h>

#include "builder/tree.h"
#include "common/err.h"
#include "common/strlist.h"

/* What a module selection did. Owned by the struct; kmod_result_release() frees it. */
struct kmod_result {
	char *version;	      /* kernel release, "6.1.0-56-amd64" */
	unsigned char *image; /* kmod_from_tree(): the kernel image taken out of the tree */
	size_t image_len;
	char *image_path;	/* kmod_from_tree(): where it was, "/boot/vmlinuz-virt" */
	struct strlist modules; /* modules put in, relative to /lib/modules/VERSION, uncompressed */
	struct strlist builtin; /* names asked for that are built into the kernel */
};

void kmod_result_release(struct kmod_result *r);

/*
 * The kernel release in a bzImage's setup header: "HdrS" at 0x202, the
 * version string at 0x200 plus the 16-bit kernel_version field at 0x20E
 * (Documentation/arch/x86/boot.rst); its first word, as 'file' prints it.
 * 'name' is for messages. -IT_EKERNEL when the image is not a bzImage.
 * *version is a heap string for the caller.
 */
int kmod_image_version(const void *img, size_t len, const char *name, char **version,
		       struct it_error *err);
int kmod_image_version_file(const char *path, char **version, struct it_error *err);

/*
 * Put the modules 'names' ("e1000", "virtio-net": '-' and '_' alike) and all
 * they depend on (modules.dep, transitively) from a host modules directory
 * into the tree under /lib/modules/VERSION, with the index files busybox
 * modprobe and mdev's coldplug read: modules.dep, .alias, .symbols,
 * .softdep, .devname and .order cut down to those modules, modules.builtin
 * and modules.builtin.modinfo copied. Compressed modules (.ko.gz, .ko.xz,
 * .ko.zst) are decompressed to .ko and modules.dep says so, since busybox
 * loads only what its build can decompress (and zstd not at all).
 *
 * 'modules_dir' is /lib/modules/VERSION, or a directory holding VERSION
 * (then 'version' is needed). 'version' (may be NULL) is the image's:
 * modules for another version are -IT_EKERNEL naming both. An unknown name
 * is -IT_ENOTFOUND "module 'foo' not found in '/lib/modules/VER/modules.dep'";
 * one built into the kernel goes to res->builtin. 'optional' names (may be
 * NULL) are taken with their dependencies when every file of them is
 * there, and left out silently otherwise.
 */
int kmod_add_from_dir(struct tree *t, const char *modules_dir, const char *version,
		      const struct strlist *names, const struct strlist *optional,
		      struct kmod_result *res, struct it_error *err);

/*
 * The same for a configured, built Linux tree 'kdir' (version: its
 * image's): the modules its modules.order lists (".o" entries as ".ko"),
 * their dependencies and aliases from each file's .modinfo as depmod
 * reads them, modules.builtin from the tree. They go in under
 * /lib/modules/VERSION at their paths in the tree, with modules.dep and
 * modules.alias written for them. A missing modules.order or listed file
 * is -IT_EKERNEL naming it.
 */
int kmod_add_from_build(struct tree *t, const char *kdir, const char *version,
			const struct strlist *names, const struct strlist *optional,
			struct kmod_result *res, struct it_error *err);

/*
 * The same for a kernel package already in the tree (linux-virt): the image
 * ('image_path', or the one /boot/vmlinuz* when NULL) is taken out of the
 * tree into res->image, and /lib/modules/VERSION keeps only the named
 * modules and their dependencies, decompressed, with the index files cut
 * down and the binary .bin indexes removed (they would list modules that
 * are gone). Without modules.dep (a package that leaves it to depmod) the
 * dependencies and aliases come from each module's .modinfo section.
 */
int kmod_from_tree(struct tree *t, const char *image_path, const struct strlist *names,
		   const struct strlist *optional, struct kmod_result *res, struct it_error *err);

#endif
