/* SPDX-License-Identifier: MIT */
/*
 * Public interface of the agent client: the host's end of the command
 * channel into a guest (initrd-test-agent on a virtio port). Like the expect
 * engine it never sees a file descriptor: the caller feeds it the bytes the
 * guest sent, with a monotonic timestamp, and writes out the bytes it
 * queues. So it runs the same over qemu's chardev socket, a socketpair in
 * tests, or a fuzzer's input. The wire format is agent/proto.h and
 * docs/agent-protocol.md.
 */
#ifndef IT_AGENT_H
#define IT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/proto.h"
#include "common/buf.h"
#include "common/err.h"

/*
 * How the client works
 *
 * - Requests: each encoder (exec, kill, ping, file write, file read) takes
 *   a new request id (1, 2, ... never reused by this client), records the
 *   request with its start time and appends its frames to the output
 *   queue. The caller writes agent_client_output() to the channel and
 *   consumes what was written. Requests may be made before the guest's
 *   HELLO (the guest reads them once it serves the port) and any number
 *   up to AGENT_CLIENT_REQUESTS_MAX may be in flight at once: a KILL while
 *   an EXEC runs, a poll while a copy goes on.
 * - Events: agent_client_feed() decodes frames and calls the event callback
 *   once per event, in stream order: HELLO, data of request N (stdout,
 *   stderr, file data), and the one event that ends request N (EXIT, OK,
 *   PONG, FILE_END, or ERROR). Data is borrowed for the callback's
 *   duration only; the client keeps no output. A callback may make new
 *   requests; it must not free the client.
 * - Everything the guest sends is hostile input. A frame that is not one
 *   (bad magic, bad CRC, a length over AGENT_FRAME_MAX), a type the guest
 *   never sends, a frame out of place (data before HELLO, STDOUT for a file
 *   read, output for a request never made or already ended, a second event
 *   that ends a request), fields that overrun their frame, a required field
 *   missing or of the wrong size: each breaks the channel with one line in
 *   the error, naming what was wrong and the stream offset of the frame,
 *   e.g. "agent channel broken at byte 1040: bad CRC (frame says
 *   0x1234abcd, computed 0x99887766)". From then on feed() only counts
 *   bytes and returns -IT_EFORMAT; the caller drops the channel (the VM's
 *   console is untouched).
 * - Caps: an EXEC's stdout_max/stderr_max go to the guest, which forwards
 *   that much and counts the rest; the client enforces the same caps on
 *   what arrives (a guest that ignores them is cut), and a file read's
 *   max_size likewise: data past a cap is dropped and counted, and shows
 *   in the EXIT's dropped counts (guest's and client's added) or as a
 *   request error (-IT_ELIMIT) for a read. Past a cap nothing is kept.
 * - A second HELLO means the agent reopened its port (the host side
 *   reconnected, or the agent restarted): every request in flight ends with
 *   an ERROR event (-ECONNRESET, "the agent restarted"), and frames that
 *   still arrive for such requests are dropped and counted (stale), not an
 *   error.
 * - Timeouts are the caller's: the client keeps each request's start time,
 *   and agent_client_overdue() names the oldest request past an age. An
 *   EXEC's own timeout_ms is enforced by the guest (SIGTERM, then SIGKILL to
 *   its process group) and reported in its EXIT.
 * - Memory is bounded: at most sizeof(struct agent_client), which is about
 *   AGENT_WIRE_MAX + AGENT_CLIENT_REQUESTS_MAX * 200 bytes, plus the output
 *   queue, at most AGENT_CLIENT_OUTPUT_MAX (agent_client_mem_size() says
 *   what it holds now). Feeding any amount of input allocates nothing.
 */

#define AGENT_CLIENT_REQUESTS_MAX 64
#define AGENT_CLIENT_OUTPUT_MAX (1024 * 1024) /* bytes queued for the guest, unwritten */
#define AGENT_CLIENT_TEXT_MAX 256	      /* longest HELLO string or error message kept */

enum agent_event_type {
	AGENT_EV_HELLO = 0, /* the agent is up (again) */
	AGENT_EV_STDOUT,    /* data: a chunk of request N's stdout */
	AGENT_EV_STDERR,    /* data: a chunk of its stderr */
	AGENT_EV_FILE_DATA, /* data: a chunk of a file read */
	AGENT_EV_EXIT,	    /* ends an EXEC: exit */
	AGENT_EV_FILE_END,  /* ends a file read: file (checked against the data received) */
	AGENT_EV_OK,	    /* ends a file write (file) or a KILL */
	AGENT_EV_PONG,	    /* ends a PING: data (echoed), rtt_ms */
	AGENT_EV_ERROR,	    /* ends any request: error */
};

enum agent_req_kind {
	AGENT_REQ_NONE = 0,
	AGENT_REQ_PING,
	AGENT_REQ_EXEC,
	AGENT_REQ_KILL,
	AGENT_REQ_WRITE,
	AGENT_REQ_READ,
};

struct agent_hello {
	uint64_t version;		       /* AGENT_PROTO_VERSION of the guest */
	uint64_t caps;			       /* enum agent_caps */
	char agent[AGENT_CLIENT_TEXT_MAX];     /* "initrd-test-agent 0.1.0" */
	char uname[AGENT_CLIENT_TEXT_MAX];     /* "Linux 6.1.0-56-amd64 #1 SMP ... x86_64" */
	char transport[AGENT_CLIENT_TEXT_MAX]; /* "/dev/vport1p1" */
};

struct agent_exit {
	int exit_code;		 /* 0-255, or -1 when a signal ended it */
	int signal;		 /* the signal, or 0 */
	bool timed_out;		 /* the guest stopped it at its timeout_ms */
	bool killed;		 /* a KILL stopped it */
	uint64_t dropped_stdout; /* bytes over the cap: the guest's count plus the client's */
	uint64_t dropped_stderr;
	uint64_t stdout_bytes; /* bytes delivered in STDOUT events */
	uint64_t stderr_bytes;
	int64_t duration_ms; /* as the guest measured it */
};

struct agent_file {
	uint64_t size;	    /* bytes written or read */
	uint8_t sha256[32]; /* the guest's; for a read, also what the client computed */
};

struct agent_event {
	enum agent_event_type type;
	uint32_t id;		  /* the request; 0 for HELLO */
	enum agent_req_kind kind; /* the request's kind; NONE for HELLO */
	struct blob data;	  /* STDOUT, STDERR, FILE_DATA, PONG: borrowed */
	int64_t rtt_ms;		  /* ending events: now_ms - the request's start */
	const struct agent_hello *hello;
	const struct agent_exit *exit;
	const struct agent_file *file;
	/* ERROR: the guest's errno as -errno (-ENOENT), or -IT_ELIMIT, -IT_ECHECKSUM,
	 * -ECONNRESET from the client; message: the guest's text ("cannot open '/x': No such
	 * file or directory", control bytes as '?') or the client's */
	int error;
	const char *message;
};

/* 0 to go on; a negative code stops feed() there and becomes its result. */
typedef int (*agent_event_fn)(void *ctx, const struct agent_event *ev);

struct agent_client_stats {
	uint64_t bytes_in, frames_in;
	uint64_t bytes_out, frames_out; /* queued */
	uint64_t dropped;		/* data bytes the client cut at a cap */
	uint64_t stale_frames;		/* frames for requests ended by a restart */
	uint64_t hellos;
};

struct agent_client; /* opaque */

/* A new client; fn (not NULL) gets every event with ctx. The caller owns *out. */
int agent_client_new(struct agent_client **out, agent_event_fn fn, void *ctx);
void agent_client_free(struct agent_client *c);

/*
 * Feed bytes the guest sent, read at now_ms (CLOCK_MONOTONIC ms). Returns 0,
 * -IT_EFORMAT once the channel is broken (err: the one line above), or a
 * callback's negative code (the rest of buf is not looked at then).
 */
int agent_client_feed(struct agent_client *c, const void *buf, size_t len, int64_t now_ms,
		      struct it_error *err);
/*
 * The channel closed (qemu exited, the socket hung up): every request in
 * flight ends with an ERROR event (-EPIPE). Requests can still be made and
 * are queued, for a channel that reconnects.
 */
int agent_client_eof(struct agent_client *c, int64_t now_ms);
bool agent_client_broken(const struct agent_client *c);
/* The HELLO of the agent serving now, or NULL before the first. Owned by the client. */
const struct agent_hello *agent_client_hello(const struct agent_client *c);

struct agent_exec_opts {
	const char *cmd;     /* for /bin/sh -c */
	int64_t timeout_ms;  /* the guest stops it after this; 0: never */
	uint64_t stdout_max; /* bytes forwarded; 0: AGENT_EXEC_OUTPUT_DEFAULT */
	uint64_t stderr_max;
	struct blob stdin_data; /* fed to its stdin; empty: /dev/null */
};
/* Forwarded when stdout_max or stderr_max is 0. */
#define AGENT_EXEC_OUTPUT_DEFAULT (1024 * 1024)

/*
 * Request encoders. Each returns 0 with *id set (id may be NULL), or an
 * error with nothing queued: -IT_ELIMIT when the output queue has no room
 * for it (write some out first) or AGENT_CLIENT_REQUESTS_MAX are in flight,
 * -EINVAL for bad arguments (a command or path with a NUL byte, a relative
 * path, a command and stdin that together do not fit in one frame of
 * AGENT_FRAME_MAX), -IT_EFORMAT on a broken channel; err says which.
 */
int agent_client_ping(struct agent_client *c, struct blob data, int64_t now_ms, uint32_t *id,
		      struct it_error *err);
int agent_client_exec(struct agent_client *c, const struct agent_exec_opts *o, int64_t now_ms,
		      uint32_t *id, struct it_error *err);
/* Stop request 'target': an EXEC's process group (SIGTERM, SIGKILL after 1 s) or a copy. */
int agent_client_kill(struct agent_client *c, uint32_t target, int64_t now_ms, uint32_t *id,
		      struct it_error *err);
/*
 * Copy a file into the guest: begin (path absolute, mode bits, the exact
 * size), data in any pieces (split into frames; -IT_ELIMIT with nothing
 * queued when the output queue lacks room: see agent_client_output_room()),
 * then end with the SHA-256 of the data (NULL: the one the client computed
 * over what was given). The guest writes a temp file beside the path,
 * checks size and SHA-256, fsyncs and renames it; OK (with the guest's
 * size and SHA-256) or ERROR ends the request. After an ERROR event, more
 * data for the copy is refused (-ESRCH).
 */
int agent_client_write_begin(struct agent_client *c, const char *path, unsigned mode, uint64_t size,
			     int64_t now_ms, uint32_t *id, struct it_error *err);
int agent_client_write_data(struct agent_client *c, uint32_t id, const void *data, size_t len,
			    struct it_error *err);
int agent_client_write_end(struct agent_client *c, uint32_t id, const uint8_t *sha256,
			   struct it_error *err);
/*
 * Copy a file out of the guest: FILE_DATA events, then FILE_END once the
 * size and SHA-256 the guest sends match what arrived (else ERROR
 * -IT_ECHECKSUM); more than max_size bytes (0: no cap) end it with ERROR
 * -IT_ELIMIT and a KILL is queued to stop the guest sending.
 */
int agent_client_read_file(struct agent_client *c, const char *path, uint64_t max_size,
			   int64_t now_ms, uint32_t *id, struct it_error *err);

/*
 * Bytes waiting to be written to the channel, oldest first. The view is
 * valid until the next call that takes a non-const client.
 */
struct blob agent_client_output(const struct agent_client *c);
void agent_client_output_consume(struct agent_client *c, size_t n);
/* How many more bytes the output queue takes now. */
size_t agent_client_output_room(const struct agent_client *c);

/* Requests in flight. */
size_t agent_client_inflight(const struct agent_client *c);
/* Request id's kind and start (CLOCK_MONOTONIC ms); false when it is not in flight. */
bool agent_client_request(const struct agent_client *c, uint32_t id, enum agent_req_kind *kind,
			  int64_t *start_ms);
/* The oldest request in flight that started max_age_ms or more before now_ms: true and *id. */
bool agent_client_overdue(const struct agent_client *c, int64_t now_ms, int64_t max_age_ms,
			  uint32_t *id);

void agent_client_get_stats(const struct agent_client *c, struct agent_client_stats *st);
/* Bytes of heap the client holds now: the struct and the output queue's allocation. */
size_t agent_client_mem_size(const struct agent_client *c);

/* "exec", "kill", ... */
const char *agent_req_kind_name(enum agent_req_kind k);

#endif
