/* SPDX-License-Identifier: MIT */
/*
 * Exit codes, in one place: what a run's verdict and what a library's
 * return code become when initrd-test exits. Few, stable, documented in
 * --help and the README; a script or CI may rely on them.
 */
#ifndef IT_EXIT_H
#define IT_EXIT_H

#include <stdbool.h>

enum it_exit {
	EXIT_PASS = 0,	  /* success, scenario passed */
	EXIT_FAILED = 1,  /* an expectation failed, or a guest crashed */
	EXIT_USAGE = 2,	  /* bad command line or scenario file */
	EXIT_INFRA = 3,	  /* infrastructure: no qemu, no kernel, mirror down, bad package */
	EXIT_TIMEOUT = 4, /* a step or the whole run timed out */
	EXIT_INTERRUPTED = 130,
};

/* How a run ended, from the user's point of view. */
enum run_verdict {
	RUN_PASSED = 0,
	RUN_FAILED,	 /* an expectation failed: a fail pattern, the console closed, ... */
	RUN_CRASHED,	 /* a fail pattern caught a kernel panic or oops */
	RUN_TIMED_OUT,	 /* a step's timeout or the whole-run timeout passed */
	RUN_INFRA_ERROR, /* qemu, kernel, packages, files: the run could not be done */
	RUN_USAGE_ERROR, /* bad command line or scenario */
	RUN_INTERRUPTED, /* SIGINT or SIGTERM */
	RUN_VERDICT_MAX,
};

/* 0 passed, 1 failed or crashed, 2 usage, 3 infrastructure, 4 timed out, 130 interrupted. */
int verdict_exit(enum run_verdict v);
/* "passed", "failed", "crashed", "timed_out", "infra_error", "usage_error", "interrupted". */
const char *verdict_name(enum run_verdict v);
/* The word of the verdict line: "PASSED", "FAILED", "TIMED OUT", "ERROR", ... */
const char *verdict_title(enum run_verdict v);
/* verdict_name() back to the verdict; false for an unknown name. */
bool verdict_parse(const char *name, enum run_verdict *out);
/* Infrastructure, usage errors and interruptions: the run did not get to a test verdict. */
bool verdict_is_error(enum run_verdict v);
/*
 * The verdict of a library code that ended a run before any check could
 * decide: -IT_EUSAGE, -IT_ESCENARIO and -IT_EUNSAT (packages that cannot
 * be installed together) a usage error, -IT_EINTERRUPTED an
 * interruption, -IT_EFAIL a failure, -IT_ETIMEOUT a timeout, any other
 * negative code infrastructure; 0 passed.
 */
enum run_verdict verdict_of_code(int code);
/* The exit code for a library return code: verdict_exit(verdict_of_code(code)). */
int exit_code_for(int code);
/*
 * The exit code of many verdicts (a suite, a merged report): 0 when all
 * passed (or there are none), else the most serious: interrupted (130),
 * then failed or crashed (1), timed out (4), usage (2), infrastructure (3).
 */
int exit_code_of_counts(const unsigned long counts[RUN_VERDICT_MAX]);

#endif
