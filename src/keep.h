/* SPDX-License-Identifier: MIT */
/* Keep a VM alive for hands-on work: serve its console to 'attach' clients, this terminal first. */
#ifndef IT_KEEP_H
#define IT_KEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "runner/runner.h"
#include "src/agentlink.h"
#include "src/result.h"

/* How a kept VM ended: keep_serve()'s positive results. */
enum keep_end {
	KEEP_EXITED = 1,  /* the guest powered itself off, or its backend exited with status 0 */
	KEEP_POWERED_OFF, /* a console client asked: Ctrl-] q, 'initrd-test stop' */
	KEEP_SIGNALLED,	  /* SIGINT or SIGTERM came to this process; the VM has been stopped */
};

struct keep_opts {
	/* Attach this terminal at once, in a child process, when stdin and stdout are terminals. */
	bool attach;
	/* The step 'initrd-test ps' shows meanwhile ("kept after the run failed"); NULL: unchanged.
	 */
	const char *status;
	/* A suite's progress pipe: one "kept: initrd-test attach NAME" line; -1: none. */
	int status_fd;
	/* Every console chunk while kept (for logs), raw; NULL: none. 0 goes on, <0 ends. */
	int (*on_output)(void *ctx, const char *buf, size_t len, int64_t now_ms);
	void *ctx;
	struct agentlink *link; /* serves 'initrd-test exec' and 'cp' on the VM; NULL: none */
};

void keep_opts_init(struct keep_opts *ko);

/* Whether this terminal can be attached: stdin and stdout are both terminals. */
bool keep_can_attach(void);

/*
 * Serve the console hub of a running VM (vm_hub_enable() done) until the VM
 * exits, a console client powers it off, or SIGINT/SIGTERM comes; then stop
 * the VM (vm_stop) if it still runs. Tells the user on stderr how to attach
 * and how to end it. With ko->attach on a terminal, a child process runs
 * 'initrd-test attach NAME' on this terminal while this process goes on
 * serving the hub (the hub must be served from the thread that runs vm_run);
 * once the user detaches, the VM keeps running here and Enter on this
 * terminal attaches again. The child is always waited for before returning,
 * so that the terminal is back in its own modes.
 *
 * Returns a keep_end, or a negative code with err set: -IT_EUSAGE when the
 * VM has no console hub or has already exited, -IT_EVM when the backend
 * dies (exits with an error or by a signal), -errno on a system failure.
 * The VM is stopped (or found exited) in every case; vm_free() stays the
 * caller's.
 */
int keep_serve(struct vm *vm, const struct keep_opts *ko, struct it_error *err);

/* Whether a run with this verdict keeps its VM under --keep: failed, crashed or timed out. */
bool keep_wanted(enum run_verdict v);

/*
 * The end of a 'run' with --keep or --attach-on-fail (vm may be NULL or
 * already exited): when keep_wanted(rep->verdict), keep the VM with
 * keep_serve() (attaching this terminal when 'attach' is set, the terminal
 * allows it and no suite runs us, status_fd < 0); in every case stop the VM
 * before returning. Errors are printed; the run's verdict stands whatever
 * happens here ('run' exits 130 when a Ctrl-C or SIGTERM ended the keep).
 */
void keep_after_run(struct vm *vm, const struct result_run *rep, bool attach, int status_fd,
		    struct agentlink *link);

#endif
