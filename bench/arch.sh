#!/bin/sh
# SPDX-License-Identifier: MIT
# aarch64 against x86_64 under the same accelerator: time to the udhcpc lease of the same
# busybox userland (Debian's busybox-static for each arch, tests/data/aarch64/lease and
# lease-x86_64), alternating, ARCH_ROUNDS rounds; printed with the timeout factor each
# run used, and the measured ratio that runner/runner.h's VM_AARCH64_TCG_RATIO stands for.
set -eu
cd "$(dirname "$0")/.."
IT=./initrd-test
ROUNDS="${ARCH_ROUNDS:-3}"
DATA=build/arm64
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

command -v qemu-system-aarch64 >/dev/null || {
	echo "arch: skipped: qemu-system-aarch64 missing (apt-get install qemu-system-arm)"
	exit 0
}
ci/fetch-arm64-data.sh "$DATA" >"$W/fetch.log" 2>&1 || {
	echo "arch: skipped: cannot fetch Debian's arm64 data (ci/fetch-arm64-data.sh)"
	exit 0
}
tests/tools/mkbusyboxrepo.sh "$DATA/root" "$DATA/repo" >/dev/null
tests/tools/mkbusyboxrepo.sh "$DATA/amd64" "$DATA/repo-x86" x86_64 >/dev/null
unset INITRD_TEST_TIMEOUT_FACTOR

i=0
while [ $i -lt "$ROUNDS" ]; do
	i=$((i + 1))
	for a in aarch64 x86_64; do
		s=tests/data/aarch64/lease
		[ $a = aarch64 ] || s=tests/data/aarch64/lease-x86_64
		$IT -q run --keys-dir tests/data/testkeys --cache-dir "$W/cache" -o "$W/$a$i" \
			--json "$W/$a$i.json" "$s" >/dev/null
	done
done

python3 - "$W" "$ROUNDS" <<'PY'
import json, statistics, sys
w, n = sys.argv[1], int(sys.argv[2])
lease, factor = {}, {}
for a in ("aarch64", "x86_64"):
    lease[a] = []
    for i in range(1, n + 1):
        d = json.load(open(f"{w}/{a}{i}.json"))["runs"][0]
        steps = {s["name"]: s for s in d["steps"]}
        lease[a].append(steps["lease"]["at_ms"] / 1000)
        factor[a] = d.get("timeout_factor", 0)
    lease[a] = statistics.median(lease[a])
print(f"arch: boot to the udhcpc lease, same busybox userland, {n} rounds, medians")
for a in ("x86_64", "aarch64"):
    print(f"  {a:8} {lease[a]:6.2f}s   timeouts x{factor[a]:.2f}")
print(f"  aarch64 / x86_64: {lease['aarch64'] / lease['x86_64']:.2f} "
      f"(timeout factors: {factor['aarch64'] / factor['x86_64']:.2f})")
PY
