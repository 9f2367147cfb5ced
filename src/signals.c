// SPDX-License-Identifier: MIT
/* SIGINT and SIGTERM for the command layer: caught into one flag, blocked between checks. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>

#include "common/util.h"
#include "src/signals.h"

volatile sig_atomic_t sig_caught;

static void on_signal(int sig)
{
	if (!sig_caught)
		sig_caught = sig;
}

void sig_note(int sig)
{
	on_signal(sig);
}

void sig_interrupt_set(sigset_t *set)
{
	sigemptyset(set);
	add_interrupt_signals(set);
}

int sig_pending(void)
{
	sigset_t set;
	int sig;

	sig_interrupt_set(&set);
	sig = take_pending_signals(&set);
	if (sig)
		on_signal(sig);
	return sig_caught;
}

void sig_catch(struct sig_guard *g)
{
	struct sigaction sa;
	sigset_t set;

	memset(g, 0, sizeof(*g));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a download's poll and the wait for a build's lock must see EINTR. */
	sig_caught = 0;
	sig_interrupt_set(&set);
	sigprocmask(SIG_BLOCK, &set, &g->oldmask);
	if (sigaction(SIGINT, NULL, &g->old_int) < 0 || sigaction(SIGTERM, NULL, &g->old_term) < 0)
		return;
	if (sigismember(&set, SIGINT))
		sigaction(SIGINT, &sa, NULL);
	if (sigismember(&set, SIGTERM))
		sigaction(SIGTERM, &sa, NULL);
	g->caught = true;
}

void sig_open(bool open)
{
	sigset_t set;

	sig_interrupt_set(&set);
	sigprocmask(open ? SIG_UNBLOCK : SIG_BLOCK, &set, NULL);
}

void sig_release(struct sig_guard *g)
{
	sig_pending();
	if (g->caught) {
		sigaction(SIGINT, &g->old_int, NULL);
		sigaction(SIGTERM, &g->old_term, NULL);
		g->caught = false;
	}
	sigprocmask(SIG_SETMASK, &g->oldmask, NULL);
}

int sig_check(struct it_error *err)
{
	if (!sig_pending())
		return 0;
	return it_error_set(err, -IT_EINTERRUPTED, "interrupted by %s",
			    sig_caught == SIGTERM ? "SIGTERM" : "SIGINT");
}

int sig_flock(int fd, const char *path, bool wait, struct it_error *err)
{
	int r;

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 1;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return it_error_set(err, -errno, "cannot lock '%s': %s", path,
					    strerror(errno));
		if (!wait)
			return 0;
		r = sig_check(err);
		if (r < 0)
			return r;
		poll(NULL, 0, SIG_FLOCK_POLL_MS);
	}
}
