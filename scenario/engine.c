// SPDX-License-Identifier: MIT
/* A loaded scenario's fail patterns and steps, handed to the expect engine. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "expect/expect.h"
#include "scenario/internal.h"

/* An agent's step: external to the engine, which waits for the run engine to end it. */
static int add_agent_step(const struct scenario_step *st, struct expect *e, struct it_error *err)
{
	char *shown = NULL;
	const char *text = st->text;
	int r;

	if (st->kind == SCENARIO_STEP_COPY_IN) {
		if (asprintf(&shown, "%s -> %s", st->text, st->dest) < 0)
			return it_error_set(err, -ENOMEM, "%s: out of memory", st->where);
		text = shown;
	}
	r = expect_add_external(
	    e, st->name, text, st->kind == SCENARIO_STEP_OUTPUT ? st->text : NULL, st->literal,
	    st->kind == SCENARIO_STEP_OUTPUT ? 0 : st->timeout_ms, st->where, err);
	free(shown);
	return r;
}

/*
 * The kernel's crash reports beyond the engine's built-in panic and oops
 * patterns (expect_new()), one fail pattern per class of expect/crash.h;
 * each "built-in: kernel ..." so that the verdict is CRASHED. A BUG()
 * ("invalid opcode: 0000 [#1]") and a NULL dereference end in the oops
 * line. The first, the WARNING line of __warn(), is left out under
 * 'on-warning ignore'; lockdep's "WARNING: possible ..." is not a WARNING.
 */
static const struct {
	const char *pattern;
	const char *what;
} crash_fails[] = {
    {"WARNING: CPU: [0-9]+ PID: [0-9]+ at ", EXPECT_BUILTIN ": kernel warning"},
    {"BUG: (KASAN|KFENCE): ", EXPECT_BUILTIN ": kernel memory error"},
    {"UBSAN: [a-z-]+ in ", EXPECT_BUILTIN ": kernel undefined behaviour"},
    {"WARNING: (possible circular locking dependency|possible recursive locking|inconsistent "
     "lock state|bad unlock balance|suspicious RCU usage)",
     EXPECT_BUILTIN ": kernel lockdep report"},
    {"INFO: task .* blocked for more than [0-9]+ seconds", EXPECT_BUILTIN ": kernel hung task"},
    {"INFO: rcu_[a-z_]+ (self-)?detected (expedited )?stalls?",
     EXPECT_BUILTIN ": kernel RCU stall"},
    {"BUG: soft lockup - CPU#", EXPECT_BUILTIN ": kernel soft lockup"},
    {"Watchdog detected hard LOCKUP", EXPECT_BUILTIN ": kernel hard lockup"},
};

int scenario_to_expect(const struct scenario *s, struct expect *e, struct it_error *err)
{
	int r;

	for (size_t i = s->on_warning_ignore ? 1 : 0; i < ARRAY_SIZE(crash_fails); i++) {
		r = expect_add_fail(e, crash_fails[i].pattern, false, crash_fails[i].what, err);
		if (r < 0)
			return r;
	}
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
		else if (st->kind == SCENARIO_STEP_CHECKPOINT)
			/* The run engine saves or restores there (src/checkpoint.h). */
			r = expect_add_external(e, st->name, st->text, NULL, false, 0, st->where,
						err);
		else if (scenario_step_is_agent(st->kind))
			r = add_agent_step(st, e, err);
		else
			r = expect_add_expect(e, st->name, st->text, st->literal, st->timeout_ms,
					      st->where, err);
		if (r < 0)
			return r;
	}
	expect_set_run_timeout(e, s->timeout_ms);
	return 0;
}

bool scenario_has_agent_steps(const struct scenario *s)
{
	for (size_t i = 0; i < s->nsteps; i++) {
		if (scenario_step_is_agent(s->steps[i].kind))
			return true;
	}
	return false;
}

size_t scenario_checkpoint(const struct scenario *s)
{
	for (size_t i = 0; i < s->nsteps; i++) {
		if (s->steps[i].kind == SCENARIO_STEP_CHECKPOINT)
			return i;
	}
	return SIZE_MAX;
}

void scenario_drop_checkpoint(struct scenario *s)
{
	size_t i = scenario_checkpoint(s);

	if (i == SIZE_MAX)
		return;
	scn_step_release(&s->steps[i]);
	memmove(&s->steps[i], &s->steps[i + 1], (s->nsteps - i - 1) * sizeof(*s->steps));
	s->nsteps--;
}
