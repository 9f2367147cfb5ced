#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages initrd-test needs to build, test, lint and demo; skips apt when all are present.
set -eu

PKGS="build-essential pkg-config libarchive-dev libcurl4-openssl-dev libpcre2-dev check
libssl-dev zlib1g-dev libzstd-dev libjansson-dev qemu-system-x86 qemu-system-arm qemu-utils linux-image-amd64 busybox cpio
zstd xz-utils python3 python3-pexpect python3-lxml python3-yaml kmod openssl clang tmux
valgrind clang-tidy clang-format cppcheck shellcheck musl-tools linux-headers-amd64 binutils
scdoc mandoc man-db python3-jsonschema zsh
debhelper lintian"
# gdb: tests/e2e/t_gdb.sh attaches to qemu's gdb stub (boot --gdb, run --gdb-on-fail).
PKGS="$PKGS gdb"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all Debian packages present"
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
echo "install-deps: installing$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
