#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""docs/results.schema.json against real outputs, with Debian's python3-jsonschema: the
golden report files (tests/data/report/*.json, written by src/result_json.c from a real
recorded boot), 'initrd-test replay --json' of recorded consoles (a pass and a failure),
and 'initrd-test report --json' merging them. It also fails on documents the schema must
refuse (a wrong version, an unknown verdict, an unknown field). The e2e tests that boot
(t_run_networking, t_suite_parallel, t_run_crash) validate their own result.json and
results.json with tests/tools/validate-results.py. Usage: t_results_schema.py BINARY"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

BIN = sys.argv[1] if len(sys.argv) > 1 else "./initrd-test"
with open("docs/results.schema.json", encoding="utf-8") as f:
    SCHEMA = json.load(f)
jsonschema.Draft7Validator.check_schema(SCHEMA)
V = jsonschema.Draft7Validator(SCHEMA)
bad = 0


def check(path, doc):
    global bad
    errs = sorted(V.iter_errors(doc), key=lambda e: list(e.path))
    for e in errs[:5]:
        print(f"results-schema: error: {path}: at {'/'.join(map(str, e.path)) or '(top)'}: "
              f"{e.message}", file=sys.stderr)
    bad += bool(errs)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


golden = sorted(glob.glob("tests/data/report/*.json"))
if len(golden) < 4:
    sys.exit("results-schema: error: no golden reports in tests/data/report")
for p in golden:
    check(p, load(p))

PASS_LOG = "tests/data/boot/alpine-3.19.1-networking-pass.log"
with tempfile.TemporaryDirectory() as d:
    cut = os.path.join(d, "cut.log")
    with open(PASS_LOG, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    with open(cut, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text[:text.index("udhcpc: lease of")])
    made = []
    for name, scn, log, want in [
        ("pass", "tests/data/replay/networking", PASS_LOG, 0),
        ("fail", "tests/data/replay/networking", cut, 1),
        ("crash", "tests/data/crash/sysrq-panic", "tests/data/console/crash-sysrq-panic.raw", 1),
    ]:
        out = os.path.join(d, name + ".json")
        r = subprocess.run([BIN, "-q", "replay", "--json", out, scn, log],
                           capture_output=True, text=True, check=False)
        if r.returncode != want or not os.path.exists(out):
            sys.exit(f"results-schema: error: replay {scn} {log} exited {r.returncode} "
                     f"(expected {want}): {r.stderr}")
        check(f"replay {scn} {log}", load(out))
        made.append(out)
    if "crash" not in load(made[2])["runs"][0]:
        sys.exit("results-schema: error: the crash replay has no 'crash' to validate")
    merged = os.path.join(d, "merged.json")
    subprocess.run([BIN, "-q", "report", "--json", merged, *made, *golden],
                   capture_output=True, check=False)
    check("report --json", load(merged))
    if len(load(merged)["runs"]) < len(made) + len(golden):
        sys.exit("results-schema: error: 'report --json' merged fewer runs than it was given")

# What it must refuse.
doc = load("tests/data/report/merged.json")
for what, change in [
    ("version 2", lambda x: x.update(version=2)),
    ("an unknown verdict", lambda x: x["runs"][0].update(verdict="mostly")),
    ("an unknown field", lambda x: x["runs"][0].update(surprise=1)),
    ("a step without status", lambda x: x["runs"][0]["steps"][0].pop("status")),
]:
    d2 = json.loads(json.dumps(doc))
    change(d2)
    if V.is_valid(d2):
        print(f"results-schema: error: the schema accepts {what}", file=sys.stderr)
        bad += 1
if bad:
    sys.exit(1)
print(f"results-schema: {len(golden)} golden reports, replays and a merged report validate; "
      "4 bad documents refused")
