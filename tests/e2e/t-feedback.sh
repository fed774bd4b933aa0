#!/bin/bash
# t-feedback.sh - bounces and complaints through a real Postfix (issue 12):
# a campaign goes out through the test Postfix and the milter, one copy per
# recipient, each with its personal bounce address as envelope sender
# (optinctl token bounce, until the milter sets it); the "remote" sink
# answers 550 5.1.1 for hard@, 550 5.7.1 for policy@ and 452 4.2.2 for
# soft@.  The DSNs Postfix itself writes come back through the transport
# map and the pipe(8) service of conf/ into optin-feedback.  Asserted: the
# exact suppressions (only hard@), the feedback rows with status and
# identity, that the next campaign quarantines only hard@; then a late DSN
# by SMTP from another host, an ARF complaint by SMTP, a DSN with a
# tampered token.
#
# optin-feedback runs as "nobody" (pipe(8) refuses root): the database
# directory belongs to nobody, and it reads its own copy of the token key
# (a key file must belong to its reader or root, mode 0600).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-feedback
FEEDBACK=$E2E_BUILD/optin-feedback
optin_need_built "$FEEDBACK"

sink_start --reply-rcpt '^hard@=550 5.1.1 <%a>: Recipient address rejected: User unknown in virtual mailbox table' \
    --reply-rcpt '^policy@=550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.example.org' \
    --reply-rcpt '^soft@=452 4.2.2 <%a>: Mailbox full' ||
	{ e2e_fail "sink starts"; e2e_done; }
optin_setup "BounceAddress bounce+%t@news.example.test" ||
	{ e2e_fail "consent database set up"; e2e_done; }
CONF=$OPTIN_DIR/optin-milter.conf
for a in hard policy soft ok late fbl; do
	"$OPTINCTL" -c "$CONF" subscribe "$a@remote.test" news >/dev/null &&
	"$OPTINCTL" -c "$CONF" confirm "$a@remote.test" news >/dev/null ||
		e2e_fail "subscribe $a"
done
# the pipe user reaches the database and a key of its own
chmod 0711 "$PF_BASE"
chown nobody "$OPTIN_DIR" "$OPTIN_DIR"/consent.db*
FBDIR=$PF_BASE/feedback
mkdir -m 0755 "$FBDIR"
install -m 0600 -o nobody "$OPTIN_DIR/token.keys" "$FBDIR/token.keys"
cat > "$FBDIR/feedback.conf" <<EOF
Syslog no
ConsentDB $OPTIN_DIR/consent.db
TokenKeyFile $FBDIR/token.keys
BounceAddress bounce+%t@news.example.test
UnsubscribeURL https://unsub.example.com/u/%t
UnsubscribeMailto unsubscribe+%t@example.com
SoftBounceLimit 3
EOF
chmod 0644 "$FBDIR/feedback.conf"

milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
# maximal_queue_lifetime 0: one try, so the 452 becomes a DSN at once
pf_start "$PF_BASE" "unix:$MILTER_SOCK" \
    "transport_maps = inline:{ bounce@news.example.test=optin-feedback: , fbl@news.example.test=optin-feedback: }" \
    "recipient_delimiter = +" "relay_domains = news.example.test" \
    "maximal_queue_lifetime = 0" "bounce_queue_lifetime = 0" ||
	{ e2e_fail "postfix starts"; e2e_done; }
# the service of conf/postfix-master-feedback.cf, with test paths
postconf -c "$PF_CONF" -M "optin-feedback/unix = optin-feedback unix - n n - 4 pipe flags=Rq user=nobody argv=$FEEDBACK -c $FBDIR/feedback.conf -f \${sender} -r \${recipient}"
pf_reload
e2e_ok "postfix, milter, sink and the optin-feedback service start"

q() { sqlite3 "$OPTIN_DIR/consent.db" "$1"; }
# campaign N RCPT - one campaign copy of "spring-N" to RCPT with its
# personal bounce address as envelope sender
campaign() {
	local n=$1 r=$2 from
	from=$("$OPTINCTL" -c "$CONF" token bounce "$r" news "spring$n") ||
		return 1
	cat > "$PF_BASE/c.$n.$r" <<EOF
From: News <news@example.com>
To: <$r>
Subject: Spring news $n
Message-ID: <spring$n.$r@example.com>
Date: Sat, 05 Dec 2026 03:00:00 +0000
X-Campaign-ID: spring$n
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello, spring is here.
EOF
	pf_send "$from" "$r" "$PF_BASE/c.$n.$r" >/dev/null
}
fb_rows() { q "SELECT count(*) FROM feedback"; }

for r in hard policy soft ok; do
	campaign 1 "$r@remote.test" || e2e_fail "send campaign 1 to $r"
done
e2e_check "three DSNs reach optin-feedback" e2e_wait_for 60 \
    test "$(fb_rows)" -ge 3
pf_wait_empty 30 >/dev/null 2>&1
e2e_check_eq "ok@ delivered" "$(sink_find Subject 'Spring news 1' | wc -l)" 1
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
    "$(q "SELECT 1 FROM consent_events WHERE address = 'hard@remote.test' AND event = 'suppressed' AND source = 'optin-feedback' AND evidence LIKE '%status=5.1.1%remote_mta=dns; 127.0.0.1%User unknown%'")"

# the next campaign: only hard@ is quarantined
q0=$(q "SELECT count(*) FROM quarantine")
for r in hard policy soft ok; do
	campaign 2 "$r@remote.test" || e2e_fail "send campaign 2 to $r"
done
e2e_check "campaign 2: three more DSNs" e2e_wait_for 60 \
    test "$(fb_rows)" -ge 5
pf_wait_empty 30 >/dev/null 2>&1
e2e_check_eq "campaign 2 quarantines only hard@" "$(q "SELECT recipient, reason FROM quarantine WHERE id > 0 ORDER BY id" | tail -n +$((q0 + 1)))" "hard@remote.test|suppressed"
e2e_check_eq "campaign 2: ok@ delivered" "$(sink_find Subject 'Spring news 2' | wc -l)" 1
e2e_check_eq "soft@ counted twice, not suppressed" "$(q "SELECT count(*) FROM feedback WHERE address = 'soft@remote.test' AND kind = 'soft_bounce'")|$(q "SELECT count(*) FROM suppressions WHERE address = 'soft@remote.test'")" "2|0"

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
e2e_check "late DSN reaches optin-feedback" e2e_wait_for 30 test "$(fb_rows)" -gt "$n"
e2e_check_eq "late DSN: suppressed" "$(q "SELECT reason FROM suppressions WHERE address = 'late@remote.test'")" hard_bounce

# a tampered token by SMTP: recorded, nobody
bad=$(echo "$late" | sed 's/bounce+\(.\)/bounce+\1x/')
n=$(fb_rows)
pf_send "" "$bad" "$PF_BASE/late.eml" >/dev/null
e2e_check "tampered DSN reaches optin-feedback" e2e_wait_for 30 test "$(fb_rows)" -gt "$n"
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
e2e_check "ARF reaches optin-feedback" e2e_wait_for 30 test "$(fb_rows)" -gt "$n"
e2e_check_eq "ARF: fbl@ opted out of news" "$(q "SELECT status FROM subscriptions WHERE address = 'fbl@remote.test' AND list_id = 'news'")|$(q "SELECT kind, identity FROM feedback ORDER BY id DESC LIMIT 1")" "opted_out|complaint|token:list_unsubscribe"
e2e_check_eq "nothing left in the queue" "$(pf_queue_count)" 0
e2e_check "no pipe failures logged" sh -c "! grep -E 'optin-feedback.*status=(bounced|deferred)' '$PF_LOG'"
e2e_done
