#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the end-to-end tests (tests/e2e/t_*.sh) against the built binary; one closing line with totals.
# A missing qemu or kernel is a failed setup, never a silent skip.
set -u
cd "$(dirname "$0")/../.." || exit 2
export INITRD_TEST_ACCEL="${INITRD_TEST_ACCEL:-tcg}"
# The e2e scenarios' timeouts are tuned for TCG on this x86_64 host, and some tests check
# them in messages: no scaling for KVM-written timeouts (t_run_aarch64.sh unsets it).
export INITRD_TEST_TIMEOUT_FACTOR="${INITRD_TEST_TIMEOUT_FACTOR:-1}"
# IT: the binary under test (make asan passes its sanitizer build)
export IT="${IT:-$PWD/initrd-test}"
export TOP="$PWD"
OUT="${E2E_OUT:-$PWD/tests/e2e/out}"
rm -rf "$OUT"
mkdir -p "$OUT"
export OUT

pass=0
fail=0
skip=0
failed=""
only="${E2E_ONLY:-}"
for t in tests/e2e/t_*.sh; do
	name=$(basename "$t" .sh)
	if [ -n "$only" ] && ! printf '%s' "$name" | grep -q -- "$only"; then
		continue
	fi
	start=$(date +%s)
	mkdir -p "$OUT/$name"
	T="$OUT/$name" sh "$t" >"$OUT/$name.log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok   $name ($(($(date +%s) - start))s)"
	elif [ "$rc" -eq 77 ]; then
		# only for test data that cannot be fetched here (lib.sh: skip); CI fetches it
		skip=$((skip + 1))
		echo "skip $name: $(tail -n 1 "$OUT/$name.log")"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "FAIL $name ($(($(date +%s) - start))s)"
		sed 's/^/    | /' "$OUT/$name.log" | tail -n 40
	fi
done
[ -n "$failed" ] && echo "failed:$failed"
if [ "$skip" -gt 0 ]; then
	echo "e2e: $pass passed, $fail failed, $skip skipped"
else
	echo "e2e: $pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
