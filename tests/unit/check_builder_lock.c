// SPDX-License-Identifier: MIT
/*
 * Unit tests for builder/lock.c: the format written and read back byte for
 * byte, every parse error of tests/data/lock/errors.data with its line, a
 * lock made from a real plan (tests/data/alpine-3.19.1), its first
 * difference, and the install order apk_plan_order() gives a locked set.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "tests/unit/builder_util.h"
#include "tests/unit/testutil.h"

#define LOCK_DATA "tests/data/lock"
#define MAIN "https://example.org/main"

static void read_text(const char *path, struct buf *b)
{
	buf_init(b, 1 << 20);
	ck_assert_int_eq(buf_read_file(b, path), 0);
}

START_TEST(test_round_trip)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf text, out;
	struct lock l;

	lock_init(&l);
	read_text(LOCK_DATA "/good.lock", &text);
	ck_assert_msg(lock_parse(&l, buf_blob(&text), "good.lock", &err) == 0, "%s", err.msg);
	ck_assert_str_eq(l.arch, "x86_64");
	ck_assert_uint_eq(l.repos.n, 2);
	ck_assert_str_eq(l.repos.v[1],
			 "@testing https://dl-cdn.alpinelinux.org/alpine/edge/testing");
	ck_assert_str_eq(l.kernel, "linux-virt");
	ck_assert_uint_eq(l.n, 4);
	ck_assert_str_eq(l.pkgs[2].name, "hello");
	ck_assert_str_eq(l.pkgs[2].tag, "testing");
	ck_assert_str_eq(l.pkgs[2].version, "2.12-r0");
	ck_assert_uint_eq(l.pkgs[2].line, 10);
	ck_assert_ptr_eq(lock_find(&l, "busybox"), &l.pkgs[1]);
	ck_assert_ptr_null(lock_find(&l, "busybox-extras"));
	buf_init(&out, 0);
	ck_assert_int_eq(lock_format(&l, &out), 0);
	ck_assert_str_eq(out.data, text.data);
	buf_release(&out);
	buf_release(&text);
	lock_release(&l);
}
END_TEST

/* Each "@@ LINE MESSAGE" case of errors.data: refused with exactly that line and message. */
START_TEST(test_parse_errors)
{
	struct buf data;
	char *at;
	int cases = 0;

	read_text(LOCK_DATA "/errors.data", &data);
	at = strstr(data.data, "\n@@ ");
	at = at ? at + 1 : NULL;
	while (at) {
		struct it_error err = IT_ERROR_INIT;
		char *nl = strchr(at, '\n'), *next, want[256];
		struct lock l;
		unsigned line;
		int used = 0, rc;
		size_t len;

		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		ck_assert_int_eq(sscanf(at, "@@ %u %n", &line, &used), 1);
		snprintf(want, sizeof(want), "initrd-test.lock:%u: %s", line, at + used);
		next = strstr(nl + 1, "\n@@ ");
		lock_init(&l);
		len = next ? (size_t)(next + 1 - (nl + 1)) : strlen(nl + 1);
		rc = lock_parse(&l, blob_mem(nl + 1, len), "initrd-test.lock", &err);
		ck_assert_msg(rc == -IT_ESCENARIO, "want '%s', got %d", want, rc);
		ck_assert_msg(!strncmp(err.msg, want, strlen(want)), "want '%s', got '%s'", want,
			      err.msg);
		ck_assert_str_ne(err.hint, "");
		/* Nothing half-parsed is left. */
		ck_assert_uint_eq(l.n, 0);
		ck_assert_ptr_null(l.arch);
		lock_release(&l);
		cases++;
		at = next ? next + 1 : NULL;
	}
	ck_assert_int_eq(cases, 33);
	buf_release(&data);
}
END_TEST

START_TEST(test_missing_final_newline)
{
	struct it_error err = IT_ERROR_INIT;
	const char *t = "initrd-test-lock 1\narch x86_64\nrepo " MAIN;
	struct lock l;

	lock_init(&l);
	ck_assert_int_eq(lock_parse(&l, blob_str(t), "x.lock", &err), 0);
	ck_assert_uint_eq(l.repos.n, 1);
	lock_release(&l);
	ck_assert_int_eq(lock_load(&l, "tests/data/lock/no-such.lock", &err), -ENOENT);
}
END_TEST

static void load_alpine(struct apk_db *db)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf text;

	apk_db_init(db);
	tu_read_apkindex(TU_ALPINE_INDEX, &text);
	ck_assert_msg(apk_db_add_index(db, buf_blob(&text), MAIN, MAIN, &err) == 0, "%s", err.msg);
	buf_release(&text);
}

/* A lock from a real plan: parsed back unchanged; its set in apk_plan_order() gives the plan. */
START_TEST(test_from_plan)
{
	struct it_error err = IT_ERROR_INIT;
	struct apk_plan plan = APK_PLAN_INIT, again = APK_PLAN_INIT;
	struct strlist world = STRLIST_INIT, repos = STRLIST_INIT;
	const struct apk_pkg **set;
	struct lock l, back;
	struct buf text, diff;
	struct apk_db db;

	load_alpine(&db);
	ck_assert_int_eq(strlist_addl(&world, "alpine-base", "openrc"), 0);
	ck_assert_int_eq(strlist_add(&repos, MAIN), 0);
	ck_assert_msg(apk_resolve(&db, &world, &plan, &err) == 0, "%s", err.msg);
	lock_init(&l);
	lock_init(&back);
	ck_assert_int_eq(lock_from_plan(&l, &db, &plan, NULL, &repos, NULL), 0);
	ck_assert_uint_eq(l.n, plan.n);
	for (size_t i = 1; i < l.n; i++)
		ck_assert_int_lt(strcmp(l.pkgs[i - 1].name, l.pkgs[i].name), 0);
	ck_assert_str_eq(lock_find(&l, "busybox")->version, "1.36.1-r15");
	ck_assert_str_eq(lock_find(&l, "busybox")->csum, "Q1AYNx2pLOAHRYZQgv3nM8TNtvRWY=");
	buf_init(&text, 0);
	ck_assert_int_eq(lock_format(&l, &text), 0);
	ck_assert_int_eq(lock_parse(&back, buf_blob(&text), "x.lock", &err), 0);
	buf_init(&diff, 0);
	ck_assert(!lock_diff(&l, &back, &diff));

	/* The set in name order gives back the resolver's install order. */
	set = calloc(l.n, sizeof(*set));
	for (size_t i = 0; i < l.n; i++)
		set[i] =
		    apk_db_find_pkg(&db, blob_str(l.pkgs[i].name), blob_str(l.pkgs[i].version));
	ck_assert_int_eq(apk_plan_order(&db, &world, set, NULL, l.n, &again, &err), 0);
	ck_assert_uint_eq(again.n, plan.n);
	for (size_t i = 0; i < plan.n; i++)
		ck_assert_ptr_eq(again.pkgs[i], plan.pkgs[i]);

	/* The first difference, named. */
	free(back.pkgs[1].version);
	back.pkgs[1].version = strdup("9.9-r0");
	ck_assert(lock_diff(&l, &back, &diff));
	ck_assert_msg(strstr(diff.data, " locked, 9.9-r0 resolved"), "%s", diff.data);
	buf_reset(&diff);
	lock_release(&back);
	ck_assert_int_eq(lock_parse(&back, buf_blob(&text), "x.lock", &err), 0);
	free(back.pkgs[back.n - 1].csum);
	back.pkgs[back.n - 1].csum = strdup("Q1AYNx2pLOAHRYZQgv3nM8TNtvRWY=");
	ck_assert(lock_diff(&l, &back, &diff));
	ck_assert_msg(strstr(diff.data, "checksum"), "%s", diff.data);
	buf_reset(&diff);
	lock_release(&back);
	ck_assert_int_eq(lock_parse(&back, buf_blob(&text), "x.lock", &err), 0);
	/* The lock without its last package: the plan has one more. */
	back.n--;
	free(back.pkgs[back.n].name);
	free(back.pkgs[back.n].tag);
	free(back.pkgs[back.n].version);
	free(back.pkgs[back.n].csum);
	free(back.pkgs[back.n].repo);
	ck_assert(lock_diff(&back, &l, &diff));
	ck_assert_msg(strstr(diff.data, "resolved, not in the lock"), "%s", diff.data);

	free(set);
	buf_release(&diff);
	buf_release(&text);
	lock_release(&back);
	lock_release(&l);
	apk_plan_release(&again);
	apk_plan_release(&plan);
	strlist_clear(&world);
	strlist_clear(&repos);
	apk_db_release(&db);
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("builder_lock");
	TCase *tc = tcase_create("lock");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_missing_final_newline);
	tcase_add_test(tc, test_from_plan);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(lock_suite());
}
