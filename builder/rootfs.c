// SPDX-License-Identifier: MIT
/* Rootless configuration of an Alpine tree: file edits, install script emulation, export. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"

/* Text files are small; this cap keeps a runaway file from eating memory. */
#define TEXT_MAX (16u << 20)

#define FIRST_UID 1000 /* busybox adduser: CONFIG_LAST_SYSTEM_ID + 1 */
#define LAST_UID 60000 /* busybox adduser: CONFIG_LAST_ID */
#define SHADOW_GID 42  /* alpine-baselayout's .pre-install: addgroup -S -g 42 shadow */

/* ---- text files in the tree ---- */

/* Read a file of the tree (last symlink followed); *exists false and b empty when missing. */
static int text_get(const struct tree *t, const char *path, struct buf *b, bool *exists,
		    struct it_error *err)
{
	const struct tree_node *n = tree_lookup(t, path, true);
	int r;

	buf_reset(b);
	*exists = false;
	if (!n)
		return 0;
	if (!tree_is_reg(n))
		return it_error_set(err, -EINVAL, "cannot edit '%s': not a regular file", path);
	*exists = true;
	r = buf_add(b, n->data, n->size);
	if (r < 0)
		return it_error_set(err, r, "cannot edit '%s': %s", path, it_strerror(r));
	return 0;
}

/* Replace a file's content keeping its metadata, or create it perm root:root. */
static int text_put(struct tree *t, const char *path, const struct buf *b, unsigned perm,
		    struct it_error *err)
{
	const struct tree_node *n = tree_lookup(t, path, true);
	int r;

	if (n && tree_is_reg(n)) {
		r = tree_set_content(t, path, b->data, b->len);
		if (r < 0)
			return it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
		return 0;
	}
	return tree_add_file(t, path, perm, 0, 0, b->data, b->len, err);
}

/* The end of an edit: r (an error making the text) says why, or the text replaces the file. */
static int text_done(struct tree *t, const char *path, const struct buf *b, int r,
		     struct it_error *err)
{
	if (r < 0)
		return it_error_set(err, r, "cannot edit '%s': %s", path, it_strerror(r));
	return text_put(t, path, b, 0644, err);
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

static int add_line(struct buf *b, struct blob line)
{
	int r = buf_add(b, line.ptr, line.len);

	return r < 0 ? r : buf_addch(b, '\n');
}

/* Letters, digits and the characters in 'extra'; not empty, not '.' or '..'. */
static bool valid_word(const char *s, const char *extra)
{
	if (!s || !*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *p = s; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || (*p && strchr(extra, *p));

		if (!ok)
			return false;
	}
	return true;
}

/* ---- /dev and /init ---- */

/* apk_db_create()'s skeleton, in its order. */
static const struct {
	const char *path;
	unsigned mode, major, minor;
} initdb[] = {
    {"/tmp", S_IFDIR | 01777, 0, 0},	      {"/dev", S_IFDIR | 0755, 0, 0},
    {"/dev/null", S_IFCHR | 0666, 1, 3},      {"/dev/zero", S_IFCHR | 0666, 1, 5},
    {"/dev/random", S_IFCHR | 0666, 1, 8},    {"/dev/urandom", S_IFCHR | 0666, 1, 9},
    {"/dev/console", S_IFCHR | 0600, 5, 1},   {"/etc", S_IFDIR | 0755, 0, 0},
    {"/etc/apk", S_IFDIR | 0755, 0, 0},	      {"/lib", S_IFDIR | 0755, 0, 0},
    {"/lib/apk", S_IFDIR | 0755, 0, 0},	      {"/lib/apk/db", S_IFDIR | 0755, 0, 0},
    {"/var", S_IFDIR | 0755, 0, 0},	      {"/var/cache", S_IFDIR | 0755, 0, 0},
    {"/var/cache/apk", S_IFDIR | 0755, 0, 0}, {"/var/cache/misc", S_IFDIR | 0755, 0, 0},
    {"/proc", S_IFDIR | 0555, 0, 0},
};

int rootfs_add_initdb(struct tree *t, struct it_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(initdb); i++) {
		struct tree_entry e = {
		    .path = initdb[i].path,
		    .mode = initdb[i].mode,
		    .mtime = TREE_MTIME_UNSET,
		    .devmajor = initdb[i].major,
		    .devminor = initdb[i].minor,
		};
		int r;

		if (tree_lookup(t, e.path, false))
			continue;
		r = tree_add(t, &e, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int rootfs_init_symlink(struct tree *t, const char *target, struct it_error *err)
{
	if (!target)
		target = "/sbin/init";
	if (target[0] != '/')
		return it_error_set(err, -EINVAL, "init '%s' must be an absolute path", target);
	if (!tree_lookup(t, target, true)) {
		it_error_set(err, -IT_ENOTFOUND, "init '%s' is not in the tree", target);
		it_error_hint(err, "busybox provides /sbin/init once its applet links are made");
		return -IT_ENOTFOUND;
	}
	return tree_add_symlink(t, "/init", target, err);
}

static bool has_line(struct blob text, const char *want)
{
	struct blob line;

	while (next_line(&text, &line))
		if (blob_eq_str(line, want))
			return true;
	return false;
}

int rootfs_init_copy(struct tree *t, const char *host_path, struct it_error *err)
{
	struct buf b = BUF_INIT;
	int r;

	r = buf_read_file(&b, host_path);
	if (r < 0)
		r = it_error_set(err, r, "cannot read '%s': %s", host_path, strerror(-r));
	else
		r = tree_add_file(t, "/init", 0755, 0, 0, b.data, b.len, err);
	buf_release(&b);
	return r;
}

/* ---- the guest agent ---- */

/* Where the agent goes, and the inittab line that starts it before OpenRC's sysinit. */
#define AGENT_PATH "/sbin/initrd-test-agent"
#define AGENT_INITTAB "::sysinit:" AGENT_PATH " --daemon"

int rootfs_add_agent_binary(struct tree *t, const char *host_path, struct it_error *err)
{
	struct buf b = BUF_INIT;
	int r;

	buf_init(&b, 64 * 1024 * 1024);
	r = buf_read_file(&b, host_path);
	if (r < 0) {
		it_error_set(err, r, "cannot read the guest agent '%s': %s", host_path,
			     it_strerror(r));
		it_error_hint(err,
			      "build it with 'make agent', or write 'agent off' in the scenario");
	} else {
		r = tree_add_file(t, AGENT_PATH, 0755, 0, 0, b.data, b.len, err);
	}
	buf_release(&b);
	return r;
}

/* The first line of /etc/inittab starts the agent; init waits for it, and it forks at once. */
int rootfs_start_agent(struct tree *t, struct it_error *err)
{
	static const char path[] = "/etc/inittab";
	struct buf b = BUF_INIT, out = BUF_INIT;
	bool exists;
	int r;

	r = text_get(t, path, &b, &exists, err);
	if (r == 0 && !exists) {
		r = it_error_set(err, -IT_ENOTFOUND, "cannot start the agent: no '%s'", path);
		it_error_hint(err, "alpine-baselayout provides it");
	}
	if (r < 0 || has_line(buf_blob(&b), AGENT_INITTAB))
		goto out;
	r = buf_addf(&out, "%s\n", AGENT_INITTAB);
	if (r == 0)
		r = buf_add(&out, b.data, b.len);
	r = text_done(t, path, &out, r, err);
out:
	buf_release(&b);
	buf_release(&out);
	return r;
}

/* ---- consoles ---- */

static int add_securetty(struct tree *t, const char *tty, struct it_error *err)
{
	static const char path[] = "/etc/securetty";
	struct buf b = BUF_INIT;
	bool exists;
	int r;

	r = text_get(t, path, &b, &exists, err);
	if (r < 0 || has_line(buf_blob(&b), tty))
		goto out;
	if (b.len && b.data[b.len - 1] != '\n')
		r = buf_addch(&b, '\n');
	if (r == 0)
		r = buf_addf(&b, "%s\n", tty);
	r = text_done(t, path, &b, r, err);
out:
	buf_release(&b);
	return r;
}

/* An inittab line for 'tty': active (1), commented out (2), or not (0). */
static int inittab_kind(struct blob line, const char *tty)
{
	size_t tl = strlen(tty);
	bool commented = line.len && line.ptr[0] == '#';

	if (commented) {
		line.ptr++;
		line.len--;
	}
	if (line.len < tl + 1 || memcmp(line.ptr, tty, tl) || line.ptr[tl] != ':')
		return 0;
	return commented ? 2 : 1;
}

static int add_getty(struct tree *t, const char *tty, struct it_error *err)
{
	static const char path[] = "/etc/inittab";
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct blob rest, line;
	bool exists, active = false, uncommented = false;
	int r;

	r = text_get(t, path, &b, &exists, err);
	if (r < 0)
		goto out;
	if (!exists) {
		r = it_error_set(err, -IT_ENOTFOUND, "cannot edit '%s': not in the tree", path);
		it_error_hint(err, "alpine-baselayout provides it");
		goto out;
	}
	rest = buf_blob(&b);
	while (next_line(&rest, &line))
		active |= inittab_kind(line, tty) == 1;
	rest = buf_blob(&b);
	while (r == 0 && next_line(&rest, &line)) {
		if (!active && !uncommented && inittab_kind(line, tty) == 2) {
			line.ptr++;
			line.len--;
			uncommented = true;
		}
		r = add_line(&out, line);
	}
	if (r == 0 && !active && !uncommented)
		r = buf_addf(&out, "%s::respawn:/sbin/getty -L 115200 %s vt100\n", tty, tty);
	if (r < 0)
		r = it_error_set(err, r, "cannot edit '%s': %s", path, it_strerror(r));
	else if (!active)
		r = text_put(t, path, &out, 0644, err);
out:
	buf_release(&b);
	buf_release(&out);
	return r;
}

int rootfs_add_consoles(struct tree *t, const struct strlist *consoles, struct it_error *err)
{
	for (size_t i = 0; i < consoles->n; i++) {
		const char *tty = consoles->v[i];
		int r;

		if (!valid_word(tty, "_-."))
			return it_error_set(err, -EINVAL, "bad console name '%s'", tty);
		r = add_getty(t, tty, err);
		if (r == 0)
			r = add_securetty(t, tty, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- OpenRC services ---- */

int rootfs_enable_services(struct tree *t, const struct service_spec *s, size_t n,
			   struct it_error *err)
{
	char script[PATH_MAX], link[PATH_MAX];

	for (size_t i = 0; i < n; i++) {
		int r;

		if (!valid_word(s[i].name, "_-.@+"))
			return it_error_set(err, -EINVAL, "bad service name '%s'",
					    s[i].name ? s[i].name : "");
		if (!valid_word(s[i].runlevel, "_-."))
			return it_error_set(err, -EINVAL, "bad runlevel '%s' for service '%s'",
					    s[i].runlevel ? s[i].runlevel : "", s[i].name);
		snprintf(script, sizeof(script), "/etc/init.d/%s", s[i].name);
		snprintf(link, sizeof(link), "/etc/runlevels/%s/%s", s[i].runlevel, s[i].name);
		if (!tree_lookup(t, script, false))
			return it_error_set(
			    err, -IT_ENOTFOUND,
			    "service '%s' not found: no %s (is its package installed?)", s[i].name,
			    script);
		r = tree_add_symlink(t, link, script, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- /etc/network/interfaces ---- */

static const char *const iface_methods[] = {"loopback", "dhcp", "static", "manual"};

static int check_iface(const struct iface_spec *f, struct it_error *err)
{
	bool known = false;

	if (!valid_word(f->name, "_-.:@"))
		return it_error_set(err, -EINVAL, "bad interface name '%s'",
				    f->name ? f->name : "");
	for (size_t i = 0; i < ARRAY_SIZE(iface_methods); i++)
		known |= f->method && !strcmp(f->method, iface_methods[i]);
	if (!known)
		return it_error_set(
		    err, -EINVAL,
		    "interface '%s': unknown method '%s' (loopback, dhcp, static, manual)", f->name,
		    f->method ? f->method : "");
	if (!strcmp(f->method, "static") && (!f->address || !*f->address))
		return it_error_set(err, -EINVAL, "interface '%s': static needs an address",
				    f->name);
	if ((f->address && !valid_word(f->address, ".:/")) ||
	    (f->gateway && !valid_word(f->gateway, ".:")))
		return it_error_set(err, -EINVAL, "interface '%s': bad address or gateway",
				    f->name);
	return 0;
}

static int iface_stanza(struct buf *b, const struct iface_spec *f)
{
	int r = 0;

	if (b->len)
		r = buf_addch(b, '\n');
	if (r == 0 && f->autostart)
		r = buf_addf(b, "auto %s\n", f->name);
	if (r == 0)
		r = buf_addf(b, "iface %s inet %s\n", f->name, f->method);
	if (r == 0 && f->address && *f->address)
		r = buf_addf(b, "\taddress %s\n", f->address);
	if (r == 0 && f->gateway && *f->gateway)
		r = buf_addf(b, "\tgateway %s\n", f->gateway);
	return r;
}

int rootfs_write_interfaces(struct tree *t, const struct iface_spec *ifs, size_t n,
			    struct it_error *err)
{
	static const char path[] = "/etc/network/interfaces";
	struct iface_spec lo = {(char *)"lo", (char *)"loopback", NULL, NULL, true};
	struct buf b = BUF_INIT;
	bool has_lo = false;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		r = check_iface(&ifs[i], err);
		if (r < 0)
			return r;
		has_lo |= !strcmp(ifs[i].name, "lo");
	}
	if (!has_lo)
		r = iface_stanza(&b, &lo);
	for (size_t i = 0; i < n && r == 0; i++)
		r = iface_stanza(&b, &ifs[i]);
	if (r < 0)
		r = it_error_set(err, r, "cannot write '%s': %s", path, it_strerror(r));
	else
		r = text_put(t, path, &b, 0644, err);
	buf_release(&b);
	return r;
}

/* ---- hostname ---- */

static bool valid_hostname(const char *s)
{
	size_t label = 0, len = strlen(s);

	if (!len || len > 253 || s[0] == '-' || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (!label || p[-1] == '-' || p[1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-') ||
		    ++label > 63)
			return false;
	}
	return true;
}

/* Is 'word' one of the whitespace-separated fields of 'line'? */
static bool has_word(struct blob line, const char *word)
{
	size_t wl = strlen(word), i = 0;

	while (i < line.len) {
		size_t j;

		while (i < line.len && (line.ptr[i] == ' ' || line.ptr[i] == '\t'))
			i++;
		j = i;
		while (j < line.len && line.ptr[j] != ' ' && line.ptr[j] != '\t')
			j++;
		if (j - i == wl && !memcmp(line.ptr + i, word, wl))
			return true;
		i = j;
	}
	return false;
}

/*
 * Copy a hosts line with the names that are not on it yet put first after
 * the address: "127.0.0.1\tNAME localhost ...".
 */
static int hosts_line(struct buf *out, struct blob line, const char *const names[2])
{
	size_t addr = 0, sep;
	int r = 0;

	while (addr < line.len && line.ptr[addr] != ' ' && line.ptr[addr] != '\t')
		addr++;
	sep = addr;
	while (sep < line.len && (line.ptr[sep] == ' ' || line.ptr[sep] == '\t'))
		sep++;
	r = buf_add(out, line.ptr, sep);
	if (r == 0 && sep == addr)
		r = buf_addch(out, '\t');
	for (int k = 0; k < 2 && r == 0; k++)
		if (names[k] && !has_word(line, names[k]))
			r = buf_addf(out, "%s%s", names[k], sep < line.len || k == 0 ? " " : "");
	if (r == 0)
		r = buf_add(out, line.ptr + sep, line.len - sep);
	/* No trailing blank when the line had no names. */
	while (r == 0 && out->len && out->data[out->len - 1] == ' ')
		out->data[--out->len] = '\0';
	return r < 0 ? r : buf_addch(out, '\n');
}

static int edit_hosts(struct tree *t, const char *name, struct it_error *err)
{
	static const char path[] = "/etc/hosts";
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct blob rest, line;
	char shortname[64] = "";
	const char *names[2] = {name, NULL};
	bool exists, seen4 = false, seen6 = false;
	int r;

	if (strchr(name, '.')) {
		snprintf(shortname, sizeof(shortname), "%.*s", (int)strcspn(name, "."), name);
		names[1] = shortname;
	}
	r = text_get(t, path, &b, &exists, err);
	if (r < 0)
		goto out;
	rest = buf_blob(&b);
	while (r == 0 && next_line(&rest, &line)) {
		bool v4 = blob_starts(line, "127.0.0.1") && line.len > 9 &&
			  (line.ptr[9] == ' ' || line.ptr[9] == '\t');
		bool v6 = blob_starts(line, "::1") && line.len > 3 &&
			  (line.ptr[3] == ' ' || line.ptr[3] == '\t');

		if ((v4 && !seen4) || (v6 && !seen6)) {
			seen4 |= v4;
			seen6 |= v6;
			r = hosts_line(&out, line, names);
		} else {
			r = add_line(&out, line);
		}
	}
	if (r == 0 && !seen4)
		r = hosts_line(&out, blob_str("127.0.0.1\tlocalhost localhost.localdomain"), names);
	if (r == 0 && !seen6)
		r = hosts_line(&out, blob_str("::1\tlocalhost localhost.localdomain"), names);
	r = text_done(t, path, &out, r, err);
out:
	buf_release(&b);
	buf_release(&out);
	return r;
}

int rootfs_set_hostname(struct tree *t, const char *name, struct it_error *err)
{
	struct buf b = BUF_INIT;
	int r;

	if (!name || !valid_hostname(name))
		return it_error_set(err, -EINVAL, "bad hostname '%s'", name ? name : "");
	r = buf_addf(&b, "%s\n", name);
	if (r == 0)
		r = text_put(t, "/etc/hostname", &b, 0644, err);
	else
		r = it_error_set(err, r, "cannot write '/etc/hostname': %s", it_strerror(r));
	buf_release(&b);
	if (r == 0)
		r = edit_hosts(t, name, err);
	return r;
}

/* ---- /etc/passwd, /etc/group, /etc/shadow ---- */

/* A colon-separated table file held as lines. */
struct table {
	const char *path;
	struct strlist lines;
	bool exists;
};

static int table_load(const struct tree *t, struct table *tb, const char *path,
		      struct it_error *err)
{
	struct buf b = BUF_INIT;
	struct blob rest, line;
	int r;

	tb->path = path;
	r = text_get(t, path, &b, &tb->exists, err);
	rest = buf_blob(&b);
	while (r == 0 && next_line(&rest, &line))
		r = strlist_add_owned(&tb->lines, blob_dup(line));
	if (r < 0)
		r = it_error_set(err, r, "cannot edit '%s': %s", path, it_strerror(r));
	buf_release(&b);
	return r;
}

static int table_save(struct tree *t, struct table *tb, unsigned perm, struct it_error *err)
{
	struct buf b = BUF_INIT;
	int r = 0;

	for (size_t i = 0; i < tb->lines.n && r == 0; i++)
		r = buf_addf(&b, "%s\n", tb->lines.v[i]);
	if (r < 0)
		r = it_error_set(err, r, "cannot write '%s': %s", tb->path, it_strerror(r));
	else
		r = text_put(t, tb->path, &b, perm, err);
	buf_release(&b);
	return r;
}

/* Field 'idx' (from 0) of a line; an empty blob when the line is shorter. */
static struct blob table_field(const char *line, int idx)
{
	struct blob rest = blob_str(line), f = rest;

	for (int i = 0; i <= idx; i++) {
		if (!blob_split(rest, ':', &f, &rest)) {
			f = rest;
			rest = BLOB_NULL;
			if (i < idx)
				return BLOB_NULL;
		}
	}
	return f;
}

static long table_find(const struct table *tb, const char *name)
{
	for (size_t i = 0; i < tb->lines.n; i++)
		if (blob_eq_str(table_field(tb->lines.v[i], 0), name))
			return (long)i;
	return -1;
}

static bool table_uses_id(const struct table *tb, unsigned long long id)
{
	unsigned long long v;

	for (size_t i = 0; i < tb->lines.n; i++)
		if (blob_to_u64(table_field(tb->lines.v[i], 2), &v) && v == id)
			return true;
	return false;
}

static long table_id(const struct table *tb, long i)
{
	unsigned long long v;

	if (i < 0 || !blob_to_u64(table_field(tb->lines.v[i], 2), &v) || v > LONG_MAX)
		return -1;
	return (long)v;
}

/* Replace field 'idx' of line i (padding with empty fields when needed). */
static int table_set(struct table *tb, size_t i, int idx, const char *value)
{
	struct buf b = BUF_INIT;
	const char *line = tb->lines.v[i];
	int r = 0, nf = 1;

	for (const char *p = line; *p; p++)
		nf += *p == ':';
	for (int k = 0; k < (nf > idx + 1 ? nf : idx + 1) && r == 0; k++) {
		struct blob f = k == idx ? blob_str(value) : table_field(line, k);

		if (k)
			r = buf_addch(&b, ':');
		if (r == 0)
			r = buf_add(&b, f.ptr, f.len);
	}
	if (r < 0) {
		buf_release(&b);
		return r;
	}
	free(tb->lines.v[i]);
	tb->lines.v[i] = buf_detach(&b, NULL);
	return 0;
}

struct accounts {
	struct table passwd, group, shadow;
};

static void accounts_release(struct accounts *a)
{
	strlist_clear(&a->passwd.lines);
	strlist_clear(&a->group.lines);
	strlist_clear(&a->shadow.lines);
}

static int accounts_load(const struct tree *t, struct accounts *a, struct it_error *err)
{
	int r = table_load(t, &a->passwd, "/etc/passwd", err);

	if (r == 0)
		r = table_load(t, &a->group, "/etc/group", err);
	if (r == 0)
		r = table_load(t, &a->shadow, "/etc/shadow", err);
	if (r == 0 && !a->passwd.exists) {
		r = it_error_set(err, -IT_ENOTFOUND, "cannot edit '/etc/passwd': not in the tree");
		it_error_hint(err, "alpine-baselayout-data provides it");
	}
	return r;
}

/* /etc/shadow 0640 root:shadow, as alpine-baselayout's .post-install makes it. */
static int shadow_perms(struct tree *t, const struct table *group)
{
	long gid = group ? table_id(group, table_find(group, "shadow")) : -1;

	if (!tree_lookup(t, "/etc/shadow", true))
		return 0;
	tree_chown(t, "/etc/shadow", 0, gid < 0 ? SHADOW_GID : (unsigned)gid);
	return tree_chmod(t, "/etc/shadow", 0640);
}

static int accounts_save(struct tree *t, struct accounts *a, struct it_error *err)
{
	int r = table_save(t, &a->passwd, 0644, err);

	if (r == 0)
		r = table_save(t, &a->group, 0644, err);
	if (r == 0)
		r = table_save(t, &a->shadow, 0640, err);
	if (r == 0)
		r = shadow_perms(t, &a->group);
	return r;
}

/* Letters, digits, '_', '-', '.'; not starting with '-' or a digit; a final '$' (Samba) allowed. */
static bool valid_user_name(const char *s)
{
	char name[33];
	size_t len = s ? strlen(s) : 0;

	if (!len || len > 32 || s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))
		return false;
	memcpy(name, s, len + 1);
	if (len > 1 && name[len - 1] == '$')
		name[len - 1] = '\0';
	return valid_word(name, "_-.");
}

static bool valid_field(const char *s)
{
	return !s || (!strchr(s, ':') && !strchr(s, '\n'));
}

static int add_to_group(struct accounts *a, const char *group, const char *user,
			struct it_error *err)
{
	long gi = table_find(&a->group, group);
	struct blob members;
	int r;

	if (!valid_user_name(group))
		return it_error_set(err, -EINVAL, "bad group name '%s'", group);
	if (gi < 0) {
		unsigned gid = FIRST_UID;

		while (gid < LAST_UID && table_uses_id(&a->group, gid))
			gid++;
		r = strlist_addf(&a->group.lines, "%s:x:%u:%s", group, gid, user);
		return r < 0 ? it_error_set(err, r, "out of memory") : 0;
	}
	members = table_field(a->group.lines.v[gi], 3);
	for (struct blob rest = members, m; rest.len;) {
		if (!blob_split(rest, ',', &m, &rest)) {
			m = rest;
			rest = BLOB_NULL;
		}
		if (blob_eq_str(m, user))
			return 0;
	}
	{
		char *list = NULL;

		if (asprintf(&list, "%.*s%s%s", (int)members.len, members.ptr,
			     members.len ? "," : "", user) < 0)
			return it_error_set(err, -ENOMEM, "out of memory");
		r = table_set(&a->group, (size_t)gi, 3, list);
		free(list);
	}
	return r < 0 ? it_error_set(err, r, "out of memory") : 0;
}

/* Make a new account; *uid, *gid and home get what it was given. */
static int new_account(struct accounts *a, const struct user_spec *u, const char *home,
		       const char *pw, unsigned *uid, unsigned *gid, struct it_error *err)
{
	long gi = table_find(&a->group, u->name);
	int r;

	if (u->uid >= 0) {
		if (u->uid > 0xfffffffeL || table_uses_id(&a->passwd, (unsigned long long)u->uid))
			return it_error_set(err, -EEXIST,
					    "uid %ld of user '%s' is taken in '/etc/passwd'",
					    u->uid, u->name);
		*uid = (unsigned)u->uid;
	} else {
		*uid = FIRST_UID;
		while (*uid < LAST_UID && (table_uses_id(&a->passwd, *uid) ||
					   (gi < 0 && table_uses_id(&a->group, *uid))))
			(*uid)++;
		if (*uid == LAST_UID)
			return it_error_set(err, -ENOSPC,
					    "no free uid for user '%s' in '/etc/passwd'", u->name);
	}
	if (gi >= 0) {
		*gid = (unsigned)table_id(&a->group, gi);
	} else {
		*gid = *uid;
		while (*gid < 0xfffffffeU && table_uses_id(&a->group, *gid))
			(*gid)++;
		r = strlist_addf(&a->group.lines, "%s:x:%u:", u->name, *gid);
		if (r < 0)
			return it_error_set(err, r, "out of memory");
	}
	r = strlist_addf(&a->passwd.lines, "%s:x:%u:%u:Linux User,,,:%s:%s", u->name, *uid, *gid,
			 home, u->shell ? u->shell : "/bin/sh");
	/* Last change left empty: no password aging, and the output stays reproducible. */
	if (r == 0)
		r = strlist_addf(&a->shadow.lines, "%s:%s::0:99999:7:::", u->name, pw);
	return r < 0 ? it_error_set(err, r, "out of memory") : 0;
}

/* Update an existing account with what the spec gives. */
static int update_account(struct accounts *a, const struct user_spec *u, long pi, const char *pw,
			  unsigned *uid, unsigned *gid, struct it_error *err)
{
	long si = table_find(&a->shadow, u->name);
	struct blob f;
	unsigned long long v;
	int r = 0;

	f = table_field(a->passwd.lines.v[pi], 2);
	if (!blob_to_u64(f, &v))
		return it_error_set(err, -IT_EFORMAT, "bad line for '%s' in '/etc/passwd'",
				    u->name);
	*uid = (unsigned)v;
	if (u->uid >= 0 && (unsigned long long)u->uid != v)
		return it_error_set(err, -EEXIST, "user '%s' exists in '/etc/passwd' with uid %llu",
				    u->name, v);
	if (!blob_to_u64(table_field(a->passwd.lines.v[pi], 3), &v))
		return it_error_set(err, -IT_EFORMAT, "bad line for '%s' in '/etc/passwd'",
				    u->name);
	*gid = (unsigned)v;
	if (u->shell)
		r = table_set(&a->passwd, (size_t)pi, 6, u->shell);
	if (r == 0 && u->home)
		r = table_set(&a->passwd, (size_t)pi, 5, u->home);
	if (r == 0 && pw && si >= 0)
		r = table_set(&a->shadow, (size_t)si, 1, pw);
	else if (r == 0 && pw)
		r = strlist_addf(&a->shadow.lines, "%s:%s::0:99999:7:::", u->name, pw);
	return r < 0 ? it_error_set(err, r, "out of memory") : 0;
}

/* ~/.ssh/authorized_keys from a host file, 0600 in a 0700 ~/.ssh, both the user's. */
static int install_keys(struct tree *t, const char *home, const char *keys, unsigned uid,
			unsigned gid, struct it_error *err)
{
	struct buf b = BUF_INIT;
	char ssh[PATH_MAX], file[PATH_MAX];
	int r;

	r = buf_read_file(&b, keys);
	if (r < 0) {
		it_error_set(err, r, "cannot read '%s': %s", keys, strerror(-r));
		it_error_hint(err, "authorized_keys names a file on this machine");
		goto out;
	}
	if (path_join(ssh, sizeof(ssh), home, ".ssh") < 0 ||
	    path_join(file, sizeof(file), ssh, "authorized_keys") < 0) {
		r = it_error_set(err, -ENAMETOOLONG, "home '%s' is too long", home);
		goto out;
	}
	r = tree_add_dir(t, ssh, 0700, uid, gid, err);
	if (r == 0)
		r = tree_add_file(t, file, 0600, uid, gid, b.data, b.len, err);
out:
	buf_release(&b);
	return r;
}

static int add_user(struct tree *t, struct accounts *a, const struct user_spec *u,
		    struct it_error *err)
{
	long pi = table_find(&a->passwd, u->name);
	char home[PATH_MAX];
	const char *pw = u->password_hash;
	unsigned uid = 0, gid = 0;
	int r;

	if (!valid_user_name(u->name))
		return it_error_set(err, -EINVAL, "bad user name '%s'", u->name ? u->name : "");
	if (!valid_field(u->password_hash) || !valid_field(u->shell) || !valid_field(u->home) ||
	    (u->shell && u->shell[0] != '/') || (u->home && u->home[0] != '/'))
		return it_error_set(err, -EINVAL, "user '%s': bad password hash, shell or home",
				    u->name);
	if (!pw && pi < 0)
		pw = u->authorized_keys ? "*" : "!";
	if (pi >= 0) {
		struct blob h;

		r = update_account(a, u, pi, pw, &uid, &gid, err);
		h = table_field(a->passwd.lines.v[pi], 5);
		snprintf(home, sizeof(home), "%.*s", (int)h.len, h.ptr);
	} else {
		if (u->home)
			snprintf(home, sizeof(home), "%s", u->home);
		else
			snprintf(home, sizeof(home), "%s/%s",
				 strcmp(u->name, "root") ? "/home" : "",
				 strcmp(u->name, "root") ? u->name : "root");
		r = new_account(a, u, home, pw, &uid, &gid, err);
	}
	for (size_t i = 0; r == 0 && i < u->groups.n; i++)
		r = add_to_group(a, u->groups.v[i], u->name, err);
	/* A home made here is the user's, 02755 as busybox adduser leaves it. */
	if (r == 0 && home[0] == '/' && home[1] && !tree_lookup(t, home, true))
		r = tree_add_dir(t, home, 02755, uid, gid, err);
	if (r == 0 && u->authorized_keys)
		r = install_keys(t, home, u->authorized_keys, uid, gid, err);
	return r;
}

int rootfs_add_users(struct tree *t, const struct user_spec *u, size_t n, struct it_error *err)
{
	struct accounts a = {0};
	int r;

	r = accounts_load(t, &a, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = add_user(t, &a, &u[i], err);
	if (r == 0)
		r = accounts_save(t, &a, err);
	accounts_release(&a);
	return r;
}

int rootfs_set_root_password(struct tree *t, const char *hash, struct it_error *err)
{
	struct table sh = {0}, gr = {0};
	long i;
	int r;

	if (!hash || !valid_field(hash))
		return it_error_set(err, -EINVAL, "bad root password hash");
	r = table_load(t, &sh, "/etc/shadow", err);
	if (r == 0)
		r = table_load(t, &gr, "/etc/group", err);
	if (r < 0)
		goto out;
	i = table_find(&sh, "root");
	if (i < 0) {
		r = it_error_set(err, -IT_ENOTFOUND,
				 "cannot set the root password: no 'root' in '/etc/shadow'");
		goto out;
	}
	r = table_set(&sh, (size_t)i, 1, hash);
	if (r < 0)
		r = it_error_set(err, r, "out of memory");
	else
		r = table_save(t, &sh, 0640, err);
	if (r == 0)
		r = shadow_perms(t, &gr);
out:
	strlist_clear(&sh.lines);
	strlist_clear(&gr.lines);
	return r;
}

/* ---- overlays ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in a directory, sorted so errors come in a stable order. */
static int list_dir(int dfd, struct strlist *names)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	errno = 0;
	while (r == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = strlist_add(names, de->d_name);
	if (r == 0 && errno)
		r = -errno;
	closedir(d);
	if (names->n)
		qsort(names->v, names->n, sizeof(*names->v), cmp_names);
	return r;
}

static int read_fd(int fd, void **data, size_t *size)
{
	struct stat st;
	char *p = NULL;
	size_t len = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > 0) {
		p = malloc((size_t)st.st_size);
		if (!p)
			return -ENOMEM;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, p + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(p);
			return n < 0 ? -errno : -EIO;
		}
		len += (size_t)n;
	}
	*data = p;
	*size = len;
	return 0;
}

static int overlay_entry(struct tree *t, int dfd, const char *name, const char *host,
			 const char *in_tree, struct it_error *err);

static int overlay_dir(struct tree *t, int dfd, const char *host, const char *in_tree,
		       struct it_error *err)
{
	struct strlist names = STRLIST_INIT;
	int r = list_dir(dfd, &names);

	if (r < 0)
		r = it_error_set(err, r, "cannot read '%s': %s", host, strerror(-r));
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		char h[PATH_MAX], p[PATH_MAX];

		if (path_join(h, sizeof(h), host, names.v[i]) < 0 ||
		    path_join(p, sizeof(p), in_tree, names.v[i]) < 0)
			r = it_error_set(err, -ENAMETOOLONG, "cannot read '%s/%s': path too long",
					 host, names.v[i]);
		else
			r = overlay_entry(t, dfd, names.v[i], h, p, err);
	}
	strlist_clear(&names);
	return r;
}

static int overlay_entry(struct tree *t, int dfd, const char *name, const char *host,
			 const char *in_tree, struct it_error *err)
{
	struct stat st;
	int fd = -1, r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return it_error_set(err, -errno, "cannot read '%s': %s", host, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		const struct tree_node *n = tree_lookup(t, in_tree, true);

		if (!n || !tree_is_dir(n))
			r = tree_add_dir(t, in_tree, st.st_mode & 07777, 0, 0, err);
		if (r < 0)
			return r;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return it_error_set(err, -errno, "cannot read '%s': %s", host,
					    strerror(errno));
		r = overlay_dir(t, fd, host, in_tree, err);
	} else if (S_ISREG(st.st_mode)) {
		struct tree_entry e = {
		    .path = in_tree,
		    .mode = S_IFREG | (st.st_mode & 07777),
		    .mtime = TREE_MTIME_UNSET,
		    .flags = TREE_TAKE_CONTENT,
		};
		void *data = NULL;

		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return it_error_set(err, -errno, "cannot read '%s': %s", host,
					    strerror(errno));
		r = read_fd(fd, &data, &e.size);
		if (r < 0) {
			close(fd);
			return it_error_set(err, r, "cannot read '%s': %s", host, strerror(-r));
		}
		e.content = data;
		r = tree_add(t, &e, NULL, err);
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return it_error_set(err, -errno, "cannot read '%s': %s", host,
					    strerror(errno));
		target[n] = '\0';
		r = tree_add_symlink(t, in_tree, target, err);
	} else {
		r = it_error_set(err, -IT_EFORMAT,
				 "cannot copy '%s' from the overlay: only files, directories and "
				 "symlinks can be",
				 host);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

int rootfs_add_overlay(struct tree *t, const char *host_dir, struct it_error *err)
{
	int fd = open(host_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return it_error_set(err, -errno, "cannot read overlay '%s': %s", host_dir,
				    strerror(errno));
	r = overlay_dir(t, fd, host_dir, "/", err);
	close(fd);
	return r;
}

/* ---- busybox and other install scripts ---- */

int rootfs_busybox_links(struct tree *t, const char *name, size_t *created, struct it_error *err)
{
	char list[PATH_MAX], bin[PATH_MAX];
	struct buf b = BUF_INIT;
	struct blob rest, line;
	bool exists;
	size_t made = 0;
	int r;

	snprintf(list, sizeof(list), "/etc/busybox-paths.d/%s", name);
	snprintf(bin, sizeof(bin), "/bin/%s", name);
	r = text_get(t, list, &b, &exists, err);
	if (r < 0)
		goto out;
	if (!exists || !tree_lookup(t, bin, true)) {
		r = it_error_set(err, -IT_ENOTFOUND,
				 "cannot make the %s applet links: no '%s' in the tree", name,
				 exists ? bin : list);
		goto out;
	}
	rest = buf_blob(&b);
	while (r == 0 && next_line(&rest, &line)) {
		char *path;

		if (!line.len || line.ptr[0] == '#')
			continue;
		path = blob_dup(line);
		if (!path) {
			r = it_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		/* busybox --install -s: symlink() fails with EEXIST on what is there. */
		if (!tree_lookup(t, path, false)) {
			r = tree_add_symlink(t, path, bin, err);
			made += r == 0;
		}
		free(path);
	}
out:
	if (created)
		*created = made;
	buf_release(&b);
	return r;
}

/* bbsuid --install (busybox-suid 1.36.1-r15): these links go to /bin/bbsuid, replacing symlinks. */
static const char *const bbsuid_applets[] = {
    "/bin/mount",	    "/bin/umount",     "/bin/su",
    "/usr/bin/crontab",	    "/usr/bin/passwd", "/usr/bin/traceroute",
    "/usr/bin/traceroute6", "/usr/bin/vlock",
};

static int bbsuid_links(struct tree *t, struct it_error *err)
{
	if (!tree_lookup(t, "/bin/bbsuid", true))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(bbsuid_applets); i++) {
		const struct tree_node *n = tree_lookup(t, bbsuid_applets[i], false);
		int r;

		if (n && !tree_is_symlink(n))
			continue;
		r = tree_add_symlink(t, bbsuid_applets[i], "/bin/bbsuid", err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Script handlers return 0 when done, 1 when the script does something they cannot. */
static int baselayout_pre_install(struct tree *t, struct it_error *err)
{
	struct table gr = {0};
	int r = table_load(t, &gr, "/etc/group", err);

	/* addgroup -S -g 42 shadow 2>/dev/null: fails quietly when the name or gid is taken. */
	if (r == 0 && gr.exists && table_find(&gr, "shadow") < 0 &&
	    !table_uses_id(&gr, SHADOW_GID)) {
		r = strlist_addf(&gr.lines, "shadow:x:%u:", SHADOW_GID);
		r = r < 0 ? it_error_set(err, r, "out of memory") : table_save(t, &gr, 0644, err);
	}
	strlist_clear(&gr.lines);
	return r;
}

static int baselayout_post_install(struct tree *t, struct it_error *err)
{
	struct table gr = {0};
	int r = table_load(t, &gr, "/etc/group", err);

	/* The vserver rcL/rcK and color_prompt parts do not apply to a new tree. */
	if (r == 0)
		r = shadow_perms(t, &gr);
	strlist_clear(&gr.lines);
	return r;
}

static int busybox_post_install(struct tree *t, struct it_error *err)
{
	return rootfs_busybox_links(t, "busybox", NULL, err);
}

/*
 * bbsuid --install, busybox-extras --install -s, busybox --install -s.
 * Its depmod part (for /lib/modules) is done by kmod.c, which writes modules.dep.
 */
static int busybox_trigger(struct tree *t, struct it_error *err)
{
	int r = bbsuid_links(t, err);

	if (r == 0 && tree_lookup(t, "/bin/busybox-extras", true))
		r = rootfs_busybox_links(t, "busybox-extras", NULL, err);
	if (r == 0)
		r = rootfs_busybox_links(t, "busybox", NULL, err);
	return r;
}

static int openrc_post_install(struct tree *t, struct it_error *err)
{
	(void)err;
	/* It only migrates /etc/rcS.d and /etc/rcL.d links of old installs. */
	if (tree_lookup(t, "/etc/rcS.d", true) || tree_lookup(t, "/etc/rcL.d", true))
		return 1;
	return 0;
}

static const struct script_handler {
	const char *pkgname;
	const char *action;
	int (*fn)(struct tree *t, struct it_error *err);
} script_handlers[] = {
    {"alpine-baselayout", "pre-install", baselayout_pre_install},
    {"alpine-baselayout", "post-install", baselayout_post_install},
    {"busybox", "post-install", busybox_post_install},
    {"busybox", "trigger", busybox_trigger},
    {"openrc", "post-install", openrc_post_install},
};

static const char *const install_actions[] = {"pre-install", "post-install", "trigger"};

static int run_script(struct tree *t, const struct rootfs_script *s, struct strlist *skipped,
		      struct it_error *err)
{
	int r = 1;

	for (size_t i = 0; i < ARRAY_SIZE(script_handlers) && r == 1; i++)
		if (!strcmp(s->pkgname, script_handlers[i].pkgname) &&
		    !strcmp(s->action, script_handlers[i].action))
			r = script_handlers[i].fn(t, err);
	if (r == 1) {
		r = strlist_addf(skipped, "%s-%s.%s", s->pkgname, s->version ? s->version : "",
				 s->action);
		if (r < 0)
			r = it_error_set(err, r, "out of memory");
	}
	return r;
}

int rootfs_run_scripts(struct tree *t, const struct rootfs_script *s, size_t n,
		       struct strlist *skipped, struct it_error *err)
{
	/* Pass 0: pre- and post-install scripts in order; pass 1: triggers. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			bool trigger = !strcmp(s[i].action, "trigger"), install = false;
			int r;

			for (size_t k = 0; k < ARRAY_SIZE(install_actions); k++)
				install |= !strcmp(s[i].action, install_actions[k]);
			if (!install || trigger != (pass == 1))
				continue;
			r = run_script(t, &s[i], skipped, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int apply_init(struct tree *t, const char *init, struct it_error *err)
{
	struct stat st;

	if (!init || (init[0] == '/' && tree_lookup(t, init, true)))
		return rootfs_init_symlink(t, init, err);
	if (stat(init, &st) == 0 && S_ISREG(st.st_mode))
		return rootfs_init_copy(t, init, err);
	return it_error_set(err, -IT_ENOTFOUND, "init '%s' is neither in the tree nor a file here",
			    init);
}

int rootfs_apply(struct tree *t, const struct build_config *cfg,
		 const struct rootfs_script *scripts, size_t nscripts, struct strlist *skipped,
		 struct it_error *err)
{
	int r = rootfs_run_scripts(t, scripts, nscripts, skipped, err);

	/* Before the overlays, so that a scenario's own agent (a test's) replaces ours. */
	if (r == 0 && cfg->agent_binary)
		r = rootfs_add_agent_binary(t, cfg->agent_binary, err);
	for (size_t i = 0; r == 0 && i < cfg->overlays.n; i++)
		r = rootfs_add_overlay(t, cfg->overlays.v[i], err);
	/* After them, so that an overlay's inittab starts it too. */
	if (r == 0 && cfg->agent_binary)
		r = rootfs_start_agent(t, err);
	if (r == 0 && cfg->hostname)
		r = rootfs_set_hostname(t, cfg->hostname, err);
	if (r == 0 && cfg->nifaces)
		r = rootfs_write_interfaces(t, cfg->ifaces, cfg->nifaces, err);
	if (r == 0 && cfg->consoles.n)
		r = rootfs_add_consoles(t, &cfg->consoles, err);
	if (r == 0 && cfg->nservices)
		r = rootfs_enable_services(t, cfg->services, cfg->nservices, err);
	if (r == 0 && cfg->nusers)
		r = rootfs_add_users(t, cfg->users, cfg->nusers, err);
	if (r == 0 && cfg->root_password_hash)
		r = rootfs_set_root_password(t, cfg->root_password_hash, err);
	if (r == 0)
		r = apply_init(t, cfg->init, err);
	return r;
}

/* ---- export to a host directory ---- */

enum export_pass { PASS_CREATE, PASS_HARDLINKS, PASS_MODES };

struct export
{
	int rootfd;
	const char *dir;
	bool root;
	uid_t euid;
	gid_t egid;
	enum export_pass pass;
	struct rootfs_export_stats st;
	struct it_error *err;
};

static int export_fail(struct export *x, const char *path, int code)
{
	return it_error_set(x->err, code, "cannot write '%s/%s': %s", x->dir, path,
			    code < -IT_EBASE ? it_strerror(code) : strerror(-code));
}

/* Owner and mode of a created entry; without root only the mode. */
static int export_meta(struct export *x, int dfd, const char *name, const struct tree_node *n)
{
	if (x->root) {
		if (fchownat(dfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	} else if (n->uid != x->euid || n->gid != x->egid) {
		x->st.skipped_owners++;
	}
	if (!S_ISLNK(n->mode) && fchmodat(dfd, name, n->mode & 07777, 0) < 0)
		return -errno;
	return 0;
}

/* Open the directory holding 'path' (canonical, relative) below rootfd, without following links. */
static int open_parent(int rootfd, const char *path, const char **leaf)
{
	char buf[PATH_MAX];
	char *p = buf, *slash;
	int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	snprintf(buf, sizeof(buf), "%s", path);
	while (fd >= 0 && (slash = strchr(p, '/')) != NULL) {
		int next;

		*slash = '\0';
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
		p = slash + 1;
	}
	*leaf = path + (p - buf);
	return fd < 0 ? -errno : fd;
}

static int export_node(struct export *x, int dfd, const struct tree_node *n, const char *path)
{
	int fd = -1, r = 0;

	switch (n->mode & S_IFMT) {
	case S_IFREG:
		if (n->hardlink) {
			const char *leaf;
			int pfd;

			if (x->pass != PASS_HARDLINKS)
				return 0;
			pfd = open_parent(x->rootfd, n->target, &leaf);
			if (pfd < 0)
				return export_fail(x, path, pfd);
			if (linkat(pfd, leaf, dfd, n->name, 0) < 0)
				r = -errno;
			close(pfd);
			x->st.hardlinks += r == 0;
			return r < 0 ? export_fail(x, path, r) : 0;
		}
		if (x->pass != PASS_CREATE)
			return 0;
		fd = openat(dfd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0)
			return export_fail(x, path, -errno);
		r = fd_write_all(fd, n->data, n->size);
		close(fd);
		x->st.files++;
		break;
	case S_IFLNK:
		if (x->pass != PASS_CREATE)
			return 0;
		if (symlinkat(n->target, dfd, n->name) < 0)
			return export_fail(x, path, -errno);
		x->st.symlinks++;
		break;
	case S_IFIFO:
		if (x->pass != PASS_CREATE)
			return 0;
		if (mkfifoat(dfd, n->name, 0600) < 0)
			return export_fail(x, path, -errno);
		x->st.specials++;
		break;
	default:
		if (x->pass != PASS_CREATE)
			return 0;
		if (!x->root || S_ISSOCK(n->mode)) {
			x->st.skipped_nodes++;
			return 0;
		}
		if (mknodat(dfd, n->name, n->mode, makedev(n->devmajor, n->devminor)) < 0)
			return export_fail(x, path, -errno);
		x->st.specials++;
		break;
	}
	if (r == 0)
		r = export_meta(x, dfd, n->name, n);
	return r < 0 ? export_fail(x, path, r) : 0;
}

static int export_dir(struct export *x, int dfd, const struct tree_node *dir, char *path,
		      size_t len)
{
	for (size_t i = 0; i < dir->nkids; i++) {
		const struct tree_node *n = dir->kids[i];
		size_t nl = strlen(n->name);
		int fd, r;

		if (len + nl + 2 > PATH_MAX)
			return export_fail(x, path, -ENAMETOOLONG);
		snprintf(path + len, PATH_MAX - len, "%s%s", len ? "/" : "", n->name);
		if (!S_ISDIR(n->mode)) {
			r = export_node(x, dfd, n, path);
			if (r < 0)
				return r;
			path[len] = '\0';
			continue;
		}
		if (x->pass == PASS_CREATE) {
			if (mkdirat(dfd, n->name, 0700) < 0)
				return export_fail(x, path, -errno);
			x->st.dirs++;
		}
		fd = openat(dfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return export_fail(x, path, -errno);
		r = export_dir(x, fd, n, path, len + (len ? 1 : 0) + nl);
		close(fd);
		if (r < 0)
			return r;
		/* Modes last, so a read-only directory is still filled. */
		snprintf(path + len, PATH_MAX - len, "%s%s", len ? "/" : "", n->name);
		if (x->pass == PASS_MODES && (r = export_meta(x, dfd, n->name, n)) < 0)
			return export_fail(x, path, r);
		path[len] = '\0';
	}
	return 0;
}

int rootfs_export(const struct tree *t, const char *dir, struct rootfs_export_stats *st,
		  struct it_error *err)
{
	struct export x = {.rootfd = -1, .dir = dir, .err = err};
	struct strlist names = STRLIST_INIT;
	char path[PATH_MAX] = "";
	int r;

	r = mkdir_p(dir, 0755);
	if (r < 0)
		return it_error_set(err, r, "cannot make '%s': %s", dir, strerror(-r));
	x.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.rootfd < 0)
		return it_error_set(err, -errno, "cannot open '%s': %s", dir, strerror(errno));
	r = list_dir(x.rootfd, &names);
	if (r < 0 || names.n) {
		r = it_error_set(err, r < 0 ? r : -ENOTEMPTY, "cannot write the tree to '%s': %s",
				 dir, r < 0 ? strerror(-r) : "directory not empty");
		it_error_hint(err, "name a new or empty directory");
		goto out;
	}
	x.euid = geteuid();
	x.egid = getegid();
	x.root = x.euid == 0;
	for (int pass = PASS_CREATE; r == 0 && pass <= PASS_MODES; pass++) {
		x.pass = (enum export_pass)pass;
		r = export_dir(&x, x.rootfd, &t->root, path, 0);
	}
	if (r == 0 && (x.st.skipped_nodes || x.st.skipped_owners))
		log_warn("'%s' written without root: %llu device nodes or sockets left out, "
			 "%llu owners not set",
			 dir, x.st.skipped_nodes, x.st.skipped_owners);
	if (st)
		*st = x.st;
out:
	strlist_clear(&names);
	close(x.rootfd);
	return r;
}
