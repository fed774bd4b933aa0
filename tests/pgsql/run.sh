#!/bin/bash
# tests/pgsql/run.sh - the suites that run on PostgreSQL too (DESIGN
# "Scale-out": every program and suite runs on both engines), with
# OPTIN_STORE=pgsql: tests/unit/test_store against a private server
# (tests/lib/pg.sh; a fresh database per test case), tests/ctl,
# tests/unsubd and tests/feedback (each starts its own server,
# tests/lib/db.sh), and the
# end-to-end t-consent.sh and t-feedback.sh (their own server and
# database, set up with optinctl).  tests/e2e/t-two-relays.sh and
# tests/ctl/t-copy-store.sh run on PostgreSQL always, in their own suites.
# OPTIN_PG_FULL=1 adds what is long on a busy machine (tests/ctl's
# 200,000-row imports).
# XXX the other e2e scripts still run on SQLite only.
# Needs root (the server runs as the postgres user; Postfix).  Sums the
# suites' result lines; last line "pgsql: N passed, N failed".

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)
export top_srcdir top_builddir OPTIN_STORE=pgsql
RESULT_RE='^[^ ]+: [0-9]+ passed, [0-9]+ failed$'
pass=0
fail=0

. "$top_srcdir/tests/lib/pg.sh"
trap pg_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# add NAME OUTFILE RC - count the last result line of OUTFILE (none, or a
# failing exit with no failure counted: one failure)
add()
{
	local line p f
	line=$(grep -aE "$RESULT_RE" "$2" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$1: no result line (exit $3), counted as 1 failed"
		fail=$((fail + 1))
		return
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
	f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
	[ "$3" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p))
	fail=$((fail + f))
}

out=$(mktemp /tmp/optin-pgsql.XXXXXX)
if [ ! -x "$top_builddir/tests/unit/test_store" ]; then
	make -C "$top_builddir" tests/unit/test_store >/dev/null 2>&1
fi
if pg_start; then
	OPTIN_PG=$PG_BASE timeout -k 10 300 \
	    "$top_builddir/tests/unit/test_store" >"$out" 2>&1 </dev/null
	rc=$?
	grep -aE "^\[  (FAILED|ERROR) |$RESULT_RE|case '" "$out"
	add test_store "$out" $rc
	pg_stop
else
	echo "test_store: PostgreSQL did not start, counted as 1 failed"
	fail=$((fail + 1))
fi

for suite in "tests/ctl/run.sh" "tests/unsubd/run.sh" "tests/feedback/run.sh" \
    "tests/e2e/run.sh t-consent t-feedback"; do
	echo "== $suite (OPTIN_STORE=pgsql)"
	# shellcheck disable=SC2086
	E2E_TIMEOUT=600 timeout -k 10 620 bash "$top_srcdir"/$suite \
	    >"$out" 2>&1 </dev/null
	rc=$?
	cat "$out"
	add "$suite" "$out" $rc
done
rm -f "$out"

echo "pgsql: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
