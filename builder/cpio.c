// SPDX-License-Identifier: MIT
/* A reproducible newc cpio writer for trees (gzip, zstd or plain) and a libarchive-based lister. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/internal.h"
#include "common/util.h"

#define NEWC_HDR 110
#define SINK_BUF (256 * 1024)

/* Where the cpio bytes go: a compressor in front of a file descriptor. */
struct sink {
	int fd;
	const char *path; /* the final path, for messages */
	enum compression comp;
	z_stream z;
	bool z_ready;
	ZSTD_CCtx *zc;
	unsigned char *buf; /* output (compressed) bytes not yet written */
	size_t len;
	unsigned long long in, out;
	struct it_error *err;
};

/* One entry to write, in order. */
struct item {
	const struct tree_node *n;
	char *path;
	const struct tree_node *file; /* regular files and hard links: the node with the data */
	unsigned ino, nlink;
	size_t first;	/* hard links: the group's first item */
	bool data_here; /* the file's data goes with this header */
};

struct plan {
	struct item *v;
	size_t n, alloc;
	const struct tree *t;
	struct it_error *err;
};

static int sink_flush(struct sink *s)
{
	int r;

	if (!s->len)
		return 0;
	r = fd_write_all(s->fd, s->buf, s->len);
	if (r < 0)
		return it_error_set(s->err, r, "cannot write '%s': %s", s->path, strerror(-r));
	s->out += s->len;
	s->len = 0;
	return 0;
}

static int sink_open(struct sink *s, const struct cpio_opts *o)
{
	int level = o->level;

	s->buf = malloc(SINK_BUF);
	if (!s->buf)
		return it_error_set(s->err, -ENOMEM, "out of memory");
	if (s->comp == COMPRESS_GZIP) {
		/* A fixed header: no name, mtime 0, OS Unix, so equal input gives equal bytes. */
		gz_header h = {.os = 3};

		if (deflateInit2(&s->z, level ? level : CPIO_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return it_error_set(s->err, -ENOMEM, "cannot start gzip for '%s'", s->path);
		s->z_ready = true;
		if (deflateSetHeader(&s->z, &h) != Z_OK)
			return it_error_set(s->err, -EINVAL, "cannot set the gzip header of '%s'",
					    s->path);
	} else if (s->comp == COMPRESS_ZSTD) {
		size_t zr;

		s->zc = ZSTD_createCCtx();
		if (!s->zc)
			return it_error_set(s->err, -ENOMEM, "cannot start zstd for '%s'", s->path);
		zr = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel,
					    level ? level : CPIO_ZSTD_LEVEL);
		if (!ZSTD_isError(zr))
			zr = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1);
		if (ZSTD_isError(zr))
			return it_error_set(s->err, -EINVAL, "cannot set up zstd for '%s': %s",
					    s->path, ZSTD_getErrorName(zr));
	}
	return 0;
}

static void sink_close(struct sink *s)
{
	if (s->z_ready)
		deflateEnd(&s->z);
	ZSTD_freeCCtx(s->zc);
	free(s->buf);
	s->z_ready = false;
	s->zc = NULL;
	s->buf = NULL;
}

static int gzip_feed(struct sink *s, const void *p, size_t n, int flush)
{
	s->z.next_in = (Bytef *)p;
	s->z.avail_in = (uInt)n;
	for (;;) {
		int zr, r;

		s->z.next_out = s->buf + s->len;
		s->z.avail_out = (uInt)(SINK_BUF - s->len);
		zr = deflate(&s->z, flush);
		if (zr == Z_STREAM_ERROR)
			return it_error_set(s->err, -EIO, "gzip failed for '%s'", s->path);
		s->len = SINK_BUF - s->z.avail_out;
		if (s->z.avail_out == 0) {
			r = sink_flush(s);
			if (r < 0)
				return r;
			continue;
		}
		if (flush == Z_FINISH ? zr == Z_STREAM_END : s->z.avail_in == 0)
			return 0;
	}
}

static int zstd_feed(struct sink *s, const void *p, size_t n, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = {p, n, 0};

	for (;;) {
		ZSTD_outBuffer outb = {s->buf, SINK_BUF, s->len};
		size_t left = ZSTD_compressStream2(s->zc, &outb, &in, mode);
		int r;

		if (ZSTD_isError(left))
			return it_error_set(s->err, -EIO, "zstd failed for '%s': %s", s->path,
					    ZSTD_getErrorName(left));
		s->len = outb.pos;
		if (s->len == SINK_BUF) {
			r = sink_flush(s);
			if (r < 0)
				return r;
		}
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

static int sink_write(struct sink *s, const void *p, size_t n)
{
	s->in += n;
	if (s->comp == COMPRESS_GZIP) {
		/* avail_in is 32 bits: feed big files in slices. */
		const char *c = p;

		while (n > 0) {
			size_t k = n > (1u << 30) ? (1u << 30) : n;
			int r = gzip_feed(s, c, k, Z_NO_FLUSH);

			if (r < 0)
				return r;
			c += k;
			n -= k;
		}
		return 0;
	}
	if (s->comp == COMPRESS_ZSTD)
		return zstd_feed(s, p, n, ZSTD_e_continue);
	if (s->len + n > SINK_BUF) {
		int r = sink_flush(s);

		if (r < 0)
			return r;
		if (n > SINK_BUF) {
			r = fd_write_all(s->fd, p, n);
			if (r < 0)
				return it_error_set(s->err, r, "cannot write '%s': %s", s->path,
						    strerror(-r));
			s->out += n;
			return 0;
		}
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static int sink_finish(struct sink *s)
{
	int r = 0;

	if (s->comp == COMPRESS_GZIP)
		r = gzip_feed(s, "", 0, Z_FINISH);
	else if (s->comp == COMPRESS_ZSTD)
		r = zstd_feed(s, "", 0, ZSTD_e_end);
	if (r < 0)
		return r;
	return sink_flush(s);
}

static int sink_pad(struct sink *s, unsigned align)
{
	static const char zeros[512];
	size_t pad = (align - s->in % align) % align;

	return pad ? sink_write(s, zeros, pad) : 0;
}

static int plan_add(const struct tree_node *n, const char *path, void *ctx)
{
	struct plan *p = ctx;
	struct item *it;

	/* Every reader, the kernel's included, takes this name for the end of the archive. */
	if (!strcmp(path, "TRAILER!!!"))
		return it_error_set(
		    p->err, -IT_EPATH,
		    "'/TRAILER!!!' cannot be in an initrd: the name ends a cpio archive");
	if (p->n == p->alloc) {
		size_t alloc = p->alloc ? p->alloc * 2 : 1024;
		struct item *v = realloc(p->v, alloc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->alloc = alloc;
	}
	it = &p->v[p->n];
	memset(it, 0, sizeof(*it));
	it->n = n;
	it->path = strdup(path);
	if (!it->path)
		return -ENOMEM;
	p->n++;
	return 0;
}

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].path);
	free(p->v);
}

static unsigned dir_nlink(const struct tree_node *n)
{
	unsigned nl = 2;

	for (size_t i = 0; i < n->nkids; i++)
		if (S_ISDIR(n->kids[i]->mode))
			nl++;
	return nl;
}

/* Sort key for grouping hard links: the file node, then the position. */
struct link_ref {
	const struct tree_node *file;
	size_t idx;
};

static int link_ref_cmp(const void *a, const void *b)
{
	const struct link_ref *x = a, *y = b;

	if (x->file != y->file)
		return (uintptr_t)x->file < (uintptr_t)y->file ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Find each hard link's file; give every group one inode, its size, and the data to the last. */
static int plan_links(struct plan *p)
{
	struct link_ref *refs = NULL;
	size_t nrefs = 0;
	unsigned ino = CPIO_FIRST_INO;
	int r = 0;

	refs = malloc((p->n ? p->n : 1) * sizeof(*refs));
	if (!refs)
		return it_error_set(p->err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n; i++) {
		struct item *it = &p->v[i];

		it->nlink = S_ISDIR(it->n->mode) ? dir_nlink(it->n) : 1;
		if (!S_ISREG(it->n->mode))
			continue;
		it->file = it->n;
		if (it->n->hardlink) {
			it->file = tree_lookup(p->t, it->n->target, false);
			if (!it->file || !tree_is_reg(it->file)) {
				r = it_error_set(p->err, -IT_EFORMAT,
						 "hard link '/%s' points to '/%s', which is not a "
						 "file in the tree",
						 it->path, it->n->target);
				goto out;
			}
		}
		refs[nrefs++] = (struct link_ref){it->file, i};
	}
	qsort(refs, nrefs, sizeof(*refs), link_ref_cmp);
	for (size_t i = 0; i < nrefs;) {
		size_t j = i;

		while (j < nrefs && refs[j].file == refs[i].file)
			j++;
		for (size_t k = i; k < j; k++) {
			p->v[refs[k].idx].nlink = (unsigned)(j - i);
			p->v[refs[k].idx].first = refs[i].idx;
		}
		p->v[refs[j - 1].idx].data_here = true;
		i = j;
	}
	/* Inodes in writing order; a group takes the inode of its first member. */
	for (size_t i = 0; i < p->n; i++) {
		struct item *it = &p->v[i];

		it->ino = it->nlink > 1 && it->file && it->first < i ? p->v[it->first].ino : ino++;
	}
out:
	free(refs);
	return r;
}

static unsigned clamp_mtime(int64_t mtime, int64_t epoch)
{
	if (mtime == TREE_MTIME_UNSET || mtime > epoch)
		mtime = epoch;
	if (mtime < 0)
		mtime = 0;
	if (mtime > 0xffffffffLL)
		mtime = 0xffffffffLL;
	return (unsigned)mtime;
}

static int put_header(struct sink *s, unsigned ino, unsigned mode, unsigned uid, unsigned gid,
		      unsigned nlink, unsigned mtime, size_t size, unsigned rmaj, unsigned rmin,
		      const char *name)
{
	char h[NEWC_HDR + 1];
	size_t namesize = strlen(name) + 1;
	int r;

	snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino,
		 mode, uid, gid, nlink, mtime, (unsigned)size, 0u, 0u, rmaj, rmin,
		 (unsigned)namesize, 0u);
	r = sink_write(s, h, NEWC_HDR);
	if (r == 0)
		r = sink_write(s, name, namesize);
	if (r == 0)
		r = sink_pad(s, 4);
	return r;
}

static int put_item(struct sink *s, const struct item *it, int64_t epoch)
{
	const struct tree_node *n = it->n, *meta = it->file ? it->file : n;
	const void *data = NULL;
	size_t size = 0;
	unsigned mode;
	int r;

	if (S_ISLNK(n->mode)) {
		data = n->target;
		size = strlen(n->target);
	} else if (it->file && it->data_here) {
		data = it->file->data;
		size = it->file->size;
	}
	if (size > 0xffffffffULL)
		return it_error_set(s->err, -IT_ELIMIT,
				    "cannot write '%s': '/%s' is over 4 GiB, too big for newc",
				    s->path, it->path);
	/* Hard links share one inode: its mode and owner are the file's. */
	mode = (n->mode & S_IFMT) | (meta->mode & 07777);
	r = put_header(s, it->ino, mode, meta->uid, meta->gid, it->nlink,
		       clamp_mtime(meta->mtime, epoch), size, n->devmajor, n->devminor, it->path);
	if (r == 0 && size)
		r = sink_write(s, data, size);
	if (r == 0)
		r = sink_pad(s, 4);
	return r;
}

static int write_all(struct sink *s, const struct plan *p, const struct cpio_opts *o)
{
	int64_t epoch = o->epoch;
	int r;

	for (size_t i = 0; i < p->n; i++) {
		if (o->interrupted && *o->interrupted)
			return it_error_set(s->err, -IT_EINTERRUPTED, "cannot write '%s': %s",
					    s->path, builder_cancel_reason(*o->interrupted));
		r = put_item(s, &p->v[i], epoch);
		if (r < 0)
			return r;
	}
	r = put_header(s, 0, 0, 0, 0, 1, 0, 0, 0, 0, "TRAILER!!!");
	if (r == 0)
		r = sink_pad(s, 512);
	if (r == 0)
		r = sink_finish(s);
	return r;
}

int cpio_write(const struct tree *t, const char *path, const struct cpio_opts *o,
	       struct cpio_stats *st, struct it_error *err)
{
	struct plan p = {.t = t, .err = err};
	struct sink s = {.fd = -1, .path = path, .comp = o->compression, .err = err};
	char tmp[PATH_MAX] = "";
	int r;

	if (o->epoch < 0)
		return it_error_set(err, -EINVAL, "cannot write '%s': no SOURCE_DATE_EPOCH", path);
	r = tree_walk(t, plan_add, &p);
	if (r < 0) {
		/* plan_add() may have said why already; the first error is kept. */
		it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
		goto out;
	}
	r = plan_links(&p);
	if (r < 0)
		goto out;
	s.fd = open_tmp_beside(path, tmp, sizeof(tmp));
	if (s.fd < 0) {
		r = it_error_set(err, s.fd, "cannot write '%s': %s", path, strerror(-s.fd));
		tmp[0] = '\0';
		goto out;
	}
	r = sink_open(&s, o);
	if (r == 0)
		r = write_all(&s, &p, o);
	if (r == 0 && fsync(s.fd) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	if (r == 0) {
		int fd = s.fd;

		s.fd = -1;
		if (close(fd) < 0)
			r = it_error_set(err, -errno, "cannot write '%s': %s", path,
					 strerror(errno));
	}
	if (r == 0 && rename(tmp, path) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	if (r == 0 && st) {
		st->entries = p.n;
		st->bytes = s.in;
		st->written = s.out;
	}
out:
	if (s.fd >= 0)
		close(s.fd);
	if (r < 0 && tmp[0])
		unlink(tmp);
	sink_close(&s);
	plan_release(&p);
	return r;
}

void cpio_mode_string(unsigned mode, char out[11])
{
	static const struct {
		unsigned type;
		char c;
	} types[] = {
	    {S_IFDIR, 'd'}, {S_IFLNK, 'l'},  {S_IFCHR, 'c'}, {S_IFBLK, 'b'},
	    {S_IFIFO, 'p'}, {S_IFSOCK, 's'}, {S_IFREG, '-'},
	};
	const char *rwx = "rwxrwxrwx";

	out[0] = '?';
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if ((mode & S_IFMT) == types[i].type)
			out[0] = types[i].c;
	memcpy(out + 1, "---------", 9);
	for (int i = 0; i < 9; i++)
		if (mode & (0400u >> i))
			out[1 + i] = rwx[i];
	if (mode & S_ISUID)
		out[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = (mode & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

static unsigned long hex8(const unsigned char *p, bool *ok)
{
	unsigned long v = 0;

	for (int i = 0; i < 8; i++) {
		int c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else {
			*ok = false;
			return 0;
		}
		v = v * 16 + (unsigned long)d;
	}
	return v;
}

/*
 * Length of an uncompressed newc archive starting at 'off', through its
 * trailer (as the kernel's initramfs unpacker walks it); -IT_EFORMAT when
 * it is cut short or not newc.
 */
static int64_t newc_length(int fd, off_t off)
{
	unsigned char h[NEWC_HDR];
	char name[11];
	off_t pos = off;

	for (;;) {
		bool ok = true;
		unsigned long namesize, filesize;
		ssize_t n = pread(fd, h, sizeof(h), pos);

		if (n < 0)
			return -errno;
		if (n != NEWC_HDR || (memcmp(h, "070701", 6) && memcmp(h, "070702", 6)))
			return -IT_EFORMAT;
		filesize = hex8(h + 54, &ok);
		namesize = hex8(h + 94, &ok);
		if (!ok || namesize == 0)
			return -IT_EFORMAT;
		pos += NEWC_HDR;
		if (namesize == sizeof(name)) {
			n = pread(fd, name, sizeof(name), pos);
			if (n != (ssize_t)sizeof(name))
				return -IT_EFORMAT;
		}
		pos = (pos + (off_t)namesize + 3) & ~(off_t)3;
		if (namesize == sizeof(name) && !memcmp(name, "TRAILER!!!", sizeof(name)))
			return pos - off;
		pos = (pos + (off_t)filesize + 3) & ~(off_t)3;
	}
}

/* Skip the zeros the kernel allows between archives; returns the new offset (or the end). */
static off_t skip_zeros(int fd, off_t off)
{
	unsigned char buf[4096];

	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);

		if (n <= 0)
			return off;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i])
				return off + i;
		off += n;
	}
}

static void list_entry(FILE *out, struct archive_entry *ae, unsigned flags)
{
	const char *name = archive_entry_pathname(ae);
	const char *sym = archive_entry_symlink(ae);
	const char *hard = archive_entry_hardlink(ae);
	unsigned mode = archive_entry_mode(ae);
	char ms[11], size[48], when[32] = "";

	if (!(flags & (BUILDER_LIST_LONG | BUILDER_LIST_TIME))) {
		fprintf(out, "%s\n", name);
		return;
	}
	cpio_mode_string(mode, ms);
	if (S_ISCHR(mode) || S_ISBLK(mode))
		snprintf(size, sizeof(size), "%u, %u", (unsigned)archive_entry_rdevmajor(ae),
			 (unsigned)archive_entry_rdevminor(ae));
	else
		snprintf(size, sizeof(size), "%" PRId64, (int64_t)archive_entry_size(ae));
	if (flags & BUILDER_LIST_TIME) {
		time_t tt = archive_entry_mtime(ae);
		struct tm tm;

		if (gmtime_r(&tt, &tm))
			strftime(when, sizeof(when), " %Y-%m-%d %H:%M:%S", &tm);
	}
	fprintf(out, "%s %3u %5" PRId64 " %5" PRId64 " %10s%s %s", ms,
		(unsigned)archive_entry_nlink(ae), (int64_t)archive_entry_uid(ae),
		(int64_t)archive_entry_gid(ae), size, when, name);
	if (sym)
		fprintf(out, " -> %s", sym);
	else if (hard)
		fprintf(out, " link to %s", hard);
	fputc('\n', out);
}

/* List one archive read from fd's current offset to its trailer. */
static int list_archive(int fd, const char *path, FILE *out, unsigned flags,
			unsigned long long *count, struct it_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r = 0, ar;

	if (!a)
		return it_error_set(err, -ENOMEM, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_cpio(a);
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		r = it_error_set(err, -IT_EFORMAT, "cannot read '%s': %s", path,
				 archive_error_string(a));
		goto out;
	}
	while ((ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		list_entry(out, ae, flags);
		(*count)++;
		/* Read the data through, so a truncated or corrupt file is noticed. */
		if (archive_read_data_skip(a) != ARCHIVE_OK) {
			ar = ARCHIVE_FATAL;
			break;
		}
	}
	if (ar != ARCHIVE_EOF)
		r = it_error_set(err, -IT_EFORMAT, "cannot read '%s': %s", path,
				 archive_error_string(a) ? archive_error_string(a)
							 : "corrupt archive");
out:
	archive_read_free(a);
	return r;
}

int builder_list_initrd(const char *path, FILE *out, unsigned flags, unsigned long long *entries,
			struct it_error *err)
{
	unsigned long long count = 0;
	struct stat st;
	off_t off = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return it_error_set(err, -errno, "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = it_error_set(err, -errno, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		r = it_error_set(
		    err, S_ISDIR(st.st_mode) ? -EISDIR : -IT_EFORMAT, "cannot read '%s': %s", path,
		    S_ISDIR(st.st_mode) ? "is a directory" : "empty or not a regular file");
		goto out;
	}
	while (off < st.st_size) {
		unsigned char magic[6];
		int64_t len = -1;

		if (pread(fd, magic, sizeof(magic), off) == (ssize_t)sizeof(magic) &&
		    (!memcmp(magic, "070701", 6) || !memcmp(magic, "070702", 6))) {
			len = newc_length(fd, off);
			if (len < 0) {
				r = it_error_set(err, (int)len, "cannot read '%s': %s at byte %lld",
						 path,
						 len == -IT_EFORMAT ? "truncated or corrupt cpio"
								    : strerror((int)-len),
						 (long long)off);
				goto out;
			}
		}
		if (lseek(fd, off, SEEK_SET) < 0) {
			r = it_error_set(err, -errno, "cannot read '%s': %s", path,
					 strerror(errno));
			goto out;
		}
		r = list_archive(fd, path, out, flags, &count, err);
		/* A compressed archive is read to its end by libarchive: nothing follows it for us.
		 */
		if (r < 0 || len < 0)
			break;
		off = skip_zeros(fd, off + len);
	}
out:
	if (entries)
		*entries = count;
	close(fd);
	return r;
}
