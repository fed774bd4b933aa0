#!/bin/bash
# t-unsub-mailto.sh - unsubscribe by mail through the real Postfix: a
# campaign is delivered to the sink with List-Unsubscribe; mail from the
# recipient to the mailto address taken from that header records the
# opt-out (consent_events source mailto) and is discarded, so nothing reaches
# the sink for that address; the next campaign is quarantined as opted_out.
# Mail to unsubscribe+GARBAGE@ and to a tampered token is refused by Postfix
# at RCPT with 550 5.1.1 (swaks transcript and maillog) and records nothing.
# A request sent together with an ordinary recipient: the ordinary copy is
# delivered, the unsubscribe address is removed, the opt-out recorded.  A
# request written with a source route and a root dot is one too.  No token
# ever appears in the milter's log.

. "$(dirname "$0")/lib.sh"
e2e_init t-unsub-mailto
. "$(dirname "$0")/optin-setup.sh"

optin_need_built "$OPTIN_MILTER" "$OPTINCTL"

# HTTP_PORT: nothing listens, the URL only goes in the header
optin_unsub_setup t-unsub-mailto

optin_ctl init && optin_ctl list add news && optin_ctl list add promo &&
    optin_ctl subscribe ann@example.com news &&
    optin_ctl subscribe ann@example.com promo && optin_ctl token newkey
optin_ctl_ok $? "optinctl builds the database and the token key"

milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }
e2e_ok "milter, postfix and sink start"

# msg FILE FROM TO SUBJECT - write a small message
msg()
{
	printf '%s\r\n' "From: $2" "To: $3" "Subject: $4" "Date: $(date -R)" \
	    "Message-ID: <mailto-$(basename "$1" .eml).$$@example.com>" \
	    "MIME-Version: 1.0" "Content-Type: text/plain; charset=utf-8" "" \
	    "$4" > "$1"
}

# send_req LABEL TO[,TO] - ann sends an unsubscribe request; sets SEND_RC
# and SEND_OUT (this send's swaks transcript)
send_req()
{
	local f=$PF_BASE/req-$1.eml before
	msg "$f" "Ann <ann@example.com>" "$2" "unsubscribe"
	before=$(wc -l < "$PF_BASE/swaks.log" 2>/dev/null || echo 0)
	pf_send ann@example.com "$2" "$f" >/dev/null
	SEND_RC=$?
	SEND_OUT=$(tail -n "+$((before + 1))" "$PF_BASE/swaks.log")
}

# ere STRING - STRING quoted for grep -E
ere()
{
	printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'
}

mailto_events()
{
	optin_q "SELECT count(*) FROM consent_events WHERE source='mailto'"
}

news_status()
{
	optin_q "SELECT status FROM subscriptions WHERE address='ann@example.com' AND list_id='news'"
}

# ---------------------------------------------------------------- campaign 1
msg "$PF_BASE/c1.eml" "Example Shop <news@example.com>" "ann@example.com" \
    "Mailto News 1"
pf_send news@example.com ann@example.com "$PF_BASE/c1.eml" >/dev/null
e2e_check_eq "campaign 1 accepted" "$?" 0
pf_wait_empty 30
sink_wait_count 1 20
f=$(sink_find Subject "Mailto News 1" | head -n 1)
if [ -z "$f" ]; then
	e2e_fail "campaign 1 delivered"
	cat "$MILTER_LOG" >&2
	e2e_done
fi
e2e_ok "campaign 1 delivered"
LU=$(sink_header "$f" List-Unsubscribe)
e2e_log "List-Unsubscribe: $LU"
# <mailto:ADDR?subject=unsubscribe>; white space inside <> is folding
MAILTO=$(printf '%s' "$LU" | tr -d ' \t' | grep -o '<mailto:[^>]*>' |
    head -n 1 | sed 's/^<mailto://; s/>$//')
ADDR=${MAILTO%%\?*}
TOKEN=${ADDR#unsubscribe+}
TOKEN=${TOKEN%@example.com}
case $ADDR in
unsubscribe+?*@example.com)
	e2e_ok "List-Unsubscribe has the mailto address" ;;
*)
	e2e_fail "List-Unsubscribe has the mailto address" "got '$MAILTO'"
	e2e_done ;;
esac
e2e_check_eq "mailto asks for subject unsubscribe" "${MAILTO#*\?}" \
    "subject=unsubscribe"
e2e_check "mailto and http URL carry the same token" \
    grep -qF "/u/$TOKEN>" <<<"$(printf '%s' "$LU" | tr -d ' \t')"
"$OPTINCTL" -c "$CONF" token check "$TOKEN" >"$PF_BASE/token-check.out" 2>&1
e2e_check_eq "optinctl accepts the token" "$?" 0
e2e_check "optinctl: the token is ann's, for news" \
    grep -qx 'recipient: ann@example.com' "$PF_BASE/token-check.out" &&
    grep -qx 'list: news' "$PF_BASE/token-check.out"

# ---------------------------------------------------------------- bad tokens
n_sink=$(sink_count)
for bad in GARBAGE tampered; do
	if [ "$bad" = tampered ]; then
		# one changed character in the middle of the real token
		i=$(( ${#TOKEN} / 2 ))
		ch=${TOKEN:$i:1}
		[ "$ch" = A ] && ch=B || ch=A
		to="unsubscribe+${TOKEN:0:$i}$ch${TOKEN:$((i + 1))}@example.com"
	else
		to=unsubscribe+GARBAGE@example.com
	fi
	send_req "$bad" "$to"
	e2e_check "$bad token: swaks fails" test "$SEND_RC" -ne 0
	e2e_check "$bad token: 550 5.1.1 at RCPT (swaks)" \
	    grep -qE '^ *<\*\* +550 5\.1\.1 ' <<<"$SEND_OUT"
	e2e_check "$bad token: maillog milter-reject 550 5.1.1" \
	    pf_log_wait "milter-reject: RCPT from [^ ]+: 550 5\.1\.1 .*to=<$(ere "$to")>" 10
done
pf_wait_empty 10
e2e_check_eq "bad tokens: no mailto event recorded" "$(mailto_events)" 0
e2e_check_eq "bad tokens: ann still opted in to news" "$(news_status)" opted_in
e2e_check_eq "bad tokens: nothing delivered" "$(sink_count)" "$n_sink"

# ---------------------------------------------------------------- valid
send_req valid "$ADDR"
e2e_check_eq "valid request accepted by postfix" "$SEND_RC" 0
pf_wait_empty 30
e2e_check "valid request: maillog milter-discard" \
    pf_log_wait 'milter-discard: END-OF-MESSAGE from .*to=<unsubscribe\+' 10
e2e_check_eq "valid request: ann opted out of news" "$(news_status)" opted_out
e2e_check_eq "valid request: one mailto event for news, from 127.0.0.1" \
    "$(optin_q "SELECT count(*)||'|'||event||'|'||remote_addr FROM consent_events WHERE address='ann@example.com' AND list_id='news' AND source='mailto' GROUP BY event, remote_addr")" \
    "1|opted_out|127.0.0.1"
e2e_check "valid request: evidence names the envelope sender" \
    grep -qF 'mail_from=<ann@example.com>' \
    <<<"$(optin_q "SELECT evidence FROM consent_events WHERE source='mailto' AND list_id='news'")"
e2e_check_eq "valid request: promo untouched" \
    "$(optin_q "SELECT status FROM subscriptions WHERE address='ann@example.com' AND list_id='promo'")" \
    opted_in
e2e_check_eq "valid request: nothing delivered to the unsubscribe address" \
    "$(sink_files_for_rcpt "$ADDR" | grep -c .)" 0
e2e_check_eq "valid request: nothing delivered at all" "$(sink_count)" "$n_sink"

# ---------------------------------------------------------------- campaign 2
msg "$PF_BASE/c2.eml" "Example Shop <news@example.com>" "ann@example.com" \
    "Mailto News 2"
pf_send news@example.com ann@example.com "$PF_BASE/c2.eml" >/dev/null
e2e_check_eq "campaign 2 accepted" "$?" 0
pf_wait_empty 30
e2e_wait_for 10 test -n "$(optin_q "SELECT 1 FROM quarantine WHERE recipient='ann@example.com' AND reason='opted_out'")"
e2e_check_eq "campaign 2 quarantined as opted_out" \
    "$(optin_q "SELECT count(*)||'|'||list_id FROM quarantine WHERE recipient='ann@example.com' AND reason='opted_out' GROUP BY list_id")" \
    "1|news"
e2e_check_eq "campaign 2 not delivered" \
    "$(sink_find Subject "Mailto News 2" | grep -c .)" 0

# ---------------------------------------------------------------- mixed
# a request for promo sent together with an ordinary recipient
PROMO=$("$OPTINCTL" -c "$CONF" token issue ann@example.com promo 2>>"$PF_BASE/ctl.log" |
    tail -n 1)
PADDR=unsubscribe+$PROMO@example.com
n_sink=$(sink_count)
send_req mixed "$PADDR,friend@example.org"
e2e_check_eq "mixed request accepted by postfix" "$SEND_RC" 0
pf_wait_empty 30
sink_wait_count $((n_sink + 1)) 10
e2e_check_eq "mixed: the ordinary recipient got one copy" \
    "$(sink_files_for_rcpt friend@example.org | grep -c .)" 1
e2e_check_eq "mixed: nothing delivered to the unsubscribe address" \
    "$(sink_files_for_rcpt "$PADDR" | grep -c .)" 0
e2e_check_eq "mixed: ann opted out of promo by mailto" \
    "$(optin_q "SELECT s.status||'|'||e.source FROM subscriptions s JOIN consent_events e ON e.address=s.address AND e.list_id=s.list_id AND e.event='opted_out' WHERE s.address='ann@example.com' AND s.list_id='promo'")" \
    "opted_out|mailto"

# ---------------------------------------------------------------- forms
# a request written with a source route and a root dot, in a campaign that
# also goes to someone without consent: to Postfix both are the unsubscribe
# mailbox, so it is a request; the other copy is held
optin_ctl list add events && optin_ctl subscribe ann@example.com events
optin_ctl_ok $? "ann subscribed to events"
EVT=$("$OPTINCTL" -c "$CONF" token issue ann@example.com events 2>>"$PF_BASE/ctl.log" |
    tail -n 1)
msg "$PF_BASE/c3.eml" "Example Shop <news@example.com>" "you" "Mailto News 3"
n_sink=$(sink_count)
"$PY" "$E2E_HERE/smtp_raw.py" "$PF_PORT" '<news@example.com>' \
    "$PF_BASE/c3.eml" '<friend@example.org>' \
    "<@relay.example:unsubscribe+$EVT@example.com.>" >>"$PF_BASE/smtp.log"
e2e_check_eq "forms: accepted by postfix" "$?" 0
pf_wait_empty 30
e2e_check_eq "forms: ann opted out of events by mailto" \
    "$(optin_q "SELECT s.status||'|'||e.source FROM subscriptions s JOIN consent_events e ON e.address=s.address AND e.list_id=s.list_id AND e.event='opted_out' WHERE s.address='ann@example.com' AND s.list_id='events'")" \
    "opted_out|mailto"
e2e_check_eq "forms: nothing delivered" "$(sink_count)" "$n_sink"
e2e_check_eq "forms: the other recipient held as no_consent" \
    "$(optin_q "SELECT recipient||'='||reason FROM quarantine WHERE list_id='news' AND recipient != 'ann@example.com'")" \
    "friend@example.org=no_consent"

# ---------------------------------------------------------------- logs
# a token lets anyone change ann's subscriptions: the milter never logs
# one, in any case (Postfix does: optin-milter(8) says what to do)
for t in "$TOKEN" "$PROMO" "$EVT"; do
	e2e_check "milter log has no token ${t:0:8}..." \
	    test -z "$(grep -iF -- "$t" "$MILTER_LOG")"
done
e2e_check "the milter logs a masked unsubscribe address" \
    test -z "$(grep -F 'unsubscribe+' "$MILTER_LOG" | grep -vF 'unsubscribe+[token]@')"

if [ "$E2E_FAIL" -gt 0 ]; then
	echo "--- milter log" >&2
	tail -n 30 "$MILTER_LOG" >&2
fi
e2e_done
