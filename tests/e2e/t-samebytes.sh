#!/bin/bash
# t-samebytes.sh - what goes out is what came in (DESIGN "Message flow"
# item 5, issue 10): every corpus message and a set of crafted ones (a fold
# right after the colon, tabs, empty header values, 8bit, CRLF body edge
# cases, no final newline) is sent as a campaign to one kept recipient, one
# split recipient and one blocked recipient, over SMTP and through
# sendmail(1).  Each delivered copy, kept or split, must carry exactly the
# submitted header fields and body octets apart from the trace and
# signature fields at the top and the headers the milter removes or adds
# (samebytes.py); each must verify with dkimpy; the quarantine spool copy
# must be the message exactly as submitted.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-samebytes

# E2E_CHANNEL=1: the split copies go over the ResubmitAddress channel
# (one SMTP connection, dot-stuffed on the wire) instead of sendmail(1)
CH_PORT=$(e2e_free_port)
[ "${E2E_CHANNEL:-0}" = 1 ] && CH="ResubmitAddress inet:$CH_PORT@127.0.0.1"
optin_start "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem" ${CH:+"$CH"}
[ -z "${CH:-}" ] || optin_channel "$CH_PORT" ||
    { e2e_fail "channel listener starts"; e2e_done; }
optin_records "$PF_BASE/records"
M=$PF_BASE/msgs
mkdir -p "$M"

# craft NAME - write a crafted message body (after the common header) from
# stdin to $M/NAME.craft; the common header is added by stamp
H='From: News <news@example.com>\r\nTo: ann@example.com\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\nX-Campaign-List: news\r\n'
craft()
{
	{ printf "$H"; cat; } > "$M/$1.craft"
}
printf 'Subject:\r\n folded right after the colon\r\nList-Unsubscribe:\r\n <https://crm.example.com/u/1>\r\n\r\nHello.\r\n' |
    craft fold-colon
printf 'Subject:\tTab after the colon\r\nX-Tabs:\t\ttwo tabs\r\n\tand a tab fold\r\nComments: \t mixed \t \r\n\r\nTabs\there.\r\n' |
    craft tabs
printf 'Subject: empty values\r\nX-Empty:\r\nX-Empty-Space: \r\nKeywords:  two spaces\r\nX-No-Space:value\r\nX-Dup: 1\r\nX-Dup:  2\r\n\r\nBody.\r\n' |
    craft empty-values
printf 'Subject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe, \xc3\x84\xc3\x96\xc3\x9c \xe2\x82\xac\r\n' |
    craft 8bit
# (no bare CR: Postfix itself turns one into a space, in every copy)
printf 'Subject: body edges\r\n\r\n\r\n\r\nstarts with empty lines\r\n.\r\n..two dots\r\n.leading dot\r\ntrailing spaces   \r\ntrailing tab\t\r\n\r\n\r\n' |
    craft body-edges
printf 'Subject: empty body\r\n\r\n' | craft empty-body
printf 'Subject: header only, no empty line\r\n' | craft header-only
printf 'Subject: no final newline\r\n\r\nfirst line\r\nlast line without end' |
    craft no-final-newline
printf 'Subject: long but legal\r\nX-Long: %s\r\n %s\r\n\r\n%s\r\nend\r\n' \
    "$(head -c 980 /dev/zero | tr '\0' a)" "$(head -c 997 /dev/zero | tr '\0' b)" \
    "$(head -c 998 /dev/zero | tr '\0' c)" | craft long-legal
printf 'Subject: two List-Unsubscribe\r\nList-Unsubscribe: <https://crm.example.com/u/1>\r\nX-Mid: kept\r\nList-Unsubscribe: <mailto:u@crm.example.com>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nx\r\n' |
    craft two-lu

# stamp SRC PATH N - SRC in SMTP form with a Message-ID naming PATH and N
# on top (any Message-ID of its own removed); other bytes unchanged
stamp()
{
	"$PY" - "$1" "$2" "$3" <<'EOP'
import re, sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
i = d.find(b"\r\n\r\n")
head, rest = (d[:i + 2], d[i + 2:]) if i >= 0 else (d, b"")
fields = re.findall(rb"[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", head)
tail = head[len(b"".join(fields)):]
fields = [f for f in fields if not f.lower().startswith(b"message-id:")]
mid = b"Message-ID: <sb-%s-%s@test.example>\r\n" % (sys.argv[2].encode(), sys.argv[3].encode())
sys.stdout.buffer.write(mid + b"".join(fields) + tail + rest)
EOP
}

names=""
for f in "$OPTIN_CORPUS"/*.eml "$OPTIN_CORPUS"/*.msg \
    "$OPTIN_CORPUS"/*.message "$OPTIN_CORPUS"/*.txt "$M"/*.craft; do
	[ -f "$f" ] || continue
	optin_two_from "$f" && continue		# refused: t-signsafe.sh
	n=$(basename "$f"); n=${n%.*}
	names="$names $n"
	stamp "$f" smtp "$n" > "$M/$n.smtp"
	stamp "$f" sm "$n" > "$M/$n.sm"
	pf_send news@example.com ann@example.com,bob@example.com,frank@example.com \
	    "$M/$n.smtp" >/dev/null || e2e_fail "$n: sent over SMTP"
	pf_sendmail -i -f news@example.com ann@example.com frank@example.com \
	    < "$M/$n.sm" || e2e_fail "$n: sent through sendmail(1)"
done
pf_wait_empty 180 || e2e_fail "queue empties"

DIFF="--removed List-Unsubscribe --removed List-Unsubscribe-Post
    --removed X-Campaign-ID --removed X-Campaign-List --removed X-Optin-Split
    --added List-Unsubscribe --added List-Unsubscribe-Post --added List-Id"
"$PY" "$E2E_TOP/tests/e2e/samebytes.py" --index "$SINK_DIR" > "$PF_BASE/index"
mkdir -p "$PF_BASE/raw"
for n in $names; do
	for p in smtp sm; do
		copies=$(awk -F'\t' -v m="<sb-$p-$n@test.example>" \
		    '$1 == m { print $2 "\t" $3 }' "$PF_BASE/index" | sort)
		e2e_check_eq "$n ($p): one copy each to ann and frank" \
		    "$(cut -f1 <<<"$copies" | tr '\n' ' ')" \
		    "ann@example.com frank@example.com "
		while IFS=$'\t' read -r r f; do
			[ -n "$f" ] || continue
			case $r in ann@*) what="kept copy" ;; *) what="split copy" ;; esac
			raw=$PF_BASE/raw/$n.$p.${r%%@*}
			sink_raw "$f" > "$raw"
			out=$("$PY" "$E2E_TOP/tests/e2e/samebytes.py" $DIFF \
			    "$M/$n.$p" "$raw" 2>&1)
			e2e_check_eq "$n ($p): $what has the submitted bytes" "$out" same
		done <<<"$copies"
	done
	spool=$(optin_sql "select spool_file from quarantine where message_id = '<sb-smtp-$n@test.example>' and recipient = 'bob@example.com'")
	if [ -n "$spool" ]; then
		out=$("$PY" "$E2E_TOP/tests/e2e/samebytes.py" "$M/$n.smtp" \
		    "$OPTIN_DIR/quarantine/$spool" 2>&1)
		e2e_check_eq "$n: quarantine copy has the submitted bytes" "$out" same
	else
		e2e_fail "$n: quarantined for bob"
	fi
done
# every delivered copy's signature verifies (one dkimpy run for all)
"$PY" "$E2E_TOP/tests/unit/dkim_verify.py" "$PF_BASE/records" 1 \
    "$PF_BASE"/raw/* > "$PF_BASE/verify.out" 2>&1
e2e_check_eq "copies whose DKIM signature fails dkimpy" \
    "$(grep '^RESULT .* FAIL$' "$PF_BASE/verify.out" | sed 's|.*/||; s| FAIL||' | tr '\n' ' ')" ""
e2e_check_eq "copies checked with dkimpy" \
    "$(grep -c '^RESULT ' "$PF_BASE/verify.out")" "$(ls "$PF_BASE/raw" | wc -l)"
e2e_done
