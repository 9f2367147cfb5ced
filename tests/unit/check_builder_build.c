// SPDX-License-Identifier: MIT
/* Unit tests for builder/build.c: the cancel flag, and that the library leaves signals alone. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/builder.h"
#include "common/buf.h"
#include "common/log.h"
#include "tests/unit/testutil.h"

#define ALPINE_REPO "tests/data/alpine-3.19.1"

static void test_handler(int sig)
{
	(void)sig;
}

/* What a process may have set before a build, and what the build must leave as it was. */
struct signal_state {
	struct sigaction act[2]; /* SIGINT, SIGTERM */
	sigset_t mask;
};

static const int watched[2] = {SIGINT, SIGTERM};

static void signal_state_get(struct signal_state *st)
{
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(sigaction(watched[i], NULL, &st->act[i]), 0);
	ck_assert_int_eq(sigprocmask(SIG_SETMASK, NULL, &st->mask), 0);
}

static void signal_state_same(const struct signal_state *a, const struct signal_state *b)
{
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(a->act[i].sa_handler == b->act[i].sa_handler,
			      "the action for signal %d changed", watched[i]);
		ck_assert_int_eq(a->act[i].sa_flags, b->act[i].sa_flags);
		for (int s = 1; s < NSIG; s++)
			ck_assert_int_eq(sigismember(&a->act[i].sa_mask, s),
					 sigismember(&b->act[i].sa_mask, s));
	}
	for (int s = 1; s < NSIG; s++)
		ck_assert_int_eq(sigismember(&a->mask, s), sigismember(&b->mask, s));
}

/* A caller's own SIGINT action (SA_RESTART, SIGHUP blocked in it) and SIGTERM ignored. */
static void set_callers_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = test_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGHUP);
	ck_assert_int_eq(sigaction(SIGINT, &sa, NULL), 0);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	ck_assert_int_eq(sigaction(SIGTERM, &sa, NULL), 0);
}

static void restore_default_signals(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}

/* alpine-base from the committed packages, no kernel, into tu_dir/out/. */
static void alpine_config(struct build_config *c)
{
	build_config_init(c);
	ck_assert_int_eq(strlist_add(&c->repos, ALPINE_REPO), 0);
	ck_assert_int_eq(strlist_add(&c->packages, "alpine-base"), 0);
	c->keys_dir = strdup("keys");
	c->cache_dir = strdup(tu_in_dir("cache"));
	c->output = strdup(tu_in_dir("out/initrd.img"));
	c->kernel_out = strdup(tu_in_dir("out/vmlinuz"));
	c->source_date_epoch = 1700000000;
	ck_assert(c->keys_dir && c->cache_dir && c->output && c->kernel_out);
}

/* The names in directory dir, sorted, one line each; "" when it does not exist. */
static void listing(const char *dir, struct buf *out)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "ls -A '%s' 2>/dev/null || true", dir);
	tu_shell(cmd, out);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static const struct {
	sig_atomic_t value;
	const char *msg;
} cancels[] = {
    {SIGINT, "interrupted by SIGINT"},
    {SIGTERM, "interrupted by SIGTERM"},
    {1, "interrupted"},
};

/* A flag already set: the build stops at its first check, writes nothing, touches no signal. */
START_TEST(test_cancel_set_before)
{
	static volatile sig_atomic_t flag;
	struct build_config c;
	struct build_result res;
	struct it_error err = IT_ERROR_INIT;
	struct signal_state before, after;
	struct buf files = BUF_INIT;

	set_callers_signals();
	alpine_config(&c);
	flag = cancels[_i].value;
	c.cancel = &flag;
	signal_state_get(&before);
	ck_assert_int_eq(builder_build(&c, &res, &err), -IT_EINTERRUPTED);
	signal_state_get(&after);
	signal_state_same(&before, &after);
	ck_assert_str_eq(err.msg, cancels[_i].msg);
	ck_assert_int_eq(flag, cancels[_i].value); /* the builder only reads it */
	buf_init(&files, 0);
	listing(tu_in_dir("out"), &files);
	ck_assert_str_eq(files.data, "");
	ck_assert_ptr_null(res.kernel_path);
	build_result_release(&res);
	build_config_release(&c);
	buf_release(&files);
	restore_default_signals();
}
END_TEST

/* Previous outputs stay as they were, with nothing beside them. */
START_TEST(test_cancel_keeps_previous_outputs)
{
	static volatile sig_atomic_t flag = SIGINT;
	struct build_config c;
	struct build_result res;
	struct it_error err = IT_ERROR_INIT;
	struct buf b = BUF_INIT;

	alpine_config(&c);
	c.cancel = &flag;
	ck_assert_int_eq(mkdir(tu_in_dir("out"), 0755), 0);
	write_text(c.output, "old initrd\n");
	write_text(c.kernel_out, "old kernel\n");
	ck_assert_int_eq(builder_build(&c, &res, &err), -IT_EINTERRUPTED);
	buf_init(&b, 0);
	listing(tu_in_dir("out"), &b);
	ck_assert_str_eq(b.data, "initrd.img\nvmlinuz\n");
	tu_read_file(&b, c.output);
	ck_assert_str_eq(b.data, "old initrd\n");
	tu_read_file(&b, c.kernel_out);
	ck_assert_str_eq(b.data, "old kernel\n");
	buf_release(&b);
	build_result_release(&res);
	build_config_release(&c);
}
END_TEST

/* A flag that stays 0 does not stop anything, and neither does none; signals stay as set. */
START_TEST(test_cancel_unset)
{
	static volatile sig_atomic_t flag;
	struct build_config c;
	struct build_result res;
	struct it_error err = IT_ERROR_INIT;
	struct signal_state before, after;
	struct stat st;

	set_callers_signals();
	alpine_config(&c);
	c.dry_run = true;
	signal_state_get(&before);
	ck_assert_msg(builder_build(&c, &res, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(res.plan.n, 25);
	build_result_release(&res);

	flag = 0;
	c.cancel = &flag;
	c.dry_run = false;
	ck_assert_msg(builder_build(&c, &res, &err) == 0, "%s", err.msg);
	signal_state_get(&after);
	signal_state_same(&before, &after);
	ck_assert_int_eq(stat(c.output, &st), 0);
	ck_assert_uint_eq((unsigned long long)st.st_size, res.initrd_bytes);
	build_result_release(&res);
	build_config_release(&c);
	restore_default_signals();
}
END_TEST

/* The caller's handler, as the command layer's: the first signal into the build's flag. */
static volatile sig_atomic_t caller_flag;
static volatile sig_atomic_t caller_calls;

static void caller_on_signal(int sig)
{
	caller_calls++;
	if (!caller_flag)
		caller_flag = sig;
}

/*
 * The authorized_keys of a user, a FIFO that the build reads in its configuration
 * phase: once the build has opened it, Ctrl-C comes to the process (to the main
 * thread, which runs the build), then the keys.
 */
static void *ctrl_c_while_reading(void *fifo)
{
	static const char keys[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI test@host\n";
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	fd = open(fifo, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	kill(getpid(), SIGINT);
	if (write(fd, keys, sizeof(keys) - 1) < 0)
		perror("write");
	close(fd);
	return NULL;
}

/*
 * SIGINT in the middle of a build, caught by the caller's handler (not replaced by
 * one of the builder's) as the command layer does: the build stops at its next check,
 * writes nothing and leaves the caller's actions in place.
 */
START_TEST(test_cancel_during_build)
{
	struct build_config c;
	struct build_result res;
	struct it_error err = IT_ERROR_INIT;
	struct signal_state before, after;
	struct sigaction sa;
	struct buf files = BUF_INIT;
	pthread_t th;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = caller_on_signal;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGINT, &sa, NULL), 0);
	alpine_config(&c);
	caller_flag = 0;
	caller_calls = 0;
	c.cancel = &caller_flag;
	ck_assert_int_eq(mkfifo(tu_in_dir("keys"), 0600), 0);
	c.users = calloc(1, sizeof(*c.users));
	ck_assert_ptr_nonnull(c.users);
	c.nusers = 1;
	c.users[0].name = strdup("tester");
	c.users[0].uid = -1;
	c.users[0].authorized_keys = strdup(tu_in_dir("keys"));
	ck_assert(c.users[0].name && c.users[0].authorized_keys);

	signal_state_get(&before);
	ck_assert_int_eq(
	    pthread_create(&th, NULL, ctrl_c_while_reading, c.users[0].authorized_keys), 0);
	r = builder_build(&c, &res, &err);
	/* Had the build never opened the FIFO, the thread would wait for it for ever. */
	fd = open(c.users[0].authorized_keys, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	if (fd >= 0)
		close(fd);
	signal_state_get(&after);

	ck_assert_msg(r == -IT_EINTERRUPTED, "%d: %s", r, err.msg);
	ck_assert_str_eq(err.msg, "interrupted by SIGINT");
	ck_assert_int_eq(caller_calls, 1);
	signal_state_same(&before, &after);
	buf_init(&files, 0);
	listing(tu_in_dir("out"), &files);
	ck_assert_str_eq(files.data, "");
	buf_release(&files);
	build_result_release(&res);
	build_config_release(&c);
	restore_default_signals();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_build");
	TCase *tc = tcase_create("cancel");

	log_verbosity = LOG_QUIET;
	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_cancel_set_before, 0,
			    (int)(sizeof(cancels) / sizeof(*cancels)));
	tcase_add_test(tc, test_cancel_keeps_previous_outputs);
	tcase_add_test(tc, test_cancel_during_build);
	tcase_add_test(tc, test_cancel_unset);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
