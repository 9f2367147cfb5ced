/* SPDX-License-Identifier: MIT */
/*
 * Public interface of the runner: start a VM (qemu, or crosvm) with its
 * serial console on a pty, and drive one poll() loop that never stops
 * draining that console. The runner knows nothing of APK or of scenarios:
 * it is handed a kernel, an initrd and settings, and reports console bytes
 * to a callback.
 */
#ifndef IT_RUNNER_H
#define IT_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/strlist.h"

enum vm_backend { VM_BACKEND_QEMU = 0, VM_BACKEND_CROSVM };
enum vm_accel { VM_ACCEL_AUTO = 0, VM_ACCEL_TCG, VM_ACCEL_KVM };

struct vm_config {
	enum vm_backend backend;
	enum vm_accel accel;      /* AUTO: KVM when /dev/kvm is usable; INITRD_TEST_ACCEL overrides */
	char *binary;             /* NULL: qemu-system-x86_64 / crosvm from PATH */
	char *kernel;             /* bzImage path */
	char *initrd;             /* initrd path */
	char *append;             /* extra kernel command line, after "console=ttyS0" */
	long memory_mib;          /* 0: 512 */
	long cpus;                /* 0: 1 */
	char *machine;            /* "pc" (default), "q35", "microvm" */
	char *nic_model;          /* "e1000" (default); "none" for no NIC */
	bool nic_restrict;        /* restrict=on: nothing leaves qemu (default true) */
	struct strlist extra_args;   /* appended to the backend's command line */
};

void vm_config_init(struct vm_config *c);
void vm_config_release(struct vm_config *c);

#endif
