#!/bin/sh
# SPDX-License-Identifier: MIT
# Lay out a Linux build tree from Debian's own files, as initrd-test's 'kernel tree DIR'
# reads one (building a kernel in CI is too slow): arch/x86/boot/bzImage is
# /boot/vmlinuz-VERSION, .config is /boot/config-VERSION, modules.builtin(.modinfo) come
# from /lib/modules/VERSION, and the crashtest module (tests/kmod/crashtest, with debug
# info) is built into drivers/misc/crashtest/ and listed in modules.order.
# Usage: tests/tools/make-ktree.sh DIR [VERSION]   (default: the newest in /lib/modules)
set -eu
dir=$1
kver=${2:-$(ls /lib/modules | sort -V | tail -n 1)}
top=$(cd "$(dirname "$0")/../.." && pwd)
for f in "/boot/vmlinuz-$kver" "/boot/config-$kver" "/lib/modules/$kver/modules.builtin"; do
	[ -r "$f" ] || {
		echo "make-ktree.sh: error: cannot read '$f'; install linux-image-$kver" >&2
		exit 2
	}
done
mkdir -p "$dir/arch/x86/boot" "$dir/drivers/misc/crashtest"
cp "/boot/vmlinuz-$kver" "$dir/arch/x86/boot/bzImage"
cp "/boot/config-$kver" "$dir/.config"
cp "/lib/modules/$kver/modules.builtin" "$dir/"
if [ -r "/lib/modules/$kver/modules.builtin.modinfo" ]; then
	cp "/lib/modules/$kver/modules.builtin.modinfo" "$dir/"
fi
"$top/tests/kmod/crashtest/build.sh" "$dir/drivers/misc/crashtest" "$kver"
echo "drivers/misc/crashtest/crashtest.ko" >"$dir/modules.order"
