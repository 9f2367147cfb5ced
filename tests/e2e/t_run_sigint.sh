# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Ctrl-C at any point of a run, to initrd-test or to its process group as a terminal sends it:
# while the image builds (cold cache over HTTP; also in a suite, where one run waits for the
# other's build) and while it is written, while the kernel boots, in the middle of the scenario and while a failed run
# keeps its VM (again and again, as an impatient user does), in a suite of two VMs, and in
# 'boot'. Each time: exit code 130, complete verdict files, no qemu or initrd-test process
# left, no hub socket, metadata or QMP directory, no temp file in the output or the cache;
# and at the end the cache still runs offline. A run whose SIGINT is ignored (a script's
# background job) is not stopped by it.
. "$TOP/tests/e2e/lib.sh"
require_qemu
command -v python3 >/dev/null || fail "setup: python3 missing"
command -v setsid >/dev/null || fail "setup: setsid missing (util-linux)"

# Everything of the hub (sockets, metadata) and qemu's QMP directories live here.
export XDG_RUNTIME_DIR="$T/rt"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
CACHE="$T/cache"
PID=""
cleanup() {
	[ -z "$PID" ] || kill -KILL "-$PID" 2>/dev/null || true
	stop_httpd
}
trap cleanup EXIT

# The index and packages over loopback HTTP, so that the first build fetches for a while.
start_httpd "$TOP/tests/data"
URL="http://127.0.0.1:$HTTPD_PORT/alpine-3.19.1"

# start NAME ARGS...: 'initrd-test run ARGS' in the background, in a process group of its own
# (as a shell gives a foreground job) and with SIGINT at its default (a background job of a
# non-interactive shell starts with it ignored); sets PID, output in $T/NAME.out and .err.
start() {
	name=$1
	shift
	setsid env --default-signal=INT "$IT" run --repo "$URL" --kernel host --cache-dir "$CACHE" \
		"$@" >"$T/$name.out" 2>"$T/$name.err" &
	PID=$!
	sleep 0.1
	[ "$(ps -o pgid= -p "$PID" | tr -d ' ')" = "$PID" ] ||
		fail "setup: $name is not the leader of its process group"
}

# ctrl_c HOW: SIGINT to initrd-test alone ('process') or to its process group ('group', what
# a terminal's Ctrl-C does).
ctrl_c() {
	if [ "$1" = group ]; then
		kill -INT "-$PID"
	else
		kill -INT "$PID"
	fi
}

# ctrl_c_again HOW: an impatient user, as fast as the shell can, until initrd-test ends: some
# come while it stops the VM, removes its files and writes its verdict.
ctrl_c_again() {
	while ctrl_c "$1" 2>/dev/null; do
		:
	done
}

# ended NAME DIR VERDICT: initrd-test exits 130 with the verdict line VERDICT (a basic regex;
# '': none) and leaves nothing behind.
ended() {
	set +e
	wait "$PID"
	rc=$?
	set -e
	PID=""
	sed 's/^/    /' "$T/$1.out" "$T/$1.err"
	[ "$rc" -eq 130 ] || fail "$1: exit $rc, expected 130"
	[ -z "$3" ] || grep -q "^$3" "$T/$1.out" || fail "$1: no verdict line '$3'"
	# qemu is reaped before initrd-test exits; its command line names DIR, as do the
	# command lines of initrd-test and of a suite's children.
	assert_no_process "$2" "$1: a process of the run is left: $(pgrep -af "$2" || true)"
	left=$(find "$XDG_RUNTIME_DIR" -mindepth 1 ! -name initrd-test)
	[ -z "$left" ] || fail "$1: left in the runtime directory: $left"
	[ -d "$2" ] || fail "$1: no output directory $2"
	assert_no_tmp "$1" "$2" "$CACHE"
}

# verdict FILE WANT: FILE is complete JSON whose every run has verdict WANT.
verdict() {
	[ -s "$1" ] || fail "no $1"
	python3 -m json.tool "$1" >/dev/null || fail "$1 is not complete JSON"
	python3 -c 'import json,sys
runs = json.load(open(sys.argv[1]))["runs"]
assert runs and all(r["verdict"] == sys.argv[2] for r in runs), [r["verdict"] for r in runs]' \
		"$1" "$2" || fail "$1: not every verdict is $2"
}

echo "== a: Ctrl-C while the image is being built (cold cache, packages over HTTP)"
for how in process group; do
	rm -rf "$CACHE"
	start "build-$how" -o "$T/build-$how" "$TOP/scenarios/networking"
	wait_text "$T/build-$how.err" '^fetching [0-9]* packages' 30
	ctrl_c $how
	ended "build-$how" "$T/build-$how" 'INTERRUPTED networking: .*interrupted'
	verdict "$T/build-$how/result.json" interrupted
	[ ! -e "$T/build-$how/initrd.img" ] || fail "build-$how: an initrd was written"
	assert_no_process "$T/build-$how/initrd.img" "build-$how: a VM was started"
	if grep -q '^\(built\|booting\) ' "$T/build-$how.err"; then
		fail "build-$how: the build was not interrupted"
	fi
done

echo "== a2: Ctrl-C while a suite builds its image (cold cache): one run builds, one waits"
rm -rf "$CACHE"
for s in one two; do
	mkdir -p "$T/suite/$s"
	echo "include $TOP/scenarios/networking" >"$T/suite/$s/scenario"
done
start suite-build -j 2 -o "$T/suite-build" "$T/suite"
i=0
while ! cat "$T/suite-build/one/run.log" "$T/suite-build/two/run.log" 2>/dev/null |
	grep -q '^fetching [0-9]* packages'; do
	kill -0 "$PID" 2>/dev/null || fail "suite-build: the suite ended before its build"
	i=$((i + 1))
	[ $i -lt 300 ] || fail "suite-build: no build started"
	sleep 0.1
done
ctrl_c group
ended suite-build "$T/suite-build" 'INTERRUPTED one'
assert_grep '^INTERRUPTED two' "$T/suite-build.out"
# Each run wrote its own verdict: the builder's and the one that waited for its lock.
verdict "$T/suite-build/one/result.json" interrupted
verdict "$T/suite-build/two/result.json" interrupted
verdict "$T/suite-build/results.json" interrupted
[ -z "$(find "$T/suite-build/.builds" -name initrd.img)" ] || fail "suite-build: an initrd was written"

echo "== a3: Ctrl-C while the initrd is written: no VM boots"
start writing -o "$T/writing" "$TOP/scenarios/networking"
wait_text "$T/writing.err" '^writing ' 60
ctrl_c group
ended writing "$T/writing" 'INTERRUPTED networking.*interrupted'
verdict "$T/writing/result.json" interrupted
# Unless the signal came only once the build was done, no initrd is left behind.
if ! grep -q '^built ' "$T/writing.err"; then
	[ ! -e "$T/writing/initrd.img" ] || fail "writing: the initrd of an interrupted build was kept"
fi

echo "== b: Ctrl-C once qemu runs, before OpenRC (the kernel boots)"
start boot -o "$T/boot" "$TOP/scenarios/networking"
wait_for_process "$T/boot/initrd.img" "qemu"
ctrl_c group
ended boot "$T/boot" 'INTERRUPTED networking.*interrupted by SIGINT'
verdict "$T/boot/result.json" interrupted
if grep -q 'OpenRC' "$T/boot/console.log"; then
	fail "boot: the signal came after OpenRC started"
fi

echo "== b2: SIGINT ignored, as by a script for its background job: only SIGTERM stops the run"
# No 'env --default-signal' here: the job starts with SIGINT ignored, and keeps it so.
setsid "$IT" run --repo "$URL" --kernel host --cache-dir "$CACHE" -o "$T/ignored" \
	"$TOP/scenarios/networking" >"$T/ignored.out" 2>"$T/ignored.err" &
PID=$!
sleep 0.2
kill -INT "$PID"
wait_for_process "$T/ignored/initrd.img" "qemu"
kill -INT "$PID"
wait_text "$T/ignored/console.log" 'OpenRC [0-9.]* is starting up' 120
kill -TERM "$PID"
ended ignored "$T/ignored" 'INTERRUPTED networking .*interrupted by SIGTERM'
verdict "$T/ignored/result.json" interrupted

echo "== c: Ctrl-C again and again in the middle of the scenario (OpenRC has started)"
start middle -o "$T/middle" "$TOP/scenarios/networking"
wait_text "$T/middle/console.log" 'OpenRC [0-9.]* is starting up' 120
ctrl_c_again process
ended middle "$T/middle" 'INTERRUPTED networking .*interrupted by SIGINT'
verdict "$T/middle/result.json" interrupted
python3 -c 'import json,sys
steps = json.load(open(sys.argv[1]))["runs"][0]["steps"]
assert steps[0]["name"] == "openrc" and steps[0]["status"] == "passed", steps[0]' \
	"$T/middle/result.json" || fail "middle: the step that passed is not in result.json"

echo "== d: Ctrl-C ends a VM kept after a failed run (--keep)"
mkdir -p "$T/failfast"
cat >"$T/failfast/scenario" <<EOS
include $TOP/scenarios/networking
# The kernel's first line: the run fails at once.
fail "Linux version"
EOS
start kept --keep -o "$T/kept" "$T/failfast"
wait_text "$T/kept.err" 'keeps running for you' 120
ls "$XDG_RUNTIME_DIR/initrd-test/"*.sock >/dev/null 2>&1 || fail "kept: no console socket"
ctrl_c_again group
ended kept "$T/kept" 'FAILED failfast'
# The run's verdict was written when it failed, before the VM was kept; it stands.
verdict "$T/kept/result.json" failed
assert_grep 'powering off (Interrupt)' "$T/kept.err"

echo "== e: Ctrl-C in the middle of a suite of two VMs (-j 2)"
start suite -j 2 -o "$T/suite-out" "$T/suite"
i=0
while [ "$(pgrep -fc "$T/suite-out/.builds/" || true)" -lt 2 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "suite: the two VMs never ran at once"
	sleep 0.1
done
sleep 2
ctrl_c_again group
ended suite "$T/suite-out" 'INTERRUPTED one'
assert_grep '^INTERRUPTED two' "$T/suite.out"
verdict "$T/suite-out/results.json" interrupted
verdict "$T/suite-out/one/result.json" interrupted
verdict "$T/suite-out/two/result.json" interrupted

echo "== f: Ctrl-C again and again ends 'initrd-test boot' (no terminal: it serves the console)"
setsid env --default-signal=INT "$IT" boot --repo "$URL" --kernel host --cache-dir "$CACHE" \
	-o "$T/bootcmd" "$TOP/scenarios/networking" >"$T/bootcmd.out" 2>"$T/bootcmd.err" &
PID=$!
wait_text "$T/bootcmd.err" 'keeps running for you' 120
ctrl_c_again process
ended bootcmd "$T/bootcmd" ''
assert_grep 'powering off (Interrupt)' "$T/bootcmd.err"

echo "== after all that, the cache runs networking offline"
"$IT" run --offline --repo "$URL" --kernel host --cache-dir "$CACHE" -o "$T/offline" \
	"$TOP/scenarios/networking" >"$T/offline.out" 2>&1 || {
	cat "$T/offline.out"
	fail "the offline run from the cache did not pass"
}
assert_grep '^PASSED networking' "$T/offline.out"
[ -z "$(find "$XDG_RUNTIME_DIR" -mindepth 1 ! -name initrd-test)" ] ||
	fail "the passed run left files in the runtime directory"
echo "ok"
