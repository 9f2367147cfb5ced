// SPDX-License-Identifier: MIT
/* initrd-test.lock: written from a plan, parsed strictly with line-numbered errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "builder/lock.h"
#include "common/util.h"

/* A lock holds at most this many packages (Alpine's whole community index is ~18k). */
#define LOCK_MAX_PKGS 100000

void lock_init(struct lock *l)
{
	memset(l, 0, sizeof(*l));
}

static void lock_pkg_release(struct lock_pkg *p)
{
	free(p->name);
	free(p->tag);
	free(p->version);
	free(p->csum);
	free(p->repo);
}

void lock_release(struct lock *l)
{
	for (size_t i = 0; i < l->n; i++)
		lock_pkg_release(&l->pkgs[i]);
	free(l->pkgs);
	free(l->arch);
	free(l->kernel);
	strlist_clear(&l->repos);
	lock_init(l);
}

/* Append a package, taking the five strings (freed on failure). */
static int lock_add(struct lock *l, struct lock_pkg p)
{
	if (l->n == l->alloc) {
		size_t na = l->alloc ? l->alloc * 2 : 64;
		struct lock_pkg *v = realloc(l->pkgs, na * sizeof(*v));

		if (!v) {
			lock_pkg_release(&p);
			return -ENOMEM;
		}
		l->pkgs = v;
		l->alloc = na;
	}
	if (!p.name || !p.tag || !p.version || !p.csum || !p.repo) {
		lock_pkg_release(&p);
		return -ENOMEM;
	}
	l->pkgs[l->n++] = p;
	return 0;
}

const struct lock_pkg *lock_find(const struct lock *l, const char *name)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->pkgs[mid].name, name);

		if (c == 0)
			return &l->pkgs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- parsing ---- */

struct lock_parser {
	struct lock *l;
	const char *file;
	unsigned line;
	struct it_error *err;
	enum { AT_FORMAT, AT_ARCH, AT_REPO, AT_KERNEL, AT_PKG } at; /* what may come next */
};

static int perr(struct lock_parser *p, const char *fmt, const char *what)
{
	it_error_set(p->err, -IT_ESCENARIO, "%s:%u: %s%s", p->file, p->line, fmt, what);
	it_error_hint(p->err, "the format is in docs/lockfile.md; 'initrd-test lock' writes a "
			      "new one");
	return -IT_ESCENARIO;
}

/* Split the next space-separated field off *rest; false when there is none. */
static bool field(struct blob *rest, struct blob *f)
{
	if (rest->len == 0)
		return false;
	if (!blob_split(*rest, ' ', f, rest)) {
		*f = *rest;
		*rest = (struct blob){0, rest->ptr + rest->len};
	}
	return true;
}

/* A name or tag: printable ASCII without '/' or '@'. */
static bool name_ok(struct blob b)
{
	if (b.len == 0 || b.len > 255)
		return false;
	for (size_t i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.ptr[i];

		if (c <= ' ' || c > '~' || c == '/' || c == '@')
			return false;
	}
	return true;
}

/* A repository URL or directory: printable ASCII, no spaces. */
static bool url_ok(struct blob b)
{
	if (b.len == 0 || b.len > 4000)
		return false;
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.ptr[i] <= ' ' || (unsigned char)b.ptr[i] > '~')
			return false;
	return true;
}

/* The checksum in canonical Q1/Q2 form: it parses and formats back to the same text. */
static bool csum_ok(struct blob b)
{
	unsigned char csum[32];
	char text[APK_CSUM_STR_MAX];
	size_t len;

	if (b.len < 3 || b.ptr[0] != 'Q' || apk_csum_parse(b, csum, &len) < 0)
		return false;
	if (apk_csum_format(csum, len, text, sizeof(text)) < 0)
		return false;
	return blob_eq_str(b, text);
}

/* "@tag URL" or "URL" of a repo line; the tag without '@' (len 0: none). */
static bool repo_split_line(struct blob v, struct blob *tag, struct blob *url)
{
	*tag = BLOB_NULL;
	if (v.len && v.ptr[0] == '@') {
		struct blob t;

		if (!field(&v, &t))
			return false;
		*tag = (struct blob){t.len - 1, t.ptr + 1};
		if (!name_ok(*tag))
			return false;
	}
	*url = v;
	return url_ok(v);
}

/* The tag of the repo line for url: its index in l->repos, or -1. */
static int repo_of(const struct lock *l, struct blob url, struct blob *tag)
{
	for (size_t i = 0; i < l->repos.n; i++) {
		struct blob u;

		repo_split_line(blob_str(l->repos.v[i]), tag, &u);
		if (blob_eq(u, url))
			return (int)i;
	}
	return -1;
}

static int take_repo(struct lock_parser *p, struct blob v)
{
	struct blob tag, url, t2;
	char *s;

	if (!repo_split_line(v, &tag, &url))
		return perr(p, "bad repository: ", "write 'repo URL' or 'repo @TAG URL'");
	if (repo_of(p->l, url, &t2) >= 0)
		return perr(p, "repository listed twice", "");
	s = blob_dup(v);
	if (!s)
		return -ENOMEM;
	return strlist_add_owned(&p->l->repos, s);
}

static int take_pkg(struct lock_parser *p, struct blob v)
{
	struct blob name, ver, csum, url, tag = BLOB_NULL, repo_tag;
	bool tagged;
	struct lock_pkg pkg;

	if (!field(&v, &name) || !field(&v, &ver) || !field(&v, &csum) || !field(&v, &url) || v.len)
		return perr(p, "bad package line: ", "write 'pkg NAME[@TAG] VERSION CSUM URL'");
	tagged = blob_split(name, '@', &name, &tag);
	if (!name_ok(name) || (tagged && !name_ok(tag)))
		return perr(p, "bad package name", "");
	if (!apk_version_validate(ver))
		return perr(p, "bad version", "");
	if (!csum_ok(csum))
		return perr(p,
			    "bad checksum: ", "a checksum is Q1 + base64 SHA-1, as the index's C:");
	if (repo_of(p->l, url, &repo_tag) < 0)
		return perr(p, "package from a repository no 'repo' line names", "");
	if (!blob_eq(tag, repo_tag) && (tag.len || repo_tag.len))
		return perr(p, "the package's tag is not its repository's", "");
	if (p->l->n >= LOCK_MAX_PKGS)
		return perr(p, "too many packages", "");
	pkg = (struct lock_pkg){blob_dup(name), blob_dup(tag), blob_dup(ver),
				blob_dup(csum), blob_dup(url), p->line};
	if (pkg.name && p->l->n && strcmp(p->l->pkgs[p->l->n - 1].name, pkg.name) >= 0) {
		bool dup = !strcmp(p->l->pkgs[p->l->n - 1].name, pkg.name);

		lock_pkg_release(&pkg);
		return perr(p, dup ? "package listed twice" : "packages out of order: ",
			    dup ? "" : "they are sorted by name");
	}
	return lock_add(p->l, pkg);
}

/* One line without its newline. */
static int take_line(struct lock_parser *p, struct blob line)
{
	struct blob kw, v;

	if (line.len == 0 || line.ptr[0] == '#')
		return 0;
	for (size_t i = 0; i < line.len; i++) {
		unsigned char c = (unsigned char)line.ptr[i];

		if (c < ' ' || c == 0x7f)
			return perr(p, "control character (tab, CR, NUL) in line", "");
	}
	if (line.ptr[line.len - 1] == ' ' || line.ptr[0] == ' ')
		return perr(p, "blank at the start or end of the line", "");
	if (p->at == AT_FORMAT) {
		if (!blob_eq_str(line, LOCK_FORMAT_LINE))
			return perr(p, "not an initrd-test lock: the first line must be '",
				    LOCK_FORMAT_LINE "'");
		p->at = AT_ARCH;
		return 0;
	}
	if (!blob_split(line, ' ', &kw, &v) || v.len == 0)
		return perr(p, "a keyword and its value expected", "");
	if (blob_eq_str(kw, "arch")) {
		if (p->at != AT_ARCH)
			return perr(p, "'arch' comes once, right after the format line", "");
		if (!name_ok(v))
			return perr(p, "bad arch", "");
		p->at = AT_REPO;
		p->l->arch = blob_dup(v);
		return p->l->arch ? 0 : -ENOMEM;
	}
	if (p->at == AT_ARCH)
		return perr(p, "'arch' expected", "");
	if (blob_eq_str(kw, "repo")) {
		if (p->at != AT_REPO)
			return perr(p, "'repo' lines come before 'kernel' and 'pkg'", "");
		return take_repo(p, v);
	}
	if (p->l->repos.n == 0)
		return perr(p, "'repo' expected", "");
	if (blob_eq_str(kw, "kernel")) {
		if (p->at != AT_REPO)
			return perr(p, "'kernel' comes once, before the packages", "");
		if (!name_ok(v))
			return perr(p, "bad kernel package name", "");
		p->at = AT_PKG;
		p->l->kernel = blob_dup(v);
		return p->l->kernel ? 0 : -ENOMEM;
	}
	if (blob_eq_str(kw, "pkg")) {
		p->at = AT_PKG;
		return take_pkg(p, v);
	}
	return perr(p, "unknown keyword: ", "expected arch, repo, kernel or pkg");
}

int lock_parse(struct lock *l, struct blob text, const char *file, struct it_error *err)
{
	struct lock_parser p = {l, file, 0, err, AT_FORMAT};
	struct blob rest = text, line;
	int r = 0;

	lock_release(l);
	while (r == 0 && rest.len) {
		p.line++;
		if (!blob_split(rest, '\n', &line, &rest)) {
			line = rest;
			rest = BLOB_NULL;
		}
		r = take_line(&p, line);
	}
	if (r == 0 && p.at < AT_REPO) {
		p.line++;
		r = perr(&p,
			 "unexpected end: ", p.at == AT_FORMAT ? "no format line" : "no 'arch'");
	} else if (r == 0 && l->repos.n == 0) {
		p.line++;
		r = perr(&p, "unexpected end: ", "no 'repo'");
	}
	if (r == -ENOMEM)
		it_error_set(err, r, "%s: out of memory", file);
	if (r < 0)
		lock_release(l);
	return r;
}

int lock_load(struct lock *l, const char *path, struct it_error *err)
{
	struct buf b;
	int r;

	buf_init(&b, 64u << 20);
	r = buf_read_file(&b, path);
	if (r == -ENOENT) {
		buf_release(&b);
		return r;
	}
	if (r < 0)
		r = it_error_set(err, r == -IT_ELIMIT ? -IT_ESCENARIO : r, "cannot read '%s': %s",
				 path, it_strerror(r));
	else
		r = lock_parse(l, buf_blob(&b), path, err);
	buf_release(&b);
	return r;
}

/* ---- writing ---- */

int lock_format(const struct lock *l, struct buf *out)
{
	int r = buf_addf(out,
			 "# The exact packages of a build: initrd-test builds from these, and\n"
			 "# 'initrd-test lock' or 'build --update-lock' rewrites it "
			 "(docs/lockfile.md).\n" LOCK_FORMAT_LINE "\narch %s\n",
			 l->arch ? l->arch : BUILDER_DEFAULT_ARCH);

	for (size_t i = 0; r == 0 && i < l->repos.n; i++)
		r = buf_addf(out, "repo %s\n", l->repos.v[i]);
	if (r == 0 && l->kernel)
		r = buf_addf(out, "kernel %s\n", l->kernel);
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		const struct lock_pkg *p = &l->pkgs[i];

		r = buf_addf(out, "pkg %s%s%s %s %s %s\n", p->name, p->tag[0] ? "@" : "", p->tag,
			     p->version, p->csum, p->repo);
	}
	return r;
}

int lock_write(const struct lock *l, const char *path, struct it_error *err)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = lock_format(l, &b);
	if (r == 0)
		r = write_file_atomic(path, b.data, b.len, 0644);
	if (r < 0)
		it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
	buf_release(&b);
	return r;
}

static int cmp_pkg(const void *a, const void *b)
{
	return strcmp(((const struct lock_pkg *)a)->name, ((const struct lock_pkg *)b)->name);
}

int lock_from_plan(struct lock *l, const struct apk_db *db, const struct apk_plan *plan,
		   const char *arch, const struct strlist *repos, const char *kernel)
{
	int r = 0;

	lock_release(l);
	l->arch = strdup(arch ? arch : BUILDER_DEFAULT_ARCH);
	if (kernel)
		l->kernel = strdup(kernel);
	if (!l->arch || (kernel && !l->kernel) || strlist_copy(&l->repos, repos) < 0)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < plan->n; i++) {
		const struct apk_pkg *p = plan->pkgs[i];
		const char *tag = plan->tags ? db->tags[plan->tags[i]] : "";
		struct buf csum;

		buf_init(&csum, 0);
		r = apk_pkg_format_csum(p, &csum);
		if (r == 0)
			r = lock_add(
			    l, (struct lock_pkg){blob_dup(p->name->name), strdup(tag),
						 blob_dup(p->version), buf_detach(&csum, NULL),
						 strdup(db->repos[apk_pkg_repo(p)].label), 0});
		buf_release(&csum);
	}
	if (r == 0 && l->n)
		qsort(l->pkgs, l->n, sizeof(*l->pkgs), cmp_pkg);
	if (r < 0)
		lock_release(l);
	return r;
}

/* ---- comparing ---- */

/* Append the difference's text to d; true, for 'return differ(...)'. */
static bool differ(struct buf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool differ(struct buf *d, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_addstr(d, line);
	return true;
}

static bool diff_pkg(const struct lock_pkg *a, const struct lock_pkg *b, struct buf *d)
{
	if (strcmp(a->version, b->version))
		return differ(d, "%s: %s locked, %s resolved", a->name, a->version, b->version);
	if (strcmp(a->csum, b->csum))
		return differ(d, "%s-%s: checksum %s locked, %s in the index", a->name, a->version,
			      a->csum, b->csum);
	if (strcmp(a->tag, b->tag))
		return differ(d, "%s: tag '@%s' locked, '@%s' resolved", a->name, a->tag, b->tag);
	if (strcmp(a->repo, b->repo))
		return differ(d, "%s: from %s locked, from %s resolved", a->name, a->repo, b->repo);
	return false;
}

bool lock_diff(const struct lock *was, const struct lock *now, struct buf *d)
{
	size_t i = 0, j = 0;

	if (strcmp(was->arch, now->arch))
		return differ(d, "arch %s locked, %s now", was->arch, now->arch);
	for (size_t k = 0; k < was->repos.n || k < now->repos.n; k++) {
		const char *a = k < was->repos.n ? was->repos.v[k] : "(none)";
		const char *b = k < now->repos.n ? now->repos.v[k] : "(none)";

		if (strcmp(a, b))
			return differ(d, "repository %zu: %s locked, %s now", k + 1, a, b);
	}
	if ((was->kernel == NULL) != (now->kernel == NULL) ||
	    (was->kernel && strcmp(was->kernel, now->kernel)))
		return differ(d, "kernel %s locked, %s now", was->kernel ? was->kernel : "(none)",
			      now->kernel ? now->kernel : "(none)");
	while (i < was->n || j < now->n) {
		int c;

		if (i == was->n)
			c = 1;
		else if (j == now->n)
			c = -1;
		else
			c = strcmp(was->pkgs[i].name, now->pkgs[j].name);
		if (c < 0)
			return differ(d, "%s-%s locked, no longer resolved", was->pkgs[i].name,
				      was->pkgs[i].version);
		if (c > 0)
			return differ(d, "%s-%s resolved, not in the lock", now->pkgs[j].name,
				      now->pkgs[j].version);
		if (diff_pkg(&was->pkgs[i], &now->pkgs[j], d))
			return true;
		i++;
		j++;
	}
	return false;
}
