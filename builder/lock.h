/* SPDX-License-Identifier: MIT */
/*
 * initrd-test.lock: the exact packages of a build, in a line-based text format
 * (docs/lockfile.md), parsed strictly since people edit and commit it.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_LOCK_H
#define IT_BUILDER_LOCK_H

#include <stddef.h>

#include "builder/index.h"
#include "builder/resolve.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"

/* The format line the writer puts first, and the only one the parser takes. */
#define LOCK_FORMAT_LINE "initrd-test-lock 1"

/* One locked package. Strings are heap copies owned by the lock. */
struct lock_pkg {
	char *name;    /* "busybox" */
	char *tag;     /* the repository tag it is installed under: "" or "testing" */
	char *version; /* "1.36.1-r15" */
	char *csum;    /* the index's C: field, canonical "Q1..." or "Q2..." */
	char *repo;    /* the URL (or directory) of the repository it came from */
	unsigned line; /* where the parser read it; 0 when made from a plan */
};

/*
 * A whole lock: the arch, the repositories as given ("URL" or "@tag URL"),
 * the kernel package (NULL: none) and the packages, sorted by name.
 */
struct lock {
	char *arch;
	struct strlist repos;
	char *kernel;
	struct lock_pkg *pkgs;
	size_t n, alloc;
};

void lock_init(struct lock *l);
void lock_release(struct lock *l);

/*
 * Parse lock text; 'file' names it in messages, which all have the form
 * "FILE:LINE: what" (-IT_ESCENARIO: the user's file, exit 2). The grammar
 * (docs/lockfile.md): '#' comments and blank lines anywhere; first the
 * LOCK_FORMAT_LINE, then one 'arch ARCH', one or more 'repo [@TAG] URL', at
 * most one 'kernel NAME', then 'pkg NAME[@TAG] VERSION CSUM URL' lines in
 * strictly increasing name order, each URL one of the repo lines' (with the
 * same tag). Fields are separated by one space; no tabs, CRs, NULs or
 * trailing blanks. On failure l is left empty.
 */
int lock_parse(struct lock *l, struct blob text, const char *file, struct it_error *err);

/* Read and parse 'path': -ENOENT (no text in err) when there is none. */
int lock_load(struct lock *l, const char *path, struct it_error *err);

/* Append the lock as text, the format line first, packages sorted by name. */
int lock_format(const struct lock *l, struct buf *out);

/* Write it to 'path', whole or not at all. */
int lock_write(const struct lock *l, const char *path, struct it_error *err);

/*
 * Fill l (released first) from a plan against db: the arch, the
 * repositories as given, the kernel package (NULL: none), every package
 * sorted by name. 0, or -ENOMEM.
 */
int lock_from_plan(struct lock *l, const struct apk_db *db, const struct apk_plan *plan,
		   const char *arch, const struct strlist *repos, const char *kernel);

/*
 * The first difference between two locks ('was' the file, 'now' a new
 * resolution), for a one-line message: false when they are the same, else
 * true with the text in *diff ("busybox: 1.36.1-r15 locked, 1.36.1-r16
 * resolved").
 */
bool lock_diff(const struct lock *was, const struct lock *now, struct buf *diff);

/* The package called name in l (binary search), or NULL. */
const struct lock_pkg *lock_find(const struct lock *l, const char *name);

#endif
