# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Helpers sourced by the end-to-end tests. $IT is the binary, $T a fresh output dir, $TOP the project.
set -eu
# shellcheck disable=SC2034 # used by the scripts that source this file
REPO="$TOP/tests/data/alpine-3.19.1"
# shellcheck disable=SC2034
KEYS="$TOP/keys"
# The test signing key (its .pub beside it) and the tool that makes signed APKs with it.
# shellcheck disable=SC2034
TESTKEY="$TOP/tests/data/testkeys/test@initrd-test-00000000.rsa"
MKAPK="$TOP/tests/tools/mkapk.py"

# fd 3: the test's own stderr, so a failure shows even inside a redirected function call
exec 3>&2

fail() {
	echo "FAILED: $*" >&3
	exit 1
}

# Only when test data cannot be fetched here (run.sh counts exit 77 as skipped, with this line).
skip() {
	echo "SKIPPED: $*"
	exit 77
}

# Run a command, expecting exit code $1; the rest is the command.
expect_exit() {
	want=$1
	shift
	set +e
	"$@"
	got=$?
	set -e
	[ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want"
}

assert_grep() {
	grep -q -- "$1" "$2" || fail "'$1' not found in $2"
}

# demo_apk DIR NAME VERSION CONTENT: a signed x86_64 package DIR/x86_64/NAME-VERSION.apk (MIT,
# "NAME VERSION", 4 KiB installed) whose one file /etc/NAME holds CONTENT.
demo_apk() {
	mkdir -p "$1/x86_64"
	python3 "$MKAPK" pkg --key "$TESTKEY" --set "pkgname=$2" --set "pkgver=$3" \
		--set arch=x86_64 --set "pkgdesc=$2 $3" --set license=MIT --set size=4096 --mkdir etc \
		--file "etc/$2=$4" "$1/x86_64/$2-$3.apk" || fail "setup: cannot make $2-$3"
}

host_kernel() {
	k=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	[ -n "$k" ] || fail "setup: no kernel in /boot (apt-get install linux-image-amd64)"
	echo "$k"
}

require_qemu() {
	command -v qemu-system-x86_64 >/dev/null || fail "setup: qemu-system-x86_64 missing"
}

# A python3 that has lxml (JUnit schema validation), as PY=$(python_with_lxml); else the
# setup fails (set -e ends the test when the substitution fails).
python_with_lxml() {
	for p in python3 /usr/bin/python3; do
		if "$p" -c 'import lxml.etree' 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	fail "setup: no python3 with lxml (apt-get install python3-lxml)"
}

# busybox httpd on 127.0.0.1 serving directory $1, in the background: sets HTTPD_PORT and
# HTTPD_PID. stop_httpd ends it (the caller's EXIT trap should too).
start_httpd() {
	command -v busybox >/dev/null || fail "setup: busybox missing (apt-get install busybox)"
	HTTPD_PORT=$((20000 + $$ % 20000))
	busybox httpd -f -p "127.0.0.1:$HTTPD_PORT" -h "$1" &
	HTTPD_PID=$!
	sleep 0.3
	kill -0 "$HTTPD_PID" 2>/dev/null || fail "setup: cannot serve on port $HTTPD_PORT"
}

stop_httpd() {
	[ -n "${HTTPD_PID:-}" ] || return 0
	kill "$HTTPD_PID" 2>/dev/null || true
	wait "$HTTPD_PID" 2>/dev/null || true
	HTTPD_PID=""
}

# Wait up to 30 s for a process whose command line matches $1 (pgrep -f): $2 says what it is.
wait_for_process() {
	i=0
	while ! pgrep -f "$1" >/dev/null; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "$2 never started"
		sleep 0.1
	done
}

# wait_text FILE TEXT SECONDS: TEXT (a basic regex) shows in FILE while $PID runs.
wait_text() {
	i=0
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		kill -0 "$PID" 2>/dev/null || {
			cat "$1" >&3
			fail "'$2' never showed in $1: initrd-test ended first"
		}
		i=$((i + 1))
		[ $i -lt $(($3 * 10)) ] || fail "'$2' did not show in $1 within $3 s"
		sleep 0.1
	done
}

# Fail with message $2 while a process whose command line matches $1 (pgrep -f) is running.
assert_no_process() {
	if pgrep -f "$1" >/dev/null; then
		fail "$2"
	fi
}

# Fail when a temp file ('*.tmp*': open_tmp_beside()'s "NAME.tmp.PID.N", a kept old output)
# is under any of the directories given after $1, which says after what.
assert_no_tmp() {
	what=$1
	shift
	left=$(find "$@" -name '*.tmp*' 2>/dev/null || true)
	[ -z "$left" ] || fail "$what: temp files left: $left"
}

# Milliseconds since the epoch (GNU date).
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# private_runtime NAME: a fresh XDG_RUNTIME_DIR for the VMs' sockets, in /tmp (unix socket
# paths are short): sets and exports RT. The caller's EXIT trap removes it.
private_runtime() {
	RT=$(mktemp -d "/tmp/it-$1.XXXXXX")
	chmod 700 "$RT"
	export XDG_RUNTIME_DIR="$RT"
}

# ---- terminals: tmux on a private socket in $RT (private_runtime first) ----

tm() {
	tmux -f /dev/null -S "$RT/tmux.sock" "$@"
}

# A pane's whole text, history included, lines joined where they wrapped.
pane() {
	tm capture-pane -p -J -S -5000 -t "$1"
}

# wait_pane SESSION TEXT SECONDS: TEXT shows in the pane (fixed string).
wait_pane() {
	i=0
	while ! pane "$1" | grep -qF -- "$2"; do
		i=$((i + 1))
		if [ "$i" -ge $(($3 * 5)) ]; then
			pane "$1" | tail -n 30 >&3
			fail "no '$2' in pane $1 after $3 s"
		fi
		sleep 0.2
	done
}

# A pane runs a script: SESSION SCRIPT.
pane_start() {
	tm new-session -d -s "$1" -x 132 -y 50 "sh $2"
}

# peak_rss PID OUT: until PID ends, write its VmHWM (KiB) to OUT every half second; the
# last sample taken before it exited stays there.
peak_rss() {
	while kill -0 "$1" 2>/dev/null; do
		v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status" 2>/dev/null || true)
		[ -z "$v" ] || echo "$v" >"$2"
		sleep 0.5
	done
}

# A VM entry in the console directory of XDG_RUNTIME_DIR=$1, as a running initrd-test writes
# it (runner.h, NAME.info), for pid $3 (a live process): name $2, started at unix time $4.
hub_entry() {
	mkdir -p "$1/initrd-test" && chmod 0700 "$1/initrd-test"
	printf 'name=%s\nscenario=%s\npid=%s\nqemu_pid=%s\nstarted=%s\nsocket=%s\nstep=%s\n' \
		"$2" "${2%-*}" "$3" "$3" "$4" "$1/initrd-test/$2.sock" "step 1/3: boot" \
		>"$1/initrd-test/$2.info"
}
