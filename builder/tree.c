// SPDX-License-Identifier: MIT
/* The in-memory tree: path rules, symlinks resolved inside it, apk's ownership rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/internal.h"

/* A path split into components; '.' and empty ones are dropped when splitting entry paths. */
struct comps {
	char *buf;
	char **v;
	size_t n;
};

/* State of one resolution: what to say in errors and how many symlinks were followed. */
struct walk {
	struct tree *t;
	const char *path;     /* the path being placed or looked up */
	const char *pkgname;  /* NULL for configuration */
	struct it_error *err; /* NULL: no messages (lookups) */
	bool create;	      /* make missing directories */
	int links;
	const struct tree_node *via; /* the symlink being followed, for messages */
	const char *hardlink;	     /* the hard link target being resolved, for messages */
};

enum owner_rule { OWNER_OVERWRITE, OWNER_SKIP, OWNER_CONFLICT };

static void comps_free(struct comps *c)
{
	free(c->buf);
	free(c->v);
	c->buf = NULL;
	c->v = NULL;
	c->n = 0;
}

/*
 * Split 'path' at '/'. With 'keep_dots' (link targets) '..' stays as a
 * component; without it (entry paths) a '..' gives -IT_EPATH.
 */
static int comps_split(struct comps *c, const char *path, bool keep_dots)
{
	size_t len = strlen(path), max = len / 2 + 2;
	char *p;

	c->n = 0;
	c->buf = malloc(len + 1);
	c->v = malloc(max * sizeof(*c->v));
	if (!c->buf || !c->v) {
		comps_free(c);
		return -ENOMEM;
	}
	memcpy(c->buf, path, len + 1);
	p = c->buf;
	while (*p) {
		char *s = p;

		while (*p && *p != '/')
			p++;
		if (*p)
			*p++ = '\0';
		if (!*s || !strcmp(s, "."))
			continue;
		if (!strcmp(s, "..") && !keep_dots) {
			comps_free(c);
			return -IT_EPATH;
		}
		c->v[c->n++] = s;
	}
	return 0;
}

static struct tree_node *kid_find(const struct tree_node *dir, const char *name, size_t *pos)
{
	size_t lo = 0, hi = dir->nkids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dir->kids[mid]->name, name);

		if (c == 0) {
			if (pos)
				*pos = mid;
			return dir->kids[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

static int kid_insert(struct tree *t, struct tree_node *dir, struct tree_node *n, size_t pos)
{
	if (dir->nkids == dir->kids_alloc) {
		size_t alloc = dir->kids_alloc ? dir->kids_alloc * 2 : 4;
		struct tree_node **kids = realloc(dir->kids, alloc * sizeof(*kids));

		if (!kids)
			return -ENOMEM;
		dir->kids = kids;
		dir->kids_alloc = alloc;
	}
	memmove(dir->kids + pos + 1, dir->kids + pos, (dir->nkids - pos) * sizeof(*dir->kids));
	dir->kids[pos] = n;
	dir->nkids++;
	n->parent = dir;
	t->count++;
	return 0;
}

static struct tree_node *node_new(const char *name)
{
	struct tree_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->mtime = TREE_MTIME_UNSET;
	return n;
}

/* Free a node's subtree and content, not the node; returns how many descendants went. */
static size_t node_clear(struct tree_node *n)
{
	size_t gone = 0;

	for (size_t i = 0; i < n->nkids; i++) {
		gone += 1 + node_clear(n->kids[i]);
		free(n->kids[i]->name);
		free(n->kids[i]);
	}
	free(n->kids);
	free(n->data);
	free(n->target);
	n->kids = NULL;
	n->nkids = n->kids_alloc = 0;
	n->data = NULL;
	n->size = 0;
	n->target = NULL;
	n->hardlink = false;
	n->devmajor = n->devminor = 0;
	return gone;
}

void tree_init(struct tree *t)
{
	memset(t, 0, sizeof(*t));
	t->root.name = (char *)"";
	t->root.mode = S_IFDIR | 0755;
	t->root.mtime = TREE_MTIME_UNSET;
}

void tree_release(struct tree *t)
{
	node_clear(&t->root);
	for (size_t i = 0; i < t->npkgs; i++) {
		free(t->pkgs[i]->name);
		free(t->pkgs[i]->origin);
		strlist_clear(&t->pkgs[i]->replaces);
		free(t->pkgs[i]);
	}
	free(t->pkgs);
	tree_init(t);
}

int tree_package(struct tree *t, const char *name, const char *origin,
		 const struct strlist *replaces, long replaces_priority,
		 const struct tree_pkg **out)
{
	struct tree_pkg *p = NULL;
	char *o = NULL;
	struct strlist rep = STRLIST_INIT;
	int r;

	if (origin && !(o = strdup(origin)))
		return -ENOMEM;
	if (replaces && (r = strlist_copy(&rep, replaces)) < 0)
		goto fail;
	for (size_t i = 0; i < t->npkgs && !p; i++)
		if (!strcmp(t->pkgs[i]->name, name))
			p = t->pkgs[i];
	if (!p) {
		if (t->npkgs == t->pkgs_alloc) {
			size_t alloc = t->pkgs_alloc ? t->pkgs_alloc * 2 : 32;
			struct tree_pkg **v = realloc(t->pkgs, alloc * sizeof(*v));

			r = -ENOMEM;
			if (!v)
				goto fail;
			t->pkgs = v;
			t->pkgs_alloc = alloc;
		}
		p = calloc(1, sizeof(*p));
		r = -ENOMEM;
		if (!p || !(p->name = strdup(name))) {
			free(p);
			goto fail;
		}
		t->pkgs[t->npkgs++] = p;
	}
	free(p->origin);
	p->origin = o;
	strlist_clear(&p->replaces);
	p->replaces = rep;
	p->replaces_priority = replaces_priority;
	*out = p;
	return 0;
fail:
	free(o);
	strlist_clear(&rep);
	return r;
}

/* Does 'p' name package 'name' in its replaces? A version constraint after the name is ignored. */
static bool pkg_replaces(const struct tree_pkg *p, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < p->replaces.n; i++) {
		const char *r = p->replaces.v[i];
		size_t rl = strcspn(r, "<>=~");

		if (rl == len && !memcmp(r, name, len))
			return true;
	}
	return false;
}

/* apk-tools 2.x (database.c, apk_db_install_archive_entry): may 'new' overwrite a file of 'old'? */
static enum owner_rule owner_rule(const struct tree_pkg *old, const struct tree_pkg *new)
{
	long old_prio = -1, new_prio = -1;

	if (!old || !new || old == new || !strcmp(old->name, new->name))
		return OWNER_OVERWRITE;
	if (old->origin && new->origin && !strcmp(old->origin, new->origin))
		return OWNER_OVERWRITE;
	if (pkg_replaces(old, new->name))
		old_prio = old->replaces_priority;
	if (pkg_replaces(new, old->name))
		new_prio = new->replaces_priority;
	if (old_prio > new_prio)
		return OWNER_SKIP;
	if (new_prio >= 0)
		return OWNER_OVERWRITE;
	return OWNER_CONFLICT;
}

int tree_node_path(const struct tree_node *n, char *out, size_t outsz)
{
	size_t len = 0, pos;

	if (!n->parent) {
		if (outsz < 2)
			return -ENAMETOOLONG;
		memcpy(out, "/", 2);
		return 0;
	}
	for (const struct tree_node *p = n; p->parent; p = p->parent)
		len += 1 + strlen(p->name);
	if (len + 1 > outsz)
		return -ENAMETOOLONG;
	out[len] = '\0';
	pos = len;
	for (const struct tree_node *p = n; p->parent; p = p->parent) {
		size_t l = strlen(p->name);

		pos -= l;
		memcpy(out + pos, p->name, l);
		out[--pos] = '/';
	}
	return 0;
}

static const char *in_pkg(const struct walk *w)
{
	return w->pkgname ? w->pkgname : "configuration";
}

/* What a message is about: "'etc/x'", or "hard link 'usr/bin/x' -> '../etc/y'" with its target. */
static const char *subject(const struct walk *w, char *out, size_t outsz)
{
	if (w->hardlink)
		snprintf(out, outsz, "hard link '%s' -> '%s'", w->path, w->hardlink);
	else
		snprintf(out, outsz, "'%s'", w->path);
	return out;
}

static int walk_escape(struct walk *w)
{
	char via[4096] = "?", what[8192];

	if (w->via)
		tree_node_path(w->via, via, sizeof(via));
	return it_error_set(w->err, -IT_EPATH,
			    "%s in '%s': path leaves the root through symlink '%s'",
			    subject(w, what, sizeof(what)), in_pkg(w), via);
}

static int resolve(struct walk *w, struct tree_node *cur, char **v, size_t n, bool follow_last,
		   bool mkdir_last, struct tree_node **out);

/* Resolve the symlink 'link' (a child of 'dir') to what it points at, inside the tree. */
static int follow(struct walk *w, struct tree_node *dir, struct tree_node *link, bool mkdir_last,
		  struct tree_node **out)
{
	struct comps c = {0};
	const struct tree_node *saved = w->via;
	struct tree_node *start;
	char where[4096], what[8192];
	int r;

	if (++w->links > TREE_MAX_SYMLINKS) {
		tree_node_path(link, where, sizeof(where));
		return it_error_set(w->err, -ELOOP,
				    "%s in '%s': too many levels of symlinks at '%s'",
				    subject(w, what, sizeof(what)), in_pkg(w), where);
	}
	r = comps_split(&c, link->target, true);
	if (r < 0)
		return it_error_set(w->err, r, "out of memory");
	start = link->target[0] == '/' ? &w->t->root : dir;
	w->via = link;
	if (c.n == 0)
		*out = start;
	else
		r = resolve(w, start, c.v, c.n, true, mkdir_last, out);
	w->via = saved;
	comps_free(&c);
	return r;
}

static int mkdir_implicit(struct walk *w, struct tree_node *dir, const char *name, size_t pos,
			  struct tree_node **out)
{
	struct tree_node *n = node_new(name);

	if (!n || kid_insert(w->t, dir, n, pos) < 0) {
		if (n)
			free(n->name);
		free(n);
		return it_error_set(w->err, -ENOMEM, "out of memory");
	}
	n->mode = S_IFDIR | 0755;
	n->implicit = true;
	*out = n;
	return 0;
}

/*
 * Walk components v[0..n) from 'cur'. Every component but the last must be
 * (or lead to) a directory; the last is followed when it is a symlink and
 * 'follow_last'. Missing components: made as directories when w->create
 * (the last only with 'mkdir_last'), else -ENOENT.
 */
static int resolve(struct walk *w, struct tree_node *cur, char **v, size_t n, bool follow_last,
		   bool mkdir_last, struct tree_node **out)
{
	char where[4096], what[8192];

	*out = cur;
	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;
		struct tree_node *kid;
		size_t pos;
		int r;

		if (!strcmp(v[i], "..")) {
			if (!cur->parent)
				return walk_escape(w);
			cur = cur->parent;
			*out = cur;
			continue;
		}
		kid = kid_find(cur, v[i], &pos);
		if (!kid) {
			if (!w->create || (last && !mkdir_last))
				return -ENOENT;
			r = mkdir_implicit(w, cur, v[i], pos, &kid);
			if (r < 0)
				return r;
		}
		if (S_ISLNK(kid->mode) && (!last || follow_last)) {
			r = follow(w, cur, kid, true, &kid);
			if (r < 0)
				return r;
		}
		if (last) {
			*out = kid;
			return 0;
		}
		if (!S_ISDIR(kid->mode)) {
			tree_node_path(kid, where, sizeof(where));
			if (w->hardlink)
				return it_error_set(
				    w->err, -ENOTDIR, "%s in '%s': '%s' is not a directory",
				    subject(w, what, sizeof(what)), in_pkg(w), where);
			return it_error_set(w->err, -ENOTDIR,
					    "cannot place '%s' from '%s': '%s' is not a directory",
					    w->path, in_pkg(w), where);
		}
		cur = kid;
		*out = cur;
	}
	return 0;
}

/* Split an entry path; '..' is an error naming the package. */
static int split_entry(struct walk *w, struct comps *c, const char *path)
{
	int r = comps_split(c, path, false);

	if (r == -IT_EPATH) {
		if (w->pkgname)
			return it_error_set(w->err, r, "'%s' in '%s': path leaves the root", path,
					    w->pkgname);
		return it_error_set(w->err, r, "'%s': path leaves the root", path);
	}
	if (r < 0)
		return it_error_set(w->err, r, "out of memory");
	return 0;
}

static void dir_set(struct tree_node *n, const struct tree_entry *e, const struct tree_pkg *pkg)
{
	n->mode = S_IFDIR | (e->mode & 07777);
	n->uid = e->uid;
	n->gid = e->gid;
	if (!n->owner)
		n->owner = pkg;
}

/* apk-tools 2.x apk_db_dir_apply_diri_permissions(): lowest uid, then gid, wins; a tie ANDs modes.
 */
static void dir_merge(struct tree_node *n, const struct tree_entry *e, const struct tree_pkg *pkg)
{
	/* A directory made only as a parent takes e's attributes, and so does whatever the
	 * configuration (no package) says; between packages, the lower owner wins. */
	bool overrides = n->implicit || !pkg;
	bool lower_owner = e->uid < n->uid || (e->uid == n->uid && e->gid < n->gid);

	if (overrides || lower_owner)
		dir_set(n, e, pkg);
	else if (e->uid == n->uid && e->gid == n->gid)
		n->mode = S_IFDIR | (n->mode & e->mode & 07777);
	if (!n->owner)
		n->owner = pkg;
	if (e->mtime != TREE_MTIME_UNSET)
		n->mtime = e->mtime;
	n->implicit = false;
}

static int add_dir(struct walk *w, struct tree_node *parent, const char *leaf,
		   const struct tree_entry *e, const struct tree_pkg *pkg)
{
	struct tree_node *n;
	char where[4096];
	size_t pos;

	n = kid_find(parent, leaf, &pos);
	if (!n) {
		int r = mkdir_implicit(w, parent, leaf, pos, &n);

		if (r < 0)
			return r;
		dir_merge(n, e, pkg);
		return 0;
	}
	if (S_ISDIR(n->mode)) {
		dir_merge(n, e, pkg);
		return 0;
	}
	if (S_ISLNK(n->mode)) {
		struct tree_node *to = NULL;
		int r;

		w->create = false;
		r = follow(w, parent, n, false, &to);
		w->create = true;
		if (r == 0 && S_ISDIR(to->mode))
			return 0;
		if (r < 0 && r != -ENOENT)
			return r;
	}
	tree_node_path(n, where, sizeof(where));
	if (pkg && n->owner)
		return it_error_set(w->err, -IT_ECONFLICT,
				    "'%s' is a directory in '%s' but not in '%s'", where, pkg->name,
				    n->owner->name);
	return it_error_set(w->err, pkg ? -IT_ECONFLICT : -EEXIST,
			    "cannot make directory '%s' for '%s': something else is there", where,
			    in_pkg(w));
}

/*
 * Path of the regular file a hard link entry names, as stored in the node
 * ("usr/bin/x"). The target obeys the rules of entry names ('..' refused,
 * symlinks followed inside the tree); every message names the link and its
 * target, since either may be the hostile part.
 */
static int hardlink_target(struct walk *w, const char *link, char **out)
{
	struct comps c = {0};
	struct tree_node *n = NULL;
	char path[4096], what[8192];
	int r;

	w->hardlink = link;
	subject(w, what, sizeof(what));
	r = comps_split(&c, link, false);
	if (r == -IT_EPATH) {
		r = it_error_set(w->err, r, "%s in '%s': path leaves the root", what, in_pkg(w));
		goto out;
	}
	if (r < 0) {
		r = it_error_set(w->err, r, "out of memory");
		goto out;
	}
	w->create = false;
	r = c.n ? resolve(w, &w->t->root, c.v, c.n, false, false, &n) : -ENOENT;
	w->create = true;
	if (r == -ENOENT || (r == 0 && !S_ISREG(n->mode))) {
		r = it_error_set(w->err, -IT_EFORMAT,
				 "%s in '%s': the target is not a file placed before it", what,
				 in_pkg(w));
		goto out;
	}
	if (r < 0) {
		r = it_error_set(w->err, r, "%s in '%s': %s", what, in_pkg(w), it_strerror(r));
		goto out;
	}
	if (n->hardlink) {
		*out = strdup(n->target);
	} else {
		r = tree_node_path(n, path, sizeof(path));
		if (r < 0) {
			r = it_error_set(w->err, r, "%s: path too long", what);
			goto out;
		}
		*out = strdup(path + 1);
	}
	if (!*out)
		r = it_error_set(w->err, -ENOMEM, "out of memory");
out:
	w->hardlink = NULL;
	comps_free(&c);
	return r;
}

/* Fill a fresh or cleared node from a non-directory entry; takes 'content' and 'target'. */
static void node_fill(struct tree_node *n, const struct tree_entry *e, const struct tree_pkg *pkg,
		      void *content, char *target)
{
	n->mode = e->mode;
	n->uid = e->uid;
	n->gid = e->gid;
	n->mtime = e->mtime;
	n->owner = pkg;
	n->implicit = false;
	n->target = target;
	n->hardlink = S_ISREG(e->mode) && e->hardlink;
	if (S_ISREG(e->mode) && !e->hardlink) {
		n->data = content;
		n->size = e->size;
	}
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
		n->devmajor = e->devmajor;
		n->devminor = e->devminor;
	}
}

static int add_nondir(struct walk *w, struct tree_node *parent, const char *leaf,
		      const struct tree_entry *e, const struct tree_pkg *pkg, void **take)
{
	struct tree_node *n;
	char *target = NULL;
	void *content = NULL;
	char where[4096];
	size_t pos;
	int r;

	/* apk installs no ".keep_*" files: they only keep a directory in the package. */
	if (pkg && !strncmp(leaf, ".keep_", 6) && leaf[6])
		return 0;
	n = kid_find(parent, leaf, &pos);
	if (n) {
		tree_node_path(n, where, sizeof(where));
		if (S_ISDIR(n->mode))
			return it_error_set(w->err, pkg ? -IT_ECONFLICT : -EISDIR,
					    "'%s' from '%s' would replace a directory", where,
					    in_pkg(w));
		switch (owner_rule(n->owner, pkg)) {
		case OWNER_SKIP:
			return 0;
		case OWNER_CONFLICT:
			it_error_set(w->err, -IT_ECONFLICT, "'%s' is in both '%s' and '%s'", where,
				     n->owner->name, pkg->name);
			it_error_hint(w->err, "one package must name the other in its replaces");
			return -IT_ECONFLICT;
		case OWNER_OVERWRITE:
			break;
		}
	}
	if (S_ISREG(e->mode) && e->hardlink) {
		r = hardlink_target(w, e->hardlink, &target);
		if (r < 0)
			return r;
		if (n && n->parent == parent && tree_lookup(w->t, target, false) == n) {
			free(target);
			return it_error_set(w->err, -IT_EFORMAT,
					    "hard link '%s' -> '%s' in '%s': links to itself",
					    w->path, e->hardlink, in_pkg(w));
		}
	} else if (S_ISLNK(e->mode)) {
		target = strdup(e->link_target);
		if (!target)
			return it_error_set(w->err, -ENOMEM, "out of memory");
	} else if (S_ISREG(e->mode) && e->size) {
		content = *take;
		*take = NULL;
		if (!content) {
			content = malloc(e->size);
			if (!content)
				return it_error_set(w->err, -ENOMEM, "out of memory");
			memcpy(content, e->content, e->size);
		}
	}
	if (n) {
		node_clear(n);
		node_fill(n, e, pkg, content, target);
		return 0;
	}
	n = node_new(leaf);
	if (!n || kid_insert(w->t, parent, n, pos) < 0) {
		if (n)
			free(n->name);
		free(n);
		free(content);
		free(target);
		return it_error_set(w->err, -ENOMEM, "out of memory");
	}
	node_fill(n, e, pkg, content, target);
	return 0;
}

static int check_entry(struct walk *w, const struct tree_entry *e)
{
	switch (e->mode & S_IFMT) {
	case S_IFREG:
		if (e->size && !e->content && !e->hardlink)
			break;
		return 0;
	case S_IFLNK:
		if (!e->link_target || !*e->link_target)
			break;
		return 0;
	case S_IFDIR:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return 0;
	default:
		break;
	}
	return it_error_set(w->err, -IT_EFORMAT,
			    "'%s' in '%s': unsupported or incomplete entry (mode 0%o)", e->path,
			    in_pkg(w), e->mode);
}

int tree_add(struct tree *t, const struct tree_entry *e, const struct tree_pkg *pkg,
	     struct it_error *err)
{
	struct walk w = {t, e->path, pkg ? pkg->name : NULL, err, true, 0, NULL, NULL};
	void *take = (e->flags & TREE_TAKE_CONTENT) ? (void *)e->content : NULL;
	struct comps c = {0};
	struct tree_node *parent = NULL;
	char where[4096];
	int r;

	r = check_entry(&w, e);
	if (r < 0)
		goto out;
	r = split_entry(&w, &c, e->path);
	if (r < 0)
		goto out;
	if (c.n == 0) {
		if (S_ISDIR(e->mode))
			dir_merge(&t->root, e, pkg);
		else
			r = it_error_set(err, -IT_EPATH, "'%s' in '%s': cannot replace the root",
					 e->path, in_pkg(&w));
		goto out;
	}
	r = resolve(&w, &t->root, c.v, c.n - 1, true, true, &parent);
	if (r < 0)
		goto out;
	if (!S_ISDIR(parent->mode)) {
		tree_node_path(parent, where, sizeof(where));
		r = it_error_set(err, -ENOTDIR,
				 "cannot place '%s' from '%s': '%s' is not a directory", e->path,
				 in_pkg(&w), where);
		goto out;
	}
	if (S_ISDIR(e->mode))
		r = add_dir(&w, parent, c.v[c.n - 1], e, pkg);
	else
		r = add_nondir(&w, parent, c.v[c.n - 1], e, pkg, &take);
out:
	free(take);
	comps_free(&c);
	return r;
}

int tree_add_file(struct tree *t, const char *path, unsigned perm, unsigned uid, unsigned gid,
		  const void *data, size_t size, struct it_error *err)
{
	struct tree_entry e = {
	    .path = path,
	    .mode = S_IFREG | (perm & 07777),
	    .uid = uid,
	    .gid = gid,
	    .mtime = TREE_MTIME_UNSET,
	    .content = data,
	    .size = size,
	};

	return tree_add(t, &e, NULL, err);
}

int tree_add_dir(struct tree *t, const char *path, unsigned perm, unsigned uid, unsigned gid,
		 struct it_error *err)
{
	struct tree_entry e = {
	    .path = path,
	    .mode = S_IFDIR | (perm & 07777),
	    .uid = uid,
	    .gid = gid,
	    .mtime = TREE_MTIME_UNSET,
	};

	return tree_add(t, &e, NULL, err);
}

int tree_add_symlink(struct tree *t, const char *path, const char *target, struct it_error *err)
{
	struct tree_entry e = {
	    .path = path,
	    .mode = S_IFLNK | 0777,
	    .mtime = TREE_MTIME_UNSET,
	    .link_target = target,
	};

	return tree_add(t, &e, NULL, err);
}

struct tree_node *tree_lookup(const struct tree *t, const char *path, bool follow_last)
{
	struct walk w = {(struct tree *)t, path, NULL, NULL, false, 0, NULL, NULL};
	struct comps c = {0};
	struct tree_node *n = NULL;
	int r;

	if (comps_split(&c, path, false) < 0)
		return NULL;
	r = resolve(&w, (struct tree_node *)&t->root, c.v, c.n, follow_last, false, &n);
	comps_free(&c);
	return r < 0 ? NULL : n;
}

int tree_set_content(struct tree *t, const char *path, const void *data, size_t size)
{
	struct tree_node *n = tree_lookup(t, path, true);
	unsigned char *copy = NULL;

	if (!n)
		return -ENOENT;
	if (!tree_is_reg(n))
		return -EINVAL;
	if (size) {
		copy = malloc(size);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, size);
	}
	free(n->data);
	n->data = copy;
	n->size = size;
	return 0;
}

int tree_chmod(struct tree *t, const char *path, unsigned perm)
{
	struct tree_node *n = tree_lookup(t, path, true);

	if (!n)
		return -ENOENT;
	n->mode = (n->mode & S_IFMT) | (perm & 07777);
	if (S_ISDIR(n->mode))
		n->implicit = false;
	return 0;
}

int tree_chown(struct tree *t, const char *path, unsigned uid, unsigned gid)
{
	struct tree_node *n = tree_lookup(t, path, true);

	if (!n)
		return -ENOENT;
	n->uid = uid;
	n->gid = gid;
	if (S_ISDIR(n->mode))
		n->implicit = false;
	return 0;
}

int tree_remove(struct tree *t, const char *path)
{
	struct tree_node *n = tree_lookup(t, path, false);
	struct tree_node *parent;
	size_t pos;

	if (!n)
		return 0;
	parent = n->parent;
	if (!parent)
		return -EINVAL;
	kid_find(parent, n->name, &pos);
	memmove(parent->kids + pos, parent->kids + pos + 1,
		(parent->nkids - pos - 1) * sizeof(*parent->kids));
	parent->nkids--;
	t->count -= 1 + node_clear(n);
	free(n->name);
	free(n);
	return 1;
}

size_t tree_count(const struct tree *t)
{
	return t->count;
}

static int walk_node(const struct tree_node *dir, char *path, size_t len, size_t max,
		     tree_walk_fn fn, void *ctx)
{
	for (size_t i = 0; i < dir->nkids; i++) {
		const struct tree_node *n = dir->kids[i];
		size_t nl = strlen(n->name), l = len;
		int r;

		if (l + nl + 2 > max)
			return -ENAMETOOLONG;
		if (l)
			path[l++] = '/';
		memcpy(path + l, n->name, nl + 1);
		r = fn(n, path, ctx);
		if (r)
			return r;
		if (S_ISDIR(n->mode)) {
			r = walk_node(n, path, l + nl, max, fn, ctx);
			if (r)
				return r;
		}
		path[len] = '\0';
	}
	return 0;
}

int tree_walk(const struct tree *t, tree_walk_fn fn, void *ctx)
{
	char path[8192];

	path[0] = '\0';
	return walk_node(&t->root, path, 0, sizeof(path), fn, ctx);
}
