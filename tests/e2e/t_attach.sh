# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# shellcheck disable=SC2016 # $((...)) typed into panes is for the guest's shell
# Hands-on work through real terminals (tmux panes), one VM boot: 'initrd-test boot' attaches
# its terminal, root logs in, Ctrl-] d detaches and the VM runs on; two 'attach' clients see
# the same output, one killed by SIGTERM leaves its terminal as it was; 'stop' ends it all.
. "$TOP/tests/e2e/lib.sh"
require_qemu
command -v tmux >/dev/null || fail "setup: tmux missing (apt-get install tmux)"

# Unix socket paths are short: the VMs' directory and tmux's socket live in /tmp.
private_runtime attach
cleanup() {
	if [ -s "$T/boot.pid" ] && kill -0 "$(cat "$T/boot.pid")" 2>/dev/null; then
		kill -TERM "$(cat "$T/boot.pid")" 2>/dev/null || true
		sleep 3
	fi
	tm kill-server 2>/dev/null || true
	rm -rf "$RT"
}
trap cleanup EXIT

# wait_file FILE SECONDS: FILE exists and is not empty.
wait_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ "$i" -lt $(($2 * 5)) ] || fail "no $1 after $2 s"
		sleep 0.2
	done
}

# A client script: NAME; its pid, exit code and terminal modes (stty -g) before and after.
client_script() {
	cat >"$T/$1.sh" <<EOS
export XDG_RUNTIME_DIR='$RT' NO_COLOR=1
stty -g >'$T/$1.before'
sh -c 'echo \$\$ >"\$1"; exec "\$2" attach "\$3"' sh '$T/$1.pid' '$IT' '$NAME'
echo \$? >'$T/$1.rc'
stty -g >'$T/$1.after'
exec sleep 600
EOS
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

# The terminal is attached at once: the boot shows, then the login prompt.
wait_pane boot "[initrd-test: attached to networking-" 60
wait_pane boot "alpine-test login: " 150
echo "login prompt after $(($(date +%s) - start)) s"
tm send-keys -t boot root Enter
wait_pane boot "alpine-test:~# " 30
tm send-keys -t boot "cat /etc/hostname" Enter
i=0
while ! pane boot | grep -qx 'alpine-test'; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "no line 'alpine-test' from cat /etc/hostname"
	sleep 0.2
done

# Detach: the VM keeps running, served by the boot process in the foreground.
"$IT" ps >"$T/ps1"
cat "$T/ps1"
[ "$(wc -l <"$T/ps1")" -eq 2 ] || fail "ps does not list exactly one VM"
NAME=$(awk 'NR == 2 { print $1 }' "$T/ps1")
case "$NAME" in networking-*) ;; *) fail "odd VM name '$NAME'" ;; esac
assert_grep "interactive (initrd-test boot)" "$T/ps1"
[ "$("$IT" ps -q)" = "$NAME" ] || fail "ps -q does not name $NAME alone"
"$IT" ps --json | python3 -c 'import json,sys; v = json.load(sys.stdin); assert [e["name"] for e in v] == [sys.argv[1]], v' "$NAME" ||
	fail "ps --json does not list $NAME"
tm send-keys -t boot C-] d
wait_pane boot "detached from $NAME; it keeps running" 10
wait_pane boot "$NAME runs on, served by this initrd-test" 10
wait_pane boot "'initrd-test attach $NAME'" 10
sleep 1
[ ! -e "$T/boot.rc" ] || fail "boot ended on detach: $(cat "$T/boot.rc")"
pgrep -f "$T/boot/initrd.img" >/dev/null || fail "qemu is gone after the detach"
"$IT" ps >"$T/ps2"
grep -q "^$NAME " "$T/ps2" || fail "ps does not list $NAME after the detach"

# Two clients at once: both get the console's tail, then both see new output.
client_script c1
client_script c2
pane_start c1 "$T/c1.sh"
pane_start c2 "$T/c2.sh"
wait_pane c1 "[initrd-test: attached to $NAME;" 20
wait_pane c2 "[initrd-test: attached to $NAME;" 20
wait_pane c1 "alpine-test:~# " 10
wait_pane c2 "alpine-test:~# " 10
# The attached terminal is raw (checked from outside), so that restoring it means something.
c1_tty=$(tm display-message -p -t c1 '#{pane_tty}')
[ "$(stty -g -F "$c1_tty")" != "$(cat "$T/c1.before")" ] || fail "c1's terminal is not raw"
tm send-keys -t c1 'echo both-$((6*7))' Enter
wait_pane c1 "both-42" 20
wait_pane c2 "both-42" 20
# c1 typed first and holds the keyboard: c2's keys are dropped, and c2 is told.
tm send-keys -t c2 'echo c2-$((2*3))' Enter
wait_pane c2 "the keyboard is held by another client" 10
tm send-keys -t c1 'echo after-$((7*7))' Enter
wait_pane c2 "after-49" 20
if pane c1 | grep -q 'c2-6'; then
	fail "the second client's keys reached the VM"
fi

# SIGTERM to a client: it ends with 128+15 and its terminal modes are as they were.
wait_file "$T/c1.pid" 5
kill -TERM "$(cat "$T/c1.pid")"
wait_file "$T/c1.after" 10
[ "$(cat "$T/c1.rc")" -eq 143 ] || fail "attach exited $(cat "$T/c1.rc") on SIGTERM, not 143"
cmp -s "$T/c1.before" "$T/c1.after" || fail "SIGTERM left c1's terminal modes changed: \
$(cat "$T/c1.before") -> $(cat "$T/c1.after")"
wait_pane c1 "detached from $NAME (Terminated)" 5
# The other client detaches with the keys and is restored too.
tm send-keys -t c2 C-] d
wait_file "$T/c2.after" 10
[ "$(cat "$T/c2.rc")" -eq 0 ] || fail "attach exited $(cat "$T/c2.rc") on Ctrl-] d"
cmp -s "$T/c2.before" "$T/c2.after" || fail "Ctrl-] d left c2's terminal modes changed"
pgrep -f "$T/boot/initrd.img" >/dev/null || fail "qemu is gone after the clients left"

# stop: the VM powers off, boot ends with 0, nothing is left.
"$IT" stop "$NAME" >"$T/stop.out" 2>&1 || {
	cat "$T/stop.out"
	fail "stop failed"
}
wait_file "$T/boot.rc" 30
[ "$(cat "$T/boot.rc")" -eq 0 ] || fail "boot exited $(cat "$T/boot.rc") after stop, not 0"
wait_pane boot "$NAME: powered off" 5
sleep 0.5
if pgrep -f "$T/boot/initrd.img" >/dev/null; then
	fail "qemu still runs after stop"
fi
"$IT" ps >"$T/ps3"
[ "$(wc -l <"$T/ps3")" -eq 1 ] || fail "ps still lists a VM: $(cat "$T/ps3")"
# What the user saw is in the console log too.
assert_grep 'alpine-test login:' "$T/boot/console.log"
assert_grep 'both-42' "$T/boot/console.raw"
pane boot >"$T/boot.pane"
echo "done in $(($(date +%s) - start)) s"
