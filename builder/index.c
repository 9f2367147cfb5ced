// SPDX-License-Identifier: MIT
/* Parse APKINDEX text into an arena-backed package database with name and provider tables. */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "builder/internal.h"

/* ---- arena: every record, dependency array and name lives here until apk_db_release() ---- */

struct apk_arena_chunk {
	struct apk_arena_chunk *prev;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

#define ARENA_CHUNK (256 * 1024)

struct arena_mark {
	struct apk_arena_chunk *chunk;
	size_t used;
};

/*
 * Zeroed memory of at least *bytes (the size it got returned in *bytes):
 * small pieces from the heap, large ones mapped with MAP_POPULATE. Faulting
 * pages in one by one costs more than the parsing itself on some virtual
 * machines, and the size of a load is known in advance (see presize()).
 */
#define MAP_MIN (256 * 1024)

static void *mem_alloc(size_t *bytes)
{
	void *p;

	if (*bytes < MAP_MIN)
		return calloc(1, *bytes);
	*bytes = (*bytes + 4095) & ~(size_t)4095;
	p = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		 -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void mem_free(void *p, size_t bytes)
{
	if (p && bytes < MAP_MIN)
		free(p);
	else if (p)
		munmap(p, bytes);
}

static struct apk_arena_chunk *chunk_new(struct apk_db *db, size_t cap)
{
	size_t bytes = sizeof(struct apk_arena_chunk) + cap;
	struct apk_arena_chunk *c = mem_alloc(&bytes);

	if (!c)
		return NULL;
	c->prev = db->arena;
	c->used = 0;
	c->cap = bytes - sizeof(*c);
	db->arena = c;
	return c;
}

static void chunk_free(struct apk_arena_chunk *c)
{
	mem_free(c, sizeof(*c) + c->cap);
}

static void *arena_alloc(struct apk_db *db, size_t n)
{
	struct apk_arena_chunk *c = db->arena;
	size_t want = (n + 7) & ~(size_t)7;

	if (!c || c->cap - c->used < want) {
		c = chunk_new(db, want > ARENA_CHUNK ? want : ARENA_CHUNK);
		if (!c)
			return NULL;
	}
	c->used += want;
	return c->data + c->used - want;
}

/* Make room for about 'n' more bytes in one piece. */
static int arena_reserve(struct apk_db *db, size_t n)
{
	if (db->arena && db->arena->cap - db->arena->used >= n)
		return 0;
	return chunk_new(db, n) ? 0 : -ENOMEM;
}

/*
 * Arrays that grow with the index (tables, the names and packages arrays,
 * provider pools) come from mem_alloc() too, zeroed, with their size kept
 * in front of them.
 */
#define BIG_HDR 16

static void *big_alloc(size_t bytes)
{
	size_t total = bytes + BIG_HDR;
	unsigned char *p = mem_alloc(&total);

	if (!p)
		return NULL;
	memcpy(p, &total, sizeof(total));
	return p + BIG_HDR;
}

static size_t big_cap(const void *p)
{
	size_t total;

	memcpy(&total, (const unsigned char *)p - BIG_HDR, sizeof(total));
	return total - BIG_HDR;
}

static void big_free(void *p)
{
	if (p)
		mem_free((unsigned char *)p - BIG_HDR, big_cap(p) + BIG_HDR);
}

/* Grow to at least 'bytes', keeping the contents. NULL (old array untouched) on failure. */
static void *big_grow(void *p, size_t bytes)
{
	void *n;

	if (p && big_cap(p) >= bytes)
		return p;
	n = big_alloc(bytes);
	if (!n)
		return NULL;
	if (p) {
		memcpy(n, p, big_cap(p));
		big_free(p);
	}
	return n;
}

static struct arena_mark arena_mark(const struct apk_db *db)
{
	return (struct arena_mark){db->arena, db->arena ? db->arena->used : 0};
}

static void arena_rollback(struct apk_db *db, struct arena_mark m)
{
	while (db->arena && db->arena != m.chunk) {
		struct apk_arena_chunk *prev = db->arena->prev;

		chunk_free(db->arena);
		db->arena = prev;
	}
	if (db->arena)
		db->arena->used = m.used;
}

/* ---- hash tables ---- */

/*
 * apk's name hash, murmur3_32 with seed 5381: names are looked up with it,
 * and apk's tables (20000 buckets) iterate in its order, which decides the
 * order of install_if packages in apk's plans.
 */
static uint32_t rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t hash_bytes(const char *p, size_t n)
{
	const unsigned char *key = (const unsigned char *)p;
	uint32_t h = 5381, k, len = (uint32_t)n;

	for (uint32_t i = 0; i < len / 4; i++, key += 4) {
		k = (uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16 |
		    (uint32_t)key[3] << 24;
		k = rotl32(k * 0xcc9e2d51, 15) * 0x1b873593;
		h ^= k;
		h = rotl32(h, 13) * 5 + 0xe6546b64;
	}
	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)key[2] << 16;
		/* fallthrough */
	case 2:
		k ^= (uint32_t)key[1] << 8;
		/* fallthrough */
	case 1:
		k ^= key[0];
		h ^= rotl32(k * 0xcc9e2d51, 15) * 0x1b873593;
		break;
	default:
		break;
	}
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

#define APK_NAME_BUCKETS 20000

static uint32_t csum_hash_of(const struct apk_pkg *pkg)
{
	uint32_t h;

	memcpy(&h, pkg->csum, sizeof(h));
	return h;
}

/*
 * Open-addressing tables of 64-bit slots: the hash in the high half (so
 * most mismatches are rejected without touching the entry) and id + 1 in
 * the low half; 0 is an empty slot. The name table keeps the entry itself.
 */
static void table_put(uint64_t *table, uint32_t size, uint32_t h, uint32_t id)
{
	uint32_t i = h & (size - 1);

	while (table[i])
		i = (i + 1) & (size - 1);
	table[i] = (uint64_t)h << 32 | (id + 1);
}

static void name_put(struct apk_name_slot *table, uint32_t size, struct apk_name *n)
{
	uint32_t i = n->hash & (size - 1);

	while (table[i].name)
		i = (i + 1) & (size - 1);
	table[i] = (struct apk_name_slot){n->hash, n};
}

static int name_table_rebuild(struct apk_db *db, uint32_t size)
{
	struct apk_name_slot *t = big_alloc((size_t)size * sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < db->nnames; i++)
		name_put(t, size, db->names[i]);
	big_free(db->name_hash);
	db->name_hash = t;
	db->name_hash_size = size;
	return 0;
}

static int csum_table_rebuild(struct apk_db *db, uint32_t size)
{
	uint64_t *t = big_alloc((size_t)size * sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < db->npkgs; i++)
		if (db->pkgs[i]->csum_kind != APK_CHECKSUM_NONE)
			table_put(t, size, csum_hash_of(db->pkgs[i]), i);
	big_free(db->csum_hash);
	db->csum_hash = t;
	db->csum_hash_size = size;
	return 0;
}

static struct apk_name *name_lookup(const struct apk_db *db, struct blob name, uint32_t h)
{
	uint32_t mask = db->name_hash_size - 1;

	if (!db->name_hash_size)
		return NULL;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		const struct apk_name_slot *slot = &db->name_hash[i];

		if (!slot->name)
			return NULL;
		if (slot->hash == h && blob_eq(slot->name->name, name))
			return slot->name;
	}
}

static int names_reserve(struct apk_db *db, size_t n)
{
	struct apk_name **v;

	if (n <= db->names_alloc)
		return 0;
	if (n < (size_t)db->names_alloc * 2)
		n = (size_t)db->names_alloc * 2;
	v = big_grow(db->names, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	db->names = v;
	db->names_alloc = (uint32_t)(big_cap(v) / sizeof(*v));
	return 0;
}

static int pkgs_reserve(struct apk_db *db, size_t n)
{
	struct apk_pkg **v;

	if (n <= db->pkgs_alloc)
		return 0;
	if (n < (size_t)db->pkgs_alloc * 2)
		n = (size_t)db->pkgs_alloc * 2;
	v = big_grow(db->pkgs, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	db->pkgs = v;
	db->pkgs_alloc = (uint32_t)(big_cap(v) / sizeof(*v));
	return 0;
}

static uint32_t pow2_at_least(size_t n)
{
	uint32_t p = 64;

	while (p < n && p < (1u << 31))
		p *= 2;
	return p;
}

/* Find or create a name (its bytes are copied). NULL on allocation failure. */
static struct apk_name *name_get(struct apk_db *db, struct blob name)
{
	uint32_t h = hash_bytes(name.ptr, name.len);
	struct apk_name *n = name_lookup(db, name, h);

	if (n)
		return n;
	if ((db->nnames + 1) * 2 > db->name_hash_size &&
	    name_table_rebuild(db, db->name_hash_size ? db->name_hash_size * 2 : 4096) < 0)
		return NULL;
	if (db->nnames == db->names_alloc && names_reserve(db, db->nnames + 1) < 0)
		return NULL;
	/* The bytes go right after the entry: one cache line for lookups. */
	n = arena_alloc(db, sizeof(*n) + name.len + 1);
	if (!n)
		return NULL;
	memcpy(n + 1, name.ptr, name.len);
	((char *)(n + 1))[name.len] = '\0';
	*n = (struct apk_name){
	    .name = {name.len, (const char *)(n + 1)}, .id = db->nnames, .hash = h};
	db->names[db->nnames++] = n;
	name_put(db->name_hash, db->name_hash_size, n);
	return n;
}

const struct apk_name *apk_db_find_name(const struct apk_db *db, struct blob name)
{
	return name_lookup(db, name, hash_bytes(name.ptr, name.len));
}

static struct apk_pkg *csum_lookup(const struct apk_db *db, const struct apk_pkg *pkg)
{
	uint32_t mask = db->csum_hash_size - 1, h = csum_hash_of(pkg);

	if (!db->csum_hash_size)
		return NULL;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		uint64_t slot = db->csum_hash[i];
		struct apk_pkg *p;

		if (!slot)
			return NULL;
		if ((uint32_t)(slot >> 32) != h)
			continue;
		p = db->pkgs[(uint32_t)slot - 1];
		if (p->csum_kind == pkg->csum_kind &&
		    memcmp(p->csum, pkg->csum, pkg->csum_kind) == 0)
			return p;
	}
}

/* ---- life cycle ---- */

void apk_db_init(struct apk_db *db)
{
	memset(db, 0, sizeof(*db));
	db->tags[0] = (char *)"";
	db->ntags = 1;
}

/* Free a repository's text: the caller's malloc'ed buffer, or our mem_alloc() copy. */
static void repo_text_free(struct apk_repo *repo)
{
	if (repo->text_alloc)
		mem_free(repo->text, repo->text_alloc);
	else
		free(repo->text);
	repo->text = NULL;
}

void apk_db_release(struct apk_db *db)
{
	for (unsigned i = 1; i < db->ntags; i++)
		free(db->tags[i]);
	for (unsigned i = 0; i < db->nrepos; i++) {
		free(db->repos[i].label);
		free(db->repos[i].source);
		repo_text_free(&db->repos[i]);
	}
	arena_rollback(db, (struct arena_mark){NULL, 0});
	big_free(db->names);
	big_free(db->pkgs);
	big_free((void *)db->iif_pkgs);
	big_free(db->name_hash);
	big_free(db->csum_hash);
	big_free(db->provider_pool);
	big_free((void *)db->rinstall_pool);
	free(db->scratch);
	apk_db_init(db);
}

/* ---- dependencies ---- */

static bool is_op_char(char c)
{
	return c == '<' || c == '>' || c == '=' || c == '~';
}

bool apk_dep_split(struct blob text, struct blob *name, int *op, struct blob *version,
		   bool *conflict)
{
	size_t i = 0, j;

	*conflict = false;
	if (text.len && text.ptr[0] == '!') {
		*conflict = true;
		i = 1;
	}
	for (j = i; j < text.len && !is_op_char(text.ptr[j]); j++)
		;
	*name = (struct blob){j - i, text.ptr + i};
	if (name->len == 0)
		return false;
	if (j == text.len) {
		*op = APK_DEPMASK_ANY;
		*version = BLOB_NULL;
		return true;
	}
	for (i = j; i < text.len && is_op_char(text.ptr[i]); i++)
		;
	*op = apk_version_op_parse((struct blob){i - j, text.ptr + j});
	*version = (struct blob){text.len - i, text.ptr + i};
	if (version->len == 0 || *op == 0)
		return false;
	/* A checksum constraint ("><Q1...") carries no version to validate. */
	if ((*op & APK_DEPMASK_CHECKSUM) != APK_DEPMASK_CHECKSUM && !apk_version_validate(*version))
		return false;
	return true;
}

static bool csum_text_matches(struct blob want, const struct apk_pkg *pkg)
{
	struct buf b;
	bool eq;

	buf_init(&b, 128);
	eq = apk_pkg_format_csum(pkg, &b) == 0 && b.len > 0 && blob_eq(want, buf_blob(&b));
	buf_release(&b);
	return eq;
}

bool apk_dep_satisfied_by(const struct apk_dep *dep, const struct apk_provider *p)
{
	if (!p || !p->pkg)
		return dep->conflict;
	switch (dep->op) {
	case APK_DEPMASK_CHECKSUM:
		/* As apk: a checksum constraint names one exact package file. */
		return csum_text_matches(dep->version, p->pkg);
	case APK_DEPMASK_ANY:
		return !dep->conflict;
	default:
		if (p->version.ptr == NULL)
			return dep->conflict;
		if (apk_version_compare_fuzzy(p->version, dep->version,
					      (dep->op & APK_VERSION_FUZZY) != 0) &
		    dep->op)
			return !dep->conflict;
		return dep->conflict;
	}
}

int apk_dep_format(const struct apk_dep *dep, struct buf *out)
{
	int r = 0;

	if (dep->conflict)
		r = buf_addch(out, '!');
	if (!r)
		r = buf_add(out, dep->name->name.ptr, dep->name->name.len);
	if (!r && dep->version.ptr) {
		r = buf_addstr(out, apk_version_op_string(dep->op));
		if (!r)
			r = buf_add(out, dep->version.ptr, dep->version.len);
	}
	return r;
}

/* ---- checksums ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for base64 characters, 64 for anything else. */
// clang-format off
static const unsigned char b64dec[256] = {
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64, 64, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
	64, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 64,
	64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
};
// clang-format on

/*
 * Decode exactly n bytes from padded base64 text of the right length. Like
 * apk, bits beyond the last byte are ignored (so two spellings can decode
 * to one checksum, and such packages are one package).
 */
static bool b64_decode_exact(struct blob in, unsigned char *out, size_t n)
{
	size_t groups = (n + 2) / 3, pad = (3 - n % 3) % 3, o = 0;

	if (in.len != groups * 4)
		return false;
	for (size_t g = 0; g < groups; g++) {
		uint32_t w = 0;

		for (size_t k = 0; k < 4; k++) {
			size_t at = g * 4 + k;
			unsigned v = b64dec[(unsigned char)in.ptr[at]];

			/* Only the last 'pad' characters are '=' and nothing else is. */
			if (at >= in.len - pad) {
				if (in.ptr[at] != '=')
					return false;
				v = 0;
			} else if (v > 63) {
				return false;
			}
			w = (w << 6) | v;
		}
		for (int k = 0; k < 3 && o < n; k++)
			out[o++] = (unsigned char)(w >> (16 - 8 * k));
	}
	return true;
}

static int b64_encode(const unsigned char *in, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16;
		char q[4] = {0, 0, '=', '='}; /* '=' pads a last group of one or two bytes */

		if (i + 1 < n)
			w |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			w |= in[i + 2];
		q[0] = b64chars[(w >> 18) & 63];
		q[1] = b64chars[(w >> 12) & 63];
		if (i + 1 < n)
			q[2] = b64chars[(w >> 6) & 63];
		if (i + 2 < n)
			q[3] = b64chars[w & 63];
		if (buf_add(out, q, 4) < 0)
			return -IT_ELIMIT;
	}
	return 0;
}

int apk_pkg_format_csum(const struct apk_pkg *pkg, struct buf *out)
{
	int r;

	if (pkg->csum_kind == APK_CHECKSUM_NONE)
		return 0;
	r = buf_addstr(out, pkg->csum_kind == APK_CHECKSUM_SHA1 ? "Q1" : "Q2");
	return r ? r : b64_encode(pkg->csum, pkg->csum_kind, out);
}

/* ---- parser ---- */

struct parser {
	struct apk_db *db;
	struct it_error *err;
	const char *source;
	unsigned repo;
	unsigned long lineno;
	struct apk_pkg *pkg;	/* record being read, NULL between records */
	unsigned long pkg_line; /* its first line */
	uint32_t npkgs;		/* records read */
};

static int perr_at(struct parser *ps, unsigned long line, const char *what, struct blob subject)
{
	if (subject.ptr)
		return it_error_set(ps->err, -IT_EFORMAT, "'%s': line %lu: %s '%.*s'", ps->source,
				    line, what, (int)(subject.len > 200 ? 200 : subject.len),
				    subject.ptr);
	return it_error_set(ps->err, -IT_EFORMAT, "'%s': line %lu: %s", ps->source, line, what);
}

static int perr(struct parser *ps, const char *what, struct blob subject)
{
	return perr_at(ps, ps->lineno, what, subject);
}

static int oom(struct parser *ps)
{
	return it_error_set(ps->err, -ENOMEM, "'%s': out of memory", ps->source);
}

/* Parse a space-separated dependency list and append it to *deps. */
static int parse_deps(struct parser *ps, struct blob v, struct apk_deps *deps, bool provides)
{
	struct apk_db *db = ps->db;
	uint32_t n = 0;
	size_t i = 0;
	struct apk_dep *arr;

	while (i < v.len) {
		struct blob tok, name, ver;
		size_t j;
		int op;
		bool conflict;
		struct apk_name *nm;

		if (v.ptr[i] == ' ') {
			i++;
			continue;
		}
		for (j = i; j < v.len && v.ptr[j] != ' '; j++)
			;
		tok = (struct blob){j - i, v.ptr + i};
		i = j;
		if (!apk_dep_split(tok, &name, &op, &ver, &conflict))
			return perr(ps, provides ? "bad provides" : "bad dependency", tok);
		if (provides && (conflict || (ver.ptr && op != APK_VERSION_EQUAL)))
			return perr(ps, "provides must be 'name' or 'name=version', not", tok);
		nm = name_get(db, name);
		if (!nm)
			return oom(ps);
		if (n + deps->n >= db->scratch_alloc) {
			uint32_t na = db->scratch_alloc ? db->scratch_alloc * 2 : 256;
			struct apk_dep *s = realloc(db->scratch, na * sizeof(*s));

			if (!s)
				return oom(ps);
			db->scratch = s;
			db->scratch_alloc = na;
		}
		db->scratch[deps->n + n++] = (struct apk_dep){nm, ver, (uint8_t)op, conflict, 0};
	}
	if (n == 0)
		return 0;
	/* A repeated field adds to the earlier one, as in apk. */
	if (deps->n)
		memcpy(db->scratch, deps->v, deps->n * sizeof(*arr));
	arr = arena_alloc(db, (deps->n + n) * sizeof(*arr));
	if (!arr)
		return oom(ps);
	memcpy(arr, db->scratch, (deps->n + n) * sizeof(*arr));
	deps->v = arr;
	deps->n += n;
	return 0;
}

static int parse_u64(struct parser *ps, struct blob v, char field, uint64_t max, uint64_t *out)
{
	unsigned long long x;
	char what[48];

	if (!blob_to_u64(v, &x) || x > max) {
		snprintf(what, sizeof(what), "bad number in '%c:'", field);
		return perr(ps, what, v);
	}
	*out = x;
	return 0;
}

static int parse_csum(struct parser *ps, struct blob v, struct apk_pkg *pkg)
{
	struct blob b64 = v.len >= 2 ? (struct blob){v.len - 2, v.ptr + 2} : BLOB_NULL;
	int r;

	if (pkg->csum_kind != APK_CHECKSUM_NONE)
		return perr(ps, "second 'C:' in one record", BLOB_NULL);
	if (blob_starts(v, "Q1") && b64_decode_exact(b64, pkg->csum, 20)) {
		pkg->csum_kind = APK_CHECKSUM_SHA1;
		return 0;
	}
	if (blob_starts(v, "Q2") && b64_decode_exact(b64, pkg->csum, 32)) {
		pkg->csum_kind = APK_CHECKSUM_SHA256;
		return 0;
	}
	r = perr(ps, "bad checksum", v);
	it_error_hint(ps->err, "a checksum is Q1 + base64 SHA-1, or Q2 + base64 SHA-256");
	return r;
}

static int set_once(struct parser *ps, struct blob *dst, struct blob v, char field)
{
	char what[40];

	if (dst->ptr) {
		snprintf(what, sizeof(what), "second '%c:' in one record", field);
		return perr(ps, what, BLOB_NULL);
	}
	*dst = v;
	return 0;
}

static int parse_field(struct parser *ps, char field, struct blob v)
{
	struct apk_pkg *pkg = ps->pkg;
	uint64_t x;
	int r;

	switch (field) {
	case 'P':
		if (pkg->name)
			return perr(ps, "second 'P:' in one record", BLOB_NULL);
		if (v.len == 0 || memchr(v.ptr, ' ', v.len))
			return perr(ps, "bad package name", v);
		pkg->name = name_get(ps->db, v);
		return pkg->name ? 0 : oom(ps);
	case 'V':
		if (v.len == 0 || !apk_version_validate(v))
			return perr(ps, "bad version", v);
		return set_once(ps, &pkg->version, v, field);
	case 'C':
		return parse_csum(ps, v, pkg);
	case 'A':
		return set_once(ps, &pkg->arch, v, field);
	case 'T':
		return set_once(ps, &pkg->description, v, field);
	case 'U':
		return set_once(ps, &pkg->url, v, field);
	case 'L':
		return set_once(ps, &pkg->license, v, field);
	case 'o':
		return set_once(ps, &pkg->origin, v, field);
	case 'm':
		return set_once(ps, &pkg->maintainer, v, field);
	case 'c':
		return set_once(ps, &pkg->commit, v, field);
	case 'S':
		return parse_u64(ps, v, field, UINT64_MAX, &pkg->size);
	case 'I':
		return parse_u64(ps, v, field, UINT64_MAX, &pkg->installed_size);
	case 't':
		return parse_u64(ps, v, field, UINT64_MAX, &pkg->build_time);
	case 'k':
		r = parse_u64(ps, v, field, UINT16_MAX, &x);
		pkg->provider_priority = (uint16_t)x;
		return r;
	case 'q':
		r = parse_u64(ps, v, field, UINT16_MAX, &x);
		pkg->replaces_priority = (uint16_t)x;
		return r;
	case 'D':
		return parse_deps(ps, v, &pkg->depends, false);
	case 'p':
		return parse_deps(ps, v, &pkg->provides, true);
	case 'i':
		return parse_deps(ps, v, &pkg->install_if, false);
	case 'r':
		return parse_deps(ps, v, &pkg->replaces, false);
	case 'F':
	case 'M':
	case 'R':
	case 'Z':
	case 'a':
	case 's':
	case 'f':
		/* File and state lines of an installed db: not ours to read. */
		return 0;
	default:
		/* apk: unknown lower-case fields are ignored, upper-case ones forbid installing. */
		if (field >= 'A' && field <= 'Z')
			pkg->uninstallable = true;
		return 0;
	}
}

static int end_record(struct parser *ps)
{
	struct apk_db *db = ps->db;
	struct apk_pkg *pkg = ps->pkg, *dup;

	if (!pkg)
		return 0;
	ps->pkg = NULL;
	if (!pkg->name)
		return perr_at(ps, ps->pkg_line, "package record without 'P:'", BLOB_NULL);
	if (!pkg->version.ptr)
		return perr_at(ps, ps->pkg_line, "package record without 'V:' for",
			       pkg->name->name);
	ps->npkgs++;
	if (pkg->csum_kind != APK_CHECKSUM_NONE) {
		dup = csum_lookup(db, pkg);
		if (dup) {
			dup->repos |= 1u << ps->repo;
			return 0;
		}
	}
	if (pkgs_reserve(db, db->npkgs + 1) < 0)
		return oom(ps);
	if ((db->npkgs + 1) * 2 > db->csum_hash_size &&
	    csum_table_rebuild(db, db->csum_hash_size ? db->csum_hash_size * 2 : 4096) < 0)
		return oom(ps);
	pkg->id = db->npkgs;
	pkg->repos = 1u << ps->repo;
	db->pkgs[db->npkgs++] = pkg;
	if (pkg->csum_kind != APK_CHECKSUM_NONE)
		table_put(db->csum_hash, db->csum_hash_size, csum_hash_of(pkg), pkg->id);
	return 0;
}

static int parse_text(struct parser *ps, const char *p, size_t len)
{
	const char *end = p + len;
	int r;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		ps->lineno++;
		if (n == 0) {
			r = end_record(ps);
			if (r)
				return r;
		} else {
			if (n < 2 || p[1] != ':')
				return perr(ps, "expected 'X:value', got", (struct blob){n, p});
			if (!ps->pkg) {
				ps->pkg = arena_alloc(ps->db, sizeof(*ps->pkg));
				if (!ps->pkg)
					return oom(ps);
				memset(ps->pkg, 0, sizeof(*ps->pkg));
				ps->pkg_line = ps->lineno;
			}
			r = parse_field(ps, p[0], (struct blob){n - 2, p + 2});
			if (r)
				return r;
		}
		p += n + 1;
	}
	return end_record(ps);
}

/* apk's hash table order: by bucket, newest name first within one. */
static int cmp_apk_order(const void *a, const void *b)
{
	const struct apk_name *x = *(const struct apk_name *const *)a;
	const struct apk_name *y = *(const struct apk_name *const *)b;
	uint32_t bx = x->hash % APK_NAME_BUCKETS, by = y->hash % APK_NAME_BUCKETS;

	if (bx != by)
		return bx < by ? -1 : 1;
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/*
 * Reverse install_if: for each name its packages' i: mention, the names of
 * those packages (their own and provided ones, as apk's rinstall_if), in
 * apk's order and without duplicates.
 */
static void rinstall_sort(struct apk_db *db)
{
	for (uint32_t i = 0; i < db->nnames; i++) {
		struct apk_name *n = db->names[i];
		const struct apk_name **v = (const struct apk_name **)n->rinstall_if;
		uint32_t k = 0;

		if (n->nrinstall_if < 2)
			continue;
		qsort(v, n->nrinstall_if, sizeof(*v), cmp_apk_order);
		for (uint32_t j = 0; j < n->nrinstall_if; j++)
			if (k == 0 || v[k - 1] != v[j])
				v[k++] = v[j];
		n->nrinstall_if = k;
	}
}

/* The tables db_index() builds, until they replace the db's. */
struct db_tables {
	uint32_t *nprov; /* per name: its providers */
	uint32_t *nrif;	 /* per name: its reverse install_if entries */
	size_t total_prov, total_rif, niif;
	struct apk_provider *pool;
	const struct apk_name **rpool;
	const struct apk_pkg **iif;
};

static void db_tables_release(struct db_tables *t)
{
	big_free((void *)t->iif);
	big_free((void *)t->rpool);
	big_free(t->pool);
	big_free(t->nrif);
	big_free(t->nprov);
}

/*
 * Count, per name, the packages that provide it (by name or 'p:') and the
 * names its install_if rules will list, and size the pools for them.
 */
static int db_tables_alloc(const struct apk_db *db, struct db_tables *t)
{
	memset(t, 0, sizeof(*t));
	t->nprov = big_alloc((db->nnames + 1) * sizeof(*t->nprov));
	t->nrif = big_alloc((db->nnames + 1) * sizeof(*t->nrif));
	if (!t->nprov || !t->nrif)
		return -ENOMEM;
	for (uint32_t i = 0; i < db->npkgs; i++) {
		const struct apk_pkg *pkg = db->pkgs[i];

		t->nprov[pkg->name->id]++;
		for (uint32_t j = 0; j < pkg->provides.n; j++)
			t->nprov[pkg->provides.v[j].name->id]++;
		t->total_prov += 1 + pkg->provides.n;
		for (uint32_t j = 0; j < pkg->install_if.n; j++)
			t->nrif[pkg->install_if.v[j].name->id] += 1 + pkg->provides.n;
		t->total_rif += pkg->install_if.n * (1 + pkg->provides.n);
		t->niif += pkg->install_if.n > 0;
	}
	t->pool = big_alloc((t->total_prov + 1) * sizeof(*t->pool));
	t->rpool = big_alloc((t->total_rif + 1) * sizeof(*t->rpool));
	t->iif = big_alloc((t->niif + 1) * sizeof(*t->iif));
	if (!t->pool || !t->rpool || !t->iif)
		return -ENOMEM;
	return 0;
}

/* Give each name its slice of the pools, empty for now. */
static void db_tables_slice(struct apk_db *db, const struct db_tables *t)
{
	size_t prov = 0, rif = 0;

	for (uint32_t i = 0; i < db->nnames; i++) {
		struct apk_name *n = db->names[i];

		n->providers = t->pool + prov;
		n->nproviders = 0;
		prov += t->nprov[i];
		n->rinstall_if = t->rpool + rif;
		n->nrinstall_if = 0;
		rif += t->nrif[i];
	}
}

/* Fill the slices in load order: each package under its names, its install_if names. */
static void db_tables_fill(struct apk_db *db, struct db_tables *t)
{
	size_t niif = 0;

	for (uint32_t i = 0; i < db->npkgs; i++) {
		const struct apk_pkg *pkg = db->pkgs[i];
		struct apk_name *n = db->names[pkg->name->id];

		t->pool[n->providers - t->pool + n->nproviders++] =
		    (struct apk_provider){pkg, pkg->version};
		for (uint32_t j = 0; j < pkg->provides.n; j++) {
			const struct apk_dep *d = &pkg->provides.v[j];

			n = db->names[d->name->id];
			t->pool[n->providers - t->pool + n->nproviders++] =
			    (struct apk_provider){pkg, d->version};
		}
		for (uint32_t j = 0; j < pkg->install_if.n; j++) {
			n = db->names[pkg->install_if.v[j].name->id];
			t->rpool[n->rinstall_if - t->rpool + n->nrinstall_if++] = pkg->name;
			for (uint32_t k = 0; k < pkg->provides.n; k++)
				t->rpool[n->rinstall_if - t->rpool + n->nrinstall_if++] =
				    pkg->provides.v[k].name;
		}
		if (pkg->install_if.n)
			t->iif[niif++] = pkg;
	}
}

/* The new pools replace the db's; t keeps only what is left to free. */
static void db_tables_install(struct apk_db *db, struct db_tables *t)
{
	big_free(db->provider_pool);
	big_free((void *)db->rinstall_pool);
	big_free((void *)db->iif_pkgs);
	db->provider_pool = t->pool;
	db->rinstall_pool = t->rpool;
	db->iif_pkgs = t->iif;
	db->niif_pkgs = (uint32_t)t->niif;
	t->pool = NULL;
	t->rpool = NULL;
	t->iif = NULL;
}

/* Rebuild the provider and reverse install_if tables over all packages (after each load). */
static int db_index(struct apk_db *db)
{
	struct db_tables t;
	int r = db_tables_alloc(db, &t);

	if (r == 0) {
		db_tables_slice(db, &t);
		db_tables_fill(db, &t);
		rinstall_sort(db);
		db_tables_install(db, &t);
	}
	db_tables_release(&t);
	return r;
}

/* Undo a failed load: drop new names and packages, and the new repository's bit on old ones. */
static void db_rollback(struct apk_db *db, uint32_t nnames, uint32_t npkgs, struct arena_mark m,
			unsigned repo)
{
	db->nnames = nnames;
	db->npkgs = npkgs;
	for (uint32_t i = 0; i < npkgs; i++)
		db->pkgs[i]->repos &= ~(1u << repo);
	arena_rollback(db, m);
	/* Same sizes as before; on ENOMEM the old tables stay (a lookup then just misses). */
	if (db->name_hash_size)
		name_table_rebuild(db, db->name_hash_size);
	if (db->csum_hash_size)
		csum_table_rebuild(db, db->csum_hash_size);
}

/*
 * Size everything for the text about to be parsed, from the shape of
 * Alpine's indexes (community: 430 bytes per record, 190 per name; records,
 * dependencies and names take 1.4 times the text), so that nothing is
 * rehashed or regrown on the way.
 */
static int presize(struct apk_db *db, size_t len)
{
	size_t names = db->nnames + len / 160 + 64, pkgs = db->npkgs + len / 350 + 16;

	if (arena_reserve(db, len / 2 * 3 + 4096) < 0 || names_reserve(db, names) < 0 ||
	    pkgs_reserve(db, pkgs) < 0)
		return -ENOMEM;
	if (names * 2 > db->name_hash_size && name_table_rebuild(db, pow2_at_least(names * 2)) < 0)
		return -ENOMEM;
	if (pkgs * 2 > db->csum_hash_size && csum_table_rebuild(db, pow2_at_least(pkgs * 2)) < 0)
		return -ENOMEM;
	return 0;
}

static int add_index(struct apk_db *db, struct apk_repo repo, const char *label, const char *source,
		     struct it_error *err)
{
	struct parser ps = {.db = db, .err = err, .source = source ? source : "APKINDEX"};
	struct arena_mark mark = arena_mark(db);
	uint32_t nnames = db->nnames, npkgs = db->npkgs;
	int r;

	if (db->nrepos >= APK_DB_MAX_REPOS) {
		r = it_error_set(err, -IT_ELIMIT, "'%s': more than %d repositories", ps.source,
				 APK_DB_MAX_REPOS);
		it_error_hint(err, "merge repositories or list fewer");
		goto out;
	}
	ps.repo = db->nrepos;
	repo.label = strdup(label ? label : ps.source);
	repo.source = strdup(ps.source);
	if (!repo.label || !repo.source || presize(db, repo.text_len) < 0) {
		r = oom(&ps);
		goto out;
	}

	r = parse_text(&ps, repo.text, repo.text_len);
	if (r == 0)
		r = db_index(db);
	if (r < 0) {
		if (r == -ENOMEM)
			oom(&ps);
		it_error_hint(err, "the index may be damaged or cut short: fetch it again");
		db_rollback(db, nnames, npkgs, mark, ps.repo);
		goto out;
	}
	repo.npkgs = ps.npkgs;
	db->repos[db->nrepos++] = repo;
	return 0;
out:
	repo_text_free(&repo);
	free(repo.source);
	free(repo.label);
	return r;
}

int apk_db_add_index_owned(struct apk_db *db, char *text, size_t len, const char *label,
			   const char *source, struct it_error *err)
{
	return add_index(db, (struct apk_repo){.text = text, .text_len = len}, label, source, err);
}

int apk_db_add_index(struct apk_db *db, struct blob text, const char *label, const char *source,
		     struct it_error *err)
{
	size_t alloc = text.len + 1;
	char *copy = mem_alloc(&alloc);

	if (!copy)
		return it_error_set(err, -ENOMEM, "'%s': out of memory",
				    source ? source : "APKINDEX");
	if (text.len)
		memcpy(copy, text.ptr, text.len);
	return add_index(db,
			 (struct apk_repo){.text = copy, .text_len = text.len, .text_alloc = alloc},
			 label, source, err);
}

/* ---- repository tags ---- */

int apk_db_find_tag(const struct apk_db *db, struct blob tag)
{
	if (tag.len == 0)
		return 0;
	for (unsigned i = 1; i < db->ntags; i++)
		if (blob_eq(blob_str(db->tags[i]), tag))
			return (int)i;
	return -1;
}

int apk_db_tag_repo(struct apk_db *db, unsigned repo, struct blob tag, struct it_error *err)
{
	int id;

	if (tag.len == 0 || memchr(tag.ptr, ' ', tag.len) || memchr(tag.ptr, '@', tag.len) ||
	    memchr(tag.ptr, '/', tag.len) || memchr(tag.ptr, '\t', tag.len))
		return it_error_set(err, -IT_EFORMAT, "bad repository tag '@%.*s'", (int)tag.len,
				    tag.ptr);
	if (repo >= db->nrepos)
		return it_error_set(err, -IT_EUSAGE, "no repository %u to tag", repo);
	id = apk_db_find_tag(db, tag);
	if (id < 0) {
		db->tags[db->ntags] = strndup(tag.ptr, tag.len);
		if (!db->tags[db->ntags])
			return it_error_set(err, -ENOMEM, "out of memory");
		id = (int)db->ntags++;
	}
	db->repos[repo].tag = (uint8_t)id;
	return 0;
}

/* ---- lookups ---- */

unsigned apk_pkg_repo(const struct apk_pkg *pkg)
{
	return pkg->repos ? (unsigned)__builtin_ctz(pkg->repos) : 0;
}

const struct apk_pkg *apk_db_find_pkg(const struct apk_db *db, struct blob name,
				      struct blob version)
{
	const struct apk_name *n = apk_db_find_name(db, name);
	const struct apk_pkg *best = NULL;

	if (!n)
		return NULL;
	for (uint32_t i = 0; i < n->nproviders; i++) {
		const struct apk_pkg *pkg = n->providers[i].pkg;
		int c;

		if (pkg->name != n)
			continue;
		if (version.ptr) {
			if (blob_eq(pkg->version, version))
				return pkg;
			continue;
		}
		if (!best) {
			best = pkg;
			continue;
		}
		c = apk_version_compare(pkg->version, best->version);
		if (c == APK_VERSION_GREATER ||
		    (c == APK_VERSION_EQUAL && apk_pkg_repo(pkg) < apk_pkg_repo(best)))
			best = pkg;
	}
	return best;
}

/* ---- installed-db record ---- */

static int add_field(struct buf *out, const char *key, struct blob v)
{
	int r = buf_addstr(out, key);

	if (!r && v.len)
		r = buf_add(out, v.ptr, v.len);
	return r ? r : buf_addch(out, '\n');
}

static int add_deps(struct buf *out, const char *key, const struct apk_deps *deps)
{
	int r;

	if (deps->n == 0)
		return 0;
	r = buf_addstr(out, key);
	for (uint32_t i = 0; !r && i < deps->n; i++) {
		if (i)
			r = buf_addch(out, ' ');
		if (!r)
			r = apk_dep_format(&deps->v[i], out);
	}
	return r ? r : buf_addch(out, '\n');
}

/* "r:" from .PKGINFO text: each dependency is parsed and written back in apk's spelling. */
static int add_replaces_text(struct buf *out, const char *text, struct blob pkgname,
			     struct it_error *err)
{
	struct blob v = blob_str(text);
	size_t i = 0;
	bool first = true;
	int r = 0;

	while (!r && i < v.len) {
		struct blob tok, name, ver;
		struct apk_name nm;
		struct apk_dep d;
		size_t j;
		int op;
		bool conflict;

		if (v.ptr[i] == ' ' || v.ptr[i] == '\n') {
			i++;
			continue;
		}
		for (j = i; j < v.len && v.ptr[j] != ' ' && v.ptr[j] != '\n'; j++)
			;
		tok = (struct blob){j - i, v.ptr + i};
		i = j;
		if (!apk_dep_split(tok, &name, &op, &ver, &conflict))
			return it_error_set(err, -IT_EFORMAT, "bad replaces '%.*s' for '%.*s'",
					    (int)tok.len, tok.ptr, (int)pkgname.len, pkgname.ptr);
		nm = (struct apk_name){.name = name};
		d = (struct apk_dep){&nm, ver, (uint8_t)op, conflict, 0};
		r = buf_addstr(out, first ? "r:" : " ");
		if (!r)
			r = apk_dep_format(&d, out);
		first = false;
	}
	if (!r && !first)
		r = buf_addch(out, '\n');
	return r;
}

int apk_pkg_format_installed(const struct apk_pkg *pkg, const struct apk_pkg_extra *extra,
			     struct buf *out, struct it_error *err)
{
	char num[24];
	size_t start = out->len;
	unsigned qprio = extra ? extra->replaces_priority : pkg->replaces_priority;
	int r = 0;

	if (pkg->csum_kind != APK_CHECKSUM_NONE) {
		r = buf_addstr(out, "C:");
		if (!r)
			r = apk_pkg_format_csum(pkg, out);
		if (!r)
			r = buf_addch(out, '\n');
	}
	if (!r)
		r = add_field(out, "P:", pkg->name->name);
	if (!r)
		r = add_field(out, "V:", pkg->version);
	if (!r && pkg->arch.ptr)
		r = add_field(out, "A:", pkg->arch);
	if (!r)
		r = buf_addf(out, "S:%llu\nI:%llu\n", (unsigned long long)pkg->size,
			     (unsigned long long)pkg->installed_size);
	if (!r)
		r = add_field(out, "T:", pkg->description);
	if (!r)
		r = add_field(out, "U:", pkg->url);
	if (!r)
		r = add_field(out, "L:", pkg->license);
	if (!r && pkg->origin.ptr)
		r = add_field(out, "o:", pkg->origin);
	if (!r && pkg->maintainer.ptr)
		r = add_field(out, "m:", pkg->maintainer);
	if (!r && pkg->build_time) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)pkg->build_time);
		r = add_field(out, "t:", blob_str(num));
	}
	if (!r && pkg->commit.ptr)
		r = add_field(out, "c:", pkg->commit);
	if (!r && pkg->provider_priority) {
		snprintf(num, sizeof(num), "%u", (unsigned)pkg->provider_priority);
		r = add_field(out, "k:", blob_str(num));
	}
	if (!r)
		r = add_deps(out, "D:", &pkg->depends);
	if (!r)
		r = add_deps(out, "p:", &pkg->provides);
	if (!r)
		r = add_deps(out, "i:", &pkg->install_if);
	if (!r && extra && extra->replaces)
		r = add_replaces_text(out, extra->replaces, pkg->name->name, err);
	else if (!r && !extra)
		r = add_deps(out, "r:", &pkg->replaces);
	if (!r && qprio) {
		snprintf(num, sizeof(num), "%u", qprio);
		r = add_field(out, "q:", blob_str(num));
	}
	if (r) {
		/* Nothing half-written. */
		out->len = start;
		out->data[start] = '\0';
		if (r == -IT_ELIMIT)
			it_error_set(err, r,
				     "installed-db record of '%.*s' does not fit the buffer",
				     (int)pkg->name->name.len, pkg->name->name.ptr);
	}
	return r;
}
