/* SPDX-License-Identifier: MIT */
/* A reader for test cases written as data: files of '@SECTION' blocks, as apk's solver tests. */
#ifndef IT_TESTS_CASEFILE_H
#define IT_TESTS_CASEFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strlist.h"

/*
 * The shape of a case file, whatever its sections mean to the test that
 * reads it (tests/data/solver/README.md describes the resolver's):
 *
 *  - a line that starts with '@' opens a section: '@NAME', then after one
 *    space the rest of the line as its argument ("@REPO x.repo": name
 *    "REPO", argument "x.repo"; "@EXPECT": argument "");
 *  - the lines up to the next section are its body, blank lines included;
 *  - a line that starts with '#' is a comment, wherever it is, and is
 *    dropped: a comment never ends or splits a body's text;
 *  - before the first section there are only comments and blank lines.
 *
 * Lines are numbered from 1. Messages are "PATH:LINE: what", or "PATH:
 * what" for the file as a whole, kept in the casefile's err.
 */
struct cf_line {
	const char *text; /* without its newline; points into the casefile's copy */
	unsigned no;
};

struct cf_section {
	const char *name; /* "REPO" for '@REPO' */
	const char *arg;  /* "" when the section line has nothing after the name */
	unsigned no;	  /* the section line's number */
	size_t first;	  /* its body: lines[first] to lines[first + n - 1] */
	size_t n;
};

struct casefile {
	char *path;
	char *text; /* the file's text, split into NUL-terminated lines */
	struct cf_section *secs;
	size_t nsecs;
	struct cf_line *lines;
	size_t nlines;
	unsigned head_comments; /* comment lines before the first section */
	char err[1024];
};

#define CASEFILE_INIT                                                                              \
	{                                                                                          \
		NULL, NULL, NULL, 0, NULL, 0, 0, ""                                                \
	}

/*
 * Split 'text' (copied) from the file 'path' into sections. 0, or -1 with
 * the message in cf->err: text before the first section, a section without
 * a name, no memory. The casefile is released either way by
 * casefile_release().
 */
int casefile_parse(struct casefile *cf, const char *path, const char *text);
/* The same for the file at 'path' as it is on disk; -1 also when it cannot be read. */
int casefile_load(struct casefile *cf, const char *path);
void casefile_release(struct casefile *cf);

/* Line i of section s's body. */
static inline const struct cf_line *cf_body(const struct casefile *cf, const struct cf_section *s,
					    size_t i)
{
	return &cf->lines[s->first + i];
}

/*
 * Put "PATH:LINE: what" (line 0: "PATH: what") into cf->err, unless a
 * message is there already, and return -1.
 */
__attribute__((format(printf, 3, 4))) int casefile_fail(struct casefile *cf, unsigned line,
							const char *fmt, ...);

/*
 * The files of 'dir' whose names end in 'suffix', as "dir/name", sorted,
 * into 'cases'; every other name but those ending in one of 'also' (a
 * NULL-terminated list of suffixes, or NULL) and hidden ones into 'stray'.
 * -errno when the directory cannot be read.
 */
int casefile_list(const char *dir, const char *suffix, const char *const *also,
		  struct strlist *cases, struct strlist *stray);

#endif
