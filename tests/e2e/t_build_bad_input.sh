# SPDX-License-Identifier: MIT
# Bad input to 'initrd-test build': damaged, forged, hostile or missing packages and indexes,
# dead mirrors, a full disk, Ctrl-C. Each gives its exit code and one error line naming the
# file or URL, and writes nothing: no initrd, no kernel, no temp file, a cache still good.
# shellcheck shell=sh
. "$TOP/tests/e2e/lib.sh"

command -v openssl >/dev/null || fail "setup: openssl missing"
command -v python3 >/dev/null || fail "setup: python3 missing"
ALPINE_KEY=alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub
ORIG="$REPO/x86_64"
BB=busybox-1.36.1-r15.apk
kernel=$(host_kernel)
CACHE="$T/cache"
OUT="$T/out"
srv=""
mnt=""
cleanup() {
	[ -z "$srv" ] || kill "$srv" 2>/dev/null || true
	[ -z "$mnt" ] || umount "$mnt" 2>/dev/null || true
}
trap cleanup EXIT

# Alpine's keys plus the test key; and a key nobody trusts.
mkdir "$T/keys"
cp "$KEYS"/*.pub "$TESTKEY.pub" "$T/keys/"
openssl genrsa -out "$T/stranger.rsa" 2048 2>/dev/null || fail "setup: openssl genrsa"

# The fault server takes a while to start on a busy machine: start it now, use it later.
mkdir -p "$T/www"
python3 "$TOP/tests/tools/httpd-fault.py" "$T/www" >"$T/port" &
srv=$!

# No file may be left half-written anywhere, and the output directory stays empty.
nothing_written() {
	[ ! -e "$OUT/initrd.img" ] || fail "$1: an initrd was written"
	[ ! -e "$OUT/vmlinuz" ] || fail "$1: a kernel was written"
	[ -z "$(ls -A "$OUT" 2>/dev/null)" ] || fail "$1: output dir not empty: $(ls -A "$OUT")"
	left=$(find "$CACHE" "$T/repo" "$T/www" -name '*.tmp.*' 2>/dev/null || true)
	[ -z "$left" ] || fail "$1: temp files left: $left"
}

# bad NAME EXIT NEEDLE [BUILD ARGS...]: the build exits EXIT with exactly one error line,
# which contains NEEDLE (a file or URL, as a fixed string), and writes nothing.
bad() {
	name=$1 want=$2 needle=$3
	shift 3
	rm -rf "$OUT"
	set +e
	"$IT" build -s "$TOP/scenarios/networking" --kernel "$kernel" --cache-dir "$CACHE" \
		-o "$OUT/initrd.img" "$@" >"$T/$name.out" 2>"$T/$name.err"
	got=$?
	set -e
	echo "  $name"
	grep -v '^\(fetched\|reading\|fetching\|assembling\|writing\) ' "$T/$name.err" |
		sed 's/^/    /' || true
	[ "$got" -eq "$want" ] || fail "$name: exit $got, expected $want"
	n=$(grep -c '^initrd-test: error: ' "$T/$name.err" || true)
	[ "$n" -eq 1 ] || fail "$name: $n error lines, expected one"
	grep '^initrd-test: error: ' "$T/$name.err" | grep -qF -- "$needle" ||
		fail "$name: the error does not name '$needle'"
	nothing_written "$name"
}

good() {
	name=$1
	shift
	rm -rf "$OUT"
	"$IT" build -s "$TOP/scenarios/networking" --kernel "$kernel" --cache-dir "$CACHE" \
		-o "$OUT/initrd.img" "$@" >"$T/$name.out" 2>"$T/$name.err" || {
		cat "$T/$name.err"
		fail "$name: the build failed"
	}
	echo "  $name: built"
	[ -s "$OUT/initrd.img" ] || fail "$name: no initrd"
	[ -s "$OUT/vmlinuz" ] || fail "$name: no kernel"
	[ -z "$(find "$CACHE" -name '*.tmp.*' 2>/dev/null)" ] || fail "$name: temp files left"
}

flip_byte() {
	off=$(($(wc -c <"$1") / 2))
	byte=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059 # the format is the byte
	printf "$(printf '\\%03o' $((byte ^ 1)))" |
		dd of="$1" bs=1 seek="$off" conv=notrunc 2>/dev/null
	cmp -s "$1" "$ORIG/$(basename "$1")" && fail "setup: no byte flipped in $1"
	return 0
}

truncate_half() {
	truncate -s $(($(wc -c <"$1") / 2)) "$1"
}

# Put the real file back, or a variant made below in $V.
restore() {
	cp "$ORIG/$1" "$P/$1"
}
use() {
	cp "$V/$1" "$P/$2"
}

cp -r "$REPO" "$T/repo"
P="$T/repo/x86_64"
V="$T/variants"
mkdir -p "$V" "$T/evil-dotdot/x86_64" "$T/evil-inner/x86_64" "$T/evil-abs/x86_64" \
	"$T/evil-link/x86_64" "$T/deps/x86_64"
cp "$ORIG/$BB" "$V/bb-truncated.apk"
truncate_half "$V/bb-truncated.apk"

# Every forged, re-signed or hostile file, made in one go (mkapk.py batch).
EVIL=alpine-release-3.19.1-r1.apk
FROM="--from $ORIG/alpine-release-3.19.1-r0.apk --set pkgver=3.19.1-r1"
IX="$ORIG/APKINDEX.tar.gz"
cat >"$T/batch" <<EOB
# busybox: signed under Alpine's key name by the test key (forged), unsigned, by a stranger;
# each with an index (signed by the test key) that agrees on its size
resign --key $TESTKEY --key-name $ALPINE_KEY $V/bb-forged.apk $ORIG/$BB
resign --key $TESTKEY --unsigned $V/bb-unsigned.apk $ORIG/$BB
resign --key $T/stranger.rsa $V/bb-stranger.apk $ORIG/$BB
index --key $TESTKEY --from-index $IX --size-of busybox=$V/bb-forged.apk $V/ix-forged.tar.gz
index --key $TESTKEY --from-index $IX --size-of busybox=$V/bb-unsigned.apk $V/ix-unsigned.tar.gz
index --key $TESTKEY --from-index $IX --size-of busybox=$V/bb-stranger.apk $V/ix-stranger.tar.gz
index --key $TESTKEY --unsigned --from-index $IX --size-of busybox=$V/bb-unsigned.apk \
	$V/ix-unsigned-unsigned.tar.gz
index --key $TESTKEY --from-index $IX --size-of busybox=$V/bb-truncated.apk $V/ix-truncated.tar.gz
# the index: a C: that disagrees with busybox; forged, unsigned, signed by the test key
index --key $TESTKEY --from-index $IX --edit busybox:C=Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA= \
	$V/ix-csum.tar.gz
resign --key $TESTKEY --key-name $ALPINE_KEY $V/ix-forged-sig.tar.gz $IX
resign --key $TESTKEY --unsigned $V/ix-nosig.tar.gz $IX
resign --key $TESTKEY $V/ix-testkey.tar.gz $IX
# hostile: alpine-release 3.19.1-r1 with one entry more, each in a repository of its own
pkg --key $TESTKEY $FROM --file ../../evil=pwned $T/evil-dotdot/x86_64/$EVIL
pkg --key $TESTKEY $FROM --file etc/../../evil=pwned $T/evil-inner/x86_64/$EVIL
pkg --key $TESTKEY $FROM --file /etc/evil=pwned $T/evil-abs/x86_64/$EVIL
pkg --key $TESTKEY $FROM --symlink etc/escape=../../../../tmp --file etc/escape/pwned=pwned \
	$T/evil-link/x86_64/$EVIL
index --key $TESTKEY $T/evil-dotdot/x86_64/APKINDEX.tar.gz $T/evil-dotdot/x86_64/$EVIL
index --key $TESTKEY $T/evil-inner/x86_64/APKINDEX.tar.gz $T/evil-inner/x86_64/$EVIL
index --key $TESTKEY $T/evil-abs/x86_64/APKINDEX.tar.gz $T/evil-abs/x86_64/$EVIL
index --key $TESTKEY $T/evil-link/x86_64/APKINDEX.tar.gz $T/evil-link/x86_64/$EVIL
# app -> needs-missing -> libmissing, which nobody provides
pkg --key $TESTKEY --set pkgname=needs-missing --set pkgver=1.0-r0 --set arch=x86_64 \
	--set depend=libmissing --file usr/share/needs-missing=x $T/deps/x86_64/needs-missing-1.0-r0.apk
pkg --key $TESTKEY --set pkgname=app --set pkgver=2.0-r0 --set arch=x86_64 \
	--set depend=needs-missing --file usr/share/app=x $T/deps/x86_64/app-2.0-r0.apk
index --key $TESTKEY $T/deps/x86_64/APKINDEX.tar.gz $T/deps/x86_64/app-2.0-r0.apk \
	$T/deps/x86_64/needs-missing-1.0-r0.apk
EOB
python3 "$MKAPK" batch "$T/batch" || fail "setup: mkapk.py batch"

echo "== usage errors: exit 2"
expect_exit 2 "$IT" build --repo "$T/repo" --no-such-option -o "$OUT/initrd.img" \
	2>"$T/bad_option.err"
assert_grep "no-such-option" "$T/bad_option.err"
grep -qxF "try 'initrd-test build --help'" "$T/bad_option.err" || fail "bad_option: no hint"
nothing_written bad_option
bad bad_compression 2 "'lz4'" --repo "$T/repo" --compression lz4
bad no_keys_dir 3 "$T/no-such-keys" --repo "$T/repo" --keys-dir "$T/no-such-keys"

echo "== damaged packages and indexes"
flip_byte "$P/$BB"
bad corrupt_apk 3 "$P/$BB" --repo "$T/repo"
restore "$BB"
truncate_half "$P/$BB"
bad truncated_apk 3 "$P/$BB" --repo "$T/repo"
use ix-truncated.tar.gz APKINDEX.tar.gz
bad truncated_apk_sized 3 "$P/$BB" --repo "$T/repo" --keys-dir "$T/keys"
restore "$BB"
restore APKINDEX.tar.gz
flip_byte "$P/APKINDEX.tar.gz"
bad corrupt_index 3 "$P/APKINDEX.tar.gz" --repo "$T/repo"
restore APKINDEX.tar.gz
truncate_half "$P/APKINDEX.tar.gz"
bad truncated_index 3 "$P/APKINDEX.tar.gz" --repo "$T/repo"

echo "== an index whose checksum disagrees with the package"
use ix-csum.tar.gz APKINDEX.tar.gz
bad checksum_mismatch 3 "$P/$BB" --repo "$T/repo" --keys-dir "$T/keys"
assert_grep "does not match the index" "$T/checksum_mismatch.err"

echo "== signatures of the index"
use ix-forged-sig.tar.gz APKINDEX.tar.gz
bad index_bad_signature 3 "$P/APKINDEX.tar.gz" --repo "$T/repo"
assert_grep "bad signature by '$ALPINE_KEY'" "$T/index_bad_signature.err"
use ix-nosig.tar.gz APKINDEX.tar.gz
bad index_unsigned 3 "$P/APKINDEX.tar.gz" --repo "$T/repo"
assert_grep "not signed" "$T/index_unsigned.err"
use ix-testkey.tar.gz APKINDEX.tar.gz
bad index_untrusted 3 "$P/APKINDEX.tar.gz" --repo "$T/repo"
assert_grep "signed by 'test@initrd-test-00000000.rsa.pub'" "$T/index_untrusted.err"

echo "== signatures of a package"
use bb-forged.apk "$BB"
use ix-forged.tar.gz APKINDEX.tar.gz
bad pkg_bad_signature 3 "$P/$BB" --repo "$T/repo" --keys-dir "$T/keys"
assert_grep "bad signature by '$ALPINE_KEY'" "$T/pkg_bad_signature.err"
use bb-unsigned.apk "$BB"
use ix-unsigned.tar.gz APKINDEX.tar.gz
bad pkg_unsigned 3 "$P/$BB" --repo "$T/repo" --keys-dir "$T/keys"
assert_grep "not signed" "$T/pkg_unsigned.err"
use bb-stranger.apk "$BB"
use ix-stranger.tar.gz APKINDEX.tar.gz
bad pkg_untrusted 3 "$P/$BB" --repo "$T/repo" --keys-dir "$T/keys"
assert_grep "signed by 'stranger.rsa.pub'" "$T/pkg_untrusted.err"

echo "== --allow-untrusted: an unsigned package in an unsigned index passes, loudly"
use bb-unsigned.apk "$BB"
use ix-unsigned-unsigned.tar.gz APKINDEX.tar.gz
good allow_untrusted --repo "$T/repo" --allow-untrusted
grep -q "^initrd-test: warning: UNTRUSTED: '$P/$BB': not signed" "$T/allow_untrusted.err" ||
	fail "allow_untrusted: no warning naming $BB"
grep -q "^initrd-test: warning: UNTRUSTED: '$P/APKINDEX.tar.gz': not signed" \
	"$T/allow_untrusted.err" || fail "allow_untrusted: no warning naming the index"
sed 's/^/    /' "$T/allow_untrusted.err" | grep warning
rm -rf "$OUT"
restore "$BB"
restore APKINDEX.tar.gz

echo "== hostile packages (a second repository has alpine-release-3.19.1-r1 with one entry more)"
bad dotdot 3 "'../../evil' in '$T/evil-dotdot/x86_64/$EVIL'" --repo "$T/evil-dotdot" \
	--repo "$T/repo" --keys-dir "$T/keys"
bad dotdot_inner 3 "'etc/../../evil' in '$T/evil-inner/x86_64/$EVIL'" --repo "$T/evil-inner" \
	--repo "$T/repo" --keys-dir "$T/keys"
bad absolute 3 "'/etc/evil' in '$T/evil-abs/x86_64/$EVIL'" --repo "$T/evil-abs" \
	--repo "$T/repo" --keys-dir "$T/keys"
bad symlink_escape 3 "'etc/escape/pwned'" --repo "$T/evil-link" --repo "$T/repo" \
	--keys-dir "$T/keys"
assert_grep "leaves the root through symlink '/etc/escape'" "$T/symlink_escape.err"
assert_grep "$T/evil-link/x86_64/$EVIL" "$T/symlink_escape.err"
for f in "$T/pwned" /tmp/pwned "$T/evil"; do
	[ ! -e "$f" ] || fail "a hostile entry reached the host: $f"
done

echo "== a dependency nobody provides: the chain is named, a scenario error (2)"
bad missing_dependency 2 "app -> needs-missing -> libmissing" --repo "$T/deps" \
	--repo "$T/repo" --keys-dir "$T/keys" app
# ... and 'run' does not retry it as an infrastructure error.
mkdir -p "$T/unsat"
printf 'include %s/scenarios/minimal\npackages no-such-package\n' "$TOP" >"$T/unsat/scenario"
expect_exit 2 "$IT" run --retries 2 --repo "$REPO" --kernel host --cache-dir "$CACHE" \
	-o "$T/unsat-out" "$T/unsat" >"$T/unsat.out" 2>"$T/unsat.err"
assert_grep "no-such-package" "$T/unsat.out"
! grep -q "attempt 2\|trying again" "$T/unsat.err" "$T/unsat.out" || fail "an unsatisfiable set was retried"

echo "== --allow-untrusted needs no keys directory"
# Not the one given, nor the default one (no keys beside the binary or installed).
good untrusted_no_keys_dir --repo "$REPO" --keys-dir "$T/no-such-keys" --allow-untrusted
(
	export INITRD_TEST_KEYS="$T/no-such-keys"
	good untrusted_no_default_keys --repo "$REPO" --allow-untrusted
)
assert_grep "no keys directory '$T/no-such-keys': no signature is checked" \
	"$T/untrusted_no_default_keys.err"

echo "== the network"
# A port nobody listens on: one a server just gave up.
start_httpd "$T/www"
stop_httpd
closed=$HTTPD_PORT
bad unreachable 3 "http://127.0.0.1:$closed/alpine/x86_64/APKINDEX.tar.gz" \
	--repo "http://127.0.0.1:$closed/alpine"

cp -r "$REPO" "$T/www/gone"
rm "$T/www/gone/x86_64/$BB"
cp -r "$REPO" "$T/www/bad"
flip_byte "$T/www/bad/x86_64/$BB"
cp -r "$REPO" "$T/www/good"
i=0
while [ ! -s "$T/port" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "setup: the fault server did not start"
	sleep 0.1
done
url="http://127.0.0.1:$(head -n 1 "$T/port")"

# busybox is not in the cache before these (and still is not after them), so both ask for it,
# and the stalled download below is busybox's.
bad http_corrupt 3 "$url/ok/bad/x86_64/$BB" --repo "$url/ok/bad"
for f in "$CACHE"/packages/busybox-1.36.1-r15.*; do
	[ ! -e "$f" ] || fail "http_corrupt: the bad busybox was cached as $f"
done
bad http_404 3 "$url/ok/gone/x86_64/$BB" --repo "$url/ok/gone"
assert_grep "HTTP 404" "$T/http_404.err"

echo "== Ctrl-C during a stalled download: exit 130, no partial file in the cache"
rm -rf "$OUT"
# A background job of a non-interactive shell starts with SIGINT ignored: give it back.
env --default-signal=INT "$IT" build -s "$TOP/scenarios/networking" --kernel "$kernel" \
	--cache-dir "$CACHE" -o "$OUT/initrd.img" --repo "$url/stall-apk/good" \
	>"$T/interrupt.out" 2>"$T/interrupt.err" &
pid=$!
i=0
while [ -z "$(find "$CACHE/packages" -name '*.tmp.*' 2>/dev/null)" ]; do
	i=$((i + 1))
	[ $i -lt 150 ] || fail "interrupt: no download started"
	sleep 0.1
done
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
sed 's/^/    /' "$T/interrupt.err"
[ "$rc" -eq 130 ] || fail "interrupt: exit $rc, expected 130"
[ "$(grep -c '^initrd-test: error: ' "$T/interrupt.err")" -eq 1 ] ||
	fail "interrupt: not one error line"
grep -qF "initrd-test: error: cannot fetch '$url/stall-apk/good/x86_64/$BB': interrupted" \
	"$T/interrupt.err" || fail "interrupt: the error does not name the stalled download"
nothing_written interrupt

echo "== a full disk for the output"
mkdir -p "$T/full"
if mount -t tmpfs -o size=1m tmpfs "$T/full" 2>"$T/mount.err"; then
	mnt="$T/full"
	OUT="$T/full/out"
	bad disk_full_initrd 3 "$T/full/out/initrd.img" --repo "$REPO"
	assert_grep "No space left on device" "$T/disk_full_initrd.err"
	umount "$T/full"
	# Room for the initrd but not for the kernel after it: the initrd goes too.
	mount -t tmpfs -o size=10m tmpfs "$T/full"
	bad disk_full_kernel 3 "$T/full/out/vmlinuz" --repo "$REPO"
	umount "$T/full"
	mnt=""
	OUT="$T/out"
else
	echo "SKIPPED: disk full cases: cannot mount a tmpfs ($(cat "$T/mount.err"))"
fi

echo "== after all that, the cache still builds, over HTTP and offline"
good after_http --repo "$url/ok/good"
cp "$OUT/initrd.img" "$T/after_http.img"
good after_offline --repo "$url/ok/good" --offline
cmp -s "$OUT/initrd.img" "$T/after_http.img" || fail "offline build from the cache differs"
echo "ok"
