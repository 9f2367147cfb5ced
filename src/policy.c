// SPDX-License-Identifier: MIT
/* Retries, budgets and baselines: what decides a run beyond its steps. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "src/out.h"
#include "src/policy.h"

bool policy_should_retry(enum run_verdict v, unsigned attempt, unsigned retries)
{
	return v == RUN_INFRA_ERROR && attempt <= retries;
}

/* "31.2s", or "20.040s" when one decimal would not show that it is over 'limit'. */
static void put_over(struct out *o, int64_t ms, int64_t limit)
{
	if ((ms + 50) / 100 * 100 <= limit)
		out_putf(o, "%lld.%03llds", (long long)(ms / 1000), (long long)(ms % 1000));
	else
		out_secs1(o, ms);
}

/* "step 'lease' took 31.2s, over its 20s budget" */
static int over_budget(const char *name, int64_t took, const struct scenario_step *sc,
		       struct it_error *err)
{
	struct buf msg;
	struct out o;
	int r;

	buf_init(&msg, 0);
	o = (struct out){&msg, 0};
	out_putf(&o, "step '%s' took ", name);
	put_over(&o, took, sc->budget_ms);
	out_puts(&o, ", over its ");
	out_duration(&o, sc->budget_ms);
	out_puts(&o, " budget");
	r = o.err ? o.err : -IT_EFAIL;
	it_error_set(err, r, "%s", o.err ? strerror(ENOMEM) : msg.data);
	if (!o.err)
		it_error_hint(err, "the budget is set at %s", sc->where);
	buf_release(&msg);
	return r;
}

int policy_check_budgets(const struct scenario *s, const struct result_run *r, struct it_error *err)
{
	size_t n = r->nsteps < s->nsteps ? r->nsteps : s->nsteps;
	int64_t start = 0;

	for (size_t i = 0; i < n; i++) {
		const struct result_step *st = &r->steps[i];
		const struct scenario_step *sc = &s->steps[i];
		int64_t took;

		if (st->status != RESULT_STEP_PASSED || st->at_ms < 0)
			return 0;
		took = st->at_ms - start;
		start = st->at_ms;
		if (sc->kind == SCENARIO_STEP_SEND || sc->budget_ms <= 0 || took <= sc->budget_ms)
			continue;
		return over_budget(st->name, took, sc, err);
	}
	return 0;
}

int policy_parse_percent(const char *s, double *out, struct it_error *err)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end && *end == '%')
		end++;
	if (errno || !end || end == s || *end || !isfinite(v) || v < 0 || v > 100000 ||
	    !((*s >= '0' && *s <= '9') || *s == '.'))
		return it_error_set(err, -IT_EUSAGE, "bad percentage '%s': give one like 20%%", s);
	*out = v / 100.0;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* A run recorded before arch was: x86_64, the only one then. */
static const char *arch_of(const struct result_run *r)
{
	return r->arch ? r->arch : "x86_64";
}

/* The last run of baseline with the same scenario, backend, accelerator and arch as run. */
static const struct result_run *baseline_run(const struct result_set *baseline,
					     const struct result_run *run)
{
	const struct result_run *found = NULL;

	for (size_t i = 0; run->scenario && i < baseline->n; i++) {
		const struct result_run *b = &baseline->runs[i];

		if (same_str(b->scenario, run->scenario) && same_str(b->accel, run->accel) &&
		    same_str(b->backend, run->backend) && !strcmp(arch_of(b), arch_of(run)))
			found = b;
	}
	return found;
}

/* The baseline's time of milestone name, or -1. */
static int64_t milestone(const struct result_run *r, const char *name)
{
	for (size_t i = 0; i < r->nmilestones; i++) {
		if (!strcmp(r->milestones[i].name, name))
			return r->milestones[i].at_ms;
	}
	return -1;
}

static int regression(const char *what, const char *name, int64_t cur, int64_t base,
		      const struct slowdown *lim, struct it_error *err)
{
	struct buf msg;
	struct out o;
	int r;

	buf_init(&msg, 0);
	o = (struct out){&msg, 0};
	if (name)
		out_putf(&o, "%s '%s' at ", what, name);
	else
		out_putf(&o, "%s at ", what);
	out_secs1(&o, cur);
	if (base > 0)
		out_putf(&o, ", %.0f%% slower than the baseline's ",
			 (double)(cur - base) * 100.0 / (double)base);
	else
		out_puts(&o, ", slower than the baseline's ");
	out_secs1(&o, base);
	out_putf(&o, " (limit +%g%%", lim->max_ratio * 100.0);
	if (lim->grace_ms > 0) {
		out_puts(&o, " and ");
		out_duration(&o, lim->grace_ms);
	}
	out_puts(&o, ")");
	r = o.err ? o.err : -IT_EFAIL;
	it_error_set(err, r, "%s", o.err ? strerror(ENOMEM) : msg.data);
	buf_release(&msg);
	return r;
}

static bool regressed(int64_t cur, int64_t base, const struct slowdown *lim)
{
	return (double)cur > (double)base * (1.0 + lim->max_ratio) + (double)lim->grace_ms;
}

int policy_check_baseline(const struct result_set *baseline, const struct result_run *run,
			  const struct slowdown *lim, bool *compared, struct it_error *err)
{
	const struct result_run *base = baseline_run(baseline, run);

	if (compared)
		*compared = base != NULL;
	if (!base)
		return 0;
	if (run->first_byte_ms >= 0 && base->first_byte_ms >= 0 &&
	    regressed(run->first_byte_ms, base->first_byte_ms, lim))
		return regression("the first console byte", NULL, run->first_byte_ms,
				  base->first_byte_ms, lim, err);
	for (size_t i = 0; i < run->nmilestones; i++) {
		const struct result_milestone *m = &run->milestones[i];
		int64_t b = milestone(base, m->name);

		if (b >= 0 && regressed(m->at_ms, b, lim))
			return regression("step", m->name, m->at_ms, b, lim, err);
	}
	return 0;
}
