/* SPDX-License-Identifier: MIT */
/* Diagnostics on stderr: levels, colour only on a terminal, NO_COLOR honoured. */
#ifndef IT_LOG_H
#define IT_LOG_H

#include <stdbool.h>

#include "err.h"

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2, LOG_DEBUG = 3 };

extern int log_verbosity;    /* LOG_NORMAL unless -q / -v */
extern const char *log_prog; /* "initrd-test" */

void log_init(void);
bool log_stderr_is_tty(void);
bool log_color(void);

/* "initrd-test: error: MSG" (and "hint: HINT" on a second line when given). */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress and status lines; hidden by -q. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Shown with -v. */
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print an it_error (falling back to it_strerror(code) when no text was set). */
void log_it_error(const struct it_error *e, int code);

#endif
