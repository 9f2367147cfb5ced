// SPDX-License-Identifier: MIT
/* Keep a VM running for hands-on work (run --keep, --attach-on-fail, boot): serve its console. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/keep.h"

/* How often the loop looks at the attach child and, once detached, at this terminal. */
#define TICK_MS 200
#define STOP_GRACE_MS 3000
/* The attach child ends by itself once the hub says BYE; this long, then signals. */
#define CHILD_GRACE_MS 5000

/* The keys, as 'initrd-test attach' knows them. */
#define KEYS_TEXT "Ctrl-] d detaches, Ctrl-] q powers off"

struct keeper {
	struct vm *vm;
	const struct keep_opts *ko;
	char name[VM_HUB_NAME_MAX + 8]; /* a copy: the hub forgets it once the VM is gone */
	pid_t child;			/* the attach client on this terminal; 0: none */
	bool tty;			/* attaching this terminal is wanted and possible */
	bool stdin_open;		/* Enter on this terminal attaches again */
	int64_t tick;
};

void keep_opts_init(struct keep_opts *ko)
{
	memset(ko, 0, sizeof(*ko));
	ko->status_fd = -1;
}

bool keep_can_attach(void)
{
	return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
}

bool keep_wanted(enum run_verdict v)
{
	return v == RUN_FAILED || v == RUN_CRASHED || v == RUN_TIMED_OUT;
}

/* A line for the user on stderr, whatever -q says: they asked for the VM to be kept. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* ---- the attach client, in a child process ---- */

/* A caught signal goes back to its default action; an ignored one stays ignored. */
static void reset_handler(int sig)
{
	struct sigaction sa;

	if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
		signal(sig, SIG_DFL);
}

static void __attribute__((noreturn)) attach_child(const char *name)
{
	char *argv[] = {(char *)"attach", (char *)name, NULL};
	sigset_t none;

	/* Forked from inside vm_run(), whose signals are blocked: the client wants its own. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* The harness's handlers (src/signals.h) are not the client's: back to the defaults. */
	reset_handler(SIGINT);
	reset_handler(SIGTERM);
	/*
	 * The harness's descriptors (the hub's sockets, the pty, logs) are not
	 * the client's: a client socket held open here would never see the
	 * hub close it.
	 */
	close_range(3, ~0U, 0);
	/* A harness that dies takes its client along, which then restores the terminal. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	optind = 0;
	fflush(NULL);
	_exit(cmd_attach(2, argv));
}

static int start_attach(struct keeper *k)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		attach_child(k->name);
	k->child = pid;
	return 0;
}

static void tell_how(const struct keeper *k)
{
	say("%s keeps running for you:", k->name);
	fprintf(stderr, "  initrd-test attach %s   connects a terminal (" KEYS_TEXT ")\n", k->name);
	fprintf(stderr, "  initrd-test stop %s     powers it off (so does Ctrl-C here)\n", k->name);
	fflush(stderr);
}

static void child_ended(struct keeper *k, int status)
{
	k->child = 0;
	if (vm_info(k->vm)->exited)
		return; /* the loop says how the VM ended */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != EXIT_PASS)
		say("the console client ended (%s %d)", WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	say("%s runs on, served by this initrd-test: Enter attaches again here, Ctrl-C "
	    "powers it off",
	    k->name);
	say("from another terminal: 'initrd-test attach %s', 'initrd-test stop %s'", k->name,
	    k->name);
}

/* Enter on this terminal, once detached: attach again. */
static void watch_terminal(struct keeper *k)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	char line[256];
	ssize_t n;
	int r;

	if (poll(&p, 1, 0) != 1)
		return;
	do {
		n = read(STDIN_FILENO, line, sizeof(line));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		k->stdin_open = false;
		return;
	}
	r = start_attach(k);
	if (r < 0)
		say("cannot attach: %s", strerror(-r));
}

static int64_t keep_deadline(void *ctx)
{
	struct keeper *k = ctx;
	int64_t t = k->child > 0 || (k->tty && k->stdin_open) ? k->tick : -1;
	int64_t l = k->ko->link ? agentlink_deadline(k->ko->link) : -1;

	return deadline_earliest(t, l);
}

static int keep_timer(void *ctx, int64_t now)
{
	struct keeper *k = ctx;
	int status = 0;

	k->tick = now + TICK_MS;
	if (k->child > 0) {
		if (waitpid(k->child, &status, WNOHANG) == k->child)
			child_ended(k, status);
		return 0;
	}
	if (k->tty && k->stdin_open)
		watch_terminal(k);
	return 0;
}

static int keep_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct keeper *k = ctx;
	int r;

	if (!k->ko->on_output)
		return 0;
	r = k->ko->on_output(k->ko->ctx, buf, len, now);
	return r < 0 ? r : 0;
}

/* The agent channel, for 'exec' and 'cp' from other terminals. */
static int keep_agent(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct keeper *k = ctx;

	return k->ko->link ? agentlink_on_agent(k->ko->link, buf, len, now) : 0;
}

static int keep_hub_agent(void *ctx, unsigned client, const char *buf, size_t len)
{
	struct keeper *k = ctx;

	if (!k->ko->link) {
		vm_hub_client_bye(k->vm, client, "this VM has no agent channel");
		return 0;
	}
	return agentlink_on_hub_agent(k->ko->link, client, buf, len);
}

static int keep_wakeup(void *ctx, int64_t now)
{
	struct keeper *k = ctx;

	return k->ko->link ? agentlink_on_wakeup(k->ko->link, now) : 0;
}

/* After the VM has stopped: the client gets its BYE and ends; make sure it does. */
static void wait_child(struct keeper *k)
{
	int64_t until = now_ms() + CHILD_GRACE_MS;
	int sig = SIGTERM, status = 0;
	pid_t p;

	while (k->child > 0) {
		p = waitpid(k->child, &status, WNOHANG);
		if (p == k->child || (p < 0 && errno != EINTR)) {
			k->child = 0;
			break;
		}
		if (now_ms() >= until) {
			kill(k->child, sig);
			sig = SIGKILL;
			until = now_ms() + 2000;
		}
		usleep(20 * 1000);
	}
}

static int ended(struct keeper *k, int r, struct it_error *err)
{
	const struct vm_info *info = vm_info(k->vm);

	switch (r) {
	case VM_RUN_EXITED:
		log_info("%s: the VM exited", k->name);
		return KEEP_EXITED;
	case VM_RUN_STOPPED: /* no callback of ours stops the loop; as a stop */
		return KEEP_POWERED_OFF;
	case -IT_EINTERRUPTED:
		if (info->hub_poweroff) {
			log_info("%s: powered off (Ctrl-] q or 'initrd-test stop')", k->name);
			return KEEP_POWERED_OFF;
		}
		log_info("%s: powering off (%s)", k->name, strsignal(info->signal));
		return KEEP_SIGNALLED;
	default:
		if (r >= 0)
			return it_error_set(err, -EINVAL, "'%s': unexpected end of the loop (%d)",
					    k->name, r);
		return r;
	}
}

int keep_serve(struct vm *vm, const struct keep_opts *ko, struct it_error *err)
{
	static const struct vm_ops ops = {
	    .on_output = keep_output,
	    .deadline = keep_deadline,
	    .on_timer = keep_timer,
	    .on_agent = keep_agent,
	    .on_wakeup = keep_wakeup,
	    .on_hub_agent = keep_hub_agent,
	};
	struct keeper k;
	const char *name = vm_hub_name(vm);
	char line[VM_HUB_NAME_MAX + 64];
	int r;

	memset(&k, 0, sizeof(k));
	k.vm = vm;
	k.ko = ko;
	if (vm_info(vm)->exited)
		return it_error_set(err, -IT_EUSAGE, "nothing to keep: the VM has exited");
	if (!name) {
		it_error_set(err, -IT_EUSAGE,
			     "cannot keep the VM running: it has no console socket");
		it_error_hint(err, "the warning about 'initrd-test attach' above says why");
		vm_stop(vm, STOP_GRACE_MS, NULL);
		return -IT_EUSAGE;
	}
	snprintf(k.name, sizeof(k.name), "%s", name);
	fflush(stdout); /* the verdict comes before what is said here */
	if (ko->status)
		vm_hub_set_status(vm, ko->status);
	if (ko->status_fd >= 0) {
		int n = snprintf(line, sizeof(line), "kept: initrd-test attach %s\n", k.name);

		/* A short line into a pipe: whole or not at all, and nobody listening is fine. */
		if (n > 0 && write(ko->status_fd, line, (size_t)n) < 0)
			log_verbose("cannot tell the suite: %s", strerror(errno));
	}
	k.tty = ko->attach && keep_can_attach();
	k.stdin_open = k.tty;
	k.tick = now_ms() + TICK_MS;
	if (k.tty) {
		r = start_attach(&k);
		if (r < 0) {
			say("cannot attach: %s", strerror(-r));
			tell_how(&k);
		}
	} else {
		tell_how(&k);
	}
	r = vm_run(vm, &ops, &k, err);
	r = ended(&k, r, err);
	if (!vm_info(vm)->exited)
		vm_stop(vm, STOP_GRACE_MS, NULL);
	wait_child(&k);
	return r;
}

static const char *kept_status(enum run_verdict v)
{
	switch (v) {
	case RUN_CRASHED:
		return "kept after the run crashed";
	case RUN_TIMED_OUT:
		return "kept after the run timed out";
	default:
		return "kept after the run failed";
	}
}

void keep_after_run(struct vm *vm, const struct result_run *rep, bool attach, int status_fd,
		    struct agentlink *link)
{
	struct it_error err = IT_ERROR_INIT;
	struct keep_opts ko;
	int r;

	if (!vm)
		return;
	if (keep_wanted(rep->verdict) && vm_info(vm)->exited) {
		log_warn("nothing to keep: the VM of %s has exited",
			 rep->scenario ? rep->scenario : "the run");
	} else if (keep_wanted(rep->verdict)) {
		keep_opts_init(&ko);
		ko.attach = attach && status_fd < 0;
		ko.status = kept_status(rep->verdict);
		ko.status_fd = status_fd;
		ko.link = link;
		r = keep_serve(vm, &ko, &err);
		if (r < 0)
			log_it_error(&err, r);
	}
	vm_stop(vm, STOP_GRACE_MS, NULL);
}
