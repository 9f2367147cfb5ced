// SPDX-License-Identifier: MIT
/*
 * Unit tests for builder/version.c: the facts of apk-tools' own test vectors
 * (tests/data/version-order.txt, re-expressed by tests/tools/version-import.py from
 * test/version.data of apk-tools v2.14.0, commit 7250e5fa), plus validation,
 * fuzzy matching and constraint operators checked against apk 2.14.0.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "tests/unit/testutil.h"

static const char *op_of(const char *a, const char *b)
{
	return apk_version_op_string(apk_version_compare(blob_str(a), blob_str(b)));
}

/*
 * Each fact of tests/data/version-order.txt ("A < B", "A = B", or "as-asked A OP B"
 * for a version apk does not accept) gives the answer of 'apk version -t A B'.
 */
static int check_fact(const char *a, const char *op, const char *b, bool reverse)
{
	const char *got = op_of(a, b);
	int failed = 0;

	if (strcmp(got, op) != 0) {
		fprintf(stderr, "version-order.txt: %s %s %s, but got %s\n", a, op, b, got);
		failed++;
	}
	if (reverse) {
		const char *rev = strcmp(op, "<") == 0 ? ">" : "=";

		if (!apk_version_validate(blob_str(a)) || !apk_version_validate(blob_str(b))) {
			fprintf(stderr,
				"version-order.txt: %s %s %s: not both valid, so 'as-asked'\n", a,
				op, b);
			failed++;
		} else if (strcmp(op_of(b, a), rev) != 0) {
			fprintf(stderr, "version-order.txt reversed: %s %s %s, but got %s\n", b,
				rev, a, op_of(b, a));
			failed++;
		}
	}
	return failed;
}

START_TEST(test_apk_vectors)
{
	struct buf data = BUF_INIT;
	char *line, *end;
	int facts = 0, failed = 0;

	buf_init(&data, 1 << 20);
	ck_assert_int_eq(buf_read_file(&data, "tests/data/version-order.txt"), 0);
	for (line = data.data; *line; line = end + 1) {
		char a[128], op[8], b[128], tag[16];

		end = strchr(line, '\n');
		ck_assert_ptr_nonnull(end);
		*end = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		facts++;
		if (sscanf(line, "%15s %127s %7s %127s", tag, a, op, b) == 4 &&
		    strcmp(tag, "as-asked") == 0) {
			failed += check_fact(a, op, b, false);
		} else if (sscanf(line, "%127s %7s %127s", a, op, b) == 3 &&
			   (strcmp(op, "<") == 0 || strcmp(op, "=") == 0)) {
			failed += check_fact(a, op, b, true);
		} else {
			fprintf(stderr, "version-order.txt: bad line '%s'\n", line);
			failed++;
		}
	}
	buf_release(&data);
	ck_assert_int_eq(facts, 697);
	ck_assert_int_eq(failed, 0);
}
END_TEST

/* Answers of apk 2.14.0 'apk version -c' (validation) for these strings. */
static const struct {
	const char *ver;
	bool valid;
} validate_cases[] = {
    {"1", true},
    {"1.0", true},
    {"1.2.3-r4", true},
    {"1.0a", true},
    {"1.0_alpha", true},
    {"1.0_alpha2", true},
    {"1.0_rc1_p2", true},
    {"1.2.4_git20230717-r4", true},
    {"1.36.1-r15", true},
    {"20230506-r0", true},
    {"0.52.1-r2", true},
    {"1.0_pre1_rc2", true},
    {"1.0.01", true},
    {"", true},
    {"1.0bc", false},
    {"1.0-r", true},
    {"1.0-x", false},
    {"1.0_foo", false},
    {"1.0-r1-r2", true},
    {"a1", true},
    {"1..2", true},
    {"1.0_", true},
    {"1.0 ", false},
    {"1.0-r1a", false},
    {"1_alpha.2", false},
    {"12345678901234567", true},
    {"123456789012345678", false},
    {"-r1", true},
    {"1.0~2", false},
    {"1.a", true},
    {"1.0_p", true},
};

START_TEST(test_validate)
{
	for (size_t i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]); i++) {
		bool got = apk_version_validate(blob_str(validate_cases[i].ver));

		ck_assert_msg(got == validate_cases[i].valid, "validate('%s') = %d, want %d",
			      validate_cases[i].ver, got, validate_cases[i].valid);
	}
	ck_assert(!apk_version_validate(BLOB_NULL));
}
END_TEST

START_TEST(test_ordering)
{
	/* Pre-release suffixes sort before the release, post-release ones after. */
	const char *chain[] = {"1.0_alpha", "1.0_alpha1", "1.0_beta", "1.0_pre", "1.0_rc",
			       "1.0_rc1",   "1.0",	  "1.0-r1",   "1.0_cvs", "1.0_svn",
			       "1.0_git",   "1.0_hg",	  "1.0_p",    "1.0_p1",	 "1.0a",
			       "1.0b",	    "1.0.1",	  "1.1"};

	for (size_t i = 0; i + 1 < sizeof(chain) / sizeof(chain[0]); i++) {
		ck_assert_msg(strcmp(op_of(chain[i], chain[i + 1]), "<") == 0, "%s < %s", chain[i],
			      chain[i + 1]);
		ck_assert_msg(strcmp(op_of(chain[i + 1], chain[i]), ">") == 0, "%s > %s",
			      chain[i + 1], chain[i]);
	}
	ck_assert_str_eq(op_of("1.36.1-r15", "1.36.1-r15"), "=");
	ck_assert_str_eq(op_of("1.36.1-r9", "1.36.1-r15"), "<");
	ck_assert_str_eq(op_of("1.2.4_git20230717-r4", "1.2.4-r4"), ">");
	/* Leading zeros after a dot make a smaller component. */
	ck_assert_str_eq(op_of("1.01", "1.1"), "<");
	ck_assert_str_eq(op_of("1.001", "1.01"), "<");
	/* Unversioned provides (NULL) are incomparable, and equal only to each other. */
	ck_assert_int_eq(apk_version_compare(BLOB_NULL, blob_str("1")),
			 APK_VERSION_LESS | APK_VERSION_EQUAL | APK_VERSION_GREATER);
	ck_assert_int_eq(apk_version_compare(BLOB_NULL, BLOB_NULL), APK_VERSION_EQUAL);
}
END_TEST

START_TEST(test_fuzzy)
{
	ck_assert_int_eq(apk_version_compare_fuzzy(blob_str("3.11.6-r0"), blob_str("3.11"), true),
			 APK_VERSION_EQUAL);
	ck_assert_int_eq(apk_version_compare_fuzzy(blob_str("3.12.1"), blob_str("3.11"), true),
			 APK_VERSION_GREATER);
	ck_assert_int_eq(apk_version_compare_fuzzy(blob_str("3.1"), blob_str("3.11"), true),
			 APK_VERSION_LESS);
	ck_assert_int_eq(apk_version_compare(blob_str("3.11.6-r0"), blob_str("3.11")),
			 APK_VERSION_GREATER);
}
END_TEST

START_TEST(test_ops)
{
	static const struct {
		const char *op;
		int mask;
		const char *canon;
	} ops[] = {
	    {"=", APK_VERSION_EQUAL, "="},
	    {"<", APK_VERSION_LESS, "<"},
	    {">", APK_VERSION_GREATER, ">"},
	    {"<=", APK_VERSION_LESS | APK_VERSION_EQUAL, "<="},
	    {">=", APK_VERSION_GREATER | APK_VERSION_EQUAL, ">="},
	    {"~", APK_VERSION_EQUAL | APK_VERSION_FUZZY, "~"},
	    {"=~", APK_VERSION_EQUAL | APK_VERSION_FUZZY, "~"},
	    {"><", APK_DEPMASK_CHECKSUM, "><"},
	    {">~", APK_VERSION_GREATER | APK_VERSION_EQUAL | APK_VERSION_FUZZY, ">~"},
	    {"<~", APK_VERSION_LESS | APK_VERSION_EQUAL | APK_VERSION_FUZZY, "<~"},
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int m = apk_version_op_parse(blob_str(ops[i].op));

		ck_assert_int_eq(m, ops[i].mask);
		ck_assert_str_eq(apk_version_op_string(m), ops[i].canon);
	}
	ck_assert_int_eq(apk_version_op_parse(blob_str("")), 0);
	ck_assert_int_eq(apk_version_op_parse(blob_str("=!")), 0);
	ck_assert_str_eq(apk_version_op_string(0), "?");
}
END_TEST

static bool match(const char *ver, const char *op, const char *want)
{
	return apk_version_match(blob_str(ver), apk_version_op_parse(blob_str(op)), blob_str(want));
}

START_TEST(test_match)
{
	ck_assert(match("1.36.1-r15", ">=", "1.36"));
	ck_assert(!match("1.36.1-r15", ">=", "9"));
	ck_assert(match("1.36.1-r15", "<", "9"));
	ck_assert(!match("1.36.1-r15", "<", "1.36.1-r15"));
	ck_assert(match("1.36.1-r15", "<=", "1.36.1-r15"));
	ck_assert(match("1.36.1-r15", "=", "1.36.1-r15"));
	ck_assert(!match("1.36.1-r15", "=", "1.36.1"));
	ck_assert(match("1.36.1-r15", "~", "1.36"));
	ck_assert(match("1.36.1-r15", "=~", "1.36.1"));
	ck_assert(!match("1.37.0", "~", "1.36"));
	ck_assert(match("17.0.6", "~", "17"));
	ck_assert(match("1.37.0", ">~", "1.36"));
	ck_assert(!match("1.35.0", ">~", "1.36"));
	ck_assert(match("1.36.9", "<~", "1.36"));
	ck_assert(!match("1.0", "><", "Q1abc"));
	ck_assert(apk_version_match(blob_str("1.0"), APK_DEPMASK_ANY, BLOB_NULL));
	/* An unversioned provides satisfies no versioned constraint. */
	ck_assert(
	    !apk_version_match(BLOB_NULL, APK_VERSION_GREATER | APK_VERSION_EQUAL, blob_str("1")));
}
END_TEST

static Suite *version_suite(void)
{
	Suite *s = suite_create("builder_version");
	TCase *tc = tcase_create("version");

	tcase_add_test(tc, test_apk_vectors);
	tcase_add_test(tc, test_validate);
	tcase_add_test(tc, test_ordering);
	tcase_add_test(tc, test_fuzzy);
	tcase_add_test(tc, test_ops);
	tcase_add_test(tc, test_match);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(version_suite());
}
