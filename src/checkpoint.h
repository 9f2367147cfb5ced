/* SPDX-License-Identifier: MIT */
/*
 * Checkpoints: the 'checkpoint NAME' step of a scenario. The first run
 * that reaches it saves its whole VM there (qemu's migration into a file,
 * runner/runner.h vm_save()); every later run whose scenario has the same
 * prefix restores that file (vm_restore()) instead of booting, and goes on
 * from the step after it. The milestones of the prefix are the saving
 * run's.
 *
 * The key: checkpoint_key() is the SHA-256 of everything that shaped the
 * saved machine: the initrd's and the kernel's bytes, the VM's command line
 * (its image paths taken out, the accelerator resolved), the qemu binary
 * (its '--version' line, size and mtime), every step up to and with the
 * checkpoint (kind, text, timeouts, statuses; a copied-in file's bytes),
 * the fail patterns and the agent channel. Anything else (the run's
 * timeout, the steps after, budgets) may differ between scenarios that
 * share one.
 *
 * The cache: CACHE/checkpoints/KEY/ (KEY: 16 hex digits) holds 'state'
 * (the migration stream), 'meta.json' (the prefix's step times, lines and
 * captures, the console's first-byte time, whether the agent had said
 * HELLO, name, scenario, size, creation time; its mtime is the last use)
 * and the prefix's console.raw and console.log. A directory appears whole
 * (made as KEY.tmp.PID, then renamed). CACHE/checkpoints/KEY.lock
 * serializes its makers: checkpoint_open() takes it; a complete checkpoint
 * is read, its state opened, and the lock let go (the run restores);
 * otherwise the run keeps the lock and makes it (checkpoint_save()), and
 * the runs of the same key wait for it: with -j N one boot, then N-1
 * restores at once. Each restore reads the file into its own qemu's
 * memory: no two VMs share state, and the file is never written again.
 * VMs with disks (-drive and the like in qemu-args) have no checkpoints:
 * their disk would be shared and changed under a restore.
 *
 * Bounds: after each save, checkpoints unused for CHECKPOINT_MAX_AGE_S go,
 * then the least recently used until all fit in CHECKPOINT_MAX_BYTES
 * (the new one stays). 'initrd-test cache' lists and prunes them by hand.
 */
#ifndef IT_CHECKPOINT_H
#define IT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "expect/expect.h"
#include "runner/runner.h"
#include "scenario/scenario.h"

#define CHECKPOINT_SUBDIR "checkpoints"
#define CHECKPOINT_MAX_BYTES (4ULL << 30)
#define CHECKPOINT_MAX_AGE_S (30LL * 24 * 3600)
#define CHECKPOINT_SAVE_TIMEOUT_MS 120000
#define CHECKPOINT_RESTORE_TIMEOUT_MS 120000

/*
 * Why s can have no checkpoint ("the crosvm backend has no checkpoints",
 * "the VM has a disk ('-drive' in qemu-args) ..."), or NULL when it can.
 * Static text.
 */
const char *checkpoint_unsupported(const struct scenario *s);

/*
 * The key of s's checkpoint (s has one, its images are set) for accel (a
 * resolved one) and qemu (the binary's identity: checkpoint_qemu_id()),
 * as 64 hex digits. Errors name the file that cannot be read.
 */
int checkpoint_key(const struct scenario *s, enum vm_accel accel, const char *qemu, char key[65],
		   struct it_error *err);
/* "QEMU emulator version 7.2.19 size=... mtime=..." of the binary s would run. */
int checkpoint_qemu_id(const struct scenario *s, struct buf *out, struct it_error *err);

struct checkpoint;

/*
 * Find or claim the checkpoint of s in cache (NULL: builder's default
 * cache) as described above; status_fd gets "waiting for checkpoint NAME"
 * while another run makes it. Afterwards either checkpoint_prefix() is not
 * NULL (restore it) or the run makes it. A Ctrl-C while waiting:
 * -IT_EINTERRUPTED. A checkpoint found broken (no meta, a state of the
 * wrong size) is removed and made again.
 */
int checkpoint_open(struct checkpoint **out, const struct scenario *s, const char *cache,
		    int status_fd, struct it_error *err);
/* Let go of the lock (when still held) and free. NULL is fine. */
void checkpoint_close(struct checkpoint *cp);

const char *checkpoint_name(const struct checkpoint *cp);
/* The short key: the directory's name. */
const char *checkpoint_id(const struct checkpoint *cp);
/* This run holds the lock: it is to save the checkpoint when it reaches the step. */
bool checkpoint_making(const struct checkpoint *cp);

/* What a restoring run takes over from the saving one. */
struct checkpoint_prefix {
	struct expect_restored steps; /* steps [0, upto) and the captures */
	int64_t at_ms;		      /* the checkpoint step's time in the saving run */
	int64_t first_byte_ms;	      /* its first console byte; -1: none */
	bool agent_ready;	      /* its agent had said HELLO (a RESUME gets a new one) */
	struct blob raw, log;	      /* its console.raw and console.log up to the save */
	uint64_t state_bytes;
};
/* NULL when the run makes the checkpoint. */
const struct checkpoint_prefix *checkpoint_prefix(const struct checkpoint *cp);
/* The saved state, open for reading (the checkpoint's; do not close it). */
int checkpoint_state_fd(const struct checkpoint *cp);

/*
 * The restore failed: the state that could not be restored is removed
 * (when it is still the one on disk, and no other run holds the lock),
 * and this run makes it again after its fresh boot (true), or leaves that
 * to the run that holds the lock (false).
 */
bool checkpoint_restore_failed(struct checkpoint *cp);

/* What the saving run knows at the step. */
struct checkpoint_run {
	const struct expect *e; /* its engine: step times, lines, captures */
	size_t upto;		/* the checkpoint step's index */
	int64_t at_ms;		/* now, on the engine's clock */
	int64_t first_byte_ms;
	bool agent_ready;
	const char *run_dir; /* its console.raw and console.log, as written so far */
	const char *scenario;
};

/*
 * Save vm into the checkpoint (checkpoint_making()): the state, meta.json
 * and the console files into a new directory, renamed into place; the lock
 * is let go and the cache pruned. *bytes and *ms: the state's size and the
 * save's time. On failure nothing is left, and the next run of the key
 * tries again.
 */
int checkpoint_save(struct checkpoint *cp, struct vm *vm, const struct checkpoint_run *run,
		    uint64_t *bytes, int64_t *ms, struct it_error *err);

/* ---- the cache (initrd-test cache) --------------------------------------------------------- */

struct checkpoint_entry {
	char id[17];
	char *name, *scenario; /* from meta.json; "?" when it cannot be read */
	uint64_t bytes;	       /* the whole directory */
	int64_t created, used; /* unix seconds */
	bool broken;	       /* no readable meta.json or state (a crashed save) */
};
struct checkpoint_list {
	struct checkpoint_entry *v;
	size_t n;
};

/* The checkpoints in cache (NULL: the default), least recently used first. */
int checkpoint_list(const char *cache, struct checkpoint_list *list, struct it_error *err);
void checkpoint_list_release(struct checkpoint_list *list);

/*
 * Remove checkpoints: all of them (all), else the broken ones, those
 * unused for more than max_age_s (<0: no limit), then the least recently
 * used until the rest fit in max_bytes (0: no limit); 'keep' (an id, may
 * be NULL) stays. A checkpoint whose lock another run holds stays too.
 * *removed and *freed count what went.
 */
int checkpoint_prune(const char *cache, bool all, int64_t max_age_s, uint64_t max_bytes,
		     const char *keep, size_t *removed, uint64_t *freed, struct it_error *err);

/* CACHE/checkpoints (cache NULL: the default) into out. */
int checkpoint_dir(const char *cache, char *out, size_t outsz);

#endif
