// SPDX-License-Identifier: MIT
/* The console hub from outside: its directory, the running VMs it lists, the client's frames. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "runner/internal.h"

#define INFO_SUFFIX ".info"
#define SOCK_SUFFIX ".sock"
#define INFO_READ_MAX (64 * 1024)

int vm_hub_dir(char *out, size_t outsz)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg && *xdg)
		n = snprintf(out, outsz, "%s/%s", xdg, VM_HUB_DIR_NAME);
	else
		n = snprintf(out, outsz, "/tmp/%s-%u", VM_HUB_DIR_NAME, (unsigned)getuid());
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

/* ---- frames ---- */

int vm_hub_frame_add(struct buf *out, int type, const void *payload, size_t len)
{
	unsigned char hdr[VM_HUB_FRAME_HDR];
	int r;

	if (len > VM_HUB_FRAME_MAX)
		return -EINVAL;
	r = buf_grow(out, sizeof(hdr) + len);
	if (r < 0)
		return r;
	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 8);
	hdr[2] = (unsigned char)(len & 0xff);
	buf_add(out, hdr, sizeof(hdr));
	return buf_add(out, payload, len);
}

size_t vm_hub_frame_parse(const struct buf *in, int *type, struct blob *payload)
{
	const unsigned char *p = (const unsigned char *)in->data;
	size_t len;

	if (in->len < VM_HUB_FRAME_HDR)
		return 0;
	len = ((size_t)p[1] << 8) | p[2];
	if (in->len < VM_HUB_FRAME_HDR + len)
		return 0;
	*type = p[0];
	*payload = blob_mem(in->data + VM_HUB_FRAME_HDR, len);
	return VM_HUB_FRAME_HDR + len;
}

int vm_hub_send(int fd, int type, const void *payload, size_t len)
{
	struct buf b;
	size_t done = 0;
	ssize_t n;
	int r;

	buf_init(&b, VM_HUB_FRAME_HDR + VM_HUB_FRAME_MAX);
	r = vm_hub_frame_add(&b, type, payload, len);
	while (r == 0 && done < b.len) {
		n = send(fd, b.data + done, b.len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			r = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	buf_release(&b);
	return r;
}

/* ---- the list of running VMs ---- */

static void entry_release(struct vm_hub_entry *e)
{
	free(e->name);
	free(e->scenario);
	free(e->socket);
	free(e->qmp);
	free(e->step);
	memset(e, 0, sizeof(*e));
}

void vm_hub_list_release(struct vm_hub_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		entry_release(&list->v[i]);
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

static bool parse_pid(struct blob b, pid_t *out)
{
	unsigned long long v;

	if (!blob_to_u64(b, &v) || v == 0 || v > INT_MAX)
		return false;
	*out = (pid_t)v;
	return true;
}

static int set_field(char **field, struct blob value)
{
	free(*field);
	*field = blob_dup(value);
	return *field ? 0 : -ENOMEM;
}

/* The text field a key of NAME.info sets, or NULL. */
static char **text_field(struct vm_hub_entry *e, struct blob key)
{
	if (blob_eq_str(key, "name"))
		return &e->name;
	if (blob_eq_str(key, "scenario"))
		return &e->scenario;
	if (blob_eq_str(key, "qmp"))
		return &e->qmp;
	if (blob_eq_str(key, "step"))
		return &e->step;
	return NULL;
}

/* The process id a key of NAME.info sets, or NULL. */
static pid_t *pid_field(struct vm_hub_entry *e, struct blob key)
{
	if (blob_eq_str(key, "pid"))
		return &e->pid;
	if (blob_eq_str(key, "qemu_pid"))
		return &e->qemu_pid;
	return NULL;
}

/* Parse NAME.info. -IT_EFORMAT when a required key (name, pid) is missing or bad. */
static int parse_info(struct blob text, struct vm_hub_entry *e)
{
	struct blob line, rest = text, key, value;
	unsigned long long v;
	char **field;
	pid_t *pid;
	int r = 0;

	while (r == 0 && rest.len) {
		if (!blob_split(rest, '\n', &line, &rest)) {
			line = rest;
			rest = BLOB_NULL;
		}
		if (!blob_split(line, '=', &key, &value))
			continue;
		field = text_field(e, key);
		pid = pid_field(e, key);
		if (field)
			r = set_field(field, value);
		else if (pid)
			r = parse_pid(value, pid) ? 0 : -IT_EFORMAT;
		else if (blob_eq_str(key, "started") && blob_to_u64(value, &v))
			e->started = (int64_t)v;
	}
	if (r == 0 && (!e->name || e->pid <= 0))
		r = -IT_EFORMAT;
	if (r == 0 && !e->scenario)
		r = set_field(&e->scenario, BLOB_NULL);
	if (r == 0 && !e->qmp)
		r = set_field(&e->qmp, BLOB_NULL);
	if (r == 0 && !e->step)
		r = set_field(&e->step, BLOB_NULL);
	return r;
}

static bool process_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Gone, or a zombie that its parent has not reaped yet. */
static bool process_ended(pid_t pid)
{
	char path[64], stat[512], *paren;
	struct buf b;
	bool ended;

	if (process_gone(pid))
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	buf_init(&b, 4096);
	if (buf_read_file(&b, path) < 0) {
		buf_release(&b);
		return process_gone(pid);
	}
	snprintf(stat, sizeof(stat), "%s", b.data);
	buf_release(&b);
	/* "pid (comm) S ...": the state follows the last ')'. */
	paren = strrchr(stat, ')');
	ended = paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
	return ended;
}

/* Remove NAME.info and NAME.sock of a VM whose initrd-test process has died. */
static void remove_stale(const char *dir, const char *base)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s%s", dir, base, INFO_SUFFIX) < (int)sizeof(path))
		unlink(path);
	if (snprintf(path, sizeof(path), "%s/%s%s", dir, base, SOCK_SUFFIX) < (int)sizeof(path))
		unlink(path);
}

/*
 * Read one NAME.info into e: 1 when it describes a running VM, 0 when it
 * is to be skipped (malformed, or stale and now removed), -ENOMEM.
 */
static int read_entry(const char *dir, const char *file, struct vm_hub_entry *e)
{
	char path[PATH_MAX], base[NAME_MAX + 1];
	size_t baselen = strlen(file) - strlen(INFO_SUFFIX);
	struct buf text;
	int r;

	if (baselen == 0 || baselen >= sizeof(base) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return 0;
	memcpy(base, file, baselen);
	base[baselen] = '\0';
	buf_init(&text, INFO_READ_MAX);
	r = buf_read_file(&text, path);
	if (r == 0)
		r = parse_info(buf_blob(&text), e);
	buf_release(&text);
	if (r == -ENOMEM)
		return r;
	/* The file's name is the truth: a renamed or edited file is not followed elsewhere. */
	if (r < 0 || strcmp(e->name, base) != 0)
		return 0;
	if (process_gone(e->pid)) {
		remove_stale(dir, base);
		return 0;
	}
	if (snprintf(path, sizeof(path), "%s/%s%s", dir, base, SOCK_SUFFIX) >= (int)sizeof(path))
		return 0;
	e->socket = strdup(path);
	return e->socket ? 1 : -ENOMEM;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct vm_hub_entry *x = a, *y = b;

	if (x->started != y->started)
		return x->started < y->started ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool is_info_file(const char *name)
{
	size_t n = strlen(name), s = strlen(INFO_SUFFIX);

	return name[0] != '.' && n > s && !strcmp(name + n - s, INFO_SUFFIX);
}

int vm_hub_list(struct vm_hub_list *list, struct it_error *err)
{
	struct vm_hub_entry e;
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d = NULL;
	int r = 0;

	if (vm_hub_dir(dir, sizeof(dir)) < 0)
		return it_error_set(
		    err, -ENAMETOOLONG,
		    "cannot read the console directory: XDG_RUNTIME_DIR is too long");
	d = opendir(dir);
	if (!d && errno == ENOENT)
		return 0;
	if (!d)
		return it_error_set(err, -errno, "cannot read the console directory '%s': %s", dir,
				    strerror(errno));
	memset(&e, 0, sizeof(e));
	while ((de = readdir(d)) != NULL) {
		struct vm_hub_entry *v;

		if (!is_info_file(de->d_name))
			continue;
		r = read_entry(dir, de->d_name, &e);
		if (r <= 0) {
			entry_release(&e);
			if (r < 0)
				break;
			continue;
		}
		v = realloc(list->v, (list->n + 1) * sizeof(*v));
		if (!v) {
			entry_release(&e);
			r = -ENOMEM;
			break;
		}
		list->v = v;
		list->v[list->n++] = e;
		memset(&e, 0, sizeof(e));
		r = 0;
	}
	closedir(d);
	if (r < 0) {
		vm_hub_list_release(list);
		return it_error_set(err, r, "cannot read the console directory '%s': %s", dir,
				    it_strerror(r));
	}
	if (list->n > 1)
		qsort(list->v, list->n, sizeof(*list->v), entry_cmp);
	return 0;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

static int not_found(const char *what, struct it_error *err)
{
	it_error_set(err, -IT_ENOTFOUND, "no running VM '%s'", what);
	it_error_hint(err, "'initrd-test ps' lists the running VMs");
	return -IT_ENOTFOUND;
}

int vm_hub_find(const struct vm_hub_list *list, const char *what, const struct vm_hub_entry **out,
		struct it_error *err)
{
	const struct vm_hub_entry *found = NULL;
	size_t len = strlen(what), matches = 0;
	struct buf names;
	long pid;

	*out = NULL;
	for (size_t i = 0; i < list->n; i++) {
		if (!strcmp(list->v[i].name, what)) {
			*out = &list->v[i];
			return 0;
		}
	}
	/* A name always ends in "-xxxx": nothing but digits is a pid. */
	if (all_digits(what)) {
		if (!parse_long(what, 1, INT_MAX, &pid))
			return not_found(what, err);
		for (size_t i = 0; i < list->n; i++) {
			if (list->v[i].pid == (pid_t)pid || list->v[i].qemu_pid == (pid_t)pid) {
				*out = &list->v[i];
				return 0;
			}
		}
		return not_found(what, err);
	}
	for (size_t i = 0; len && i < list->n; i++) {
		if (strncmp(list->v[i].name, what, len) != 0)
			continue;
		found = &list->v[i];
		matches++;
	}
	if (matches == 1) {
		*out = found;
		return 0;
	}
	if (matches == 0)
		return not_found(what, err);
	buf_init(&names, 512);
	for (size_t i = 0; i < list->n; i++) {
		if (!strncmp(list->v[i].name, what, len))
			buf_addf(&names, "%s%s", names.len ? ", " : "", list->v[i].name);
	}
	it_error_set(err, -IT_EUSAGE, "'%s' matches several VMs: %s", what, names.data);
	it_error_hint(err, "give the whole name");
	buf_release(&names);
	return -IT_EUSAGE;
}

/* ---- the client ---- */

int vm_hub_connect(const struct vm_hub_entry *e, int *fd, struct it_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s, r;

	*fd = -1;
	if (strlen(e->socket) >= sizeof(sa.sun_path))
		return it_error_set(err, -ENAMETOOLONG, "cannot connect to '%s': '%s' is too long",
				    e->name, e->socket);
	memcpy(sa.sun_path, e->socket, strlen(e->socket) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return it_error_set(err, -errno, "cannot connect to '%s': %s", e->name,
				    strerror(errno));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(s);
		it_error_set(err, r, "cannot connect to '%s': %s", e->name, strerror(-r));
		it_error_hint(err,
			      "its harness (pid %ld) may be ending; 'initrd-test ps' lists the "
			      "running VMs",
			      (long)e->pid);
		return r;
	}
	*fd = s;
	return 0;
}

/* Read frames until the hub closes the connection; the last BYE's reason goes to bye. */
static int read_until_closed(int fd, int64_t deadline, char *bye, size_t byesz)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char chunk[4096];
	struct blob payload;
	struct buf in;
	size_t size;
	ssize_t n;
	int type, r = 0;

	buf_init(&in, 2 * (VM_HUB_FRAME_HDR + VM_HUB_FRAME_MAX));
	for (;;) {
		if (now_ms() >= deadline) {
			r = -IT_ETIMEOUT;
			break;
		}
		n = poll(&p, 1, ms_until(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -IT_ETIMEOUT;
			break;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		/* A reset after the BYE is as good as the end of file. */
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0) {
			r = -errno;
			break;
		}
		r = buf_add(&in, chunk, (size_t)n);
		if (r < 0)
			break;
		for (;;) {
			size = vm_hub_frame_parse(&in, &type, &payload);
			if (size == 0)
				break;
			if (type == VM_HUB_BYE)
				snprintf(bye, byesz, "%.*s", (int)payload.len, payload.ptr);
			buf_consume(&in, size);
		}
	}
	buf_release(&in);
	return r;
}

int vm_hub_poweroff(const struct vm_hub_entry *e, int timeout_ms, struct it_error *err)
{
	char bye[256] = "";
	int fd = -1, r;

	r = vm_hub_connect(e, &fd, err);
	if (r < 0)
		return r;
	r = vm_hub_send(fd, VM_HUB_POWEROFF, NULL, 0);
	if (r < 0) {
		it_error_set(err, r, "cannot ask '%s' to power off: %s", e->name, it_strerror(r));
		goto out;
	}
	r = read_until_closed(fd, now_ms() + timeout_ms, bye, sizeof(bye));
	if (r == -IT_ETIMEOUT) {
		it_error_set(err, r, "'%s' did not stop within %d s", e->name,
			     (timeout_ms + 999) / 1000);
		it_error_hint(err, "its harness (pid %ld) may be busy or hung; 'kill %ld' ends it",
			      (long)e->pid, (long)e->pid);
		goto out;
	}
	if (r < 0) {
		it_error_set(err, r, "lost the connection to '%s': %s", e->name, it_strerror(r));
		goto out;
	}
	/* Closed without a BYE: fine if the harness itself is gone (the VM dies with it). */
	if ((!bye[0] && !process_ended(e->pid)) || !strcmp(bye, "too many clients") ||
	    !strcmp(bye, "detached")) {
		r = it_error_set(err, -IT_EVM, "'%s' closed the connection%s%s", e->name,
				 bye[0] ? ": " : " without stopping", bye);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	return r;
}
