/* SPDX-License-Identifier: MIT */
/*
 * The one result model: what a run (live, replayed, or read back from a
 * report file) and a set of runs (a suite, merged shards) are, as plain
 * data. Every output is written from it by exactly one writer: the step
 * table and verdict line (result_text.c), JSON (result_json.c, with
 * jansson, which also reads reports back) and JUnit XML (result_junit.c).
 *
 * A live run fills a struct result_run as it goes (names, paths, the VM's
 * command line), then result_finish() settles it from the expect engine:
 * the verdict, every step's status and times, the outcome, the engine's
 * statistics, the milestones and the verdict line. Nothing in the model
 * borrows the engine: once finished, the engine may be freed.
 *
 * Ownership: every string is a heap copy owned by its struct (set them with
 * result_setstr()), or NULL when unknown; result_run_release() and
 * result_set_release() free everything. Times are milliseconds; -1 means
 * unknown (JSON null).
 */
#ifndef IT_RESULT_H
#define IT_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"
#include "src/exit.h"
#include "src/symbolize.h"

struct expect;

/* The console tail kept for JUnit's system-out and the JSON: at most this much. */
#define RESULT_TAIL_LINES 200
#define RESULT_TAIL_MAX (32 * 1024)
/* A report file larger than this is refused. */
#define RESULT_FILE_MAX (64u << 20)
#define RESULT_FORMAT "initrd-test-report"
#define RESULT_VERSION 1

enum result_step_kind {
	RESULT_STEP_EXPECT = 0,
	RESULT_STEP_SEND,
	RESULT_STEP_AGENT, /* carried out by the guest agent: 'action' says what */
};

/* A step as reported (the table's STATUS column, JSON "status"). */
enum result_step_status {
	RESULT_STEP_PASSED = 0,
	RESULT_STEP_FAILED,    /* the run failed at this step */
	RESULT_STEP_TIMED_OUT, /* the run timed out at this step */
	RESULT_STEP_ERROR,     /* an error (infrastructure, usage) cut the run short here */
	RESULT_STEP_SKIPPED,   /* never reached */
	RESULT_STEP_STATUS_MAX,
};

/* Why the engine stopped (JSON "outcome"."why"): the expect engine's reasons. */
enum result_why {
	RESULT_WHY_NONE = 0,
	RESULT_WHY_FAIL_PATTERN,
	RESULT_WHY_STEP_TIMEOUT,
	RESULT_WHY_RUN_TIMEOUT,
	RESULT_WHY_EOF, /* the console closed, or a replayed log ended */
	RESULT_WHY_OUTPUT_FULL,
	RESULT_WHY_BAD_PATTERN,
	RESULT_WHY_EXTERNAL, /* an agent's step failed; the outcome's line says why */
	RESULT_WHY_AGENT,    /* the guest agent never started, or was lost (result_note_lost()) */
	RESULT_WHY_MAX,
};

/* The engine's state at the end (JSON "outcome"."state"). */
enum result_state {
	RESULT_STATE_RUNNING = 0,
	RESULT_STATE_PASSED,
	RESULT_STATE_FAILED,
	RESULT_STATE_TIMED_OUT,
	RESULT_STATE_MAX,
};

struct result_step {
	char *name;
	enum result_step_kind kind;
	char *where;   /* "FILE:LINE"; NULL when unknown */
	char *pattern; /* expect: the pattern; send: the text typed */
	enum result_step_status status;
	int64_t at_ms;	     /* when it ended: its match, or the run's end for the failed step */
	int64_t duration_ms; /* from when it became current to at_ms */
	int64_t timeout_ms;  /* its own timeout; -1: none */
	char *line;	     /* expect, passed: the line it matched; agent: what it did */
	char *action;	     /* agent: "run", "wait-port", "copy-in", ... (JSON "kind") */
	int exit_code;	     /* agent, a command's: its exit status; -1: none */
	char *out_text;	     /* agent, a command's: its stdout, cut at RESULT_OUTPUT_MAX */
	char *err_text;	     /* ... and its stderr */
};

/* What the run engine knows of an agent's step that the matcher does not (result_note_step()). */
struct result_note {
	char *action;
	int exit_code;
	char *out_text, *err_text;
	bool lost; /* the step failed because the agent was lost */
};

/* The most of a command's stdout and stderr each that a result keeps. */
#define RESULT_OUTPUT_MAX (8 * 1024)

/* A passed expect step's time from the VM start: what baselines compare. */
struct result_milestone {
	char *name;
	int64_t at_ms;
};

struct result_outcome {
	bool present; /* false: the run ended before there was an engine (JSON null) */
	enum result_state state;
	enum result_why why;
	char *step; /* the step the run stopped at, NULL for none */
	int64_t at_ms;
	char *fail_pattern, *fail_where; /* FAIL_PATTERN only */
	char *line;			 /* the matching or last console line; NULL when empty */
	char *detail;			 /* the engine's own words for rare reasons; not in JSON */
};

struct result_stats {
	bool present; /* JSON null when not */
	uint64_t bytes_in, lines, bytes_out, dsr_answered, lines_cut, match_errors;
};

/* What a run did with its scenario's 'checkpoint' step (src/checkpoint.h). */
struct result_checkpoint {
	char *name;	    /* NULL: the scenario has none */
	char *action;	    /* "saved", "restored", "booted" (not restored nor saved), "off" */
	char *note;	    /* for people: "restored from checkpoint base (boot skipped)" */
	int64_t restore_ms; /* restored: the restore's time; -1 otherwise */
};

/* One run. */
struct result_run {
	char *scenario; /* the name in reports: "networking", a suite's "net/dhcp" */
	char *path;	/* "scenarios/networking/scenario" */
	enum run_verdict verdict;
	unsigned attempts;     /* tries, retries included; 0 or 1: one */
	bool flaky;	       /* passed after a retried infrastructure error */
	char *message;	       /* the verdict line, without colour */
	char *hint;	       /* what to do next; NULL: nothing to add */
	struct it_error error; /* the run's error (msg, hint); code 0 when none */
	char *backend;	       /* "qemu", "crosvm", "replay" */
	char *accel;	       /* "tcg", "kvm" */
	char *arch;	       /* the guest's: "x86_64", "aarch64"; NULL (older results): x86_64 */
	double timeout_factor; /* what timeouts and budgets were multiplied by; 0: not recorded */
	char *hostname;	       /* NULL until result_finish() asks gethostname() */
	bool replay;	       /* a recorded log, not a live VM ("the log ended") */
	bool timed;	       /* false: a raw log replayed without times, none are shown */
	int64_t started_at_ms; /* CLOCK_REALTIME ms when the VM started */
	char *command;	       /* the VM's command line, shell-quoted */
	char *console_raw, *console_log;
	int64_t first_byte_ms; /* from the VM start to the first console byte */
	int64_t total_ms;      /* the whole run */
	struct result_milestone *milestones;
	size_t nmilestones;
	struct result_step *steps;
	size_t nsteps;
	size_t blamed;		   /* index of the step the run stopped at; SIZE_MAX: none */
	struct result_note *notes; /* per step, kept across result_finish(); NULL: none */
	size_t nnotes;
	struct result_outcome outcome;
	struct result_stats stats;
	char *console_tail;
	/* The first kernel crash in the console (expect/crash.h); all NULL when none. */
	char *crash_class, *crash_title, *crash_report;
	char *crash_frames; /* symbolized frames, "FRAME\tFILE:LINE\n" each (src/symbolize.h) */
	char *shard;	    /* "2/3" when a shard of a suite ran it */
	char *artifacts;    /* where a failed run's artifacts are */
	struct result_checkpoint checkpoint;
};

void result_run_init(struct result_run *r);
void result_run_release(struct result_run *r);
/* Replace *field with a copy of value (NULL clears it). 0 or -ENOMEM. */
int result_setstr(char **field, const char *value);
/* 'command' from a NULL-terminated argv, each word shell-quoted when it needs it. */
int result_set_command(struct result_run *r, char *const *argv);
/* 'console_tail': the end of text, at most RESULT_TAIL_LINES lines and RESULT_TAIL_MAX bytes. */
int result_set_tail(struct result_run *r, struct blob text);
/*
 * Classify the first kernel crash in text (the cleaned console log): fills
 * crash_class, crash_title and crash_report (class, title, first line, RIP,
 * modules, call trace and the lines before it, as crash.txt holds it).
 * With syms (may be NULL), the RIP and call-trace frames found in vmlinux
 * or a module's .ko go to crash_frames and a "source:" section of the report.
 * With ignore_warnings ('on-warning ignore'), the crash is the first that is
 * not a WARNING, and the WARNINGs before it are listed at the report's end.
 * 1 when there was one, 0 when not, -ENOMEM.
 */
int result_set_crash(struct result_run *r, struct blob text, const struct symbolize_src *syms,
		     bool ignore_warnings);
/* Whether the engine's outcome is a kernel crash: a "built-in: kernel ..." fail pattern, or "Kernel
 * panic". */
struct expect_outcome;
bool result_is_crash(const struct expect_outcome *oc);
/* The same from the end of a file (the cleaned console log); -errno with text naming it. */
int result_load_tail(struct result_run *r, const char *path, struct it_error *err);

/*
 * The verdict of a run that ended with 'code' (what its work returned: 0,
 * -IT_EFAIL, -IT_ETIMEOUT or any other error) and its engine (NULL when the
 * run never got that far). An error other than -IT_EFAIL and -IT_ETIMEOUT
 * wins over the engine (verdict_of_code()). Otherwise the engine decides;
 * a fail pattern that caught a kernel panic or oops (the built-in ones, or
 * any whose line holds "Kernel panic") is a crash.
 */
enum run_verdict result_verdict_of(const struct expect *e, int code);

/*
 * Settle the run: verdict (result_verdict_of()), err's text when it holds
 * one and no error is kept yet (else it_strerror(code) for a failing
 * code < 0), the steps, outcome and statistics from the engine e (may be
 * NULL), the milestones, the duration when still unknown, the hostname,
 * and the verdict line and hint. May be called again, for example when a
 * check made after the run (a budget, a baseline) fails it.
 */
int result_finish(struct result_run *r, const struct expect *e, int code,
		  const struct it_error *err);
/* verdict_exit() of the run's verdict. */
int result_exit_code(const struct result_run *r);
/* A command's stdout or stderr as the run got it: the bytes, and how many more were dropped. */
struct result_output {
	struct blob text; /* NULL: none */
	uint64_t more;	  /* bytes over a cap (the guest's, the client's) never received */
};
/*
 * Note what step i (an agent's) was: its action ("run"), a command's exit
 * status (-1: none) and its outputs, each cut to RESULT_OUTPUT_MAX; what
 * was cut or dropped is counted in a last line of the text: "[initrd-test:
 * N more bytes left out]". Kept in the run and applied by every
 * result_finish() from now on.
 */
int result_note_step(struct result_run *r, size_t i, const char *action, int exit_code,
		     struct result_output out, struct result_output err);
/*
 * Step i failed because the agent was lost: its channel broke, or it went
 * away. result_finish() then gives the run the class of its own that an
 * agent-ready step's timeout has too: verdict failed, outcome why "agent".
 */
int result_note_lost(struct result_run *r, size_t i);

/* ---- text for people (result_text.c) ---------------------------------------------------- */

/*
 * The verdict in one line, without colour: "PASSED networking in 21.3s",
 * "TIMED OUT networking at step 'e1000-driver' (FILE:LINE): no match for
 * "..." within 20s; last console line: '...'". *hint gets what to do next
 * ("see the console log: PATH"), or "" when there is nothing to add.
 * result_finish() keeps both in the run; this computes them from the model.
 */
int result_verdict_line(const struct result_run *r, struct buf *line, struct buf *hint);

struct result_text_opts {
	unsigned width; /* columns to fit the table in; 0: 80 */
	bool color;	/* ANSI colours */
	bool quiet;	/* no table; the verdict only when the run did not pass */
};

/*
 * A table of steps (name, status ok/FAIL/TIMEOUT/ERROR/skipped, time since
 * the VM start, the matched line or the text sent, cut to the width) and
 * the verdict line, with "hint: ..." below it. Console text is made
 * printable: control bytes and invalid UTF-8 are shown as \xHH.
 */
int result_text(const struct result_run *r, const struct result_text_opts *o, struct buf *out);
/* result_text() on f: colour only on a terminal without NO_COLOR; the terminal's width. */
int result_print(const struct result_run *r, FILE *f, bool quiet);

/* ---- sets of runs ----------------------------------------------------------------------- */

struct result_set {
	struct result_run *runs;
	size_t n;
};

void result_set_init(struct result_set *s);
void result_set_release(struct result_set *s);
/* Append a new, initialized run; NULL without memory. The pointer is valid until the next add. */
struct result_run *result_set_add(struct result_set *s);
/* Move every run of from to the end of s; from is left empty. 0 or -ENOMEM (nothing moved). */
int result_set_take(struct result_set *s, struct result_set *from);

/* How many runs have each verdict; flaky passes are counted in [RUN_PASSED] and in *flaky. */
void result_set_count(const struct result_set *s, unsigned long counts[RUN_VERDICT_MAX],
		      unsigned long *flaky);
/* exit_code_of_counts() of the set. */
int result_set_exit_code(const struct result_set *s);
/*
 * One line per run (its verdict line, with "  hint: ..." and "  artifacts:
 * DIR" below a run that did not pass; only those with failures_only), then
 * the totals: "3 scenarios: 1 passed (1 flaky), 1 failed, 1 timed out".
 */
int result_set_summary(const struct result_set *s, bool failures_only, struct buf *out);
/* The totals line alone, without a newline. */
int result_set_totals(const struct result_set *s, struct buf *out);

/* ---- files (result_json.c, result_junit.c) ---------------------------------------------- */

/*
 * JSON: {"format": "initrd-test-report", "version": 1, "runs": [...]}; each
 * run with its verdict, exit code, message, error, times ("timings":
 * first_console_byte_ms, total_ms and each milestone), steps, outcome,
 * engine statistics and console tail. Text that is not valid UTF-8 is
 * written as \xHH. Appends to out.
 */
int result_json(const struct result_set *s, struct buf *out);
/*
 * Read the runs of a report (the JSON above, from 'run', a suite or
 * 'report') and append them to s. 'name' (a file name) starts every error:
 * "cannot parse 'r.json': line 3, column 7: ..." for text that is not
 * JSON, "'r.json' is not an initrd-test report ..." for JSON of another
 * shape, "'r.json': run 2 has no ..." for a run without a scenario or a
 * known verdict. -IT_EFORMAT (or -ENOMEM); s is unchanged on failure.
 */
int result_json_parse(struct result_set *s, struct blob text, const char *name,
		      struct it_error *err);
/* result_json_parse() of a file (at most RESULT_FILE_MAX); errors name it. */
int result_json_load(struct result_set *s, const char *path, struct it_error *err);

/*
 * JUnit XML, valid against the Ant and Jenkins JUnit schemas
 * (tests/data/junit/): <testsuites> with the totals, one <testsuite> per
 * run (package "initrd-test", id = index) with its <properties> (scenario,
 * verdict, backend, accel, command, logs, first console byte, attempts,
 * flaky, shard, artifacts), one <testcase> per step (classname = the
 * scenario, time = the step's duration) holding <failure>, <error> or
 * <skipped>, a <testcase name="run"> holding the problem when no step
 * does, then <system-out> (the console tail) and <system-err> (the error).
 * Everything is escaped; bytes XML cannot carry are written as \xHH.
 */
int result_junit(const struct result_set *s, struct buf *out);

/* Either format of s to path, atomically; errors name the file, with a hint. */
int result_write_json(const struct result_set *s, const char *path, struct it_error *err);
int result_write_junit(const struct result_set *s, const char *path, struct it_error *err);
/* The same for one run. */
int result_run_write_json(const struct result_run *r, const char *path, struct it_error *err);
int result_run_write_junit(const struct result_run *r, const char *path, struct it_error *err);

#endif
