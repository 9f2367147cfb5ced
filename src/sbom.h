/* SPDX-License-Identifier: MIT */
/*
 * The bill of materials of a build as an SPDX 2.3 JSON document (docs/sbom.md),
 * from the builder's result: the initrd, its APK packages, the kernel and its modules.
 */
#ifndef IT_SBOM_H
#define IT_SBOM_H

#include "builder/builder.h"
#include "common/buf.h"
#include "common/err.h"

/*
 * Append the SPDX 2.3 JSON document for the build cfg made (res, of a build
 * that wrote cfg->output) to out. Deterministic: the same build gives the
 * same bytes (creationInfo.created is res->epoch, the initrd's mtime, which
 * SOURCE_DATE_EPOCH sets; the namespace comes from the initrd's digest).
 * Reads cfg->output and res->kernel_path for their digests. 0, or a negative
 * code with text in err.
 */
int sbom_spdx(const struct build_config *cfg, const struct build_result *res, struct buf *out,
	      struct it_error *err);

/* The same into cfg->sbom_file, whole or not at all; 0 when cfg->sbom_file is NULL. */
int sbom_write(const struct build_config *cfg, const struct build_result *res,
	       struct it_error *err);

/*
 * An APK license field ("GPL-2.0-or-later AND MIT", "custom") as a valid SPDX
 * license expression into out: known identifiers in their SPDX spelling,
 * AND/OR/WITH upper-cased, any other license name as "LicenseRef-NAME"
 * (appended to refs when new, as "LicenseRef-NAME=NAME"), and NOASSERTION for
 * an empty field or one that is no expression (unbalanced parentheses, an
 * unknown exception after WITH). 0 or -ENOMEM.
 */
int sbom_license(const char *apk_license, struct buf *out, struct strlist *refs);

#endif
