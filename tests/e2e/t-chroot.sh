#!/bin/bash
# t-chroot.sh - the shipped samples on a stock Debian Postfix (issue 13,
# item 3): Debian's master.cf as shipped (smtpd, cleanup and pickup
# chrooted in the queue directory, prepared by Debian's own start-up
# script), every setting of conf/postfix-main.cf applied as written, and
# the milter on the Socket that conf/optin-milter.conf names.  Paths of the
# samples are moved into this test's directory: /var/spool/postfix becomes
# the private queue directory, /run/ becomes $PF_BASE/run/.  A campaign
# sent over SMTP and one submitted with sendmail(1) (pickup and cleanup,
# non_smtpd_milters) reach exactly the allowed people, one signed copy
# each; the blocked ones are in quarantine; nothing is answered 451.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-chroot

MAIN_CF=$E2E_TOP/conf/postfix-main.cf
SAMPLE_CONF=$E2E_TOP/conf/optin-milter.conf

# to_private - the samples' system paths moved below PF_BASE (stdin)
to_private()
{
	sed "s|/var/spool/postfix|$PF_BASE/queue|g; s|/run/|$PF_BASE/run/|g"
}

# the milter's socket: the sample's Socket line, else its default as the
# sample shows it (a "#Socket" line)
sock=$(sed -n 's/^Socket[[:space:]]\{1,\}\([^[:space:]#]*\).*/\1/p' \
    "$SAMPLE_CONF" | head -n 1)
[ -n "$sock" ] || sock=$(sed -n \
    's/^#Socket[[:space:]]\{1,\}\([^[:space:]#]*\).*/\1/p' "$SAMPLE_CONF" |
    head -n 1)
e2e_check "conf/optin-milter.conf names a Socket" test -n "$sock"
sock=$(printf '%s\n' "$sock" | to_private)
# the main.cf settings: every "name = value" line of the sample
mapfile -t settings < <(grep -E '^[a-z_0-9]+[[:space:]]*=' "$MAIN_CF" |
    to_private)
e2e_check "conf/postfix-main.cf names the milter" \
    grep -qE '^smtpd_milters[[:space:]]*=[[:space:]]*[^[:space:]]' "$MAIN_CF"

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem" ||
	{ e2e_fail "consent database set up"; e2e_done; }

# the socket's directory, as the set-up in optin-milter(8) makes it; the
# socket is given to the group postfix, standing for "usermod -aG
# optin-milter postfix" (this test adds no system user)
case $sock in
local:*|unix:*)
	path=${sock#*:}
	mkdir -p "$(dirname "$path")"
	chmod 0750 "$(dirname "$path")"
	chgrp postfix "$(dirname "$path")"
	;;
esac
milter_start_spec "$sock" "$OPTIN_DIR/optin-milter.conf" ||
	{ e2e_fail "milter starts on $sock"; e2e_done; }
[ -n "$MILTER_SOCK" ] && chgrp postfix "$MILTER_SOCK"

smtpd_milters=$(printf '%s\n' "${settings[@]}" |
    sed -n 's/^smtpd_milters[[:space:]]*=[[:space:]]*//p')
PF_CHROOT=y pf_start "$PF_BASE" "$smtpd_milters" "${settings[@]}" ||
	{ e2e_fail "chrooted postfix starts"; e2e_done; }
e2e_ok "chrooted postfix, milter and sink start"
optin_records "$PF_BASE/records"

# --- the instance is chrooted as Debian ships it
for svc in "127.0.0.1:$PF_PORT/inet" cleanup/unix pickup/unix smtp/unix; do
	e2e_check_eq "master.cf: $svc chrooted" \
	    "$(postconf -c "$PF_CONF" -hF "$svc/chroot")" y
done
e2e_check_eq "smtpd_milters as the sample has it" \
    "$(postconf -c "$PF_CONF" -h smtpd_milters)" "$smtpd_milters"
e2e_check "chroot has etc/services and etc/hosts" \
    test -s "$PF_QUEUE/etc/services" -a -s "$PF_QUEUE/etc/hosts"

# --- a campaign over SMTP: seven recipients, three allowed, split
MIX="ann@example.com,bob@example.com,carol@example.com,dave@example.com,eve@example.com,FRANK@EXAMPLE.COM,gina@xn--bcher-kva.example"
optin_stamp "$OPTIN_CORPUS/ours_crm_campaign_html.eml" chroot-smtp > "$PF_BASE/smtp.eml"
pf_send news@example.com "$MIX" "$PF_BASE/smtp.eml" >/dev/null
e2e_check "SMTP campaign accepted (250, no 451)" \
    grep -q '^<- *250 .*queued as' "$PF_BASE/swaks.log"

# the chrooted smtpd that took it is still there (max_idle): its root
master=$(pf_master_pid)
roots=$(for p in $(ps -o pid= --ppid "$master"); do
	[ "$(ps -o comm= -p "$p")" = smtpd ] &&
	    readlink "/proc/$p/root"
done | sort -u)
e2e_check_eq "smtpd runs with its root in the queue directory" \
    "$roots" "$PF_QUEUE"

# --- a campaign through sendmail(1): pickup and cleanup in the chroot
optin_stamp "$OPTIN_CORPUS/ours_newsletter_multipart.eml" chroot-pickup > "$PF_BASE/pickup.eml"
pf_sendmail -i -f news@example.com ann@example.com dave@example.com \
    hank@bücher.example < "$PF_BASE/pickup.eml"
e2e_check "sendmail(1) submission accepted" test $? = 0

pf_wait_empty 20 || e2e_fail "queue empties"

# --- exact deliveries, one recipient per copy
got=$(sink_rcpts_by_header Message-ID "<chroot-smtp@test.example>" |
    tr '\n' ' ')
e2e_check_eq "SMTP campaign: the three allowed, one copy each" "$got" \
    "FRANK@EXAMPLE.COM ann@example.com gina@xn--bcher-kva.example "
got=$(sink_rcpts_by_header Message-ID "<chroot-pickup@test.example>" |
    tr '\n' ' ')
e2e_check_eq "sendmail(1) campaign: the two allowed, one copy each" "$got" \
    "ann@example.com hank@bücher.example "
e2e_check_eq "every delivered copy has one recipient" \
    "$(for f in $(sink_messages); do sink_rcpts "$f" | wc -l; done |
	sort -u | tr '\n' ' ')" "1 "
e2e_check_eq "delivered copies in all" "$(sink_count)" 5

# --- quarantine rows, exactly
e2e_check_eq "quarantine rows" \
    "$(optin_sql "select message_id || ' ' || recipient || ' ' || reason from quarantine order by message_id, recipient" | tr '\n' '|')" \
    "<chroot-pickup@test.example> dave@example.com no_consent|<chroot-smtp@test.example> bob@example.com opted_out|<chroot-smtp@test.example> carol@example.com pending|<chroot-smtp@test.example> dave@example.com no_consent|<chroot-smtp@test.example> eve@example.com suppressed|"

# --- personal headers and signatures on every copy
bad=0
for f in $(sink_messages); do
	[ "$(sink_header "$f" List-Unsubscribe-Post)" = \
	    "List-Unsubscribe=One-Click" ] || bad=$((bad + 1))
done
# shellcheck disable=SC2046
bad=$((bad + $(optin_verify_bad "$PF_BASE/records" 1 $(sink_messages) | grep -c .)))
e2e_check_eq "copies without one-click header or valid DKIM signature" \
    "$bad" 0

# --- Postfix reached the milter: no milter errors, no tempfail
e2e_check_eq "no milter warnings in the Postfix log" \
    "$(pf_log_grep 'warning: .*milter' | head -n 3)" ""
e2e_check_eq "no 451 answers" \
    "$(grep -c '^<- *451' "$PF_BASE/swaks.log")" 0

# --- the alternative the sample gives: inet: on loopback (its commented
# lines, on a free port instead of the sample's)
isock=$(sed -n 's/^#[[:space:]]*Socket[[:space:]]\{1,\}\(inet:[^[:space:]]*\).*/\1/p' \
    "$MAIN_CF" | head -n 1)
imilter=$(sed -n 's/^#smtpd_milters[[:space:]]*=[[:space:]]*\(inet:[^[:space:]]*\).*/\1/p' \
    "$MAIN_CF" | head -n 1)
port=$(e2e_free_port)
e2e_check "sample shows the inet: alternative on loopback" \
    test -n "$isock" -a -n "$imilter" -a "${isock%%@*}" = "inet:${imilter##*:}"
[ -n "$isock" ] && [ -n "$imilter" ] || e2e_done
milter_stop
milter_start_spec "${isock%%:*}:$port@${isock#*@}" \
    "$OPTIN_DIR/optin-milter.conf" ||
	{ e2e_fail "milter starts on inet:"; e2e_done; }
pf_set_milter "${imilter%:*}:$port"
before=$(sink_count)
optin_stamp "$OPTIN_CORPUS/ours_crm_campaign_html.eml" chroot-inet > "$PF_BASE/inet.eml"
pf_send news@example.com ann@example.com,bob@example.com \
    "$PF_BASE/inet.eml" >/dev/null
pf_wait_empty 20 || e2e_fail "queue empties (inet:)"
e2e_check_eq "inet: campaign delivered to the allowed one only" \
    "$(sink_rcpts_by_header Message-ID "<chroot-inet@test.example>" |
	tr '\n' ' ')" "ann@example.com "
e2e_check_eq "inet: the other one in quarantine" \
    "$(optin_sql "select recipient || ' ' || reason from quarantine where message_id = '<chroot-inet@test.example>'")" \
    "bob@example.com opted_out"
e2e_check "inet: the copy is signed" \
    optin_verify "$PF_BASE/records" "$(sink_messages | tail -n 1)" 1
e2e_check_eq "inet: one copy delivered" "$(sink_count)" $((before + 1))
e2e_done
