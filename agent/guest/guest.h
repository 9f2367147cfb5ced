/* SPDX-License-Identifier: MIT */
/* Private declarations of the guest program: its state, the queue toward the host, each job. */
#ifndef IT_AGENT_GUEST_H
#define IT_AGENT_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/proto.h"
#include "agent/sha256.h"

#define GUEST_VERSION "0.1.0"
#define GUEST_MAX_EXECS 16
#define GUEST_MAX_XFERS 8
/*
 * The queue toward the host. Only control frames (EXIT, OK, ERROR, HELLO:
 * each under 1 KiB, at most one per job and request) may use the last
 * GUEST_RESERVE bytes: an input frame is handled only with room for a
 * whole reply frame (a PONG echoes up to AGENT_DATA_MAX), and a child's
 * pipe or a file is read only with room for a whole data frame more. So
 * the queue never grows past GUEST_OUTQ_MAX and never refuses an EXIT.
 */
#define GUEST_RESERVE (64 * 1024)
#define GUEST_PORT_ROOM (AGENT_WIRE_MAX + GUEST_RESERVE)
#define GUEST_DATA_ROOM (2 * AGENT_WIRE_MAX + GUEST_RESERVE)
#define GUEST_OUTQ_MAX (4 * AGENT_WIRE_MAX + GUEST_RESERVE)
/* After SIGTERM (timeout or KILL), SIGKILL to the process group this much later. */
#define GUEST_KILL_GRACE_MS 1000
/* Once the shell exited, how long its pipes may stay open (held by a background process). */
#define GUEST_LINGER_MS 500
/* How often a disconnected port is tried again. */
#define GUEST_RECONNECT_MS 200
/* How long startup waits for the virtio port before the serial fallback. */
#define GUEST_PORT_WAIT_MS 30000

enum { STREAM_OUT = 0, STREAM_ERR = 1 };

struct exec_job {
	bool used;
	uint32_t id;
	pid_t pid;	 /* the shell; 0 once reaped */
	pid_t pgid;	 /* its process group (the shell's pid), kept after reaping */
	int fd[2];	 /* stdout, stderr pipes (read ends); -1 once closed */
	int in_fd;	 /* stdin pipe (write end); -1 when none or closed */
	uint8_t *in_buf; /* stdin bytes still to write (owned) */
	size_t in_len, in_off;
	uint64_t max[2], sent[2], dropped[2];
	int64_t start_ms;
	int64_t deadline_ms; /* the command's timeout; 0: none */
	int64_t kill_at_ms;  /* SIGKILL to the group then; 0: not armed */
	int64_t linger_ms;   /* pipes are closed after this; 0: shell still running */
	int wstatus;
	bool timed_out, killed;
};

struct xfer {
	bool used;
	bool writing; /* WRITE (host to guest) or READ */
	uint32_t id;
	int fd;
	unsigned mode;
	uint64_t size; /* WRITE: announced size */
	uint64_t done; /* bytes written or read */
	struct agent_sha256 sha;
	char path[4096];
	char tmp[4096 + 32]; /* WRITE: the temp file beside path */
};

struct guest {
	int port_fd;
	bool fixed_fd; /* --fd: a given descriptor, never reopened; EOF ends the program */
	bool connected;
	bool guest_mode; /* running in the VM (not --fd): oom_score_adj, /dev/kmsg */
	char port_path[256];
	char transport[300];
	int64_t retry_ms; /* when a disconnected port is tried again */
	/* toward the host */
	uint8_t *outq;
	size_t out_head, out_len;
	/* from the host */
	struct agent_dec dec;
	uint8_t in[AGENT_WIRE_MAX];
	size_t in_off, in_len;
	struct exec_job execs[GUEST_MAX_EXECS];
	struct xfer xfers[GUEST_MAX_XFERS];
	int sig_fd[2];		       /* SIGCHLD self-pipe */
	uint8_t frame[AGENT_WIRE_MAX]; /* scratch for one frame */
	uint8_t scratch[AGENT_DATA_MAX];
};

/* log.c: "initrd-test-agent: ..." to /dev/kmsg in the VM, to stderr otherwise: troubles
 * (glog) at a level the console shows, news (ginfo) at debug level. */
void glog_init(bool kmsg);
void glog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ginfo(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* startup.c: the VM's first steps before the port exists. */
void startup_mounts(void);
void startup_modprobe(void);

/* port.c: find and open the channel. */
int port_open(struct guest *g, const char *name, const char *tty, int wait_ms);
int port_reopen(struct guest *g);

/* loop.c */
int64_t guest_now_ms(void);
size_t guest_room(const struct guest *g);
/* Queue one frame built in g->frame with agent_fw; false if it did not fit (logged). */
bool guest_send(struct guest *g, struct agent_fw *w);
void guest_send_error(struct guest *g, uint32_t id, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void guest_hello(struct guest *g);
int guest_run(struct guest *g);

/* exec.c */
void exec_start(struct guest *g, uint32_t id, const uint8_t *p, size_t n);
bool exec_kill(struct guest *g, uint32_t target);
void exec_reap(struct guest *g);
void exec_timers(struct guest *g, int64_t now, int64_t *next);
void exec_read(struct guest *g, struct exec_job *j, int stream, bool final);
void exec_write_stdin(struct guest *g, struct exec_job *j);
void exec_finish_ready(struct guest *g);
void exec_abort_all(struct guest *g);
bool exec_id_busy(const struct guest *g, uint32_t id);

/* files.c */
void xfer_write_begin(struct guest *g, uint32_t id, const uint8_t *p, size_t n);
void xfer_write_data(struct guest *g, uint32_t id, const uint8_t *p, size_t n);
void xfer_write_end(struct guest *g, uint32_t id, const uint8_t *p, size_t n);
void xfer_read_begin(struct guest *g, uint32_t id, const uint8_t *p, size_t n);
bool xfer_cancel(struct guest *g, uint32_t target);
/* Send file chunks while there is room; true if a read transfer still has data to send. */
bool xfer_pump(struct guest *g);
void xfer_abort_all(struct guest *g);
bool xfer_id_busy(const struct guest *g, uint32_t id);

#endif
