/* SPDX-License-Identifier: MIT */
/* Small helpers: monotonic time, files written whole or not at all, directories. */
#ifndef IT_UTIL_H
#define IT_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in milliseconds / nanoseconds. */
int64_t now_ms(void);
int64_t now_ns(void);
/* Milliseconds from now until deadline, clamped to [0, INT32_MAX]; -1 for no deadline (deadline <
 * 0). */
int ms_until(int64_t deadline_ms);
/* The earlier of two deadlines, where -1 (any negative) is none. */
int64_t deadline_earliest(int64_t a, int64_t b);

/* mkdir -p with the given mode for created directories. -errno on failure. */
int mkdir_p(const char *path, unsigned mode);
/* rm -rf; missing is not an error. */
int rm_rf(const char *path);

/* Write all n bytes to fd, again after EINTR and short writes. 0 or -errno. */
int fd_write_all(int fd, const void *data, size_t n);

/*
 * Write a file whole or not at all: data goes to "PATH.tmp.PID.N" in the
 * same directory, is fsync'ed, then renamed over PATH. The temp file is
 * removed on failure.
 */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* Create a unique temp file next to 'path' (O_CLOEXEC, mode 0644); tmp gets its name. */
int open_tmp_beside(const char *path, char *tmp, size_t tmpsz);

/*
 * Add SIGINT and SIGTERM to set, except one the process ignores: a script's
 * background job starts with SIGINT ignored so that Ctrl-C stops the script
 * and not the job, and Linux queues a blocked signal even when it is
 * ignored, so such a one must be neither blocked nor watched.
 */
void add_interrupt_signals(sigset_t *set);
/* Take, without waiting, every signal of set pending while blocked: the first one, or 0. */
int take_pending_signals(const sigset_t *set);

/* Join a and b with one '/', into out (size outsz). -ENAMETOOLONG if it does not fit. */
int path_join(char *out, size_t outsz, const char *a, const char *b);
/* The directory of the running binary (/proc/self/exe) into out: true, or false when unknown. */
bool exe_dir(char *out, size_t outsz);
/*
 * PATH, an install path such as IT_DATADIR, under the root this binary runs from: when
 * the binary's directory ends in IT_BINDIR (an install staged into DESTDIR, or moved
 * whole to another root), that root is put before PATH; else PATH itself. Writes OUT
 * and returns it; PATH when OUT is too small.
 */
const char *install_path(char *out, size_t outsz, const char *path);

/* The value of one hexadecimal digit (either case), or -1. */
int hex_digit_value(char c);
/* The n bytes at p as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void hex_encode(const unsigned char *p, size_t n, char *out);

/* Parse a strictly decimal integer in [min,max]; false on junk or overflow. */
bool parse_long(const char *s, long min, long max, long *out);
/* Parse a duration "15", "15s", "500ms", "2m", "1h", "30d" into milliseconds. */
bool parse_duration_ms(const char *s, int64_t *out);
/* Parse a size "512", "512M", "1G" into mebibytes. */
bool parse_size_mib(const char *s, long *out);

/* SOURCE_DATE_EPOCH from the environment, or 'fallback' when unset; -1 if malformed. */
int64_t source_date_epoch(int64_t fallback);

#endif
