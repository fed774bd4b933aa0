#!/bin/bash
# run.sh - build every libFuzzer target of tests/fuzz with clang and
# AddressSanitizer/UndefinedBehaviorSanitizer and run each for
# FUZZ_SECONDS [10] from its seed corpus in the tree (tests/fuzz/corpus/
# NAME, copied, so a run never changes the tree): a crash, leak or
# sanitizer report fails it.  Prints "fuzz: N passed, N failed" last.
# Longer runs by hand: FUZZ_SECONDS=600 tests/fuzz/run.sh (10 minutes a
# target); add inputs worth keeping to tests/fuzz/corpus/NAME by hand.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
secs=${FUZZ_SECONDS:-10}
pass=0 fail=0
d=$(mktemp -d /tmp/optin-fuzz.XXXXXX)
trap 'rm -rf "$d"' EXIT
cd "$top_srcdir" || exit 1
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$top_builddir -Imilter/util -Imilter/core -DSYSCONFDIR=\"/etc\" -DLOCALSTATEDIR=\"/var\""
if ! command -v clang >/dev/null 2>&1; then
	echo "clang missing (apt-get install clang libclang-rt-14-dev)"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi

# target NAME SOURCES... -- LIBS...
target()
{
	local name=$1 src=() libs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do src+=("$1"); shift; done
	shift
	libs=("$@")
	# shellcheck disable=SC2086
	if ! clang $cflags "tests/fuzz/$name.c" "${src[@]}" "${libs[@]}" \
	    -o "$d/$name" > "$d/$name.build" 2>&1; then
		fail=$((fail + 1))
		echo "not ok - $name builds"; tail -5 "$d/$name.build"
		return
	fi
	mkdir -p "$d/$name.corpus"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp tests/fuzz/corpus/"$name"/* "$d/$name.corpus/" 2>/dev/null
	else
		echo "    (no seed corpus tests/fuzz/corpus/$name)"
	fi
	if "$d/$name" -max_total_time="$secs" -max_len=2048 -timeout=10 \
	    -artifact_prefix="$d/$name-" "$d/$name.corpus" > "$d/$name.out" 2>&1; then
		pass=$((pass + 1))
		echo "ok - $name: $(grep -oE 'Done [0-9]+ runs' "$d/$name.out" | tail -1) in ${secs}s"
	else
		fail=$((fail + 1))
		echo "not ok - $name"; grep -E 'ERROR|SUMMARY|runtime error' "$d/$name.out" | head -5
		for a in "$d/$name"-crash-* "$d/$name"-leak-* "$d/$name"-timeout-*; do
			[ -f "$a" ] && echo "    input: $(od -An -c "$a" | head -3 | tr -s ' ')"
		done
	fi
}

target fuzz_addr milter/core/addr.c milter/util/utf8.c -- -lidn2
target fuzz_config milter/core/config.c milter/core/campaign.c milter/core/addr.c milter/util/utf8.c milter/util/log.c \
    milter/util/prom.c milter/util/buf.c milter/core/smtpc.c -- -lidn2
target fuzz_token milter/core/token.c milter/core/mark.c milter/util/secfile.c -- -lcrypto
target fuzz_mark milter/core/mark.c milter/core/token.c milter/util/secfile.c -- -lcrypto
target fuzz_csv milter/util/csv.c milter/util/utf8.c milter/core/addr.c -- -lidn2
target fuzz_unsubd_form milter/unsubd/unsubd_form.c milter/unsubd/unsubd_guard.c \
    milter/core/token.c milter/core/mark.c milter/util/secfile.c -- -Imilter/unsubd -lcrypto
# the header fields the milter parses (From, Sender, ListHeader, ...)
target fuzz_headers milter/core/campaign.c milter/core/config.c milter/core/addr.c \
    milter/util/utf8.c milter/util/log.c milter/util/prom.c milter/util/buf.c \
    milter/core/smtpc.c -- -lidn2
# the re-injection channel's reply parser and dot-stuffing (ResubmitAddress)
target fuzz_smtpc milter/core/smtpc.c milter/util/buf.c milter/util/log.c --
# GMime's report parser (optin-feedback); GLib's type system keeps its
# caches for the life of the process: reachable, not leaks
target fuzz_fbparse milter/feedback/fbparse.c -- -Imilter/feedback \
    $(pkg-config --cflags --libs gmime-3.0)
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]
