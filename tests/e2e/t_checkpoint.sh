# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Checkpoints on real VMs (tests/data/checkpoint: a base that boots to the agent and says
# 'checkpoint ready', and four scenarios that go on after it: a command with a capture from
# before the checkpoint, the guest's clock, DHCP over user-mode networking, the serial
# console). The suite gives the same verdicts with --no-checkpoint and with checkpoints; with
# them it boots once and restores the rest, and each restored run says so. A corrupted state
# file falls back to a boot, with a message, and is saved again; a changed step before the
# checkpoint and a changed kernel each make a checkpoint of their own; the same kernel bytes
# at another path do not. The guest's clock is the host's after a restore of an older
# checkpoint. 'initrd-test cache' lists and prunes them.
. "$TOP/tests/e2e/lib.sh"
require_qemu
KERNEL=$(host_kernel)
DATA="$TOP/tests/data/checkpoint"
CACHE="$T/cache"
private_runtime checkpoint
trap 'rm -rf "$RT"' EXIT

# field FILE.json: one line per run: scenario verdict checkpoint-action
field() {
	python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["runs"]:
    c = r.get("checkpoint") or {}
    print(r["scenario"], r["verdict"], c.get("action"))' "$1"
}
# action FILE.json: the one run's checkpoint action
action() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["checkpoint"]["action"])' "$1"
}

echo "== the suite with --no-checkpoint"
start=$(date +%s)
expect_exit 0 "$IT" run -j 2 --no-checkpoint --repo "$REPO" --kernel host --cache-dir "$CACHE" \
	-o "$T/off" --json "$T/off.json" "$DATA" >"$T/off.out" 2>&1
echo "--no-checkpoint: $(($(date +%s) - start)) s"
field "$T/off.json" | tee "$T/off.v"
[ "$(grep -c ' passed off$' "$T/off.v")" -eq 5 ] || fail "not 5 passed runs with checkpoints off"
"$IT" cache --cache-dir "$CACHE" >"$T/list0"
assert_grep "^no checkpoints in $CACHE/checkpoints" "$T/list0"

echo "== the suite with checkpoints"
start=$(date +%s)
expect_exit 0 "$IT" run -j 2 --repo "$REPO" --kernel host --cache-dir "$CACHE" \
	-o "$T/on" --json "$T/on.json" "$DATA" >"$T/on.out" 2>&1
echo "checkpoints: $(($(date +%s) - start)) s"
field "$T/on.json" | tee "$T/on.v"
cut -d' ' -f1,2 "$T/off.v" >"$T/off.vv"
cut -d' ' -f1,2 "$T/on.v" >"$T/on.vv"
diff "$T/off.vv" "$T/on.vv" || fail "other verdicts with checkpoints"
[ "$(grep -c ' saved$' "$T/on.v")" -eq 1 ] || fail "not one run saved the checkpoint"
[ "$(grep -c ' restored$' "$T/on.v")" -eq 4 ] || fail "not four runs restored it"
[ "$(grep -c '^booting ' "$T/on.out")" -eq 1 ] || fail "more than one boot"
[ "$(grep -c 'restored checkpoint ready ([0-9a-f]*) in ' "$T/on.out")" -eq 4 ] ||
	fail "the restores are not logged"
assert_grep "checkpoint: restored from checkpoint ready (boot skipped) in " "$T/on.out"
assert_grep "ready .* restored from checkpoint ready (boot skipped)" "$T/on.out"
# The prefix's milestones are the saving run's, in every restored run.
python3 - "$T/on.json" <<'EOF' || fail "the restored runs do not carry the saving run's milestones"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
saver = [r for r in runs if r["checkpoint"]["action"] == "saved"][0]
for r in runs:
    for name in ("openrc", "lease", "login", "agent-ready"):
        a, b = r["timings"]["steps"][name], saver["timings"]["steps"][name]
        assert a == b, (r["scenario"], name, a, b)
    assert r["timings"]["first_console_byte_ms"] == saver["timings"]["first_console_byte_ms"]
    if r is not saver:
        assert 0 <= r["checkpoint"]["restore_ms"] < 30000, r["checkpoint"]
EOF
# The console log goes on from the saving run's, with the line that says where.
assert_grep "\[initrd-test: restored from checkpoint ready (boot skipped)\]" "$T/on/console/console.log"
assert_grep "alpine-test login: " "$T/on/console/console.log"
"$IT" cache --cache-dir "$CACHE" >"$T/list1"
cat "$T/list1"
assert_grep "^1 checkpoint, " "$T/list1"
ID=$(awk 'NR == 2 { print $1 }' "$T/list1")
STATE="$CACHE/checkpoints/$ID/state"
[ -s "$STATE" ] || fail "no state file at $STATE"

echo "== a corrupted state: booted instead, and saved again"
printf 'not a VM' | dd of="$STATE" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_exit 0 "$IT" run --repo "$REPO" --kernel host --cache-dir "$CACHE" -o "$T/bad" \
	--json "$T/bad.json" "$DATA/uname" >"$T/bad.out" 2>&1
assert_grep "warning: cannot restore checkpoint ready: .*; booting instead (and saving it again)" "$T/bad.out"
assert_grep "checkpoint: restoring checkpoint ready failed (.*): booted instead; saved checkpoint ready" "$T/bad.out"
[ "$(action "$T/bad.json")" = saved ] || fail "the fallback run did not save it again"
expect_exit 0 "$IT" run --repo "$REPO" --kernel host --cache-dir "$CACHE" -o "$T/again" \
	--json "$T/again.json" "$DATA/uname" >"$T/again.out" 2>&1
[ "$(action "$T/again.json")" = restored ] || fail "the checkpoint saved again is not restored"
saved_at=$(date +%s)

echo "== a changed step before the checkpoint: a checkpoint of its own"
mkdir -p "$T/changed/base" "$T/changed/uname"
sed -e "s|^include .*|include $TOP/scenarios/base|" \
	-e 's|^expect login .*|expect login        /alpine-test login:/|' "$DATA/base/scenario" \
	>"$T/changed/base/scenario"
cp "$DATA/uname/scenario" "$T/changed/uname/scenario"
expect_exit 0 "$IT" run --repo "$REPO" --kernel host --cache-dir "$CACHE" -o "$T/step" \
	--json "$T/step.json" "$T/changed/uname" >"$T/step.out" 2>&1
[ "$(action "$T/step.json")" = saved ] || fail "a changed step reused the old checkpoint"
"$IT" cache --cache-dir "$CACHE" >"$T/list2"
assert_grep "^2 checkpoints, " "$T/list2"

echo "== the same initrd with a changed kernel: a checkpoint of its own"
cp "$KERNEL" "$T/vmlinuz.same"
expect_exit 0 "$IT" run --initrd "$T/again/initrd.img" --kernel "$T/vmlinuz.same" \
	--cache-dir "$CACHE" -o "$T/same" --json "$T/same.json" "$DATA/uname" >"$T/same.out" 2>&1
[ "$(action "$T/same.json")" = restored ] || fail "the same kernel bytes elsewhere did not restore"
cp "$KERNEL" "$T/vmlinuz.changed"
printf '\0' >>"$T/vmlinuz.changed"
expect_exit 0 "$IT" run --initrd "$T/again/initrd.img" --kernel "$T/vmlinuz.changed" \
	--cache-dir "$CACHE" -o "$T/kernel" --json "$T/kernel.json" "$DATA/uname" >"$T/kernel.out" 2>&1
[ "$(action "$T/kernel.json")" = saved ] || fail "a changed kernel reused the old checkpoint"
"$IT" cache --cache-dir "$CACHE" >"$T/list3"
assert_grep "^3 checkpoints, " "$T/list3"

echo "== the guest's clock after a restore of an older checkpoint"
# The saved guest's clock stood still since the save: the agent sets it on RESUME.
age=$(($(date +%s) - saved_at))
[ "$age" -ge 45 ] || sleep $((45 - age))
before=$(date +%s)
expect_exit 0 "$IT" run --repo "$REPO" --kernel host --cache-dir "$CACHE" -o "$T/clock" \
	--json "$T/clock.json" "$DATA/clock" >"$T/clock.out" 2>&1
after=$(date +%s)
[ "$(action "$T/clock.json")" = restored ] || fail "the clock run did not restore"
guest=$(python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["runs"][0]
print([s for s in r["steps"] if s["name"] == "run"][0]["stdout"].strip())' "$T/clock.json")
echo "checkpoint $(($(date +%s) - saved_at)) s old; host $before..$after, guest $guest"
[ "$guest" -ge $((before - 2)) ] && [ "$guest" -le $((after + 2)) ] ||
	fail "the guest's clock ($guest) is not the host's ($before..$after)"

echo "== cache prune"
expect_exit 2 "$IT" cache --cache-dir "$CACHE" prune --max-size lots
expect_exit 2 "$IT" cache --cache-dir "$CACHE" frob
"$IT" cache --cache-dir "$CACHE" prune >"$T/prune0"
assert_grep "^removed 0 checkpoints" "$T/prune0"
"$IT" cache --cache-dir "$CACHE" prune --all >"$T/prune1"
assert_grep "^removed 3 checkpoints, " "$T/prune1"
"$IT" cache --cache-dir "$CACHE" >"$T/list4"
assert_grep "^no checkpoints" "$T/list4"
echo "ok"
