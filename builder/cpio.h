/* SPDX-License-Identifier: MIT */
/*
 * The newc ("070701") cpio writer that turns a tree into an initrd, and the lister behind 'ls'.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_CPIO_H
#define IT_BUILDER_CPIO_H

#include <signal.h>
#include <stdint.h>

#include "builder/builder.h"
#include "builder/tree.h"
#include "common/err.h"

/* Inode numbers start here, as in Linux's usr/gen_init_cpio.c. */
#define CPIO_FIRST_INO 721

struct cpio_opts {
	enum compression compression; /* COMPRESS_GZIP, COMPRESS_ZSTD, COMPRESS_NONE */
	int level;		      /* 0: CPIO_GZIP_LEVEL / CPIO_ZSTD_LEVEL */
	int64_t epoch; /* SOURCE_DATE_EPOCH (>= 0): later and unset mtimes become it */
	/* build_config.cancel (NULL: never): set, it stops the writer, which leaves nothing. */
	const volatile sig_atomic_t *interrupted;
};

/*
 * Defaults measured on alpine-base (9 MB of cpio): gzip -9 takes 3x the time
 * of -6 for 0.4% less; zstd -19 takes 15x the time of -9 for 11% less.
 */
#define CPIO_GZIP_LEVEL 6
#define CPIO_ZSTD_LEVEL 9

struct cpio_stats {
	unsigned long long entries; /* headers written, not counting the trailer */
	unsigned long long bytes;   /* the cpio before compression */
	unsigned long long written; /* bytes in the output file */
};

/*
 * Write the tree as a newc cpio: entries in tree_walk() order (every
 * directory before its contents, the root itself left out), names without a
 * leading '/', inode numbers given in that order, nlink right (directories
 * 2 + subdirectories; hard links share one inode and the data goes with the
 * last of them, as gen_init_cpio does), mtimes clamped to the epoch, then
 * "TRAILER!!!" and zeros up to a multiple of 512. Compressed with a fixed
 * gzip header (mtime 0, no name) or as one zstd frame. The same tree and
 * options give the same bytes.
 *
 * The data goes to a temp file beside 'path', renamed over it only when
 * complete: on any error nothing is left and the error names 'path'. A
 * hard link whose file is gone gives -IT_EFORMAT; *o->interrupted set
 * between two entries gives -IT_EINTERRUPTED. 'st' may be NULL.
 */
int cpio_write(const struct tree *t, const char *path, const struct cpio_opts *o,
	       struct cpio_stats *st, struct it_error *err);

/* "drwxr-xr-x", "-rwsr-xr-x", "crw-------" for a mode; out holds at least 11 bytes. */
void cpio_mode_string(unsigned mode, char out[11]);

#endif
