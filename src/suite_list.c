// SPDX-License-Identifier: MIT
/* Which scenarios a suite holds: discovery under directories, shards, and how many VMs at once. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "scenario/scenario.h"
#include "src/suite.h"

#define SUITE_MAX_DEPTH 16

void suite_list_init(struct suite_list *l)
{
	memset(l, 0, sizeof(*l));
}

static void entry_release(struct suite_entry *e)
{
	free(e->id);
	free(e->dir);
	memset(e, 0, sizeof(*e));
}

void suite_list_release(struct suite_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_release(&l->v[i]);
	free(l->v);
	strlist_clear(&l->skipped);
	suite_list_init(l);
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool dir_has_scenario(const char *dir)
{
	char path[PATH_MAX];

	return path_join(path, sizeof(path), dir, SCENARIO_FILE) == 0 && is_file(path);
}

bool suite_is_scenario(const char *path)
{
	return is_file(path) || (is_dir(path) && dir_has_scenario(path));
}

static int add_entry(struct suite_list *l, const char *id, const char *dir, long memory_mib)
{
	struct suite_entry *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	memset(&v[l->n], 0, sizeof(v[l->n]));
	v[l->n].id = strdup(id);
	v[l->n].dir = strdup(dir);
	v[l->n].memory_mib = memory_mib;
	v[l->n].weight_ms = -1;
	if (!v[l->n].id || !v[l->n].dir) {
		entry_release(&v[l->n]);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

/* Load a scenario to learn its memory and whether it has steps; a bad one is kept for the run. */
static int consider(struct suite_list *l, const char *id, const char *dir, bool explicit_)
{
	struct scenario s;
	long mem = 0;
	bool steps = true;
	int r;

	scenario_init(&s);
	if (scenario_load(&s, dir, NULL) == 0) {
		mem = s.vm.memory_mib > 0 ? s.vm.memory_mib : VM_DEFAULT_MEMORY_MIB;
		steps = s.nsteps > 0;
	}
	scenario_release(&s);
	if (!steps && !explicit_)
		return strlist_add(&l->skipped, id);
	r = add_entry(l, id, dir, mem);
	return r;
}

static int walk(struct suite_list *l, const char *root, const char *rel, unsigned depth,
		struct it_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX], id[PATH_MAX];
	struct strlist names = STRLIST_INIT;
	struct dirent *de;
	DIR *d = NULL;
	int r = 0;

	if (rel[0] ? path_join(dir, sizeof(dir), root, rel) < 0
		   : snprintf(dir, sizeof(dir), "%s", root) >= (int)sizeof(dir))
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", root, rel);
	d = opendir(dir);
	if (!d)
		return it_error_set(err, -errno, "cannot read directory '%s': %s", dir,
				    strerror(errno));
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			r = strlist_add(&names, de->d_name);
	}
	closedir(d);
	strlist_sort(&names);
	for (size_t i = 0; i < names.n && r == 0; i++) {
		if (path_join(path, sizeof(path), dir, names.v[i]) < 0 ||
		    (rel[0] ? path_join(id, sizeof(id), rel, names.v[i]) < 0
			    : snprintf(id, sizeof(id), "%s", names.v[i]) >= (int)sizeof(id))) {
			r = it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir,
					 names.v[i]);
			break;
		}
		if (!is_dir(path))
			continue;
		if (dir_has_scenario(path))
			r = consider(l, id, path, false);
		else if (depth < SUITE_MAX_DEPTH)
			r = walk(l, root, id, depth + 1, err);
	}
	strlist_clear(&names);
	if (r == -ENOMEM)
		it_error_set(err, r, "cannot search '%s': %s", root, strerror(ENOMEM));
	return r;
}

/* The id of a scenario named directly: its directory's name ("scenarios/net/" -> "net"). */
static int scenario_id(const char *path, char *out, size_t outsz)
{
	char tmp[PATH_MAX], *slash;
	size_t n;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (is_file(tmp)) {
		/* A file: the directory that holds it. */
		slash = strrchr(tmp, '/');
		if (!slash) {
			char cwd[PATH_MAX];

			if (!getcwd(cwd, sizeof(cwd)))
				return -errno;
			return scenario_id(cwd, out, outsz);
		}
		*slash = '\0';
	}
	n = strlen(tmp);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	slash = strrchr(tmp, '/');
	if (!strcmp(tmp, ".") || !strcmp(tmp, "..") ||
	    (slash && (!strcmp(slash, "/.") || !strcmp(slash, "/..")))) {
		char real[PATH_MAX];

		if (!realpath(tmp, real))
			return -errno;
		return scenario_id(real, out, outsz);
	}
	return snprintf(out, outsz, "%s", slash ? slash + 1 : tmp) >= (int)outsz ? -ENAMETOOLONG
										 : 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct suite_entry *)a)->id, ((const struct suite_entry *)b)->id);
}

int suite_discover(const char *const *paths, size_t n, struct suite_list *out, struct it_error *err)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		size_t before = out->n, skipped = out->skipped.n;
		char id[PATH_MAX];

		if (suite_is_scenario(paths[i])) {
			r = scenario_id(paths[i], id, sizeof(id));
			if (r < 0)
				it_error_set(err, r, "cannot name scenario '%s': %s", paths[i],
					     it_strerror(r));
			else
				r = consider(out, id, paths[i], true);
			continue;
		}
		if (!is_dir(paths[i])) {
			r = it_error_set(err, -IT_EUSAGE, "no scenario or directory '%s'",
					 paths[i]);
			it_error_hint(err,
				      "give a scenario directory (holding a file 'scenario') or "
				      "a directory of them");
			break;
		}
		r = walk(out, paths[i], "", 1, err);
		if (r == 0 && out->n == before) {
			r = it_error_set(err, -IT_EUSAGE, "no scenario with steps under '%s'%s",
					 paths[i], out->skipped.n > skipped ? " (only bases)" : "");
			it_error_hint(err, "a scenario is a directory holding a file 'scenario'");
		}
	}
	if (r == -ENOMEM)
		it_error_set(err, r, "cannot collect scenarios: %s", strerror(ENOMEM));
	if (r < 0)
		return r;
	qsort(out->v, out->n, sizeof(*out->v), entry_cmp);
	for (size_t i = 1; i < out->n; i++) {
		if (strcmp(out->v[i - 1].id, out->v[i].id))
			continue;
		r = it_error_set(err, -IT_EUSAGE, "two scenarios named '%s': '%s' and '%s'",
				 out->v[i].id, out->v[i - 1].dir, out->v[i].dir);
		it_error_hint(err, "rename one directory, or run them separately");
		return r;
	}
	return 0;
}
/* ---- shards ------------------------------------------------------------------------------- */

/*
 * '--shard auto' and 'auto/N': the shard from the CI engine running the job.
 * GitLab's parallel: sets CI_NODE_INDEX (1-based) and CI_NODE_TOTAL; a
 * Kubernetes Indexed Job sets JOB_COMPLETION_INDEX (0-based) and the total
 * comes from 'auto/N'.
 */
static int shard_auto(const char *s, struct suite_shard *out, struct it_error *err)
{
	const char *gi = getenv("CI_NODE_INDEX"), *gn = getenv("CI_NODE_TOTAL");
	const char *ki = getenv("JOB_COMPLETION_INDEX");
	long i = 0, n = 0;

	if (s[4] == '/' && !parse_long(s + 5, 1, 1000, &n))
		goto bad;
	if (s[4] != '\0' && s[4] != '/')
		goto bad;
	if (ki && n) {
		if (!parse_long(ki, 0, 999, &i))
			return it_error_set(err, -IT_EUSAGE,
					    "--shard %s: bad JOB_COMPLETION_INDEX '%s'", s, ki);
		i++;
	} else if (gi && gn) {
		long total;

		if (!parse_long(gi, 1, 1000, &i) || !parse_long(gn, 1, 1000, &total))
			return it_error_set(
			    err, -IT_EUSAGE,
			    "--shard %s: bad CI_NODE_INDEX '%s' or CI_NODE_TOTAL '%s'", s, gi, gn);
		if (n && n != total)
			return it_error_set(err, -IT_EUSAGE,
					    "--shard %s: CI_NODE_TOTAL is %ld, not %ld", s, total,
					    n);
		n = total;
	} else {
		it_error_set(err, -IT_EUSAGE,
			     "--shard %s: no shard in the environment (CI_NODE_INDEX and "
			     "CI_NODE_TOTAL%s)",
			     s, n ? ", or JOB_COMPLETION_INDEX" : "");
		it_error_hint(err, "GitLab's parallel: sets both; in a Kubernetes Indexed Job "
				   "give the total, --shard auto/N; elsewhere give I/N");
		return -IT_EUSAGE;
	}
	if (i > n)
		return it_error_set(err, -IT_EUSAGE, "--shard %s: shard %ld of %ld", s, i, n);
	out->index = (unsigned)i;
	out->count = (unsigned)n;
	return 0;
bad:
	return it_error_set(err, -IT_EUSAGE, "bad --shard '%s': give I/N, auto or auto/N", s);
}

int suite_shard_parse(const char *s, struct suite_shard *out, struct it_error *err)
{
	const char *slash = strchr(s, '/');
	char left[32];
	long i, n;

	if (strncmp(s, "auto", 4) == 0)
		return shard_auto(s, out, err);
	if (!slash || (size_t)(slash - s) >= sizeof(left))
		goto bad;
	memcpy(left, s, (size_t)(slash - s));
	left[slash - s] = '\0';
	if (!parse_long(left, 1, 1000, &i) || !parse_long(slash + 1, 1, 1000, &n) || i > n)
		goto bad;
	out->index = (unsigned)i;
	out->count = (unsigned)n;
	return 0;
bad:
	it_error_set(err, -IT_EUSAGE, "bad --shard '%s': give I/N with 1 <= I <= N, as in 2/3", s);
	return -IT_EUSAGE;
}

/* The recorded duration of scenario id in a report: its last run's total_ms, or -1. */
static int64_t recorded_ms(const struct result_set *report, const char *id)
{
	int64_t ms = -1;

	for (size_t i = 0; i < report->n; i++) {
		const struct result_run *run = &report->runs[i];

		if (run->scenario && !strcmp(run->scenario, id) && run->total_ms >= 0)
			ms = run->total_ms;
	}
	return ms;
}

struct weighted {
	size_t i;
	int64_t w;
	const char *id;
};

static int weighted_cmp(const void *a, const void *b)
{
	const struct weighted *x = a, *y = b;

	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	return strcmp(x->id, y->id);
}

int suite_shard_assign(struct suite_list *l, unsigned count, const struct result_set *durations,
		       unsigned *bins)
{
	struct weighted *order = NULL;
	int64_t *load = NULL, sum = 0;
	size_t known = 0;

	if (count == 0)
		return -EINVAL;
	for (size_t i = 0; i < l->n; i++) {
		l->v[i].weight_ms = durations ? recorded_ms(durations, l->v[i].id) : -1;
		if (l->v[i].weight_ms >= 0) {
			known++;
			sum += l->v[i].weight_ms;
		}
	}
	if (known == 0) {
		/* Nothing recorded: round-robin over the list, which is in id order. */
		for (size_t i = 0; i < l->n; i++)
			bins[i] = (unsigned)(i % count);
		return 0;
	}
	order = calloc(l->n ? l->n : 1, sizeof(*order));
	load = calloc(count, sizeof(*load));
	if (!order || !load) {
		free(order);
		free(load);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].weight_ms < 0)
			l->v[i].weight_ms = sum / (int64_t)known;
		order[i] = (struct weighted){i, l->v[i].weight_ms, l->v[i].id};
	}
	qsort(order, l->n, sizeof(*order), weighted_cmp);
	/* Longest processing time first, each into the least loaded bin. */
	for (size_t k = 0; k < l->n; k++) {
		unsigned best = 0;

		for (unsigned b = 1; b < count; b++) {
			if (load[b] < load[best])
				best = b;
		}
		bins[order[k].i] = best;
		load[best] += order[k].w;
	}
	free(order);
	free(load);
	return 0;
}

int suite_shard_select(struct suite_list *l, struct suite_shard sh,
		       const struct result_set *durations)
{
	unsigned *bins;
	size_t keep = 0;
	int r;

	if (sh.count == 0)
		return 0;
	bins = calloc(l->n ? l->n : 1, sizeof(*bins));
	if (!bins)
		return -ENOMEM;
	r = suite_shard_assign(l, sh.count, durations, bins);
	for (size_t i = 0; i < l->n && r == 0; i++) {
		if (bins[i] == sh.index - 1)
			l->v[keep++] = l->v[i];
		else
			entry_release(&l->v[i]);
	}
	if (r == 0)
		l->n = keep;
	free(bins);
	return r;
}
/* ---- parallel VMs ------------------------------------------------------------------------- */

long suite_default_jobs(long ncpu, long avail_mib, long vm_mib)
{
	long by_mem, j;

	if (ncpu < 1)
		ncpu = 1;
	if (vm_mib <= 0)
		vm_mib = VM_DEFAULT_MEMORY_MIB;
	by_mem = avail_mib / (vm_mib + SUITE_VM_OVERHEAD_MIB);
	j = ncpu < by_mem ? ncpu : by_mem;
	return j < 1 ? 1 : j;
}

int suite_host_capacity(long *ncpu, long *avail_mib)
{
	cpu_set_t set;
	char line[256];
	FILE *f;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int r = -ENOENT;

	/* A CI container's CPU set is what it may use, whatever the host has. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		n = CPU_COUNT(&set);
	*ncpu = n > 0 ? n : 1;
	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*avail_mib = (long)(kb / 1024);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}
