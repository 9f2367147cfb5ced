#!/bin/sh
# SPDX-License-Identifier: MIT
# Time to verdict for scenarios/networking against bare qemu reaching the same lease line,
# on the same kernel and initrd, in one run (alternating, N rounds).
set -eu
cd "$(dirname "$0")/.."
IT=./initrd-test
ACCEL="${INITRD_TEST_ACCEL:-tcg}"
ROUNDS="${BOOT_ROUNDS:-2}"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

$IT -q build -s scenarios/networking --repo tests/data/alpine-3.19.1 --kernel host \
	--cache-dir "$W/cache" -o "$W/img/initrd.img"
kernel="$W/img/vmlinuz"

i=0
while [ $i -lt "$ROUNDS" ]; do
	i=$((i + 1))
	s=$(date +%s.%N)
	$IT run -q --initrd "$W/img/initrd.img" --kernel "$kernel" --accel "$ACCEL" \
		-o "$W/run$i" --json "$W/r$i.json" scenarios/networking >/dev/null
	e=$(date +%s.%N)
	echo "$s $e" >"$W/t$i"
	python3 bench/bare_qemu_lease.py "$kernel" "$W/img/initrd.img" "$ACCEL" >"$W/bare$i"
done

python3 - "$W" "$ROUNDS" <<'PY'
import json, statistics, sys
w, n = sys.argv[1], int(sys.argv[2])
lease, total, bare = [], [], []
for i in range(1, n + 1):
    d = json.load(open(f"{w}/r{i}.json"))["runs"][0]
    steps = {s["name"]: s for s in d["steps"]}
    lease.append(steps["lease"]["at_ms"] / 1000)
    s, e = map(float, open(f"{w}/t{i}").read().split())
    total.append(e - s)
    bare.append(float(open(f"{w}/bare{i}").read()))
ml, mt, mb = statistics.median(lease), statistics.median(total), statistics.median(bare)
print(f"boot: networking, {n} rounds, medians")
print(f"  bare qemu to the lease line          {mb:7.2f} s")
print(f"  initrd-test to the lease step        {ml:7.2f} s   ratio {ml / mb:.3f} (goal <= 1.05)")
print(f"  initrd-test to verdict (all 10 steps, {mt:7.2f} s   login + 'ip addr' after the lease;")
print(f"    VM stopped at the last step)")
PY
