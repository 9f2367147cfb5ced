// SPDX-License-Identifier: MIT
/*
 * Matcher throughput: builds a large console log from a real boot with a
 * scenario's expectations spread through it (the last at the very end),
 * writes it and the patterns for bench/expect_pexpect.py, then times the
 * expect engine reading that file as it would read a pty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "expect/expect.h"
#include "scenario/scenario.h"

#define CHUNK 4096 /* a pty read; pexpect gets the same maxread */
#define MIB (1024.0 * 1024.0)

/* The engine's built-in fail patterns (expect/expect.c), which pexpect must try too. */
static const struct {
	const char *pattern;
	bool literal;
} builtin_fails[] = {
    {"Kernel panic", true},
    {": [0-9a-fx]+ \\[#[0-9]+\\]", false},
    {"can't run '/etc/init.d/rcS'", true},
    {"^ \\* ERROR:", false},
};

struct line {
	const char *p;
	size_t n; /* with its '\n', if any */
};

/*
 * CPU time of this process: on a busy machine the wall clock of a run shorter
 * than a second mostly measures the scheduler; both sides report both.
 */
static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: expect-throughput [-s MIB] SCENARIO RAWLOG WORKDIR\n"
			"  SCENARIO: expect steps and fail patterns only (no send);\n"
			"  RAWLOG: a raw console in which every step matches once;\n"
			"  writes WORKDIR/console.raw and WORKDIR/patterns.json\n");
	return 2;
}

static int fail(const char *what, const char *path, int code)
{
	fprintf(stderr, "expect-throughput: %s '%s': %s\n", what, path, it_strerror(code));
	return 1;
}

static void json_string(struct buf *b, const char *s)
{
	buf_addch(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			buf_addf(b, "\\u%04x", (unsigned char)*s);
		else
			buf_addch(b, *s);
	}
	buf_addch(b, '"');
}

/*
 * {"expect": [[literal, pattern], ...], "fail": [...], "ends": [...]}: what
 * pexpect runs, in order, and where each step's match must end.
 */
static int write_patterns(const struct scenario *s, const size_t *end, const char *path)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	buf_addstr(&b, "{\"expect\": [");
	for (size_t i = 0; i < s->nsteps; i++) {
		buf_addf(&b, "%s[%s, ", i ? ", " : "", s->steps[i].literal ? "true" : "false");
		json_string(&b, s->steps[i].text);
		buf_addch(&b, ']');
	}
	buf_addstr(&b, "],\n \"fail\": [");
	for (size_t i = 0; i < ARRAY_SIZE(builtin_fails); i++) {
		buf_addf(&b, "%s[%s, ", i ? ", " : "", builtin_fails[i].literal ? "true" : "false");
		json_string(&b, builtin_fails[i].pattern);
		buf_addch(&b, ']');
	}
	for (size_t i = 0; i < s->nfails; i++) {
		buf_addf(&b, ", [%s, ", s->fails[i].literal ? "true" : "false");
		json_string(&b, s->fails[i].pattern);
		buf_addch(&b, ']');
	}
	buf_addstr(&b, "],\n \"ends\": [");
	for (size_t i = 0; i < s->nsteps; i++)
		buf_addf(&b, "%s%zu", i ? ", " : "", end[i]);
	buf_addstr(&b, "]}\n");
	r = write_file_atomic(path, b.data, b.len, 0644);
	buf_release(&b);
	return r;
}

static int new_engine(const struct scenario *s, struct expect **e)
{
	struct it_error err = IT_ERROR_INIT;
	int r = expect_new(e);

	if (r == 0)
		r = scenario_to_expect(s, *e, &err);
	if (r < 0)
		fprintf(stderr, "expect-throughput: %s\n", err.msg[0] ? err.msg : it_strerror(r));
	return r;
}

/* Which line of the boot makes each step match: the engine itself tells, one line at a time. */
static int find_markers(const struct scenario *s, const struct line *lines, size_t nlines,
			size_t *marker)
{
	struct expect *e = NULL;
	size_t done = 0;
	int r = new_engine(s, &e);

	if (r < 0)
		return r;
	expect_start(e, 0);
	for (size_t i = 0; i < nlines && done < s->nsteps; i++) {
		expect_feed(e, lines[i].p, lines[i].n, 0);
		for (; done < s->nsteps && expect_step(e, done)->status == EXPECT_STEP_PASSED;
		     done++)
			marker[done] = i;
	}
	if (expect_state(e) != EXPECT_PASSED) {
		fprintf(stderr,
			"expect-throughput: the log does not pass the scenario (stopped at "
			"step %zu)\n",
			done + 1);
		r = -IT_EFAIL;
	}
	expect_free(e);
	return r;
}

static bool is_marker(const size_t *marker, size_t n, size_t line)
{
	for (size_t i = 0; i < n; i++) {
		if (marker[i] == line)
			return true;
	}
	return false;
}

/*
 * Filler (the boot without its marker lines) repeated up to 'size' bytes;
 * marker k goes in after (k + 1) / nsteps of it, so the last one ends the
 * input. end[k] gets the offset just after step k's marker line.
 */
static int build_input(const struct scenario *s, const struct line *lines, size_t nlines,
		       const size_t *marker, size_t size, struct buf *out, size_t *end)
{
	size_t i = 0, filler = 0;
	int r = 0;

	for (size_t k = 0; k < nlines; k++)
		filler += is_marker(marker, s->nsteps, k) ? 0 : lines[k].n;
	if (filler == 0)
		return -IT_EFORMAT;
	for (size_t k = 0; k < s->nsteps && r == 0; k++) {
		size_t m = marker[k];
		size_t due = (size_t)((double)size * (double)(k + 1) / (double)s->nsteps);

		if (k > 0 && marker[k - 1] == m) {
			end[k] = end[k - 1]; /* matched on the line of the step before */
			continue;
		}
		while (r == 0 && out->len + lines[m].n < due) {
			if (!is_marker(marker, s->nsteps, i))
				r = buf_add(out, lines[i].p, lines[i].n);
			i = (i + 1) % nlines;
		}
		if (r == 0)
			r = buf_add(out, lines[m].p, lines[m].n);
		end[k] = out->len;
	}
	return r;
}

/*
 * Feed the file through an engine in pty-sized reads; 0 when every step
 * matched at the end. secs[0]: wall clock, secs[1]: CPU time, reads included.
 */
static int time_engine(const struct scenario *s, const char *path, const size_t *end, size_t *bytes,
		       double secs[2], size_t *mem)
{
	char chunk[CHUNK];
	struct expect *e = NULL;
	int64_t t0, t1, c0, c1;
	size_t total = 0, done = 0, misplaced = 0;
	int fd = -1, r, st = EXPECT_RUNNING, before_last = EXPECT_RUNNING;

	r = new_engine(s, &e);
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	t0 = now_ns();
	c0 = cpu_ns();
	expect_start(e, now_ms());
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		before_last = st;
		st = expect_feed(e, chunk, (size_t)n, now_ms());
		total += (size_t)n;
		expect_output_consume(e, expect_output(e).len);
		/* Each step must match in the read that holds the end of its marker line. */
		for (; done < s->nsteps && expect_step(e, done)->status == EXPECT_STEP_PASSED;
		     done++)
			misplaced += end[done] > total || end[done] + CHUNK <= total;
	}
	t1 = now_ns();
	c1 = cpu_ns();
	*bytes = total;
	secs[0] = (double)(t1 - t0) / 1e9;
	secs[1] = (double)(c1 - c0) / 1e9;
	*mem = expect_mem_size(e);
	if (st != EXPECT_PASSED || before_last != EXPECT_RUNNING || misplaced) {
		fprintf(stderr, "expect-throughput: the engine %s\n",
			st != EXPECT_PASSED		? "did not pass"
			: before_last != EXPECT_RUNNING ? "passed before the last read"
							: "matched a step away from its marker");
		r = -IT_EFAIL;
	}
out:
	if (fd >= 0)
		close(fd);
	expect_free(e);
	return r;
}

/* The scenario, which must only expect: a send step would wait for a guest there is not. */
static int load_scenario(struct scenario *s, const char *path)
{
	struct it_error err = IT_ERROR_INIT;
	int r = scenario_load(s, path, &err);

	if (r < 0) {
		fprintf(stderr, "expect-throughput: %s\n", err.msg);
		return r;
	}
	for (size_t i = 0; i < s->nsteps; i++) {
		if (s->steps[i].kind == SCENARIO_STEP_SEND) {
			fprintf(stderr, "expect-throughput: %s: send steps cannot be benchmarked\n",
				s->steps[i].where);
			return -IT_EUSAGE;
		}
	}
	return 0;
}

/* The lines of raw, each with its '\n'; *lines is the caller's to free. */
static int split_lines(const struct buf *raw, struct line **lines, size_t *nlines)
{
	*nlines = 0;
	*lines = calloc(raw->len + 1, sizeof(**lines));
	if (!*lines)
		return -ENOMEM;
	for (size_t i = 0; i < raw->len;) {
		const char *nl = memchr(raw->data + i, '\n', raw->len - i);
		size_t n = nl ? (size_t)(nl - raw->data) - i + 1 : raw->len - i;

		(*lines)[(*nlines)++] = (struct line){raw->data + i, n};
		i += n;
	}
	return 0;
}

/* WORKDIR/console.raw and WORKDIR/patterns.json, for both sides to read. */
static int write_work_files(const struct scenario *s, const struct buf *input, const size_t *end,
			    const char *workdir)
{
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/console.raw", workdir);
	r = write_file_atomic(path, input->data, input->len, 0644);
	if (r == 0) {
		snprintf(path, sizeof(path), "%s/patterns.json", workdir);
		r = write_patterns(s, end, path);
	}
	if (r < 0)
		fail("cannot write", path, r);
	return r;
}

int main(int argc, char **argv)
{
	struct scenario s;
	struct buf raw, input;
	struct line *lines = NULL;
	size_t *marker = NULL, *end = NULL, nlines = 0, bytes = 0, mem = 0;
	long mib = 50;
	double secs[2] = {0, 0};
	const char *rawlog, *workdir;
	char path[4096];
	int opt, r, ret = 1;

	while ((opt = getopt(argc, argv, "s:")) != -1) {
		if (opt != 's' || !parse_long(optarg, 1, 4096, &mib))
			return usage();
	}
	if (argc - optind != 3)
		return usage();
	rawlog = argv[optind + 1];
	workdir = argv[optind + 2];
	scenario_init(&s);
	buf_init(&raw, 0);
	buf_init(&input, 0);
	if (load_scenario(&s, argv[optind]) < 0)
		goto out;
	r = buf_read_file(&raw, rawlog);
	if (r < 0) {
		ret = fail("cannot read", rawlog, r);
		goto out;
	}
	marker = calloc(s.nsteps + 1, sizeof(*marker));
	end = calloc(s.nsteps + 1, sizeof(*end));
	if (!marker || !end || split_lines(&raw, &lines, &nlines) < 0)
		goto out;
	if (find_markers(&s, lines, nlines, marker) < 0)
		goto out;
	r = build_input(&s, lines, nlines, marker, (size_t)mib * 1024 * 1024, &input, end);
	if (r < 0 || write_work_files(&s, &input, end, workdir) < 0)
		goto out;
	printf("input: %.1f MiB of %s, %zu steps, %zu fail patterns\n", (double)input.len / MIB,
	       rawlog, s.nsteps, ARRAY_SIZE(builtin_fails) + s.nfails);
	buf_release(&input);
	snprintf(path, sizeof(path), "%s/console.raw", workdir);
	if (time_engine(&s, path, end, &bytes, secs, &mem) < 0)
		goto out;
	printf("initrd-test expect: %.1f MiB in %.3f s: %.1f MiB/s; cpu %.3f s: %.1f MiB/s "
	       "(engine memory %zu KiB)\n",
	       (double)bytes / MIB, secs[0], (double)bytes / MIB / secs[0], secs[1],
	       (double)bytes / MIB / secs[1], mem / 1024);
	ret = 0;
out:
	free(lines);
	free(marker);
	free(end);
	buf_release(&input);
	buf_release(&raw);
	scenario_release(&s);
	return ret;
}
