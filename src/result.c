// SPDX-License-Identifier: MIT
/* The result model: a run's fields, and how a finished engine settles them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "expect/crash.h"
#include "expect/expect.h"
#include "src/result.h"

/* ---- the run ------------------------------------------------------------------------------ */

void result_run_init(struct result_run *r)
{
	memset(r, 0, sizeof(*r));
	r->timed = true;
	r->started_at_ms = -1;
	r->first_byte_ms = -1;
	r->total_ms = -1;
	r->blamed = SIZE_MAX;
	r->outcome.at_ms = -1;
	r->checkpoint.restore_ms = -1;
}

static void step_release(struct result_step *s)
{
	free(s->name);
	free(s->where);
	free(s->pattern);
	free(s->line);
	free(s->action);
	free(s->out_text);
	free(s->err_text);
}

static void notes_release(struct result_run *r)
{
	for (size_t i = 0; i < r->nnotes; i++) {
		free(r->notes[i].action);
		free(r->notes[i].out_text);
		free(r->notes[i].err_text);
	}
	free(r->notes);
	r->notes = NULL;
	r->nnotes = 0;
}

/* The text of b (cut to RESULT_OUTPUT_MAX, never mid-way through a UTF-8 sequence), or NULL. */
/* The text cut to RESULT_OUTPUT_MAX (not inside a UTF-8 sequence), with a line counting the rest.
 */
static char *cut_text(struct result_output o)
{
	struct blob b = o.text;
	size_t n = b.len;
	uint64_t left;
	char *s;

	if (!b.ptr)
		return NULL;
	if (n > RESULT_OUTPUT_MAX) {
		n = RESULT_OUTPUT_MAX;
		while (n > 0 && ((unsigned char)b.ptr[n] & 0xc0) == 0x80)
			n--;
	}
	left = (uint64_t)(b.len - n) + o.more;
	if (!left)
		return blob_dup(blob_mem(b.ptr, n));
	if (asprintf(&s, "%.*s%s[initrd-test: %llu more bytes left out]\n", (int)n, b.ptr,
		     n && b.ptr[n - 1] != '\n' ? "\n" : "", (unsigned long long)left) < 0)
		return NULL;
	return s;
}

/* The note of step i, made when there is none yet; NULL without memory. */
static struct result_note *note_of(struct result_run *r, size_t i)
{
	struct result_note *n;

	if (i >= r->nnotes) {
		n = realloc(r->notes, (i + 1) * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + r->nnotes, 0, (i + 1 - r->nnotes) * sizeof(*n));
		for (size_t k = r->nnotes; k <= i; k++)
			n[k].exit_code = -1;
		r->notes = n;
		r->nnotes = i + 1;
	}
	return &r->notes[i];
}

int result_note_step(struct result_run *r, size_t i, const char *action, int exit_code,
		     struct result_output out, struct result_output err)
{
	struct result_note *n = note_of(r, i);

	if (!n || result_setstr(&n->action, action) < 0)
		return -ENOMEM;
	n->exit_code = exit_code;
	free(n->out_text);
	free(n->err_text);
	n->out_text = cut_text(out);
	n->err_text = cut_text(err);
	if ((out.text.ptr && !n->out_text) || (err.text.ptr && !n->err_text))
		return -ENOMEM;
	return 0;
}

int result_note_lost(struct result_run *r, size_t i)
{
	struct result_note *n = note_of(r, i);

	if (!n)
		return -ENOMEM;
	n->lost = true;
	return 0;
}

static void outcome_release(struct result_outcome *o)
{
	free(o->step);
	free(o->fail_pattern);
	free(o->fail_where);
	free(o->line);
	free(o->detail);
	memset(o, 0, sizeof(*o));
	o->at_ms = -1;
}

static void clear_steps(struct result_run *r)
{
	for (size_t i = 0; i < r->nsteps; i++)
		step_release(&r->steps[i]);
	free(r->steps);
	r->steps = NULL;
	r->nsteps = 0;
	for (size_t i = 0; i < r->nmilestones; i++)
		free(r->milestones[i].name);
	free(r->milestones);
	r->milestones = NULL;
	r->nmilestones = 0;
	r->blamed = SIZE_MAX;
}

void result_run_release(struct result_run *r)
{
	char **strs[] = {&r->scenario,
			 &r->path,
			 &r->message,
			 &r->hint,
			 &r->backend,
			 &r->accel,
			 &r->hostname,
			 &r->command,
			 &r->console_raw,
			 &r->console_log,
			 &r->console_tail,
			 &r->shard,
			 &r->crash_class,
			 &r->crash_title,
			 &r->crash_report,
			 &r->crash_frames,
			 &r->artifacts,
			 &r->checkpoint.name,
			 &r->checkpoint.action,
			 &r->checkpoint.note,
			 &r->arch};

	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	clear_steps(r);
	notes_release(r);
	outcome_release(&r->outcome);
	result_run_init(r);
}

int result_setstr(char **field, const char *value)
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

int result_set_command(struct result_run *r, char *const *argv)
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
		err = result_setstr(&r->command, b.data);
	buf_release(&b);
	return err;
}

/* The end of t: whole lines (unless one line alone is too long), as few as the limits want. */
static struct blob tail_of(struct blob t)
{
	size_t start = 0, lines = 0, i;

	if (t.len > RESULT_TAIL_MAX) {
		start = t.len - RESULT_TAIL_MAX;
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
		if (++lines == RESULT_TAIL_LINES) {
			start = i;
			break;
		}
	}
	return (struct blob){t.len - start, t.ptr + start};
}

int result_set_tail(struct result_run *r, struct blob text)
{
	char *copy = blob_dup(tail_of(text));

	if (!copy)
		return -ENOMEM;
	free(r->console_tail);
	r->console_tail = copy;
	return 0;
}

/* "INDENT FRAME at FILE:LINE" for each symbolized frame ("FRAME\tFILE:LINE\n" each). */
static int add_frames(struct buf *b, const char *indent, const char *frames)
{
	struct blob rest = blob_str(frames), line, frame, source;
	int r = 0;

	while (r == 0 && blob_split(rest, '\n', &line, &rest) &&
	       blob_split(line, '\t', &frame, &source))
		r = buf_addf(b, "%s%.*s at %.*s\n", indent, (int)frame.len, frame.ptr,
			     (int)source.len, source.ptr);
	return r;
}

/*
 * The first crash in text, past the WARNINGs when they are ignored: those go to
 * 'ignored' as "  TITLE: FIRST LINE" lines, and "    RIP at FILE:LINE" when syms
 * finds it. 0 when there is none (c->cls CRASH_NONE).
 */
static int first_crash(struct blob text, bool ignore_warnings, const struct symbolize_src *syms,
		       struct crash *c, struct buf *ignored)
{
	struct buf rip = BUF_INIT;
	size_t off = 0;
	int r = 0;

	buf_init(&rip, 0);
	while (r == 0 && off < text.len && crash_find(text.ptr + off, text.len - off, c)) {
		if (!ignore_warnings || c->cls != CRASH_WARNING)
			break;
		r = buf_addf(ignored, "  %s: %s\n", c->title, c->first);
		buf_reset(&rip);
		if (r == 0 && syms && symbolize_src_any(syms) &&
		    symbolize_frames(syms, c->rip, "", &rip) > 0)
			r = add_frames(ignored, "    ", rip.data);
		off += c->end > c->at ? c->end : c->at + 1;
		c->cls = CRASH_NONE;
	}
	buf_release(&rip);
	if (r < 0)
		return -ENOMEM;
	return c->cls != CRASH_NONE;
}

int result_set_crash(struct result_run *r, struct blob text, const struct symbolize_src *syms,
		     bool ignore_warnings)
{
	static struct crash c; /* large; runs are settled one at a time */
	struct buf report = BUF_INIT, frames = BUF_INIT, ignored = BUF_INIT;
	int err;

	buf_init(&ignored, 0);
	err = first_crash(text, ignore_warnings, syms, &c, &ignored);
	if (err <= 0) {
		buf_release(&ignored);
		return err;
	}
	buf_init(&report, 0);
	buf_init(&frames, 0);
	err = buf_addf(
	    &report,
	    "class: %s\ntitle: %s\n\n%s\n%s%s%s%s%s\nCall Trace:\n%s\nlast lines before it:\n%s",
	    crash_class_name(c.cls), c.title, c.first, c.rip[0] ? c.rip : "", c.rip[0] ? "\n" : "",
	    c.modules[0] ? "Modules linked in: " : "", c.modules, c.modules[0] ? "\n" : "", c.trace,
	    c.before);
	if (err == 0 && syms && symbolize_src_any(syms) &&
	    symbolize_frames(syms, c.rip, c.trace, &frames) > 0) {
		err = buf_addstr(&report, "\nsource:\n");
		if (err == 0)
			err = add_frames(&report, "  ", frames.data);
	}
	if (err == 0 && ignored.len)
		err = buf_addf(&report, "\nignored warnings before it (on-warning ignore):\n%s",
			       ignored.data);
	if (err == 0)
		err = result_setstr(&r->crash_class, crash_class_name(c.cls));
	if (err == 0)
		err = result_setstr(&r->crash_title, c.title);
	if (err == 0)
		err = result_setstr(&r->crash_frames, frames.len ? frames.data : NULL);
	if (err == 0) {
		free(r->crash_report);
		r->crash_report = buf_detach(&report, NULL);
	}
	buf_release(&report);
	buf_release(&frames);
	buf_release(&ignored);
	return err < 0 ? -ENOMEM : 1;
}

/* Read the last 'want' bytes of fd (size 'size') into data; the count read, or -errno. */
static ssize_t read_end(int fd, off_t size, char *data, size_t want)
{
	off_t from = size - (off_t)want;
	size_t got = 0;

	while (got < want) {
		ssize_t n = pread(fd, data + got, want - got, from + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int result_load_tail(struct result_run *r, const char *path, struct it_error *err)
{
	char *data = NULL;
	struct stat st;
	size_t want;
	ssize_t got;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		it_error_set(err, ret, "cannot read console log '%s': %s", path, strerror(-ret));
		goto out;
	}
	/* One byte more than the tail, to know whether it starts at a line start. */
	want = st.st_size > RESULT_TAIL_MAX ? RESULT_TAIL_MAX + 1 : (size_t)st.st_size;
	data = malloc(want + 1);
	if (!data) {
		ret = it_error_set(err, -ENOMEM, "cannot read console log '%s': %s", path,
				   strerror(ENOMEM));
		goto out;
	}
	got = read_end(fd, st.st_size, data, want);
	if (got < 0) {
		ret = it_error_set(err, (int)got, "cannot read console log '%s': %s", path,
				   strerror((int)-got));
		goto out;
	}
	ret = result_set_tail(r, blob_mem(data, (size_t)got));
	if (ret < 0)
		it_error_set(err, ret, "cannot keep the tail of '%s': %s", path, strerror(-ret));
out:
	free(data);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- the verdict -------------------------------------------------------------------------- */

bool result_is_crash(const struct expect_outcome *oc)
{
	if (oc->why != EXPECT_WHY_FAIL_PATTERN)
		return false;
	if (!strncmp(oc->fail_where, EXPECT_BUILTIN ": kernel ",
		     strlen(EXPECT_BUILTIN ": kernel ")))
		return true;
	return strstr(oc->line, "Kernel panic") != NULL;
}

enum run_verdict result_verdict_of(const struct expect *e, int code)
{
	if (code < 0 && code != -IT_EFAIL && code != -IT_ETIMEOUT)
		return verdict_of_code(code);
	if (e) {
		switch (expect_state(e)) {
		case EXPECT_PASSED:
			if (code == 0)
				return RUN_PASSED;
			break;
		case EXPECT_TIMED_OUT:
			return RUN_TIMED_OUT;
		case EXPECT_FAILED:
			return result_is_crash(expect_outcome(e)) ? RUN_CRASHED : RUN_FAILED;
		case EXPECT_RUNNING:
			if (code == 0)
				return RUN_FAILED; /* the run stopped without an answer */
			break;
		}
	}
	return verdict_of_code(code);
}

int result_exit_code(const struct result_run *r)
{
	return verdict_exit(r->verdict);
}

/* ---- from the engine ---------------------------------------------------------------------- */

/* A copy of s, or NULL for NULL or "" (an empty text is not worth a field). */
static int dup_nonempty(char **field, const char *s)
{
	return result_setstr(field, s && s[0] ? s : NULL);
}

/*
 * The step the run stopped at: the one the engine blames, or, when an
 * error cut the run short while the engine still waited on the console,
 * the first pending step. SIZE_MAX when there is none.
 */
static size_t blamed_step(const struct expect *e, enum run_verdict v)
{
	size_t n = expect_nsteps(e);
	struct expect_stats st;

	if (v == RUN_PASSED)
		return SIZE_MAX;
	if (expect_state(e) != EXPECT_RUNNING) {
		size_t i = expect_outcome(e)->step;

		return i < n ? i : SIZE_MAX;
	}
	expect_get_stats(e, &st);
	if (st.bytes_in == 0)
		return SIZE_MAX; /* an error before the console said anything is no step's */
	for (size_t i = 0; i < n; i++) {
		if (expect_step(e, i)->status == EXPECT_STEP_PENDING)
			return i;
	}
	return SIZE_MAX;
}

static enum result_step_status status_of(const struct expect_step_result *s, bool blamed,
					 enum run_verdict v)
{
	switch (s->status) {
	case EXPECT_STEP_PASSED:
		return RESULT_STEP_PASSED;
	case EXPECT_STEP_FAILED:
		return RESULT_STEP_FAILED;
	case EXPECT_STEP_TIMED_OUT:
		return RESULT_STEP_TIMED_OUT;
	case EXPECT_STEP_PENDING:
		return verdict_is_error(v) && blamed ? RESULT_STEP_ERROR : RESULT_STEP_SKIPPED;
	case EXPECT_STEP_SKIPPED:
		break;
	}
	return RESULT_STEP_SKIPPED;
}

/* When step i ended: its match, or the end of the run for the step that failed; -1 otherwise. */
static int64_t step_end(const struct expect *e, size_t i)
{
	const struct expect_step_result *s = expect_step(e, i);

	if (s->status == EXPECT_STEP_PASSED)
		return s->at_ms;
	if (s->status == EXPECT_STEP_FAILED || s->status == EXPECT_STEP_TIMED_OUT)
		return expect_outcome(e)->at_ms;
	return -1;
}

/* From when step i became current to its end; 0 when either is unknown. */
static int64_t step_duration(const struct expect *e, size_t i)
{
	const struct expect_step_result *prev = i ? expect_step(e, i - 1) : NULL;
	int64_t a = !prev ? 0 : prev->status == EXPECT_STEP_PASSED ? prev->at_ms : -1;
	int64_t b = step_end(e, i);

	return a >= 0 && b >= a ? b - a : 0;
}

static int apply_note(struct result_step *d, const struct result_note *n)
{
	d->exit_code = n->exit_code;
	if (result_setstr(&d->action, n->action) < 0 ||
	    result_setstr(&d->out_text, n->out_text) < 0 ||
	    result_setstr(&d->err_text, n->err_text) < 0)
		return -ENOMEM;
	return 0;
}

static int copy_step(struct result_run *r, const struct expect *e, size_t i)
{
	const struct expect_step_result *s = expect_step(e, i);
	struct result_step *d = &r->steps[i];
	int64_t end = step_end(e, i);
	int ret;

	d->kind = s->kind == EXPECT_KIND_SEND	    ? RESULT_STEP_SEND
		  : s->kind == EXPECT_KIND_EXTERNAL ? RESULT_STEP_AGENT
						    : RESULT_STEP_EXPECT;
	d->exit_code = -1;
	d->status = status_of(s, r->blamed == i, r->verdict);
	d->at_ms = r->timed ? end : -1;
	d->duration_ms = r->timed && end >= 0 ? step_duration(e, i) : -1;
	d->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : -1;
	ret = result_setstr(&d->name, s->name);
	if (ret == 0)
		ret = dup_nonempty(&d->where, s->where);
	if (ret == 0)
		ret = result_setstr(&d->pattern, s->pattern);
	if (ret == 0 && s->kind != EXPECT_KIND_SEND)
		ret = result_setstr(&d->line, s->line);
	if (ret == 0 && i < r->nnotes)
		ret = apply_note(d, &r->notes[i]);
	return ret;
}

static int add_milestone(struct result_run *r, const char *name, int64_t at_ms)
{
	struct result_milestone *v = realloc(r->milestones, (r->nmilestones + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	r->milestones = v;
	v[r->nmilestones].name = strdup(name);
	v[r->nmilestones].at_ms = at_ms;
	if (!v[r->nmilestones].name)
		return -ENOMEM;
	r->nmilestones++;
	return 0;
}

static int copy_steps(struct result_run *r, const struct expect *e)
{
	size_t n = expect_nsteps(e);
	int ret = 0;

	r->blamed = blamed_step(e, r->verdict);
	r->steps = calloc(n ? n : 1, sizeof(*r->steps));
	if (!r->steps)
		return -ENOMEM;
	r->nsteps = n;
	for (size_t i = 0; i < n && ret == 0; i++) {
		const struct expect_step_result *s = expect_step(e, i);

		ret = copy_step(r, e, i);
		if (ret == 0 && r->timed && s->kind != EXPECT_KIND_SEND &&
		    s->status == EXPECT_STEP_PASSED)
			ret = add_milestone(r, s->name, s->at_ms);
	}
	return ret;
}

static const enum result_why why_of[] = {
    [EXPECT_WHY_NONE] = RESULT_WHY_NONE,
    [EXPECT_WHY_FAIL_PATTERN] = RESULT_WHY_FAIL_PATTERN,
    [EXPECT_WHY_STEP_TIMEOUT] = RESULT_WHY_STEP_TIMEOUT,
    [EXPECT_WHY_RUN_TIMEOUT] = RESULT_WHY_RUN_TIMEOUT,
    [EXPECT_WHY_EOF] = RESULT_WHY_EOF,
    [EXPECT_WHY_OUTPUT_FULL] = RESULT_WHY_OUTPUT_FULL,
    [EXPECT_WHY_BAD_PATTERN] = RESULT_WHY_BAD_PATTERN,
    [EXPECT_WHY_EXTERNAL] = RESULT_WHY_EXTERNAL,
};

static const enum result_state state_of[] = {
    [EXPECT_RUNNING] = RESULT_STATE_RUNNING,
    [EXPECT_PASSED] = RESULT_STATE_PASSED,
    [EXPECT_FAILED] = RESULT_STATE_FAILED,
    [EXPECT_TIMED_OUT] = RESULT_STATE_TIMED_OUT,
};

static int copy_outcome(struct result_run *r, const struct expect *e)
{
	const struct expect_outcome *oc = expect_outcome(e);
	struct result_outcome *o = &r->outcome;
	bool fp = oc->why == EXPECT_WHY_FAIL_PATTERN;
	struct it_error why = IT_ERROR_INIT;
	int ret;

	o->present = true;
	o->state =
	    (unsigned)oc->state < ARRAY_SIZE(state_of) ? state_of[oc->state] : RESULT_STATE_RUNNING;
	o->why = (unsigned)oc->why < ARRAY_SIZE(why_of) ? why_of[oc->why] : RESULT_WHY_NONE;
	o->at_ms = r->timed ? oc->at_ms : -1;
	ret = result_setstr(&o->step, r->blamed != SIZE_MAX ? r->steps[r->blamed].name : NULL);
	if (ret == 0 && fp)
		ret = result_setstr(&o->fail_pattern, oc->fail_pattern);
	if (ret == 0 && fp)
		ret = result_setstr(&o->fail_where, oc->fail_where);
	if (ret == 0)
		ret = dup_nonempty(&o->line, oc->line);
	if (ret == 0 && (oc->why == EXPECT_WHY_OUTPUT_FULL || oc->why == EXPECT_WHY_BAD_PATTERN ||
			 oc->why == EXPECT_WHY_NONE)) {
		expect_explain(e, &why);
		ret = dup_nonempty(&o->detail, why.msg);
	}
	return ret;
}

static void copy_stats(struct result_run *r, const struct expect *e)
{
	struct expect_stats st;

	expect_get_stats(e, &st);
	r->stats.present = true;
	r->stats.bytes_in = st.bytes_in;
	r->stats.lines = st.lines;
	r->stats.bytes_out = st.bytes_out;
	r->stats.dsr_answered = st.dsr_answered;
	r->stats.lines_cut = st.lines_cut;
	r->stats.match_errors = st.match_errors;
}

static int from_engine(struct result_run *r, const struct expect *e)
{
	int ret;

	clear_steps(r);
	outcome_release(&r->outcome);
	memset(&r->stats, 0, sizeof(r->stats));
	if (!e)
		return 0;
	ret = copy_steps(r, e);
	if (ret == 0)
		ret = copy_outcome(r, e);
	copy_stats(r, e);
	if (ret == 0 && r->total_ms < 0 && r->timed && expect_outcome(e)->at_ms >= 0)
		r->total_ms = expect_outcome(e)->at_ms;
	return ret;
}

/*
 * An agent that never said hello (its agent-ready step timed out) or was
 * lost at the blamed step: a class of its own, whatever the engine made of
 * it (a timeout, a failed step).
 */
static void settle_agent(struct result_run *r)
{
	struct result_step *s = r->blamed < r->nsteps ? &r->steps[r->blamed] : NULL;
	bool lost, never;

	if (!s || s->kind != RESULT_STEP_AGENT || verdict_is_error(r->verdict))
		return;
	lost = r->blamed < r->nnotes && r->notes[r->blamed].lost &&
	       r->outcome.why == RESULT_WHY_EXTERNAL;
	never = s->action && strcmp(s->action, "agent-ready") == 0 &&
		r->outcome.why == RESULT_WHY_STEP_TIMEOUT;
	if (!lost && !never)
		return;
	r->verdict = RUN_FAILED;
	r->outcome.why = RESULT_WHY_AGENT;
	r->outcome.state = RESULT_STATE_FAILED;
	s->status = RESULT_STEP_FAILED;
}

static int settle_hostname(struct result_run *r)
{
	char host[256];

	if (r->hostname && r->hostname[0])
		return 0;
	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	return result_setstr(&r->hostname, host);
}

static int settle_message(struct result_run *r)
{
	struct buf line, hint;
	int ret;

	buf_init(&line, 0);
	buf_init(&hint, 0);
	ret = result_verdict_line(r, &line, &hint);
	if (ret == 0)
		ret = result_setstr(&r->message, line.data ? line.data : "");
	if (ret == 0)
		ret = result_setstr(&r->hint, hint.len ? hint.data : NULL);
	buf_release(&line);
	buf_release(&hint);
	return ret;
}

int result_finish(struct result_run *r, const struct expect *e, int code,
		  const struct it_error *err)
{
	int ret;

	r->verdict = result_verdict_of(e, code);
	if (err && err->code && !r->error.code)
		r->error = *err;
	if (r->verdict != RUN_PASSED && !r->error.code && code < 0)
		it_error_set(&r->error, code, "%s", it_strerror(code));
	ret = from_engine(r, e);
	settle_agent(r);
	if (ret == 0)
		ret = settle_hostname(r);
	if (ret == 0)
		ret = settle_message(r);
	return ret;
}

/* ---- sets of runs ------------------------------------------------------------------------- */

void result_set_init(struct result_set *s)
{
	memset(s, 0, sizeof(*s));
}

void result_set_release(struct result_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		result_run_release(&s->runs[i]);
	free(s->runs);
	result_set_init(s);
}

struct result_run *result_set_add(struct result_set *s)
{
	struct result_run *v = realloc(s->runs, (s->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	s->runs = v;
	result_run_init(&v[s->n]);
	return &v[s->n++];
}

int result_set_take(struct result_set *s, struct result_set *from)
{
	struct result_run *v;

	if (from->n == 0)
		return 0;
	v = realloc(s->runs, (s->n + from->n) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->runs = v;
	memcpy(v + s->n, from->runs, from->n * sizeof(*v));
	s->n += from->n;
	free(from->runs);
	result_set_init(from);
	return 0;
}

void result_set_count(const struct result_set *s, unsigned long counts[RUN_VERDICT_MAX],
		      unsigned long *flaky)
{
	memset(counts, 0, RUN_VERDICT_MAX * sizeof(*counts));
	*flaky = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct result_run *r = &s->runs[i];

		counts[(unsigned)r->verdict < RUN_VERDICT_MAX ? r->verdict : RUN_INFRA_ERROR]++;
		*flaky += r->verdict == RUN_PASSED && r->flaky;
	}
}

int result_set_exit_code(const struct result_set *s)
{
	unsigned long c[RUN_VERDICT_MAX], flaky;

	result_set_count(s, c, &flaky);
	return exit_code_of_counts(c);
}

/* ---- files -------------------------------------------------------------------------------- */

typedef int (*format_fn)(const struct result_set *s, struct buf *out);

static int write_format(format_fn fn, const char *what, const struct result_set *s,
			const char *path, struct it_error *err)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = fn(s, &b);
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

int result_write_json(const struct result_set *s, const char *path, struct it_error *err)
{
	return write_format(result_json, "JSON", s, path, err);
}

int result_write_junit(const struct result_set *s, const char *path, struct it_error *err)
{
	return write_format(result_junit, "JUnit", s, path, err);
}

/* A set that is one run, borrowed: the writers only read it. */
static struct result_set one(const struct result_run *r)
{
	return (struct result_set){(struct result_run *)r, 1};
}

int result_run_write_json(const struct result_run *r, const char *path, struct it_error *err)
{
	struct result_set s = one(r);

	return result_write_json(&s, path, err);
}

int result_run_write_junit(const struct result_run *r, const char *path, struct it_error *err)
{
	struct result_set s = one(r);

	return result_write_junit(&s, path, err);
}
