// SPDX-License-Identifier: MIT
/* 'initrd-test report': merge the results of runs, suites and shards into one verdict for CI. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "src/cmds.h"
#include "src/suite.h"

static const char report_usage[] =
    "usage: initrd-test report [options] RESULTS.json...\n"
    "\n"
    "Merge the JSON results of 'initrd-test run' (one scenario, a suite, or the shards\n"
    "of a CI matrix) into one summary on stdout, and optionally one JUnit file and one\n"
    "JSON file. The exit code is the one a run of the whole suite would give.\n"
    "\n"
    "      --junit FILE       one JUnit XML file with every run\n"
    "      --json FILE        one JSON report with every run (a later --durations or\n"
    "                         --baseline of 'run' reads it)\n"
    "  -q, --quiet            only the runs that did not pass, and the totals\n"
    "  -h, --help             this help\n"
    "\n"
    "examples:\n"
    "  initrd-test report results/*.json --junit junit.xml\n"
    "  initrd-test report --json merged.json shard-1.json shard-2.json shard-3.json\n"
    "\n"
    "exit codes: 0 every run passed (flaky ones too), else the most serious of the\n"
    "            runs': 130 interrupted, 1 failed or crashed, 4 timed out, 2 usage\n"
    "            error, 3 infrastructure error; 2 also for unreadable or bad files\n";

/* A scenario in two files is worth a word: a shard matrix that ran something twice. */
static void warn_duplicates(const struct suite_report *r, const size_t *from, char **files)
{
	for (size_t i = 0; i < r->runs.n; i++) {
		const char *a = jv_str(jv_get(&r->runs.items[i], "scenario"));

		for (size_t j = i + 1; a && j < r->runs.n; j++) {
			const char *b = jv_str(jv_get(&r->runs.items[j], "scenario"));

			if (b && !strcmp(a, b) && from[i] != from[j]) {
				log_warn("scenario '%s' is in both '%s' and '%s'", a,
					 files[from[i]], files[from[j]]);
				break;
			}
		}
	}
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"junit", required_argument, NULL, 'J'},
	    {"json", required_argument, NULL, 'S'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct it_error err = IT_ERROR_INIT;
	struct suite_report rep;
	const char *junit = NULL, *json = NULL;
	size_t *from = NULL;
	bool quiet = false;
	struct buf out;
	int c, r = 0, code;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(report_usage, stdout);
			return EXIT_PASS;
		case 'J':
			junit = optarg;
			break;
		case 'S':
			json = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			fprintf(stderr, "try 'initrd-test report --help'\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		log_error("no results given");
		fprintf(stderr, "try 'initrd-test report --help'\n");
		return EXIT_USAGE;
	}
	suite_report_init(&rep);
	buf_init(&out, 0);
	from = calloc((size_t)argc, sizeof(*from));
	if (!from) {
		log_error("cannot merge: out of memory");
		return EXIT_INFRA;
	}
	for (int i = optind; i < argc && r == 0; i++) {
		size_t before = rep.runs.n;

		r = suite_report_add_file(&rep, argv[i], &err);
		if (r == 0 && rep.runs.n > before) {
			size_t *grown = realloc(from, (rep.runs.n + (size_t)argc) * sizeof(*from));

			if (!grown) {
				r = it_error_set(&err, -ENOMEM, "cannot merge '%s': out of memory",
						 argv[i]);
				break;
			}
			from = grown;
			for (size_t k = before; k < rep.runs.n; k++)
				from[k] = (size_t)i;
		}
	}
	if (r < 0) {
		log_it_error(&err, r);
		code = EXIT_USAGE;
		goto out;
	}
	if (rep.runs.n == 0) {
		log_error("no runs in %d report%s: nothing was tested", argc - optind,
			  argc - optind == 1 ? "" : "s");
		code = EXIT_USAGE;
		goto out;
	}
	warn_duplicates(&rep, from, argv);
	if (json)
		r = suite_report_write_json(&rep, json, &err);
	if (r == 0 && junit)
		r = suite_report_write_junit(&rep, junit, &err);
	if (r < 0) {
		log_it_error(&err, r);
		code = EXIT_INFRA;
		goto out;
	}
	r = suite_report_summary(&rep, quiet, &out);
	if (r == 0)
		fwrite(out.data, 1, out.len, stdout);
	code = suite_report_exit_code(&rep);
	if (fflush(stdout) != 0 && code == EXIT_PASS)
		code = EXIT_INFRA;
out:
	free(from);
	buf_release(&out);
	suite_report_release(&rep);
	return code;
}
