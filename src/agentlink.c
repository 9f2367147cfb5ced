// SPDX-License-Identifier: MIT
/* A VM's agent channel in the harness: its own client and the hub's relayed clients. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mux.h"
#include "common/log.h"
#include "src/agentlink.h"

/* What a relay client may have waiting for it here before it is dropped as too slow. */
#define RELAY_PENDING_MAX (2 * 1024 * 1024)

struct relay {
	bool used;
	unsigned id;	    /* the hub's client id */
	struct buf pending; /* frames for it that its hub queue had no room for yet */
};

struct agentlink {
	struct vm *vm;
	struct agent_client *client;
	struct agent_mux *mux;
	struct relay relays[AGENT_MUX_RELAYS_MAX];
	struct buf to_guest; /* relayed frames, mapped, not yet in the VM's queue */
	int64_t now;
	char broken[IT_ERRMSG_MAX];
	/* Liveness: while something is asked, silence counts from quiet_from. */
	bool busy, pinged;
	int64_t quiet_from;
};

static int ignore_event(void *ctx, const struct agent_event *ev)
{
	(void)ctx;
	(void)ev;
	return 0;
}

static struct relay *relay_of(struct agentlink *l, unsigned id)
{
	for (size_t i = 0; i < AGENT_MUX_RELAYS_MAX; i++) {
		if (l->relays[i].used && l->relays[i].id == id)
			return &l->relays[i];
	}
	return NULL;
}

static void relay_drop(struct agentlink *l, struct relay *rl, const char *why)
{
	log_debug("agent relay %u dropped: %s", rl->id, why);
	agent_mux_detach(l->mux, rl->id, &l->to_guest);
	if (l->vm)
		vm_hub_client_bye(l->vm, rl->id, why);
	buf_release(&rl->pending);
	rl->used = false;
}

/* The mux's frames: the link's own client's, or a relay's (kept until its hub queue takes it). */
static int deliver(void *ctx, unsigned dest, const void *frame, size_t len)
{
	struct agentlink *l = ctx;
	struct it_error err = IT_ERROR_INIT;
	struct relay *rl;

	if (dest == 0) {
		if (agent_client_feed(l->client, frame, len, l->now, &err) < 0 &&
		    agent_client_broken(l->client) && !l->broken[0])
			snprintf(l->broken, sizeof(l->broken), "%s", err.msg);
		return 0;
	}
	rl = relay_of(l, dest);
	if (!rl)
		return 0;
	if (buf_add(&rl->pending, frame, len) < 0)
		relay_drop(l, rl, "too slow to take the agent's output");
	return 0;
}

/* The channel is lost: say why once, drop the relays, end the requests in flight. */
static int lose(struct agentlink *l, const char *why, int64_t now)
{
	if (!l->broken[0]) {
		snprintf(l->broken, sizeof(l->broken), "%s", why);
		log_warn("%s", why);
		for (size_t i = 0; i < AGENT_MUX_RELAYS_MAX; i++) {
			if (l->relays[i].used)
				relay_drop(l, &l->relays[i], l->broken);
		}
	}
	/* Nothing more will come: the requests in flight end now, with an error. */
	return agent_client_eof(l->client, now);
}

int agentlink_new(struct agentlink **out, agent_event_fn fn, void *ctx)
{
	struct agentlink *l = calloc(1, sizeof(*l));
	int r;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	buf_init(&l->to_guest, 0);
	r = agent_client_new(&l->client, fn ? fn : ignore_event, ctx);
	if (r == 0)
		r = agent_mux_new(&l->mux, deliver, l);
	if (r < 0) {
		agentlink_free(l);
		return r;
	}
	*out = l;
	return 0;
}

void agentlink_free(struct agentlink *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < AGENT_MUX_RELAYS_MAX; i++)
		buf_release(&l->relays[i].pending);
	buf_release(&l->to_guest);
	agent_mux_free(l->mux);
	agent_client_free(l->client);
	free(l);
}

void agentlink_set_vm(struct agentlink *l, struct vm *vm)
{
	l->vm = vm;
}

struct agent_client *agentlink_client(struct agentlink *l)
{
	return l->client;
}

bool agentlink_ready(const struct agentlink *l)
{
	return agent_client_hello(l->client) != NULL;
}

const char *agentlink_broken(const struct agentlink *l)
{
	return l->broken[0] ? l->broken : NULL;
}

int agentlink_on_agent(struct agentlink *l, const char *buf, size_t len, int64_t now_ms)
{
	struct it_error err = IT_ERROR_INIT;

	l->now = now_ms;
	l->quiet_from = now_ms;
	l->pinged = false;
	if (!buf) {
		/* qemu's end closed: what was asked is lost; a new channel starts afresh. */
		agent_mux_guest_reset(l->mux);
		return agent_client_eof(l->client, now_ms);
	}
	if (agent_mux_guest(l->mux, buf, len, &err) < 0 && err.code == -IT_EFORMAT)
		return lose(l, err.msg, now_ms);
	return 0;
}

static struct relay *relay_join(struct agentlink *l, unsigned id)
{
	for (size_t i = 0; i < AGENT_MUX_RELAYS_MAX; i++) {
		struct relay *rl = &l->relays[i];

		if (rl->used)
			continue;
		rl->used = true;
		rl->id = id;
		buf_init(&rl->pending, RELAY_PENDING_MAX);
		if (agent_mux_attach(l->mux, id) < 0) {
			rl->used = false;
			return NULL;
		}
		return rl;
	}
	return NULL;
}

int agentlink_on_hub_agent(struct agentlink *l, unsigned client, const char *buf, size_t len)
{
	struct it_error err = IT_ERROR_INIT;
	struct relay *rl = relay_of(l, client);

	if (!buf) {
		if (rl) {
			agent_mux_detach(l->mux, rl->id, &l->to_guest);
			buf_release(&rl->pending);
			rl->used = false;
		}
		return 0;
	}
	if (l->broken[0] && l->vm) {
		vm_hub_client_bye(l->vm, client, l->broken);
		return 0;
	}
	if (!l->vm || !vm_agent_open(l->vm)) {
		if (l->vm)
			vm_hub_client_bye(l->vm, client,
					  "this VM has no agent channel (its scenario says 'agent "
					  "off', or the channel closed)");
		return 0;
	}
	if (!rl)
		rl = relay_join(l, client);
	if (!rl) {
		vm_hub_client_bye(l->vm, client, "too many agent clients at once");
		return 0;
	}
	if (agent_mux_relay(l->mux, client, buf, len, &l->to_guest, &err) < 0)
		relay_drop(l, rl, err.msg);
	return 0;
}

/* What fits of q into the VM's agent queue: how many bytes went, for the caller to consume. */
static size_t to_vm(struct agentlink *l, struct blob q)
{
	size_t n = q.len < vm_agent_room(l->vm) ? q.len : vm_agent_room(l->vm);

	return n && vm_agent_write(l->vm, q.ptr, n) == 0 ? n : 0;
}

/* Each relay gets what its hub queue takes; the guest waits while one is behind. */
static bool flush_relays(struct agentlink *l)
{
	bool behind = false;

	for (size_t i = 0; i < AGENT_MUX_RELAYS_MAX; i++) {
		struct relay *rl = &l->relays[i];
		size_t room, n;

		if (!rl->used || !rl->pending.len)
			continue;
		room = vm_hub_agent_room(l->vm, rl->id);
		n = rl->pending.len < room ? rl->pending.len : room;
		if (n && vm_hub_agent_send(l->vm, rl->id, rl->pending.data, n) == 0)
			buf_consume(&rl->pending, n);
		behind |= rl->pending.len > 0;
	}
	return behind;
}

/* Something is asked of the agent: a request of the link's client, or a relay's. */
static bool busy(const struct agentlink *l)
{
	if (agent_client_inflight(l->client) > 0)
		return true;
	for (size_t i = 0; i < AGENT_MUX_RELAYS_MAX; i++) {
		if (l->relays[i].used)
			return true;
	}
	return false;
}

/*
 * An agent that says nothing while something is asked gets a PING after
 * AGENTLINK_PING_MS (it answers one between any two frames, even while a
 * command runs); nothing at all for AGENTLINK_LOST_MS and it is lost.
 */
static int check_alive(struct agentlink *l, int64_t now)
{
	struct it_error err = IT_ERROR_INIT;
	char why[160];

	if (l->broken[0] || !agentlink_ready(l) || !busy(l)) {
		l->busy = false;
		return 0;
	}
	if (!l->busy) {
		l->busy = true;
		l->quiet_from = now;
		l->pinged = false;
	}
	if (!l->pinged && now - l->quiet_from >= AGENTLINK_PING_MS) {
		l->pinged = agent_client_ping(l->client, BLOB_NULL, now, NULL, &err) == 0;
		return 0;
	}
	if (now - l->quiet_from < AGENTLINK_LOST_MS)
		return 0;
	snprintf(why, sizeof(why),
		 "the agent stopped answering: nothing on its channel for %d s, not even the "
		 "answer to a ping (did it die?)",
		 AGENTLINK_LOST_MS / 1000);
	return lose(l, why, now);
}

int64_t agentlink_deadline(const struct agentlink *l)
{
	if (!l->busy || l->broken[0])
		return -1;
	return l->quiet_from + (l->pinged ? AGENTLINK_LOST_MS : AGENTLINK_PING_MS);
}

int agentlink_on_wakeup(struct agentlink *l, int64_t now_ms)
{
	size_t n;
	int r;

	l->now = now_ms;
	if (!l->vm || !vm_agent_open(l->vm))
		return 0;
	r = check_alive(l, now_ms);
	if (r < 0)
		return r;
	n = to_vm(l, agent_client_output(l->client));
	if (n)
		agent_client_output_consume(l->client, n);
	n = to_vm(l, buf_blob(&l->to_guest));
	if (n)
		buf_consume(&l->to_guest, n);
	vm_agent_pause(l->vm, flush_relays(l));
	return 0;
}
