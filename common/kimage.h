/* SPDX-License-Identifier: MIT */
/*
 * What a Linux kernel image is, from its first bytes: the architecture and
 * the wrapping. Shared by the builder (the kernel version, for modules) and
 * the command layer (the runner's preset, checked against a scenario's arch).
 *
 * Formats (Documentation/arch/x86/boot.rst, Documentation/arch/arm64/booting.rst):
 *   x86 bzImage: "HdrS" at 0x202.
 *   arm64 Image: "ARM\x64" at 0x38 (Debian's arm64 vmlinuz is such an Image,
 *     with an EFI stub: "MZ" at 0 as well).
 *   gzip (1f 8b): a gzip'ed Image, as qemu -kernel takes for arm64 and some
 *     distributions ship; the inflated head is detected again.
 *   EFI zboot (drivers/firmware/efi/libstub/zboot-header.S): "MZ", "zimg" at
 *     4, the compression name at 0x18; the PE header's machine (at the offset
 *     le32 0x3c) says the architecture. qemu 7.2's -kernel cannot boot it.
 */
#ifndef IT_KIMAGE_H
#define IT_KIMAGE_H

#include <stddef.h>

enum kimage_arch { KIMAGE_ARCH_UNKNOWN = 0, KIMAGE_ARCH_X86_64, KIMAGE_ARCH_AARCH64 };
enum kimage_wrap { KIMAGE_RAW = 0, KIMAGE_GZIP, KIMAGE_ZBOOT };

struct kimage_info {
	enum kimage_arch arch;
	enum kimage_wrap wrap;
};

/* Enough of an image's head for kimage_detect(): a gzip'ed one inflates from it. */
#define KIMAGE_HEAD 65536

/* "x86_64", "aarch64"; "unknown". */
const char *kimage_arch_name(enum kimage_arch a);
/* "x86_64" / "aarch64" (also "arm64", Debian's name) to an arch; KIMAGE_ARCH_UNKNOWN else. */
enum kimage_arch kimage_arch_parse(const char *s);
/* "raw", "gzip", "EFI zboot". */
const char *kimage_wrap_name(enum kimage_wrap w);

/*
 * Detect from the first len bytes of an image (KIMAGE_HEAD is plenty).
 * Returns 0, or -1 when the bytes are no kernel image we know (info is then
 * KIMAGE_ARCH_UNKNOWN). Pure: no I/O, no allocation beyond zlib's state.
 */
int kimage_detect(const void *head, size_t len, struct kimage_info *info);

/*
 * The same for a file: its first KIMAGE_HEAD bytes. -errno when it cannot
 * be read, -1 when it is no kernel image we know.
 */
int kimage_detect_file(const char *path, struct kimage_info *info);

/*
 * The release in an uncompressed image's "Linux version RELEASE (" banner,
 * as uname -r shows it, into out (size outsz): 0, or -1 when there is none.
 * For images (arm64) whose header does not point at the version.
 */
int kimage_banner_version(const void *img, size_t len, char *out, size_t outsz);

#endif
