// SPDX-License-Identifier: MIT
/* A console log file with a size cap: the head as it comes, the tail from a ring at the end. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "expect/expect.h"
#include "src/runlog.h"

void runlog_init(struct runlog *l, int fd, uint64_t max, bool lines)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->lines = lines;
	l->head_nl = true;
	if (max && max < RUNLOG_MIN_MAX)
		max = RUNLOG_MIN_MAX;
	l->max = max;
	if (max)
		l->tail_max = max / 4 > RUNLOG_TAIL_MAX ? RUNLOG_TAIL_MAX : (size_t)(max / 4);
}

int runlog_open(struct runlog *l, const char *dir, const char *name, uint64_t max, bool lines,
		struct it_error *err)
{
	int fd = -1;
	int r = run_open_log(dir, name, &fd, err);

	if (r < 0)
		return r;
	runlog_release(l);
	runlog_init(l, fd, max, lines);
	return 0;
}

void runlog_release(struct runlog *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l->ring);
	runlog_init(l, -1, 0, false);
}

static int put(struct runlog *l, const char *p, size_t n)
{
	int r;

	if (l->fd < 0 || n == 0)
		return 0;
	r = fd_write_all(l->fd, p, n);
	if (r < 0)
		l->err = r;
	return r;
}

/*
 * How much of s (more than room bytes) goes into the head: all room bytes,
 * or in a log of lines up to its last '\n', unless that wastes over half.
 */
static size_t head_cut(const struct runlog *l, const char *s, size_t room)
{
	const char *nl;

	if (!l->lines || room == 0)
		return room;
	nl = memrchr(s, '\n', room);
	if (!nl || (size_t)(nl - s) + 1 < room / 2)
		return room;
	return (size_t)(nl - s) + 1;
}

static int ring_add(struct runlog *l, const char *s, size_t n)
{
	size_t at, first;

	if (!l->ring) {
		l->ring = malloc(l->tail_max);
		if (!l->ring)
			return l->err = -ENOMEM;
	}
	if (n >= l->tail_max) {
		memcpy(l->ring, s + n - l->tail_max, l->tail_max);
		l->ring_start = 0;
		l->ring_len = l->tail_max;
		return 0;
	}
	at = (l->ring_start + l->ring_len) % l->tail_max;
	first = l->tail_max - at < n ? l->tail_max - at : n;
	memcpy(l->ring + at, s, first);
	memcpy(l->ring, s + first, n - first);
	l->ring_len += n;
	if (l->ring_len > l->tail_max) {
		l->ring_start = (l->ring_start + l->ring_len - l->tail_max) % l->tail_max;
		l->ring_len = l->tail_max;
	}
	return 0;
}

int runlog_write(struct runlog *l, const void *p, size_t n)
{
	const char *s = p;
	size_t take = n;
	int r;

	if (l->err)
		return l->err;
	if (l->finished)
		return -EINVAL;
	l->offered += n;
	if (!l->head_full) {
		uint64_t budget = l->max ? l->max - l->tail_max - RUNLOG_NOTE_MAX : 0;

		if (l->max && n > budget - l->head) {
			take = head_cut(l, s, (size_t)(budget - l->head));
			l->head_full = true;
		}
		r = put(l, s, take);
		if (r < 0)
			return r;
		l->head += take;
		if (take)
			l->head_nl = s[take - 1] == '\n';
		s += take;
		n -= take;
	}
	return n ? ring_add(l, s, n) : 0;
}

/* The ring's i-th oldest byte. */
static char ring_at(const struct runlog *l, size_t i)
{
	return l->ring[(l->ring_start + i) % l->tail_max];
}

int runlog_finish(struct runlog *l)
{
	char note[RUNLOG_NOTE_MAX];
	uint64_t lost;
	size_t skip = 0, from, kept, first;
	int n, r;

	if (l->finished)
		return l->err;
	l->finished = true;
	if (l->err || l->ring_len == 0)
		return l->err;
	lost = l->offered - l->head - l->ring_len;
	/* The tail starts at a line, unless its first line takes more than half of it. */
	if (lost > 0 && l->lines) {
		while (skip < l->ring_len / 2 && ring_at(l, skip) != '\n')
			skip++;
		skip = skip < l->ring_len / 2 ? skip + 1 : 0;
	}
	if (lost > 0) {
		l->omitted = lost + skip;
		n = snprintf(note, sizeof(note),
			     "%s[initrd-test: %llu bytes left out here (--log-max %llu)]\n",
			     l->lines && l->head_nl ? "" : "\n", (unsigned long long)l->omitted,
			     (unsigned long long)l->max);
		r = put(l, note, (size_t)n);
		if (r < 0)
			return r;
	}
	/* The ring from its oldest kept byte: up to the end of the array, then from its start. */
	from = (l->ring_start + skip) % l->tail_max;
	kept = l->ring_len - skip;
	first = l->tail_max - from < kept ? l->tail_max - from : kept;
	r = put(l, l->ring + from, first);
	if (r == 0)
		r = put(l, l->ring, kept - first);
	return r;
}

bool runlog_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, unit = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case 'k':
	case 'K':
		unit = 1ULL << 10;
		p++;
		break;
	case 'm':
	case 'M':
		unit = 1ULL << 20;
		p++;
		break;
	case 'g':
	case 'G':
		unit = 1ULL << 30;
		p++;
		break;
	default:
		break;
	}
	if (*p || v > UINT64_MAX / unit)
		return false;
	v *= unit;
	if (v && v < RUNLOG_MIN_MAX)
		return false;
	*out = v;
	return true;
}

int run_open_log(const char *dir, const char *name, int *fd, struct it_error *err)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), dir, name) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir, name);
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (*fd < 0)
		return it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* ---- the recorder ------------------------------------------------------------------------- */

void recorder_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	runlog_init(&r->raw, -1, 0, false);
	runlog_init(&r->log, -1, 0, true);
	buf_init(&r->lines, 0);
}

int recorder_open(struct recorder *r, const char *dir, uint64_t max, struct it_error *err)
{
	int ret = runlog_open(&r->raw, dir, "console.raw", max, false, err);

	if (ret == 0)
		ret = runlog_open(&r->log, dir, "console.log", max, true, err);
	if (ret == 0 && !r->conlog && conlog_new(&r->conlog) < 0)
		ret = it_error_set(err, -ENOMEM, "cannot log the console: %s", strerror(ENOMEM));
	return ret;
}

void recorder_start(struct recorder *r, int64_t start_ms)
{
	if (r->conlog)
		conlog_start(r->conlog, start_ms);
}

/* The cleaned lines made so far, into console.log. */
static int flush_lines(struct recorder *r)
{
	int ret = r->lines.len ? runlog_write(&r->log, r->lines.data, r->lines.len) : 0;

	buf_reset(&r->lines);
	return ret;
}

int recorder_prepend(struct recorder *r, struct blob raw, struct blob log)
{
	int ret = r->err;

	if (ret == 0 && raw.len)
		ret = runlog_write(&r->raw, raw.ptr, raw.len);
	if (ret == 0 && log.len)
		ret = runlog_write(&r->log, log.ptr, log.len);
	if (ret < 0)
		r->err = ret;
	return ret;
}

int recorder_feed(struct recorder *r, const char *buf, size_t len, int64_t now_ms)
{
	int ret;

	if (r->err)
		return r->err;
	ret = runlog_write(&r->raw, buf, len);
	if (ret == 0 && r->conlog)
		ret = conlog_feed(r->conlog, buf, len, now_ms, &r->lines);
	if (ret == 0)
		ret = flush_lines(r);
	if (ret < 0)
		r->err = ret;
	return ret;
}

int recorder_finish(struct recorder *r)
{
	int ret = r->err;

	if (ret == 0 && r->conlog)
		ret = conlog_finish(r->conlog, &r->lines);
	if (ret == 0)
		ret = flush_lines(r);
	if (ret == 0)
		ret = runlog_finish(&r->raw);
	if (ret == 0)
		ret = runlog_finish(&r->log);
	if (ret < 0 && !r->err)
		r->err = ret;
	if (ret == 0 && (r->raw.omitted || r->log.omitted))
		log_warn("the console logs reached --log-max (%llu bytes): %llu bytes of "
			 "console.raw and %llu of console.log left out in their middle",
			 (unsigned long long)r->raw.max, (unsigned long long)r->raw.omitted,
			 (unsigned long long)r->log.omitted);
	return ret;
}

void recorder_release(struct recorder *r)
{
	conlog_free(r->conlog);
	r->conlog = NULL;
	buf_release(&r->lines);
	runlog_release(&r->raw);
	runlog_release(&r->log);
}
