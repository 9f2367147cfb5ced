# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Real crashes of crashtest.ko (tests/kmod/crashtest) on Debian's kernel, booted as a kernel
# tree (tests/tools/make-ktree.sh): a WARNING that 'on-warning ignore' lets pass and the NULL
# dereference Oops after it, a BUG() under 'oops panic', a hung task. Each run is CRASHED
# with the class and title in crash.txt and result.json, and a frame symbolized from the
# tree's crashtest.ko to the line of crashtest.c that crashed. Three boots.
. "$TOP/tests/e2e/lib.sh"
require_qemu

"$TOP/tests/tools/make-ktree.sh" "$T/tree" >"$T/make-ktree.out" 2>&1 || {
	cat "$T/make-ktree.out"
	fail "setup: cannot lay out the kernel tree"
}
src=$TOP/tests/kmod/crashtest/crashtest.c
# The line of crashtest.c that holds $1.
line_of() {
	n=$(grep -n -F -- "$1" "$src" | head -n 1 | cut -d: -f1)
	[ -n "$n" ] || fail "'$1' not in $src"
	echo "$n"
}

# Run scenario $1 into $T/$1; it must crash.
crash_run() {
	expect_exit 1 "$IT" run --repo "$REPO" --kernel "$T/tree" --cache-dir "$T/cache" -o "$T/$1" \
		"$TOP/tests/data/crash/$1" >"$T/$1.out" 2>&1
	cat "$T/$1.out"
	assert_grep "^CRASHED $1" "$T/$1.out"
	[ -f "$T/$1/crash.txt" ] || fail "$1: no crash.txt"
	cat "$T/$1/crash.txt"
}

# $1 scenario, $2 class, $3 title, $4 the frame, $5 the text on the line it must point at.
check_crash() {
	assert_grep "^class: $2\$" "$T/$1/crash.txt"
	assert_grep "^title: $3\$" "$T/$1/crash.txt"
	assert_grep "^  $4 at .*/crashtest\.c:$(line_of "$5")\$" "$T/$1/crash.txt"
	python3 -c 'import json,re,sys; c=json.load(open(sys.argv[1]))["runs"][0]["crash"]
assert c["class"]==sys.argv[2] and c["title"]==sys.argv[3], c
f=[x for x in c["frames"] if re.fullmatch(sys.argv[4].replace("+", "\\+"), x["frame"])]
assert f and f[0]["source"].endswith("/crashtest.c:"+sys.argv[5]), c["frames"]' \
		"$T/$1/result.json" "$2" "$3" "$4" "$(line_of "$5")" || fail "$1: result.json's crash"
}

crash_run module-warn-oops
check_crash module-warn-oops oops "BUG: kernel NULL pointer dereference in crashtest_null" \
	"crashtest_null+0x[0-9a-f]*/0x[0-9a-f]* \[crashtest\]" "*p = 42;"
assert_grep "^warned *ok " "$T/module-warn-oops.out"
assert_grep "^  WARNING in crashtest_warn: WARNING: CPU: " "$T/module-warn-oops/crash.txt"
assert_grep "^    crashtest_warn+0x[0-9a-f]*/0x[0-9a-f]* \[crashtest\] at .*/crashtest\.c:$(line_of "WARN_ON(1);")\$" \
	"$T/module-warn-oops/crash.txt"

crash_run module-bug
check_crash module-bug bug "kernel BUG in crashtest_bug" \
	"crashtest_bug+0x[0-9a-f]*/0x[0-9a-f]* \[crashtest\]" "BUG();"
assert_grep " oops=panic" "$T/module-bug/command.txt"

crash_run module-hang
check_crash module-hang hung-task "INFO: task hung in crashtest_hang_fn" \
	"crashtest_hang_fn+0x[0-9a-f]*/0x[0-9a-f]* \[crashtest\]" "schedule_timeout(MAX_SCHEDULE_TIMEOUT);"
