# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# A scenario that must fail (no e1000 module) fails at the right step, by that step's own
# timeout (exit code 4), with a message that says what was expected, long before the
# whole-run timeout.
. "$TOP/tests/e2e/lib.sh"
require_qemu

start=$(date +%s)
expect_exit 4 "$IT" run --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/run" \
	--json "$T/result.json" "$TOP/scenarios/no-e1000" >"$T/out" 2>&1
took=$(($(date +%s) - start))
cat "$T/out"
grep -qE "e1000-driver" "$T/out" || fail "the failing step is not named"
assert_grep 'e1000: Intel(R) PRO/1000 Network Driver' "$T/out"
grep -qE "^TIMED OUT no-e1000 at step 'e1000-driver'" "$T/out" || fail "no verdict naming the step"
assert_grep 'console.log' "$T/out"
grep -qE "^openrc +ok " "$T/out" || fail "steps before the failure should pass"
[ "$took" -lt 150 ] || fail "took ${took}s: the step timeout should end it early"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["runs"][0]; assert r["verdict"]!="passed", r' \
	"$T/result.json" || fail "result.json does not record the failure"
