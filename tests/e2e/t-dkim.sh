#!/bin/bash
# t-dkim.sh - DKIM through a real Postfix (issue 3): every corpus message,
# sent as campaign mail, is delivered with a signature that dkimpy verifies,
# for rsa-sha256, ed25519-sha256 and both (two signatures); h= covers both
# unsubscribe headers; changing the List-Unsubscribe header of a delivered
# message, or adding a second one, breaks verification.  Includes 8-bit
# bodies, long lines, no final CRLF, folded and RFC 2047 headers, an empty
# body and messages already signed by the application.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-dkim

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup || { e2e_fail "consent database set up"; e2e_done; }
K=$OPTIN_DIR

# variant NAME LINES... - a config for one signing set-up
variant()
{
	local name=$1 l
	shift
	cp "$K/optin-milter.conf" "$K/$name.conf"
	for l in "$@"; do printf '%s\n' "$l" >> "$K/$name.conf"; done
}
variant rsa "Domain example.com" "Selector s2026" "KeyFile $K/rsa.pem"
variant ed25519 "Domain example.com" "Selector ed2026" \
    "KeyFile $K/ed25519.pem" "SigningAlgorithm ed25519-sha256"
variant both "Domain example.com" "Selector s2026" "KeyFile $K/rsa.pem" \
    "SigningAlgorithm both" "SelectorEd25519 ed2026" \
    "KeyFileEd25519 $K/ed25519.pem"

# extra test messages the corpus lacks: no final CRLF, a line over 998
# octets is left out (Postfix would fold it after signing, see DESIGN)
printf 'From: news@example.com\r\nSubject: =?UTF-8?B?w4RwZmVs?= and\r\n folded\r\n\r\nno final line end' \
    > "$PF_BASE/nofinal.eml"
printf 'From: news@example.com\r\nSubject: empty body\r\n\r\n' > "$PF_BASE/empty.eml"
printf 'From: news@example.com\r\nSubject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe, %s\r\n' \
    "$(head -c 900 /dev/zero | tr '\0' x)" > "$PF_BASE/8bit.eml"

milter_start "$K/rsa.conf" || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }

round=0
for v in rsa ed25519 both; do
	round=$((round + 1))
	if [ $round -gt 1 ]; then
		milter_stop
		milter_start "$K/$v.conf" || { e2e_fail "$v: milter starts"; continue; }
	fi
	optin_records "$PF_BASE/records.$v" "$K/$v.conf"
	before=$(sink_count)
	n=0
	for f in "$OPTIN_CORPUS"/*.eml "$OPTIN_CORPUS"/*.msg \
	    "$OPTIN_CORPUS"/*.message "$OPTIN_CORPUS"/*.txt "$PF_BASE"/*.eml; do
		[ -f "$f" ] || continue
		optin_two_from "$f" && continue	# refused: t-signsafe.sh
		n=$((n + 1))
		pf_send news@example.com ann@example.com "$f" >/dev/null
	done
	pf_wait_empty 90 || e2e_fail "$v: queue empties"
	sink_wait_count $((before + n)) 30
	e2e_check_eq "$v: every message delivered" "$(sink_count)" $((before + n))
	want=1; [ $v = both ] && want=2
	bad=""
	files=""
	i=0
	for f in $(sink_messages); do
		i=$((i + 1))
		[ $i -le "$before" ] && continue
		files="$files $f"
		last=$f
	done
	# shellcheck disable=SC2086
	for f in $(optin_verify_bad "$PF_BASE/records.$v" $want $files); do
		bad="$bad $(sink_header "$f" Subject | head -c 40)|"
	done
	e2e_check_eq "$v: messages whose signature fails dkimpy" "$bad" ""
	h=$(sink_raw "$last" | "$PY" -c 'import sys, email
m = email.message_from_binary_file(sys.stdin.buffer)
for s in m.get_all("DKIM-Signature"):
	s = "".join(str(s).split())
	t = dict(x.split("=", 1) for x in s.split(";") if "=" in x)
	print(t.get("a"), t.get("c"), "l" in t, t["h"].lower())')
	case $v in
	rsa) e2e_check "rsa: a=rsa-sha256 c=relaxed/relaxed, no l=" \
	    grep -q '^rsa-sha256 relaxed/relaxed False ' <<<"$h" ;;
	ed25519) e2e_check "ed25519: a=ed25519-sha256, no l=" \
	    grep -q '^ed25519-sha256 relaxed/relaxed False ' <<<"$h" ;;
	both) e2e_check_eq "both: two signatures, one of each" \
	    "$(cut -d' ' -f1 <<<"$h" | sort | tr '\n' ' ')" \
	    "ed25519-sha256 rsa-sha256 " ;;
	esac
	e2e_check "$v: h= covers list-unsubscribe and list-unsubscribe-post" \
	    grep -qE ':list-unsubscribe:list-unsubscribe-post(:|$)' <<<"$h"
	e2e_check "$v: From and List-Unsubscribe oversigned" \
	    test "$(head -1 <<<"$h" | cut -d' ' -f4 | tr ':' '\n' | grep -cx 'from\|list-unsubscribe')" -ge 4
done

# tampering with a delivered (rsa) message breaks verification
f=$(sink_messages | head -1)
sink_raw "$f" > "$PF_BASE/good.eml"
e2e_check "untouched message verifies" "$PY" "$E2E_TOP/tests/unit/dkim_verify.py" \
    "$PF_BASE/records.rsa" 1 "$PF_BASE/good.eml"
sed 's|^List-Unsubscribe: <https://unsub.example.com/u/|List-Unsubscribe: <https://evil.example/u/|' \
    "$PF_BASE/good.eml" > "$PF_BASE/changed.eml"
e2e_check "changed List-Unsubscribe was really changed" \
    grep -q evil.example "$PF_BASE/changed.eml"
e2e_check "changed List-Unsubscribe fails" sh -c "! '$PY' '$E2E_TOP/tests/unit/dkim_verify.py' '$PF_BASE/records.rsa' 1 '$PF_BASE/changed.eml' >/dev/null"
awk 'NR == 1 { print "List-Unsubscribe: <https://evil.example/u/x>\r" } { print }' \
    "$PF_BASE/good.eml" > "$PF_BASE/added.eml"
# keep the signature first, as a verifier reads it: move the added header
# below the DKIM-Signature block
"$PY" - "$PF_BASE/good.eml" "$PF_BASE/added.eml" <<'EOP'
import sys
d = open(sys.argv[1], "rb").read()
head, sep, body = d.partition(b"\r\n\r\n")
open(sys.argv[2], "wb").write(head + b"\r\nList-Unsubscribe: <https://evil.example/u/x>" + sep + body)
EOP
e2e_check "a second List-Unsubscribe fails" sh -c "! '$PY' '$E2E_TOP/tests/unit/dkim_verify.py' '$PF_BASE/records.rsa' 1 '$PF_BASE/added.eml' >/dev/null"
e2e_done
