#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Re-express apk-tools' own solver cases in initrd-test's case format.

    tests/tools/apk-solver-import.py APK_TOOLS_TEST_DIR tests/data/solver

APK_TOOLS_TEST_DIR is the test/ directory of an apk-tools 2.14-stable checkout
(`git archive 2.14-stable test | tar -x`). Every case that does `add` on a fresh
root (no --test-instdb) becomes tests/data/solver/apk-NAME.test, and every index
it reads becomes apk-NAME.repo, re-expressed: the facts (packages, versions,
dependencies, provides, install_if, priorities, which repository holds what, the
world, what apk installs, and in which order) are kept; apk's file text, its
messages and its checksums are not (a checksum becomes one made here from the
original checksum, so that what apk takes for one package stays one package
and copies stay told apart). The messages under @ERROR are initrd-test's own: an existing
apk-NAME.test keeps its @ERROR body, a new one gets the line 'FILL IN' and fails
until someone writes the message in.

Cases that are not taken are listed with the reason in NOT_TAKEN, and printed.
"""
import base64
import hashlib
import os
import re
import shlex
import sys

# Cases that do 'add' on a fresh root but use what an initrd build has no use for.
NOT_TAKEN = {
    "basic8": "add -t (a virtual package in the installed db)",
    "pinning14": "add -t (a virtual package in the installed db)",
    "basic10": "--force (install the rest of a broken world)",
    "basic11": "--force (install the rest of a broken world)",
}

FIELDS = "PVDpikS"  # what the resolver reads, in this order; C: and I: are made below


def blocks(text):
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("@"):
            cur = line[1:].split(" ", 1)[0]
            out.setdefault(cur, [])
            rest = line[1 + len(cur):].strip()
            if rest:
                out[cur].append(rest)
        elif cur:
            out[cur].append(line)
    return out


def reexpress_repo(src):
    """An index's stanzas with our field order and checksums of our own."""
    stanzas, cur = [], {}
    for line in open(src, encoding="utf-8").read().splitlines() + [""]:
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur = {}
            continue
        key, _, val = line.partition(":")
        cur.setdefault(key, []).append(val)
    out = [f"# Packages of apk-tools' {os.path.basename(src)} (2.14-stable test/), re-expressed:",
           "# the same names, versions and fields; checksums made here.", ""]
    for st in stanzas:
        p, v = st["P"][0], st["V"][0]
        # What apk takes for one package keeps one checksum, another package another. apk
        # compares the decoded bytes: 'Q1...E=' and 'Q1...F=' differ only in padding bits
        # and are one package (installif1.repo's bar and libiif).
        c = st.get("C", [""])[0]
        key = base64.b64decode(c[2:]) if c.startswith("Q1") else f"{p}-{v}".encode()
        digest = hashlib.sha1(key).digest()
        out.append("C:Q1" + base64.b64encode(digest).decode())
        for f in FIELDS:
            for val in st.get(f, []):
                out.append(f"{f}:{val}")
        out.append("I:" + st.get("I", ["1"])[0])
        for f in sorted(st):
            if f not in FIELDS + "CI":
                for val in st[f]:
                    out.append(f"{f}:{val}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


INSTALL = re.compile(r"^\((\d+)/(\d+)\) Installing (\S+) \((\S+)\)$")


def convert(testdir, outdir, name, repos_done):
    text = open(os.path.join(testdir, name + ".test"), encoding="utf-8").read()
    b = blocks(text)
    args = shlex.split(" ".join(b.get("ARGS", [])))
    if "--test-instdb" in args or "add" not in args:
        return None, "not a fresh root"
    if name in NOT_TAKEN:
        return None, NOT_TAKEN[name]
    repos, world, i = [], [], 0
    while i < len(args):
        a = args[i]
        if a == "--test-repo":
            spec = args[i + 1]
            i += 2
            spec = spec.lstrip("!")  # the cache's repository: for a fresh root, one more
            tag, _, f = spec.rpartition(":")
            repos.append((tag, f))
        elif a == "--test-world":
            world += args[i + 1].split()
            i += 2
        elif a == "--no-network":
            i += 1
        elif a == "add":
            world += args[i + 1:]
            break
        else:
            return None, f"option {a}"
    repo_lines = []
    for tag, f in repos:
        base = "apk-" + f[:-5] + ".repo"
        if f not in repos_done:
            with open(os.path.join(outdir, base), "w", encoding="utf-8") as o:
                o.write(reexpress_repo(os.path.join(testdir, f)))
            repos_done.add(f)
        repo_lines.append(f"@REPO {'@' + tag + ' ' if tag else ''}{base}")
    expect = [l for l in b.get("EXPECT", []) if l.strip()]
    plan, error = [], None
    for l in expect:
        m = INSTALL.match(l)
        if m:
            pkg, ver = m.group(3), m.group(4)
            n, _, t = pkg.partition("@")
            plan.append(f"{n}-{ver}" + (f" @{t}" if t else ""))
        elif l.startswith("OK:"):
            continue
        elif l.startswith("ERROR: ") and "not a valid" in l:
            error = "malformed"
        elif l.startswith("ERROR: unable to select"):
            error = "unsat"
        elif error:
            continue
        else:
            return None, f"unknown expected line {l!r}"
    path = os.path.join(outdir, f"apk-{name}.test")
    keep = ["FILL IN"]
    if os.path.exists(path):
        old = blocks(open(path, encoding="utf-8").read())
        if "ERROR" in old:
            keep = [l for l in old["ERROR"]
                    if l.strip() and not l.startswith("#") and l != "malformed input"] or keep
    out = [f"# apk-tools 2.14-stable test/{name}.test, re-expressed: "
           + ("what apk installs" if not error else "why apk refuses")
           + f" for 'apk add {' '.join(world)}' on a fresh root"
           + (f", from {', '.join(('@' + t + ' ' if t else '') + f for t, f in repos)}." if repos else ".")]
    if error == "unsat":
        facts = [l.strip() for l in expect if not l.startswith("ERROR")]
        out.append("# apk says: " + "; ".join(facts))
    out.append("@ARGS add " + " ".join(world))
    out += repo_lines
    if error == "malformed":
        out += ["@ERROR malformed input"] + keep
    elif error:
        out += ["@ERROR"] + keep
    else:
        out += ["@EXPECT"] + plan
    with open(path, "w", encoding="utf-8") as o:
        o.write("\n".join(out) + "\n")
    return path, None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: apk-solver-import.py APK_TOOLS_TEST_DIR OUTDIR")
    testdir, outdir = sys.argv[1], sys.argv[2]
    done = set()
    for f in sorted(os.listdir(testdir)):
        if not f.endswith(".test"):
            continue
        name = f[:-5]
        path, why = convert(testdir, outdir, name, done)
        if why:
            print(f"not taken: {name}: {why}")


if __name__ == "__main__":
    main()
