/* SPDX-License-Identifier: MIT */
/* qemu's gdb stub for 'boot --gdb' and 'run --gdb-on-fail': a port, its arguments, the gdb line. */
#ifndef IT_GDBSTUB_H
#define IT_GDBSTUB_H

#include "common/err.h"
#include "scenario/scenario.h"

/*
 * Give the scenario's VM qemu's gdb stub on a free loopback port: "-gdb
 * tcp:127.0.0.1:PORT" among its extra arguments (the guest is not stopped:
 * gdb attaches when it likes) and "nokaslr" on the kernel command line, so
 * that vmlinux's addresses are the running kernel's. The port is one the
 * kernel gave a socket bound to 127.0.0.1:0 a moment before (another
 * process may take it in between: qemu then fails to start, an
 * infrastructure error). 0 and *port, or -errno with err set.
 */
int gdbstub_setup(struct scenario *s, int *port, struct it_error *err);

/*
 * The command that attaches gdb, into line: "gdb VMLINUX -ex 'target remote
 * 127.0.0.1:PORT'", VMLINUX the scenario's (--vmlinux, a kernel tree's), or
 * "vmlinux" when it has none.
 */
void gdbstub_line(const struct scenario *s, int port, char *line, size_t n);

/* Say on stderr where the stub is and how to attach: "gdb stub on 127.0.0.1:PORT: LINE". */
void gdbstub_say(const struct scenario *s, int port);

#endif
