// SPDX-License-Identifier: MIT
/* libFuzzer target: apk version comparison must be a consistent order on valid versions. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "fuzz/fuzz.h"

#define VER_NVERS 3

/* Split at the first three NUL, newline, space or tab separators into up to three versions. */
static size_t ver_split(const uint8_t *data, size_t size, struct blob *v)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= size && n < VER_NVERS; i++) {
		if (i == size || data[i] == '\0' || data[i] == '\n' || data[i] == ' ' ||
		    data[i] == '\t') {
			v[n++] = blob_mem(data + start, i - start);
			start = i + 1;
		}
	}
	return n;
}

static int ver_flip(int r)
{
	if (r == APK_VERSION_LESS)
		return APK_VERSION_GREATER;
	if (r == APK_VERSION_GREATER)
		return APK_VERSION_LESS;
	return r;
}

static void ver_check_result(int r)
{
	if (r != APK_VERSION_LESS && r != APK_VERSION_EQUAL && r != APK_VERSION_GREATER)
		fuzz_fail();
}

static void ver_check_ops(void)
{
	static const char *const ops[] = {"<", "<=", "=", "~", ">=", ">", "><", ">~", "<~"};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int m = apk_version_op_parse(blob_str(ops[i]));

		if (m == 0 || strcmp(apk_version_op_string(m), ops[i]) != 0)
			fuzz_fail();
	}
}

/* Operator strings from the input must round-trip when they parse to a spelled mask. */
static void ver_check_op_input(const uint8_t *data, size_t size)
{
	int m;
	const char *s;

	if (size == 0 || size >= 4)
		return;
	m = apk_version_op_parse(blob_mem(data, size));
	s = apk_version_op_string(m);
	if (m != 0 && strcmp(s, "?") != 0 && apk_version_op_parse(blob_str(s)) != m)
		fuzz_fail();
}

/* Every version equals itself, valid or not; a valid one satisfies '=' and '~' itself. */
static void ver_check_self(struct blob v, bool valid)
{
	if (apk_version_compare(v, v) != APK_VERSION_EQUAL)
		fuzz_fail();
	if (valid && !apk_version_match(v, APK_VERSION_EQUAL, v))
		fuzz_fail();
	if (valid && !apk_version_match(v, APK_VERSION_EQUAL | APK_VERSION_FUZZY, v))
		fuzz_fail();
	if (!apk_version_match(v, APK_DEPMASK_ANY, v) ||
	    apk_version_match(v, APK_DEPMASK_CHECKSUM, v))
		fuzz_fail();
}

/* Two valid versions: ab and ba are their comparisons both ways, fz the fuzzy one of a, b. */
static void ver_check_pair(struct blob a, struct blob b, int ab, int ba, int fz)
{
	/* Antisymmetry: a < b exactly when b > a. */
	if (ab != ver_flip(ba))
		fuzz_fail();
	/* Fuzzy only turns an order into EQUAL, never into the other order. */
	ver_check_result(fz);
	if (fz != APK_VERSION_EQUAL && fz != ab)
		fuzz_fail();
	if (fz != ver_flip(apk_version_compare_fuzzy(b, a, true)))
		fuzz_fail();
	/* apk_version_match agrees with the comparison. */
	if (apk_version_match(a, ab, b) != true)
		fuzz_fail();
	if (apk_version_match(a, APK_VERSION_LESS | APK_VERSION_GREATER | APK_VERSION_EQUAL, b) !=
	    true)
		fuzz_fail();
}

/* Transitivity: r holds the comparisons of three valid versions. */
static void ver_check_transitive(int r[VER_NVERS][VER_NVERS])
{
	for (size_t a = 0; a < VER_NVERS; a++) {
		for (size_t b = 0; b < VER_NVERS; b++) {
			for (size_t c = 0; c < VER_NVERS; c++) {
				int ab = r[a][b], bc = r[b][c];

				if (ab == bc && r[a][c] != ab)
					fuzz_fail();
				if (ab == APK_VERSION_EQUAL && r[a][c] != bc)
					fuzz_fail();
				if (bc == APK_VERSION_EQUAL && r[a][c] != ab)
					fuzz_fail();
			}
		}
	}
}

FUZZ_ONE(version)
{
	struct blob v[VER_NVERS];
	bool valid[VER_NVERS];
	int r[VER_NVERS][VER_NVERS];
	size_t n;

	ver_check_op_input(data, size);
	ver_check_ops();

	n = ver_split(data, size, v);
	for (size_t i = 0; i < n; i++) {
		valid[i] = apk_version_validate(v[i]);
		ver_check_self(v[i], valid[i]);
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			r[i][j] = apk_version_compare(v[i], v[j]);
			ver_check_result(r[i][j]);
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			/* Computed for invalid versions too: they must not crash it. */
			int fz = apk_version_compare_fuzzy(v[i], v[j], true);

			if (valid[i] && valid[j])
				ver_check_pair(v[i], v[j], r[i][j], r[j][i], fz);
		}
	}
	if (n == VER_NVERS && valid[0] && valid[1] && valid[2])
		ver_check_transitive(r);
	/* An unversioned (NULL) version is unordered against everything but itself. */
	if (n > 0 && v[0].ptr != NULL &&
	    apk_version_compare(BLOB_NULL, v[0]) !=
		(APK_VERSION_EQUAL | APK_VERSION_LESS | APK_VERSION_GREATER))
		fuzz_fail();
	return 0;
}
