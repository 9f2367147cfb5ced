/* SPDX-License-Identifier: MIT */
/*
 * One run of a scenario, the engine behind 'run' (and, for its image and
 * options, 'boot' and the suite): load the scenario and apply the command
 * line, get the image to boot (built, shared with other scenarios of a
 * suite, or given), boot it, feed the console to the expect engine while
 * recording it, retry infrastructure errors, check budgets and the
 * baseline, settle the result model and write the run's files.
 *
 * Rooms: run.c (the attempt loop and its reports), image.c (the initrd and
 * kernel a run boots), run_opts.c (the options of run and boot). The run's
 * output folder OUT/NAME holds initrd.img, vmlinuz, plan.txt, command.txt,
 * console.raw, console.log and result.json.
 */
#ifndef IT_RUN_H
#define IT_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "scenario/scenario.h"
#include "src/options.h"
#include "src/overrides.h"
#include "src/policy.h"
#include "src/result.h"
#include "src/suite.h"

#define RUN_DEFAULT_OUT "initrd-test-out"
#define RUN_ARTIFACTS_DIR "artifacts"
#define RUN_RESULT_FILE "result.json"
#define RUN_LOG_FILE "run.log"

/* Options of a run; strings are borrowed from argv (or from the suite that runs it). */
struct run_opts {
	struct overrides ov;
	const char *out_dir;		     /* NULL: initrd-test-out/NAME */
	const char *initrd;		     /* boot this instead of building */
	int accel;			     /* enum vm_accel, or -1 for the scenario's */
	int backend;			     /* enum vm_backend, or -1 */
	long memory_mib;		     /* 0: the scenario's */
	int64_t timeout_ms, step_timeout_ms; /* 0: the scenario's */
	const char *append;		     /* more kernel command line (boot) */
	struct output_opts out;		     /* --junit, --json, -q */
	uint64_t log_max;    /* cap of console.raw and console.log each (src/runlog.h); 0: none */
	bool bisect;	     /* --bisect: exit codes for git bisect run (cmd_run.c) */
	bool keep;	     /* a failed or timed-out run keeps its VM for 'attach' (src/keep.h) */
	bool attach_on_fail; /* ... and attaches this terminal to it when it is one */
	bool no_checkpoint;  /* boot every run: no checkpoint is restored or saved */
	bool gdb;	     /* boot --gdb: qemu's gdb stub (src/gdbstub.h) */
	bool gdb_on_fail;    /* run --gdb-on-fail: --keep with the gdb stub */

	/* A suite's (src/suite.h), or what a suite hands each of its runs. */
	struct suite_opts suite;
	const char *name;	   /* the name in reports (a suite's id); NULL: the scenario's */
	const char *artifacts_dir; /* failed runs leave ARTIFACTS_DIR/NAME; NULL: see run --help */
	const char *build_dir;	   /* shared builds, one per build key, under a lock; NULL: none */
	unsigned retries;	   /* infrastructure errors are tried again this many times */
	const struct result_set *baseline; /* runs to compare milestones with; NULL: none */
	struct slowdown slowdown;
	int status_fd; /* progress lines for a suite ("step lease\n"); -1: none */
};

void run_opts_init(struct run_opts *o);
void run_opts_release(struct run_opts *o);

/*
 * The option groups of run and boot (run_opts.c); their context is a
 * struct run_opts. VM: --initrd, --accel, --backend, --memory, --log-max.
 * run: -o, --timeout, --step-timeout, --keep, --attach-on-fail (and
 * output_options of src/options.h: --junit, --json, -q). suite: -j/--parallel, --shard,
 * --durations,
 * --retries, --baseline, --max-slowdown, --slowdown-grace, --artifacts.
 * boot: -o, --append.
 */
extern const struct opt_group run_vm_options, run_own_options, run_suite_options, run_boot_options;

/*
 * Load the scenario at path into s (initialized, empty) and apply the
 * command line: the overrides, the VM options, --append, and the host
 * kernel when the scenario (or --kernel host) asks for it. A scenario that
 * is not there is the user's mistake: -IT_EUSAGE.
 */
int run_prepare(struct scenario *s, const char *path, const struct run_opts *o,
		struct it_error *err);

/*
 * Give vm the images to boot: the ones of reuse (an earlier attempt; may be
 * NULL), or o->initrd with --kernel, or a shared build under o->build_dir
 * (one per run_build_key(), built under a lock by the first run that needs
 * it), or a build into dir (dir/initrd.img, dir/vmlinuz, dir/plan.txt).
 * The build is cancelled by a SIGINT or SIGTERM (src/signals.h).
 */
int run_build_image(struct scenario *s, const struct run_opts *o, const char *dir,
		    const struct vm_config *reuse, struct vm_config *vm, struct it_error *err);

/*
 * The SHA-256 (hex) of everything in c that goes into the initrd (not where
 * it is written, cached or downloaded from in parallel), so that scenarios
 * with equal builds share one image.
 */
int run_build_key(const struct build_config *c, char key[65]);

/*
 * The guest agent for the image (vm.agent not NONE): build.agent_binary
 * from run_default_agent(), and, for a virtio port with a kernel whose
 * modules go in, virtio_pci and virtio_console. -IT_ENOTFOUND (with a
 * hint) when there is no agent binary.
 */
int run_agent_setup(struct scenario *s, struct it_error *err);
/*
 * Where the agent binary is: $INITRD_TEST_AGENT, build/agent/ or agent/
 * beside this binary (a build tree), else IT_LIBEXECDIR/initrd-test-agent
 * under the install root this binary runs from (install_path());
 * NULL when none is there. Static storage.
 */
const char *run_default_agent(void);

/*
 * Run one scenario: build (or reuse a shared build), boot, check, retry an
 * infrastructure error while retries remain, check budgets and the
 * baseline, print and write the result, gather the artifacts of a failure,
 * keep the VM when asked. Returns the exit code (src/exit.h): 130 when a
 * SIGINT or SIGTERM came at any point.
 */
int run_scenario(const char *scenario, const struct run_opts *o);

/* A progress line for the suite that runs us ("step lease"); fd -1 or nobody listening is fine. */
void run_status(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add 'more' to the VM's kernel command line (after a space): 0 or -ENOMEM. */
int run_append_cmdline(struct vm_config *vm, const char *more);
/* Write text to dir/name atomically; errors name the file. */
int run_write_text(const char *dir, const char *name, const char *text, struct it_error *err);

#endif
