# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# replay: a scenario's expectations against a recorded console log, without a VM, in
# milliseconds: a full log passes, a truncated one fails at the right step.
. "$TOP/tests/e2e/lib.sh"

# The console-only networking scenario the log was recorded with (the shipped one
# now checks 'ip' through the guest agent, which a log cannot show).
scn="$TOP/tests/data/replay/networking"
log="$TOP/tests/data/boot/alpine-3.19.1-networking-pass.log"
start=$(date +%s%N)
"$IT" replay "$scn" "$log" >"$T/out1"
took_ms=$((($(date +%s%N) - start) / 1000000))
cat "$T/out1"
assert_grep '^PASSED networking' "$T/out1"
[ "$took_ms" -lt 2000 ] || fail "replay took ${took_ms} ms"

# Cut the log just before the lease: the lease step is the one that fails.
sed '/udhcpc: lease of/,$d' "$log" >"$T/cut.log"
set +e
"$IT" replay --json "$T/r.json" "$scn" "$T/cut.log" >"$T/out2"
rc=$?
set -e
cat "$T/out2"
[ "$rc" -eq 1 ] || [ "$rc" -eq 4 ] || fail "truncated log: exit $rc"
grep -q "at step 'lease'" "$T/out2" || fail "the lease step is not named"
grep -qE '^eth0-probe +ok ' "$T/out2" || fail "steps before the cut should pass"

# A scenario with steps of the guest agent needs a VM: replay says so, and judges nothing.
expect_exit 2 "$IT" replay "$TOP/scenarios/networking" "$log" 2>"$T/err3" >"$T/out3"
assert_grep "is a step of the guest agent: a console log cannot show it" "$T/err3"
assert_grep "hint: replay judges console-only scenarios; this one needs a VM" "$T/err3"
[ ! -s "$T/out3" ] || fail "replay printed a verdict for a scenario it cannot judge"
