/* SPDX-License-Identifier: MIT */
/*
 * The guest agent's steps of a run (run, run-fail, output, wait-until,
 * wait-service, wait-port, wait-file, copy-in, copy-out, agent-ready):
 * when the expect engine reaches one (an external step, see
 * expect_add_external()), the driver makes its request through the run's
 * agent link, follows the events, and ends the step in the engine with what
 * happened; the result model gets the command's exit status and outputs
 * (result_note_step()). Timeouts are the engine's: a step that outlives its
 * 'within' times out there, and the driver kills its command in the guest.
 *
 * Files: copy-in reads the host file as it goes (any size), copy-out writes
 * OUTDIR/NAME.part and renames it once the client has checked its size and
 * SHA-256; a failed copy leaves nothing behind.
 */
#ifndef IT_AGENTSTEPS_H
#define IT_AGENTSTEPS_H

#include <stdint.h>

#include "agent/agent.h"
#include "expect/expect.h"
#include "scenario/scenario.h"
#include "src/agentlink.h"
#include "src/result.h"

struct agentsteps;

/* All borrowed: the scenario (its steps in the engine's order), the engine, the result, the run's
 * folder. */
int agentsteps_new(struct agentsteps **out, const struct scenario *s, struct expect *e,
		   struct result_run *rep, const char *out_dir);
void agentsteps_free(struct agentsteps *a);
/* The link whose client makes the requests (borrowed). */
void agentsteps_set_link(struct agentsteps *a, struct agentlink *link);

/* The link's client events (agent_event_fn; ctx is the driver). */
int agentsteps_event(void *ctx, const struct agent_event *ev);
/* Start the engine's current step when it is the agent's, feed a copy, retry a wait: 0 or <0. */
int agentsteps_poll(struct agentsteps *a, int64_t now_ms);
/* The run is over: a command cut short by it has what it printed so far noted; nothing more goes
 * on. */
void agentsteps_stop(struct agentsteps *a, int64_t now_ms);
/* When poll() wants to run again (a wait's next try), or -1. */
int64_t agentsteps_deadline(const struct agentsteps *a);
/* Paths of the files copied out so far (for the run's artifacts). */
const struct strlist *agentsteps_copied(const struct agentsteps *a);

#endif
