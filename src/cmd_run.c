// SPDX-License-Identifier: MIT
/* 'initrd-test run': build, boot and check one scenario, or run a suite of them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/run.h"
#include "src/scenario_find.h"
#include "src/suite.h"

static const char intro[] =
    "usage: initrd-test run [options] SCENARIO\n"
    "       initrd-test run [options] DIR|SCENARIO...\n"
    "\n"
    "Build the scenario's initrd (packages come from the cache when they can), boot it\n"
    "in qemu with the serial console on a pty, and check the console against the\n"
    "scenario's steps. The VM stops as soon as the last step passes.\n"
    "\n"
    "Given a directory of scenarios (or several scenarios), run them all as a suite:\n"
    "every directory below holding a file 'scenario' is one, except bases without\n"
    "steps. Each distinct initrd is built once; -j VMs boot at a time; each scenario\n"
    "gets OUT/NAME; the verdicts are merged into OUT/results.json.\n"
    "\n"
    "A bare NAME that is not here is an installed example scenario (networking,\n"
    "minimal, services, no-e1000 in " IT_DATADIR "/scenarios).\n"
    "\n"
    "Scenarios that share a 'checkpoint NAME' step (a base they include, with the\n"
    "same initrd, kernel, VM settings and steps up to it) boot once: the first run\n"
    "saves its VM there, the others restore it instead of booting and go on from\n"
    "the next step (\"restored from checkpoint NAME (boot skipped)\"). Saved VMs stay\n"
    "in the cache for later runs ('initrd-test cache'); a restore that fails boots.\n"
    "\n";

static const char outro[] =
    "examples:\n"
    "  initrd-test run scenarios/networking\n"
    "  initrd-test run --repo tests/data/alpine-3.19.1 --kernel host scenarios/networking\n"
    "  initrd-test run --junit results.xml -q scenarios/minimal\n"
    "  initrd-test run -j 2 --shard 1/3 --retries 1 -o out scenarios/\n"
    "  initrd-test run -j 2 --no-checkpoint tests/data/checkpoint\n"
    "\n"
    "exit codes: 0 passed, 1 failed or crashed, 2 usage or scenario error (also\n"
    "            packages that cannot be installed together: never retried),\n"
    "            3 infrastructure error (qemu, kernel, packages), 4 timed out;\n"
    "            a suite gives the most serious of its runs' (1, 4, 2, 3 in that order);\n"
    "            130 when Ctrl-C or SIGTERM ended the run or suite, at any point;\n"
    "            with --bisect: 0 passed, 1 failed, crashed or timed out, 125 anything\n"
    "            else (git bisect run skips it): git bisect run initrd-test run --bisect ...\n";

static const struct opt_group *const groups[] = {
    &run_own_options,	 &output_options,   &run_vm_options,  &run_suite_options,
    &overrides_packages, &overrides_kernel, &overrides_image, &overrides_lock,
};

static const struct opt_cmd run_cmd = {"run", intro, outro, groups, ARRAY_SIZE(groups), false};

/* A results.json to compare with (--baseline) or to balance shards by (--durations). */
static int load_report(const char *path, const char *what, struct result_set *out)
{
	struct it_error err = IT_ERROR_INIT;
	int r = result_json_load(out, path, &err);

	if (r < 0) {
		it_error_hint(&err, "%s wants the results.json of an earlier run", what);
		log_it_error(&err, r);
	}
	return r;
}

/* Each operand as a path: a bare name can be an installed example scenario. */
static char (*find_scenarios(int argc, char **argv, int first))[PATH_MAX]
{
	char(*found)[PATH_MAX] = calloc((size_t)(argc - first), sizeof(*found));

	for (int i = first; found && i < argc; i++)
		argv[i] = (char *)scenario_find(argv[i], found[i - first], sizeof(found[0]));
	return found;
}

static int run_main(struct run_opts *o, int argc, char **argv, int first)
{
	struct result_set baseline, durations;
	bool suite = argc - first > 1 || o->suite.sharded || !suite_is_scenario(argv[first]);
	int code = EXIT_USAGE;

	result_set_init(&baseline);
	result_set_init(&durations);
	if (suite && o->initrd) {
		opt_usage_error(&run_cmd, "--initrd boots one scenario, not a suite");
		return EXIT_USAGE;
	}
	/* Read what the runs compare with before any VM starts: a bad file is a usage error. */
	if (o->suite.baseline && load_report(o->suite.baseline, "--baseline", &baseline) < 0)
		goto out;
	if (o->suite.baseline)
		o->baseline = &baseline;
	if (o->suite.durations && load_report(o->suite.durations, "--durations", &durations) < 0)
		goto out;
	if (suite)
		code = suite_run((const char *const *)argv + first, (size_t)(argc - first), o,
				 o->suite.durations ? &durations : NULL);
	else
		code = run_scenario(argv[first], o);
out:
	o->baseline = NULL; /* it pointed here */
	result_set_release(&baseline);
	result_set_release(&durations);
	return code;
}

/* --bisect: git bisect run's codes; 125 skips a commit that cannot be tested. */
static int bisect_code(int code)
{
	if (code == EXIT_PASS || code == EXIT_INTERRUPTED)
		return code;
	if (code == EXIT_FAILED || code == EXIT_TIMEOUT)
		return 1;
	return 125;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	void *ctxs[] = {&o, &o.out, &o, &o, &o.ov, &o.ov, &o.ov, &o.ov};
	char(*found)[PATH_MAX];
	int first, code;

	run_opts_init(&o);
	first = opt_parse(&run_cmd, ctxs, argc, argv);
	if (first < 0) {
		run_opts_release(&o);
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	}
	if (first >= argc) {
		opt_usage_error(&run_cmd, "no scenario given");
		run_opts_release(&o);
		return EXIT_USAGE;
	}
	if (o.out.quiet && log_verbosity == LOG_NORMAL)
		log_verbosity = LOG_QUIET;
	found = find_scenarios(argc, argv, first);
	code = found ? run_main(&o, argc, argv, first) : EXIT_INFRA;
	free(found);
	if (o.bisect)
		code = bisect_code(code);
	run_opts_release(&o);
	return code;
}
