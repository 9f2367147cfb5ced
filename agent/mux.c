// SPDX-License-Identifier: MIT
/* The agent mux: one guest channel shared by the host's own client and relayed clients. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mux.h"
#include "agent/proto.h"

struct map_entry {
	bool used;
	bool orphan; /* its relay left: what the guest still sends for it is dropped */
	unsigned relay;
	uint32_t relay_id, guest_id;
};

struct relay_slot {
	bool used;
	unsigned relay;
	struct agent_dec dec;
};

struct agent_mux {
	agent_mux_fn fn;
	void *ctx;
	struct agent_dec gdec; /* the guest's stream */
	bool broken;
	bool served; /* a HELLO came since the stream (re)started */
	char broken_msg[256];
	uint8_t hello[AGENT_WIRE_MAX]; /* the last HELLO, as the guest sent it */
	size_t hello_len;
	uint32_t next_guest; /* the next guest id for a relayed request */
	struct map_entry map[AGENT_MUX_MAP_MAX];
	struct relay_slot relays[AGENT_MUX_RELAYS_MAX];
	uint8_t frame[AGENT_WIRE_MAX]; /* a rewritten frame */
	struct agent_mux_stats st;
};

int agent_mux_new(struct agent_mux **out, agent_mux_fn fn, void *ctx)
{
	struct agent_mux *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->ctx = ctx;
	m->next_guest = AGENT_MUX_RELAY_BASE;
	agent_dec_reset(&m->gdec);
	*out = m;
	return 0;
}

void agent_mux_free(struct agent_mux *m)
{
	free(m);
}

/* A frame with this type, id and payload into out (AGENT_WIRE_MAX bytes); its size. */
static size_t encode(uint8_t *out, unsigned type, uint32_t id, const uint8_t *payload, uint32_t len)
{
	uint32_t crc;

	out[0] = AGENT_MAGIC0;
	out[1] = AGENT_MAGIC1;
	out[2] = AGENT_MAGIC2;
	out[3] = AGENT_MAGIC3;
	out[4] = (uint8_t)type;
	out[5] = out[6] = out[7] = 0;
	agent_put_le32(out + 8, id);
	agent_put_le32(out + 12, len);
	if (len)
		memcpy(out + AGENT_HDR_SIZE, payload, len);
	crc = agent_crc32(0, out, 16);
	crc = agent_crc32(crc, out + AGENT_HDR_SIZE, len);
	agent_put_le32(out + 16, crc);
	return AGENT_HDR_SIZE + len;
}

static bool ends_request(unsigned type)
{
	return type == AGENT_EXIT || type == AGENT_OK || type == AGENT_PONG ||
	       type == AGENT_FILE_END || type == AGENT_ERROR;
}

static bool starts_request(unsigned type)
{
	return type == AGENT_PING || type == AGENT_EXEC || type == AGENT_KILL ||
	       type == AGENT_WRITE_BEGIN || type == AGENT_READ;
}

static struct map_entry *by_guest(struct agent_mux *m, uint32_t guest_id)
{
	for (size_t i = 0; i < AGENT_MUX_MAP_MAX; i++) {
		if (m->map[i].used && m->map[i].guest_id == guest_id)
			return &m->map[i];
	}
	return NULL;
}

static struct map_entry *by_relay(struct agent_mux *m, unsigned relay, uint32_t relay_id)
{
	for (size_t i = 0; i < AGENT_MUX_MAP_MAX; i++) {
		if (m->map[i].used && m->map[i].relay == relay && m->map[i].relay_id == relay_id)
			return &m->map[i];
	}
	return NULL;
}

static struct relay_slot *slot_of(struct agent_mux *m, unsigned relay)
{
	for (size_t i = 0; i < AGENT_MUX_RELAYS_MAX; i++) {
		if (m->relays[i].used && m->relays[i].relay == relay)
			return &m->relays[i];
	}
	return NULL;
}

/* ---- the guest's side --------------------------------------------------------------------- */

/* HELLO: the host's client and every relay get it; it is kept for later relays. */
static int route_hello(struct agent_mux *m, const struct agent_dec *d)
{
	int r;

	/* HELLO's id is 0 (a guest may say otherwise: not ours to pass on). */
	m->hello_len = encode(m->hello, d->type, 0, d->payload, d->len);
	m->st.hellos++;
	/*
	 * The first HELLO of a stream is the agent that reads what was asked
	 * before it came; a second one is a restarted agent: the requests in
	 * flight died with the old one.
	 */
	if (m->served)
		memset(m->map, 0, sizeof(m->map));
	m->served = true;
	r = m->fn(m->ctx, 0, m->hello, m->hello_len);
	for (size_t i = 0; r == 0 && i < AGENT_MUX_RELAYS_MAX; i++) {
		if (m->relays[i].used)
			r = m->fn(m->ctx, m->relays[i].relay, m->hello, m->hello_len);
	}
	return r;
}

static int route_guest_frame(struct agent_mux *m, const struct agent_dec *d)
{
	struct map_entry *e;
	unsigned relay;
	size_t n;

	if (d->type == AGENT_HELLO)
		return route_hello(m, d);
	if (d->id < AGENT_MUX_RELAY_BASE) {
		m->st.to_host++;
		n = encode(m->frame, d->type, d->id, d->payload, d->len);
		return m->fn(m->ctx, 0, m->frame, n);
	}
	e = by_guest(m, d->id);
	if (!e) {
		m->st.dropped++; /* its relay left, or the guest made it up */
		return 0;
	}
	relay = e->relay;
	if (ends_request(d->type))
		e->used = false;
	if (e->orphan) {
		m->st.dropped++;
		return 0;
	}
	n = encode(m->frame, d->type, e->relay_id, d->payload, d->len);
	m->st.to_relays++;
	return m->fn(m->ctx, relay, m->frame, n);
}

static int guest_broken(struct agent_mux *m, struct it_error *err)
{
	const struct agent_dec *d = &m->gdec;

	if (!m->broken)
		snprintf(m->broken_msg, sizeof(m->broken_msg),
			 "agent channel broken at byte %llu: %s (0x%08x)",
			 (unsigned long long)d->err_at, agent_derr_str(d->err), d->err_value);
	m->broken = true;
	return it_error_set(err, -IT_EFORMAT, "%s", m->broken_msg);
}

int agent_mux_guest(struct agent_mux *m, const void *buf, size_t len, struct it_error *err)
{
	const uint8_t *p = buf;
	int r = 0;

	if (m->broken)
		return it_error_set(err, -IT_EFORMAT, "%s", m->broken_msg);
	while (len && r == 0) {
		size_t used = 0;

		r = agent_dec_feed(&m->gdec, p, len, &used);
		p += used;
		len -= used;
		if (r < 0)
			return guest_broken(m, err);
		r = r == 1 ? route_guest_frame(m, &m->gdec) : 0;
	}
	return r;
}

void agent_mux_guest_reset(struct agent_mux *m)
{
	agent_dec_reset(&m->gdec);
	m->gdec.offset = 0;
	m->broken = false;
	m->served = false;
	memset(m->map, 0, sizeof(m->map));
}

/* ---- the relays' side --------------------------------------------------------------------- */

int agent_mux_attach(struct agent_mux *m, unsigned relay)
{
	for (size_t i = 0; relay && i < AGENT_MUX_RELAYS_MAX; i++) {
		struct relay_slot *s = &m->relays[i];

		if (s->used)
			continue;
		s->used = true;
		s->relay = relay;
		agent_dec_reset(&s->dec);
		s->dec.offset = 0;
		return m->hello_len ? m->fn(m->ctx, relay, m->hello, m->hello_len) : 0;
	}
	return -IT_ELIMIT;
}

static struct map_entry *new_mapping(struct agent_mux *m, unsigned relay, uint32_t relay_id)
{
	for (size_t i = 0; i < AGENT_MUX_MAP_MAX; i++) {
		struct map_entry *e = &m->map[i];

		if (e->used)
			continue;
		*e = (struct map_entry){true, false, relay, relay_id, m->next_guest++};
		if (m->next_guest == 0)
			m->next_guest = AGENT_MUX_RELAY_BASE;
		return e;
	}
	return NULL;
}

/* A KILL's TARGET is the relay's id of the request to stop: the guest knows it by its own. */
static void map_kill_target(struct agent_mux *m, unsigned relay, uint8_t *payload, uint32_t len)
{
	struct agent_tlv t;
	size_t off = 0;
	uint64_t target;

	while (agent_tlv_next(payload, len, &off, &t) == 1) {
		struct map_entry *e;

		if (t.tag != AGENT_T_TARGET || !agent_tlv_u64(&t, &target))
			continue;
		e = target <= UINT32_MAX ? by_relay(m, relay, (uint32_t)target) : NULL;
		/* No such request of this relay: 0, which the guest knows as no request. */
		agent_put_le64((uint8_t *)t.val, e ? e->guest_id : 0);
	}
}

static int relay_frame(struct agent_mux *m, unsigned relay, struct agent_dec *d,
		       struct buf *to_guest, struct it_error *err)
{
	struct map_entry *e;
	size_t n;

	if (agent_type_from_guest(d->type))
		return it_error_set(err, -IT_EFORMAT,
				    "a relayed client sent a frame only the guest sends (%s)",
				    agent_type_name(d->type));
	if (starts_request(d->type)) {
		if (by_relay(m, relay, d->id))
			return it_error_set(err, -IT_EFORMAT,
					    "a relayed client used request id %u twice", d->id);
		e = new_mapping(m, relay, d->id);
		if (!e)
			return it_error_set(err, -IT_ELIMIT,
					    "more than %d relayed requests in flight",
					    AGENT_MUX_MAP_MAX);
	} else {
		e = by_relay(m, relay, d->id);
		if (!e) {
			m->st.dropped++; /* data for a copy that has ended already */
			return 0;
		}
	}
	if (d->type == AGENT_KILL)
		map_kill_target(m, relay, d->payload, d->len);
	n = encode(m->frame, d->type, e->guest_id, d->payload, d->len);
	m->st.from_relays++;
	return buf_add(to_guest, m->frame, n) < 0
		   ? it_error_set(err, -IT_ELIMIT, "the agent channel's queue is full")
		   : 0;
}

int agent_mux_relay(struct agent_mux *m, unsigned relay, const void *buf, size_t len,
		    struct buf *to_guest, struct it_error *err)
{
	struct relay_slot *s = slot_of(m, relay);
	const uint8_t *p = buf;
	int r = 0;

	if (!s)
		return it_error_set(err, -EINVAL, "relay %u is not attached", relay);
	while (len && r == 0) {
		size_t used = 0;

		r = agent_dec_feed(&s->dec, p, len, &used);
		p += used;
		len -= used;
		if (r < 0)
			return it_error_set(err, -IT_EFORMAT,
					    "a relayed client's stream is broken at byte %llu: %s",
					    (unsigned long long)s->dec.err_at,
					    agent_derr_str(s->dec.err));
		r = r == 1 ? relay_frame(m, relay, &s->dec, to_guest, err) : 0;
	}
	return r;
}

void agent_mux_detach(struct agent_mux *m, unsigned relay, struct buf *to_guest)
{
	struct relay_slot *s = slot_of(m, relay);
	struct agent_fw w;

	if (s)
		s->used = false;
	for (size_t i = 0; i < AGENT_MUX_MAP_MAX; i++) {
		struct map_entry *e = &m->map[i];
		size_t n;

		if (!e->used || e->orphan || e->relay != relay)
			continue;
		e->orphan = true;
		/* Stop what it left running; the answers have nobody to go to. */
		/* An id nobody maps: the KILL's own answer is dropped as well. */
		agent_fw_begin(&w, m->frame, sizeof(m->frame), AGENT_KILL, m->next_guest++);
		agent_fw_u64(&w, AGENT_T_TARGET, e->guest_id);
		n = agent_fw_end(&w);
		if (n && buf_add(to_guest, m->frame, n) < 0)
			m->st.dropped++;
	}
}

void agent_mux_get_stats(const struct agent_mux *m, struct agent_mux_stats *st)
{
	*st = m->st;
	st->mapped = 0;
	for (size_t i = 0; i < AGENT_MUX_MAP_MAX; i++)
		st->mapped += m->map[i].used;
}
