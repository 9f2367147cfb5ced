// SPDX-License-Identifier: MIT
/* The guest agent's steps of a run: requests for the engine's external steps, and their ends. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "src/agentsteps.h"
#include "src/copyin.h"

#define STDOUT_KEEP (1024 * 1024) /* what an output step can match */
#define STDERR_KEEP (64 * 1024)
#define TRY_TIMEOUT_MS (30 * 1000) /* one try of a wait */
#define COPY_OUT_MAX (1ULL << 32)  /* 4 GiB */
#define LINE_SHOWN 160

struct agentsteps {
	const struct scenario *s;
	struct expect *e;
	struct result_run *rep;
	const char *dir;
	struct agentlink *link;

	size_t cur;   /* the engine's step being carried out; SIZE_MAX: none */
	uint32_t req; /* its request in flight; 0: none */
	unsigned tries;
	int64_t next_try;	       /* a wait's next try; -1: none */
	char cmd[512];		       /* what the current request runs, for messages (cut) */
	struct buf out, err;	       /* the current command's stdout and stderr */
	struct buf last_out, last_err; /* the last finished command's: what 'output' matches */
	bool have_last;
	char last_cmd[512];

	struct copy_in ci; /* copy-in: the host file */
	int fd;		   /* copy-out: the .part file */
	char path[PATH_MAX], part[PATH_MAX];
	struct strlist copied;
};

int agentsteps_new(struct agentsteps **out, const struct scenario *s, struct expect *e,
		   struct result_run *rep, const char *out_dir)
{
	struct agentsteps *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->s = s;
	a->e = e;
	a->rep = rep;
	a->dir = out_dir;
	a->cur = SIZE_MAX;
	a->next_try = -1;
	a->fd = -1;
	a->ci.fd = -1;
	buf_init(&a->out, STDOUT_KEEP);
	buf_init(&a->err, STDERR_KEEP);
	buf_init(&a->last_out, STDOUT_KEEP);
	buf_init(&a->last_err, STDERR_KEEP);
	/* Every agent step's kind is in the result from the start: a timeout names it too. */
	for (size_t i = 0; i < s->nsteps; i++) {
		struct result_output none = {BLOB_NULL, 0};

		if (scenario_step_is_agent(s->steps[i].kind) &&
		    result_note_step(rep, i, scenario_step_kind_name(s->steps[i].kind), -1, none,
				     none) < 0) {
			agentsteps_free(a);
			return -ENOMEM;
		}
	}
	*out = a;
	return 0;
}

static void close_copy(struct agentsteps *a, bool failed)
{
	copy_in_close(&a->ci);
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	if (failed && a->part[0])
		unlink(a->part);
	a->part[0] = '\0';
}

void agentsteps_free(struct agentsteps *a)
{
	if (!a)
		return;
	close_copy(a, true);
	buf_release(&a->out);
	buf_release(&a->err);
	buf_release(&a->last_out);
	buf_release(&a->last_err);
	strlist_clear(&a->copied);
	free(a);
}

void agentsteps_set_link(struct agentsteps *a, struct agentlink *link)
{
	a->link = link;
}

const struct strlist *agentsteps_copied(const struct agentsteps *a)
{
	return &a->copied;
}

int64_t agentsteps_deadline(const struct agentsteps *a)
{
	return a->cur != SIZE_MAX && !a->req ? a->next_try : -1;
}

static const struct scenario_step *step_of(const struct agentsteps *a)
{
	return a->cur < a->s->nsteps ? &a->s->steps[a->cur] : NULL;
}

/* ---- ending a step ------------------------------------------------------------------------ */

/* The first line of text, cut for a table: "" when there is none. */
static void first_line(struct blob t, char *out, size_t n)
{
	const char *nl = t.ptr ? memchr(t.ptr, '\n', t.len) : NULL;
	size_t len = nl ? (size_t)(nl - t.ptr) : t.len;

	if (len >= n)
		len = n - 1;
	memcpy(out, t.ptr ? t.ptr : "", len);
	out[len] = '\0';
}

static int end_step(struct agentsteps *a, bool passed, const char *line, int64_t now)
{
	int r = expect_external_done(a->e, passed, line, now);

	a->cur = SIZE_MAX;
	a->req = 0;
	a->next_try = -1;
	close_copy(a, !passed);
	return r < 0 ? r : 0;
}

/* The result model learns the command's status and outputs; 'output' steps match them next. */
static uint64_t beyond(uint64_t got, size_t kept)
{
	return got > kept ? got - kept : 0;
}

static int note_command(struct agentsteps *a, const struct agent_exit *x)
{
	const struct scenario_step *st = step_of(a);
	/* What came past what is kept here is dropped too. */
	struct result_output out = {buf_blob(&a->out),
				    x->dropped_stdout + beyond(x->stdout_bytes, a->out.len)};
	struct result_output err = {buf_blob(&a->err),
				    x->dropped_stderr + beyond(x->stderr_bytes, a->err.len)};
	int r = result_note_step(a->rep, a->cur, scenario_step_kind_name(st->kind),
				 x->signal ? -1 : x->exit_code, out, err);

	buf_reset(&a->last_out);
	buf_reset(&a->last_err);
	if (r == 0 && a->out.len)
		r = buf_add(&a->last_out, a->out.data, a->out.len);
	if (r == 0 && a->err.len)
		r = buf_add(&a->last_err, a->err.data, a->err.len);
	a->have_last = true;
	snprintf(a->last_cmd, sizeof(a->last_cmd), "%s", a->cmd);
	return r;
}

/* "exited 1", "was killed by signal 9", "was stopped at its timeout in the guest" */
static void describe_exit(const struct agent_exit *x, char *out, size_t n)
{
	if (x->timed_out)
		snprintf(out, n, "was stopped at its timeout in the guest");
	else if (x->signal)
		snprintf(out, n, "was killed by signal %d", x->signal);
	else
		snprintf(out, n, "exited %d", x->exit_code);
}

static bool run_passed(const struct scenario_step *st, const struct agent_exit *x)
{
	if (st->kind == SCENARIO_STEP_RUN)
		return !x->signal && !x->timed_out && x->exit_code == st->status;
	if (st->status >= 0)
		return !x->signal && x->exit_code == st->status;
	return x->signal || x->exit_code != 0;
}

static int command_exited(struct agentsteps *a, const struct agent_exit *x, int64_t now)
{
	const struct scenario_step *st = step_of(a);
	char how[96], first[LINE_SHOWN], line[1024];
	bool passed = run_passed(st, x);

	if (note_command(a, x) < 0)
		return -ENOMEM;
	describe_exit(x, how, sizeof(how));
	first_line(buf_blob(passed ? &a->out : &a->err), first, sizeof(first));
	if (passed)
		snprintf(line, sizeof(line), "exit %d%s%s", x->exit_code, first[0] ? ": " : "",
			 first);
	else if (st->kind == SCENARIO_STEP_RUN)
		snprintf(line, sizeof(line), "'%s' %s, not 0%s%s%s", a->cmd, how,
			 first[0] ? "; stderr: '" : "", first, first[0] ? "'" : "");
	else
		snprintf(line, sizeof(line), "'%s' %s, %s", a->cmd, how,
			 st->status >= 0 ? "not the status wanted" : "but it should have failed");
	return end_step(a, passed, line, now);
}

/* A wait's command: success ends it, anything else is tried again after 'every'. */
static int try_ended(struct agentsteps *a, const struct agent_exit *x, int64_t now)
{
	const struct scenario_step *st = step_of(a);
	char line[128];

	if (st->kind == SCENARIO_STEP_WAIT_UNTIL && note_command(a, x) < 0)
		return -ENOMEM;
	if (!x->signal && !x->timed_out && x->exit_code == 0) {
		snprintf(line, sizeof(line), "ready after %u tr%s", a->tries,
			 a->tries == 1 ? "y" : "ies");
		return end_step(a, true, line, now);
	}
	a->req = 0;
	a->next_try = now + (st->every_ms > 0 ? st->every_ms : 500);
	return 0;
}

/* ---- the requests ------------------------------------------------------------------------- */

/* 'text' in single quotes for /bin/sh: ' becomes '\''. */
static int shell_quote(struct buf *b, const char *text)
{
	int r = buf_addch(b, '\'');

	for (const char *p = text; *p && r == 0; p++)
		r = *p == '\'' ? buf_addstr(b, "'\\''") : buf_addch(b, *p);
	return r == 0 ? buf_addch(b, '\'') : r;
}

/* The command a wait runs on each try. */
static int wait_command(const struct scenario_step *st, const char *text, struct buf *b)
{
	long port;

	switch (st->kind) {
	case SCENARIO_STEP_WAIT_SERVICE:
		return buf_addf(b, "rc-service %s status >/dev/null 2>&1", text);
	case SCENARIO_STEP_WAIT_PORT:
		if (!parse_long(text, 1, 65535, &port))
			return -EINVAL;
		/* A listening socket (state 0A) on the port, in /proc/net/tcp or tcp6. */
		return buf_addf(b,
				"awk 'NR > 1 && $4 == \"0A\" && substr($2, index($2, \":\") + 1) "
				"== \"%04lX\" { f = 1 } END { exit !f }' /proc/net/tcp "
				"/proc/net/tcp6 2>/dev/null",
				port);
	case SCENARIO_STEP_WAIT_FILE:
		return buf_addstr(b, "test -e ") < 0 ? -ENOMEM : shell_quote(b, text);
	default:
		return buf_addstr(b, text);
	}
}

static int exec_request(struct agentsteps *a, const char *cmd, int64_t timeout_ms, int64_t now)
{
	struct agent_exec_opts o = {cmd, timeout_ms, STDOUT_KEEP, STDERR_KEEP, BLOB_NULL};
	struct it_error err = IT_ERROR_INIT;
	int r;

	buf_reset(&a->out);
	buf_reset(&a->err);
	snprintf(a->cmd, sizeof(a->cmd), "%s", cmd);
	r = agent_client_exec(agentlink_client(a->link), &o, now, &a->req, &err);
	if (r == -IT_ELIMIT) {
		a->req = 0;
		a->next_try = now + 20; /* the queue is full: soon again */
		return 0;
	}
	if (r < 0)
		return end_step(a, false, err.msg, now);
	a->tries++;
	return 0;
}

static int start_wait(struct agentsteps *a, const char *text, int64_t now)
{
	const struct scenario_step *st = step_of(a);
	struct buf cmd;
	int64_t t =
	    st->timeout_ms > 0 && st->timeout_ms < TRY_TIMEOUT_MS ? st->timeout_ms : TRY_TIMEOUT_MS;
	int r;

	buf_init(&cmd, 0);
	r = wait_command(st, text, &cmd);
	if (r == 0)
		r = exec_request(a, cmd.data, t, now);
	buf_release(&cmd);
	return r;
}

static int start_output(struct agentsteps *a, int64_t now)
{
	const struct scenario_step *st = step_of(a);
	const struct buf *subject = st->from_stderr ? &a->last_err : &a->last_out;
	const char *which = st->from_stderr ? "stderr" : "stdout";
	char line[1400], first[LINE_SHOWN];
	int r;

	if (!a->have_last)
		return end_step(a, false, "no command ran before this output step", now);
	r = expect_external_match(a->e, buf_blob(subject));
	if (r < 0)
		return r;
	if (r == 1) {
		snprintf(line, sizeof(line), "matched the %s of '%s'", which, a->last_cmd);
		return end_step(a, true, line, now);
	}
	first_line(buf_blob(subject), first, sizeof(first));
	snprintf(line, sizeof(line), "no match for /%s/ in the %s of '%s'%s%s%s", st->text, which,
		 a->last_cmd, first[0] ? " (first line: '" : " (it was empty)", first,
		 first[0] ? "')" : "");
	return end_step(a, false, line, now);
}

static int start_copy_in(struct agentsteps *a, int64_t now)
{
	const struct scenario_step *st = step_of(a);
	struct it_error err = IT_ERROR_INIT;

	snprintf(a->cmd, sizeof(a->cmd), "copy-in %s", st->dest);
	if (copy_in_begin(&a->ci, agentlink_client(a->link), st->text, st->dest, st->mode, now,
			  &err) < 0)
		return end_step(a, false, err.msg, now);
	a->req = a->ci.id;
	return 0;
}

/* Feed the copy as the client's queue takes it; then the end, with the SHA-256 of it all. */
static int push_copy_in(struct agentsteps *a, int64_t now)
{
	struct it_error err = IT_ERROR_INIT;

	if (copy_in_push(&a->ci, agentlink_client(a->link), &err) < 0)
		return end_step(a, false, err.msg, now);
	return 0;
}

static int start_copy_out(struct agentsteps *a, int64_t now)
{
	const struct scenario_step *st = step_of(a);
	const char *base = strrchr(st->text, '/');
	const char *name = st->dest ? st->dest : base && base[1] ? base + 1 : "copied";
	struct it_error err = IT_ERROR_INIT;
	char msg[PATH_MAX + 64];

	if (path_join(a->path, sizeof(a->path), a->dir, name) < 0 ||
	    snprintf(a->part, sizeof(a->part), "%s.part", a->path) >= (int)sizeof(a->part))
		return end_step(a, false, "the output folder's name is too long", now);
	a->fd = open(a->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (a->fd < 0) {
		snprintf(msg, sizeof(msg), "cannot write '%s': %s", a->part, strerror(errno));
		a->part[0] = '\0';
		return end_step(a, false, msg, now);
	}
	snprintf(a->cmd, sizeof(a->cmd), "copy-out %s", st->text);
	if (agent_client_read_file(agentlink_client(a->link), st->text, COPY_OUT_MAX, now, &a->req,
				   &err) < 0)
		return end_step(a, false, err.msg, now);
	return 0;
}

static int start_step(struct agentsteps *a, size_t i, const char *text, int64_t now)
{
	const struct scenario_step *st;

	a->cur = i;
	a->req = 0;
	a->tries = 0;
	a->next_try = -1;
	st = step_of(a);
	if (!st || !scenario_step_is_agent(st->kind))
		return end_step(a, false, "not a step of the agent", now);
	switch (st->kind) {
	case SCENARIO_STEP_AGENT_READY:
		return 0; /* the HELLO event ends it (agentsteps_poll() looks first) */
	case SCENARIO_STEP_RUN:
	case SCENARIO_STEP_RUN_FAIL:
		return exec_request(a, text, st->timeout_ms, now);
	case SCENARIO_STEP_OUTPUT:
		return start_output(a, now);
	case SCENARIO_STEP_COPY_IN:
		return start_copy_in(a, now);
	case SCENARIO_STEP_COPY_OUT:
		return start_copy_out(a, now);
	default:
		return start_wait(a, text, now);
	}
}

/* ---- events ------------------------------------------------------------------------------- */

static void keep_output(struct buf *b, struct blob data)
{
	size_t room = b->max > b->len ? b->max - b->len : 0;

	buf_add(b, data.ptr, data.len < room ? data.len : room);
}

static int file_data(struct agentsteps *a, struct blob data, int64_t now)
{
	if (fd_write_all(a->fd, data.ptr, data.len) < 0) {
		char msg[PATH_MAX + 64];

		snprintf(msg, sizeof(msg), "cannot write '%s': %s", a->part, strerror(errno));
		return end_step(a, false, msg, now);
	}
	return 0;
}

/* The copy is checked (size and SHA-256, by the client): the .part file becomes the file. */
static int copied_out(struct agentsteps *a, const struct agent_file *f, int64_t now)
{
	char line[PATH_MAX + 128];

	if (fsync(a->fd) < 0 || close(a->fd) < 0 || rename(a->part, a->path) < 0) {
		a->fd = -1;
		snprintf(line, sizeof(line), "cannot keep '%s': %s", a->path, strerror(errno));
		return end_step(a, false, line, now);
	}
	a->fd = -1;
	a->part[0] = '\0';
	strlist_add(&a->copied, a->path);
	snprintf(line, sizeof(line), "%llu bytes to %s, sha256 %02x%02x%02x%02x...",
		 (unsigned long long)f->size, a->path, f->sha256[0], f->sha256[1], f->sha256[2],
		 f->sha256[3]);
	return end_step(a, true, line, now);
}

static int copied_in(struct agentsteps *a, const struct agent_file *f, int64_t now)
{
	char line[128];

	snprintf(line, sizeof(line), "%llu bytes, sha256 %02x%02x%02x%02x...",
		 (unsigned long long)f->size, f->sha256[0], f->sha256[1], f->sha256[2],
		 f->sha256[3]);
	return end_step(a, true, line, now);
}

/*
 * The agent is lost (its channel broke, it went away): the step fails with
 * the last console line, in the class of its own (result_note_lost()).
 */
static int lose(struct agentsteps *a, const char *why, int64_t now)
{
	char line[IT_ERRMSG_MAX + 300];
	const char *last = expect_last_line(a->e);

	if (last[0])
		snprintf(line, sizeof(line), "%s; last console line: '%.200s'", why, last);
	else
		snprintf(line, sizeof(line), "%s; the console showed nothing", why);
	if (result_note_lost(a->rep, a->cur) < 0)
		return -ENOMEM;
	return end_step(a, false, line, now);
}

/* Why a request failed: the channel's break first, then the agent's or the client's words. */
static int request_failed(struct agentsteps *a, const struct agent_event *ev, int64_t now)
{
	const char *broken = agentlink_broken(a->link);
	char line[IT_ERRMSG_MAX + 600];

	if (broken)
		return lose(a, broken, now);
	if (ev->error == -EPIPE || ev->error == -ECONNRESET) {
		snprintf(line, sizeof(line), "%s during '%s'", ev->message, a->cmd);
		return lose(a, line, now);
	}
	snprintf(line, sizeof(line), "%s", ev->message ? ev->message : "the request failed");
	return end_step(a, false, line, now);
}

static int hello(struct agentsteps *a, const struct agent_event *ev, int64_t now)
{
	char line[600];

	if (a->cur == SIZE_MAX || step_of(a)->kind != SCENARIO_STEP_AGENT_READY)
		return 0;
	snprintf(line, sizeof(line), "%s on %s", ev->hello->agent, ev->hello->transport);
	return end_step(a, true, line, now);
}

int agentsteps_event(void *ctx, const struct agent_event *ev)
{
	struct agentsteps *a = ctx;
	int64_t now = now_ms();

	if (ev->type == AGENT_EV_HELLO)
		return hello(a, ev, now);
	if (a->cur == SIZE_MAX || ev->id != a->req)
		return 0; /* a request of an ended step (it timed out), or an exec's of the hub */
	switch (ev->type) {
	case AGENT_EV_STDOUT:
		keep_output(&a->out, ev->data);
		return 0;
	case AGENT_EV_STDERR:
		keep_output(&a->err, ev->data);
		return 0;
	case AGENT_EV_FILE_DATA:
		return file_data(a, ev->data, now);
	case AGENT_EV_EXIT:
		if (step_of(a)->kind == SCENARIO_STEP_RUN ||
		    step_of(a)->kind == SCENARIO_STEP_RUN_FAIL)
			return command_exited(a, ev->exit, now);
		return try_ended(a, ev->exit, now);
	case AGENT_EV_FILE_END:
		return copied_out(a, ev->file, now);
	case AGENT_EV_OK:
		return copied_in(a, ev->file, now);
	case AGENT_EV_ERROR:
		return request_failed(a, ev, now);
	default:
		return 0;
	}
}

/* ---- the engine's side -------------------------------------------------------------------- */

/* The engine has left the step (it timed out, or the run ended): stop what it left running. */
static void abandon(struct agentsteps *a, int64_t now)
{
	struct it_error err = IT_ERROR_INIT;
	const struct scenario_step *st = step_of(a);

	/* A command cut short: what it printed so far is in the result. */
	if (a->req && st &&
	    (st->kind == SCENARIO_STEP_RUN || st->kind == SCENARIO_STEP_RUN_FAIL ||
	     st->kind == SCENARIO_STEP_WAIT_UNTIL)) {
		struct agent_exit none = {.exit_code = -1};

		note_command(a, &none);
	}
	if (a->req)
		agent_client_kill(agentlink_client(a->link), a->req, now, NULL, &err);
	a->cur = SIZE_MAX;
	a->req = 0;
	a->next_try = -1;
	close_copy(a, true);
}

/* Carry the current step on: start it, feed its copy, try its wait again. */
static int poll_step(struct agentsteps *a, size_t i, const char *text, int64_t now)
{
	const struct scenario_step *st;
	int r;

	if (agentlink_broken(a->link)) {
		a->cur = i;
		return lose(a, agentlink_broken(a->link), now);
	}
	if (a->cur == SIZE_MAX) {
		r = start_step(a, i, text, now);
		if (r < 0 || a->cur == SIZE_MAX)
			return r;
	}
	st = step_of(a);
	if (st->kind == SCENARIO_STEP_AGENT_READY && agentlink_ready(a->link)) {
		const struct agent_hello *h = agent_client_hello(agentlink_client(a->link));
		char line[600];

		snprintf(line, sizeof(line), "%s on %s", h->agent, h->transport);
		return end_step(a, true, line, now);
	}
	if (st->kind == SCENARIO_STEP_COPY_IN && a->req)
		return push_copy_in(a, now);
	if (!a->req && a->next_try >= 0 && now >= a->next_try) {
		a->next_try = -1;
		if (st->kind == SCENARIO_STEP_RUN || st->kind == SCENARIO_STEP_RUN_FAIL)
			return exec_request(a, text, st->timeout_ms, now);
		return start_wait(a, text, now);
	}
	return 0;
}

void agentsteps_stop(struct agentsteps *a, int64_t now)
{
	if (a->link && a->cur != SIZE_MAX)
		abandon(a, now);
}

int agentsteps_poll(struct agentsteps *a, int64_t now)
{
	const char *text = NULL;
	size_t i;
	int r = 0;

	if (!a->link)
		return 0;
	/* Steps that end at once (output, agent-ready) let the next one start in the same go. */
	for (int n = 0; n < 64 && r == 0; n++) {
		i = expect_external(a->e, &text);
		if (a->cur != SIZE_MAX && i != a->cur)
			abandon(a, now);
		/* Not the agent's (a checkpoint): the run engine ends it. */
		if (i == SIZE_MAX || i >= a->s->nsteps ||
		    !scenario_step_is_agent(a->s->steps[i].kind))
			break;
		r = poll_step(a, i, text, now);
		if (a->cur != SIZE_MAX)
			break;
	}
	return r;
}
