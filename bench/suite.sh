#!/bin/sh
# SPDX-License-Identifier: MIT
# Suite wall time at -j 1 and -j 2 on this machine and their ratio, with the CPU time and
# peak memory of each VM (qemu's /proc/PID/stat and status, sampled while it runs) and of
# the whole run (getrusage of the children). The suite: SUITE_COPIES (default 4) copies
# of tests/data/suite/boot, each a real boot to OpenRC with its own name.
set -eu
cd "$(dirname "$0")/.."
IT=./initrd-test
ACCEL="${INITRD_TEST_ACCEL:-tcg}"
COPIES="${SUITE_COPIES:-4}"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

i=0
while [ $i -lt "$COPIES" ]; do
	i=$((i + 1))
	mkdir -p "$W/suite/boot-$i"
	printf 'include %s/tests/data/suite/boot\n' "$PWD" >"$W/suite/boot-$i/scenario"
done
# Warm the package cache, so that both runs pay the same: one build of the shared initrd.
$IT -q build -s tests/data/suite/boot --repo tests/data/alpine-3.19.1 --kernel host \
	--cache-dir "$W/cache" -o "$W/warm/initrd.img"

python3 - "$IT" "$W" "$ACCEL" "$COPIES" <<'PY'
import os, resource, subprocess, sys, time

it, w, accel, copies = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tick = os.sysconf("SC_CLK_TCK")

def qemus(out):
    """pid -> (cpu seconds, VmHWM kB) of the qemu processes of this run."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            if not cmd or b"qemu-system" not in cmd[0] or out.encode() not in b" ".join(cmd):
                continue
            stat = open(f"/proc/{pid}/stat").read()
            fields = stat[stat.rindex(")") + 2:].split()
            cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            hwm = 0
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
            found[int(pid)] = (cpu, hwm)
        except (OSError, ValueError, IndexError):
            pass  # it ended between listdir and read
    return found

def run(jobs):
    out = f"{w}/out-j{jobs}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    p = subprocess.Popen([it, "-q", "run", "-q", "-j", str(jobs), "--accel", accel,
                          "--repo", "tests/data/alpine-3.19.1", "--kernel", "host",
                          "--cache-dir", f"{w}/cache", "-o", out, f"{w}/suite"],
                         stdout=subprocess.DEVNULL)
    seen, peak = {}, 0
    while p.poll() is None:
        now = qemus(out)
        peak = max(peak, len(now))
        seen.update(now)  # the last sample of each VM is its total so far
        time.sleep(0.2)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        sys.exit(f"suite: the -j {jobs} run failed with exit code {p.returncode}")
    return wall, cpu, seen, peak

print(f"suite: {copies} boots to OpenRC ({accel}), {os.cpu_count()} CPUs")
res = {}
for jobs in (1, 2):
    wall, cpu, vms, peak = run(jobs)
    res[jobs] = wall
    vm_cpu = [c for c, _ in vms.values()]
    vm_mem = [m / 1024 for _, m in vms.values()]
    print(f"  -j {jobs}: wall {wall:6.1f} s, CPU {cpu:6.1f} s in all ({cpu / wall:.2f} cores busy), "
          f"{peak} VMs at once at most")
    if vms:
        print(f"         per VM: CPU {sum(vm_cpu) / len(vm_cpu):5.1f} s (min {min(vm_cpu):.1f}, "
              f"max {max(vm_cpu):.1f}), peak RSS {sum(vm_mem) / len(vm_mem):5.0f} MiB "
              f"(max {max(vm_mem):.0f}) over {len(vms)} VMs")
print(f"  -j 2 / -j 1 wall time ratio: {res[2] / res[1]:.2f} (1.0: no gain, 0.5: perfect on 2 cores)")
PY
