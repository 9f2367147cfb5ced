// SPDX-License-Identifier: MIT
/* Strips VT/ANSI escape sequences, CRs and NULs from console bytes, one byte at a time. */
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "vt.h"

#define ESC 0x1b
#define CAN 0x18
#define SUB 0x1a
#define BEL 0x07

/*
 * The states follow the VT500 parser of Paul Williams (vt100.net/emu/dec_ansi_parser)
 * with two deliberate departures, because a console is not a screen: a '\n'
 * always ends an escape or string sequence (a stray "ESC ]" in garbage must not
 * swallow the next kernel panic), and bytes >= 0x80 are text (UTF-8), never
 * 8-bit C1 controls.
 */

static enum vt_event vt_ground(struct vt *vt, unsigned char c)
{
	if (c == ESC) {
		vt->st = VT_ESC;
		return VT_EV_NONE;
	}
	if (c == '\n')
		return VT_EV_NEWLINE;
	if (vt_is_text(c))
		return VT_EV_CHAR;
	return VT_EV_NONE; /* CR, NUL, BEL, BS, DEL and the other controls */
}

/* A control byte inside a sequence: ESC restarts, CAN/SUB/'\n' abort; others are ignored. */
static bool vt_control(struct vt *vt, unsigned char c, enum vt_event *ev)
{
	if (c >= 0x20 && c != 0x7f)
		return false;
	*ev = VT_EV_NONE;
	if (c == ESC) {
		vt->st = VT_ESC;
	} else if (c == '\n') {
		vt->st = VT_GROUND;
		*ev = VT_EV_NEWLINE;
	} else if (c == CAN || c == SUB) {
		vt->st = VT_GROUND;
	}
	return true;
}

static enum vt_event vt_esc(struct vt *vt, unsigned char c)
{
	enum vt_event ev;

	if (c >= 0x80) {
		vt->st = VT_GROUND;
		return VT_EV_CHAR;
	}
	if (vt_control(vt, c, &ev))
		return ev;
	switch (c) {
	case '[':
		vt->st = VT_CSI;
		vt->nparam = 0;
		vt->inter = false;
		break;
	case ']': /* OSC */
	case 'P': /* DCS */
	case 'X': /* SOS */
	case '^': /* PM */
	case '_': /* APC */
		vt->st = VT_STR;
		break;
	default:
		/* 0x20-0x2f: intermediates ("ESC ( B"); anything else ends a lone pair ("ESC 7").
		 */
		vt->st = c <= 0x2f ? VT_ESC_INTER : VT_GROUND;
		break;
	}
	return VT_EV_NONE;
}

static enum vt_event vt_esc_inter(struct vt *vt, unsigned char c)
{
	enum vt_event ev;

	if (vt_control(vt, c, &ev))
		return ev;
	if (c > 0x2f)
		vt->st = VT_GROUND;
	return VT_EV_NONE;
}

static bool vt_param_is(const struct vt *vt, const char *s)
{
	size_t n = strlen(s);

	return vt->nparam == n && memcmp(vt->param, s, n) == 0;
}

static enum vt_event vt_csi_final(struct vt *vt, unsigned char c)
{
	vt->st = VT_GROUND;
	if (vt->inter)
		return VT_EV_NONE;
	if (c == 'n' && vt_param_is(vt, "6"))
		return VT_EV_DSR;
	if (c == 'A' && (vt_param_is(vt, "") || vt_param_is(vt, "1")))
		return VT_EV_UP;
	return VT_EV_NONE;
}

static enum vt_event vt_csi(struct vt *vt, unsigned char c)
{
	enum vt_event ev;

	if (c >= 0x80) {
		vt->st = VT_GROUND; /* malformed: give the byte back to the text */
		return VT_EV_CHAR;
	}
	if (vt_control(vt, c, &ev))
		return ev;
	if (c >= 0x40)
		return vt_csi_final(vt, c);
	if (c >= 0x30) {
		if (vt->nparam < VT_PARAM_MAX)
			vt->param[vt->nparam] = (char)c;
		if (vt->nparam <= VT_PARAM_MAX)
			vt->nparam++;
		return VT_EV_NONE;
	}
	vt->inter = true; /* 0x20-0x2f */
	return VT_EV_NONE;
}

static enum vt_event vt_str(struct vt *vt, unsigned char c)
{
	if (c == BEL || c == CAN || c == SUB) {
		vt->st = VT_GROUND;
		return VT_EV_NONE;
	}
	if (c == ESC) {
		vt->st = VT_STR_ESC;
		return VT_EV_NONE;
	}
	if (c == '\n') {
		vt->st = VT_GROUND;
		return VT_EV_NEWLINE;
	}
	return VT_EV_NONE;
}

enum vt_event vt_step(struct vt *vt, unsigned char c)
{
	switch (vt->st) {
	case VT_GROUND:
		return vt_ground(vt, c);
	case VT_ESC:
		return vt_esc(vt, c);
	case VT_ESC_INTER:
		return vt_esc_inter(vt, c);
	case VT_CSI:
		return vt_csi(vt, c);
	case VT_STR:
		return vt_str(vt, c);
	case VT_STR_ESC:
		if (c == '\\') {
			vt->st = VT_GROUND;
			return VT_EV_NONE;
		}
		/* ESC ends the string and starts a new sequence with this byte. */
		vt->st = VT_ESC;
		return vt_esc(vt, c);
	}
	vt->st = VT_GROUND;
	return VT_EV_NONE;
}

#if defined(__SSE2__)
static __m128i load16(const char *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* One bit per byte of v that is a control (below 0x20, or DEL). */
static unsigned controls16(__m128i v)
{
	__m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
	__m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(low, del));
}

static unsigned bytes16(__m128i v, char c)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

/*
 * How many bytes of the 16 at v are taken as they stand, up to the first
 * control: all 16 when their only controls are '\n's and CR LF pairs, the
 * ends of console lines. *lf gets the '\n's taken.
 */
static size_t plain16(__m128i v, unsigned *lf)
{
	unsigned m = controls16(v), cr, nl;

	*lf = 0;
	if (m == 0)
		return 16;
	cr = bytes16(v, '\r');
	nl = bytes16(v, '\n');
	if ((m & ~(cr | nl)) == 0 && ((cr << 1) & ~nl) == 0) {
		*lf = nl;
		return 16;
	}
	return (size_t)__builtin_ctz(m);
}
#endif

/*
 * Most of a console is text, and the engine and the log writer look at every
 * byte of it: 16 bytes at a time where SSE2 is there (every x86-64), one at a
 * time elsewhere. A tab is the only control that is text.
 */
size_t vt_text_run(const struct vt *vt, const char *p, size_t n)
{
	size_t i = 0;

	if (vt->st != VT_GROUND)
		return 0;
#if defined(__SSE2__)
	while (n - i >= 16) {
		unsigned m = controls16(load16(p + i));

		if (m == 0) {
			i += 16;
			continue;
		}
		i += (size_t)__builtin_ctz(m);
		if (p[i] != '\t')
			return i;
		i++;
	}
#endif
	while (i < n && vt_is_text((unsigned char)p[i]))
		i++;
	return i;
}

size_t vt_clean(const char *src, size_t n, char *dst, size_t room, size_t *out, size_t *newlines)
{
	size_t i = 0, o = 0, nl = 0;

	while (i < n) {
		unsigned char c;

#if defined(__SSE2__)
		/* Output never outgrows input: up to 'lim', 16 bytes always fit in dst. */
		size_t lim = room - o < n - i ? i + (room - o) : n;

		while (lim - i >= 16) {
			__m128i v = load16(src + i);
			unsigned lf;
			size_t k = plain16(v, &lf);

			/* Store all 16, keep what plain16() takes. */
			_mm_storeu_si128((__m128i *)(void *)(dst + o), v);
			i += k;
			o += k;
			for (; lf; lf &= lf - 1)
				nl++;
			if (k < 16)
				break;
		}
		if (i == n)
			break;
#endif
		c = (unsigned char)src[i];
		if (c == ESC)
			break;
		if (vt_is_text(c) || c == '\n') {
			if (o == room)
				break;
			dst[o++] = (char)c;
			nl += c == '\n';
		}
		i++;
	}
	*out = o;
	*newlines = nl;
	return i;
}
