// SPDX-License-Identifier: MIT
/* libFuzzer target: console bytes through the expect engine and the console log, in input-chosen
 * chunks. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "expect/expect.h"
#include "fuzz/fuzz.h"

/*
 * Input: byte 0 holds flags, bytes 1..8 chunk sizes (each 1..256, used in
 * turn), the rest is the console. The same console is fed once whole and
 * once in chunks; without fail patterns (whose race with a step on one line
 * legitimately depends on when the line is seen whole) both runs must end
 * the same way, step by step, with the same bytes written back. The console
 * log must not depend on the chunks either.
 */
#define EXP_HDR 9
#define EXP_F_NO_FAILS 1 /* drop the fail patterns, built-in ones too */
#define EXP_F_TIMED 2	 /* a third run with time passing and timeouts on */
#define EXP_F_BYTEWISE 4 /* chunk size 1 throughout */

/* What an engine may hold whatever the console: lines are capped, so is the output queue. */
#define EXP_MEM_BOUND (8u << 20)

struct exp_step {
	bool send;
	const char *name, *text;
	bool literal;
};

static const struct exp_step exp_steps[] = {
    {false, "openrc", "OpenRC [0-9.]+ is starting up", false},
    {false, "mdev", "Scanning hardware for mdev \\.\\.\\. \\[ ok \\]", false},
    {false, "lease", "lease of (?<ip>[0-9.]+) obtained", false},
    {false, "login", "login: ", true},
    {true, "user", "root\n", false},
    {false, "shell", "~# ", true},
    {true, "cmd", "ping -c1 ${ip}\n", false},
    {false, "addr", "inet ${ip}/(\\d+)", false},
    {true, "echo", "echo ${1} $${x}\n", false},
    {false, "ok", "(?i)^ok$", false},
};

static const char *const exp_fails[] = {"segfault at [0-9a-f]+", "BUG: ", "\\bpanic\\b"};

struct exp_run {
	struct expect *e;
	struct buf out; /* everything the engine wanted written */
};

static void exp_run_init(struct exp_run *r, unsigned flags)
{
	struct it_error err = IT_ERROR_INIT;
	char where[32];

	r->e = NULL;
	buf_init(&r->out, 64u << 20);
	if (expect_new(&r->e) < 0)
		fuzz_fail();
	if (flags & EXP_F_NO_FAILS) {
		expect_clear_fails(r->e);
	} else {
		for (size_t i = 0; i < sizeof(exp_fails) / sizeof(exp_fails[0]); i++)
			if (expect_add_fail(r->e, exp_fails[i], i == 1, "fuzz:fail", &err) < 0)
				fuzz_fail();
	}
	for (size_t i = 0; i < sizeof(exp_steps) / sizeof(exp_steps[0]); i++) {
		const struct exp_step *s = &exp_steps[i];
		int rc;

		snprintf(where, sizeof(where), "fuzz:%zu", i + 1);
		if (s->send)
			rc = expect_add_send(r->e, s->name, s->text, where, &err);
		else
			rc = expect_add_expect(r->e, s->name, s->text, s->literal,
					       (flags & EXP_F_TIMED) ? 5000 : 0, where, &err);
		if (rc < 0)
			fuzz_fail();
	}
	if (flags & EXP_F_TIMED)
		expect_set_run_timeout(r->e, 60000);
	else
		expect_disable_timeouts(r->e);
}

static void exp_drain(struct exp_run *r)
{
	struct blob o = expect_output(r->e);

	if (o.len > EXPECT_OUTPUT_MAX)
		fuzz_fail();
	if (buf_add(&r->out, o.ptr, o.len) < 0)
		fuzz_fail();
	expect_output_consume(r->e, o.len);
}

static void exp_feed(struct exp_run *r, const uint8_t *p, size_t n, int64_t now)
{
	int st = expect_feed(r->e, (const char *)p, n, now);

	if (st < 0 && st != -ENOMEM)
		fuzz_fail();
	exp_drain(r);
	if (expect_mem_size(r->e) > EXP_MEM_BOUND)
		fuzz_fail();
}

static void exp_finish(struct exp_run *r, int64_t now)
{
	struct it_error err = IT_ERROR_INIT;
	const struct expect_outcome *o;
	int rc;

	expect_eof(r->e, now);
	exp_drain(r);
	o = expect_outcome(r->e);
	if (o->state == EXPECT_RUNNING || !o->fail_pattern || !o->fail_where || !o->line)
		fuzz_fail();
	rc = expect_explain(r->e, &err);
	if ((rc == 0) != (o->state == EXPECT_PASSED))
		fuzz_fail();
	if (rc < 0 && (err.msg[0] == '\0' || strchr(err.msg, '\n')))
		fuzz_fail();
	for (size_t i = 0; i < expect_nsteps(r->e); i++) {
		const struct expect_step_result *s = expect_step(r->e, i);

		if (!s || !s->name || !s->where || !s->pattern)
			fuzz_fail();
		if (s->line && strlen(s->line) > 1024 + 16)
			fuzz_fail();
	}
}

static void exp_run_release(struct exp_run *r)
{
	expect_free(r->e);
	buf_release(&r->out);
}

static size_t exp_chunk_at(const uint8_t *hdr, unsigned flags, size_t i)
{
	if (flags & EXP_F_BYTEWISE)
		return 1;
	return (size_t)hdr[1 + i % 8] + 1;
}

/*
 * Drop the cursor-position answers from what was written: where one lands
 * among the sends legitimately depends on the reads (a prompt and its request
 * in one read get the answer first, split they get the send first; busybox
 * takes both), so only the sends are compared, and the answers by count.
 */
static void exp_strip_dsr(struct buf *b)
{
	static const char dsr[] = EXPECT_DSR_REPLY;
	size_t n = sizeof(dsr) - 1, w = 0;

	if (b->len == 0)
		return; /* data may be the shared empty string */
	for (size_t r = 0; r < b->len;) {
		if (b->len - r >= n && memcmp(b->data + r, dsr, n) == 0) {
			r += n;
			continue;
		}
		b->data[w++] = b->data[r++];
	}
	b->len = w;
	b->data[w] = '\0';
}

static void exp_same_end(struct exp_run *a, struct exp_run *b)
{
	const struct expect_outcome *oa = expect_outcome(a->e), *ob = expect_outcome(b->e);
	struct expect_stats sa, sb;

	if (oa->state != ob->state || oa->why != ob->why || oa->step != ob->step)
		fuzz_fail();
	for (size_t i = 0; i < expect_nsteps(a->e); i++)
		if (expect_step(a->e, i)->status != expect_step(b->e, i)->status)
			fuzz_fail();
	exp_strip_dsr(&a->out);
	exp_strip_dsr(&b->out);
	if (a->out.len != b->out.len || memcmp(a->out.data, b->out.data, a->out.len) != 0)
		fuzz_fail();
	expect_get_stats(a->e, &sa);
	expect_get_stats(b->e, &sb);
	if (sa.bytes_in != sb.bytes_in || sa.dsr_answered != sb.dsr_answered ||
	    sa.lines != sb.lines)
		fuzz_fail();
}

/* The cleaned log, whole and in chunks, at one fixed time: the same text. */
static void exp_conlog_check(const uint8_t *hdr, unsigned flags, const uint8_t *con, size_t n)
{
	struct conlog *whole = NULL, *cut = NULL;
	struct buf a, b;

	buf_init(&a, 64u << 20);
	buf_init(&b, 64u << 20);
	if (conlog_new(&whole) < 0 || conlog_new(&cut) < 0)
		fuzz_fail();
	conlog_start(whole, 0);
	conlog_start(cut, 0);
	conlog_feed(whole, (const char *)con, n, 0, &a);
	conlog_finish(whole, &a);
	for (size_t off = 0, i = 0; off < n; i++) {
		size_t k = exp_chunk_at(hdr, flags, i);

		if (k > n - off)
			k = n - off;
		conlog_feed(cut, (const char *)con + off, k, 0, &b);
		off += k;
	}
	conlog_finish(cut, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		fuzz_fail();
	conlog_free(whole);
	conlog_free(cut);
	buf_release(&a);
	buf_release(&b);
}

FUZZ_ONE(expect)
{
	struct exp_run whole, cut;
	const uint8_t *con;
	unsigned flags;
	size_t n;

	if (size < EXP_HDR)
		return 0;
	flags = data[0];
	con = data + EXP_HDR;
	n = size - EXP_HDR;

	exp_run_init(&whole, flags & ~(unsigned)EXP_F_TIMED);
	exp_feed(&whole, con, n, 0);
	exp_finish(&whole, 0);

	exp_run_init(&cut, flags & ~(unsigned)EXP_F_TIMED);
	for (size_t off = 0, i = 0; off < n; i++) {
		size_t k = exp_chunk_at(data, flags, i);

		if (k > n - off)
			k = n - off;
		exp_feed(&cut, con + off, k, 0);
		off += k;
	}
	exp_finish(&cut, 0);
	if (flags & EXP_F_NO_FAILS)
		exp_same_end(&whole, &cut);
	exp_run_release(&whole);
	exp_run_release(&cut);

	if (flags & EXP_F_TIMED) {
		struct exp_run t;
		int64_t now = 1000;

		exp_run_init(&t, flags);
		expect_start(t.e, now);
		for (size_t off = 0, i = 0; off < n; i++) {
			size_t k = exp_chunk_at(data, flags, i);
			int64_t dl = expect_deadline(t.e);

			if (k > n - off)
				k = n - off;
			/* Each chunk comes a while later; some land past the step's deadline. */
			now += 100 * (int64_t)(data[1 + i % 8] & 0x3f);
			if (dl >= 0 && dl < now && expect_state(t.e) == EXPECT_RUNNING) {
				if (expect_tick(t.e, now) == EXPECT_RUNNING)
					fuzz_fail();
			}
			exp_feed(&t, con + off, k, now);
			off += k;
		}
		exp_finish(&t, now);
		exp_run_release(&t);
	}
	exp_conlog_check(data, flags, con, n);
	return 0;
}
