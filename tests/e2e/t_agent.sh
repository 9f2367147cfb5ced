# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# shellcheck disable=SC2016 # $(...) and $? in the commands are for the guest's shell
# The guest command channel on a real VM, one boot: 'initrd-test boot' in a terminal (a tmux
# pane, so its console client stays attached all along) and, from other processes,
# 'initrd-test exec' and 'cp'. Exit codes 0, 1 and 42 come back; stdout and stderr stay
# apart; a 10 MB random file goes in and out with the same SHA-256; a 'sleep 600' past its
# --timeout is killed in the guest (124) and the next command runs; kernel messages
# flooding the console during a command leave its output whole; the channel's errors
# have their own exit code (255) and words.
. "$TOP/tests/e2e/lib.sh"
require_qemu
command -v tmux >/dev/null || fail "setup: tmux missing (apt-get install tmux)"

private_runtime agent
cleanup() {
	if [ -s "$T/boot.pid" ] && kill -0 "$(cat "$T/boot.pid")" 2>/dev/null; then
		kill -TERM "$(cat "$T/boot.pid")" 2>/dev/null || true
		sleep 3
	fi
	tm kill-server 2>/dev/null || true
	rm -rf "$RT"
}
trap cleanup EXIT

# ex WANT CMD: 'initrd-test exec NAME -- CMD' exits WANT; its stdout in $T/o, stderr in $T/e.
ex() {
	ex_want=$1
	shift
	set +e
	"$IT" exec "$NAME" -- "$@" >"$T/o" 2>"$T/e"
	ex_got=$?
	set -e
	[ "$ex_got" -eq "$ex_want" ] || {
		cat "$T/e" >&3
		fail "exec '$*' exited $ex_got, not $ex_want"
	}
}

start=$(date +%s)
cat >"$T/boot.sh" <<EOS
export XDG_RUNTIME_DIR='$RT' INITRD_TEST_ACCEL='${INITRD_TEST_ACCEL:-tcg}' NO_COLOR=1
cd '$T'
sh -c 'echo \$\$ >"\$1"; shift; exec "\$@"' sh '$T/boot.pid' '$IT' boot --repo '$REPO' \
	--kernel host --cache-dir '$T/cache' -o '$T/boot' '$TOP/scenarios/networking' 2>&1
echo \$? >'$T/boot.rc'
exec sleep 600
EOS
pane_start boot "$T/boot.sh"
wait_pane boot "[initrd-test: attached to networking-" 90
NAME=$("$IT" ps | awk 'NR == 2 { print $1 }')
case "$NAME" in networking-*) ;; *) fail "odd VM name '$NAME'" ;; esac

echo "== exit codes: the first waits for the agent to start"
ex 0 true
echo "agent answered $(($(date +%s) - start)) s after the boot began"
ex 1 false
ex 42 'exit 42'
ex 0 'test "$(id -u)" = 0'
# A signal is 128+N, as in a shell.
ex 137 'kill -9 $$'

echo "== stdout and stderr stay apart"
ex 3 'echo to-out; echo to-err >&2; echo more-out; exit 3'
[ "$(cat "$T/o")" = "$(printf 'to-out\nmore-out')" ] || fail "stdout: $(cat "$T/o")"
[ "$(cat "$T/e")" = "to-err" ] || fail "stderr: $(cat "$T/e")"
# Binary-safe both ways: every byte value through stdin and stdout.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 64)' >"$T/bytes"
"$IT" exec -i "$NAME" -- cat <"$T/bytes" >"$T/bytes.back" || fail "exec -i cat failed"
cmp "$T/bytes" "$T/bytes.back" || fail "stdin through cat came back changed"

echo "== a 10 MB random file in and back out"
head -c 10485760 /dev/urandom >"$T/blob"
t0=$(date +%s%N)
"$IT" cp "$T/blob" "$NAME:/tmp/blob" || fail "cp into the guest failed"
t1=$(date +%s%N)
"$IT" cp "$NAME:/tmp/blob" "$T/blob.back" || fail "cp out of the guest failed"
t2=$(date +%s%N)
echo "10 MiB in: $(((t1 - t0) / 1000000)) ms, out: $(((t2 - t1) / 1000000)) ms"
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
[ "$(sha256sum <"$T/blob.back" | cut -d' ' -f1)" = "$want" ] || fail "the file came back changed"
ex 0 sha256sum /tmp/blob
[ "$(cut -d' ' -f1 "$T/o")" = "$want" ] || fail "the guest's copy differs: $(cat "$T/o")"
# The mode: kept from the host file unless --mode says.
chmod 0751 "$T/blob"
"$IT" cp "$T/blob" "$NAME:/tmp/" || fail "cp into a guest directory failed"
ex 0 stat -c %a /tmp/blob
[ "$(cat "$T/o")" = 751 ] || fail "mode in the guest: $(cat "$T/o")"
"$IT" cp --mode 0600 "$T/bytes" "$NAME:/tmp/bytes" || fail "cp --mode failed"
ex 0 stat -c %a /tmp/bytes
[ "$(cat "$T/o")" = 600 ] || fail "--mode in the guest: $(cat "$T/o")"

echo "== a command past its --timeout is killed in the guest, and the next one runs"
t0=$(date +%s)
expect_exit 124 "$IT" exec --timeout 3s "$NAME" -- 'echo started; sleep 600' >"$T/o" 2>"$T/e"
took=$(($(date +%s) - t0))
[ "$took" -lt 15 ] || fail "the timed-out command took ${took}s to come back"
assert_grep "started" "$T/o"
assert_grep "outlived --timeout" "$T/e"
# Its process group is gone: no sleep 600 is left in the guest.
ex 1 'for p in /proc/[0-9]*; do
	[ "$(tr "\\0" " " <$p/cmdline 2>/dev/null)" = "sleep 600 " ] && exit 0; done; exit 1'
ex 0 'echo next'
[ "$(cat "$T/o")" = next ] || fail "the command after the timeout: $(cat "$T/o")"

echo "== kernel messages flood the console while a command prints"
# 2000 lines through /dev/kmsg (on the console at the default log level) while seq prints
# 20000 lines: the command's output comes back whole, in order.
# (printk_devkmsg=on: no rate limit on what userspace writes to /dev/kmsg.)
ex 0 'echo on >/proc/sys/kernel/printk_devkmsg
	(i=0; while [ $i -lt 2000 ]; do echo "<3>flood $i" >/dev/kmsg; i=$((i+1)); done) &
	seq 1 20000; wait'
seq 1 20000 >"$T/seq"
cmp -s "$T/o" "$T/seq" || fail "the output of seq under the flood changed"
[ ! -s "$T/e" ] || fail "stderr under the flood: $(head -c 200 "$T/e")"
grep -q "flood 1999" "$T/boot/console.raw" || fail "the flood did not reach the console"

echo "== the attached console was not disturbed"
tm send-keys -t boot "" Enter
wait_pane boot "alpine-test login: " 30
pane boot >"$T/boot.pane"
if grep -q 'ITA' "$T/boot.pane"; then
	fail "agent frames showed on the console"
fi

echo "== errors: their own exit code and words"
expect_exit 255 "$IT" exec no-such-vm -- true 2>"$T/e"
assert_grep "no-such-vm" "$T/e"
expect_exit 255 "$IT" cp "$NAME:/no/such/file" "$T/nothing" 2>"$T/e"
assert_grep "/no/such/file" "$T/e"
for f in "$T/nothing" "$T/nothing.part"; do
	[ ! -e "$f" ] || fail "a failed copy left $f behind"
done
expect_exit 255 "$IT" cp "$T/blob" "$NAME:/no/such/dir/blob" 2>"$T/e"
assert_grep "/no/such/dir" "$T/e"
expect_exit 255 "$IT" cp "$T/no-such-file" "$NAME:/tmp/x" 2>"$T/e"
assert_grep "no-such-file" "$T/e"
# Its own usage errors too: 2 could be the command's.
expect_exit 255 "$IT" exec "$NAME" 2>"$T/e"
assert_grep "no command given" "$T/e"
expect_exit 255 "$IT" exec "$NAME" -- 2>"$T/e"
assert_grep "no command given" "$T/e"
expect_exit 255 "$IT" exec --timeout soon "$NAME" -- true 2>"$T/e"
assert_grep "bad --timeout 'soon'" "$T/e"
# Without the '--'; the words are joined with spaces as ssh(1) joins them, for the guest's sh.
"$IT" exec "$NAME" echo '"two  spaces"' "it\'s" >"$T/o" || fail "exec without -- failed"
[ "$(cat "$T/o")" = "two  spaces it's" ] || fail "words joined wrongly: $(cat "$T/o")"

"$IT" stop "$NAME" >"$T/stop.out" 2>&1 || {
	cat "$T/stop.out"
	fail "stop failed"
}
i=0
while [ ! -s "$T/boot.rc" ]; do
	i=$((i + 1))
	[ "$i" -lt 150 ] || fail "boot did not end after stop"
	sleep 0.2
done
[ "$(cat "$T/boot.rc")" -eq 0 ] || fail "boot exited $(cat "$T/boot.rc") after stop"
assert_no_process "$T/boot/initrd.img" "qemu still running after stop"
echo "done in $(($(date +%s) - start)) s"
