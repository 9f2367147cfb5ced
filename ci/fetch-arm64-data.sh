#!/bin/sh
# SPDX-License-Identifier: MIT
# Get Debian's arm64 kernel (linux-image-arm64's dependency) and arm64 busybox-static (and
# amd64 busybox-static in DEST/amd64, the benchmark's x86_64 peer) from Debian's archive
# with apt-get download, unpacked (not installed) into DEST with modules.dep made by depmod; reruns are a no-op.
set -eu
cd "$(dirname "$0")/.."
DEST="${1:-build/arm64}"
if [ -f "$DEST/.done" ]; then
	echo "$DEST"
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	$SUDO dpkg --add-architecture arm64
	$SUDO apt-get update -qq
fi
# The versioned kernel package that linux-image-arm64 depends on.
kernel_package() {
	apt-cache depends linux-image-arm64:arm64 |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\).*/\1/p' | head -n 1
}
kpkg=$(kernel_package 2>/dev/null)
if [ -z "$kpkg" ]; then
	$SUDO apt-get update -qq
	kpkg=$(kernel_package)
fi
if [ -z "$kpkg" ]; then
	echo "fetch-arm64-data: error: no arm64 kernel package behind 'linux-image-arm64'" >&2
	exit 1
fi
mkdir -p "$DEST/debs" "$DEST/root"
mkdir -p "$DEST/debs-amd64" "$DEST/amd64"
(cd "$DEST/debs" && apt-get download -q "$kpkg:arm64" busybox-static:arm64 >/dev/null)
(cd "$DEST/debs-amd64" && apt-get download -q busybox-static:amd64 >/dev/null)
for deb in "$DEST"/debs/*.deb; do
	dpkg-deb -x "$deb" "$DEST/root"
done
dpkg-deb -x "$DEST"/debs-amd64/busybox-static_*.deb "$DEST/amd64"
# The package leaves modules.dep to its postinst; kmod's depmod reads arm64 modules too.
for kdir in "$DEST"/root/lib/modules/*; do
	/sbin/depmod -b "$DEST/root" "${kdir##*/}"
done
# A name that does not change with Debian's kernel ABI number, for scenarios to give.
kimg=$(find "$DEST/root/boot" -name 'vmlinuz-*' | sort -V | tail -n 1)
ln -sfn "root/boot/${kimg##*/}" "$DEST/vmlinuz"
touch "$DEST/.done"
echo "$DEST"
