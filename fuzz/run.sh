#!/bin/bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer targets of fuzz/ with clang and the sanitizers; run them one at a time.
#
# Usage: fuzz/run.sh [-b] [TARGET...]      (TARGET: index, version, apk, scenario, expect, cpio, agent, agentmux, crash, lock, license, kimage)
#   -b            build only
#   FUZZ_SECONDS  time per target (default 60), passed as -max_total_time
#   FUZZ_ARGS     extra libFuzzer options
#   FUZZ_KEEP_GOING=1  run in libFuzzer's fork mode and go on after a crash
#                 (each crash is still saved in build-fuzz/artifacts/TARGET/)
#   CC            clang (the default) or another clang
# Everything goes to build-fuzz/: the binaries, a working corpus per target
# (seeded from fuzz/corpus/TARGET/, which is only read), crash artifacts in
# build-fuzz/artifacts/TARGET/, the log in build-fuzz/TARGET.log and a summary
# line per run appended to build-fuzz/stats.tsv. Runs at nice 19, one at a time.
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=build-fuzz
CC=${CC:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_ARGS=${FUZZ_ARGS:-}
FUZZ_KEEP_GOING=${FUZZ_KEEP_GOING:-0}
ALL_TARGETS="index version apk scenario expect cpio agent agentmux crash lock license kimage"
PKGS="libarchive libcurl libpcre2-8 libcrypto zlib libzstd jansson"

build_only=0
if [ "${1:-}" = "-b" ]; then
	build_only=1
	shift
fi
targets=${*:-$ALL_TARGETS}

command -v "$CC" >/dev/null 2>&1 || {
	echo "fuzz/run.sh: error: '$CC' not found; libFuzzer needs clang" >&2
	exit 2
}
# shellcheck disable=SC2086 # word splitting of pkg-config's output is wanted
read -r -a PKG_CFLAGS <<<"$(pkg-config --cflags $PKGS)"
# shellcheck disable=SC2086
read -r -a PKG_LIBS <<<"$(pkg-config --libs $PKGS)"
SAN=-fsanitize=address,undefined
CFLAGS=(-std=c11 -D_GNU_SOURCE '-DIT_VERSION="fuzz"' "-DIT_BINDIR=\"/bin\"" "-DIT_DATADIR=\"$ROOT\"" "-DIT_LIBEXECDIR=\"$ROOT/build/agent\"" -O1 -g -I.
	"${PKG_CFLAGS[@]}" "$SAN" -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
# The project's own warnings; -Werror only for the targets: the rest is not ours to fix here.
WARN=(-Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes -Wvla
	-Wwrite-strings -Wundef)

mkdir -p "$OUT/obj" "$OUT/artifacts"

# Compile a module's sources with fuzzer instrumentation into lib<module>.a (only what changed).
build_lib() {
	mod=$1
	shift
	lib="$OUT/lib$mod.a"
	objs=()
	changed=0
	for src in "$@"; do
		obj="$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
		objs+=("$obj")
		if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || \
		   [ -n "$(find common builder expect runner scenario agent src -name '*.h' -newer "$obj" | head -n 1)" ]; then
			echo "  CC      $src"
			"$CC" "${CFLAGS[@]}" "${WARN[@]}" -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
			changed=1
		fi
	done
	if [ $changed = 1 ] || [ ! -f "$lib" ]; then
		rm -f "$lib"
		ar rcs "$lib" "${objs[@]}"
	fi
}

build_libs() {
	build_lib common common/*.c
	build_lib builder builder/*.c
	build_lib expect expect/*.c
	build_lib runner runner/*.c
	build_lib scenario scenario/*.c
	build_lib agent agent/*.c
	local app=()
	for src in src/*.c; do
		[ "$src" = src/main.c ] || app+=("$src")
	done
	build_lib app "${app[@]}"
}

build_target() {
	t=$1
	bin="$OUT/fuzz_$t"
	echo "  LD      $bin"
	"$CC" "${CFLAGS[@]}" "${WARN[@]}" -Werror -fsanitize=fuzzer -o "$bin" "fuzz/fuzz_$t.c" \
		"$OUT/libapp.a" "$OUT/libscenario.a" "$OUT/libbuilder.a" "$OUT/librunner.a" "$OUT/libexpect.a" \
		"$OUT/libagent.a" "$OUT/libcommon.a" "${PKG_LIBS[@]}" -lutil
}

# libFuzzer's final lines: executions, and the last coverage / features figures.
summarize() {
	t=$1
	log=$2
	secs=$3
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	# Fork mode prints no final stats: its progress lines start with "#EXECUTIONS:".
	[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\): .*/\1/p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	corp=$(grep -o 'corp: [0-9/]*[a-zA-Z]*' "$log" | tail -n 1 | cut -d' ' -f2)
	crashes=$(find "$OUT/artifacts/$t" -type f 2>/dev/null | wc -l)
	# date, target, seconds run, executions, cov, ft, corpus, artifacts so far
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" \
		"$secs" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" \
		>>"$OUT/stats.tsv"
	echo "fuzz_$t: ${secs}s, ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}," \
		"corpus ${corp:-?}, $crashes artifact(s)"
}

run_target() {
	t=$1
	seeds="fuzz/corpus/$t"
	work="$OUT/corpus/$t"
	mkdir -p "$work" "$OUT/artifacts/$t"
	[ -d "$seeds" ] || seeds=""
	dict=""
	[ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
	# The agent's frames are up to 64 KiB: room for a few of them.
	maxlen=""
	case $t in agent) maxlen="-max_len=262144" ;; agentmux) maxlen="-max_len=16384" ;; crash) maxlen="-max_len=8192" ;; lock) maxlen="-max_len=4096" ;; license) maxlen="-max_len=512" ;; esac
	mode=""
	[ "$FUZZ_KEEP_GOING" = 1 ] && mode="-fork=1 -ignore_crashes=1 -ignore_timeouts=1"
	echo "fuzz_$t: running for ${FUZZ_SECONDS}s (log: $OUT/$t.log)"
	rc=0
	start=$(date +%s)
	# shellcheck disable=SC2086
	nice -n 19 "$OUT/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -timeout=30 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" $dict $maxlen $mode $FUZZ_ARGS \
		"$work" $seeds </dev/null >"$OUT/$t.log" 2>&1 || rc=$?
	summarize "$t" "$OUT/$t.log" $(($(date +%s) - start))
	if [ $rc != 0 ]; then
		echo "fuzz_$t: stopped with status $rc; see $OUT/$t.log and $OUT/artifacts/$t/" >&2
		return 1
	fi
}

for t in $targets; do
	[ -f "fuzz/fuzz_$t.c" ] || {
		echo "fuzz/run.sh: error: no target '$t' (have: $ALL_TARGETS)" >&2
		exit 2
	}
done

build_libs
for t in $targets; do
	build_target "$t"
done
[ $build_only = 1 ] && exit 0

status=0
for t in $targets; do
	run_target "$t" || status=1
done
exit $status
