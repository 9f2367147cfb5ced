// SPDX-License-Identifier: MIT
/* The suite scheduler: each scenario in a child process, -j at a time; progress, signals, reaping.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "src/run.h"
#include "src/runlog.h"
#include "src/signals.h"
#include "src/suite.h"

#define BUILDS_DIR ".builds"

enum child_state { CHILD_WAITING = 0, CHILD_RUNNING, CHILD_DONE };

/* One scenario of the suite, run by a child process. */
struct child {
	const struct suite_entry *e;
	enum child_state state;
	pid_t pid;
	int status_fd;	    /* read end of the child's progress pipe; -1 when closed */
	struct buf partial; /* an unfinished progress line */
	char phase[160];
	int64_t start_ms, end_ms;
	int wait_status;
	bool signalled; /* we forwarded SIGINT/SIGTERM to it */
	char dir[PATH_MAX];
	char message[512]; /* its verdict line, once done */
	bool passed;
	struct result_set res; /* its run, once done: the report takes them in list order */
};

struct suite_run {
	const struct suite_opts *so;
	const struct run_opts *ro;
	struct suite_list list;
	struct child *kids;
	const char *out; /* the suite's root */
	char builds[PATH_MAX], artifacts[PATH_MAX];
	long jobs;
	size_t running, done, next;
	int sfd; /* signalfd: SIGCHLD, SIGINT, SIGTERM */
	sigset_t oldmask;
	int interrupted; /* the signal that stopped the suite, 0 if none */
	bool tty, live, scroll;
	unsigned drawn; /* status lines on the screen */
	unsigned width;
	int64_t start_ms, last_draw;
	struct result_set report;
};

static unsigned term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static unsigned term_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 2)
		return ws.ws_row;
	return 24;
}

static void child_line(const struct child *k, char *line, size_t n)
{
	int64_t now = now_ms();

	switch (k->state) {
	case CHILD_WAITING:
		snprintf(line, n, "%-20s  waiting", k->e->id);
		return;
	case CHILD_RUNNING:
		snprintf(line, n, "%-20s  %5.1fs  %s", k->e->id,
			 (double)(now - k->start_ms) / 1000.0, k->phase[0] ? k->phase : "starting");
		return;
	case CHILD_DONE:
		snprintf(line, n, "%s", k->message);
		return;
	}
}

/* The block of status lines, redrawn in place (a terminal only). */
static void draw(struct suite_run *sr, bool force)
{
	char line[1024];
	int64_t now = now_ms();

	if (!sr->tty || sr->live || sr->scroll || (!force && now - sr->last_draw < 250))
		return;
	sr->last_draw = now;
	if (sr->drawn)
		printf("\033[%uA", sr->drawn);
	for (size_t i = 0; i < sr->list.n; i++) {
		child_line(&sr->kids[i], line, sizeof(line));
		if (strlen(line) >= sr->width)
			line[sr->width - 1] = '\0';
		printf("\r\033[K%s\n", line);
	}
	sr->drawn = (unsigned)sr->list.n;
	fflush(stdout);
}

/* Child side: run one scenario with output into its run.log; never returns. */
static void __attribute__((noreturn))
child_main(struct suite_run *sr, struct child *k, int status_wr, int log_fd, pid_t parent)
{
	struct run_opts o = *sr->ro;
	sigset_t mask, watched;
	int code;

	/* SIGINT and SIGTERM stay blocked: run_scenario() takes them, none may kill us before. */
	sig_interrupt_set(&watched);
	sigorset(&mask, &sr->oldmask, &watched);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Gone with the suite, even when it is killed; out of the terminal's Ctrl-C group. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(EXIT_INTERRUPTED);
	setpgid(0, 0);
	if (log_fd >= 0) {
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
		close(log_fd);
		log_init();
	}
	fcntl(status_wr, F_SETFL, O_NONBLOCK);
	o.status_fd = status_wr;
	o.out_dir = k->dir;
	o.name = k->e->id;
	o.artifacts_dir = sr->artifacts;
	o.build_dir = sr->builds;
	o.out.junit = NULL;
	o.out.json = NULL;
	code = run_scenario(k->e->dir, &o);
	fflush(stdout);
	fflush(stderr);
	_exit(code);
}

static int start_child(struct suite_run *sr, struct child *k, struct it_error *err)
{
	char path[PATH_MAX];
	int pipefd[2] = {-1, -1}, log_fd = -1, r;
	pid_t parent = getpid();

	if (path_join(k->dir, sizeof(k->dir), sr->out, k->e->id) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", sr->out,
				    k->e->id);
	r = mkdir_p(k->dir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", k->dir, it_strerror(r));
	/* Nothing of an earlier run may pass for this one's. */
	if (path_join(path, sizeof(path), k->dir, RUN_RESULT_FILE) == 0)
		unlink(path);
	if (path_join(path, sizeof(path), sr->artifacts, k->e->id) == 0)
		rm_rf(path);
	if (!sr->live) {
		r = run_open_log(k->dir, RUN_LOG_FILE, &log_fd, err);
		if (r < 0)
			return r;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = it_error_set(err, -errno, "cannot make a pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(stdout);
	fflush(stderr);
	k->pid = fork();
	if (k->pid < 0) {
		r = it_error_set(err, -errno, "cannot start a process for '%s': %s", k->e->id,
				 strerror(errno));
		goto fail;
	}
	if (k->pid == 0) {
		close(pipefd[0]);
		close(sr->sfd);
		child_main(sr, k, pipefd[1], log_fd, parent);
	}
	close(pipefd[1]);
	if (log_fd >= 0)
		close(log_fd);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	k->status_fd = pipefd[0];
	k->state = CHILD_RUNNING;
	k->start_ms = now_ms();
	buf_init(&k->partial, 4096);
	sr->running++;
	if (!sr->tty && !sr->ro->out.quiet)
		log_info("started %s", k->e->id);
	return 0;
fail:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (log_fd >= 0)
		close(log_fd);
	return r;
}

static void read_status(struct child *k)
{
	char chunk[1024];
	ssize_t n;

	for (;;) {
		n = read(k->status_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(&k->partial, chunk, (size_t)n) < 0)
			buf_reset(&k->partial); /* a runaway line: drop it */
	}
	for (;;) {
		char *nl = memchr(k->partial.data, '\n', k->partial.len);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - k->partial.data);
		if (len >= sizeof(k->phase))
			len = sizeof(k->phase) - 1;
		memcpy(k->phase, k->partial.data, len);
		k->phase[len] = '\0';
		buf_consume(&k->partial, (size_t)(nl - k->partial.data) + 1);
	}
	if (n == 0) {
		close(k->status_fd);
		k->status_fd = -1;
	}
}

/* The run of a child that left no result: it was killed, or crashed. */
static int synthetic_run(const struct child *k, bool interrupted, struct result_run *r)
{
	char why[256], msg[512];

	if (WIFSIGNALED(k->wait_status))
		snprintf(why, sizeof(why), "its process was killed by signal %d (%s)",
			 WTERMSIG(k->wait_status), strsignal(WTERMSIG(k->wait_status)));
	else
		snprintf(why, sizeof(why), "its process exited with status %d and left no %s",
			 WEXITSTATUS(k->wait_status), RUN_RESULT_FILE);
	snprintf(msg, sizeof(msg), "%s %s: %s", interrupted ? "INTERRUPTED" : "ERROR", k->e->id,
		 why);
	r->verdict = interrupted ? RUN_INTERRUPTED : RUN_INFRA_ERROR;
	it_error_set(&r->error, interrupted ? -IT_EINTERRUPTED : -IT_EVM, "%s", why);
	if (result_setstr(&r->scenario, k->e->id) < 0 || result_setstr(&r->path, k->e->dir) < 0 ||
	    result_setstr(&r->message, msg) < 0)
		return -ENOMEM;
	return 0;
}

/* What a finished child left (OUT/NAME/result.json), or a run saying why there is none. */
static void load_child_result(struct child *k, bool interrupted)
{
	struct it_error err = IT_ERROR_INIT;
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), k->dir, RUN_RESULT_FILE) == 0 &&
	    access(path, F_OK) == 0 && result_json_load(&k->res, path, &err) < 0)
		log_it_error(&err, err.code);
	if (k->res.n == 1)
		return;
	result_set_release(&k->res);
	if (!result_set_add(&k->res) || synthetic_run(k, interrupted, &k->res.runs[0]) < 0)
		result_set_release(&k->res);
}

/* Add the child's shard and artifacts to its run, for the suite's report. */
static void collect_child(struct suite_run *sr, struct child *k)
{
	char path[PATH_MAX], shard[32];
	struct result_run *r;

	load_child_result(k, k->signalled || sr->interrupted);
	if (k->res.n != 1) {
		snprintf(k->message, sizeof(k->message), "%s", k->e->id);
		return;
	}
	r = &k->res.runs[0];
	if (sr->so->sharded) {
		snprintf(shard, sizeof(shard), "%u/%u", sr->so->shard.index, sr->so->shard.count);
		result_setstr(&r->shard, shard);
	}
	if (path_join(path, sizeof(path), sr->artifacts, k->e->id) == 0 && access(path, F_OK) == 0)
		result_setstr(&r->artifacts, path);
	snprintf(k->message, sizeof(k->message), "%s", r->message ? r->message : k->e->id);
	k->passed = r->verdict == RUN_PASSED;
}

/* Without a terminal: the finished scenario's whole log, in one piece. */
static void print_group(struct suite_run *sr, const struct child *k)
{
	char path[PATH_MAX];
	struct buf b;

	if (sr->live || sr->ro->out.quiet) {
		if (sr->ro->out.quiet && !k->passed)
			printf("%s\n", k->message);
		return;
	}
	if (sr->tty && !sr->scroll)
		return;
	printf("==> %s (%zu/%zu, %.1fs): %s\n", k->e->id, sr->done, sr->list.n,
	       (double)(k->end_ms - k->start_ms) / 1000.0, k->message);
	if (sr->tty)
		return; /* a long suite on a terminal: one line each, logs in OUT/NAME/run.log */
	buf_init(&b, 0);
	if (path_join(path, sizeof(path), k->dir, RUN_LOG_FILE) == 0 &&
	    buf_read_file(&b, path) == 0) {
		fwrite(b.data, 1, b.len, stdout);
		if (b.len && b.data[b.len - 1] != '\n')
			fputc('\n', stdout);
	}
	buf_release(&b);
	fflush(stdout);
}

static void reap(struct suite_run *sr)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < sr->list.n; i++) {
			struct child *k = &sr->kids[i];

			if (k->state != CHILD_RUNNING || k->pid != pid)
				continue;
			if (k->status_fd >= 0) {
				read_status(k);
				if (k->status_fd >= 0)
					close(k->status_fd);
				k->status_fd = -1;
			}
			buf_release(&k->partial);
			k->wait_status = status;
			k->state = CHILD_DONE;
			k->end_ms = now_ms();
			sr->running--;
			sr->done++;
			collect_child(sr, k);
			print_group(sr, k);
			break;
		}
	}
}

static void forward_signal(struct suite_run *sr, int sig)
{
	sr->interrupted = sig;
	for (size_t i = 0; i < sr->list.n; i++) {
		if (sr->kids[i].state != CHILD_RUNNING)
			continue;
		sr->kids[i].signalled = true;
		kill(sr->kids[i].pid, sig);
	}
}

/* The loop: start children up to -j, follow their progress, reap them. */
static int schedule(struct suite_run *sr, struct it_error *err)
{
	struct pollfd *pfd = calloc(sr->list.n + 1, sizeof(*pfd));
	size_t *who = calloc(sr->list.n + 1, sizeof(*who));
	int r = 0;

	if (!pfd || !who) {
		free(pfd);
		free(who);
		return it_error_set(err, -ENOMEM, "cannot run the suite: %s", strerror(ENOMEM));
	}
	while (sr->done < sr->list.n) {
		size_t n = 0;
		int timeout;

		while (!sr->interrupted && sr->running < (size_t)sr->jobs &&
		       sr->next < sr->list.n) {
			r = start_child(sr, &sr->kids[sr->next], err);
			if (r < 0)
				break;
			sr->next++;
		}
		if (r < 0)
			break;
		if (sr->interrupted && sr->running == 0)
			break; /* the rest never started */
		draw(sr, false);
		pfd[n++] = (struct pollfd){.fd = sr->sfd, .events = POLLIN};
		for (size_t i = 0; i < sr->list.n; i++) {
			if (sr->kids[i].state != CHILD_RUNNING || sr->kids[i].status_fd < 0)
				continue;
			who[n] = i;
			pfd[n++] = (struct pollfd){.fd = sr->kids[i].status_fd, .events = POLLIN};
		}
		timeout = sr->tty && !sr->live && !sr->scroll ? 250 : -1;
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			r = it_error_set(err, -errno, "cannot wait for the suite: %s",
					 strerror(errno));
			break;
		}
		for (size_t i = 1; i < n; i++) {
			if (pfd[i].revents)
				read_status(&sr->kids[who[i]]);
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sr->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
					forward_signal(sr, (int)si.ssi_signo);
			}
			reap(sr);
		}
	}
	if (r < 0) {
		/* Stop what runs, and wait for it. */
		forward_signal(sr, SIGTERM);
		sr->interrupted = 0;
		while (sr->running > 0) {
			int status;
			pid_t pid = waitpid(-1, &status, 0);

			if (pid < 0 && errno != EINTR)
				break;
			if (pid > 0)
				reap(sr);
		}
		reap(sr);
	}
	draw(sr, true);
	free(pfd);
	free(who);
	return r;
}

static long suite_jobs(const struct suite_run *sr)
{
	long ncpu = 1, avail = 0, vm = 0;

	if (sr->so->parallel > 0)
		return sr->so->parallel;
	for (size_t i = 0; i < sr->list.n; i++) {
		long m = sr->ro->memory_mib > 0 ? sr->ro->memory_mib : sr->list.v[i].memory_mib;

		if (m > vm)
			vm = m;
	}
	if (suite_host_capacity(&ncpu, &avail) < 0)
		return 1;
	return suite_default_jobs(ncpu, avail, vm);
}

static void suite_run_release(struct suite_run *sr)
{
	for (size_t i = 0; sr->kids && i < sr->list.n; i++) {
		if (sr->kids[i].status_fd >= 0)
			close(sr->kids[i].status_fd);
		buf_release(&sr->kids[i].partial);
		result_set_release(&sr->kids[i].res);
	}
	free(sr->kids);
	suite_list_release(&sr->list);
	result_set_release(&sr->report);
	if (sr->sfd >= 0)
		close(sr->sfd);
}

static int write_suite_outputs(struct suite_run *sr, struct it_error *err)
{
	char path[PATH_MAX];
	int r = 0;

	if (path_join(path, sizeof(path), sr->out, "results.json") == 0)
		r = result_write_json(&sr->report, path, err);
	if (r == 0 && sr->ro->out.json)
		r = result_write_json(&sr->report, sr->ro->out.json, err);
	if (r == 0 && sr->ro->out.junit)
		r = result_write_junit(&sr->report, sr->ro->out.junit, err);
	return r;
}

/* On a terminal the status block shows every verdict: what to do about failures goes below. */
static void print_failures(const struct suite_run *sr)
{
	for (size_t i = 0; i < sr->report.n; i++) {
		const struct result_run *r = &sr->report.runs[i];

		if (r->verdict == RUN_PASSED)
			continue;
		printf("%s:\n", r->scenario);
		if (r->hint)
			printf("  hint: %s\n", r->hint);
		if (r->artifacts)
			printf("  artifacts: %s\n", r->artifacts);
	}
}

static void print_summary(struct suite_run *sr)
{
	struct buf b;

	buf_init(&b, 0);
	if (!sr->tty || sr->scroll || sr->live || sr->ro->out.quiet) {
		if (result_set_summary(&sr->report, false, &b) == 0)
			fwrite(b.data, 1, b.len, stdout);
	} else {
		print_failures(sr);
		if (result_set_totals(&sr->report, &b) == 0)
			printf("%s\n", b.data);
	}
	printf("suite: %.1fs with -j %ld", (double)(now_ms() - sr->start_ms) / 1000.0, sr->jobs);
	if (sr->so->sharded)
		printf(", shard %u/%u", sr->so->shard.index, sr->so->shard.count);
	if (sr->next < sr->list.n)
		printf(", %zu not started", sr->list.n - sr->next);
	printf("; results in %s/results.json\n", sr->out);
	fflush(stdout);
	buf_release(&b);
}

/* SIGINT or SIGTERM still waiting in the signalfd once every child has ended. */
static void take_suite_signals(struct suite_run *sr)
{
	struct signalfd_siginfo si;

	while (read(sr->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if ((si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) && !sr->interrupted)
			sr->interrupted = (int)si.ssi_signo;
	}
}

/* Discover and shard the scenarios; the suite's folders and its settings. */
static int suite_prepare(struct suite_run *sr, const char *const *paths, size_t npaths,
			 const struct result_set *durations, struct it_error *err)
{
	const struct run_opts *ro = sr->ro;
	int r = suite_discover(paths, npaths, &sr->list, err);

	if (r == 0 && sr->so->sharded)
		r = suite_shard_select(&sr->list, sr->so->shard, durations);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sr->list.skipped.n; i++)
		log_verbose("skipped %s: no steps (a base for others)", sr->list.skipped.v[i]);
	if (path_join(sr->builds, sizeof(sr->builds), sr->out, BUILDS_DIR) < 0 ||
	    (ro->artifacts_dir
		 ? snprintf(sr->artifacts, sizeof(sr->artifacts), "%s", ro->artifacts_dir) >=
		       (int)sizeof(sr->artifacts)
		 : path_join(sr->artifacts, sizeof(sr->artifacts), sr->out, RUN_ARTIFACTS_DIR) < 0))
		return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", sr->out);
	r = mkdir_p(sr->out, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", sr->out, it_strerror(r));
	sr->jobs = suite_jobs(sr);
	sr->tty = isatty(STDOUT_FILENO) && !ro->out.quiet;
	sr->live = sr->tty && sr->list.n == 1;
	sr->width = term_width();
	sr->scroll = sr->tty && sr->list.n + 2 > term_rows();
	sr->kids = calloc(sr->list.n ? sr->list.n : 1, sizeof(*sr->kids));
	if (!sr->kids)
		return it_error_set(err, -ENOMEM, "cannot run the suite: %s", strerror(ENOMEM));
	for (size_t i = 0; i < sr->list.n; i++) {
		sr->kids[i].e = &sr->list.v[i];
		sr->kids[i].status_fd = -1;
	}
	return 0;
}

/* SIGCHLD, SIGINT and SIGTERM into a signalfd, blocked from here on. */
static int watch_signals(struct suite_run *sr, struct it_error *err)
{
	sigset_t mask;

	sig_interrupt_set(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &sr->oldmask);
	sr->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sr->sfd >= 0)
		return 0;
	sigprocmask(SIG_SETMASK, &sr->oldmask, NULL);
	return it_error_set(err, -errno, "cannot watch signals: %s", strerror(errno));
}

/* The children's runs, in list order, into the suite's report. */
static void gather(struct suite_run *sr)
{
	for (size_t i = 0; i < sr->list.n; i++) {
		if (sr->kids[i].state == CHILD_DONE &&
		    result_set_take(&sr->report, &sr->kids[i].res) < 0)
			log_error("cannot keep the result of %s: out of memory", sr->kids[i].e->id);
	}
}

int suite_run(const char *const *paths, size_t npaths, const struct run_opts *ro,
	      const struct result_set *durations)
{
	struct it_error err = IT_ERROR_INIT;
	struct suite_run sr;
	int r, code;

	memset(&sr, 0, sizeof(sr));
	sr.sfd = -1;
	sr.so = &ro->suite;
	sr.ro = ro;
	sr.out = ro->out_dir ? ro->out_dir : RUN_DEFAULT_OUT;
	suite_list_init(&sr.list);
	result_set_init(&sr.report);
	sr.start_ms = now_ms();
	r = suite_prepare(&sr, paths, npaths, durations, &err);
	if (r == 0 && sr.so->sharded)
		log_info("shard %u/%u: %zu scenario%s", sr.so->shard.index, sr.so->shard.count,
			 sr.list.n, sr.list.n == 1 ? "" : "s");
	if (r == 0)
		log_info("suite of %zu scenario%s in %s, -j %ld", sr.list.n,
			 sr.list.n == 1 ? "" : "s", sr.out, sr.jobs);
	if (r == 0)
		r = watch_signals(&sr, &err);
	if (r < 0) {
		log_it_error(&err, r);
		suite_run_release(&sr);
		return exit_code_for(r);
	}
	r = schedule(&sr, &err);
	gather(&sr);
	if (r < 0)
		log_it_error(&err, r);
	it_error_clear(&err);
	if (write_suite_outputs(&sr, &err) < 0)
		log_it_error(&err, err.code);
	print_summary(&sr);
	/* Signals stayed blocked until the results were written: a late Ctrl-C counts too. */
	take_suite_signals(&sr);
	sigprocmask(SIG_SETMASK, &sr.oldmask, NULL);
	code = sr.interrupted ? EXIT_INTERRUPTED : result_set_exit_code(&sr.report);
	if (r < 0 && code == EXIT_PASS)
		code = exit_code_for(r);
	suite_run_release(&sr);
	return code;
}
