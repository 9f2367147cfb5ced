/* SPDX-License-Identifier: MIT */
/* Kernel crash frames to source file:line, with binutils' objdump and addr2line. */
#ifndef IT_SYMBOLIZE_H
#define IT_SYMBOLIZE_H

#include <stdbool.h>

#include "common/buf.h"
#include "common/strlist.h"

/*
 * Contract. A frame is a crash report's "func+0x5/0x10 [mod]" (the RIP
 * line's "RIP: 0010:" and a trace line's "? " are allowed before it). Its
 * object is vmlinux, or for "[mod]" the first MOD.ko ('-' and '_' alike)
 * found under the module directories, each searched to a depth of 8. The
 * object's symbol table (objdump -t) gives func's section and value; a
 * name more than one local symbol has is told apart by the frame's size.
 * addr2line -j SECTION then turns value + offset into FILE:LINE, the
 * offset taken one byte back for every frame but the first (a return
 * address points past its call). A frame whose object is missing, has no
 * debug info or lacks the symbol is left out; so is a "? " frame (the
 * unwinder's guess). Nothing here fails the run: a tool that is missing
 * or fails leaves fewer lines.
 */
struct symbolize_src {
	const char *vmlinux;	    /* NULL: kernel frames are left out */
	struct strlist module_dirs; /* searched for MOD.ko; borrowed strings are copied */
};

void symbolize_src_init(struct symbolize_src *s);
void symbolize_src_release(struct symbolize_src *s);

/* Whether there is anything to symbolize with. */
bool symbolize_src_any(const struct symbolize_src *s);

/*
 * Symbolize the frames of 'rip' (one line or empty) then 'trace' (lines):
 * each one found appends "FRAME\tFILE:LINE\n" to out (FRAME as
 * "func+0x5/0x10 [mod]"). Returns the number of lines added, or -ENOMEM.
 */
int symbolize_frames(const struct symbolize_src *s, const char *rip, const char *trace,
		     struct buf *out);

/* The parsed parts of one frame line; 0 when the line is not a frame. Exposed for tests. */
struct symbolize_frame {
	char func[128];
	char module[64]; /* "" for vmlinux */
	unsigned long long off, size;
	bool unreliable; /* "? " before it */
};
int symbolize_parse_frame(const char *line, struct symbolize_frame *f);

#endif
