// SPDX-License-Identifier: MIT
/* Growable buffer with a cap, and blob helpers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"

static char buf_empty[1];

bool blob_eq(struct blob a, struct blob b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool blob_eq_str(struct blob a, const char *s)
{
	return blob_eq(a, blob_str(s));
}

bool blob_starts(struct blob a, const char *prefix)
{
	size_t n = strlen(prefix);

	return a.len >= n && memcmp(a.ptr, prefix, n) == 0;
}

bool blob_split(struct blob b, char sep, struct blob *head, struct blob *rest)
{
	const char *p = b.len ? memchr(b.ptr, sep, b.len) : NULL;

	if (!p)
		return false;
	*head = (struct blob){(size_t)(p - b.ptr), b.ptr};
	*rest = (struct blob){b.len - head->len - 1, p + 1};
	return true;
}

bool blob_to_u64(struct blob b, unsigned long long *out)
{
	unsigned long long v = 0;

	if (b.len == 0 || b.len > 20)
		return false;
	for (size_t i = 0; i < b.len; i++) {
		unsigned d;

		if (b.ptr[i] < '0' || b.ptr[i] > '9')
			return false;
		d = (unsigned)(b.ptr[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

char *blob_dup(struct blob b)
{
	char *s = malloc(b.len + 1);

	if (!s)
		return NULL;
	if (b.len)
		memcpy(s, b.ptr, b.len);
	s[b.len] = '\0';
	return s;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

void buf_release(struct buf *b)
{
	size_t max = b->max;

	if (b->alloc)
		free(b->data);
	buf_init(b, max);
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (len)
		*len = b->len;
	if (!b->alloc) {
		p = calloc(1, 1);
	} else {
		p = b->data;
	}
	buf_init(b, b->max);
	return p;
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t need, alloc;
	char *p;

	if (!b->data)
		buf_init(b, 0);
	if (extra > b->max - b->len)
		return -IT_ELIMIT;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	alloc = b->alloc ? b->alloc : 64;
	while (alloc < need)
		alloc = alloc < SIZE_MAX / 2 ? alloc * 2 : need;
	p = b->alloc ? realloc(b->data, alloc) : malloc(alloc);
	if (!p)
		return -ENOMEM;
	if (!b->alloc)
		p[0] = '\0';
	b->data = p;
	b->alloc = alloc;
	return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	int r = buf_grow(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = buf_grow(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf_reset(struct buf *b)
{
	if (!b->data)
		buf_init(b, 0);
	b->len = 0;
	if (b->alloc)
		b->data[0] = '\0';
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

int buf_read_file(struct buf *b, const char *path)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = buf_read_fd(b, fd);
	close(fd);
	return r;
}

int buf_read_fd(struct buf *b, int fd)
{
	char tmp[65536];
	int r = 0;
	ssize_t n;

	buf_reset(b);
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		r = buf_add(b, tmp, (size_t)n);
		if (r < 0)
			break;
	}
	return r;
}

int buf_send(struct buf *b, int fd)
{
	ssize_t n;

	while (b->len) {
		n = send(fd, b->data, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			buf_consume(b, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}
