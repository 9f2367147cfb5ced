// SPDX-License-Identifier: MIT
/* `initrd-test replay`: check a scenario's expectations against a recorded console log. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "expect/expect.h"
#include "scenario/scenario.h"
#include "src/cmds.h"
#include "src/options.h"
#include "src/result.h"
#include "src/scenario_find.h"

/* Only the end of a raw log is cleaned for the report's console tail. */
#define RAW_TAIL_CLEAN (4 * RESULT_TAIL_MAX)
#define CONLOG_ZERO "[   0.000]"

static const char intro[] =
    "usage: initrd-test replay [options] SCENARIO LOG\n"
    "\n"
    "Check a scenario's expectations against a recorded console log, without\n"
    "booting anything: the same steps, fail patterns, step table and verdict as\n"
    "'initrd-test run', in milliseconds. Use it to write a scenario's patterns\n"
    "against a console you already have, or to judge a CI run again.\n"
    "\n"
    "SCENARIO is a scenario directory or file (docs/scenario-format.md).\n"
    "LOG is either\n"
    "  - a console log saved by 'initrd-test run' (lines \"[  12.345] text\"):\n"
    "    it is replayed at its own times, so step and run timeouts apply; or\n"
    "  - a raw capture of the serial console (qemu -serial file:boot.raw):\n"
    "    fed as it is, without timeouts; a step fails only if the log ends\n"
    "    before it matched. 'send' steps are not typed: the log already holds\n"
    "    what the guest answered.\n"
    "\n";

static const char outro[] =
    "example:\n"
    "  initrd-test replay scenarios/networking console.log --junit replay.xml\n"
    "  (console.log from 'initrd-test run scenarios/networking'; the table shows\n"
    "  each step, when it matched and the line it matched)\n"
    "\n"
    "exit codes: 0 passed, 1 failed or the guest crashed, 2 usage or scenario\n"
    "            error, 3 infrastructure error, 4 a step or the run timed out\n";

struct replay_opts {
	struct output_opts out;
	const char *scenario;
	const char *log;
	char found[PATH_MAX]; /* an installed scenario's directory */
};

static const struct opt_group *const groups[] = {&output_options};
static const struct opt_cmd replay_cmd = {"replay",	      intro, outro, groups,
					  ARRAY_SIZE(groups), false};

/* The time of a conlog line "[  12.345] ...", or -1. */
static int64_t stamp_ms(struct blob log)
{
	unsigned long long sec = 0;
	size_t i = 1, digits = 0;
	int64_t frac = 0;

	if (log.len < 7 || log.ptr[0] != '[')
		return -1;
	while (i < log.len && log.ptr[i] == ' ')
		i++;
	for (; i < log.len && log.ptr[i] >= '0' && log.ptr[i] <= '9' && digits < 12; i++, digits++)
		sec = sec * 10 + (unsigned)(log.ptr[i] - '0');
	if (digits == 0 || i + 4 >= log.len || log.ptr[i] != '.' || log.ptr[i + 4] != ']')
		return -1;
	for (size_t k = i + 1; k < i + 4; k++) {
		if (log.ptr[k] < '0' || log.ptr[k] > '9')
			return -1;
		frac = frac * 10 + (log.ptr[k] - '0');
	}
	return (int64_t)sec * 1000 + frac;
}

/*
 * The cleaned text of the end of a raw log, as the console log writer would
 * save it, without the (meaningless) zero times.
 */
static int clean_raw_tail(struct blob raw, struct buf *out)
{
	struct conlog *cl = NULL;
	struct buf stamped;
	struct blob rest, line;
	int r;

	if (raw.len > RAW_TAIL_CLEAN) {
		struct blob t = {RAW_TAIL_CLEAN, raw.ptr + raw.len - RAW_TAIL_CLEAN};
		const char *nl = memchr(t.ptr, '\n', t.len);

		raw = nl ? (struct blob){t.len - (size_t)(nl + 1 - t.ptr), nl + 1} : t;
	}
	buf_init(&stamped, 0);
	r = conlog_new(&cl);
	if (r < 0)
		goto out;
	conlog_start(cl, 0);
	r = conlog_feed(cl, raw.ptr, raw.len, 0, &stamped);
	if (r == 0)
		r = conlog_finish(cl, &stamped);
	if (r < 0)
		goto out;
	rest = buf_blob(&stamped);
	while (rest.len > 0 && r == 0) {
		bool nl = blob_split(rest, '\n', &line, &rest);

		if (!nl) {
			line = rest;
			rest = BLOB_NULL;
		}
		if (blob_starts(line, CONLOG_ZERO)) {
			size_t skip = strlen(CONLOG_ZERO) + (line.len > strlen(CONLOG_ZERO));

			line = (struct blob){line.len - skip, line.ptr + skip};
		}
		r = buf_add(out, line.ptr, line.len);
		if (r == 0 && nl)
			r = buf_addch(out, '\n');
	}
out:
	conlog_free(cl);
	buf_release(&stamped);
	return r;
}

static int64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Files named on the command line that cannot be used are usage errors. */
static int input_error(int code)
{
	return code == -ENOMEM ? code : -IT_EUSAGE;
}

/* The options and the two operands; -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct replay_opts *o)
{
	void *ctxs[] = {&o->out};
	int first = opt_parse(&replay_cmd, ctxs, argc, argv);
	char msg[128];

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	if (argc - first != 2) {
		snprintf(msg, sizeof(msg), "expected a SCENARIO and a LOG, got %d argument%s",
			 argc - first, argc - first == 1 ? "" : "s");
		opt_usage_error(&replay_cmd, msg);
		return EXIT_USAGE;
	}
	o->scenario = scenario_find(argv[first], o->found, sizeof(o->found));
	o->log = argv[first + 1];
	return -1;
}

/* The agent's steps happen in a guest, not in a log: such a scenario needs a VM. */
static int console_only(const struct scenario *s, struct it_error *err)
{
	for (size_t i = 0; i < s->nsteps; i++) {
		const struct scenario_step *st = &s->steps[i];

		if (!scenario_step_is_agent(st->kind))
			continue;
		it_error_set(err, -IT_EUSAGE,
			     "%s: '%s' is a step of the guest agent: a console log cannot show it",
			     st->where, scenario_step_kind_name(st->kind));
		it_error_hint(err,
			      "replay judges console-only scenarios; this one needs a VM: "
			      "initrd-test run %s",
			      s->path);
		return -IT_EUSAGE;
	}
	return 0;
}

static int write_reports(const struct replay_opts *o, const struct result_run *rep)
{
	struct it_error err = IT_ERROR_INIT;
	int r = 0;

	if (o->out.junit)
		r = result_run_write_junit(rep, o->out.junit, &err);
	if (r == 0 && o->out.json)
		r = result_run_write_json(rep, o->out.json, &err);
	if (r < 0)
		log_it_error(&err, r);
	return r;
}

/*
 * The console tail of the report: a timed log as it is, a raw one cleaned first;
 * and its first kernel crash, classified as a run's is.
 */
static int keep_tail(struct result_run *rep, struct blob log, bool timed, bool ignore_warnings)
{
	struct buf tail;
	int r = result_set_crash(rep, log, NULL, ignore_warnings);

	if (r < 0)
		return r;
	if (timed)
		return result_set_tail(rep, log);
	buf_init(&tail, 0);
	r = clean_raw_tail(log, &tail);
	if (r == 0)
		r = result_set_tail(rep, buf_blob(&tail));
	buf_release(&tail);
	return r;
}

/* Load everything and replay; returns 0 or the error that stopped it (text in err). */
static int replay(const struct replay_opts *o, struct scenario *s, struct buf *log,
		  struct expect **ep, struct result_run *rep, struct it_error *err)
{
	bool timed = false;
	int r;

	r = scenario_load(s, o->scenario, err);
	if (r < 0)
		return input_error(r);
	/* A log has nothing to save or restore; its console goes on through the place. */
	scenario_drop_checkpoint(s);
	r = console_only(s, err);
	if (r < 0)
		return r;
	if (result_setstr(&rep->scenario, s->name) < 0 || result_setstr(&rep->path, s->path) < 0)
		return it_error_set(err, -ENOMEM, "out of memory");
	r = buf_read_file(log, o->log);
	if (r < 0) {
		it_error_set(err, input_error(r), "cannot read console log '%s': %s", o->log,
			     strerror(-r));
		return input_error(r);
	}
	r = expect_new(ep);
	if (r < 0)
		return it_error_set(err, r, "cannot create the expect engine: %s", strerror(-r));
	r = scenario_to_expect(s, *ep, err);
	if (r < 0)
		return r == -ENOMEM ? r : -IT_ESCENARIO;
	r = expect_replay(*ep, buf_blob(log), &timed);
	if (r < 0)
		return it_error_set(err, r, "cannot replay '%s': %s", o->log, strerror(-r));
	rep->timed = timed;
	if (timed)
		rep->first_byte_ms = stamp_ms(buf_blob(log));
	r = result_setstr(timed ? &rep->console_log : &rep->console_raw, o->log);
	if (r == 0)
		r = keep_tail(rep, buf_blob(log), timed, s->on_warning_ignore);
	if (r < 0)
		return it_error_set(err, r, "cannot keep the end of '%s': %s", o->log,
				    strerror(-r));
	return 0;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_opts o = {{NULL, NULL, log_verbosity == LOG_QUIET}, NULL, NULL, ""};
	struct it_error err = IT_ERROR_INIT;
	struct scenario s;
	struct result_run rep;
	struct expect *e = NULL;
	struct buf log;
	int r, code;

	r = parse_args(argc, argv, &o);
	if (r >= 0)
		return r;
	scenario_init(&s);
	result_run_init(&rep);
	buf_init(&log, 0);
	rep.replay = true;
	rep.started_at_ms = wall_now_ms();
	if (result_setstr(&rep.backend, "replay") < 0 || result_setstr(&rep.path, o.scenario) < 0)
		r = it_error_set(&err, -ENOMEM, "out of memory");
	else
		r = replay(&o, &s, &log, &e, &rep, &err);
	/* The engine only counts once it has run: a setup error leaves it out. */
	result_finish(&rep, r < 0 ? NULL : e, r, &err);
	code = result_exit_code(&rep);
	if (r < 0) {
		log_it_error(&rep.error, r);
	} else if (result_print(&rep, stdout, o.out.quiet) < 0) {
		log_error("cannot write to standard output: %s", strerror(errno));
		code = code == EXIT_PASS ? EXIT_INFRA : code;
	}
	if (write_reports(&o, &rep) < 0 && code == EXIT_PASS)
		code = EXIT_INFRA;
	expect_free(e);
	buf_release(&log);
	result_run_release(&rep);
	scenario_release(&s);
	return code;
}
