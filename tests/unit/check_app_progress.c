// SPDX-License-Identifier: MIT
/* Unit tests for src/progress.c: the status line on a real pty, plain lines on a pipe, NO_COLOR. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "src/progress.h"
#include "tests/unit/testutil.h"

#define ERASE "\r\033[K"

/* Everything readable on fd now, NUL-terminated. */
static void drain(int fd, char *out, size_t outsz)
{
	size_t n = 0;
	struct pollfd pfd = {fd, POLLIN, 0};

	while (n + 1 < outsz && poll(&pfd, 1, 100) == 1) {
		ssize_t r = read(fd, out + n, outsz - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = '\0';
}

/* A pty of cols columns, raw so that what is written is what is read. */
static void pty_open(int *master, int *slave, unsigned short cols)
{
	struct winsize ws = {24, cols, 0, 0};
	struct termios t;

	ck_assert_int_eq(openpty(master, slave, NULL, NULL, &ws), 0);
	ck_assert_int_eq(tcgetattr(*slave, &t), 0);
	cfmakeraw(&t);
	ck_assert_int_eq(tcsetattr(*slave, TCSANOW, &t), 0);
}

START_TEST(test_format)
{
	struct progress p;
	char line[256];
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	progress_init(&p, fds[1], true, 1000);
	p.step = 4;
	p.n = 11;
	strcpy(p.name, "lease");
	p.budget = 20000;
	p.timeout = 60000;
	p.since = 13100;
	progress_format(&p, 16300, line, sizeof(line));
	ck_assert_str_eq(line,
			 "step 5/11 lease: 3.2s of its 20s budget (timeout 60s), 15.3s elapsed");
	p.budget = 0;
	progress_format(&p, 16300, line, sizeof(line));
	ck_assert_str_eq(line, "step 5/11 lease: 3.2s (timeout 60s), 15.3s elapsed");
	p.timeout = 0;
	progress_format(&p, 16300, line, sizeof(line));
	ck_assert_str_eq(line, "step 5/11 lease: 3.2s, 15.3s elapsed");
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* On a pipe: no escape, one plain line per step, no deadline to redraw at. */
START_TEST(test_pipe_plain_lines)
{
	struct progress p;
	char got[512];
	int fds[2];

	unsetenv("NO_COLOR");
	ck_assert_int_eq(pipe(fds), 0);
	progress_init(&p, fds[1], true, 0);
	ck_assert(!p.tty);
	ck_assert(!p.color);
	progress_step(&p, 0, 3, "openrc", 0, 60000, 10);
	progress_step(&p, 1, 3, "agent-ready", 30000, 90000, 20);
	progress_step(&p, 2, 3, "", 0, 0, 30);
	ck_assert_int_eq(progress_deadline(&p), -1);
	progress_draw(&p, 40);
	progress_hide(&p);
	drain(fds[0], got, sizeof(got));
	ck_assert_str_eq(got, "step 1/3 openrc (timeout 60s)\n"
			      "step 2/3 agent-ready (budget 30s, timeout 90s)\n"
			      "step 3/3 (unnamed)\n");
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* Off (-q, or in a suite): nothing at all. */
START_TEST(test_off)
{
	struct progress p;
	char got[64];
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	progress_init(&p, fds[1], false, 0);
	progress_step(&p, 0, 1, "openrc", 0, 60000, 10);
	progress_draw(&p, 20);
	ck_assert_int_eq(progress_deadline(&p), -1);
	close(fds[1]);
	drain(fds[0], got, sizeof(got));
	ck_assert_str_eq(got, "");
	close(fds[0]);
}
END_TEST

/* On a terminal: one line redrawn in place, erased on demand, redrawn every tick. */
START_TEST(test_terminal_line)
{
	struct progress p;
	char got[1024];
	int m, s;

	setenv("NO_COLOR", "1", 1);
	pty_open(&m, &s, 100);
	progress_init(&p, s, true, 0);
	ck_assert(p.tty);
	ck_assert(!p.color);
	ck_assert_uint_eq(p.width, 100);
	ck_assert_int_eq(progress_deadline(&p), -1);
	progress_step(&p, 0, 2, "login", 0, 60000, 1000);
	/* Due at once, drawn by the caller (the console may be mid-line). */
	ck_assert_int_eq(progress_deadline(&p), 1000);
	progress_draw(&p, 1000);
	ck_assert_int_eq(progress_deadline(&p), 1000 + PROGRESS_TICK_MS);
	progress_hide(&p);
	progress_hide(&p); /* once only */
	/* A tick before the deadline does nothing; one the console forbids waits a tick. */
	progress_tick(&p, 1500, true);
	progress_tick(&p, 2000, false);
	ck_assert_int_eq(progress_deadline(&p), 3000);
	progress_tick(&p, 3000, true);
	drain(m, got, sizeof(got));
	ck_assert_str_eq(got, ERASE "step 1/2 login: 0.0s (timeout 60s), 1.0s elapsed" ERASE ERASE
				    "step 1/2 login: 2.0s (timeout 60s), 3.0s elapsed");
	close(s);
	close(m);
}
END_TEST

/* Colour without NO_COLOR: the name bold, the wait red once over budget; cut to the width. */
START_TEST(test_terminal_color_and_width)
{
	struct progress p;
	char line[512];
	int m, s;

	unsetenv("NO_COLOR");
	pty_open(&m, &s, 30);
	progress_init(&p, s, true, 0);
	ck_assert(p.color);
	progress_step(&p, 0, 1, "lease", 2000, 60000, 0);
	progress_format(&p, 1000, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "\033[1mlease\033[0m"));
	ck_assert_ptr_null(strstr(line, "\033[31m"));
	/* 29 columns at most (the last one would wrap), the escapes not counted. */
	ck_assert_str_eq(line, "step 1/1 \033[1mlease\033[0m: 1.0s of its 2\033[0m");
	progress_format(&p, 2500, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "\033[31m2.5s"));
	close(s);
	close(m);
}
END_TEST

static Suite *progress_suite(void)
{
	Suite *s = suite_create("progress");
	TCase *tc = tcase_create("progress");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_pipe_plain_lines);
	tcase_add_test(tc, test_off);
	tcase_add_test(tc, test_terminal_line);
	tcase_add_test(tc, test_terminal_color_and_width);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(progress_suite());
}
