#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Validate an SPDX 2.3 JSON document: against tests/data/spdx-2.3-schema.json with
python3-jsonschema, then what a schema cannot say: every SPDXID once, every
relationship's ends defined, every license expression made of SPDX identifiers
(src/spdx_ids.h), declared LicenseRef-s, AND/OR/WITH and balanced parentheses.

Usage: tests/tools/spdx-validate.py SCHEMA DOC.json   (exit 0 valid, 1 invalid, 2 usage)
"""
import json
import os
import re
import sys

import jsonschema

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def spdx_ids():
    with open(os.path.join(TOP, "src/spdx_ids.h"), encoding="utf-8") as f:
        text = f.read()
    lic, exc = text.split("spdx_exception_ids")
    return ({s.lower() for s in re.findall(r'"([^"]+)"', lic)},
            {s.lower() for s in re.findall(r'"([^"]+)"', exc)})


def check_expression(expr, refs, ids, exceptions):
    if expr in ("NOASSERTION", "NONE"):
        return None
    toks = re.findall(r"\(|\)|[^\s()]+", expr)
    depth, operand, after_with = 0, True, False
    for t in toks:
        if t == "(":
            if not operand:
                return "'(' after an operand"
            depth += 1
        elif t == ")":
            if operand or depth == 0:
                return "unbalanced ')'"
            depth -= 1
        elif t in ("AND", "OR", "WITH"):
            if operand:
                return "operator '%s' without an operand" % t
            operand, after_with = True, t == "WITH"
        else:
            if not operand:
                return "two operands in a row ('%s')" % t
            if after_with:
                if t.lower() not in exceptions:
                    return "'%s' is not an SPDX exception" % t
            elif t.startswith("LicenseRef-"):
                if t not in refs:
                    return "'%s' is not in hasExtractedLicensingInfos" % t
            elif t.rstrip("+").lower() not in ids:
                return "'%s' is not an SPDX license identifier" % t
            operand, after_with = False, False
    if operand or depth:
        return "incomplete expression"
    return None


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        doc = json.load(f)
    errors = [e.message + " at " + "/".join(str(p) for p in e.absolute_path)
              for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    elements = ["SPDXRef-DOCUMENT"] + [x["SPDXID"] for k in ("packages", "files", "snippets")
                                       for x in doc.get(k, []) if "SPDXID" in x]
    dup = {e for e in elements if elements.count(e) > 1}
    if dup:
        errors.append("SPDXIDs defined twice: %s" % ", ".join(sorted(dup)))
    for r in doc.get("relationships", []):
        for end in ("spdxElementId", "relatedSpdxElement"):
            if r.get(end) not in elements and r.get(end) not in ("NONE", "NOASSERTION"):
                errors.append("relationship %s: '%s' is no element" % (end, r.get(end)))
    refs = {x.get("licenseId") for x in doc.get("hasExtractedLicensingInfos", [])}
    ids, exceptions = spdx_ids()
    for p in doc.get("packages", []) + doc.get("files", []):
        for key in ("licenseConcluded", "licenseDeclared"):
            if key in p:
                why = check_expression(p[key], refs, ids, exceptions)
                if why:
                    errors.append("%s %s '%s': %s" % (p.get("SPDXID"), key, p[key], why))
    for e in errors:
        print("%s: invalid: %s" % (sys.argv[2], e), file=sys.stderr)
    return 1 if errors else 0


sys.exit(main())
