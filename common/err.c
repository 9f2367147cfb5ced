// SPDX-License-Identifier: MIT
/* One table that turns any return code into text, and the first-error keeper. */
#include <stdio.h>
#include <string.h>

#include "err.h"

static const char *const errtab[] = {
    [IT_EFORMAT - IT_EBASE] = "malformed input",
    [IT_ECHECKSUM - IT_EBASE] = "checksum mismatch",
    [IT_ESIGNATURE - IT_EBASE] = "bad signature",
    [IT_EUNTRUSTED - IT_EBASE] = "untrusted signature",
    [IT_EUNSAT - IT_EBASE] = "unsatisfiable dependencies",
    [IT_ENETWORK - IT_EBASE] = "network error",
    [IT_EHTTP - IT_EBASE] = "HTTP error",
    [IT_EPATH - IT_EBASE] = "unsafe path",
    [IT_ECONFLICT - IT_EBASE] = "file conflict",
    [IT_EUSAGE - IT_EBASE] = "usage error",
    [IT_ESCENARIO - IT_EBASE] = "bad scenario",
    [IT_ETIMEOUT - IT_EBASE] = "timed out",
    [IT_ENOTFOUND - IT_EBASE] = "not found",
    [IT_EOFFLINE - IT_EBASE] = "not in cache and --offline given",
    [IT_EKERNEL - IT_EBASE] = "kernel error",
    [IT_EVM - IT_EBASE] = "virtual machine error",
    [IT_EFAIL - IT_EBASE] = "expectation failed",
    [IT_EINTERRUPTED - IT_EBASE] = "interrupted",
    [IT_ELIMIT - IT_EBASE] = "size limit exceeded",
};

const char *it_strerror(int code)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		return "success";
	if (code > IT_EBASE && code < IT_EMAX)
		return errtab[code - IT_EBASE];
	if (code < IT_EBASE)
		return strerror(code);
	return "unknown error";
}

/*
 * Errors are one line: a file or package name from hostile input may hold a
 * newline or an escape sequence, which would forge lines on the terminal or
 * in CI logs. Control bytes become '?'.
 */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int it_error_setv(struct it_error *e, int code, const char *fmt, va_list ap)
{
	if (code > 0)
		code = -code;
	if (!e || e->code)
		return code;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	one_line(e->msg);
	return code;
}

int it_error_set(struct it_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = it_error_setv(e, code, fmt, ap);
	va_end(ap);
	return code;
}

void it_error_hint(struct it_error *e, const char *fmt, ...)
{
	va_list ap;

	if (!e || e->hint[0])
		return;
	va_start(ap, fmt);
	vsnprintf(e->hint, sizeof(e->hint), fmt, ap);
	va_end(ap);
	one_line(e->hint);
}

void it_error_clear(struct it_error *e)
{
	if (!e)
		return;
	e->code = 0;
	e->msg[0] = '\0';
	e->hint[0] = '\0';
}
