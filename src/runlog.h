/* SPDX-License-Identifier: MIT */
/* Console logs: a file with a size cap (its first bytes and its last), and the recorder of run
 * and boot that writes the raw and the cleaned log. */
#ifndef IT_RUNLOG_H
#define IT_RUNLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct conlog;

/* The cap of each console log file unless --log-max says otherwise. */
#define RUNLOG_DEFAULT_MAX (64ULL * 1024 * 1024)
/* A smaller cap (but 0, no cap) is raised to this. */
#define RUNLOG_MIN_MAX 4096ULL
/* The tail kept in memory: a quarter of the cap, at most this. */
#define RUNLOG_TAIL_MAX (1024 * 1024)
/* Room kept in the cap for the note that says what was left out. */
#define RUNLOG_NOTE_MAX 160

/*
 * A log written as it comes while it is under its cap. Once its head is full,
 * later bytes go to a ring in memory holding the last tail_max of them; the
 * file gets them at runlog_finish(): when some were lost in between, after
 * one note line,
 *
 *   [initrd-test: 2345678 bytes left out here (--log-max 1048576)]
 *
 * preceded by a '\n' (in a log of lines, only when the head does not end a
 * line). The finished file is never larger than the cap; the head, the number
 * in the note and the tail add up to every byte given. A file whose writer was
 * killed holds the head only.
 *
 * A raw log cuts at the byte. A log of text lines ('lines') ends its head
 * after a '\n' and starts its tail after one (the bytes before it count as
 * left out), unless that would waste over half of the head's last piece or of
 * the tail.
 */
struct runlog {
	int fd;		  /* owned; -1: none (bytes are counted, nothing is written) */
	uint64_t max;	  /* the cap; 0: none */
	bool lines;	  /* a log of text lines */
	uint64_t offered; /* bytes given to runlog_write() */
	uint64_t head;	  /* bytes in the file before the ring */
	bool head_nl;	  /* the head ends a line (or is empty) */
	uint64_t omitted; /* left out, once finished */
	bool head_full;	  /* later bytes go to the ring */
	bool finished;
	char *ring; /* tail_max bytes, allocated once the head is full */
	size_t tail_max, ring_start, ring_len;
	int err; /* the first error; the log stops there */
};

/* Take fd (owned from now on; -1 for none) with cap max (0: none). Cannot fail. */
void runlog_init(struct runlog *l, int fd, uint64_t max, bool lines);
/*
 * Create (truncate) dir/name and take it into l, which holds no file yet
 * (runlog_init with fd -1); err names the file when it cannot be made.
 */
int runlog_open(struct runlog *l, const char *dir, const char *name, uint64_t max, bool lines,
		struct it_error *err);
/* Add console bytes: 0, or the first error (-errno, -ENOMEM) again and again. */
int runlog_write(struct runlog *l, const void *p, size_t n);
/*
 * Write the tail kept in memory (and the note when bytes were lost); then
 * l->omitted says how many. Later writes fail with -EINVAL; a second call
 * does nothing. 0 or the first error.
 */
int runlog_finish(struct runlog *l);
/* Close the file and free the ring, without writing what is pending. */
void runlog_release(struct runlog *l);

/*
 * A size for --log-max: "0" (no cap), "65536", "512K", "64M", "1G" (K, M, G
 * are powers of 1024, either case). False for anything else, or a size over 0
 * and below RUNLOG_MIN_MAX.
 */
bool runlog_parse_size(const char *s, uint64_t *out);

/* Open (create, truncate) dir/name for writing into *fd, O_CLOEXEC; errors name the file. */
int run_open_log(const char *dir, const char *name, int *fd, struct it_error *err);

/*
 * The console of a VM as run and boot save it: console.raw (the bytes as
 * read) and console.log (cleaned lines, each with the time since the VM
 * start), each capped at 'max' (0: no cap). The first write error stops
 * both logs and stays in err; the VM goes on.
 */
struct recorder {
	struct runlog raw, log;
	struct conlog *conlog;
	struct buf lines; /* cleaned lines waiting to be written */
	int err;
};

/* Nothing open yet; recorder_release() is fine after it. */
void recorder_init(struct recorder *r);
/* Create dir/console.raw and dir/console.log; err names the file that cannot be made. */
int recorder_open(struct recorder *r, const char *dir, uint64_t max, struct it_error *err);
/* The time the log's stamps count from (CLOCK_MONOTONIC ms of the VM start). */
void recorder_start(struct recorder *r, int64_t start_ms);
/*
 * Before the first recorder_feed(): what a restored run's console showed
 * before it (the saving run's console.raw and console.log, as they are).
 */
int recorder_prepend(struct recorder *r, struct blob raw, struct blob log);
/* Console bytes as read: 0, or the first error again and again. */
int recorder_feed(struct recorder *r, const char *buf, size_t len, int64_t now_ms);
/*
 * The last line and the tails of capped logs go to the files (a warning
 * says how much a cap left out). 0 or the first error.
 */
int recorder_finish(struct recorder *r);
/* Close both files (after recorder_finish(), or without it on an error path). */
void recorder_release(struct recorder *r);

#endif
