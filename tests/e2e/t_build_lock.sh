# SPDX-License-Identifier: MIT
# Lockfiles (docs/lockfile.md), without a VM: a scenario of the local Alpine repository and an
# HTTP repository on loopback holding lockdemo-1. 'lock' writes initrd-test.lock beside the
# scenario; 'build' then installs exactly its packages and '--frozen' passes. lockdemo-2 added to
# the repository changes nothing in a locked build, but '--frozen' fails (exit 2) naming the
# difference. A tampered checksum in the lock is refused naming the package and the lock; a
# package file that is not the one locked is refused; lockdemo-1 deleted from the repository is
# the clear error that suggests --update-lock, and --update-lock moves the lock to lockdemo-2.
# A package list that outgrew its lock is refused by build and by run (before any VM). 'cache
# prune --all' keeps the packages a lock needs.
# shellcheck shell=sh
. "$TOP/tests/e2e/lib.sh"

command -v python3 >/dev/null || fail "setup: python3 missing"
W="$T/www/main/x86_64"
index() { # EXTRA-ARGS...
	python3 "$MKAPK" index --key "$TESTKEY" "$W/APKINDEX.tar.gz" "$@" ||
		fail "setup: cannot index $W"
}
demo_apk "$T/www/main" lockdemo 1-r0 1
index "$W/lockdemo-1-r0.apk"
mkdir "$T/keys"
cp "$KEYS"/*.pub "$TESTKEY.pub" "$T/keys/"
start_httpd "$T/www"
trap stop_httpd EXIT
MAIN="http://127.0.0.1:$HTTPD_PORT/main"
mkdir "$T/scn"
cat >"$T/scn/scenario" <<EOS
repo $REPO
repo $MAIN
packages alpine-base lockdemo
EOS
LOCK="$T/scn/initrd-test.lock"
set -- -s "$T/scn" --keys-dir "$T/keys" --cache-dir "$T/cache"
build() { # NAME ARGS...: a build into $T/NAME (initrd and tree); its log in $T/NAME.out
	name=$1
	shift
	"$IT" build "$@" -o "$T/$name/initrd.img" --rootfs "$T/$name/root" >"$T/$name.out" 2>&1
}

# lock: the file beside the scenario, its format line, the arch, the repositories, the packages.
"$IT" lock "$@" >"$T/lock.out" 2>&1 || {
	cat "$T/lock.out"
	fail "lock failed"
}
cat "$LOCK"
assert_grep "^$LOCK: 26 packages\$" "$T/lock.out"
assert_grep '^initrd-test-lock 1$' "$LOCK"
assert_grep '^arch x86_64$' "$LOCK"
assert_grep "^repo $MAIN\$" "$LOCK"
assert_grep "^pkg lockdemo 1-r0 Q1[A-Za-z0-9+/]*= $MAIN\$" "$LOCK"
assert_grep "^pkg busybox 1.36.1-r15 Q1AYNx2pLOAHRYZQgv3nM8TNtvRWY= $REPO\$" "$LOCK"
[ "$(grep -c '^pkg ' "$LOCK")" = 26 ] || fail "the lock does not hold 26 packages"
grep '^pkg ' "$LOCK" | cut -d' ' -f2 | LC_ALL=C sort -c || fail "the packages are not sorted by name"
cp "$LOCK" "$T/lock.1"

# build from the lock, then --frozen: the same packages.
build locked "$@" || {
	cat "$T/locked.out"
	fail "build from the lock failed"
}
assert_grep "packages from $LOCK: 26 locked" "$T/locked.out"
[ "$(cat "$T/locked/root/etc/lockdemo")" = 1 ] || fail "the locked build lacks lockdemo-1"
build frozen "$@" --frozen || {
	cat "$T/frozen.out"
	fail "--frozen failed on an unchanged repository"
}
cmp "$T/locked/initrd.img" "$T/frozen/initrd.img" || fail "--frozen built another initrd"
cmp "$LOCK" "$T/lock.1" || fail "a build changed the lock"
# 'cache prune --all' leaves the downloaded packages: the locked build then runs offline.
"$IT" cache prune --all --cache-dir "$T/cache" >/dev/null || fail "cache prune --all failed"
build offline "$@" --offline || {
	cat "$T/offline.out"
	fail "the locked build failed offline after 'cache prune --all'"
}
cmp "$T/locked/initrd.img" "$T/offline/initrd.img" || fail "the offline build differs"

# A newer lockdemo in the repository: the locked build keeps 1, --frozen fails naming it.
demo_apk "$T/www/main" lockdemo 2-r0 2
index "$W/lockdemo-1-r0.apk" "$W/lockdemo-2-r0.apk"
build newer "$@" || {
	cat "$T/newer.out"
	fail "the locked build failed once lockdemo-2 was added"
}
[ "$(cat "$T/newer/root/etc/lockdemo")" = 1 ] || fail "a newer package changed a locked build"
cmp "$T/locked/initrd.img" "$T/newer/initrd.img" || fail "the locked build changed"
expect_exit 2 build stale "$@" --frozen
cat "$T/stale.out"
assert_grep "error: --frozen: '$LOCK' would change: lockdemo: 1-r0 locked, 2-r0 resolved" "$T/stale.out"
[ "$(grep -c 'error:' "$T/stale.out")" = 1 ] || fail "--frozen said more than one error line"
[ ! -e "$T/stale/initrd.img" ] || fail "--frozen wrote an initrd"
expect_exit 2 "$IT" build "$@" --frozen --update-lock -o "$T/x.img" 2>"$T/err"
assert_grep "give one" "$T/err"

# A tampered checksum in the lock: refused, the package and the lock's line named.
sed 's|^pkg lockdemo 1-r0 Q1.|pkg lockdemo 1-r0 Q1Z|' "$T/lock.1" >"$LOCK"
cmp -s "$LOCK" "$T/lock.1" && sed -i 's|^pkg lockdemo 1-r0 Q1.|pkg lockdemo 1-r0 Q1Y|' "$LOCK"
expect_exit 3 build tampered "$@"
cat "$T/tampered.out"
line=$(grep -n '^pkg lockdemo ' "$LOCK" | cut -d: -f1)
assert_grep "error: $LOCK:$line: 'lockdemo-1-r0': the lock's checksum Q1.* is not the index's" \
	"$T/tampered.out"
cp "$T/lock.1" "$LOCK"

# A package file that is not the one locked (the index agrees with the lock, the file does not).
old=$(sed -n 's|^pkg lockdemo 1-r0 \(Q1[^ ]*\) .*|\1|p' "$LOCK")
cp "$W/lockdemo-1-r0.apk" "$T/lockdemo-1-r0.apk.good"
demo_apk "$T/www/main" lockdemo 1-r0 forged
index "$W/lockdemo-1-r0.apk" "$W/lockdemo-2-r0.apk" --edit "lockdemo:C=$old" \
	--size-of "lockdemo=$W/lockdemo-1-r0.apk"
expect_exit 3 build forged "$@" --cache-dir "$T/cache2"
cat "$T/forged.out"
assert_grep "error: .*lockdemo-1-r0.apk': checksum Q1.* does not match" "$T/forged.out"
assert_grep "hint: '$LOCK' locked the index's checksum" "$T/forged.out"
cp "$T/lockdemo-1-r0.apk.good" "$W/lockdemo-1-r0.apk"

# lockdemo-1 deleted from the repository: the clear error, then --update-lock moves on.
rm "$W/lockdemo-1-r0.apk"
index "$W/lockdemo-2-r0.apk"
expect_exit 3 build gone "$@"
cat "$T/gone.out"
assert_grep "error: $LOCK:$line: locked package 'lockdemo@1-r0' is in no repository's index" \
	"$T/gone.out"
assert_grep "hint: give --update-lock" "$T/gone.out"
build updated "$@" --update-lock || {
	cat "$T/updated.out"
	fail "--update-lock failed"
}
assert_grep "^pkg lockdemo 2-r0 Q1[^ ]* $MAIN\$" "$LOCK"
[ "$(cat "$T/updated/root/etc/lockdemo")" = 2 ] || fail "--update-lock did not build lockdemo-2"
build frozen2 "$@" --frozen || {
	cat "$T/frozen2.out"
	fail "--frozen failed after --update-lock"
}

# --lock FILE elsewhere, and a lock the parser refuses: exit 2 with its line.
"$IT" lock "$@" --lock "$T/other.lock" >/dev/null 2>&1 || fail "lock --lock FILE failed"
cmp "$T/other.lock" "$LOCK" || fail "--lock FILE differs from the lock beside the scenario"
printf 'initrd-test-lock 1\narch x86_64\nrepo %s\npkg lockdemo 2-r0 Q1nope %s\n' "$MAIN" "$MAIN" \
	>"$T/bad.lock"
expect_exit 2 "$IT" build "$@" --lock "$T/bad.lock" -o "$T/x.img" 2>"$T/err"
assert_grep "error: $T/bad.lock:4: bad checksum" "$T/err"
# A package the scenario now asks for that the lock lacks: exit 2, --update-lock suggested.
echo 'packages openrc' >>"$T/scn/scenario"
sed -i '/^pkg openrc /d' "$LOCK"
expect_exit 2 "$IT" build "$@" -o "$T/x.img" 2>"$T/err"
assert_grep "'openrc' is asked for, but no package of '$LOCK' is it" "$T/err"
# run builds from the same lock: the same refusal, before any VM starts.
expect_exit 2 "$IT" run --keys-dir "$T/keys" --cache-dir "$T/cache" -o "$T/runout" "$T/scn" \
	>"$T/err" 2>&1
assert_grep "'openrc' is asked for, but no package of '$LOCK' is it" "$T/err"
