#!/bin/sh
# SPDX-License-Identifier: MIT
# Repackage Debian's arm64 busybox-static (unpacked by ci/fetch-arm64-data.sh in ROOT) as a
# small signed aarch64 APK repository in DEST: busybox with its applet links, an inittab,
# rcS (mounts, mdev as the hotplug helper, modalias coldplug, udhcpc), udhcpc's script, and
# a shell on ttyAMA0. Signed with the test key; reruns with the same inputs are a no-op.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=${1:?usage: mkarm64repo.sh ROOT DEST}
DEST=${2:?usage: mkarm64repo.sh ROOT DEST}
KEY="$TOP/tests/data/testkeys/test@initrd-test-00000000.rsa"
FILES="$TOP/tests/data/aarch64/busybox-files"
BB="$ROOT/bin/busybox"
[ -f "$BB" ] || {
	echo "mkarm64repo: error: no '$BB': run ci/fetch-arm64-data.sh first" >&2
	exit 1
}
apk="$DEST/aarch64/busybox-1.35.0-r0.apk"
if [ -f "$DEST/aarch64/APKINDEX.tar.gz" ] && [ "$apk" -nt "$BB" ] &&
	[ -z "$(find "$FILES" "$0" -newer "$apk")" ]; then
	echo "$DEST"
	exit 0
fi
stage="$DEST/stage"
rm -rf "$stage" "$DEST/aarch64"
mkdir -p "$stage/bin" "$DEST/aarch64"
cp "$BB" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"
cp -R "$FILES/." "$stage/"
mkdir -p "$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp"
# The applets this image uses, as 'busybox --install -s' would link them.
while read -r path; do
	case $path in '' | '#'*) continue ;; esac
	mkdir -p "$stage/${path%/*}"
	ln -sf /bin/busybox "$stage/$path"
done <"$TOP/tests/data/aarch64/applets"
python3 "$TOP/tests/tools/mkapk.py" pkg --key "$KEY" --root "$stage" \
	--set pkgname=busybox --set pkgver=1.35.0-r0 --set arch=aarch64 \
	--set "pkgdesc=Debian's arm64 busybox-static, repackaged for tests" \
	--set license=GPL-2.0-only --set origin=busybox "$apk"
python3 "$TOP/tests/tools/mkapk.py" index --key "$KEY" "$DEST/aarch64/APKINDEX.tar.gz" "$apk"
rm -rf "$stage"
echo "$DEST"
