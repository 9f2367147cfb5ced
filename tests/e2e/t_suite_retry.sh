# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Failure classes and retries: an infrastructure error (a qemu that cannot start, a qemu
# killed mid-boot) is retried up to --retries and then reported as such (exit 3); a
# scenario that passes on a retry is reported FLAKY, not passed silently; a scenario's
# own failure is never retried. The broken qemus are scripts put first on PATH.
. "$TOP/tests/e2e/lib.sh"
require_qemu
real=$(command -v qemu-system-x86_64)
mkdir -p "$T/broken" "$T/flaky" "$T/killed"
cat >"$T/broken/qemu-system-x86_64" <<'EOS'
#!/bin/sh
echo "qemu: could not start (injected failure)" >&2
exit 1
EOS
# Fails the first start only, then is the real qemu.
cat >"$T/flaky/qemu-system-x86_64" <<EOS
#!/bin/sh
if [ ! -e "$T/flaky/failed-once" ]; then
	: >"$T/flaky/failed-once"
	echo "qemu: cannot set up guest memory (injected failure)" >&2
	exit 1
fi
exec "$real" "\$@"
EOS
# The real qemu, killed (SIGKILL) three seconds into the boot.
cat >"$T/killed/qemu-system-x86_64" <<EOS
#!/bin/sh
(sleep 3; kill -9 \$\$) </dev/null >/dev/null 2>&1 &
exec "$real" "\$@"
EOS
chmod +x "$T/broken/qemu-system-x86_64" "$T/flaky/qemu-system-x86_64" "$T/killed/qemu-system-x86_64"
run() {
	"$IT" run --repo "$REPO" --kernel host --cache-dir "$T/cache" "$@"
}
json() {
	python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["runs"][0]
print(r["verdict"], r.get("attempts", 1), r.get("flaky", False))' "$1"
}

# 1. qemu cannot start: tried 1 + 2 times, then an infrastructure error.
expect_exit 3 env PATH="$T/broken:$PATH" "$IT" run --retries 2 --repo "$REPO" --kernel host \
	--cache-dir "$T/cache" -o "$T/r1" --json "$T/r1.json" "$TOP/tests/data/suite/boot" \
	>"$T/out1" 2>&1
cat "$T/out1"
[ "$(grep -c 'ended in an infrastructure error: .*(injected failure); trying again' "$T/out1")" -eq 2 ] ||
	fail "not retried twice"
[ "$(grep -c '^built ' "$T/out1")" -eq 1 ] || fail "a retry built the initrd again"
assert_grep "^ERROR boot: 'qemu-system-x86_64' exited with status 1: qemu: could not start" "$T/out1"
[ "$(json "$T/r1.json")" = "infra_error 3 False" ] || fail "r1: $(json "$T/r1.json")"
[ -f "$T/r1/attempt-1.console.log" ] && [ -f "$T/r1/attempt-2.console.log" ] ||
	fail "the logs of earlier attempts are not kept"
assert_grep "injected failure" "$T/r1/artifacts/boot/result.json"

# 2. qemu killed mid-boot: an infrastructure error too, named as such.
expect_exit 3 env PATH="$T/killed:$PATH" "$IT" run -q --repo "$REPO" --kernel host \
	--cache-dir "$T/cache" -o "$T/r2" --json "$T/r2.json" "$TOP/tests/data/suite/boot" \
	>"$T/out2" 2>&1
cat "$T/out2"
assert_grep "killed by signal 9" "$T/out2"
[ "$(json "$T/r2.json")" = "infra_error 1 False" ] || fail "r2: $(json "$T/r2.json")"

# 3. It fails once, then boots: PASSED, but flaky in the verdict, the JSON and the JUnit.
expect_exit 0 env PATH="$T/flaky:$PATH" "$IT" run --retries 1 --repo "$REPO" --kernel host \
	--cache-dir "$T/cache" -o "$T/r3" --json "$T/r3.json" --junit "$T/r3.xml" \
	"$TOP/tests/data/suite/boot" >"$T/out3" 2>&1
cat "$T/out3"
grep -q "^PASSED boot in [0-9.]*s (flaky: passed on attempt 2)$" "$T/out3" || fail "not reported flaky"
[ "$(json "$T/r3.json")" = "passed 2 True" ] || fail "r3: $(json "$T/r3.json")"
assert_grep '<property name="flaky" value="true"/>' "$T/r3.xml"
assert_grep '<property name="attempts" value="2"/>' "$T/r3.xml"
"$IT" report "$T/r3.json" >"$T/report3"
assert_grep "^1 scenario: 1 passed (1 flaky)$" "$T/report3"

# 4. The scenario itself fails: never retried, whatever --retries says.
expect_exit 1 "$IT" run --retries 2 --repo "$REPO" --kernel host --cache-dir "$T/cache" \
	-o "$T/r4" --json "$T/r4.json" "$TOP/tests/data/suite/fail-pattern" >"$T/out4" 2>&1
cat "$T/out4"
if grep -q "trying again" "$T/out4"; then
	fail "a scenario failure was retried"
fi
[ "$(json "$T/r4.json")" = "failed 1 False" ] || fail "r4: $(json "$T/r4.json")"
[ ! -e "$T/r4/attempt-1.console.log" ] || fail "a second attempt was made"

# 5. In a suite the same: each infrastructure error retried, each reported (exit 3).
expect_exit 3 env PATH="$T/broken:$PATH" "$IT" run -j 2 --retries 1 --repo "$REPO" \
	--kernel host --cache-dir "$T/cache" -o "$T/s5" "$TOP/tests/data/suite" >"$T/out5" 2>&1
python3 -c 'import json,sys
runs = json.load(open(sys.argv[1]))["runs"]
assert [(r["verdict"], r["attempts"]) for r in runs] == [("infra_error", 2)] * 4, runs' \
	"$T/s5/results.json" || fail "suite: not every scenario retried once"
assert_grep "^4 scenarios: 0 passed, 4 infrastructure errors$" "$T/out5"

# 6. SIGTERM to a suite while its VMs boot: passed on to every scenario, exit 130, the
# runs so far reported as interrupted, the rest not started, no qemu left.
"$IT" run -j 2 --retries 1 --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/s6" \
	"$TOP/tests/data/suite" >"$T/out6" 2>&1 &
pid=$!
wait_for_process "$T/s6/.builds" "qemu"
sleep 1
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
cat "$T/out6"
[ "$rc" -eq 130 ] || fail "exit $rc after SIGTERM, expected 130"
assert_grep "^INTERRUPTED boot: " "$T/out6"
assert_grep "2 not started" "$T/out6"
sleep 0.5
assert_no_process "$T/s6/.builds" "qemu survived SIGTERM to the suite"
