/* SPDX-License-Identifier: MIT */
/*
 * A run's progress for the person watching it: on a terminal one status
 * line, redrawn in place (the current step, how long it has waited against
 * its budget and timeout, the run's elapsed time); on a pipe or a file one
 * plain line each time the current step changes. Colour only on a terminal
 * and without NO_COLOR. A run inside a suite shows none (the suite has its
 * own), nor does -q.
 *
 * The line shares the terminal with the live console (stdout): the caller
 * hides it before console bytes go out and draws it again once the console
 * is at the start of a line, so a prompt without a newline is never
 * overwritten.
 */
#ifndef IT_PROGRESS_H
#define IT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The redraw interval on a terminal. */
#define PROGRESS_TICK_MS 1000

struct progress {
	int fd;		 /* where it goes (stderr); -1: off */
	bool tty;	 /* one line redrawn; else plain lines */
	bool color;	 /* a terminal without NO_COLOR */
	bool drawn;	 /* the line is on the terminal now */
	unsigned width;	 /* the terminal's columns (80 when unknown) */
	size_t step, n;	 /* the current step (0-based) of n; n 0: none yet */
	char name[128];	 /* its name */
	int64_t budget;	 /* its budget (ms); 0: none */
	int64_t timeout; /* its timeout (ms); 0: none */
	int64_t since;	 /* when it became current (CLOCK_MONOTONIC ms) */
	int64_t zero;	 /* the run's start */
	int64_t next;	 /* the next redraw; -1: none */
};

/*
 * Off (fd -1) when !on; else on fd, a terminal's line or plain lines, the
 * colour from NO_COLOR. zero_ms is the run's start, for the elapsed time.
 */
void progress_init(struct progress *p, int fd, bool on, int64_t zero_ms);

/* Step i of n (name, budget and timeout in ms, 0: none) is current from now_ms on. */
void progress_step(struct progress *p, size_t i, size_t n, const char *name, int64_t budget_ms,
		   int64_t timeout_ms, int64_t now_ms);

/* The terminal's line, drawn again with the times at now_ms (nothing on a pipe). */
void progress_draw(struct progress *p, int64_t now_ms);
/* The line erased, so that other output can take its place (nothing on a pipe). */
void progress_hide(struct progress *p);
/*
 * The redraw deadline has passed: draw when may_draw (the console is at the
 * start of a line), else wait a tick more. Either way the deadline moves on,
 * so that a loop that waits for it never spins.
 */
void progress_tick(struct progress *p, int64_t now_ms, bool may_draw);
/* The next redraw's deadline, or -1 (a pipe, off, or no step yet). */
int64_t progress_deadline(const struct progress *p);

/*
 * The status text at now_ms into out (NUL-terminated, cut to width columns):
 * "step 5/11 lease: 3.2s of its 20s budget (timeout 60s), 15.3s elapsed";
 * with colour the name is bold, and the wait red once over its budget.
 */
void progress_format(const struct progress *p, int64_t now_ms, char *out, size_t outsz);

#endif
