#!/bin/bash
# run.sh - run every tests/e2e/t-*.sh (real Postfix, as root), one after the
# other, each bounded by E2E_TIMEOUT seconds [600]; sums their result lines
# and prints "e2e: N passed, N failed" last.  A script that prints no result
# line, or exits non-zero without a failure counted, adds one failure.
# Usage: tests/e2e/run.sh [t-name ...]   (default: all)

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)
OPTIN_CORPUS=${OPTIN_CORPUS:-$top_srcdir/../shared/corpus}
export top_srcdir top_builddir OPTIN_CORPUS

pass=0
fail=0
if [ $# -gt 0 ]; then
	scripts=""
	for t in "$@"; do
		scripts="$scripts $here/${t%.sh}.sh"
	done
else
	scripts=$(ls "$here"/t-*.sh 2>/dev/null)
fi

for t in $scripts; do
	name=$(basename "$t" .sh)
	out=$(mktemp /tmp/optin-e2e-out.XXXXXX)
	timeout -k 10 "${E2E_TIMEOUT:-600}" bash "$t" >"$out" 2>&1 < /dev/null
	rc=$?
	cat "$out"
	line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		[ $rc -eq 124 ] && why="timed out" || why="exit $rc"
		echo "$name: no result line ($why), counted as 1 failed"
		fail=$((fail + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
	f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$name: exit $rc with no failure counted, counted as 1 failed"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
done

echo "e2e: $pass passed, $fail failed"
[ $fail -eq 0 ]
