# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Eight builds at once into one empty cache, over loopback HTTP: all succeed with the same
# bytes; the cache ends with each package of the plan once, whole, and no temp file; a ninth
# build from that cache alone gives the same bytes. Then the index changes on the server
# and eight builds revalidate it at once.
. "$TOP/tests/e2e/lib.sh"

trap stop_httpd EXIT
# A copy of the repository, so the index can change under the builds.
mkdir -p "$T/www"
cp -r "$REPO" "$T/www/alpine"
start_httpd "$T/www"
url="http://127.0.0.1:$HTTPD_PORT/alpine"
kernel=$(host_kernel)
CACHE="$T/cache"
mkdir "$CACHE"
N=8

# many WAVE: N builds at once against $CACHE, outputs in $T/WAVE-I; all must exit 0.
many() {
	pids=""
	i=1
	while [ $i -le $N ]; do
		"$IT" build -s "$TOP/scenarios/networking" --repo "$url" --kernel "$kernel" \
			--cache-dir "$CACHE" -o "$T/$1-$i/initrd.img" >"$T/$1-$i.out" 2>"$T/$1-$i.err" &
		pids="$pids $!"
		i=$((i + 1))
	done
	i=1
	bad=""
	for pid in $pids; do
		if ! wait "$pid"; then
			bad="$bad $i"
			sed "s/^/    $1-$i: /" "$T/$1-$i.err"
		fi
		i=$((i + 1))
	done
	[ -z "$bad" ] || fail "$1: builds$bad of $N failed"
	# One initrd, N times; each with its kernel.
	n=$(sha256sum "$T/$1"-*/initrd.img | cut -d' ' -f1 | sort -u | wc -l)
	[ "$n" -eq 1 ] || fail "$1: $n different initrds from $N builds"
	for k in "$T/$1"-*/vmlinuz; do
		cmp -s "$kernel" "$k" || fail "$1: $k differs from $kernel"
	done
	assert_no_tmp "$1" "$CACHE" "$T/$1"-*
	echo "  $1: $N builds, one initrd"
}

# Everything in the cache is whole and expected: each package of the plan once, byte for
# byte the served file; the index as served, with a sidecar that describes it.
check_cache() {
	"$IT" resolve -s "$TOP/scenarios/networking" --repo "$url" --cache-dir "$CACHE" \
		--offline >"$T/plan" 2>"$T/plan.err" || {
		cat "$T/plan.err"
		fail "$1: cannot resolve from the cache"
	}
	plan=$(grep " $url\$" "$T/plan" | cut -d' ' -f1)
	[ "$(echo "$plan" | wc -l)" -eq 25 ] || fail "$1: the plan has not 25 packages"
	for p in $plan; do
		n=$(find "$CACHE/packages" -name "$p.*.apk" | wc -l)
		[ "$n" -eq 1 ] || fail "$1: $p is $n times in the cache"
		cmp -s "$(find "$CACHE/packages" -name "$p.*.apk")" "$T/www/alpine/x86_64/$p.apk" ||
			fail "$1: $p in the cache differs from the served file"
	done
	n=$(find "$CACHE/packages" -type f | wc -l)
	[ "$n" -eq 25 ] || fail "$1: $n files in $CACHE/packages, expected 25"
	idx=$(find "$CACHE/indexes" -name APKINDEX.tar.gz)
	[ "$(echo "$idx" | wc -l)" -eq 1 ] || fail "$1: not one cached index: $idx"
	cmp -s "$idx" "$T/www/alpine/x86_64/APKINDEX.tar.gz" || fail "$1: the cached index differs"
	grep -qx "sha256 $(sha256sum "$idx" | cut -d' ' -f1)" "$idx.meta" ||
		fail "$1: the index's sidecar does not describe it"
	n=$(find "$CACHE" -type f | wc -l)
	[ "$n" -eq 27 ] || fail "$1: $n files in the cache, expected 25 packages, index, sidecar"
}

echo "== $N builds at once into an empty cache"
many cold
check_cache cold

echo "== a ninth, offline, with the server gone"
stop_httpd
"$IT" -q build -s "$TOP/scenarios/networking" --repo "$url" --kernel "$kernel" \
	--cache-dir "$CACHE" --offline -o "$T/offline/initrd.img" 2>"$T/offline.err" || {
	cat "$T/offline.err"
	fail "the offline build from the shared cache failed"
}
cmp "$T/cold-1/initrd.img" "$T/offline/initrd.img" || fail "the offline build differs"

echo "== the index changes on the server: $N builds revalidate it at once"
# A new mtime is a new ETag and Last-Modified for busybox httpd: every build fetches it again.
touch -d '+1 hour' "$T/www/alpine/x86_64/APKINDEX.tar.gz"
start_httpd "$T/www"
url="http://127.0.0.1:$HTTPD_PORT/alpine"
many revalidate
# The first to ask gets the new index; later ones may get a 304 for what it stored.
n=$(grep -l '^fetched APKINDEX' "$T"/revalidate-*.err | wc -l)
[ "$n" -ge 1 ] || fail "no build fetched the changed index"
echo "  $n of $N fetched the new index, the others revalidated what was stored"
grep -q "^etag \|^last-modified " "$CACHE"/indexes/*/APKINDEX.tar.gz.meta ||
	fail "the sidecar has no validator"
check_cache revalidate
cmp "$T/cold-1/initrd.img" "$T/revalidate-1/initrd.img" || fail "the builds after revalidation differ"
echo "ok"
