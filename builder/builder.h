/* SPDX-License-Identifier: MIT */
/*
 * Public interface of the builder: from APK repositories and a declared
 * configuration to a reproducible newc cpio initrd, without root.
 */
#ifndef IT_BUILDER_H
#define IT_BUILDER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/strlist.h"

#define BUILDER_DEFAULT_MIRROR "https://dl-cdn.alpinelinux.org/alpine"
#define BUILDER_DEFAULT_RELEASE "v3.21"
#define BUILDER_DEFAULT_ARCH "x86_64"

enum compression { COMPRESS_GZIP = 0, COMPRESS_ZSTD, COMPRESS_NONE };

/*
 * What a build does with build_config.lock_file (docs/lockfile.md).
 * BUILD_LOCK_USE: when the file exists, the packages are exactly the
 * lock's (name, version, checksum), found in the indexes and not
 * resolved; without it the world is resolved as usual. BUILD_LOCK_WRITE:
 * resolve, and (re)write the file once the build (or dry run) succeeded.
 * BUILD_LOCK_FROZEN: the file must exist and a fresh resolution must give
 * exactly it, else -IT_ESCENARIO naming the first difference.
 */
enum build_lock_mode { BUILD_LOCK_USE = 0, BUILD_LOCK_WRITE, BUILD_LOCK_FROZEN };

/* One OpenRC service enabled in a runlevel: /etc/runlevels/RUNLEVEL/NAME -> /etc/init.d/NAME */
struct service_spec {
	char *runlevel; /* "boot", "sysinit", "default", "shutdown" */
	char *name;
};

/* One stanza of /etc/network/interfaces. */
struct iface_spec {
	char *name;	/* "eth0" */
	char *method;	/* "dhcp", "static", "loopback", "manual" */
	char *address;	/* static: "10.0.2.15/24" */
	char *gateway;	/* static, optional */
	bool autostart; /* "auto NAME" line */
};

/* A user to create in /etc/passwd, /etc/shadow and /etc/group. */
struct user_spec {
	char *name;
	long uid;	       /* -1: first free from 1000 */
	char *password_hash;   /* crypt(3) hash; NULL: locked ('!'); "": no password */
	char *shell;	       /* NULL: /bin/sh */
	char *home;	       /* NULL: /home/NAME (/root for root) */
	struct strlist groups; /* supplementary groups, created when missing */
	char *authorized_keys; /* path on the host; NULL for none */
};

/* Free what u owns and zero it (build_config_release() does this for each of its users). */
void user_spec_release(struct user_spec *u);

/*
 * Everything a build needs. The scenario parser and the command line fill
 * it; the builder only reads it. Strings are heap copies owned by the
 * struct (build_config_release() frees them).
 */
struct build_config {
	/* Where packages come from, highest priority first: https://, http://, file://, or a
	 * directory. */
	struct strlist repos;
	char *arch;	      /* NULL: x86_64 */
	char *cache_dir;      /* NULL: $XDG_CACHE_HOME/initrd-test or ~/.cache/initrd-test */
	char *keys_dir;	      /* NULL: the Alpine keys shipped with initrd-test */
	bool offline;	      /* never touch the network; the cache must hold everything */
	bool allow_untrusted; /* skip signature checks (loudly) */
	int jobs;	      /* parallel downloads; 0: default */

	/* What goes in. */
	struct strlist packages; /* the world: "alpine-base", "busybox>=1.36", ... */
	struct service_spec *services;
	size_t nservices;
	struct iface_spec *ifaces;
	size_t nifaces;
	struct user_spec *users;
	size_t nusers;
	char *hostname;		  /* NULL: leave /etc/hostname as the packages ship it */
	struct strlist consoles;  /* ttys for a getty and /etc/securetty: "ttyS0" */
	char *init;		  /* what /init is: NULL -> symlink to /sbin/init */
	char *root_password_hash; /* NULL: root keeps the packages' setting; "": empty password */
	struct strlist overlays;  /* directories copied over the tree, in order */
	char *agent_binary;	  /* the guest agent (a static binary on the host): placed as
				     /sbin/initrd-test-agent and started first from /etc/inittab;
				     NULL: none */

	/* Kernel: either a package (e.g. linux-virt) or an image plus a modules directory. */
	char *kernel_package;
	char *kernel_image; /* path to a bzImage */
	/* A configured, built Linux tree ('kernel tree DIR'): scenario_resolve_kernel() sets
	 * kernel_image from it; without modules_dir its modules come from its modules.order. */
	char *kernel_tree;
	/* /lib/modules/VERSION, /lib/modules (VERSION appended), or an INSTALL_MOD_PATH */
	char *modules_dir;
	struct strlist modules;		 /* module names to include with their dependencies */
	struct strlist optional_modules; /* the same when the kernel has them, else left out */

	/* What comes out. */
	char *output;	  /* initrd path; written only when complete */
	char *kernel_out; /* NULL: "vmlinuz" beside output */
	char *rootfs_dir; /* optional: also write the tree here */
	enum compression compression;
	int64_t source_date_epoch; /* -1: from SOURCE_DATE_EPOCH, else newest package build time */
	bool dry_run;		   /* resolve and print the plan only */
	char *lock_file;	   /* initrd-test.lock; NULL: none */
	enum build_lock_mode lock_mode;
	char *sbom_file; /* SPDX 2.3 JSON of the initrd, written by the caller from the
			    result (src/sbom.h, docs/sbom.md); NULL: none */

	/* Set by the caller (its SIGINT/SIGTERM handler) to the signal number, or any non-zero
	 * value: the build stops at its next check with -IT_EINTERRUPTED; NULL: never. Borrowed,
	 * not freed by build_config_release(). See builder_build(). */
	const volatile sig_atomic_t *cancel;
};

void build_config_init(struct build_config *c);
void build_config_release(struct build_config *c);

/*
 * One installed package, as a bill of materials lists it. Strings are heap
 * copies (NULL where the index has no such field); deps are indexes into
 * build_result.pkgs of the packages that satisfy its dependencies.
 */
struct build_pkg {
	char *name, *version, *arch, *license, *maintainer, *homepage, *description, *origin;
	char *csum;		/* the index's C: "Q1..." */
	unsigned char sha1[20]; /* that checksum decoded when it is a SHA-1 (Q1), apk's package
				   identity: the SHA-1 of the control segment */
	bool has_sha1;
	char *url; /* where the .apk comes from: URL, or the file in a local repository */
	unsigned char sha256[32]; /* of the .apk file */
	size_t *deps;
	size_t ndeps;
};

/* A file of the initrd: a kernel module. */
struct build_file {
	char *path; /* "lib/modules/6.1.0-57-amd64/kernel/drivers/net/e1000/e1000.ko" */
	unsigned char sha1[20], sha256[32];
};

/* What a build reports back. */
struct build_result {
	struct strlist plan;		/* "name-version" in install order */
	char *plan_text;		/* the plan for people: one package a line, sizes, repos */
	struct strlist scripts_skipped; /* "busybox-1.36.1-r15.post-install" */
	char *kernel_version;		/* from the image header; NULL without a kernel */
	char *kernel_path;		/* where the kernel image was placed */
	unsigned long long initrd_bytes;
	unsigned long long files; /* entries in the cpio */
	int64_t ms_index, ms_resolve, ms_fetch, ms_assemble, ms_write;
	bool from_lock; /* the packages came from lock_file */
	/* The bill of materials (filled by a build that writes; a dry run has only pkgs). */
	struct build_pkg *pkgs; /* the plan's packages, in install order */
	size_t npkgs;
	struct build_file *modules; /* the kernel's modules in the initrd */
	size_t nmodules;
	int64_t epoch; /* every file's mtime in the initrd */
};

void build_result_release(struct build_result *r);

/*
 * Run a whole build: 0, or a negative code with text in err.
 *
 * Signals belong to the caller. The builder installs no signal handler and
 * changes no signal mask; a library cannot know whether its caller wants
 * Ctrl-C to stop it, nor what else the process does with the signal. A
 * caller that wants a build to be interruptible catches SIGINT and SIGTERM
 * for its time, without SA_RESTART (a download's wait then wakes at once)
 * and leaving a signal the process ignores ignored, and its handler stores
 * the signal's number in *cfg->cancel.
 *
 * The flag is read, and nothing else is done with it:
 *   - between phases: after the indexes, after the downloads, after each
 *     package is unpacked, after the kernel's modules, after the initrd is
 *     written and after the kernel is placed;
 *   - while downloading: at every turn of the transfer loop (at least every
 *     100 ms) and in each transfer's progress callback;
 *   - while writing the initrd: between two cpio entries.
 * Once it is set the build stops there with -IT_EINTERRUPTED, and err says
 * "interrupted by SIGINT" or "interrupted by SIGTERM" (any other non-zero
 * value: "interrupted"; a download cut short says "cannot fetch 'URL':
 * interrupted"). The resolution of the plan is not interrupted: it takes
 * milliseconds.
 *
 * What a failed build leaves on disk, an interrupted one included: in the
 * cache only whole, verified files (a download cut short removes its temp
 * file); beside the outputs no temp file; cfg->output and the kernel image
 * as they were before the build, never a new one beside an old one: a
 * previous initrd and kernel that the write phase had replaced are put back
 * (where the filesystem has no hard links they cannot be, and are removed).
 * Only cfg->rootfs_dir, written before the initrd, may hold a tree, whole or
 * partial, of a build that then failed.
 */
int builder_build(const struct build_config *cfg, struct build_result *res, struct it_error *err);

/*
 * builder_list_initrd() flags. BUILDER_LIST_LONG: as 'ls -ln' (mode, links,
 * uid, gid, size or "major, minor", path); BUILDER_LIST_TIME: LONG with the
 * mtime ("YYYY-MM-DD HH:MM:SS", UTC) before the path.
 */
#define BUILDER_LIST_LONG 1u
#define BUILDER_LIST_TIME 2u

/*
 * List the initrd at 'path' on 'out', one entry per line in archive order:
 * the path alone, or with BUILDER_LIST_LONG as 'ls -ln' shows it, a symlink
 * followed by "-> TARGET" and a hard link by "link to PATH". Reads newc and
 * odc cpio, plain or compressed with anything libarchive reads (gzip, zstd,
 * xz, lzma, bzip2, lz4), and initrds made of several archives one after the
 * other (an uncompressed early cpio first, as for CPU microcode). *entries
 * (may be NULL) gets the number of entries listed, on failure too. Errors:
 * "cannot read 'FILE': ..." with -errno, -EISDIR or -IT_EFORMAT (libarchive's
 * text carried); the lines listed before stay on 'out', which the caller
 * flushes and checks.
 */
int builder_list_initrd(const char *path, FILE *out, unsigned flags, unsigned long long *entries,
			struct it_error *err);

/*
 * The host's kernel, for 'kernel host': the newest BOOT_DIR/vmlinuz-VERSION
 * (newest by strverscmp(3)) for which MODULES_ROOT/VERSION is a directory.
 * NULL boot_dir and modules_root mean /boot and /lib/modules (other roots are
 * for tests). On success *image ("BOOT_DIR/vmlinuz-VERSION") and *modules_dir
 * ("MODULES_ROOT/VERSION") are new heap strings that the caller frees. On
 * failure both are NULL and err says why: -IT_ENOTFOUND when there is no such
 * kernel or boot_dir cannot be read, -IT_EKERNEL when the newest one cannot
 * be read (the hint: some distributions make kernels readable by root only),
 * -ENOMEM.
 */
int builder_host_kernel(const char *boot_dir, const char *modules_root, char **image,
			char **modules_dir, struct it_error *err);

/*
 * A configured, built Linux tree 'dir' as the kernel (builder/ktree.c):
 * *image is its boot image (arch/x86/boot/bzImage, arch/arm64/boot/Image
 * for arch "aarch64"), -IT_EKERNEL when it is not there; *vmlinux is
 * DIR/vmlinux or NULL when there is none. Heap strings for the caller.
 */
int builder_kernel_tree(const char *dir, const char *arch, char **image, char **vmlinux,
			struct it_error *err);

/* An option a scenario needs of a kernel's .config, and what needs it (for the message). */
struct kconfig_need {
	const char *option; /* "CONFIG_SERIAL_8250_CONSOLE" */
	bool module_ok;	    /* =m will do */
	const char *why;    /* "the serial console initrd-test reads" */
};

/*
 * Check DIR/.config for each need, in order: the first one missing (unset,
 * "is not set", or =m where =y is needed) is -IT_ESCENARIO with a message
 * naming the option, what needs it and the value it has, and a hint. A
 * tree without .config is -IT_ESCENARIO too (not configured).
 */
int builder_kconfig_check(const char *dir, const struct kconfig_need *needs, size_t n,
			  struct it_error *err);

/* Default cache directory (static storage). */
const char *builder_default_cache_dir(void);
/* Default keys directory: $INITRD_TEST_KEYS, the installed share dir, or ./keys beside the binary.
 */
const char *builder_default_keys_dir(void);

#endif
