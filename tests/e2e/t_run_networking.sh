# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# The main job: scenarios/networking boots real Alpine 3.19.1 on Debian's kernel under qemu,
# every step passes in order, and the run leaves its evidence (logs, JUnit, JSON).
. "$TOP/tests/e2e/lib.sh"
require_qemu

"$IT" run --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/run" \
	--junit "$T/junit.xml" --json "$T/result.json" "$TOP/scenarios/networking" >"$T/out" 2>&1 || {
	cat "$T/out"
	fail "networking did not pass"
}
cat "$T/out"
assert_grep '^PASSED networking' "$T/out"
for step in openrc mdev-scan e1000-driver eth0-probe lease login shell agent-ready run ip; do
	grep -qE "^$step +ok " "$T/out" || fail "step $step not reported ok"
done
assert_grep 'udhcpc: lease of 10.0.2.15 obtained' "$T/run/console.log"
# 'ip' ran in the guest over the agent's channel: its output is in the result, not on the console.
python3 -c 'import json,sys
steps = {s["name"]: s for s in json.load(open(sys.argv[1]))["runs"][0]["steps"]}
run = steps["run"]
assert run["kind"] == "run" and run["exit_code"] == 0, run
assert "inet 10.0.2.15/24" in run["stdout"], run
assert steps["ip"]["status"] == "passed", steps["ip"]' "$T/result.json" ||
	fail "result.json does not hold the output of ip addr"
# The cleaned log has a timestamp on every line; the raw log keeps the escapes.
if grep -qv '^\[ *[0-9]*\.[0-9]\{3\}\]' "$T/run/console.log"; then
	fail "a console.log line without a timestamp"
fi
[ -s "$T/run/console.raw" ] || fail "no raw console log"
assert_grep 'tcg' "$T/run/command.txt"
assert_grep 'restrict=on' "$T/run/command.txt"
assert_grep '<testsuite ' "$T/junit.xml"
# On a pipe the progress is one plain line per step, with its budget and timeout.
assert_grep '^step 1/11 openrc (timeout 60s)$' "$T/out"
assert_grep '^step 9/11 agent-ready (budget 30s, timeout 60s)$' "$T/out"
assert_grep '"verdict": *"passed"' "$T/result.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["runs"][0]["verdict"]=="passed"' \
	"$T/result.json" || fail "result.json is not valid JSON with a passed verdict"
"$TOP/tests/tools/validate-results.py" "$T/result.json" "$T/run/result.json" ||
	fail "result.json does not follow docs/results.schema.json"
# The VM stopped at the last step: no qemu of this run remains.
assert_no_process "$T/run/initrd.img" "qemu still running after the run"
