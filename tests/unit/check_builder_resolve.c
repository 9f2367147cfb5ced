// SPDX-License-Identifier: MIT
/*
 * Unit tests for builder/resolve.c. The resolver's cases are data:
 * tests/data/solver/NAME.test, one world and its repositories each, with the
 * plan or the error it must give, read by the driver below (the format is in
 * tests/data/solver/README.md). Every expected plan there, and that the
 * error cases fail, was checked against apk 2.14.0 itself. What stays in C
 * is not table-shaped: the Alpine plans in tests/data/<world>.plan (what apk
 * 2.14.0 installs from tests/data/alpine-3.19.1), generated worlds of
 * thousands of packages, the plan's printed form and the API's own edges.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "common/util.h"
#include "tests/unit/builder_util.h"
#include "tests/unit/casefile.h"
#include "tests/unit/testutil.h"

#define ALPINE_INDEX "tests/data/alpine-3.19.1/x86_64/APKINDEX.tar.gz"
#define MAX_REPOS 3
#define SOLVER_DIR "tests/data/solver"
#define MALFORMED_DIR "tests/data/solver-malformed"
#define MSG_MAX 4096

/* What a case directory may hold beside its *.test files. */
static const char *const solver_also[] = {".repo", "README.md", NULL};

static void load_repos(struct apk_db *db, const char *const *repos)
{
	struct it_error err = IT_ERROR_INIT;
	char label[16];

	apk_db_init(db);
	for (int i = 0; i < MAX_REPOS && repos[i]; i++) {
		snprintf(label, sizeof(label), "repo%d", i);
		ck_assert_msg(apk_db_add_index(db, blob_str(repos[i]), label, label, &err) == 0,
			      "%s", err.msg);
	}
}

/* Split on spaces into a world. */
static void make_world(struct strlist *w, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n) {
			char *s = strndup(p, n);

			ck_assert_int_eq(strlist_add_owned(w, s), 0);
		}
		p += n;
		p += strspn(p, " ");
	}
}

/* Each package of the plan as "name-version", "name-version @tag" when it has a tag. */
static void plan_lines(const struct apk_db *db, const struct apk_plan *plan, struct strlist *out)
{
	for (size_t i = 0; i < plan->n; i++)
		ck_assert_int_eq(strlist_addf(out, "%s-%.*s%s%s", plan->pkgs[i]->name->name.ptr,
					      (int)plan->pkgs[i]->version.len,
					      plan->pkgs[i]->version.ptr, plan->tags[i] ? " @" : "",
					      db->tags[plan->tags[i]]),
				 0);
}

static char *plan_text(const struct apk_db *db, const struct apk_plan *plan)
{
	struct strlist l = STRLIST_INIT;
	struct buf b;

	plan_lines(db, plan, &l);
	buf_init(&b, 0);
	for (size_t i = 0; i < l.n; i++)
		buf_addf(&b, "%s%s", i ? " " : "", l.v[i]);
	strlist_clear(&l);
	return buf_detach(&b, NULL);
}

/* ---- the resolver's cases as data (tests/data/solver/README.md) ---- */

/* One case file, read: the world to resolve, the repositories loaded, what it must give. */
struct solver_case {
	struct casefile cf;
	struct apk_db db;
	struct strlist world;
	const struct cf_section *args; /* the first @ARGS */
	bool have_cmd;		       /* its first word, the command, was read */
	const struct cf_section *want; /* the @EXPECT or the @ERROR */
};

static void solver_case_init(struct solver_case *c)
{
	c->cf = (struct casefile)CASEFILE_INIT;
	apk_db_init(&c->db);
	c->world = (struct strlist)STRLIST_INIT;
	c->args = NULL;
	c->have_cmd = false;
	c->want = NULL;
}

static void solver_case_release(struct solver_case *c)
{
	casefile_release(&c->cf);
	apk_db_release(&c->db);
	strlist_clear(&c->world);
}

/* One word of @ARGS: the command first ('add': a fresh root), then the world. */
static int args_word(struct solver_case *c, const char *w, size_t n, unsigned no)
{
	if (!c->have_cmd) {
		if (n != 3 || strncmp(w, "add", 3) != 0)
			return casefile_fail(&c->cf, no, "@ARGS: the command is 'add', not '%.*s'",
					     (int)n, w);
		c->have_cmd = true;
		return 0;
	}
	if (w[0] == '-')
		return casefile_fail(&c->cf, no, "@ARGS: unknown option '%.*s'", (int)n, w);
	if (strlist_add_owned(&c->world, strndup(w, n)) < 0)
		return casefile_fail(&c->cf, no, "out of memory");
	return 0;
}

static int args_text(struct solver_case *c, const char *p, unsigned no)
{
	while (*p) {
		size_t n = strcspn(p, " \t");

		if (n && args_word(c, p, n, no) < 0)
			return -1;
		p += n;
		p += strspn(p, " \t");
	}
	return 0;
}

/* '@ARGS add WORLD...': words on the section line and on the lines below it. */
static int sc_args(struct solver_case *c, const struct cf_section *s)
{
	if (!c->args)
		c->args = s;
	if (args_text(c, s->arg, s->no) < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		if (args_text(c, cf_body(&c->cf, s, i)->text, cf_body(&c->cf, s, i)->no) < 0)
			return -1;
	return 0;
}

static bool body_blank(const struct casefile *cf, const struct cf_section *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (cf_body(cf, s, i)->text[0])
			return false;
	return true;
}

/* Drop the lines of b that start with '#': a .repo file may say what it holds. */
static void drop_comments(struct buf *b)
{
	size_t in = 0, out = 0;

	while (in < b->len) {
		const char *nl = memchr(b->data + in, '\n', b->len - in);
		size_t n = nl ? (size_t)(nl - (b->data + in)) + 1 : b->len - in;

		if (b->data[in] != '#') {
			memmove(b->data + out, b->data + in, n);
			out += n;
		}
		in += n;
	}
	b->len = out;
	b->data[out] = '\0';
}

/* '@REPO FILE': FILE beside the case, an index's text or a signed APKINDEX.tar.gz, into text. */
static int repo_file(struct solver_case *c, const struct cf_section *s, const char *file,
		     struct buf *text)
{
	char path[1024];
	const char *slash = strrchr(c->cf.path, '/');
	int dirlen = slash ? (int)(slash + 1 - c->cf.path) : 0;
	int r;

	if (!body_blank(&c->cf, s) || strchr(file, ' '))
		return casefile_fail(&c->cf, s->no,
				     "@REPO: one file name, or index lines below a bare '@REPO'");
	snprintf(path, sizeof(path), "%.*s%s", dirlen, c->cf.path, file);
	if (access(path, R_OK) != 0)
		return casefile_fail(&c->cf, s->no, "@REPO: cannot read '%s': %s", path,
				     strerror(errno));
	if (strlen(path) > 7 && strcmp(path + strlen(path) - 7, ".tar.gz") == 0) {
		buf_release(text);
		tu_read_apkindex(path, text);
		return 0;
	}
	r = buf_read_file(text, path);
	if (r < 0)
		return casefile_fail(&c->cf, s->no, "@REPO: cannot read '%s': %s", path,
				     strerror(-r));
	drop_comments(text);
	return 0;
}

/* A bare '@REPO': the lines below it are the index, blank lines between the packages. */
static int repo_inline(struct solver_case *c, const struct cf_section *s, struct buf *text)
{
	if (body_blank(&c->cf, s))
		return casefile_fail(&c->cf, s->no, "@REPO: no file name and no index lines");
	for (size_t i = 0; i < s->n; i++)
		ck_assert_int_eq(buf_addf(text, "%s\n", cf_body(&c->cf, s, i)->text), 0);
	return 0;
}

/* '@REPO' adds a repository; the first one has the highest priority, as in apk. */
static int sc_repo(struct solver_case *c, const struct cf_section *s)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf text;
	char label[32];
	int r;

	const char *file = s->arg, *tag = NULL;
	size_t taglen = 0;

	if (file[0] == '@') {
		/* '@REPO @testing [FILE]': a tagged repository (apk's '@testing URL'). */
		tag = file + 1;
		taglen = strcspn(tag, " ");
		file = tag + taglen;
		file += strspn(file, " ");
	}
	buf_init(&text, 64 << 20);
	r = file[0] ? repo_file(c, s, file, &text) : repo_inline(c, s, &text);
	if (r == 0) {
		snprintf(label, sizeof(label), "repo%u", c->db.nrepos);
		if (apk_db_add_index(&c->db, buf_blob(&text), label, label, &err) != 0 ||
		    (tag && apk_db_tag_repo(&c->db, c->db.nrepos - 1, (struct blob){taglen, tag},
					    &err) != 0))
			r = casefile_fail(&c->cf, s->no, "@REPO: %s", err.msg);
	}
	buf_release(&text);
	return r;
}

/* The error kinds '@ERROR KIND' may name: the project's codes, as it_strerror() words them. */
static bool error_kind_known(const char *kind)
{
	for (int code = IT_EBASE + 1; code < IT_EMAX; code++)
		if (strcmp(kind, it_strerror(-code)) == 0)
			return true;
	return false;
}

/* '@EXPECT' (the plan) or '@ERROR [KIND]' (the error): one of them, once. */
static int sc_want(struct solver_case *c, const struct cf_section *s)
{
	if (c->want)
		return casefile_fail(&c->cf, s->no, "@%s: the case already has @%s (line %u)",
				     s->name, c->want->name, c->want->no);
	if (!strcmp(s->name, "EXPECT") && s->arg[0])
		return casefile_fail(&c->cf, s->no, "@EXPECT takes nothing on its line");
	if (!strcmp(s->name, "ERROR") && s->arg[0] && !error_kind_known(s->arg))
		return casefile_fail(&c->cf, s->no,
				     "@ERROR: unknown kind '%s' (say it as it_strerror() does, "
				     "e.g. 'malformed input')",
				     s->arg);
	c->want = s;
	return 0;
}

static const struct section_kind {
	const char *name;
	int (*fn)(struct solver_case *c, const struct cf_section *s);
} section_kinds[] = {
    {"ARGS", sc_args},
    {"REPO", sc_repo},
    {"EXPECT", sc_want},
    {"ERROR", sc_want},
};

static int read_section(struct solver_case *c, const struct cf_section *s)
{
	for (size_t k = 0; k < ARRAY_SIZE(section_kinds); k++)
		if (!strcmp(s->name, section_kinds[k].name))
			return section_kinds[k].fn(c, s);
	return casefile_fail(
	    &c->cf, s->no, "unknown section '@%s' (known: @ARGS, @REPO, @EXPECT, @ERROR)", s->name);
}

/*
 * Read the case at 'path' (from 'text' when not NULL): its sections, its
 * repositories loaded. 0, or -1 with "PATH:LINE: what" in c->cf.err.
 */
static int solver_case_open(struct solver_case *c, const char *path, const char *text)
{
	int r = text ? casefile_parse(&c->cf, path, text) : casefile_load(&c->cf, path);

	if (r < 0)
		return r;
	if (!c->cf.head_comments)
		return casefile_fail(&c->cf, 1, "a case opens with a comment saying what it shows");
	for (size_t i = 0; i < c->cf.nsecs; i++)
		if (read_section(c, &c->cf.secs[i]) < 0)
			return -1;
	if (!c->args)
		return casefile_fail(&c->cf, 0, "no @ARGS: nothing to resolve");
	if (!c->have_cmd)
		return casefile_fail(&c->cf, c->args->no, "@ARGS: no command ('add WORLD...')");
	if (!c->want)
		return casefile_fail(&c->cf, 0, "neither @EXPECT nor @ERROR: nothing to check");
	return 0;
}

static void join(char *out, size_t n, const struct strlist *l)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", l->v[i]);
}

/* Fail the test unless 'got' is the body of section s (its non-blank lines), line for line. */
static void assert_body(const struct casefile *cf, const struct cf_section *s,
			const struct strlist *got)
{
	struct strlist want = STRLIST_INIT;
	size_t at = SIZE_MAX; /* the first line that differs */
	unsigned no = 0;      /* and its number in the file */
	char w[MSG_MAX], g[MSG_MAX], what[MSG_MAX];

	for (size_t j = 0; j < s->n; j++) {
		const struct cf_line *l = cf_body(cf, s, j);

		if (!l->text[0])
			continue;
		if (at == SIZE_MAX && (want.n >= got->n || strcmp(l->text, got->v[want.n]) != 0)) {
			at = want.n;
			no = l->no;
		}
		ck_assert_int_eq(strlist_add(&want, l->text), 0);
	}
	if (at == SIZE_MAX && want.n == got->n) {
		strlist_clear(&want);
		return;
	}
	join(w, sizeof(w), &want);
	join(g, sizeof(g), got);
	if (at == SIZE_MAX)
		snprintf(what, sizeof(what), "got '%s' after its last line", got->v[want.n]);
	else if (at < got->n)
		snprintf(what, sizeof(what), "line %u wants '%s', got '%s'", no, want.v[at],
			 got->v[at]);
	else
		snprintf(what, sizeof(what), "line %u wants '%s', got nothing more", no,
			 want.v[at]);
	ck_abort_msg("%s:%u: @%s: %s; want [%s], got [%s]", cf->path, s->no, s->name, what, w, g);
}

/* Resolve the case's world; what it gives as lines: the plan, or the error and its hint. */
static int resolve_lines(const struct solver_case *c, struct strlist *got)
{
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;
	int rc = apk_resolve(&c->db, &c->world, &plan, &err);

	if (rc == 0) {
		plan_lines(&c->db, &plan, got);
	} else {
		ck_assert_msg(plan.n == 0, "%s: a failed resolve left %zu packages in the plan",
			      c->cf.path, plan.n);
		ck_assert_int_eq(strlist_add(got, err.msg), 0);
		if (err.hint[0])
			ck_assert_int_eq(strlist_addf(got, "hint: %s", err.hint), 0);
	}
	apk_plan_release(&plan);
	return rc;
}

/* Run the case and fail the test, naming the file and the section's line, unless it holds. */
static void solver_case_check(const struct solver_case *c)
{
	const struct cf_section *s = c->want;
	const char *kind = s->arg[0] ? s->arg : it_strerror(-IT_EUNSAT);
	struct strlist got = STRLIST_INIT;
	char g[MSG_MAX];
	int rc = resolve_lines(c, &got);

	join(g, sizeof(g), &got);
	if (!strcmp(s->name, "EXPECT"))
		ck_assert_msg(rc == 0, "%s:%u: @EXPECT: want a plan, got an error (%s): %s",
			      c->cf.path, s->no, it_strerror(rc), g);
	else if (rc == 0)
		ck_abort_msg("%s:%u: @ERROR: want an error (%s), got the plan [%s]", c->cf.path,
			     s->no, kind, g);
	else
		ck_assert_msg(!strcmp(it_strerror(rc), kind),
			      "%s:%u: @ERROR: want an error of kind '%s', got '%s': %s", c->cf.path,
			      s->no, kind, it_strerror(rc), g);
	assert_body(&c->cf, s, &got);
	strlist_clear(&got);
}

/* The case files, listed when the suite is made: one loop test each. */
static struct strlist solver_files = STRLIST_INIT;

START_TEST(test_solver_case)
{
	struct solver_case c;

	solver_case_init(&c);
	if (solver_case_open(&c, solver_files.v[_i], NULL) < 0)
		ck_abort_msg("%s", c.cf.err);
	solver_case_check(&c);
	solver_case_release(&c);
}
END_TEST

/*
 * How many cases 'dir' holds; -1 with the reason in msg when it cannot be
 * read, holds none, or holds a name that is neither a case, a repository
 * nor README.md. A driver that finds nothing must not pass.
 */
static int case_dir(const char *dir, char *msg, size_t msgsz)
{
	struct strlist cases = STRLIST_INIT, stray = STRLIST_INIT;
	int r = casefile_list(dir, ".test", solver_also, &cases, &stray);

	if (r < 0)
		snprintf(msg, msgsz, "cannot list '%s': %s", dir, strerror(-r));
	else if (stray.n)
		snprintf(msg, msgsz,
			 "'%s' is neither a case (.test), a repository (.repo) "
			 "nor README.md",
			 stray.v[0]);
	else if (!cases.n)
		snprintf(msg, msgsz, "no case (*.test) in '%s'", dir);
	r = r < 0 || stray.n || !cases.n ? -1 : (int)cases.n;
	strlist_clear(&cases);
	strlist_clear(&stray);
	return r;
}

START_TEST(test_solver_dirs)
{
	char msg[1200];

	ck_assert_msg(case_dir(SOLVER_DIR, msg, sizeof(msg)) > 0, "%s", msg);
	ck_assert_msg(case_dir(MALFORMED_DIR, msg, sizeof(msg)) > 0, "%s", msg);
	/* The loop over the cases covers what is there now. */
	ck_assert_int_eq(case_dir(SOLVER_DIR, msg, sizeof(msg)), (int)solver_files.n);
}
END_TEST

/* An empty or missing directory, or one with a stray file, fails the driver. */
START_TEST(test_solver_dir_refused)
{
	char dir[256], path[512], msg[1200];

	ck_assert(tu_mkdtemp(dir, sizeof(dir), "solver"));
	ck_assert_int_eq(case_dir(dir, msg, sizeof(msg)), -1);
	tu_assert_textf(msg, false, "no case (*.test) in '%s'", dir);
	snprintf(path, sizeof(path), "%s/a.tst", dir);
	ck_assert_int_eq(write_file_atomic(path, "", 0, 0644), 0);
	ck_assert_int_eq(case_dir(dir, msg, sizeof(msg)), -1);
	tu_assert_textf(msg, false,
			"'%s' is neither a case (.test), a repository (.repo) nor README.md", path);
	ck_assert_int_eq(rm_rf(dir), 0);
	ck_assert_int_eq(case_dir(dir, msg, sizeof(msg)), -1);
	tu_assert_textf(msg, false, "cannot list '%s': No such file or directory", dir);
}
END_TEST

/*
 * What a malformed case's reading must say: its line "# refused: LINE: what"
 * (or "# refused: what", about the file as a whole), with the file's path in
 * front as the driver prints it.
 */
static void refusal(const char *path, const char *text, char *out, size_t n)
{
	static const char mark[] = "# refused: ";
	const char *p = strstr(text, mark);
	size_t len, digits;

	ck_assert_msg(p && (p == text || p[-1] == '\n'), "%s: no '%s' line", path, mark);
	p += strlen(mark);
	len = strcspn(p, "\n");
	digits = strspn(p, "0123456789");
	snprintf(out, n, "%s:%s%.*s", path, digits && p[digits] == ':' ? "" : " ", (int)len, p);
}

/* Each file of tests/data/solver-malformed is refused, with its own message. */
START_TEST(test_solver_malformed)
{
	struct strlist files = STRLIST_INIT, stray = STRLIST_INIT;
	struct buf text;
	char want[1200];

	ck_assert_int_eq(casefile_list(MALFORMED_DIR, ".test", solver_also, &files, &stray), 0);
	ck_assert_uint_gt(files.n, 0);
	for (size_t i = 0; i < files.n; i++) {
		struct solver_case c;

		tu_read_new(&text, files.v[i]);
		refusal(files.v[i], text.data, want, sizeof(want));
		solver_case_init(&c);
		ck_assert_msg(solver_case_open(&c, files.v[i], text.data) < 0,
			      "%s: read as a good case; want it refused with \"%s\"", files.v[i],
			      want);
		ck_assert_msg(!strcmp(c.cf.err, want), "%s: refused with \"%s\", want \"%s\"",
			      files.v[i], c.cf.err, want);
		solver_case_release(&c);
		buf_release(&text);
	}
	strlist_clear(&files);
	strlist_clear(&stray);
}
END_TEST

/* ---- the real Alpine 3.19.1 index ---- */

static struct apk_db alpine;

static void setup_alpine(void)
{
	struct it_error err = IT_ERROR_INIT;
	struct buf text;

	tu_read_apkindex(ALPINE_INDEX, &text);
	apk_db_init(&alpine);
	ck_assert_int_eq(apk_db_add_index(&alpine, buf_blob(&text), "https://example.org/main",
					  ALPINE_INDEX, &err),
			 0);
	buf_release(&text);
}

static void teardown_alpine(void)
{
	apk_db_release(&alpine);
}

/* The plan file (one name-version a line) as "a b c". */
static char *plan_file(const char *path)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(buf_read_file(&b, path), 0);
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n')
			b.data[i] = ' ';
	return buf_detach(&b, NULL);
}

/* Every dependency of every package is satisfied by a package before it. */
static void assert_deps_first(const struct apk_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct apk_pkg *p = plan->pkgs[i];

		for (uint32_t d = 0; d < p->depends.n; d++) {
			const struct apk_dep *dep = &p->depends.v[d];
			bool found = dep->conflict;

			for (size_t j = 0; j < i && !found; j++) {
				const struct apk_pkg *q = plan->pkgs[j];
				struct apk_provider pv = {q, q->version};

				found = q->name == dep->name && apk_dep_satisfied_by(dep, &pv);
				for (uint32_t k = 0; k < q->provides.n && !found; k++) {
					pv.version = q->provides.v[k].version;
					found = q->provides.v[k].name == dep->name &&
						apk_dep_satisfied_by(dep, &pv);
				}
			}
			ck_assert_msg(found, "%s needs %s before it", p->name->name.ptr,
				      dep->name->name.ptr);
		}
	}
}

static void check_alpine_plan(const char *world, const char *file)
{
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;
	char *want = plan_file(file), *got;

	make_world(&w, world);
	ck_assert_msg(apk_resolve(&alpine, &w, &plan, &err) == 0, "%s", err.msg);
	got = plan_text(&alpine, &plan);
	ck_assert_str_eq(got, want);
	assert_deps_first(&plan);
	free(got);
	free(want);
	apk_plan_release(&plan);
	strlist_clear(&w);
}

START_TEST(test_alpine_base)
{
	/* The acceptance test: the 25 packages real apk installs, in apk's order. */
	check_alpine_plan("alpine-base", "tests/data/alpine-base.plan");
}
END_TEST

START_TEST(test_alpine_oracle_plans)
{
	check_alpine_plan("busybox-mdev-openrc", "tests/data/busybox-mdev-openrc.plan");
	check_alpine_plan("openssh", "tests/data/openssh.plan");
}
END_TEST

START_TEST(test_alpine_combined)
{
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;

	make_world(&w, "openssh alpine-base");
	ck_assert_int_eq(apk_resolve(&alpine, &w, &plan, &err), 0);
	/* apk 2.14.0 installs 36 packages for this world. */
	ck_assert_uint_eq(plan.n, 36);
	assert_deps_first(&plan);
	apk_plan_release(&plan);
	/* Resolving again into the same plan replaces it. */
	strlist_clear(&w);
	make_world(&w, "musl");
	ck_assert_int_eq(apk_resolve(&alpine, &w, &plan, &err), 0);
	ck_assert_uint_eq(plan.n, 1);
	apk_plan_release(&plan);
	strlist_clear(&w);
}
END_TEST

/*
 * World entries no command line gives (an empty one, one with a space: the
 * case files split their worlds on spaces), and no world at all. The
 * malformed entries a command line can give are cases in tests/data/solver.
 */
START_TEST(test_world_entries)
{
	static const char *const bad[] = {"", "a b"};
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;
	char msg[128];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		it_error_clear(&err);
		strlist_add(&w, bad[i]);
		ck_assert_int_eq(apk_resolve(&alpine, &w, &plan, &err), -IT_EFORMAT);
		snprintf(msg, sizeof(msg), "'%s': bad dependency", bad[i]);
		ck_assert_str_eq(err.msg, msg);
		ck_assert_uint_eq(plan.n, 0);
		strlist_clear(&w);
	}
	/* No world is an empty plan, as an empty one is (tests/data/solver/empty-world.test). */
	ck_assert_int_eq(apk_resolve(&alpine, NULL, &plan, &err), 0);
	ck_assert_uint_eq(plan.n, 0);
	apk_plan_release(&plan);
}
END_TEST

/* ---- scale and search ---- */

START_TEST(test_long_chain)
{
	struct apk_db db;
	struct it_error err = IT_ERROR_INIT;
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct buf text;
	const int n = 20000;

	buf_init(&text, 0);
	for (int i = 0; i < n; i++)
		buf_addf(&text, "P:p%d\nV:1\nD:p%d\n\n", i, i + 1 < n ? i + 1 : 0);
	apk_db_init(&db);
	ck_assert_int_eq(apk_db_add_index(&db, buf_blob(&text), "r", "r", &err), 0);
	strlist_add(&w, "p0");
	/* One ring of 20000: everything, without recursion, the far end first. */
	ck_assert_int_eq(apk_resolve(&db, &w, &plan, &err), 0);
	ck_assert_uint_eq(plan.n, (size_t)n);
	ck_assert_str_eq(plan.pkgs[0]->name->name.ptr, "p19999");
	ck_assert_str_eq(plan.pkgs[n - 1]->name->name.ptr, "p0");
	apk_plan_release(&plan);
	apk_db_release(&db);
	buf_release(&text);

	/* The same chain broken at its far end: found without search, the chain in the message. */
	buf_init(&text, 0);
	for (int i = 0; i < 50; i++)
		buf_addf(&text, "P:p%d\nV:1\nD:p%d\n\n", i, i + 1);
	apk_db_init(&db);
	ck_assert_int_eq(apk_db_add_index(&db, buf_blob(&text), "r", "r", &err), 0);
	ck_assert_int_eq(apk_resolve(&db, &w, &plan, &err), -IT_EUNSAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "p0 -> p1 -> p2 -> "));
	ck_assert_ptr_nonnull(strstr(err.msg, " -> p49 -> p50: no such package"));
	apk_db_release(&db);
	buf_release(&text);
	strlist_clear(&w);
}
END_TEST

/*
 * Twenty packages with two versions each, decided before a contradiction
 * that involves none of them: the search goes straight back past them
 * instead of trying their 2^20 combinations.
 */
START_TEST(test_backjump)
{
	struct apk_db db;
	struct it_error err = IT_ERROR_INIT;
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct buf text;

	buf_init(&text, 0);
	for (int i = 0; i < 20; i++)
		buf_addf(&text, "P:x%02d\nV:1\nD:dep\n\nP:x%02d\nV:2\nD:dep\n\n", i, i);
	buf_addstr(&text, "P:dep\nV:1\n\nP:a\nV:1\nD:b=1\n\nP:c\nV:1\nD:b=2\n\n"
			  "P:b\nV:1\n\nP:b\nV:2\n\nP:zz\nV:1\nD:so:nothing\n\n");
	apk_db_init(&db);
	ck_assert_int_eq(apk_db_add_index(&db, buf_blob(&text), "r", "r", &err), 0);
	for (int i = 0; i < 20; i++)
		strlist_addf(&w, "x%02d", i);
	strlist_add(&w, "a");
	strlist_add(&w, "c");
	ck_assert_int_eq(apk_resolve(&db, &w, &plan, &err), -IT_EUNSAT);
	ck_assert_str_eq(err.msg, "a -> b=1: b-1 is ruled out by c -> b=2");
	ck_assert_str_eq(err.hint, "drop one of the conflicting packages from the package list");
	strlist_clear(&w);

	/* The world minus 'c' works, with the newest x and b-1. */
	for (int i = 0; i < 20; i++)
		strlist_addf(&w, "x%02d", i);
	strlist_add(&w, "a");
	ck_assert_int_eq(apk_resolve(&db, &w, &plan, &err), 0);
	ck_assert_uint_eq(plan.n, 23);
	{
		char *t = plan_text(&db, &plan);

		ck_assert_ptr_eq(strstr(t, "b-1 a-1 dep-1 x00-2 x01-2 "), t);
		ck_assert_str_eq(t + strlen(t) - 11, "x18-2 x19-2");
		free(t);
	}
	apk_plan_release(&plan);

	/* A dependency nobody provides at the end of the world: no search either. */
	strlist_add(&w, "zz");
	ck_assert_int_eq(apk_resolve(&db, &w, &plan, &err), -IT_EUNSAT);
	strlist_clear(&w);
	apk_db_release(&db);
	buf_release(&text);
}
END_TEST

/*
 * Nine pigeons, eight holes: every pigeon package provides a hole name
 * with a version, so no two may share one. Unsatisfiable only after trying
 * them all; the search gives up after its budget and says so.
 */
static void pigeons(int pigeons, int holes, int *rc, struct it_error *err)
{
	struct apk_db db;
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct buf text;

	buf_init(&text, 0);
	for (int p = 0; p < pigeons; p++) {
		buf_addf(&text, "P:pigeon%d\nV:1\nD:perch%d\n\n", p, p);
		for (int h = 0; h < holes; h++)
			buf_addf(&text, "P:perch%d-in-%d\nV:1\np:perch%d=1 hole%d=1\n\n", p, h, p,
				 h);
		strlist_addf(&w, "pigeon%d", p);
	}
	apk_db_init(&db);
	ck_assert_int_eq(apk_db_add_index(&db, buf_blob(&text), "r", "r", err), 0);
	it_error_clear(err);
	*rc = apk_resolve(&db, &w, &plan, err);
	apk_plan_release(&plan);
	strlist_clear(&w);
	apk_db_release(&db);
	buf_release(&text);
}

START_TEST(test_search_budget)
{
	struct it_error err = IT_ERROR_INIT;
	int rc;

	pigeons(6, 6, &rc, &err);
	ck_assert_int_eq(rc, 0);
	pigeons(7, 6, &rc, &err);
	ck_assert_int_eq(rc, -IT_EUNSAT);
	ck_assert_str_eq(err.hint, "drop one of the conflicting packages from the package list");
	pigeons(10, 9, &rc, &err);
	ck_assert_int_eq(rc, -IT_EUNSAT);
	ck_assert_str_eq(err.hint,
			 "gave up after 100000 alternatives; pin versions in the package list");
}
END_TEST

/* ---- output ---- */

START_TEST(test_format_and_repos)
{
	/* Package 'a' is in both repositories (same checksum): listed once, from repo0. */
	const char *repos[MAX_REPOS] = {
	    "C:Q1rhJtCaqn26sHA1/2ydTHaU6ocf8=\nP:a\nV:1.0-r0\nS:1536\nI:4096\nD:b\n\n",
	    "C:Q1rhJtCaqn26sHA1/2ydTHaU6ocf8=\nP:a\nV:1.0-r0\nS:1536\nI:4096\nD:b\n\n"
	    "P:b\nV:22.10-r3\nS:3145728\nI:10485760\n\n",
	};
	struct apk_db db;
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;
	struct buf out;

	load_repos(&db, repos);
	ck_assert_uint_eq(db.npkgs, 2);
	strlist_add(&w, "a");
	ck_assert_int_eq(apk_resolve(&db, &w, &plan, &err), 0);
	buf_init(&out, 0);
	ck_assert_int_eq(apk_plan_format(&db, &plan, &out), 0);
	ck_assert_str_eq(out.data, "b-22.10-r3     3.0 MiB  repo1\n"
				   "a-1.0-r0       1.5 KiB  repo0\n"
				   "2 packages, 3.0 MiB to download, 10.0 MiB installed\n");
	apk_plan_release(&plan);
	buf_reset(&out);
	ck_assert_int_eq(apk_plan_format(&db, &plan, &out), 0);
	ck_assert_str_eq(out.data, "0 packages, 0 B to download, 0 B installed\n");
	buf_release(&out);
	strlist_clear(&w);
	apk_db_release(&db);
}
END_TEST

/* Same name and version in two repositories (different packages): the first repository wins. */
START_TEST(test_repo_order)
{
	const char *first[MAX_REPOS] = {"P:c\nV:1\nS:100\n",
					"P:c\nV:1\nS:200\n\nP:c\nV:0.9\nS:300\n"};
	const char *second[MAX_REPOS] = {"P:c\nV:0.9\nS:300\n\nP:c\nV:1\nS:200\n",
					 "P:c\nV:1\nS:100\n"};
	const char *const *sets[] = {first, second};
	const uint64_t want[] = {100, 200};

	for (int k = 0; k < 2; k++) {
		struct apk_db db;
		struct strlist w = STRLIST_INIT;
		struct apk_plan plan = APK_PLAN_INIT;
		struct it_error err = IT_ERROR_INIT;

		load_repos(&db, sets[k]);
		strlist_add(&w, "c");
		ck_assert_int_eq(apk_resolve(&db, &w, &plan, &err), 0);
		ck_assert_uint_eq(plan.n, 1);
		ck_assert_uint_eq(plan.pkgs[0]->size, want[k]);
		ck_assert_uint_eq(apk_pkg_repo(plan.pkgs[0]), 0);
		apk_plan_release(&plan);
		strlist_clear(&w);
		apk_db_release(&db);
	}
}
END_TEST

static Suite *resolve_suite(void)
{
	Suite *s = suite_create("builder_resolve");
	TCase *cases = tcase_create("solver");
	TCase *sc = tcase_create("api");
	TCase *real = tcase_create("alpine");
	TCase *big = tcase_create("search");
	struct strlist stray = STRLIST_INIT;

	/* Whatever is wrong with the directory, test_solver_dirs says. */
	(void)casefile_list(SOLVER_DIR, ".test", solver_also, &solver_files, &stray);
	strlist_clear(&stray);
	tcase_add_test(cases, test_solver_dirs);
	tcase_add_test(cases, test_solver_dir_refused);
	tcase_add_test(cases, test_solver_malformed);
	tcase_add_loop_test(cases, test_solver_case, 0, (int)solver_files.n);
	suite_add_tcase(s, cases);
	tcase_add_test(sc, test_format_and_repos);
	tcase_add_test(sc, test_repo_order);
	suite_add_tcase(s, sc);
	tcase_add_checked_fixture(real, setup_alpine, teardown_alpine);
	tcase_add_test(real, test_alpine_base);
	tcase_add_test(real, test_alpine_oracle_plans);
	tcase_add_test(real, test_alpine_combined);
	tcase_add_test(real, test_world_entries);
	suite_add_tcase(s, real);
	tcase_add_test(big, test_long_chain);
	tcase_add_test(big, test_backjump);
	tcase_add_test(big, test_search_budget);
	tcase_set_timeout(cases, 30);
	tcase_set_timeout(sc, 30);
	tcase_set_timeout(real, 30);
	tcase_set_timeout(big, 60);
	suite_add_tcase(s, big);
	return s;
}

int main(void)
{
	return tu_run_suite(resolve_suite());
}
