/* SPDX-License-Identifier: MIT */
/* Suites for CI: discovery, shards, jobs, retries, budgets, baselines, merged reports. */
#ifndef IT_SUITE_H
#define IT_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/builder.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "expect/expect.h"
#include "src/report.h"
#include "scenario/scenario.h"

/* ---- JSON values: what reports are read back as ------------------------------------------ */

enum jv_type { JV_NULL = 0, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

/*
 * One JSON value. Every pointer is owned by the value and freed by
 * jv_release(). STRING: str is the decoded UTF-8 text (never holding a NUL);
 * NUMBER: str is the literal as written (so it is written back unchanged);
 * ARRAY: items[0..n); OBJECT: keys[i] names items[i], in file order.
 */
struct jv {
	enum jv_type type;
	bool b;
	char *str;
	struct jv *items;
	char **keys;
	size_t n;
};

#define JV_MAX_DEPTH 64
#define JV_MAX_BYTES (64u << 20) /* a report file larger than this is refused */

/*
 * Parse text (the whole of it) into *out, which the caller releases. 'name'
 * (a file name) starts the error text: "cannot parse 'r.json': line 3,
 * column 7: expected ',' or '}'". Returns 0 or -IT_EFORMAT (-ENOMEM).
 */
int jv_parse(struct blob text, const char *name, struct jv *out, struct it_error *err);
/* Read and parse a file; errors name it. */
int jv_load(const char *path, struct jv *out, struct it_error *err);
void jv_release(struct jv *v);
/* Write v as indented JSON (2 spaces), appended to out. */
int jv_write(const struct jv *v, struct buf *out);

/* The member 'key' of an object, or NULL (also when v is NULL or not an object). Borrowed. */
const struct jv *jv_get(const struct jv *v, const char *key);
/* A string's text, or NULL when v is not a string. Borrowed. */
const char *jv_str(const struct jv *v);
/* An integer number (no fraction, no exponent) that fits; false otherwise. */
bool jv_int(const struct jv *v, int64_t *out);
bool jv_bool(const struct jv *v, bool dflt);

/* Values to build with; each returns 0 or -ENOMEM and leaves *v a valid value either way. */
int jv_set_string(struct jv *v, const char *s);
int jv_set_int(struct jv *v, int64_t n);
void jv_set_bool(struct jv *v, bool b);
/* Move *val into the object obj under key (replacing a member of that name); *val becomes null. */
int jv_put(struct jv *obj, const char *key, struct jv *val);
/* Move *val to the end of the array arr; *val becomes null. */
int jv_push(struct jv *arr, struct jv *val);
/* Deep copy of src into *dst (which the caller releases). */
int jv_copy(struct jv *dst, const struct jv *src);

/* ---- which scenarios a suite holds -------------------------------------------------------- */

struct suite_entry {
	char *id;	 /* unique in the suite and its out dir's name: "networking", "net/dhcp" */
	char *dir;	 /* what scenario_load() is given */
	long memory_mib; /* the scenario's VM memory; 0 when it did not load */
	int64_t weight_ms; /* set by suite_shard_assign(): recorded or estimated duration */
};

struct suite_list {
	struct suite_entry *v;
	size_t n;
	struct strlist skipped; /* ids found but left out: scenarios without steps (bases) */
};

void suite_list_init(struct suite_list *l);
void suite_list_release(struct suite_list *l);

/* True when path is one scenario (a directory holding 'scenario', or a file) and not a tree. */
bool suite_is_scenario(const char *path);

/*
 * Collect the scenarios named by paths, sorted by id. A path that is one
 * scenario (suite_is_scenario()) is taken as it is, with its directory's name
 * as id. A directory is searched (hidden names skipped, 16 levels at most):
 * every directory below it holding a file 'scenario' is one, with its path
 * relative to the searched directory as id, and the search does not go into
 * it; a scenario found this way that loads and has no steps (a base that
 * others include) is skipped. One that does not load is kept: running it
 * reports why. Errors: a path that does not exist, two scenarios with one id,
 * a directory with no scenario below it (-IT_EUSAGE, the path named).
 */
int suite_discover(const char *const *paths, size_t n, struct suite_list *out,
		   struct it_error *err);

/* ---- shards ------------------------------------------------------------------------------- */

struct suite_shard {
	unsigned index; /* 1-based */
	unsigned count; /* 0: no sharding */
};

/* "2/3" -> {2, 3}. -IT_EUSAGE unless 1 <= I <= N <= 1000. */
int suite_shard_parse(const char *s, struct suite_shard *out, struct it_error *err);

/*
 * Put each entry of l into one of count bins (bins[i] in [0, count)), the
 * same way on every machine for the same list and durations:
 *  - with durations (a report from an earlier run; may be NULL), longest
 *    first into the bin with the least total so far (ties: the lower bin),
 *    entries without a recorded duration weighing the mean of those with one;
 *    equal durations are taken in id order;
 *  - without any recorded duration, round-robin over the list in id order.
 * Sets every entry's weight_ms (-1 when nothing is known). -ENOMEM or 0.
 */
int suite_shard_assign(struct suite_list *l, unsigned count, const struct jv *durations,
		       unsigned *bins);
/* Keep only the entries of shard sh (no-op when sh.count is 0). */
int suite_shard_select(struct suite_list *l, struct suite_shard sh, const struct jv *durations);

/* ---- parallel VMs ------------------------------------------------------------------------- */

/* Memory kept aside per VM on top of the guest's: qemu itself, its TCG code cache. */
#define SUITE_VM_OVERHEAD_MIB 256

/* min(ncpu, avail_mib / (vm_mib + SUITE_VM_OVERHEAD_MIB)), at least 1. */
long suite_default_jobs(long ncpu, long avail_mib, long vm_mib);
/* Online CPUs and MemAvailable of /proc/meminfo (MiB); -errno when they cannot be read. */
int suite_host_capacity(long *ncpu, long *avail_mib);

/* ---- one run's policies ------------------------------------------------------------------- */

/* Retry only infrastructure errors, while attempts remain: attempt counts from 1. */
bool suite_should_retry(enum run_verdict v, unsigned attempt, unsigned retries);

/*
 * Budgets: the first passed expect step of s that took longer than its
 * budget (from the moment it became current to its match, the clock of
 * 'within') fails the run: -IT_EFAIL with "step 'lease' took 31.2s, over its
 * 20s budget" in err. Steps of s and of e are in the same order
 * (scenario_to_expect()). 0 when every budget holds.
 */
int suite_check_budgets(const struct scenario *s, const struct expect *e, struct it_error *err);

struct suite_slowdown {
	double max_ratio; /* 0.20 for --max-slowdown 20% */
	int64_t grace_ms; /* a milestone is never a regression by less than this */
};

#define SUITE_SLOWDOWN_GRACE_MS 500

/* "20%", "20", "0.5%" -> 0.20, 0.20, 0.005; -IT_EUSAGE for anything else or < 0. */
int suite_parse_percent(const char *s, double *out, struct it_error *err);

/*
 * Compare a run's milestones (its JSON object as report.c writes it:
 * "timings": first console byte, each passed expect step's time from the VM
 * start) against the run of the same scenario, backend and accelerator in
 * baseline (a report; its last such run counts). A milestone regressed when
 * it is later than base * (1 + max_ratio) + grace_ms; the earliest one in
 * the run's step order is named: -IT_EFAIL with "step 'lease' at 31.2s,
 * 45% slower than the baseline's 21.5s (limit +20%)". *compared (may be
 * NULL) tells whether a baseline run was found; 0 without one.
 */
int suite_baseline_check(const struct jv *baseline, const struct jv *run,
			 const struct suite_slowdown *lim, bool *compared, struct it_error *err);

/* ---- shared builds ------------------------------------------------------------------------ */

/*
 * The SHA-256 (hex) of everything in c that goes into the initrd (not where
 * it is written, cached or downloaded from in parallel), so that scenarios
 * with equal builds share one image.
 */
int suite_build_key(const struct build_config *c, char key[65]);

/* ---- artifacts ---------------------------------------------------------------------------- */

/*
 * Gather what explains a failed run into dest (created; emptied first):
 * from run_dir its console.raw, console.log, command.txt, plan.txt,
 * result.json and run.log when present; the scenario files (files[0] the
 * top one) as scenario/1-NAME, 2-NAME, ... with scenario/index.txt saying
 * which path each was; and initrd.list, the long listing of the initrd
 * (skipped when initrd is NULL or missing). Errors name the file.
 */
int suite_collect_artifacts(const char *run_dir, const char *dest, const struct strlist *files,
			    const char *initrd, struct it_error *err);

/* ---- merged reports ----------------------------------------------------------------------- */

/* Runs from any number of reports (files of 'run', of a suite, of shards). */
struct suite_report {
	struct jv runs; /* JV_ARRAY of run objects */
};

void suite_report_init(struct suite_report *r);
void suite_report_release(struct suite_report *r);
/*
 * Add the runs of a report file: {"format": "initrd-test-report", "runs":
 * [...]}. Errors name the file: not JSON, not a report, runs without a
 * scenario or a verdict.
 */
int suite_report_add_file(struct suite_report *r, const char *path, struct it_error *err);
int suite_report_add_text(struct suite_report *r, struct blob text, const char *name,
			  struct it_error *err);
/* Take a copy of one run object. */
int suite_report_add_run(struct suite_report *r, const struct jv *run);

/* How many runs have each verdict; "passed" includes flaky ones, counted again in flaky. */
struct suite_counts {
	size_t total, passed, flaky, failed, crashed, timed_out, infra, usage, interrupted;
};
void suite_report_count(const struct suite_report *r, struct suite_counts *c);

/*
 * The exit code of the whole: 0 when every run passed (flaky ones too) or
 * there is none; else the most serious: interrupted (130), then failed or
 * crashed (1), timed out (4), usage error (2), infrastructure error (3).
 */
int suite_report_exit_code(const struct suite_report *r);

/*
 * For people: one line per run (its verdict line, "  hint: ..." and
 * "  artifacts: DIR" below a run that did not pass; only those with
 * failures_only), then the totals of all runs: "3 scenarios: 1 passed
 * (1 flaky), 1 failed, 1 timed out".
 */
int suite_report_summary(const struct suite_report *r, bool failures_only, struct buf *out);
/* The totals line alone, without a newline. */
int suite_report_totals(const struct suite_report *r, struct buf *out);

/*
 * JUnit XML (valid against Jenkins' junit-10.xsd, tests/data/junit/): one
 * <testsuite> per run with its properties (scenario, verdict, backend,
 * accel, command, logs, first console byte, attempts, flaky, shard,
 * artifacts), one <testcase> per step, a <testcase name="run"> holding the
 * problem when no step does, the console tail in <system-out>.
 */
int suite_report_junit(const struct suite_report *r, struct buf *out);
/* The same format as report.c's JSON: {"format": ..., "version": 1, "runs": [...]}. */
int suite_report_json(const struct suite_report *r, struct buf *out);
int suite_report_write_junit(const struct suite_report *r, const char *path, struct it_error *err);
int suite_report_write_json(const struct suite_report *r, const char *path, struct it_error *err);

#endif
