/* SPDX-License-Identifier: MIT */
/* Private to runner/: the VM object and the helpers its files share. */
#ifndef IT_RUNNER_INTERNAL_H
#define IT_RUNNER_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "runner/runner.h"

struct vm {
	struct vm_info info;
	enum vm_backend backend;
	char *binary_path;  /* resolved executable; info.binary points here */
	char *name;	    /* basename of argv[0], for messages */
	char *runtime_dir;  /* private, removed by vm_free(); info.runtime_dir points here */
	char *qmp_path;	    /* NULL for crosvm */
	int console_fd;	    /* pty master, O_NONBLOCK */
	bool console_eof;   /* the slave side closed (EIO) */
	int stderr_fd;	    /* read end of the backend's stderr, O_NONBLOCK; -1 after EOF */
	int input_fd;	    /* borrowed, -1 when none */
	struct buf outq;    /* typed bytes waiting for the pty (cap VM_WRITE_QUEUE_MAX) */
	struct buf errtext; /* the first VM_STDERR_MAX bytes of stderr */
	struct vm_hub *hub; /* console socket and clients; NULL until vm_hub_enable() */
	int agent_fd;	    /* our end of the agent channel's socketpair, O_NONBLOCK; -1: none */
	struct buf agentq;  /* bytes for the agent (cap VM_AGENT_QUEUE_MAX) */
	bool agent_paused;  /* vm_agent_pause(): not read for now */
	char step[256];	    /* vm_hub_set_status() text, kept for a later vm_hub_enable() */
};

/*
 * Read what the console has now (a bounded number of chunks) and hand it to
 * ops->on_output (ops may be NULL: discard). Returns the first non-zero
 * callback result, -errno on a read error, else 0. Sets console_eof on EIO.
 */
int vmi_pump_console(struct vm *vm, const struct vm_ops *ops, void *ctx);
/* Read what stderr has now into errtext (bytes beyond the cap are dropped). */
void vmi_pump_stderr(struct vm *vm);
/*
 * Wait for the VM with 'flags' (0 or WNOHANG): 1 when it has been reaped
 * (now or before), 0 when it still runs. Before reaping, whatever is left
 * in its process group is killed.
 */
int vmi_reap(struct vm *vm, int flags);
/* Send QMP "qmp_capabilities" then "quit" on the socket at path, by deadline_ms. */
int vmi_qmp_quit(const char *path, int64_t deadline_ms);

/*
 * A QMP session (qmp.c): open connects (waiting for qemu to make its socket
 * until deadline_ms), reads the greeting and leaves the negotiation done.
 * call sends one command (passfd >= 0: that fd goes along, as "getfd"
 * wants) and reads until its answer, skipping events; the answer's line
 * goes into reply (may be NULL). 0 for a "return", -IT_EVM for an "error"
 * (reply holds it), -ECONNRESET when qemu closed the socket, -IT_ETIMEOUT.
 */
struct vmi_qmp {
	int fd;
	struct buf in;
};
int vmi_qmp_open(struct vmi_qmp *q, const char *path, int64_t deadline_ms);
int vmi_qmp_call(struct vmi_qmp *q, const char *cmd, int passfd, char *reply, size_t replysz,
		 int64_t deadline_ms);
void vmi_qmp_close(struct vmi_qmp *q);

/* ---- the console hub (hub.c), driven by vm_run()'s loop ---- */

/* The slots of vm_run()'s pollfd array that belong to the hub: the listening socket, then clients.
 */
#define VMI_HUB_PFDS (1 + VM_HUB_CLIENTS_MAX)

/* Fill p[0..VMI_HUB_PFDS) (fd -1 where there is nothing to watch). */
void vmi_hub_fill(struct vm *vm, struct pollfd *p);
/*
 * Serve what poll() reported in those slots: new clients, their frames, their
 * output queues; AGENT frames go to ops->on_hub_agent (its result, when
 * negative, is returned).
 */
int vmi_hub_handle(struct vm *vm, const struct pollfd *p, const struct vm_ops *ops, void *ctx);
/* A console chunk: into the replay ring and every client's queue. */
void vmi_hub_output(struct vm *vm, const char *buf, size_t len);
/* A client asked for a power-off that vm_run() has not carried out yet. */
bool vmi_hub_poweroff_requested(const struct vm *vm);
/*
 * The VM is gone (or going): tell every client why (BYE), give them up to a
 * moment to read it, close them, and remove the socket and metadata file.
 * The hub stays allocated (vm_hub_name() is then NULL). Idempotent.
 */
void vmi_hub_retire(struct vm *vm, const char *reason);
void vmi_hub_free(struct vm *vm);
/*
 * Remove cursor-position reports (ESC [ digits ; digits R) from buf, in
 * place; returns the new length. Split reports are not recognised.
 */
size_t vmi_hub_strip_cpr(char *buf, size_t len);
/* Replace control characters (and a final newline) with spaces, for one-line values. */
void vmi_hub_flatten(char *s);

#endif
