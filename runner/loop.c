// SPDX-License-Identifier: MIT
/* The VM's one poll() loop: drain the console, type queued bytes, watch signals and deadlines. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "runner/internal.h"

#define CHUNK 4096
/* Reads per wakeup before the other fds get their turn. */
#define READS_PER_WAKEUP 16
#define EOF_RECHECK_MS 100

/* The enum-indexed pollfd[] of util-linux's pty-session; the console hub's slots follow. */
enum {
	PFD_SIGNAL = 0,
	PFD_CONSOLE,
	PFD_STDERR,
	PFD_INPUT,
	PFD_AGENT,
	PFD_HUB,
	PFD_COUNT = PFD_HUB + VMI_HUB_PFDS
};

int vmi_pump_console(struct vm *vm, const struct vm_ops *ops, void *ctx)
{
	char chunk[CHUNK];
	ssize_t n;
	int64_t now;
	int r;

	for (int i = 0; i < READS_PER_WAKEUP && !vm->console_eof; i++) {
		n = read(vm->console_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		/* EIO: the slave side is closed, the VM's end of the console is gone. */
		if (n == 0 || (n < 0 && errno == EIO)) {
			vm->console_eof = true;
			buf_reset(&vm->outq);
			return 0;
		}
		if (n < 0)
			return -errno;
		now = now_ms();
		if (vm->info.first_output_ms < 0)
			vm->info.first_output_ms = now - vm->info.start_ms;
		vm->info.console_bytes += (uint64_t)n;
		vmi_hub_output(vm, chunk, (size_t)n);
		if (ops && ops->on_output) {
			r = ops->on_output(ctx, chunk, (size_t)n, now);
			if (r != 0)
				return r;
		}
	}
	return 0;
}

void vmi_pump_stderr(struct vm *vm)
{
	char chunk[CHUNK];
	size_t room;
	ssize_t n;

	while (vm->stderr_fd >= 0) {
		n = read(vm->stderr_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(vm->stderr_fd);
			vm->stderr_fd = -1;
			return;
		}
		/* Keep the first bytes (the cause comes first); drop the rest but keep draining. */
		room = VM_STDERR_MAX - vm->errtext.len;
		buf_add(&vm->errtext, chunk, (size_t)n < room ? (size_t)n : room);
	}
}

static int flush_queue(struct vm *vm)
{
	ssize_t n;

	while (vm->outq.len && !vm->console_eof) {
		n = write(vm->console_fd, vm->outq.data, vm->outq.len);
		if (n > 0) {
			buf_consume(&vm->outq, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0 && errno == EIO) {
			vm->console_eof = true;
			buf_reset(&vm->outq);
			return 0;
		}
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

int vm_write(struct vm *vm, const void *buf, size_t len)
{
	if (vm->console_eof || vm->info.exited)
		return -EPIPE;
	if (len > VM_WRITE_QUEUE_MAX - vm->outq.len)
		return -IT_ELIMIT;
	return buf_add(&vm->outq, buf, len);
}

/* ---- the agent channel ---- */

#define AGENT_CHUNK (64 * 1024)
#define AGENT_READS_PER_WAKEUP 4

int vm_agent_write(struct vm *vm, const void *buf, size_t len)
{
	if (vm->agent_fd < 0 || vm->info.exited)
		return -EPIPE;
	if (len > VM_AGENT_QUEUE_MAX - vm->agentq.len)
		return -IT_ELIMIT;
	return buf_add(&vm->agentq, buf, len);
}

size_t vm_agent_room(const struct vm *vm)
{
	return vm->agent_fd < 0 ? 0 : VM_AGENT_QUEUE_MAX - vm->agentq.len;
}

void vm_agent_pause(struct vm *vm, bool pause)
{
	vm->agent_paused = pause;
}

bool vm_agent_open(const struct vm *vm)
{
	return vm->agent_fd >= 0;
}

/* The channel closed (qemu's end, or an error): no more of it; the callback hears once. */
static int agent_closed(struct vm *vm, const struct vm_ops *ops, void *ctx)
{
	if (vm->agent_fd >= 0)
		close(vm->agent_fd);
	vm->agent_fd = -1;
	buf_reset(&vm->agentq);
	return ops->on_agent ? ops->on_agent(ctx, NULL, 0, now_ms()) : 0;
}

/* Read what the agent channel has now, a bounded number of chunks, into ops->on_agent. */
static int pump_agent(struct vm *vm, const struct vm_ops *ops, void *ctx)
{
	static char chunk[AGENT_CHUNK];
	ssize_t n;
	int r;

	/* Few reads a wakeup: a paused relay must not find much more waiting for it. */
	for (int i = 0; i < AGENT_READS_PER_WAKEUP && vm->agent_fd >= 0 && !vm->agent_paused; i++) {
		n = recv(vm->agent_fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return agent_closed(vm, ops, ctx);
		if (ops->on_agent) {
			r = ops->on_agent(ctx, chunk, (size_t)n, now_ms());
			if (r != 0)
				return r;
		}
	}
	return 0;
}

static int flush_agent(struct vm *vm, const struct vm_ops *ops, void *ctx)
{
	if (vm->agent_fd >= 0 && buf_send(&vm->agentq, vm->agent_fd) < 0)
		return agent_closed(vm, ops, ctx);
	return 0;
}

void vm_set_input(struct vm *vm, int fd)
{
	vm->input_fd = fd;
}

static int read_input(struct vm *vm)
{
	char chunk[CHUNK];
	ssize_t n;

	do {
		n = read(vm->input_fd, chunk, sizeof(chunk));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		vm->input_fd = -1;
		return n < 0 ? -errno : 0;
	}
	return vm_write(vm, chunk, (size_t)n);
}

static const char *signame(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	default:
		return "a signal";
	}
}

/* Read every pending signal: SIGCHLD reaps the VM if it exited, SIGINT/SIGTERM end the run. */
static int handle_signals(struct vm *vm, int sfd, struct it_error *err)
{
	struct signalfd_siginfo si;
	int stop = 0;
	ssize_t n;

	for (;;) {
		n = read(sfd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		if (si.ssi_signo == SIGCHLD)
			vmi_reap(vm, WNOHANG);
		else if (!stop)
			stop = (int)si.ssi_signo;
	}
	if (!stop)
		return 0;
	vm->info.signal = stop;
	return it_error_set(err, -IT_EINTERRUPTED, "interrupted by %s", signame(stop));
}

/* Collapse stderr into one line for an error message. */
static void stderr_summary(const struct vm *vm, char *out, size_t outsz)
{
	size_t o = 0;
	bool space = false;

	for (size_t i = 0; i < vm->errtext.len && o + 3 < outsz; i++) {
		char ch = vm->errtext.data[i];

		if (ch == '\n' || ch == '\r') {
			space = o > 0;
			continue;
		}
		if (space) {
			out[o++] = ';';
			out[o++] = ' ';
			space = false;
		}
		out[o++] = ch;
	}
	out[o] = '\0';
}

/* 1 (stop) for any positive callback result; negative codes pass through. */
static int callback_result(int r)
{
	return r > 0 ? VM_RUN_STOPPED : r;
}

/* The VM has been reaped: hand over its last console bytes, then say how it ended. */
static int finish(struct vm *vm, const struct vm_ops *ops, void *ctx, struct it_error *err)
{
	char how[128];
	char text[IT_ERRMSG_MAX];
	int st = vm->info.wait_status;
	int r;

	while (!vm->console_eof) {
		uint64_t before = vm->info.console_bytes;

		r = vmi_pump_console(vm, ops, ctx);
		if (r != 0)
			return callback_result(r);
		if (vm->info.console_bytes == before)
			break;
	}
	vmi_pump_stderr(vm);
	vmi_hub_retire(vm, "the VM exited");
	if (vm->info.stopped_by != VM_STOP_NONE)
		return VM_RUN_EXITED;
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return VM_RUN_EXITED;
	vm_describe_exit(vm, how, sizeof(how));
	stderr_summary(vm, text, sizeof(text));
	if (text[0])
		it_error_set(err, -IT_EVM, "'%s' %s: %s", vm->name, how, text);
	else
		it_error_set(err, -IT_EVM, "'%s' %s", vm->name, how);
	return -IT_EVM;
}

static void fill_pollfds(struct vm *vm, int sfd, struct pollfd *p)
{
	bool want_input = vm->input_fd >= 0 && vm->outq.len + CHUNK <= VM_WRITE_QUEUE_MAX;

	p[PFD_SIGNAL] = (struct pollfd){.fd = sfd, .events = POLLIN};
	p[PFD_CONSOLE] = (struct pollfd){.fd = vm->console_eof ? -1 : vm->console_fd,
					 .events = POLLIN | (vm->outq.len ? POLLOUT : 0)};
	p[PFD_STDERR] = (struct pollfd){.fd = vm->stderr_fd, .events = POLLIN};
	p[PFD_INPUT] = (struct pollfd){.fd = want_input ? vm->input_fd : -1, .events = POLLIN};
	/* Paused with nothing to write: not watched at all, or a hang-up would spin the loop. */
	p[PFD_AGENT] = (struct pollfd){
	    .fd = vm->agent_paused && !vm->agentq.len ? -1 : vm->agent_fd,
	    .events = (short)((vm->agent_paused ? 0 : POLLIN) | (vm->agentq.len ? POLLOUT : 0))};
	vmi_hub_fill(vm, p + PFD_HUB);
}

/* A console client asked for a power-off: stop the VM as vm_stop() does, and say so. */
static int hub_poweroff(struct vm *vm, struct it_error *err)
{
	const char *name = vm_hub_name(vm);
	char what[VM_HUB_NAME_MAX + 8];

	snprintf(what, sizeof(what), "'%s'", name ? name : "the VM");
	vm->info.hub_poweroff = true;
	vm_stop(vm, VM_HUB_POWEROFF_GRACE_MS, NULL);
	return it_error_set(err, -IT_EINTERRUPTED, "%s was powered off by a console client", what);
}

/* What poll() said of the agent channel: write what is queued, read what came. */
static int serve_agent(struct vm *vm, const struct vm_ops *ops, void *ctx, short rev)
{
	int r = 0;

	if (rev & POLLOUT)
		r = flush_agent(vm, ops, ctx);
	if (r == 0 && (rev & (POLLIN | POLLHUP | POLLERR)))
		r = pump_agent(vm, ops, ctx);
	return r;
}

static int loop(struct vm *vm, const struct vm_ops *ops, void *ctx, int sfd, struct it_error *err)
{
	struct pollfd p[PFD_COUNT];
	int64_t now, deadline;
	int n, r, timeout;

	for (;;) {
		if (vm->info.exited)
			return finish(vm, ops, ctx, err);
		if (vmi_hub_poweroff_requested(vm))
			return hub_poweroff(vm, err);
		/* The deadline is asked again after every wakeup, EINTR included. */
		now = now_ms();
		deadline = ops->deadline ? ops->deadline(ctx) : -1;
		if (deadline >= 0 && now >= deadline) {
			r = ops->on_timer ? ops->on_timer(ctx, now) : -IT_ETIMEOUT;
			if (r == -IT_ETIMEOUT && !ops->on_timer)
				it_error_set(err, r, "the VM console deadline passed");
			if (r == 0 && ops->on_wakeup)
				r = ops->on_wakeup(ctx, now_ms());
			if (r != 0)
				return callback_result(r);
			continue;
		}
		fill_pollfds(vm, sfd, p);
		timeout = ms_until(deadline);
		/*
		 * The console is closed but no SIGCHLD came yet: look for the exit
		 * now and then too, in case someone else consumed the signal.
		 */
		if (vm->console_eof && (timeout < 0 || timeout > EOF_RECHECK_MS)) {
			timeout = EOF_RECHECK_MS;
			vmi_reap(vm, WNOHANG);
		}
		n = poll(p, PFD_COUNT, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return it_error_set(err, -errno, "cannot poll the VM console: %s",
					    strerror(errno));
		if (n == 0)
			continue;
		if (p[PFD_SIGNAL].revents) {
			r = handle_signals(vm, sfd, err);
			if (r < 0)
				return r;
		}
		if (p[PFD_CONSOLE].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = vmi_pump_console(vm, ops, ctx);
			if (r != 0)
				return callback_result(r);
		}
		if (p[PFD_CONSOLE].revents & POLLOUT) {
			r = flush_queue(vm);
			if (r < 0)
				return it_error_set(err, r, "cannot write to the VM console: %s",
						    it_strerror(r));
		}
		if (p[PFD_STDERR].revents)
			vmi_pump_stderr(vm);
		if (p[PFD_INPUT].revents) {
			r = read_input(vm);
			if (r < 0 && r != -EPIPE)
				return it_error_set(err, r, "cannot read console input: %s",
						    it_strerror(r));
		}
		r = serve_agent(vm, ops, ctx, p[PFD_AGENT].revents);
		if (r == 0)
			r = vmi_hub_handle(vm, p + PFD_HUB, ops, ctx);
		if (r == 0 && ops->on_wakeup)
			r = ops->on_wakeup(ctx, now_ms());
		if (r != 0)
			return callback_result(r);
	}
}

int vm_run(struct vm *vm, const struct vm_ops *ops, void *ctx, struct it_error *err)
{
	static const struct vm_ops no_ops;
	sigset_t mask, old;
	int sfd, r;

	if (!ops)
		ops = &no_ops;
	vm->info.signal = 0;
	sigemptyset(&mask);
	add_interrupt_signals(&mask);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
		return it_error_set(err, -errno, "cannot block signals: %s", strerror(errno));
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		r = it_error_set(err, -errno, "cannot create a signalfd: %s", strerror(errno));
		goto out;
	}
	/* A SIGCHLD that came before the signals were blocked is lost: look once. */
	vmi_reap(vm, WNOHANG);
	r = loop(vm, ops, ctx, sfd, err);
out:
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
