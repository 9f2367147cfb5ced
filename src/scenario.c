// SPDX-License-Identifier: MIT
/* The scenario file parser: keyword lines into a build config, a VM config and console steps. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/buf.h"
#include "common/util.h"
#include "src/scenario.h"

#define MAX_TEXT_BYTES (64 * 1024)
#define MAX_NAME_LEN 64

struct loader {
	struct scenario *s;
	struct it_error *err;
	struct strlist stack_real;  /* realpaths of the files being read, outermost first */
	struct strlist stack_shown; /* the same files as the user named them */
	struct strlist seen_real;   /* realpaths of every file read so far */
};

struct keyword;

/* The line being parsed; 'p' walks over its (writable) text. */
struct line {
	struct loader *ld;
	const char *file; /* as shown in messages */
	const char *dir;  /* the file's directory, for relative paths */
	unsigned no;
	const char *start; /* the whole line, for columns */
	const struct keyword *kw;
	char *p;
};

struct keyword {
	const char *name;
	const char *usage;
	int (*fn)(struct line *l);
};

/* ---- messages ---------------------------------------------------------- */

static int line_error(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int line_error(struct line *l, const char *fmt, ...)
{
	char msg[IT_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return it_error_set(l->ld->err, -IT_ESCENARIO, "%s:%u: %s", l->file, l->no, msg);
}

static int line_oom(struct line *l)
{
	return it_error_set(l->ld->err, -ENOMEM, "%s:%u: out of memory", l->file, l->no);
}

/* Optimal string alignment distance (a transposition counts as one edit). */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned d[33][33];
	size_t la = strlen(a), lb = strlen(b);

	if (la > 32 || lb > 32)
		return UINT_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned v = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* Keep 'cand' in *best when it is a closer plausible spelling of 'w'. */
static void suggest(const char *w, const char *cand, const char **best, unsigned *bestd)
{
	unsigned d = edit_distance(w, cand);
	unsigned limit = strlen(cand) <= 4 ? 1 : 2;

	if (d <= limit && d < *bestd) {
		*best = cand;
		*bestd = d;
	}
}

/* " (did you mean 'X'?)" or "", in out. */
static const char *did_you_mean(char *out, size_t n, const char *best)
{
	if (!best)
		return "";
	snprintf(out, n, " (did you mean '%s'?)", best);
	return out;
}

/* Index of w in a NULL-terminated list, or -1. */
static int lookup(const char *const *list, const char *w)
{
	for (int i = 0; list[i]; i++)
		if (!strcmp(list[i], w))
			return i;
	return -1;
}

/* "unknown WHAT 'w' (did you mean ...?); use a, b or c" for a NULL-terminated list. */
static int unknown_word(struct line *l, const char *what, const char *w, const char *const *list)
{
	char dym[128], choices[256] = "";
	const char *best = NULL;
	unsigned bestd = UINT_MAX;
	size_t len = 0;

	for (int i = 0; list[i]; i++) {
		const char *sep = !i ? "" : list[i + 1] ? ", " : " or ";
		int n;

		suggest(w, list[i], &best, &bestd);
		n = snprintf(choices + len, sizeof(choices) - len, "%s%s", sep, list[i]);
		if (n > 0 && (size_t)n < sizeof(choices) - len)
			len += (size_t)n;
	}
	return line_error(l, "unknown %s '%s'%s; use %s", what, w,
			  did_you_mean(dym, sizeof(dym), best), choices);
}

/* ---- words ------------------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void skip_blanks(struct line *l)
{
	while (is_blank(*l->p))
		l->p++;
}

/* A '#' at the start of a word begins a comment. */
static bool at_end(struct line *l)
{
	skip_blanks(l);
	return *l->p == '\0' || *l->p == '#';
}

/* The next blank-separated word, NUL-terminated in place; NULL at the end or a comment. */
static char *word(struct line *l)
{
	char *w;

	if (at_end(l))
		return NULL;
	w = l->p;
	while (*l->p && !is_blank(*l->p))
		l->p++;
	if (*l->p)
		*l->p++ = '\0';
	return w;
}

static int need_word(struct line *l, const char *what, char **out)
{
	*out = word(l);
	if (!*out)
		return line_error(l, "missing %s (usage: %s)", what, l->kw->usage);
	return 0;
}

static int need_end(struct line *l)
{
	char *w = word(l);

	if (w)
		return line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
	return 0;
}

/* Exactly one more word. */
static int need_last_word(struct line *l, const char *what, char **out)
{
	int r = need_word(l, what, out);

	if (r < 0)
		return r;
	return need_end(l);
}

/* The rest of the line up to a comment, without surrounding blanks; NULL when empty. */
static char *rest_of_line(struct line *l)
{
	char *s, *e;

	if (at_end(l))
		return NULL;
	s = l->p;
	for (e = s; *e; e++)
		if (*e == '#' && is_blank(e[-1]))
			break;
	while (e > s && is_blank(e[-1]))
		e--;
	*e = '\0';
	l->p = e;
	return s;
}

/* Every character of s is in 'set' or alphanumeric; s is not empty and not too long. */
static bool name_ok(const char *s, const char *set, size_t maxlen)
{
	size_t n = strlen(s);

	if (n == 0 || n > maxlen)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) &&
		    !strchr(set, c))
			return false;
	}
	return true;
}

/* Durations are digits, an optional fraction and a unit: 90s, 500ms, 1.5m, 2h; at least 1 ms. */
static int need_duration(struct line *l, const char *what, int64_t *out)
{
	char *w = NULL;
	const char *q;
	int r = need_word(l, what, &w);

	if (r < 0)
		return r;
	q = w;
	while (*q >= '0' && *q <= '9')
		q++;
	if (q > w && *q == '.' && q[1] >= '0' && q[1] <= '9')
		for (q++; *q >= '0' && *q <= '9'; q++)
			;
	if (q == w ||
	    (*q && lookup((const char *const[]){"ms", "s", "m", "min", "h", NULL}, q) < 0) ||
	    !parse_duration_ms(w, out) || *out <= 0)
		return line_error(l, "bad duration '%s' for %s (write e.g. 90s, 500ms or 2m)", w,
				  what);
	return 0;
}

/* ---- patterns and quoted text ------------------------------------------ */

/*
 * Compile once to report a bad regex where it was written. ${name} and
 * ${N} references are the engine's, substituted at run time: they are
 * masked with same-length text so that PCRE2's offsets stay right.
 */
static int check_regex(struct line *l, const char *pat)
{
	size_t len = strlen(pat);
	char *tmp = NULL;
	pcre2_code *re = NULL;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off = 0;
	int code = 0;

	tmp = strdup(pat);
	if (!tmp)
		return line_oom(l);
	for (size_t i = 0; i + 2 < len; i++) {
		size_t bs = 0, j;

		if (tmp[i] != '$' || tmp[i + 1] != '{')
			continue;
		while (bs < i && pat[i - 1 - bs] == '\\')
			bs++;
		if (bs % 2)
			continue;
		for (j = i + 2; j < len && (isalnum((unsigned char)tmp[j]) || tmp[j] == '_'); j++)
			;
		if (j == i + 2 || j >= len || tmp[j] != '}')
			continue;
		memset(tmp + i, 'x', j + 1 - i);
		i = j;
	}
	re = pcre2_compile((PCRE2_SPTR)tmp, len, 0, &code, &off, NULL);
	free(tmp);
	if (re) {
		pcre2_code_free(re);
		return 0;
	}
	pcre2_get_error_message(code, msg, sizeof(msg));
	return line_error(l, "bad regex: %s at offset %zu", (const char *)msg, (size_t)off);
}

/*
 * A regex runs from the '/' at l->p to the last '/' on the line, so '/'
 * inside needs no escape. A comment, 'within' or 'budget' after a pattern that itself
 * holds a '/' would silently become part of the pattern: refuse that.
 */
static int take_regex(struct line *l, char **out)
{
	char *open = l->p, *close = strrchr(open, '/');

	if (close == open)
		return line_error(l, "unterminated pattern: no closing '/' (a pattern runs "
				     "from the first '/' to the last '/' on the line)");
	if (close == open + 1)
		return line_error(l, "empty pattern");
	for (const char *q = open + 1; q < close; q++) {
		const char *t = q + 1;

		if (*q != '/' || !is_blank(*t))
			continue;
		while (is_blank(*t))
			t++;
		if (*t != '#' && !(strncmp(t, "within", 6) == 0 && is_blank(t[6])) &&
		    !(strncmp(t, "budget", 6) == 0 && is_blank(t[6])))
			continue;
		line_error(l,
			   "ambiguous pattern: it runs to the last '/' on the line and so "
			   "takes in the '%s' after the '/' at column %zu",
			   *t == '#' ? "#" : (*t == 'w' ? "within" : "budget"),
			   (size_t)(q - l->start) + 1);
		it_error_hint(l->ld->err, "put the comment on a line of its own, or write "
					  "that '/' as [/] or \\x2f if it belongs to the pattern");
		return -IT_ESCENARIO;
	}
	*close = '\0';
	l->p = close + 1;
	if (check_regex(l, open + 1) < 0)
		return -IT_ESCENARIO;
	*out = strdup(open + 1);
	return *out ? 0 : line_oom(l);
}

/* Decode the escape after a backslash at *pp (C escapes, \e for ESC); advance *pp. */
static int decode_escape(struct line *l, char **pp, struct buf *out)
{
	static const char simple[] = "n\nr\rt\ta\ab\bf\fv\ve\033\\\\\"\"''";
	char *p = *pp;
	const char *m;
	int v = 0, digits = 0;

	if (*p == '\0')
		return line_error(l, "unterminated string: no closing '\"'");
	m = strchr(simple, *p);
	if (m && (m - simple) % 2 == 0) {
		*pp = p + 1;
		return buf_addch(out, m[1]) < 0
			   ? line_error(l, "text longer than %d bytes", MAX_TEXT_BYTES)
			   : 0;
	}
	if (*p == 'x') {
		for (p++; digits < 2 && hex_digit_value(*p) >= 0; p++, digits++)
			v = v * 16 + hex_digit_value(*p);
		if (!digits)
			return line_error(l, "bad escape '\\x': hex digits must follow");
	} else if (*p >= '0' && *p <= '7') {
		for (; digits < 3 && *p >= '0' && *p <= '7'; p++, digits++)
			v = v * 8 + (*p - '0');
		if (v > 255)
			return line_error(l, "bad escape: octal value %o is above \\377", v);
	} else {
		return line_error(l,
				  "unknown escape '\\%c' (known: \\n \\r \\t \\e \\a \\b \\f "
				  "\\v \\\\ \\\" \\' \\xHH \\NNN)",
				  *p);
	}
	if (v == 0)
		return line_error(l, "a NUL byte cannot be in the text");
	*pp = p;
	if (buf_addch(out, (char)v) < 0)
		return line_error(l, "text longer than %d bytes", MAX_TEXT_BYTES);
	return 0;
}

/* "text" at l->p with C escapes; the result is never empty and holds no NUL. */
static int take_quoted(struct line *l, char **out)
{
	struct buf b;
	char *p = l->p + 1;
	int r = 0;

	buf_init(&b, MAX_TEXT_BYTES);
	while (*p != '"') {
		if (*p == '\0') {
			r = line_error(l, "unterminated string: no closing '\"'");
			goto out;
		}
		if (*p == '\\') {
			p++;
			r = decode_escape(l, &p, &b);
			if (r < 0)
				goto out;
			continue;
		}
		if (buf_addch(&b, *p++) < 0) {
			r = line_error(l, "text longer than %d bytes", MAX_TEXT_BYTES);
			goto out;
		}
	}
	if (b.len == 0) {
		r = line_error(l, "empty text \"\"");
		goto out;
	}
	l->p = p + 1;
	if (*l->p && !is_blank(*l->p)) {
		r = line_error(l, "unexpected '%c' right after the closing '\"'", *l->p);
		goto out;
	}
	*out = buf_detach(&b, NULL);
out:
	buf_release(&b);
	return r;
}

/* A /regex/ or a "literal" at l->p. */
static int take_match(struct line *l, char **text, bool *literal)
{
	char *w;

	skip_blanks(l);
	if (*l->p == '/') {
		*literal = false;
		return take_regex(l, text);
	}
	if (*l->p == '"') {
		*literal = true;
		return take_quoted(l, text);
	}
	w = word(l);
	if (!w)
		return line_error(l, "missing pattern: write /regex/ or \"text\" (usage: %s)",
				  l->kw->usage);
	return line_error(l, "'%s' is not a pattern: write /regex/ or \"text\" (usage: %s)", w,
			  l->kw->usage);
}

/* ---- small value checks ------------------------------------------------ */

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* apk world entries: [!]name[op version], name made of [A-Za-z0-9_.+:-]. */
static bool package_ok(const char *w, bool allow_constraint)
{
	static const char *const ops[] = {"<=", ">=", "><", "=~", "<", ">", "=", "~", NULL};
	const char *p = w;
	size_t n;

	if (allow_constraint && *p == '!')
		p++;
	n = strspn(p, ALNUM "_.+:-");
	if (n == 0 || n > 255 || !isalnum((unsigned char)*p))
		return false;
	if (p[n] == '\0')
		return true;
	if (!allow_constraint || *w == '!')
		return false;
	p += n;
	for (int i = 0; ops[i]; i++) {
		size_t ol = strlen(ops[i]);

		if (strncmp(p, ops[i], ol))
			continue;
		p += ol;
		return *p && strspn(p, ALNUM "._~-") == strlen(p);
	}
	return false;
}

/* Hostnames: dot-separated labels of letters, digits and inner hyphens. */
static bool hostname_ok(const char *s)
{
	size_t total = strlen(s);

	if (total == 0 || total > 253)
		return false;
	while (*s) {
		size_t n = strspn(s, ALNUM "-");

		if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
			return false;
		s += n;
		if (*s == '.' && s[1])
			s++;
		else if (*s)
			return false;
	}
	return true;
}

/* A crypt(3) hash in $id$...$... form; anything else may be a clear-text password. */
static bool crypt_hash_ok(const char *s)
{
	int dollars = 0;

	if (s[0] != '$')
		return false;
	for (; *s; s++) {
		if (*s == '$')
			dollars++;
		else if (!strchr(ALNUM "./=,-", *s))
			return false;
	}
	return dollars >= 3;
}

/* none -> "" (no password), locked -> "!", keep -> NULL (as packaged), else a crypt hash. */
static int password_value(struct line *l, const char *w, bool allow_keep, char **out)
{
	*out = NULL;
	if (allow_keep && !strcmp(w, "keep"))
		return 0;
	if (strcmp(w, "none") && strcmp(w, "locked") && !crypt_hash_ok(w)) {
		line_error(l,
			   "bad password '%s': write none, locked%s or a crypt(3) hash "
			   "such as $6$salt$hash, never a clear-text password",
			   w, allow_keep ? ", keep" : "");
		it_error_hint(l->ld->err, "make a hash with: openssl passwd -6");
		return -IT_ESCENARIO;
	}
	*out = strdup(!strcmp(w, "none") ? "" : !strcmp(w, "locked") ? "!" : w);
	return *out ? 0 : line_oom(l);
}

/* ADDRESS/PREFIX, IPv4 or IPv6. */
static bool cidr_ok(const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *slash = strchr(s, '/');
	size_t n;
	long prefix;

	if (!slash)
		return false;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, bin) == 1)
		return parse_long(slash + 1, 0, 32, &prefix);
	if (inet_pton(AF_INET6, addr, bin) == 1)
		return parse_long(slash + 1, 0, 128, &prefix);
	return false;
}

static bool ip_ok(const char *s)
{
	unsigned char bin[16];

	return inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (!strcmp(a, b))
		return true;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Drop "." components and "dir/.." pairs, in place: "a/./b/../c" -> "a/c". */
static void clean_path(char *path)
{
	bool abs = path[0] == '/';
	char *w = path + abs, *r = path + abs;
	char *floor = w; /* what is before is "/" or leading ".." that stay */

	while (*r) {
		size_t n = strcspn(r, "/");
		bool dot = n == 1 && r[0] == '.';
		bool dotdot = n == 2 && r[0] == '.' && r[1] == '.';

		if (n == 0 || dot || (dotdot && abs && w == path + 1)) {
			/* nothing to write: "//", "." or "/.." */
		} else if (dotdot && w > floor) {
			while (w > floor && w[-1] != '/')
				w--;
			if (w > floor)
				w--;
		} else {
			/* w is at least one '/' behind r, so this never overwrites r[n] */
			if (w > path + abs)
				*w++ = '/';
			memmove(w, r, n);
			w += n;
			if (dotdot)
				floor = w;
		}
		r += n;
		while (*r == '/')
			r++;
	}
	if (w == path)
		*w++ = '.';
	*w = '\0';
}

/*
 * dir/p for a relative p (p itself when absolute), without "x/.." detours
 * when the shorter path names the same file, so that messages stay short.
 */
static char *relative_to(const char *dir, const char *p)
{
	char *raw = NULL, *clean = NULL;

	if (p[0] == '/' || !strcmp(dir, "."))
		raw = strdup(p);
	else if (asprintf(&raw, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", p) < 0)
		raw = NULL;
	if (!raw)
		return NULL;
	clean = strdup(raw);
	if (!clean)
		return raw;
	clean_path(clean);
	if (strcmp(clean, raw) && same_file(clean, raw)) {
		free(raw);
		return clean;
	}
	free(clean);
	return raw;
}

/* Replace *slot with a copy of s (or NULL). */
static int set_str(struct line *l, char **slot, const char *s)
{
	char *copy = NULL;

	if (s) {
		copy = strdup(s);
		if (!copy)
			return line_oom(l);
	}
	free(*slot);
	*slot = copy;
	return 0;
}

/* Append s unless already there. */
static int add_unique(struct line *l, struct strlist *list, const char *s)
{
	if (strlist_has(list, s))
		return 0;
	return strlist_add(list, s) < 0 ? line_oom(l) : 0;
}

/* ---- keywords ---------------------------------------------------------- */

static int load_file(struct loader *ld, const char *path, struct line *from);

static int kw_include(struct line *l)
{
	char *w = NULL, *path = NULL, *file = NULL;
	struct stat st;
	int r = need_word(l, "path", &w);

	if (r < 0)
		return r;
	r = need_end(l);
	if (r < 0)
		return r;
	path = relative_to(l->dir, w);
	if (!path)
		return line_oom(l);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		file = relative_to(path, SCENARIO_FILE);
		if (!file) {
			r = line_oom(l);
			goto out;
		}
	}
	r = load_file(l->ld, file ? file : path, l);
out:
	free(file);
	free(path);
	return r;
}

static int kw_repo(struct line *l)
{
	char *w = NULL, *repo = NULL;
	const char *colon;
	int r = need_last_word(l, "repository", &w);

	if (r < 0)
		return r;
	colon = strstr(w, "://");
	if (colon) {
		if (strncmp(w, "https://", 8) && strncmp(w, "http://", 7) &&
		    strncmp(w, "file://", 7))
			return line_error(l,
					  "unsupported repository URL '%s': use https://, "
					  "http://, file:// or a directory",
					  w);
		return add_unique(l, &l->ld->s->build.repos, w);
	}
	repo = relative_to(l->dir, w);
	if (!repo)
		return line_oom(l);
	r = add_unique(l, &l->ld->s->build.repos, repo);
	free(repo);
	return r;
}

static const char *const arches[] = {"x86_64",	"x86",	 "aarch64", "armhf",	   "armv7",
				     "ppc64le", "s390x", "riscv64", "loongarch64", NULL};

static int kw_arch(struct line *l)
{
	char *w = NULL;
	int r = need_last_word(l, "architecture", &w);

	if (r < 0)
		return r;
	if (lookup(arches, w) < 0)
		return unknown_word(l, "architecture", w, arches);
	return set_str(l, &l->ld->s->build.arch, w);
}

static int kw_packages(struct line *l)
{
	char *w = NULL;
	int r = need_word(l, "package", &w);

	for (; r == 0 && w; w = word(l)) {
		if (!package_ok(w, true))
			return line_error(
			    l, "bad package '%s' (write name, !name or name>=version)", w);
		r = add_unique(l, &l->ld->s->build.packages, w);
	}
	return r;
}

static const char *const runlevels[] = {"sysinit",   "boot",	 "default",
					"nonetwork", "shutdown", NULL};

static int kw_service(struct line *l)
{
	struct build_config *b = &l->ld->s->build;
	char *lvl = NULL, *w = NULL;
	int r = need_word(l, "runlevel", &lvl);

	if (r < 0)
		return r;
	if (lookup(runlevels, lvl) < 0)
		return unknown_word(l, "runlevel", lvl, runlevels);
	r = need_word(l, "service", &w);
	for (; r == 0 && w; w = word(l)) {
		struct service_spec *v;
		bool dup = false;

		if (!name_ok(w, "_.-", 64))
			return line_error(l, "bad service name '%s'", w);
		for (size_t i = 0; i < b->nservices; i++)
			dup |= !strcmp(b->services[i].runlevel, lvl) &&
			       !strcmp(b->services[i].name, w);
		if (dup)
			continue;
		v = realloc(b->services, (b->nservices + 1) * sizeof(*v));
		if (!v)
			return line_oom(l);
		b->services = v;
		v[b->nservices].runlevel = strdup(lvl);
		v[b->nservices].name = strdup(w);
		b->nservices++;
		if (!v[b->nservices - 1].runlevel || !v[b->nservices - 1].name)
			return line_oom(l);
	}
	return r;
}

static int kw_console(struct line *l)
{
	char *w = NULL;
	int r = need_word(l, "tty", &w);

	for (; r == 0 && w; w = word(l)) {
		if (!name_ok(w, "", 31))
			return line_error(l, "bad console '%s' (write a tty name such as ttyS0)",
					  w);
		r = add_unique(l, &l->ld->s->build.consoles, w);
	}
	return r;
}

static void iface_release(struct iface_spec *f)
{
	free(f->name);
	free(f->method);
	free(f->address);
	free(f->gateway);
	memset(f, 0, sizeof(*f));
}

static const char *const methods[] = {"loopback", "dhcp", "static", "manual", NULL};

/* Fill f from "NAME METHOD [ADDRESS] [gateway IP] [noauto]". */
static int parse_iface(struct line *l, struct iface_spec *f)
{
	char *name = NULL, *method = NULL, *w = NULL;
	bool is_static;
	int r = need_word(l, "interface", &name);

	if (r == 0)
		r = need_word(l, "method", &method);
	if (r < 0)
		return r;
	if (!name_ok(name, "_.:-", 15))
		return line_error(l, "bad interface name '%s'", name);
	if (lookup(methods, method) < 0)
		return unknown_word(l, "method", method, methods);
	is_static = !strcmp(method, "static");
	f->autostart = true;
	f->name = strdup(name);
	f->method = strdup(method);
	if (!f->name || !f->method)
		return line_oom(l);
	if (is_static) {
		if (at_end(l))
			return line_error(l, "'static' needs an address such as 10.0.3.15/24");
		w = word(l);
		if (!cidr_ok(w))
			return line_error(l,
					  "bad address '%s' (write ADDRESS/PREFIX such as "
					  "10.0.3.15/24)",
					  w);
		f->address = strdup(w);
		if (!f->address)
			return line_oom(l);
	}
	for (w = word(l); w; w = word(l)) {
		if (!strcmp(w, "noauto")) {
			f->autostart = false;
			continue;
		}
		if (strcmp(w, "gateway"))
			return line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
		if (!is_static)
			return line_error(l, "'gateway' goes with 'static' only");
		r = need_word(l, "gateway address", &w);
		if (r < 0)
			return r;
		if (!ip_ok(w))
			return line_error(l, "bad gateway '%s'", w);
		if (set_str(l, &f->gateway, w) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int kw_iface(struct line *l)
{
	struct build_config *b = &l->ld->s->build;
	struct iface_spec f = {0};
	struct iface_spec *v;
	int r = parse_iface(l, &f);

	if (r < 0)
		goto out;
	for (size_t i = 0; i < b->nifaces; i++) {
		if (strcmp(b->ifaces[i].name, f.name))
			continue;
		iface_release(&b->ifaces[i]);
		b->ifaces[i] = f;
		return 0;
	}
	v = realloc(b->ifaces, (b->nifaces + 1) * sizeof(*v));
	if (!v) {
		r = line_oom(l);
		goto out;
	}
	b->ifaces = v;
	v[b->nifaces++] = f;
	return 0;
out:
	iface_release(&f);
	return r;
}

static int kw_hostname(struct line *l)
{
	char *w = NULL;
	int r = need_last_word(l, "hostname", &w);

	if (r < 0)
		return r;
	if (!hostname_ok(w))
		return line_error(l, "bad hostname '%s' (letters, digits, '-' and '.')", w);
	return set_str(l, &l->ld->s->build.hostname, w);
}

static int kw_root_password(struct line *l)
{
	char *w = NULL, *v = NULL;
	int r = need_last_word(l, "password", &w);

	if (r < 0)
		return r;
	r = password_value(l, w, true, &v);
	if (r < 0)
		return r;
	free(l->ld->s->build.root_password_hash);
	l->ld->s->build.root_password_hash = v;
	return 0;
}

static const char *const user_opts[] = {"uid", "groups", "shell", "home", "password", "keys", NULL};

/* One "OPTION VALUE" pair of a user line. */
static int user_option(struct line *l, struct user_spec *u, int opt, const char *v)
{
	struct stat st;
	char *path = NULL;
	int r = 0;

	switch (opt) {
	case 0:
		if (!parse_long(v, 0, 2147483646, &u->uid))
			return line_error(l, "bad uid '%s' (a number from 0)", v);
		return 0;
	case 1:
		for (const char *g = v; *g;) {
			size_t n = strcspn(g, ",");
			char *name = strndup(g, n);

			if (!name)
				return line_oom(l);
			if (!name_ok(name, "_-", 32)) {
				r = line_error(l, "bad group '%s' in '%s'", name, v);
				free(name);
				return r;
			}
			if (strlist_add_owned(&u->groups, name) < 0)
				return line_oom(l);
			g += n + (g[n] == ',');
		}
		return 0;
	case 2:
	case 3:
		if (v[0] != '/')
			return line_error(l, "%s '%s' must be an absolute path", user_opts[opt], v);
		return set_str(l, opt == 2 ? &u->shell : &u->home, v);
	case 4:
		free(u->password_hash);
		return password_value(l, v, false, &u->password_hash);
	default:
		path = relative_to(l->dir, v);
		if (!path)
			return line_oom(l);
		if (stat(path, &st) < 0 || access(path, R_OK) < 0)
			r = line_error(l, "cannot read key file '%s': %s", path, strerror(errno));
		else if (!S_ISREG(st.st_mode))
			r = line_error(l, "key file '%s' is not a regular file", path);
		if (r == 0) {
			free(u->authorized_keys);
			u->authorized_keys = path;
			path = NULL;
		}
		free(path);
		return r;
	}
}

static int parse_user(struct line *l, struct user_spec *u)
{
	char *w = NULL, *v = NULL;
	unsigned given = 0;
	int opt, r = need_word(l, "user name", &w);

	if (r < 0)
		return r;
	if (!name_ok(w, "_-", 32) || w[0] == '-' || (w[0] >= '0' && w[0] <= '9'))
		return line_error(l, "bad user name '%s'", w);
	u->uid = -1;
	u->name = strdup(w);
	if (!u->name)
		return line_oom(l);
	for (w = word(l); w; w = word(l)) {
		opt = lookup(user_opts, w);
		if (opt < 0)
			return unknown_word(l, "user option", w, user_opts);
		if (given & (1u << opt))
			return line_error(l, "'%s' given twice", w);
		given |= 1u << opt;
		r = need_word(l, user_opts[opt], &v);
		if (r == 0)
			r = user_option(l, u, opt, v);
		if (r < 0)
			return r;
	}
	return 0;
}

static int kw_user(struct line *l)
{
	struct build_config *b = &l->ld->s->build;
	struct user_spec u = {0};
	struct user_spec *v;
	int r = parse_user(l, &u);

	if (r < 0)
		goto out;
	for (size_t i = 0; i < b->nusers; i++) {
		if (strcmp(b->users[i].name, u.name))
			continue;
		user_spec_release(&b->users[i]);
		b->users[i] = u;
		return 0;
	}
	v = realloc(b->users, (b->nusers + 1) * sizeof(*v));
	if (!v) {
		r = line_oom(l);
		goto out;
	}
	b->users = v;
	v[b->nusers++] = u;
	return 0;
out:
	user_spec_release(&u);
	return r;
}

/* Append a directory overlay unless the same directory is listed already. */
static int add_overlay(struct line *l, struct build_config *b, const char *dir)
{
	for (size_t i = 0; i < b->overlays.n; i++)
		if (same_file(b->overlays.v[i], dir))
			return 0;
	return strlist_add(&b->overlays, dir) < 0 ? line_oom(l) : 0;
}

static int kw_overlay(struct line *l)
{
	char *w = NULL, *dir = NULL;
	struct stat st;
	int r = need_last_word(l, "directory", &w);

	if (r < 0)
		return r;
	dir = relative_to(l->dir, w);
	if (!dir)
		return line_oom(l);
	if (stat(dir, &st) < 0)
		r = line_error(l, "cannot use overlay '%s': %s", dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		r = line_error(l, "overlay '%s' is not a directory", dir);
	else
		r = add_overlay(l, &l->ld->s->build, dir);
	free(dir);
	return r;
}

static const char *const kernel_kinds[] = {"host", "image", "package", NULL};

/* "PATH [modules DIR]" after 'kernel image'. */
static int parse_kernel_image(struct line *l, char **img, char **mods)
{
	char *w = NULL;
	int r = need_word(l, "kernel image", &w);

	if (r < 0)
		return r;
	*img = relative_to(l->dir, w);
	if (!*img)
		return line_oom(l);
	w = word(l);
	if (!w)
		return 0;
	if (strcmp(w, "modules"))
		return line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
	r = need_last_word(l, "modules directory", &w);
	if (r < 0)
		return r;
	*mods = relative_to(l->dir, w);
	return *mods ? 0 : line_oom(l);
}

static int kw_kernel(struct line *l)
{
	struct build_config *b = &l->ld->s->build;
	char *kind = NULL, *w = NULL, *img = NULL, *mods = NULL, *pkg = NULL;
	int k, r = need_word(l, "kernel source", &kind);

	if (r < 0)
		return r;
	k = lookup(kernel_kinds, kind);
	if (k < 0)
		return unknown_word(l, "kernel source", kind, kernel_kinds);
	if (k == 0) {
		r = need_end(l);
	} else if (k == 1) {
		r = parse_kernel_image(l, &img, &mods);
	} else {
		r = need_last_word(l, "kernel package", &w);
		if (r == 0 && !package_ok(w, false))
			r = line_error(l, "bad package '%s'", w);
		if (r == 0)
			pkg = strdup(w);
		if (r == 0 && !pkg)
			r = line_oom(l);
	}
	if (r < 0) {
		free(img);
		free(mods);
		return r;
	}
	/* Each form replaces the others. */
	free(b->kernel_image);
	free(b->modules_dir);
	free(b->kernel_package);
	b->kernel_image = img;
	b->modules_dir = mods;
	b->kernel_package = pkg;
	l->ld->s->kernel_host = k == 0;
	return 0;
}

static int kw_modules(struct line *l)
{
	char *w = NULL;
	int r = need_word(l, "module", &w);

	for (; r == 0 && w; w = word(l)) {
		if (!name_ok(w, "_-", 64))
			return line_error(l, "bad module name '%s'", w);
		r = add_unique(l, &l->ld->s->build.modules, w);
	}
	return r;
}

static const char *const machines[] = {"pc", "q35", "microvm", NULL};
static const char *const backends[] = {"qemu", "crosvm", NULL};
static const char *const accels[] = {"auto", "tcg", "kvm", NULL};
static const char *const vm_keys[] = {"memory", "cpus",	   "machine", "append",
				      "nic",	"backend", "accel",   NULL};

static int kw_vm(struct line *l)
{
	struct vm_config *vm = &l->ld->s->vm;
	char *key = NULL, *w = NULL;
	int k, r = need_word(l, "setting", &key);

	if (r < 0)
		return r;
	k = lookup(vm_keys, key);
	if (k < 0)
		return unknown_word(l, "vm setting", key, vm_keys);
	if (k == 3) {
		w = rest_of_line(l);
		if (!w)
			return line_error(l, "missing kernel arguments (usage: vm append ARGS...)");
		return set_str(l, &vm->append, w);
	}
	r = need_last_word(l, key, &w);
	if (r < 0)
		return r;
	switch (k) {
	case 0:
		if (!parse_size_mib(w, &vm->memory_mib) || vm->memory_mib > 1024 * 1024)
			return line_error(l, "bad size '%s' for memory (write e.g. 512M or 1G)", w);
		return 0;
	case 1:
		if (!parse_long(w, 1, 255, &vm->cpus))
			return line_error(l, "bad number '%s' for cpus (1 to 255)", w);
		return 0;
	case 2:
		if (lookup(machines, w) < 0)
			return unknown_word(l, "machine", w, machines);
		return set_str(l, &vm->machine, w);
	case 4:
		if (!name_ok(w, "_-", 32))
			return line_error(
			    l, "bad nic model '%s' (e.g. e1000, virtio-net-pci or none)", w);
		return set_str(l, &vm->nic_model, w);
	case 5:
		if (lookup(backends, w) < 0)
			return unknown_word(l, "backend", w, backends);
		vm->backend = lookup(backends, w) ? VM_BACKEND_CROSVM : VM_BACKEND_QEMU;
		return 0;
	default:
		switch (lookup(accels, w)) {
		case 0:
			vm->accel = VM_ACCEL_AUTO;
			return 0;
		case 1:
			vm->accel = VM_ACCEL_TCG;
			return 0;
		case 2:
			vm->accel = VM_ACCEL_KVM;
			return 0;
		default:
			return unknown_word(l, "accel", w, accels);
		}
	}
}

static int kw_timeout(struct line *l)
{
	int r = need_duration(l, "timeout", &l->ld->s->timeout_ms);

	return r < 0 ? r : need_end(l);
}

static int kw_step_timeout(struct line *l)
{
	int r = need_duration(l, "step-timeout", &l->ld->s->step_timeout_ms);

	return r < 0 ? r : need_end(l);
}

static int set_where(struct line *l, char **file, unsigned *line, char **where)
{
	*file = strdup(l->file);
	*line = l->no;
	if (!*file || asprintf(where, "%s:%u", l->file, l->no) < 0) {
		*where = NULL;
		return line_oom(l);
	}
	return 0;
}

static int kw_fail(struct line *l)
{
	struct scenario *s = l->ld->s;
	struct scenario_fail f = {0};
	struct scenario_fail *v;
	char *w = NULL;
	int r = take_match(l, &f.pattern, &f.literal);

	if (r < 0)
		return r;
	w = word(l);
	if (w)
		r = line_error(l, "unexpected '%s' after the pattern (usage: %s)", w, l->kw->usage);
	if (r == 0)
		r = set_where(l, &f.file, &f.line, &f.where);
	if (r == 0) {
		v = realloc(s->fails, (s->nfails + 1) * sizeof(*v));
		if (v) {
			s->fails = v;
			v[s->nfails++] = f;
			return 0;
		}
		r = line_oom(l);
	}
	free(f.pattern);
	free(f.file);
	free(f.where);
	return r;
}

static void step_release(struct scenario_step *st)
{
	free(st->name);
	free(st->text);
	free(st->file);
	free(st->where);
}

/* Append a step; takes st's strings (freed on failure); st->name may be NULL for "step N". */
static int add_step(struct line *l, struct scenario_step *st)
{
	struct scenario *s = l->ld->s;
	struct scenario_step *v;
	int r = 0;

	for (size_t i = 0; st->name && i < s->nsteps; i++) {
		if (strcmp(s->steps[i].name, st->name))
			continue;
		r = line_error(l, "duplicate step name '%s' (first at %s)", st->name,
			       s->steps[i].where);
		goto out;
	}
	if (!st->name && asprintf(&st->name, "step %zu", s->nsteps + 1) < 0) {
		st->name = NULL;
		r = line_oom(l);
		goto out;
	}
	r = set_where(l, &st->file, &st->line, &st->where);
	if (r < 0)
		goto out;
	v = realloc(s->steps, (s->nsteps + 1) * sizeof(*v));
	if (!v) {
		r = line_oom(l);
		goto out;
	}
	s->steps = v;
	v[s->nsteps++] = *st;
	return 0;
out:
	step_release(st);
	return r;
}

/* Flags written after the closing '/' as in Perl (/x/i) are not a thing here. */
static bool looks_like_flags(const char *w)
{
	return strspn(w, "imsxnu") == strlen(w) && strlen(w) <= 4;
}

/* What may follow an expect pattern: 'within DURATION' and 'budget DURATION', each once. */
static int step_options(struct line *l, struct scenario_step *st)
{
	bool seen_budget = false;
	char *w;
	int r = 0;

	for (w = word(l); w && r == 0; w = r == 0 ? word(l) : NULL) {
		bool within = !strcmp(w, "within"), budget = !strcmp(w, "budget");

		if ((within && st->timeout_explicit) || (budget && seen_budget))
			return line_error(l, "'%s' given twice", w);
		if (within) {
			r = need_duration(l, "within", &st->timeout_ms);
			st->timeout_explicit = true;
		} else if (budget) {
			r = need_duration(l, "budget", &st->budget_ms);
			seen_budget = true;
		} else if (st->timeout_explicit || seen_budget) {
			return line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
		} else {
			r = line_error(l,
				       "unexpected '%s' after the pattern (only 'within DURATION' "
				       "and 'budget DURATION' may follow)",
				       w);
			if (!st->literal && looks_like_flags(w))
				it_error_hint(l->ld->err, "flags go inside the pattern: /(?%s).../",
					      w);
		}
	}
	return r;
}

static int kw_expect(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_EXPECT};
	char *w = NULL;
	int r;

	skip_blanks(l);
	if (*l->p != '/' && *l->p != '"' && !at_end(l)) {
		w = word(l);
		if (!name_ok(w, "_.-", MAX_NAME_LEN))
			return line_error(
			    l, "bad step name '%s' (letters, digits, '-', '_' and '.')", w);
		st.name = strdup(w);
		if (!st.name)
			return line_oom(l);
	}
	r = take_match(l, &st.text, &st.literal);
	if (r == 0 && st.literal && strchr(st.text, '\n'))
		r = line_error(l, "an expected text cannot hold a newline: lines are matched "
				  "one at a time");
	if (r == 0)
		r = step_options(l, &st);
	if (r < 0) {
		step_release(&st);
		return r;
	}
	return add_step(l, &st);
}

static int kw_send(struct line *l)
{
	struct scenario_step st = {.kind = SCENARIO_STEP_SEND, .literal = true};
	char *w = NULL;
	int r;

	skip_blanks(l);
	if (*l->p == '"') {
		r = take_quoted(l, &st.text);
		if (r == 0)
			r = need_end(l);
		if (r < 0) {
			free(st.text);
			return r;
		}
		return add_step(l, &st);
	}
	w = rest_of_line(l);
	if (!w)
		return line_error(l, "missing text (usage: %s)", l->kw->usage);
	if (asprintf(&st.text, "%s\n", w) < 0)
		return line_oom(l);
	return add_step(l, &st);
}

static const char *const reset_lists[] = {"repo",  "packages", "service", "console",
					  "iface", "user",     "overlay", "modules",
					  "fail",  "steps",    NULL};

static int kw_reset(struct line *l)
{
	struct scenario *s = l->ld->s;
	struct build_config *b = &s->build;
	char *w = NULL;
	int r = need_last_word(l, "list", &w);

	if (r < 0)
		return r;
	switch (lookup(reset_lists, w)) {
	case 0:
		strlist_clear(&b->repos);
		return 0;
	case 1:
		strlist_clear(&b->packages);
		return 0;
	case 2:
		for (size_t i = 0; i < b->nservices; i++) {
			free(b->services[i].runlevel);
			free(b->services[i].name);
		}
		free(b->services);
		b->services = NULL;
		b->nservices = 0;
		return 0;
	case 3:
		strlist_clear(&b->consoles);
		return 0;
	case 4:
		for (size_t i = 0; i < b->nifaces; i++)
			iface_release(&b->ifaces[i]);
		free(b->ifaces);
		b->ifaces = NULL;
		b->nifaces = 0;
		return 0;
	case 5:
		for (size_t i = 0; i < b->nusers; i++)
			user_spec_release(&b->users[i]);
		free(b->users);
		b->users = NULL;
		b->nusers = 0;
		return 0;
	case 6:
		strlist_clear(&b->overlays);
		return 0;
	case 7:
		strlist_clear(&b->modules);
		return 0;
	case 8:
		for (size_t i = 0; i < s->nfails; i++) {
			free(s->fails[i].pattern);
			free(s->fails[i].file);
			free(s->fails[i].where);
		}
		free(s->fails);
		s->fails = NULL;
		s->nfails = 0;
		return 0;
	case 9:
		for (size_t i = 0; i < s->nsteps; i++)
			step_release(&s->steps[i]);
		free(s->steps);
		s->steps = NULL;
		s->nsteps = 0;
		return 0;
	default:
		return unknown_word(l, "list", w, reset_lists);
	}
}

static const struct keyword keywords[] = {
    {"include", "include PATH", kw_include},
    {"repo", "repo URL|DIR", kw_repo},
    {"arch", "arch NAME", kw_arch},
    {"packages", "packages NAME...", kw_packages},
    {"service", "service RUNLEVEL NAME...", kw_service},
    {"console", "console TTY...", kw_console},
    {"iface", "iface NAME loopback|dhcp|manual|static ADDRESS/PREFIX [gateway IP] [noauto]",
     kw_iface},
    {"hostname", "hostname NAME", kw_hostname},
    {"root-password", "root-password none|locked|keep|HASH", kw_root_password},
    {"user",
     "user NAME [uid N] [groups G,...] [shell PATH] [home PATH] "
     "[password none|locked|HASH] [keys FILE]",
     kw_user},
    {"overlay", "overlay DIR", kw_overlay},
    {"kernel", "kernel host | kernel image PATH [modules DIR] | kernel package NAME", kw_kernel},
    {"modules", "modules NAME...", kw_modules},
    {"vm", "vm memory|cpus|machine|append|nic|backend|accel VALUE", kw_vm},
    {"timeout", "timeout DURATION", kw_timeout},
    {"step-timeout", "step-timeout DURATION", kw_step_timeout},
    {"fail", "fail /REGEX/ | fail \"TEXT\"", kw_fail},
    {"expect", "expect [NAME] /REGEX/|\"TEXT\" [within DURATION] [budget DURATION]", kw_expect},
    {"send", "send TEXT | send \"TEXT\"", kw_send},
    {"reset", "reset LIST", kw_reset},
};

/* ---- files ------------------------------------------------------------- */

static int parse_line(struct loader *ld, const char *file, const char *dir, unsigned no, char *text)
{
	struct line l = {ld, file, dir, no, text, NULL, text};
	const char *best = NULL;
	unsigned bestd = UINT_MAX;
	char dym[128];
	char *kw;

	kw = word(&l);
	if (!kw)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
		if (strcmp(keywords[i].name, kw))
			continue;
		l.kw = &keywords[i];
		return keywords[i].fn(&l);
	}
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
		suggest(kw, keywords[i].name, &best, &bestd);
	return line_error(&l, "unknown keyword '%s'%s", kw, did_you_mean(dym, sizeof(dym), best));
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Refuse a file that is being read (a cycle) or was read before. */
static int check_include(struct loader *ld, const char *real, const char *path, struct line *from)
{
	struct buf chain;
	int r;

	if (ld->stack_real.n >= SCENARIO_MAX_INCLUDE_DEPTH)
		return line_error(from, "includes nested deeper than %d",
				  SCENARIO_MAX_INCLUDE_DEPTH);
	if (!strlist_has(&ld->stack_real, real)) {
		if (strlist_has(&ld->seen_real, real))
			return line_error(from, "'%s' is included twice (a file is read once)",
					  path);
		return 0;
	}
	buf_init(&chain, 4096);
	for (size_t i = 0; i < ld->stack_real.n; i++) {
		if (chain.len || !strcmp(ld->stack_real.v[i], real))
			buf_addf(&chain, "%s -> ", ld->stack_shown.v[i]);
	}
	buf_addstr(&chain, path);
	r = line_error(from, "include cycle: %s", chain.data);
	buf_release(&chain);
	return r;
}

/* Split the text into lines and parse each one. */
static int parse_text(struct loader *ld, const char *path, const char *dir, struct buf *text)
{
	char *p = text->data, *end = text->data + text->len;
	unsigned no = 0;
	int r = 0;

	while (r == 0 && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end;

		no++;
		if (memchr(p, '\0', (size_t)(eol - p)))
			return it_error_set(ld->err, -IT_ESCENARIO, "%s:%u: NUL byte in the line",
					    path, no);
		*eol = '\0';
		if (eol > p && eol[-1] == '\r')
			eol[-1] = '\0';
		r = parse_line(ld, path, dir, no, p);
		p = eol + 1;
	}
	return r;
}

/* Say that 'path' cannot be read: at the include line, or about the scenario itself. */
static int file_error(struct loader *ld, struct line *from, const char *path, const char *why,
		      int code)
{
	if (from)
		return line_error(from, "cannot include '%s': %s", path, why);
	return it_error_set(ld->err, code, "cannot read scenario '%s': %s", path, why);
}

/* Read and parse one file; 'from' is the include line, NULL for the top file. */
static int load_file(struct loader *ld, const char *path, struct line *from)
{
	struct buf text;
	char *real = NULL, *dir = NULL;
	char why[64];
	int r;

	buf_init(&text, SCENARIO_MAX_FILE_BYTES);
	real = realpath(path, NULL);
	if (!real) {
		r = file_error(ld, from, path, strerror(errno), -errno);
		goto out;
	}
	r = from ? check_include(ld, real, path, from) : 0;
	if (r < 0)
		goto out;
	r = buf_read_file(&text, path);
	if (r == -IT_ELIMIT) {
		snprintf(why, sizeof(why), "larger than %d bytes", SCENARIO_MAX_FILE_BYTES);
		r = file_error(ld, from, path, why, -IT_ESCENARIO);
		goto out;
	}
	if (r < 0) {
		r = file_error(ld, from, path, strerror(-r), r);
		goto out;
	}
	dir = dir_of(path);
	if (!dir || strlist_add(&ld->stack_real, real) < 0 ||
	    strlist_add(&ld->stack_shown, path) < 0 || strlist_add(&ld->seen_real, real) < 0 ||
	    strlist_add(&ld->s->files, path) < 0) {
		r = it_error_set(ld->err, -ENOMEM, "out of memory");
		goto out;
	}
	r = parse_text(ld, path, dir, &text);
	free(ld->stack_real.v[--ld->stack_real.n]);
	ld->stack_real.v[ld->stack_real.n] = NULL;
	free(ld->stack_shown.v[--ld->stack_shown.n]);
	ld->stack_shown.v[ld->stack_shown.n] = NULL;
out:
	free(dir);
	free(real);
	buf_release(&text);
	return r;
}

/* Whole-scenario rules, once every file is read. */
static int finish(struct loader *ld)
{
	struct scenario *s = ld->s;
	struct line top = {ld, s->path, s->dir, 0, "", NULL, NULL};
	struct stat st;
	char *rootfs = NULL;
	int r = 0;

	/* No packages is fine to replay or to boot a ready initrd; a build says so. */
	scenario_set_step_timeout(s, s->step_timeout_ms);
	rootfs = relative_to(s->dir, SCENARIO_ROOTFS);
	if (!rootfs)
		return it_error_set(ld->err, -ENOMEM, "out of memory");
	if (stat(rootfs, &st) == 0 && S_ISDIR(st.st_mode))
		r = add_overlay(&top, &s->build, rootfs);
	free(rootfs);
	return r;
}

/* Fill s->path, s->dir and s->name from what the user named. */
static int locate(struct scenario *s, const char *arg, struct it_error *err)
{
	struct stat st;
	size_t n = strlen(arg);
	const char *base;
	char *real = NULL;

	while (n > 1 && arg[n - 1] == '/')
		n--;
	if (stat(arg, &st) < 0) {
		int e = errno;

		it_error_set(err, -e, "cannot read scenario '%s': %s", arg, strerror(e));
		it_error_hint(err, "a scenario is a directory holding a file named '%s'",
			      SCENARIO_FILE);
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		s->dir = strndup(arg, n);
		s->path = s->dir ? relative_to(s->dir, SCENARIO_FILE) : NULL;
	} else {
		s->path = strdup(arg);
		s->dir = dir_of(arg);
	}
	if (!s->dir || !s->path)
		return it_error_set(err, -ENOMEM, "out of memory");
	base = strrchr(s->path, '/');
	base = base ? base + 1 : s->path;
	if (strcmp(base, SCENARIO_FILE)) {
		n = strlen(base);
		if (n > 9 && !strcmp(base + n - 9, ".scenario"))
			n -= 9;
		s->name = strndup(base, n);
	} else {
		real = realpath(s->dir, NULL);
		base = real ? strrchr(real, '/') : NULL;
		s->name = strdup(base && base[1] ? base + 1 : real ? real : s->dir);
		free(real);
	}
	if (!s->name)
		return it_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* ---- public ------------------------------------------------------------ */

void scenario_init(struct scenario *s)
{
	memset(s, 0, sizeof(*s));
	build_config_init(&s->build);
	vm_config_init(&s->vm);
	s->timeout_ms = SCENARIO_DEFAULT_TIMEOUT_MS;
	s->step_timeout_ms = SCENARIO_DEFAULT_STEP_TIMEOUT_MS;
}

void scenario_release(struct scenario *s)
{
	free(s->name);
	free(s->dir);
	free(s->path);
	build_config_release(&s->build);
	vm_config_release(&s->vm);
	for (size_t i = 0; i < s->nsteps; i++)
		step_release(&s->steps[i]);
	free(s->steps);
	for (size_t i = 0; i < s->nfails; i++) {
		free(s->fails[i].pattern);
		free(s->fails[i].file);
		free(s->fails[i].where);
	}
	free(s->fails);
	strlist_clear(&s->files);
	scenario_init(s);
}

int scenario_load(struct scenario *s, const char *dir_or_file, struct it_error *err)
{
	struct loader ld = {s, err, STRLIST_INIT, STRLIST_INIT, STRLIST_INIT};
	int r = locate(s, dir_or_file, err);

	if (r == 0)
		r = load_file(&ld, s->path, NULL);
	if (r == 0)
		r = finish(&ld);
	strlist_clear(&ld.stack_real);
	strlist_clear(&ld.stack_shown);
	strlist_clear(&ld.seen_real);
	if (r < 0)
		scenario_release(s);
	return r;
}

void scenario_set_step_timeout(struct scenario *s, int64_t ms)
{
	s->step_timeout_ms = ms;
	for (size_t i = 0; i < s->nsteps; i++) {
		struct scenario_step *st = &s->steps[i];

		if (st->kind == SCENARIO_STEP_EXPECT && !st->timeout_explicit)
			st->timeout_ms = ms;
	}
}

int scenario_host_kernel(const char *boot_dir, const char *modules_root, char **image,
			 char **modules_dir, struct it_error *err)
{
	char best[NAME_MAX + 1] = "", path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int r = 0;

	*image = NULL;
	*modules_dir = NULL;
	boot_dir = boot_dir ? boot_dir : "/boot";
	modules_root = modules_root ? modules_root : "/lib/modules";
	d = opendir(boot_dir);
	if (!d) {
		r = -errno;
		it_error_set(err, -IT_ENOTFOUND, "cannot read '%s': %s", boot_dir, strerror(-r));
		r = -IT_ENOTFOUND;
		goto out;
	}
	for (de = readdir(d); de; de = readdir(d)) {
		const char *ver = de->d_name + 8;

		if (strncmp(de->d_name, "vmlinuz-", 8) || !*ver)
			continue;
		if (path_join(path, sizeof(path), modules_root, ver) < 0 || stat(path, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (!best[0] || strverscmp(ver, best) > 0)
			snprintf(best, sizeof(best), "%s", ver);
	}
	if (!best[0]) {
		r = it_error_set(
		    err, -IT_ENOTFOUND,
		    "no host kernel: no '%s/vmlinuz-VERSION' with a matching '%s/VERSION'",
		    boot_dir, modules_root);
		it_error_hint(err, "install one (Debian: apt-get install linux-image-amd64) or "
				   "write 'kernel image PATH modules DIR'");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/vmlinuz-%s", boot_dir, best);
	if (access(path, R_OK) < 0) {
		r = it_error_set(err, -IT_EKERNEL, "cannot read kernel '%s': %s", path,
				 strerror(errno));
		it_error_hint(err,
			      "some distributions make kernels readable by root only: "
			      "sudo chmod 0644 '%s'",
			      path);
		goto out;
	}
	*image = strdup(path);
	if (asprintf(modules_dir, "%s/%s", modules_root, best) < 0)
		*modules_dir = NULL;
	if (!*image || !*modules_dir) {
		free(*image);
		free(*modules_dir);
		*image = NULL;
		*modules_dir = NULL;
		r = it_error_set(err, -ENOMEM, "out of memory");
	}
out:
	if (d)
		closedir(d);
	return r;
}

int scenario_resolve_kernel(struct scenario *s, struct it_error *err)
{
	char *image = NULL, *mods = NULL;
	int r;

	if (!s->kernel_host)
		return 0;
	r = scenario_host_kernel(NULL, NULL, &image, &mods, err);
	if (r < 0)
		return r;
	free(s->build.kernel_image);
	free(s->build.modules_dir);
	s->build.kernel_image = image;
	s->build.modules_dir = mods;
	return 0;
}
