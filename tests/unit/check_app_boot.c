// SPDX-License-Identifier: MIT
/* Tests of keeping a VM for hands-on work (src/keep.c): real qemu VMs (TCG), real pseudo-terminals.
 */
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
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "runner/runner.h"
#include "src/cmds.h"
#include "src/keep.h"
#include "src/result.h"
#include "tests/unit/termutil.h"
#include "tests/unit/testutil.h"
#include "hostkernel.h"

#define KERNEL HOST_KERNEL
#define INITRD HOST_INITRD
#define BOOT_LIMIT_MS (200 * 1000)
#define WAIT_MS (30 * 1000)
#define PROMPT "job control turned off"

/* A VM on the host's kernel and initrd with a shell as init; paused (qemu -S) if asked. */
static struct vm *start_vm(bool paused)
{
	struct it_error err = IT_ERROR_INIT;
	struct vm_config c;
	struct vm *vm = NULL;
	char qmp[PATH_MAX];
	int64_t until;

	vm_config_init(&c);
	c.accel = VM_ACCEL_TCG;
	c.kernel = strdup(KERNEL);
	c.initrd = strdup(INITRD);
	c.append = strdup("rdinit=/bin/sh");
	c.nic_model = strdup("none");
	if (paused)
		strlist_add(&c.extra_args, "-S");
	ck_assert_msg(vm_start(&c, &vm, &err) == 0, "vm_start: %s", err.msg);
	vm_config_release(&c);
	/* QMP answers once its socket is there: a stop before that would wait for nothing. */
	snprintf(qmp, sizeof(qmp), "%s/qmp.sock", vm_info(vm)->runtime_dir);
	for (until = now_ms() + 20000; access(qmp, F_OK) < 0 && now_ms() < until;)
		usleep(20 * 1000);
	return vm;
}

/* ---- the harness: a child that keeps a VM, as 'run --keep' and 'boot' do ---- */

struct harness {
	pid_t pid;
	char name[64];
	int status_rd; /* the suite's end of status_fd */
	char err_path[PATH_MAX];
};

/*
 * Start the VM, open its hub, say its name on fd, then keep_serve(). Its
 * exit code: keep_serve()'s result when positive, 20 + n on a failure.
 */
static void harness_main(int fd, int status_wr, bool paused, bool attach)
{
	struct it_error err = IT_ERROR_INIT;
	struct keep_opts ko;
	struct vm *vm = start_vm(paused);
	const char *name;
	int r;

	if (vm_hub_enable(vm, "keep test", &err) < 0)
		_exit(22);
	name = vm_hub_name(vm);
	if (write(fd, name, strlen(name) + 1) < 0)
		_exit(23);
	close(fd);
	keep_opts_init(&ko);
	ko.attach = attach;
	ko.status = "kept for the test";
	ko.status_fd = status_wr;
	r = keep_serve(vm, &ko, &err);
	if (r < 0) {
		fprintf(stderr, "keep_serve: %d %s\n", r, err.msg);
		_exit(24);
	}
	/* The VM is stopped in every case. */
	if (!vm_info(vm)->exited)
		_exit(25);
	vm_free(vm);
	_exit(r);
}

/* tty_slave >= 0: the harness's terminal (stdin, stdout, stderr); else /dev/null and a file. */
static void harness_start(struct harness *hs, int tty_slave, bool paused, bool attach)
{
	int fds[2], st[2];

	memset(hs, 0, sizeof(*hs));
	snprintf(hs->err_path, sizeof(hs->err_path), "%s/harness.err", tu_runtime);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(st, O_CLOEXEC), 0);
	hs->pid = fork();
	ck_assert_int_ge(hs->pid, 0);
	if (hs->pid == 0) {
		int in, out;

		/* If the test dies, so does the harness, cleanly (vm_run ends on SIGTERM). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(fds[0]);
		close(st[0]);
		if (tty_slave >= 0) {
			setsid();
			ioctl(tty_slave, TIOCSCTTY, 0);
			in = out = tty_slave;
		} else {
			in = open("/dev/null", O_RDONLY | O_CLOEXEC);
			out = open(hs->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (in < 0 || out < 0)
				_exit(21);
		}
		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		harness_main(fds[1], st[1], paused, attach);
	}
	close(fds[1]);
	close(st[1]);
	hs->status_rd = st[0];
	tu_read_hello(fds[0], hs->name, sizeof(hs->name), WAIT_MS);
}

static int harness_wait(struct harness *hs, int limit_ms)
{
	int rc = tu_wait_exit(hs->pid, limit_ms);

	hs->pid = 0;
	close(hs->status_rd);
	return rc;
}

/* ---- terminals ---- */

static void term_attach(struct tu_term *t, const char *what)
{
	char *argv[] = {(char *)"attach", (char *)what, NULL};

	tu_term_spawn(t, cmd_attach, 2, argv);
}

/* The step 'ps' shows for a VM, or "" when it is not listed. */
static void listed_step(const char *name, char *step, size_t stepsz)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;

	step[0] = '\0';
	ck_assert_int_eq(vm_hub_list(&list, NULL), 0);
	for (size_t i = 0; i < list.n; i++)
		if (!strcmp(list.v[i].name, name))
			snprintf(step, stepsz, "%s", list.v[i].step);
	vm_hub_list_release(&list);
}

static void read_status(int fd, char *out, size_t outsz)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n = 0;

	if (poll(&p, 1, WAIT_MS) == 1)
		n = read(fd, out, outsz - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* ---- tests ---- */

/*
 * No terminal (CI): attach is asked for but impossible, so the VM is kept
 * as with --keep: instructions on stderr, a status line for the suite, a
 * client works on it, and the guest powering itself off ends the keep.
 */
START_TEST(test_keep_without_terminal)
{
	struct harness hs;
	struct tu_term t;
	struct buf err;
	char step[256], line[256], want[512];

	harness_start(&hs, -1, false, true);
	read_status(hs.status_rd, line, sizeof(line));
	snprintf(want, sizeof(want), "kept: initrd-test attach %s\n", hs.name);
	ck_assert_str_eq(line, want);
	listed_step(hs.name, step, sizeof(step));
	ck_assert_str_eq(step, "kept for the test");

	tu_term_open(&t, 24, 80);
	term_attach(&t, hs.name);
	tu_term_wait(&t, "attached to", WAIT_MS);
	tu_term_wait(&t, PROMPT, BOOT_LIMIT_MS);
	tu_term_wait(&t, "# ", WAIT_MS);
	tu_term_type(&t, "echo kept-$((6*7))\r");
	tu_term_wait(&t, "\nkept-42\r\n", WAIT_MS);
	/* The guest powers off: the client hears it, the keep ends with KEEP_EXITED. */
	tu_term_type(&t, "mkdir -p /proc; mount -t proc proc /proc; "
			 "echo o >/proc/sysrq-trigger\r");
	ck_assert_int_eq(tu_term_exit(&t, WAIT_MS), 0);
	tu_term_read(&t, 200);
	tu_term_wait(&t, "the VM exited", 1000);
	tu_term_assert_restored(&t);
	tu_term_close(&t);
	ck_assert_int_eq(harness_wait(&hs, WAIT_MS), KEEP_EXITED);
	listed_step(hs.name, step, sizeof(step));
	ck_assert_str_eq(step, "");

	buf_init(&err, 1024 * 1024);
	ck_assert_int_eq(buf_read_file(&err, hs.err_path), 0);
	snprintf(want, sizeof(want),
		 "initrd-test: %s keeps running for you:\n"
		 "  initrd-test attach %s   connects a terminal (Ctrl-] d detaches, Ctrl-] q "
		 "powers off)\n"
		 "  initrd-test stop %s     powers it off (so does Ctrl-C here)\n",
		 hs.name, hs.name, hs.name);
	ck_assert_msg(strstr(err.data, want), "stderr:\n%s", err.data);
	snprintf(want, sizeof(want), "%s: the VM exited\n", hs.name);
	ck_assert_msg(strstr(err.data, want), "stderr:\n%s", err.data);
	/* Nothing attached to a terminal that is not there. */
	ck_assert_ptr_null(strstr(err.data, "attached to"));
	buf_release(&err);
}
END_TEST

/*
 * On a terminal: attached at once, raw; Ctrl-] d detaches and the VM runs
 * on, with the terminal back in its modes; Enter attaches again; Ctrl-] q
 * powers off and ends the keep with KEEP_POWERED_OFF.
 */
START_TEST(test_keep_attached_detach_enter_poweroff)
{
	struct harness hs;
	struct tu_term t;
	char step[256], want[256];

	tu_term_open(&t, 24, 80);
	harness_start(&hs, t.slave, false, true);
	snprintf(want, sizeof(want), "[initrd-test: attached to %s; Ctrl-] d detaches", hs.name);
	tu_term_wait(&t, want, WAIT_MS);
	tu_term_wait_raw(&t, true, WAIT_MS);
	tu_term_wait(&t, PROMPT, BOOT_LIMIT_MS);
	tu_term_wait(&t, "# ", WAIT_MS);
	tu_term_type(&t, "echo first-$((6*7))\r");
	tu_term_wait(&t, "\nfirst-42\r\n", WAIT_MS);

	tu_term_type(&t, "\x1d"
			 "d");
	snprintf(want, sizeof(want), "initrd-test: detached from %s; it keeps running", hs.name);
	tu_term_wait(&t, want, WAIT_MS);
	snprintf(want, sizeof(want),
		 "initrd-test: %s runs on, served by this initrd-test: Enter attaches again here, "
		 "Ctrl-C powers it off",
		 hs.name);
	tu_term_wait(&t, want, WAIT_MS);
	tu_term_wait_raw(&t, false, WAIT_MS);
	tu_term_assert_restored(&t);
	listed_step(hs.name, step, sizeof(step));
	ck_assert_str_eq(step, "kept for the test");
	/* Still served while nobody is attached: the console is drained, the VM runs. */
	usleep(500 * 1000);
	listed_step(hs.name, step, sizeof(step));
	ck_assert_str_eq(step, "kept for the test");

	/* Enter: attached again, with the console's tail. */
	tu_term_type(&t, "\r");
	snprintf(want, sizeof(want), "[initrd-test: attached to %s;", hs.name);
	tu_term_wait(&t, want, WAIT_MS);
	tu_term_wait(&t, "\nfirst-42\r\n", WAIT_MS);
	tu_term_wait_raw(&t, true, WAIT_MS);
	tu_term_type(&t, "echo second-$((7*7))\r");
	tu_term_wait(&t, "\nsecond-49\r\n", WAIT_MS);

	tu_term_type(&t, "\x1d"
			 "q");
	ck_assert_int_eq(harness_wait(&hs, WAIT_MS), KEEP_POWERED_OFF);
	tu_term_read(&t, 200);
	snprintf(want, sizeof(want), "initrd-test: %s: powered off", hs.name);
	tu_term_wait(&t, want, 1000);
	tu_term_assert_restored(&t);
	listed_step(hs.name, step, sizeof(step));
	ck_assert_str_eq(step, "");
	tu_term_close(&t);
}
END_TEST

/* SIGTERM to the harness while its terminal is attached: the VM stops, the terminal is restored. */
START_TEST(test_keep_sigterm)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	struct harness hs;
	struct tu_term t;
	pid_t qemu = 0;

	tu_term_open(&t, 24, 80);
	harness_start(&hs, t.slave, true, true);
	tu_term_wait(&t, "attached to", WAIT_MS);
	tu_term_wait_raw(&t, true, WAIT_MS);
	ck_assert_int_eq(vm_hub_list(&list, NULL), 0);
	ck_assert_uint_eq(list.n, 1);
	qemu = list.v[0].qemu_pid;
	vm_hub_list_release(&list);
	ck_assert_int_eq(kill(hs.pid, SIGTERM), 0);
	ck_assert_int_eq(harness_wait(&hs, WAIT_MS), KEEP_SIGNALLED);
	/* keep_serve() waited for its attach child: the terminal is back already. */
	tu_term_assert_restored(&t);
	ck_assert_int_eq(kill(qemu, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	tu_term_close(&t);
}
END_TEST

/* A passed run is not kept: the VM stops at once. A VM without a hub cannot be kept. */
START_TEST(test_keep_after_run)
{
	struct it_error err = IT_ERROR_INIT;
	struct result_run rep;
	struct keep_opts ko;
	struct vm *vm;
	char step[256];
	const char *name;
	int64_t t0;

	ck_assert(keep_wanted(RUN_FAILED));
	ck_assert(keep_wanted(RUN_CRASHED));
	ck_assert(keep_wanted(RUN_TIMED_OUT));
	ck_assert(!keep_wanted(RUN_PASSED));
	ck_assert(!keep_wanted(RUN_INFRA_ERROR));
	ck_assert(!keep_wanted(RUN_USAGE_ERROR));
	ck_assert(!keep_wanted(RUN_INTERRUPTED));

	result_run_init(&rep);
	rep.verdict = RUN_PASSED;
	vm = start_vm(true);
	ck_assert_int_eq(vm_hub_enable(vm, "passed", &err), 0);
	name = vm_hub_name(vm);
	listed_step(name, step, sizeof(step));
	t0 = now_ms();
	keep_after_run(vm, &rep, true, -1, NULL);
	ck_assert_msg(now_ms() - t0 < 10000, "took %lld ms", (long long)(now_ms() - t0));
	ck_assert(vm_info(vm)->exited);
	ck_assert_ptr_null(vm_hub_name(vm));
	vm_free(vm);

	/* Failed, but the VM is gone already: nothing to keep, and no wait. */
	rep.verdict = RUN_FAILED;
	vm = start_vm(true);
	ck_assert_int_eq(vm_stop(vm, 0, NULL), 0);
	t0 = now_ms();
	keep_after_run(vm, &rep, false, -1, NULL);
	ck_assert(now_ms() - t0 < 1000);
	vm_free(vm);
	keep_after_run(NULL, &rep, false, -1, NULL);

	/* No console socket: an error that says so, and the VM is stopped. */
	vm = start_vm(true);
	keep_opts_init(&ko);
	ck_assert_int_eq(keep_serve(vm, &ko, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "cannot keep the VM running: it has no console socket");
	ck_assert(vm_info(vm)->exited);
	it_error_clear(&err);
	ck_assert_int_eq(keep_serve(vm, &ko, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "nothing to keep: the VM has exited");
	vm_free(vm);
	result_run_release(&rep);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("app_boot");
	TCase *tc = tcase_create("keep");

	/* Never KVM here, whatever the machine offers. */
	setenv(VM_ACCEL_ENV, "tcg", 1);
	tu_runtime_fixtures(tc);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_keep_after_run);
	tcase_add_test(tc, test_keep_sigterm);
	tcase_add_test(tc, test_keep_without_terminal);
	tcase_add_test(tc, test_keep_attached_detach_enter_poweroff);
	suite_add_tcase(s, tc);

	return tu_run_suite(s);
}
