// SPDX-License-Identifier: MIT
/* A loaded scenario's fail patterns and steps, handed to the expect engine. */
#include "expect/expect.h"
#include "scenario/scenario.h"

int scenario_to_expect(const struct scenario *s, struct expect *e, struct it_error *err)
{
	int r;

	for (size_t i = 0; i < s->nfails; i++) {
		const struct scenario_fail *f = &s->fails[i];

		r = expect_add_fail(e, f->pattern, f->literal, f->where, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < s->nsteps; i++) {
		const struct scenario_step *st = &s->steps[i];

		if (st->kind == SCENARIO_STEP_SEND)
			r = expect_add_send(e, st->name, st->text, st->where, err);
		else
			r = expect_add_expect(e, st->name, st->text, st->literal, st->timeout_ms,
					      st->where, err);
		if (r < 0)
			return r;
	}
	expect_set_run_timeout(e, s->timeout_ms);
	return 0;
}
