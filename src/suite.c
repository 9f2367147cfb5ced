// SPDX-License-Identifier: MIT
/* Suites for CI: discovery, shards, jobs, retries, budgets, baselines, merged reports. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "builder/builder.h"
#include "common/util.h"
#include "src/out.h"
#include "src/suite.h"

/* ---- JSON values -------------------------------------------------------------------------- */

void jv_release(struct jv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		jv_release(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
	if (!v || v->type != JV_OBJECT)
		return NULL;
	/* The last of duplicate keys wins, as in most parsers. */
	for (size_t i = v->n; i > 0; i--) {
		if (!strcmp(v->keys[i - 1], key))
			return &v->items[i - 1];
	}
	return NULL;
}

const char *jv_str(const struct jv *v)
{
	return v && v->type == JV_STRING ? v->str : NULL;
}

bool jv_int(const struct jv *v, int64_t *out)
{
	long long n;
	char *end = NULL;

	if (!v || v->type != JV_NUMBER || strpbrk(v->str, ".eE"))
		return false;
	errno = 0;
	n = strtoll(v->str, &end, 10);
	if (errno || !end || *end)
		return false;
	*out = n;
	return true;
}

bool jv_bool(const struct jv *v, bool dflt)
{
	return v && v->type == JV_BOOL ? v->b : dflt;
}

int jv_set_string(struct jv *v, const char *s)
{
	char *copy = strdup(s);

	jv_release(v);
	if (!copy)
		return -ENOMEM;
	v->type = JV_STRING;
	v->str = copy;
	return 0;
}

int jv_set_int(struct jv *v, int64_t n)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", (long long)n);
	jv_release(v);
	v->str = strdup(num);
	if (!v->str)
		return -ENOMEM;
	v->type = JV_NUMBER;
	return 0;
}

void jv_set_bool(struct jv *v, bool b)
{
	jv_release(v);
	v->type = JV_BOOL;
	v->b = b;
}

/* Room for one more member or element. */
static int jv_grow(struct jv *v, bool with_key)
{
	struct jv *items = realloc(v->items, (v->n + 1) * sizeof(*items));

	if (!items)
		return -ENOMEM;
	v->items = items;
	if (with_key) {
		char **keys = realloc(v->keys, (v->n + 1) * sizeof(*keys));

		if (!keys)
			return -ENOMEM;
		v->keys = keys;
	}
	return 0;
}

int jv_put(struct jv *obj, const char *key, struct jv *val)
{
	char *k;

	if (obj->type != JV_OBJECT)
		return -EINVAL;
	for (size_t i = 0; i < obj->n; i++) {
		if (strcmp(obj->keys[i], key))
			continue;
		jv_release(&obj->items[i]);
		obj->items[i] = *val;
		memset(val, 0, sizeof(*val));
		return 0;
	}
	k = strdup(key);
	if (!k || jv_grow(obj, true) < 0) {
		free(k);
		return -ENOMEM;
	}
	obj->keys[obj->n] = k;
	obj->items[obj->n++] = *val;
	memset(val, 0, sizeof(*val));
	return 0;
}

int jv_push(struct jv *arr, struct jv *val)
{
	if (arr->type != JV_ARRAY)
		return -EINVAL;
	if (jv_grow(arr, false) < 0)
		return -ENOMEM;
	arr->items[arr->n++] = *val;
	memset(val, 0, sizeof(*val));
	return 0;
}

int jv_copy(struct jv *dst, const struct jv *src)
{
	int r = 0;

	memset(dst, 0, sizeof(*dst));
	dst->type = src->type;
	dst->b = src->b;
	if (src->str) {
		dst->str = strdup(src->str);
		if (!dst->str)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < src->n && r == 0; i++) {
		struct jv item;

		r = jv_copy(&item, &src->items[i]);
		if (r == 0)
			r = src->type == JV_OBJECT ? jv_put(dst, src->keys[i], &item)
						   : jv_push(dst, &item);
		jv_release(&item);
	}
	if (r < 0)
		jv_release(dst);
	return r;
}

/* The parser: recursive descent over the whole text, errors with line and column. */
struct jparse {
	const char *start, *p, *end;
	const char *name;
	struct it_error *err;
	unsigned depth;
};

static int jp_error(struct jparse *j, const char *what)
{
	unsigned line = 1, col = 1;

	for (const char *q = j->start; q < j->p; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return it_error_set(j->err, -IT_EFORMAT, "cannot parse '%s': line %u, column %u: %s",
			    j->name, line, col, what);
}

static void jp_ws(struct jparse *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool jp_lit(struct jparse *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return false;
	j->p += n;
	return true;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(b, u, n);
}

/* A \uXXXX escape (j->p at the 'u'), with a surrogate pair when there is one. */
static int jp_unicode(struct jparse *j, struct buf *b)
{
	unsigned cp, lo;

	if (j->end - j->p < 5 || hex4(j->p + 1, &cp) < 0)
		return jp_error(j, "bad \\u escape: four hex digits must follow");
	j->p += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return jp_error(j, "lone low surrogate in a \\u escape");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
		    hex4(j->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return jp_error(j, "high surrogate without its low half");
		j->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return jp_error(j, "\\u0000 in a string is not supported");
	return put_utf8(b, cp) < 0 ? -ENOMEM : 0;
}

static int jp_string(struct jparse *j, char **out)
{
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	struct buf b;
	int r = 0;

	buf_init(&b, 0);
	j->p++; /* the opening quote */
	while (r == 0) {
		unsigned char c;

		if (j->p >= j->end) {
			r = jp_error(j, "unterminated string");
			break;
		}
		c = (unsigned char)*j->p;
		if (c == '"') {
			j->p++;
			break;
		}
		if (c < 0x20) {
			r = jp_error(j, "control character in a string");
			break;
		}
		if (c != '\\') {
			r = buf_addch(&b, (char)c);
			j->p++;
			continue;
		}
		if (++j->p >= j->end) {
			r = jp_error(j, "unterminated string");
			break;
		}
		if (*j->p == 'u') {
			r = jp_unicode(j, &b);
			continue;
		}
		{
			const char *e = *j->p ? strchr(esc_in, *j->p) : NULL;

			if (!e) {
				r = jp_error(j, "unknown escape in a string");
				break;
			}
			r = buf_addch(&b, esc_out[e - esc_in]);
			j->p++;
		}
	}
	if (r < 0) {
		buf_release(&b);
		return r;
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

static int jp_number(struct jparse *j, struct jv *out)
{
	const char *s = j->p, *q = j->p;

	if (q < j->end && *q == '-')
		q++;
	if (q < j->end && *q == '0') {
		q++;
	} else if (q < j->end && *q >= '1' && *q <= '9') {
		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
	} else {
		return jp_error(j, "expected a value");
	}
	if (q < j->end && *q == '.') {
		const char *d = ++q;

		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
		if (q == d) {
			j->p = q;
			return jp_error(j, "expected a digit after '.'");
		}
	}
	if (q < j->end && (*q == 'e' || *q == 'E')) {
		const char *d;

		q++;
		if (q < j->end && (*q == '+' || *q == '-'))
			q++;
		d = q;
		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
		if (q == d) {
			j->p = q;
			return jp_error(j, "expected a digit in the exponent");
		}
	}
	out->type = JV_NUMBER;
	out->str = strndup(s, (size_t)(q - s));
	j->p = q;
	return out->str ? 0 : -ENOMEM;
}

static int jp_value(struct jparse *j, struct jv *out);

static int jp_array(struct jparse *j, struct jv *out)
{
	int r;

	out->type = JV_ARRAY;
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		struct jv item;

		memset(&item, 0, sizeof(item));
		r = jp_value(j, &item);
		if (r == 0)
			r = jv_push(out, &item);
		jv_release(&item);
		if (r < 0)
			return r;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return 0;
		}
		return jp_error(j, "expected ',' or ']'");
	}
}

static int jp_object(struct jparse *j, struct jv *out)
{
	int r;

	out->type = JV_OBJECT;
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		struct jv item;
		char *key = NULL;

		jp_ws(j);
		if (j->p >= j->end || *j->p != '"')
			return jp_error(j, "expected a string as the member's name");
		r = jp_string(j, &key);
		if (r < 0)
			return r;
		jp_ws(j);
		if (j->p >= j->end || *j->p != ':') {
			free(key);
			return jp_error(j, "expected ':'");
		}
		j->p++;
		memset(&item, 0, sizeof(item));
		r = jp_value(j, &item);
		if (r == 0 && jv_grow(out, true) < 0)
			r = -ENOMEM;
		if (r < 0) {
			free(key);
			jv_release(&item);
			return r;
		}
		/* Duplicates are kept in order; jv_get() returns the last. */
		out->keys[out->n] = key;
		out->items[out->n++] = item;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return 0;
		}
		return jp_error(j, "expected ',' or '}'");
	}
}

static int jp_value(struct jparse *j, struct jv *out)
{
	int r;

	jp_ws(j);
	if (j->p >= j->end)
		return jp_error(j, "unexpected end of the text: expected a value");
	if (++j->depth > JV_MAX_DEPTH)
		return jp_error(j, "nested too deep");
	switch (*j->p) {
	case '{':
		r = jp_object(j, out);
		break;
	case '[':
		r = jp_array(j, out);
		break;
	case '"':
		out->type = JV_STRING;
		r = jp_string(j, &out->str);
		break;
	default:
		if (jp_lit(j, "null")) {
			out->type = JV_NULL;
			r = 0;
		} else if (jp_lit(j, "true")) {
			out->type = JV_BOOL;
			out->b = true;
			r = 0;
		} else if (jp_lit(j, "false")) {
			out->type = JV_BOOL;
			r = 0;
		} else {
			r = jp_number(j, out);
		}
		break;
	}
	j->depth--;
	return r;
}

int jv_parse(struct blob text, const char *name, struct jv *out, struct it_error *err)
{
	struct jparse j = {text.ptr, text.ptr, text.ptr + text.len, name, err, 0};
	int r;

	memset(out, 0, sizeof(*out));
	if (!text.ptr)
		j.start = j.p = j.end = "";
	if (text.len >= 3 && !memcmp(text.ptr, "\xef\xbb\xbf", 3))
		j.p += 3; /* a byte order mark */
	r = jp_value(&j, out);
	if (r == 0) {
		jp_ws(&j);
		if (j.p != j.end)
			r = jp_error(&j, "unexpected text after the value");
	}
	if (r == -ENOMEM)
		it_error_set(err, r, "cannot parse '%s': %s", name, strerror(ENOMEM));
	if (r < 0)
		jv_release(out);
	return r;
}

int jv_load(const char *path, struct jv *out, struct it_error *err)
{
	struct buf b;
	int r;

	memset(out, 0, sizeof(*out));
	buf_init(&b, JV_MAX_BYTES);
	r = buf_read_file(&b, path);
	if (r < 0) {
		it_error_set(err, r, "cannot read '%s': %s", path,
			     r == -IT_ELIMIT ? "larger than 64 MiB" : it_strerror(r));
		buf_release(&b);
		return r;
	}
	r = jv_parse(buf_blob(&b), path, out, err);
	buf_release(&b);
	return r;
}

/*
 * A jv string written back byte for byte (only what JSON requires is escaped):
 * not out_esc()'s ESC_JSON, which turns bytes that are not UTF-8 into text and
 * so would change a value read from a report.
 */
static void jw_string(struct out *o, const char *s)
{
	out_puts(o, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			out_puts(o, "\\\"");
			break;
		case '\\':
			out_puts(o, "\\\\");
			break;
		case '\n':
			out_puts(o, "\\n");
			break;
		case '\r':
			out_puts(o, "\\r");
			break;
		case '\t':
			out_puts(o, "\\t");
			break;
		case '\b':
			out_puts(o, "\\b");
			break;
		case '\f':
			out_puts(o, "\\f");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				out_putf(o, "\\u%04x", *p);
			else
				out_put(o, p, 1);
		}
	}
	out_puts(o, "\"");
}

static void jw_value(struct out *o, const struct jv *v, unsigned indent)
{
	bool obj = v->type == JV_OBJECT;

	switch (v->type) {
	case JV_NULL:
		out_puts(o, "null");
		return;
	case JV_BOOL:
		out_puts(o, v->b ? "true" : "false");
		return;
	case JV_NUMBER:
		out_puts(o, v->str);
		return;
	case JV_STRING:
		jw_string(o, v->str);
		return;
	case JV_ARRAY:
	case JV_OBJECT:
		break;
	}
	out_puts(o, obj ? "{" : "[");
	for (size_t i = 0; i < v->n; i++) {
		out_puts(o, i ? ",\n" : "\n");
		out_pad(o, indent + 2);
		if (obj) {
			jw_string(o, v->keys[i]);
			out_puts(o, ": ");
		}
		jw_value(o, &v->items[i], indent + 2);
	}
	if (v->n) {
		out_puts(o, "\n");
		out_pad(o, indent);
	}
	out_puts(o, obj ? "}" : "]");
}

int jv_write(const struct jv *v, struct buf *out)
{
	struct out o = {out, 0};

	jw_value(&o, v, 0);
	return o.err;
}

/* ---- discovery ---------------------------------------------------------------------------- */

#define SUITE_MAX_DEPTH 16

void suite_list_init(struct suite_list *l)
{
	memset(l, 0, sizeof(*l));
}

static void entry_release(struct suite_entry *e)
{
	free(e->id);
	free(e->dir);
	memset(e, 0, sizeof(*e));
}

void suite_list_release(struct suite_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_release(&l->v[i]);
	free(l->v);
	strlist_clear(&l->skipped);
	suite_list_init(l);
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool dir_has_scenario(const char *dir)
{
	char path[PATH_MAX];

	return path_join(path, sizeof(path), dir, SCENARIO_FILE) == 0 && is_file(path);
}

bool suite_is_scenario(const char *path)
{
	return is_file(path) || (is_dir(path) && dir_has_scenario(path));
}

static int add_entry(struct suite_list *l, const char *id, const char *dir, long memory_mib)
{
	struct suite_entry *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	memset(&v[l->n], 0, sizeof(v[l->n]));
	v[l->n].id = strdup(id);
	v[l->n].dir = strdup(dir);
	v[l->n].memory_mib = memory_mib;
	v[l->n].weight_ms = -1;
	if (!v[l->n].id || !v[l->n].dir) {
		entry_release(&v[l->n]);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

/* Load a scenario to learn its memory and whether it has steps; a bad one is kept for the run. */
static int consider(struct suite_list *l, const char *id, const char *dir, bool explicit_)
{
	struct scenario s;
	long mem = 0;
	bool steps = true;
	int r;

	scenario_init(&s);
	if (scenario_load(&s, dir, NULL) == 0) {
		mem = s.vm.memory_mib > 0 ? s.vm.memory_mib : VM_DEFAULT_MEMORY_MIB;
		steps = s.nsteps > 0;
	}
	scenario_release(&s);
	if (!steps && !explicit_)
		return strlist_add(&l->skipped, id);
	r = add_entry(l, id, dir, mem);
	return r;
}

static int walk(struct suite_list *l, const char *root, const char *rel, unsigned depth,
		struct it_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX], id[PATH_MAX];
	struct strlist names = STRLIST_INIT;
	struct dirent *de;
	DIR *d = NULL;
	int r = 0;

	if (rel[0] ? path_join(dir, sizeof(dir), root, rel) < 0
		   : snprintf(dir, sizeof(dir), "%s", root) >= (int)sizeof(dir))
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", root, rel);
	d = opendir(dir);
	if (!d)
		return it_error_set(err, -errno, "cannot read directory '%s': %s", dir,
				    strerror(errno));
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			r = strlist_add(&names, de->d_name);
	}
	closedir(d);
	strlist_sort(&names);
	for (size_t i = 0; i < names.n && r == 0; i++) {
		if (path_join(path, sizeof(path), dir, names.v[i]) < 0 ||
		    (rel[0] ? path_join(id, sizeof(id), rel, names.v[i]) < 0
			    : snprintf(id, sizeof(id), "%s", names.v[i]) >= (int)sizeof(id))) {
			r = it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir,
					 names.v[i]);
			break;
		}
		if (!is_dir(path))
			continue;
		if (dir_has_scenario(path))
			r = consider(l, id, path, false);
		else if (depth < SUITE_MAX_DEPTH)
			r = walk(l, root, id, depth + 1, err);
	}
	strlist_clear(&names);
	if (r == -ENOMEM)
		it_error_set(err, r, "cannot search '%s': %s", root, strerror(ENOMEM));
	return r;
}

/* The id of a scenario named directly: its directory's name ("scenarios/net/" -> "net"). */
static int scenario_id(const char *path, char *out, size_t outsz)
{
	char tmp[PATH_MAX], *slash;
	size_t n;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (is_file(tmp)) {
		/* A file: the directory that holds it. */
		slash = strrchr(tmp, '/');
		if (!slash) {
			char cwd[PATH_MAX];

			if (!getcwd(cwd, sizeof(cwd)))
				return -errno;
			return scenario_id(cwd, out, outsz);
		}
		*slash = '\0';
	}
	n = strlen(tmp);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	slash = strrchr(tmp, '/');
	if (!strcmp(tmp, ".") || !strcmp(tmp, "..") ||
	    (slash && (!strcmp(slash, "/.") || !strcmp(slash, "/..")))) {
		char real[PATH_MAX];

		if (!realpath(tmp, real))
			return -errno;
		return scenario_id(real, out, outsz);
	}
	return snprintf(out, outsz, "%s", slash ? slash + 1 : tmp) >= (int)outsz ? -ENAMETOOLONG
										 : 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct suite_entry *)a)->id, ((const struct suite_entry *)b)->id);
}

int suite_discover(const char *const *paths, size_t n, struct suite_list *out, struct it_error *err)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		size_t before = out->n, skipped = out->skipped.n;
		char id[PATH_MAX];

		if (suite_is_scenario(paths[i])) {
			r = scenario_id(paths[i], id, sizeof(id));
			if (r < 0)
				it_error_set(err, r, "cannot name scenario '%s': %s", paths[i],
					     it_strerror(r));
			else
				r = consider(out, id, paths[i], true);
			continue;
		}
		if (!is_dir(paths[i])) {
			r = it_error_set(err, -IT_EUSAGE, "no scenario or directory '%s'",
					 paths[i]);
			it_error_hint(err,
				      "give a scenario directory (holding a file 'scenario') or "
				      "a directory of them");
			break;
		}
		r = walk(out, paths[i], "", 1, err);
		if (r == 0 && out->n == before) {
			r = it_error_set(err, -IT_EUSAGE, "no scenario with steps under '%s'%s",
					 paths[i], out->skipped.n > skipped ? " (only bases)" : "");
			it_error_hint(err, "a scenario is a directory holding a file 'scenario'");
		}
	}
	if (r == -ENOMEM)
		it_error_set(err, r, "cannot collect scenarios: %s", strerror(ENOMEM));
	if (r < 0)
		return r;
	qsort(out->v, out->n, sizeof(*out->v), entry_cmp);
	for (size_t i = 1; i < out->n; i++) {
		if (strcmp(out->v[i - 1].id, out->v[i].id))
			continue;
		r = it_error_set(err, -IT_EUSAGE, "two scenarios named '%s': '%s' and '%s'",
				 out->v[i].id, out->v[i - 1].dir, out->v[i].dir);
		it_error_hint(err, "rename one directory, or run them separately");
		return r;
	}
	return 0;
}

/* ---- shards ------------------------------------------------------------------------------- */

int suite_shard_parse(const char *s, struct suite_shard *out, struct it_error *err)
{
	const char *slash = strchr(s, '/');
	char left[32];
	long i, n;

	if (!slash || (size_t)(slash - s) >= sizeof(left))
		goto bad;
	memcpy(left, s, (size_t)(slash - s));
	left[slash - s] = '\0';
	if (!parse_long(left, 1, 1000, &i) || !parse_long(slash + 1, 1, 1000, &n) || i > n)
		goto bad;
	out->index = (unsigned)i;
	out->count = (unsigned)n;
	return 0;
bad:
	it_error_set(err, -IT_EUSAGE, "bad --shard '%s': give I/N with 1 <= I <= N, as in 2/3", s);
	return -IT_EUSAGE;
}

/* The recorded duration of scenario id in a report: its last run's total_ms, or -1. */
static int64_t recorded_ms(const struct jv *report, const char *id)
{
	const struct jv *runs = jv_get(report, "runs");
	int64_t ms = -1;

	for (size_t i = 0; runs && runs->type == JV_ARRAY && i < runs->n; i++) {
		const struct jv *run = &runs->items[i];
		const char *name = jv_str(jv_get(run, "scenario"));
		int64_t v;

		if (name && !strcmp(name, id) &&
		    jv_int(jv_get(jv_get(run, "timings"), "total_ms"), &v) && v >= 0)
			ms = v;
	}
	return ms;
}

struct weighted {
	size_t i;
	int64_t w;
	const char *id;
};

static int weighted_cmp(const void *a, const void *b)
{
	const struct weighted *x = a, *y = b;

	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	return strcmp(x->id, y->id);
}

int suite_shard_assign(struct suite_list *l, unsigned count, const struct jv *durations,
		       unsigned *bins)
{
	struct weighted *order = NULL;
	int64_t *load = NULL, sum = 0;
	size_t known = 0;

	if (count == 0)
		return -EINVAL;
	for (size_t i = 0; i < l->n; i++) {
		l->v[i].weight_ms = durations ? recorded_ms(durations, l->v[i].id) : -1;
		if (l->v[i].weight_ms >= 0) {
			known++;
			sum += l->v[i].weight_ms;
		}
	}
	if (known == 0) {
		/* Nothing recorded: round-robin over the list, which is in id order. */
		for (size_t i = 0; i < l->n; i++)
			bins[i] = (unsigned)(i % count);
		return 0;
	}
	order = calloc(l->n ? l->n : 1, sizeof(*order));
	load = calloc(count, sizeof(*load));
	if (!order || !load) {
		free(order);
		free(load);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].weight_ms < 0)
			l->v[i].weight_ms = sum / (int64_t)known;
		order[i] = (struct weighted){i, l->v[i].weight_ms, l->v[i].id};
	}
	qsort(order, l->n, sizeof(*order), weighted_cmp);
	/* Longest processing time first, each into the least loaded bin. */
	for (size_t k = 0; k < l->n; k++) {
		unsigned best = 0;

		for (unsigned b = 1; b < count; b++) {
			if (load[b] < load[best])
				best = b;
		}
		bins[order[k].i] = best;
		load[best] += order[k].w;
	}
	free(order);
	free(load);
	return 0;
}

int suite_shard_select(struct suite_list *l, struct suite_shard sh, const struct jv *durations)
{
	unsigned *bins;
	size_t keep = 0;
	int r;

	if (sh.count == 0)
		return 0;
	bins = calloc(l->n ? l->n : 1, sizeof(*bins));
	if (!bins)
		return -ENOMEM;
	r = suite_shard_assign(l, sh.count, durations, bins);
	for (size_t i = 0; i < l->n && r == 0; i++) {
		if (bins[i] == sh.index - 1)
			l->v[keep++] = l->v[i];
		else
			entry_release(&l->v[i]);
	}
	if (r == 0)
		l->n = keep;
	free(bins);
	return r;
}

/* ---- parallel VMs ------------------------------------------------------------------------- */

long suite_default_jobs(long ncpu, long avail_mib, long vm_mib)
{
	long by_mem, j;

	if (ncpu < 1)
		ncpu = 1;
	if (vm_mib <= 0)
		vm_mib = VM_DEFAULT_MEMORY_MIB;
	by_mem = avail_mib / (vm_mib + SUITE_VM_OVERHEAD_MIB);
	j = ncpu < by_mem ? ncpu : by_mem;
	return j < 1 ? 1 : j;
}

int suite_host_capacity(long *ncpu, long *avail_mib)
{
	cpu_set_t set;
	char line[256];
	FILE *f;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int r = -ENOENT;

	/* A CI container's CPU set is what it may use, whatever the host has. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		n = CPU_COUNT(&set);
	*ncpu = n > 0 ? n : 1;
	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*avail_mib = (long)(kb / 1024);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

/* ---- one run's policies ------------------------------------------------------------------- */

bool suite_should_retry(enum run_verdict v, unsigned attempt, unsigned retries)
{
	return v == RUN_INFRA_ERROR && attempt <= retries;
}

/* "31.2s", or "20.040s" when one decimal would not show that it is over 'limit'. */
static void put_over(struct out *o, int64_t ms, int64_t limit)
{
	if ((ms + 50) / 100 * 100 <= limit)
		out_putf(o, "%lld.%03llds", (long long)(ms / 1000), (long long)(ms % 1000));
	else
		out_secs1(o, ms);
}

int suite_check_budgets(const struct scenario *s, const struct expect *e, struct it_error *err)
{
	size_t n = expect_nsteps(e);
	int64_t start = 0;

	if (n > s->nsteps)
		n = s->nsteps;
	for (size_t i = 0; i < n; i++) {
		const struct expect_step_result *st = expect_step(e, i);
		const struct scenario_step *sc = &s->steps[i];
		int64_t took;
		struct buf msg;
		struct out o;
		int r;

		if (st->status != EXPECT_STEP_PASSED)
			return 0;
		took = st->at_ms - start;
		start = st->at_ms;
		if (sc->kind != SCENARIO_STEP_EXPECT || sc->budget_ms <= 0 || took <= sc->budget_ms)
			continue;
		buf_init(&msg, 0);
		o = (struct out){&msg, 0};
		out_putf(&o, "step '%s' took ", st->name);
		put_over(&o, took, sc->budget_ms);
		out_puts(&o, ", over its ");
		out_duration(&o, sc->budget_ms);
		out_puts(&o, " budget");
		r = o.err ? o.err : -IT_EFAIL;
		it_error_set(err, r, "%s", o.err ? strerror(ENOMEM) : msg.data);
		if (!o.err)
			it_error_hint(err, "the budget is set at %s", sc->where);
		buf_release(&msg);
		return r;
	}
	return 0;
}

int suite_parse_percent(const char *s, double *out, struct it_error *err)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end && *end == '%')
		end++;
	if (errno || !end || end == s || *end || !isfinite(v) || v < 0 || v > 100000 ||
	    !((*s >= '0' && *s <= '9') || *s == '.'))
		return it_error_set(err, -IT_EUSAGE, "bad percentage '%s': give one like 20%%", s);
	*out = v / 100.0;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The last run of baseline with the same scenario, backend and accelerator as run. */
static const struct jv *baseline_run(const struct jv *baseline, const struct jv *run)
{
	const struct jv *runs = jv_get(baseline, "runs"), *found = NULL;
	const char *name = jv_str(jv_get(run, "scenario"));
	const char *accel = jv_str(jv_get(run, "accel"));
	const char *backend = jv_str(jv_get(run, "backend"));

	for (size_t i = 0; name && runs && runs->type == JV_ARRAY && i < runs->n; i++) {
		const struct jv *b = &runs->items[i];

		if (same_str(jv_str(jv_get(b, "scenario")), name) &&
		    same_str(jv_str(jv_get(b, "accel")), accel) &&
		    same_str(jv_str(jv_get(b, "backend")), backend))
			found = b;
	}
	return found;
}

static int regression(const char *what, const char *name, int64_t cur, int64_t base,
		      const struct suite_slowdown *lim, struct it_error *err)
{
	struct buf msg;
	struct out o;
	int r;

	buf_init(&msg, 0);
	o = (struct out){&msg, 0};
	if (name)
		out_putf(&o, "%s '%s' at ", what, name);
	else
		out_putf(&o, "%s at ", what);
	out_secs1(&o, cur);
	if (base > 0)
		out_putf(&o, ", %.0f%% slower than the baseline's ",
			 (double)(cur - base) * 100.0 / (double)base);
	else
		out_puts(&o, ", slower than the baseline's ");
	out_secs1(&o, base);
	out_putf(&o, " (limit +%g%%", lim->max_ratio * 100.0);
	if (lim->grace_ms > 0) {
		out_puts(&o, " and ");
		out_duration(&o, lim->grace_ms);
	}
	out_puts(&o, ")");
	r = o.err ? o.err : -IT_EFAIL;
	it_error_set(err, r, "%s", o.err ? strerror(ENOMEM) : msg.data);
	buf_release(&msg);
	return r;
}

static bool regressed(int64_t cur, int64_t base, const struct suite_slowdown *lim)
{
	return (double)cur > (double)base * (1.0 + lim->max_ratio) + (double)lim->grace_ms;
}

int suite_baseline_check(const struct jv *baseline, const struct jv *run,
			 const struct suite_slowdown *lim, bool *compared, struct it_error *err)
{
	const struct jv *base = baseline_run(baseline, run);
	const struct jv *ct = jv_get(run, "timings"), *bt, *csteps, *bsteps;
	int64_t c, b;

	if (compared)
		*compared = base != NULL;
	if (!base)
		return 0;
	bt = jv_get(base, "timings");
	if (jv_int(jv_get(ct, "first_console_byte_ms"), &c) &&
	    jv_int(jv_get(bt, "first_console_byte_ms"), &b) && regressed(c, b, lim))
		return regression("the first console byte", NULL, c, b, lim, err);
	csteps = jv_get(ct, "steps");
	bsteps = jv_get(bt, "steps");
	for (size_t i = 0; csteps && csteps->type == JV_OBJECT && i < csteps->n; i++) {
		const char *name = csteps->keys[i];

		if (jv_int(&csteps->items[i], &c) && jv_int(jv_get(bsteps, name), &b) &&
		    regressed(c, b, lim))
			return regression("step", name, c, b, lim, err);
	}
	return 0;
}

/* ---- shared builds ------------------------------------------------------------------------ */

static void key_str(struct out *o, const char *tag, const char *s)
{
	if (s)
		out_putf(o, "%s=%zu:%s\n", tag, strlen(s), s);
	else
		out_putf(o, "%s=null\n", tag);
}

static void key_list(struct out *o, const char *tag, const struct strlist *l)
{
	out_putf(o, "%s#%zu\n", tag, l->n);
	for (size_t i = 0; i < l->n; i++)
		key_str(o, tag, l->v[i]);
}

int suite_build_key(const struct build_config *c, char key[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct buf b;
	struct out o;
	int r;

	buf_init(&b, 0);
	o = (struct out){&b, 0};
	out_puts(&o, "initrd-test build key 1\n");
	key_list(&o, "repo", &c->repos);
	key_str(&o, "arch", c->arch);
	key_str(&o, "keys", c->keys_dir);
	out_putf(&o, "untrusted=%d\n", c->allow_untrusted);
	key_list(&o, "package", &c->packages);
	for (size_t i = 0; i < c->nservices; i++) {
		key_str(&o, "service.runlevel", c->services[i].runlevel);
		key_str(&o, "service.name", c->services[i].name);
	}
	for (size_t i = 0; i < c->nifaces; i++) {
		key_str(&o, "iface.name", c->ifaces[i].name);
		key_str(&o, "iface.method", c->ifaces[i].method);
		key_str(&o, "iface.address", c->ifaces[i].address);
		key_str(&o, "iface.gateway", c->ifaces[i].gateway);
		out_putf(&o, "iface.auto=%d\n", c->ifaces[i].autostart);
	}
	for (size_t i = 0; i < c->nusers; i++) {
		const struct user_spec *u = &c->users[i];

		key_str(&o, "user.name", u->name);
		out_putf(&o, "user.uid=%ld\n", u->uid);
		key_str(&o, "user.password", u->password_hash);
		key_str(&o, "user.shell", u->shell);
		key_str(&o, "user.home", u->home);
		key_list(&o, "user.group", &u->groups);
		key_str(&o, "user.keys", u->authorized_keys);
	}
	key_str(&o, "hostname", c->hostname);
	key_list(&o, "console", &c->consoles);
	key_str(&o, "init", c->init);
	key_str(&o, "root-password", c->root_password_hash);
	key_list(&o, "overlay", &c->overlays);
	key_str(&o, "kernel.package", c->kernel_package);
	key_str(&o, "kernel.image", c->kernel_image);
	key_str(&o, "kernel.modules", c->modules_dir);
	key_list(&o, "module", &c->modules);
	out_putf(&o, "compression=%d\nepoch=%lld\n", (int)c->compression,
		 (long long)c->source_date_epoch);
	r = o.err;
	if (r == 0 && EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) != 1)
		r = -ENOMEM;
	for (unsigned i = 0; r == 0 && i < 32; i++)
		snprintf(key + 2 * i, 3, "%02x", md[i]);
	buf_release(&b);
	return r;
}

/* ---- artifacts ---------------------------------------------------------------------------- */

/* Copy a file whole or not at all (a temp file renamed over dst). */
static int copy_file(const char *src, const char *dst, struct it_error *err)
{
	char tmp[PATH_MAX], chunk[65536];
	int in = -1, fd = -1, r = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return it_error_set(err, -errno, "cannot read '%s': %s", src, strerror(errno));
	fd = open_tmp_beside(dst, tmp, sizeof(tmp));
	if (fd < 0) {
		r = it_error_set(err, fd, "cannot write '%s': %s", dst, it_strerror(fd));
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, chunk, sizeof(chunk)), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = it_error_set(err, -errno, "cannot read '%s': %s", src, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		while (w < n && r == 0) {
			ssize_t k = write(fd, chunk + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				r = it_error_set(err, -errno, "cannot write '%s': %s", dst,
						 strerror(errno));
			else
				w += k;
		}
		if (r < 0)
			break;
	}
	if (r == 0 && close(fd) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", dst, strerror(errno));
	else if (r < 0)
		close(fd);
	fd = -1;
	if (r == 0 && rename(tmp, dst) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", dst, strerror(errno));
	if (r < 0)
		unlink(tmp);
out:
	if (in >= 0)
		close(in);
	return r;
}

static int copy_scenario_files(const char *dest, const struct strlist *files, struct it_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX], name[NAME_MAX + 1];
	struct buf index;
	int r;

	if (path_join(dir, sizeof(dir), dest, "scenario") < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/scenario': name too long", dest);
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", dir, it_strerror(r));
	buf_init(&index, 0);
	for (size_t i = 0; i < files->n && r == 0; i++) {
		char parent[PATH_MAX], *slash;
		const char *base = strrchr(files->v[i], '/');

		/* "1-networking_scenario": the directory says which scenario file it was. */
		snprintf(parent, sizeof(parent), "%s", files->v[i]);
		slash = strrchr(parent, '/');
		if (slash) {
			*slash = '\0';
			slash = strrchr(parent, '/');
		}
		if (snprintf(name, sizeof(name), "%zu-%s%s%s", i + 1,
			     base ? (slash ? slash + 1 : parent) : "", base ? "_" : "",
			     base ? base + 1 : files->v[i]) >= (int)sizeof(name) ||
		    path_join(path, sizeof(path), dir, name) < 0)
			r = it_error_set(err, -ENAMETOOLONG, "'%s/%s': name too long", dir, name);
		if (r == 0)
			r = copy_file(files->v[i], path, err);
		if (r == 0)
			r = buf_addf(&index, "%s\t%s\n", name, files->v[i]);
	}
	if (r == 0 && path_join(path, sizeof(path), dir, "index.txt") == 0) {
		r = write_file_atomic(path, index.data, index.len, 0644);
		if (r < 0)
			it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
	}
	buf_release(&index);
	return r;
}

static int write_listing(const char *initrd, const char *dest, struct it_error *err)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f = NULL;
	int fd, r;

	if (path_join(path, sizeof(path), dest, "initrd.list") < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/initrd.list': name too long", dest);
	fd = open_tmp_beside(path, tmp, sizeof(tmp));
	if (fd < 0)
		return it_error_set(err, fd, "cannot write '%s': %s", path, it_strerror(fd));
	f = fdopen(fd, "w");
	if (!f) {
		r = it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return r;
	}
	r = builder_list_initrd(initrd, f, BUILDER_LIST_LONG, NULL, err);
	if (fclose(f) != 0 && r == 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	if (r == 0 && rename(tmp, path) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	if (r < 0)
		unlink(tmp);
	return r;
}

int suite_collect_artifacts(const char *run_dir, const char *dest, const struct strlist *files,
			    const char *initrd, struct it_error *err)
{
	static const char *const logs[] = {"console.raw", "console.log", "command.txt",
					   "plan.txt",	  "result.json", "run.log"};
	char src[PATH_MAX], dst[PATH_MAX];
	int r;

	r = rm_rf(dest);
	if (r == 0)
		r = mkdir_p(dest, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot create '%s': %s", dest, it_strerror(r));
	for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
		if (path_join(src, sizeof(src), run_dir, logs[i]) < 0 ||
		    path_join(dst, sizeof(dst), dest, logs[i]) < 0)
			return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", run_dir);
		if (!is_file(src))
			continue;
		r = copy_file(src, dst, err);
		if (r < 0)
			return r;
	}
	if (files && files->n) {
		r = copy_scenario_files(dest, files, err);
		if (r < 0)
			return r;
	}
	if (initrd && is_file(initrd))
		r = write_listing(initrd, dest, err);
	return r;
}

/* ---- merged reports ----------------------------------------------------------------------- */

#define REPORT_FORMAT "initrd-test-report"

void suite_report_init(struct suite_report *r)
{
	memset(r, 0, sizeof(*r));
	r->runs.type = JV_ARRAY;
}

void suite_report_release(struct suite_report *r)
{
	jv_release(&r->runs);
	suite_report_init(r);
}

int suite_report_add_run(struct suite_report *r, const struct jv *run)
{
	struct jv copy;
	int ret = jv_copy(&copy, run);

	if (ret == 0)
		ret = jv_push(&r->runs, &copy);
	jv_release(&copy);
	return ret;
}

int suite_report_add_text(struct suite_report *r, struct blob text, const char *name,
			  struct it_error *err)
{
	struct jv doc;
	const struct jv *runs;
	const char *format;
	int64_t version;
	int ret;

	ret = jv_parse(text, name, &doc, err);
	if (ret < 0)
		return ret;
	format = jv_str(jv_get(&doc, "format"));
	runs = jv_get(&doc, "runs");
	if (!format || strcmp(format, REPORT_FORMAT) || !runs || runs->type != JV_ARRAY) {
		ret = it_error_set(err, -IT_EFORMAT,
				   "'%s' is not an initrd-test report (no \"format\": \"%s\" with "
				   "\"runs\")",
				   name, REPORT_FORMAT);
		it_error_hint(err, "give the JSON of 'initrd-test run --json FILE'");
		goto out;
	}
	if (!jv_int(jv_get(&doc, "version"), &version) || version != 1) {
		ret = it_error_set(err, -IT_EFORMAT, "'%s': unsupported report version", name);
		goto out;
	}
	for (size_t i = 0; i < runs->n; i++) {
		const struct jv *run = &runs->items[i];

		if (!jv_str(jv_get(run, "scenario")) || !jv_str(jv_get(run, "verdict"))) {
			ret = it_error_set(err, -IT_EFORMAT,
					   "'%s': run %zu has no \"scenario\" or no \"verdict\"",
					   name, i + 1);
			goto out;
		}
	}
	for (size_t i = 0; i < runs->n && ret == 0; i++)
		ret = suite_report_add_run(r, &runs->items[i]);
	if (ret < 0)
		it_error_set(err, ret, "cannot merge '%s': %s", name, it_strerror(ret));
out:
	jv_release(&doc);
	return ret;
}

int suite_report_add_file(struct suite_report *r, const char *path, struct it_error *err)
{
	struct buf b;
	int ret;

	buf_init(&b, JV_MAX_BYTES);
	ret = buf_read_file(&b, path);
	if (ret < 0) {
		it_error_set(err, ret, "cannot read report '%s': %s", path,
			     ret == -IT_ELIMIT ? "larger than 64 MiB" : it_strerror(ret));
		buf_release(&b);
		return ret;
	}
	ret = suite_report_add_text(r, buf_blob(&b), path, err);
	buf_release(&b);
	return ret;
}

static const char *verdict_of(const struct jv *run)
{
	const char *v = jv_str(jv_get(run, "verdict"));

	return v ? v : "infra_error";
}

static bool is_verdict(const struct jv *run, const char *v)
{
	return !strcmp(verdict_of(run), v);
}

static bool is_passed(const struct jv *run)
{
	return is_verdict(run, "passed");
}

static bool is_flaky(const struct jv *run)
{
	return jv_bool(jv_get(run, "flaky"), false);
}

void suite_report_count(const struct suite_report *r, struct suite_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < r->runs.n; i++) {
		const struct jv *run = &r->runs.items[i];

		c->total++;
		if (is_passed(run)) {
			c->passed++;
			c->flaky += is_flaky(run);
		} else if (is_verdict(run, "failed")) {
			c->failed++;
		} else if (is_verdict(run, "crashed")) {
			c->crashed++;
		} else if (is_verdict(run, "timed_out")) {
			c->timed_out++;
		} else if (is_verdict(run, "usage_error")) {
			c->usage++;
		} else if (is_verdict(run, "interrupted")) {
			c->interrupted++;
		} else {
			c->infra++;
		}
	}
}

int suite_report_exit_code(const struct suite_report *r)
{
	struct suite_counts c;

	suite_report_count(r, &c);
	if (c.interrupted)
		return run_verdict_exit(RUN_INTERRUPTED);
	if (c.failed || c.crashed)
		return run_verdict_exit(RUN_FAILED);
	if (c.timed_out)
		return run_verdict_exit(RUN_TIMED_OUT);
	if (c.usage)
		return run_verdict_exit(RUN_USAGE_ERROR);
	if (c.infra)
		return run_verdict_exit(RUN_INFRA_ERROR);
	return run_verdict_exit(RUN_PASSED);
}

static void put_count(struct out *o, size_t n, const char *what)
{
	if (n)
		out_putf(o, ", %zu %s", n, what);
}

int suite_report_totals(const struct suite_report *r, struct buf *out)
{
	struct out o = {out, 0};
	struct suite_counts c;

	suite_report_count(r, &c);
	out_putf(&o, "%zu scenario%s: %zu passed", c.total, c.total == 1 ? "" : "s", c.passed);
	if (c.flaky)
		out_putf(&o, " (%zu flaky)", c.flaky);
	put_count(&o, c.failed, "failed");
	put_count(&o, c.crashed, "crashed");
	put_count(&o, c.timed_out, "timed out");
	put_count(&o, c.infra, c.infra == 1 ? "infrastructure error" : "infrastructure errors");
	put_count(&o, c.usage, c.usage == 1 ? "usage error" : "usage errors");
	put_count(&o, c.interrupted, "interrupted");
	return o.err;
}

int suite_report_summary(const struct suite_report *r, bool failures_only, struct buf *out)
{
	struct out o = {out, 0};
	int ret;

	for (size_t i = 0; i < r->runs.n; i++) {
		const struct jv *run = &r->runs.items[i];
		const char *msg = jv_str(jv_get(run, "message"));
		const char *hint = jv_str(jv_get(run, "hint"));
		const char *art = jv_str(jv_get(run, "artifacts"));

		if (failures_only && is_passed(run))
			continue;
		if (msg)
			out_puts(&o, msg);
		else
			out_putf(&o, "%s %s", verdict_of(run), jv_str(jv_get(run, "scenario")));
		if (is_flaky(run) && (!msg || !strstr(msg, "flaky")))
			out_puts(&o, " (flaky)");
		out_puts(&o, "\n");
		if (is_passed(run))
			continue;
		if (hint)
			out_putf(&o, "  hint: %s\n", hint);
		if (art)
			out_putf(&o, "  artifacts: %s\n", art);
	}
	if (o.err)
		return o.err;
	ret = suite_report_totals(r, out);
	if (ret == 0)
		ret = buf_addch(out, '\n');
	return ret;
}

static void xml_property_int(struct out *o, const char *name, const struct jv *v)
{
	int64_t n;
	char num[32];

	if (!jv_int(v, &n) || n < 0)
		return;
	snprintf(num, sizeof(num), "%lld", (long long)n);
	out_xml_property(o, ESC_XML_ATTR, name, num);
}

/* "5.123": JUnit's seconds; 0 when unknown. */
static void put_junit_time(struct out *o, const struct jv *ms_value)
{
	int64_t ms = 0;

	if (!jv_int(ms_value, &ms))
		ms = 0;
	out_secs3(o, ms);
}

static bool is_error_verdict(const struct jv *run)
{
	return is_verdict(run, "infra_error") || is_verdict(run, "usage_error") ||
	       is_verdict(run, "interrupted") ||
	       !(is_passed(run) || is_verdict(run, "failed") || is_verdict(run, "crashed") ||
		 is_verdict(run, "timed_out"));
}

static const char *failure_type(const struct jv *run)
{
	static const struct {
		const char *why, *type;
	} types[] = {
	    {"fail_pattern", "fail-pattern"}, {"step_timeout", "step-timeout"},
	    {"run_timeout", "run-timeout"},   {"eof", "console-closed"},
	    {"output_full", "output-full"},   {"bad_pattern", "bad-pattern"},
	};
	const char *why = jv_str(jv_get(jv_get(run, "outcome"), "why"));

	if (is_verdict(run, "crashed"))
		return "crash";
	if (why && !strcmp(why, "eof") && jv_bool(jv_get(run, "replay"), false))
		return "log-ended";
	for (size_t i = 0; why && i < ARRAY_SIZE(types); i++) {
		if (!strcmp(why, types[i].why))
			return types[i].type;
	}
	return verdict_of(run);
}

/* <failure> or <error>: the verdict line as message; the detail as text. */
static void junit_problem(struct out *o, const struct jv *run, const struct jv *step)
{
	bool error = is_error_verdict(run);
	const char *msg = jv_str(jv_get(run, "message"));
	const char *hint = jv_str(jv_get(run, "hint"));
	const char *line = jv_str(jv_get(jv_get(run, "outcome"), "line"));
	const char *art = jv_str(jv_get(run, "artifacts"));
	int64_t timeout;

	out_putf(o, "      <%s", error ? "error" : "failure");
	out_xml_attr(o, ESC_XML_ATTR, "type", error ? verdict_of(run) : failure_type(run));
	out_xml_attr(o, ESC_XML_ATTR, "message", msg ? msg : verdict_of(run));
	out_puts(o, ">");
	out_esc(o, ESC_XML_TEXT, msg ? msg : verdict_of(run));
	if (hint) {
		out_puts(o, "\nhint: ");
		out_esc(o, ESC_XML_TEXT, hint);
	}
	if (step) {
		const char *kind = jv_str(jv_get(step, "kind"));
		bool send = kind && !strcmp(kind, "send");
		const char *pat = jv_str(jv_get(step, send ? "text" : "pattern"));

		if (pat) {
			out_puts(o, send ? "\ntext: " : "\npattern: ");
			out_esc(o, ESC_XML_TEXT, pat);
		}
		if (jv_int(jv_get(step, "timeout_ms"), &timeout) && timeout > 0) {
			struct buf d;
			struct out t;

			buf_init(&d, 0);
			t = (struct out){&d, 0};
			out_duration(&t, timeout);
			out_puts(o, "\ntimeout: ");
			out_esc(o, ESC_XML_TEXT, t.err ? "?" : d.data);
			buf_release(&d);
		}
	}
	if (line) {
		out_puts(o, "\nlast console line: ");
		out_esc(o, ESC_XML_TEXT, line);
	}
	if (art) {
		out_puts(o, "\nartifacts: ");
		out_esc(o, ESC_XML_TEXT, art);
	}
	out_putf(o, "</%s>\n", error ? "error" : "failure");
}

static void junit_testcase_open(struct out *o, const char *name, const char *classname,
				const struct jv *ms)
{
	out_puts(o, "    <testcase");
	out_xml_attr(o, ESC_XML_ATTR, "name", name);
	out_xml_attr(o, ESC_XML_ATTR, "classname", classname);
	out_puts(o, " time=\"");
	put_junit_time(o, ms);
	out_puts(o, "\"");
}

static void junit_suite(struct out *o, const struct jv *run, size_t id)
{
	const char *name = jv_str(jv_get(run, "scenario"));
	const char *started = jv_str(jv_get(run, "started_at"));
	const char *host = jv_str(jv_get(run, "hostname"));
	const struct jv *steps = jv_get(run, "steps"), *timings = jv_get(run, "timings");
	const struct jv *err = jv_get(run, "error");
	size_t n = steps && steps->type == JV_ARRAY ? steps->n : 0;
	size_t failures = 0, errors = 0, skipped = 0;
	bool attached = is_passed(run);
	int64_t attempts = 1;

	for (size_t i = 0; i < n; i++) {
		const char *st = jv_str(jv_get(&steps->items[i], "status"));

		if (!st)
			continue;
		if (!strcmp(st, "failed") || !strcmp(st, "timed_out")) {
			failures++;
			attached = true;
		} else if (!strcmp(st, "error")) {
			errors++;
			attached = true;
		} else if (!strcmp(st, "skipped")) {
			skipped++;
		}
	}
	if (!attached)
		*(is_error_verdict(run) ? &errors : &failures) += 1;

	out_puts(o, "  <testsuite");
	out_xml_attr(o, ESC_XML_ATTR, "name", name);
	out_puts(o, " package=\"initrd-test\"");
	out_putf(o, " id=\"%zu\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"", id,
		 n + !attached, failures, errors, skipped);
	out_puts(o, " time=\"");
	put_junit_time(o, jv_get(timings, "total_ms"));
	out_puts(o, "\"");
	if (started && strlen(started) >= 19) {
		/* JUnit's timestamp has no zone and no fraction: "2024-05-06T07:08:09". */
		char ts[20];

		memcpy(ts, started, 19);
		ts[19] = '\0';
		out_xml_attr(o, ESC_XML_ATTR, "timestamp", ts);
	}
	out_xml_attr(o, ESC_XML_ATTR, "hostname", host && host[0] ? host : "localhost");
	out_puts(o, ">\n    <properties>\n");
	out_xml_property(o, ESC_XML_ATTR, "scenario", jv_str(jv_get(run, "path")));
	out_xml_property(o, ESC_XML_ATTR, "verdict", verdict_of(run));
	out_xml_property(o, ESC_XML_ATTR, "backend", jv_str(jv_get(run, "backend")));
	out_xml_property(o, ESC_XML_ATTR, "accel", jv_str(jv_get(run, "accel")));
	out_xml_property(o, ESC_XML_ATTR, "command", jv_str(jv_get(run, "command")));
	out_xml_property(o, ESC_XML_ATTR, "console.raw",
			 jv_str(jv_get(jv_get(run, "console"), "raw")));
	out_xml_property(o, ESC_XML_ATTR, "console.log",
			 jv_str(jv_get(jv_get(run, "console"), "log")));
	xml_property_int(o, "first_console_byte_ms", jv_get(timings, "first_console_byte_ms"));
	if (jv_int(jv_get(run, "attempts"), &attempts) && attempts > 1)
		xml_property_int(o, "attempts", jv_get(run, "attempts"));
	if (is_flaky(run))
		out_xml_property(o, ESC_XML_ATTR, "flaky", "true");
	out_xml_property(o, ESC_XML_ATTR, "shard", jv_str(jv_get(run, "shard")));
	out_xml_property(o, ESC_XML_ATTR, "artifacts", jv_str(jv_get(run, "artifacts")));
	out_puts(o, "    </properties>\n");

	for (size_t i = 0; i < n; i++) {
		const struct jv *step = &steps->items[i];
		const char *st = jv_str(jv_get(step, "status"));
		const char *sname = jv_str(jv_get(step, "name"));

		junit_testcase_open(o, sname ? sname : "step", name, jv_get(step, "duration_ms"));
		if (!st || !strcmp(st, "passed")) {
			out_puts(o, "/>\n");
			continue;
		}
		out_puts(o, ">\n");
		if (!strcmp(st, "skipped")) {
			out_puts(o, "      <skipped");
			out_xml_attr(o, ESC_XML_ATTR, "message",
				     "not reached: the run ended before this step");
			out_puts(o, "/>\n");
		} else {
			junit_problem(o, run, step);
		}
		out_puts(o, "    </testcase>\n");
	}
	if (!attached) {
		/* Nothing to hang the problem on: no steps ran, or every step passed. */
		junit_testcase_open(o, "run", name, jv_get(timings, "total_ms"));
		out_puts(o, ">\n");
		junit_problem(o, run, NULL);
		out_puts(o, "    </testcase>\n");
	}
	out_puts(o, "    <system-out>");
	out_esc(o, ESC_XML_TEXT, jv_str(jv_get(run, "console_tail")));
	out_puts(o, "</system-out>\n    <system-err>");
	if (jv_str(jv_get(err, "message"))) {
		out_esc(o, ESC_XML_TEXT, jv_str(jv_get(err, "message")));
		if (jv_str(jv_get(err, "hint"))) {
			out_puts(o, "\nhint: ");
			out_esc(o, ESC_XML_TEXT, jv_str(jv_get(err, "hint")));
		}
	}
	out_puts(o, "</system-err>\n  </testsuite>\n");
}

int suite_report_junit(const struct suite_report *r, struct buf *out)
{
	struct out o = {out, 0};
	struct suite_counts c;
	int64_t total = 0;

	suite_report_count(r, &c);
	for (size_t i = 0; i < r->runs.n; i++) {
		int64_t ms;

		if (jv_int(jv_get(jv_get(&r->runs.items[i], "timings"), "total_ms"), &ms) && ms > 0)
			total += ms;
	}
	out_puts(&o,
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"initrd-test\"");
	out_putf(&o, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%lld.%03lld\">\n",
		 c.total, c.failed + c.crashed + c.timed_out, c.infra + c.usage + c.interrupted,
		 (long long)(total / 1000), (long long)(total % 1000));
	for (size_t i = 0; i < r->runs.n; i++)
		junit_suite(&o, &r->runs.items[i], i);
	out_puts(&o, "</testsuites>\n");
	return o.err;
}

int suite_report_json(const struct suite_report *r, struct buf *out)
{
	struct out o = {out, 0};

	out_puts(&o, "{\n  \"format\": \"" REPORT_FORMAT "\",\n  \"version\": 1,\n  \"runs\": ");
	jw_value(&o, &r->runs, 2);
	out_puts(&o, "\n}\n");
	return o.err;
}

static int write_report(int (*fn)(const struct suite_report *, struct buf *), const char *what,
			const struct suite_report *r, const char *path, struct it_error *err)
{
	struct buf b;
	int ret;

	buf_init(&b, 0);
	ret = fn(r, &b);
	if (ret == 0)
		ret = write_file_atomic(path, b.data, b.len, 0644);
	if (ret < 0) {
		it_error_set(err, ret, "cannot write %s report '%s': %s", what, path,
			     it_strerror(ret));
		it_error_hint(err, "check that its directory exists and is writable");
	}
	buf_release(&b);
	return ret;
}

int suite_report_write_junit(const struct suite_report *r, const char *path, struct it_error *err)
{
	return write_report(suite_report_junit, "JUnit", r, path, err);
}

int suite_report_write_json(const struct suite_report *r, const char *path, struct it_error *err)
{
	return write_report(suite_report_json, "JSON", r, path, err);
}
