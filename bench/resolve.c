// SPDX-License-Identifier: MIT
/*
 * Resolve time: load signed indexes as a build does, then resolve a world N
 * times and print the median, the plan's size and the plan itself. With -p
 * COUNT it first picks the world: names of the last index in name order,
 * every STRIDE-th, each kept when the world with it still resolves, until
 * COUNT are kept (a satisfiable world of the index's packages, docs and
 * other light subpackages left out).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/err.h"
#include "common/strlist.h"
#include "common/util.h"

#define MAX_RUNS 1000

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void usage(void)
{
	fputs("usage: resolve [-n RUNS] [-p COUNT] KEYS_DIR WORLD_FILE APKINDEX.tar.gz...\n"
	      "  without -p WORLD_FILE is read (one dependency a line); with it, written\n",
	      stderr);
}

static int load(struct apk_db *db, const struct apk_trust *trust, const char *path,
		struct it_error *err)
{
	struct apk_signed_index ix;
	int r;

	apk_signed_index_init(&ix);
	r = apk_signed_index_open(path, trust, NULL, &ix, err);
	if (r == 0)
		r = apk_db_add_index_owned(db, ix.apkindex, ix.apkindex_len, path, path, err);
	ix.apkindex = NULL;
	apk_signed_index_release(&ix);
	return r;
}

/* A subpackage that depends on little (docs, translations, completions, init scripts). */
static bool is_leaf_subpackage(const char *name)
{
	static const char *const tails[] = {"-doc",    "-lang", "-completion", "-openrc",    "-dbg",
					    "-static", "-dev",	"-pyc",	       "-icon-theme"};
	size_t n = strlen(name);

	for (size_t i = 0; i < ARRAY_SIZE(tails); i++) {
		size_t t = strlen(tails[i]);

		if (n > t && !strcmp(name + n - t, tails[i]))
			return true;
	}
	return false;
}

/*
 * The world: names of the last repository (subpackages that depend on little
 * left out), every stride-th, kept while it resolves.
 */
static int pick(const struct apk_db *db, long count, struct strlist *world)
{
	const char **names = calloc(db->npkgs + 1, sizeof(*names));
	unsigned last = db->nrepos - 1;
	size_t n = 0, stride;
	struct apk_plan plan = APK_PLAN_INIT;

	if (!names)
		return -ENOMEM;
	for (uint32_t i = 0; i < db->npkgs; i++)
		if ((db->pkgs[i]->repos & (1u << last)) &&
		    !is_leaf_subpackage(db->pkgs[i]->name->name.ptr))
			names[n++] = db->pkgs[i]->name->name.ptr;
	qsort(names, n, sizeof(*names), cmp_str);
	stride = n / (size_t)(count * 4) + 1;
	for (size_t start = 0; start < stride && (long)world->n < count; start++) {
		for (size_t i = start; i < n && (long)world->n < count; i += stride) {
			struct it_error err = IT_ERROR_INIT;

			if ((i > 0 && !strcmp(names[i], names[i - 1])) ||
			    strlist_has(world, names[i]))
				continue;
			if (strlist_add(world, names[i]) < 0)
				return -ENOMEM;
			if (apk_resolve(db, world, &plan, &err) != 0) {
				free(world->v[--world->n]);
				world->v[world->n] = NULL;
			}
		}
	}
	apk_plan_release(&plan);
	free(names);
	return (long)world->n == count ? 0 : -IT_EUNSAT;
}

static int read_world(const char *path, struct strlist *world)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] && strlist_add(world, line) < 0) {
			fclose(f);
			return -ENOMEM;
		}
	}
	fclose(f);
	return 0;
}

static int write_world(const char *path, const struct strlist *world)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	for (size_t i = 0; i < world->n; i++)
		fprintf(f, "%s\n", world->v[i]);
	return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
	struct it_error err = IT_ERROR_INIT;
	struct strlist world = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct apk_trust trust;
	struct apk_db db;
	int64_t ns[MAX_RUNS], t_load;
	long runs = 20, count = 0;
	int c, r = 0;

	while ((c = getopt(argc, argv, "n:p:")) != -1) {
		if ((c == 'n' && parse_long(optarg, 1, MAX_RUNS, &runs)) ||
		    (c == 'p' && parse_long(optarg, 1, 10000, &count)))
			continue;
		usage();
		return 2;
	}
	if (argc - optind < 3) {
		usage();
		return 2;
	}
	apk_trust_init(&trust);
	apk_db_init(&db);
	t_load = now_ns();
	r = apk_trust_load(&trust, argv[optind], &err);
	for (int i = optind + 2; r == 0 && i < argc; i++)
		r = load(&db, &trust, argv[i], &err);
	t_load = now_ns() - t_load;
	if (r == 0 && count)
		r = pick(&db, count, &world);
	if (r == 0 && count)
		r = write_world(argv[optind + 1], &world);
	else if (r == 0)
		r = read_world(argv[optind + 1], &world);
	for (long i = 0; r == 0 && i < runs; i++) {
		int64_t t0 = now_ns();

		r = apk_resolve(&db, &world, &plan, &err);
		ns[i] = now_ns() - t0;
	}
	if (r == 0) {
		qsort(ns, (size_t)runs, sizeof(*ns), cmp_i64);
		printf("resolve: %zu names in the world, %zu packages in the plan, %u in the db\n",
		       world.n, plan.n, db.npkgs);
		printf("  keys and indexes loaded in %.2f ms\n", (double)t_load / 1e6);
		int64_t median = ns[runs / 2];

		printf("  median of %ld runs  %.2f ms\n", runs, (double)median / 1e6);
		for (size_t i = 0; i < plan.n; i++)
			printf("plan %s-%.*s\n", plan.pkgs[i]->name->name.ptr,
			       (int)plan.pkgs[i]->version.len, plan.pkgs[i]->version.ptr);
	} else {
		fprintf(stderr, "resolve: %s\n", err.msg[0] ? err.msg : it_strerror(r));
	}
	apk_plan_release(&plan);
	strlist_clear(&world);
	apk_db_release(&db);
	apk_trust_release(&trust);
	return r == 0 ? 0 : 3;
}
