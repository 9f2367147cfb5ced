// SPDX-License-Identifier: MIT
/* Unit tests for agent/mux.c: one guest channel shared by the host's client and relays. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mux.h"
#include "agent/proto.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/unit/testutil.h"

#define MAXD 64

/* What the mux handed out, decoded again (so that a bad CRC would fail the test). */
struct got {
	unsigned dest[MAXD];
	unsigned type[MAXD];
	uint32_t id[MAXD];
	uint64_t target[MAXD]; /* a TARGET field, when there is one */
	size_t n;
};

/* The first frame of buf (len bytes, whole frames only); its size. */
static size_t decode_first(const void *buf, size_t len, unsigned *type, uint32_t *id,
			   uint64_t *target)
{
	static struct agent_dec d;
	size_t used = 0;
	struct agent_tlv t;
	size_t off = 0;

	agent_dec_reset(&d);
	ck_assert_int_eq(agent_dec_feed(&d, buf, len, &used), 1);
	*type = d.type;
	*id = d.id;
	*target = 0;
	while (agent_tlv_next(d.payload, d.len, &off, &t) == 1) {
		if (t.tag == AGENT_T_TARGET)
			ck_assert(agent_tlv_u64(&t, target));
	}
	return used;
}

/* A buffer that is exactly one frame. */
static void decode(const void *frame, size_t len, unsigned *type, uint32_t *id, uint64_t *target)
{
	ck_assert_uint_eq(decode_first(frame, len, type, id, target), len);
}

static int record(void *ctx, unsigned dest, const void *frame, size_t len)
{
	struct got *g = ctx;

	ck_assert_uint_lt(g->n, MAXD);
	g->dest[g->n] = dest;
	decode(frame, len, &g->type[g->n], &g->id[g->n], &g->target[g->n]);
	g->n++;
	return 0;
}

/* One frame of type and id, with an optional TARGET, appended to b. */
static void frame(struct buf *b, unsigned type, uint32_t id, uint64_t target)
{
	uint8_t tmp[AGENT_WIRE_MAX];
	struct agent_fw w;
	size_t n;

	agent_fw_begin(&w, tmp, sizeof(tmp), type, id);
	if (type == AGENT_HELLO)
		agent_fw_u64(&w, AGENT_T_VERSION, AGENT_PROTO_VERSION);
	if (target)
		agent_fw_u64(&w, AGENT_T_TARGET, target);
	if (type == AGENT_STDOUT)
		agent_fw_bytes(&w, AGENT_T_DATA, "hi\n", 3);
	n = agent_fw_end(&w);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(buf_add(b, tmp, n), 0);
}

static void guest(struct agent_mux *m, unsigned type, uint32_t id)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf b;

	buf_init(&b, 0);
	frame(&b, type, id, 0);
	ck_assert_msg(agent_mux_guest(m, b.data, b.len, &err) == 0, "%s", err.msg);
	buf_release(&b);
}

/* A relay's request: appended to to_guest, mapped; returns the guest's id for it. */
static uint32_t relay(struct agent_mux *m, unsigned r, unsigned type, uint32_t id, uint64_t target,
		      struct buf *to_guest)
{
	struct it_error err = IT_ERROR_INIT;
	size_t before = to_guest->len;
	unsigned t;
	uint32_t gid;
	uint64_t tgt;
	struct buf b;

	buf_init(&b, 0);
	frame(&b, type, id, target);
	ck_assert_msg(agent_mux_relay(m, r, b.data, b.len, to_guest, &err) == 0, "%s", err.msg);
	buf_release(&b);
	ck_assert_uint_gt(to_guest->len, before);
	decode(to_guest->data + before, to_guest->len - before, &t, &gid, &tgt);
	ck_assert_uint_eq(t, type);
	return gid;
}

START_TEST(test_routes_by_id)
{
	struct agent_mux *m = NULL;
	struct got g = {0};
	struct buf to_guest;
	uint32_t gid;

	buf_init(&to_guest, 0);
	ck_assert_int_eq(agent_mux_new(&m, record, &g), 0);
	/* HELLO: to the host's client; a relay that attaches later gets it first. */
	guest(m, AGENT_HELLO, 0);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.dest[0], 0);
	ck_assert_int_eq(agent_mux_attach(m, 7), 0);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.dest[1], 7);
	ck_assert_uint_eq(g.type[1], AGENT_HELLO);
	/* The host's own ids pass through untouched. */
	guest(m, AGENT_EXIT, 3);
	ck_assert_uint_eq(g.dest[2], 0);
	ck_assert_uint_eq(g.id[2], 3);
	/* A relay's request gets a guest id of the relay range; the answers go back mapped. */
	gid = relay(m, 7, AGENT_EXEC, 1, 0, &to_guest);
	ck_assert_uint_ge(gid, AGENT_MUX_RELAY_BASE);
	guest(m, AGENT_STDOUT, gid);
	guest(m, AGENT_EXIT, gid);
	ck_assert_uint_eq(g.n, 5);
	ck_assert_uint_eq(g.dest[3], 7);
	ck_assert_uint_eq(g.id[3], 1);
	ck_assert_uint_eq(g.type[4], AGENT_EXIT);
	ck_assert_uint_eq(g.id[4], 1);
	/* The EXIT ended it: what comes for it after is dropped, not delivered. */
	guest(m, AGENT_STDOUT, gid);
	ck_assert_uint_eq(g.n, 5);
	agent_mux_free(m);
	buf_release(&to_guest);
}
END_TEST

/*
 * A request relayed before the agent's first HELLO is read by that agent
 * (the guest reads the port once it serves it): its answer reaches the
 * relay. A second HELLO is a restarted agent: what was in flight is gone.
 */
START_TEST(test_request_before_hello)
{
	struct agent_mux *m = NULL;
	struct got g = {0};
	struct buf to_guest;
	uint32_t gid;

	buf_init(&to_guest, 0);
	ck_assert_int_eq(agent_mux_new(&m, record, &g), 0);
	ck_assert_int_eq(agent_mux_attach(m, 5), 0);
	gid = relay(m, 5, AGENT_EXEC, 1, 0, &to_guest);
	guest(m, AGENT_HELLO, 0);
	ck_assert_uint_eq(g.n, 2); /* the host's client and the relay */
	guest(m, AGENT_EXIT, gid);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_uint_eq(g.dest[2], 5);
	ck_assert_uint_eq(g.type[2], AGENT_EXIT);
	ck_assert_uint_eq(g.id[2], 1);
	/* Restarted: the next request's answer after a second HELLO is dropped. */
	gid = relay(m, 5, AGENT_EXEC, 2, 0, &to_guest);
	guest(m, AGENT_HELLO, 0);
	ck_assert_uint_eq(g.n, 5);
	guest(m, AGENT_EXIT, gid);
	ck_assert_uint_eq(g.n, 5);
	/* After the channel closed and reopened, the first HELLO keeps what was asked again. */
	agent_mux_guest_reset(m);
	gid = relay(m, 5, AGENT_EXEC, 3, 0, &to_guest);
	guest(m, AGENT_HELLO, 0);
	guest(m, AGENT_EXIT, gid);
	ck_assert_uint_eq(g.dest[g.n - 1], 5);
	ck_assert_uint_eq(g.id[g.n - 1], 3);
	agent_mux_free(m);
	buf_release(&to_guest);
}
END_TEST

START_TEST(test_two_relays_and_kill)
{
	struct agent_mux *m = NULL;
	struct got g = {0};
	struct buf to_guest;
	struct agent_mux_stats st;
	uint32_t a, b, k;
	unsigned type;
	uint32_t id;
	uint64_t target;

	buf_init(&to_guest, 0);
	ck_assert_int_eq(agent_mux_new(&m, record, &g), 0);
	ck_assert_int_eq(agent_mux_attach(m, 1), 0);
	ck_assert_int_eq(agent_mux_attach(m, 2), 0);
	/* Both use their own id 1: the guest sees two requests. */
	a = relay(m, 1, AGENT_EXEC, 1, 0, &to_guest);
	b = relay(m, 2, AGENT_EXEC, 1, 0, &to_guest);
	ck_assert_uint_ne(a, b);
	/* A KILL's target is the relay's id: the guest gets its own. */
	buf_reset(&to_guest);
	k = relay(m, 2, AGENT_KILL, 2, 1, &to_guest);
	decode(to_guest.data, to_guest.len, &type, &id, &target);
	ck_assert_uint_eq(id, k);
	ck_assert_uint_eq(target, b);
	guest(m, AGENT_EXIT, a);
	ck_assert_uint_eq(g.dest[g.n - 1], 1);
	/* Relay 2 leaves: its EXEC is killed in the guest, its answers have nowhere to go. */
	buf_reset(&to_guest);
	agent_mux_detach(m, 2, &to_guest);
	/* Two: its EXEC, and its KILL that had no answer yet. */
	ck_assert_uint_eq(to_guest.len,
			  2 * decode_first(to_guest.data, to_guest.len, &type, &id, &target));
	ck_assert_uint_eq(type, AGENT_KILL);
	ck_assert_uint_eq(target, b);
	g.n = 0;
	guest(m, AGENT_EXIT, b);
	guest(m, AGENT_OK, k);
	ck_assert_uint_eq(g.n, 0);
	agent_mux_get_stats(m, &st);
	ck_assert_uint_ge(st.dropped, 2);
	agent_mux_free(m);
	buf_release(&to_guest);
}
END_TEST

START_TEST(test_hostile_input)
{
	struct it_error err = IT_ERROR_INIT;
	struct agent_mux *m = NULL;
	struct got g = {0};
	struct buf b, to_guest;

	buf_init(&b, 0);
	buf_init(&to_guest, 0);
	ck_assert_int_eq(agent_mux_new(&m, record, &g), 0);
	ck_assert_int_eq(agent_mux_attach(m, 1), 0);
	/* A relay that sends what only a guest sends is refused; the channel is not hurt. */
	frame(&b, AGENT_EXIT, 1, 0);
	ck_assert_int_eq(agent_mux_relay(m, 1, b.data, b.len, &to_guest, &err), -IT_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "only the guest sends (EXIT)"));
	/* The same request id twice, while the first is in flight. */
	buf_reset(&b);
	frame(&b, AGENT_EXEC, 5, 0);
	frame(&b, AGENT_EXEC, 5, 0);
	it_error_clear(&err);
	ck_assert_int_eq(agent_mux_relay(m, 1, b.data, b.len, &to_guest, &err), -IT_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "twice"));
	/* More requests than the map holds. */
	it_error_clear(&err);
	for (uint32_t id = 100; id < 100 + AGENT_MUX_MAP_MAX + 1 && !err.code; id++) {
		buf_reset(&b);
		frame(&b, AGENT_PING, id, 0);
		agent_mux_relay(m, 1, b.data, b.len, &to_guest, &err);
	}
	ck_assert_int_eq(err.code, -IT_ELIMIT);
	/* A guest stream with a bad CRC breaks the mux for good, naming the offset. */
	buf_reset(&b);
	frame(&b, AGENT_HELLO, 0, 0);
	b.data[17] ^= 0x40;
	it_error_clear(&err);
	ck_assert_int_eq(agent_mux_guest(m, b.data, b.len, &err), -IT_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "agent channel broken at byte 0: bad CRC"));
	it_error_clear(&err);
	ck_assert_int_eq(agent_mux_guest(m, "x", 1, &err), -IT_EFORMAT);
	/* ... until the guest's end starts over. */
	agent_mux_guest_reset(m);
	guest(m, AGENT_HELLO, 0);
	agent_mux_free(m);
	buf_release(&b);
	buf_release(&to_guest);
}
END_TEST

static Suite *mux_suite(void)
{
	Suite *s = suite_create("agent_mux");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_routes_by_id);
	tcase_add_test(tc, test_request_before_hello);
	tcase_add_test(tc, test_two_relays_and_kill);
	tcase_add_test(tc, test_hostile_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(mux_suite());
}
