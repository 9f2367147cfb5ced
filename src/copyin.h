/* SPDX-License-Identifier: MIT */
/*
 * A host file copied into the guest through an agent client: the WRITE
 * request's begin, then the file's data as the client's output queue takes
 * it (read as it goes, any size), then its end with the SHA-256 the client
 * computed. Shared by the scenario's copy-in step (src/agentsteps.c) and
 * 'initrd-test cp' (src/cmd_cp.c). The caller owns the struct and closes it;
 * the guest's OK or ERROR event ends the request as for any WRITE.
 */
#ifndef IT_COPYIN_H
#define IT_COPYIN_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "common/err.h"

struct copy_in {
	int fd;	       /* the host file; -1 when closed */
	uint32_t id;   /* the WRITE request */
	uint64_t size; /* the file's size when it was opened */
	uint64_t done; /* bytes queued */
	bool ended;    /* WRITE_END queued */
};

/*
 * Open 'local' (a regular file) and begin its copy to 'guest' with 'mode'
 * (0: the file's own bits). -IT_EUSAGE "cannot read 'LOCAL': ..." when it
 * cannot be read, or the client's error; ci->fd is -1 then.
 */
int copy_in_begin(struct copy_in *ci, struct agent_client *c, const char *local, const char *guest,
		  unsigned mode, int64_t now_ms, struct it_error *err);
/* Queue what fits now, and the end once all is queued: 0, or an error in err. */
int copy_in_push(struct copy_in *ci, struct agent_client *c, struct it_error *err);
void copy_in_close(struct copy_in *ci);

#endif
