#!/bin/bash
# t-milter-down.sh - the milter dies while Postfix has mail in flight
# (DESIGN "Errors"): with milter_default_action = tempfail nothing is
# delivered without a decision and nothing is lost; once the milter is back
# the mail goes out correctly (quarantine and unsubscribe headers included).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-milter-down

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup || { e2e_fail "consent database set up"; e2e_done; }
milter_start "$OPTIN_DIR/optin-milter.conf" ||
	{ e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }

msg=$PF_BASE/campaign.eml
printf 'From: news@example.com\r\nSubject: while the milter was down\r\nMessage-ID: <down-1@example.com>\r\n\r\nhello\r\n' > "$msg"

# a first campaign proves the path works
pf_send news@example.com ann@example.com "$msg" >/dev/null
pf_wait_empty 30
e2e_check_eq "with the milter up: delivered" "$(sink_count)" 1

# the milter dies (SIGKILL: no goodbye); mail keeps coming in
kill -KILL "$MILTER_PID"
e2e_wait_for 10 sh -c "! kill -0 $MILTER_PID 2>/dev/null"
sed -i 's/<down-1@/<down-2@/' "$msg"
pf_send news@example.com ann@example.com,bob@example.com "$msg" >/dev/null
smtp_rc=$?
e2e_check "SMTP client told to try later (4xx)" \
    grep -qE '<\*\* +4[0-9][0-9] ' "$PF_BASE/swaks.log"
e2e_check "SMTP submission not accepted" test "$smtp_rc" != 0
sed -i 's/<down-2@/<down-3@/' "$msg"
pf_sendmail -i -f news@example.com ann@example.com bob@example.com < "$msg"
e2e_check "sendmail(1) submission accepted into the queue" test $? = 0
sleep 3
e2e_check_eq "nothing delivered while the milter is down" "$(sink_count)" 1
e2e_check "Postfix logged the milter failure" pf_log_has \
    '[Mm]ilter .*(unavailable|Connection refused|No such file)'
e2e_check "the sendmail message is still in Postfix" \
    sh -c "ls -R '$PF_QUEUE/maildrop' '$PF_QUEUE/incoming' '$PF_QUEUE/deferred' 2>/dev/null | grep -q '^[0-9A-F]'"

# the milter comes back: the kept message goes out, decided
milter_start "$OPTIN_DIR/optin-milter.conf" ||
	{ e2e_fail "milter restarts"; e2e_done; }
pf_flush
# pickup rescans maildrop on its own timer; nudge it
postqueue -c "$PF_CONF" -f 2>/dev/null
pf_wait_empty 90 || e2e_fail "queue empties after the milter is back"
sink_wait_count 2 30
f=$(sink_find Message-ID "<down-3@example.com>")
e2e_check_eq "kept message delivered once, to the allowed recipient only" \
    "$(for x in $f; do sink_rcpts "$x"; done | tr '\n' ' ')" "ann@example.com "
e2e_check "delivered with its unsubscribe header" \
    test -n "$(sink_header "$f" List-Unsubscribe)"
e2e_check_eq "the opted-out recipient quarantined" \
    "$(optin_sql "select recipient || '=' || reason from quarantine where message_id = '<down-3@example.com>'")" \
    "bob@example.com=opted_out"
e2e_check_eq "the refused SMTP message was never delivered" \
    "$(sink_find Message-ID '<down-2@example.com>' | wc -l)" 0
e2e_done
