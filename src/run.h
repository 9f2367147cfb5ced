/* SPDX-License-Identifier: MIT */
/* One scenario run, callable from 'run' and from later suite and boot commands. */
#ifndef IT_RUN_H
#define IT_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "src/overrides.h"
#include "src/suite.h"

struct scenario;
struct vm_config;

/* The long options of 'run' (and, in part, of 'boot'), for run_parse_option(). */
enum {
	OPT_OUT = OPT_SHARED_MAX + 1,
	OPT_INITRD,
	OPT_ACCEL,
	OPT_BACKEND,
	OPT_MEMORY,
	OPT_TIMEOUT,
	OPT_STEP_TIMEOUT,
	OPT_JUNIT,
	OPT_JSON,
	OPT_PARALLEL,
	OPT_SHARD,
	OPT_DURATIONS,
	OPT_RETRIES,
	OPT_BASELINE,
	OPT_MAX_SLOWDOWN,
	OPT_SLOWDOWN_GRACE,
	OPT_ARTIFACTS,
	OPT_KEEP,
	OPT_ATTACH_ON_FAIL,
	OPT_LOG_MAX,
	OPT_RUN_MAX, /* commands that take run options number theirs after this */
};

/* Options of a run; strings are borrowed from argv (or from the suite that runs it). */
struct run_opts {
	struct overrides ov;
	const char *out_dir; /* NULL: initrd-test-out/NAME */
	const char *initrd;  /* boot this instead of building */
	const char *junit, *json;
	int accel;			     /* enum vm_accel, or -1 for the scenario's */
	int backend;			     /* enum vm_backend, or -1 */
	long memory_mib;		     /* 0: the scenario's */
	int64_t timeout_ms, step_timeout_ms; /* 0: the scenario's */
	bool quiet;
	uint64_t log_max; /* cap of console.raw and console.log each (src/runlog.h); 0: none */

	const char *name;	   /* the name in reports (a suite's id); NULL: the scenario's */
	const char *artifacts_dir; /* failed runs leave ARTIFACTS_DIR/NAME; NULL: see run --help */
	const char *build_dir;	   /* shared builds, one per build key, under a lock; NULL: none */
	unsigned retries;	   /* infrastructure errors are tried again this many times */
	const struct jv *baseline; /* a report to compare milestones with (borrowed); NULL: none */
	struct suite_slowdown slowdown;
	int status_fd;	     /* progress lines for a suite ("step lease\n"); -1: none */
	bool keep;	     /* a failed or timed-out run keeps its VM for 'attach' (src/keep.h) */
	bool attach_on_fail; /* ... and attaches this terminal to it when it is one */
};

void run_opts_init(struct run_opts *o);
void run_opts_release(struct run_opts *o);
/* Take one getopt_long result of the run options: 1 taken, 0 not ours, <0 bad value. */
int run_parse_option(struct run_opts *o, int c, const char *arg, struct it_error *err);
/* Apply --accel, --backend, --memory, --timeout and --step-timeout to a loaded scenario. */
int run_apply_vm_options(struct scenario *s, const struct run_opts *o);
/*
 * Give vm the images to boot: the ones of reuse (an earlier attempt; may be
 * NULL), or o->initrd with --kernel, or a shared build under o->build_dir, or
 * a build into dir (dir/initrd.img, dir/vmlinuz, dir/plan.txt).
 */
int run_build_image(struct scenario *s, const struct run_opts *o, const char *dir,
		    const struct vm_config *reuse, struct vm_config *vm, struct it_error *err);
/* Open (create, truncate) dir/name for writing into *fd, O_CLOEXEC. */
int run_open_log(const char *dir, const char *name, int *fd, struct it_error *err);
/*
 * Run one scenario: build (or reuse a shared build), boot, check, retry an
 * infrastructure error while retries remain, check budgets and the baseline,
 * report, gather artifacts of a failure. Returns the exit code (src/cmds.h).
 */
int run_scenario(const char *scenario, const struct run_opts *o, struct it_error *err);

#endif
