# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# SIGINT at any point of a build leaves no temp files and a usable cache. A series of
# delays, up to the build's own duration, with a cold cache over loopback HTTP and with a
# warm one, so the signal lands in every phase (indexes, resolution, downloads, checks,
# unpacking, modules, cpio, compression). After each: exit 130 (or 0 when the build had
# finished, with a whole result), no temp file, an output dir with nothing or a complete
# initrd, and every file in the cache whole. Then SIGINT in a long write phase over a
# previous build's outputs: they are put back, as when the kernel cannot be written. At the
# end, offline builds from both caches equal the reference.
. "$TOP/tests/e2e/lib.sh"

trap stop_httpd EXIT
start_httpd "$REPO/.."
url="http://127.0.0.1:$HTTPD_PORT/$(basename "$REPO")"
kernel=$(host_kernel)

# build CACHE OUTDIR [ARGS...]: the networking scenario's initrd over HTTP.
build() {
	cache=$1 out=$2
	shift 2
	"$IT" build -s "$TOP/scenarios/networking" --repo "$url" --kernel "$kernel" \
		--cache-dir "$cache" -o "$out/initrd.img" "$@"
}

# Every file in cache $2 is whole: packages and index byte for byte as served, a sidecar
# that describes its index, nothing else.
check_cache() {
	[ -d "$2" ] || return 0
	find "$2" -type f >"$T/files"
	while read -r f; do
		case $f in
		*/packages/*.apk)
			base=$(basename "${f%.*.apk}")
			cmp -s "$f" "$REPO/x86_64/$base.apk" || fail "$1: $f is not the served $base.apk"
			;;
		*/indexes/*/APKINDEX.tar.gz)
			cmp -s "$f" "$REPO/x86_64/APKINDEX.tar.gz" || fail "$1: $f is not the served index"
			;;
		*/indexes/*/APKINDEX.tar.gz.meta)
			grep -qx "sha256 $(sha256sum "${f%.meta}" | cut -d' ' -f1)" "$f" ||
				fail "$1: $f does not describe its index"
			;;
		*) fail "$1: unexpected file in the cache: $f" ;;
		esac
	done <"$T/files"
}

# The names in directory $1, sorted, on one line; nothing if it does not exist.
listing() {
	find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort | tr '\n' ' '
}

# The output dir $2 holds nothing, or a complete initrd and its kernel.
check_output() {
	files=$(listing "$2")
	case $files in
	"") ;;
	"initrd.img vmlinuz ")
		cmp -s "$2/initrd.img" "$T/ref/initrd.img" || fail "$1: a partial or different initrd"
		cmp -s "$2/vmlinuz" "$kernel" || fail "$1: a partial kernel"
		;;
	*) fail "$1: the output dir holds '$files'" ;;
	esac
}

# The phase the build was in: its last progress line.
phase() {
	grep -E '^(reading|fetching|fetched|assembling|writing|kernel) ' "$1" | tail -n 1 |
		cut -d' ' -f1 || true
}

# interrupt NAME DELAY_MS CACHE: a build, SIGINT after DELAY_MS, then check what is left.
interrupt() {
	name=$1 delay=$2 cache=$3
	out="$T/$name"
	# A background job of a non-interactive shell starts with SIGINT ignored: give it back.
	env --default-signal=INT "$IT" build -s "$TOP/scenarios/networking" --repo "$url" \
		--kernel "$kernel" --cache-dir "$cache" -o "$out/initrd.img" \
		>"$T/$name.out" 2>"$T/$name.err" &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -INT $pid 2>/dev/null || true
	set +e
	wait $pid
	rc=$?
	set -e
	echo "  $name: SIGINT at $delay ms: exit $rc, last phase: $(phase "$T/$name.err")"
	errors=$(grep -c '^initrd-test: error: ' "$T/$name.err" || true)
	case $rc in
	0)
		[ "$errors" -eq 0 ] || fail "$name: exit 0 with an error"
		[ -s "$out/initrd.img" ] || fail "$name: exit 0 without an initrd"
		;;
	130)
		# Killed before its handler was in place, or stopped by it with one line.
		[ "$errors" -le 1 ] || fail "$name: $errors error lines"
		[ "$errors" -eq 0 ] || grep -q '^initrd-test: error: .*interrupted' "$T/$name.err" ||
			fail "$name: the error does not say it was interrupted"
		;;
	*)
		sed 's/^/    /' "$T/$name.err"
		fail "$name: exit $rc, expected 130 or 0"
		;;
	esac
	check_output "$name" "$out"
	assert_no_tmp "$name" "$out" "$cache"
	check_cache "$name" "$cache"
}

echo "== reference builds, timed: cold over HTTP, then warm"
t0=$(now_ms)
build "$T/ref-cache" "$T/ref" 2>"$T/ref.err" || {
	cat "$T/ref.err"
	fail "the reference build failed"
}
t1=$(now_ms)
build "$T/ref-cache" "$T/ref-warm" 2>"$T/ref-warm.err" || fail "the warm build failed"
t2=$(now_ms)
cmp -s "$T/ref/initrd.img" "$T/ref-warm/initrd.img" || fail "cold and warm builds differ"
cold=$((t1 - t0))
warm=$((t2 - t1))
echo "  cold $cold ms, warm $warm ms"

# Delays: fixed small ones for the start, then fractions of the build's duration, up to a
# bit past its end.
delays() {
	d=$1
	echo 0 20 50 100 200 400 800 $((d / 4)) $((d * 3 / 8)) $((d / 2)) $((d * 5 / 8)) \
		$((d * 3 / 4)) $((d * 7 / 8)) $((d * 19 / 20)) $((d * 5 / 4)) | tr ' ' '\n' | sort -n -u
}

echo "== cold cache, over HTTP"
for d in $(delays $cold); do
	rm -rf "$T/cold-cache"
	interrupt "cold-$d" "$d" "$T/cold-cache"
done

echo "== warm cache"
cp -r "$T/ref-cache" "$T/warm-cache"
for d in $(delays $warm); do
	interrupt "warm-$d" "$d" "$T/warm-cache"
done

echo "== SIGINT while a long write phase replaces a previous build's outputs"
# 32 MiB that gzip cannot shrink make the cpio write take seconds.
mkdir -p "$T/big/overlay/opt"
head -c 32M /dev/urandom >"$T/big/overlay/opt/blob"
printf 'include %s\noverlay overlay\n' "$TOP/scenarios/networking" >"$T/big/scenario"
for out in "$T/write-fresh" "$T/write-over"; do
	rm -rf "$out"
	mkdir -p "$out"
	if [ "$out" = "$T/write-over" ]; then
		# A previous build's outputs; the kernel differs from the new one, to show.
		cp "$T/ref/initrd.img" "$out/"
		echo old >"$out/vmlinuz"
	fi
	env --default-signal=INT "$IT" build -s "$T/big" --repo "$url" --kernel "$kernel" \
		--cache-dir "$T/warm-cache" -o "$out/initrd.img" 2>"$out.err" &
	pid=$!
	i=0
	until grep -q '^writing ' "$out.err"; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "$out: the build never reached its write phase"
		kill -0 $pid 2>/dev/null || fail "$out: the build ended before its write phase"
		sleep 0.05
	done
	sleep 0.2
	kill -INT $pid
	set +e
	wait $pid
	rc=$?
	set -e
	sed 's/^/    /' "$out.err"
	[ "$rc" -eq 130 ] || fail "$out: exit $rc after SIGINT in the write phase, expected 130"
	# Stopped inside the cpio writer (it names the file) or just after it.
	grep -qxE "initrd-test: error: (cannot write '[^']*': )?interrupted by SIGINT" "$out.err" ||
		fail "$out: no 'interrupted by SIGINT' error"
	assert_no_tmp "$out" "$out" "$T/warm-cache"
	if [ "$out" = "$T/write-over" ]; then
		cmp -s "$out/initrd.img" "$T/ref/initrd.img" || fail "$out: the old initrd is not back"
		[ "$(cat "$out/vmlinuz")" = old ] || fail "$out: the old kernel is not back"
		[ "$(listing "$out")" = "initrd.img vmlinuz " ] || fail "$out: holds $(listing "$out")"
	else
		[ -z "$(listing "$out")" ] || fail "$out: holds $(listing "$out")"
	fi
done

echo "== the same undo when the kernel cannot be written: the previous initrd stays"
mkdir -p "$T/kfail/vmlinuz"
echo previous >"$T/kfail/initrd.img"
# The kernel's place is a directory: rename() fails after the new initrd is in place.
expect_exit 3 build "$T/warm-cache" "$T/kfail" --offline 2>"$T/kfail.err"
sed 's/^/    /' "$T/kfail.err"
grep -q "^initrd-test: error: cannot write '$T/kfail/vmlinuz'" "$T/kfail.err" ||
	fail "kfail: the error does not name the kernel's path"
[ "$(cat "$T/kfail/initrd.img")" = previous ] || fail "kfail: the previous initrd is gone"
[ "$(listing "$T/kfail")" = "initrd.img vmlinuz " ] || fail "kfail: holds $(listing "$T/kfail")"
assert_no_tmp kfail "$T/kfail"

echo "== the caches still build, offline, the same bytes"
stop_httpd
build "$T/warm-cache" "$T/final-warm" --offline 2>"$T/final-warm.err" || {
	cat "$T/final-warm.err"
	fail "the offline build from the warm cache failed"
}
cmp "$T/ref/initrd.img" "$T/final-warm/initrd.img" || fail "the warm cache builds another initrd"
# The last cold cache is as an interrupted run left it: complete it, then build offline.
start_httpd "$REPO/.."
url="http://127.0.0.1:$HTTPD_PORT/$(basename "$REPO")"
build "$T/cold-cache" "$T/final-cold" 2>"$T/final-cold.err" || {
	cat "$T/final-cold.err"
	fail "a build with the interrupted cold cache failed"
}
stop_httpd
build "$T/cold-cache" "$T/final-cold-offline" --offline 2>"$T/final-cold-offline.err" || {
	cat "$T/final-cold-offline.err"
	fail "the offline build from the cold cache failed"
}
cmp "$T/ref/initrd.img" "$T/final-cold/initrd.img" || fail "the cold cache builds another initrd"
cmp "$T/ref/initrd.img" "$T/final-cold-offline/initrd.img" ||
	fail "the cold cache builds another initrd offline"
echo "ok"
