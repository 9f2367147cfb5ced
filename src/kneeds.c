// SPDX-License-Identifier: MIT
/* What a scenario needs of a kernel build tree's .config: the list, then the check. */
#include <stdio.h>
#include <string.h>

#include "builder/builder.h"
#include "common/util.h"
#include "runner/runner.h"
#include "src/kneeds.h"

#define MAX_NEEDS 8

static bool is_arm64(const struct scenario *s)
{
	return s->build.arch && !strcmp(s->build.arch, "aarch64");
}

/* The NIC driver's option for a qemu NIC model, or NULL (none, or one we do not know). */
static const struct kconfig_need *nic_need(const char *model)
{
	static const struct kconfig_need nics[] = {
	    {"CONFIG_E1000", true, "the e1000 NIC ('vm nic e1000', the default)"},
	    {"CONFIG_VIRTIO_NET", true, "the virtio-net NIC ('vm nic virtio-net-pci')"},
	};

	if (!model || !strcmp(model, "e1000"))
		return &nics[0];
	if (!strncmp(model, "virtio-net", 10))
		return &nics[1];
	return NULL;
}

int kneeds_check(const struct scenario *s, struct it_error *err)
{
	struct kconfig_need needs[MAX_NEEDS];
	const struct kconfig_need *nic;
	size_t n = 0;

	if (!s->build.kernel_tree)
		return 0;
	needs[n++] = is_arm64(s) ? (struct kconfig_need){"CONFIG_SERIAL_AMBA_PL011_CONSOLE", false,
							 "the serial console initrd-test reads "
							 "(console=ttyAMA0)"}
				 : (struct kconfig_need){"CONFIG_SERIAL_8250_CONSOLE", false,
							 "the serial console initrd-test reads "
							 "(console=ttyS0)"};
	needs[n++] = (struct kconfig_need){"CONFIG_BLK_DEV_INITRD", false,
					   "booting the initrd (initramfs support)"};
	needs[n++] =
	    (struct kconfig_need){"CONFIG_DEVTMPFS", false, "/dev in the initrd (devtmpfs)"};
	nic = nic_need(s->vm.nic_model);
	if (nic)
		needs[n++] = *nic;
	if (s->vm.agent == VM_AGENT_VIRTIO)
		needs[n++] = (struct kconfig_need){"CONFIG_VIRTIO_CONSOLE", true,
						   "the guest agent's virtio port ('agent virtio', "
						   "the default; 'agent off' does without)"};
	return builder_kconfig_check(s->build.kernel_tree, needs, n, err);
}
