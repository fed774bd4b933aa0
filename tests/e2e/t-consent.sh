#!/bin/bash
# t-consent.sh - the main job through a real Postfix (issues 2 and 3):
# every corpus message is sent as campaign mail to a mix of recipients;
# assert exactly who received which message, the quarantine rows and
# files, one recipient per copy (split, over SMTP and through sendmail),
# the unsubscribe headers and their tokens, and that every delivered
# signature verifies with dkimpy.  Transactional mail arrives unchanged.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-consent

optin_start "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem"
e2e_ok "postfix, milter and sink start"
optin_records "$PF_BASE/records"

MIX_SMTP="ann@example.com,bob@example.com,carol@example.com,dave@example.com,eve@example.com,FRANK@EXAMPLE.COM,gina@xn--bcher-kva.example"
ALLOWED="ann@example.com FRANK@EXAMPLE.COM gina@xn--bcher-kva.example"

n=0
sent=""
for f in "$OPTIN_CORPUS"/*.eml "$OPTIN_CORPUS"/*.msg "$OPTIN_CORPUS"/*.message \
    "$OPTIN_CORPUS"/*.txt; do
	[ -f "$f" ] || continue
	case $(basename "$f") in SOURCES*) continue ;; esac
	optin_two_from "$f" && continue		# refused: t-signsafe.sh
	n=$((n + 1))
	optin_stamp "$f" "e2e-$n" > "$PF_BASE/msg.$n"
	# (Postfix adds a From header to the one message without: local
	# submission; the milter's refusal of such campaigns is in
	# tests/milter/t-no-from.lua)
	sent="$sent $n:$(basename "$f")"
	pf_send news@example.com "$MIX_SMTP" "$PF_BASE/msg.$n" >/dev/null
done
e2e_check "corpus found" test "$n" -ge 10

# through sendmail(1) (non_smtpd_milters): five recipients, three allowed,
# one of them with an IDN domain in UTF-8
n=$((n + 1)); sm=$n
optin_stamp "$OPTIN_CORPUS/ours_newsletter_multipart.eml" "e2e-$sm" \
    > "$PF_BASE/msg.$sm"
pf_sendmail -i -f news@example.com ann@example.com bob@example.com \
    hank@bücher.example dave@example.com frank@example.com < "$PF_BASE/msg.$sm"
e2e_check "sendmail submission accepted" test $? = 0

# transactional mail to someone who opted out of campaigns
pf_send billing@shop.example.com bob@example.com \
    "$OPTIN_CORPUS/ours_transactional_reset.eml" >/dev/null

pf_wait_empty 120 || e2e_fail "queue empties"

# --- exact deliveries: every copy has one recipient, the right ones got it
for item in $sent; do
	i=${item%%:*}
	name=${item#*:}
	files=$(sink_find Message-ID "<e2e-$i@test.example>")
	got=$(for f in $files; do sink_rcpts "$f"; done | sort | tr '\n' ' ')
	e2e_check_eq "$name: delivered to the three allowed, one copy each" \
	    "$got" "FRANK@EXAMPLE.COM ann@example.com gina@xn--bcher-kva.example "
	for f in $files; do
		e2e_check_eq "$name: one recipient per copy" \
		    "$(sink_rcpts "$f" | wc -l)" 1
	done
done
files=$(sink_find Message-ID "<e2e-$sm@test.example>")
e2e_check_eq "sendmail path: three single-recipient copies" \
    "$(for f in $files; do sink_rcpts "$f"; done | sort | tr '\n' ' ')" \
    "ann@example.com frank@example.com hank@bücher.example "

# --- quarantine rows: one per blocked recipient and message
nmsg=$(echo $sent | wc -w)
rows=$(optin_sql "select reason, count(*) from quarantine where reason != 'resubmit_failed' group by reason order by reason" | tr '\n' ' ')
e2e_check_eq "quarantine rows by reason" "$rows" \
    "no_consent|$((nmsg + 1)) opted_out|$((nmsg + 1)) pending|$nmsg suppressed|$nmsg "
e2e_check_eq "quarantine: who, for the sendmail message" \
    "$(optin_sql "select recipient || '=' || reason from quarantine where message_id = '<e2e-$sm@test.example>' order by 1" | tr '\n' ' ')" \
    "bob@example.com=opted_out dave@example.com=no_consent "
e2e_check_eq "every quarantine row has its spool file" \
    "$(optin_spool_missing)" 0
e2e_check_eq "spool files: one per quarantined message" \
    "$(ls "$OPTIN_DIR/quarantine" | grep -c '\.eml$')" "$((nmsg + 1))"
e2e_check_eq "no campaign delivered to a blocked recipient" \
    "$(for r in bob carol dave eve; do
	for f in $(sink_files_for_rcpt "$r@example.com"); do
		sink_from "$f"; done; done | grep -c news@example.com)" 0

# --- headers, tokens and signatures on every delivered campaign copy
bad_lu=0; bad_sig=0; bad_tok=0; internal=0; copies=0; signed=""
for f in $(sink_messages); do
	[ "$(sink_from "$f")" = "news@example.com" ] || continue
	copies=$((copies + 1))
	rcpt=$(sink_rcpts "$f")
	lu=$(sink_header "$f" List-Unsubscribe)
	case $lu in
	"<https://unsub.example.com/u/"*"mailto:unsubscribe+"*) ;;
	*) bad_lu=$((bad_lu + 1)) ;;
	esac
	[ "$(sink_header "$f" List-Unsubscribe-Post)" = "List-Unsubscribe=One-Click" ] ||
	    bad_lu=$((bad_lu + 1))
	[ "$(sink_raw "$f" | grep -ci '^list-unsubscribe:')" = 1 ] ||
	    bad_lu=$((bad_lu + 1))
	sink_raw "$f" | grep -qiE '^(X-Campaign-ID|X-Campaign-List|X-Optin-Split):' &&
	    internal=$((internal + 1))
	tok=$(printf '%s' "$lu" | sed -n 's|.*/u/\([A-Za-z0-9_-]*\)>.*|\1|p')
	want=$("$PY" -c 'import sys
l, d = sys.argv[1].rsplit("@", 1)
print(l.lower() + "@" + d.lower().encode("idna").decode())' "$rcpt")
	# the list: the message's X-Campaign-List, else DefaultList
	i=$(sink_header "$f" Message-ID | sed -n 's/<e2e-\([0-9]*\)@.*/\1/p')
	list=$(sed -n 's/^X-Campaign-List: *\([^ \r]*\).*/\1/p' "$PF_BASE/msg.$i" |
	    tr -d '\r')
	"$OPTINCTL" -c "$OPTIN_DIR/optin-milter.conf" --json token check "$tok" \
	    > "$PF_BASE/tok.json" 2>/dev/null
	"$PY" -c 'import json,sys
t = json.load(open(sys.argv[1]))
sys.exit(0 if t.get("recipient") == sys.argv[2] and t.get("list") == sys.argv[3] else 1)' \
	    "$PF_BASE/tok.json" "$want" "${list:-news}" || bad_tok=$((bad_tok + 1))
	signed="$signed $f"
done
# shellcheck disable=SC2086
bad_sig=$(optin_verify_bad "$PF_BASE/records" 1 $signed | grep -c .)
e2e_check_eq "delivered campaign copies" "$copies" "$((nmsg * 3 + 3))"
e2e_check_eq "copies without our unsubscribe headers" "$bad_lu" 0
e2e_check_eq "copies with internal headers left" "$internal" 0
e2e_check_eq "tokens that do not name the recipient and list" "$bad_tok" 0
e2e_check_eq "copies whose DKIM signature fails dkimpy" "$bad_sig" 0

# --- transactional: unchanged apart from Postfix's Received
tx=$(sink_files_for_rcpt bob@example.com)
e2e_check_eq "transactional mail to an opted-out address delivered" \
    "$(printf '%s\n' $tx | grep -c .)" 1
if [ -n "$tx" ]; then
	sink_raw "$tx" > "$PF_BASE/tx.raw"
	e2e_check "transactional bytes unchanged below Received" "$PY" -c 'import sys
want = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
got = open(sys.argv[2], "rb").read()
sys.exit(0 if got.startswith(b"Received: ") and got.endswith(b"\r\n" + want) else 1)' \
	    "$OPTIN_CORPUS/ours_transactional_reset.eml" "$PF_BASE/tx.raw"
fi

# --- the decision log line (DESIGN "Message flow")
e2e_check "decision line logged" grep -qE \
    '^[0-9A-Za-z]+: campaign list=news from=<news@example.com> allowed=3 quarantined=4 \(suppressed=1 opted_out=1 pending=1 no_consent=1\) split=yes dkim=rsa-sha256 d=example.com s=s2026$' \
    "$MILTER_LOG"
# every split copy, back through the milter, logs its own queue ID beside
# the original's: one line per "resubmitted" line
e2e_check_eq "split copies logged with their new queue ID" \
    "$(grep -cE '^[0-9A-Za-z]+: split copy of [0-9A-Za-z]+$' "$MILTER_LOG")" \
    "$(grep -cE '^[0-9A-Za-z]+: split copy to=.* resubmitted( as [0-9A-Za-z]+)?$' "$MILTER_LOG")"
e2e_check "split copies logged at all" grep -qE \
    '^[0-9A-Za-z]+: split copy of [0-9A-Za-z]+$' "$MILTER_LOG"
e2e_done
