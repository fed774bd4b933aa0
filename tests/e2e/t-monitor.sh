#!/bin/bash
# t-monitor.sh - no copy carries a token of anyone but its only recipient
# (issue 10, item 1; DESIGN "Message flow" item 6), through the real
# Postfix, over SMTP and through sendmail(1), for a campaign known from the
# envelope and one known only from CampaignHeader:
#  - Mode monitor: a multi-recipient copy goes out to everyone without
#    personal headers, and the log says what enforce would have done; a
#    single-recipient copy gets that person's headers;
#  - Mode enforce with MultiRecipientCampaign split, defer and reject.
# Every delivered copy that has a List-Unsubscribe has one recipient, and
# its token decodes (optinctl token check) to that recipient.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-monitor

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup || { e2e_fail "consent database set up"; e2e_done; }
BASE_CONF=$OPTIN_DIR/optin-milter.conf
CONF=$BASE_CONF

# use MODE MULTI - restart the milter with Mode MODE and
# MultiRecipientCampaign MULTI
use()
{
	CONF=$OPTIN_DIR/$1-$2.conf
	{ cat "$BASE_CONF"; echo "Mode $1"; echo "MultiRecipientCampaign $2"; } \
	    > "$CONF"
	milter_stop
	: > "$PF_BASE/milter.log"
	milter_start "$CONF" || { e2e_fail "milter starts ($1, $2)"; e2e_done; }
}

# msg ID [FROM] - a small message with Message-ID <ID@test.example>; FROM
# other than news@ makes it a campaign by its X-Campaign-ID header only
msg()
{
	local from=${2:-news@example.com}
	{
		printf '%s\r\n' "From: <$from>" "To: you" "Subject: $1" \
		    "Date: $(date -R)" "Message-ID: <$1@test.example>"
		[ "$from" = news@example.com ] ||
		    printf '%s\r\n' "X-Campaign-ID: c-$1"
		printf '%s\r\n' "" "text of $1"
	} > "$PF_BASE/$1.eml"
}

# smtp ID FROM RCPT... - send over SMTP; prints smtp_raw's result line
smtp()
{
	local id=$1 from=$2
	shift 2
	msg "$id" "$from"
	"$PY" "$E2E_HERE/smtp_raw.py" "$PF_PORT" "<$from>" "$PF_BASE/$id.eml" \
	    "$@" > "$PF_BASE/$id.smtp" 2>&1
	cat "$PF_BASE/$id.smtp" >> "$PF_BASE/smtp.log"
	tail -n 1 "$PF_BASE/$id.smtp"
}

# sm ID FROM RCPT... - send through sendmail(1)
sm()
{
	local id=$1 from=$2
	shift 2
	msg "$id" "$from"
	pf_sendmail -i -f "$from" -- "$@" < "$PF_BASE/$id.eml"
}

# copies ID - one line per delivered copy of message ID: its recipients,
# comma-separated and sorted; lines sorted
copies()
{
	local f
	for f in $(sink_find Message-ID "<$1@test.example>"); do
		sink_rcpts "$f" | sort | paste -sd, -
	done | sort | paste -sd' ' -
}

# bounced ID - recipients of the delivery status notifications (null
# sender) about message ID that give the reason: status 5.5.3, "one
# recipient per campaign message"
bounced()
{
	local f
	for f in $(sink_messages); do
		[ -z "$(sink_from "$f")" ] &&
		    grep -q "^Message-ID: <$1@test.example>" "$f" &&
		    grep -q "^Status: 5\.5\.3" "$f" &&
		    grep -q "X-Postfix; one recipient per campaign message" "$f" &&
		    sink_rcpts "$f"
	done | sort -u | paste -sd' ' -
}

# lu ID - List-Unsubscribe values of the delivered copies of ID
lu()
{
	local f
	for f in $(sink_find Message-ID "<$1@test.example>"); do
		sink_header "$f" List-Unsubscribe
	done
}

# ---------------------------------------------------------------- monitor
pf_start "$PF_BASE" "unix:$PF_MILTER_DIR/milter.sock" ||
    { e2e_fail "postfix starts"; e2e_done; }
use monitor split
e2e_ok "postfix, milter (monitor) and sink start"

smtp mon1 news@example.com '<ann@example.com>' '<bob@example.com>' >/dev/null
smtp mon2 news@example.com '<ann@example.com>' '<frank@example.com>' >/dev/null
sm mon3 news@example.com ann@example.com frank@example.com bob@example.com
smtp mon4 crm@example.org '<ann@example.com>' '<frank@example.com>' >/dev/null
smtp mon5 news@example.com '<ann@example.com>' >/dev/null
smtp mon6 news@example.com '<bob@example.com>' >/dev/null
pf_wait_empty 60 || e2e_fail "queue empties (monitor)"

e2e_check_eq "monitor, ann+bob: one copy to both" "$(copies mon1)" \
    "ann@example.com,bob@example.com"
e2e_check_eq "monitor, ann+bob: no List-Unsubscribe" "$(lu mon1)" ""
e2e_check_eq "monitor, ann+frank: one copy to both" "$(copies mon2)" \
    "ann@example.com,frank@example.com"
e2e_check_eq "monitor, ann+frank: no List-Unsubscribe" "$(lu mon2)" ""
e2e_check_eq "monitor, sendmail(1) to three: one copy" "$(copies mon3)" \
    "ann@example.com,bob@example.com,frank@example.com"
e2e_check_eq "monitor, sendmail(1) to three: no List-Unsubscribe" \
    "$(lu mon3)" ""
e2e_check_eq "monitor, CampaignHeader, two: one copy" "$(copies mon4)" \
    "ann@example.com,frank@example.com"
e2e_check_eq "monitor, CampaignHeader, two: no List-Unsubscribe" \
    "$(lu mon4)" ""
e2e_check_eq "monitor, ann alone: delivered" "$(copies mon5)" ann@example.com
e2e_check "monitor, ann alone: List-Unsubscribe added" \
    test -n "$(lu mon5)"
e2e_check_eq "monitor, bob alone: delivered, no List-Unsubscribe" \
    "$(copies mon6)|$(lu mon6)" "bob@example.com|"
e2e_check_eq "monitor: nothing quarantined" \
    "$(optin_sql 'select count(*) from quarantine')" 0
e2e_check "monitor: the log says bob would be quarantined" grep -qE \
    ': would quarantine to=<bob@example.com> list=news reason=opted_out$' \
    "$MILTER_LOG"
e2e_check "monitor: the log says ann+frank would be split" grep -qE \
    ': would campaign list=news from=<news@example.com> allowed=2 quarantined=0 multi_recipient=split personal_headers=none$' \
    "$MILTER_LOG"
e2e_check "monitor: the log says ann+bob gets no personal headers" grep -qE \
    ': would campaign list=news from=<news@example.com> allowed=1 quarantined=1 \(opted_out=1\) personal_headers=none$' \
    "$MILTER_LOG"

# ---------------------------------------------------------------- enforce
use enforce split
smtp spl1 news@example.com '<ann@example.com>' '<frank@example.com>' \
    '<bob@example.com>' >/dev/null
sm spl2 news@example.com ann@example.com frank@example.com bob@example.com
smtp spl3 crm@example.org '<ann@example.com>' '<frank@example.com>' \
    '<bob@example.com>' >/dev/null
pf_wait_empty 60 || e2e_fail "queue empties (split)"
for id in spl1 spl2 spl3; do
	e2e_check_eq "split $id: one copy each to ann and frank" \
	    "$(copies $id)" "ann@example.com frank@example.com"
done

# one_per_message MODE CODE XCODE - MultiRecipientCampaign MODE: the second
# recipient of an envelope campaign is refused at RCPT; a CampaignHeader
# campaign to two is refused at end of message; through sendmail(1), where
# no RCPT reply is possible, the message is returned to the sender
one_per_message()
{
	local m=$1 code=$2 x=$3
	use enforce "$m"
	smtp "${m}1" news@example.com '<ann@example.com>' \
	    '<frank@example.com>' >/dev/null
	e2e_check_eq "$m, envelope campaign: frank refused at RCPT" \
	    "$(grep -c "^< $code $x " "$PF_BASE/${m}1.smtp")" 1
	e2e_check_eq "$m, CampaignHeader with two: $code at end of message" \
	    "$(smtp "${m}2" crm@example.org '<ann@example.com>' \
	    '<frank@example.com>')" "result: refused $code"
	sm "${m}3" news@example.com ann@example.com frank@example.com
	pf_wait_empty 30 || e2e_fail "queue empties ($m)"
	e2e_check_eq "$m, envelope campaign: ann's copy" "$(copies "${m}1")" \
	    ann@example.com
	e2e_check_eq "$m, CampaignHeader with two: nothing delivered" \
	    "$(copies "${m}2")" ""
	e2e_check_eq "$m, sendmail(1) with two: nothing delivered" \
	    "$(copies "${m}3")" ""
	e2e_check_eq "$m, sendmail(1) with two: returned to the sender" \
	    "$(bounced "${m}3")" "news@example.com"
}
one_per_message defer 452 '4\.5\.3'
one_per_message reject 550 '5\.5\.3'

# ---------------------------------------------------------------- tokens
e2e_check_eq "copies with List-Unsubscribe" \
    "$(for f in $(sink_messages); do sink_header "$f" List-Unsubscribe; done |
    grep -c .)" 9
e2e_check_eq "copies with a token not of their only recipient" \
    "$(optin_bad_tokens "$BASE_CONF")" ""
e2e_done
