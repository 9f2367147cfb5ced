#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pexpect's side of bench/expect-throughput.sh: the same patterns, in the same order,
over the same console file, read in the same 4 KiB pieces."""
import json
import os
import re
import sys
import time

import pexpect
from pexpect import fdpexpect

CHUNK = 4096
# pexpect rescans its whole buffer after every read unless searchwindowsize bounds
# it (quadratic: hours for 50 MB). The newest read plus the longest line a match
# can span is enough, and a competent user keeps the window that small: pexpect
# searches all of it with every pattern after every read. A kernel message line
# is at most 1 KiB (printk), the longest line of this boot 212 bytes.
WINDOW = CHUNK + 1024


def compile_pattern(literal, pattern):
    src = pattern.encode("utf-8", "surrogateescape")
    # The engine matches line by line: '^' is a line start there, so MULTILINE here.
    return re.compile(re.escape(src) if literal else src, re.MULTILINE)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: expect_pexpect.py CONSOLE PATTERNS.json")
    console, patterns = sys.argv[1:3]
    with open(patterns, encoding="utf-8") as f:
        spec = json.load(f)
    steps = [compile_pattern(lit, p) for lit, p in spec["expect"]]
    fails = [compile_pattern(lit, p) for lit, p in spec["fail"]]
    ends = spec["ends"]
    size = os.path.getsize(console)

    fd = os.open(console, os.O_RDONLY | os.O_CLOEXEC)
    t0 = time.perf_counter()
    c0 = time.process_time()
    child = fdpexpect.fdspawn(fd, timeout=None, maxread=CHUNK, searchwindowsize=WINDOW)
    # By default pexpect sleeps 0.1 ms after every read (to spare the CPU on a slow
    # child); the engine never sleeps, so neither does its peer.
    child.delayafterread = None
    pos = 0
    for i, step in enumerate(steps):
        idx = child.expect([step] + fails + [pexpect.EOF])
        if idx != 0:
            what = "the console ended" if idx == len(fails) + 1 else "a fail pattern matched"
            sys.exit(f"expect_pexpect: {what} before step {i + 1}")
        pos += len(child.before) + len(child.after)
        if not ends[i] - CHUNK < pos <= ends[i]:
            sys.exit(f"expect_pexpect: step {i + 1} matched at {pos}, not at its marker "
                     f"(ending at {ends[i]})")
    t1 = time.perf_counter()
    c1 = time.process_time()
    os.close(fd)

    mib = size / (1024 * 1024)
    print(f"pexpect {pexpect.__version__} (fdpexpect, maxread {CHUNK}, searchwindowsize "
          f"{WINDOW}, no delayafterread): {mib:.1f} MiB in {t1 - t0:.3f} s: "
          f"{mib / (t1 - t0):.1f} MiB/s; cpu {c1 - c0:.3f} s: {mib / (c1 - c0):.1f} MiB/s")


if __name__ == "__main__":
    main()
