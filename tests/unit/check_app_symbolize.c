// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/symbolize.c: crash frames to FILE:LINE with binutils, against the real
 * crashtest.ko (tests/kmod/crashtest, built with debug info by the Makefile into
 * CRASHTEST_DIR), and through result_set_crash() on a console recorded from a real boot.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "src/result.h"
#include "src/symbolize.h"
#include "tests/unit/testutil.h"

#define SOURCE "tests/kmod/crashtest/crashtest.c"
#define MODULE_CONSOLE "tests/data/console/crash-module.raw"

/* The line of crashtest.c that holds text (once), as "crashtest.c:N". */
static void line_of(const char *text, char *out, size_t outsz)
{
	struct buf b;
	const char *at;
	unsigned line = 1;

	tu_read_new(&b, SOURCE);
	at = strstr(b.data, text);
	ck_assert_msg(at != NULL, "'%s' not in " SOURCE, text);
	for (const char *p = b.data; p < at; p++)
		line += *p == '\n';
	snprintf(out, outsz, "crashtest.c:%u", line);
	buf_release(&b);
}

static void src_init(struct symbolize_src *s)
{
	symbolize_src_init(s);
	ck_assert_int_eq(strlist_add(&s->module_dirs, "/nonexistent-dir"), 0);
	ck_assert_int_eq(strlist_add(&s->module_dirs, CRASHTEST_DIR), 0);
}

/* The source symbolize_frames() gives the one frame in trace (or the RIP line), or "". */
static void one(const char *rip, const char *trace, char *out, size_t outsz)
{
	struct symbolize_src s;
	struct buf b;
	const char *tab;
	int n;

	src_init(&s);
	buf_init(&b, 0);
	n = symbolize_frames(&s, rip, trace, &b);
	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, 1);
	tab = strchr(b.data, '\t');
	snprintf(out, outsz, "%s", tab ? tab + 1 : "");
	if (strchr(out, '\n'))
		*strchr(out, '\n') = '\0';
	buf_release(&b);
	symbolize_src_release(&s);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

START_TEST(parse_frames)
{
	struct symbolize_frame f;

	ck_assert_int_eq(symbolize_parse_frame("RIP: 0010:crashtest_warn+0x5/0x10 [crashtest]", &f),
			 1);
	ck_assert_str_eq(f.func, "crashtest_warn");
	ck_assert_str_eq(f.module, "crashtest");
	ck_assert(f.off == 5 && f.size == 0x10 && !f.unreliable);
	ck_assert_int_eq(symbolize_parse_frame(" ? kernfs_fop_write_iter+0x11c/0x1b0", &f), 1);
	ck_assert_str_eq(f.func, "kernfs_fop_write_iter");
	ck_assert_str_eq(f.module, "");
	ck_assert(f.off == 0x11c && f.size == 0x1b0 && f.unreliable);
	ck_assert_int_eq(symbolize_parse_frame("__x64_sys_write+0x19/0x20", &f), 1);
	/* not frames: user space RIPs, markers, broken offsets, an unclosed module */
	ck_assert_int_eq(symbolize_parse_frame("RIP: 0033:0x7fcf528e1862", &f), 0);
	ck_assert_int_eq(symbolize_parse_frame("<TASK>", &f), 0);
	ck_assert_int_eq(symbolize_parse_frame("foo+0x/0x10", &f), 0);
	ck_assert_int_eq(symbolize_parse_frame("foo+0x5", &f), 0);
	ck_assert_int_eq(symbolize_parse_frame("foo+0x5/0x10 [crashtest", &f), 0);
	ck_assert_int_eq(symbolize_parse_frame("", &f), 0);
}
END_TEST

/* The RIP is the faulting address itself: crashtest_warn+0x5 is the WARN_ON's line. */
START_TEST(rip_in_module)
{
	char want[64], got[512];

	line_of("WARN_ON(1);", want, sizeof(want));
	one("RIP: 0010:crashtest_warn+0x5/0xc [crashtest]", "", got, sizeof(got));
	ck_assert_msg(ends_with(got, want), "got '%s', want '%s'", got, want);
	line_of("BUG();\n}", want, sizeof(want));
	one("RIP: 0010:crashtest_bug+0x5/0x7 [crashtest]", "", got, sizeof(got));
	ck_assert_msg(ends_with(got, want), "got '%s', want '%s'", got, want);
	line_of("*p = 42;", want, sizeof(want));
	one("RIP: 0010:crashtest_null+0x15/0x24 [crashtest]", "", got, sizeof(got));
	ck_assert_msg(ends_with(got, want), "got '%s', want '%s'", got, want);
}
END_TEST

/* A function in another section than .text: its value is relative to .init.text. */
START_TEST(other_section)
{
	char got[512], lo[64], hi[64];
	unsigned l, a, b;

	one("RIP: 0010:crashtest_init+0x5/0x3f [crashtest]", "", got, sizeof(got));
	line_of("static int __init crashtest_init", lo, sizeof(lo));
	line_of("static void __exit crashtest_exit", hi, sizeof(hi));
	ck_assert_msg(strstr(got, "crashtest.c:") != NULL, "got '%s'", got);
	l = (unsigned)strtoul(strstr(got, "crashtest.c:") + 12, NULL, 10);
	a = (unsigned)strtoul(lo + 12, NULL, 10);
	b = (unsigned)strtoul(hi + 12, NULL, 10);
	ck_assert_msg(l > a && l < b, "crashtest_init+0x5 at '%s', not in crashtest_init", got);
}
END_TEST

/* A return address in the trace is taken a byte back: the line of the call. */
START_TEST(trace_frames)
{
	struct symbolize_src s;
	struct buf b;

	src_init(&s);
	buf_init(&b, 0);
	ck_assert_int_eq(symbolize_frames(&s, "",
					  "<TASK>\n"
					  "? trigger_store+0x90/0x90 [crashtest]\n"
					  "crashtest_hang_fn+0x30/0x32 [crashtest]\n"
					  "kthread+0xd7/0x100\n"
					  "nosuch_function+0x5/0x10 [crashtest]\n"
					  "e1000_probe+0x5/0x10 [e1000]\n"
					  "</TASK>\n",
					  &b),
			 1);
	ck_assert_msg(!strncmp(b.data, "crashtest_hang_fn+0x30/0x32 [crashtest]\t", 40) &&
			  strstr(b.data, "crashtest.c:"),
		      "got '%s'", b.data);
	buf_release(&b);
	symbolize_src_release(&s);
}
END_TEST

/* Nothing to symbolize with: no lines, no error; a missing vmlinux is the same. */
START_TEST(nothing_found)
{
	struct symbolize_src s;
	struct buf b;

	symbolize_src_init(&s);
	ck_assert(!symbolize_src_any(&s));
	s.vmlinux = "/nonexistent/vmlinux";
	buf_init(&b, 0);
	ck_assert_int_eq(symbolize_frames(&s, "RIP: 0010:do_sys_open+0x5/0x10",
					  "crashtest_warn+0x5/0x10 [crashtest]\n", &b),
			 0);
	ck_assert_uint_eq(b.len, 0);
	buf_release(&b);
	symbolize_src_release(&s);
}
END_TEST

/* The recorded WARNING (a boot of Debian's kernel with crashtest.ko): crash.txt's source. */
START_TEST(report_has_source)
{
	struct result_run r;
	struct symbolize_src s;
	struct buf log;
	char want[64];

	line_of("WARN_ON(1);", want, sizeof(want));
	tu_read_new(&log, MODULE_CONSOLE);
	result_run_init(&r);
	src_init(&s);
	ck_assert_int_eq(result_set_crash(&r, buf_blob(&log), &s, false), 1);
	ck_assert_str_eq(r.crash_class, "warning");
	ck_assert_msg(
	    strstr(r.crash_report, "\nsource:\n  crashtest_warn+0x5/0x10 [crashtest] at "),
	    "no source section in '%s'", r.crash_report);
	ck_assert_msg(strstr(r.crash_report, want), "no '%s' in '%s'", want, r.crash_report);
	ck_assert_ptr_nonnull(r.crash_frames);
	ck_assert(!strncmp(r.crash_frames, "crashtest_warn+0x5/0x10 [crashtest]\t", 36));
	/* result.json: crash.frames[0] is {"frame": ..., "source": ".../crashtest.c:N"} */
	{
		char path[4096];
		struct buf json;

		tu_tmp_setup();
		tu_path(path, sizeof(path), "result.json");
		ck_assert_int_eq(result_run_write_json(&r, path, NULL), 0);
		tu_read_new(&json, path);
		ck_assert_msg(
		    strstr(json.data, "\"frames\"") &&
			strstr(json.data, "\"frame\": \"crashtest_warn+0x5/0x10 [crashtest]\""),
		    "no frames in '%s'", json.data);
		ck_assert_msg(strstr(json.data, want), "no '%s' in result.json", want);
		buf_release(&json);
		tu_tmp_teardown();
	}
	result_run_release(&r);
	/* on-warning ignore: the hung task after it, the WARNING listed with its source */
	result_run_init(&r);
	ck_assert_int_eq(result_set_crash(&r, buf_blob(&log), &s, true), 1);
	ck_assert_str_eq(r.crash_class, "hung-task");
	ck_assert_str_eq(r.crash_title, "INFO: task hung in crashtest_hang_fn");
	ck_assert_msg(strstr(r.crash_report, "\nignored warnings before it (on-warning ignore):\n"
					     "  WARNING in crashtest_warn: WARNING: CPU: 0"),
		      "no ignored warning in '%s'", r.crash_report);
	ck_assert_msg(strstr(r.crash_report, "    crashtest_warn+0x5/0x10 [crashtest] at "),
		      "the ignored warning is not symbolized in '%s'", r.crash_report);
	ck_assert_msg(strstr(strstr(r.crash_report, "ignored warnings"), want), "no '%s'", want);
	result_run_release(&r);
	/* without sources: no section, no frames */
	result_run_init(&r);
	ck_assert_int_eq(result_set_crash(&r, buf_blob(&log), NULL, false), 1);
	ck_assert_ptr_null(strstr(r.crash_report, "\nsource:\n"));
	ck_assert_ptr_null(r.crash_frames);
	result_run_release(&r);
	symbolize_src_release(&s);
	buf_release(&log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("symbolize");
	TCase *tc = tcase_create("symbolize");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, parse_frames);
	tcase_add_test(tc, rip_in_module);
	tcase_add_test(tc, other_section);
	tcase_add_test(tc, trace_frames);
	tcase_add_test(tc, nothing_found);
	tcase_add_test(tc, report_has_source);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
