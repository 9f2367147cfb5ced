# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# scenarios/services on real packages of the full 3.19.1 repository (ci/fetch-alpine-data.sh):
# openssh-server and its OpenRC script (pulled in by install_if), a user with authorized_keys.
# The agent's steps pass: OpenRC says sshd started, port 22 listens, alice's key opens an ssh
# session, her 'cat /etc/shadow' fails as it must, and sshd_config comes out byte for byte
# as the package ships it. One boot.
. "$TOP/tests/e2e/lib.sh"
require_qemu

FULL="$TOP/build/alpine-3.19.1"
if [ ! -f "$FULL/apks/x86_64/APKINDEX.tar.gz" ]; then
	"$TOP/ci/fetch-alpine-data.sh" "$FULL" >"$T/fetch.out" 2>&1 || {
		cat "$T/fetch.out"
		fail "setup: ci/fetch-alpine-data.sh could not get the full 3.19.1 repository"
	}
fi

"$IT" run --repo "$FULL/apks" --kernel host --cache-dir "$T/cache" -o "$T/run" \
	--junit "$T/junit.xml" --json "$T/result.json" "$TOP/scenarios/services" >"$T/out" 2>&1 || {
	cat "$T/out"
	fail "services did not pass"
}
cat "$T/out"
assert_grep '^PASSED services' "$T/out"
for step in login agent-ready wait-service wait-port copy-in ssh-login alice shadow denied copy-out; do
	grep -qE "^$step +ok " "$T/out" || fail "step $step not reported ok"
done

# sshd_config came out whole: the package's own bytes.
[ -s "$T/run/sshd_config" ] || fail "no sshd_config in the run's folder"
apk=$(ls "$FULL"/apks/x86_64/openssh-server-common-[0-9]*.apk)
mkdir -p "$T/pkg"
tar -xzf "$apk" -C "$T/pkg" etc/ssh/sshd_config 2>/dev/null || fail "setup: cannot unpack $apk"
cmp "$T/pkg/etc/ssh/sshd_config" "$T/run/sshd_config" || fail "sshd_config came out changed"
[ ! -e "$T/run/sshd_config.part" ] || fail "a .part file is left"

# What the commands said is in the result: the exit status, stdout and stderr apart.
python3 - "$T/result.json" <<'EOF' || fail "result.json does not hold the commands' outcome"
import json, sys
steps = {s["name"]: s for s in json.load(open(sys.argv[1]))["runs"][0]["steps"]}
run = steps["ssh-login"]
assert run["kind"] == "run" and run["exit_code"] == 0 and run["stdout"] == "alice\n", run
bad = steps["shadow"]
assert bad["kind"] == "run-fail" and bad["exit_code"] == 1, bad
assert "Permission denied" in bad["stderr"] and not bad["stdout"], bad
assert steps["wait-port"]["kind"] == "wait-port", steps["wait-port"]
assert "sshd_config" in steps["copy-out"]["line"], steps["copy-out"]
EOF
# One JUnit testcase per step, the agent's among them, none failed.
assert_grep '<testsuite name="services" [^>]*tests="19" failures="0"' "$T/junit.xml"
assert_grep '<testcase name="shadow"' "$T/junit.xml"
