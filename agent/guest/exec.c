/* SPDX-License-Identifier: MIT */
/* EXEC: /bin/sh -c in its own process group, output pipes with caps, timeouts, KILL, reaping. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/guest/guest.h"

/* Output forwarded when EXEC gives no cap. */
#define DEFAULT_OUTPUT_MAX (16u * 1024 * 1024)

struct exec_req {
	char *cmd; /* NUL-terminated copy (owned) */
	uint64_t timeout_ms;
	uint64_t max[2];
	const uint8_t *in;
	size_t in_len;
};

bool exec_id_busy(const struct guest *g, uint32_t id)
{
	for (int i = 0; i < GUEST_MAX_EXECS; i++)
		if (g->execs[i].used && g->execs[i].id == id)
			return true;
	return false;
}

static struct exec_job *find_job(struct guest *g, uint32_t id)
{
	for (int i = 0; i < GUEST_MAX_EXECS; i++)
		if (g->execs[i].used && g->execs[i].id == id)
			return &g->execs[i];
	return NULL;
}

/* 0, or an errno with the message sent already. */
static int parse_exec(struct guest *g, uint32_t id, const uint8_t *p, size_t n, struct exec_req *rq)
{
	struct agent_tlv t;
	size_t off = 0;
	int r;

	rq->max[0] = rq->max[1] = DEFAULT_OUTPUT_MAX;
	while ((r = agent_tlv_next(p, n, &off, &t)) == 1) {
		bool ok = true;

		if (t.tag == AGENT_T_CMD) {
			free(rq->cmd);
			rq->cmd = NULL;
			if (memchr(t.val, '\0', t.len)) {
				guest_send_error(g, id, EINVAL, "the command holds a NUL byte");
				return EINVAL;
			}
			rq->cmd = malloc(t.len + 1);
			if (!rq->cmd) {
				guest_send_error(g, id, ENOMEM, "out of memory");
				return ENOMEM;
			}
			memcpy(rq->cmd, t.val, t.len);
			rq->cmd[t.len] = '\0';
		} else if (t.tag == AGENT_T_TIMEOUT_MS)
			ok = agent_tlv_u64(&t, &rq->timeout_ms);
		else if (t.tag == AGENT_T_STDOUT_MAX)
			ok = agent_tlv_u64(&t, &rq->max[STREAM_OUT]);
		else if (t.tag == AGENT_T_STDERR_MAX)
			ok = agent_tlv_u64(&t, &rq->max[STREAM_ERR]);
		else if (t.tag == AGENT_T_STDIN) {
			rq->in = t.val;
			rq->in_len = t.len;
		}
		if (!ok) {
			guest_send_error(g, id, EINVAL, "EXEC field %u has %u bytes, not 8", t.tag,
					 t.len);
			return EINVAL;
		}
	}
	if (r < 0 || !rq->cmd) {
		guest_send_error(g, id, EINVAL,
				 r < 0 ? "EXEC fields overrun the frame"
				       : "EXEC without a command");
		return EINVAL;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child: the command's own session, pipes as stdio, a clean environment. */
static void child(struct guest *g, int in, int out, int err, const char *cmd)
{
	char a0[] = "sh", a1[] = "-c", e0[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	     e1[] = "HOME=/root";
	char *const argv[] = {a0, a1, (char *)cmd, NULL};
	char *const envp[] = {e0, e1, NULL};
	sigset_t none;
	int fd;

	setsid();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (in < 0)
		in = open("/dev/null", O_RDONLY);
	if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	if (chdir("/") < 0)
		_exit(126);
	if (g->guest_mode) {
		/* The agent itself is exempt from the OOM killer; its commands are not. */
		fd = open("/proc/self/oom_score_adj", O_WRONLY);
		if (fd >= 0) {
			if (write(fd, "0", 1) < 0) {
			}
			close(fd);
		}
	}
	execve("/bin/sh", argv, envp);
	_exit(127);
}

static int make_pipe(int p[2], int parent_end)
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(p[parent_end], F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static struct exec_job *free_slot(struct guest *g)
{
	for (int i = 0; i < GUEST_MAX_EXECS; i++)
		if (!g->execs[i].used)
			return &g->execs[i];
	return NULL;
}

static int spawn(struct guest *g, struct exec_job *j, struct exec_req *rq)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1};
	int r;

	r = make_pipe(po, 0);
	if (r == 0)
		r = make_pipe(pe, 0);
	if (r == 0 && rq->in_len)
		r = make_pipe(pi, 1);
	if (r == 0 && rq->in_len) {
		j->in_buf = malloc(rq->in_len);
		if (!j->in_buf)
			r = -ENOMEM;
		else
			memcpy(j->in_buf, rq->in, rq->in_len);
	}
	if (r == 0) {
		j->pid = fork();
		if (j->pid < 0)
			r = -errno;
		if (j->pid == 0)
			child(g, pi[0], po[1], pe[1], rq->cmd);
	}
	close_fd(&po[1]);
	close_fd(&pe[1]);
	close_fd(&pi[0]);
	if (r < 0) {
		close_fd(&po[0]);
		close_fd(&pe[0]);
		close_fd(&pi[1]);
		free(j->in_buf);
		j->in_buf = NULL;
		j->pid = 0;
		return r;
	}
	j->fd[STREAM_OUT] = po[0];
	j->fd[STREAM_ERR] = pe[0];
	j->in_fd = pi[1];
	j->in_len = rq->in_len;
	return 0;
}

void exec_start(struct guest *g, uint32_t id, const uint8_t *p, size_t n)
{
	struct exec_req rq = {0};
	struct exec_job *j;
	int r;

	if (exec_id_busy(g, id) || xfer_id_busy(g, id)) {
		guest_send_error(g, id, EEXIST, "request %u is in flight already", id);
		return;
	}
	if (parse_exec(g, id, p, n, &rq) != 0)
		goto out;
	j = free_slot(g);
	if (!j) {
		guest_send_error(g, id, EAGAIN, "too many commands running (%d)", GUEST_MAX_EXECS);
		goto out;
	}
	memset(j, 0, sizeof(*j));
	j->fd[0] = j->fd[1] = j->in_fd = -1;
	j->start_ms = guest_now_ms();
	r = spawn(g, j, &rq);
	if (r < 0) {
		guest_send_error(g, id, -r, "cannot start '/bin/sh': %s", strerror(-r));
		goto out;
	}
	j->used = true;
	j->id = id;
	j->max[0] = rq.max[0];
	j->max[1] = rq.max[1];
	if (rq.timeout_ms)
		j->deadline_ms =
		    j->start_ms + (int64_t)(rq.timeout_ms > INT32_MAX ? INT32_MAX : rq.timeout_ms);
	j->pgid = j->pid;
out:
	free(rq.cmd);
}

static void signal_group(const struct exec_job *j, int sig)
{
	if (j->pgid > 1)
		kill(-j->pgid, sig);
}

bool exec_kill(struct guest *g, uint32_t target)
{
	struct exec_job *j = find_job(g, target);

	if (!j)
		return false;
	if (!j->killed && !j->timed_out) {
		signal_group(j, SIGTERM);
		j->kill_at_ms = guest_now_ms() + GUEST_KILL_GRACE_MS;
	}
	j->killed = true;
	return true;
}

void exec_reap(struct guest *g)
{
	char drain[64];
	int status;
	pid_t pid;

	while (read(g->sig_fd[0], drain, sizeof(drain)) > 0) {
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < GUEST_MAX_EXECS; i++) {
			struct exec_job *j = &g->execs[i];

			if (!j->used || j->pid != pid)
				continue;
			j->pid = 0;
			j->wstatus = status;
			j->linger_ms = guest_now_ms() + GUEST_LINGER_MS;
		}
	}
}

static void min_deadline(int64_t *next, int64_t t)
{
	if (t > 0 && (*next < 0 || t < *next))
		*next = t;
}

void exec_timers(struct guest *g, int64_t now, int64_t *next)
{
	for (int i = 0; i < GUEST_MAX_EXECS; i++) {
		struct exec_job *j = &g->execs[i];

		if (!j->used)
			continue;
		if (j->pid && j->deadline_ms && now >= j->deadline_ms && !j->timed_out &&
		    !j->killed) {
			signal_group(j, SIGTERM);
			j->timed_out = true;
			j->kill_at_ms = now + GUEST_KILL_GRACE_MS;
		}
		if (j->kill_at_ms && now >= j->kill_at_ms) {
			signal_group(j, SIGKILL);
			j->kill_at_ms = 0;
		}
		if (j->linger_ms && now >= j->linger_ms) {
			/* Something outside the group, or in the background, holds the pipes. */
			for (int s = 0; s < 2; s++)
				if (j->fd[s] >= 0)
					exec_read(g, j, s, true);
		}
		if (j->pid && !j->timed_out && !j->killed)
			min_deadline(next, j->deadline_ms);
		min_deadline(next, j->kill_at_ms);
		/* Once passed, a drain cut short by a full queue goes on when the port drains. */
		if ((j->fd[0] >= 0 || j->fd[1] >= 0) && now < j->linger_ms)
			min_deadline(next, j->linger_ms);
	}
}

static void send_data(struct guest *g, struct exec_job *j, int s, const uint8_t *p, size_t n)
{
	struct agent_fw w;

	agent_fw_begin(&w, g->frame, sizeof(g->frame),
		       s == STREAM_OUT ? AGENT_STDOUT : AGENT_STDERR, j->id);
	agent_fw_bytes(&w, AGENT_T_DATA, p, n);
	if (guest_send(g, &w))
		j->sent[s] += n;
	else
		j->dropped[s] += n;
}

/*
 * Read a pipe once (until it is empty when 'final', then close it): up to
 * the cap its bytes go to the host, past it they are only counted. Only
 * called with room for a data frame while forwarding.
 */
void exec_read(struct guest *g, struct exec_job *j, int s, bool final)
{
	for (;;) {
		bool forward = j->sent[s] < j->max[s];
		size_t want = sizeof(g->scratch);
		ssize_t n;

		if (forward && guest_room(g) < GUEST_DATA_ROOM)
			return;
		if (forward && j->max[s] - j->sent[s] < want)
			want = (size_t)(j->max[s] - j->sent[s]);
		n = read(j->fd[s], g->scratch, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && !final)
			return;
		if (n <= 0) {
			close_fd(&j->fd[s]);
			return;
		}
		if (forward)
			send_data(g, j, s, g->scratch, (size_t)n);
		else
			j->dropped[s] += (uint64_t)n;
		if (!final)
			return;
	}
}

void exec_write_stdin(struct guest *g, struct exec_job *j)
{
	ssize_t n;

	(void)g;
	while (j->in_off < j->in_len) {
		n = write(j->in_fd, j->in_buf + j->in_off, j->in_len - j->in_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break; /* EPIPE: the command does not read its input */
		j->in_off += (size_t)n;
	}
	close_fd(&j->in_fd);
	free(j->in_buf);
	j->in_buf = NULL;
}

static void release(struct exec_job *j)
{
	close_fd(&j->fd[0]);
	close_fd(&j->fd[1]);
	close_fd(&j->in_fd);
	free(j->in_buf);
	memset(j, 0, sizeof(*j));
	j->fd[0] = j->fd[1] = j->in_fd = -1;
}

static void send_exit(struct guest *g, struct exec_job *j)
{
	struct agent_fw w;
	int64_t dur = guest_now_ms() - j->start_ms;

	agent_fw_begin(&w, g->frame, sizeof(g->frame), AGENT_EXIT, j->id);
	if (WIFEXITED(j->wstatus))
		agent_fw_u64(&w, AGENT_T_STATUS, (uint64_t)WEXITSTATUS(j->wstatus));
	else if (WIFSIGNALED(j->wstatus))
		agent_fw_u64(&w, AGENT_T_SIGNAL, (uint64_t)WTERMSIG(j->wstatus));
	agent_fw_u64(&w, AGENT_T_TIMED_OUT, j->timed_out);
	agent_fw_u64(&w, AGENT_T_KILLED, j->killed);
	agent_fw_u64(&w, AGENT_T_DROPPED_OUT, j->dropped[STREAM_OUT]);
	agent_fw_u64(&w, AGENT_T_DROPPED_ERR, j->dropped[STREAM_ERR]);
	agent_fw_u64(&w, AGENT_T_DURATION_MS, (uint64_t)(dur < 0 ? 0 : dur));
	guest_send(g, &w);
}

/* A command is done once its shell is reaped and both pipes are closed: EXIT goes out. */
void exec_finish_ready(struct guest *g)
{
	for (int i = 0; i < GUEST_MAX_EXECS; i++) {
		struct exec_job *j = &g->execs[i];

		if (!j->used || j->pid || j->fd[0] >= 0 || j->fd[1] >= 0)
			continue;
		/* A stopped command leaves nothing of its group behind. */
		if (j->timed_out || j->killed)
			signal_group(j, SIGKILL);
		send_exit(g, j);
		release(j);
	}
}

void exec_abort_all(struct guest *g)
{
	for (int i = 0; i < GUEST_MAX_EXECS; i++) {
		struct exec_job *j = &g->execs[i];

		if (!j->used)
			continue;
		signal_group(j, SIGKILL);
		release(j);
	}
}
