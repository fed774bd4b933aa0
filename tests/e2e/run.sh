#!/bin/bash
# run.sh - run every tests/e2e/t-*.sh (real Postfix, as root), one after the
# other (or E2E_JOBS at a time), each bounded by E2E_TIMEOUT seconds [600];
# sums their result lines
# and prints "e2e: N passed, N failed" last.  A script that prints no result
# line, or exits non-zero without a failure counted, adds one failure.
# Usage: tests/e2e/run.sh [t-name ...]   (default: all)

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)
OPTIN_CORPUS=${OPTIN_CORPUS:-$top_srcdir/tests/data/corpus}
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

# run_one SCRIPT OUT - run one script bounded by E2E_TIMEOUT, its output to
# OUT, its seconds to OUT.sec and its exit status to OUT.rc
run_one()
{
	local start rc
	start=$(date +%s)
	timeout -k 10 "${E2E_TIMEOUT:-600}" bash "$1" >"$2" 2>&1 < /dev/null
	rc=$?
	echo $(( $(date +%s) - start )) > "$2.sec"
	echo $rc > "$2.rc"
}

# count NAME OUT - print a finished script's output and add its result line
count()
{
	local line p f rc
	rc=$(cat "$2.rc" 2>/dev/null || echo 1)
	cat "$2"
	echo "$1: $(cat "$2.sec" 2>/dev/null) s"
	line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$2" | tail -n 1)
	rm -f "$2" "$2.rc" "$2.sec"
	if [ -z "$line" ]; then
		[ "$rc" -eq 124 ] && why="timed out" || why="exit $rc"
		echo "$1: no result line ($why), counted as 1 failed"
		fail=$((fail + 1))
		return
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
	f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$1: exit $rc with no failure counted, counted as 1 failed"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
}

# E2E_JOBS scripts at a time [1]: each script has its own ports and
# directories (lib.sh), and most of their time is spent waiting for mail.
# Outputs are printed whole, in the scripts' order.
jobs_max=${E2E_JOBS:-1}
case $jobs_max in ''|*[!0-9]*|0) jobs_max=1 ;; esac
outdir=$(mktemp -d /tmp/optin-e2e-out.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$outdir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
names=""
running=0
for t in $scripts; do
	name=$(basename "$t" .sh)
	names="$names $name"
	if [ "$jobs_max" -le 1 ]; then
		run_one "$t" "$outdir/$name"
		count "$name" "$outdir/$name"
		continue
	fi
	while [ "$(jobs -pr | wc -l)" -ge "$jobs_max" ]; do
		wait -n
	done
	run_one "$t" "$outdir/$name" &
done
if [ "$jobs_max" -gt 1 ]; then
	wait
	for name in $names; do
		count "$name" "$outdir/$name"
	done
fi

echo "e2e: $pass passed, $fail failed"
[ $fail -eq 0 ]
