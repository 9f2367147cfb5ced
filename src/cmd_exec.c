// SPDX-License-Identifier: MIT
/* 'initrd-test exec': run a command in a running VM's guest, with its output and exit status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/options.h"
#include "src/remote.h"

/* Channel failures: the same codes as ssh(1) and timeout(1) use for theirs. */
#define EXEC_TIMED_OUT 124
#define EXEC_ERROR 255
#define KILL_GRACE_MS 3000
#define STDIN_MAX (60 * 1024)

static const char intro[] =
    "usage: initrd-test exec [options] NAME [--] COMMAND...\n"
    "\n"
    "Run COMMAND in the guest of a VM that initrd-test runs ('initrd-test ps': a\n"
    "'boot', a 'run --keep', a running scenario), with /bin/sh -c as root, over the\n"
    "guest agent's own channel: never the serial console, so kernel messages and a\n"
    "client attached to the console do not get in the way. Its stdout goes to\n"
    "stdout, its stderr to stderr, and initrd-test exits with its exit status.\n"
    "The words of COMMAND are joined with spaces, as ssh(1) joins them, and the\n"
    "guest's shell parses the line: quote for it ('echo \"a  b\"').\n"
    "\n";

static const char outro[] =
    "examples:\n"
    "  initrd-test exec networking-3f0c -- ip addr show eth0\n"
    "  initrd-test exec --timeout 30s net -- 'rc-service sshd status'\n"
    "  echo hello | initrd-test exec -i net -- cat\n"
    "\n"
    "exit codes: the command's (0-255); 128+N when signal N killed it; 124 when it\n"
    "            outlived --timeout (it is killed in the guest); 255 when initrd-test\n"
    "            itself failed: a bad command line, no such VM, no agent in it, the\n"
    "            channel broke;\n"
    "            130 when Ctrl-C ended it (the command is killed in the guest)\n";

struct exec_opts {
	int64_t timeout_ms;
	bool stdin_data;
};

enum { OPT_TIMEOUT = 1, OPT_STDIN };

static const struct opt exec_opts_[] = {
    {OPT_TIMEOUT, 't', "timeout", "DUR",
     "stop the command after DUR (30s, 5m), in the guest; default: none"},
    {OPT_STDIN, 'i', "stdin", NULL, "give it this stdin (at most 60 KiB), not /dev/null"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct exec_opts *o = ctx;

	if (id == OPT_STDIN) {
		o->stdin_data = true;
		return 0;
	}
	if (!parse_duration_ms(arg, &o->timeout_ms) || o->timeout_ms <= 0)
		return it_error_set(err, -IT_EUSAGE, "bad --timeout '%s': give one like 30s", arg);
	return 0;
}

static const struct opt_group exec_group = OPT_GROUP(NULL, exec_opts_, take);
static const struct opt_group *const groups[] = {&exec_group};
static const struct opt_cmd exec_cmd = {"exec", intro, outro, groups, ARRAY_SIZE(groups), true};

struct exec_run {
	uint32_t id;
	bool done;
	int code;
	char error[IT_ERRMSG_MAX];
};

static int on_event(void *ctx, const struct agent_event *ev)
{
	struct exec_run *x = ctx;

	if (ev->id != x->id || ev->type == AGENT_EV_HELLO)
		return 0;
	switch (ev->type) {
	case AGENT_EV_STDOUT:
		fd_write_all(STDOUT_FILENO, ev->data.ptr, ev->data.len);
		return 0;
	case AGENT_EV_STDERR:
		fd_write_all(STDERR_FILENO, ev->data.ptr, ev->data.len);
		return 0;
	case AGENT_EV_EXIT:
		x->code = ev->exit->timed_out ? EXEC_TIMED_OUT
			  : ev->exit->signal  ? 128 + ev->exit->signal
					      : ev->exit->exit_code;
		if (ev->exit->timed_out)
			snprintf(x->error, sizeof(x->error), "the command outlived --timeout");
		x->done = true;
		return 0;
	case AGENT_EV_ERROR:
		snprintf(x->error, sizeof(x->error), "%s", ev->message ? ev->message : "failed");
		x->code = EXEC_ERROR;
		x->done = true;
		return 0;
	default:
		return 0;
	}
}

/* The words of the command line, joined as ssh(1) does. */
static int join_words(char **words, int n, struct buf *cmd)
{
	int r = 0;

	for (int i = 0; i < n && r == 0; i++)
		r = buf_addf(cmd, "%s%s", i ? " " : "", words[i]);
	return r;
}

/* Ctrl-C: the command is killed in the guest, and we wait a moment for that to be done. */
static void kill_remote(struct remote *rm, struct exec_run *x)
{
	struct it_error err = IT_ERROR_INIT;

	if (agent_client_kill(remote_client(rm), x->id, now_ms(), NULL, &err) == 0)
		remote_run(rm, &x->done, now_ms() + KILL_GRACE_MS, NULL, NULL, &err);
}

static int exec_main(const struct exec_opts *o, const char *vm, const char *cmd)
{
	struct it_error err = IT_ERROR_INIT;
	struct exec_run x = {0, false, EXEC_ERROR, ""};
	struct remote *rm = NULL;
	struct buf in;
	struct agent_exec_opts eo = {cmd, o->timeout_ms, 0, 0, BLOB_NULL};
	int64_t deadline = o->timeout_ms > 0 ? now_ms() + o->timeout_ms + 15000 : -1;
	int r;

	buf_init(&in, STDIN_MAX);
	if (o->stdin_data && buf_read_fd(&in, STDIN_FILENO) < 0) {
		log_error("cannot read stdin: at most 60 KiB go to the command");
		buf_release(&in);
		return EXEC_ERROR;
	}
	eo.stdin_data = buf_blob(&in);
	r = remote_open(&rm, vm, on_event, &x, &err);
	if (r == 0)
		r = agent_client_exec(remote_client(rm), &eo, now_ms(), &x.id, &err);
	if (r == 0)
		r = remote_run(rm, &x.done, deadline, NULL, NULL, &err);
	if (r == -IT_EINTERRUPTED)
		kill_remote(rm, &x);
	if (r < 0)
		log_it_error(&err, r);
	else if (x.error[0])
		log_error("%s: %s", remote_name(rm), x.error);
	remote_close(rm);
	buf_release(&in);
	if (r == -IT_EINTERRUPTED)
		return EXIT_INTERRUPTED;
	if (r == -IT_ETIMEOUT)
		return EXEC_TIMED_OUT;
	return r < 0 ? EXEC_ERROR : x.code;
}

int cmd_exec(int argc, char **argv)
{
	struct exec_opts o = {0, false};
	void *ctxs[] = {&o};
	struct buf cmd;
	int first = opt_parse(&exec_cmd, ctxs, argc, argv), words, code;

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXEC_ERROR;
	/* NAME [--] COMMAND...: the '--' between them is optional. */
	words = first + 1 < argc && strcmp(argv[first + 1], "--") == 0 ? first + 2 : first + 1;
	if (first >= argc || words >= argc) {
		opt_usage_error(&exec_cmd, first < argc ? "no command given" : "no VM given");
		return EXEC_ERROR;
	}
	buf_init(&cmd, 0);
	if (join_words(argv + words, argc - words, &cmd) < 0) {
		log_error("the command is too long");
		return EXEC_ERROR;
	}
	code = exec_main(&o, argv[first], cmd.data);
	buf_release(&cmd);
	return code;
}
