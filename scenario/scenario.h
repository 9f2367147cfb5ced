/* SPDX-License-Identifier: MIT */
/*
 * Public interface of the scenario module: a scenario file (and what it
 * includes) parsed into plain data, the build config, the VM config and the
 * console steps, that the command layer may override and then hands to the
 * builder, the runner and the expect engine. The module reads files and
 * compiles patterns to check them; it starts nothing and downloads nothing.
 * Its rooms: load.c (the keyword table, files, includes), lex.c (words and
 * patterns), values.c (value checks), image.c, vm.c and steps.c (the
 * keywords), engine.c (steps to the expect engine); scenario/internal.h is
 * theirs alone.
 */
#ifndef IT_SCENARIO_H
#define IT_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/builder.h"
#include "common/err.h"
#include "common/strlist.h"
#include "runner/runner.h"

struct expect;

/*
 * The format is described in docs/scenario-format.md. A scenario is a
 * directory NAME/ holding a file 'scenario' and, optionally, a 'rootfs/'
 * overlay; a scenario file may also be named directly.
 */
#define SCENARIO_FILE "scenario"
#define SCENARIO_ROOTFS "rootfs"
#define SCENARIO_DEFAULT_TIMEOUT_MS (300 * 1000)
#define SCENARIO_DEFAULT_STEP_TIMEOUT_MS (60 * 1000)
#define SCENARIO_MAX_FILE_BYTES (1024 * 1024)
#define SCENARIO_MAX_INCLUDE_DEPTH 16

/*
 * The kinds of steps: the console's (EXPECT, SEND) and the guest agent's,
 * which the run engine carries out over the agent channel
 * (docs/scenario-format.md, "Commands in the guest").
 */
enum scenario_step_kind {
	SCENARIO_STEP_EXPECT = 0,
	SCENARIO_STEP_SEND,
	SCENARIO_STEP_CHECKPOINT,   /* text and name: the checkpoint's NAME (src/checkpoint.h) */
	SCENARIO_STEP_AGENT_READY,  /* the agent said HELLO */
	SCENARIO_STEP_RUN,	    /* text: a command for /bin/sh -c; status: the one wanted */
	SCENARIO_STEP_RUN_FAIL,	    /* ... passes when it exits non-zero (or with status) */
	SCENARIO_STEP_OUTPUT,	    /* text: a pattern for the last command's stdout/stderr */
	SCENARIO_STEP_WAIT_UNTIL,   /* text: a command, run until it exits 0 */
	SCENARIO_STEP_WAIT_SERVICE, /* text: an OpenRC service, until it is started */
	SCENARIO_STEP_WAIT_PORT,    /* text: a TCP port, until something listens on it */
	SCENARIO_STEP_WAIT_FILE,    /* text: a guest path, until it exists */
	SCENARIO_STEP_COPY_IN,	    /* text: a host file (resolved); dest: the guest path */
	SCENARIO_STEP_COPY_OUT,	    /* text: a guest path; dest: the name in the output folder */
	SCENARIO_STEP_KIND_MAX,
};

/* "expect", "send", "agent-ready", "run", ..., as the keyword is written. */
const char *scenario_step_kind_name(enum scenario_step_kind k);
/* True for the kinds the guest agent carries out. */
bool scenario_step_is_agent(enum scenario_step_kind k);

/* One step, in file order; handed by the command layer to the expect engine. */
struct scenario_step {
	enum scenario_step_kind kind;
	char *name; /* as written, or "step N" (N counts all steps from 1) */
	/*
	 * EXPECT: the PCRE2 source (already compiled once to validate it), or
	 * the literal text when 'literal' is set (escapes decoded, never a
	 * newline). SEND: the exact bytes to type, escapes decoded, with the
	 * newline already added for unquoted text. ${name} / ${N} references
	 * are left as written for the engine to substitute.
	 */
	char *text;
	bool literal;
	int64_t timeout_ms;    /* EXPECT: from 'within', else the final step-timeout; SEND: 0 */
	bool timeout_explicit; /* EXPECT: 'within' was given */
	int64_t budget_ms;     /* EXPECT: 'budget': the most the step may take without failing
				  the run once it is over (checked after the run); 0: none */
	int status;	       /* RUN: the exit status wanted (0); RUN_FAIL: -1 for any but 0 */
	bool from_stderr;      /* OUTPUT: match the last command's stderr, not its stdout */
	char *dest;	       /* COPY_IN: the guest path; COPY_OUT: the host name, NULL: the
				  guest file's base name */
	unsigned mode;	       /* COPY_IN: the guest file's mode; 0: the host file's */
	int64_t every_ms;      /* WAIT_*: how often to look (default 500 ms) */
	char *file;	       /* the file that declared the step */
	unsigned line;
	char *where; /* "FILE:LINE", for messages */
};

/* A pattern that fails the whole run when it shows up on the console. */
struct scenario_fail {
	char *pattern; /* PCRE2 source, or literal text when 'literal' */
	bool literal;
	char *file;
	unsigned line;
	char *where; /* "FILE:LINE" */
};

/*
 * A loaded scenario. Every pointer is a heap copy owned by the struct and
 * freed by scenario_release(). All fields are plain data, so that the
 * command layer can apply its overrides after loading: replace
 * build.repos wholesale for --repo (strlist_clear then add), set
 * build.kernel_image / build.modules_dir (and clear kernel_host and
 * build.kernel_package) for an explicit kernel, set vm.accel or
 * vm.memory_mib, or change step_timeout_ms and call
 * scenario_set_step_timeout().
 */
struct scenario {
	char *name; /* "networking": the scenario directory's name */
	char *dir;  /* directory of the top file, as given (relative paths stay relative) */
	char *path; /* the top file: DIR/scenario */
	struct build_config build;
	struct vm_config vm;
	/*
	 * 'kernel host': build.kernel_image and build.modules_dir stay NULL
	 * until scenario_resolve_kernel() picks the host's newest kernel.
	 */
	bool kernel_host;
	char *vmlinux; /* symbols for crash reports (--vmlinux, the tree's vmlinux); NULL: none */
	/*
	 * Kernel crashes (docs/crash-reports.md): 'on-warning ignore' lets a
	 * WARNING pass (default: it fails the run, as every crash class does);
	 * 'oops panic' boots with oops=panic, so that an Oops ends the VM at once.
	 */
	bool on_warning_ignore;
	bool oops_panic;
	struct scenario_step *steps;
	size_t nsteps;
	struct scenario_fail *fails; /* in addition to the engine's default fail patterns */
	size_t nfails;
	int64_t timeout_ms;	 /* the whole run */
	int64_t step_timeout_ms; /* default for expect steps without 'within' */
	struct strlist files;	 /* every file read, the top file first, then in include order */
	/* vm.agent: the guest agent's channel, VM_AGENT_VIRTIO unless 'agent off|serial' */
};

void scenario_init(struct scenario *s);
void scenario_release(struct scenario *s);

/*
 * Load a scenario into an initialized, empty s: 'dir_or_file' is a scenario
 * directory (its file 'scenario' is read) or a scenario file. Parsing stops
 * at the first mistake with -IT_ESCENARIO (or -errno when a file cannot be
 * read) and "FILE:LINE: what is wrong" in err; s is then left empty, as
 * after scenario_init().
 */
int scenario_load(struct scenario *s, const char *dir_or_file, struct it_error *err);

/* Give every expect step without 'within' the timeout 'ms' (and store it as the default). */
void scenario_set_step_timeout(struct scenario *s, int64_t ms);

/*
 * When kernel_host is set, fill build.kernel_image and build.modules_dir
 * from builder_host_kernel(); otherwise do nothing. Call it after applying
 * command-line overrides.
 */
int scenario_resolve_kernel(struct scenario *s, struct it_error *err);

/*
 * Load a parsed scenario into a new (not started) engine: its fail patterns
 * (after the engine's built-in ones), its steps in order with their names,
 * "FILE:LINE" and timeouts, and the whole-run timeout. The one place where
 * scenario steps become engine steps: `run` and `replay` both call it. The
 * agent's steps become external steps (expect_add_external()), the same
 * index in the engine as in s->steps; an OUTPUT step's pattern is their
 * capture, with no timeout of its own (it is decided at once).
 * Returns 0, or the engine's error (-IT_ESCENARIO, -ENOMEM) with text in err.
 */
int scenario_to_expect(const struct scenario *s, struct expect *e, struct it_error *err);
/* The scenario has steps the guest agent carries out (they need a VM: not 'replay'). */
bool scenario_has_agent_steps(const struct scenario *s);
/* The index of the scenario's 'checkpoint' step (there is at most one), or SIZE_MAX. */
size_t scenario_checkpoint(const struct scenario *s);
/* Take the 'checkpoint' step out (a replayed log has nothing to save or restore). */
void scenario_drop_checkpoint(struct scenario *s);

#endif
