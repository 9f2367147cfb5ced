# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# A suite of four small scenarios (tests/data/suite: passed, failed by a fail pattern, failed
# by a budget, timed out) gives the same verdicts with -j 1 and -j 2, builds its one initrd
# once, keeps each scenario's output in one piece, leaves artifacts for the failures only,
# and merges everything into one valid JUnit file and one results.json.
. "$TOP/tests/e2e/lib.sh"
require_qemu

# A python with lxml (Debian's python3-lxml) validates JUnit against its schema.
PY=$(python_with_lxml)

# -j 2 also compares its milestones with -j 1's, within a generous bound: no regression.
for j in 1 2; do
	start=$(date +%s)
	baseline=""
	[ $j -eq 1 ] || baseline="--baseline=$T/j1.json"
	# shellcheck disable=SC2086
	expect_exit 1 "$IT" run -j $j $baseline --max-slowdown 1000% --repo "$REPO" --kernel host \
		--cache-dir "$T/cache" -o "$T/j$j" --junit "$T/j$j.xml" --json "$T/j$j.json" \
		"$TOP/tests/data/suite" >"$T/j$j.out" 2>"$T/j$j.err"
	echo "-j $j: $(($(date +%s) - start))s"
	cat "$T/j$j.out"
done

# Same verdicts, in the same (name) order, whatever the parallelism.
verdicts() {
	python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["runs"]: print(r["scenario"], r["verdict"])' "$1"
}
verdicts "$T/j1.json" >"$T/v1"
verdicts "$T/j2.json" >"$T/v2"
cat "$T/v1"
diff "$T/v1" "$T/v2" || fail "-j 1 and -j 2 gave different verdicts"
printf 'boot passed\nfail-pattern failed\nover-budget failed\nstep-timeout timed_out\n' >"$T/want"
diff "$T/want" "$T/v1" || fail "unexpected verdicts"
cmp "$T/j2.json" "$T/j2/results.json" >/dev/null || fail "--json differs from OUT/results.json"

# What each failure says.
assert_grep "FAILED over-budget: step 'kernel' took [0-9.]*s, over its 1ms budget" "$T/j2.out"
grep -q "FAILED fail-pattern at step 'openrc' .*fail pattern \"Linux version \[0-9\]\"" "$T/j2.out" ||
	fail "the fail pattern is not named"
assert_grep "TIMED OUT step-timeout at step 'never'" "$T/j2.out"
assert_grep "^4 scenarios: 1 passed, 2 failed, 1 timed out" "$T/j2.out"
assert_grep "with -j 2" "$T/j2.out"

# Grouped: each scenario's log is one block under its header, never interleaved.
for name in boot fail-pattern over-budget step-timeout; do
	awk -v n="$name" '/^==> / { cur = $2 } cur != "" && /booting / && $0 !~ ("booting " n " ") && cur == n { bad = 1 }
		END { exit bad }' "$T/j2.out" || fail "the log of $name holds another scenario's lines"
	[ "$(grep -c "^==> $name " "$T/j2.out")" -eq 1 ] || fail "$name has not exactly one block"
done

# One build for the four (they differ only in steps), reused by every run.
[ "$(ls "$T/j2/.builds" | wc -l)" -eq 1 ] || fail "more than one build: $(ls "$T/j2/.builds")"
[ "$(grep -c '^built ' "$T/j2.out")" -eq 1 ] || fail "the initrd was built more than once"
[ "$(grep -c '^reusing the initrd' "$T/j2.out")" -eq 3 ] || fail "the build was not reused"

# Artifacts: for the three failures, with what explains them; none for the pass.
[ ! -e "$T/j2/artifacts/boot" ] || fail "artifacts for a scenario that passed"
for name in fail-pattern over-budget step-timeout; do
	a="$T/j2/artifacts/$name"
	# (step-timeout gives up before the console says anything: its logs may be empty)
	for f in console.log console.raw; do
		[ -f "$a/$f" ] || fail "artifacts of $name lack $f"
	done
	for f in command.txt plan.txt result.json run.log initrd.list scenario/index.txt \
		scenario/3-base_scenario; do
		[ -s "$a/$f" ] || fail "artifacts of $name lack $f"
	done
	assert_grep ' etc/inittab$' "$a/initrd.list"
	assert_grep 'tcg' "$a/command.txt"
done
assert_grep 'Linux version' "$T/j2/artifacts/fail-pattern/console.log"
python3 -c 'import json,sys
runs = {r["scenario"]: r for r in json.load(open(sys.argv[1]))["runs"]}
assert runs["over-budget"]["artifacts"].endswith("artifacts/over-budget"), runs["over-budget"]
assert "artifacts" not in runs["boot"]
assert runs["boot"]["timings"]["steps"]["openrc"] > 0
assert runs["boot"]["accel"] == "tcg"' "$T/j2.json" || fail "results.json lacks artifacts or timings"
# The suite's results and each run's result.json follow docs/results.schema.json.
"$TOP/tests/tools/validate-results.py" "$T/j1.json" "$T/j2.json" "$T"/j2/*/result.json ||
	fail "the suite's results do not follow docs/results.schema.json"

# The merged JUnit is valid against Jenkins' schema, one testsuite per scenario.
"$PY" "$TOP/tests/data/junit/validate.py" "$T/j1.xml" "$T/j2.xml" || fail "JUnit not valid"
[ "$(grep -c '<testsuite ' "$T/j2.xml")" -eq 4 ] || fail "not four testsuites"
assert_grep 'step &apos;kernel&apos; took\|step '"'"'kernel'"'"' took' "$T/j2.xml"

# No qemu of these runs is left.
assert_no_process "$T/j[12]/.builds" "qemu still running after the suite"
