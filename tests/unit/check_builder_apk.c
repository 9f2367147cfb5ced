// SPDX-License-Identifier: MIT
/* Unit tests for builder/apk and builder/trust: real Alpine packages, and bad ones made of them. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <zlib.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "tests/unit/testutil.h"

#define REPO "tests/data/alpine-3.19.1/x86_64"
#define KEYS "keys"
#define TESTKEYS "tests/data/testkeys"
#define TESTKEY "test@initrd-test-00000000.rsa"
#define ALPINE_KEY "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"

/* ---- helpers: files, gzip, tar, signing ---- */

static void gz(struct buf *out, const void *data, size_t len, int level)
{
	z_stream zs;
	int zr;

	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	ck_assert_int_eq(buf_grow(out, deflateBound(&zs, len) + 64), 0);
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (unsigned)len;
	zs.next_out = (unsigned char *)out->data + out->len;
	zs.avail_out = (unsigned)(out->alloc - out->len - 1);
	zr = deflate(&zs, Z_FINISH);
	ck_assert_int_eq(zr, Z_STREAM_END);
	out->len += zs.total_out;
	out->data[out->len] = '\0';
	deflateEnd(&zs);
}

static void octal(char *field, size_t size, unsigned long long v)
{
	snprintf(field, size, "%0*llo", (int)size - 1, v);
}

static void tar_header(struct buf *t, const char *name, char type, unsigned mode,
		       unsigned long long size, const char *link, unsigned major, unsigned minor)
{
	char h[512];
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	memcpy(h, name, strnlen(name, 100));
	octal(h + 100, 8, mode);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, 1700000000);
	h[156] = type;
	if (link)
		memcpy(h + 157, link, strnlen(link, 100));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	octal(h + 329, 8, major);
	octal(h + 337, 8, minor);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	ck_assert_int_eq(buf_add(t, h, sizeof(h)), 0);
}

static void tar_data(struct buf *t, const void *data, size_t len)
{
	static const char zero[512];

	ck_assert_int_eq(buf_add(t, data, len), 0);
	if (len % 512)
		ck_assert_int_eq(buf_add(t, zero, 512 - len % 512), 0);
}

/* A pax record "LEN key=value\n" whose LEN counts itself. */
static void pax_record(struct buf *p, const char *key, const char *val)
{
	size_t body = 1 + strlen(key) + 1 + strlen(val) + 1, n = body + 1;
	char digits[32];

	while ((size_t)snprintf(digits, sizeof(digits), "%zu", n) + body != n)
		n = (size_t)snprintf(digits, sizeof(digits), "%zu", n) + body;
	ck_assert_int_eq(buf_addf(p, "%zu %s=%s\n", n, key, val), 0);
}

static void tar_file(struct buf *t, const char *name, const char *content)
{
	tar_header(t, name, '0', 0644, strlen(content), NULL, 0, 0);
	tar_data(t, content, strlen(content));
}

static void tar_pax(struct buf *t, const struct buf *pax)
{
	tar_header(t, "PaxHeaders/x", 'x', 0644, pax->len, NULL, 0, 0);
	tar_data(t, pax->data, pax->len);
}

static void tar_end(struct buf *t)
{
	static const char zero[1024];

	ck_assert_int_eq(buf_add(t, zero, sizeof(zero)), 0);
}

static EVP_PKEY *test_private_key(void)
{
	struct buf b;
	BIO *bio;
	EVP_PKEY *k;

	tu_read_new(&b, TESTKEYS "/" TESTKEY);
	bio = BIO_new_mem_buf(b.data, (int)b.len);
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	buf_release(&b);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* A signature member: .SIGN.<kind>.<keyname> over 'signed', without end blocks (as abuild-sign cuts
 * it). */
static void sig_member(struct buf *out, const char *kind, const char *keyname,
		       struct blob signed_bytes)
{
	EVP_PKEY *k = test_private_key();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = !strcmp(kind, "RSA256") ? EVP_sha256() : EVP_sha1();
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	char name[256];
	struct buf t;

	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)signed_bytes.ptr,
					signed_bytes.len),
			 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	snprintf(name, sizeof(name), ".SIGN.%s.%s", kind, keyname);
	buf_init(&t, 0);
	tar_header(&t, name, '0', 0644, siglen, NULL, 0, 0);
	tar_data(&t, sig, siglen);
	gz(out, t.data, t.len, 9);
	buf_release(&t);
}

/* The members of a real package: [0] signature, [1] control, [2] data. */
struct parts {
	struct buf file;
	struct apk_gz_member *m;
	size_t n;
};

static void parts_load(struct parts *p, const char *path)
{
	struct it_error err = IT_ERROR_INIT;

	tu_read_new(&p->file, path);
	ck_assert_int_eq(apk_gz_split(path, buf_blob(&p->file), NULL, &p->m, &p->n, &err), 0);
	ck_assert_uint_eq(p->n, 3);
}

static struct blob part(const struct parts *p, size_t i)
{
	return blob_mem(p->file.data + p->m[i].off, p->m[i].len);
}

static void parts_release(struct parts *p)
{
	buf_release(&p->file);
	free(p->m);
}

static void trust_dir(struct apk_trust *t, const char *dir, bool allow)
{
	struct it_error err = IT_ERROR_INIT;

	apk_trust_init(t);
	ck_assert_msg(apk_trust_load(t, dir, &err) == 0, "%s", err.msg);
	t->allow_untrusted = allow;
}

/* ---- a minimal APKINDEX reader for the expectations (the real parser is elsewhere) ---- */

struct idx_rec {
	char name[128], version[64];
	unsigned char csum[32];
	size_t csum_len;
	long long size;
};

static size_t idx_parse(const char *text, struct idx_rec *out, size_t max)
{
	struct blob rest = blob_str(text), line;
	size_t n = 0;
	struct idx_rec cur;

	memset(&cur, 0, sizeof(cur));
	for (;;) {
		bool more = blob_split(rest, '\n', &line, &rest);

		if (!more) {
			line = rest;
			rest.len = 0;
		}
		if (line.len == 0) {
			if (cur.name[0] && n < max)
				out[n++] = cur;
			memset(&cur, 0, sizeof(cur));
			if (!more)
				break;
			continue;
		}
		if (line.len > 2 && line.ptr[1] == ':') {
			struct blob v = {line.len - 2, line.ptr + 2};
			unsigned long long u;

			if (line.ptr[0] == 'P')
				snprintf(cur.name, sizeof(cur.name), "%.*s", (int)v.len, v.ptr);
			else if (line.ptr[0] == 'V')
				snprintf(cur.version, sizeof(cur.version), "%.*s", (int)v.len,
					 v.ptr);
			else if (line.ptr[0] == 'C')
				ck_assert_int_eq(apk_csum_parse(v, cur.csum, &cur.csum_len), 0);
			else if (line.ptr[0] == 'S' && blob_to_u64(v, &u))
				cur.size = (long long)u;
		}
	}
	return n;
}

static struct idx_rec idx[200];
static size_t nidx;

static void load_index(void)
{
	struct apk_trust t;
	struct apk_signed_index ix;
	struct it_error err = IT_ERROR_INIT;

	trust_dir(&t, KEYS, false);
	ck_assert_msg(apk_signed_index_open(REPO "/APKINDEX.tar.gz", &t, NULL, &ix, &err) == 0,
		      "%s", err.msg);
	nidx = idx_parse(ix.apkindex, idx, 200);
	apk_signed_index_release(&ix);
	apk_trust_release(&t);
}

static const struct idx_rec *idx_find(const char *name)
{
	for (size_t i = 0; i < nidx; i++)
		if (!strcmp(idx[i].name, name))
			return &idx[i];
	return NULL;
}

static struct apk_pkg_expect expect_of(const struct idx_rec *r)
{
	struct apk_pkg_expect e = APK_PKG_EXPECT_INIT;

	e.name = blob_str(r->name);
	e.version = blob_str(r->version);
	e.csum = r->csum;
	e.csum_len = r->csum_len;
	e.size = r->size;
	return e;
}

/* Open bytes as a package and verify them against the index record of 'name' (if given). */
static int verify_mem(struct blob data, const char *label, const struct apk_trust *t,
		      const char *name, struct apk_verify *v, struct it_error *err)
{
	struct apk_file f;
	struct apk_pkg_expect e = APK_PKG_EXPECT_INIT;
	int r;

	if (name) {
		const struct idx_rec *rec = idx_find(name);

		ck_assert_ptr_nonnull(rec);
		e = expect_of(rec);
		e.size = -1;
	}
	r = apk_file_open_mem(&f, label, data, NULL, err);
	if (r < 0)
		return r;
	r = apk_pkg_verify(&f, t, &e, v, err);
	apk_file_release(&f);
	return r;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- real data ---- */

START_TEST(test_split_real)
{
	struct apk_gz_member *m = NULL;
	size_t n = 0;
	struct buf b;
	struct it_error err = IT_ERROR_INIT;

	tu_read_new(&b, REPO "/busybox-1.36.1-r15.apk");
	ck_assert_int_eq(apk_gz_split("busybox", buf_blob(&b), NULL, &m, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(m[0].off, 0);
	ck_assert_uint_eq(m[0].len, 662);
	ck_assert_uint_eq(m[0].size, 1024);
	ck_assert_uint_eq(m[1].off, 662);
	ck_assert_uint_eq(m[1].len, 1638);
	ck_assert_uint_eq(m[1].size, 10240);
	ck_assert_uint_eq(m[2].off, 2300);
	ck_assert_uint_eq(m[2].len, 504496);
	ck_assert_uint_eq(m[2].size, 880640);
	free(m);
	buf_release(&b);

	tu_read_new(&b, REPO "/APKINDEX.tar.gz");
	ck_assert_int_eq(apk_gz_split("index", buf_blob(&b), NULL, &m, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(m[1].off, 664);
	ck_assert_uint_eq(m[1].off + m[1].len, b.len);
	free(m);
	buf_release(&b);
}
END_TEST

START_TEST(test_index_real)
{
	struct apk_trust t;
	struct apk_signed_index ix;
	struct it_error err = IT_ERROR_INIT;

	trust_dir(&t, KEYS, false);
	/* alpine-keys 2.4's 17: every architecture's, aarch64's among them. */
	ck_assert_uint_eq(t.nkeys, 17);
	ck_assert(apk_trust_has_key(&t, ALPINE_KEY));
	ck_assert(apk_trust_has_key(&t, "alpine-devel@lists.alpinelinux.org-58199dcc.rsa.pub"));
	ck_assert(apk_trust_has_key(&t, "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"));
	ck_assert_int_eq(apk_signed_index_open(REPO "/APKINDEX.tar.gz", &t, NULL, &ix, &err), 0);
	ck_assert_str_eq(ix.description, "3.19.1");
	ck_assert_str_eq(ix.verify.signer, ALPINE_KEY);
	ck_assert(!ix.verify.untrusted);
	ck_assert_uint_eq(strlen(ix.apkindex), ix.apkindex_len);
	ck_assert(starts_with(ix.apkindex, "C:Q1"));
	ck_assert_uint_eq(idx_parse(ix.apkindex, idx, 200), 100);
	apk_signed_index_release(&ix);

	/* A package is not an index. */
	ck_assert_int_eq(apk_signed_index_open(REPO "/busybox-1.36.1-r15.apk", &t, NULL, &ix, &err),
			 -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'" REPO "/busybox-1.36.1-r15.apk': is a package, not an index");
	apk_trust_release(&t);
}
END_TEST

/* Every real package: signature, C: checksum and size from the signed index, datahash, name. */
START_TEST(test_verify_all_real)
{
	struct apk_trust t;
	DIR *d;
	struct dirent *de;
	int count = 0;

	load_index();
	ck_assert_uint_eq(nidx, 100);
	trust_dir(&t, KEYS, false);
	d = opendir(REPO);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		char path[512], nv[256];
		const struct idx_rec *rec = NULL;
		struct apk_pkg_expect e;
		struct apk_file f;
		struct apk_verify v;
		struct it_error err = IT_ERROR_INIT;
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".apk"))
			continue;
		for (size_t i = 0; i < nidx && !rec; i++) {
			snprintf(nv, sizeof(nv), "%.127s-%.63s.apk", idx[i].name, idx[i].version);
			if (!strcmp(nv, de->d_name))
				rec = &idx[i];
		}
		ck_assert_msg(rec != NULL, "%s is not in the index", de->d_name);
		e = expect_of(rec);
		snprintf(path, sizeof(path), "%s/%s", REPO, de->d_name);
		ck_assert_msg(apk_pkg_open_verified(&f, path, &t, &e, NULL, &v, &err) == 0,
			      "%s: %s", path, err.msg);
		ck_assert_str_eq(v.signer, ALPINE_KEY);
		ck_assert(!v.untrusted);
		ck_assert(f.info.has_datahash);
		ck_assert_str_eq(f.info.pkgname, rec->name);
		apk_file_release(&f);
		count++;
	}
	closedir(d);
	ck_assert_int_eq(count, 25);
	apk_trust_release(&t);
}
END_TEST

START_TEST(test_pkginfo_and_scripts)
{
	struct apk_file f;
	struct it_error err = IT_ERROR_INIT;
	unsigned char id[20];
	char q[APK_CSUM_STR_MAX];

	ck_assert_int_eq(apk_file_open(&f, REPO "/busybox-1.36.1-r15.apk", NULL, &err), 0);
	ck_assert(f.has_pkginfo);
	ck_assert_str_eq(f.info.pkgname, "busybox");
	ck_assert_str_eq(f.info.pkgver, "1.36.1-r15");
	ck_assert_str_eq(f.info.arch, "x86_64");
	ck_assert_str_eq(f.info.origin, "busybox");
	ck_assert_str_eq(f.info.license, "GPL-2.0-only");
	ck_assert_uint_eq(f.info.size, 946176);
	ck_assert_uint_eq(f.info.builddate, 1699383189);
	ck_assert_uint_eq(f.info.depends.n, 1);
	ck_assert_str_eq(f.info.depends.v[0], "so:libc.musl-x86_64.so.1");
	ck_assert_uint_eq(f.info.provides.n, 1);
	ck_assert_str_eq(f.info.provides.v[0], "cmd:busybox=1.36.1-r15");
	ck_assert_uint_eq(f.info.replaces.n, 1);
	ck_assert_str_eq(f.info.replaces.v[0], "busybox-initscripts");
	ck_assert_uint_eq(f.info.triggers.n, 5);
	ck_assert_str_eq(f.info.triggers.v[4], "/lib/modules/*");
	ck_assert(f.info.has_datahash);
	ck_assert_uint_eq(f.info.datahash[0], 0x38);
	ck_assert_uint_eq(f.info.datahash[31], 0x42);
	ck_assert_uint_eq(f.nsigs, 1);
	ck_assert_str_eq(f.sigs[0].key, ALPINE_KEY);
	ck_assert_int_eq(f.sigs[0].type, APK_SIG_RSA_SHA1);
	ck_assert_uint_eq(f.sigs[0].sig.len, 512);

	ck_assert_uint_eq(f.nscripts, 3);
	ck_assert_int_eq(f.scripts[0].type, APK_SCRIPT_POST_INSTALL);
	ck_assert_str_eq(f.scripts[0].name, ".post-install");
	ck_assert_uint_eq(f.scripts[0].content.len, 139);
	ck_assert(blob_starts(f.scripts[0].content, "#!/bin/busybox sh\n"));
	ck_assert_int_eq(f.scripts[1].type, APK_SCRIPT_POST_UPGRADE);
	ck_assert_uint_eq(f.scripts[1].content.len, 1239);
	ck_assert_int_eq(f.scripts[2].type, APK_SCRIPT_TRIGGER);
	ck_assert_uint_eq(f.scripts[2].content.len, 546);
	ck_assert_str_eq(apk_script_name(f.scripts[2].type), "trigger");

	ck_assert_int_eq(apk_file_identity(&f, APK_CSUM_SHA1, id), 0);
	ck_assert_int_eq(apk_csum_format(id, 20, q, sizeof(q)), 0);
	ck_assert_str_eq(q, "Q1AYNx2pLOAHRYZQgv3nM8TNtvRWY=");
	apk_file_release(&f);

	/* install_if is one line of several dependencies; provider_priority a number. */
	ck_assert_int_eq(apk_file_open(&f, REPO "/busybox-mdev-openrc-1.36.1-r15.apk", NULL, &err),
			 0);
	ck_assert_str_eq(f.info.arch, "noarch");
	ck_assert_uint_eq(f.info.install_if.n, 0);
	ck_assert(f.info.has_provider_priority);
	apk_file_release(&f);
	ck_assert_int_eq(apk_file_open(&f, REPO "/alpine-base-3.19.1-r0.apk", NULL, &err), 0);
	ck_assert_str_eq(f.info.arch, "noarch");
	ck_assert_uint_eq(f.nscripts, 0);
	ck_assert_uint_eq(f.info.depends.n, 10);
	apk_file_release(&f);
}
END_TEST

struct collect {
	struct buf paths; /* "path mode uid gid size link\n" per entry */
	int n;
};

static int collect_cb(void *ctx, const struct apk_entry *e)
{
	struct collect *c = ctx;

	c->n++;
	return buf_addf(&c->paths, "%s %o %u:%u %llu %s%s%s %u,%u\n", e->path, e->mode, e->uid,
			e->gid, e->size, e->link_target ? "->" : "",
			e->link_target ? e->link_target : "", e->hardlink ? e->hardlink : "",
			e->devmajor, e->devminor);
}

static void collect_pkg(struct collect *c, const char *path)
{
	struct apk_file f;
	struct it_error err = IT_ERROR_INIT;

	buf_init(&c->paths, 0);
	c->n = 0;
	ck_assert_int_eq(apk_file_open(&f, path, NULL, &err), 0);
	ck_assert_msg(apk_file_foreach(&f, collect_cb, c, &err) == 0, "%s", err.msg);
	apk_file_release(&f);
}

static int busybox_cb(void *ctx, const struct apk_entry *e)
{
	unsigned char md[32];
	int *seen = ctx;

	if (strcmp(e->path, "bin/busybox"))
		return 0;
	ck_assert_uint_eq(e->size, 808712);
	ck_assert_uint_eq(e->mode, S_IFREG | 0755);
	ck_assert_ptr_nonnull(e->sha1);
	ck_assert_uint_eq(e->sha1[0], 0x0e);
	/* The content is the real ELF binary and matches apk's pax SHA-1. */
	ck_assert(memcmp(e->content, "\177ELF", 4) == 0);
	EVP_Digest(e->content, e->size, md, NULL, EVP_sha1(), NULL);
	ck_assert(memcmp(md, e->sha1, 20) == 0);
	*seen = 1;
	return 0;
}

START_TEST(test_entries_real)
{
	struct collect c;
	struct apk_file f;
	struct it_error err = IT_ERROR_INIT;
	int seen = 0;

	collect_pkg(&c, REPO "/busybox-suid-1.36.1-r15.apk");
	ck_assert_msg(strstr(c.paths.data, "bin/bbsuid 104111 0:0 14248") != NULL, "%s",
		      c.paths.data);
	buf_release(&c.paths);

	collect_pkg(&c, REPO "/busybox-binsh-1.36.1-r15.apk");
	ck_assert_str_eq(c.paths.data,
			 "bin/ 40755 0:0 0  0,0\nbin/sh 120777 0:0 0 ->/bin/busybox 0,0\n");
	buf_release(&c.paths);

	collect_pkg(&c, REPO "/alpine-baselayout-3.4.3-r2.apk");
	ck_assert_int_eq(c.n, 82);
	ck_assert(strstr(c.paths.data, "\ntmp/ 41777 0:0 0") != NULL);
	ck_assert(strstr(c.paths.data, "\nvar/run 120777 0:0 0 ->/run 0,0\n") != NULL);
	buf_release(&c.paths);

	collect_pkg(&c, REPO "/alpine-baselayout-data-3.4.3-r2.apk");
	ck_assert(strstr(c.paths.data, "\netc/shadow 100640 0:42 ") != NULL);
	buf_release(&c.paths);

	/* Names apk itself skips (".dummy") are still delivered: the caller decides. */
	collect_pkg(&c, REPO "/alpine-base-3.19.1-r0.apk");
	ck_assert_str_eq(c.paths.data, ".dummy 100644 0:0 0  0,0\n");
	buf_release(&c.paths);

	ck_assert_int_eq(apk_file_open(&f, REPO "/busybox-1.36.1-r15.apk", NULL, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, busybox_cb, &seen, &err), 0);
	ck_assert_int_eq(seen, 1);
	ck_assert_uint_eq(f.ndata_members, 1);
	/* A second walk reuses the inflated data. */
	seen = 0;
	ck_assert_int_eq(apk_file_foreach(&f, busybox_cb, &seen, &err), 0);
	ck_assert_int_eq(seen, 1);
	apk_file_release(&f);
}
END_TEST

static int stop_cb(void *ctx, const struct apk_entry *e)
{
	(void)e;
	return ++*(int *)ctx == 3 ? 42 : 0;
}

START_TEST(test_foreach_stops)
{
	struct apk_file f;
	struct it_error err = IT_ERROR_INIT;
	int n = 0;

	ck_assert_int_eq(apk_file_open(&f, REPO "/busybox-1.36.1-r15.apk", NULL, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, stop_cb, &n, &err), 42);
	ck_assert_int_eq(n, 3);
	apk_file_release(&f);
}
END_TEST

START_TEST(test_csum_text)
{
	unsigned char c[32];
	size_t len = 0;
	char s[APK_CSUM_STR_MAX];

	ck_assert_int_eq(apk_csum_parse(blob_str("Q1mcpyM8ftLHlvmaMjdLoBo6zq/Fo="), c, &len), 0);
	ck_assert_uint_eq(len, 20);
	ck_assert_int_eq(apk_csum_format(c, len, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "Q1mcpyM8ftLHlvmaMjdLoBo6zq/Fo=");
	ck_assert_int_eq(
	    apk_csum_parse(blob_str("X199ca7233c7ed2c796f99a32374ba01a3ace afc5a"), c, &len),
	    -IT_EFORMAT);
	ck_assert_int_eq(
	    apk_csum_parse(blob_str("X199ca7233c7ed2c796f99a32374ba01a3aceafc5a"), c, &len), 0);
	ck_assert_uint_eq(c[0], 0x99);
	memset(c, 0xab, 32);
	ck_assert_int_eq(apk_csum_format(c, 32, s, sizeof(s)), 0);
	ck_assert(starts_with(s, "Q2q6ur"));
	ck_assert_int_eq(apk_csum_parse(blob_str(s), c, &len), 0);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(apk_csum_parse(blob_str("Q1mcpyM8ftLHlvmaMjdLoBo6zq/Fo"), c, &len),
			 -IT_EFORMAT);
	ck_assert_int_eq(apk_csum_parse(blob_str("Q1mcpyM8ftLHlvmaMjdLoBo6zq/F!="), c, &len),
			 -IT_EFORMAT);
	ck_assert_int_eq(apk_csum_parse(blob_str("Q3mcpyM8ftLHlvmaMjdLoBo6zq/Fo="), c, &len),
			 -IT_EFORMAT);
	ck_assert_int_eq(apk_csum_parse(blob_str(""), c, &len), -IT_EFORMAT);
	ck_assert_int_eq(apk_csum_format(c, 16, s, sizeof(s)), -EINVAL);
}
END_TEST

START_TEST(test_path_unsafe)
{
	ck_assert(apk_path_unsafe("/etc/passwd"));
	ck_assert(apk_path_unsafe("../x"));
	ck_assert(apk_path_unsafe("a/../../b"));
	ck_assert(apk_path_unsafe("a/.."));
	ck_assert(!apk_path_unsafe("a/..b/c"));
	ck_assert(!apk_path_unsafe("./etc/x"));
	ck_assert(!apk_path_unsafe("etc/.../x"));
	ck_assert(!apk_path_unsafe("usr/lib/"));
}
END_TEST

/* ---- trust ---- */

START_TEST(test_trust_load_errors)
{
	struct apk_trust t;
	struct it_error err = IT_ERROR_INIT;
	char dir[] = "/tmp/it-trust-XXXXXX", path[256];

	apk_trust_init(&t);
	ck_assert_int_eq(apk_trust_load(&t, "tests/data/no-such-keys", &err), -ENOENT);
	ck_assert_str_eq(
	    err.msg,
	    "cannot open keys directory 'tests/data/no-such-keys': No such file or directory");
	ck_assert(err.hint[0]);

	/* The private key beside the public one is skipped; the public one loads. */
	it_error_clear(&err);
	ck_assert_int_eq(apk_trust_load(&t, TESTKEYS, &err), 0);
	ck_assert_uint_eq(t.nkeys, 1);
	ck_assert(apk_trust_has_key(&t, TESTKEY ".pub"));

	/* A broken .pub is an error naming it. */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/broken.rsa.pub", dir);
	ck_assert_int_eq(write_file_atomic(path, "-----BEGIN PUBLIC KEY-----\nnope\n", 32, 0644),
			 0);
	ck_assert_int_eq(apk_trust_load(&t, dir, &err), -IT_EFORMAT);
	ck_assert_msg(strstr(err.msg, "broken.rsa.pub': not a PEM public key") != NULL, "%s",
		      err.msg);
	ck_assert_uint_eq(t.nkeys, 0);
	rm_rf(dir);

	/* An empty directory loads; everything is then untrusted. */
	memcpy(dir, "/tmp/it-trust-XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	it_error_clear(&err);
	ck_assert_int_eq(apk_trust_load(&t, dir, &err), 0);
	ck_assert_uint_eq(t.nkeys, 0);
	rm_rf(dir);
	apk_trust_release(&t);
}
END_TEST

/* A real package re-signed with the test key: [sig by test key][control][data]. */
static void resign(struct buf *out, const struct parts *p, const char *kind, const char *keyname)
{
	buf_init(out, 0);
	sig_member(out, kind, keyname, part(p, 1));
	ck_assert_int_eq(buf_add(out, part(p, 1).ptr, part(p, 1).len), 0);
	ck_assert_int_eq(buf_add(out, part(p, 2).ptr, part(p, 2).len), 0);
}

START_TEST(test_signed_by_test_key)
{
	struct parts p;
	struct buf pkg;
	struct apk_trust alpine, alpine_allow, mine;
	struct apk_verify v;
	struct it_error err = IT_ERROR_INIT;

	load_index();
	parts_load(&p, REPO "/busybox-binsh-1.36.1-r15.apk");
	resign(&pkg, &p, "RSA", TESTKEY ".pub");
	trust_dir(&alpine, KEYS, false);
	trust_dir(&alpine_allow, KEYS, true);
	trust_dir(&mine, TESTKEYS, false);

	/* The C: checksum still matches (it covers the control member only), the key is unknown. */
	ck_assert_int_eq(
	    verify_mem(buf_blob(&pkg), "resigned.apk", &alpine, "busybox-binsh", &v, &err),
	    -IT_EUNTRUSTED);
	ck_assert_str_eq(err.msg, "'resigned.apk': signed by '" TESTKEY
				  ".pub', which is not in trusted keys 'keys'");
	ck_assert_str_eq(err.hint, "add the key to --keys-dir, or use --allow-untrusted");

	it_error_clear(&err);
	ck_assert_int_eq(
	    verify_mem(buf_blob(&pkg), "resigned.apk", &alpine_allow, "busybox-binsh", &v, &err),
	    0);
	ck_assert(v.untrusted);
	ck_assert_str_eq(v.reason, "'resigned.apk': signed by '" TESTKEY
				   ".pub', which is not in trusted keys 'keys'");
	ck_assert_int_eq(err.code, 0);

	ck_assert_int_eq(
	    verify_mem(buf_blob(&pkg), "resigned.apk", &mine, "busybox-binsh", &v, &err), 0);
	ck_assert(!v.untrusted);
	ck_assert_str_eq(v.signer, TESTKEY ".pub");
	buf_release(&pkg);

	/* RSA256 signatures work the same way. */
	resign(&pkg, &p, "RSA256", TESTKEY ".pub");
	ck_assert_int_eq(
	    verify_mem(buf_blob(&pkg), "resigned256.apk", &mine, "busybox-binsh", &v, &err), 0);
	ck_assert_str_eq(v.signer, TESTKEY ".pub");
	buf_release(&pkg);

	/* Our key's signature under Alpine's key name: a bad signature, even with allow_untrusted.
	 */
	resign(&pkg, &p, "RSA", ALPINE_KEY);
	ck_assert_int_eq(
	    verify_mem(buf_blob(&pkg), "forged.apk", &alpine_allow, "busybox-binsh", &v, &err),
	    -IT_ESIGNATURE);
	ck_assert_str_eq(err.msg, "'forged.apk': bad signature by '" ALPINE_KEY "'");
	buf_release(&pkg);

	apk_trust_release(&alpine);
	apk_trust_release(&alpine_allow);
	apk_trust_release(&mine);
	parts_release(&p);
}
END_TEST

START_TEST(test_unsigned)
{
	struct parts p;
	struct buf pkg;
	struct apk_trust alpine, allow;
	struct apk_verify v;
	struct it_error err = IT_ERROR_INIT;
	struct apk_file f;

	load_index();
	parts_load(&p, REPO "/busybox-binsh-1.36.1-r15.apk");
	buf_init(&pkg, 0);
	buf_add(&pkg, part(&p, 1).ptr, part(&p, 1).len);
	buf_add(&pkg, part(&p, 2).ptr, part(&p, 2).len);
	trust_dir(&alpine, KEYS, false);
	trust_dir(&allow, KEYS, true);

	ck_assert_int_eq(
	    verify_mem(buf_blob(&pkg), "unsigned.apk", &alpine, "busybox-binsh", &v, &err),
	    -IT_EUNTRUSTED);
	ck_assert_str_eq(err.msg, "'unsigned.apk': not signed");
	ck_assert(err.hint[0]);
	ck_assert_int_eq(
	    verify_mem(buf_blob(&pkg), "unsigned.apk", &allow, "busybox-binsh", &v, NULL), 0);
	ck_assert(v.untrusted);
	ck_assert_str_eq(v.reason, "'unsigned.apk': not signed");

	/* Unsigned, the control member is the first one; the rest reads the same. */
	ck_assert_int_eq(apk_file_open_mem(&f, "unsigned.apk", buf_blob(&pkg), NULL, &err), 0);
	ck_assert_uint_eq(f.sig_gz.len, 0);
	ck_assert_uint_eq(f.ctrl_gz.off, 0);
	ck_assert_str_eq(f.info.pkgname, "busybox-binsh");
	apk_file_release(&f);

	apk_trust_release(&alpine);
	apk_trust_release(&allow);
	buf_release(&pkg);
	parts_release(&p);
}
END_TEST

START_TEST(test_checksum_and_size_mismatch)
{
	struct apk_trust t;
	struct apk_file f;
	struct apk_verify v;
	struct apk_pkg_expect e;
	struct it_error err = IT_ERROR_INIT;
	const char *path = REPO "/busybox-binsh-1.36.1-r15.apk";

	load_index();
	trust_dir(&t, KEYS, false);
	e = expect_of(idx_find("busybox-binsh"));
	e.csum = idx_find("busybox")->csum;
	ck_assert_int_eq(apk_pkg_open_verified(&f, path, &t, &e, NULL, &v, &err), -IT_ECHECKSUM);
	ck_assert_str_eq(err.msg, "'" REPO "/busybox-binsh-1.36.1-r15.apk': checksum "
				  "Q1oLisfZGMCPUKyVfkRHKxsHWJ/Fg= does not match the index "
				  "(Q1AYNx2pLOAHRYZQgv3nM8TNtvRWY=)");
	ck_assert(err.hint[0]);

	it_error_clear(&err);
	e = expect_of(idx_find("busybox-binsh"));
	e.size = 1544;
	ck_assert_int_eq(apk_pkg_open_verified(&f, path, &t, &e, NULL, &v, &err), -IT_ECHECKSUM);
	ck_assert_str_eq(
	    err.msg,
	    "'" REPO "/busybox-binsh-1.36.1-r15.apk': size 1543 does not match the index (1544)");

	it_error_clear(&err);
	e = expect_of(idx_find("busybox-binsh"));
	e.version = blob_str("1.36.1-r16");
	ck_assert_int_eq(apk_pkg_open_verified(&f, path, &t, &e, NULL, &v, &err), -IT_ECHECKSUM);
	ck_assert(strstr(
	    err.msg, "is busybox-binsh-1.36.1-r15, but the index says busybox-binsh-1.36.1-r16"));

	/* Q2 (SHA-256) over the same bytes works too. */
	ck_assert_int_eq(apk_file_open(&f, path, NULL, &err), 0);
	{
		unsigned char c2[32];

		e = expect_of(idx_find("busybox-binsh"));
		ck_assert_int_eq(apk_file_identity(&f, APK_CSUM_SHA256, c2), 0);
		e.csum = c2;
		e.csum_len = APK_CSUM_SHA256;
		ck_assert_int_eq(apk_pkg_verify(&f, &t, &e, &v, NULL), 0);
		c2[5] ^= 1;
		ck_assert_int_eq(apk_pkg_verify(&f, &t, &e, &v, NULL), -IT_ECHECKSUM);
	}
	apk_file_release(&f);
	apk_trust_release(&t);
}
END_TEST

START_TEST(test_truncated)
{
	struct parts p;
	struct apk_trust t;
	struct apk_verify v;
	struct it_error err = IT_ERROR_INIT;
	struct apk_file f;
	size_t sig_end, ctrl_end, cuts[9];

	load_index();
	trust_dir(&t, KEYS, false);
	parts_load(&p, REPO "/busybox-openrc-1.36.1-r15.apk");
	sig_end = p.m[0].len;
	ctrl_end = p.m[2].off;
	cuts[0] = 3;
	cuts[1] = 10;
	cuts[2] = sig_end - 1;
	cuts[3] = sig_end;
	cuts[4] = sig_end + 10;
	cuts[5] = ctrl_end - 1;
	cuts[6] = ctrl_end;
	cuts[7] = ctrl_end + 100;
	cuts[8] = p.file.len - 1;
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
		struct blob b = blob_mem(p.file.data, cuts[i]);
		int r;

		it_error_clear(&err);
		r = verify_mem(b, "cut.apk", &t, "busybox-openrc", &v, &err);
		ck_assert_msg(r < 0, "cut at %zu passed", cuts[i]);
		ck_assert_msg(starts_with(err.msg, "'cut.apk': "), "%s", err.msg);
		if (i == 3)
			ck_assert_str_eq(err.msg, "'cut.apk': nothing after the signature");
		else if (i == 6)
			ck_assert_str_eq(err.msg, "'cut.apk': no data member");
		else if (i >= 7)
			/* Control intact: the datahash over the cut data catches it before
			 * inflating. */
			ck_assert_int_eq(r, -IT_ECHECKSUM);
		else
			ck_assert_str_eq(err.msg, "'cut.apk': truncated gzip stream");
	}
	/* Reading the entries of a cut data member (no verification) says what is wrong. */
	it_error_clear(&err);
	ck_assert_int_eq(
	    apk_file_open_mem(&f, "cut.apk", blob_mem(p.file.data, p.file.len - 1), NULL, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, stop_cb, &(int){-100}, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'cut.apk': truncated gzip stream");
	apk_file_release(&f);
	parts_release(&p);
	apk_trust_release(&t);
}
END_TEST

/* Flip every byte of a small real package: each flip must be caught, save the gzip header's
 * mtime/xfl/os of the signature member. */
START_TEST(test_flip_every_byte)
{
	struct parts p;
	struct apk_trust t;
	struct apk_verify v;
	int caught[3][3] = {{0}}; /* per member: format, checksum, signature */

	load_index();
	trust_dir(&t, KEYS, false);
	parts_load(&p, REPO "/alpine-base-3.19.1-r0.apk");
	for (int with_index = 0; with_index < 2; with_index++) {
		for (size_t off = 0; off < p.file.len; off++) {
			struct it_error err = IT_ERROR_INIT;
			size_t member = off < p.m[1].off ? 0 : off < p.m[2].off ? 1 : 2;
			int r;

			if (member == 0 && off >= 4 && off <= 9)
				continue;
			p.file.data[off] ^= 0xff;
			r = verify_mem(buf_blob(&p.file), "flip.apk", &t,
				       with_index ? "alpine-base" : NULL, &v, &err);
			p.file.data[off] ^= 0xff;
			ck_assert_msg(r < 0, "flip at %zu (member %zu) passed", off, member);
			ck_assert_msg(starts_with(err.msg, "'flip.apk': "), "%s", err.msg);
			if (r == -IT_EFORMAT)
				caught[member][0]++;
			else if (r == -IT_ECHECKSUM)
				caught[member][1]++;
			else if (r == -IT_ESIGNATURE || r == -IT_EUNTRUSTED)
				caught[member][2]++;
			else
				ck_abort_msg("flip at %zu: unexpected %d %s", off, r, err.msg);
		}
	}
	/* The signature member breaks its gzip; control flips fail the checksum or the signature;
	 * data flips the datahash. */
	ck_assert_int_gt(caught[0][0], 0);
	ck_assert_int_gt(caught[1][1], 0);
	ck_assert_int_gt(caught[1][2], 0);
	ck_assert_int_gt(caught[2][1], 0);
	/* The untouched file still verifies. */
	ck_assert_int_eq(verify_mem(buf_blob(&p.file), "flip.apk", &t, "alpine-base", &v, NULL), 0);
	parts_release(&p);
	apk_trust_release(&t);
}
END_TEST

START_TEST(test_tampered_data)
{
	struct parts p;
	struct apk_trust t;
	struct apk_verify v;
	struct it_error err = IT_ERROR_INIT;
	struct apk_file f;
	struct buf pkg, data;
	char *plain = NULL;
	size_t plain_len;

	load_index();
	trust_dir(&t, KEYS, false);
	parts_load(&p, REPO "/busybox-binsh-1.36.1-r15.apk");

	/* Same files, compressed differently: the signature holds, the datahash does not. */
	ck_assert_int_eq(apk_file_open_mem(&f, "x", buf_blob(&p.file), NULL, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, stop_cb, &(int){-100}, &err), 0);
	plain_len = f.data_tar.len;
	plain = malloc(plain_len);
	memcpy(plain, f.data_tar.data, plain_len);
	apk_file_release(&f);

	buf_init(&pkg, 0);
	buf_add(&pkg, p.file.data, p.m[2].off);
	buf_init(&data, 0);
	gz(&data, plain, plain_len, 1);
	buf_add(&pkg, data.data, data.len);
	ck_assert_int_eq(verify_mem(buf_blob(&pkg), "tampered.apk", &t, "busybox-binsh", &v, &err),
			 -IT_ECHECKSUM);
	ck_assert_str_eq(err.msg, "'tampered.apk': data does not match the datahash in .PKGINFO");

	/* A changed symlink target (with its tar header checksum fixed up): caught the same way. */
	{
		char *at = memmem(plain, plain_len, "/bin/busybox", 12);
		char *h = at - 157;
		unsigned sum = 0;

		ck_assert_ptr_nonnull(at);
		ck_assert_int_eq((h - plain) % 512, 0);
		at[5] = 'X';
		memset(h + 148, ' ', 8);
		for (int i = 0; i < 512; i++)
			sum += (unsigned char)h[i];
		snprintf(h + 148, 8, "%06o", sum);
	}
	pkg.len = p.m[2].off;
	data.len = 0;
	gz(&data, plain, plain_len, 9);
	buf_add(&pkg, data.data, data.len);
	it_error_clear(&err);
	ck_assert_int_eq(verify_mem(buf_blob(&pkg), "tampered.apk", &t, "busybox-binsh", &v, &err),
			 -IT_ECHECKSUM);
	ck_assert_str_eq(err.msg, "'tampered.apk': data does not match the datahash in .PKGINFO");
	/* And reading it without verification still catches it: apk's pax SHA-1 of the link target.
	 */
	it_error_clear(&err);
	ck_assert_int_eq(apk_file_open_mem(&f, "tampered.apk", buf_blob(&pkg), NULL, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, stop_cb, &(int){-100}, &err), -IT_ECHECKSUM);
	ck_assert_str_eq(err.msg,
			 "'tampered.apk': 'bin/sh' does not match its SHA-1 in data member");
	apk_file_release(&f);

	free(plain);
	buf_release(&pkg);
	buf_release(&data);
	parts_release(&p);
	apk_trust_release(&t);
}
END_TEST

/* An unsigned package from a control tar and a data tar. */
static void make_pkg(struct buf *pkg, const struct buf *ctrl_tar, const struct buf *data_tar)
{
	buf_init(pkg, 0);
	gz(pkg, ctrl_tar->data, ctrl_tar->len, 6);
	gz(pkg, data_tar->data, data_tar->len, 6);
}

static void simple_ctrl(struct buf *ctrl)
{
	buf_init(ctrl, 0);
	tar_file(ctrl, ".PKGINFO", "pkgname = crafted\npkgver = 1.0-r0\narch = x86_64\n");
	tar_file(ctrl, ".pre-install", "#!/bin/sh\nexit 0\n");
	tar_file(ctrl, ".unknown", "ignored\n");
}

START_TEST(test_bomb)
{
	struct buf ctrl, data, pkg, big;
	struct apk_file f;
	struct apk_limits lim = {0, 0};
	struct it_error err = IT_ERROR_INIT;
	struct apk_gz_member *m = NULL;
	size_t n;

	simple_ctrl(&ctrl);
	buf_init(&data, 0);
	tar_header(&data, "zeros", '0', 0644, 8u << 20, NULL, 0, 0);
	buf_init(&big, 0);
	ck_assert_int_eq(buf_grow(&big, 8u << 20), 0);
	memset(big.data, 0, 8u << 20);
	big.len = 8u << 20;
	tar_data(&data, big.data, big.len);
	tar_end(&data);
	make_pkg(&pkg, &ctrl, &data);
	ck_assert_uint_lt(pkg.len, 64 * 1024); /* 8 MiB of zeros compress to a few KiB */

	/* Over the total: the inflater stops at the cap. */
	lim.max_total = 1u << 20;
	ck_assert_int_eq(apk_file_open_mem(&f, "bomb.apk", buf_blob(&pkg), &lim, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, stop_cb, &(int){-100}, &err), -IT_ELIMIT);
	ck_assert_str_eq(err.msg, "'bomb.apk': inflates to more than 1048576 bytes");
	ck_assert(f.data_tar.len == 0);
	apk_file_release(&f);
	it_error_clear(&err);
	ck_assert_int_eq(apk_gz_split("bomb.apk", buf_blob(&pkg), &lim, &m, &n, &err), -IT_ELIMIT);
	ck_assert_ptr_null(m);

	/* Over the per-entry limit. */
	it_error_clear(&err);
	lim.max_total = 64u << 20;
	lim.max_entry = 1u << 20;
	ck_assert_int_eq(apk_file_open_mem(&f, "bomb.apk", buf_blob(&pkg), &lim, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, stop_cb, &(int){-100}, &err), -IT_ELIMIT);
	ck_assert_str_eq(
	    err.msg,
	    "'bomb.apk': 'zeros' in data member is 8388608 bytes, over the limit of 1048576");
	apk_file_release(&f);

	/* Within the defaults it reads. */
	ck_assert_int_eq(apk_file_open_mem(&f, "bomb.apk", buf_blob(&pkg), NULL, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, stop_cb, &(int){-100}, &err), 0);
	apk_file_release(&f);

	/* A bomb in the control member stops the open itself. */
	it_error_clear(&err);
	buf_release(&pkg);
	make_pkg(&pkg, &data, &ctrl);
	lim.max_total = 1u << 20;
	ck_assert_int_eq(apk_file_open_mem(&f, "bomb.apk", buf_blob(&pkg), &lim, &err), -IT_ELIMIT);

	buf_release(&big);
	buf_release(&ctrl);
	buf_release(&data);
	buf_release(&pkg);
}
END_TEST

START_TEST(test_raw_paths_and_types)
{
	struct buf ctrl, data, pkg, pax;
	struct apk_file f;
	struct it_error err = IT_ERROR_INIT;
	struct collect c;
	char longname[301];
	const char *expect;

	simple_ctrl(&ctrl);
	buf_init(&data, 0);
	tar_file(&data, "../evil", "x");
	tar_file(&data, "/etc/abs", "y");
	tar_file(&data, "a/../../b", "z");
	tar_file(&data, "ok/file", "hello");
	tar_header(&data, "ok/hard", '1', 0644, 0, "ok/file", 0, 0);
	tar_header(&data, "dev/null", '3', 0666, 0, NULL, 1, 3);
	tar_header(&data, "dev/sda", '4', 0660, 0, NULL, 8, 0);
	tar_header(&data, "run/fifo", '6', 0600, 0, NULL, 0, 0);
	tar_header(&data, "ok/link", '2', 0777, 0, "../../../etc/shadow", 0, 0);
	memset(longname, 'n', 300);
	longname[0] = 'd';
	longname[1] = '/';
	longname[300] = '\0';
	/* A long name by pax... */
	buf_init(&pax, 0);
	pax_record(&pax, "path", longname);
	pax_record(&pax, "SCHILY.xattr.security.capability", "cap");
	pax_record(&pax, "mtime", "1699383189.5");
	tar_pax(&data, &pax);
	tar_file(&data, "truncated-name", "pax");
	/* ...and by GNU 'L'. */
	longname[2] = 'L';
	tar_header(&data, "././@LongLink", 'L', 0644, strlen(longname) + 1, NULL, 0, 0);
	tar_data(&data, longname, strlen(longname) + 1);
	tar_file(&data, "short", "gnu");
	tar_end(&data);
	make_pkg(&pkg, &ctrl, &data);

	ck_assert_int_eq(apk_file_open_mem(&f, "paths.apk", buf_blob(&pkg), NULL, &err), 0);
	ck_assert_uint_eq(f.nscripts, 1);
	ck_assert_int_eq(f.scripts[0].type, APK_SCRIPT_PRE_INSTALL);
	ck_assert_uint_eq(f.nctrl, 3);
	ck_assert_ptr_nonnull(apk_file_ctrl(&f, ".unknown"));
	buf_init(&c.paths, 0);
	c.n = 0;
	ck_assert_msg(apk_file_foreach(&f, collect_cb, &c, &err) == 0, "%s", err.msg);
	expect = "../evil 100644 0:0 1  0,0\n"
		 "/etc/abs 100644 0:0 1  0,0\n"
		 "a/../../b 100644 0:0 1  0,0\n"
		 "ok/file 100644 0:0 5  0,0\n"
		 "ok/hard 100644 0:0 0 ok/file 0,0\n"
		 "dev/null 20666 0:0 0  1,3\n"
		 "dev/sda 60660 0:0 0  8,0\n"
		 "run/fifo 10600 0:0 0  0,0\n"
		 "ok/link 120777 0:0 0 ->../../../etc/shadow 0,0\n";
	ck_assert_msg(starts_with(c.paths.data, expect), "%s", c.paths.data);
	ck_assert_int_eq(c.n, 11);
	longname[2] = 'n';
	ck_assert(strstr(c.paths.data, longname) != NULL);
	longname[2] = 'L';
	ck_assert(strstr(c.paths.data, longname) != NULL);
	ck_assert(strstr(c.paths.data, "truncated-name") == NULL);
	ck_assert(strstr(c.paths.data, "\nshort") == NULL);
	apk_file_release(&f);

	buf_release(&c.paths);
	buf_release(&pax);
	buf_release(&ctrl);
	buf_release(&data);
	buf_release(&pkg);
}
END_TEST

static int xattr_cb(void *ctx, const struct apk_entry *e)
{
	int *seen = ctx;

	if (e->nxattrs) {
		ck_assert_uint_eq(e->nxattrs, 1);
		ck_assert_str_eq(e->xattrs[0].name, "security.capability");
		ck_assert(blob_eq_str(e->xattrs[0].value, "cap"));
		ck_assert_int_eq(e->mtime, 1699383189);
		ck_assert(!strncmp(e->path, "d/nnn", 5));
		ck_assert_uint_eq(strlen(e->path), 300);
		ck_assert(blob_eq_str(blob_mem(e->content, e->size), "pax"));
		(*seen)++;
	}
	return 0;
}

START_TEST(test_pax_fields)
{
	struct buf ctrl, data, pkg, pax;
	struct apk_file f;
	struct it_error err = IT_ERROR_INIT;
	char longname[301];
	int seen = 0;

	simple_ctrl(&ctrl);
	buf_init(&data, 0);
	memset(longname, 'n', 300);
	longname[0] = 'd';
	longname[1] = '/';
	longname[300] = '\0';
	buf_init(&pax, 0);
	pax_record(&pax, "path", longname);
	pax_record(&pax, "SCHILY.xattr.security.capability", "cap");
	pax_record(&pax, "mtime", "1699383189.5");
	tar_pax(&data, &pax);
	tar_file(&data, "truncated-name", "pax");
	tar_file(&data, "plain", "no xattrs here");
	tar_end(&data);
	make_pkg(&pkg, &ctrl, &data);
	ck_assert_int_eq(apk_file_open_mem(&f, "pax.apk", buf_blob(&pkg), NULL, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, xattr_cb, &seen, &err), 0);
	ck_assert_int_eq(seen, 1);
	apk_file_release(&f);
	buf_release(&pax);
	buf_release(&ctrl);
	buf_release(&data);
	buf_release(&pkg);
}
END_TEST

/* A data tar spoiled by 'spoil', read back: the error must be a format error naming the file. */
static void expect_bad_data(void (*spoil)(struct buf *data), int code, const char *msg)
{
	struct buf ctrl, data, pkg;
	struct apk_file f;
	struct it_error err = IT_ERROR_INIT;

	simple_ctrl(&ctrl);
	buf_init(&data, 0);
	tar_file(&data, "etc/motd", "welcome\n");
	tar_file(&data, "etc/issue", "hello\n");
	spoil(&data);
	make_pkg(&pkg, &ctrl, &data);
	ck_assert_int_eq(apk_file_open_mem(&f, "bad.apk", buf_blob(&pkg), NULL, &err), 0);
	ck_assert_msg(apk_file_foreach(&f, stop_cb, &(int){-100}, &err) == code, "%s: got '%s'",
		      msg, err.msg);
	ck_assert_str_eq(err.msg, msg);
	apk_file_release(&f);
	buf_release(&ctrl);
	buf_release(&data);
	buf_release(&pkg);
}

static void spoil_checksum(struct buf *d)
{
	d->data[1024 + 100] = '7'; /* second header's mode field */
}

static void spoil_cut_entry(struct buf *d)
{
	d->len = 512 + 512 + 512 + 3; /* second entry's data cut short */
}

static void spoil_cut_header(struct buf *d)
{
	d->len = 512 + 512 + 100;
}

static void spoil_after_end(struct buf *d)
{
	tar_end(d);
	tar_file(d, "late", "x");
}

static void spoil_magic(struct buf *d)
{
	memcpy(d->data + 257, "nope!", 5);
}

static void spoil_pax(struct buf *d)
{
	struct buf pax;

	buf_init(&pax, 0);
	buf_addstr(&pax, "99 path=x\n");
	tar_pax(d, &pax);
	tar_file(d, "y", "y");
	buf_release(&pax);
}

static void spoil_pax_sha1(struct buf *d)
{
	struct buf pax;

	buf_init(&pax, 0);
	pax_record(&pax, "APK-TOOLS.checksum.SHA1", "0000000000000000000000000000000000000000");
	tar_pax(d, &pax);
	tar_file(d, "etc/hostname", "box\n");
	buf_release(&pax);
}

static void spoil_orphan_pax(struct buf *d)
{
	struct buf pax;

	buf_init(&pax, 0);
	pax_record(&pax, "path", "x");
	tar_pax(d, &pax);
	buf_release(&pax);
}

START_TEST(test_bad_tar)
{
	expect_bad_data(spoil_checksum, -IT_EFORMAT,
			"'bad.apk': bad tar header checksum in data member at offset 1024");
	expect_bad_data(spoil_cut_entry, -IT_EFORMAT,
			"'bad.apk': truncated tar entry in data member at offset 1024");
	expect_bad_data(spoil_cut_header, -IT_EFORMAT,
			"'bad.apk': truncated tar header in data member at offset 1024");
	expect_bad_data(
	    spoil_after_end, -IT_EFORMAT,
	    "'bad.apk': data after the end of the archive in data member at offset 2048");
	expect_bad_data(spoil_magic, -IT_EFORMAT,
			"'bad.apk': not a ustar header in data member at offset 0");
	expect_bad_data(spoil_pax, -IT_EFORMAT,
			"'bad.apk': bad pax header in data member at offset 2048");
	expect_bad_data(spoil_pax_sha1, -IT_ECHECKSUM,
			"'bad.apk': 'etc/hostname' does not match its SHA-1 in data member");
	expect_bad_data(
	    spoil_orphan_pax, -IT_EFORMAT,
	    "'bad.apk': extended header without an entry in data member at offset 3072");
}
END_TEST

START_TEST(test_bad_pkginfo)
{
	struct apk_pkginfo pi;
	struct it_error err = IT_ERROR_INIT;

	apk_pkginfo_init(&pi);
	ck_assert_int_eq(
	    apk_pkginfo_parse(&pi, "p.apk", blob_str("# c\npkgname = a\npkgver\n"), &err),
	    -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'p.apk': .PKGINFO line 3: expected 'key = value'");
	it_error_clear(&err);
	ck_assert_int_eq(apk_pkginfo_parse(&pi, "p.apk", blob_str("pkgver = 1\n"), &err),
			 -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'p.apk': .PKGINFO has no pkgname");
	it_error_clear(&err);
	ck_assert_int_eq(apk_pkginfo_parse(&pi, "p.apk",
					   blob_str("pkgname = a\npkgver = 1\ndatahash = 12zz\n"),
					   &err),
			 -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'p.apk': .PKGINFO line 3: bad value for 'datahash'");
	it_error_clear(&err);
	ck_assert_int_eq(
	    apk_pkginfo_parse(&pi, "p.apk", blob_str("pkgname = a\nsize = 12k\n"), &err),
	    -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'p.apk': .PKGINFO line 2: bad value for 'size'");
	ck_assert_int_eq(
	    apk_pkginfo_parse(
		&pi, "p.apk",
		blob_str("pkgname = a\npkgver = 1\nprovider_priority = -5\n"
			 "install_if = x=1  y\nunknown = kept quiet\nreplaces_priority = 3"),
		NULL),
	    0);
	ck_assert_int_eq(pi.provider_priority, -5);
	ck_assert(pi.has_replaces_priority);
	ck_assert_int_eq(pi.replaces_priority, 3);
	ck_assert_uint_eq(pi.install_if.n, 2);
	ck_assert_str_eq(pi.install_if.v[1], "y");
	apk_pkginfo_release(&pi);
}
END_TEST

START_TEST(test_not_apk)
{
	struct apk_file f;
	struct it_error err = IT_ERROR_INIT;
	struct buf b, junk;
	char dir[] = "/tmp/it-apk-XXXXXX", path[256];

	ck_assert_int_eq(apk_file_open_mem(&f, "x.apk", blob_str("hello world"), NULL, &err),
			 -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'x.apk': not a gzip file");
	it_error_clear(&err);
	ck_assert_int_eq(apk_file_open_mem(&f, "x.apk", blob_mem("", 0), NULL, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'x.apk': empty file");
	it_error_clear(&err);
	ck_assert_int_eq(apk_file_open(&f, "tests/data/none.apk", NULL, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "cannot open 'tests/data/none.apk': No such file or directory");
	it_error_clear(&err);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/empty.apk", dir);
	ck_assert_int_eq(write_file_atomic(path, "", 0, 0644), 0);
	ck_assert_int_eq(apk_file_open(&f, path, NULL, &err), -IT_EFORMAT);
	ck_assert(strstr(err.msg, "empty.apk': empty file"));
	it_error_clear(&err);
	ck_assert_int_eq(apk_file_open(&f, dir, NULL, &err), -IT_EFORMAT);
	ck_assert(strstr(err.msg, "': not a regular file"));
	rm_rf(dir);

	/* Junk after the last member. */
	tu_read_new(&b, REPO "/busybox-binsh-1.36.1-r15.apk");
	buf_addstr(&b, "junk");
	it_error_clear(&err);
	ck_assert_int_eq(apk_file_open_mem(&f, "junk.apk", buf_blob(&b), NULL, &err), 0);
	ck_assert_int_eq(apk_file_foreach(&f, stop_cb, &(int){-100}, &err), -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'junk.apk': junk after gzip member at offset 1543");
	apk_file_release(&f);

	/* A gzip file that is not a tar. */
	buf_init(&junk, 0);
	gz(&junk, "plain text, not a tar archive", 29, 6);
	it_error_clear(&err);
	ck_assert_int_eq(apk_file_open_mem(&f, "text.gz", buf_blob(&junk), NULL, &err),
			 -IT_EFORMAT);
	ck_assert_str_eq(err.msg, "'text.gz': truncated tar header in first member at offset 0");
	buf_release(&junk);
	buf_release(&b);
}
END_TEST

START_TEST(test_index_resigned)
{
	struct buf file, out;
	struct apk_gz_member *m = NULL;
	size_t n;
	struct apk_trust alpine, mine;
	struct apk_signed_index ix;
	struct it_error err = IT_ERROR_INIT;

	tu_read_new(&file, REPO "/APKINDEX.tar.gz");
	ck_assert_int_eq(apk_gz_split("i", buf_blob(&file), NULL, &m, &n, &err), 0);
	buf_init(&out, 0);
	sig_member(&out, "RSA", TESTKEY ".pub", blob_mem(file.data + m[1].off, m[1].len));
	buf_add(&out, file.data + m[1].off, m[1].len);
	trust_dir(&alpine, KEYS, false);
	trust_dir(&mine, TESTKEYS, false);
	ck_assert_int_eq(apk_signed_index_open_mem("idx", buf_blob(&out), &alpine, NULL, &ix, &err),
			 -IT_EUNTRUSTED);
	ck_assert_ptr_null(ix.apkindex);
	ck_assert_int_eq(apk_signed_index_open_mem("idx", buf_blob(&out), &mine, NULL, &ix, &err),
			 0);
	ck_assert_str_eq(ix.verify.signer, TESTKEY ".pub");
	ck_assert_str_eq(ix.description, "3.19.1");
	apk_signed_index_release(&ix);

	/* A flipped byte in the index member breaks the signature or the gzip. */
	out.data[out.len - 5000] ^= 0x10;
	it_error_clear(&err);
	ck_assert_int_lt(apk_signed_index_open_mem("idx", buf_blob(&out), &mine, NULL, &ix, &err),
			 0);
	ck_assert(starts_with(err.msg, "'idx': "));

	apk_trust_release(&alpine);
	apk_trust_release(&mine);
	buf_release(&out);
	buf_release(&file);
	free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_apk");
	TCase *tc = tcase_create("real");
	TCase *bad = tcase_create("crafted");

	tcase_set_timeout(tc, 60);
	tcase_set_timeout(bad, 60);
	tcase_add_test(tc, test_split_real);
	tcase_add_test(tc, test_index_real);
	tcase_add_test(tc, test_verify_all_real);
	tcase_add_test(tc, test_pkginfo_and_scripts);
	tcase_add_test(tc, test_entries_real);
	tcase_add_test(tc, test_foreach_stops);
	tcase_add_test(tc, test_csum_text);
	tcase_add_test(tc, test_path_unsafe);
	tcase_add_test(tc, test_trust_load_errors);
	tcase_add_test(bad, test_signed_by_test_key);
	tcase_add_test(bad, test_unsigned);
	tcase_add_test(bad, test_checksum_and_size_mismatch);
	tcase_add_test(bad, test_truncated);
	tcase_add_test(bad, test_flip_every_byte);
	tcase_add_test(bad, test_tampered_data);
	tcase_add_test(bad, test_bomb);
	tcase_add_test(bad, test_raw_paths_and_types);
	tcase_add_test(bad, test_pax_fields);
	tcase_add_test(bad, test_bad_tar);
	tcase_add_test(bad, test_bad_pkginfo);
	tcase_add_test(bad, test_not_apk);
	tcase_add_test(bad, test_index_resigned);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return tu_run_suite(s);
}
