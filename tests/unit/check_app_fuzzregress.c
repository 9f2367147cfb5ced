// SPDX-License-Identifier: MIT
/* Replays the fuzzers' regression inputs and seed corpora through the fuzz targets' own code and
 * checks. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/strlist.h"
#include "common/util.h"

/*
 * Every target of fuzz/ is compiled in here under its own name
 * (fuzz/fuzz.h): an input that crashed a fuzzer, saved in
 * tests/data/fuzz-regressions/TARGET/, runs through exactly what crashed,
 * including the invariants the target checks with abort(). Under 'make
 * asan' the sanitizers see it too.
 */
#define FUZZ_REPLAY 1
/* NOLINTBEGIN(bugprone-suspicious-include): the targets' sources are what is replayed. */
#include "fuzz/fuzz_agent.c"
#include "fuzz/fuzz_agentmux.c"
#include "fuzz/fuzz_apk.c"
#include "fuzz/fuzz_cpio.c"
#include "fuzz/fuzz_crash.c"
#include "fuzz/fuzz_expect.c"
#include "fuzz/fuzz_index.c"
#include "fuzz/fuzz_kimage.c"
#include "fuzz/fuzz_license.c"
#include "fuzz/fuzz_lock.c"
#include "fuzz/fuzz_scenario.c"
#include "fuzz/fuzz_version.c"
/* NOLINTEND(bugprone-suspicious-include) */

#define FUZZ_DIR "fuzz"
#define REGRESSIONS "tests/data/fuzz-regressions"
#define SEEDS "fuzz/corpus"
#define REPLAY_MAX_INPUT (4u << 20)

typedef int (*fuzz_one_fn)(const uint8_t *data, size_t size);
typedef int (*fuzz_init_fn)(int *argc, char ***argv);

struct target {
	const char *name;
	fuzz_one_fn one;
	fuzz_init_fn init;
};

static const struct target targets[] = {
    {"agent", fuzz_agent_one, NULL},	  {"agentmux", fuzz_agentmux_one, NULL},
    {"apk", fuzz_apk_one, fuzz_apk_init}, {"cpio", fuzz_cpio_one, fuzz_cpio_init},
    {"crash", fuzz_crash_one, NULL},	  {"expect", fuzz_expect_one, NULL},
    {"index", fuzz_index_one, NULL},	  {"scenario", fuzz_scenario_one, fuzz_scenario_init},
    {"version", fuzz_version_one, NULL},  {"lock", fuzz_lock_one, NULL},
    {"license", fuzz_license_one, NULL},  {"kimage", fuzz_kimage_one, NULL},
};

/* The input being replayed, for the crash report. */
static const char *current;

/* Only write(2): this runs in a signal handler. */
static void say(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0)
		return;
}

static void say_current(void)
{
	if (current) {
		say("\nfuzz regression: crashed on '");
		say(current);
		say("'\n");
	}
}

/* A crash (an invariant's abort(), a segfault) names the input, then dies as it would have. */
static void on_crash(int sig)
{
	say_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * AddressSanitizer calls this before its report, when the test runs under 'make asan'.
 * NOLINTBEGIN(bugprone-reserved-identifier): the name is the sanitizer's hook.
 */
void __asan_on_error(void);
void __asan_on_error(void)
{
	say_current();
}
/* NOLINTEND(bugprone-reserved-identifier) */

/* The entries of 'dir' but hidden ones and README.md, sorted; none for a missing directory. */
static void list_files(const char *dir, struct strlist *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[1024];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "README.md"))
			continue;
		ck_assert_int_eq(path_join(path, sizeof(path), dir, de->d_name), 0);
		ck_assert_int_eq(strlist_add(out, path), 0);
	}
	closedir(d);
	strlist_sort(out);
}

/* Run every input under 'root'/TARGET through the target; returns how many there were. */
static size_t replay(const struct target *t, const char *root)
{
	struct strlist files = STRLIST_INIT;
	char dir[512];
	size_t n;

	snprintf(dir, sizeof(dir), "%s/%s", root, t->name);
	list_files(dir, &files);
	signal(SIGABRT, on_crash);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	if (t->init)
		t->init(NULL, NULL);
	for (size_t i = 0; i < files.n; i++) {
		struct buf in;

		buf_init(&in, REPLAY_MAX_INPUT);
		ck_assert_msg(buf_read_file(&in, files.v[i]) == 0, "cannot read '%s'", files.v[i]);
		current = files.v[i];
		ck_assert_int_eq(t->one((const uint8_t *)in.data, in.len), 0);
		current = NULL;
		buf_release(&in);
	}
	n = files.n;
	strlist_clear(&files);
	return n;
}

/* Every target has its folder of regressions, with at least one input: nothing replayed fails. */
START_TEST(test_regressions)
{
	const struct target *t = &targets[_i];
	char dir[512];
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", REGRESSIONS, t->name);
	d = opendir(dir);
	ck_assert_msg(d != NULL, "fuzz target '%s' has no regression folder '%s'", t->name, dir);
	closedir(d);
	ck_assert_msg(replay(t, REGRESSIONS) > 0,
		      "'%s' is empty: the fuzz target '%s' replays nothing (a seed from '%s/%s' "
		      "will do, with a line in its README)",
		      dir, t->name, SEEDS, t->name);
}
END_TEST

static const struct target *find_target(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(targets); i++)
		if (strlen(targets[i].name) == len && !strncmp(targets[i].name, name, len))
			return &targets[i];
	return NULL;
}

/* Every fuzz/fuzz_NAME.c is replayed here, and every regression folder names a target. */
START_TEST(test_every_target)
{
	struct strlist files = STRLIST_INIT;
	size_t sources = 0;

	list_files(FUZZ_DIR, &files);
	for (size_t i = 0; i < files.n; i++) {
		const char *base = files.v[i] + strlen(FUZZ_DIR "/");
		size_t len = strlen(base);

		if (strncmp(base, "fuzz_", 5) != 0 || len < 7 || strcmp(base + len - 2, ".c") != 0)
			continue;
		sources++;
		ck_assert_msg(find_target(base + 5, len - 7) != NULL,
			      "'%s' is not replayed: include it here and add it to targets[]",
			      files.v[i]);
	}
	ck_assert_uint_eq(sources, ARRAY_SIZE(targets));
	strlist_clear(&files);
	list_files(REGRESSIONS, &files);
	for (size_t i = 0; i < files.n; i++) {
		const char *base = files.v[i] + strlen(REGRESSIONS "/");

		ck_assert_msg(find_target(base, strlen(base)) != NULL,
			      "'%s' names no fuzz target: its inputs are never replayed",
			      files.v[i]);
	}
	strlist_clear(&files);
}
END_TEST

START_TEST(test_seeds)
{
	/* Every target ships seeds: the real Alpine data and the shipped scenarios. */
	ck_assert_uint_gt(replay(&targets[_i], SEEDS), 0);
}
END_TEST

/* The replay can fail: a broken invariant aborts, as an error without text does here. */
START_TEST(test_check_error_aborts)
{
	struct it_error e = IT_ERROR_INIT;

	fuzz_check_error(&e, 0);
	e.code = -IT_EFORMAT;
	fuzz_check_error(&e, -IT_EFORMAT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("app_fuzzregress");
	TCase *tc = tcase_create("replay");
	TCase *tcf = tcase_create("checks");
	SRunner *sr;
	int failed;
	int n = (int)ARRAY_SIZE(targets);

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_regressions, 0, n);
	tcase_add_loop_test(tc, test_seeds, 0, n);
	tcase_add_test(tc, test_every_target);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	/* Without fork (CK_FORK=no) an abort would end the whole run. */
	if (srunner_fork_status(sr) == CK_FORK) {
		tcase_add_test_raise_signal(tcf, test_check_error_aborts, SIGABRT);
		suite_add_tcase(s, tcf);
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
