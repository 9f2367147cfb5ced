// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/sbom.c's license expressions: each case of
 * tests/data/sbom/licenses.data (an APK license field, the SPDX expression
 * it becomes, the LicenseRef-s it declares).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/strlist.h"
#include "src/sbom.h"
#include "tests/unit/testutil.h"

START_TEST(test_licenses)
{
	struct buf data;
	int cases = 0;

	buf_init(&data, 1 << 20);
	ck_assert_int_eq(buf_read_file(&data, "tests/data/sbom/licenses.data"), 0);
	for (char *line = data.data, *end; *line; line = end + 1) {
		struct strlist refs = STRLIST_INIT, want_refs = STRLIST_INIT;
		char *tab, *tab2, *want;
		struct buf got;

		end = strchr(line, '\n');
		ck_assert_ptr_nonnull(end);
		*end = '\0';
		if (line[0] == '#')
			continue;
		tab = strchr(line, '\t');
		ck_assert_msg(tab, "no tab in '%s'", line);
		*tab = '\0';
		want = tab + 1;
		tab2 = strchr(want, '\t');
		for (char *r = tab2 ? tab2 + 1 : NULL, *comma; r; r = comma ? comma + 1 : NULL) {
			comma = strchr(r, ',');
			if (comma)
				*comma = '\0';
			ck_assert_int_eq(strlist_add(&want_refs, r), 0);
		}
		if (tab2)
			*tab2 = '\0';
		buf_init(&got, 0);
		/* A reference seen before is not declared twice. */
		ck_assert_int_eq(sbom_license(line, &got, &refs), 0);
		buf_reset(&got);
		ck_assert_int_eq(sbom_license(line, &got, &refs), 0);
		ck_assert_msg(!strcmp(got.data, want), "'%s': want '%s', got '%s'", line, want,
			      got.data);
		ck_assert_uint_eq(refs.n, want_refs.n);
		for (size_t i = 0; i < refs.n; i++)
			ck_assert_str_eq(refs.v[i], want_refs.v[i]);
		buf_release(&got);
		strlist_clear(&refs);
		strlist_clear(&want_refs);
		cases++;
	}
	ck_assert_int_eq(cases, 23);
	buf_release(&data);
}
END_TEST

/* Two packages' names that map to one LicenseRef id declare it once in the document. */
START_TEST(test_license_ref_once_per_document)
{
	struct strlist refs = STRLIST_INIT;
	struct buf got;

	buf_init(&got, 0);
	ck_assert_int_eq(sbom_license("foo_bar", &got, &refs), 0);
	ck_assert_str_eq(got.data, "LicenseRef-foo-bar");
	buf_reset(&got);
	ck_assert_int_eq(sbom_license("foo/bar", &got, &refs), 0);
	ck_assert_str_eq(got.data, "LicenseRef-foo-bar");
	ck_assert_uint_eq(refs.n, 1);
	ck_assert_str_eq(refs.v[0], "LicenseRef-foo-bar=foo_bar");
	buf_release(&got);
	strlist_clear(&refs);
}
END_TEST

static Suite *sbom_suite(void)
{
	Suite *s = suite_create("app_sbom");
	TCase *tc = tcase_create("licenses");

	tcase_add_test(tc, test_licenses);
	tcase_add_test(tc, test_license_ref_once_per_document);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(sbom_suite());
}
