// SPDX-License-Identifier: MIT
/* The options of run and boot, declared once, and how they apply to a loaded scenario. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "runner/runner.h"
#include "src/kneeds.h"
#include "src/run.h"
#include "src/runlog.h"

enum {
	OPT_OUT = 1,
	OPT_INITRD,
	OPT_ACCEL,
	OPT_BACKEND,
	OPT_MEMORY,
	OPT_TIMEOUT,
	OPT_STEP_TIMEOUT,
	OPT_LOG_MAX,
	OPT_KEEP,
	OPT_ATTACH_ON_FAIL,
	OPT_NO_CHECKPOINT,
	OPT_BISECT,
	OPT_PARALLEL,
	OPT_SHARD,
	OPT_DURATIONS,
	OPT_RETRIES,
	OPT_BASELINE,
	OPT_MAX_SLOWDOWN,
	OPT_SLOWDOWN_GRACE,
	OPT_ARTIFACTS,
	OPT_APPEND,
	OPT_GDB,
	OPT_GDB_ON_FAIL,
};

void run_opts_init(struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
	overrides_init(&o->ov);
	o->accel = -1;
	o->backend = -1;
	o->status_fd = -1;
	o->log_max = RUNLOG_DEFAULT_MAX;
	o->slowdown.max_ratio = SLOWDOWN_DEFAULT_RATIO;
	o->slowdown.grace_ms = SLOWDOWN_GRACE_MS;
}

void run_opts_release(struct run_opts *o)
{
	overrides_release(&o->ov);
}

/* ---- the VM ------------------------------------------------------------------------------- */

static const struct opt vm_opts[] = {
    {OPT_INITRD, 0, "initrd", "FILE", "boot this initrd instead of building one (needs --kernel)"},
    {OPT_ACCEL, 0, "accel", "A",
     "auto (KVM when /dev/kvm is usable), kvm or tcg;\nINITRD_TEST_ACCEL overrides"},
    {OPT_BACKEND, 0, "backend", "B", "qemu (default) or crosvm"},
    {OPT_MEMORY, 0, "memory", "SIZE", "guest memory (512M, 1G)"},
    {OPT_LOG_MAX, 0, "log-max", "SIZE",
     "cap console.raw and console.log at SIZE each (default 64M,\n"
     "0: no cap): they keep the console's start and its last\n"
     "bytes (up to 1M), with a line saying how many were left\n"
     "out between; matching sees everything"},
};

static int take_vm(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct run_opts *o = ctx;
	enum vm_accel a;
	enum vm_backend b;
	int r;

	switch (id) {
	case OPT_INITRD:
		o->initrd = arg;
		return 0;
	case OPT_ACCEL:
		r = vm_accel_parse(arg, &a, err);
		o->accel = r < 0 ? o->accel : (int)a;
		return r;
	case OPT_BACKEND:
		r = vm_backend_parse(arg, &b, err);
		o->backend = r < 0 ? o->backend : (int)b;
		return r;
	case OPT_MEMORY:
		if (!parse_size_mib(arg, &o->memory_mib) || o->memory_mib <= 0)
			return it_error_set(err, -IT_EUSAGE,
					    "bad --memory '%s': give a size like 512M or 1G", arg);
		return 0;
	default:
		if (!runlog_parse_size(arg, &o->log_max))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --log-max '%s': give 0 (no cap) or a size of at "
					    "least 4K, like 64M",
					    arg);
		return 0;
	}
}

const struct opt_group run_vm_options = OPT_GROUP("VM", vm_opts, take_vm);

/* ---- run's own ---------------------------------------------------------------------------- */

static const struct opt own_opts[] = {
    {OPT_OUT, 'o', "out", "DIR",
     "where the run's files go (default initrd-test-out/NAME):\n"
     "initrd.img, vmlinuz, console.log (timestamped, cleaned),\n"
     "console.raw, command.txt, repro.sh, plan.txt, result.json,\n"
     "crash.txt after a kernel crash;\n"
     "for a suite the root of OUT/NAME (default initrd-test-out)"},
    {OPT_TIMEOUT, 0, "timeout", "DUR", "the whole run (180s, 5m)"},
    {OPT_STEP_TIMEOUT, 0, "step-timeout", "DUR", "each step without its own 'within'"},
    {OPT_KEEP, 0, "keep", NULL,
     "after a failed or timed-out run, keep the VM running for\n"
     "'initrd-test attach NAME' (Ctrl-] d detaches, Ctrl-] q\n"
     "powers off) until it ends, 'initrd-test stop NAME' or\n"
     "Ctrl-C; the exit code is still the run's verdict\n"
     "(130 when Ctrl-C ended it)"},
    {OPT_ATTACH_ON_FAIL, 0, "attach-on-fail", NULL,
     "as --keep, and attach this terminal to the console at\n"
     "once (when stdin and stdout are terminals, else as --keep)"},
    {OPT_NO_CHECKPOINT, 0, "no-checkpoint", NULL,
     "boot every run: a 'checkpoint NAME' step is neither\n"
     "restored nor saved (see 'initrd-test cache')"},
    {OPT_GDB_ON_FAIL, 0, "gdb-on-fail", NULL,
     "as --keep, with qemu's gdb stub on a free loopback port\n"
     "(and nokaslr, no panic=-1: a panicked kernel stays up);\n"
     "a kept VM's gdb command is printed"},
    {OPT_BISECT, 0, "bisect", NULL,
     "exit as 'git bisect run' wants: 0 passed, 1 failed,\n"
     "crashed or timed out, 125 (skip) for a usage, scenario,\n"
     "kernel or infrastructure error"},
};

static int take_duration(const char *arg, bool zero_ok, int64_t *out, struct it_error *err)
{
	int64_t ms;

	if (!parse_duration_ms(arg, &ms) || ms < 0 || (ms == 0 && !zero_ok))
		return it_error_set(err, -IT_EUSAGE, "bad duration '%s': give one like 90s or 5m",
				    arg);
	*out = ms;
	return 0;
}

static int take_own(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct run_opts *o = ctx;

	switch (id) {
	case OPT_OUT:
		o->out_dir = arg;
		return 0;
	case OPT_TIMEOUT:
		return take_duration(arg, false, &o->timeout_ms, err);
	case OPT_STEP_TIMEOUT:
		return take_duration(arg, false, &o->step_timeout_ms, err);
	case OPT_KEEP:
		o->keep = true;
		return 0;
	case OPT_NO_CHECKPOINT:
		o->no_checkpoint = true;
		return 0;
	case OPT_BISECT:
		o->bisect = true;
		return 0;
	case OPT_GDB_ON_FAIL:
		o->gdb_on_fail = true;
		return 0;
	default:
		o->attach_on_fail = true;
		return 0;
	}
}

const struct opt_group run_own_options = OPT_GROUP(NULL, own_opts, take_own);

/* ---- suites ------------------------------------------------------------------------------- */

static const struct opt suite_opts_[] = {
    {OPT_PARALLEL, 'j', "parallel", "N",
     "boot N VMs at once (default: min(CPUs, available memory /\n(VM memory + 256 MiB)))"},
    {OPT_SHARD, 0, "shard", "I/N|auto",
     "run the I-th of N stable, balanced shares of the suite;\n"
     "auto: from GitLab's CI_NODE_INDEX/CI_NODE_TOTAL, auto/N: from\n"
     "a Kubernetes Indexed Job's JOB_COMPLETION_INDEX"},
    {OPT_DURATIONS, 0, "durations", "FILE",
     "balance shards by the durations in an earlier results.json"},
    {OPT_RETRIES, 0, "retries", "K",
     "retry infrastructure errors (qemu, mirror, VM start) up to\n"
     "K times; a scenario that passes on a retry is FLAKY"},
    {OPT_BASELINE, 0, "baseline", "FILE",
     "fail a run whose milestones (first console byte, each\n"
     "step) are slower than in this results.json (same\n"
     "scenario, backend and accelerator) ..."},
    {OPT_MAX_SLOWDOWN, 0, "max-slowdown", "P",
     "... by more than P percent (default 20%) and more than"},
    {OPT_SLOWDOWN_GRACE, 0, "slowdown-grace", "D", "... D (default 500ms)"},
    {OPT_ARTIFACTS, 0, "artifacts", "DIR",
     "failed runs leave DIR/NAME/ with logs, command line,\n"
     "scenario files, plan and initrd listing (default\n"
     "OUT/artifacts for a suite, initrd-test-out/artifacts or\n"
     "OUT/artifacts for one scenario)"},
};

static int take_suite(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct run_opts *o = ctx;
	long v;

	switch (id) {
	case OPT_PARALLEL:
		if (!parse_long(arg, 1, 256, &o->suite.parallel))
			return it_error_set(
			    err, -IT_EUSAGE,
			    "bad --parallel '%s': give a number of VMs from 1 to 256", arg);
		return 0;
	case OPT_SHARD:
		o->suite.sharded = true;
		return suite_shard_parse(arg, &o->suite.shard, err);
	case OPT_DURATIONS:
		o->suite.durations = arg;
		return 0;
	case OPT_RETRIES:
		if (!parse_long(arg, 0, 10, &v))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --retries '%s': give a number from 0 to 10", arg);
		o->retries = (unsigned)v;
		return 0;
	case OPT_BASELINE:
		o->suite.baseline = arg;
		return 0;
	case OPT_MAX_SLOWDOWN:
		return policy_parse_percent(arg, &o->slowdown.max_ratio, err);
	case OPT_SLOWDOWN_GRACE:
		return take_duration(arg, true, &o->slowdown.grace_ms, err);
	default:
		o->artifacts_dir = arg;
		return 0;
	}
}

const struct opt_group run_suite_options = OPT_GROUP("suites and CI", suite_opts_, take_suite);

/* ---- boot's own --------------------------------------------------------------------------- */

static const struct opt boot_opts[] = {
    {OPT_OUT, 'o', "out", "DIR",
     "where the files go (default initrd-test-out/NAME):\n"
     "initrd.img, vmlinuz, plan.txt, console.raw, console.log"},
    {OPT_APPEND, 0, "append", "ARGS", "more kernel command line, after the scenario's (single)"},
    {OPT_GDB, 0, "gdb", NULL,
     "start qemu's gdb stub on a free loopback port (the kernel\n"
     "with nokaslr) and print the gdb command that attaches"},
};

static int take_boot(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct run_opts *o = ctx;

	(void)err;
	if (id == OPT_OUT)
		o->out_dir = arg;
	else if (id == OPT_GDB)
		o->gdb = true;
	else
		o->append = arg;
	return 0;
}

const struct opt_group run_boot_options = OPT_GROUP(NULL, boot_opts, take_boot);

/* ---- applying them ------------------------------------------------------------------------ */

int run_append_cmdline(struct vm_config *vm, const char *more)
{
	char *joined = NULL;

	if (!vm->append || !*vm->append) {
		joined = strdup(more);
	} else if (asprintf(&joined, "%s %s", vm->append, more) < 0) {
		joined = NULL;
	}
	if (!joined)
		return -ENOMEM;
	free(vm->append);
	vm->append = joined;
	return 0;
}

/* Whether the command line has the parameter NAME= as a word of its own. */
static bool has_param(const char *cmdline, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = cmdline; p && *p; p++) {
		if ((p == cmdline || p[-1] == ' ') && !strncmp(p, name, n) && p[n] == '=')
			return true;
	}
	return false;
}

/*
 * A kernel crash ends the VM at once: panic=-1 (reboot at once, which
 * -no-reboot makes qemu's exit) unless the command line sets panic= or
 * --gdb-on-fail wants the kernel kept, and
 * oops=panic for 'oops panic' (docs/crash-reports.md).
 */
static int crash_cmdline(struct scenario *s, const struct run_opts *o)
{
	int r = 0;

	/* Under --gdb-on-fail a panicked kernel stays up for gdb. */
	if (!o->gdb_on_fail && !has_param(s->vm.append, "panic"))
		r = run_append_cmdline(&s->vm, "panic=-1");
	if (r == 0 && s->oops_panic && !has_param(s->vm.append, "oops"))
		r = run_append_cmdline(&s->vm, "oops=panic");
	return r;
}

/* --accel, --backend, --memory, --timeout, --step-timeout and --append over the scenario's. */
static int apply_vm_options(struct scenario *s, const struct run_opts *o)
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
	if (o->append && run_append_cmdline(&s->vm, o->append) < 0)
		return -ENOMEM;
	return crash_cmdline(s, o);
}

int run_prepare(struct scenario *s, const char *path, const struct run_opts *o,
		struct it_error *err)
{
	int r = scenario_load(s, path, err);

	/* A scenario that is not there is the user's mistake, not the infrastructure's. */
	if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR) {
		err->code = -IT_EUSAGE;
		return -IT_EUSAGE;
	}
	if (r == 0)
		r = overrides_apply(&o->ov, s, err);
	if (r == 0 && apply_vm_options(s, o) < 0)
		r = it_error_set(err, -ENOMEM, "cannot prepare the VM: %s", strerror(ENOMEM));
	if (r == 0)
		r = scenario_resolve_kernel(s, err);
	if (r == 0)
		r = kneeds_check(s, err);
	if (r == 0 && !o->initrd)
		r = run_agent_setup(s, err);
	return r;
}
