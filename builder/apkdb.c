// SPDX-License-Identifier: MIT
/* apk's lib/apk/db/installed, in apk 2.14's order: see apkdb.h. */
#include "builder/apkdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "builder/apk.h"

void apkdb_init(struct apkdb *db)
{
	*db = (struct apkdb){0};
}

static void dir_release(struct apkdb_dir *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->files[i].name);
		free(d->files[i].lines);
	}
	free(d->files);
	free(d->name);
}

void apkdb_release(struct apkdb *db)
{
	for (size_t i = 0; i < db->n; i++) {
		struct apkdb_pkg *p = &db->pkgs[i];

		for (size_t k = 0; k < p->n; k++)
			dir_release(&p->dirs[k]);
		free(p->dirs);
		free(p->name);
		free(p->header);
	}
	free(db->pkgs);
	for (size_t i = 0; i < db->nscripts; i++) {
		free(db->scripts[i].name);
		free(db->scripts[i].data);
	}
	free(db->scripts);
	apkdb_init(db);
}

/* Room for one more of 'size' bytes in *v (n used of *alloc). */
static int grow(void **v, size_t n, size_t *alloc, size_t size)
{
	size_t na;
	void *nv;

	if (n < *alloc)
		return 0;
	na = *alloc ? *alloc * 2 : 8;
	nv = realloc(*v, na * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*alloc = na;
	return 0;
}

int apkdb_pkg(struct apkdb *db, const char *name, const char *header, size_t header_len)
{
	struct apkdb_pkg *p;

	if (grow((void **)&db->pkgs, db->n, &db->alloc, sizeof(*db->pkgs)) < 0)
		return -ENOMEM;
	p = &db->pkgs[db->n];
	*p = (struct apkdb_pkg){0};
	p->name = strdup(name);
	p->header = strndup(header, header_len);
	if (!p->name || !p->header) {
		free(p->name);
		free(p->header);
		return -ENOMEM;
	}
	db->n++;
	return 0;
}

static struct apkdb_dir *find_dir(struct apkdb_pkg *p, const char *name, size_t len)
{
	/* Most entries fall in the directory named last. */
	for (size_t i = p->n; i-- > 0;)
		if (strlen(p->dirs[i].name) == len && !memcmp(p->dirs[i].name, name, len))
			return &p->dirs[i];
	return NULL;
}

static struct apkdb_dir *get_dir(struct apkdb_pkg *p, const char *name, size_t len)
{
	struct apkdb_dir *d = find_dir(p, name, len);

	if (d)
		return d;
	if (grow((void **)&p->dirs, p->n, &p->alloc, sizeof(*p->dirs)) < 0)
		return NULL;
	d = &p->dirs[p->n];
	*d = (struct apkdb_dir){.mode = 0755};
	d->name = strndup(name, len);
	if (!d->name)
		return NULL;
	p->n++;
	return d;
}

int apkdb_dir(struct apkdb *db, const char *path, unsigned mode, unsigned uid, unsigned gid)
{
	size_t len = strlen(path);
	struct apkdb_dir *d;

	if (!db->n)
		return -EINVAL;
	while (len > 0 && path[len - 1] == '/')
		len--;
	d = get_dir(&db->pkgs[db->n - 1], path, len);
	if (!d)
		return -ENOMEM;
	d->mode = mode & 07777;
	d->uid = uid;
	d->gid = gid;
	return 0;
}

/* The last component of path, and in *dirlen the length of its directory ("" for the top). */
static const char *path_base(const char *path, size_t *dirlen)
{
	const char *slash = strrchr(path, '/');

	*dirlen = slash ? (size_t)(slash - path) : 0;
	return slash ? slash + 1 : path;
}

/* The record of file 'path' in package p, and its directory in *dir; NULL when none. */
static struct apkdb_file *find_file(struct apkdb_pkg *p, const char *path, struct apkdb_dir **dir)
{
	size_t len;
	const char *base = path_base(path, &len);
	struct apkdb_dir *d = find_dir(p, path, len);

	for (size_t k = 0; d && k < d->n; k++)
		if (!strcmp(d->files[k].name, base)) {
			*dir = d;
			return &d->files[k];
		}
	return NULL;
}

/* The Z: line of file 'path' in package p, as apk copies it to a hard link; NULL when none. */
static const char *hardlink_z(struct apkdb_pkg *p, const char *path)
{
	struct apkdb_dir *d;
	const struct apkdb_file *f = find_file(p, path, &d);
	const char *z = f ? strstr(f->lines, "\nZ:") : NULL;

	return z ? z + 1 : NULL;
}

int apkdb_file(struct apkdb *db, const char *path, unsigned mode, unsigned uid, unsigned gid,
	       const unsigned char *sha1, const char *hardlink)
{
	size_t len;
	const char *base = path_base(path, &len);
	struct apkdb_dir *d;
	struct apkdb_file *f;
	struct buf l = BUF_INIT;
	int r;

	if (!db->n)
		return -EINVAL;
	d = get_dir(&db->pkgs[db->n - 1], path, len);
	if (!d || grow((void **)&d->files, d->n, &d->alloc, sizeof(*d->files)) < 0)
		return -ENOMEM;
	buf_init(&l, 0);
	r = buf_addf(&l, "R:%s\n", base);
	if (!r && ((mode & 07777) != 0644 || uid || gid))
		r = buf_addf(&l, "a:%u:%u:%o\n", uid, gid, mode & 07777);
	if (!r && sha1) {
		char q[APK_CSUM_STR_MAX];

		r = apk_csum_format(sha1, 20, q, sizeof(q));
		if (!r)
			r = buf_addf(&l, "Z:%s\n", q);
	} else if (!r && hardlink) {
		const char *z = hardlink_z(&db->pkgs[db->n - 1], hardlink);

		if (z)
			r = buf_addstr(&l, z);
	}
	f = &d->files[d->n];
	f->name = strdup(base);
	if (r || !f->name) {
		free(f->name);
		buf_release(&l);
		return r ? r : -ENOMEM;
	}
	f->lines = buf_detach(&l, NULL);
	d->n++;
	return 0;
}

void apkdb_drop(struct apkdb *db, const char *pkgname, const char *path)
{
	for (size_t i = db->n; i-- > 0;) {
		struct apkdb_dir *d;
		struct apkdb_file *f;
		size_t k;

		if (strcmp(db->pkgs[i].name, pkgname))
			continue;
		f = find_file(&db->pkgs[i], path, &d);
		if (!f)
			return;
		k = (size_t)(f - d->files);
		free(f->name);
		free(f->lines);
		memmove(f, f + 1, (d->n - k - 1) * sizeof(*d->files));
		d->n--;
		return;
	}
}

/* apk_name_cmp_display(). */
static int cmp_pkg(const void *a, const void *b)
{
	const struct apkdb_pkg *const *pa = a, *const *pb = b;
	int c = strcasecmp((*pa)->name, (*pb)->name);

	return c ? c : strcmp((*pa)->name, (*pb)->name);
}

/* Where the r: and q: lines start: apk writes them after the index header, from another buffer. */
static size_t tail_start(const char *h)
{
	for (size_t i = 0; h[i]; i++)
		if ((i == 0 || h[i - 1] == '\n') && (h[i] == 'r' || h[i] == 'q') && h[i + 1] == ':')
			return i;
	return strlen(h);
}

int apkdb_format(const struct apkdb *db, struct buf *out)
{
	const struct apkdb_pkg **s = calloc(db->n ? db->n : 1, sizeof(*s));
	struct buf pending = BUF_INIT;
	int r = 0;

	if (!s)
		return -ENOMEM;
	buf_init(&pending, 0);
	for (size_t i = 0; i < db->n; i++)
		s[i] = &db->pkgs[i];
	qsort(s, db->n, sizeof(*s), cmp_pkg);
	for (size_t i = 0; !r && i < db->n; i++) {
		size_t t = tail_start(s[i]->header);

		/*
		 * apk_db_write_fdb() writes the header, but keeps r: and q: in a buffer that
		 * goes out only with the first F: line: a package without directories
		 * (alpine-base) passes its r: to the next package's record, and the last
		 * package's is lost. apk 2.14 reads its own database that way; so do we.
		 */
		r = buf_add(out, s[i]->header, t);
		if (!r)
			r = buf_addstr(&pending, s[i]->header + t);
		for (size_t k = 0; !r && k < s[i]->n; k++) {
			const struct apkdb_dir *d = &s[i]->dirs[k];

			if (pending.len)
				r = buf_add(out, pending.data, pending.len);
			buf_reset(&pending);
			if (!r)
				r = buf_addf(out, "F:%s\n", d->name);
			if (!r && (d->mode != 0755 || d->uid || d->gid))
				r = buf_addf(out, "M:%u:%u:%o\n", d->uid, d->gid, d->mode);
			for (size_t f = 0; !r && f < d->n; f++)
				r = buf_addstr(out, d->files[f].lines);
		}
		if (!r)
			r = buf_addch(out, '\n');
	}
	buf_release(&pending);
	free(s);
	return r;
}

int apkdb_script(struct apkdb *db, const char *name, const void *data, size_t len)
{
	struct apkdb_script *sc;

	if (grow((void **)&db->scripts, db->nscripts, &db->scripts_alloc, sizeof(*db->scripts)) < 0)
		return -ENOMEM;
	sc = &db->scripts[db->nscripts];
	sc->name = strdup(name);
	sc->data = malloc(len ? len : 1);
	if (!sc->name || !sc->data) {
		free(sc->name);
		free(sc->data);
		return -ENOMEM;
	}
	if (len)
		memcpy(sc->data, data, len);
	sc->len = len;
	db->nscripts++;
	return 0;
}

/* apk's put_octal(): right-aligned digits, zero-filled, a final NUL when has_zero. */
static void put_octal(char *s, size_t l, unsigned long long v, int has_zero)
{
	size_t i = l;

	if (has_zero)
		s[--i] = '\0';
	while (i > 0) {
		s[--i] = (char)('0' + (v % 8));
		v /= 8;
	}
}

int apkdb_scripts_tar(const struct apkdb *db, long long mtime, struct buf *out)
{
	static const char zero[1024];
	int r = 0;

	for (size_t i = 0; !r && i < db->nscripts; i++) {
		const struct apkdb_script *sc = &db->scripts[i];
		unsigned char h[512] = {0};
		unsigned sum = 0;

		snprintf((char *)h, 100, "%s", sc->name);
		put_octal((char *)h + 100, 8, 0755, 1);
		put_octal((char *)h + 108, 8, 0, 1);
		put_octal((char *)h + 116, 8, 0, 1);
		put_octal((char *)h + 124, 12, sc->len, 0);
		put_octal((char *)h + 136, 12, (unsigned long long)mtime, 0);
		h[156] = '0';
		memcpy(h + 257, "ustar  ", 8);
		memcpy(h + 265, "root", 5);
		memcpy(h + 297, "root", 5);
		memset(h + 148, ' ', 8);
		for (size_t k = 0; k < sizeof(h); k++)
			sum += h[k];
		put_octal((char *)h + 148, 7, sum, 1);
		r = buf_add(out, h, sizeof(h));
		if (!r && sc->len)
			r = buf_add(out, sc->data, sc->len);
		if (!r && sc->len % 512)
			r = buf_add(out, zero, 512 - sc->len % 512);
	}
	return r ? r : buf_add(out, zero, sizeof(zero));
}
