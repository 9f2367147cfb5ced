// SPDX-License-Identifier: MIT
/* Required literals of PCRE2 patterns, found conservatively, and a fast search for them. */
#include <stdbool.h>
#include <string.h>

#include "lit.h"

/*
 * Printable bytes from the most to the least common in a recorded Alpine boot
 * console (tests/data/boot/): kernel, OpenRC and busybox; bytes not listed
 * (controls, tab, UTF-8, "$%&?J^`{}~") are rarer still. memchr() looks for the
 * rarest byte of a literal, so it stops on few false candidates.
 */
static const char by_frequency[] = " 0eirt1aosn.:fcl[]6d2p43m8ug5b97PxChIyA_Sv-kM,RB()TDNEOwF/"
				   "KUL=zqX*HGV'QWj+Y;!@|\">#Z<\\";

static size_t rarity(unsigned char c)
{
	const char *p = c ? memchr(by_frequency, c, sizeof(by_frequency) - 1) : NULL;

	return p ? (size_t)(p - by_frequency) : sizeof(by_frequency);
}

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Escapes for a class of bytes or an assertion: no literal, but nothing to give up for. */
static bool is_class_escape(unsigned char c)
{
	return c && strchr("dDsSwWhHvVRbBAzZGK", c) != NULL;
}

/* A run of literal text being collected, and the best one so far. */
struct walk {
	char run[LIT_MAX];
	size_t nrun;
	bool last_lit; /* the last token was a byte of the run (a quantifier may take it away) */
	struct lit *best;
	size_t best_rarity;
};

static size_t rarest(const char *s, size_t n, size_t *at)
{
	size_t r = 0;

	*at = 0;
	for (size_t i = 0; i < n; i++) {
		size_t ri = rarity((unsigned char)s[i]);

		if (i == 0 || ri > r) {
			r = ri;
			*at = i;
		}
	}
	return r;
}

static void end_run(struct walk *w)
{
	size_t at, r;

	w->last_lit = false;
	if (w->nrun == 0)
		return;
	r = rarest(w->run, w->nrun, &at);
	if (w->best->len == 0 || r > w->best_rarity ||
	    (r == w->best_rarity && w->nrun > w->best->len)) {
		memcpy(w->best->s, w->run, w->nrun);
		w->best->len = w->nrun;
		w->best->rare = at;
		w->best_rarity = r;
	}
	w->nrun = 0;
}

static void push(struct walk *w, char c)
{
	if (w->nrun == LIT_MAX)
		end_run(w); /* a piece of a required run is required too */
	w->run[w->nrun++] = c;
	w->last_lit = true;
}

/* A quantifier follows: the byte before it may be absent (or repeated). */
static void quantified(struct walk *w, bool may_be_absent)
{
	if (may_be_absent && w->last_lit && w->nrun > 0)
		w->nrun--;
	end_run(w);
}

/* Index after the ']' of the class at re[i] == '[', or 0 to give up. */
static size_t skip_class(const char *re, size_t n, size_t i)
{
	i++;
	if (i < n && re[i] == '^')
		i++;
	if (i < n && re[i] == ']')
		i++; /* a ']' first is a member */
	while (i < n) {
		if (re[i] == ']')
			return i + 1;
		if (re[i] == '\\') {
			if (i + 1 >= n || re[i + 1] == 'Q')
				return 0;
			i += 2;
			continue;
		}
		/* POSIX "[:alpha:]" and its kin: not worth parsing. */
		if (re[i] == '[' && i + 1 < n && strchr(":.=", re[i + 1]))
			return 0;
		i++;
	}
	return 0;
}

/* May a group opening at re[i] == '(' be passed over whole? Not (*VERB), (?i), (?#, (?(... */
static bool group_ok(const char *re, size_t n, size_t i)
{
	if (i + 1 < n && re[i + 1] == '*')
		return false;
	if (i + 1 >= n || re[i + 1] != '?')
		return true;
	return i + 2 < n && strchr(":=!<>|'P", re[i + 2]) != NULL;
}

/* Index after the ')' closing the group at re[i] == '(', or 0 to give up. */
static size_t skip_group(const char *re, size_t n, size_t i)
{
	size_t depth = 0;

	while (i < n) {
		char c = re[i];

		if (c == '\\') {
			if (i + 1 >= n || re[i + 1] == 'Q')
				return 0;
			i += 2;
			continue;
		}
		if (c == '[') {
			i = skip_class(re, n, i);
			if (i == 0)
				return 0;
			continue;
		}
		if (c == '(') {
			/* (*ACCEPT) ends a match anywhere; a comment may hold any parenthesis. */
			if (i + 1 < n && re[i + 1] == '*')
				return 0;
			if (i + 2 < n && re[i + 1] == '?' && re[i + 2] == '#')
				return 0;
			depth++;
		} else if (c == ')' && --depth == 0) {
			return i + 1;
		}
		i++;
	}
	return 0;
}

/* Index after the '}' of a quantifier "{2}", "{2,}", "{2,5}", "{,5}" at re[i], or 0. */
static size_t skip_braces(const char *re, size_t n, size_t i)
{
	bool digit = false;

	for (i++; i < n; i++) {
		if (re[i] == '}')
			return digit ? i + 1 : 0;
		if (re[i] >= '0' && re[i] <= '9')
			digit = true;
		else if (re[i] != ',' && re[i] != ' ')
			return 0;
	}
	return 0;
}

/* One token of the top level at re[i]; returns the index after it, or 0 to give up. */
static size_t step(struct walk *w, const char *re, size_t n, size_t i)
{
	unsigned char c = (unsigned char)re[i];
	size_t j;

	switch (c) {
	case '\\':
		if (i + 1 >= n)
			return 0;
		c = (unsigned char)re[i + 1];
		if (!is_alnum(c)) {
			push(w, (char)c); /* an escaped punctuation byte stands for itself */
			return i + 2;
		}
		if (!is_class_escape(c))
			return 0; /* \x41, \n, \1, \p{..}, \Q...: not worth decoding */
		end_run(w);
		return i + 2;
	case '(':
		j = group_ok(re, n, i) ? skip_group(re, n, i) : 0;
		end_run(w);
		return j;
	case '[':
		end_run(w);
		return skip_class(re, n, i);
	case '|':
	case ')':
		return 0;
	case '?':
	case '*':
		quantified(w, true);
		return i + 1;
	case '+':
		quantified(w, false);
		return i + 1;
	case '{':
		quantified(w, true);
		return skip_braces(re, n, i);
	case '^':
	case '$':
	case '.':
	case ']':
	case '}':
		end_run(w);
		return i + 1;
	default:
		push(w, (char)c);
		return i + 1;
	}
}

void lit_from_regex(struct lit *l, const char *re, size_t n)
{
	struct walk w = {.best = l};
	size_t i = 0;

	l->len = 0;
	l->rare = 0;
	while (i < n) {
		i = step(&w, re, n, i);
		if (i == 0) {
			l->len = 0;
			return;
		}
	}
	end_run(&w);
}

/* Is l at h (where its rare byte was seen)? The first and last bytes weed out most. */
static bool lit_at(const struct lit *l, const char *h)
{
	return h[0] == l->s[0] && h[l->len - 1] == l->s[l->len - 1] && memcmp(h, l->s, l->len) == 0;
}

/*
 * memchr() finds the rare byte (glibc's is vectorized and hard to beat); the
 * first and last bytes weed out most false candidates before memcmp().
 */
size_t lit_find(const struct lit *l, const char *h, size_t n)
{
	const char *p, *end;
	char c;

	if (l->len == 0)
		return 0;
	if (n < l->len)
		return n;
	c = l->s[l->rare];
	p = h + l->rare;
	end = h + n - (l->len - 1 - l->rare); /* after the rare byte of the last possible place */
	while (p < end) {
		const char *q = memchr(p, c, (size_t)(end - p));

		if (!q)
			return n;
		if (lit_at(l, q - l->rare))
			return (size_t)(q - l->rare - h);
		p = q + 1;
	}
	return n;
}
