// SPDX-License-Identifier: MIT
/* 'initrd-test report': merge the results of runs, suites and shards into one verdict for CI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/options.h"
#include "src/result.h"

static const char intro[] =
    "usage: initrd-test report [options] RESULTS.json...\n"
    "\n"
    "Merge the JSON results of 'initrd-test run' (one scenario, a suite, or the shards\n"
    "of a CI matrix) into one summary on stdout, and optionally one JUnit file and one\n"
    "JSON file. The exit code is the one a run of the whole suite would give.\n"
    "\n";

static const char outro[] =
    "examples:\n"
    "  initrd-test report results/*.json --junit junit.xml\n"
    "  initrd-test report --json merged.json shard-1.json shard-2.json shard-3.json\n"
    "\n"
    "exit codes: 0 every run passed (flaky ones too), else the most serious of the\n"
    "            runs': 130 interrupted, 1 failed or crashed, 4 timed out, 2 usage\n"
    "            error, 3 infrastructure error; 2 also for unreadable or bad files\n";

static const struct opt_group *const groups[] = {&output_options};
static const struct opt_cmd report_cmd = {"report",	      intro, outro, groups,
					  ARRAY_SIZE(groups), false};

/* A scenario in two files is worth a word: a shard matrix that ran something twice. */
static void warn_duplicates(const struct result_set *s, const int *from, char **files)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *a = s->runs[i].scenario;

		for (size_t j = i + 1; a && j < s->n; j++) {
			const char *b = s->runs[j].scenario;

			if (b && !strcmp(a, b) && from[i] != from[j]) {
				log_warn("scenario '%s' is in both '%s' and '%s'", a,
					 files[from[i]], files[from[j]]);
				break;
			}
		}
	}
}

/* Every file's runs into s; from[k] is the argv index of run k's file. EXIT_PASS or a code. */
static int merge(struct result_set *s, int **from, int argc, char **argv, int first)
{
	struct it_error err = IT_ERROR_INIT;

	for (int i = first; i < argc; i++) {
		size_t before = s->n;
		int *grown;

		if (result_json_load(s, argv[i], &err) < 0) {
			log_it_error(&err, err.code);
			return EXIT_USAGE;
		}
		grown = realloc(*from, (s->n ? s->n : 1) * sizeof(**from));
		if (!grown) {
			log_error("cannot merge '%s': %s", argv[i], strerror(ENOMEM));
			return EXIT_INFRA;
		}
		*from = grown;
		for (size_t k = before; k < s->n; k++)
			(*from)[k] = i;
	}
	if (s->n == 0) {
		log_error("no runs in %d report%s: nothing was tested", argc - first,
			  argc - first == 1 ? "" : "s");
		return EXIT_USAGE;
	}
	return EXIT_PASS;
}

/* --json, --junit, then the summary; the exit code of the whole. */
static int write_all(const struct result_set *s, const struct output_opts *o)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf out;
	int r = 0, code;

	if (o->json)
		r = result_write_json(s, o->json, &err);
	if (r == 0 && o->junit)
		r = result_write_junit(s, o->junit, &err);
	if (r < 0) {
		log_it_error(&err, r);
		return EXIT_INFRA;
	}
	buf_init(&out, 0);
	if (result_set_summary(s, o->quiet, &out) == 0)
		fwrite(out.data, 1, out.len, stdout);
	buf_release(&out);
	code = result_set_exit_code(s);
	if (fflush(stdout) != 0 && code == EXIT_PASS)
		code = EXIT_INFRA;
	return code;
}

int cmd_report(int argc, char **argv)
{
	struct output_opts o = {NULL, NULL, false};
	void *ctxs[] = {&o};
	struct result_set s;
	int *from = NULL;
	int first = opt_parse(&report_cmd, ctxs, argc, argv), code;

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	if (first >= argc) {
		opt_usage_error(&report_cmd, "no results given");
		return EXIT_USAGE;
	}
	result_set_init(&s);
	code = merge(&s, &from, argc, argv, first);
	if (code == EXIT_PASS) {
		warn_duplicates(&s, from, argv);
		code = write_all(&s, &o);
	}
	free(from);
	result_set_release(&s);
	return code;
}
