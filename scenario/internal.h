/* SPDX-License-Identifier: MIT */
/*
 * Private to the scenario module: what its files share. A scenario file is
 * read line by line; each line's first word picks a keyword from the table
 * in load.c, whose function parses the rest of the line with the word
 * helpers of lex.c and the value checks of values.c, and fills the
 * scenario being loaded. The keywords live in the file of what they shape:
 * image.c (repositories, packages, services, users, kernel), vm.c (the VM
 * and the clock), steps.c (fail patterns, console steps) and agent.c (the
 * agent's channel and the steps it carries out in the guest). Errors always say
 * "FILE:LINE: what is wrong" through scn_line_error().
 */
#ifndef IT_SCENARIO_INTERNAL_H
#define IT_SCENARIO_INTERNAL_H

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "scenario/scenario.h"

#define MAX_TEXT_BYTES (64 * 1024) /* quoted text, decoded */
#define MAX_NAME_LEN 64		   /* step names */
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* One scenario being loaded, with its include stack. */
struct loader {
	struct scenario *s;
	struct it_error *err;
	struct strlist stack_real;  /* realpaths of the files being read, outermost first */
	struct strlist stack_shown; /* the same files as the user named them */
	struct strlist seen_real;   /* realpaths of every file read so far */
};

struct keyword;

/* The line being parsed; 'p' walks over its (writable) text. */
struct line {
	struct loader *ld;
	const char *file; /* as shown in messages */
	const char *dir;  /* the file's directory, for relative paths */
	unsigned no;
	const char *start; /* the whole line, for columns */
	const struct keyword *kw;
	char *p;
};

/* One keyword: its usage text is quoted in error messages. */
struct keyword {
	const char *name;
	const char *usage;
	int (*fn)(struct line *l);
};

/* ---- lex.c: messages and words ---- */

/* "FILE:LINE: MESSAGE" into the loader's error; returns -IT_ESCENARIO. */
int scn_line_error(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int scn_line_oom(struct line *l);
/* Keep 'cand' in *best when it is a closer plausible spelling of 'w'. */
void scn_suggest(const char *w, const char *cand, const char **best, unsigned *bestd);
/* " (did you mean 'X'?)" or "", in out. */
const char *scn_did_you_mean(char *out, size_t n, const char *best);
/* Index of w in a NULL-terminated list, or -1. */
int scn_lookup(const char *const *list, const char *w);
/* "unknown WHAT 'w' (did you mean ...?); use a, b or c" for a NULL-terminated list. */
int scn_unknown_word(struct line *l, const char *what, const char *w, const char *const *list);
/* The line's last word, one of list: its index, or the error (missing 'what', bad 'kind'). */
int scn_need_choice(struct line *l, const char *what, const char *kind, const char *const *list);
bool scn_is_blank(char c);
void scn_skip_blanks(struct line *l);
/* At the end of the line, or at a comment. */
bool scn_at_end(struct line *l);
/* The next blank-separated word, NUL-terminated in place; NULL at the end or a comment. */
char *scn_word(struct line *l);
int scn_need_word(struct line *l, const char *what, char **out);
int scn_need_end(struct line *l);
/* Exactly one more word. */
int scn_need_last_word(struct line *l, const char *what, char **out);
/* The rest of the line up to a comment, without surrounding blanks; NULL when empty. */
char *scn_rest_of_line(struct line *l);
/* Every character of s is in 'set' or alphanumeric; s is not empty and not too long. */
bool scn_name_ok(const char *s, const char *set, size_t maxlen);
/* 90s, 500ms, 1.5m, 2h: at least 1 ms. */
int scn_need_duration(struct line *l, const char *what, int64_t *out);
/* "text" at l->p with C escapes; never empty, no NUL. */
int scn_take_quoted(struct line *l, char **out);
/* A /regex/ (compiled once to check it) or a "literal" at l->p. */
int scn_take_match(struct line *l, char **text, bool *literal);
/* steps.c: the optional NAME before a step's /regex/ or "text" (*name stays NULL without one). */
int scn_take_step_name(struct line *l, char **name);

/* ---- values.c: value checks and paths ---- */

bool scn_package_ok(const char *w, bool allow_constraint);
bool scn_hostname_ok(const char *s);
/* none -> "" (no password), locked -> "!", keep -> NULL (as packaged), else a crypt hash. */
int scn_password_value(struct line *l, const char *w, bool allow_keep, char **out);
bool scn_cidr_ok(const char *s);
bool scn_ip_ok(const char *s);
/* The same file, by name or by device and inode. */
bool scn_same_file(const char *a, const char *b);
/* dir/p for a relative p (p itself when absolute), short when it names the same file. */
char *scn_relative_to(const char *dir, const char *p);
/* Replace *slot with a copy of s (or NULL). */
int scn_set_str(struct line *l, char **slot, const char *s);
/* Append s unless already there. */
int scn_add_unique(struct line *l, struct strlist *list, const char *s);

/* ---- the keywords, by the file that holds them ---- */

int kw_include(struct line *l); /* load.c */
int kw_repo(struct line *l);	/* image.c */
int kw_arch(struct line *l);
int kw_packages(struct line *l);
int kw_service(struct line *l);
int kw_console(struct line *l);
int kw_iface(struct line *l);
int kw_hostname(struct line *l);
int kw_root_password(struct line *l);
int kw_user(struct line *l);
int kw_overlay(struct line *l);
int kw_kernel(struct line *l);
int kw_modules(struct line *l);
int kw_vm(struct line *l); /* vm.c */
int kw_timeout(struct line *l);
int kw_step_timeout(struct line *l);
int kw_fail(struct line *l); /* steps.c */
int kw_on_warning(struct line *l);
int kw_oops(struct line *l);
int kw_expect(struct line *l);
int kw_send(struct line *l);
int kw_reset(struct line *l);
int kw_agent(struct line *l); /* agent.c */
int kw_agent_ready(struct line *l);
int kw_checkpoint(struct line *l);
int kw_run(struct line *l);
int kw_run_fail(struct line *l);
int kw_output(struct line *l);
int kw_wait_until(struct line *l);
int kw_wait_service(struct line *l);
int kw_wait_port(struct line *l);
int kw_wait_file(struct line *l);
int kw_copy_in(struct line *l);
int kw_copy_out(struct line *l);

/* image.c */
void scn_iface_release(struct iface_spec *f);
/* Add an overlay directory (checked to exist). */
int scn_add_overlay(struct line *l, struct build_config *b, const char *dir);
/* steps.c */
void scn_step_release(struct scenario_step *st);
/* Append a step; takes st's strings (freed on failure); st->name may be NULL for "step N". */
int scn_add_step(struct line *l, struct scenario_step *st);
/* load.c: read and parse one file; 'from' is the include line, NULL for the top file. */
int scn_load_file(struct loader *ld, const char *path, struct line *from);
char *scn_dir_of(const char *path);

#endif
