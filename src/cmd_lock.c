// SPDX-License-Identifier: MIT
/* 'initrd-test lock': resolve a scenario's packages and write its initrd-test.lock. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "builder/builder.h"
#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/overrides.h"
#include "src/scenario_find.h"
#include "scenario/scenario.h"

static const char intro[] =
    "usage: initrd-test lock [options] -s SCENARIO\n"
    "       initrd-test lock [options] --lock FILE PACKAGE...\n"
    "\n"
    "Resolve the packages a scenario installs, as 'build' would, and write them to\n"
    "initrd-test.lock beside the scenario (or to --lock FILE): the format line, the\n"
    "arch, the repositories, the kernel package, then one line per package sorted\n"
    "by name with its version, its index checksum (C:) and its repository\n"
    "(docs/lockfile.md). Commit it: 'build' and 'run' then install exactly those\n"
    "packages, checked against the lock's checksums, until --update-lock; --frozen\n"
    "fails when resolving again would change it. Only the indexes are downloaded.\n"
    "\n";

static const char outro[] =
    "examples:\n"
    "  initrd-test lock -s scenarios/networking\n"
    "  initrd-test build -s scenarios/networking --frozen -o initrd.img\n"
    "\n"
    "exit codes: 0 written, 2 usage or scenario error, or packages that cannot be\n"
    "            installed together, 3 the indexes cannot be had or trusted, or the\n"
    "            lock cannot be written\n";

enum { OPT_SCENARIO = 1, OPT_LOCK };

struct lock_opts {
	struct overrides ov;
	const char *scenario;
	char found[PATH_MAX];
};

static const struct opt own_opts[] = {
    {OPT_SCENARIO, 's', "scenario", "DIR", "lock what scenario DIR installs"},
    {OPT_LOCK, 0, "lock", "FILE", "write FILE (default: initrd-test.lock beside the scenario)"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct lock_opts *o = ctx;

	(void)err;
	if (id == OPT_LOCK)
		o->ov.lock = arg;
	else
		o->scenario = scenario_find(arg, o->found, sizeof(o->found));
	return 0;
}

static const struct opt_group own_group = OPT_GROUP(NULL, own_opts, take);
static const struct opt_group *const groups[] = {&own_group, &overrides_packages,
						 &overrides_kernel};
static const struct opt_cmd lock_cmd = {"lock", intro, outro, groups, ARRAY_SIZE(groups), false};

static int lock_run(struct lock_opts *o, int argc, char **argv)
{
	struct it_error err = IT_ERROR_INIT;
	struct build_result res;
	struct scenario s;
	int r = 0;

	scenario_init(&s);
	memset(&res, 0, sizeof(res));
	o->ov.write_lock = true;
	if (!o->scenario && !o->ov.lock)
		r = it_error_set(&err, -IT_EUSAGE,
				 "give --scenario DIR, or --lock FILE and packages");
	if (r == 0)
		r = overrides_load(&s, o->scenario, &o->ov, argc, argv, &err);
	if (r == 0)
		r = scenario_resolve_kernel(&s, &err);
	s.build.dry_run = true;
	if (r == 0)
		r = builder_build(&s.build, &res, &err);
	if (r == 0)
		printf("%s: %zu packages\n", s.build.lock_file, res.plan.n);
	if (r < 0)
		log_it_error(&err, r);
	build_result_release(&res);
	scenario_release(&s);
	return exit_code_for(r);
}

int cmd_lock(int argc, char **argv)
{
	struct lock_opts o;
	void *ctxs[] = {&o, &o.ov, &o.ov};
	int first, code;

	memset(&o, 0, sizeof(o));
	overrides_init(&o.ov);
	first = opt_parse(&lock_cmd, ctxs, argc, argv);
	if (first < 0)
		code = first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	else
		code = lock_run(&o, argc - first, argv + first);
	overrides_release(&o.ov);
	return code;
}
