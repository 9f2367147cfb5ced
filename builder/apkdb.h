/* SPDX-License-Identifier: MIT */
/*
 * apk's installed database (lib/apk/db/installed) as apk 2.14 writes it, built up while the
 * packages are unpacked. Per package: its index header (C: P: V: ... r: q:), then each of its
 * directories once, in the order the package first names them, as 'F:dir' (and 'M:uid:gid:mode'
 * when not 0755 root:root), each followed by its files in archive order as 'R:name' (with
 * 'a:uid:gid:mode' when not 0644 root:root, symlinks' 0777 included, and 'Z:Q1...'). A file
 * another package takes over leaves the old package's record, as apk's migrate step does. The
 * packages are written sorted by name as apk_db_write_fdb() does (strcasecmp, then strcmp),
 * not in install order.
 */
#ifndef IT_BUILDER_APKDB_H
#define IT_BUILDER_APKDB_H
#include <stddef.h>
#include "common/buf.h"

struct apkdb_file {
	char *name;  /* "motd" */
	char *lines; /* "R:motd\n[a:...\n][Z:...\n]" */
};
struct apkdb_dir {
	char *name; /* "etc", "" for the top */
	unsigned mode, uid, gid;
	struct apkdb_file *files;
	size_t n, alloc;
};
struct apkdb_pkg {
	char *name;
	char *header; /* the index header lines, up to q: */
	struct apkdb_dir *dirs;
	size_t n, alloc;
};
/* One member of lib/apk/db/scripts.tar. */
struct apkdb_script {
	char *name; /* "busybox-1.36.1-r15.Q1AYNx2pLOAHRYZQgv3nM8TNtvRWY=.post-install" */
	char *data;
	size_t len;
};
struct apkdb {
	struct apkdb_pkg *pkgs;
	size_t n, alloc;
	struct apkdb_script *scripts; /* in install order */
	size_t nscripts, scripts_alloc;
};

void apkdb_init(struct apkdb *db);
void apkdb_release(struct apkdb *db);
/* Start the record of package 'name'; the calls below add to it. -ENOMEM. */
int apkdb_pkg(struct apkdb *db, const char *name, const char *header, size_t header_len);
/* A directory entry of the current package ("etc/" or "etc"): its F: line, its M: from the last. */
int apkdb_dir(struct apkdb *db, const char *path, unsigned mode, unsigned uid, unsigned gid);
/*
 * A non-directory of the current package: appended under its directory (made when the
 * package named none; apk would refuse such a file). sha1 (20 bytes) or NULL; a hard link
 * (sha1 NULL, 'hardlink' the path of its target in this package) gets its target's Z:, as apk.
 */
int apkdb_file(struct apkdb *db, const char *path, unsigned mode, unsigned uid, unsigned gid,
	       const unsigned char *sha1, const char *hardlink);
/* Take 'path' out of package 'pkgname''s record (another package owns it now). */
void apkdb_drop(struct apkdb *db, const char *pkgname, const char *path);
/* The whole database, packages sorted as apk sorts them. */
int apkdb_format(const struct apkdb *db, struct buf *out);
/*
 * lib/apk/db/scripts.tar: a package's scripts, added in install order, each package's in
 * apk's type order (pre-install, post-install, pre-deinstall, post-deinstall, pre-upgrade,
 * post-upgrade, trigger). 'name' is "PKG-VERSION.Q1CSUM.ACTION"; apk's tar keeps 99 bytes of it.
 */
int apkdb_script(struct apkdb *db, const char *name, const void *data, size_t len);
/*
 * The tar as apk_tar_write_entry() writes it: ustar headers with the GNU magic "ustar  ",
 * mode 0755, root:root, every mtime 'mtime' (apk's SOURCE_DATE_EPOCH, else the time it ran),
 * then two empty blocks.
 */
int apkdb_scripts_tar(const struct apkdb *db, long long mtime, struct buf *out);
#endif
