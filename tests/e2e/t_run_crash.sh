# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# A real kernel panic (sysrq 'c' on Debian's kernel) ends the run as CRASHED, with the crash's
# class and syzkaller-style title in result.json, the JUnit failure message and crash.txt
# among the artifacts; replay classifies a recorded crash console the same way.
. "$TOP/tests/e2e/lib.sh"
require_qemu

expect_exit 1 "$IT" run --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/run" \
	--junit "$T/junit.xml" "$TOP/tests/data/crash/sysrq-panic" >"$T/out" 2>&1
cat "$T/out"
assert_grep "^CRASHED sysrq-panic" "$T/out"
[ -f "$T/run/crash.txt" ] || fail "no crash.txt in the run's folder"
cat "$T/run/crash.txt"
assert_grep '^class: panic$' "$T/run/crash.txt"
assert_grep '^title: kernel panic' "$T/run/crash.txt"
assert_grep 'sysrq: Trigger a crash' "$T/run/crash.txt"
[ -f "$T/run/artifacts/sysrq-panic/crash.txt" ] || fail "crash.txt is not among the artifacts"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["runs"][0]["crash"]
assert c["class"]=="panic" and c["title"].startswith("kernel panic"), c' \
	"$T/run/result.json" || fail "result.json has no crash report"
assert_grep 'title: kernel panic' "$T/junit.xml"

# replay: the recorded console of crashtest.ko's crashes, the first of them a WARNING.
"$IT" replay --json "$T/replay.json" "$TOP/tests/data/crash/sysrq-panic" "$TOP/tests/data/console/crash-module.raw" >"$T/rout" 2>&1 || true
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["runs"][0]["crash"]
assert c["class"]=="warning" and c["title"]=="WARNING in crashtest_warn", c' \
	"$T/replay.json" || fail "replay does not classify the recorded crash"
"$TOP/tests/tools/validate-results.py" "$T/run/result.json" "$T/replay.json" ||
	fail "the crash results do not follow docs/results.schema.json"

# Each crash class has its fail pattern: the recorded WARNING fails a run that waits past it,
# and 'on-warning ignore' lets it pass: the hung task after it is the crash then.
mkdir -p "$T/strict" "$T/lenient"
printf 'include %s/scenarios/minimal/scenario\nexpect never /NEVER-MATCHES/\n' "$TOP" >"$T/strict/scenario"
printf 'include %s/scenarios/minimal/scenario\non-warning ignore\nexpect never /NEVER-MATCHES/\n' \
	"$TOP" >"$T/lenient/scenario"
expect_exit 1 "$IT" replay --json "$T/strict.json" "$T/strict" "$TOP/tests/data/console/crash-module.raw" \
	>"$T/strict.out" 2>&1
assert_grep '(built-in: kernel warning) matched' "$T/strict.out"
expect_exit 1 "$IT" replay --json "$T/lenient.json" "$T/lenient" "$TOP/tests/data/console/crash-module.raw" \
	>"$T/lenient.out" 2>&1
assert_grep '(built-in: kernel hung task) matched' "$T/lenient.out"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["runs"][0]["crash"]
assert c["class"]=="hung-task" and c["title"]=="INFO: task hung in crashtest_hang_fn", c
assert "ignored warnings before it (on-warning ignore):\n  WARNING in crashtest_warn:" in c["report"], c' \
	"$T/lenient.json" || fail "on-warning ignore: the crash is not the hung task after the warning"
