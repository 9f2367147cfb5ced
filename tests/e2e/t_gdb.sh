# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# qemu's gdb stub: 'boot --gdb' prints the gdb command and gdb attaches to the running
# kernel; 'run --gdb-on-fail' keeps a crashed VM (a real sysrq panic, without panic=-1)
# with the stub up and prints the command. gdb -batch reads the CPU's registers. Two boots.
. "$TOP/tests/e2e/lib.sh"
require_qemu
command -v gdb >/dev/null || fail "setup: gdb missing (ci/install-deps.sh installs it)"
private_runtime gdb
trap 'rm -rf "$RT"' EXIT

# end_it: SIGTERM initrd-test ($PID) until it ends: the first one powers the VM off, which a
# guest still booting may not heed; a second one ends it.
end_it() {
	i=0
	while kill -TERM "$PID" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 30 ] || fail "initrd-test $PID does not end"
		sleep 1
	done
	wait "$PID" || true
}

# gdb_regs FILE OUT: attach gdb with the command FILE printed, read rip, detach.
gdb_regs() {
	line=$(sed -n "s/^gdb stub on 127\.0\.0\.1:[0-9]*: //p" "$1" | head -n 1)
	[ -n "$line" ] || fail "no gdb command in $1"
	port=$(echo "$line" | sed -n "s/.*target remote 127\.0\.0\.1:\([0-9]*\)'$/\1/p")
	[ -n "$port" ] || fail "no port in '$line'"
	echo "$line" | grep -q "^gdb vmlinux -ex 'target remote 127.0.0.1:$port'$" || fail "bad gdb line '$line'"
	i=0
	until gdb -batch -nx -ex "target remote 127.0.0.1:$port" -ex 'info registers rip' -ex detach \
		>"$2" 2>&1 && grep -q '^rip ' "$2"; do
		i=$((i + 1))
		[ $i -lt 30 ] || {
			cat "$2"
			fail "gdb cannot read the registers on port $port"
		}
		sleep 1
	done
}

"$IT" boot --gdb --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/boot" \
	"$TOP/scenarios/minimal" >"$T/boot.out" 2>"$T/boot.err" &
PID=$!
wait_text "$T/boot.err" '^gdb stub on 127.0.0.1:' 120
wait_for_process "$T/boot/initrd.img" "qemu"
gdb_regs "$T/boot.err" "$T/gdb-boot.out"
end_it

"$IT" run --gdb-on-fail --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/run" \
	"$TOP/tests/data/crash/sysrq-panic" >"$T/run.out" 2>"$T/run.err" &
PID=$!
wait_text "$T/run.err" 'keeps running for you' 120
assert_grep '^CRASHED sysrq-panic' "$T/run.out"
assert_grep ' -gdb tcp:127.0.0.1:[0-9]*' "$T/run/command.txt"
assert_grep 'nokaslr' "$T/run/command.txt"
grep -q 'panic=-1' "$T/run/command.txt" && fail "--gdb-on-fail kept panic=-1"
gdb_regs "$T/run.err" "$T/gdb-run.out"
end_it
pgrep -f "$T/(boot|run)/initrd.img" >/dev/null && fail "a VM is left running"
exit 0
