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
 * Order of decisions, as apk's: names with one choice first, then
 * install_if packages whose conditions hold, then names with several
 * providers; a name that no provider can take by itself (an unversioned
 * provides without k:) waits until nothing else is left before install_if,
 * so that a package chosen for another reason may have taken it.
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
