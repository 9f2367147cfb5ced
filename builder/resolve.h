/* SPDX-License-Identifier: MIT */
/*
 * Dependency resolution of a world against a package db, as apk 2.14 does for a fresh root.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_RESOLVE_H
#define IT_BUILDER_RESOLVE_H

#include <stddef.h>

#include "builder/index.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/strlist.h"

/*
 * An install plan: packages in install order, dependencies before their
 * dependents (except inside dependency cycles), as apk orders its
 * changeset. The array is owned by the plan; the packages are borrowed
 * from the db, which must outlive the plan.
 */
struct apk_plan {
	const struct apk_pkg **pkgs;
	uint8_t *tags; /* pkgs[i] is installed under db->tags[tags[i]] ("" untagged) */
	size_t n;
};

// clang-format off
#define APK_PLAN_INIT { NULL, NULL, 0 }
// clang-format on

void apk_plan_release(struct apk_plan *plan);

/*
 * Resolve 'world' (dependency strings: "alpine-base", "busybox>=1.36",
 * "!foo", "so:libc.musl-x86_64.so.1", "cmd:sh", "name~1.2") against db for
 * an empty root, and fill 'plan' (released first).
 *
 * Choices follow apk 2.14's preferences: the highest version of the
 * required name, then the highest version of the package itself, then the
 * highest provider priority (k:), then the higher-priority repository, then
 * index order. An unversioned provides (p:/bin/sh) is only chosen when its
 * package has a k: or is itself required. Conflicts (!name) and version
 * constraints are honoured; when a choice leads to a contradiction the
 * next candidate is tried (bounded backtracking). install_if packages are
 * added once all their conditions hold, until nothing changes; one with a
 * negated condition (i:a b !c) never is, as in apk 2.14, which waits for
 * every name of the rule to be decided and never decides a name that only
 * conflicts name.
 *
 * Order of decisions, as apk 2.14-stable's (src/solver.c, the loop of
 * apk_solver_solve(): a fast-selected name, else the best by
 * compare_name_dequeue()), one at a time:
 *  1. a world entry or a conflict with one possible provider, and a
 *     dependency with one possible provider of a package picked among
 *     several (apk reconsiders it once its package is chosen: fast selected);
 *  2. a world name with several choices (apk's solver_flags_set, which
 *     'apk add' sets on every name of its command line): the one
 *     discovered last first (order_id: apk walks the sorted world depth
 *     first, a name numbered once what it pulls in is), so a virtual named
 *     in the world takes its highest-priority provider even when a
 *     dependency brought below would have given it a lower one: "lua
 *     luajit-dev" installs lua5.4, luajit and luajit-dev;
 *  3. any other dependency with one possible provider (apk applies it while
 *     its package is still undecided, so it is not fast selected and waits
 *     for the world names); while it waits, a world name leaves out the
 *     providers that would clash with what it will install (apk's provides
 *     transitivity, exclude_non_providers());
 *  4. names of real packages with several versions, then names with real
 *     and virtual providers, then virtual names; install_if packages whose
 *     conditions hold come before these;
 *  5. a name that no provider can take by itself (an unversioned provides
 *     without k:, apk's has_auto_selectable unset) waits until nothing else
 *     is left before install_if, so that a package chosen for another
 *     reason may have taken it.
 * What the world does not reach in apk's changeset walk is not installed:
 * when a package installed for an earlier world entry provides a later
 * world name, the package chosen for that name is dropped ("zlua
 * luajit-dev": luajit provides zlua, lua5.4 chosen for zlua is not
 * installed).
 *
 * apk 2.14.0 versus 2.14-stable (tests/data/solver/virt-*.test were
 * checked with both): 2.14.0's compare_name_dequeue() takes world names
 * first too, but then real names before mixed before virtual ones
 * (name->priority), then the shorter dependency chain (max_dep_chain), and
 * keeps the last queued among equals. 2.14.7 (43943e3, "rework solver name
 * ordering") replaced those with the discovery order (order_id) and
 * has_auto_selectable, and 2.14.8 (dc2f49c, "fix name resolving order of
 * pure virtual names") put has_auto_selectable first, so that pure
 * virtual names are decided last.
 * This resolver follows 2.14-stable. They differ when two world virtuals
 * share a provider (virt-order-id.test: x provides va and vb at k:5, y va
 * at k:10, z vb at k:1; "va vb": 2.14-stable decides va first and installs
 * y and x, 2.14.0 decides vb first and installs x alone). Ties between
 * providers (cmd:sh from busybox-binsh and dash-binsh, both k:100) are
 * broken the same in both: the higher version of the required name, then
 * index order (virt-sh-*.test).
 *
 * Repository tags (apk's pinning; apk_db_tag_repo()): "name@tag" in the
 * world asks for a tagged repository. A package from a tagged repository
 * is chosen only when its tag is allowed to it: by a world entry with
 * that tag, or by a selected package that depends on it and was itself
 * allowed the tag (so what a tagged package needs may come from its
 * repository, as apk decides). A world entry's tag is also preferred over
 * untagged repositories for that name. plan->tags says which tag each
 * package is installed under (the first allowed tag whose repositories
 * have it; 0, untagged, first).
 *
 * Returns 0, -IT_EUNSAT with the chain in err ("alpine-base -> openrc ->
 * so:libcap.so.2: no provider", "busybox>=9: no version satisfies (have
 * 1.36.1-r15)"), -IT_EFORMAT for a malformed world entry, or -ENOMEM.
 */
int apk_resolve(const struct apk_db *db, const struct strlist *world, struct apk_plan *plan,
		struct it_error *err);

/*
 * The install plan for a given set of packages (a lock's), without
 * resolving: the n packages in the order apk would install them for
 * 'world' (apk_resolve()'s changeset order), pkgs[i] under db->tags[tags[i]]
 * (tags NULL: all untagged). The set is taken as it is: nothing is added
 * or checked. 0, -IT_EFORMAT for a malformed world entry, or -ENOMEM.
 */
int apk_plan_order(const struct apk_db *db, const struct strlist *world,
		   const struct apk_pkg *const *pkgs, const uint8_t *tags, size_t n,
		   struct apk_plan *plan, struct it_error *err);

/*
 * Append the plan for people to read, one package a line (name-version,
 * download size, repository label) and a closing total line:
 *   musl-1.2.4_git20230717-r4     383.1 KiB  https://.../main
 *   (a package installed under a tag says so first: "@testing https://...")
 *   25 packages, 3.1 MiB to download, 9.2 MiB installed
 */
int apk_plan_format(const struct apk_db *db, const struct apk_plan *plan, struct buf *out);

#endif
