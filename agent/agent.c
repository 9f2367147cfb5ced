/* SPDX-License-Identifier: MIT */
/* The agent client: requests encoded into an output queue, the guest's frames checked and decoded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/sha256.h"

struct req {
	uint32_t id;
	enum agent_req_kind kind;
	int64_t start_ms;
	bool silent;	 /* made by the client itself (a KILL after a cut read): no events */
	bool cut;	 /* a read past its cap: the rest is dropped, its end is silent */
	bool ended;	 /* a write whose WRITE_END is queued */
	uint64_t max[2]; /* exec: stdout, stderr caps; read: [0] max_size (0: none) */
	uint64_t got[2]; /* exec: bytes delivered; write: bytes given; read: [0] bytes received */
	uint64_t dropped[2];
	uint64_t size; /* write: the announced size */
	struct agent_sha256 sha;
};

struct agent_client {
	agent_event_fn fn;
	void *ctx;
	struct req reqs[AGENT_CLIENT_REQUESTS_MAX];
	size_t nreq;
	uint32_t next_id;
	uint32_t stale_below; /* ids under this ended with a restart */
	bool hello_seen;
	bool broken;
	char broken_msg[IT_ERRMSG_MAX];
	struct agent_hello hello;
	struct agent_client_stats stats;
	uint8_t *q; /* output queue: q[q_head .. q_head + q_len) */
	size_t q_head, q_len, q_alloc;
	uint8_t frame[AGENT_WIRE_MAX];
	struct agent_dec dec;
};

static const char *const kind_names[] = {
    [AGENT_REQ_NONE] = "none", [AGENT_REQ_PING] = "ping",   [AGENT_REQ_EXEC] = "exec",
    [AGENT_REQ_KILL] = "kill", [AGENT_REQ_WRITE] = "write", [AGENT_REQ_READ] = "read",
};

const char *agent_req_kind_name(enum agent_req_kind k)
{
	if ((unsigned)k >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[k];
}

int agent_client_new(struct agent_client **out, agent_event_fn fn, void *ctx)
{
	struct agent_client *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	c->next_id = 1;
	agent_dec_reset(&c->dec);
	*out = c;
	return 0;
}

void agent_client_free(struct agent_client *c)
{
	if (!c)
		return;
	free(c->q);
	free(c);
}

/* ---- requests ---- */

static struct req *find_req(struct agent_client *c, uint32_t id)
{
	for (size_t i = 0; i < c->nreq; i++)
		if (c->reqs[i].id == id)
			return &c->reqs[i];
	return NULL;
}

static void drop_req(struct agent_client *c, struct req *r)
{
	size_t i = (size_t)(r - c->reqs);

	memmove(&c->reqs[i], &c->reqs[i + 1], (c->nreq - i - 1) * sizeof(*r));
	c->nreq--;
}

size_t agent_client_inflight(const struct agent_client *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nreq; i++)
		n += !c->reqs[i].silent && !c->reqs[i].cut;
	return n;
}

bool agent_client_request(const struct agent_client *c, uint32_t id, enum agent_req_kind *kind,
			  int64_t *start_ms)
{
	for (size_t i = 0; i < c->nreq; i++) {
		const struct req *r = &c->reqs[i];

		if (r->id != id || r->silent || r->cut)
			continue;
		if (kind)
			*kind = r->kind;
		if (start_ms)
			*start_ms = r->start_ms;
		return true;
	}
	return false;
}

bool agent_client_overdue(const struct agent_client *c, int64_t now_ms, int64_t max_age_ms,
			  uint32_t *id)
{
	const struct req *best = NULL;

	for (size_t i = 0; i < c->nreq; i++) {
		const struct req *r = &c->reqs[i];

		if (r->silent || r->cut || now_ms - r->start_ms < max_age_ms)
			continue;
		if (!best || r->start_ms < best->start_ms)
			best = r;
	}
	if (best && id)
		*id = best->id;
	return best != NULL;
}

/* ---- the output queue ---- */

struct blob agent_client_output(const struct agent_client *c)
{
	return blob_mem(c->q ? c->q + c->q_head : NULL, c->q_len);
}

void agent_client_output_consume(struct agent_client *c, size_t n)
{
	if (n >= c->q_len) {
		c->q_head = c->q_len = 0;
		return;
	}
	c->q_head += n;
	c->q_len -= n;
}

size_t agent_client_output_room(const struct agent_client *c)
{
	return AGENT_CLIENT_OUTPUT_MAX - c->q_len;
}

static int q_reserve(struct agent_client *c, size_t n)
{
	size_t want;
	uint8_t *p;

	if (n > agent_client_output_room(c))
		return -IT_ELIMIT;
	if (c->q_head + c->q_len + n <= c->q_alloc)
		return 0;
	if (c->q_head) {
		memmove(c->q, c->q + c->q_head, c->q_len);
		c->q_head = 0;
	}
	if (c->q_len + n <= c->q_alloc)
		return 0;
	want = c->q_alloc ? c->q_alloc : 16384;
	while (want < c->q_len + n)
		want *= 2;
	if (want > AGENT_CLIENT_OUTPUT_MAX)
		want = AGENT_CLIENT_OUTPUT_MAX;
	p = realloc(c->q, want);
	if (!p)
		return -ENOMEM;
	c->q = p;
	c->q_alloc = want;
	return 0;
}

/* Queue the frame built in w (room checked by the caller with q_reserve). */
static void q_push(struct agent_client *c, const uint8_t *p, size_t n)
{
	memcpy(c->q + c->q_head + c->q_len, p, n);
	c->q_len += n;
	c->stats.bytes_out += n;
	c->stats.frames_out++;
}

/* Finish a frame and queue it; -EINVAL when its fields do not fit in one frame. */
static int send_frame(struct agent_client *c, struct agent_fw *w, struct it_error *err)
{
	size_t n = agent_fw_end(w);
	int r;

	if (n == 0)
		return it_error_set(err, -EINVAL,
				    "a %s request does not fit in one frame (%d bytes)",
				    agent_type_name(w->buf[4]), AGENT_FRAME_MAX);
	r = q_reserve(c, n);
	if (r == -IT_ELIMIT)
		return it_error_set(
		    err, r, "the agent's output queue is full (%zu bytes unwritten)", c->q_len);
	if (r < 0)
		return it_error_set(err, r, "cannot queue a request: %s", it_strerror(r));
	q_push(c, w->buf, n);
	return 0;
}

/* A new request record, not yet counted: commit_req() counts it once its frame is queued. */
static int new_req(struct agent_client *c, enum agent_req_kind kind, int64_t now_ms,
		   struct req **out, struct it_error *err)
{
	struct req *r;

	*out = NULL;
	if (c->broken)
		return it_error_set(err, -IT_EFORMAT, "%s", c->broken_msg);
	if (c->nreq >= AGENT_CLIENT_REQUESTS_MAX)
		return it_error_set(err, -IT_ELIMIT, "too many agent requests in flight (%d)",
				    AGENT_CLIENT_REQUESTS_MAX);
	if (c->next_id == UINT32_MAX)
		return it_error_set(err, -IT_ELIMIT, "agent request ids are used up");
	r = &c->reqs[c->nreq];
	memset(r, 0, sizeof(*r));
	r->id = c->next_id;
	r->kind = kind;
	r->start_ms = now_ms;
	agent_sha256_init(&r->sha);
	*out = r;
	return 0;
}

static int commit_req(struct agent_client *c, struct req *r, struct agent_fw *w, uint32_t *id,
		      struct it_error *err)
{
	int ret = send_frame(c, w, err);

	if (ret < 0)
		return ret;
	c->next_id++;
	c->nreq++;
	if (id)
		*id = r->id;
	return 0;
}

int agent_client_ping(struct agent_client *c, struct blob data, int64_t now_ms, uint32_t *id,
		      struct it_error *err)
{
	struct req *r;
	struct agent_fw w;
	int ret = new_req(c, AGENT_REQ_PING, now_ms, &r, err);

	if (ret < 0)
		return ret;
	if (data.len > AGENT_DATA_MAX)
		return it_error_set(err, -EINVAL, "ping data of %zu bytes: at most %d", data.len,
				    AGENT_DATA_MAX);
	agent_fw_begin(&w, c->frame, sizeof(c->frame), AGENT_PING, r->id);
	if (data.len)
		agent_fw_bytes(&w, AGENT_T_DATA, data.ptr, data.len);
	return commit_req(c, r, &w, id, err);
}

int agent_client_exec(struct agent_client *c, const struct agent_exec_opts *o, int64_t now_ms,
		      uint32_t *id, struct it_error *err)
{
	struct req *r;
	struct agent_fw w;
	int ret = new_req(c, AGENT_REQ_EXEC, now_ms, &r, err);

	if (ret < 0)
		return ret;
	if (!o->cmd)
		return it_error_set(err, -EINVAL, "no command to run");
	if (o->timeout_ms < 0)
		return it_error_set(err, -EINVAL, "a negative timeout for '%s'", o->cmd);
	r->max[0] = o->stdout_max ? o->stdout_max : AGENT_EXEC_OUTPUT_DEFAULT;
	r->max[1] = o->stderr_max ? o->stderr_max : AGENT_EXEC_OUTPUT_DEFAULT;
	agent_fw_begin(&w, c->frame, sizeof(c->frame), AGENT_EXEC, r->id);
	agent_fw_str(&w, AGENT_T_CMD, o->cmd);
	agent_fw_u64(&w, AGENT_T_TIMEOUT_MS, (uint64_t)o->timeout_ms);
	agent_fw_u64(&w, AGENT_T_STDOUT_MAX, r->max[0]);
	agent_fw_u64(&w, AGENT_T_STDERR_MAX, r->max[1]);
	if (o->stdin_data.len)
		agent_fw_bytes(&w, AGENT_T_STDIN, o->stdin_data.ptr, o->stdin_data.len);
	return commit_req(c, r, &w, id, err);
}

static int kill_req(struct agent_client *c, uint32_t target, int64_t now_ms, bool silent,
		    uint32_t *id, struct it_error *err)
{
	struct req *r;
	struct agent_fw w;
	int ret = new_req(c, AGENT_REQ_KILL, now_ms, &r, err);

	if (ret < 0)
		return ret;
	if (target == 0)
		return it_error_set(err, -EINVAL, "no request 0 to kill");
	r->silent = silent;
	agent_fw_begin(&w, c->frame, sizeof(c->frame), AGENT_KILL, r->id);
	agent_fw_u64(&w, AGENT_T_TARGET, target);
	return commit_req(c, r, &w, id, err);
}

int agent_client_kill(struct agent_client *c, uint32_t target, int64_t now_ms, uint32_t *id,
		      struct it_error *err)
{
	return kill_req(c, target, now_ms, false, id, err);
}

static int check_path(const char *path, struct it_error *err)
{
	if (!path || path[0] != '/')
		return it_error_set(err, -EINVAL, "guest path '%s' is not absolute",
				    path ? path : "(null)");
	return 0;
}

int agent_client_write_begin(struct agent_client *c, const char *path, unsigned mode, uint64_t size,
			     int64_t now_ms, uint32_t *id, struct it_error *err)
{
	struct req *r;
	struct agent_fw w;
	int ret = new_req(c, AGENT_REQ_WRITE, now_ms, &r, err);

	if (ret < 0)
		return ret;
	ret = check_path(path, err);
	if (ret < 0)
		return ret;
	r->size = size;
	agent_fw_begin(&w, c->frame, sizeof(c->frame), AGENT_WRITE_BEGIN, r->id);
	agent_fw_str(&w, AGENT_T_PATH, path);
	agent_fw_u64(&w, AGENT_T_MODE, mode & 07777);
	agent_fw_u64(&w, AGENT_T_SIZE, size);
	return commit_req(c, r, &w, id, err);
}

static int open_write(struct agent_client *c, uint32_t id, struct req **out, struct it_error *err)
{
	struct req *r = find_req(c, id);

	*out = NULL;
	if (c->broken)
		return it_error_set(err, -IT_EFORMAT, "%s", c->broken_msg);
	if (!r || r->kind != AGENT_REQ_WRITE || r->ended)
		return it_error_set(err, -ESRCH, "no file write %" PRIu32 " in progress", id);
	*out = r;
	return 0;
}

int agent_client_write_data(struct agent_client *c, uint32_t id, const void *data, size_t len,
			    struct it_error *err)
{
	struct req *r;
	const uint8_t *p = data;
	size_t frames, need;
	int ret = open_write(c, id, &r, err);

	if (ret < 0)
		return ret;
	if (len > r->size - r->got[0])
		return it_error_set(err, -EINVAL,
				    "file write %" PRIu32 ": %zu bytes more than its size %" PRIu64,
				    id, len - (size_t)(r->size - r->got[0]), r->size);
	frames = (len + AGENT_DATA_MAX - 1) / AGENT_DATA_MAX;
	need = len + frames * (AGENT_HDR_SIZE + AGENT_TLV_HDR);
	ret = q_reserve(c, need);
	if (ret == -IT_ELIMIT)
		return it_error_set(
		    err, ret, "the agent's output queue is full (%zu bytes unwritten)", c->q_len);
	if (ret < 0)
		return it_error_set(err, ret, "cannot queue file data: %s", it_strerror(ret));
	while (len) {
		size_t n = len < AGENT_DATA_MAX ? len : AGENT_DATA_MAX;
		struct agent_fw w;

		agent_fw_begin(&w, c->frame, sizeof(c->frame), AGENT_WRITE_DATA, id);
		agent_fw_bytes(&w, AGENT_T_DATA, p, n);
		q_push(c, c->frame, agent_fw_end(&w));
		agent_sha256_update(&r->sha, p, n);
		r->got[0] += n;
		p += n;
		len -= n;
	}
	return 0;
}

int agent_client_write_end(struct agent_client *c, uint32_t id, const uint8_t *sha256,
			   struct it_error *err)
{
	struct req *r;
	uint8_t sum[AGENT_SHA256_LEN];
	struct agent_sha256 copy;
	struct agent_fw w;
	int ret = open_write(c, id, &r, err);

	if (ret < 0)
		return ret;
	copy = r->sha;
	agent_sha256_final(&copy, sum);
	agent_fw_begin(&w, c->frame, sizeof(c->frame), AGENT_WRITE_END, id);
	agent_fw_bytes(&w, AGENT_T_SHA256, sha256 ? sha256 : sum, AGENT_SHA256_LEN);
	ret = send_frame(c, &w, err);
	if (ret == 0)
		r->ended = true;
	return ret;
}

int agent_client_read_file(struct agent_client *c, const char *path, uint64_t max_size,
			   int64_t now_ms, uint32_t *id, struct it_error *err)
{
	struct req *r;
	struct agent_fw w;
	int ret = new_req(c, AGENT_REQ_READ, now_ms, &r, err);

	if (ret < 0)
		return ret;
	ret = check_path(path, err);
	if (ret < 0)
		return ret;
	r->max[0] = max_size;
	agent_fw_begin(&w, c->frame, sizeof(c->frame), AGENT_READ, r->id);
	agent_fw_str(&w, AGENT_T_PATH, path);
	return commit_req(c, r, &w, id, err);
}

/* ---- decoding what the guest sends ---- */

/* Fields of one frame, by tag (tags of this protocol are all under FIELDS_MAX). */
#define FIELDS_MAX 64
struct fields {
	uint64_t have; /* bit per tag */
	struct agent_tlv f[FIELDS_MAX];
};

static bool is_u64_tag(unsigned tag)
{
	switch (tag) {
	case AGENT_T_VERSION:
	case AGENT_T_CAPS:
	case AGENT_T_STATUS:
	case AGENT_T_SIGNAL:
	case AGENT_T_TIMED_OUT:
	case AGENT_T_KILLED:
	case AGENT_T_DROPPED_OUT:
	case AGENT_T_DROPPED_ERR:
	case AGENT_T_DURATION_MS:
	case AGENT_T_SIZE:
	case AGENT_T_ERRNO:
		return true;
	default:
		return false;
	}
}

static __attribute__((format(printf, 2, 3))) int broken(struct agent_client *c, const char *fmt,
							...)
{
	char what[IT_ERRMSG_MAX - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->broken_msg, sizeof(c->broken_msg),
		 "agent channel broken at byte %" PRIu64 ": %s", c->dec.frame_at, what);
	c->broken = true;
	return -IT_EFORMAT;
}

static const char *tname(const struct agent_client *c)
{
	return agent_type_name(c->dec.type);
}

static int parse_fields(struct agent_client *c, struct fields *fs)
{
	struct agent_tlv t;
	size_t off = 0;
	int r;

	fs->have = 0;
	while ((r = agent_tlv_next(c->dec.payload, c->dec.len, &off, &t)) == 1) {
		if (t.tag >= FIELDS_MAX)
			continue; /* a newer agent's field */
		if (is_u64_tag(t.tag) && t.len != 8)
			return broken(c, "field %u of a %s frame is %" PRIu32 " bytes, not 8",
				      t.tag, tname(c), t.len);
		if (t.tag == AGENT_T_SHA256 && t.len != AGENT_SHA256_LEN)
			return broken(c, "the SHA-256 of a %s frame is %" PRIu32 " bytes, not 32",
				      tname(c), t.len);
		fs->f[t.tag] = t;
		fs->have |= (uint64_t)1 << t.tag;
	}
	if (r < 0)
		return broken(
		    c, "a field at payload byte %zu overruns the %s frame (%" PRIu32 " bytes)", off,
		    tname(c), c->dec.len);
	return 0;
}

static bool has(const struct fields *fs, unsigned tag)
{
	return (fs->have >> tag) & 1;
}

static uint64_t u64_of(const struct fields *fs, unsigned tag)
{
	return has(fs, tag) ? agent_get_le64(fs->f[tag].val) : 0;
}

static struct blob blob_of(const struct fields *fs, unsigned tag)
{
	return has(fs, tag) ? blob_mem(fs->f[tag].val, fs->f[tag].len) : BLOB_NULL;
}

static int need(struct agent_client *c, const struct fields *fs, unsigned tag, const char *what)
{
	if (has(fs, tag))
		return 0;
	return broken(c, "a %s frame without its %s", tname(c), what);
}

/* Guest text into a fixed buffer: cut, control bytes and DEL as '?', NUL-terminated. */
static void copy_text(char *out, size_t outsz, struct blob b)
{
	size_t n = b.len < outsz - 1 ? b.len : outsz - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)b.ptr[i];

		out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out[n] = '\0';
}

static int emit(struct agent_client *c, struct agent_event *ev)
{
	return c->fn(c->ctx, ev);
}

static void event_for(struct agent_event *ev, enum agent_event_type type, const struct req *r,
		      int64_t now_ms)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->id = r ? r->id : 0;
	ev->kind = r ? r->kind : AGENT_REQ_NONE;
	ev->rtt_ms = r ? now_ms - r->start_ms : 0;
}

/* End every request in flight with an ERROR event (code, message). */
static int fail_all(struct agent_client *c, int code, const char *message, int64_t now_ms)
{
	int ret = 0;

	while (c->nreq) {
		struct req r = c->reqs[0];
		struct agent_event ev;

		drop_req(c, &c->reqs[0]);
		if (r.silent || r.cut || ret < 0)
			continue;
		event_for(&ev, AGENT_EV_ERROR, &r, now_ms);
		ev.error = code;
		ev.message = message;
		ret = emit(c, &ev);
	}
	return ret;
}

static int on_hello(struct agent_client *c, int64_t now_ms)
{
	struct agent_event ev;
	struct fields fs;
	int r = parse_fields(c, &fs);

	if (r < 0)
		return r;
	if (c->dec.id != 0)
		return broken(c, "a HELLO frame with request id %" PRIu32 ", not 0", c->dec.id);
	r = need(c, &fs, AGENT_T_VERSION, "version");
	if (r < 0)
		return r;
	if (u64_of(&fs, AGENT_T_VERSION) != AGENT_PROTO_VERSION)
		return broken(c, "the agent speaks protocol version %" PRIu64 ", not %d",
			      u64_of(&fs, AGENT_T_VERSION), AGENT_PROTO_VERSION);
	memset(&c->hello, 0, sizeof(c->hello));
	c->hello.version = u64_of(&fs, AGENT_T_VERSION);
	c->hello.caps = u64_of(&fs, AGENT_T_CAPS);
	copy_text(c->hello.agent, sizeof(c->hello.agent), blob_of(&fs, AGENT_T_AGENT));
	copy_text(c->hello.uname, sizeof(c->hello.uname), blob_of(&fs, AGENT_T_UNAME));
	copy_text(c->hello.transport, sizeof(c->hello.transport), blob_of(&fs, AGENT_T_TRANSPORT));
	c->stats.hellos++;
	if (c->hello_seen) {
		c->stale_below = c->next_id;
		r = fail_all(c, -ECONNRESET, "the agent restarted", now_ms);
		if (r < 0)
			return r;
	}
	c->hello_seen = true;
	event_for(&ev, AGENT_EV_HELLO, NULL, now_ms);
	ev.hello = &c->hello;
	return emit(c, &ev);
}

/* An event that ends request r: r is removed first, so the callback may make new requests. */
static int end_req(struct agent_client *c, struct req *r, struct agent_event *ev)
{
	bool quiet = r->silent || r->cut;

	drop_req(c, r);
	return quiet ? 0 : emit(c, ev);
}

static int on_output(struct agent_client *c, struct req *r, const struct fields *fs, int64_t now_ms)
{
	int s = c->dec.type == AGENT_STDERR;
	struct blob d = blob_of(fs, AGENT_T_DATA);
	struct agent_event ev;
	uint64_t room = r->max[s] - r->got[s];

	if (r->kind != AGENT_REQ_EXEC)
		return broken(c, "a %s frame for %s request %" PRIu32, tname(c),
			      agent_req_kind_name(r->kind), r->id);
	if (d.len > room) {
		r->dropped[s] += d.len - room;
		c->stats.dropped += d.len - room;
		d.len = (size_t)room;
	}
	if (d.len == 0)
		return 0;
	r->got[s] += d.len;
	event_for(&ev, s ? AGENT_EV_STDERR : AGENT_EV_STDOUT, r, now_ms);
	ev.data = d;
	return emit(c, &ev);
}

static int on_exit_frame(struct agent_client *c, struct req *r, const struct fields *fs,
			 int64_t now_ms)
{
	struct agent_event ev;
	struct agent_exit ex;

	if (r->kind != AGENT_REQ_EXEC)
		return broken(c, "an EXIT frame for %s request %" PRIu32,
			      agent_req_kind_name(r->kind), r->id);
	if (!has(fs, AGENT_T_STATUS) && !has(fs, AGENT_T_SIGNAL))
		return broken(c, "an EXIT frame without a status or a signal");
	memset(&ex, 0, sizeof(ex));
	ex.exit_code = has(fs, AGENT_T_STATUS) ? (int)(u64_of(fs, AGENT_T_STATUS) & 0xff) : -1;
	ex.signal = has(fs, AGENT_T_STATUS) ? 0 : (int)(u64_of(fs, AGENT_T_SIGNAL) & 0x7f);
	ex.timed_out = u64_of(fs, AGENT_T_TIMED_OUT) != 0;
	ex.killed = u64_of(fs, AGENT_T_KILLED) != 0;
	ex.dropped_stdout = u64_of(fs, AGENT_T_DROPPED_OUT) + r->dropped[0];
	ex.dropped_stderr = u64_of(fs, AGENT_T_DROPPED_ERR) + r->dropped[1];
	ex.stdout_bytes = r->got[0];
	ex.stderr_bytes = r->got[1];
	ex.duration_ms = (int64_t)(u64_of(fs, AGENT_T_DURATION_MS) & INT64_MAX);
	event_for(&ev, AGENT_EV_EXIT, r, now_ms);
	ev.exit = &ex;
	return end_req(c, r, &ev);
}

static int cut_read(struct agent_client *c, struct req *r, int64_t now_ms)
{
	struct agent_event ev;
	char msg[128];
	int ret;

	snprintf(msg, sizeof(msg), "the file is larger than the cap of %" PRIu64 " bytes",
		 r->max[0]);
	event_for(&ev, AGENT_EV_ERROR, r, now_ms);
	ev.error = -IT_ELIMIT;
	ev.message = msg;
	r->cut = true;
	ret = emit(c, &ev);
	if (ret < 0)
		return ret;
	/* Stop the guest sending; if the queue has no room, the rest is only dropped. */
	kill_req(c, r->id, now_ms, true, NULL, NULL);
	return 0;
}

static int on_file_data(struct agent_client *c, struct req *r, const struct fields *fs,
			int64_t now_ms)
{
	struct blob d = blob_of(fs, AGENT_T_DATA);
	struct agent_event ev;

	if (r->kind != AGENT_REQ_READ)
		return broken(c, "a FILE_DATA frame for %s request %" PRIu32,
			      agent_req_kind_name(r->kind), r->id);
	if (r->cut) {
		c->stats.dropped += d.len;
		return 0;
	}
	r->got[0] += d.len;
	agent_sha256_update(&r->sha, d.ptr, d.len);
	if (r->max[0] && r->got[0] > r->max[0]) {
		c->stats.dropped += d.len;
		return cut_read(c, r, now_ms);
	}
	if (d.len == 0)
		return 0;
	event_for(&ev, AGENT_EV_FILE_DATA, r, now_ms);
	ev.data = d;
	return emit(c, &ev);
}

static int on_file_end(struct agent_client *c, struct req *r, const struct fields *fs,
		       int64_t now_ms)
{
	char got[2 * AGENT_SHA256_LEN + 1], want[2 * AGENT_SHA256_LEN + 1], msg[256];
	struct agent_event ev;
	struct agent_file f;
	int ret;

	if (r->kind != AGENT_REQ_READ)
		return broken(c, "a FILE_END frame for %s request %" PRIu32,
			      agent_req_kind_name(r->kind), r->id);
	ret = need(c, fs, AGENT_T_SIZE, "size");
	if (ret == 0)
		ret = need(c, fs, AGENT_T_SHA256, "SHA-256");
	if (ret < 0)
		return ret;
	memset(&f, 0, sizeof(f));
	f.size = u64_of(fs, AGENT_T_SIZE);
	agent_sha256_final(&r->sha, f.sha256);
	event_for(&ev, AGENT_EV_FILE_END, r, now_ms);
	ev.file = &f;
	if (f.size != r->got[0] || memcmp(f.sha256, fs->f[AGENT_T_SHA256].val, 32) != 0) {
		agent_sha256_hex(f.sha256, got);
		agent_sha256_hex(fs->f[AGENT_T_SHA256].val, want);
		snprintf(msg, sizeof(msg),
			 "copy does not match: %" PRIu64 " bytes with SHA-256 %.16s..., the agent "
			 "says %" PRIu64 " bytes, %.16s...",
			 r->got[0], got, f.size, want);
		ev.type = AGENT_EV_ERROR;
		ev.file = NULL;
		ev.error = -IT_ECHECKSUM;
		ev.message = msg;
	}
	return end_req(c, r, &ev);
}

static int on_ok(struct agent_client *c, struct req *r, const struct fields *fs, int64_t now_ms)
{
	struct agent_event ev;
	struct agent_file f;

	if (r->kind != AGENT_REQ_WRITE && r->kind != AGENT_REQ_KILL)
		return broken(c, "an OK frame for %s request %" PRIu32,
			      agent_req_kind_name(r->kind), r->id);
	if (r->kind == AGENT_REQ_WRITE && !r->ended)
		return broken(c, "an OK frame for file write %" PRIu32 " before its end", r->id);
	event_for(&ev, AGENT_EV_OK, r, now_ms);
	if (r->kind == AGENT_REQ_WRITE) {
		memset(&f, 0, sizeof(f));
		f.size = u64_of(fs, AGENT_T_SIZE);
		if (has(fs, AGENT_T_SHA256))
			memcpy(f.sha256, fs->f[AGENT_T_SHA256].val, AGENT_SHA256_LEN);
		ev.file = &f;
	}
	return end_req(c, r, &ev);
}

static int on_pong(struct agent_client *c, struct req *r, const struct fields *fs, int64_t now_ms)
{
	struct agent_event ev;

	if (r->kind != AGENT_REQ_PING)
		return broken(c, "a PONG frame for %s request %" PRIu32,
			      agent_req_kind_name(r->kind), r->id);
	event_for(&ev, AGENT_EV_PONG, r, now_ms);
	ev.data = blob_of(fs, AGENT_T_DATA);
	return end_req(c, r, &ev);
}

static int on_error_frame(struct agent_client *c, struct req *r, const struct fields *fs,
			  int64_t now_ms)
{
	char msg[AGENT_CLIENT_TEXT_MAX];
	struct agent_event ev;
	uint64_t e = u64_of(fs, AGENT_T_ERRNO);

	copy_text(msg, sizeof(msg), blob_of(fs, AGENT_T_MESSAGE));
	if (!r)
		return broken(c, "the agent reports: %s", msg[0] ? msg : "(no message)");
	event_for(&ev, AGENT_EV_ERROR, r, now_ms);
	ev.error = (e > 0 && e < 4096) ? -(int)e : -EIO;
	ev.message = msg[0] ? msg : it_strerror(ev.error);
	return end_req(c, r, &ev);
}

static int on_request_frame(struct agent_client *c, const struct fields *fs, int64_t now_ms)
{
	uint32_t id = c->dec.id;
	struct req *r = find_req(c, id);

	if (!r && c->dec.type == AGENT_ERROR && id == 0)
		return on_error_frame(c, NULL, fs, now_ms);
	if (!r && id != 0 && id < c->stale_below) {
		c->stats.stale_frames++;
		return 0;
	}
	if (!r)
		return broken(c, "a %s frame for request %" PRIu32 ", %s", tname(c), id,
			      id == 0 || id >= c->next_id ? "never made" : "which has ended");
	switch (c->dec.type) {
	case AGENT_STDOUT:
	case AGENT_STDERR:
		return on_output(c, r, fs, now_ms);
	case AGENT_EXIT:
		return on_exit_frame(c, r, fs, now_ms);
	case AGENT_FILE_DATA:
		return on_file_data(c, r, fs, now_ms);
	case AGENT_FILE_END:
		return on_file_end(c, r, fs, now_ms);
	case AGENT_OK:
		return on_ok(c, r, fs, now_ms);
	case AGENT_PONG:
		return on_pong(c, r, fs, now_ms);
	default:
		return on_error_frame(c, r, fs, now_ms);
	}
}

static int on_frame(struct agent_client *c, int64_t now_ms)
{
	struct fields fs;
	int r;

	c->stats.frames_in++;
	if (!agent_type_from_guest(c->dec.type))
		return broken(c, "a frame of type 0x%02x (%s), which the agent never sends",
			      c->dec.type, tname(c));
	if (c->dec.type == AGENT_HELLO)
		return on_hello(c, now_ms);
	if (!c->hello_seen)
		return broken(c, "a %s frame before the agent's HELLO", tname(c));
	r = parse_fields(c, &fs);
	if (r < 0)
		return r;
	return on_request_frame(c, &fs, now_ms);
}

static int decode_error(struct agent_client *c)
{
	const struct agent_dec *d = &c->dec;

	switch (d->err) {
	case AGENT_DERR_MAGIC:
		return broken(c, "bad magic 0x%08" PRIx32 " (not an agent frame)", d->err_value);
	case AGENT_DERR_LENGTH:
		return broken(c, "a %s frame of %" PRIu32 " bytes, over the limit of %d", tname(c),
			      d->err_value, AGENT_FRAME_MAX);
	case AGENT_DERR_CRC:
		return broken(c, "bad CRC in a %s frame of %" PRIu32 " bytes", tname(c), d->len);
	case AGENT_DERR_NONE:
		break;
	}
	return broken(c, "undecodable input");
}

int agent_client_feed(struct agent_client *c, const void *buf, size_t len, int64_t now_ms,
		      struct it_error *err)
{
	const uint8_t *p = buf;
	int r = 0;

	c->stats.bytes_in += len;
	while (!c->broken && len) {
		size_t used = 0;

		r = agent_dec_feed(&c->dec, p, len, &used);
		p += used;
		len -= used;
		if (r < 0)
			r = decode_error(c);
		else if (r == 1)
			r = on_frame(c, now_ms);
		if (r < 0)
			break;
	}
	if (c->broken)
		return it_error_set(err, -IT_EFORMAT, "%s", c->broken_msg);
	return r < 0 ? r : 0;
}

int agent_client_eof(struct agent_client *c, int64_t now_ms)
{
	c->q_head = c->q_len = 0;
	c->hello_seen = false;
	c->dec.offset = 0;
	agent_dec_reset(&c->dec);
	c->stale_below = c->next_id;
	return fail_all(c, -EPIPE, "the agent channel closed", now_ms);
}

bool agent_client_broken(const struct agent_client *c)
{
	return c->broken;
}

const struct agent_hello *agent_client_hello(const struct agent_client *c)
{
	return c->hello_seen ? &c->hello : NULL;
}

void agent_client_get_stats(const struct agent_client *c, struct agent_client_stats *st)
{
	*st = c->stats;
}

size_t agent_client_mem_size(const struct agent_client *c)
{
	return sizeof(*c) + c->q_alloc;
}
