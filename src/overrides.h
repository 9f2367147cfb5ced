/* SPDX-License-Identifier: MIT */
/* Command-line options shared by build, resolve, run and boot, and how they override a scenario. */
#ifndef IT_OVERRIDES_H
#define IT_OVERRIDES_H

#include <stdbool.h>

#include "common/err.h"
#include "common/strlist.h"
#include "scenario/scenario.h"
#include "src/options.h"

/* What the user said on the command line; every field optional. Borrowed argv strings. */
struct overrides {
	struct strlist repos; /* replaces the scenario's repositories */
	const char *release;  /* "v3.19": Alpine's mirror, main */
	const char *arch;
	const char *kernel; /* a bzImage path, or "host" */
	const char *modules_dir;
	const char *vmlinux;	/* symbols for crash reports */
	struct strlist modules; /* added to the scenario's */
	const char *cache_dir;
	const char *keys_dir;
	const char *hostname;
	const char *compression;
	bool offline, allow_untrusted;
	long jobs;
	const char *lock, *sbom; /* --lock FILE, --sbom FILE */
	bool write_lock, frozen; /* --write-lock or --update-lock, --frozen */
};

/*
 * The option groups of build, resolve, run and boot: packages (--repo,
 * --release, --arch, --cache-dir, --offline, --keys-dir, --allow-untrusted,
 * --jobs), kernel (--kernel, --modules-dir, --module) and image
 * (--hostname, --compression). Their context is a struct overrides.
 */
extern const struct opt_group overrides_packages, overrides_kernel, overrides_image;

/*
 * The group of build and run: --lock FILE, --write-lock, --update-lock,
 * --frozen (docs/lockfile.md) and --sbom FILE (docs/sbom.md). Without
 * --lock the lock is initrd-test.lock in the scenario's directory.
 */
extern const struct opt_group overrides_lock;

void overrides_init(struct overrides *o);
void overrides_release(struct overrides *o);
/* Apply to a loaded scenario (before scenario_resolve_kernel()). */
int overrides_apply(const struct overrides *o, struct scenario *s, struct it_error *err);
/*
 * What 'build', 'resolve' and 'lock' start from: the scenario at path (or an empty
 * one for NULL), the PACKAGE args added to its packages, o applied, and Alpine's
 * default repository when none is given. 0, or -errno with err set.
 */
int overrides_load(struct scenario *s, const char *path, const struct overrides *o, int argc,
		   char **argv, struct it_error *err);

#endif
