/* SPDX-License-Identifier: MIT */
/*
 * A filesystem tree in memory: what packages and configuration put in the initrd, without root.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_TREE_H
#define IT_BUILDER_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/strlist.h"

/* An mtime nobody set: the cpio writer uses its epoch for it. */
#define TREE_MTIME_UNSET ((int64_t)-1)

/* Symlinks followed while resolving one path, as Linux's MAXSYMLINKS. */
#define TREE_MAX_SYMLINKS 40

/*
 * A package that owns entries, for apk's overwrite rules. Owned by the tree;
 * pointers stay valid until tree_release().
 */
struct tree_pkg {
	char *name;		 /* "busybox" */
	char *origin;		 /* "busybox" (source package); NULL when unknown */
	struct strlist replaces; /* "alpine-baselayout", "libcap<2.64-r1" */
	long replaces_priority;	 /* .PKGINFO replaces_priority; 0 by default */
};

/*
 * One node. Read the fields freely; change the tree only through the
 * functions below. Regular files own their content (data, size).
 */
struct tree_node {
	char *name;		  /* one component; "" for the root */
	struct tree_node *parent; /* NULL for the root */
	unsigned mode;		  /* S_IF* | 07777 */
	unsigned uid, gid;
	int64_t mtime;		      /* TREE_MTIME_UNSET when not given */
	const struct tree_pkg *owner; /* NULL: implicit, configuration or overlay */

	unsigned char *data; /* S_IFREG content (NULL when empty) */
	size_t size;
	char *target;  /* S_IFLNK: link text; hard link: path of the file, "usr/bin/x" */
	bool hardlink; /* S_IFREG that is a hard link to 'target' */
	unsigned devmajor, devminor; /* S_IFCHR, S_IFBLK */

	struct tree_node **kids; /* S_IFDIR: children sorted by name (bytewise) */
	size_t nkids, kids_alloc;
	bool implicit; /* S_IFDIR made because something was placed inside */
};

struct tree {
	struct tree_node root;
	size_t count; /* nodes, not counting the root */
	struct tree_pkg **pkgs;
	size_t npkgs, pkgs_alloc;
};

void tree_init(struct tree *t);
void tree_release(struct tree *t);

/*
 * Register the package 'name' (or update its origin and replaces when it is
 * known already); *out gets the tree's record to pass to tree_add().
 * Replaces entries are matched by package name: a version constraint after
 * the name ("libcap<2.64-r1") is not evaluated, the caller drops entries
 * whose constraint does not hold.
 */
int tree_package(struct tree *t, const char *name, const char *origin,
		 const struct strlist *replaces, long replaces_priority,
		 const struct tree_pkg **out);

/* Flags of struct tree_entry. */
enum {
	/* 'content' is a malloc()ed buffer that the tree takes, even when tree_add() fails. */
	TREE_TAKE_CONTENT = 1,
};

/* One entry to place, with the fields of a tar or APK data entry. */
struct tree_entry {
	const char *path; /* "etc/passwd" or "/etc/passwd"; '.' and empty components dropped */
	unsigned mode;	  /* S_IFREG/S_IFDIR/S_IFLNK/S_IFCHR/S_IFBLK/S_IFIFO/S_IFSOCK | 07777 */
	unsigned uid, gid;
	int64_t mtime;	     /* TREE_MTIME_UNSET when unknown */
	const void *content; /* S_IFREG: 'size' bytes, copied (see TREE_TAKE_CONTENT) */
	size_t size;
	const char *link_target; /* S_IFLNK: the link text, kept as is */
	const char *hardlink; /* S_IFREG: an earlier entry's path; this becomes a hard link to it */
	unsigned devmajor, devminor;
	unsigned flags;
};

/*
 * Place one entry. 'pkg' NULL means configuration or overlay: it replaces
 * any non-directory. With a package, apk's rules apply: a non-directory of
 * another package is a conflict (-IT_ECONFLICT "'/path' is in both 'A' and
 * 'B'") unless one names the other in its replaces (the higher
 * replaces_priority wins; the new package on a tie), or both have the same
 * name or origin; when the old owner wins, the entry is skipped and 0 is
 * returned. Directories merge with apk's rule: the owner with the lowest
 * uid (then gid) sets owner and mode; on a tie the modes are ANDed. A
 * package's ".keep_*" files are skipped, as apk does.
 *
 * A '..' component is refused (-IT_EPATH). Intermediate symlinks are
 * followed inside the tree (absolute targets from the tree root); one that
 * would climb above the root is refused (-IT_EPATH). Missing parents are
 * made as 0755 root:root directories. The last component is never followed:
 * a symlink there is replaced, except that a directory entry over a symlink
 * to a directory keeps the symlink (as apk's mkdir does).
 *
 * A hard link's target obeys the same path rules ('..' refused, symlinks
 * followed inside the tree) and must be a regular file placed before it
 * (-IT_EFORMAT otherwise). Its messages name both ends: "hard link 'a' ->
 * '../../etc/shadow' in 'pkg': path leaves the root".
 */
int tree_add(struct tree *t, const struct tree_entry *e, const struct tree_pkg *pkg,
	     struct it_error *err);

/* Shorthands for configuration (owner NULL, mtime unset). */
int tree_add_file(struct tree *t, const char *path, unsigned perm, unsigned uid, unsigned gid,
		  const void *data, size_t size, struct it_error *err);
int tree_add_dir(struct tree *t, const char *path, unsigned perm, unsigned uid, unsigned gid,
		 struct it_error *err);
int tree_add_symlink(struct tree *t, const char *path, const char *target, struct it_error *err);

/*
 * Find a node; intermediate symlinks are followed, the last one only when
 * 'follow'. NULL when missing, unsafe or looping.
 */
struct tree_node *tree_lookup(const struct tree *t, const char *path, bool follow);

/*
 * Replace the content of the regular file at 'path' (last symlink followed),
 * keeping its mode, owner and package; -ENOENT when it does not exist,
 * -EINVAL when it is not a regular file (hard links included).
 */
int tree_set_content(struct tree *t, const char *path, const void *data, size_t size);

/* chmod (permission bits only) and chown; the last symlink is followed. -ENOENT when missing. */
int tree_chmod(struct tree *t, const char *path, unsigned perm);
int tree_chown(struct tree *t, const char *path, unsigned uid, unsigned gid);

/* rm -rf of 'path' (the last symlink is not followed). 1 if removed, 0 if it was missing. */
int tree_remove(struct tree *t, const char *path);

/* Entries in the tree, not counting the root. */
size_t tree_count(const struct tree *t);

/*
 * Call fn for every node but the root in sorted path order: depth first,
 * children by bytewise name, so every directory comes before its contents.
 * 'path' has no leading '/' ("etc/passwd"). A non-zero return stops the walk
 * and is returned.
 */
typedef int (*tree_walk_fn)(const struct tree_node *n, const char *path, void *ctx);
int tree_walk(const struct tree *t, tree_walk_fn fn, void *ctx);

/* "/etc/passwd" for messages; "/" for the root. -ENAMETOOLONG if it does not fit. */
int tree_node_path(const struct tree_node *n, char *out, size_t outsz);

static inline bool tree_is_dir(const struct tree_node *n)
{
	return S_ISDIR(n->mode);
}
static inline bool tree_is_reg(const struct tree_node *n)
{
	return S_ISREG(n->mode) && !n->hardlink;
}
static inline bool tree_is_symlink(const struct tree_node *n)
{
	return S_ISLNK(n->mode);
}

#endif
