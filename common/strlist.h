/* SPDX-License-Identifier: MIT */
/* A growable list of heap strings that the list owns. */
#ifndef IT_STRLIST_H
#define IT_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

struct strlist {
	char **v; /* v[n] is NULL when n > 0, so v works as an argv */
	size_t n;
	size_t alloc;
};

#define STRLIST_INIT                                                                               \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Append a copy of s. -ENOMEM on failure. */
int strlist_add(struct strlist *l, const char *s);
/* Append s itself; the list takes ownership (and frees s on failure). */
int strlist_add_owned(struct strlist *l, char *s);
int strlist_addf(struct strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append copies of the strings of v, up to the NULL that ends it. -ENOMEM on failure. */
int strlist_addv(struct strlist *l, const char *const *v);
/* strlist_addl(l, "-m", "512"): append copies of the strings given, as git's strvec_pushl(). */
#define strlist_addl(l, ...) strlist_addv((l), (const char *const[]){__VA_ARGS__, NULL})
bool strlist_has(const struct strlist *l, const char *s);
void strlist_clear(struct strlist *l);
int strlist_copy(struct strlist *dst, const struct strlist *src);
void strlist_sort(struct strlist *l);

#endif
