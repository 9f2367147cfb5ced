#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Validate JUnit XML files against tests/data/junit/junit-10.xsd; one line per file, exit 1 on any invalid.
import os
import sys

from lxml import etree

xsd = os.path.join(os.path.dirname(os.path.abspath(__file__)), "junit-10.xsd")
schema = etree.XMLSchema(etree.parse(xsd))
bad = 0
for path in sys.argv[1:]:
    doc = etree.parse(path)
    if schema.validate(doc):
        print(f"valid: {path}")
    else:
        bad += 1
        for e in schema.error_log:
            print(f"invalid: {path}:{e.line}: {e.message}")
sys.exit(1 if bad else 0)
