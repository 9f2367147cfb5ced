#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A tree's manifest, one line per path, sorted: PATH TYPE MODE UID:GID WHAT.

TYPE is d, f, l, c or b; MODE the permission bits in octal; WHAT a file's
SHA-256, a link's target, a device's major,minor, or '-' for a directory.
Usage: manifest.py ROOT [EXCLUDE_PREFIX...]
"""
import hashlib
import os
import stat
import sys


def main():
    root = sys.argv[1]
    skip = tuple(sys.argv[2:])
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if skip and (rel.startswith(skip)):
                continue
            st = os.lstat(full)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                kind, what = "l", os.readlink(full)
            elif stat.S_ISDIR(st.st_mode):
                kind, what = "d", "-"
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
                what = f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}"
            else:
                kind = "f"
                with open(full, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            out.append(f"{rel} {kind} {mode:04o} {st.st_uid}:{st.st_gid} {what}")
    sys.stdout.write("".join(line + "\n" for line in out))


main()
