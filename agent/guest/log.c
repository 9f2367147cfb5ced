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

static __attribute__((format(printf, 2, 0))) void glogv(const char *level, const char *fmt,
							va_list ap)
{
	char line[512];
	int n, saved = errno;

	n = snprintf(line, sizeof(line), "%sinitrd-test-agent: ", log_fd == 2 ? "" : level);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	for (n = 0; n < (int)sizeof(line) - 2 && line[n]; n++)
		if ((unsigned char)line[n] < 0x20)
			line[n] = '?';
	line[n++] = '\n';
	if (write(log_fd, line, (size_t)n) < 0) {
		/* Nowhere else to say it. */
	}
	errno = saved;
}

/* <4>: a warning, printed on the console at the default log level, so the console log shows it. */
void glog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	glogv("<4>", fmt, ap);
	va_end(ap);
}

/* <7>: news that is no trouble goes to dmesg only, never into the console a scenario matches. */
void ginfo(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	glogv("<7>", fmt, ap);
	va_end(ap);
}
