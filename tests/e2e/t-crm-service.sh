#!/bin/bash
# t-crm-service.sh - the two master.cf services of conf/postfix-master-crm.cf
# (README "Deploying") in a real Postfix, with test ports and paths: the
# sample's lines are appended to master.cf with only the listen addresses,
# the milter socket, TLS/SASL and the sender map's path rewritten.  With the
# milter down, a password reset submitted on the applications' service is
# delivered (exact recipient and subject), a campaign on the CRM service is
# answered 451 and nothing of it is delivered, and the applications'
# service refuses the campaign sender (554 5.7.1 with the map's text).
# With the milter up again, the CRM service's campaign reaches exactly the
# opted-in recipient, the opted-out one is quarantined.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-crm-service
optin_start
CONF=$OPTIN_DIR/optin-milter.conf

CRM_PORT=$(e2e_free_port)
APP_PORT=$(e2e_free_port)
printf 'news@example.com\tREJECT campaign mail goes through the CRM service\n' \
    > "$PF_BASE/campaign_senders"
grep -v '^#' "$E2E_TOP/conf/postfix-master-crm.cf" | sed \
    -e "s|^127\.0\.0\.1:2525 inet n - y|127.0.0.1:$CRM_PORT inet n - n|" \
    -e "s|^submission inet n - y|127.0.0.1:$APP_PORT inet n - n|" \
    -e "s|unix:optin-milter/optin-milter.sock|unix:$MILTER_SOCK|" \
    -e 's|smtpd_tls_security_level=encrypt|smtpd_tls_security_level=none|' \
    -e 's|smtpd_sasl_auth_enable=yes|smtpd_sasl_auth_enable=no|' \
    -e 's|permit_sasl_authenticated,reject|permit_mynetworks,reject|' \
    -e "s|hash:/etc/postfix/campaign_senders|texthash:$PF_BASE/campaign_senders|" \
    >> "$PF_CONF/master.cf"
pf_reload
e2e_check "the CRM service listens" e2e_wait_port "$CRM_PORT" 20
e2e_check "the applications' service listens" e2e_wait_port "$APP_PORT" 20
e2e_check_eq "the CRM service names the milter, the other none" \
    "$(postconf -c "$PF_CONF" -P | grep -E "^127\.0\.0\.1:($CRM_PORT|$APP_PORT)/inet/smtpd_milters =" | sed "s/$CRM_PORT/CRM/; s/$APP_PORT/APP/; s/ *$//" | sort)" \
    "127.0.0.1:APP/inet/smtpd_milters =
127.0.0.1:CRM/inet/smtpd_milters = unix:$MILTER_SOCK"

msg() {
	cat <<EOM
From: $1
To: $2
Subject: $3
Message-ID: <$4@example.com>
Date: Sat, 05 Dec 2026 06:00:00 +0000

Hello.
EOM
}
msg "Shop <app@example.com>" "<reset@remote.test>" "Password reset" reset \
    > "$PF_BASE/reset.eml"
msg "News <news@example.com>" "<ann@example.com>, <bob@example.com>" \
    "December news" dec > "$PF_BASE/campaign.eml"

milter_stop
PF_PORT=$APP_PORT pf_send app@example.com reset@remote.test "$PF_BASE/reset.eml" >/dev/null
e2e_check_eq "milter down: the password reset is accepted" "$?" 0
pf_wait_empty 30 >/dev/null 2>&1
f=$(sink_find Message-ID "<reset@example.com>")
e2e_check_eq "milter down: the password reset is delivered" \
    "$(sink_rcpts "$f")|$(sink_header "$f" Subject)" "reset@remote.test|Password reset"

: > "$PF_BASE/swaks.log"
PF_PORT=$CRM_PORT pf_send news@example.com ann@example.com,bob@example.com \
    "$PF_BASE/campaign.eml" >/dev/null
e2e_check_eq "milter down: the CRM service answers 451" \
    "$(grep -oE '^<\** *451 [0-9.]+' "$PF_BASE/swaks.log" | head -1 | sed 's/^<\** *//')" "451 4.7.1"
: > "$PF_BASE/swaks.log"
PF_PORT=$APP_PORT pf_send news@example.com ann@example.com "$PF_BASE/campaign.eml" >/dev/null
e2e_check_eq "the applications' service refuses the campaign sender" \
    "$(grep -oE '554 5\.7\.1 <news@example\.com>: Sender address rejected: .*' "$PF_BASE/swaks.log" | head -1)" \
    "554 5.7.1 <news@example.com>: Sender address rejected: campaign mail goes through the CRM service"
e2e_check_eq "nothing of the campaign delivered" \
    "$(sink_find Message-ID "<dec@example.com>" | wc -l)" 0

milter_start "$CONF" || { e2e_fail "milter starts again"; e2e_done; }
PF_PORT=$CRM_PORT pf_send news@example.com ann@example.com,bob@example.com \
    "$PF_BASE/campaign.eml" >/dev/null
e2e_check_eq "milter up: the CRM service accepts the campaign" "$?" 0
pf_wait_empty 30 >/dev/null 2>&1
e2e_check_eq "milter up: only ann@ gets it, with her unsubscribe link" \
    "$(for f in $(sink_find Message-ID "<dec@example.com>"); do sink_rcpts "$f"; optin_token_rcpt "$f"; done | paste -sd'|')" \
    "ann@example.com|ann@example.com"
e2e_check_eq "milter up: bob@ quarantined as opted_out" \
    "$(optin_sql "select recipient, reason from quarantine where message_id = '<dec@example.com>'")" \
    "bob@example.com|opted_out"
e2e_done
