// SPDX-License-Identifier: MIT
/* Kernel image detection: real image heads (Debian's arm64 and amd64 6.1 kernels), crafted ones. */
#include <check.h>
#include <string.h>

#include "common/kimage.h"
#include "tests/unit/testutil.h"

#define DATA "tests/data/kimage/"

static const struct {
	const char *file;
	enum kimage_arch arch;
	enum kimage_wrap wrap;
} real[] = {
    {DATA "arm64-6.1.0-57.head", KIMAGE_ARCH_AARCH64, KIMAGE_RAW},
    {DATA "arm64-6.1.0-57.head.gz", KIMAGE_ARCH_AARCH64, KIMAGE_GZIP},
    {DATA "amd64-6.1.0-57.head", KIMAGE_ARCH_X86_64, KIMAGE_RAW},
};

START_TEST(test_real_heads)
{
	struct kimage_info ki;

	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		ck_assert_int_eq(kimage_detect_file(real[i].file, &ki), 0);
		ck_assert_int_eq(ki.arch, real[i].arch);
		ck_assert_int_eq(ki.wrap, real[i].wrap);
	}
	ck_assert_int_lt(kimage_detect_file(DATA "no-such-file", &ki), 0);
	ck_assert_int_eq(ki.arch, KIMAGE_ARCH_UNKNOWN);
}
END_TEST

START_TEST(test_crafted)
{
	unsigned char h[0x400];
	struct kimage_info ki;

	memset(h, 0, sizeof(h));
	ck_assert_int_eq(kimage_detect(h, sizeof(h), &ki), -1);
	ck_assert_int_eq(ki.arch, KIMAGE_ARCH_UNKNOWN);
	/* Too short for the magic it would need. */
	memcpy(h + 0x38, "ARM\x64", 4);
	ck_assert_int_eq(kimage_detect(h, 0x3b, &ki), -1);
	ck_assert_int_eq(kimage_detect(h, 0x3c, &ki), 0);
	ck_assert_int_eq(ki.arch, KIMAGE_ARCH_AARCH64);
	/* EFI zboot: "MZ", "zimg", the PE header's machine. */
	memset(h, 0, sizeof(h));
	memcpy(h, "MZ", 2);
	memcpy(h + 4, "zimg", 4);
	memcpy(h + 0x18, "gzip", 4);
	h[0x3c] = 0x80;
	memcpy(h + 0x80, "PE\0\0\x64\xaa", 6);
	ck_assert_int_eq(kimage_detect(h, sizeof(h), &ki), 0);
	ck_assert_int_eq(ki.arch, KIMAGE_ARCH_AARCH64);
	ck_assert_int_eq(ki.wrap, KIMAGE_ZBOOT);
	h[0x3c] = 0xff; /* the PE header out of the bytes given */
	h[0x3d] = 0xff;
	ck_assert_int_eq(kimage_detect(h, sizeof(h), &ki), -1);
	/* gzip of garbage */
	memset(h, 0, sizeof(h));
	h[0] = 0x1f;
	h[1] = 0x8b;
	ck_assert_int_eq(kimage_detect(h, sizeof(h), &ki), -1);
	ck_assert_int_eq(ki.wrap, KIMAGE_GZIP);
}
END_TEST

START_TEST(test_names)
{
	char v[64];
	static const char img[] = "x Linux version %s (%s) y Linux version 6.1.0-57-arm64 (d@x) #1";

	ck_assert_int_eq(kimage_arch_parse("arm64"), KIMAGE_ARCH_AARCH64);
	ck_assert_int_eq(kimage_arch_parse("aarch64"), KIMAGE_ARCH_AARCH64);
	ck_assert_int_eq(kimage_arch_parse("x86_64"), KIMAGE_ARCH_X86_64);
	ck_assert_int_eq(kimage_arch_parse("riscv64"), KIMAGE_ARCH_UNKNOWN);
	ck_assert_int_eq(kimage_arch_parse(NULL), KIMAGE_ARCH_UNKNOWN);
	ck_assert_str_eq(kimage_arch_name(KIMAGE_ARCH_AARCH64), "aarch64");
	ck_assert_str_eq(kimage_wrap_name(KIMAGE_ZBOOT), "EFI zboot");
	ck_assert_int_eq(kimage_banner_version(img, sizeof(img) - 1, v, sizeof(v)), 0);
	ck_assert_str_eq(v, "6.1.0-57-arm64");
	ck_assert_int_eq(kimage_banner_version(img, 30, v, sizeof(v)), -1);
	ck_assert_int_eq(kimage_banner_version(img, sizeof(img) - 1, v, 8), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_kimage");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_real_heads);
	tcase_add_test(tc, test_crafted);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
