// SPDX-License-Identifier: MIT
/* qemu's gdb stub on a free loopback port, and the gdb command line that attaches to it. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "src/gdbstub.h"
#include "src/run.h"

/* A port that is free on 127.0.0.1 now; -errno when none could be had. */
static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		r = -errno;
	else
		r = ntohs(sa.sin_port);
	close(fd);
	return r;
}

int gdbstub_setup(struct scenario *s, int *port, struct it_error *err)
{
	int p = free_port(), r;

	if (p < 0)
		return it_error_set(err, p, "cannot find a free port for the gdb stub: %s",
				    strerror(-p));
	r = strlist_add(&s->vm.extra_args, "-gdb");
	if (r == 0)
		r = strlist_addf(&s->vm.extra_args, "tcp:127.0.0.1:%d", p);
	if (r == 0)
		r = run_append_cmdline(&s->vm, "nokaslr");
	if (r < 0)
		return it_error_set(err, r, "cannot set up the gdb stub: %s", strerror(-r));
	*port = p;
	return 0;
}

void gdbstub_line(const struct scenario *s, int port, char *line, size_t n)
{
	snprintf(line, n, "gdb %s -ex 'target remote 127.0.0.1:%d'",
		 s->vmlinux ? s->vmlinux : "vmlinux", port);
}

void gdbstub_say(const struct scenario *s, int port)
{
	char line[PATH_MAX + 64];

	gdbstub_line(s, port, line, sizeof(line));
	fprintf(stderr, "gdb stub on 127.0.0.1:%d: %s\n", port, line);
}
