// SPDX-License-Identifier: MIT
/* Unit tests for builder/kernel.c: finding the host's kernel ('kernel host'). */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/builder.h"
#include "common/util.h"
#include "tests/unit/testutil.h"
#include "hostkernel.h"

static void touch(const char *dir, const char *name)
{
	char path[PATH_MAX];

	ck_assert_int_eq(path_join(path, sizeof(path), dir, name), 0);
	ck_assert_int_eq(write_file_atomic(path, "x", 1, 0644), 0);
}

static void make_dir(const char *dir, const char *name)
{
	char path[PATH_MAX];

	ck_assert_int_eq(path_join(path, sizeof(path), dir, name), 0);
	ck_assert_int_eq(mkdir_p(path, 0755), 0);
}

START_TEST(test_host_kernel)
{
	struct it_error e = IT_ERROR_INIT;
	char boot[600], mods[600], want[PATH_MAX], link[700];
	char *image = NULL, *moddir = NULL;

	tu_path(boot, sizeof(boot), "boot");
	tu_path(mods, sizeof(mods), "modules");
	ck_assert_int_eq(mkdir(boot, 0755), 0);
	ck_assert_int_eq(mkdir(mods, 0755), 0);

	ck_assert_int_eq(builder_host_kernel(boot, mods, &image, &moddir, &e), -IT_ENOTFOUND);
	tu_assert_textf(e.msg, false,
			"no host kernel: no '%s/vmlinuz-VERSION' with a matching '%s/VERSION'",
			boot, mods);
	ck_assert_ptr_null(image);

	touch(boot, "vmlinuz-6.1.0-9-amd64");
	touch(boot, "vmlinuz-6.1.0-10-amd64");
	touch(boot, "vmlinuz-6.1.0-56-amd64"); /* newest, but no modules */
	touch(boot, "vmlinuz-");
	touch(boot, "config-6.1.0-99-amd64");
	make_dir(mods, "6.1.0-9-amd64");
	make_dir(mods, "6.1.0-10-amd64");
	make_dir(mods, "6.1.0-99-amd64");
	it_error_clear(&e);
	ck_assert_msg(builder_host_kernel(boot, mods, &image, &moddir, &e) == 0, "%s", e.msg);
	tu_assert_textf(image, false, "%s/vmlinuz-6.1.0-10-amd64", boot);
	tu_assert_textf(moddir, false, "%s/6.1.0-10-amd64", mods);
	free(image);
	free(moddir);

	/* The newest cannot be read: say so rather than fall back silently. */
	snprintf(link, sizeof(link), "%s/vmlinuz-6.2.0-1-amd64", boot);
	ck_assert_int_eq(symlink("/nonexistent/vmlinuz", link), 0);
	make_dir(mods, "6.2.0-1-amd64");
	it_error_clear(&e);
	ck_assert_int_eq(builder_host_kernel(boot, mods, &image, &moddir, &e), -IT_EKERNEL);
	tu_assert_textf(e.msg, false, "cannot read kernel '%s': No such file or directory", link);
	ck_assert(strstr(e.hint, "chmod") != NULL);
	ck_assert_ptr_null(image);
	ck_assert_ptr_null(moddir);

	it_error_clear(&e);
	ck_assert_int_eq(builder_host_kernel(mods, "/nonexistent", &image, &moddir, &e),
			 -IT_ENOTFOUND);
	tu_path(want, sizeof(want), "nope");
	it_error_clear(&e);
	ck_assert_int_eq(builder_host_kernel(want, mods, &image, &moddir, &e), -IT_ENOTFOUND);
	tu_assert_textf(e.msg, false, "cannot read '%s': No such file or directory", want);
	ck_assert_ptr_null(image);
	ck_assert_ptr_null(moddir);
}
END_TEST

/* NULL roots are /boot and /lib/modules: the kernel tests/hostkernel.sh finds the same way. */
START_TEST(test_host_kernel_default_roots)
{
	struct it_error e = IT_ERROR_INIT;
	char *image = NULL, *moddir = NULL;

	ck_assert_msg(builder_host_kernel(NULL, NULL, &image, &moddir, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(image, HOST_KERNEL);
	ck_assert_str_eq(moddir, HOST_MODULES);
	free(image);
	free(moddir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_kernel");
	TCase *tc = tcase_create("host");

	tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_host_kernel);
	tcase_add_test(tc, test_host_kernel_default_roots);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
