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
mkdir -p "$W/rt" "$W/root"
for p in apk-tools musl libcrypto3 libssl3 zlib; do
	f=$(ls "$S/apks/x86_64/$p"-[0-9]*.apk | head -n 1)
	tar -xzf "$f" -C "$W/rt" --warning=no-unknown-keyword 2>/dev/null
done
# apk stamps scripts.tar with SOURCE_DATE_EPOCH (else the time it runs): t_build_manifest
# builds with the same one.
SOURCE_DATE_EPOCH=1700000000 "$W/rt/lib/ld-musl-x86_64.so.1" --library-path "$W/rt/lib:$W/rt/usr/lib" "$W/rt/sbin/apk" \
	--root "$W/root" --keys-dir "$(cd "$S/keys" && pwd)" --repositories-file /dev/null \
	--no-network --no-cache -X "$(pwd)/tests/data/alpine-3.19.1" --initdb add alpine-base >&2
python3 tests/tools/manifest.py "$W/root" >tests/data/alpine-base.manifest
echo "wrote tests/data/alpine-base.manifest ($(wc -l <tests/data/alpine-base.manifest) paths)" >&2
