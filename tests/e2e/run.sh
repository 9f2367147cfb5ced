#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the end-to-end tests (tests/e2e/t_*.sh) against the built binary; one closing line with totals.
# A missing qemu or kernel is a failed setup, never a silent skip.
set -u
cd "$(dirname "$0")/../.." || exit 2
export INITRD_TEST_ACCEL="${INITRD_TEST_ACCEL:-tcg}"
# IT: the binary under test (make asan passes its sanitizer build)
export IT="${IT:-$PWD/initrd-test}"
export TOP="$PWD"
OUT="${E2E_OUT:-$PWD/tests/e2e/out}"
rm -rf "$OUT"
mkdir -p "$OUT"
export OUT

pass=0
fail=0
failed=""
only="${E2E_ONLY:-}"
for t in tests/e2e/t_*.sh; do
	name=$(basename "$t" .sh)
	if [ -n "$only" ] && ! printf '%s' "$name" | grep -q -- "$only"; then
		continue
	fi
	start=$(date +%s)
	mkdir -p "$OUT/$name"
	if T="$OUT/$name" sh "$t" >"$OUT/$name.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $name ($(($(date +%s) - start))s)"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "FAIL $name ($(($(date +%s) - start))s)"
		sed 's/^/    | /' "$OUT/$name.log" | tail -n 40
	fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
