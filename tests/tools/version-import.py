#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Re-express apk-tools' version-ordering vectors in initrd-test's own format.

    tests/tools/version-import.py APK_TOOLS/test/version.data > tests/data/version-order.txt

The input is apk-tools' test/version.data (lines "A OP B", OP one of < = >, as
`apk version -t A B` answers). The facts are kept and the text is not:

- a pair where both versions are valid to apk is written with the smaller one
  first ("A < B", or "A = B" with the two in sorted order), because for valid
  versions the order is total and the reverse answer follows;
- a pair where a version is not valid to apk (apk then compares the strings)
  keeps the direction apk was asked in, on a line starting with "as-asked";
- duplicates are dropped and the lines are sorted, so the file reads as a list
  of facts and not as apk's sequence.

Validity is apk's: a version is valid when it matches apk 2.14's grammar
(digits, dot-separated numbers, one optional letter, _suffixes with optional
numbers, an optional -rN), written out below as a regular expression.
"""
import re
import sys

VALID = re.compile(
    r"^[0-9]+(\.[0-9]+)*[a-z]?"
    r"(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*"
    r"(~[0-9a-f]+)?(-r[0-9]+)?$"
)

HEADER = """\
# Version ordering facts: what apk 2.14 answers for `apk version -t A B`.
# Re-expressed from apk-tools' test vectors by tests/tools/version-import.py;
# check_builder_version.c reads this file.
#
#   A < B          both valid: A sorts before B (and B > A is checked too)
#   A = B          both valid: they are equal
#   as-asked A OP B  a version apk does not accept as valid: apk compares
#                  the strings, and only this direction is checked
"""


def main():
    facts = set()
    for raw in open(sys.argv[1], encoding="utf-8"):
        words = raw.split("#", 1)[0].split()
        if len(words) != 3:
            continue
        a, op, b = words
        if op not in "<=>":
            sys.exit(f"{sys.argv[1]}: bad relation {op!r} in {raw.strip()!r}")
        if VALID.match(a) and VALID.match(b):
            if op == ">":
                a, op, b = b, "<", a
            elif op == "=" and b < a:
                a, b = b, a
            facts.add(f"{a} {op} {b}")
        else:
            facts.add(f"as-asked {a} {op} {b}")
    sys.stdout.write(HEADER)
    for line in sorted(facts):
        print(line)


if __name__ == "__main__":
    main()
