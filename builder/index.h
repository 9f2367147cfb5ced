/* SPDX-License-Identifier: MIT */
/*
 * APKINDEX parsing into a package database of several repositories, with name lookups.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_INDEX_H
#define IT_BUILDER_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* At most this many repositories in one db (a package's repositories are a bit mask, as in apk). */
#define APK_DB_MAX_REPOS 32

struct apk_name;
struct apk_pkg;

/*
 * One dependency, provides, install_if or replaces entry: "[!]name[op version]".
 * 'version.ptr' is NULL when there is no version ("name", "!name", an
 * unversioned provides). 'op' is a mask of APK_VERSION_* (builder/version.h);
 * APK_DEPMASK_ANY without a version.
 */
struct apk_dep {
	const struct apk_name *name;
	struct blob version;
	uint8_t op;
	bool conflict;
	uint8_t tag; /* repository tag of a world entry ("name@testing"): db->tags index, 0 none */
};

/* A borrowed array of dependencies. */
struct apk_deps {
	const struct apk_dep *v;
	uint32_t n;
};

/*
 * A package, or a provides entry of one, offering a name. 'version' is the
 * package version for the package's own name, the provided version for a
 * versioned provides ("so:libc.musl-x86_64.so.1=1"), and NULL (ptr == NULL)
 * for an unversioned one ("/bin/sh").
 */
struct apk_provider {
	const struct apk_pkg *pkg;
	struct blob version;
};

/*
 * Every name seen: package names, provided names and names only depended
 * upon. 'name' is NUL-terminated.
 */
struct apk_name {
	struct blob name;
	uint32_t id; /* index in db->names */
	uint32_t hash;
	/* In load order: each package under its own name, then under its p: entries. */
	const struct apk_provider *providers;
	uint32_t nproviders;
	/*
	 * Names of the packages whose i: mentions this name (their own names and
	 * provided ones, apk's rinstall_if), in the order apk visits them.
	 */
	const struct apk_name *const *rinstall_if;
	uint32_t nrinstall_if;
};

enum apk_csum_kind { APK_CHECKSUM_NONE = 0, APK_CHECKSUM_SHA1 = 20, APK_CHECKSUM_SHA256 = 32 };

/*
 * One package record. All strings are views into the db's copy of the
 * index text (not NUL-terminated); a field absent from the record has
 * ptr == NULL. Everything is owned by the db and lives until
 * apk_db_release().
 */
struct apk_pkg {
	const struct apk_name *name; /* P: */
	struct blob version;	     /* V: */
	struct blob arch;	     /* A: */
	struct blob description;     /* T: */
	struct blob url;	     /* U: */
	struct blob license;	     /* L: */
	struct blob origin;	     /* o: */
	struct blob maintainer;	     /* m: */
	struct blob commit;	     /* c: */
	uint64_t size;		     /* S: */
	uint64_t installed_size;     /* I: */
	uint64_t build_time;	     /* t: */
	struct apk_deps depends;     /* D: */
	struct apk_deps provides;    /* p: */
	struct apk_deps install_if;  /* i: */
	struct apk_deps replaces;    /* r: (installed db; from .PKGINFO) */
	uint32_t id;		     /* index in db->pkgs */
	uint32_t repos;		     /* bit i: listed in repository i */
	uint16_t provider_priority;  /* k: */
	uint16_t replaces_priority;  /* q: */
	uint8_t csum_kind;	     /* enum apk_csum_kind */
	bool uninstallable;	     /* unknown upper-case field (newer format) */
	unsigned char csum[32];	     /* C:, decoded */
};

struct apk_repo {
	char *label;  /* base URL or label given by the caller */
	char *source; /* what the index was read from, for messages */
	char *text;   /* owned copy of the APKINDEX text; package strings point here */
	size_t text_len;
	size_t text_alloc; /* private: 0 when 'text' came from the caller's malloc() */
	uint32_t npkgs;	   /* records in this index (before merging duplicates) */
	uint8_t tag;	   /* db->tags index; 0: untagged (apk_db_tag_repo()) */
};

struct apk_arena_chunk;
struct apk_name_slot {
	uint32_t hash;
	struct apk_name *name;
};

/*
 * A database of packages from several repositories. Repository i was added
 * by the i-th successful apk_db_add_index() and has priority over i+1. A
 * package listed by several repositories with the same checksum is one
 * package with several bits in 'repos' (as in apk). Not thread-safe.
 */
struct apk_db {
	struct apk_repo repos[APK_DB_MAX_REPOS];
	unsigned nrepos;
	struct apk_name **names; /* by id */
	uint32_t nnames;
	struct apk_pkg **pkgs; /* by id, in load order */
	uint32_t npkgs;
	const struct apk_pkg **iif_pkgs; /* packages with an install_if, in load order */
	uint32_t niif_pkgs;
	/* Repository tags ("testing" for '@testing URL'), by first use; tags[0] is "", untagged. */
	char *tags[APK_DB_MAX_REPOS + 1];
	unsigned ntags;

	/* Private. */
	uint32_t names_alloc, pkgs_alloc;
	struct apk_name_slot *name_hash; /* open addressing, NULL name: empty */
	uint32_t name_hash_size;
	uint64_t *csum_hash; /* same, for package checksums */
	uint32_t csum_hash_size;
	struct apk_provider *provider_pool;
	const struct apk_name **rinstall_pool;
	struct apk_arena_chunk *arena;
	struct apk_dep *scratch;
	uint32_t scratch_alloc;
};

void apk_db_init(struct apk_db *db);
void apk_db_release(struct apk_db *db);

/*
 * Parse one uncompressed APKINDEX (or /lib/apk/db/installed; file lines are
 * skipped) and add its packages as the next repository. The text is
 * copied; 'text' may be freed afterwards. 'label' names the repository
 * (its base URL, shown in plans); 'source' names the file or URL in error
 * messages ("'SOURCE': line N: what"). On malformed input returns
 * -IT_EFORMAT and leaves the db exactly as it was. The new repository's
 * index is db->nrepos - 1 on success.
 */
int apk_db_add_index(struct apk_db *db, struct blob text, const char *label, const char *source,
		     struct it_error *err);

/*
 * The same without the copy: the db takes 'text' (malloc'ed, len bytes;
 * e.g. from buf_detach()) in every case, and frees it on failure.
 */
int apk_db_add_index_owned(struct apk_db *db, char *text, size_t len, const char *label,
			   const char *source, struct it_error *err);

/*
 * Tag repository 'repo' ("testing" for apk's '@testing URL' line): its
 * packages are then chosen only as apk 2.14 allows tagged ones (for world
 * entries "name@testing" and what they need that only such a repository
 * has). 0, -IT_EFORMAT for an empty tag or one with a space, '@' or '/',
 * -ENOMEM.
 */
int apk_db_tag_repo(struct apk_db *db, unsigned repo, struct blob tag, struct it_error *err);

/* The id of tag (without its '@'; "" is 0, untagged), or -1 if no repository has it. */
int apk_db_find_tag(const struct apk_db *db, struct blob tag);

/* The name, or NULL if no index mentions it. */
const struct apk_name *apk_db_find_name(const struct apk_db *db, struct blob name);

/*
 * The package called 'name' with exactly 'version' (or, with a NULL
 * version, the highest version; on equal versions the one in the
 * higher-priority repository). NULL if none.
 */
const struct apk_pkg *apk_db_find_pkg(const struct apk_db *db, struct blob name,
				      struct blob version);

/* Index of the highest-priority repository listing pkg (its lowest set bit). */
unsigned apk_pkg_repo(const struct apk_pkg *pkg);

/*
 * Parse one dependency "[!]name[op version]" (op: < > = ~ and their
 * combinations, "><" for a checksum) into views into 'text'. A repository
 * tag ("name@edge") stays part of the name. False if malformed: empty
 * name, operator without version, invalid version.
 */
bool apk_dep_split(struct blob text, struct blob *name, int *op, struct blob *version,
		   bool *conflict);

/* Does provider p (pkg NULL: nothing under that name) satisfy dep? (apk_dep_is_provided) */
bool apk_dep_satisfied_by(const struct apk_dep *dep, const struct apk_provider *p);

/* Append "[!]name[op version]" to out. */
int apk_dep_format(const struct apk_dep *dep, struct buf *out);

/* Append "Q1..." (base64 SHA-1) or "Q2..." (base64 SHA-256); nothing without a checksum. */
int apk_pkg_format_csum(const struct apk_pkg *pkg, struct buf *out);

/*
 * What .PKGINFO knows and the index does not, for the installed db:
 * 'replaces' is a space-separated dependency list ("busybox-initscripts
 * libcap<2.64-r1"), 'replaces_priority' its q: value.
 */
struct apk_pkg_extra {
	const char *replaces;
	unsigned replaces_priority;
};

/*
 * Append the package record as apk 2.14 writes it to /lib/apk/db/installed,
 * in apk's order: C: P: V: A: S: I: T: U: L: o: m: t: c: k: D: p: i: r: q:
 * (fields apk omits when empty are omitted). No file lines and no blank
 * line: the caller adds F:/R:/a:/M:/Z: lines and the separating blank line.
 * r:/q: come from 'extra' when given, else from the record itself.
 * -IT_EFORMAT if extra->replaces does not parse, -IT_ELIMIT if out is full.
 */
int apk_pkg_format_installed(const struct apk_pkg *pkg, const struct apk_pkg_extra *extra,
			     struct buf *out, struct it_error *err);

#endif
