#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Validate result.json / results.json files against docs/results.schema.json with Debian's
python3-jsonschema: each error names the file and where in it. Usage: validate-results.py
FILE..."""
import json
import os
import sys

import jsonschema

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../docs/results.schema.json")
with open(SCHEMA, encoding="utf-8") as f:
    validator = jsonschema.Draft7Validator(json.load(f))
status = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path))[:5]:
        where = "/".join(map(str, e.path)) or "(top)"
        print(f"validate-results: error: {path}: at {where}: {e.message}", file=sys.stderr)
        status = 1
if len(sys.argv) < 2:
    sys.exit("usage: validate-results.py FILE...")
sys.exit(status)
