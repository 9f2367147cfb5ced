// SPDX-License-Identifier: MIT
/* APK v2 containers: gzip members inflated one by one, tar segments, .PKGINFO and checksums. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "builder/internal.h"
#include "common/util.h"

#define GZ_CHUNK (64 * 1024)
#define TAR_BLOCK 512
#define MAX_XATTRS 32

static const char empty_content[1];

static const char *const script_names[APK_SCRIPT_MAX] = {
    [APK_SCRIPT_PRE_INSTALL] = "pre-install",
    [APK_SCRIPT_POST_INSTALL] = "post-install",
    [APK_SCRIPT_PRE_DEINSTALL] = "pre-deinstall",
    [APK_SCRIPT_POST_DEINSTALL] = "post-deinstall",
    [APK_SCRIPT_PRE_UPGRADE] = "pre-upgrade",
    [APK_SCRIPT_POST_UPGRADE] = "post-upgrade",
    [APK_SCRIPT_TRIGGER] = "trigger",
};

const char *apk_script_name(enum apk_script_type t)
{
	if ((unsigned)t >= APK_SCRIPT_MAX)
		return NULL;
	return script_names[t];
}

static void limits_fill(struct apk_limits *out, const struct apk_limits *in)
{
	out->max_total = in && in->max_total ? in->max_total : APK_DEFAULT_MAX_TOTAL;
	out->max_entry = in && in->max_entry ? in->max_entry : APK_DEFAULT_MAX_ENTRY;
}

/* ---- gzip members ---- */

/*
 * Inflate the one gzip member at file[off]; append its output to 'out', or
 * discard it when out is NULL. *inflated counts against 'max'. On success
 * *end is the offset just past the member's trailer.
 */
static int gz_member(const char *name, struct blob file, size_t off, struct buf *out,
		     unsigned long long *inflated, unsigned long long max, size_t *end,
		     struct it_error *err)
{
	unsigned char scratch[GZ_CHUNK];
	z_stream zs;
	int zr, r = 0;

	if (file.len - off < 2 || (unsigned char)file.ptr[off] != 0x1f ||
	    (unsigned char)file.ptr[off + 1] != 0x8b) {
		if (off == 0)
			return it_error_set(err, -IT_EFORMAT, "'%s': not a gzip file", name);
		return it_error_set(err, -IT_EFORMAT, "'%s': junk after gzip member at offset %zu",
				    name, off);
	}
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -ENOMEM;
	zs.next_in = (unsigned char *)(file.ptr + off);
	zs.avail_in = file.len - off > UINT_MAX ? UINT_MAX : (unsigned)(file.len - off);
	for (;;) {
		size_t room = GZ_CHUNK;
		unsigned long long left = max - *inflated;
		unsigned char *dst = scratch;
		size_t got;

		/* One byte beyond the cap tells "exactly at the cap" from "over it". */
		if (left + 1 < room)
			room = (size_t)left + 1;
		if (out) {
			r = buf_grow(out, room);
			if (r < 0)
				goto out;
			dst = (unsigned char *)out->data + out->len;
		}
		zs.next_out = dst;
		zs.avail_out = (unsigned)room;
		zr = inflate(&zs, Z_NO_FLUSH);
		got = room - zs.avail_out;
		if (got > left) {
			r = it_error_set(err, -IT_ELIMIT, "'%s': inflates to more than %llu bytes",
					 name, max);
			it_error_hint(err, "the file may be a decompression bomb");
			goto out;
		}
		*inflated += got;
		if (out) {
			out->len += got;
			out->data[out->len] = '\0';
		}
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
			if ((size_t)(zs.next_in - (unsigned char *)file.ptr) < file.len) {
				/* More than UINT_MAX bytes of input: feed the next slice. */
				size_t pos = (size_t)(zs.next_in - (unsigned char *)file.ptr);

				zs.avail_in = file.len - pos > UINT_MAX
						  ? UINT_MAX
						  : (unsigned)(file.len - pos);
				continue;
			}
			r = it_error_set(err, -IT_EFORMAT, "'%s': truncated gzip stream", name);
			goto out;
		}
		r = it_error_set(err, -IT_EFORMAT, "'%s': corrupt gzip stream at offset %zu: %s",
				 name, off, zs.msg ? zs.msg : "inflate failed");
		goto out;
	}
	*end = (size_t)(zs.next_in - (unsigned char *)file.ptr);
out:
	inflateEnd(&zs);
	return r;
}

int apk_gz_split(const char *name, struct blob file, const struct apk_limits *lim,
		 struct apk_gz_member **members, size_t *n, struct it_error *err)
{
	struct apk_limits l;
	struct apk_gz_member *v = NULL, *nv;
	size_t nv_len = 0, off = 0, end = 0;
	unsigned long long total = 0, before;
	int r = 0;

	limits_fill(&l, lim);
	*members = NULL;
	*n = 0;
	if (file.len == 0)
		return it_error_set(err, -IT_EFORMAT, "'%s': empty file", name);
	while (off < file.len) {
		before = total;
		r = gz_member(name, file, off, NULL, &total, l.max_total, &end, err);
		if (r < 0)
			goto out;
		nv = realloc(v, (nv_len + 1) * sizeof(*v));
		if (!nv) {
			r = -ENOMEM;
			goto out;
		}
		v = nv;
		v[nv_len++] = (struct apk_gz_member){off, end - off, total - before};
		off = end;
	}
	*members = v;
	*n = nv_len;
	v = NULL;
out:
	free(v);
	return r;
}

/* ---- tar segments ---- */

struct tar_header {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[8];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char padding[12];
};

_Static_assert(sizeof(struct tar_header) == TAR_BLOCK, "tar header is one block");

/* A walk over one decompressed tar segment; per-entry strings live here. */
struct tar_walk {
	const char *file; /* for messages */
	const char *what; /* "signature member", "control member", "data member" */
	struct blob seg;
	size_t pos;
	unsigned long long max_entry;
	char path[PATH_MAX];
	char link[PATH_MAX];
	char uname[33], gname[33];
	unsigned char sha1[20];
	char xnames[MAX_XATTRS][256];
	struct apk_xattr xattrs[MAX_XATTRS];
};

static int tar_err(struct tar_walk *w, struct it_error *err, const char *what)
{
	return it_error_set(err, -IT_EFORMAT, "'%s': %s in %s at offset %zu", w->file, what,
			    w->what, w->pos);
}

/* Octal number with optional leading spaces and trailing NULs or spaces (as tar writes them). */
static bool tar_octal(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i = 0;

	while (i < len && s[i] == ' ')
		i++;
	for (; i < len && s[i] >= '0' && s[i] <= '7'; i++) {
		if (v > (ULLONG_MAX >> 3))
			return false;
		v = (v << 3) | (unsigned)(s[i] - '0');
	}
	for (; i < len; i++)
		if (s[i] != '\0' && s[i] != ' ')
			return false;
	*out = v;
	return true;
}

static bool tar_checksum_ok(const unsigned char *h)
{
	unsigned long long want;
	unsigned long sum_u = 0;
	long sum_s = 0;

	if (!tar_octal((const char *)h + 148, 8, &want))
		return false;
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];

		sum_u += c;
		sum_s += (signed char)c;
	}
	return want == sum_u || (long long)want == sum_s;
}

static void copy_field(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen);

	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool hex_decode(struct blob hex, unsigned char *out, size_t n)
{
	if (hex.len != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit_value(hex.ptr[2 * i]);
		int lo = hex_digit_value(hex.ptr[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* What a pax extended header says about the next entry. */
struct pax_info {
	bool has_path, has_link, has_size, has_uid, has_gid, has_mtime, has_sha1;
	bool has_uname, has_gname;
	unsigned long long size, uid, gid;
	long long mtime;
	size_t nxattrs;
};

static int pax_value_str(struct tar_walk *w, char *dst, size_t dstsz, struct blob v,
			 struct it_error *err)
{
	if (v.len >= dstsz || memchr(v.ptr, '\0', v.len))
		return tar_err(w, err, "bad pax string");
	memcpy(dst, v.ptr, v.len);
	dst[v.len] = '\0';
	return 0;
}

static int pax_value_num(struct tar_walk *w, struct blob v, unsigned long long *out,
			 struct it_error *err)
{
	struct blob ip = v, frac;

	/* mtime may carry a fraction: "1699383189.123" */
	if (blob_split(v, '.', &ip, &frac))
		v = ip;
	if (!blob_to_u64(v, out))
		return tar_err(w, err, "bad pax number");
	return 0;
}

static int pax_parse(struct tar_walk *w, struct blob pax, struct pax_info *pi, struct it_error *err)
{
	int r;

	memset(pi, 0, sizeof(*pi));
	while (pax.len > 0) {
		struct blob lenstr, rest, rec, key, val;
		unsigned long long reclen;

		if (!blob_split(pax, ' ', &lenstr, &rest) || !blob_to_u64(lenstr, &reclen) ||
		    reclen > pax.len || reclen < lenstr.len + 3 || pax.ptr[reclen - 1] != '\n')
			return tar_err(w, err, "bad pax header");
		rec = (struct blob){reclen - lenstr.len - 2, rest.ptr};
		pax = (struct blob){pax.len - reclen, pax.ptr + reclen};
		if (!blob_split(rec, '=', &key, &val))
			return tar_err(w, err, "bad pax record");
		if (blob_eq_str(key, "path")) {
			r = pax_value_str(w, w->path, sizeof(w->path), val, err);
			pi->has_path = true;
		} else if (blob_eq_str(key, "linkpath")) {
			r = pax_value_str(w, w->link, sizeof(w->link), val, err);
			pi->has_link = true;
		} else if (blob_eq_str(key, "uname")) {
			r = pax_value_str(w, w->uname, sizeof(w->uname), val, err);
			pi->has_uname = true;
		} else if (blob_eq_str(key, "gname")) {
			r = pax_value_str(w, w->gname, sizeof(w->gname), val, err);
			pi->has_gname = true;
		} else if (blob_eq_str(key, "size")) {
			r = pax_value_num(w, val, &pi->size, err);
			pi->has_size = true;
		} else if (blob_eq_str(key, "uid")) {
			r = pax_value_num(w, val, &pi->uid, err);
			pi->has_uid = true;
		} else if (blob_eq_str(key, "gid")) {
			r = pax_value_num(w, val, &pi->gid, err);
			pi->has_gid = true;
		} else if (blob_eq_str(key, "mtime")) {
			unsigned long long t;

			r = pax_value_num(w, val, &t, err);
			pi->mtime = (long long)t;
			pi->has_mtime = true;
		} else if (blob_eq_str(key, "APK-TOOLS.checksum.SHA1")) {
			if (!hex_decode(val, w->sha1, sizeof(w->sha1)))
				return tar_err(w, err, "bad APK-TOOLS.checksum.SHA1");
			pi->has_sha1 = true;
			r = 0;
		} else if (blob_starts(key, "SCHILY.xattr.")) {
			struct blob xn = {key.len - 13, key.ptr + 13};

			if (pi->nxattrs >= MAX_XATTRS)
				return tar_err(w, err, "too many extended attributes");
			r = pax_value_str(w, w->xnames[pi->nxattrs], sizeof(w->xnames[0]), xn, err);
			w->xattrs[pi->nxattrs] = (struct apk_xattr){w->xnames[pi->nxattrs], val};
			pi->nxattrs++;
		} else {
			r = 0; /* atime, ctime, comment, ...: not needed */
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static bool block_is_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int sha1_check(struct tar_walk *w, const struct apk_entry *e, struct it_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const void *p;
	size_t n;

	if (S_ISREG(e->mode) && !e->hardlink) {
		p = e->content;
		n = e->size;
	} else if (S_ISLNK(e->mode)) {
		p = e->link_target;
		n = strlen(e->link_target);
	} else {
		return 0;
	}
	if (EVP_Digest(p, n, md, &mdlen, EVP_sha1(), NULL) != 1)
		return -ENOMEM;
	if (memcmp(md, w->sha1, sizeof(w->sha1)) != 0)
		return it_error_set(err, -IT_ECHECKSUM, "'%s': '%s' does not match its SHA-1 in %s",
				    w->file, e->path, w->what);
	return 0;
}

/* Extended headers (pax 'x', GNU 'L' and 'K') read before the entry they describe. */
struct tar_ext {
	struct pax_info pax;
	bool pax_pending; /* a pax header came: its fields override the entry's */
	bool long_name, long_link;
};

/* The number fields of a ustar header; size as a pax header may override it. */
struct tar_nums {
	unsigned long long mode, uid, gid, size, mtime, major, minor;
	unsigned long long padded; /* size rounded up to whole blocks */
};

/* The segment ends here: 0, unless extended headers wait for an entry that never came. */
static int tar_end(struct tar_walk *w, const struct tar_ext *x, struct it_error *err)
{
	if (x->pax_pending || x->long_name || x->long_link)
		return tar_err(w, err, "extended header without an entry");
	return 0;
}

/*
 * The header at w->pos, checked: 1 with *h, 0 at the end of the segment (end
 * blocks, or its end without them), or a negative code.
 */
static int tar_header_at(struct tar_walk *w, const struct tar_ext *x, const struct tar_header **h,
			 struct it_error *err)
{
	if (w->pos == w->seg.len)
		return tar_end(w, x, err);
	if (w->seg.len - w->pos < TAR_BLOCK)
		return tar_err(w, err, "truncated tar header");
	*h = (const struct tar_header *)(w->seg.ptr + w->pos);
	if ((*h)->name[0] == '\0') {
		if (!block_is_zero(w->seg.ptr + w->pos, w->seg.len - w->pos))
			return tar_err(w, err, "data after the end of the archive");
		w->pos = w->seg.len;
		return tar_end(w, x, err);
	}
	if (memcmp((*h)->magic, "ustar", 5) != 0)
		return tar_err(w, err, "not a ustar header");
	if (!tar_checksum_ok((const unsigned char *)*h))
		return tar_err(w, err, "bad tar header checksum");
	return 1;
}

/* Decode h's numbers and check that its data fits in the segment. */
static int tar_header_numbers(struct tar_walk *w, const struct tar_header *h,
			      const struct tar_ext *x, struct tar_nums *nu, struct it_error *err)
{
	if (!tar_octal(h->mode, sizeof(h->mode), &nu->mode) ||
	    !tar_octal(h->uid, sizeof(h->uid), &nu->uid) ||
	    !tar_octal(h->gid, sizeof(h->gid), &nu->gid) ||
	    !tar_octal(h->size, sizeof(h->size), &nu->size) ||
	    !tar_octal(h->mtime, sizeof(h->mtime), &nu->mtime) ||
	    !tar_octal(h->devmajor, sizeof(h->devmajor), &nu->major) ||
	    !tar_octal(h->devminor, sizeof(h->devminor), &nu->minor))
		return tar_err(w, err, "bad number in tar header");
	if (x->pax_pending && x->pax.has_size)
		nu->size = x->pax.size;
	if (nu->size > w->seg.len - w->pos - TAR_BLOCK)
		return tar_err(w, err, "truncated tar entry");
	nu->padded = (nu->size + TAR_BLOCK - 1) & ~(unsigned long long)(TAR_BLOCK - 1);
	if (nu->padded > w->seg.len - w->pos - TAR_BLOCK)
		return tar_err(w, err, "truncated tar entry");
	return 0;
}

/*
 * An extended header is taken into x: 1. Any other header is an entry's: 0.
 * pax globals ('g') are read over, as apk does.
 */
static int tar_take_extension(struct tar_walk *w, const struct tar_header *h, struct blob data,
			      struct tar_ext *x, struct it_error *err)
{
	int r;

	switch (h->typeflag) {
	case 'x':
		r = pax_parse(w, data, &x->pax, err);
		if (r < 0)
			return r;
		x->pax_pending = true;
		return 1;
	case 'g':
		return 1;
	case 'L':
		if (data.len >= PATH_MAX)
			return tar_err(w, err, "GNU long name too long");
		copy_field(w->path, PATH_MAX, data.ptr, data.len);
		x->long_name = true;
		return 1;
	case 'K':
		if (data.len >= PATH_MAX)
			return tar_err(w, err, "GNU long name too long");
		copy_field(w->link, PATH_MAX, data.ptr, data.len);
		x->long_link = true;
		return 1;
	default:
		return 0;
	}
}

/* The entry's names, owners, times and attributes: the header's unless x gave them. */
static void tar_fill_entry(struct tar_walk *w, const struct tar_header *h,
			   const struct tar_nums *nu, const struct tar_ext *x, struct apk_entry *e)
{
	static const struct pax_info no_pax;
	const struct pax_info *pax = x->pax_pending ? &x->pax : &no_pax;

	memset(e, 0, sizeof(*e));
	if (!pax->has_path && !x->long_name) {
		if (h->prefix[0])
			snprintf(w->path, sizeof(w->path), "%.*s/%.*s",
				 (int)strnlen(h->prefix, sizeof(h->prefix)), h->prefix,
				 (int)strnlen(h->name, sizeof(h->name)), h->name);
		else
			copy_field(w->path, sizeof(w->path), h->name, sizeof(h->name));
	}
	if (!pax->has_link && !x->long_link)
		copy_field(w->link, sizeof(w->link), h->linkname, sizeof(h->linkname));
	if (!pax->has_uname)
		copy_field(w->uname, sizeof(w->uname), h->uname, sizeof(h->uname));
	if (!pax->has_gname)
		copy_field(w->gname, sizeof(w->gname), h->gname, sizeof(h->gname));
	e->path = w->path;
	e->mode = (unsigned)(nu->mode & 07777);
	e->uid = (unsigned)(pax->has_uid ? pax->uid : nu->uid);
	e->gid = (unsigned)(pax->has_gid ? pax->gid : nu->gid);
	e->uname = w->uname;
	e->gname = w->gname;
	e->mtime = pax->has_mtime ? pax->mtime : (int64_t)nu->mtime;
	e->content = empty_content;
	e->devmajor = (unsigned)nu->major;
	e->devminor = (unsigned)nu->minor;
	if (pax->has_sha1)
		e->sha1 = w->sha1;
	if (pax->nxattrs) {
		e->xattrs = w->xattrs;
		e->nxattrs = pax->nxattrs;
	}
}

/* The file type from the typeflag, and a regular file's data: 1, or 0 for a type apk skips. */
static int tar_entry_type(struct tar_walk *w, char typeflag, const struct tar_nums *nu,
			  const char *data, struct apk_entry *e, struct it_error *err)
{
	switch (typeflag) {
	case '0':
	case '7':
	case '\0':
		e->mode |= S_IFREG;
		if (nu->size > w->max_entry) {
			it_error_set(err, -IT_ELIMIT,
				     "'%s': '%s' in %s is %llu bytes, over the limit of %llu",
				     w->file, w->path, w->what, nu->size, w->max_entry);
			it_error_hint(err, "the file may be a decompression bomb");
			return -IT_ELIMIT;
		}
		e->size = nu->size;
		e->content = nu->size ? data : empty_content;
		return 1;
	case '1':
		e->mode |= S_IFREG;
		e->hardlink = w->link;
		return 1;
	case '2':
		e->mode |= S_IFLNK;
		e->link_target = w->link;
		return 1;
	case '3':
		e->mode |= S_IFCHR;
		return 1;
	case '4':
		e->mode |= S_IFBLK;
		return 1;
	case '5':
		e->mode |= S_IFDIR;
		return 1;
	case '6':
		e->mode |= S_IFIFO;
		return 1;
	default:
		return 0;
	}
}

/*
 * The next entry of the segment: 1 with *e filled, 0 at the end (end blocks
 * or the end of a segment written without them), or a negative code.
 */
static int tar_next(struct tar_walk *w, struct apk_entry *e, struct it_error *err)
{
	struct tar_ext x = {0};
	int r;

	for (;;) {
		const struct tar_header *h = NULL;
		struct tar_nums nu = {0};
		const char *data;

		r = tar_header_at(w, &x, &h, err);
		if (r <= 0)
			return r;
		r = tar_header_numbers(w, h, &x, &nu, err);
		if (r < 0)
			return r;
		data = w->seg.ptr + w->pos + TAR_BLOCK;
		r = tar_take_extension(w, h, (struct blob){nu.size, data}, &x, err);
		if (r < 0)
			return r;
		if (r == 1) {
			w->pos += TAR_BLOCK + nu.padded;
			continue;
		}
		tar_fill_entry(w, h, &nu, &x, e);
		r = tar_entry_type(w, h->typeflag, &nu, data, e, err);
		if (r < 0)
			return r;
		if (r == 0) {
			/* Unknown types are skipped, as apk does, with their extended headers. */
			w->pos += TAR_BLOCK + nu.padded;
			x = (struct tar_ext){0};
			continue;
		}
		if (e->path[0] == '\0')
			return tar_err(w, err, "empty file name");
		w->pos += TAR_BLOCK + nu.padded;
		if (e->sha1) {
			r = sha1_check(w, e, err);
			if (r < 0)
				return r;
		}
		return 1;
	}
}

static void tar_walk_init(struct tar_walk *w, const struct apk_file *f, const char *what,
			  const struct buf *seg)
{
	w->file = f->name;
	w->what = what;
	w->seg = buf_blob(seg);
	w->pos = 0;
	w->max_entry = f->lim.max_entry;
}

/* ---- .PKGINFO ---- */

void apk_pkginfo_init(struct apk_pkginfo *pi)
{
	memset(pi, 0, sizeof(*pi));
}

void apk_pkginfo_release(struct apk_pkginfo *pi)
{
	char **strs[] = {&pi->pkgname, &pi->pkgver, &pi->pkgdesc,    &pi->url,	  &pi->arch,
			 &pi->license, &pi->origin, &pi->maintainer, &pi->commit, &pi->packager};

	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	strlist_clear(&pi->depends);
	strlist_clear(&pi->provides);
	strlist_clear(&pi->install_if);
	strlist_clear(&pi->replaces);
	strlist_clear(&pi->triggers);
	apk_pkginfo_init(pi);
}

enum pi_kind { PI_STR, PI_NUM, PI_SNUM, PI_LIST, PI_HASH };

struct pi_field {
	const char *key;
	enum pi_kind kind;
	size_t off;	/* offset of the member in struct apk_pkginfo */
	size_t has_off; /* offset of its 'has_' flag, or 0 */
};

#define PI_OFF(m) offsetof(struct apk_pkginfo, m)

static const struct pi_field pi_fields[] = {
    {"pkgname", PI_STR, PI_OFF(pkgname), 0},
    {"pkgver", PI_STR, PI_OFF(pkgver), 0},
    {"pkgdesc", PI_STR, PI_OFF(pkgdesc), 0},
    {"url", PI_STR, PI_OFF(url), 0},
    {"arch", PI_STR, PI_OFF(arch), 0},
    {"license", PI_STR, PI_OFF(license), 0},
    {"origin", PI_STR, PI_OFF(origin), 0},
    {"maintainer", PI_STR, PI_OFF(maintainer), 0},
    {"commit", PI_STR, PI_OFF(commit), 0},
    {"packager", PI_STR, PI_OFF(packager), 0},
    {"size", PI_NUM, PI_OFF(size), 0},
    {"builddate", PI_NUM, PI_OFF(builddate), 0},
    {"provider_priority", PI_SNUM, PI_OFF(provider_priority), PI_OFF(has_provider_priority)},
    {"replaces_priority", PI_SNUM, PI_OFF(replaces_priority), PI_OFF(has_replaces_priority)},
    {"depend", PI_LIST, PI_OFF(depends), 0},
    {"provides", PI_LIST, PI_OFF(provides), 0},
    {"install_if", PI_LIST, PI_OFF(install_if), 0},
    {"replaces", PI_LIST, PI_OFF(replaces), 0},
    {"triggers", PI_LIST, PI_OFF(triggers), 0},
    {"datahash", PI_HASH, PI_OFF(datahash), PI_OFF(has_datahash)},
};

/* Split a value on blanks into list items, as apk reads dependency lists. */
static int pi_add_list(struct strlist *l, struct blob v)
{
	size_t i = 0;
	int r;

	while (i < v.len) {
		size_t start;
		char *s;

		while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t'))
			i++;
		start = i;
		while (i < v.len && v.ptr[i] != ' ' && v.ptr[i] != '\t')
			i++;
		if (i == start)
			break;
		s = blob_dup((struct blob){i - start, v.ptr + start});
		if (!s)
			return -ENOMEM;
		r = strlist_add_owned(l, s);
		if (r < 0)
			return r;
	}
	return 0;
}

static int pi_set(struct apk_pkginfo *pi, const struct pi_field *fd, struct blob v)
{
	char *base = (char *)pi;
	unsigned long long u;

	switch (fd->kind) {
	case PI_STR: {
		char **dst = (char **)(base + fd->off);
		char *s = blob_dup(v);

		if (!s)
			return -ENOMEM;
		free(*dst);
		*dst = s;
		return 0;
	}
	case PI_NUM:
		if (!blob_to_u64(v, &u))
			return -IT_EFORMAT;
		*(unsigned long long *)(base + fd->off) = u;
		return 0;
	case PI_SNUM: {
		bool neg = v.len > 0 && v.ptr[0] == '-';
		struct blob d = neg ? (struct blob){v.len - 1, v.ptr + 1} : v;

		if (!blob_to_u64(d, &u) || u > LLONG_MAX)
			return -IT_EFORMAT;
		*(long long *)(base + fd->off) = neg ? -(long long)u : (long long)u;
		*(bool *)(base + fd->has_off) = true;
		return 0;
	}
	case PI_LIST:
		return pi_add_list((struct strlist *)(base + fd->off), v);
	case PI_HASH:
		if (!hex_decode(v, (unsigned char *)(base + fd->off), 32))
			return -IT_EFORMAT;
		*(bool *)(base + fd->has_off) = true;
		return 0;
	}
	return -EINVAL;
}

int apk_pkginfo_parse(struct apk_pkginfo *pi, const char *name, struct blob text,
		      struct it_error *err)
{
	struct blob rest = text;
	unsigned lineno = 0;
	int r = 0;

	apk_pkginfo_release(pi);
	while (rest.len > 0) {
		struct blob line, key, val;
		const char *sep;

		lineno++;
		if (!blob_split(rest, '\n', &line, &rest)) {
			line = rest;
			rest = (struct blob){0, rest.ptr + rest.len};
		}
		if (line.len == 0 || line.ptr[0] == '#')
			continue;
		sep = memmem(line.ptr, line.len, " = ", 3);
		if (!sep)
			return it_error_set(err, -IT_EFORMAT,
					    "'%s': .PKGINFO line %u: expected 'key = value'", name,
					    lineno);
		key = (struct blob){(size_t)(sep - line.ptr), line.ptr};
		val = (struct blob){line.len - key.len - 3, sep + 3};
		for (size_t i = 0; i < ARRAY_SIZE(pi_fields); i++) {
			if (!blob_eq_str(key, pi_fields[i].key))
				continue;
			r = pi_set(pi, &pi_fields[i], val);
			if (r == -IT_EFORMAT)
				return it_error_set(err, r,
						    "'%s': .PKGINFO line %u: bad value for '%s'",
						    name, lineno, pi_fields[i].key);
			if (r < 0)
				return r;
			break;
		}
	}
	if (!pi->pkgname || !pi->pkgver)
		return it_error_set(err, -IT_EFORMAT, "'%s': .PKGINFO has no %s", name,
				    pi->pkgname ? "pkgver" : "pkgname");
	return 0;
}

/* ---- opened files ---- */

void apk_file_init(struct apk_file *f)
{
	memset(f, 0, sizeof(*f));
	buf_init(&f->sig_tar, 0);
	buf_init(&f->ctrl_tar, 0);
	buf_init(&f->data_tar, 0);
	apk_pkginfo_init(&f->info);
}

void apk_file_release(struct apk_file *f)
{
	for (size_t i = 0; i < f->nctrl; i++)
		free(f->ctrl[i].name);
	free(f->ctrl);
	for (size_t i = 0; i < f->nsigs; i++)
		free(f->sigs[i].key);
	free(f->sigs);
	free(f->scripts);
	apk_pkginfo_release(&f->info);
	buf_release(&f->sig_tar);
	buf_release(&f->ctrl_tar);
	buf_release(&f->data_tar);
	if (f->map)
		munmap(f->map, f->map_len);
	free(f->name);
	apk_file_init(f);
}

static const struct {
	const char *prefix;
	enum apk_sig_type type;
} sig_types[] = {
    {".SIGN.RSA.", APK_SIG_RSA_SHA1},
    {".SIGN.RSA256.", APK_SIG_RSA_SHA256},
    {".SIGN.RSA512.", APK_SIG_RSA_SHA512},
};

/* Record the .SIGN.* files of the signature member. Types apk cannot check (DSA) are skipped. */
static int parse_signatures(struct apk_file *f, struct it_error *err)
{
	struct tar_walk *w = calloc(1, sizeof(*w));
	struct apk_entry e;
	int r;

	if (!w)
		return -ENOMEM;
	tar_walk_init(w, f, "signature member", &f->sig_tar);
	while ((r = tar_next(w, &e, err)) > 0) {
		struct apk_signature *ns;
		size_t i;
		char *key;

		if (strncmp(e.path, ".SIGN.", 6) != 0 || !S_ISREG(e.mode) || e.hardlink) {
			r = it_error_set(err, -IT_EFORMAT,
					 "'%s': unexpected '%s' in signature member", f->name,
					 e.path);
			break;
		}
		for (i = 0; i < ARRAY_SIZE(sig_types); i++)
			if (!strncmp(e.path, sig_types[i].prefix, strlen(sig_types[i].prefix)))
				break;
		if (i == ARRAY_SIZE(sig_types))
			continue;
		key = strdup(e.path + strlen(sig_types[i].prefix));
		ns = key ? realloc(f->sigs, (f->nsigs + 1) * sizeof(*ns)) : NULL;
		if (!ns) {
			free(key);
			r = -ENOMEM;
			break;
		}
		f->sigs = ns;
		f->sigs[f->nsigs++] =
		    (struct apk_signature){sig_types[i].type, key, blob_mem(e.content, e.size)};
	}
	free(w);
	return r;
}

/* List the control member's regular files and pick out the install scripts and .PKGINFO. */
static int parse_control(struct apk_file *f, struct it_error *err)
{
	struct tar_walk *w = calloc(1, sizeof(*w));
	struct apk_entry e;
	const struct apk_ctrl_file *pkginfo;
	int r;

	if (!w)
		return -ENOMEM;
	tar_walk_init(w, f, "control member", &f->ctrl_tar);
	while ((r = tar_next(w, &e, err)) > 0) {
		struct apk_ctrl_file *nc;
		char *name;

		if (!S_ISREG(e.mode) || e.hardlink)
			continue;
		name = strdup(e.path);
		nc = name ? realloc(f->ctrl, (f->nctrl + 1) * sizeof(*nc)) : NULL;
		if (!nc) {
			free(name);
			r = -ENOMEM;
			break;
		}
		f->ctrl = nc;
		f->ctrl[f->nctrl++] =
		    (struct apk_ctrl_file){name, e.mode & 07777, blob_mem(e.content, e.size)};
	}
	free(w);
	if (r < 0)
		return r;
	for (size_t i = 0; i < f->nctrl; i++) {
		const char *n = f->ctrl[i].name;
		struct apk_script *ns;
		int t;

		if (n[0] != '.')
			continue;
		for (t = 0; t < APK_SCRIPT_MAX; t++)
			if (!strcmp(n + 1, script_names[t]))
				break;
		if (t == APK_SCRIPT_MAX)
			continue;
		ns = realloc(f->scripts, (f->nscripts + 1) * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		f->scripts = ns;
		f->scripts[f->nscripts++] =
		    (struct apk_script){(enum apk_script_type)t, n, f->ctrl[i].content};
	}
	pkginfo = apk_file_ctrl(f, ".PKGINFO");
	if (!pkginfo)
		return 0;
	f->has_pkginfo = true;
	return apk_pkginfo_parse(&f->info, f->name, pkginfo->content, err);
}

/* Does the first member start with a .SIGN.* file? */
static int first_is_signature(struct apk_file *f, struct it_error *err)
{
	struct tar_walk *w = calloc(1, sizeof(*w));
	struct apk_entry e;
	int r;

	if (!w)
		return -ENOMEM;
	tar_walk_init(w, f, "first member", &f->sig_tar);
	r = tar_next(w, &e, err);
	if (r == 0)
		r = it_error_set(err, -IT_EFORMAT, "'%s': first gzip member holds no files",
				 f->name);
	else if (r > 0)
		r = strncmp(e.path, ".SIGN.", 6) == 0;
	free(w);
	return r;
}

static int open_common(struct apk_file *f, const struct apk_limits *lim, struct it_error *err)
{
	size_t end = 0, end2 = 0;
	unsigned long long before = 0;
	struct buf tmp;
	int r;

	limits_fill(&f->lim, lim);
	if (f->raw.len == 0)
		return it_error_set(err, -IT_EFORMAT, "'%s': empty file", f->name);
	r = gz_member(f->name, f->raw, 0, &f->sig_tar, &f->inflated, f->lim.max_total, &end, err);
	if (r < 0)
		return r;
	r = first_is_signature(f, err);
	if (r < 0)
		return r;
	if (r == 0) {
		/* Unsigned: the first member is the control member. */
		tmp = f->sig_tar;
		f->sig_tar = f->ctrl_tar;
		f->ctrl_tar = tmp;
		f->ctrl_gz = (struct apk_gz_member){0, end, f->inflated};
	} else {
		f->sig_gz = (struct apk_gz_member){0, end, f->inflated};
		r = parse_signatures(f, err);
		if (r < 0)
			return r;
		if (end == f->raw.len)
			return it_error_set(err, -IT_EFORMAT, "'%s': nothing after the signature",
					    f->name);
		before = f->inflated;
		r = gz_member(f->name, f->raw, end, &f->ctrl_tar, &f->inflated, f->lim.max_total,
			      &end2, err);
		if (r < 0)
			return r;
		f->ctrl_gz = (struct apk_gz_member){end, end2 - end, f->inflated - before};
		end = end2;
	}
	f->data_gz = (struct blob){f->raw.len - end, f->raw.ptr + end};
	return parse_control(f, err);
}

int apk_file_open_mem(struct apk_file *f, const char *name, struct blob data,
		      const struct apk_limits *lim, struct it_error *err)
{
	int r;

	apk_file_init(f);
	f->name = strdup(name);
	if (!f->name)
		return -ENOMEM;
	f->raw = data;
	r = open_common(f, lim, err);
	if (r < 0)
		apk_file_release(f);
	return r;
}

int apk_file_open(struct apk_file *f, const char *path, const struct apk_limits *lim,
		  struct it_error *err)
{
	struct stat st;
	int fd = -1, r = 0;
	void *map;

	apk_file_init(f);
	f->name = strdup(path);
	if (!f->name)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = it_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = it_error_set(err, -errno, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = it_error_set(err, -IT_EFORMAT, "'%s': not a regular file", path);
		goto out;
	}
	if (st.st_size == 0) {
		r = it_error_set(err, -IT_EFORMAT, "'%s': empty file", path);
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		r = it_error_set(err, -errno, "cannot map '%s': %s", path, strerror(errno));
		goto out;
	}
	f->map = map;
	f->map_len = (size_t)st.st_size;
	f->raw = blob_mem(map, f->map_len);
	r = open_common(f, lim, err);
out:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		apk_file_release(f);
	return r;
}

const struct apk_ctrl_file *apk_file_ctrl(const struct apk_file *f, const char *name)
{
	for (size_t i = 0; i < f->nctrl; i++)
		if (!strcmp(f->ctrl[i].name, name))
			return &f->ctrl[i];
	return NULL;
}

static int load_data(struct apk_file *f, struct it_error *err)
{
	size_t off, end = 0;
	int r;

	if (f->data_loaded)
		return 0;
	if (f->data_gz.len == 0)
		return it_error_set(err, -IT_EFORMAT, "'%s': no data member", f->name);
	off = f->raw.len - f->data_gz.len;
	while (off < f->raw.len) {
		r = gz_member(f->name, f->raw, off, &f->data_tar, &f->inflated, f->lim.max_total,
			      &end, err);
		if (r < 0) {
			buf_release(&f->data_tar);
			return r;
		}
		f->ndata_members++;
		off = end;
	}
	f->data_loaded = true;
	return 0;
}

int apk_file_foreach(struct apk_file *f, apk_entry_fn fn, void *ctx, struct it_error *err)
{
	struct tar_walk *w = NULL;
	struct apk_entry e;
	int r;

	r = load_data(f, err);
	if (r < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	tar_walk_init(w, f, "data member", &f->data_tar);
	while ((r = tar_next(w, &e, err)) > 0) {
		r = fn(ctx, &e);
		if (r != 0)
			break;
	}
	free(w);
	return r;
}

struct blob apk_file_signed_bytes(const struct apk_file *f)
{
	size_t off = f->ctrl_gz.off;

	if (f->has_pkginfo && f->info.has_datahash)
		return (struct blob){f->ctrl_gz.len, f->raw.ptr + off};
	return (struct blob){f->raw.len - off, f->raw.ptr + off};
}

int apk_file_identity(const struct apk_file *f, size_t len, unsigned char *out)
{
	struct blob b = apk_file_signed_bytes(f);
	const EVP_MD *md = len == APK_CSUM_SHA1	    ? EVP_sha1()
			   : len == APK_CSUM_SHA256 ? EVP_sha256()
						    : NULL;

	if (!md)
		return -EINVAL;
	if (EVP_Digest(b.ptr, b.len, out, NULL, md, NULL) != 1)
		return -ENOMEM;
	return 0;
}

int apk_csum_format(const unsigned char *csum, size_t len, char *out, size_t outsz)
{
	if ((len != APK_CSUM_SHA1 && len != APK_CSUM_SHA256) || outsz < APK_CSUM_STR_MAX)
		return -EINVAL;
	out[0] = 'Q';
	out[1] = len == APK_CSUM_SHA1 ? '1' : '2';
	EVP_EncodeBlock((unsigned char *)out + 2, csum, (int)len);
	return 0;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict base64 of exactly n bytes (with the '=' padding apk writes). */
static bool b64_decode(struct blob s, unsigned char *out, size_t n)
{
	size_t want = (n + 2) / 3 * 4, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (s.len != want)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		int v;

		if (s.ptr[i] == '=') {
			if (o != n || i < s.len - 2)
				return false;
			for (size_t j = i; j < s.len; j++)
				if (s.ptr[j] != '=')
					return false;
			return (acc & ((1u << bits) - 1)) == 0;
		}
		v = b64val(s.ptr[i]);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == n)
				return false;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o == n && (acc & ((1u << bits) - 1)) == 0;
}

int apk_csum_parse(struct blob s, unsigned char *out, size_t *len)
{
	struct blob body;

	if (s.len < 3)
		return -IT_EFORMAT;
	body = (struct blob){s.len - 2, s.ptr + 2};
	if (s.ptr[0] == 'Q' && s.ptr[1] == '1' && b64_decode(body, out, APK_CSUM_SHA1)) {
		*len = APK_CSUM_SHA1;
		return 0;
	}
	if (s.ptr[0] == 'Q' && s.ptr[1] == '2' && b64_decode(body, out, APK_CSUM_SHA256)) {
		*len = APK_CSUM_SHA256;
		return 0;
	}
	if (s.ptr[0] == 'X' && s.ptr[1] == '1' && hex_decode(body, out, APK_CSUM_SHA1)) {
		*len = APK_CSUM_SHA1;
		return 0;
	}
	return -IT_EFORMAT;
}

int apk_file_check_datahash(const struct apk_file *f, struct it_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];

	if (!f->has_pkginfo || !f->info.has_datahash)
		return 0;
	if (f->data_gz.len == 0)
		return it_error_set(err, -IT_EFORMAT, "'%s': no data member", f->name);
	if (EVP_Digest(f->data_gz.ptr, f->data_gz.len, md, NULL, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	if (memcmp(md, f->info.datahash, 32) != 0)
		return it_error_set(err, -IT_ECHECKSUM,
				    "'%s': data does not match the datahash in .PKGINFO", f->name);
	return 0;
}

bool apk_path_unsafe(const char *path)
{
	const char *p = path;

	if (p[0] == '/')
		return true;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		while (*p == '/')
			p++;
	}
	return false;
}
