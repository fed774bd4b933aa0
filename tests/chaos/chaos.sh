#!/bin/bash
# chaos.sh - one chaos run (issue 15 item 2): campaign mail through the real
# Postfix and the milter while faults hit them at random moments, then an
# exact account of every recipient of every message (account.py).
#
# Set-up: tests/e2e/lib.sh and optin-setup.sh (sink, private Postfix with
# milter_default_action = tempfail, the milter, DKIM key); a population of
# people in every consent state on the lists news, newsletter and events;
# the quarantine directory is a small tmpfs mounted for the run.  send.py
# sends CHAOS_MESSAGES messages (1-6 recipients each: mixed consent, split)
# with CHAOS_CLIENTS clients, retrying 4xx like a real client.
#
# Faults, until the client has settled 90% of its messages (and until each
# kind has happened once, if that is quicker): each kind once (0.2-1 s
# apart, in a seeded order), then one every 0.5-3 s, chosen
# with bash's RANDOM seeded by CHAOS_SEED (printed; same seed, same fault
# sequence and messages; the moments depend on the machine):
#   kill9     kill -9 the milter, start it again 0.2-2 s later
#   term      kill -TERM the milter, wait for it to exit, start it again
#   lockdb    SQLite: hold the write lock (tests/lib/lockdb.sh) for 1-3 s,
#             past DBBusyTimeout (300 ms)
#   fullfs    fill the quarantine tmpfs to the last byte for 1-3 s
#   pgrestart PostgreSQL: stop the server, start it again 0.5-2 s later
# Then: the milter healthy (restarted if needed), every fault undone, the
# client's retries, `postqueue -f` and a bounded wait for an empty queue
# (CHAOS_DRAIN seconds), and the accounting.
#
# Environment: CHAOS_STORE sqlite|pgsql [sqlite], CHAOS_MESSAGES [300],
# CHAOS_FAULTS [all kinds the engine has: "kill9 term fullfs lockdb" or
# "kill9 term fullfs pgrestart"; a subset, e.g. "fullfs lockdb", runs only
# those],
# CHAOS_SEED [from the clock], CHAOS_CLIENTS [4], CHAOS_RATE [0: as fast as
# the relay takes them; messages a second otherwise], CHAOS_MAX_FAULTS [0: no
# limit], CHAOS_DRAIN [90], CHAOS_TMPFS_MB [32 + 1 per 40 messages],
# CHAOS_ATTEMPTS [40: the client's attempts per message before it gives
# up; about 3 minutes of retries], CHAOS_RESULT (file for account.py's JSON
# counts).
# Prints "chaos-STORE: N passed, N failed".  Runs as root.

. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/optin-setup.sh"
. "$(dirname "$0")/../lib/lockdb.sh"

STORE=${CHAOS_STORE:-sqlite}
export OPTIN_STORE=$STORE
COUNT=${CHAOS_MESSAGES:-300}
SEED=${CHAOS_SEED:-$(( $(date +%s) % 1000000 ))}
CLIENTS=${CHAOS_CLIENTS:-4}
RATE=${CHAOS_RATE:-0}
MAXF=${CHAOS_MAX_FAULTS:-0}
DRAIN=${CHAOS_DRAIN:-90}
TMPFS_MB=${CHAOS_TMPFS_MB:-$(( COUNT / 40 + 32 ))}
HERE=$(cd "$(dirname "$0")" && pwd)
QMOUNT=""
LOCKDB_PID=""

e2e_init "chaos-$STORE"
echo "# chaos-$STORE: seed $SEED, $COUNT messages, $CLIENTS clients" >&2
echo "seed $SEED"
RANDOM=$SEED

# chaos_cleanup - undo the faults, stop the milter, unmount, then the rest
chaos_cleanup()
{
	unlock_db
	milter_stop
	if [ -n "$QMOUNT" ]; then
		umount "$QMOUNT" 2>/dev/null || umount -l "$QMOUNT"
		QMOUNT=""
	fi
	e2e_cleanup
}
trap chaos_cleanup EXIT

# rnd LO HI - a seeded random integer in [LO, HI]
rnd()
{
	echo $(( $1 + RANDOM % ($2 - $1 + 1) ))
}

# ms N - N milliseconds as seconds for sleep
ms()
{
	printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 ))
}

# --- set-up: the quarantine tmpfs first (optin_setup makes the directory)
sink_start || { e2e_fail "sink starts"; e2e_done; }
QDIR=$PF_BASE/optin/quarantine
mkdir -p -m 0700 "$PF_BASE/optin" "$QDIR"
if mount -t tmpfs -o "size=${TMPFS_MB}m,mode=0700" chaos-quarantine "$QDIR"; then
	QMOUNT=$QDIR
else
	e2e_fail "quarantine tmpfs mounted"; e2e_done
fi
# SplitHandoverWait 20s: a copy whose hand-over was cut by a kill is held
# (handover_unknown) after 20 s, within the client's 30 attempts
optin_setup "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem" "DBBusyTimeout 300" \
    "SplitHandoverWait 20s" ||
	{ e2e_fail "consent database set up"; e2e_done; }
CONF=$OPTIN_DIR/optin-milter.conf

# the population: PEOPLE file "address state", the same state on all lists
PEOPLE=$PF_BASE/people
: > "$PEOPLE"
for i in $(seq -w 1 14); do echo "in$i@example.com opted_in"; done >> "$PEOPLE"
for i in $(seq -w 1 5); do echo "out$i@example.com opted_out"; done >> "$PEOPLE"
for i in $(seq -w 1 3); do echo "pend$i@example.com pending"; done >> "$PEOPLE"
for i in $(seq -w 1 3); do echo "sup$i@example.com suppressed"; done >> "$PEOPLE"
for i in $(seq -w 1 5); do echo "none$i@example.com no_consent"; done >> "$PEOPLE"
# one import (optinctl import, CSV "optin" format), then the suppressions
{
	echo "address,status,list,source"
	while read -r a st; do
		case $st in
		opted_in|suppressed) st=opted_in ;;
		opted_out|pending) ;;
		*) continue ;;
		esac
		for l in news newsletter events; do echo "$a,$st,$l,chaos"; done
	done < "$PEOPLE"
} > "$PF_BASE/people.csv"
setup_ok=0
"$OPTINCTL" -c "$CONF" import "$PF_BASE/people.csv" --strict >/dev/null ||
    setup_ok=1
for a in $(awk '$2 == "suppressed" { print $1 }' "$PEOPLE"); do
	"$OPTINCTL" -c "$CONF" unsubscribe "$a" --all >/dev/null || setup_ok=1
done
e2e_check_eq "population in the consent database" "$setup_ok" 0

# templates: corpus campaigns with one From field
TPLS=""
for f in ours_crm_campaign_html.eml ours_newsletter_multipart.eml \
    dkimpy_test.message cpython_msg_10.txt rspamd_aliases_plus.eml; do
	[ -f "$OPTIN_CORPUS/$f" ] && ! optin_two_from "$OPTIN_CORPUS/$f" &&
	    TPLS="$TPLS $OPTIN_CORPUS/$f"
done
[ -n "$TPLS" ] || { e2e_fail "corpus templates found in $OPTIN_CORPUS"; e2e_done; }

milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }
# a split copy that pickup could not pass to the milter (it was down) stays
# in maildrop until pickup's next wake-up: every 5 s, not 60
postconf -c "$PF_CONF" -F 'pickup/unix/wakeup = 5' && pf_reload
e2e_ok "sink, quarantine tmpfs, milter and postfix start"

# milter_restart - start the milter again (after it exited)
milter_restart()
{
	milter_start "$CONF" 2>>"$PF_BASE/chaos.log" ||
	    echo "restart failed" >> "$PF_BASE/chaos.log"
}

# milter_gone WANT - wait (bounded) until the milter process has exited;
# an exit status other than WANT (137 after kill -9, 0 after TERM; 139 is
# a segmentation fault) is written to chaos.log and counted in CRASHES
CRASHES=0
milter_gone()
{
	local i rc
	for i in $(seq 100); do
		kill -0 "$MILTER_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$MILTER_PID" 2>/dev/null
	rc=$?
	if [ "$rc" != "$1" ]; then
		CRASHES=$((CRASHES + 1))
		echo "milter pid $MILTER_PID exited with status $rc, not $1" \
		    "(128+N: signal N)" >> "$PF_BASE/chaos.log"
	fi
}

# fault NAME - one fault, undone before it returns
declare -A FAULTS
fault()
{
	FAULTS[$1]=$(( ${FAULTS[$1]:-0} + 1 ))
	echo "$(date +%T.%N | cut -c1-12) fault $1" >> "$PF_BASE/chaos.log"
	case $1 in
	kill9|term)
		if [ "$1" = kill9 ]; then
			kill -KILL "$MILTER_PID" 2>/dev/null
		else
			kill -TERM "$MILTER_PID" 2>/dev/null
		fi
		if [ "$1" = kill9 ]; then
			milter_gone 137
		else
			milter_gone 0
		fi
		sleep "$(ms "$(rnd 200 2000)")"
		milter_restart ;;
	lockdb)
		lock_db "$OPTIN_DIR/consent.db" "$PF_BASE/lock.flag" &&
		    sleep "$(ms "$(rnd 1000 3000)")"
		unlock_db ;;
	fullfs)
		dd if=/dev/zero of="$QDIR/.chaos-fill" bs=64k 2>/dev/null
		sleep "$(ms "$(rnd 1000 3000)")"
		rm -f "$QDIR/.chaos-fill" ;;
	pgrestart)
		pg_halt
		sleep "$(ms "$(rnd 500 2000)")"
		pg_resume >/dev/null 2>&1 ||
		    echo "pg_resume failed" >> "$PF_BASE/chaos.log" ;;
	esac
}

kinds="kill9 term fullfs"
if [ "$STORE" = pgsql ]; then
	kinds="$kinds pgrestart"
else
	kinds="$kinds lockdb"
fi
kinds=${CHAOS_FAULTS:-$kinds}
set -- $kinds
nkinds=$#

LEDGER=$PF_BASE/ledger.jsonl
CALM=$PF_BASE/calm
start=$(date +%s)
"$PY" "$HERE/send.py" --port "$PF_PORT" --seed "$SEED" --count "$COUNT" \
    --people "$PEOPLE" --ledger "$LEDGER" --calm "$CALM" \
    --clients "$CLIENTS" --rate "$RATE" --attempts "${CHAOS_ATTEMPTS:-40}" \
    --templates $TPLS 2>"$PF_BASE/send.err" &
SEND_PID=$!
e2e_track_pid "$SEND_PID"

# faults until the client has settled 90% of the messages, and until every
# kind has happened (bounded by the client, which gives up after its
# attempts)
nf=0
i=0
kinds_done()
{
	[ "${#FAULTS[@]}" -ge "$nkinds" ]
}
while kill -0 "$SEND_PID" 2>/dev/null && { [ ! -e "$CALM" ] || ! kinds_done; }; do
	if [ "$i" -lt "$nkinds" ]; then
		sleep "$(ms "$(rnd 200 1000)")"
	else
		sleep "$(ms "$(rnd 500 3000)")"
	fi
	[ -e "$CALM" ] && kinds_done && break
	kill -0 "$SEND_PID" 2>/dev/null || break
	[ "$MAXF" -gt 0 ] && [ "$nf" -ge "$MAXF" ] && continue
	# each kind once first (in a seeded order), then any
	if [ "$i" -lt "$nkinds" ]; then
		k=$(( (i + SEED) % nkinds + 1 ))
	else
		k=$(( RANDOM % nkinds + 1 ))
	fi
	i=$((i + 1))
	fault "${!k}"
	nf=$((nf + 1))
done
t1=$(date +%s)
e2e_log "chaos over after $((t1 - start)) s, faults: $(for k in "${!FAULTS[@]}"; do printf '%s=%s ' "$k" "${FAULTS[$k]}"; done)"
kill -0 "$MILTER_PID" 2>/dev/null || milter_restart
e2e_check "milter healthy after the faults" kill -0 "$MILTER_PID"
e2e_check "every fault kind happened" test "${#FAULTS[@]}" -eq "$nkinds"

# the client's retries (bounded by its attempts), then drain the queue
wait_bounded=$(( DRAIN + COUNT / 2 ))
for j in $(seq $(( wait_bounded * 5 ))); do
	kill -0 "$SEND_PID" 2>/dev/null || break
	sleep 0.2
done
e2e_check "client finished" sh -c "! kill -0 $SEND_PID 2>/dev/null"
pf_flush
pf_wait_empty "$DRAIN" 2>/dev/null || {
	pf_flush
	pf_wait_empty 10 2>/dev/null
}
e2e_log "drained after $(( $(date +%s) - t1 )) s; $(pf_queue_count) left in the queue"

"$PY" "$HERE/account.py" --ledger "$LEDGER" --people "$PEOPLE" \
    --sink "$SINK_DIR" --optinctl "$OPTINCTL" --conf "$CONF" --spool "$QDIR" \
    --pfconf "$PF_CONF" --count "$COUNT" --details "$PF_BASE/violations.txt" \
    --json "${CHAOS_RESULT:-$PF_BASE/result.json}" \
    > "$PF_BASE/account.out" 2>&1
arc=$?
cat "$PF_BASE/account.out"
e2e_check_eq "every recipient accounted for (seed $SEED)" "$arc" 0
e2e_check_eq "no milter crash in its log" \
    "$(grep -ciE 'assert|segfault|abort' "$MILTER_LOG")" 0
e2e_check_eq "the milter exits 0 on TERM (no crash; see chaos.log)" \
    "$CRASHES" 0
if [ "$arc" != 0 ] || [ "$CRASHES" != 0 ]; then
	echo "--- faults (seed $SEED)"; cat "$PF_BASE/chaos.log"
	tail -n 5 "$PF_BASE/send.err"
fi
e2e_done
