/* SPDX-License-Identifier: MIT */
/*
 * What decides a run beyond its steps: which errors are worth a retry, the
 * steps' budgets, and the milestones against a baseline. Pure functions of
 * the scenario, the result model and the limits; nothing here runs a VM.
 */
#ifndef IT_POLICY_H
#define IT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "scenario/scenario.h"
#include "src/result.h"

/* Retry only infrastructure errors, while attempts remain: attempt counts from 1. */
bool policy_should_retry(enum run_verdict v, unsigned attempt, unsigned retries);

/*
 * Budgets: the first passed expect step of r that took longer than its
 * budget in s (from the moment it became current to its match, the clock
 * of 'within') fails the run: -IT_EFAIL with "step 'lease' took 31.2s,
 * over its 20s budget" in err, and a hint naming where the budget is set.
 * The steps of s and r are in the same order. 0 when every budget holds.
 */
int policy_check_budgets(const struct scenario *s, const struct result_run *r,
			 struct it_error *err);

struct slowdown {
	double max_ratio; /* 0.20 for --max-slowdown 20% */
	int64_t grace_ms; /* a milestone is never a regression by less than this */
};

#define SLOWDOWN_DEFAULT_RATIO 0.20
#define SLOWDOWN_GRACE_MS 500

/* "20%", "20", "0.5%" -> 0.20, 0.20, 0.005; -IT_EUSAGE for anything else or < 0. */
int policy_parse_percent(const char *s, double *out, struct it_error *err);

/*
 * Compare run's milestones (the first console byte, each passed expect
 * step's time from the VM start) with the last run of the same scenario,
 * backend and accelerator in baseline. A milestone regressed when it is
 * later than base * (1 + max_ratio) + grace_ms; the earliest one in the
 * run's order is named: -IT_EFAIL with "step 'lease' at 31.2s, 45% slower
 * than the baseline's 21.5s (limit +20% and 500ms)". *compared (may be
 * NULL) tells whether a baseline run was found; 0 without one.
 */
int policy_check_baseline(const struct result_set *baseline, const struct result_run *run,
			  const struct slowdown *lim, bool *compared, struct it_error *err);

#endif
