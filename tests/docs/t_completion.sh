#!/bin/bash
# SPDX-License-Identifier: MIT
# The bash and zsh completions (completion/), on the real binary: 'initrd-test at' gives
# attach, 'run --sh' gives --shard (and every option of 'run --help'), '--kernel ' offers
# host, and 'attach', 'stop', 'exec', 'cp' offer the running VMs' names from 'ps -q' (a
# console directory with two entries of a live process). zsh's completion system cannot
# run outside a terminal: its builtins (compadd, _describe, _files) are stubs that print
# what the function offers. Usage: t_completion.sh BINARY
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
top=$(cd "$(dirname "$0")/../.." && pwd)
t=$(mktemp -d)
sleep 300 &
live=$!
trap 'kill "$live" 2>/dev/null; rm -rf "$t"' EXIT
fail() {
	echo "completion: error: $*" >&2
	exit 1
}
mkdir -p "$t/bin" "$t/run/initrd-test" && chmod 0700 "$t/run/initrd-test"
ln -s "$bin" "$t/bin/initrd-test"
for n in networking-3f0c minimal-1a2b; do
	printf 'name=%s\npid=%s\nstarted=100\n' "$n" "$live" >"$t/run/initrd-test/$n.info"
done
export PATH="$t/bin:$PATH" XDG_RUNTIME_DIR="$t/run"
# The long options of 'run --help', which both completions offer after 'run --'.
run_opts=$(initrd-test run --help | sed -n 's/^  \(-., \)\{0,1\} *\(--[a-z0-9-]*\).*/\2/p')

# bash: COMPREPLY for the words given (the last is the one being completed).
complete_bash() {
	# shellcheck disable=SC1091
	. "$top/completion/initrd-test.bash"
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	_initrd_test
	printf '%s\n' "${COMPREPLY[@]}"
}
has() { # has WORD OUTPUT WHAT
	grep -qx -- "$1" <<<"$2" || fail "$3 does not offer '$1': $(echo "$2" | tr '\n' ' ')"
}
out=$(complete_bash initrd-test at)
[ "$out" = attach ] || fail "bash: 'initrd-test at' gives '$out', not attach"
out=$(complete_bash initrd-test run --sh)
[ "$out" = --shard ] || fail "bash: 'initrd-test run --sh' gives '$out', not --shard"
out=$(complete_bash initrd-test run --)
for o in $run_opts; do
	has "$o" "$out" "bash: 'initrd-test run --'"
done
out=$(complete_bash initrd-test -q run --kernel h)
[ "$out" = host ] || fail "bash: '--kernel h' gives '$out', not host"
for c in attach stop exec; do
	out=$(complete_bash initrd-test "$c" "")
	[ "$(echo "$out" | sort | tr '\n' ' ')" = "minimal-1a2b networking-3f0c " ] ||
		fail "bash: '$c' does not offer the running VMs: $out"
done
out=$(complete_bash initrd-test cp net)
has networking-3f0c: "$out" "bash: 'cp net'"
(cd "$top" && complete_bash initrd-test run scenarios/ne) | grep -qx scenarios/networking ||
	fail "bash: 'run scenarios/ne' does not offer the scenario directory"
out=$(complete_bash initrd-test ps -)
for o in -q --quiet --json; do has "$o" "$out" "bash: 'ps -'"; done

# zsh: the same cases.
complete_zsh() {
	zsh -f -c '
		compadd() { while [[ $1 == -* && $1 != -- ]]; do shift; [[ $1 == "" ]] && shift; done
			[[ $1 == -- ]] && shift; print -rl -- "$@"; }
		_describe() { print -rl -- ${${(P)4}%%:*}; }
		_files() { print -r -- "(files)"; }
		_directories() { print -r -- "(dirs)"; }
		words=("$@"); CURRENT=$#
		source "$0"' "$top/completion/_initrd-test" "$@"
}
zsh -n "$top/completion/_initrd-test" || fail "zsh: completion/_initrd-test does not parse"
out=$(complete_zsh initrd-test at)
has attach "$out" "zsh: 'initrd-test at'"
has cache "$out" "zsh: 'initrd-test at' (every command)"
out=$(complete_zsh initrd-test run --)
for o in $run_opts; do
	has "$o" "$out" "zsh: 'initrd-test run --'"
done
has host "$(complete_zsh initrd-test run --kernel "")" "zsh: '--kernel '"
for c in attach stop exec; do
	out=$(complete_zsh initrd-test "$c" "")
	has networking-3f0c "$out" "zsh: '$c'"
	has minimal-1a2b "$out" "zsh: '$c'"
done
has networking-3f0c: "$(complete_zsh initrd-test cp "")" "zsh: 'cp'"
echo "completion: bash and zsh complete commands, options, --kernel host and VM names"
