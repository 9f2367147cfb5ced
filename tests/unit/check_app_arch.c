// SPDX-License-Identifier: MIT
/* The run's arch from the kernel image's header, and timeouts scaled for the emulator. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"
#include "scenario/scenario.h"
#include "src/arch.h"
#include "tests/unit/testutil.h"

#define ARM64_HEAD "tests/data/kimage/arm64-6.1.0-57.head"
#define AMD64_HEAD "tests/data/kimage/amd64-6.1.0-57.head"

static int pick(const char *arch, const char *kernel, struct scenario *s, struct it_error *err)
{
	scenario_init(s);
	s->build.arch = arch ? strdup(arch) : NULL;
	s->vm.kernel = kernel ? strdup(kernel) : NULL;
	return run_arch_pick(s, err);
}

START_TEST(test_arch_pick)
{
	struct it_error err = IT_ERROR_INIT;
	struct scenario s;

	/* The header decides; 'arch' may be left out. */
	ck_assert_int_eq(pick(NULL, ARM64_HEAD, &s, &err), 0);
	ck_assert_int_eq(s.vm.arch, VM_ARCH_AARCH64);
	scenario_release(&s);
	ck_assert_int_eq(pick("x86_64", AMD64_HEAD, &s, &err), 0);
	ck_assert_int_eq(s.vm.arch, VM_ARCH_X86_64);
	scenario_release(&s);
	/* No image yet: the scenario's arch. */
	ck_assert_int_eq(pick("aarch64", NULL, &s, &err), 0);
	ck_assert_int_eq(s.vm.arch, VM_ARCH_AARCH64);
	scenario_release(&s);
	/* A mismatch names both. */
	ck_assert_int_eq(pick("aarch64", AMD64_HEAD, &s, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "kernel '" AMD64_HEAD "' is an x86_64 image, but the scenario's "
				  "arch is 'aarch64'");
	ck_assert_str_eq(err.hint, "boot a kernel built for aarch64, or write 'arch x86_64'");
	scenario_release(&s);
	it_error_clear(&err);
	ck_assert_int_eq(pick("x86_64", ARM64_HEAD, &s, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "kernel '" ARM64_HEAD "' is an aarch64 image, but the scenario's "
				  "arch is 'x86_64'");
	scenario_release(&s);
	it_error_clear(&err);
	/* An arch without a preset cannot be booted. */
	ck_assert_int_eq(pick("riscv64", NULL, &s, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "unknown architecture 'riscv64'");
	scenario_release(&s);
}
END_TEST

START_TEST(test_scale_timeouts)
{
	struct it_error err = IT_ERROR_INIT;
	struct scenario s;
	double f = 0;

	setenv("INITRD_TEST_ACCEL", "tcg", 1);
	unsetenv(VM_TIMEOUT_FACTOR_ENV);
	scenario_init(&s);
	s.vm.arch = VM_ARCH_AARCH64;
	s.timeout_ms = 60000;
	s.step_timeout_ms = 20000;
	s.steps = calloc(2, sizeof(*s.steps));
	ck_assert_ptr_nonnull(s.steps);
	s.nsteps = 2;
	s.steps[0].timeout_ms = 10000;
	s.steps[0].budget_ms = 4000;
	ck_assert_int_eq(run_scale_timeouts(&s, &f, &err), 0);
	ck_assert(f == vm_timeout_factor(VM_ACCEL_TCG, VM_ARCH_AARCH64));
	ck_assert_int_eq(s.timeout_ms, (int64_t)(60000 * f + 0.5));
	ck_assert_int_eq(s.step_timeout_ms, (int64_t)(20000 * f + 0.5));
	ck_assert_int_eq(s.steps[0].timeout_ms, (int64_t)(10000 * f + 0.5));
	ck_assert_int_eq(s.steps[0].budget_ms, (int64_t)(4000 * f + 0.5));
	/* A send has no timeout: 0 stays 0. */
	ck_assert_int_eq(s.steps[1].timeout_ms, 0);
	ck_assert_int_eq(s.steps[1].budget_ms, 0);
	/* The override, and a bad one. */
	setenv(VM_TIMEOUT_FACTOR_ENV, "1", 1);
	s.timeout_ms = 60000;
	ck_assert_int_eq(run_scale_timeouts(&s, &f, &err), 0);
	ck_assert(f == 1.0);
	ck_assert_int_eq(s.timeout_ms, 60000);
	setenv(VM_TIMEOUT_FACTOR_ENV, "fast", 1);
	ck_assert_int_eq(run_scale_timeouts(&s, &f, &err), -IT_EUSAGE);
	ck_assert_str_eq(err.msg, "invalid INITRD_TEST_TIMEOUT_FACTOR 'fast'");
	unsetenv(VM_TIMEOUT_FACTOR_ENV);
	scenario_release(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("app_arch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_arch_pick);
	tcase_add_test(tc, test_scale_timeouts);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
