# SPDX-License-Identifier: MIT
# aarch64 under TCG, end to end on real parts: Debian's arm64 kernel and busybox-static from
# Debian's archive (ci/fetch-arm64-data.sh), the busybox repackaged as a signed aarch64 APK
# repository; the initrd with the kernel's e1000 module boots in qemu-system-aarch64 (the
# preset picked from the kernel's header) to a udhcpc lease and a shell. Then the arch
# checks: an x86_64 kernel with 'arch aarch64' (build and run, no boot), an aarch64 package
# in an x86_64 index.
# shellcheck shell=sh
. "$TOP/tests/e2e/lib.sh"

command -v qemu-system-aarch64 >/dev/null ||
	fail "setup: qemu-system-aarch64 missing (apt-get install qemu-system-arm)"
command -v python3 >/dev/null || fail "setup: python3 missing"
DATA="$TOP/build/arm64"
"$TOP/ci/fetch-arm64-data.sh" "$DATA" >"$T/fetch.log" 2>&1 || {
	cat "$T/fetch.log"
	skip "cannot fetch Debian's arm64 kernel and busybox-static (ci/fetch-arm64-data.sh)"
}
"$TOP/tests/tools/mkbusyboxrepo.sh" "$DATA/root" "$DATA/repo" >/dev/null ||
	fail "setup: cannot make the aarch64 repository"
mkdir "$T/keys"
cp "$TOP/tests/data/testkeys/"*.pub "$T/keys/"

# Timeouts as for KVM, scaled here: the factor the runner uses, not the e2e default of 1.
unset INITRD_TEST_TIMEOUT_FACTOR
"$IT" -v run "$TOP/tests/data/aarch64/lease" --keys-dir "$T/keys" --cache-dir "$T/cache" \
	-o "$T/run" >"$T/run.out" 2>"$T/run.err" || {
	cat "$T/run.out" "$T/run.err"
	fail "the aarch64 lease scenario did not pass"
}
cat "$T/run.out"
assert_grep '^PASSED lease' "$T/run.out"
assert_grep '^timeouts x[0-9.]*: tcg (INITRD_TEST_ACCEL), aarch64 guest$' "$T/run.err"
factor=$(sed -n 's/^timeouts x\([0-9.]*\): .*/\1/p' "$T/run.err")
[ "$factor" != "1.00" ] || fail "aarch64 under TCG got timeout factor 1"
assert_grep '^qemu-system-aarch64 -machine virt -accel tcg -cpu cortex-a57 ' "$T/run/command.txt"
assert_grep " -append 'console=ttyAMA0 panic=-1' " "$T/run/command.txt"
assert_grep ' -nic user,model=e1000,restrict=on ' "$T/run/command.txt"
assert_grep '"arch": "aarch64"' "$T/run/result.json"
assert_grep '"timeout_factor": ' "$T/run/result.json"
# The console shows each milestone: banner, the NIC driver, the lease, the shell.
assert_grep 'Linux version [^ ]*-arm64 ' "$T/run/console.log"
assert_grep 'e1000 [^ ]* eth0: Intel(R) PRO/1000 Network Connection' "$T/run/console.log"
assert_grep 'udhcpc: lease of 10.0.2.15 obtained from 10.0.2.2' "$T/run/console.log"
"$IT" ls "$T/run/initrd.img" >"$T/list"
grep -q '/e1000\.ko$' "$T/list" || fail "no e1000.ko in the aarch64 initrd"
grep -qx 'etc/apk/arch' "$T/list" || grep -q 'etc/apk/arch$' "$T/list" ||
	fail "no /etc/apk/arch in the initrd"

# resolve reads the aarch64 index (ARCH/APKINDEX.tar.gz); x86_64 has none in this repository.
"$IT" resolve -s "$TOP/tests/data/aarch64/lease" --keys-dir "$T/keys" >"$T/resolve.out" 2>&1 ||
	fail "resolve of the aarch64 scenario failed: $(cat "$T/resolve.out")"
assert_grep '^busybox-1.35.0-r0 ' "$T/resolve.out"
expect_exit 3 "$IT" resolve -s "$TOP/tests/data/aarch64/lease" --arch x86_64 --keys-dir "$T/keys" \
	>"$T/resolve-x86.out" 2>&1
assert_grep "cannot read '$DATA/repo/x86_64/APKINDEX.tar.gz'" "$T/resolve-x86.out"

# The host's x86_64 bzImage with 'arch aarch64': the build says both, before any boot.
kernel=$(host_kernel)
mkdir "$T/mismatch"
cat >"$T/mismatch/scenario" <<EOS
repo $DATA/repo
arch aarch64
packages busybox
kernel host
modules e1000
agent off
expect never "this never boots"
EOS
expect_exit 3 "$IT" build -s "$T/mismatch" --keys-dir "$T/keys" --cache-dir "$T/cache" \
	-o "$T/mismatch/initrd.img" 2>"$T/mismatch.err"
cat "$T/mismatch.err"
assert_grep "^initrd-test: error: kernel '$kernel' is an x86_64 image, but the arch is 'aarch64'\$" \
	"$T/mismatch.err"
# run with a prebuilt initrd and that kernel: refused by the kernel's header, no qemu.
"$IT" run "$T/mismatch" --initrd "$T/run/initrd.img" --kernel "$kernel" -o "$T/mrun" \
	>"$T/mrun.out" 2>"$T/mrun.err" && fail "run booted an x86_64 kernel for 'arch aarch64'"
cat "$T/mrun.out" "$T/mrun.err"
grep -q "kernel '$kernel' is an x86_64 image, but the scenario's arch is 'aarch64'" \
	"$T/mrun.out" "$T/mrun.err" || fail "run did not name both architectures"
[ ! -f "$T/mrun/command.txt" ] || fail "run started a VM for the mismatched kernel"

# An aarch64 package listed in an x86_64 index is refused as apk refuses it.
mkdir -p "$T/wrong/x86_64"
cp "$DATA/repo/aarch64/busybox-1.35.0-r0.apk" "$T/wrong/x86_64/"
python3 "$MKAPK" index --key "$TESTKEY" \
	"$T/wrong/x86_64/APKINDEX.tar.gz" "$T/wrong/x86_64/busybox-1.35.0-r0.apk"
mkdir "$T/wrongarch"
printf 'repo %s\narch x86_64\npackages busybox\nagent off\n' "$T/wrong" >"$T/wrongarch/scenario"
expect_exit 3 "$IT" build -s "$T/wrongarch" --keys-dir "$T/keys" --cache-dir "$T/cache" \
	-o "$T/wrongarch/initrd.img" 2>"$T/wrongarch.err"
cat "$T/wrongarch.err"
assert_grep "package '.*busybox-1.35.0-r0.apk' is for 'aarch64', not for 'x86_64'" "$T/wrongarch.err"
[ ! -e "$T/wrongarch/initrd.img" ] || fail "an initrd was written for the wrong arch"
echo "ok: aarch64 lease with timeouts x$factor; mismatches refused"
