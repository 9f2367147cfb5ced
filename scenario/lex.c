// SPDX-License-Identifier: MIT
/* Scenario lines as words: errors with FILE:LINE, durations, /regex/ and "quoted" text. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "scenario/internal.h"

int scn_line_error(struct line *l, const char *fmt, ...)
{
	char msg[IT_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return it_error_set(l->ld->err, -IT_ESCENARIO, "%s:%u: %s", l->file, l->no, msg);
}

int scn_line_oom(struct line *l)
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
void scn_suggest(const char *w, const char *cand, const char **best, unsigned *bestd)
{
	unsigned d = edit_distance(w, cand);
	unsigned limit = strlen(cand) <= 4 ? 1 : 2;

	if (d <= limit && d < *bestd) {
		*best = cand;
		*bestd = d;
	}
}

/* " (did you mean 'X'?)" or "", in out. */
const char *scn_did_you_mean(char *out, size_t n, const char *best)
{
	if (!best)
		return "";
	snprintf(out, n, " (did you mean '%s'?)", best);
	return out;
}

/* Index of w in a NULL-terminated list, or -1. */
int scn_lookup(const char *const *list, const char *w)
{
	for (int i = 0; list[i]; i++)
		if (!strcmp(list[i], w))
			return i;
	return -1;
}

/* "unknown WHAT 'w' (did you mean ...?); use a, b or c" for a NULL-terminated list. */
int scn_unknown_word(struct line *l, const char *what, const char *w, const char *const *list)
{
	char dym[128], choices[256] = "";
	const char *best = NULL;
	unsigned bestd = UINT_MAX;
	size_t len = 0;

	for (int i = 0; list[i]; i++) {
		const char *sep = !i ? "" : list[i + 1] ? ", " : " or ";
		int n;

		scn_suggest(w, list[i], &best, &bestd);
		n = snprintf(choices + len, sizeof(choices) - len, "%s%s", sep, list[i]);
		if (n > 0 && (size_t)n < sizeof(choices) - len)
			len += (size_t)n;
	}
	return scn_line_error(l, "unknown %s '%s'%s; use %s", what, w,
			      scn_did_you_mean(dym, sizeof(dym), best), choices);
}

int scn_need_choice(struct line *l, const char *what, const char *kind, const char *const *list)
{
	char *w = NULL;
	int r = scn_need_last_word(l, what, &w), k;

	if (r < 0)
		return r;
	k = scn_lookup(list, w);
	return k < 0 ? scn_unknown_word(l, kind, w, list) : k;
}

/* ---- words ------------------------------------------------------------- */

bool scn_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

void scn_skip_blanks(struct line *l)
{
	while (scn_is_blank(*l->p))
		l->p++;
}

/* A '#' at the start of a scn_word begins a comment. */
bool scn_at_end(struct line *l)
{
	scn_skip_blanks(l);
	return *l->p == '\0' || *l->p == '#';
}

/* The next blank-separated scn_word, NUL-terminated in place; NULL at the end or a comment. */
char *scn_word(struct line *l)
{
	char *w;

	if (scn_at_end(l))
		return NULL;
	w = l->p;
	while (*l->p && !scn_is_blank(*l->p))
		l->p++;
	if (*l->p)
		*l->p++ = '\0';
	return w;
}

int scn_need_word(struct line *l, const char *what, char **out)
{
	*out = scn_word(l);
	if (!*out)
		return scn_line_error(l, "missing %s (usage: %s)", what, l->kw->usage);
	return 0;
}

int scn_need_end(struct line *l)
{
	char *w = scn_word(l);

	if (w)
		return scn_line_error(l, "unexpected '%s' (usage: %s)", w, l->kw->usage);
	return 0;
}

/* Exactly one more scn_word. */
int scn_need_last_word(struct line *l, const char *what, char **out)
{
	int r = scn_need_word(l, what, out);

	if (r < 0)
		return r;
	return scn_need_end(l);
}

/* The rest of the line up to a comment, without surrounding blanks; NULL when empty. */
char *scn_rest_of_line(struct line *l)
{
	char *s, *e;

	if (scn_at_end(l))
		return NULL;
	s = l->p;
	for (e = s; *e; e++)
		if (*e == '#' && scn_is_blank(e[-1]))
			break;
	while (e > s && scn_is_blank(e[-1]))
		e--;
	*e = '\0';
	l->p = e;
	return s;
}

/* Every character of s is in 'set' or alphanumeric; s is not empty and not too long. */
bool scn_name_ok(const char *s, const char *set, size_t maxlen)
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
int scn_need_duration(struct line *l, const char *what, int64_t *out)
{
	char *w = NULL;
	const char *q;
	int r = scn_need_word(l, what, &w);

	if (r < 0)
		return r;
	q = w;
	while (*q >= '0' && *q <= '9')
		q++;
	if (q > w && *q == '.' && q[1] >= '0' && q[1] <= '9')
		for (q++; *q >= '0' && *q <= '9'; q++)
			;
	if (q == w ||
	    (*q && scn_lookup((const char *const[]){"ms", "s", "m", "min", "h", NULL}, q) < 0) ||
	    !parse_duration_ms(w, out) || *out <= 0)
		return scn_line_error(l, "bad duration '%s' for %s (write e.g. 90s, 500ms or 2m)",
				      w, what);
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
		return scn_line_oom(l);
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
	return scn_line_error(l, "bad regex: %s at offset %zu", (const char *)msg, (size_t)off);
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
		return scn_line_error(l, "unterminated pattern: no closing '/' (a pattern runs "
					 "from the first '/' to the last '/' on the line)");
	if (close == open + 1)
		return scn_line_error(l, "empty pattern");
	for (const char *q = open + 1; q < close; q++) {
		const char *t = q + 1;

		if (*q != '/' || !scn_is_blank(*t))
			continue;
		while (scn_is_blank(*t))
			t++;
		if (*t != '#' && !(strncmp(t, "within", 6) == 0 && scn_is_blank(t[6])) &&
		    !(strncmp(t, "budget", 6) == 0 && scn_is_blank(t[6])))
			continue;
		scn_line_error(l,
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
	return *out ? 0 : scn_line_oom(l);
}

/* Decode the escape after a backslash at *pp (C escapes, \e for ESC); advance *pp. */
static int decode_escape(struct line *l, char **pp, struct buf *out)
{
	static const char simple[] = "n\nr\rt\ta\ab\bf\fv\ve\033\\\\\"\"''";
	char *p = *pp;
	const char *m;
	int v = 0, digits = 0;

	if (*p == '\0')
		return scn_line_error(l, "unterminated string: no closing '\"'");
	m = strchr(simple, *p);
	if (m && (m - simple) % 2 == 0) {
		*pp = p + 1;
		return buf_addch(out, m[1]) < 0
			   ? scn_line_error(l, "text longer than %d bytes", MAX_TEXT_BYTES)
			   : 0;
	}
	if (*p == 'x') {
		for (p++; digits < 2 && hex_digit_value(*p) >= 0; p++, digits++)
			v = v * 16 + hex_digit_value(*p);
		if (!digits)
			return scn_line_error(l, "bad escape '\\x': hex digits must follow");
	} else if (*p >= '0' && *p <= '7') {
		for (; digits < 3 && *p >= '0' && *p <= '7'; p++, digits++)
			v = v * 8 + (*p - '0');
		if (v > 255)
			return scn_line_error(l, "bad escape: octal value %o is above \\377", v);
	} else {
		return scn_line_error(l,
				      "unknown escape '\\%c' (known: \\n \\r \\t \\e \\a \\b \\f "
				      "\\v \\\\ \\\" \\' \\xHH \\NNN)",
				      *p);
	}
	if (v == 0)
		return scn_line_error(l, "a NUL byte cannot be in the text");
	*pp = p;
	if (buf_addch(out, (char)v) < 0)
		return scn_line_error(l, "text longer than %d bytes", MAX_TEXT_BYTES);
	return 0;
}

/* "text" at l->p with C escapes; the result is never empty and holds no NUL. */
int scn_take_quoted(struct line *l, char **out)
{
	struct buf b;
	char *p = l->p + 1;
	int r = 0;

	buf_init(&b, MAX_TEXT_BYTES);
	while (*p != '"') {
		if (*p == '\0') {
			r = scn_line_error(l, "unterminated string: no closing '\"'");
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
			r = scn_line_error(l, "text longer than %d bytes", MAX_TEXT_BYTES);
			goto out;
		}
	}
	if (b.len == 0) {
		r = scn_line_error(l, "empty text \"\"");
		goto out;
	}
	l->p = p + 1;
	if (*l->p && !scn_is_blank(*l->p)) {
		r = scn_line_error(l, "unexpected '%c' right after the closing '\"'", *l->p);
		goto out;
	}
	*out = buf_detach(&b, NULL);
out:
	buf_release(&b);
	return r;
}

/* A /regex/ or a "literal" at l->p. */
int scn_take_match(struct line *l, char **text, bool *literal)
{
	char *w;

	scn_skip_blanks(l);
	if (*l->p == '/') {
		*literal = false;
		return take_regex(l, text);
	}
	if (*l->p == '"') {
		*literal = true;
		return scn_take_quoted(l, text);
	}
	w = scn_word(l);
	if (!w)
		return scn_line_error(l, "missing pattern: write /regex/ or \"text\" (usage: %s)",
				      l->kw->usage);
	return scn_line_error(l, "'%s' is not a pattern: write /regex/ or \"text\" (usage: %s)", w,
			      l->kw->usage);
}

/* ---- small value checks ------------------------------------------------ */
