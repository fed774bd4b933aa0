#!/bin/bash
# test.sh - run every test of optin-milter on a Debian 12 machine, as root:
# installs missing packages (contrib/deps.sh), builds (contrib/build.sh),
# runs `make check` (cmocka unit tests, miltertest scripts) and then every
# tests/*/run.sh that make check does not run (tests/milter and tests/bench
# excluded).  Collects each suite's "NAME: N passed, N failed" line, prints
# a summary, and as the very last line the totals "N passed, N failed".
# Exit status non-zero if anything failed; a suite without a result line
# counts as 1 failed.
# Environment: OPTIN_CORPUS (default tests/data/corpus),
# SUITE_TIMEOUT seconds per suite [2700], CHECK_TIMEOUT for make check [1200],
# E2E_JOBS end-to-end scripts at a time [3], MT_JOBS miltertest scripts at a
# time [6], SUITE_JOBS suites at a time [2] (after make check; the longest
# are started first: tests/sanitize/run.sh, whose half is miltertest
# scripts one at a time, mostly waiting for libmilter's 5 s stop, in one
# lane while fuzz, chaos and the short suites share the other;
# tests/pkg/run.sh, which installs the package on the system, and the
# suites that run Postfix end to end many times over (pgsql, e2e) run
# alone before them; each
# suite's output is printed whole, in the usual order, once all are
# done).

# a relative OPTIN_CORPUS is from where test.sh was started: made absolute
# before the cd (it was looked up in the tree)
case ${OPTIN_CORPUS:-} in
''|/*) ;;
*) OPTIN_CORPUS=$PWD/$OPTIN_CORPUS ;;
esac
cd "$(dirname "$0")" || exit 1
top=$(pwd)
export top_srcdir=$top top_builddir=$top
# end-to-end scripts three at a time (tests/e2e/run.sh): most of their time is
# spent waiting for mail
export E2E_JOBS=${E2E_JOBS:-3}
# miltertest scripts six at a time (tests/milter/run.sh): most of a script's
# time is libmilter's 5 s stop, idle
export MT_JOBS=${MT_JOBS:-6}
: "${OPTIN_CORPUS:=$top/tests/data/corpus}"
OPTIN_CORPUS=$(cd "$OPTIN_CORPUS" 2>/dev/null && pwd || echo "$OPTIN_CORPUS")
export OPTIN_CORPUS

RESULT_RE='^[^ ]+: [0-9]+ passed, [0-9]+ failed$'
results=$(mktemp -d /tmp/optin-test.XXXXXX)
trap 'kill $(jobs -pr) 2>/dev/null; rm -rf "$results"' EXIT
summary=$results/summary
: > "$summary"
tot_pass=0
tot_fail=0
start=$(date +%s)

# record SOURCE LINE [SECONDS] - add one suite's result line to the totals;
# SECONDS, the suite's running time, is shown beside it
record()
{
	local src=$1 line=$2 p f
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
	f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
	tot_pass=$((tot_pass + p))
	tot_fail=$((tot_fail + f))
	printf '%-28s %-40s %s\n' "$src" "$line" "${3:+($3 s)}" >> "$summary"
}

# missing SOURCE WHY - a suite that printed no result line: 1 failed
missing()
{
	tot_fail=$((tot_fail + 1))
	printf '%-28s NO RESULT LINE (%s): counted as 1 failed\n' "$1" "$2" >> "$summary"
}

# result_of FILE - last result line in FILE
result_of()
{
	grep -aE "$RESULT_RE" "$1" 2>/dev/null | tail -n 1
}

echo "== dependencies"
if ! contrib/deps.sh; then
	missing contrib/deps.sh "dependency install failed"
fi

echo "== build"
if ! contrib/build.sh; then
	missing contrib/build.sh "build failed"
fi
# a failed build still runs what can be built (make -k check) and the other
# suites; only an unconfigured tree stops here
built=yes
[ -f Makefile ] || built=no

echo "== make check"
# the test list as the Makefile has it (unit programs and tests/milter/run.sh)
tests=""
if [ -f Makefile ]; then
	tests=$(make -s -f Makefile -f - print-optin-tests 2>/dev/null <<'EOF'
print-optin-tests:
	@echo $(TESTS)
EOF
)
fi
for t in $tests; do
	rm -f "$t.log" "$t.trs" "${t%.sh}.log" "${t%.sh}.trs"
done
check_start=$(date +%s)
if [ "$built" = yes ]; then
	timeout -k 10 "${CHECK_TIMEOUT:-1200}" make -k -j2 check >"$results/check.log" 2>&1 </dev/null
	check_rc=$?
	# a program that does not build stops make check before any test;
	# then run the tests that can be built (check-TESTS builds each one)
	ran=no
	for t in $tests; do
		[ -f "$t.log" ] || [ -f "${t%.sh}.log" ] && ran=yes
	done
	if [ $check_rc -ne 0 ] && [ $ran = no ]; then
		echo "make check: build failed before the tests; running them with make -k check-TESTS"
		timeout -k 10 "${CHECK_TIMEOUT:-1200}" make -k check-TESTS >>"$results/check.log" 2>&1 </dev/null
	fi
	grep -aE '^(PASS|FAIL|XPASS|ERROR|SKIP):' "$results/check.log"
	if [ $check_rc -ne 0 ]; then
		echo "make check: exit $check_rc; last lines:"
		tail -n 30 "$results/check.log"
	fi
fi
echo "make check: $(( $(date +%s) - check_start )) s"
for t in $tests; do
	log=$t.log
	[ -f "$log" ] || log=${t%.sh}.log
	trs=${log%.log}.trs
	line=$(result_of "$log")
	if [ -z "$line" ]; then
		if [ -f "$log" ]; then
			missing "$t" "$(sed -n 's/^:test-result: //p' "$trs" 2>/dev/null | head -n 1)"
		else
			missing "$t" "not run"
		fi
		continue
	fi
	# a test that failed but counted no failure (crash after its line)
	if grep -qE '^:test-result: (FAIL|ERROR)' "$trs" 2>/dev/null &&
	    echo "$line" | grep -qE ', 0 failed$'; then
		line=$(echo "$line" | sed -E 's/, 0 failed$/, 1 failed/')
		echo "$t: exit status FAIL after a clean result line: counted as 1 failed"
	fi
	record "$t" "$line"
done

# other suites: tests/*/run.sh not run by make check, SUITE_JOBS at a time
runners=""
for runner in tests/*/run.sh; do
	case $runner in
	tests/milter/run.sh|tests/bench/run.sh) continue ;;
	esac
	case " $tests " in
	*" $runner "*) continue ;;
	esac
	runners="$runners $runner"
done

# out_of RUNNER - the file its output goes to (.rc: exit status, written
# last; .sec: seconds)
out_of()
{
	local suite=${1#tests/}
	echo "$results/${suite%/run.sh}.out"
}

# run_suite RUNNER - run one suite bounded by SUITE_TIMEOUT
run_suite()
{
	local out suite_start rc
	out=$(out_of "$1")
	suite_start=$(date +%s)
	timeout -k 10 "${SUITE_TIMEOUT:-2700}" bash "$1" >"$out" 2>&1 </dev/null
	rc=$?
	echo $(( $(date +%s) - suite_start )) > "$out.sec"
	echo $rc > "$out.rc"
}

# report_done - one progress line for each suite that finished since
reported=""
report_done()
{
	local r out
	for r in $started; do
		case " $reported " in *" $r "*) continue ;; esac
		out=$(out_of "$r")
		[ -f "$out.rc" ] || continue
		echo "-- finished $r (exit $(cat "$out.rc"), $(cat "$out.sec") s)"
		reported="$reported $r"
	done
}

# start order: alone first (one after the other), then the long suites,
# then the rest
# the suites that run a real Postfix many times over (pgsql, e2e) alone
# too: beside another they ran into E2E_TIMEOUT on a loaded machine (and
# t-split-retry's 3 s SplitHandoverWait window is missed when a restarted
# milter is slow: seen with five e2e scripts at a time)
# tests/sanitize/run.sh not alone: about 200 of its 390 s were miltertest
# scripts one at a time (MT_JOBS=1, each idle in libmilter's 5 s stop)
# beside an idle core; the other lane runs fuzz (beside its build), chaos
# (beside those miltertest scripts: chaos sends at a fixed rate and mostly
# waits) and then the short suites (ctl, unsubd, sendmail, spf, docs,
# startup): 420 s in all beside sanitize's 390
alone="tests/pkg/run.sh tests/pgsql/run.sh tests/e2e/run.sh"
long="tests/sanitize/run.sh tests/fuzz/run.sh tests/chaos/run.sh"
first="" order=""
for r in $runners; do
	case " $alone " in *" $r "*) first="$first $r" ;; esac
done
for r in $long $runners; do
	case " $runners " in *" $r "*) ;; *) continue ;; esac
	case " $alone $order " in *" $r "*) continue ;; esac
	order="$order $r"
done
suite_jobs=${SUITE_JOBS:-2}
case $suite_jobs in ''|*[!0-9]*|0) suite_jobs=1 ;; esac
started=""
if [ "$built" = yes ]; then
	for r in $first; do
		echo "-- started $r (alone)"
		started="$started $r"
		run_suite "$r"
		report_done
	done
	for r in $order; do
		while [ "$(jobs -pr | wc -l)" -ge "$suite_jobs" ]; do
			wait -n
			report_done
		done
		echo "-- started $r"
		started="$started $r"
		run_suite "$r" &
	done
	while [ -n "$(jobs -pr)" ]; do
		wait -n
		report_done
	done
	wait
	report_done
fi

for runner in $runners; do
	suite=${runner#tests/}
	suite=${suite%/run.sh}
	echo "== $suite"
	out=$(out_of "$runner")
	if [ "$built" = yes ] && [ -f "$out.rc" ]; then
		rc=$(cat "$out.rc")
		cat "$out"
	else
		[ -f "$out" ] || : > "$out"
		rc=1
	fi
	line=$(result_of "$out")
	if [ -z "$line" ]; then
		[ "$rc" -eq 124 ] && why="timed out" || why="exit $rc"
		[ "$built" = yes ] || why="not run: tree not configured"
		missing "$runner" "$why"
		continue
	fi
	if [ "$rc" -ne 0 ] && echo "$line" | grep -qE ', 0 failed$'; then
		line=$(echo "$line" | sed -E 's/, 0 failed$/, 1 failed/')
		echo "$runner: exit $rc after a clean result line: counted as 1 failed"
	fi
	record "$runner" "$line" "$(cat "$out.sec" 2>/dev/null)"
done
echo
echo "== summary ($(( $(date +%s) - start )) s)"
cat "$summary"
echo "$tot_pass passed, $tot_fail failed"
[ "$tot_fail" -eq 0 ]
