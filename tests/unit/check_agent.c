// SPDX-License-Identifier: MIT
/* Unit tests for agent/: the wire codec, a hostile agent, and the real guest program run with --fd.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/agent.h"
#include "agent/proto.h"
#include "agent/sha256.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "tests/unit/testutil.h"

#ifndef AGENT_NATIVE_BIN
#define AGENT_NATIVE_BIN "build/agent/initrd-test-agent-native"
#endif
/* The client's memory never goes past this (agent.h: the struct plus the output queue cap). */
#define CLIENT_BOUND                                                                               \
	(sizeof(struct agent_client_stats) + 2 * AGENT_WIRE_MAX + 64 * 1024 +                      \
	 AGENT_CLIENT_OUTPUT_MAX)

/* ---- recording events ---------------------------------------------------------------------- */

#define MAX_IDS 256
#define KEEP_MAX (1024 * 1024) /* output kept per request and stream */

struct rec {
	bool done;
	enum agent_event_type end; /* the ending event */
	struct buf out, err, file;
	struct agent_exit exit;
	struct agent_file fend;
	int error;
	char message[256];
	uint64_t out_events;
};

struct log {
	struct rec r[MAX_IDS];
	int hellos;
	struct agent_hello hello;
	int errors_nonzero; /* ERROR events for ids out of range */
};

static void log_init(struct log *l)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < MAX_IDS; i++) {
		buf_init(&l->r[i].out, KEEP_MAX);
		buf_init(&l->r[i].err, KEEP_MAX);
		buf_init(&l->r[i].file, 0);
	}
}

static void log_release(struct log *l)
{
	for (int i = 0; i < MAX_IDS; i++) {
		buf_release(&l->r[i].out);
		buf_release(&l->r[i].err);
		buf_release(&l->r[i].file);
	}
}

static int on_event(void *ctx, const struct agent_event *ev)
{
	struct log *l = ctx;
	struct rec *r;

	if (ev->type == AGENT_EV_HELLO) {
		l->hellos++;
		l->hello = *ev->hello;
		return 0;
	}
	ck_assert_uint_lt(ev->id, MAX_IDS);
	r = &l->r[ev->id];
	ck_assert_msg(!r->done, "event %d for request %u after its end", ev->type, ev->id);
	switch (ev->type) {
	case AGENT_EV_STDOUT:
		r->out_events++;
		buf_add(&r->out, ev->data.ptr, ev->data.len); /* past KEEP_MAX: only counted */
		return 0;
	case AGENT_EV_STDERR:
		buf_add(&r->err, ev->data.ptr, ev->data.len);
		return 0;
	case AGENT_EV_FILE_DATA:
		ck_assert_int_eq(buf_add(&r->file, ev->data.ptr, ev->data.len), 0);
		return 0;
	case AGENT_EV_EXIT:
		r->exit = *ev->exit;
		break;
	case AGENT_EV_FILE_END:
	case AGENT_EV_OK:
		if (ev->file)
			r->fend = *ev->file;
		break;
	case AGENT_EV_PONG:
		buf_add(&r->out, ev->data.ptr, ev->data.len);
		break;
	case AGENT_EV_ERROR:
		r->error = ev->error;
		snprintf(r->message, sizeof(r->message), "%s", ev->message);
		break;
	default:
		ck_abort_msg("unexpected event %d", ev->type);
	}
	r->done = true;
	r->end = ev->type;
	return 0;
}

/* ---- frames a fake agent sends ------------------------------------------------------------ */

struct frames {
	struct buf b;
};

static void fr_init(struct frames *f)
{
	buf_init(&f->b, 0);
}

/* A frame: type, id, then (tag, kind, value) fields ended by tag 0; kind 'u' u64, 's' string. */
static void fr_add(struct frames *f, unsigned type, uint32_t id, ...)
{
	static uint8_t frame[AGENT_WIRE_MAX];
	struct agent_fw w;
	va_list ap;
	unsigned tag;

	agent_fw_begin(&w, frame, sizeof(frame), type, id);
	va_start(ap, id);
	while ((tag = va_arg(ap, unsigned)) != 0) {
		int kind = va_arg(ap, int);

		if (kind == 'u')
			agent_fw_u64(&w, tag, va_arg(ap, uint64_t));
		else if (kind == 's')
			agent_fw_str(&w, tag, va_arg(ap, const char *));
		else {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);

			agent_fw_bytes(&w, tag, p, n);
		}
	}
	va_end(ap);
	ck_assert_int_eq(buf_add(&f->b, frame, agent_fw_end(&w)), 0);
}

#define U(tag, v) (unsigned)(tag), 'u', (uint64_t)(v)
#define S(tag, v) (unsigned)(tag), 's', (const char *)(v)
#define B(tag, p, n) (unsigned)(tag), 'b', (const void *)(p), (size_t)(n)
#define END 0u

static void fr_hello(struct frames *f)
{
	fr_add(f, AGENT_HELLO, 0, U(AGENT_T_VERSION, AGENT_PROTO_VERSION),
	       S(AGENT_T_AGENT, "fake 1"), U(AGENT_T_CAPS, 15), S(AGENT_T_UNAME, "Linux fake"),
	       S(AGENT_T_TRANSPORT, "test"), END);
}

static struct agent_client *mk_client(struct log *l)
{
	struct agent_client *c = NULL;

	ck_assert_int_eq(agent_client_new(&c, on_event, l), 0);
	return c;
}

static uint32_t do_exec(struct agent_client *c, const char *cmd, int64_t timeout, uint64_t cap)
{
	struct agent_exec_opts o = {cmd, timeout, cap, cap, BLOB_NULL};
	struct it_error err = IT_ERROR_INIT;
	uint32_t id = 0;

	ck_assert_msg(agent_client_exec(c, &o, now_ms(), &id, &err) == 0, "exec: %s", err.msg);
	return id;
}

/* ---- CRC-32 and SHA-256 against zlib and libcrypto ------------------------------------------ */

static void fill_random(uint8_t *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

START_TEST(crc32_matches_zlib)
{
	static uint8_t data[70000];

	fill_random(data, sizeof(data), 7);
	for (size_t n = 0; n < 300; n++)
		ck_assert_uint_eq(agent_crc32(0, data, n), (uint32_t)crc32(0, data, (uInt)n));
	ck_assert_uint_eq(agent_crc32(0, data, sizeof(data)),
			  (uint32_t)crc32(0, data, sizeof(data)));
	/* Chained as zlib chains. */
	ck_assert_uint_eq(agent_crc32(agent_crc32(0, data, 1000), data + 1000, 5000),
			  (uint32_t)crc32(0, data, 6000));
	ck_assert_uint_eq(agent_crc32(0, "123456789", 9), 0xcbf43926u);
}
END_TEST

START_TEST(sha256_matches_libcrypto)
{
	static uint8_t data[1 << 20];
	uint8_t a[32], b[32];
	struct agent_sha256 s;

	fill_random(data, sizeof(data), 3);
	for (size_t n = 0; n < 200; n++) {
		agent_sha256_init(&s);
		agent_sha256_update(&s, data, n);
		agent_sha256_final(&s, a);
		SHA256(data, n, b);
		ck_assert_mem_eq(a, b, 32);
	}
	/* Uneven pieces. */
	agent_sha256_init(&s);
	for (size_t off = 0, k = 1; off < sizeof(data); k = k * 3 % 997 + 1) {
		size_t n = k < sizeof(data) - off ? k : sizeof(data) - off;

		agent_sha256_update(&s, data + off, n);
		off += n;
	}
	agent_sha256_final(&s, a);
	SHA256(data, sizeof(data), b);
	ck_assert_mem_eq(a, b, 32);
}
END_TEST

/* ---- requests as the guest decodes them ------------------------------------------------------ */

struct decoded {
	unsigned type;
	uint32_t id;
	uint64_t u[64];
	struct blob b[64];
	uint64_t have;
	uint8_t payload[AGENT_FRAME_MAX];
};

/* The next frame of the client's output, consumed. */
static void next_request(struct agent_client *c, struct decoded *d)
{
	static struct agent_dec dec;
	struct blob out = agent_client_output(c);
	struct agent_tlv t;
	size_t used = 0, off = 0;

	memset(&dec, 0, sizeof(dec));
	agent_dec_reset(&dec);
	ck_assert_int_eq(agent_dec_feed(&dec, (const uint8_t *)out.ptr, out.len, &used), 1);
	agent_client_output_consume(c, used);
	d->type = dec.type;
	d->id = dec.id;
	d->have = 0;
	memcpy(d->payload, dec.payload, dec.len);
	while (agent_tlv_next(d->payload, dec.len, &off, &t) == 1) {
		ck_assert_uint_lt(t.tag, 64);
		d->have |= (uint64_t)1 << t.tag;
		d->b[t.tag] = blob_mem(t.val, t.len);
		if (t.len == 8)
			d->u[t.tag] = agent_get_le64(t.val);
	}
	ck_assert_uint_eq(off, dec.len);
}

/* RESUME (after a checkpoint's restore): id 0, the host's time in ns, nothing else. */
START_TEST(resume_encodes)
{
	static struct agent_dec dec;
	uint8_t frame[AGENT_HDR_SIZE + 64];
	struct agent_tlv t;
	size_t n = agent_frame_resume(frame, sizeof(frame), 1796623599123456789ULL), used = 0,
	       off = 0;

	ck_assert_uint_eq(n, AGENT_HDR_SIZE + AGENT_TLV_HDR + 8);
	ck_assert_uint_eq(agent_frame_resume(frame, AGENT_HDR_SIZE, 1), 0);
	n = agent_frame_resume(frame, sizeof(frame), 1796623599123456789ULL);
	agent_dec_reset(&dec);
	ck_assert_int_eq(agent_dec_feed(&dec, frame, n, &used), 1);
	ck_assert_uint_eq(used, n);
	ck_assert_uint_eq(dec.type, AGENT_RESUME);
	ck_assert_uint_eq(dec.id, 0);
	ck_assert_str_eq(agent_type_name(AGENT_RESUME), "RESUME");
	ck_assert(!agent_type_from_guest(AGENT_RESUME));
	ck_assert_int_eq(agent_tlv_next(dec.payload, dec.len, &off, &t), 1);
	ck_assert_uint_eq(t.tag, AGENT_T_TIME_NS);
	ck_assert_uint_eq(agent_get_le64(t.val), 1796623599123456789ULL);
	ck_assert_int_eq(agent_tlv_next(dec.payload, dec.len, &off, &t), 0);
}
END_TEST

START_TEST(requests_encode)
{
	struct it_error err = IT_ERROR_INIT;
	struct agent_exec_opts o = {"echo hi", 5000, 100, 200, {3, "abc"}};
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct decoded *d = malloc(sizeof(*d));
	uint8_t sum[32];
	uint32_t id;

	log_init(l);
	c = mk_client(l);
	ck_assert_int_eq(agent_client_ping(c, blob_str("x"), 10, &id, &err), 0);
	ck_assert_uint_eq(id, 1);
	next_request(c, d);
	ck_assert_uint_eq(d->type, AGENT_PING);
	ck_assert_uint_eq(d->id, 1);
	ck_assert(blob_eq_str(d->b[AGENT_T_DATA], "x"));

	ck_assert_int_eq(agent_client_exec(c, &o, 10, &id, &err), 0);
	next_request(c, d);
	ck_assert_uint_eq(d->type, AGENT_EXEC);
	ck_assert_uint_eq(d->id, 2);
	ck_assert(blob_eq_str(d->b[AGENT_T_CMD], "echo hi"));
	ck_assert_uint_eq(d->u[AGENT_T_TIMEOUT_MS], 5000);
	ck_assert_uint_eq(d->u[AGENT_T_STDOUT_MAX], 100);
	ck_assert_uint_eq(d->u[AGENT_T_STDERR_MAX], 200);
	ck_assert(blob_eq_str(d->b[AGENT_T_STDIN], "abc"));

	ck_assert_int_eq(agent_client_kill(c, 2, 11, &id, &err), 0);
	next_request(c, d);
	ck_assert_uint_eq(d->type, AGENT_KILL);
	ck_assert_uint_eq(d->u[AGENT_T_TARGET], 2);

	ck_assert_int_eq(agent_client_write_begin(c, "/tmp/f", 0755, 3, 12, &id, &err), 0);
	next_request(c, d);
	ck_assert_uint_eq(d->type, AGENT_WRITE_BEGIN);
	ck_assert(blob_eq_str(d->b[AGENT_T_PATH], "/tmp/f"));
	ck_assert_uint_eq(d->u[AGENT_T_MODE], 0755);
	ck_assert_uint_eq(d->u[AGENT_T_SIZE], 3);
	ck_assert_int_eq(agent_client_write_data(c, id, "xyz", 3, &err), 0);
	next_request(c, d);
	ck_assert_uint_eq(d->type, AGENT_WRITE_DATA);
	ck_assert(blob_eq_str(d->b[AGENT_T_DATA], "xyz"));
	ck_assert_int_eq(agent_client_write_data(c, id, "!", 1, &err), -EINVAL);
	ck_assert_int_eq(agent_client_write_end(c, id, NULL, &err), 0);
	next_request(c, d);
	ck_assert_uint_eq(d->type, AGENT_WRITE_END);
	SHA256((const uint8_t *)"xyz", 3, sum);
	ck_assert_uint_eq(d->b[AGENT_T_SHA256].len, 32);
	ck_assert_mem_eq(d->b[AGENT_T_SHA256].ptr, sum, 32);
	ck_assert_int_eq(agent_client_write_end(c, id, NULL, &err), -ESRCH);

	ck_assert_int_eq(agent_client_read_file(c, "/etc/hostname", 0, 13, &id, &err), 0);
	next_request(c, d);
	ck_assert_uint_eq(d->type, AGENT_READ);
	ck_assert(blob_eq_str(d->b[AGENT_T_PATH], "/etc/hostname"));
	ck_assert_uint_eq(agent_client_output(c).len, 0);

	it_error_clear(&err);
	ck_assert_int_eq(agent_client_read_file(c, "relative", 0, 13, &id, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "guest path 'relative' is not absolute");
	ck_assert_uint_eq(agent_client_inflight(c), 5);
	agent_client_free(c);
	log_release(l);
	free(l);
	free(d);
}
END_TEST

/* ---- events from frames ------------------------------------------------------------------------
 */

static int feed_all(struct agent_client *c, const struct buf *b, struct it_error *err)
{
	return agent_client_feed(c, b->data, b->len, 100, err);
}

START_TEST(events_decode)
{
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct frames f;
	uint8_t sum[32];
	uint32_t ex, rd, wr, pg, kl;

	log_init(l);
	fr_init(&f);
	c = mk_client(l);
	ex = do_exec(c, "x", 0, 0);
	ck_assert_int_eq(agent_client_read_file(c, "/f", 0, 0, &rd, &err), 0);
	ck_assert_int_eq(agent_client_write_begin(c, "/g", 0644, 2, 0, &wr, &err), 0);
	ck_assert_int_eq(agent_client_write_data(c, wr, "ab", 2, &err), 0);
	ck_assert_int_eq(agent_client_write_end(c, wr, NULL, &err), 0);
	ck_assert_int_eq(agent_client_ping(c, BLOB_NULL, 0, &pg, &err), 0);
	ck_assert_int_eq(agent_client_kill(c, ex, 0, &kl, &err), 0);
	SHA256((const uint8_t *)"hello", 5, sum);

	fr_hello(&f);
	fr_add(&f, AGENT_STDOUT, ex, B(AGENT_T_DATA, "out\0put", 7), END);
	fr_add(&f, AGENT_STDERR, ex, S(AGENT_T_DATA, "err"), END);
	fr_add(&f, AGENT_OK, kl, END);
	fr_add(&f, AGENT_EXIT, ex, U(AGENT_T_SIGNAL, 15), U(AGENT_T_KILLED, 1),
	       U(AGENT_T_DROPPED_OUT, 5), U(AGENT_T_DURATION_MS, 77), U(999, 1), END);
	fr_add(&f, AGENT_FILE_DATA, rd, S(AGENT_T_DATA, "hel"), END);
	/* No data field at all: an empty chunk (fuzz_agent found a NULL reaching memcpy here). */
	fr_add(&f, AGENT_FILE_DATA, rd, END);
	fr_add(&f, AGENT_FILE_DATA, rd, S(AGENT_T_DATA, "lo"), END);
	fr_add(&f, AGENT_FILE_END, rd, U(AGENT_T_SIZE, 5), B(AGENT_T_SHA256, sum, 32), END);
	fr_add(&f, AGENT_OK, wr, U(AGENT_T_SIZE, 2), B(AGENT_T_SHA256, sum, 32), END);
	fr_add(&f, AGENT_PONG, pg, END);
	ck_assert_msg(feed_all(c, &f.b, &err) == 0, "%s", err.msg);

	ck_assert_int_eq(l->hellos, 1);
	ck_assert_str_eq(l->hello.agent, "fake 1");
	ck_assert_str_eq(l->hello.uname, "Linux fake");
	ck_assert_uint_eq(l->hello.caps, 15);
	ck_assert_uint_eq(l->r[ex].out.len, 7);
	ck_assert_mem_eq(l->r[ex].out.data, "out\0put", 7);
	ck_assert_str_eq(l->r[ex].err.data, "err");
	ck_assert(l->r[ex].done && l->r[ex].end == AGENT_EV_EXIT);
	ck_assert_int_eq(l->r[ex].exit.exit_code, -1);
	ck_assert_int_eq(l->r[ex].exit.signal, 15);
	ck_assert(l->r[ex].exit.killed && !l->r[ex].exit.timed_out);
	ck_assert_uint_eq(l->r[ex].exit.dropped_stdout, 5);
	ck_assert_uint_eq(l->r[ex].exit.stdout_bytes, 7);
	ck_assert_int_eq(l->r[ex].exit.duration_ms, 77);
	ck_assert(l->r[kl].done && l->r[kl].end == AGENT_EV_OK);
	ck_assert(l->r[rd].done && l->r[rd].end == AGENT_EV_FILE_END);
	ck_assert_str_eq(l->r[rd].file.data, "hello");
	ck_assert_uint_eq(l->r[rd].fend.size, 5);
	ck_assert(l->r[wr].done && l->r[wr].end == AGENT_EV_OK);
	ck_assert_uint_eq(l->r[wr].fend.size, 2);
	ck_assert(l->r[pg].done && l->r[pg].end == AGENT_EV_PONG);
	ck_assert_uint_eq(agent_client_inflight(c), 0);
	ck_assert(!agent_client_broken(c));
	agent_client_free(c);
	buf_release(&f.b);
	log_release(l);
	free(l);
}
END_TEST

START_TEST(read_checksum_mismatch)
{
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct frames f;
	uint8_t sum[32] = {0};
	uint32_t rd, rd2;

	log_init(l);
	fr_init(&f);
	c = mk_client(l);
	ck_assert_int_eq(agent_client_read_file(c, "/f", 0, 0, &rd, &err), 0);
	ck_assert_int_eq(agent_client_read_file(c, "/f", 0, 0, &rd2, &err), 0);
	fr_hello(&f);
	fr_add(&f, AGENT_FILE_DATA, rd, S(AGENT_T_DATA, "hello"), END);
	fr_add(&f, AGENT_FILE_END, rd, U(AGENT_T_SIZE, 5), B(AGENT_T_SHA256, sum, 32), END);
	fr_add(&f, AGENT_ERROR, rd2, U(AGENT_T_ERRNO, ENOENT),
	       S(AGENT_T_MESSAGE, "cannot open '/f': No such\nfile"), END);
	ck_assert_msg(feed_all(c, &f.b, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(l->r[rd].end, AGENT_EV_ERROR);
	ck_assert_int_eq(l->r[rd].error, -IT_ECHECKSUM);
	ck_assert_ptr_nonnull(strstr(l->r[rd].message, "copy does not match"));
	ck_assert_int_eq(l->r[rd2].error, -ENOENT);
	ck_assert_str_eq(l->r[rd2].message, "cannot open '/f': No such?file");
	agent_client_free(c);
	buf_release(&f.b);
	log_release(l);
	free(l);
}
END_TEST

/* ---- malformed input: each breaks the channel with one clear line ---------------------------- */

struct bad_case {
	const char *name;
	void (*make)(struct frames *f, uint32_t ex, uint32_t rd);
	const char *want; /* the whole message */
};

static void bad_magic(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)ex, (void)rd;
	buf_addstr(&f->b, "login: ");
}
static void bad_crc(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)rd;
	fr_add(f, AGENT_STDOUT, ex, S(AGENT_T_DATA, "abc"), END);
	f->b.data[f->b.len - 1] ^= 1;
}
static void too_long(struct frames *f, uint32_t ex, uint32_t rd)
{
	uint8_t h[AGENT_HDR_SIZE] = {AGENT_MAGIC0, AGENT_MAGIC1, AGENT_MAGIC2, AGENT_MAGIC3,
				     AGENT_STDOUT};

	(void)rd;
	agent_put_le32(h + 8, ex);
	agent_put_le32(h + 12, 0x7fffffff);
	buf_add(&f->b, h, sizeof(h));
}
static void unknown_type(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)rd;
	fr_add(f, 0x55, ex, END);
}
static void host_type(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)rd;
	fr_add(f, AGENT_EXEC, ex, S(AGENT_T_CMD, "reboot"), END);
}
static void never_made(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)ex, (void)rd;
	fr_add(f, AGENT_STDOUT, 40, S(AGENT_T_DATA, "x"), END);
}
static void already_ended(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)rd;
	fr_add(f, AGENT_EXIT, ex, U(AGENT_T_STATUS, 0), END);
	fr_add(f, AGENT_STDOUT, ex, S(AGENT_T_DATA, "late"), END);
}
static void out_of_place(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)ex;
	fr_add(f, AGENT_STDOUT, rd, S(AGENT_T_DATA, "x"), END);
}
static void tlv_overrun(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)rd;
	fr_add(f, AGENT_STDOUT, ex, S(AGENT_T_DATA, "abcdef"), END);
	/* Grow the field's length past the frame, then fix the CRC: only the TLV is wrong. */
	{
		uint8_t *p = (uint8_t *)f->b.data + f->b.len - 6 - AGENT_TLV_HDR;
		uint32_t crc;

		agent_put_le32(p + 2, 7);
		crc = agent_crc32(0, f->b.data + f->b.len - 6 - AGENT_TLV_HDR - AGENT_HDR_SIZE, 16);
		crc = agent_crc32(crc, p, 6 + AGENT_TLV_HDR);
		agent_put_le32((uint8_t *)f->b.data + f->b.len - 6 - AGENT_TLV_HDR - 4, crc);
	}
}
static void bad_int(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)rd;
	fr_add(f, AGENT_EXIT, ex, B(AGENT_T_STATUS, "\1", 1), END);
}
static void exit_no_status(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)rd;
	fr_add(f, AGENT_EXIT, ex, U(AGENT_T_TIMED_OUT, 1), END);
}
static void hello_id(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)rd;
	fr_add(f, AGENT_HELLO, ex, U(AGENT_T_VERSION, 1), END);
}
static void hello_version(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)ex, (void)rd;
	fr_add(f, AGENT_HELLO, 0, U(AGENT_T_VERSION, 9), END);
}
static void stream_error(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)ex, (void)rd;
	fr_add(f, AGENT_ERROR, 0, U(AGENT_T_ERRNO, EPROTO), S(AGENT_T_MESSAGE, "bad frame"), END);
}
static void ok_before_end(struct frames *f, uint32_t ex, uint32_t rd)
{
	(void)ex, (void)rd;
	fr_add(f, AGENT_OK, 3, END);
}

#define AT(n) "agent channel broken at byte " #n ": "
#define FIRST 86 /* the fake HELLO's length: the bad frame's offset */
static const struct bad_case bad_cases[] = {
    {"bad magic", bad_magic, AT(86) "bad magic 0x69676f6c (not an agent frame)"},
    {"bad crc", bad_crc, AT(86) "bad CRC in a STDOUT frame of 9 bytes"},
    {"too long", too_long, AT(86) "a STDOUT frame of 2147483647 bytes, over the limit of 65536"},
    {"unknown type", unknown_type,
     AT(86) "a frame of type 0x55 (unknown), which the agent never "
	    "sends"},
    {"host type", host_type, AT(86) "a frame of type 0x10 (EXEC), which the agent never sends"},
    {"never made", never_made, AT(86) "a STDOUT frame for request 40, never made"},
    {"already ended", already_ended, AT(120) "a STDOUT frame for request 1, which has ended"},
    {"out of place", out_of_place, AT(86) "a STDOUT frame for read request 2"},
    {"tlv overrun", tlv_overrun,
     AT(86) "a field at payload byte 0 overruns the STDOUT frame (12 "
	    "bytes)"},
    {"bad int", bad_int, AT(86) "field 20 of a EXIT frame is 1 bytes, not 8"},
    {"exit without status", exit_no_status, AT(86) "an EXIT frame without a status or a signal"},
    {"hello id", hello_id, AT(86) "a HELLO frame with request id 1, not 0"},
    {"hello version", hello_version, AT(86) "the agent speaks protocol version 9, not 1"},
    {"stream error", stream_error, AT(86) "the agent reports: bad frame"},
    {"ok before end", ok_before_end, AT(86) "an OK frame for file write 3 before its end"},
};

START_TEST(malformed_breaks)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct frames f;
	uint32_t ex, rd, wr;
	int r;

	log_init(l);
	fr_init(&f);
	c = mk_client(l);
	ex = do_exec(c, "x", 0, 0);
	ck_assert_int_eq(agent_client_read_file(c, "/f", 0, 0, &rd, &err), 0);
	ck_assert_int_eq(agent_client_write_begin(c, "/g", 0644, 2, 0, &wr, &err), 0);
	fr_hello(&f);
	ck_assert_uint_eq(f.b.len, FIRST);
	bc->make(&f, ex, rd);
	r = feed_all(c, &f.b, &err);
	ck_assert_msg(r == -IT_EFORMAT, "%s: feed gave %d", bc->name, r);
	ck_assert_msg(strcmp(err.msg, bc->want) == 0, "%s: got '%s'", bc->name, err.msg);
	ck_assert(agent_client_broken(c));
	/* Broken stays broken, and asks for nothing. */
	it_error_clear(&err);
	ck_assert_int_eq(agent_client_feed(c, "x", 1, 0, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg, bc->want);
	ck_assert_int_eq(agent_client_ping(c, BLOB_NULL, 0, NULL, NULL), -IT_EFORMAT);
	agent_client_free(c);
	buf_release(&f.b);
	log_release(l);
	free(l);
}
END_TEST

START_TEST(frame_before_hello)
{
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct frames f;
	uint32_t ex;

	log_init(l);
	fr_init(&f);
	c = mk_client(l);
	ex = do_exec(c, "x", 0, 0);
	fr_add(&f, AGENT_STDOUT, ex, S(AGENT_T_DATA, "x"), END);
	ck_assert_int_eq(feed_all(c, &f.b, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg, AT(0) "a STDOUT frame before the agent's HELLO");
	agent_client_free(c);
	buf_release(&f.b);
	log_release(l);
	free(l);
}
END_TEST

/* ---- caps, floods, split feeds, restarts ------------------------------------------------------
 */

START_TEST(flood_is_capped)
{
	static uint8_t chunk[AGENT_DATA_MAX];
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct agent_client_stats st;
	struct frames f, one;
	uint64_t total = 0;
	uint32_t ex;

	log_init(l);
	fr_init(&f);
	fr_init(&one);
	c = mk_client(l);
	ex = do_exec(c, "yes", 0, 64 * 1024);
	agent_client_output_consume(c, SIZE_MAX);
	fr_hello(&f);
	ck_assert_int_eq(feed_all(c, &f.b, &err), 0);
	memset(chunk, 'y', sizeof(chunk));
	fr_add(&one, AGENT_STDOUT, ex, B(AGENT_T_DATA, chunk, sizeof(chunk)), END);
	while (total < 50u * 1024 * 1024) {
		ck_assert_int_eq(feed_all(c, &one.b, &err), 0);
		total += sizeof(chunk);
		ck_assert_uint_le(agent_client_mem_size(c), CLIENT_BOUND);
	}
	ck_assert_uint_eq(l->r[ex].out.len, 64 * 1024);
	agent_client_get_stats(c, &st);
	ck_assert_uint_eq(st.dropped, total - 64 * 1024);
	buf_reset(&f.b);
	fr_add(&f, AGENT_EXIT, ex, U(AGENT_T_STATUS, 0), U(AGENT_T_DROPPED_OUT, 10), END);
	ck_assert_int_eq(feed_all(c, &f.b, &err), 0);
	ck_assert_uint_eq(l->r[ex].exit.dropped_stdout, total - 64 * 1024 + 10);
	ck_assert_uint_eq(l->r[ex].exit.stdout_bytes, 64 * 1024);
	agent_client_free(c);
	buf_release(&f.b);
	buf_release(&one.b);
	log_release(l);
	free(l);
}
END_TEST

START_TEST(read_cap_cuts)
{
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct frames f;
	struct decoded *d = malloc(sizeof(*d));
	uint32_t rd;

	log_init(l);
	fr_init(&f);
	c = mk_client(l);
	ck_assert_int_eq(agent_client_read_file(c, "/big", 4, 0, &rd, &err), 0);
	agent_client_output_consume(c, SIZE_MAX);
	fr_hello(&f);
	fr_add(&f, AGENT_FILE_DATA, rd, S(AGENT_T_DATA, "abc"), END);
	fr_add(&f, AGENT_FILE_DATA, rd, S(AGENT_T_DATA, "def"), END);
	fr_add(&f, AGENT_FILE_DATA, rd, S(AGENT_T_DATA, "ghi"), END);
	ck_assert_int_eq(feed_all(c, &f.b, &err), 0);
	ck_assert_int_eq(l->r[rd].error, -IT_ELIMIT);
	ck_assert_str_eq(l->r[rd].file.data, "abc");
	ck_assert_uint_eq(agent_client_inflight(c), 0);
	/* The client stops the guest itself, and the rest ends quietly. */
	next_request(c, d);
	ck_assert_uint_eq(d->type, AGENT_KILL);
	ck_assert_uint_eq(d->u[AGENT_T_TARGET], rd);
	buf_reset(&f.b);
	fr_add(&f, AGENT_ERROR, rd, U(AGENT_T_ERRNO, ECANCELED), S(AGENT_T_MESSAGE, "cancelled"),
	       END);
	fr_add(&f, AGENT_OK, d->id, END);
	ck_assert_int_eq(feed_all(c, &f.b, &err), 0);
	ck_assert(!agent_client_broken(c));
	agent_client_free(c);
	buf_release(&f.b);
	log_release(l);
	free(l);
	free(d);
}
END_TEST

/* Events as one text line each, to compare two runs. */
static void describe(const struct log *l, struct buf *out)
{
	buf_addf(out, "hellos %d\n", l->hellos);
	for (int i = 0; i < MAX_IDS; i++) {
		const struct rec *r = &l->r[i];

		if (!r->done && !r->out.len && !r->file.len)
			continue;
		buf_addf(out, "%d: end %d out %zu '%.*s' err %zu file %zu code %d/%d error %d\n", i,
			 r->end, r->out.len, (int)(r->out.len < 40 ? r->out.len : 40), r->out.data,
			 r->err.len, r->file.len, r->exit.exit_code, r->exit.signal, r->error);
	}
}

static void build_stream(struct agent_client *c, struct frames *f)
{
	struct it_error err = IT_ERROR_INIT;
	uint8_t sum[32];
	uint32_t ex = do_exec(c, "x", 0, 8), rd, pg;

	ck_assert_int_eq(agent_client_read_file(c, "/f", 0, 0, &rd, &err), 0);
	ck_assert_int_eq(agent_client_ping(c, BLOB_NULL, 0, &pg, &err), 0);
	SHA256((const uint8_t *)"abc", 3, sum);
	fr_hello(f);
	fr_add(f, AGENT_STDOUT, ex, S(AGENT_T_DATA, "0123"), END);
	fr_add(f, AGENT_FILE_DATA, rd, S(AGENT_T_DATA, "abc"), END);
	fr_add(f, AGENT_STDOUT, ex, S(AGENT_T_DATA, "456789"), END);
	fr_add(f, AGENT_PONG, pg, S(AGENT_T_DATA, ""), END);
	fr_add(f, AGENT_STDERR, ex, S(AGENT_T_DATA, "e"), END);
	fr_add(f, AGENT_FILE_END, rd, U(AGENT_T_SIZE, 3), B(AGENT_T_SHA256, sum, 32), END);
	fr_add(f, AGENT_EXIT, ex, U(AGENT_T_STATUS, 42), END);
}

START_TEST(split_feeds_agree)
{
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct frames f;
	struct buf want, got;

	log_init(l);
	fr_init(&f);
	buf_init(&want, 0);
	buf_init(&got, 0);
	c = mk_client(l);
	build_stream(c, &f);
	ck_assert_int_eq(feed_all(c, &f.b, &err), 0);
	describe(l, &want);
	ck_assert_ptr_nonnull(
	    strstr(want.data, "1: end 4 out 8 '01234567' err 1 file 0 code 42/0"));
	agent_client_free(c);
	/* Every split into two pieces, then byte by byte. */
	for (size_t cut = 0; cut <= f.b.len + 1; cut++) {
		struct frames g;

		log_release(l);
		log_init(l);
		fr_init(&g);
		c = mk_client(l);
		build_stream(c, &g);
		if (cut <= g.b.len) {
			ck_assert_int_eq(agent_client_feed(c, g.b.data, cut, 1, &err), 0);
			ck_assert_int_eq(
			    agent_client_feed(c, g.b.data + cut, g.b.len - cut, 1, &err), 0);
		} else {
			for (size_t i = 0; i < g.b.len; i++)
				ck_assert_int_eq(agent_client_feed(c, g.b.data + i, 1, 1, &err), 0);
		}
		buf_reset(&got);
		describe(l, &got);
		ck_assert_msg(strcmp(got.data, want.data) == 0, "cut at %zu:\n%s\nwanted\n%s", cut,
			      got.data, want.data);
		agent_client_free(c);
		buf_release(&g.b);
	}
	buf_release(&want);
	buf_release(&got);
	buf_release(&f.b);
	log_release(l);
	free(l);
}
END_TEST

START_TEST(restart_fails_inflight)
{
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	struct agent_client_stats st;
	struct frames f;
	uint32_t ex, ex2;

	log_init(l);
	fr_init(&f);
	c = mk_client(l);
	ex = do_exec(c, "sleep 9", 0, 0);
	fr_hello(&f);
	fr_hello(&f);
	fr_add(&f, AGENT_STDOUT, ex, S(AGENT_T_DATA, "stale"), END);
	ck_assert_int_eq(feed_all(c, &f.b, &err), 0);
	ck_assert_int_eq(l->hellos, 2);
	ck_assert_int_eq(l->r[ex].error, -ECONNRESET);
	ck_assert_str_eq(l->r[ex].message, "the agent restarted");
	agent_client_get_stats(c, &st);
	ck_assert_uint_eq(st.stale_frames, 1);
	ex2 = do_exec(c, "true", 0, 0);
	buf_reset(&f.b);
	fr_add(&f, AGENT_EXIT, ex2, U(AGENT_T_STATUS, 0), END);
	ck_assert_int_eq(feed_all(c, &f.b, &err), 0);
	ck_assert_int_eq(l->r[ex2].end, AGENT_EV_EXIT);
	/* The channel closing ends what is in flight too. */
	ex = do_exec(c, "sleep 9", 0, 0);
	ck_assert_int_eq(agent_client_eof(c, 5), 0);
	ck_assert_int_eq(l->r[ex].error, -EPIPE);
	ck_assert_ptr_null(agent_client_hello(c));
	agent_client_free(c);
	buf_release(&f.b);
	log_release(l);
	free(l);
}
END_TEST

START_TEST(overdue_and_limits)
{
	struct it_error err = IT_ERROR_INIT;
	struct log *l = calloc(1, sizeof(*l));
	struct agent_client *c;
	static char big[AGENT_DATA_MAX];
	enum agent_req_kind kind;
	int64_t start;
	uint32_t id, a, b;
	int r = 0, n = 0;

	log_init(l);
	c = mk_client(l);
	ck_assert_int_eq(agent_client_ping(c, BLOB_NULL, 1000, &a, &err), 0);
	ck_assert_int_eq(agent_client_ping(c, BLOB_NULL, 2000, &b, &err), 0);
	ck_assert(!agent_client_overdue(c, 2500, 2000, &id));
	ck_assert(agent_client_overdue(c, 3500, 2000, &id));
	ck_assert_uint_eq(id, a);
	ck_assert(agent_client_overdue(c, 9000, 2000, &id));
	ck_assert_uint_eq(id, a);
	ck_assert(agent_client_request(c, b, &kind, &start));
	ck_assert_int_eq(kind, AGENT_REQ_PING);
	ck_assert_int_eq(start, 2000);
	/* The request table is bounded. */
	while (r == 0) {
		r = agent_client_ping(c, BLOB_NULL, 0, NULL, &err);
		n++;
	}
	ck_assert_int_eq(r, -IT_ELIMIT);
	ck_assert_int_eq(n + 1, AGENT_CLIENT_REQUESTS_MAX);
	ck_assert_str_eq(err.msg, "too many agent requests in flight (64)");
	agent_client_free(c);
	/* So is the output queue. */
	c = mk_client(l);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(agent_client_write_begin(c, "/f", 0644, 1u << 30, 0, &id, &err), 0);
	r = 0;
	while (r == 0)
		r = agent_client_write_data(c, id, big, sizeof(big), NULL);
	ck_assert_int_eq(r, -IT_ELIMIT);
	ck_assert_uint_le(agent_client_output(c).len, AGENT_CLIENT_OUTPUT_MAX);
	ck_assert_uint_le(agent_client_mem_size(c), CLIENT_BOUND);
	agent_client_free(c);
	log_release(l);
	free(l);
}
END_TEST

/* ---- a channel over a socketpair: the real guest program, or a fake one ------------------------
 */

struct chan {
	int fd;
	pid_t pid;
	struct agent_client *c;
	struct log *l;
	size_t peak_mem;
};

static const char *agent_bin(void)
{
	const char *p = getenv("INITRD_TEST_AGENT");

	return p && *p ? p : AGENT_NATIVE_BIN;
}

static void chan_open(struct chan *ch, void (*fake)(int fd))
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ch->pid = fork();
	ck_assert_int_ge(ch->pid, 0);
	if (ch->pid == 0) {
		/* Check's runner handles SIGTERM by killing the whole process group: not here. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		close(sv[0]);
		if (fake) {
			fake(sv[1]);
			_exit(0);
		}
		dup2(sv[1], 3);
		execl(agent_bin(), "initrd-test-agent", "--fd", "3", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	ch->fd = sv[0];
	fcntl(ch->fd, F_SETFL, O_NONBLOCK);
	ch->l = calloc(1, sizeof(*ch->l));
	log_init(ch->l);
	ch->c = mk_client(ch->l);
	ch->peak_mem = 0;
}

/* One turn: write what is queued, read what came, feed it. Returns the feed's result. */
static int chan_turn(struct chan *ch, int timeout_ms, struct it_error *err)
{
	static char in[256 * 1024];
	struct blob out = agent_client_output(ch->c);
	struct pollfd p = {ch->fd, POLLIN | (out.len ? POLLOUT : 0), 0};
	ssize_t n;
	int r = 0;

	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	if (p.revents & POLLOUT) {
		n = write(ch->fd, out.ptr, out.len);
		if (n > 0)
			agent_client_output_consume(ch->c, (size_t)n);
	}
	if (p.revents & (POLLIN | POLLHUP)) {
		n = read(ch->fd, in, sizeof(in));
		if (n > 0)
			r = agent_client_feed(ch->c, in, (size_t)n, now_ms(), err);
		else if (n == 0)
			r = agent_client_eof(ch->c, now_ms()) < 0 ? -EPIPE : -EPIPE;
	}
	if (agent_client_mem_size(ch->c) > ch->peak_mem)
		ch->peak_mem = agent_client_mem_size(ch->c);
	return r;
}

/* Turn until request id has ended (or, id 0, the HELLO came), failing after timeout_ms. */
static void chan_wait(struct chan *ch, uint32_t id, int64_t timeout_ms)
{
	struct it_error err = IT_ERROR_INIT;
	int64_t deadline = now_ms() + timeout_ms;

	while (id ? !ch->l->r[id].done : ch->l->hellos == 0) {
		int r = chan_turn(ch, 50, &err);

		ck_assert_msg(r == 0, "channel: %d %s", r, err.msg);
		ck_assert_msg(now_ms() < deadline, "request %u not done after %lld ms", id,
			      (long long)timeout_ms);
	}
}

static void chan_close(struct chan *ch)
{
	int status = 0;

	close(ch->fd);
	kill(ch->pid, SIGKILL);
	waitpid(ch->pid, &status, 0);
	agent_client_free(ch->c);
	log_release(ch->l);
	free(ch->l);
}

static struct chan guest;

static void guest_setup(void)
{
	tu_tmp_setup();
	chan_open(&guest, NULL);
	chan_wait(&guest, 0, 10000);
}

static void guest_teardown(void)
{
	int status = 0;

	/* The agent ends at the end of its descriptor, with status 0. */
	close(guest.fd);
	ck_assert_int_eq(waitpid(guest.pid, &status, 0), guest.pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "agent status 0x%x", status);
	agent_client_free(guest.c);
	log_release(guest.l);
	free(guest.l);
	tu_tmp_teardown();
}

static struct rec *run(const char *cmd, int64_t timeout, uint64_t cap)
{
	uint32_t id = do_exec(guest.c, cmd, timeout, cap);

	chan_wait(&guest, id, 20000);
	return &guest.l->r[id];
}

START_TEST(guest_hello)
{
	ck_assert_uint_eq(guest.l->hello.version, AGENT_PROTO_VERSION);
	ck_assert_str_eq(guest.l->hello.agent, "initrd-test-agent 0.1.0");
	ck_assert_str_eq(guest.l->hello.transport, "fd 3");
	ck_assert_ptr_nonnull(strstr(guest.l->hello.uname, "Linux "));
	ck_assert_uint_eq(guest.l->hello.caps & AGENT_CAP_EXEC, AGENT_CAP_EXEC);
}
END_TEST

START_TEST(guest_exit_codes)
{
	static const int codes[] = {0, 1, 42};
	char cmd[64];

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		struct rec *r;

		snprintf(cmd, sizeof(cmd), "exit %d", codes[i]);
		r = run(cmd, 0, 0);
		ck_assert_int_eq(r->end, AGENT_EV_EXIT);
		ck_assert_int_eq(r->exit.exit_code, codes[i]);
		ck_assert_int_eq(r->exit.signal, 0);
		ck_assert(!r->exit.timed_out);
	}
	ck_assert_int_eq(run("true", 0, 0)->exit.exit_code, 0);
	ck_assert_int_eq(run("false", 0, 0)->exit.exit_code, 1);
	ck_assert_int_eq(run("kill -9 $$", 0, 0)->exit.signal, 9);
	ck_assert_int_eq(run("/nonexistent/cmd", 0, 0)->exit.exit_code, 127);
}
END_TEST

START_TEST(guest_streams_apart)
{
	struct rec *r =
	    run("echo out; echo err >&2; printf 'a\\000b'; echo E2 >&2; pwd; echo $HOME "
		"$PATH",
		0, 0);

	ck_assert_int_eq(r->exit.exit_code, 0);
	static const char want[] = "out\na\0b/\n/root /usr/sbin:/usr/bin:/sbin:/bin\n";

	ck_assert_uint_eq(r->out.len, sizeof(want) - 1);
	ck_assert_mem_eq(r->out.data, want, r->out.len);
	ck_assert_str_eq(r->err.data, "err\nE2\n");
}
END_TEST

START_TEST(guest_stdin)
{
	struct agent_exec_opts o = {"tr a-z A-Z; echo; cat", 0, 0, 0, {6, "hello\n"}};
	struct it_error err = IT_ERROR_INIT;
	uint32_t id;

	ck_assert_int_eq(agent_client_exec(guest.c, &o, now_ms(), &id, &err), 0);
	chan_wait(&guest, id, 10000);
	ck_assert_str_eq(guest.l->r[id].out.data, "HELLO\n\n");
	/* Without stdin bytes, stdin is /dev/null. */
	ck_assert_str_eq(run("cat; echo done", 0, 0)->out.data, "done\n");
}
END_TEST

/* Is process pid gone (or a zombie nobody reaped yet)? */
static bool process_gone(long pid)
{
	char path[64];
	struct buf b;
	bool gone;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	buf_init(&b, 0);
	gone = buf_read_file(&b, path) < 0;
	if (!gone) {
		const char *p = strrchr(b.data, ')');

		gone = p && (p[2] == 'Z' || p[2] == 'X');
	}
	buf_release(&b);
	return gone;
}

START_TEST(guest_timeout_kills_group)
{
	char path[300], cmd[400];
	struct buf b;
	struct rec *r;
	int64_t t0 = now_ms();
	long pid;

	tu_path(path, sizeof(path), "bg.pid");
	snprintf(cmd, sizeof(cmd), "sleep 600 & echo $! > %s; sleep 600", path);
	r = run(cmd, 1000, 0);
	ck_assert(r->exit.timed_out);
	ck_assert_int_eq(r->exit.signal, SIGTERM);
	ck_assert_int_lt(now_ms() - t0, 5000);
	ck_assert_int_ge(r->exit.duration_ms, 1000);
	buf_init(&b, 0);
	tu_read_file(&b, path);
	pid = strtol(b.data, NULL, 10);
	ck_assert_int_gt(pid, 1);
	for (int i = 0; i < 50 && !process_gone(pid); i++)
		usleep(20000);
	ck_assert_msg(process_gone(pid), "the shell's child %ld survived the timeout", pid);
	buf_release(&b);
	/* The next command runs. */
	ck_assert_str_eq(run("echo next", 0, 0)->out.data, "next\n");
}
END_TEST

START_TEST(guest_kill)
{
	struct it_error err = IT_ERROR_INIT;
	uint32_t ex = do_exec(guest.c, "echo started; exec sleep 600", 0, 0), kl;
	int64_t t0;

	while (guest.l->r[ex].out.len == 0)
		ck_assert_int_eq(chan_turn(&guest, 50, &err), 0);
	t0 = now_ms();
	ck_assert_int_eq(agent_client_kill(guest.c, ex, now_ms(), &kl, &err), 0);
	chan_wait(&guest, ex, 5000);
	chan_wait(&guest, kl, 5000);
	ck_assert_int_lt(now_ms() - t0, 3000);
	ck_assert(guest.l->r[ex].exit.killed);
	ck_assert_int_eq(guest.l->r[ex].exit.signal, SIGTERM);
	ck_assert_int_eq(guest.l->r[kl].end, AGENT_EV_OK);
	/* A process that ignores SIGTERM gets SIGKILL a second later. */
	ex = do_exec(guest.c, "trap '' TERM; echo ready; while :; do sleep 1; done", 0, 0);
	while (guest.l->r[ex].out.len == 0)
		ck_assert_int_eq(chan_turn(&guest, 50, &err), 0);
	ck_assert_int_eq(agent_client_kill(guest.c, ex, now_ms(), &kl, &err), 0);
	chan_wait(&guest, ex, 5000);
	ck_assert_int_eq(guest.l->r[ex].exit.signal, SIGKILL);
	/* Killing what is not running is an error for the KILL alone. */
	ck_assert_int_eq(agent_client_kill(guest.c, ex, now_ms(), &kl, &err), 0);
	chan_wait(&guest, kl, 5000);
	ck_assert_int_eq(guest.l->r[kl].error, -ESRCH);
	ck_assert_str_eq(run("echo alive", 0, 0)->out.data, "alive\n");
}
END_TEST

START_TEST(guest_three_at_once)
{
	uint32_t a = do_exec(guest.c, "sleep 1; echo a", 0, 0);
	uint32_t b = do_exec(guest.c, "echo b", 0, 0);
	uint32_t c = do_exec(guest.c, "sleep 0.5; echo c", 0, 0);
	int64_t t0 = now_ms();

	chan_wait(&guest, a, 10000);
	chan_wait(&guest, b, 10000);
	chan_wait(&guest, c, 10000);
	/* Concurrent: about 1 s, not 1.5 s. */
	ck_assert_int_lt(now_ms() - t0, 1450);
	ck_assert_str_eq(guest.l->r[a].out.data, "a\n");
	ck_assert_str_eq(guest.l->r[b].out.data, "b\n");
	ck_assert_str_eq(guest.l->r[c].out.data, "c\n");
}
END_TEST

/* Peak resident memory of a process, in KiB. */
static long peak_rss_kib(pid_t pid)
{
	char path[64];
	struct buf b;
	const char *p;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	buf_init(&b, 0);
	if (buf_read_file(&b, path) == 0 && (p = strstr(b.data, "VmHWM:")) != NULL)
		v = strtol(p + 6, NULL, 10);
	buf_release(&b);
	return v;
}

START_TEST(guest_output_capped)
{
	struct rec *r;
	long rss;

	r = run("head -c 52428800 /dev/zero; echo tail >&2", 0, 64 * 1024);
	ck_assert_int_eq(r->exit.exit_code, 0);
	ck_assert_uint_eq(r->out.len, 64 * 1024);
	ck_assert_uint_eq(r->exit.stdout_bytes, 64 * 1024);
	ck_assert_uint_eq(r->exit.dropped_stdout, 52428800 - 64 * 1024);
	ck_assert_str_eq(r->err.data, "tail\n");
	rss = peak_rss_kib(guest.pid);
	ck_assert_msg(rss > 0 && rss < 8 * 1024, "agent peak RSS %ld KiB", rss);
	ck_assert_uint_le(guest.peak_mem, CLIENT_BOUND);
}
END_TEST

/* Copy n bytes into the guest at path (with a wrong SHA-256 when 'corrupt'); the write's record. */
static struct rec *copy_in(const char *path, const uint8_t *data, size_t n, bool corrupt)
{
	struct it_error err = IT_ERROR_INIT;
	uint8_t bad[32] = {1};
	size_t off = 0;
	uint32_t id;

	ck_assert_int_eq(agent_client_write_begin(guest.c, path, 0640, n, now_ms(), &id, &err), 0);
	while (off < n) {
		size_t k = n - off < 200000 ? n - off : 200000;
		int r = agent_client_write_data(guest.c, id, data + off, k, &err);

		if (r == -IT_ELIMIT) {
			ck_assert_int_eq(chan_turn(&guest, 50, &err), 0);
			continue;
		}
		ck_assert_msg(r == 0, "%s", err.msg);
		off += k;
	}
	ck_assert_int_eq(agent_client_write_end(guest.c, id, corrupt ? bad : NULL, &err), 0);
	chan_wait(&guest, id, 60000);
	return &guest.l->r[id];
}

START_TEST(guest_copy_both_ways)
{
	size_t n = 10 * 1024 * 1024;
	uint8_t *data = malloc(n), want[32], got[32];
	char path[300];
	struct it_error err = IT_ERROR_INIT;
	struct stat st;
	struct rec *w, *r;
	uint32_t id;

	fill_random(data, n, 11);
	SHA256(data, n, want);
	tu_path(path, sizeof(path), "big.bin");
	w = copy_in(path, data, n, false);
	ck_assert_msg(w->end == AGENT_EV_OK, "write: %d %s", w->error, w->message);
	ck_assert_uint_eq(w->fend.size, n);
	ck_assert_mem_eq(w->fend.sha256, want, 32);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_size, n);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);

	ck_assert_int_eq(agent_client_read_file(guest.c, path, 0, now_ms(), &id, &err), 0);
	chan_wait(&guest, id, 60000);
	r = &guest.l->r[id];
	ck_assert_msg(r->end == AGENT_EV_FILE_END, "read: %d %s", r->error, r->message);
	ck_assert_uint_eq(r->file.len, n);
	SHA256((const uint8_t *)r->file.data, r->file.len, got);
	ck_assert_mem_eq(got, want, 32);
	ck_assert_mem_eq(r->fend.sha256, want, 32);
	ck_assert_uint_le(guest.peak_mem, CLIENT_BOUND);
	free(data);
}
END_TEST

START_TEST(guest_bad_sha_leaves_nothing)
{
	char path[300], cmd[400];
	struct buf ls;
	struct rec *w;

	tu_path(path, sizeof(path), "f.txt");
	w = copy_in(path, (const uint8_t *)"hello", 5, true);
	ck_assert_int_eq(w->end, AGENT_EV_ERROR);
	ck_assert_int_eq(w->error, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(w->message, "SHA-256 of the data is 2cf24dba"));
	ck_assert_int_eq(access(path, F_OK), -1);
	/* Neither the file nor its temp file. */
	buf_init(&ls, 0);
	snprintf(cmd, sizeof(cmd), "ls -A '%s'", tu_dir);
	tu_shell(cmd, &ls);
	ck_assert_msg(ls.len == 0, "left behind: %s", ls.data);
	buf_release(&ls);
	/* A relative path, a missing directory, and then a good copy. */
	tu_path(path, sizeof(path), "no/such/dir/f");
	w = copy_in(path, (const uint8_t *)"x", 1, false);
	ck_assert_int_eq(w->error, -ENOENT);
	tu_path(path, sizeof(path), "g.txt");
	ck_assert_int_eq(copy_in(path, (const uint8_t *)"", 0, false)->end, AGENT_EV_OK);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

START_TEST(guest_read_errors)
{
	struct it_error err = IT_ERROR_INIT;
	uint32_t id;
	struct rec *r;

	ck_assert_int_eq(
	    agent_client_read_file(guest.c, "/nonexistent/file", 0, now_ms(), &id, &err), 0);
	chan_wait(&guest, id, 5000);
	r = &guest.l->r[id];
	ck_assert_int_eq(r->error, -ENOENT);
	ck_assert_str_eq(r->message, "cannot open '/nonexistent/file': No such file or directory");
	ck_assert_int_eq(agent_client_read_file(guest.c, "/", 0, now_ms(), &id, &err), 0);
	chan_wait(&guest, id, 5000);
	ck_assert_int_eq(guest.l->r[id].error, -EISDIR);
}
END_TEST

START_TEST(guest_ping)
{
	struct it_error err = IT_ERROR_INIT;
	uint32_t id;

	ck_assert_int_eq(agent_client_ping(guest.c, blob_str("echo me"), now_ms(), &id, &err), 0);
	chan_wait(&guest, id, 5000);
	ck_assert_int_eq(guest.l->r[id].end, AGENT_EV_PONG);
	ck_assert_str_eq(guest.l->r[id].out.data, "echo me");
}
END_TEST

/* ---- a hostile agent: the test writes its frames ----------------------------------------------
 */

static void write_all_or_exit(int fd, const void *p, size_t n)
{
	if (fd_write_all(fd, p, n) < 0)
		_exit(0);
}

static void fake_hello(int fd, struct frames *f)
{
	fr_init(f);
	fr_hello(f);
	write_all_or_exit(fd, f->b.data, f->b.len);
	buf_reset(&f->b);
}

/* Endless stdout for request 1, as fast as the socket takes it. */
static void fake_flood(int fd)
{
	static uint8_t chunk[AGENT_DATA_MAX];
	struct frames f;

	fake_hello(fd, &f);
	memset(chunk, 'z', sizeof(chunk));
	fr_add(&f, AGENT_STDOUT, 1, B(AGENT_T_DATA, chunk, sizeof(chunk)), END);
	for (;;)
		write_all_or_exit(fd, f.b.data, f.b.len);
}

static void fake_huge_length(int fd)
{
	uint8_t h[AGENT_HDR_SIZE] = {AGENT_MAGIC0, AGENT_MAGIC1, AGENT_MAGIC2, AGENT_MAGIC3,
				     AGENT_STDOUT};
	struct frames f;

	fake_hello(fd, &f);
	agent_put_le32(h + 8, 1);
	agent_put_le32(h + 12, 0xffffffffu);
	write_all_or_exit(fd, h, sizeof(h));
	for (;;)
		write_all_or_exit(fd, "zzzzzzzz", 8);
}

static void fake_garbage(int fd)
{
	static char junk[4096];
	struct frames f;

	fake_hello(fd, &f);
	memset(junk, 0xa5, sizeof(junk));
	for (;;)
		write_all_or_exit(fd, junk, sizeof(junk));
}

START_TEST(hostile_flood_bounded)
{
	struct it_error err = IT_ERROR_INIT;
	struct agent_client_stats st;
	struct chan ch;
	uint32_t id;

	chan_open(&ch, fake_flood);
	id = do_exec(ch.c, "anything", 0, 64 * 1024);
	ck_assert_uint_eq(id, 1);
	do {
		ck_assert_int_eq(chan_turn(&ch, 1000, &err), 0);
		agent_client_get_stats(ch.c, &st);
	} while (st.bytes_in < 100u * 1024 * 1024);
	ck_assert_uint_eq(ch.l->r[id].out.len, 64 * 1024);
	ck_assert_uint_ge(st.dropped, 99u * 1024 * 1024);
	ck_assert_uint_le(ch.peak_mem, CLIENT_BOUND);
	ck_assert(!ch.l->r[id].done);
	/* The caller's own deadline names it. */
	ck_assert(agent_client_overdue(ch.c, now_ms(), 0, &id));
	ck_assert_uint_eq(id, 1);
	chan_close(&ch);
}
END_TEST

static void hostile_breaks(void (*fake)(int), const char *want)
{
	struct it_error err = IT_ERROR_INIT;
	struct chan ch;
	int r = 0;

	chan_open(&ch, fake);
	do_exec(ch.c, "anything", 0, 0);
	while (r == 0)
		r = chan_turn(&ch, 1000, &err);
	ck_assert_int_eq(r, -IT_EFORMAT);
	ck_assert_str_eq(err.msg, want);
	ck_assert_uint_le(ch.peak_mem, CLIENT_BOUND);
	chan_close(&ch);
}

START_TEST(hostile_huge_length)
{
	hostile_breaks(fake_huge_length,
		       AT(86) "a STDOUT frame of 4294967295 bytes, over the limit of 65536");
}
END_TEST

START_TEST(hostile_garbage)
{
	hostile_breaks(fake_garbage, AT(86) "bad magic 0xa5a5a5a5 (not an agent frame)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent");
	TCase *codec = tcase_create("codec");
	TCase *g = tcase_create("guest");
	TCase *hostile = tcase_create("hostile");

	tcase_set_timeout(codec, 120);
	tcase_add_test(codec, crc32_matches_zlib);
	tcase_add_test(codec, sha256_matches_libcrypto);
	tcase_add_test(codec, resume_encodes);
	tcase_add_test(codec, requests_encode);
	tcase_add_test(codec, events_decode);
	tcase_add_test(codec, read_checksum_mismatch);
	tcase_add_loop_test(codec, malformed_breaks, 0, ARRAY_SIZE(bad_cases));
	tcase_add_test(codec, frame_before_hello);
	tcase_add_test(codec, flood_is_capped);
	tcase_add_test(codec, read_cap_cuts);
	tcase_add_test(codec, split_feeds_agree);
	tcase_add_test(codec, restart_fails_inflight);
	tcase_add_test(codec, overdue_and_limits);
	suite_add_tcase(s, codec);

	tcase_set_timeout(g, 120);
	tcase_add_checked_fixture(g, guest_setup, guest_teardown);
	tcase_add_test(g, guest_hello);
	tcase_add_test(g, guest_exit_codes);
	tcase_add_test(g, guest_streams_apart);
	tcase_add_test(g, guest_stdin);
	tcase_add_test(g, guest_timeout_kills_group);
	tcase_add_test(g, guest_kill);
	tcase_add_test(g, guest_three_at_once);
	tcase_add_test(g, guest_output_capped);
	tcase_add_test(g, guest_copy_both_ways);
	tcase_add_test(g, guest_bad_sha_leaves_nothing);
	tcase_add_test(g, guest_read_errors);
	tcase_add_test(g, guest_ping);
	suite_add_tcase(s, g);

	tcase_set_timeout(hostile, 60);
	tcase_add_test(hostile, hostile_flood_bounded);
	tcase_add_test(hostile, hostile_huge_length);
	tcase_add_test(hostile, hostile_garbage);
	suite_add_tcase(s, hostile);
	return tu_run_suite(s);
}
