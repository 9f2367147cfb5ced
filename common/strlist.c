// SPDX-License-Identifier: MIT
/* Owned string lists. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strlist.h"

int strlist_add_owned(struct strlist *l, char *s)
{
	if (!s)
		return -ENOMEM;
	if (l->n + 2 > l->alloc) {
		size_t alloc = l->alloc ? l->alloc * 2 : 8;
		char **v = realloc(l->v, alloc * sizeof(*v));

		if (!v) {
			free(s);
			return -ENOMEM;
		}
		l->v = v;
		l->alloc = alloc;
	}
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
	return 0;
}

int strlist_add(struct strlist *l, const char *s)
{
	return strlist_add_owned(l, strdup(s));
}

int strlist_addf(struct strlist *l, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	return strlist_add_owned(l, s);
}

int strlist_addv(struct strlist *l, const char *const *v)
{
	int r = 0;

	for (; *v && r == 0; v++)
		r = strlist_add(l, *v);
	return r;
}

bool strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

void strlist_clear(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->alloc = 0;
}

int strlist_copy(struct strlist *dst, const struct strlist *src)
{
	for (size_t i = 0; i < src->n; i++) {
		int r = strlist_add(dst, src->v[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strlist_sort(struct strlist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmpstr);
}
