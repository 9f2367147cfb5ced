// SPDX-License-Identifier: MIT
/* Helpers for tests that drive VMs and terminals: a private XDG_RUNTIME_DIR, ptys, children. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/unit/termutil.h"
#include "tests/unit/testutil.h"

#define TERM_MAX (4 * 1024 * 1024)
#define TAIL 2000

char tu_runtime[128];
static char case_dir[96];

void tu_case_setup(void)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.case", program_invocation_short_name);
	ck_assert_msg(tu_mkdtemp(case_dir, sizeof(case_dir), name),
		      "cannot make a directory in $TMPDIR: %s", strerror(errno));
}

void tu_case_teardown(void)
{
	rm_rf(case_dir);
}

void tu_runtime_setup(void)
{
	snprintf(tu_runtime, sizeof(tu_runtime), "%s/t.XXXXXX", case_dir);
	ck_assert_ptr_nonnull(mkdtemp(tu_runtime));
	setenv("XDG_RUNTIME_DIR", tu_runtime, 1);
	setenv("NO_COLOR", "1", 1);
}

void tu_runtime_teardown(void)
{
	rm_rf(tu_runtime);
}

void tu_read_hello(int fd, char *out, size_t outsz, int limit_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	ck_assert_msg(poll(&p, 1, limit_ms) == 1, "the child said nothing within %d ms", limit_ms);
	n = read(fd, out, outsz - 1);
	ck_assert_msg(n > 1, "the child did not start");
	out[n] = '\0';
	close(fd);
}

void tu_runtime_fixtures(TCase *tc)
{
	tcase_add_unchecked_fixture(tc, tu_case_setup, tu_case_teardown);
	tcase_add_checked_fixture(tc, tu_runtime_setup, tu_runtime_teardown);
}

int tu_wait_exit(pid_t pid, int limit_ms)
{
	int64_t until = now_ms() + limit_ms;
	int status = 0;
	pid_t p;

	for (;;) {
		p = waitpid(pid, &status, WNOHANG);
		if (p != 0 || now_ms() >= until)
			break;
		usleep(20 * 1000);
	}
	ck_assert_msg(p == pid, "child %d did not end within %d ms", (int)pid, limit_ms);
	ck_assert_msg(WIFEXITED(status), "child %d: status %#x", (int)pid, (unsigned)status);
	return WEXITSTATUS(status);
}

void tu_term_open(struct tu_term *t, unsigned short rows, unsigned short cols)
{
	struct winsize ws = {.ws_row = rows, .ws_col = cols};

	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(openpty(&t->master, &t->slave, NULL, NULL, &ws), 0);
	fcntl(t->master, F_SETFD, FD_CLOEXEC);
	fcntl(t->slave, F_SETFD, FD_CLOEXEC);
	ck_assert_int_eq(tcgetattr(t->slave, &t->orig), 0);
	ck_assert(t->orig.c_lflag & ICANON);
	ck_assert(t->orig.c_lflag & ECHO);
	buf_init(&t->seen, TERM_MAX);
}

void tu_term_spawn(struct tu_term *t, int (*fn)(int, char **), int argc, char **argv)
{
	t->pid = fork();
	ck_assert_int_ge(t->pid, 0);
	if (t->pid)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setsid();
	ioctl(t->slave, TIOCSCTTY, 0);
	dup2(t->slave, STDIN_FILENO);
	dup2(t->slave, STDOUT_FILENO);
	dup2(t->slave, STDERR_FILENO);
	close(t->master);
	optind = 0;
	exit(fn(argc, argv));
}

const char *tu_term_tail(const struct tu_term *t)
{
	return t->seen.len > TAIL ? t->seen.data + t->seen.len - TAIL : t->seen.data;
}

/* One read if something comes within timeout_ms: whether it did. */
static bool read_once(struct tu_term *t, int timeout_ms)
{
	struct pollfd p = {.fd = t->master, .events = POLLIN};
	char chunk[4096];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	n = read(t->master, chunk, sizeof(chunk));
	if (n <= 0)
		return false;
	ck_assert_int_eq(buf_add(&t->seen, chunk, (size_t)n), 0);
	return true;
}

void tu_term_read(struct tu_term *t, int timeout_ms)
{
	read_once(t, timeout_ms);
}

void tu_term_drain(struct tu_term *t)
{
	while (read_once(t, 50))
		;
}

void tu_term_wait(struct tu_term *t, const char *needle, int limit_ms)
{
	int64_t until = now_ms() + limit_ms;
	size_t len = strlen(needle);
	const char *at;

	for (;;) {
		at = t->seen.len > t->mark
			 ? memmem(t->seen.data + t->mark, t->seen.len - t->mark, needle, len)
			 : NULL;
		if (at) {
			t->mark = (size_t)(at - t->seen.data) + len;
			return;
		}
		ck_assert_msg(now_ms() < until, "no '%s' on the terminal; it shows:\n%s", needle,
			      tu_term_tail(t));
		read_once(t, ms_until(until));
	}
}

void tu_term_type(struct tu_term *t, const char *s)
{
	ck_assert_int_eq(write(t->master, s, strlen(s)), (ssize_t)strlen(s));
}

int tu_term_exit(struct tu_term *t, int limit_ms)
{
	int64_t until = now_ms() + limit_ms;
	int status = 0;
	pid_t p;

	for (;;) {
		p = waitpid(t->pid, &status, WNOHANG);
		if (p != 0 || now_ms() >= until)
			break;
		read_once(t, 20);
	}
	ck_assert_msg(p == t->pid, "the terminal's child did not end; the terminal shows:\n%s",
		      tu_term_tail(t));
	t->pid = 0;
	ck_assert_msg(WIFEXITED(status), "the terminal's child: status %#x", (unsigned)status);
	return WEXITSTATUS(status);
}

bool tu_term_is_raw(const struct tu_term *t)
{
	struct termios now;

	ck_assert_int_eq(tcgetattr(t->slave, &now), 0);
	return !(now.c_lflag & (ICANON | ECHO | ISIG));
}

void tu_term_wait_raw(const struct tu_term *t, bool raw, int limit_ms)
{
	int64_t until = now_ms() + limit_ms;

	while (tu_term_is_raw(t) != raw && now_ms() < until)
		usleep(20 * 1000);
	ck_assert_msg(tu_term_is_raw(t) == raw, "the terminal is %s",
		      raw ? "not raw" : "still raw");
}

void tu_term_assert_restored(const struct tu_term *t)
{
	struct termios now;

	ck_assert_int_eq(tcgetattr(t->slave, &now), 0);
	ck_assert_uint_eq(now.c_iflag, t->orig.c_iflag);
	ck_assert_uint_eq(now.c_oflag, t->orig.c_oflag);
	ck_assert_uint_eq(now.c_cflag, t->orig.c_cflag);
	ck_assert_uint_eq(now.c_lflag, t->orig.c_lflag);
	ck_assert_int_eq(memcmp(now.c_cc, t->orig.c_cc, sizeof(now.c_cc)), 0);
}

void tu_term_close(struct tu_term *t)
{
	close(t->master);
	close(t->slave);
	buf_release(&t->seen);
}
