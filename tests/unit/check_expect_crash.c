// SPDX-License-Identifier: MIT
/* Unit tests for expect/crash: classes and titles of crashes recorded from real boots. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "expect/crash.h"
#include "tests/unit/testutil.h"

#define SYSRQ_LOG "tests/data/console/crash-sysrq-panic.raw"
#define MODULE_LOG "tests/data/console/crash-module.raw"
#define HANG_RUN_LOG "tests/data/console/crash-hang-run.log"

static struct crash c;

/* The i-th crash (0-based) of a recorded console: crash_find() again past each one. */
static int nth(const struct buf *b, int i, struct crash *out)
{
	size_t off = 0;

	for (;;) {
		if (!crash_find(b->data + off, b->len - off, out))
			return 0;
		if (i-- == 0) {
			out->at += off;
			out->end += off;
			return 1;
		}
		off += out->end;
	}
}

/*
 * A run's console.log (tests/e2e/t_run_kmod_crash.sh): the log's own stamp, then the
 * shell prompt, then the kernel's stamp and the hung task's first line.
 */
START_TEST(test_hang_after_prompt_in_run_log)
{
	struct buf b = BUF_INIT;

	tu_read_new(&b, HANG_RUN_LOG);
	ck_assert_int_eq(crash_find(b.data, b.len, &c), 1);
	ck_assert_str_eq(crash_class_name(c.cls), "hung-task");
	ck_assert_str_eq(c.title, "INFO: task hung in crashtest_hang_fn");
	ck_assert_ptr_nonnull(strstr(c.trace, "crashtest_hang_fn+0x30/0x32 [crashtest]"));
	ck_assert(!strncmp(c.first, "INFO: task crashtest_hang:451 blocked", 37));
	buf_release(&b);
}
END_TEST

START_TEST(test_sysrq_panic)
{
	struct buf b = BUF_INIT;

	tu_read_new(&b, SYSRQ_LOG);
	ck_assert_int_eq(crash_find(b.data, b.len, &c), 1);
	ck_assert_str_eq(crash_class_name(c.cls), "panic");
	ck_assert_str_eq(c.title, "kernel panic: sysrq triggered crash");
	ck_assert_int_eq(c.complete, 1);
	ck_assert_ptr_nonnull(strstr(c.trace, "sysrq_handle_crash+0x16/0x20"));
	ck_assert_ptr_nonnull(strstr(c.before, "sysrq: Trigger a crash"));
	ck_assert_ptr_nonnull(strstr(c.rip, "RIP: 0033:"));
	ck_assert(memcmp(b.data + c.at, "[   29.193376] Kernel panic", 27) == 0);
	buf_release(&b);
}
END_TEST

START_TEST(test_module_crashes)
{
	struct buf b = BUF_INIT;

	tu_read_new(&b, MODULE_LOG);
	ck_assert_int_eq(nth(&b, 0, &c), 1);
	ck_assert_str_eq(crash_class_name(c.cls), "warning");
	ck_assert_str_eq(c.title, "WARNING in crashtest_warn");
	ck_assert_str_eq(c.modules, "crashtest(OE)");
	ck_assert_ptr_nonnull(strstr(c.rip, "crashtest_warn+0x5/0x10 [crashtest]"));
	ck_assert_ptr_nonnull(strstr(c.trace, "trigger_store+"));

	ck_assert_int_eq(nth(&b, 1, &c), 1);
	ck_assert_str_eq(crash_class_name(c.cls), "hung-task");
	ck_assert_str_eq(c.title, "INFO: task hung in crashtest_hang_fn");
	ck_assert_int_eq(c.complete, 1);
	ck_assert_ptr_nonnull(
	    strstr(c.first, "crashtest_hang:451 blocked for more than 5 seconds"));
	/* The detector reports the task again at 10 s: a report of its own. */
	ck_assert_int_eq(nth(&b, 2, &c), 1);
	ck_assert_ptr_nonnull(strstr(c.first, "blocked for more than 10 seconds"));
	ck_assert_int_eq(nth(&b, 3, &c), 1);
	ck_assert_str_eq(crash_class_name(c.cls), "oops");
	ck_assert_str_eq(c.title, "BUG: kernel NULL pointer dereference in crashtest_null");

	ck_assert_int_eq(nth(&b, 4, &c), 1);
	ck_assert_str_eq(crash_class_name(c.cls), "bug");
	ck_assert_str_eq(c.title, "kernel BUG in crashtest_bug");

	buf_release(&b);
}
END_TEST

START_TEST(test_run_console_log)
{
	struct buf b = BUF_INIT;

	/* A run's console.log ("[  11.217] [    8.26] ..."), cut at the fail pattern. */
	tu_read_new(&b, "tests/data/console/crash-sysrq-run.log");
	ck_assert_int_eq(crash_find(b.data, b.len, &c), 1);
	ck_assert_str_eq(crash_class_name(c.cls), "panic");
	ck_assert_str_eq(c.title, "kernel panic");
	ck_assert_int_eq(c.complete, 0);
	ck_assert_ptr_nonnull(strstr(c.before, "sysrq: Trigger a crash"));
	buf_release(&b);
}
END_TEST

START_TEST(test_no_crash_in_clean_boot)
{
	struct buf b = BUF_INIT;

	tu_read_new(&b, "tests/data/console/alpine-boot.raw");
	ck_assert_int_eq(crash_find(b.data, b.len, &c), 0);
	ck_assert_int_eq(c.cls, CRASH_NONE);
	ck_assert_uint_eq(crash_start(b.data, b.len), b.len);
	buf_release(&b);
}
END_TEST

START_TEST(test_truncated_report)
{
	struct buf b = BUF_INIT;

	/* The console cut inside the panic line or just after it: found once the prefix is whole.
	 */
	tu_read_new(&b, SYSRQ_LOG);
	ck_assert_int_eq(crash_find(b.data, b.len, &c), 1);
	size_t at = c.at;

	ck_assert_int_eq(crash_find(b.data, at + 20, &c), 0); /* "Kerne": not a crash line yet */
	/* "Kernel panic - no": where a run stopped by the panic fail pattern may cut it. */
	ck_assert_int_eq(crash_find(b.data, at + 32, &c), 1);
	ck_assert_str_eq(crash_class_name(c.cls), "panic");
	ck_assert_str_eq(c.title, "kernel panic");
	ck_assert_int_eq(crash_find(b.data, at + 60, &c), 1);
	ck_assert_int_eq(c.complete, 0);
	ck_assert_uint_eq(c.at, at);
	ck_assert_uint_le(c.end, at + 60);
	buf_release(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crash");
	TCase *t = tcase_create("recorded");

	tcase_add_test(t, test_sysrq_panic);
	tcase_add_test(t, test_module_crashes);
	tcase_add_test(t, test_hang_after_prompt_in_run_log);
	tcase_add_test(t, test_run_console_log);
	tcase_add_test(t, test_no_crash_in_clean_boot);
	tcase_add_test(t, test_truncated_report);
	suite_add_tcase(s, t);
	return tu_run_suite(s);
}
