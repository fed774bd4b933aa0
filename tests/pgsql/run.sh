#!/bin/bash
# tests/pgsql/run.sh - the suites again with OPTIN_STORE=pgsql, on
# PostgreSQL (DESIGN "Scale-out": every program and suite runs on both
# engines; issue 11 item 4): tests/unit/test_store against a private server
# (tests/lib/pg.sh; a fresh database per test case), the miltertest
# scripts (tests/milter/run.sh: one server, a fresh database per script),
# tests/ctl, tests/unsubd and tests/feedback (each starts its own server,
# tests/lib/db.sh; these and test_store two at a time), and every
# end-to-end script (tests/e2e/run.sh,
# E2E_JOBS at a time; one server started here, OPTIN_PG_SERVER, and a
# database per script, set up by optin-setup.sh with optinctl) but four:
# three that have no store of the milter's to switch: t-harness.sh (the
# harness, no milter), t-demo.sh (demo.sh, the README's SQLite quick start)
# and t-two-relays.sh (on PostgreSQL always, in the e2e suite); and
# t-sasl.sh, whose subject (a SASL login in CampaignAuthUsers makes mail
# campaign mail: Postfix's {auth_authen} read at MAIL) is decided before
# any store lookup, and whose store rows (quarantine reasons for a
# campaign) t-consent.sh and others check on PostgreSQL;
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

out=$(mktemp -d /tmp/optin-pgsql.XXXXXX)
if [ ! -x "$top_builddir/tests/unit/test_store" ]; then
	make -C "$top_builddir" tests/unit/test_store >/dev/null 2>&1
fi

# test_store OUT - the unit test of the store on a server of its own;
# its lines to OUT, its exit status to OUT.rc (77: no server)
test_store()
{
	if pg_start; then
		OPTIN_PG=$PG_BASE timeout -k 10 300 \
		    "$top_builddir/tests/unit/test_store" >"$1" 2>&1 </dev/null
		echo $? > "$1.rc"
		pg_stop
	else
		echo 77 > "$1.rc"
	fi
}

# suite RUNNER OUT - one suite that starts its own servers (tests/lib/db.sh,
# tests/milter/run.sh), bounded; its output to OUT, seconds to OUT.sec,
# exit status to OUT.rc
suite()
{
	local start=$(date +%s)
	E2E_TIMEOUT=600 timeout -k 10 1800 \
	    bash "$top_srcdir/$1" >"$2" 2>&1 </dev/null
	echo $? > "$2.rc"
	echo $(( $(date +%s) - start )) > "$2.sec"
}

# the unit test and the suites that start their own servers, two lanes at
# a time (none runs Postfix; each has its own server, port and
# directories; run one after the other they left a core idle for 3
# minutes): tests/unsubd and tests/feedback in one lane, the rest in the
# other; their output is printed in the usual order once both are done
start=$(date +%s)
(
	trap pg_stop EXIT
	test_store "$out/test_store"
	echo $(( $(date +%s) - start )) > "$out/test_store.sec"
	suite tests/milter/run.sh "$out/milter"
	suite tests/ctl/run.sh "$out/ctl"
) &
lane=$!
suite tests/unsubd/run.sh "$out/unsubd"
suite tests/feedback/run.sh "$out/feedback"
wait "$lane"
if [ "$(cat "$out/test_store.rc" 2>/dev/null)" = 77 ]; then
	echo "test_store: PostgreSQL did not start, counted as 1 failed"
	fail=$((fail + 1))
else
	grep -aE "^\[  (FAILED|ERROR) |$RESULT_RE|case '" "$out/test_store"
	add test_store "$out/test_store" "$(cat "$out/test_store.rc" 2>/dev/null || echo 1)"
	echo "test_store: $(cat "$out/test_store.sec" 2>/dev/null) s"
fi
for s in milter ctl unsubd feedback; do
	echo "== tests/$s/run.sh (OPTIN_STORE=pgsql)"
	cat "$out/$s"
	echo "tests/$s/run.sh: $(cat "$out/$s.sec" 2>/dev/null) s"
	add "tests/$s/run.sh" "$out/$s" "$(cat "$out/$s.rc" 2>/dev/null || echo 1)"
done
echo "test_store and tests/{milter,ctl,unsubd,feedback}: $(( $(date +%s) - start )) s in all"

# the end-to-end scripts that use the milter's store
e2e=""
for t in "$top_srcdir"/tests/e2e/t-*.sh; do
	case $(basename "$t" .sh) in
	t-harness|t-demo|t-two-relays|t-sasl)
		echo "e2e: $(basename "$t") not run again on PostgreSQL (see the header of tests/pgsql/run.sh)"
		continue ;;
	esac
	e2e="$e2e $(basename "$t" .sh)"
done

# the end-to-end scripts share one server (OPTIN_PG_SERVER of
# tests/e2e/optin-setup.sh), a database each: no initdb per script
echo "== tests/e2e/run.sh (OPTIN_STORE=pgsql)"
start=$(date +%s)
server=""
pg_start && server=$PG_BASE ||
    echo "e2e: no shared PostgreSQL: each script starts its own"
# shellcheck disable=SC2086
OPTIN_PG_SERVER=$server E2E_TIMEOUT=600 timeout -k 10 1800 \
    bash "$top_srcdir/tests/e2e/run.sh" $e2e >"$out/e2e" 2>&1 </dev/null
rc=$?
[ -n "$server" ] && pg_stop
cat "$out/e2e"
echo "tests/e2e/run.sh: $(( $(date +%s) - start )) s"
add tests/e2e/run.sh "$out/e2e" $rc
rm -rf "$out"

echo "pgsql: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
