#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""action.yml (the composite GitHub Action), which cannot run here: it validates against
tests/data/github-action.schema.json (GitHub's metadata syntax; SchemaStore is not
reachable from here), every ${{ inputs.X }} and ${{ steps.ID.outputs.Y }} it uses exists,
ci/github-actions.yml uses it with declared inputs only (and every required one), its run
script passes shellcheck and, run by bash as the runner would, gives the shard id and the
exit code of a real 'initrd-test run' (of a scenario that does not exist: exit 2) in
GITHUB_OUTPUT. Usage: t_action.py BINARY"""
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./initrd-test")
errors = []


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


action = load_yaml("action.yml")
with open("tests/data/github-action.schema.json", encoding="utf-8") as f:
    schema = json.load(f)
jsonschema.Draft7Validator.check_schema(schema)
for e in jsonschema.Draft7Validator(schema).iter_errors(action):
    errors.append(f"action.yml: at {'/'.join(map(str, e.path)) or '(top)'}: {e.message}")

inputs = action.get("inputs", {})
steps = action["runs"]["steps"]
ids = {s["id"] for s in steps if "id" in s}
text = open("action.yml", encoding="utf-8").read()
for name in re.findall(r"\$\{\{[^}]*\binputs\.([A-Za-z0-9_-]+)", text):
    if name not in inputs:
        errors.append(f"action.yml: uses inputs.{name}, which it does not declare")
for sid in re.findall(r"\bsteps\.([A-Za-z0-9_-]+)\.outputs", text):
    if sid not in ids:
        errors.append(f"action.yml: uses steps.{sid}, but no step has id '{sid}'")
for want in ("scenarios", "shard", "retries", "kernel", "repo"):
    if want not in inputs:
        errors.append(f"action.yml: no input '{want}'")

# The template uses it, with inputs it declares.
wf = load_yaml("ci/github-actions.yml")
uses = [s for job in wf["jobs"].values() for s in job.get("steps", [])
        if s.get("uses") in ("./", "./.")]
if not uses:
    errors.append("ci/github-actions.yml: no step 'uses: ./' (the action at the repository's root)")
for s in uses:
    given = set((s.get("with") or {}).keys())
    for k in given - set(inputs):
        errors.append(f"ci/github-actions.yml: gives the action input '{k}', which it does not declare")
    for k, v in inputs.items():
        if v.get("required") and k not in given:
            errors.append(f"ci/github-actions.yml: does not give the required input '{k}'")

# The run step, as the runner runs it: bash -e {0}, with the inputs in its environment.
run = next(s for s in steps if s.get("id") == "run")
with tempfile.TemporaryDirectory() as d:
    script = os.path.join(d, "run.sh")
    with open(script, "w", encoding="utf-8") as f:
        f.write("#!/bin/bash\n" + run["run"])
    r = subprocess.run(["shellcheck", "-S", "warning", "-s", "bash", script],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        errors.append("action.yml: the run step's script fails shellcheck:\n" + r.stdout)
    os.mkdir(os.path.join(d, "bin"))
    os.symlink(BIN, os.path.join(d, "bin", "initrd-test"))
    env = dict(os.environ, PATH=os.path.join(d, "bin") + ":" + os.environ["PATH"],
               GITHUB_OUTPUT=os.path.join(d, "output"), IT_SCENARIOS="no-such-scenario",
               IT_SHARD="2/3", IT_RETRIES="1", IT_KERNEL="host", IT_REPO="", IT_DURATIONS="",
               IT_ARGS="--offline")
    r = subprocess.run(["bash", "-e", script], cwd=d, env=env, capture_output=True, text=True,
                       check=False)
    out = open(env["GITHUB_OUTPUT"], encoding="utf-8").read() if os.path.exists(env["GITHUB_OUTPUT"]) else ""
    if r.returncode != 2 or "exit-code=2\n" not in out or "id=2-3\n" not in out \
            or "results=initrd-test-out/shard-2-3/results.json\n" not in out:
        errors.append(f"action.yml: the run step gave exit {r.returncode} and outputs {out!r} "
                      f"(expected 2, id=2-3): {r.stderr}")
    if "no scenario or directory 'no-such-scenario'" not in r.stderr:
        errors.append(f"action.yml: the run step did not run initrd-test run: {r.stderr}")

for e in errors:
    print(f"action: error: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print(f"action: action.yml follows the metadata schema ({len(inputs)} inputs, {len(steps)} steps); "
      "ci/github-actions.yml uses it; its run step runs")
