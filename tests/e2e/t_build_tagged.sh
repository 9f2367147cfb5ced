# SPDX-License-Identifier: MIT
# Tagged repositories, as apk pins them: a '@testing' repository served over HTTP on loopback
# holds tagdemo-2 and tagonly-1, an untagged one tagdemo-1. 'tagdemo' takes the untagged 1,
# 'tagdemo@testing' the tagged 2 (shown in the plan, kept in /etc/apk/world, and the repository
# listed as '@testing URL' in /etc/apk/repositories), and 'tagonly' untagged is a package
# error (exit 2) that says where it is. The scenario's 'repo @testing URL' does the same.
# (The packages install 4 KiB: apk lets a package of installed size 0 come from any tag.)
# shellcheck shell=sh
. "$TOP/tests/e2e/lib.sh"

command -v python3 >/dev/null || fail "setup: python3 missing"
demo_apk "$T/stable" tagdemo 1 1
demo_apk "$T/www/testing" tagdemo 2 2
demo_apk "$T/www/testing" tagonly 1 1
for d in "$T/stable" "$T/www/testing"; do
	python3 "$MKAPK" index --key "$TESTKEY" "$d/x86_64/APKINDEX.tar.gz" "$d"/x86_64/*.apk ||
		fail "setup: cannot index $d"
done
mkdir "$T/keys"
cp "$KEYS"/*.pub "$TESTKEY.pub" "$T/keys/"
start_httpd "$T/www"
trap stop_httpd EXIT
TESTING="http://127.0.0.1:$HTTPD_PORT/testing"
set -- --repo "$REPO" --repo "$T/stable" --repo "@testing $TESTING" --keys-dir "$T/keys" \
	--cache-dir "$T/cache"

"$IT" build "$@" --dry-run tagdemo >"$T/plan.untagged" 2>&1 || {
	cat "$T/plan.untagged"
	fail "untagged plan failed"
}
cat "$T/plan.untagged"
grep -q '^tagdemo-1 ' "$T/plan.untagged" || fail "'tagdemo' did not take the untagged tagdemo-1"

"$IT" build "$@" --dry-run tagdemo@testing >"$T/plan.tagged" 2>&1
grep -E "^tagdemo-2 .* @testing $TESTING\$" "$T/plan.tagged" || {
	cat "$T/plan.tagged"
	fail "the plan does not show tagdemo-2 under @testing"
}
"$IT" build "$@" --rootfs "$T/root" -o "$T/initrd.img" alpine-base tagdemo@testing \
	>"$T/build.out" 2>&1 || {
	cat "$T/build.out"
	fail "build with tagdemo@testing failed"
}
[ "$(cat "$T/root/etc/tagdemo")" = 2 ] || fail "/etc/tagdemo is not tagdemo-2's"
assert_grep '^tagdemo@testing$' "$T/root/etc/apk/world"
assert_grep "^@testing $TESTING\$" "$T/root/etc/apk/repositories"

expect_exit 2 "$IT" build "$@" --dry-run tagonly 2>"$T/err"
cat "$T/err"
assert_grep "tagonly: tagonly-1 is only in @testing" "$T/err"
assert_grep "name@tag" "$T/err"

# A tag no repository has: exit 2, the tag named, and how to add one.
expect_exit 2 "$IT" build "$@" --dry-run tagdemo@edge 2>"$T/err"
assert_grep "no repository is tagged '@edge'" "$T/err"

# The scenario form: 'repo @testing URL'.
mkdir "$T/scn"
cat >"$T/scn/scenario" <<EOS
repo $REPO
repo $T/stable
repo @testing $TESTING
packages tagdemo@testing
EOS
"$IT" build -s "$T/scn" --keys-dir "$T/keys" --cache-dir "$T/cache" --dry-run \
	>"$T/plan.scn" 2>&1 || {
	cat "$T/plan.scn"
	fail "scenario with 'repo @testing URL' failed"
}
grep -q '^tagdemo-2 .*@testing' "$T/plan.scn" || fail "the scenario's plan lacks tagdemo-2 @testing"
printf 'repo @bad/tag %s\n' "$TESTING" >"$T/scn/scenario"
expect_exit 2 "$IT" build -s "$T/scn" --keys-dir "$T/keys" --dry-run 2>"$T/err"
assert_grep "bad repository tag '@bad/tag'" "$T/err"
