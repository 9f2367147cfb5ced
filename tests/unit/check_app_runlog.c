// SPDX-License-Identifier: MIT
/* Tests of the capped console log writer (src/runlog.c): real files, floods of lines and bytes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "src/runlog.h"
#include "tests/unit/testutil.h"

#define NOTE_PREFIX "[initrd-test: "

/* A repeatable stream of bytes (xorshift64). */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* (Check records every ck_assert: none in the loops over bytes.) */
static void random_bytes(struct buf *b, size_t n, uint64_t seed)
{
	rng_state = seed;
	buf_init(b, 0);
	ck_assert_int_eq(buf_grow(b, n), 0);
	for (size_t i = 0; i < n; i++)
		b->data[i] = (char)(rng() & 0xff);
	b->len = n;
	b->data[n] = '\0';
}

/* Console-log-like lines "[  12.345] line N xxx\n" of 12 to ~300 bytes. */
static void text_lines(struct buf *b, size_t n, uint64_t seed)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
	int r = 0;

	rng_state = seed;
	buf_init(b, 0);
	for (unsigned i = 0; r == 0 && b->len < n; i++) {
		int len = (int)(rng() % 280);

		r = buf_addf(b, "[%4u.%03u] line %u %.*s\n", i / 1000, i % 1000, i, len, letters);
	}
	ck_assert_int_eq(r, 0);
}

static int open_log(const char *name)
{
	int fd = open(tu_in_dir(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "cannot create '%s': %s", tu_in_dir(name), strerror(errno));
	return fd;
}

/* Write data through a log capped at max, in pieces of 1 to maxchunk bytes (0: whole). */
static uint64_t write_log(const char *name, struct blob data, uint64_t max, bool lines,
			  size_t maxchunk, struct buf *file)
{
	struct runlog l;
	size_t at = 0;
	uint64_t omitted;
	int r = 0;

	runlog_init(&l, open_log(name), max, lines);
	rng_state = 42;
	while (r == 0 && at < data.len) {
		size_t n = maxchunk ? 1 + (size_t)(rng() % maxchunk) : data.len;

		if (n > data.len - at)
			n = data.len - at;
		r = runlog_write(&l, data.ptr + at, n);
		at += n;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(runlog_finish(&l), 0);
	ck_assert_uint_eq(l.offered, data.len);
	omitted = l.omitted;
	runlog_release(&l);
	tu_read_new(file, tu_in_dir(name));
	return omitted;
}

/* A capped file split at its note: head, the count the note gives, tail. */
struct split {
	struct blob head, note, tail;
	unsigned long long omitted;
};

static bool split_log(const struct buf *file, struct split *sp)
{
	const char *at = memmem(file->data, file->len, NOTE_PREFIX, strlen(NOTE_PREFIX));
	const char *end;
	char *num_end;

	memset(sp, 0, sizeof(*sp));
	if (!at)
		return false;
	end = memchr(at, '\n', file->len - (size_t)(at - file->data));
	ck_assert_ptr_nonnull(end);
	sp->head = blob_mem(file->data, (size_t)(at - file->data));
	sp->note = blob_mem(at, (size_t)(end + 1 - at));
	sp->tail = blob_mem(end + 1, file->len - (size_t)(end + 1 - file->data));
	sp->omitted = strtoull(at + strlen(NOTE_PREFIX), &num_end, 10);
	ck_assert_msg(!strncmp(num_end, " bytes left out here (--log-max ", 32), "note: %.*s",
		      (int)sp->note.len, sp->note.ptr);
	return true;
}

/* The head's length in the input: without the '\n' that the note may have put after it. */
static size_t head_in_input(const struct split *sp, struct blob in)
{
	size_t h = sp->head.len;

	if (h && sp->head.ptr[h - 1] == '\n' && in.ptr[h - 1] != '\n')
		return h - 1;
	return h;
}

static void assert_prefix(struct blob part, struct blob of)
{
	ck_assert_uint_le(part.len, of.len);
	ck_assert_msg(!memcmp(part.ptr, of.ptr, part.len), "not the start of the input");
}

static void assert_suffix(struct blob part, struct blob of)
{
	ck_assert_uint_le(part.len, of.len);
	ck_assert_msg(!memcmp(part.ptr, of.ptr + of.len - part.len, part.len),
		      "not the end of the input");
}

START_TEST(test_no_cap)
{
	struct buf in, file;
	uint64_t omitted;

	random_bytes(&in, 3 * 1024 * 1024 + 17, 1);
	omitted = write_log("nocap", buf_blob(&in), 0, false, 9000, &file);
	ck_assert_uint_eq(omitted, 0);
	ck_assert_uint_eq(file.len, in.len);
	ck_assert(!memcmp(file.data, in.data, in.len));
	buf_release(&file);
	buf_release(&in);
}
END_TEST

/* Up to the head's room plus the tail's, the file is the input, whole, with no note. */
START_TEST(test_under_cap_is_whole)
{
	const uint64_t max = 4096, tail = max / 4, room = max - tail - RUNLOG_NOTE_MAX;
	const size_t sizes[] = {0, 1, 100, room - 1, room, room + 1, room + tail - 1, room + tail};
	struct buf in, file;

	random_bytes(&in, room + tail, 2);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int lines = 0; lines < 2; lines++) {
			uint64_t omitted =
			    write_log("under", blob_mem(in.data, sizes[i]), max, lines, 300, &file);

			ck_assert_uint_eq(omitted, 0);
			ck_assert_uint_eq(file.len, sizes[i]);
			ck_assert(!sizes[i] || !memcmp(file.data, in.data, sizes[i]));
			buf_release(&file);
		}
	}
	buf_release(&in);
}
END_TEST

/* One byte over: the note says 1 and the file is at its cap. */
START_TEST(test_one_byte_over)
{
	const uint64_t max = 4096, tail = max / 4, room = max - tail - RUNLOG_NOTE_MAX;
	struct buf in, file;
	struct split sp;

	random_bytes(&in, room + tail + 1, 3);
	ck_assert_uint_eq(write_log("over", buf_blob(&in), max, false, 500, &file), 1);
	ck_assert(split_log(&file, &sp));
	ck_assert_uint_eq(sp.omitted, 1);
	ck_assert_uint_eq(sp.head.len, room + 1); /* the raw note starts with '\n' */
	ck_assert_uint_eq(sp.tail.len, tail);
	ck_assert_uint_le(file.len, max);
	buf_release(&file);
	buf_release(&in);
}
END_TEST

/* MiBs of random bytes into 64 KiB: the first bytes, the last, and the exact count between. */
START_TEST(test_raw_flood)
{
	const uint64_t max = 64 * 1024, tail = max / 4;
	struct buf in, file;
	struct split sp;
	uint64_t omitted;

	random_bytes(&in, 5 * 1024 * 1024 + 3, 4);
	omitted = write_log("raw", buf_blob(&in), max, false, 9000, &file);
	ck_assert_uint_le(file.len, max);
	ck_assert(split_log(&file, &sp));
	ck_assert_uint_eq(sp.omitted, omitted);
	/* The raw note line always starts with its own '\n'. */
	ck_assert_int_eq(sp.head.ptr[sp.head.len - 1], '\n');
	sp.head.len--;
	ck_assert_uint_eq(sp.head.len, max - tail - RUNLOG_NOTE_MAX);
	ck_assert_uint_eq(sp.tail.len, tail);
	assert_prefix(sp.head, buf_blob(&in));
	assert_suffix(sp.tail, buf_blob(&in));
	ck_assert_uint_eq(sp.head.len + sp.omitted + sp.tail.len, in.len);
	buf_release(&file);
	buf_release(&in);
}
END_TEST

/* A raw log is the same file however the bytes were cut into writes. */
START_TEST(test_raw_chunking)
{
	const size_t chunks[] = {1, 7, 4096, 70000};
	struct buf in, whole, file;

	random_bytes(&in, 1024 * 1024, 5);
	write_log("whole", buf_blob(&in), 64 * 1024, false, 0, &whole);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		write_log("chunked", buf_blob(&in), 64 * 1024, false, chunks[i], &file);
		ck_assert_uint_eq(file.len, whole.len);
		ck_assert_msg(!memcmp(file.data, whole.data, whole.len),
			      "writes of up to %zu bytes give another file", chunks[i]);
		buf_release(&file);
	}
	buf_release(&whole);
	buf_release(&in);
}
END_TEST

static void assert_whole_lines(struct blob b)
{
	struct blob rest = b, line = BLOB_NULL;
	bool ok = true;

	while (ok && blob_split(rest, '\n', &line, &rest))
		ok = line.len > 0 && line.ptr[0] == '[';
	ck_assert_msg(ok, "a broken line: '%.*s'", (int)(line.len > 60 ? 60 : line.len), line.ptr);
	ck_assert_uint_eq(rest.len, 0);
}

/* A log of lines keeps whole lines on both sides of its note, and the note is a line. */
START_TEST(test_lines_flood)
{
	const uint64_t max = 64 * 1024;
	struct buf in, file;
	struct split sp;
	struct blob rest, line;
	uint64_t omitted;

	text_lines(&in, 4 * 1024 * 1024, 6);
	/* Pieces of whole lines, as the console log writer gives them. */
	{
		struct runlog l;
		size_t at = 0;
		int r = 0;

		runlog_init(&l, open_log("lines"), max, true);
		rng_state = 7;
		while (r == 0 && at < in.len) {
			size_t end = at + 1 + (size_t)(rng() % 2000);
			const char *nl;

			if (end > in.len)
				end = in.len;
			nl = memchr(in.data + end - 1, '\n', in.len - (end - 1));
			end = (size_t)(nl - in.data) + 1;
			r = runlog_write(&l, in.data + at, end - at);
			at = end;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(runlog_finish(&l), 0);
		omitted = l.omitted;
		runlog_release(&l);
		tu_read_new(&file, tu_in_dir("lines"));
	}
	ck_assert_uint_le(file.len, max);
	ck_assert(split_log(&file, &sp));
	ck_assert_uint_eq(sp.omitted, omitted);
	ck_assert_uint_gt(sp.head.len, max / 2);
	ck_assert_uint_gt(sp.tail.len, max / 8);
	assert_whole_lines(sp.head);
	assert_whole_lines(sp.tail);
	assert_prefix(sp.head, buf_blob(&in));
	assert_suffix(sp.tail, buf_blob(&in));
	ck_assert_int_eq(in.data[in.len - sp.tail.len - 1], '\n');
	ck_assert_uint_eq(sp.head.len + sp.omitted + sp.tail.len, in.len);
	/* The file is lines: the note's own, and the others. */
	rest = buf_blob(&file);
	while (blob_split(rest, '\n', &line, &rest) && line.len > 0)
		;
	ck_assert_uint_eq(rest.len, 0);
	buf_release(&file);
	buf_release(&in);
}
END_TEST

/* One line longer than the tail: the tail is its end, cut at the byte, up to the last line. */
START_TEST(test_lines_one_long_line)
{
	const uint64_t max = 4096;
	struct buf in, file;
	struct split sp;

	buf_init(&in, 0);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(buf_addf(&in, "[   0.%03d] boot line %d\n", i, i), 0);
	for (int i = 0; i < 20000; i++)
		ck_assert_int_eq(buf_addstr(&in, "0123456789"), 0);
	ck_assert_int_eq(buf_addstr(&in, "END\n"), 0);
	write_log("long", buf_blob(&in), max, true, 700, &file);
	ck_assert_uint_le(file.len, max);
	ck_assert(split_log(&file, &sp));
	ck_assert_uint_eq(sp.tail.len, max / 4);
	assert_suffix(sp.tail, buf_blob(&in));
	sp.head.len = head_in_input(&sp, buf_blob(&in));
	assert_prefix(sp.head, buf_blob(&in));
	ck_assert_uint_ge(sp.head.len, 40 * 20);
	ck_assert_uint_eq(sp.head.len + sp.omitted + sp.tail.len, in.len);
	buf_release(&file);
	buf_release(&in);
}
END_TEST

/* A full disk: the first error comes back from every later call, and from the finish. */
START_TEST(test_write_errors)
{
	struct runlog l;
	struct buf in;
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC);

	ck_assert_msg(full >= 0, "cannot open /dev/full: %s", strerror(errno));
	random_bytes(&in, 100000, 8);
	runlog_init(&l, full, 4096, false);
	ck_assert_int_eq(runlog_write(&l, in.data, 10), -ENOSPC);
	ck_assert_int_eq(runlog_write(&l, in.data, 10), -ENOSPC);
	ck_assert_int_eq(runlog_finish(&l), -ENOSPC);
	runlog_release(&l);

	/* The head fits, the disk fills up before the tail is written. */
	runlog_init(&l, open_log("late"), 4096, true);
	ck_assert_int_eq(runlog_write(&l, in.data, in.len), 0);
	full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(full, 0);
	ck_assert_int_ge(dup3(full, l.fd, O_CLOEXEC), 0);
	close(full);
	ck_assert_int_eq(runlog_finish(&l), -ENOSPC);
	ck_assert_int_eq(runlog_finish(&l), -ENOSPC);
	runlog_release(&l);
	buf_release(&in);
}
END_TEST

START_TEST(test_finish_once)
{
	struct runlog l;
	struct buf in, file;

	random_bytes(&in, 50000, 9);
	runlog_init(&l, open_log("once"), 4096, false);
	ck_assert_int_eq(runlog_write(&l, in.data, in.len), 0);
	ck_assert_int_eq(runlog_finish(&l), 0);
	ck_assert_int_eq(runlog_finish(&l), 0);
	ck_assert_int_eq(runlog_write(&l, in.data, 1), -EINVAL);
	runlog_release(&l);
	tu_read_new(&file, tu_in_dir("once"));
	ck_assert_uint_le(file.len, 4096);
	buf_release(&file);
	buf_release(&in);
}
END_TEST

/* Without a file the bytes are still counted; a tiny cap is raised to the minimum. */
START_TEST(test_no_file_and_min)
{
	struct runlog l;
	struct buf in;

	random_bytes(&in, 10000, 10);
	runlog_init(&l, -1, 100, false);
	ck_assert_uint_eq(l.max, RUNLOG_MIN_MAX);
	ck_assert_int_eq(runlog_write(&l, in.data, in.len), 0);
	ck_assert_int_eq(runlog_finish(&l), 0);
	ck_assert_uint_eq(l.omitted, in.len - l.head - RUNLOG_MIN_MAX / 4);
	runlog_release(&l);
	buf_release(&in);
}
END_TEST

/* A log that cannot be made: the error names the file; the log still holds none. */
START_TEST(test_open_fails)
{
	struct it_error err = IT_ERROR_INIT;
	struct runlog l;
	char want[512];

	runlog_init(&l, -1, 0, false);
	ck_assert_int_eq(runlog_open(&l, tu_in_dir("missing"), "console.raw", 4096, false, &err),
			 -ENOENT);
	snprintf(want, sizeof(want), "cannot write '%s/console.raw': %s", tu_in_dir("missing"),
		 strerror(ENOENT));
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(l.fd, -1);
	ck_assert_int_eq(runlog_open(&l, tu_dir, "console.raw", 4096, false, &err), 0);
	ck_assert_int_ge(l.fd, 0);
	ck_assert_uint_eq(l.max, 4096);
	runlog_release(&l);
	ck_assert_int_eq(l.fd, -1);
}
END_TEST

START_TEST(test_parse_size)
{
	static const struct {
		const char *s;
		bool ok;
		uint64_t v;
	} cases[] = {
	    {"0", true, 0},
	    {"4096", true, 4096},
	    {"4K", true, 4096},
	    {"512k", true, 512 * 1024},
	    {"64M", true, 64ULL << 20},
	    {"1g", true, 1ULL << 30},
	    {"16777216G", true, 16777216ULL << 30},
	    {"4095", false, 0},
	    {"1K", false, 0},
	    {"", false, 0},
	    {"M", false, 0},
	    {"-1", false, 0},
	    {"+64M", false, 0},
	    {" 64M", false, 0},
	    {"64M ", false, 0},
	    {"64MB", false, 0},
	    {"64T", false, 0},
	    {"1.5M", false, 0},
	    {"99999999999999999999", false, 0},
	    {"17179869184G", false, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		bool ok = runlog_parse_size(cases[i].s, &v);

		ck_assert_msg(ok == cases[i].ok, "'%s': %s", cases[i].s, ok ? "taken" : "refused");
		if (ok)
			ck_assert_uint_eq(v, cases[i].v);
		else
			ck_assert_uint_eq(v, 12345);
	}
}
END_TEST

static Suite *runlog_suite(void)
{
	Suite *s = suite_create("runlog");
	TCase *tc = tcase_create("runlog");

	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_no_cap);
	tcase_add_test(tc, test_under_cap_is_whole);
	tcase_add_test(tc, test_one_byte_over);
	tcase_add_test(tc, test_raw_flood);
	tcase_add_test(tc, test_raw_chunking);
	tcase_add_test(tc, test_lines_flood);
	tcase_add_test(tc, test_lines_one_long_line);
	tcase_add_test(tc, test_write_errors);
	tcase_add_test(tc, test_finish_once);
	tcase_add_test(tc, test_no_file_and_min);
	tcase_add_test(tc, test_open_fails);
	tcase_add_test(tc, test_parse_size);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(runlog_suite());
}
