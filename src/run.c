// SPDX-License-Identifier: MIT
/* The one-run engine: attempts of a scenario, its console through the engine, its result. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/proto.h"
#include "common/log.h"
#include "common/util.h"
#include "expect/crash.h"
#include "expect/expect.h"
#include "runner/runner.h"
#include "src/agentlink.h"
#include "src/agentsteps.h"
#include "src/arch.h"
#include "src/artifacts.h"
#include "src/checkpoint.h"
#include "src/gdbstub.h"
#include "src/keep.h"
#include "src/progress.h"
#include "src/run.h"
#include "src/runlog.h"
#include "src/signals.h"

#define STOP_GRACE_MS 3000

void run_status(int fd, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write of a short line into a pipe is atomic; a full pipe loses it, no harm. */
	if (write(fd, line, (size_t)n) < 0)
		return;
}

/* ---- the console loop --------------------------------------------------------------------- */

/* The live state of one run, shared by the loop's callbacks. */
struct run_ctx {
	struct vm *vm;
	struct expect *engine;
	struct recorder rec;	    /* console.raw, console.log: capped (--log-max) */
	bool live;		    /* console to stdout */
	struct progress prog;	    /* the status line (or plain lines) on stderr */
	bool console_bol;	    /* the live console is at the start of a line */
	const struct scenario *scn; /* the steps' budgets, for the status line */
	int status_fd;		    /* progress for a suite */
	size_t shown_step;	    /* the step last announced there */
	bool keep;		    /* --keep: the VM outlives the check, run_scenario() stops it */
	struct agentlink *link;	    /* the agent channel: NULL with 'agent off' */
	struct agentsteps *agent;   /* the agent's steps of the scenario */
	struct result_run *rep;	    /* the run's result (borrowed) */
	const char *dir;	    /* the run's folder */
	int64_t zero_ms; /* the engine's clock's zero: the VM start, or before when restored */
	/* The scenario's checkpoint step (src/checkpoint.h). */
	size_t cp_step;	       /* its index; SIZE_MAX: none */
	struct checkpoint *cp; /* NULL: off, or it could not be had */
	bool cp_done;	       /* the step has ended */
	bool resync;	       /* restored: agent bytes before its new HELLO are dropped */
	bool restored;	       /* the VM came from the checkpoint (its prefix stays) */
	char cp_failed[IT_ERRMSG_MAX + 256]; /* why a restore failed: every later note starts so */
	/* After a crash's first line: the report's tail is read until then (0: no crash yet). */
	int64_t tail_until, tail_cap;
};

/*
 * A crash's fail pattern matches its first line; its RIP, modules and call
 * trace follow. The console is read on until the report's end marker, a
 * quiet moment or a cap, whichever comes first, so that crash.txt has the
 * frames to symbolize. The kernel prints a report at once, so the quiet
 * moment is short: the verdict comes well under a second after the crash.
 */
#define CRASH_QUIET_MS 250
#define CRASH_TAIL_MS 2000

static bool crash_end_marker(const char *buf, size_t len)
{
	for (const char *const *m = crash_end_marks; *m; m++)
		if (memmem(buf, len, *m, strlen(*m)))
			return true;
	return false;
}

/* More of a crash report: 1 (stop) at its end or the cap, else wait for more. */
static int crash_tail(struct run_ctx *c, const char *buf, size_t len, int64_t now)
{
	if (crash_end_marker(buf, len) || now >= c->tail_cap)
		return 1;
	c->tail_until = deadline_earliest(now + CRASH_QUIET_MS, c->tail_cap);
	return 0;
}

/* Hand the engine's queued bytes (sends, cursor-position answers) to the VM. */
static int flush_engine_output(struct run_ctx *c)
{
	struct blob out = expect_output(c->engine);
	int r;

	if (!out.len)
		return 0;
	r = vm_write(c->vm, out.ptr, out.len);
	if (r < 0)
		return r;
	expect_output_consume(c->engine, out.len);
	return 0;
}

/* What 'initrd-test ps' and attached clients show: "step 5/10: lease". */
static void hub_status(struct run_ctx *c, size_t i)
{
	char line[256];

	snprintf(line, sizeof(line), "step %zu/%zu: %s", i + 1, expect_nsteps(c->engine),
		 expect_step(c->engine, i)->name);
	vm_hub_set_status(c->vm, line);
}

/* The status line's current step: i, with its budget and timeout. */
static void progress_note(struct run_ctx *c, size_t i, int64_t now)
{
	const struct expect_step_result *st = expect_step(c->engine, i);
	int64_t budget = c->scn && i < c->scn->nsteps ? c->scn->steps[i].budget_ms : 0;

	c->prog.zero = c->zero_ms;
	progress_step(&c->prog, i, expect_nsteps(c->engine), st->name, budget, st->timeout_ms, now);
	if (!c->live || c->console_bol)
		progress_draw(&c->prog, now);
}

/* Tell the suite and the hub when the current step changes. */
static void announce_step(struct run_ctx *c)
{
	size_t n = expect_nsteps(c->engine), i = c->shown_step;

	while (i < n && expect_step(c->engine, i)->status == EXPECT_STEP_PASSED)
		i++;
	if (i == c->shown_step || i >= n)
		return;
	c->shown_step = i;
	run_status(c->status_fd, "step %s", expect_step(c->engine, i)->name);
	hub_status(c, i);
	progress_note(c, i, now_ms());
}

static int state_to_stop(int state)
{
	return state == EXPECT_RUNNING ? 0 : 1;
}

static int on_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct run_ctx *c = ctx;
	int state, r;

	/* A log that cannot be written is reported after the run; the check goes on. */
	recorder_feed(&c->rec, buf, len, now);
	if (c->live && len) {
		progress_hide(&c->prog);
		fd_write_all(STDOUT_FILENO, buf, len);
		c->console_bol = buf[len - 1] == '\n';
		if (c->console_bol)
			progress_draw(&c->prog, now);
	}
	if (c->tail_cap)
		return crash_tail(c, buf, len, now);
	state = expect_feed(c->engine, buf, len, now);
	if (state < 0)
		return state;
	announce_step(c);
	r = flush_engine_output(c);
	if (r < 0)
		return r;
	if (state == EXPECT_FAILED && result_is_crash(expect_outcome(c->engine))) {
		c->tail_cap = now + CRASH_TAIL_MS;
		return crash_tail(c, buf, len, now);
	}
	return state_to_stop(state);
}

static int64_t on_deadline(void *ctx)
{
	struct run_ctx *c = ctx;
	int64_t e = expect_deadline(c->engine), a = c->agent ? agentsteps_deadline(c->agent) : -1;
	int64_t l = c->link ? agentlink_deadline(c->link) : -1;

	if (c->tail_cap)
		return c->tail_until;
	return deadline_earliest(deadline_earliest(deadline_earliest(e, a), l),
				 progress_deadline(&c->prog));
}

/*
 * What the checkpoint step says, in the result and as the step's line;
 * after a failed restore, that failure and then this ("...: booted
 * instead; saved checkpoint ...").
 */
static void checkpoint_note(struct run_ctx *c, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void checkpoint_note(struct run_ctx *c, const char *action, const char *fmt, ...)
{
	char note[2 * IT_ERRMSG_MAX + 512];
	int n = c->cp_failed[0] ? snprintf(note, sizeof(note) / 2, "%s; ", c->cp_failed) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(note + n, sizeof(note) - (size_t)n, fmt, ap);
	va_end(ap);
	result_setstr(&c->rep->checkpoint.action, action);
	result_setstr(&c->rep->checkpoint.note, note);
}

/* Save the VM at the checkpoint step when this run makes it. */
static void save_checkpoint(struct run_ctx *c, int64_t now)
{
	struct checkpoint_run run = {
	    .e = c->engine,
	    .upto = c->cp_step,
	    .at_ms = now - c->zero_ms,
	    .first_byte_ms = vm_info(c->vm)->first_output_ms,
	    .agent_ready = c->link && agentlink_ready(c->link),
	    .run_dir = c->dir,
	    .scenario = c->rep->scenario,
	};
	struct it_error err = IT_ERROR_INIT;
	const char *name = checkpoint_name(c->cp);
	uint64_t bytes;
	int64_t ms;

	run_status(c->status_fd, "saving checkpoint %s", name);
	if (checkpoint_save(c->cp, c->vm, &run, &bytes, &ms, &err) < 0) {
		log_warn("checkpoint %s not saved: %s", name, err.msg);
		checkpoint_note(c, "booted", "checkpoint %s not saved: %s", name, err.msg);
		return;
	}
	log_info("saved checkpoint %s (%s): %.1f MiB in %.2f s", name, checkpoint_id(c->cp),
		 (double)bytes / (1 << 20), (double)ms / 1000);
	checkpoint_note(c, "saved", "saved checkpoint %s (%.1f MiB in %.2f s)", name,
			(double)bytes / (1 << 20), (double)ms / 1000);
}

/* At the checkpoint step of a run that booted: save there (when ours to make); true once done. */
static bool checkpoint_step(struct run_ctx *c, int64_t now)
{
	const char *text;

	if (c->cp_done || c->cp_step == SIZE_MAX || expect_state(c->engine) != EXPECT_RUNNING ||
	    expect_external(c->engine, &text) != c->cp_step)
		return false;
	c->cp_done = true;
	if (c->cp && checkpoint_making(c->cp))
		save_checkpoint(c, now);
	else if (c->cp && !c->rep->checkpoint.note)
		checkpoint_note(c, "booted", "booted: another run makes checkpoint %s",
				checkpoint_name(c->cp));
	/* At the time the save began, as a restore of it sees it too. */
	expect_external_done(c->engine, true, c->rep->checkpoint.note, now);
	return true;
}

/* The agent's steps go on from where the engine is; then as after console output. */
static int agent_poll(struct run_ctx *c, int64_t now)
{
	int r = c->agent ? agentsteps_poll(c->agent, now) : 0;

	/* A checkpoint's end lets the next agent step start in the same go. */
	if (r == 0 && checkpoint_step(c, now) && c->agent)
		r = agentsteps_poll(c->agent, now);

	/* What the steps asked for goes out now: nothing else may wake the loop soon. */
	if (r == 0 && c->link)
		r = agentlink_on_wakeup(c->link, now);
	if (r < 0)
		return r;
	announce_step(c);
	r = flush_engine_output(c);
	return r < 0 ? r : state_to_stop(expect_state(c->engine));
}

static int on_timer(void *ctx, int64_t now)
{
	struct run_ctx *c = ctx;
	int state;

	if (c->tail_cap)
		return now >= c->tail_until ? 1 : 0;
	state = expect_tick(c->engine, now);
	if (state < 0)
		return state;
	/* A prompt without a newline on the live console is left alone until its line ends. */
	progress_tick(&c->prog, now, !c->live || c->console_bol);
	/* Running on: on_wakeup() follows, and carries the agent's steps on. */
	return state != EXPECT_RUNNING ? 1 : 0;
}

/*
 * Where the agent's HELLO starts in buf, or len. After a restore the guest
 * may still have had part of a frame on its way when the VM was saved; the
 * new client starts at the HELLO that answers RESUME.
 */
static size_t hello_at(const char *buf, size_t len)
{
	static const char hello[] = {AGENT_MAGIC0, AGENT_MAGIC1, AGENT_MAGIC2, AGENT_MAGIC3,
				     AGENT_HELLO};
	const char *at = memmem(buf, len, hello, sizeof(hello));

	return at ? (size_t)(at - buf) : len;
}

static int on_agent(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct run_ctx *c = ctx;
	size_t skip;

	if (!c->link)
		return 0;
	if (buf && c->resync) {
		skip = hello_at(buf, len);
		if (skip)
			log_debug("agent: %zu bytes from before the checkpoint dropped", skip);
		if (skip == len)
			return 0;
		c->resync = false;
		buf += skip;
		len -= skip;
	}
	return agentlink_on_agent(c->link, buf, len, now);
}

static int on_hub_agent(void *ctx, unsigned client, const char *buf, size_t len)
{
	struct run_ctx *c = ctx;

	return c->link ? agentlink_on_hub_agent(c->link, client, buf, len) : 0;
}

/* agent_poll() ends with the link's own wakeup (liveness, queues to the VM). */
static int on_wakeup(void *ctx, int64_t now)
{
	const struct run_ctx *c = ctx;

	return c->tail_cap ? 0 : agent_poll(ctx, now);
}

/* The VM's command line, into the result, command.txt and repro.sh (a convenience: errors ignored).
 */
static void record_command(const struct scenario *s, enum vm_accel accel, struct result_run *rep,
			   const char *dir)
{
	struct strlist argv = STRLIST_INIT;
	char *line = NULL;

	if (vm_build_argv(&s->vm, accel, NULL, &argv, NULL) == 0 &&
	    result_set_command(rep, argv.v) == 0 && rep->command &&
	    asprintf(&line, "%s\n", rep->command) >= 0)
		run_write_text(dir, "command.txt", line, NULL);
	free(line);
	line = NULL;
	/*
	 * repro.sh: the same qemu, the console on this terminal, no initrd-test needed. The
	 * agent's socket (fd 3, which initrd-test passes) becomes a null chardev there.
	 */
	static const char agent_fd[] = "socket,id=agent,fd=3";
	const char *cut = rep->command ? strstr(rep->command, agent_fd) : NULL;

	if (rep->command &&
	    asprintf(&line,
		     "#!/bin/sh\n# Boot this run's files again with the same qemu command;\n"
		     "# the console is this terminal (kill qemu to end it).\nexec %.*s%s%s\n",
		     cut ? (int)(cut - rep->command) : (int)strlen(rep->command), rep->command,
		     cut ? "null,id=agent" : "", cut ? cut + strlen(agent_fd) : "") >= 0 &&
	    run_write_text(dir, "repro.sh", line, NULL) == 0) {
		char path[PATH_MAX];

		path_join(path, sizeof(path), dir, "repro.sh");
		(void)chmod(path, 0755);
	}
	free(line);
	strlist_clear(&argv);
}

/* Start the VM with its console socket. */
static int launch(struct scenario *s, struct run_ctx *c, struct result_run *rep, const char *dir,
		  struct it_error *err)
{
	struct it_error hub_err = IT_ERROR_INIT;
	const struct vm_info *info;
	int r;

	r = vm_start(&s->vm, &c->vm, err);
	if (r < 0)
		return r;
	info = vm_info(c->vm);
	log_info("%s %s with %s (%s)", s->vm.incoming ? "restoring" : "booting", s->name,
		 info->binary, info->accel_desc);
	if (c->link)
		agentlink_set_vm(c->link, c->vm);
	/* The console socket is a convenience: a run goes on without it. */
	if (vm_hub_enable(c->vm, s->name, &hub_err) < 0)
		log_warn("no console socket for 'initrd-test attach': %s", hub_err.msg);
	else
		log_info("console: initrd-test attach %s", vm_hub_name(c->vm));
	result_setstr(&rep->accel, vm_accel_name(info->accel));
	record_command(s, info->accel, rep, dir);
	rep->started_at_ms = (int64_t)time(NULL) * 1000;
	return 0;
}

/* A failed restore leaves no VM behind; the run boots instead, and says why. */
static void restore_failed(struct run_ctx *c, const struct it_error *why)
{
	const char *name = checkpoint_name(c->cp);
	bool again;

	if (c->vm) {
		vm_stop(c->vm, 0, NULL);
		vm_free(c->vm);
		c->vm = NULL;
	}
	if (c->link)
		agentlink_set_vm(c->link, NULL);
	again = checkpoint_restore_failed(c->cp);
	log_warn("cannot restore checkpoint %s: %s; booting instead%s", name, why->msg,
		 again ? " (and saving it again)" : "");
	snprintf(c->cp_failed, sizeof(c->cp_failed),
		 "restoring checkpoint %s failed (%s): booted instead", name, why->msg);
	result_setstr(&c->rep->checkpoint.action, "booted");
	result_setstr(&c->rep->checkpoint.note, c->cp_failed);
}

/* The console logs go on from the saving run's, with a line that says where it was restored. */
static void prepend_console(struct run_ctx *c, const struct checkpoint_prefix *p, const char *note)
{
	struct buf log = BUF_INIT;

	buf_add(&log, p->log.ptr, p->log.len);
	if (log.len && log.data[log.len - 1] != '\n')
		buf_addch(&log, '\n');
	buf_addf(&log, "[%8.3f] [initrd-test: %s]\n", (double)p->at_ms / 1000, note);
	recorder_prepend(&c->rec, p->raw, buf_blob(&log));
	buf_release(&log);
}

/* The VM from the checkpoint, the engine at its step, the logs and the agent going on. */
static int restore_vm(struct scenario *s, struct run_ctx *c, struct result_run *rep,
		      const char *dir, struct it_error *err)
{
	const struct checkpoint_prefix *p = checkpoint_prefix(c->cp);
	const char *name = checkpoint_name(c->cp);
	char frame[AGENT_HDR_SIZE + 64];
	struct timespec wall;
	int64_t t0, now;
	size_t n;
	int r;

	run_status(c->status_fd, "restoring checkpoint %s", name);
	s->vm.incoming = true;
	r = launch(s, c, rep, dir, err);
	s->vm.incoming = false;
	t0 = now_ms();
	if (r == 0)
		r = vm_restore(c->vm, checkpoint_state_fd(c->cp), CHECKPOINT_RESTORE_TIMEOUT_MS,
			       err);
	if (r < 0)
		return r;
	now = now_ms();
	/* From here on the VM is the checkpoint's: a failure is the run's, not a reason to boot. */
	c->restored = true;
	c->zero_ms = now - p->at_ms;
	r = expect_start_restored(c->engine, c->zero_ms, now, &p->steps);
	if (r < 0)
		return it_error_set(err, r, "cannot start the checks: %s", it_strerror(r));
	recorder_start(&c->rec, c->zero_ms);
	rep->checkpoint.restore_ms = now - t0;
	checkpoint_note(c, "restored", "restored from checkpoint %s (boot skipped)", name);
	prepend_console(c, p, rep->checkpoint.note);
	log_info("restored checkpoint %s (%s) in %.2f s", name, checkpoint_id(c->cp),
		 (double)(now - t0) / 1000);
	/* The agent says HELLO again, and sets the guest's clock, which stood still. */
	if (p->agent_ready && c->link) {
		clock_gettime(CLOCK_REALTIME, &wall);
		n = agent_frame_resume(frame, sizeof(frame),
				       (uint64_t)wall.tv_sec * 1000000000u +
					   (uint64_t)wall.tv_nsec);
		if (n && vm_agent_write(c->vm, frame, n) == 0)
			c->resync = true;
	}
	c->cp_done = true;
	r = expect_external_done(c->engine, true, rep->checkpoint.note, now);
	return r < 0 ? it_error_set(err, r, "cannot go on from the checkpoint: %s", it_strerror(r))
		     : 0;
}

/* Start (or restore) the VM; the engine and the logs count from its start. */
static int start_vm(struct scenario *s, struct run_ctx *c, struct result_run *rep, const char *dir,
		    struct it_error *err)
{
	struct it_error why = IT_ERROR_INIT;
	const struct vm_info *info;
	int r;

	c->rep = rep;
	c->dir = dir;
	c->scn = s;
	if (c->cp && checkpoint_prefix(c->cp)) {
		r = restore_vm(s, c, rep, dir, &why);
		if (r == 0)
			return 0;
		if (r == -IT_EINTERRUPTED || sig_pending() || c->restored)
			return it_error_set(err, r, "%s", why.msg);
		restore_failed(c, &why);
	}
	run_status(c->status_fd, "booting");
	r = launch(s, c, rep, dir, err);
	if (r < 0)
		return r;
	info = vm_info(c->vm);
	c->zero_ms = info->start_ms;
	r = expect_start(c->engine, info->start_ms);
	if (r < 0)
		return it_error_set(err, r, "cannot start the checks: %s", it_strerror(r));
	recorder_start(&c->rec, info->start_ms);
	if (expect_nsteps(c->engine) > 0) {
		run_status(c->status_fd, "step %s", expect_step(c->engine, 0)->name);
		hub_status(c, 0);
		progress_note(c, 0, info->start_ms);
	}
	return 0;
}

static int boot_and_check(struct scenario *s, struct run_ctx *c, struct result_run *rep,
			  const char *dir, struct it_error *err)
{
	static const struct vm_ops ops = {
	    .on_output = on_output,
	    .deadline = on_deadline,
	    .on_timer = on_timer,
	    .on_agent = on_agent,
	    .on_wakeup = on_wakeup,
	    .on_hub_agent = on_hub_agent,
	};
	const struct vm_info *info;
	int r = start_vm(s, c, rep, dir, err);

	/* A checkpoint at the end of the steps: a restore passed them all. */
	if (r == 0 && expect_state(c->engine) == EXPECT_RUNNING)
		r = vm_run(c->vm, &ops, c, err);
	if (!c->vm)
		return r;
	info = vm_info(c->vm);
	if (c->restored)
		rep->first_byte_ms = checkpoint_prefix(c->cp)->first_byte_ms;
	else
		rep->first_byte_ms = info->first_output_ms;
	rep->total_ms = now_ms() - c->zero_ms;
	if (r == VM_RUN_EXITED && expect_state(c->engine) == EXPECT_RUNNING)
		expect_eof(c->engine, now_ms());
	if (r >= 0)
		r = 0;
	if (!c->keep || r < 0)
		vm_stop(c->vm, STOP_GRACE_MS, NULL);
	return r;
}

/* ---- one attempt -------------------------------------------------------------------------- */

/* One try of a scenario: everything it owns, released together. */
struct attempt {
	struct scenario s;
	struct run_ctx c;
	struct result_run rep;
	struct it_error err;
	char dir[PATH_MAX];
	bool have_dir;
	int gdb_port; /* --gdb-on-fail: the stub's port; 0: none */
};

static void attempt_init(struct attempt *a)
{
	memset(a, 0, sizeof(*a));
	scenario_init(&a->s);
	result_run_init(&a->rep);
	recorder_init(&a->c.rec);
	a->c.status_fd = -1;
	a->c.prog.fd = -1;
	a->c.cp_step = SIZE_MAX;
}

static void attempt_release(struct attempt *a)
{
	if (a->c.vm)
		vm_free(a->c.vm);
	agentlink_free(a->c.link);
	agentsteps_free(a->c.agent);
	checkpoint_close(a->c.cp);
	recorder_release(&a->c.rec);
	expect_free(a->c.engine);
	result_run_release(&a->rep);
	scenario_release(&a->s);
	memset(a, 0, sizeof(*a));
}

static void name_report(struct attempt *a, const char *scenario, const struct run_opts *o)
{
	const char *slash = strrchr(scenario, '/');
	const char *name = o->name	       ? o->name
			   : a->s.name	       ? a->s.name
			   : slash && slash[1] ? slash + 1
					       : scenario;

	result_setstr(&a->rep.scenario, name);
	result_setstr(&a->rep.path, a->s.path ? a->s.path : scenario);
	result_setstr(&a->rep.backend, vm_backend_name(a->s.vm.backend));
}

/* The agent channel's end in this process, and the driver of the scenario's agent steps. */
static int open_agent(struct attempt *a)
{
	struct run_ctx *c = &a->c;
	int r = agentsteps_new(&c->agent, &a->s, c->engine, &a->rep, a->dir);

	if (r == 0)
		r = agentlink_new(&c->link, agentsteps_event, c->agent);
	if (r < 0)
		return it_error_set(&a->err, r, "cannot set up the agent channel: %s",
				    strerror(-r));
	agentsteps_set_link(c->agent, c->link);
	return 0;
}

/*
 * The first kernel crash in the console log into the result and OUT/NAME/crash.txt,
 * its frames symbolized with the kernel's vmlinux and the modules of its tree or
 * modules directory.
 */
static void note_crash(struct attempt *a)
{
	struct symbolize_src syms;
	struct buf log = BUF_INIT;
	char path[PATH_MAX];

	symbolize_src_init(&syms);
	syms.vmlinux = a->s.vmlinux;
	if (a->s.build.kernel_tree)
		strlist_add(&syms.module_dirs, a->s.build.kernel_tree);
	if (a->s.build.modules_dir)
		strlist_add(&syms.module_dirs, a->s.build.modules_dir);
	buf_init(&log, 64u << 20);
	if (buf_read_file(&log, a->rep.console_log) == 0 &&
	    result_set_crash(&a->rep, blob_mem(log.data, log.len), &syms, a->s.on_warning_ignore) ==
		1) {
		path_join(path, sizeof(path), a->dir, "crash.txt");
		if (write_file_atomic(path, a->rep.crash_report, strlen(a->rep.crash_report),
				      0644) < 0)
			log_warn("cannot write '%s'", path);
	}
	buf_release(&log);
	symbolize_src_release(&syms);
}

/* OUT/NAME with the engine loaded and both console logs open. */
static int open_run(struct attempt *a, const struct run_opts *o)
{
	struct run_ctx *c = &a->c;
	char path[PATH_MAX];
	int r;

	if (o->out_dir)
		snprintf(a->dir, sizeof(a->dir), "%s", o->out_dir);
	else
		snprintf(a->dir, sizeof(a->dir), RUN_DEFAULT_OUT "/%s", a->s.name);
	r = mkdir_p(a->dir, 0755);
	if (r < 0)
		return it_error_set(&a->err, r, "cannot create '%s': %s", a->dir, it_strerror(r));
	a->have_dir = true;
	r = expect_new(&c->engine);
	if (r == 0)
		r = scenario_to_expect(&a->s, c->engine, &a->err);
	if (r == 0)
		r = recorder_open(&c->rec, a->dir, o->log_max, &a->err);
	if (r == 0 && a->s.vm.agent != VM_AGENT_NONE)
		r = open_agent(a);
	if (r < 0)
		return r;
	path_join(path, sizeof(path), a->dir, "console.raw");
	result_setstr(&a->rep.console_raw, path);
	path_join(path, sizeof(path), a->dir, "console.log");
	result_setstr(&a->rep.console_log, path);
	return 0;
}

/*
 * The scenario's checkpoint: restore it, make it, or say why not. Only a
 * Ctrl-C while another run makes it stops the run; any other trouble
 * boots instead, with a warning and a note in the result.
 */
static int open_checkpoint(struct attempt *a, const struct run_opts *o)
{
	struct it_error err = IT_ERROR_INIT;
	size_t at = scenario_checkpoint(&a->s);
	const char *why, *name;
	int r;

	a->c.cp_step = at;
	a->c.rep = &a->rep;
	if (at == SIZE_MAX)
		return 0;
	name = a->s.steps[at].text;
	result_setstr(&a->rep.checkpoint.name, name);
	why = o->no_checkpoint ? "--no-checkpoint" : checkpoint_unsupported(&a->s);
	if (why) {
		checkpoint_note(&a->c, "off", "checkpoint %s off: %s", name, why);
		return 0;
	}
	r = checkpoint_open(&a->c.cp, &a->s, a->s.build.cache_dir, o->status_fd, &err);
	if (r == -IT_EINTERRUPTED)
		return it_error_set(&a->err, r, "%s", err.msg);
	if (r < 0) {
		log_warn("checkpoint %s not used: %s", name, err.msg);
		checkpoint_note(&a->c, "booted", "checkpoint %s not used: %s", name, err.msg);
	}
	return 0;
}

/* Load, build (unless reuse has the images), boot and check once; the verdict is in a->rep. */
static void attempt_run(struct attempt *a, const char *scenario, const struct run_opts *o,
			const struct vm_config *reuse)
{
	struct run_ctx *c = &a->c;
	int r;

	c->status_fd = o->status_fd;
	c->keep = o->keep || o->attach_on_fail || o->gdb_on_fail;
	r = run_prepare(&a->s, scenario, o, &a->err);
	if (r == 0 && o->gdb_on_fail)
		r = gdbstub_setup(&a->s, &a->gdb_port, &a->err);
	name_report(a, scenario, o);
	if (r == 0)
		r = run_arch_pick(&a->s, &a->err);
	if (r == 0)
		r = run_scale_timeouts(&a->s, &a->rep.timeout_factor, &a->err);
	if (r == 0)
		r = open_run(a, o);
	if (r == 0)
		r = run_build_image(&a->s, o, a->dir, reuse, &a->s.vm, &a->err);
	/* The image to boot, built or given, has the last word on the arch. */
	if (r == 0)
		r = run_arch_pick(&a->s, &a->err);
	if (r == 0)
		result_setstr(&a->rep.arch, vm_arch_name(a->s.vm.arch));
	if (r == 0)
		r = open_checkpoint(a, o);
	if (r < 0)
		goto report;
	c->live = !o->out.quiet && isatty(STDOUT_FILENO);
	c->console_bol = true;
	progress_init(&c->prog, STDERR_FILENO, !o->out.quiet && o->status_fd < 0, now_ms());
	r = boot_and_check(&a->s, c, &a->rep, a->dir, &a->err);
	progress_hide(&c->prog);
	if (recorder_finish(&c->rec) < 0 && r == 0)
		r = it_error_set(&a->err, c->rec.err, "cannot write the console log in '%s': %s",
				 a->dir, it_strerror(c->rec.err));
	if (c->live)
		fputs("\n", stdout);
report:
	if (c->agent)
		agentsteps_stop(c->agent, now_ms());
	if (a->rep.console_log) {
		result_load_tail(&a->rep, a->rep.console_log, NULL);
		note_crash(a);
	}
	result_finish(&a->rep, c->engine, r, &a->err);
}

/* Keep a failed attempt's console logs as attempt-N.console.* beside the next one's. */
static void keep_attempt_logs(const struct attempt *a, unsigned n)
{
	static const char *const names[] = {"console.raw", "console.log", "command.txt"};
	char from[PATH_MAX], to[PATH_MAX], name[64];

	if (!a->have_dir)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(name, sizeof(name), "attempt-%u.%s", n, names[i]);
		if (path_join(from, sizeof(from), a->dir, names[i]) == 0 &&
		    path_join(to, sizeof(to), a->dir, name) == 0)
			rename(from, to);
	}
}

/* ---- after the run ------------------------------------------------------------------------ */

/* A check made once the run passed failed it: the verdict becomes FAILED with its text. */
static void fail_after(struct attempt *a, const struct it_error *why)
{
	result_finish(&a->rep, a->c.engine, why->code ? why->code : -IT_EFAIL, why);
}

static void check_baseline(struct attempt *a, const struct run_opts *o)
{
	struct it_error why = IT_ERROR_INIT;
	const char *backend = a->rep.backend ? a->rep.backend : "?";
	const char *accel = a->rep.accel ? a->rep.accel : "?";
	bool compared = false;

	if (policy_check_baseline(o->baseline, &a->rep, &o->slowdown, &compared, &why) < 0) {
		it_error_hint(&why, "the baseline is the same scenario's run with %s on %s",
			      backend, accel);
		fail_after(a, &why);
	} else if (!compared) {
		log_info("no baseline for %s with %s on %s: milestones not compared",
			 a->rep.scenario, backend, accel);
	}
}

/* Budgets and the baseline, once every step passed. */
static void check_after(struct attempt *a, const struct run_opts *o)
{
	struct it_error why = IT_ERROR_INIT;

	if (a->rep.verdict == RUN_PASSED && a->c.engine &&
	    policy_check_budgets(&a->s, &a->rep, &why) < 0)
		fail_after(a, &why);
	if (a->rep.verdict == RUN_PASSED && o->baseline)
		check_baseline(a, o);
}

static void collect_artifacts(struct attempt *a, const struct run_opts *o)
{
	char root[PATH_MAX], dest[PATH_MAX];
	struct it_error err = IT_ERROR_INIT;
	int r;

	if (!a->have_dir)
		return;
	if (o->artifacts_dir)
		snprintf(root, sizeof(root), "%s", o->artifacts_dir);
	else if (!o->out_dir)
		snprintf(root, sizeof(root), RUN_DEFAULT_OUT "/" RUN_ARTIFACTS_DIR);
	else if (path_join(root, sizeof(root), a->dir, RUN_ARTIFACTS_DIR) < 0)
		return;
	if (path_join(dest, sizeof(dest), root, a->rep.scenario) < 0)
		return;
	fflush(stdout);
	fflush(stderr);
	r = artifacts_collect(a->dir, dest, &a->s.files, a->s.vm.initrd, &err);
	if (r < 0)
		log_it_error(&err, r);
	else
		log_info("artifacts of %s: %s", a->rep.scenario, dest);
}

/* The table on stdout, --junit, --json and OUT/NAME/result.json; then the artifacts. */
static void write_results(struct attempt *a, const struct run_opts *o)
{
	char path[PATH_MAX];
	enum run_verdict v = a->rep.verdict;

	result_print(&a->rep, stdout, o->out.quiet);
	if (o->out.junit && result_run_write_junit(&a->rep, o->out.junit, &a->err) < 0)
		log_it_error(&a->err, a->err.code);
	if (o->out.json && result_run_write_json(&a->rep, o->out.json, &a->err) < 0)
		log_it_error(&a->err, a->err.code);
	if (a->have_dir && path_join(path, sizeof(path), a->dir, RUN_RESULT_FILE) == 0)
		result_run_write_json(&a->rep, path, NULL);
	if (v != RUN_PASSED && v != RUN_USAGE_ERROR && v != RUN_INTERRUPTED)
		collect_artifacts(a, o);
}

/* --keep: not after Ctrl-C, which only waited for the verdict to be written. */
static void keep_or_stop(struct attempt *a, const struct run_opts *o)
{
	if (a->c.keep && sig_pending())
		vm_stop(a->c.vm, STOP_GRACE_MS, NULL);
	else if (a->c.keep) {
		if (a->gdb_port && a->c.vm && keep_wanted(a->rep.verdict))
			gdbstub_say(&a->s, a->gdb_port);
		keep_after_run(a->c.vm, &a->rep, o->attach_on_fail, o->status_fd, a->c.link);
	}
	/* Ctrl-C that ended a kept VM was taken by keep_serve()'s loop. */
	if (a->c.vm && vm_info(a->c.vm)->signal)
		sig_note(vm_info(a->c.vm)->signal);
}

/* Try until the run is not an infrastructure error or the retries are used up. */
static unsigned run_attempts(struct attempt *a, const char *scenario, const struct run_opts *o)
{
	struct vm_config reuse;
	unsigned n;

	vm_config_init(&reuse);
	for (n = 1;; n++) {
		attempt_init(a);
		if (n > 1)
			run_status(o->status_fd, "attempt %u", n);
		attempt_run(a, scenario, o, &reuse);
		if (sig_pending() || !policy_should_retry(a->rep.verdict, n, o->retries))
			break;
		log_warn("%s: attempt %u of %u ended in an infrastructure error: %s; trying again",
			 a->rep.scenario, n, o->retries + 1,
			 a->rep.error.msg[0] ? a->rep.error.msg : it_strerror(a->rep.error.code));
		/* What was built stays good: only the boot is tried again. */
		if (!reuse.initrd && a->s.vm.initrd && a->s.vm.kernel) {
			reuse.initrd = strdup(a->s.vm.initrd);
			reuse.kernel = strdup(a->s.vm.kernel);
		}
		keep_attempt_logs(a, n);
		attempt_release(a);
	}
	vm_config_release(&reuse);
	return n;
}

int run_scenario(const char *scenario, const struct run_opts *o)
{
	struct sig_guard sg;
	struct attempt a;
	unsigned n;
	int code;

	sig_catch(&sg);
	n = run_attempts(&a, scenario, o);
	a.rep.attempts = n;
	a.rep.flaky = n > 1 && a.rep.verdict == RUN_PASSED;
	if (a.rep.flaky)
		result_finish(&a.rep, a.c.engine, 0, NULL); /* the verdict line says so */
	check_after(&a, o);
	code = result_exit_code(&a.rep);
	write_results(&a, o);
	keep_or_stop(&a, o);
	attempt_release(&a);
	sig_release(&sg);
	/* Interrupted at any point, even once the verdict was written: a script must stop. */
	return sig_caught ? EXIT_INTERRUPTED : code;
}
