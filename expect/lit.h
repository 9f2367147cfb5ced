/* SPDX-License-Identifier: MIT */
/* Private to expect/: text every match of a pattern contains, to pass over lines without PCRE2. */
#ifndef IT_EXPECT_LIT_H
#define IT_EXPECT_LIT_H

#include <stddef.h>

#define LIT_MAX 64

/*
 * A byte string found in every line that a pattern matches (a "required
 * literal"): a line without it cannot match, so the engine looks for it with
 * memchr() over many lines at once and runs PCRE2 only on lines that have
 * it. len 0: nothing is known, every line must be tried.
 */
struct lit {
	size_t len;
	size_t rare; /* index of the byte memchr() looks for: the least common in console text */
	char s[LIT_MAX];
};

/*
 * The required literal of a PCRE2 pattern compiled with no options (as the
 * engine compiles them; a literal pattern arrives escaped). Only plain text
 * at the top level counts: groups, classes, escapes such as \d and repeated
 * characters end a run of text, and of several runs the one with the least
 * common byte wins. Anything that could make a top-level run optional or
 * change how its bytes match gives up (len 0): a top-level '|', an option
 * setting such as (?i), (* verbs (*ACCEPT)), \Q, callouts and conditions,
 * escapes that stand for a byte (\x41, \n) or a back-reference, POSIX
 * classes and braces that are not a plain quantifier.
 */
void lit_from_regex(struct lit *l, const char *re, size_t n);

/* Offset of the first occurrence of l in h[0..n), or n when there is none (0 when l is empty). */
size_t lit_find(const struct lit *l, const char *h, size_t n);

#endif
