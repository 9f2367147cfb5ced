// SPDX-License-Identifier: MIT
/* libFuzzer target: kernel image detection and the version in an image's bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/internal.h"
#include "common/kimage.h"
#include "fuzz/fuzz.h"

FUZZ_ONE(kimage)
{
	struct it_error err = IT_ERROR_INIT;
	struct kimage_info ki;
	char v[64], *version = NULL;
	int r = kimage_detect(data, size, &ki);

	if ((r == 0) != (ki.arch != KIMAGE_ARCH_UNKNOWN))
		fuzz_fail();
	if (kimage_banner_version(data, size, v, sizeof(v)) == 0 && (!*v || strlen(v) >= sizeof(v)))
		fuzz_fail();
	r = kmod_image_version(data, size, "fuzz", &version, &err);
	if ((r == 0) != (version != NULL) || (r < 0 && !err.code))
		fuzz_fail();
	free(version);
	return 0;
}
