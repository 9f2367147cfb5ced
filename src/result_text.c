// SPDX-License-Identifier: MIT
/* Results for people: the verdict line, the step table, and a set's summary and totals. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/util.h"
#include "src/out.h"
#include "src/result.h"

#define NAME_COLS_MAX 20   /* widest step-name column in the table */
#define MIN_LINE_COLS 16   /* the line column never gets narrower than this */
#define LAST_LINE_COLS 200 /* the last console line quoted in a verdict */
#define DEFAULT_WIDTH 80

#define C_RESET "\033[0m"
#define C_GREEN "\033[32m"
#define C_BOLD_GREEN "\033[1;32m"
#define C_BOLD_RED "\033[1;31m"
#define C_DIM "\033[2m"

static const struct {
	const char *label;
	const char *color;
} shown[] = {
    [RESULT_STEP_PASSED] = {"ok", C_GREEN},
    [RESULT_STEP_FAILED] = {"FAIL", C_BOLD_RED},
    [RESULT_STEP_TIMED_OUT] = {"TIMEOUT", C_BOLD_RED},
    [RESULT_STEP_ERROR] = {"ERROR", C_BOLD_RED},
    [RESULT_STEP_SKIPPED] = {"skipped", C_DIM},
};

/* ---- printable text ----------------------------------------------------------------------- */

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
	size_t i = 0, c = 0;

	buf_init(&tmp, 0);
	t = (struct out){&tmp, 0};
	out_esc_n(&t, ESC_TERM, s, n);
	if (t.err) {
		o->err = o->err ? o->err : t.err;
		buf_release(&tmp);
		return;
	}
	if (max == 0 || cols_of(tmp.data, tmp.len) <= max) {
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

static const char *scenario_label(const struct result_run *r)
{
	if (r->scenario && r->scenario[0])
		return r->scenario;
	if (r->path && r->path[0])
		return r->path;
	return "scenario";
}

static const char *log_path(const struct result_run *r)
{
	if (r->console_log && r->console_log[0])
		return r->console_log;
	if (r->console_raw && r->console_raw[0])
		return r->console_raw;
	return NULL;
}

static const struct result_step *blamed_of(const struct result_run *r)
{
	return r->blamed < r->nsteps ? &r->steps[r->blamed] : NULL;
}

/* ---- the verdict -------------------------------------------------------------------------- */

/* The agent class, at an agent-ready step that timed out rather than lost its agent. */
static bool never_started(const struct result_run *r)
{
	const struct result_step *s = r->blamed < r->nsteps ? &r->steps[r->blamed] : NULL;

	if (!s || s->kind != RESULT_STEP_AGENT || !s->action || strcmp(s->action, "agent-ready"))
		return false;
	return !(r->blamed < r->nnotes && r->notes[r->blamed].lost);
}

static void put_at_step(struct out *o, const struct result_step *s)
{
	if (!s)
		return;
	out_puts(o, " at step '");
	out_esc(o, ESC_TERM, s->name);
	out_puts(o, "'");
	if (s->where) {
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

static void put_fail_pattern(struct out *o, const struct result_run *r)
{
	const struct result_outcome *oc = &r->outcome;

	out_puts(o, "fail pattern \"");
	out_esc(o, ESC_TERM, oc->fail_pattern);
	out_puts(o, "\"");
	if (oc->fail_where && oc->fail_where[0]) {
		out_puts(o, " (");
		out_esc(o, ESC_TERM, oc->fail_where);
		out_puts(o, ")");
	}
	if (r->timed) {
		out_puts(o, " matched at ");
		out_secs1(o, oc->at_ms);
	} else {
		out_puts(o, " matched");
	}
	out_puts(o, ": '");
	put_term_str(o, oc->line, LAST_LINE_COLS);
	out_puts(o, "'");
}

/* What went wrong at the blamed step, from the outcome. */
static void put_failure_detail(struct out *o, const struct result_run *r)
{
	const struct result_outcome *oc = &r->outcome;
	const struct result_step *s = blamed_of(r);
	const char *pat = s && s->pattern ? s->pattern : "";

	switch (oc->why) {
	case RESULT_WHY_FAIL_PATTERN:
		put_fail_pattern(o, r);
		return;
	case RESULT_WHY_EXTERNAL:
		out_esc(o, ESC_TERM, oc->line ? oc->line : "the step failed");
		return;
	case RESULT_WHY_AGENT:
		if (s && never_started(r)) {
			out_puts(o,
				 "the guest agent did not start: no hello on its channel within ");
			out_duration(o, s->timeout_ms > 0 ? s->timeout_ms : 0);
			break;
		}
		out_puts(o, "the guest agent was lost: ");
		out_esc(o, ESC_TERM, oc->line ? oc->line : "its channel failed");
		return;
	case RESULT_WHY_STEP_TIMEOUT:
		if (s && s->kind == RESULT_STEP_AGENT) {
			out_putf(o, "%s \"", s->action ? s->action : "the agent's step");
			out_esc(o, ESC_TERM, pat);
			out_puts(o, "\" did not finish within ");
			out_duration(o, s->timeout_ms > 0 ? s->timeout_ms : 0);
			break;
		}
		out_puts(o, "no match for \"");
		out_esc(o, ESC_TERM, pat);
		out_puts(o, "\" within ");
		out_duration(o, s && s->timeout_ms > 0 ? s->timeout_ms : 0);
		break;
	case RESULT_WHY_RUN_TIMEOUT:
		out_puts(o, "no match for \"");
		out_esc(o, ESC_TERM, pat);
		out_puts(o, "\" when the whole-run timeout passed at ");
		out_secs1(o, oc->at_ms);
		break;
	case RESULT_WHY_EOF:
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
	default:
		/* Rare cases: the engine's own words. */
		out_esc(o, ESC_TERM, oc->detail ? oc->detail : "the run failed");
		return;
	}
	put_last_line(o, oc->line);
}

/* A run whose steps never decided it: an error, or a check made after the run. */
static bool decided_by_error(const struct result_run *r)
{
	return verdict_is_error(r->verdict) || !r->outcome.present ||
	       r->outcome.state == RESULT_STATE_RUNNING || r->outcome.state == RESULT_STATE_PASSED;
}

static void verdict_into(const struct result_run *r, struct out *line, struct out *hint)
{
	const char *log = log_path(r);

	out_puts(line, verdict_title(r->verdict));
	out_puts(line, " ");
	out_esc(line, ESC_TERM, scenario_label(r));
	if (r->verdict == RUN_PASSED) {
		if (r->timed && r->total_ms >= 0) {
			out_puts(line, " in ");
			out_secs1(line, r->total_ms);
		}
		if (r->flaky)
			out_putf(line, " (flaky: passed on attempt %u)", r->attempts);
		return;
	}
	put_at_step(line, blamed_of(r));
	out_puts(line, ": ");
	if (decided_by_error(r)) {
		out_esc(line, ESC_TERM,
			r->error.msg[0] ? r->error.msg : it_strerror(r->error.code));
		if (r->error.hint[0]) {
			out_esc(hint, ESC_TERM, r->error.hint);
			return;
		}
	} else {
		put_failure_detail(line, r);
	}
	/* Only a console that showed something is worth pointing at. */
	if (log && (r->replay || r->first_byte_ms >= 0)) {
		out_puts(hint, "see the console log: ");
		out_esc(hint, ESC_TERM, log);
	}
}

int result_verdict_line(const struct result_run *r, struct buf *line, struct buf *hint)
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

/* prefix, s (escaped first when 'escape'; n bytes) and suffix, cut to max columns as a whole. */
static void put_cut(struct out *o, const char *prefix, const char *s, size_t n, bool escape,
		    const char *suffix, size_t max)
{
	struct buf tmp;
	struct out t;

	buf_init(&tmp, 0);
	t = (struct out){&tmp, 0};
	out_puts(&t, prefix);
	if (escape)
		out_esc_n(&t, ESC_TERM, s, n);
	else
		out_put(&t, s, n);
	out_puts(&t, suffix);
	if (!t.err)
		put_term(o, tmp.data, tmp.len, max);
	else if (!o->err)
		o->err = t.err;
	buf_release(&tmp);
}

/* The line column of a step: the match, the text sent, or what was missing. */
static void put_step_line(struct out *o, const struct result_run *r, const struct result_step *s,
			  size_t max)
{
	const char *pat = s->pattern ? s->pattern : "";
	size_t n = strlen(pat);

	if (s->kind == RESULT_STEP_SEND) {
		if (n > 0 && pat[n - 1] == '\n')
			n--; /* the Enter of 'send TEXT' goes without saying */
		put_cut(o, "> ", pat, n, true, "", max);
		return;
	}
	if (s->status == RESULT_STEP_PASSED) {
		put_term_str(o, s->line, max);
		return;
	}
	if (s->kind == RESULT_STEP_AGENT && s->status == RESULT_STEP_FAILED && never_started(r) &&
	    r->outcome.why == RESULT_WHY_AGENT) {
		put_term_str(o, "no hello from the guest agent", max);
		return;
	}
	if (s->kind == RESULT_STEP_AGENT && s->status == RESULT_STEP_FAILED &&
	    (r->outcome.why == RESULT_WHY_EXTERNAL || r->outcome.why == RESULT_WHY_AGENT)) {
		put_term_str(o, r->outcome.line, max);
		return;
	}
	if (s->status == RESULT_STEP_SKIPPED)
		return;
	if ((s->status == RESULT_STEP_FAILED || s->status == RESULT_STEP_TIMED_OUT) &&
	    r->outcome.why == RESULT_WHY_FAIL_PATTERN) {
		put_term_str(o, r->outcome.line, max);
		return;
	}
	if (s->kind == RESULT_STEP_AGENT) {
		put_cut(o, "did not finish: ", pat, n, true, "", max);
		return;
	}
	put_cut(o, "no match for \"", pat, n, false, "\"", max);
}

static void put_time_cell(struct out *o, const struct result_run *r, const struct result_step *s)
{
	char v[32];

	if (!r->timed || s->at_ms < 0)
		snprintf(v, sizeof(v), "-");
	else
		snprintf(v, sizeof(v), "%lld.%03llds", (long long)(s->at_ms / 1000),
			 (long long)(s->at_ms % 1000));
	out_putf(o, "%9s", v);
}

static size_t name_width(const struct result_run *r)
{
	size_t nw = 4;

	for (size_t i = 0; i < r->nsteps; i++) {
		size_t c = cols_of(r->steps[i].name, strlen(r->steps[i].name));

		if (c > nw)
			nw = c;
	}
	return nw > NAME_COLS_MAX ? NAME_COLS_MAX : nw;
}

static void put_row(struct out *o, const struct result_run *r, const struct result_step *s,
		    const struct result_text_opts *opt, size_t nw, size_t room)
{
	size_t before = o->b->len;

	put_term_str(o, s->name, nw);
	out_pad(o, nw + 2 - (o->err ? 0 : cols_of(o->b->data + before, o->b->len - before)));
	put_colored(o, opt->color, shown[s->status].color, shown[s->status].label);
	out_pad(o, 7 - strlen(shown[s->status].label) + 2);
	put_time_cell(o, r, s);
	if (s->status != RESULT_STEP_SKIPPED || s->kind == RESULT_STEP_SEND) {
		size_t mark = o->b->len;

		out_puts(o, "  ");
		put_step_line(o, r, s, room);
		if (!o->err && o->b->len == mark + 2)
			o->b->len = mark; /* nothing to show: no trailing blanks */
		if (!o->err)
			o->b->data[o->b->len] = '\0';
	}
	out_puts(o, "\n");
}

static void put_table(struct out *o, const struct result_run *r, const struct result_text_opts *opt)
{
	size_t nw = name_width(r), width = opt->width ? opt->width : DEFAULT_WIDTH, room;

	/* name, 2, status (7), 2, time (9), 2, line */
	room = width > nw + 22 + MIN_LINE_COLS ? width - nw - 22 : MIN_LINE_COLS;
	if (r->nsteps == 0)
		return;
	out_puts(o, "STEP");
	out_pad(o, nw - 4 + 2);
	out_puts(o, "STATUS        TIME  LINE\n");
	for (size_t i = 0; i < r->nsteps; i++)
		put_row(o, r, &r->steps[i], opt, nw, room);
}

int result_text(const struct result_run *r, const struct result_text_opts *opt, struct buf *out)
{
	struct result_text_opts def = {0, false, false};
	struct out o = {out, 0};
	struct buf line, hint;
	const char *title = verdict_title(r->verdict);
	bool fed = r->stats.present && r->stats.bytes_in > 0;
	int err;

	if (!opt)
		opt = &def;
	if (opt->quiet && r->verdict == RUN_PASSED)
		return 0;
	/* A run that failed before the console said a word has no step to show. */
	if (!opt->quiet && (fed || !verdict_is_error(r->verdict)))
		put_table(&o, r, opt);
	if (!opt->quiet && r->checkpoint.note && r->checkpoint.restore_ms >= 0)
		out_putf(&o, "checkpoint: %s in %.2fs\n", r->checkpoint.note,
			 (double)r->checkpoint.restore_ms / 1000);
	else if (!opt->quiet && r->checkpoint.note)
		out_putf(&o, "checkpoint: %s\n", r->checkpoint.note);
	buf_init(&line, 0);
	buf_init(&hint, 0);
	err = result_verdict_line(r, &line, &hint);
	if (err && !o.err)
		o.err = err;
	if (!o.err) {
		/* Only the verdict word is coloured; the rest is plain text. */
		put_colored(&o, opt->color, r->verdict == RUN_PASSED ? C_BOLD_GREEN : C_BOLD_RED,
			    title);
		out_put(&o, line.data + strlen(title), line.len - strlen(title));
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

int result_print(const struct result_run *r, FILE *f, bool quiet)
{
	const char *nc = getenv("NO_COLOR");
	int fd = fileno(f);
	struct result_text_opts o = {terminal_width(fd), isatty(fd) && !(nc && nc[0]), quiet};
	struct buf b;
	int err;

	buf_init(&b, 0);
	err = result_text(r, &o, &b);
	if (!err && b.len && fwrite(b.data, 1, b.len, f) != b.len)
		err = -EIO;
	if (!err && fflush(f) != 0)
		err = -errno;
	buf_release(&b);
	return err;
}

/* ---- a set of runs ------------------------------------------------------------------------ */

static void put_count(struct out *o, unsigned long n, const char *one, const char *many)
{
	if (n)
		out_putf(o, ", %lu %s", n, n == 1 ? one : many);
}

int result_set_totals(const struct result_set *s, struct buf *out)
{
	struct out o = {out, 0};
	unsigned long c[RUN_VERDICT_MAX], flaky;

	result_set_count(s, c, &flaky);
	out_putf(&o, "%zu scenario%s: %lu passed", s->n, s->n == 1 ? "" : "s", c[RUN_PASSED]);
	if (flaky)
		out_putf(&o, " (%lu flaky)", flaky);
	put_count(&o, c[RUN_FAILED], "failed", "failed");
	put_count(&o, c[RUN_CRASHED], "crashed", "crashed");
	put_count(&o, c[RUN_TIMED_OUT], "timed out", "timed out");
	put_count(&o, c[RUN_INFRA_ERROR], "infrastructure error", "infrastructure errors");
	put_count(&o, c[RUN_USAGE_ERROR], "usage error", "usage errors");
	put_count(&o, c[RUN_INTERRUPTED], "interrupted", "interrupted");
	return o.err;
}

int result_set_summary(const struct result_set *s, bool failures_only, struct buf *out)
{
	struct out o = {out, 0};
	int ret;

	for (size_t i = 0; i < s->n; i++) {
		const struct result_run *r = &s->runs[i];
		bool passed = r->verdict == RUN_PASSED;

		if (failures_only && passed)
			continue;
		if (r->message)
			out_puts(&o, r->message);
		else
			out_putf(&o, "%s %s", verdict_name(r->verdict), scenario_label(r));
		if (r->flaky && (!r->message || !strstr(r->message, "flaky")))
			out_puts(&o, " (flaky)");
		out_puts(&o, "\n");
		if (passed)
			continue;
		if (r->hint)
			out_putf(&o, "  hint: %s\n", r->hint);
		if (r->artifacts)
			out_putf(&o, "  artifacts: %s\n", r->artifacts);
	}
	if (o.err)
		return o.err;
	ret = result_set_totals(s, out);
	if (ret == 0)
		ret = buf_addch(out, '\n');
	return ret;
}
