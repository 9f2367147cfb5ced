/* SPDX-License-Identifier: MIT */
/*
 * The guest's architecture for a run, and timeouts that know the emulator.
 * The arch comes from the kernel image's header (common/kimage.h), else from
 * the scenario's 'arch' (build.arch); it picks the runner's preset
 * (vm.arch). Timeouts, step timeouts and budgets are written as for KVM on
 * x86_64 and scaled by runner's vm_timeout_factor().
 */
#ifndef IT_ARCH_H
#define IT_ARCH_H

#include "common/err.h"
#include "scenario/scenario.h"

/*
 * Set s->vm.arch from s->vm.kernel (the image to boot) or, before the build,
 * s->build.kernel_image; without a readable image we know, from
 * s->build.arch (x86_64 when unset). An image of another arch than an
 * explicit 'arch' is -IT_EUSAGE naming both ("kernel 'K' is an x86_64
 * image, but the scenario's arch is 'aarch64'"); an arch the runner has
 * no preset for is -IT_EUSAGE too.
 */
int run_arch_pick(struct scenario *s, struct it_error *err);

/*
 * Multiply s's run timeout, step-timeout, every step's timeout and budget
 * by the factor for the resolved accelerator and s->vm.arch (or
 * $INITRD_TEST_TIMEOUT_FACTOR), said in --verbose runs; *factor gets it.
 * -IT_EUSAGE for a bad INITRD_TEST_ACCEL or INITRD_TEST_TIMEOUT_FACTOR.
 */
int run_scale_timeouts(struct scenario *s, double *factor, struct it_error *err);

#endif
