#!/bin/bash
# t-two-relays.sh - scale-out (DESIGN "Scale-out"): two Postfix relays, each
# with its own optin-milter, share one PostgreSQL consent database.  A
# one-click opt-out taken by optin-unsubd beside relay A is honoured by
# relay B's very next message; with PostgreSQL stopped both relays
# tempfail (SMTP clients get 4xx, sendmail(1) mail stays queued, nothing
# is delivered); once it is back the queued mail goes out to exactly the
# consenting recipients.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
. "$E2E_TOP/tests/lib/pg.sh"
e2e_init t-two-relays
optin_need_cmds curl
BASE=$PF_BASE
declare -A R_CONF R_QUEUE R_LOG R_PORT R_MILTER R_SOCK R_MPID R_MLOG

# relay_save NAME / relay_use NAME - keep and bring back the lib.sh
# variables of one relay (lib.sh knows one instance at a time)
relay_save()
{
	R_CONF[$1]=$PF_CONF R_QUEUE[$1]=$PF_QUEUE R_LOG[$1]=$PF_LOG
	R_PORT[$1]=$PF_PORT R_MILTER[$1]=$PF_MILTER R_SOCK[$1]=$MILTER_SOCK
	R_MPID[$1]=$MILTER_PID R_MLOG[$1]=$MILTER_LOG
}
relay_use()
{
	PF_BASE=$BASE/$1 PF_CONF=${R_CONF[$1]} PF_QUEUE=${R_QUEUE[$1]}
	PF_LOG=${R_LOG[$1]} PF_PORT=${R_PORT[$1]} PF_MILTER=${R_MILTER[$1]}
	MILTER_SOCK=${R_SOCK[$1]} MILTER_PID=${R_MPID[$1]}
	MILTER_LOG=${R_MLOG[$1]}
}

# relays_cleanup - stop both relays, then what e2e_cleanup stops (the
# milters and optin-unsubd by PID, the sink, PostgreSQL), remove BASE
relays_cleanup()
{
	local r
	for r in b a; do
		[ -n "${R_CONF[$r]:-}" ] && { relay_use $r; pf_stop; }
	done
	PF_BASE=$BASE
	e2e_cleanup
}
trap relays_cleanup EXIT

pg_start || { e2e_fail "PostgreSQL starts"; e2e_done; }
pg_createdb optin_relays || { e2e_fail "database created"; e2e_done; }
DBSPEC=$(pg_consentdb optin_relays)
sink_start || { e2e_fail "sink starts"; e2e_done; }
mkdir -m 0700 "$BASE/keys"
optin_keys "$BASE/keys"
HTTP_PORT=$(e2e_free_port)

# relay_up NAME - config, milter and Postfix of relay NAME under BASE/NAME
relay_up()
{
	PF_BASE=$BASE/$1
	PF_MILTER_DIR=$PF_BASE/milter
	mkdir -m 0755 "$PF_BASE" "$PF_MILTER_DIR"
	mkdir -m 0700 "$PF_BASE/quarantine"
	cat > "$PF_BASE/optin.conf" <<EOC
# relay $1, written by tests/e2e/t-two-relays.sh
ConsentDB $DBSPEC
DBBusyTimeout 2000
QuarantineDir $PF_BASE/quarantine
CampaignSenders news@example.com
DefaultList news
TokenKeyFile $BASE/keys/token.keys
UnsubscribeURL http://127.0.0.1:$HTTP_PORT/u/%t
UnsubscribeListen 127.0.0.1:$HTTP_PORT
SendmailCommand /usr/sbin/sendmail -C $PF_BASE/conf -i
SPFCheck off
Syslog no
LogLevel info
EOC
	milter_start "$PF_BASE/optin.conf" || return 1
	pf_start "$PF_BASE" "unix:$MILTER_SOCK" || return 1
	relay_save "$1"
}
relay_up a || { e2e_fail "relay A starts"; e2e_done; }
relay_up b || { e2e_fail "relay B starts"; e2e_done; }
CONF=$BASE/a/optin.conf
e2e_ok "PostgreSQL, two relays with their milters, and the sink start"

# consent, set up through optinctl: ann and bob opted in, dave never seen
{ "$OPTINCTL" -c "$CONF" init &&
  "$OPTINCTL" -c "$CONF" list add news &&
  "$OPTINCTL" -c "$CONF" subscribe ann@example.com news &&
  "$OPTINCTL" -c "$CONF" subscribe bob@example.com news; } \
    >"$BASE/ctl.log" 2>&1
e2e_check_eq "optinctl sets up the shared database" "$?" 0
"$OPTIN_UNSUBD" -f -c "$CONF" >>"$BASE/unsubd.log" 2>&1 </dev/null &
e2e_track_pid $!
e2e_wait_port "$HTTP_PORT" 10 || e2e_fail "optin-unsubd listens"

# msg N - a small campaign message with Message-ID <relays-N@example.com>
msg()
{
	printf 'From: news@example.com\r\nSubject: relays %s\r\nMessage-ID: <relays-%s@example.com>\r\n\r\nhello\r\n' \
	    "$1" "$1" > "$BASE/msg.$1"
	echo "$BASE/msg.$1"
}
# rcpts_of N - recipients that got message N, sorted, space-separated
rcpts_of()
{
	local f
	for f in $(sink_find Message-ID "<relays-$1@example.com>"); do
		sink_rcpts "$f"
	done | sort | tr '\n' ' '
}
# queued NAME - messages in relay NAME's queue
queued()
{
	relay_use "$1"
	pf_queue_count
}

# 1. relay A delivers to ann, with a one-click link served by unsubd
relay_use a
pf_send news@example.com ann@example.com "$(msg 1)" >/dev/null
pf_wait_empty 30
e2e_check_eq "relay A: delivered to ann" "$(rcpts_of 1)" "ann@example.com "
f=$(sink_find Message-ID "<relays-1@example.com>")
url=$(sink_header "$f" List-Unsubscribe | sed -n 's/^<\(http[^>]*\)>.*/\1/p')
code=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' \
    -d 'List-Unsubscribe=One-Click' "$url")
e2e_check_eq "one-click opt-out at optin-unsubd (relay A's link)" "$code" 200
e2e_check_eq "the opt-out is in the shared database" \
    "$(pg_sql optin_relays "select status from subscriptions where address = 'ann@example.com' and list_id = 'news'")" \
    "opted_out"

# 2. relay B's very next message honours it
relay_use b
pf_send news@example.com ann@example.com,bob@example.com "$(msg 2)" >/dev/null
pf_wait_empty 30
e2e_check_eq "relay B: only bob gets the next message" "$(rcpts_of 2)" \
    "bob@example.com "
e2e_check_eq "relay B: ann quarantined as opted_out" \
    "$(pg_sql optin_relays "select recipient || '=' || reason from quarantine where message_id = '<relays-2@example.com>'")" \
    "ann@example.com=opted_out"
e2e_check_eq "relay B: its spool holds the copy" \
    "$(ls "$BASE/b/quarantine" | grep -c '\.eml$')" 1

# 3. PostgreSQL stops: both relays tempfail, nothing delivered or lost
pg_halt
before=$(sink_count)
for r in a b; do
	relay_use $r
	: > "$PF_BASE/swaks.log"
	pf_send news@example.com bob@example.com "$(msg 3$r)" >/dev/null
	rc=$?
	e2e_check "relay $(echo $r | tr ab AB), database down: SMTP client gets 451 4.3.0" \
	    grep -qE '<\*\* +451 4\.3\.0 ' "$PF_BASE/swaks.log"
	e2e_check "relay $(echo $r | tr ab AB), database down: not accepted" \
	    test "$rc" != 0
	pf_sendmail -i -f news@example.com ann@example.com bob@example.com \
	    dave@example.com < "$(msg 4$r)"
	e2e_check "relay $(echo $r | tr ab AB): sendmail(1) submission accepted" \
	    test $? = 0
done
sleep 4
e2e_check_eq "database down: nothing delivered" "$(sink_count)" "$before"
e2e_check "database down: relay A keeps its message queued" \
    test "$(queued a)" -ge 1
e2e_check "database down: relay B keeps its message queued" \
    test "$(queued b)" -ge 1
relay_use a
e2e_check "relay A's milter logged why" grep -qE \
    ': consent (database|lookup): ConsentDB host=127\.0\.0\.1 port=[0-9]+ user=postgres dbname=optin_relays: ' \
    "$MILTER_LOG"

# 4. PostgreSQL is back: the kept mail goes out, decided
pg_resume || e2e_fail "PostgreSQL restarts"
for r in a b; do
	relay_use $r
	pf_flush
	postqueue -c "$PF_CONF" -f 2>/dev/null
done
for r in a b; do
	relay_use $r
	pf_wait_empty 100 || e2e_fail "relay $r: queue empties after the database is back"
done
for r in a b; do
	e2e_check_eq "relay $(echo $r | tr ab AB): queued message to bob only" \
	    "$(rcpts_of 4$r)" "bob@example.com "
	e2e_check_eq "relay $(echo $r | tr ab AB): refused SMTP message never delivered" \
	    "$(rcpts_of 3$r)" ""
done
e2e_check_eq "quarantine after recovery: ann and dave, from both relays" \
    "$(pg_sql optin_relays "select message_id || ':' || recipient || '=' || reason from quarantine where message_id like '<relays-4%' order by 1" | tr '\n' ' ')" \
    "<relays-4a@example.com>:ann@example.com=opted_out <relays-4a@example.com>:dave@example.com=no_consent <relays-4b@example.com>:ann@example.com=opted_out <relays-4b@example.com>:dave@example.com=no_consent "
relay_use a
pf_send news@example.com bob@example.com "$(msg 5)" >/dev/null
pf_wait_empty 30
e2e_check_eq "relay A takes SMTP mail again" "$(rcpts_of 5)" "bob@example.com "
e2e_done
