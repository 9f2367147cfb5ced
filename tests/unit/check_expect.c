// SPDX-License-Identifier: MIT
/* Unit tests for expect/: cleaning, streaming, timeouts, fail patterns, captures, replay. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <check.h>
#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/buf.h"
#include "common/err.h"
#include "expect/expect.h"
#include "expect/lit.h"
#include "expect/vt.h"
#include "tests/unit/testutil.h"

#define RAW_LOG "tests/data/console/alpine-boot.raw"
#define GOLDEN_LOG "tests/data/console/alpine-boot.log"
#define ESC "\033"
#define DSR ESC "[6n"

/* OpenRC 0.52 libeinfo on a colour terminal: ebegin() ends its line, eend() goes up to it. */
#define OPENRC_MDEV                                                                                \
	" " ESC "[1m" ESC "[32m*" ESC "[m Starting busybox mdev" ESC "[K ...\r\n" ESC "[A" ESC     \
	"[73C " ESC "[1m" ESC "[34m[" ESC "[1m" ESC "[32m ok " ESC "[1m" ESC "[34m]" ESC "[m\r\n"

/* ---- helpers ------------------------------------------------------------------------------ */

static struct expect *mk(void)
{
	struct expect *e = NULL;

	ck_assert_int_eq(expect_new(&e), 0);
	ck_assert_ptr_nonnull(e);
	return e;
}

static void add_x(struct expect *e, const char *name, const char *pattern, bool literal,
		  int64_t timeout_ms)
{
	struct it_error err = IT_ERROR_INIT;
	int r = expect_add_expect(e, name, pattern, literal, timeout_ms, "test.scn:1", &err);

	ck_assert_msg(r == 0, "add '%s': %s", pattern, err.msg);
}

static void add_s(struct expect *e, const char *name, const char *text)
{
	struct it_error err = IT_ERROR_INIT;
	int r = expect_add_send(e, name, text, "test.scn:2", &err);

	ck_assert_msg(r == 0, "send '%s': %s", text, err.msg);
}

static int feed_str(struct expect *e, const char *s, int64_t now)
{
	return expect_feed(e, s, strlen(s), now);
}

/* What the log writer makes of in (n bytes, all read at now), into out (initialized here). */
static void conlog_all(const char *in, size_t n, int64_t now, struct buf *out)
{
	struct conlog *l = NULL;

	buf_init(out, 0);
	ck_assert_int_eq(conlog_new(&l), 0);
	conlog_start(l, 0);
	ck_assert_int_eq(conlog_feed(l, in, n, now, out), 0);
	ck_assert_int_eq(conlog_finish(l, out), 0);
	conlog_free(l);
}

/* After expect_explain(): its code, message and (unless NULL) hint. */
static void check_explain(struct expect *e, int code, const char *msg, const char *hint)
{
	struct it_error err = IT_ERROR_INIT;

	ck_assert_int_eq(expect_explain(e, &err), code);
	ck_assert_str_eq(err.msg, msg);
	if (hint)
		ck_assert_str_eq(err.hint, hint);
}

/* The output without cursor-position answers, and how many answers were in it. */
static char *output_text(struct expect *e, int *ndsr)
{
	struct blob o = expect_output(e);
	size_t rl = strlen(EXPECT_DSR_REPLY);
	char *s = malloc(o.len + 1);
	size_t n = 0;

	ck_assert_ptr_nonnull(s);
	*ndsr = 0;
	for (size_t i = 0; i < o.len;) {
		if (o.len - i >= rl && memcmp(o.ptr + i, EXPECT_DSR_REPLY, rl) == 0) {
			(*ndsr)++;
			i += rl;
			continue;
		}
		s[n++] = o.ptr[i++];
	}
	s[n] = '\0';
	return s;
}

/* The scenario the boot log is checked against: banner to power-off. */
static void boot_script(struct expect *e, int64_t login_timeout)
{
	add_x(e, "banner", "OpenRC [0-9.]+ is starting up", false, 0);
	add_x(e, "mdev", "Starting busybox mdev \\.\\.\\. \\[ ok \\]", false, 0);
	add_x(e, "nic", "eth0: \\(PCI:33MHz:32-bit\\) (?<mac>[0-9a-f:]{17})", false, 0);
	add_x(e, "dhcp", "lease of (?<ip>\\S+) obtained", false, 0);
	add_x(e, "login", "localhost login: ", true, login_timeout);
	add_s(e, "user", "root\n");
	add_x(e, "shell", "localhost:~# ", true, 0);
	add_s(e, "cmd", "ip -4 addr show eth0\n");
	add_x(e, "addr", "inet ${ip}/24", false, 0);
	add_x(e, "prompt", "localhost:~# ", true, 0);
	add_s(e, "off", "poweroff\n");
	add_x(e, "down", "reboot: Power down", false, 0);
}

#define BOOT_SENT "root\nip -4 addr show eth0\npoweroff\n"

/* The boot script typed BOOT_SENT and answered two cursor-position requests; label says where. */
static void check_boot_sent(struct expect *e, const char *label)
{
	int ndsr;
	char *sent = output_text(e, &ndsr);

	ck_assert_msg(strcmp(sent, BOOT_SENT) == 0, "%s: sent '%s'", label, sent);
	ck_assert_msg(ndsr == 2, "%s: %d cursor-position answers", label, ndsr);
	free(sent);
}

static void check_boot_passed(struct expect *e)
{
	const struct expect_outcome *oc = expect_outcome(e);

	ck_assert_msg(oc->state == EXPECT_PASSED, "state %d why %d at step %zu", oc->state, oc->why,
		      oc->step);
	ck_assert_uint_eq(expect_nsteps(e), 12);
	for (size_t i = 0; i < expect_nsteps(e); i++)
		ck_assert_int_eq(expect_step(e, i)->status, EXPECT_STEP_PASSED);
	ck_assert_str_eq(expect_step(e, 1)->line, "* Starting busybox mdev ... [ ok ]");
	ck_assert_str_eq(expect_capture(e, "ip"), "10.0.2.15");
	ck_assert_str_eq(expect_capture(e, "mac"), "52:54:00:12:34:56");
	ck_assert_str_eq(expect_step(e, 8)->line, "inet 10.0.2.15/24 scope global eth0");
	ck_assert_str_eq(expect_step(e, 9)->line, "localhost:~# poweroff");
}

/* ---- cleaning ----------------------------------------------------------------------------- */

START_TEST(test_openrc_colour_ok)
{
	struct expect *e = mk();
	struct buf out;

	add_x(e, "ok", "\\[ ok \\]", false, 0);
	ck_assert_int_eq(feed_str(e, OPENRC_MDEV, 0), EXPECT_PASSED);
	ck_assert_str_eq(expect_step(e, 0)->line, "* Starting busybox mdev ... [ ok ]");
	expect_free(e);

	/* The same line as the log writer keeps it. */
	conlog_all(OPENRC_MDEV, strlen(OPENRC_MDEV), 1234, &out);
	ck_assert_str_eq(out.data, "[   1.234]  * Starting busybox mdev ... [ ok ]\n");
	buf_release(&out);
}
END_TEST

START_TEST(test_escapes_removed)
{
	static const char *const cases[][2] = {
	    {ESC "c" ESC "[?7l" ESC "[2J" ESC "[0mSeaBIOS\r\n", "SeaBIOS"},
	    {ESC "(B" ESC ")0" ESC "#8ab" ESC "7c" ESC "8\r\n", "abc"},
	    {ESC "]0;title\ax" ESC "]2;t2" ESC "\\y\n", "xy"},
	    {ESC "P1$r0m" ESC "\\d\0e\r\n", "de"},
	    {"a" ESC "[1;31;4" ESC "[mb\x7f\b\n", "ab"},
	    {"tab\there\n", "tab\there"},
	    {"caf\xc3\xa9 " ESC "[32mok\n", "caf\xc3\xa9 ok"},
	    /* a stray OSC that never ends does not swallow the next line */
	    {ESC "]junk without end\n", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out;
		const char *in = cases[i][0];
		size_t n = strlen(in);
		char want[128];

		if (i == 3)
			n = 14; /* contains a NUL */
		conlog_all(in, n, 0, &out);
		snprintf(want, sizeof(want), "[   0.000]%s%s\n", cases[i][1][0] ? " " : "",
			 cases[i][1]);
		ck_assert_msg(strcmp(out.data, want) == 0, "case %zu: got '%s'", i, out.data);
		buf_release(&out);
	}
}
END_TEST

START_TEST(test_cursor_up_joins_only_after_newline)
{
	struct buf out;
	const char *in = "foo\n" ESC "[Abar\nxx" ESC "[Ayy\n" ESC "[3Azz\n";

	conlog_all(in, strlen(in), 5, &out);
	ck_assert_str_eq(out.data, "[   0.005] foobar\n[   0.005] xxyy\n[   0.005] zz\n");
	buf_release(&out);
}
END_TEST

/* ---- the boot log, streamed every way ------------------------------------------------------ */

START_TEST(test_boot_log_every_split)
{
	struct buf raw;

	tu_read_new(&raw, RAW_LOG);
	for (size_t k = 0; k <= raw.len; k++) {
		struct expect *e = mk();
		char label[32];

		boot_script(e, 0);
		ck_assert_int_ge(expect_feed(e, raw.data, k, 10), 0);
		ck_assert_int_ge(expect_feed(e, raw.data + k, raw.len - k, 20), 0);
		check_boot_passed(e);
		snprintf(label, sizeof(label), "split at %zu", k);
		check_boot_sent(e, label);
		expect_free(e);
	}
	buf_release(&raw);
}
END_TEST

START_TEST(test_boot_log_byte_by_byte)
{
	struct expect *e = mk();
	struct expect_stats st;
	struct buf raw;

	tu_read_new(&raw, RAW_LOG);
	boot_script(e, 0);
	for (size_t i = 0; i < raw.len; i++)
		ck_assert_int_ge(expect_feed(e, raw.data + i, 1, (int64_t)i), 0);
	check_boot_passed(e);
	check_boot_sent(e, "byte by byte");
	expect_get_stats(e, &st);
	ck_assert_uint_eq(st.bytes_in, raw.len);
	ck_assert_uint_eq(st.dsr_answered, 2);
	ck_assert_uint_eq(st.bytes_out, strlen(BOOT_SENT) + 2 * strlen(EXPECT_DSR_REPLY));
	expect_free(e);
	buf_release(&raw);
}
END_TEST

START_TEST(test_boot_log_random_chunks)
{
	struct buf raw;
	uint32_t seed = 12345;

	tu_read_new(&raw, RAW_LOG);
	for (int round = 0; round < 200; round++) {
		struct expect *e = mk();
		size_t i = 0;

		boot_script(e, 0);
		while (i < raw.len) {
			size_t n;

			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 97;
			if (n > raw.len - i)
				n = raw.len - i;
			ck_assert_int_ge(expect_feed(e, raw.data + i, n, (int64_t)i), 0);
			i += n;
		}
		check_boot_passed(e);
		expect_free(e);
	}
	buf_release(&raw);
}
END_TEST

START_TEST(test_prompt_without_newline)
{
	struct expect *e = mk();
	struct buf raw;
	const char *login;
	struct blob o;

	tu_read_new(&raw, RAW_LOG);
	boot_script(e, 0);
	login = strstr(raw.data, "localhost login: ");
	ck_assert_ptr_nonnull(login);
	/* Everything up to and including the prompt, which no newline follows yet. */
	ck_assert_int_eq(expect_feed(e, raw.data, (size_t)(login - raw.data) + 17, 100),
			 EXPECT_RUNNING);
	ck_assert_int_eq(expect_step(e, 4)->status, EXPECT_STEP_PASSED);
	ck_assert_int_eq(expect_step(e, 5)->status, EXPECT_STEP_PASSED);
	ck_assert_int_eq(expect_step(e, 6)->status, EXPECT_STEP_PENDING);
	o = expect_output(e);
	ck_assert(blob_eq_str(o, "root\n"));
	/* One byte short of the prompt is not enough. */
	expect_free(e);
	e = mk();
	boot_script(e, 0);
	ck_assert_int_eq(expect_feed(e, raw.data, (size_t)(login - raw.data) + 16, 100),
			 EXPECT_RUNNING);
	ck_assert_int_eq(expect_step(e, 4)->status, EXPECT_STEP_PENDING);
	ck_assert_uint_eq(expect_output(e).len, 0);
	expect_free(e);
	buf_release(&raw);
}
END_TEST

START_TEST(test_unfinished_line_waits_for_more)
{
	static const char *const waits[] = {"login: $", "login:\\s*", "login: \\S*"};

	/* On an unfinished line, a match that more text could change is not taken yet. */
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		struct expect *e = mk();

		add_x(e, "login", waits[i], false, 0);
		ck_assert_int_eq(feed_str(e, "localhost login", 0), EXPECT_RUNNING);
		ck_assert_int_eq(feed_str(e, ": ", 0), EXPECT_RUNNING);
		ck_assert_int_eq(feed_str(e, "\r\n", 0), EXPECT_PASSED);
		expect_free(e);
	}
}
END_TEST

START_TEST(test_dsr_split_and_answered_once)
{
	static const char *const parts[] = {"localhost:~# ", ESC, "[", "6", "n"};
	struct expect *e = mk();
	int ndsr;
	char *sent;

	add_x(e, "never", "no such text", true, 0);
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(feed_str(e, parts[i], 0), EXPECT_RUNNING);
	sent = output_text(e, &ndsr);
	ck_assert_int_eq(ndsr, 1);
	ck_assert_str_eq(sent, "");
	ck_assert(blob_eq_str(expect_output(e), "\033[1;1R"));
	free(sent);
	/* Other CSI n requests are not cursor-position requests. */
	expect_output_consume(e, 6);
	ck_assert_int_eq(feed_str(e, ESC "[5n" ESC "[16n" ESC "[?6n" ESC "[6 n", 0),
			 EXPECT_RUNNING);
	ck_assert_uint_eq(expect_output(e).len, 0);
	expect_free(e);
}
END_TEST

START_TEST(test_dsr_reply_before_send_in_one_read)
{
	struct expect *e = mk();

	add_x(e, "shell", "localhost:~# ", true, 0);
	add_s(e, "cmd", "uname -r\n");
	ck_assert_int_eq(feed_str(e, "localhost:~# " DSR, 0), EXPECT_PASSED);
	/* The prompt and its request came in one read: busybox gets its answer first. */
	ck_assert(blob_eq_str(expect_output(e), "\033[1;1Runame -r\n"));
	/* Requests are still answered after the run has ended. */
	ck_assert_int_eq(feed_str(e, "Linux\r\nlocalhost:~# " DSR, 1), EXPECT_PASSED);
	ck_assert(blob_eq_str(expect_output(e), "\033[1;1Runame -r\n\033[1;1R"));
	expect_free(e);
}
END_TEST

/* ---- ordering ------------------------------------------------------------------------------ */

/* Steps matching p1 then p2: 'first' passes the first step only, 'then' the second. */
static void check_second_waits(const char *p1, const char *p2, const char *first, const char *then)
{
	struct expect *e = mk();

	add_x(e, "first", p1, true, 0);
	add_x(e, "second", p2, true, 0);
	ck_assert_msg(feed_str(e, first, 0) == EXPECT_RUNNING, "'%s' passed all", first);
	ck_assert_int_eq(expect_step(e, 0)->status, EXPECT_STEP_PASSED);
	ck_assert_msg(expect_step(e, 1)->status == EXPECT_STEP_PENDING, "'%s' passed step '%s' too",
		      first, p2);
	ck_assert_msg(feed_str(e, then, 0) == EXPECT_PASSED, "'%s' did not pass '%s'", then, p2);
	expect_free(e);
}

START_TEST(test_no_text_matched_twice)
{
	struct expect *e;

	check_second_waits("login:", "login:", "localhost login: \n", "localhost login: ");
	/* Two steps on one line: the second sees only what follows the first match. */
	check_second_waits("b", "a", "a b\n", "b a\n");

	e = mk();
	add_x(e, "x1", "x", true, 0);
	add_x(e, "x2", "x", true, 0);
	add_x(e, "x3", "x", true, 0);
	ck_assert_int_eq(feed_str(e, "x-x", 0), EXPECT_RUNNING);
	ck_assert_int_eq(feed_str(e, "-x", 0), EXPECT_PASSED);
	expect_free(e);
}
END_TEST

START_TEST(test_send_ordering)
{
	struct expect *e = mk();

	add_s(e, "a", "first\n");
	add_s(e, "b", "second\n");
	add_x(e, "x", "ready", true, 0);
	add_s(e, "c", "third\n");
	add_s(e, "d", "fourth\n");
	add_x(e, "y", "done", true, 0);
	ck_assert_int_eq(expect_start(e, 50), 0);
	ck_assert(blob_eq_str(expect_output(e), "first\nsecond\n"));
	ck_assert_int_eq(expect_step(e, 1)->status, EXPECT_STEP_PASSED);
	ck_assert_int_eq(expect_step(e, 1)->at_ms, 0);
	ck_assert_int_eq(expect_step(e, 3)->status, EXPECT_STEP_PENDING);
	expect_output_consume(e, 3);
	ck_assert(blob_eq_str(expect_output(e), "st\nsecond\n"));
	ck_assert_int_eq(feed_str(e, "done ready\n", 80), EXPECT_RUNNING);
	ck_assert(blob_eq_str(expect_output(e), "st\nsecond\nthird\nfourth\n"));
	ck_assert_int_eq(expect_step(e, 3)->at_ms, 30);
	ck_assert_int_eq(feed_str(e, "done", 90), EXPECT_PASSED);
	ck_assert_uint_eq(expect_outcome(e)->step, 6);
	expect_free(e);

	/* Only sends: passed at the start. No steps at all: passed too. */
	e = mk();
	add_s(e, "a", "x");
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_state(e), EXPECT_PASSED);
	expect_free(e);
	e = mk();
	ck_assert_int_eq(feed_str(e, "anything", 0), EXPECT_PASSED);
	expect_free(e);
}
END_TEST

START_TEST(test_output_queue_full)
{
	struct expect *e = mk();
	struct it_error err = IT_ERROR_INIT;
	char *big = malloc(EXPECT_OUTPUT_MAX + 2);

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', EXPECT_OUTPUT_MAX + 1);
	big[EXPECT_OUTPUT_MAX + 1] = '\0';
	add_x(e, "p", "# ", true, 0);
	add_s(e, "huge", big);
	ck_assert_int_eq(feed_str(e, "# ", 0), EXPECT_FAILED);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_OUTPUT_FULL);
	ck_assert_int_eq(expect_step(e, 1)->status, EXPECT_STEP_FAILED);
	ck_assert_int_eq(expect_explain(e, &err), -IT_EFAIL);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot queue step 'huge'"));
	free(big);
	expect_free(e);
}
END_TEST

/* ---- floods -------------------------------------------------------------------------------- */

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Feed 100 MB of 'chunk' repeated, watching the engine's own size. */
static size_t flood(struct expect *e, const char *chunk, size_t n)
{
	size_t total = 100u * 1000 * 1000, fed = 0, most = 0;

	while (fed < total) {
		size_t m;

		ck_assert_int_eq(expect_feed(e, chunk, n, 1), EXPECT_RUNNING);
		fed += n;
		m = expect_mem_size(e);
		if (m > most)
			most = m;
	}
	return most;
}

/* Start e and flood it with chunk: the line buffer doubles its way up to twice the longest line,
 * nothing else grows. */
static void flood_bounded(struct expect *e, const char *chunk, size_t n)
{
	size_t base, most;

	ck_assert_int_eq(expect_start(e, 0), 0);
	base = expect_mem_size(e);
	most = flood(e, chunk, n);
	ck_assert_msg(most <= base + 2 * EXPECT_LINE_MAX + 4096, "grew from %zu to %zu", base,
		      most);
}

START_TEST(test_flood_without_newline)
{
	static char chunk[65536];
	struct expect *e = mk();
	struct expect_stats st;
	long rss0 = maxrss_kib();

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i * 7 % 26);
	add_x(e, "login", "localhost login: ", true, 0);
	add_s(e, "user", "root\n");
	flood_bounded(e, chunk, sizeof(chunk));
	expect_get_stats(e, &st);
	ck_assert_uint_eq(st.bytes_in, 100000000u + 65536 - 100000000u % 65536);
	ck_assert_uint_gt(st.lines_cut, 1000);
	ck_assert_uint_eq(st.lines, 0);
	/* The prompt at the end of the endless line still matches. */
	ck_assert_int_eq(feed_str(e, "localhost log", 2), EXPECT_RUNNING);
	ck_assert_int_eq(feed_str(e, "in: ", 3), EXPECT_PASSED);
	ck_assert(blob_eq_str(expect_output(e), "root\n"));
	ck_assert_str_eq(expect_capture(e, "0"), "localhost login: ");
	ck_assert_msg(maxrss_kib() - rss0 < 16 * 1024, "rss grew by %ld KiB", maxrss_kib() - rss0);
	expect_free(e);
}
END_TEST

START_TEST(test_flood_with_newlines)
{
	static char chunk[65536];
	struct expect *e = mk();
	struct expect_stats st;
	uint32_t seed = 7;

	for (size_t i = 0; i < sizeof(chunk); i++) {
		seed = seed * 1103515245u + 12345u;
		chunk[i] = (seed >> 16) % 61 == 0 ? '\n' : (char)(' ' + (seed >> 16) % 90);
	}
	add_x(e, "lease", "lease of (\\S+) obtained", false, 0);
	add_s(e, "ping", "ping -c 1 ${1}\n");
	flood_bounded(e, chunk, sizeof(chunk));
	expect_get_stats(e, &st);
	ck_assert_uint_gt(st.lines, 1000000);
	ck_assert_int_eq(feed_str(e, "\nudhcpc: lease of 10.0.2.15 obtained from 10.0.2.2\n", 5),
			 EXPECT_PASSED);
	ck_assert(blob_eq_str(expect_output(e), "ping -c 1 10.0.2.15\n"));
	expect_free(e);
}
END_TEST

START_TEST(test_flood_random_bytes)
{
	static char chunk[65536];
	struct expect *e = mk();
	uint32_t seed = 99;
	size_t base;

	for (size_t i = 0; i < sizeof(chunk); i++) {
		seed = seed * 1103515245u + 12345u;
		chunk[i] = (char)(seed >> 16);
	}
	expect_clear_fails(e); /* random bytes are not a kernel's words, but be sure */
	add_x(e, "login", "^localhost login: ", false, 0);
	ck_assert_int_eq(expect_start(e, 0), 0);
	base = expect_mem_size(e);
	for (int i = 0; i < 256; i++) {
		ck_assert_int_eq(expect_feed(e, chunk, sizeof(chunk), 1), EXPECT_RUNNING);
		ck_assert_uint_le(expect_mem_size(e), base + 2 * EXPECT_LINE_MAX + 4096);
	}
	/* Whatever state the junk left the escape parser in, a newline resets it. */
	ck_assert_int_eq(feed_str(e, "\nlocalhost login: ", 2), EXPECT_PASSED);
	expect_free(e);
}
END_TEST

START_TEST(test_match_straddles_cut)
{
	static char chunk[4096];
	struct expect *e = mk();

	memset(chunk, '.', sizeof(chunk));
	add_x(e, "tail", "MARK-[0-9]+-END", false, 0);
	for (int i = 0; i < 15; i++)
		ck_assert_int_eq(expect_feed(e, chunk, sizeof(chunk), 0), EXPECT_RUNNING);
	/* The line reaches its cap in the middle of the match. */
	ck_assert_int_eq(expect_feed(e, chunk, sizeof(chunk) - 4, 0), EXPECT_RUNNING);
	ck_assert_int_eq(feed_str(e, "MARK-1234", 0), EXPECT_RUNNING);
	ck_assert_int_eq(feed_str(e, "5678-END", 0), EXPECT_PASSED);
	ck_assert_str_eq(expect_capture(e, "0"), "MARK-12345678-END");
	expect_free(e);
}
END_TEST

/* ---- timeouts ------------------------------------------------------------------------------ */

START_TEST(test_step_timeout)
{
	struct expect *e = mk();
	const struct expect_outcome *oc;

	add_x(e, "A", "alpha", true, 5000);
	add_x(e, "B", "beta", true, 2000);
	add_x(e, "C", "gamma", true, 0);
	ck_assert_int_eq(expect_deadline(e), -1);
	ck_assert_int_eq(expect_start(e, 1000), 0);
	ck_assert_int_eq(expect_deadline(e), 6000);
	ck_assert_int_eq(feed_str(e, "alpha\nsomething", 3000), EXPECT_RUNNING);
	ck_assert_int_eq(expect_step(e, 0)->at_ms, 2000);
	ck_assert_int_eq(expect_deadline(e), 5000);
	ck_assert_int_eq(expect_tick(e, 4999), EXPECT_RUNNING);
	ck_assert_int_eq(expect_tick(e, 5000), EXPECT_TIMED_OUT);
	oc = expect_outcome(e);
	ck_assert_int_eq(oc->why, EXPECT_WHY_STEP_TIMEOUT);
	ck_assert_uint_eq(oc->step, 1);
	ck_assert_int_eq(oc->at_ms, 4000);
	ck_assert_str_eq(oc->line, "something");
	ck_assert_int_eq(expect_step(e, 0)->status, EXPECT_STEP_PASSED);
	ck_assert_int_eq(expect_step(e, 1)->status, EXPECT_STEP_TIMED_OUT);
	ck_assert_int_eq(expect_step(e, 2)->status, EXPECT_STEP_SKIPPED);
	ck_assert_int_eq(expect_deadline(e), -1);
	check_explain(e, -IT_ETIMEOUT,
		      "step 'B' (test.scn:1) timed out after 2000 ms waiting for 'beta'",
		      "last console line: 'something'");
	/* Nothing matches after the end. */
	ck_assert_int_eq(feed_str(e, "beta gamma\n", 5001), EXPECT_TIMED_OUT);
	ck_assert_int_eq(expect_step(e, 1)->status, EXPECT_STEP_TIMED_OUT);
	expect_free(e);

	/* Bytes read at the deadline come too late. */
	for (int64_t at = 1999; at <= 2000; at++) {
		int want = at < 2000 ? EXPECT_PASSED : EXPECT_TIMED_OUT;

		e = mk();
		add_x(e, "B", "beta", true, 2000);
		ck_assert_int_eq(expect_start(e, 0), 0);
		ck_assert_msg(feed_str(e, "beta\n", at) == want, "read at %lld ms", (long long)at);
		expect_free(e);
	}
}
END_TEST

START_TEST(test_run_timeout)
{
	struct expect *e = mk();

	add_x(e, "boot", "login: ", true, 20000);
	add_x(e, "never", "never", true, 0);
	expect_set_run_timeout(e, 10000);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_deadline(e), 10000);
	ck_assert_int_eq(feed_str(e, "[    9.9] booting\n", 9999), EXPECT_RUNNING);
	ck_assert_int_eq(expect_tick(e, 10000), EXPECT_TIMED_OUT);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_RUN_TIMEOUT);
	ck_assert_uint_eq(expect_outcome(e)->step, 0);
	ck_assert_int_eq(expect_step(e, 0)->status, EXPECT_STEP_TIMED_OUT);
	ck_assert_int_eq(expect_step(e, 1)->status, EXPECT_STEP_SKIPPED);
	check_explain(e, -IT_ETIMEOUT,
		      "run timed out after 10000 ms at step 'boot' (test.scn:1) "
		      "waiting for 'login: '",
		      "last console line: '[    9.9] booting'");
	expect_free(e);

	/* A step deadline before the run's wins, and the other way round. */
	e = mk();
	add_x(e, "a", "a", true, 3000);
	add_x(e, "b", "b", true, 8000);
	expect_set_run_timeout(e, 10000);
	ck_assert_int_eq(expect_start(e, 100), 0);
	ck_assert_int_eq(expect_deadline(e), 3100);
	ck_assert_int_eq(feed_str(e, "a", 3000), EXPECT_RUNNING);
	ck_assert_int_eq(expect_deadline(e), 10100);
	ck_assert_int_eq(expect_tick(e, 20000), EXPECT_TIMED_OUT);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_RUN_TIMEOUT);
	ck_assert_int_eq(expect_outcome(e)->at_ms, 10000);
	expect_free(e);

	/* Timeouts off (an untimed replay). */
	e = mk();
	add_x(e, "a", "a", true, 3000);
	expect_set_run_timeout(e, 10000);
	expect_disable_timeouts(e);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_deadline(e), -1);
	ck_assert_int_eq(expect_tick(e, 1000000), EXPECT_RUNNING);
	expect_free(e);
}
END_TEST

START_TEST(test_eof)
{
	struct expect *e = mk();

	add_x(e, "login", "login: ", true, 0);
	ck_assert_int_eq(feed_str(e, "Booting from ROM..\r\n", 10), EXPECT_RUNNING);
	ck_assert_int_eq(expect_eof(e, 2500), EXPECT_FAILED);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_EOF);
	check_explain(e, -IT_EFAIL,
		      "console closed at 2.490 s before step 'login' (test.scn:1) "
		      "matched 'login: '",
		      "last console line: 'Booting from ROM..'");
	expect_free(e);
}
END_TEST

/* ---- fail patterns -------------------------------------------------------------------------- */

START_TEST(test_fail_panic_at_once)
{
	struct expect *e = mk();
	const struct expect_outcome *oc;

	add_x(e, "login", "login: ", true, 0);
	ck_assert_int_eq(feed_str(e, "[    1.0] Run /init as init process\r\n", 1000),
			 EXPECT_RUNNING);
	/* Fails before the line ends. */
	ck_assert_int_eq(feed_str(e, "[    2.345678] Kernel panic - not", 2345), EXPECT_FAILED);
	oc = expect_outcome(e);
	ck_assert_int_eq(oc->why, EXPECT_WHY_FAIL_PATTERN);
	ck_assert_str_eq(oc->fail_pattern, "Kernel panic");
	ck_assert_str_eq(oc->fail_where, "built-in: kernel panic");
	ck_assert_str_eq(oc->line, "[    2.345678] Kernel panic - not");
	ck_assert_int_eq(expect_step(e, 0)->status, EXPECT_STEP_FAILED);
	/* The rest of the line completes the report. */
	ck_assert_int_eq(feed_str(e,
				  " syncing: VFS: Unable to mount root fs on unknown-block(0,0)"
				  "\r\n[    2.4] CPU: 0 PID: 1\r\n",
				  2346),
			 EXPECT_FAILED);
	ck_assert_str_eq(oc->line,
			 "[    2.345678] Kernel panic - not syncing: VFS: Unable to mount "
			 "root fs on unknown-block(0,0)");
	check_explain(e, -IT_EFAIL,
		      "fail pattern 'Kernel panic' (built-in: kernel panic) matched at "
		      "1.345 s: '[    2.345678] Kernel panic - not syncing: VFS: Unable to "
		      "mount root fs on unknown-block(0,0)'",
		      "step 'login' (test.scn:1) was current");
	expect_free(e);
}
END_TEST

START_TEST(test_fail_builtins)
{
	static const struct {
		const char *in;
		const char *where; /* NULL: must not fail */
	} cases[] = {
	    {"[    3.100400] Oops: 0000 [#1] PREEMPT SMP NOPTI\r\n", "built-in: kernel oops"},
	    {"[    3.1] general protection fault, probably for non-canonical address "
	     "0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI\r\n",
	     "built-in: kernel oops"},
	    {"[    3.1] invalid opcode: 0000 [#1] SMP\r\n", "built-in: kernel oops"},
	    {"[    3.1] Internal error: Oops: 0000000096000004 [#1] PREEMPT SMP\r\n",
	     "built-in: kernel oops"},
	    {"Oops: the file was not found\r\n", NULL},
	    {"can't run '/etc/init.d/rcS': No such file or directory\r\n",
	     "built-in: busybox init has no rcS"},
	    {" " ESC "[1m" ESC "[31m*" ESC "[m ERROR: networking failed to start" ESC "[K\r\n",
	     "built-in: OpenRC error"},
	    {"echo ' * ERROR: not at the start'\r\n", NULL},
	    {" * Starting networking ... [ ok ]\r\n", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expect *e = mk();
		int st;

		add_x(e, "never", "never matches", true, 0);
		st = feed_str(e, cases[i].in, 0);
		if (!cases[i].where) {
			ck_assert_msg(st == EXPECT_RUNNING, "case %zu failed", i);
		} else {
			ck_assert_msg(st == EXPECT_FAILED, "case %zu did not fail", i);
			ck_assert_str_eq(expect_outcome(e)->fail_where, cases[i].where);
		}
		expect_free(e);
	}
}
END_TEST

START_TEST(test_fail_scenario_and_clear)
{
	struct expect *e = mk();
	struct it_error err = IT_ERROR_INIT;

	ck_assert_int_eq(expect_add_fail(e, "segfault at [0-9a-f]+", false, "boot.scn:7", &err), 0);
	add_x(e, "x", "segfault", true, 0);
	/* Fail patterns come first on a line that matches both. */
	ck_assert_int_eq(feed_str(e, "sh[42]: segfault at 0 ip", 10), EXPECT_FAILED);
	ck_assert_str_eq(expect_outcome(e)->fail_where, "boot.scn:7");
	ck_assert_str_eq(expect_outcome(e)->fail_pattern, "segfault at [0-9a-f]+");
	ck_assert_int_eq(expect_step(e, 0)->status, EXPECT_STEP_FAILED);
	expect_free(e);

	/* A scenario that wants a panic drops the defaults. */
	e = mk();
	expect_clear_fails(e);
	add_x(e, "panic", "Kernel panic - not syncing: (.*)", false, 0);
	ck_assert_int_eq(
	    feed_str(e, "[ 1.2] Kernel panic - not syncing: No working init found.\n", 0),
	    EXPECT_PASSED);
	ck_assert_str_eq(expect_capture(e, "1"), "No working init found.");
	expect_free(e);
}
END_TEST

/* ---- captures ------------------------------------------------------------------------------ */

START_TEST(test_capture_to_send)
{
	const char *line =
	    "udhcpc: lease of 10.0.2.15 obtained from 10.0.2.2, lease time 86400\r\n";

	/* The address never comes out short, wherever the read ends. */
	for (size_t k = 0; k <= strlen(line); k++) {
		struct expect *e = mk();

		add_x(e, "lease", "lease of (\\S+)", false, 0);
		add_s(e, "ping", "ping -c 1 ${1}\n");
		ck_assert_int_ge(expect_feed(e, line, k, 0), 0);
		ck_assert_int_eq(expect_feed(e, line + k, strlen(line) - k, 1), EXPECT_PASSED);
		ck_assert(blob_eq_str(expect_output(e), "ping -c 1 10.0.2.15\n"));
		ck_assert_str_eq(expect_capture(e, "1"), "10.0.2.15");
		ck_assert_str_eq(expect_capture(e, "0"), "lease of 10.0.2.15");
		expect_free(e);
	}
}
END_TEST

START_TEST(test_named_capture_in_pattern)
{
	struct expect *e = mk();

	add_x(e, "dhcp", "lease of (?<ip>[0-9.]+) obtained", false, 0);
	add_x(e, "nic", "eth0: \\(PCI:33MHz:32-bit\\) ([0-9a-f:]+)", false, 0);
	add_s(e, "show", "echo ${ip} ${1} $${HOME} $$x\n");
	add_x(e, "addr", "inet ${ip}/(\\d+)", false, 0);
	add_x(e, "lit", "addr ${ip} [ok]", true, 0);
	ck_assert_int_eq(feed_str(e, "udhcpc: lease of 10.0.2.15 obtained\n", 0), EXPECT_RUNNING);
	ck_assert_int_eq(
	    feed_str(e, "e1000 0000:00:03.0 eth0: (PCI:33MHz:32-bit) 52:54:00:12:34:56\n", 0),
	    EXPECT_RUNNING);
	ck_assert(blob_eq_str(expect_output(e), "echo 10.0.2.15 52:54:00:12:34:56 ${HOME} $$x\n"));
	/* The value is a literal: its dots match only dots. */
	ck_assert_int_eq(feed_str(e, "inet 10x0x2x15/24\n", 0), EXPECT_RUNNING);
	ck_assert_int_eq(feed_str(e, "inet 10.0.2.15/24\n", 0), EXPECT_RUNNING);
	ck_assert_str_eq(expect_capture(e, "1"), "24");
	ck_assert_str_eq(expect_capture(e, "ip"), "10.0.2.15");
	ck_assert_int_eq(feed_str(e, "addr 10.0.2.15 [ok]\n", 0), EXPECT_PASSED);
	expect_free(e);
}
END_TEST

START_TEST(test_capture_unset_group)
{
	struct expect *e = mk();

	add_x(e, "opt", "state=(up)?(?<why>[a-z]*)!", false, 0);
	add_s(e, "say", "[${1}|${why}]");
	ck_assert_int_eq(feed_str(e, "state=down!", 0), EXPECT_PASSED);
	ck_assert(blob_eq_str(expect_output(e), "[|down]"));
	ck_assert_ptr_null(expect_capture(e, "1"));
	ck_assert_ptr_null(expect_capture(e, "nosuch"));
	expect_free(e);
}
END_TEST

START_TEST(test_bad_references)
{
	static const struct {
		bool send;
		const char *text;
		const char *msg;
	} cases[] = {
	    {true, "echo ${2}",
	     "ref.scn:9: '${2}' in 'echo ${2}' names no capture group of an "
	     "earlier expect step"},
	    {true, "echo ${HOME}",
	     "ref.scn:9: '${HOME}' in 'echo ${HOME}' names no capture "
	     "group of an earlier expect step"},
	    {false, "x${bad-name}", "ref.scn:9: bad reference '${bad-name}' in 'x${bad-name}'"},
	    {false, "x${open", "ref.scn:9: bad reference '${open' in 'x${open'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expect *e = mk();
		struct it_error err = IT_ERROR_INIT;
		int r;

		add_x(e, "one", "lease of (\\S+)", false, 0);
		if (cases[i].send)
			r = expect_add_send(e, "s", cases[i].text, "ref.scn:9", &err);
		else
			r = expect_add_expect(e, "x", cases[i].text, false, 0, "ref.scn:9", &err);
		ck_assert_int_eq(r, -IT_ESCENARIO);
		ck_assert_str_eq(err.msg, cases[i].msg);
		ck_assert(err.hint[0] != '\0');
		ck_assert_uint_eq(expect_nsteps(e), 1);
		expect_free(e);
	}
}
END_TEST

START_TEST(test_numbered_refs_follow_last_match)
{
	struct expect *e = mk();
	struct it_error err = IT_ERROR_INIT;

	add_x(e, "two", "(a)(b)", false, 0);
	add_x(e, "one", "(c)", false, 0);
	/* ${2} belonged to the step before the last one. */
	ck_assert_int_eq(expect_add_send(e, "s", "${2}", NULL, &err), -IT_ESCENARIO);
	ck_assert_str_eq(err.msg,
			 "'${2}' in '${2}' names no capture group of an earlier expect step");
	add_s(e, "s", "${1}");
	ck_assert_int_eq(feed_str(e, "ab c", 0), EXPECT_PASSED);
	ck_assert(blob_eq_str(expect_output(e), "c"));
	expect_free(e);
}
END_TEST

/* ---- bad patterns -------------------------------------------------------------------------- */

START_TEST(test_bad_regex)
{
	struct expect *e = mk();
	struct it_error err = IT_ERROR_INIT;

	ck_assert_int_eq(expect_add_expect(e, "x", "foo(bar", false, 0, "boot.scn:12", &err),
			 -IT_ESCENARIO);
	ck_assert_str_eq(err.msg, "boot.scn:12: bad pattern 'foo(bar': missing closing parenthesis "
				  "at offset 7");
	ck_assert_uint_eq(expect_nsteps(e), 0);
	it_error_clear(&err);
	ck_assert_int_eq(expect_add_fail(e, "a{2,1}", false, NULL, &err), -IT_ESCENARIO);
	ck_assert_str_eq(err.msg, "bad pattern 'a{2,1}': numbers out of order in {} quantifier at "
				  "offset 5");
	it_error_clear(&err);
	ck_assert_int_eq(expect_add_expect(e, "y", "x${1}(", false, 0, NULL, &err), -IT_ESCENARIO);
	/* The same characters as a literal are fine. */
	add_x(e, "lit", "foo(bar [ ok ] a{2,1} $^.*", true, 0);
	ck_assert_int_eq(feed_str(e, "  foo(bar [ ok ] a{2,1} $^.*  \n", 0), EXPECT_PASSED);
	ck_assert_str_eq(expect_step(e, 0)->line, "foo(bar [ ok ] a{2,1} $^.*");
	expect_free(e);
}
END_TEST

START_TEST(test_bad_pattern_after_substitution)
{
	struct expect *e = mk();

	add_x(e, "state", "state=(?<v>[a-z]*)!", false, 0);
	/* Checked with "(?:)" in place of ${v}, fine; with an empty value it is "*x". */
	add_x(e, "rep", "${v}*x", false, 0);
	ck_assert_int_eq(feed_str(e, "state=!", 0), EXPECT_FAILED);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_BAD_PATTERN);
	ck_assert_uint_eq(expect_outcome(e)->step, 1);
	check_explain(e, -IT_EFAIL,
		      "step 'rep' (test.scn:1): bad pattern '${v}*x' after substitution: "
		      "quantifier does not follow a repeatable item at offset 0",
		      NULL);
	expect_free(e);
}
END_TEST

START_TEST(test_setup_after_start)
{
	struct expect *e = mk();
	struct it_error err = IT_ERROR_INIT;

	add_x(e, "a", "a", true, 0);
	ck_assert_int_eq(expect_explain(e, &err), -IT_EFAIL);
	ck_assert_str_eq(err.msg, "the run has not ended");
	ck_assert_int_eq(expect_start(e, 0), 0);
	it_error_clear(&err);
	ck_assert_int_eq(expect_add_expect(e, "b", "b", true, 0, NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "cannot add step 'b' after the start");
	ck_assert_int_eq(expect_add_send(e, NULL, "x", NULL, NULL), -EINVAL);
	ck_assert_int_eq(expect_add_fail(e, "x", true, NULL, NULL), -EINVAL);
	ck_assert_uint_eq(expect_nsteps(e), 1);
	ck_assert_ptr_null(expect_step(e, 1));
	expect_free(e);
}
END_TEST

/* ---- the log writer and replay --------------------------------------------------------------- */

/* The boot log as conlog writes it: line i of the raw file at 40 * i ms. */
static void write_boot_log(struct buf *out)
{
	struct conlog *l = NULL;
	struct buf raw;
	size_t i = 0;
	int64_t k = 0;

	tu_read_new(&raw, RAW_LOG);
	buf_init(out, 0);
	ck_assert_int_eq(conlog_new(&l), 0);
	conlog_start(l, 1000);
	while (i < raw.len) {
		const char *nl = memchr(raw.data + i, '\n', raw.len - i);
		size_t n = nl ? (size_t)(nl - (raw.data + i)) + 1 : raw.len - i;

		ck_assert_int_eq(conlog_feed(l, raw.data + i, n, 1000 + 40 * k, out), 0);
		i += n;
		k++;
	}
	ck_assert_int_eq(conlog_finish(l, out), 0);
	conlog_free(l);
	buf_release(&raw);
}

START_TEST(test_conlog_golden)
{
	struct buf got, want;

	write_boot_log(&got);
	tu_read_new(&want, GOLDEN_LOG);
	ck_assert_uint_eq(got.len, want.len);
	ck_assert(memcmp(got.data, want.data, got.len) == 0);
	buf_release(&got);
	buf_release(&want);
}
END_TEST

START_TEST(test_conlog_prompt_and_long_line)
{
	static char big[EXPECT_LINE_MAX + 10];
	struct conlog *l = NULL;
	struct buf out;

	buf_init(&out, 0);
	ck_assert_int_eq(conlog_new(&l), 0);
	conlog_start(l, 100);
	ck_assert_int_eq(conlog_feed(l, "a\n\nlocalhost login: ", 20, 12345, &out), 0);
	ck_assert_str_eq(out.data, "[  12.245] a\n[  12.245]\n");
	ck_assert_int_eq(conlog_finish(l, &out), 0);
	ck_assert_str_eq(out.data, "[  12.245] a\n[  12.245]\n[  12.245] localhost login: ");
	conlog_free(l);

	/* A full buffer loses that line only. */
	buf_release(&out);
	buf_init(&out, 16);
	ck_assert_int_eq(conlog_new(&l), 0);
	conlog_start(l, 0);
	ck_assert_int_eq(conlog_feed(l, "a rather long line\nb\nc\n", 23, 0, &out), -IT_ELIMIT);
	ck_assert_str_eq(out.data, "[   0.000] b\n");
	buf_reset(&out);
	ck_assert_int_eq(conlog_finish(l, &out), 0);
	ck_assert_str_eq(out.data, "[   0.000] c\n");
	conlog_free(l);
	buf_release(&out);
	buf_init(&out, 0);

	/* A line longer than the cap is broken, not lost. */
	buf_reset(&out);
	memset(big, 'z', sizeof(big));
	ck_assert_int_eq(conlog_new(&l), 0);
	conlog_start(l, 0);
	ck_assert_int_eq(conlog_feed(l, big, sizeof(big), 0, &out), 0);
	ck_assert_int_eq(conlog_finish(l, &out), 0);
	ck_assert_uint_eq(out.len, 2 * strlen("[   0.000] ") + sizeof(big) + 1);
	ck_assert_int_eq(out.data[strlen("[   0.000] ") + EXPECT_LINE_MAX], '\n');
	conlog_free(l);
	buf_release(&out);
}
END_TEST

/* The boot script with this login timeout, replayed over log: it must end in state want. */
static struct expect *replay_boot(const struct buf *log, int64_t login_timeout, bool *timed,
				  int want)
{
	struct expect *e = mk();
	int st;

	boot_script(e, login_timeout);
	st = expect_replay(e, buf_blob(log), timed);
	ck_assert_msg(st == want, "replay with login timeout %lld: state %d, expected %d",
		      (long long)login_timeout, st, want);
	return e;
}

START_TEST(test_replay_timed_and_raw)
{
	struct buf log, raw;
	struct expect *e;
	bool timed = false;

	tu_read_new(&log, GOLDEN_LOG);
	tu_read_new(&raw, RAW_LOG);

	e = replay_boot(&log, 0, &timed, EXPECT_PASSED);
	ck_assert(timed);
	check_boot_passed(e);
	/* Times come from the log: "localhost login: root" was stamped 3.200. */
	ck_assert_int_eq(expect_step(e, 4)->at_ms, 3200);
	ck_assert_str_eq(expect_step(e, 4)->line, "localhost login: root");
	expect_free(e);

	e = replay_boot(&raw, 0, &timed, EXPECT_PASSED);
	ck_assert(!timed);
	check_boot_passed(e);
	expect_free(e);

	/* A login timeout shorter than the log's gap after the lease (2.840 to 3.200 s). */
	e = replay_boot(&log, 300, NULL, EXPECT_TIMED_OUT);
	ck_assert_uint_eq(expect_outcome(e)->step, 4);
	ck_assert_int_eq(expect_outcome(e)->at_ms, 3140);
	expect_free(e);

	/* The same timeout is not applied to a raw log, which has no times. */
	e = replay_boot(&raw, 300, NULL, EXPECT_PASSED);
	expect_free(e);

	buf_release(&log);
	buf_release(&raw);
}
END_TEST

START_TEST(test_replay_log_ends_early)
{
	struct buf log;
	struct expect *e = mk();
	const char *cut;

	tu_read_new(&log, GOLDEN_LOG);
	cut = strstr(log.data, "[   3.000]");
	ck_assert_ptr_nonnull(cut);
	boot_script(e, 0);
	ck_assert_int_eq(expect_replay(e, blob_mem(log.data, (size_t)(cut - log.data)), NULL),
			 EXPECT_FAILED);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_EOF);
	ck_assert_uint_eq(expect_outcome(e)->step, 4);
	check_explain(e, -IT_EFAIL,
		      "console closed at 2.920 s before step 'login' (test.scn:1) "
		      "matched 'localhost login: '",
		      "last console line: '* Starting busybox syslog ... [ ok ]'");
	expect_free(e);
	buf_release(&log);
}
END_TEST

/* ---- fast paths: literals, the block, the text scanner ------------------------------------- */

/* Every '\\' before a non-alphanumeric byte, as the engine escapes a literal pattern. */
static void escape_regex(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *s && o + 2 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
				  (c >= 'A' && c <= 'Z') || c == '_'))
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
}

START_TEST(test_lit_required)
{
	/* A regex and the text every line it matches must hold ("": none is used). */
	static const char *const cases[][2] = {
	    {"Kernel\\ panic", "Kernel panic"},
	    {"^ \\* ERROR:", " * ERROR:"},
	    {"login: $", "login: "},
	    {"abc?", "ab"},
	    {"abc*", "ab"},
	    {"abc+", "abc"},
	    {"x{2}yz", "yz"},
	    {"x{2,}yz", "yz"},
	    {"x{,3}yz", "yz"},
	    {"a{2}", ""},
	    {"(foo)bar", "bar"},
	    {"(?:a|b)cd", "cd"},
	    {"(?<n>x)yz", "yz"},
	    {"[]x]yz", "yz"},
	    {"[^]]yz", "yz"},
	    {"[\\]]yz", "yz"},
	    {"\\d+ ok", " ok"},
	    {"ab(?=c)", "ab"},
	    /* Given up: the text could be optional, or match other bytes. */
	    {"foo|bar", ""},
	    {"(?i)kernel", ""},
	    {"foo(?i)bar", ""},
	    {"(a(*ACCEPT))bc", ""},
	    {"(*CR)abc", ""},
	    {"a(?#c)b", ""},
	    {"(?x) a b", ""},
	    {"\\Qa.b\\E", ""},
	    {"\\x41BC", ""},
	    {"a\\tb", ""},
	    {"[[:digit:]]+ ok", ""},
	    {"foo{bar", ""},
	    {"(?(1)a|b)cd", ""},
	};
	char esc[256], big[128];
	struct lit l;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lit_from_regex(&l, cases[i][0], strlen(cases[i][0]));
		ck_assert_msg(l.len == strlen(cases[i][1]) && memcmp(l.s, cases[i][1], l.len) == 0,
			      "'%s': got '%.*s'", cases[i][0], (int)l.len, l.s);
		ck_assert_uint_lt(l.rare, l.len ? l.len : 1);
	}
	/* A literal pattern, escaped as the engine does, is its own literal. */
	escape_regex("e1000: Intel(R) PRO/1000 Network Driver", esc, sizeof(esc));
	lit_from_regex(&l, esc, strlen(esc));
	ck_assert_uint_eq(l.len, strlen("e1000: Intel(R) PRO/1000 Network Driver"));
	ck_assert_int_eq(memcmp(l.s, "e1000: Intel(R) PRO/1000 Network Driver", l.len), 0);
	/* A longer run gives a piece of it: a full one, or the one with the rarer byte. */
	memset(big, 'a', 100);
	lit_from_regex(&l, big, 100);
	ck_assert_uint_eq(l.len, LIT_MAX);
	big[100] = 'K';
	lit_from_regex(&l, big, 101);
	ck_assert_uint_eq(l.len, 101 - LIT_MAX);
	ck_assert_int_eq(l.s[l.rare], 'K');
	ck_assert_ptr_nonnull(memmem(big, 101, l.s, l.len));
}
END_TEST

START_TEST(test_lit_sound)
{
	/* Random regexes over random lines: whenever PCRE2 matches, the line holds the literal. */
	static const char *const atoms[][7] = {
	    {"a", "b", "c", " ", ":", "\\.", "\\["},
	    {"ab", "abc", "[ab]", "[^a]", "[]a]", ".", "A"},
	    {"\\d", "\\s", "\\w", "\\b", "^", "$", "1"},
	    {"(a|b)", "(?:ab|c)", "(?=a)", "(?!b)", "(?<=a)", "(?<!c)", "\\K"},
	    {"(a)", "(?<g>b)", "(?>ab)", "|", "(?i)", "(?i:ab)", "\\1"},
	    {"a{0,2}", "{2}", "?", "*", "+", "??", "*+"},
	    {"{1,}", "(*ACCEPT)", "(a(*ACCEPT))", "\\Q.\\E", "\\x61", "x{,2}", "(?|(a)|(b))"},
	};
	static const char alphabet[] = "abc :.[]1ABx";
	pcre2_match_data *md = pcre2_match_data_create(32, NULL);
	uint32_t seed = 2024;
	size_t matched = 0, with_lit = 0;

	for (int k = 0; k < 3000; k++) {
		char re[256], line[32];
		pcre2_code *code;
		int errcode;
		PCRE2_SIZE off;
		struct lit l;
		size_t natoms, len = 0;

		seed = seed * 1103515245u + 12345u;
		natoms = 1 + (seed >> 16) % 8;
		for (size_t i = 0; i < natoms; i++) {
			const char *a;

			seed = seed * 1103515245u + 12345u;
			a = atoms[(seed >> 16) % 7][(seed >> 8) % 7];
			memcpy(re + len, a, strlen(a));
			len += strlen(a);
		}
		re[len] = '\0';
		code = pcre2_compile((PCRE2_SPTR)re, len, 0, &errcode, &off, NULL);
		if (!code)
			continue;
		lit_from_regex(&l, re, strlen(re));
		for (int j = 0; j < 200; j++) {
			size_t n;

			seed = seed * 1103515245u + 12345u;
			n = (seed >> 16) % 24;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				line[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
			}
			if (pcre2_match(code, (PCRE2_SPTR)line, n, 0, 0, md, NULL) < 0)
				continue;
			matched++;
			with_lit += l.len > 0;
			ck_assert_msg(l.len == 0 || memmem(line, n, l.s, l.len),
				      "'%s' matches '%.*s' without '%.*s'", re, (int)n, line,
				      (int)l.len, l.s);
		}
		pcre2_code_free(code);
	}
	pcre2_match_data_free(md);
	ck_assert_uint_gt(matched, 10000);
	ck_assert_uint_gt(with_lit, 1000);
}
END_TEST

START_TEST(test_lit_find)
{
	static const char alphabet[] = "ab-:K";
	uint32_t seed = 77;

	for (int k = 0; k < 20000; k++) {
		char h[300], want[8], re[20];
		size_t n, m, at = SIZE_MAX;
		struct lit l;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof(h);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			h[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		seed = seed * 1103515245u + 12345u;
		m = 1 + (seed >> 16) % 5;
		for (size_t i = 0; i < m; i++) {
			seed = seed * 1103515245u + 12345u;
			want[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		want[m] = '\0';
		escape_regex(want, re, sizeof(re));
		lit_from_regex(&l, re, strlen(re));
		ck_assert_uint_eq(l.len, m);
		for (size_t i = 0; i + m <= n && at == SIZE_MAX; i++) {
			if (memcmp(h + i, want, m) == 0)
				at = i;
		}
		ck_assert_uint_eq(lit_find(&l, h, n), at == SIZE_MAX ? n : at);
	}
}
END_TEST

/* What one ground-state byte of a run without ESC becomes: text and '\n' stay. */
static bool kept(unsigned char c)
{
	return (c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n';
}

START_TEST(test_vt_clean_and_text_run)
{
	static const char *const pieces[] = {
	    "abc", "0123456789abcdef", "\r\n", "\n",  "\r", "\t", "\x7f", "\0",
	    "\a",  "\xc3\xa9",	       "x",    "\033"};
	static char src[2048], dst[2048];
	uint32_t seed = 5;

	for (int k = 0; k < 4000; k++) {
		struct vt vt = {0};
		size_t n = 0, room, used, nl, took, j = 0, lines = 0;

		while (n < sizeof(src) - 32) {
			const char *p;
			size_t len;

			seed = seed * 1103515245u + 12345u;
			p = pieces[(seed >> 16) %
				   (sizeof(pieces) / sizeof(pieces[0]) - (k % 3 ? 1 : 0))];
			len = p[0] ? strlen(p) : 1;
			memcpy(src + n, p, len);
			n += len;
			if ((seed >> 8) % 50 == 0)
				break;
		}
		seed = seed * 1103515245u + 12345u;
		room = (seed >> 16) % 3 ? sizeof(dst) : (seed >> 16) % 64;
		took = vt_clean(src, n, dst, room, &used, &nl);
		ck_assert_uint_le(took, n);
		ck_assert_uint_le(used, room);
		/* It stops only at the end, before an ESC, or with dst full. */
		if (took < n)
			ck_assert(src[took] == '\033' ||
				  (used == room && kept((unsigned char)src[took])));
		/* What it wrote is src[0..took) cleaned, but for CRs kept right before a '\n'. */
		for (size_t i = 0; i < used; i++) {
			if (dst[i] == '\r') {
				ck_assert(i + 1 < used && dst[i + 1] == '\n');
				continue;
			}
			while (j < took && !kept((unsigned char)src[j]))
				j++;
			ck_assert_msg(j < took && src[j] == dst[i], "case %d: byte %zu", k, i);
			lines += dst[i] == '\n';
			j++;
		}
		while (j < took && !kept((unsigned char)src[j]))
			j++;
		ck_assert_uint_eq(j, took);
		ck_assert_uint_eq(nl, lines);
		/* The text run is what vt_is_text() says, from every offset. */
		for (size_t i = 0; i < n; i += 7) {
			size_t want = 0;

			while (i + want < n && vt_is_text((unsigned char)src[i + want]))
				want++;
			ck_assert_uint_eq(vt_text_run(&vt, src + i, n - i), want);
		}
	}
}
END_TEST

START_TEST(test_block_crlf_every_offset)
{
	/* A console's CR LF may fall anywhere in the 16 bytes looked at together. */
	for (size_t off = 0; off < 48; off++) {
		struct expect *e = mk();
		char in[256];

		memset(in, 'x', off);
		snprintf(in + off, sizeof(in) - off, "\r\nabc ok\r\nd\re ok\r\nzz\r\ntail\r");
		add_x(e, "ok", "ok$", false, 0);
		add_x(e, "de", "^de ok$", false, 0);
		add_x(e, "tail", "^tail$", false, 0);
		ck_assert_int_eq(feed_str(e, in, 0), EXPECT_RUNNING);
		ck_assert_str_eq(expect_step(e, 0)->line, "abc ok");
		ck_assert_str_eq(expect_step(e, 1)->line, "de ok");
		/* "tail" waits for its end: '$' could still be followed by more text. */
		ck_assert_int_eq(expect_step(e, 2)->status, EXPECT_STEP_PENDING);
		ck_assert_int_eq(feed_str(e, "\n", 0), EXPECT_PASSED);
		ck_assert_str_eq(expect_step(e, 2)->line, "tail");
		expect_free(e);
	}
}
END_TEST

START_TEST(test_block_boundaries)
{
	/* One large read: its lines are matched a block at a time, some across blocks. */
	static char in[120000];

	for (size_t shift = 0; shift < 24; shift += 5) {
		struct expect *e = mk();
		struct expect_stats st;
		size_t n = 0, nl = 0, mark = 0;
		static const size_t at[] = {16300, 16380, 16390, 32700, 32768, 60000};

		memset(in, 'p', shift);
		n = shift;
		for (int i = 0; n < sizeof(in) - 200; i++) {
			n += (size_t)snprintf(in + n, sizeof(in) - n, "[%6d] line %d%.*s\r\n", i, i,
					      i % 70,
					      "----------------------------------------"
					      "------------------------------");
			if (mark < 6 && n >= at[mark] - shift)
				n += (size_t)snprintf(in + n, sizeof(in) - n, "MARK-%zu here\r\n",
						      mark++);
		}
		for (size_t i = 0; i < n; i++)
			nl += in[i] == '\n';
		for (size_t i = 0; i < 6; i++) {
			char p[16];

			snprintf(p, sizeof(p), "MARK-%zu", i);
			add_x(e, p, p, true, 0);
		}
		ck_assert_int_eq(expect_feed(e, in, n, 7), EXPECT_PASSED);
		for (size_t i = 0; i < 6; i++) {
			char want[32];

			snprintf(want, sizeof(want), "MARK-%zu here", i);
			ck_assert_str_eq(expect_step(e, i)->line, want);
			ck_assert_int_eq(expect_step(e, i)->at_ms, 0);
		}
		expect_get_stats(e, &st);
		ck_assert_uint_eq(st.lines, nl);
		expect_free(e);
	}
}
END_TEST

/* Wait for "ready", then type "cmd": in one read of 'in', the output must be 'want'. */
static void check_dsr_order(const char *in, const char *want)
{
	struct expect *e = mk();
	struct blob o;

	add_x(e, "ready", "ready", true, 0);
	add_s(e, "cmd", "cmd\n");
	add_x(e, "never", "never", true, 0);
	ck_assert_int_eq(feed_str(e, in, 0), EXPECT_RUNNING);
	o = expect_output(e);
	ck_assert_msg(blob_eq_str(o, want), "output '%.*s', expected '%s'", (int)o.len, o.ptr,
		      want);
	expect_free(e);
}

START_TEST(test_block_dsr_and_send_order)
{
	/* Lines before a cursor-position request are matched before it is answered. */
	check_dsr_order("boot\r\nready\r\n" DSR "more\r\n", "cmd\n\033[1;1R");
	check_dsr_order("boot\r\n" DSR "ready\r\nmore\r\n", "\033[1;1Rcmd\n");
}
END_TEST

START_TEST(test_patterns_without_literal)
{
	/* Patterns whose required text the engine cannot know still match in a block of lines. */
	static const char *const cases[][2] = {
	    {"x{2}yz", "xxyz"},
	    {"(a(*ACCEPT))bc", "zaz"},
	    {"foo|bar", "a bar"},
	    {"\\x41BC", "ABC"},
	    {"[[:digit:]]+ ok", "12 ok"},
	    {"(?i)kernel", "KERNEL"},
	    {"\\Qa.b\\E", "a.b"},
	    {"a\\tb", "a\tb"},
	    {"^$", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expect *e = mk();
		char in[128];

		snprintf(in, sizeof(in), "q\r\nqq\r\n%s\r\nafter\r\n", cases[i][1]);
		add_x(e, "x", cases[i][0], false, 0);
		ck_assert_msg(feed_str(e, in, 0) == EXPECT_PASSED, "'%s'", cases[i][0]);
		ck_assert_str_eq(expect_step(e, 0)->line, cases[i][1]);
		expect_free(e);
	}
}
END_TEST

START_TEST(test_fail_caseless_in_block)
{
	struct expect *e = mk();
	struct it_error err = IT_ERROR_INIT;

	ck_assert_int_eq(expect_add_fail(e, "(?i)kernel\\s+panic", false, "t:3", &err), 0);
	add_x(e, "never", "never", true, 0);
	ck_assert_int_eq(feed_str(e, "a\r\nb\r\nKERNEL  PANIC - not syncing\r\nc\r\n", 0),
			 EXPECT_FAILED);
	ck_assert_str_eq(expect_outcome(e)->fail_pattern, "(?i)kernel\\s+panic");
	ck_assert_str_eq(expect_outcome(e)->line, "KERNEL  PANIC - not syncing");
	expect_free(e);
}
END_TEST

/* ---- external steps ----------------------------------------------------------------------- */

static void add_ext(struct expect *e, const char *name, const char *text, const char *capture,
		    int64_t timeout_ms)
{
	struct it_error err = IT_ERROR_INIT;
	int r = expect_add_external(e, name, text, capture, false, timeout_ms, "test.scn:3", &err);

	ck_assert_msg(r == 0, "external '%s': %s", text, err.msg);
}

/* The engine waits at an external step, whatever the console says, until the caller ends it. */
START_TEST(test_external_waits_for_caller)
{
	struct expect *e = mk();
	const char *text = NULL;

	add_x(e, "login", "login: ", true, 0);
	add_ext(e, "cmd", "ip addr", NULL, 0);
	add_x(e, "after", "after", true, 0);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_uint_eq(expect_external(e, NULL), SIZE_MAX);
	feed_str(e, "login: \nafter\n", 10);
	/* 'after' went by while the external step was current: it is not matched. */
	ck_assert_uint_eq(expect_external(e, &text), 1);
	ck_assert_str_eq(text, "ip addr");
	ck_assert_int_eq(expect_external_done(e, true, "exit 0", 20), EXPECT_RUNNING);
	ck_assert_uint_eq(expect_external(e, NULL), SIZE_MAX);
	ck_assert_str_eq(expect_step(e, 1)->line, "exit 0");
	ck_assert_int_eq(expect_step(e, 1)->at_ms, 20);
	ck_assert_int_eq(feed_str(e, "after\n", 30), EXPECT_PASSED);
	/* Not external any more: done is refused. */
	ck_assert_int_eq(expect_external_done(e, true, NULL, 40), -EINVAL);
	expect_free(e);
}
END_TEST

/* Captures of an external step's subject feed later steps; a failure says why. */
START_TEST(test_external_capture_and_failure)
{
	struct expect *e = mk();
	const char *text = NULL;
	struct it_error err = IT_ERROR_INIT;

	add_ext(e, "ip", "ip -4 addr", "inet (?<addr>[0-9.]+)/24", 0);
	add_ext(e, "check", "ping -c1 ${addr}", NULL, 0);
	add_ext(e, "last", "false", NULL, 0);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_external_match(e, blob_str("1: lo\n    inet 127.0.0.1/8\n")), 0);
	ck_assert_int_eq(expect_external_match(e, blob_str("2: eth0\n    inet 10.0.2.15/24 brd\n")),
			 1);
	ck_assert_int_eq(expect_external_done(e, true, NULL, 5), EXPECT_RUNNING);
	ck_assert_uint_eq(expect_external(e, &text), 1);
	ck_assert_str_eq(text, "ping -c1 10.0.2.15");
	ck_assert_int_eq(expect_external_done(e, true, NULL, 6), EXPECT_RUNNING);
	ck_assert_int_eq(expect_external_done(e, false, "'false' exited 1, not 0", 7),
			 EXPECT_FAILED);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_EXTERNAL);
	ck_assert_str_eq(expect_outcome(e)->line, "'false' exited 1, not 0");
	ck_assert_int_eq(expect_step(e, 2)->status, EXPECT_STEP_FAILED);
	expect_explain(e, &err);
	ck_assert_ptr_nonnull(strstr(err.msg, "failed: 'false' exited 1"));
	expect_free(e);
	/* A reference to a group no earlier step defines is refused when the step is added. */
	e = mk();
	ck_assert_int_eq(expect_add_external(e, "x", "echo ${nope}", NULL, false, 0, "t:1", &err),
			 -IT_ESCENARIO);
	expect_free(e);
}
END_TEST

/* Its timeout, the run's, and the fail patterns still apply while the caller works. */
START_TEST(test_external_timeout_and_fail_pattern)
{
	struct expect *e = mk();

	add_ext(e, "slow", "sleep 600", NULL, 1000);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(expect_deadline(e), 1000);
	ck_assert_int_eq(expect_tick(e, 999), EXPECT_RUNNING);
	ck_assert_int_eq(expect_tick(e, 1000), EXPECT_TIMED_OUT);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_STEP_TIMEOUT);
	ck_assert_uint_eq(expect_external(e, NULL), SIZE_MAX);
	expect_free(e);
	e = mk();
	add_ext(e, "cmd", "true", NULL, 0);
	ck_assert_int_eq(expect_start(e, 0), 0);
	ck_assert_int_eq(feed_str(e, "Kernel panic - not syncing: x\n", 50), EXPECT_FAILED);
	ck_assert_int_eq(expect_outcome(e)->why, EXPECT_WHY_FAIL_PATTERN);
	expect_free(e);
}
END_TEST

/* ---- checkpoints -------------------------------------------------------------------------- */

/* The steps of a scenario with a checkpoint after the lease and the login. */
static struct expect *mk_ckpt(void)
{
	struct expect *e = mk();

	add_x(e, "lease", "lease of (?<ip>[0-9.]+) obtained", false, 0);
	add_x(e, "login", "(\\w+) login: ", false, 0);
	add_s(e, "user", "root\n");
	add_ext(e, "ready", "ready", NULL, 0);
	add_s(e, "show", "ip addr # ${ip} ${1}\n");
	add_x(e, "addr", "inet ${ip}/24", true, 0);
	expect_set_run_timeout(e, 100000);
	return e;
}

/*
 * A restored engine goes on where the saving one was: the steps before as
 * it found them, its captures, its clock; nothing of them is sent again.
 */
START_TEST(test_start_restored)
{
	struct expect *a = mk_ckpt(), *b = mk_ckpt();
	int64_t at[3];
	const char *lines[3], *refs[8], *values[8], *value;
	char ref[8][16];
	size_t n = 0;

	/* The saving run. */
	ck_assert_int_eq(expect_start(a, 0), 0);
	ck_assert_int_eq(feed_str(a, "udhcpc: lease of 10.0.2.15 obtained\n", 1500),
			 EXPECT_RUNNING);
	ck_assert_int_eq(feed_str(a, "alpine login: ", 2500), EXPECT_RUNNING);
	ck_assert(blob_eq_str(expect_output(a), "root\n"));
	ck_assert_uint_eq(expect_external(a, NULL), 3);
	for (size_t i = 0; i < 3; i++) {
		at[i] = expect_step(a, i)->at_ms;
		lines[i] = expect_step(a, i)->line;
	}
	while (n < 8 && expect_capture_at(a, n, ref[n], sizeof(ref[n]), &value)) {
		refs[n] = ref[n];
		values[n] = value;
		n++;
	}
	/* The last match's groups (0 and 1), then the named one. */
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(refs[0], "0");
	ck_assert_str_eq(values[0], "alpine login: ");
	ck_assert_str_eq(refs[1], "1");
	ck_assert_str_eq(values[1], "alpine");
	ck_assert_str_eq(refs[2], "ip");
	ck_assert_str_eq(values[2], "10.0.2.15");

	/* The restored run: its VM is up at 50000 on its own clock. */
	struct expect_restored from = {3, at, lines, n, refs, values};
	struct expect_restored past = {7, at, lines, 0, NULL, NULL};

	ck_assert_int_eq(expect_start_restored(b, 50000 - 2500, 50000, &past), -EINVAL);
	ck_assert_int_eq(expect_start_restored(b, 50000 - 2500, 50000, &from), 0);
	ck_assert_int_eq(expect_start_restored(b, 0, 0, &from), -EINVAL);
	ck_assert_uint_eq(expect_external(b, NULL), 3);
	ck_assert_uint_eq(expect_output(b).len, 0);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(expect_step(b, i)->status, EXPECT_STEP_PASSED);
		ck_assert_int_eq(expect_step(b, i)->at_ms, at[i]);
	}
	ck_assert_str_eq(expect_step(b, 0)->line, "udhcpc: lease of 10.0.2.15 obtained");
	ck_assert_ptr_null(expect_step(b, 2)->line);
	/* Its times go on from the checkpoint's; the run timeout counts from the saved start. */
	ck_assert_int_eq(expect_external_done(b, true, "restored", 50100), EXPECT_RUNNING);
	ck_assert_int_eq(expect_step(b, 3)->at_ms, 2600);
	ck_assert(blob_eq_str(expect_output(b), "ip addr # 10.0.2.15 alpine\n"));
	ck_assert_int_eq(expect_deadline(b), 47500 + 100000);
	ck_assert_int_eq(feed_str(b, "    inet 10.0.2.15/24 brd\n", 51000), EXPECT_PASSED);
	ck_assert_int_eq(expect_step(b, 5)->at_ms, 3500);
	expect_free(a);
	expect_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("expect");
	TCase *clean = tcase_create("clean");
	TCase *stream = tcase_create("stream");
	TCase *flood = tcase_create("flood");
	TCase *rules = tcase_create("rules");
	TCase *logs = tcase_create("logs");
	TCase *fast = tcase_create("fast");

	tcase_add_test(clean, test_openrc_colour_ok);
	tcase_add_test(clean, test_escapes_removed);
	tcase_add_test(clean, test_cursor_up_joins_only_after_newline);
	suite_add_tcase(s, clean);

	tcase_set_timeout(stream, 300);
	tcase_add_test(stream, test_boot_log_every_split);
	tcase_add_test(stream, test_boot_log_byte_by_byte);
	tcase_add_test(stream, test_boot_log_random_chunks);
	tcase_add_test(stream, test_prompt_without_newline);
	tcase_add_test(stream, test_unfinished_line_waits_for_more);
	tcase_add_test(stream, test_dsr_split_and_answered_once);
	tcase_add_test(stream, test_dsr_reply_before_send_in_one_read);
	tcase_add_test(stream, test_no_text_matched_twice);
	tcase_add_test(stream, test_send_ordering);
	tcase_add_test(stream, test_output_queue_full);
	suite_add_tcase(s, stream);

	tcase_set_timeout(flood, 300);
	tcase_add_test(flood, test_flood_without_newline);
	tcase_add_test(flood, test_flood_with_newlines);
	tcase_add_test(flood, test_flood_random_bytes);
	tcase_add_test(flood, test_match_straddles_cut);
	suite_add_tcase(s, flood);

	tcase_add_test(rules, test_step_timeout);
	tcase_add_test(rules, test_run_timeout);
	tcase_add_test(rules, test_eof);
	tcase_add_test(rules, test_fail_panic_at_once);
	tcase_add_test(rules, test_fail_builtins);
	tcase_add_test(rules, test_fail_scenario_and_clear);
	tcase_add_test(rules, test_capture_to_send);
	tcase_add_test(rules, test_named_capture_in_pattern);
	tcase_add_test(rules, test_capture_unset_group);
	tcase_add_test(rules, test_bad_references);
	tcase_add_test(rules, test_numbered_refs_follow_last_match);
	tcase_add_test(rules, test_bad_regex);
	tcase_add_test(rules, test_bad_pattern_after_substitution);
	tcase_add_test(rules, test_setup_after_start);
	suite_add_tcase(s, rules);

	tcase_set_timeout(logs, 60);
	tcase_add_test(logs, test_conlog_golden);
	tcase_add_test(logs, test_conlog_prompt_and_long_line);
	tcase_add_test(logs, test_replay_timed_and_raw);
	tcase_add_test(logs, test_replay_log_ends_early);
	suite_add_tcase(s, logs);

	tcase_set_timeout(fast, 120);
	tcase_add_test(fast, test_lit_required);
	tcase_add_test(fast, test_lit_sound);
	tcase_add_test(fast, test_lit_find);
	tcase_add_test(fast, test_vt_clean_and_text_run);
	tcase_add_test(fast, test_block_crlf_every_offset);
	tcase_add_test(fast, test_block_boundaries);
	tcase_add_test(fast, test_block_dsr_and_send_order);
	tcase_add_test(fast, test_patterns_without_literal);
	tcase_add_test(fast, test_fail_caseless_in_block);
	tcase_add_test(fast, test_external_waits_for_caller);
	tcase_add_test(fast, test_external_capture_and_failure);
	tcase_add_test(fast, test_external_timeout_and_fail_pattern);
	tcase_add_test(fast, test_start_restored);
	suite_add_tcase(s, fast);

	return tu_run_suite(s);
}
