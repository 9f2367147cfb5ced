// SPDX-License-Identifier: MIT
/* The saved console log ("[  12.345] text" per cleaned line) and the replay of recorded logs. */
#include <errno.h>
#include <stdlib.h>

#include "expect.h"
#include "vt.h"

#define REPLAY_CHUNK 4096

struct conlog {
	struct vt vt;
	struct buf line; /* the cleaned current line */
	bool open;	 /* the line has begun (its first byte or its '\n' came) */
	bool held;	 /* its '\n' came; written once something else than a cursor-up follows */
	int64_t start_ms;
	int64_t line_ms; /* when the line began */
};

int conlog_new(struct conlog **out)
{
	struct conlog *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return -ENOMEM;
	buf_init(&l->line, EXPECT_LINE_MAX);
	*out = l;
	return 0;
}

void conlog_free(struct conlog *l)
{
	if (!l)
		return;
	buf_release(&l->line);
	free(l);
}

void conlog_start(struct conlog *l, int64_t now_ms)
{
	l->start_ms = now_ms;
}

/* Append the current line, stamped, to out and start a new one. */
static int emit(struct conlog *l, struct buf *out, bool newline)
{
	int64_t t = l->line_ms - l->start_ms;
	int r;

	if (t < 0)
		t = 0;
	r = buf_addf(out, "[%4lld.%03lld]%s%s%s", (long long)(t / 1000), (long long)(t % 1000),
		     l->line.len ? " " : "", l->line.data, newline ? "\n" : "");
	buf_reset(&l->line);
	l->open = false;
	l->held = false;
	return r;
}

static void begin(struct conlog *l, int64_t now)
{
	if (l->open)
		return;
	l->open = true;
	l->line_ms = now;
}

/* Returns -IT_ELIMIT when 'out' had no room for a finished line, after doing all the rest. */
static int add_text(struct conlog *l, const char *p, size_t n, int64_t now, struct buf *out)
{
	int first = 0, r;

	if (l->held)
		first = emit(l, out, true);
	begin(l, now);
	while (n > 0) {
		size_t room = EXPECT_LINE_MAX - l->line.len;
		size_t k = n < room ? n : room;

		r = buf_add(&l->line, p, k);
		if (r < 0)
			return r;
		p += k;
		n -= k;
		if (l->line.len < EXPECT_LINE_MAX)
			continue;
		/* A log keeps everything: an endless line is broken, not cut. */
		r = emit(l, out, true);
		if (r < 0 && first == 0)
			first = r;
		if (n > 0)
			begin(l, now);
	}
	return first;
}

static int event(struct conlog *l, enum vt_event ev, char c, int64_t now, struct buf *out)
{
	int r;

	switch (ev) {
	case VT_EV_CHAR:
		return add_text(l, &c, 1, now, out);
	case VT_EV_NEWLINE:
		r = l->held ? emit(l, out, true) : 0;
		begin(l, now);
		l->held = true;
		return r;
	case VT_EV_UP:
		l->held = false; /* the text that follows belongs to the line just ended */
		return 0;
	case VT_EV_DSR:
	case VT_EV_NONE:
		break;
	}
	return 0;
}

int conlog_feed(struct conlog *l, const char *buf, size_t len, int64_t now_ms, struct buf *out)
{
	size_t i = 0;
	int first = 0;

	while (i < len) {
		size_t n = vt_text_run(&l->vt, buf + i, len - i);
		int r;

		if (n > 0) {
			r = add_text(l, buf + i, n, now_ms, out);
			i += n;
		} else {
			r = event(l, vt_step(&l->vt, (unsigned char)buf[i]), buf[i], now_ms, out);
			i++;
		}
		/* A full 'out' loses lines, not the parser's place in the stream. */
		if (r < 0 && first == 0)
			first = r;
	}
	return first;
}

int conlog_finish(struct conlog *l, struct buf *out)
{
	if (l->held)
		return emit(l, out, true);
	if (l->open && l->line.len > 0)
		return emit(l, out, false);
	return 0;
}

/* "[  12.345] text" or "[  12.345]": the time in ms and the text. */
static bool parse_stamp(struct blob line, int64_t *ms, struct blob *text)
{
	size_t i = 1, d;
	int64_t sec = 0, frac = 0;

	if (line.len < 7 || line.ptr[0] != '[')
		return false;
	while (i < line.len && line.ptr[i] == ' ')
		i++;
	for (d = 0; i < line.len && line.ptr[i] >= '0' && line.ptr[i] <= '9' && d < 12; i++, d++)
		sec = sec * 10 + (line.ptr[i] - '0');
	if (d == 0 || i >= line.len || line.ptr[i] != '.')
		return false;
	i++;
	for (d = 0; d < 3; d++, i++) {
		if (i >= line.len || line.ptr[i] < '0' || line.ptr[i] > '9')
			return false;
		frac = frac * 10 + (line.ptr[i] - '0');
	}
	if (i >= line.len || line.ptr[i] != ']')
		return false;
	i++;
	if (i < line.len && line.ptr[i] != ' ')
		return false;
	if (i < line.len)
		i++;
	*ms = sec * 1000 + frac;
	*text = (struct blob){line.len - i, line.ptr + i};
	return true;
}

/* Feed one piece, then throw away what the engine wants to send. */
static int replay_feed(struct expect *e, const char *p, size_t n, int64_t t)
{
	int r = expect_feed(e, p, n, t);

	expect_output_consume(e, expect_output(e).len);
	return r;
}

static int replay_timed(struct expect *e, struct blob log, int64_t *t)
{
	struct blob rest = log, line, text;
	int r;

	while (rest.len > 0) {
		bool nl = blob_split(rest, '\n', &line, &rest);
		int64_t ms;

		if (!nl) {
			line = rest;
			rest = BLOB_NULL;
		}
		if (parse_stamp(line, &ms, &text))
			*t = ms;
		else
			text = line; /* not a log line: take it as it stands, at the last time */
		/* The '\n' follows the text in the log, so one feed carries the whole line. */
		r = replay_feed(e, text.ptr, text.len + (nl ? 1 : 0), *t);
		if (r < 0)
			return r;
	}
	return 0;
}

int expect_replay(struct expect *e, struct blob log, bool *timed)
{
	struct blob first, rest, text;
	int64_t t = 0;
	bool stamped;
	int r;

	if (!blob_split(log, '\n', &first, &rest))
		first = log;
	stamped = parse_stamp(first, &t, &text);
	if (timed)
		*timed = stamped;
	if (!stamped)
		expect_disable_timeouts(e);
	r = expect_start(e, 0);
	if (r < 0)
		return r;
	if (stamped) {
		r = replay_timed(e, log, &t);
	} else {
		for (size_t i = 0; i < log.len && r >= 0; i += REPLAY_CHUNK) {
			size_t n = log.len - i < REPLAY_CHUNK ? log.len - i : REPLAY_CHUNK;

			r = replay_feed(e, log.ptr + i, n, 0);
		}
	}
	if (r < 0)
		return r;
	return expect_eof(e, t);
}
