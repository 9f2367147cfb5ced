// SPDX-License-Identifier: MIT
/* 'initrd-test run': build, boot and check one scenario, or run a suite of them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/builder.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "expect/expect.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "src/keep.h"
#include "src/overrides.h"
#include "src/report.h"
#include "src/run.h"
#include "src/runlog.h"
#include "scenario/scenario.h"
#include "src/suite.h"

static const char run_usage[] =
    "usage: initrd-test run [options] SCENARIO\n"
    "       initrd-test run [options] DIR|SCENARIO...\n"
    "\n"
    "Build the scenario's initrd (packages come from the cache when they can), boot it\n"
    "in qemu with the serial console on a pty, and check the console against the\n"
    "scenario's steps. The VM stops as soon as the last step passes.\n"
    "\n"
    "Given a directory of scenarios (or several scenarios), run them all as a suite:\n"
    "every directory below holding a file 'scenario' is one, except bases without\n"
    "steps. Each distinct initrd is built once; -j VMs boot at a time; each scenario\n"
    "gets OUT/NAME; the verdicts are merged into OUT/results.json.\n"
    "\n"
    "  -o, --out DIR          where the run's files go (default initrd-test-out/NAME):\n"
    "                         initrd.img, vmlinuz, console.log (timestamped, cleaned),\n"
    "                         console.raw, command.txt, plan.txt, result.json;\n"
    "                         for a suite the root of OUT/NAME (default initrd-test-out)\n"
    "      --initrd FILE      boot this initrd instead of building one (needs --kernel)\n"
    "      --accel A          auto (KVM when /dev/kvm is usable), kvm or tcg;\n"
    "                         INITRD_TEST_ACCEL overrides\n"
    "      --backend B        qemu (default) or crosvm\n"
    "      --memory SIZE      guest memory (512M, 1G)\n"
    "      --timeout DUR      the whole run (180s, 5m); --step-timeout DUR per step\n"
    "      --junit FILE       JUnit XML for CI (a suite's: every scenario)\n"
    "      --json FILE        the result as JSON (timings of every step)\n"
    "      --log-max SIZE     cap console.raw and console.log at SIZE each (default 64M,\n"
    "                         0: no cap): they keep the console's start and its last\n"
    "                         bytes (up to 1M), with a line saying how many were left\n"
    "                         out between; matching sees everything\n"
    "  -q, --quiet            no live console, no table: the verdict only\n"
    "      --keep             after a failed or timed-out run, keep the VM running for\n"
    "                         'initrd-test attach NAME' (Ctrl-] d detaches, Ctrl-] q\n"
    "                         powers off) until it ends, 'initrd-test stop NAME' or\n"
    "                         Ctrl-C; the exit code is still the run's verdict\n"
    "                         (130 when Ctrl-C ended it)\n"
    "      --attach-on-fail   as --keep, and attach this terminal to the console at\n"
    "                         once (when stdin and stdout are terminals, else as --keep)\n"
    "  -h, --help             this help\n"
    "\n"
    "suites and CI:\n"
    "  -j, --parallel N       boot N VMs at once (default: min(CPUs, available memory /\n"
    "                         (VM memory + 256 MiB)))\n"
    "      --shard I/N        run the I-th of N stable, balanced shares of the suite\n"
    "      --durations FILE   balance shards by the durations in an earlier results.json\n"
    "      --retries K        retry infrastructure errors (qemu, mirror, VM start) up to\n"
    "                         K times; a scenario that passes on a retry is FLAKY\n"
    "      --baseline FILE    fail a run whose milestones (first console byte, each\n"
    "                         step) are slower than in this results.json (same\n"
    "                         scenario, backend and accelerator) ...\n"
    "      --max-slowdown P   ... by more than P percent (default 20%) and more than\n"
    "      --slowdown-grace D ... D (default 500ms)\n"
    "      --artifacts DIR    failed runs leave DIR/NAME/ with logs, command line,\n"
    "                         scenario files, plan and initrd listing (default\n"
    "                         OUT/artifacts for a suite, initrd-test-out/artifacts or\n"
    "                         OUT/artifacts for one scenario)\n"
    "\n"
    "packages:\n"
    "  -r, --repo URL|DIR     a repository (https://, http://, file:// or a directory),\n"
    "                         highest priority first; repeatable; replaces the scenario's\n"
    "      --release VER      Alpine's mirror for release VER (v3.19): its main repository\n"
    "      --arch ARCH        package architecture (default x86_64)\n"
    "      --cache-dir DIR    download cache (default $XDG_CACHE_HOME/initrd-test)\n"
    "      --offline          use the cache and local repositories only\n"
    "      --keys-dir DIR     trusted signing keys (default: Alpine's, shipped with us)\n"
    "      --allow-untrusted  accept unsigned or unknown-key packages (loudly)\n"
    "      --jobs N           parallel downloads (default 4; -j is --parallel here)\n"
    "kernel:\n"
    "      --kernel PATH|host a bzImage, or 'host': the newest /boot/vmlinuz-VERSION\n"
    "      --modules-dir DIR  its modules (/lib/modules/VERSION); default from the image\n"
    "      --module NAME      also include this module and its dependencies; repeatable\n"
    "image:\n"
    "      --hostname NAME    /etc/hostname\n"
    "      --compression C    gzip (default), zstd or none\n"
    "\n"
    "examples:\n"
    "  initrd-test run scenarios/networking\n"
    "  initrd-test run --repo tests/data/alpine-3.19.1 --kernel host scenarios/networking\n"
    "  initrd-test run --junit results.xml -q scenarios/minimal\n"
    "  initrd-test run -j 2 --shard 1/3 --retries 1 -o out scenarios/\n"
    "\n"
    "exit codes: 0 passed, 1 failed or crashed, 2 usage or scenario error,\n"
    "            3 infrastructure error (qemu, kernel, packages), 4 timed out;\n"
    "            a suite gives the most serious of its runs' (1, 4, 2, 3 in that order);\n"
    "            130 when Ctrl-C or SIGTERM ended the run or suite, at any point\n";

#define DEFAULT_OUT "initrd-test-out"
#define BUILDS_DIR ".builds"
#define ARTIFACTS_DIR "artifacts"
#define RESULT_FILE "result.json"
#define RUN_LOG "run.log"

void run_opts_init(struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
	overrides_init(&o->ov);
	o->accel = -1;
	o->backend = -1;
	o->status_fd = -1;
	o->log_max = RUNLOG_DEFAULT_MAX;
	o->slowdown.max_ratio = 0.20;
	o->slowdown.grace_ms = SUITE_SLOWDOWN_GRACE_MS;
}

void run_opts_release(struct run_opts *o)
{
	overrides_release(&o->ov);
}

/* ---- Ctrl-C and SIGTERM during a run ------------------------------------------------------ */

/*
 * A run keeps SIGINT and SIGTERM blocked, so that one that comes while a VM
 * is started, stopped or kept, or while reports are written, waits for the
 * VM loop's signalfd (vm_run) or for the next check here instead of killing
 * us half-way: qemu, hub files, a half-written result.json would be left.
 * Only the build and the wait for a shared build's lock run with them open;
 * this handler takes what comes then, and the builder stops at it (run_signal
 * is its cancel flag, see build_into()). The first signal is kept.
 */
static volatile sig_atomic_t run_signal;

static void on_run_signal(int sig)
{
	if (!run_signal)
		run_signal = sig;
}

struct run_signals {
	struct sigaction old_int, old_term;
	sigset_t oldmask;
	bool caught;
};

/* SIGINT and SIGTERM, but not one the caller ignores (see add_interrupt_signals()). */
static void interrupt_set(sigset_t *set)
{
	sigemptyset(set);
	add_interrupt_signals(set);
}

/* Take SIGINT or SIGTERM, pending while blocked, into run_signal; returns run_signal. */
static int take_pending_signal(void)
{
	sigset_t set;
	int sig;

	interrupt_set(&set);
	sig = take_pending_signals(&set);
	if (sig)
		on_run_signal(sig);
	return run_signal;
}

/* Catch and block the two for a run; one that is ignored stays ignored (interrupt_set()). */
static void run_signals_catch(struct run_signals *rs)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_run_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the wait for a build's lock must see EINTR. */
	run_signal = 0;
	interrupt_set(&set);
	sigprocmask(SIG_BLOCK, &set, &rs->oldmask);
	if (sigaction(SIGINT, NULL, &rs->old_int) < 0 ||
	    sigaction(SIGTERM, NULL, &rs->old_term) < 0)
		return;
	if (sigismember(&set, SIGINT))
		sigaction(SIGINT, &sa, NULL);
	if (sigismember(&set, SIGTERM))
		sigaction(SIGTERM, &sa, NULL);
	rs->caught = true;
}

/* Open (during a build) or close the run to the two signals. */
static void run_signals_open(bool open)
{
	sigset_t set;

	interrupt_set(&set);
	sigprocmask(open ? SIG_UNBLOCK : SIG_BLOCK, &set, NULL);
}

/* The end of a run: what is pending is taken, the caller's actions and mask come back. */
static void run_signals_release(struct run_signals *rs)
{
	take_pending_signal();
	if (rs->caught) {
		sigaction(SIGINT, &rs->old_int, NULL);
		sigaction(SIGTERM, &rs->old_term, NULL);
		rs->caught = false;
	}
	sigprocmask(SIG_SETMASK, &rs->oldmask, NULL);
}

/* Between the phases of a run: -IT_EINTERRUPTED once a signal came. */
static int check_interrupted(struct it_error *err)
{
	if (!take_pending_signal())
		return 0;
	return it_error_set(err, -IT_EINTERRUPTED, "interrupted by %s",
			    run_signal == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* A progress line for the suite that runs us ("step lease"); nobody listening is fine. */
static void __attribute__((format(printf, 2, 3))) send_status(int fd, const char *fmt, ...)
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

/* The live state of one run, shared by the loop's callbacks. */
struct run_ctx {
	struct vm *vm;
	struct expect *engine;
	struct conlog *conlog;
	struct buf logbuf;	/* cleaned, timestamped lines waiting to be written */
	struct runlog raw, log; /* console.raw, console.log: capped (--log-max) */
	bool live;		/* console to stdout */
	int64_t start_ms;
	int err;	   /* first write error */
	int status_fd;	   /* progress for a suite */
	size_t shown_step; /* the step last announced there */
	bool keep;	   /* --keep: the VM outlives the check, run_scenario() stops it */
};

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

/* Tell the suite when the current step changes. */
static void announce_step(struct run_ctx *c)
{
	size_t n = expect_nsteps(c->engine), i = c->shown_step;

	while (i < n && expect_step(c->engine, i)->status == EXPECT_STEP_PASSED)
		i++;
	if (i == c->shown_step || i >= n)
		return;
	c->shown_step = i;
	send_status(c->status_fd, "step %s", expect_step(c->engine, i)->name);
	hub_status(c, i);
}

static int state_to_stop(int state)
{
	return state == EXPECT_RUNNING ? 0 : 1;
}

static int on_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct run_ctx *c = ctx;
	int state, r;

	if (!c->err)
		c->err = runlog_write(&c->raw, buf, len);
	if (c->conlog && !c->err) {
		r = conlog_feed(c->conlog, buf, len, now, &c->logbuf);
		if (r == 0 && c->logbuf.len)
			r = runlog_write(&c->log, c->logbuf.data, c->logbuf.len);
		buf_reset(&c->logbuf);
		if (r < 0)
			c->err = r;
	}
	if (c->live)
		fd_write_all(STDOUT_FILENO, buf, len);
	state = expect_feed(c->engine, buf, len, now);
	if (state < 0)
		return state;
	announce_step(c);
	r = flush_engine_output(c);
	if (r < 0)
		return r;
	return state_to_stop(state);
}

static int64_t on_deadline(void *ctx)
{
	struct run_ctx *c = ctx;

	return expect_deadline(c->engine);
}

static int on_timer(void *ctx, int64_t now)
{
	struct run_ctx *c = ctx;
	int state = expect_tick(c->engine, now);

	if (state < 0)
		return state;
	return state_to_stop(state);
}

int run_open_log(const char *dir, const char *name, int *fd, struct it_error *err)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), dir, name) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir, name);
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (*fd < 0)
		return it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

static int write_text_file(const char *dir, const char *name, const char *text,
			   struct it_error *err)
{
	char path[PATH_MAX];
	int r;

	if (path_join(path, sizeof(path), dir, name) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir, name);
	r = write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
	return 0;
}

static int set_vm_images(struct vm_config *vm, const char *initrd, const char *kernel)
{
	free(vm->initrd);
	free(vm->kernel);
	vm->initrd = strdup(initrd);
	vm->kernel = strdup(kernel);
	return vm->initrd && vm->kernel ? 0 : -ENOMEM;
}

/* Build into dir: dir/initrd.img, dir/vmlinuz, dir/plan.txt. */
static int build_into(struct scenario *s, const char *dir, struct vm_config *vm,
		      struct it_error *err)
{
	struct build_result res;
	struct build_signals bs;
	char path[PATH_MAX];
	int r;

	if (path_join(path, sizeof(path), dir, "initrd.img") < 0)
		return it_error_set(err, -ENAMETOOLONG, "cannot build in '%s': %s", dir,
				    strerror(ENAMETOOLONG));
	free(s->build.output);
	s->build.output = strdup(path);
	if (path_join(path, sizeof(path), dir, "vmlinuz") < 0)
		return it_error_set(err, -ENAMETOOLONG, "cannot build in '%s': %s", dir,
				    strerror(ENAMETOOLONG));
	free(s->build.kernel_out);
	s->build.kernel_out = strdup(path);
	if (!s->build.output || !s->build.kernel_out)
		return it_error_set(err, -ENOMEM, "cannot build in '%s': %s", dir,
				    strerror(ENOMEM));
	memset(&res, 0, sizeof(res));
	/* run has caught the two into run_signal already (run_signals_catch()), boot has not:
	 * for boot this catches them, for run it changes nothing. */
	s->build.cancel = &run_signal;
	build_signals_catch(&bs, on_run_signal);
	r = builder_build(&s->build, &res, err);
	build_signals_restore(&bs);
	if (r == 0 && res.plan_text)
		r = write_text_file(dir, "plan.txt", res.plan_text, err);
	if (r == 0 && !res.kernel_path)
		r = it_error_set(err, -IT_EKERNEL, "scenario '%s' has no kernel", s->path);
	if (r == 0) {
		log_info("built %s: %zu packages, %.1f MiB, kernel %s", s->build.output, res.plan.n,
			 res.initrd_bytes / 1048576.0,
			 res.kernel_version ? res.kernel_version : "?");
		r = set_vm_images(vm, s->build.output, res.kernel_path);
		if (r < 0)
			it_error_set(err, r, "cannot prepare the VM: %s", strerror(-r));
	}
	build_result_release(&res);
	return r;
}

/* Make 'name' in dir a hard link to (else a copy of) src; a convenience, errors ignored. */
static void link_into(const char *src, const char *dir, const char *name)
{
	char dst[PATH_MAX];
	struct buf b;

	if (path_join(dst, sizeof(dst), dir, name) < 0)
		return;
	unlink(dst);
	if (link(src, dst) == 0)
		return;
	buf_init(&b, 0);
	if (buf_read_file(&b, src) == 0)
		write_file_atomic(dst, b.data, b.len, 0644);
	buf_release(&b);
}

/*
 * A suite's shared build: one directory per build key, built by the first
 * run that takes its lock; the others wait for it and reuse the image. A
 * build that failed leaves no 'done' mark, so the next run tries again.
 */
static int build_shared(struct scenario *s, const struct run_opts *o, const char *dir,
			struct vm_config *vm, struct it_error *err)
{
	char key[65], bdir[PATH_MAX], path[PATH_MAX], initrd[PATH_MAX];
	struct buf kernel;
	int fd = -1, r;

	buf_init(&kernel, PATH_MAX);
	r = suite_build_key(&s->build, key);
	if (r < 0)
		return it_error_set(err, r, "cannot compute the build key: %s", it_strerror(r));
	key[16] = '\0';
	if (path_join(bdir, sizeof(bdir), o->build_dir, key) < 0 ||
	    path_join(path, sizeof(path), bdir, "lock") < 0 ||
	    path_join(initrd, sizeof(initrd), bdir, "initrd.img") < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", o->build_dir);
	r = mkdir_p(bdir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", bdir, it_strerror(r));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return it_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
	send_status(o->status_fd, "waiting for build %s", key);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = it_error_set(err, -errno, "cannot lock '%s': %s", path,
					 strerror(errno));
			goto out;
		}
		/* Ctrl-C while another run builds: do not wait for it, nor build after it. */
		r = check_interrupted(err);
		if (r < 0)
			goto out;
	}
	r = check_interrupted(err);
	if (r < 0)
		goto out;
	if (path_join(path, sizeof(path), bdir, "done") < 0) {
		r = -ENAMETOOLONG;
		goto out;
	}
	/* 'done' holds the kernel's path: the build is complete. */
	if (buf_read_file(&kernel, path) == 0 && kernel.len) {
		log_info("reusing the initrd of build %s: %s", key, initrd);
		r = set_vm_images(vm, initrd, kernel.data);
	} else {
		send_status(o->status_fd, "building %s", key);
		r = build_into(s, bdir, vm, err);
		if (r == 0)
			r = write_text_file(bdir, "done", vm->kernel, err);
	}
	if (r == 0) {
		link_into(initrd, dir, "initrd.img");
		if (path_join(path, sizeof(path), bdir, "plan.txt") == 0)
			link_into(path, dir, "plan.txt");
	}
out:
	close(fd); /* and the lock with it */
	buf_release(&kernel);
	return r;
}

/*
 * Build the initrd and kernel into the run directory, unless the user gave
 * them or an earlier attempt of this run built them (reuse, may be NULL).
 */
int run_build_image(struct scenario *s, const struct run_opts *o, const char *dir,
		    const struct vm_config *reuse, struct vm_config *vm, struct it_error *err)
{
	int r;

	if (reuse && reuse->initrd && reuse->kernel) {
		log_info("booting the initrd of the attempt before: %s", reuse->initrd);
		return set_vm_images(vm, reuse->initrd, reuse->kernel);
	}
	if (o->initrd) {
		if (!s->build.kernel_image)
			return it_error_set(err, -IT_EUSAGE, "--initrd needs --kernel PATH");
		r = set_vm_images(vm, o->initrd, s->build.kernel_image);
		return r < 0 ? it_error_set(err, r, "cannot prepare the VM: %s", strerror(-r)) : 0;
	}
	if (s->build.packages.n == 0) {
		it_error_set(err, -IT_EUSAGE,
			     "%s: no packages: add a line such as 'packages alpine-base'", s->path);
		it_error_hint(err, "or boot a ready initrd with --initrd FILE --kernel PATH");
		return -IT_EUSAGE;
	}
	if (o->build_dir)
		return build_shared(s, o, dir, vm, err);
	send_status(o->status_fd, "building");
	return build_into(s, dir, vm, err);
}

int run_apply_vm_options(struct scenario *s, const struct run_opts *o)
{
	if (o->accel >= 0)
		s->vm.accel = (enum vm_accel)o->accel;
	if (o->backend >= 0)
		s->vm.backend = (enum vm_backend)o->backend;
	if (o->memory_mib > 0)
		s->vm.memory_mib = o->memory_mib;
	if (o->timeout_ms > 0)
		s->timeout_ms = o->timeout_ms;
	if (o->step_timeout_ms > 0)
		scenario_set_step_timeout(s, o->step_timeout_ms);
	return 0;
}

static int boot_and_check(struct scenario *s, struct run_ctx *c, struct run_report *rep,
			  const char *dir, struct it_error *err)
{
	static const struct vm_ops ops = {on_output, on_deadline, on_timer};
	struct vm_info const *info;
	struct strlist argv = STRLIST_INIT;
	struct it_error stop_err = IT_ERROR_INIT, hub_err = IT_ERROR_INIT;
	int r;

	send_status(c->status_fd, "booting");
	r = vm_start(&s->vm, &c->vm, err);
	if (r < 0)
		return r;
	info = vm_info(c->vm);
	log_info("booting %s with %s (%s)", s->name, info->binary, info->accel_desc);
	/* The console socket is a convenience: a run goes on without it. */
	if (vm_hub_enable(c->vm, s->name, &hub_err) < 0)
		log_warn("no console socket for 'initrd-test attach': %s", hub_err.msg);
	else
		log_info("console: initrd-test attach %s", vm_hub_name(c->vm));
	run_report_setstr(&rep->accel, vm_accel_name(info->accel));
	if (vm_build_argv(&s->vm, info->accel, NULL, &argv, NULL) == 0) {
		run_report_set_command(rep, argv.v);
		if (rep->command) {
			char line[PATH_MAX * 2];

			snprintf(line, sizeof(line), "%s\n", rep->command);
			write_text_file(dir, "command.txt", line, NULL);
		}
	}
	strlist_clear(&argv);
	rep->start_wall_ms = (int64_t)time(NULL) * 1000;
	c->start_ms = info->start_ms;
	r = expect_start(c->engine, info->start_ms);
	if (r == 0 && c->conlog)
		conlog_start(c->conlog, info->start_ms);
	if (r == 0 && expect_nsteps(c->engine) > 0) {
		send_status(c->status_fd, "step %s", expect_step(c->engine, 0)->name);
		hub_status(c, 0);
	}
	if (r == 0)
		r = vm_run(c->vm, &ops, c, err);
	info = vm_info(c->vm);
	rep->first_byte_ms = info->first_output_ms;
	rep->duration_ms = now_ms() - info->start_ms;
	if (r == VM_RUN_EXITED && expect_state(c->engine) == EXPECT_RUNNING)
		expect_eof(c->engine, now_ms());
	if (r >= 0)
		r = 0;
	if (!c->keep || r < 0)
		vm_stop(c->vm, 3000, &stop_err);
	return r;
}

/* The last line, and the tails kept in memory once a log reached --log-max; c->err on failure. */
static void finish_logs(struct run_ctx *c)
{
	int r = 0;

	if (c->conlog && !c->err) {
		r = conlog_finish(c->conlog, &c->logbuf);
		if (r == 0 && c->logbuf.len)
			r = runlog_write(&c->log, c->logbuf.data, c->logbuf.len);
		buf_reset(&c->logbuf);
	}
	if (r == 0)
		r = runlog_finish(&c->raw);
	if (r == 0)
		r = runlog_finish(&c->log);
	if (r < 0 && !c->err)
		c->err = r;
	if (r == 0 && (c->raw.omitted || c->log.omitted))
		log_warn("the console logs reached --log-max (%llu bytes): %llu bytes of "
			 "console.raw and %llu of console.log left out in their middle",
			 (unsigned long long)c->raw.max, (unsigned long long)c->raw.omitted,
			 (unsigned long long)c->log.omitted);
}

/* One try of a scenario: everything it owns, released together. */
struct attempt {
	struct scenario s;
	struct run_ctx c;
	struct run_report rep;
	struct it_error err;
	char dir[PATH_MAX];
	bool have_dir;
};

static void attempt_init(struct attempt *a)
{
	memset(a, 0, sizeof(*a));
	scenario_init(&a->s);
	run_report_init(&a->rep);
	runlog_init(&a->c.raw, -1, 0, false);
	runlog_init(&a->c.log, -1, 0, true);
	a->c.status_fd = -1;
	buf_init(&a->c.logbuf, 0);
}

static void attempt_release(struct attempt *a)
{
	if (a->c.vm)
		vm_free(a->c.vm);
	runlog_release(&a->c.raw);
	runlog_release(&a->c.log);
	buf_release(&a->c.logbuf);
	conlog_free(a->c.conlog);
	expect_free(a->c.engine);
	run_report_release(&a->rep);
	scenario_release(&a->s);
	memset(a, 0, sizeof(*a));
}

static void name_report(struct attempt *a, const char *scenario, const struct run_opts *o)
{
	const char *slash = strrchr(scenario, '/');

	if (o->name)
		run_report_setstr(&a->rep.scenario_name, o->name);
	else if (a->s.name)
		run_report_setstr(&a->rep.scenario_name, a->s.name);
	else
		run_report_setstr(&a->rep.scenario_name, slash && slash[1] ? slash + 1 : scenario);
	run_report_setstr(&a->rep.scenario_path, a->s.path ? a->s.path : scenario);
	run_report_setstr(&a->rep.backend, vm_backend_name(a->s.vm.backend));
}

/* Load, build (unless reuse has the images), boot and check once; the verdict is in a->rep. */
static void attempt_run(struct attempt *a, const char *scenario, const struct run_opts *o,
			const struct vm_config *reuse)
{
	struct run_ctx *c = &a->c;
	char path[PATH_MAX];
	int r;

	c->status_fd = o->status_fd;
	c->keep = o->keep || o->attach_on_fail;
	r = scenario_load(&a->s, scenario, &a->err);
	/* A scenario that is not there is the user's mistake, not the infrastructure's. */
	if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR) {
		a->err.code = -IT_EUSAGE;
		r = -IT_EUSAGE;
	}
	if (r == 0)
		r = overrides_apply(&o->ov, &a->s, &a->err);
	if (r == 0)
		r = run_apply_vm_options(&a->s, o);
	if (r == 0)
		r = scenario_resolve_kernel(&a->s, &a->err);
	name_report(a, scenario, o);
	if (r < 0)
		goto report;

	if (o->out_dir)
		snprintf(a->dir, sizeof(a->dir), "%s", o->out_dir);
	else
		snprintf(a->dir, sizeof(a->dir), DEFAULT_OUT "/%s", a->s.name);
	r = mkdir_p(a->dir, 0755);
	if (r < 0) {
		it_error_set(&a->err, r, "cannot create '%s': %s", a->dir, it_strerror(r));
		goto report;
	}
	a->have_dir = true;
	r = expect_new(&c->engine);
	if (r == 0)
		r = scenario_to_expect(&a->s, c->engine, &a->err);
	if (r == 0)
		r = conlog_new(&c->conlog);
	if (r == 0)
		r = runlog_open(&c->raw, a->dir, "console.raw", o->log_max, false, &a->err);
	if (r == 0)
		r = runlog_open(&c->log, a->dir, "console.log", o->log_max, true, &a->err);
	if (r < 0)
		goto report;
	path_join(path, sizeof(path), a->dir, "console.raw");
	run_report_setstr(&a->rep.console_raw, path);
	path_join(path, sizeof(path), a->dir, "console.log");
	run_report_setstr(&a->rep.console_log, path);

	/* What was pending comes as the build opens to signals: look once more then. */
	run_signals_open(true);
	r = check_interrupted(&a->err);
	if (r == 0)
		r = run_build_image(&a->s, o, a->dir, reuse, &a->s.vm, &a->err);
	run_signals_open(false);
	/* One that came outside the builder's own catching (the lock, the plan file) too. */
	if (r == 0)
		r = check_interrupted(&a->err);
	if (r < 0)
		goto report;
	c->live = !o->quiet && isatty(STDOUT_FILENO);
	r = boot_and_check(&a->s, c, &a->rep, a->dir, &a->err);
	finish_logs(c);
	if (r == 0 && c->err)
		r = it_error_set(&a->err, c->err, "cannot write the console log in '%s': %s",
				 a->dir, it_strerror(c->err));
	if (c->live)
		fputs("\n", stdout);
report:
	if (a->rep.console_log)
		run_report_load_tail(&a->rep, a->rep.console_log, NULL);
	run_report_finish(&a->rep, c->engine, r, &a->err);
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

/* A check made once the run passed failed it: the verdict becomes FAILED with its text. */
static void fail_after(struct attempt *a, const struct it_error *why)
{
	run_report_finish(&a->rep, a->c.engine, why->code ? why->code : -IT_EFAIL, why);
}

static void check_baseline(struct attempt *a, const struct run_opts *o)
{
	const struct run_report *reps[1] = {&a->rep};
	struct it_error why = IT_ERROR_INIT;
	struct buf json;
	struct jv doc;
	const struct jv *runs;
	bool compared = false;

	buf_init(&json, 0);
	if (run_report_json(reps, 1, &json) < 0 ||
	    jv_parse(buf_blob(&json), "run", &doc, NULL) < 0) {
		buf_release(&json);
		return;
	}
	runs = jv_get(&doc, "runs");
	if (runs && runs->type == JV_ARRAY && runs->n == 1 &&
	    suite_baseline_check(o->baseline, &runs->items[0], &o->slowdown, &compared, &why) < 0) {
		it_error_hint(&why, "the baseline is the same scenario's run with %s on %s",
			      a->rep.backend ? a->rep.backend : "?",
			      a->rep.accel ? a->rep.accel : "?");
		fail_after(a, &why);
	} else if (!compared) {
		log_info("no baseline for %s with %s on %s: milestones not compared",
			 a->rep.scenario_name, a->rep.backend ? a->rep.backend : "?",
			 a->rep.accel ? a->rep.accel : "?");
	}
	jv_release(&doc);
	buf_release(&json);
}

static void collect_artifacts(const struct attempt *a, const struct run_opts *o)
{
	char root[PATH_MAX], dest[PATH_MAX], initrd[PATH_MAX];
	struct it_error err = IT_ERROR_INIT;
	int r;

	if (!a->have_dir)
		return;
	if (o->artifacts_dir)
		snprintf(root, sizeof(root), "%s", o->artifacts_dir);
	else if (!o->out_dir)
		snprintf(root, sizeof(root), DEFAULT_OUT "/" ARTIFACTS_DIR);
	else if (path_join(root, sizeof(root), a->dir, ARTIFACTS_DIR) < 0)
		return;
	if (path_join(dest, sizeof(dest), root, a->rep.scenario_name) < 0)
		return;
	if (a->s.vm.initrd)
		snprintf(initrd, sizeof(initrd), "%s", a->s.vm.initrd);
	else
		initrd[0] = '\0';
	fflush(stdout);
	fflush(stderr);
	r = suite_collect_artifacts(a->dir, dest, &a->s.files, initrd[0] ? initrd : NULL, &err);
	if (r < 0)
		log_it_error(&err, r);
	else
		log_info("artifacts of %s: %s", a->rep.scenario_name, dest);
}

int run_scenario(const char *scenario, const struct run_opts *o, struct it_error *err)
{
	struct attempt a;
	struct vm_config reuse;
	const struct run_report *reps[1];
	struct run_signals rs;
	char path[PATH_MAX];
	unsigned n;
	int code;

	(void)err; /* the run's own error goes into its report */
	memset(&rs, 0, sizeof(rs));
	run_signals_catch(&rs);
	vm_config_init(&reuse);
	for (n = 1;; n++) {
		attempt_init(&a);
		if (n > 1)
			send_status(o->status_fd, "attempt %u", n);
		attempt_run(&a, scenario, o, &reuse);
		if (take_pending_signal() || !suite_should_retry(a.rep.verdict, n, o->retries))
			break;
		log_warn("%s: attempt %u of %u ended in an infrastructure error: %s; trying again",
			 a.rep.scenario_name, n, o->retries + 1,
			 a.rep.error.msg[0] ? a.rep.error.msg : it_strerror(a.rep.error.code));
		/* What was built stays good: only the boot is tried again. */
		if (!reuse.initrd && a.s.vm.initrd && a.s.vm.kernel &&
		    set_vm_images(&reuse, a.s.vm.initrd, a.s.vm.kernel) < 0) {
			free(reuse.initrd);
			free(reuse.kernel);
			reuse.initrd = reuse.kernel = NULL;
		}
		keep_attempt_logs(&a, n);
		attempt_release(&a);
	}
	vm_config_release(&reuse);
	a.rep.attempts = n;
	a.rep.flaky = n > 1 && a.rep.verdict == RUN_PASSED;
	if (a.rep.verdict == RUN_PASSED && a.c.engine) {
		struct it_error why = IT_ERROR_INIT;

		if (suite_check_budgets(&a.s, a.c.engine, &why) < 0)
			fail_after(&a, &why);
	}
	if (a.rep.verdict == RUN_PASSED && o->baseline)
		check_baseline(&a, o);

	reps[0] = &a.rep;
	code = run_report_exit_code(&a.rep);
	run_report_print(&a.rep, stdout, o->quiet);
	if (o->junit && run_report_write_junit(reps, 1, o->junit, &a.err) < 0)
		log_it_error(&a.err, a.err.code);
	if (o->json && run_report_write_json(reps, 1, o->json, &a.err) < 0)
		log_it_error(&a.err, a.err.code);
	if (a.have_dir && path_join(path, sizeof(path), a.dir, RESULT_FILE) == 0)
		run_report_write_json(reps, 1, path, NULL);
	if (a.rep.verdict != RUN_PASSED && a.rep.verdict != RUN_USAGE_ERROR &&
	    a.rep.verdict != RUN_INTERRUPTED)
		collect_artifacts(&a, o);
	/* --keep: not after Ctrl-C, which only waited for the verdict to be written. */
	if (a.c.keep && take_pending_signal())
		vm_stop(a.c.vm, 3000, NULL);
	else if (a.c.keep)
		keep_after_run(a.c.vm, &a.rep, o->attach_on_fail, o->status_fd);
	/* Ctrl-C that ended a kept VM was taken by keep_serve()'s loop. */
	if (a.c.vm && vm_info(a.c.vm)->signal)
		on_run_signal(vm_info(a.c.vm)->signal);
	attempt_release(&a);
	run_signals_release(&rs);
	/* Interrupted at any point, even once the verdict was written: a script must stop. */
	return run_signal ? EXIT_INTERRUPTED : code;
}

int run_parse_option(struct run_opts *o, int c, const char *arg, struct it_error *err)
{
	long v;
	int r;

	switch (c) {
	case 'o':
	case OPT_OUT:
		o->out_dir = arg;
		return 1;
	case OPT_INITRD:
		o->initrd = arg;
		return 1;
	case OPT_ACCEL: {
		enum vm_accel a;

		r = vm_accel_parse(arg, &a, err);
		if (r < 0)
			return r;
		o->accel = (int)a;
		return 1;
	}
	case OPT_BACKEND: {
		enum vm_backend b;

		r = vm_backend_parse(arg, &b, err);
		if (r < 0)
			return r;
		o->backend = (int)b;
		return 1;
	}
	case OPT_MEMORY:
		if (!parse_size_mib(arg, &v))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --memory '%s': give a size like 512M or 1G", arg);
		o->memory_mib = v;
		return 1;
	case OPT_TIMEOUT:
	case OPT_STEP_TIMEOUT:
	case OPT_SLOWDOWN_GRACE: {
		int64_t ms;

		if (!parse_duration_ms(arg, &ms) || ms < 0 || (ms == 0 && c != OPT_SLOWDOWN_GRACE))
			return it_error_set(err, -IT_EUSAGE,
					    "bad duration '%s': give one like 90s or 5m", arg);
		if (c == OPT_TIMEOUT)
			o->timeout_ms = ms;
		else if (c == OPT_STEP_TIMEOUT)
			o->step_timeout_ms = ms;
		else
			o->slowdown.grace_ms = ms;
		return 1;
	}
	case OPT_JUNIT:
		o->junit = arg;
		return 1;
	case OPT_JSON:
		o->json = arg;
		return 1;
	case OPT_RETRIES:
		if (!parse_long(arg, 0, 10, &v))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --retries '%s': give a number from 0 to 10", arg);
		o->retries = (unsigned)v;
		return 1;
	case OPT_MAX_SLOWDOWN:
		r = suite_parse_percent(arg, &o->slowdown.max_ratio, err);
		return r < 0 ? r : 1;
	case OPT_ARTIFACTS:
		o->artifacts_dir = arg;
		return 1;
	case OPT_KEEP:
		o->keep = true;
		return 1;
	case OPT_ATTACH_ON_FAIL:
		o->attach_on_fail = true;
		return 1;
	case OPT_LOG_MAX:
		if (!runlog_parse_size(arg, &o->log_max))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --log-max '%s': give 0 (no cap) or a size of at "
					    "least 4K, like 64M",
					    arg);
		return 1;
	case 'q':
		o->quiet = true;
		return 1;
	case 'r':
		return overrides_take(&o->ov, OPT_REPO, arg, err);
	default:
		return overrides_take(&o->ov, c, arg, err);
	}
}

/* ---- suites ------------------------------------------------------------------------------- */

/* What only a suite has. */
struct suite_opts {
	long parallel; /* 0: default */
	struct suite_shard shard;
	const char *durations;
	const char *baseline;
	bool sharded;
};

enum child_state { CHILD_WAITING = 0, CHILD_RUNNING, CHILD_DONE };

/* One scenario of the suite, run by a child process. */
struct child {
	const struct suite_entry *e;
	enum child_state state;
	pid_t pid;
	int status_fd;	    /* read end of the child's progress pipe; -1 when closed */
	struct buf partial; /* an unfinished progress line */
	char phase[160];
	int64_t start_ms, end_ms;
	int wait_status;
	bool signalled; /* we forwarded SIGINT/SIGTERM to it */
	char dir[PATH_MAX];
	char message[512]; /* its verdict line, once done */
	bool passed;
	struct jv run; /* its run object, once done: the report takes them in list order */
};

struct suite_run {
	struct suite_opts so;
	const struct run_opts *ro;
	struct suite_list list;
	struct child *kids;
	const char *out; /* the suite's root */
	char builds[PATH_MAX], artifacts[PATH_MAX];
	long jobs;
	size_t running, done, next;
	int sfd; /* signalfd: SIGCHLD, SIGINT, SIGTERM */
	sigset_t oldmask;
	int interrupted; /* the signal that stopped the suite, 0 if none */
	bool tty, live, scroll;
	unsigned drawn; /* status lines on the screen */
	unsigned width;
	int64_t start_ms, last_draw;
	struct suite_report report;
};

static unsigned term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static unsigned term_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 2)
		return ws.ws_row;
	return 24;
}

static void child_line(const struct child *k, char *line, size_t n)
{
	int64_t now = now_ms();

	switch (k->state) {
	case CHILD_WAITING:
		snprintf(line, n, "%-20s  waiting", k->e->id);
		return;
	case CHILD_RUNNING:
		snprintf(line, n, "%-20s  %5.1fs  %s", k->e->id,
			 (double)(now - k->start_ms) / 1000.0, k->phase[0] ? k->phase : "starting");
		return;
	case CHILD_DONE:
		snprintf(line, n, "%s", k->message);
		return;
	}
}

/* The block of status lines, redrawn in place (a terminal only). */
static void draw(struct suite_run *sr, bool force)
{
	char line[1024];
	int64_t now = now_ms();

	if (!sr->tty || sr->live || sr->scroll || (!force && now - sr->last_draw < 250))
		return;
	sr->last_draw = now;
	if (sr->drawn)
		printf("\033[%uA", sr->drawn);
	for (size_t i = 0; i < sr->list.n; i++) {
		child_line(&sr->kids[i], line, sizeof(line));
		if (strlen(line) >= sr->width)
			line[sr->width - 1] = '\0';
		printf("\r\033[K%s\n", line);
	}
	sr->drawn = (unsigned)sr->list.n;
	fflush(stdout);
}

/* Child side: run one scenario with output into its run.log; never returns. */
static void __attribute__((noreturn))
child_main(struct suite_run *sr, struct child *k, int status_wr, int log_fd, pid_t parent)
{
	struct it_error err = IT_ERROR_INIT;
	struct run_opts o = *sr->ro;
	sigset_t mask, watched;
	int code;

	/* SIGINT and SIGTERM stay blocked: run_scenario() takes them, none may kill us before. */
	interrupt_set(&watched);
	sigorset(&mask, &sr->oldmask, &watched);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Gone with the suite, even when it is killed; out of the terminal's Ctrl-C group. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(EXIT_INTERRUPTED);
	setpgid(0, 0);
	if (log_fd >= 0) {
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
		close(log_fd);
		log_init();
	}
	fcntl(status_wr, F_SETFL, O_NONBLOCK);
	o.status_fd = status_wr;
	o.out_dir = k->dir;
	o.name = k->e->id;
	o.artifacts_dir = sr->artifacts;
	o.build_dir = sr->builds;
	o.junit = NULL;
	o.json = NULL;
	code = run_scenario(k->e->dir, &o, &err);
	fflush(stdout);
	fflush(stderr);
	_exit(code);
}

static int start_child(struct suite_run *sr, struct child *k, struct it_error *err)
{
	char path[PATH_MAX];
	int pipefd[2] = {-1, -1}, log_fd = -1, r;
	pid_t parent = getpid();

	if (path_join(k->dir, sizeof(k->dir), sr->out, k->e->id) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", sr->out,
				    k->e->id);
	r = mkdir_p(k->dir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", k->dir, it_strerror(r));
	/* Nothing of an earlier run may pass for this one's. */
	if (path_join(path, sizeof(path), k->dir, RESULT_FILE) == 0)
		unlink(path);
	if (path_join(path, sizeof(path), sr->artifacts, k->e->id) == 0)
		rm_rf(path);
	if (!sr->live) {
		r = run_open_log(k->dir, RUN_LOG, &log_fd, err);
		if (r < 0)
			return r;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = it_error_set(err, -errno, "cannot make a pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(stdout);
	fflush(stderr);
	k->pid = fork();
	if (k->pid < 0) {
		r = it_error_set(err, -errno, "cannot start a process for '%s': %s", k->e->id,
				 strerror(errno));
		goto fail;
	}
	if (k->pid == 0) {
		close(pipefd[0]);
		close(sr->sfd);
		child_main(sr, k, pipefd[1], log_fd, parent);
	}
	close(pipefd[1]);
	if (log_fd >= 0)
		close(log_fd);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	k->status_fd = pipefd[0];
	k->state = CHILD_RUNNING;
	k->start_ms = now_ms();
	buf_init(&k->partial, 4096);
	sr->running++;
	if (!sr->tty && !sr->ro->quiet)
		log_info("started %s", k->e->id);
	return 0;
fail:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (log_fd >= 0)
		close(log_fd);
	return r;
}

static void read_status(struct child *k)
{
	char chunk[1024];
	ssize_t n;

	for (;;) {
		n = read(k->status_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(&k->partial, chunk, (size_t)n) < 0)
			buf_reset(&k->partial); /* a runaway line: drop it */
	}
	for (;;) {
		char *nl = memchr(k->partial.data, '\n', k->partial.len);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - k->partial.data);
		if (len >= sizeof(k->phase))
			len = sizeof(k->phase) - 1;
		memcpy(k->phase, k->partial.data, len);
		k->phase[len] = '\0';
		buf_consume(&k->partial, (size_t)(nl - k->partial.data) + 1);
	}
	if (n == 0) {
		close(k->status_fd);
		k->status_fd = -1;
	}
}

/* A run object for a child that left no result: it was killed, or crashed. */
static int synthetic_run(const struct child *k, bool interrupted, struct jv *run)
{
	char why[256], msg[512];
	struct jv v, err;
	int r;

	if (WIFSIGNALED(k->wait_status))
		snprintf(why, sizeof(why), "its process was killed by signal %d (%s)",
			 WTERMSIG(k->wait_status), strsignal(WTERMSIG(k->wait_status)));
	else
		snprintf(why, sizeof(why), "its process exited with status %d and left no %s",
			 WEXITSTATUS(k->wait_status), RESULT_FILE);
	snprintf(msg, sizeof(msg), "%s %s: %s", interrupted ? "INTERRUPTED" : "ERROR", k->e->id,
		 why);
	memset(run, 0, sizeof(*run));
	memset(&v, 0, sizeof(v));
	memset(&err, 0, sizeof(err));
	run->type = JV_OBJECT;
	err.type = JV_OBJECT;
	r = jv_set_string(&v, k->e->id);
	r = r ? r : jv_put(run, "scenario", &v);
	r = r ? r : jv_set_string(&v, k->e->dir);
	r = r ? r : jv_put(run, "path", &v);
	r = r ? r : jv_set_string(&v, interrupted ? "interrupted" : "infra_error");
	r = r ? r : jv_put(run, "verdict", &v);
	r = r ? r : jv_set_int(&v, interrupted ? EXIT_INTERRUPTED : EXIT_INFRA);
	r = r ? r : jv_put(run, "exit_code", &v);
	r = r ? r : jv_set_string(&v, msg);
	r = r ? r : jv_put(run, "message", &v);
	r = r ? r : jv_set_string(&v, why);
	r = r ? r : jv_put(&err, "message", &v);
	r = r ? r : jv_put(run, "error", &err);
	jv_release(&v);
	jv_release(&err);
	if (r < 0)
		jv_release(run);
	return r;
}

/* Add what a finished child left (OUT/NAME/result.json) to the suite's report. */
static void collect_child(struct suite_run *sr, struct child *k)
{
	char path[PATH_MAX];
	struct jv doc, run, v;
	const struct jv *runs;
	struct it_error err = IT_ERROR_INIT;
	bool have = false;

	memset(&run, 0, sizeof(run));
	memset(&v, 0, sizeof(v));
	if (path_join(path, sizeof(path), k->dir, RESULT_FILE) == 0 && access(path, F_OK) == 0) {
		if (jv_load(path, &doc, &err) == 0) {
			runs = jv_get(&doc, "runs");
			if (runs && runs->type == JV_ARRAY && runs->n == 1 &&
			    jv_copy(&run, &runs->items[0]) == 0)
				have = true;
			jv_release(&doc);
		} else {
			log_it_error(&err, err.code);
		}
	}
	if (!have && synthetic_run(k, k->signalled || sr->interrupted, &run) < 0)
		return;
	if (sr->so.sharded) {
		char shard[32];

		snprintf(shard, sizeof(shard), "%u/%u", sr->so.shard.index, sr->so.shard.count);
		if (jv_set_string(&v, shard) == 0)
			jv_put(&run, "shard", &v);
	}
	if (path_join(path, sizeof(path), sr->artifacts, k->e->id) == 0 &&
	    access(path, F_OK) == 0 && jv_set_string(&v, path) == 0)
		jv_put(&run, "artifacts", &v);
	snprintf(k->message, sizeof(k->message), "%s",
		 jv_str(jv_get(&run, "message")) ? jv_str(jv_get(&run, "message")) : k->e->id);
	k->passed =
	    jv_str(jv_get(&run, "verdict")) && !strcmp(jv_str(jv_get(&run, "verdict")), "passed");
	k->run = run;
	jv_release(&v);
}

/* Without a terminal: the finished scenario's whole log, in one piece. */
static void print_group(struct suite_run *sr, const struct child *k)
{
	char path[PATH_MAX];
	struct buf b;

	if (sr->live || sr->ro->quiet) {
		if (sr->ro->quiet && !k->passed)
			printf("%s\n", k->message);
		return;
	}
	if (sr->tty && !sr->scroll)
		return;
	printf("==> %s (%zu/%zu, %.1fs): %s\n", k->e->id, sr->done, sr->list.n,
	       (double)(k->end_ms - k->start_ms) / 1000.0, k->message);
	if (sr->tty)
		return; /* a long suite on a terminal: one line each, logs in OUT/NAME/run.log */
	buf_init(&b, 0);
	if (path_join(path, sizeof(path), k->dir, RUN_LOG) == 0 && buf_read_file(&b, path) == 0) {
		fwrite(b.data, 1, b.len, stdout);
		if (b.len && b.data[b.len - 1] != '\n')
			fputc('\n', stdout);
	}
	buf_release(&b);
	fflush(stdout);
}

static void reap(struct suite_run *sr)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < sr->list.n; i++) {
			struct child *k = &sr->kids[i];

			if (k->state != CHILD_RUNNING || k->pid != pid)
				continue;
			if (k->status_fd >= 0) {
				read_status(k);
				if (k->status_fd >= 0)
					close(k->status_fd);
				k->status_fd = -1;
			}
			buf_release(&k->partial);
			k->wait_status = status;
			k->state = CHILD_DONE;
			k->end_ms = now_ms();
			sr->running--;
			sr->done++;
			collect_child(sr, k);
			print_group(sr, k);
			break;
		}
	}
}

static void forward_signal(struct suite_run *sr, int sig)
{
	sr->interrupted = sig;
	for (size_t i = 0; i < sr->list.n; i++) {
		if (sr->kids[i].state != CHILD_RUNNING)
			continue;
		sr->kids[i].signalled = true;
		kill(sr->kids[i].pid, sig);
	}
}

/* The loop: start children up to -j, follow their progress, reap them. */
static int schedule(struct suite_run *sr, struct it_error *err)
{
	struct pollfd *pfd = calloc(sr->list.n + 1, sizeof(*pfd));
	size_t *who = calloc(sr->list.n + 1, sizeof(*who));
	int r = 0;

	if (!pfd || !who) {
		free(pfd);
		free(who);
		return it_error_set(err, -ENOMEM, "cannot run the suite: %s", strerror(ENOMEM));
	}
	while (sr->done < sr->list.n) {
		size_t n = 0;
		int timeout;

		while (!sr->interrupted && sr->running < (size_t)sr->jobs &&
		       sr->next < sr->list.n) {
			r = start_child(sr, &sr->kids[sr->next], err);
			if (r < 0)
				break;
			sr->next++;
		}
		if (r < 0)
			break;
		if (sr->interrupted && sr->running == 0)
			break; /* the rest never started */
		draw(sr, false);
		pfd[n++] = (struct pollfd){.fd = sr->sfd, .events = POLLIN};
		for (size_t i = 0; i < sr->list.n; i++) {
			if (sr->kids[i].state != CHILD_RUNNING || sr->kids[i].status_fd < 0)
				continue;
			who[n] = i;
			pfd[n++] = (struct pollfd){.fd = sr->kids[i].status_fd, .events = POLLIN};
		}
		timeout = sr->tty && !sr->live && !sr->scroll ? 250 : -1;
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			r = it_error_set(err, -errno, "cannot wait for the suite: %s",
					 strerror(errno));
			break;
		}
		for (size_t i = 1; i < n; i++) {
			if (pfd[i].revents)
				read_status(&sr->kids[who[i]]);
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sr->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
					forward_signal(sr, (int)si.ssi_signo);
			}
			reap(sr);
		}
	}
	if (r < 0) {
		/* Stop what runs, and wait for it. */
		forward_signal(sr, SIGTERM);
		sr->interrupted = 0;
		while (sr->running > 0) {
			int status;
			pid_t pid = waitpid(-1, &status, 0);

			if (pid < 0 && errno != EINTR)
				break;
			if (pid > 0)
				reap(sr);
		}
		reap(sr);
	}
	draw(sr, true);
	free(pfd);
	free(who);
	return r;
}

static long suite_jobs(const struct suite_run *sr)
{
	long ncpu = 1, avail = 0, vm = 0;

	if (sr->so.parallel > 0)
		return sr->so.parallel;
	for (size_t i = 0; i < sr->list.n; i++) {
		long m = sr->ro->memory_mib > 0 ? sr->ro->memory_mib : sr->list.v[i].memory_mib;

		if (m > vm)
			vm = m;
	}
	if (suite_host_capacity(&ncpu, &avail) < 0)
		return 1;
	return suite_default_jobs(ncpu, avail, vm);
}

static void suite_run_release(struct suite_run *sr)
{
	for (size_t i = 0; sr->kids && i < sr->list.n; i++) {
		if (sr->kids[i].status_fd >= 0)
			close(sr->kids[i].status_fd);
		buf_release(&sr->kids[i].partial);
		jv_release(&sr->kids[i].run);
	}
	free(sr->kids);
	suite_list_release(&sr->list);
	suite_report_release(&sr->report);
	if (sr->sfd >= 0)
		close(sr->sfd);
}

static int write_suite_outputs(struct suite_run *sr, struct it_error *err)
{
	char path[PATH_MAX];
	int r = 0;

	if (path_join(path, sizeof(path), sr->out, "results.json") == 0)
		r = suite_report_write_json(&sr->report, path, err);
	if (r == 0 && sr->ro->json)
		r = suite_report_write_json(&sr->report, sr->ro->json, err);
	if (r == 0 && sr->ro->junit)
		r = suite_report_write_junit(&sr->report, sr->ro->junit, err);
	return r;
}

static void print_summary(struct suite_run *sr)
{
	struct buf b;

	buf_init(&b, 0);
	if (!sr->tty || sr->scroll || sr->live || sr->ro->quiet) {
		if (suite_report_summary(&sr->report, false, &b) == 0)
			fwrite(b.data, 1, b.len, stdout);
	} else {
		/* The status block shows every verdict; what to do about failures goes below. */
		for (size_t i = 0; i < sr->report.runs.n; i++) {
			const struct jv *run = &sr->report.runs.items[i];
			const char *v = jv_str(jv_get(run, "verdict"));
			const char *h = jv_str(jv_get(run, "hint"));
			const char *a = jv_str(jv_get(run, "artifacts"));

			if (v && !strcmp(v, "passed"))
				continue;
			printf("%s:\n", jv_str(jv_get(run, "scenario")));
			if (h)
				printf("  hint: %s\n", h);
			if (a)
				printf("  artifacts: %s\n", a);
		}
		if (suite_report_totals(&sr->report, &b) == 0)
			printf("%s\n", b.data);
	}
	printf("suite: %.1fs with -j %ld", (double)(now_ms() - sr->start_ms) / 1000.0, sr->jobs);
	if (sr->so.sharded)
		printf(", shard %u/%u", sr->so.shard.index, sr->so.shard.count);
	if (sr->next < sr->list.n)
		printf(", %zu not started", sr->list.n - sr->next);
	printf("; results in %s/results.json\n", sr->out);
	fflush(stdout);
	buf_release(&b);
}

/* SIGINT or SIGTERM still waiting in the signalfd once every child has ended. */
static void take_suite_signals(struct suite_run *sr)
{
	struct signalfd_siginfo si;

	while (read(sr->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if ((si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) && !sr->interrupted)
			sr->interrupted = (int)si.ssi_signo;
	}
}

static int run_suite(const char *const *paths, size_t npaths, const struct run_opts *ro,
		     const struct suite_opts *so, const struct jv *durations)
{
	struct it_error err = IT_ERROR_INIT;
	struct suite_run sr;
	sigset_t mask;
	int r, code;

	memset(&sr, 0, sizeof(sr));
	sr.sfd = -1;
	sr.so = *so;
	sr.ro = ro;
	sr.out = ro->out_dir ? ro->out_dir : DEFAULT_OUT;
	suite_list_init(&sr.list);
	suite_report_init(&sr.report);
	sr.start_ms = now_ms();

	r = suite_discover(paths, npaths, &sr.list, &err);
	if (r == 0 && so->sharded)
		r = suite_shard_select(&sr.list, so->shard, durations);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < sr.list.skipped.n; i++)
		log_verbose("skipped %s: no steps (a base for others)", sr.list.skipped.v[i]);
	if (path_join(sr.builds, sizeof(sr.builds), sr.out, BUILDS_DIR) < 0 ||
	    (ro->artifacts_dir
		 ? snprintf(sr.artifacts, sizeof(sr.artifacts), "%s", ro->artifacts_dir) >=
		       (int)sizeof(sr.artifacts)
		 : path_join(sr.artifacts, sizeof(sr.artifacts), sr.out, ARTIFACTS_DIR) < 0)) {
		r = it_error_set(&err, -ENAMETOOLONG, "'%s': name too long", sr.out);
		goto fail;
	}
	r = mkdir_p(sr.out, 0755);
	if (r < 0) {
		it_error_set(&err, r, "cannot create '%s': %s", sr.out, it_strerror(r));
		goto fail;
	}
	sr.jobs = suite_jobs(&sr);
	sr.tty = isatty(STDOUT_FILENO) && !ro->quiet;
	sr.live = sr.tty && sr.list.n == 1;
	sr.width = term_width();
	sr.scroll = sr.tty && sr.list.n + 2 > term_rows();
	if (so->sharded)
		log_info("shard %u/%u: %zu scenario%s", so->shard.index, so->shard.count, sr.list.n,
			 sr.list.n == 1 ? "" : "s");
	log_info("suite of %zu scenario%s in %s, -j %ld", sr.list.n, sr.list.n == 1 ? "" : "s",
		 sr.out, sr.jobs);
	sr.kids = calloc(sr.list.n ? sr.list.n : 1, sizeof(*sr.kids));
	if (!sr.kids) {
		r = it_error_set(&err, -ENOMEM, "cannot run the suite: %s", strerror(ENOMEM));
		goto fail;
	}
	for (size_t i = 0; i < sr.list.n; i++) {
		sr.kids[i].e = &sr.list.v[i];
		sr.kids[i].status_fd = -1;
	}

	interrupt_set(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &sr.oldmask);
	sr.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sr.sfd < 0) {
		r = it_error_set(&err, -errno, "cannot watch signals: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &sr.oldmask, NULL);
		goto fail;
	}
	r = schedule(&sr, &err);
	for (size_t i = 0; i < sr.list.n; i++) {
		if (sr.kids[i].state == CHILD_DONE && sr.kids[i].run.type == JV_OBJECT &&
		    suite_report_add_run(&sr.report, &sr.kids[i].run) < 0)
			log_error("cannot keep the result of %s: out of memory", sr.kids[i].e->id);
	}
	if (r < 0)
		log_it_error(&err, r);
	it_error_clear(&err);
	if (write_suite_outputs(&sr, &err) < 0)
		log_it_error(&err, err.code);
	print_summary(&sr);
	/* Signals stayed blocked until the results were written: a late Ctrl-C counts too. */
	take_suite_signals(&sr);
	sigprocmask(SIG_SETMASK, &sr.oldmask, NULL);
	code = sr.interrupted ? EXIT_INTERRUPTED : suite_report_exit_code(&sr.report);
	if (r < 0 && code == EXIT_PASS)
		code = exit_code_for(r);
	suite_run_release(&sr);
	return code;
fail:
	log_it_error(&err, r);
	suite_run_release(&sr);
	return exit_code_for(r);
}

/* ---- the command -------------------------------------------------------------------------- */

static int usage_error(struct run_opts *o, struct it_error *err, int r, const char *msg)
{
	if (r < 0)
		log_it_error(err, r);
	else if (msg)
		log_error("%s", msg);
	fprintf(stderr, "try 'initrd-test run --help'\n");
	run_opts_release(o);
	return EXIT_USAGE;
}

/* A results.json to compare with, checked as 'initrd-test report' checks it: {"runs": [...]}. */
static int load_report(const char *path, const char *what, struct jv *out, struct it_error *err)
{
	struct suite_report rep;
	int r;

	memset(out, 0, sizeof(*out));
	out->type = JV_OBJECT;
	suite_report_init(&rep);
	r = suite_report_add_file(&rep, path, err);
	if (r < 0)
		it_error_hint(err, "%s wants the results.json of an earlier run", what);
	else
		r = jv_put(out, "runs", &rep.runs);
	suite_report_release(&rep);
	if (r < 0)
		jv_release(out);
	return r;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, OPT_OUT},
	    {"initrd", required_argument, NULL, OPT_INITRD},
	    {"accel", required_argument, NULL, OPT_ACCEL},
	    {"backend", required_argument, NULL, OPT_BACKEND},
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"step-timeout", required_argument, NULL, OPT_STEP_TIMEOUT},
	    {"junit", required_argument, NULL, OPT_JUNIT},
	    {"json", required_argument, NULL, OPT_JSON},
	    {"parallel", required_argument, NULL, OPT_PARALLEL},
	    {"shard", required_argument, NULL, OPT_SHARD},
	    {"durations", required_argument, NULL, OPT_DURATIONS},
	    {"retries", required_argument, NULL, OPT_RETRIES},
	    {"baseline", required_argument, NULL, OPT_BASELINE},
	    {"max-slowdown", required_argument, NULL, OPT_MAX_SLOWDOWN},
	    {"slowdown-grace", required_argument, NULL, OPT_SLOWDOWN_GRACE},
	    {"artifacts", required_argument, NULL, OPT_ARTIFACTS},
	    {"keep", no_argument, NULL, OPT_KEEP},
	    {"attach-on-fail", no_argument, NULL, OPT_ATTACH_ON_FAIL},
	    {"log-max", required_argument, NULL, OPT_LOG_MAX},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    OVERRIDES_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct it_error err = IT_ERROR_INIT;
	struct suite_opts so;
	struct jv baseline, durations;
	struct run_opts o;
	bool suite;
	int c, r;

	memset(&so, 0, sizeof(so));
	memset(&baseline, 0, sizeof(baseline));
	memset(&durations, 0, sizeof(durations));
	run_opts_init(&o);
	while ((c = getopt_long(argc, argv, "o:qhr:j:", opts, NULL)) != -1) {
		long v;

		switch (c) {
		case 'h':
			fputs(run_usage, stdout);
			run_opts_release(&o);
			return EXIT_PASS;
		case 'j':
		case OPT_PARALLEL:
			if (!parse_long(optarg, 1, 256, &v)) {
				it_error_set(
				    &err, -IT_EUSAGE,
				    "bad --parallel '%s': give a number of VMs from 1 to 256",
				    optarg);
				return usage_error(&o, &err, -IT_EUSAGE, NULL);
			}
			so.parallel = v;
			continue;
		case OPT_SHARD:
			r = suite_shard_parse(optarg, &so.shard, &err);
			if (r < 0)
				return usage_error(&o, &err, r, NULL);
			so.sharded = true;
			continue;
		case OPT_DURATIONS:
			so.durations = optarg;
			continue;
		case OPT_BASELINE:
			so.baseline = optarg;
			continue;
		default:
			break;
		}
		r = run_parse_option(&o, c, optarg, &err);
		if (r <= 0)
			return usage_error(&o, &err, r, NULL);
	}
	if (optind >= argc)
		return usage_error(&o, &err, 0, "no scenario given");
	if (o.quiet && log_verbosity == LOG_NORMAL)
		log_verbosity = LOG_QUIET;
	/* Read what the runs compare with before any VM starts: a bad file is a usage error. */
	if (so.baseline) {
		r = load_report(so.baseline, "--baseline", &baseline, &err);
		if (r < 0) {
			log_it_error(&err, r);
			run_opts_release(&o);
			return EXIT_USAGE;
		}
		o.baseline = &baseline;
	}
	if (so.durations) {
		r = load_report(so.durations, "--durations", &durations, &err);
		if (r < 0) {
			log_it_error(&err, r);
			jv_release(&baseline);
			run_opts_release(&o);
			return EXIT_USAGE;
		}
	}
	suite = argc - optind > 1 || so.sharded || !suite_is_scenario(argv[optind]);
	if (suite && o.initrd) {
		jv_release(&baseline);
		jv_release(&durations);
		return usage_error(&o, &err, 0, "--initrd boots one scenario, not a suite");
	}
	if (suite)
		r = run_suite((const char *const *)argv + optind, (size_t)(argc - optind), &o, &so,
			      so.durations ? &durations : NULL);
	else
		r = run_scenario(argv[optind], &o, &err);
	jv_release(&baseline);
	jv_release(&durations);
	run_opts_release(&o);
	return r;
}
