#!/bin/sh
# SPDX-License-Identifier: MIT
# The guest command channel against a serial-console peer on the same VM (bench/agent_peer.py):
# the round trip of 'true', and 10 MiB copies in and out.
set -eu
cd "$(dirname "$0")/.."
IT=$(pwd)/initrd-test
W=$(mktemp -d /tmp/it-bench-agent.XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 700 "$W"

$IT -q build -s scenarios/networking --repo tests/data/alpine-3.19.1 --kernel host \
	--cache-dir "$W/cache" -o "$W/img/initrd.img"
python3 bench/agent_peer.py "$IT" "$W/img/initrd.img" "$W/img/vmlinuz" scenarios/networking "$W"
