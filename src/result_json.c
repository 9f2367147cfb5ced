// SPDX-License-Identifier: MIT
/* Results as JSON, with jansson: the one writer, and the reader of report files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/util.h"
#include "src/json.h"
#include "src/out.h"
#include "src/result.h"

static const char *const step_status_names[] = {
    [RESULT_STEP_PASSED] = "passed",	   [RESULT_STEP_FAILED] = "failed",
    [RESULT_STEP_TIMED_OUT] = "timed_out", [RESULT_STEP_ERROR] = "error",
    [RESULT_STEP_SKIPPED] = "skipped",
};

static const char *const state_names[] = {
    [RESULT_STATE_RUNNING] = "running",
    [RESULT_STATE_PASSED] = "passed",
    [RESULT_STATE_FAILED] = "failed",
    [RESULT_STATE_TIMED_OUT] = "timed_out",
};

static const char *const why_names[] = {
    [RESULT_WHY_NONE] = "none",
    [RESULT_WHY_FAIL_PATTERN] = "fail_pattern",
    [RESULT_WHY_STEP_TIMEOUT] = "step_timeout",
    [RESULT_WHY_RUN_TIMEOUT] = "run_timeout",
    [RESULT_WHY_EOF] = "eof",
    [RESULT_WHY_OUTPUT_FULL] = "output_full",
    [RESULT_WHY_BAD_PATTERN] = "bad_pattern",
    [RESULT_WHY_EXTERNAL] = "step_failed",
    [RESULT_WHY_AGENT] = "agent",
};

static const char *name_in(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

/* The index of name in names, or dflt. */
static unsigned index_in(const char *const *names, size_t n, const char *name, unsigned dflt)
{
	for (size_t i = 0; name && i < n; i++) {
		if (names[i] && !strcmp(names[i], name))
			return (unsigned)i;
	}
	return dflt;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* A number of milliseconds, or null when negative (unknown). */
static json_t *jms(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer((json_int_t)ms);
}

static const char *kind_of(const struct result_step *s)
{
	if (s->kind == RESULT_STEP_AGENT)
		return s->action ? s->action : "agent";
	return s->kind == RESULT_STEP_SEND ? "send" : "expect";
}

static json_t *step_json(const struct result_step *s)
{
	struct jobj j = {json_object(), 0};
	bool send = s->kind == RESULT_STEP_SEND;

	j.err = j.o ? 0 : -ENOMEM;
	jset_str(&j, "name", s->name);
	jset_str(&j, "kind", kind_of(s));
	jset_str(&j, "where", s->where);
	jset_str(&j, s->kind == RESULT_STEP_EXPECT ? "pattern" : "text", s->pattern);
	jset_str(&j, "status",
		 name_in(step_status_names, ARRAY_SIZE(step_status_names), s->status));
	jset(&j, "at_ms", jms(s->at_ms));
	jset(&j, "duration_ms", jms(s->duration_ms));
	jset(&j, "timeout_ms", jms(s->timeout_ms));
	if (!send)
		jset_str(&j, "line", s->line);
	if (s->kind == RESULT_STEP_AGENT) {
		jset(&j, "exit_code", s->exit_code >= 0 ? json_integer(s->exit_code) : json_null());
		jset_str(&j, "stdout", s->out_text);
		jset_str(&j, "stderr", s->err_text);
	}
	return jobject_done(&j);
}

static json_t *timings_json(const struct result_run *r)
{
	struct jobj j = {json_object(), 0}, steps = {json_object(), 0};

	j.err = j.o && steps.o ? 0 : -ENOMEM;
	for (size_t i = 0; i < r->nmilestones && r->timed; i++)
		jset(&steps, r->milestones[i].name, jms(r->milestones[i].at_ms));
	jset(&j, "first_console_byte_ms", jms(r->timed ? r->first_byte_ms : -1));
	jset(&j, "total_ms", jms(r->timed ? r->total_ms : -1));
	jset(&j, "steps", jobject_done(&steps));
	return jobject_done(&j);
}

static json_t *outcome_json(const struct result_outcome *oc)
{
	struct jobj j = {json_object(), 0};
	bool fp = oc->why == RESULT_WHY_FAIL_PATTERN;

	if (!oc->present) {
		json_decref(j.o);
		return json_null();
	}
	j.err = j.o ? 0 : -ENOMEM;
	jset_str(&j, "state", name_in(state_names, ARRAY_SIZE(state_names), oc->state));
	jset_str(&j, "why", name_in(why_names, ARRAY_SIZE(why_names), oc->why));
	jset_str(&j, "step", oc->step);
	jset(&j, "at_ms", jms(oc->at_ms));
	jset_str(&j, "fail_pattern", fp ? oc->fail_pattern : NULL);
	jset_str(&j, "fail_where", fp ? oc->fail_where : NULL);
	jset_str(&j, "line", oc->line);
	return jobject_done(&j);
}

static json_t *stats_json(const struct result_stats *st)
{
	struct jobj j = {json_object(), 0};

	if (!st->present) {
		json_decref(j.o);
		return json_null();
	}
	j.err = j.o ? 0 : -ENOMEM;
	jset(&j, "bytes_in", json_integer((json_int_t)st->bytes_in));
	jset(&j, "lines", json_integer((json_int_t)st->lines));
	jset(&j, "bytes_out", json_integer((json_int_t)st->bytes_out));
	jset(&j, "dsr_answered", json_integer((json_int_t)st->dsr_answered));
	jset(&j, "lines_cut", json_integer((json_int_t)st->lines_cut));
	jset(&j, "match_errors", json_integer((json_int_t)st->match_errors));
	return jobject_done(&j);
}

static json_t *error_json(const struct it_error *e)
{
	struct jobj j = {json_object(), 0};

	if (!e->code) {
		json_decref(j.o);
		return json_null();
	}
	j.err = j.o ? 0 : -ENOMEM;
	jset_str(&j, "message", e->msg);
	jset_str(&j, "hint", e->hint[0] ? e->hint : NULL);
	return jobject_done(&j);
}

/* ISO 8601 in UTC with milliseconds: "2024-05-06T07:08:09.123Z"; null when unknown. */
static json_t *wall_json(int64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	char s[64];

	if (wall_ms < 0 || !gmtime_r(&t, &tm))
		return json_null();
	snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(wall_ms % 1000));
	return json_string(s);
}

static json_t *steps_json(const struct result_run *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < r->nsteps; i++) {
		if (json_array_append_new(a, step_json(&r->steps[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/*
 * Symbolized frames ("FRAME\tFILE:LINE\n" each) as [{"frame", "source"}, ...],
 * escaped as every other text is (jstr): the frame is the guest's bytes.
 */
static json_t *frames_json(const char *frames)
{
	struct blob rest = blob_str(frames), line, frame, source;
	json_t *a = json_array();

	while (a && blob_split(rest, '\n', &line, &rest) &&
	       blob_split(line, '\t', &frame, &source)) {
		char *fs = strndup(frame.ptr, frame.len), *ss = strndup(source.ptr, source.len);
		struct jobj f = {json_object(), 0};
		json_t *o;

		f.err = f.o && fs && ss ? 0 : -ENOMEM;
		jset_str(&f, "frame", fs);
		jset_str(&f, "source", ss);
		free(fs);
		free(ss);
		o = jobject_done(&f);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The order of the keys is the order people read them in. */
static json_t *checkpoint_json(const struct result_checkpoint *c)
{
	struct jobj j = {json_object(), 0};

	j.err = j.o ? 0 : -ENOMEM;
	jset_str(&j, "name", c->name);
	jset_str(&j, "action", c->action);
	jset_str(&j, "note", c->note);
	jset(&j, "restore_ms", jms(c->restore_ms));
	return jobject_done(&j);
}

static json_t *run_json(const struct result_run *r)
{
	struct jobj j = {json_object(), 0}, console = {json_object(), 0};

	j.err = j.o && console.o ? 0 : -ENOMEM;
	jset_str(&j, "scenario", r->scenario ? r->scenario : r->path);
	jset_str(&j, "path", r->path);
	jset_str(&j, "verdict", verdict_name(r->verdict));
	jset(&j, "exit_code", json_integer(verdict_exit(r->verdict)));
	if (r->attempts > 1) {
		jset(&j, "attempts", json_integer(r->attempts));
		jset(&j, "flaky", json_boolean(r->flaky));
	}
	jset_str(&j, "message", r->message);
	jset_str(&j, "hint", r->hint);
	jset(&j, "error", error_json(&r->error));
	jset_str(&j, "backend", r->backend);
	jset_str(&j, "accel", r->accel);
	if (r->arch)
		jset_str(&j, "arch", r->arch);
	if (r->timeout_factor > 0)
		jset(&j, "timeout_factor", json_real(r->timeout_factor));
	jset_str(&j, "hostname", r->hostname);
	jset(&j, "replay", json_boolean(r->replay));
	jset(&j, "timed", json_boolean(r->timed));
	jset(&j, "started_at", wall_json(r->started_at_ms));
	jset(&j, "started_at_ms", jms(r->started_at_ms));
	jset_str(&j, "command", r->command);
	jset_str(&console, "raw", r->console_raw);
	jset_str(&console, "log", r->console_log);
	jset(&j, "console", jobject_done(&console));
	jset(&j, "timings", timings_json(r));
	jset(&j, "steps", steps_json(r));
	jset(&j, "outcome", outcome_json(&r->outcome));
	jset(&j, "stats", stats_json(&r->stats));
	jset_str(&j, "console_tail", r->console_tail);
	if (r->crash_class) {
		struct jobj crash = {json_object(), 0};

		jset_str(&crash, "class", r->crash_class);
		jset_str(&crash, "title", r->crash_title);
		jset_str(&crash, "report", r->crash_report);
		if (r->crash_frames)
			jset(&crash, "frames", frames_json(r->crash_frames));
		jset(&j, "crash", jobject_done(&crash));
	}
	if (r->shard)
		jset_str(&j, "shard", r->shard);
	if (r->artifacts)
		jset_str(&j, "artifacts", r->artifacts);
	if (r->checkpoint.name)
		jset(&j, "checkpoint", checkpoint_json(&r->checkpoint));
	return jobject_done(&j);
}

int result_json(const struct result_set *s, struct buf *out)
{
	struct jobj top = {json_object(), 0};
	json_t *runs = json_array();

	top.err = top.o && runs ? 0 : -ENOMEM;
	for (size_t i = 0; !top.err && i < s->n; i++) {
		if (json_array_append_new(runs, run_json(&s->runs[i])) < 0)
			top.err = -ENOMEM;
	}
	jset_str(&top, "format", RESULT_FORMAT);
	jset(&top, "version", json_integer(RESULT_VERSION));
	jset(&top, "runs", runs);
	return jobj_dump(&top, out);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* A string member, or NULL. Borrowed. */
static const char *get_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* An integer member; -1 when absent, null or not an integer. */
static int64_t get_ms(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static uint64_t get_u64(const json_t *o, const char *key)
{
	int64_t v = get_ms(o, key);

	return v > 0 ? (uint64_t)v : 0;
}

static bool get_bool(const json_t *o, const char *key, bool dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* Copy string members into fields; the first failure (no memory) is returned. */
static int take_strs(const json_t *o, const char *const *keys, char **const *fields, size_t n)
{
	int ret = 0;

	for (size_t i = 0; i < n && ret == 0; i++)
		ret = result_setstr(fields[i], get_str(o, keys[i]));
	return ret;
}

static int read_step(const json_t *o, struct result_step *s)
{
	const char *kind = get_str(o, "kind");
	bool expect = !kind || !strcmp(kind, "expect"), send = kind && !strcmp(kind, "send");
	const char *keys[] = {"name", "where",	expect ? "pattern" : "text",
			      "line", "stdout", "stderr"};
	char **fields[] = {&s->name, &s->where, &s->pattern, &s->line, &s->out_text, &s->err_text};
	int64_t code = get_ms(o, "exit_code");

	s->kind = expect ? RESULT_STEP_EXPECT : send ? RESULT_STEP_SEND : RESULT_STEP_AGENT;
	s->exit_code = code >= 0 && code <= 255 ? (int)code : -1;
	if (s->kind == RESULT_STEP_AGENT && result_setstr(&s->action, kind) < 0)
		return -ENOMEM;
	s->status = index_in(step_status_names, ARRAY_SIZE(step_status_names), get_str(o, "status"),
			     RESULT_STEP_PASSED);
	s->at_ms = get_ms(o, "at_ms");
	s->duration_ms = get_ms(o, "duration_ms");
	s->timeout_ms = get_ms(o, "timeout_ms");
	if (take_strs(o, keys, fields, ARRAY_SIZE(keys)) < 0)
		return -ENOMEM;
	return s->name ? 0 : result_setstr(&s->name, "step");
}

static int read_steps(const json_t *a, struct result_run *r)
{
	size_t n = json_is_array(a) ? json_array_size(a) : 0;
	int ret = 0;

	r->steps = calloc(n ? n : 1, sizeof(*r->steps));
	if (!r->steps)
		return -ENOMEM;
	for (size_t i = 0; i < n && ret == 0; i++) {
		r->nsteps++;
		ret = read_step(json_array_get(a, i), &r->steps[i]);
	}
	return ret;
}

static int read_milestones(const json_t *steps, struct result_run *r)
{
	size_t n = json_is_object(steps) ? json_object_size(steps) : 0, k = 0;
	const char *key;
	json_t *v;

	r->milestones = calloc(n ? n : 1, sizeof(*r->milestones));
	if (!r->milestones)
		return -ENOMEM;
	json_object_foreach((json_t *)steps, key, v)
	{
		if (!json_is_integer(v))
			continue;
		r->milestones[k].name = strdup(key);
		if (!r->milestones[k].name)
			return -ENOMEM;
		r->milestones[k++].at_ms = (int64_t)json_integer_value(v);
		r->nmilestones = k;
	}
	return 0;
}

static int read_outcome(const json_t *o, struct result_run *r)
{
	struct result_outcome *oc = &r->outcome;
	const char *keys[] = {"step", "fail_pattern", "fail_where", "line"};
	char **fields[] = {&oc->step, &oc->fail_pattern, &oc->fail_where, &oc->line};

	if (!json_is_object(o))
		return 0;
	oc->present = true;
	oc->state = index_in(state_names, ARRAY_SIZE(state_names), get_str(o, "state"),
			     RESULT_STATE_RUNNING);
	oc->why = index_in(why_names, ARRAY_SIZE(why_names), get_str(o, "why"), RESULT_WHY_NONE);
	oc->at_ms = get_ms(o, "at_ms");
	if (take_strs(o, keys, fields, ARRAY_SIZE(keys)) < 0)
		return -ENOMEM;
	for (size_t i = 0; oc->step && i < r->nsteps; i++) {
		if (!strcmp(r->steps[i].name, oc->step)) {
			r->blamed = i;
			break;
		}
	}
	return 0;
}

static void read_stats(const json_t *o, struct result_stats *st)
{
	if (!json_is_object(o))
		return;
	st->present = true;
	st->bytes_in = get_u64(o, "bytes_in");
	st->lines = get_u64(o, "lines");
	st->bytes_out = get_u64(o, "bytes_out");
	st->dsr_answered = get_u64(o, "dsr_answered");
	st->lines_cut = get_u64(o, "lines_cut");
	st->match_errors = get_u64(o, "match_errors");
}

static void read_error(const json_t *o, struct it_error *e)
{
	const char *msg = get_str(o, "message"), *hint = get_str(o, "hint");

	if (!json_is_object(o) || !msg)
		return;
	/* The code a report does not keep: only "there was an error" counts once read. */
	it_error_set(e, -IT_EFAIL, "%s", msg);
	if (hint)
		it_error_hint(e, "%s", hint);
}

static int read_checkpoint(const json_t *o, struct result_checkpoint *c)
{
	int ret;

	if (!json_is_object(o) || !get_str(o, "name"))
		return 0;
	ret = result_setstr(&c->name, get_str(o, "name"));
	if (ret == 0)
		ret = result_setstr(&c->action, get_str(o, "action"));
	if (ret == 0)
		ret = result_setstr(&c->note, get_str(o, "note"));
	c->restore_ms = get_ms(o, "restore_ms");
	return ret;
}

static int read_run(const json_t *o, struct result_run *r)
{
	const json_t *timings = json_object_get(o, "timings");
	const json_t *console = json_object_get(o, "console");
	const char *keys[] = {"scenario", "path",    "message",	     "hint",  "backend",   "accel",
			      "hostname", "command", "console_tail", "shard", "artifacts", "arch"};
	char **fields[] = {&r->scenario,     &r->path,	&r->message,   &r->hint,
			   &r->backend,	     &r->accel, &r->hostname,  &r->command,
			   &r->console_tail, &r->shard, &r->artifacts, &r->arch};
	int64_t attempts = get_ms(o, "attempts");
	int ret;

	/* A verdict of a newer version that we do not know is not a pass. */
	if (!verdict_parse(get_str(o, "verdict"), &r->verdict))
		r->verdict = RUN_INFRA_ERROR;
	r->attempts = attempts > 0 && attempts < 1000 ? (unsigned)attempts : 0;
	r->flaky = get_bool(o, "flaky", false);
	r->replay = get_bool(o, "replay", false);
	r->timed = get_bool(o, "timed", true);
	r->started_at_ms = get_ms(o, "started_at_ms");
	r->first_byte_ms = get_ms(timings, "first_console_byte_ms");
	r->total_ms = get_ms(timings, "total_ms");
	read_error(json_object_get(o, "error"), &r->error);
	read_stats(json_object_get(o, "stats"), &r->stats);
	ret = take_strs(o, keys, fields, ARRAY_SIZE(keys));
	if (ret == 0)
		ret = result_setstr(&r->console_raw, get_str(console, "raw"));
	if (ret == 0)
		ret = result_setstr(&r->console_log, get_str(console, "log"));
	if (ret == 0)
		ret = read_milestones(json_object_get(timings, "steps"), r);
	if (ret == 0)
		ret = read_steps(json_object_get(o, "steps"), r);
	if (ret == 0)
		ret = read_outcome(json_object_get(o, "outcome"), r);
	if (ret == 0)
		ret = read_checkpoint(json_object_get(o, "checkpoint"), &r->checkpoint);
	return ret;
}

/* The shape of a report and of each run in it, before anything is taken. */
static int check_report(const json_t *doc, const char *name, struct it_error *err)
{
	const json_t *runs = json_object_get(doc, "runs");
	const char *format = get_str(doc, "format");

	if (!format || strcmp(format, RESULT_FORMAT) || !json_is_array(runs)) {
		it_error_set(err, -IT_EFORMAT,
			     "'%s' is not an initrd-test report (no \"format\": \"%s\" with "
			     "\"runs\")",
			     name, RESULT_FORMAT);
		it_error_hint(err, "give the JSON of 'initrd-test run --json FILE'");
		return -IT_EFORMAT;
	}
	if (get_ms(doc, "version") != RESULT_VERSION)
		return it_error_set(err, -IT_EFORMAT, "'%s': unsupported report version", name);
	for (size_t i = 0; i < json_array_size(runs); i++) {
		const json_t *run = json_array_get(runs, i);

		if (!get_str(run, "scenario") || !get_str(run, "verdict"))
			return it_error_set(err, -IT_EFORMAT,
					    "'%s': run %zu has no \"scenario\" or no \"verdict\"",
					    name, i + 1);
	}
	return 0;
}

/*
 * Where the bad text starts: jansson counts the column after the token it
 * names ("... near 'not'"), people look for its first character.
 */
static int error_column(const json_error_t *je)
{
	const char *near = strstr(je->text, " near '");
	int col = je->column;

	if (near) {
		size_t n = strlen(near + 7);

		if (n > 0 && near[7 + n - 1] == '\'')
			n--;
		if (n > 0 && (int)n <= col)
			col -= (int)n - 1;
	}
	return col > 0 ? col : 1;
}

int result_json_parse(struct result_set *s, struct blob text, const char *name,
		      struct it_error *err)
{
	size_t before = s->n;
	json_error_t je;
	json_t *doc, *runs;
	int ret;

	doc = json_loadb(text.ptr ? text.ptr : "", text.len, 0, &je);
	if (!doc)
		return it_error_set(err, -IT_EFORMAT, "cannot parse '%s': line %d, column %d: %s",
				    name, je.line > 0 ? je.line : 1, error_column(&je), je.text);
	ret = check_report(doc, name, err);
	runs = json_object_get(doc, "runs");
	for (size_t i = 0; ret == 0 && i < json_array_size(runs); i++) {
		struct result_run *r = result_set_add(s);

		ret = r ? read_run(json_array_get(runs, i), r) : -ENOMEM;
	}
	if (ret == -ENOMEM)
		it_error_set(err, ret, "cannot read '%s': %s", name, strerror(ENOMEM));
	while (ret < 0 && s->n > before)
		result_run_release(&s->runs[--s->n]);
	json_decref(doc);
	return ret;
}

int result_json_load(struct result_set *s, const char *path, struct it_error *err)
{
	struct buf b;
	int ret;

	buf_init(&b, RESULT_FILE_MAX);
	ret = buf_read_file(&b, path);
	if (ret < 0) {
		it_error_set(err, ret, "cannot read report '%s': %s", path,
			     ret == -IT_ELIMIT ? "larger than 64 MiB" : it_strerror(ret));
		buf_release(&b);
		return ret;
	}
	ret = result_json_parse(s, buf_blob(&b), path, err);
	buf_release(&b);
	return ret;
}
