// SPDX-License-Identifier: MIT
/* The kernel version in a bzImage, and modules chosen by modules.dep put into the tree. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/kimage.h"
#include "common/util.h"

#define MODNAME_MAX 64		/* the kernel's MODULE_NAME_LEN is 56 */
#define MODULE_MAX (512u << 20) /* one decompressed module */
#define VERSION_MAX 256
#define IMAGE_MAX (256u << 20) /* an uncompressed kernel image */

/*
 * The text indexes of depmod that busybox modprobe (and mdev -s, which
 * runs it for each device's MODALIAS) reads, and how each is cut down to
 * the chosen modules: by the module name in which field. The binary .bin
 * indexes are not written: busybox modprobe never reads them, and kmod's
 * modprobe would trust them over the text files.
 */
enum keep_by { KEEP_ALL, KEEP_FIELD1, KEEP_FIELD2, KEEP_LAST };

static const struct index_file {
	const char *name;
	enum keep_by keep;
} index_files[] = {
    {"modules.alias", KEEP_LAST},	   /* alias PATTERN MODULE */
    {"modules.symbols", KEEP_LAST},	   /* alias symbol:NAME MODULE */
    {"modules.softdep", KEEP_FIELD2},	   /* softdep MODULE pre: ... post: ... */
    {"modules.devname", KEEP_FIELD1},	   /* MODULE DEVNAME TYPEmaj:min */
    {"modules.builtin", KEEP_ALL},	   /* kernel/fs/ext4/ext4.ko */
    {"modules.builtin.modinfo", KEEP_ALL}, /* ext4.license=GPL, NUL-separated */
};

static const struct {
	const char *suffix;
	int filter; /* what libarchive must find in a file named so */
} compressions[] = {
    {".gz", ARCHIVE_FILTER_GZIP},
    {".xz", ARCHIVE_FILTER_XZ},
    {".zst", ARCHIVE_FILTER_ZSTD},
};

struct mod {
	char *path;		/* as listed: "kernel/drivers/net/virtio_net.ko.xz" */
	char name[MODNAME_MAX]; /* "virtio_net" */
	char *deplist;		/* modules.dep: paths, blank-separated; .modinfo: names, commas */
	size_t *deps;
	size_t ndeps;
	struct strlist aliases; /* from .modinfo only */
	bool selected;
};

struct depmap {
	struct mod *v;
	size_t n, alloc;
	size_t *by_path, *by_name;
	bool from_modinfo;
	const char *where; /* "/lib/modules/VER/modules.dep", for messages */
};

/* Where the modules come from: a host directory or the tree itself. */
struct source {
	struct tree *t;
	const char *host;   /* host directory, or NULL for the tree */
	const char *moddir; /* "/lib/modules/VER" in the tree */
};

void kmod_result_release(struct kmod_result *r)
{
	free(r->version);
	free(r->image);
	free(r->image_path);
	strlist_clear(&r->modules);
	strlist_clear(&r->builtin);
	memset(r, 0, sizeof(*r));
}

static unsigned le16(const unsigned char *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

static unsigned long long le_n(const unsigned char *p, int n)
{
	unsigned long long v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- bzImage ---- */

/* An arm64 Image has no pointer to its version: the "Linux version" banner has it. */
static int banner_version(const void *img, size_t len, const char *name, char **version,
			  struct it_error *err)
{
	struct kimage_info ki;
	char v[VERSION_MAX];

	if (kimage_detect(img, len, &ki) < 0)
		return it_error_set(err, -IT_EKERNEL,
				    "'%s' is not a Linux kernel image: no bzImage 'HdrS' setup "
				    "header, no arm64 Image magic",
				    name);
	if (ki.wrap != KIMAGE_RAW)
		return it_error_set(err, -IT_EKERNEL,
				    "'%s' is a %s-wrapped %s image: give the uncompressed Image",
				    name, kimage_wrap_name(ki.wrap), kimage_arch_name(ki.arch));
	if (kimage_banner_version(img, len, v, sizeof(v)) < 0)
		return it_error_set(err, -IT_EKERNEL, "'%s' has no kernel version string", name);
	*version = strdup(v);
	return *version ? 0 : it_error_set(err, -ENOMEM, "out of memory");
}

int kmod_image_version(const void *img, size_t len, const char *name, char **version,
		       struct it_error *err)
{
	const unsigned char *p = img;
	size_t off, end;

	*version = NULL;
	if (len < 0x210 || memcmp(p + 0x202, "HdrS", 4))
		return banner_version(img, len, name, version, err);
	off = le16(p + 0x20E);
	if (le16(p + 0x206) < 0x200 || off == 0 || off + 0x200 >= len)
		return it_error_set(err, -IT_EKERNEL, "'%s' has no kernel version string", name);
	off += 0x200;
	for (end = off; end < len && end - off < VERSION_MAX; end++)
		if (p[end] <= ' ' || p[end] > '~')
			break;
	if (end == off || end - off == VERSION_MAX)
		return it_error_set(err, -IT_EKERNEL, "'%s' has no kernel version string", name);
	*version = blob_dup(blob_mem(p + off, end - off));
	if (!*version)
		return it_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

int kmod_image_version_file(const char *path, char **version, struct it_error *err)
{
	/* A bzImage's version string is within the first 64 KiB + 0x200 by construction. */
	static unsigned char head[0x10000 + 0x400];
	struct buf whole;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	*version = NULL;
	if (fd < 0)
		return it_error_set(err, -errno, "cannot read '%s': %s", path, strerror(errno));
	n = pread(fd, head, sizeof(head), 0);
	if (n < 0) {
		int e = errno;

		close(fd);
		return it_error_set(err, -e, "cannot read '%s': %s", path, strerror(e));
	}
	close(fd);
	if ((size_t)n < 0x206 || !memcmp(head + 0x202, "HdrS", 4))
		return kmod_image_version(head, (size_t)n, path, version, err);
	/* Other images (arm64): the banner is somewhere in the whole file. */
	buf_init(&whole, IMAGE_MAX);
	r = buf_read_file(&whole, path);
	if (r < 0) {
		buf_release(&whole);
		return it_error_set(err, r, "cannot read '%s': %s", path, it_strerror(r));
	}
	r = kmod_image_version(whole.data, whole.len, path, version, err);
	buf_release(&whole);
	return r;
}

/* ---- names and paths ---- */

/* "kernel/x/virtio-net.ko.xz" or "virtio-net" -> "virtio_net". */
static void modname(struct blob s, char out[MODNAME_MAX])
{
	const char *slash = s.len ? memrchr(s.ptr, '/', s.len) : NULL;
	size_t k = 0;

	if (slash) {
		s.len -= (size_t)(slash + 1 - s.ptr);
		s.ptr = slash + 1;
	}
	for (size_t i = 0; i < s.len && s.ptr[i] != '.' && k + 1 < MODNAME_MAX; i++) {
		out[k] = s.ptr[i];
		if (out[k] == '-')
			out[k] = '_';
		k++;
	}
	out[k] = '\0';
}

/* Length of 'path' without a compression suffix after ".ko"; 0 if it is not a module file. */
static size_t module_stem(const char *path)
{
	size_t len = strlen(path);

	if (len > 3 && !strcmp(path + len - 3, ".ko"))
		return len;
	for (size_t i = 0; i < ARRAY_SIZE(compressions); i++) {
		size_t sl = strlen(compressions[i].suffix);

		if (len > sl + 3 && !strcmp(path + len - sl, compressions[i].suffix) &&
		    !memcmp(path + len - sl - 3, ".ko", 3))
			return len - sl;
	}
	return 0;
}

static bool is_compressed(const char *path)
{
	size_t stem = module_stem(path);

	return stem && stem != strlen(path);
}

/* Take the next line (without its '\n') off *rest; false at the end. */
static bool next_line(struct blob *rest, struct blob *line)
{
	if (!rest->len)
		return false;
	if (!blob_split(*rest, '\n', line, rest)) {
		*line = *rest;
		*rest = BLOB_NULL;
	}
	return true;
}

/* Field k (from 0) of a blank-separated line, or the last with k < 0. */
static struct blob word(struct blob line, int k)
{
	struct blob w = BLOB_NULL;
	size_t i = 0;

	for (int n = 0; i < line.len; n++) {
		size_t j;

		while (i < line.len && (line.ptr[i] == ' ' || line.ptr[i] == '\t'))
			i++;
		if (i == line.len)
			break;
		j = i;
		while (j < line.len && line.ptr[j] != ' ' && line.ptr[j] != '\t')
			j++;
		w = (struct blob){j - i, line.ptr + i};
		if (n == k)
			return w;
		i = j;
	}
	return k < 0 ? w : BLOB_NULL;
}

/* ---- decompression (libarchive's raw format reads gzip, xz and zstd) ---- */

/* The libarchive filter a module file's name promises. */
static int expected_filter(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < ARRAY_SIZE(compressions); i++) {
		size_t sl = strlen(compressions[i].suffix);

		if (len > sl && !strcmp(name + len - sl, compressions[i].suffix))
			return compressions[i].filter;
	}
	return ARCHIVE_FILTER_NONE;
}

static int decompress(const void *in, size_t len, const char *name, unsigned char **out,
		      size_t *outlen, struct it_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct buf b;
	char chunk[65536];
	ssize_t n;
	int r = 0;

	buf_init(&b, MODULE_MAX);
	if (!a)
		return it_error_set(err, -ENOMEM, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_memory(a, in, len) != ARCHIVE_OK ||
	    archive_read_next_header(a, &ae) != ARCHIVE_OK) {
		r = it_error_set(err, -IT_EFORMAT, "cannot decompress '%s': %s", name,
				 archive_error_string(a));
		goto out;
	}
	/* Raw reads anything: data that is not compressed as named would pass as is. */
	if (archive_filter_code(a, 0) != expected_filter(name)) {
		r = it_error_set(err, -IT_EFORMAT, "cannot decompress '%s': not %s data", name,
				 strrchr(name, '.') + 1);
		goto out;
	}
	while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
		r = buf_add(&b, chunk, (size_t)n);
		if (r < 0) {
			r = it_error_set(err, r, "cannot decompress '%s': %s", name,
					 it_strerror(r));
			goto out;
		}
	}
	if (n < 0)
		r = it_error_set(err, -IT_EFORMAT, "cannot decompress '%s': %s", name,
				 archive_error_string(a));
out:
	archive_read_free(a);
	if (r == 0)
		*out = (unsigned char *)buf_detach(&b, outlen);
	buf_release(&b);
	return r;
}

/* ---- reading from the source ---- */

static int source_path(const struct source *s, const char *rel, char *out, size_t outsz)
{
	return path_join(out, outsz, s->host ? s->host : s->moddir, rel);
}

/* Read a file relative to the modules directory; *exists false when it is not there. */
static int source_read(const struct source *s, const char *rel, struct buf *b, bool *exists,
		       struct it_error *err)
{
	char path[PATH_MAX];
	int r;

	buf_reset(b);
	*exists = false;
	if (source_path(s, rel, path, sizeof(path)) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': path too long", s->host, rel);
	if (s->host) {
		r = buf_read_file(b, path);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return it_error_set(err, r, "cannot read '%s': %s", path, it_strerror(r));
	} else {
		const struct tree_node *n = tree_lookup(s->t, path, true);

		if (!n || !tree_is_reg(n))
			return 0;
		r = buf_add(b, n->data, n->size);
		if (r < 0)
			return it_error_set(err, r, "cannot read '%s': %s", path, it_strerror(r));
	}
	*exists = true;
	return 0;
}

/* ---- the dependency map ---- */

static void depmap_release(struct depmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].deplist);
		free(m->v[i].deps);
		strlist_clear(&m->v[i].aliases);
	}
	free(m->v);
	free(m->by_path);
	free(m->by_name);
	memset(m, 0, sizeof(*m));
}

static struct mod *depmap_new(struct depmap *m, struct blob path, struct blob deps)
{
	struct mod *mod;

	if (m->n == m->alloc) {
		size_t alloc = m->alloc ? m->alloc * 2 : 256;
		struct mod *v = realloc(m->v, alloc * sizeof(*v));

		if (!v)
			return NULL;
		m->v = v;
		m->alloc = alloc;
	}
	mod = &m->v[m->n];
	memset(mod, 0, sizeof(*mod));
	mod->path = blob_dup(path);
	mod->deplist = blob_dup(deps);
	if (!mod->path || !mod->deplist) {
		free(mod->path);
		free(mod->deplist);
		return NULL;
	}
	modname(path, mod->name);
	m->n++;
	return mod;
}

static int cmp_by_path(const void *a, const void *b, void *ctx)
{
	const struct depmap *m = ctx;

	return strcmp(m->v[*(const size_t *)a].path, m->v[*(const size_t *)b].path);
}

static int cmp_by_name(const void *a, const void *b, void *ctx)
{
	const struct depmap *m = ctx;
	int c = strcmp(m->v[*(const size_t *)a].name, m->v[*(const size_t *)b].name);

	/* Equal names keep file order, so the first listed wins. */
	if (c == 0)
		c = *(const size_t *)a < *(const size_t *)b ? -1 : 1;
	return c;
}

static int depmap_index(struct depmap *m)
{
	m->by_path = malloc((m->n + 1) * sizeof(size_t));
	m->by_name = malloc((m->n + 1) * sizeof(size_t));
	if (!m->by_path || !m->by_name)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++)
		m->by_path[i] = m->by_name[i] = i;
	qsort_r(m->by_path, m->n, sizeof(size_t), cmp_by_path, m);
	qsort_r(m->by_name, m->n, sizeof(size_t), cmp_by_name, m);
	return 0;
}

/* Index of the module with this path, or -1. */
static long find_path(const struct depmap *m, const char *path)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->v[m->by_path[mid]].path, path);

		if (c == 0)
			return (long)m->by_path[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Index of the first module with this (normalized) name, or -1. */
static long find_name(const struct depmap *m, const char *name)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(m->v[m->by_name[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->n && !strcmp(m->v[m->by_name[lo]].name, name))
		return (long)m->by_name[lo];
	return -1;
}

static bool name_selected(const struct depmap *m, struct blob word_)
{
	char name[MODNAME_MAX];
	long i;

	modname(word_, name);
	i = find_name(m, name);
	return i >= 0 && m->v[i].selected;
}

/* Turn each module's dependency list into indexes. */
static int depmap_link(struct depmap *m, struct it_error *err)
{
	for (size_t i = 0; i < m->n; i++) {
		struct mod *mod = &m->v[i];
		struct blob rest = blob_str(mod->deplist);
		size_t cap = 1;

		for (const char *p = mod->deplist; *p; p++)
			cap += *p == ' ' || *p == '\t' || *p == ',';
		mod->deps = malloc(cap * sizeof(size_t));
		if (!mod->deps)
			return it_error_set(err, -ENOMEM, "out of memory");
		for (int k = 0;; k++) {
			struct blob w;
			char *dep;
			long j;

			if (m->from_modinfo) {
				if (!rest.len)
					break;
				if (!blob_split(rest, ',', &w, &rest)) {
					w = rest;
					rest = BLOB_NULL;
				}
				if (!w.len)
					continue;
			} else {
				w = word(rest, k);
				if (!w.len)
					break;
			}
			dep = blob_dup(w);
			if (!dep)
				return it_error_set(err, -ENOMEM, "out of memory");
			if (m->from_modinfo) {
				char name[MODNAME_MAX];

				modname(w, name);
				j = find_name(m, name);
			} else {
				j = find_path(m, dep);
			}
			if (j < 0) {
				it_error_set(err, -IT_EFORMAT,
					     "'%s': '%s' needs '%s', which is not there", m->where,
					     mod->path, dep);
				free(dep);
				return -IT_EFORMAT;
			}
			free(dep);
			mod->deps[mod->ndeps++] = (size_t)j;
		}
	}
	return 0;
}

static int depmap_parse(struct depmap *m, struct blob text, struct it_error *err)
{
	struct blob rest = text, line, path, deps;
	int r;

	while (next_line(&rest, &line)) {
		if (!line.len || line.ptr[0] == '#')
			continue;
		if (!blob_split(line, ':', &path, &deps) || !path.len)
			return it_error_set(err, -IT_EFORMAT, "'%s': bad line '%.*s'", m->where,
					    (int)(line.len > 80 ? 80 : line.len), line.ptr);
		if (!depmap_new(m, path, deps))
			return it_error_set(err, -ENOMEM, "out of memory");
	}
	r = depmap_index(m);
	if (r < 0)
		return it_error_set(err, r, "out of memory");
	return depmap_link(m, err);
}

/* Is the (normalized) name listed in modules.builtin? */
static bool is_builtin(struct blob builtin, const char *name)
{
	struct blob line;
	char n[MODNAME_MAX];

	while (next_line(&builtin, &line)) {
		modname(line, n);
		if (!strcmp(n, name))
			return true;
	}
	return false;
}

static int depmap_select(struct depmap *m, const struct strlist *names, struct blob builtin,
			 struct kmod_result *res, struct it_error *err)
{
	size_t *stack = malloc((m->n + 1) * sizeof(size_t));
	size_t top = 0;
	int r = 0;

	if (!stack)
		return it_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < names->n && r == 0; i++) {
		char name[MODNAME_MAX];
		long k;

		modname(blob_str(names->v[i]), name);
		k = name[0] ? find_name(m, name) : -1;
		if (k < 0 && name[0] && is_builtin(builtin, name)) {
			if (!strlist_has(&res->builtin, name))
				r = strlist_add(&res->builtin, name);
			continue;
		}
		if (k < 0) {
			r = it_error_set(err, -IT_ENOTFOUND, "module '%s' not found in '%s'",
					 names->v[i], m->where);
			break;
		}
		if (!m->v[k].selected) {
			m->v[k].selected = true;
			stack[top++] = (size_t)k;
		}
	}
	while (r == 0 && top > 0) {
		const struct mod *mod = &m->v[stack[--top]];

		for (size_t d = 0; d < mod->ndeps; d++) {
			if (!m->v[mod->deps[d]].selected) {
				m->v[mod->deps[d]].selected = true;
				stack[top++] = mod->deps[d];
			}
		}
	}
	free(stack);
	return r;
}

/* ---- .modinfo, for kernel packages without modules.dep ---- */

/* The .modinfo section of an ELF little-endian module, or BLOB_NULL. */
static struct blob elf_modinfo(const unsigned char *e, size_t len)
{
	bool is64;
	unsigned long long shoff, off, size;
	unsigned shentsize, shnum, shstrndx, w;
	const unsigned char *strtab_sh;

	if (len < 0x34 || memcmp(e, "\177ELF", 4) || e[5] != 1)
		return BLOB_NULL;
	is64 = e[4] == 2;
	w = is64 ? 8 : 4;
	shoff = le_n(e + (is64 ? 0x28 : 0x20), (int)w);
	shentsize = le16(e + (is64 ? 0x3A : 0x2E));
	shnum = le16(e + (is64 ? 0x3C : 0x30));
	shstrndx = le16(e + (is64 ? 0x3E : 0x32));
	if (shstrndx >= shnum || shentsize < (is64 ? 0x40u : 0x28u) || shoff > len ||
	    (unsigned long long)shnum * shentsize > len - shoff)
		return BLOB_NULL;
	strtab_sh = e + shoff + (unsigned long long)shstrndx * shentsize;
	off = le_n(strtab_sh + (is64 ? 0x18 : 0x10), (int)w);
	size = le_n(strtab_sh + (is64 ? 0x20 : 0x14), (int)w);
	if (off > len || size > len - off)
		return BLOB_NULL;
	for (unsigned i = 0; i < shnum; i++) {
		const unsigned char *sh = e + shoff + (unsigned long long)i * shentsize;
		unsigned long long name = le_n(sh, 4);
		unsigned long long so = le_n(sh + (is64 ? 0x18 : 0x10), (int)w);
		unsigned long long ss = le_n(sh + (is64 ? 0x20 : 0x14), (int)w);

		if (name + sizeof(".modinfo") > size ||
		    memcmp(e + off + name, ".modinfo", sizeof(".modinfo")))
			continue;
		if (so > len || ss > len - so)
			return BLOB_NULL;
		return blob_mem(e + so, ss);
	}
	return BLOB_NULL;
}

struct modfile {
	const char *rel; /* path below the modules directory */
	const struct tree_node *n;
};

/* Add one module (its file's bytes: in the tree or read from the host), from its .modinfo. */
static int modinfo_add(struct depmap *m, const char *moddir, const char *rel,
		       const unsigned char *bytes, size_t size, struct it_error *err)
{
	unsigned char *plain = NULL;
	size_t plen = size;
	const unsigned char *data = bytes;
	struct blob info, s;
	struct mod *mod;
	char where[PATH_MAX];
	int r = 0;

	if (path_join(where, sizeof(where), moddir, rel) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s': path too long", rel);
	if (is_compressed(rel)) {
		r = decompress(bytes, size, where, &plain, &plen, err);
		if (r < 0)
			return r;
		data = plain;
	}
	info = elf_modinfo(data, plen);
	if (!info.len) {
		free(plain);
		return it_error_set(err, -IT_EFORMAT,
				    "'%s' has no .modinfo section: not a kernel module", where);
	}
	mod = depmap_new(m, blob_str(rel), BLOB_NULL);
	for (size_t i = 0; mod && i < info.len && r == 0; i += s.len + 1) {
		const char *p = (const char *)info.ptr + i;

		s = blob_mem(p, strnlen(p, info.len - i));
		if (blob_starts(s, "depends=")) {
			free(mod->deplist);
			mod->deplist = blob_dup((struct blob){s.len - 8, s.ptr + 8});
			r = mod->deplist ? 0 : -ENOMEM;
		} else if (blob_starts(s, "alias=")) {
			r = strlist_add_owned(&mod->aliases,
					      blob_dup((struct blob){s.len - 6, s.ptr + 6}));
		} else if (blob_starts(s, "name=") && s.len > 5) {
			modname((struct blob){s.len - 5, s.ptr + 5}, mod->name);
		}
	}
	free(plain);
	if (!mod || r < 0)
		return it_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* Every module file below 'dir', with its path relative to the modules directory. */
static int collect_modules(const struct tree_node *dir, char *rel, size_t len, struct strlist *out)
{
	for (size_t i = 0; i < dir->nkids; i++) {
		const struct tree_node *n = dir->kids[i];
		size_t nl = strlen(n->name);
		int r = 0;

		if (len + nl + 2 > PATH_MAX)
			return -ENAMETOOLONG;
		snprintf(rel + len, PATH_MAX - len, "%s%s", len ? "/" : "", n->name);
		if (tree_is_dir(n))
			r = collect_modules(n, rel, len + (len ? 1 : 0) + nl, out);
		else if (module_stem(rel))
			r = strlist_add(out, rel);
		rel[len] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

/* Index and link a map made from .modinfo sections. */
static int depmap_finish(struct depmap *m, struct it_error *err)
{
	int r = depmap_index(m);

	if (r < 0)
		return it_error_set(err, r, "out of memory");
	return depmap_link(m, err);
}

static int depmap_from_modinfo(struct depmap *m, struct tree *t, const char *moddir,
			       struct it_error *err)
{
	const struct tree_node *dir = tree_lookup(t, moddir, true);
	struct strlist files = STRLIST_INIT;
	char rel[PATH_MAX] = "";
	int r;

	m->from_modinfo = true;
	r = collect_modules(dir, rel, 0, &files);
	if (r < 0)
		r = it_error_set(err, r, "cannot list '%s': %s", moddir, it_strerror(r));
	for (size_t i = 0; r == 0 && i < files.n; i++) {
		char path[PATH_MAX];

		if (path_join(path, sizeof(path), moddir, files.v[i]) < 0)
			r = it_error_set(err, -ENAMETOOLONG, "'%s': path too long", files.v[i]);
		else {
			const struct tree_node *n = tree_lookup(t, path, false);

			r = modinfo_add(m, moddir, files.v[i], n->data, n->size, err);
		}
	}
	strlist_clear(&files);
	return r == 0 ? depmap_finish(m, err) : r;
}

/* ---- writing the selection ---- */

/* The module's path in the output: without a compression suffix. */
static char *out_path(const char *path)
{
	size_t stem = module_stem(path);

	return blob_dup(blob_mem(path, stem ? stem : strlen(path)));
}

static int put_file(struct tree *t, const char *moddir, const char *rel, void *data, size_t len,
		    struct it_error *err)
{
	char path[PATH_MAX];
	struct tree_entry e = {
	    .mode = S_IFREG | 0644,
	    .mtime = TREE_MTIME_UNSET,
	    .content = data,
	    .size = len,
	    .flags = TREE_TAKE_CONTENT,
	};

	if (path_join(path, sizeof(path), moddir, rel) < 0) {
		free(data);
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': path too long", moddir, rel);
	}
	e.path = path;
	return tree_add(t, &e, NULL, err);
}

/* Put one chosen module in the tree, decompressed. */
static int put_module(const struct source *s, const struct mod *mod, struct kmod_result *res,
		      struct it_error *err)
{
	struct buf b = BUF_INIT;
	char *rel = out_path(mod->path);
	unsigned char *plain = NULL;
	size_t plen = 0;
	char where[PATH_MAX];
	bool exists;
	int r;

	if (!rel)
		return it_error_set(err, -ENOMEM, "out of memory");
	source_path(s, mod->path, where, sizeof(where));
	if (!s->host && !is_compressed(mod->path)) {
		/* Already in the tree as it should be. */
		r = tree_lookup(s->t, where, false)
			? 0
			: it_error_set(err, -IT_ENOTFOUND,
				       "module '%s' is listed but '%s' is missing", mod->name,
				       where);
		goto out;
	}
	r = source_read(s, mod->path, &b, &exists, err);
	if (r == 0 && !exists)
		r = it_error_set(err, -IT_ENOTFOUND, "module '%s' is listed but '%s' is missing",
				 mod->name, where);
	if (r < 0)
		goto out;
	if (is_compressed(mod->path)) {
		r = decompress(b.data, b.len, where, &plain, &plen, err);
	} else {
		plain = (unsigned char *)buf_detach(&b, &plen);
	}
	if (r == 0 && (plen < 4 || memcmp(plain, "\177ELF", 4))) {
		free(plain);
		r = it_error_set(err, -IT_EFORMAT, "'%s' is not a kernel module (not ELF)", where);
	}
	if (r == 0 && !s->host)
		tree_remove(s->t, where);
	if (r == 0)
		r = put_file(s->t, s->moddir, rel, plain, plen, err);
out:
	if (r == 0)
		r = strlist_add(&res->modules, rel);
	free(rel);
	buf_release(&b);
	return r;
}

static int write_depfile(struct tree *t, const char *moddir, const struct depmap *m,
			 struct it_error *err)
{
	struct buf b = BUF_INIT;
	char *data;
	size_t len;
	int r = 0;

	for (size_t i = 0; i < m->n && r == 0; i++) {
		const struct mod *mod = &m->v[i];

		if (!mod->selected)
			continue;
		r = buf_add(&b, mod->path,
			    module_stem(mod->path) ? module_stem(mod->path) : strlen(mod->path));
		if (r == 0)
			r = buf_addch(&b, ':');
		for (size_t d = 0; d < mod->ndeps && r == 0; d++) {
			const char *p = m->v[mod->deps[d]].path;

			r = buf_addch(&b, ' ');
			if (r == 0)
				r = buf_add(&b, p, module_stem(p) ? module_stem(p) : strlen(p));
		}
		if (r == 0)
			r = buf_addch(&b, '\n');
	}
	if (r < 0) {
		buf_release(&b);
		return it_error_set(err, r, "out of memory");
	}
	data = buf_detach(&b, &len);
	return put_file(t, moddir, "modules.dep", data, len, err);
}

/* modules.order lists module paths: keep the chosen ones, without compression suffixes. */
static int filter_order(const struct depmap *m, struct blob text, struct buf *out)
{
	struct blob line;
	int r = 0;

	while (r == 0 && next_line(&text, &line)) {
		char *p = blob_dup(line);
		long i;

		if (!p)
			return -ENOMEM;
		i = find_path(m, p);
		/* The order file names "x.ko" where modules.dep may have "x.ko.gz". */
		for (size_t k = 0; i < 0 && k < ARRAY_SIZE(compressions); k++) {
			char *c = NULL;

			if (asprintf(&c, "%s%s", p, compressions[k].suffix) < 0) {
				free(p);
				return -ENOMEM;
			}
			i = find_path(m, c);
			free(c);
		}
		if (i >= 0 && m->v[i].selected) {
			r = buf_add(out, p, module_stem(p) ? module_stem(p) : strlen(p));
			if (r == 0)
				r = buf_addch(out, '\n');
		}
		free(p);
	}
	return r;
}

static int filter_index(const struct depmap *m, enum keep_by keep, struct blob text,
			struct buf *out)
{
	struct blob line;
	int r = 0;

	if (keep == KEEP_ALL)
		return buf_add(out, text.ptr, text.len);
	while (r == 0 && next_line(&text, &line)) {
		struct blob w =
		    keep == KEEP_LAST ? word(line, -1) : word(line, keep == KEEP_FIELD1 ? 0 : 1);

		if (line.len && line.ptr[0] != '#' && !name_selected(m, w))
			continue;
		r = buf_add(out, line.ptr, line.len);
		if (r == 0)
			r = buf_addch(out, '\n');
	}
	return r;
}

/* modules.alias made from .modinfo aliases, for packages that do not ship it. */
static int aliases_from_modinfo(const struct depmap *m, struct buf *out)
{
	int r = buf_addstr(out, "# Aliases extracted from modules themselves.\n");

	for (size_t i = 0; i < m->n && r == 0; i++)
		for (size_t k = 0; m->v[i].selected && k < m->v[i].aliases.n && r == 0; k++)
			r = buf_addf(out, "alias %s %s\n", m->v[i].aliases.v[k], m->v[i].name);
	return r;
}

static int write_indexes(const struct source *s, const struct depmap *m, struct it_error *err)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	char *data;
	size_t len;
	bool exists;
	int r;

	r = write_depfile(s->t, s->moddir, m, err);
	for (size_t i = 0; r == 0 && i <= ARRAY_SIZE(index_files); i++) {
		const char *name =
		    i < ARRAY_SIZE(index_files) ? index_files[i].name : "modules.order";

		buf_reset(&out);
		r = source_read(s, name, &in, &exists, err);
		if (r < 0)
			break;
		if (!exists && m->from_modinfo && !strcmp(name, "modules.alias"))
			r = aliases_from_modinfo(m, &out);
		else if (!exists)
			continue;
		else if (i == ARRAY_SIZE(index_files))
			r = filter_order(m, buf_blob(&in), &out);
		else
			r = filter_index(m, index_files[i].keep, buf_blob(&in), &out);
		if (r < 0) {
			r = it_error_set(err, r, "cannot write '%s/%s': %s", s->moddir, name,
					 it_strerror(r));
			break;
		}
		data = buf_detach(&out, &len);
		r = put_file(s->t, s->moddir, name, data, len, err);
	}
	buf_release(&in);
	buf_release(&out);
	return r;
}

/* ---- from a host directory ---- */

static bool host_has(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	return path_join(path, sizeof(path), dir, name) == 0 && stat(path, &st) == 0 &&
	       S_ISREG(st.st_mode);
}

static const char *basename_of(const char *path, char *buf, size_t bufsz)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	snprintf(buf, bufsz, "%.*s", (int)len, path);
	return strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
}

/* Find /lib/modules/VERSION from what was given, and its version. */
static int host_moddir(const char *given, const char *version, char *dir, size_t dirsz,
		       char **found, struct it_error *err)
{
	char tmp[PATH_MAX];
	const char *base;
	char *v;

	if (host_has(given, "modules.dep")) {
		snprintf(dir, dirsz, "%s", given);
	} else if (version && path_join(dir, dirsz, given, version) == 0 &&
		   host_has(dir, "modules.dep")) {
		;
	} else {
		if (version)
			it_error_set(err, -IT_EKERNEL, "no modules.dep in '%s' or in '%s'", given,
				     dir);
		else
			it_error_set(err, -IT_EKERNEL, "no modules.dep in '%s'", given);
		it_error_hint(err,
			      "give /lib/modules/VERSION, or /lib/modules with a kernel image");
		return -IT_EKERNEL;
	}
	base = basename_of(dir, tmp, sizeof(tmp));
	if (version && strcmp(base, version))
		return it_error_set(
		    err, -IT_EKERNEL,
		    "the kernel is version '%s' but the modules in '%s' are for '%s'", version, dir,
		    base);
	/* 'version' may be *found itself (the image's version): copy before freeing. */
	v = strdup(version ? version : base);
	if (!v)
		return it_error_set(err, -ENOMEM, "out of memory");
	free(*found);
	*found = v;
	return 0;
}

/* The module's file is in the source (compressed or not, as listed). */
static bool source_has(const struct source *s, const struct mod *mod)
{
	char path[PATH_MAX];

	if (source_path(s, mod->path, path, sizeof(path)) < 0)
		return false;
	if (s->host)
		return access(path, R_OK) == 0;
	return tree_lookup(s->t, path, true) != NULL;
}

/* Mark k and what it needs in 'mark' (not yet selected ones); false when a file is missing. */
static bool closure_present(const struct source *s, const struct depmap *m, size_t k, bool *mark)
{
	if (mark[k] || m->v[k].selected)
		return true;
	mark[k] = true;
	if (!source_has(s, &m->v[k]))
		return false;
	for (size_t d = 0; d < m->v[k].ndeps; d++) {
		if (!closure_present(s, m, m->v[k].deps[d], mark))
			return false;
	}
	return true;
}

/*
 * Optional modules (the guest agent's): each is taken with what it needs when
 * all of it is there, left out without a word otherwise (a kernel that has it
 * built in, or a modules directory without it).
 */
static int select_optional(const struct source *s, struct depmap *m, const struct strlist *names,
			   struct blob builtin, struct kmod_result *res)
{
	bool *mark = calloc(m->n ? m->n : 1, sizeof(*mark));

	if (!mark)
		return -ENOMEM;
	for (size_t i = 0; names && i < names->n; i++) {
		char name[MODNAME_MAX];
		long k;

		modname(blob_str(names->v[i]), name);
		k = name[0] ? find_name(m, name) : -1;
		if (k < 0) {
			if (name[0] && is_builtin(builtin, name) &&
			    !strlist_has(&res->builtin, name))
				strlist_add(&res->builtin, name);
			continue;
		}
		memset(mark, 0, m->n * sizeof(*mark));
		if (!closure_present(s, m, (size_t)k, mark))
			continue;
		for (size_t j = 0; j < m->n; j++)
			m->v[j].selected |= mark[j];
	}
	free(mark);
	return 0;
}

static int select_modules(const struct source *s, struct depmap *m, const struct strlist *names,
			  const struct strlist *optional, struct kmod_result *res,
			  struct it_error *err)
{
	struct buf builtin = BUF_INIT;
	bool exists;
	int r;

	r = source_read(s, "modules.builtin", &builtin, &exists, err);
	if (r == 0)
		r = depmap_select(m, names, buf_blob(&builtin), res, err);
	if (r == 0 && select_optional(s, m, optional, buf_blob(&builtin), res) < 0)
		r = it_error_set(err, -ENOMEM, "out of memory");
	buf_release(&builtin);
	return r;
}

static int write_selection(const struct source *s, const struct depmap *m, struct kmod_result *res,
			   struct it_error *err)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < m->n; i++)
		if (m->v[i].selected)
			r = put_module(s, &m->v[i], res, err);
	if (r == 0)
		r = write_indexes(s, m, err);
	return r;
}

int kmod_add_from_dir(struct tree *t, const char *modules_dir, const char *version,
		      const struct strlist *names, const struct strlist *optional,
		      struct kmod_result *res, struct it_error *err)
{
	char dir[PATH_MAX], moddir[PATH_MAX], where[PATH_MAX];
	struct source s = {.t = t, .host = dir, .moddir = moddir};
	struct depmap m = {0};
	struct buf dep = BUF_INIT;
	bool exists;
	int r;

	r = host_moddir(modules_dir, version, dir, sizeof(dir), &res->version, err);
	if (r < 0)
		return r;
	snprintf(moddir, sizeof(moddir), "/lib/modules/%s", res->version);
	path_join(where, sizeof(where), dir, "modules.dep");
	m.where = where;
	r = source_read(&s, "modules.dep", &dep, &exists, err);
	if (r == 0)
		r = depmap_parse(&m, buf_blob(&dep), err);
	if (r == 0)
		r = select_modules(&s, &m, names, optional, res, err);
	if (r == 0)
		r = write_selection(&s, &m, res, err);
	buf_release(&dep);
	depmap_release(&m);
	return r;
}

/* ---- from a kernel package in the tree ---- */

/* The one /boot/vmlinuz* of the tree, or the one given. */
static int find_image(struct tree *t, const char *given, char *path, size_t pathsz,
		      struct it_error *err)
{
	const struct tree_node *boot;
	size_t found = 0;

	if (given) {
		const struct tree_node *n = tree_lookup(t, given, true);

		if (!n || !tree_is_reg(n))
			return it_error_set(err, -IT_ENOTFOUND,
					    "kernel image '%s' is not in the tree", given);
		snprintf(path, pathsz, "%s", given);
		return 0;
	}
	boot = tree_lookup(t, "/boot", true);
	for (size_t i = 0; boot && tree_is_dir(boot) && i < boot->nkids; i++) {
		const struct tree_node *n = boot->kids[i];

		if (strncmp(n->name, "vmlinuz", 7) || !tree_is_reg(n))
			continue;
		if (found++)
			return it_error_set(
			    err, -IT_EKERNEL,
			    "several kernel images in the tree: '%s' and '/boot/%s'", path,
			    n->name);
		snprintf(path, pathsz, "/boot/%s", n->name);
	}
	if (!found) {
		it_error_set(err, -IT_ENOTFOUND, "no kernel image in the tree: no /boot/vmlinuz*");
		it_error_hint(err, "add a kernel package such as linux-virt");
		return -IT_ENOTFOUND;
	}
	return 0;
}

/* The versions /lib/modules of the tree has, for a message. */
static void tree_versions(const struct tree *t, char *out, size_t outsz)
{
	const struct tree_node *lm = tree_lookup(t, "/lib/modules", true);
	size_t len = 0;

	snprintf(out, outsz, "none");
	for (size_t i = 0; lm && tree_is_dir(lm) && i < lm->nkids && len < outsz; i++)
		len += (size_t)snprintf(out + len, outsz - len, "%s'%s'", i ? ", " : "",
					lm->kids[i]->name);
}

/* Remove the module files not chosen, then the directories left empty. */
static int prune_tree(struct tree *t, const char *moddir, const struct depmap *m)
{
	const struct tree_node *dir = tree_lookup(t, moddir, true);
	struct strlist files = STRLIST_INIT;
	char rel[PATH_MAX] = "", path[PATH_MAX];
	int r = collect_modules(dir, rel, 0, &files);

	for (size_t i = 0; r == 0 && i < files.n; i++) {
		long k = find_path(m, files.v[i]);

		if (k >= 0 && m->v[k].selected)
			continue;
		if (path_join(path, sizeof(path), moddir, files.v[i]) == 0)
			tree_remove(t, path);
	}
	strlist_clear(&files);
	return r;
}

static bool remove_empty_dirs(struct tree *t, struct tree_node *dir)
{
	for (size_t i = dir->nkids; i-- > 0;) {
		struct tree_node *n = dir->kids[i];
		char path[PATH_MAX];

		if (tree_is_dir(n) && remove_empty_dirs(t, n) &&
		    tree_node_path(n, path, sizeof(path)) == 0)
			tree_remove(t, path);
	}
	return dir->nkids == 0;
}

static void remove_bin_indexes(struct tree *t, const char *moddir)
{
	const struct tree_node *dir = tree_lookup(t, moddir, true);
	struct strlist bins = STRLIST_INIT;
	char path[PATH_MAX];

	for (size_t i = 0; dir && i < dir->nkids; i++) {
		size_t l = strlen(dir->kids[i]->name);

		if (l > 4 && !strcmp(dir->kids[i]->name + l - 4, ".bin") &&
		    !strncmp(dir->kids[i]->name, "modules.", 8))
			strlist_add(&bins, dir->kids[i]->name);
	}
	for (size_t i = 0; i < bins.n; i++) {
		if (path_join(path, sizeof(path), moddir, bins.v[i]) == 0)
			tree_remove(t, path);
	}
	strlist_clear(&bins);
}

int kmod_from_tree(struct tree *t, const char *image_path, const struct strlist *names,
		   const struct strlist *optional, struct kmod_result *res, struct it_error *err)
{
	char img[PATH_MAX], moddir[PATH_MAX], where[PATH_MAX], have[512];
	struct source s = {.t = t, .moddir = moddir};
	struct depmap m = {0};
	struct buf dep = BUF_INIT;
	const struct tree_node *n;
	bool exists;
	int r;

	r = find_image(t, image_path, img, sizeof(img), err);
	if (r < 0)
		return r;
	n = tree_lookup(t, img, true);
	r = kmod_image_version(n->data, n->size, img, &res->version, err);
	if (r < 0)
		return r;
	snprintf(moddir, sizeof(moddir), "/lib/modules/%s", res->version);
	n = tree_lookup(t, moddir, true);
	if (!n || !tree_is_dir(n)) {
		tree_versions(t, have, sizeof(have));
		return it_error_set(err, -IT_EKERNEL,
				    "kernel '%s' is version '%s' but the tree has modules for %s",
				    img, res->version, have);
	}
	path_join(where, sizeof(where), moddir, "modules.dep");
	m.where = where;
	r = source_read(&s, "modules.dep", &dep, &exists, err);
	if (r == 0 && exists)
		r = depmap_parse(&m, buf_blob(&dep), err);
	else if (r == 0)
		r = depmap_from_modinfo(&m, t, moddir, err);
	if (r == 0)
		r = select_modules(&s, &m, names, optional, res, err);
	if (r == 0 && (r = prune_tree(t, moddir, &m)) < 0)
		r = it_error_set(err, r, "cannot prune '%s': %s", moddir, it_strerror(r));
	if (r == 0)
		r = write_selection(&s, &m, res, err);
	if (r == 0) {
		remove_bin_indexes(t, moddir);
		remove_empty_dirs(t, tree_lookup(t, moddir, true));
		/* The image goes beside the initrd, not in it. */
		n = tree_lookup(t, img, true);
		res->image = malloc(n->size ? n->size : 1);
		res->image_path = strdup(img);
		if (!res->image || !res->image_path) {
			r = it_error_set(err, -ENOMEM, "out of memory");
		} else {
			memcpy(res->image, n->data, n->size);
			res->image_len = n->size;
			tree_remove(t, img);
		}
	}
	buf_release(&dep);
	depmap_release(&m);
	return r;
}

/* ---- from a kernel build tree ---- */

/* modules.order's entry as the module file: "x.ko" as it is, "x.o" (Linux 6.2 on) as "x.ko". */
static char *order_entry(struct blob line)
{
	char *p = NULL;

	if (line.len > 2 && !memcmp(line.ptr + line.len - 2, ".o", 2)) {
		if (asprintf(&p, "%.*sko", (int)(line.len - 1), line.ptr) < 0)
			return NULL;
		return p;
	}
	return blob_dup(line);
}

/* The dependency map of the modules modules.order lists, from each built file's .modinfo. */
static int depmap_from_build(struct depmap *m, const char *kdir, struct it_error *err)
{
	struct buf order = BUF_INIT, ko = BUF_INIT;
	char path[PATH_MAX];
	struct blob text, line;
	int r;

	buf_init(&order, 0);
	buf_init(&ko, 0);
	m->from_modinfo = true;
	path_join(path, sizeof(path), kdir, "modules.order");
	r = buf_read_file(&order, path);
	if (r < 0) {
		it_error_set(err, -IT_EKERNEL, "cannot read '%s': %s", path, it_strerror(r));
		it_error_hint(err, "build the modules ('make modules'), or give the installed "
				   "ones with --modules-dir INSTALL_MOD_PATH/lib/modules/VERSION");
		r = -IT_EKERNEL;
	}
	text = buf_blob(&order);
	while (r == 0 && next_line(&text, &line)) {
		char *rel;

		if (!line.len)
			continue;
		rel = order_entry(line);
		if (!rel || path_join(path, sizeof(path), kdir, rel) < 0) {
			free(rel);
			r = it_error_set(err, -ENAMETOOLONG, "'%.*s': path too long", (int)line.len,
					 line.ptr);
			break;
		}
		r = buf_read_file(&ko, path);
		if (r < 0)
			r = it_error_set(err, -IT_EKERNEL,
					 "cannot read '%s' (listed in '%s/modules.order'): %s",
					 path, kdir, it_strerror(r));
		else
			r = modinfo_add(m, kdir, rel, (const unsigned char *)ko.data, ko.len, err);
		free(rel);
	}
	buf_release(&order);
	buf_release(&ko);
	return r == 0 ? depmap_finish(m, err) : r;
}

int kmod_add_from_build(struct tree *t, const char *kdir, const char *version,
			const struct strlist *names, const struct strlist *optional,
			struct kmod_result *res, struct it_error *err)
{
	char moddir[PATH_MAX];
	struct source s = {.t = t, .host = kdir, .moddir = moddir};
	struct depmap m = {0};
	char where[PATH_MAX];
	int r;

	/* 'version' may be res->version itself (the image's): copy before freeing. */
	char *v = strdup(version);

	if (!v)
		return it_error_set(err, -ENOMEM, "out of memory");
	free(res->version);
	res->version = v;
	snprintf(moddir, sizeof(moddir), "/lib/modules/%s", v);
	path_join(where, sizeof(where), kdir, "modules.order");
	m.where = where;
	r = depmap_from_build(&m, kdir, err);
	if (r == 0)
		r = select_modules(&s, &m, names, optional, res, err);
	if (r == 0)
		r = write_selection(&s, &m, res, err);
	depmap_release(&m);
	return r;
}
