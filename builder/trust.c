// SPDX-License-Identifier: MIT
/* Trusted RSA keys, signature checks, and one-call opening of verified indexes and packages. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "builder/internal.h"
#include "common/util.h"

#define KEY_FILE_MAX (64 * 1024)

struct apk_trust_key {
	char *name;
	EVP_PKEY *pkey;
};

static const char hint_untrusted[] = "add the key to --keys-dir, or use --allow-untrusted";

void apk_trust_init(struct apk_trust *t)
{
	t->dir = NULL;
	t->keys = NULL;
	t->nkeys = 0;
	t->allow_untrusted = false;
}

void apk_trust_release(struct apk_trust *t)
{
	bool allow = t->allow_untrusted;

	for (size_t i = 0; i < t->nkeys; i++) {
		free(t->keys[i].name);
		EVP_PKEY_free(t->keys[i].pkey);
	}
	free(t->keys);
	free(t->dir);
	apk_trust_init(t);
	t->allow_untrusted = allow;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Parse one key file; 1 when it is not a public key (and may be skipped), 0 when added. */
static int load_key(struct apk_trust *t, const char *path, const char *name, struct it_error *err)
{
	struct buf b;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	struct apk_trust_key *nk;
	char *kname = NULL;
	int r;

	buf_init(&b, KEY_FILE_MAX);
	r = buf_read_file(&b, path);
	if (r == -IT_ELIMIT) {
		r = 1;
		goto out;
	}
	if (r < 0) {
		r = it_error_set(err, r, "cannot read '%s': %s", path, it_strerror(r));
		goto out;
	}
	bio = BIO_new_mem_buf(b.data, (int)b.len);
	if (!bio) {
		r = -ENOMEM;
		goto out;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!pkey) {
		ERR_clear_error();
		r = 1;
		goto out;
	}
	kname = strdup(name);
	nk = kname ? realloc(t->keys, (t->nkeys + 1) * sizeof(*nk)) : NULL;
	if (!nk) {
		r = -ENOMEM;
		goto out;
	}
	t->keys = nk;
	t->keys[t->nkeys++] = (struct apk_trust_key){kname, pkey};
	kname = NULL;
	pkey = NULL;
	r = 0;
out:
	free(kname);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	buf_release(&b);
	return r;
}

int apk_trust_load(struct apk_trust *t, const char *dir, struct it_error *err)
{
	DIR *d = NULL;
	struct dirent *de;
	char path[PATH_MAX];
	int r = 0;

	apk_trust_release(t);
	if (!dir)
		return 0;
	t->dir = strdup(dir);
	if (!t->dir)
		return -ENOMEM;
	d = opendir(dir);
	if (!d) {
		r = it_error_set(err, -errno, "cannot open keys directory '%s': %s", dir,
				 strerror(errno));
		it_error_hint(err, "pass --keys-dir with the repository's public keys");
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		r = path_join(path, sizeof(path), dir, de->d_name);
		if (r < 0)
			break;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		r = load_key(t, path, de->d_name, err);
		if (r == 1 && ends_with(de->d_name, ".pub")) {
			r = it_error_set(err, -IT_EFORMAT, "'%s': not a PEM public key", path);
			break;
		}
		if (r < 0)
			break;
		r = 0;
	}
	closedir(d);
	if (r < 0)
		apk_trust_release(t);
	return r;
}

static const struct apk_trust_key *find_key(const struct apk_trust *t, const char *name)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (!strcmp(t->keys[i].name, name))
			return &t->keys[i];
	return NULL;
}

bool apk_trust_has_key(const struct apk_trust *t, const char *name)
{
	return find_key(t, name) != NULL;
}

static const EVP_MD *sig_md(enum apk_sig_type type)
{
	switch (type) {
	case APK_SIG_RSA_SHA1:
		return EVP_sha1();
	case APK_SIG_RSA_SHA256:
		return EVP_sha256();
	case APK_SIG_RSA_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

/* 1 good, 0 bad, negative on failure to check. */
static int rsa_verify(EVP_PKEY *pkey, enum apk_sig_type type, struct blob sig, struct blob data)
{
	EVP_MD_CTX *ctx = NULL;
	int r;

	if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA)
		return 0;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	r = EVP_DigestVerifyInit(ctx, NULL, sig_md(type), NULL, pkey);
	if (r != 1) {
		r = -ENOMEM;
		goto out;
	}
	r = EVP_DigestVerify(ctx, (const unsigned char *)sig.ptr, sig.len,
			     (const unsigned char *)data.ptr, data.len);
	r = r == 1 ? 1 : 0;
	ERR_clear_error();
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

/* An untrusted file: an error, or a pass flagged in v when allowed. */
static int untrusted(const struct apk_trust *t, struct apk_verify *v, struct it_error *err,
		     const char *hint, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int untrusted(const struct apk_trust *t, struct apk_verify *v, struct it_error *err,
		     const char *hint, const char *fmt, ...)
{
	va_list ap;
	int r = 0;

	if (t->allow_untrusted) {
		v->untrusted = true;
		va_start(ap, fmt);
		vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
		va_end(ap);
		return 0;
	}
	va_start(ap, fmt);
	r = it_error_setv(err, -IT_EUNTRUSTED, fmt, ap);
	va_end(ap);
	it_error_hint(err, "%s", hint);
	return r;
}

int apk_trust_verify(const struct apk_trust *t, const struct apk_file *f, struct apk_verify *v,
		     struct it_error *err)
{
	const struct apk_trust_key *key = NULL;
	const struct apk_signature *sig = NULL;
	const char *dir = t->dir ? t->dir : "";
	struct apk_verify scratch;
	int r;

	if (!v)
		v = &scratch;
	memset(v, 0, sizeof(*v));
	if (f->nsigs == 0 && f->sig_gz.len == 0)
		return untrusted(t, v, err, "use --allow-untrusted to accept unsigned files",
				 "'%s': not signed", f->name);
	if (f->nsigs == 0)
		return untrusted(t, v, err, hint_untrusted, "'%s': has no RSA signature", f->name);
	for (size_t i = 0; i < f->nsigs && !key; i++) {
		key = find_key(t, f->sigs[i].key);
		sig = &f->sigs[i];
	}
	if (!key)
		return untrusted(t, v, err, hint_untrusted,
				 "'%s': signed by '%s', which is not in trusted keys '%s'", f->name,
				 f->sigs[0].key, dir);
	r = rsa_verify(key->pkey, sig->type, sig->sig, apk_file_signed_bytes(f));
	if (r < 0)
		return it_error_set(err, r, "'%s': cannot check the signature: %s", f->name,
				    it_strerror(r));
	if (r == 0) {
		r = it_error_set(err, -IT_ESIGNATURE, "'%s': bad signature by '%s'", f->name,
				 key->name);
		it_error_hint(err, "the file is corrupt or was tampered with; fetch it again");
		return r;
	}
	snprintf(v->signer, sizeof(v->signer), "%s", key->name);
	return 0;
}

/* ---- indexes ---- */

void apk_signed_index_init(struct apk_signed_index *ix)
{
	memset(ix, 0, sizeof(*ix));
}

void apk_signed_index_release(struct apk_signed_index *ix)
{
	free(ix->apkindex);
	free(ix->description);
	apk_signed_index_init(ix);
}

static int index_take(struct apk_file *f, const struct apk_trust *t, struct apk_signed_index *ix,
		      struct it_error *err)
{
	const struct apk_ctrl_file *idx, *desc;
	int r;

	if (f->has_pkginfo)
		return it_error_set(err, -IT_EFORMAT, "'%s': is a package, not an index", f->name);
	if (f->data_gz.len != 0)
		return it_error_set(err, -IT_EFORMAT, "'%s': unexpected data after the index",
				    f->name);
	idx = apk_file_ctrl(f, "APKINDEX");
	if (!idx)
		return it_error_set(err, -IT_EFORMAT, "'%s': no APKINDEX inside", f->name);
	r = apk_trust_verify(t, f, &ix->verify, err);
	if (r < 0)
		return r;
	desc = apk_file_ctrl(f, "DESCRIPTION");
	ix->apkindex = blob_dup(idx->content);
	ix->apkindex_len = idx->content.len;
	ix->description = blob_dup(desc ? desc->content : BLOB_NULL);
	if (!ix->apkindex || !ix->description)
		return -ENOMEM;
	return 0;
}

int apk_signed_index_open_mem(const char *name, struct blob data, const struct apk_trust *t,
			      const struct apk_limits *lim, struct apk_signed_index *ix,
			      struct it_error *err)
{
	struct apk_file f;
	int r;

	apk_signed_index_init(ix);
	r = apk_file_open_mem(&f, name, data, lim, err);
	if (r < 0)
		return r;
	r = index_take(&f, t, ix, err);
	apk_file_release(&f);
	if (r < 0)
		apk_signed_index_release(ix);
	return r;
}

int apk_signed_index_open(const char *path, const struct apk_trust *t, const struct apk_limits *lim,
			  struct apk_signed_index *ix, struct it_error *err)
{
	struct apk_file f;
	int r;

	apk_signed_index_init(ix);
	r = apk_file_open(&f, path, lim, err);
	if (r < 0)
		return r;
	r = index_take(&f, t, ix, err);
	apk_file_release(&f);
	if (r < 0)
		apk_signed_index_release(ix);
	return r;
}

/* ---- packages ---- */

static int check_identity(const struct apk_file *f, const struct apk_pkg_expect *exp,
			  struct it_error *err)
{
	unsigned char got[APK_CSUM_SHA256];
	char got_s[APK_CSUM_STR_MAX], want_s[APK_CSUM_STR_MAX];
	int r;

	r = apk_file_identity(f, exp->csum_len, got);
	if (r < 0)
		return it_error_set(err, r, "'%s': cannot compute its checksum: %s", f->name,
				    it_strerror(r));
	if (memcmp(got, exp->csum, exp->csum_len) == 0)
		return 0;
	apk_csum_format(got, exp->csum_len, got_s, sizeof(got_s));
	apk_csum_format(exp->csum, exp->csum_len, want_s, sizeof(want_s));
	r = it_error_set(err, -IT_ECHECKSUM, "'%s': checksum %s does not match the index (%s)",
			 f->name, got_s, want_s);
	it_error_hint(
	    err, "the repository changed or the file is corrupt; update the index and fetch again");
	return r;
}

int apk_pkg_verify(const struct apk_file *f, const struct apk_trust *t,
		   const struct apk_pkg_expect *exp, struct apk_verify *v, struct it_error *err)
{
	static const struct apk_pkg_expect none = APK_PKG_EXPECT_INIT;
	int r;

	if (!exp)
		exp = &none;
	if (!f->has_pkginfo)
		return it_error_set(err, -IT_EFORMAT, "'%s': no .PKGINFO in the control member",
				    f->name);
	if (f->data_gz.len == 0)
		return it_error_set(err, -IT_EFORMAT, "'%s': no data member", f->name);
	if (exp->size >= 0 && (unsigned long long)exp->size != f->raw.len)
		return it_error_set(err, -IT_ECHECKSUM,
				    "'%s': size %zu does not match the index (%lld)", f->name,
				    f->raw.len, exp->size);
	if (exp->csum) {
		if (exp->csum_len != APK_CSUM_SHA1 && exp->csum_len != APK_CSUM_SHA256)
			return -EINVAL;
		r = check_identity(f, exp, err);
		if (r < 0)
			return r;
	}
	r = apk_trust_verify(t, f, v, err);
	if (r < 0)
		return r;
	r = apk_file_check_datahash(f, err);
	if (r < 0)
		return r;
	if ((exp->name.ptr && !blob_eq_str(exp->name, f->info.pkgname)) ||
	    (exp->version.ptr && !blob_eq_str(exp->version, f->info.pkgver))) {
		struct blob n = exp->name.ptr ? exp->name : blob_str(f->info.pkgname);
		struct blob ver = exp->version.ptr ? exp->version : blob_str(f->info.pkgver);

		return it_error_set(
		    err, -IT_ECHECKSUM, "'%s': is %s-%s, but the index says %.*s-%.*s", f->name,
		    f->info.pkgname, f->info.pkgver, (int)n.len, n.ptr, (int)ver.len, ver.ptr);
	}
	return 0;
}

int apk_pkg_open_verified(struct apk_file *f, const char *path, const struct apk_trust *t,
			  const struct apk_pkg_expect *exp, const struct apk_limits *lim,
			  struct apk_verify *v, struct it_error *err)
{
	int r;

	r = apk_file_open(f, path, lim, err);
	if (r < 0)
		return r;
	r = apk_pkg_verify(f, t, exp, v, err);
	if (r < 0)
		apk_file_release(f);
	return r;
}

/* ---- fetch callbacks ---- */

int apk_check_pkg_download(void *ctx, const struct fetch_req *req, struct blob data,
			   struct it_error *err)
{
	struct apk_check *c = ctx;
	struct apk_file f;
	int r;

	r = apk_file_open_mem(&f, req->url, data, c->lim, err);
	if (r < 0)
		return r;
	r = apk_pkg_verify(&f, c->trust, &c->expect, &c->verify, err);
	apk_file_release(&f);
	return r;
}

int apk_check_index_download(void *ctx, const struct fetch_req *req, struct blob data,
			     struct it_error *err)
{
	struct apk_check *c = ctx;
	struct apk_signed_index ix;
	int r;

	r = apk_signed_index_open_mem(req->url, data, c->trust, c->lim, &ix, err);
	if (r < 0)
		return r;
	c->verify = ix.verify;
	apk_signed_index_release(&ix);
	return 0;
}
