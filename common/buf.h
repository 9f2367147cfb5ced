/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a hard size cap, always NUL-terminated, and a borrowed view. */
#ifndef IT_BUF_H
#define IT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * A {len, ptr} view that owns nothing (apk_blob_t). The bytes are not
 * necessarily NUL-terminated.
 */
struct blob {
	size_t len;
	const char *ptr;
};

#define BLOB_NULL ((struct blob){0, NULL})
static inline struct blob blob_str(const char *s)
{
	return (struct blob){s ? strlen(s) : 0, s};
}
static inline struct blob blob_mem(const void *p, size_t n)
{
	return (struct blob){n, (const char *)p};
}
bool blob_eq(struct blob a, struct blob b);
bool blob_eq_str(struct blob a, const char *s);
bool blob_starts(struct blob a, const char *prefix);
/* Split at the first 'sep': head gets what is before, *rest what is after. False if absent. */
bool blob_split(struct blob b, char sep, struct blob *head, struct blob *rest);
/* Parse an unsigned decimal number that fills the whole blob. */
bool blob_to_u64(struct blob b, unsigned long long *out);
/* Heap copy with a NUL; NULL on allocation failure. The caller owns it. */
char *blob_dup(struct blob b);

/*
 * Invariants (as git's strbuf): data is never NULL once initialized (it may
 * point at a shared empty string until the first growth), data[len] == '\0',
 * len <= max. Appending beyond max fails with -IT_ELIMIT and leaves the
 * buffer unchanged.
 */
struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t max; /* hard cap on len; 0 means SIZE_MAX / 2 */
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Take ownership of the bytes; the buffer is reset to empty. Never NULL. */
char *buf_detach(struct buf *b, size_t *len);
int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *p, size_t n);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
/* Drop the first n bytes (a sliding window). */
void buf_consume(struct buf *b, size_t n);
static inline struct blob buf_blob(const struct buf *b)
{
	return (struct blob){b->len, b->data};
}

/*
 * Send what b holds on the socket fd without blocking (MSG_DONTWAIT,
 * MSG_NOSIGNAL), consuming what went: 0 when it is all sent or the socket
 * is full (some may be left), -errno when the socket failed.
 */
int buf_send(struct buf *b, int fd);

/* Read a whole file into b (replacing its content). -errno on failure. */
int buf_read_file(struct buf *b, const char *path);
/* The same from an open fd, to its end of file (the fd stays open). */
int buf_read_fd(struct buf *b, int fd);

#endif
