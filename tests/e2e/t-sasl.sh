#!/bin/bash
# t-sasl.sh - CampaignAuthUsers through a real Postfix with Cyrus SASL
# (DESIGN "Message flow", item 1): the milter asks Postfix only for
# {client_addr}, i and {auth_authen} (smfi_setsymlist), and reads
# {auth_authen} at MAIL.  The same message, from a sender that is not in
# CampaignSenders, is sent three times:
#   - authenticated as a login listed in CampaignAuthUsers: campaign mail
#     (bob and dave quarantined, ann gets the unsubscribe headers, signed);
#   - authenticated as a login NOT listed: transactional, all three get it
#     untouched;
#   - unauthenticated: transactional, likewise;
#   - authenticated as a listed login in UTF-8 (jürgen): campaign mail (it
#     was matched in its logged form "j??rgen@...", and passed untouched).
# Postfix runs its own sasldb (auxprop) under PF_BASE, no chroot.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-sasl

for c in saslpasswd2 swaks; do
	command -v $c >/dev/null 2>&1 ||
	    { e2e_fail "$c installed (contrib/deps.sh)"; e2e_done; }
done
postconf -a 2>/dev/null | grep -qx cyrus ||
    { e2e_fail "postfix built with Cyrus SASL"; e2e_done; }

# Cyrus SASL for the private smtpd: sasldb with two logins.  Debian's
# Postfix (patch 07_sasl_config) reads smtpd.conf from $config_directory/sasl
# whatever cyrus_sasl_config_path says: the directory is both.
SASL_DIR=$PF_BASE/conf/sasl
mkdir -p -m 0755 "$PF_BASE/conf" "$SASL_DIR"
for u in campaigner:camp-secret other:other-secret jürgen:j-secret; do
	printf '%s' "${u#*:}" | saslpasswd2 -p -c -f "$SASL_DIR/sasldb2" \
	    -u example.test "${u%%:*}" ||
	    { e2e_fail "saslpasswd2 ${u%%:*}"; e2e_done; }
done
chown postfix:postfix "$SASL_DIR/sasldb2"
chmod 0600 "$SASL_DIR/sasldb2"
cat > "$SASL_DIR/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SASL_DIR/sasldb2
mech_list: PLAIN LOGIN
EOF

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "CampaignAuthUsers campaigner@example.test, jürgen@example.test" \
    "Domain example.com" "Selector s2026" "KeyFile $PF_BASE/optin/rsa.pem" ||
    { e2e_fail "consent database set up"; e2e_done; }
milter_start "$OPTIN_DIR/optin-milter.conf" ||
	{ e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" \
    "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = cyrus" \
    "smtpd_sasl_path = smtpd" "cyrus_sasl_config_path = $SASL_DIR" \
    "smtpd_sasl_local_domain = example.test" \
    "smtpd_sasl_security_options = noanonymous" ||
	{ e2e_fail "postfix starts"; e2e_done; }

RCPTS=ann@example.com,bob@example.com,dave@example.com
# send TAG [swaks auth options] - the message with Message-ID <sasl-TAG@...>
# from shop@shop.example (not a CampaignSenders entry) to ann, bob, dave
send()
{
	local tag=$1
	shift
	printf 'From: shop@shop.example\r\nTo: customers@shop.example\r\nSubject: sasl %s\r\nDate: Sat, 05 Dec 2026 18:00:00 +0000\r\nMessage-ID: <sasl-%s@shop.example>\r\nX-Campaign-List: news\r\n\r\nhello %s\r\n' \
	    "$tag" "$tag" "$tag" > "$PF_BASE/$tag.eml"
	pf_send shop@shop.example "$RCPTS" "$PF_BASE/$tag.eml" "$@"
}

# --- a listed login: campaign
qid=$(send listed --auth PLAIN --auth-user campaigner \
    --auth-password camp-secret)
e2e_check "listed login: accepted (queue id $qid)" test -n "$qid"
e2e_check "listed login: Postfix logged the SASL login" \
    pf_log_grep "$qid: client=.*sasl_method=PLAIN, sasl_username=campaigner@example.test"
pf_wait_empty 30
sink_wait_count 1 10
f=$(sink_find Message-ID "<sasl-listed@shop.example>")
e2e_check_eq "listed login: only ann receives it" \
    "$(for x in $f; do sink_rcpts "$x"; done | tr '\n' ' ')" "ann@example.com "
e2e_check "listed login: List-Unsubscribe added" \
    test -n "$(sink_header "$f" List-Unsubscribe)"
e2e_check_eq "listed login: List-Unsubscribe-Post added" \
    "$(sink_header "$f" List-Unsubscribe-Post)" "List-Unsubscribe=One-Click"
e2e_check_eq "listed login: List-Id added" \
    "$(sink_header "$f" List-Id)" "<news.lists.example.com>"
e2e_check_eq "listed login: the token names ann" "$(optin_token_rcpt "$f")" \
    ann@example.com
e2e_check "listed login: DKIM-signed" \
    test -n "$(sink_header "$f" DKIM-Signature)"
e2e_check_eq "listed login: quarantine rows" \
    "$(optin_sql "select recipient || '=' || reason from quarantine where message_id = '<sasl-listed@shop.example>' order by 1" | tr '\n' ' ')" \
    "bob@example.com=opted_out dave@example.com=no_consent "
e2e_check "listed login: milter's decision line" \
    grep -Eq "^$qid: campaign list=news from=<shop@shop.example> allowed=1 quarantined=2 \(opted_out=1 no_consent=1\)" \
    "$MILTER_LOG"

# --- the same message from a login that is not listed, and unauthenticated
# check_untouched TAG QID LABEL - delivered to all three, no header added
check_untouched()
{
	local tag=$1 qid=$2 label=$3 f
	pf_wait_empty 30
	f=$(sink_find Message-ID "<sasl-$tag@shop.example>")
	e2e_check_eq "$label: one copy to all three" \
	    "$(for x in $f; do sink_rcpts "$x"; done | sort | tr '\n' ' ')" \
	    "ann@example.com bob@example.com dave@example.com "
	e2e_check_eq "$label: body and headers untouched" \
	    "$(sink_raw "$f" | sed -n '/^From: /,$p' | tr -d '\r')" \
	    "$(sed -n '/^From: /,$p' "$PF_BASE/$tag.eml" | tr -d '\r')"
	e2e_check_eq "$label: no List-Unsubscribe, no signature" \
	    "$(sink_header "$f" List-Unsubscribe)$(sink_header "$f" DKIM-Signature)" ""
	e2e_check_eq "$label: no quarantine row" \
	    "$(optin_sql "select count(*) from quarantine where message_id = '<sasl-$tag@shop.example>'")" 0
	e2e_check "$label: no campaign line" \
	    sh -c "! grep -q '^$qid: campaign' '$MILTER_LOG'"
}

qid=$(send other --auth PLAIN --auth-user other --auth-password other-secret)
e2e_check "unlisted login: accepted (queue id $qid)" test -n "$qid"
e2e_check "unlisted login: Postfix logged the SASL login" \
    pf_log_grep "$qid: client=.*sasl_username=other@example.test"
check_untouched other "$qid" "unlisted login"

qid=$(send anon)
e2e_check "unauthenticated: accepted (queue id $qid)" test -n "$qid"
check_untouched anon "$qid" "unauthenticated"

# --- a listed login in UTF-8 (SASLprep allows it; Postfix passes it as is)
qid=$(send utf8 --auth PLAIN --auth-user jürgen --auth-password j-secret)
e2e_check "UTF-8 login: accepted (queue id $qid)" test -n "$qid"
e2e_check "UTF-8 login: Postfix logged the SASL login" \
    pf_log_grep "$qid: client=.*sasl_username=jürgen@example.test"
pf_wait_empty 30
sink_wait_count 4 10
f=$(sink_find Message-ID "<sasl-utf8@shop.example>")
e2e_check_eq "UTF-8 login: only ann receives it" \
    "$(for x in $f; do sink_rcpts "$x"; done | tr '\n' ' ')" "ann@example.com "
e2e_check_eq "UTF-8 login: quarantine rows" \
    "$(optin_sql "select recipient || '=' || reason from quarantine where message_id = '<sasl-utf8@shop.example>' order by 1" | tr '\n' ' ')" \
    "bob@example.com=opted_out dave@example.com=no_consent "

e2e_check_eq "four messages delivered in all" "$(sink_count)" 4
e2e_done
