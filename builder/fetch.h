/* SPDX-License-Identifier: MIT */
/*
 * Cached downloads with libcurl: parallel, retried, revalidated, atomic; local files in place.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_FETCH_H
#define IT_BUILDER_FETCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct fetch_req;

/*
 * Checks downloaded bytes before they are kept (e.g. a package's checksum
 * against the index). Return 0 to accept; a negative code (with text in
 * err) rejects the download, which is then deleted and not retried.
 */
typedef int (*fetch_verify_fn)(void *ctx, const struct fetch_req *req, struct blob data,
			       struct it_error *err);

enum fetch_outcome {
	FETCH_PENDING = 0,
	FETCH_DOWNLOADED,   /* fetched now and stored at cache_path */
	FETCH_CACHED,	    /* the cached copy was used without asking the server */
	FETCH_NOT_MODIFIED, /* the server said 304: the cached copy is current */
	FETCH_LOCAL,	    /* file:// or a path: read in place, never copied */
};

/*
 * One download. The 'in' strings are borrowed and must outlive the batch;
 * the 'out' fields are filled by fetch_batch() and released by
 * fetch_req_release().
 */
struct fetch_req {
	/* in */
	const char *url;	 /* https://, http://, file:// or a plain path */
	const char *cache_path;	 /* where a download is kept (its directory is created) */
	long long expected_size; /* -1: unknown; otherwise a different size is a failed transfer */
	bool revalidate;   /* an index: conditional request (ETag / Last-Modified) each time */
	const char *label; /* progress name ("busybox-1.36.1-r15"); NULL: the URL's last part */
	fetch_verify_fn verify; /* optional; not called for local sources */
	void *verify_ctx;

	/* out */
	char *path;	     /* where the bytes are: cache_path, or the local file */
	int status;	     /* 0 or a negative code */
	struct it_error err; /* this request's error text */
	enum fetch_outcome outcome;
	long http_code;		  /* last HTTP status seen, 0 if none */
	int attempts;		  /* network attempts made */
	unsigned long long bytes; /* size of the file at path (0 on failure and on 304) */
};

void fetch_req_init(struct fetch_req *r);
void fetch_req_release(struct fetch_req *r);

struct fetch_opts {
	const char *cache_dir; /* named in offline misses; NULL: the request's directory */
	bool offline;	       /* cache and local sources only: a miss is -IT_EOFFLINE */
	int max_parallel;      /* transfers at once; default 4 */
	int retries;	       /* retries after the first try of a transient failure; default 3 */
	int64_t backoff_ms;    /* delay before the first retry, doubled each time; default 500 */
	int64_t connect_timeout_ms; /* default 15000 */
	long low_speed_limit; /* bytes/s; slower than this for low_speed_time_s aborts; default 1024
			       */
	long low_speed_time_s;		     /* default 30 */
	unsigned long long max_unknown_size; /* cap when expected_size is -1; default 1 GiB */
	int64_t stale_tmp_ms; /* sweep temp files older than this from cache dirs; 0: never; default
				 1 h */
	/* build_config.cancel (NULL: never): set, the batch stops and cleans up. */
	const volatile sig_atomic_t *interrupted;
};

void fetch_opts_init(struct fetch_opts *o);

/*
 * Run n requests: local sources and cache hits are answered at once, the
 * rest go to the network in parallel. Transient failures (connect errors,
 * timeouts, HTTP 5xx, 408, 429, short bodies) are retried with exponential
 * backoff; other HTTP errors are not. A download goes to a temp file beside
 * cache_path and is renamed over it only when complete and verified.
 * Every request gets its own status and err; the return value is 0 when
 * all succeeded, else the first failed request's code (in request order)
 * with its text copied to err. -IT_EINTERRUPTED when *interrupted was set.
 * Two network requests may not share a cache_path (-EINVAL).
 *
 * Processes may share one cache without a lock: a file appears there only
 * by rename(), whole and verified, so a reader never sees part of one; two
 * that fetch the same file at once each download it, the last rename wins
 * (the same bytes for a package, keyed by its checksum). An index's
 * revalidation sidecar holds the hash of the body it was written for,
 * taken before the rename, so it never vouches for another writer's bytes.
 */
int fetch_batch(const struct fetch_opts *o, struct fetch_req *reqs, size_t n, struct it_error *err);

/* True for http:// and https:// URLs (the ones that use the cache). */
bool fetch_is_remote(const char *url);

/*
 * Cache paths. A package is keyed by name, version and index checksum, so
 * two repositories cannot collide: CACHE/packages/NAME-VERSION.HEX16.apk.
 * An index by its URL: CACHE/indexes/HEX16/APKINDEX.tar.gz.
 */
int fetch_pkg_cache_path(char *out, size_t outsz, const char *cache_dir, const char *name,
			 const char *version, const unsigned char *csum, size_t csum_len);
int fetch_index_cache_path(char *out, size_t outsz, const char *cache_dir, const char *url);

/* Remove "*.tmp.PID.N" files older than max_age_ms from dir; returns how many, or -errno. */
int fetch_sweep_stale(const char *dir, int64_t max_age_ms);

#endif
