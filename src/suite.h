/* SPDX-License-Identifier: MIT */
/*
 * Suites for CI: which scenarios a suite holds (discovery under
 * directories, bases without steps skipped), which of them a shard runs,
 * how many VMs boot at once, and the scheduler that runs each scenario in
 * a child process (run_scenario() with output into OUT/NAME/run.log),
 * follows their progress on a status pipe, forwards SIGINT and SIGTERM,
 * reaps them and merges their results into OUT/results.json.
 *
 * Rooms: suite_list.c (discovery, shards, jobs), suite.c (the scheduler).
 */
#ifndef IT_SUITE_H
#define IT_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strlist.h"
#include "src/result.h"

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

/*
 * "2/3" -> {2, 3}. -IT_EUSAGE unless 1 <= I <= N <= 1000. "auto" reads the
 * shard from the CI engine (GitLab's CI_NODE_INDEX and CI_NODE_TOTAL);
 * "auto/N" also takes a Kubernetes Indexed Job's JOB_COMPLETION_INDEX
 * (0-based) with N in all, else checks N against CI_NODE_TOTAL.
 */
int suite_shard_parse(const char *s, struct suite_shard *out, struct it_error *err);

/*
 * Put each entry of l into one of count bins (bins[i] in [0, count)), the
 * same way on every machine for the same list and durations:
 *  - with durations (the runs of an earlier report; may be NULL), longest
 *    first into the bin with the least total so far (ties: the lower bin),
 *    entries without a recorded duration weighing the mean of those with one;
 *    equal durations are taken in id order;
 *  - without any recorded duration, round-robin over the list in id order.
 * Sets every entry's weight_ms (-1 when nothing is known). -ENOMEM or 0.
 */
int suite_shard_assign(struct suite_list *l, unsigned count, const struct result_set *durations,
		       unsigned *bins);
/* Keep only the entries of shard sh (no-op when sh.count is 0). */
int suite_shard_select(struct suite_list *l, struct suite_shard sh,
		       const struct result_set *durations);

/* ---- parallel VMs ------------------------------------------------------------------------- */

/* Memory kept aside per VM on top of the guest's: qemu itself, its TCG code cache. */
#define SUITE_VM_OVERHEAD_MIB 256

/* min(ncpu, avail_mib / (vm_mib + SUITE_VM_OVERHEAD_MIB)), at least 1. */
long suite_default_jobs(long ncpu, long avail_mib, long vm_mib);
/* Online CPUs and MemAvailable of /proc/meminfo (MiB); -errno when they cannot be read. */
int suite_host_capacity(long *ncpu, long *avail_mib);

/* ---- running a suite ---------------------------------------------------------------------- */

/* What only a suite has (part of struct run_opts). */
struct suite_opts {
	long parallel; /* -j; 0: suite_default_jobs() */
	struct suite_shard shard;
	bool sharded;
	const char *durations; /* the file --durations named */
	const char *baseline;  /* the file --baseline named */
};

struct run_opts;

/*
 * Run the scenarios named by paths as a suite (see the top of this file)
 * with the options o (o->baseline already loaded) and the durations of an
 * earlier run for the shards (may be NULL). Each distinct initrd is built
 * once, under OUT/.builds. Prints one status line per scenario on a
 * terminal, grouped logs otherwise, and the summary; writes
 * OUT/results.json, --json and --junit. Returns the exit code: the most
 * serious of the runs' (src/exit.h), 130 after SIGINT or SIGTERM.
 */
int suite_run(const char *const *paths, size_t n, const struct run_opts *o,
	      const struct result_set *durations);

#endif
