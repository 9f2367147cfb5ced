// SPDX-License-Identifier: MIT
/* The run's guest architecture from the kernel image, and its timeouts scaled for the emulator. */
#include <stdio.h>
#include <string.h>

#include "common/kimage.h"
#include "common/log.h"
#include "runner/runner.h"
#include "src/arch.h"

static int arch_from_name(const char *name, enum vm_arch *out, struct it_error *err)
{
	int r = vm_arch_parse(name, out, err);

	if (r < 0)
		it_error_hint(err,
			      "the runner boots x86_64 and aarch64 guests; 'arch %s' can still "
			      "build an initrd with 'initrd-test build'",
			      name);
	return r;
}

int run_arch_pick(struct scenario *s, struct it_error *err)
{
	const char *want = s->build.arch;
	const char *kernel = s->vm.kernel ? s->vm.kernel : s->build.kernel_image;
	enum kimage_arch wanted = kimage_arch_parse(want);
	struct kimage_info ki;

	if (want && !*want)
		want = NULL;
	if (!kernel || kimage_detect_file(kernel, &ki) < 0)
		return want ? arch_from_name(want, &s->vm.arch, err) : 0;
	if (want && ki.arch != wanted) {
		it_error_set(err, -IT_EUSAGE,
			     "kernel '%s' is an %s image, but the scenario's arch is '%s'", kernel,
			     kimage_arch_name(ki.arch), want);
		it_error_hint(err, "boot a kernel built for %s, or write 'arch %s'", want,
			      kimage_arch_name(ki.arch));
		return -IT_EUSAGE;
	}
	if (ki.wrap == KIMAGE_ZBOOT) {
		it_error_set(err, -IT_EUSAGE,
			     "kernel '%s' is an EFI zboot image, which qemu -kernel "
			     "cannot boot",
			     kernel);
		it_error_hint(err,
			      "give the Image inside it (the vmlinuz of a kernel built without "
			      "CONFIG_EFI_ZBOOT)");
		return -IT_EUSAGE;
	}
	return arch_from_name(kimage_arch_name(ki.arch), &s->vm.arch, err);
}

static int64_t scaled(int64_t ms, double f)
{
	return ms > 0 ? (int64_t)((double)ms * f + 0.5) : ms;
}

int run_scale_timeouts(struct scenario *s, double *factor, struct it_error *err)
{
	enum vm_accel accel;
	char desc[160];
	double f;
	int r = vm_accel_resolve(s->vm.accel, NULL, &accel, desc, sizeof(desc), err);

	if (r < 0)
		return r;
	f = vm_timeout_factor(accel, s->vm.arch);
	r = vm_timeout_factor_env(&f, err);
	if (r < 0)
		return r;
	log_verbose("timeouts x%.2f: %s, %s guest%s", f, desc, vm_arch_name(s->vm.arch),
		    r ? " (" VM_TIMEOUT_FACTOR_ENV ")" : "");
	*factor = f;
	s->timeout_ms = scaled(s->timeout_ms, f);
	s->step_timeout_ms = scaled(s->step_timeout_ms, f);
	for (size_t i = 0; i < s->nsteps; i++) {
		s->steps[i].timeout_ms = scaled(s->steps[i].timeout_ms, f);
		s->steps[i].budget_ms = scaled(s->steps[i].budget_ms, f);
	}
	return 0;
}
