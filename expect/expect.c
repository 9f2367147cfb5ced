// SPDX-License-Identifier: MIT
/* The expect engine: steps, fail patterns and timeouts matched against a cleaned console stream. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "expect.h"
#include "lit.h"
#include "vt.h"

#define LINE_KEEP (EXPECT_LINE_MAX / 2) /* what an over-long line keeps of its tail */
#define SHOW_MAX 1024			/* longest matched line kept in a result */
#define SHOW_BEFORE 256			/* of which before the match */
#define LAST_LINE_MAX 256
#define SUBST_MAX (256 * 1024) /* longest text after ${} substitution */
#define MATCH_LIMIT 5000000
#define BLOCK_MAX (16 * 1024) /* cleaned text gathered before its lines are matched */

_Static_assert(BLOCK_MAX <= EXPECT_LINE_MAX, "a line in the block is never cut");

struct pat {
	char *src;   /* as given, for messages */
	char *where; /* "file:line", "" or EXPECT_BUILTIN... */
	bool literal;
	bool has_refs;	/* uses ${...}: compiled again when its step becomes current */
	bool multiline; /* an external step's capture: ^ and $ at every line */
	pcre2_code *code;
	pcre2_match_data *md;
	bool jit;	/* compiled by the JIT: pcre2_jit_match() skips pcre2_match()'s checks */
	size_t resume;	/* no match in the current line can start before this offset */
	struct lit lit; /* in every line the pattern matches; len 0: unknown */
	/* Where lit is: in the block (see blk_has_lit()) and in e->line (line_has_lit()). */
	uint64_t blk_gen; /* blk_next is valid while e->blk_gen has this value */
	size_t blk_next;  /* first occurrence in the block at or after the line looked at */
	size_t lit_from;  /* e->line: no occurrence starts before this offset... */
	bool lit_seen;	  /* ...unless one was found */
};

struct step {
	enum expect_kind kind;
	char *name;
	char *where;
	char *text;	/* send, external: the text as given */
	char *subst;	/* external: the text with ${refs} filled in, once current */
	struct pat pat; /* expect */
	int64_t timeout_ms;
	size_t match_at; /* where the match began in its line */
	char *line;	 /* owns res.line */
	struct expect_step_result res;
};

struct named {
	char *name;
	char *value;
};

struct expect {
	struct step *steps;
	size_t nsteps, asteps;
	struct pat *fails;
	size_t nfails, afails;
	size_t cur; /* the current step */

	bool started;
	bool no_timeouts;
	int64_t run_timeout_ms;
	int64_t start_ms;
	int64_t run_deadline;  /* -1: none */
	int64_t step_deadline; /* -1: none */

	struct vt vt;
	/*
	 * Cleaned text is gathered in a block, lines separated by '\n', and its
	 * lines are matched when the block ends (at the end of a read, a cursor-up
	 * or -position request, or when it is full): a pattern's literal is then
	 * looked for once over many lines (blk_has_lit()). The unfinished line at
	 * its end moves to 'line'. A line that began before (it spans reads, it
	 * was joined by a cursor-up, or it is longer than the block) is gathered
	 * and matched in 'line' alone.
	 */
	char *blk;
	size_t blk_len;
	bool in_blk;	      /* the current line is at the end of blk; 'line' is empty */
	uint64_t blk_gen;     /* counts blocks, for struct pat's blk_next */
	struct blob blk_line; /* the line of blk being matched, or last matched */
	bool resume_dirty;    /* a resume offset may be non-zero */
	struct buf line;      /* the cleaned current line, without '\n' */
	bool line_done;	      /* its '\n' came; kept in case a cursor-up joins it again */
	bool line_cut;	      /* it lost its head: '^' must not match */
	size_t line_scanned;  /* length when the incomplete line was last matched */
	size_t open_first;    /* first step that passed on the unfinished line; SIZE_MAX: none */

	struct buf out; /* bytes for the console */

	char **num; /* ${0}.. of the last expect match; NULL: unset */
	size_t nnum;
	struct named *named;
	size_t nnamed, anamed;

	char last_line[LAST_LINE_MAX];
	struct expect_outcome oc;
	char *oc_line;	     /* owns oc.line when not last_line */
	char *bad_msg;	     /* owns oc.fail_pattern for BAD_PATTERN */
	bool fail_line_open; /* failed on an unfinished line: complete oc.line with it */
	struct expect_stats st;

	pcre2_general_context *gctx;
	pcre2_compile_context *cctx;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	size_t pcre_mem; /* bytes PCRE2 holds through gctx */
};

/* ---- memory ---------------------------------------------------------------------------- */

/* PCRE2 allocates through these, so expect_mem_size() can count its share. */
#define HDR (alignof(max_align_t) > sizeof(size_t) ? alignof(max_align_t) : sizeof(size_t))

static void *pc_malloc(size_t n, void *data)
{
	struct expect *e = data;
	char *p = malloc(HDR + n);

	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	e->pcre_mem += n;
	return p + HDR;
}

static void pc_free(void *ptr, void *data)
{
	struct expect *e = data;
	char *p = ptr;
	size_t n;

	if (!p)
		return;
	p -= HDR;
	memcpy(&n, p, sizeof(n));
	e->pcre_mem -= n;
	free(p);
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* strdup that turns NULL into "" */
static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* ---- patterns ---------------------------------------------------------------------------- */

/* Append s escaped so that PCRE2 matches it literally: every ASCII non-alphanumeric gets '\'. */
static int regex_escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int r;

		if (c < 0x80 && !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') &&
		    !(c >= 'A' && c <= 'Z') && c != '_') {
			r = buf_addch(b, '\\');
			if (r < 0)
				return r;
		}
		r = buf_addch(b, (char)c);
		if (r < 0)
			return r;
	}
	return 0;
}

static void pat_release(struct pat *p)
{
	pcre2_match_data_free(p->md);
	pcre2_code_free(p->code);
	free(p->src);
	free(p->where);
	memset(p, 0, sizeof(*p));
}

static const char *where_prefix(const char *where)
{
	return where && where[0] ? where : NULL;
}

/* The literal every match needs, and no knowledge yet of where it is. */
static void pat_set_lit(struct pat *p, const char *regex, size_t len)
{
	uint32_t opts = 0;

	lit_from_regex(&p->lit, regex, len);
	/* The engine sets none of these, but trust PCRE2 rather than the walk. */
	pcre2_pattern_info(p->code, PCRE2_INFO_ALLOPTIONS, &opts);
	if (opts & (PCRE2_CASELESS | PCRE2_EXTENDED | PCRE2_EXTENDED_MORE | PCRE2_LITERAL))
		p->lit.len = 0;
	p->blk_gen = 0;
	p->lit_from = 0;
	p->lit_seen = false;
}

/*
 * Compile 'regex' into p->code and p->md (replacing what was there). On
 * failure returns -IT_ESCENARIO with PCRE2's message and offset in 'msg'.
 */
static int pat_compile(struct expect *e, struct pat *p, const char *regex, size_t len, char *msg,
		       size_t msgsz)
{
	pcre2_code *code = NULL;
	pcre2_match_data *md = NULL;
	PCRE2_UCHAR why[256];
	PCRE2_SIZE off = 0;
	int errcode = 0;
	bool jit;

	code = pcre2_compile((PCRE2_SPTR)regex, len, p->multiline ? PCRE2_MULTILINE : 0, &errcode,
			     &off, e->cctx);
	if (!code) {
		if (pcre2_get_error_message(errcode, why, sizeof(why)) < 0)
			snprintf((char *)why, sizeof(why), "error %d", errcode);
		snprintf(msg, msgsz, "%s at offset %zu", (char *)why, (size_t)off);
		return -IT_ESCENARIO;
	}
	/* Without JIT (unsupported CPU, SELinux) pcre2_match() interprets: slower, same result. */
	jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD) == 0;
	md = pcre2_match_data_create_from_pattern(code, e->gctx);
	if (!md) {
		pcre2_code_free(code);
		snprintf(msg, msgsz, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	pcre2_match_data_free(p->md);
	pcre2_code_free(p->code);
	p->code = code;
	p->md = md;
	p->jit = jit;
	pat_set_lit(p, regex, len);
	return 0;
}

/* ---- ${} references ---------------------------------------------------------------------- */

/* Called for each literal run (is_ref false) and each reference name of a text. */
typedef int (*ref_fn)(void *ctx, const char *s, size_t n, bool is_ref);

static bool ref_name_ok(const char *s, size_t n)
{
	bool digits = true;

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			continue;
		digits = false;
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && c != '_')
			return false;
	}
	return digits || !(s[0] >= '0' && s[0] <= '9');
}

/*
 * Split text into literal runs and ${ref}s. "$${" is a literal "${"; in a
 * regex, a backslash and the byte after it stay together ("\${"). Returns 0,
 * the callback's error, or -IT_ESCENARIO with *bad at the faulty "${".
 */
static int refs_walk(const char *s, bool regex, ref_fn fn, void *ctx, const char **bad)
{
	const char *run = s, *p = s;
	int r;

	while (*p) {
		if (regex && p[0] == '\\' && p[1]) {
			p += 2;
			continue;
		}
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			r = fn(ctx, run, (size_t)(p - run), false);
			if (r < 0)
				return r;
			r = regex ? fn(ctx, "\\$\\{", 4, false) : fn(ctx, "${", 2, false);
			if (r < 0)
				return r;
			p += 3;
			run = p;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p + 2, '}');

			if (!end || !ref_name_ok(p + 2, (size_t)(end - p - 2))) {
				*bad = p;
				return -IT_ESCENARIO;
			}
			r = fn(ctx, run, (size_t)(p - run), false);
			if (r < 0)
				return r;
			r = fn(ctx, p + 2, (size_t)(end - p - 2), true);
			if (r < 0)
				return r;
			p = end + 1;
			run = p;
			continue;
		}
		p++;
	}
	return fn(ctx, run, (size_t)(p - run), false);
}

static int count_refs(void *ctx, const char *s, size_t n, bool is_ref)
{
	(void)s;
	(void)n;
	if (is_ref)
		(*(size_t *)ctx)++;
	return 0;
}

static bool is_number(const char *s, size_t n, unsigned long *out)
{
	unsigned long v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > 100000)
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return n > 0;
}

static bool code_has_name(const pcre2_code *code, const char *name, size_t n)
{
	uint32_t count = 0, size = 0;
	PCRE2_SPTR table = NULL;

	pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
	for (uint32_t i = 0; i < count; i++) {
		const char *entry = (const char *)table + (size_t)i * size + 2;

		if (strlen(entry) == n && memcmp(entry, name, n) == 0)
			return true;
	}
	return false;
}

/* Does an expect step before step 'upto' define ${ref}? Numbers refer to the last one. */
static bool ref_known(const struct expect *e, size_t upto, const char *ref, size_t n)
{
	unsigned long num;
	uint32_t groups = 0;

	for (size_t i = upto; i-- > 0;) {
		const struct step *s = &e->steps[i];

		if (!s->pat.code)
			continue;
		if (is_number(ref, n, &num)) {
			pcre2_pattern_info(s->pat.code, PCRE2_INFO_CAPTURECOUNT, &groups);
			return num <= groups;
		}
		if (code_has_name(s->pat.code, ref, n))
			return true;
	}
	return false;
}

struct check_ctx {
	const struct expect *e;
	size_t upto;
	char bad[40];
};

static int check_ref(void *vctx, const char *s, size_t n, bool is_ref)
{
	struct check_ctx *c = vctx;

	if (!is_ref || ref_known(c->e, c->upto, s, n))
		return 0;
	snprintf(c->bad, sizeof(c->bad), "%.*s", (int)n, s);
	return -IT_ESCENARIO;
}

/* Verify every ${ref} in text; the error names the first bad one. */
static int refs_check(const struct expect *e, const char *text, bool regex, const char *where,
		      struct it_error *err)
{
	struct check_ctx c = {e, e->nsteps, ""};
	const char *bad = NULL;
	const char *w = where_prefix(where);
	int r;

	r = refs_walk(text, regex, check_ref, &c, &bad);
	if (r == 0)
		return 0;
	if (bad) {
		it_error_set(err, -IT_ESCENARIO, "%s%sbad reference '%.*s' in '%s'", w ? w : "",
			     w ? ": " : "", (int)strcspn(bad, "}") + 1, bad, text);
		it_error_hint(err, "write ${NAME} or ${N} with letters, digits and '_'; "
				   "'$${' is a literal '${'");
		return -IT_ESCENARIO;
	}
	it_error_set(err, -IT_ESCENARIO,
		     "%s%s'${%s}' in '%s' names no capture group of an earlier expect step",
		     w ? w : "", w ? ": " : "", c.bad, text);
	it_error_hint(err, "capture with (...) or (?<name>...) in an earlier expect step; "
			   "'$${' is a literal '${'");
	return -IT_ESCENARIO;
}

static const char *capture_get(const struct expect *e, const char *ref, size_t n)
{
	unsigned long num;

	if (is_number(ref, n, &num))
		return num < e->nnum ? e->num[num] : NULL;
	for (size_t i = 0; i < e->nnamed; i++) {
		if (strlen(e->named[i].name) == n && memcmp(e->named[i].name, ref, n) == 0)
			return e->named[i].value;
	}
	return NULL;
}

struct subst_ctx {
	const struct expect *e;
	struct buf *b;
	bool escape_refs; /* regex: values are escaped, the rest is regex */
	bool escape_all;  /* literal pattern: everything is escaped */
	bool placeholder; /* syntax check before the start: each reference becomes "(?:)" */
};

static int subst_piece(void *vctx, const char *s, size_t n, bool is_ref)
{
	struct subst_ctx *c = vctx;
	const char *v = s;

	if (is_ref && c->placeholder)
		return buf_addstr(c->b, "(?:)");
	if (is_ref) {
		v = capture_get(c->e, s, n);
		if (!v)
			v = "";
		n = strlen(v);
	}
	if (c->escape_all || (is_ref && c->escape_refs))
		return regex_escape(c->b, v, n);
	return buf_add(c->b, v, n);
}

/* Fill in ${refs}: for a regex the values are escaped; a literal is escaped whole. */
static int subst(const struct expect *e, const char *text, bool regex, bool escape, struct buf *b)
{
	struct subst_ctx c = {e, b, regex, escape, false};
	const char *bad = NULL;

	buf_reset(b);
	return refs_walk(text, regex, subst_piece, &c, &bad);
}

/*
 * Compile a pattern as given. A pattern with ${refs} is compiled with empty
 * groups in their place to check its syntax now; the real one comes later.
 */
static int pat_init(struct expect *e, struct pat *p, const char *pattern, bool literal,
		    const char *where, bool refs, struct it_error *err)
{
	struct buf b = BUF_INIT;
	size_t nrefs = 0;
	const char *bad = NULL;
	char msg[300];
	int r;

	buf_init(&b, SUBST_MAX);
	p->src = strdup(pattern);
	p->where = dup_or_empty(where);
	p->literal = literal;
	if (!p->src || !p->where) {
		r = -ENOMEM;
		goto out;
	}
	if (refs) {
		r = refs_walk(pattern, !literal, count_refs, &nrefs, &bad);
		if (r < 0)
			goto out;
	}
	p->has_refs = nrefs > 0;
	if (literal) {
		struct subst_ctx c = {e, &b, false, true, false};

		r = refs ? refs_walk(pattern, false, subst_piece, &c, &bad)
			 : regex_escape(&b, pattern, strlen(pattern));
	} else if (p->has_refs) {
		/* Validate the syntax with "(?:)" for each reference. */
		struct subst_ctx c = {e, &b, false, false, true};

		r = refs_walk(pattern, true, subst_piece, &c, &bad);
	} else {
		r = buf_addstr(&b, pattern);
	}
	if (r < 0)
		goto out;
	r = pat_compile(e, p, b.data, b.len, msg, sizeof(msg));
	if (r == -IT_ESCENARIO) {
		const char *w = where_prefix(where);

		it_error_set(err, r, "%s%sbad pattern '%s': %s", w ? w : "", w ? ": " : "", pattern,
			     msg);
		it_error_hint(err, "patterns are PCRE2 regular expressions; "
				   "use a literal string for text with special characters");
	}
out:
	buf_release(&b);
	if (r == -ENOMEM)
		it_error_set(err, r, "cannot compile pattern '%s': %s", pattern, strerror(ENOMEM));
	return r;
}

/* ---- setup ------------------------------------------------------------------------------- */

/*
 * The oops pattern is die()'s line on x86 and arm: "Oops: 0000 [#1] PREEMPT SMP",
 * "general protection fault, probably for non-canonical address 0x...: 0000 [#1]",
 * "invalid opcode: 0000 [#1]", "Internal error: Oops: 96000004 [#1]". A bare
 * "Oops: " also appears in ordinary text.
 */
static const struct {
	const char *pattern;
	bool literal;
	const char *what;
} builtin_fails[] = {
    {"Kernel panic", true, EXPECT_BUILTIN ": kernel panic"},
    {": [0-9a-fx]+ \\[#[0-9]+\\]", false, EXPECT_BUILTIN ": kernel oops"},
    {"can't run '/etc/init.d/rcS'", true, EXPECT_BUILTIN ": busybox init has no rcS"},
    {"^ \\* ERROR:", false, EXPECT_BUILTIN ": OpenRC error"},
};

static int grow(void **v, size_t *alloc, size_t n, size_t size)
{
	size_t a = *alloc ? *alloc * 2 : 8;
	void *p;

	if (n < *alloc)
		return 0;
	p = realloc(*v, a * size);
	if (!p)
		return -ENOMEM;
	memset((char *)p + *alloc * size, 0, (a - *alloc) * size);
	*v = p;
	*alloc = a;
	return 0;
}

int expect_add_fail(struct expect *e, const char *pattern, bool literal, const char *where,
		    struct it_error *err)
{
	struct pat *p;
	int r;

	if (e->started)
		return it_error_set(err, -EINVAL, "cannot add fail pattern '%s' after the start",
				    pattern);
	r = grow((void **)&e->fails, &e->afails, e->nfails, sizeof(*e->fails));
	if (r < 0)
		return it_error_set(err, r, "cannot add fail pattern '%s': %s", pattern,
				    strerror(-r));
	p = &e->fails[e->nfails];
	r = pat_init(e, p, pattern, literal, where, false, err);
	if (r < 0) {
		pat_release(p);
		return r;
	}
	e->nfails++;
	return 0;
}

void expect_clear_fails(struct expect *e)
{
	for (size_t i = 0; i < e->nfails; i++)
		pat_release(&e->fails[i]);
	e->nfails = 0;
}

int expect_new(struct expect **out)
{
	struct expect *e = NULL;
	int r = -ENOMEM;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	buf_init(&e->line, EXPECT_LINE_MAX);
	buf_init(&e->out, EXPECT_OUTPUT_MAX);
	e->blk_gen = 1; /* a new pattern's blk_gen, 0, is never current */
	e->run_deadline = -1;
	e->step_deadline = -1;
	e->open_first = SIZE_MAX;
	e->oc.at_ms = -1;
	e->oc.line = "";
	e->oc.fail_pattern = "";
	e->oc.fail_where = "";
	e->blk = malloc(BLOCK_MAX);
	if (!e->blk)
		goto out;
	e->gctx = pcre2_general_context_create(pc_malloc, pc_free, e);
	if (!e->gctx)
		goto out;
	e->cctx = pcre2_compile_context_create(e->gctx);
	e->mctx = pcre2_match_context_create(e->gctx);
	if (!e->cctx || !e->mctx)
		goto out;
	pcre2_set_match_limit(e->mctx, MATCH_LIMIT);
	e->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, e->gctx);
	if (e->jit)
		pcre2_jit_stack_assign(e->mctx, NULL, e->jit);
	for (size_t i = 0; i < ARRAY_SIZE(builtin_fails); i++) {
		r = expect_add_fail(e, builtin_fails[i].pattern, builtin_fails[i].literal,
				    builtin_fails[i].what, NULL);
		if (r < 0)
			goto out;
	}
	*out = e;
	e = NULL;
	r = 0;
out:
	expect_free(e);
	return r;
}

static void step_release(struct step *s)
{
	pat_release(&s->pat);
	free(s->name);
	free(s->where);
	free(s->text);
	free(s->subst);
	free(s->line);
}

static void captures_clear_num(struct expect *e)
{
	for (size_t i = 0; i < e->nnum; i++)
		free(e->num[i]);
	free(e->num);
	e->num = NULL;
	e->nnum = 0;
}

void expect_free(struct expect *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nsteps; i++)
		step_release(&e->steps[i]);
	free(e->steps);
	expect_clear_fails(e);
	free(e->fails);
	captures_clear_num(e);
	for (size_t i = 0; i < e->nnamed; i++) {
		free(e->named[i].name);
		free(e->named[i].value);
	}
	free(e->named);
	free(e->oc_line);
	free(e->bad_msg);
	buf_release(&e->line);
	buf_release(&e->out);
	free(e->blk);
	pcre2_jit_stack_free(e->jit);
	pcre2_match_context_free(e->mctx);
	pcre2_compile_context_free(e->cctx);
	pcre2_general_context_free(e->gctx);
	free(e);
}

/* A new step at the end, with its strings; the caller fills in the rest. */
static int step_new(struct expect *e, enum expect_kind kind, const char *name, const char *where,
		    struct step **out)
{
	struct step *s;
	int r;

	r = grow((void **)&e->steps, &e->asteps, e->nsteps, sizeof(*e->steps));
	if (r < 0)
		return r;
	s = &e->steps[e->nsteps];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->name = dup_or_empty(name);
	s->where = dup_or_empty(where);
	if (!s->name || !s->where) {
		step_release(s);
		return -ENOMEM;
	}
	s->res.kind = kind;
	s->res.status = EXPECT_STEP_PENDING;
	s->res.name = s->name;
	s->res.where = s->where;
	s->res.at_ms = -1;
	*out = s;
	return 0;
}

int expect_add_expect(struct expect *e, const char *name, const char *pattern, bool literal,
		      int64_t timeout_ms, const char *where, struct it_error *err)
{
	struct step *s = NULL;
	int r;

	if (e->started)
		return it_error_set(err, -EINVAL, "cannot add step '%s' after the start",
				    name ? name : pattern);
	r = refs_check(e, pattern, !literal, where, err);
	if (r < 0)
		return r;
	r = step_new(e, EXPECT_KIND_EXPECT, name, where, &s);
	if (r < 0)
		return it_error_set(err, r, "cannot add step '%s': %s", pattern, strerror(-r));
	r = pat_init(e, &s->pat, pattern, literal, where, true, err);
	if (r < 0) {
		step_release(s);
		return r;
	}
	s->res.pattern = s->pat.src;
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
	s->res.timeout_ms = s->timeout_ms;
	e->nsteps++;
	return 0;
}

/* A new step of kind that carries text (a send's, an external step's), references checked. */
static int text_step(struct expect *e, enum expect_kind kind, const char *name, const char *text,
		     const char *where, struct step **out, struct it_error *err)
{
	struct step *s = NULL;
	int r;

	if (e->started)
		return it_error_set(err, -EINVAL, "cannot add step '%s' after the start",
				    name ? name : text);
	r = refs_check(e, text, false, where, err);
	if (r < 0)
		return r;
	r = step_new(e, kind, name, where, &s);
	if (r < 0)
		return it_error_set(err, r, "cannot add step '%s': %s", text, strerror(-r));
	s->text = strdup(text);
	if (!s->text) {
		step_release(s);
		return it_error_set(err, -ENOMEM, "cannot add step '%s': %s", text,
				    strerror(ENOMEM));
	}
	*out = s;
	return 0;
}

int expect_add_send(struct expect *e, const char *name, const char *text, const char *where,
		    struct it_error *err)
{
	struct step *s = NULL;
	int r = text_step(e, EXPECT_KIND_SEND, name, text, where, &s, err);

	if (r < 0)
		return r;
	s->res.pattern = s->text;
	e->nsteps++;
	return 0;
}

int expect_add_external(struct expect *e, const char *name, const char *text, const char *capture,
			bool capture_literal, int64_t timeout_ms, const char *where,
			struct it_error *err)
{
	struct step *s = NULL;
	int r = text_step(e, EXPECT_KIND_EXTERNAL, name, text, where, &s, err);

	if (r < 0)
		return r;
	s->pat.multiline = true;
	if (capture)
		r = refs_check(e, capture, !capture_literal, where, err);
	if (r == 0 && capture)
		r = pat_init(e, &s->pat, capture, capture_literal, where, true, err);
	if (r < 0) {
		step_release(s);
		return r;
	}
	s->res.pattern = s->text;
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
	s->res.timeout_ms = s->timeout_ms;
	e->nsteps++;
	return 0;
}

void expect_set_run_timeout(struct expect *e, int64_t ms)
{
	e->run_timeout_ms = ms > 0 ? ms : 0;
}

void expect_disable_timeouts(struct expect *e)
{
	e->no_timeouts = true;
	e->run_deadline = -1;
	e->step_deadline = -1;
}

/* ---- the run ----------------------------------------------------------------------------- */

static bool running(const struct expect *e)
{
	return e->started && e->oc.state == EXPECT_RUNNING;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* p[0..n) without its outer blanks; of a long line, SHOW_MAX bytes from SHOW_BEFORE before 'at'. */
static char *dup_shown(const char *p, size_t n, size_t at)
{
	size_t start = 0, end = n;

	if (n > SHOW_MAX) {
		start = at > SHOW_BEFORE ? at - SHOW_BEFORE : 0;
		if (start > n - SHOW_MAX)
			start = n - SHOW_MAX;
		end = start + SHOW_MAX;
	}
	while (start < end && is_blank(p[start]))
		start++;
	while (end > start && is_blank(p[end - 1]))
		end--;
	return blob_dup(blob_mem(p + start, end - start));
}

static void set_oc_line(struct expect *e, const char *p, size_t n, size_t at)
{
	char *s = dup_shown(p, n, at);

	if (!s)
		return; /* keep the previous text rather than fail the report */
	free(e->oc_line);
	e->oc_line = s;
	e->oc.line = s;
}

/* The line being matched: one of the block, or the one gathered in e->line. */
static struct blob cur_line(const struct expect *e)
{
	return e->in_blk ? e->blk_line : buf_blob(&e->line);
}

/* End the run: mark the current step and skip the rest. */
static void end_run(struct expect *e, enum expect_state state, enum expect_why why, int64_t at)
{
	enum expect_status st =
	    state == EXPECT_TIMED_OUT ? EXPECT_STEP_TIMED_OUT : EXPECT_STEP_FAILED;

	e->oc.state = state;
	e->oc.why = why;
	e->oc.step = e->cur;
	e->oc.at_ms = at - e->start_ms;
	e->run_deadline = -1;
	e->step_deadline = -1;
	if (state == EXPECT_PASSED)
		return;
	if (why != EXPECT_WHY_FAIL_PATTERN) {
		struct blob line = cur_line(e);

		if (line.len > 0)
			set_oc_line(e, line.ptr, line.len, line.len);
		else
			e->oc.line = e->last_line;
	}
	for (size_t i = e->cur; i < e->nsteps; i++)
		e->steps[i].res.status = i == e->cur ? st : EXPECT_STEP_SKIPPED;
}

/* Named capture 'name' becomes value (a copy): its slot replaced, or a new one. */
static int named_set(struct expect *e, const char *name, const char *value)
{
	struct named *slot = NULL;
	char *copy;

	for (size_t j = 0; j < e->nnamed && !slot; j++) {
		if (strcmp(e->named[j].name, name) == 0)
			slot = &e->named[j];
	}
	if (!slot) {
		if (grow((void **)&e->named, &e->anamed, e->nnamed, sizeof(*e->named)) < 0)
			return -ENOMEM;
		slot = &e->named[e->nnamed];
		slot->name = strdup(name);
		slot->value = NULL;
		if (!slot->name)
			return -ENOMEM;
		e->nnamed++;
	}
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	free(slot->value);
	slot->value = copy;
	return 0;
}

/* Save the groups of the step's match: numbered ones replace the last, named ones are merged. */
static int captures_save(struct expect *e, const struct pat *p, struct blob line, int rc)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
	uint32_t groups = 0, count = 0, size = 0;
	PCRE2_SPTR table = NULL;
	char **num;

	pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &groups);
	num = calloc((size_t)groups + 1, sizeof(*num));
	if (!num)
		return -ENOMEM;
	for (uint32_t i = 0; i <= groups; i++) {
		if ((int)i >= rc || ov[2 * i] == PCRE2_UNSET)
			continue;
		num[i] = blob_dup(blob_mem(line.ptr + ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
		if (!num[i]) {
			for (uint32_t j = 0; j < i; j++)
				free(num[j]);
			free(num);
			return -ENOMEM;
		}
	}
	captures_clear_num(e);
	e->num = num;
	e->nnum = (size_t)groups + 1;

	pcre2_pattern_info(p->code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMETABLE, &table);
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *entry = table + (size_t)i * size;
		uint32_t g = (uint32_t)entry[0] << 8 | entry[1];
		const char *name = (const char *)entry + 2;
		const char *v = g < e->nnum && e->num[g] ? e->num[g] : "";
		int r = named_set(e, name, v);

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * A pattern with ${refs} compiled again with their values, as its step becomes
 * current; one that no longer compiles ends the run (BAD_PATTERN).
 */
static int refill_pattern(struct expect *e, struct step *s, struct buf *b, int64_t now)
{
	char msg[300];
	int r;

	if (!s->pat.code || !s->pat.has_refs)
		return 0;
	r = subst(e, s->pat.src, !s->pat.literal, s->pat.literal, b);
	if (r >= 0)
		r = pat_compile(e, &s->pat, b->data, b->len, msg, sizeof(msg));
	if (r == -IT_ESCENARIO || r == -IT_ELIMIT) {
		free(e->bad_msg);
		e->bad_msg = strdup(r == -IT_ELIMIT ? "too long" : msg);
		e->oc.fail_pattern = e->bad_msg ? e->bad_msg : "";
		end_run(e, EXPECT_FAILED, EXPECT_WHY_BAD_PATTERN, now);
		return 0;
	}
	return r;
}

/* An external step's text with its ${refs} filled in. */
static int refill_text(struct expect *e, struct step *s, struct buf *b)
{
	int r = subst(e, s->text, false, false, b);

	if (r < 0)
		return r;
	free(s->subst);
	s->subst = strdup(b->data ? b->data : "");
	return s->subst ? 0 : -ENOMEM;
}

/*
 * Make steps current from e->cur on: sends are queued and pass; stops at an
 * expect or an external step.
 */
static int activate(struct expect *e, size_t from, int64_t now)
{
	struct buf b = BUF_INIT;
	int r = 0;

	buf_init(&b, SUBST_MAX);
	while (e->cur < e->nsteps) {
		struct step *s = &e->steps[e->cur];

		if (s->kind != EXPECT_KIND_SEND) {
			r = refill_pattern(e, s, &b, now);
			if (r == 0 && running(e) && s->kind == EXPECT_KIND_EXTERNAL)
				r = refill_text(e, s, &b);
			if (r < 0 || !running(e))
				goto out;
			s->pat.resume = from;
			e->resume_dirty = true;
			e->step_deadline =
			    s->timeout_ms > 0 && !e->no_timeouts ? now + s->timeout_ms : -1;
			goto out;
		}
		r = subst(e, s->text, false, false, &b);
		if (r >= 0)
			r = buf_add(&e->out, b.data, b.len);
		if (r == -IT_ELIMIT) {
			end_run(e, EXPECT_FAILED, EXPECT_WHY_OUTPUT_FULL, now);
			r = 0;
			goto out;
		}
		if (r < 0)
			goto out;
		e->st.bytes_out += b.len;
		s->res.status = EXPECT_STEP_PASSED;
		s->res.at_ms = now - e->start_ms;
		e->cur++;
	}
	e->step_deadline = -1;
	end_run(e, EXPECT_PASSED, EXPECT_WHY_NONE, now);
out:
	buf_release(&b);
	return r;
}

int expect_start(struct expect *e, int64_t now_ms)
{
	if (e->started)
		return 0;
	e->started = true;
	e->start_ms = now_ms;
	if (e->run_timeout_ms > 0 && !e->no_timeouts)
		e->run_deadline = now_ms + e->run_timeout_ms;
	return activate(e, 0, now_ms);
}

/* ---- checkpoints ----------------------------------------------------------------------------- */

int expect_capture_at(const struct expect *e, size_t i, char *ref, size_t refsz, const char **value)
{
	if (i < e->nnum) {
		snprintf(ref, refsz, "%zu", i);
		*value = e->num[i];
		return 1;
	}
	i -= e->nnum;
	if (i >= e->nnamed)
		return 0;
	snprintf(ref, refsz, "%s", e->named[i].name);
	*value = e->named[i].value;
	return 1;
}

static int restore_capture(struct expect *e, const char *ref, const char *value)
{
	unsigned long n;

	if (is_number(ref, strlen(ref), &n)) {
		if (n >= SUBST_MAX)
			return -EINVAL;
		if (n >= e->nnum) {
			char **v = realloc(e->num, (n + 1) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			memset(v + e->nnum, 0, (n + 1 - e->nnum) * sizeof(*v));
			e->num = v;
			e->nnum = n + 1;
		}
		free(e->num[n]);
		e->num[n] = value ? strdup(value) : NULL;
		return value && !e->num[n] ? -ENOMEM : 0;
	}
	return named_set(e, ref, value ? value : "");
}

int expect_start_restored(struct expect *e, int64_t start_ms, int64_t now_ms,
			  const struct expect_restored *from)
{
	int r;

	if (e->started || from->upto > e->nsteps)
		return -EINVAL;
	e->started = true;
	e->start_ms = start_ms;
	if (e->run_timeout_ms > 0 && !e->no_timeouts)
		e->run_deadline = start_ms + e->run_timeout_ms;
	for (size_t i = 0; i < from->upto; i++) {
		struct step *s = &e->steps[i];

		s->res.status = EXPECT_STEP_PASSED;
		s->res.at_ms = from->at_ms[i];
		if (from->lines[i]) {
			s->line = strdup(from->lines[i]);
			if (!s->line)
				return -ENOMEM;
			s->res.line = s->line;
		}
	}
	for (size_t i = 0; i < from->ncaps; i++) {
		r = restore_capture(e, from->refs[i], from->values[i]);
		if (r < 0)
			return r;
	}
	e->cur = from->upto;
	return activate(e, 0, now_ms);
}

/* ---- lines and literals ------------------------------------------------------------------ */

static bool has_text(struct blob line)
{
	for (size_t i = 0; i < line.len; i++) {
		if (!is_blank(line.ptr[i]))
			return true;
	}
	return false;
}

/* The fail patterns and the current step: the patterns that look at the current line. */
static void resume_reset(struct expect *e)
{
	for (size_t i = 0; i < e->nfails; i++)
		e->fails[i].resume = 0;
	if (e->cur < e->nsteps)
		e->steps[e->cur].pat.resume = 0;
	e->resume_dirty = false;
}

static void lit_reset(struct expect *e)
{
	for (size_t i = 0; i < e->nfails; i++) {
		e->fails[i].lit_from = 0;
		e->fails[i].lit_seen = false;
	}
	if (e->cur < e->nsteps) {
		e->steps[e->cur].pat.lit_from = 0;
		e->steps[e->cur].pat.lit_seen = false;
	}
}

/*
 * The first place of p's literal in the block at or after offset a (blk_len:
 * none; a: p has no literal, every line may match). The place is kept, so
 * one memchr() run serves all the lines up to it.
 */
static size_t blk_lit_next(struct expect *e, struct pat *p, size_t a)
{
	if (p->lit.len == 0)
		return a;
	if (p->blk_gen != e->blk_gen || p->blk_next < a) {
		p->blk_next = a + lit_find(&p->lit, e->blk + a, e->blk_len - a);
		p->blk_gen = e->blk_gen;
	}
	return p->blk_next;
}

/* Does the line of the block at blk[a..a+len) hold p's literal? */
static bool blk_has_lit(struct expect *e, struct pat *p, size_t a, size_t len)
{
	/* If the first place ends beyond the line, so do all later ones. */
	return blk_lit_next(e, p, a) + p->lit.len <= a + len;
}

/* Does e->line hold p's literal? Only what it gained since the last look is searched. */
static bool line_has_lit(struct expect *e, struct pat *p)
{
	size_t len = e->line.len, n = p->lit.len, at;

	if (p->lit_seen)
		return true;
	if (p->lit_from < len) {
		at = p->lit_from + lit_find(&p->lit, e->line.data + p->lit_from, len - p->lit_from);
		if (at < len) {
			p->lit_seen = true;
			return true;
		}
	}
	/* A later place can begin in the last n - 1 bytes at the earliest. */
	if (len >= n && len - (n - 1) > p->lit_from)
		p->lit_from = len - (n - 1);
	return false;
}

/* False when 'line' cannot match p: it lacks text that every match of p contains. */
static bool may_match(struct expect *e, struct pat *p, struct blob line)
{
	if (p->lit.len == 0)
		return true;
	if (e->in_blk)
		return blk_has_lit(e, p, (size_t)(line.ptr - e->blk), line.len);
	return line_has_lit(e, p);
}

/*
 * Match p on 'line' from p->resume. 'complete': the line has ended;
 * otherwise a match counts only if more text could not change it, and
 * p->resume moves to where a later match could still start.
 * Returns 1 on a match (ovector in p->md, rc in *rc), 0 otherwise.
 */
static int pat_match(struct expect *e, struct pat *p, struct blob line, bool complete, int *rcp)
{
	PCRE2_SIZE *ov;
	uint32_t opts = complete ? 0 : PCRE2_PARTIAL_HARD;
	size_t len = line.len;
	int rc = PCRE2_ERROR_JIT_BADOPTION;

	e->resume_dirty = true;
	if (p->resume > len)
		p->resume = len;
	if (!e->in_blk && e->line_cut)
		opts |= PCRE2_NOTBOL;
	if (p->jit)
		rc = pcre2_jit_match(p->code, (PCRE2_SPTR)line.ptr, len, p->resume, opts, p->md,
				     e->mctx);
	if (rc == PCRE2_ERROR_JIT_BADOPTION)
		rc = pcre2_match(p->code, (PCRE2_SPTR)line.ptr, len, p->resume, opts, p->md,
				 e->mctx);
	if (rc >= 0) {
		*rcp = rc;
		return 1;
	}
	if (rc == PCRE2_ERROR_PARTIAL) {
		ov = pcre2_get_ovector_pointer(p->md);
		if (ov[0] > p->resume && ov[0] <= len)
			p->resume = ov[0];
		return 0;
	}
	if (rc != PCRE2_ERROR_NOMATCH)
		e->st.match_errors++;
	/*
	 * On an incomplete line NOMATCH means no match can start before its end,
	 * whatever follows. On a complete line the next output may still be
	 * joined to it (cursor-up), so nothing is ruled out.
	 */
	if (!complete)
		p->resume = len;
	return 0;
}

static int step_pass(struct expect *e, struct step *s, struct blob line, int rc, bool complete,
		     int64_t now)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->pat.md);
	size_t end = ov[1];
	int r;

	free(s->line);
	s->line = dup_shown(line.ptr, line.len, ov[0]);
	if (!s->line)
		return -ENOMEM;
	s->res.line = s->line;
	s->match_at = ov[0];
	if (!complete && e->open_first == SIZE_MAX)
		e->open_first = e->cur;
	s->res.status = EXPECT_STEP_PASSED;
	s->res.at_ms = now - e->start_ms;
	r = captures_save(e, &s->pat, line, rc);
	if (r < 0)
		return r;
	e->cur++;
	return activate(e, end, now);
}

/* Try the fail patterns, then the current step and the ones after it, on the current line. */
static int scan(struct expect *e, struct blob line, bool complete, int64_t now)
{
	int rc = 0;

	if (!running(e))
		return 0;
	for (size_t i = 0; i < e->nfails; i++) {
		struct pat *f = &e->fails[i];

		if (!may_match(e, f, line) || pat_match(e, f, line, complete, &rc) <= 0)
			continue;
		e->oc.fail_pattern = f->src;
		e->oc.fail_where = f->where;
		set_oc_line(e, line.ptr, line.len, pcre2_get_ovector_pointer(f->md)[0]);
		e->fail_line_open = !complete;
		end_run(e, EXPECT_FAILED, EXPECT_WHY_FAIL_PATTERN, now);
		return 0;
	}
	while (running(e) && e->cur < e->nsteps) {
		struct step *s = &e->steps[e->cur];
		int r;

		if (s->kind != EXPECT_KIND_EXPECT)
			break; /* the caller decides it, whatever the console says */
		if (!may_match(e, &s->pat, line) || pat_match(e, &s->pat, line, complete, &rc) <= 0)
			break;
		r = step_pass(e, s, line, rc, complete, now);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Where the current line starts anew, every pattern starts at its beginning. */
static void line_reset(struct expect *e)
{
	buf_reset(&e->line);
	e->line_done = false;
	e->line_cut = false;
	e->line_scanned = 0;
	resume_reset(e);
	lit_reset(e);
}

static size_t cut_offset(size_t off, size_t drop)
{
	return off > drop ? off - drop : 0;
}

static void pat_cut(struct pat *p, size_t drop)
{
	p->resume = cut_offset(p->resume, drop);
	/* A place found may be gone; the search resumes where it had begun. */
	p->lit_from = cut_offset(p->lit_from, drop);
	p->lit_seen = false;
}

/* The line is full: match what is there, then keep only its tail. */
static int line_cut(struct expect *e, int64_t now)
{
	size_t drop = e->line.len - LINE_KEEP;
	int r;

	if (e->line.len > e->line_scanned) {
		r = scan(e, buf_blob(&e->line), false, now);
		if (r < 0)
			return r;
	}
	buf_consume(&e->line, drop);
	e->line_cut = true;
	e->line_scanned = cut_offset(e->line_scanned, drop);
	for (size_t i = 0; i < e->nfails; i++)
		pat_cut(&e->fails[i], drop);
	if (e->cur < e->nsteps)
		pat_cut(&e->steps[e->cur].pat, drop);
	for (size_t i = e->open_first; i < e->cur && i < e->nsteps; i++)
		e->steps[i].match_at = cut_offset(e->steps[i].match_at, drop);
	e->st.lines_cut++;
	return 0;
}

static int line_add(struct expect *e, const char *p, size_t n, int64_t now)
{
	int r;

	if (e->line_done)
		line_reset(e);
	while (n > 0) {
		size_t room = EXPECT_LINE_MAX - e->line.len;
		size_t k;

		if (room == 0) {
			r = line_cut(e, now);
			if (r < 0)
				return r;
			room = EXPECT_LINE_MAX - e->line.len;
		}
		k = n < room ? n : room;
		r = buf_add(&e->line, p, k);
		if (r < 0)
			return r;
		p += k;
		n -= k;
	}
	return 0;
}

static void remember_last_line(struct expect *e, struct blob line)
{
	const char *p = line.ptr;
	size_t n = line.len;

	while (n > 0 && is_blank(p[n - 1]))
		n--;
	while (n > 0 && is_blank(*p)) {
		p++;
		n--;
	}
	if (n == 0)
		return;
	if (n >= sizeof(e->last_line))
		n = sizeof(e->last_line) - 1;
	memcpy(e->last_line, p, n);
	e->last_line[n] = '\0';
}

/* Steps that matched while their line was unfinished show the whole line once it ends. */
static int complete_open_steps(struct expect *e, struct blob line)
{
	for (size_t i = e->open_first; i < e->cur && i < e->nsteps; i++) {
		struct step *s = &e->steps[i];
		char *shown;

		if (s->kind != EXPECT_KIND_EXPECT || !s->line)
			continue;
		shown = dup_shown(line.ptr, line.len, s->match_at);
		if (!shown)
			return -ENOMEM;
		free(s->line);
		s->line = shown;
		s->res.line = shown;
	}
	e->open_first = SIZE_MAX;
	return 0;
}

/* What the end of a line means once it has been matched complete. */
static int line_finish(struct expect *e, struct blob line)
{
	int r;

	if (e->open_first != SIZE_MAX) {
		r = complete_open_steps(e, line);
		if (r < 0)
			return r;
	}
	if (e->fail_line_open) {
		set_oc_line(e, line.ptr, line.len, 0);
		e->fail_line_open = false;
	}
	return 0;
}

static int line_end(struct expect *e, int64_t now)
{
	int r;

	if (e->line_done)
		line_reset(e); /* an empty line */
	e->st.lines++;
	r = scan(e, buf_blob(&e->line), true, now);
	if (r < 0)
		return r;
	remember_last_line(e, buf_blob(&e->line));
	r = line_finish(e, buf_blob(&e->line));
	if (r < 0)
		return r;
	e->line_done = true;
	e->line_scanned = e->line.len;
	return 0;
}

/* ---- the block ----------------------------------------------------------------------------- */

/*
 * Can the current line go to the block? Only a line that has not begun yet
 * (a done line is left behind as text or '\n' comes) and on which nothing
 * matched while it was unfinished.
 */
static bool line_is_new(const struct expect *e)
{
	if (e->open_first != SIZE_MAX || e->fail_line_open)
		return false;
	return e->line_done || (e->line.len == 0 && !e->line_cut);
}

/* Only a line that has not begun goes to the block: none of its matches is open. */
static void blk_enter(struct expect *e)
{
	line_reset(e);
	e->in_blk = true;
	e->blk_len = 0;
}

/* The line of the block at blk[a..b), b at its '\n', without the CR vt_clean() may leave. */
static struct blob blk_view(const struct expect *e, size_t a, size_t b)
{
	if (b > a && e->blk[b - 1] == '\r')
		b--;
	return blob_mem(e->blk + a, b - a);
}

/*
 * A complete line of the block that may match: what line_end() does for
 * e->line. No step can have matched on it while unfinished, nor a fail
 * pattern (only e->line is matched unfinished), so line_finish() has nothing to do.
 */
static int blk_line(struct expect *e, struct blob line, int64_t now)
{
	if (e->resume_dirty)
		resume_reset(e);
	e->blk_line = line;
	return scan(e, line, true, now);
}

/*
 * Offset of the first byte in the block, at or after a, that may begin a
 * match: the nearest place of a literal of a fail pattern or of the current
 * step. Lines before it cannot match anything.
 */
static size_t blk_candidate(struct expect *e, size_t a)
{
	size_t next = e->blk_len;

	if (!running(e))
		return next;
	for (size_t i = 0; i < e->nfails && next > a; i++) {
		size_t at = blk_lit_next(e, &e->fails[i], a);

		if (at < next)
			next = at;
	}
	if (e->cur < e->nsteps && next > a) {
		size_t at = blk_lit_next(e, &e->steps[e->cur].pat, a);

		if (at < next)
			next = at;
	}
	return next;
}

/* The last line of blk[0..end) with more than blanks, for last_line. */
static void blk_last_line(struct expect *e, size_t end)
{
	while (end > 0) {
		const char *nl = memrchr(e->blk, '\n', end - 1);
		size_t a = nl ? (size_t)(nl - e->blk) + 1 : 0;
		struct blob line = blk_view(e, a, end - 1);

		if (has_text(line)) {
			remember_last_line(e, line);
			return;
		}
		end = a;
	}
}

/*
 * Match the complete lines of the block, blk[0..end), where end follows its
 * last '\n': only the lines that hold a literal of a pattern are looked at.
 */
static int blk_match(struct expect *e, size_t end, int64_t now)
{
	size_t a = 0;
	int r = 0;

	e->blk_gen++;
	while (a < end) {
		size_t at = blk_candidate(e, a);
		const char *nl;

		if (at >= end)
			break;
		nl = memrchr(e->blk + a, '\n', at - a);
		if (nl)
			a = (size_t)(nl - e->blk) + 1;
		nl = memchr(e->blk + at, '\n', end - at);
		r = blk_line(e, blk_view(e, a, (size_t)(nl - e->blk)), now);
		if (r < 0)
			return r;
		a = (size_t)(nl - e->blk) + 1;
	}
	return 0;
}

/*
 * Match the complete lines of the block, then go back to e->line: with the
 * unfinished line at the end of the block, or else with the block's last
 * line, done, as line_end() leaves it (a cursor-up may join text to it).
 */
static int blk_flush(struct expect *e, int64_t now)
{
	struct blob line;
	const char *nl;
	size_t end, last;
	int r;

	if (!e->in_blk)
		return 0;
	nl = memrchr(e->blk, '\n', e->blk_len);
	end = nl ? (size_t)(nl - e->blk) + 1 : 0;
	r = blk_match(e, end, now);
	blk_last_line(e, end);
	e->in_blk = false;
	if (r == 0 && end > 0 && end == e->blk_len) {
		nl = memrchr(e->blk, '\n', end - 1);
		last = nl ? (size_t)(nl - e->blk) + 1 : 0;
		line = blk_view(e, last, end - 1);
		/* Unless the last line was matched, its patterns start from its beginning. */
		if (e->blk_line.ptr != line.ptr)
			resume_reset(e);
		r = buf_add(&e->line, line.ptr, line.len);
		e->line_done = true;
		e->line_scanned = e->line.len;
		lit_reset(e);
	} else if (r == 0) {
		r = buf_add(&e->line, e->blk + end, e->blk_len - end);
		resume_reset(e);
		lit_reset(e);
	}
	e->blk_line = BLOB_NULL;
	e->blk_len = 0;
	return r;
}

static int add_text(struct expect *e, const char *p, size_t n, int64_t now)
{
	int r;

	if (e->in_blk && n > BLOCK_MAX - e->blk_len) {
		r = blk_flush(e, now);
		if (r < 0)
			return r;
	}
	if (!e->in_blk && line_is_new(e) && n <= BLOCK_MAX)
		blk_enter(e);
	if (!e->in_blk)
		return line_add(e, p, n, now);
	memcpy(e->blk + e->blk_len, p, n);
	e->blk_len += n;
	return 0;
}

static int add_newline(struct expect *e, int64_t now)
{
	int r;

	if (e->in_blk && e->blk_len == BLOCK_MAX) {
		r = blk_flush(e, now);
		if (r < 0)
			return r;
	}
	if (!e->in_blk && line_is_new(e))
		blk_enter(e);
	if (!e->in_blk)
		return line_end(e, now);
	e->blk[e->blk_len++] = '\n';
	e->st.lines++;
	return 0;
}

static void answer_dsr(struct expect *e)
{
	static const char reply[] = EXPECT_DSR_REPLY;

	if (buf_add(&e->out, reply, sizeof(reply) - 1) < 0)
		return; /* the caller is not writing: an answer can be lost, the run goes on */
	e->st.dsr_answered++;
	e->st.bytes_out += sizeof(reply) - 1;
}

static void check_timeouts(struct expect *e, int64_t now)
{
	bool run, step;

	if (!running(e) || e->no_timeouts)
		return;
	run = e->run_deadline >= 0 && now >= e->run_deadline;
	step = e->step_deadline >= 0 && now >= e->step_deadline;
	if (step && (!run || e->step_deadline <= e->run_deadline))
		end_run(e, EXPECT_TIMED_OUT, EXPECT_WHY_STEP_TIMEOUT, e->step_deadline);
	else if (run)
		end_run(e, EXPECT_TIMED_OUT, EXPECT_WHY_RUN_TIMEOUT, e->run_deadline);
}

static int feed_event(struct expect *e, enum vt_event ev, char c, int64_t now)
{
	int r;

	switch (ev) {
	case VT_EV_CHAR:
		return add_text(e, &c, 1, now);
	case VT_EV_NEWLINE:
		return add_newline(e, now);
	case VT_EV_UP:
		/* Join what follows to the line just ended; leave anything else alone. */
		r = blk_flush(e, now);
		if (e->line_done)
			e->line_done = false;
		return r;
	case VT_EV_DSR:
		/* Sends for the lines before the request go out before its answer. */
		r = blk_flush(e, now);
		answer_dsr(e);
		return r;
	case VT_EV_NONE:
		break;
	}
	return 0;
}

int expect_feed(struct expect *e, const char *buf, size_t len, int64_t now_ms)
{
	size_t i = 0;
	int r;

	if (!e->started) {
		r = expect_start(e, now_ms);
		if (r < 0)
			return r;
	}
	e->st.bytes_in += len;
	check_timeouts(e, now_ms);
	while (i < len) {
		unsigned char c = (unsigned char)buf[i];

		/* Text or '\n' starts a new line; before, a cursor-up may join the last. */
		if (!e->in_blk && e->vt.st == VT_GROUND && (vt_is_text(c) || c == '\n') &&
		    line_is_new(e))
			blk_enter(e);
		if (e->in_blk && e->vt.st == VT_GROUND) {
			size_t used = 0, nl = 0;
			size_t k = vt_clean(buf + i, len - i, e->blk + e->blk_len,
					    BLOCK_MAX - e->blk_len, &used, &nl);

			e->blk_len += used;
			e->st.lines += nl;
			i += k;
			if (k > 0)
				continue; /* else an ESC or a full block: one step the long way */
		}
		if (e->vt.st == VT_GROUND && vt_is_text(c)) {
			size_t n = vt_text_run(&e->vt, buf + i, len - i);

			r = add_text(e, buf + i, n, now_ms);
			i += n;
		} else {
			r = feed_event(e, vt_step_fast(&e->vt, c), (char)c, now_ms);
			i++;
		}
		if (r < 0)
			return r;
	}
	r = blk_flush(e, now_ms);
	if (r < 0)
		return r;
	if (!e->line_done && e->line.len > e->line_scanned) {
		r = scan(e, buf_blob(&e->line), false, now_ms);
		if (r < 0)
			return r;
		e->line_scanned = e->line.len;
	}
	if (e->fail_line_open)
		set_oc_line(e, e->line.data, e->line.len, 0);
	return (int)e->oc.state;
}

int expect_tick(struct expect *e, int64_t now_ms)
{
	check_timeouts(e, now_ms);
	return (int)e->oc.state;
}

int expect_eof(struct expect *e, int64_t now_ms)
{
	int r;

	if (!e->started) {
		r = expect_start(e, now_ms);
		if (r < 0)
			return r;
	}
	if (running(e))
		end_run(e, EXPECT_FAILED, EXPECT_WHY_EOF, now_ms);
	e->fail_line_open = false;
	return (int)e->oc.state;
}

size_t expect_external(const struct expect *e, const char **text)
{
	const struct step *s;

	if (!running(e) || !e->started || e->cur >= e->nsteps)
		return SIZE_MAX;
	s = &e->steps[e->cur];
	if (s->kind != EXPECT_KIND_EXTERNAL)
		return SIZE_MAX;
	if (text)
		*text = s->subst ? s->subst : s->text;
	return e->cur;
}

int expect_external_match(struct expect *e, struct blob subject)
{
	struct step *s;
	int rc;

	if (expect_external(e, NULL) == SIZE_MAX)
		return 0;
	s = &e->steps[e->cur];
	if (!s->pat.code)
		return 0;
	rc = pcre2_match(s->pat.code, (PCRE2_SPTR)(subject.ptr ? subject.ptr : ""), subject.len, 0,
			 0, s->pat.md, e->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		e->st.match_errors++;
		return 0;
	}
	return captures_save(e, &s->pat, subject, rc) < 0 ? -ENOMEM : 1;
}

int expect_external_done(struct expect *e, bool passed, const char *line, int64_t now_ms)
{
	struct step *s;
	int r;

	if (expect_external(e, NULL) == SIZE_MAX)
		return -EINVAL;
	s = &e->steps[e->cur];
	if (!passed) {
		end_run(e, EXPECT_FAILED, EXPECT_WHY_EXTERNAL, now_ms);
		/* end_run() keeps the line of the console otherwise: this one says why. */
		set_oc_line(e, line ? line : "", line ? strlen(line) : 0, 0);
		return (int)e->oc.state;
	}
	free(s->line);
	s->line = line ? strdup(line) : NULL;
	if (line && !s->line)
		return -ENOMEM;
	s->res.line = s->line;
	s->res.status = EXPECT_STEP_PASSED;
	s->res.at_ms = now_ms - e->start_ms;
	e->cur++;
	r = activate(e, 0, now_ms);
	return r < 0 ? r : (int)e->oc.state;
}

int64_t expect_deadline(const struct expect *e)
{
	int64_t a = e->run_deadline, b = e->step_deadline;

	if (!running(e) || e->no_timeouts)
		return -1;
	return deadline_earliest(a, b);
}

enum expect_state expect_state(const struct expect *e)
{
	return e->oc.state;
}

struct blob expect_output(const struct expect *e)
{
	return buf_blob(&e->out);
}

void expect_output_consume(struct expect *e, size_t n)
{
	buf_consume(&e->out, n);
}

size_t expect_nsteps(const struct expect *e)
{
	return e->nsteps;
}

const struct expect_step_result *expect_step(const struct expect *e, size_t i)
{
	return i < e->nsteps ? &e->steps[i].res : NULL;
}

const struct expect_outcome *expect_outcome(const struct expect *e)
{
	return &e->oc;
}

const char *expect_last_line(const struct expect *e)
{
	return e->last_line;
}

const char *expect_capture(const struct expect *e, const char *ref)
{
	return capture_get(e, ref, strlen(ref));
}

void expect_get_stats(const struct expect *e, struct expect_stats *st)
{
	*st = e->st;
}

size_t expect_mem_size(const struct expect *e)
{
	size_t n = sizeof(*e) + e->asteps * sizeof(*e->steps) + e->afails * sizeof(*e->fails);

	for (size_t i = 0; i < e->nsteps; i++) {
		const struct step *s = &e->steps[i];

		n += str_size(s->name) + str_size(s->where) + str_size(s->text) +
		     str_size(s->line) + str_size(s->pat.src) + str_size(s->pat.where);
	}
	for (size_t i = 0; i < e->nfails; i++)
		n += str_size(e->fails[i].src) + str_size(e->fails[i].where);
	n += e->nnum * sizeof(*e->num) + e->anamed * sizeof(*e->named);
	for (size_t i = 0; i < e->nnum; i++)
		n += str_size(e->num[i]);
	for (size_t i = 0; i < e->nnamed; i++)
		n += str_size(e->named[i].name) + str_size(e->named[i].value);
	n += str_size(e->oc_line) + str_size(e->bad_msg);
	n += e->line.alloc + e->out.alloc + e->pcre_mem + (e->blk ? BLOCK_MAX : 0);
	return n;
}

/* ---- messages ---------------------------------------------------------------------------- */

static void step_desc(const struct expect *e, size_t i, char *out, size_t outsz)
{
	const struct step *s = &e->steps[i];

	if (s->name[0] && s->where[0])
		snprintf(out, outsz, "step '%s' (%s)", s->name, s->where);
	else if (s->name[0])
		snprintf(out, outsz, "step '%s'", s->name);
	else if (s->where[0])
		snprintf(out, outsz, "step %zu (%s)", i + 1, s->where);
	else
		snprintf(out, outsz, "step %zu", i + 1);
}

/* What a step waits for: its pattern, or an external step's text. */
static const char *step_what(const struct step *s)
{
	if (!s)
		return "";
	return s->pat.src ? s->pat.src : s->text ? s->text : "";
}

static void hint_last_line(const struct expect *e, struct it_error *err)
{
	if (e->oc.line && e->oc.line[0])
		it_error_hint(err, "last console line: '%.200s'", e->oc.line);
}

int expect_explain(const struct expect *e, struct it_error *err)
{
	const struct expect_outcome *oc = &e->oc;
	const struct step *s = oc->step < e->nsteps ? &e->steps[oc->step] : NULL;
	char desc[200] = "the script";
	long long ms = (long long)oc->at_ms;
	int r;

	if (running(e) || !e->started)
		return it_error_set(err, -IT_EFAIL, "the run has not ended");
	if (oc->state == EXPECT_PASSED)
		return 0;
	if (s)
		step_desc(e, oc->step, desc, sizeof(desc));
	switch (oc->why) {
	case EXPECT_WHY_FAIL_PATTERN:
		r = it_error_set(err, -IT_EFAIL,
				 "fail pattern '%s' (%s) matched at %lld.%03lld s: '%s'",
				 oc->fail_pattern, oc->fail_where[0] ? oc->fail_where : "scenario",
				 ms / 1000, ms % 1000, oc->line);
		it_error_hint(err, "%s was current", desc);
		return r;
	case EXPECT_WHY_STEP_TIMEOUT:
		r = it_error_set(err, -IT_ETIMEOUT, "%s timed out after %lld ms waiting for '%s'",
				 desc, (long long)(s ? s->timeout_ms : 0), step_what(s));
		hint_last_line(e, err);
		return r;
	case EXPECT_WHY_RUN_TIMEOUT:
		r = it_error_set(err, -IT_ETIMEOUT,
				 "run timed out after %lld ms at %s waiting for '%s'",
				 (long long)e->run_timeout_ms, desc, step_what(s));
		hint_last_line(e, err);
		return r;
	case EXPECT_WHY_EXTERNAL:
		return it_error_set(err, -IT_EFAIL, "%s failed: %s", desc, oc->line);
	case EXPECT_WHY_EOF:
		r = it_error_set(err, -IT_EFAIL,
				 "console closed at %lld.%03lld s before %s matched '%s'",
				 ms / 1000, ms % 1000, desc, step_what(s));
		hint_last_line(e, err);
		return r;
	case EXPECT_WHY_OUTPUT_FULL:
		r = it_error_set(err, -IT_EFAIL,
				 "cannot queue %s: %zu bytes for the console are "
				 "still unwritten",
				 desc, e->out.len);
		it_error_hint(err, "the console input is not being drained");
		return r;
	case EXPECT_WHY_BAD_PATTERN:
		return it_error_set(err, -IT_EFAIL, "%s: bad pattern '%s' after substitution: %s",
				    desc, step_what(s), oc->fail_pattern);
	case EXPECT_WHY_NONE:
		break;
	}
	return it_error_set(err, -IT_EFAIL, "%s failed", desc);
}
