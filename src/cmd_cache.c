// SPDX-License-Identifier: MIT
/* 'initrd-test cache': list and prune the saved checkpoints (src/checkpoint.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "src/checkpoint.h"
#include "src/cmds.h"
#include "src/options.h"
#include "src/runlog.h"

static const char intro[] =
    "usage: initrd-test cache [options] [list]\n"
    "       initrd-test cache [options] prune [--all] [--max-size SIZE] [--max-age DUR]\n"
    "\n"
    "The checkpoints that runs saved (a scenario's 'checkpoint NAME' step): each is\n"
    "one VM saved at that step, which later runs of scenarios with the same steps\n"
    "up to it, the same initrd, kernel, VM settings and qemu restore instead of\n"
    "booting. 'list' (the default) shows them, least recently used first: ID,\n"
    "NAME, the SCENARIO that saved it, SIZE, CREATED and USED ('broken' for one\n"
    "a crashed save left). 'prune' removes the broken ones, then those unused for\n"
    "longer than --max-age, then the least recently used until the rest fit in\n"
    "--max-size; without either it applies the bounds every save applies (30d,\n"
    "4G). A checkpoint a run is making or restoring stays. Downloaded packages\n"
    "(packages/ in the same directory) are never pruned, so that a lock's packages\n"
    "stay (docs/lockfile.md).\n"
    "\n";

static const char outro[] =
    "examples:\n"
    "  initrd-test cache\n"
    "  initrd-test cache prune --max-size 1G\n"
    "  initrd-test cache prune --all\n"
    "\n"
    "exit codes: 0 done, 2 usage error, 3 the cache cannot be read or changed\n";

enum { OPT_CACHE_DIR = 1, OPT_ALL, OPT_MAX_SIZE, OPT_MAX_AGE };

struct cache_opts {
	const char *cache;
	bool all, bounded;
	uint64_t max_bytes;
	int64_t max_age_s;
};

static const struct opt cache_opts_[] = {
    {OPT_CACHE_DIR, 0, "cache-dir", "DIR", "the cache (default $XDG_CACHE_HOME/initrd-test)"},
    {OPT_ALL, 0, "all", NULL, "prune: remove every checkpoint"},
    {OPT_MAX_SIZE, 0, "max-size", "SIZE", "prune: keep at most SIZE (1G, 500M; 0: no limit)"},
    {OPT_MAX_AGE, 0, "max-age", "DUR", "prune: remove those unused for longer (12h, 7d)"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct cache_opts *o = ctx;
	int64_t ms;

	switch (id) {
	case OPT_CACHE_DIR:
		o->cache = arg;
		return 0;
	case OPT_ALL:
		o->all = true;
		return 0;
	case OPT_MAX_SIZE:
		o->bounded = true;
		if (!runlog_parse_size(arg, &o->max_bytes))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --max-size '%s': give a size like 500M or 2G",
					    arg);
		return 0;
	default:
		o->bounded = true;
		if (!parse_duration_ms(arg, &ms))
			return it_error_set(err, -IT_EUSAGE,
					    "bad --max-age '%s': give a duration like 12h or 7d",
					    arg);
		o->max_age_s = ms / 1000;
		return 0;
	}
}

static const struct opt_group cache_group = OPT_GROUP(NULL, cache_opts_, take);
static const struct opt_group *const groups[] = {&cache_group};
static const struct opt_cmd cache_cmd = {"cache", intro, outro, groups, ARRAY_SIZE(groups), false};

static void format_time(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(out, outsz, "%Y-%m-%d %H:%M", &tm))
		snprintf(out, outsz, "?");
}

static int list(const struct cache_opts *o)
{
	struct checkpoint_list l;
	struct it_error err = IT_ERROR_INIT;
	char dir[4096], created[32], used[32];
	uint64_t total = 0;
	int r = checkpoint_list(o->cache, &l, &err);

	if (r < 0) {
		log_it_error(&err, r);
		return EXIT_INFRA;
	}
	checkpoint_dir(o->cache, dir, sizeof(dir));
	if (!l.n) {
		printf("no checkpoints in %s\n", dir);
		return EXIT_PASS;
	}
	printf("%-16s  %-16s  %-20s  %9s  %-16s  %s\n", "ID", "NAME", "SCENARIO", "SIZE", "CREATED",
	       "USED");
	for (size_t i = 0; i < l.n; i++) {
		const struct checkpoint_entry *e = &l.v[i];

		format_time(e->created, created, sizeof(created));
		format_time(e->used, used, sizeof(used));
		printf("%-16s  %-16s  %-20s  %7.1fMi  %-16s  %s%s\n", e->id, e->name, e->scenario,
		       (double)e->bytes / (1 << 20), created, used, e->broken ? "  broken" : "");
		total += e->bytes;
	}
	printf("%zu checkpoint%s, %.1f MiB in %s\n", l.n, l.n == 1 ? "" : "s",
	       (double)total / (1 << 20), dir);
	checkpoint_list_release(&l);
	return fflush(stdout) == 0 ? EXIT_PASS : EXIT_INFRA;
}

static int prune(const struct cache_opts *o)
{
	struct it_error err = IT_ERROR_INIT;
	int64_t age = o->bounded ? o->max_age_s : CHECKPOINT_MAX_AGE_S;
	uint64_t bytes = o->bounded ? o->max_bytes : CHECKPOINT_MAX_BYTES, freed = 0;
	size_t removed = 0;
	int r;

	if (o->bounded && !o->max_age_s)
		age = -1;
	r = checkpoint_prune(o->cache, o->all, age, bytes, NULL, &removed, &freed, &err);
	if (r < 0) {
		log_it_error(&err, r);
		return EXIT_INFRA;
	}
	printf("removed %zu checkpoint%s, %.1f MiB\n", removed, removed == 1 ? "" : "s",
	       (double)freed / (1 << 20));
	return fflush(stdout) == 0 ? EXIT_PASS : EXIT_INFRA;
}

int cmd_cache(int argc, char **argv)
{
	struct cache_opts o = {0};
	void *ctxs[] = {&o};
	int first = opt_parse(&cache_cmd, ctxs, argc, argv);
	const char *verb = first >= 0 && first < argc ? argv[first] : "list";

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : EXIT_USAGE;
	if (first < argc - 1) {
		opt_usage_error(&cache_cmd, "one of 'list' or 'prune', with nothing after it");
		return EXIT_USAGE;
	}
	if (!strcmp(verb, "list") && !o.all && !o.bounded)
		return list(&o);
	if (!strcmp(verb, "prune"))
		return prune(&o);
	if (!strcmp(verb, "list")) {
		opt_usage_error(&cache_cmd, "--all, --max-size and --max-age are for 'prune'");
		return EXIT_USAGE;
	}
	opt_usage_error(&cache_cmd, "unknown action: give 'list' or 'prune'");
	return EXIT_USAGE;
}
