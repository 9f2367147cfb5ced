// SPDX-License-Identifier: MIT
/* A kernel image's architecture and wrapping from its first bytes (see kimage.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/kimage.h"
#include "common/util.h"

#define PE_MACHINE_X86_64 0x8664
#define PE_MACHINE_ARM64 0xaa64

static const struct {
	enum kimage_arch arch;
	const char *name;
} arch_names[] = {
    {KIMAGE_ARCH_X86_64, "x86_64"},
    {KIMAGE_ARCH_AARCH64, "aarch64"},
    {KIMAGE_ARCH_AARCH64, "arm64"},
};

const char *kimage_arch_name(enum kimage_arch a)
{
	for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
		if (arch_names[i].arch == a)
			return arch_names[i].name;
	return "unknown";
}

enum kimage_arch kimage_arch_parse(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(arch_names); i++)
		if (!strcmp(arch_names[i].name, s))
			return arch_names[i].arch;
	return KIMAGE_ARCH_UNKNOWN;
}

const char *kimage_wrap_name(enum kimage_wrap w)
{
	static const char *const names[] = {"raw", "gzip", "EFI zboot"};

	return (size_t)w < ARRAY_SIZE(names) ? names[w] : "unknown";
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static enum kimage_arch raw_arch(const unsigned char *p, size_t len)
{
	if (len >= 0x206 && !memcmp(p + 0x202, "HdrS", 4))
		return KIMAGE_ARCH_X86_64;
	if (len >= 0x3c && !memcmp(p + 0x38, "ARM\x64", 4))
		return KIMAGE_ARCH_AARCH64;
	return KIMAGE_ARCH_UNKNOWN;
}

/* The PE header's machine field of an EFI zboot image. */
static enum kimage_arch zboot_arch(const unsigned char *p, size_t len)
{
	uint32_t pe = len >= 0x40 ? le32(p + 0x3c) : 0;

	if (!pe || pe > len - 6 || memcmp(p + pe, "PE\0\0", 4))
		return KIMAGE_ARCH_UNKNOWN;
	switch (p[pe + 4] | p[pe + 5] << 8) {
	case PE_MACHINE_ARM64:
		return KIMAGE_ARCH_AARCH64;
	case PE_MACHINE_X86_64:
		return KIMAGE_ARCH_X86_64;
	default:
		return KIMAGE_ARCH_UNKNOWN;
	}
}

/* Inflate the head of a gzip stream into out; the number of bytes, or -1. */
static long gunzip_head(const unsigned char *p, size_t len, unsigned char *out, size_t outsz)
{
	z_stream z;
	long n;
	int r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)p;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)outsz;
	r = inflate(&z, Z_SYNC_FLUSH);
	n = (long)(outsz - z.avail_out);
	inflateEnd(&z);
	return r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR ? n : -1;
}

int kimage_detect(const void *head, size_t len, struct kimage_info *info)
{
	static unsigned char inflated[4096];
	const unsigned char *p = head;
	long n;

	info->arch = KIMAGE_ARCH_UNKNOWN;
	info->wrap = KIMAGE_RAW;
	if (len >= 0x1c && !memcmp(p, "MZ", 2) && !memcmp(p + 4, "zimg", 4)) {
		info->wrap = KIMAGE_ZBOOT;
		info->arch = zboot_arch(p, len);
	} else if (len >= 10 && p[0] == 0x1f && p[1] == 0x8b) {
		info->wrap = KIMAGE_GZIP;
		n = gunzip_head(p, len, inflated, sizeof(inflated));
		if (n > 0)
			info->arch = raw_arch(inflated, (size_t)n);
	} else {
		info->arch = raw_arch(p, len);
	}
	return info->arch == KIMAGE_ARCH_UNKNOWN ? -1 : 0;
}

int kimage_detect_file(const char *path, struct kimage_info *info)
{
	static unsigned char head[KIMAGE_HEAD];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	info->arch = KIMAGE_ARCH_UNKNOWN;
	info->wrap = KIMAGE_RAW;
	if (fd < 0)
		return -errno;
	n = pread(fd, head, sizeof(head), 0);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	return kimage_detect(head, (size_t)n, info);
}

int kimage_banner_version(const void *img, size_t len, char *out, size_t outsz)
{
	static const char banner[] = "Linux version ";
	const char *p = img, *end = p + len, *hit, *v, *e;

	while ((hit = memmem(p, (size_t)(end - p), banner, sizeof(banner) - 1))) {
		v = hit + sizeof(banner) - 1;
		for (e = v; e<end && * e> ' ' && *e <= '~'; e++)
			;
		/* The banner goes on " (builder@host)"; a format string ("%s") does not. */
		if (e > v && e + 2 <= end && e[0] == ' ' && e[1] == '(' &&
		    memchr(v, '%', (size_t)(e - v)) == NULL && (size_t)(e - v) < outsz) {
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return 0;
		}
		p = v;
	}
	return -1;
}
