# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Helpers sourced by the end-to-end tests. $IT is the binary, $T a fresh output dir, $TOP the project.
set -eu
REPO="$TOP/tests/data/alpine-3.19.1"
KEYS="$TOP/keys"

# fd 3: the test's own stderr, so a failure shows even inside a redirected function call
exec 3>&2

fail() {
	echo "FAILED: $*" >&3
	exit 1
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

host_kernel() {
	k=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	[ -n "$k" ] || fail "setup: no kernel in /boot (apt-get install linux-image-amd64)"
	echo "$k"
}

require_qemu() {
	command -v qemu-system-x86_64 >/dev/null || fail "setup: qemu-system-x86_64 missing"
}
