// SPDX-License-Identifier: MIT
/* The console hub: a unix socket through which any number of clients watch and type on a VM. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "runner/internal.h"

#define READ_CHUNK 4096
#define IN_MAX (VM_HUB_FRAME_HDR + VM_HUB_FRAME_MAX + READ_CHUNK)
#define REPLAY_CHUNK (16 * 1024)
#define NAME_TRIES 32
#define LISTEN_BACKLOG 32
/* How long a retiring hub waits for its clients to take their last bytes. */
#define RETIRE_FLUSH_MS 300
#define INFO_MAX (8 * 1024)
/*
 * Room kept free in each client's queue for frames other than OUTPUT (STATUS,
 * NOTICE, BYE): console output never takes it, so a client that lags behind
 * still gets its goodbye.
 */
#define CONTROL_RESERVE (16 * 1024)
/* A client that skipped output is told so once its queue has drained to this. */
#define RESUME_AT (VM_HUB_CLIENT_QUEUE_MAX / 2)

struct hub_client {
	int fd;
	unsigned id;	     /* never reused by this hub: what the agent relay knows it by */
	bool agent;	     /* it sent AGENT frames: the relay hears when it leaves */
	bool quiet;	     /* QUIET: no console output for it */
	struct buf out;	     /* frames not sent yet (cap VM_HUB_CLIENT_QUEUE_MAX) */
	struct buf in;	     /* bytes of a frame not complete yet */
	bool closing;	     /* BYE queued: close once it has been sent */
	bool told_keyboard;  /* got the notice that another client holds the keyboard */
	uint64_t skipped;    /* console bytes not sent since the last skip notice */
	unsigned rows, cols; /* last WINSIZE, 0 when none */
	uint64_t winsize_seq;
};

struct vm_hub {
	int listen_fd;
	bool retired;
	bool poweroff; /* a client asked; vm_run() carries it out */
	int keyboard;  /* index of the client holding the keyboard, -1 when free */
	uint64_t seq;
	unsigned next_id;	  /* the next client's id, from 1 */
	const struct vm_ops *ops; /* the loop's callbacks while vmi_hub_handle() runs */
	void *ctx;
	int cb_err;  /* the first negative result of ops->on_hub_agent in this round */
	pid_t owner; /* the process that made the files (a forked child must not remove them) */
	int64_t started;
	char *name;
	char *scenario;
	char *sock_path;
	char *info_path;
	struct buf scratch; /* one INPUT payload, cursor reports removed */
	size_t ring_head;   /* where the next console byte goes */
	size_t ring_len;
	struct vm_hub *next_live;
	struct hub_client clients[VM_HUB_CLIENTS_MAX];
	char ring[VM_HUB_RING];
};

/* Hubs whose files exist, for the exit handler. */
static struct vm_hub *live_hubs;
static bool exit_handler_set;

static void remove_files_at_exit(void)
{
	for (struct vm_hub *h = live_hubs; h; h = h->next_live) {
		if (h->owner != getpid())
			continue;
		unlink(h->sock_path);
		unlink(h->info_path);
	}
}

static void live_add(struct vm_hub *h)
{
	if (!exit_handler_set && atexit(remove_files_at_exit) == 0)
		exit_handler_set = true;
	h->next_live = live_hubs;
	live_hubs = h;
}

static void live_remove(struct vm_hub *h)
{
	for (struct vm_hub **p = &live_hubs; *p; p = &(*p)->next_live) {
		if (*p == h) {
			*p = h->next_live;
			break;
		}
	}
	h->next_live = NULL;
}

void vmi_hub_flatten(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
	}
}

/* The length of the cursor-position report ESC [ digits ; digits R at p, 0 if there is none. */
static size_t cpr_len(const char *p, size_t len)
{
	size_t i = 2, start;

	if (len < 6 || p[0] != '\033' || p[1] != '[')
		return 0;
	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == 2 || i >= len || p[i] != ';')
		return 0;
	start = ++i;
	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == start || i >= len || p[i] != 'R')
		return 0;
	return i + 1;
}

size_t vmi_hub_strip_cpr(char *buf, size_t len)
{
	size_t i = 0, o = 0, n;

	while (i < len) {
		n = cpr_len(buf + i, len - i);
		if (n) {
			i += n;
			continue;
		}
		buf[o++] = buf[i++];
	}
	return o;
}

/* ---- clients ---- */

static void client_close(struct vm_hub *h, int i)
{
	struct hub_client *c = &h->clients[i];
	int r;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	/* The agent relay forgets its requests (and stops what they left running). */
	if (c->agent && h->ops && h->ops->on_hub_agent) {
		r = h->ops->on_hub_agent(h->ctx, c->id, NULL, 0);
		if (r < 0 && !h->cb_err)
			h->cb_err = r;
	}
	c->agent = false;
	c->quiet = false;
	buf_release(&c->out);
	buf_release(&c->in);
	c->closing = false;
	c->told_keyboard = false;
	c->skipped = 0;
	c->rows = c->cols = 0;
	if (h->keyboard != i)
		return;
	/* The keyboard is free again: whoever types next takes it. */
	h->keyboard = -1;
	for (int k = 0; k < VM_HUB_CLIENTS_MAX; k++)
		h->clients[k].told_keyboard = false;
}

/* Send what the queue holds without blocking: 0 (maybe some left), or -errno. */
static int client_flush(struct hub_client *c)
{
	return buf_send(&c->out, c->fd);
}

/*
 * Queue a frame other than OUTPUT. Those are few and small and have the
 * queue's reserve to themselves: one that does not fit all the same means a
 * client that sends frames and never reads; it is dropped, so that it never
 * holds up the loop.
 */
static void client_queue(struct vm_hub *h, int i, int type, const void *p, size_t len)
{
	struct hub_client *c = &h->clients[i];

	if (c->fd < 0 || c->closing)
		return;
	if (vm_hub_frame_add(&c->out, type, p, len) == 0)
		return;
	log_debug("console hub '%s': client %d fell %zu bytes behind, disconnected", h->name, i,
		  c->out.len);
	client_close(h, i);
}

/*
 * Tell a client how much console output it missed, once its queue has
 * drained to RESUME_AT (at once with 'now'); its output resumes after it.
 */
static void client_tell_skipped(struct vm_hub *h, int i, bool now)
{
	struct hub_client *c = &h->clients[i];
	char text[128];

	if (c->fd < 0 || c->closing || !c->skipped || (!now && c->out.len > RESUME_AT))
		return;
	snprintf(text, sizeof(text),
		 "%llu bytes of console output skipped: this terminal was too slow",
		 (unsigned long long)c->skipped);
	c->skipped = 0;
	client_queue(h, i, VM_HUB_NOTICE, text, strlen(text));
}

/*
 * Queue console output. A client too slow to take it is kept: what does not
 * fit is skipped whole (never part of a frame), counted, and everything is
 * skipped until the queue has drained to RESUME_AT and the count is sent in a
 * NOTICE, so that a gap is never hidden between two frames. The queue stays
 * within its cap, the reserve for other frames left free.
 */
static void client_output(struct vm_hub *h, int i, const char *p, size_t len)
{
	struct hub_client *c = &h->clients[i];

	if (c->fd < 0 || c->closing || c->quiet)
		return;
	client_tell_skipped(h, i, false);
	if (!c->skipped &&
	    c->out.len + VM_HUB_FRAME_HDR + len <= VM_HUB_CLIENT_QUEUE_MAX - CONTROL_RESERVE &&
	    vm_hub_frame_add(&c->out, VM_HUB_OUTPUT, p, len) == 0)
		return;
	if (!c->skipped)
		log_debug("console hub '%s': client %d is %zu bytes behind, skipping output",
			  h->name, i, c->out.len);
	c->skipped += len;
}

static void client_notice(struct vm_hub *h, int i, const char *text)
{
	client_queue(h, i, VM_HUB_NOTICE, text, strlen(text));
}

/* Say goodbye, then close once the queue is sent. */
static void client_bye(struct vm_hub *h, int i, const char *reason)
{
	struct hub_client *c = &h->clients[i];

	client_queue(h, i, VM_HUB_BYE, reason, strlen(reason));
	if (c->fd < 0)
		return;
	c->closing = true;
	if (client_flush(c) < 0 || c->out.len == 0)
		client_close(h, i);
}

static void client_input(struct vm *vm, int i, struct blob payload)
{
	struct vm_hub *h = vm->hub;
	struct hub_client *c = &h->clients[i];
	int r;

	buf_reset(&h->scratch);
	if (buf_add(&h->scratch, payload.ptr, payload.len) < 0)
		return;
	h->scratch.len = vmi_hub_strip_cpr(h->scratch.data, h->scratch.len);
	h->scratch.data[h->scratch.len] = '\0';
	if (h->scratch.len == 0)
		return;
	if (h->keyboard >= 0 && h->keyboard != i) {
		if (!c->told_keyboard)
			client_notice(h, i,
				      "the keyboard is held by another client: input dropped");
		c->told_keyboard = true;
		return;
	}
	r = vm_write(vm, h->scratch.data, h->scratch.len);
	if (r == 0) {
		h->keyboard = i;
		return;
	}
	client_notice(h, i,
		      r == -IT_ELIMIT ? "input dropped: the console is not taking it"
				      : "input dropped: the console is closed");
}

static unsigned get_u16(const char *p)
{
	return ((unsigned)(unsigned char)p[0] << 8) | (unsigned char)p[1];
}

/* Agent bytes from a client: to the relay, or BYE when nobody here serves an agent. */
static void client_agent(struct vm *vm, int i, struct blob payload)
{
	struct vm_hub *h = vm->hub;
	struct hub_client *c = &h->clients[i];
	int r;

	if (!h->ops || !h->ops->on_hub_agent) {
		client_bye(h, i,
			   "no agent here: this VM's harness does not serve the agent channel");
		return;
	}
	c->agent = true;
	r = h->ops->on_hub_agent(h->ctx, c->id, payload.ptr, payload.len);
	if (r < 0 && !h->cb_err)
		h->cb_err = r;
}

static void client_frame(struct vm *vm, int i, int type, struct blob payload)
{
	struct vm_hub *h = vm->hub;
	struct hub_client *c = &h->clients[i];

	switch (type) {
	case VM_HUB_INPUT:
		client_input(vm, i, payload);
		break;
	case VM_HUB_WINSIZE:
		if (payload.len != 4)
			break;
		c->rows = get_u16(payload.ptr);
		c->cols = get_u16(payload.ptr + 2);
		c->winsize_seq = ++h->seq;
		break;
	case VM_HUB_DETACH:
		client_bye(h, i, "detached");
		break;
	case VM_HUB_AGENT:
		client_agent(vm, i, payload);
		break;
	case VM_HUB_QUIET:
		c->quiet = true;
		break;
	case VM_HUB_POWEROFF:
		h->poweroff = true;
		for (int k = 0; k < VM_HUB_CLIENTS_MAX; k++)
			client_notice(h, k, "powering off (asked by a console client)");
		break;
	default:
		/* Unknown frames are ignored, so that clients may grow. */
		break;
	}
}

/* Read what the client sent and act on every whole frame. -ECONNRESET at its end of file. */
static int client_read(struct vm *vm, int i)
{
	struct hub_client *c = &vm->hub->clients[i];
	char chunk[READ_CHUNK];
	struct blob payload;
	size_t size;
	ssize_t n;
	int type;

	do {
		n = recv(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0)
		return n < 0 ? -errno : -ECONNRESET;
	if (buf_add(&c->in, chunk, (size_t)n) < 0)
		return -IT_ELIMIT;
	while (c->fd >= 0 && !c->closing) {
		size = vm_hub_frame_parse(&c->in, &type, &payload);
		if (size == 0)
			break;
		client_frame(vm, i, type, payload);
		if (c->fd >= 0)
			buf_consume(&c->in, size);
	}
	return 0;
}

static void append_kv(struct buf *b, const char *key, const char *value)
{
	buf_addf(b, "%s=%s\n", key, value ? value : "");
}

static void client_welcome(struct vm *vm, int i)
{
	struct vm_hub *h = vm->hub;
	char hello[1024];
	size_t first, done = 0;

	snprintf(hello, sizeof(hello), "name=%s\nscenario=%s\npid=%ld\nqemu_pid=%ld\n", h->name,
		 h->scenario, (long)h->owner, (long)vm->info.pid);
	client_queue(h, i, VM_HUB_HELLO, hello, strlen(hello));
	client_queue(h, i, VM_HUB_STATUS, vm->step, strlen(vm->step));
	/* The ring's oldest byte is at head - len (modulo its size). */
	first = (h->ring_head + VM_HUB_RING - h->ring_len) % VM_HUB_RING;
	while (done < h->ring_len) {
		size_t at = (first + done) % VM_HUB_RING;
		size_t n = h->ring_len - done;

		if (n > VM_HUB_RING - at)
			n = VM_HUB_RING - at;
		if (n > REPLAY_CHUNK)
			n = REPLAY_CHUNK;
		client_output(h, i, h->ring + at, n);
		done += n;
	}
}

/* Only our own user may join (the directory is 0700 anyway). */
static bool peer_is_us(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == geteuid() || cred.uid == 0;
}

static void refuse_client(const struct vm_hub *h, int fd)
{
	struct buf b;

	buf_init(&b, 64);
	if (vm_hub_frame_add(&b, VM_HUB_BYE, "too many clients", 16) == 0 &&
	    send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("console hub '%s': %s", h->name, strerror(errno));
	buf_release(&b);
	close(fd);
}

static void accept_clients(struct vm *vm)
{
	struct vm_hub *h = vm->hub;
	int fd, i;

	for (;;) {
		fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return;
		if (!peer_is_us(fd)) {
			close(fd);
			continue;
		}
		for (i = 0; i < VM_HUB_CLIENTS_MAX && h->clients[i].fd >= 0; i++)
			;
		if (i == VM_HUB_CLIENTS_MAX) {
			refuse_client(h, fd);
			continue;
		}
		h->clients[i].fd = fd;
		h->clients[i].id = ++h->next_id;
		buf_init(&h->clients[i].out, VM_HUB_CLIENT_QUEUE_MAX);
		buf_init(&h->clients[i].in, IN_MAX);
		client_welcome(vm, i);
		log_debug("console hub '%s': client %d joined", h->name, i);
	}
}

/* ---- the loop's side ---- */

void vmi_hub_fill(struct vm *vm, struct pollfd *p)
{
	struct vm_hub *h = vm->hub;
	bool room;

	for (int i = 0; i < VMI_HUB_PFDS; i++)
		p[i] = (struct pollfd){.fd = -1};
	if (!h || h->retired)
		return;
	/* Read clients only while the typing queue and the agent's can take a whole frame. */
	room = VM_WRITE_QUEUE_MAX - vm->outq.len >= VM_HUB_FRAME_MAX + READ_CHUNK &&
	       VM_AGENT_QUEUE_MAX - vm->agentq.len >= 2 * (VM_HUB_FRAME_MAX + READ_CHUNK);
	p[0] = (struct pollfd){.fd = h->listen_fd, .events = POLLIN};
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++) {
		const struct hub_client *c = &h->clients[i];

		if (c->fd < 0)
			continue;
		p[1 + i].fd = c->fd;
		p[1 + i].events =
		    (short)((c->out.len ? POLLOUT : 0) | (room && !c->closing ? POLLIN : 0));
	}
}

int vmi_hub_handle(struct vm *vm, const struct pollfd *p, const struct vm_ops *ops, void *ctx)
{
	struct vm_hub *h = vm->hub;

	if (!h || h->retired)
		return 0;
	h->ops = ops;
	h->ctx = ctx;
	h->cb_err = 0;
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++) {
		struct hub_client *c = &h->clients[i];
		short rev = p[1 + i].revents;

		/* The slot may have been closed since poll(): its revents are stale then. */
		if (!rev || c->fd < 0 || c->fd != p[1 + i].fd)
			continue;
		if ((rev & POLLOUT) && client_flush(c) < 0) {
			client_close(h, i);
			continue;
		}
		client_tell_skipped(h, i, false);
		if ((rev & (POLLIN | POLLHUP | POLLERR)) && client_read(vm, i) < 0) {
			client_close(h, i);
			continue;
		}
		if (c->fd >= 0 && c->closing && c->out.len == 0)
			client_close(h, i);
	}
	/* New clients last, so that a reused fd number never meets stale revents. */
	if (p[0].fd >= 0 && (p[0].revents & POLLIN))
		accept_clients(vm);
	h->ops = NULL;
	h->ctx = NULL;
	return h->cb_err;
}

static int client_by_id(const struct vm_hub *h, unsigned id)
{
	for (int i = 0; h && !h->retired && i < VM_HUB_CLIENTS_MAX; i++) {
		if (h->clients[i].fd >= 0 && h->clients[i].id == id)
			return i;
	}
	return -1;
}

size_t vm_hub_agent_room(const struct vm *vm, unsigned client)
{
	int i = client_by_id(vm->hub, client);
	const struct hub_client *c;
	size_t frames, need;

	if (i < 0 || vm->hub->clients[i].closing)
		return 0;
	c = &vm->hub->clients[i];
	if (c->out.len + CONTROL_RESERVE >= VM_HUB_CLIENT_QUEUE_MAX)
		return 0;
	/* What fits after the reserve, less a header for every frame it would take. */
	need = VM_HUB_CLIENT_QUEUE_MAX - CONTROL_RESERVE - c->out.len;
	frames = need / (VM_HUB_FRAME_MAX + VM_HUB_FRAME_HDR) + 1;
	return need > frames * VM_HUB_FRAME_HDR ? need - frames * VM_HUB_FRAME_HDR : 0;
}

int vm_hub_agent_send(struct vm *vm, unsigned client, const void *buf, size_t len)
{
	int i = client_by_id(vm->hub, client);
	const char *p = buf;
	size_t done, n;

	if (i < 0)
		return -ENOENT;
	if (len > vm_hub_agent_room(vm, client))
		return -IT_ELIMIT;
	for (done = 0; done < len; done += n) {
		n = len - done > VM_HUB_FRAME_MAX ? VM_HUB_FRAME_MAX : len - done;
		if (vm_hub_frame_add(&vm->hub->clients[i].out, VM_HUB_AGENT, p + done, n) < 0)
			return -IT_ELIMIT;
	}
	return 0;
}

void vm_hub_client_bye(struct vm *vm, unsigned client, const char *reason)
{
	int i = client_by_id(vm->hub, client);

	if (i >= 0)
		client_bye(vm->hub, i, reason);
}

void vmi_hub_output(struct vm *vm, const char *buf, size_t len)
{
	struct vm_hub *h = vm->hub;
	size_t n, done;

	if (!h || h->retired || !len)
		return;
	for (done = 0; done < len; done += n) {
		n = len - done;
		if (n > VM_HUB_RING - h->ring_head)
			n = VM_HUB_RING - h->ring_head;
		memcpy(h->ring + h->ring_head, buf + done, n);
		h->ring_head = (h->ring_head + n) % VM_HUB_RING;
		h->ring_len = h->ring_len + n > VM_HUB_RING ? VM_HUB_RING : h->ring_len + n;
	}
	for (done = 0; done < len; done += n) {
		n = len - done > VM_HUB_FRAME_MAX ? VM_HUB_FRAME_MAX : len - done;
		for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++)
			client_output(h, i, buf + done, n);
	}
}

bool vmi_hub_poweroff_requested(const struct vm *vm)
{
	return vm->hub && !vm->hub->retired && vm->hub->poweroff;
}

/* Give every client up to RETIRE_FLUSH_MS to take what is queued for it. */
static void flush_all(struct vm_hub *h)
{
	int64_t deadline = now_ms() + RETIRE_FLUSH_MS;
	struct pollfd p[VM_HUB_CLIENTS_MAX];
	bool pending;

	for (;;) {
		pending = false;
		for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++) {
			struct hub_client *c = &h->clients[i];

			p[i] = (struct pollfd){.fd = -1};
			if (c->fd >= 0 && client_flush(c) < 0)
				client_close(h, i);
			if (c->fd < 0 || !c->out.len)
				continue;
			p[i] = (struct pollfd){.fd = c->fd, .events = POLLOUT};
			pending = true;
		}
		if (!pending || now_ms() >= deadline)
			return;
		if (poll(p, VM_HUB_CLIENTS_MAX, ms_until(deadline)) < 0 && errno != EINTR)
			return;
	}
}

void vmi_hub_retire(struct vm *vm, const char *reason)
{
	struct vm_hub *h = vm->hub;

	if (!h || h->retired)
		return;
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++) {
		/* What a slow client missed comes before the goodbye: it is the last word on it. */
		client_tell_skipped(h, i, true);
		client_queue(h, i, VM_HUB_BYE, reason, strlen(reason));
	}
	flush_all(h);
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++)
		client_close(h, i);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	h->listen_fd = -1;
	unlink(h->sock_path);
	unlink(h->info_path);
	live_remove(h);
	h->retired = true;
	log_debug("console hub '%s' closed: %s", h->name, reason);
}

void vmi_hub_free(struct vm *vm)
{
	struct vm_hub *h = vm->hub;

	if (!h)
		return;
	vmi_hub_retire(vm, "the VM is gone");
	buf_release(&h->scratch);
	free(h->name);
	free(h->scenario);
	free(h->sock_path);
	free(h->info_path);
	free(h);
	vm->hub = NULL;
}

/* ---- enabling, metadata ---- */

/* Write NAME.info whole: a temporary file renamed over it. */
static int write_info(struct vm *vm)
{
	struct vm_hub *h = vm->hub;
	char num[32];
	struct buf b;
	int r;

	buf_init(&b, INFO_MAX);
	append_kv(&b, "name", h->name);
	append_kv(&b, "scenario", h->scenario);
	snprintf(num, sizeof(num), "%ld", (long)h->owner);
	append_kv(&b, "pid", num);
	snprintf(num, sizeof(num), "%ld", (long)vm->info.pid);
	append_kv(&b, "qemu_pid", num);
	snprintf(num, sizeof(num), "%lld", (long long)h->started);
	append_kv(&b, "started", num);
	append_kv(&b, "socket", h->sock_path);
	append_kv(&b, "qmp", vm->qmp_path);
	append_kv(&b, "step", vm->step);
	r = write_file_atomic(h->info_path, b.data, b.len, 0600);
	buf_release(&b);
	return r;
}

int vm_hub_set_status(struct vm *vm, const char *step)
{
	struct vm_hub *h = vm->hub;

	snprintf(vm->step, sizeof(vm->step), "%s", step ? step : "");
	vmi_hub_flatten(vm->step);
	if (!h || h->retired)
		return 0;
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++)
		client_queue(h, i, VM_HUB_STATUS, vm->step, strlen(vm->step));
	return write_info(vm);
}

/* The directory must be ours, a real directory, and private. */
static int prepare_dir(const char *dir, struct it_error *err)
{
	struct stat st;
	int r;

	r = mkdir_p(dir, 0700);
	if (r < 0) {
		it_error_set(err, r, "cannot create the console directory '%s': %s", dir,
			     it_strerror(r));
		it_error_hint(err, "set XDG_RUNTIME_DIR to a writable directory");
		return r;
	}
	if (lstat(dir, &st) < 0)
		return it_error_set(err, -errno, "cannot use the console directory '%s': %s", dir,
				    strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		it_error_set(err, -EPERM,
			     "cannot use the console directory '%s': not a directory owned by us",
			     dir);
		it_error_hint(err, "remove it, or set XDG_RUNTIME_DIR to a private directory");
		return -EPERM;
	}
	if ((st.st_mode & 0077) && chmod(dir, 0700) < 0)
		return it_error_set(err, -errno, "cannot make '%s' private: %s", dir,
				    strerror(errno));
	return 0;
}

/* The scenario part of the name: safe characters only, never hidden, never empty. */
static void name_base(const char *scenario, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = scenario ? scenario : ""; *p && o + 1 < outsz; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '+' ||
			  ch == '-';

		if (!ok)
			ch = '_';
		out[o++] = ch;
	}
	out[o] = '\0';
	if (!o)
		snprintf(out, outsz, "vm");
	if (out[0] == '.')
		out[0] = '_';
}

static unsigned random_suffix(void)
{
	unsigned short v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	return (unsigned)(getpid() ^ now_ns()) & 0xffff;
}

/* Bind NAME.sock under a fresh random name; *fd and the names are set on success. */
static int bind_socket(struct vm_hub *h, const char *dir, const char *base, struct it_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[VM_HUB_NAME_MAX + 1];
	char path[PATH_MAX];
	int r;

	for (int t = 0; t < NAME_TRIES; t++) {
		snprintf(name, sizeof(name), "%s-%04x", base, random_suffix());
		if (snprintf(path, sizeof(path), "%s/%s.sock", dir, name) >= (int)sizeof(path) ||
		    strlen(path) >= sizeof(sa.sun_path)) {
			it_error_set(err, -ENAMETOOLONG,
				     "cannot create the console socket '%s': path too long for a "
				     "unix socket",
				     path);
			it_error_hint(err, "set XDG_RUNTIME_DIR to a shorter directory");
			return -ENAMETOOLONG;
		}
		memcpy(sa.sun_path, path, strlen(path) + 1);
		if (bind(h->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			h->name = strdup(name);
			h->sock_path = strdup(path);
			if (!h->name || !h->sock_path) {
				unlink(path);
				return it_error_set(err, -ENOMEM, "cannot create '%s': %s", path,
						    strerror(ENOMEM));
			}
			return 0;
		}
		if (errno != EADDRINUSE)
			break;
	}
	r = -errno;
	return it_error_set(err, r, "cannot create the console socket '%s': %s", path,
			    strerror(-r));
}

static int hub_setup(struct vm *vm, struct vm_hub *h, const char *scenario, struct it_error *err)
{
	char dir[PATH_MAX], base[VM_HUB_NAME_MAX - 4];
	char info[PATH_MAX + 16];
	struct sockaddr_un sa;
	int r;

	if (vm_hub_dir(dir, sizeof(dir)) < 0)
		return it_error_set(
		    err, -ENAMETOOLONG,
		    "cannot use the console directory: XDG_RUNTIME_DIR is too long");
	name_base(scenario, base, sizeof(base));
	/* Check before creating anything: DIR/BASE-xxxx.sock must fit in sun_path. */
	if (strlen(dir) + strlen(base) + sizeof("/-xxxx.sock") > sizeof(sa.sun_path)) {
		it_error_set(err, -ENAMETOOLONG,
			     "cannot create a console socket in '%s': path too long for a unix "
			     "socket",
			     dir);
		it_error_hint(err, "set XDG_RUNTIME_DIR to a shorter directory");
		return -ENAMETOOLONG;
	}
	r = prepare_dir(dir, err);
	if (r < 0)
		return r;
	h->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->listen_fd < 0)
		return it_error_set(err, -errno, "cannot create a console socket: %s",
				    strerror(errno));
	r = bind_socket(h, dir, base, err);
	if (r < 0)
		return r;
	/* The directory is private already; the socket is too, in case it is not. */
	if (chmod(h->sock_path, 0600) < 0 || listen(h->listen_fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		unlink(h->sock_path);
		return it_error_set(err, r, "cannot set up the console socket '%s': %s",
				    h->sock_path, strerror(-r));
	}
	snprintf(info, sizeof(info), "%s/%s.info", dir, h->name);
	h->info_path = strdup(info);
	h->scenario = strdup(scenario ? scenario : "");
	if (!h->info_path || !h->scenario) {
		unlink(h->sock_path);
		return it_error_set(err, -ENOMEM, "cannot set up the console socket: %s",
				    strerror(ENOMEM));
	}
	vmi_hub_flatten(h->scenario);
	h->owner = getpid();
	h->started = (int64_t)time(NULL);
	vm->hub = h;
	r = write_info(vm);
	if (r < 0) {
		vm->hub = NULL;
		unlink(h->sock_path);
		return it_error_set(err, r, "cannot write '%s': %s", info, it_strerror(r));
	}
	return 0;
}

int vm_hub_enable(struct vm *vm, const char *scenario, struct it_error *err)
{
	struct vm_hub *h;
	int r;

	if (vm->hub)
		return it_error_set(err, -EBUSY, "the console socket of this VM is already open");
	if (vm->info.exited)
		return it_error_set(err, -IT_EVM,
				    "cannot open a console socket: the VM has exited");
	h = calloc(1, sizeof(*h));
	if (!h)
		return it_error_set(err, -ENOMEM, "cannot open a console socket: %s",
				    strerror(ENOMEM));
	h->listen_fd = -1;
	h->keyboard = -1;
	buf_init(&h->scratch, VM_HUB_FRAME_MAX);
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++) {
		h->clients[i].fd = -1;
		buf_init(&h->clients[i].out, VM_HUB_CLIENT_QUEUE_MAX);
		buf_init(&h->clients[i].in, IN_MAX);
	}
	r = hub_setup(vm, h, scenario, err);
	if (r < 0) {
		if (h->listen_fd >= 0)
			close(h->listen_fd);
		buf_release(&h->scratch);
		free(h->name);
		free(h->scenario);
		free(h->sock_path);
		free(h->info_path);
		free(h);
		return r;
	}
	live_add(h);
	log_verbose("console of %s: %s ('initrd-test attach %s')", h->name, h->sock_path, h->name);
	return 0;
}

const char *vm_hub_name(const struct vm *vm)
{
	return vm->hub && !vm->hub->retired ? vm->hub->name : NULL;
}

const char *vm_hub_socket(const struct vm *vm)
{
	return vm->hub && !vm->hub->retired ? vm->hub->sock_path : NULL;
}

size_t vm_hub_clients(const struct vm *vm)
{
	size_t n = 0;

	if (!vm->hub)
		return 0;
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++)
		n += vm->hub->clients[i].fd >= 0;
	return n;
}

int vm_hub_winsize(const struct vm *vm, unsigned *rows, unsigned *cols)
{
	const struct vm_hub *h = vm->hub;
	const struct hub_client *best = NULL;

	if (!h || h->retired)
		return -ENOENT;
	if (h->keyboard >= 0 && h->clients[h->keyboard].rows)
		best = &h->clients[h->keyboard];
	/* Nobody at the keyboard (or no size from them): the latest size any client sent. */
	for (int i = 0; i < VM_HUB_CLIENTS_MAX && !(h->keyboard >= 0 && best); i++) {
		const struct hub_client *c = &h->clients[i];

		if (c->fd >= 0 && c->rows && (!best || c->winsize_seq > best->winsize_seq))
			best = c;
	}
	if (!best)
		return -ENOENT;
	*rows = best->rows;
	*cols = best->cols;
	return 0;
}
