# sign.sh - section "sign" of tests/bench/run.sh (sourced by it): µs per
# DKIM signature of dkimsign_message() on the 15 KB newsletter, the key
# cache on and off (OPTIN_DKIM_KEYCACHE=off: libopendkim parses the key for
# every signature, as before the cache), RSA-2048 and Ed25519, with
# tests/bench/signbench.c.  Issue 14 measured 843 -> 314 µs (RSA) and
# 448 -> 120 µs (Ed25519) on this machine.

# sign_build - build signbench into $W/bin with the Makefile's flags
sign_build()
{
	gcc -g -O2 -Wall -Wextra -Wformat=2 -Wno-unused-parameter \
	    -I"$E2E_BUILD" -I"$E2E_TOP/milter/util" -I"$E2E_TOP/milter/core" \
	    -I"$E2E_TOP/milter/dkim" -I"$E2E_TOP/tests/unit" \
	    -I/usr/include/opendkim \
	    -o "$W/bin/signbench" "$BENCH_HERE/signbench.c" \
	    "$E2E_TOP/tests/unit/dkimtest.c" "$W/bin/libdkim.a" \
	    "$W/bin/libcore.a" "$W/bin/libutil.a" -lcmocka -lcrypto -lidn2 \
	    -lopendkim -lpthread
}

section_sign()
{
	local out alg off on
	echo
	echo "== DKIM signing, µs per signature (15 KB message, $SIGN_N" \
	    "signatures, median of 3)"
	sign_build || { say "signbench does not build"; return 1; }
	out=$("$W/bin/signbench" "$K/rsa.private" "$K/ed.private" "$MSG" \
	    "$SIGN_N" 2>"$W/logs/signbench.log")
	for alg in rsa-sha256 ed25519-sha256; do
		off=$(echo "$out" | awk -v a="$alg" '$2 == a && $3 == "off" { print $4 }')
		on=$(echo "$out" | awk -v a="$alg" '$2 == a && $3 == "on" { print $4 }')
		result "µs/signature $alg, key parsed per signature (before)" \
		    "$off" "-" "-" info
		result "µs/signature $alg, key cache (after)" "$on" \
		    "<= 0.5x before" "$(calc "$on / $off")" \
		    "$(met "$on <= $off * 0.5")"
	done
}
