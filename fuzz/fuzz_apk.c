// SPDX-License-Identifier: MIT
/* libFuzzer target: bytes as an APK v2 file or signed index: split, open, walk, verify. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "fuzz/fuzz.h"

/*
 * Input formats, by the first byte:
 *   'Z' then raw tar segments separated by APKF_SEG_MARK: each segment is gzipped
 *       here and the members concatenated, so mutations reach the tar and
 *       .PKGINFO parsers instead of dying in inflate;
 *   anything else: the whole input is the file, as downloaded.
 */
#define APKF_SEG_MARK "@@GZSEG@"
#define APKF_MAX_SEGS 8

static struct apk_trust apkf_trust;
static bool apkf_loaded;
static const struct apk_limits apkf_limits = {8ULL << 20, 4ULL << 20};

FUZZ_INIT(apk)
{
	struct it_error err = IT_ERROR_INIT;
	const char *dir = getenv("FUZZ_KEYS_DIR");

	(void)argc;
	(void)argv;
	if (apkf_loaded)
		return 0;
	apkf_loaded = true;
	apk_trust_init(&apkf_trust);
	if (apk_trust_load(&apkf_trust, dir ? dir : "keys", &err) < 0) {
		/* Without keys every signature is untrusted: still worth fuzzing. */
		apk_trust_release(&apkf_trust);
		apk_trust_init(&apkf_trust);
	}
	apkf_trust.allow_untrusted = true;
	return 0;
}

static int apkf_gzip_append(struct buf *out, const uint8_t *p, size_t n)
{
	z_stream z;
	unsigned char chunk[16384];
	int zr, r = 0;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)p;
	z.avail_in = (uInt)n;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			r = -1;
			break;
		}
		if (buf_add(out, chunk, sizeof(chunk) - z.avail_out) < 0) {
			r = -1;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	return r;
}

/* Build the file from 'Z' input: gzip each segment. */
static int apkf_make_file(struct buf *out, const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	size_t mlen = strlen(APKF_SEG_MARK);

	for (int i = 0; i < APKF_MAX_SEGS && p <= end; i++) {
		const uint8_t *m = memmem(p, (size_t)(end - p), APKF_SEG_MARK, mlen);
		const uint8_t *stop = m ? m : end;

		if (apkf_gzip_append(out, p, (size_t)(stop - p)) < 0)
			return -1;
		if (!m)
			break;
		p = m + mlen;
	}
	return 0;
}

struct apkf_walk {
	unsigned long n;
	unsigned sum;
};

static int apkf_on_entry(void *ctx, const struct apk_entry *e)
{
	struct apkf_walk *w = ctx;

	if (e->path == NULL || e->content == NULL || e->uname == NULL || e->gname == NULL)
		fuzz_fail();
	/* Touch every byte handed out, so that a view past the buffer shows up. */
	w->sum +=
	    (unsigned)strlen(e->path) + (unsigned)strlen(e->uname) + (unsigned)strlen(e->gname);
	for (unsigned long long i = 0; i < e->size; i++)
		w->sum += (unsigned char)e->content[i];
	if (e->size > apkf_limits.max_entry)
		fuzz_fail();
	if (S_ISLNK(e->mode)) {
		if (e->link_target == NULL)
			fuzz_fail();
		w->sum += (unsigned)strlen(e->link_target);
	}
	if (e->hardlink)
		w->sum += (unsigned)strlen(e->hardlink);
	if (e->sha1)
		w->sum += e->sha1[0] + e->sha1[19];
	for (size_t i = 0; i < e->nxattrs; i++) {
		w->sum += (unsigned)strlen(e->xattrs[i].name);
		for (size_t k = 0; k < e->xattrs[i].value.len; k++)
			w->sum += (unsigned char)e->xattrs[i].value.ptr[k];
	}
	(void)apk_path_unsafe(e->path);
	w->n++;
	return 0;
}

static void apkf_split(struct blob file)
{
	struct apk_gz_member *m = NULL;
	size_t n = 0;
	struct it_error err = IT_ERROR_INIT;
	int r;

	r = apk_gz_split("fuzz.apk", file, &apkf_limits, &m, &n, &err);
	fuzz_check_error(&err, r);
	if (r == 0) {
		size_t next = 0;

		/* Members are contiguous, in order, and cover the file. */
		for (size_t i = 0; i < n; i++) {
			if (m[i].off != next || m[i].len == 0 || m[i].off + m[i].len > file.len)
				fuzz_fail();
			next = m[i].off + m[i].len;
		}
		if (next != file.len)
			fuzz_fail();
	}
	free(m);
}

static void apkf_open_pkg(struct blob file)
{
	struct apk_file f;
	struct apk_verify v;
	struct it_error err = IT_ERROR_INIT;
	struct apkf_walk w = {0, 0};
	unsigned char id[32];
	struct blob sb;
	int r;

	apk_file_init(&f);
	r = apk_file_open_mem(&f, "fuzz.apk", file, &apkf_limits, &err);
	fuzz_check_error(&err, r);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < f.nctrl; i++)
		w.sum += (unsigned)strlen(f.ctrl[i].name) + (unsigned)f.ctrl[i].content.len;
	for (size_t i = 0; i < f.nscripts; i++)
		if (apk_script_name(f.scripts[i].type) == NULL)
			fuzz_fail();
	(void)apk_file_ctrl(&f, ".PKGINFO");
	sb = apk_file_signed_bytes(&f);
	if (sb.len > file.len)
		fuzz_fail();
	apk_file_identity(&f, APK_CSUM_SHA1, id);

	memset(&v, 0, sizeof(v));
	it_error_clear(&err);
	r = apk_trust_verify(&apkf_trust, &f, &v, &err);
	fuzz_check_error(&err, r);

	it_error_clear(&err);
	r = apk_file_foreach(&f, apkf_on_entry, &w, &err);
	fuzz_check_error(&err, r);
	if (r == 0) {
		/* A second walk sees the same entries. */
		struct apkf_walk w2 = {0, 0};

		it_error_clear(&err);
		if (apk_file_foreach(&f, apkf_on_entry, &w2, &err) != 0 || w2.n != w.n)
			fuzz_fail();
	}
	it_error_clear(&err);
	r = apk_file_check_datahash(&f, &err);
	fuzz_check_error(&err, r);

	it_error_clear(&err);
	memset(&v, 0, sizeof(v));
	r = apk_pkg_verify(&f, &apkf_trust, NULL, &v, &err);
	fuzz_check_error(&err, r);
	if (f.inflated > apkf_limits.max_total)
		fuzz_fail();
out:
	apk_file_release(&f);
}

static void apkf_open_index(struct blob file)
{
	struct apk_signed_index ix;
	struct it_error err = IT_ERROR_INIT;
	int r;

	apk_signed_index_init(&ix);
	r = apk_signed_index_open_mem("fuzz-APKINDEX.tar.gz", file, &apkf_trust, &apkf_limits, &ix,
				      &err);
	fuzz_check_error(&err, r);
	if (r == 0 && (ix.apkindex == NULL || ix.description == NULL ||
		       strlen(ix.apkindex) > ix.apkindex_len))
		fuzz_fail();
	apk_signed_index_release(&ix);
}

FUZZ_ONE(apk)
{
	struct buf made = BUF_INIT;
	struct blob file = blob_mem(data, size);

	buf_init(&made, 64 << 20);
	if (size > 0 && data[0] == 'Z') {
		if (apkf_make_file(&made, data + 1, size - 1) < 0)
			goto out;
		file = buf_blob(&made);
	}
	apkf_split(file);
	apkf_open_pkg(file);
	apkf_open_index(file);
out:
	buf_release(&made);
	return 0;
}
