#!/bin/bash
# t-feedback.sh - bounces and complaints through a real Postfix (issue 12):
# a campaign goes out from news@example.com through the test Postfix and
# the milter, which gives each copy its personal bounce address as envelope
# sender (smfi_chgfrom; sendmail -f for split copies), CFBL-Address and
# Feedback-ID in the DKIM-signed header set, and counts it in campaign_sent;
# the "remote" sink answers 550 5.1.1 for hard@ and gone@, 550 5.7.1 for
# policy@ and 452 4.2.2 for soft@.  The DSNs Postfix itself writes come back through the transport
# map and the pipe(8) service of conf/ into optin-feedback.  Asserted: the
# exact suppressions (only hard@), the feedback rows with status and
# identity, the sent counts, that dkimpy verifies a delivered copy whose h=
# has Feedback-ID and CFBL-Address, that the next campaign quarantines only
# hard@, that a split copy's DSN suppresses exactly gone@ and that a paused
# campaign stays queued until resumed; then a late DSN
# by SMTP from another host, an ARF complaint by SMTP, a DSN with a
# tampered token.
#
# optin-feedback runs as "nobody" (pipe(8) refuses root): the database
# directory belongs to nobody, and it reads its own copy of the token key
# (a key file must belong to its reader or root, mode 0600).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-feedback
optin_need_built "$E2E_BUILD/optin-feedback"

sink_start --reply-rcpt '^hard@=550 5.1.1 <%a>: Recipient address rejected: User unknown in virtual mailbox table' \
    --reply-rcpt '^policy@=550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.example.org' \
    --reply-rcpt '^soft@=452 4.2.2 <%a>: Mailbox full' \
    --reply-rcpt '^gone@=550 5.1.1 <%a>: Recipient address rejected: User unknown in virtual mailbox table' ||
	{ e2e_fail "sink starts"; e2e_done; }
optin_setup "BounceAddress bounce+%t@news.example.test" \
    "CFBLAddress fbl@news.example.test" "Domain example.com" \
    "Selector s2026" "KeyFile $PF_BASE/optin/rsa.pem" ||
	{ e2e_fail "consent database set up"; e2e_done; }
CONF=$OPTIN_DIR/optin-milter.conf
for a in hard policy soft ok late fbl gone; do
	"$OPTINCTL" -c "$CONF" subscribe "$a@remote.test" news >/dev/null &&
	"$OPTINCTL" -c "$CONF" confirm "$a@remote.test" news >/dev/null ||
		e2e_fail "subscribe $a"
done
optin_feedback_prepare "SoftBounceLimit 3" ||
	{ e2e_fail "optin-feedback's config"; e2e_done; }
milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
# maximal_queue_lifetime 0: one try, so the 452 becomes a DSN at once
pf_start "$PF_BASE" "unix:$MILTER_SOCK" \
    "maximal_queue_lifetime = 0" "bounce_queue_lifetime = 0" ||
	{ e2e_fail "postfix starts"; e2e_done; }
optin_feedback_route news.example.test ||
	{ e2e_fail "optin-feedback service"; e2e_done; }
e2e_ok "postfix, milter, sink and the optin-feedback service start"

q() { optin_sql "$1"; }
# campaign N RCPT... - one campaign message of "springN" to RCPTs from
# news@example.com; the milter sets the bounce address
campaign() {
	local n=$1 to
	shift
	to=$(printf '<%s>, ' "$@")
	cat > "$PF_BASE/c.$n.$1" <<EOF
From: News <news@example.com>
To: ${to%, }
Subject: Spring news $n
Message-ID: <spring$n.$1@example.com>
Date: Sat, 05 Dec 2026 03:00:00 +0000
X-Campaign-ID: spring$n
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello, spring is here.
EOF
	pf_send news@example.com "$(IFS=,; echo "$*")" "$PF_BASE/c.$n.$1" >/dev/null
}
# token_names TOKEN-CARRIER - "recipient|list" its token names
token_names() {
	local tok
	tok=$(printf '%s\n' "$1" | grep -oE '[A-Za-z0-9_-]{40,}' | head -1)
	"$OPTINCTL" -c "$CONF" token check "$tok" |
	    sed -n 's/^recipient: //p; s/^list: //p' | paste -sd'|'
}
fb_rows() { q "SELECT count(*) FROM feedback"; }
# fb_atleast N - are there N feedback rows?  (for e2e_wait_for: counted at
# each try)
fb_atleast() { test "$(fb_rows)" -ge "$1"; }

for r in hard policy soft ok; do
	campaign 1 "$r@remote.test" || e2e_fail "send campaign 1 to $r"
done
e2e_check "three DSNs reach optin-feedback" e2e_wait_for 60 \
    fb_atleast 3
pf_wait_empty 30 >/dev/null 2>&1
e2e_check_eq "ok@ delivered" "$(sink_find Subject 'Spring news 1' | wc -l)" 1
okmsg=$(sink_find Subject 'Spring news 1')
e2e_check_eq "ok@'s envelope sender names ok@, news, spring1" \
    "$(token_names "$(sink_from "$okmsg" | grep -E '^bounce\+[A-Za-z0-9_-]+@news\.example\.test$')")" \
    "ok@remote.test|news/spring1"
e2e_check_eq "ok@'s CFBL-Address" "$(sink_header "$okmsg" CFBL-Address)" \
    "fbl@news.example.test; report=arf"
e2e_check_eq "ok@'s Feedback-ID names ok@, news, spring1" \
    "$(sink_header "$okmsg" Feedback-ID | sed -E 's/^spring1:news:[A-Za-z0-9_-]{40,}:example\.com$/shape-ok/')|$(token_names "$(sink_header "$okmsg" Feedback-ID)")" \
    "shape-ok|ok@remote.test|news/spring1"
optin_records "$PF_BASE/records"
e2e_check "dkimpy verifies ok@'s copy" optin_verify "$PF_BASE/records" "$okmsg" 1
e2e_check_eq "h= has Feedback-ID and CFBL-Address" \
    "$(sink_header "$okmsg" DKIM-Signature | tr -d ' \t\r\n' | sed -n 's/.*;h=\([^;]*\).*/\1/p' | tr 'A-Z:' 'a-z\n' | grep -cxE 'feedback-id|cfbl-address')" 2
e2e_check_eq "sent counts" "$(q "SELECT campaign, list_id, sent FROM campaign_sent")" "spring1|news|4"
e2e_check_eq "feedback rows" "$(q "SELECT address, list_id, campaign, kind, status, identity, acted FROM feedback ORDER BY address")" \
"hard@remote.test|news|spring1|hard_bounce|5.1.1|bounce_token|1
policy@remote.test|news|spring1|policy_bounce|5.7.1|bounce_token|0
soft@remote.test|news|spring1|soft_bounce|4.2.2|bounce_token|0"
e2e_check_eq "reporting MTA is our Postfix" "$(q "SELECT DISTINCT reporting_mta FROM feedback")" "dns; relay.example.test"
e2e_check_eq "exactly one suppression: hard@" "$(q "SELECT address, reason FROM suppressions WHERE address LIKE '%@remote.test'")" "hard@remote.test|hard_bounce"
e2e_check_eq "soft count of soft@" "$(q "SELECT count(*) FROM feedback WHERE address = 'soft@remote.test' AND kind = 'soft_bounce'")" 1
e2e_check_eq "policy@ still opted in" "$(q "SELECT status FROM subscriptions WHERE address = 'policy@remote.test'")" opted_in
e2e_check_eq "no campaign paused" "$(q "SELECT count(*) FROM campaign_pauses")" 0
e2e_check "suppression event carries the DSN's evidence" test -n \
    "$(q "SELECT 1 FROM consent_events WHERE address = 'hard@remote.test' AND event = 'suppressed' AND source = 'optin-feedback' AND evidence LIKE '%status=5.1.1%remote_mta=_dns; 127.0.0.1%User unknown%'")"

# the next campaign: only hard@ is quarantined
q0=$(q "SELECT count(*) FROM quarantine")
for r in hard policy soft ok; do
	campaign 2 "$r@remote.test" || e2e_fail "send campaign 2 to $r"
done
e2e_check "campaign 2: three more DSNs" e2e_wait_for 60 \
    fb_atleast 5
pf_wait_empty 30 >/dev/null 2>&1
e2e_check_eq "campaign 2 quarantines only hard@" "$(q "SELECT recipient, reason FROM quarantine WHERE id > 0 ORDER BY id" | tail -n +$((q0 + 1)))" "hard@remote.test|suppressed"
e2e_check_eq "campaign 2: ok@ delivered" "$(sink_find Subject 'Spring news 2' | wc -l)" 1
e2e_check_eq "soft@ counted twice, not suppressed" "$(q "SELECT count(*) FROM feedback WHERE address = 'soft@remote.test' AND kind = 'soft_bounce'")|$(q "SELECT count(*) FROM suppressions WHERE address = 'soft@remote.test'")" "2|0"

# one message to ok@ and gone@: ok@'s copy is kept, gone@'s re-submitted
# with its own bounce address; the DSN of that copy suppresses only gone@
n=$(fb_rows)
campaign 3 ok@remote.test gone@remote.test || e2e_fail "send campaign 3"
e2e_check "campaign 3: gone@'s DSN" e2e_wait_for 60 fb_atleast $((n + 1))
pf_wait_empty 30 >/dev/null 2>&1
e2e_check_eq "campaign 3: the DSN names gone@ by its split copy's token" "$(q "SELECT address, list_id, campaign, kind, status, identity, acted FROM feedback ORDER BY id DESC LIMIT 1")" \
    "gone@remote.test|news|spring3|hard_bounce|5.1.1|bounce_token|1"
e2e_check_eq "suppressions: exactly hard@ and gone@" "$(q "SELECT address, reason FROM suppressions WHERE address LIKE '%@remote.test' ORDER BY address")" \
"gone@remote.test|hard_bounce
hard@remote.test|hard_bounce"
e2e_check_eq "campaign 3: ok@ delivered once" "$(sink_find Subject 'Spring news 3' | wc -l)" 1
e2e_check_eq "sent counts: each copy once" "$(q "SELECT campaign || '|' || sent FROM campaign_sent ORDER BY campaign")" \
"spring1|4
spring2|3
spring3|2"

# a paused campaign (as optin-feedback pauses it) is refused with 451
# (the application keeps it) until "optinctl campaign resume"
db_exec "$OPTIN_CONSENTDB" "INSERT INTO campaign_pauses VALUES ('spring4', 'test pause', $(date +%s))"
if campaign 4 ok@remote.test; then
	e2e_fail "campaign 4: accepted while paused"
else
	e2e_ok "campaign 4: refused while paused"
fi
e2e_check "campaign 4: 451 with the pause reason" grep -q \
    "451 4.7.1 campaign spring4 paused: test pause (optinctl campaign resume spring4)" "$PF_BASE/swaks.log"
"$OPTINCTL" -c "$CONF" campaign resume spring4 >/dev/null ||
	e2e_fail "optinctl campaign resume"
campaign 4 ok@remote.test || e2e_fail "campaign 4: accepted after resume"
delivered() { test -n "$(sink_find Subject "$1")"; }
e2e_check "campaign 4: delivered after resume" e2e_wait_for 60 \
    delivered "Spring news 4"

# a late DSN by SMTP from another host (null sender)
late=$("$OPTINCTL" -c "$CONF" token bounce late@remote.test news spring1)
cat > "$PF_BASE/late.eml" <<EOF
From: MAILER-DAEMON@mx.remote.test
To: $late
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="L"

--L
Content-Type: text/plain

Your message to late@remote.test could not be delivered.

--L
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.remote.test

Final-Recipient: rfc822; late@remote.test
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 mailbox gone

--L--
EOF
n=$(fb_rows)
pf_send "" "$late" "$PF_BASE/late.eml" >/dev/null
e2e_check "late DSN reaches optin-feedback" e2e_wait_for 30 fb_atleast $((n + 1))
e2e_check_eq "late DSN: suppressed" "$(q "SELECT reason FROM suppressions WHERE address = 'late@remote.test'")" hard_bounce

# a tampered token by SMTP: recorded, nobody
bad=$(echo "$late" | sed 's/bounce+\(.\)/bounce+\1x/')
n=$(fb_rows)
pf_send "" "$bad" "$PF_BASE/late.eml" >/dev/null
e2e_check "tampered DSN reaches optin-feedback" e2e_wait_for 30 fb_atleast $((n + 1))
e2e_check_eq "tampered DSN: nobody" "$(q "SELECT coalesce(address, '-'), identity, acted FROM feedback ORDER BY id DESC LIMIT 1")" "-|none|0"

# an ARF complaint by SMTP to the feedback-loop address
tok=$("$OPTINCTL" -c "$CONF" token issue fbl@remote.test news)
cat > "$PF_BASE/arf.eml" <<EOF
From: fbl@provider.test
To: fbl@news.example.test
Subject: FW: Spring news
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="A"

--A
Content-Type: text/plain

A complaint.

--A
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ProviderFBL/1.0
Version: 1

--A
Content-Type: message/rfc822

From: News <news@example.com>
To: redacted@provider.test
Subject: Spring news 1
List-Unsubscribe: <https://unsub.example.com/u/$tok>

Hello, spring is here.

--A--
EOF
n=$(fb_rows)
pf_send fbl@provider.test fbl@news.example.test "$PF_BASE/arf.eml" >/dev/null
e2e_check "ARF reaches optin-feedback" e2e_wait_for 30 fb_atleast $((n + 1))
e2e_check_eq "ARF: fbl@ opted out of news" "$(q "SELECT status FROM subscriptions WHERE address = 'fbl@remote.test' AND list_id = 'news'")|$(q "SELECT kind, identity FROM feedback ORDER BY id DESC LIMIT 1")" "opted_out|complaint|token:list_unsubscribe"
e2e_check_eq "nothing left in the queue" "$(pf_queue_count)" 0
e2e_check "no pipe failures logged" sh -c "! grep -E 'optin-feedback.*status=(bounced|deferred)' '$PF_LOG'"
# a split copy leaves with its personal bounce address, whose local part is
# longer than 64 octets: back through the milter, its split marker still
# verifies (it was refused as "not valid here" and the copy checked again)
e2e_check_eq "split copies' markers verify with a bounce address" \
    "$(grep -c 'X-Optin-Split header not valid here' "$MILTER_LOG")" 0
e2e_check "split copy logged with its new queue ID" grep -qE \
    '^[0-9A-Za-z]+: split copy of [0-9A-Za-z]+$' "$MILTER_LOG"
e2e_done
