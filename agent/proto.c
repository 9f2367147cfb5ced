/* SPDX-License-Identifier: MIT */
/* The agent's wire protocol: CRC-32, frame building, TLV fields and the streaming decoder. */
#include <string.h>

#include "agent/proto.h"

static const struct {
	unsigned type;
	const char *name;
} type_names[] = {
    {AGENT_HELLO, "HELLO"},
    {AGENT_PING, "PING"},
    {AGENT_RESUME, "RESUME"},
    {AGENT_PONG, "PONG"},
    {AGENT_OK, "OK"},
    {AGENT_EXEC, "EXEC"},
    {AGENT_STDOUT, "STDOUT"},
    {AGENT_STDERR, "STDERR"},
    {AGENT_EXIT, "EXIT"},
    {AGENT_KILL, "KILL"},
    {AGENT_WRITE_BEGIN, "WRITE_BEGIN"},
    {AGENT_WRITE_DATA, "WRITE_DATA"},
    {AGENT_WRITE_END, "WRITE_END"},
    {AGENT_READ, "READ"},
    {AGENT_FILE_DATA, "FILE_DATA"},
    {AGENT_FILE_END, "FILE_END"},
    {AGENT_ERROR, "ERROR"},
};

const char *agent_type_name(unsigned type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return "unknown";
}

bool agent_type_from_guest(unsigned type)
{
	switch (type) {
	case AGENT_HELLO:
	case AGENT_PONG:
	case AGENT_OK:
	case AGENT_STDOUT:
	case AGENT_STDERR:
	case AGENT_EXIT:
	case AGENT_FILE_DATA:
	case AGENT_FILE_END:
	case AGENT_ERROR:
		return true;
	default:
		return false;
	}
}

/* The reflected CRC-32 polynomial of zlib, Ethernet and PNG. */
#define CRC32_POLY 0xedb88320u

static uint32_t crc_table[256];
static bool crc_table_ready;

static void crc_table_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? CRC32_POLY ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
	crc_table_ready = true;
}

uint32_t agent_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!crc_table_ready)
		crc_table_init();
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t agent_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t agent_get_le64(const uint8_t *p)
{
	return (uint64_t)agent_get_le32(p) | (uint64_t)agent_get_le32(p + 4) << 32;
}

void agent_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

void agent_put_le64(uint8_t *p, uint64_t v)
{
	agent_put_le32(p, (uint32_t)v);
	agent_put_le32(p + 4, (uint32_t)(v >> 32));
}

void agent_fw_begin(struct agent_fw *w, void *buf, size_t cap, unsigned type, uint32_t id)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = cap < AGENT_HDR_SIZE;
	if (w->overflow)
		return;
	memset(w->buf, 0, AGENT_HDR_SIZE);
	w->buf[0] = AGENT_MAGIC0;
	w->buf[1] = AGENT_MAGIC1;
	w->buf[2] = AGENT_MAGIC2;
	w->buf[3] = AGENT_MAGIC3;
	w->buf[4] = (uint8_t)type;
	agent_put_le32(w->buf + 8, id);
	w->len = AGENT_HDR_SIZE;
}

void agent_fw_bytes(struct agent_fw *w, unsigned tag, const void *p, size_t n)
{
	if (w->overflow || n > w->cap - w->len || w->cap - w->len - n < AGENT_TLV_HDR ||
	    w->len - AGENT_HDR_SIZE + AGENT_TLV_HDR + n > AGENT_FRAME_MAX) {
		w->overflow = true;
		return;
	}
	w->buf[w->len] = tag & 0xff;
	w->buf[w->len + 1] = (tag >> 8) & 0xff;
	agent_put_le32(w->buf + w->len + 2, (uint32_t)n);
	if (n)
		memcpy(w->buf + w->len + AGENT_TLV_HDR, p, n);
	w->len += AGENT_TLV_HDR + n;
}

void agent_fw_u64(struct agent_fw *w, unsigned tag, uint64_t v)
{
	uint8_t b[8];

	agent_put_le64(b, v);
	agent_fw_bytes(w, tag, b, sizeof(b));
}

void agent_fw_str(struct agent_fw *w, unsigned tag, const char *s)
{
	agent_fw_bytes(w, tag, s, s ? strlen(s) : 0);
}

size_t agent_fw_end(struct agent_fw *w)
{
	uint32_t crc;

	if (w->overflow)
		return 0;
	agent_put_le32(w->buf + 12, (uint32_t)(w->len - AGENT_HDR_SIZE));
	crc = agent_crc32(0, w->buf, 16);
	crc = agent_crc32(crc, w->buf + AGENT_HDR_SIZE, w->len - AGENT_HDR_SIZE);
	agent_put_le32(w->buf + 16, crc);
	return w->len;
}

size_t agent_frame_resume(void *buf, size_t cap, uint64_t unix_ns)
{
	struct agent_fw w;

	agent_fw_begin(&w, buf, cap, AGENT_RESUME, 0);
	agent_fw_u64(&w, AGENT_T_TIME_NS, unix_ns);
	return agent_fw_end(&w);
}

int agent_tlv_next(const uint8_t *p, size_t n, size_t *off, struct agent_tlv *t)
{
	size_t o = *off;
	uint32_t len;

	if (o >= n)
		return 0;
	if (n - o < AGENT_TLV_HDR)
		return -1;
	len = agent_get_le32(p + o + 2);
	if (len > n - o - AGENT_TLV_HDR)
		return -1;
	t->tag = (unsigned)p[o] | (unsigned)p[o + 1] << 8;
	t->len = len;
	t->val = p + o + AGENT_TLV_HDR;
	*off = o + AGENT_TLV_HDR + len;
	return 1;
}

bool agent_tlv_u64(const struct agent_tlv *t, uint64_t *v)
{
	if (t->len != 8)
		return false;
	*v = agent_get_le64(t->val);
	return true;
}

const char *agent_derr_str(enum agent_derr e)
{
	switch (e) {
	case AGENT_DERR_NONE:
		return "no error";
	case AGENT_DERR_MAGIC:
		return "bad magic";
	case AGENT_DERR_LENGTH:
		return "frame too long";
	case AGENT_DERR_CRC:
		return "bad CRC";
	}
	return "unknown decoder error";
}

void agent_dec_reset(struct agent_dec *d)
{
	d->have = 0;
	d->err = AGENT_DERR_NONE;
	d->err_at = 0;
	d->err_value = 0;
	d->frame_at = d->offset;
}

static int dec_fail(struct agent_dec *d, enum agent_derr e, uint32_t value)
{
	d->err = e;
	d->err_at = d->frame_at;
	d->err_value = value;
	return -1;
}

static const uint8_t frame_magic[4] = {AGENT_MAGIC0, AGENT_MAGIC1, AGENT_MAGIC2, AGENT_MAGIC3};

/* The header is complete: check its length before any payload is taken. */
static int dec_header(struct agent_dec *d)
{
	d->type = d->hdr[4];
	d->id = agent_get_le32(d->hdr + 8);
	d->len = agent_get_le32(d->hdr + 12);
	if (d->len > AGENT_FRAME_MAX)
		return dec_fail(d, AGENT_DERR_LENGTH, d->len);
	return 0;
}

static int dec_check(struct agent_dec *d)
{
	uint32_t want = agent_get_le32(d->hdr + 16);
	uint32_t crc = agent_crc32(0, d->hdr, 16);

	crc = agent_crc32(crc, d->payload, d->len);
	if (crc != want)
		return dec_fail(d, AGENT_DERR_CRC, want);
	d->have = 0;
	return 1;
}

int agent_dec_feed(struct agent_dec *d, const uint8_t *buf, size_t len, size_t *used)
{
	size_t take, i = 0;

	*used = 0;
	if (d->err != AGENT_DERR_NONE)
		return -1;
	if (d->have == 0)
		d->frame_at = d->offset;
	if (d->have < AGENT_HDR_SIZE) {
		take = AGENT_HDR_SIZE - d->have;
		if (take > len)
			take = len;
		memcpy(d->hdr + d->have, buf, take);
		d->have += take;
		d->offset += take;
		i = take;
		*used = i;
		/* A wrong magic is reported as soon as its 4 bytes are in. */
		if (d->have >= 4 && d->have - take < 4 && memcmp(d->hdr, frame_magic, 4) != 0)
			return dec_fail(d, AGENT_DERR_MAGIC, agent_get_le32(d->hdr));
		if (d->have < AGENT_HDR_SIZE)
			return 0;
		if (dec_header(d) < 0)
			return -1;
	}
	take = AGENT_HDR_SIZE + d->len - d->have;
	if (take > len - i)
		take = len - i;
	memcpy(d->payload + (d->have - AGENT_HDR_SIZE), buf + i, take);
	d->have += take;
	d->offset += take;
	*used = i + take;
	if (d->have < AGENT_HDR_SIZE + d->len)
		return 0;
	return dec_check(d);
}
