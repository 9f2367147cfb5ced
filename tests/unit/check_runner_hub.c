// SPDX-License-Identifier: MIT
/* Unit tests for the console hub: frames, the VM list, and real clients on real qemu VMs (TCG). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "runner/internal.h"
#include "runner/runner.h"
#include "tests/unit/termutil.h"
#include "tests/unit/testutil.h"
#include "hostkernel.h"

#define KERNEL HOST_KERNEL
#define INITRD HOST_INITRD
#define SHELL_APPEND "rdinit=/bin/sh"
#define LOG_MAX (8 * 1024 * 1024)
#define TICK_MS 50
#define SHELL_LIMIT_MS (240 * 1000)
/* Big enough to overflow a stalled client's socket buffer and its queue in the hub. */
#define BIG_OUTPUT 1000000
#define SKIPS_MAX 8
static const char skip_text[] = " bytes of console output skipped: this terminal was too slow";

/* ---- helpers ---- */

static void hub_path(char *out, size_t outsz, const char *name, const char *suffix)
{
	snprintf(out, outsz, "%s/%s/%s%s", tu_runtime, VM_HUB_DIR_NAME, name, suffix);
}

static void write_text(const char *path, const char *text)
{
	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0600), 0);
}

static void config_for(struct vm_config *c, bool paused)
{
	vm_config_init(c);
	c->accel = VM_ACCEL_TCG;
	c->kernel = strdup(KERNEL);
	c->initrd = strdup(INITRD);
	c->append = strdup(SHELL_APPEND);
	c->nic_model = strdup("none");
	if (paused)
		strlist_add(&c->extra_args, "-S");
}

/* A test client: non-blocking, everything it receives sorted by frame type. */
struct tclient {
	int fd;
	struct buf in;
	struct buf out; /* OUTPUT payloads, concatenated */
	char hello[1024];
	char status[300];
	char notice[512]; /* all notices, one per line */
	char bye[256];
	bool eof;
	int frames;
	/* Skip notices: how many bytes each says were skipped, and out.len when it came. */
	unsigned long long skip_n[SKIPS_MAX];
	size_t skip_at[SKIPS_MAX];
	int skips;
};

/* A skip notice ("N bytes of console output skipped: ..."): record where it came. */
static void tc_skip(struct tclient *c, struct blob p)
{
	size_t tl = strlen(skip_text);
	char num[32], *end = NULL;

	if (p.len <= tl || memcmp(p.ptr + p.len - tl, skip_text, tl) != 0)
		return;
	ck_assert_uint_lt(p.len - tl, sizeof(num));
	snprintf(num, sizeof(num), "%.*s", (int)(p.len - tl), p.ptr);
	ck_assert_int_lt(c->skips, SKIPS_MAX);
	c->skip_n[c->skips] = strtoull(num, &end, 10);
	ck_assert_msg(num[0] >= '1' && num[0] <= '9' && *end == '\0', "skip notice '%.*s'",
		      (int)p.len, p.ptr);
	c->skip_at[c->skips++] = c->out.len;
}

static void tc_connect(struct tclient *c, const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof(*c));
	buf_init(&c->in, 4 * 65536);
	buf_init(&c->out, LOG_MAX);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s",
		      sock, strerror(errno));
}

static void tc_frame(struct tclient *c, int type, struct blob p)
{
	c->frames++;
	switch (type) {
	case VM_HUB_OUTPUT:
		ck_assert_int_eq(buf_add(&c->out, p.ptr, p.len), 0);
		break;
	case VM_HUB_HELLO:
		snprintf(c->hello, sizeof(c->hello), "%.*s", (int)p.len, p.ptr);
		break;
	case VM_HUB_STATUS:
		snprintf(c->status, sizeof(c->status), "%.*s", (int)p.len, p.ptr);
		break;
	case VM_HUB_NOTICE: {
		size_t n = strlen(c->notice);

		snprintf(c->notice + n, sizeof(c->notice) - n, "%.*s\n", (int)p.len, p.ptr);
		tc_skip(c, p);
		break;
	}
	case VM_HUB_BYE:
		snprintf(c->bye, sizeof(c->bye), "%.*s", (int)p.len, p.ptr);
		break;
	default:
		ck_abort_msg("unknown frame type %d", type);
	}
}

/* Bytes from the hub: every whole frame is sorted. */
static void tc_feed(struct tclient *c, const char *data, size_t len)
{
	struct blob p;
	size_t size;
	int type;

	ck_assert_int_eq(buf_add(&c->in, data, len), 0);
	for (;;) {
		size = vm_hub_frame_parse(&c->in, &type, &p);
		if (size == 0)
			break;
		tc_frame(c, type, p);
		buf_consume(&c->in, size);
	}
}

/* Read what is there now (wait_ms > 0: until the end of file, at most that long). */
static void tc_pump(struct tclient *c, int wait_ms)
{
	int64_t deadline = now_ms() + wait_ms;
	char chunk[16384];
	ssize_t n;

	while (c->fd >= 0 && !c->eof) {
		n = read(c->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = c->fd, .events = POLLIN};

			if (wait_ms <= 0 || now_ms() >= deadline)
				return;
			poll(&pf, 1, ms_until(deadline));
			continue;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			c->eof = true;
			break;
		}
		ck_assert_msg(n > 0, "read: %s", strerror(errno));
		tc_feed(c, chunk, (size_t)n);
	}
}

/*
 * A thread that reads a client's socket to its end (or for 20 s) while the
 * test's thread is busy, for example in vm_free(). No Check calls here: the
 * test sorts the bytes (tc_feed) once it has joined.
 */
struct drainer {
	pthread_t thread;
	int fd;
	struct buf raw;
	bool eof;
};

static void *drain_main(void *arg)
{
	struct drainer *d = arg;
	int64_t deadline = now_ms() + 20000;
	char chunk[16384];
	ssize_t n;

	while (now_ms() < deadline) {
		struct pollfd pf = {.fd = d->fd, .events = POLLIN};

		n = read(d->fd, chunk, sizeof(chunk));
		if (n > 0 && buf_add(&d->raw, chunk, (size_t)n) < 0)
			break;
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			d->eof = true;
			break;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (n < 0)
			poll(&pf, 1, 100);
	}
	return NULL;
}

static void drain_start(struct drainer *d, int fd)
{
	d->fd = fd;
	d->eof = false;
	buf_init(&d->raw, LOG_MAX);
	ck_assert_int_eq(pthread_create(&d->thread, NULL, drain_main, d), 0);
}

/* Join it and hand what it read to c. */
static void drain_finish(struct drainer *d, struct tclient *c)
{
	ck_assert_int_eq(pthread_join(d->thread, NULL), 0);
	tc_feed(c, d->raw.data, d->raw.len);
	c->eof = d->eof;
	buf_release(&d->raw);
}

static void tc_send(struct tclient *c, int type, const char *s, size_t len)
{
	ck_assert_int_eq(vm_hub_send(c->fd, type, s, len), 0);
}

static void tc_type(struct tclient *c, const char *s)
{
	tc_send(c, VM_HUB_INPUT, s, strlen(s));
}

static void tc_close(struct tclient *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_release(&c->in);
	buf_release(&c->out);
}

static bool has(const struct buf *b, const char *needle)
{
	return b->len && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

static const char *tail_of(const struct buf *b)
{
	return b->len > 1500 ? b->data + b->len - 1500 : b->data;
}

/* qemu makes its QMP socket a moment after it starts. */
static void wait_qmp(const struct vm *vm)
{
	char sock[PATH_MAX];
	int64_t until = now_ms() + 20000;

	snprintf(sock, sizeof(sock), "%s/qmp.sock", vm_info(vm)->runtime_dir);
	while (access(sock, F_OK) < 0 && now_ms() < until)
		usleep(20 * 1000);
	ck_assert_int_eq(access(sock, F_OK), 0);
}

static void assert_no_children(void)
{
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

/* ---- frames, cursor reports, the directory ---- */

START_TEST(test_frames)
{
	struct buf b;
	struct blob p;
	int type = 0;
	static char big[VM_HUB_FRAME_MAX + 1];

	buf_init(&b, 0);
	ck_assert_int_eq(vm_hub_frame_add(&b, VM_HUB_OUTPUT, "abc", 3), 0);
	ck_assert_int_eq(vm_hub_frame_add(&b, VM_HUB_DETACH, NULL, 0), 0);
	ck_assert_uint_eq(b.len, 9);
	ck_assert_int_eq(memcmp(b.data, "o\0\3abcd\0\0", 9), 0);
	ck_assert_uint_eq(vm_hub_frame_parse(&b, &type, &p), 6);
	ck_assert_int_eq(type, VM_HUB_OUTPUT);
	ck_assert(blob_eq_str(p, "abc"));
	buf_consume(&b, 6);
	ck_assert_uint_eq(vm_hub_frame_parse(&b, &type, &p), 3);
	ck_assert_int_eq(type, VM_HUB_DETACH);
	ck_assert_uint_eq(p.len, 0);
	buf_reset(&b);

	/* The largest payload; a length is two bytes, big endian. */
	ck_assert_int_eq(vm_hub_frame_add(&b, VM_HUB_INPUT, big, VM_HUB_FRAME_MAX), 0);
	ck_assert_int_eq((unsigned char)b.data[1], 0xff);
	ck_assert_int_eq((unsigned char)b.data[2], 0xff);
	ck_assert_int_eq(vm_hub_frame_add(&b, VM_HUB_INPUT, big, VM_HUB_FRAME_MAX + 1), -EINVAL);
	ck_assert_uint_eq(b.len, VM_HUB_FRAME_HDR + VM_HUB_FRAME_MAX);
	/* A frame is only there once all its bytes are. */
	b.len--;
	ck_assert_uint_eq(vm_hub_frame_parse(&b, &type, &p), 0);
	b.len = 2;
	ck_assert_uint_eq(vm_hub_frame_parse(&b, &type, &p), 0);
	buf_release(&b);

	/* The cap: a frame that does not fit is refused whole. */
	buf_init(&b, 10);
	ck_assert_int_eq(vm_hub_frame_add(&b, VM_HUB_INPUT, "12345", 5), 0);
	ck_assert_int_eq(vm_hub_frame_add(&b, VM_HUB_INPUT, "ab", 2), -IT_ELIMIT);
	ck_assert_uint_eq(b.len, 8);
	buf_release(&b);
}
END_TEST

static void assert_strip(const char *in, size_t inlen, const char *want)
{
	char tmp[128];
	size_t n;

	memcpy(tmp, in, inlen);
	n = vmi_hub_strip_cpr(tmp, inlen);
	ck_assert_msg(n == strlen(want) && memcmp(tmp, want, n) == 0, "strip gave '%.*s'", (int)n,
		      tmp);
}

START_TEST(test_strip_cpr)
{
	assert_strip("a\033[12;40Rb", 10, "ab");
	assert_strip("\033[1;1R", 6, "");
	assert_strip("x\033[1;2R\033[33;144Ry\r", 18, "xy\r");
	/* Not reports: kept as typed. */
	assert_strip("\033[12R", 5, "\033[12R");
	assert_strip("\033[;5R", 5, "\033[;5R");
	assert_strip("\033[5;R", 5, "\033[5;R");
	assert_strip("\033[12;40", 7, "\033[12;40");
	assert_strip("\033[6n", 4, "\033[6n");
	assert_strip("\033[A\033[2;3H", 9, "\033[A\033[2;3H");
	assert_strip("", 0, "");
}
END_TEST

START_TEST(test_dir)
{
	char dir[PATH_MAX], want[64];

	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	ck_assert_int_eq(vm_hub_dir(dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/run/user/1000/initrd-test");
	ck_assert_int_eq(vm_hub_dir(dir, 10), -ENAMETOOLONG);
	snprintf(want, sizeof(want), "/tmp/initrd-test-%u", (unsigned)getuid());
	setenv("XDG_RUNTIME_DIR", "", 1);
	ck_assert_int_eq(vm_hub_dir(dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, want);
	unsetenv("XDG_RUNTIME_DIR");
	ck_assert_int_eq(vm_hub_dir(dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, want);
}
END_TEST

/* ---- the list of running VMs, from metadata files ---- */

static pid_t dead_pid(void)
{
	pid_t p = fork();

	ck_assert_int_ge(p, 0);
	if (p == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(p, NULL, 0), p);
	return p;
}

START_TEST(test_list_and_find)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	const struct vm_hub_entry *e = NULL;
	char dir[PATH_MAX], path[PATH_MAX], text[512], pid[32];
	int fd = -1;

	/* No directory yet: nothing runs. */
	ck_assert_int_eq(vm_hub_list(&list, &err), 0);
	ck_assert_uint_eq(list.n, 0);

	snprintf(dir, sizeof(dir), "%s/%s", tu_runtime, VM_HUB_DIR_NAME);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(text, sizeof(text),
		 "name=alpha-3c4d\nscenario=alpha\npid=%d\nqemu_pid=424242\nstarted=200\n"
		 "socket=/elsewhere\nqmp=/q/qmp.sock\nstep=step 1/2: boot\n",
		 (int)getpid());
	hub_path(path, sizeof(path), "alpha-3c4d", ".info");
	write_text(path, text);
	snprintf(text, sizeof(text), "name=alpha-1a2b\npid=%d\nstarted=100\n", (int)getpid());
	hub_path(path, sizeof(path), "alpha-1a2b", ".info");
	write_text(path, text);
	/* Its initrd-test died: both files go. */
	snprintf(text, sizeof(text), "name=beta-5e6f\nscenario=beta\npid=%d\nstarted=50\n",
		 (int)dead_pid());
	hub_path(path, sizeof(path), "beta-5e6f", ".info");
	write_text(path, text);
	hub_path(path, sizeof(path), "beta-5e6f", ".sock");
	write_text(path, "");
	/* Malformed, or not matching its file name: skipped, left alone. */
	hub_path(path, sizeof(path), "junk-0000", ".info");
	write_text(path, "hello\n");
	snprintf(text, sizeof(text), "name=other-1111\npid=%d\n", (int)getpid());
	hub_path(path, sizeof(path), "mismatch-1111", ".info");
	write_text(path, text);
	snprintf(text, sizeof(text), "name=bad-pid1\npid=12x\n");
	hub_path(path, sizeof(path), "bad-pid1", ".info");
	write_text(path, text);

	ck_assert_int_eq(vm_hub_list(&list, &err), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_str_eq(list.v[0].name, "alpha-1a2b");
	ck_assert_str_eq(list.v[0].scenario, "");
	ck_assert_str_eq(list.v[0].step, "");
	ck_assert_int_eq(list.v[0].qemu_pid, 0);
	ck_assert_str_eq(list.v[1].name, "alpha-3c4d");
	ck_assert_str_eq(list.v[1].scenario, "alpha");
	ck_assert_str_eq(list.v[1].step, "step 1/2: boot");
	ck_assert_str_eq(list.v[1].qmp, "/q/qmp.sock");
	ck_assert_int_eq(list.v[1].pid, getpid());
	ck_assert_int_eq(list.v[1].qemu_pid, 424242);
	ck_assert_int_eq(list.v[1].started, 200);
	/* The socket is where the file is, whatever the file says. */
	hub_path(path, sizeof(path), "alpha-3c4d", ".sock");
	ck_assert_str_eq(list.v[1].socket, path);
	hub_path(path, sizeof(path), "beta-5e6f", ".info");
	ck_assert_int_eq(access(path, F_OK), -1);
	hub_path(path, sizeof(path), "beta-5e6f", ".sock");
	ck_assert_int_eq(access(path, F_OK), -1);
	hub_path(path, sizeof(path), "junk-0000", ".info");
	ck_assert_int_eq(access(path, F_OK), 0);

	ck_assert_int_eq(vm_hub_find(&list, "alpha-3c4d", &e, &err), 0);
	ck_assert_ptr_eq(e, &list.v[1]);
	ck_assert_int_eq(vm_hub_find(&list, "alpha-1", &e, &err), 0);
	ck_assert_ptr_eq(e, &list.v[0]);
	ck_assert_int_eq(vm_hub_find(&list, "424242", &e, &err), 0);
	ck_assert_ptr_eq(e, &list.v[1]);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	ck_assert_int_eq(vm_hub_find(&list, pid, &e, &err), 0);
	ck_assert_ptr_eq(e, &list.v[0]);

	ck_assert_int_eq(vm_hub_find(&list, "alpha", &e, &err), -IT_EUSAGE);
	ck_assert_ptr_null(e);
	ck_assert_str_eq(err.msg, "'alpha' matches several VMs: alpha-1a2b, alpha-3c4d");
	ck_assert_str_eq(err.hint, "give the whole name");
	it_error_clear(&err);
	ck_assert_int_eq(vm_hub_find(&list, "gamma", &e, &err), -IT_ENOTFOUND);
	ck_assert_str_eq(err.msg, "no running VM 'gamma'");
	ck_assert_str_eq(err.hint, "'initrd-test ps' lists the running VMs");
	it_error_clear(&err);
	ck_assert_int_eq(vm_hub_find(&list, "99999999999", &e, &err), -IT_ENOTFOUND);
	it_error_clear(&err);
	ck_assert_int_eq(vm_hub_find(&list, "", &e, &err), -IT_ENOTFOUND);
	it_error_clear(&err);

	/* A listed VM whose socket is not there: the error names it. */
	ck_assert_int_eq(vm_hub_connect(&list.v[1], &fd, &err), -ENOENT);
	ck_assert_int_eq(fd, -1);
	ck_assert_str_eq(err.msg, "cannot connect to 'alpha-3c4d': No such file or directory");
	it_error_clear(&err);
	ck_assert_int_eq(vm_hub_poweroff(&list.v[1], 1000, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "cannot connect to 'alpha-3c4d': No such file or directory");
	vm_hub_list_release(&list);
	ck_assert_uint_eq(list.n, 0);
	ck_assert_ptr_null(list.v);
}
END_TEST

/* ---- enabling the hub on a (paused) VM ---- */

static void assert_name(const char *name, const char *base)
{
	size_t n = strlen(base);

	ck_assert_msg(!strncmp(name, base, n) && name[n] == '-' && strlen(name) == n + 5,
		      "name '%s' for '%s'", name, base);
	for (int i = 1; i <= 4; i++)
		ck_assert_msg(strchr("0123456789abcdef", name[n + i]), "name '%s'", name);
}

START_TEST(test_enable_files)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	struct vm_config c;
	struct vm *vm = NULL, *vm2 = NULL;
	char dir[PATH_MAX], sock[PATH_MAX], info[PATH_MAX], name[64];
	struct buf text;
	struct stat st;

	config_for(&c, true);
	ck_assert_int_eq(vm_start(&c, &vm, &err), 0);
	ck_assert_ptr_null(vm_hub_name(vm));
	/* A step set before the hub is there is kept for it. */
	ck_assert_int_eq(vm_hub_set_status(vm, "building"), 0);
	ck_assert_int_eq(vm_hub_enable(vm, "net/work ing\n", &err), 0);
	snprintf(name, sizeof(name), "%s", vm_hub_name(vm));
	assert_name(name, "net_work_ing_");
	hub_path(sock, sizeof(sock), name, ".sock");
	hub_path(info, sizeof(info), name, ".info");
	ck_assert_str_eq(vm_hub_socket(vm), sock);
	snprintf(dir, sizeof(dir), "%s/%s", tu_runtime, VM_HUB_DIR_NAME);
	ck_assert_int_eq(lstat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(lstat(sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(lstat(info, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	buf_init(&text, 0);
	ck_assert_int_eq(buf_read_file(&text, info), 0);
	ck_assert_msg(strstr(text.data, "\nscenario=net/work ing \n") &&
			  strstr(text.data, "\nstep=building\n"),
		      "%s", text.data);
	ck_assert(strstr(text.data, vm_info(vm)->runtime_dir));
	ck_assert_int_eq(vm_hub_list(&list, &err), 0);
	ck_assert_uint_eq(list.n, 1);
	ck_assert_str_eq(list.v[0].name, name);
	ck_assert_str_eq(list.v[0].scenario, "net/work ing ");
	ck_assert_int_eq(list.v[0].pid, getpid());
	ck_assert_int_eq(list.v[0].qemu_pid, vm_info(vm)->pid);
	ck_assert_int_le(list.v[0].started, (int64_t)time(NULL));
	ck_assert_int_ge(list.v[0].started, (int64_t)time(NULL) - 60);
	ck_assert_str_eq(list.v[0].socket, sock);
	vm_hub_list_release(&list);

	/* The step, flattened to one line, rewrites the file. */
	ck_assert_int_eq(vm_hub_set_status(vm, "step 2/5:\tdhcp\r\n"), 0);
	ck_assert_int_eq(vm_hub_list(&list, &err), 0);
	ck_assert_str_eq(list.v[0].step, "step 2/5: dhcp  ");
	vm_hub_list_release(&list);
	ck_assert_int_eq(vm_hub_enable(vm, "again", &err), -EBUSY);
	it_error_clear(&err);

	/* Same scenario, another VM: another name. */
	ck_assert_int_eq(vm_start(&c, &vm2, &err), 0);
	ck_assert_int_eq(vm_hub_enable(vm2, "net/work ing\n", &err), 0);
	ck_assert_str_ne(vm_hub_name(vm2), name);
	ck_assert_int_eq(vm_hub_list(&list, &err), 0);
	ck_assert_uint_eq(list.n, 2);
	vm_hub_list_release(&list);

	/* Stopped: the files go at once (the VM object lives on). */
	ck_assert_int_eq(vm_stop(vm, 20000, &err), 0);
	ck_assert_ptr_null(vm_hub_name(vm));
	ck_assert_int_eq(access(sock, F_OK), -1);
	ck_assert_int_eq(access(info, F_OK), -1);
	ck_assert_int_eq(vm_hub_set_status(vm, "late"), 0);
	vm_free(vm);
	vm = NULL;
	/* Freed: the same. */
	snprintf(sock, sizeof(sock), "%s", vm_hub_socket(vm2));
	vm_free(vm2);
	ck_assert_int_eq(access(sock, F_OK), -1);
	ck_assert_int_eq(vm_hub_list(&list, &err), 0);
	ck_assert_uint_eq(list.n, 0);
	/* The directory stays, empty. */
	ck_assert_int_eq(rmdir(dir), 0);
	buf_release(&text);
	vm_config_release(&c);
	assert_no_children();
}
END_TEST

START_TEST(test_enable_errors)
{
	struct it_error err = IT_ERROR_INIT;
	struct vm_config c;
	struct vm *vm = NULL;
	char dir[PATH_MAX], longdir[PATH_MAX];
	struct stat st;

	config_for(&c, true);
	ck_assert_int_eq(vm_start(&c, &vm, &err), 0);

	/* A socket path longer than sun_path: refused before anything is created. */
	snprintf(longdir, sizeof(longdir), "%s/%0100d", tu_runtime, 0);
	setenv("XDG_RUNTIME_DIR", longdir, 1);
	ck_assert_int_eq(vm_hub_enable(vm, "scenario", &err), -ENAMETOOLONG);
	ck_assert_msg(strstr(err.msg, "path too long for a unix socket"), "%s", err.msg);
	ck_assert_msg(strstr(err.msg, longdir), "%s", err.msg);
	ck_assert_str_eq(err.hint, "set XDG_RUNTIME_DIR to a shorter directory");
	ck_assert_int_eq(access(longdir, F_OK), -1);
	ck_assert_ptr_null(vm_hub_name(vm));
	it_error_clear(&err);

	/* A directory that is not ours is not used. */
	setenv("XDG_RUNTIME_DIR", tu_runtime, 1);
	snprintf(dir, sizeof(dir), "%s/%s", tu_runtime, VM_HUB_DIR_NAME);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert_int_eq(vm_hub_enable(vm, "scenario", &err), -EPERM);
	ck_assert_msg(strstr(err.msg, "not a directory owned by us") && strstr(err.msg, dir), "%s",
		      err.msg);
	it_error_clear(&err);
	/* Ours but open to others: made private. */
	ck_assert_int_eq(chown(dir, getuid(), getgid()), 0);
	ck_assert_int_eq(vm_hub_enable(vm, "", &err), 0);
	assert_name(vm_hub_name(vm), "vm");
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	vm_free(vm);

	/* A VM that has exited gets no hub. */
	ck_assert_int_eq(vm_start(&c, &vm, &err), 0);
	ck_assert_int_eq(vm_stop(vm, 0, &err), 0);
	ck_assert_int_eq(vm_hub_enable(vm, ".hidden", &err), -IT_EVM);
	ck_assert_str_eq(err.msg, "cannot open a console socket: the VM has exited");
	vm_free(vm);
	vm_config_release(&c);
	assert_no_children();
}
END_TEST

/* ---- power-off and too many clients, on a paused VM ---- */

struct power {
	struct vm *vm;
	struct tclient cl[VM_HUB_CLIENTS_MAX];
	struct tclient extra;
	int phase;
	int64_t tick, limit;
	pid_t child;
};

static int64_t power_deadline(void *ctx)
{
	struct power *pw = ctx;

	return pw->tick;
}

/* In a child: what 'initrd-test stop' does. */
static void child_poweroff(void)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	const struct vm_hub_entry *e = NULL;
	int r;

	r = vm_hub_list(&list, &err);
	if (r == 0)
		r = vm_hub_find(&list, "power", &e, &err);
	if (r == 0)
		r = vm_hub_poweroff(e, 30000, &err);
	if (r < 0)
		fprintf(stderr, "child: %s\n", err.msg);
	_exit(r == 0 ? 0 : 1);
}

static int power_timer(void *ctx, int64_t now)
{
	struct power *pw = ctx;
	int joined = 0;

	pw->tick = now + TICK_MS;
	ck_assert_msg(now < pw->limit, "stuck in phase %d", pw->phase);
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++) {
		tc_pump(&pw->cl[i], 0);
		joined += pw->cl[i].hello[0] != 0;
	}
	if (pw->phase == 0 && joined == VM_HUB_CLIENTS_MAX) {
		ck_assert_uint_eq(vm_hub_clients(pw->vm), VM_HUB_CLIENTS_MAX);
		tc_connect(&pw->extra, vm_hub_socket(pw->vm));
		pw->phase = 1;
	} else if (pw->phase == 1) {
		tc_pump(&pw->extra, 0);
		if (!pw->extra.eof)
			return 0;
		ck_assert_str_eq(pw->extra.bye, "too many clients");
		ck_assert_int_eq(pw->extra.frames, 1);
		/* Two leave: there is room for the power-off request. */
		tc_close(&pw->cl[0]);
		tc_close(&pw->cl[1]);
		pw->phase = 2;
		pw->child = fork();
		ck_assert_int_ge(pw->child, 0);
		if (pw->child == 0)
			child_poweroff();
	}
	return 0;
}

START_TEST(test_poweroff)
{
	static const struct vm_ops ops = {
	    .on_output = NULL, .deadline = power_deadline, .on_timer = power_timer};
	struct it_error err = IT_ERROR_INIT;
	struct vm_config c;
	struct power pw;
	char sock[PATH_MAX], info[PATH_MAX], hello[256], name[64];
	int status = 0, r;

	memset(&pw, 0, sizeof(pw));
	config_for(&c, true);
	ck_assert_int_eq(vm_start(&c, &pw.vm, &err), 0);
	wait_qmp(pw.vm);
	ck_assert_int_eq(vm_hub_enable(pw.vm, "power", &err), 0);
	snprintf(sock, sizeof(sock), "%s", vm_hub_socket(pw.vm));
	snprintf(name, sizeof(name), "%s", vm_hub_name(pw.vm));
	hub_path(info, sizeof(info), name, ".info");
	ck_assert_int_eq(vm_hub_set_status(pw.vm, "waiting"), 0);
	/* Clients may connect before vm_run: they wait in the backlog. */
	for (int i = 0; i < VM_HUB_CLIENTS_MAX; i++)
		tc_connect(&pw.cl[i], sock);
	pw.tick = now_ms();
	pw.limit = now_ms() + 60000;
	r = vm_run(pw.vm, &ops, &pw, &err);
	ck_assert_msg(r == -IT_EINTERRUPTED, "vm_run: %d %s", r, err.msg);
	ck_assert_msg(strstr(err.msg, "was powered off by a console client") &&
			  !strncmp(err.msg, "'power-", 7),
		      "%s", err.msg);
	ck_assert(vm_info(pw.vm)->hub_poweroff);
	ck_assert_int_eq(vm_info(pw.vm)->signal, 0);
	ck_assert(vm_info(pw.vm)->exited);
	ck_assert_int_eq(vm_info(pw.vm)->stopped_by, VM_STOP_QMP);
	ck_assert_int_eq(waitpid(pw.child, &status, 0), pw.child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x",
		      (unsigned)status);
	/* Gone from the disk before vm_free. */
	ck_assert_int_eq(access(sock, F_OK), -1);
	ck_assert_int_eq(access(info, F_OK), -1);
	ck_assert_ptr_null(vm_hub_name(pw.vm));
	snprintf(hello, sizeof(hello), "name=%s\nscenario=power\npid=%d\nqemu_pid=%d\n", name,
		 (int)getpid(), (int)vm_info(pw.vm)->pid);
	for (int i = 2; i < VM_HUB_CLIENTS_MAX; i++) {
		struct tclient *cl = &pw.cl[i];

		tc_pump(cl, 5000);
		ck_assert(cl->eof);
		ck_assert_str_eq(cl->status, "waiting");
		ck_assert_str_eq(cl->notice, "powering off (asked by a console client)\n");
		ck_assert_str_eq(cl->bye, "powered off");
		ck_assert_str_eq(cl->hello, hello);
		tc_close(cl);
	}
	tc_close(&pw.extra);
	vm_free(pw.vm);
	vm_config_release(&c);
	assert_no_children();
}
END_TEST

/* ---- a real shell: several clients, replay, the keyboard, a stalled client ---- */

enum shell_phase {
	SH_BOOT,     /* waiting for the shell prompt */
	SH_CPR,	     /* C joined late; B sent only a cursor report */
	SH_TYPED,    /* A typed; waiting for hi-42 everywhere */
	SH_REFUSED,  /* B typed too; waiting for its notice and for the status */
	SH_DETACHED, /* C asked to detach */
	SH_BIG,	     /* A asked for a lot of output; S does not read */
	SH_DRAIN,    /* S reads at last: what it missed is skipped, and it is told */
	SH_AFTER,    /* A typed again: S sees that too */
};

struct shell {
	struct vm *vm;
	struct buf log;
	struct tclient a, b, c, s, z; /* S stalls through the flood; Z until the VM stops */
	enum shell_phase phase;
	int64_t tick, limit, phase_at;
	size_t log_at_c;
	size_t clients_at_end;
	bool typed_big;
};

static int shell_output(void *ctx, const char *buf, size_t len, int64_t now)
{
	struct shell *sh = ctx;

	(void)now;
	ck_assert_int_eq(buf_add(&sh->log, buf, len), 0);
	return 0;
}

static int64_t shell_deadline(void *ctx)
{
	struct shell *sh = ctx;

	return sh->tick;
}

static bool shell_prompt(const struct buf *log)
{
	const char *jc = strstr(log->data, "job control turned off");

	return jc && strstr(jc, "# ");
}

static void enter(struct shell *sh, enum shell_phase p, int64_t now)
{
	sh->phase = p;
	sh->phase_at = now;
}

static int shell_step(struct shell *sh, int64_t now)
{
	struct vm_hub_list list = VM_HUB_LIST_INIT;
	unsigned rows = 0, cols = 0;

	switch (sh->phase) {
	case SH_BOOT:
		if (!shell_prompt(&sh->log))
			return 0;
		sh->log_at_c = sh->log.len;
		tc_connect(&sh->c, vm_hub_socket(sh->vm));
		/* A terminal's answer to ESC [ 6 n, alone: it must not take the keyboard. */
		tc_type(&sh->b, "\033[24;80R");
		tc_send(&sh->b, VM_HUB_WINSIZE, "\0\62\0\310", 4); /* 50 x 200 */
		enter(sh, SH_CPR, now);
		return 0;
	case SH_CPR:
		if (!sh->c.hello[0] || now < sh->phase_at + 500)
			return 0;
		ck_assert_str_eq(sh->b.notice, "");
		tc_type(&sh->a, "echo hi-$((6*7))\n");
		enter(sh, SH_TYPED, now);
		return 0;
	case SH_TYPED:
		if (!has(&sh->a.out, "\nhi-42") || !has(&sh->b.out, "\nhi-42") ||
		    !has(&sh->c.out, "\nhi-42") || !has(&sh->log, "\nhi-42"))
			return 0;
		ck_assert_str_eq(sh->a.notice, "");
		tc_type(&sh->b, "echo b-$((1+1))x\n");
		ck_assert_int_eq(vm_hub_set_status(sh->vm, "step 2/3:\ttyping\n"), 0);
		enter(sh, SH_REFUSED, now);
		return 0;
	case SH_REFUSED:
		if (!sh->b.notice[0] || !sh->a.status[0] || strcmp(sh->c.status, "waiting") == 0)
			return 0;
		ck_assert_str_eq(sh->b.notice,
				 "the keyboard is held by another client: input dropped\n");
		ck_assert_str_eq(sh->a.status, "step 2/3: typing ");
		ck_assert_str_eq(sh->c.status, "step 2/3: typing ");
		ck_assert_int_eq(vm_hub_list(&list, NULL), 0);
		ck_assert_uint_eq(list.n, 1);
		ck_assert_str_eq(list.v[0].step, "step 2/3: typing ");
		vm_hub_list_release(&list);
		/* A holds the keyboard: its size counts, though B sent one later. */
		ck_assert_int_eq(vm_hub_winsize(sh->vm, &rows, &cols), 0);
		ck_assert_uint_eq(rows, 40);
		ck_assert_uint_eq(cols, 120);
		tc_send(&sh->c, VM_HUB_DETACH, NULL, 0);
		enter(sh, SH_DETACHED, now);
		return 0;
	case SH_DETACHED:
		if (!sh->c.eof)
			return 0;
		ck_assert_str_eq(sh->c.bye, "detached");
		ck_assert_uint_eq(vm_hub_clients(sh->vm), 4);
		tc_type(&sh->a,
			"yes 0123456789012345678901234567890123456789012345678901234567890123"
			"456789 | head -c 1000000; echo big-$((3*3))\n");
		enter(sh, SH_BIG, now);
		return 0;
	case SH_BIG:
		/* head cuts a line: "big-9" follows its last bytes. */
		if (!has(&sh->b.out, "big-9\r\n") || !has(&sh->a.out, "big-9\r\n"))
			return 0;
		/* S and Z never read, and are still there: they did not hold anyone up either. */
		ck_assert_uint_eq(vm_hub_clients(sh->vm), 4);
		enter(sh, SH_DRAIN, now);
		return 0;
	case SH_DRAIN:
		if (!sh->s.skips)
			return 0;
		tc_type(&sh->a, "echo after-$((5*5))\n");
		enter(sh, SH_AFTER, now);
		return 0;
	case SH_AFTER:
		if (!has(&sh->a.out, "\nafter-25\r\n") || !has(&sh->s.out, "\nafter-25\r\n"))
			return 0;
		sh->clients_at_end = vm_hub_clients(sh->vm);
		return 1;
	}
	return 0;
}

static int shell_timer(void *ctx, int64_t now)
{
	struct shell *sh = ctx;

	sh->tick = now + TICK_MS;
	ck_assert_msg(now < sh->limit, "stuck in phase %d; console:\n%s", sh->phase,
		      tail_of(&sh->log));
	tc_pump(&sh->a, 0);
	tc_pump(&sh->b, 0);
	if (sh->c.fd >= 0)
		tc_pump(&sh->c, 0);
	if (sh->phase >= SH_DRAIN)
		tc_pump(&sh->s, 0);
	return shell_step(sh, now);
}

/* b starts with log, or log with b: what a client saw from the first byte on. */
static void assert_prefix(const struct buf *b, const struct buf *log, const char *who)
{
	size_t n = b->len < log->len ? b->len : log->len;

	ck_assert_msg(memcmp(b->data, log->data, n) == 0, "%s's bytes differ from the console",
		      who);
	/* The console may have said a little more after the loop ended (vm_stop drains it). */
	ck_assert_msg(b->len + 4096 >= log->len, "%s got %zu of %zu bytes", who, b->len, log->len);
}

/* b holds exactly the bytes of log at some offset; returns that offset. */
static size_t assert_slice(const struct buf *b, const struct buf *log, const char *who)
{
	const char *at;

	ck_assert_msg(b->len >= 256, "%s got %zu bytes", who, b->len);
	at = memmem(log->data, log->len, b->data, 256);
	ck_assert_msg(at != NULL, "%s's bytes are not in the console log", who);
	ck_assert_uint_le((size_t)(at - log->data) + b->len, log->len);
	ck_assert_msg(memcmp(at, b->data, b->len) == 0, "%s's bytes differ from the console", who);
	return (size_t)(at - log->data);
}

/* What the kernel lets sit in a unix socket (the hub's send buffer, and one message more). */
static size_t socket_slack(void)
{
	struct buf b;
	unsigned long long v = 0;
	char *end = NULL;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_read_file(&b, "/proc/sys/net/core/wmem_default"), 0);
	v = strtoull(b.data, &end, 10);
	ck_assert_msg(v > 0 && end != b.data, "wmem_default '%s'", b.data);
	buf_release(&b);
	return (size_t)v * 2;
}

/*
 * A client that fell behind: its OUTPUT bytes, with the bytes its notices say
 * were skipped between them, are the console from the first byte on, in order.
 */
static void assert_skipped(const struct tclient *c, const struct buf *log, const char *who)
{
	size_t pos = 0, from = 0, to, n, cmp;

	for (int k = 0; k <= c->skips; k++) {
		to = k < c->skips ? c->skip_at[k] : c->out.len;
		n = to - from;
		/* The console may say a little more after the loop ended (vm_stop drains it). */
		cmp = pos >= log->len ? 0 : n < log->len - pos ? n : log->len - pos;
		ck_assert_msg(k == c->skips || cmp == n,
			      "%s: %zu bytes at console offset %zu of %zu", who, n, pos, log->len);
		ck_assert_msg(memcmp(c->out.data + from, log->data + pos, cmp) == 0,
			      "%s's bytes %zu.. (console offset %zu) differ from the console", who,
			      from, pos);
		pos += n;
		if (k < c->skips)
			pos += (size_t)c->skip_n[k];
		from = to;
	}
	ck_assert_msg(pos + 4096 >= log->len && pos <= log->len + 4096,
		      "%s: %zu bytes got or skipped, the console has %zu", who, pos, log->len);
}

START_TEST(test_shell_clients)
{
	static const struct vm_ops ops = {
	    .on_output = shell_output, .deadline = shell_deadline, .on_timer = shell_timer};
	struct it_error err = IT_ERROR_INIT;
	struct vm_config c;
	struct shell sh;
	struct drainer zd;
	char sock[PATH_MAX], info[PATH_MAX];
	size_t at;
	int r;

	memset(&sh, 0, sizeof(sh));
	sh.c.fd = -1;
	buf_init(&sh.log, LOG_MAX);
	config_for(&c, false);
	ck_assert_int_eq(vm_start(&c, &sh.vm, &err), 0);
	ck_assert_int_eq(vm_hub_enable(sh.vm, "hub shell", &err), 0);
	assert_name(vm_hub_name(sh.vm), "hub_shell");
	ck_assert_int_eq(vm_hub_set_status(sh.vm, "waiting"), 0);
	snprintf(sock, sizeof(sock), "%s", vm_hub_socket(sh.vm));
	hub_path(info, sizeof(info), vm_hub_name(sh.vm), ".info");
	tc_connect(&sh.a, sock);
	tc_connect(&sh.b, sock);
	tc_connect(&sh.s, sock);
	tc_connect(&sh.z, sock);
	tc_send(&sh.a, VM_HUB_WINSIZE, "\0\50\0\170", 4); /* 40 x 120 */
	sh.tick = now_ms();
	sh.limit = now_ms() + SHELL_LIMIT_MS;
	r = vm_run(sh.vm, &ops, &sh, &err);
	ck_assert_msg(r == VM_RUN_STOPPED, "vm_run: %d (%s); console:\n%s", r, err.msg,
		      tail_of(&sh.log));

	/* B's input was dropped: the guest never saw it. */
	ck_assert(!has(&sh.log, "b-2x"));
	ck_assert(!has(&sh.log, "echo b-"));
	/* The stalled clients were kept, without blocking anyone: A, B, S and Z remain. */
	ck_assert_uint_eq(sh.clients_at_end, 4);
	ck_assert_uint_ge(sh.log.len, BIG_OUTPUT);

	/* C joined late: the replay gave it what came before (all of it, or the last 64 KiB). */
	at = assert_slice(&sh.c.out, &sh.log, "C");
	ck_assert(sh.log_at_c <= VM_HUB_RING ? at == 0 : sh.log_at_c - at >= VM_HUB_RING - 4096);
	ck_assert(has(&sh.c.out, "job control turned off"));
	ck_assert(has(&sh.c.out, "\nhi-42"));

	/* Z reads only now, while the hub says goodbye. */
	drain_start(&zd, sh.z.fd);
	vm_free(sh.vm);
	drain_finish(&zd, &sh.z);
	/* Freed: A and B are told and closed; the files are gone. */
	ck_assert_int_eq(access(sock, F_OK), -1);
	ck_assert_int_eq(access(info, F_OK), -1);
	tc_pump(&sh.a, 10000);
	tc_pump(&sh.b, 10000);
	ck_assert(sh.a.eof && sh.b.eof);
	ck_assert_str_eq(sh.a.bye, "the VM was stopped");
	ck_assert_str_eq(sh.b.bye, "the VM was stopped");
	/* A and B were there from the first byte: they saw exactly the console. */
	assert_prefix(&sh.a.out, &sh.log, "A");
	assert_prefix(&sh.b.out, &sh.log, "B");
	/*
	 * S stalled through the flood: it got the start of it (what its socket
	 * and its bounded queue in the hub held), a notice of how much it
	 * missed, the output after (after-25), and its goodbye.
	 */
	tc_pump(&sh.s, 10000);
	ck_assert(sh.s.eof);
	ck_assert_str_eq(sh.s.bye, "the VM was stopped");
	ck_assert_int_ge(sh.s.skips, 1);
	ck_assert_uint_gt(sh.s.skip_at[0], 0);
	ck_assert_uint_le(sh.s.skip_at[0], VM_HUB_CLIENT_QUEUE_MAX + socket_slack());
	ck_assert_msg(memmem(sh.s.out.data + sh.s.skip_at[sh.s.skips - 1],
			     sh.s.out.len - sh.s.skip_at[sh.s.skips - 1], "\nafter-25\r\n",
			     11) != NULL,
		      "S: no after-25 after the last skip notice");
	assert_skipped(&sh.s, &sh.log, "S");
	/* Z: the start, then at the end what it missed, before the goodbye. */
	ck_assert(sh.z.eof);
	ck_assert_str_eq(sh.z.bye, "the VM was stopped");
	ck_assert_int_eq(sh.z.skips, 1);
	ck_assert_uint_eq(sh.z.skip_at[0], sh.z.out.len);
	ck_assert_uint_le(sh.z.out.len, VM_HUB_CLIENT_QUEUE_MAX + socket_slack());
	assert_skipped(&sh.z, &sh.log, "Z");
	tc_close(&sh.a);
	tc_close(&sh.b);
	tc_close(&sh.c);
	tc_close(&sh.s);
	tc_close(&sh.z);
	buf_release(&sh.log);
	vm_config_release(&c);
	assert_no_children();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runner_hub");
	TCase *pure = tcase_create("pure");
	TCase *list = tcase_create("list");
	TCase *vm = tcase_create("vm");
	TCase *shell = tcase_create("shell");

	/* Never KVM here, whatever the machine offers. */
	setenv(VM_ACCEL_ENV, "tcg", 1);

	tcase_add_test(pure, test_frames);
	tcase_add_test(pure, test_strip_cpr);
	tcase_add_test(pure, test_dir);
	suite_add_tcase(s, pure);

	tu_runtime_fixtures(list);
	tcase_add_test(list, test_list_and_find);
	suite_add_tcase(s, list);

	/* Paused VMs (qemu -S) cost nothing; then one real boot, with a lot of output. */
	tu_runtime_fixtures(vm);
	tcase_set_timeout(vm, 300);
	tcase_add_test(vm, test_enable_files);
	tcase_add_test(vm, test_enable_errors);
	tcase_add_test(vm, test_poweroff);
	suite_add_tcase(s, vm);
	tu_runtime_fixtures(shell);
	tcase_set_timeout(shell, 300);
	tcase_add_test(shell, test_shell_clients);
	suite_add_tcase(s, shell);

	return tu_run_suite(s);
}
