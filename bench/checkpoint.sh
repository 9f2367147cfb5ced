#!/bin/sh
# SPDX-License-Identifier: MIT
# Checkpoints: a suite of CHECKPOINT_COPIES (default 10) scenarios on one image, each the
# networking boot of tests/data/checkpoint/base (to the agent, then 'checkpoint ready') and a
# command of its own, run with --no-checkpoint (every one boots) and with checkpoints from an
# empty checkpoint cache (one boots and saves, the rest restore), both -j 2 in the same run;
# then once more with the checkpoint already saved (all restore). Goal: with / without <= 0.2
# (5x). Also the median and the slowest restore, from each run's result.json.
set -eu
cd "$(dirname "$0")/.."
IT=$(pwd)/initrd-test
ACCEL="${INITRD_TEST_ACCEL:-tcg}"
COPIES="${CHECKPOINT_COPIES:-10}"
W=$(mktemp -d /tmp/it-bench-checkpoint.XXXXXX)
trap 'rm -rf "$W"' EXIT

i=0
while [ $i -lt "$COPIES" ]; do
	i=$((i + 1))
	mkdir -p "$W/suite/s$i"
	printf 'include %s/tests/data/checkpoint/base\nrun echo %s\noutput /^%s$/\n' \
		"$PWD" "$i" "$i" >"$W/suite/s$i/scenario"
done
# Warm the package cache, so that every run pays the same for its one build.
$IT -q build -s tests/data/checkpoint/base --repo tests/data/alpine-3.19.1 --kernel host \
	--cache-dir "$W/cache" -o "$W/warm/initrd.img"

python3 - "$IT" "$W" "$ACCEL" "$COPIES" <<'PY'
import json, statistics, subprocess, sys, time

it, w, accel, copies = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def run(name, *extra):
    out = f"{w}/out-{name}"
    start = time.monotonic()
    p = subprocess.run([it, "-q", "run", "-q", "-j", "2", "--accel", accel, *extra,
                        "--repo", "tests/data/alpine-3.19.1", "--kernel", "host",
                        "--cache-dir", f"{w}/cache", "-o", out, "--json", f"{out}.json",
                        f"{w}/suite"], stdout=subprocess.DEVNULL)
    wall = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"checkpoint: the {name} run failed with exit code {p.returncode}")
    runs = json.load(open(f"{out}.json"))["runs"]
    actions = [r["checkpoint"]["action"] for r in runs]
    restores = [r["checkpoint"]["restore_ms"] for r in runs if r["checkpoint"]["action"] == "restored"]
    return wall, actions, restores

print(f"checkpoint: a suite of {copies} scenarios on one image ({accel}, -j 2)")
off, a_off, _ = run("off", "--no-checkpoint")
print(f"  --no-checkpoint:            wall {off:6.1f} s  ({a_off.count('off')} boots)")
on, a_on, r_on = run("on")
print(f"  checkpoints, none saved:    wall {on:6.1f} s  ({a_on.count('saved')} boot and save, "
      f"{a_on.count('restored')} restores)")
warm, a_warm, r_warm = run("warm")
print(f"  checkpoints, already saved: wall {warm:6.1f} s  ({a_warm.count('restored')} restores)")
restores = r_on + r_warm
if restores:
    print(f"  restore (qemu -incoming, migrate-incoming, cont): median {statistics.median(restores):.0f} ms, "
          f"slowest {max(restores)} ms, over {len(restores)}")
print(f"  with / without checkpoints: {on / off:.2f} ({off / on:.1f}x faster; goal: 5x), "
      f"already saved: {warm / off:.2f} ({off / warm:.1f}x)")
PY
