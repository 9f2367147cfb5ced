# SPDX-License-Identifier: MIT
# 'kernel package NAME': Debian's kernel wrapped as a linux-virt-shaped APK (signed with the test
# key, in a second repository) is installed, its image taken out of the initrd and placed beside
# it, and only the modules asked for (e1000) stay, with their modules.dep line. The lock names the
# kernel package, and the SBOM has the image (inside linux-virt) and e1000 as a file.
# shellcheck shell=sh
. "$TOP/tests/e2e/lib.sh"

command -v python3 >/dev/null || fail "setup: python3 missing"
kernel=$(host_kernel)
kver=${kernel#/boot/vmlinuz-}
mods="/lib/modules/$kver"
e1000=kernel/drivers/net/ethernet/intel/e1000/e1000.ko
[ -f "$mods/$e1000" ] || fail "setup: no $mods/$e1000 (apt-get install linux-image-amd64)"

# The package: /boot/vmlinuz-virt, e1000.ko and every modules.* index file, as Alpine lays
# linux-virt out (the indexes still list every module of the kernel).
set -- --mkdir boot --host-file "boot/vmlinuz-virt=$kernel" --mkdir lib --mkdir lib/modules \
	--mkdir "lib/modules/$kver"
dir=""
for part in $(dirname "$e1000" | tr '/' ' '); do
	dir="${dir:+$dir/}$part"
	set -- "$@" --mkdir "lib/modules/$kver/$dir"
done
set -- "$@" --host-file "lib/modules/$kver/$e1000=$mods/$e1000"
for f in "$mods"/modules.*; do
	set -- "$@" --host-file "lib/modules/$kver/${f##*/}=$f"
done
mkdir -p "$T/kernel-repo/x86_64"
apk="$T/kernel-repo/x86_64/linux-virt-6.1.0-r56.apk"
python3 "$TOP/tests/tools/mkapk.py" pkg --key "$TESTKEY" --set pkgname=linux-virt \
	--set pkgver=6.1.0-r56 --set arch=x86_64 --set "pkgdesc=Debian's $kver as linux-virt" \
	--set origin=linux-lts --set license=GPL-2.0-only "$@" "$apk" ||
	fail "setup: cannot make $apk"
python3 "$TOP/tests/tools/mkapk.py" index --key "$TESTKEY" \
	"$T/kernel-repo/x86_64/APKINDEX.tar.gz" "$apk" || fail "setup: cannot make the index"

mkdir "$T/keys" "$T/scenario"
cp "$KEYS"/*.pub "$TESTKEY.pub" "$T/keys/"
cat >"$T/scenario/scenario" <<EOS
include $TOP/scenarios/base
reset repo
repo $REPO
repo $T/kernel-repo
kernel package linux-virt
modules e1000
EOS

"$IT" build -s "$T/scenario" --keys-dir "$T/keys" --cache-dir "$T/cache" \
	-o "$T/out/initrd.img" 2>"$T/build.err" || {
	cat "$T/build.err"
	fail "build with 'kernel package linux-virt' failed"
}
cat "$T/build.err"
grep -q "^kernel $kver -> $T/out/vmlinuz\$" "$T/build.err" || fail "kernel $kver not reported"
cmp "$kernel" "$T/out/vmlinuz" || fail "the kernel beside the initrd is not $kernel"

"$IT" ls -l "$T/out/initrd.img" >"$T/list"
! grep -q ' boot/vmlinuz' "$T/list" || fail "the kernel image is still in the initrd"
grep -q " lib/modules/$kver/$e1000\$" "$T/list" || fail "e1000.ko is not in the initrd"
# Only e1000 (it needs nothing else) is left of the package's modules.
[ "$(grep -c '\.ko$' "$T/list")" -eq 1 ] || fail "modules other than e1000 in the initrd"

mkdir "$T/x"
gzip -dc "$T/out/initrd.img" >"$T/initrd.cpio"
(cd "$T/x" && cpio -id --quiet --no-absolute-filenames <"$T/initrd.cpio" 2>/dev/null) || true
cmp "$mods/$e1000" "$T/x/lib/modules/$kver/$e1000" || fail "e1000.ko differs from the package's"
grep -qx "$e1000:" "$T/x/lib/modules/$kver/modules.dep" || fail "no modules.dep line for e1000"
[ "$(wc -l <"$T/x/lib/modules/$kver/modules.dep")" -eq 1 ] ||
	fail "modules.dep lists modules that are not there"
grep -q '^alias pci:v00008086d0000100Esv\*sd\*bc\*sc\*i\* e1000$' \
	"$T/x/lib/modules/$kver/modules.alias" || fail "e1000's aliases are missing (mdev coldplug)"
awk '/^P:linux-virt$/ { p = 1 } p && /^V:6.1.0-r56$/ { v = 1 } END { exit !(p && v) }' \
	"$T/x/lib/apk/db/installed" || fail "linux-virt-6.1.0-r56 not in /lib/apk/db/installed"
grep -qx 'linux-virt' "$T/x/etc/apk/world" || fail "linux-virt not in /etc/apk/world"
echo "ok: $(wc -l <"$T/list") entries, kernel $kver from linux-virt"

# The kernel package in a lock ('kernel' line and its 'pkg' line) and in the SBOM: the package
# CONTAINS the kernel image, the initrd the e1000 module.
"$IT" lock -s "$T/scenario" --keys-dir "$T/keys" --cache-dir "$T/cache" >/dev/null 2>&1 ||
	fail "lock of the kernel-package scenario failed"
assert_grep '^kernel linux-virt$' "$T/scenario/initrd-test.lock"
assert_grep "^pkg linux-virt 6.1.0-r56 Q1[^ ]* $T/kernel-repo\$" "$T/scenario/initrd-test.lock"
"$IT" build -s "$T/scenario" --keys-dir "$T/keys" --cache-dir "$T/cache" --frozen \
	-o "$T/out2/initrd.img" --sbom "$T/sbom.json" 2>"$T/build2.err" || {
	cat "$T/build2.err"
	fail "the locked build with --sbom failed"
}
python3 -c 'import jsonschema' 2>/dev/null ||
	fail "setup: python3-jsonschema missing (apt-get install python3-jsonschema)"
python3 "$TOP/tests/tools/spdx-validate.py" "$TOP/tests/data/spdx-2.3-schema.json" \
	"$T/sbom.json" || fail "the SBOM is not valid SPDX 2.3"
python3 - "$T/sbom.json" "$kver" <<'EOS' || fail "the SBOM's kernel is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
ids = {p["SPDXID"]: p for p in doc["packages"]}
ids.update({f["SPDXID"]: f for f in doc["files"]})
k = ids["SPDXRef-Kernel"]
assert k["name"] == "linux-virt" and k["versionInfo"] == sys.argv[2], k
rels = {(ids.get(r["spdxElementId"], {}).get("name", r["spdxElementId"]), r["relationshipType"],
         ids.get(r["relatedSpdxElement"], {}).get("name", ids.get(r["relatedSpdxElement"], {}).get("fileName")))
        for r in doc["relationships"]}
assert ("linux-virt", "CONTAINS", "linux-virt") in rels, "the package does not contain the image"
assert [f["fileName"] for f in doc["files"]] == ["./lib/modules/%s/kernel/drivers/net/ethernet/intel/e1000/e1000.ko" % sys.argv[2]]
EOS
