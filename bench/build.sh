#!/bin/sh
# SPDX-License-Identifier: MIT
# Build speed and memory: initrd-test against the manual recipe (tar, ln, cpio | gzip) on the same
# packages and kernel module, warm and cold (loopback HTTP); index parse rate against apk's own.
set -eu
cd "$(dirname "$0")/.."
IT=./initrd-test
RUNS=${BUILD_RUNS:-5}
INDEX_RUNS=${INDEX_RUNS:-10}
REPO=tests/data/alpine-3.19.1
SCENARIO=scenarios/networking
SHARED=${ALPINE_SHARED:-../shared/alpine-3.19.1}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
TIME=/usr/bin/time

[ -x "$IT" ] || { echo "build: $IT missing (make initrd-test)" >&2; exit 1; }
[ -x "$TIME" ] || { echo "build: $TIME missing (apt-get install time)" >&2; exit 1; }
for tool in busybox cpio gzip; do
	command -v "$tool" >/dev/null || { echo "build: $tool missing" >&2; exit 1; }
done
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "build: no kernel in /boot" >&2; exit 1; }
kver=${kernel#/boot/vmlinuz-}
e1000=kernel/drivers/net/ethernet/intel/e1000/e1000.ko

W=$(mktemp -d "${TMPDIR:-/tmp}/bench-build.XXXXXX")
httpd=""
trap '[ -z "$httpd" ] || kill "$httpd" 2>/dev/null; rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.3f\n", e - s }'; }
median() {
	sort -n | awk '{ a[NR] = $1 } END { printf "%.3f\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# The plan initrd-test installs; the manual recipe unpacks the same packages.
$IT -q resolve -s "$SCENARIO" --repo "$REPO" --cache-dir "$W/cache" |
	awk 'NF >= 2 && $1 ~ /-[0-9]/ { print $1 }' >"$W/plan"
npkgs=$(wc -l <"$W/plan")

# The manual recipe, as a person would script it: what the networking scenario declares.
cat >"$W/manual.sh" <<'EOS'
set -eu
pkgs=$1 plan=$2 kver=$3 e1000=$4 root=$5 out=$6
step=${7:-all}
times=${MANUAL_TIMES:-/dev/null}
mark() { echo "$1 $(date +%s.%N)" >>"$times"; }
if [ "$step" != pack ]; then
	mark start
	mkdir -p "$root"
	while read -r p; do
		tar -xzf "$pkgs/$p.apk" -C "$root" --warning=no-unknown-keyword
	done <"$plan"
	rm -f "$root"/.PKGINFO "$root"/.SIGN.* "$root"/.pre-* "$root"/.post-* "$root"/.trigger
	mark extract
	cd "$root"
	for s in sysinit:hwdrivers sysinit:mdev boot:devfs boot:procfs boot:sysfs boot:hostname \
		default:networking; do
		mkdir -p "etc/runlevels/${s%%:*}"
		ln -sf "/etc/init.d/${s#*:}" "etc/runlevels/${s%%:*}/${s#*:}"
	done
	echo ttyS0 >>etc/securetty
	echo 'ttyS0::respawn:/sbin/getty -L 0 ttyS0 vt100' >>etc/inittab
	printf 'auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n' \
		>etc/network/interfaces
	echo alpine-test >etc/hostname
	sed -i 's/^root:[^:]*:/root::/' etc/shadow
	ln -sf /sbin/init init
	[ -e dev/console ] || mknod -m 600 dev/console c 5 1 2>/dev/null || true
	m="lib/modules/$kver"
	mkdir -p "$m/${e1000%/*}"
	cp "/lib/modules/$kver/$e1000" "$m/$e1000"
	grep "^$e1000:" "/lib/modules/$kver/modules.dep" >"$m/modules.dep"
	mark configure
	# One ln per applet: sh has no cheaper way; directories made only when missing.
	while read -r a; do
		[ -e "$a" ] || [ -L "$a" ] || {
			[ -d "${a%/*}" ] || mkdir -p "${a%/*}"
			ln -s /bin/busybox "$a"
		}
	done <etc/busybox-paths.d/busybox
	mark applets
fi
if [ "$step" != extract ]; then
	cd "$root"
	find . | sort | cpio -o -H newc --quiet | gzip >"$out"
	mark pack
fi
EOS
manual() { sh "$W/manual.sh" "$1" "$W/plan" "$kver" "$e1000" "$2" "$3" "${4:-all}"; }

# Loopback HTTP: busybox httpd over the repository's parent.
port=$((20000 + $$ % 20000))
busybox httpd -f -p "127.0.0.1:$port" -h "$REPO/.." &
httpd=$!
sleep 0.3
url="http://127.0.0.1:$port/$(basename "$REPO")"
build() {
	$IT -q build -s "$SCENARIO" --repo "$1" --kernel "$kernel" --cache-dir "$2" -o "$3"
}

echo "build: $SCENARIO, $npkgs packages + e1000 from $kver, medians of $RUNS runs"
echo "  (load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs)"

# Cold: empty cache, everything over loopback HTTP; its peer fetches the same .apk files with
# busybox wget, one after the other, then runs the manual recipe.
: >"$W/cold_it"
: >"$W/cold_manual"
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	s=$(now)
	build "$url" "$W/cold$i" "$W/o/cold$i.img"
	since "$s" >>"$W/cold_it"
	s=$(now)
	mkdir -p "$W/dl$i/x86_64"
	while read -r p; do
		busybox wget -q -O "$W/dl$i/x86_64/$p.apk" "$url/x86_64/$p.apk"
	done <"$W/plan"
	manual "$W/dl$i/x86_64" "$W/mcold$i" "$W/o/mcold$i.img"
	since "$s" >>"$W/cold_manual"
	rm -rf "$W/cold$i" "$W/dl$i" "$W/mcold$i"
done

# Warm: the cache from a cold build (the index is revalidated: one 304); the manual recipe
# reads the repository's files in place. Wall and CPU (user + sys, children included) time;
# initrd-test's own summary line tells its phases.
build "$url" "$W/cache" "$W/o/warm0.img"
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	$TIME -a -o "$W/warm_it" -f "%e %U %S" $IT build -s "$SCENARIO" --repo "$url" \
		--kernel "$kernel" --cache-dir "$W/cache" -o "$W/o/warm$i.img" 2>>"$W/warm_log"
	MANUAL_TIMES="$W/steps$i" $TIME -a -o "$W/warm_manual" -f "%e %U %S" sh "$W/manual.sh" \
		"$REPO/x86_64" "$W/plan" "$kver" "$e1000" "$W/mwarm$i" "$W/o/mwarm$i.img"
	rm -rf "$W/mwarm$i"
done

# Peak RSS: a warm build, and the manual recipe's steps (a pipeline counts its biggest process).
rss_it=$($TIME -f %M sh -c "$IT -q build -s '$SCENARIO' --repo '$url' --kernel '$kernel' \
	--cache-dir '$W/cache' -o '$W/o/rss.img'" 2>&1 >/dev/null | tail -n 1)
rss_x=$($TIME -f %M sh "$W/manual.sh" "$REPO/x86_64" "$W/plan" "$kver" "$e1000" "$W/mrss" \
	"$W/o/mrss.img" extract 2>&1 >/dev/null | tail -n 1)
rss_p=$($TIME -f %M sh "$W/manual.sh" "$REPO/x86_64" "$W/plan" "$kver" "$e1000" "$W/mrss" \
	"$W/o/mrss.img" pack 2>&1 >/dev/null | tail -n 1)
rss_m=$((rss_x > rss_p ? rss_x : rss_p))

wi=$(awk '{ print $1 }' "$W/warm_it" | median)
wm=$(awk '{ print $1 }' "$W/warm_manual" | median)
wic=$(awk '{ print $2 + $3 }' "$W/warm_it" | median)
wmc=$(awk '{ print $2 + $3 }' "$W/warm_manual" | median)
ci=$(median <"$W/cold_it")
cm=$(median <"$W/cold_manual")
size_it=$(wc -c <"$W/o/warm1.img")
size_m=$(wc -c <"$W/o/mwarm1.img")
printf '  %-44s %8s %10s %8s\n' "" initrd-test manual "ratio"
printf '  %-44s %8.3f s %8.3f s %8s   (goal <= 0.50)\n' "warm cache" "$wi" "$wm" "$(ratio "$wi" "$wm")"
printf '  %-44s %8.3f s %8.3f s %8s\n' "warm cache, CPU time (user + sys)" "$wic" "$wmc" \
	"$(ratio "$wic" "$wmc")"
printf '  %-44s %8.3f s %8.3f s %8s\n' "cold, loopback HTTP (manual: wget each .apk)" "$ci" "$cm" \
	"$(ratio "$ci" "$cm")"
printf '  %-44s %6d KiB %6d KiB %8s   (manual: extract %d, cpio|gzip %d)\n' "peak RSS" \
	"$rss_it" "$rss_m" "$(ratio "$rss_it" "$rss_m")" "$rss_x" "$rss_p"
printf '  %-44s %6d KiB %6d KiB\n' "initrd size (gzip -6 both)" $((size_it / 1024)) \
	$((size_m / 1024))
# Where the time goes: the manual recipe's steps and initrd-test's phases, medians of the
# warm runs.
for step in extract configure applets pack; do
	cat "$W"/steps* | awk -v want="$step" '
		$1 == want && prev != "" { print $2 - prev } { prev = $2 }' | median >"$W/step_$step"
done
printf '  manual steps: extract %.3f s, configure %.3f s, busybox applet links %.3f s, pack %.3f s\n' \
	"$(cat "$W/step_extract")" "$(cat "$W/step_configure")" "$(cat "$W/step_applets")" \
	"$(cat "$W/step_pack")"
phases=""
for ph in index resolve fetch assemble write; do
	v=$(sed -n "s/.*[(, ]$ph \([0-9]*\) ms.*/\1/p" "$W/warm_log" | median)
	phases="$phases${phases:+, }$ph $(awk -v v="$v" 'BEGIN { printf "%.3f", v / 1000 }') s"
done
echo "  initrd-test phases: $phases"

# Index parse rate on the community index, against apk 2.14 loading the same index.
echo
index="$SHARED/indexes/community-APKINDEX.tar.gz"
if [ ! -f "$index" ]; then
	echo "index: skipped, $index is absent (set ALPINE_SHARED to the alpine-3.19.1 folder)"
	exit 0
fi
make -s -j2 build/libbuilder.a build/libcommon.a
mkdir -p build/bench
# shellcheck disable=SC2046
"$CC" -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. -o build/bench/index-parse \
	bench/index-parse.c build/libbuilder.a build/libcommon.a \
	$("$PKG_CONFIG" --libs libarchive libcurl libcrypto zlib libzstd)
build/bench/index-parse -n "$INDEX_RUNS" "$SHARED/keys" "$index" | tee "$W/ours"

# apk 2.14 from the shared packages, through musl's loader (see $SHARED/README.md).
. bench/apk-runtime.sh
apk_runtime "$SHARED" "$W" || exit 0
mkdir -p "$W/community/x86_64"
ln -s "$(cd "$(dirname "$index")" && pwd)/$(basename "$index")" \
	"$W/community/x86_64/APKINDEX.tar.gz"
"$W/apk" --initdb add >/dev/null
"$W/apk" -X "$W/community" search -x 2bwm >"$W/apk.out" 2>&1
grep -qx '2bwm-0.3-r2' "$W/apk.out" || {
	echo "  apk: skipped, it did not load the index: $(head -n 1 "$W/apk.out")"
	exit 0
}
i=0
while [ $i -lt "$INDEX_RUNS" ]; do
	i=$((i + 1))
	$TIME -a -o "$W/apk_full" -f "%e %U %S" "$W/apk" -X "$W/community" search -x 2bwm \
		>/dev/null 2>&1
	$TIME -a -o "$W/apk_empty" -f "%e %U %S" "$W/apk" search -x 2bwm >/dev/null 2>&1
done
af=$(awk '{ print $1 }' "$W/apk_full" | median)
ae=$(awk '{ print $1 }' "$W/apk_empty" | median)
afc=$(awk '{ print $2 + $3 }' "$W/apk_full" | median)
aec=$(awk '{ print $2 + $3 }' "$W/apk_empty" | median)
ours=$(sed -n 's/^  total *\([0-9.]*\) ms.*/\1/p' "$W/ours")
awk -v f="$af" -v e="$ae" -v fc="$afc" -v ec="$aec" -v o="$ours" 'BEGIN {
	a = (f - e) * 1000
	c = (fc - ec) * 1000
	printf "  apk 2.14 search, with the index minus without: wall %.0f ms, CPU %.0f ms\n", a, c
	printf "  ratio: initrd-test opens and parses it in %.2fx apk'"'"'s wall time, %.2fx its CPU time\n", o / a, o / c
}'
