#!/bin/sh
# SPDX-License-Identifier: MIT
# Matcher throughput: initrd-test's expect engine against pexpect on the same large console
# (the real Alpine boot repeated to SIZE_MIB, default 50, with a scenario's steps spread in it).
set -eu
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-50}
SCENARIO=${SCENARIO:-tests/data/report/boot-to-login}
RAWLOG=${RAWLOG:-tests/data/boot/alpine-3.19.1-networking.raw.log}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
PYTHON=${PYTHON:-python3}
BIN=build/bench/expect-throughput

# The engine, the scenario parser and the report's scenario_to_expect() (with its
# writer, out.o), as the
# Makefile builds them; the rest of the command layer is not needed.
OBJS=""
LIBS="build/libscenario.a build/libbuilder.a build/librunner.a build/libexpect.a build/libcommon.a"
# shellcheck disable=SC2086
make -s -j2 $OBJS $LIBS
mkdir -p build/bench
# shellcheck disable=SC2046,SC2086
"$CC" -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. \
	$("$PKG_CONFIG" --cflags libpcre2-8) -o "$BIN" bench/expect-throughput.c $OBJS $LIBS \
	$("$PKG_CONFIG" --libs libarchive libcurl libpcre2-8 libcrypto zlib libzstd) -lutil

"$PYTHON" -c 'import pexpect' 2>/dev/null || {
	echo "expect-throughput: python3 cannot import pexpect (apt-get install python3-pexpect)" >&2
	exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/expect-throughput.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

c_out=$("$BIN" -s "$SIZE_MIB" "$SCENARIO" "$RAWLOG" "$work")
printf '%s\n' "$c_out"
py_out=$("$PYTHON" bench/expect_pexpect.py "$work/console.raw" "$work/patterns.json")
printf '%s\n' "$py_out"

# "... in 1.234 s: 40.5 MiB/s; cpu 1.100 s: 45.4 MiB/s": the wall-clock rate, then the CPU one.
wall() { printf '%s\n' "$1" | sed -n 's/.* s: \([0-9.]*\) MiB\/s; cpu .*/\1/p' | tail -n 1; }
cpu() { printf '%s\n' "$1" | sed -n 's/.*; cpu [0-9.]* s: \([0-9.]*\) MiB\/s.*/\1/p' | tail -n 1; }
awk -v c="$(wall "$c_out")" -v p="$(wall "$py_out")" \
	-v cc="$(cpu "$c_out")" -v pc="$(cpu "$py_out")" 'BEGIN {
	printf "ratio: the expect engine matches %.1fx as fast as pexpect (%.1f vs %.1f MiB/s)\n", c / p, c, p
	printf "ratio (cpu time): %.1fx (%.1f vs %.1f MiB/s)\n", cc / pc, cc, pc
}'
