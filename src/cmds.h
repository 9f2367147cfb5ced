/* SPDX-License-Identifier: MIT */
/*
 * The command layer: one thin function per subcommand, each in its own
 * cmd_<name>.c, dispatched from main.c's table. A command parses its
 * options (src/options.h), calls the modules and the engines of src/
 * (run.h, suite.h, result.h), and turns the outcome into an exit code
 * (src/exit.h). Only commands print verdicts and exit.
 */
#ifndef IT_CMDS_H
#define IT_CMDS_H

#include "src/exit.h"

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
int cmd_exec(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_lock(int argc, char **argv);

#endif
