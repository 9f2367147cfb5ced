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
 * of file is -ECONNRESET.
 */
static int qmp_expect(int fd, struct buf *in, const char *want, int64_t deadline_ms)
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

int vmi_qmp_quit(const char *path, int64_t deadline_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct buf in;
	int fd = -1, r;

	buf_init(&in, QMP_LINE_MAX);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	r = qmp_expect(fd, &in, "\"QMP\"", deadline_ms);
	if (r == 0)
		r = qmp_send(fd, "{\"execute\": \"qmp_capabilities\"}\n", deadline_ms);
	if (r == 0)
		r = qmp_expect(fd, &in, "\"return\"", deadline_ms);
	if (r == 0)
		r = qmp_send(fd, "{\"execute\": \"quit\"}\n", deadline_ms);
	if (r < 0)
		goto out;
	r = qmp_expect(fd, &in, "\"return\"", deadline_ms);
	/* qemu may close the socket before its answer to "quit" arrives. */
	if (r == -ECONNRESET)
		r = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&in);
	return r;
}
