/* SPDX-License-Identifier: MIT */
/* Helpers every unit test may use: a scratch directory, files, shell commands, running a suite. */
#ifndef IT_TESTUTIL_H
#define IT_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/*
 * The current test's scratch directory, "$TMPDIR/PROGRAM.XXXXXX" (/tmp
 * without TMPDIR): made by tu_tmp_setup() and removed with all it holds by
 * tu_tmp_teardown(), a checked fixture pair (tcase_add_checked_fixture).
 */
extern char tu_dir[256];
void tu_tmp_setup(void);
void tu_tmp_teardown(void);

/* "tu_dir/name" in one of four rotating buffers: valid until the fourth call after. */
const char *tu_in_dir(const char *name);
/* "tu_dir/name" into out; the test fails if it does not fit. */
void tu_path(char *out, size_t outsz, const char *name);

/* Make "$TMPDIR/NAME.XXXXXX" into dir (for a directory that outlives one test); false on failure.
 */
bool tu_mkdtemp(char *dir, size_t dirsz, const char *name);

/* The whole file into b, replacing what it held; the test fails, naming the file, if it cannot. */
void tu_read_file(struct buf *b, const char *path);
/* The same into a buffer not initialized yet (buf_init(b, 0) first): the caller releases it. */
void tu_read_new(struct buf *b, const char *path);

/* Run a shell command; the test fails unless it exits 0. */
void tu_run(const char *cmd);
/* What a shell command writes on stdout, into b (replaced); the test fails unless it exits 0. */
void tu_shell(const char *cmd, struct buf *b);

/* got must be the printf text of fmt: all of it, or only its start when 'prefix'. */
__attribute__((format(printf, 3, 4))) void tu_assert_textf(const char *got, bool prefix,
							   const char *fmt, ...);

/* Run the suite (CK_NORMAL) and free it: the exit status for main(). */
int tu_run_suite(Suite *s);

#endif
