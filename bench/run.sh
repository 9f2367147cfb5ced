#!/bin/sh
# SPDX-License-Identifier: MIT
# 'make bench': every benchmark prints its figures next to a peer measured in the same run.
set -eu
cd "$(dirname "$0")/.."
export INITRD_TEST_ACCEL="${INITRD_TEST_ACCEL:-tcg}"
only="${BENCH_ONLY:-}"
status=0
for b in build resolve expect-throughput boot suite agent checkpoint arch crash; do
	if [ -n "$only" ] && [ "$only" != "$b" ]; then
		continue
	fi
	echo "== $b"
	sh "bench/$b.sh" || status=1
	echo
done
exit $status
