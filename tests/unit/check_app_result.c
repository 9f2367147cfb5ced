// SPDX-License-Identifier: MIT
/* Unit tests for the result model (src/result*.c) and src/cmd_replay.c: verdicts, outputs, replay.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "common/util.h"
#include "expect/expect.h"
#include "src/cmds.h"
#include "src/result.h"
#include "scenario/scenario.h"
#include "tests/unit/testutil.h"

/* One run as a set, borrowed: what the writers take. */
#define SET1(r) (&(struct result_set){(struct result_run *)(r), 1})

#define DATA "tests/data/report"
#define BOOT_LOG "tests/data/boot/alpine-3.19.1-networking.raw.log"
#define GOLDEN_SCN DATA "/golden"
#define LOGIN_SCN DATA "/boot-to-login"
#define NETWORKING "scenarios/networking"
/* The console-only networking scenario that the recorded logs were made with. */
#define REPLAY_NET "tests/data/replay/networking"
#define E1000_LINE "e1000: Intel(R) PRO/1000 Network Driver"
#define MDEV_LINE "Scanning hardware for mdev ... [ ok ]"
/* Set to regenerate the golden files (then review the diff). */
#define UPDATE_ENV "IT_UPDATE_GOLDEN"

static void write_text(const char *path, const char *text)
{
	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* Byte-for-byte comparison with a golden file, or its regeneration with IT_UPDATE_GOLDEN=1. */
static void golden(const char *name, const struct buf *got)
{
	char path[256];
	struct buf want;
	size_t i = 0;

	snprintf(path, sizeof(path), DATA "/%s", name);
	if (getenv(UPDATE_ENV) && getenv(UPDATE_ENV)[0]) {
		ck_assert_int_eq(write_file_atomic(path, got->data, got->len, 0644), 0);
		return;
	}
	tu_read_new(&want, path);
	while (i < want.len && i < got->len && want.data[i] == got->data[i])
		i++;
	ck_assert_msg(want.len == got->len && i == got->len,
		      "%s differs at byte %zu (want %zu bytes, got %zu): got '%.60s'", path, i,
		      want.len, got->len, got->data + (i > 20 ? i - 20 : 0));
	buf_release(&want);
}

/* A run's JUnit and JSON against the golden NAME.junit.xml and NAME.json; out keeps the JSON. */
static void golden_reports(const struct result_run *r, const char *name, struct buf *out)
{
	const struct result_run *runs[] = {r};
	char file[64];

	buf_init(out, 0);
	ck_assert_int_eq(result_junit(SET1(runs[0]), out), 0);
	snprintf(file, sizeof(file), "%s.junit.xml", name);
	golden(file, out);
	buf_reset(out);
	ck_assert_int_eq(result_json(SET1(runs[0]), out), 0);
	snprintf(file, sizeof(file), "%s.json", name);
	golden(file, out);
}

/*
 * The real raw boot as a console log in conlog's format, each line stamped
 * with the kernel's own printk time when it has one (else the last one
 * seen): a deterministic stand-in for what `initrd-test run` would save.
 * Lines holding 'drop' are left out (a boot without that message).
 */
static void make_timed_log(const char *drop, struct buf *out)
{
	struct conlog *cl = NULL;
	struct buf raw;
	struct blob rest, line;
	int64_t t = 0;

	tu_read_new(&raw, BOOT_LOG);
	buf_init(out, 0);
	ck_assert_int_eq(conlog_new(&cl), 0);
	conlog_start(cl, 0);
	rest = buf_blob(&raw);
	while (rest.len > 0) {
		bool nl = blob_split(rest, '\n', &line, &rest);
		unsigned long long sec = 0, usec = 0;
		char *copy, *stamp;

		if (!nl) {
			line = rest;
			rest = BLOB_NULL;
		}
		copy = blob_dup(line);
		ck_assert_ptr_nonnull(copy);
		/*
		 * A line gets the first printk time in it (OpenRC's "Loading hardware
		 * drivers ..." ends when the driver's message comes); lines without one
		 * (OpenRC, getty) come 25 ms apart. Time never goes back.
		 */
		stamp = strchr(copy, '[');
		while (stamp && sscanf(stamp, "[ %llu.%llu]", &sec, &usec) != 2)
			stamp = strchr(stamp + 1, '[');
		if (stamp && (int64_t)(sec * 1000 + usec / 1000) > t)
			t = (int64_t)(sec * 1000 + usec / 1000);
		else if (!stamp)
			t += 25;
		if (!drop || !strstr(copy, drop))
			ck_assert_int_eq(conlog_feed(cl, line.ptr, line.len + nl, t, out), 0);
		free(copy);
	}
	ck_assert_int_eq(conlog_finish(cl, out), 0);
	conlog_free(cl);
	buf_release(&raw);
}

struct run {
	struct scenario s;
	struct expect *e;
	struct result_run rep;
	bool timed;
};

/* Load a scenario, replay a log through it and settle a report with fixed values. */
static void run_replay(struct run *x, const char *scn, struct blob log)
{
	struct it_error err = IT_ERROR_INIT;
	static const char *const words[] = {"qemu-system-x86_64",
					    "-accel",
					    "tcg",
					    "-append",
					    "console=ttyS0 quiet",
					    "-kernel",
					    "/boot/vmlinuz-6.1.0-56-amd64"};
	struct strlist argv = STRLIST_INIT;
	int st;

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		ck_assert_int_eq(strlist_add(&argv, words[i]), 0);

	scenario_init(&x->s);
	ck_assert_msg(scenario_load(&x->s, scn, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(expect_new(&x->e), 0);
	ck_assert_msg(scenario_to_expect(&x->s, x->e, &err) == 0, "%s", err.msg);
	st = expect_replay(x->e, log, &x->timed);
	ck_assert_int_ge(st, 0);

	result_run_init(&x->rep);
	ck_assert_int_eq(result_setstr(&x->rep.scenario, x->s.name), 0);
	ck_assert_int_eq(result_setstr(&x->rep.path, x->s.path), 0);
	ck_assert_int_eq(result_setstr(&x->rep.backend, "qemu"), 0);
	ck_assert_int_eq(result_setstr(&x->rep.accel, "tcg"), 0);
	ck_assert_int_eq(result_setstr(&x->rep.hostname, "ci-runner-7"), 0);
	ck_assert_int_eq(result_setstr(&x->rep.console_raw, "out/console.raw"), 0);
	ck_assert_int_eq(result_setstr(&x->rep.console_log, "out/console.log"), 0);
	ck_assert_int_eq(result_set_command(&x->rep, argv.v), 0);
	strlist_clear(&argv);
	ck_assert_int_eq(result_set_tail(&x->rep, log), 0);
	x->rep.timed = x->timed;
	x->rep.started_at_ms = 1700000000123LL; /* 2023-11-14T22:13:20.123Z */
	x->rep.first_byte_ms = 412;
	result_finish(&x->rep, x->e, 0, NULL);
}

static void run_release(struct run *x)
{
	result_run_release(&x->rep);
	expect_free(x->e);
	scenario_release(&x->s);
}

static void text_of(const struct result_run *r, unsigned width, bool color, bool quiet,
		    struct buf *out)
{
	struct result_text_opts o = {width, color, quiet};

	buf_init(out, 0);
	ck_assert_int_eq(result_text(r, &o, out), 0);
}

/* ---- scenario to engine ------------------------------------------------------------------- */

START_TEST(test_scenario_to_expect_networking)
{
	struct it_error err = IT_ERROR_INIT;
	struct scenario s;
	struct expect *e = NULL;
	const struct expect_step_result *st;

	scenario_init(&s);
	ck_assert_msg(scenario_load(&s, NETWORKING, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_msg(scenario_to_expect(&s, e, &err) == 0, "%s", err.msg);

	/* Every step, in order, with its name, place, text, kind and timeout. */
	ck_assert_uint_eq(expect_nsteps(e), s.nsteps);
	ck_assert_uint_ge(s.nsteps, 6);
	for (size_t i = 0; i < s.nsteps; i++) {
		const struct scenario_step *ss = &s.steps[i];

		st = expect_step(e, i);
		ck_assert_str_eq(st->name, ss->name);
		ck_assert_str_eq(st->where, ss->where);
		ck_assert_str_eq(st->pattern, ss->text);
		ck_assert_int_eq(st->kind, ss->kind == SCENARIO_STEP_SEND     ? EXPECT_KIND_SEND
					   : scenario_step_is_agent(ss->kind) ? EXPECT_KIND_EXTERNAL
									      : EXPECT_KIND_EXPECT);
		ck_assert_int_eq(st->timeout_ms,
				 ss->kind == SCENARIO_STEP_SEND || ss->kind == SCENARIO_STEP_OUTPUT
				     ? 0
				     : ss->timeout_ms);
	}
	st = expect_step(e, 0);
	ck_assert_str_eq(st->name, "openrc");
	ck_assert_int_eq(st->timeout_ms, 60000);

	/* The scenario's fail pattern is live, with its place. */
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_feed(e, "udhcpc: no lease, failing\n", 26, 100), EXPECT_FAILED);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_FAIL_PATTERN);
	ck_assert_str_eq(expect_outcome(e)->fail_pattern, "udhcpc: no lease, failing");
	ck_assert_ptr_nonnull(
	    strstr(expect_outcome(e)->fail_where, "scenarios/networking/scenario:"));
	ck_assert_int_eq(result_verdict_of(e, 0), RUN_FAILED);
	expect_free(e);
	scenario_release(&s);
}
END_TEST

START_TEST(test_scenario_to_expect_timeouts)
{
	struct it_error err = IT_ERROR_INIT;
	char path[600];
	struct scenario s;
	struct expect *e = NULL;

	/* The whole-run timeout comes from 'timeout'; a step's own from 'within'. */
	tu_path(path, sizeof(path), "t.scenario");
	write_text(path, "packages alpine-base\ntimeout 2s\nstep-timeout 10s\n"
			 "expect first /one/ within 500ms\nexpect second /two/\n");
	scenario_init(&s);
	ck_assert_msg(scenario_load(&s, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_int_eq(scenario_to_expect(&s, e, &err), 0);
	ck_assert_int_eq(expect_step(e, 0)->timeout_ms, 500);
	ck_assert_int_eq(expect_step(e, 1)->timeout_ms, 10000);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_feed(e, "one\n", 4, 400), EXPECT_RUNNING);
	ck_assert_int_eq(expect_tick(e, 1999), EXPECT_RUNNING);
	ck_assert_int_eq(expect_tick(e, 2000), EXPECT_TIMED_OUT);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_RUN_TIMEOUT);
	ck_assert_int_eq(result_verdict_of(e, 0), RUN_TIMED_OUT);
	ck_assert_int_eq(verdict_exit(result_verdict_of(e, 0)), EXIT_TIMEOUT);
	expect_free(e);
	scenario_release(&s);
}
END_TEST

START_TEST(test_scenario_to_expect_error)
{
	struct it_error err = IT_ERROR_INIT;
	char path[600], want[700];
	struct scenario s;
	struct expect *e = NULL;

	/* The parser leaves ${...} to the engine, which refuses an unknown group. */
	tu_path(path, sizeof(path), "bad.scenario");
	write_text(path, "packages alpine-base\nexpect a /x(?<ip>y)/\nexpect b /${nope}/\n");
	scenario_init(&s);
	ck_assert_msg(scenario_load(&s, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_int_eq(scenario_to_expect(&s, e, &err), -IT_ESCENARIO);
	snprintf(want, sizeof(want), "%s:3: ", path);
	ck_assert_msg(!strncmp(err.msg, want, strlen(want)), "message '%s'", err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
	ck_assert_int_eq(verdict_exit(result_verdict_of(NULL, -IT_ESCENARIO)), EXIT_USAGE);
	expect_free(e);
	scenario_release(&s);
}
END_TEST

/* ---- verdicts ----------------------------------------------------------------------------- */

static enum run_verdict verdict_after(const char *console, int64_t tick)
{
	struct it_error err = IT_ERROR_INIT;
	struct expect *e = NULL;
	enum run_verdict v;

	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_int_eq(expect_add_fail(e, "no lease", true, "t:1", &err), 0);
	ck_assert_int_eq(expect_add_expect(e, "login", "login: ", true, 1000, "t:2", &err), 0);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_ge(expect_feed(e, console, strlen(console), 10), 0);
	if (tick >= 0)
		expect_tick(e, tick);
	if (tick == -2)
		expect_eof(e, 20);
	v = result_verdict_of(e, 0);
	expect_free(e);
	return v;
}

START_TEST(test_verdicts_and_exit_codes)
{
	static const struct {
		int code;
		enum run_verdict v;
		int exit;
	} codes[] = {
	    {0, RUN_PASSED, EXIT_PASS},
	    {-IT_EFAIL, RUN_FAILED, EXIT_FAILED},
	    {-IT_ETIMEOUT, RUN_TIMED_OUT, EXIT_TIMEOUT},
	    {-IT_EUSAGE, RUN_USAGE_ERROR, EXIT_USAGE},
	    {-IT_ESCENARIO, RUN_USAGE_ERROR, EXIT_USAGE},
	    {-IT_EVM, RUN_INFRA_ERROR, EXIT_INFRA},
	    {-IT_ENOTFOUND, RUN_INFRA_ERROR, EXIT_INFRA},
	    {-IT_EKERNEL, RUN_INFRA_ERROR, EXIT_INFRA},
	    {-ENOENT, RUN_INFRA_ERROR, EXIT_INFRA},
	    {-ENOMEM, RUN_INFRA_ERROR, EXIT_INFRA},
	    {-IT_EINTERRUPTED, RUN_INTERRUPTED, EXIT_INTERRUPTED},
	};

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		ck_assert_int_eq(result_verdict_of(NULL, codes[i].code), codes[i].v);
		ck_assert_int_eq(verdict_exit(codes[i].v), codes[i].exit);
	}
	ck_assert_str_eq(verdict_name(RUN_PASSED), "passed");
	ck_assert_str_eq(verdict_name(RUN_TIMED_OUT), "timed_out");
	ck_assert_str_eq(verdict_name(RUN_CRASHED), "crashed");
	ck_assert_str_eq(verdict_name(RUN_INFRA_ERROR), "infra_error");

	/* From the engine: passed, failed, crashed (panic, oops), timed out, log ended. */
	ck_assert_int_eq(verdict_after("alpine login: ", -1), RUN_PASSED);
	ck_assert_int_eq(verdict_after("udhcpc: no lease, failing\n", -1), RUN_FAILED);
	ck_assert_int_eq(verdict_after("[    1.5] Kernel panic - not syncing: VFS: Unable to "
				       "mount root fs on unknown-block(0,0)\n",
				       -1),
			 RUN_CRASHED);
	ck_assert_int_eq(verdict_after("[    2.1] Oops: 0000 [#1] PREEMPT SMP NOPTI\n", -1),
			 RUN_CRASHED);
	ck_assert_int_eq(verdict_after("booting\n", 1010), RUN_TIMED_OUT);
	ck_assert_int_eq(verdict_after("booting\n", -2), RUN_FAILED);
	ck_assert_int_eq(verdict_exit(RUN_CRASHED), EXIT_FAILED);

	/* An infrastructure error wins over an engine still waiting. */
	{
		struct expect *e = NULL;

		ck_assert_int_eq(expect_new(&e), 0);
		ck_assert_int_eq(expect_add_expect(e, "x", "x", true, 0, NULL, NULL), 0);
		ck_assert_int_eq(expect_start(e, 0), 0);
		ck_assert_int_eq(result_verdict_of(e, -IT_EVM), RUN_INFRA_ERROR);
		ck_assert_int_eq(result_verdict_of(e, 0),
				 RUN_FAILED); /* stopped without an answer */
		expect_free(e);
	}
}
END_TEST

/* A scenario with agent steps, loaded and given to a new engine started at 0. */
static void agent_run(struct run *x, const char *text)
{
	struct it_error err = IT_ERROR_INIT;
	char dir[256], path[300];

	tu_path(dir, sizeof(dir), "agentscn");
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/scenario", dir);
	write_text(path, text);
	scenario_init(&x->s);
	ck_assert_msg(scenario_load(&x->s, dir, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(expect_new(&x->e), 0);
	ck_assert_msg(scenario_to_expect(&x->s, x->e, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(expect_start(x->e, 0), 0);
	result_run_init(&x->rep);
	ck_assert_int_eq(result_setstr(&x->rep.scenario, "agentscn"), 0);
	ck_assert_int_eq(result_setstr(&x->rep.console_log, "out/console.log"), 0);
	x->rep.timed = true;
	x->rep.first_byte_ms = 10;
	/* As the run's driver does: every agent step's kind is noted from the start. */
	for (size_t i = 0; i < x->s.nsteps; i++) {
		struct result_output none = {BLOB_NULL, 0};

		if (scenario_step_is_agent(x->s.steps[i].kind))
			ck_assert_int_eq(
			    result_note_step(&x->rep, i,
					     scenario_step_kind_name(x->s.steps[i].kind), -1, none,
					     none),
			    0);
	}
}

/*
 * Agent steps in the result: a command's exit status and outputs apart, cut
 * with a count of what was left out; an agent lost at a step is a class of
 * its own (failed, why "agent"), in the verdict line, the JSON (read back
 * the same) and JUnit.
 */
START_TEST(test_agent_steps)
{
#define LEFT_OUT "\n[initrd-test: 1813 more bytes left out]\n"
	static const char feed[] = "Linux version 6.1.0\n";
	struct result_output out = {blob_str("hi\n"), 0}, err = {BLOB_NULL, 0};
	struct it_error e = IT_ERROR_INIT;
	struct result_set back;
	struct buf big, json, junit;
	const struct result_step *st;
	struct run x;

	agent_run(&x, "expect boot /Linux version/\nagent-ready\nrun echo hi\nrun-fail false\n");
	ck_assert_int_ge(expect_feed(x.e, feed, strlen(feed), 100), 0);
	ck_assert_int_eq(expect_external(x.e, NULL), 1);
	ck_assert_int_ge(expect_external_done(x.e, true, "initrd-test-agent 0.1.0 on fd 3", 200),
			 0);
	ck_assert_int_eq(result_note_step(&x.rep, 2, "run", 0, out, err), 0);
	ck_assert_int_ge(expect_external_done(x.e, true, "exit 0: hi", 300), 0);
	/* 10000 bytes kept of stdout, 5 more dropped at a cap: 8 KiB shown, 1813 counted. */
	buf_init(&big, 0);
	for (int i = 0; i < 10000; i++)
		buf_addch(&big, 'x');
	out = (struct result_output){buf_blob(&big), 5};
	err = (struct result_output){blob_str("no\n"), 0};
	ck_assert_int_eq(result_note_step(&x.rep, 3, "run-fail", 1, out, err), 0);
	ck_assert_int_eq(result_note_lost(&x.rep, 3), 0);
	ck_assert_int_ge(expect_external_done(x.e, false,
					      "the agent stopped answering; last console line: "
					      "'Linux version 6.1.0'",
					      400),
			 0);
	result_finish(&x.rep, x.e, 0, NULL);
	ck_assert_int_eq(x.rep.verdict, RUN_FAILED);
	ck_assert_int_eq(x.rep.outcome.why, RESULT_WHY_AGENT);
	ck_assert_int_eq(result_exit_code(&x.rep), EXIT_FAILED);
	ck_assert_msg(!strncmp(x.rep.message, "FAILED agentscn at step 'run-fail' (", 36) &&
			  strstr(x.rep.message, "/scenario:4): the guest agent was lost: the agent "
						"stopped answering; last console line: 'Linux "
						"version 6.1.0'"),
		      "%s", x.rep.message);
	st = &x.rep.steps[1];
	ck_assert_str_eq(st->action, "agent-ready");
	ck_assert_int_eq(st->status, RESULT_STEP_PASSED);
	st = &x.rep.steps[2];
	ck_assert_str_eq(st->action, "run");
	ck_assert_int_eq(st->exit_code, 0);
	ck_assert_str_eq(st->out_text, "hi\n");
	ck_assert_ptr_null(st->err_text);
	st = &x.rep.steps[3];
	ck_assert_int_eq(st->status, RESULT_STEP_FAILED);
	ck_assert_int_eq(st->exit_code, 1);
	ck_assert_uint_eq(strlen(st->out_text), RESULT_OUTPUT_MAX + strlen(LEFT_OUT));
	ck_assert_str_eq(st->out_text + RESULT_OUTPUT_MAX, LEFT_OUT);
	ck_assert_str_eq(st->err_text, "no\n");

	/* The JSON says so, and reads back the same. */
	buf_init(&json, 0);
	ck_assert_int_eq(result_json(SET1(&x.rep), &json), 0);
	ck_assert_ptr_nonnull(strstr(json.data, "\"why\": \"agent\""));
	result_set_init(&back);
	ck_assert_msg(result_json_parse(&back, buf_blob(&json), "agent.json", &e) == 0, "%s",
		      e.msg);
	ck_assert_int_eq(back.runs[0].verdict, RUN_FAILED);
	ck_assert_int_eq(back.runs[0].outcome.why, RESULT_WHY_AGENT);
	ck_assert_str_eq(back.runs[0].steps[3].action, "run-fail");
	ck_assert_int_eq(back.runs[0].steps[3].exit_code, 1);
	ck_assert_str_eq(back.runs[0].steps[3].out_text, st->out_text);
	ck_assert_str_eq(back.runs[0].steps[3].err_text, "no\n");
	ck_assert_str_eq(back.runs[0].message, x.rep.message);
	/* JUnit: its own failure type. */
	buf_init(&junit, 0);
	ck_assert_int_eq(result_junit(SET1(&x.rep), &junit), 0);
	ck_assert_ptr_nonnull(strstr(junit.data, "type=\"agent-lost\""));
	result_set_release(&back);
	buf_release(&json);
	buf_release(&junit);
	buf_release(&big);
	run_release(&x);

	/* An agent-ready step that times out: the agent never started, the same class. */
	agent_run(&x, "expect boot /Linux version/\nagent-ready within 5s\n");
	ck_assert_int_ge(expect_feed(x.e, feed, strlen(feed), 100), 0);
	ck_assert_int_eq(expect_tick(x.e, 5200), EXPECT_TIMED_OUT);
	result_finish(&x.rep, x.e, 0, NULL);
	ck_assert_int_eq(x.rep.verdict, RUN_FAILED);
	ck_assert_int_eq(x.rep.outcome.why, RESULT_WHY_AGENT);
	ck_assert_int_eq(x.rep.steps[1].status, RESULT_STEP_FAILED);
	ck_assert_msg(strstr(x.rep.message, "): the guest agent did not start: no hello on its "
					    "channel within 5s; last console line: 'Linux "
					    "version 6.1.0'"),
		      "%s", x.rep.message);
	ck_assert_str_eq(x.rep.hint, "see the console log: out/console.log");
	run_release(&x);
}
END_TEST

START_TEST(test_crash_report)
{
	struct it_error err = IT_ERROR_INIT;
	struct result_run r;
	struct expect *e = NULL;
	struct buf line, hint;
	const char *panic = "[    3.201] Kernel panic - not syncing: Attempted to kill init!\r\n";

	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_int_eq(expect_add_expect(e, "login", "login: ", true, 0, "s:4", &err), 0);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_feed(e, panic, strlen(panic), 3210), EXPECT_FAILED);
	result_run_init(&r);
	ck_assert_int_eq(result_setstr(&r.scenario, "boot"), 0);
	result_finish(&r, e, -IT_EFAIL, NULL);
	ck_assert_int_eq(r.verdict, RUN_CRASHED);
	ck_assert_int_eq(result_exit_code(&r), EXIT_FAILED);
	ck_assert_int_eq(r.total_ms, 3210);
	buf_init(&line, 0);
	buf_init(&hint, 0);
	ck_assert_int_eq(result_verdict_line(&r, &line, &hint), 0);
	ck_assert_str_eq(line.data,
			 "CRASHED boot at step 'login' (s:4): fail pattern \"Kernel "
			 "panic\" (built-in: kernel panic) matched at 3.2s: '[    3.201] "
			 "Kernel panic - not syncing: Attempted to kill init!'");
	ck_assert_str_eq(hint.data, "");
	buf_release(&line);
	buf_release(&hint);
	result_run_release(&r);
	expect_free(e);
}
END_TEST

/* ---- golden outputs ----------------------------------------------------------------------- */

START_TEST(test_golden_pass)
{
	struct run x;
	struct buf log, out;
	char want[64];

	make_timed_log(NULL, &log);
	run_replay(&x, LOGIN_SCN, buf_blob(&log));
	ck_assert(x.timed);
	ck_assert_int_eq(x.rep.verdict, RUN_PASSED);
	ck_assert_int_eq(result_exit_code(&x.rep), EXIT_PASS);

	golden_reports(&x.rep, "pass", &out);
	/* The boot milestones are in the JSON, for comparisons against baselines. */
	ck_assert_ptr_nonnull(strstr(out.data, "\"first_console_byte_ms\": 412,"));
	snprintf(want, sizeof(want), "\"e1000-driver\": %lld,",
		 (long long)expect_step(x.e, 2)->at_ms);
	ck_assert_ptr_nonnull(strstr(out.data, want));
	buf_release(&out);
	text_of(&x.rep, 80, false, false, &out);
	golden("pass.txt", &out);
	buf_release(&out);
	/* Quiet: nothing at all for a pass. */
	text_of(&x.rep, 80, false, true, &out);
	ck_assert_uint_eq(out.len, 0);
	buf_release(&out);
	run_release(&x);
	buf_release(&log);
}
END_TEST

START_TEST(test_golden_timeout)
{
	struct run x;
	struct buf log, out;
	const struct expect_outcome *oc;

	make_timed_log(E1000_LINE, &log);
	run_replay(&x, GOLDEN_SCN, buf_blob(&log));
	oc = expect_outcome(x.e);
	ck_assert_int_eq(oc->state, EXPECT_TIMED_OUT);
	ck_assert_int_eq(oc->why, EXPECT_WHY_STEP_TIMEOUT);
	ck_assert_str_eq(expect_step(x.e, oc->step)->name, "e1000-driver");
	ck_assert_int_eq(x.rep.verdict, RUN_TIMED_OUT);
	ck_assert_int_eq(result_exit_code(&x.rep), EXIT_TIMEOUT);

	golden_reports(&x.rep, "timeout", &out);
	buf_release(&out);
	text_of(&x.rep, 80, false, false, &out);
	golden("timeout.txt", &out);
	buf_release(&out);
	run_release(&x);
	buf_release(&log);
}
END_TEST

START_TEST(test_golden_infra_error)
{
	struct it_error err = IT_ERROR_INIT;
	struct result_run r;
	struct buf out;

	/* Failed before any engine existed: one testcase "run" carries the <error>. */
	result_run_init(&r);
	ck_assert_int_eq(result_setstr(&r.scenario, "networking"), 0);
	ck_assert_int_eq(result_setstr(&r.path, "scenarios/networking/scenario"), 0);
	ck_assert_int_eq(result_setstr(&r.backend, "qemu"), 0);
	ck_assert_int_eq(result_setstr(&r.hostname, "ci-runner-7"), 0);
	r.started_at_ms = 1700000000123LL;
	r.total_ms = 31;
	it_error_set(&err, -IT_ENOTFOUND, "'qemu-system-x86_64' not found in PATH");
	it_error_hint(&err, "install it: apt-get install qemu-system-x86");
	result_finish(&r, NULL, err.code, &err);
	ck_assert_int_eq(r.verdict, RUN_INFRA_ERROR);
	ck_assert_int_eq(result_exit_code(&r), EXIT_INFRA);

	golden_reports(&r, "infra", &out);
	buf_release(&out);
	text_of(&r, 80, false, false, &out);
	ck_assert_str_eq(out.data, "ERROR networking: 'qemu-system-x86_64' not found in PATH\n"
				   "hint: install it: apt-get install qemu-system-x86\n");
	buf_release(&out);
	result_run_release(&r);
}
END_TEST

/*
 * A suite's merged report, read back from the three golden runs as 'report' and a
 * suite read their children's results, one of them from a shard with artifacts:
 * its JUnit and JSON come from the same writers as a single run's.
 */
START_TEST(test_golden_merged)
{
	static const char *const files[] = {"pass.json", "timeout.json", "infra.json"};
	struct it_error err = IT_ERROR_INIT;
	struct result_set s;
	struct buf out;
	char path[256];

	result_set_init(&s);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), DATA "/%s", files[i]);
		ck_assert_msg(result_json_load(&s, path, &err) == 0, "%s", err.msg);
	}
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(result_setstr(&s.runs[1].shard, "2/3"), 0);
	ck_assert_int_eq(result_setstr(&s.runs[1].artifacts, "out/artifacts/golden"), 0);
	buf_init(&out, 0);
	ck_assert_int_eq(result_junit(&s, &out), 0);
	golden("merged.junit.xml", &out);
	buf_reset(&out);
	ck_assert_int_eq(result_json(&s, &out), 0);
	golden("merged.json", &out);
	ck_assert_int_eq(result_set_exit_code(&s), EXIT_TIMEOUT);
	buf_release(&out);
	result_set_release(&s);
}
END_TEST

START_TEST(test_infra_error_with_engine)
{
	struct it_error err = IT_ERROR_INIT;
	struct result_run r;
	struct expect *e = NULL;
	struct buf out;
	const struct result_run *runs[] = {&r};
	const char *boot = "OpenRC 0.52.1 is starting up\n";

	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_int_eq(expect_add_expect(e, "openrc", "OpenRC", true, 0, "s:1", NULL), 0);
	ck_assert_int_eq(expect_add_expect(e, "login", "login: ", true, 0, "s:2", NULL), 0);
	it_error_set(&err, -IT_EVM, "qemu exited with status 1");

	/* The VM never started: the error is no step's; no table, a testcase "run". */
	result_run_init(&r);
	ck_assert_int_eq(result_setstr(&r.scenario, "boot"), 0);
	result_finish(&r, e, err.code, &err);
	ck_assert_int_eq(result_exit_code(&r), EXIT_INFRA);
	text_of(&r, 80, false, false, &out);
	ck_assert_str_eq(out.data, "ERROR boot: qemu exited with status 1\n");
	buf_reset(&out);
	ck_assert_int_eq(result_junit(SET1(runs[0]), &out), 0);
	ck_assert_ptr_nonnull(
	    strstr(out.data, "tests=\"3\" failures=\"0\" errors=\"1\" skipped=\"2\""));
	ck_assert_ptr_nonnull(strstr(out.data, "<testcase name=\"run\" classname=\"boot\""));
	ck_assert_ptr_nonnull(strstr(out.data, "<error type=\"infra_error\" message=\"ERROR boot: "
					       "qemu exited with status 1\">"));
	buf_release(&out);
	result_run_release(&r);

	/* It died while a step was waiting: that step carries the error. */
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_feed(e, boot, strlen(boot), 4000), EXPECT_RUNNING);
	result_run_init(&r);
	ck_assert_int_eq(result_setstr(&r.scenario, "boot"), 0);
	result_finish(&r, e, err.code, &err);
	text_of(&r, 80, false, false, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "openrc  ok          4.000s  OpenRC 0.52.1"));
	ck_assert_ptr_nonnull(
	    strstr(out.data, "\nlogin   ERROR            -  no match for \"login: \"\n"));
	ck_assert_ptr_nonnull(strstr(out.data,
				     "\nERROR boot at step 'login' (s:2): qemu exited with "
				     "status 1\n"));
	buf_reset(&out);
	ck_assert_int_eq(result_junit(SET1(runs[0]), &out), 0);
	ck_assert_ptr_nonnull(
	    strstr(out.data, "tests=\"2\" failures=\"0\" errors=\"1\" skipped=\"0\""));
	ck_assert_ptr_null(strstr(out.data, "name=\"run\""));
	buf_release(&out);
	result_run_release(&r);
	expect_free(e);
}
END_TEST

/* ---- the table ---------------------------------------------------------------------------- */

/* Display columns of one line (code points; the table holds no wide characters). */
static size_t cols(const char *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)p[i] & 0xc0) != 0x80;
	return c;
}

START_TEST(test_table_width_colour_quiet)
{
	struct run x;
	struct buf log, out;
	struct blob rest, line;
	char path[600];
	FILE *f;

	make_timed_log(E1000_LINE, &log);
	run_replay(&x, GOLDEN_SCN, buf_blob(&log));

	/* Every table row fits the width; the cut is marked. */
	text_of(&x.rep, 50, false, false, &out);
	rest = buf_blob(&out);
	for (int row = 0; blob_split(rest, '\n', &line, &rest) && row < 9; row++)
		ck_assert_msg(cols(line.ptr, line.len) <= 50, "row %d too wide: '%.*s'", row,
			      (int)line.len, line.ptr);
	ck_assert_ptr_nonnull(strstr(out.data, "...\n"));
	buf_release(&out);

	/* Colour: the status cells and the verdict word only. */
	text_of(&x.rep, 80, true, false, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "\033[32mok\033[0m"));
	ck_assert_ptr_nonnull(strstr(out.data, "\033[1;31mTIMEOUT\033[0m"));
	ck_assert_ptr_nonnull(strstr(out.data, "\033[2mskipped\033[0m"));
	ck_assert_ptr_nonnull(strstr(out.data, "\033[1;31mTIMED OUT\033[0m golden at step "));
	buf_release(&out);

	/* Quiet: only the verdict and its hint. */
	text_of(&x.rep, 80, false, true, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "TIMED OUT golden at step 'e1000-driver'"));
	ck_assert_ptr_null(strstr(out.data, "STEP"));
	ck_assert_ptr_nonnull(strstr(out.data, "\nhint: see the console log: out/console.log\n"));
	buf_release(&out);

	/* Not a terminal: no colour, whatever NO_COLOR says. */
	tu_path(path, sizeof(path), "table.txt");
	f = fopen(path, "w+e");
	ck_assert_ptr_nonnull(f);
	setenv("NO_COLOR", "", 1);
	ck_assert_int_eq(result_print(&x.rep, f, false), 0);
	fclose(f);
	tu_read_new(&out, path);
	ck_assert_ptr_null(memchr(out.data, '\033', out.len));
	ck_assert_ptr_nonnull(strstr(out.data, "TIMED OUT golden"));
	buf_release(&out);

	run_release(&x);
	buf_release(&log);
}
END_TEST

/* ---- escaping ------------------------------------------------------------------------------ */

/* Hostile console text: escapes, C0/C1 controls, CR, invalid UTF-8, XML and JSON syntax. */
static const char hostile[] = "\033[31mred\033[0m \x01\x07\x7f|\xc2\x85|\xef\xbf\xbe|"
			      "<tag a=\"1\" b='2'>&amp; ]]> \\ \t\r\n"
			      "\xff\xfe|\xc0\xaf|\xed\xa0\x80|caf\xc3\xa9 \xf0\x9f\x90\xa7|"
			      "\xe2\x80\xa8|end";
/* What XML can carry of it: control bytes and invalid UTF-8 as the text \xHH. */
static const char hostile_xml[] =
    "\\x1b[31mred\\x1b[0m \\x01\\x07\\x7f|\\xc2\\x85|\\xef\\xbf\\xbe|"
    "<tag a=\"1\" b='2'>&amp; ]]> \\ \t\r\n"
    "\\xff\\xfe|\\xc0\\xaf|\\xed\\xa0\\x80|caf\xc3\xa9 \xf0\x9f\x90\xa7|"
    "\xe2\x80\xa8|end";
/* What JSON carries: every valid character, invalid bytes as the text \xHH. */
static const char hostile_json[] =
    "\033[31mred\033[0m \x01\x07\x7f|\xc2\x85|\xef\xbf\xbe|"
    "<tag a=\"1\" b='2'>&amp; ]]> \\ \t\r\n"
    "\\xff\\xfe|\\xc0\\xaf|\\xed\\xa0\\x80|caf\xc3\xa9 \xf0\x9f\x90\xa7|"
    "\xe2\x80\xa8|end";

/* Is every byte of b valid UTF-8 with no control character other than tab and LF? */
static bool clean_utf8(struct blob b)
{
	const unsigned char *p = (const unsigned char *)b.ptr;

	for (size_t i = 0; i < b.len;) {
		size_t n = p[i] < 0x80 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;

		if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n')
			return false;
		if (p[i] >= 0x80 && (p[i] < 0xc2 || p[i] > 0xf4 || i + n > b.len))
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		}
		if (p[i] == 0xed && p[i + 1] >= 0xa0)
			return false; /* a surrogate */
		i += n;
	}
	return true;
}

/*
 * Parse 'file' with Python's own XML or JSON parser and write one field, as
 * UTF-8 (invalid input would already have failed the parse), to 'dst'.
 */
static void python_extract(const char *kind, const char *file, const char *dst)
{
	char cmd[2048];
	const char *py =
	    "import sys, json, xml.etree.ElementTree as ET\n"
	    "kind, src, dst = sys.argv[1:4]\n"
	    "if kind == 'xml':\n"
	    "    root = ET.parse(src).getroot()\n"
	    "    s = root.find('testsuite')\n"
	    "    t = s.find('system-out').text + '\\0' + s.get('name') + '\\0'\n"
	    "    t += s.find('testcase').get('name') + '\\0'\n"
	    "    t += s.find('properties/property[@name=\"command\"]').get('value') + '\\0'\n"
	    "    f = root.find('testsuite/testcase/failure')\n"
	    "    t += f.get('message') + '\\0' + f.text\n"
	    "else:\n"
	    "    r = json.load(open(src, encoding='utf-8'))['runs'][0]\n"
	    "    t = r['console_tail'] + '\\0' + r['scenario'] + '\\0' + r['steps'][0]['name']\n"
	    "    t += '\\0' + r['command'] + '\\0' + r['message'] + '\\0' + r['steps'][0]['line']\n"
	    "open(dst, 'w', encoding='utf-8', newline='').write(t)\n";
	char script[600];
	int rc;

	tu_path(script, sizeof(script), "extract.py");
	write_text(script, py);
	snprintf(cmd, sizeof(cmd), "python3 '%s' %s '%s' '%s'", script, kind, file, dst);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "python3 could not parse '%s' as %s (exit %d)", file, kind, rc);
}

/* The fields python_extract() wrote, split at NULs. */
static size_t fields_of(const char *path, struct buf *b, const char **f, size_t max)
{
	size_t n = 0, i = 0;

	tu_read_new(b, path);
	while (n < max) {
		f[n++] = b->data + i;
		i += strlen(b->data + i) + 1;
		if (i > b->len)
			break;
	}
	return n;
}

/* The six fields Python's KIND parser reads from file, into f (pointing into got). */
static void python_fields(const char *kind, const char *file, struct buf *got, const char **f)
{
	char dst[600], name[32];

	snprintf(name, sizeof(name), "%s.out", kind);
	tu_path(dst, sizeof(dst), name);
	python_extract(kind, file, dst);
	ck_assert_uint_eq(fields_of(dst, got, f, 6), 6);
}

START_TEST(test_escaping_hostile_text)
{
	struct it_error err = IT_ERROR_INIT;
	struct result_run r;
	struct expect *e = NULL;
	struct buf out, got;
	const struct result_run *runs[] = {&r};
	char xml[600], json[600];
	const char *f[6];
	/* Step names, scenario name and the matched line are hostile too. */
	const char *console = "boot <ok> & \"fine\" \xff\n"
			      "fatal: '<bad>' & \"worse\" ]]> \xc3\xa9\n";
	struct strlist argv = STRLIST_INIT;

	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_int_eq(expect_add_fail(e, "fatal: '<bad>'", true, "s<1>:9", &err), 0);
	ck_assert_int_eq(expect_add_expect(e, "b<o>o&t\"", "boot <ok>", true, 0, "s:1", &err), 0);
	ck_assert_int_eq(expect_add_expect(e, "login", "login: ", true, 0, "s:2", &err), 0);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_feed(e, console, strlen(console), 1500), EXPECT_FAILED);

	result_run_init(&r);
	ck_assert_int_eq(result_setstr(&r.scenario, "x<&>\"'\x1b"), 0);
	ck_assert_int_eq(result_setstr(&r.hostname, "h"), 0);
	ck_assert_int_eq(strlist_add(&argv, "qemu"), 0);
	ck_assert_int_eq(strlist_add(&argv, "-append"), 0);
	ck_assert_int_eq(strlist_add(&argv, "console=ttyS0 a=\"<b>\" it's"), 0);
	ck_assert_int_eq(result_set_command(&r, argv.v), 0);
	strlist_clear(&argv);
	ck_assert_str_eq(r.command, "qemu -append 'console=ttyS0 a=\"<b>\" it'\\''s'");
	ck_assert_int_eq(result_set_tail(&r, blob_mem(hostile, strlen(hostile))), 0);
	r.started_at_ms = 0;
	result_finish(&r, e, -IT_EFAIL, NULL);
	ck_assert_int_eq(r.verdict, RUN_FAILED);

	/* JUnit: nothing XML 1.0 forbids, only valid UTF-8; Python's parser gets the text back. */
	buf_init(&out, 0);
	ck_assert_int_eq(result_junit(SET1(runs[0]), &out), 0);
	ck_assert(clean_utf8(buf_blob(&out)));
	ck_assert_ptr_nonnull(
	    strstr(out.data, "&lt;tag a=\"1\" b='2'&gt;&amp;amp; ]]&gt; \\ \t&#13;\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "name=\"b&lt;o&gt;o&amp;t&quot;\""));
	tu_path(xml, sizeof(xml), "r.xml");
	ck_assert_int_eq(result_run_write_junit(runs[0], xml, &err), 0);
	python_fields("xml", xml, &got, f);
	ck_assert_str_eq(f[0], hostile_xml);
	ck_assert_str_eq(f[1], "x<&>\"'\\x1b");
	ck_assert_str_eq(f[2], "b<o>o&t\"");
	ck_assert_str_eq(f[3], r.command);
	ck_assert_ptr_nonnull(strstr(f[4], "FAILED x<&>\"'\\x1b at step 'login' (s:2): fail "
					   "pattern \"fatal: '<bad>'\" (s<1>:9) matched at 1.5s: "
					   "'fatal: '<bad>' & \"worse\" ]]> \xc3\xa9'"));
	ck_assert_ptr_nonnull(strstr(f[5], "\npattern: login: \nlast console line: fatal: "));
	buf_release(&got);

	/* JSON: the same, through Python's json module. */
	buf_reset(&out);
	ck_assert_int_eq(result_json(SET1(runs[0]), &out), 0);
	ck_assert(clean_utf8(buf_blob(&out)));
	/* Controls are escaped; DEL is legal JSON as it is, and jansson writes it so. */
	ck_assert_ptr_nonnull(strstr(out.data, "\\u001B[31mred\\u001B[0m \\u0001\\u0007\x7f|"));
	ck_assert_ptr_nonnull(strstr(out.data, "\\\\ \\t\\r\\n\\\\xff\\\\xfe|"));
	tu_path(json, sizeof(json), "r.json");
	ck_assert_int_eq(result_run_write_json(runs[0], json, &err), 0);
	python_fields("json", json, &got, f);
	ck_assert_str_eq(f[0], hostile_json);
	ck_assert_str_eq(f[1], "x<&>\"'\x1b");
	ck_assert_str_eq(f[2], "b<o>o&t\"");
	ck_assert_str_eq(f[3], r.command);
	ck_assert_ptr_nonnull(strstr(f[4], "fail pattern \"fatal: '<bad>'\" (s<1>:9)"));
	ck_assert_str_eq(f[5], "boot <ok> & \"fine\" \\xff");
	buf_release(&got);
	buf_release(&out);

	/* The terminal never gets an escape sequence from the console. */
	text_of(&r, 80, false, false, &out);
	ck_assert_ptr_null(memchr(out.data, '\033', out.len));
	ck_assert_ptr_nonnull(strstr(out.data, "FAILED x<&>\"'\\x1b at step"));
	buf_release(&out);

	result_run_release(&r);
	expect_free(e);
}
END_TEST

/* A crash frame is the guest's bytes: escaped in JSON like the rest, never a failed write. */
START_TEST(test_crash_frames_hostile)
{
	struct result_run r;
	const struct result_run *runs[] = {&r};
	struct buf out;

	result_run_init(&r);
	ck_assert_int_eq(result_setstr(&r.scenario, "s"), 0);
	ck_assert_int_eq(result_setstr(&r.crash_class, "oops"), 0);
	ck_assert_int_eq(result_setstr(&r.crash_title, "BUG: x"), 0);
	ck_assert_int_eq(result_setstr(&r.crash_frames, "f\xff+0x1/0x2\t/src/a\x1b.c:3\n"), 0);
	buf_init(&out, 0);
	ck_assert_int_eq(result_json(SET1(runs[0]), &out), 0);
	ck_assert(clean_utf8(buf_blob(&out)));
	ck_assert_ptr_nonnull(strstr(out.data, "\"frame\": \"f\\\\xff+0x1/0x2\""));
	ck_assert_ptr_nonnull(strstr(out.data, "\"source\": \"/src/a\\u001B.c:3\""));
	buf_release(&out);
	result_run_release(&r);
}
END_TEST

/* ---- tails, files ------------------------------------------------------------------------- */

START_TEST(test_console_tail)
{
	struct it_error err = IT_ERROR_INIT;
	struct result_run r;
	struct buf text;
	char path[600], want[64];

	result_run_init(&r);
	buf_init(&text, 0);
	for (int i = 1; i <= 300; i++)
		ck_assert_int_eq(buf_addf(&text, "line %d\n", i), 0);
	ck_assert_int_eq(result_set_tail(&r, buf_blob(&text)), 0);
	snprintf(want, sizeof(want), "line %d\n", 300 - RESULT_TAIL_LINES + 1);
	ck_assert_msg(!strncmp(r.console_tail, want, strlen(want)), "tail starts '%.20s'",
		      r.console_tail);
	ck_assert_ptr_nonnull(strstr(r.console_tail, "line 300\n"));

	/* From a file; a last line without '\n' (a prompt) counts as a line. */
	tu_path(path, sizeof(path), "console.log");
	ck_assert_int_eq(buf_addstr(&text, "login: "), 0);
	ck_assert_int_eq(write_file_atomic(path, text.data, text.len, 0644), 0);
	ck_assert_int_eq(result_load_tail(&r, path, &err), 0);
	snprintf(want, sizeof(want), "line %d\n", 300 - RESULT_TAIL_LINES + 2);
	ck_assert_msg(!strncmp(r.console_tail, want, strlen(want)), "tail starts '%.20s'",
		      r.console_tail);
	ck_assert_ptr_nonnull(strstr(r.console_tail, "line 300\nlogin: "));

	/* Long lines: at most RESULT_TAIL_MAX bytes, starting at a line start. */
	buf_reset(&text);
	for (int i = 0; i < 100; i++) {
		for (int k = 0; k < 999; k++)
			ck_assert_int_eq(buf_addch(&text, (char)('a' + i % 26)), 0);
		ck_assert_int_eq(buf_addch(&text, '\n'), 0);
	}
	ck_assert_int_eq(write_file_atomic(path, text.data, text.len, 0644), 0);
	ck_assert_int_eq(result_load_tail(&r, path, &err), 0);
	ck_assert_uint_le(strlen(r.console_tail), RESULT_TAIL_MAX);
	ck_assert_uint_eq(strlen(r.console_tail) % 1000, 0);
	ck_assert_int_eq(r.console_tail[0], text.data[text.len - strlen(r.console_tail)]);

	/* A missing file: an error that names it, and the tail is kept. */
	tu_path(path, sizeof(path), "nope.log");
	ck_assert_int_eq(result_load_tail(&r, path, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_ptr_nonnull(strstr(err.msg, "No such file or directory"));
	ck_assert_ptr_nonnull(r.console_tail);
	buf_release(&text);
	result_run_release(&r);
}
END_TEST

START_TEST(test_write_errors)
{
	struct it_error err = IT_ERROR_INIT;
	struct result_run r;
	const struct result_run *runs[] = {&r};
	char path[600];
	struct buf b;

	result_run_init(&r);
	result_finish(&r, NULL, 0, NULL);
	tu_path(path, sizeof(path), "no/such/dir/r.xml");
	ck_assert_int_eq(result_run_write_junit(runs[0], path, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot write JUnit report '"));
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert(err.hint[0] != '\0');
	it_error_clear(&err);
	tu_path(path, sizeof(path), "no/r.json");
	ck_assert_int_eq(result_run_write_json(runs[0], path, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, path));

	/* Written whole, nothing left beside it. */
	tu_path(path, sizeof(path), "r.json");
	ck_assert_int_eq(result_run_write_json(runs[0], path, &err), 0);
	tu_read_new(&b, path);
	ck_assert_ptr_nonnull(strstr(b.data, "\"verdict\": \"passed\""));
	buf_release(&b);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", tu_dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	result_run_release(&r);
}
END_TEST

/* ---- initrd-test replay ------------------------------------------------------------------- */

struct captured {
	int rc;
	struct buf out, err;
};

/* Run cmd_replay with stdout and stderr in files, as main() would call it. */
static void replay_cmd(struct captured *c, const char *const *args)
{
	struct strlist argv = STRLIST_INIT;
	char outp[600], errp[600];
	int fo, fe, so, se;

	ck_assert_int_eq(strlist_add(&argv, "replay"), 0);
	for (size_t i = 0; args[i]; i++)
		ck_assert_int_eq(strlist_add(&argv, args[i]), 0);
	tu_path(outp, sizeof(outp), "stdout");
	tu_path(errp, sizeof(errp), "stderr");
	fflush(stdout);
	fflush(stderr);
	fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	so = dup(1);
	se = dup(2);
	ck_assert(fo >= 0 && fe >= 0 && so >= 0 && se >= 0);
	dup2(fo, 1);
	dup2(fe, 2);
	optind = 0;
	c->rc = cmd_replay((int)argv.n, argv.v);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(fo);
	close(fe);
	close(so);
	close(se);
	strlist_clear(&argv);
	tu_read_new(&c->out, outp);
	tu_read_new(&c->err, errp);
}

static void captured_release(struct captured *c)
{
	buf_release(&c->out);
	buf_release(&c->err);
}

static void assert_exit(const struct captured *c, int want)
{
	ck_assert_msg(c->rc == want, "exit %d, expected %d: %s%s", c->rc, want, c->out.data,
		      c->err.data);
}

/* The file at path holds every one of the NULL-ended needles. */
static void assert_file_has(const char *path, const char *const *needles)
{
	struct buf b;

	tu_read_new(&b, path);
	for (size_t i = 0; needles[i]; i++)
		ck_assert_msg(strstr(b.data, needles[i]) != NULL, "'%s' lacks '%s'", path,
			      needles[i]);
	buf_release(&b);
}

START_TEST(test_replay_passing_log)
{
	struct captured c;
	char json[600];
	struct buf b;
	int64_t t0 = now_ms();

	tu_path(json, sizeof(json), "pass.json");
	replay_cmd(&c, (const char *[]){LOGIN_SCN, BOOT_LOG, "--json", json, NULL});
	ck_assert_msg(now_ms() - t0 < 1000, "replay took %lld ms", (long long)(now_ms() - t0));
	assert_exit(&c, EXIT_PASS);
	ck_assert_str_eq(c.err.data, "");
	ck_assert_ptr_nonnull(strstr(c.out.data, "login         ok               -  alpine-test "
						 "login:\n"));
	ck_assert_ptr_nonnull(strstr(c.out.data, "\nPASSED boot-to-login\n"));
	assert_file_has(json, (const char *[]){"\"verdict\": \"passed\"", "\"timed\": false",
					       "\"raw\": \"" BOOT_LOG "\"",
					       "Welcome to Alpine Linux 3.19\\n", NULL});
	/* The console tail is cleaned: no CR, no "[   0.000]" stamps of an untimed replay. */
	tu_read_new(&b, json);
	ck_assert_ptr_null(strstr(b.data, "\\r"));
	ck_assert_ptr_null(strstr(b.data, "[   0.000]"));
	buf_release(&b);
	captured_release(&c);

	/* The minimal shipped scenario passes on the same boot; -q prints nothing then. */
	replay_cmd(&c, (const char *[]){"-q", "scenarios/minimal", BOOT_LOG, NULL});
	ck_assert_int_eq(c.rc, EXIT_PASS);
	ck_assert_str_eq(c.out.data, "");
	captured_release(&c);
}
END_TEST

START_TEST(test_replay_truncated_log)
{
	struct captured c;
	struct buf raw;
	char cut[600], junit[600];
	const char *end;

	/* The real boot, cut right after the hardware scan: the driver never shows. */
	tu_read_new(&raw, BOOT_LOG);
	end = strstr(raw.data, MDEV_LINE);
	ck_assert_ptr_nonnull(end);
	end = strchr(end, '\n') + 1;
	tu_path(cut, sizeof(cut), "cut.raw.log");
	ck_assert_int_eq(write_file_atomic(cut, raw.data, (size_t)(end - raw.data), 0644), 0);
	tu_path(junit, sizeof(junit), "cut.xml");
	replay_cmd(&c, (const char *[]){REPLAY_NET, cut, "--junit", junit, NULL});
	assert_exit(&c, EXIT_FAILED);
	ck_assert_ptr_nonnull(strstr(c.out.data, "mdev-scan     ok "));
	ck_assert_ptr_nonnull(strstr(c.out.data, "e1000-driver  FAIL "));
	ck_assert_ptr_nonnull(strstr(c.out.data, "eth0-probe    skipped"));
	ck_assert_ptr_nonnull(strstr(c.out.data, "\nFAILED networking at step 'e1000-driver' "
						 "(" REPLAY_NET "/scenario:"));
	ck_assert_ptr_nonnull(strstr(c.out.data, "): the log ended before a match for \"" E1000_LINE
						 "\"; last console line: '* " MDEV_LINE "'\n"
						 "hint: see the console log: "));
	assert_file_has(junit, (const char *[]){"<failure type=\"log-ended\"",
						"failures=\"1\" errors=\"0\" skipped=\"7\"", NULL});
	captured_release(&c);
	buf_release(&raw);
}
END_TEST

START_TEST(test_replay_timed_log)
{
	struct captured c;
	struct buf log;
	char path[600], json[600];

	/* A saved (conlog) log replays at its own times: the 3 s 'within' fires. */
	make_timed_log(E1000_LINE, &log);
	tu_path(path, sizeof(path), "console.log");
	ck_assert_int_eq(write_file_atomic(path, log.data, log.len, 0644), 0);
	tu_path(json, sizeof(json), "t.json");
	replay_cmd(&c, (const char *[]){GOLDEN_SCN, path, "--json", json, NULL});
	assert_exit(&c, EXIT_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(c.out.data, "e1000-driver  TIMEOUT "));
	ck_assert_ptr_nonnull(strstr(c.out.data,
				     "\nTIMED OUT golden at step 'e1000-driver' "
				     "(" GOLDEN_SCN "/scenario:13): no match for \"" E1000_LINE
				     "\" within 3s; last console line: '"));
	assert_file_has(json, (const char *[]){"\"timed\": true", "\"why\": \"step_timeout\"",
					       "\"log\": \"", NULL});
	captured_release(&c);

	/* The same boot as a raw log has no times: it fails when the log ends instead. */
	replay_cmd(&c, (const char *[]){"-q", GOLDEN_SCN, BOOT_LOG, NULL});
	assert_exit(&c, EXIT_FAILED);
	ck_assert_ptr_nonnull(strstr(c.out.data, "FAILED golden at step 'shell'"));
	captured_release(&c);
	buf_release(&log);
}
END_TEST

START_TEST(test_replay_usage)
{
	struct captured c;
	char path[600];

	replay_cmd(&c, (const char *[]){"--help", NULL});
	ck_assert_int_eq(c.rc, EXIT_PASS);
	ck_assert_ptr_nonnull(
	    strstr(c.out.data, "usage: initrd-test replay [options] SCENARIO LOG"));
	ck_assert_ptr_nonnull(strstr(c.out.data, "example:\n  initrd-test replay "));
	ck_assert_str_eq(c.err.data, "");
	captured_release(&c);

	replay_cmd(&c, (const char *[]){"--frobnicate", "a", "b", NULL});
	ck_assert_int_eq(c.rc, EXIT_USAGE);
	ck_assert_ptr_nonnull(strstr(c.err.data, "unknown option '--frobnicate'"));
	ck_assert_ptr_nonnull(strstr(c.err.data, "try 'initrd-test replay --help'\n"));
	ck_assert_str_eq(c.out.data, "");
	captured_release(&c);

	replay_cmd(&c, (const char *[]){"-x", NULL});
	ck_assert_int_eq(c.rc, EXIT_USAGE);
	ck_assert_ptr_nonnull(strstr(c.err.data, "unknown option '-x'"));
	captured_release(&c);

	replay_cmd(&c, (const char *[]){"a", "b", "--junit", NULL});
	ck_assert_int_eq(c.rc, EXIT_USAGE);
	ck_assert_ptr_nonnull(strstr(c.err.data, "option '--junit' needs a FILE"));
	captured_release(&c);

	replay_cmd(&c, (const char *[]){REPLAY_NET, NULL});
	ck_assert_int_eq(c.rc, EXIT_USAGE);
	ck_assert_ptr_nonnull(
	    strstr(c.err.data, "expected a SCENARIO and a LOG, got 1 argument\n"));
	ck_assert_ptr_nonnull(strstr(c.err.data, "try 'initrd-test replay --help'"));
	captured_release(&c);

	/* Files that cannot be used are named; nothing goes to stdout. */
	tu_path(path, sizeof(path), "missing.log");
	replay_cmd(&c, (const char *[]){REPLAY_NET, path, NULL});
	ck_assert_int_eq(c.rc, EXIT_USAGE);
	ck_assert_ptr_nonnull(strstr(c.err.data, "cannot read console log '"));
	ck_assert_ptr_nonnull(strstr(c.err.data, path));
	ck_assert_str_eq(c.out.data, "");
	captured_release(&c);

	tu_path(path, sizeof(path), "nowhere");
	replay_cmd(&c, (const char *[]){path, BOOT_LOG, NULL});
	ck_assert_int_eq(c.rc, EXIT_USAGE);
	ck_assert_ptr_nonnull(strstr(c.err.data, path));
	captured_release(&c);

	tu_path(path, sizeof(path), "bad.scenario");
	write_text(path, "packages alpine-base\nexpect x /a(b/\n");
	replay_cmd(&c, (const char *[]){path, BOOT_LOG, NULL});
	ck_assert_int_eq(c.rc, EXIT_USAGE);
	ck_assert_ptr_nonnull(strstr(c.err.data, ":2: bad regex"));
	captured_release(&c);

	/* A report that cannot be written makes a pass an infrastructure error. */
	tu_path(path, sizeof(path), "no/dir/r.xml");
	replay_cmd(&c, (const char *[]){"-q", LOGIN_SCN, BOOT_LOG, "--junit", path, NULL});
	ck_assert_int_eq(c.rc, EXIT_INFRA);
	ck_assert_ptr_nonnull(strstr(c.err.data, "cannot write JUnit report '"));
	captured_release(&c);
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_scenario_to_expect_networking);
	tcase_add_test(tc, test_scenario_to_expect_timeouts);
	tcase_add_test(tc, test_scenario_to_expect_error);
	tcase_add_test(tc, test_verdicts_and_exit_codes);
	tcase_add_test(tc, test_crash_report);
	tcase_add_test(tc, test_agent_steps);
	tcase_add_test(tc, test_golden_pass);
	tcase_add_test(tc, test_golden_timeout);
	tcase_add_test(tc, test_golden_infra_error);
	tcase_add_test(tc, test_golden_merged);
	tcase_add_test(tc, test_infra_error_with_engine);
	tcase_add_test(tc, test_table_width_colour_quiet);
	tcase_add_test(tc, test_escaping_hostile_text);
	tcase_add_test(tc, test_crash_frames_hostile);
	tcase_add_test(tc, test_console_tail);
	tcase_add_test(tc, test_write_errors);
	tcase_add_test(tc, test_replay_passing_log);
	tcase_add_test(tc, test_replay_truncated_log);
	tcase_add_test(tc, test_replay_timed_log);
	tcase_add_test(tc, test_replay_usage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(report_suite());
}
