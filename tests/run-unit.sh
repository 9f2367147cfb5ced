#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every Check unit-test binary given; print one closing line with the totals.
pass=0
fail=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^$'
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
	checks=$(printf '%s' "$line" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p')
	bad=$(printf '%s' "$line" | sed -n 's/.*Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2/p')
	f=0
	for n in $bad; do f=$((f + n)); done
	if [ -z "$checks" ] || [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$t: exited $rc without a Check summary"
		f=$((f + 1))
		checks=${checks:-1}
	fi
	pass=$((pass + checks - f))
	fail=$((fail + f))
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
