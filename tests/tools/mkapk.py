#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Make signed APK v2 packages and APKINDEX.tar.gz files for tests, as abuild and abuild-sign do.
"""Usage:
  mkapk.py pkg   --key PRIV OUT.apk [--from REAL.apk] [--root DIR] [--host-file DEST=SRC]...
                 [--file PATH=TEXT]... [--symlink PATH=TARGET]... [--mkdir PATH]...
                 [--set KEY=VALUE]... [--unsigned] [--key-name NAME] [--sig-kind RSA|RSA256]
  mkapk.py index --key PRIV OUT.tar.gz [--text APKINDEX | --from-index INDEX.tar.gz | APK...]
                 [--edit PKG:LETTER=VALUE]... [--size-of PKG=FILE]... [--description TEXT]
                 [--unsigned] [--key-name NAME] [--sig-kind RSA|RSA256]
  mkapk.py resign --key PRIV OUT IN [--unsigned] [--key-name NAME] [--sig-kind RSA|RSA256]
  mkapk.py batch FILE

An APK v2 file is gzip members, each a tar segment: the signature
(.SIGN.RSA.<key name>, over the compressed control member), the control
(.PKGINFO with the SHA-256 'datahash' of the compressed data member), the
data. Only the last segment ends with end-of-archive blocks.

pkg: the data entries are, in order, those of --from (a real package, whose
.PKGINFO and install scripts are kept too), then --root's tree, then the
--host-file, --mkdir, --file and --symlink entries in command-line order,
written as given: a PATH such as '../x' or '/etc/x' stays as it is, for
tests of unsafe archives. --set
replaces a .PKGINFO field (every line of that key; an empty value removes
it); pkgname and pkgver are required when there is no --from.

index: the APKINDEX text is --text as given, the APKINDEX of another index
(--from-index), or made from the packages (C: is Q1 + base64 of the SHA-1 of
the control member, as apk computes it). Then --edit sets one field of one
package ('busybox:C=Q1...'), --size-of sets a package's S: to a file's size.

resign: replace the signature member of a package or an index (or drop it),
keeping every other byte, so that the index's C: checksum still holds.

batch: run the commands of FILE (one a line, shell-quoted, without
'mkapk.py'; '#' starts a comment) in order, in one process: Python's start is
slow on a loaded machine.

The key name defaults to the private key's file name plus '.pub'; --key-name
signs under another name (a forged signature). The signature is made with
'openssl dgst'.
"""
import argparse
import base64
import gzip
import hashlib
import io
import os
import shlex
import stat
import subprocess
import sys
import tarfile
import zlib

EPOCH = 1700000000


def die(msg):
    sys.stderr.write("mkapk.py: error: %s\n" % msg)
    sys.exit(1)


def gz_members(data, name):
    """Split concatenated gzip members into (compressed bytes, decompressed bytes)."""
    out, off = [], 0
    while off < len(data):
        d = zlib.decompressobj(31)
        try:
            raw = d.decompress(data[off:])
        except zlib.error as e:
            die("'%s': corrupt gzip member at %d: %s" % (name, off, e))
        if not d.eof:
            die("'%s': truncated gzip member at %d" % (name, off))
        used = len(data) - off - len(d.unused_data)
        out.append((data[off:off + used], raw))
        off += used
    return out


def tar_entries(raw):
    """(TarInfo, content bytes) of a tar segment, end blocks or not."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw + b"\0" * 1024), mode="r:") as tf:
        for ti in tf:
            body = tf.extractfile(ti).read() if ti.isreg() else b""
            out.append((ti, body))
    return out


def tar_segment(entries, end):
    """A tar segment of (TarInfo, content); end blocks only when 'end'."""
    b = io.BytesIO()
    for ti, body in entries:
        ti.size = len(body) if ti.isreg() else 0
        b.write(ti.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape"))
        if ti.isreg() and body:
            b.write(body)
            b.write(b"\0" * ((-len(body)) % 512))
    if end:
        b.write(b"\0" * 1024)
    return b.getvalue()


def info(name, kind, mode, mtime, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.mtime = mtime
    ti.linkname = link
    # As abuild: no atime/ctime of the build machine in the archive.
    ti.pax_headers = {"atime": "0", "ctime": "0"}
    return ti


def reg(name, body, mode, mtime):
    ti = info(name, tarfile.REGTYPE, mode, mtime)
    ti.pax_headers["APK-TOOLS.checksum.SHA1"] = hashlib.sha1(body).hexdigest()
    return ti, body


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def sign(key, kind, data):
    digest = {"RSA": "-sha1", "RSA256": "-sha256"}[kind]
    p = subprocess.run(["openssl", "dgst", digest, "-sign", key], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        die("cannot sign with '%s': %s" % (key, p.stderr.decode(errors="replace").strip()))
    return p.stdout


def signature_member(args, signed):
    if args.unsigned:
        return b""
    name = args.key_name or os.path.basename(args.key) + ".pub"
    ti = info(".SIGN.%s.%s" % (args.sig_kind, name), tarfile.REGTYPE, 0o644, EPOCH)
    ti.uname = ti.gname = ""
    ti.pax_headers = {}
    return gz(tar_segment([(ti, sign(args.key, args.sig_kind, signed))], end=False))


def root_entries(root, mtime):
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            st = os.lstat(dirpath)
            out.append((info(rel, tarfile.DIRTYPE, stat.S_IMODE(st.st_mode), mtime), b""))
        for f in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, f)
            name = os.path.normpath(os.path.join(rel, f))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out.append((info(name, tarfile.SYMTYPE, 0o777, mtime, os.readlink(path)), b""))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    out.append(reg(name, fh.read(), stat.S_IMODE(st.st_mode), mtime))
    return out


def pkginfo_set(text, key, value):
    lines = [l for l in text.splitlines() if l.split(" = ", 1)[0] != key]
    if value:
        lines.append("%s = %s" % (key, value))
    return "\n".join(lines) + "\n"


def pkginfo_get(text, key):
    return [l.split(" = ", 1)[1] for l in text.splitlines() if l.split(" = ", 1)[0] == key]


def cmd_pkg(args):
    mtime = EPOCH
    pkginfo = ""
    ctrl_extra, data = [], []
    if args.src:
        with open(args.src, "rb") as fh:
            raw = fh.read()
        members = gz_members(raw, args.src)
        segs = [tar_entries(m[1]) for m in members]
        if segs and segs[0] and segs[0][0][0].name.startswith(".SIGN."):
            segs = segs[1:]
        if not segs:
            die("'%s': no control member" % args.src)
        for ti, body in segs[0]:
            if ti.name == ".PKGINFO":
                pkginfo = body.decode()
            else:
                ctrl_extra.append((ti, body))
        for seg in segs[1:]:
            data.extend(seg)
        bd = pkginfo_get(pkginfo, "builddate")
        mtime = int(bd[0]) if bd else EPOCH
    if args.root:
        data.extend(root_entries(args.root, mtime))
    for kind, spec in args.entries:
        path, _, arg = spec.partition("=")
        if kind == "host-file":
            with open(arg, "rb") as fh:
                data.append(reg(path, fh.read(), 0o644, mtime))
        elif kind == "file":
            data.append(reg(path, arg.encode(), 0o644, mtime))
        elif kind == "symlink":
            data.append((info(path, tarfile.SYMTYPE, 0o777, mtime, arg), b""))
        else:
            data.append((info(path, tarfile.DIRTYPE, 0o755, mtime), b""))
    for spec in args.set:
        key, value = spec.split("=", 1)
        pkginfo = pkginfo_set(pkginfo, key, value)
    for key in ("pkgname", "pkgver"):
        if not pkginfo_get(pkginfo, key):
            die("no %s: give --set %s=... or --from" % (key, key))
    if not pkginfo_get(pkginfo, "builddate"):
        pkginfo = pkginfo_set(pkginfo, "builddate", str(mtime))

    data_gz = gz(tar_segment(data, end=True))
    pkginfo = pkginfo_set(pkginfo, "datahash", hashlib.sha256(data_gz).hexdigest())
    ctrl = [(info(".PKGINFO", tarfile.REGTYPE, 0o644, mtime), pkginfo.encode())] + ctrl_extra
    ctrl_gz = gz(tar_segment(ctrl, end=False))
    with open(args.out, "wb") as fh:
        fh.write(signature_member(args, ctrl_gz) + ctrl_gz + data_gz)


# .PKGINFO keys and their APKINDEX letters, in apk's order.
INDEX_FIELDS = [("pkgname", "P"), ("pkgver", "V"), ("arch", "A"), (None, "S"), ("size", "I"),
                ("pkgdesc", "T"), ("url", "U"), ("license", "L"), ("origin", "o"),
                ("maintainer", "m"), ("builddate", "t"), ("commit", "c"),
                ("provider_priority", "k"), ("depend", "D"), ("provides", "p"),
                ("install_if", "i")]


def index_entry(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    members = gz_members(raw, path)
    first = tar_entries(members[0][1])
    ctrl = members[1] if first and first[0][0].name.startswith(".SIGN.") else members[0]
    pkginfo = ""
    for ti, body in tar_entries(ctrl[1]):
        if ti.name == ".PKGINFO":
            pkginfo = body.decode()
    if not pkginfo_get(pkginfo, "datahash"):
        die("'%s': no datahash in .PKGINFO (not supported here)" % path)
    lines = ["C:Q1" + base64.b64encode(hashlib.sha1(ctrl[0]).digest()).decode()]
    for key, letter in INDEX_FIELDS:
        if key is None:
            lines.append("S:%d" % len(raw))
            continue
        values = pkginfo_get(pkginfo, key)
        if values:
            lines.append("%s:%s" % (letter, " ".join(values)))
    return "\n".join(lines) + "\n\n"


def index_text(path):
    members = gz_members(open(path, "rb").read(), path)
    for _, raw in members:
        for ti, body in tar_entries(raw):
            if ti.name == "APKINDEX":
                return body
    die("'%s': no APKINDEX" % path)


def index_edit(text, pkg, letter, value):
    """Set field LETTER of package PKG's paragraph in an APKINDEX text."""
    paras = text.decode().split("\n\n")
    found = False
    for i, para in enumerate(paras):
        lines = para.split("\n")
        if "P:" + pkg not in lines:
            continue
        found = True
        lines = [l if not l.startswith(letter + ":") else "%s:%s" % (letter, value)
                 for l in lines]
        if letter + ":" + value not in lines:
            lines.append("%s:%s" % (letter, value))
        paras[i] = "\n".join(lines)
    if not found:
        die("no package '%s' in the index" % pkg)
    return "\n\n".join(paras).encode()


def cmd_index(args):
    if args.text:
        with open(args.text, "rb") as fh:
            text = fh.read()
    elif args.from_index:
        text = index_text(args.from_index)
    else:
        text = "".join(index_entry(p) for p in args.apks).encode()
    for spec in args.edit:
        pkg, _, rest = spec.partition(":")
        letter, _, value = rest.partition("=")
        text = index_edit(text, pkg, letter, value)
    for spec in args.size_of:
        pkg, _, path = spec.partition("=")
        text = index_edit(text, pkg, "S", str(os.path.getsize(path)))
    entries = [(info("DESCRIPTION", tarfile.REGTYPE, 0o644, EPOCH), args.description.encode()),
               (info("APKINDEX", tarfile.REGTYPE, 0o644, EPOCH), text)]
    for ti, _ in entries:
        ti.pax_headers = {}
    index_gz = gz(tar_segment(entries, end=True))
    with open(args.out, "wb") as fh:
        fh.write(signature_member(args, index_gz) + index_gz)


def cmd_resign(args):
    with open(args.src, "rb") as fh:
        raw = fh.read()
    members = gz_members(raw, args.src)
    first = tar_entries(members[0][1])
    if first and first[0][0].name.startswith(".SIGN."):
        raw = raw[len(members[0][0]):]
        members = members[1:]
    if not members:
        die("'%s': nothing after the signature" % args.src)
    with open(args.out, "wb") as fh:
        fh.write(signature_member(args, members[0][0]) + raw)


class Entry(argparse.Action):
    """--file, --symlink, --mkdir and --host-file, kept in command-line order."""

    def __call__(self, parser, ns, value, option_string=None):
        ns.entries = ns.entries + [(option_string[2:], value)]


def parser():
    ap = argparse.ArgumentParser(prog="mkapk.py", usage=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("pkg", "index", "resign"):
        p = sub.add_parser(name)
        p.add_argument("--key", required=True)
        p.add_argument("--key-name")
        p.add_argument("--sig-kind", choices=("RSA", "RSA256"), default="RSA")
        p.add_argument("--unsigned", action="store_true")
        p.add_argument("out")
    pkg = sub.choices["pkg"]
    pkg.add_argument("--from", dest="src")
    pkg.add_argument("--root")
    pkg.add_argument("--set", action="append", default=[])
    for opt in ("host-file", "file", "symlink", "mkdir"):
        pkg.add_argument("--" + opt, action=Entry, dest="entries", default=[])
    idx = sub.choices["index"]
    idx.add_argument("--text")
    idx.add_argument("--from-index")
    idx.add_argument("--edit", action="append", default=[])
    idx.add_argument("--size-of", action="append", default=[])
    idx.add_argument("--description", default="test repository")
    idx.add_argument("apks", nargs="*")
    sub.choices["resign"].add_argument("src")
    sub.add_parser("batch").add_argument("file")
    return ap


def run(ap, argv):
    args = ap.parse_args(argv)
    if args.cmd == "batch":
        with open(args.file) as fh:
            for line in fh:
                words = shlex.split(line, comments=True)
                if words:
                    run(ap, words)
        return
    {"pkg": cmd_pkg, "index": cmd_index, "resign": cmd_resign}[args.cmd](args)


def main():
    run(parser(), sys.argv[1:])


if __name__ == "__main__":
    main()
