#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The peer for bench/boot.sh: bare qemu with the serial console on stdout, watched by the
# simplest possible reader until the DHCP lease line; prints seconds to the lease.
import re
import subprocess
import sys
import time

kernel, initrd, accel = sys.argv[1], sys.argv[2], sys.argv[3]
argv = ["qemu-system-x86_64", "-machine", "pc", "-accel", accel, "-m", "512", "-smp", "1",
        "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0",
        "-nic", "user,model=e1000,restrict=on", "-display", "none", "-no-reboot",
        "-serial", "stdio", "-monitor", "none"]
pat = re.compile(rb"udhcpc: lease of 10\.0\.2\.15 obtained")
start = time.monotonic()
p = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
buf = b""
found = None
while True:
    chunk = p.stdout.read1(65536)
    if not chunk:
        break
    buf = buf[-4096:] + chunk
    if pat.search(buf):
        found = time.monotonic() - start
        break
    if time.monotonic() - start > 300:
        break
p.kill()
p.wait()
if found is None:
    sys.exit("bare qemu: no lease line")
print("%.3f" % found)
