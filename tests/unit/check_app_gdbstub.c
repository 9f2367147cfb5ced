// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/gdbstub.c and the crash settings of the kernel command line
 * (src/run_opts.c): qemu's argv with the gdb stub, the gdb line, panic=-1 and oops=panic.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "runner/runner.h"
#include "src/gdbstub.h"
#include "src/run.h"
#include "tests/unit/testutil.h"

/* Index of word in argv (NULL-terminated), or -1. */
static long find_word(char *const *argv, const char *word)
{
	for (long i = 0; argv[i]; i++)
		if (!strcmp(argv[i], word))
			return i;
	return -1;
}

START_TEST(stub_in_argv)
{
	struct scenario s;
	struct strlist argv = STRLIST_INIT;
	struct it_error err = IT_ERROR_INIT;
	char want[64], line[256];
	int port = 0;
	long i;

	scenario_init(&s);
	s.vm.kernel = strdup("K");
	s.vm.initrd = strdup("I");
	s.vm.append = strdup("quiet");
	ck_assert_int_eq(gdbstub_setup(&s, &port, &err), 0);
	ck_assert(port > 0 && port < 65536);
	ck_assert_int_eq(vm_build_argv(&s.vm, VM_ACCEL_TCG, NULL, &argv, &err), 0);
	i = find_word(argv.v, "-gdb");
	ck_assert_int_ge(i, 0);
	snprintf(want, sizeof(want), "tcp:127.0.0.1:%d", port);
	ck_assert_str_eq(argv.v[i + 1], want);
	ck_assert_int_lt(find_word(argv.v, "-S"),
			 0); /* the guest runs: gdb attaches when it likes */
	i = find_word(argv.v, "-append");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(argv.v[i + 1], "console=ttyS0 quiet nokaslr");
	gdbstub_line(&s, port, line, sizeof(line));
	snprintf(want, sizeof(want), "gdb vmlinux -ex 'target remote 127.0.0.1:%d'", port);
	ck_assert_str_eq(line, want);
	s.vmlinux = strdup("/src/linux/vmlinux");
	gdbstub_line(&s, port, line, sizeof(line));
	ck_assert(!strncmp(line, "gdb /src/linux/vmlinux -ex 'target remote 127.0.0.1:", 52));
	strlist_clear(&argv);
	scenario_release(&s);
}
END_TEST

/* The command line run_prepare() gives a scenario, with these options and lines. */
static void prepared_append(const char *lines, bool gdb_on_fail, const char *append, char *out,
			    size_t n)
{
	struct run_opts o;
	struct scenario s;
	struct it_error err = IT_ERROR_INIT;
	char path[4096];
	FILE *f;

	tu_tmp_setup();
	tu_path(path, sizeof(path), "scenario");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "agent off\nkernel image /nonexistent/bzImage\n%s", lines);
	fclose(f);
	run_opts_init(&o);
	o.gdb_on_fail = gdb_on_fail;
	o.append = append;
	scenario_init(&s);
	ck_assert_msg(run_prepare(&s, path, &o, &err) == 0, "%s", err.msg);
	snprintf(out, n, "%s", s.vm.append ? s.vm.append : "");
	scenario_release(&s);
	run_opts_release(&o);
	tu_tmp_teardown();
}

START_TEST(crash_cmdline)
{
	char a[256];

	prepared_append("", false, NULL, a, sizeof(a));
	ck_assert_str_eq(a, "panic=-1");
	prepared_append("oops panic\nvm append quiet\n", false, NULL, a, sizeof(a));
	ck_assert_str_eq(a, "quiet panic=-1 oops=panic");
	/* the scenario's or the user's own panic= and oops= stand */
	prepared_append("oops panic\nvm append panic=10 oops=panic\n", false, NULL, a, sizeof(a));
	ck_assert_str_eq(a, "panic=10 oops=panic");
	prepared_append("", false, "panic=5", a, sizeof(a));
	ck_assert_str_eq(a, "panic=5");
	/* not a parameter of its own: kpanic=1 is not panic= */
	prepared_append("vm append kpanic=1\n", false, NULL, a, sizeof(a));
	ck_assert_str_eq(a, "kpanic=1 panic=-1");
	/* --gdb-on-fail: a panicked kernel stays up */
	prepared_append("", true, NULL, a, sizeof(a));
	ck_assert_str_eq(a, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gdbstub");
	TCase *tc = tcase_create("gdbstub");

	tcase_add_test(tc, stub_in_argv);
	tcase_add_test(tc, crash_cmdline);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
