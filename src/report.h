/* SPDX-License-Identifier: MIT */
/* What a run reports: its verdict and exit code, the step table, JUnit XML and JSON. */
#ifndef IT_REPORT_H
#define IT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"
#include "expect/expect.h"
#include "scenario/scenario.h"

/* How a run ended, from the user's point of view. */
enum run_verdict {
	RUN_PASSED = 0,
	RUN_FAILED,	 /* an expectation failed: a fail pattern, the console closed, ... */
	RUN_CRASHED,	 /* a fail pattern caught a kernel panic or oops */
	RUN_TIMED_OUT,	 /* a step's timeout or the whole-run timeout passed */
	RUN_INFRA_ERROR, /* qemu, kernel, packages, files: the run could not be done */
	RUN_USAGE_ERROR, /* bad command line or scenario */
	RUN_INTERRUPTED, /* SIGINT or SIGTERM */
};

/*
 * The verdict for a run that ended with 'code' (what the command's work
 * returned: 0, -IT_EFAIL, -IT_ETIMEOUT, or any other error) and the engine
 * (NULL when the run never got that far). An error other than -IT_EFAIL and
 * -IT_ETIMEOUT wins over the engine: -IT_EUSAGE and -IT_ESCENARIO are usage
 * errors, -IT_EINTERRUPTED an interruption, anything else infrastructure.
 * Otherwise the engine's state decides; a fail pattern that caught a kernel
 * panic or oops (the built-in ones, or any whose line holds "Kernel panic")
 * is a crash.
 */
enum run_verdict run_verdict_of(const struct expect *e, int code);
/* The exit code of src/cmds.h: 0 passed, 1 failed or crashed, 2 usage, 3 infra, 4 timeout. */
int run_verdict_exit(enum run_verdict v);
/* "passed", "failed", "crashed", "timed_out", "infra_error", "usage_error", "interrupted". */
const char *run_verdict_name(enum run_verdict v);

/* The console tail kept for JUnit's system-out and the JSON: at most this much. */
#define REPORT_TAIL_LINES 200
#define REPORT_TAIL_MAX (32 * 1024)

/*
 * One run, for output. Every string is a heap copy owned by the report (set
 * them with run_report_setstr()) or NULL when unknown; run_report_release()
 * frees them. The engine is borrowed: it must outlive every use of the
 * report, and may be NULL when the run failed before there was one.
 */
struct run_report {
	char *scenario_name; /* "networking" */
	char *scenario_path; /* "scenarios/networking/scenario" */
	char *backend;	     /* "qemu", "crosvm", or "replay" */
	char *accel;	     /* "tcg", "kvm" */
	char *hostname;	     /* NULL: gethostname() when JUnit or JSON is written */
	char *console_raw;   /* path of the raw console log */
	char *console_log;   /* path of the cleaned console log (what a failure points to) */
	char *command;	     /* the VM's command line, shell-quoted (run_report_set_command()) */
	char *console_tail;  /* the last lines of the cleaned console (run_report_set_tail()) */

	enum run_verdict verdict; /* set by run_report_finish() */
	struct it_error error;	  /* the run's error text, code 0 when none */
	bool replay;		  /* a recorded log, not a live VM ("the log ended") */
	bool untimed;		  /* a raw log replayed without times: no times are shown */
	unsigned attempts;	  /* tries of the scenario, retries included; 0 or 1: one */
	bool flaky;		  /* passed after a retried infrastructure error */

	int64_t start_wall_ms; /* CLOCK_REALTIME ms when the VM started; -1: unknown */
	int64_t first_byte_ms; /* ms from the VM start to the first console byte; -1: none */
	int64_t duration_ms;   /* the whole run; -1: unknown (the engine's end time is used) */

	const struct expect *engine; /* borrowed, may be NULL */
};

void run_report_init(struct run_report *r);
void run_report_release(struct run_report *r);

/* Replace *field (a run_report string) with a copy of value (NULL clears it). 0 or -ENOMEM. */
int run_report_setstr(char **field, const char *value);
/*
 * Set 'command' from a NULL-terminated argv (a strlist's v, as vm_build_argv()
 * makes it), each word shell-quoted when it needs it.
 */
int run_report_set_command(struct run_report *r, char *const *argv);
/* Set 'console_tail' to the end of text: its last REPORT_TAIL_LINES lines, at most REPORT_TAIL_MAX
 * bytes. */
int run_report_set_tail(struct run_report *r, struct blob text);
/* The same from the end of a file (the cleaned console log); -errno with text naming it. */
int run_report_load_tail(struct run_report *r, const char *path, struct it_error *err);

/*
 * Settle the verdict once the run is over: borrow the engine (may be NULL),
 * take run_verdict_of(e, code), and keep err's text when it holds one (else
 * it_strerror(code) for a code < 0). A failed expectation needs no error
 * text: the verdict line is made from the engine's outcome. A duration
 * still unknown becomes the engine's end time.
 */
void run_report_finish(struct run_report *r, const struct expect *e, int code,
		       const struct it_error *err);
/* run_verdict_exit() of the report's verdict. */
int run_report_exit_code(const struct run_report *r);

/*
 * The verdict in one line, without colour: "PASSED networking in 21.3s",
 * "TIMED OUT networking at step 'e1000-driver' (FILE:LINE): no match for
 * "..." within 20s; last console line: '...'". *hint gets what to do next
 * ("see the console log: PATH"), or "" when there is nothing to add.
 */
int run_report_verdict_line(const struct run_report *r, struct buf *line, struct buf *hint);

struct report_text_opts {
	unsigned width; /* columns to fit the table in; 0: 80 */
	bool color;	/* ANSI colours */
	bool quiet;	/* no table; the verdict only when the run did not pass */
};

/*
 * For humans: a table of steps (name, status ok/FAIL/TIMEOUT/ERROR/skipped,
 * time since the VM start, the matched line or the text sent, cut to the
 * width) and the verdict line, with "hint: ..." below it. Console text is
 * made printable: control bytes and invalid UTF-8 are shown as \xHH.
 */
int run_report_text(const struct run_report *r, const struct report_text_opts *o, struct buf *out);
/*
 * run_report_text() on f: colour only when f is a terminal and NO_COLOR is
 * unset or empty; the terminal's width, else $COLUMNS, else 80.
 */
int run_report_print(const struct run_report *r, FILE *f, bool quiet);

/*
 * JUnit XML, valid against the Ant/Jenkins JUnit schemas: <testsuites> with
 * one <testsuite> per report (package "initrd-test", id = index), its
 * <properties> (scenario, verdict, backend, accel, command, logs, first
 * console byte), one <testcase> per step (classname = scenario name, time =
 * seconds since the step became current) holding <failure>, <error> or
 * <skipped>, then <system-out> (the console tail) and <system-err> (the
 * error text). Everything is escaped; bytes XML cannot carry (control
 * characters, invalid UTF-8) are written as the text \xHH. Appends to out.
 */
int run_report_junit(const struct run_report *const *runs, size_t n, struct buf *out);
/*
 * The same data as JSON (UTF-8; invalid bytes as the text \xHH): a top
 * object {"format": "initrd-test-report", "version": 1, "runs": [...]}; each
 * run has its verdict, exit code, message, error, times ("timings":
 * first_console_byte_ms, total_ms and each passed expect step's at_ms by
 * name, for comparisons against baselines), steps, outcome, engine
 * statistics and console tail. Appends to out.
 */
int run_report_json(const struct run_report *const *runs, size_t n, struct buf *out);
/* Write either format to path atomically (write_file_atomic()); errors name the file. */
int run_report_write_junit(const struct run_report *const *runs, size_t n, const char *path,
			   struct it_error *err);
int run_report_write_json(const struct run_report *const *runs, size_t n, const char *path,
			  struct it_error *err);

#endif
