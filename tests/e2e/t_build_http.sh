# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Build the networking scenario's initrd from the real Alpine 3.19.1 packages served over
# loopback HTTP (busybox httpd), then check what matters inside it, and that a second build
# from the warm cache gives the same bytes.
. "$TOP/tests/e2e/lib.sh"

trap stop_httpd EXIT
start_httpd "$REPO/.."
url="http://127.0.0.1:$HTTPD_PORT/$(basename "$REPO")"

kernel=$(host_kernel)
kver=${kernel#/boot/vmlinuz-}
"$IT" build -s "$TOP/scenarios/networking" --repo "$url" --kernel "$kernel" \
	--cache-dir "$T/cache" -o "$T/a/initrd.img" 2>"$T/build.err" || {
	cat "$T/build.err"
	fail "build over HTTP failed"
}
cat "$T/build.err"
[ -s "$T/a/initrd.img" ] || fail "no initrd written"
[ -s "$T/a/vmlinuz" ] || fail "no kernel placed beside the initrd"
cmp -s "$kernel" "$T/a/vmlinuz" || fail "placed kernel differs from $kernel"
[ -n "$(find "$T/cache/packages" -name 'busybox-1.36.1-r15.*.apk')" ] || fail "busybox not in the cache"
[ -z "$(find "$T/cache" -name '*.tmp.*')" ] || fail "temp files left in the cache"

"$IT" ls -l "$T/a/initrd.img" >"$T/list"
check() {
	grep -qE -- "$1" "$T/list" || fail "initrd: no line matching '$1'"
}
check ' init -> /sbin/init$'
check ' etc/runlevels/boot/devfs -> /etc/init.d/devfs$'
check ' etc/runlevels/boot/procfs -> /etc/init.d/procfs$'
check ' etc/runlevels/boot/sysfs -> /etc/init.d/sysfs$'
check ' etc/runlevels/sysinit/mdev -> /etc/init.d/mdev$'
check ' etc/runlevels/sysinit/hwdrivers -> /etc/init.d/hwdrivers$'
check ' etc/runlevels/default/networking -> /etc/init.d/networking$'
check ' bin/ls -> /bin/busybox$'
check ' sbin/ifconfig -> /bin/busybox$'
check ' usr/bin/wget -> /bin/busybox$'
check '^---s--x--x +1 +0 +0 .* bin/bbsuid$'
check '^-rw-r----- +1 +0 +42 .* etc/shadow$'
check '^crw------- .* 5, 1 dev/console$'
check '^crw-rw-rw- .* 1, 3 dev/null$'
check "lib/modules/$kver/kernel/drivers/net/ethernet/intel/e1000/e1000.ko\$"
check "lib/modules/$kver/modules.dep\$"
check ' lib/apk/db/installed$'

# Contents: unpack with GNU cpio and look at the files that configuration wrote.
mkdir "$T/x"
(cd "$T/x" && gzip -dc "$T/a/initrd.img" | cpio -id --quiet --no-absolute-filenames 2>/dev/null) || true
grep -q "^kernel/drivers/net/ethernet/intel/e1000/e1000.ko:" "$T/x/lib/modules/$kver/modules.dep" ||
	fail "e1000 missing from modules.dep"
grep -q '^ttyS0$' "$T/x/etc/securetty" || fail "ttyS0 not in securetty"
grep -q '^ttyS0::respawn:/sbin/getty' "$T/x/etc/inittab" || fail "no getty on ttyS0"
grep -q '^iface eth0 inet dhcp' "$T/x/etc/network/interfaces" || fail "no dhcp on eth0"
grep -q '^alpine-test$' "$T/x/etc/hostname" || fail "hostname not set"
[ "$(grep -c '^P:' "$T/x/lib/apk/db/installed")" -eq 25 ] || fail "installed db lacks 25 packages"
grep -q '^alpine-base$' "$T/x/etc/apk/world" || fail "world lacks alpine-base"

# Reproducible: the second build (warm cache, no server needed for packages) is identical.
"$IT" -q build -s "$TOP/scenarios/networking" --repo "$url" --kernel "$kernel" \
	--cache-dir "$T/cache" -o "$T/b/initrd.img"
cmp "$T/a/initrd.img" "$T/b/initrd.img" || fail "two builds differ"

# Offline from the cache alone, with the server gone.
stop_httpd
"$IT" -q build -s "$TOP/scenarios/networking" --repo "$url" --kernel "$kernel" \
	--cache-dir "$T/cache" --offline -o "$T/c/initrd.img"
cmp "$T/a/initrd.img" "$T/c/initrd.img" || fail "offline build differs"
echo "ok: $(wc -l <"$T/list") entries"
