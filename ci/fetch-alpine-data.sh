#!/bin/sh
# SPDX-License-Identifier: MIT
# Get the full 100-package alpine-standard-3.19.1 x86_64 repository (and the community index
# used by benchmarks) into DEST, byte-identical to the official ISO: from ../shared when present
# (offline), else from the ISO on Alpine's mirror. Checked against committed SHA-256 sums.
set -eu
cd "$(dirname "$0")/.."
DEST="${1:-build/alpine-3.19.1}"
SHARED="${ALPINE_SHARED:-../shared/alpine-3.19.1}"
MIRROR="${ALPINE_MIRROR:-https://dl-cdn.alpinelinux.org/alpine}"
ISO="alpine-standard-3.19.1-x86_64.iso"

mkdir -p "$DEST/apks/x86_64" "$DEST/indexes"
if [ -d "$SHARED/apks/x86_64" ]; then
	cp "$SHARED"/apks/x86_64/* "$DEST/apks/x86_64/"
	cp "$SHARED"/indexes/* "$DEST/indexes/" 2>/dev/null || true
else
	echo "fetch-alpine-data: no $SHARED; downloading $ISO from $MIRROR" >&2
	tmp="$DEST/$ISO.part"
	curl -fL --retry 3 -o "$tmp" "$MIRROR/v3.19/releases/x86_64/$ISO"
	# libarchive reads ISO 9660 images
	bsdtar -xf "$tmp" -C "$DEST/apks/x86_64" --strip-components 2 'apks/x86_64/*'
	rm -f "$tmp"
	echo "fetch-alpine-data: the community index is not on the ISO; benchmarks that need it" \
		"use $SHARED/indexes or skip with a message" >&2
fi
(cd "$DEST/apks/x86_64" && sha256sum -c --quiet "$OLDPWD/tests/data/alpine-3.19.1-repo.sha256")
if [ -f "$DEST/indexes/community-APKINDEX.tar.gz" ]; then
	(cd "$DEST/indexes" && sha256sum -c --quiet "$OLDPWD/tests/data/alpine-3.19.1-indexes.sha256")
fi
echo "$DEST"
