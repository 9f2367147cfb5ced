/* SPDX-License-Identifier: MIT */
/* Text output for reports: a buffer with a sticky error, escaping for XML, terminals and UTF-8. */
#ifndef IT_OUT_H
#define IT_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Appends to a borrowed buffer. The first failure (-IT_ELIMIT, -ENOMEM,
 * -EINVAL) stays in err and every later call does nothing, so formatting
 * code stays flat and returns o.err once at the end.
 */
struct out {
	struct buf *b;
	int err;
};

void out_put(struct out *o, const void *p, size_t n);
void out_puts(struct out *o, const char *s);
void out_putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n spaces */
void out_pad(struct out *o, size_t n);

/*
 * How out_esc() writes text. Every mode writes bytes that are not valid
 * UTF-8 (and the controls a mode cannot carry) as the text \xHH.
 * ESC_XML_TEXT: &, <, > and CR as entities. ESC_XML_ATTR: also ", ', TAB
 * and LF. ESC_TERM: printable text, TAB as a space. ESC_UTF8: valid UTF-8
 * as it is (for a JSON library, which escapes the rest itself).
 */
enum out_esc_mode { ESC_XML_TEXT, ESC_XML_ATTR, ESC_TERM, ESC_UTF8 };

void out_esc_n(struct out *o, enum out_esc_mode m, const char *s, size_t n);
/* As out_esc_n() for a string; NULL writes nothing. */
void out_esc(struct out *o, enum out_esc_mode m, const char *s);

/* ' NAME="VALUE"', the value escaped as ESC_XML_ATTR. */
void out_xml_attr(struct out *o, const char *name, const char *value);
/* A JUnit '<property name= value=/>' line; nothing when value is NULL or empty. */
void out_xml_property(struct out *o, const char *name, const char *value);

/* "21.3s" */
void out_secs1(struct out *o, int64_t ms);
/* "5.123" (no unit: JUnit's time attribute); a negative ms is 0. */
void out_secs3(struct out *o, int64_t ms);
/* A duration as a scenario writes it: "20s", "1.5s", "250ms". */
void out_duration(struct out *o, int64_t ms);

#endif
