/* SPDX-License-Identifier: MIT */
/* The agent's own troubles, one line each: to /dev/kmsg in the VM (so the console log shows them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "agent/guest/guest.h"

static int log_fd = 2;

void glog_init(bool kmsg)
{
	int fd;

	if (!kmsg)
		return;
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0)
		log_fd = fd;
}

void glog(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, saved = errno;

	/* <4>: a warning, printed on the console at the default log level. */
	n = snprintf(line, sizeof(line), "%sinitrd-test-agent: ", log_fd == 2 ? "" : "<4>");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	for (n = 0; line[n] && n < (int)sizeof(line) - 2; n++)
		if ((unsigned char)line[n] < 0x20)
			line[n] = '?';
	line[n++] = '\n';
	if (write(log_fd, line, (size_t)n) < 0) {
		/* Nowhere else to say it. */
	}
	errno = saved;
}
