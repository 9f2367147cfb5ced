// SPDX-License-Identifier: MIT
/* Results as JUnit XML: the one writer, for a run, a suite and merged shards alike. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "src/out.h"
#include "src/result.h"

static const char *scenario_label(const struct result_run *r)
{
	if (r->scenario && r->scenario[0])
		return r->scenario;
	return r->path && r->path[0] ? r->path : "scenario";
}

/* JUnit's failure type: what the engine said, in its words. */
static const char *failure_type(const struct result_run *r)
{
	static const char *const types[] = {
	    [RESULT_WHY_FAIL_PATTERN] = "fail-pattern", [RESULT_WHY_STEP_TIMEOUT] = "step-timeout",
	    [RESULT_WHY_RUN_TIMEOUT] = "run-timeout",	[RESULT_WHY_EOF] = "console-closed",
	    [RESULT_WHY_OUTPUT_FULL] = "output-full",	[RESULT_WHY_BAD_PATTERN] = "bad-pattern",
	    [RESULT_WHY_EXTERNAL] = "step-failed",	[RESULT_WHY_AGENT] = "agent-lost",
	};
	enum result_why why = r->outcome.why;

	if (r->verdict == RUN_CRASHED)
		return "crash";
	if (!r->outcome.present || why == RESULT_WHY_NONE || (unsigned)why >= ARRAY_SIZE(types))
		return verdict_name(r->verdict);
	if (why == RESULT_WHY_EOF && r->replay)
		return "log-ended";
	return types[why];
}

/* "5.123": JUnit's seconds; 0 when unknown. */
static void put_time_attr(struct out *o, int64_t ms)
{
	out_puts(o, " time=\"");
	out_secs3(o, ms);
	out_puts(o, "\"");
}

/* The body of a <failure>/<error>: the verdict, the hint, the step, the last line. */
static void problem_detail(struct out *o, const struct result_run *r, const struct result_step *s)
{
	out_esc(o, ESC_XML_TEXT, r->message ? r->message : verdict_name(r->verdict));
	if (r->hint) {
		out_puts(o, "\nhint: ");
		out_esc(o, ESC_XML_TEXT, r->hint);
	}
	if (r->crash_report) {
		out_puts(o, "\ncrash:\n");
		out_esc(o, ESC_XML_TEXT, r->crash_report);
	}
	if (s && s->pattern) {
		out_puts(o, s->kind == RESULT_STEP_EXPECT ? "\npattern: "
			    : s->kind == RESULT_STEP_SEND ? "\ntext: "
							  : "\ncommand: ");
		out_esc(o, ESC_XML_TEXT, s->pattern);
	}
	if (s && s->exit_code >= 0)
		out_putf(o, "\nexit status: %d", s->exit_code);
	if (s && s->out_text && s->out_text[0]) {
		out_puts(o, "\nstdout:\n");
		out_esc(o, ESC_XML_TEXT, s->out_text);
	}
	if (s && s->err_text && s->err_text[0]) {
		out_puts(o, "\nstderr:\n");
		out_esc(o, ESC_XML_TEXT, s->err_text);
	}
	if (s && s->timeout_ms > 0) {
		out_puts(o, "\ntimeout: ");
		out_duration(o, s->timeout_ms);
	}
	if (r->outcome.line) {
		out_puts(o, "\nlast console line: ");
		out_esc(o, ESC_XML_TEXT, r->outcome.line);
	}
	if (r->artifacts) {
		out_puts(o, "\nartifacts: ");
		out_esc(o, ESC_XML_TEXT, r->artifacts);
	}
}

/* <failure> or <error>, with the verdict line as its message. */
static void problem(struct out *o, const struct result_run *r, const struct result_step *s)
{
	bool error = verdict_is_error(r->verdict);
	const char *tag = error ? "error" : "failure";

	out_putf(o, "      <%s", tag);
	out_xml_attr(o, "type", error ? verdict_name(r->verdict) : failure_type(r));
	out_xml_attr(o, "message", r->message ? r->message : verdict_name(r->verdict));
	out_puts(o, ">");
	problem_detail(o, r, s);
	out_putf(o, "</%s>\n", tag);
}

static void testcase_open(struct out *o, const struct result_run *r, const char *name, int64_t ms)
{
	out_puts(o, "    <testcase");
	out_xml_attr(o, "name", name);
	out_xml_attr(o, "classname", scenario_label(r));
	put_time_attr(o, r->timed ? ms : 0);
}

static void testcase(struct out *o, const struct result_run *r, const struct result_step *s)
{
	testcase_open(o, r, s->name, s->duration_ms);
	if (s->status == RESULT_STEP_PASSED) {
		out_puts(o, "/>\n");
		return;
	}
	out_puts(o, ">\n");
	if (s->status == RESULT_STEP_SKIPPED) {
		out_puts(o, "      <skipped");
		out_xml_attr(o, "message", "not reached: the run ended before this step");
		out_puts(o, "/>\n");
	} else {
		problem(o, r, s);
	}
	out_puts(o, "    </testcase>\n");
}

static void property_ms(struct out *o, const char *name, int64_t ms)
{
	char num[32];

	if (ms < 0)
		return;
	snprintf(num, sizeof(num), "%lld", (long long)ms);
	out_xml_property(o, name, num);
}

static void properties(struct out *o, const struct result_run *r)
{
	out_puts(o, "    <properties>\n");
	out_xml_property(o, "scenario", r->path);
	out_xml_property(o, "verdict", verdict_name(r->verdict));
	out_xml_property(o, "backend", r->backend);
	out_xml_property(o, "accel", r->accel);
	out_xml_property(o, "arch", r->arch);
	out_xml_property(o, "command", r->command);
	out_xml_property(o, "console.raw", r->console_raw);
	out_xml_property(o, "console.log", r->console_log);
	property_ms(o, "first_console_byte_ms", r->timed ? r->first_byte_ms : -1);
	if (r->attempts > 1) {
		property_ms(o, "attempts", r->attempts);
		out_xml_property(o, "flaky", r->flaky ? "true" : "false");
	}
	out_xml_property(o, "shard", r->shard);
	out_xml_property(o, "artifacts", r->artifacts);
	out_puts(o, "    </properties>\n");
}

/* "2024-05-06T07:08:09": JUnit's timestamp has no zone and no fraction; now when unknown. */
static void put_timestamp(struct out *o, int64_t wall_ms)
{
	time_t t = wall_ms >= 0 ? (time_t)(wall_ms / 1000) : time(NULL);
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		o->err = o->err ? o->err : -EOVERFLOW;
		return;
	}
	out_putf(o, " timestamp=\"%04d-%02d-%02dT%02d:%02d:%02d\"", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

struct tally {
	size_t failures, errors, skipped;
	bool attached; /* a step carries the run's problem (or there is none) */
};

static struct tally tally_of(const struct result_run *r)
{
	struct tally t = {0, 0, 0, r->verdict == RUN_PASSED};

	for (size_t i = 0; i < r->nsteps; i++) {
		switch (r->steps[i].status) {
		case RESULT_STEP_FAILED:
		case RESULT_STEP_TIMED_OUT:
			t.failures++;
			t.attached = true;
			break;
		case RESULT_STEP_ERROR:
			t.errors++;
			t.attached = true;
			break;
		case RESULT_STEP_SKIPPED:
			t.skipped++;
			break;
		default:
			break;
		}
	}
	if (!t.attached)
		*(verdict_is_error(r->verdict) ? &t.errors : &t.failures) += 1;
	return t;
}

static void testsuite_open(struct out *o, const struct result_run *r, size_t id,
			   const struct tally *t)
{
	out_puts(o, "  <testsuite");
	out_xml_attr(o, "name", scenario_label(r));
	out_puts(o, " package=\"initrd-test\"");
	out_putf(o, " id=\"%zu\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"", id,
		 r->nsteps + !t->attached, t->failures, t->errors, t->skipped);
	put_time_attr(o, r->timed ? r->total_ms : 0);
	put_timestamp(o, r->started_at_ms);
	out_xml_attr(o, "hostname", r->hostname && r->hostname[0] ? r->hostname : "localhost");
	out_puts(o, ">\n");
}

static void testsuite(struct out *o, const struct result_run *r, size_t id)
{
	struct tally t = tally_of(r);

	testsuite_open(o, r, id, &t);
	properties(o, r);
	for (size_t i = 0; i < r->nsteps; i++)
		testcase(o, r, &r->steps[i]);
	if (!t.attached) {
		/* Nothing to hang the problem on: no steps ran, or every step passed. */
		testcase_open(o, r, "run", r->total_ms);
		out_puts(o, ">\n");
		problem(o, r, NULL);
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

int result_junit(const struct result_set *s, struct buf *out)
{
	struct out o = {out, 0};
	unsigned long c[RUN_VERDICT_MAX], flaky;
	int64_t total = 0;

	result_set_count(s, c, &flaky);
	for (size_t i = 0; i < s->n; i++) {
		if (s->runs[i].timed && s->runs[i].total_ms > 0)
			total += s->runs[i].total_ms;
	}
	out_puts(&o,
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"initrd-test\"");
	out_putf(&o, " tests=\"%zu\" failures=\"%lu\" errors=\"%lu\"", s->n,
		 c[RUN_FAILED] + c[RUN_CRASHED] + c[RUN_TIMED_OUT],
		 c[RUN_INFRA_ERROR] + c[RUN_USAGE_ERROR] + c[RUN_INTERRUPTED]);
	put_time_attr(&o, total);
	out_puts(&o, ">\n");
	for (size_t i = 0; i < s->n; i++)
		testsuite(&o, &s->runs[i], i);
	out_puts(&o, "</testsuites>\n");
	return o.err;
}
