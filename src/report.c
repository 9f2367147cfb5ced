// SPDX-License-Identifier: MIT
/* Reports of a run: scenario to engine, verdict and exit code, step table, JUnit XML, JSON. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "src/cmds.h"
#include "src/out.h"
#include "src/report.h"

#define NAME_COLS_MAX 20   /* widest step-name column in the table */
#define MIN_LINE_COLS 16   /* the line column never gets narrower than this */
#define LAST_LINE_COLS 200 /* the last console line quoted in a verdict */
#define DEFAULT_WIDTH 80

#define C_RESET "\033[0m"
#define C_GREEN "\033[32m"
#define C_BOLD_GREEN "\033[1;32m"
#define C_BOLD_RED "\033[1;31m"
#define C_RED "\033[31m"
#define C_DIM "\033[2m"

/* ---- verdicts ----------------------------------------------------------------------------- */

static const struct {
	const char *name;  /* JSON and JUnit */
	const char *title; /* the verdict line */
	int exit;
} verdicts[] = {
    [RUN_PASSED] = {"passed", "PASSED", EXIT_PASS},
    [RUN_FAILED] = {"failed", "FAILED", EXIT_FAILED},
    [RUN_CRASHED] = {"crashed", "CRASHED", EXIT_FAILED},
    [RUN_TIMED_OUT] = {"timed_out", "TIMED OUT", EXIT_TIMEOUT},
    [RUN_INFRA_ERROR] = {"infra_error", "ERROR", EXIT_INFRA},
    [RUN_USAGE_ERROR] = {"usage_error", "ERROR", EXIT_USAGE},
    [RUN_INTERRUPTED] = {"interrupted", "INTERRUPTED", EXIT_INTERRUPTED},
};

static bool verdict_ok(enum run_verdict v)
{
	return (unsigned)v < ARRAY_SIZE(verdicts);
}

const char *run_verdict_name(enum run_verdict v)
{
	return verdict_ok(v) ? verdicts[v].name : "unknown";
}

int run_verdict_exit(enum run_verdict v)
{
	return verdict_ok(v) ? verdicts[v].exit : EXIT_INFRA;
}

static bool is_crash(const struct expect_outcome *oc)
{
	if (oc->why != EXPECT_WHY_FAIL_PATTERN)
		return false;
	if (!strncmp(oc->fail_where, EXPECT_BUILTIN ": kernel ",
		     strlen(EXPECT_BUILTIN ": kernel ")))
		return true;
	return strstr(oc->line, "Kernel panic") != NULL;
}

enum run_verdict run_verdict_of(const struct expect *e, int code)
{
	if (code < 0 && code != -IT_EFAIL && code != -IT_ETIMEOUT) {
		if (code == -IT_EUSAGE || code == -IT_ESCENARIO)
			return RUN_USAGE_ERROR;
		if (code == -IT_EINTERRUPTED)
			return RUN_INTERRUPTED;
		return RUN_INFRA_ERROR;
	}
	if (e) {
		switch (expect_state(e)) {
		case EXPECT_PASSED:
			if (code == 0)
				return RUN_PASSED;
			break;
		case EXPECT_TIMED_OUT:
			return RUN_TIMED_OUT;
		case EXPECT_FAILED:
			return is_crash(expect_outcome(e)) ? RUN_CRASHED : RUN_FAILED;
		case EXPECT_RUNNING:
			if (code == 0)
				return RUN_FAILED; /* the run stopped without an answer */
			break;
		}
	}
	if (code == -IT_ETIMEOUT)
		return RUN_TIMED_OUT;
	return code == 0 ? RUN_PASSED : RUN_FAILED;
}

/* ---- the report object -------------------------------------------------------------------- */

void run_report_init(struct run_report *r)
{
	memset(r, 0, sizeof(*r));
	r->start_wall_ms = -1;
	r->first_byte_ms = -1;
	r->duration_ms = -1;
}

void run_report_release(struct run_report *r)
{
	free(r->scenario_name);
	free(r->scenario_path);
	free(r->backend);
	free(r->accel);
	free(r->hostname);
	free(r->console_raw);
	free(r->console_log);
	free(r->command);
	free(r->console_tail);
	run_report_init(r);
}

int run_report_setstr(char **field, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
	}
	free(*field);
	*field = copy;
	return 0;
}

static bool shell_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!strchr(
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-",
			*s))
			return false;
	}
	return true;
}

int run_report_set_command(struct run_report *r, char *const *argv)
{
	struct buf b;
	int err = 0;

	buf_init(&b, 0);
	for (size_t i = 0; argv && argv[i] && !err; i++) {
		if (i > 0)
			err = buf_addch(&b, ' ');
		if (!err && shell_safe(argv[i])) {
			err = buf_addstr(&b, argv[i]);
			continue;
		}
		/* 'it'\''s': a single quote closes, is escaped, and opens again. */
		if (!err)
			err = buf_addch(&b, '\'');
		for (const char *p = argv[i]; *p && !err; p++)
			err = *p == '\'' ? buf_addstr(&b, "'\\''") : buf_addch(&b, *p);
		if (!err)
			err = buf_addch(&b, '\'');
	}
	if (!err)
		err = run_report_setstr(&r->command, b.data);
	buf_release(&b);
	return err;
}

/* The end of t: whole lines (unless one line alone is too long), as few as the limits want. */
static struct blob tail_of(struct blob t)
{
	size_t start = 0, lines = 0, i;

	if (t.len > REPORT_TAIL_MAX) {
		start = t.len - REPORT_TAIL_MAX;
		if (t.ptr[start - 1] != '\n') {
			const char *nl = memchr(t.ptr + start, '\n', t.len - start);

			if (nl && (size_t)(nl + 1 - t.ptr) < t.len)
				start = (size_t)(nl + 1 - t.ptr);
		}
	}
	i = t.len;
	if (i > start && t.ptr[i - 1] == '\n')
		i--; /* the last line's own newline */
	for (; i > start; i--) {
		if (t.ptr[i - 1] != '\n')
			continue;
		if (++lines == REPORT_TAIL_LINES) {
			start = i;
			break;
		}
	}
	return (struct blob){t.len - start, t.ptr + start};
}

int run_report_set_tail(struct run_report *r, struct blob text)
{
	struct blob t = tail_of(text);
	char *copy = blob_dup(t);

	if (!copy)
		return -ENOMEM;
	free(r->console_tail);
	r->console_tail = copy;
	return 0;
}

int run_report_load_tail(struct run_report *r, const char *path, struct it_error *err)
{
	char *data = NULL;
	struct stat st;
	size_t want, got = 0;
	off_t from;
	int fd = -1, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		it_error_set(err, ret, "cannot read console log '%s': %s", path, strerror(errno));
		goto out;
	}
	/* One byte more than the tail, to know whether it starts at a line start. */
	want = st.st_size > REPORT_TAIL_MAX ? REPORT_TAIL_MAX + 1 : (size_t)st.st_size;
	from = st.st_size - (off_t)want;
	data = malloc(want + 1);
	if (!data) {
		ret = it_error_set(err, -ENOMEM, "cannot read console log '%s': %s", path,
				   strerror(ENOMEM));
		goto out;
	}
	while (got < want) {
		ssize_t n = pread(fd, data + got, want - got, from + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			it_error_set(err, ret, "cannot read console log '%s': %s", path,
				     strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	ret = run_report_set_tail(r, blob_mem(data, got));
	if (ret < 0)
		it_error_set(err, ret, "cannot keep the tail of '%s': %s", path, strerror(-ret));
out:
	free(data);
	if (fd >= 0)
		close(fd);
	return ret;
}

void run_report_finish(struct run_report *r, const struct expect *e, int code,
		       const struct it_error *err)
{
	r->engine = e;
	r->verdict = run_verdict_of(e, code);
	if (err && err->code && !r->error.code)
		r->error = *err;
	if (r->verdict != RUN_PASSED && !r->error.code && code < 0)
		it_error_set(&r->error, code, "%s", it_strerror(code));
	if (r->duration_ms < 0 && !r->untimed && e && expect_outcome(e)->at_ms >= 0)
		r->duration_ms = expect_outcome(e)->at_ms;
}

int run_report_exit_code(const struct run_report *r)
{
	return run_verdict_exit(r->verdict);
}

/* ---- output helpers ----------------------------------------------------------------------- */

/* Display columns of printable UTF-8 (one per code point; good enough for console text). */
static size_t cols_of(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Printable text cut to 'max' columns ("..." marks a cut); max 0: no limit. */
static void put_term(struct out *o, const char *s, size_t n, size_t max)
{
	struct buf tmp;
	struct out t;
	size_t cols, i = 0, c = 0;

	buf_init(&tmp, 0);
	t = (struct out){&tmp, 0};
	out_esc_n(&t, ESC_TERM, s, n);
	if (t.err) {
		o->err = o->err ? o->err : t.err;
		buf_release(&tmp);
		return;
	}
	cols = cols_of(tmp.data, tmp.len);
	if (max == 0 || cols <= max) {
		out_put(o, tmp.data, tmp.len);
		buf_release(&tmp);
		return;
	}
	/* Keep max - 3 columns, without splitting a UTF-8 sequence. */
	for (; i < tmp.len; i++) {
		if (((unsigned char)tmp.data[i] & 0xc0) != 0x80 && c++ == (max > 3 ? max - 3 : 0))
			break;
	}
	out_put(o, tmp.data, i);
	out_puts(o, max > 3 ? "..." : "");
	buf_release(&tmp);
}

static void put_term_str(struct out *o, const char *s, size_t max)
{
	if (s)
		put_term(o, s, strlen(s), max);
}

/* ---- steps as reported -------------------------------------------------------------------- */

static size_t nsteps_of(const struct run_report *r)
{
	return r->engine ? expect_nsteps(r->engine) : 0;
}

static const struct expect_step_result *step_of(const struct run_report *r, size_t i)
{
	return expect_step(r->engine, i);
}

static bool is_error_verdict(enum run_verdict v)
{
	return v == RUN_INFRA_ERROR || v == RUN_USAGE_ERROR || v == RUN_INTERRUPTED;
}

/* Did the console say anything? An error before that (a build, a VM that never started) is no
 * step's. */
static bool engine_fed(const struct run_report *r)
{
	struct expect_stats st;

	if (!r->engine)
		return false;
	expect_get_stats(r->engine, &st);
	return st.bytes_in > 0;
}

/*
 * The step the run stopped at: the one the engine blames, or, when the run
 * was cut short by an error while the engine was still waiting on console
 * output, the first pending step. SIZE_MAX when there is none.
 */
static size_t blamed_step(const struct run_report *r)
{
	size_t n = nsteps_of(r);

	if (!r->engine || r->verdict == RUN_PASSED)
		return SIZE_MAX;
	if (expect_state(r->engine) != EXPECT_RUNNING) {
		size_t i = expect_outcome(r->engine)->step;

		return i < n ? i : SIZE_MAX;
	}
	if (!engine_fed(r))
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		if (step_of(r, i)->status == EXPECT_STEP_PENDING)
			return i;
	}
	return SIZE_MAX;
}

enum shown_status { SHOWN_OK, SHOWN_FAIL, SHOWN_TIMEOUT, SHOWN_ERROR, SHOWN_SKIPPED };

static const struct {
	const char *label;
	const char *color;
	const char *json;
} shown[] = {
    [SHOWN_OK] = {"ok", C_GREEN, "passed"},
    [SHOWN_FAIL] = {"FAIL", C_BOLD_RED, "failed"},
    [SHOWN_TIMEOUT] = {"TIMEOUT", C_BOLD_RED, "timed_out"},
    [SHOWN_ERROR] = {"ERROR", C_BOLD_RED, "error"},
    [SHOWN_SKIPPED] = {"skipped", C_DIM, "skipped"},
};

static enum shown_status status_of(const struct run_report *r, size_t i)
{
	switch (step_of(r, i)->status) {
	case EXPECT_STEP_PASSED:
		return SHOWN_OK;
	case EXPECT_STEP_FAILED:
		return SHOWN_FAIL;
	case EXPECT_STEP_TIMED_OUT:
		return SHOWN_TIMEOUT;
	case EXPECT_STEP_PENDING:
		if (is_error_verdict(r->verdict) && blamed_step(r) == i)
			return SHOWN_ERROR;
		return SHOWN_SKIPPED;
	case EXPECT_STEP_SKIPPED:
		break;
	}
	return SHOWN_SKIPPED;
}

/* When step i became current (ms since the VM start), or -1 if it never did. */
static int64_t step_start(const struct run_report *r, size_t i)
{
	const struct expect_step_result *prev;

	if (i == 0)
		return 0;
	prev = step_of(r, i - 1);
	return prev->status == EXPECT_STEP_PASSED ? prev->at_ms : -1;
}

/* When step i ended: its match, or the end of the run for the step that failed; -1 otherwise. */
static int64_t step_end(const struct run_report *r, size_t i)
{
	const struct expect_step_result *s = step_of(r, i);

	if (s->status == EXPECT_STEP_PASSED)
		return s->at_ms;
	if (s->status == EXPECT_STEP_FAILED || s->status == EXPECT_STEP_TIMED_OUT)
		return expect_outcome(r->engine)->at_ms;
	return -1;
}

static int64_t step_duration(const struct run_report *r, size_t i)
{
	int64_t a = step_start(r, i), b = step_end(r, i);

	return a >= 0 && b >= a ? b - a : 0;
}

static const char *scenario_label(const struct run_report *r)
{
	if (r->scenario_name && r->scenario_name[0])
		return r->scenario_name;
	if (r->scenario_path && r->scenario_path[0])
		return r->scenario_path;
	return "scenario";
}

static const char *log_path(const struct run_report *r)
{
	if (r->console_log && r->console_log[0])
		return r->console_log;
	if (r->console_raw && r->console_raw[0])
		return r->console_raw;
	return NULL;
}

/* ---- the verdict -------------------------------------------------------------------------- */

static void put_at_step(struct out *o, const struct run_report *r, size_t i)
{
	const struct expect_step_result *s;

	if (i == SIZE_MAX)
		return;
	s = step_of(r, i);
	out_puts(o, " at step '");
	out_esc(o, ESC_TERM, s->name);
	out_puts(o, "'");
	if (s->where[0]) {
		out_puts(o, " (");
		out_esc(o, ESC_TERM, s->where);
		out_puts(o, ")");
	}
}

static void put_last_line(struct out *o, const char *line)
{
	if (!line || !line[0])
		return;
	out_puts(o, "; last console line: '");
	put_term_str(o, line, LAST_LINE_COLS);
	out_puts(o, "'");
}

/* What went wrong at the blamed step, from the engine's outcome. */
static void put_failure_detail(struct out *o, const struct run_report *r, size_t i)
{
	const struct expect_outcome *oc = expect_outcome(r->engine);
	const struct expect_step_result *s = i != SIZE_MAX ? step_of(r, i) : NULL;
	const char *pat = s ? s->pattern : "";
	struct it_error why = IT_ERROR_INIT;

	switch (oc->why) {
	case EXPECT_WHY_FAIL_PATTERN:
		out_puts(o, "fail pattern \"");
		out_esc(o, ESC_TERM, oc->fail_pattern);
		out_puts(o, "\"");
		if (oc->fail_where[0]) {
			out_puts(o, " (");
			out_esc(o, ESC_TERM, oc->fail_where);
			out_puts(o, ")");
		}
		if (!r->untimed) {
			out_puts(o, " matched at ");
			out_secs1(o, oc->at_ms);
		} else {
			out_puts(o, " matched");
		}
		out_puts(o, ": '");
		put_term_str(o, oc->line, LAST_LINE_COLS);
		out_puts(o, "'");
		return;
	case EXPECT_WHY_STEP_TIMEOUT:
		out_puts(o, "no match for \"");
		out_esc(o, ESC_TERM, pat);
		out_puts(o, "\" within ");
		out_duration(o, s ? s->timeout_ms : 0);
		break;
	case EXPECT_WHY_RUN_TIMEOUT:
		out_puts(o, "no match for \"");
		out_esc(o, ESC_TERM, pat);
		out_puts(o, "\" when the whole-run timeout passed at ");
		out_secs1(o, oc->at_ms);
		break;
	case EXPECT_WHY_EOF:
		if (r->replay) {
			out_puts(o, "the log ended before a match for \"");
		} else {
			out_puts(o, "the console closed at ");
			out_secs1(o, oc->at_ms);
			out_puts(o, " before a match for \"");
		}
		out_esc(o, ESC_TERM, pat);
		out_puts(o, "\"");
		break;
	case EXPECT_WHY_OUTPUT_FULL:
	case EXPECT_WHY_BAD_PATTERN:
	case EXPECT_WHY_NONE:
		/* Rare cases: the engine's own words. */
		expect_explain(r->engine, &why);
		out_esc(o, ESC_TERM, why.msg[0] ? why.msg : "the run failed");
		return;
	}
	put_last_line(o, oc->line);
}

static void verdict_into(const struct run_report *r, struct out *line, struct out *hint)
{
	size_t i = blamed_step(r);
	const char *log = log_path(r);

	out_puts(line, verdict_ok(r->verdict) ? verdicts[r->verdict].title : "ERROR");
	out_puts(line, " ");
	out_esc(line, ESC_TERM, scenario_label(r));
	if (r->verdict == RUN_PASSED) {
		if (!r->untimed && r->duration_ms >= 0) {
			out_puts(line, " in ");
			out_secs1(line, r->duration_ms);
		}
		if (r->flaky)
			out_putf(line, " (flaky: passed on attempt %u)", r->attempts);
		return;
	}
	put_at_step(line, r, i);
	/* A run whose steps all passed failed a check made after it (a budget, a baseline). */
	if (is_error_verdict(r->verdict) || !r->engine ||
	    expect_state(r->engine) == EXPECT_RUNNING || expect_state(r->engine) == EXPECT_PASSED) {
		out_puts(line, ": ");
		out_esc(line, ESC_TERM,
			r->error.msg[0] ? r->error.msg : it_strerror(r->error.code));
		if (r->error.hint[0]) {
			out_esc(hint, ESC_TERM, r->error.hint);
			return;
		}
	} else {
		out_puts(line, ": ");
		put_failure_detail(line, r, i);
	}
	/* Only a console that showed something is worth pointing at. */
	if (log && (r->replay || r->first_byte_ms >= 0)) {
		out_puts(hint, "see the console log: ");
		out_esc(hint, ESC_TERM, log);
	}
}

int run_report_verdict_line(const struct run_report *r, struct buf *line, struct buf *hint)
{
	struct out l = {line, 0}, h = {hint, 0};

	verdict_into(r, &l, &h);
	return l.err ? l.err : h.err;
}

/* ---- the table ---------------------------------------------------------------------------- */

static void put_colored(struct out *o, bool color, const char *c, const char *text)
{
	if (color)
		out_puts(o, c);
	out_puts(o, text);
	if (color)
		out_puts(o, C_RESET);
}

/* The line column of step i: the match, the text sent, or what was missing. */
static void put_step_line(struct out *o, const struct run_report *r, size_t i, size_t max)
{
	const struct expect_step_result *s = step_of(r, i);
	enum shown_status st = status_of(r, i);
	const struct expect_outcome *oc = expect_outcome(r->engine);
	struct buf tmp;
	struct out t;

	if (s->kind == EXPECT_KIND_SEND) {
		size_t n = strlen(s->pattern);

		if (n > 0 && s->pattern[n - 1] == '\n')
			n--; /* the Enter of 'send TEXT' goes without saying */
		buf_init(&tmp, 0);
		t = (struct out){&tmp, 0};
		out_puts(&t, "> ");
		out_esc_n(&t, ESC_TERM, s->pattern, n);
		if (!t.err)
			put_term(o, tmp.data, tmp.len, max);
		else if (!o->err)
			o->err = t.err;
		buf_release(&tmp);
		return;
	}
	if (st == SHOWN_OK) {
		put_term_str(o, s->line, max);
		return;
	}
	if ((st == SHOWN_FAIL || st == SHOWN_TIMEOUT) && oc->why == EXPECT_WHY_FAIL_PATTERN) {
		put_term_str(o, oc->line, max);
		return;
	}
	if (st == SHOWN_SKIPPED)
		return;
	buf_init(&tmp, 0);
	t = (struct out){&tmp, 0};
	out_puts(&t, "no match for \"");
	out_puts(&t, s->pattern);
	out_puts(&t, "\"");
	if (!t.err)
		put_term(o, tmp.data, tmp.len, max);
	else if (!o->err)
		o->err = t.err;
	buf_release(&tmp);
}

static void put_time_cell(struct out *o, const struct run_report *r, size_t i)
{
	int64_t at = step_end(r, i);
	char v[32];

	if (r->untimed || at < 0)
		snprintf(v, sizeof(v), "-");
	else
		snprintf(v, sizeof(v), "%lld.%03llds", (long long)(at / 1000),
			 (long long)(at % 1000));
	out_putf(o, "%9s", v);
}

static void put_table(struct out *o, const struct run_report *r, const struct report_text_opts *opt)
{
	size_t n = nsteps_of(r), nw = 4, width = opt->width ? opt->width : DEFAULT_WIDTH, room;

	for (size_t i = 0; i < n; i++) {
		size_t c = cols_of(step_of(r, i)->name, strlen(step_of(r, i)->name));

		if (c > nw)
			nw = c;
	}
	if (nw > NAME_COLS_MAX)
		nw = NAME_COLS_MAX;
	/* name, 2, status (7), 2, time (9), 2, line */
	room = width > nw + 22 + MIN_LINE_COLS ? width - nw - 22 : MIN_LINE_COLS;
	if (n == 0)
		return;
	out_puts(o, "STEP");
	out_pad(o, nw - 4 + 2);
	out_puts(o, "STATUS        TIME  LINE\n");
	for (size_t i = 0; i < n; i++) {
		const struct expect_step_result *s = step_of(r, i);
		enum shown_status st = status_of(r, i);
		size_t before = o->b->len;

		put_term_str(o, s->name, nw);
		out_pad(o,
			nw + 2 - (o->err ? 0 : cols_of(o->b->data + before, o->b->len - before)));
		put_colored(o, opt->color, shown[st].color, shown[st].label);
		out_pad(o, 7 - strlen(shown[st].label) + 2);
		put_time_cell(o, r, i);
		if (st != SHOWN_SKIPPED || s->kind == EXPECT_KIND_SEND) {
			size_t mark = o->b->len;

			out_puts(o, "  ");
			put_step_line(o, r, i, room);
			if (!o->err && o->b->len == mark + 2)
				o->b->len = mark; /* nothing to show: no trailing blanks */
			if (!o->err)
				o->b->data[o->b->len] = '\0';
		}
		out_puts(o, "\n");
	}
}

int run_report_text(const struct run_report *r, const struct report_text_opts *opt, struct buf *out)
{
	struct report_text_opts def = {0, false, false};
	struct out o = {out, 0};
	struct buf line, hint;
	int err;

	if (!opt)
		opt = &def;
	if (opt->quiet && r->verdict == RUN_PASSED)
		return 0;
	/* A run that failed before the console said a word has no step to show. */
	if (!opt->quiet && (engine_fed(r) || !is_error_verdict(r->verdict)))
		put_table(&o, r, opt);
	buf_init(&line, 0);
	buf_init(&hint, 0);
	err = run_report_verdict_line(r, &line, &hint);
	if (err && !o.err)
		o.err = err;
	if (!o.err) {
		/* Only the verdict word is coloured; the rest is plain text. */
		const char *title = verdict_ok(r->verdict) ? verdicts[r->verdict].title : "ERROR";
		size_t tl = strlen(title);

		put_colored(&o, opt->color, r->verdict == RUN_PASSED ? C_BOLD_GREEN : C_BOLD_RED,
			    title);
		out_put(&o, line.data + tl, line.len - tl);
		out_puts(&o, "\n");
		if (hint.len) {
			out_puts(&o, "hint: ");
			out_put(&o, hint.data, hint.len);
			out_puts(&o, "\n");
		}
	}
	buf_release(&line);
	buf_release(&hint);
	return o.err;
}

static unsigned terminal_width(int fd)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");
	long v;

	if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (c && parse_long(c, 20, 1000, &v))
		return (unsigned)v;
	return DEFAULT_WIDTH;
}

int run_report_print(const struct run_report *r, FILE *f, bool quiet)
{
	const char *nc = getenv("NO_COLOR");
	int fd = fileno(f);
	struct report_text_opts o = {terminal_width(fd), isatty(fd) && !(nc && nc[0]), quiet};
	struct buf b;
	int err;

	buf_init(&b, 0);
	err = run_report_text(r, &o, &b);
	if (!err && b.len && fwrite(b.data, 1, b.len, f) != b.len)
		err = -EIO;
	if (!err && fflush(f) != 0)
		err = -errno;
	buf_release(&b);
	return err;
}

/* ---- JUnit XML ---------------------------------------------------------------------------- */

static const char *host_of(const struct run_report *r, char *buf, size_t n)
{
	if (r->hostname && r->hostname[0])
		return r->hostname;
	if (gethostname(buf, n) == 0 && buf[0]) {
		buf[n - 1] = '\0';
		return buf;
	}
	return "localhost";
}

/* ISO 8601 in UTC: "2024-05-06T07:08:09" (JUnit: no zone) or with ".123Z" (JSON). */
static void put_wall(struct out *o, int64_t wall_ms, bool json)
{
	struct tm tm;
	time_t t = (time_t)(wall_ms / 1000);

	if (!gmtime_r(&t, &tm)) {
		o->err = o->err ? o->err : -EOVERFLOW;
		return;
	}
	out_putf(o, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (json)
		out_putf(o, ".%03dZ", (int)(wall_ms % 1000));
}

static int64_t wall_of(const struct run_report *r)
{
	struct timespec ts;

	if (r->start_wall_ms >= 0)
		return r->start_wall_ms;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The verdict line and hint as one plain string (the failure message). */
static void verdict_text(const struct run_report *r, struct out *o, bool with_hint)
{
	struct buf line, hint;
	int err;

	buf_init(&line, 0);
	buf_init(&hint, 0);
	err = run_report_verdict_line(r, &line, &hint);
	if (err && !o->err)
		o->err = err;
	out_put(o, line.data, line.len);
	if (with_hint && hint.len) {
		out_puts(o, "\nhint: ");
		out_put(o, hint.data, hint.len);
	}
	buf_release(&line);
	buf_release(&hint);
}

/* The body of a <failure>/<error>: the step, what it waited for, the last line, the hint. */
static void junit_detail(struct out *o, const struct run_report *r, size_t i)
{
	struct buf tmp;
	struct out t;

	buf_init(&tmp, 0);
	t = (struct out){&tmp, 0};
	verdict_text(r, &t, true);
	if (i != SIZE_MAX) {
		const struct expect_step_result *s = step_of(r, i);

		out_putf(&t, "\n%s: ", s->kind == EXPECT_KIND_SEND ? "text" : "pattern");
		out_puts(&t, s->pattern);
		if (s->timeout_ms > 0) {
			out_puts(&t, "\ntimeout: ");
			out_duration(&t, s->timeout_ms);
		}
	}
	if (r->engine && expect_outcome(r->engine)->line[0]) {
		out_puts(&t, "\nlast console line: ");
		out_puts(&t, expect_outcome(r->engine)->line);
	}
	if (!t.err)
		out_esc_n(o, ESC_XML_TEXT, tmp.data, tmp.len);
	else if (!o->err)
		o->err = t.err;
	buf_release(&tmp);
}

static const char *failure_type(const struct run_report *r)
{
	const struct expect_outcome *oc = r->engine ? expect_outcome(r->engine) : NULL;

	if (r->verdict == RUN_CRASHED)
		return "crash";
	if (!oc)
		return run_verdict_name(r->verdict);
	switch (oc->why) {
	case EXPECT_WHY_FAIL_PATTERN:
		return "fail-pattern";
	case EXPECT_WHY_STEP_TIMEOUT:
		return "step-timeout";
	case EXPECT_WHY_RUN_TIMEOUT:
		return "run-timeout";
	case EXPECT_WHY_EOF:
		return r->replay ? "log-ended" : "console-closed";
	case EXPECT_WHY_OUTPUT_FULL:
		return "output-full";
	case EXPECT_WHY_BAD_PATTERN:
		return "bad-pattern";
	case EXPECT_WHY_NONE:
		break;
	}
	return run_verdict_name(r->verdict);
}

/* <failure> or <error> with its message and detail. */
static void junit_problem(struct out *o, const struct run_report *r, size_t i)
{
	bool error = is_error_verdict(r->verdict);
	struct buf msg;
	struct out m;

	buf_init(&msg, 0);
	m = (struct out){&msg, 0};
	verdict_text(r, &m, false);
	if (m.err && !o->err)
		o->err = m.err;
	out_putf(o, "      <%s", error ? "error" : "failure");
	out_xml_attr(o, ESC_XML_ATTR_APOS, "type",
		     error ? run_verdict_name(r->verdict) : failure_type(r));
	out_xml_attr(o, ESC_XML_ATTR_APOS, "message", msg.data);
	out_puts(o, ">");
	junit_detail(o, r, i);
	out_putf(o, "</%s>\n", error ? "error" : "failure");
	buf_release(&msg);
}

static void junit_testcase_open(struct out *o, const struct run_report *r, const char *name,
				int64_t ms)
{
	out_puts(o, "    <testcase");
	out_xml_attr(o, ESC_XML_ATTR_APOS, "name", name);
	out_xml_attr(o, ESC_XML_ATTR_APOS, "classname", scenario_label(r));
	out_puts(o, " time=\"");
	out_secs3(o, r->untimed ? 0 : ms);
	out_puts(o, "\"");
}

static void junit_suite(struct out *o, const struct run_report *r, size_t id)
{
	size_t n = nsteps_of(r), blamed = blamed_step(r), failures = 0, errors = 0, skipped = 0;
	bool attached = r->verdict == RUN_PASSED || blamed != SIZE_MAX;
	char host[256], num[32];

	for (size_t i = 0; i < n; i++) {
		enum shown_status st = status_of(r, i);

		failures += st == SHOWN_FAIL || st == SHOWN_TIMEOUT;
		errors += st == SHOWN_ERROR;
		skipped += st == SHOWN_SKIPPED;
	}
	if (!attached)
		*(is_error_verdict(r->verdict) ? &errors : &failures) += 1;

	out_puts(o, "  <testsuite");
	out_xml_attr(o, ESC_XML_ATTR_APOS, "name", scenario_label(r));
	out_puts(o, " package=\"initrd-test\"");
	out_putf(o, " id=\"%zu\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"", id,
		 n + !attached, failures, errors, skipped);
	out_puts(o, " time=\"");
	out_secs3(o, r->untimed ? 0 : r->duration_ms);
	out_puts(o, "\" timestamp=\"");
	put_wall(o, wall_of(r), false);
	out_puts(o, "\"");
	out_xml_attr(o, ESC_XML_ATTR_APOS, "hostname", host_of(r, host, sizeof(host)));
	out_puts(o, ">\n    <properties>\n");
	out_xml_property(o, ESC_XML_ATTR_APOS, "scenario", r->scenario_path);
	out_xml_property(o, ESC_XML_ATTR_APOS, "verdict", run_verdict_name(r->verdict));
	out_xml_property(o, ESC_XML_ATTR_APOS, "backend", r->backend);
	out_xml_property(o, ESC_XML_ATTR_APOS, "accel", r->accel);
	out_xml_property(o, ESC_XML_ATTR_APOS, "command", r->command);
	out_xml_property(o, ESC_XML_ATTR_APOS, "console.raw", r->console_raw);
	out_xml_property(o, ESC_XML_ATTR_APOS, "console.log", r->console_log);
	if (r->first_byte_ms >= 0 && !r->untimed) {
		snprintf(num, sizeof(num), "%lld", (long long)r->first_byte_ms);
		out_xml_property(o, ESC_XML_ATTR_APOS, "first_console_byte_ms", num);
	}
	if (r->attempts > 1) {
		snprintf(num, sizeof(num), "%u", r->attempts);
		out_xml_property(o, ESC_XML_ATTR_APOS, "attempts", num);
		out_xml_property(o, ESC_XML_ATTR_APOS, "flaky", r->flaky ? "true" : "false");
	}
	out_puts(o, "    </properties>\n");

	for (size_t i = 0; i < n; i++) {
		const struct expect_step_result *s = step_of(r, i);
		enum shown_status st = status_of(r, i);

		junit_testcase_open(o, r, s->name, step_duration(r, i));
		if (st == SHOWN_OK) {
			out_puts(o, "/>\n");
			continue;
		}
		out_puts(o, ">\n");
		if (st == SHOWN_SKIPPED) {
			out_puts(o, "      <skipped");
			out_xml_attr(o, ESC_XML_ATTR_APOS, "message",
				     "not reached: the run ended before this step");
			out_puts(o, "/>\n");
		} else {
			junit_problem(o, r, i);
		}
		out_puts(o, "    </testcase>\n");
	}
	if (!attached) {
		/* Nothing to hang the problem on (no engine yet, or between steps). */
		junit_testcase_open(o, r, "run", r->duration_ms);
		out_puts(o, ">\n");
		junit_problem(o, r, SIZE_MAX);
		out_puts(o, "    </testcase>\n");
	}
	out_puts(o, "    <system-out>");
	out_esc(o, ESC_XML_TEXT, r->console_tail);
	out_puts(o, "</system-out>\n    <system-err>");
	if (r->error.code) {
		out_esc(o, ESC_XML_TEXT, r->error.msg);
		if (r->error.hint[0]) {
			out_puts(o, "\nhint: ");
			out_esc(o, ESC_XML_TEXT, r->error.hint);
		}
	}
	out_puts(o, "</system-err>\n  </testsuite>\n");
}

int run_report_junit(const struct run_report *const *runs, size_t n, struct buf *out)
{
	struct out o = {out, 0};

	out_puts(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	for (size_t i = 0; i < n; i++)
		junit_suite(&o, runs[i], i);
	out_puts(&o, "</testsuites>\n");
	return o.err;
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void json_str(struct out *o, const char *s)
{
	if (!s) {
		out_puts(o, "null");
		return;
	}
	out_puts(o, "\"");
	out_esc(o, ESC_JSON, s);
	out_puts(o, "\"");
}

static void json_key(struct out *o, int indent, const char *key, bool *first)
{
	out_puts(o, *first ? "\n" : ",\n");
	*first = false;
	out_pad(o, (size_t)indent);
	json_str(o, key);
	out_puts(o, ": ");
}

static void json_kv_str(struct out *o, int indent, const char *key, const char *v, bool *first)
{
	json_key(o, indent, key, first);
	json_str(o, v);
}

/* A number, or null when negative (unknown). */
static void json_kv_ms(struct out *o, int indent, const char *key, int64_t v, bool *first)
{
	json_key(o, indent, key, first);
	if (v < 0)
		out_puts(o, "null");
	else
		out_putf(o, "%lld", (long long)v);
}

static void json_kv_u64(struct out *o, int indent, const char *key, uint64_t v, bool *first)
{
	json_key(o, indent, key, first);
	out_putf(o, "%llu", (unsigned long long)v);
}

static void json_kv_bool(struct out *o, int indent, const char *key, bool v, bool *first)
{
	json_key(o, indent, key, first);
	out_puts(o, v ? "true" : "false");
}

static void json_close(struct out *o, int indent, char c, bool empty)
{
	if (!empty) {
		out_puts(o, "\n");
		out_pad(o, (size_t)indent);
	}
	out_put(o, &c, 1);
}

static const char *const state_names[] = {
    [EXPECT_RUNNING] = "running",
    [EXPECT_PASSED] = "passed",
    [EXPECT_FAILED] = "failed",
    [EXPECT_TIMED_OUT] = "timed_out",
};

static const char *const why_names[] = {
    [EXPECT_WHY_NONE] = "none",
    [EXPECT_WHY_FAIL_PATTERN] = "fail_pattern",
    [EXPECT_WHY_STEP_TIMEOUT] = "step_timeout",
    [EXPECT_WHY_RUN_TIMEOUT] = "run_timeout",
    [EXPECT_WHY_EOF] = "eof",
    [EXPECT_WHY_OUTPUT_FULL] = "output_full",
    [EXPECT_WHY_BAD_PATTERN] = "bad_pattern",
};

static const char *name_in(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

static void json_step(struct out *o, const struct run_report *r, size_t i)
{
	const struct expect_step_result *s = step_of(r, i);
	bool f = true;
	int64_t end = step_end(r, i);

	out_puts(o, "{");
	json_kv_str(o, 10, "name", s->name, &f);
	json_kv_str(o, 10, "kind", s->kind == EXPECT_KIND_SEND ? "send" : "expect", &f);
	json_kv_str(o, 10, "where", s->where[0] ? s->where : NULL, &f);
	json_kv_str(o, 10, s->kind == EXPECT_KIND_SEND ? "text" : "pattern", s->pattern, &f);
	json_kv_str(o, 10, "status", shown[status_of(r, i)].json, &f);
	json_kv_ms(o, 10, "at_ms", r->untimed ? -1 : end, &f);
	json_kv_ms(o, 10, "duration_ms", r->untimed || end < 0 ? -1 : step_duration(r, i), &f);
	json_kv_ms(o, 10, "timeout_ms", s->timeout_ms > 0 ? s->timeout_ms : -1, &f);
	if (s->kind == EXPECT_KIND_EXPECT)
		json_kv_str(o, 10, "line", s->line, &f);
	json_close(o, 8, '}', false);
}

static void json_timings(struct out *o, const struct run_report *r, bool *first)
{
	size_t n = nsteps_of(r);
	bool f = true, g = true;

	json_key(o, 6, "timings", first);
	out_puts(o, "{");
	json_kv_ms(o, 8, "first_console_byte_ms", r->untimed ? -1 : r->first_byte_ms, &f);
	json_kv_ms(o, 8, "total_ms", r->untimed ? -1 : r->duration_ms, &f);
	json_key(o, 8, "steps", &f);
	out_puts(o, "{");
	for (size_t i = 0; i < n && !r->untimed; i++) {
		const struct expect_step_result *s = step_of(r, i);

		if (s->kind == EXPECT_KIND_EXPECT && s->status == EXPECT_STEP_PASSED)
			json_kv_ms(o, 10, s->name, s->at_ms, &g);
	}
	json_close(o, 8, '}', g);
	json_close(o, 6, '}', false);
}

static void json_outcome(struct out *o, const struct run_report *r, bool *first)
{
	const struct expect_outcome *oc = expect_outcome(r->engine);
	size_t i = blamed_step(r);
	bool f = true, fp = oc->why == EXPECT_WHY_FAIL_PATTERN;

	json_key(o, 6, "outcome", first);
	out_puts(o, "{");
	json_kv_str(o, 8, "state", name_in(state_names, ARRAY_SIZE(state_names), oc->state), &f);
	json_kv_str(o, 8, "why", name_in(why_names, ARRAY_SIZE(why_names), oc->why), &f);
	json_kv_str(o, 8, "step", i != SIZE_MAX ? step_of(r, i)->name : NULL, &f);
	json_kv_ms(o, 8, "at_ms", r->untimed ? -1 : oc->at_ms, &f);
	json_kv_str(o, 8, "fail_pattern", fp ? oc->fail_pattern : NULL, &f);
	json_kv_str(o, 8, "fail_where", fp ? oc->fail_where : NULL, &f);
	json_kv_str(o, 8, "line", oc->line[0] ? oc->line : NULL, &f);
	json_close(o, 6, '}', false);
}

static void json_stats(struct out *o, const struct run_report *r, bool *first)
{
	struct expect_stats st;
	bool f = true;

	expect_get_stats(r->engine, &st);
	json_key(o, 6, "stats", first);
	out_puts(o, "{");
	json_kv_u64(o, 8, "bytes_in", st.bytes_in, &f);
	json_kv_u64(o, 8, "lines", st.lines, &f);
	json_kv_u64(o, 8, "bytes_out", st.bytes_out, &f);
	json_kv_u64(o, 8, "dsr_answered", st.dsr_answered, &f);
	json_kv_u64(o, 8, "lines_cut", st.lines_cut, &f);
	json_kv_u64(o, 8, "match_errors", st.match_errors, &f);
	json_close(o, 6, '}', false);
}

static void json_run(struct out *o, const struct run_report *r)
{
	size_t n = nsteps_of(r);
	struct buf line, hint;
	char host[256];
	bool f = true, g = true;

	buf_init(&line, 0);
	buf_init(&hint, 0);
	if (run_report_verdict_line(r, &line, &hint) < 0 && !o->err)
		o->err = -ENOMEM;
	out_puts(o, "{");
	json_kv_str(o, 6, "scenario", scenario_label(r), &f);
	json_kv_str(o, 6, "path", r->scenario_path, &f);
	json_kv_str(o, 6, "verdict", run_verdict_name(r->verdict), &f);
	json_key(o, 6, "exit_code", &f);
	out_putf(o, "%d", run_verdict_exit(r->verdict));
	if (r->attempts > 1) {
		json_key(o, 6, "attempts", &f);
		out_putf(o, "%u", r->attempts);
		json_kv_bool(o, 6, "flaky", r->flaky, &f);
	}
	json_kv_str(o, 6, "message", line.data, &f);
	json_kv_str(o, 6, "hint", hint.len ? hint.data : NULL, &f);
	json_key(o, 6, "error", &f);
	if (r->error.code) {
		bool e = true;

		out_puts(o, "{");
		json_kv_str(o, 8, "message", r->error.msg, &e);
		json_kv_str(o, 8, "hint", r->error.hint[0] ? r->error.hint : NULL, &e);
		json_close(o, 6, '}', false);
	} else {
		out_puts(o, "null");
	}
	json_kv_str(o, 6, "backend", r->backend, &f);
	json_kv_str(o, 6, "accel", r->accel, &f);
	json_kv_str(o, 6, "hostname", host_of(r, host, sizeof(host)), &f);
	json_kv_bool(o, 6, "replay", r->replay, &f);
	json_kv_bool(o, 6, "timed", !r->untimed, &f);
	json_key(o, 6, "started_at", &f);
	if (r->start_wall_ms >= 0) {
		out_puts(o, "\"");
		put_wall(o, r->start_wall_ms, true);
		out_puts(o, "\"");
	} else {
		out_puts(o, "null");
	}
	json_kv_ms(o, 6, "started_at_ms", r->start_wall_ms, &f);
	json_kv_str(o, 6, "command", r->command, &f);
	json_key(o, 6, "console", &f);
	out_puts(o, "{");
	json_kv_str(o, 8, "raw", r->console_raw, &g);
	json_kv_str(o, 8, "log", r->console_log, &g);
	json_close(o, 6, '}', false);
	json_timings(o, r, &f);
	json_key(o, 6, "steps", &f);
	out_puts(o, "[");
	for (size_t i = 0; i < n; i++) {
		out_puts(o, i ? ",\n        " : "\n        ");
		json_step(o, r, i);
	}
	json_close(o, 6, ']', n == 0);
	if (r->engine) {
		json_outcome(o, r, &f);
		json_stats(o, r, &f);
	} else {
		json_key(o, 6, "outcome", &f);
		out_puts(o, "null");
		json_key(o, 6, "stats", &f);
		out_puts(o, "null");
	}
	json_kv_str(o, 6, "console_tail", r->console_tail, &f);
	json_close(o, 4, '}', false);
	buf_release(&line);
	buf_release(&hint);
}

int run_report_json(const struct run_report *const *runs, size_t n, struct buf *out)
{
	struct out o = {out, 0};

	out_puts(&o, "{\n  \"format\": \"initrd-test-report\",\n  \"version\": 1,\n  \"runs\": [");
	for (size_t i = 0; i < n; i++) {
		out_puts(&o, i ? ",\n    " : "\n    ");
		json_run(&o, runs[i]);
	}
	json_close(&o, 2, ']', n == 0);
	out_puts(&o, "\n}\n");
	return o.err;
}

/* ---- files -------------------------------------------------------------------------------- */

typedef int (*format_fn)(const struct run_report *const *runs, size_t n, struct buf *out);

static int write_format(format_fn fn, const char *what, const struct run_report *const *runs,
			size_t n, const char *path, struct it_error *err)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = fn(runs, n, &b);
	if (r < 0) {
		it_error_set(err, r, "cannot format the %s report '%s': %s", what, path,
			     it_strerror(r));
		goto out;
	}
	r = write_file_atomic(path, b.data, b.len, 0644);
	if (r < 0) {
		it_error_set(err, r, "cannot write %s report '%s': %s", what, path, strerror(-r));
		it_error_hint(err, "check that its directory exists and is writable");
	}
out:
	buf_release(&b);
	return r;
}

int run_report_write_junit(const struct run_report *const *runs, size_t n, const char *path,
			   struct it_error *err)
{
	return write_format(run_report_junit, "JUnit", runs, n, path, err);
}

int run_report_write_json(const struct run_report *const *runs, size_t n, const char *path,
			  struct it_error *err)
{
	return write_format(run_report_json, "JSON", runs, n, path, err);
}
