#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the crashtest module (with debug info) against a kernel's headers into OUTDIR.
# Usage: tests/kmod/crashtest/build.sh OUTDIR [KERNEL_VERSION]   (default: the newest in /lib/modules)
set -eu
out=$1
kver=${2:-$(ls /lib/modules | sort -V | tail -n 1)}
kdir=/lib/modules/$kver/build
[ -d "$kdir" ] || {
	echo "crashtest/build.sh: error: no headers in '$kdir'; install linux-headers-$kver (ci/install-deps.sh)" >&2
	exit 2
}
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
cp "$src/crashtest.c" "$src/Kbuild" "$out/"
# Our own make's variables (O=, CC=clang, LDFLAGS=... from 'make asan') must not reach kbuild.
env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL make -s -C "$kdir" M="$(cd "$out" && pwd)" modules >"$out/build.log" 2>&1 || {
	echo "crashtest/build.sh: error: the module did not build; see $out/build.log" >&2
	exit 1
}
