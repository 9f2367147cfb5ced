# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# ps, ps -q and ps --json over a console directory with two entries of a live process and
# one of a process that died (which ps removes): the same VMs, oldest first, in each form.
. "$TOP/tests/e2e/lib.sh"

R="$T/runtime"
sleep 300 &
live=$!
trap 'kill "$live" 2>/dev/null || true' EXIT
sh -c 'exit 0' &
dead=$!
wait "$dead"
hub_entry "$R" networking-3f0c "$live" 2000000000
hub_entry "$R" minimal-1a2b "$live" 1000000000
hub_entry "$R" gone-0000 "$dead" 1500000000

XDG_RUNTIME_DIR="$R" "$IT" ps >"$T/table"
cat "$T/table"
[ "$(awk 'NR > 1 { print $1 }' "$T/table" | tr '\n' ' ')" = "minimal-1a2b networking-3f0c " ] ||
	fail "ps does not list the two live VMs, oldest first"
[ ! -e "$R/initrd-test/gone-0000.info" ] || fail "ps left the dead VM's entry"

XDG_RUNTIME_DIR="$R" "$IT" ps -q >"$T/names"
printf 'minimal-1a2b\nnetworking-3f0c\n' | cmp -s - "$T/names" ||
	fail "ps -q is not the names, one a line: $(cat "$T/names")"
XDG_RUNTIME_DIR="$R" "$IT" ps --quiet | cmp -s - "$T/names" || fail "ps --quiet is not ps -q"

XDG_RUNTIME_DIR="$R" "$IT" ps --json >"$T/ps.json"
python3 - "$T/ps.json" "$live" "$R" <<'PY' || fail "ps --json is not the list: $(cat "$T/ps.json")"
import json, sys
v = json.load(open(sys.argv[1]))
assert [e["name"] for e in v] == ["minimal-1a2b", "networking-3f0c"], v
e = v[1]
assert e["scenario"] == "networking" and e["pid"] == int(sys.argv[2]), e
assert e["started"] == 2000000000 and e["step"] == "step 1/3: boot", e
assert e["socket"] == sys.argv[3] + "/initrd-test/networking-3f0c.sock", e
assert e["qmp"] is None and isinstance(e["uptime"], int), e
PY

# A step name is the scenario's text, any bytes: escaped in the JSON, which stays valid.
H="$T/hostile"
hub_entry "$H" odd-0001 "$live" 1000000000
sed -i 's/^step=.*/step=caf\xe9 \x1b[1m/' "$H/initrd-test/odd-0001.info"
XDG_RUNTIME_DIR="$H" "$IT" ps --json >"$T/odd.json" || fail "ps --json fails on a step name that is not UTF-8"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))[0]; assert e["step"]=="caf\\xe9 \x1b[1m", e' \
	"$T/odd.json" || fail "ps --json does not escape the step name: $(cat "$T/odd.json")"

# Nothing runs: an empty list in each form, exit 0.
XDG_RUNTIME_DIR="$T/empty" "$IT" ps --json >"$T/none.json"
[ "$(cat "$T/none.json")" = "[]" ] || fail "ps --json with no VM is not []"
XDG_RUNTIME_DIR="$T/empty" "$IT" ps -q >"$T/none"
[ ! -s "$T/none" ] || fail "ps -q with no VM printed something"
expect_exit 2 "$IT" ps extra 2>"$T/err"
assert_grep "'ps' takes no arguments" "$T/err"
echo "ps: table, names and JSON agree"
