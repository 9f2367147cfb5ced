/* SPDX-License-Identifier: MIT */
/* The agent's one poll() loop: the port, every child's pipes, timers; frames in, frames out. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent/guest/guest.h"

int64_t guest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t guest_room(const struct guest *g)
{
	return GUEST_OUTQ_MAX - g->out_len;
}

bool guest_send(struct guest *g, struct agent_fw *w)
{
	size_t n = agent_fw_end(w);

	if (n == 0) {
		glog("a %s frame does not fit in %d bytes: not sent", agent_type_name(w->buf[4]),
		     AGENT_FRAME_MAX);
		return false;
	}
	if (!g->connected)
		return false;
	if (n > guest_room(g)) {
		glog("the queue to the host is full: a %s frame is lost",
		     agent_type_name(w->buf[4]));
		return false;
	}
	if (g->out_head + g->out_len + n > GUEST_OUTQ_MAX) {
		memmove(g->outq, g->outq + g->out_head, g->out_len);
		g->out_head = 0;
	}
	memcpy(g->outq + g->out_head + g->out_len, w->buf, n);
	g->out_len += n;
	return true;
}

void guest_send_error(struct guest *g, uint32_t id, int errnum, const char *fmt, ...)
{
	struct agent_fw w;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agent_fw_begin(&w, g->frame, sizeof(g->frame), AGENT_ERROR, id);
	agent_fw_u64(&w, AGENT_T_ERRNO, (uint64_t)errnum);
	agent_fw_str(&w, AGENT_T_MESSAGE, msg);
	guest_send(g, &w);
}

void guest_hello(struct guest *g)
{
	struct agent_fw w;
	struct utsname u;
	char un[sizeof(u) + 8];

	if (uname(&u) < 0)
		snprintf(un, sizeof(un), "unknown");
	else
		snprintf(un, sizeof(un), "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
	agent_fw_begin(&w, g->frame, sizeof(g->frame), AGENT_HELLO, 0);
	agent_fw_u64(&w, AGENT_T_VERSION, AGENT_PROTO_VERSION);
	agent_fw_str(&w, AGENT_T_AGENT, "initrd-test-agent " GUEST_VERSION);
	agent_fw_u64(&w, AGENT_T_CAPS,
		     AGENT_CAP_EXEC | AGENT_CAP_STDIN | AGENT_CAP_KILL | AGENT_CAP_FILES);
	agent_fw_str(&w, AGENT_T_UNAME, un);
	agent_fw_str(&w, AGENT_T_TRANSPORT, g->transport);
	guest_send(g, &w);
}

/* The host went away (or the port failed): everything in flight is dropped with it. */
static void disconnect(struct guest *g, const char *why)
{
	exec_abort_all(g);
	xfer_abort_all(g);
	g->out_head = g->out_len = 0;
	g->in_off = g->in_len = 0;
	g->connected = false;
	if (g->fixed_fd)
		return;
	/* A port whose host side was never there yet is no trouble: only a lost host is. */
	if (g->dec.offset)
		glog("'%s': %s; waiting for the host", g->port_path, why);
	else
		ginfo("'%s': %s; waiting for the host", g->port_path, why);
	g->retry_ms = guest_now_ms() + GUEST_RECONNECT_MS;
}

static void connect_now(struct guest *g)
{
	g->connected = true;
	g->dec.offset = 0;
	agent_dec_reset(&g->dec);
	guest_hello(g);
}

static void try_reconnect(struct guest *g)
{
	int r = port_reopen(g);

	if (r == 1) {
		ginfo("'%s': the host is back", g->port_path);
		connect_now(g);
		return;
	}
	if (r < 0)
		glog("cannot open '%s' again: %s", g->port_path, strerror(-r));
	g->retry_ms = guest_now_ms() + GUEST_RECONNECT_MS;
}

static void handle_ping(struct guest *g)
{
	struct agent_fw w;
	struct agent_tlv t;
	size_t off = 0;

	agent_fw_begin(&w, g->frame, sizeof(g->frame), AGENT_PONG, g->dec.id);
	while (agent_tlv_next(g->dec.payload, g->dec.len, &off, &t) == 1)
		if (t.tag == AGENT_T_DATA && t.len <= AGENT_DATA_MAX)
			agent_fw_bytes(&w, AGENT_T_DATA, t.val, t.len);
	guest_send(g, &w);
}

/*
 * RESUME: this VM was restored from a checkpoint. The clock jumps to the
 * host's time, whatever was in flight is dropped as on a reconnect (the
 * host that asked for it is gone), and HELLO goes out again.
 */
static void handle_resume(struct guest *g)
{
	struct agent_tlv t;
	size_t off = 0;
	uint64_t ns = 0;
	struct timespec ts;

	while (agent_tlv_next(g->dec.payload, g->dec.len, &off, &t) == 1)
		if (t.tag == AGENT_T_TIME_NS && !agent_tlv_u64(&t, &ns))
			ns = 0;
	exec_abort_all(g);
	xfer_abort_all(g);
	g->out_head = g->out_len = 0;
	if (ns) {
		ts.tv_sec = (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		if (clock_settime(CLOCK_REALTIME, &ts) < 0)
			glog("cannot set the clock after a restore: %s", strerror(errno));
	}
	ginfo("restored from a checkpoint: clock set, saying HELLO again");
	guest_hello(g);
}

static void handle_kill(struct guest *g)
{
	struct agent_fw w;
	struct agent_tlv t;
	size_t off = 0;
	uint64_t target = 0;
	bool have = false;

	while (agent_tlv_next(g->dec.payload, g->dec.len, &off, &t) == 1)
		if (t.tag == AGENT_T_TARGET)
			have = agent_tlv_u64(&t, &target);
	if (!have || target == 0 || target > UINT32_MAX) {
		guest_send_error(g, g->dec.id, EINVAL, "KILL without a valid target");
		return;
	}
	if (!exec_kill(g, (uint32_t)target) && !xfer_cancel(g, (uint32_t)target)) {
		guest_send_error(g, g->dec.id, ESRCH, "no request %llu in flight",
				 (unsigned long long)target);
		return;
	}
	agent_fw_begin(&w, g->frame, sizeof(g->frame), AGENT_OK, g->dec.id);
	guest_send(g, &w);
}

static void dispatch(struct guest *g)
{
	const uint8_t *p = g->dec.payload;
	uint32_t id = g->dec.id;
	size_t n = g->dec.len;

	if (id == 0 && g->dec.type == AGENT_RESUME) {
		handle_resume(g);
		return;
	}
	if (id == 0) {
		guest_send_error(g, 0, EINVAL, "a %s request with id 0 (reserved)",
				 agent_type_name(g->dec.type));
		return;
	}
	switch (g->dec.type) {
	case AGENT_PING:
		handle_ping(g);
		break;
	case AGENT_EXEC:
		exec_start(g, id, p, n);
		break;
	case AGENT_KILL:
		handle_kill(g);
		break;
	case AGENT_WRITE_BEGIN:
		xfer_write_begin(g, id, p, n);
		break;
	case AGENT_WRITE_DATA:
		xfer_write_data(g, id, p, n);
		break;
	case AGENT_WRITE_END:
		xfer_write_end(g, id, p, n);
		break;
	case AGENT_READ:
		xfer_read_begin(g, id, p, n);
		break;
	default:
		guest_send_error(g, id, ENOSYS, "unknown request type 0x%02x (%s)", g->dec.type,
				 agent_type_name(g->dec.type));
		break;
	}
}

/* After a bad frame from the host: skip to the next magic, so one bad frame costs only itself. */
static void resync(struct guest *g)
{
	static const uint8_t magic[4] = {AGENT_MAGIC0, AGENT_MAGIC1, AGENT_MAGIC2, AGENT_MAGIC3};

	while (g->in_off < g->in_len) {
		size_t left = g->in_len - g->in_off;
		size_t cmp = left < 4 ? left : 4;

		if (memcmp(g->in + g->in_off, magic, cmp) == 0)
			break;
		g->in_off++;
		g->dec.offset++;
	}
	agent_dec_reset(&g->dec);
}

/* Take frames from the input buffer while a reply is sure to fit. */
static void handle_input(struct guest *g)
{
	while (g->connected && g->in_off < g->in_len && guest_room(g) >= GUEST_PORT_ROOM) {
		size_t used = 0;
		int r = agent_dec_feed(&g->dec, g->in + g->in_off, g->in_len - g->in_off, &used);

		g->in_off += used;
		if (r == 1) {
			dispatch(g);
			continue;
		}
		if (r < 0) {
			guest_send_error(g, 0, EPROTO, "bad frame from the host at byte %llu: %s",
					 (unsigned long long)g->dec.err_at,
					 agent_derr_str(g->dec.err));
			resync(g);
		}
	}
	if (g->in_off == g->in_len)
		g->in_off = g->in_len = 0;
}

static void read_port(struct guest *g)
{
	ssize_t n = read(g->port_fd, g->in, sizeof(g->in));

	if (n > 0) {
		g->in_off = 0;
		g->in_len = (size_t)n;
		handle_input(g);
		return;
	}
	if (n == 0)
		disconnect(g, "end of file");
	else if (errno != EAGAIN && errno != EINTR)
		disconnect(g, strerror(errno));
}

static void flush_port(struct guest *g)
{
	while (g->connected && g->out_len) {
		ssize_t n = write(g->port_fd, g->outq + g->out_head, g->out_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				disconnect(g, strerror(errno));
			return;
		}
		g->out_head += (size_t)n;
		g->out_len -= (size_t)n;
	}
	if (g->out_len == 0)
		g->out_head = 0;
}

enum { SLOT_SIG = 0, SLOT_PORT, SLOT_JOBS };
#define MAX_SLOTS (SLOT_JOBS + 3 * GUEST_MAX_EXECS)

struct slot_ref {
	struct exec_job *job;
	int what; /* STREAM_OUT, STREAM_ERR, or 2: stdin */
};

static int build_pollfds(struct guest *g, struct pollfd *pfd, struct slot_ref *ref)
{
	int n = SLOT_JOBS;

	pfd[SLOT_SIG] = (struct pollfd){g->sig_fd[0], POLLIN, 0};
	pfd[SLOT_PORT] = (struct pollfd){-1, 0, 0};
	if (g->connected) {
		short ev = 0;

		if (g->in_len == 0 && guest_room(g) >= GUEST_PORT_ROOM)
			ev |= POLLIN;
		if (g->out_len)
			ev |= POLLOUT;
		if (ev)
			pfd[SLOT_PORT] = (struct pollfd){g->port_fd, ev, 0};
	}
	for (int i = 0; i < GUEST_MAX_EXECS; i++) {
		struct exec_job *j = &g->execs[i];

		if (!j->used)
			continue;
		for (int s = 0; s < 2; s++) {
			bool forward = j->sent[s] < j->max[s];

			if (j->fd[s] < 0 || (forward && guest_room(g) < GUEST_DATA_ROOM))
				continue;
			pfd[n] = (struct pollfd){j->fd[s], POLLIN, 0};
			ref[n++] = (struct slot_ref){j, s};
		}
		if (j->in_fd >= 0) {
			pfd[n] = (struct pollfd){j->in_fd, POLLOUT, 0};
			ref[n++] = (struct slot_ref){j, 2};
		}
	}
	return n;
}

static int poll_timeout(struct guest *g, int64_t now, int64_t next, bool busy)
{
	if (busy && guest_room(g) >= GUEST_DATA_ROOM)
		return 0;
	if (!g->connected && !g->fixed_fd && (next < 0 || g->retry_ms < next))
		next = g->retry_ms;
	if (next < 0)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

static void handle_events(struct guest *g, struct pollfd *pfd, struct slot_ref *ref, int n)
{
	if (pfd[SLOT_SIG].revents)
		exec_reap(g);
	if (pfd[SLOT_PORT].fd >= 0 && pfd[SLOT_PORT].revents) {
		short re = pfd[SLOT_PORT].revents;

		if (re & POLLOUT)
			flush_port(g);
		if (g->connected && (re & POLLIN))
			read_port(g);
		else if (g->connected && (re & (POLLHUP | POLLERR | POLLNVAL)))
			disconnect(g, "hung up");
	}
	for (int i = SLOT_JOBS; i < n; i++) {
		struct exec_job *j = ref[i].job;

		if (!pfd[i].revents || !j->used)
			continue;
		if (ref[i].what == 2)
			exec_write_stdin(g, j);
		else if (j->fd[ref[i].what] == pfd[i].fd)
			exec_read(g, j, ref[i].what, false);
	}
}

/*
 * Serve until the port (in --fd mode) ends; in the VM it never returns.
 * Every turn: timers, finished jobs, file chunks, queued input, the queue
 * written out, then one poll() whose timeout is the next deadline.
 */
int guest_run(struct guest *g)
{
	struct pollfd pfd[MAX_SLOTS];
	struct slot_ref ref[MAX_SLOTS];

	connect_now(g);
	for (;;) {
		int64_t now = guest_now_ms(), next = -1;
		bool busy = false;
		int n, r;

		if (!g->connected && g->fixed_fd)
			return 0;
		if (!g->connected && now >= g->retry_ms)
			try_reconnect(g);
		exec_timers(g, now, &next);
		exec_finish_ready(g);
		if (g->connected) {
			busy = xfer_pump(g);
			handle_input(g);
			flush_port(g);
		}
		if (!g->connected && g->fixed_fd)
			return 0;
		n = build_pollfds(g, pfd, ref);
		r = poll(pfd, (nfds_t)n, poll_timeout(g, now, next, busy));
		if (r < 0 && errno != EINTR) {
			glog("poll: %s", strerror(errno));
			continue;
		}
		if (r > 0)
			handle_events(g, pfd, ref, n);
	}
}
