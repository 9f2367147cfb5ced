// SPDX-License-Identifier: MIT
/* libFuzzer target: scenario files (with two includable files) parsed, loaded into an engine,
 * replayed. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "expect/expect.h"
#include "scenario/scenario.h"
#include "fuzz/fuzz.h"

/*
 * The input is up to three files separated by NUL bytes: the scenario
 * itself, then 'a' and 'b' beside it, which it may include ("include a").
 * They live in one temp directory made at start-up and removed at exit.
 */
static const char *const scn_names[] = {SCENARIO_FILE, "a", "b"};
static char scn_dir[64] = "";

/* A console that reaches a login prompt and a shell, for the steps to match. */
static const char scn_console[] =
    "\033[0;1m   OpenRC 0.52.1 is starting up Linux 6.1.0 (x86_64)\r\n"
    " * Starting networking ... \033[A\033[71G[ ok ]\r\n"
    "udhcpc: lease of 10.0.2.15 obtained from 10.0.2.2, lease time 86400\r\n"
    "\r\nalpine-test login: root\r\n"
    "alpine-test:~# \033[6nip addr show eth0\r\n"
    "    inet 10.0.2.15/24 scope global eth0\r\n"
    "alpine-test:~# ";

static void scn_cleanup(void)
{
	char path[128];

	for (size_t i = 0; i < sizeof(scn_names) / sizeof(scn_names[0]); i++) {
		if (path_join(path, sizeof(path), scn_dir, scn_names[i]) == 0)
			unlink(path);
	}
	rm_rf(scn_dir);
}

FUZZ_INIT(scenario)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	if (scn_dir[0])
		return 0;
	snprintf(scn_dir, sizeof(scn_dir), "%s/fuzz-scn.XXXXXX",
		 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(scn_dir))
		fuzz_fail();
	atexit(scn_cleanup);
	fuzz_on_fail(scn_cleanup);
	return 0;
}

static void scn_write_all(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		fuzz_fail();
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fuzz_fail();
		p += w;
		n -= (size_t)w;
	}
	close(fd);
}

static void scn_check_scenario(const struct scenario *s)
{
	if (!s->name || !s->dir || !s->path || s->files.n < 1)
		fuzz_fail();
	for (size_t i = 0; i < s->nsteps; i++) {
		const struct scenario_step *st = &s->steps[i];

		if (!st->name || !st->text || !st->file || !st->where || st->line == 0)
			fuzz_fail();
		if (st->kind == SCENARIO_STEP_EXPECT && st->timeout_ms <= 0)
			fuzz_fail();
		if (st->kind == SCENARIO_STEP_EXPECT && st->literal && strchr(st->text, '\n'))
			fuzz_fail();
	}
	for (size_t i = 0; i < s->nfails; i++)
		if (!s->fails[i].pattern || !s->fails[i].where)
			fuzz_fail();
}

static void scn_run_engine(const struct scenario *s)
{
	struct expect *e = NULL;
	struct it_error err = IT_ERROR_INIT;
	int r;

	if (expect_new(&e) < 0)
		fuzz_fail();
	r = scenario_to_expect(s, e, &err);
	fuzz_check_error(&err, r);
	if (r == 0) {
		r = expect_replay(e, blob_mem(scn_console, sizeof(scn_console) - 1), NULL);
		if (r < 0 && r != -ENOMEM)
			fuzz_fail();
		it_error_clear(&err);
		r = expect_explain(e, &err);
		fuzz_check_error(&err, r);
	}
	expect_free(e);
}

FUZZ_ONE(scenario)
{
	const uint8_t *p = data, *end = data + size;
	struct scenario s;
	struct it_error err = IT_ERROR_INIT;
	char path[128];
	int r;

	for (size_t i = 0; i < sizeof(scn_names) / sizeof(scn_names[0]); i++) {
		const uint8_t *nul = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		const uint8_t *stop = nul ? nul : end;

		if (path_join(path, sizeof(path), scn_dir, scn_names[i]) < 0)
			fuzz_fail();
		scn_write_all(path, p, p < end ? (size_t)(stop - p) : 0);
		p = nul ? nul + 1 : end;
	}

	if (path_join(path, sizeof(path), scn_dir, SCENARIO_FILE) < 0)
		fuzz_fail();
	scenario_init(&s);
	r = scenario_load(&s, path, &err);
	fuzz_check_error(&err, r);
	if (r == 0) {
		scn_check_scenario(&s);
		scenario_set_step_timeout(&s, 1000);
		scn_run_engine(&s);
	}
	scenario_release(&s);
	/* The directory form loads the same file. */
	scenario_init(&s);
	it_error_clear(&err);
	if (scenario_load(&s, scn_dir, &err) != r)
		fuzz_fail();
	scenario_release(&s);
	return 0;
}
