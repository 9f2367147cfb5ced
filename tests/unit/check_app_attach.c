// SPDX-License-Identifier: MIT
/* Tests of 'attach', 'ps' and 'stop' through real pseudo-terminals, against real qemu VMs (TCG). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "tests/unit/termutil.h"
#include "tests/unit/testutil.h"
#include "hostkernel.h"

/* Until src/cmds.h declares them. */
int cmd_attach(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_stop(int argc, char **argv);

#define KERNEL HOST_KERNEL
#define INITRD HOST_INITRD
#define BOOT_LIMIT_MS (200 * 1000)
#define WAIT_MS (30 * 1000)

/* ---- running a command in a child, its output in files ---- */

struct result {
	int rc;
	struct buf out, err;
};

static void read_back(const char *path, struct buf *b)
{
	buf_init(b, 1024 * 1024);
	ck_assert_int_eq(buf_read_file(b, path), 0);
}

static void run_cmd(int (*fn)(int, char **), int argc, char **argv, struct result *res)
{
	char out[PATH_MAX], err[PATH_MAX];
	int status = 0;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/cmd.out", tu_runtime);
	snprintf(err, sizeof(err), "%s/cmd.err", tu_runtime);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (o < 0 || e < 0 || null < 0)
			_exit(99);
		dup2(null, STDIN_FILENO);
		dup2(o, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		optind = 0;
		exit(fn(argc, argv));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "command status %#x", (unsigned)status);
	res->rc = WEXITSTATUS(status);
	read_back(out, &res->out);
	read_back(err, &res->err);
}

static void result_release(struct result *res)
{
	buf_release(&res->out);
	buf_release(&res->err);
}

/* ---- a harness: what 'initrd-test run' does with the hub, in a child ---- */

struct harness {
	pid_t pid;
	char name[64];
};

struct hctx {
	struct vm *vm;
	int64_t tick, limit;
	unsigned rows, cols;
};

static int64_t h_deadline(void *ctx)
{
	struct hctx *h = ctx;

	return h->tick < h->limit ? h->tick : h->limit;
}

/* Publish the window size the hub got as the step, so that the test can see it with 'ps'. */
static int h_timer(void *ctx, int64_t now)
{
	struct hctx *h = ctx;
	unsigned rows = 0, cols = 0;
	char step[64];

	if (now >= h->limit)
		return -IT_ETIMEOUT;
	h->tick = now + 100;
	if (vm_hub_winsize(h->vm, &rows, &cols) == 0 && (rows != h->rows || cols != h->cols)) {
		h->rows = rows;
		h->cols = cols;
		snprintf(step, sizeof(step), "winsize %ux%u", rows, cols);
		vm_hub_set_status(h->vm, step);
	}
	return 0;
}

/*
 * In the child: start the VM, wait for its QMP socket, open the hub, say
 * its name, run. Exit 10 when a console client powered it off, 11 on
 * SIGTERM, 20 + n for anything else.
 */
static void harness_main(int fd, const char *scenario, bool paused)
{
	static const struct vm_ops ops = {
	    .on_output = NULL, .deadline = h_deadline, .on_timer = h_timer};
	struct it_error err = IT_ERROR_INIT;
	struct vm_config c;
	struct hctx h;
	char qmp[PATH_MAX];
	const char *name;
	int64_t until;
	int r;

	memset(&h, 0, sizeof(h));
	vm_config_init(&c);
	c.accel = VM_ACCEL_TCG;
	c.kernel = strdup(KERNEL);
	c.initrd = strdup(INITRD);
	c.append = strdup("rdinit=/bin/sh");
	c.nic_model = strdup("none");
	if (paused)
		strlist_add(&c.extra_args, "-S");
	if (vm_start(&c, &h.vm, &err) < 0)
		_exit(21);
	snprintf(qmp, sizeof(qmp), "%s/qmp.sock", vm_info(h.vm)->runtime_dir);
	for (until = now_ms() + 20000; access(qmp, F_OK) < 0 && now_ms() < until;)
		usleep(20 * 1000);
	vm_hub_set_status(h.vm, "booting");
	if (vm_hub_enable(h.vm, scenario, &err) < 0)
		_exit(22);
	name = vm_hub_name(h.vm);
	if (write(fd, name, strlen(name) + 1) < 0)
		_exit(23);
	close(fd);
	h.tick = now_ms();
	h.limit = now_ms() + BOOT_LIMIT_MS + 60000;
	r = vm_run(h.vm, &ops, &h, &err);
	if (r == -IT_EINTERRUPTED && vm_info(h.vm)->hub_poweroff)
		r = 10;
	else if (r == -IT_EINTERRUPTED)
		r = 11;
	else
		r = 24;
	vm_free(h.vm);
	vm_config_release(&c);
	_exit(r);
}

static void harness_start(struct harness *hs, const char *scenario, bool paused)
{
	int fds[2];

	memset(hs, 0, sizeof(*hs));
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	hs->pid = fork();
	ck_assert_int_ge(hs->pid, 0);
	if (hs->pid == 0) {
		/* If the test dies, so does the harness, cleanly (vm_run ends on SIGTERM). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(fds[0]);
		harness_main(fds[1], scenario, paused);
	}
	close(fds[1]);
	tu_read_hello(fds[0], hs->name, sizeof(hs->name), WAIT_MS);
}

static int harness_wait(struct harness *hs, int limit_ms)
{
	int rc = tu_wait_exit(hs->pid, limit_ms);

	hs->pid = 0;
	return rc;
}

/* ---- attach on a real pseudo-terminal ---- */

/* 'initrd-test attach ARGS' with the pty as its controlling terminal and stdio. */
static void term_attach(struct tu_term *t, const char *what)
{
	char *argv[] = {(char *)"attach", (char *)what, NULL};

	tu_term_spawn(t, cmd_attach, what ? 2 : 1, argv);
}

/* The ps line of one VM, or NULL. */
static const char *ps_line(const struct result *ps, const char *name, char *line, size_t linesz)
{
	const char *at = strstr(ps->out.data, name);
	const char *end;

	if (!at || (at != ps->out.data && at[-1] != '\n'))
		return NULL;
	end = strchr(at, '\n');
	snprintf(line, linesz, "%.*s", (int)(end ? end - at : (long)strlen(at)), at);
	return line;
}

static void wait_step(const char *name, const char *step)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	int64_t until = now_ms() + WAIT_MS;
	bool seen = false;

	while (!seen && now_ms() < until) {
		ck_assert_int_eq(vm_hub_list(&list, NULL), 0);
		for (size_t i = 0; i < list.n; i++)
			seen |= !strcmp(list.v[i].name, name) && !strcmp(list.v[i].step, step);
		vm_hub_list_release(&list);
		if (!seen)
			usleep(50 * 1000);
	}
	ck_assert_msg(seen, "the step of '%s' never became '%s'", name, step);
}

/*
 * t (attached, holding the keyboard) floods the console and stops reading
 * its terminal meanwhile: attach blocks on it, the hub skips what does not
 * fit. Another client, reading all along, shows when the flood is over. t
 * then gets the start of the flood, one line saying how much was skipped,
 * and stays attached: what it types next still runs.
 */
static void slow_terminal(struct tu_term *t, const char *name)
{
	static const char said[] =
	    " bytes of console output skipped: this terminal was too slow]\r\n";
	struct tu_term w;
	const char *end, *line;
	char *digits_end = NULL;
	unsigned long long n;

	tu_term_open(&w, 24, 80);
	term_attach(&w, name);
	tu_term_wait(&w, "attached to", WAIT_MS);
	tu_term_type(t, "yes 01234567890123456789012345678901234567890123456789012345678901234567"
			"89 | head -c 1000000; echo big-$((3*3))\r");
	/* head cuts a line: "big-9" follows its last bytes. */
	tu_term_wait(&w, "big-9\r\n", BOOT_LIMIT_MS);
	tu_term_type(&w, "\035d"); /* Ctrl-] d */
	ck_assert_int_eq(tu_term_exit(&w, WAIT_MS), 0);
	tu_term_close(&w);

	tu_term_wait(t, said, WAIT_MS);
	/* On a line of its own, after a CAN that ends any escape sequence the gap cut. */
	end = t->seen.data + t->mark - strlen(said);
	ck_assert_int_ge(end - t->seen.data, 40);
	line = memmem(end - 40, 40, "\030\r\n[initrd-test: ", 17);
	ck_assert_msg(line != NULL, "the notice is not on a line of its own:\n%s", tu_term_tail(t));
	n = strtoull(line + 17, &digits_end, 10);
	ck_assert_msg(digits_end == end && n > 0, "bad notice:\n%s", tu_term_tail(t));
	/* Output before it: the start of the flood, never its end. */
	ck_assert_ptr_null(memmem(t->seen.data, (size_t)(end - t->seen.data), "big-9\r\n", 7));
	tu_term_type(t, "echo after-$((5*5))\r");
	tu_term_wait(t, "\nafter-25\r\n", WAIT_MS);
}

/* ---- tests ---- */

START_TEST(test_attach_detach_stop)
{
	char *ps_argv[] = {(char *)"ps", NULL};
	char *stop_argv[] = {(char *)"stop", NULL, NULL};
	struct harness hs;
	struct result ps, stop;
	struct tu_term t1, t2;
	struct winsize ws = {.ws_row = 33, .ws_col = 111};
	char banner[256], line[512], pid[32], detached[256];

	harness_start(&hs, "attach test", false);
	ck_assert_msg(!strncmp(hs.name, "attach_test-", 12), "name %s", hs.name);
	stop_argv[1] = hs.name;

	/* ps lists it. */
	run_cmd(cmd_ps, 1, ps_argv, &ps);
	ck_assert_int_eq(ps.rc, 0);
	ck_assert_msg(!strncmp(ps.out.data, "NAME ", 5), "%s", ps.out.data);
	ck_assert_msg(ps_line(&ps, hs.name, line, sizeof(line)), "%s", ps.out.data);
	snprintf(pid, sizeof(pid), " %d ", (int)hs.pid);
	ck_assert_msg(strstr(line, pid) && strstr(line, " attach test ") && strstr(line, "booting"),
		      "%s", line);
	result_release(&ps);

	/* The first client: the replay and the live console, raw mode, typing. */
	tu_term_open(&t1, 30, 100);
	term_attach(&t1, hs.name);
	snprintf(banner, sizeof(banner),
		 "[initrd-test: attached to %s; Ctrl-] d detaches, Ctrl-] q powers off, Ctrl-] "
		 "Ctrl-] sends Ctrl-]]",
		 hs.name);
	tu_term_wait(&t1, banner, WAIT_MS);
	wait_step(hs.name, "winsize 30x100");
	ck_assert(tu_term_is_raw(&t1));
	tu_term_wait(&t1, "Linux version ", BOOT_LIMIT_MS);
	tu_term_wait(&t1, "job control turned off", BOOT_LIMIT_MS);
	tu_term_wait(&t1, "# ", BOOT_LIMIT_MS);
	tu_term_type(&t1, "echo hi-$((6*7))\r");
	tu_term_wait(&t1, "\nhi-42\r\n", WAIT_MS);
	/* Detach, the escape key and its command in two reads. */
	tu_term_type(&t1, "\x1d");
	usleep(200 * 1000);
	tu_term_type(&t1, "d");
	ck_assert_int_eq(tu_term_exit(&t1, WAIT_MS), 0);
	tu_term_drain(&t1);
	snprintf(detached, sizeof(detached), "initrd-test: detached from %s; it keeps running",
		 hs.name);
	tu_term_wait(&t1, detached, 1000);
	tu_term_assert_restored(&t1);
	tu_term_close(&t1);

	/* The VM runs on; a second client finds the keyboard free again. */
	run_cmd(cmd_ps, 1, ps_argv, &ps);
	ck_assert_msg(ps_line(&ps, hs.name, line, sizeof(line)), "%s", ps.out.data);
	result_release(&ps);
	tu_term_open(&t2, 24, 80);
	term_attach(&t2, hs.name);
	tu_term_wait(&t2, "attached to", WAIT_MS);
	tu_term_wait(&t2, "\nhi-42\r\n", WAIT_MS);
	wait_step(hs.name, "winsize 24x80");
	/* Ctrl-] Ctrl-] types one Ctrl-]; Ctrl-] and another key type both. */
	tu_term_type(&t2, "read -r x\r");
	usleep(300 * 1000);
	tu_term_type(&t2, "\x1d\x1d\r");
	usleep(300 * 1000);
	tu_term_type(&t2, "read -r y\r");
	usleep(300 * 1000);
	tu_term_type(&t2, "\x1dz\r");
	usleep(300 * 1000);
	tu_term_type(&t2, "echo len-${#x}-${#y}\r");
	tu_term_wait(&t2, "\nlen-1-2\r\n", WAIT_MS);
	/* The window changes: SIGWINCH, and the hub knows. */
	ck_assert_int_eq(ioctl(t2.master, TIOCSWINSZ, &ws), 0);
	wait_step(hs.name, "winsize 33x111");
	slow_terminal(&t2, hs.name);
	/* Killed: the terminal is restored all the same. */
	ck_assert(tu_term_is_raw(&t2));
	ck_assert_int_eq(kill(t2.pid, SIGTERM), 0);
	ck_assert_int_eq(tu_term_exit(&t2, WAIT_MS), 128 + SIGTERM);
	tu_term_assert_restored(&t2);
	tu_term_close(&t2);

	/* stop: the harness powers the VM off and ends as interrupted. */
	run_cmd(cmd_stop, 2, stop_argv, &stop);
	ck_assert_msg(stop.rc == 0, "stop: %d %s", stop.rc, stop.err.data);
	snprintf(line, sizeof(line), "stopped %s\n", hs.name);
	ck_assert_str_eq(stop.err.data, line);
	result_release(&stop);
	ck_assert_int_eq(harness_wait(&hs, WAIT_MS), 10);
	run_cmd(cmd_ps, 1, ps_argv, &ps);
	ck_assert_int_eq(ps.rc, 0);
	ck_assert_msg(!strchr(ps.out.data, '\n') || !strchr(strchr(ps.out.data, '\n') + 1, '\n'),
		      "%s", ps.out.data);
	ck_assert_ptr_null(strstr(ps.out.data, hs.name));
	result_release(&ps);
	/* Gone: a second stop does not find it. */
	run_cmd(cmd_stop, 2, stop_argv, &stop);
	ck_assert_int_eq(stop.rc, EXIT_INFRA);
	snprintf(line, sizeof(line),
		 "initrd-test: error: no running VM '%s'\nhint: 'initrd-test ps' lists the running "
		 "VMs\n",
		 hs.name);
	ck_assert_str_eq(stop.err.data, line);
	result_release(&stop);
}
END_TEST

/* Ctrl-] q powers the VM off; a paused VM (qemu -S) answers QMP all the same. */
START_TEST(test_attach_poweroff)
{
	struct harness hs;
	struct tu_term t;
	char said[256];

	harness_start(&hs, "paused", true);
	tu_term_open(&t, 24, 80);
	/* The one running VM: no name needed. */
	term_attach(&t, NULL);
	tu_term_wait(&t, "attached to", WAIT_MS);
	tu_term_wait(&t, hs.name, 1000);
	ck_assert(tu_term_is_raw(&t));
	tu_term_type(&t, "\x1dq");
	snprintf(said, sizeof(said), "[initrd-test: powering off %s]", hs.name);
	tu_term_wait(&t, said, WAIT_MS);
	tu_term_wait(&t, "[initrd-test: powering off (asked by a console client)]", WAIT_MS);
	ck_assert_int_eq(tu_term_exit(&t, WAIT_MS), 0);
	tu_term_drain(&t);
	snprintf(said, sizeof(said), "initrd-test: %s: powered off", hs.name);
	tu_term_wait(&t, said, 1000);
	tu_term_assert_restored(&t);
	ck_assert_int_eq(harness_wait(&hs, WAIT_MS), 10);
	tu_term_close(&t);
}
END_TEST

static void fake_entry(const char *name, pid_t pid, int64_t started, const char *step)
{
	char path[PATH_MAX], text[512];

	snprintf(path, sizeof(path), "%s/%s", tu_runtime, VM_HUB_DIR_NAME);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s/%s.info", tu_runtime, VM_HUB_DIR_NAME, name);
	snprintf(text, sizeof(text), "name=%s\nscenario=fake\npid=%d\nstarted=%lld\nstep=%s\n",
		 name, (int)pid, (long long)started, step);
	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0600), 0);
}

START_TEST(test_cli_errors)
{
	char *ps_argv[] = {(char *)"ps", (char *)"extra", NULL};
	char *attach_argv[] = {(char *)"attach", (char *)"nope", (char *)"two", NULL};
	char *stop_argv[] = {(char *)"stop", (char *)"-t", (char *)"soon", (char *)"x", NULL};
	char *help_argv[] = {(char *)"attach", (char *)"--help", NULL};
	struct result r;
	char path[PATH_MAX], line[256];
	pid_t dead;

	/* Nothing runs. */
	run_cmd(cmd_ps, 1, ps_argv, &r);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out.data, "NAME      PID  SCENARIO   UPTIME  STEP\n");
	result_release(&r);
	run_cmd(cmd_attach, 1, attach_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_INFRA);
	ck_assert_str_eq(r.err.data, "initrd-test: error: no VM is running\n"
				     "hint: 'initrd-test run' starts one\n");
	result_release(&r);
	run_cmd(cmd_attach, 2, attach_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_INFRA);
	ck_assert_str_eq(r.err.data, "initrd-test: error: no running VM 'nope'\n"
				     "hint: 'initrd-test ps' lists the running VMs\n");
	result_release(&r);

	/* Bad command lines. */
	run_cmd(cmd_attach, 3, attach_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_USAGE);
	ck_assert_str_eq(r.err.data, "initrd-test: error: one VM at a time\n"
				     "try 'initrd-test attach --help'\n");
	result_release(&r);
	run_cmd(cmd_ps, 2, ps_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_USAGE);
	ck_assert_str_eq(r.err.data, "initrd-test: error: 'ps' takes no arguments\n"
				     "try 'initrd-test ps --help'\n");
	result_release(&r);
	run_cmd(cmd_stop, 1, stop_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_USAGE);
	ck_assert_str_eq(r.err.data, "initrd-test: error: no VM given\n"
				     "try 'initrd-test stop --help'\n");
	result_release(&r);
	run_cmd(cmd_stop, 4, stop_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_USAGE);
	ck_assert_str_eq(r.err.data,
			 "initrd-test: error: bad --timeout 'soon': give a duration like 30s or "
			 "2m\ntry 'initrd-test stop --help'\n");
	result_release(&r);
	run_cmd(cmd_attach, 2, help_argv, &r);
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strstr(r.out.data, "Ctrl-] then"));
	ck_assert(strstr(r.out.data, "power the VM off"));
	result_release(&r);

	/* Two listed, oldest first (this test process stands for their initrd-test), one stale. */
	fake_entry("fake-0001", getpid(), (int64_t)time(NULL) - 3725, "step 3/8: lease");
	fake_entry("fake-0002", getpid(), (int64_t)time(NULL) - 90000, "");
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	fake_entry("gone-0003", dead, 1, "");
	run_cmd(cmd_ps, 1, ps_argv, &r);
	ck_assert_int_eq(r.rc, 0);
	snprintf(line, sizeof(line),
		 "NAME           PID  SCENARIO   UPTIME  STEP\n"
		 "fake-0002  %7d  fake        1d01h  -\n"
		 "fake-0001  %7d  fake        1h02m  step 3/8: lease\n",
		 (int)getpid(), (int)getpid());
	ck_assert_str_eq(r.out.data, line);
	result_release(&r);
	snprintf(path, sizeof(path), "%s/%s/gone-0003.info", tu_runtime, VM_HUB_DIR_NAME);
	ck_assert_int_eq(access(path, F_OK), -1);

	attach_argv[1] = NULL;
	run_cmd(cmd_attach, 1, attach_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_USAGE);
	ck_assert_str_eq(r.err.data, "initrd-test: error: 2 VMs are running: name one\n"
				     "hint: 'initrd-test ps' lists them\n");
	result_release(&r);
	attach_argv[1] = (char *)"fake-0001";
	run_cmd(cmd_attach, 2, attach_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_INFRA);
	ck_assert_msg(strstr(r.err.data, "initrd-test: error: cannot connect to 'fake-0001': No "
					 "such file or directory\n"),
		      "%s", r.err.data);
	result_release(&r);
	stop_argv[1] = (char *)"fake";
	run_cmd(cmd_stop, 2, stop_argv, &r);
	ck_assert_int_eq(r.rc, EXIT_USAGE);
	ck_assert_str_eq(r.err.data,
			 "initrd-test: error: 'fake' matches several VMs: fake-0002, fake-0001\n"
			 "hint: give the whole name\n");
	result_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("app_attach");
	TCase *cli = tcase_create("cli");
	TCase *vm = tcase_create("vm");

	/* Never KVM here, whatever the machine offers. */
	setenv(VM_ACCEL_ENV, "tcg", 1);

	tu_runtime_fixtures(cli);
	tcase_add_test(cli, test_cli_errors);
	suite_add_tcase(s, cli);

	/* One real boot, and one paused VM. */
	tu_runtime_fixtures(vm);
	tcase_set_timeout(vm, 300);
	tcase_add_test(vm, test_attach_detach_stop);
	tcase_add_test(vm, test_attach_poweroff);
	suite_add_tcase(s, vm);

	return tu_run_suite(s);
}
