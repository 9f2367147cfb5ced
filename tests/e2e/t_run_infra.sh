# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Infrastructure errors of 'run' (no qemu, no kernel) and usage errors (bad options, bad
# scenario) give their exit codes and one clear message, before any VM starts.
. "$TOP/tests/e2e/lib.sh"

# No qemu on PATH: exit 3, the binary named, with what to install. The build still works.
mkdir -p "$T/bin"
for tool in sh cat; do ln -s "$(command -v $tool)" "$T/bin/$tool"; done
expect_exit 3 env PATH="$T/bin" "$IT" run -q --repo "$REPO" --kernel host --cache-dir "$T/cache" \
	-o "$T/run1" "$TOP/scenarios/minimal" >"$T/out1" 2>&1
cat "$T/out1"
assert_grep "qemu-system-x86_64" "$T/out1"

# A kernel that does not exist: exit 3, the path named.
expect_exit 3 "$IT" run -q --repo "$REPO" --kernel /nonexistent/vmlinuz --cache-dir "$T/cache" \
	-o "$T/run2" "$TOP/scenarios/minimal" >"$T/out2" 2>&1
cat "$T/out2"
assert_grep "/nonexistent/vmlinuz" "$T/out2"

# Usage errors: exit 2 and the hint to --help.
expect_exit 2 "$IT" run --no-such-option "$TOP/scenarios/minimal" 2>"$T/out3"
assert_grep "try 'initrd-test run --help'" "$T/out3"
expect_exit 2 "$IT" run --memory lots "$TOP/scenarios/minimal" 2>"$T/out4"
assert_grep "bad --memory 'lots'" "$T/out4"
printf 'expect broken /unclosed(/\n' >"$T/bad.scenario"
expect_exit 2 "$IT" run "$T/bad.scenario" >"$T/out5" 2>&1
cat "$T/out5"
assert_grep "bad.scenario:1:" "$T/out5"
expect_exit 2 "$IT" run "$T/no-such-dir" >"$T/out6" 2>&1
assert_grep "no-such-dir" "$T/out6"
# Steps without packages: fine to replay or to boot a ready initrd, not to build.
mkdir -p "$T/steps-only"
printf 'expect x /y/\n' >"$T/steps-only/scenario"
expect_exit 2 "$IT" run -o "$T/run7" "$T/steps-only" >"$T/out7" 2>&1
cat "$T/out7"
assert_grep "steps-only/scenario: no packages: add a line such as 'packages alpine-base'" "$T/out7"
assert_grep "hint: or boot a ready initrd with --initrd FILE --kernel PATH" "$T/out7"
expect_exit 2 "$IT" build -s "$T/steps-only" -o "$T/x.img" >"$T/out8" 2>&1
assert_grep "steps-only/scenario: no packages" "$T/out8"
[ ! -e "$T/x.img" ] || fail "a build without packages wrote an initrd"
printf 'y\n' >"$T/y.log"
"$IT" replay "$T/steps-only" "$T/y.log" >"$T/out9" 2>&1 || {
	cat "$T/out9"
	fail "replay of a scenario without packages"
}

# --help teaches, on stdout, exit 0.
"$IT" run --help >"$T/help"
assert_grep "exit codes" "$T/help"
"$IT" --help >"$T/help2"
assert_grep "replay" "$T/help2"
"$IT" --version | grep -q '^initrd-test [0-9]' || fail "--version"
