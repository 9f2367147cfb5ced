// SPDX-License-Identifier: MIT
/*
 * Checkpoints: a running VM's whole state saved to a file with qemu's
 * migration ("migrate" to an fd handed over with "getfd"), and a VM started
 * with '-incoming defer' loading it back ("migrate-incoming").
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "common/util.h"
#include "runner/internal.h"

#define MIGRATE_FD_NAME "initrd-test-checkpoint"
#define MIGRATE_POLL_MS 10
#define REPLY_MAX 4096

/* The text after "key": "..." in a QMP line, into out; "" when not there. */
static void json_text(const char *line, const char *key, char *out, size_t outsz)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	p = strstr(line, pat);
	if (!p || !outsz) {
		if (outsz)
			out[0] = '\0';
		return;
	}
	p += strlen(pat);
	end = strchr(p, '"');
	if (!end)
		end = p + strlen(p);
	snprintf(out, outsz, "%.*s", (int)(end - p), p);
}

/* qemu's stderr on one line: "a; b", without its "qemu-system-x86_64: " before each. */
static void one_line(const char *text, char *out, size_t outsz)
{
	size_t n = 0;

	for (const char *p = text; *p && n + 3 < outsz;) {
		const char *colon = strstr(p, ": "), *nl = strchr(p, '\n');

		if (colon && (!nl || colon < nl) && !memchr(p, ' ', (size_t)(colon - p)) &&
		    strstr(p, "qemu") == p)
			p = colon + 2;
		while (*p && *p != '\n' && n + 3 < outsz)
			out[n++] = *p++;
		while (*p == '\n')
			p++;
		if (*p && n + 3 < outsz) {
			out[n++] = ';';
			out[n++] = ' ';
		}
	}
	out[n] = '\0';
}

/* What went wrong, in qemu's words when it said any: its reply, or its stderr once it died. */
static int qmp_failed(struct vm *vm, const char *what, int r, const char *reply,
		      struct it_error *err)
{
	char desc[512], how[128];

	if (r == -IT_EVM) {
		json_text(reply, "desc", desc, sizeof(desc));
		return it_error_set(err, -IT_EVM, "%s: qemu says: %s", what, desc);
	}
	if (vmi_reap(vm, WNOHANG) || r == -ECONNRESET) {
		vmi_pump_stderr(vm);
		vmi_reap(vm, 0);
		one_line(vm->errtext.len ? vm->errtext.data : "(no message)", desc, sizeof(desc));
		return it_error_set(err, -IT_EVM, "%s: '%s' %s: %s", what, vm->name,
				    vm_describe_exit(vm, how, sizeof(how)), desc);
	}
	return it_error_set(err, r == -IT_ETIMEOUT ? -IT_ETIMEOUT : -IT_EVM, "%s: %s", what,
			    it_strerror(r));
}

/* Ask "query-migrate" until the migration is over: 0 completed, else the error. */
static int wait_migration(struct vm *vm, struct vmi_qmp *q, const char *what, int64_t deadline,
			  struct it_error *err)
{
	char reply[REPLY_MAX], status[64], desc[512];
	int r;

	for (;;) {
		r = vmi_qmp_call(q, "{\"execute\": \"query-migrate\"}\n", -1, reply, sizeof(reply),
				 deadline);
		if (r < 0)
			return qmp_failed(vm, what, r, reply, err);
		json_text(reply, "status", status, sizeof(status));
		if (!strcmp(status, "completed"))
			return 0;
		if (!strcmp(status, "failed") || !strcmp(status, "cancelled")) {
			json_text(reply, "error-desc", desc, sizeof(desc));
			return it_error_set(err, -IT_EVM, "%s: the migration %s: %s", what, status,
					    desc[0] ? desc : "qemu gave no reason");
		}
		if (now_ms() >= deadline)
			return it_error_set(err, -IT_ETIMEOUT,
					    "%s: not done after the time allowed", what);
		poll(NULL, 0, MIGRATE_POLL_MS);
	}
}

/* Run the commands in order (the fd goes with the one that is "getfd"). */
static int qmp_calls(struct vm *vm, struct vmi_qmp *q, const char *const *cmds, int fd,
		     const char *what, int64_t deadline, struct it_error *err)
{
	char reply[REPLY_MAX] = "";
	int r;

	for (size_t i = 0; cmds[i]; i++) {
		bool getfd = strstr(cmds[i], "\"getfd\"") != NULL;

		r = vmi_qmp_call(q, cmds[i], getfd ? fd : -1, reply, sizeof(reply), deadline);
		if (r < 0)
			return qmp_failed(vm, what, r, reply, err);
	}
	return 0;
}

static int open_qmp(struct vm *vm, struct vmi_qmp *q, const char *what, int64_t deadline,
		    struct it_error *err)
{
	int r;

	if (!vm->qmp_path)
		return it_error_set(err, -IT_EUSAGE, "%s: only qemu has checkpoints", what);
	r = vmi_qmp_open(q, vm->qmp_path, deadline);
	return r < 0 ? qmp_failed(vm, what, r, "", err) : 0;
}

int vm_save(struct vm *vm, int fd, int timeout_ms, struct it_error *err)
{
	static const char *const before[] = {
	    "{\"execute\": \"stop\"}\n",
	    /* qemu's default cap is 32 MiB/s; a file takes what it gets. */
	    "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
	    "{\"max-bandwidth\": 1099511627776}}\n",
	    "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"" MIGRATE_FD_NAME "\"}}\n",
	    "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"fd:" MIGRATE_FD_NAME "\"}}\n",
	    NULL};
	static const char *const after[] = {"{\"execute\": \"cont\"}\n", NULL};
	const char *what = "cannot save the VM";
	int64_t deadline = now_ms() + timeout_ms;
	struct vmi_qmp q;
	int resumed, r = open_qmp(vm, &q, what, deadline, err);

	if (r < 0)
		return r;
	r = qmp_calls(vm, &q, before, fd, what, deadline, err);
	if (r == 0)
		r = wait_migration(vm, &q, what, deadline, err);
	/* The guest goes on, saved or not. */
	resumed = qmp_calls(vm, &q, after, -1, "cannot resume the VM after saving it", deadline,
			    r < 0 ? NULL : err);
	vmi_qmp_close(&q);
	return r < 0 ? r : resumed;
}

int vm_restore(struct vm *vm, int fd, int timeout_ms, struct it_error *err)
{
	static const char *const load[] = {
	    "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"" MIGRATE_FD_NAME "\"}}\n",
	    "{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"fd:" MIGRATE_FD_NAME
	    "\"}}\n",
	    NULL};
	/* The source was paused when it was saved, so the loaded VM is paused too. */
	static const char *const run[] = {"{\"execute\": \"cont\"}\n", NULL};
	const char *what = "cannot restore the VM";
	int64_t deadline = now_ms() + timeout_ms;
	struct vmi_qmp q;
	int r = open_qmp(vm, &q, what, deadline, err);

	if (r < 0)
		return r;
	r = qmp_calls(vm, &q, load, fd, what, deadline, err);
	if (r == 0)
		r = wait_migration(vm, &q, what, deadline, err);
	if (r == 0)
		r = qmp_calls(vm, &q, run, -1, what, deadline, err);
	vmi_qmp_close(&q);
	return r;
}
