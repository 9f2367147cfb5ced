// SPDX-License-Identifier: MIT
/*
 * Unit tests for builder/resolve.c. The small scenarios are modelled on
 * apk-tools' test/<name>.test solver cases; every expected plan (and that the
 * error cases fail) was checked against apk 2.14.0 itself ('apk add
 * --simulate' on the same indexes). The Alpine plans in tests/data/<world>.plan
 * are what apk 2.14.0 installs from tests/data/alpine-3.19.1.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/index.h"
#include "builder/resolve.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "tests/unit/testutil.h"
#include "tests/unit/builder_util.h"

#define ALPINE_INDEX "tests/data/alpine-3.19.1/x86_64/APKINDEX.tar.gz"
#define MAX_REPOS 3

struct scenario {
	const char *name;
	const char *world;
	const char *want; /* plan "name-version ..." in order, or the error message */
	bool fails;
	const char *repos[MAX_REPOS];
};

static const struct scenario scenarios[] = {
    {"latest",
     "app",
     "lib-1.10 app-2",
     false,
     {"P:app\nV:1\nD:lib\n\n"
      "P:app\nV:2\nD:lib\n\n"
      "P:lib\nV:1.9\n\n"
      "P:lib\nV:1.10\n\n"}},
    {"constraint_backtrack",
     "a",
     "d-1.5 c-1 b-1 a-2",
     false,
     {"P:a\nV:2\nD:b c\n\n"
      "P:a\nV:3\nD:b c d>1.5\n\n"
      "P:b\nV:1\nD:c d<2.0\n\n"
      "P:c\nV:1\nD:d>1.0\n\n"
      "P:d\nV:1.0\n\n"
      "P:d\nV:1.5\n\n"
      "P:d\nV:2.0\n\n"}},
    {"constraint_world",
     "app lib<3",
     "lib-2 app-1",
     false,
     {"P:app\nV:1\nD:lib\n\n"
      "P:lib\nV:1\n\n"
      "P:lib\nV:2\n\n"
      "P:lib\nV:3\n\n"}},
    {"fuzzy",
     "tool",
     "py-3.11.6-r0 tool-1",
     false,
     {"P:py\nV:3.11.6-r0\n\n"
      "P:py\nV:3.12.1-r0\n\n"
      "P:py\nV:3.1-r0\n\n"
      "P:tool\nV:1\nD:py~3.11\n\n"}},
    {"unsat_version",
     "app",
     "app -> lib>=9: no version satisfies (have 1, 2)",
     true,
     {"P:app\nV:1\nD:lib>=9\n\n"
      "P:lib\nV:1\n\n"
      "P:lib\nV:2\n\n"}},
    {"missing_chain",
     "top",
     "top -> mid -> so:libgone.so.1: no provider",
     true,
     {"P:top\nV:1\nD:mid\n\n"
      "P:mid\nV:1\nD:so:libgone.so.1\n\n"}},
    {"no_such_package", "top nope", "nope: no such package", true, {"P:top\nV:1\n\n"}},
    {"provider_priority",
     "app",
     "sh-b-1 app-1",
     false,
     {"P:sh-a\nV:1\nk:10\np:/bin/sh\n\n"
      "P:sh-b\nV:1\nk:100\np:/bin/sh\n\n"
      "P:sh-c\nV:2\np:/bin/sh\n\n"
      "P:app\nV:1\nD:/bin/sh\n\n"}},
    {"virtual_needs_choice",
     "app",
     "app -> mta: virtual, provided by mta-a, mta-b; name one of them",
     true,
     {"P:mta-a\nV:1\np:mta\n\n"
      "P:mta-b\nV:1\np:mta\n\n"
      "P:app\nV:1\nD:mta\n\n"}},
    {"virtual_named",
     "app mta-b",
     "mta-b-1 app-1",
     false,
     {"P:mta-a\nV:1\np:mta\n\n"
      "P:mta-b\nV:1\np:mta\n\n"
      "P:app\nV:1\nD:mta\n\n"}},
    {"versioned_provides",
     "new",
     "libfoo2-1.0 new-1",
     false,
     {"P:libfoo1\nV:1.0\np:so:foo=1\n\n"
      "P:libfoo2\nV:1.0\np:so:foo=2\n\n"
      "P:new\nV:1\nD:so:foo\n\n"
      "P:old\nV:1\nD:so:foo<2\n\n"}},
    {"versioned_provides_lt",
     "old",
     "libfoo1-1.0 old-1",
     false,
     {"P:libfoo1\nV:1.0\np:so:foo=1\n\n"
      "P:libfoo2\nV:1.0\np:so:foo=2\n\n"
      "P:new\nV:1\nD:so:foo\n\n"
      "P:old\nV:1\nD:so:foo<2\n\n"}},
    {"provider_before_real",
     "x",
     "other-1",
     false,
     {"P:other\nV:1\np:x=1\n\n"
      "P:x\nV:1\n\n"}},
    {"real_over_virtual",
     "x",
     "x-1",
     false,
     {"P:other\nV:5\np:x\n\n"
      "P:x\nV:1\n\n"}},
    {"priority_over_real",
     "x",
     "other-1",
     false,
     {"P:x\nV:1\n\n"
      "P:other\nV:1\nk:10\np:x\n\n"}},
    {"conflict_ok",
     "a b",
     "b-1 a-1",
     false,
     {"P:a\nV:1\nD:!b>1\n\n"
      "P:b\nV:1\n\n"
      "P:b\nV:2\n\n"}},
    {"conflict_unsat",
     "a b>1",
     "b>1: b-2 is ruled out by a -> !b>1",
     true,
     {"P:a\nV:1\nD:!b>1\n\n"
      "P:b\nV:1\n\n"
      "P:b\nV:2\n\n"}},
    {"conflict_world",
     "app !lib",
     "app -> lib: lib-1 is ruled out by !lib",
     true,
     {"P:app\nV:1\nD:lib\n\n"
      "P:lib\nV:1\n\n"}},
    {"conflict_alternative",
     "app !sh-a",
     "sh-b-1 app-1",
     false,
     {"P:app\nV:1\nD:/bin/sh\n\n"
      "P:sh-a\nV:1\nk:100\np:/bin/sh\n\n"
      "P:sh-b\nV:1\nk:10\np:/bin/sh\n\n"}},
    {"install_if",
     "foo app",
     "lib-1 app-1 foo-1 app-foo-1",
     false,
     {"P:app\nV:1\nD:lib\n\n"
      "P:lib\nV:1\n\n"
      "P:foo\nV:1\n\n"
      "P:bar\nV:1\n\n"
      "P:app-foo\nV:1\nD:app\ni:app foo\n\n"
      "P:app-bar\nV:1\nD:app\ni:app bar\n\n"}},
    {"install_if_versioned",
     "doc app",
     "app-2 doc-1 app-doc-2",
     false,
     {"P:app\nV:2\n\n"
      "P:doc\nV:1\n\n"
      "P:app-doc\nV:1\ni:app=1 doc\n\n"
      "P:app-doc\nV:2\ni:app=2 doc\n\n"}},
    {"install_if_fallback",
     "foo app",
     "app-1 foo-1 plug-1",
     false,
     {"P:app\nV:1\n\n"
      "P:foo\nV:1\n\n"
      "P:plug\nV:1\ni:app foo\n\n"
      "P:plug\nV:2\nD:app missing-dep\ni:app foo\n\n"}},
    {"install_if_chain",
     "a b",
     "a-1 b-1 ab-1 ab-extra-1",
     false,
     {"P:a\nV:1\n\n"
      "P:b\nV:1\n\n"
      "P:ab\nV:1\ni:a b\n\n"
      "P:ab-extra\nV:1\ni:ab\n\n"}},
    {"install_if_conflict",
     "a b !ab",
     "a-1 b-1",
     false,
     {"P:a\nV:1\n\n"
      "P:b\nV:1\n\n"
      "P:ab\nV:1\ni:a b\n\n"}},
    {"cycle",
     "a",
     "c-1 b-1 a-1",
     false,
     {"P:a\nV:1\nD:b\n\n"
      "P:b\nV:1\nD:c\n\n"
      "P:c\nV:1\nD:a\n\n"}},
    {"dup_versioned_provides",
     "server-a server-b",
     "server-b: server-b-1 conflicts with server-a-1 (server-a)",
     true,
     {"P:server-a\nV:1\np:service=1\n\n"
      "P:server-b\nV:1\np:service=2\n\n"}},
    {"shared_virtual",
     "mail-a mail-b",
     "mail-a-1 mail-b-1",
     false,
     {"P:mail-a\nV:1\np:mail-reader\n\n"
      "P:mail-b\nV:1\np:mail-reader\n\n"}},
    {"self_provide",
     "self",
     "self: self-1 provides 'self' twice",
     true,
     {"P:self\nV:1\np:self\n\n"}},
    {"repo_priority",
     "a b",
     "a-1 b-2",
     false,
     {"P:a\nV:1\nS:100\n\n"
      "P:b\nV:1\n\n",
      "P:a\nV:1\nS:200\n\n"
      "P:b\nV:2\n\n"}},
    {"world_sorted",
     "beta Zed alpha Beta",
     "alpha-1 Beta-1 beta-1 Zed-1",
     false,
     {"P:Zed\nV:1\n\n"
      "P:alpha\nV:1\n\n"
      "P:beta\nV:1\n\n"
      "P:Beta\nV:1\n\n"}},
    /* Triggered together: apk's order (its name hash table's), not the index order. */
    {"install_if_order",
     "librsvg libjxl zz",
     "libjxl-1 librsvg-1 zz-1 imagemagick-pdf-1 imagemagick-svg-1 imagemagick-jxl-1 "
     "imagemagick-heic-1",
     false,
     {"P:zz\nV:1\n\n"
      "P:librsvg\nV:1\n\n"
      "P:libjxl\nV:1\n\n"
      "P:imagemagick-jxl\nV:1\ni:zz libjxl\n\n"
      "P:imagemagick-svg\nV:1\ni:zz librsvg\n\n"
      "P:imagemagick-heic\nV:1\ni:zz libjxl\n\n"
      "P:imagemagick-pdf\nV:1\ni:zz librsvg\n\n"}},
};

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

static char *plan_text(const struct apk_plan *plan)
{
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < plan->n; i++)
		buf_addf(&b, "%s%s-%.*s", i ? " " : "", plan->pkgs[i]->name->name.ptr,
			 (int)plan->pkgs[i]->version.len, plan->pkgs[i]->version.ptr);
	return buf_detach(&b, NULL);
}

/* Resolve; the plan as text, or the error message (with *rc set). */
static char *resolve_text(const struct apk_db *db, const char *world, int *rc)
{
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;
	char *out;

	make_world(&w, world);
	*rc = apk_resolve(db, &w, &plan, &err);
	out = *rc ? strdup(err.msg) : plan_text(&plan);
	if (*rc)
		ck_assert_uint_eq(plan.n, 0);
	apk_plan_release(&plan);
	strlist_clear(&w);
	return out;
}

START_TEST(test_scenario)
{
	const struct scenario *sc = &scenarios[_i];
	struct apk_db db;
	char *got;
	int rc;

	load_repos(&db, sc->repos);
	got = resolve_text(&db, sc->world, &rc);
	ck_assert_msg(rc == (sc->fails ? -IT_EUNSAT : 0), "%s: rc %d: %s", sc->name, rc, got);
	ck_assert_msg(strcmp(got, sc->want) == 0, "%s: got '%s', want '%s'", sc->name, got,
		      sc->want);
	free(got);
	apk_db_release(&db);
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
	got = plan_text(&plan);
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

START_TEST(test_alpine_errors)
{
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;
	char *got;
	int rc;

	got = resolve_text(&alpine, "busybox>=9", &rc);
	ck_assert_int_eq(rc, -IT_EUNSAT);
	ck_assert_str_eq(got, "busybox>=9: no version satisfies (have 1.36.1-r15)");
	free(got);
	got = resolve_text(&alpine, "alpine-base !libcap2", &rc);
	ck_assert_int_eq(rc, -IT_EUNSAT);
	ck_assert_str_eq(got, "alpine-base -> alpine-conf -> openrc>=0.24.1-r6 -> so:libcap.so.2 "
			      "(libcap2): libcap2-2.69-r1 is ruled out by !libcap2");
	free(got);
	got = resolve_text(&alpine, "alpine-base no-such-thing", &rc);
	ck_assert_int_eq(rc, -IT_EUNSAT);
	ck_assert_str_eq(got, "no-such-thing: no such package");
	free(got);

	/* A hint says what to do. */
	make_world(&w, "busybox>=9");
	ck_assert_int_eq(apk_resolve(&alpine, &w, &plan, &err), -IT_EUNSAT);
	ck_assert_str_eq(err.hint,
			 "relax the version constraint, or add a repository with that version");
	strlist_clear(&w);
}
END_TEST

START_TEST(test_world_syntax)
{
	static const char *const bad[] = {"busybox>=", ">=1", "!", "busybox=1.0-foo", "", "a b"};
	struct strlist w = STRLIST_INIT;
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;
	char msg[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		it_error_clear(&err);
		strlist_add(&w, bad[i]);
		ck_assert_int_eq(apk_resolve(&alpine, &w, &plan, &err), -IT_EFORMAT);
		snprintf(msg, sizeof(msg), "'%s': bad dependency", bad[i]);
		ck_assert_str_eq(err.msg, msg);
		ck_assert_uint_eq(plan.n, 0);
		strlist_clear(&w);
	}
	strlist_add(&w, "busybox@edge");
	ck_assert_int_eq(apk_resolve(&alpine, &w, &plan, &err), -IT_EFORMAT);
	strlist_clear(&w);

	/* An empty world is an empty plan. */
	ck_assert_int_eq(apk_resolve(&alpine, &w, &plan, &err), 0);
	ck_assert_uint_eq(plan.n, 0);
	ck_assert_int_eq(apk_resolve(&alpine, NULL, &plan, &err), 0);
	apk_plan_release(&plan);
}
END_TEST

START_TEST(test_world_last_wins)
{
	struct apk_db db;
	const char *repos[MAX_REPOS] = {"P:lib\nV:1\n\nP:lib\nV:2\n\nP:lib\nV:3\n"};
	char *got;
	int rc;

	load_repos(&db, repos);
	got = resolve_text(&db, "lib<2 lib", &rc);
	ck_assert_str_eq(got, "lib-3");
	free(got);
	got = resolve_text(&db, "lib lib<2", &rc);
	ck_assert_str_eq(got, "lib-1");
	free(got);
	apk_db_release(&db);
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
		char *t = plan_text(&plan);

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
	TCase *sc = tcase_create("scenarios");
	TCase *real = tcase_create("alpine");
	TCase *big = tcase_create("search");

	tcase_add_loop_test(sc, test_scenario, 0, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
	tcase_add_test(sc, test_world_last_wins);
	tcase_add_test(sc, test_format_and_repos);
	tcase_add_test(sc, test_repo_order);
	suite_add_tcase(s, sc);
	tcase_add_checked_fixture(real, setup_alpine, teardown_alpine);
	tcase_add_test(real, test_alpine_base);
	tcase_add_test(real, test_alpine_oracle_plans);
	tcase_add_test(real, test_alpine_combined);
	tcase_add_test(real, test_alpine_errors);
	tcase_add_test(real, test_world_syntax);
	suite_add_tcase(s, real);
	tcase_add_test(big, test_long_chain);
	tcase_add_test(big, test_backjump);
	tcase_add_test(big, test_search_budget);
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
