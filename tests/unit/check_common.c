// SPDX-License-Identifier: MIT
/* Unit tests for common/: buffers with caps, blobs, errors, parsers. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "common/util.h"

START_TEST(test_buf_cap)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_addstr(&b, "12345678"), 0);
	ck_assert_int_eq(buf_addch(&b, 'x'), -IT_ELIMIT);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_str_eq(b.data, "12345678");
	buf_consume(&b, 3);
	ck_assert_str_eq(b.data, "45678");
	ck_assert_int_eq(buf_addf(&b, "%d", 12), 0);
	ck_assert_str_eq(b.data, "4567812");
	buf_release(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
}
END_TEST

START_TEST(test_blob)
{
	struct blob h, r;
	unsigned long long v;

	ck_assert(blob_split(blob_str("P:busybox"), ':', &h, &r));
	ck_assert(blob_eq_str(h, "P"));
	ck_assert(blob_eq_str(r, "busybox"));
	ck_assert(!blob_split(blob_str("nocolon"), ':', &h, &r));
	ck_assert(blob_to_u64(blob_str("18446744073709551615"), &v));
	ck_assert(!blob_to_u64(blob_str("18446744073709551616"), &v));
	ck_assert(!blob_to_u64(blob_str("12a"), &v));
}
END_TEST

START_TEST(test_error_keeps_first)
{
	struct it_error e = IT_ERROR_INIT;

	ck_assert_int_eq(it_error_set(&e, -IT_EHTTP, "cannot fetch '%s': HTTP %d", "u", 404), -IT_EHTTP);
	ck_assert_int_eq(it_error_set(&e, -ENOMEM, "later"), -ENOMEM);
	ck_assert_str_eq(e.msg, "cannot fetch 'u': HTTP 404");
	ck_assert_int_eq(e.code, -IT_EHTTP);
	ck_assert_str_eq(it_strerror(-IT_ECHECKSUM), "checksum mismatch");
	ck_assert_str_eq(it_strerror(-ENOENT), "No such file or directory");
}
END_TEST

START_TEST(test_parsers)
{
	int64_t ms;
	long v;

	ck_assert(parse_duration_ms("15", &ms) && ms == 15000);
	ck_assert(parse_duration_ms("500ms", &ms) && ms == 500);
	ck_assert(parse_duration_ms("2m", &ms) && ms == 120000);
	ck_assert(!parse_duration_ms("2 weeks", &ms));
	ck_assert(!parse_duration_ms("nan", &ms));
	ck_assert(!parse_duration_ms("inf", &ms));
	ck_assert(!parse_duration_ms("-1", &ms));
	ck_assert(!parse_duration_ms("1e300", &ms));
	ck_assert(parse_size_mib("1G", &v) && v == 1024);
	ck_assert(!parse_size_mib("-5", &v));
	ck_assert(!parse_long("12x", 0, 100, &v));
}
END_TEST

START_TEST(test_strlist)
{
	struct strlist l = STRLIST_INIT;

	strlist_add(&l, "b");
	strlist_addf(&l, "%s", "a");
	strlist_sort(&l);
	ck_assert_str_eq(l.v[0], "a");
	ck_assert_ptr_null(l.v[2]);
	ck_assert(strlist_has(&l, "b"));
	strlist_clear(&l);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_buf_cap);
	tcase_add_test(tc, test_blob);
	tcase_add_test(tc, test_error_keeps_first);
	tcase_add_test(tc, test_parsers);
	tcase_add_test(tc, test_strlist);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
