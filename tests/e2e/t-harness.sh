#!/bin/bash
# t-harness.sh - self-test of the end-to-end harness, no milter: a private
# Postfix relays corpus messages (SMTP and sendmail(1)) to the sink; each
# must arrive exactly once, with the right envelope and its bytes intact.
# Also checks deferral, queue counting and the maillog.

. "$(dirname "$0")/lib.sh"
e2e_init t-harness

for f in ours_transactional_reset.eml ours_crm_campaign_html.eml \
    ours_newsletter_multipart.eml; do
	if [ ! -f "$OPTIN_CORPUS/$f" ]; then
		e2e_fail "corpus file $f" "not found in $OPTIN_CORPUS (set OPTIN_CORPUS)"
		e2e_done
	fi
done

sink_start --tempfail-rcpt '^defer@' || { e2e_fail "sink starts"; e2e_done; }
pf_start "$PF_BASE" "" || { e2e_fail "postfix starts"; e2e_done; }
e2e_ok "postfix and sink start"

# tail_is FILE STORED - true if STORED's bytes end with FILE's bytes (CRLF)
tail_is()
{
	"$PY" -c 'import sys
want = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
got = open(sys.argv[2], "rb").read()
sys.exit(0 if got.endswith(want) else 1)' "$1" "$2"
}

# check_one LABEL MSGID WANT_FROM WANT_RCPTS ORIGINAL - one stored copy with
# this Message-ID, envelope as given, original bytes intact at its end
check_one()
{
	local label=$1 msgid=$2 from=$3 rcpts=$4 orig=$5 files n f raw
	files=$(sink_find Message-ID "$msgid")
	n=$(printf '%s' "$files" | grep -c .)
	e2e_check_eq "$label: delivered exactly once" "$n" 1
	[ "$n" = 1 ] || return
	f=$files
	e2e_check_eq "$label: envelope sender" "$(sink_from "$f")" "$from"
	e2e_check_eq "$label: envelope recipients" \
	    "$(sink_rcpts "$f" | sort | tr '\n' ' ')" "$rcpts"
	raw=$PF_BASE/raw.$$
	sink_raw "$f" > "$raw"
	e2e_check "$label: message bytes intact" tail_is "$orig" "$raw"
	e2e_check_eq "$label: Postfix prepended its Received" \
	    "$(head -c 10 "$raw")" "Received: "
	rm -f "$raw"
}

C=$OPTIN_CORPUS

# 1-3: three corpus messages over SMTP, one with two recipients
qid1=$(pf_send no-reply@shop.example.com optedout.customer@example.net \
    "$C/ours_transactional_reset.eml")
e2e_check_eq "swaks 1 queued" "$?:$([ -n "$qid1" ] && echo id)" "0:id"
qid2=$(pf_send campaigns@crm.example.com sam.reader@example.org \
    "$C/ours_crm_campaign_html.eml")
e2e_check_eq "swaks 2 queued" "$?:$([ -n "$qid2" ] && echo id)" "0:id"
qid3=$(pf_send news@shop.example.com reader@example.net,second@example.com \
    "$C/ours_newsletter_multipart.eml")
e2e_check_eq "swaks 3 queued" "$?:$([ -n "$qid3" ] && echo id)" "0:id"

# 4: sendmail(1) with LF line ends, a leading dot, 8-bit UTF-8 and
# trailing white space; and 5: the same bytes over SMTP (dot-stuffing)
own=$PF_BASE/own.eml
printf '%s\n' "From: Harness <harness@example.com>" \
    "To: local-submit@example.org" "Subject: harness sendmail" \
    "Date: Thu, 19 Nov 2026 08:15:42 +0000" \
    "Message-ID: <harness-sendmail@example.com>" "MIME-Version: 1.0" \
    "Content-Type: text/plain; charset=utf-8" \
    "Content-Transfer-Encoding: 8bit" "" \
    ".a line that starts with a dot" ".." "Grüße aus Köln – ünïcödé" \
    "trailing space   " "" "" "last line" > "$own"
pf_sendmail -i -f harness@example.com local-submit@example.org < "$own"
e2e_check_eq "sendmail exit status" "$?" 0
sed 's/harness-sendmail@/harness-smtp@/' "$own" > "$own.smtp"
pf_send harness@example.com dots@example.org "$own.smtp" >/dev/null
e2e_check_eq "swaks dot-stuffed message queued" "$?" 0

# 6: a recipient the sink defers stays queued
pf_send harness@example.com defer@example.org "$own.smtp" >/dev/null

e2e_check "deferral logged" pf_log_wait 'to=<defer@example.org>.*status=deferred' 30
e2e_check "only the deferred message left in the queue" \
    e2e_wait_for 30 eval '[ "$(pf_queue_count)" -eq 1 ]'
e2e_check "pf_wait_empty times out while mail is deferred" \
    eval '! pf_wait_empty 2 2>/dev/null'

check_one "transactional" "<reset-7f3a9c@shop.example.com>" \
    no-reply@shop.example.com "optedout.customer@example.net " \
    "$C/ours_transactional_reset.eml"
check_one "crm campaign" "<a1b2c3d4e5f6@crm.example.com>" \
    campaigns@crm.example.com "sam.reader@example.org " \
    "$C/ours_crm_campaign_html.eml"
check_one "newsletter, two recipients" \
    "<spring-2026.reader.0001@shop.example.com>" \
    news@shop.example.com "reader@example.net second@example.com " \
    "$C/ours_newsletter_multipart.eml"
check_one "sendmail(1)" "<harness-sendmail@example.com>" \
    harness@example.com "local-submit@example.org " "$own"
check_one "smtp dot-stuffing" "<harness-smtp@example.com>" \
    harness@example.com "dots@example.org " "$own.smtp"

e2e_check_eq "sink_rcpts_by_header" \
    "$(sink_rcpts_by_header Subject 'Reset your password')" \
    "optedout.customer@example.net"
e2e_check_eq "sink_files_for_rcpt" \
    "$(sink_files_for_rcpt second@example.com | wc -l)" 1
e2e_check_eq "sink_body of the transactional message" \
    "$(sink_body "$(sink_find Subject 'Reset your password')" | md5sum)" \
    "$(sed -n '/^\r$/,$p' "$C/ours_transactional_reset.eml" | tail -n +2 | md5sum)"
e2e_check "maillog names the queue ID with status=sent" \
    pf_log_has "^.* $qid1: to=<optedout.customer@example.net>.*status=sent"
e2e_check_eq "5 messages in the sink (6 sent, 1 deferred)" "$(sink_count)" 5

postsuper -c "$PF_CONF" -d ALL >/dev/null 2>&1
e2e_check "queue empty after postsuper -d ALL" pf_wait_empty 10

pf_stop
e2e_check_eq "pf_stop stops the master" "$(pf_master_pid)" ""

e2e_done
