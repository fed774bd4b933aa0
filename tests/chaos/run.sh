#!/bin/bash
# run.sh - the short chaos run for CI (issue 15 item 2): chaos.sh once on
# SQLite and once on PostgreSQL, 200 and 100 messages and 8 faults each
# (every kind at least once); sums the result lines
# and prints "chaos: N passed, N failed" last.  Each run prints its seed;
# repeat one with CHAOS_SEED=S CHAOS_STORE=sqlite|pgsql bash tests/chaos/chaos.sh.
#
# Environment: CHAOS_MESSAGES [200 on SQLite; PostgreSQL runs half],
# CHAOS_RATE [15 messages a second], CHAOS_MAX_FAULTS [8 a run],
# CHAOS_TIMEOUT per run [420 s]; the rest goes to chaos.sh as is.
# Each run took 50-100 s on 2 CPUs at a quiet moment (SQLite 300
# messages, PostgreSQL 200); several times that on a loaded machine.
# The long run is a documented command, see BENCHMARKS.md "RELIABILITY".

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)
OPTIN_CORPUS=${OPTIN_CORPUS:-$top_srcdir/tests/data/corpus}
export top_srcdir top_builddir OPTIN_CORPUS
export CHAOS_RATE=${CHAOS_RATE:-15}
export CHAOS_MAX_FAULTS=${CHAOS_MAX_FAULTS:-8}
n=${CHAOS_MESSAGES:-200}

pass=0
fail=0
for store in sqlite pgsql; do
	count=$n
	[ "$store" = pgsql ] && count=$(( n / 2 ))
	out=$(mktemp /tmp/optin-chaos-out.XXXXXX)
	CHAOS_STORE=$store CHAOS_MESSAGES=$count \
	    timeout -k 10 "${CHAOS_TIMEOUT:-420}" bash "$here/chaos.sh" \
	    >"$out" 2>&1 </dev/null
	rc=$?
	cat "$out"
	line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		[ $rc -eq 124 ] && why="timed out" || why="exit $rc"
		echo "chaos-$store: no result line ($why), counted as 1 failed"
		fail=$((fail + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
	f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "chaos-$store: exit $rc with no failure counted, counted as 1 failed"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
done

echo "chaos: $pass passed, $fail failed"
[ $fail -eq 0 ]
