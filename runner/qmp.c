// SPDX-License-Identifier: MIT
/* A minimal QMP client: enough to ask qemu to quit before we resort to signals. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "runner/internal.h"

#define QMP_LINE_MAX (64 * 1024)
#define QMP_CONNECT_TICK_MS 10

static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int n;

	for (;;) {
		n = poll(&p, 1, ms_until(deadline_ms));
		if (n > 0)
			return 0;
		if (n == 0)
			return -IT_ETIMEOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int qmp_send(int fd, const char *msg, int64_t deadline_ms)
{
	size_t len = strlen(msg), done = 0;
	ssize_t n;
	int r;

	while (done < len) {
		n = send(fd, msg + done, len - done, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline_ms);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Read lines (QMP sends one JSON object per line) until one holds 'want':
 * 0. Events and the greeting are skipped; an "error" reply is -IT_EVM; end
 * of file is -ECONNRESET. The line that ended it goes into reply (may be
 * NULL).
 */
static int qmp_expect(int fd, struct buf *in, const char *want, char *reply, size_t replysz,
		      int64_t deadline_ms)
{
	char chunk[4096];
	char *nl;
	ssize_t n;
	int r;

	for (;;) {
		while ((nl = memchr(in->data, '\n', in->len)) != NULL) {
			size_t linelen = (size_t)(nl - in->data) + 1;
			bool found, error;

			*nl = '\0';
			found = strstr(in->data, want) != NULL;
			error = strstr(in->data, "\"error\"") != NULL;
			if ((found || error) && reply)
				snprintf(reply, replysz, "%s", in->data);
			buf_consume(in, linelen);
			if (found)
				return 0;
			if (error)
				return -IT_EVM;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n > 0) {
			r = buf_add(in, chunk, (size_t)n);
			if (r < 0)
				return r;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLIN, deadline_ms);
		if (r < 0)
			return r;
	}
}

static int qmp_connect(const char *path, int64_t deadline_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		r = -errno;
		close(fd);
		/* qemu makes its socket a moment after it starts. */
		if ((r != -ENOENT && r != -ECONNREFUSED) || now_ms() >= deadline_ms)
			return r;
		poll(NULL, 0, QMP_CONNECT_TICK_MS);
	}
}

int vmi_qmp_open(struct vmi_qmp *q, const char *path, int64_t deadline_ms)
{
	int r;

	buf_init(&q->in, QMP_LINE_MAX);
	q->fd = qmp_connect(path, deadline_ms);
	if (q->fd < 0)
		return q->fd;
	r = qmp_expect(q->fd, &q->in, "\"QMP\"", NULL, 0, deadline_ms);
	if (r == 0)
		r = qmp_send(q->fd, "{\"execute\": \"qmp_capabilities\"}\n", deadline_ms);
	if (r == 0)
		r = qmp_expect(q->fd, &q->in, "\"return\"", NULL, 0, deadline_ms);
	if (r < 0)
		vmi_qmp_close(q);
	return r;
}

void vmi_qmp_close(struct vmi_qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	buf_release(&q->in);
}

/* The command with fd passed along (SCM_RIGHTS) on its first byte, for "getfd". */
static int qmp_send_fd(int fd, const char *msg, int passfd, int64_t deadline_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	int r;

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	for (;;) {
		if (sendmsg(fd, &mh, MSG_NOSIGNAL) == 1)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline_ms);
		if (r < 0)
			return r;
	}
	return qmp_send(fd, msg + 1, deadline_ms);
}

int vmi_qmp_call(struct vmi_qmp *q, const char *cmd, int passfd, char *reply, size_t replysz,
		 int64_t deadline_ms)
{
	int r = passfd >= 0 ? qmp_send_fd(q->fd, cmd, passfd, deadline_ms)
			    : qmp_send(q->fd, cmd, deadline_ms);

	return r < 0 ? r : qmp_expect(q->fd, &q->in, "\"return\"", reply, replysz, deadline_ms);
}

int vmi_qmp_quit(const char *path, int64_t deadline_ms)
{
	struct vmi_qmp q;
	int r = vmi_qmp_open(&q, path, deadline_ms);

	if (r < 0)
		return r;
	r = vmi_qmp_call(&q, "{\"execute\": \"quit\"}\n", -1, NULL, 0, deadline_ms);
	/* qemu may close the socket before its answer to "quit" arrives. */
	if (r == -ECONNRESET)
		r = 0;
	vmi_qmp_close(&q);
	return r;
}
