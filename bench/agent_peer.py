#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The guest command channel against the serial-console way, on one VM, in one run.

usage: agent_peer.py IT INITRD KERNEL SCENARIO WORKDIR

'initrd-test boot' runs under pexpect, whose pty is the VM's serial console (ttyS0).
The peer is what labgrid's ShellDriver and Buildroot's runtime tests do: type the command
with a marker and 'echo $?' on the console, and wait for the marker with pexpect. Ours is
'initrd-test exec NAME -- CMD' from another process, over the agent's channel. Both run
ROUNDS times, alternating, for 'true' (a builtin of the peer's running shell) and for
'/bin/true' (a process for both); the medians are printed with their ratios. Then 10 MiB
of random bytes go in and out with 'initrd-test cp', checked, as MB/s. Last, in a second
VM of the same image, ROUNDS 'run true' steps of a scenario: the round trip inside a run,
without exec's own process start and connection.
"""
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

import pexpect

ROUNDS = int(os.environ.get("AGENT_ROUNDS", "50"))
COPY_MB = 10


def main():
    it, initrd, kernel, scenario, work = sys.argv[1:6]
    env = dict(os.environ, XDG_RUNTIME_DIR=work, NO_COLOR="1")
    boot = pexpect.spawn(it, ["boot", "--initrd", initrd, "--kernel", kernel, "-o",
                              os.path.join(work, "boot"), scenario],
                         env=env, encoding="utf-8", codec_errors="replace", timeout=180)
    boot.logfile_read = open(os.path.join(work, "console.txt"), "w")
    name = None
    try:
        boot.expect("login: ")
        boot.sendline("root")
        boot.expect(r"~# ")
        # Quiet kernel messages: the peer gets the console to itself (its best case).
        boot.sendline("dmesg -n 1")
        boot.expect(r"~# ")
        name = subprocess.run([it, "ps"], env=env, capture_output=True, text=True,
                              check=True).stdout.splitlines()[1].split()[0]

        def peer(cmd):
            t = time.monotonic()
            boot.sendline(cmd + '; echo "MARK-$?-DONE"')
            boot.expect("MARK-0-DONE")
            boot.expect(r"~# ")
            return time.monotonic() - t

        def ours(cmd):
            t = time.monotonic()
            subprocess.run([it, "exec", name, "--", cmd], env=env, check=True)
            return time.monotonic() - t

        for cmd, goal in (("true", " (goal <= 0.20)"), ("/bin/true", "")):
            ours(cmd)  # the first of each warms the page cache, for both
            peer(cmd)
            p, o = [], []
            for _ in range(ROUNDS):
                p.append(peer(cmd))
                o.append(ours(cmd))
            mp, mo = statistics.median(p), statistics.median(o)
            print(f"round trip of '{cmd}', median of {ROUNDS}:")
            print(f"  serial console + marker + echo $? (pexpect): {mp * 1000:7.1f} ms")
            print(f"  initrd-test exec (agent channel):            {mo * 1000:7.1f} ms"
                  f"   ratio {mo / mp:.2f}{goal}")

        blob = os.path.join(work, "blob")
        with open(blob, "wb") as f:
            f.write(os.urandom(COPY_MB << 20))
        want = hashlib.sha256(open(blob, "rb").read()).hexdigest()
        t = time.monotonic()
        subprocess.run([it, "-q", "cp", blob, f"{name}:/tmp/blob"], env=env, check=True)
        t_in = time.monotonic() - t
        back = blob + ".back"
        t = time.monotonic()
        subprocess.run([it, "-q", "cp", f"{name}:/tmp/blob", back], env=env, check=True)
        t_out = time.monotonic() - t
        got = hashlib.sha256(open(back, "rb").read()).hexdigest()
        if got != want:
            sys.exit("agent bench: the 10 MiB file came back changed")
        mb = (COPY_MB << 20) / 1e6
        print(f"copy of {COPY_MB} MiB, checked (goal >= 5 MB/s each way):")
        print(f"  in:  {t_in:6.2f} s  {mb / t_in:6.1f} MB/s")
        print(f"  out: {t_out:6.2f} s  {mb / t_out:6.1f} MB/s")
    finally:
        if name:
            subprocess.run([it, "stop", name], env=env, capture_output=True)
            boot.expect(pexpect.EOF, timeout=60)
        else:
            boot.terminate(force=True)
    in_run(it, initrd, kernel, scenario, work, env)


def in_run(it, initrd, kernel, scenario, work, env):
    """ROUNDS 'run true' steps after the scenario's own: each step's duration in result.json."""
    d = os.path.join(work, "steps")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "scenario"), "w") as f:
        f.write(f"include {os.path.abspath(scenario)}\n")
        for i in range(ROUNDS + 1):
            f.write(f'run "true" name t{i}\n')
    res = os.path.join(work, "steps.json")
    subprocess.run([it, "run", "-q", "--initrd", initrd, "--kernel", kernel, "-o",
                    os.path.join(work, "steps-out"), "--json", res, d], env=env, check=True)
    steps = {s["name"]: s for s in json.load(open(res))["runs"][0]["steps"]}
    # t0 waits for nothing but is the first: left out, as the warm-ups above.
    ms = [steps[f"t{i}"]["duration_ms"] for i in range(1, ROUNDS + 1)]
    print(f"'run true' steps inside a run (another VM of the same image), median of {ROUNDS}: "
          f"{statistics.median(ms):.1f} ms")


if __name__ == "__main__":
    main()
