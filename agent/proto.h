/* SPDX-License-Identifier: MIT */
/*
 * The agent's wire protocol, shared by the host's client and the guest
 * program: frame layout, message types, TLV fields, CRC-32 and a streaming
 * frame decoder. It depends on libc only (string.h, stdint.h), so the guest
 * builds it against any static libc. docs/agent-protocol.md is the
 * reference; this header is its code.
 */
#ifndef IT_AGENT_PROTO_H
#define IT_AGENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A frame (all integers little-endian):
 *
 *   offset size
 *   0      4    magic: 0x7f 'I' 'T' 'A'
 *   4      1    type (enum agent_type)
 *   5      1    flags: 0 (receivers ignore it)
 *   6      2    reserved: 0 (receivers ignore it)
 *   8      4    request id: chosen by the host, 1 upward; 0 for HELLO
 *   12     4    payload length, at most AGENT_FRAME_MAX
 *   16     4    CRC-32 (zlib's) over bytes 0-15, then over the payload
 *   20     len  payload: TLV fields
 *
 * A TLV field: tag (2 bytes), length (4 bytes), then that many bytes.
 * Integers are 8-byte little-endian fields; strings and data are raw bytes,
 * without a NUL. Fields may come in any order; unknown tags are skipped, so
 * a newer peer may add fields; a known tag of the wrong size is an error.
 */
#define AGENT_MAGIC0 0x7f
#define AGENT_MAGIC1 'I'
#define AGENT_MAGIC2 'T'
#define AGENT_MAGIC3 'A'
#define AGENT_HDR_SIZE 20
#define AGENT_FRAME_MAX (64 * 1024)			  /* largest payload */
#define AGENT_TLV_HDR 6					  /* tag + length */
#define AGENT_DATA_MAX (AGENT_FRAME_MAX - 64)		  /* data bytes carried by one frame */
#define AGENT_WIRE_MAX (AGENT_HDR_SIZE + AGENT_FRAME_MAX) /* largest frame on the wire */
#define AGENT_PROTO_VERSION 1

/* The virtio port name the agent looks for in /sys/class/virtio-ports/vportNpM/name. */
#define AGENT_PORT_NAME "org.initrd-test.agent"

enum agent_type {
	/* guest -> host */
	AGENT_HELLO = 0x01,	/* id 0: VERSION, AGENT, CAPS, UNAME, TRANSPORT */
	AGENT_PONG = 0x03,	/* DATA (PING's, echoed) */
	AGENT_OK = 0x04,	/* a WRITE_END or KILL done: WRITE: SIZE, SHA256 */
	AGENT_STDOUT = 0x11,	/* DATA */
	AGENT_STDERR = 0x12,	/* DATA */
	AGENT_EXIT = 0x13,	/* STATUS or SIGNAL, TIMED_OUT, KILLED, DROPPED_*, DURATION_MS */
	AGENT_FILE_DATA = 0x24, /* DATA */
	AGENT_FILE_END = 0x25,	/* SIZE, SHA256 */
	AGENT_ERROR = 0x7f,	/* ERRNO, MESSAGE; id 0: about the stream, not a request */
	/* host -> guest */
	AGENT_PING = 0x02,	  /* DATA (optional) */
	AGENT_RESUME = 0x05,	  /* id 0: TIME_NS; restored from a checkpoint: answered by HELLO */
	AGENT_EXEC = 0x10,	  /* CMD, TIMEOUT_MS, STDOUT_MAX, STDERR_MAX, STDIN (optional) */
	AGENT_KILL = 0x14,	  /* TARGET: the request to stop */
	AGENT_WRITE_BEGIN = 0x20, /* PATH, MODE, SIZE */
	AGENT_WRITE_DATA = 0x21,  /* DATA */
	AGENT_WRITE_END = 0x22,	  /* SHA256 */
	AGENT_READ = 0x23,	  /* PATH */
};

enum agent_tag {
	AGENT_T_VERSION = 1,	  /* u64 */
	AGENT_T_AGENT = 2,	  /* string: "initrd-test-agent 0.1.0" */
	AGENT_T_CAPS = 3,	  /* u64: enum agent_caps */
	AGENT_T_UNAME = 4,	  /* string: "Linux 6.1.0-56-amd64 #1 SMP ... x86_64" */
	AGENT_T_TRANSPORT = 5,	  /* string: "/dev/vport1p1", "/dev/ttyS1", "fd 3" */
	AGENT_T_DATA = 10,	  /* bytes */
	AGENT_T_CMD = 11,	  /* string, run as /bin/sh -c CMD */
	AGENT_T_TIMEOUT_MS = 12,  /* u64; 0: none */
	AGENT_T_STDOUT_MAX = 13,  /* u64: bytes forwarded, the rest counted */
	AGENT_T_STDERR_MAX = 14,  /* u64 */
	AGENT_T_STDIN = 15,	  /* bytes */
	AGENT_T_STATUS = 20,	  /* u64: exit code */
	AGENT_T_SIGNAL = 21,	  /* u64: the signal that ended it */
	AGENT_T_TIMED_OUT = 22,	  /* u64: 0 or 1 */
	AGENT_T_KILLED = 23,	  /* u64: 0 or 1 (a KILL request) */
	AGENT_T_DROPPED_OUT = 24, /* u64 */
	AGENT_T_DROPPED_ERR = 25, /* u64 */
	AGENT_T_DURATION_MS = 26, /* u64 */
	AGENT_T_TIME_NS = 27,	  /* u64: the host's CLOCK_REALTIME in ns (RESUME) */
	AGENT_T_TARGET = 30,	  /* u64: a request id */
	AGENT_T_PATH = 40,	  /* string, absolute */
	AGENT_T_MODE = 41,	  /* u64: permission bits */
	AGENT_T_SIZE = 42,	  /* u64 */
	AGENT_T_SHA256 = 43,	  /* 32 bytes */
	AGENT_T_ERRNO = 50,	  /* u64: a Linux errno value */
	AGENT_T_MESSAGE = 51,	  /* string: "cannot open '/x': No such file or directory" */
};

enum agent_caps {
	AGENT_CAP_EXEC = 1 << 0,
	AGENT_CAP_STDIN = 1 << 1,
	AGENT_CAP_KILL = 1 << 2,
	AGENT_CAP_FILES = 1 << 3,
};

/* "HELLO", "EXEC", ...; "unknown" for anything else. Never NULL. */
const char *agent_type_name(unsigned type);
/* True for the types the guest sends (HELLO, PONG, OK, STDOUT, ..., ERROR). */
bool agent_type_from_guest(unsigned type);

/*
 * A RESUME frame (id 0) into buf, which holds AGENT_WIRE_MAX bytes: the VM
 * was restored from a checkpoint, its clock is behind by the time since.
 * The agent sets CLOCK_REALTIME to unix_ns, drops what it had in flight as
 * on a reconnect, and sends HELLO. Returns the frame's size.
 */
size_t agent_frame_resume(void *buf, size_t cap, uint64_t unix_ns);

/* CRC-32 as zlib's crc32(): start with crc 0, chain calls for more bytes. */
uint32_t agent_crc32(uint32_t crc, const void *buf, size_t len);

/*
 * Building a frame into a caller's buffer of 'cap' bytes (AGENT_WIRE_MAX is
 * always enough for one frame). Field appends that do not fit set 'overflow'
 * and write nothing more; agent_fw_end() then returns 0.
 */
struct agent_fw {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};
void agent_fw_begin(struct agent_fw *w, void *buf, size_t cap, unsigned type, uint32_t id);
void agent_fw_u64(struct agent_fw *w, unsigned tag, uint64_t v);
void agent_fw_bytes(struct agent_fw *w, unsigned tag, const void *p, size_t n);
void agent_fw_str(struct agent_fw *w, unsigned tag, const char *s);
/* Fill in length and CRC: the frame's total size, or 0 when it overflowed or is too long. */
size_t agent_fw_end(struct agent_fw *w);

/* One TLV field of a payload; 'val' borrows from the payload. */
struct agent_tlv {
	unsigned tag;
	uint32_t len;
	const uint8_t *val;
};
/*
 * The field at *off of payload p (n bytes): 1 and *off moved past it, 0 at
 * the end, -1 when the field overruns the payload (*off is left at its start).
 */
int agent_tlv_next(const uint8_t *p, size_t n, size_t *off, struct agent_tlv *t);
/* An integer field: false unless it is exactly 8 bytes. */
bool agent_tlv_u64(const struct agent_tlv *t, uint64_t *v);

uint32_t agent_get_le32(const uint8_t *p);
uint64_t agent_get_le64(const uint8_t *p);
void agent_put_le32(uint8_t *p, uint32_t v);
void agent_put_le64(uint8_t *p, uint64_t v);

/* Why a byte stream is not a sequence of frames. */
enum agent_derr {
	AGENT_DERR_NONE = 0,
	AGENT_DERR_MAGIC,  /* the 4 bytes at a frame start are not the magic */
	AGENT_DERR_LENGTH, /* the payload length is over AGENT_FRAME_MAX */
	AGENT_DERR_CRC,	   /* the CRC does not match header and payload */
};
/* "bad magic", "frame too long", "bad CRC". */
const char *agent_derr_str(enum agent_derr e);

/*
 * A streaming decoder: fed any split of the byte stream, it assembles one
 * frame at a time in its own fixed buffer (no allocation; sizeof is about
 * AGENT_WIRE_MAX). After an error it stays failed until agent_dec_reset().
 */
struct agent_dec {
	uint8_t hdr[AGENT_HDR_SIZE];
	size_t have;	     /* bytes of the current frame so far (header, then payload) */
	uint64_t offset;     /* stream offset of the next byte to be fed */
	uint64_t frame_at;   /* stream offset of the current frame's first byte */
	enum agent_derr err; /* the first error; the decoder stops there */
	uint64_t err_at;     /* stream offset of the bad frame */
	uint32_t err_value;  /* the bad magic, length or received CRC */
	unsigned type;	     /* the current frame, once its header is in */
	uint32_t id;
	uint32_t len;
	uint8_t payload[AGENT_FRAME_MAX];
};
void agent_dec_reset(struct agent_dec *d);
/*
 * Consume bytes of buf (len) up to the end of one frame: returns 1 when a
 * whole, CRC-checked frame is in d (type, id, len, payload), 0 when all of
 * buf was taken and more is needed, -1 on an error (d->err, d->err_at).
 * *used says how many bytes were taken. Feed the rest in the next call.
 */
int agent_dec_feed(struct agent_dec *d, const uint8_t *buf, size_t len, size_t *used);

#endif
