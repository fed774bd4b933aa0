#!/bin/bash
# t-split-retry.sh - a split is atomic with respect to the MTA (issue 15
# item 1, DESIGN "Message flow"): when Postfix gives up on the milter while
# it re-submits split copies (milter_content_timeout) or the milter is killed
# (-9) at a step of the hand-over, the client's retry of the same message
# sends nobody a second copy, delivers the kept recipient and writes no second
# quarantine row.  Each case sends one campaign to four allowed people
# (ann kept in the original; frank, gina and hank get split copies) and two
# blocked ones (bob opted out, dave never seen), then retries it like a
# client: the same bytes under a new queue ID.
#
# SendmailCommand is a wrapper (slow or killing the milter, see below);
# milter_content_timeout is 2 s; SplitHandoverWait is 3 s so that a claim
# left by a killed milter turns ambiguous within the test.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-split-retry

TO="ann@example.com,frank@example.com,gina@xn--bcher-kva.example,hank@xn--bcher-kva.example,bob@example.com,dave@example.com"
MSG=$OPTIN_CORPUS/ours_newsletter_multipart.eml

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "SplitHandoverWait 3" ||
    { e2e_fail "consent database set up"; e2e_done; }

# the wrapper: mode "fast" hands over at once, "slow" sleeps 1.5 s first
# (three copies: 4.5 s, past milter_content_timeout), "kill-before-N" kills
# the milter (-9) at copy N before anything is handed over, "kill-after-N"
# hands copy N over and then kills the milter before it can record that
WRAP=$PF_BASE/wrap-sendmail.sh
cat > "$WRAP" <<EOF
#!/bin/sh
n=\$(( \$(cat "$PF_BASE/wrap.count" 2>/dev/null || echo 0) + 1 ))
echo "\$n" > "$PF_BASE/wrap.count"
case \$(cat "$PF_BASE/wrap.mode") in
slow)	sleep 1.5 ;;
kill-before-\$n)
	kill -9 "\$(cat "$PF_BASE/milter.pid")"; exit 75 ;;
kill-after-\$n)
	/usr/sbin/sendmail -C "$PF_BASE/conf" "\$@"; rc=\$?
	kill -9 "\$(cat "$PF_BASE/milter.pid")"; exit \$rc ;;
esac
exec /usr/sbin/sendmail -C "$PF_BASE/conf" "\$@"
EOF
chmod 0755 "$WRAP"
sed -i "s|^SendmailCommand .*|SendmailCommand $WRAP -i|" \
    "$OPTIN_DIR/optin-milter.conf"

# start (or restart after a kill) the milter and note its pid for WRAP; a
# copy handed over just before the kill waits in the maildrop queue: wake
# Postfix's pickup so that it does not wait for its next scan
milter_up()
{
	milter_start "$OPTIN_DIR/optin-milter.conf" || return 1
	echo "$MILTER_PID" > "$PF_BASE/milter.pid"
	[ -z "$PF_CONF" ] ||
	    postkick -c "$PF_CONF" public pickup W >/dev/null 2>&1
	return 0
}

milter_up || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" "milter_content_timeout = 2s" ||
    { e2e_fail "postfix starts"; e2e_done; }
e2e_ok "postfix, milter and sink start"

# send ID MODE - send the campaign with Message-ID <ID@test.example>, the
# wrapper in MODE; prints the SMTP reply code of the end of data
send()
{
	echo "$2" > "$PF_BASE/wrap.mode"
	rm -f "$PF_BASE/wrap.count"
	[ -f "$PF_BASE/msg.$1" ] ||
	    optin_stamp "$MSG" "$1" > "$PF_BASE/msg.$1"
	pf_send news@example.com "$TO" "$PF_BASE/msg.$1" >/dev/null
	# the server's reply after 354 in this send's transcript
	awk '/^=== pf_send/ { got = 0; code = "" }
	    /^<[-*]+ +354 / { got = 1; next }
	    got == 1 && /^<[-*]+ +[2-5][0-9][0-9] / {
		sub(/^<[-*]+ +/, ""); code = substr($0, 1, 3); got = 2 }
	    END { print code }' "$PF_BASE/swaks.log"
}

delivered() { optin_delivered "$1"; }
quarantined() { optin_quarantined "$1"; }

# split_lines N - true once the milter logged N decision lines of the
# six-recipient message
split_lines()
{
	[ "$(grep -c ': campaign list=newsletter .* allowed=4 ' "$MILTER_LOG")" \
	    -ge "$1" ]
}

ALL="ann@example.com frank@example.com gina@xn--bcher-kva.example hank@xn--bcher-kva.example "
BLOCKED="bob@example.com=opted_out dave@example.com=no_consent "

# --- 1. slow hand-over: Postfix gives up after 2 s, the client retries
e2e_check_eq "timeout: the client gets 451" "$(send timeout slow)" 451
# the first attempt goes on in the milter and hands every copy over
e2e_wait_for 30 split_lines 1 || e2e_fail "timeout: first attempt ends"
e2e_check_eq "timeout: retry accepted" "$(send timeout fast)" 250
pf_wait_empty 60 || e2e_fail "timeout: queue empties"
e2e_check_eq "timeout: one copy each, the kept recipient delivered" \
    "$(delivered timeout)" "$ALL"
e2e_check_eq "timeout: one quarantine set" "$(quarantined timeout)" "$BLOCKED"
e2e_check_eq "timeout: the retry handed nothing over" \
    "$(cat "$PF_BASE/wrap.count" 2>/dev/null || echo 0)" 0

# --- 2. killed after the quarantine commit, before the first copy went out
e2e_check_eq "kill before copy 1: 451" "$(send kb1 kill-before-1)" 451
milter_up || e2e_fail "milter restarts"
e2e_check_eq "kill before copy 1: a retry at once waits for the claim" \
    "$(send kb1 fast)" 451
sleep 4		# SplitHandoverWait 3
e2e_check_eq "kill before copy 1: retry accepted" "$(send kb1 fast)" 250
pf_wait_empty 60 || e2e_fail "kill before copy 1: queue empties"
e2e_check_eq "kill before copy 1: nobody twice, the claimed one held" \
    "$(delivered kb1)" \
    "ann@example.com gina@xn--bcher-kva.example hank@xn--bcher-kva.example "
e2e_check_eq "kill before copy 1: one quarantine set and the held copy" \
    "$(quarantined kb1)" \
    "${BLOCKED}frank@example.com=handover_unknown "

# --- 3. killed mid hand-over: copy 2 went out, not recorded
e2e_check_eq "kill mid hand-over: 451" "$(send km2 kill-after-2)" 451
milter_up || e2e_fail "milter restarts"
sleep 4
e2e_check_eq "kill mid hand-over: retry accepted" "$(send km2 fast)" 250
pf_wait_empty 60 || e2e_fail "kill mid hand-over: queue empties"
e2e_check_eq "kill mid hand-over: one copy each, the kept one delivered" \
    "$(delivered km2)" "$ALL"
e2e_check_eq "kill mid hand-over: the unrecorded copy held, not resent" \
    "$(quarantined km2)" "${BLOCKED}gina@xn--bcher-kva.example=handover_unknown "
e2e_check_eq "kill mid hand-over: the retry handed over only copy 3" \
    "$(cat "$PF_BASE/wrap.count" 2>/dev/null || echo 0)" 1

# --- 4. killed after the last copy, before the end-of-message reply
e2e_check_eq "kill after the hand-over: 451" "$(send ka3 kill-after-3)" 451
milter_up || e2e_fail "milter restarts"
sleep 4
e2e_check_eq "kill after the hand-over: retry accepted" "$(send ka3 fast)" 250
pf_wait_empty 60 || e2e_fail "kill after the hand-over: queue empties"
e2e_check_eq "kill after the hand-over: one copy each, kept one delivered" \
    "$(delivered ka3)" "$ALL"
e2e_check_eq "kill after the hand-over: one quarantine set" \
    "$(quarantined ka3)" "${BLOCKED}hank@xn--bcher-kva.example=handover_unknown "
e2e_check_eq "kill after the hand-over: the retry handed nothing over" \
    "$(cat "$PF_BASE/wrap.count" 2>/dev/null || echo 0)" 0

# --- records: one per message and person, states as expected
e2e_check_eq "hand-over records by state" \
    "$(optin_sql "select state, count(*) from handover group by state order by 1" | tr '\n' ' ')" \
    "done|9 quarantined|11 "
e2e_check_eq "every quarantine row has its spool file" \
    "$(optin_spool_missing)" 0

e2e_done
