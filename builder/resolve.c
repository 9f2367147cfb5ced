// SPDX-License-Identifier: MIT
/*
 * Resolve a world against a package db: apk 2.14's choices (src/solver.c)
 * made by a depth-first search that backtracks over alternatives, then
 * apk's install order (its changeset generation).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/resolve.h"
#include "builder/version.h"

/* Alternatives tried before the search gives up on an unsatisfiable world. */
#define MAX_STEPS 100000

/* Returned by the search steps when a choice led to a contradiction (never an errno). */
#define FAIL 1

/*
 * Requirements are processed names-of-real-packages first, virtual names
 * last (apk's name priority), so that a virtual name is decided once the
 * packages that may already provide it are known.
 */
enum { CLS_REAL, CLS_MIXED, CLS_VIRTUAL, NCLS };

/* One dependency to satisfy, from a selected package or the world. */
struct req {
	const struct apk_dep *dep;
	int32_t parent;   /* pkg id, -1 for the world */
	int32_t next;     /* next req on the same name, -1 */
};

struct name_state {
	int32_t chosen;     /* pkg id holding the name, -1 */
	int32_t req_head;   /* reqs on this name, newest first */
	uint32_t npos;      /* how many of them are not conflicts */
	struct blob ver;    /* version the chosen package provides it with */
	bool locked;
	int8_t cls;         /* CLS_*, -1 until computed */
	bool in_cs;         /* changeset generation */
};

#define REASON_IIF (-2)

struct pkg_state {
	int32_t reason;     /* req that selected it, REASON_IIF, -1 */
	bool selected;
	bool declined;      /* not to be added by install_if on this path */
	bool in_cs;
};

enum undo_kind { U_LOCK, U_REQ, U_SEL, U_DECLINE };

struct undo {
	uint8_t kind;
	uint32_t id;
	int32_t old_head;
	uint32_t old_npos;
};

/* A decision with alternatives: which provider for a req, or which install_if package (or none). */
struct frame {
	size_t trail, nreqs, nsel, cand_base;
	size_t qlen[NCLS], qcur[NCLS];
	const struct apk_name *name;
	uint32_t ncand, next;   /* candidates are provider indexes of 'name' */
	int32_t req;            /* -1: install_if, whose last alternative is "none" */
	char *err;              /* why the alternative that explains this decision failed */
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
	uint32_t *cand;
	size_t ncand, cand_alloc;
	struct frame *frames;
	size_t nframes, frames_alloc;
	struct apk_dep *world;
	struct apk_name *unknown;   /* names the db does not know, ids from db->nnames */
	size_t nworld, nunknown;
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

static const struct apk_pkg *pkg_of(const struct solver *s, uint32_t id)
{
	return s->db->pkgs[id];
}

static struct name_state *nstate(struct solver *s, const struct apk_name *n)
{
	return &s->ns[n->id];
}

static int name_class(struct solver *s, const struct apk_name *n)
{
	struct name_state *st = nstate(s, n);
	uint32_t virt = 0;

	if (st->cls >= 0)
		return st->cls;
	for (uint32_t i = 0; i < n->nproviders; i++)
		virt += n->providers[i].pkg->name != n;
	st->cls = virt == 0 ? CLS_REAL : virt == n->nproviders ? CLS_VIRTUAL : CLS_MIXED;
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
		return (struct apk_provider){ NULL, BLOB_NULL };
	return (struct apk_provider){ pkg_of(s, (uint32_t)st->chosen), st->ver };
}

static bool holds(struct solver *s, const struct apk_dep *d)
{
	struct apk_provider p = holder(s, d->name);

	return apk_dep_satisfied_by(d, &p);
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
enum reject_kind { REJ_NONE, REJ_UNINSTALLABLE, REJ_VERSION, REJ_VIRTUAL, REJ_HELD, REJ_RULED_OUT };

struct reject {
	enum reject_kind kind;
	const struct apk_pkg *pkg;
	uint32_t holder;     /* REJ_HELD: pkg id holding one of its names */
	int32_t req;         /* REJ_RULED_OUT: the req it breaks */
};

static bool is_virtual_name(struct blob n)
{
	return (n.len && n.ptr[0] == '/') || memchr(n.ptr, ':', n.len) != NULL;
}

static char *msg_no_candidate(struct solver *s, int32_t req, const struct reject *first_block,
			      bool any_virtual)
{
	const struct apk_dep *d = s->reqs[req].dep;
	const struct apk_name *n = d->name;
	struct buf b;
	unsigned shown = 0;

	buf_init(&b, IT_ERRMSG_MAX);
	fmt_req_chain(s, &b, req);
	if (n->nproviders == 0) {
		buf_addstr(&b, is_virtual_name(n->name) ? ": no provider" : ": no such package");
		return msg_take(&b);
	}
	if (first_block) {
		buf_addstr(&b, ": ");
		fmt_pkg(&b, first_block->pkg);
		switch (first_block->kind) {
		case REJ_HELD:
			buf_addstr(&b, " conflicts with ");
			fmt_pkg(&b, pkg_of(s, first_block->holder));
			buf_addstr(&b, " (");
			fmt_why(s, &b, first_block->holder);
			buf_addch(&b, ')');
			break;
		case REJ_RULED_OUT:
			buf_addstr(&b, " is ruled out by ");
			fmt_req_chain(s, &b, first_block->req);
			break;
		default:
			buf_addstr(&b, " has fields this tool does not know (newer index format)");
			break;
		}
		return msg_take(&b);
	}
	if (any_virtual) {
		buf_addstr(&b, ": virtual, provided by ");
		for (uint32_t i = 0; i < n->nproviders; i++) {
			const struct apk_pkg *p = n->providers[i].pkg;

			buf_addf(&b, "%s%.*s", shown++ ? ", " : "", (int)p->name->name.len,
				 p->name->name.ptr);
		}
		buf_addstr(&b, "; name one of them");
		return msg_take(&b);
	}
	buf_addstr(&b, ": no version satisfies (have ");
	for (uint32_t i = 0; i < n->nproviders && shown < 8; i++) {
		const struct apk_provider *p = &n->providers[i];

		if (shown++)
			buf_addstr(&b, ", ");
		if (p->version.ptr)
			buf_add(&b, p->version.ptr, p->version.len);
		else
			buf_addstr(&b, "no version");
		if (p->pkg->name != n)
			buf_addf(&b, " from %.*s", (int)p->pkg->name->name.len, p->pkg->name->name.ptr);
	}
	if (n->nproviders > shown)
		buf_addstr(&b, ", ...");
	buf_addch(&b, ')');
	return msg_take(&b);
}

/* ---- choosing ---- */

/* apk's compare_providers() for a fresh root: > 0 when a is preferred. */
static int compare_providers(const struct apk_provider *a, const struct apk_provider *b)
{
	const struct apk_pkg *pa = a->pkg, *pb = b->pkg;
	int r;

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
static void order_candidates(const struct apk_name *n, uint32_t *c, uint32_t k)
{
	for (uint32_t i = 0; i + 1 < k; i++) {
		uint32_t best = i, tmp;

		for (uint32_t j = i + 1; j < k; j++)
			if (compare_providers(&n->providers[c[j]], &n->providers[c[best]]) > 0)
				best = j;
		tmp = c[best];
		memmove(c + i + 1, c + i, (best - i) * sizeof(*c));
		c[i] = tmp;
	}
}

/* apk 2.14: an unversioned provides is chosen only with a k: or when its package is required by name. */
static bool auto_selectable(struct solver *s, const struct apk_provider *p)
{
	return p->version.ptr || p->pkg->provider_priority || nstate(s, p->pkg->name)->npos > 0;
}

/* Can pkg take all its names now: none held by another package, no recorded req broken? */
static bool lockable(struct solver *s, const struct apk_pkg *pkg, struct reject *rej)
{
	for (uint32_t i = 0; i <= pkg->provides.n; i++) {
		const struct apk_name *m = i ? pkg->provides.v[i - 1].name : pkg->name;
		struct apk_provider p = { pkg, i ? pkg->provides.v[i - 1].version : pkg->version };
		const struct name_state *st = nstate(s, m);

		if (st->locked && !(p.version.ptr == NULL && st->ver.ptr == NULL)) {
			*rej = (struct reject){ REJ_HELD, pkg, (uint32_t)st->chosen, -1 };
			return false;
		}
		for (int32_t q = st->req_head; q >= 0; q = s->reqs[q].next) {
			if (!apk_dep_satisfied_by(s->reqs[q].dep, &p)) {
				*rej = (struct reject){ REJ_RULED_OUT, pkg, 0, q };
				return false;
			}
		}
	}
	return true;
}

static int push_cand(struct solver *s, uint32_t provider)
{
	void *t = grow(s->cand, &s->cand_alloc, s->ncand + 1, sizeof(*s->cand));

	if (!t)
		return -ENOMEM;
	s->cand = t;
	s->cand[s->ncand++] = provider;
	return 0;
}

/* Collect the providers that can satisfy req now, best first. Their count, or FAIL with *msg. */
static int gather(struct solver *s, int32_t req, uint32_t *count, char **msg)
{
	const struct apk_dep *d = s->reqs[req].dep;
	const struct apk_name *n = d->name;
	size_t base = s->ncand;
	struct reject block = { REJ_NONE, NULL, 0, -1 }, rej;
	bool any_virtual = false;

	for (uint32_t i = 0; i < n->nproviders; i++) {
		const struct apk_provider *p = &n->providers[i];

		if (p->pkg->uninstallable) {
			if (block.kind == REJ_NONE)
				block = (struct reject){ REJ_UNINSTALLABLE, p->pkg, 0, -1 };
			continue;
		}
		if (!apk_dep_satisfied_by(d, p))
			continue;
		if (!auto_selectable(s, p)) {
			any_virtual = true;
			continue;
		}
		if (!lockable(s, p->pkg, &rej)) {
			if (block.kind == REJ_NONE || block.kind == REJ_UNINSTALLABLE)
				block = rej;
			continue;
		}
		if (push_cand(s, i) < 0)
			return -ENOMEM;
	}
	*count = (uint32_t)(s->ncand - base);
	if (*count == 0) {
		*msg = msg_no_candidate(s, req, block.kind != REJ_NONE ? &block : NULL, any_virtual);
		return *msg ? FAIL : -ENOMEM;
	}
	order_candidates(n, s->cand + base, *count);
	return 0;
}

static int add_req(struct solver *s, const struct apk_dep *d, int32_t parent)
{
	struct name_state *st = nstate(s, d->name);
	int cls = name_class(s, d->name);
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
	if (push_undo(s, (struct undo){ U_REQ, d->name->id, st->req_head, st->npos }) < 0)
		return -ENOMEM;
	idx = (int32_t)s->nreqs++;
	s->reqs[idx] = (struct req){ d, parent, st->req_head };
	st->req_head = idx;
	st->npos += !d->conflict;
	s->q[cls][s->qlen[cls]++] = (uint32_t)idx;
	return 0;
}

static int lock_name(struct solver *s, uint32_t pkg, const struct apk_name *m, struct blob ver,
		     char **msg)
{
	struct name_state *st = nstate(s, m);
	struct buf b;

	if (st->locked) {
		/* Several packages may provide one unversioned name. */
		if (ver.ptr == NULL && st->ver.ptr == NULL)
			return 0;
		buf_init(&b, IT_ERRMSG_MAX);
		fmt_pkg_chain(s, &b, pkg);
		buf_addf(&b, ": provides '%s' twice", m->name.ptr);
		*msg = msg_take(&b);
		return *msg ? FAIL : -ENOMEM;
	}
	if (push_undo(s, (struct undo){ U_LOCK, m->id, 0, 0 }) < 0)
		return -ENOMEM;
	st->locked = true;
	st->chosen = (int32_t)pkg;
	st->ver = ver;
	return 0;
}

static int select_pkg(struct solver *s, uint32_t id, int32_t reason, char **msg)
{
	const struct apk_pkg *p = pkg_of(s, id);
	struct pkg_state *st = &s->ps[id];
	void *t;
	int r;

	t = grow(s->sel, &s->sel_alloc, s->nsel + 1, sizeof(*s->sel));
	if (!t || push_undo(s, (struct undo){ U_SEL, id, 0, 0 }) < 0)
		return -ENOMEM;
	s->sel = t;
	s->sel[s->nsel++] = id;
	st->selected = true;
	st->reason = reason;
	r = lock_name(s, id, p->name, p->version, msg);
	for (uint32_t i = 0; !r && i < p->provides.n; i++)
		r = lock_name(s, id, p->provides.v[i].name, p->provides.v[i].version, msg);
	for (uint32_t i = 0; !r && i < p->depends.n; i++)
		r = add_req(s, &p->depends.v[i], (int32_t)id);
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
	memcpy(s->qlen, f->qlen, sizeof(s->qlen));
	memcpy(s->qcur, f->qcur, sizeof(s->qcur));
}

static int decline_all(struct solver *s, const struct frame *f)
{
	for (uint32_t i = 0; i < f->ncand; i++) {
		uint32_t id = f->name->providers[s->cand[f->cand_base + i]].pkg->id;

		if (push_undo(s, (struct undo){ U_DECLINE, id, 0, 0 }) < 0)
			return -ENOMEM;
		s->ps[id].declined = true;
	}
	return 0;
}

/* Apply alternative f->next (and advance it). */
static int apply_next(struct solver *s, struct frame *f, char **msg)
{
	uint32_t alt = f->next++;

	if (alt == f->ncand)
		return decline_all(s, f);
	return select_pkg(s, f->name->providers[s->cand[f->cand_base + alt]].pkg->id,
			  f->req >= 0 ? f->req : REASON_IIF, msg);
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

static int push_frame(struct solver *s, const struct apk_name *n, int32_t req, uint32_t ncand,
		      char **msg)
{
	struct frame *f;
	void *t = grow(s->frames, &s->frames_alloc, s->nframes + 1, sizeof(*s->frames));

	if (!t)
		return -ENOMEM;
	s->frames = t;
	f = &s->frames[s->nframes++];
	*f = (struct frame){ .trail = s->ntrail, .nreqs = s->nreqs, .nsel = s->nsel,
			     .cand_base = s->ncand - ncand, .name = n, .ncand = ncand, .req = req };
	memcpy(f->qlen, s->qlen, sizeof(s->qlen));
	memcpy(f->qcur, s->qcur, sizeof(s->qcur));
	return apply_next(s, f, msg);
}

/*
 * A choice failed with msg (taken over): go back to the newest decision
 * with an untried alternative. 0 when the search can go on, FAIL when
 * everything was tried (the explaining message left in *final).
 */
static int backtrack(struct solver *s, char *msg, char **final)
{
	while (s->nframes) {
		struct frame *f = &s->frames[s->nframes - 1];
		int r;

		if (explains(f, f->next - 1) && !f->err) {
			f->err = msg;
			msg = NULL;
		}
		free(msg);
		msg = NULL;
		undo_to(s, f);
		while (f->next < nalts(f)) {
			if (++s->steps > MAX_STEPS) {
				s->gave_up = true;
				break;
			}
			r = apply_next(s, f, &msg);
			if (r < 0)
				return r;
			if (r == 0)
				return 0;
			if (explains(f, f->next - 1) && !f->err) {
				f->err = msg;
				msg = NULL;
			}
			free(msg);
			msg = NULL;
			undo_to(s, f);
		}
		msg = f->err;
		f->err = NULL;
		s->ncand = f->cand_base;
		s->nframes--;
		if (s->gave_up)
			break;
	}
	*final = msg;
	return FAIL;
}

static bool next_req(struct solver *s, int32_t *req)
{
	for (int c = 0; c < NCLS; c++) {
		if (s->qcur[c] < s->qlen[c]) {
			*req = (int32_t)s->q[c][s->qcur[c]++];
			return true;
		}
	}
	return false;
}

/* Satisfy queued requirements until none is left (0) or one cannot be (FAIL, *msg). */
static int propagate(struct solver *s, char **msg)
{
	int32_t req;

	while (next_req(s, &req)) {
		const struct apk_dep *d = s->reqs[req].dep;
		uint32_t n;
		int r;

		if (nstate(s, d->name)->locked) {
			if (holds(s, d))
				continue;
			*msg = msg_holder_conflict(s, req);
			return *msg ? FAIL : -ENOMEM;
		}
		/* A conflict with an unclaimed name stays recorded; lockable() enforces it. */
		if (d->conflict)
			continue;
		r = gather(s, req, &n, msg);
		if (r)
			return r;
		if (n == 1) {
			uint32_t prov = s->cand[--s->ncand];

			r = select_pkg(s, d->name->providers[prov].pkg->id, req, msg);
		} else {
			r = push_frame(s, d->name, req, n, msg);
		}
		if (r)
			return r;
	}
	return 0;
}

/* Are all install_if conditions of pkg met by what is chosen? */
static bool triggered(struct solver *s, const struct apk_pkg *pkg)
{
	for (uint32_t i = 0; i < pkg->install_if.n; i++)
		if (!holds(s, &pkg->install_if.v[i]))
			return false;
	return true;
}

/*
 * At a fixpoint, add one install_if package whose conditions hold (as a
 * decision whose last alternative is to go without). 0 if there was none,
 * 1 if one was added, FAIL or -errno.
 */
static int install_if_step(struct solver *s, char **msg)
{
	const struct apk_db *db = s->db;

	for (uint32_t i = 0; i < db->niif_pkgs; i++) {
		const struct apk_pkg *p = db->iif_pkgs[i];
		const struct apk_name *n = p->name;
		size_t base = s->ncand;
		struct reject rej;
		uint32_t k;
		int r;

		if (s->ps[p->id].selected || s->ps[p->id].declined || p->uninstallable ||
		    nstate(s, n)->locked || !triggered(s, p))
			continue;
		/* Every triggered provider of the name is a candidate, as in apk's select_package(). */
		for (uint32_t j = 0; j < n->nproviders; j++) {
			const struct apk_provider *pv = &n->providers[j];
			const struct pkg_state *st = &s->ps[pv->pkg->id];

			if (pv->pkg->install_if.n == 0 || st->declined || pv->pkg->uninstallable ||
			    !auto_selectable(s, pv) || !triggered(s, pv->pkg) ||
			    !lockable(s, pv->pkg, &rej))
				continue;
			if (push_cand(s, j) < 0)
				return -ENOMEM;
		}
		k = (uint32_t)(s->ncand - base);
		if (k == 0) {
			/* It cannot join this selection; state only grows until backtracking. */
			if (push_undo(s, (struct undo){ U_DECLINE, p->id, 0, 0 }) < 0)
				return -ENOMEM;
			s->ps[p->id].declined = true;
			continue;
		}
		order_candidates(n, s->cand + base, k);
		r = push_frame(s, n, -1, k, msg);
		return r ? r : 1;
	}
	return 0;
}

static int search(struct solver *s, char **final)
{
	char *msg = NULL;
	int r;

	for (;;) {
		r = propagate(s, &msg);
		if (r == 0) {
			r = install_if_step(s, &msg);
			if (r == 0)
				return 0;
			if (r == 1)
				continue;
		}
		if (r < 0) {
			free(msg);
			return r;
		}
		r = backtrack(s, msg, final);
		msg = NULL;
		if (r)
			return r;
	}
}

/* ---- install order: apk's changeset generation ---- */

struct cs_frame {
	uint32_t pkg;
	uint32_t dep;      /* next dependency */
	uint32_t nm;       /* next own-or-provided name for install_if triggers */
	uint32_t rif;      /* next package in that name's rinstall_if */
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
	void *t;

	if (ns->in_cs)
		return 0;
	ns->in_cs = true;
	if (!ns->locked || s->ps[ns->chosen].in_cs)
		return 0;
	p = pkg_of(s, (uint32_t)ns->chosen);
	s->ps[p->id].in_cs = true;
	nstate(s, p->name)->in_cs = true;
	for (uint32_t i = 0; i < p->provides.n; i++)
		nstate(s, p->provides.v[i].name)->in_cs = true;
	t = grow(c->st, &c->alloc, c->n + 1, sizeof(*c->st));
	if (!t)
		return -ENOMEM;
	c->st = t;
	c->st[c->n++] = (struct cs_frame){ p->id, 0, 0, 0, false };
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

static int cs_run(struct cs *c)
{
	while (c->n) {
		struct cs_frame *f = &c->st[c->n - 1];
		const struct apk_pkg *p = pkg_of(c->s, f->pkg);
		const struct apk_name *m;
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
		m = f->nm ? p->provides.v[f->nm - 1].name : p->name;
		if (f->rif >= m->nrinstall_if) {
			f->nm++;
			f->rif = 0;
			continue;
		}
		m = m->rinstall_if[f->rif++]->name;
		if (cs_iif_due(c, m)) {
			r = cs_enter(c, m);
			if (r)
				return r;
		}
	}
	return 0;
}

static int make_plan(struct solver *s, struct apk_plan *plan)
{
	struct cs c = { s, NULL, 0, 0, plan };
	int r = 0;

	plan->pkgs = calloc(s->nsel + 1, sizeof(*plan->pkgs));
	if (!plan->pkgs)
		return -ENOMEM;
	for (size_t i = 0; !r && i < s->nworld; i++) {
		r = cs_enter(&c, s->world[i].name);
		if (!r)
			r = cs_run(&c);
	}
	/* Anything selected but not reached (install_if on a conflict only): in selection order. */
	for (size_t i = 0; !r && i < s->nsel; i++) {
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

/* Parse the world into s->world: sorted by name, one entry per name (the last wins), as apk. */
static int parse_world(struct solver *s, const struct strlist *world, struct it_error *err)
{
	size_t n = world ? world->n : 0;

	s->world = calloc(n + 1, sizeof(*s->world));
	s->unknown = calloc(n + 1, sizeof(*s->unknown));
	if (!s->world || !s->unknown)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct blob text = blob_str(world->v[i]), name, ver;
		const struct apk_name *nm;
		struct apk_dep d;
		bool conflict;
		int op;
		size_t j;

		if (!apk_dep_split(text, &name, &op, &ver, &conflict) ||
		    memchr(text.ptr, ' ', text.len)) {
			it_error_set(err, -IT_EFORMAT, "bad dependency '%s' in the package list",
				     world->v[i]);
			it_error_hint(err, "write 'name', 'name>=1.2', 'name~1.2' or '!name'");
			return -IT_EFORMAT;
		}
		if (memchr(name.ptr, '@', name.len)) {
			it_error_set(err, -IT_EFORMAT, "'%s': repository tags are not supported",
				     world->v[i]);
			it_error_hint(err, "list the repository with --repo instead");
			return -IT_EFORMAT;
		}
		nm = apk_db_find_name(s->db, name);
		for (j = 0; !nm && j < s->nunknown; j++)
			if (blob_eq(s->unknown[j].name, name))
				nm = &s->unknown[j];
		if (!nm) {
			/* Names nobody provides still need an entry for the messages. */
			struct apk_name *u = &s->unknown[s->nunknown];

			*u = (struct apk_name){ .id = s->db->nnames + (uint32_t)s->nunknown };
			u->name.ptr = strndup(name.ptr, name.len);
			if (!u->name.ptr)
				return -ENOMEM;
			u->name.len = name.len;
			s->nunknown++;
			nm = u;
		}
		d = (struct apk_dep){ nm, ver, (uint8_t)op, conflict };
		for (j = 0; j < s->nworld && s->world[j].name != nm; j++)
			;
		s->world[j] = d;
		if (j == s->nworld)
			s->nworld++;
	}
	qsort(s->world, s->nworld, sizeof(*s->world), cmp_world);
	return 0;
}

static void solver_release(struct solver *s)
{
	for (size_t i = 0; i < s->nframes; i++)
		free(s->frames[i].err);
	for (size_t i = 0; i < s->nunknown; i++)
		free((char *)s->unknown[i].name.ptr);
	free(s->unknown);
	free(s->world);
	free(s->frames);
	free(s->cand);
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
	plan->pkgs = NULL;
	plan->n = 0;
}

int apk_resolve(const struct apk_db *db, const struct strlist *world, struct apk_plan *plan,
		struct it_error *err)
{
	struct solver s = { .db = db };
	char *final = NULL;
	int r;

	apk_plan_release(plan);
	r = parse_world(&s, world, err);
	if (r)
		goto out;
	r = -ENOMEM;
	s.ns = malloc((db->nnames + s.nunknown + 1) * sizeof(*s.ns));
	s.ps = calloc(db->npkgs + 1, sizeof(*s.ps));
	if (!s.ns || !s.ps)
		goto out;
	for (size_t i = 0; i < db->nnames + s.nunknown; i++)
		s.ns[i] = (struct name_state){ .chosen = -1, .req_head = -1, .cls = -1 };
	for (size_t i = 0; i < db->npkgs; i++)
		s.ps[i].reason = -1;
	for (size_t i = 0; i < s.nworld; i++) {
		r = add_req(&s, &s.world[i], -1);
		if (r)
			goto out;
	}
	r = search(&s, &final);
	if (r == FAIL) {
		r = it_error_set(err, -IT_EUNSAT, "%s", final ? final : "cannot satisfy the package list");
		if (s.gave_up)
			it_error_hint(err, "gave up after %d alternatives; pin versions in the package list",
				      MAX_STEPS);
		goto out;
	}
	if (r)
		goto out;
	r = make_plan(&s, plan);
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
		r = buf_addf(out, "%.*s-%.*s%*s  %10s  %s\n", (int)p->name->name.len,
			     p->name->name.ptr, (int)p->version.len, p->version.ptr, pad, "", size,
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
