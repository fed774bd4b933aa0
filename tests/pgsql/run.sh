#!/bin/bash
# tests/pgsql/run.sh - the suites again with OPTIN_STORE=pgsql, on
# PostgreSQL (DESIGN "Scale-out": every program and suite runs on both
# engines; issue 11 item 4): tests/unit/test_store against a private server
# (tests/lib/pg.sh; a fresh database per test case), the miltertest
# scripts (tests/milter/run.sh: one server, a fresh database per script),
# tests/ctl, tests/unsubd and tests/feedback (each starts its own server,
# tests/lib/db.sh), and every end-to-end script (tests/e2e/run.sh,
# E2E_JOBS at a time; one server started here, OPTIN_PG_SERVER, and a
# database per script, set up by optin-setup.sh with optinctl) but three
# that have no store of the milter's to switch: t-harness.sh (the harness,
# no milter), t-demo.sh (demo.sh, the README's SQLite quick start) and
# t-two-relays.sh (on PostgreSQL always, in the e2e suite);
# tests/ctl/t-copy-store.sh too runs on PostgreSQL always, in its own
# suite.  OPTIN_PG_FULL=1 adds what is long on a busy machine
# (tests/ctl's 200,000-row imports).
# Needs root (the server runs as the postgres user; Postfix).  Prints each
# suite's seconds; sums the suites' result lines; last line
# "pgsql: N passed, N failed".

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
start=$(date +%s)
if pg_start; then
	OPTIN_PG=$PG_BASE timeout -k 10 300 \
	    "$top_builddir/tests/unit/test_store" >"$out" 2>&1 </dev/null
	rc=$?
	grep -aE "^\[  (FAILED|ERROR) |$RESULT_RE|case '" "$out"
	add test_store "$out" $rc
	pg_stop
	echo "test_store: $(( $(date +%s) - start )) s"
else
	echo "test_store: PostgreSQL did not start, counted as 1 failed"
	fail=$((fail + 1))
fi

# the end-to-end scripts that use the milter's store
e2e=""
for t in "$top_srcdir"/tests/e2e/t-*.sh; do
	case $(basename "$t" .sh) in
	t-harness|t-demo|t-two-relays)
		echo "e2e: $(basename "$t") not run again on PostgreSQL (see the header of tests/pgsql/run.sh)"
		continue ;;
	esac
	e2e="$e2e $(basename "$t" .sh)"
done

for suite in "tests/milter/run.sh" "tests/ctl/run.sh" "tests/unsubd/run.sh" \
    "tests/feedback/run.sh" "tests/e2e/run.sh$e2e"; do
	echo "== ${suite%% *} (OPTIN_STORE=pgsql)"
	start=$(date +%s)
	# the end-to-end scripts share one server (OPTIN_PG_SERVER of
	# tests/e2e/optin-setup.sh), a database each: no initdb per script
	server=""
	case $suite in
	tests/e2e/*)
		pg_start && server=$PG_BASE ||
		    echo "e2e: no shared PostgreSQL: each script starts its own"
		;;
	esac
	# shellcheck disable=SC2086
	OPTIN_PG_SERVER=$server E2E_TIMEOUT=600 timeout -k 10 1800 \
	    bash "$top_srcdir"/$suite >"$out" 2>&1 </dev/null
	rc=$?
	[ -n "$server" ] && pg_stop
	cat "$out"
	echo "${suite%% *}: $(( $(date +%s) - start )) s"
	add "${suite%% *}" "$out" $rc
done
rm -f "$out"

echo "pgsql: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
