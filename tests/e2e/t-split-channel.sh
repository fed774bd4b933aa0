#!/bin/bash
# t-split-channel.sh - split copies over the re-injection channel
# (ResubmitAddress, issue 14 item 5): one campaign to 21 recipients (ann,
# p01..p18 opted in; bob opted out, dave never seen) through a real Postfix
# whose extra smtpd listener (syslog name postfix-e2e/chan) is the channel.
# Asserts exact recipients and one copy each, every copy's token names its
# only recipient and its DKIM signature verifies (dkimpy), the personal
# bounce address, the blocked ones quarantined, the copies over ONE
# connection, and that the same message sent again (a client's retry)
# sends nobody a second split copy.  Failure cases: nothing listening at the
# address (the message is deferred, 451 4.4.1, nothing claimed, nothing
# quarantined for the allowed; sent again once the listener is back, each
# copy once) and a listener that answers 451 to one RCPT (that copy
# quarantined as resubmit_failed, every other delivered).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-split-channel

MSG=$OPTIN_CORPUS/ours_newsletter_multipart.eml
PEOPLE=$(for i in $(seq -w 1 18); do echo "p$i@example.com"; done)
TO="ann@example.com,$(echo $PEOPLE | tr ' ' ','),bob@example.com,dave@example.com"
ALLOWED=$(printf '%s\n' ann@example.com $PEOPLE | sort | tr '\n' ' ')
BLOCKED="bob@example.com=opted_out dave@example.com=no_consent "
CH_PORT=$(e2e_free_port)
DOWN_PORT=$(e2e_free_port)

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem" \
    "BounceAddress bounce+%t@news.example.com" \
    "ResubmitAddress inet:$CH_PORT@127.0.0.1" "ResubmitTimeout 20s" ||
    { e2e_fail "consent database set up"; e2e_done; }
for p in $PEOPLE; do
	"$OPTINCTL" -c "$OPTIN_DIR/optin-milter.conf" subscribe "$p" \
	    newsletter --source e2e >/dev/null &&
	"$OPTINCTL" -c "$OPTIN_DIR/optin-milter.conf" confirm "$p" \
	    newsletter >/dev/null || e2e_fail "subscribe $p"
done
milter_start "$OPTIN_DIR/optin-milter.conf" ||
    { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" "smtpd_recipient_limit = 1000" \
    "chan_rcpt = check_recipient_access inline:{ { p07@example.com = 451 4.7.1 not now } }, permit_mynetworks, reject" ||
    { e2e_fail "postfix starts"; e2e_done; }
# the channel: one more smtpd, with the same smtpd_milters
optin_channel "$CH_PORT" || { e2e_fail "channel listener starts"; e2e_done; }
e2e_ok "postfix, channel listener, milter and sink start"
optin_records "$PF_BASE/records"

# send ID - send the campaign with Message-ID <ID@test.example>; prints
# the reply to the end of data (code and enhanced code)
send()
{
	[ -f "$PF_BASE/msg.$1" ] ||
	    optin_stamp "$MSG" "$1" > "$PF_BASE/msg.$1"
	pf_send news@example.com "$TO" "$PF_BASE/msg.$1" >/dev/null
	awk '/^=== pf_send/ { got = 0; code = "" }
	    /^<[-*]+ +354 / { got = 1; next }
	    got == 1 && /^<[-*]+ +[2-5][0-9][0-9] / {
		sub(/^<[-*]+ +/, ""); code = $1 " " $2; got = 2 }
	    END { print code }' "$PF_BASE/swaks.log"
}

delivered() { optin_delivered "$1"; }
quarantined() { optin_quarantined "$1"; }

# reloads_over N - true once the milter logged more than N reloads
reloads_over()
{
	[ "$(grep -c 'reload: done' "$MILTER_LOG")" -gt "$1" ]
}

# channel_at PORT - ResubmitAddress inet:PORT@127.0.0.1, SIGUSR1, wait
channel_at()
{
	local n
	n=$(grep -c 'reload: done' "$MILTER_LOG")
	sed -i "s|^ResubmitAddress .*|ResubmitAddress inet:$1@127.0.0.1|" \
	    "$OPTIN_DIR/optin-milter.conf"
	kill -USR1 "$MILTER_PID" && e2e_wait_for 10 reloads_over "$n"
}

# channel_connects - connections the channel listener has seen
channel_connects()
{
	grep -c 'postfix-e2e/chan/smtpd\[[0-9]*\]: connect from' "$PF_LOG"
}

# --- 1. the split over the channel
e2e_check_eq "split: accepted" "$(send c1)" "250 2.0.0"
pf_wait_empty 90 || e2e_fail "split: queue empties"
e2e_check_eq "split: exact recipients, one copy each" "$(delivered c1)" \
    "$ALLOWED"
e2e_check_eq "split: blocked ones quarantined" "$(quarantined c1)" "$BLOCKED"
e2e_check_eq "split: 18 copies over the channel" \
    "$(grep -c 'split copy to=.* resubmitted' "$MILTER_LOG")" 18
# the original's line for each copy names the queue ID Postfix gave it
# ("resubmitted as ID", from the channel's reply), and that copy's own
# lines carry it ("ID: split copy of ORIGINAL")
e2e_check_eq "split: each copy's queue ID on the original's line" \
    "$(sed -n 's/.*: split copy to=.* resubmitted as \([0-9A-Za-z]*\)$/\1/p' "$MILTER_LOG" | sort | tr '\n' ' ')" \
    "$(sed -n 's/^\([0-9A-Za-z]*\): split copy of [0-9A-Za-z]*$/\1/p' "$MILTER_LOG" | sort | tr '\n' ' ')"
# each copy's own decision line names its envelope sender, the personal
# bounce address (a local part over 64 octets: addr_normalize refuses it),
# with the token masked; it said from=<>, a null sender
e2e_check_eq "split: the copies' lines show the bounce address, token masked" \
    "$(grep -c 'campaign list=newsletter from=<bounce+\[token\]@news.example.com> allowed=1 ' "$MILTER_LOG")" 18
e2e_check_eq "split: no decision line shows a null sender" \
    "$(grep -c 'campaign list=.* from=<> ' "$MILTER_LOG")" 0
e2e_check_eq "split: no bounce token in the milter log" \
    "$(grep -cE 'bounce\+[A-Za-z0-9_-]{16,}' "$MILTER_LOG")" 0
e2e_check_eq "split: one channel connection for the message" \
    "$(channel_connects)" 1
e2e_check_eq "split: every token names its only recipient" \
    "$(optin_bad_tokens)" ""
bad=""
bounce=""
c1=$(sink_find Message-ID "<c1@test.example>")
# shellcheck disable=SC2086
for f in $(optin_verify_bad "$PF_BASE/records" 1 $c1); do
	bad="$bad $(sink_rcpts "$f")"
done
for f in $c1; do
	case $(sink_from "$f") in
	bounce+*@news.example.com) ;;
	*) bounce="$bounce $(sink_rcpts "$f")=$(sink_from "$f")" ;;
	esac
done
e2e_check_eq "split: every copy's DKIM signature verifies" "$bad" ""
e2e_check_eq "split: every copy has its personal bounce address" \
    "$bounce" ""
e2e_check_eq "split: copies passed the milter once more (marker)" \
    "$(grep -c 'not valid here' "$MILTER_LOG")" 0

# --- 2. the client sends the same message again: its kept recipient gets
# the resent original, nobody gets a second split copy
e2e_check_eq "resend: accepted" "$(send c1)" "250 2.0.0"
pf_wait_empty 60 || e2e_fail "resend: queue empties"
e2e_check_eq "resend: only the kept recipient again, no split copy" \
    "$(delivered c1)" "$(printf '%s\n' ann@example.com $ALLOWED | sort |
    tr '\n' ' ')"
e2e_check_eq "resend: every split copy known as handed over" \
    "$(grep -c 'split copy already handed over' "$MILTER_LOG")" 18
e2e_check_eq "resend: no second quarantine row" "$(quarantined c1)" \
    "$BLOCKED"

# --- 3. nothing listening at the channel's address: deferred, nothing
# claimed; once it is back, everybody gets one copy
channel_at "$DOWN_PORT" || e2e_fail "channel down: reloaded"
e2e_check_eq "channel down: deferred" "$(send c3)" "451 4.4.1"
e2e_check_eq "channel down: nothing delivered" "$(delivered c3)" ""
e2e_check_eq "channel down: only the blocked quarantined" \
    "$(quarantined c3)" "$BLOCKED"
e2e_check_eq "channel down: no copy claimed" \
    "$(optin_sql "select count(*) from handover where state = 'claimed'")" 0
channel_at "$CH_PORT" || e2e_fail "channel back: reloaded"
e2e_check_eq "channel back: accepted" "$(send c3)" "250 2.0.0"
pf_wait_empty 90 || e2e_fail "channel back: queue empties"
e2e_check_eq "channel back: exact recipients, one copy each" \
    "$(delivered c3)" "$ALLOWED"
e2e_check_eq "channel back: one quarantine set" "$(quarantined c3)" \
    "$BLOCKED"

# --- 4. the listener answers 451 to one RCPT: that copy is quarantined
postconf -c "$PF_CONF" -P "127.0.0.1:$CH_PORT/inet/smtpd_recipient_restrictions=\$chan_rcpt" &&
    pf_reload || e2e_fail "451 listener configured"
sleep 2
e2e_check_eq "451 rcpt: accepted" "$(send c4)" "250 2.0.0"
pf_wait_empty 90 || e2e_fail "451 rcpt: queue empties"
e2e_check_eq "451 rcpt: everybody else delivered, once" "$(delivered c4)" \
    "$(printf '%s\n' ann@example.com $PEOPLE | grep -v p07 | sort |
    tr '\n' ' ')"
e2e_check_eq "451 rcpt: that copy quarantined as resubmit_failed" \
    "$(quarantined c4)" "${BLOCKED}p07@example.com=resubmit_failed "
e2e_check "451 rcpt: the reply text logged" \
    grep -q 'split copy to=<p07@example.com> failed: RCPT: 451 4.7.1' \
    "$MILTER_LOG"

e2e_done
