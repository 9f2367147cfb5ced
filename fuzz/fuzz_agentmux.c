// SPDX-License-Identifier: MIT
/* libFuzzer target: the agent mux between a hostile guest and hostile relays. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mux.h"
#include "agent/proto.h"
#include "common/buf.h"
#include "common/err.h"
#include "fuzz/fuzz.h"

/*
 * Input: a list of operations, each 4 bytes (kind, relay, length as 2
 * bytes little-endian) and that many bytes:
 *   0  the guest sends the bytes as they are
 *   1  the guest sends frames built from them (see mux_frames()), with
 *      good magic and CRC, so that routing is reached behind the framing
 *   2  relay R sends the bytes as they are
 *   3  relay R sends frames built from them
 *   4  relay R attaches, 5 it detaches, 6 the guest's end resets
 * Relays are 1 to 4 (R % 4 + 1). Whatever comes, every frame the mux hands
 * out, to the host, to a relay or to the guest, is one whole frame with a
 * good CRC; frames go only to an attached relay, and the host's client gets
 * none of the relay range; the guest gets only whole frames of the types
 * it takes, a relay's with ids of the relay range; errors are one line;
 * the mux's mapped count stays under its bound and is 0 after the guest's
 * reset; and the first HELLO of a stream keeps what relays asked before it
 * (the agent that sent it reads those requests).
 */
#define MUX_RELAYS 4
#define MUX_TO_GUEST_MAX (8u << 20)

struct mux_run {
	struct agent_mux *m;
	bool attached[MUX_RELAYS + 1];
	struct buf to_guest;
	bool served;	 /* a HELLO came since the guest's stream (re)started */
	bool lone_hello; /* the last operation sent the guest's one HELLO frame and nothing else */
};

/* One frame, whole, with its CRC right: its type and id. */
static void mux_check_frame(const void *frame, size_t len, unsigned *type, uint32_t *id)
{
	static struct agent_dec d;
	size_t used = 0;

	agent_dec_reset(&d);
	if (agent_dec_feed(&d, frame, len, &used) != 1 || used != len)
		fuzz_fail();
	*type = d.type;
	*id = d.id;
}

static int mux_deliver(void *ctx, unsigned dest, const void *frame, size_t len)
{
	struct mux_run *r = ctx;
	unsigned type;
	uint32_t id;

	mux_check_frame(frame, len, &type, &id);
	if (dest > MUX_RELAYS || (dest && !r->attached[dest]))
		fuzz_fail();
	/* Only the host's own client gets the guest's frames for ids below the relay range. */
	if (dest == 0 && id >= AGENT_MUX_RELAY_BASE)
		fuzz_fail();
	return 0;
}

/* The guest's stream so far is whole frames only, in the relay range or the host's. */
static void mux_check_to_guest(struct mux_run *r)
{
	size_t off = 0;

	while (off < r->to_guest.len) {
		size_t len =
		    AGENT_HDR_SIZE + agent_get_le32((const uint8_t *)r->to_guest.data + off + 12);
		unsigned type;
		uint32_t id;

		if (off + len > r->to_guest.len)
			fuzz_fail();
		mux_check_frame(r->to_guest.data + off, len, &type, &id);
		if (id < AGENT_MUX_RELAY_BASE || agent_type_from_guest(type))
			fuzz_fail();
		off += len;
	}
	buf_reset(&r->to_guest);
}

/*
 * Frames from p: type (1 byte), id (4 bytes, little-endian), then payload
 * bytes up to the next 0xff byte, which ends the frame.
 */
static void mux_frames(const uint8_t *p, size_t n, struct buf *out)
{
	static uint8_t frame[AGENT_WIRE_MAX];

	while (n >= 5) {
		const uint8_t *end = memchr(p + 5, 0xff, n - 5);
		size_t len = end ? (size_t)(end - (p + 5)) : n - 5;
		struct agent_fw w;

		agent_fw_begin(&w, frame, sizeof(frame), p[0], agent_get_le32(p + 1));
		memcpy(frame + AGENT_HDR_SIZE, p + 5, len);
		w.len += len;
		buf_add(out, frame, agent_fw_end(&w));
		p += 5 + len + (end ? 1 : 0);
		n -= 5 + len + (end ? 1 : 0);
	}
}

static void mux_op(struct mux_run *r, unsigned kind, unsigned relay, const uint8_t *p, size_t n)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf b;
	int ret = 0;

	buf_init(&b, 0);
	if (kind == 1 || kind == 3)
		mux_frames(p, n, &b);
	else
		buf_add(&b, p, n);
	r->lone_hello = kind == 1 && b.len >= AGENT_HDR_SIZE && (uint8_t)b.data[4] == AGENT_HELLO &&
			b.len == AGENT_HDR_SIZE + agent_get_le32((const uint8_t *)b.data + 12);
	switch (kind) {
	case 0:
	case 1:
		ret = agent_mux_guest(r->m, b.data, b.len, &err);
		break;
	case 2:
	case 3:
		if (!r->attached[relay])
			break;
		ret = agent_mux_relay(r->m, relay, b.data, b.len, &r->to_guest, &err);
		if (ret < 0) {
			agent_mux_detach(r->m, relay, &r->to_guest);
			r->attached[relay] = false;
		}
		break;
	case 4:
		/* Attached from the call on: the mux hands it the last HELLO at once. */
		if (!r->attached[relay]) {
			r->attached[relay] = true;
			r->attached[relay] = agent_mux_attach(r->m, relay) == 0;
		}
		break;
	case 5:
		if (r->attached[relay])
			agent_mux_detach(r->m, relay, &r->to_guest);
		r->attached[relay] = false;
		break;
	default:
		agent_mux_guest_reset(r->m);
		break;
	}
	fuzz_check_error(&err, ret);
	buf_release(&b);
}

FUZZ_ONE(agentmux)
{
	struct agent_mux_stats st, before;
	struct mux_run r;

	memset(&r, 0, sizeof(r));
	buf_init(&r.to_guest, MUX_TO_GUEST_MAX);
	if (agent_mux_new(&r.m, mux_deliver, &r) < 0)
		fuzz_fail();
	while (size >= 4) {
		unsigned kind = data[0] % 7, relay = data[1] % MUX_RELAYS + 1;
		size_t n = (size_t)data[2] | (size_t)data[3] << 8;

		if (n > size - 4)
			n = size - 4;
		agent_mux_get_stats(r.m, &before);
		mux_op(&r, kind, relay, data + 4, n);
		mux_check_to_guest(&r);
		agent_mux_get_stats(r.m, &st);
		if (st.mapped > AGENT_MUX_MAP_MAX)
			fuzz_fail();
		if (kind == 6 && st.mapped != 0)
			fuzz_fail();
		/* The first HELLO of a stream is the agent that reads what was asked before it. */
		if (r.lone_hello && !r.served && st.hellos > before.hellos &&
		    st.mapped != before.mapped)
			fuzz_fail();
		if (st.hellos > before.hellos)
			r.served = true;
		if (kind == 6)
			r.served = false;
		data += 4 + n;
		size -= 4 + n;
	}
	agent_mux_free(r.m);
	buf_release(&r.to_guest);
	return 0;
}
