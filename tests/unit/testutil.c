// SPDX-License-Identifier: MIT
/* Helpers every unit test may use: a scratch directory, files, shell commands, running a suite. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "tests/unit/testutil.h"

char tu_dir[256];

bool tu_mkdtemp(char *dir, size_t dirsz, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(dir, dirsz, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);

	return n > 0 && (size_t)n < dirsz && mkdtemp(dir) != NULL;
}

void tu_tmp_setup(void)
{
	ck_assert_msg(tu_mkdtemp(tu_dir, sizeof(tu_dir), program_invocation_short_name),
		      "cannot make a directory in $TMPDIR: %s", strerror(errno));
}

void tu_tmp_teardown(void)
{
	rm_rf(tu_dir);
}

const char *tu_in_dir(const char *name)
{
	static char paths[4][1024];
	static unsigned k;
	char *p = paths[k++ % 4];

	tu_path(p, sizeof(paths[0]), name);
	return p;
}

void tu_path(char *out, size_t outsz, const char *name)
{
	ck_assert_msg(path_join(out, outsz, tu_dir, name) == 0, "path too long: '%s/%s'", tu_dir,
		      name);
}

void tu_read_file(struct buf *b, const char *path)
{
	int r = buf_read_file(b, path);

	ck_assert_msg(r == 0, "cannot read '%s': %s (tests run from the project root)", path,
		      it_strerror(r));
}

void tu_read_new(struct buf *b, const char *path)
{
	buf_init(b, 0);
	tu_read_file(b, path);
}

void tu_run(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		ck_abort_msg("'%s' exited %d", cmd, rc);
}

void tu_shell(const char *cmd, struct buf *b)
{
	FILE *p = popen(cmd, "r");
	char chunk[4096];
	size_t n;
	int rc;

	ck_assert_msg(p != NULL, "cannot run '%s': %s", cmd, strerror(errno));
	buf_reset(b);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		ck_assert_int_eq(buf_add(b, chunk, n), 0);
	rc = pclose(p);
	if (rc != 0)
		ck_abort_msg("'%s' exited %d", cmd, rc);
}

int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void tu_assert_textf(const char *got, bool prefix, const char *fmt, ...)
{
	char want[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	if (prefix)
		ck_assert_msg(!strncmp(got, want, strlen(want)), "'%s' does not start with '%s'",
			      got, want);
	else
		ck_assert_str_eq(got, want);
}
