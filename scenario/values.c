// SPDX-License-Identifier: MIT
/* Checks of the values a scenario names (packages, hosts, passwords, addresses) and its paths. */
#include <arpa/inet.h>

#include "scenario/internal.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* apk world entries: [!]name[op version], name made of [A-Za-z0-9_.+:-]. */
bool scn_package_ok(const char *w, bool allow_constraint)
{
	static const char *const ops[] = {"<=", ">=", "><", "=~", "<", ">", "=", "~", NULL};
	const char *p = w;
	size_t n;

	if (allow_constraint && *p == '!')
		p++;
	n = strspn(p, ALNUM "_.+:-");
	if (n == 0 || n > 255 || !isalnum((unsigned char)*p))
		return false;
	if (allow_constraint && p[n] == '@' && *w != '!') {
		/* A repository tag, apk's 'name@testing'. */
		size_t t = strspn(p + n + 1, ALNUM "_.-");

		if (t == 0)
			return false;
		n += 1 + t;
	}
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
bool scn_hostname_ok(const char *s)
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
int scn_password_value(struct line *l, const char *w, bool allow_keep, char **out)
{
	*out = NULL;
	if (allow_keep && !strcmp(w, "keep"))
		return 0;
	if (strcmp(w, "none") && strcmp(w, "locked") && !crypt_hash_ok(w)) {
		scn_line_error(l,
			       "bad password '%s': write none, locked%s or a crypt(3) hash "
			       "such as $6$salt$hash, never a clear-text password",
			       w, allow_keep ? ", keep" : "");
		it_error_hint(l->ld->err, "make a hash with: openssl passwd -6");
		return -IT_ESCENARIO;
	}
	*out = strdup(!strcmp(w, "none") ? "" : !strcmp(w, "locked") ? "!" : w);
	return *out ? 0 : scn_line_oom(l);
}

/* ADDRESS/PREFIX, IPv4 or IPv6. */
bool scn_cidr_ok(const char *s)
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

bool scn_ip_ok(const char *s)
{
	unsigned char bin[16];

	return inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1;
}

bool scn_same_file(const char *a, const char *b)
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
char *scn_relative_to(const char *dir, const char *p)
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
	if (strcmp(clean, raw) && scn_same_file(clean, raw)) {
		free(raw);
		return clean;
	}
	free(clean);
	return raw;
}

/* Replace *slot with a copy of s (or NULL). */
int scn_set_str(struct line *l, char **slot, const char *s)
{
	char *copy = NULL;

	if (s) {
		copy = strdup(s);
		if (!copy)
			return scn_line_oom(l);
	}
	free(*slot);
	*slot = copy;
	return 0;
}

/* Append s unless already there. */
int scn_add_unique(struct line *l, struct strlist *list, const char *s)
{
	if (strlist_has(list, s))
		return 0;
	return strlist_add(list, s) < 0 ? scn_line_oom(l) : 0;
}

/* ---- keywords ---------------------------------------------------------- */
