/* SPDX-License-Identifier: MIT */
/* Private to expect/: a bytewise VT/ANSI escape stripper for the engine and the log writer. */
#ifndef IT_EXPECT_VT_H
#define IT_EXPECT_VT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * What one raw console byte means once escape sequences are taken out.
 * VT_EV_UP is "cursor up one line" (CSI A / CSI 1 A): OpenRC's coloured
 * eend() goes back up to the " * Starting ..." line to print "[ ok ]" on it,
 * so the consumers join that output to the line before. VT_EV_DSR is a
 * cursor-position request (CSI 6 n) that wants an answer.
 */
enum vt_event {
	VT_EV_NONE = 0, /* dropped: part of an escape, CR, NUL or another control */
	VT_EV_CHAR,	/* a text byte (tab and bytes >= 0x80 included) */
	VT_EV_NEWLINE,	/* '\n' */
	VT_EV_UP,	/* CSI A, CSI 1 A */
	VT_EV_DSR,	/* CSI 6 n */
};

enum vt_state {
	VT_GROUND = 0,
	VT_ESC,	      /* after ESC */
	VT_ESC_INTER, /* ESC + intermediates (charset select "ESC ( B", "ESC # 8") */
	VT_CSI,	      /* ESC [ params intermediates final */
	VT_STR,	      /* OSC, DCS, SOS, PM, APC: up to BEL or ST */
	VT_STR_ESC,   /* ESC inside a string: ST if '\\' follows */
};

#define VT_PARAM_MAX 8

struct vt {
	enum vt_state st;
	unsigned char nparam; /* bytes kept in param; more than VT_PARAM_MAX: overflow */
	bool inter;	      /* the CSI had intermediate bytes */
	char param[VT_PARAM_MAX];
};

/* A zeroed struct vt is in the ground state. */
/* Feed one raw byte; returns what it means for the cleaned stream. */
enum vt_event vt_step(struct vt *vt, unsigned char c);

/* True for bytes that are plain text when the stripper is in the ground state. */
static inline bool vt_is_text(unsigned char c)
{
	return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/*
 * Length of the run of plain text at p (at most n bytes) when the stripper
 * is in the ground state, else 0: lets callers copy runs instead of bytes.
 */
size_t vt_text_run(const struct vt *vt, const char *p, size_t n);

/*
 * The common case, many lines at once: in the ground state, copy text and
 * '\n' from src[0..n) to dst (room bytes), drop the other controls (CR, NUL,
 * BEL...), and stop before an ESC or when dst is full. Returns the bytes of
 * src taken; *out gets the bytes written, *newlines the '\n's among them.
 * The state stays ground: call only when it is. For speed a CR right before
 * a '\n' (a console's CR LF) may be kept: the caller drops it from the end of
 * each line (a cleaned line never ends with a CR otherwise).
 */
size_t vt_clean(const char *src, size_t n, char *dst, size_t room, size_t *out, size_t *newlines);

/* vt_step() with the common case inline: a byte in the ground state that is not ESC. */
static inline enum vt_event vt_step_fast(struct vt *vt, unsigned char c)
{
	if (vt->st != VT_GROUND || c == 0x1b)
		return vt_step(vt, c);
	if (c == '\n')
		return VT_EV_NEWLINE;
	return vt_is_text(c) ? VT_EV_CHAR : VT_EV_NONE;
}

#endif
