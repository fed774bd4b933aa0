#!/bin/bash
# test.sh - run every test of optin-milter on a Debian 12 machine, as root:
# installs missing packages (contrib/deps.sh), builds (contrib/build.sh),
# runs `make check` (cmocka unit tests, miltertest scripts) and then every
# tests/*/run.sh that make check does not run (tests/milter and tests/bench
# excluded).  Collects each suite's "NAME: N passed, N failed" line, prints
# a summary, and as the very last line the totals "N passed, N failed".
# Exit status non-zero if anything failed; a suite without a result line
# counts as 1 failed.
# Environment: OPTIN_CORPUS (default ../shared/corpus beside the tree),
# SUITE_TIMEOUT seconds per suite [2700], CHECK_TIMEOUT for make check [1200],
# E2E_JOBS end-to-end scripts at a time [3].

cd "$(dirname "$0")" || exit 1
top=$(pwd)
export top_srcdir=$top top_builddir=$top
# end-to-end scripts three at a time (tests/e2e/run.sh): most of their time is
# spent waiting for mail
export E2E_JOBS=${E2E_JOBS:-3}
: "${OPTIN_CORPUS:=$top/../shared/corpus}"
OPTIN_CORPUS=$(cd "$OPTIN_CORPUS" 2>/dev/null && pwd || echo "$OPTIN_CORPUS")
export OPTIN_CORPUS

RESULT_RE='^[^ ]+: [0-9]+ passed, [0-9]+ failed$'
results=$(mktemp -d /tmp/optin-test.XXXXXX)
trap 'rm -rf "$results"' EXIT
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
	timeout -k 10 "${CHECK_TIMEOUT:-1200}" make -k check >"$results/check.log" 2>&1 </dev/null
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

# other suites: tests/*/run.sh not run by make check
for runner in tests/*/run.sh; do
	case $runner in
	tests/milter/run.sh|tests/bench/run.sh) continue ;;
	esac
	case " $tests " in
	*" $runner "*) continue ;;
	esac
	suite=${runner#tests/}
	suite=${suite%/run.sh}
	echo "== $suite"
	out=$results/$suite.out
	suite_start=$(date +%s)
	if [ "$built" = yes ]; then
		timeout -k 10 "${SUITE_TIMEOUT:-2700}" bash "$runner" >"$out" 2>&1 </dev/null
		rc=$?
		cat "$out"
	else
		: > "$out"
		rc=1
	fi
	line=$(result_of "$out")
	if [ -z "$line" ]; then
		[ $rc -eq 124 ] && why="timed out" || why="exit $rc"
		[ "$built" = yes ] || why="not run: tree not configured"
		missing "$runner" "$why"
		continue
	fi
	if [ $rc -ne 0 ] && echo "$line" | grep -qE ', 0 failed$'; then
		line=$(echo "$line" | sed -E 's/, 0 failed$/, 1 failed/')
		echo "$runner: exit $rc after a clean result line: counted as 1 failed"
	fi
	record "$runner" "$line" $(( $(date +%s) - suite_start ))
done

echo
echo "== summary ($(( $(date +%s) - start )) s)"
cat "$summary"
echo "$tot_pass passed, $tot_fail failed"
[ "$tot_fail" -eq 0 ]
