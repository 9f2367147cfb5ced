/* SPDX-License-Identifier: MIT */
/* Command-line options shared by build, resolve and run, and how they override a scenario. */
#ifndef IT_OVERRIDES_H
#define IT_OVERRIDES_H

#include <getopt.h>
#include <stdbool.h>

#include "common/err.h"
#include "common/strlist.h"
#include "scenario/scenario.h"

/* Long-option values of the shared options; getopt_long returns them. */
enum {
	OPT_REPO = 1000,
	OPT_RELEASE,
	OPT_ARCH,
	OPT_KERNEL,
	OPT_MODULES_DIR,
	OPT_MODULE,
	OPT_CACHE_DIR,
	OPT_KEYS_DIR,
	OPT_OFFLINE,
	OPT_ALLOW_UNTRUSTED,
	OPT_JOBS,
	OPT_HOSTNAME,
	OPT_COMPRESSION,
	OPT_SHARED_MAX,
};

/* What the user said on the command line; every field optional. Borrowed argv strings. */
struct overrides {
	struct strlist repos; /* replaces the scenario's repositories */
	const char *release;  /* "v3.19": Alpine's mirror, main */
	const char *arch;
	const char *kernel; /* a bzImage path, or "host" */
	const char *modules_dir;
	struct strlist modules; /* added to the scenario's */
	const char *cache_dir;
	const char *keys_dir;
	const char *hostname;
	const char *compression;
	bool offline, allow_untrusted;
	long jobs;
};

#define OVERRIDES_LONG_OPTIONS                                                                     \
	{"repo", required_argument, NULL, OPT_REPO},                                               \
	    {"repository", required_argument, NULL, OPT_REPO},                                     \
	    {"release", required_argument, NULL, OPT_RELEASE},                                     \
	    {"arch", required_argument, NULL, OPT_ARCH},                                           \
	    {"kernel", required_argument, NULL, OPT_KERNEL},                                       \
	    {"modules-dir", required_argument, NULL, OPT_MODULES_DIR},                             \
	    {"module", required_argument, NULL, OPT_MODULE},                                       \
	    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},                                 \
	    {"keys-dir", required_argument, NULL, OPT_KEYS_DIR},                                   \
	    {"offline", no_argument, NULL, OPT_OFFLINE},                                           \
	    {"allow-untrusted", no_argument, NULL, OPT_ALLOW_UNTRUSTED},                           \
	    {"jobs", required_argument, NULL, OPT_JOBS},                                           \
	    {"hostname", required_argument, NULL, OPT_HOSTNAME},                                   \
	{                                                                                          \
		"compression", required_argument, NULL, OPT_COMPRESSION                            \
	}

/* The help text for the shared options. */
#define OVERRIDES_HELP                                                                             \
	"packages:\n"                                                                              \
	"  -r, --repo URL|DIR     a repository (https://, http://, file:// or a directory),\n"     \
	"                         highest priority first; repeatable; replaces the scenario's\n"   \
	"      --release VER      Alpine's mirror for release VER (v3.19): its main repository\n"  \
	"      --arch ARCH        package architecture (default x86_64)\n"                         \
	"      --cache-dir DIR    download cache (default $XDG_CACHE_HOME/initrd-test)\n"          \
	"      --offline          use the cache and local repositories only\n"                     \
	"      --keys-dir DIR     trusted signing keys (default: Alpine's, shipped with us)\n"     \
	"      --allow-untrusted  accept unsigned or unknown-key packages (loudly)\n"              \
	"  -j, --jobs N           parallel downloads (default 4)\n"                                \
	"kernel:\n"                                                                                \
	"      --kernel PATH|host a bzImage, or 'host': the newest /boot/vmlinuz-VERSION\n"        \
	"      --modules-dir DIR  its modules (/lib/modules/VERSION); default from the image\n"    \
	"      --module NAME      also include this module and its dependencies; repeatable\n"     \
	"image:\n"                                                                                 \
	"      --hostname NAME    /etc/hostname\n"                                                 \
	"      --compression C    gzip (default), zstd or none\n"

void overrides_init(struct overrides *o);
void overrides_release(struct overrides *o);
/* Take one getopt_long result; 1 if it was a shared option, 0 if not, <0 on a bad value. */
int overrides_take(struct overrides *o, int opt, const char *arg, struct it_error *err);
/* Apply to a loaded scenario (before scenario_resolve_kernel()). */
int overrides_apply(const struct overrides *o, struct scenario *s, struct it_error *err);

#endif
