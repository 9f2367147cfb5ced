# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Hostile agents: images whose /sbin/initrd-test-agent is tests/data/agent/hostile-agent, a
# busybox script that sends what no agent would (text that is no frame, a 2 GiB length,
# endless output, nothing at all, a HELLO and then death). Each run ends in time with its
# own clear words, initrd-test's memory stays bounded, and nothing is left running.
# Five small boots (to the agent's start, not to a login): four as one -j 2 suite, then the
# endless one alone, its memory sampled.
. "$TOP/tests/e2e/lib.sh"
require_qemu
kernel=$(host_kernel)

# Peak resident memory (VmHWM, KiB) allowed to the run whose guest sends without end: a
# copy of what it sends (hundreds of MB in 15 s) would not fit.
RSS_MAX_KB=32768

private_runtime hostile
bg_pids=""
cleanup() {
	for p in $bg_pids; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$RT"
}
trap cleanup EXIT

# The frames the script sends whole: a HELLO, and STDOUT of 60000 bytes for request 1.
frames() {
	python3 - "$1" <<'EOF'
import struct, sys, zlib
def tlv(tag, val):
    return struct.pack("<HI", tag, len(val)) + val
def u64(tag, v):
    return tlv(tag, struct.pack("<Q", v))
def frame(ftype, rid, payload):
    hdr = b"\x7fITA" + struct.pack("<BBHII", ftype, 0, 0, rid, len(payload))
    return hdr + struct.pack("<I", zlib.crc32(payload, zlib.crc32(hdr))) + payload
hello = frame(0x01, 0, u64(1, 1) + tlv(2, b"hostile-agent 0") + u64(3, 15) + tlv(4, b"Linux") +
              tlv(5, b"a script"))
out = frame(0x11, 1, tlv(10, b"x" * 60000))
open(sys.argv[1] + "/hostile-hello.bin", "wb").write(hello)
open(sys.argv[1] + "/hostile-out.bin", "wb").write(out)
EOF
}

# scenario NAME STEPS...: a scenario under $T/hostile whose agent misbehaves as NAME says.
scenario() {
	name=$1
	shift
	d="$T/hostile/$name"
	mkdir -p "$d/rootfs/sbin" "$d/rootfs/etc"
	cp "$TOP/tests/data/agent/hostile-agent" "$d/rootfs/sbin/initrd-test-agent"
	echo "$name" >"$d/rootfs/etc/hostile-agent"
	frames "$d/rootfs/etc"
	{
		echo "include $TOP/scenarios/base"
		echo "overlay rootfs"
		echo "timeout 150s"
		for line in "$@"; do
			echo "$line"
		done
	} >"$d/scenario"
}
scenario garbage "agent-ready within 60s" "run true"
scenario huge "agent-ready within 60s" "run true"
scenario silent "expect openrc /OpenRC [0-9.]+ is starting up/" "agent-ready within 12s"
scenario dies "agent-ready within 60s" "run \"sleep 1\" within 100s"
mkdir -p "$T/alone"
scenario endless "agent-ready within 60s" "run \"true\" within 15s"
mv "$T/hostile/endless" "$T/alone/endless"

echo "== four hostile agents, one suite, -j 2"
start=$(date +%s)
expect_exit 1 "$IT" run -j 2 --repo "$REPO" --kernel host --cache-dir "$T/cache" -o "$T/suite" \
	--json "$T/suite.json" "$T/hostile" >"$T/suite.out" 2>"$T/suite.err"
took=$(($(date +%s) - start))
cat "$T/suite.out"
echo "the suite took ${took}s"
# Four boots to the agent's start, two at a time, the longest waiting 20 s for an answer.
[ "$took" -lt 120 ] || fail "the hostile suite took ${took}s"

# verdict NAME: "VERDICT WHY STEP STEPSTATUS" of that scenario in the suite's JSON.
verdict() {
	python3 - "$T/suite.json" "$1" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["runs"]:
    if r["scenario"] == sys.argv[2]:
        oc = r["outcome"]
        st = {s["name"]: s["status"] for s in r["steps"]}
        print(r["verdict"], oc["why"], oc["step"], st.get(oc["step"]))
        print(r["message"])
EOF
}
for name in garbage huge silent dies; do
	verdict "$name" >"$T/$name.v"
	echo "$name: $(cat "$T/$name.v")"
done
step=agent-ready
for name in garbage huge; do
	[ "$(head -n 1 "$T/$name.v")" = "failed agent $step failed" ] || fail "$name: $(cat "$T/$name.v")"
done
grep -q "the guest agent was lost: agent channel broken at byte 0: bad magic" "$T/garbage.v" ||
	fail "garbage: the message does not say what broke"
grep -q "the guest agent was lost: agent channel broken at byte 0: frame too long" "$T/huge.v" ||
	fail "huge: the message does not name the length"
[ "$(head -n 1 "$T/silent.v")" = "failed agent agent-ready failed" ] || fail "silent: $(cat "$T/silent.v")"
grep -q "the guest agent did not start: no hello on its channel within 12s; last console line: '." \
	"$T/silent.v" || fail "silent: the message does not say the agent never started"
[ "$(head -n 1 "$T/dies.v")" = "failed agent run failed" ] || fail "dies: $(cat "$T/dies.v")"
grep -q "the agent stopped answering: nothing on its channel for 20 s" "$T/dies.v" ||
	fail "dies: the message does not say the agent stopped answering"
# The summary counts them as failures (exit 1), not as infrastructure errors.
assert_grep "^4 scenarios: 0 passed, 4 failed" "$T/suite.out"

echo "== a guest that sends output without end"
# Built apart: the build's own peak (index, packages) would hide the run's in VmHWM.
"$IT" build -s "$T/alone/endless" --repo "$REPO" --kernel host --cache-dir "$T/cache" \
	-o "$T/img/initrd.img" >"$T/build.out" 2>&1 || {
	cat "$T/build.out"
	fail "setup: the build failed"
}
"$IT" run --initrd "$T/img/initrd.img" --kernel "$kernel" -o "$T/endless" \
	--json "$T/endless.json" "$T/alone/endless" >"$T/endless.out" 2>&1 &
run_pid=$!
bg_pids="$run_pid"
peak_rss "$run_pid" "$T/endless.rss"
peak=$(cat "$T/endless.rss" 2>/dev/null || echo 0)
set +e
wait "$run_pid"
rc=$?
set -e
bg_pids=""
cat "$T/endless.out"
[ "$rc" -eq 4 ] || fail "endless: exit $rc, not 4 (timed out)"
assert_grep "TIMED OUT endless at step 'run'" "$T/endless.out"
assert_grep "run \"true\" did not finish within 15s" "$T/endless.out"
echo "endless: peak RSS $peak KiB (bound $RSS_MAX_KB)"
[ "$peak" -gt 0 ] && [ "$peak" -lt "$RSS_MAX_KB" ] || fail "endless: peak RSS $peak KiB"
# What it sent is in the result, cut, with a count of what was left out.
python3 - "$T/endless.json" <<'EOF' || fail "endless: result.json does not hold the cut output"
import json, re, sys
step = [s for s in json.load(open(sys.argv[1]))["runs"][0]["steps"] if s["name"] == "run"][0]
out = step["stdout"]
assert out.startswith("x" * 8000), out[:100]
m = re.search(r"\[initrd-test: (\d+) more bytes left out\]\n$", out)
assert m and int(m.group(1)) > 100000, out[-200:]
assert len(out) < 9000, len(out)
EOF
assert_no_process "$T/img/initrd.img" "qemu still running after the endless run"
