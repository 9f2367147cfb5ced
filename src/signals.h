/* SPDX-License-Identifier: MIT */
/*
 * The command layer owns SIGINT and SIGTERM; libraries never install
 * handlers. A command catches both for as long as it works (sig_catch()):
 * the first one to come is kept in sig_caught, which the builder is handed
 * as its cancel flag (build_config.cancel) and which the runner's loop sees
 * through its signalfd. Between phases, sig_check() turns a caught or
 * pending signal into -IT_EINTERRUPTED.
 *
 * While blocked (the default during a run: a VM is started, stopped or
 * kept, reports are written) a signal waits for the next check instead of
 * killing the process half-way; sig_open(true) lets it in where waiting
 * must be cut short (a build's downloads, the wait for a shared build's
 * lock: no SA_RESTART, so those see EINTR). A signal the caller ignores
 * (SIG_IGN, a background job) stays ignored.
 */
#ifndef IT_SIGNALS_H
#define IT_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

#include "common/err.h"

/* The first SIGINT or SIGTERM caught (its number), 0 while none came. */
extern volatile sig_atomic_t sig_caught;

struct sig_guard {
	struct sigaction old_int, old_term;
	sigset_t oldmask;
	bool caught;
};

/* SIGINT and SIGTERM, but not one the caller ignores. */
void sig_interrupt_set(sigset_t *set);
/* Catch both into sig_caught (cleared first) and block them; the old state goes into g. */
void sig_catch(struct sig_guard *g);
/* Let them in (open) or block them again. */
void sig_open(bool open);
/* Take what is pending, then restore the handlers and mask of before sig_catch(). */
void sig_release(struct sig_guard *g);
/* Take a pending (blocked) signal into sig_caught; returns sig_caught. */
int sig_pending(void);
/* Keep sig (a signal that ended a VM loop, say) unless one was kept already. */
void sig_note(int sig);
/* -IT_EINTERRUPTED ("interrupted by SIGINT") once a signal came, else 0. */
int sig_check(struct it_error *err);
/*
 * An exclusive flock() on fd (the file at path, for messages): tried once
 * (wait false: 0 when another process holds it), or waited for, with
 * sig_check() every SIG_FLOCK_POLL_MS, so that a SIGINT or SIGTERM cuts
 * the wait short (-IT_EINTERRUPTED) whether signals are open or blocked.
 * 1 once taken; -errno with err naming path.
 */
#define SIG_FLOCK_POLL_MS 100
int sig_flock(int fd, const char *path, bool wait, struct it_error *err);

#endif
