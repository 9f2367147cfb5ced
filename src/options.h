/* SPDX-License-Identifier: MIT */
/*
 * Command-line options declared once, as apk-tools' struct apk_option_group
 * does: a group (packages, kernel, image, VM, suite, or a command's own)
 * lists its options, each with its letter, long name, argument and help,
 * and has one parse function. A command is a list of groups: from that one
 * declaration come the getopt_long table, the dispatch of each option to
 * its group, and the --help text, so the three cannot drift apart.
 *
 * Every command that takes a group uses the same declaration (the shared
 * ones are in src/cmdopts.h). When two groups of one command claim the same
 * letter, the group listed first keeps it (run's -j is --parallel, build's
 * is --jobs), and the help shows the letter where it works.
 */
#ifndef IT_OPTIONS_H
#define IT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/err.h"

struct opt {
	int id;		  /* handed to the group's parse function */
	char letter;	  /* the short option; 0: none */
	const char *name; /* the long option, without "--" */
	const char *arg;  /* NULL: takes no argument; else its name in the help ("DIR") */
	const char *help; /* one or more lines, '\n' between them */
};

struct opt_group {
	const char *title; /* the help's heading ("packages"); NULL: the command's own options */
	const struct opt *opts;
	size_t n;
	/* Take one option into ctx: 0, or a negative code with text in err (a bad value). */
	int (*parse)(void *ctx, int id, const char *arg, struct it_error *err);
};

#define OPT_GROUP(title, opts, fn)                                                                 \
	{                                                                                          \
		(title), (opts), sizeof(opts) / sizeof((opts)[0]), (fn)                            \
	}

/*
 * The group of every command that writes results (run, replay, report):
 * --junit FILE, --json FILE and -q/--quiet, under the heading "results".
 * Its context is a struct output_opts.
 */
struct output_opts {
	const char *junit, *json; /* NULL: not written */
	bool quiet;
};

extern const struct opt_group output_options;

/* A command's options and help. */
struct opt_cmd {
	const char *name;  /* "run": messages say "try 'initrd-test run --help'" */
	const char *intro; /* the help before the options: usage lines and what it does */
	const char *outro; /* the help after them: examples, exit codes; may be NULL */
	const struct opt_group *const *groups;
	size_t ngroups;
	bool in_order; /* options end at the first operand (exec's command is its own) */
};

/* The result of opt_parse() when --help was asked for (and printed). */
#define OPT_HELP_SHOWN (-1)

/*
 * Parse argv[1..] with getopt_long (permuting: operands may come between
 * options): each option goes to its group's parse function with ctxs[g],
 * the context of groups[g]. -h and --help print the help on stdout.
 * Returns the index of the first operand (>= 1), OPT_HELP_SHOWN, or
 * -IT_EUSAGE once the error (getopt's, or the group's text) and "try
 * 'initrd-test NAME --help'" have been printed on stderr.
 */
int opt_parse(const struct opt_cmd *cmd, void *const *ctxs, int argc, char **argv);

/* The whole help: intro, each group's options under its title, outro. */
void opt_help(const struct opt_cmd *cmd, FILE *f);

/* "error: MSG" (when msg is not NULL) and "try 'initrd-test NAME --help'", on stderr. */
int opt_usage_error(const struct opt_cmd *cmd, const char *msg);

#endif
