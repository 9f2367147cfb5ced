#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare initrd-test's resolver with a real apk on small random indexes.

    tests/tools/apk-solver-diff.py APK INITRD_TEST FIRST_SEED LAST_SEED

APK is an apk binary that runs on this host: apk-tools 2.14-stable built from
its git branch against glibc, for example

    git -C APK_TOOLS_GIT archive 2.14-stable | tar -x -C /tmp/apk-stable
    make -C /tmp/apk-stable LUA=no
    LD_LIBRARY_PATH=/tmp/apk-stable/src tests/tools/apk-solver-diff.py \
        /tmp/apk-stable/src/apk ./initrd-test 1 700

(with '#define DEBUG_PRINT' in src/solver.c, apk's stderr traces its solver:
the order_id of each name, every select_package and why a provider won).
For each seed, a repository of a few packages (a..e, one or two versions,
dependencies, versioned and unversioned provides of v, w and cmd:sh, some
k:) and a world are made, and 'apk add --simulate' on a fresh root is
compared with 'initrd-test resolve'. One line a seed: 'same', or 'DIFF' with
the world and both plans ('ERR' when one fails); a DIFF's repository is kept
under /tmp/apk-solver-diff/SEED. Exit 1 when a seed differs where apk finds
a plan. Nothing here is a test: it finds the cases worth writing as one
(tests/data/solver/virt-mixed-*.repo came from it).
"""
import base64
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tarfile

NAMES = ["a", "b", "c", "d", "e"]
VIRTUALS = ["v", "w", "cmd:sh"]
WORK = "/tmp/apk-solver-diff"


def make_index(seed):
    """The APKINDEX text and the world for seed."""
    r = random.Random(seed)
    out = []
    for n in NAMES:
        for ver in r.sample(["1", "2", "3"], r.choice([1, 1, 2])):
            deps = set()
            for _ in range(r.choice([0, 0, 1, 1, 2])):
                t = r.choice(NAMES + VIRTUALS)
                if t == n:
                    continue
                if t in NAMES and r.random() < 0.2:
                    t += "=" + r.choice(["1", "2", "3"])
                deps.add(t)
            prov = [v + ("=" + r.choice(["1", "2"]) if r.random() < 0.4 else "")
                    for v in VIRTUALS if r.random() < 0.3]
            sha = hashlib.sha1(f"{seed}{n}{ver}".encode()).digest()
            out += ["C:Q1" + base64.b64encode(sha).decode(), "P:" + n, "V:" + ver]
            if deps:
                out.append("D:" + " ".join(sorted(deps)))
            if prov:
                out.append("p:" + " ".join(prov))
                if r.random() < 0.7:
                    out.append("k:" + str(r.choice([1, 5, 10, 10])))
            out += ["S:1", "I:1", ""]
    world = r.sample(VIRTUALS, r.choice([0, 1, 2])) + r.sample(NAMES, r.choice([1, 1, 2]))
    return "\n".join(out), world


def apk_plan(apk, d, world):
    common = ["--arch", "x86_64", "--allow-untrusted", "--repositories-file", "/dev/null",
              "--no-network", "--no-cache", "--root", os.path.join(d, "root")]
    os.makedirs(os.path.join(d, "root"), exist_ok=True)
    subprocess.run([apk] + common + ["--initdb", "add"], capture_output=True, check=False)
    p = subprocess.run([apk] + common + ["-X", os.path.join(d, "repo"), "add", "--simulate"]
                       + world, capture_output=True, text=True, check=False)
    if p.returncode:
        return "ERR"
    plan = []
    for line in p.stdout.splitlines():
        if "Installing " in line:
            name, ver = line.split("Installing ", 1)[1].split(" ", 1)
            plan.append(name + "-" + ver.strip("()"))
    return " ".join(plan)


def our_plan(it, d, world):
    env = dict(os.environ, INITRD_TEST_AGENT="/bin/true")
    p = subprocess.run([it, "-q", "resolve", "--repo", os.path.join(d, "repo"),
                        "--allow-untrusted", "--cache-dir", os.path.join(d, "cache")] + world,
                       capture_output=True, text=True, env=env, check=False)
    if p.returncode:
        return "ERR"
    return " ".join(line.split()[0] for line in p.stdout.splitlines()[:-1])


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    apk, it, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    bad = 0
    for seed in range(first, last + 1):
        d = os.path.join(WORK, str(seed))
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "repo", "x86_64"))
        text, world = make_index(seed)
        index = os.path.join(d, "repo", "x86_64", "APKINDEX")
        with open(index, "w") as f:
            f.write(text)
        with tarfile.open(index + ".tar.gz", "w:gz") as t:
            t.add(index, "APKINDEX")
        theirs, ours = apk_plan(apk, d, world), our_plan(it, d, world)
        if theirs == ours:
            print(f"{seed} same")
            shutil.rmtree(d)
            continue
        bad += theirs != "ERR"
        print(f"{seed} DIFF [{' '.join(world)}] apk={theirs} initrd-test={ours}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
