// SPDX-License-Identifier: MIT
/* libFuzzer target: a hostile guest's bytes through the agent client, whole and in chunks. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/proto.h"
#include "common/buf.h"
#include "common/err.h"
#include "fuzz/fuzz.h"

/*
 * Input: byte 0 flags, bytes 1..8 chunk sizes (each 1..256, in turn), the
 * rest the stream. With AGT_F_FRAMES the rest is a list of frames to build
 * (type, id, payload length as 2 bytes little-endian, payload), each given
 * a good magic and CRC, so that the fuzzer reaches the fields and the
 * request logic behind the framing. Requests of every kind are made first
 * (ids 1 to 7). The stream is fed once whole and once in chunks: the
 * events, as text, and the error must be the same. Memory stays under the
 * client's bound; any error is one line.
 */
#define AGT_HDR 9
#define AGT_F_FRAMES 1
#define AGT_F_BYTEWISE 2
#define AGT_F_REENTER 4 /* the callback makes a new request at each ending event */
#define AGT_LOG_MAX (64u << 10)
#define AGT_MEM_BOUND (2u * AGENT_WIRE_MAX + AGENT_CLIENT_OUTPUT_MAX + (64u << 10))

struct agt_run {
	struct agent_client *c;
	struct buf log;
	unsigned flags;
	int reentered;
};

static int agt_event(void *ctx, const struct agent_event *ev)
{
	struct agt_run *r = ctx;
	size_t n = ev->data.len < 16 ? ev->data.len : 16;

	buf_addf(&r->log, "%d %u %d %zu:", ev->type, ev->id, ev->kind, ev->data.len);
	for (size_t i = 0; i < n; i++)
		buf_addf(&r->log, "%02x", (unsigned char)ev->data.ptr[i]);
	if (ev->exit)
		buf_addf(&r->log, " exit %d %d %d %d %llu %llu", ev->exit->exit_code,
			 ev->exit->signal, ev->exit->timed_out, ev->exit->killed,
			 (unsigned long long)ev->exit->dropped_stdout,
			 (unsigned long long)ev->exit->dropped_stderr);
	if (ev->file)
		buf_addf(&r->log, " file %llu", (unsigned long long)ev->file->size);
	if (ev->message) {
		for (const char *p = ev->message; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				fuzz_fail();
		buf_addf(&r->log, " error %d %s", ev->error, ev->message);
	}
	if (ev->hello)
		buf_addf(&r->log, " hello %s|%s|%s", ev->hello->agent, ev->hello->uname,
			 ev->hello->transport);
	buf_addch(&r->log, '\n');
	if ((r->flags & AGT_F_REENTER) && ev->type >= AGENT_EV_EXIT && r->reentered < 8) {
		struct agent_exec_opts o = {"true", 0, 4, 4, BLOB_NULL};

		r->reentered++;
		agent_client_exec(r->c, &o, 0, NULL, NULL);
	}
	return 0;
}

static void agt_setup(struct agt_run *r, unsigned flags)
{
	struct agent_exec_opts o = {"cmd", 1000, 10, 10, BLOB_NULL};
	struct agent_exec_opts big = {"cmd", 0, 0, 0, {5, "input"}};
	uint32_t wr = 0;

	memset(r, 0, sizeof(*r));
	r->flags = flags;
	buf_init(&r->log, AGT_LOG_MAX);
	if (agent_client_new(&r->c, agt_event, r) < 0)
		fuzz_fail();
	agent_client_exec(r->c, &o, 0, NULL, NULL);		     /* 1 */
	agent_client_exec(r->c, &big, 0, NULL, NULL);		     /* 2 */
	agent_client_read_file(r->c, "/f", 100, 0, NULL, NULL);	     /* 3 */
	agent_client_write_begin(r->c, "/w", 0644, 3, 0, &wr, NULL); /* 4 */
	agent_client_write_data(r->c, wr, "abc", 3, NULL);
	agent_client_write_end(r->c, wr, NULL, NULL);
	agent_client_ping(r->c, blob_str("p"), 0, NULL, NULL); /* 5 */
	agent_client_kill(r->c, 1, 0, NULL, NULL);	       /* 6 */
	agent_client_read_file(r->c, "/g", 0, 0, NULL, NULL);  /* 7 */
}

/* Feed in chunks (sizes from the header, or 1), or whole when sizes is NULL. */
static int agt_feed(struct agt_run *r, const uint8_t *p, size_t n, const uint8_t *sizes,
		    struct it_error *err)
{
	size_t i = 0;
	int ret = 0;

	while (n && ret == 0) {
		size_t k = n;

		if (sizes) {
			k = (r->flags & AGT_F_BYTEWISE) ? 1 : (size_t)sizes[i++ % 8] + 1;
			if (k > n)
				k = n;
		}
		ret = agent_client_feed(r->c, p, k, 1, err);
		if (agent_client_mem_size(r->c) > AGT_MEM_BOUND)
			fuzz_fail();
		/* Drain as a caller would, so the output queue never limits the test. */
		agent_client_output_consume(r->c, agent_client_output(r->c).len);
		p += k;
		n -= k;
	}
	fuzz_check_error(err, ret);
	return ret;
}

/* Frames from the input's list, with good magic and CRC. */
static void agt_build(const uint8_t *p, size_t n, struct buf *out)
{
	static uint8_t frame[AGENT_WIRE_MAX];

	while (n >= 4) {
		size_t len = (size_t)p[2] | (size_t)p[3] << 8;
		struct agent_fw w;
		size_t total;

		if (len > n - 4)
			len = n - 4;
		agent_fw_begin(&w, frame, sizeof(frame), p[0], p[1]);
		memcpy(frame + AGENT_HDR_SIZE, p + 4, len);
		w.len += len;
		total = agent_fw_end(&w);
		buf_add(out, frame, total);
		p += 4 + len;
		n -= 4 + len;
	}
}

static void agt_release(struct agt_run *r)
{
	agent_client_free(r->c);
	buf_release(&r->log);
}

FUZZ_ONE(agent)
{
	struct it_error e1 = IT_ERROR_INIT, e2 = IT_ERROR_INIT;
	struct agt_run a, b;
	struct buf stream;
	unsigned flags;
	int r1, r2;

	if (size < AGT_HDR)
		return 0;
	flags = data[0];
	buf_init(&stream, 0);
	if (flags & AGT_F_FRAMES)
		agt_build(data + AGT_HDR, size - AGT_HDR, &stream);
	else
		buf_add(&stream, data + AGT_HDR, size - AGT_HDR);
	agt_setup(&a, flags);
	agt_setup(&b, flags);
	r1 = agt_feed(&a, (const uint8_t *)stream.data, stream.len, NULL, &e1);
	r2 = agt_feed(&b, (const uint8_t *)stream.data, stream.len, data + 1, &e2);
	if (r1 != r2 || strcmp(e1.msg, e2.msg) != 0 || strcmp(a.log.data, b.log.data) != 0 ||
	    agent_client_broken(a.c) != agent_client_broken(b.c) ||
	    agent_client_inflight(a.c) != agent_client_inflight(b.c))
		fuzz_fail();
	agent_client_eof(a.c, 2);
	if (agent_client_inflight(a.c) != 0)
		fuzz_fail();
	agt_release(&a);
	agt_release(&b);
	buf_release(&stream);
	return 0;
}
