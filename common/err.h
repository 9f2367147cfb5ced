/* SPDX-License-Identifier: MIT */
/* Error codes and the error struct that carries the first failure's text upward. */
#ifndef IT_ERR_H
#define IT_ERR_H

#include <stdarg.h>

/*
 * Functions return 0 on success, -errno for system failures, or one of these
 * negated project codes (all above 1024, as in apk-tools).
 */
enum it_errcode {
	IT_EBASE = 1024,
	IT_EFORMAT,	 /* malformed input: index, package, scenario, cpio */
	IT_ECHECKSUM,	 /* a checksum does not match the index or .PKGINFO */
	IT_ESIGNATURE,	 /* bad signature */
	IT_EUNTRUSTED,	 /* no signature by a trusted key */
	IT_EUNSAT,	 /* dependencies cannot be satisfied */
	IT_ENETWORK,	 /* transfer failed: DNS, connect, reset, timeout */
	IT_EHTTP,	 /* server answered with an HTTP error */
	IT_EPATH,	 /* unsafe path in an archive: '..', absolute, escaping link */
	IT_ECONFLICT,	 /* two packages own one file */
	IT_EUSAGE,	 /* bad command line */
	IT_ESCENARIO,	 /* bad scenario file */
	IT_ETIMEOUT,	 /* a deadline passed */
	IT_ENOTFOUND,	 /* a named thing (package, key, kernel, module) does not exist */
	IT_EOFFLINE,	 /* needed the network with --offline */
	IT_EKERNEL,	 /* kernel image or modules problem */
	IT_EVM,		 /* VM failed to start or died */
	IT_EFAIL,	 /* a scenario's expectation failed */
	IT_EINTERRUPTED, /* stopped by a signal */
	IT_ELIMIT,	 /* a size limit was exceeded */
	IT_EMAX,
};

#define IT_ERRMSG_MAX 1024

/*
 * Keeps the first error that was set, with its text; later errors do not
 * overwrite it, so the root cause reaches the user. A NULL pointer is allowed
 * wherever a 'struct it_error *' is taken.
 */
struct it_error {
	int code;		 /* negative, 0 when unset */
	char msg[IT_ERRMSG_MAX]; /* "cannot fetch 'URL': HTTP 404" */
	char hint[256];		 /* optional: "use --allow-untrusted to skip" */
};

#define IT_ERROR_INIT                                                                              \
	{                                                                                          \
		0, "", ""                                                                          \
	}

/* Text for any code: -errno or -IT_E*. Never NULL. */
const char *it_strerror(int code);

/* Record an error (if none yet) and return code, so callers can 'return it_error_set(...)'. */
int it_error_set(struct it_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int it_error_setv(struct it_error *e, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Attach a hint to the recorded error if it has none. */
void it_error_hint(struct it_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void it_error_clear(struct it_error *e);

#endif
