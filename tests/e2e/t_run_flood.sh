# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# shellcheck disable=SC2016 # $(...) in the scenario's sends is for the guest's shell
# A guest that floods its serial console (a long line without newlines, random bytes, lines)
# keeps initrd-test's memory and disk bounded: with --log-max 1M, console.raw and console.log
# stay under 1 MiB, keep the console's start and its end, and say exactly how much was left
# out; the run still matches the marker that follows the flood, and passes. An 'attach'
# client watching the flood stays bounded too. Then 'initrd-test boot' of a guest whose init
# floods and powers off: its logs are capped the same way.
. "$TOP/tests/e2e/lib.sh"
require_qemu
kernel=$(host_kernel)

CAP=1048576
BOOT_CAP=65536
# Peak resident memory (VmHWM, KiB) allowed to run, attach and boot, which build nothing here
RSS_MAX_KB=24576
# and how much of it may come while the guest writes its 3 MB (two 256 KiB tails for the
# logs, the engine's longest line, slack): a copy of the flood anywhere would not fit.
FLOOD_RSS_KB=1536

# Unix socket paths are short: the VMs' directory lives in /tmp.
private_runtime flood
# Processes of ours that may still run when the test fails half-way.
bg_pids=""
cleanup() {
	for p in $bg_pids; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$RT"
}
trap cleanup EXIT

# hwm PID: its VmHWM now, in KiB.
hwm() {
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status"
}

# assert_rss OUT WHAT [BEFORE]: the sampled peak is there and under the bound; and it grew by
# less than FLOOD_RSS_KB from BEFORE, the peak when the flood began.
assert_rss() {
	[ -s "$1" ] || fail "no memory sample of $2"
	peak=$(cat "$1")
	echo "$2: peak RSS $peak KiB (bound $RSS_MAX_KB), ${3:-?} KiB when the flood began"
	[ "$peak" -lt "$RSS_MAX_KB" ] || fail "$2 peaked at $peak KiB"
	[ -z "${3:-}" ] || [ $((peak - $3)) -lt "$FLOOD_RSS_KB" ] ||
		fail "$2 grew by $((peak - $3)) KiB during the flood"
}

# check_log FILE CAP: FILE is under CAP bytes and has one note; sets HEAD, OMITTED and TAIL
# (the byte counts of what comes before the note, its number, what follows it).
check_log() {
	counts=$(log_counts "$1" "$2") || fail "$1 is not a capped log"
	HEAD=${counts%% *}
	TAIL=${counts##* }
	OMITTED=${counts#* }
	OMITTED=${OMITTED% *}
	echo "$1: head $HEAD, left out $OMITTED, tail $TAIL bytes"
}
log_counts() {
	python3 - "$1" "$2" <<'EOF'
import re, sys
path, cap = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
note = rb"\[initrd-test: (\d+) bytes left out here \(--log-max (\d+)\)\]\n"
notes = list(re.finditer(note, data))
if len(data) > cap:
    sys.exit(f"{path}: {len(data)} bytes, over the cap of {cap}")
if len(notes) != 1 or int(notes[0].group(2)) != cap:
    sys.exit(f"{path}: {len(notes)} notes for --log-max {cap}")
m = notes[0]
print(m.start(), int(m.group(1)), len(data) - m.end())
EOF
}

echo "== a bad --log-max is a usage error, before anything is built"
for bad in 1K 12 64MB -1 1.5M ''; do
	expect_exit 2 "$IT" run --log-max "$bad" -o "$T/bad" "$TOP/scenarios/minimal" 2>"$T/bad.err"
	want="bad --log-max '$bad': give 0 (no cap) or a size of at least 4K, like 64M"
	grep -qxF "initrd-test: error: $want" "$T/bad.err" || fail "--log-max '$bad': wrong error"
	[ ! -e "$T/bad" ] || fail "--log-max '$bad' made $T/bad"
done
expect_exit 2 "$IT" boot --log-max 1K "$TOP/scenarios/minimal" 2>"$T/bad.err"
assert_grep "bad --log-max '1K'" "$T/bad.err"

# ---- run: the guest logs in and floods ----------------------------------------------------
# The flood: a line of 1.2 MB without a newline, 800 kB of random bytes, 1 MB of lines.
LINE=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ
MAKE_N="yes $LINE | tr -d '\n' | head -c 1200000 >n"
MAKE_R="head -c 800000 /dev/urandom >r"
MAKE_L="yes $LINE | head -c 1000000 >l"
MAKE_F="cat n r l >f"
mkdir -p "$T/flood/rootfs"
cat >"$T/flood/scenario" <<EOS
include $TOP/scenarios/networking
timeout 420s
# No kernel messages, no output processing: the console carries the flood's bytes as they are.
send dmesg -n 1; stty -opost; cd /tmp; $MAKE_N; $MAKE_R; $MAKE_L; $MAKE_F; echo flood size \$(wc -c <f)
expect size /flood size ([0-9]+)/
send printf 'FLOOD\055START\n'; cat f; printf '\nFLOOD\055END %s\n' \$(wc -c <f)
expect flood-end /FLOOD-END \${1}/ within 300s
EOS
# For 'boot' below: an init that floods and powers off.
cat >"$T/flood/rootfs/flood.sh" <<'EOS'
#!/bin/sh
yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 600000
echo
echo BOOT-FLOOD-END
exec poweroff -f
EOS
chmod 755 "$T/flood/rootfs/flood.sh"

# Built apart: the build's own peak (index, packages) would hide the run's in VmHWM.
"$IT" build -s "$T/flood" --repo "$REPO" --kernel host --cache-dir "$T/cache" \
	-o "$T/img/initrd.img" >"$T/build.out" 2>&1 || {
	cat "$T/build.out"
	fail "setup: the build failed"
}
"$IT" run --initrd "$T/img/initrd.img" --kernel "$kernel" -o "$T/run" --log-max 1M \
	"$T/flood" >"$T/run.out" 2>"$T/run.err" &
run_pid=$!
bg_pids="$run_pid"
peak_rss "$run_pid" "$T/run.rss" &
run_sampler=$!

# An attach client watches the flood, its keyboard a fifo that never ends.
i=0
name=""
while [ -z "$name" ]; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "the run never said how to attach"
	kill -0 "$run_pid" 2>/dev/null || fail "the run ended before its VM started"
	sleep 0.1
	name=$(sed -n 's/^console: initrd-test attach \(.*\)$/\1/p' "$T/run.err")
done
mkfifo "$T/keys"
exec 4<>"$T/keys"
"$IT" attach "$name" <"$T/keys" >"$T/attach.out" 2>"$T/attach.err" &
attach_pid=$!
bg_pids="$run_pid $attach_pid"
peak_rss "$attach_pid" "$T/attach.rss" &
attach_sampler=$!

# The peaks when the flood begins: the guest says its size first.
i=0
while ! grep -q 'flood size [0-9]' "$T/run/console.log"; do
	i=$((i + 1))
	[ $i -lt 3000 ] || fail "the guest never began its flood"
	kill -0 "$run_pid" 2>/dev/null || fail "the run ended before the flood"
	sleep 0.1
done
run_before=$(hwm "$run_pid")
attach_before=$(hwm "$attach_pid")

set +e
wait "$run_pid"
rc=$?
wait "$attach_pid"
attach_rc=$?
set -e
bg_pids=""
wait "$run_sampler" "$attach_sampler"
exec 4>&-
cat "$T/run.out" "$T/run.err"
[ "$rc" -eq 0 ] || fail "the flood run exited $rc"
assert_grep '^PASSED flood' "$T/run.out"
assert_grep 'reached --log-max' "$T/run.err"

size=$(sed -n 's/.*flood size \([0-9][0-9]*\).*/\1/p' "$T/run/console.log" | head -n 1)
echo "the guest wrote $size bytes of flood"
[ "${size:-0}" -ge 3000000 ] || fail "the flood was only '$size' bytes"

# console.raw: the head holds the start marker, the tail the end one, and the bytes between
# them add up, through the note's count, to exactly what the guest wrote.
check_log "$T/run/console.raw" "$CAP"
python3 - "$T/run/console.raw" "$size" <<'EOF' || fail "console.raw miscounts the flood"
import re, sys
data = open(sys.argv[1], "rb").read()
size = int(sys.argv[2])
note = re.search(rb"\n\[initrd-test: (\d+) bytes left out here [^\n]*\n", data)
head, tail, omitted = data[:note.start()], data[note.end():], int(note.group(1))
start = head.find(b"FLOOD-START\n")
# The run stops as soon as the marker shows, before its line ends.
end = tail.find(b"\nFLOOD-END %d" % size)
if start < 0 or end < 0:
    sys.exit(f"markers: start at {start} in the head, end at {end} in the tail")
between = len(head) - (start + len(b"FLOOD-START\n")) + omitted + end
if between != size:
    sys.exit(f"{between} bytes between the markers, the guest wrote {size}")
if b"alpine-test login:" not in head:
    sys.exit("no login prompt in the head")
EOF
[ "$OMITTED" -gt $((size - CAP)) ] || fail "console.raw left out only $OMITTED bytes"

# console.log: cleaned lines, capped alike; the note is a line of its own.
check_log "$T/run/console.log" "$CAP"
[ "$OMITTED" -gt $((size - CAP)) ] || fail "console.log left out only $OMITTED bytes"
head -c "$HEAD" "$T/run/console.log" | grep -q 'alpine-test login:' || fail "no login at its head"
tail -c "$TAIL" "$T/run/console.log" | grep -q "FLOOD-END $size" || fail "no end marker at its end"
# The run's report shows the real end of the console.
assert_grep "FLOOD-END $size" "$T/run/result.json"

assert_rss "$T/run.rss" "initrd-test run" "$run_before"
cat "$T/attach.err"
[ "$attach_rc" -eq 0 ] || fail "attach exited $attach_rc"
assert_rss "$T/attach.rss" "initrd-test attach" "$attach_before"
grep -q "FLOOD-END $size" "$T/attach.out" || fail "the attach client did not see the end"
[ "$(wc -c <"$T/attach.out")" -gt "$size" ] || fail "the attach client saw less than the flood"

# ---- boot: an init that floods, then powers off -------------------------------------------
"$IT" boot --initrd "$T/img/initrd.img" --kernel "$kernel" -o "$T/boot" --log-max 64K \
	--append rdinit=/flood.sh "$T/flood" >"$T/boot.out" 2>"$T/boot.err" </dev/null &
boot_pid=$!
bg_pids="$boot_pid"
peak_rss "$boot_pid" "$T/boot.rss" &
boot_sampler=$!
set +e
wait "$boot_pid"
rc=$?
set -e
bg_pids=""
wait "$boot_sampler"
cat "$T/boot.out" "$T/boot.err"
[ "$rc" -eq 0 ] || fail "boot exited $rc"
assert_grep 'reached --log-max' "$T/boot.err"
for f in console.raw console.log; do
	check_log "$T/boot/$f" "$BOOT_CAP"
	[ "$OMITTED" -gt 500000 ] || fail "boot $f left out only $OMITTED bytes"
	tail -c "$TAIL" "$T/boot/$f" | grep -q BOOT-FLOOD-END || fail "no end marker in boot's $f"
done
assert_rss "$T/boot.rss" "initrd-test boot"
assert_no_process "$T/img/initrd.img" "qemu left running"

# ---- run onto a full disk: the console log cannot be written -------------------------------
# The flood init again, --log-max 0, the out dir on a 128 KiB tmpfs: the run ends as an
# infrastructure error naming the directory, and no qemu is left.
mkdir -p "$T/full" "$T/diskfull"
if mount -t tmpfs -o size=128k tmpfs "$T/full" 2>"$T/mount.err"; then
	cat >"$T/diskfull/scenario" <<EOS
packages alpine-base
vm append rdinit=/flood.sh
expect end /BOOT-FLOOD-END/ within 200s
EOS
	set +e
	"$IT" run -q --initrd "$T/img/initrd.img" --kernel "$kernel" -o "$T/full/run" \
		--log-max 0 "$T/diskfull" >"$T/full.out" 2>"$T/full.err"
	rc=$?
	set -e
	cat "$T/full.out" "$T/full.err"
	umount "$T/full"
	[ "$rc" -eq 3 ] || fail "a run onto a full disk exited $rc, expected 3"
	grep -q "cannot write the console log in '$T/full/run': No space left on device" \
		"$T/full.err" "$T/full.out" || fail "no disk-full error naming the out dir"
	assert_no_process "$T/img/initrd.img" "qemu left running after the disk-full run"
else
	echo "SKIPPED: disk full case: cannot mount a tmpfs ($(cat "$T/mount.err"))"
fi
