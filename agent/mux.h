/* SPDX-License-Identifier: MIT */
/*
 * One agent channel, several clients: the process that runs a VM has its
 * own agent client (the scenario's steps), and 'initrd-test exec' and
 * 'initrd-test cp' from other processes send theirs through the console hub.
 * The mux sits on the guest's byte stream and routes each frame. Like the
 * client it never sees a file descriptor: it is fed bytes and hands out
 * whole frames.
 *
 * - Ids: the host's own client numbers its requests from 1 and stays below
 *   AGENT_MUX_RELAY_BASE. A relay (another process, known by a number the
 *   caller picks, not 0) numbers its own from 1 as well; each request it
 *   starts (PING, EXEC, KILL, WRITE_BEGIN, READ) gets a guest id from
 *   AGENT_MUX_RELAY_BASE up, WRITE_DATA and WRITE_END follow their
 *   WRITE_BEGIN's, and a KILL's TARGET is mapped too. Frames are rewritten
 *   (id, then CRC) both ways, so that neither side sees the other's ids.
 * - Guest to host: frames for ids below the base go to destination 0 (the
 *   host's client), frames for a mapped id to that relay with its own id,
 *   and the frame that ends a request (EXIT, OK, PONG, FILE_END, ERROR)
 *   frees the mapping. HELLO goes to destination 0 and to every attached
 *   relay, and is kept: a relay that attaches later gets it first. Frames
 *   for a mapping that is gone (its relay left) are dropped and counted.
 * - Everything the guest sends is hostile, and so is what a relay sends:
 *   a guest stream that is not frames breaks the mux for good (one line in
 *   err naming the offset, as the client says it); a relay's bad stream,
 *   or one that starts more than AGENT_MUX_MAP_MAX requests at once, only
 *   that relay (the caller drops it). Memory is fixed: the struct (two
 *   decoders and the map), nothing allocated after agent_mux_new().
 */
#ifndef IT_AGENT_MUX_H
#define IT_AGENT_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define AGENT_MUX_RELAY_BASE 0x40000000u
#define AGENT_MUX_MAP_MAX 256 /* relayed requests in flight, all relays together */
#define AGENT_MUX_RELAYS_MAX 16

/* A whole frame for destination dest (0: the host's own client, else a relay): 0 or stop. */
typedef int (*agent_mux_fn)(void *ctx, unsigned dest, const void *frame, size_t len);

struct agent_mux;

int agent_mux_new(struct agent_mux **out, agent_mux_fn fn, void *ctx);
void agent_mux_free(struct agent_mux *m);

/*
 * Bytes from the guest. 0, a callback's negative code, or -IT_EFORMAT once
 * the stream is broken ("agent channel broken at byte N: bad CRC ..."; from
 * then on nothing more is routed).
 */
int agent_mux_guest(struct agent_mux *m, const void *buf, size_t len, struct it_error *err);
/* The guest's end closed (or reopened): mappings are forgotten, the decoder starts over. */
void agent_mux_guest_reset(struct agent_mux *m);

/* A relay joins: the last HELLO, if any, is handed to it at once. -IT_ELIMIT when full. */
int agent_mux_attach(struct agent_mux *m, unsigned relay);
/*
 * Bytes a relay sent: its frames, mapped, are appended to to_guest. 0, or
 * an error that concerns this relay only (-IT_EFORMAT, -IT_ELIMIT, with
 * text in err): detach it.
 */
int agent_mux_relay(struct agent_mux *m, unsigned relay, const void *buf, size_t len,
		    struct buf *to_guest, struct it_error *err);
/* The relay left: a KILL for each of its requests in flight goes to to_guest; replies are dropped.
 */
void agent_mux_detach(struct agent_mux *m, unsigned relay, struct buf *to_guest);

struct agent_mux_stats {
	uint64_t to_host, to_relays, from_relays, dropped, hellos;
	size_t mapped; /* relayed requests in flight now */
};
void agent_mux_get_stats(const struct agent_mux *m, struct agent_mux_stats *st);

#endif
