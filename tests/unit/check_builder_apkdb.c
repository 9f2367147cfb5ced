// SPDX-License-Identifier: MIT
/* Unit tests for builder/apkdb.c: apk 2.14's installed-db order, acls, hard links, take-overs. */
#include <check.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "tests/unit/testutil.h"

static const unsigned char sha_a[20] = {1};

static void pkg(struct apkdb *db, const char *name, const char *header)
{
	ck_assert_int_eq(apkdb_pkg(db, name, header, strlen(header)), 0);
}

/* Packages sorted by name (case first ignored), each directory once, files under it. */
START_TEST(test_order_and_acls)
{
	struct apkdb db;
	struct buf out = BUF_INIT;

	apkdb_init(&db);
	buf_init(&out, 0);
	pkg(&db, "zlib", "P:zlib\n");
	ck_assert_int_eq(apkdb_dir(&db, "lib/", S_IFDIR | 0755, 0, 0), 0);
	ck_assert_int_eq(apkdb_file(&db, "lib/libz.so.1", S_IFLNK | 0777, 0, 0, sha_a, NULL), 0);
	pkg(&db, "Busybox", "P:Busybox\n");
	ck_assert_int_eq(apkdb_dir(&db, "etc", S_IFDIR | 0755, 0, 0), 0);
	ck_assert_int_eq(apkdb_dir(&db, "etc/x", S_IFDIR | 0700, 0, 42), 0);
	ck_assert_int_eq(apkdb_file(&db, "etc/x/y", S_IFREG | 0644, 0, 0, NULL, NULL), 0);
	/* Back to etc after etc/x: apk lists it under the one F:etc. */
	ck_assert_int_eq(apkdb_file(&db, "etc/motd", S_IFREG | 0600, 0, 0, NULL, NULL), 0);
	ck_assert_int_eq(apkdb_format(&db, &out), 0);
	ck_assert_str_eq(out.data, "P:Busybox\nF:etc\nR:motd\na:0:0:600\nF:etc/x\nM:0:42:700\n"
				   "R:y\n\nP:zlib\nF:lib\nR:libz.so.1\na:0:0:777\n"
				   "Z:Q1AQAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n");
	buf_release(&out);
	apkdb_release(&db);
}
END_TEST

/* A taken-over file leaves the old owner; a hard link copies its target's Z:. */
START_TEST(test_drop_and_hardlink)
{
	struct apkdb db;
	struct buf out = BUF_INIT;

	apkdb_init(&db);
	buf_init(&out, 0);
	pkg(&db, "a", "P:a\n");
	ck_assert_int_eq(apkdb_dir(&db, "bin", S_IFDIR | 0755, 0, 0), 0);
	ck_assert_int_eq(apkdb_file(&db, "bin/x", S_IFREG | 0644, 0, 0, sha_a, NULL), 0);
	ck_assert_int_eq(apkdb_file(&db, "bin/y", S_IFREG | 0644, 0, 0, NULL, "bin/x"), 0);
	pkg(&db, "b", "P:b\n");
	ck_assert_int_eq(apkdb_dir(&db, "bin", S_IFDIR | 0755, 0, 0), 0);
	ck_assert_int_eq(apkdb_file(&db, "bin/x", S_IFREG | 0644, 0, 0, NULL, NULL), 0);
	apkdb_drop(&db, "a", "bin/x");
	ck_assert_int_eq(apkdb_format(&db, &out), 0);
	ck_assert_str_eq(out.data, "P:a\nF:bin\nR:y\nZ:Q1AQAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
				   "P:b\nF:bin\nR:x\n\n");
	buf_release(&out);
	apkdb_release(&db);
}
END_TEST

/* apk writes r:/q: with the first F: line: a package without directories passes them on. */
START_TEST(test_replaces_carried)
{
	struct apkdb db;
	struct buf out = BUF_INIT;

	apkdb_init(&db);
	buf_init(&out, 0);
	pkg(&db, "meta", "P:meta\nD:base\nr:base\n");
	pkg(&db, "base", "P:base\n");
	ck_assert_int_eq(apkdb_dir(&db, "etc", S_IFDIR | 0755, 0, 0), 0);
	pkg(&db, "zz", "P:zz\nr:old\nq:10\n");
	ck_assert_int_eq(apkdb_format(&db, &out), 0);
	ck_assert_str_eq(out.data, "P:base\nF:etc\n\nP:meta\nD:base\n\nP:zz\n\n");
	buf_release(&out);
	apkdb_release(&db);
}
END_TEST

/* scripts.tar: apk's ustar headers, names cut at 99 bytes, two empty blocks at the end. */
START_TEST(test_scripts_tar)
{
	struct apkdb db;
	struct buf out = BUF_INIT;
	char longname[121], chk[8];
	unsigned sum = 0;
	const unsigned char *h;

	apkdb_init(&db);
	buf_init(&out, 0);
	memset(longname, 'n', 120);
	longname[120] = '\0';
	ck_assert_int_eq(apkdb_script(&db, "a-1-r0.Q1x=.post-install", "ab\n", 3), 0);
	ck_assert_int_eq(apkdb_script(&db, longname, "", 0), 0);
	ck_assert_int_eq(apkdb_scripts_tar(&db, 1700000000, &out), 0);
	ck_assert_uint_eq(out.len, 512 + 512 + 512 + 1024);
	h = (const unsigned char *)out.data;
	ck_assert_str_eq((const char *)h, "a-1-r0.Q1x=.post-install");
	ck_assert_mem_eq(h + 100,
			 "0000755\0"
			 "0000000\0"
			 "0000000\0",
			 24);
	ck_assert_mem_eq(h + 124,
			 "000000000003"
			 "014524770400",
			 24); /* size, mtime */
	ck_assert_int_eq(h[156], '0');
	ck_assert_mem_eq(h + 257, "ustar  \0root", 12);
	for (size_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	snprintf(chk, sizeof(chk), "%06o", sum);
	ck_assert_mem_eq(h + 148, chk, 7);
	ck_assert_int_eq(h[155], ' ');
	ck_assert_mem_eq(h + 512, "ab\n\0", 4);
	ck_assert_uint_eq(strlen(out.data + 1024), 99);
	for (size_t i = 2048; i < out.len; i++)
		ck_assert_int_eq(out.data[i], 0);
	buf_release(&out);
	apkdb_release(&db);
}
END_TEST

static Suite *apkdb_suite(void)
{
	Suite *s = suite_create("builder_apkdb");
	TCase *tc = tcase_create("apkdb");

	tcase_add_test(tc, test_order_and_acls);
	tcase_add_test(tc, test_drop_and_hardlink);
	tcase_add_test(tc, test_replaces_carried);
	tcase_add_test(tc, test_scripts_tar);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(apkdb_suite());
}
