/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the builder's unit tests: real packages and indexes read with
 * libarchive (not the project's APK reader), trees filled from them and read back.
 * Header-only (static inline): testutil.c is linked into tests that have no builder.
 */
#ifndef IT_TESTS_BUILDER_UTIL_H
#define IT_TESTS_BUILDER_UTIL_H

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"

#define TU_ALPINE_PLAN "tests/data/alpine-base.plan"
#define TU_ALPINE_PKGS "tests/data/alpine-3.19.1/x86_64"
#define TU_ALPINE_INDEX TU_ALPINE_PKGS "/APKINDEX.tar.gz"

/* The APKINDEX member of a signed index tarball into out (initialized here, capped at 64 MiB). */
static inline void tu_read_apkindex(const char *path, struct buf *out)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool found = false;

	buf_init(out, 64 << 20);
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		char chunk[65536];
		la_ssize_t n;

		if (strcmp(archive_entry_pathname(e), "APKINDEX") != 0)
			continue;
		while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
			ck_assert_int_eq(buf_add(out, chunk, (size_t)n), 0);
		ck_assert_int_eq(n, 0);
		found = true;
	}
	archive_read_free(a);
	ck_assert(found);
}

/* Every "key = value" line of a .PKGINFO text, the values added to out. */
static inline void tu_pkginfo_field(const char *text, const char *key, struct strlist *out)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len > kl + 3 && !strncmp(p, key, kl) && !strncmp(p + kl, " = ", 3))
			strlist_addf(out, "%.*s", (int)(len - kl - 3), p + kl + 3);
	}
}

/* Add the package named by the .PKGINFO text to t, with its origin and replaces. */
static inline const struct tree_pkg *tu_tree_package(struct tree *t, const char *pkginfo)
{
	struct strlist n = STRLIST_INIT, o = STRLIST_INIT, r = STRLIST_INIT;
	const struct tree_pkg *p = NULL;

	tu_pkginfo_field(pkginfo, "pkgname", &n);
	tu_pkginfo_field(pkginfo, "origin", &o);
	tu_pkginfo_field(pkginfo, "replaces", &r);
	ck_assert_uint_eq(n.n, 1);
	ck_assert_int_eq(tree_package(t, n.v[0], o.n ? o.v[0] : NULL, &r, 0, &p), 0);
	strlist_clear(&n);
	strlist_clear(&o);
	strlist_clear(&r);
	return p;
}

/* Every entry of a real .apk (its .PKGINFO first) into t, owned by its package. */
static inline void tu_tree_load_apk(struct tree *t, const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	const struct tree_pkg *p = NULL;
	struct it_error err = IT_ERROR_INIT;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ae);
		size_t size = (size_t)archive_entry_size(ae);
		char *data = malloc(size + 1);
		struct tree_entry e = {0};

		ck_assert_ptr_nonnull(data);
		ck_assert_int_eq(archive_read_data(a, data, size), (ssize_t)size);
		data[size] = '\0';
		if (!strcmp(name, ".PKGINFO"))
			p = tu_tree_package(t, data);
		if (name[0] == '.') {
			free(data);
			continue;
		}
		ck_assert_ptr_nonnull(p);
		e.path = name;
		e.mode = archive_entry_mode(ae);
		e.uid = (unsigned)archive_entry_uid(ae);
		e.gid = (unsigned)archive_entry_gid(ae);
		e.mtime = archive_entry_mtime(ae);
		e.link_target = archive_entry_symlink(ae);
		e.hardlink = archive_entry_hardlink(ae);
		e.devmajor = archive_entry_rdevmajor(ae);
		e.devminor = archive_entry_rdevminor(ae);
		e.content = data;
		e.size = size;
		e.flags = TREE_TAKE_CONTENT;
		if (tree_add(t, &e, p, &err) != 0)
			ck_abort_msg("%s: %s", path, err.msg);
	}
	archive_read_free(a);
}

/* A new tree holding the 25 packages of alpine-base, in the order real apk installs them. */
static inline void tu_tree_alpine_base(struct tree *t)
{
	FILE *plan = fopen(TU_ALPINE_PLAN, "re");
	char line[256], path[512];

	ck_assert_ptr_nonnull(plan);
	tree_init(t);
	while (fgets(line, sizeof(line), plan)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(path, sizeof(path), TU_ALPINE_PKGS "/%s.apk", line);
		tu_tree_load_apk(t, path);
	}
	fclose(plan);
}

/* The content of the regular file at path (links followed), as a string. */
static inline const char *tu_tree_text(const struct tree *t, const char *path)
{
	static struct buf b = BUF_INIT;
	const struct tree_node *n = tree_lookup(t, path, true);

	ck_assert_msg(n != NULL, "%s missing", path);
	ck_assert(tree_is_reg(n));
	buf_reset(&b);
	buf_add(&b, n->data, n->size);
	return b.data;
}

#endif
