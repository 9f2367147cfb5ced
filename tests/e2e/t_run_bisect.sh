# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# run --bisect exits as 'git bisect run' wants: 0 for a pass, 1 for a crash (a real sysrq
# panic), 125 (skip) for a kernel that is not there.
. "$TOP/tests/e2e/lib.sh"
require_qemu

mkdir -p "$T/crash"
cat >"$T/crash/scenario" <<EOS
include $TOP/scenarios/base
agent off
expect login /alpine-test login: /
send root
expect prompt /# /
send "echo c > /proc/sysrq-trigger\n"
expect never /NEVER-MATCHES/ within 60s
EOS
expect_exit 0 "$IT" run --bisect -q --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/pass" \
	"$TOP/scenarios/minimal"
expect_exit 1 "$IT" run --bisect -q --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/crashed" \
	"$T/crash"
expect_exit 125 "$IT" run --bisect -q --repo "$REPO" --kernel "$T/no-such-bzImage" --cache-dir "$T/cache" \
	-o "$T/nokernel" "$TOP/scenarios/minimal"
