# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# The tree 'initrd-test build' assembles for alpine-base against what Alpine's own apk 2.14
# makes of the same packages with 'apk --initdb add alpine-base' (tests/data/alpine-base.manifest,
# made by tests/tools/apk-manifest.sh): every path, type, mode, owner and content hash, apk's
# skeleton (/dev nodes, a 0555 /proc, lib/apk/exec 0700) and the busybox trigger's links
# included. Left out on both sides, and said here: what initrd-test adds on purpose (/init,
# its agent and its inittab line, the kernel's modules, an empty /etc/apk/repositories for
# local repositories). apk's database files are compared too (lib/apk/db/installed, triggers,
# lock, scripts.tar): scripts.tar's headers hold SOURCE_DATE_EPOCH, which the manifest was
# made with and this build is given.
. "$TOP/tests/e2e/lib.sh"
SOURCE_DATE_EPOCH=1700000000 "$IT" -q build --repo "$REPO" --kernel host --cache-dir "$T/cache" \
	--rootfs "$T/root" -o "$T/initrd.img" alpine-base
ours_only='^(init|sbin/initrd-test-agent|etc/inittab|etc/apk/repositories|lib/modules(/.*)?) '
python3 "$TOP/tests/tools/manifest.py" "$T/root" | grep -Ev "$ours_only" >"$T/ours"
grep -Ev "$ours_only" "$TOP/tests/data/alpine-base.manifest" >"$T/apk"
[ "$(wc -l <"$T/apk")" -gt 700 ] || fail "the manifest holds too little: $(wc -l <"$T/apk") paths"
diff "$T/apk" "$T/ours" || fail "the tree differs from apk --initdb add alpine-base"
echo "$(wc -l <"$T/ours") paths as apk makes them"
grep -q '^proc d 0555 0:0 ' "$T/ours" || fail "/proc is not 0555"
grep -q '^dev/urandom c 0666 0:0 1,9$' "$T/ours" || fail "no /dev/urandom"
for f in installed lock scripts.tar triggers; do
	grep -q "^lib/apk/db/$f f " "$T/ours" || fail "no lib/apk/db/$f"
done
