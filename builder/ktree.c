// SPDX-License-Identifier: MIT
/* A configured, built Linux tree as the kernel: its image, its vmlinux, what its .config says. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/builder.h"
#include "common/buf.h"
#include "common/util.h"

/* The boot image's place in the tree, by the package architecture's kernel ARCH. */
static const char *image_in_tree(const char *arch)
{
	if (arch && (!strcmp(arch, "aarch64") || !strcmp(arch, "arm64")))
		return "arch/arm64/boot/Image";
	return "arch/x86/boot/bzImage";
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int builder_kernel_tree(const char *dir, const char *arch, char **image, char **vmlinux,
			struct it_error *err)
{
	char path[PATH_MAX];
	const char *rel = image_in_tree(arch);

	*image = NULL;
	*vmlinux = NULL;
	if (path_join(path, sizeof(path), dir, rel) < 0)
		return it_error_set(err, -ENAMETOOLONG, "'%s/%s': path too long", dir, rel);
	if (!is_file(path)) {
		it_error_set(err, -IT_EKERNEL, "kernel tree '%s' has no image: '%s' is missing",
			     dir, path);
		it_error_hint(err, "build it in the tree ('make -j$(nproc)'), or give the image "
				   "with --kernel FILE");
		return -IT_EKERNEL;
	}
	*image = strdup(path);
	if (path_join(path, sizeof(path), dir, "vmlinux") == 0 && is_file(path))
		*vmlinux = strdup(path);
	if (!*image || (is_file(path) && !*vmlinux)) {
		free(*image);
		*image = NULL;
		return it_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* The value .config gives 'option' ("y", "m", a string...), "" when unset or absent. */
static void config_value(struct blob text, const char *option, char *out, size_t outsz)
{
	size_t olen = strlen(option);
	const char *p = text.ptr, *end = text.ptr + text.len;

	out[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (len > olen && !memcmp(p, option, olen) && p[olen] == '=') {
			snprintf(out, outsz, "%.*s", (int)(len - olen - 1), p + olen + 1);
			return;
		}
		p += len + 1;
	}
}

int builder_kconfig_check(const char *dir, const struct kconfig_need *needs, size_t n,
			  struct it_error *err)
{
	struct buf cfg = BUF_INIT;
	char path[PATH_MAX], value[64], have[128];
	int r;

	buf_init(&cfg, 64u << 20);
	path_join(path, sizeof(path), dir, ".config");
	r = buf_read_file(&cfg, path);
	if (r < 0) {
		buf_release(&cfg);
		it_error_set(err, -IT_ESCENARIO,
			     "kernel tree '%s' is not configured: cannot read '%s': %s", dir, path,
			     it_strerror(r));
		it_error_hint(err, "configure and build it first ('make defconfig', 'make')");
		return -IT_ESCENARIO;
	}
	for (size_t i = 0; i < n; i++) {
		config_value(buf_blob(&cfg), needs[i].option, value, sizeof(value));
		if (!strcmp(value, "y") || (needs[i].module_ok && !strcmp(value, "m")))
			continue;
		if (value[0])
			snprintf(have, sizeof(have), "%s=%s", needs[i].option, value);
		else
			snprintf(have, sizeof(have), "it unset");
		it_error_set(err, -IT_ESCENARIO,
			     "kernel tree '%s' lacks %s=%s (its .config has %s): %s needs it", dir,
			     needs[i].option, needs[i].module_ok ? "y or =m" : "y", have,
			     needs[i].why);
		it_error_hint(err,
			      "enable it ('scripts/config --enable %s' in the tree, or make "
			      "menuconfig), rebuild, and run again",
			      needs[i].option + 7);
		buf_release(&cfg);
		return -IT_ESCENARIO;
	}
	buf_release(&cfg);
	return 0;
}
