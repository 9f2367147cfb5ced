/* SPDX-License-Identifier: MIT */
/* initrd-test-agent: the guest end of the command channel; options, startup, then the loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/guest/guest.h"

static int sig_wr = -1;

static void on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	if (write(sig_wr, "c", 1) < 0) {
		/* The pipe is full: a wakeup is pending already. */
	}
	errno = saved;
}

static const char usage[] =
    "usage: initrd-test-agent [--daemon] [--port NAME] [--tty DEVICE] [--wait MS]\n"
    "       initrd-test-agent --fd N\n"
    "\n"
    "The guest end of initrd-test's command channel (docs/agent-protocol.md).\n"
    "  --daemon      mount /proc, /sys, /dev if missing, fork and return at once\n"
    "  --port NAME   the virtio port's name (default " AGENT_PORT_NAME ")\n"
    "  --tty DEVICE  use this serial device in raw mode instead of a virtio port\n"
    "  --wait MS     how long to wait for the virtio port (default 30000)\n"
    "  --fd N        serve an open descriptor (tests): no mounts, no modprobe;\n"
    "                its end of file ends the program\n";

struct options {
	bool daemon;
	int fd;
	int wait_ms;
	const char *port;
	const char *tty;
};

static bool parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = (int)v;
	return true;
}

/* 0 to go on, 1 to exit 0 (help), 2 for a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"daemon", no_argument, NULL, 'd'},	    {"fd", required_argument, NULL, 'f'},
	    {"port", required_argument, NULL, 'p'}, {"tty", required_argument, NULL, 't'},
	    {"wait", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->daemon = true;
			break;
		case 'f':
			if (!parse_int(optarg, 0, 1 << 20, &o->fd))
				return 2;
			break;
		case 'p':
			o->port = optarg;
			break;
		case 't':
			o->tty = optarg;
			break;
		case 'w':
			if (!parse_int(optarg, 0, 3600000, &o->wait_ms))
				return 2;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			puts("initrd-test-agent " GUEST_VERSION);
			return 1;
		default:
			return 2;
		}
	}
	return optind == argc ? 0 : 2;
}

static int setup_signals(struct guest *g)
{
	struct sigaction sa;

	if (pipe2(g->sig_fd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sig_wr = g->sig_fd[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		return -errno;
	/* A closed port must give EPIPE, not kill us; a console hangup is not ours. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	return 0;
}

/* --daemon: the parent returns to init at once; the child is its own session, stdio on /dev/null.
 */
static void daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		glog("cannot fork: %s; serving in the foreground", strerror(errno));
		return;
	}
	if (pid > 0)
		_exit(0);
	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
}

static void protect_from_oom(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, "-1000", 5) < 0)
		glog("cannot set oom_score_adj: %s", strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	static struct guest g; /* about 1 MiB: not on the stack */
	struct options o = {false, -1, GUEST_PORT_WAIT_MS, AGENT_PORT_NAME, NULL};
	int r = parse_options(argc, argv, &o);

	if (r == 1)
		return 0;
	if (r == 2) {
		fputs(usage, stderr);
		return 2;
	}
	g.port_fd = -1;
	g.outq = malloc(GUEST_OUTQ_MAX);
	if (!g.outq || setup_signals(&g) < 0) {
		fprintf(stderr, "initrd-test-agent: error: cannot start: %s\n", strerror(errno));
		return 1;
	}
	if (o.fd >= 0) {
		g.port_fd = o.fd;
		g.fixed_fd = true;
		fcntl(o.fd, F_SETFD, FD_CLOEXEC);
		fcntl(o.fd, F_SETFL, fcntl(o.fd, F_GETFL) | O_NONBLOCK);
		snprintf(g.transport, sizeof(g.transport), "fd %d", o.fd);
		snprintf(g.port_path, sizeof(g.port_path), "fd %d", o.fd);
		return guest_run(&g);
	}
	g.guest_mode = true;
	startup_mounts();
	glog_init(true);
	if (o.daemon)
		daemonize();
	protect_from_oom();
	startup_modprobe();
	while (port_open(&g, o.port, o.tty, o.wait_ms) < 0)
		sleep(1);
	ginfo("serving %s", g.transport);
	return guest_run(&g);
}
