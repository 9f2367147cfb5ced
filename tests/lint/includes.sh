#!/bin/sh
# SPDX-License-Identifier: MIT
# Only builder/builder.h is public: no file of the command layer (src/, scenario/) or of the
# other modules (runner/, expect/, common/) includes another header of builder/, in any
# spelling ("builder/cpio.h", <builder/cpio.h>, "../builder/cpio.h"). The builder's own
# files, its unit tests, fuzz/ and bench/ reach its private parts through builder/internal.h.
#
# Usage: tests/lint/includes.sh (from anywhere: it checks the tree it belongs to).
# Exit 0 when clean; 1 with one line per offending include on stdout; 2 when it cannot check.
set -eu

cd "$(dirname "$0")/../.." || exit 2
[ -f builder/builder.h ] || {
	echo "includes.sh: error: no builder/builder.h in '$(pwd)'" >&2
	exit 2
}

dirs=""
for d in src scenario runner expect common; do
	[ -d "$d" ] && dirs="$dirs $d"
done
[ -n "$dirs" ] || exit 0

# An #include of something under a directory named builder/, and which header it names.
re='^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]*/)?builder/[^">]*[">]'
# grep gives FILE:LINE:TEXT (/dev/null makes it name the file even when it is given only
# one); its status 1 (no line matched) is not an error, anything above is and stops the check.
# shellcheck disable=SC2086 # $dirs is a list of plain directory names
hits=$(find $dirs -type f \( -name '*.c' -o -name '*.h' \) -exec sh -c \
	'grep -nE "$0" /dev/null "$@" || [ $? -eq 1 ]' "$re" {} +)
hits=$(printf '%s\n' "$hits" | sort -t: -k1,1 -k2,2n)

status=0
while IFS= read -r hit; do
	[ -n "$hit" ] || continue
	file=${hit%%:*}
	text=${hit#*:}
	header=$(printf '%s\n' "${text#*:}" |
		sed 's|^[^"<]*["<]\([^">]*/\)\{0,1\}\(builder/[^">]*\)[">].*$|\2|')
	[ "$header" = builder/builder.h ] && continue
	echo "$file: includes $header; only builder/builder.h is public"
	status=1
done <<END
$hits
END
exit "$status"
