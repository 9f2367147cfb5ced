# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# A guest that never shows what is expected ends at its timeout with exit code 4 and no qemu
# left; SIGTERM to initrd-test during a run ends it and leaves no qemu process either.
. "$TOP/tests/e2e/lib.sh"
require_qemu

mkdir -p "$T/hung"
cat >"$T/hung/scenario" <<EOS
include $TOP/scenarios/base
# init never starts: the guest sits in a shell that prints nothing more
vm append rdinit=/bin/cat
timeout 25s
expect never /this line never comes/
EOS
start=$(date +%s)
expect_exit 4 "$IT" run --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/run1" \
	"$T/hung" >"$T/out1" 2>&1
took=$(($(date +%s) - start))
cat "$T/out1"
grep -qE '^TIMED OUT' "$T/out1" || fail "no TIMED OUT verdict"
[ "$took" -lt 60 ] || fail "took ${took}s for a 25s timeout"
assert_no_process "$T/run1/initrd.img" "qemu left running after the timeout"

# SIGTERM while the VM boots.
"$IT" run --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/run2" \
	"$TOP/scenarios/minimal" >"$T/out2" 2>&1 &
pid=$!
wait_for_process "$T/run2/initrd.img" "qemu"
sleep 2
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
cat "$T/out2"
[ "$rc" -eq 130 ] || [ "$rc" -eq 143 ] || fail "exit $rc after SIGTERM, expected 130"
sleep 0.5
assert_no_process "$T/run2/initrd.img" "qemu survived SIGTERM to initrd-test"
