#!/bin/sh
# SPDX-License-Identifier: MIT
# Make tests/data/alpine-base.manifest: what Alpine's own apk 2.14 (from the shared
# packages, run through its musl loader) gives for 'apk --initdb add alpine-base' from
# tests/data/alpine-3.19.1, as tests/tools/manifest.py lists it. Needs root (apk makes
# device nodes and chroots into the tree for the busybox trigger) and
# ../shared/alpine-3.19.1 (ALPINE_SHARED).
set -eu
cd "$(dirname "$0")/../.."
S="${ALPINE_SHARED:-../shared/alpine-3.19.1}"
W=$(mktemp -d /tmp/it-apk-manifest.XXXXXX)
trap 'rm -rf "$W"' EXIT
. bench/apk-runtime.sh
apk_runtime "$S" "$W" >&2 || {
	echo "apk-manifest: error: no apk runtime from '$S' (set ALPINE_SHARED)" >&2
	exit 1
}
# apk stamps scripts.tar with SOURCE_DATE_EPOCH (else the time it runs): t_build_manifest
# builds with the same one.
SOURCE_DATE_EPOCH=1700000000 "$W/apk" -X "$(pwd)/tests/data/alpine-3.19.1" --initdb \
	add alpine-base >&2
python3 tests/tools/manifest.py "$W/apkroot" >tests/data/alpine-base.manifest
echo "wrote tests/data/alpine-base.manifest ($(wc -l <tests/data/alpine-base.manifest) paths)" >&2
