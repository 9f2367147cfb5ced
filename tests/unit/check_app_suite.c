// SPDX-License-Identifier: MIT
/*
 * Unit tests for the suite rooms: reports read back (src/result_json.c), discovery and shards
 * (src/suite_list.c), retries, budgets and baselines (src/policy.c), merged reports, shared
 * builds (src/image.c) and artifacts (src/artifacts.c).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "common/util.h"
#include "expect/expect.h"
#include "src/artifacts.h"
#include "src/policy.h"
#include "src/result.h"
#include "src/run.h"
#include "scenario/scenario.h"
#include "src/suite.h"
#include "tests/unit/testutil.h"

#define SUITE_DATA "tests/data/suite"
#define REPORT_DATA "tests/data/report"

/* Write text to TMPDIR/name, making its directories. */
static void put_file(const char *name, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX], *slash;

	tu_path(path, sizeof(path), name);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* A report with runs given as JSON objects: "{...},{...}", parsed into s (emptied first). */
static void report_of(const char *runs, struct result_set *s)
{
	struct it_error e = IT_ERROR_INIT;
	char text[8192];

	snprintf(text, sizeof(text),
		 "{\"format\": \"initrd-test-report\", \"version\": 1, \"runs\": [%s]}", runs);
	result_set_release(s);
	ck_assert_msg(result_json_parse(s, blob_str(text), "t.json", &e) == 0, "%s", e.msg);
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* Text that is not JSON: jansson's words, with the file, line and column. */
START_TEST(test_json_errors)
{
	static const struct {
		const char *text, *where;
	} cases[] = {
	    {"", "line 1, column "},
	    {"{\"a\": 1,\n \"b\" 2}", "line 2, column "},
	    {"[1 2]", "line 1, column "},
	    {"{\"a\": 1", "line 1, column "},
	    {"\"abc", "line 1, column "},
	    {"{\"a\": \"x\ny\"}", "line 1, column "},
	    {"{\"a\": \"\\q\"}", "line 1, column "},
	    {"{\"a\": \"\\u0000\"}", "line 1, column "},
	    {"{} {}", "line 1, column "},
	    {"{1: 2}", "line 1, column "},
	    {"{\"format\": \"\xff\"}", "line 1, column "},
	};
	struct result_set s;

	result_set_init(&s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct it_error e = IT_ERROR_INIT;

		ck_assert_int_eq(result_json_parse(&s, blob_str(cases[i].text), "t.json", &e),
				 -IT_EFORMAT);
		ck_assert_msg(!strncmp(e.msg, "cannot parse 't.json': ", 23), "%s", e.msg);
		ck_assert_msg(strstr(e.msg, cases[i].where), "%s: %s", cases[i].text, e.msg);
		/* The reason is there after the place, on one line. */
		ck_assert_ptr_null(strchr(e.msg, '\n'));
		ck_assert_uint_gt(strlen(strstr(e.msg, "column ")), strlen("column 1: x"));
		ck_assert_uint_eq(s.n, 0); /* nothing half-read is left */
	}
	result_set_release(&s);
}
END_TEST

/* The JSON that the result model writes reads back: the real recorded reports. */
START_TEST(test_json_reads_reports)
{
	struct it_error e = IT_ERROR_INIT;
	struct result_set s;
	const struct result_run *r;
	struct buf again, file;

	result_set_init(&s);
	ck_assert_msg(result_json_load(&s, REPORT_DATA "/pass.json", &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(s.n, 1);
	r = &s.runs[0];
	ck_assert_int_eq(r->verdict, RUN_PASSED);
	ck_assert_uint_eq(r->nmilestones, 6);
	ck_assert_str_eq(r->milestones[4].name, "lease");
	ck_assert_int_eq(r->milestones[4].at_ms, 14731);
	ck_assert_ptr_nonnull(strstr(r->console_tail, "alpine-test login: "));
	/* Written again, byte for byte the same file. */
	buf_init(&again, 0);
	ck_assert_int_eq(result_json(&s, &again), 0);
	tu_read_new(&file, REPORT_DATA "/pass.json");
	ck_assert_uint_eq(again.len, file.len);
	ck_assert(!memcmp(again.data, file.data, file.len));
	buf_release(&again);
	buf_release(&file);
	result_set_release(&s);
	ck_assert_int_eq(result_json_load(&s, "tests/data/no-such.json", &e), -ENOENT);
	ck_assert_str_eq(e.msg,
			 "cannot read report 'tests/data/no-such.json': No such file or directory");
}
END_TEST

/* ---- discovery ---------------------------------------------------------------------------- */

static void assert_ids(const struct suite_list *l, const char *const *ids, size_t n)
{
	ck_assert_uint_eq(l->n, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(l->v[i].id, ids[i]);
}

START_TEST(test_discover_trees)
{
	static const char *const suite_ids[] = {"boot", "fail-pattern", "over-budget",
						"step-timeout"};
	static const char *const shipped[] = {"minimal", "networking", "no-e1000", "services"};
	const char *paths[2] = {SUITE_DATA, NULL};
	struct it_error e = IT_ERROR_INIT;
	struct suite_list l;

	suite_list_init(&l);
	ck_assert_msg(suite_discover(paths, 1, &l, &e) == 0, "%s", e.msg);
	assert_ids(&l, suite_ids, 4);
	ck_assert_str_eq(l.v[0].dir, SUITE_DATA "/boot");
	ck_assert_int_eq(l.v[0].memory_mib, 512);
	/* 'common' has no steps: a base, left out. */
	ck_assert_uint_eq(l.skipped.n, 1);
	ck_assert_str_eq(l.skipped.v[0], "common");
	suite_list_release(&l);

	paths[0] = "scenarios/";
	ck_assert_msg(suite_discover(paths, 1, &l, &e) == 0, "%s", e.msg);
	assert_ids(&l, shipped, 4);
	ck_assert(strlist_has(&l.skipped, "base"));
	suite_list_release(&l);

	/* Named directly, a scenario is run even without steps, under its directory's name. */
	paths[0] = "scenarios/base";
	paths[1] = SUITE_DATA "/boot/scenario";
	ck_assert_msg(suite_discover(paths, 2, &l, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(l.v[0].id, "base");
	ck_assert_str_eq(l.v[1].id, "boot");
	ck_assert(suite_is_scenario("scenarios/base"));
	ck_assert(!suite_is_scenario("scenarios"));
	suite_list_release(&l);
}
END_TEST

START_TEST(test_discover_nested_and_errors)
{
	static const char *const ids[] = {"a/x", "a/y", "b/deep/x", "broken"};
	const char *paths[2];
	char root[PATH_MAX], other[PATH_MAX];
	struct it_error e = IT_ERROR_INIT;
	struct suite_list l;

	put_file("tree/a/x/scenario", "packages alpine-base\nexpect x /x/\n");
	put_file("tree/a/y/scenario", "packages alpine-base\nvm memory 1G\nexpect y /y/\n");
	/* Not searched below a scenario: its rootfs may hold anything. */
	put_file("tree/a/y/rootfs/z/scenario", "packages alpine-base\nexpect z /z/\n");
	put_file("tree/b/deep/x/scenario", "packages alpine-base\nexpect x /x/\n");
	put_file("tree/b/base/scenario", "packages alpine-base\n");
	put_file("tree/.hidden/h/scenario", "packages alpine-base\nexpect h /h/\n");
	/* One that does not load is kept, for its run to say why. */
	put_file("tree/broken/scenario", "pacakges alpine-base\n");
	put_file("tree/notes.txt", "not a scenario\n");
	tu_path(root, sizeof(root), "tree");
	paths[0] = root;
	suite_list_init(&l);
	ck_assert_msg(suite_discover(paths, 1, &l, &e) == 0, "%s", e.msg);
	assert_ids(&l, ids, 4);
	ck_assert_int_eq(l.v[1].memory_mib, 1024);
	ck_assert_int_eq(l.v[3].memory_mib, 0);
	ck_assert_uint_eq(l.skipped.n, 1);
	ck_assert_str_eq(l.skipped.v[0], "b/base");
	suite_list_release(&l);

	/* Two scenarios with one name cannot share an out dir. */
	put_file("other/boot/scenario", "packages alpine-base\nexpect x /x/\n");
	tu_path(other, sizeof(other), "other");
	paths[0] = SUITE_DATA;
	paths[1] = other;
	ck_assert_int_eq(suite_discover(paths, 2, &l, &e), -IT_EUSAGE);
	ck_assert_ptr_nonnull(strstr(e.msg, "two scenarios named 'boot'"));
	ck_assert_ptr_nonnull(strstr(e.msg, SUITE_DATA "/boot"));
	suite_list_release(&l);

	it_error_clear(&e);
	paths[0] = "tests/data/suite/no-such-dir";
	ck_assert_int_eq(suite_discover(paths, 1, &l, &e), -IT_EUSAGE);
	ck_assert_str_eq(e.msg, "no scenario or directory 'tests/data/suite/no-such-dir'");
	suite_list_release(&l);

	it_error_clear(&e);
	put_file("empty/b/base/scenario", "packages alpine-base\n");
	tu_path(root, sizeof(root), "empty");
	paths[0] = root;
	ck_assert_int_eq(suite_discover(paths, 1, &l, &e), -IT_EUSAGE);
	ck_assert_ptr_nonnull(strstr(e.msg, "no scenario with steps under"));
	ck_assert_ptr_nonnull(strstr(e.msg, "(only bases)"));
	suite_list_release(&l);
}
END_TEST

/* ---- shards ------------------------------------------------------------------------------- */

START_TEST(test_shard_parse)
{
	static const char *const bad[] = {"0/3", "4/3", "a/b",	"3",	"1/0",
					  "/3",	 "1/",	"-1/3", "1/3x", "1/1001"};
	struct it_error e = IT_ERROR_INIT;
	struct suite_shard sh;

	ck_assert_int_eq(suite_shard_parse("2/3", &sh, &e), 0);
	ck_assert_uint_eq(sh.index, 2);
	ck_assert_uint_eq(sh.count, 3);
	ck_assert_int_eq(suite_shard_parse("1/1", &sh, &e), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		it_error_clear(&e);
		ck_assert_int_eq(suite_shard_parse(bad[i], &sh, &e), -IT_EUSAGE);
		ck_assert_ptr_nonnull(strstr(e.msg, "bad --shard '"));
		ck_assert_ptr_nonnull(strstr(e.msg, bad[i]));
	}
}
END_TEST

/* --shard auto: GitLab's parallel:, a Kubernetes Indexed Job, and what is missing or wrong. */
START_TEST(test_shard_auto)
{
	struct it_error e = IT_ERROR_INIT;
	struct suite_shard sh;

	unsetenv("JOB_COMPLETION_INDEX");
	setenv("CI_NODE_INDEX", "2", 1);
	setenv("CI_NODE_TOTAL", "4", 1);
	ck_assert_int_eq(suite_shard_parse("auto", &sh, &e), 0);
	ck_assert_uint_eq(sh.index, 2);
	ck_assert_uint_eq(sh.count, 4);
	ck_assert_int_eq(suite_shard_parse("auto/4", &sh, &e), 0);
	ck_assert_int_eq(suite_shard_parse("auto/3", &sh, &e), -IT_EUSAGE);
	ck_assert_str_eq(e.msg, "--shard auto/3: CI_NODE_TOTAL is 4, not 3");
	it_error_clear(&e);
	setenv("CI_NODE_INDEX", "5", 1);
	ck_assert_int_eq(suite_shard_parse("auto", &sh, &e), -IT_EUSAGE);
	ck_assert_str_eq(e.msg, "--shard auto: shard 5 of 4");
	it_error_clear(&e);
	unsetenv("CI_NODE_INDEX");
	unsetenv("CI_NODE_TOTAL");

	setenv("JOB_COMPLETION_INDEX", "0", 1);
	ck_assert_int_eq(suite_shard_parse("auto/3", &sh, &e), 0);
	ck_assert_uint_eq(sh.index, 1);
	ck_assert_uint_eq(sh.count, 3);
	setenv("JOB_COMPLETION_INDEX", "3", 1);
	ck_assert_int_eq(suite_shard_parse("auto/3", &sh, &e), -IT_EUSAGE);
	it_error_clear(&e);
	/* Without the total a Kubernetes index says nothing. */
	ck_assert_int_eq(suite_shard_parse("auto", &sh, &e), -IT_EUSAGE);
	ck_assert_str_eq(e.msg, "--shard auto: no shard in the environment (CI_NODE_INDEX and "
				"CI_NODE_TOTAL)");
	ck_assert_ptr_nonnull(strstr(e.hint, "auto/N"));
	it_error_clear(&e);
	unsetenv("JOB_COMPLETION_INDEX");
	ck_assert_int_eq(suite_shard_parse("autox", &sh, &e), -IT_EUSAGE);
	ck_assert_str_eq(e.msg, "bad --shard 'autox': give I/N, auto or auto/N");
}
END_TEST

static const char *const names[] = {"alpha",   "bravo", "charlie", "delta", "echo",
				    "foxtrot", "golf",	"hotel",   "india", "juliet"};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static void make_list(struct suite_list *l, size_t n)
{
	suite_list_init(l);
	ck_assert_uint_le(n, NNAMES);
	l->v = calloc(n, sizeof(*l->v));
	ck_assert_ptr_nonnull(l->v);
	for (size_t i = 0; i < n; i++) {
		l->v[i].id = strdup(names[i]);
		l->v[i].dir = strdup(names[i]);
		l->v[i].weight_ms = -1;
	}
	l->n = n;
}

/* For every N, shards 1/N..N/N together run every scenario exactly once. */
static void check_cover(size_t total, unsigned count, const struct result_set *durations,
			size_t *sizes)
{
	unsigned seen[NNAMES] = {0};

	for (unsigned i = 1; i <= count; i++) {
		struct suite_list l;
		struct suite_shard sh = {i, count};

		make_list(&l, total);
		ck_assert_int_eq(suite_shard_select(&l, sh, durations), 0);
		sizes[i - 1] = l.n;
		for (size_t k = 0; k < l.n; k++) {
			for (size_t j = 0; j < total; j++)
				seen[j] += !strcmp(l.v[k].id, names[j]);
		}
		suite_list_release(&l);
	}
	for (size_t k = 0; k < total; k++)
		ck_assert_msg(seen[k] == 1, "%s in %u shards of %u", names[k], seen[k], count);
}

START_TEST(test_shard_cover_round_robin)
{
	size_t sizes[10];

	for (unsigned count = 1; count <= 5; count++) {
		check_cover(7, count, NULL, sizes);
		for (unsigned i = 0; i < count; i++)
			ck_assert_uint_le(sizes[i] - sizes[count - 1], 1); /* sizes differ by one */
	}
	/* Round-robin by name: 1/3 of seven is alpha, delta, golf. */
	{
		struct suite_list l;
		struct suite_shard sh = {1, 3};

		make_list(&l, 7);
		ck_assert_int_eq(suite_shard_select(&l, sh, NULL), 0);
		ck_assert_uint_eq(l.n, 3);
		ck_assert_str_eq(l.v[0].id, "alpha");
		ck_assert_str_eq(l.v[1].id, "delta");
		ck_assert_str_eq(l.v[2].id, "golf");
		suite_list_release(&l);
	}
	/* More shards than scenarios: the extra ones are empty, which is fine. */
	check_cover(2, 3, NULL, sizes);
	ck_assert_uint_eq(sizes[2], 0);
}
END_TEST

#define RUN_MS(name, ms)                                                                           \
	"{\"scenario\": \"" name "\", \"verdict\": \"passed\", \"timings\": {\"total_ms\": " #ms   \
	"}}"

START_TEST(test_shard_balanced_by_durations)
{
	struct suite_list l;
	struct result_set durations;
	unsigned bins[7];
	int64_t load[3] = {0}, max, min;
	size_t sizes[10];

	/* golf has no recorded duration: it weighs the mean of the others (70000). */
	result_set_init(&durations);
	report_of(
	    RUN_MS("alpha", 100000) "," RUN_MS("bravo", 90000) "," RUN_MS(
		"charlie",
		60000) "," RUN_MS("delta",
				  50000) "," RUN_MS("echo",
						    40000) "," RUN_MS("foxtrot",
								      1000) "," RUN_MS("foxtrot",
										       80000),
	    &durations);
	make_list(&l, 7);
	ck_assert_int_eq(suite_shard_assign(&l, 2, &durations, bins), 0);
	/* The last run of a scenario counts. */
	ck_assert_int_eq(l.v[5].weight_ms, 80000);
	ck_assert_int_eq(l.v[6].weight_ms, (100000 + 90000 + 60000 + 50000 + 40000 + 80000) / 6);
	/*
	 * Longest first into the lighter bin (ties: the lower): alpha 100 -> 0, bravo 90 -> 1,
	 * foxtrot 80 -> 1 (170), golf 70 -> 0 (170), charlie 60 -> 0 (230), delta 50 -> 1
	 * (220), echo 40 -> 1 (260).
	 */
	ck_assert_uint_eq(bins[0], 0);
	ck_assert_uint_eq(bins[1], 1);
	ck_assert_uint_eq(bins[5], 1);
	ck_assert_uint_eq(bins[6], 0);
	ck_assert_uint_eq(bins[2], 0);
	ck_assert_uint_eq(bins[3], 1);
	ck_assert_uint_eq(bins[4], 1);
	/* Balanced: bins differ by no more than the longest scenario. */
	ck_assert_int_eq(suite_shard_assign(&l, 3, &durations, bins), 0);
	for (size_t i = 0; i < 7; i++)
		load[bins[i]] += l.v[i].weight_ms;
	max = load[0] > load[1] ? (load[0] > load[2] ? load[0] : load[2])
				: (load[1] > load[2] ? load[1] : load[2]);
	min = load[0] < load[1] ? (load[0] < load[2] ? load[0] : load[2])
				: (load[1] < load[2] ? load[1] : load[2]);
	ck_assert_int_le(max - min, 100000);
	ck_assert_int_eq(load[0] + load[1] + load[2], 490000);
	suite_list_release(&l);
	/* Still every scenario exactly once, with the same durations on every job. */
	for (unsigned count = 1; count <= 4; count++)
		check_cover(7, count, &durations, sizes);
	result_set_release(&durations);
}
END_TEST

/* ---- parallel VMs ------------------------------------------------------------------------- */

START_TEST(test_default_jobs)
{
	long ncpu = 0, avail = 0;

	ck_assert_int_eq(suite_default_jobs(2, 24000, 512), 2);	 /* this machine: CPUs */
	ck_assert_int_eq(suite_default_jobs(16, 4000, 512), 5);	 /* 4000 / 768: memory */
	ck_assert_int_eq(suite_default_jobs(16, 4000, 1024), 3); /* 4000 / 1280 */
	ck_assert_int_eq(suite_default_jobs(8, 500, 512), 1);	 /* never less than one */
	ck_assert_int_eq(suite_default_jobs(0, 100000, 512), 1); /* no CPU count: one */
	ck_assert_int_eq(suite_default_jobs(8, 1536, 0), 2);	 /* 0: the default 512 MiB */
	ck_assert_int_eq(suite_host_capacity(&ncpu, &avail), 0);
	ck_assert_int_ge(ncpu, 1);
	ck_assert_int_gt(avail, 0);
}
END_TEST

/* ---- retries and flaky runs --------------------------------------------------------------- */

START_TEST(test_retry_policy)
{
	static const enum run_verdict never[] = {RUN_PASSED,	RUN_FAILED,	 RUN_CRASHED,
						 RUN_TIMED_OUT, RUN_USAGE_ERROR, RUN_INTERRUPTED};

	ck_assert(policy_should_retry(RUN_INFRA_ERROR, 1, 2));
	ck_assert(policy_should_retry(RUN_INFRA_ERROR, 2, 2));
	ck_assert(!policy_should_retry(RUN_INFRA_ERROR, 3, 2)); /* three tries with --retries 2 */
	ck_assert(!policy_should_retry(RUN_INFRA_ERROR, 1, 0));
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		ck_assert(!policy_should_retry(never[i], 1, 5));
}
END_TEST

/* A real engine that ran these steps: each line arrives at its time (ms). */
static struct expect *engine_after(const struct scenario *s, const char *const *lines,
				   const int64_t *at, size_t n)
{
	struct it_error e = IT_ERROR_INIT;
	struct expect *x = NULL;

	ck_assert_int_eq(expect_new(&x), 0);
	ck_assert_msg(scenario_to_expect(s, x, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(expect_start(x, 0), 0);
	for (size_t i = 0; i < n; i++)
		expect_feed(x, lines[i], strlen(lines[i]), at[i]);
	return x;
}

static void load_scenario(struct scenario *s, const char *text)
{
	struct it_error e = IT_ERROR_INIT;
	char path[PATH_MAX];

	put_file("scn/scenario", text);
	tu_path(path, sizeof(path), "scn");
	scenario_init(s);
	ck_assert_msg(scenario_load(s, path, &e) == 0, "%s", e.msg);
}

/* policy_check_budgets() of the run that engine x made. */
static int budgets_of(const struct scenario *s, const struct expect *x, struct it_error *e)
{
	struct result_run r;
	int ret;

	result_run_init(&r);
	ck_assert_int_eq(result_finish(&r, x, 0, NULL), 0);
	ret = policy_check_budgets(s, &r, e);
	result_run_release(&r);
	return ret;
}

static const char *const boot_lines[] = {
    "OpenRC 0.52 is starting up\n", "udhcpc: lease of 10.0.2.15 obtained\n", "alpine-test login: "};

START_TEST(test_flaky_and_budget_reports)
{
	static const int64_t at[] = {3000, 34200, 35000};
	struct scenario s;
	struct expect *x;
	struct result_run rep;
	struct it_error why = IT_ERROR_INIT;
	struct result_set merged;
	struct buf json, junit, line, hint, sum;

	load_scenario(&s, "packages alpine-base\n"
			  "expect openrc /OpenRC [0-9.]+ is starting up/\n"
			  "expect lease \"lease of 10.0.2.15\" within 60s budget 20s\n"
			  "expect login /login: /\n");
	x = engine_after(&s, boot_lines, at, 3);
	ck_assert_int_eq(expect_state(x), EXPECT_PASSED);

	/* Passed on the second try: flaky, in every output. */
	result_run_init(&rep);
	result_setstr(&rep.scenario, "net");
	result_finish(&rep, x, 0, NULL);
	rep.attempts = 2;
	rep.flaky = true;
	buf_init(&json, 0);
	buf_init(&junit, 0);
	buf_init(&line, 0);
	buf_init(&hint, 0);
	buf_init(&sum, 0);
	ck_assert_int_eq(result_verdict_line(&rep, &line, &hint), 0);
	ck_assert_str_eq(line.data, "PASSED net in 35.0s (flaky: passed on attempt 2)");
	ck_assert_int_eq(result_json(&(struct result_set){&rep, 1}, &json), 0);
	ck_assert_ptr_nonnull(strstr(json.data, "\"attempts\": 2,\n      \"flaky\": true,"));
	ck_assert_int_eq(result_junit(&(struct result_set){&rep, 1}, &junit), 0);
	ck_assert_ptr_nonnull(strstr(junit.data, "<property name=\"flaky\" value=\"true\"/>"));
	result_set_init(&merged);
	ck_assert_int_eq(result_json_parse(&merged, buf_blob(&json), "flaky.json", NULL), 0);
	ck_assert_int_eq(result_set_exit_code(&merged), 0);
	ck_assert_int_eq(result_set_totals(&merged, &sum), 0);
	ck_assert_str_eq(sum.data, "1 scenario: 1 passed (1 flaky)");
	buf_reset(&junit);
	ck_assert_int_eq(result_junit(&merged, &junit), 0);
	ck_assert_ptr_nonnull(strstr(junit.data, "<property name=\"attempts\" value=\"2\"/>"));
	ck_assert_ptr_nonnull(strstr(junit.data, "<property name=\"flaky\" value=\"true\"/>"));
	result_set_release(&merged);

	/* The lease came 31.2 s after OpenRC: over its 20 s budget, the run fails. */
	ck_assert_int_eq(policy_check_budgets(&s, &rep, &why), -IT_EFAIL);
	ck_assert_str_eq(why.msg, "step 'lease' took 31.2s, over its 20s budget");
	ck_assert_ptr_nonnull(strstr(why.hint, "scn/scenario:3"));
	rep.flaky = false;
	rep.attempts = 1;
	result_finish(&rep, x, why.code, &why);
	ck_assert_int_eq(rep.verdict, RUN_FAILED);
	ck_assert_int_eq(result_exit_code(&rep), 1);
	buf_reset(&line);
	buf_reset(&hint);
	ck_assert_int_eq(result_verdict_line(&rep, &line, &hint), 0);
	ck_assert_str_eq(line.data, "FAILED net: step 'lease' took 31.2s, over its 20s budget");
	buf_reset(&json);
	ck_assert_int_eq(result_json(&(struct result_set){&rep, 1}, &json), 0);
	ck_assert_ptr_null(strstr(json.data, "\"flaky\""));
	ck_assert_ptr_nonnull(strstr(json.data, "\"verdict\": \"failed\""));

	result_run_release(&rep);
	expect_free(x);
	scenario_release(&s);
	buf_release(&json);
	buf_release(&junit);
	buf_release(&line);
	buf_release(&hint);
	buf_release(&sum);
}
END_TEST

START_TEST(test_budgets)
{
	static const int64_t fast[] = {3000, 22999, 23500}, edge[] = {3000, 23040, 23500};
	struct it_error e = IT_ERROR_INIT;
	struct scenario s;
	struct expect *x;

	load_scenario(&s, "packages alpine-base\n"
			  "expect openrc /OpenRC [0-9.]+ is starting up/ budget 2500ms\n"
			  "expect lease \"lease of 10.0.2.15\" budget 20s\n"
			  "expect login /login: / budget 1s\n");
	/* Every step within its budget. */
	x = engine_after(&s, boot_lines, (const int64_t[]){2500, 22500, 23500}, 3);
	ck_assert_int_eq(budgets_of(&s, x, &e), 0);
	expect_free(x);
	/* The first over its budget is named: openrc at 3 s over 2.5 s. */
	x = engine_after(&s, boot_lines, fast, 3);
	ck_assert_int_eq(budgets_of(&s, x, &e), -IT_EFAIL);
	ck_assert_str_eq(e.msg, "step 'openrc' took 3.0s, over its 2.5s budget");
	expect_free(x);
	scenario_release(&s);

	/* 20.04 s shows as such, not as "20.0s over its 20s". */
	load_scenario(&s, "packages alpine-base\n"
			  "expect openrc /OpenRC [0-9.]+ is starting up/\n"
			  "expect lease \"lease of 10.0.2.15\" budget 20s\n");
	x = engine_after(&s, boot_lines, edge, 2);
	it_error_clear(&e);
	ck_assert_int_eq(budgets_of(&s, x, &e), -IT_EFAIL);
	ck_assert_str_eq(e.msg, "step 'lease' took 20.040s, over its 20s budget");
	expect_free(x);
	/* A run that did not pass has its own verdict: budgets stay quiet. */
	x = engine_after(&s, boot_lines, edge, 1);
	it_error_clear(&e);
	ck_assert_int_eq(budgets_of(&s, x, &e), 0);
	expect_free(x);
	scenario_release(&s);
}
END_TEST

/* ---- baselines ---------------------------------------------------------------------------- */

#define TIMED_RUN(name, accel, first, openrc, lease)                                               \
	"{\"scenario\": \"" name "\", \"verdict\": \"passed\", \"backend\": \"qemu\", "            \
	"\"accel\": \"" accel "\", \"timings\": {\"first_console_byte_ms\": " #first ", "          \
	"\"total_ms\": " #lease ", \"steps\": {\"openrc\": " #openrc ", \"lease\": " #lease "}}}"

START_TEST(test_baseline)
{
	struct slowdown lim = {0.20, 500};
	struct it_error e = IT_ERROR_INIT;
	struct result_set base, cur;
	bool compared = false;

	result_set_init(&base);
	result_set_init(&cur);
	report_of(
	    TIMED_RUN("net", "kvm", 100, 1000, 2000) "," TIMED_RUN(
		"net", "tcg", 400, 3200, 15000) "," TIMED_RUN("other", "tcg", 400, 3000, 5000),
	    &base);

	/* Within the bound: 15000 * 1.2 + 500 = 18500. */
	report_of(TIMED_RUN("net", "tcg", 800, 3900, 18400), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e), 0);
	ck_assert(compared);
	result_set_release(&cur);

	/* The lease regressed: named, with both times and the bound. */
	report_of(TIMED_RUN("net", "tcg", 420, 3300, 21800), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e),
			 -IT_EFAIL);
	ck_assert_str_eq(
	    e.msg,
	    "step 'lease' at 21.8s, 45% slower than the baseline's 15.0s (limit +20% and 500ms)");
	result_set_release(&cur);

	/* The earliest milestone that regressed is the one named. */
	it_error_clear(&e);
	report_of(TIMED_RUN("net", "tcg", 420, 9000, 30000), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e),
			 -IT_EFAIL);
	ck_assert_ptr_nonnull(strstr(e.msg, "step 'openrc' at 9.0s"));
	result_set_release(&cur);
	it_error_clear(&e);
	report_of(TIMED_RUN("net", "tcg", 2000, 3200, 15000), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e),
			 -IT_EFAIL);
	ck_assert_str_eq(e.msg, "the first console byte at 2.0s, 400% slower than the baseline's "
				"0.4s (limit +20% and 500ms)");
	result_set_release(&cur);

	/* Only the same accelerator counts: this KVM baseline is far faster, but tcg is compared.
	 */
	it_error_clear(&e);
	report_of(TIMED_RUN("net", "tcg", 400, 3200, 15000), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e), 0);
	result_set_release(&cur);
	/* No baseline for this scenario and accelerator: nothing compared, no failure. */
	report_of(TIMED_RUN("new", "tcg", 400, 3200, 15000), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e), 0);
	ck_assert(!compared);
	result_set_release(&cur);
	/* The grace: 100 ms against 50 ms is 100% slower, but only by 50 ms. */
	report_of(TIMED_RUN("net", "kvm", 150, 1000, 2000), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e), 0);
	lim.grace_ms = 0;
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e),
			 -IT_EFAIL);
	result_set_release(&cur);
	result_set_release(&base);
}
END_TEST

/* A run of another arch is no baseline; a run recorded without arch was x86_64. */
#define ARCH_RUN(arch, lease)                                                                      \
	"{\"scenario\": \"net\", \"verdict\": \"passed\", \"backend\": \"qemu\", "                 \
	"\"accel\": \"tcg\", " arch "\"timings\": {\"first_console_byte_ms\": 100, "               \
	"\"total_ms\": " #lease ", \"steps\": {\"lease\": " #lease "}}}"

START_TEST(test_baseline_arch)
{
	struct slowdown lim = {0.20, 0};
	struct it_error e = IT_ERROR_INIT;
	struct result_set base, cur;
	bool compared = true;

	result_set_init(&base);
	result_set_init(&cur);
	report_of(ARCH_RUN("\"arch\": \"aarch64\", ", 2000), &base);
	report_of(ARCH_RUN("", 9000), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e), 0);
	ck_assert(!compared);
	result_set_release(&cur);
	report_of(ARCH_RUN("\"arch\": \"aarch64\", ", 9000), &cur);
	ck_assert_str_eq(cur.runs[0].arch, "aarch64");
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e),
			 -IT_EFAIL);
	ck_assert(compared);
	result_set_release(&cur);
	result_set_release(&base);
	/* Without arch both sides are x86_64: compared. */
	result_set_init(&base);
	report_of(ARCH_RUN("", 2000), &base);
	report_of(ARCH_RUN("\"arch\": \"x86_64\", ", 3000), &cur);
	ck_assert_int_eq(policy_check_baseline(&base, &cur.runs[0], &lim, &compared, &e),
			 -IT_EFAIL);
	ck_assert(compared);
	result_set_release(&cur);
	result_set_release(&base);
}
END_TEST

START_TEST(test_parse_percent)
{
	static const char *const bad[] = {"", "%", "x", "-5%", "20%%", "5 %", "1e999", "nan"};
	struct it_error e = IT_ERROR_INIT;
	double v;

	ck_assert_int_eq(policy_parse_percent("20%", &v, &e), 0);
	ck_assert(v > 0.1999 && v < 0.2001);
	ck_assert_int_eq(policy_parse_percent("20", &v, &e), 0);
	ck_assert(v > 0.1999 && v < 0.2001);
	ck_assert_int_eq(policy_parse_percent("0.5%", &v, &e), 0);
	ck_assert(v > 0.00499 && v < 0.00501);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		it_error_clear(&e);
		ck_assert_int_eq(policy_parse_percent(bad[i], &v, &e), -IT_EUSAGE);
		ck_assert_ptr_nonnull(strstr(e.msg, "bad percentage"));
	}
}
END_TEST

/* ---- merged reports ----------------------------------------------------------------------- */

#define VERDICT_RUN(name, verdict, msg)                                                            \
	"{\"scenario\": \"" name "\", \"verdict\": \"" verdict "\", \"message\": \"" msg "\"}"

static int exit_of(const char *runs)
{
	struct result_set r;
	char text[4096];
	int code;

	snprintf(text, sizeof(text),
		 "{\"format\": \"initrd-test-report\", \"version\": 1, \"runs\": [%s]}", runs);
	result_set_init(&r);
	ck_assert_int_eq(result_json_parse(&r, blob_str(text), "t.json", NULL), 0);
	code = result_set_exit_code(&r);
	result_set_release(&r);
	return code;
}

START_TEST(test_exit_codes)
{
	ck_assert_int_eq(exit_of(""), 0);
	ck_assert_int_eq(exit_of(VERDICT_RUN("a", "passed", "") "," VERDICT_RUN("b", "passed", "")),
			 0);
	ck_assert_int_eq(
	    exit_of(VERDICT_RUN("a", "infra_error", "") "," VERDICT_RUN("b", "usage_error", "")),
	    2);
	ck_assert_int_eq(exit_of(VERDICT_RUN("a", "infra_error", "")), 3);
	ck_assert_int_eq(
	    exit_of(VERDICT_RUN("a", "infra_error", "") "," VERDICT_RUN("b", "timed_out", "")), 4);
	ck_assert_int_eq(
	    exit_of(VERDICT_RUN("a", "timed_out", "") "," VERDICT_RUN("b", "crashed", "")), 1);
	ck_assert_int_eq(
	    exit_of(VERDICT_RUN("a", "failed", "") "," VERDICT_RUN("b", "interrupted", "")), 130);
	/* A verdict from a newer version that we do not know is not a pass. */
	ck_assert_int_eq(exit_of(VERDICT_RUN("a", "exploded", "")), 3);
}
END_TEST

START_TEST(test_merge_shards)
{
	struct it_error e = IT_ERROR_INIT;
	struct result_set r, again;
	unsigned long c[RUN_VERDICT_MAX], flaky;
	struct buf sum, json, xml;
	char p1[PATH_MAX], p2[PATH_MAX];

	/* Two shard files, as 'run --shard 1/2' and '2/2' write them. */
	put_file(
	    "shard1.json",
	    "{\"format\": \"initrd-test-report\", \"version\": 1, \"runs\": ["
	    "{\"scenario\": \"a\", \"verdict\": \"passed\", \"message\": \"PASSED a in 1.0s\", "
	    "\"shard\": \"1/2\", \"timings\": {\"total_ms\": 1000}},"
	    "{\"scenario\": \"c\", \"verdict\": \"failed\", \"message\": \"FAILED c at step 'x'\", "
	    "\"hint\": \"see the console log: c/console.log\", \"artifacts\": \"out/artifacts/c\", "
	    "\"shard\": \"1/2\"}]}");
	put_file("shard2.json",
		 "{\"format\": \"initrd-test-report\", \"version\": 1, \"runs\": ["
		 "{\"scenario\": \"b\", \"verdict\": \"passed\", \"flaky\": true, \"attempts\": 2, "
		 "\"message\": \"PASSED b in 2.0s (flaky: passed on attempt 2)\", \"shard\": "
		 "\"2/2\"}]}");
	tu_path(p1, sizeof(p1), "shard1.json");
	tu_path(p2, sizeof(p2), "shard2.json");
	result_set_init(&r);
	ck_assert_msg(result_json_load(&r, p1, &e) == 0, "%s", e.msg);
	ck_assert_msg(result_json_load(&r, p2, &e) == 0, "%s", e.msg);
	/* And the real reports of report.c. */
	ck_assert_msg(result_json_load(&r, REPORT_DATA "/timeout.json", &e) == 0, "%s", e.msg);
	ck_assert_msg(result_json_load(&r, REPORT_DATA "/infra.json", &e) == 0, "%s", e.msg);
	result_set_count(&r, c, &flaky);
	ck_assert_uint_eq(r.n, 5);
	ck_assert_uint_eq(c[RUN_PASSED], 2);
	ck_assert_uint_eq(flaky, 1);
	ck_assert_uint_eq(c[RUN_FAILED], 1);
	ck_assert_uint_eq(c[RUN_TIMED_OUT], 1);
	ck_assert_uint_eq(c[RUN_INFRA_ERROR], 1);
	ck_assert_int_eq(result_set_exit_code(&r), 1);

	buf_init(&sum, 0);
	ck_assert_int_eq(result_set_summary(&r, false, &sum), 0);
	ck_assert_msg(
	    !strncmp(sum.data,
		     "PASSED a in 1.0s\n"
		     "FAILED c at step 'x'\n"
		     "  hint: see the console log: c/console.log\n"
		     "  artifacts: out/artifacts/c\n"
		     "PASSED b in 2.0s (flaky: passed on attempt 2)\n"
		     "TIMED OUT golden at step 'e1000-driver'",
		     strlen("PASSED a in 1.0s\nFAILED c at step 'x'\n  hint: see the console "
			    "log: c/console.log\n  artifacts: out/artifacts/c\nPASSED b in "
			    "2.0s (flaky: passed on attempt 2)\nTIMED OUT golden at step "
			    "'e1000-driver'")),
	    "%s", sum.data);
	ck_assert_ptr_nonnull(strstr(sum.data,
				     "\n5 scenarios: 2 passed (1 flaky), 1 failed, 1 timed "
				     "out, 1 infrastructure error\n"));
	buf_reset(&sum);
	ck_assert_int_eq(result_set_summary(&r, true, &sum), 0);
	ck_assert_ptr_null(strstr(sum.data, "PASSED"));
	ck_assert_ptr_nonnull(strstr(sum.data, "FAILED c"));
	ck_assert_ptr_nonnull(strstr(sum.data, "5 scenarios: 2 passed"));

	/* The merged JSON is a report again, with the same runs. */
	buf_init(&json, 0);
	ck_assert_int_eq(result_json(&r, &json), 0);
	result_set_init(&again);
	ck_assert_int_eq(result_json_parse(&again, buf_blob(&json), "merged.json", &e), 0);
	ck_assert_uint_eq(again.n, 5);
	ck_assert_str_eq(again.runs[2].scenario, "b");
	ck_assert_int_eq(result_set_exit_code(&again), 1);
	result_set_release(&again);

	/* JUnit: one testsuite per run, the totals on testsuites. */
	buf_init(&xml, 0);
	ck_assert_int_eq(result_junit(&r, &xml), 0);
	ck_assert_ptr_nonnull(strstr(xml.data, "<testsuites name=\"initrd-test\" tests=\"5\" "
					       "failures=\"2\" errors=\"1\""));
	ck_assert_ptr_nonnull(strstr(xml.data, "<property name=\"shard\" value=\"2/2\"/>"));
	ck_assert_ptr_nonnull(
	    strstr(xml.data, "<property name=\"artifacts\" value=\"out/artifacts/c\"/>"));
	ck_assert_ptr_nonnull(strstr(
	    xml.data, "<testcase name=\"run\" classname=\"c\" time=\"0.000\">\n"
		      "      <failure type=\"failed\" message=\"FAILED c at step &apos;x&apos;\">"
		      "FAILED c at step 'x'\nhint: see the console log: "
		      "c/console.log\nartifacts: out/artifacts/c</failure>"));
	ck_assert_ptr_nonnull(strstr(xml.data, "<error type=\"infra_error\""));
	ck_assert_ptr_nonnull(
	    strstr(xml.data, "<testcase name=\"e1000-driver\" classname=\"golden\""));
	ck_assert_ptr_nonnull(strstr(xml.data, "<failure type=\"step-timeout\""));
	ck_assert_ptr_nonnull(strstr(xml.data, "<skipped message=\"not reached"));
	buf_release(&xml);
	buf_release(&json);
	buf_release(&sum);
	result_set_release(&r);
}
END_TEST

START_TEST(test_merge_errors)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"not json", "cannot parse '@': line 1, column 1: '[' or '{' expected near 'not'"},
	    {"{\"runs\": []}", "'@' is not an initrd-test report (no \"format\": "
			       "\"initrd-test-report\" with \"runs\")"},
	    {"{\"format\": \"initrd-test-report\", \"version\": 2, \"runs\": []}",
	     "'@': unsupported report version"},
	    {"{\"format\": \"initrd-test-report\", \"version\": 1, \"runs\": [{\"scenario\": "
	     "\"a\"}]}",
	     "'@': run 1 has no \"scenario\" or no \"verdict\""},
	};
	struct result_set r;
	char path[PATH_MAX], want[PATH_MAX + 256];

	tu_path(path, sizeof(path), "bad.json");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct it_error e = IT_ERROR_INIT;
		const char *at = strchr(cases[i].msg, '@');

		put_file("bad.json", cases[i].text);
		snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - cases[i].msg), cases[i].msg,
			 path, at + 1);
		result_set_init(&r);
		ck_assert_int_eq(result_json_load(&r, path, &e), -IT_EFORMAT);
		ck_assert_str_eq(e.msg, want);
		ck_assert_uint_eq(r.n, 0); /* nothing half-merged */
		result_set_release(&r);
	}
	{
		struct it_error e = IT_ERROR_INIT;

		result_set_init(&r);
		ck_assert_int_eq(result_json_load(&r, "tests/data/none.json", &e), -ENOENT);
		ck_assert_str_eq(e.msg,
				 "cannot read report 'tests/data/none.json': No such file or "
				 "directory");
		result_set_release(&r);
	}
}
END_TEST

/* Bytes XML cannot carry become text; markup is escaped. */
START_TEST(test_junit_escaping)
{
	struct result_set r;
	struct buf xml;

	result_set_init(&r);
	ck_assert_int_eq(
	    result_json_parse(
		&r,
		blob_str("{\"format\": \"initrd-test-report\", \"version\": 1, "
			 "\"runs\": [{\"scenario\": \"a<&>\\\"\", \"verdict\": "
			 "\"failed\", \"message\": \"x\\u0001y\\u001b[31m\", "
			 "\"console_tail\": \"ok\\r\\n\\u00c2\\u0085 \\u0002 end\"}]}"),
		"t.json", NULL),
	    0);
	buf_init(&xml, 0);
	ck_assert_int_eq(result_junit(&r, &xml), 0);
	ck_assert_ptr_nonnull(strstr(xml.data, "<testsuite name=\"a&lt;&amp;&gt;&quot;\""));
	ck_assert_ptr_nonnull(strstr(xml.data, "message=\"x\\x01y\\x1b[31m\""));
	ck_assert_ptr_nonnull(
	    strstr(xml.data, "<system-out>ok&#13;\n\xc3\x82\\xc2\\x85 \\x02 end</system-out>"));
	ck_assert_ptr_nonnull(
	    strstr(xml.data, "<testcase name=\"run\" classname=\"a&lt;&amp;&gt;&quot;\""));
	buf_release(&xml);
	result_set_release(&r);
}
END_TEST

/* ---- shared builds and artifacts ---------------------------------------------------------- */

START_TEST(test_build_key)
{
	struct it_error e = IT_ERROR_INIT;
	struct scenario a, b;
	char ka[65], kb[65];

	scenario_init(&a);
	scenario_init(&b);
	ck_assert_msg(scenario_load(&a, SUITE_DATA "/boot", &e) == 0, "%s", e.msg);
	ck_assert_msg(scenario_load(&b, SUITE_DATA "/over-budget", &e) == 0, "%s", e.msg);
	ck_assert_int_eq(run_build_key(&a.build, ka), 0);
	ck_assert_int_eq(run_build_key(&b.build, kb), 0);
	ck_assert_uint_eq(strlen(ka), 64);
	/* Same image, other steps: one build. */
	ck_assert_str_eq(ka, kb);
	/* Where it goes, where the cache is, how many downloads: still one build. */
	b.build.output = strdup("/elsewhere/initrd.img");
	b.build.cache_dir = strdup("/tmp/other-cache");
	b.build.jobs = 9;
	b.build.offline = true;
	ck_assert_int_eq(run_build_key(&b.build, kb), 0);
	ck_assert_str_eq(ka, kb);
	/* What is in it: another build. */
	ck_assert_int_eq(strlist_add(&b.build.modules, "e1000"), 0);
	ck_assert_int_eq(run_build_key(&b.build, kb), 0);
	ck_assert_str_ne(ka, kb);
	strlist_clear(&b.build.modules);
	free(b.build.hostname);
	b.build.hostname = strdup("other");
	ck_assert_int_eq(run_build_key(&b.build, kb), 0);
	ck_assert_str_ne(ka, kb);
	/* A NULL string and an empty one are different settings. */
	free(b.build.hostname);
	b.build.hostname = a.build.hostname ? strdup(a.build.hostname) : NULL;
	free(b.build.root_password_hash);
	b.build.root_password_hash = NULL;
	ck_assert_int_eq(run_build_key(&b.build, kb), 0);
	ck_assert_str_ne(ka, kb); /* base says 'root-password none': "" */
	scenario_release(&a);
	scenario_release(&b);
}
END_TEST

/* A newc header for one entry (name with its NUL, then data), padded to 4. */
static void newc_entry(struct buf *b, const char *name, unsigned mode, const char *data)
{
	size_t nlen = strlen(name) + 1, dlen = strlen(data);

	buf_addf(b, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", 721u, mode, 0u,
		 0u, 1u, 0u, dlen, 0u, 0u, 0u, 0u, nlen, 0u);
	buf_add(b, name, nlen);
	while (b->len % 4)
		buf_addch(b, '\0');
	buf_addstr(b, data);
	while (b->len % 4)
		buf_addch(b, '\0');
}

START_TEST(test_artifacts)
{
	struct it_error e = IT_ERROR_INIT;
	struct scenario s;
	struct buf cpio, got;
	char run[PATH_MAX], dest[PATH_MAX], initrd[PATH_MAX], path[PATH_MAX];

	put_file("run/console.log", "[   1.000] hello\n");
	put_file("run/console.raw", "hello\r\n");
	put_file("run/command.txt", "qemu-system-x86_64 -accel tcg\n");
	put_file("run/result.json", "{}\n");
	buf_init(&cpio, 0);
	newc_entry(&cpio, "etc", 040755, "");
	newc_entry(&cpio, "etc/hostname", 0100644, "alpine-test\n");
	newc_entry(&cpio, "TRAILER!!!", 0, "");
	tu_path(initrd, sizeof(initrd), "run/initrd.img");
	ck_assert_int_eq(write_file_atomic(initrd, cpio.data, cpio.len, 0644), 0);
	tu_path(run, sizeof(run), "run");
	tu_path(dest, sizeof(dest), "artifacts/boot");
	put_file("artifacts/boot/stale", "from an earlier run\n");
	scenario_init(&s);
	ck_assert_msg(scenario_load(&s, SUITE_DATA "/boot", &e) == 0, "%s", e.msg);

	ck_assert_msg(artifacts_collect(run, dest, &s.files, initrd, &e) == 0, "%s", e.msg);
	buf_init(&got, 0);
	tu_path(path, sizeof(path), "artifacts/boot/console.log");
	ck_assert_int_eq(buf_read_file(&got, path), 0);
	ck_assert_str_eq(got.data, "[   1.000] hello\n");
	tu_path(path, sizeof(path), "artifacts/boot/command.txt");
	ck_assert_int_eq(buf_read_file(&got, path), 0);
	ck_assert_str_eq(got.data, "qemu-system-x86_64 -accel tcg\n");
	tu_path(path, sizeof(path), "artifacts/boot/console.raw");
	ck_assert_int_eq(access(path, F_OK), 0);
	tu_path(path, sizeof(path), "artifacts/boot/stale");
	ck_assert_int_eq(access(path, F_OK), -1);
	tu_path(path, sizeof(path), "artifacts/boot/plan.txt");
	ck_assert_int_eq(access(path, F_OK), -1); /* not there to copy: no error */
	/* The scenario and every file it included, in include order. */
	tu_path(path, sizeof(path), "artifacts/boot/scenario/index.txt");
	ck_assert_int_eq(buf_read_file(&got, path), 0);
	ck_assert_str_eq(got.data, "1-boot_scenario\t" SUITE_DATA "/boot/scenario\n"
				   "2-common_scenario\t" SUITE_DATA "/common/scenario\n"
				   "3-base_scenario\tscenarios/base/scenario\n");
	tu_path(path, sizeof(path), "artifacts/boot/scenario/3-base_scenario");
	ck_assert_int_eq(buf_read_file(&got, path), 0);
	ck_assert_ptr_nonnull(strstr(got.data, "packages alpine-base"));
	/* The initrd's listing. */
	tu_path(path, sizeof(path), "artifacts/boot/initrd.list");
	ck_assert_int_eq(buf_read_file(&got, path), 0);
	ck_assert_ptr_nonnull(strstr(got.data, " etc\n"));
	ck_assert_ptr_nonnull(strstr(got.data, "12 "));
	ck_assert_ptr_nonnull(strstr(got.data, " etc/hostname\n"));

	/* A broken initrd: an error naming it, and no listing left half-written. */
	ck_assert_int_eq(write_file_atomic(initrd, "garbage", 7, 0644), 0);
	it_error_clear(&e);
	ck_assert_int_lt(artifacts_collect(run, dest, &s.files, initrd, &e), 0);
	ck_assert_ptr_nonnull(strstr(e.msg, initrd));
	tu_path(path, sizeof(path), "artifacts/boot/initrd.list");
	ck_assert_int_eq(access(path, F_OK), -1);
	buf_release(&got);
	buf_release(&cpio);
	scenario_release(&s);
}
END_TEST

static Suite *suite_suite(void)
{
	Suite *s = suite_create("suite");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_json_errors);
	tcase_add_test(tc, test_json_reads_reports);
	tcase_add_test(tc, test_discover_trees);
	tcase_add_test(tc, test_discover_nested_and_errors);
	tcase_add_test(tc, test_shard_parse);
	tcase_add_test(tc, test_shard_auto);
	tcase_add_test(tc, test_shard_cover_round_robin);
	tcase_add_test(tc, test_shard_balanced_by_durations);
	tcase_add_test(tc, test_default_jobs);
	tcase_add_test(tc, test_retry_policy);
	tcase_add_test(tc, test_flaky_and_budget_reports);
	tcase_add_test(tc, test_budgets);
	tcase_add_test(tc, test_baseline);
	tcase_add_test(tc, test_baseline_arch);
	tcase_add_test(tc, test_parse_percent);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_merge_shards);
	tcase_add_test(tc, test_merge_errors);
	tcase_add_test(tc, test_junit_escaping);
	tcase_add_test(tc, test_build_key);
	tcase_add_test(tc, test_artifacts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite_suite());
}
