// SPDX-License-Identifier: MIT
/* A guest agent client in another process: agent frames over the VM's console hub. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "runner/runner.h"
#include "src/remote.h"
#include "src/running.h"
#include "src/signals.h"

#define READ_CHUNK (64 * 1024)
#define OUT_MAX (4 * (VM_HUB_FRAME_MAX + VM_HUB_FRAME_HDR))

struct remote {
	int fd; /* the console socket, non-blocking */
	struct agent_client *client;
	struct buf in;	/* hub frames not whole yet */
	struct buf out; /* hub frames not sent yet */
	char name[VM_HUB_NAME_MAX + 8];
	char bye[256]; /* the hub's reason, once it said BYE */
	bool closed;
};

int remote_open(struct remote **out, const char *what, agent_event_fn fn, void *ctx,
		struct it_error *err)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	const struct vm_hub_entry *vm = NULL;
	struct remote *r = calloc(1, sizeof(*r));
	int ret;

	*out = NULL;
	if (!r)
		return it_error_set(err, -ENOMEM, "out of memory");
	r->fd = -1;
	buf_init(&r->in, 2 * (VM_HUB_FRAME_MAX + VM_HUB_FRAME_HDR) + READ_CHUNK);
	buf_init(&r->out, 0);
	ret = running_find(&list, what, &vm, err);
	if (ret == 0)
		ret = vm_hub_connect(vm, &r->fd, err);
	if (ret == 0) {
		snprintf(r->name, sizeof(r->name), "%s", vm->name);
		fcntl(r->fd, F_SETFL, O_RDWR | O_NONBLOCK);
		ret = vm_hub_frame_add(&r->out, VM_HUB_QUIET, NULL, 0);
	}
	if (ret == 0)
		ret = agent_client_new(&r->client, fn, ctx);
	vm_hub_list_release(&list);
	if (ret < 0) {
		if (!err->code)
			it_error_set(err, ret, "cannot reach the VM: %s", it_strerror(ret));
		remote_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

void remote_close(struct remote *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	agent_client_free(r->client);
	buf_release(&r->in);
	buf_release(&r->out);
	free(r);
}

struct agent_client *remote_client(struct remote *r)
{
	return r->client;
}

const char *remote_name(const struct remote *r)
{
	return r->name;
}

/* The agent client's queue into AGENT frames, as far as our own queue takes them. */
static int queue_frames(struct remote *r)
{
	struct blob q = agent_client_output(r->client);
	int ret = 0;

	while (q.len && r->out.len < OUT_MAX && ret == 0) {
		size_t n = q.len > VM_HUB_FRAME_MAX ? VM_HUB_FRAME_MAX : q.len;

		ret = vm_hub_frame_add(&r->out, VM_HUB_AGENT, q.ptr, n);
		if (ret == 0) {
			agent_client_output_consume(r->client, n);
			q = agent_client_output(r->client);
		}
	}
	return ret;
}

static int send_some(struct remote *r)
{
	return buf_send(&r->out, r->fd);
}

/* Whole frames from the hub: AGENT into the client, BYE ends it; the rest is not ours. */
static int take_frames(struct remote *r, struct it_error *err)
{
	struct blob payload;
	size_t size;
	int type, ret;

	while ((size = vm_hub_frame_parse(&r->in, &type, &payload)) > 0) {
		if (type == VM_HUB_AGENT) {
			ret = agent_client_feed(r->client, payload.ptr, payload.len, now_ms(), err);
			if (ret < 0)
				return ret;
		} else if (type == VM_HUB_BYE) {
			snprintf(r->bye, sizeof(r->bye), "%.*s", (int)payload.len, payload.ptr);
			r->closed = true;
		}
		buf_consume(&r->in, size);
	}
	return 0;
}

static int read_some(struct remote *r, struct it_error *err)
{
	char chunk[READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = recv(r->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			r->closed = true;
			return 0;
		}
		if (buf_add(&r->in, chunk, (size_t)n) < 0)
			return it_error_set(err, -IT_ELIMIT,
					    "'%s': a frame from the hub is too long", r->name);
		n = take_frames(r, err);
		if (n < 0)
			return (int)n;
	}
}

/* The hub's end: its BYE says why; the agent's requests end there. */
static int gone(struct remote *r, struct it_error *err)
{
	it_error_set(err, -IT_EVM, "'%s' closed the connection%s%s", r->name, r->bye[0] ? ": " : "",
		     r->bye);
	if (!r->bye[0] || strstr(r->bye, "exited") || strstr(r->bye, "powered off"))
		it_error_hint(err, "'initrd-test ps' lists the VMs that run now");
	return -IT_EVM;
}

static int one_turn(struct remote *r, int sfd, int64_t deadline_ms, struct it_error *err)
{
	struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
	struct signalfd_siginfo si;
	int ret;

	/* More waits in the client's queue too: the next turn moves it once the socket takes more.
	 */
	if (r->out.len || agent_client_output(r->client).len)
		p[0].events |= POLLOUT;
	ret = poll(p, 2, ms_until(deadline_ms));
	if (ret < 0 && errno == EINTR)
		return 0;
	if (ret < 0)
		return it_error_set(err, -errno, "cannot wait for '%s': %s", r->name,
				    strerror(errno));
	if (p[1].revents && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		return it_error_set(err, -IT_EINTERRUPTED, "interrupted by %s",
				    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
	if (p[0].revents & POLLOUT) {
		ret = send_some(r);
		if (ret < 0)
			r->closed = true;
	}
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
		return read_some(r, err);
	return 0;
}

int remote_run(struct remote *r, const bool *done, int64_t deadline_ms, int (*tick)(void *ctx),
	       void *ctx, struct it_error *err)
{
	sigset_t mask, old;
	int sfd, ret = 0;

	sig_interrupt_set(&mask);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return it_error_set(err, -errno, "cannot watch signals: %s", strerror(errno));
	}
	while (ret == 0 && !*done) {
		if (tick)
			ret = tick(ctx);
		if (ret == 0)
			ret = queue_frames(r);
		if (ret == 0)
			ret = send_some(r) < 0 ? (r->closed = true, 0) : 0;
		if (ret == 0 && r->closed)
			ret = gone(r, err);
		else if (ret == 0 && deadline_ms >= 0 && now_ms() >= deadline_ms)
			ret =
			    it_error_set(err, -IT_ETIMEOUT, "no answer from '%s' in time", r->name);
		else if (ret == 0)
			ret = one_turn(r, sfd, deadline_ms, err);
	}
	close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return *done ? 0 : ret;
}
