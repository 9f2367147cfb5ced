# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# make install into a DESTDIR, then the installed binary, from another directory, with
# nothing of the source tree: 'replay minimal' (no VM) and 'run networking' find the
# installed scenarios by name, the build verifies the installed example repository with
# the installed keys and puts in the installed agent. make uninstall removes exactly what
# install put there.
. "$TOP/tests/e2e/lib.sh"
require_qemu

D="$T/root"
PREFIX=/usr/local
make -C "$TOP" --no-print-directory -s install DESTDIR="$D" >"$T/install.out" 2>&1 || {
	cat "$T/install.out"
	fail "make install DESTDIR=$D failed"
}
bin="$D$PREFIX/bin/initrd-test"
share="$D$PREFIX/share/initrd-test"
for f in "$bin" "$D$PREFIX/libexec/initrd-test/initrd-test-agent" \
	"$share/scenarios/networking/scenario" "$share/scenarios/base/scenario" \
	"$share/keys/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub" \
	"$share/repo/alpine-3.19.1/x86_64/APKINDEX.tar.gz" "$D$PREFIX/share/doc/initrd-test/README.md"; do
	[ -f "$f" ] || fail "make install did not install $f"
done
[ -x "$bin" ] || fail "the installed binary is not executable"
# The man pages: one per command, the format's in section 5, and 'man initrd-test-run' renders.
for p in initrd-test initrd-test-run initrd-test-attach initrd-test-cache; do
	[ -f "$D$PREFIX/share/man/man1/$p.1" ] || fail "make install did not install $p(1)"
done
[ -f "$D$PREFIX/share/man/man5/initrd-test-scenario.5" ] || fail "no initrd-test-scenario(5)"
MANPATH="$D$PREFIX/share/man" man -P cat initrd-test-run >"$T/man.out" 2>&1 ||
	fail "man initrd-test-run does not render: $(cat "$T/man.out")"
assert_grep '^ *initrd-test run \[options\] SCENARIO' "$T/man.out"
assert_grep '--shard' "$T/man.out"
# The completions; bash's, installed, offers the installed examples by name.
[ -f "$D$PREFIX/share/zsh/vendor-completions/_initrd-test" ] || fail "no zsh completion"
comp="$D$PREFIX/share/bash-completion/completions/initrd-test"
[ -f "$comp" ] || fail "no bash completion"
# shellcheck disable=SC2016 # expanded by that bash
PATH="$D$PREFIX/bin:$PATH" bash -c '. "$1"; COMP_WORDS=(initrd-test run netw); COMP_CWORD=2
	_initrd_test; printf "%s\n" "${COMPREPLY[@]}"' sh "$comp" >"$T/comp.out"
assert_grep '^networking$' "$T/comp.out"

# Nothing of the tree: no keys or agent from it (the environment would point there).
mkdir -p "$T/elsewhere"
cd "$T/elsewhere" || fail "setup: cannot cd to $T/elsewhere"
unset INITRD_TEST_KEYS INITRD_TEST_AGENT
"$bin" replay minimal "$TOP/tests/data/boot/alpine-3.19.1-networking-pass.log" >"$T/replay.out"
cat "$T/replay.out"
assert_grep '^PASSED minimal' "$T/replay.out"
# A name found nowhere is still the usual usage error.
expect_exit 2 "$bin" replay no-such-scenario "$TOP/tests/data/boot/alpine-3.19.1-networking-pass.log" \
	2>"$T/err"
assert_grep "no-such-scenario" "$T/err"

"$bin" run --repo "$share/repo/alpine-3.19.1" --kernel host --offline --cache-dir "$T/cache" \
	-o "$T/run" --json "$T/result.json" networking >"$T/run.out" 2>&1 || {
	cat "$T/run.out"
	fail "the installed 'initrd-test run networking' did not pass"
}
cat "$T/run.out"
assert_grep '^PASSED networking' "$T/run.out"
# The run used the installed scenario and the installed agent (step 'run' goes through it).
python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["runs"][0]
assert r["path"].startswith(sys.argv[2]), r["path"]
steps = {s["name"]: s for s in r["steps"]}
assert steps["run"]["exit_code"] == 0, steps["run"]' "$T/result.json" "$share/scenarios/networking" ||
	fail "result.json does not show the installed scenario run through the agent"
cd "$TOP" || fail "cannot cd back"

# uninstall leaves a file it did not install, and nothing else.
mkdir -p "$share/scenarios/mine"
echo "expect x /x/" >"$share/scenarios/mine/scenario"
make -C "$TOP" --no-print-directory -s uninstall DESTDIR="$D" || fail "make uninstall failed"
left=$(cd "$D" && find . -type f)
[ "$left" = "./usr/local/share/initrd-test/scenarios/mine/scenario" ] ||
	fail "make uninstall left (or removed) the wrong files: $left"
rm -r "$share/scenarios/mine"
make -C "$TOP" --no-print-directory -s uninstall DESTDIR="$D" || fail "a second make uninstall failed"
[ -z "$(cd "$D" && find . -mindepth 1 ! -type d)" ] || fail "files left after uninstall"
