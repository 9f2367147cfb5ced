/* SPDX-License-Identifier: MIT */
/*
 * Public interface of the expect engine: match a VM's console output against
 * a scenario's ordered steps. The engine never sees a file descriptor: the
 * caller feeds it console bytes with a monotonic timestamp and writes back
 * the bytes it asks for, so it runs the same live, in a replay and in tests.
 */
#ifndef IT_EXPECT_H
#define IT_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/*
 * How matching works
 *
 * - Matching runs on a cleaned copy of the console: ANSI/VT escape sequences
 *   (CSI, OSC and other strings, charset selects, lone ESC pairs), CRs, NULs
 *   and other control bytes except tab are removed. A cursor-up (ESC [ A)
 *   right after a newline joins the next output to the line before, as a
 *   screen shows it: OpenRC's coloured "[ ok ]" lands on its " * Starting
 *   ..." line. The raw bytes are the caller's to log.
 * - Patterns are PCRE2 (no UTF mode: bytes), compiled once with JIT. Each is
 *   matched against one line at a time (without its '\n'), also while the
 *   line is still incomplete, so a prompt like "localhost login: " matches as
 *   soon as it appears. On an incomplete line a match counts only once more
 *   text could not change it (PCRE2_PARTIAL_HARD): "lease of (\S+)" waits for
 *   the end of the address, and a pattern ending in '$', '\s*' or '\S*'
 *   waits for the end of the line: end prompt patterns with a literal
 *   character ("login: ", not "login:\s*$").
 * - A pattern may straddle any number of reads. Once a step matches, the next
 *   step only sees text after the end of that match: nothing is matched twice.
 * - Fail patterns are tried on every line for the whole run and are checked
 *   before the current step, so a line that matches both fails the run.
 * - A line longer than EXPECT_LINE_MAX is cut at the head (the tail is kept
 *   and matched; '^' no longer matches there). Memory does not grow with the
 *   amount of console output.
 * - Cost: a pattern is run only on lines that hold the plain text every match
 *   of it contains ("lease of " in "lease of (\S+)"), found for many lines at
 *   once. A pattern with no such text at its top level (a top-level '|', (?i),
 *   escapes like \x41) is run on every line: correct, only slower.
 * - Busybox ash asks the terminal for the cursor position (ESC [ 6 n) after
 *   each prompt; the engine answers "ESC [ 1 ; 1 R" (row 1, column 1), which
 *   busybox's lineedit accepts and which never makes it shift its idea of
 *   the cursor. The request is found in the raw bytes, even split over reads.
 *
 * Substitutions: send text and expect patterns may use ${N} (group N of the
 * most recent expect match, ${0} the whole match) and ${name} (the named group
 * "(?<name>...)" as set by the latest expect step whose pattern has it). They are filled in
 * when the step becomes current; in patterns the value is escaped so it
 * matches literally. A group that did not take part gives "". Write "$${"
 * for a literal "${". Regex patterns may also escape the dollar: "\${".
 * A reference to a group that no earlier expect step defines is an error
 * when the step is added.
 */

#define EXPECT_LINE_MAX (64 * 1024)	/* longest line kept for matching */
#define EXPECT_OUTPUT_MAX (1024 * 1024) /* bytes queued for the console, unwritten */
#define EXPECT_DSR_REPLY "\033[1;1R"

/* Where the built-in fail patterns say they come from. */
#define EXPECT_BUILTIN "built-in"

enum expect_state {
	EXPECT_RUNNING = 0,
	EXPECT_PASSED,	  /* the last step completed */
	EXPECT_FAILED,	  /* a fail pattern matched, the console closed, a send did not fit */
	EXPECT_TIMED_OUT, /* a step's timeout or the whole-run timeout passed */
};

enum expect_kind {
	EXPECT_KIND_EXPECT = 0,
	EXPECT_KIND_SEND,
	EXPECT_KIND_EXTERNAL, /* decided by the caller: expect_external_done() */
};

enum expect_status {
	EXPECT_STEP_PENDING = 0, /* not reached yet, or current */
	EXPECT_STEP_PASSED,	 /* matched (expect) or queued (send) */
	EXPECT_STEP_FAILED,	 /* the run failed while this step was current */
	EXPECT_STEP_TIMED_OUT,	 /* the run timed out while this step was current */
	EXPECT_STEP_SKIPPED,	 /* never reached because the run ended before */
};

/* Why a run that is not PASSED ended. */
enum expect_why {
	EXPECT_WHY_NONE = 0,
	EXPECT_WHY_FAIL_PATTERN, /* a fail pattern matched */
	EXPECT_WHY_STEP_TIMEOUT, /* the current step's own timeout passed */
	EXPECT_WHY_RUN_TIMEOUT,	 /* the whole-run timeout passed */
	EXPECT_WHY_EOF,		 /* expect_eof(): the console closed (or a replayed log ended) */
	EXPECT_WHY_OUTPUT_FULL,	 /* a send step did not fit in the output queue */
	EXPECT_WHY_BAD_PATTERN,	 /* a pattern stopped compiling once ${...} was filled in */
	EXPECT_WHY_EXTERNAL,	 /* the caller failed an external step (outcome.line says why) */
};

/* One step's result. Strings are owned by the engine and live until expect_free(). */
struct expect_step_result {
	enum expect_kind kind;
	enum expect_status status;
	const char *name;    /* never NULL ("" if none was given) */
	const char *where;   /* "file:line", or "" */
	const char *pattern; /* expect: the pattern as given (before ${}); send: the text */
	const char *line;    /* expect, passed: the cleaned matched line, trimmed (at most 1 KiB
				around the match); NULL otherwise */
	int64_t at_ms;	     /* passed: ms since expect_start(); -1 otherwise */
	int64_t timeout_ms;  /* the step's own timeout; 0: none */
};

/* How the run ended. Strings are owned by the engine and live until expect_free(). */
struct expect_outcome {
	enum expect_state state;
	enum expect_why why;
	size_t step; /* index of the step current when the run ended; nsteps if PASSED */
	const char *fail_pattern; /* FAIL_PATTERN: the pattern; BAD_PATTERN: PCRE2's text; or "" */
	const char *fail_where;	  /* FAIL_PATTERN: its 'where' ("built-in: ..." for defaults) */
	const char *line;	  /* FAIL_PATTERN: the matching line (completed when it ends);
				     otherwise the last non-empty console line; trimmed; may be "" */
	int64_t at_ms;		  /* ms since expect_start() when the run ended; -1 while running */
};

struct expect_stats {
	uint64_t bytes_in;     /* raw bytes fed */
	uint64_t lines;	       /* complete cleaned lines */
	uint64_t bytes_out;    /* bytes queued for the console (sends and answers) */
	uint64_t dsr_answered; /* cursor-position requests answered */
	uint64_t lines_cut;    /* times an over-long line lost its head */
	uint64_t match_errors; /* PCRE2 match-limit errors, counted as no match */
};

struct expect; /* opaque */

/*
 * A new engine with the built-in fail patterns: "Kernel panic", a kernel oops
 * or die() line ("Oops: 0000 [#1] SMP", "general protection fault, ...: 0000
 * [#1]"), busybox init's "can't run '/etc/init.d/rcS'" and OpenRC's " * ERROR:"
 * at line start. The caller owns *out and frees it with expect_free().
 */
int expect_new(struct expect **out);
void expect_free(struct expect *e);

/*
 * Append a step that waits for 'pattern' (PCRE2, or a literal string when
 * 'literal'). 'timeout_ms' counts from the moment the step becomes current;
 * 0 means only the whole-run timeout applies. 'name' (may be NULL) and 'where'
 * ("file:line", may be NULL) are copied and appear in results and messages.
 * A bad pattern or a ${} reference to an unknown group returns -IT_ESCENARIO;
 * err->msg then starts with "where: " when 'where' was given and carries
 * PCRE2's message and offset: "scn:3: bad pattern 'a(b': missing closing
 * parenthesis at offset 3". Steps can only be added before expect_start().
 */
int expect_add_expect(struct expect *e, const char *name, const char *pattern, bool literal,
		      int64_t timeout_ms, const char *where, struct it_error *err);
/* Append a step that queues 'text' (bytes, after ${} substitution) for the console at once. */
int expect_add_send(struct expect *e, const char *name, const char *text, const char *where,
		    struct it_error *err);
/*
 * Append a step the engine does not decide: a command in the guest, a file
 * copy, a wait. When it becomes current the engine stops there, as at an
 * expect step, until the caller ends it with expect_external_done(); its
 * timeout, the run's and the fail patterns apply meanwhile (a panic on the
 * console during a command fails the run). 'text' says what it does (its
 * 'pattern' in results) and may hold ${refs}, filled in when it becomes
 * current. 'capture' (NULL: none) is a pattern the caller matches against
 * text of its own (a command's stdout) with expect_external_match(); its
 * groups feed ${...} of later steps like an expect step's; it is compiled
 * with ^ and $ at every line (PCRE2_MULTILINE).
 */
int expect_add_external(struct expect *e, const char *name, const char *text, const char *capture,
			bool capture_literal, int64_t timeout_ms, const char *where,
			struct it_error *err);
/*
 * The current step when it is an external one and the run goes on: its
 * index, and *text with its ${refs} filled in (valid until it ends).
 * SIZE_MAX otherwise.
 */
size_t expect_external(const struct expect *e, const char **text);
/*
 * Match the current external step's capture pattern against subject (all
 * of it at once): 1 when it matched (its groups saved for later steps), 0
 * when not (or it has none), or -ENOMEM.
 */
int expect_external_match(struct expect *e, struct blob subject);
/*
 * End the current external step at now_ms: passed, with 'line' (may be NULL)
 * shown as what it matched; or failed, the run with it (EXPECT_WHY_EXTERNAL,
 * 'line' the outcome's line: what went wrong). Returns the state, as
 * expect_feed() does; -EINVAL when the current step is not external.
 */
int expect_external_done(struct expect *e, bool passed, const char *line, int64_t now_ms);
/* Add a pattern that fails the run whenever it matches (no ${} substitution). */
int expect_add_fail(struct expect *e, const char *pattern, bool literal, const char *where,
		    struct it_error *err);
/* Drop all fail patterns so far, built-in ones included (for a scenario that expects a panic). */
void expect_clear_fails(struct expect *e);
/* Whole-run timeout from expect_start(); 0 (the default) means none. */
void expect_set_run_timeout(struct expect *e, int64_t ms);
/* Replays without timestamps: no step or run timeout ever fires. */
void expect_disable_timeouts(struct expect *e);

/*
 * Start the clock (a CLOCK_MONOTONIC time in ms, see now_ms()). Leading send
 * steps are queued at once; a script with no steps has PASSED. expect_feed()
 * starts the engine itself if the caller did not. Returns 0 or -ENOMEM.
 */
int expect_start(struct expect *e, int64_t now_ms);
/*
 * Feed raw console bytes read at 'now_ms'. A step whose deadline is <= now_ms
 * times out before these bytes are looked at. Returns the state (>= 0), or
 * -ENOMEM. After the run has ended, bytes are still counted and cursor-
 * position requests still answered, but nothing is matched.
 */
int expect_feed(struct expect *e, const char *buf, size_t len, int64_t now_ms);
/*
 * Checkpoints (src/checkpoint.h): a run saves the VM at a step and later
 * runs go on from there without the steps before it.
 *
 * expect_capture_at() gives capture i (0 upward; 0 past the last): its ref
 * into ref ("0", "1", ... for the groups of the last match, then the named
 * ones) and *value (NULL for a group that did not take part). 1, or 0 at
 * the end.
 *
 * expect_start_restored() starts an engine (instead of expect_start())
 * with steps [0, upto) already done elsewhere: each PASSED at at_ms[i]
 * with lines[i] (may be NULL) as its line, nothing of them sent again; the
 * captures of that run are set again (refs[i], values[i]); the clock's
 * zero is start_ms (the restore's time less the saved run's time at the
 * checkpoint, so times go on from there, the run timeout too), and step
 * upto becomes current at now_ms. -EINVAL when started or upto is past the
 * steps, -ENOMEM.
 */
struct expect_restored {
	size_t upto;
	const int64_t *at_ms;
	const char *const *lines;
	size_t ncaps;
	const char *const *refs;
	const char *const *values;
};
int expect_capture_at(const struct expect *e, size_t i, char *ref, size_t refsz,
		      const char **value);
int expect_start_restored(struct expect *e, int64_t start_ms, int64_t now_ms,
			  const struct expect_restored *from);

/* Apply timeouts without input (after poll() timed out). Returns the state. */
int expect_tick(struct expect *e, int64_t now_ms);
/* The console closed (EOF/EIO on the pty, the VM exited): a run still going fails. */
int expect_eof(struct expect *e, int64_t now_ms);
/* Absolute deadline in ms for the next poll() (see ms_until()), or -1 when there is none. */
int64_t expect_deadline(const struct expect *e);
enum expect_state expect_state(const struct expect *e);

/*
 * Bytes waiting to be written to the console, oldest first (sends and
 * cursor-position answers, in stream order). The view is valid until the
 * next call that takes a non-const engine; write some, then consume them.
 */
struct blob expect_output(const struct expect *e);
void expect_output_consume(struct expect *e, size_t n);

size_t expect_nsteps(const struct expect *e);
/* Result of step i (0-based), or NULL when i is out of range. Owned by the engine. */
const struct expect_step_result *expect_step(const struct expect *e, size_t i);
const struct expect_outcome *expect_outcome(const struct expect *e);
/* The last complete console line with more than blanks so far, trimmed; "" before one. */
const char *expect_last_line(const struct expect *e);
/* Current value of ${ref} ("1", "ip"), or NULL when unset. Owned by the engine. */
const char *expect_capture(const struct expect *e, const char *ref);
void expect_get_stats(const struct expect *e, struct expect_stats *st);
/* Bytes of heap the engine holds now (its buffers, strings and PCRE2's allocations). */
size_t expect_mem_size(const struct expect *e);

/*
 * Describe how the run ended, for the user: 0 when it PASSED; otherwise
 * -IT_EFAIL or -IT_ETIMEOUT with one line in err (and the last console line
 * as a hint): "step 'login' (boot.scn:4) timed out after 30000 ms waiting
 * for 'localhost login: '". -IT_EFAIL while still running.
 */
int expect_explain(const struct expect *e, struct it_error *err);

/*
 * Console log writer: turns raw console bytes into the saved, cleaned log:
 * one line per console line, "[  12.345] text", the time in seconds since
 * conlog_start() when the line's first byte arrived. Lines are cleaned like
 * the engine's (and joined the same way after a cursor-up); a line longer
 * than EXPECT_LINE_MAX is broken. A line is written once something other
 * than a cursor-up follows its '\n', so the newest line waits for the next.
 * Formatted text is appended to the caller's buffer 'out', which the caller
 * writes and resets; its cap is the caller's choice: a line that does not
 * fit is dropped, the rest of the input is still processed, and the call
 * returns -IT_ELIMIT.
 */
struct conlog;
int conlog_new(struct conlog **out);
void conlog_free(struct conlog *l);
void conlog_start(struct conlog *l, int64_t now_ms);
int conlog_feed(struct conlog *l, const char *buf, size_t len, int64_t now_ms, struct buf *out);
/* Flush the held lines; an unterminated last line (a prompt) is written without '\n'. */
int conlog_finish(struct conlog *l, struct buf *out);

/*
 * Replay a recorded console through a configured (not yet started) engine,
 * as `initrd-test replay` does. A log written by conlog (its first line
 * starts "[SSSS.mmm] ") is fed line by line at its own times, so step and
 * run timeouts apply; anything else is taken as a raw console log and fed
 * in 4 KiB chunks at time 0 with timeouts disabled. Output the engine queues
 * is discarded. If the log ends while the run is going, it fails as by
 * expect_eof(). *timed (may be NULL) tells which way the log was read.
 * Returns the final state (>= 0) or -ENOMEM.
 */
int expect_replay(struct expect *e, struct blob log, bool *timed);

#endif
