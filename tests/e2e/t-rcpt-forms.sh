#!/bin/bash
# t-rcpt-forms.sh - every recipient the milter removes is really removed
# (issue 10, item 0a), through the real Postfix, for every address form
# Postfix rewrites: source routes, a trailing dot in the domain, a quoted
# local part, case differences, a bang path, a bare local part and no angle
# brackets; over SMTP (each RCPT argument sent byte for byte) and through
# sendmail(1) (non_smtpd_milters, where the milter sees the address after
# Postfix rewrote it).  Each message also goes to an opted-in person (ann),
# so the blocked copy cannot simply be discarded.  Asserts exactly who got a
# copy of each message, one recipient per copy, the token of each copy, and
# the exact quarantine rows of each message.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-rcpt-forms

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup || { e2e_fail "consent database set up"; e2e_done; }
CONF=$OPTIN_DIR/optin-milter.conf
milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }
e2e_ok "postfix, milter and sink start"

# msg N - a small campaign message with Message-ID <forms-N@test.example>
msg()
{
	printf '%s\r\n' "From: News <news@example.com>" "To: you" \
	    "Subject: forms $1" "Date: $(date -R)" \
	    "Message-ID: <forms-$1@test.example>" "" "forms $1" \
	    > "$PF_BASE/m$1.eml"
}

# smtp N RCPT-ARG... - send message N over SMTP, arguments verbatim
smtp()
{
	local n=$1
	shift
	msg "$n"
	"$PY" "$E2E_HERE/smtp_raw.py" "$PF_PORT" '<news@example.com>' \
	    "$PF_BASE/m$n.eml" "$@" >> "$PF_BASE/smtp.log" 2>&1
}

# sm N RCPT... - send message N through sendmail(1)
sm()
{
	local n=$1
	shift
	msg "$n"
	pf_sendmail -i -f news@example.com -- "$@" < "$PF_BASE/m$n.eml"
}

# got N - envelope recipients of every delivered copy of message N, sorted,
# space-separated
got()
{
	local f
	for f in $(sink_find Message-ID "<forms-$1@test.example>"); do
		sink_rcpts "$f"
	done | sort | tr '\n' ' ' | sed 's/ $//'
}

# rows N - quarantine rows of message N: "recipient=reason", sorted
rows()
{
	optin_sql "select recipient || '=' || reason from quarantine where message_id = '<forms-$1@test.example>' order by 1" |
	    tr '\n' ' ' | sed 's/ $//'
}

# cases: number, how, what ann and bob are given as; want: who gets a copy,
# which quarantine rows.  bob@example.com has opted out; ann and frank
# have opted in; dave was never seen.
CASES=(
"1|smtp|<ann@example.com>|<@relay.example:bob@example.com>"
"2|smtp|<ann@example.com>|<@a.example,@b.example:bob@example.com>"
"3|smtp|<ann@example.com>|<bob@example.com.>"
"4|smtp|<ann@example.com>|<\"bob\"@example.com>"
"5|smtp|<ann@example.com>|<BOB@EXAMPLE.COM>"
"6|smtp|<ann@example.com>|<Bob@Example.Com.>"
"7|smtp|<ann@example.com>|bob@example.com"
"8|smtp|<ann@example.com>|<example.com!bob>"
"9|smtp|<@relay.example:ann@example.com>|<bob@example.com>"
"10|smtp|<ann@example.com>|<\"bob\"@example.com>|<bob@example.com>"
"11|smtp|<ann@example.com>|<\"ann\"@example.com>|<bob@example.com>"
"12|smtp|<ann@example.com>|<FRANK@EXAMPLE.COM.>|<@relay.example:bob@example.com>"
"21|sm|ann@example.com|@relay.example:bob@example.com"
"22|sm|ann@example.com|bob@example.com."
"23|sm|ann@example.com|\"bob\"@example.com"
"24|sm|ann@example.com|BOB@EXAMPLE.COM"
"25|sm|ann@example.com|bob@Example.Com."
"26|sm|ann@example.com|example.com!bob"
"27|sm|ann@example.com|dave"
"28|sm|ann@example.com|Bob <bob@example.com>"
"29|sm|@relay.example:ann@example.com|bob@example.com."
"30|sm|ann@example.com|frank@example.com.|bob@example.com."
)
# delivered copies and quarantine rows each case must end with
declare -A WANT_TO WANT_Q
for n in 1 2 3 4 5 6 7 21 22 23 24 28; do
	WANT_TO[$n]="ann@example.com"
	WANT_Q[$n]="bob@example.com=opted_out"
done
WANT_TO[8]="ann@example.com";  WANT_Q[8]="<example.com!bob>=no_consent"
WANT_TO[9]="ann@example.com";  WANT_Q[9]="bob@example.com=opted_out"
# bob twice, in two spellings of one mailbox: one quarantine row (a row
# per person and message, the split hand-over records)
WANT_TO[10]="ann@example.com"; WANT_Q[10]="bob@example.com=opted_out"
# ann twice, in two spellings of one mailbox: one copy
WANT_TO[11]="ann@example.com"; WANT_Q[11]="bob@example.com=opted_out"
WANT_TO[12]="FRANK@EXAMPLE.COM ann@example.com"
WANT_Q[12]="bob@example.com=opted_out"
# sendmail(1): the milter sees what Postfix made of the address
WANT_TO[25]="ann@example.com"; WANT_Q[25]="bob@example.com=opted_out"
WANT_TO[26]="ann@example.com"; WANT_Q[26]="bob@example.com=opted_out"
WANT_TO[27]="ann@example.com"; WANT_Q[27]="dave@relay.example.test=no_consent"
WANT_TO[29]="ann@example.com"; WANT_Q[29]="bob@example.com=opted_out"
WANT_TO[30]="ann@example.com frank@example.com"
WANT_Q[30]="bob@example.com=opted_out"

for c in "${CASES[@]}"; do
	IFS='|' read -r -a f <<<"$c"
	n=${f[0]}
	if [ "${f[1]}" = smtp ]; then
		smtp "$n" "${f[@]:2}"
	else
		sm "$n" "${f[@]:2}"
	fi
	e2e_check_eq "case $n: accepted" "$?" 0
done
pf_wait_empty 120 || e2e_fail "queue empties"

for c in "${CASES[@]}"; do
	IFS='|' read -r -a f <<<"$c"
	n=${f[0]}
	label="case $n (${f[1]}: ${f[*]:2})"
	e2e_check_eq "$label: delivered to" "$(got "$n")" "${WANT_TO[$n]}"
	e2e_check_eq "$label: quarantine rows" "$(rows "$n")" "${WANT_Q[$n]}"
done

# every delivered copy: one recipient, carrying that recipient's token
e2e_check_eq "delivered copies, each with List-Unsubscribe" \
    "$(sink_count) $(for f in $(sink_messages); do
	sink_header "$f" List-Unsubscribe; done | grep -c .)" "24 24"
e2e_check_eq "copies with two recipients or someone else's token" \
    "$(optin_bad_tokens)" ""
e2e_check "blocked-recipient copies never reached bob" \
    test -z "$(sink_files_for_rcpt bob@example.com)"
e2e_done
