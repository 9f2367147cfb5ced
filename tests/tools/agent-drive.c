// SPDX-License-Identifier: MIT
/*
 * Drive a real guest's agent by hand: wait for its HELLO on qemu's chardev
 * (a unix socket, or an inherited descriptor), then measure: `true` round
 * trips, exit codes, 10 MB copies both ways; again while the guest floods
 * /dev/kmsg. Prints one line per figure.
 *
 * Usage: agent-drive (--socket PATH | --fd N) [--hello-timeout S] [--quick] [--run CMD]...
 * (--quick: only the HELLO and the --run commands)
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/sha256.h"
#include "common/buf.h"
#include "common/util.h"

#define IDS 4096

struct res {
	bool done;
	enum agent_event_type end;
	struct agent_exit exit;
	int error;
	char message[256];
	struct buf out, err;
	struct agent_sha256 sha; /* a read's data, checked against libcrypto's digest */
	uint64_t bytes;
};

static struct res res[IDS];
static int hellos;
static struct agent_hello hello;
static int fd = -1;
static struct agent_client *client;

static int on_event(void *ctx, const struct agent_event *ev)
{
	struct res *r = &res[ev->id % IDS];

	(void)ctx;
	switch (ev->type) {
	case AGENT_EV_HELLO:
		hellos++;
		hello = *ev->hello;
		return 0;
	case AGENT_EV_STDOUT:
		buf_add(&r->out, ev->data.ptr, ev->data.len);
		return 0;
	case AGENT_EV_STDERR:
		buf_add(&r->err, ev->data.ptr, ev->data.len);
		return 0;
	case AGENT_EV_FILE_DATA:
		agent_sha256_update(&r->sha, ev->data.ptr, ev->data.len);
		r->bytes += ev->data.len;
		return 0;
	case AGENT_EV_EXIT:
		r->exit = *ev->exit;
		break;
	case AGENT_EV_ERROR:
		r->error = ev->error;
		snprintf(r->message, sizeof(r->message), "%s", ev->message);
		break;
	default:
		break;
	}
	r->done = true;
	r->end = ev->type;
	return 0;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "agent-drive: error: %s: %s\n", what, msg);
	exit(1);
}

static void turn(int timeout_ms)
{
	static char in[256 * 1024];
	struct it_error err = IT_ERROR_INIT;
	struct blob out = agent_client_output(client);
	struct pollfd p = {fd, POLLIN | (out.len ? POLLOUT : 0), 0};
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	if (p.revents & POLLOUT) {
		n = write(fd, out.ptr, out.len);
		if (n > 0)
			agent_client_output_consume(client, (size_t)n);
	}
	if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
		n = read(fd, in, sizeof(in));
		if (n == 0)
			die("channel", "end of file");
		if (n < 0 && errno != EAGAIN)
			die("read", strerror(errno));
		if (n > 0 && agent_client_feed(client, in, (size_t)n, now_ms(), &err) < 0)
			die("channel", err.msg);
	}
}

static void wait_req(uint32_t id, int64_t timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (!res[id % IDS].done) {
		turn(100);
		if (now_ms() > deadline)
			die("request", "timed out");
	}
}

static struct res *run(const char *cmd, int64_t *rtt_us)
{
	struct agent_exec_opts o = {cmd, 60000, 0, 0, BLOB_NULL};
	struct it_error err = IT_ERROR_INIT;
	int64_t t0 = now_ns();
	uint32_t id;
	struct res *r;

	if (agent_client_exec(client, &o, now_ms(), &id, &err) < 0)
		die("exec", err.msg);
	r = &res[id % IDS];
	memset(r, 0, sizeof(*r));
	buf_init(&r->out, 1 << 20);
	buf_init(&r->err, 1 << 20);
	wait_req(id, 120000);
	if (rtt_us)
		*rtt_us = (now_ns() - t0) / 1000;
	return r;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void round_trips(const char *label)
{
	int64_t t[50];

	for (int i = 0; i < 50; i++) {
		struct res *r = run("true", &t[i]);

		if (r->end != AGENT_EV_EXIT || r->exit.exit_code != 0)
			die("true", "did not exit 0");
	}
	qsort(t, 50, sizeof(t[0]), cmp64);
	printf("%s: 'true' round trip median %.2f ms (min %.2f, max %.2f, n=50)\n", label,
	       t[25] / 1000.0, t[0] / 1000.0, t[49] / 1000.0);
}

static void exit_codes(void)
{
	static const char *const cmds[] = {"exit 0", "exit 1", "exit 42", "kill -9 $$"};

	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		struct res *r = run(cmds[i], NULL);

		printf("exit codes: '%s' -> exit %d signal %d\n", cmds[i], r->exit.exit_code,
		       r->exit.signal);
	}
	{
		struct res *r = run("echo to-stdout; echo to-stderr >&2; uname -r", NULL);

		printf("streams: stdout '%s' stderr '%s'\n", r->out.data, r->err.data);
	}
}

static void copies(const char *label, size_t n)
{
	uint8_t *data = malloc(n), want[32], got[32];
	struct it_error err = IT_ERROR_INIT;
	int64_t t0;
	size_t off = 0;
	uint32_t id;
	struct res *r;
	unsigned x = 12345;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (uint8_t)(x >> 16);
	}
	SHA256(data, n, want);
	t0 = now_ns();
	if (agent_client_write_begin(client, "/tmp/agent-copy.bin", 0644, n, now_ms(), &id, &err) <
	    0)
		die("write", err.msg);
	r = &res[id % IDS];
	memset(r, 0, sizeof(*r));
	while (off < n) {
		size_t k = n - off < 256 * 1024 ? n - off : 256 * 1024;

		if (agent_client_write_data(client, id, data + off, k, &err) == -IT_ELIMIT) {
			turn(100);
			continue;
		}
		off += k;
	}
	agent_client_write_end(client, id, NULL, &err);
	wait_req(id, 300000);
	if (r->end != AGENT_EV_OK)
		die("write", r->message);
	printf("%s: %zu MB into the guest in %.2f s: %.1f MB/s\n", label, n >> 20,
	       (now_ns() - t0) / 1e9, n / 1048576.0 / ((now_ns() - t0) / 1e9));

	t0 = now_ns();
	if (agent_client_read_file(client, "/tmp/agent-copy.bin", 0, now_ms(), &id, &err) < 0)
		die("read", err.msg);
	r = &res[id % IDS];
	memset(r, 0, sizeof(*r));
	agent_sha256_init(&r->sha);
	wait_req(id, 300000);
	if (r->end != AGENT_EV_FILE_END)
		die("read", r->message);
	agent_sha256_final(&r->sha, got);
	printf("%s: %zu MB out of the guest in %.2f s: %.1f MB/s, SHA-256 %s\n", label, n >> 20,
	       (now_ns() - t0) / 1e9, n / 1048576.0 / ((now_ns() - t0) / 1e9),
	       memcmp(got, want, 32) == 0 && r->bytes == n ? "matches" : "DIFFERS");
	free(data);
}

static int connect_unix(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (int i = 0; i < 100; i++) {
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		usleep(100000);
	}
	die(path, strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	const char *extra[16];
	int nextra = 0;
	long hello_s = 300;
	bool quick = false;
	int64_t t0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			fd = connect_unix(argv[++i]);
		else if (!strcmp(argv[i], "--fd") && i + 1 < argc)
			fd = (int)strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--hello-timeout") && i + 1 < argc)
			hello_s = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--run") && i + 1 < argc && nextra < 16)
			extra[nextra++] = argv[++i];
		else
			die("usage", "agent-drive (--socket PATH | --fd N) [--run CMD]...");
	}
	if (fd < 0)
		die("usage", "no channel");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (agent_client_new(&client, on_event, NULL) < 0)
		die("client", "out of memory");
	t0 = now_ms();
	while (hellos == 0) {
		turn(200);
		if (now_ms() - t0 > hello_s * 1000)
			die("hello", "none arrived");
	}
	printf("hello after %.1f s: %s, protocol %llu, caps 0x%llx, on %s, %s\n",
	       (now_ms() - t0) / 1000.0, hello.agent, (unsigned long long)hello.version,
	       (unsigned long long)hello.caps, hello.transport, hello.uname);
	for (int i = 0; i < nextra; i++) {
		struct res *r = run(extra[i], NULL);

		printf("$ %s\n%s%s[exit %d signal %d, %lld ms in the guest]\n", extra[i],
		       r->out.data, r->err.data, r->exit.exit_code, r->exit.signal,
		       (long long)r->exit.duration_ms);
	}
	if (quick) {
		agent_client_free(client);
		return 0;
	}
	round_trips("quiet");
	exit_codes();
	copies("quiet", 10 << 20);
	run("(i=0; while :; do echo \"initrd-test kmsg flood $i\" >/dev/kmsg; i=$((i+1)); done) "
	    ">/dev/null 2>&1 </dev/null &",
	    NULL);
	round_trips("kmsg flood");
	copies("kmsg flood", 10 << 20);
	run("kill $(pgrep -f 'kmsg flood') 2>/dev/null; pkill -f 'kmsg flood'; true", NULL);
	agent_client_free(client);
	return 0;
}
