// SPDX-License-Identifier: MIT
/* 'initrd-test boot': build a scenario's initrd, boot it and attach this terminal, for hands-on
 * work. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "runner/runner.h"
#include "src/arch.h"
#include "src/agentlink.h"
#include "src/cmds.h"
#include "src/gdbstub.h"
#include "src/keep.h"
#include "src/run.h"
#include "src/runlog.h"
#include "src/signals.h"

static const char intro[] =
    "usage: initrd-test boot [options] SCENARIO\n"
    "\n"
    "Build the scenario's initrd (as 'run' does), boot it, and connect this terminal\n"
    "to its serial console at once, for hands-on work: log in as the scenario allows\n"
    "(the shipped ones: root, no password). The scenario's steps, fail patterns and\n"
    "timeouts are not used: you are the test. The VM runs until it powers off, Ctrl-] q,\n"
    "'initrd-test stop NAME' or Ctrl-C.\n"
    "\n"
    "keys (Ctrl-] then):\n"
    "  d          detach: the VM keeps running, served by this initrd-test, which\n"
    "             stays in the foreground; Enter here attaches again, and\n"
    "             'initrd-test attach NAME' attaches from any other terminal\n"
    "             (any number of clients at once; 'initrd-test ps' lists the VMs)\n"
    "  q          power the VM off; boot ends\n"
    "  Ctrl-]     send a Ctrl-] to the VM\n"
    "  ?          list these keys\n"
    "\n"
    "When stdin or stdout is not a terminal, nothing is attached: boot says how to\n"
    "attach and serves the console until the VM ends.\n"
    "\n";

static const char outro[] =
    "examples:\n"
    "  initrd-test boot --repo tests/data/alpine-3.19.1 --kernel host scenarios/networking\n"
    "  initrd-test boot --append rdinit=/bin/sh scenarios/minimal\n"
    "  initrd-test boot --gdb --kernel ~/linux scenarios/minimal\n"
    "\n"
    "exit codes: 0 the VM was powered off (Ctrl-] q, 'initrd-test stop', or by the guest),\n"
    "            2 usage or scenario error, 3 infrastructure error (packages, kernel,\n"
    "            qemu), 130 ended by Ctrl-C or SIGTERM\n";

static const struct opt_group *const groups[] = {
    &run_boot_options, &run_vm_options, &overrides_packages, &overrides_kernel, &overrides_image,
};

static const struct opt_cmd boot_cmd = {"boot", intro, outro, groups, ARRAY_SIZE(groups), false};

/* The console is saved while the user works; a log that cannot be written stops, the VM not. */
static int log_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct recorder *rec = ctx;

	if (!rec->err && recorder_feed(rec, buf, len, now) < 0)
		log_warn("the console is no longer saved: %s", it_strerror(rec->err));
	return 0;
}

static int exit_code_of(int r)
{
	switch (r) {
	case KEEP_EXITED:
	case KEEP_POWERED_OFF:
		return EXIT_PASS;
	case KEEP_SIGNALLED:
		return EXIT_INTERRUPTED;
	default:
		return exit_code_for(r);
	}
}

/* Start the VM with its console socket (boot has nothing to offer without it), then serve it. */
static int start_and_serve(struct scenario *s, const char *dir, struct recorder *rec,
			   struct it_error *err)
{
	struct agentlink *link = NULL;
	struct keep_opts ko;
	struct vm *vm = NULL;
	const struct vm_info *info;
	int r = vm_start(&s->vm, &vm, err);

	if (r < 0)
		return r;
	/* 'initrd-test exec' and 'cp' reach the guest through this process. */
	if (s->vm.agent != VM_AGENT_NONE && agentlink_new(&link, NULL, NULL) == 0)
		agentlink_set_vm(link, vm);
	info = vm_info(vm);
	recorder_start(rec, info->start_ms);
	vm_hub_set_status(vm, "interactive (initrd-test boot)");
	r = vm_hub_enable(vm, s->name, err);
	if (r == 0) {
		log_info("booting %s with %s (%s) as %s; console log in %s/console.log", s->name,
			 info->binary, info->accel_desc, vm_hub_name(vm), dir);
		keep_opts_init(&ko);
		ko.attach = true;
		ko.on_output = log_output;
		ko.ctx = rec;
		ko.link = link;
		r = keep_serve(vm, &ko, err);
	}
	vm_free(vm);
	agentlink_free(link);
	return r;
}

/*
 * Boot the prepared scenario and serve its console. SIGINT and SIGTERM stay
 * blocked until the VM is gone, so that one waits for keep_serve()'s loop,
 * and one more while the VM is stopped does not kill us before its hub
 * files and directory are removed.
 */
static int boot_and_serve(struct scenario *s, const char *dir, uint64_t log_max,
			  struct it_error *err)
{
	struct recorder rec;
	int r;

	recorder_init(&rec);
	r = recorder_open(&rec, dir, log_max, err);
	if (r == 0)
		r = start_and_serve(s, dir, &rec, err);
	if (recorder_finish(&rec) < 0 && !rec.err)
		log_warn("the end of the console was not saved");
	recorder_release(&rec);
	if (sig_pending() && r >= 0)
		r = KEEP_SIGNALLED;
	return r;
}

/* The run's folder: --out, or initrd-test-out/NAME. */
static int make_dir(const struct run_opts *o, const struct scenario *s, char *dir, size_t n,
		    struct it_error *err)
{
	int r;

	if (o->out_dir)
		snprintf(dir, n, "%s", o->out_dir);
	else if (snprintf(dir, n, RUN_DEFAULT_OUT "/%s", s->name) >= (int)n)
		return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", s->name);
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", dir, it_strerror(r));
	return 0;
}

static int boot_main(const struct run_opts *o, const char *path)
{
	struct it_error err = IT_ERROR_INIT;
	struct sig_guard sg;
	struct scenario s;
	char dir[PATH_MAX];
	int r, gdb_port = 0;

	scenario_init(&s);
	sig_catch(&sg);
	r = run_prepare(&s, path, o, &err);
	if (r == 0 && o->gdb)
		r = gdbstub_setup(&s, &gdb_port, &err);
	if (r == 0)
		r = make_dir(o, &s, dir, sizeof(dir), &err);
	if (r == 0)
		r = run_build_image(&s, o, dir, NULL, &s.vm, &err);
	if (r == 0 && o->gdb)
		gdbstub_say(&s, gdb_port);
	if (r == 0)
		r = run_arch_pick(&s, &err);
	if (r == 0)
		r = boot_and_serve(&s, dir, o->log_max, &err);
	if (r < 0)
		log_it_error(&err, r);
	sig_release(&sg);
	scenario_release(&s);
	return exit_code_of(r);
}

int cmd_boot(int argc, char **argv)
{
	struct run_opts o;
	void *ctxs[] = {&o, &o, &o.ov, &o.ov, &o.ov};
	int first, code;

	run_opts_init(&o);
	first = opt_parse(&boot_cmd, ctxs, argc, argv);
	if (first >= 0 && argc - first != 1) {
		opt_usage_error(&boot_cmd,
				first < argc ? "one scenario at a time" : "no scenario given");
		first = -IT_EUSAGE;
	}
	if (first < 0)
		code = first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	else
		code = boot_main(&o, argv[first]);
	run_opts_release(&o);
	return code;
}
