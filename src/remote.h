/* SPDX-License-Identifier: MIT */
/*
 * A client of a running VM's guest agent from another process ('initrd-test
 * exec' and 'cp'): its own agent client, whose frames travel as AGENT frames
 * over the VM's console hub to the initrd-test that runs the VM, which relays
 * them on the one agent channel (src/agentlink.h). The console's output is
 * not wanted here (QUIET), and an attached terminal is not disturbed.
 */
#ifndef IT_REMOTE_H
#define IT_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "common/err.h"

struct remote;

/*
 * Connect to the VM 'what' names (running_find(): a name, a prefix, a pid);
 * fn gets the agent client's events. Errors say which VM and why.
 */
int remote_open(struct remote **out, const char *what, agent_event_fn fn, void *ctx,
		struct it_error *err);
void remote_close(struct remote *r);
struct agent_client *remote_client(struct remote *r);
/* The VM's name, for messages. */
const char *remote_name(const struct remote *r);

/*
 * Serve the connection until *done is set (by the event callback), the
 * deadline (CLOCK_MONOTONIC ms; -1: none) passes (-IT_ETIMEOUT), the hub
 * says BYE (-IT_EVM, its reason in err), or SIGINT/SIGTERM comes
 * (-IT_EINTERRUPTED). tick (may be NULL) is called on every turn, to queue
 * more (a copy's data): 0 to go on, <0 to stop with that code.
 */
int remote_run(struct remote *r, const bool *done, int64_t deadline_ms, int (*tick)(void *ctx),
	       void *ctx, struct it_error *err);

#endif
