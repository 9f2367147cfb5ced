#!/bin/sh
# SPDX-License-Identifier: MIT
# Repackage Debian's busybox-static (arm64, or amd64 for the benchmark's x86_64 peer, unpacked
# by ci/fetch-arm64-data.sh in ROOT) as a small signed APK repository for ARCH (aarch64 by
# default) in DEST: busybox with its applet links, an inittab, rcS (mounts, mdev as the
# hotplug helper, modalias coldplug, udhcpc), udhcpc's script, and a shell on the serial
# console (ttyAMA0; ttyS0 on x86_64). Signed with the test key; reruns are a no-op.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=${1:?usage: mkbusyboxrepo.sh ROOT DEST [ARCH]}
DEST=${2:?usage: mkbusyboxrepo.sh ROOT DEST [ARCH]}
ARCH=${3:-aarch64}
KEY="$TOP/tests/data/testkeys/test@initrd-test-00000000.rsa"
FILES="$TOP/tests/data/aarch64/busybox-files"
BB="$ROOT/bin/busybox"
[ -f "$BB" ] || {
	echo "mkbusyboxrepo: error: no '$BB': run ci/fetch-arm64-data.sh first" >&2
	exit 1
}
apk="$DEST/$ARCH/busybox-1.35.0-r0.apk"
if [ -f "$DEST/$ARCH/APKINDEX.tar.gz" ] && [ -f "$apk" ] &&
	[ -z "$(find "$BB" "$FILES" "$0" -newer "$apk")" ]; then
	echo "$DEST"
	exit 0
fi
stage="$DEST/stage"
rm -rf "$stage" "${DEST:?}/$ARCH"
mkdir -p "$stage/bin" "$DEST/$ARCH"
cp "$BB" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"
cp -R "$FILES/." "$stage/"
mkdir -p "$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp"
if [ "$ARCH" = x86_64 ]; then
	sed -i 's/ttyAMA0/ttyS0/g' "$stage/etc/inittab"
fi
# The applets this image uses, as 'busybox --install -s' would link them.
while read -r path; do
	case $path in '' | '#'*) continue ;; esac
	mkdir -p "$stage/${path%/*}"
	ln -sf /bin/busybox "$stage/$path"
done <"$TOP/tests/data/aarch64/applets"
python3 "$TOP/tests/tools/mkapk.py" pkg --key "$KEY" --root "$stage" \
	--set pkgname=busybox --set pkgver=1.35.0-r0 --set "arch=$ARCH" \
	--set "pkgdesc=Debian's busybox-static, repackaged for tests" \
	--set license=GPL-2.0-only --set origin=busybox "$apk"
python3 "$TOP/tests/tools/mkapk.py" index --key "$KEY" "$DEST/$ARCH/APKINDEX.tar.gz" "$apk"
rm -rf "$stage"
echo "$DEST"
