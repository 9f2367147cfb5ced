#!/bin/sh
# SPDX-License-Identifier: MIT
# Resolve time for a 50-package world on the 17,587-package community index (with the
# 100-package main repository its dependencies need), against apk 2.14 resolving the same
# world on the same indexes (its 'add --simulate WORLD' minus 'add --simulate' of nothing, which
# loads the same indexes), wall time, the fastest of RESOLVE_RUNS (default 15) each; ours is the
# median of as many resolutions in one process. The plans are compared too.
set -eu
cd "$(dirname "$0")/.."
RUNS=${RESOLVE_RUNS:-15}
WORLD=${RESOLVE_WORLD:-50}
SHARED=${ALPINE_SHARED:-../shared/alpine-3.19.1}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
TIME=/usr/bin/time
community="$SHARED/indexes/community-APKINDEX.tar.gz"
main="$SHARED/apks/x86_64/APKINDEX.tar.gz"

[ -x "$TIME" ] || { echo "resolve: $TIME missing (apt-get install time)" >&2; exit 1; }
if [ ! -f "$community" ] || [ ! -f "$main" ]; then
	echo "resolve: skipped, no $community or $main (set ALPINE_SHARED to the alpine-3.19.1 folder)"
	exit 0
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-resolve.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
trap 'exit 130' INT TERM
now() { date +%s.%N; }
median() {
	sort -n | awk '{ a[NR] = $1 } END { printf "%.3f\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

make -s -j2 build/libbuilder.a build/libcommon.a
mkdir -p build/bench
# shellcheck disable=SC2046
"$CC" -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. -o build/bench/resolve \
	bench/resolve.c build/libbuilder.a build/libcommon.a \
	$("$PKG_CONFIG" --libs libarchive libcurl libcrypto zlib libzstd)
# The world: community names in name order, each kept while the world still resolves.
build/bench/resolve -n "$RUNS" -p "$WORLD" "$SHARED/keys" "$W/world" "$main" "$community" \
	>"$W/ours"
sed -n 's/^plan //p' "$W/ours" | sort >"$W/ours.plan"
grep -v '^plan ' "$W/ours"
echo "  world: $(tr '\n' ' ' <"$W/world" | cut -c1-100)..."

# apk 2.14 from the shared packages, through musl's loader (see $SHARED/README.md).
. bench/apk-runtime.sh
apk_runtime "$SHARED" "$W" || exit 0
mkdir -p "$W/community/x86_64"
ln -s "$(cd "$(dirname "$community")" && pwd)/$(basename "$community")" \
	"$W/community/x86_64/APKINDEX.tar.gz"
mainrepo=$(cd "$SHARED/apks" && pwd)
mv "$W/apk" "$W/apk.bare"
printf '#!/bin/sh\nexec "%s" --arch x86_64 -X "%s" -X "%s" "$@"\n' "$W/apk.bare" "$mainrepo" \
	"$W/community" >"$W/apk"
chmod +x "$W/apk"
"$W/apk" --initdb add >/dev/null 2>&1 || true
# shellcheck disable=SC2046 # one argument per world entry
"$W/apk" add --simulate $(cat "$W/world") >"$W/apk.out" 2>&1 || {
	echo "  apk: skipped, it cannot resolve the world: $(tail -n 1 "$W/apk.out")"
	exit 0
}
sed -n 's/^([0-9]*\/[0-9]*) Installing \([^ ]*\) (\([^)]*\)).*/\1-\2/p' "$W/apk.out" | sort \
	>"$W/apk.plan"
if cmp -s "$W/ours.plan" "$W/apk.plan"; then
	echo "  plans: the same $(wc -l <"$W/apk.plan") packages as apk 2.14"
else
	echo "  plans: DIFFER from apk 2.14's ($(wc -l <"$W/apk.plan") packages):"
	diff "$W/apk.plan" "$W/ours.plan" | sed 's/^/    /' | head -n 20
fi
# Wall time of each, one after the other, RUNS times: the medians, and their difference.
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	t=$(now)
	# shellcheck disable=SC2046
	"$W/apk" add --simulate $(cat "$W/world") >/dev/null 2>&1
	awk -v s="$t" -v e="$(now)" 'BEGIN { printf "%.6f\n", e - s }' >>"$W/apk_add"
	t=$(now)
	"$W/apk" add --simulate >/dev/null 2>&1
	awk -v s="$t" -v e="$(now)" 'BEGIN { printf "%.6f\n", e - s }' >>"$W/apk_load"
done
# The fastest of the runs: on a shared machine the noise only ever adds time.
aa=$(sort -n "$W/apk_add" | head -n 1)
al=$(sort -n "$W/apk_load" | head -n 1)
ours=$(sed -n 's/^  median of [0-9]* runs *\([0-9.]*\) ms/\1/p' "$W/ours")
load=$(sed -n 's/^  keys and indexes loaded in \([0-9.]*\) ms/\1/p' "$W/ours")
awk -v a="$aa" -v l="$al" -v o="$ours" -v ld="$load" 'BEGIN {
	d = (a - l) * 1000
	printf "  apk 2.14: add --simulate WORLD %.0f ms, add --simulate (nothing: the same indexes loaded) %.0f ms: resolving %.1f ms (wall, fastest of the runs)\n", a * 1000, l * 1000, d
	if (d > 0.5)
		printf "  ratio: initrd-test resolves the world in %.3fx apk'"'"'s time (%.2f ms against %.1f ms)\n", o / d, o, d
	else
		printf "  ratio: apk'"'"'s resolve time is within the noise of its start (%.1f ms); initrd-test: %.2f ms\n", d, o
	printf "  ratio, loading the indexes and resolving: initrd-test %.0f ms, %.2fx apk'"'"'s add --simulate (%.0f ms, its process start included)\n", ld + o, (ld + o) / (a * 1000), a * 1000
}'
