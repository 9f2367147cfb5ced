/* SPDX-License-Identifier: MIT */
/* File copies: WRITE into a temp file checked (size, SHA-256), fsync'ed and renamed; READ in
 * chunks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/guest/guest.h"

#define DEFAULT_MODE 0644

bool xfer_id_busy(const struct guest *g, uint32_t id)
{
	for (int i = 0; i < GUEST_MAX_XFERS; i++)
		if (g->xfers[i].used && g->xfers[i].id == id)
			return true;
	return false;
}

static struct xfer *find_xfer(struct guest *g, uint32_t id)
{
	for (int i = 0; i < GUEST_MAX_XFERS; i++)
		if (g->xfers[i].used && g->xfers[i].id == id)
			return &g->xfers[i];
	return NULL;
}

static struct xfer *new_xfer(struct guest *g, uint32_t id)
{
	if (exec_id_busy(g, id) || xfer_id_busy(g, id)) {
		guest_send_error(g, id, EEXIST, "request %u is in flight already", id);
		return NULL;
	}
	for (int i = 0; i < GUEST_MAX_XFERS; i++) {
		struct xfer *x = &g->xfers[i];

		if (x->used)
			continue;
		memset(x, 0, sizeof(*x));
		x->id = id;
		x->fd = -1;
		agent_sha256_init(&x->sha);
		return x;
	}
	guest_send_error(g, id, EAGAIN, "too many file copies at once (%d)", GUEST_MAX_XFERS);
	return NULL;
}

static void release(struct xfer *x)
{
	if (x->fd >= 0)
		close(x->fd);
	if (x->writing && x->tmp[0])
		unlink(x->tmp);
	x->fd = -1;
	x->used = false;
}

/* Fail a copy: the error to the host, the temp file removed. */
static void fail(struct guest *g, struct xfer *x, int errnum, const char *what)
{
	guest_send_error(g, x->id, errnum, "cannot %s '%s': %s", what, x->path, strerror(errnum));
	release(x);
}

/* PATH (absolute, no NUL), and for a write MODE and SIZE. 0 or an errno, message sent. */
static int parse_file(struct guest *g, uint32_t id, const uint8_t *p, size_t n, struct xfer *x,
		      bool *have_size)
{
	struct agent_tlv t;
	size_t off = 0;
	uint64_t v;
	int r;

	x->mode = DEFAULT_MODE;
	while ((r = agent_tlv_next(p, n, &off, &t)) == 1) {
		if (t.tag == AGENT_T_PATH) {
			if (t.len == 0 || t.len >= sizeof(x->path) || memchr(t.val, '\0', t.len) ||
			    t.val[0] != '/') {
				guest_send_error(g, id, EINVAL,
						 "the path must be absolute, without NUL");
				return EINVAL;
			}
			memcpy(x->path, t.val, t.len);
			x->path[t.len] = '\0';
		} else if (t.tag == AGENT_T_MODE && agent_tlv_u64(&t, &v)) {
			x->mode = (unsigned)(v & 07777);
		} else if (t.tag == AGENT_T_SIZE && agent_tlv_u64(&t, &v)) {
			x->size = v;
			*have_size = true;
		}
	}
	if (r < 0 || !x->path[0]) {
		guest_send_error(g, id, EINVAL,
				 r < 0 ? "fields overrun the frame" : "no path given");
		return EINVAL;
	}
	return 0;
}

void xfer_write_begin(struct guest *g, uint32_t id, const uint8_t *p, size_t n)
{
	struct xfer *x = new_xfer(g, id);
	const char *slash;
	bool have_size = false;

	if (!x)
		return;
	if (parse_file(g, id, p, n, x, &have_size) != 0)
		return;
	if (!have_size) {
		guest_send_error(g, id, EINVAL, "WRITE_BEGIN without a size");
		return;
	}
	x->used = true;
	x->writing = true;
	slash = strrchr(x->path, '/');
	snprintf(x->tmp, sizeof(x->tmp), "%.*s/.%s.agent-%u.tmp", (int)(slash - x->path), x->path,
		 slash + 1, id);
	x->fd = open(x->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (x->fd < 0) {
		x->tmp[0] = '\0'; /* not ours to remove */
		fail(g, x, errno, "create a temp file for");
	}
}

void xfer_write_data(struct guest *g, uint32_t id, const uint8_t *p, size_t n)
{
	struct xfer *x = find_xfer(g, id);
	struct agent_tlv t;
	size_t off = 0;

	/* A copy that failed already was answered: the rest of its data is dropped. */
	if (!x || !x->writing)
		return;
	while (agent_tlv_next(p, n, &off, &t) == 1) {
		const uint8_t *d = t.val;
		size_t left = t.len;

		if (t.tag != AGENT_T_DATA)
			continue;
		if (t.len > x->size - x->done) {
			fail(g, x, EFBIG, "write more than the announced size to");
			return;
		}
		agent_sha256_update(&x->sha, d, left);
		while (left) {
			ssize_t w = write(x->fd, d, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				fail(g, x, errno, "write");
				return;
			}
			d += w;
			left -= (size_t)w;
		}
		x->done += t.len;
	}
}

static void fsync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static bool end_checks(struct guest *g, struct xfer *x, const uint8_t *p, size_t n,
		       uint8_t sum[AGENT_SHA256_LEN])
{
	char got[2 * AGENT_SHA256_LEN + 1], want[2 * AGENT_SHA256_LEN + 1];
	struct agent_tlv t;
	const uint8_t *given = NULL;
	size_t off = 0;

	while (agent_tlv_next(p, n, &off, &t) == 1)
		if (t.tag == AGENT_T_SHA256 && t.len == AGENT_SHA256_LEN)
			given = t.val;
	agent_sha256_final(&x->sha, sum);
	if (x->done != x->size) {
		guest_send_error(g, x->id, EIO, "cannot write '%s': %llu bytes received of %llu",
				 x->path, (unsigned long long)x->done, (unsigned long long)x->size);
		return false;
	}
	if (!given || memcmp(given, sum, AGENT_SHA256_LEN) != 0) {
		agent_sha256_hex(sum, got);
		if (given)
			agent_sha256_hex(given, want);
		guest_send_error(g, x->id, EBADMSG,
				 "cannot write '%s': SHA-256 of the data is %s, expected %s",
				 x->path, got, given ? want : "(none given)");
		return false;
	}
	return true;
}

void xfer_write_end(struct guest *g, uint32_t id, const uint8_t *p, size_t n)
{
	struct xfer *x = find_xfer(g, id);
	uint8_t sum[AGENT_SHA256_LEN];
	struct agent_fw w;

	if (!x || !x->writing)
		return;
	if (!end_checks(g, x, p, n, sum)) {
		release(x);
		return;
	}
	if (fchmod(x->fd, x->mode) < 0) {
		fail(g, x, errno, "set the mode of");
		return;
	}
	if (fsync(x->fd) < 0) {
		fail(g, x, errno, "fsync");
		return;
	}
	if (rename(x->tmp, x->path) < 0) {
		fail(g, x, errno, "rename the temp file to");
		return;
	}
	x->tmp[0] = '\0';
	fsync_dir(x->path);
	agent_fw_begin(&w, g->frame, sizeof(g->frame), AGENT_OK, id);
	agent_fw_u64(&w, AGENT_T_SIZE, x->done);
	agent_fw_bytes(&w, AGENT_T_SHA256, sum, sizeof(sum));
	guest_send(g, &w);
	release(x);
}

void xfer_read_begin(struct guest *g, uint32_t id, const uint8_t *p, size_t n)
{
	struct xfer *x = new_xfer(g, id);
	bool have_size = false;
	struct stat st;

	if (!x)
		return;
	if (parse_file(g, id, p, n, x, &have_size) != 0)
		return;
	x->used = true;
	/* O_NONBLOCK: a FIFO must not hang the agent; it is refused below. */
	x->fd = open(x->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (x->fd < 0) {
		fail(g, x, errno, "open");
		return;
	}
	if (fstat(x->fd, &st) < 0) {
		fail(g, x, errno, "stat");
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(g, x, S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "read (not a regular file)");
		return;
	}
	fcntl(x->fd, F_SETFL, 0);
}

static void read_chunk(struct guest *g, struct xfer *x)
{
	uint8_t sum[AGENT_SHA256_LEN];
	struct agent_fw w;
	ssize_t n;

	do
		n = read(x->fd, g->scratch, sizeof(g->scratch));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		fail(g, x, errno, "read");
		return;
	}
	if (n > 0) {
		agent_sha256_update(&x->sha, g->scratch, (size_t)n);
		x->done += (uint64_t)n;
		agent_fw_begin(&w, g->frame, sizeof(g->frame), AGENT_FILE_DATA, x->id);
		agent_fw_bytes(&w, AGENT_T_DATA, g->scratch, (size_t)n);
		guest_send(g, &w);
		return;
	}
	agent_sha256_final(&x->sha, sum);
	agent_fw_begin(&w, g->frame, sizeof(g->frame), AGENT_FILE_END, x->id);
	agent_fw_u64(&w, AGENT_T_SIZE, x->done);
	agent_fw_bytes(&w, AGENT_T_SHA256, sum, sizeof(sum));
	guest_send(g, &w);
	release(x);
}

bool xfer_pump(struct guest *g)
{
	bool pending = false;

	for (int i = 0; i < GUEST_MAX_XFERS; i++) {
		struct xfer *x = &g->xfers[i];

		if (!x->used || x->writing)
			continue;
		if (guest_room(g) >= GUEST_DATA_ROOM)
			read_chunk(g, x);
		pending |= x->used;
	}
	return pending;
}

bool xfer_cancel(struct guest *g, uint32_t target)
{
	struct xfer *x = find_xfer(g, target);

	if (!x)
		return false;
	guest_send_error(g, x->id, ECANCELED, "'%s': cancelled", x->path);
	release(x);
	return true;
}

void xfer_abort_all(struct guest *g)
{
	for (int i = 0; i < GUEST_MAX_XFERS; i++)
		if (g->xfers[i].used)
			release(&g->xfers[i]);
}
