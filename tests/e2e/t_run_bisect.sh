# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# run --bisect exits as 'git bisect run' wants: 0 for a pass, 1 for a crash (a real sysrq
# panic), 125 (skip) for a kernel that is not there.
. "$TOP/tests/e2e/lib.sh"
require_qemu

expect_exit 0 "$IT" run --bisect -q --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/pass" \
	"$TOP/scenarios/minimal"
expect_exit 1 "$IT" run --bisect -q --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/crashed" \
	"$TOP/tests/data/crash/sysrq-panic"
expect_exit 125 "$IT" run --bisect -q --repo "$REPO" --kernel "$T/no-such-bzImage" --cache-dir "$T/cache" \
	-o "$T/nokernel" "$TOP/scenarios/minimal"
