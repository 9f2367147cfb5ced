// SPDX-License-Identifier: MIT
/* Unit tests for common/: buffers with caps, blobs, errors, parsers, whole writes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "common/util.h"
#include "tests/unit/testutil.h"

START_TEST(test_buf_cap)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_addstr(&b, "12345678"), 0);
	ck_assert_int_eq(buf_addch(&b, 'x'), -IT_ELIMIT);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_str_eq(b.data, "12345678");
	buf_consume(&b, 3);
	ck_assert_str_eq(b.data, "45678");
	ck_assert_int_eq(buf_addf(&b, "%d", 12), 0);
	ck_assert_str_eq(b.data, "4567812");
	buf_release(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
}
END_TEST

START_TEST(test_blob)
{
	struct blob h, r;
	unsigned long long v;

	ck_assert(blob_split(blob_str("P:busybox"), ':', &h, &r));
	ck_assert(blob_eq_str(h, "P"));
	ck_assert(blob_eq_str(r, "busybox"));
	ck_assert(!blob_split(blob_str("nocolon"), ':', &h, &r));
	ck_assert(blob_to_u64(blob_str("18446744073709551615"), &v));
	ck_assert(!blob_to_u64(blob_str("18446744073709551616"), &v));
	ck_assert(!blob_to_u64(blob_str("12a"), &v));
}
END_TEST

START_TEST(test_error_keeps_first)
{
	struct it_error e = IT_ERROR_INIT;

	ck_assert_int_eq(it_error_set(&e, -IT_EHTTP, "cannot fetch '%s': HTTP %d", "u", 404),
			 -IT_EHTTP);
	ck_assert_int_eq(it_error_set(&e, -ENOMEM, "later"), -ENOMEM);
	ck_assert_str_eq(e.msg, "cannot fetch 'u': HTTP 404");
	ck_assert_int_eq(e.code, -IT_EHTTP);
	ck_assert_str_eq(it_strerror(-IT_ECHECKSUM), "checksum mismatch");
	ck_assert_str_eq(it_strerror(-ENOENT), "No such file or directory");
	it_error_clear(&e);
	it_error_set(&e, -IT_EPATH, "'%s' in 'x.apk': unsafe path", "a\nforged\x1b[2J");
	ck_assert_str_eq(e.msg, "'a?forged?[2J' in 'x.apk': unsafe path");
}
END_TEST

START_TEST(test_parsers)
{
	int64_t ms;
	long v;

	ck_assert(parse_duration_ms("15", &ms) && ms == 15000);
	ck_assert(parse_duration_ms("500ms", &ms) && ms == 500);
	ck_assert(parse_duration_ms("2m", &ms) && ms == 120000);
	ck_assert(!parse_duration_ms("2 weeks", &ms));
	ck_assert(!parse_duration_ms("nan", &ms));
	ck_assert(!parse_duration_ms("inf", &ms));
	ck_assert(!parse_duration_ms("-1", &ms));
	ck_assert(!parse_duration_ms("1e300", &ms));
	ck_assert(parse_size_mib("1G", &v) && v == 1024);
	ck_assert(!parse_size_mib("-5", &v));
	ck_assert(!parse_long("12x", 0, 100, &v));
	/* The two share one strtol: empty, no digits, overflow and suffixes. */
	ck_assert(parse_long("42", 0, 100, &v) && v == 42);
	ck_assert(!parse_long("", 0, 100, &v));
	ck_assert(!parse_long(NULL, 0, 100, &v));
	ck_assert(!parse_long("+", 0, 100, &v));
	ck_assert(!parse_long("101", 0, 100, &v));
	ck_assert(!parse_long("99999999999999999999", 0, LONG_MAX, &v));
	ck_assert(parse_size_mib("512", &v) && v == 512);
	ck_assert(parse_size_mib("512MiB", &v) && v == 512);
	ck_assert(!parse_size_mib("", &v));
	ck_assert(!parse_size_mib("M", &v));
	ck_assert(!parse_size_mib("0", &v));
	ck_assert(!parse_size_mib("5T", &v));
	ck_assert(!parse_size_mib("99999999999999999999", &v));
	ck_assert_int_eq(hex_digit_value('0'), 0);
	ck_assert_int_eq(hex_digit_value('9'), 9);
	ck_assert_int_eq(hex_digit_value('a'), 10);
	ck_assert_int_eq(hex_digit_value('F'), 15);
	ck_assert_int_eq(hex_digit_value('g'), -1);
	ck_assert_int_eq(hex_digit_value('/'), -1);
	ck_assert_int_eq(hex_digit_value('\0'), -1);
}
END_TEST

/* Everything is written, or the write's error comes back; write_file_atomic() relies on it. */
START_TEST(test_fd_write_all)
{
	static char big[3 << 20];
	struct buf b = BUF_INIT;
	int fd;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 4093);
	fd = open(tu_in_dir("big"), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fd_write_all(fd, big, sizeof(big)), 0);
	ck_assert_int_eq(fd_write_all(fd, big, 0), 0);
	ck_assert_int_eq(close(fd), 0);
	tu_read_file(&b, tu_in_dir("big"));
	ck_assert_uint_eq(b.len, sizeof(big));
	ck_assert(!memcmp(b.data, big, sizeof(big)));
	fd = open(tu_in_dir("big"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fd_write_all(fd, "x", 1), -EBADF);
	close(fd);
	ck_assert_int_eq(fd_write_all(-1, "x", 1), -EBADF);
	buf_release(&b);
}
END_TEST

/* Interrupt signals: an ignored one is left out; pending ones are taken, the first returned. */
/* buf_send: all of it when the socket takes it, what fits when full, -EPIPE once the peer left. */
START_TEST(test_buf_send)
{
	static char big[1 << 20];
	char got[64];
	struct buf b;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	buf_init(&b, 0);
	buf_addstr(&b, "hello");
	ck_assert_int_eq(buf_send(&b, sv[0]), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(read(sv[1], got, sizeof(got)), 5);
	ck_assert(!memcmp(got, "hello", 5));
	/* More than the socket holds: it stops without blocking, the rest kept in order. */
	ck_assert_int_eq(buf_add(&b, big, sizeof(big)), 0);
	ck_assert_int_eq(buf_send(&b, sv[0]), 0);
	ck_assert_uint_gt(b.len, 0);
	ck_assert_uint_lt(b.len, sizeof(big));
	close(sv[1]);
	ck_assert_int_eq(buf_send(&b, sv[0]), -EPIPE);
	close(sv[0]);
	buf_release(&b);
}
END_TEST

START_TEST(test_deadline_earliest)
{
	ck_assert_int_eq(deadline_earliest(-1, -1), -1);
	ck_assert_int_eq(deadline_earliest(-1, 5), 5);
	ck_assert_int_eq(deadline_earliest(7, -1), 7);
	ck_assert_int_eq(deadline_earliest(7, 5), 5);
	ck_assert_int_eq(deadline_earliest(0, 5), 0);
}
END_TEST

START_TEST(test_interrupt_signals)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int;
	sigset_t set, old_mask;

	sigemptyset(&set);
	add_interrupt_signals(&set);
	ck_assert(sigismember(&set, SIGINT));
	ck_assert(sigismember(&set, SIGTERM));
	ck_assert(!sigismember(&set, SIGCHLD));

	ck_assert_int_eq(sigaction(SIGINT, &ign, &old_int), 0);
	sigemptyset(&set);
	add_interrupt_signals(&set);
	ck_assert(!sigismember(&set, SIGINT));
	ck_assert(sigismember(&set, SIGTERM));
	ck_assert_int_eq(sigaction(SIGINT, &old_int, NULL), 0);

	sigemptyset(&set);
	add_interrupt_signals(&set);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &set, &old_mask), 0);
	ck_assert_int_eq(take_pending_signals(&set), 0);
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	ck_assert_int_eq(kill(getpid(), SIGINT), 0);
	/* Both pending: both taken, the lower-numbered one first (Linux delivers in order). */
	ck_assert_int_eq(take_pending_signals(&set), SIGINT);
	ck_assert_int_eq(take_pending_signals(&set), 0);
	ck_assert_int_eq(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
}
END_TEST

START_TEST(test_strlist)
{
	struct strlist l = STRLIST_INIT;

	strlist_add(&l, "b");
	strlist_addf(&l, "%s", "a");
	strlist_sort(&l);
	ck_assert_str_eq(l.v[0], "a");
	ck_assert_ptr_null(l.v[2]);
	ck_assert(strlist_has(&l, "b"));
	strlist_clear(&l);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

START_TEST(test_strlist_addl)
{
	struct strlist l = STRLIST_INIT;

	ck_assert_int_eq(strlist_add(&l, "qemu"), 0);
	ck_assert_int_eq(strlist_addl(&l, "-m", "512", "-display", "none"), 0);
	ck_assert_int_eq(strlist_addl(&l, "-no-reboot"), 0);
	ck_assert_uint_eq(l.n, 6);
	ck_assert_str_eq(l.v[1], "-m");
	ck_assert_str_eq(l.v[4], "none");
	ck_assert_str_eq(l.v[5], "-no-reboot");
	ck_assert_ptr_null(l.v[6]);
	strlist_clear(&l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("core");
	TCase *files;

	tcase_add_test(tc, test_buf_cap);
	tcase_add_test(tc, test_blob);
	tcase_add_test(tc, test_error_keeps_first);
	tcase_add_test(tc, test_parsers);
	tcase_add_test(tc, test_strlist);
	tcase_add_test(tc, test_strlist_addl);
	tcase_add_test(tc, test_interrupt_signals);
	tcase_add_test(tc, test_buf_send);
	tcase_add_test(tc, test_deadline_earliest);
	suite_add_tcase(s, tc);
	files = tcase_create("files");
	tcase_add_checked_fixture(files, tu_tmp_setup, tu_tmp_teardown);
	tcase_add_test(files, test_fd_write_all);
	suite_add_tcase(s, files);
	return tu_run_suite(s);
}
