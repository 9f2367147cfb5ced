/* SPDX-License-Identifier: MIT */
/* The command layer: one function per subcommand, dispatched from main.c's table. */
#ifndef IT_CMDS_H
#define IT_CMDS_H

#include <signal.h>

/* Exit codes: few, stable, documented in docs/exit-codes.md and --help. */
enum it_exit {
	EXIT_PASS = 0,	  /* success, scenario passed */
	EXIT_FAILED = 1,  /* an expectation failed, or a guest crashed */
	EXIT_USAGE = 2,	  /* bad command line or scenario file */
	EXIT_INFRA = 3,	  /* infrastructure: no qemu, no kernel, mirror down, bad package */
	EXIT_TIMEOUT = 4, /* a step or the whole run timed out */
	EXIT_INTERRUPTED = 130,
};

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int cmd_build(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_boot(int argc, char **argv);

/* Map a library return code to an exit code. */
int exit_code_for(int code);

/*
 * SIGINT and SIGTERM caught by on_signal for a build, whose handler sets the
 * flag it gives the builder as build_config.cancel: no SA_RESTART, and one the
 * process ignores stays ignored (add_interrupt_signals()). Restore puts back
 * the actions there were.
 */
struct build_signals {
	sigset_t set; /* the signals caught */
	struct sigaction old_int, old_term;
};

void build_signals_catch(struct build_signals *bs, void (*on_signal)(int));
void build_signals_restore(const struct build_signals *bs);

#endif
