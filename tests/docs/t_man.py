#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The man pages cannot drift from the program: every command that 'initrd-test --help'
lists (src/main.c's table) has docs/man/initrd-test-NAME.1.scd and a line in
initrd-test.1.scd; every option its --help shows is in its page; every keyword of
scenario/load.c's table is in initrd-test-scenario.5.scd with its usage text verbatim, and
in docs/scenario-format.md. Usage: man.py BINARY (from the top of the tree)."""
import os
import re
import subprocess
import sys

BIN = sys.argv[1] if len(sys.argv) > 1 else "./initrd-test"
MAN = "docs/man"
errors = []


def fail(msg):
    errors.append(msg)


def helptext(*args):
    r = subprocess.run([BIN, *args, "--help"], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"man.py: '{BIN} {' '.join(args)} --help' exited {r.returncode}")
    return r.stdout


def commands():
    text = helptext()
    block = text.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  (\S+)\s", block, re.M)


def options(text):
    """(short, long) of every option line in a --help."""
    return re.findall(r"^  (?:(-[A-Za-z0-9]), )?\s*(--[a-z0-9-]+)", text, re.M)


def unescape(s):
    return s.replace("\\_", "_").replace("\\*", "*").replace("\\\\", "\\")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_command(name, top):
    page = f"{MAN}/initrd-test-{name}.1.scd"
    if not os.path.exists(page):
        fail(f"command '{name}' (src/main.c) has no man page: write {page} "
             f"(start from 'initrd-test {name} --help' and another command's page) and list "
             f"it in {MAN}/initrd-test.1.scd")
        return
    text = unescape(read(page))
    if not text.startswith(f"initrd-test-{name}(1)\n"):
        fail(f"{page}: the first line must be 'initrd-test-{name}(1)'")
    if f"*initrd-test-{name}*(1)" not in top:
        fail(f"{MAN}/initrd-test.1.scd: COMMANDS does not list *initrd-test-{name}*(1)")
    for short, lng in options(helptext(name)):
        if f"*{lng}*" not in text:
            fail(f"{page}: option {lng} of 'initrd-test {name} --help' is not documented "
                 f"(write it as *{lng}*)")
        if short and f"*{short}*" not in text:
            fail(f"{page}: option {short} ({lng}) of 'initrd-test {name} --help' is not "
                 f"documented (write it as *{short}*)")


def keywords():
    src = read("scenario/load.c")
    table = src.split("static const struct keyword keywords[] = {", 1)[1].split("\n};", 1)[0]
    out = []
    for m in re.finditer(r'\{"([a-z-]+)",\s*((?:"(?:[^"\\]|\\.)*"\s*)+),\s*kw_', table):
        usage = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))
        out.append((m.group(1), usage.replace('\\"', '"').replace("\\\\", "\\")))
    if len(out) < 10:
        sys.exit("man.py: cannot read the keyword table in scenario/load.c")
    return out


def check_keywords():
    page = f"{MAN}/initrd-test-scenario.5.scd"
    lines = read(page).split("\n")
    block = lines[lines.index("# KEYWORDS"):]
    start = block.index("```") + 1
    listed = block[start:block.index("```", start)]
    md = read("docs/scenario-format.md")
    known = set()
    for name, usage in keywords():
        known.add(usage)
        if usage not in listed:
            fail(f"{page}: KEYWORDS does not list '{usage}' (the usage of keyword '{name}' "
                 "in scenario/load.c)")
        if f"*{name}*" not in "\n".join(lines):
            fail(f"{page}: keyword '{name}' is not described (write it as *{name}*)")
        if not re.search(r"`" + re.escape(name) + r"[` ]", md):
            fail(f"docs/scenario-format.md: keyword '{name}' (scenario/load.c) is not "
                 f"described (write it as `{name} ...`)")
    for line in listed:
        if line not in known:
            fail(f"{page}: KEYWORDS lists '{line}', which is no keyword's usage in "
                 "scenario/load.c")


def main():
    names = commands()
    if len(names) < 5:
        sys.exit("man.py: cannot read the commands from 'initrd-test --help'")
    top = read(f"{MAN}/initrd-test.1.scd")
    for name in names:
        check_command(name, top)
    for page in os.listdir(MAN):
        m = re.fullmatch(r"initrd-test-(.+)\.1\.scd", page)
        if m and m.group(1) not in names:
            fail(f"{MAN}/{page}: there is no command '{m.group(1)}' in 'initrd-test --help'")
    for short, lng in options(helptext()):
        if f"*{lng}*" not in top or (short and f"*{short}*" not in top):
            fail(f"{MAN}/initrd-test.1.scd: global option {lng} is not documented")
    check_keywords()
    for e in errors:
        print(f"man: error: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"man: {len(names)} command pages, the global options and "
          f"{len(keywords())} scenario keywords agree with the program")
    return 0


sys.exit(main())
