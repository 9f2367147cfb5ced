// SPDX-License-Identifier: MIT
/* 'initrd-test attach': connect this terminal to the console of a VM that initrd-test runs. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "src/options.h"
#include "src/running.h"

#define ESCAPE_KEY 0x1d /* Ctrl-] */
#define KEYS_CHUNK 4096

static const char attach_usage[] =
    "usage: initrd-test attach [NAME|PID]\n"
    "\n"
    "Connect this terminal to the serial console of a VM that initrd-test runs\n"
    "(see 'initrd-test ps'): the last 64 KiB of its console first, then what it\n"
    "prints; what you type goes to the VM. With no argument, the one running VM.\n"
    "NAME may be a unique prefix; PID is initrd-test's or qemu's. Any number of\n"
    "clients may attach at once; the first one to type holds the keyboard until it\n"
    "detaches, and the others only watch. A terminal too slow for the console\n"
    "stays attached: output it cannot take in time is skipped, and a line says how\n"
    "much.\n"
    "\n"
    "keys (Ctrl-] then):\n"
    "  d          detach; the VM keeps running\n"
    "  q          power the VM off (its 'initrd-test run' ends as interrupted)\n"
    "  Ctrl-]     send a Ctrl-] to the VM\n"
    "  ?          list these keys\n"
    "\n";

static const char attach_outro[] =
    "exit codes: 0 detached or the VM ended, 2 usage error (several VMs match),\n"
    "            3 no such VM or the connection failed, 128+N ended by signal N\n";

static const char keys_help[] =
    "Ctrl-] d detaches, Ctrl-] q powers off, Ctrl-] Ctrl-] sends Ctrl-]";

/* ---- the user's terminal ---- */

/* The modes to put back, for every way out: the normal path and atexit. */
static struct termios saved_tio;
static int saved_tio_fd = -1;
static bool restore_registered;

static void restore_terminal(void)
{
	if (saved_tio_fd < 0)
		return;
	tcsetattr(saved_tio_fd, TCSAFLUSH, &saved_tio);
	saved_tio_fd = -1;
}

static int raw_terminal(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &saved_tio) < 0)
		return -errno;
	if (!restore_registered && atexit(restore_terminal) == 0)
		restore_registered = true;
	t = saved_tio;
	cfmakeraw(&t);
	saved_tio_fd = fd;
	if (tcsetattr(fd, TCSANOW, &t) < 0) {
		saved_tio_fd = -1;
		return -errno;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Text from the hub, for one line on a terminal: control characters become spaces. */
static void flatten(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
	}
}

/*
 * One line for the user on stderr, on a line of its own (the terminal may be
 * raw). On a terminal a CAN comes first: the console output before it may
 * have stopped inside an escape sequence (cut by the pty, or by output the
 * hub skipped), which would swallow the line (an OSC title) or garble it;
 * CAN ends any sequence and is otherwise ignored.
 */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char text[400], line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	flatten(text);
	n = snprintf(line, sizeof(line), "%s\r\n[initrd-test: %s]\r\n",
		     isatty(STDERR_FILENO) ? "\030" : "", text);
	if (n > 0)
		write_all(STDERR_FILENO, line, strlen(line));
}

/* ---- the attach session ---- */

enum session_end {
	END_NONE = 0,
	END_DETACHED,
	END_CLOSED, /* the hub closed the connection */
	END_SIGNAL,
};

struct session {
	const struct vm_hub_entry *vm;
	int sock;
	int sfd; /* signalfd: SIGINT, SIGTERM, SIGHUP, SIGWINCH */
	bool tty;
	bool stdin_open;
	bool escape; /* Ctrl-] came; the next key says what to do */
	bool poweroff_sent;
	enum session_end end;
	int signal;
	struct buf in; /* frames from the hub, not complete yet */
	char bye[256];
};

static int send_winsize(struct session *s)
{
	struct winsize ws;
	unsigned char p[4];

	if (!s->tty || ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
		return 0;
	p[0] = (unsigned char)(ws.ws_row >> 8);
	p[1] = (unsigned char)(ws.ws_row & 0xff);
	p[2] = (unsigned char)(ws.ws_col >> 8);
	p[3] = (unsigned char)(ws.ws_col & 0xff);
	return vm_hub_send(s->sock, VM_HUB_WINSIZE, p, sizeof(p));
}

static int request_poweroff(struct session *s)
{
	if (s->poweroff_sent)
		return 0;
	s->poweroff_sent = true;
	say("powering off %s", s->vm->name);
	return vm_hub_send(s->sock, VM_HUB_POWEROFF, NULL, 0);
}

/* The key after Ctrl-]: an action, or bytes to type. */
static int escape_key(struct session *s, char key, struct buf *keys)
{
	switch (key) {
	case 'd':
	case 'D':
		s->end = END_DETACHED;
		return 0;
	case 'q':
	case 'Q':
		return request_poweroff(s);
	case '?':
		say("%s", keys_help);
		return 0;
	case ESCAPE_KEY:
		return buf_addch(keys, ESCAPE_KEY);
	default:
		/* Not a command: both keys go to the VM, as typed. */
		buf_addch(keys, ESCAPE_KEY);
		return buf_addch(keys, key);
	}
}

/* Keystrokes: escape commands act, everything else is typed. */
static int keystrokes(struct session *s, const char *p, size_t n)
{
	struct buf keys;
	int r = 0;

	buf_init(&keys, 2 * KEYS_CHUNK);
	for (size_t i = 0; i < n && r == 0 && s->end == END_NONE; i++) {
		if (s->escape) {
			s->escape = false;
			r = escape_key(s, p[i], &keys);
		} else if (p[i] == ESCAPE_KEY) {
			s->escape = true;
		} else {
			r = buf_addch(&keys, p[i]);
		}
	}
	if (r == 0 && keys.len)
		r = vm_hub_send(s->sock, VM_HUB_INPUT, keys.data, keys.len);
	buf_release(&keys);
	return r;
}

static int read_keys(struct session *s)
{
	char chunk[KEYS_CHUNK];
	ssize_t n;

	do {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		/* No more input (a pipe, or the terminal is gone): leave the VM alone. */
		s->stdin_open = false;
		if (s->end == END_NONE && !s->poweroff_sent)
			s->end = END_DETACHED;
		return n < 0 ? -errno : 0;
	}
	return keystrokes(s, chunk, (size_t)n);
}

static int hub_frame(struct session *s, int type, struct blob payload)
{
	switch (type) {
	case VM_HUB_OUTPUT:
		return write_all(STDOUT_FILENO, payload.ptr, payload.len);
	case VM_HUB_NOTICE:
		say("%.*s", (int)payload.len, payload.ptr);
		return 0;
	case VM_HUB_BYE:
		snprintf(s->bye, sizeof(s->bye), "%.*s", (int)payload.len, payload.ptr);
		flatten(s->bye);
		return 0;
	default:
		/* HELLO, STATUS and anything newer: nothing to show. */
		return 0;
	}
}

static int read_hub(struct session *s)
{
	char chunk[16 * 1024];
	struct blob payload;
	size_t size;
	ssize_t n;
	int type, r = 0;

	do {
		n = read(s->sock, chunk, sizeof(chunk));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n == 0 || (n < 0 && errno == ECONNRESET)) {
		s->end = END_CLOSED;
		return 0;
	}
	if (n < 0)
		return -errno;
	r = buf_add(&s->in, chunk, (size_t)n);
	while (r == 0) {
		size = vm_hub_frame_parse(&s->in, &type, &payload);
		if (size == 0)
			break;
		r = hub_frame(s, type, payload);
		buf_consume(&s->in, size);
	}
	return r;
}

static int read_signals(struct session *s)
{
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		n = read(s->sfd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			return 0;
		if (si.ssi_signo == SIGWINCH) {
			int r = send_winsize(s);

			if (r < 0)
				return r;
			continue;
		}
		s->end = END_SIGNAL;
		s->signal = (int)si.ssi_signo;
		return 0;
	}
}

enum { PFD_SIG = 0, PFD_SOCK, PFD_KEYS, PFD_N };

static int session_loop(struct session *s)
{
	struct pollfd p[PFD_N];
	int n, r = 0;

	while (r == 0 && s->end == END_NONE) {
		p[PFD_SIG] = (struct pollfd){.fd = s->sfd, .events = POLLIN};
		p[PFD_SOCK] = (struct pollfd){.fd = s->sock, .events = POLLIN};
		p[PFD_KEYS] =
		    (struct pollfd){.fd = s->stdin_open ? STDIN_FILENO : -1, .events = POLLIN};
		n = poll(p, PFD_N, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p[PFD_SIG].revents)
			r = read_signals(s);
		if (r == 0 && s->end == END_NONE && p[PFD_SOCK].revents)
			r = read_hub(s);
		if (r == 0 && s->end == END_NONE && p[PFD_KEYS].revents)
			r = read_keys(s);
	}
	return r;
}

static int session_run(struct session *s, struct it_error *err)
{
	sigset_t mask, old;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGWINCH);
	/* Blocked before the terminal goes raw, unblocked after it is restored. */
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
		return it_error_set(err, -errno, "cannot block signals: %s", strerror(errno));
	s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sfd < 0) {
		r = it_error_set(err, -errno, "cannot create a signalfd: %s", strerror(errno));
		goto out;
	}
	if (s->tty) {
		r = raw_terminal(STDIN_FILENO);
		if (r < 0) {
			it_error_set(err, r, "cannot set the terminal to raw mode: %s",
				     strerror(-r));
			goto out;
		}
	}
	say("attached to %s; %s", s->vm->name, keys_help);
	r = send_winsize(s);
	if (r == 0)
		r = session_loop(s);
	if (r == 0 && s->end == END_DETACHED)
		r = vm_hub_send(s->sock, VM_HUB_DETACH, NULL, 0);
	/* The hub may be gone already: a detach that cannot be sent is still a detach. */
	if (r == -EPIPE || r == -ECONNRESET)
		r = 0;
	if (r < 0)
		it_error_set(err, r, "lost the console of '%s': %s", s->vm->name, it_strerror(r));
out:
	restore_terminal();
	if (s->sfd >= 0)
		close(s->sfd);
	s->sfd = -1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* Say how it ended, on a terminal that is no longer raw; the exit code. */
static int session_report(const struct session *s)
{
	switch (s->end) {
	case END_DETACHED:
		fprintf(stderr, "\ninitrd-test: detached from %s; it keeps running\n", s->vm->name);
		return EXIT_PASS;
	case END_SIGNAL:
		fprintf(stderr, "\ninitrd-test: detached from %s (%s)\n", s->vm->name,
			strsignal(s->signal));
		return 128 + s->signal;
	case END_CLOSED:
		if (s->bye[0]) {
			fprintf(stderr, "\ninitrd-test: %s: %s\n", s->vm->name, s->bye);
			return strcmp(s->bye, "too many clients") ? EXIT_PASS : EXIT_INFRA;
		}
		log_error("'%s' closed the connection", s->vm->name);
		return EXIT_INFRA;
	default:
		return EXIT_INFRA;
	}
}

static int attach_to(const struct vm_hub_entry *vm, struct it_error *err)
{
	struct session s;
	int r;

	memset(&s, 0, sizeof(s));
	s.vm = vm;
	s.sfd = -1;
	s.stdin_open = true;
	s.tty = isatty(STDIN_FILENO);
	buf_init(&s.in, 4 * (VM_HUB_FRAME_HDR + VM_HUB_FRAME_MAX));
	r = vm_hub_connect(vm, &s.sock, err);
	if (r == 0)
		r = session_run(&s, err);
	if (s.sock >= 0)
		close(s.sock);
	buf_release(&s.in);
	if (r < 0)
		return r;
	return session_report(&s);
}

static const struct opt_cmd attach_cmd = {"attach", attach_usage, attach_outro, NULL, 0, false};

int cmd_attach(int argc, char **argv)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	const struct vm_hub_entry *vm = NULL;
	int first = opt_parse(&attach_cmd, NULL, argc, argv), r;

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	if (argc - first > 1) {
		opt_usage_error(&attach_cmd, "one VM at a time");
		return EXIT_USAGE;
	}
	r = running_find(&list, first < argc ? argv[first] : NULL, &vm, &err);
	if (r == 0)
		r = attach_to(vm, &err);
	vm_hub_list_release(&list);
	if (r < 0) {
		log_it_error(&err, r);
		return exit_code_for(r);
	}
	return r;
}
