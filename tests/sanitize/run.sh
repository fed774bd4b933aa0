#!/bin/bash
# run.sh - the unit, miltertest and end-to-end suites on a build made with
# ./configure --enable-sanitizers (AddressSanitizer + UBSan), in a copy of
# the tracked tree so the main build is left alone.  Every sanitizer report
# of every process (milter, its SPF helper, optinctl, optin-unsubd, the
# unit tests) goes to a file under the run's directory (log_path); each
# report file counts as one failure, even when no test noticed.
# Leaks are checked (LeakSanitizer) with the suppressions in lsan.supp,
# each of which names the library's own leak it hides.
# Environment: SAN_SUITES (default "check e2e"), E2E_TESTS (t-names; default
# the scripts that drive every program and path once: consent and split,
# DKIM, release, mailto, one-click in a browser, feedback, message safety;
# E2E_TESTS=all for every script, as the long run in BENCHMARKS.md does).  Prints "sanitize: N passed, N failed" last.
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "${top_srcdir:-$here/../..}" && pwd)
: "${OPTIN_CORPUS:=$src/tests/data/corpus}"
# absolute: make check runs in the copy of the tree below
OPTIN_CORPUS=$(cd "$OPTIN_CORPUS" 2>/dev/null && pwd || echo "$OPTIN_CORPUS")
export OPTIN_CORPUS
pass=0 fail=0
d=$(mktemp -d /tmp/optin-san.XXXXXX) || exit 1
chmod 755 "$d"
[ -n "${SAN_KEEP:-}" ] || trap 'rm -rf "$d"' EXIT
trap 'exit 1' HUP INT TERM

# add LINE - add a suite's "NAME: N passed, N failed" line to the totals
add()
{
	local p f
	p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$1")
	f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$1")
	pass=$((pass + p)); fail=$((fail + f))
}
finish()
{
	echo "sanitize: $pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

b=$d/tree
mkdir "$b" "$d/reports"
chmod 777 "$d/reports"	# daemons that dropped privileges write here too
(cd "$src" && git ls-files -z 2>/dev/null | tar --null -T - -cf -) | tar -C "$b" -xf -
[ -f "$b/configure.ac" ] || { echo "not ok - copy of the tree"; fail=1; finish; }
werror=""
[ "${CI:-}" = true ] && werror=--enable-werror
if (cd "$b" && autoreconf -fi && ./configure -q --enable-sanitizers $werror &&
    make -j2) >"$d/build.log" 2>&1; then
	echo "ok - build with --enable-sanitizers"
	pass=$((pass + 1))
else
	echo "not ok - build with --enable-sanitizers"
	tail -n 30 "$d/build.log"
	fail=$((fail + 1))
	finish
fi

export ASAN_OPTIONS="log_path=$d/reports/asan:detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="log_path=$d/reports/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export top_srcdir=$b top_builddir=$b

for suite in ${SAN_SUITES:-check e2e}; do
	case $suite in
	check)
		# the miltertest scripts one at a time here (MT_JOBS=1): six at
		# a time under ASan on a loaded machine the milter took over 5 s
		# to listen (common.lua now waits up to 30 s), and twice LSan
		# reported OpenSSL's per-thread error state (HMAC in token.c)
		# of a libmilter thread still alive at exit; the unit programs
		# beside them (-j2)
		(cd "$b" && MT_JOBS=1 make -k -j2 check) >"$d/check.log" 2>&1
		for log in "$b"/tests/unit/test_*.log "$b"/tests/milter/run.sh.log; do
			[ -f "$log" ] || continue
			line=$(grep -aE '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
			if [ -z "$line" ]; then
				echo "not ok - $(basename "$log" .log): no result line"
				fail=$((fail + 1))
			else
				echo "$line"
				add "$line"
			fi
		done
		;;
	e2e)
		# shellcheck disable=SC2086
		# ASan makes every program 2-3 times slower: more time per script
		tests=${E2E_TESTS:-t-consent t-dkim t-release t-unsub-mailto t-feedback t-signsafe t-rcpt-forms}
		[ "$tests" = all ] && tests=""
		# shellcheck disable=SC2086
		E2E_TIMEOUT=${E2E_TIMEOUT:-900} bash "$b/tests/e2e/run.sh" $tests \
		    >"$d/e2e.log" 2>&1
		grep -aE '^not ok' "$d/e2e.log"
		line=$(grep -aE '^e2e: [0-9]+ passed, [0-9]+ failed$' "$d/e2e.log" | tail -n 1)
		if [ -z "$line" ]; then
			echo "not ok - e2e: no result line"; tail -n 20 "$d/e2e.log"
			fail=$((fail + 1))
		else
			echo "$line"
			add "$line"
		fi
		;;
	esac
done

# every report file is a finding
n=0
for r in "$d"/reports/*; do
	[ -f "$r" ] || continue
	n=$((n + 1))
	echo "not ok - sanitizer report $(basename "$r"):"
	grep -E 'ERROR|SUMMARY|runtime error|#[0-9] ' "$r" | head -n 12 | sed 's/^/    /'
done
if [ "$n" = 0 ]; then
	echo "ok - no sanitizer report from any process"
	pass=$((pass + 1))
else
	fail=$((fail + n))
fi
finish
