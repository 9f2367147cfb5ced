// SPDX-License-Identifier: MIT
/* libFuzzer target: a tree built from input-driven entries, written as cpio, read back with
 * libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/err.h"
#include "common/strlist.h"
#include "common/util.h"
#include "fuzz/fuzz.h"

/*
 * Input: byte 0 picks the compression (low 2 bits) and the epoch, then
 * records of
 *   [op] [perm] [uid] [mtime] [path length] [path] [data length] [data]
 * op & 7: 0 file, 1 directory, 2 symlink (data: target), 3 hard link (data:
 * the file's path), 4 character device, 5 fifo, 6 remove, 7 chmod/chown;
 * op >> 3 & 3: owner (none, package 'a', 'b' which replaces 'a', 'c' with
 * origin 'a'). Whatever the tree accepts must come back from the cpio as
 * the tree holds it, in tree_walk() order.
 */
#define CPF_EPOCH_BASE 1700000000LL
#define CPF_MAX_RECORDS 64
/* Fuzzing: tmpfs, as cpio_write fsyncs every file. The replay test: where tests write. */
#ifdef FUZZ_REPLAY
#define CPF_TMP "/tmp"
#else
#define CPF_TMP "/dev/shm"
#endif

static char cpf_dir[64] = "";
static char cpf_out_path[96] = "";
static FILE *cpf_devnull;

static void cpf_cleanup(void)
{
	unlink(cpf_out_path);
	rm_rf(cpf_dir);
}

FUZZ_INIT(cpio)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	if (cpf_dir[0])
		return 0;
	if (!tmp || !*tmp || strlen(tmp) > 40)
		tmp = CPF_TMP;
	snprintf(cpf_dir, sizeof(cpf_dir), "%s/fuzz-cpio.XXXXXX", tmp);
	if (!mkdtemp(cpf_dir))
		fuzz_fail();
	snprintf(cpf_out_path, sizeof(cpf_out_path), "%s/initrd.img", cpf_dir);
	cpf_devnull = fopen("/dev/null", "we");
	if (!cpf_devnull)
		fuzz_fail();
	atexit(cpf_cleanup);
	fuzz_on_fail(cpf_cleanup);
	return 0;
}

struct cpf_reader {
	const uint8_t *p, *end;
};

static bool cpf_take(struct cpf_reader *r, size_t n, const uint8_t **out)
{
	if ((size_t)(r->end - r->p) < n)
		return false;
	*out = r->p;
	r->p += n;
	return true;
}

static bool cpf_take_byte(struct cpf_reader *r, unsigned *v)
{
	const uint8_t *b;

	if (!cpf_take(r, 1, &b))
		return false;
	*v = *b;
	return true;
}

/* A NUL-terminated heap copy of n input bytes (a NUL inside cuts it short). */
static char *cpf_take_str(struct cpf_reader *r)
{
	unsigned n;
	const uint8_t *b;
	char *s;

	if (!cpf_take_byte(r, &n) || !cpf_take(r, n, &b))
		return NULL;
	s = malloc(n + 1);
	if (!s)
		fuzz_fail();
	memcpy(s, b, n);
	s[n] = '\0';
	return s;
}

static void cpf_make_packages(struct tree *t, const struct tree_pkg **pk)
{
	struct strlist none = STRLIST_INIT, rep = STRLIST_INIT;

	if (strlist_add(&rep, "a") < 0)
		fuzz_fail();
	if (tree_package(t, "a", "a", &none, 0, &pk[1]) < 0 ||
	    tree_package(t, "b", "b", &rep, 1, &pk[2]) < 0 ||
	    tree_package(t, "c", "a", &none, 0, &pk[3]) < 0)
		fuzz_fail();
	pk[0] = NULL;
	strlist_clear(&rep);
}

static void cpf_apply(struct tree *t, const struct tree_pkg *const *pk, unsigned op, unsigned perm,
		      unsigned uid, unsigned mt, const char *path, const char *blob, size_t blen)
{
	struct it_error err = IT_ERROR_INIT;
	struct tree_entry e;
	int r;

	memset(&e, 0, sizeof(e));
	e.path = path;
	e.uid = uid;
	e.gid = uid ^ 1;
	e.mtime = mt == 0 ? TREE_MTIME_UNSET : CPF_EPOCH_BASE - 100000 + (int64_t)mt * 1000;
	switch (op & 7) {
	case 0:
		e.mode = S_IFREG | (perm << 4 & 07777) | (perm & 7);
		e.content = blob;
		e.size = blen;
		break;
	case 1:
		e.mode = S_IFDIR | (perm << 2 & 0777);
		break;
	case 2:
		e.mode = S_IFLNK | 0777;
		e.link_target = blob;
		break;
	case 3:
		e.mode = S_IFREG | 0644;
		e.hardlink = blob;
		break;
	case 4:
		e.mode = S_IFCHR | 0600;
		e.devmajor = perm >> 4;
		e.devminor = perm & 15;
		break;
	case 5:
		e.mode = S_IFIFO | 0644;
		break;
	case 6:
		/* 1 removed, 0 missing; only the root itself cannot go (-EINVAL). */
		r = tree_remove(t, path);
		if (r < 0 && !(r == -EINVAL && tree_lookup(t, path, false) == &t->root))
			fuzz_fail();
		return;
	default:
		tree_chmod(t, path, perm << 3 & 07777);
		tree_chown(t, path, uid, uid);
		if (blen > 0)
			tree_set_content(t, path, blob, blen);
		return;
	}
	r = tree_add(t, &e, pk[op >> 3 & 3], &err);
	fuzz_check_error(&err, r);
}

/* What the tree holds, in walk order. */
struct cpf_want {
	const struct tree_node **n;
	char **path;
	size_t len, alloc;
	const struct tree *t;
};

static int cpf_collect(const struct tree_node *n, const char *path, void *ctx)
{
	struct cpf_want *w = ctx;

	if (w->len == w->alloc) {
		w->alloc = w->alloc ? 2 * w->alloc : 64;
		w->n = realloc(w->n, w->alloc * sizeof(*w->n));
		w->path = realloc(w->path, w->alloc * sizeof(*w->path));
		if (!w->n || !w->path)
			fuzz_fail();
	}
	w->n[w->len] = n;
	w->path[w->len] = strdup(path);
	if (!w->path[w->len])
		fuzz_fail();
	w->len++;
	/* Every walked path finds its node again. */
	if (tree_lookup(w->t, path, false) != n)
		fuzz_fail();
	return 0;
}

static void cpf_want_release(struct cpf_want *w)
{
	for (size_t i = 0; i < w->len; i++)
		free(w->path[i]);
	free(w->path);
	free(w->n);
}

static unsigned cpf_want_mtime(int64_t m, int64_t epoch)
{
	if (m == TREE_MTIME_UNSET || m > epoch)
		m = epoch;
	return (unsigned)(m < 0 ? 0 : m);
}

/* Read the archive back and compare it with the tree, entry by entry. */
static void cpf_read_back(const struct tree *t, const struct cpf_want *w, int64_t epoch)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t i = 0;
	int64_t *inos = calloc(w->len + 1, sizeof(*inos));
	unsigned char *buf = malloc(1 << 16);

	if (!a || !inos || !buf)
		fuzz_fail();
	archive_read_support_filter_all(a);
	archive_read_support_format_cpio(a);
	if (archive_read_open_filename(a, cpf_out_path, 65536) != ARCHIVE_OK)
		fuzz_fail();
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		const struct tree_node *n, *meta;
		la_ssize_t k;
		unsigned mode;

		if (i >= w->len)
			fuzz_fail();
		n = w->n[i];
		meta = n;
		if (n->hardlink) {
			meta = tree_lookup(t, n->target, false);
			if (!meta)
				fuzz_fail();
		}
		if (strcmp(archive_entry_pathname(ae), w->path[i]) != 0)
			fuzz_fail();
		mode = (unsigned)archive_entry_mode(ae);
		if (mode != ((n->mode & S_IFMT) | (meta->mode & 07777)))
			fuzz_fail();
		if ((unsigned)archive_entry_uid(ae) != meta->uid ||
		    (unsigned)archive_entry_gid(ae) != meta->gid)
			fuzz_fail();
		if ((unsigned)archive_entry_mtime(ae) != cpf_want_mtime(meta->mtime, epoch))
			fuzz_fail();
		inos[i] = archive_entry_ino64(ae);
		k = archive_read_data(a, buf, 1 << 16);
		if (k < 0)
			fuzz_fail();
		if (S_ISLNK(n->mode)) {
			const char *tg = archive_entry_symlink(ae);

			if (strcmp(tg ? tg : "", n->target) != 0)
				fuzz_fail();
		} else if (S_ISREG(n->mode) && k > 0) {
			/* The data goes with the last link of a file: it is the file's. */
			if ((size_t)k != meta->size || memcmp(buf, meta->data, meta->size) != 0)
				fuzz_fail();
		} else if (tree_is_reg(n) && k == 0 && n->size != 0) {
			/* Only a file with hard links may come without its data here. */
			bool linked = false;

			for (size_t j = i + 1; j < w->len; j++)
				if (w->n[j]->hardlink &&
				    tree_lookup(t, w->n[j]->target, false) == n)
					linked = true;
			if (!linked)
				fuzz_fail();
		}
		if (S_ISCHR(n->mode) && (archive_entry_rdevmajor(ae) != n->devmajor ||
					 archive_entry_rdevminor(ae) != n->devminor))
			fuzz_fail();
		/* A hard link shares the inode of its file. */
		if (n->hardlink) {
			for (size_t j = 0; j < i; j++)
				if (w->n[j] == meta && inos[j] != inos[i])
					fuzz_fail();
		}
		i++;
	}
	if (i != w->len)
		fuzz_fail();
	archive_read_free(a);
	free(inos);
	free(buf);
}

static bool cpf_dir_is_empty(void)
{
	DIR *d = opendir(cpf_dir);
	struct dirent *de;
	bool empty = true;

	if (!d)
		fuzz_fail();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

FUZZ_ONE(cpio)
{
	struct cpf_reader rd = {data, data + size};
	struct tree t;
	const struct tree_pkg *pk[4];
	struct cpf_want w = {NULL, NULL, 0, 0, NULL};
	struct cpio_opts o;
	struct cpio_stats st;
	struct it_error err = IT_ERROR_INIT;
	unsigned hdr;
	int r;

	if (!cpf_take_byte(&rd, &hdr))
		return 0;
	tree_init(&t);
	cpf_make_packages(&t, pk);
	for (int i = 0; i < CPF_MAX_RECORDS; i++) {
		unsigned op, perm, uid, mt;
		char *path = NULL, *blob = NULL;
		const uint8_t *dlen;

		if (!cpf_take_byte(&rd, &op) || !cpf_take_byte(&rd, &perm) ||
		    !cpf_take_byte(&rd, &uid) || !cpf_take_byte(&rd, &mt))
			break;
		path = cpf_take_str(&rd);
		if (!path)
			break;
		if (rd.p < rd.end) {
			dlen = rd.p;
			blob = cpf_take_str(&rd);
		} else {
			dlen = NULL;
		}
		cpf_apply(&t, pk, op, perm, uid, mt, path, blob ? blob : "", blob ? *dlen : 0);
		free(path);
		free(blob);
	}

	w.t = &t;
	if (tree_walk(&t, cpf_collect, &w) != 0 || w.len != tree_count(&t))
		fuzz_fail();

	memset(&o, 0, sizeof(o));
	o.compression = (hdr & 3) == 0	 ? COMPRESS_NONE
			: (hdr & 3) == 1 ? COMPRESS_GZIP
					 : COMPRESS_ZSTD;
	o.level = 1;
	o.interrupted = NULL;
	o.epoch = CPF_EPOCH_BASE - (int64_t)(hdr >> 2) * 10000;
	unlink(cpf_out_path);
	r = cpio_write(&t, cpf_out_path, &o, &st, &err);
	fuzz_check_error(&err, r);
	if (r == 0) {
		unsigned long long listed = 0;

		if (st.entries != w.len)
			fuzz_fail();
		cpf_read_back(&t, &w, o.epoch);
		if (builder_list_initrd(cpf_out_path, cpf_devnull,
					BUILDER_LIST_LONG | BUILDER_LIST_TIME, &listed,
					&err) != 0 ||
		    listed != w.len)
			fuzz_fail();
		unlink(cpf_out_path);
	}
	/* Nothing is left behind, whether it worked or not. */
	if (!cpf_dir_is_empty())
		fuzz_fail();
	cpf_want_release(&w);
	tree_release(&t);
	return 0;
}
