# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Boot milestones against a saved result: a run whose step comes later than the baseline's
# by more than --max-slowdown fails (exit 1), naming the step and both times, with its
# artifacts; a bad baseline file is a usage error before anything boots.
. "$TOP/tests/e2e/lib.sh"
require_qemu

# A baseline where OpenRC started 1 s after the VM: no TCG boot is that fast.
cat >"$T/baseline.json" <<'EOS'
{"format": "initrd-test-report", "version": 1, "runs": [
 {"scenario": "boot", "verdict": "passed", "backend": "qemu", "accel": "tcg",
  "timings": {"first_console_byte_ms": 600000, "total_ms": 1000, "steps": {"openrc": 1000}}},
 {"scenario": "boot", "verdict": "passed", "backend": "qemu", "accel": "kvm",
  "timings": {"first_console_byte_ms": 1, "total_ms": 1, "steps": {"openrc": 1}}}]}
EOS
expect_exit 1 "$IT" run --accel tcg --baseline "$T/baseline.json" --max-slowdown 20% \
	--repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/run" --json "$T/result.json" \
	"$TOP/tests/data/suite/boot" >"$T/out" 2>&1
cat "$T/out"
# The tcg baseline is the one compared (the kvm one would name the first console byte).
grep -q "^FAILED boot: step 'openrc' at [0-9.]*s, [0-9]*% slower than the baseline's 1.0s (limit +20% and 500ms)$" \
	"$T/out" || fail "no verdict naming the step that regressed"
grep -qE "^openrc +ok " "$T/out" || fail "the step table is missing"
assert_grep "hint: the baseline is the same scenario's run with qemu on tcg" "$T/out"
python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["runs"][0]
assert r["verdict"] == "failed" and r["timings"]["steps"]["openrc"] > 1200, r' "$T/result.json" ||
	fail "result.json does not record the regression"
[ -s "$T/run/artifacts/boot/console.log" ] || fail "no artifacts for the regression"

# A baseline that is not a report: exit 2 before any build or boot.
printf '{"runs": []}\n' >"$T/bad.json"
expect_exit 2 "$IT" run --baseline "$T/bad.json" -o "$T/never" "$TOP/tests/data/suite/boot" 2>"$T/err"
assert_grep "is not an initrd-test report" "$T/err"
assert_grep "hint: give the JSON of 'initrd-test run --json FILE'" "$T/err"
[ ! -e "$T/never" ] || fail "a bad baseline still started the run"
expect_exit 2 "$IT" run --max-slowdown lots "$TOP/tests/data/suite/boot" 2>"$T/err2"
assert_grep "bad percentage 'lots'" "$T/err2"
