/* SPDX-License-Identifier: MIT */
/* Kernel crash reports: find the first crash in console text, with its class and a title. */
#ifndef IT_EXPECT_CRASH_H
#define IT_EXPECT_CRASH_H

#include <stddef.h>

/*
 * Contract. crash_find() reads console text (untrusted guest bytes: any
 * bytes, any length, NULs included; lines end at '\n', a '\r' before it and
 * a printk time stamp "[   12.345678] " at the start are dropped) and fills
 * *c with the first kernel crash in it. It never allocates and never fails;
 * every field is NUL-terminated and truncated to its size. The title follows
 * syzkaller's style: "BUG: kernel NULL pointer dereference in FUNC",
 * "WARNING in FUNC", "kernel BUG in FUNC", "INFO: task hung in FUNC",
 * "kernel panic: MESSAGE". FUNC comes from the RIP line, from the
 * WARNING line's "at FILE:LINE FUNC+0x..", or for a hung task from the
 * first call-trace frame that is not the scheduler's.
 */
enum crash_class {
	CRASH_NONE,
	CRASH_PANIC,
	CRASH_OOPS, /* Oops, and page faults / NULL dereferences that lead to one */
	CRASH_GPF,
	CRASH_BUG,
	CRASH_WARNING,
	CRASH_KASAN,
	CRASH_UBSAN,
	CRASH_KFENCE,
	CRASH_LOCKDEP,
	CRASH_HUNG_TASK,
	CRASH_RCU_STALL,
	CRASH_SOFT_LOCKUP,
	CRASH_HARD_LOCKUP,
};

#define CRASH_TITLE_MAX 160
#define CRASH_LINE_MAX 256
#define CRASH_TRACE_MAX 4096
#define CRASH_BEFORE_MAX 2048
#define CRASH_BEFORE_LINES 10
#define CRASH_REPORT_LINES 120 /* lines after the first one that a report may span */

struct crash {
	enum crash_class cls;
	size_t at;    /* offset in the text of the report's first line */
	size_t end;   /* offset just past the report's last line seen */
	int complete; /* an end marker ("---[ end ", "Kernel Offset:") or the line limit was seen */
	char title[CRASH_TITLE_MAX];
	char first[CRASH_LINE_MAX];    /* the report's first line, time stamp dropped */
	char rip[CRASH_LINE_MAX];      /* "RIP: 0010:func+0x12/0x30 [mod]", or empty */
	char modules[CRASH_LINE_MAX];  /* the list after "Modules linked in: ", or empty */
	char trace[CRASH_TRACE_MAX];   /* call-trace frame lines, one per line, trimmed */
	char before[CRASH_BEFORE_MAX]; /* up to CRASH_BEFORE_LINES lines before the report */
};

/* The first crash in text[0..n): 1 and *c filled, or 0 (c->cls CRASH_NONE) when there is none. */
int crash_find(const char *text, size_t n, struct crash *c);

/*
 * What a report's last line starts with: "---[ end " (the end marker after
 * a trace) and "Kernel Offset:" (after a panic's); NULL-terminated.
 */
extern const char *const crash_end_marks[];

/* Lower-case class name for reports and JSON: "panic", "oops", "warning", "hung-task", ... */
const char *crash_class_name(enum crash_class cls);

/* Offset in text of the first line that starts a crash report of any class, or n when none. */
size_t crash_start(const char *text, size_t n);

#endif
