/* SPDX-License-Identifier: MIT */
/*
 * The host's end of a VM's agent channel, in the process that runs the VM
 * (run, run --keep, boot): its own agent client (the scenario's steps), and
 * the relay of 'initrd-test exec' and 'cp' clients that come through the
 * console hub, all on the one channel (agent/mux.h). It plugs into vm_run()'s
 * callbacks: the caller's vm_ops forward on_agent, on_hub_agent and
 * on_wakeup here, and the link moves bytes between the VM, its client, the
 * mux and the hub, with back-pressure: the guest is not read while a relay
 * client is too slow to take what is for it, and a client is not read while
 * the channel's queue is full.
 */
#ifndef IT_AGENTLINK_H
#define IT_AGENTLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "runner/runner.h"

struct agentlink;

/* A link whose own client hands its events to fn (NULL: none wanted), with ctx. */
int agentlink_new(struct agentlink **out, agent_event_fn fn, void *ctx);
void agentlink_free(struct agentlink *l);
/* The VM the link serves (NULL: none now); the link borrows it. */
void agentlink_set_vm(struct agentlink *l, struct vm *vm);
/* The link's own client, to make requests with; owned by the link. */
struct agent_client *agentlink_client(struct agentlink *l);
/* The agent's HELLO has come. */
bool agentlink_ready(const struct agentlink *l);
/* Why the channel is broken ("agent channel broken at byte ..."), or NULL. */
const char *agentlink_broken(const struct agentlink *l);

/*
 * Liveness: while a request is in flight (the link's or a relay's) and the
 * agent sends nothing, it gets a PING after AGENTLINK_PING_MS; after
 * AGENTLINK_LOST_MS of silence it is lost: the channel counts as broken
 * ("the agent stopped answering ..."), the requests end with an error and
 * the relays with a BYE. agentlink_deadline() is when on_wakeup() next
 * needs to run for this (-1: no need); the caller's vm_ops deadline
 * includes it.
 */
#define AGENTLINK_PING_MS 3000
#define AGENTLINK_LOST_MS 20000
int64_t agentlink_deadline(const struct agentlink *l);

/* The vm_ops callbacks, for the caller's own to forward to (0 to go on, <0 to stop). */
int agentlink_on_agent(struct agentlink *l, const char *buf, size_t len, int64_t now_ms);
int agentlink_on_hub_agent(struct agentlink *l, unsigned client, const char *buf, size_t len);
int agentlink_on_wakeup(struct agentlink *l, int64_t now_ms);

#endif
