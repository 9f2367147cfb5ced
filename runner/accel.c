// SPDX-License-Identifier: MIT
/* Choose the accelerator: INITRD_TEST_ACCEL, then the config, then /dev/kvm for AUTO. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/runner.h"

#define KVM_DEVICE "/dev/kvm"

int vm_accel_resolve(enum vm_accel configured, const char *kvm_dev, enum vm_accel *out, char *desc,
		     size_t descsz, struct it_error *err)
{
	const char *env = getenv(VM_ACCEL_ENV);
	const char *source = "configured";
	enum vm_accel want = configured;
	int fd, r;

	if (!kvm_dev)
		kvm_dev = KVM_DEVICE;
	if (env && *env) {
		r = vm_accel_parse(env, &want, NULL);
		if (r < 0) {
			it_error_set(err, -IT_EUSAGE, "invalid %s '%s'", VM_ACCEL_ENV, env);
			it_error_hint(err, "set %s to tcg, kvm or auto", VM_ACCEL_ENV);
			return -IT_EUSAGE;
		}
		source = VM_ACCEL_ENV;
	}
	if (want != VM_ACCEL_AUTO) {
		*out = want;
		if (desc && descsz)
			snprintf(desc, descsz, "%s (%s)", vm_accel_name(want), source);
		return 0;
	}
	/* Read-write, as qemu opens it: a readable-only /dev/kvm is of no use. */
	fd = open(kvm_dev, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		*out = VM_ACCEL_KVM;
		if (desc && descsz)
			snprintf(desc, descsz, "kvm (auto: %s usable)", kvm_dev);
		return 0;
	}
	*out = VM_ACCEL_TCG;
	if (desc && descsz)
		snprintf(desc, descsz, "tcg (auto: cannot open '%s': %s)", kvm_dev,
			 strerror(errno));
	return 0;
}
