# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# A kernel build tree as the kernel (--kernel DIR, 'kernel tree DIR'), laid out from Debian's
# own files by tests/tools/make-ktree.sh: its modules go in from modules.order with a
# modules.dep made from their .modinfo; a .config that lacks what the scenario needs is
# named before anything is built or booted (exit 2, 125 under --bisect). No VM boots here.
. "$TOP/tests/e2e/lib.sh"

"$TOP/tests/tools/make-ktree.sh" "$T/tree" >"$T/make-ktree.out" 2>&1 || {
	cat "$T/make-ktree.out"
	fail "setup: cannot lay out the kernel tree"
}
kver=$(ls /lib/modules | sort -V | tail -n 1)

# The tree's module and its index files in the image.
"$IT" build --repo "$REPO" --cache-dir "$T/cache" --kernel "$T/tree" --module crashtest \
	-o "$T/img/initrd.img" --rootfs "$T/root" alpine-base >"$T/build.out" 2>&1 || {
	cat "$T/build.out"
	fail "build with --kernel TREE failed"
}
[ -f "$T/root/lib/modules/$kver/drivers/misc/crashtest/crashtest.ko" ] ||
	fail "crashtest.ko is not in the image at its tree path"
assert_grep '^drivers/misc/crashtest/crashtest.ko:$' "$T/root/lib/modules/$kver/modules.dep"
cmp -s "$T/img/vmlinuz" "$T/tree/arch/x86/boot/bzImage" || fail "the image is not the tree's bzImage"

# A .config without the serial console: named, with what needs it, before any build.
cp -a "$T/tree" "$T/bad"
sed -i 's/^CONFIG_SERIAL_8250_CONSOLE=y$/# CONFIG_SERIAL_8250_CONSOLE is not set/' "$T/bad/.config"
expect_exit 2 "$IT" run --repo "$REPO" --cache-dir "$T/cache" --kernel "$T/bad" -o "$T/out-bad" \
	"$TOP/scenarios/minimal" >"$T/bad.out" 2>&1
cat "$T/bad.out"
assert_grep "lacks CONFIG_SERIAL_8250_CONSOLE=y (its .config has it unset): the serial console" "$T/bad.out"
[ ! -e "$T/out-bad/initrd.img" ] || fail "an image was built for a kernel that cannot run the scenario"
expect_exit 125 "$IT" run --bisect -q --repo "$REPO" --cache-dir "$T/cache" --kernel "$T/bad" \
	-o "$T/out-bad" "$TOP/scenarios/minimal"

# The same from the scenario's 'kernel tree DIR'; then the NIC's driver and the agent's port.
mkdir -p "$T/scn"
printf 'include %s/scenarios/minimal/scenario\nkernel tree %s\n' "$TOP" "$T/bad" >"$T/scn/scenario"
expect_exit 2 "$IT" run --repo "$REPO" --cache-dir "$T/cache" -o "$T/out-scn" "$T/scn" >"$T/scn.out" 2>&1
assert_grep "lacks CONFIG_SERIAL_8250_CONSOLE=y" "$T/scn.out"
sed -i 's/^# CONFIG_SERIAL_8250_CONSOLE is not set$/CONFIG_SERIAL_8250_CONSOLE=y/; s/^CONFIG_E1000=m$/CONFIG_E1000=n/' \
	"$T/bad/.config"
expect_exit 2 "$IT" run --repo "$REPO" --cache-dir "$T/cache" -o "$T/out-scn" "$T/scn" >"$T/nic.out" 2>&1
assert_grep "lacks CONFIG_E1000=y or =m (its .config has CONFIG_E1000=n): the e1000 NIC" "$T/nic.out"
sed -i 's/^CONFIG_E1000=n$/CONFIG_E1000=m/; /^CONFIG_VIRTIO_CONSOLE=/d' "$T/bad/.config"
expect_exit 2 "$IT" run --repo "$REPO" --cache-dir "$T/cache" -o "$T/out-scn" "$T/scn" >"$T/agent.out" 2>&1
assert_grep "lacks CONFIG_VIRTIO_CONSOLE=y or =m (its .config has it unset): the guest agent" "$T/agent.out"

# A tree without a .config, then one without a bzImage.
mv "$T/bad/.config" "$T/bad/config.saved"
expect_exit 2 "$IT" run -q --repo "$REPO" --cache-dir "$T/cache" --kernel "$T/bad" \
	-o "$T/out-bad" "$TOP/scenarios/minimal" >"$T/nocfg.out" 2>&1
assert_grep "kernel tree '$T/bad' is not configured: cannot read '$T/bad/.config'" "$T/nocfg.out"
mv "$T/bad/config.saved" "$T/bad/.config"
rm "$T/bad/arch/x86/boot/bzImage"
expect_exit 125 "$IT" run --bisect -q --repo "$REPO" --cache-dir "$T/cache" --kernel "$T/bad" \
	-o "$T/out-bad" "$TOP/scenarios/minimal"
expect_exit 3 "$IT" run -q --repo "$REPO" --cache-dir "$T/cache" --kernel "$T/bad" \
	-o "$T/out-bad" "$TOP/scenarios/minimal" >"$T/noimg.out" 2>&1
assert_grep "has no image: '$T/bad/arch/x86/boot/bzImage' is missing" "$T/noimg.out"

# 'make modules_install INSTALL_MOD_PATH=DIR' as depmod leaves it, given with --modules-dir DIR.
mkdir -p "$T/inst/lib/modules/$kver/extra"
cp "$T/tree/drivers/misc/crashtest/crashtest.ko" "$T/inst/lib/modules/$kver/extra/"
cp "$T/tree/modules.builtin" "$T/tree/modules.order" "$T/inst/lib/modules/$kver/"
"$(command -v depmod || echo /sbin/depmod)" -b "$T/inst" "$kver"
"$IT" build --repo "$REPO" --cache-dir "$T/cache" --kernel "$T/tree" --modules-dir "$T/inst" \
	--module crashtest -o "$T/img2/initrd.img" --rootfs "$T/root2" alpine-base >"$T/build2.out" 2>&1 || {
	cat "$T/build2.out"
	fail "build with --modules-dir INSTALL_MOD_PATH failed"
}
[ -f "$T/root2/lib/modules/$kver/extra/crashtest.ko" ] ||
	fail "crashtest.ko from INSTALL_MOD_PATH is not in the image"
assert_grep '^extra/crashtest.ko:$' "$T/root2/lib/modules/$kver/modules.dep"
