// SPDX-License-Identifier: MIT
/* 'initrd-test cp': copy a file into or out of a running VM's guest, checked by size and SHA-256.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "src/cmds.h"
#include "src/copyin.h"
#include "src/options.h"
#include "src/remote.h"

#define CP_ERROR 255
#define READ_MAX (1ULL << 40)

static const char intro[] =
    "usage: initrd-test cp [options] NAME:GUESTPATH LOCALPATH\n"
    "       initrd-test cp [options] LOCALPATH NAME:GUESTPATH\n"
    "\n"
    "Copy a file out of or into the guest of a VM that initrd-test runs ('initrd-test\n"
    "ps'), over the guest agent's channel. The copy is binary-safe and checked: the\n"
    "size and SHA-256 of what arrived must be what was sent, and the file appears\n"
    "only when whole (a temporary file is renamed), in the guest as on the host.\n"
    "A GUESTPATH ending in '/' or a LOCALPATH that is a directory takes the\n"
    "source's name. A copy into the guest keeps the file's mode unless --mode says.\n"
    "\n";

static const char outro[] =
    "examples:\n"
    "  initrd-test cp networking-3f0c:/etc/ssh/sshd_config .\n"
    "  initrd-test cp --mode 0755 ./probe.sh net:/usr/local/bin/probe\n"
    "\n"
    "exit codes: 0 copied; 255 when the copy failed (no such VM or file, a check\n"
    "            failed, the channel broke: nothing is left half-written);\n"
    "            130 when Ctrl-C ended it\n";

struct cp_opts {
	unsigned mode;
};

static const struct opt cp_opts_[] = {
    {1, 'm', "mode", "OCTAL", "the mode of the file copied into the guest (0644)"},
};

static int take(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct cp_opts *o = ctx;
	char *end = NULL;
	unsigned long v = strtoul(arg, &end, 8);

	(void)id;
	if (!*arg || *end || v == 0 || v > 07777)
		return it_error_set(err, -IT_EUSAGE, "bad --mode '%s': give octal bits like 0644",
				    arg);
	o->mode = (unsigned)v;
	return 0;
}

static const struct opt_group cp_group = OPT_GROUP(NULL, cp_opts_, take);
static const struct opt_group *const groups[] = {&cp_group};
static const struct opt_cmd cp_cmd = {"cp", intro, outro, groups, ARRAY_SIZE(groups), false};

/* One copy in flight, either way. */
struct copy {
	struct remote *rm;
	uint32_t id;
	bool in; /* into the guest */
	bool done, ok;
	struct copy_in ci; /* in: the local file */
	int fd;		   /* out: the .part file */
	char local[PATH_MAX], part[PATH_MAX], guest[PATH_MAX];
	char error[PATH_MAX + 128];
	struct agent_file file;
};

/* "NAME:PATH" is the guest's when the ':' comes before any '/'. */
static bool split_remote(const char *arg, char *vm, size_t vmsz, const char **path)
{
	const char *colon = strchr(arg, ':'), *slash = strchr(arg, '/');

	if (!colon || colon == arg || (slash && slash < colon) || (size_t)(colon - arg) >= vmsz)
		return false;
	memcpy(vm, arg, (size_t)(colon - arg));
	vm[colon - arg] = '\0';
	*path = colon + 1;
	return true;
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int on_event(void *ctx, const struct agent_event *ev)
{
	struct copy *c = ctx;

	if (ev->id != c->id || ev->type == AGENT_EV_HELLO)
		return 0;
	switch (ev->type) {
	case AGENT_EV_FILE_DATA:
		if (fd_write_all(c->fd, ev->data.ptr, ev->data.len) < 0) {
			snprintf(c->error, sizeof(c->error), "cannot write '%s': %s", c->part,
				 strerror(errno));
			c->done = true;
		}
		return 0;
	case AGENT_EV_FILE_END:
	case AGENT_EV_OK:
		c->file = *ev->file;
		c->ok = true;
		c->done = true;
		return 0;
	case AGENT_EV_ERROR:
		snprintf(c->error, sizeof(c->error), "%s", ev->message ? ev->message : "failed");
		c->done = true;
		return 0;
	default:
		return 0;
	}
}

/* The copy cannot go on: why, and the end of the wait. */
static int stop(struct copy *c, const char *why)
{
	snprintf(c->error, sizeof(c->error), "%s", why);
	c->done = true;
	return 0;
}

/* Into the guest: the file's data as the client's queue takes it, then its end. */
static int push(void *ctx)
{
	struct copy *c = ctx;
	struct it_error err = IT_ERROR_INIT;

	if (c->in && copy_in_push(&c->ci, remote_client(c->rm), &err) < 0)
		return stop(c, err.msg);
	return 0;
}

static int start_in(struct copy *c, unsigned mode, struct it_error *err)
{
	int r =
	    copy_in_begin(&c->ci, remote_client(c->rm), c->local, c->guest, mode, now_ms(), err);

	c->id = c->ci.id;
	return r;
}

static int start_out(struct copy *c, struct it_error *err)
{
	if (snprintf(c->part, sizeof(c->part), "%s.part", c->local) >= (int)sizeof(c->part))
		return it_error_set(err, -ENAMETOOLONG, "'%s': name too long", c->local);
	c->fd = open(c->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->fd < 0) {
		it_error_set(err, -errno, "cannot write '%s': %s", c->part, strerror(errno));
		c->part[0] = '\0';
		return err->code;
	}
	return agent_client_read_file(remote_client(c->rm), c->guest, READ_MAX, now_ms(), &c->id,
				      err);
}

/* A copy out: the checked .part file becomes the file; a failed one leaves nothing. */
static int finish_out(struct copy *c, int r, struct it_error *err)
{
	if (c->fd >= 0 && r == 0 && c->ok && (fsync(c->fd) < 0 || close(c->fd) < 0))
		r = it_error_set(err, -errno, "cannot write '%s': %s", c->part, strerror(errno));
	else if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (r == 0 && c->ok && rename(c->part, c->local) < 0)
		r = it_error_set(err, -errno, "cannot write '%s': %s", c->local, strerror(errno));
	if ((r < 0 || !c->ok) && c->part[0])
		unlink(c->part);
	return r;
}

static void local_target(struct copy *c, const char *local, const char *guest)
{
	struct stat st;

	if (!c->in && stat(local, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(c->local, sizeof(c->local), "%s/%s", local, base_of(guest));
	else
		snprintf(c->local, sizeof(c->local), "%s", local);
	if (c->in && guest[0] && guest[strlen(guest) - 1] == '/')
		snprintf(c->guest, sizeof(c->guest), "%s%s", guest, base_of(local));
	else
		snprintf(c->guest, sizeof(c->guest), "%s", guest);
}

static int cp_main(const struct cp_opts *o, const char *from, const char *to)
{
	struct it_error err = IT_ERROR_INIT;
	struct copy c;
	char vm[128];
	const char *guest = NULL;
	int r;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.ci.fd = -1;
	if (split_remote(from, vm, sizeof(vm), &guest) ==
	    split_remote(to, vm, sizeof(vm), &guest)) {
		opt_usage_error(&cp_cmd, "name the guest's side as NAME:PATH, one of the two");
		return CP_ERROR;
	}
	c.in = split_remote(to, vm, sizeof(vm), &guest);
	if (!c.in)
		split_remote(from, vm, sizeof(vm), &guest);
	local_target(&c, c.in ? from : to, guest);
	r = remote_open(&c.rm, vm, on_event, &c, &err);
	if (r == 0)
		r = c.in ? start_in(&c, o->mode, &err) : start_out(&c, &err);
	if (r == 0)
		r = remote_run(c.rm, &c.done, -1, push, &c, &err);
	if (!c.in)
		r = finish_out(&c, r, &err);
	else
		copy_in_close(&c.ci);
	if (r < 0)
		log_it_error(&err, r);
	else if (!c.ok)
		log_error("cannot copy '%s' to '%s': %s", from, to, c.error);
	else
		log_info("%s -> %s%s%s: %llu bytes, sha256 checked", c.in ? c.local : from,
			 c.in ? vm : "", c.in ? ":" : "", c.in ? c.guest : c.local,
			 (unsigned long long)c.file.size);
	remote_close(c.rm);
	if (r == -IT_EINTERRUPTED)
		return EXIT_INTERRUPTED;
	return r == 0 && c.ok ? EXIT_PASS : CP_ERROR;
}

int cmd_cp(int argc, char **argv)
{
	struct cp_opts o = {0};
	void *ctxs[] = {&o};
	int first = opt_parse(&cp_cmd, ctxs, argc, argv);

	if (first < 0)
		return first == OPT_HELP_SHOWN ? EXIT_PASS : CP_ERROR;
	if (argc - first != 2) {
		opt_usage_error(&cp_cmd, "give a source and a target");
		return CP_ERROR;
	}
	return cp_main(&o, argv[first], argv[first + 1]);
}
