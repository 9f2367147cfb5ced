# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Shards and merging, as a CI matrix uses them: 'run --shard I/N' on each job runs a stable,
# balanced share (every scenario exactly once over the N jobs), and 'initrd-test report'
# merges the shards' JSON into one summary, one valid JUnit file and the exit code of the
# whole suite. No VM boots here: qemu is a script that fails at once (an infrastructure
# error is a verdict like any other), and recorded reports stand for real runs.
. "$TOP/tests/e2e/lib.sh"
PY=$(python_with_lxml)
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "qemu: injected failure" >&2\nexit 1\n' >"$T/bin/qemu-system-x86_64"
chmod +x "$T/bin/qemu-system-x86_64"
suite="$TOP/tests/data/suite"
shard() { # I/N [options]: the scenarios of that shard, one a line
	s=$1
	shift
	n=$(echo "$s" | tr / -)
	expect_exit 3 env PATH="$T/bin:$PATH" "$IT" run -q --shard "$s" "$@" --repo "$REPO" \
		--kernel host --cache-dir "$T/cache" -o "$T/out-$n" --json "$T/shard-$n.json" \
		--junit "$T/shard-$n.xml" "$suite" >"$T/shard-$n.out" 2>&1
	python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["runs"]: print(r["scenario"], r.get("shard"))' "$T/shard-$n.json"
}

# Three shards by name: round-robin over the sorted list, each scenario once.
shard 1/3 >"$T/s1"
shard 2/3 >"$T/s2"
shard 3/3 >"$T/s3"
cat "$T/s1" "$T/s2" "$T/s3"
printf 'boot 1/3\nstep-timeout 1/3\n' | diff - "$T/s1" || fail "shard 1/3"
printf 'fail-pattern 2/3\n' | diff - "$T/s2" || fail "shard 2/3"
printf 'over-budget 3/3\n' | diff - "$T/s3" || fail "shard 3/3"
# Stable: the same shard again is the same share.
shard 1/3 >"$T/s1b"
cmp -s "$T/s1" "$T/s1b" || fail "shard 1/3 changed between two runs"

# Merged: four runs, the suite's exit code (3: all infrastructure errors), valid JUnit.
expect_exit 3 "$IT" report --junit "$T/merged.xml" --json "$T/merged.json" \
	"$T/shard-1-3.json" "$T/shard-2-3.json" "$T/shard-3-3.json" >"$T/report.out"
cat "$T/report.out"
assert_grep "^4 scenarios: 0 passed, 4 infrastructure errors$" "$T/report.out"
assert_grep "^ERROR fail-pattern: 'qemu-system-x86_64' exited with status 1: qemu: injected failure$" \
	"$T/report.out"
"$PY" "$TOP/tests/data/junit/validate.py" "$T/merged.xml" "$T/shard-1-3.xml" || fail "JUnit not valid"
[ "$(grep -c '<testsuite ' "$T/merged.xml")" -eq 4 ] || fail "merged JUnit lacks a scenario"
assert_grep '<property name="shard" value="2/3"/>' "$T/merged.xml"

# Balanced by recorded durations: the longest alone, the rest together.
cat >"$T/durations.json" <<'EOS'
{"format": "initrd-test-report", "version": 1, "runs": [
 {"scenario": "boot", "verdict": "passed", "timings": {"total_ms": 60000}},
 {"scenario": "fail-pattern", "verdict": "failed", "timings": {"total_ms": 15000}},
 {"scenario": "over-budget", "verdict": "failed", "timings": {"total_ms": 14000}},
 {"scenario": "step-timeout", "verdict": "timed_out", "timings": {"total_ms": 2000}}]}
EOS
shard 1/2 --durations "$T/durations.json" >"$T/d1"
shard 2/2 --durations "$T/durations.json" >"$T/d2"
printf 'boot 1/2\n' | diff - "$T/d1" || fail "durations shard 1/2"
printf 'fail-pattern 2/2\nover-budget 2/2\nstep-timeout 2/2\n' | diff - "$T/d2" || fail "durations shard 2/2"
# More shards than scenarios: an empty shard passes and still leaves its (empty) report.
expect_exit 0 env PATH="$T/bin:$PATH" "$IT" run -q --shard 5/5 --repo "$REPO" --kernel host \
	--cache-dir "$T/cache" -o "$T/out-5-5" --json "$T/shard-5-5.json" "$suite" >"$T/s55" 2>&1
assert_grep '"runs": \[\]' "$T/shard-5-5.json"

# Real reports of report.c merge too; the worst verdict decides: timed out (4) over passed.
expect_exit 4 "$IT" report --junit "$T/real.xml" "$TOP/tests/data/report/pass.json" \
	"$TOP/tests/data/report/timeout.json" "$T/shard-5-5.json" >"$T/real.out"
cat "$T/real.out"
assert_grep "^PASSED boot-to-login in 14.9s$" "$T/real.out"
assert_grep "^2 scenarios: 1 passed, 1 timed out$" "$T/real.out"
"$PY" "$TOP/tests/data/junit/validate.py" "$T/real.xml" || fail "JUnit of real reports not valid"
expect_exit 0 "$IT" report -q "$TOP/tests/data/report/pass.json" >"$T/quiet.out"
[ "$(cat "$T/quiet.out")" = "1 scenario: 1 passed" ] || fail "report -q: $(cat "$T/quiet.out")"

# The schema check can fail: a testsuite without its counts is refused.
printf '<testsuites><testsuite name="x"/></testsuites>\n' >"$T/bad.xml"
if "$PY" "$TOP/tests/data/junit/validate.py" "$T/bad.xml" >/dev/null; then
	fail "the JUnit schema accepts anything"
fi

# Bad input: exit 2, the file named, nothing written.
printf 'not json\n' >"$T/bad.json"
expect_exit 2 "$IT" report --junit "$T/never.xml" "$T/shard-1-3.json" "$T/bad.json" 2>"$T/err1"
assert_grep "cannot parse '$T/bad.json': line 1, column 1" "$T/err1"
[ ! -e "$T/never.xml" ] || fail "a JUnit file was written from bad input"
expect_exit 2 "$IT" report "$T/missing.json" 2>"$T/err2"
assert_grep "cannot read report '$T/missing.json': No such file or directory" "$T/err2"
expect_exit 2 "$IT" report "$T/shard-5-5.json" 2>"$T/err3"
assert_grep "no runs in 1 report: nothing was tested" "$T/err3"
expect_exit 2 "$IT" report 2>"$T/err4"
assert_grep "try 'initrd-test report --help'" "$T/err4"
expect_exit 2 "$IT" run --shard 4/3 "$suite" 2>"$T/err5"
assert_grep "bad --shard '4/3'" "$T/err5"
expect_exit 2 "$IT" run --durations "$T/bad.json" "$suite" 2>"$T/err6"
assert_grep "cannot parse '$T/bad.json'" "$T/err6"
"$IT" report --help | grep -q "exit codes" || fail "report --help"
