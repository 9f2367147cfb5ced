// SPDX-License-Identifier: MIT
/* 'initrd-test boot': build a scenario's initrd, boot it and attach this terminal, for hands-on
 * work. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "expect/expect.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "src/keep.h"
#include "src/overrides.h"
#include "src/run.h"
#include "src/runlog.h"
#include "scenario/scenario.h"

static const char boot_usage[] =
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
    "\n"
    "  -o, --out DIR          where the files go (default initrd-test-out/NAME):\n"
    "                         initrd.img, vmlinuz, plan.txt, console.raw, console.log\n"
    "      --initrd FILE      boot this initrd instead of building one (needs --kernel)\n"
    "      --accel A          auto (KVM when /dev/kvm is usable), kvm or tcg;\n"
    "                         INITRD_TEST_ACCEL overrides\n"
    "      --backend B        qemu (default) or crosvm\n"
    "      --memory SIZE      guest memory (512M, 1G)\n"
    "      --append ARGS      more kernel command line, after the scenario's (single)\n"
    "      --log-max SIZE     cap console.raw and console.log at SIZE each (default 64M,\n"
    "                         0: no cap); see 'initrd-test run --help'\n"
    "  -h, --help             this help\n"
    "\n" OVERRIDES_HELP "\n"
    "examples:\n"
    "  initrd-test boot --repo tests/data/alpine-3.19.1 --kernel host scenarios/networking\n"
    "  initrd-test boot --append rdinit=/bin/sh scenarios/minimal\n"
    "\n"
    "exit codes: 0 the VM was powered off (Ctrl-] q, 'initrd-test stop', or by the guest),\n"
    "            2 usage or scenario error, 3 infrastructure error (packages, kernel,\n"
    "            qemu), 130 ended by Ctrl-C or SIGTERM\n";

enum {
	OPT_BOOT_APPEND = OPT_RUN_MAX + 1,
};

#define DEFAULT_OUT "initrd-test-out"

/* The command line: the run options boot shares, and its own; strings are borrowed from argv. */
struct boot_opts {
	struct run_opts ro;
	const char *append;
};

/* The console, saved while the user works: as read, and cleaned with timestamps; capped. */
struct boot_log {
	struct runlog raw, log;
	struct conlog *conlog;
	struct buf lines;
	int err; /* the first write error; logging stops there, the VM goes on */
};

static int log_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct boot_log *l = ctx;
	int r = 0;

	if (l->err)
		return 0;
	r = runlog_write(&l->raw, buf, len);
	if (r == 0 && l->conlog) {
		r = conlog_feed(l->conlog, buf, len, now, &l->lines);
		if (r == 0 && l->lines.len)
			r = runlog_write(&l->log, l->lines.data, l->lines.len);
		buf_reset(&l->lines);
	}
	if (r < 0) {
		l->err = r;
		log_warn("the console is no longer saved: %s", it_strerror(r));
	}
	return 0;
}

/* Write what is held (the last line, the tails of capped logs), then close. */
static void boot_log_release(struct boot_log *l)
{
	int r = l->err;

	if (r == 0 && l->conlog && conlog_finish(l->conlog, &l->lines) == 0 && l->lines.len)
		r = runlog_write(&l->log, l->lines.data, l->lines.len);
	if (r == 0)
		r = runlog_finish(&l->raw);
	if (r == 0)
		r = runlog_finish(&l->log);
	if (r < 0 && !l->err)
		log_warn("the end of the console was not saved: %s", it_strerror(r));
	else if (r == 0 && (l->raw.omitted || l->log.omitted))
		log_warn("the console logs reached --log-max (%llu bytes): %llu bytes of "
			 "console.raw and %llu of console.log left out in their middle",
			 (unsigned long long)l->raw.max, (unsigned long long)l->raw.omitted,
			 (unsigned long long)l->log.omitted);
	conlog_free(l->conlog);
	buf_release(&l->lines);
	runlog_release(&l->raw);
	runlog_release(&l->log);
}

static int boot_log_open(struct boot_log *l, const char *dir, uint64_t max, struct it_error *err)
{
	int r = runlog_open(&l->raw, dir, "console.raw", max, false, err);

	if (r == 0)
		r = runlog_open(&l->log, dir, "console.log", max, true, err);
	if (r == 0 && conlog_new(&l->conlog) < 0)
		r = it_error_set(err, -ENOMEM, "cannot log the console: %s", strerror(ENOMEM));
	return r;
}

/* ---- options ---- */

static int take_option(struct boot_opts *bo, int c, const char *arg, struct it_error *err)
{
	int r;

	if (c == OPT_BOOT_APPEND) {
		bo->append = arg;
		return 1;
	}
	r = run_parse_option(&bo->ro, c, arg, err);
	/* run takes 0 as "the scenario's"; boot never did. */
	if (r > 0 && c == OPT_MEMORY && bo->ro.memory_mib <= 0)
		return it_error_set(err, -IT_EUSAGE,
				    "bad --memory '%s': give a size like 512M or 1G", arg);
	return r;
}

static int usage_error(struct it_error *err, int r, const char *msg)
{
	if (r < 0)
		log_it_error(err, r);
	else if (msg)
		log_error("%s", msg); /* NULL: getopt has said what is wrong */
	fprintf(stderr, "try 'initrd-test boot --help'\n");
	return EXIT_USAGE;
}

/* ---- preparing the VM ---- */

static int append_cmdline(struct vm_config *vm, const char *more)
{
	char *joined = NULL;

	if (!vm->append || !*vm->append) {
		joined = strdup(more);
	} else {
		size_t n = strlen(vm->append) + 1 + strlen(more) + 1;

		joined = malloc(n);
		if (joined)
			snprintf(joined, n, "%s %s", vm->append, more);
	}
	if (!joined)
		return -ENOMEM;
	free(vm->append);
	vm->append = joined;
	return 0;
}

/* Load the scenario and apply the command line; the kernel is resolved. */
static int prepare(struct scenario *s, const char *path, const struct boot_opts *bo,
		   struct it_error *err)
{
	int r = scenario_load(s, path, err);

	/* A scenario that is not there is the user's mistake. */
	if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR) {
		err->code = -IT_EUSAGE;
		return -IT_EUSAGE;
	}
	if (r == 0)
		r = overrides_apply(&bo->ro.ov, s, err);
	if (r == 0)
		r = run_apply_vm_options(s, &bo->ro);
	if (r < 0)
		return r;
	if (bo->append && append_cmdline(&s->vm, bo->append) < 0)
		return it_error_set(err, -ENOMEM, "cannot prepare the VM: %s", strerror(ENOMEM));
	return scenario_resolve_kernel(s, err);
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

/*
 * Boot the prepared scenario and serve its console; the exit code. SIGINT
 * and SIGTERM are blocked from before the VM starts until it is gone, so
 * that one waits for keep_serve()'s loop, and one more while the VM is
 * stopped does not kill us before its hub files and directory are removed.
 */
static int boot_and_serve(struct scenario *s, const char *dir, uint64_t log_max,
			  struct it_error *err)
{
	struct boot_log blog;
	struct keep_opts ko;
	struct vm *vm = NULL;
	const struct vm_info *info;
	sigset_t set, old;
	int r;

	sigemptyset(&set);
	add_interrupt_signals(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	memset(&blog, 0, sizeof(blog));
	runlog_init(&blog.raw, -1, 0, false);
	runlog_init(&blog.log, -1, 0, true);
	buf_init(&blog.lines, 0);
	r = boot_log_open(&blog, dir, log_max, err);
	if (r == 0)
		r = vm_start(&s->vm, &vm, err);
	if (r < 0)
		goto out;
	info = vm_info(vm);
	conlog_start(blog.conlog, info->start_ms);
	vm_hub_set_status(vm, "interactive (initrd-test boot)");
	/* Without its console socket, boot has nothing to offer. */
	r = vm_hub_enable(vm, s->name, err);
	if (r < 0)
		goto out;
	log_info("booting %s with %s (%s) as %s; console log in %s/console.log", s->name,
		 info->binary, info->accel_desc, vm_hub_name(vm), dir);
	keep_opts_init(&ko);
	ko.attach = true;
	ko.on_output = log_output;
	ko.ctx = &blog;
	r = keep_serve(vm, &ko, err);
out:
	vm_free(vm);
	boot_log_release(&blog);
	if (take_pending_signals(&set) && r >= 0)
		r = KEEP_SIGNALLED;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

int cmd_boot(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, OPT_OUT},
	    {"initrd", required_argument, NULL, OPT_INITRD},
	    {"accel", required_argument, NULL, OPT_ACCEL},
	    {"backend", required_argument, NULL, OPT_BACKEND},
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"append", required_argument, NULL, OPT_BOOT_APPEND},
	    {"log-max", required_argument, NULL, OPT_LOG_MAX},
	    {"help", no_argument, NULL, 'h'},
	    OVERRIDES_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct it_error err = IT_ERROR_INIT;
	struct boot_opts bo;
	struct scenario s;
	char dir[PATH_MAX];
	int c, r, code;

	memset(&bo, 0, sizeof(bo));
	run_opts_init(&bo.ro);
	scenario_init(&s);
	while ((c = getopt_long(argc, argv, "o:hr:j:", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(boot_usage, stdout);
			code = EXIT_PASS;
			goto done;
		}
		r = take_option(&bo, c, optarg, &err);
		if (r <= 0) {
			code = usage_error(&err, r, NULL);
			goto done;
		}
	}
	if (argc - optind != 1) {
		code = usage_error(&err, 0,
				   optind < argc ? "one scenario at a time" : "no scenario given");
		goto done;
	}
	r = prepare(&s, argv[optind], &bo, &err);
	if (r == 0 && bo.ro.out_dir)
		snprintf(dir, sizeof(dir), "%s", bo.ro.out_dir);
	else if (r == 0 &&
		 snprintf(dir, sizeof(dir), DEFAULT_OUT "/%s", s.name) >= (int)sizeof(dir))
		r = it_error_set(&err, -ENAMETOOLONG, "'%s': name too long", s.name);
	if (r == 0) {
		r = mkdir_p(dir, 0755);
		if (r < 0)
			it_error_set(&err, r, "cannot create '%s': %s", dir, it_strerror(r));
	}
	if (r == 0)
		r = run_build_image(&s, &bo.ro, dir, NULL, &s.vm, &err);
	if (r == 0)
		r = boot_and_serve(&s, dir, bo.ro.log_max, &err);
	if (r < 0)
		log_it_error(&err, r);
	code = exit_code_of(r);
done:
	scenario_release(&s);
	run_opts_release(&bo.ro);
	return code;
}
