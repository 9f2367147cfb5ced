/* SPDX-License-Identifier: MIT */
/* What a scenario needs of a kernel build tree's .config, checked before anything boots. */
#ifndef IT_KNEEDS_H
#define IT_KNEEDS_H

#include "common/err.h"
#include "scenario/scenario.h"

/*
 * For a scenario whose kernel is a build tree (build.kernel_tree): check
 * its .config for what the run needs: the serial console initrd-test reads
 * (CONFIG_SERIAL_8250_CONSOLE; CONFIG_SERIAL_AMBA_PL011_CONSOLE on
 * aarch64), the initrd (CONFIG_BLK_DEV_INITRD), devtmpfs for /dev
 * (CONFIG_DEVTMPFS), the NIC's driver (CONFIG_E1000 for e1000,
 * CONFIG_VIRTIO_NET for virtio-net; =m will do) and the agent's virtio
 * console (CONFIG_VIRTIO_CONSOLE, for 'agent virtio'). The first one
 * missing is -IT_ESCENARIO naming the option and what needs it (a usage
 * error, 2; 125 under run --bisect). 0 for any other kernel.
 */
int kneeds_check(const struct scenario *s, struct it_error *err);

#endif
