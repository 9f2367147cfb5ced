// SPDX-License-Identifier: MIT
/* The architecture presets: qemu binary, machine, CPU, console and NIC per guest arch; the
 * timeout factors per accelerator and arch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "runner/runner.h"

/*
 * cortex-a57, not max: under TCG, max emulates pointer authentication (QARMA) on every
 * return, and Debian's 6.1 arm64 kernel reached its root-mount panic in 5.0 s with
 * -cpu max against 0.7 s with cortex-a57 (qemu 7.2 on this host, docs/architectures.md).
 */
static const struct vm_preset presets[] = {
    [VM_ARCH_X86_64] = {"x86_64", VM_QEMU_BINARY, "pc", NULL, "ttyS0", "e1000", "qemu-system-x86"},
    [VM_ARCH_AARCH64] = {"aarch64", "qemu-system-aarch64", "virt", "cortex-a57", "ttyAMA0", "e1000",
			 "qemu-system-arm"},
};

const struct vm_preset *vm_preset(enum vm_arch a)
{
	return (size_t)a < ARRAY_SIZE(presets) ? &presets[a] : &presets[VM_ARCH_X86_64];
}

const struct vm_preset *vm_preset_of_binary(const char *binary)
{
	for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
		if (!strcmp(binary, presets[i].binary))
			return &presets[i];
	return NULL;
}

const char *vm_arch_name(enum vm_arch a)
{
	return vm_preset(a)->arch;
}

int vm_arch_parse(const char *s, enum vm_arch *out, struct it_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(presets); i++) {
		if (!strcmp(s, presets[i].arch)) {
			*out = (enum vm_arch)i;
			return 0;
		}
	}
	it_error_set(err, -IT_EUSAGE, "unknown architecture '%s'", s);
	it_error_hint(err, "use x86_64 or aarch64");
	return -IT_EUSAGE;
}

/*
 * Timeouts and budgets are written as for KVM on x86_64 and multiplied by
 * the factor of the accelerator and the guest's arch. Measured on this
 * (x86_64) host, boot to the DHCP lease under TCG (make bench, bench/arch.sh):
 * docs/architectures.md has the figures. KVM cannot run here, so TCG's
 * factor against KVM is the usual order of magnitude for a boot, not a
 * measurement; aarch64's comes from TCG x86_64 times the measured ratio.
 */
static const struct {
	enum vm_accel accel;
	enum vm_arch arch;
	double factor;
} factors[] = {
    {VM_ACCEL_KVM, VM_ARCH_X86_64, 1.0},
    {VM_ACCEL_KVM, VM_ARCH_AARCH64, 1.0}, /* an arm64 host */
    {VM_ACCEL_TCG, VM_ARCH_X86_64, VM_TCG_FACTOR},
    {VM_ACCEL_TCG, VM_ARCH_AARCH64, VM_TCG_FACTOR *VM_AARCH64_TCG_RATIO},
};

double vm_timeout_factor(enum vm_accel accel, enum vm_arch arch)
{
	for (size_t i = 0; i < ARRAY_SIZE(factors); i++)
		if (factors[i].accel == accel && factors[i].arch == arch)
			return factors[i].factor;
	return 1.0;
}

int vm_timeout_factor_env(double *out, struct it_error *err)
{
	const char *s = getenv(VM_TIMEOUT_FACTOR_ENV);
	char *end = NULL;
	double f;

	if (!s || !*s)
		return 0;
	errno = 0;
	f = strtod(s, &end);
	if (errno || end == s || *end || !(f >= 0.1 && f <= 100)) {
		it_error_set(err, -IT_EUSAGE, "invalid %s '%s'", VM_TIMEOUT_FACTOR_ENV, s);
		it_error_hint(err, "give a number from 0.1 to 100, e.g. 2.5");
		return -IT_EUSAGE;
	}
	*out = f;
	return 1;
}
