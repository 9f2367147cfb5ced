#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the Debian package from a clean copy of the tree (dpkg-buildpackage -us -uc -b),
# lint it (lintian: any error fails), check what it installs (dpkg -c) and run the
# unpacked package's binary (dpkg -x): 'replay' of a recorded console against the
# installed 'minimal' scenario. With DEB_BOOT=1 also debian/tests/networking (the
# autopkgtest: a real boot) on the unpacked package. The .deb is left in OUT (default
# build/deb). Nothing is installed on this machine.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
out=${OUT:-$top/build/deb}
version=$(dpkg-parsechangelog -S Version)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "deb: error: $*" >&2
	exit 1
}

# The tree as git sees it (tracked and new files, not ignored ones), as a source package holds it.
src="$work/initrd-test-$version"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C "$src"
(cd "$src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
	tail -n 40 "$work/build.log" >&2
	fail "dpkg-buildpackage failed (the log above)"
}
deb="$work/initrd-test_${version}_amd64.deb"
[ -f "$deb" ] || fail "dpkg-buildpackage made no $deb"
mkdir -p "$out"
cp "$deb" "$out/"

# lintian: errors fail; warnings are shown.
lintian --tag-display-limit 0 "$deb" "$work"/initrd-test_"${version}"_amd64.changes \
	>"$work/lintian.out" 2>&1 || true
cat "$work/lintian.out"
if grep -q '^E: ' "$work/lintian.out"; then
	fail "lintian reports errors"
fi

# What it installs.
dpkg -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/contents"
for f in /usr/bin/initrd-test /usr/libexec/initrd-test/initrd-test-agent \
	/usr/share/man/man1/initrd-test.1.gz /usr/share/man/man1/initrd-test-run.1.gz \
	/usr/share/man/man5/initrd-test-scenario.5.gz \
	/usr/share/bash-completion/completions/initrd-test \
	/usr/share/zsh/vendor-completions/_initrd-test \
	/usr/share/initrd-test/scenarios/networking/scenario \
	/usr/share/initrd-test/repo/alpine-3.19.1/x86_64/APKINDEX.tar.gz \
	/usr/share/doc/initrd-test/copyright /usr/share/doc/initrd-test/results.schema.json; do
	grep -qx "$f" "$work/contents" || fail "the package lacks $f"
done

# The unpacked binary finds the unpacked data (install_path), from another directory.
dpkg -x "$deb" "$work/root"
mkdir -p "$work/elsewhere"
(cd "$work/elsewhere" && env -u INITRD_TEST_KEYS -u INITRD_TEST_AGENT "$work/root/usr/bin/initrd-test" \
	replay minimal "$top/tests/data/boot/alpine-3.19.1-networking-pass.log") >"$work/replay.out" ||
	fail "the packaged initrd-test does not replay: $(cat "$work/replay.out")"
grep -q '^PASSED minimal' "$work/replay.out" || fail "replay did not pass: $(cat "$work/replay.out")"
if [ "${DEB_BOOT:-0}" = 1 ]; then
	PATH="$work/root/usr/bin:$PATH" INITRD_TEST_UNPACKED=1 AUTOPKGTEST_TMP="$work/apt" \
		sh -c 'mkdir -p "$AUTOPKGTEST_TMP" && debian/tests/networking' || fail "debian/tests/networking failed"
fi
echo "deb: $out/$(basename "$deb"): $(wc -l <"$work/contents") paths, lintian without errors, replay passes"
