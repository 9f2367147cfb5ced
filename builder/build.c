// SPDX-License-Identifier: MIT
/* The build pipeline: indexes, resolution, downloads, the in-memory tree, configuration, cpio. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"

/*
 * An output the write phase replaces. A hard link keeps the old file until
 * the build is over, so that a write phase cut short (a cancel, a full disk
 * for the kernel) puts back what was there, or nothing, instead of leaving a
 * new initrd beside an old kernel or a result the user asked to stop.
 */
struct out_file {
	const char *path;
	char saved[PATH_MAX]; /* "PATH.tmp.PID.old", a link to the old file; "" if none */
	bool written;	      /* the new file is at path */
};

static void out_save(struct out_file *o, const char *path)
{
	int n;

	o->path = path;
	o->written = false;
	o->saved[0] = '\0';
	n = snprintf(o->saved, sizeof(o->saved), "%s.tmp.%ld.old", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(o->saved)) {
		o->saved[0] = '\0';
		return;
	}
	unlink(o->saved); /* a leftover of a killed run with our pid */
	/* No old file, or no hard links here: then nothing can be put back. */
	if (link(path, o->saved) < 0)
		o->saved[0] = '\0';
}

/* The build failed: the old file back if the new one replaced it, else just no new file. */
static void out_undo(struct out_file *o)
{
	if (!o->path)
		return;
	if (o->saved[0] && o->written)
		rename(o->saved, o->path);
	else if (o->saved[0])
		unlink(o->saved); /* still a second name of the file at path */
	else if (o->written)
		unlink(o->path);
	o->saved[0] = '\0';
	o->written = false;
}

/* The build is done: forget the old file. */
static void out_keep(struct out_file *o)
{
	if (o->path && o->saved[0])
		unlink(o->saved);
	o->saved[0] = '\0';
}

/* Everything one build holds; released in reverse order by build_release(). */
struct build {
	const struct build_config *cfg;
	struct build_result *res;
	const char *arch;
	char cache_dir[PATH_MAX];
	char keys_dir[PATH_MAX];
	struct apk_trust trust;
	struct apk_db db;
	struct apk_plan plan;
	struct tree tree;
	struct apkdb installed; /* /lib/apk/db/installed */
	struct buf triggers;	/* /lib/apk/db/triggers */
	struct rootfs_script *scripts;
	size_t nscripts, scripts_alloc;
	char **pkg_paths; /* per plan entry: where its .apk is */
	int64_t newest_build_time;
	bool untrusted_warned;
	struct kernel_result kernel;
	struct out_file initrd_file, kernel_file;
};

/* Between phases: stop if the caller asked to (cfg->cancel, see builder_build()). */
static int check_cancelled(const struct build *b, struct it_error *err)
{
	if (!b->cfg->cancel || !*b->cfg->cancel)
		return 0;
	return it_error_set(err, -IT_EINTERRUPTED, "%s", builder_cancel_reason(*b->cfg->cancel));
}

const char *builder_default_cache_dir(void)
{
	static char dir[PATH_MAX];
	const char *x = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (x && x[0] == '/')
		snprintf(dir, sizeof(dir), "%s/initrd-test", x);
	else if (home && home[0])
		snprintf(dir, sizeof(dir), "%s/.cache/initrd-test", home);
	else
		snprintf(dir, sizeof(dir), "/tmp/initrd-test-cache-%ld", (long)getuid());
	return dir;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *builder_default_keys_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("INITRD_TEST_KEYS");
	char exe[PATH_MAX - 8];

	if (env && env[0])
		return env;
	/* Beside the binary first: a build tree's own keys win over an older install. */
	if (exe_dir(exe, sizeof(exe))) {
		snprintf(dir, sizeof(dir), "%s/keys", exe);
		if (is_dir(dir))
			return dir;
	}
	snprintf(dir, sizeof(dir), "%s/keys", install_path(exe, sizeof(exe), IT_DATADIR));
	return dir;
}

/* The URL or path of a file under a repository: REPO/ARCH/NAME. */
static int repo_file(char *out, size_t outsz, const char *repo, const char *arch, const char *name)
{
	size_t len = strlen(repo);
	int n;

	while (len > 1 && repo[len - 1] == '/')
		len--;
	n = snprintf(out, outsz, "%.*s/%s/%s", (int)len, repo, arch, name);
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	return 0;
}

static void build_release(struct build *b)
{
	if (b->pkg_paths) {
		for (size_t i = 0; i < b->plan.n; i++)
			free(b->pkg_paths[i]);
		free(b->pkg_paths);
	}
	free(b->scripts);
	kernel_result_release(&b->kernel);
	apkdb_release(&b->installed);
	buf_release(&b->triggers);
	tree_release(&b->tree);
	apk_plan_release(&b->plan);
	apk_db_release(&b->db);
	apk_trust_release(&b->trust);
}

static void warn_untrusted(struct build *b, const struct apk_verify *v)
{
	if (!v->untrusted)
		return;
	log_warn("UNTRUSTED: %s (accepted because of --allow-untrusted)", v->reason);
	b->untrusted_warned = true;
}

/* One batch of downloads: n requests, each with its check, URL and cache path. */
struct fetch_set {
	size_t n;
	struct fetch_req *reqs;
	struct apk_check *checks;
	char (*urls)[PATH_MAX];
	char (*paths)[PATH_MAX];
};

static void fetch_set_release(struct fetch_set *s)
{
	if (s->reqs)
		for (size_t i = 0; i < s->n; i++)
			fetch_req_release(&s->reqs[i]);
	free(s->reqs);
	free(s->checks);
	free(s->urls);
	free(s->paths);
	memset(s, 0, sizeof(*s));
}

static int fetch_set_alloc(struct fetch_set *s, size_t n)
{
	s->n = n;
	s->reqs = calloc(n, sizeof(*s->reqs));
	s->checks = calloc(n, sizeof(*s->checks));
	s->urls = calloc(n, sizeof(*s->urls));
	s->paths = calloc(n, sizeof(*s->paths));
	if (!s->reqs || !s->checks || !s->urls || !s->paths) {
		fetch_set_release(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		fetch_req_init(&s->reqs[i]);
	return 0;
}

/* Download (or find in the cache) the whole set, with the build's options. */
static int fetch_set_run(struct build *b, struct fetch_set *s, struct it_error *err)
{
	struct fetch_opts fo;

	fetch_opts_init(&fo);
	fo.cache_dir = b->cache_dir;
	fo.offline = b->cfg->offline;
	fo.interrupted = b->cfg->cancel;
	if (b->cfg->jobs > 0)
		fo.max_parallel = b->cfg->jobs;
	return fetch_batch(&fo, s->reqs, s->n, err);
}

/*
 * A repository as given: "URL" or apk's tagged "@TAG URL". The URL (or
 * directory), with the tag in *tag (len 0: none).
 */
static const char *repo_split(const char *spec, struct blob *tag)
{
	const char *sp;

	*tag = BLOB_NULL;
	if (spec[0] != '@' || !(sp = strchr(spec, ' ')))
		return spec;
	*tag = (struct blob){(size_t)(sp - spec - 1), spec + 1};
	return sp + strspn(sp, " ");
}

/* Fetch, verify and parse every repository's APKINDEX.tar.gz, in priority order. */
static int load_indexes(struct build *b, struct it_error *err)
{
	const struct build_config *cfg = b->cfg;
	size_t n = cfg->repos.n;
	struct fetch_set set = {0};
	int r = 0;

	if (n == 0)
		return it_error_set(err, -IT_EUSAGE, "no repository given");
	r = fetch_set_alloc(&set, n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct blob tag;

		r = repo_file(set.urls[i], sizeof(set.urls[i]), repo_split(cfg->repos.v[i], &tag),
			      b->arch, "APKINDEX.tar.gz");
		if (r == 0)
			r = fetch_index_cache_path(set.paths[i], sizeof(set.paths[i]), b->cache_dir,
						   set.urls[i]);
		if (r < 0) {
			it_error_set(err, r, "repository '%s': name too long", cfg->repos.v[i]);
			goto out;
		}
		set.checks[i].trust = &b->trust;
		set.reqs[i].url = set.urls[i];
		set.reqs[i].cache_path = set.paths[i];
		set.reqs[i].revalidate = true;
		set.reqs[i].label = "APKINDEX";
		set.reqs[i].verify = apk_check_index_download;
		set.reqs[i].verify_ctx = &set.checks[i];
	}
	r = fetch_set_run(b, &set, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct apk_signed_index ix;

		apk_signed_index_init(&ix);
		r = apk_signed_index_open(set.reqs[i].path, &b->trust, NULL, &ix, err);
		if (r < 0) {
			if (fetch_is_remote(set.urls[i]))
				it_error_hint(err, "the cached index may be damaged: remove '%s'",
					      set.reqs[i].path);
			apk_signed_index_release(&ix);
			goto out;
		}
		warn_untrusted(b, &ix.verify);
		struct blob tag;
		const char *url = repo_split(cfg->repos.v[i], &tag);

		r = apk_db_add_index_owned(&b->db, ix.apkindex, ix.apkindex_len, url, set.urls[i],
					   err);
		ix.apkindex = NULL;
		if (r == 0 && tag.len)
			r = apk_db_tag_repo(&b->db, b->db.nrepos - 1, tag, err);
		log_verbose("index %s: %s%s", set.urls[i], ix.description,
			    set.reqs[i].outcome == FETCH_NOT_MODIFIED ? " (not modified)" : "");
		apk_signed_index_release(&ix);
		if (r < 0)
			goto out;
	}
out:
	fetch_set_release(&set);
	return r;
}

/* What is asked for: the packages, and the kernel package. */
static int world_of(struct build *b, struct strlist *world, struct it_error *err)
{
	int r = strlist_copy(world, &b->cfg->packages);

	if (r == 0 && b->cfg->kernel_package && !strlist_has(world, b->cfg->kernel_package))
		r = strlist_add(world, b->cfg->kernel_package);
	if (r == 0 && world->n == 0)
		r = it_error_set(err, -IT_EUSAGE, "no packages to install");
	return r;
}

static int resolve_world(struct build *b, struct it_error *err)
{
	struct strlist world = STRLIST_INIT;
	int r;

	r = world_of(b, &world, err);
	if (r == 0)
		r = apk_resolve(&b->db, &world, &b->plan, err);
	strlist_clear(&world);
	return r;
}

/* Is every positive world entry provided by a package of the set (in_set, by package id)? */
static int lock_covers_world(struct build *b, const struct strlist *world, const bool *in_set,
			     const char *file, struct it_error *err)
{
	for (size_t i = 0; i < world->n; i++) {
		const char *w = world->v[i];
		struct apk_dep d = {NULL, BLOB_NULL, 0, false, 0};
		struct blob name, tag;
		bool ok = false;
		int op;

		if (!apk_dep_split(blob_str(w), &name, &op, &d.version, &d.conflict))
			continue; /* the resolver's message is better: --update-lock gives it */
		blob_split(name, '@', &name, &tag); /* the name without its @tag */
		d.op = (uint8_t)op;
		d.name = apk_db_find_name(&b->db, name);
		if (d.conflict)
			continue;
		for (uint32_t k = 0; d.name && !ok && k < d.name->nproviders; k++)
			ok = in_set[d.name->providers[k].pkg->id] &&
			     apk_dep_satisfied_by(&d, &d.name->providers[k]);
		if (!ok) {
			it_error_set(err, -IT_ESCENARIO,
				     "'%s' is asked for, but no package of '%s' is it", w, file);
			it_error_hint(err,
				      "the package list changed: give --update-lock to resolve "
				      "it again and rewrite the lock");
			return -IT_ESCENARIO;
		}
	}
	return 0;
}

/* The index's package for a locked one: same name, version and checksum, the locked repo first. */
static int locked_pkg(struct build *b, const struct lock_pkg *lp, const char *file,
		      const struct apk_pkg **out, struct it_error *err)
{
	const struct apk_name *nm = apk_db_find_name(&b->db, blob_str(lp->name));
	const struct apk_pkg *same_version = NULL;
	struct buf csum;

	*out = NULL;
	buf_init(&csum, 0);
	for (uint32_t k = 0; nm && k < nm->nproviders; k++) {
		const struct apk_pkg *p = nm->providers[k].pkg;

		if (p->name != nm || !blob_eq_str(p->version, lp->version))
			continue;
		same_version = p;
		buf_reset(&csum);
		if (apk_pkg_format_csum(p, &csum) < 0 || strcmp(csum.data, lp->csum))
			continue;
		if (!*out || !strcmp(b->db.repos[apk_pkg_repo(p)].label, lp->repo))
			*out = p;
	}
	if (!*out && same_version) {
		buf_reset(&csum);
		apk_pkg_format_csum(same_version, &csum);
		it_error_set(err, -IT_ECHECKSUM,
			     "%s:%u: '%s-%s': the lock's checksum %s is not the index's (%s in %s)",
			     file, lp->line, lp->name, lp->version, lp->csum, csum.data,
			     b->db.repos[apk_pkg_repo(same_version)].label);
		it_error_hint(err, "a lock changes only with 'initrd-test lock' or --update-lock; "
				   "find out why the package differs before you rewrite it");
	} else if (!*out) {
		it_error_set(err, -IT_ENOTFOUND,
			     "%s:%u: locked package '%s@%s' is in no repository's index", file,
			     lp->line, lp->name, lp->version);
		it_error_hint(err,
			      "give --update-lock to take what the repositories have now, or add a "
			      "--repo (a mirror or a local directory) that still holds it, or "
			      "build --offline with a --cache-dir that has its old index");
	}
	buf_release(&csum);
	return *out ? 0 : err->code;
}

/* The plan from a lock: each package by its exact identity, in apk's order; nothing resolved. */
static int plan_from_lock(struct build *b, const struct lock *l, const char *file,
			  struct it_error *err)
{
	const struct apk_pkg **pkgs = calloc(l->n + 1, sizeof(*pkgs));
	uint8_t *tags = calloc(l->n + 1, 1);
	bool *in_set = calloc(b->db.npkgs + 1, sizeof(*in_set));
	struct strlist world = STRLIST_INIT;
	int r = pkgs && tags && in_set ? 0 : -ENOMEM;

	if (r == 0 && strcmp(l->arch, b->arch))
		r = it_error_set(err, -IT_ESCENARIO, "'%s' is locked for %s, not %s", file, l->arch,
				 b->arch);
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		int tag = apk_db_find_tag(&b->db, blob_str(l->pkgs[i].tag));

		r = locked_pkg(b, &l->pkgs[i], file, &pkgs[i], err);
		if (r == 0 && tag < 0)
			r = it_error_set(err, -IT_ESCENARIO, "%s:%u: no repository is tagged '@%s'",
					 file, l->pkgs[i].line, l->pkgs[i].tag);
		if (r == 0) {
			tags[i] = (uint8_t)tag;
			in_set[pkgs[i]->id] = true;
		}
	}
	if (r == 0)
		r = world_of(b, &world, err);
	if (r == 0)
		r = lock_covers_world(b, &world, in_set, file, err);
	if (r == 0)
		r = apk_plan_order(&b->db, &world, pkgs, tags, l->n, &b->plan, err);
	if (r == 0)
		log_info("packages from %s: %zu locked", file, l->n);
	strlist_clear(&world);
	free(in_set);
	free(tags);
	free(pkgs);
	return r;
}

/* The plan as the lock mode says: from the lock, or resolved (and checked against it). */
static int plan_phase(struct build *b, struct it_error *err)
{
	const struct build_config *cfg = b->cfg;
	struct lock was, now;
	struct buf diff;
	int r = 0;

	lock_init(&was);
	lock_init(&now);
	buf_init(&diff, 0);
	if (cfg->lock_file && cfg->lock_mode != BUILD_LOCK_WRITE)
		r = lock_load(&was, cfg->lock_file, err);
	if (r == -ENOENT && cfg->lock_mode == BUILD_LOCK_FROZEN) {
		r = it_error_set(err, -IT_ESCENARIO, "--frozen: there is no lock '%s'",
				 cfg->lock_file);
		it_error_hint(err, "write one with 'initrd-test lock' and commit it");
	}
	if (r == 0 && cfg->lock_file && cfg->lock_mode == BUILD_LOCK_USE) {
		b->res->from_lock = true;
		r = plan_from_lock(b, &was, cfg->lock_file, err);
		goto out;
	}
	if (r == -ENOENT)
		r = 0;
	if (r == 0)
		r = resolve_world(b, err);
	if (r == 0 && cfg->lock_mode == BUILD_LOCK_FROZEN) {
		r = lock_from_plan(&now, &b->db, &b->plan, b->arch, &cfg->repos,
				   cfg->kernel_package);
		if (r == 0 && lock_diff(&was, &now, &diff)) {
			r = it_error_set(err, -IT_ESCENARIO, "--frozen: '%s' would change: %s",
					 cfg->lock_file, diff.data);
			it_error_hint(err,
				      "give --update-lock to rewrite it, and review the change");
		}
		b->res->from_lock = r == 0;
	}
out:
	buf_release(&diff);
	lock_release(&now);
	lock_release(&was);
	return r;
}

/* BUILD_LOCK_WRITE: the plan into the lock, once everything else succeeded. */
static int write_lock(struct build *b, struct it_error *err)
{
	struct lock l;
	int r;

	if (!b->cfg->lock_file || b->cfg->lock_mode != BUILD_LOCK_WRITE)
		return 0;
	lock_init(&l);
	r = lock_from_plan(&l, &b->db, &b->plan, b->arch, &b->cfg->repos, b->cfg->kernel_package);
	if (r < 0)
		r = it_error_set(err, r, "cannot write '%s': %s", b->cfg->lock_file,
				 it_strerror(r));
	else
		r = lock_write(&l, b->cfg->lock_file, err);
	if (r == 0)
		log_info("wrote %s: %zu packages", b->cfg->lock_file, l.n);
	lock_release(&l);
	return r;
}

static void blob_cpy(char *out, size_t outsz, struct blob s)
{
	size_t n = s.len < outsz - 1 ? s.len : outsz - 1;

	if (n)
		memcpy(out, s.ptr, n);
	out[n] = '\0';
}

/* Download (or find locally) every package of the plan; verification happens on open. */
static int fetch_packages(struct build *b, struct it_error *err)
{
	size_t n = b->plan.n;
	struct fetch_set set = {0};
	char(*labels)[310] = calloc(n, sizeof(*labels));
	int r = fetch_set_alloc(&set, n);

	b->pkg_paths = calloc(n, sizeof(*b->pkg_paths));
	if (r < 0 || !labels || !b->pkg_paths) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct apk_pkg *p = b->plan.pkgs[i];
		const char *repo = b->db.repos[apk_pkg_repo(p)].label;
		char file[320], name[200], ver[100];

		blob_cpy(name, sizeof(name), p->name->name);
		blob_cpy(ver, sizeof(ver), p->version);
		snprintf(labels[i], sizeof(labels[i]), "%s-%s", name, ver);
		snprintf(file, sizeof(file), "%s.apk", labels[i]);
		r = repo_file(set.urls[i], sizeof(set.urls[i]), repo, b->arch, file);
		if (r == 0)
			r = fetch_pkg_cache_path(set.paths[i], sizeof(set.paths[i]), b->cache_dir,
						 name, ver, p->csum, p->csum_kind);
		if (r < 0) {
			it_error_set(err, r, "package '%s': path too long", labels[i]);
			goto out;
		}
		set.checks[i].trust = &b->trust;
		set.checks[i].expect.name = p->name->name;
		set.checks[i].expect.version = p->version;
		set.checks[i].expect.csum = p->csum_kind ? p->csum : NULL;
		set.checks[i].expect.csum_len = p->csum_kind;
		set.checks[i].expect.size = p->size ? (long long)p->size : -1;
		set.reqs[i].url = set.urls[i];
		set.reqs[i].cache_path = set.paths[i];
		set.reqs[i].expected_size = p->size ? (long long)p->size : -1;
		set.reqs[i].label = labels[i];
		set.reqs[i].verify = apk_check_pkg_download;
		set.reqs[i].verify_ctx = &set.checks[i];
	}
	r = fetch_set_run(b, &set, err);
	if (r == -IT_ECHECKSUM && b->res->from_lock && err)
		/* The index agreed with the lock (plan_from_lock): the file is what differs. */
		snprintf(err->hint, sizeof(err->hint),
			 "'%s' locked the index's checksum: the file served is not the package "
			 "that was locked; do not --update-lock before you know why",
			 b->cfg->lock_file);
	for (size_t i = 0; r == 0 && i < n; i++) {
		b->pkg_paths[i] = strdup(set.reqs[i].path);
		if (!b->pkg_paths[i])
			r = -ENOMEM;
	}
out:
	fetch_set_release(&set);
	free(labels);
	return r;
}

struct unpack_ctx {
	struct build *b;
	const struct tree_pkg *owner;
	const char *file; /* the .apk, for messages */
	struct it_error *err;
};

/* apk's installed db: a directory, or a file unless the package before keeps it (owner). */
static int add_installed(struct unpack_ctx *u, const struct apk_entry *e,
			 const struct tree_pkg *old)
{
	const struct tree_node *n;

	if (S_ISDIR(e->mode))
		return apkdb_dir(&u->b->installed, e->path, e->mode, e->uid, e->gid);
	if (old && old != u->owner) {
		n = tree_lookup(&u->b->tree, e->path, false);
		if (n && n->owner != u->owner)
			return 0;
		apkdb_drop(&u->b->installed, old->name, e->path);
	}
	return apkdb_file(&u->b->installed, e->path, e->mode, e->uid, e->gid, e->sha1, e->hardlink);
}

static int unpack_entry(void *ctx, const struct apk_entry *e)
{
	struct unpack_ctx *u = ctx;
	struct tree_entry te = {0};
	const char *base = strrchr(e->path, '/');
	const struct tree_node *prev;
	const struct tree_pkg *old = NULL;
	int r;

	/* Before the skips below: "../x" starts with '.' too, and a package that has it is hostile.
	 */
	if (apk_path_unsafe(e->path))
		return it_error_set(u->err, -IT_EPATH,
				    "'%s' in '%s': unsafe path (absolute or '..')", e->path,
				    u->file);
	/* As apk 2.x: top-level names starting with '.' are metadata (.PKGINFO, .dummy). */
	if (e->path[0] == '.')
		return 0;
	/* apk skips '.keep_*' placeholders that keep empty directories in packages. */
	if (!strncmp(base ? base + 1 : e->path, ".keep_", 6))
		return 0;
	te.path = e->path;
	te.mode = e->mode;
	te.uid = e->uid;
	te.gid = e->gid;
	te.mtime = e->mtime;
	te.content = e->content;
	te.size = (size_t)e->size;
	te.link_target = e->link_target;
	te.hardlink = e->hardlink;
	te.devmajor = e->devmajor;
	te.devminor = e->devminor;
	prev = tree_lookup(&u->b->tree, e->path, false);
	if (prev && !tree_is_dir(prev))
		old = prev->owner;
	r = tree_add(&u->b->tree, &te, u->owner, u->err);
	if (r < 0) {
		/* The tree names the path; say which package file it came from too. */
		it_error_hint(u->err, "the entry is in '%s'", u->file);
		return r;
	}
	return add_installed(u, e, old);
}

static int add_script(struct build *b, const char *name, const char *version, const char *action)
{
	if (b->nscripts == b->scripts_alloc) {
		size_t alloc = b->scripts_alloc ? b->scripts_alloc * 2 : 16;
		struct rootfs_script *s = realloc(b->scripts, alloc * sizeof(*s));

		if (!s)
			return -ENOMEM;
		b->scripts = s;
		b->scripts_alloc = alloc;
	}
	b->scripts[b->nscripts++] = (struct rootfs_script){name, version, action};
	return 0;
}

/* Scripts are recorded in plan order; triggers are run last by rootfs_run_scripts(). */
static int record_scripts(struct build *b, const struct apk_file *f, const struct tree_pkg *owner)
{
	static const struct {
		enum apk_script_type type;
		const char *action;
	} wanted[] = {
	    {APK_SCRIPT_PRE_INSTALL, "pre-install"},
	    {APK_SCRIPT_POST_INSTALL, "post-install"},
	    {APK_SCRIPT_TRIGGER, "trigger"},
	};

	for (size_t w = 0; w < ARRAY_SIZE(wanted); w++) {
		for (size_t i = 0; i < f->nscripts; i++) {
			int r;

			if (f->scripts[i].type != wanted[w].type)
				continue;
			r = add_script(b, owner->name, f->info.pkgver, wanted[w].action);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* lib/apk/db/scripts.tar's members of one package: the last script of each type, as apk. */
static int add_scripts_tar(struct build *b, const struct apk_pkg *p, const struct apk_file *f)
{
	struct buf name = BUF_INIT;
	int r = 0;

	buf_init(&name, 0);
	for (int t = 0; !r && t < APK_SCRIPT_MAX; t++) {
		const struct apk_script *sc = NULL;

		for (size_t i = 0; i < f->nscripts; i++)
			if (f->scripts[i].type == (enum apk_script_type)t)
				sc = &f->scripts[i];
		if (!sc)
			continue;
		buf_reset(&name);
		r = buf_addf(&name, "%.*s-%.*s.", (int)p->name->name.len, p->name->name.ptr,
			     (int)p->version.len, p->version.ptr);
		if (!r)
			r = apk_pkg_format_csum(p, &name);
		if (!r)
			r = buf_addf(&name, ".%s", apk_script_name((enum apk_script_type)t));
		if (!r)
			r = apkdb_script(&b->installed, name.data, sc->content.ptr,
					 sc->content.len);
	}
	buf_release(&name);
	return r;
}

/* lib/apk/db/triggers, in install order as apk 2.14: "Q1CSUM /dir /dir...". */
static int add_triggers(struct build *b, const struct apk_pkg *p, const struct strlist *t)
{
	int r = 0;

	if (t->n == 0)
		return 0;
	r = apk_pkg_format_csum(p, &b->triggers);
	for (size_t i = 0; !r && i < t->n; i++)
		r = buf_addf(&b->triggers, " %s", t->v[i]);
	return r ? r : buf_addch(&b->triggers, '\n');
}

/* As apk: a package for another architecture (not noarch) is not installed. */
static int check_arch(const struct build *b, const struct apk_file *f, const char *path,
		      struct it_error *err)
{
	const char *a = f->info.arch;

	if (!a || !strcmp(a, "noarch") || !strcmp(a, b->arch))
		return 0;
	it_error_set(err, -IT_EFORMAT, "package '%s' is for '%s', not for '%s'", path, a, b->arch);
	it_error_hint(err, "use a repository for %s, or set 'arch %s' in the scenario", b->arch, a);
	return -IT_EFORMAT;
}
static int unpack_package(struct build *b, size_t i, struct it_error *err)
{
	const struct apk_pkg *p = b->plan.pkgs[i];
	struct apk_pkg_expect exp = APK_PKG_EXPECT_INIT;
	struct apk_pkg_extra extra = {NULL, 0};
	struct apk_verify v;
	struct apk_file *f;
	const struct tree_pkg *owner = NULL;
	struct unpack_ctx u;
	char *replaces = NULL;
	struct buf header = BUF_INIT;
	int r;

	/* The tree keeps borrowed script fields (pkgver) alive: keep every file open. */
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	apk_file_init(f);
	exp.name = p->name->name;
	exp.version = p->version;
	exp.csum = p->csum_kind ? p->csum : NULL;
	exp.csum_len = p->csum_kind;
	exp.size = p->size ? (long long)p->size : -1;
	r = apk_pkg_open_verified(f, b->pkg_paths[i], &b->trust, &exp, NULL, &v, err);
	if (r < 0) {
		free(f);
		return r;
	}
	warn_untrusted(b, &v);
	r = check_arch(b, f, b->pkg_paths[i], err);
	if (r < 0)
		goto out;
	/* The bill of materials' SHA-256 of the .apk, from the bytes already mapped. */
	if (i < b->res->npkgs && EVP_Digest(f->raw.ptr, f->raw.len, b->res->pkgs[i].sha256, NULL,
					    EVP_sha256(), NULL) != 1) {
		r = it_error_set(err, -ENOMEM, "cannot read '%s': %s", b->pkg_paths[i],
				 it_strerror(-ENOMEM));
		goto out;
	}
	if ((int64_t)f->info.builddate > b->newest_build_time)
		b->newest_build_time = (int64_t)f->info.builddate;
	r = tree_package(&b->tree, f->info.pkgname, f->info.origin, &f->info.replaces,
			 f->info.has_replaces_priority ? f->info.replaces_priority : 0, &owner);
	if (r < 0)
		goto out;
	if (f->info.replaces.n) {
		struct buf rb = BUF_INIT;

		buf_init(&rb, 0);
		for (size_t k = 0; k < f->info.replaces.n; k++)
			buf_addf(&rb, "%s%s", k ? " " : "", f->info.replaces.v[k]);
		replaces = buf_detach(&rb, NULL);
		extra.replaces = replaces;
		extra.replaces_priority = (unsigned)f->info.replaces_priority;
	}
	buf_init(&header, 0);
	r = apk_pkg_format_installed(p, f->info.replaces.n ? &extra : NULL, &header, err);
	if (r == 0)
		r = apkdb_pkg(&b->installed, owner->name, header.data, header.len);
	buf_release(&header);
	if (r == 0)
		r = add_triggers(b, p, &f->info.triggers);
	if (r < 0)
		goto out;
	u = (struct unpack_ctx){b, owner, b->pkg_paths[i], err};
	r = apk_file_foreach(f, unpack_entry, &u, err);
	if (r == 0)
		r = record_scripts(b, f, owner);
	if (r == 0)
		r = add_scripts_tar(b, p, f);
out:
	free(replaces);
	apk_file_release(f);
	free(f);
	return r;
}

static int add_text(struct build *b, const char *path, const char *text, struct it_error *err)
{
	return tree_add_file(&b->tree, path, 0644, 0, 0, text, strlen(text), err);
}

/*
 * The initrd's epoch: the configured one, else SOURCE_DATE_EPOCH, else the newest package's
 * build time (set once the packages are unpacked); -1 when SOURCE_DATE_EPOCH is not a number.
 */
static int64_t build_epoch(const struct build *b)
{
	return b->cfg->source_date_epoch >= 0 ? b->cfg->source_date_epoch
					      : source_date_epoch(b->newest_build_time);
}

/* /etc/apk: world, repositories, arch; /lib/apk/db/installed: so apk works in the guest. */
static int write_apk_db(struct build *b, struct it_error *err)
{
	struct buf s = BUF_INIT;
	int64_t epoch;
	int r;

	buf_init(&s, 0);
	for (size_t i = 0; i < b->cfg->packages.n; i++)
		buf_addf(&s, "%s\n", b->cfg->packages.v[i]);
	if (b->cfg->kernel_package)
		buf_addf(&s, "%s\n", b->cfg->kernel_package);
	r = add_text(b, "etc/apk/world", s.data, err);
	buf_reset(&s);
	for (size_t i = 0; r == 0 && i < b->cfg->repos.n; i++) {
		const char *repo = b->cfg->repos.v[i];
		struct blob tag;

		/* The guest cannot see the host's directories: list only what it could reach. */
		if (fetch_is_remote(repo_split(repo, &tag)))
			buf_addf(&s, "%s\n", repo);
	}
	if (r == 0)
		r = add_text(b, "etc/apk/repositories", s.data, err);
	buf_reset(&s);
	buf_addf(&s, "%s\n", b->arch);
	if (r == 0)
		r = add_text(b, "etc/apk/arch", s.data, err);
	buf_reset(&s);
	if (r == 0 && apkdb_format(&b->installed, &s) < 0)
		r = it_error_set(err, -ENOMEM, "lib/apk/db/installed: out of memory");
	if (r == 0)
		r = tree_add_file(&b->tree, "lib/apk/db/installed", 0644, 0, 0, s.data, s.len, err);
	/* As apk 2.14 leaves them: the triggers of the packages that have some, an empty lock. */
	if (r == 0)
		r = tree_add_file(&b->tree, "lib/apk/db/triggers", 0644, 0, 0, b->triggers.data,
				  b->triggers.len, err);
	if (r == 0)
		r = tree_add_file(&b->tree, "lib/apk/db/lock", 0600, 0, 0, NULL, 0, err);
	/* Its mtimes are the initrd's epoch; write_outputs() refuses a bad SOURCE_DATE_EPOCH. */
	epoch = build_epoch(b);
	buf_reset(&s);
	if (r == 0 && apkdb_scripts_tar(&b->installed, epoch < 0 ? 0 : epoch, &s) < 0)
		r = it_error_set(err, -ENOMEM, "lib/apk/db/scripts.tar: out of memory");
	if (r == 0)
		r = tree_add_file(&b->tree, "lib/apk/db/scripts.tar", 0644, 0, 0, s.data, s.len,
				  err);
	buf_release(&s);
	return r;
}

static int assemble(struct build *b, struct it_error *err)
{
	/* Before the packages, as apk --initdb: their directories AND their modes in. */
	int r = rootfs_add_initdb(&b->tree, err);

	for (size_t i = 0; r == 0 && i < b->plan.n; i++) {
		size_t scripts = b->nscripts;

		log_verbose("unpacking %s", b->pkg_paths[i]);
		r = unpack_package(b, i, err);
		/* apk makes lib/apk/exec (0700) to run the first package script in. */
		if (r == 0 && b->nscripts > scripts &&
		    !tree_lookup(&b->tree, "lib/apk/exec", false))
			r = tree_add_dir(&b->tree, "lib/apk/exec", 0700, 0, 0, err);
		if (r == 0)
			r = check_cancelled(b, err);
	}
	if (r == 0)
		r = write_apk_db(b, err);
	if (r == 0)
		r = rootfs_apply(&b->tree, b->cfg, b->scripts, b->nscripts,
				 &b->res->scripts_skipped, err);
	return r;
}

/* A copy of an index field, NULL when the record has none. */
static int bom_str(char **out, struct blob v)
{
	*out = NULL;
	if (!v.ptr)
		return 0;
	*out = blob_dup(v);
	return *out ? 0 : -ENOMEM;
}

/* Which plan entries satisfy p's dependencies (plan_of: plan index + 1 by package id). */
static int bom_deps(const struct apk_pkg *p, const size_t *plan_of, struct build_pkg *bp)
{
	bp->deps = calloc(p->depends.n + 1, sizeof(*bp->deps));
	if (!bp->deps)
		return -ENOMEM;
	for (uint32_t d = 0; d < p->depends.n; d++) {
		const struct apk_dep *dep = &p->depends.v[d];

		for (uint32_t k = 0; !dep->conflict && k < dep->name->nproviders; k++) {
			const struct apk_provider *pv = &dep->name->providers[k];
			size_t at = plan_of[pv->pkg->id];

			if (at && apk_dep_satisfied_by(dep, pv)) {
				bp->deps[bp->ndeps++] = at - 1;
				break;
			}
		}
	}
	return 0;
}

/* The plan's packages as the bill of materials lists them (res->pkgs). */
static int bom_packages(struct build *b)
{
	size_t n = b->plan.n, *plan_of = calloc(b->db.npkgs + 1, sizeof(*plan_of));
	int r = 0;

	b->res->pkgs = calloc(n + 1, sizeof(*b->res->pkgs));
	if (!plan_of || !b->res->pkgs) {
		free(plan_of);
		return -ENOMEM;
	}
	b->res->npkgs = n;
	for (size_t i = 0; i < n; i++)
		plan_of[b->plan.pkgs[i]->id] = i + 1;
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct apk_pkg *p = b->plan.pkgs[i];
		struct build_pkg *bp = &b->res->pkgs[i];
		struct buf csum;
		char url[PATH_MAX], file[320];

		r = bom_str(&bp->name, p->name->name);
		if (r == 0)
			r = bom_str(&bp->version, p->version);
		if (r == 0)
			r = bom_str(&bp->arch, p->arch.ptr ? p->arch : blob_str(b->arch));
		if (r == 0)
			r = bom_str(&bp->license, p->license);
		if (r == 0)
			r = bom_str(&bp->maintainer, p->maintainer);
		if (r == 0)
			r = bom_str(&bp->homepage, p->url);
		if (r == 0)
			r = bom_str(&bp->description, p->description);
		if (r == 0)
			r = bom_str(&bp->origin, p->origin);
		buf_init(&csum, 0);
		if (r == 0 && p->csum_kind)
			r = apk_pkg_format_csum(p, &csum);
		if (r == 0 && p->csum_kind)
			bp->csum = buf_detach(&csum, NULL);
		if (p->csum_kind == APK_CHECKSUM_SHA1) {
			memcpy(bp->sha1, p->csum, sizeof(bp->sha1));
			bp->has_sha1 = true;
		}
		buf_release(&csum);
		if (r == 0 &&
		    snprintf(file, sizeof(file), "%s-%s.apk", bp->name, bp->version) <
			(int)sizeof(file) &&
		    repo_file(url, sizeof(url), b->db.repos[apk_pkg_repo(p)].label, b->arch,
			      file) == 0)
			r = (bp->url = strdup(url)) ? 0 : -ENOMEM;
		if (r == 0)
			r = bom_deps(p, plan_of, bp);
	}
	free(plan_of);
	return r;
}

/* The kernel's modules in the tree with their digests, for the bill of materials. */
static int bom_modules(struct build *b)
{
	const struct strlist *m = &b->kernel.kmod.modules;

	if (!m->n || !b->kernel.kmod.version)
		return 0;
	b->res->modules = calloc(m->n, sizeof(*b->res->modules));
	if (!b->res->modules)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		struct build_file *f = &b->res->modules[b->res->nmodules];
		const struct tree_node *node;
		char path[PATH_MAX];

		if (snprintf(path, sizeof(path), "lib/modules/%s/%s", b->kernel.kmod.version,
			     m->v[i]) >= (int)sizeof(path))
			continue;
		node = tree_lookup(&b->tree, path, true);
		if (!node || !S_ISREG(node->mode))
			continue;
		f->path = strdup(path);
		if (!f->path)
			return -ENOMEM;
		if (EVP_Digest(node->data ? node->data : (const unsigned char *)"", node->size,
			       f->sha1, NULL, EVP_sha1(), NULL) != 1 ||
		    EVP_Digest(node->data ? node->data : (const unsigned char *)"", node->size,
			       f->sha256, NULL, EVP_sha256(), NULL) != 1)
			return -ENOMEM;
		b->res->nmodules++;
	}
	return 0;
}

static int fill_plan(struct build *b, struct it_error *err)
{
	struct buf text = BUF_INIT;
	int r;

	buf_init(&text, 0);
	r = apk_plan_format(&b->db, &b->plan, &text);
	if (r < 0) {
		buf_release(&text);
		return it_error_set(err, r, "cannot format the install plan");
	}
	b->res->plan_text = buf_detach(&text, NULL);
	if (bom_packages(b) < 0)
		return it_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < b->plan.n; i++) {
		const struct apk_pkg *p = b->plan.pkgs[i];
		r = strlist_addf(&b->res->plan, "%.*s-%.*s", (int)p->name->name.len,
				 p->name->name.ptr, (int)p->version.len, p->version.ptr);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Make the directory a file is to be written in. */
static int ensure_parent(const char *path, struct it_error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int r;

	if (!slash || slash == path)
		return 0;
	if ((size_t)(slash - path) >= sizeof(dir))
		return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", path);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", dir, it_strerror(r));
	return 0;
}

static int output_paths(const struct build_config *cfg, char *kernel_out, size_t sz)
{
	const char *slash;
	int n;

	if (cfg->kernel_out) {
		n = snprintf(kernel_out, sz, "%s", cfg->kernel_out);
	} else {
		slash = strrchr(cfg->output, '/');
		if (slash)
			n = snprintf(kernel_out, sz, "%.*s/vmlinuz", (int)(slash - cfg->output),
				     cfg->output);
		else
			n = snprintf(kernel_out, sz, "vmlinuz");
	}
	return (n < 0 || (size_t)n >= sz) ? -ENAMETOOLONG : 0;
}

/* Everything empty, the directories chosen; a build that writes needs an output. */
static int build_start(struct build *b, const struct build_config *cfg, struct build_result *res,
		       struct it_error *err)
{
	memset(b, 0, sizeof(*b));
	memset(res, 0, sizeof(*res));
	b->cfg = cfg;
	b->res = res;
	b->arch = cfg->arch ? cfg->arch : BUILDER_DEFAULT_ARCH;
	apk_trust_init(&b->trust);
	apk_db_init(&b->db);
	tree_init(&b->tree);
	apkdb_init(&b->installed);
	buf_init(&b->triggers, 0);
	kernel_result_init(&b->kernel);
	snprintf(b->cache_dir, sizeof(b->cache_dir), "%s",
		 cfg->cache_dir ? cfg->cache_dir : builder_default_cache_dir());
	snprintf(b->keys_dir, sizeof(b->keys_dir), "%s",
		 cfg->keys_dir ? cfg->keys_dir : builder_default_keys_dir());
	if (!cfg->dry_run && !cfg->output)
		return it_error_set(err, -IT_EUSAGE, "no output file given");
	return 0;
}

/* The trusted keys and the indexes read, the world resolved into the plan (res->plan). */
static int make_plan(struct build *b, struct it_error *err)
{
	const struct build_config *cfg = b->cfg;
	int64_t t0 = now_ms(), t;
	int r;

	if (cfg->allow_untrusted && !is_dir(b->keys_dir)) {
		/* Nothing is required to be signed: no keys are needed either. */
		log_info("no keys directory '%s': no signature is checked", b->keys_dir);
		r = apk_trust_load(&b->trust, NULL, err);
	} else {
		r = apk_trust_load(&b->trust, b->keys_dir, err);
	}
	if (r < 0) {
		it_error_hint(err, "point --keys-dir at a directory of Alpine's *.rsa.pub keys, "
				   "or give --allow-untrusted");
		return r;
	}
	b->trust.allow_untrusted = cfg->allow_untrusted;
	if (cfg->allow_untrusted)
		log_warn(
		    "--allow-untrusted: signatures are not required; do not ship what this builds");

	log_info("reading %zu repositor%s", cfg->repos.n, cfg->repos.n == 1 ? "y" : "ies");
	r = load_indexes(b, err);
	if (r == 0)
		r = check_cancelled(b, err);
	if (r < 0)
		return r;
	t = now_ms();
	b->res->ms_index = t - t0;
	r = plan_phase(b, err);
	if (r == 0)
		r = fill_plan(b, err);
	if (r == 0)
		b->res->ms_resolve = now_ms() - t;
	return r;
}

static int fetch_phase(struct build *b, struct it_error *err)
{
	int64_t t = now_ms();
	int r;

	log_info("fetching %zu packages", b->plan.n);
	r = fetch_packages(b, err);
	if (r == 0)
		r = check_cancelled(b, err);
	if (r == 0)
		b->res->ms_fetch = now_ms() - t;
	return r;
}

/* The packages unpacked and configured (assemble()), then the kernel's modules. */
static int assemble_phase(struct build *b, struct it_error *err)
{
	int64_t t = now_ms();
	int r;

	log_info("assembling the tree");
	r = assemble(b, err);
	if (r == 0)
		r = kernel_apply(&b->tree, b->cfg, &b->kernel, err);
	if (r == 0 && bom_modules(b) < 0)
		r = it_error_set(err, -ENOMEM, "out of memory");
	if (r == 0)
		r = check_cancelled(b, err);
	if (r == 0)
		b->res->ms_assemble = now_ms() - t;
	return r;
}

/* The kernel image to kernel_out, the file it replaces saved (see out_file). */
static int place_kernel(struct build *b, const char *kernel_out, struct it_error *err)
{
	int r = ensure_parent(kernel_out, err);

	if (r < 0)
		return r;
	out_save(&b->kernel_file, kernel_out);
	r = kernel_place(&b->kernel, kernel_out, err);
	if (r < 0)
		return r;
	b->kernel_file.written = true;
	r = check_cancelled(b, err);
	if (r < 0)
		return r;
	b->res->kernel_path = strdup(kernel_out);
	b->res->kernel_version = b->kernel.kmod.version ? strdup(b->kernel.kmod.version) : NULL;
	return 0;
}

/*
 * The write phase: the tree for inspection (cfg->rootfs_dir), the initrd,
 * then the kernel beside it. The outputs it replaces are saved first, for
 * finish_outputs() to put back if the build fails.
 */
static int write_outputs(struct build *b, struct it_error *err)
{
	const struct build_config *cfg = b->cfg;
	struct cpio_opts co = {cfg->compression, 0, 0, cfg->cancel};
	struct cpio_stats cs = {0, 0, 0};
	bool kernel = kernel_result_has_image(&b->kernel);
	char kernel_out[PATH_MAX];
	int64_t t = now_ms();
	int r;

	co.epoch = build_epoch(b);
	if (co.epoch < 0)
		return it_error_set(err, -IT_EUSAGE,
				    "SOURCE_DATE_EPOCH is not a number of seconds");
	b->res->epoch = co.epoch;
	if (kernel && output_paths(cfg, kernel_out, sizeof(kernel_out)) < 0)
		return it_error_set(err, -ENAMETOOLONG, "kernel path beside '%s': name too long",
				    cfg->output);
	if (cfg->rootfs_dir) {
		r = rootfs_export(&b->tree, cfg->rootfs_dir, NULL, err);
		if (r < 0)
			return r;
	}
	log_info("writing %s", cfg->output);
	r = ensure_parent(cfg->output, err);
	if (r < 0)
		return r;
	out_save(&b->initrd_file, cfg->output);
	r = cpio_write(&b->tree, cfg->output, &co, &cs, err);
	if (r < 0)
		return r;
	b->initrd_file.written = true;
	r = check_cancelled(b, err);
	if (r == 0 && kernel)
		r = place_kernel(b, kernel_out, err);
	if (r < 0)
		return r;
	b->res->ms_write = now_ms() - t;
	b->res->initrd_bytes = cs.written;
	b->res->files = cs.entries;
	return 0;
}

/* The two go together: no new initrd beside an old kernel; nothing new if stopped. */
static void finish_outputs(struct build *b, int r)
{
	if (r < 0) {
		out_undo(&b->kernel_file);
		out_undo(&b->initrd_file);
	} else {
		out_keep(&b->kernel_file);
		out_keep(&b->initrd_file);
	}
}

int builder_build(const struct build_config *cfg, struct build_result *res, struct it_error *err)
{
	struct build b;
	int r;

	r = build_start(&b, cfg, res, err);
	if (r == 0)
		r = make_plan(&b, err);
	/* A dry run ends with the plan. */
	if (r == 0 && !cfg->dry_run)
		r = fetch_phase(&b, err);
	if (r == 0 && !cfg->dry_run)
		r = assemble_phase(&b, err);
	if (r == 0 && !cfg->dry_run)
		r = write_outputs(&b, err);
	if (r == 0)
		r = write_lock(&b, err);
	finish_outputs(&b, r);
	build_release(&b);
	return r;
}
