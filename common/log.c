// SPDX-License-Identifier: MIT
/* Diagnostics on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

int log_verbosity = LOG_NORMAL;
const char *log_prog = "initrd-test";
static int color = -1;

void log_init(void)
{
	const char *nc = getenv("NO_COLOR");

	color = isatty(STDERR_FILENO) && !(nc && nc[0]);
}

bool log_stderr_is_tty(void)
{
	return isatty(STDERR_FILENO);
}

bool log_color(void)
{
	if (color < 0)
		log_init();
	return color;
}

static void __attribute__((format(printf, 3, 0)))
vlog(const char *tag, const char *col, const char *fmt, va_list ap)
{
	if (tag) {
		if (log_color())
			fprintf(stderr, "%s: %s%s:\033[0m ", log_prog, col, tag);
		else
			fprintf(stderr, "%s: %s: ", log_prog, tag);
	}
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error", "\033[1;31m", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog("warning", "\033[1;33m", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog(NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog(NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < LOG_DEBUG)
		return;
	va_start(ap, fmt);
	vlog("debug", "\033[2m", fmt, ap);
	va_end(ap);
}

void log_it_error(const struct it_error *e, int code)
{
	if (e && e->code && e->msg[0])
		log_error("%s", e->msg);
	else
		log_error("%s", it_strerror(code));
	if (e && e->hint[0])
		fprintf(stderr, "hint: %s\n", e->hint);
}
