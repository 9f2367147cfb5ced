// SPDX-License-Identifier: MIT
/* libFuzzer target: APKINDEX text into a db, lookups and formatting, then the resolver over it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"
#include "fuzz/fuzz.h"

/* World entries taken from the input after the index, or made from the db. */
#define IDX_MAX_WORLD 8

static void idx_world_from_text(struct strlist *world, struct blob w)
{
	struct blob line, rest;

	while (world->n < IDX_MAX_WORLD && w.len > 0) {
		char *s;

		if (!blob_split(w, '\n', &line, &rest)) {
			line = w;
			rest = BLOB_NULL;
		}
		s = blob_dup(line);
		if (s == NULL || strlist_add_owned(world, s) != 0)
			return;
		w = rest;
	}
}

static void idx_world_from_db(struct strlist *world, const struct apk_db *db, uint8_t pick)
{
	for (uint32_t i = 0; i < db->npkgs && world->n < 3; i++) {
		const struct apk_pkg *p = db->pkgs[(i + pick) % db->npkgs];

		if ((pick & 1) && p->version.ptr != NULL)
			strlist_addf(world, "%.*s>=%.*s", (int)p->name->name.len, p->name->name.ptr,
				     (int)p->version.len, p->version.ptr);
		else
			strlist_addf(world, "%.*s", (int)p->name->name.len, p->name->name.ptr);
	}
	if (db->nnames > 0 && (pick & 2)) {
		const struct apk_name *n = db->names[pick % db->nnames];

		strlist_addf(world, "!%.*s", (int)n->name.len, n->name.ptr);
	}
}

static void idx_exercise_db(const struct apk_db *db)
{
	struct buf out = BUF_INIT;
	struct it_error err = IT_ERROR_INIT;

	buf_init(&out, 1 << 20);
	for (uint32_t i = 0; i < db->npkgs; i++) {
		const struct apk_pkg *p = db->pkgs[i];
		const struct apk_pkg *found;

		if (p->id != i || p->name == NULL || db->names[p->name->id] != p->name)
			fuzz_fail();
		if (apk_db_find_name(db, p->name->name) != p->name)
			fuzz_fail();
		/* A package can always be found by its own name and version. */
		if (p->version.ptr != NULL) {
			found = apk_db_find_pkg(db, p->name->name, p->version);
			if (found == NULL || !blob_eq(found->version, p->version))
				fuzz_fail();
		}
		if (apk_pkg_repo(p) >= db->nrepos)
			fuzz_fail();
		buf_reset(&out);
		apk_pkg_format_csum(p, &out);
		apk_pkg_format_installed(p, NULL, &out, &err);
		for (uint32_t d = 0; d < p->depends.n; d++)
			apk_dep_format(&p->depends.v[d], &out);
		for (uint32_t d = 0; d < p->provides.n; d++)
			apk_dep_format(&p->provides.v[d], &out);
	}
	for (uint32_t i = 0; i < db->nnames; i++) {
		const struct apk_name *n = db->names[i];

		if (n->id != i || n->name.ptr[n->name.len] != '\0')
			fuzz_fail();
		for (uint32_t k = 0; k < n->nproviders; k++) {
			const struct apk_provider *pv = &n->providers[k];
			struct apk_dep any = {n, BLOB_NULL, APK_DEPMASK_ANY, false, 0};

			if (pv->pkg == NULL || !apk_dep_satisfied_by(&any, pv))
				fuzz_fail();
		}
	}
	buf_release(&out);
}

static void idx_resolve(const struct apk_db *db, const struct strlist *world)
{
	struct apk_plan plan = APK_PLAN_INIT;
	struct it_error err = IT_ERROR_INIT;
	struct buf out = BUF_INIT;
	int r;

	r = apk_resolve(db, world, &plan, &err);
	fuzz_check_error(&err, r);
	if (r < 0) {
		if (plan.n != 0 && plan.pkgs == NULL)
			fuzz_fail();
		goto out;
	}
	/* A plan holds each package once, and only packages of the db. */
	for (size_t i = 0; i < plan.n; i++) {
		const struct apk_pkg *p = plan.pkgs[i];

		if (p == NULL || p->id >= db->npkgs || db->pkgs[p->id] != p)
			fuzz_fail();
		for (size_t j = 0; j < i; j++)
			if (plan.pkgs[j] == p)
				fuzz_fail();
	}
	buf_init(&out, 1 << 20);
	apk_plan_format(db, &plan, &out);
out:
	buf_release(&out);
	apk_plan_release(&plan);
}

FUZZ_ONE(index)
{
	struct apk_db db;
	struct it_error err = IT_ERROR_INIT;
	struct strlist world = STRLIST_INIT;
	const uint8_t *nul = memchr(data, '\0', size);
	struct blob index = blob_mem(data, nul ? (size_t)(nul - data) : size);
	struct blob wtext = nul ? blob_mem(nul + 1, size - index.len - 1) : BLOB_NULL;
	int r;

	apk_db_init(&db);
	r = apk_db_add_index(&db, index, "fuzz", "fuzz-index", &err);
	fuzz_check_error(&err, r);
	if (r < 0) {
		/* A refused index leaves the db as it was: empty. */
		if (db.nrepos != 0 || db.npkgs != 0 || db.nnames != 0)
			fuzz_fail();
		goto out;
	}
	if (db.nrepos != 1)
		fuzz_fail();
	/* The same index again as a second repository: every package merges by checksum or adds. */
	if (size < 4096) {
		uint32_t before = db.npkgs;

		it_error_clear(&err);
		r = apk_db_add_index(&db, index, "fuzz2", "fuzz-index-2", &err);
		if (r < 0 || db.nrepos != 2 || db.npkgs < before)
			fuzz_fail();
	}
	idx_exercise_db(&db);

	if (wtext.len > 0)
		idx_world_from_text(&world, wtext);
	else
		idx_world_from_db(&world, &db, size > 0 ? data[size - 1] : 0);
	if (world.n > 0)
		idx_resolve(&db, &world);
out:
	strlist_clear(&world);
	apk_db_release(&db);
	return 0;
}
