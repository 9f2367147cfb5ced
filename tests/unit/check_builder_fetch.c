// SPDX-License-Identifier: MIT
/* Unit tests for builder/fetch: busybox httpd and a fault server on 127.0.0.1, and file://. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "builder/internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/unit/testutil.h"

#define REPO "tests/data/alpine-3.19.1/x86_64"
#define BINSH "busybox-binsh-1.36.1-r15.apk"
#define BINSH_SIZE 1543
#define BUSYBOX "busybox-1.36.1-r15.apk"
#define BUSYBOX_SIZE 506796

/*
 * Servers live for the whole suite (started in the parent, before the forked
 * tests). Everything goes under one directory that the suite's teardown
 * removes, even after a failed test.
 */
static char suite_dir[256];
static char served[300]; /* a copy of REPO that tests may change */
static pid_t bb_pid = -1, fault_pid = -1, endless_pid = -1;
static int bb_port, fault_port, endless_port;

/* A TCP socket bound to a free port on 127.0.0.1, listening when 'listening'; its port in *port. */
static int loopback_socket(bool listening, int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int free_port(void)
{
	int port;

	close(loopback_socket(false, &port));
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(fd);
	return ok;
}

static void copy_file(const char *from, const char *to)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_read_file(&b, from), 0);
	ck_assert_int_eq(write_file_atomic(to, b.data, b.len, 0644), 0);
	buf_release(&b);
}

static void start_busybox(void)
{
	char port[32];

	bb_port = free_port();
	snprintf(port, sizeof(port), "127.0.0.1:%d", bb_port);
	bb_pid = fork();
	if (bb_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("busybox", "busybox", "httpd", "-f", "-p", port, "-h", served, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && !port_open(bb_port); i++)
		usleep(50 * 1000);
	ck_assert_msg(port_open(bb_port), "busybox httpd did not start");
}

static void start_fault(void)
{
	int pfd[2];
	char line[32] = "";
	size_t total = 0;
	ssize_t n;
	struct pollfd p;

	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	fault_pid = fork();
	if (fault_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], STDOUT_FILENO);
		execlp("python3", "python3", "tests/tools/httpd-fault.py", served, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	/* Read up to the newline: a line may come in pieces. */
	p = (struct pollfd){.fd = pfd[0], .events = POLLIN};
	while (total < sizeof(line) - 1 && !memchr(line, '\n', total)) {
		ck_assert_msg(poll(&p, 1, 10000) == 1, "the fault server did not start");
		n = read(pfd[0], line + total, sizeof(line) - 1 - total);
		ck_assert_msg(n > 0, "the fault server did not start");
		total += (size_t)n;
		line[total] = '\0';
	}
	close(pfd[0]);
	fault_port = (int)strtol(line, NULL, 10);
	ck_assert_int_gt(fault_port, 0);
}

/*
 * A server of bodies that do not end, as fast as the client takes them:
 *   /chunked/NAME   HTTP/1.1, Transfer-Encoding: chunked, chunks forever
 *   /nolength/NAME  HTTP/1.0 without Content-Length, bytes until the client goes
 *   /biglen/NAME    Content-Length: 1 TiB, bytes until the client goes
 *   /exact/N/NAME   HTTP/1.0 without Content-Length, N bytes, then close
 * One process per connection; the whole group goes at the suite's end.
 */
static void endless_write(int c, const void *p, size_t n)
{
	if (fd_write_all(c, p, n) < 0)
		_exit(0); /* the client hung up: that is how these bodies end */
}

static void endless_serve(int c)
{
	static char chunk[65536];
	char req[4096], head[256];
	size_t got = 0;
	long long left = -1;
	bool chunked = false;
	ssize_t n;

	memset(chunk, 'x', sizeof(chunk));
	while (got < sizeof(req) - 1) {
		n = read(c, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			_exit(0);
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (!strncmp(req, "GET /chunked/", 13)) {
		chunked = true;
		snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	} else if (!strncmp(req, "GET /biglen/", 12)) {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n",
			 1LL << 40);
	} else if (!strncmp(req, "GET /exact/", 11)) {
		left = strtoll(req + 11, NULL, 10);
		snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n\r\n");
	} else {
		snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n\r\n");
	}
	endless_write(c, head, strlen(head));
	while (left != 0) {
		size_t len = sizeof(chunk);

		if (left > 0 && (long long)len > left)
			len = (size_t)left;
		if (chunked) {
			snprintf(head, sizeof(head), "%zx\r\n", len);
			endless_write(c, head, strlen(head));
		}
		endless_write(c, chunk, len);
		if (chunked)
			endless_write(c, "\r\n", 2);
		if (left > 0)
			left -= (long long)len;
	}
	_exit(0);
}

static void start_endless(void)
{
	int fd = loopback_socket(true, &endless_port);

	endless_pid = fork();
	ck_assert_int_ge(endless_pid, 0);
	if (endless_pid == 0) {
		/* Never outlive the suite, even one that dies without servers_down(). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGCHLD, SIG_IGN); /* no zombies */
		for (;;) {
			int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

			if (c < 0)
				continue;
			if (fork() == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				close(fd);
				endless_serve(c);
			}
			close(c);
		}
	}
	setpgid(endless_pid, endless_pid); /* either side may run first */
	close(fd);
}

static void servers_up(void)
{
	DIR *d;
	struct dirent *de;
	char from[512], to[512];

	ck_assert(tu_mkdtemp(suite_dir, sizeof(suite_dir), "it-fetch"));
	snprintf(served, sizeof(served), "%s/served", suite_dir);
	ck_assert_int_eq(mkdir_p(served, 0755), 0);
	d = opendir(REPO);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", REPO, de->d_name);
		snprintf(to, sizeof(to), "%s/%.100s", served, de->d_name);
		copy_file(from, to);
	}
	closedir(d);
	start_busybox();
	start_fault();
	start_endless();
}

static void servers_down(void)
{
	pid_t pids[2] = {bb_pid, fault_pid};
	char tiny[300];

	for (int i = 0; i < 2; i++) {
		if (pids[i] <= 0)
			continue;
		kill(pids[i], SIGTERM);
		waitpid(pids[i], NULL, 0);
	}
	if (endless_pid > 0) {
		kill(-endless_pid, SIGTERM); /* the server and its connections */
		waitpid(endless_pid, NULL, 0);
	}
	bb_pid = fault_pid = endless_pid = -1;
	snprintf(tiny, sizeof(tiny), "%s/tiny", suite_dir);
	umount2(tiny, MNT_DETACH); /* still mounted only if test_disk_full failed */
	rm_rf(suite_dir);
}

/* ---- per-test helpers ---- */

static char cache[320];

static void cache_up(void)
{
	snprintf(cache, sizeof(cache), "%s/cache-XXXXXX", suite_dir);
	ck_assert_ptr_nonnull(mkdtemp(cache));
	log_verbosity = LOG_QUIET;
}

static void cache_down(void)
{
	rm_rf(cache);
}

static void bb_url(char *out, size_t sz, const char *file)
{
	snprintf(out, sz, "http://127.0.0.1:%d/%s", bb_port, file);
}

static void fault_url(char *out, size_t sz, const char *path)
{
	snprintf(out, sz, "http://127.0.0.1:%d/%s", fault_port, path);
}

static void in_cache(char *out, size_t sz, const char *name)
{
	snprintf(out, sz, "%s/%s", cache, name);
}

/* Regular files under dir, recursively; names appended to 'list'. */
static int count_files(const char *dir, struct buf *list)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char sub[1024];
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (lstat(sub, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			n += count_files(sub, list);
		} else {
			n++;
			if (list)
				buf_addf(list, "%s ", de->d_name);
		}
	}
	closedir(d);
	return n;
}

static void assert_cache_files(int want)
{
	struct buf list;
	int n;

	buf_init(&list, 0);
	n = count_files(cache, &list);
	ck_assert_msg(n == want, "%d files in the cache, want %d: %s", n, want, list.data);
	buf_release(&list);
}

static bool same_file(const char *a, const char *b)
{
	struct buf x, y;
	bool same;

	buf_init(&x, 0);
	buf_init(&y, 0);
	same = buf_read_file(&x, a) == 0 && buf_read_file(&y, b) == 0 &&
	       blob_eq(buf_blob(&x), buf_blob(&y));
	buf_release(&x);
	buf_release(&y);
	return same;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	buf_add(ud, p, s * n);
	return s * n;
}

/* GET a fault-server control URL and return its body as a number. */
static long fault_get_num(const char *path)
{
	char url[512];
	struct buf b;
	CURL *c = curl_easy_init();
	long v;

	fault_url(url, sizeof(url), path);
	buf_init(&b, 0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	v = strtol(strchr(b.data, ' ') ? strchr(b.data, ' ') + 1 : b.data, NULL, 10);
	buf_release(&b);
	return v;
}

static long hits(const char *path)
{
	char p[512];

	snprintf(p, sizeof(p), "hits/%s", path);
	return fault_get_num(p);
}

static void quick_opts(struct fetch_opts *o)
{
	fetch_opts_init(o);
	o->backoff_ms = 20;
	o->retries = 2;
	o->low_speed_time_s = 1;
	o->connect_timeout_ms = 3000;
}

static void req_init(struct fetch_req *r, const char *url, const char *cache_path)
{
	fetch_req_init(r);
	r->url = url;
	r->cache_path = cache_path;
}

/* A verify callback that checks a package like the builder will: signature, C:, datahash. */
struct pkg_check {
	struct apk_trust trust;
	int calls;
};

static int verify_pkg(void *ctx, const struct fetch_req *req, struct blob data,
		      struct it_error *err)
{
	struct pkg_check *pc = ctx;
	struct apk_file f;
	struct apk_verify v;
	int r;

	pc->calls++;
	r = apk_file_open_mem(&f, req->url, data, NULL, err);
	if (r < 0)
		return r;
	r = apk_pkg_verify(&f, &pc->trust, NULL, &v, err);
	apk_file_release(&f);
	return r;
}

static void pkg_check_init(struct pkg_check *pc)
{
	struct it_error err = IT_ERROR_INIT;

	apk_trust_init(&pc->trust);
	ck_assert_int_eq(apk_trust_load(&pc->trust, "keys", &err), 0);
	pc->calls = 0;
}

static int reject(void *ctx, const struct fetch_req *req, struct blob data, struct it_error *err)
{
	(void)ctx;
	(void)data;
	return it_error_set(err, -IT_ECHECKSUM, "'%s': checksum Q1xxx does not match the index",
			    req->url);
}

/* ---- tests ---- */

START_TEST(test_local_sources)
{
	struct fetch_opts o;
	struct fetch_req r[4];
	struct it_error err = IT_ERROR_INIT;
	char dir[1024], spaced[1100], url_spaced[1200], abs[1024], url_abs[1100], cp[4][1024];

	quick_opts(&o);
	o.offline = true; /* local sources never need the network */
	snprintf(dir, sizeof(dir), "%s/src", cache);
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	snprintf(spaced, sizeof(spaced), "%s/a b.apk", dir);
	copy_file(REPO "/" BINSH, spaced);
	snprintf(url_spaced, sizeof(url_spaced), "file://%s/a%%20b.apk", dir);
	ck_assert_ptr_nonnull(realpath(REPO "/" BUSYBOX, abs));
	snprintf(url_abs, sizeof(url_abs), "file://localhost%s", abs);
	for (int i = 0; i < 4; i++)
		snprintf(cp[i], sizeof(cp[i]), "%s/c/%d", cache, i);
	req_init(&r[0], url_spaced, cp[0]);
	req_init(&r[1], url_abs, cp[1]);
	req_init(&r[2], REPO "/" BINSH, cp[2]);
	req_init(&r[3], REPO "/" BINSH, NULL);
	ck_assert_msg(fetch_batch(&o, r, 4, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r[0].outcome, FETCH_LOCAL);
	ck_assert_str_eq(r[0].path, spaced);
	ck_assert_str_eq(r[1].path, abs);
	ck_assert_str_eq(r[2].path, REPO "/" BINSH);
	ck_assert_uint_eq(r[2].bytes, BINSH_SIZE);
	ck_assert_int_eq(r[2].attempts, 0);
	/* Read in place: nothing was copied into the cache. */
	assert_cache_files(1);
	for (int i = 0; i < 4; i++)
		fetch_req_release(&r[i]);

	req_init(&r[0], "file:///nonexistent/x.apk", cp[0]);
	req_init(&r[1], "ftp://example.org/x.apk", cp[1]);
	req_init(&r[2], "tests/data", cp[2]);
	ck_assert_int_eq(fetch_batch(&o, r, 3, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "cannot read '/nonexistent/x.apk': No such file or directory");
	ck_assert_int_eq(r[1].status, -IT_EUSAGE);
	ck_assert_str_eq(r[1].err.msg, "cannot fetch 'ftp://example.org/x.apk': unsupported URL");
	ck_assert_str_eq(r[2].err.msg, "cannot read 'tests/data': not a regular file");
	for (int i = 0; i < 3; i++)
		fetch_req_release(&r[i]);
}
END_TEST

/* The index checksum of a real package, as the index would give it. */
static void identity_of(const char *path, unsigned char *csum)
{
	struct apk_file f;

	ck_assert_int_eq(apk_file_open(&f, path, NULL, NULL), 0);
	ck_assert_int_eq(apk_file_identity(&f, APK_CSUM_SHA1, csum), 0);
	apk_file_release(&f);
}

START_TEST(test_download_then_cached)
{
	struct fetch_opts o;
	struct fetch_req r;
	struct apk_trust trust;
	struct apk_check chk = {0};
	unsigned char csum[20];
	struct it_error err = IT_ERROR_INIT;
	char url[256], cp[512];

	quick_opts(&o);
	apk_trust_init(&trust);
	ck_assert_int_eq(apk_trust_load(&trust, "keys", NULL), 0);
	identity_of(REPO "/" BUSYBOX, csum);
	chk.trust = &trust;
	chk.expect = (struct apk_pkg_expect)APK_PKG_EXPECT_INIT;
	chk.expect.name = blob_str("busybox");
	chk.expect.csum = csum;
	chk.expect.csum_len = APK_CSUM_SHA1;
	chk.expect.size = BUSYBOX_SIZE;
	bb_url(url, sizeof(url), BUSYBOX);
	in_cache(cp, sizeof(cp), "packages/" BUSYBOX);
	req_init(&r, url, cp);
	r.expected_size = BUSYBOX_SIZE;
	r.verify = apk_check_pkg_download;
	r.verify_ctx = &chk;
	ck_assert_msg(fetch_batch(&o, &r, 1, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r.outcome, FETCH_DOWNLOADED);
	ck_assert_str_eq(r.path, cp);
	ck_assert_uint_eq(r.bytes, BUSYBOX_SIZE);
	ck_assert_int_eq(r.http_code, 200);
	ck_assert_int_eq(r.attempts, 1);
	ck_assert_str_eq(chk.verify.signer, "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub");
	ck_assert(same_file(cp, REPO "/" BUSYBOX));
	assert_cache_files(1);

	/* Packages are immutable: the second time nothing is asked. */
	memset(&chk.verify, 0, sizeof(chk.verify));
	ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), 0);
	ck_assert_int_eq(r.outcome, FETCH_CACHED);
	ck_assert_int_eq(r.attempts, 0);
	ck_assert_str_eq(chk.verify.signer, "");
	fetch_req_release(&r);

	/* The index says another checksum: the download is refused and not kept. */
	unlink(cp);
	csum[0] ^= 1;
	req_init(&r, url, cp);
	r.verify = apk_check_pkg_download;
	r.verify_ctx = &chk;
	ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), -IT_ECHECKSUM);
	tu_assert_textf(err.msg, true,
			"'%s': checksum Q1AYNx2pLOAHRYZQgv3nM8TNtvRWY= does not match the index",
			url);
	ck_assert_int_eq(r.attempts, 1);
	assert_cache_files(0);
	fetch_req_release(&r);
	apk_trust_release(&trust);
}
END_TEST

START_TEST(test_parallel_batch)
{
	struct fetch_opts o;
	struct fetch_req r[25];
	char urls[25][256], cps[25][512], names[25][128];
	struct pkg_check pc;
	struct it_error err = IT_ERROR_INIT;
	DIR *d;
	struct dirent *de;
	size_t n = 0;
	int64_t t0;

	quick_opts(&o);
	pkg_check_init(&pc);
	d = opendir(REPO);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".apk"))
			continue;
		ck_assert_uint_lt(n, 25 + 1);
		snprintf(names[n], sizeof(names[n]), "%.100s", de->d_name);
		bb_url(urls[n], sizeof(urls[n]), names[n]);
		in_cache(cps[n], sizeof(cps[n]), names[n]);
		req_init(&r[n], urls[n], cps[n]);
		r[n].verify = verify_pkg;
		r[n].verify_ctx = &pc;
		n++;
	}
	closedir(d);
	ck_assert_uint_eq(n, 25);
	ck_assert_msg(fetch_batch(&o, r, n, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < n; i++) {
		char src[4096];

		snprintf(src, sizeof(src), "%s/%s", REPO, names[i]);
		ck_assert_int_eq(r[i].outcome, FETCH_DOWNLOADED);
		ck_assert_msg(same_file(cps[i], src), "%s differs", names[i]);
		fetch_req_release(&r[i]);
	}
	ck_assert_int_eq(pc.calls, 25);
	assert_cache_files(25);

	/* At most max_parallel at once, and really in parallel: 8 slow answers of 400 ms. */
	fault_get_num("stats"); /* resets the high-water mark */
	o.max_parallel = 3;
	for (size_t i = 0; i < 8; i++) {
		snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d/slow/400/%.100s",
			 fault_port, names[i]);
		snprintf(cps[i], sizeof(cps[i]), "%.256s/slow/%.100s", cache, names[i]);
		req_init(&r[i], urls[i], cps[i]);
	}
	t0 = now_ms();
	ck_assert_msg(fetch_batch(&o, r, 8, &err) == 0, "%s", err.msg);
	ck_assert_int_lt(now_ms() - t0, 8 * 400);
	ck_assert_int_eq(fault_get_num("stats"), 3);
	for (size_t i = 0; i < 8; i++)
		fetch_req_release(&r[i]);
	apk_trust_release(&pc.trust);
}
END_TEST

START_TEST(test_http_404_403)
{
	struct fetch_opts o;
	struct fetch_req r[3];
	struct it_error err = IT_ERROR_INIT;
	char url[3][256], cp[3][512];

	quick_opts(&o);
	bb_url(url[0], sizeof(url[0]), "no-such-1.0-r0.apk");
	fault_url(url[1], sizeof(url[1]), "status/404/" BINSH);
	fault_url(url[2], sizeof(url[2]), "status/403/" BINSH);
	for (int i = 0; i < 3; i++) {
		snprintf(cp[i], sizeof(cp[i]), "%s/p/%d.apk", cache, i);
		req_init(&r[i], url[i], cp[i]);
	}
	ck_assert_int_eq(fetch_batch(&o, r, 3, &err), -IT_EHTTP);
	tu_assert_textf(err.msg, false, "cannot fetch '%s': HTTP 404", url[0]);
	tu_assert_textf(r[2].err.msg, false, "cannot fetch '%s': HTTP 403", url[2]);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(r[i].attempts, 1);
		ck_assert_ptr_null(r[i].path);
	}
	ck_assert_int_eq(r[0].http_code, 404);
	ck_assert_int_eq(hits("status/404/" BINSH), 1);
	ck_assert_int_eq(hits("status/403/" BINSH), 1);
	assert_cache_files(0);
	for (int i = 0; i < 3; i++)
		fetch_req_release(&r[i]);
}
END_TEST

START_TEST(test_retry_5xx)
{
	struct fetch_opts o;
	struct fetch_req r;
	struct it_error err = IT_ERROR_INIT;
	char url[256], cp[512];
	int64_t t0;

	quick_opts(&o);
	fault_url(url, sizeof(url), "fail/2/" BINSH);
	in_cache(cp, sizeof(cp), BINSH);
	req_init(&r, url, cp);
	t0 = now_ms();
	ck_assert_msg(fetch_batch(&o, &r, 1, &err) == 0, "%s", err.msg);
	ck_assert_int_ge(now_ms() - t0, 20 + 40); /* backoff 20 ms, then 40 ms */
	ck_assert_int_eq(r.attempts, 3);
	ck_assert_int_eq(hits("fail/2/" BINSH), 3);
	ck_assert(same_file(cp, REPO "/" BINSH));
	fetch_req_release(&r);

	/* Always 503: gives up after 1 + retries tries and says so. */
	fault_url(url, sizeof(url), "status/503/" BINSH);
	in_cache(cp, sizeof(cp), "x.apk");
	req_init(&r, url, cp);
	ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), -IT_EHTTP);
	tu_assert_textf(err.msg, false, "cannot fetch '%s': HTTP 503 (tried 3 times)", url);
	ck_assert_int_eq(hits("status/503/" BINSH), 3);
	assert_cache_files(1);
	fetch_req_release(&r);
}
END_TEST

/* Bodies that end early: no partial file may remain. */
START_TEST(test_cut_bodies)
{
	struct fetch_opts o;
	struct fetch_req r[3];
	struct pkg_check pc;
	struct it_error err = IT_ERROR_INIT;
	char url[3][256], cp[3][512];

	quick_opts(&o);
	o.retries = 1;
	pkg_check_init(&pc);
	fault_url(url[0], sizeof(url[0]), "close/" BUSYBOX);
	fault_url(url[1], sizeof(url[1]), "badlen/" BUSYBOX);
	fault_url(url[2], sizeof(url[2]), "short/" BUSYBOX);
	for (int i = 0; i < 3; i++) {
		snprintf(cp[i], sizeof(cp[i]), "%s/p/%d.apk", cache, i);
		req_init(&r[i], url[i], cp[i]);
	}
	r[2].verify = verify_pkg; /* no Content-Length: only the contents can tell */
	r[2].verify_ctx = &pc;
	ck_assert_int_eq(fetch_batch(&o, r, 3, &err), -IT_ENETWORK);
	for (int i = 0; i < 2; i++) {
		tu_assert_textf(r[i].err.msg, true, "cannot fetch '%s': Transferred a partial file",
				url[i]);
		ck_assert_msg(strstr(r[i].err.msg, "(tried 2 times)") != NULL, "%s", r[i].err.msg);
		ck_assert_int_eq(r[i].status, -IT_ENETWORK);
	}
	/* The control member arrived whole, so the datahash over the cut data says it. */
	ck_assert_int_eq(r[2].status, -IT_ECHECKSUM);
	tu_assert_textf(r[2].err.msg, false, "'%s': data does not match the datahash in .PKGINFO",
			url[2]);
	ck_assert_int_eq(r[2].attempts, 1);
	assert_cache_files(0);
	for (int i = 0; i < 3; i++)
		fetch_req_release(&r[i]);

	/* With the size known from the index, a short body is a transient failure. */
	req_init(&r[0], url[2], cp[2]);
	r[0].expected_size = BUSYBOX_SIZE;
	ck_assert_int_eq(fetch_batch(&o, r, 1, &err), -IT_ENETWORK);
	tu_assert_textf(r[0].err.msg, false,
			"cannot fetch '%s': got %d of %d bytes (tried 2 times)", url[2],
			BUSYBOX_SIZE / 2, BUSYBOX_SIZE);
	assert_cache_files(0);
	fetch_req_release(&r[0]);
	apk_trust_release(&pc.trust);
}
END_TEST

START_TEST(test_size_mismatch)
{
	struct fetch_opts o;
	struct fetch_req r;
	struct it_error err = IT_ERROR_INIT;
	char url[256], cp[512];

	quick_opts(&o);
	bb_url(url, sizeof(url), BINSH);
	in_cache(cp, sizeof(cp), BINSH);
	req_init(&r, url, cp);
	r.expected_size = 1000;
	ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), -IT_ECHECKSUM);
	tu_assert_textf(err.msg, false, "cannot fetch '%s': more than the expected 1000 bytes",
			url);
	ck_assert_int_eq(r.attempts, 1);
	assert_cache_files(0);
	fetch_req_release(&r);
}
END_TEST

START_TEST(test_stalled)
{
	struct fetch_opts o;
	struct fetch_req r[2];
	struct it_error err = IT_ERROR_INIT;
	char url[2][256], cp[2][512];
	int64_t t0;

	quick_opts(&o);
	o.retries = 0;
	fault_url(url[0], sizeof(url[0]), "stall-body/" BUSYBOX);
	fault_url(url[1], sizeof(url[1]), "stall-head/" BUSYBOX);
	for (int i = 0; i < 2; i++) {
		snprintf(cp[i], sizeof(cp[i]), "%s/p/%d.apk", cache, i);
		req_init(&r[i], url[i], cp[i]);
	}
	t0 = now_ms();
	ck_assert_int_eq(fetch_batch(&o, r, 2, &err), -IT_ENETWORK);
	ck_assert_int_lt(now_ms() - t0, 10000);
	for (int i = 0; i < 2; i++) {
		tu_assert_textf(r[i].err.msg, true, "cannot fetch '%s': Timeout was reached",
				url[i]);
		fetch_req_release(&r[i]);
	}
	assert_cache_files(0);
}
END_TEST

START_TEST(test_unreachable)
{
	struct fetch_opts o;
	struct fetch_req r;
	struct it_error err = IT_ERROR_INIT;
	char url[256], cp[512];

	quick_opts(&o);
	o.retries = 1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/" BINSH, free_port());
	in_cache(cp, sizeof(cp), BINSH);
	req_init(&r, url, cp);
	ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), -IT_ENETWORK);
	tu_assert_textf(err.msg, true, "cannot fetch '%s': Couldn't connect to server", url);
	ck_assert_msg(strstr(err.msg, "(tried 2 times)") != NULL, "%s", err.msg);
	ck_assert_int_eq(r.attempts, 2);
	assert_cache_files(0);
	fetch_req_release(&r);
}
END_TEST

static void revalidate_round(const char *url, const char *cp, enum fetch_outcome want, long code)
{
	struct fetch_opts o;
	struct fetch_req r;
	struct it_error err = IT_ERROR_INIT;

	quick_opts(&o);
	req_init(&r, url, cp);
	r.revalidate = true;
	ck_assert_msg(fetch_batch(&o, &r, 1, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(r.outcome, want);
	ck_assert_int_eq(r.http_code, code);
	ck_assert_str_eq(r.path, cp);
	fetch_req_release(&r);
}

START_TEST(test_revalidate_304)
{
	char url[256], cp[512], served_idx[512], meta[600];
	struct timespec ts[2];
	struct buf b;

	bb_url(url, sizeof(url), "APKINDEX.tar.gz");
	ck_assert_int_eq(fetch_index_cache_path(cp, sizeof(cp), cache, url), 0);
	revalidate_round(url, cp, FETCH_DOWNLOADED, 200);
	snprintf(meta, sizeof(meta), "%s.meta", cp);
	ck_assert_int_eq(access(meta, F_OK), 0);
	revalidate_round(url, cp, FETCH_NOT_MODIFIED, 304);
	assert_cache_files(2); /* the index and its sidecar */

	/* The index changes on the server: downloaded again. */
	snprintf(served_idx, sizeof(served_idx), "%s/APKINDEX.tar.gz", served);
	copy_file(REPO "/" BINSH, served_idx);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += 10;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, served_idx, ts, 0), 0);
	revalidate_round(url, cp, FETCH_DOWNLOADED, 200);
	ck_assert(same_file(cp, REPO "/" BINSH));
	copy_file(REPO "/APKINDEX.tar.gz", served_idx);

	/* The same with ETag and Last-Modified from the fault server. */
	fault_url(url, sizeof(url), "ok/APKINDEX.tar.gz");
	ck_assert_int_eq(fetch_index_cache_path(cp, sizeof(cp), cache, url), 0);
	revalidate_round(url, cp, FETCH_DOWNLOADED, 200);
	revalidate_round(url, cp, FETCH_NOT_MODIFIED, 304);

	/* What claims to be an index must be a signed one before it replaces the cached copy. */
	{
		struct fetch_opts o;
		struct fetch_req r;
		struct apk_trust trust;
		struct apk_check chk = {0};
		char bad_url[256], bad_cp[512];
		struct it_error err = IT_ERROR_INIT;

		quick_opts(&o);
		apk_trust_init(&trust);
		ck_assert_int_eq(apk_trust_load(&trust, "keys", NULL), 0);
		chk.trust = &trust;
		fault_url(bad_url, sizeof(bad_url), "ok/" BINSH);
		ck_assert_int_eq(fetch_index_cache_path(bad_cp, sizeof(bad_cp), cache, bad_url), 0);
		req_init(&r, bad_url, bad_cp);
		r.revalidate = true;
		r.verify = apk_check_index_download;
		r.verify_ctx = &chk;
		ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), -IT_EFORMAT);
		tu_assert_textf(err.msg, false, "'%s': is a package, not an index", bad_url);
		ck_assert_int_eq(access(bad_cp, F_OK), -1);
		fetch_req_release(&r);
		fault_url(bad_url, sizeof(bad_url), "ok/APKINDEX.tar.gz");
		req_init(&r, bad_url, bad_cp);
		r.verify = apk_check_index_download;
		r.verify_ctx = &chk;
		ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), 0);
		ck_assert_str_eq(chk.verify.signer,
				 "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub");
		fetch_req_release(&r);
		apk_trust_release(&trust);
	}
	/* A cached body that no longer matches its sidecar is not revalidated but fetched whole. */
	buf_init(&b, 0);
	ck_assert_int_eq(buf_read_file(&b, cp), 0);
	b.data[100] ^= 1;
	ck_assert_int_eq(write_file_atomic(cp, b.data, b.len, 0644), 0);
	buf_release(&b);
	revalidate_round(url, cp, FETCH_DOWNLOADED, 200);
	ck_assert(same_file(cp, REPO "/APKINDEX.tar.gz"));
}
END_TEST

static void endless_url(char *out, size_t sz, const char *path)
{
	snprintf(out, sz, "http://127.0.0.1:%d/%s", endless_port, path);
}

/* A body of unknown size that never ends stops at max_unknown_size, and leaves nothing. */
START_TEST(test_endless_body)
{
	struct fetch_opts o;
	struct fetch_req r[3];
	struct it_error err = IT_ERROR_INIT;
	const char *paths[3] = {"chunked/APKINDEX.tar.gz", "nolength/APKINDEX.tar.gz",
				"biglen/APKINDEX.tar.gz"};
	char url[3][256], cp[3][512];

	/* The default: 1 GiB, far above any index or package, far below a full disk. */
	fetch_opts_init(&o);
	ck_assert_uint_eq(o.max_unknown_size, 1024ULL * 1024 * 1024);

	quick_opts(&o);
	o.max_unknown_size = 1 << 20;
	for (int i = 0; i < 3; i++) {
		endless_url(url[i], sizeof(url[i]), paths[i]);
		ck_assert_int_eq(fetch_index_cache_path(cp[i], sizeof(cp[i]), cache, url[i]), 0);
		req_init(&r[i], url[i], cp[i]);
		r[i].revalidate = true; /* an index: its size is never known beforehand */
	}
	ck_assert_int_eq(fetch_batch(&o, r, 3, &err), -IT_ELIMIT);
	for (int i = 0; i < 3; i++) {
		tu_assert_textf(r[i].err.msg, false, "cannot fetch '%s': larger than 1048576 bytes",
				url[i]);
		ck_assert_str_ne(r[i].err.hint, "");
		ck_assert_int_eq(r[i].status, -IT_ELIMIT);
		ck_assert_int_eq(r[i].attempts, 1); /* not retried: it would only come again */
		ck_assert_ptr_null(r[i].path);
		ck_assert_uint_eq(r[i].bytes, 0);
		fetch_req_release(&r[i]);
	}
	tu_assert_textf(err.msg, false, "cannot fetch '%s': larger than 1048576 bytes", url[0]);
	assert_cache_files(0); /* no body, no temp file, no sidecar */

	/* The cap itself is allowed; one byte more is not. */
	endless_url(url[0], sizeof(url[0]), "exact/1048576/APKINDEX.tar.gz");
	endless_url(url[1], sizeof(url[1]), "exact/1048577/APKINDEX.tar.gz");
	for (int i = 0; i < 2; i++) {
		in_cache(cp[i], sizeof(cp[i]), i ? "over" : "at-cap");
		req_init(&r[i], url[i], cp[i]);
	}
	ck_assert_int_eq(fetch_batch(&o, r, 2, &err), -IT_ELIMIT);
	ck_assert_int_eq(r[0].status, 0);
	ck_assert_int_eq(r[0].outcome, FETCH_DOWNLOADED);
	ck_assert_uint_eq(r[0].bytes, 1 << 20);
	ck_assert_int_eq(r[1].status, -IT_ELIMIT);
	assert_cache_files(1);
	ck_assert_int_eq(access(cp[0], F_OK), 0);
	for (int i = 0; i < 2; i++)
		fetch_req_release(&r[i]);
}
END_TEST

/*
 * Another process renames other bytes over a cached index while we store
 * ours (another build, after the mirror changed). The sidecar we write must
 * describe the body we fetched, never what is at the path a moment later:
 * else the next revalidation gets a 304 for our ETag and keeps the other
 * bytes as if they were the server's.
 */
START_TEST(test_revalidate_racing_writer)
{
	char url[256], cp[512], dir[512], flip[600], meta[600], served_idx[512], alt[2][600];
	int kept_wrong = 0;

	/* A large body: hashing it takes a while, the window of the race. */
	bb_url(url, sizeof(url), BUSYBOX);
	ck_assert_int_eq(fetch_index_cache_path(cp, sizeof(cp), cache, url), 0);
	snprintf(flip, sizeof(flip), "%s.flip", cp);
	snprintf(served_idx, sizeof(served_idx), "%s/" BUSYBOX, served);
	snprintf(meta, sizeof(meta), "%s.meta", cp);
	for (int i = 0; i < 2; i++) {
		snprintf(alt[i], sizeof(alt[i]), "%s/alt%d", cache, i);
		copy_file(REPO "/" BINSH, alt[i]);
	}
	snprintf(dir, sizeof(dir), "%s", cp);
	*strrchr(dir, '/') = '\0';
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	for (int round = 0; round < 30; round++) {
		struct fetch_opts o;
		struct fetch_req r;
		struct it_error err = IT_ERROR_INIT;
		pid_t writer;

		quick_opts(&o);
		writer = fork();
		ck_assert_int_ge(writer, 0);
		if (writer == 0) {
			/* Never outlive a failed test. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			/* Two files in turn: rename() between two links of one file does nothing.
			 */
			for (unsigned i = 0;; i++) {
				if (link(alt[i & 1], flip) < 0 || rename(flip, cp) < 0)
					unlink(flip);
			}
		}
		/* No sidecar yet: a full download, whose sidecar is written under the race. */
		req_init(&r, url, cp);
		r.revalidate = true;
		ck_assert_msg(fetch_batch(&o, &r, 1, &err) == 0, "%s", err.msg);
		fetch_req_release(&r);
		kill(writer, SIGKILL);
		waitpid(writer, NULL, 0);
		unlink(flip);

		/* The writer is gone: whatever the cache holds, revalidating must end with the
		 * server's bytes. */
		req_init(&r, url, cp);
		r.revalidate = true;
		ck_assert_msg(fetch_batch(&o, &r, 1, &err) == 0, "%s", err.msg);
		if (!same_file(cp, served_idx))
			kept_wrong++;
		fetch_req_release(&r);
		unlink(cp);
		unlink(meta);
	}
	ck_assert_msg(kept_wrong == 0, "%d of 30 revalidations kept another writer's bytes",
		      kept_wrong);
}
END_TEST

START_TEST(test_offline)
{
	struct fetch_opts o;
	struct fetch_req r[3];
	struct it_error err = IT_ERROR_INIT;
	char url[3][256], cp[3][512];

	quick_opts(&o);
	bb_url(url[0], sizeof(url[0]), BINSH);
	in_cache(cp[0], sizeof(cp[0]), "packages/" BINSH);
	bb_url(url[1], sizeof(url[1]), "APKINDEX.tar.gz");
	ck_assert_int_eq(fetch_index_cache_path(cp[1], sizeof(cp[1]), cache, url[1]), 0);
	req_init(&r[0], url[0], cp[0]);
	req_init(&r[1], url[1], cp[1]);
	r[1].revalidate = true;
	ck_assert_msg(fetch_batch(&o, r, 2, &err) == 0, "%s", err.msg);
	fetch_req_release(&r[0]);
	fetch_req_release(&r[1]);

	/* Offline: hits come from the cache (an index without asking), a miss names URL and cache.
	 */
	o.offline = true;
	snprintf(url[2], sizeof(url[2]), "http://127.0.0.1:%d/other.apk", free_port());
	in_cache(cp[2], sizeof(cp[2]), "packages/other.apk");
	for (int i = 0; i < 3; i++)
		req_init(&r[i], url[i], cp[i]);
	r[1].revalidate = true;
	ck_assert_int_eq(fetch_batch(&o, r, 3, &err), -IT_EOFFLINE);
	ck_assert_int_eq(r[0].outcome, FETCH_CACHED);
	ck_assert_int_eq(r[1].outcome, FETCH_CACHED);
	ck_assert_int_eq(r[0].status, 0);
	ck_assert_int_eq(r[2].attempts, 0);
	tu_assert_textf(err.msg, false, "'%s' is not in the cache '%s/packages'", url[2], cache);
	fetch_req_release(&r[2]);
	/* Named after the cache root when the caller says what it is. */
	o.cache_dir = cache;
	req_init(&r[2], url[2], cp[2]);
	ck_assert_int_eq(fetch_batch(&o, &r[2], 1, &err), -IT_EOFFLINE);
	tu_assert_textf(r[2].err.msg, false, "'%s' is not in the cache '%s'", url[2], cache);
	ck_assert_str_eq(err.hint, "run once without --offline");
	for (int i = 0; i < 3; i++)
		fetch_req_release(&r[i]);
}
END_TEST

START_TEST(test_verify_rejects)
{
	struct fetch_opts o;
	struct fetch_req r;
	struct it_error err = IT_ERROR_INIT;
	char url[256], cp[512];

	quick_opts(&o);
	bb_url(url, sizeof(url), BINSH);
	in_cache(cp, sizeof(cp), "packages/" BINSH);
	req_init(&r, url, cp);
	r.verify = reject;
	ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), -IT_ECHECKSUM);
	tu_assert_textf(err.msg, false, "'%s': checksum Q1xxx does not match the index", url);
	ck_assert_int_eq(r.attempts, 1);
	ck_assert_int_eq(access(cp, F_OK), -1);
	assert_cache_files(0);
	fetch_req_release(&r);
}
END_TEST

START_TEST(test_disk_full)
{
	struct fetch_opts o;
	struct fetch_req r;
	struct it_error err = IT_ERROR_INIT;
	char mnt[512], url[256], cp[600];

	snprintf(mnt, sizeof(mnt), "%s/tiny", suite_dir);
	ck_assert_int_eq(mkdir_p(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0) {
		fprintf(stderr, "SKIP test_disk_full: cannot mount a tmpfs (%s); needs root\n",
			strerror(errno));
		return;
	}
	quick_opts(&o);
	bb_url(url, sizeof(url), BUSYBOX);
	snprintf(cp, sizeof(cp), "%s/packages/" BUSYBOX, mnt);
	req_init(&r, url, cp);
	ck_assert_int_eq(fetch_batch(&o, &r, 1, &err), -ENOSPC);
	tu_assert_textf(err.msg, false, "cannot write '%s': No space left on device", cp);
	ck_assert_int_eq(r.attempts, 1);
	ck_assert_int_eq(count_files(mnt, NULL), 0);
	fetch_req_release(&r);
	ck_assert_int_eq(umount(mnt), 0);
}
END_TEST

START_TEST(test_sweep_stale)
{
	char old[600], fresh[600], other[600], dir[512];
	struct timespec ts[2];
	struct fetch_opts o;
	struct fetch_req r;
	char url[256], cp[600];

	snprintf(dir, sizeof(dir), "%s/packages", cache);
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	snprintf(old, sizeof(old), "%s/a.apk.tmp.123.4", dir);
	snprintf(fresh, sizeof(fresh), "%s/b.apk.tmp.77.0", dir);
	snprintf(other, sizeof(other), "%s/c.tmp.apk", dir);
	ck_assert_int_eq(write_file_atomic(old, "x", 1, 0644), 0);
	ck_assert_int_eq(write_file_atomic(fresh, "x", 1, 0644), 0);
	ck_assert_int_eq(write_file_atomic(other, "x", 1, 0644), 0);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 2 * 3600;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, old, ts, 0), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, other, ts, 0), 0);

	/* A batch that downloads into that directory sweeps it. */
	quick_opts(&o);
	bb_url(url, sizeof(url), BINSH);
	snprintf(cp, sizeof(cp), "%s/" BINSH, dir);
	req_init(&r, url, cp);
	ck_assert_int_eq(fetch_batch(&o, &r, 1, NULL), 0);
	fetch_req_release(&r);
	ck_assert_int_eq(access(old, F_OK), -1);
	ck_assert_int_eq(access(fresh, F_OK), 0);
	ck_assert_int_eq(access(other, F_OK), 0);
	ck_assert_int_eq(fetch_sweep_stale(dir, 0), 1);
	ck_assert_int_eq(access(fresh, F_OK), -1);
	ck_assert_int_eq(fetch_sweep_stale("/nonexistent/dir", 0), 0);
}
END_TEST

static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
	(void)sig;
	stop_flag = 1;
}

START_TEST(test_interrupted)
{
	struct fetch_opts o;
	struct fetch_req r[2];
	struct it_error err = IT_ERROR_INIT;
	char url[2][256], cp[2][512];
	struct itimerval it = {{0, 0}, {0, 300 * 1000}};
	int64_t t0;

	quick_opts(&o);
	o.low_speed_time_s = 30;
	o.interrupted = &stop_flag;
	fault_url(url[0], sizeof(url[0]), "stall-body/" BUSYBOX);
	fault_url(url[1], sizeof(url[1]), "status/500/" BINSH);
	o.backoff_ms = 60000; /* the 500 waits for a retry when the signal comes */
	for (int i = 0; i < 2; i++) {
		snprintf(cp[i], sizeof(cp[i]), "%s/p/%d.apk", cache, i);
		req_init(&r[i], url[i], cp[i]);
	}
	signal(SIGALRM, on_alarm);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	t0 = now_ms();
	ck_assert_int_eq(fetch_batch(&o, r, 2, &err), -IT_EINTERRUPTED);
	ck_assert_int_lt(now_ms() - t0, 5000);
	tu_assert_textf(err.msg, false, "cannot fetch '%s' (and 1 more): interrupted", url[0]);
	for (int i = 0; i < 2; i++) {
		tu_assert_textf(r[i].err.msg, false, "cannot fetch '%s': interrupted", url[i]);
		fetch_req_release(&r[i]);
	}
	assert_cache_files(0);
}
END_TEST

/* Capture what fetch_batch writes to stderr. */
static void run_captured(struct fetch_req *r, size_t n, struct buf *out)
{
	struct fetch_opts o;
	char path[600];
	int saved, fd;

	quick_opts(&o);
	snprintf(path, sizeof(path), "%s/stderr.txt", cache);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	ck_assert_int_eq(fetch_batch(&o, r, n, NULL), 0);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	buf_init(out, 0);
	ck_assert_int_eq(buf_read_file(out, path), 0);
	unlink(path);
}

/* Two downloads from the busybox server, BINSH into p/a and BUSYBOX into p/b. */
static void two_reqs(struct fetch_req r[2], char url[2][256], char cp[2][512])
{
	bb_url(url[0], sizeof(url[0]), BINSH);
	bb_url(url[1], sizeof(url[1]), BUSYBOX);
	in_cache(cp[0], sizeof(cp[0]), "p/a");
	in_cache(cp[1], sizeof(cp[1]), "p/b");
	req_init(&r[0], url[0], cp[0]);
	req_init(&r[1], url[1], cp[1]);
}

START_TEST(test_progress_lines)
{
	struct fetch_req r[2];
	char url[2][256], cp[2][512];
	struct buf out;

	two_reqs(r, url, cp);
	r[0].label = "busybox-binsh-1.36.1-r15";

	/* Not a terminal: one plain line per download. */
	log_verbosity = LOG_NORMAL;
	run_captured(r, 2, &out);
	ck_assert_msg(strstr(out.data, "fetched busybox-binsh-1.36.1-r15 (2 KiB)\n") != NULL, "%s",
		      out.data);
	ck_assert_msg(strstr(out.data, "fetched " BUSYBOX " (495 KiB)\n") != NULL, "%s", out.data);
	ck_assert(strchr(out.data, '\r') == NULL);
	buf_release(&out);

	/* Quiet: nothing at all. */
	unlink(cp[0]);
	unlink(cp[1]);
	log_verbosity = LOG_QUIET;
	run_captured(r, 2, &out);
	ck_assert_str_eq(out.data, "");
	buf_release(&out);
	fetch_req_release(&r[0]);
	fetch_req_release(&r[1]);
}
END_TEST

START_TEST(test_progress_bar_on_tty)
{
	struct fetch_opts o;
	struct fetch_req r[2];
	char url[2][256], cp[2][512], out[8192];
	int master = -1, slave = -1, saved;
	ssize_t n, total = 0;

	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	quick_opts(&o);
	two_reqs(r, url, cp);
	log_verbosity = LOG_NORMAL;
	fflush(stderr);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
	dup2(slave, STDERR_FILENO);
	ck_assert_int_eq(fetch_batch(&o, r, 2, NULL), 0);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(slave);
	fcntl(master, F_SETFL, O_NONBLOCK);
	while (total < (ssize_t)sizeof(out) - 1 &&
	       (n = read(master, out + total, sizeof(out) - 1 - (size_t)total)) > 0)
		total += n;
	out[total] = '\0';
	close(master);
	/* One line redrawn in place, finished with a newline; no per-file lines. */
	ck_assert_msg(strstr(out, "\rinitrd-test: fetching 2/2, 0.5/0.5 MiB\033[K") != NULL, "%s",
		      out);
	ck_assert(strstr(out, "fetched ") == NULL);
	ck_assert_msg(total >= 2 && out[total - 1] == '\n', "%s", out);
	fetch_req_release(&r[0]);
	fetch_req_release(&r[1]);
}
END_TEST

START_TEST(test_cache_paths)
{
	unsigned char c[20];
	char a[512], b[512];
	struct fetch_req r[2];
	struct it_error err = IT_ERROR_INIT;

	for (int i = 0; i < 20; i++)
		c[i] = (unsigned char)(i * 17);
	ck_assert_int_eq(fetch_pkg_cache_path(a, sizeof(a), "/c", "busybox", "1.36.1-r15", c, 20),
			 0);
	ck_assert_str_eq(a, "/c/packages/busybox-1.36.1-r15.0011223344556677.apk");
	ck_assert_int_eq(fetch_pkg_cache_path(a, sizeof(a), "/c", "../x", "1", c, 20), -EINVAL);
	ck_assert_int_eq(fetch_pkg_cache_path(a, 20, "/c", "busybox", "1", c, 20), -ENAMETOOLONG);
	ck_assert_int_eq(
	    fetch_index_cache_path(
		a, sizeof(a), "/c",
		"https://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/APKINDEX.tar.gz"),
	    0);
	ck_assert_int_eq(
	    fetch_index_cache_path(
		b, sizeof(b), "/c",
		"https://dl-cdn.alpinelinux.org/alpine/v3.19/community/x86_64/APKINDEX.tar.gz"),
	    0);
	ck_assert(strncmp(a, "/c/indexes/", 11) == 0);
	ck_assert_uint_eq(strlen(a), strlen("/c/indexes/0123456789abcdef/APKINDEX.tar.gz"));
	ck_assert_str_ne(a, b);
	ck_assert(fetch_is_remote("HTTPS://x/y"));
	ck_assert(!fetch_is_remote("file:///x"));

	/* Two downloads into one cache path in one batch make no sense. */
	req_init(&r[0], "http://127.0.0.1:1/a", "/tmp/x");
	req_init(&r[1], "http://127.0.0.1:1/b", "/tmp/x");
	ck_assert_int_eq(fetch_batch(NULL, r, 2, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "'/tmp/x' is requested twice in one batch");
	fetch_req_release(&r[0]);
	fetch_req_release(&r[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_fetch");
	TCase *tc = tcase_create("http");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, servers_up, servers_down);
	tcase_add_checked_fixture(tc, cache_up, cache_down);
	tcase_add_test(tc, test_local_sources);
	tcase_add_test(tc, test_download_then_cached);
	tcase_add_test(tc, test_parallel_batch);
	tcase_add_test(tc, test_http_404_403);
	tcase_add_test(tc, test_retry_5xx);
	tcase_add_test(tc, test_cut_bodies);
	tcase_add_test(tc, test_size_mismatch);
	tcase_add_test(tc, test_stalled);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_revalidate_304);
	tcase_add_test(tc, test_endless_body);
	tcase_add_test(tc, test_revalidate_racing_writer);
	tcase_add_test(tc, test_offline);
	tcase_add_test(tc, test_verify_rejects);
	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_sweep_stale);
	tcase_add_test(tc, test_interrupted);
	tcase_add_test(tc, test_progress_lines);
	tcase_add_test(tc, test_progress_bar_on_tty);
	tcase_add_test(tc, test_cache_paths);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
