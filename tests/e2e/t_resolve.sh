# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# The install plan for alpine-base is the 25 packages real apk 2.14 installs from that repository.
. "$TOP/tests/e2e/lib.sh"

"$IT" resolve --repo "$REPO" --cache-dir "$T/cache" alpine-base >"$T/plan"
cat "$T/plan"
awk 'NF >= 2 && $1 ~ /-[0-9]/ {print $1}' "$T/plan" | sort >"$T/got"
sort "$TOP/tests/data/alpine-base.plan" >"$T/want"
diff "$T/want" "$T/got" || fail "plan differs from apk's"

# A package the repositories cannot provide: a scenario error (exit 2), the name in the message.
expect_exit 2 "$IT" resolve --repo "$REPO" --cache-dir "$T/cache" alpine-base no-such-pkg 2>"$T/err"
cat "$T/err"
assert_grep "no-such-pkg" "$T/err"
