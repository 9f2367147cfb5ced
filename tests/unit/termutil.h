/* SPDX-License-Identifier: MIT */
/* Helpers for tests that drive VMs and terminals: a private XDG_RUNTIME_DIR, ptys, children. */
#ifndef IT_TERMUTIL_H
#define IT_TERMUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <termios.h>

#include "common/buf.h"

/*
 * A fresh XDG_RUNTIME_DIR for each test, so that the tests never touch the
 * user's VMs: tu_runtime, inside one directory per test case that the parent
 * process makes and removes (a failed test, in its forked child, cleans
 * nothing). tu_case_setup/teardown are the unchecked fixture
 * (tcase_add_unchecked_fixture), tu_runtime_setup/teardown the checked one;
 * the runtime setup also sets NO_COLOR.
 */
extern char tu_runtime[128];
void tu_case_setup(void);
void tu_case_teardown(void);
void tu_runtime_setup(void);
void tu_runtime_teardown(void);
/* Both fixtures on tc: a private XDG_RUNTIME_DIR for each of its tests. */
void tu_runtime_fixtures(TCase *tc);

/* Read what a child writes on fd within limit_ms, one read, into out (NUL-terminated); closes fd.
 */
void tu_read_hello(int fd, char *out, size_t outsz, int limit_ms);

/* Wait up to limit_ms for child pid to exit; the test fails unless it exited normally: its code. */
int tu_wait_exit(pid_t pid, int limit_ms);

/* A real pseudo-terminal, everything its master side read, and a child on its slave side. */
struct tu_term {
	int master, slave;
	pid_t pid;	     /* the child started by tu_term_spawn(), 0 when none */
	struct termios orig; /* the slave's modes when opened */
	struct buf seen;     /* everything that came out */
	size_t mark;	     /* where the next tu_term_wait() starts looking */
};

/* Open a pty of rows x cols: canonical and echoing, as a shell leaves it (the test checks). */
void tu_term_open(struct tu_term *t, unsigned short rows, unsigned short cols);
/* Run fn(argc, argv) in a child whose controlling terminal and stdio are the pty. */
void tu_term_spawn(struct tu_term *t, int (*fn)(int, char **), int argc, char **argv);
/* The last 2000 bytes seen, for messages. */
const char *tu_term_tail(const struct tu_term *t);
/* Read what comes within timeout_ms (one read). */
void tu_term_read(struct tu_term *t, int timeout_ms);
/* Read what comes until nothing more does for 50 ms. */
void tu_term_drain(struct tu_term *t);
/* Read until needle shows after the mark (then moved past it); the test fails after limit_ms. */
void tu_term_wait(struct tu_term *t, const char *needle, int limit_ms);
/* Type s on the terminal. */
void tu_term_type(struct tu_term *t, const char *s);
/* Wait for the spawned child, reading all the while (it never blocks on a full pty): its code. */
int tu_term_exit(struct tu_term *t, int limit_ms);
/* Whether the slave is raw now (no ICANON, ECHO, ISIG). */
bool tu_term_is_raw(const struct tu_term *t);
/* Wait up to limit_ms for the slave to be (or not be) raw; the test fails otherwise. */
void tu_term_wait_raw(const struct tu_term *t, bool raw, int limit_ms);
/* The test fails unless the slave's modes are those it had when opened. */
void tu_term_assert_restored(const struct tu_term *t);
void tu_term_close(struct tu_term *t);

#endif
