// SPDX-License-Identifier: MIT
/* 'initrd-test build' and 'initrd-test resolve': a scenario or a package list to an initrd or a
 * plan. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/overrides.h"
#include "scenario/scenario.h"

static const char build_usage[] =
    "usage: initrd-test build [options] [PACKAGE...]\n"
    "\n"
    "Build a bootable Alpine Linux initrd straight from APK repositories: indexes,\n"
    "dependency resolution, verified downloads (cached), then a reproducible newc\n"
    "cpio. No root, no chroot, no loop mounts. Packages and configuration come from\n"
    "a scenario (--scenario) and/or the command line.\n"
    "\n"
    "  -s, --scenario DIR     build what scenario DIR declares (docs/scenario-format.md)\n"
    "  -o, --output FILE      the initrd (default initrd.img); written only when complete\n"
    "      --kernel-out FILE  where the kernel image goes (default: vmlinuz beside FILE)\n"
    "      --rootfs DIR       also write the tree to DIR, for inspection\n"
    "  -n, --dry-run          resolve and print the install plan, build nothing\n"
    "  -h, --help             this help\n"
    "\n" OVERRIDES_HELP "\n"
    "examples:\n"
    "  initrd-test build -s scenarios/networking -o out/initrd.img\n"
    "  initrd-test build --repo tests/data/alpine-3.19.1 --kernel host --module e1000 \\\n"
    "      -o initrd.img alpine-base\n"
    "  initrd-test build --release v3.19 --dry-run alpine-base openssh\n"
    "\n"
    "SOURCE_DATE_EPOCH sets every mtime (default: the newest package's build time),\n"
    "so the same inputs give the same bytes.\n";

static const char resolve_usage[] =
    "usage: initrd-test resolve [options] [PACKAGE...]\n"
    "\n"
    "Print the install plan (what 'build' would install, in order) for the packages\n"
    "given, or for a scenario's. Nothing is downloaded but the indexes.\n"
    "\n"
    "  -s, --scenario DIR     the scenario's packages\n"
    "  -h, --help             this help\n"
    "\n" OVERRIDES_HELP;

static int usage_error(const char *cmd)
{
	fprintf(stderr, "try 'initrd-test %s --help'\n", cmd);
	return EXIT_USAGE;
}

int exit_code_for(int code)
{
	switch (-code) {
	case 0:
		return EXIT_PASS;
	case IT_EUSAGE:
	case IT_ESCENARIO:
		return EXIT_USAGE;
	case IT_EFAIL:
		return EXIT_FAILED;
	case IT_ETIMEOUT:
		return EXIT_TIMEOUT;
	case IT_EINTERRUPTED:
		return EXIT_INTERRUPTED;
	default:
		return EXIT_INFRA;
	}
}

/* The first SIGINT or SIGTERM of a build: builder_build() stops at it (cfg.cancel). */
static volatile sig_atomic_t build_signal;

static void on_build_signal(int sig)
{
	if (!build_signal)
		build_signal = sig;
}

void build_signals_catch(struct build_signals *bs, void (*on_signal)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a download's wait ends at once and the build sees the flag. */
	sigemptyset(&bs->set);
	add_interrupt_signals(&bs->set);
	if (sigismember(&bs->set, SIGINT) && sigaction(SIGINT, &sa, &bs->old_int) < 0)
		sigdelset(&bs->set, SIGINT);
	if (sigismember(&bs->set, SIGTERM) && sigaction(SIGTERM, &sa, &bs->old_term) < 0)
		sigdelset(&bs->set, SIGTERM);
}

void build_signals_restore(const struct build_signals *bs)
{
	if (sigismember(&bs->set, SIGINT))
		sigaction(SIGINT, &bs->old_int, NULL);
	if (sigismember(&bs->set, SIGTERM))
		sigaction(SIGTERM, &bs->old_term, NULL);
}

/* Load the scenario (or start empty), add PACKAGE args, apply overrides, settle defaults. */
static int prepare(struct scenario *s, const char *scenario, const struct overrides *o, int argc,
		   char **argv, struct it_error *err)
{
	int r = 0;

	if (scenario)
		r = scenario_load(s, scenario, err);
	for (int i = 0; r == 0 && i < argc; i++)
		if (!strlist_has(&s->build.packages, argv[i]))
			r = strlist_add(&s->build.packages, argv[i]);
	if (r == 0)
		r = overrides_apply(o, s, err);
	if (r == 0 && s->build.repos.n == 0)
		r = strlist_addf(&s->build.repos, "%s/%s/main", BUILDER_DEFAULT_MIRROR,
				 BUILDER_DEFAULT_RELEASE);
	if (r == 0 && s->build.packages.n == 0 && scenario)
		r = it_error_set(err, -IT_EUSAGE,
				 "%s: no packages: add a line such as 'packages alpine-base', or "
				 "name some after the options",
				 s->path);
	else if (r == 0 && s->build.packages.n == 0)
		r = it_error_set(err, -IT_EUSAGE, "no packages: name some, or give --scenario DIR");
	if (r == 0)
		r = scenario_resolve_kernel(s, err);
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
		 cfg->output, res->plan.n, res->files, res->initrd_bytes / 1048576.0,
		 (long long)res->ms_index, (long long)res->ms_resolve, (long long)res->ms_fetch,
		 (long long)res->ms_assemble, (long long)res->ms_write);
}

static int build_main(int argc, char **argv, bool resolve_only)
{
	static const struct option opts[] = {
	    {"scenario", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    {"kernel-out", required_argument, NULL, 'K'},
	    {"rootfs", required_argument, NULL, 'R'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    OVERRIDES_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = resolve_only ? "resolve" : "build";
	struct it_error err = IT_ERROR_INIT;
	struct overrides ov;
	struct scenario s;
	struct build_result res;
	struct build_signals bs;
	const char *scenario = NULL, *output = "initrd.img", *kernel_out = NULL, *rootfs = NULL;
	bool dry_run = resolve_only;
	int c, r;

	overrides_init(&ov);
	scenario_init(&s);
	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, "s:o:nhr:j:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			scenario = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'K':
			kernel_out = optarg;
			break;
		case 'R':
			rootfs = optarg;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'h':
			fputs(resolve_only ? resolve_usage : build_usage, stdout);
			r = EXIT_PASS;
			goto done;
		case 'r':
			c = OPT_REPO;
			/* fallthrough */
		default:
			r = overrides_take(&ov, c, optarg, &err);
			if (r == 0) {
				r = usage_error(cmd);
				goto done;
			}
			if (r < 0) {
				log_it_error(&err, r);
				r = usage_error(cmd);
				goto done;
			}
		}
	}
	r = prepare(&s, scenario, &ov, argc - optind, argv + optind, &err);
	if (r < 0)
		goto fail;
	s.build.dry_run = dry_run;
	if (!dry_run) {
		free(s.build.output);
		s.build.output = strdup(output);
		if (kernel_out)
			s.build.kernel_out = strdup(kernel_out);
		if (rootfs)
			s.build.rootfs_dir = strdup(rootfs);
	}
	build_signal = 0;
	s.build.cancel = &build_signal;
	build_signals_catch(&bs, on_build_signal);
	r = builder_build(&s.build, &res, &err);
	build_signals_restore(&bs);
	if (r < 0)
		goto fail;
	if (dry_run)
		fputs(res.plan_text ? res.plan_text : "", stdout);
	else
		print_result(&res, &s.build);
	r = EXIT_PASS;
	goto done;
fail:
	log_it_error(&err, r);
	r = exit_code_for(r);
done:
	build_result_release(&res);
	scenario_release(&s);
	overrides_release(&ov);
	return r;
}

int cmd_build(int argc, char **argv)
{
	return build_main(argc, argv, false);
}

int cmd_resolve(int argc, char **argv)
{
	return build_main(argc, argv, true);
}
