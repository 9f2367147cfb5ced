/* SPDX-License-Identifier: MIT */
/*
 * Trusted signing keys, and APK files opened only when their signatures and checksums hold.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_TRUST_H
#define IT_BUILDER_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/apk.h"
#include "common/buf.h"
#include "common/err.h"

struct apk_trust_key; /* private: a key file name and its parsed public key */

/*
 * The RSA public keys of a keys directory (Alpine's keys/), named by file
 * name: a .SIGN.RSA.<name> file is checked with the key file <name>.
 */
struct apk_trust {
	char *dir; /* for messages */
	struct apk_trust_key *keys;
	size_t nkeys;
	bool allow_untrusted; /* unsigned or unknown-key files pass, flagged */
};

void apk_trust_init(struct apk_trust *t);
void apk_trust_release(struct apk_trust *t);
/*
 * Load every PEM public key of 'dir' (files that do not parse are skipped,
 * unless their name ends in ".pub": then -IT_EFORMAT). A missing directory
 * is an error; an empty one is not (every signature is then untrusted).
 * dir NULL: no keys at all (for --allow-untrusted without a keys directory).
 */
int apk_trust_load(struct apk_trust *t, const char *dir, struct it_error *err);
bool apk_trust_has_key(const struct apk_trust *t, const char *name);

/* How a signature check went, when it did not fail. */
struct apk_verify {
	bool untrusted;		    /* passed only because of allow_untrusted: report it loudly */
	char signer[256];	    /* the trusted key that verified; "" if none */
	char reason[IT_ERRMSG_MAX]; /* with 'untrusted': the error it would have been */
};

/*
 * Check the signature member against the signed bytes (see
 * apk_file_signed_bytes()). The first .SIGN file whose key is trusted is
 * checked, as apk does. A bad signature by a trusted key is -IT_ESIGNATURE
 * even with allow_untrusted; no signature, or none by a trusted key, is
 * -IT_EUNTRUSTED unless allow_untrusted (then 0 and v->untrusted).
 */
int apk_trust_verify(const struct apk_trust *t, const struct apk_file *f, struct apk_verify *v,
		     struct it_error *err);

/* A verified APKINDEX.tar.gz: its texts are heap copies the struct owns. */
struct apk_signed_index {
	char *apkindex; /* NUL-terminated */
	size_t apkindex_len;
	char *description; /* NUL-terminated, "" when absent */
	struct apk_verify verify;
};

void apk_signed_index_init(struct apk_signed_index *ix);
void apk_signed_index_release(struct apk_signed_index *ix);
/* Open a signed index, check its signature, and return its APKINDEX and DESCRIPTION. */
int apk_signed_index_open(const char *path, const struct apk_trust *t, const struct apk_limits *lim,
			  struct apk_signed_index *ix, struct it_error *err);
/* The same over bytes in memory; 'name' labels messages. */
int apk_signed_index_open_mem(const char *name, struct blob data, const struct apk_trust *t,
			      const struct apk_limits *lim, struct apk_signed_index *ix,
			      struct it_error *err);

/*
 * What the index says about a package; every field is optional (blobs with
 * a NULL ptr, as builder/index.h keeps them, are skipped). The fields map
 * onto struct apk_pkg: name, version, csum, csum_kind, size.
 */
struct apk_pkg_expect {
	struct blob name;	   /* P: (must equal pkgname) */
	struct blob version;	   /* V: (must equal pkgver) */
	const unsigned char *csum; /* C: digest bytes, or NULL */
	size_t csum_len;	   /* APK_CSUM_SHA1 (Q1) or APK_CSUM_SHA256 (Q2) */
	long long size;		   /* S: file size, or -1 */
};

#define APK_PKG_EXPECT_INIT                                                                        \
	{                                                                                          \
		{0, NULL}, {0, NULL}, NULL, 0, -1                                                  \
	}

/*
 * Verify an opened package: size and C: checksum against the index
 * (-IT_ECHECKSUM), the signature (as apk_trust_verify()), the datahash of
 * the data members (-IT_ECHECKSUM), and name/version. 'exp' may be NULL.
 */
int apk_pkg_verify(const struct apk_file *f, const struct apk_trust *t,
		   const struct apk_pkg_expect *exp, struct apk_verify *v, struct it_error *err);
/* apk_file_open() then apk_pkg_verify(); on failure f is released. */
int apk_pkg_open_verified(struct apk_file *f, const char *path, const struct apk_trust *t,
			  const struct apk_pkg_expect *exp, const struct apk_limits *lim,
			  struct apk_verify *v, struct it_error *err);

/*
 * Ready-made fetch_verify_fn callbacks (builder/fetch.h), so that nothing
 * unverified enters the cache. ctx is a struct apk_check; messages name the
 * request's URL.
 */
struct fetch_req;

struct apk_check {
	const struct apk_trust *trust;
	const struct apk_limits *lim; /* NULL: the defaults */
	struct apk_pkg_expect expect; /* packages: what the index says */
	struct apk_verify verify;     /* out: how the signature check went */
};

/* A downloaded package: apk_pkg_verify() over its bytes. */
int apk_check_pkg_download(void *ctx, const struct fetch_req *req, struct blob data,
			   struct it_error *err);
/* A downloaded APKINDEX.tar.gz: it must be an index with a good signature. */
int apk_check_index_download(void *ctx, const struct fetch_req *req, struct blob data,
			     struct it_error *err);

#endif
