// SPDX-License-Identifier: MIT
/* Text output for reports: a buffer with a sticky error, escaping for XML, terminals and UTF-8. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "src/out.h"

void out_put(struct out *o, const void *p, size_t n)
{
	if (!o->err)
		o->err = buf_add(o->b, p, n);
}

void out_puts(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

void out_putf(struct out *o, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	if (o->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->err = -EINVAL;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		out_put(o, small, (size_t)n);
		return;
	}
	o->err = buf_grow(o->b, (size_t)n);
	if (o->err)
		return;
	va_start(ap, fmt);
	vsnprintf(o->b->data + o->b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->b->len += (size_t)n;
}

void out_pad(struct out *o, size_t n)
{
	static const char spaces[] = "                                ";

	while (n > 0) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		out_put(o, spaces, k);
		n -= k;
	}
}

/* Length of the valid UTF-8 sequence at p (1 to 4 bytes) with its code point, or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c = p[0];
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Bytes that no output format shows as they are: written as the text \xHH. */
static void put_hex_bytes(struct out *o, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out_putf(o, "\\x%02x", p[i]);
}

/* C0 and C1 controls and DEL: a terminal would act on them. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* One code point (the sequence p[0..n)) in the given syntax. */
static void put_cp(struct out *o, enum out_esc_mode m, const unsigned char *p, size_t n,
		   uint32_t cp)
{
	bool attr = m == ESC_XML_ATTR;

	if (m == ESC_UTF8) {
		out_put(o, p, n);
		return;
	}
	if (m == ESC_TERM) {
		if (cp == '\t')
			out_puts(o, " ");
		else if (is_control(cp))
			put_hex_bytes(o, p, n);
		else
			out_put(o, p, n);
		return;
	}
	switch (cp) {
	case '&':
		return out_puts(o, "&amp;");
	case '<':
		return out_puts(o, "&lt;");
	case '>':
		return out_puts(o, "&gt;");
	case '"':
		return out_puts(o, attr ? "&quot;" : "\"");
	case '\'':
		return out_puts(o, attr ? "&apos;" : "'");
	case '\t':
		return out_puts(o, attr ? "&#9;" : "\t");
	case '\n':
		return out_puts(o, attr ? "&#10;" : "\n");
	case '\r':
		return out_puts(o, "&#13;"); /* a parser would turn a bare CR into LF */
	default:
		break;
	}
	/* XML 1.0 cannot carry C0 controls at all, and discourages DEL, C1 and U+FFFE/F. */
	if (is_control(cp) || cp == 0xfffe || cp == 0xffff)
		put_hex_bytes(o, p, n);
	else
		out_put(o, p, n);
}

void out_esc_n(struct out *o, enum out_esc_mode m, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t k = utf8_seq(p + i, n - i, &cp);

		if (k == 0) {
			put_hex_bytes(o, p + i, 1);
			i++;
			continue;
		}
		put_cp(o, m, p + i, k, cp);
		i += k;
	}
}

void out_esc(struct out *o, enum out_esc_mode m, const char *s)
{
	if (s)
		out_esc_n(o, m, s, strlen(s));
}

void out_xml_attr(struct out *o, const char *name, const char *value)
{
	out_putf(o, " %s=\"", name);
	out_esc(o, ESC_XML_ATTR, value);
	out_puts(o, "\"");
}

void out_xml_property(struct out *o, const char *name, const char *value)
{
	if (!value || !value[0])
		return;
	out_puts(o, "      <property");
	out_xml_attr(o, "name", name);
	out_xml_attr(o, "value", value);
	out_puts(o, "/>\n");
}

void out_secs1(struct out *o, int64_t ms)
{
	long long t = (long long)((ms + 50) / 100);

	out_putf(o, "%lld.%llds", t / 10, t % 10);
}

void out_secs3(struct out *o, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	out_putf(o, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
}

void out_duration(struct out *o, int64_t ms)
{
	if (ms < 1000)
		out_putf(o, "%lldms", (long long)ms);
	else if (ms % 1000 == 0)
		out_putf(o, "%llds", (long long)(ms / 1000));
	else if (ms % 100 == 0)
		out_putf(o, "%lld.%llds", (long long)(ms / 1000), (long long)(ms % 1000 / 100));
	else
		out_putf(o, "%lld.%03llds", (long long)(ms / 1000), (long long)(ms % 1000));
}
