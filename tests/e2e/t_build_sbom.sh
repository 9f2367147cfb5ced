# SPDX-License-Identifier: MIT
# --sbom FILE (docs/sbom.md): an SPDX 2.3 JSON document of a build of alpine-base, two packages
# made here with licenses outside the SPDX list, the host kernel and e1000 with its dependencies.
# It validates against tests/data/spdx-2.3-schema.json (python3-jsonschema) and the checks a
# schema cannot make (tests/tools/spdx-validate.py); the same build with the same
# SOURCE_DATE_EPOCH gives the same bytes, created is that epoch; each APK has its version, its
# license, its maintainer, its purl, the SHA-1 of its index checksum and the SHA-256 of its
# file, and DEPENDS_ON the packages it needs; the kernel and its modules are there. A document
# broken on purpose fails the validator, and --sbom with --dry-run is a usage error. 'run --sbom'
# writes one too.
# shellcheck shell=sh
. "$TOP/tests/e2e/lib.sh"

python3 -c 'import jsonschema' 2>/dev/null ||
	fail "setup: python3-jsonschema missing (apt-get install python3-jsonschema)"
MKAPK="$TOP/tests/tools/mkapk.py"
TESTKEY="$TOP/tests/data/testkeys/test@initrd-test-00000000.rsa"
SCHEMA="$TOP/tests/data/spdx-2.3-schema.json"
VALIDATE="$TOP/tests/tools/spdx-validate.py"
KERNEL=$(host_kernel)
mkdir -p "$T/extra/x86_64" "$T/keys"
mkapk() { # NAME LICENSE DEPENDS
	python3 "$MKAPK" pkg --key "$TESTKEY" --set "pkgname=$1" --set pkgver=1.0-r0 \
		--set arch=x86_64 --set "pkgdesc=$1" --set "license=$2" --set size=4096 \
		--set "maintainer=Test Person <test@example.org>" --set "depend=$3" --mkdir etc \
		--file "etc/$1=1" "$T/extra/x86_64/$1-1.0-r0.apk" || fail "setup: cannot make $1"
}
mkapk sbomdemo 'custom:multiple AND MIT' busybox
mkapk sbomexc 'GPL-3.0-or-later WITH OpenSSL-Exception' sbomdemo
python3 "$MKAPK" index --key "$TESTKEY" "$T/extra/x86_64/APKINDEX.tar.gz" "$T"/extra/x86_64/*.apk ||
	fail "setup: cannot index"
cp "$KEYS"/*.pub "$TESTKEY.pub" "$T/keys/"
set -- --repo "$REPO" --repo "$T/extra" --keys-dir "$T/keys" --cache-dir "$T/cache" \
	--kernel "$KERNEL" --module e1000 alpine-base sbomexc

for n in 1 2; do
	SOURCE_DATE_EPOCH=1700000000 "$IT" build "$@" -o "$T/b$n/initrd.img" --sbom "$T/sbom$n.json" \
		>"$T/build$n.out" 2>&1 || {
		cat "$T/build$n.out"
		fail "build --sbom failed"
	}
done
cmp "$T/sbom1.json" "$T/sbom2.json" || fail "the same build gave another SBOM"
python3 "$VALIDATE" "$SCHEMA" "$T/sbom1.json" || fail "the SBOM is not valid SPDX 2.3"

# The facts, checked against the index and the files.
tar -xzf "$REPO/x86_64/APKINDEX.tar.gz" -O APKINDEX >"$T/APKINDEX"
python3 - "$T/sbom1.json" "$T/APKINDEX" "$REPO/x86_64" "$KERNEL" "$T/b1/initrd.img" <<'EOS' ||
import base64, hashlib, json, sys
doc = json.load(open(sys.argv[1]))
index = {}
for rec in open(sys.argv[2]).read().split("\n\n"):
    f = dict(l.split(":", 1) for l in rec.splitlines() if len(l) > 2 and l[1] == ":")
    if "P" in f:
        index[f["P"]] = f
pkgs = {p["name"]: p for p in doc["packages"]}
ids = {p["SPDXID"]: p["name"] for p in doc["packages"]}
def fail(msg):
    print("sbom: " + msg)
    sys.exit(1)
def sums(p):
    return {c["algorithm"]: c["checksumValue"] for c in p["checksums"]}
if doc["creationInfo"]["created"] != "2023-11-14T22:13:20Z":
    fail("created is not SOURCE_DATE_EPOCH: " + doc["creationInfo"]["created"])
bb = pkgs["busybox"]
i = index["busybox"]
if bb["versionInfo"] != i["V"] or bb["licenseDeclared"] != i["L"]:
    fail("busybox's version or license is not the index's")
if bb["supplier"] != "Person: Sören Tempel (soeren+alpine@soeren-tempel.net)":
    fail("busybox's supplier: " + bb["supplier"])
if sums(bb)["SHA1"] != base64.b64decode(i["C"][2:]).hex():
    fail("busybox's SHA1 is not its Q1 checksum")
apk = "%s/busybox-%s.apk" % (sys.argv[3], i["V"])
if sums(bb)["SHA256"] != hashlib.sha256(open(apk, "rb").read()).hexdigest():
    fail("busybox's SHA256 is not its file's")
if not bb["downloadLocation"].startswith("file:///") or not bb["downloadLocation"].endswith(apk.split("/")[-1]):
    fail("busybox's downloadLocation: " + bb["downloadLocation"])
purl = [r["referenceLocator"] for r in bb["externalRefs"] if r["referenceType"] == "purl"]
if purl != ["pkg:apk/alpine/busybox@%s?arch=x86_64" % i["V"]]:
    fail("busybox's purl: %s" % purl)
if pkgs["sbomdemo"]["licenseDeclared"] != "LicenseRef-custom-multiple AND MIT":
    fail("sbomdemo's license: " + pkgs["sbomdemo"]["licenseDeclared"])
if pkgs["sbomexc"]["licenseDeclared"] != "LicenseRef-GPL-3.0-or-later-WITH-OpenSSL-Exception":
    fail("sbomexc's license: " + pkgs["sbomexc"]["licenseDeclared"])
rels = {(ids.get(r["spdxElementId"], r["spdxElementId"]), r["relationshipType"],
         ids.get(r["relatedSpdxElement"], r["relatedSpdxElement"])) for r in doc["relationships"]}
for want in [("SPDXRef-DOCUMENT", "DESCRIBES", "initrd.img"), ("initrd.img", "CONTAINS", "busybox"),
             ("sbomexc", "DEPENDS_ON", "sbomdemo"), ("sbomdemo", "DEPENDS_ON", "busybox"),
             ("alpine-base", "DEPENDS_ON", "alpine-baselayout"),
             ("SPDXRef-DOCUMENT", "DESCRIBES", "linux")]:
    if want not in rels:
        fail("no relationship %s %s %s" % want)
if sums(pkgs["linux"])["SHA256"] != hashlib.sha256(open(sys.argv[4], "rb").read()).hexdigest():
    fail("the kernel's SHA256 is not the image's")
if sums(pkgs["initrd.img"])["SHA256"] != hashlib.sha256(open(sys.argv[5], "rb").read()).hexdigest():
    fail("the initrd's SHA256 is not the file's")
files = [f["fileName"] for f in doc["files"]]
if not any(f.endswith("/e1000.ko") for f in files):
    fail("e1000.ko is not among the files: %s" % files)
if len([p for p in doc["packages"] if "externalRefs" in p]) != 27:
    fail("not 27 APK packages (alpine-base's 25 and the two made here)")
print("sbom facts: ok (%d packages, %d files, %d relationships)" % (
    len(doc["packages"]), len(files), len(doc["relationships"])))
EOS
	fail "the SBOM's facts are wrong"

# The validator can fail: a wrong version, a dangling relationship, an undeclared LicenseRef.
for broken in 's/"SPDX-2.3"/"SPDX-2.2"/' 's/"relatedSpdxElement": "SPDXRef-initrd"/"relatedSpdxElement": "SPDXRef-nothing"/' \
	's/"licenseDeclared": "LicenseRef-custom-multiple AND MIT"/"licenseDeclared": "LicenseRef-other AND MIT"/'; do
	sed "$broken" "$T/sbom1.json" >"$T/broken.json"
	cmp -s "$T/broken.json" "$T/sbom1.json" && fail "setup: '$broken' changed nothing"
	expect_exit 1 python3 "$VALIDATE" "$SCHEMA" "$T/broken.json"
done

expect_exit 2 "$IT" build "$@" --dry-run --sbom "$T/x.json" 2>"$T/err"
assert_grep "error: --sbom describes an initrd: not with --dry-run" "$T/err"
[ ! -e "$T/x.json" ] || fail "--dry-run wrote an SBOM"

# run --sbom: the SBOM of the initrd the run built, written before the boot (a 2 s run that
# times out: exit 4).
require_qemu
mkdir "$T/scn"
cat >"$T/scn/scenario" <<EOS
repo $REPO
packages alpine-base
kernel host
agent off
timeout 2s
expect /never printed/
EOS
expect_exit 4 "$IT" run -q -o "$T/run" --sbom "$T/run.json" "$T/scn"
python3 "$VALIDATE" "$SCHEMA" "$T/run.json" || fail "run's SBOM is not valid SPDX 2.3"
grep -q '"name": "alpine-base"' "$T/run.json" || fail "run's SBOM lacks alpine-base"
