// SPDX-License-Identifier: MIT
/* Parallel downloads into a cache with curl multi: retries, revalidation, atomic renames. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "builder/internal.h"
#include "common/log.h"
#include "common/util.h"

#ifndef IT_VERSION
#define IT_VERSION "dev"
#endif

#define META_MAX 4096
#define POLL_MS 100

void fetch_req_init(struct fetch_req *r)
{
	memset(r, 0, sizeof(*r));
	r->expected_size = -1;
}

void fetch_req_release(struct fetch_req *r)
{
	free(r->path);
	r->path = NULL;
	r->status = 0;
	it_error_clear(&r->err);
	r->outcome = FETCH_PENDING;
	r->http_code = 0;
	r->attempts = 0;
	r->bytes = 0;
}

void fetch_opts_init(struct fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_parallel = 4;
	o->retries = 3;
	o->backoff_ms = 500;
	o->connect_timeout_ms = 15000;
	o->low_speed_limit = 1024;
	o->low_speed_time_s = 30;
	o->max_unknown_size = 1ULL << 30;
	o->stale_tmp_ms = 3600 * 1000;
}

bool fetch_is_remote(const char *url)
{
	return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

/* ---- small helpers ---- */

int fetch_pkg_cache_path(char *out, size_t outsz, const char *cache_dir, const char *name,
			 const char *version, const unsigned char *csum, size_t csum_len)
{
	char hex[17];
	int n;

	if (!csum || csum_len < 8 || strchr(name, '/') || strchr(version, '/'))
		return -EINVAL;
	hex_encode(csum, 8, hex);
	n = snprintf(out, outsz, "%s/packages/%s-%s.%s.apk", cache_dir, name, version, hex);
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	return 0;
}

int fetch_index_cache_path(char *out, size_t outsz, const char *cache_dir, const char *url)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[17];
	int n;

	if (EVP_Digest(url, strlen(url), md, NULL, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	hex_encode(md, 8, hex);
	n = snprintf(out, outsz, "%s/indexes/%s/APKINDEX.tar.gz", cache_dir, hex);
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	return 0;
}

/* Does a file name end like open_tmp_beside()'s "NAME.tmp.PID.N"? */
static bool is_tmp_name(const char *name)
{
	const char *p = NULL;

	for (const char *q = strstr(name, ".tmp."); q; q = strstr(q + 1, ".tmp."))
		p = q;
	if (!p)
		return false;
	p += 5;
	for (int part = 0; part < 2; part++) {
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
		if (part == 0 && *p++ != '.')
			return false;
	}
	return *p == '\0';
}

int fetch_sweep_stale(const char *dir, int64_t max_age_ms)
{
	DIR *d;
	struct dirent *de;
	char path[PATH_MAX];
	time_t now = time(NULL);
	int n = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (!is_tmp_name(de->d_name))
			continue;
		if (path_join(path, sizeof(path), dir, de->d_name) < 0)
			continue;
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if ((int64_t)(now - st.st_mtime) * 1000 < max_age_ms)
			continue;
		if (unlink(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int parent_dir(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		if (outsz < 2)
			return -ENAMETOOLONG;
		memcpy(out, ".", 2);
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= outsz)
		return -ENAMETOOLONG;
	memcpy(out, path, n);
	out[n] = '\0';
	return 0;
}

static const char *url_label(const char *url)
{
	const char *s = strrchr(url, '/');

	return s && s[1] ? s + 1 : url;
}

/* A file:// URL or a plain path to a local path (percent-decoded); NULL if not local. */
static int local_path(const char *url, char **out)
{
	const char *p;
	char *s, *d;

	*out = NULL;
	if (!strncasecmp(url, "file://", 7)) {
		p = url + 7;
		if (!strncasecmp(p, "localhost/", 10))
			p += 9;
		if (*p != '/')
			return -IT_EUSAGE;
	} else if (strstr(url, "://")) {
		return -IT_EUSAGE;
	} else {
		p = url;
	}
	s = strdup(p);
	if (!s)
		return -ENOMEM;
	if (p != url) {
		for (d = s, p = s; *p; p++) {
			int hi, lo;

			if (p[0] == '%' && p[1] && p[2]) {
				hi = hex_digit_value(p[1]);
				lo = hex_digit_value(p[2]);
				if (hi >= 0 && lo >= 0) {
					*d++ = (char)(hi << 4 | lo);
					p += 2;
					continue;
				}
			}
			*d++ = *p;
		}
		*d = '\0';
	}
	*out = s;
	return 0;
}

static int sha256_file_hex(const char *path, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	struct stat st;
	void *map = NULL;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			r = -errno;
			goto out;
		}
	}
	if (EVP_Digest(map ? map : "", (size_t)st.st_size, md, NULL, EVP_sha256(), NULL) != 1) {
		r = -ENOMEM;
		goto out;
	}
	hex_encode(md, 32, hex);
out:
	if (map)
		munmap(map, (size_t)st.st_size);
	close(fd);
	return r;
}

/* ---- the revalidation sidecar: "PATH.meta" ---- */

struct meta {
	char sha256[65];
	char etag[256];
	char lastmod[128];
};

static int meta_path(const char *cache_path, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s.meta", cache_path);

	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

static void meta_field(struct blob line, const char *key, char *dst, size_t dstsz)
{
	size_t k = strlen(key);

	if (line.len <= k + 1 || memcmp(line.ptr, key, k) != 0 || line.ptr[k] != ' ')
		return;
	line.ptr += k + 1;
	line.len -= k + 1;
	if (line.len >= dstsz)
		return;
	memcpy(dst, line.ptr, line.len);
	dst[line.len] = '\0';
}

/* Read the sidecar; true only if it describes the cached body as it is now. */
static bool meta_load(const char *cache_path, struct meta *m)
{
	char mp[PATH_MAX], hex[65];
	struct buf b;
	struct blob rest, line;
	bool ok = false;

	memset(m, 0, sizeof(*m));
	buf_init(&b, META_MAX);
	if (meta_path(cache_path, mp, sizeof(mp)) < 0 || buf_read_file(&b, mp) < 0)
		goto out;
	rest = buf_blob(&b);
	while (rest.len > 0) {
		if (!blob_split(rest, '\n', &line, &rest)) {
			line = rest;
			rest.len = 0;
		}
		meta_field(line, "sha256", m->sha256, sizeof(m->sha256));
		meta_field(line, "etag", m->etag, sizeof(m->etag));
		meta_field(line, "last-modified", m->lastmod, sizeof(m->lastmod));
	}
	/* A sidecar from another writer's body would make a 304 keep the wrong bytes. */
	ok = (m->etag[0] || m->lastmod[0]) && sha256_file_hex(cache_path, hex) == 0 &&
	     !strcmp(hex, m->sha256);
out:
	buf_release(&b);
	return ok;
}

/*
 * Describe the body whose SHA-256 is 'hex': the caller hashes the bytes it
 * fetched, before they are renamed into place. Hashing the cache path after
 * the rename would describe whatever another process renamed there since.
 */
static int meta_store(const char *cache_path, const char *hex, const char *etag,
		      const char *lastmod)
{
	char mp[PATH_MAX];
	struct buf b;
	int r;

	r = meta_path(cache_path, mp, sizeof(mp));
	if (r < 0)
		return r;
	if (!etag[0] && !lastmod[0]) {
		unlink(mp);
		return 0;
	}
	buf_init(&b, META_MAX);
	r = buf_addf(&b, "sha256 %s\n", hex);
	if (r == 0 && etag[0])
		r = buf_addf(&b, "etag %s\n", etag);
	if (r == 0 && lastmod[0])
		r = buf_addf(&b, "last-modified %s\n", lastmod);
	if (r == 0)
		r = write_file_atomic(mp, b.data, b.len, 0644);
	buf_release(&b);
	return r;
}

/* ---- transfers ---- */

enum xfer_state { X_IDLE, X_WAITING, X_RUNNING, X_DONE };

struct batch;

struct xfer {
	struct fetch_req *req;
	struct batch *b;
	enum xfer_state state;
	CURL *easy;
	struct curl_slist *headers;
	int fd;
	char tmp[PATH_MAX];
	unsigned long long got;
	unsigned long long cap; /* most bytes accepted */
	int write_errno;
	bool too_big;
	int64_t not_before; /* monotonic ms before which a retry may not start */
	char errbuf[CURL_ERROR_SIZE];
	bool conditional; /* sent If-None-Match / If-Modified-Since */
	char etag[256];
	char lastmod[128];
	long long dltotal, dlnow;
};

struct batch {
	const struct fetch_opts *o;
	CURLM *multi;
	struct xfer *x;
	size_t n;
	size_t running;
	size_t net_total, net_done;
	bool progress_tty;
	bool progress_shown;
	int64_t progress_at;
};

static void xfer_cleanup(struct xfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(x->b->multi, x->easy);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
	}
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	if (x->tmp[0]) {
		unlink(x->tmp);
		x->tmp[0] = '\0';
	}
}

static bool interrupted(const struct batch *b)
{
	return b->o->interrupted && *b->o->interrupted;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t len = size * nmemb, done = 0;

	if (x->got + len > x->cap) {
		x->too_big = true;
		return 0;
	}
	while (done < len) {
		ssize_t w = write(x->fd, ptr + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			x->write_errno = errno;
			return 0;
		}
		done += (size_t)w;
	}
	x->got += len;
	return len;
}

static void header_value(const char *p, size_t n, char *dst, size_t dstsz)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
		n--;
	if (n >= dstsz)
		n = 0; /* too long to be useful: do not keep a truncated validator */
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t len = size * nmemb;

	if (len >= 5 && !strncmp(ptr, "HTTP/", 5)) {
		/* A new response (after a redirect or a 100): forget the previous one's headers. */
		x->etag[0] = '\0';
		x->lastmod[0] = '\0';
	} else if (len > 5 && !strncasecmp(ptr, "ETag:", 5)) {
		header_value(ptr + 5, len - 5, x->etag, sizeof(x->etag));
	} else if (len > 14 && !strncasecmp(ptr, "Last-Modified:", 14)) {
		header_value(ptr + 14, len - 14, x->lastmod, sizeof(x->lastmod));
	}
	return len;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = userdata;

	(void)ultotal;
	(void)ulnow;
	x->dltotal = dltotal;
	x->dlnow = dlnow;
	return interrupted(x->b) ? 1 : 0;
}

static int xfer_fail(struct xfer *x, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int xfer_fail(struct xfer *x, int code, const char *fmt, ...)
{
	va_list ap;

	xfer_cleanup(x);
	va_start(ap, fmt);
	x->req->status = it_error_setv(&x->req->err, code, fmt, ap);
	va_end(ap);
	x->state = X_DONE;
	x->b->net_done++;
	return x->req->status;
}

static int xfer_start(struct xfer *x)
{
	const struct fetch_opts *o = x->b->o;
	struct fetch_req *req = x->req;
	struct meta m;
	char dir[PATH_MAX], hdr[512];
	int fd, r;

	r = parent_dir(req->cache_path, dir, sizeof(dir));
	if (r == 0)
		r = mkdir_p(dir, 0755);
	if (r < 0)
		return xfer_fail(x, r, "cannot create '%s': %s", dir, it_strerror(r));
	fd = open_tmp_beside(req->cache_path, x->tmp, sizeof(x->tmp));
	if (fd < 0) {
		x->tmp[0] = '\0';
		return xfer_fail(x, fd, "cannot write '%s': %s", req->cache_path, it_strerror(fd));
	}
	x->fd = fd;
	x->got = 0;
	x->write_errno = 0;
	x->too_big = false;
	x->errbuf[0] = '\0';
	x->etag[0] = x->lastmod[0] = '\0';
	x->dltotal = x->dlnow = 0;
	x->cap =
	    req->expected_size >= 0 ? (unsigned long long)req->expected_size : o->max_unknown_size;
	x->conditional = false;
	if (req->revalidate && meta_load(req->cache_path, &m)) {
		if (m.etag[0]) {
			snprintf(hdr, sizeof(hdr), "If-None-Match: %s", m.etag);
			x->headers = curl_slist_append(x->headers, hdr);
		}
		if (m.lastmod[0]) {
			snprintf(hdr, sizeof(hdr), "If-Modified-Since: %s", m.lastmod);
			x->headers = curl_slist_append(x->headers, hdr);
		}
		x->conditional = x->headers != NULL;
	}
	x->easy = curl_easy_init();
	if (!x->easy)
		return xfer_fail(x, -ENOMEM, "cannot fetch '%s': %s", req->url, strerror(ENOMEM));
	curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(x->easy, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(x->easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(x->easy, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
	curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "initrd-test/" IT_VERSION);
	if (x->headers)
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	if (curl_multi_add_handle(x->b->multi, x->easy) != CURLM_OK)
		return xfer_fail(x, -ENOMEM, "cannot fetch '%s': %s", req->url, strerror(ENOMEM));
	req->attempts++;
	x->state = X_RUNNING;
	x->b->running++;
	return 0;
}

static bool transient_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static bool transient_http(long code)
{
	return code >= 500 || code == 408 || code == 429;
}

/* Schedule another try, or fail for good with 'why' ("HTTP 500", "Couldn't connect to server"). */
static void xfer_retry_or_fail(struct xfer *x, int code, const char *why)
{
	const struct fetch_opts *o = x->b->o;
	struct fetch_req *req = x->req;
	int64_t delay;

	if (req->attempts > o->retries) {
		if (req->attempts > 1)
			xfer_fail(x, code, "cannot fetch '%s': %s (tried %d times)", req->url, why,
				  req->attempts);
		else
			xfer_fail(x, code, "cannot fetch '%s': %s", req->url, why);
		if (code == -IT_ENETWORK)
			it_error_hint(&req->err, "check the network and the repository URL; "
						 "--offline uses only the cache");
		return;
	}
	delay = o->backoff_ms;
	for (int i = 1; i < req->attempts && delay < INT64_MAX / 2; i++)
		delay *= 2;
	log_verbose("cannot fetch '%s': %s; retrying in %.1f s", req->url, why,
		    (double)delay / 1000);
	xfer_cleanup(x);
	x->state = X_WAITING;
	x->not_before = now_ms() + delay;
}

static void progress_line(struct batch *b, bool final);

static void report_done(struct xfer *x)
{
	struct batch *b = x->b;
	const char *label = x->req->label ? x->req->label : url_label(x->req->url);

	if (log_verbosity <= LOG_QUIET)
		return;
	if (b->progress_tty) {
		progress_line(b, false);
		return;
	}
	if (x->req->outcome == FETCH_DOWNLOADED)
		log_info("fetched %s (%llu KiB)", label, (x->req->bytes + 1023) / 1024);
	else
		log_verbose("%s is up to date", label);
}

/* A complete 2xx body is in x->tmp: check it, keep it. */
static void xfer_accept(struct xfer *x)
{
	struct fetch_req *req = x->req;
	void *map = NULL;
	char hex[65] = "";
	int r = 0, fd = x->fd;

	/* The bytes must be on disk before the name says they are there. */
	if (fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	x->fd = -1;
	if (r < 0) {
		xfer_fail(x, r, "cannot write '%s': %s", req->cache_path, strerror(-r));
		return;
	}
	if (req->verify) {
		struct blob data = BLOB_NULL;

		fd = open(x->tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			xfer_fail(x, r, "cannot read '%s': %s", x->tmp, strerror(-r));
			return;
		}
		if (x->got > 0) {
			map = mmap(NULL, x->got, PROT_READ, MAP_PRIVATE, fd, 0);
			if (map == MAP_FAILED) {
				r = -errno;
				close(fd);
				xfer_fail(x, r, "cannot read '%s': %s", x->tmp, strerror(-r));
				return;
			}
			data = blob_mem(map, x->got);
		} else {
			data = blob_mem("", 0);
		}
		close(fd);
		r = req->verify(req->verify_ctx, req, data, &req->err);
		if (map)
			munmap(map, x->got);
		if (r < 0) {
			if (!req->err.code)
				it_error_set(&req->err, r, "cannot fetch '%s': rejected: %s",
					     req->url, it_strerror(r));
			xfer_fail(x, r, "%s", req->err.msg);
			return;
		}
	}
	if (req->revalidate) {
		char mp[PATH_MAX];

		/* No sidecar may ever describe a body it was not written for. */
		if (meta_path(req->cache_path, mp, sizeof(mp)) == 0)
			unlink(mp);
		if (sha256_file_hex(x->tmp, hex) < 0)
			hex[0] = '\0'; /* no sidecar: the next time is a full download */
	}
	if (rename(x->tmp, req->cache_path) < 0) {
		r = -errno;
		xfer_fail(x, r, "cannot write '%s': %s", req->cache_path, strerror(-r));
		return;
	}
	x->tmp[0] = '\0';
	if (req->revalidate && hex[0])
		meta_store(req->cache_path, hex, x->etag, x->lastmod);
	req->path = strdup(req->cache_path);
	if (!req->path) {
		xfer_fail(x, -ENOMEM, "cannot fetch '%s': %s", req->url, strerror(ENOMEM));
		return;
	}
	req->bytes = x->got;
	req->outcome = FETCH_DOWNLOADED;
	req->status = 0;
	xfer_cleanup(x);
	x->state = X_DONE;
	x->b->net_done++;
	report_done(x);
}

/* A body curl could not write: our disk failed, or it was larger than it may be. */
static bool xfer_write_failed(struct xfer *x, CURLcode cr)
{
	struct fetch_req *req = x->req;

	if (cr != CURLE_WRITE_ERROR || (!x->write_errno && !x->too_big))
		return false;
	if (x->write_errno) {
		xfer_fail(x, -x->write_errno, "cannot write '%s': %s", req->cache_path,
			  strerror(x->write_errno));
	} else if (req->expected_size >= 0) {
		xfer_fail(x, -IT_ECHECKSUM, "cannot fetch '%s': more than the expected %lld bytes",
			  req->url, req->expected_size);
	} else {
		xfer_fail(x, -IT_ELIMIT, "cannot fetch '%s': larger than %llu bytes", req->url,
			  x->b->o->max_unknown_size);
		it_error_hint(&req->err,
			      "no index or package is that large: check the repository URL");
	}
	return true;
}

/* An HTTP error status (CURLE_HTTP_RETURNED_ERROR): retried when it may pass. */
static void xfer_http_failed(struct xfer *x, long code)
{
	struct fetch_req *req = x->req;
	char why[64];

	snprintf(why, sizeof(why), "HTTP %ld", code);
	if (transient_http(code)) {
		xfer_retry_or_fail(x, -IT_EHTTP, why);
		return;
	}
	xfer_fail(x, -IT_EHTTP, "cannot fetch '%s': %s", req->url, why);
	if (code == 404 || code == 410)
		it_error_hint(&req->err, "check the repository URL; if it is right, the "
					 "cached index may be older than the mirror");
}

/* Any other curl error, with curl's detail; retried when it may pass. */
static void xfer_curl_failed(struct xfer *x, CURLcode cr)
{
	char why[CURL_ERROR_SIZE + 128];

	/* curl's error buffer adds detail ("Operation too slow...", TLS reasons) unless it only
	 * repeats. */
	if (x->errbuf[0] && !strstr(x->errbuf, curl_easy_strerror(cr)) &&
	    strncmp(x->errbuf, "Could not resolve host", 22) != 0)
		snprintf(why, sizeof(why), "%s (%s)", curl_easy_strerror(cr), x->errbuf);
	else
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(cr));
	if (transient_curl(cr))
		xfer_retry_or_fail(x, -IT_ENETWORK, why);
	else
		xfer_fail(x, -IT_ENETWORK, "cannot fetch '%s': %s", x->req->url, why);
}

/* HTTP 304: the cached file stands, if the request was a conditional one. */
static void xfer_not_modified(struct xfer *x)
{
	struct fetch_req *req = x->req;

	if (!x->conditional) {
		xfer_fail(x, -IT_EHTTP, "cannot fetch '%s': HTTP 304 to a plain request", req->url);
		return;
	}
	req->path = strdup(req->cache_path);
	req->outcome = FETCH_NOT_MODIFIED;
	req->status = req->path ? 0 : -ENOMEM;
	xfer_cleanup(x);
	x->state = X_DONE;
	x->b->net_done++;
	report_done(x);
}

/* curl is done with x: fail it, retry it, or keep what came. */
static void xfer_finished(struct xfer *x, CURLcode cr)
{
	struct fetch_req *req = x->req;
	long code = 0;
	char why[128];

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	req->http_code = code;
	x->b->running--;
	if (interrupted(x->b)) {
		xfer_fail(x, -IT_EINTERRUPTED, "cannot fetch '%s': interrupted", req->url);
		return;
	}
	if (xfer_write_failed(x, cr))
		return;
	if (cr == CURLE_HTTP_RETURNED_ERROR) {
		xfer_http_failed(x, code);
		return;
	}
	if (cr != CURLE_OK) {
		xfer_curl_failed(x, cr);
		return;
	}
	if (code == 304) {
		xfer_not_modified(x);
		return;
	}
	if (code < 200 || code > 299) {
		xfer_fail(x, -IT_EHTTP, "cannot fetch '%s': HTTP %ld", req->url, code);
		return;
	}
	if (req->expected_size >= 0 && x->got != (unsigned long long)req->expected_size) {
		snprintf(why, sizeof(why), "got %llu of %lld bytes", x->got, req->expected_size);
		xfer_retry_or_fail(x, -IT_ENETWORK, why);
		return;
	}
	xfer_accept(x);
}

/* ---- progress ---- */

static void progress_line(struct batch *b, bool final)
{
	unsigned long long now_b = 0, total_b = 0;
	int64_t t = now_ms();

	if (!b->progress_tty || log_verbosity <= LOG_QUIET || b->net_total == 0)
		return;
	if (!final && t - b->progress_at < 100)
		return;
	b->progress_at = t;
	for (size_t i = 0; i < b->n; i++) {
		struct xfer *x = &b->x[i];

		if (x->state == X_IDLE)
			continue;
		if (x->req->expected_size >= 0)
			total_b += (unsigned long long)x->req->expected_size;
		else if (x->dltotal > 0)
			total_b += (unsigned long long)x->dltotal;
		if (x->state == X_DONE)
			now_b += x->req->bytes;
		else if (x->state == X_RUNNING && x->dlnow > 0)
			now_b += (unsigned long long)x->dlnow;
	}
	fprintf(stderr, "\r%s: fetching %zu/%zu, %.1f/%.1f MiB\033[K", log_prog, b->net_done,
		b->net_total, (double)now_b / 1048576.0, (double)total_b / 1048576.0);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
	b->progress_shown = true;
}

/* ---- the batch ---- */

/* Answer a request without the network if we can: 1 answered, 0 needs the network. */
static int prepare(const struct fetch_opts *o, struct fetch_req *req)
{
	struct stat st;
	char *lp = NULL;
	int r;

	req->status = 0;
	req->outcome = FETCH_PENDING;
	if (!fetch_is_remote(req->url)) {
		r = local_path(req->url, &lp);
		if (r == -IT_EUSAGE) {
			req->status = it_error_set(&req->err, r,
						   "cannot fetch '%s': unsupported URL", req->url);
			it_error_hint(&req->err, "use https://, http://, file:// or a path");
			return 1;
		}
		if (r < 0) {
			req->status = r;
			return 1;
		}
		if (stat(lp, &st) < 0) {
			req->status = it_error_set(&req->err, -errno, "cannot read '%s': %s", lp,
						   strerror(errno));
			free(lp);
			return 1;
		}
		if (!S_ISREG(st.st_mode)) {
			req->status = it_error_set(&req->err, -EISDIR, "cannot read '%s': %s", lp,
						   "not a regular file");
			free(lp);
			return 1;
		}
		req->path = lp;
		req->outcome = FETCH_LOCAL;
		req->bytes = (unsigned long long)st.st_size;
		return 1;
	}
	if (!req->cache_path) {
		req->status =
		    it_error_set(&req->err, -EINVAL, "cannot fetch '%s': no cache path", req->url);
		return 1;
	}
	if (stat(req->cache_path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (req->expected_size < 0 || st.st_size == req->expected_size) &&
	    (!req->revalidate || o->offline)) {
		req->path = strdup(req->cache_path);
		req->status = req->path ? 0 : -ENOMEM;
		req->outcome = FETCH_CACHED;
		req->bytes = (unsigned long long)st.st_size;
		return 1;
	}
	if (o->offline) {
		char dir[PATH_MAX];

		if (o->cache_dir)
			snprintf(dir, sizeof(dir), "%s", o->cache_dir);
		else if (parent_dir(req->cache_path, dir, sizeof(dir)) < 0)
			snprintf(dir, sizeof(dir), "%s", req->cache_path);
		req->status = it_error_set(&req->err, -IT_EOFFLINE, "'%s' is not in the cache '%s'",
					   req->url, dir);
		it_error_hint(&req->err, "run once without --offline");
		return 1;
	}
	return 0;
}

static int check_duplicates(struct batch *b, struct it_error *err)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->x[i].state != X_WAITING)
			continue;
		for (size_t j = i + 1; j < b->n; j++)
			if (b->x[j].state == X_WAITING &&
			    !strcmp(b->x[i].req->cache_path, b->x[j].req->cache_path))
				return it_error_set(err, -EINVAL,
						    "'%s' is requested twice in one batch",
						    b->x[i].req->cache_path);
	}
	return 0;
}

static void sweep_dirs(struct batch *b)
{
	char dir[PATH_MAX], prev[PATH_MAX] = "";

	if (b->o->stale_tmp_ms <= 0)
		return;
	for (size_t i = 0; i < b->n; i++) {
		if (b->x[i].state != X_WAITING)
			continue;
		if (parent_dir(b->x[i].req->cache_path, dir, sizeof(dir)) < 0 || !strcmp(dir, prev))
			continue;
		fetch_sweep_stale(dir, b->o->stale_tmp_ms);
		memcpy(prev, dir, sizeof(prev));
	}
}

static void handle_messages(struct batch *b)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(b->multi, &left)) != NULL) {
		struct xfer *x = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x)
			xfer_finished(x, msg->data.result);
	}
}

static int run_network(struct batch *b)
{
	int max = b->o->max_parallel > 0 ? b->o->max_parallel : 1;

	for (;;) {
		int64_t t = now_ms(), next = -1;
		bool pending = false;
		int still, wait;

		if (interrupted(b))
			return -IT_EINTERRUPTED;
		for (size_t i = 0; i < b->n; i++) {
			struct xfer *x = &b->x[i];

			if (x->state != X_WAITING)
				continue;
			pending = true;
			if (x->not_before > t) {
				if (next < 0 || x->not_before < next)
					next = x->not_before;
				continue;
			}
			if (b->running < (size_t)max)
				xfer_start(x);
		}
		if (!pending && b->running == 0)
			return 0;
		if (curl_multi_perform(b->multi, &still) != CURLM_OK)
			return -ENOMEM;
		handle_messages(b);
		progress_line(b, false);
		/* Wake for curl, for the next retry that becomes due, and to notice an interrupt.
		 */
		wait = POLL_MS;
		if (next >= 0) {
			int64_t due = next - now_ms();

			if (due < wait)
				wait = due > 0 ? (int)due : 0;
		}
		if (b->running > 0 || wait > 0)
			curl_multi_poll(b->multi, NULL, 0, wait, NULL);
	}
}

/* One transfer per request; those that prepare() cannot answer wait for the network. */
static int batch_init(struct batch *b, const struct fetch_opts *o, struct fetch_req *reqs, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->o = o;
	b->n = n;
	b->x = calloc(n ? n : 1, sizeof(*b->x));
	if (!b->x)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		fetch_req_release(&reqs[i]);
		b->x[i] = (struct xfer){.req = &reqs[i], .b = b, .fd = -1, .state = X_IDLE};
		if (prepare(o, &reqs[i]) == 0) {
			b->x[i].state = X_WAITING;
			b->net_total++;
		}
	}
	return 0;
}

static void batch_release(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		xfer_cleanup(&b->x[i]);
	if (b->multi)
		curl_multi_cleanup(b->multi);
	free(b->x);
}

/* libcurl (once per process) and the batch's multi handle. */
static int batch_open_network(struct batch *b, struct it_error *err)
{
	static bool curl_ready;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return it_error_set(err, -ENOMEM, "cannot initialize libcurl");
		curl_ready = true;
	}
	b->multi = curl_multi_init();
	if (!b->multi)
		return -ENOMEM;
	curl_multi_setopt(b->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)b->o->max_parallel);
	b->progress_tty = log_stderr_is_tty() && log_verbosity > LOG_QUIET;
	return 0;
}

/* Interrupted: every transfer not done stops, and err names what was cut short. */
static int stop_interrupted(struct batch *b, struct it_error *err)
{
	const char *first = NULL;
	size_t stopped = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct xfer *x = &b->x[i];

		if (x->state != X_RUNNING && x->state != X_WAITING)
			continue;
		x->state = X_DONE;
		xfer_cleanup(x);
		x->req->status = it_error_set(&x->req->err, -IT_EINTERRUPTED,
					      "cannot fetch '%s': interrupted", x->req->url);
		if (!first)
			first = x->req->url;
		stopped++;
	}
	/* Name what was cut short: the user may wonder what hung. */
	if (stopped > 1)
		return it_error_set(err, -IT_EINTERRUPTED,
				    "cannot fetch '%s' (and %zu more): interrupted", first,
				    stopped - 1);
	if (first)
		return it_error_set(err, -IT_EINTERRUPTED, "cannot fetch '%s': interrupted", first);
	return it_error_set(err, -IT_EINTERRUPTED, "interrupted while fetching");
}

/* The requests that need the network, downloaded in parallel. */
static int batch_download(struct batch *b, struct it_error *err)
{
	int r = batch_open_network(b, err);

	if (r < 0)
		return r;
	sweep_dirs(b);
	r = run_network(b);
	progress_line(b, true);
	if (r == -IT_EINTERRUPTED)
		return stop_interrupted(b, err);
	if (r < 0)
		return it_error_set(err, r, "cannot fetch: %s", it_strerror(r));
	return 0;
}

/* The first request that failed, in request order: its code, its text into err. */
static int first_failure(const struct fetch_req *reqs, size_t n, struct it_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (reqs[i].status < 0) {
			if (err && !err->code)
				*err = reqs[i].err;
			return reqs[i].status;
		}
	}
	return 0;
}

int fetch_batch(const struct fetch_opts *o, struct fetch_req *reqs, size_t n, struct it_error *err)
{
	struct fetch_opts defaults;
	struct batch b;
	int r;

	if (!o) {
		fetch_opts_init(&defaults);
		o = &defaults;
	}
	r = batch_init(&b, o, reqs, n);
	if (r < 0)
		return r;
	r = check_duplicates(&b, err);
	if (r == 0 && b.net_total > 0)
		r = batch_download(&b, err);
	if (r == 0)
		r = first_failure(reqs, n, err);
	batch_release(&b);
	return r;
}
