# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Every run's folder holds repro.sh: run by hand, with no initrd-test, it boots the same files
# with the same qemu command to the same login prompt, the console on its stdout.
. "$TOP/tests/e2e/lib.sh"
require_qemu

expect_exit 0 "$IT" run -q --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/run" \
	"$TOP/scenarios/minimal"
[ -x "$T/run/repro.sh" ] || fail "no executable repro.sh in the run's folder"
assert_grep 'qemu-system-' "$T/run/repro.sh"
# stdin is a FIFO held open here (on fd 4: lib.sh's fail writes to fd 3), so qemu's stdio
# console lives until the test ends it.
mkfifo "$T/in"
timeout 90 sh "$T/run/repro.sh" <"$T/in" >"$T/repro.out" 2>&1 &
pid=$!
exec 4>"$T/in"
i=0
while [ $i -lt 90 ] && ! grep -q 'alpine-test login: ' "$T/repro.out"; do
	sleep 1
	i=$((i + 1))
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
exec 4>&-
grep -q 'alpine-test login: ' "$T/repro.out" || { tail -20 "$T/repro.out"; fail "repro.sh did not boot to the login prompt"; }
