// SPDX-License-Identifier: MIT
/* Option groups to a getopt_long table, a dispatch to each group, and the help text. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "src/options.h"

#define HELP_COLUMN 25	/* where the help text of an option starts */
#define VAL_BASE 0x1000 /* getopt_long values of long options: VAL_BASE + flat index */

static const struct opt help_opt = {0, 'h', "help", NULL, "this help"};

/* One option of the command, with the group that owns it. */
struct flat {
	const struct opt *o;
	size_t group; /* SIZE_MAX: --help */
	bool letter;  /* it keeps its letter in this command */
};

struct table {
	struct flat *v;
	size_t n;
	struct option *longs;
	char shorts[256];
};

static void table_release(struct table *t)
{
	free(t->v);
	free(t->longs);
}

static bool letter_taken(const struct table *t, char c)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].letter && t->v[i].o->letter == c)
			return true;
	}
	return false;
}

static void add_flat(struct table *t, const struct opt *o, size_t group)
{
	struct flat *f = &t->v[t->n];
	size_t len = strlen(t->shorts);

	f->o = o;
	f->group = group;
	f->letter = o->letter && !letter_taken(t, o->letter);
	if (f->letter && len + 3 < sizeof(t->shorts)) {
		t->shorts[len++] = o->letter;
		if (o->arg)
			t->shorts[len++] = ':';
		t->shorts[len] = '\0';
	}
	t->longs[t->n] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
					 VAL_BASE + (int)t->n};
	t->n++;
}

/* Every option of the command, in help order; --help comes with the command's own group. */
static int table_build(const struct opt_cmd *cmd, struct table *t)
{
	size_t total = 1;

	memset(t, 0, sizeof(*t));
	for (size_t g = 0; g < cmd->ngroups; g++)
		total += cmd->groups[g]->n;
	t->v = calloc(total, sizeof(*t->v));
	t->longs = calloc(total + 1, sizeof(*t->longs));
	if (!t->v || !t->longs) {
		table_release(t);
		return -ENOMEM;
	}
	/* ':' first: a missing argument is told from an unknown option; '+': in order. */
	snprintf(t->shorts, sizeof(t->shorts), "%s:", cmd->in_order ? "+" : "");
	for (size_t g = 0; g < cmd->ngroups; g++) {
		const struct opt_group *grp = cmd->groups[g];

		for (size_t i = 0; i < grp->n; i++)
			add_flat(t, &grp->opts[i], g);
		if (g == 0)
			add_flat(t, &help_opt, SIZE_MAX);
	}
	if (cmd->ngroups == 0)
		add_flat(t, &help_opt, SIZE_MAX);
	return 0;
}

/* The flat entry getopt_long's result c stands for, or NULL. */
static const struct flat *lookup(const struct table *t, int c)
{
	if (c >= VAL_BASE && (size_t)(c - VAL_BASE) < t->n)
		return &t->v[c - VAL_BASE];
	for (size_t i = 0; c > 0 && c < 256 && i < t->n; i++) {
		if (t->v[i].letter && t->v[i].o->letter == c)
			return &t->v[i];
	}
	return NULL;
}

int opt_usage_error(const struct opt_cmd *cmd, const char *msg)
{
	if (msg)
		log_error("%s", msg);
	fprintf(stderr, "try 'initrd-test %s --help'\n", cmd->name);
	return -IT_EUSAGE;
}

/* Hand one parsed option to its group; 0, OPT_HELP_SHOWN, or -IT_EUSAGE once said. */
static int dispatch(const struct opt_cmd *cmd, void *const *ctxs, const struct flat *f,
		    const char *arg)
{
	struct it_error err = IT_ERROR_INIT;
	int r;

	if (f->group == SIZE_MAX) {
		opt_help(cmd, stdout);
		return OPT_HELP_SHOWN;
	}
	r = cmd->groups[f->group]->parse(ctxs[f->group], f->o->id, arg, &err);
	if (r >= 0)
		return 0;
	if (err.msg[0])
		log_it_error(&err, r);
	else
		log_error("bad --%s '%s'", f->o->name, arg ? arg : "");
	return opt_usage_error(cmd, NULL);
}

/* "unknown option '--frobnicate'" or "option '--junit' needs a FILE"; -IT_EUSAGE. */
static int bad_option(const struct opt_cmd *cmd, const struct table *t, int c, const char *arg)
{
	const struct flat *f = lookup(t, optopt);
	char msg[256];
	size_t n = strcspn(arg, "=");

	if (c == ':' && f && f->letter && optopt == f->o->letter)
		snprintf(msg, sizeof(msg), "option '-%c' needs a %s", optopt, f->o->arg);
	else if (c == ':' && f)
		snprintf(msg, sizeof(msg), "option '--%s' needs a %s", f->o->name, f->o->arg);
	else if (optopt > 0 && optopt < 256)
		snprintf(msg, sizeof(msg), "unknown option '-%c'", optopt);
	else
		snprintf(msg, sizeof(msg), "unknown option '%.*s'", (int)(n < 200 ? n : 200), arg);
	return opt_usage_error(cmd, msg);
}

int opt_parse(const struct opt_cmd *cmd, void *const *ctxs, int argc, char **argv)
{
	struct table t;
	int c, r = 0;

	if (table_build(cmd, &t) < 0) {
		log_error("cannot parse the options: %s", strerror(ENOMEM));
		return -IT_EUSAGE;
	}
	optind = 0; /* a full reset: main() parsed its own options before */
	opterr = 0; /* the errors are ours, in the house style */
	while (r == 0 && (c = getopt_long(argc, argv, t.shorts, t.longs, NULL)) != -1) {
		const struct flat *f = lookup(&t, c);

		if (c == ':' || c == '?' || !f)
			r = bad_option(cmd, &t, c, argv[optind - 1]);
		else
			r = dispatch(cmd, ctxs, f, optarg);
	}
	table_release(&t);
	return r < 0 ? r : optind;
}

/* "  -r, --repo URL|DIR" */
static int option_text(const struct opt *o, bool letter, char *out, size_t n)
{
	if (letter)
		return snprintf(out, n, "  -%c, --%s%s%s", o->letter, o->name, o->arg ? " " : "",
				o->arg ? o->arg : "");
	return snprintf(out, n, "      --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

static void help_line(const struct flat *f, FILE *out)
{
	char head[128];
	int w = option_text(f->o, f->letter, head, sizeof(head));
	const char *h = f->o->help;

	fputs(head, out);
	fprintf(out, "%*s", w < HELP_COLUMN - 1 ? HELP_COLUMN - w : 1, "");
	for (const char *nl; (nl = strchr(h, '\n')) != NULL; h = nl + 1)
		fprintf(out, "%.*s\n%*s", (int)(nl - h), h, HELP_COLUMN, "");
	fprintf(out, "%s\n", h);
}

void opt_help(const struct opt_cmd *cmd, FILE *f)
{
	struct table t;
	size_t last = SIZE_MAX - 1;

	fputs(cmd->intro, f);
	if (table_build(cmd, &t) < 0)
		return;
	for (size_t i = 0; i < t.n; i++) {
		size_t g = t.v[i].group == SIZE_MAX ? 0 : t.v[i].group;
		const char *title = cmd->ngroups ? cmd->groups[g]->title : NULL;

		if (g != last && title)
			fprintf(f, "%s%s:\n", i ? "\n" : "", title);
		else if (g != last && i)
			fputc('\n', f);
		last = g;
		help_line(&t.v[i], f);
	}
	table_release(&t);
	if (cmd->outro)
		fprintf(f, "\n%s", cmd->outro);
}

/* ---- the results group ------------------------------------------------------------------- */

enum { OUT_JUNIT = 1, OUT_JSON, OUT_QUIET };

static const struct opt output_opts_[] = {
    {OUT_JUNIT, 0, "junit", "FILE", "the result as JUnit XML, every run in one file, for CI"},
    {OUT_JSON, 0, "json", "FILE",
     "the result as JSON, every run with each step's time (what\n"
     "'report', --baseline and --durations read)"},
    {OUT_QUIET, 'q', "quiet", NULL,
     "no table, no live console: the verdict only, and only\n"
     "when it is not a pass"},
};

static int take_output(void *ctx, int id, const char *arg, struct it_error *err)
{
	struct output_opts *o = ctx;

	(void)err;
	if (id == OUT_JUNIT)
		o->junit = arg;
	else if (id == OUT_JSON)
		o->json = arg;
	else
		o->quiet = true;
	return 0;
}

const struct opt_group output_options = OPT_GROUP("results", output_opts_, take_output);
