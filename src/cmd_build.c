// SPDX-License-Identifier: MIT
/* 'initrd-test build' and 'initrd-test resolve': a scenario or a package list to an initrd or a
 * plan. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/overrides.h"
#include "src/run.h"
#include "src/sbom.h"
#include "src/scenario_find.h"
#include "src/signals.h"
#include "scenario/scenario.h"

static const char build_intro[] =
    "usage: initrd-test build [options] [PACKAGE...]\n"
    "\n"
    "Build a bootable Alpine Linux initrd straight from APK repositories: indexes,\n"
    "dependency resolution, verified downloads (cached), then a reproducible newc\n"
    "cpio. No root, no chroot, no loop mounts. Packages and configuration come from\n"
    "a scenario (--scenario) and/or the command line.\n"
    "\n"
    "\n";

static const char build_outro[] =
    "examples:\n"
    "  initrd-test build -s scenarios/networking -o out/initrd.img\n"
    "  initrd-test build --repo tests/data/alpine-3.19.1 --kernel host --module e1000 \\\n"
    "      -o initrd.img alpine-base\n"
    "  initrd-test build --release v3.19 --dry-run alpine-base openssh\n"
    "  initrd-test build -s scenarios/networking --frozen --sbom sbom.spdx.json\n"
    "\n"
    "A scenario's initrd-test.lock (written by 'initrd-test lock') pins every\n"
    "package: build takes exactly those, checked against the lock's checksums.\n"
    "\n"
    "SOURCE_DATE_EPOCH sets every mtime (default: the newest package's build time),\n"
    "so the same inputs give the same bytes.\n"
    "\n"
    "exit codes: 0 built, 2 usage or scenario error, or packages that cannot be\n"
    "            installed together (nothing provides one, a conflict), 3\n"
    "            infrastructure error (mirror, download, checksum, signature, kernel)\n";

static const char resolve_intro[] =
    "usage: initrd-test resolve [options] [PACKAGE...]\n"
    "\n"
    "Print the install plan (what 'build' would install, in order) for the packages\n"
    "given, or for a scenario's. Nothing is downloaded but the indexes.\n"
    "\n"
    "\n";

static const char resolve_outro[] =
    "exit codes: 0 resolved, 2 usage or scenario error, or packages that cannot be\n"
    "            installed together (the chain that fails is named), 3 the indexes\n"
    "            cannot be had or trusted\n";

enum { OPT_SCENARIO = 1, OPT_OUTPUT, OPT_KERNEL_OUT, OPT_ROOTFS, OPT_DRY_RUN };

/* What build and resolve are told besides the shared groups; strings borrowed from argv. */
struct build_opts {
	struct overrides ov;
	const char *scenario, *output, *kernel_out, *rootfs;
	char found[PATH_MAX]; /* an installed scenario's directory */
	bool dry_run;
};

static const struct opt build_opts_[] = {
    {OPT_SCENARIO, 's', "scenario", "DIR",
     "build what scenario DIR declares (docs/scenario-format.md)"},
    {OPT_OUTPUT, 'o', "output", "FILE",
     "the initrd (default initrd.img); written only when complete"},
    {OPT_KERNEL_OUT, 0, "kernel-out", "FILE",
     "where the kernel image goes (default: vmlinuz beside FILE)"},
    {OPT_ROOTFS, 0, "rootfs", "DIR", "also write the tree to DIR, for inspection"},
    {OPT_DRY_RUN, 'n', "dry-run", NULL, "resolve and print the install plan, build nothing"},
};

static const struct opt resolve_opts_[] = {
    {OPT_SCENARIO, 's', "scenario", "DIR", "the scenario's packages"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct build_opts *o = ctx;

	(void)err;
	switch (id) {
	case OPT_SCENARIO:
		o->scenario = scenario_find(arg, o->found, sizeof(o->found));
		break;
	case OPT_OUTPUT:
		o->output = arg;
		break;
	case OPT_KERNEL_OUT:
		o->kernel_out = arg;
		break;
	case OPT_ROOTFS:
		o->rootfs = arg;
		break;
	default:
		o->dry_run = true;
		break;
	}
	return 0;
}

static const struct opt_group build_group = OPT_GROUP(NULL, build_opts_, take);
static const struct opt_group resolve_group = OPT_GROUP(NULL, resolve_opts_, take);
static const struct opt_group *const build_groups[] = {
    &build_group, &overrides_packages, &overrides_kernel, &overrides_image, &overrides_lock};
static const struct opt_group *const resolve_groups[] = {&resolve_group, &overrides_packages,
							 &overrides_kernel, &overrides_image};
static const struct opt_cmd build_cmd = {
    "build", build_intro, build_outro, build_groups, ARRAY_SIZE(build_groups), false};
static const struct opt_cmd resolve_cmd = {
    "resolve", resolve_intro, resolve_outro, resolve_groups, ARRAY_SIZE(resolve_groups), false};

/* Load the scenario (or start empty), add PACKAGE args, apply overrides, settle defaults. */
static int prepare(struct scenario *s, const char *scenario, const struct overrides *o, int argc,
		   char **argv, struct it_error *err)
{
	int r = overrides_load(s, scenario, o, argc, argv, err);

	if (r == 0 && s->build.packages.n == 0 && scenario)
		r = it_error_set(err, -IT_EUSAGE,
				 "%s: no packages: add a line such as 'packages alpine-base', or "
				 "name some after the options",
				 s->path);
	else if (r == 0 && s->build.packages.n == 0)
		r = it_error_set(err, -IT_EUSAGE, "no packages: name some, or give --scenario DIR");
	if (r == 0)
		r = scenario_resolve_kernel(s, err);
	if (r == 0)
		r = run_agent_setup(s, err);
	return r;
}

static void print_result(const struct build_result *res, const struct build_config *cfg)
{
	if (res->scripts_skipped.n) {
		log_info("install scripts not run (rootless build; what boot needs was done):");
		for (size_t i = 0; i < res->scripts_skipped.n; i++)
			log_info("  %s", res->scripts_skipped.v[i]);
	}
	if (res->kernel_path)
		log_info("kernel %s -> %s", res->kernel_version ? res->kernel_version : "?",
			 res->kernel_path);
	log_info("%s: %zu packages, %llu entries, %.1f MiB (index %lld ms, resolve %lld ms, "
		 "fetch %lld ms, assemble %lld ms, write %lld ms)",
		 cfg->output, res->plan.n, res->files, (double)res->initrd_bytes / 1048576.0,
		 (long long)res->ms_index, (long long)res->ms_resolve, (long long)res->ms_fetch,
		 (long long)res->ms_assemble, (long long)res->ms_write);
}

/* The outputs go into the scenario's build config; NULL strings stay the builder's defaults. */
static int set_outputs(struct scenario *s, const struct build_opts *o)
{
	s->build.dry_run = o->dry_run;
	if (o->dry_run)
		return 0;
	free(s->build.output);
	s->build.output = strdup(o->output ? o->output : "initrd.img");
	if (o->kernel_out)
		s->build.kernel_out = strdup(o->kernel_out);
	if (o->rootfs)
		s->build.rootfs_dir = strdup(o->rootfs);
	if (!s->build.output || (o->kernel_out && !s->build.kernel_out) ||
	    (o->rootfs && !s->build.rootfs_dir))
		return -ENOMEM;
	return 0;
}

/* SIGINT and SIGTERM cancel the build (src/signals.h): nothing half-written stays. */
static int build(const struct build_opts *o, int argc, char **argv)
{
	struct it_error err = IT_ERROR_INIT;
	struct build_result res;
	struct sig_guard sg;
	struct scenario s;
	int r;

	scenario_init(&s);
	memset(&res, 0, sizeof(res));
	sig_catch(&sg);
	sig_open(true);
	r = prepare(&s, o->scenario, &o->ov, argc, argv, &err);
	if (r == 0 && set_outputs(&s, o) < 0)
		r = it_error_set(&err, -ENOMEM, "cannot build: %s", strerror(ENOMEM));
	s.build.cancel = &sig_caught;
	if (r == 0 && o->dry_run && s.build.sbom_file)
		r = it_error_set(&err, -IT_EUSAGE,
				 "--sbom describes an initrd: not with --dry-run");
	if (r == 0)
		r = builder_build(&s.build, &res, &err);
	if (r == 0 && !o->dry_run)
		r = sbom_write(&s.build, &res, &err);
	if (r == 0 && o->dry_run)
		fputs(res.plan_text ? res.plan_text : "", stdout);
	else if (r == 0)
		print_result(&res, &s.build);
	if (r < 0)
		log_it_error(&err, r);
	sig_release(&sg);
	build_result_release(&res);
	scenario_release(&s);
	return exit_code_for(r);
}

static int build_main(int argc, char **argv, bool resolve_only)
{
	const struct opt_cmd *cmd = resolve_only ? &resolve_cmd : &build_cmd;
	struct build_opts o;
	void *ctxs[] = {&o, &o.ov, &o.ov, &o.ov, &o.ov};
	int first, code;

	memset(&o, 0, sizeof(o));
	overrides_init(&o.ov);
	o.dry_run = resolve_only;
	first = opt_parse(cmd, ctxs, argc, argv);
	if (first < 0)
		code = first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	else
		code = build(&o, argc - first, argv + first);
	overrides_release(&o.ov);
	return code;
}

int cmd_build(int argc, char **argv)
{
	return build_main(argc, argv, false);
}

int cmd_resolve(int argc, char **argv)
{
	return build_main(argc, argv, true);
}
