/* SPDX-License-Identifier: MIT */
/*
 * Writing JSON with jansson, for every JSON file initrd-test writes (results.json,
 * the SPDX SBOM): objects built member by member where the first failure sticks.
 */
#ifndef IT_JSON_H
#define IT_JSON_H

#include <jansson.h>

#include "common/buf.h"

/*
 * The values of one object under construction: the first failure (no
 * memory) sticks and every later call does nothing, as with struct out.
 */
struct jobj {
	json_t *o;
	int err;
};

/* A JSON string of s (invalid UTF-8 as the text \xHH), or null for NULL. A new reference. */
json_t *jstr(const char *s);

/* Set key to v (whose reference is taken; NULL is a failure), unless an error came first. */
void jset(struct jobj *j, const char *key, json_t *v);
void jset_str(struct jobj *j, const char *key, const char *s);

/* Append v (reference taken) to the array a, an error recorded in *err as with jset. */
void jappend(json_t *a, json_t *v, int *err);

/* The object, or NULL (and it is freed) if a call failed. */
json_t *jobject_done(struct jobj *j);

/*
 * Append the object as text (two-space indent, members in insertion order, a
 * final newline) to out, and free it: 0 or -ENOMEM.
 */
int jobj_dump(struct jobj *j, struct buf *out);

#endif
