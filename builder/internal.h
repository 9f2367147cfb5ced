/* SPDX-License-Identifier: MIT */
/* The builder's private interfaces: for its own files, its unit tests, fuzz/ and bench/ only. */
#ifndef IT_BUILDER_INTERNAL_H
#define IT_BUILDER_INTERNAL_H

/*
 * The builder is a library with one public header, builder/builder.h: the
 * command layer and the other modules see nothing else, and
 * tests/lint/includes.sh says so when one of them does. Inside, each job has
 * a room of its own, a header and a .c of the same name, here in the order a
 * build goes through them: version (apk's version ordering and constraints),
 * apk (APK v2 files: gzip members, tar, .PKGINFO, checksums), trust (signing
 * keys, and files opened only when their signatures hold), fetch (cached,
 * parallel, retried downloads), index (APKINDEX into a package db), resolve
 * (the install plan, as apk 2.14 makes it), lock (initrd-test.lock: the plan
 * written down, and read back instead of resolving), tree (the filesystem in memory),
 * apkdb (apk's lib/apk/db files: installed and scripts.tar, as apk 2.14 writes them),
 * rootfs (configuring it without root), kmod (kernel versions and modules
 * with their dependencies), kernel (the build's kernel, from a package or the
 * host) and cpio (the newc writer and the lister). build.c runs them in that
 * order behind builder_build(); config.c owns struct build_config. Their
 * interfaces change with the builder and promise nothing to anyone outside
 * it. The rooms include each other's headers where one needs another; the
 * builder's other files, and the tests, fuzz targets and benchmarks that need
 * more than builder/builder.h, include this one.
 */
#include "builder/builder.h"

#include "builder/apk.h"
#include "builder/apkdb.h"
#include "builder/cpio.h"
#include "builder/fetch.h"
#include "builder/index.h"
#include "builder/kernel.h"
#include "builder/kmod.h"
#include "builder/lock.h"
#include "builder/resolve.h"
#include "builder/rootfs.h"
#include "builder/tree.h"
#include "builder/trust.h"
#include "builder/version.h"

/* Why a build stopped, for its messages: the value *build_config.cancel was set to. */
static inline const char *builder_cancel_reason(sig_atomic_t cancel)
{
	if (cancel == SIGINT)
		return "interrupted by SIGINT";
	if (cancel == SIGTERM)
		return "interrupted by SIGTERM";
	return "interrupted";
}

#endif
