/* SPDX-License-Identifier: MIT */
/*
 * Alpine package versions: validation, ordering and constraint matching as apk-tools 2.x does.
 * Private to the builder (builder/internal.h); everyone else includes builder/builder.h.
 */
#ifndef IT_BUILDER_VERSION_H
#define IT_BUILDER_VERSION_H

#include <stdbool.h>

#include "common/buf.h"

/*
 * Results of a comparison, and the bits of a constraint's operator mask
 * (apk's APK_VERSION_*): "<=" is LESS|EQUAL, "~" is EQUAL|FUZZY, "><"
 * (a checksum constraint) is LESS|GREATER.
 */
#define APK_VERSION_UNKNOWN 0
#define APK_VERSION_EQUAL 1
#define APK_VERSION_LESS 2
#define APK_VERSION_GREATER 4
#define APK_VERSION_FUZZY 8
#define APK_DEPMASK_ANY                                                                            \
	(APK_VERSION_EQUAL | APK_VERSION_LESS | APK_VERSION_GREATER | APK_VERSION_FUZZY)
#define APK_DEPMASK_CHECKSUM (APK_VERSION_LESS | APK_VERSION_GREATER)

/*
 * True if 'ver' is a well-formed version: digits separated by dots, one
 * optional letter, suffixes (_alpha _beta _pre _rc _cvs _svn _git _hg _p,
 * each with an optional number), an optional "-rN" revision. The empty
 * version is valid (as in apk); callers that need one reject it themselves.
 */
bool apk_version_validate(struct blob ver);

/*
 * Compare two versions token by token as apk does. Returns
 * APK_VERSION_LESS, _EQUAL or _GREATER. Invalid versions compare by their
 * valid prefix and then by where they went wrong (apk's rules, so results
 * match 'apk version -t'). A NULL version (blob.ptr == NULL, an unversioned
 * provides) compares as EQUAL|LESS|GREATER against anything but another
 * NULL version.
 */
int apk_version_compare(struct blob a, struct blob b);

/* With 'fuzzy', a version that is a token prefix of the other compares EQUAL. */
int apk_version_compare_fuzzy(struct blob a, struct blob b, bool fuzzy);

/*
 * Parse a constraint operator made of the characters < > = ~ ("=", "<",
 * ">=", "~", "=~", "><", ...) into a mask. Returns 0 for an empty or
 * unknown operator.
 */
int apk_version_op_parse(struct blob op);

/* The spelling of a mask: "<", "<=", "=", "~", ">=", ">", "><", ">~", "<~"; else "?". */
const char *apk_version_op_string(int mask);

/*
 * Does version 'ver' satisfy "op want"? 'op' is a mask from
 * apk_version_op_parse(); APK_DEPMASK_ANY always matches; a checksum mask
 * never matches a version.
 */
bool apk_version_match(struct blob ver, int op, struct blob want);

#endif
