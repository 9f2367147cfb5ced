// SPDX-License-Identifier: MIT
/* libFuzzer target: an APK license field (untrusted index text) to an SPDX expression. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/strlist.h"
#include "fuzz/fuzz.h"
#include "src/sbom.h"

/* An id of the expression: [A-Za-z0-9.+-], not empty. */
static bool license_word_ok(const char *w, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = w[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '+'))
			return false;
	}
	return true;
}

/* What sbom_license() writes is NOASSERTION or words, operators and parentheses, one space apart.
 */
static void license_check_expr(const char *e, const struct strlist *refs)
{
	int depth = 0;

	if (!strcmp(e, "NOASSERTION"))
		return;
	for (const char *p = e; *p;) {
		size_t n = strcspn(p, " ()");

		if (*p == '(' || *p == ')') {
			depth += *p == '(' ? 1 : -1;
			if (depth < 0)
				fuzz_fail();
			p++;
		} else if (*p == ' ') {
			if (p[1] == ' ' || p[1] == '\0')
				fuzz_fail();
			p++;
		} else {
			if (!license_word_ok(p, n))
				fuzz_fail();
			/* A LicenseRef used is one declared. */
			if (n > 11 && !strncmp(p, "LicenseRef-", 11)) {
				bool seen = false;

				for (size_t i = 0; i < refs->n && !seen; i++)
					seen = !strncmp(refs->v[i], p, n) && refs->v[i][n] == '=';
				if (!seen)
					fuzz_fail();
			}
			p += n;
		}
	}
	if (depth)
		fuzz_fail();
}

FUZZ_ONE(license)
{
	struct strlist refs = STRLIST_INIT;
	char text[1024];
	struct buf out;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	buf_init(&out, 0);
	if (sbom_license(text, &out, &refs) == 0)
		license_check_expr(out.data, &refs);
	buf_release(&out);
	strlist_clear(&refs);
	return 0;
}
