// SPDX-License-Identifier: MIT
/*
 * Resolve a world against a package db: apk 2.14's choices (src/solver.c)
 * made by a depth-first search over alternatives, then apk's install order
 * (its changeset generation).
 *
 * The search: packages that can never be installed (a dependency nobody
 * satisfies, ruled out by the world) are found first, as apk disqualifies
 * them; requirements are then satisfied one by one, the preferred provider
 * first. Every fact carries the decision level it rests on, so a
 * contradiction jumps back to the newest decision involved instead of
 * retrying unrelated ones (backjumping).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/internal.h"

/* Alternatives tried before the search gives up on an unsatisfiable world. */
#define MAX_STEPS 100000

/* Returned by the search steps when a choice led to a contradiction (never an errno). */
#define FAIL 1

/*
 * Queues of requirements, in the order they are taken (apk's order of
 * deciding names, builder/resolve.h): Q_FORCED those with no choice to
 * make (one possible provider, or a conflict) from the world or from a
 * package picked among several (apk fast-selects them); Q_WORLD world
 * entries with several choices, the one discovered last first (apk's
 * solver_flags_set, then order_id); Q_DEP other dependencies with one
 * possible provider; then names of real packages, then virtual names, so
 * that a virtual name is decided once the packages that may already
 * provide it are known. Q_DEFER holds names no provider can be chosen for
 * by itself (unversioned provides without k:): apk decides them after the
 * names that have a choosable provider (has_auto_selectable), when another
 * choice may have taken the name, but before install_if packages join.
 */
enum { Q_FORCED, Q_WORLD, Q_DEP, Q_REAL, Q_MIXED, Q_VIRTUAL, Q_DEFER, NCLS };

/* One dependency to satisfy, from a selected package or the world. */
struct req {
	const struct apk_dep *dep;
	int32_t parent; /* pkg id, -1 for the world */
	int32_t next;	/* next req on the same name, -1 */
	uint32_t level; /* decision level it rests on */
};

struct name_state {
	int32_t chosen;	  /* pkg id holding the name, -1 */
	int32_t req_head; /* reqs on this name, newest first */
	uint32_t npos;	  /* how many of them are not conflicts */
	struct blob ver;  /* version the chosen package provides it with */
	uint32_t mark;	  /* scratch for the static analysis: pkg id + 1 */
	int32_t world;	  /* index of the world entry on this name, -1 */
	uint32_t order;	  /* apk's discovery order (order_id), 0 until discovered */
	bool discovered;
	bool mark_unversioned;
	bool locked;
	int8_t cls; /* Q_REAL, Q_MIXED or Q_VIRTUAL; -1 until computed */
	bool in_cs; /* changeset generation */
	bool seen;  /* reachable from the world */
};

#define REASON_IIF (-2)

/* Why a package can never be installed. */
enum dead_kind { ALIVE, DEAD_DEP, DEAD_WORLD, DEAD_UNINSTALLABLE, DEAD_TWICE };

struct pkg_state {
	int32_t reason;	  /* req that selected it, REASON_IIF, -1 */
	uint32_t level;	  /* decision level of the selection */
	uint8_t dead;	  /* enum dead_kind */
	int32_t dead_arg; /* DEAD_DEP: dependency, DEAD_WORLD: world entry, DEAD_TWICE: name */
	uint32_t pin;	  /* selected: the tags it may come from (apk's pinning_allowed) */
	bool selected;
	bool declined; /* not to be added by install_if on this path */
	bool in_cs;
	bool seen;
	bool queued;
	bool propagated; /* its death was passed on to its reverse dependencies */
	bool discovered; /* visited by discover() */
};

enum undo_kind { U_LOCK, U_REQ, U_SEL, U_DECLINE };

struct undo {
	uint8_t kind;
	uint32_t id;
	int32_t old_head;
	uint32_t old_npos;
};

/*
 * A decision with alternatives: which provider for a req, or which
 * install_if package (or none). Facts it leads to have level index + 1.
 */
struct frame {
	size_t trail, nreqs, nsel, cand_base;
	size_t qlen[NCLS], qcur[NCLS];
	const struct apk_name *name;
	uint32_t ncand, next; /* candidates are provider indexes of 'name' */
	int32_t req;	      /* -1: install_if, whose last alternative is "none" */
	char *err;	      /* why the alternative that explains this decision failed */
};

/* A growable list of ids (packages, names, provider indexes). */
struct u32vec {
	uint32_t *v;
	size_t n, alloc;
};

struct solver {
	const struct apk_db *db;
	struct name_state *ns;
	struct pkg_state *ps;
	struct req *reqs;
	size_t nreqs, reqs_alloc;
	uint32_t *q[NCLS];
	size_t qlen[NCLS], qcur[NCLS], qalloc[NCLS];
	struct undo *trail;
	size_t ntrail, trail_alloc;
	uint32_t *sel;
	size_t nsel, sel_alloc;
	struct u32vec cand; /* the frames' candidates, one stretch a frame */
	struct frame *frames;
	size_t nframes, frames_alloc;
	struct apk_dep *world;
	struct apk_name *unknown; /* names the db does not know, ids from db->nnames */
	size_t nworld, nunknown;
	uint32_t *iif; /* install_if packages the world can reach, in db order */
	size_t niif;
	uint32_t tag_repos[APK_DB_MAX_REPOS + 1]; /* by tag: the repositories it names */
	uint32_t order;				  /* the last discovery order given */
	unsigned long steps;
	bool gave_up;
};

/* Grow an array to hold 'need' elements; NULL on failure (the old array stays valid). */
static void *grow(void *p, size_t *alloc, size_t need, size_t size)
{
	size_t na = *alloc ? *alloc : 16;
	void *v;

	if (need <= *alloc)
		return p;
	while (na < need)
		na *= 2;
	v = realloc(p, na * size);
	if (v)
		*alloc = na;
	return v;
}

static int u32vec_push(struct u32vec *w, uint32_t id)
{
	void *t = grow(w->v, &w->alloc, w->n + 1, sizeof(*w->v));

	if (!t)
		return -ENOMEM;
	w->v = t;
	w->v[w->n++] = id;
	return 0;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static const struct apk_pkg *pkg_of(const struct solver *s, uint32_t id)
{
	return s->db->pkgs[id];
}

static struct name_state *nstate(struct solver *s, const struct apk_name *n)
{
	return &s->ns[n->id];
}

/* Name i of a package: 0 its own, then its provides. */
static const struct apk_name *pkg_name_at(const struct apk_pkg *p, uint32_t i, struct blob *ver)
{
	if (i == 0) {
		*ver = p->version;
		return p->name;
	}
	*ver = p->provides.v[i - 1].version;
	return p->provides.v[i - 1].name;
}

static int name_class(struct solver *s, const struct apk_name *n)
{
	struct name_state *st = nstate(s, n);
	uint32_t virt = 0;

	if (st->cls >= 0)
		return st->cls;
	for (uint32_t i = 0; i < n->nproviders; i++)
		virt += n->providers[i].pkg->name != n;
	st->cls = Q_MIXED;
	if (virt == 0)
		st->cls = Q_REAL;
	else if (virt == n->nproviders)
		st->cls = Q_VIRTUAL;
	return st->cls;
}

static int push_undo(struct solver *s, struct undo u)
{
	void *t = grow(s->trail, &s->trail_alloc, s->ntrail + 1, sizeof(*s->trail));

	if (!t)
		return -ENOMEM;
	s->trail = t;
	s->trail[s->ntrail++] = u;
	return 0;
}

/* The provider currently holding a name (pkg NULL when none). */
static struct apk_provider holder(struct solver *s, const struct apk_name *n)
{
	const struct name_state *st = nstate(s, n);

	if (!st->locked)
		return (struct apk_provider){NULL, BLOB_NULL};
	return (struct apk_provider){pkg_of(s, (uint32_t)st->chosen), st->ver};
}

static bool holds(struct solver *s, const struct apk_dep *d)
{
	struct apk_provider p = holder(s, d->name);

	return apk_dep_satisfied_by(d, &p);
}

/* ---- repository tags (apk's pinning) ---- */

#define PIN_UNTAGGED 1u

/* The repositories a mask of tags names. */
static uint32_t pin_repos(const struct solver *s, uint32_t mask)
{
	uint32_t repos = 0;

	for (unsigned t = 0; t < s->db->ntags; t++)
		if (mask & (1u << t))
			repos |= s->tag_repos[t];
	return repos;
}

/*
 * The tags pkg may come from now (apk's pinning_allowed): untagged
 * repositories always; the tag of each world entry it satisfies; the tags
 * allowed to each selected package that depends on one of its names.
 */
static uint32_t pin_allowed(struct solver *s, const struct apk_pkg *p)
{
	uint32_t mask = PIN_UNTAGGED;

	for (uint32_t i = 0; i <= p->provides.n; i++) {
		struct apk_provider pv = {p, BLOB_NULL};
		const struct apk_name *m = pkg_name_at(p, i, &pv.version);

		for (int32_t q = nstate(s, m)->req_head; q >= 0; q = s->reqs[q].next) {
			const struct req *rq = &s->reqs[q];

			if (rq->dep->conflict || !apk_dep_satisfied_by(rq->dep, &pv))
				continue;
			mask |= rq->parent < 0 ? 1u << rq->dep->tag : s->ps[rq->parent].pin;
		}
	}
	return mask;
}

/* The tags an install_if package inherits from the packages that trigger it. */
static uint32_t pin_iif(struct solver *s, const struct apk_pkg *p)
{
	uint32_t mask = 0;

	for (uint32_t i = 0; i < p->install_if.n; i++) {
		const struct name_state *st = nstate(s, p->install_if.v[i].name);

		if (st->locked)
			mask |= s->ps[st->chosen].pin;
	}
	return mask;
}

/* May pkg come from one of the tags in mask? A package that installs nothing always may. */
static bool pin_ok(const struct solver *s, const struct apk_pkg *p, uint32_t mask)
{
	return p->installed_size == 0 || (p->repos & pin_repos(s, mask));
}

/*
 * apk's tag_preferred: a package the world names with a tag is preferred
 * from that tag's repositories; any other from untagged ones.
 */
static bool pin_preferred(struct solver *s, const struct apk_pkg *p)
{
	uint32_t mask = PIN_UNTAGGED;

	for (uint32_t i = 0; i <= p->provides.n; i++) {
		struct apk_provider pv = {p, BLOB_NULL};
		const struct name_state *st = nstate(s, pkg_name_at(p, i, &pv.version));

		if (st->world >= 0 && apk_dep_satisfied_by(&s->world[st->world], &pv))
			mask = 1u << s->world[st->world].tag;
	}
	return pin_ok(s, p, mask);
}

/* The tag a selected package is installed under: the first allowed one that has it. */
static uint8_t pin_tag(struct solver *s, const struct apk_pkg *p)
{
	uint32_t mask = s->ps[p->id].pin | pin_allowed(s, p);

	for (unsigned t = 0; t < s->db->ntags; t++)
		if ((mask & (1u << t)) && (p->repos & s->tag_repos[t]))
			return (uint8_t)t;
	return 0;
}

/*
 * apk 2.14-stable's discover_name(): a depth-first walk from the world (in
 * its sorted order) through providers, their dependencies, then the
 * install_if rules on their names and the names they provide; a name is
 * numbered once its walk is done (order_id), so what a name pulls in is
 * numbered before it. Recursive: as deep as the longest dependency chain.
 */
static void discover(struct solver *s, const struct apk_name *n)
{
	struct name_state *st = nstate(s, n);
	struct blob ver;

	if (st->discovered)
		return;
	st->discovered = true;
	for (uint32_t i = 0; i < n->nproviders; i++) {
		const struct apk_pkg *p = n->providers[i].pkg;

		if (s->ps[p->id].discovered)
			continue;
		s->ps[p->id].discovered = true;
		for (uint32_t j = 0; j < p->depends.n; j++)
			discover(s, p->depends.v[j].name);
	}
	for (uint32_t i = 0; i < n->nproviders; i++) {
		const struct apk_pkg *p = n->providers[i].pkg;

		for (uint32_t j = 0; j < p->name->nrinstall_if; j++)
			discover(s, p->name->rinstall_if[j]);
		for (uint32_t j = 1; j <= p->provides.n; j++) {
			const struct apk_name *m = pkg_name_at(p, j, &ver);

			if (nstate(s, m)->discovered)
				continue;
			discover(s, m);
			for (uint32_t k = 0; k < m->nrinstall_if; k++)
				discover(s, m->rinstall_if[k]);
		}
	}
	st->order = ++s->order;
}

/* ---- packages that can never be installed (apk's disqualification) ---- */

static int reach_name(struct solver *s, struct u32vec *names, const struct apk_name *n)
{
	struct name_state *st = nstate(s, n);

	if (st->seen)
		return 0;
	st->seen = true;
	return u32vec_push(names, n->id);
}

/*
 * Everything the world can pull in, in discovery order: providers of
 * required names, their dependencies, and install_if packages triggered by
 * any name met on the way.
 */
static int reach(struct solver *s, struct u32vec *pkgs)
{
	struct u32vec names = {NULL, 0, 0};
	size_t ni = 0, pi = 0;
	int r = 0;

	for (size_t i = 0; !r && i < s->nworld; i++)
		if (!s->world[i].conflict)
			r = reach_name(s, &names, s->world[i].name);
	while (!r && (ni < names.n || pi < pkgs->n)) {
		if (ni < names.n) {
			uint32_t id = names.v[ni++];
			const struct apk_name *n =
			    id < s->db->nnames ? s->db->names[id] : &s->unknown[id - s->db->nnames];
			for (uint32_t i = 0; !r && i < n->nproviders; i++) {
				const struct apk_pkg *p = n->providers[i].pkg;

				if (!s->ps[p->id].seen) {
					s->ps[p->id].seen = true;
					r = u32vec_push(pkgs, p->id);
				}
			}
			for (uint32_t i = 0; !r && i < n->nrinstall_if; i++)
				r = reach_name(s, &names, n->rinstall_if[i]);
		} else {
			const struct apk_pkg *p = pkg_of(s, pkgs->v[pi++]);
			struct blob ver;

			for (uint32_t i = 0; !r && i < p->depends.n; i++)
				if (!p->depends.v[i].conflict)
					r = reach_name(s, &names, p->depends.v[i].name);
			/* Names it provides can trigger install_if packages. */
			for (uint32_t i = 0; !r && i <= p->provides.n; i++)
				r = reach_name(s, &names, pkg_name_at(p, i, &ver));
		}
	}
	free(names.v);
	return r;
}

/* Dead before any choice: unknown fields, a name provided twice, ruled out by the world. */
static void kill_static(struct solver *s, const struct apk_pkg *p)
{
	struct pkg_state *st = &s->ps[p->id];
	struct blob ver;

	if (p->uninstallable) {
		st->dead = DEAD_UNINSTALLABLE;
		return;
	}
	for (uint32_t i = 0; i <= p->provides.n; i++) {
		const struct apk_name *m = pkg_name_at(p, i, &ver);
		struct name_state *ms = nstate(s, m);
		struct apk_provider pv = {p, ver};

		/* Taking a name twice is a conflict unless both are unversioned provides. */
		if (ms->mark == p->id + 1 && !(ver.ptr == NULL && ms->mark_unversioned)) {
			st->dead = DEAD_TWICE;
			st->dead_arg = (int32_t)m->id;
			return;
		}
		ms->mark = p->id + 1;
		ms->mark_unversioned = ver.ptr == NULL;
		if (ms->world >= 0 && !apk_dep_satisfied_by(&s->world[ms->world], &pv)) {
			st->dead = DEAD_WORLD;
			st->dead_arg = ms->world;
			return;
		}
	}
}

/* Does some live provider satisfy d? */
static bool dep_live(struct solver *s, const struct apk_dep *d)
{
	for (uint32_t i = 0; i < d->name->nproviders; i++) {
		const struct apk_provider *p = &d->name->providers[i];

		if (s->ps[p->pkg->id].dead == ALIVE && apk_dep_satisfied_by(d, p))
			return true;
	}
	return false;
}

/* Reverse dependencies: for name i, the packages depending on it are rdep[start[i - 1] ..
 * start[i]). */
struct rdeps {
	uint32_t *start;
	uint32_t *rdep;
};

static int rdeps_build(struct solver *s, const struct u32vec *pkgs, struct rdeps *rd)
{
	size_t nn = s->db->nnames + s->nunknown, total = 0;

	rd->start = calloc(nn + 1, sizeof(*rd->start));
	if (!rd->start)
		return -ENOMEM;
	for (size_t k = 0; k < pkgs->n; k++) {
		const struct apk_pkg *p = pkg_of(s, pkgs->v[k]);

		for (uint32_t i = 0; i < p->depends.n; i++)
			rd->start[p->depends.v[i].name->id + 1]++;
		total += p->depends.n;
	}
	for (size_t i = 0; i < nn; i++)
		rd->start[i + 1] += rd->start[i];
	rd->rdep = malloc((total + 1) * sizeof(*rd->rdep));
	if (!rd->rdep)
		return -ENOMEM;
	/* Filling moves each start to the end of its slice, which is where the next begins. */
	for (size_t k = 0; k < pkgs->n; k++) {
		const struct apk_pkg *p = pkg_of(s, pkgs->v[k]);

		for (uint32_t i = 0; i < p->depends.n; i++)
			rd->rdep[rd->start[p->depends.v[i].name->id]++] = p->id;
	}
	return 0;
}

/* Is pkg dead now, for a dependency no live package satisfies? */
static bool check_deps(struct solver *s, const struct apk_pkg *p)
{
	struct pkg_state *st = &s->ps[p->id];

	for (uint32_t i = 0; st->dead == ALIVE && i < p->depends.n; i++) {
		const struct apk_dep *d = &p->depends.v[i];

		if (!d->conflict && !dep_live(s, d)) {
			st->dead = DEAD_DEP;
			st->dead_arg = (int32_t)i;
		}
	}
	return st->dead != ALIVE;
}

/* Queue for a recheck everything that depends on a name of a dead package. */
static int requeue_rdeps(struct solver *s, const struct rdeps *rd, const struct apk_pkg *p,
			 struct u32vec *work)
{
	struct blob ver;

	for (uint32_t i = 0; i <= p->provides.n; i++) {
		uint32_t m = pkg_name_at(p, i, &ver)->id;

		for (uint32_t j = m ? rd->start[m - 1] : 0; j < rd->start[m]; j++) {
			struct pkg_state *q = &s->ps[rd->rdep[j]];

			if (q->dead == ALIVE && !q->queued) {
				q->queued = true;
				if (u32vec_push(work, rd->rdep[j]) < 0)
					return -ENOMEM;
			}
		}
	}
	return 0;
}

/*
 * Mark dead every reachable package with a dependency that no live
 * package satisfies, until nothing changes (a worklist over reverse
 * dependencies), and list the install_if packages worth checking later.
 */
static int find_dead(struct solver *s)
{
	struct u32vec pkgs = {NULL, 0, 0}, work = {NULL, 0, 0};
	struct rdeps rd = {NULL, NULL};
	int r;

	r = reach(s, &pkgs);
	for (size_t k = 0; !r && k < pkgs.n; k++)
		kill_static(s, pkg_of(s, pkgs.v[k]));
	if (!r)
		r = rdeps_build(s, &pkgs, &rd);
	for (size_t k = 0; !r && k < pkgs.n; k++) {
		s->ps[pkgs.v[k]].queued = true;
		r = u32vec_push(&work, pkgs.v[k]);
	}
	while (!r && work.n) {
		uint32_t id = work.v[--work.n];
		struct pkg_state *st = &s->ps[id];

		st->queued = false;
		if (!check_deps(s, pkg_of(s, id)) || st->propagated)
			continue;
		st->propagated = true;
		r = requeue_rdeps(s, &rd, pkg_of(s, id), &work);
	}
	if (!r) {
		s->iif = malloc((s->db->niif_pkgs + 1) * sizeof(*s->iif));
		if (!s->iif)
			r = -ENOMEM;
	}
	for (uint32_t i = 0; !r && i < s->db->niif_pkgs; i++)
		if (s->ps[s->db->iif_pkgs[i]->id].seen)
			s->iif[s->niif++] = s->db->iif_pkgs[i]->id;
	free(work.v);
	free(rd.rdep);
	free(rd.start);
	free(pkgs.v);
	return r;
}

/* ---- messages ---- */

static void fmt_pkg(struct buf *b, const struct apk_pkg *p)
{
	buf_addf(b, "%.*s-%.*s", (int)p->name->name.len, p->name->name.ptr, (int)p->version.len,
		 p->version.ptr);
}

static void fmt_req_chain(struct solver *s, struct buf *b, int32_t req);

/* How pkg came to be selected: "alpine-base -> openrc" (names from the world down). */
static void fmt_pkg_chain(struct solver *s, struct buf *b, uint32_t pkg)
{
	int32_t reason = s->ps[pkg].reason;
	const struct apk_pkg *p = pkg_of(s, pkg);

	if (reason >= 0 && s->reqs[reason].parent >= 0) {
		fmt_pkg_chain(s, b, (uint32_t)s->reqs[reason].parent);
		buf_addstr(b, " -> ");
	}
	buf_add(b, p->name->name.ptr, p->name->name.len);
	if (reason == REASON_IIF)
		buf_addstr(b, " (install_if)");
}

/* "alpine-base -> openrc -> so:libcap.so.2": the selection path, then the dependency itself. */
static void fmt_req_chain(struct solver *s, struct buf *b, int32_t req)
{
	if (s->reqs[req].parent >= 0) {
		fmt_pkg_chain(s, b, (uint32_t)s->reqs[req].parent);
		buf_addstr(b, " -> ");
	}
	apk_dep_format(s->reqs[req].dep, b);
}

/* Why pkg is installed, for "conflicts with X (WHY)". */
static void fmt_why(struct solver *s, struct buf *b, uint32_t pkg)
{
	int32_t reason = s->ps[pkg].reason;

	if (reason >= 0)
		fmt_req_chain(s, b, reason);
	else
		fmt_pkg_chain(s, b, pkg);
}

static bool is_virtual_name(struct blob n)
{
	return (n.len && n.ptr[0] == '/') || memchr(n.ptr, ':', n.len) != NULL;
}

/* ": no provider" / ": no version satisfies (have ...)" for a dependency nothing can take. */
static void fmt_unsatisfiable(struct buf *b, const struct apk_dep *d)
{
	const struct apk_name *n = d->name;
	unsigned shown = 0;

	if (n->nproviders == 0) {
		buf_addstr(b, is_virtual_name(n->name) ? ": no provider" : ": no such package");
		return;
	}
	buf_addstr(b, ": no version satisfies (have ");
	for (uint32_t i = 0; i < n->nproviders && shown < 8; i++) {
		const struct apk_provider *p = &n->providers[i];

		if (shown++)
			buf_addstr(b, ", ");
		if (p->version.ptr)
			buf_add(b, p->version.ptr, p->version.len);
		else
			buf_addstr(b, "no version");
		if (p->pkg->name != n)
			buf_addf(b, " from %.*s", (int)p->pkg->name->name.len,
				 p->pkg->name->name.ptr);
	}
	if (n->nproviders > shown)
		buf_addstr(b, ", ...");
	buf_addch(b, ')');
}

/* A chain through a dead package to what kills it: " -> openrc -> so:libcap.so.2: no provider". */
static void fmt_dead(struct solver *s, struct buf *b, const struct apk_pkg *p)
{
	/* Each step goes to a package that died earlier, so this ends; the cap is for safety. */
	for (int depth = 0; depth < 64; depth++) {
		const struct pkg_state *st = &s->ps[p->id];
		const struct apk_dep *d;
		const struct apk_pkg *next = NULL;

		switch (st->dead) {
		case DEAD_WORLD:
			buf_addstr(b, ": ");
			fmt_pkg(b, p);
			buf_addstr(b, " is ruled out by ");
			apk_dep_format(&s->world[st->dead_arg], b);
			return;
		case DEAD_TWICE:
			buf_addstr(b, ": ");
			fmt_pkg(b, p);
			buf_addf(b, " provides '%s' twice", s->db->names[st->dead_arg]->name.ptr);
			return;
		case DEAD_UNINSTALLABLE:
			buf_addstr(b, ": ");
			fmt_pkg(b, p);
			buf_addstr(b, " has fields this tool does not know (newer index format)");
			return;
		default:
			break;
		}
		d = &p->depends.v[st->dead_arg];
		buf_addstr(b, " -> ");
		apk_dep_format(d, b);
		for (uint32_t i = 0; i < d->name->nproviders && !next; i++)
			if (apk_dep_satisfied_by(d, &d->name->providers[i]))
				next = d->name->providers[i].pkg;
		if (!next) {
			fmt_unsatisfiable(b, d);
			return;
		}
		if (next->name != d->name)
			buf_addf(b, " (%s)", next->name->name.ptr);
		p = next;
	}
}

static char *msg_take(struct buf *b)
{
	return buf_detach(b, NULL);
}

static char *msg_holder_conflict(struct solver *s, int32_t req)
{
	struct buf b;
	const struct name_state *st = nstate(s, s->reqs[req].dep->name);

	buf_init(&b, IT_ERRMSG_MAX);
	fmt_req_chain(s, &b, req);
	buf_addstr(&b, ": conflicts with ");
	fmt_pkg(&b, pkg_of(s, (uint32_t)st->chosen));
	buf_addstr(&b, " (");
	fmt_why(s, &b, (uint32_t)st->chosen);
	buf_addch(&b, ')');
	return msg_take(&b);
}

/* Why a candidate provider could not be taken. */
enum reject_kind { REJ_NONE, REJ_DEAD, REJ_HELD, REJ_RULED_OUT, REJ_MASKED };

struct reject {
	enum reject_kind kind;
	const struct apk_pkg *pkg;
	uint32_t holder; /* REJ_HELD: pkg id holding one of its names */
	int32_t req;	 /* REJ_RULED_OUT: the req it breaks */
};

static char *msg_no_candidate(struct solver *s, int32_t req, const struct reject *block,
			      const struct reject *dead, bool any_virtual)
{
	const struct apk_dep *d = s->reqs[req].dep;
	const struct apk_name *n = d->name;
	struct buf b;
	unsigned shown = 0;

	buf_init(&b, IT_ERRMSG_MAX);
	fmt_req_chain(s, &b, req);
	if (block) {
		buf_addstr(&b, ": ");
		fmt_pkg(&b, block->pkg);
		if (block->kind == REJ_MASKED) {
			buf_addstr(&b, " is only in");
			for (unsigned t = 1; t < s->db->ntags; t++)
				if (block->pkg->repos & s->tag_repos[t])
					buf_addf(&b, " @%s", s->db->tags[t]);
		} else if (block->kind == REJ_HELD) {
			buf_addstr(&b, " conflicts with ");
			fmt_pkg(&b, pkg_of(s, block->holder));
			buf_addstr(&b, " (");
			fmt_why(s, &b, block->holder);
			buf_addch(&b, ')');
		} else {
			buf_addstr(&b, " is ruled out by ");
			fmt_req_chain(s, &b, block->req);
		}
	} else if (dead) {
		if (dead->pkg->name != n)
			buf_addf(&b, " (%s)", dead->pkg->name->name.ptr);
		fmt_dead(s, &b, dead->pkg);
	} else if (any_virtual) {
		buf_addstr(&b, ": virtual, provided by ");
		for (uint32_t i = 0; i < n->nproviders; i++) {
			const struct apk_pkg *p = n->providers[i].pkg;

			buf_addf(&b, "%s%s", shown++ ? ", " : "", p->name->name.ptr);
		}
		buf_addstr(&b, "; name one of them");
	} else {
		fmt_unsatisfiable(&b, d);
	}
	return msg_take(&b);
}

/* ---- choosing ---- */

/* apk's compare_providers() for a fresh root: > 0 when a is preferred. */
static int compare_providers(struct solver *s, const struct apk_provider *a,
			     const struct apk_provider *b)
{
	const struct apk_pkg *pa = a->pkg, *pb = b->pkg;
	int r;

	r = (int)pin_preferred(s, pa) - (int)pin_preferred(s, pb);
	if (r)
		return r;
	switch (apk_version_compare(a->version, b->version)) {
	case APK_VERSION_LESS:
		return -1;
	case APK_VERSION_GREATER:
		return 1;
	default:
		break;
	}
	if (pa->name == pb->name) {
		switch (apk_version_compare(pa->version, pb->version)) {
		case APK_VERSION_LESS:
			return -1;
		case APK_VERSION_GREATER:
			return 1;
		default:
			break;
		}
	}
	r = (int)pa->provider_priority - (int)pb->provider_priority;
	if (r)
		return r;
	/* The lower repository index wins (ffs(b) - ffs(a) in apk). */
	return __builtin_ffs((int)pb->repos) - __builtin_ffs((int)pa->repos);
}

/*
 * Order candidates as apk picks them: a scan in provider order keeps the
 * first best (apk's comparison is not transitive, so the scan order
 * matters), then the same over what remains.
 */
static void order_candidates(struct solver *s, const struct apk_name *n, uint32_t *c, uint32_t k)
{
	for (uint32_t i = 0; i + 1 < k; i++) {
		uint32_t best = i, tmp;

		for (uint32_t j = i + 1; j < k; j++)
			if (compare_providers(s, &n->providers[c[j]], &n->providers[c[best]]) > 0)
				best = j;
		tmp = c[best];
		memmove(c + i + 1, c + i, (best - i) * sizeof(*c));
		c[i] = tmp;
	}
}

/* apk 2.14: an unversioned provides is chosen with a k:, or when its package is required. */
static bool auto_selectable(struct solver *s, const struct apk_provider *p)
{
	return p->version.ptr || p->pkg->provider_priority || nstate(s, p->pkg->name)->npos > 0;
}

/*
 * Can pkg take all its names now: none held by another package, no
 * recorded req broken? On false, *rej says why and *level what it rests on.
 */
static bool lockable(struct solver *s, const struct apk_pkg *pkg, struct reject *rej,
		     uint32_t *level)
{
	for (uint32_t i = 0; i <= pkg->provides.n; i++) {
		struct apk_provider p = {pkg, BLOB_NULL};
		const struct apk_name *m = pkg_name_at(pkg, i, &p.version);
		const struct name_state *st = nstate(s, m);

		if (st->locked && !(p.version.ptr == NULL && st->ver.ptr == NULL)) {
			*rej = (struct reject){REJ_HELD, pkg, (uint32_t)st->chosen, -1};
			*level = s->ps[st->chosen].level;
			return false;
		}
		for (int32_t q = st->req_head; q >= 0; q = s->reqs[q].next) {
			if (!apk_dep_satisfied_by(s->reqs[q].dep, &p)) {
				*rej = (struct reject){REJ_RULED_OUT, pkg, 0, q};
				*level = s->reqs[q].level;
				return false;
			}
		}
	}
	return true;
}

/* Does pkg have name m among its own and provided names? */
static bool has_name(const struct apk_pkg *pkg, const struct apk_name *m, struct blob *ver)
{
	for (uint32_t i = 0; i <= pkg->provides.n; i++)
		if (pkg_name_at(pkg, i, ver) == m)
			return true;
	return false;
}

static bool has_unversioned(const struct apk_pkg *pkg)
{
	for (uint32_t i = 0; i < pkg->provides.n; i++)
		if (!pkg->provides.v[i].version.ptr)
			return true;
	return false;
}

/*
 * apk's provides transitivity (exclude_non_providers()), for the
 * requirements still waiting in Q_DEP with one possible provider P: P
 * will take every name it provides, so a provider p of name n that P
 * also provides is ruled out unless it provides that requirement's name
 * too. When P provides n unversioned, unversioned providers of n and
 * packages with an unversioned provides are spared, as apk's skip_virtuals.
 * On true, *rej names the requirement and *level what it rests on.
 */
static bool must_provide_excludes(struct solver *s, const struct apk_name *n,
				  const struct apk_provider *p, struct reject *rej, uint32_t *level)
{
	for (size_t i = s->qcur[Q_DEP]; i < s->qlen[Q_DEP]; i++) {
		int32_t q = (int32_t)s->q[Q_DEP][i];
		const struct apk_dep *d = s->reqs[q].dep;
		const struct apk_pkg *sole = NULL;
		struct blob ver, own;
		bool skip;

		if (d->conflict || d->name == n || nstate(s, d->name)->locked ||
		    p->pkg->name == d->name)
			continue;
		for (uint32_t k = 0; k < d->name->nproviders; k++) {
			const struct apk_provider *o = &d->name->providers[k];

			if (s->ps[o->pkg->id].dead != ALIVE || !apk_dep_satisfied_by(d, o))
				continue;
			if (sole) {
				sole = NULL;
				break;
			}
			sole = o->pkg;
		}
		if (!sole || sole == p->pkg || !has_name(sole, n, &ver))
			continue;
		skip = ver.ptr == NULL;
		if ((skip && !p->version.ptr) || has_name(p->pkg, d->name, &own) ||
		    (skip && has_unversioned(p->pkg)))
			continue;
		*rej = (struct reject){REJ_RULED_OUT, p->pkg, 0, q};
		*level = s->reqs[q].level;
		return true;
	}
	return false;
}

/*
 * Collect the providers that can satisfy req now, best first, and the
 * decision level the exclusion of the others rests on. FAIL with *msg
 * when there is none.
 */
static int gather(struct solver *s, int32_t req, uint32_t *count, uint32_t *level, char **msg,
		  bool *only_virtual)
{
	const struct apk_dep *d = s->reqs[req].dep;
	const struct apk_name *n = d->name;
	size_t base = s->cand.n;
	struct reject block = {REJ_NONE, NULL, 0, -1}, dead = block, trans = block, rej;
	bool any_virtual = false;
	uint32_t lv;

	*level = s->reqs[req].level;
	for (uint32_t i = 0; i < n->nproviders; i++) {
		const struct apk_provider *p = &n->providers[i];

		if (!apk_dep_satisfied_by(d, p))
			continue;
		if (s->ps[p->pkg->id].dead != ALIVE) {
			if (dead.kind == REJ_NONE)
				dead = (struct reject){REJ_DEAD, p->pkg, 0, -1};
			continue;
		}
		if (!auto_selectable(s, p)) {
			/* Rests on nothing requiring it by name yet: any decision may change it. */
			*level = (uint32_t)s->nframes;
			any_virtual = true;
			continue;
		}
		if (!lockable(s, p->pkg, &rej, &lv)) {
			*level = max_u32(*level, lv);
			if (block.kind == REJ_NONE)
				block = rej;
			continue;
		}
		/* As apk's disqualification: no obstacle to waiting for the name to be taken. */
		if (must_provide_excludes(s, n, p, &rej, &lv)) {
			*level = max_u32(*level, lv);
			if (trans.kind == REJ_NONE)
				trans = rej;
			continue;
		}
		if (!pin_ok(s, p->pkg, pin_allowed(s, p->pkg))) {
			/* Which tags it may come from rests on who asks for it. */
			*level = (uint32_t)s->nframes;
			if (block.kind == REJ_NONE)
				block = (struct reject){REJ_MASKED, p->pkg, 0, -1};
			continue;
		}
		if (u32vec_push(&s->cand, i) < 0)
			return -ENOMEM;
	}
	*count = (uint32_t)(s->cand.n - base);
	*only_virtual = (any_virtual || trans.kind != REJ_NONE) && block.kind == REJ_NONE &&
			dead.kind == REJ_NONE;
	if (block.kind == REJ_NONE)
		block = trans;
	if (*count == 0) {
		*msg = msg_no_candidate(s, req, block.kind != REJ_NONE ? &block : NULL,
					dead.kind != REJ_NONE ? &dead : NULL, any_virtual);
		return *msg ? FAIL : -ENOMEM;
	}
	order_candidates(s, n, s->cand.v + base, *count);
	return 0;
}

/* Which queue a requirement goes to. */
static int req_queue(struct solver *s, const struct apk_dep *d, int32_t parent, bool picked)
{
	unsigned live = 0;
	int cls;

	if (d->conflict)
		return Q_FORCED;
	for (uint32_t i = 0; i < d->name->nproviders && live < 2; i++) {
		const struct apk_provider *p = &d->name->providers[i];

		live += s->ps[p->pkg->id].dead == ALIVE && apk_dep_satisfied_by(d, p);
	}
	if (live < 2)
		return parent < 0 || picked ? Q_FORCED : Q_DEP;
	cls = name_class(s, d->name);
	return parent < 0 ? Q_WORLD : cls;
}

static int add_req(struct solver *s, const struct apk_dep *d, int32_t parent, bool picked)
{
	struct name_state *st = nstate(s, d->name);
	int cls = req_queue(s, d, parent, picked);
	void *t;
	int32_t idx;

	t = grow(s->reqs, &s->reqs_alloc, s->nreqs + 1, sizeof(*s->reqs));
	if (!t)
		return -ENOMEM;
	s->reqs = t;
	t = grow(s->q[cls], &s->qalloc[cls], s->qlen[cls] + 1, sizeof(*s->q[cls]));
	if (!t)
		return -ENOMEM;
	s->q[cls] = t;
	if (push_undo(s, (struct undo){U_REQ, d->name->id, st->req_head, st->npos}) < 0)
		return -ENOMEM;
	idx = (int32_t)s->nreqs++;
	s->reqs[idx] = (struct req){d, parent, st->req_head, parent >= 0 ? s->ps[parent].level : 0};
	st->req_head = idx;
	st->npos += !d->conflict;
	s->q[cls][s->qlen[cls]++] = (uint32_t)idx;
	return 0;
}

/* Take a name for pkg. Names provided twice were ruled out beforehand (kill_static). */
static int lock_name(struct solver *s, uint32_t pkg, const struct apk_name *m, struct blob ver)
{
	struct name_state *st = nstate(s, m);

	/* Several packages may provide one unversioned name; the first keeps it. */
	if (st->locked)
		return 0;
	if (push_undo(s, (struct undo){U_LOCK, m->id, 0, 0}) < 0)
		return -ENOMEM;
	st->locked = true;
	st->chosen = (int32_t)pkg;
	st->ver = ver;
	return 0;
}

static int select_pkg(struct solver *s, uint32_t id, int32_t reason, uint32_t level, bool picked)
{
	const struct apk_pkg *p = pkg_of(s, id);
	struct pkg_state *st = &s->ps[id];
	struct blob ver;
	void *t;
	int r = 0;

	t = grow(s->sel, &s->sel_alloc, s->nsel + 1, sizeof(*s->sel));
	if (!t || push_undo(s, (struct undo){U_SEL, id, 0, 0}) < 0)
		return -ENOMEM;
	s->sel = t;
	s->sel[s->nsel++] = id;
	st->selected = true;
	st->reason = reason;
	st->level = level;
	st->pin = pin_allowed(s, p) | (reason == REASON_IIF ? pin_iif(s, p) : 0);
	for (uint32_t i = 0; !r && i <= p->provides.n; i++) {
		const struct apk_name *m = pkg_name_at(p, i, &ver);

		r = lock_name(s, id, m, ver);
	}
	for (uint32_t i = 0; !r && i < p->depends.n; i++)
		r = add_req(s, &p->depends.v[i], (int32_t)id, picked);
	return r;
}

/* ---- backtracking ---- */

static void undo_to(struct solver *s, const struct frame *f)
{
	while (s->ntrail > f->trail) {
		const struct undo *u = &s->trail[--s->ntrail];

		switch (u->kind) {
		case U_LOCK:
			s->ns[u->id].locked = false;
			s->ns[u->id].chosen = -1;
			s->ns[u->id].ver = BLOB_NULL;
			break;
		case U_REQ:
			s->ns[u->id].req_head = u->old_head;
			s->ns[u->id].npos = u->old_npos;
			break;
		case U_SEL:
			s->ps[u->id].selected = false;
			s->ps[u->id].reason = -1;
			break;
		case U_DECLINE:
			s->ps[u->id].declined = false;
			break;
		}
	}
	s->nreqs = f->nreqs;
	s->nsel = f->nsel;
	s->cand.n = f->cand_base + f->ncand;
	memcpy(s->qlen, f->qlen, sizeof(s->qlen));
	memcpy(s->qcur, f->qcur, sizeof(s->qcur));
}

static int decline_all(struct solver *s, const struct frame *f)
{
	for (uint32_t i = 0; i < f->ncand; i++) {
		uint32_t id = f->name->providers[s->cand.v[f->cand_base + i]].pkg->id;

		if (push_undo(s, (struct undo){U_DECLINE, id, 0, 0}) < 0)
			return -ENOMEM;
		s->ps[id].declined = true;
	}
	return 0;
}

/* Apply alternative f->next (and advance it); its facts have level index + 1. */
static int apply_next(struct solver *s, size_t index)
{
	struct frame *f = &s->frames[index];
	uint32_t alt = f->next++;

	if (alt == f->ncand)
		return decline_all(s, f);
	return select_pkg(s, f->name->providers[s->cand.v[f->cand_base + alt]].pkg->id,
			  f->req >= 0 ? f->req : REASON_IIF, (uint32_t)index + 1, true);
}

static uint32_t nalts(const struct frame *f)
{
	return f->ncand + (f->req < 0);
}

/*
 * The alternative whose failure explains the decision: for a dependency
 * the preferred provider, for install_if going without the package.
 */
static bool explains(const struct frame *f, uint32_t alt)
{
	return f->req >= 0 ? alt == 0 : alt == f->ncand;
}

static int push_frame(struct solver *s, const struct apk_name *n, int32_t req, uint32_t ncand)
{
	struct frame *f;
	void *t = grow(s->frames, &s->frames_alloc, s->nframes + 1, sizeof(*s->frames));

	if (!t)
		return -ENOMEM;
	s->frames = t;
	f = &s->frames[s->nframes++];
	*f = (struct frame){.trail = s->ntrail,
			    .nreqs = s->nreqs,
			    .nsel = s->nsel,
			    .cand_base = s->cand.n - ncand,
			    .name = n,
			    .ncand = ncand,
			    .req = req};
	memcpy(f->qlen, s->qlen, sizeof(s->qlen));
	memcpy(f->qcur, s->qcur, sizeof(s->qcur));
	return apply_next(s, s->nframes - 1);
}

static void pop_frame(struct solver *s)
{
	struct frame *f = &s->frames[--s->nframes];

	free(f->err);
	f->err = NULL;
	s->cand.n = f->cand_base;
}

/*
 * A choice failed with msg (taken over), a contradiction resting on
 * decisions up to 'level'. Decisions above it are not involved and are
 * dropped untried; the newest involved one tries its next alternative.
 * 0 when the search can go on, FAIL when everything was tried (the
 * explaining message left in *final).
 */
static int backtrack(struct solver *s, char *msg, uint32_t level, char **final)
{
	while (s->nframes) {
		size_t i = s->nframes - 1;
		struct frame *f = &s->frames[i];

		if (level <= i) {
			pop_frame(s);
			continue;
		}
		if (explains(f, f->next - 1) && !f->err) {
			f->err = msg;
			msg = NULL;
		}
		free(msg);
		msg = NULL;
		undo_to(s, f);
		if (f->next < nalts(f)) {
			if (++s->steps > MAX_STEPS) {
				s->gave_up = true;
				msg = f->err;
				f->err = NULL;
				break;
			}
			return apply_next(s, i);
		}
		/* All tried: what they rest on beyond this decision is not kept, so go back one. */
		msg = f->err;
		f->err = NULL;
		level = (uint32_t)i;
		pop_frame(s);
	}
	*final = msg;
	return FAIL;
}

/* The next requirement to take from the queues before 'limit', and its queue. */
static int next_req(struct solver *s, int limit, int32_t *req)
{
	for (int c = 0; c < limit; c++) {
		if (c == Q_WORLD && s->qcur[c] < s->qlen[c]) {
			uint32_t *q = s->q[c];
			size_t best = s->qcur[c];

			for (size_t i = best + 1; i < s->qlen[c]; i++)
				if (nstate(s, s->reqs[q[i]].dep->name)->order >
				    nstate(s, s->reqs[q[best]].dep->name)->order)
					best = i;
			uint32_t t = q[best];

			q[best] = q[s->qcur[c]];
			q[s->qcur[c]] = t;
		}
		if (s->qcur[c] < s->qlen[c]) {
			*req = (int32_t)s->q[c][s->qcur[c]++];
			return c;
		}
	}
	return -1;
}

static int defer_req(struct solver *s, int32_t req)
{
	void *t =
	    grow(s->q[Q_DEFER], &s->qalloc[Q_DEFER], s->qlen[Q_DEFER] + 1, sizeof(*s->q[Q_DEFER]));

	if (!t)
		return -ENOMEM;
	s->q[Q_DEFER] = t;
	s->q[Q_DEFER][s->qlen[Q_DEFER]++] = (uint32_t)req;
	return 0;
}

/* Satisfy queued requirements until none is left (0) or one cannot be (FAIL, *msg, *level). */
static int propagate(struct solver *s, int limit, char **msg, uint32_t *level)
{
	int32_t req;
	int cls;

	while ((cls = next_req(s, limit, &req)) >= 0) {
		const struct apk_dep *d = s->reqs[req].dep;
		const struct name_state *st = nstate(s, d->name);
		bool only_virtual;
		uint32_t n;
		int r;

		if (st->locked) {
			if (holds(s, d))
				continue;
			*level = max_u32(s->reqs[req].level, s->ps[st->chosen].level);
			*msg = msg_holder_conflict(s, req);
			return *msg ? FAIL : -ENOMEM;
		}
		/* A conflict with an unclaimed name stays recorded; lockable() enforces it. */
		if (d->conflict)
			continue;
		r = gather(s, req, &n, level, msg, &only_virtual);
		if (r == FAIL && only_virtual && cls != Q_DEFER) {
			free(*msg);
			*msg = NULL;
			r = defer_req(s, req);
			if (r)
				return r;
			continue;
		}
		if (r)
			return r;
		if (n == 1) {
			uint32_t prov = s->cand.v[--s->cand.n];

			r = select_pkg(s, d->name->providers[prov].pkg->id, req, *level, false);
		} else {
			r = push_frame(s, d->name, req, n);
		}
		if (r)
			return r;
	}
	return 0;
}

/*
 * Are all install_if conditions of pkg met by what is chosen? A negated
 * term (i:a b !c) never is: apk 2.14 fires an install_if only once every
 * name in it is decided, and a name that nothing requires (a conflict does
 * not count) is never decided, while one that something requires is
 * installed. So such rules never fire, as Alpine 3.19 installs.
 */
static bool triggered(struct solver *s, const struct apk_pkg *pkg)
{
	for (uint32_t i = 0; i < pkg->install_if.n; i++)
		if (pkg->install_if.v[i].conflict || !holds(s, &pkg->install_if.v[i]))
			return false;
	return true;
}

static bool iif_candidate(struct solver *s, const struct apk_provider *pv)
{
	const struct pkg_state *st = &s->ps[pv->pkg->id];
	struct reject rej;
	uint32_t lv;

	return pv->pkg->install_if.n && st->dead == ALIVE && !st->declined && !st->selected &&
	       auto_selectable(s, pv) && triggered(s, pv->pkg) && lockable(s, pv->pkg, &rej, &lv) &&
	       pin_ok(s, pv->pkg, pin_allowed(s, pv->pkg) | pin_iif(s, pv->pkg));
}

/*
 * At a fixpoint, add one install_if package whose conditions hold (as a
 * decision whose last alternative is to go without). 0 if there was none,
 * 1 if one was added, or -errno.
 */
static int install_if_step(struct solver *s)
{
	for (size_t i = 0; i < s->niif; i++) {
		const struct apk_pkg *p = pkg_of(s, s->iif[i]);
		const struct pkg_state *st = &s->ps[p->id];
		const struct apk_name *n = p->name;
		size_t base = s->cand.n;
		uint32_t k;
		int r;

		if (st->selected || st->declined || st->dead != ALIVE || nstate(s, n)->locked ||
		    !triggered(s, p))
			continue;
		/* Every triggered provider of the name is a candidate (apk's select_package()). */
		for (uint32_t j = 0; j < n->nproviders; j++) {
			if (iif_candidate(s, &n->providers[j]) && u32vec_push(&s->cand, j) < 0)
				return -ENOMEM;
		}
		k = (uint32_t)(s->cand.n - base);
		if (k == 0) {
			/* It cannot join now, nor later on this path: the state only grows. */
			if (push_undo(s, (struct undo){U_DECLINE, p->id, 0, 0}) < 0)
				return -ENOMEM;
			s->ps[p->id].declined = true;
			continue;
		}
		order_candidates(s, n, s->cand.v + base, k);
		r = push_frame(s, n, -1, k);
		return r ? r : 1;
	}
	return 0;
}

/* Are requirements waiting in the queues from 'from' up to 'limit'? */
static bool pending(const struct solver *s, int from, int limit)
{
	for (int c = from; c < limit; c++)
		if (s->qcur[c] < s->qlen[c])
			return true;
	return false;
}

/*
 * apk's order of decisions: names with one choice, then install_if
 * packages whose conditions hold, then names with several providers, and
 * a name no provider can be chosen for by itself once nothing else is left
 * before install_if.
 */
static int search(struct solver *s, char **final)
{
	char *msg = NULL;
	uint32_t level = 0;
	int r;

	for (;;) {
		r = propagate(s, Q_MIXED, &msg, &level);
		if (r == 0 && pending(s, Q_DEFER, NCLS)) {
			r = propagate(s, NCLS, &msg, &level);
			if (r == 0)
				continue;
		}
		if (r == 0) {
			r = install_if_step(s);
			if (r == 1)
				continue;
			if (r == 0 && !pending(s, Q_MIXED, NCLS))
				return 0;
			if (r == 0)
				r = propagate(s, Q_DEFER, &msg, &level);
			if (r == 0)
				continue;
		}
		if (r < 0) {
			free(msg);
			return r;
		}
		r = backtrack(s, msg, level, final);
		msg = NULL;
		if (r)
			return r;
	}
}

/* ---- install order: apk's changeset generation ---- */

struct cs_frame {
	uint32_t pkg;
	uint32_t dep; /* next dependency */
	uint32_t nm;  /* next own-or-provided name for install_if triggers */
	uint32_t rif; /* next name in that name's rinstall_if */
	bool recorded;
};

struct cs {
	struct solver *s;
	struct cs_frame *st;
	size_t n, alloc;
	struct apk_plan *plan;
};

static int cs_enter(struct cs *c, const struct apk_name *n)
{
	struct solver *s = c->s;
	struct name_state *ns = nstate(s, n);
	const struct apk_pkg *p;
	struct blob ver;
	void *t;

	if (ns->in_cs)
		return 0;
	ns->in_cs = true;
	if (!ns->locked || s->ps[ns->chosen].in_cs)
		return 0;
	p = pkg_of(s, (uint32_t)ns->chosen);
	s->ps[p->id].in_cs = true;
	for (uint32_t i = 0; i <= p->provides.n; i++)
		nstate(s, pkg_name_at(p, i, &ver))->in_cs = true;
	t = grow(c->st, &c->alloc, c->n + 1, sizeof(*c->st));
	if (!t)
		return -ENOMEM;
	c->st = t;
	c->st[c->n++] = (struct cs_frame){p->id, 0, 0, 0, false};
	return 0;
}

/* apk's cset_check_install_by_iif(): is the install_if package of name n due now? */
static bool cs_iif_due(struct cs *c, const struct apk_name *n)
{
	struct solver *s = c->s;
	const struct name_state *ns = nstate(s, n);
	const struct apk_pkg *p;

	if (!ns->locked || ns->in_cs)
		return false;
	p = pkg_of(s, (uint32_t)ns->chosen);
	for (uint32_t i = 0; i < p->install_if.n; i++) {
		const struct apk_dep *d = &p->install_if.v[i];

		if (!nstate(s, d->name)->in_cs || !holds(s, d))
			return false;
	}
	return true;
}

/* Depth first: a package after its dependencies, then the install_if packages it completes. */
static int cs_run(struct cs *c)
{
	while (c->n) {
		struct cs_frame *f = &c->st[c->n - 1];
		const struct apk_pkg *p = pkg_of(c->s, f->pkg);
		const struct apk_name *m;
		struct blob ver;
		int r;

		if (f->dep < p->depends.n) {
			r = cs_enter(c, p->depends.v[f->dep++].name);
			if (r)
				return r;
			continue;
		}
		if (!f->recorded) {
			f->recorded = true;
			c->plan->pkgs[c->plan->n++] = p;
		}
		if (f->nm > p->provides.n) {
			c->n--;
			continue;
		}
		m = pkg_name_at(p, f->nm, &ver);
		if (f->rif >= m->nrinstall_if) {
			f->nm++;
			f->rif = 0;
			continue;
		}
		m = m->rinstall_if[f->rif++];
		if (cs_iif_due(c, m)) {
			r = cs_enter(c, m);
			if (r)
				return r;
		}
	}
	return 0;
}

/*
 * The install order of what s selected, from the world; all: also what the world does not reach.
 * plan->tags comes back all untagged: the caller knows which tag each package is under.
 */
static int make_plan(struct solver *s, struct apk_plan *plan, bool all)
{
	struct cs c = {s, NULL, 0, 0, plan};
	int r = 0;

	plan->pkgs = calloc(s->nsel + 1, sizeof(*plan->pkgs));
	plan->tags = calloc(s->nsel + 1, sizeof(*plan->tags));
	if (!plan->pkgs || !plan->tags)
		return -ENOMEM;
	for (size_t i = 0; !r && i < s->nworld; i++) {
		r = cs_enter(&c, s->world[i].name);
		if (!r)
			r = cs_run(&c);
	}
	/*
	 * A package selected but not reached is not installed, as in apk: a
	 * name that a package installed before provides is done, so what a
	 * world entry chose for that name is dropped (world "zlua luajit-dev":
	 * luajit provides zlua, lua5.4 chosen for zlua is not installed). A
	 * given set (all) keeps them, after the rest, in selection order.
	 */
	for (size_t i = 0; !r && all && i < s->nsel; i++) {
		const struct apk_pkg *p = pkg_of(s, s->sel[i]);

		if (s->ps[p->id].in_cs)
			continue;
		nstate(s, p->name)->in_cs = false;
		r = cs_enter(&c, p->name);
		if (!r)
			r = cs_run(&c);
	}
	free(c.st);
	return r;
}

/* ---- entry points ---- */

static int cmp_world(const void *a, const void *b)
{
	const struct apk_dep *x = a, *y = b;
	int r = strcasecmp(x->name->name.ptr, y->name->name.ptr);

	return r ? r : strcmp(x->name->name.ptr, y->name->name.ptr);
}

static int world_error(struct it_error *err, const char *what, const char *dep, const char *hint)
{
	int r = it_error_set(err, -IT_EFORMAT, "'%s': %s", dep, what);

	it_error_hint(err, "%s", hint);
	return r;
}

/* Parse the world into s->world: sorted by name, one entry per name (the last wins), as apk. */
static int parse_world(struct solver *s, const struct strlist *world, struct it_error *err)
{
	size_t n = world ? world->n : 0;

	s->world = calloc(n + 1, sizeof(*s->world));
	s->unknown = calloc(n + 1, sizeof(*s->unknown));
	if (!s->world || !s->unknown)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct blob text = blob_str(world->v[i]), name, ver, t;
		const struct apk_name *nm;
		bool conflict;
		int op, tag, r;
		size_t j;

		if (!apk_dep_split(text, &name, &op, &ver, &conflict) ||
		    memchr(text.ptr, ' ', text.len))
			return world_error(err, "bad dependency", world->v[i],
					   "write 'name', 'name>=1.2', 'name~1.2' or '!name'");
		tag = 0;
		if (blob_split(name, '@', &name, &t)) {
			tag = apk_db_find_tag(s->db, t);
			if (name.len == 0 || t.len == 0)
				return world_error(err, "bad dependency", world->v[i],
						   "write 'name@tag', e.g. 'busybox@testing'");
			if (tag < 0) {
				r = it_error_set(err, -IT_EUNSAT,
						 "'%s': no repository is tagged '@%.*s'",
						 world->v[i], (int)t.len, t.ptr);
				it_error_hint(err,
					      "add one with --repo '@%.*s URL' (in a scenario: "
					      "'repo @%.*s URL')",
					      (int)t.len, t.ptr, (int)t.len, t.ptr);
				return r;
			}
		}
		nm = apk_db_find_name(s->db, name);
		for (j = 0; !nm && j < s->nunknown; j++)
			if (blob_eq(s->unknown[j].name, name))
				nm = &s->unknown[j];
		if (!nm) {
			/* Names nobody provides still need an entry, for the messages. */
			struct apk_name *u = &s->unknown[s->nunknown];

			*u = (struct apk_name){.id = s->db->nnames + (uint32_t)s->nunknown};
			u->name.ptr = strndup(name.ptr, name.len);
			if (!u->name.ptr)
				return -ENOMEM;
			u->name.len = name.len;
			s->nunknown++;
			nm = u;
		}
		for (j = 0; j < s->nworld && s->world[j].name != nm; j++)
			;
		s->world[j] = (struct apk_dep){nm, ver, (uint8_t)op, conflict, (uint8_t)tag};
		if (j == s->nworld)
			s->nworld++;
	}
	qsort(s->world, s->nworld, sizeof(*s->world), cmp_world);
	return 0;
}

static void solver_release(struct solver *s)
{
	while (s->nframes)
		pop_frame(s);
	for (size_t i = 0; i < s->nunknown; i++)
		free((char *)s->unknown[i].name.ptr);
	free(s->iif);
	free(s->unknown);
	free(s->world);
	free(s->frames);
	free(s->cand.v);
	free(s->sel);
	free(s->trail);
	for (int c = 0; c < NCLS; c++)
		free(s->q[c]);
	free(s->reqs);
	free(s->ps);
	free(s->ns);
}

void apk_plan_release(struct apk_plan *plan)
{
	free(plan->pkgs);
	free(plan->tags);
	plan->pkgs = NULL;
	plan->tags = NULL;
	plan->n = 0;
}

static const char *unsat_hint(const char *msg)
{
	if (strstr(msg, "no such package") || strstr(msg, "no provider"))
		return "check the name, or add the repository that has it";
	if (strstr(msg, "no version satisfies"))
		return "relax the version constraint, or add a repository with that version";
	if (strstr(msg, " is only in @"))
		return "ask for it with its repository's tag ('name@tag'), as apk does";
	if (strstr(msg, "virtual, provided by"))
		return "add the provider you want to the package list";
	return "drop one of the conflicting packages from the package list";
}

/* The per-name and per-package states, empty; the world's names marked. */
static int solver_states(struct solver *s)
{
	const struct apk_db *db = s->db;

	s->ns = malloc((db->nnames + s->nunknown + 1) * sizeof(*s->ns));
	s->ps = malloc((db->npkgs + 1) * sizeof(*s->ps));
	if (!s->ns || !s->ps)
		return -ENOMEM;
	for (size_t i = 0; i < db->nnames + s->nunknown; i++)
		s->ns[i] =
		    (struct name_state){.chosen = -1, .req_head = -1, .world = -1, .cls = -1};
	for (size_t i = 0; i < s->nworld; i++)
		s->ns[s->world[i].name->id].world = (int32_t)i;
	for (unsigned i = 0; i < db->nrepos; i++)
		s->tag_repos[db->repos[i].tag] |= 1u << i;
	for (size_t i = 0; i < db->npkgs; i++)
		s->ps[i] = (struct pkg_state){.reason = -1, .dead = ALIVE, .dead_arg = -1};
	return 0;
}

int apk_plan_order(const struct apk_db *db, const struct strlist *world,
		   const struct apk_pkg *const *pkgs, const uint8_t *tags, size_t n,
		   struct apk_plan *plan, struct it_error *err)
{
	struct solver s = {.db = db};
	uint8_t *tag_of = NULL;
	struct blob ver;
	int r;

	apk_plan_release(plan);
	r = parse_world(&s, world, err);
	if (!r)
		r = solver_states(&s);
	if (!r && !(tag_of = calloc(db->npkgs + 1, 1)))
		r = -ENOMEM;
	/* Every package's own name first, then what they provide: as the search locks them. */
	for (size_t i = 0; !r && i < n; i++) {
		uint32_t id = pkgs[i]->id;
		void *t = grow(s.sel, &s.sel_alloc, s.nsel + 1, sizeof(*s.sel));

		if (!t) {
			r = -ENOMEM;
			break;
		}
		s.sel = t;
		s.sel[s.nsel++] = id;
		s.ps[id].selected = true;
		tag_of[id] = tags ? tags[i] : 0;
		r = lock_name(&s, id, pkgs[i]->name, pkgs[i]->version);
	}
	for (size_t i = 0; !r && i < n; i++)
		for (uint32_t k = 1; !r && k <= pkgs[i]->provides.n; k++)
			r = lock_name(&s, pkgs[i]->id, pkg_name_at(pkgs[i], k, &ver), ver);
	if (!r)
		r = make_plan(&s, plan, true);
	for (size_t i = 0; !r && i < plan->n; i++)
		plan->tags[i] = tag_of[plan->pkgs[i]->id];
	if (r)
		apk_plan_release(plan);
	if (r == -ENOMEM)
		it_error_set(err, r, "out of memory while ordering the packages");
	free(tag_of);
	solver_release(&s);
	return r;
}

int apk_resolve(const struct apk_db *db, const struct strlist *world, struct apk_plan *plan,
		struct it_error *err)
{
	struct solver s = {.db = db};
	char *final = NULL;
	int r;

	apk_plan_release(plan);
	r = parse_world(&s, world, err);
	if (r)
		goto out;
	r = solver_states(&s);
	if (!r)
		r = find_dead(&s);
	for (size_t i = 0; !r && i < s.nworld; i++)
		discover(&s, s.world[i].name);
	for (size_t i = 0; !r && i < s.nworld; i++)
		r = add_req(&s, &s.world[i], -1, false);
	if (!r)
		r = search(&s, &final);
	if (r == FAIL) {
		r = it_error_set(err, -IT_EUNSAT, "%s",
				 final ? final : "cannot satisfy the package list");
		if (s.gave_up)
			it_error_hint(
			    err, "gave up after %d alternatives; pin versions in the package list",
			    MAX_STEPS);
		else
			it_error_hint(err, "%s", unsat_hint(err->msg));
		goto out;
	}
	if (!r)
		r = make_plan(&s, plan, false);
	for (size_t i = 0; !r && i < plan->n; i++)
		plan->tags[i] = pin_tag(&s, plan->pkgs[i]);
	if (r)
		apk_plan_release(plan);
out:
	if (r == -ENOMEM)
		it_error_set(err, r, "out of memory while resolving dependencies");
	free(final);
	solver_release(&s);
	return r;
}

/* ---- printing ---- */

static void human_size(char *out, size_t n, uint64_t bytes)
{
	if (bytes < 1024)
		snprintf(out, n, "%llu B", (unsigned long long)bytes);
	else if (bytes < 1024 * 1024)
		snprintf(out, n, "%.1f KiB", (double)bytes / 1024);
	else
		snprintf(out, n, "%.1f MiB", (double)bytes / (1024 * 1024));
}

int apk_plan_format(const struct apk_db *db, const struct apk_plan *plan, struct buf *out)
{
	size_t width = 0;
	uint64_t dl = 0, inst = 0;
	char size[32], size2[32];
	int r = 0;

	for (size_t i = 0; i < plan->n; i++) {
		const struct apk_pkg *p = plan->pkgs[i];
		size_t w = p->name->name.len + 1 + p->version.len;

		if (w > width)
			width = w;
	}
	for (size_t i = 0; !r && i < plan->n; i++) {
		const struct apk_pkg *p = plan->pkgs[i];
		unsigned repo = apk_pkg_repo(p);
		int pad = (int)(width - (p->name->name.len + 1 + p->version.len));

		human_size(size, sizeof(size), p->size);
		const char *tag = plan->tags ? db->tags[plan->tags[i]] : "";

		r = buf_addf(out, "%s-%.*s%*s  %10s  %s%s%s%s\n", p->name->name.ptr,
			     (int)p->version.len, p->version.ptr, pad, "", size, tag[0] ? "@" : "",
			     tag, tag[0] ? " " : "",
			     repo < db->nrepos ? db->repos[repo].label : "?");
		dl += p->size;
		inst += p->installed_size;
	}
	if (r)
		return r;
	human_size(size, sizeof(size), dl);
	human_size(size2, sizeof(size2), inst);
	return buf_addf(out, "%zu package%s, %s to download, %s installed\n", plan->n,
			plan->n == 1 ? "" : "s", size, size2);
}
