# SPDX-License-Identifier: MIT
# Sourced by the benchmarks and tests/tools/apk-manifest.sh: Alpine's apk 2.14 from the shared
# packages, run through musl's loader (see $SHARED/README.md), as the peer measured beside
# initrd-test (and the reference the manifest is made with).
# shellcheck shell=sh

# apk_runtime SHARED DIR: unpack apk-tools and its libraries into DIR/apk-rt and write DIR/apk,
# which runs apk on the empty root DIR/apkroot with SHARED's keys, no repositories, no network
# and no cache (its arguments added). Returns 1, with a line saying why, when a package is missing.
apk_runtime() {
	_shared=$1
	_dir=$2
	mkdir -p "$_dir/apk-rt" "$_dir/apkroot"
	for _p in apk-tools musl libcrypto3 libssl3 zlib; do
		_f=$(ls "$_shared/apks/x86_64/$_p"-[0-9]*.apk 2>/dev/null | head -n 1)
		[ -n "$_f" ] || { echo "  apk: skipped, no $_p package in $_shared/apks"; return 1; }
		tar -xzf "$_f" -C "$_dir/apk-rt" --warning=no-unknown-keyword 2>/dev/null
	done
	_keys=$(cd "$_shared/keys" && pwd) # apk reads a relative --keys-dir under --root
	cat >"$_dir/apk" <<EOS
#!/bin/sh
exec "$_dir/apk-rt/lib/ld-musl-x86_64.so.1" --library-path "$_dir/apk-rt/lib:$_dir/apk-rt/usr/lib" \\
	"$_dir/apk-rt/sbin/apk" --root "$_dir/apkroot" --keys-dir "$_keys" \\
	--repositories-file /dev/null --no-network --no-cache "\$@"
EOS
	chmod +x "$_dir/apk"
}
