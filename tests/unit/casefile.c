// SPDX-License-Identifier: MIT
/* Reads test cases written as data: '@SECTION' blocks, comments, numbered lines (casefile.h). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "tests/unit/casefile.h"

int casefile_fail(struct casefile *cf, unsigned line, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	if (cf->err[0])
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(cf->err, sizeof(cf->err), "%s:%u: %s", cf->path, line, what);
	else
		snprintf(cf->err, sizeof(cf->err), "%s: %s", cf->path, what);
	return -1;
}

static int add_line(struct casefile *cf, char *text, unsigned no)
{
	static const size_t step = 64;

	if (cf->nlines % step == 0) {
		struct cf_line *v = realloc(cf->lines, (cf->nlines + step) * sizeof(*v));

		if (!v)
			return casefile_fail(cf, no, "out of memory");
		cf->lines = v;
	}
	cf->lines[cf->nlines++] = (struct cf_line){text, no};
	if (cf->nsecs)
		cf->secs[cf->nsecs - 1].n++;
	return 0;
}

/* The section line 'text' ('@NAME ARG'), split in place. */
static int add_section(struct casefile *cf, char *text, unsigned no)
{
	static const size_t step = 8;
	char *name = text + 1, *sp = strchr(name, ' ');

	if (sp)
		*sp = '\0';
	if (!*name)
		return casefile_fail(cf, no, "a section line needs a name after '@'");
	if (cf->nsecs % step == 0) {
		struct cf_section *v = realloc(cf->secs, (cf->nsecs + step) * sizeof(*v));

		if (!v)
			return casefile_fail(cf, no, "out of memory");
		cf->secs = v;
	}
	cf->secs[cf->nsecs++] = (struct cf_section){name, sp ? sp + 1 : "", no, cf->nlines, 0};
	return 0;
}

static int add_text_line(struct casefile *cf, char *line, unsigned no)
{
	if (line[0] == '#') {
		if (!cf->nsecs)
			cf->head_comments++;
		return 0;
	}
	if (line[0] == '@')
		return add_section(cf, line, no);
	if (cf->nsecs)
		return add_line(cf, line, no);
	if (line[0])
		return casefile_fail(cf, no, "text before the first section: '%s'", line);
	return 0;
}

int casefile_parse(struct casefile *cf, const char *path, const char *text)
{
	char *p;
	unsigned no = 0;

	cf->err[0] = '\0';
	cf->path = strdup(path);
	cf->text = strdup(text);
	if (!cf->path || !cf->text) {
		snprintf(cf->err, sizeof(cf->err), "%s: out of memory", path);
		return -1;
	}
	p = cf->text;
	/* A final newline ends the last line; it does not start an empty one. */
	while (*p) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		if (add_text_line(cf, p, ++no) < 0)
			return -1;
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

int casefile_load(struct casefile *cf, const char *path)
{
	struct buf b;
	int r;

	buf_init(&b, 16 << 20);
	r = buf_read_file(&b, path);
	if (r < 0) {
		snprintf(cf->err, sizeof(cf->err), "%s: cannot read: %s", path, strerror(-r));
		buf_release(&b);
		return -1;
	}
	r = casefile_parse(cf, path, b.data);
	buf_release(&b);
	return r;
}

void casefile_release(struct casefile *cf)
{
	free(cf->path);
	free(cf->text);
	free(cf->secs);
	free(cf->lines);
	*cf = (struct casefile)CASEFILE_INIT;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool ends_with_any(const char *s, const char *const *suffixes)
{
	for (size_t i = 0; suffixes && suffixes[i]; i++)
		if (ends_with(s, suffixes[i]))
			return true;
	return false;
}

int casefile_list(const char *dir, const char *suffix, const char *const *also,
		  struct strlist *cases, struct strlist *stray)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[1024];
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		r = path_join(path, sizeof(path), dir, de->d_name);
		if (r < 0)
			break;
		if (ends_with(de->d_name, suffix))
			r = strlist_add(cases, path);
		else if (!ends_with_any(de->d_name, also))
			r = strlist_add(stray, path);
	}
	closedir(d);
	strlist_sort(cases);
	strlist_sort(stray);
	return r;
}
