# t-copy-lost.sh - optinctl copy-store when a PostgreSQL connection is lost
# (sourced by run.sh, after t-copy-store.sh; SQLite runs only, as that
# file: it starts its own private PostgreSQL, tests/lib/pg.sh).  A lost
# connection is reset and its statement run again only outside a
# transaction of ours (store_pgsql_conn.c); the copy is one transaction on
# the target and one snapshot of the source, so whatever is lost, and
# whenever: exit 75 (EX_TEMPFAIL) with the database and table named, the
# target as it was, and the same copy run again works; or, when the
# commit went through, 0 and every row there.  Never 65 (the data is not
# at fault), never some rows.
#
# Mid-copy: a trigger on the target sleeps in its INSERT INTO
# suppressions (below statement_timeout, 5 s); the suite waits until the
# backend sleeps (pg_stat_activity, bounded), then ends the target's
# backend, the source's, or the whole server (fast shutdown, then started
# again).  At the commit: tests/lib/pgcut.py relays the target's
# connection and cuts it at the COMMIT (not passed on; passed on and its
# answer lost; the server gone right after it), killed by its PID.

# lost_src - a SQLite source with rows in every table copy-store reads
# before suppressions and after it
new_db lostsrc
"$OPTINCTL" -c "$conf" subscribe ann@example.com news >/dev/null &&
"$OPTINCTL" -c "$conf" subscribe bob@example.com promo >/dev/null &&
"$OPTINCTL" -c "$conf" unsubscribe cy@example.com --all >/dev/null ||
    bad "copy lost: source set up"
lost_src=$db
lost_want="TABLE                  FROM         TO
lists                     3          3
subscriptions             2          2
suppressions              1          1
consent_events            3          3
quarantine                0          0
feedback                  0          0
campaign_pauses           0          0
campaign_sent             0          0"

# lost_rows DB - the rows of every table of PostgreSQL database DB, "a|b|..."
lost_rows() {
	pg_sql "$1" "SELECT (SELECT count(*) FROM lists) || '|' || (SELECT count(*) FROM subscriptions) || '|' || (SELECT count(*) FROM suppressions) || '|' || (SELECT count(*) FROM consent_events)"
}

# lost_target NAME - an empty, initialised PostgreSQL database NAME whose
# INSERT INTO suppressions sleeps 3 s
lost_target() {
	pg_createdb "$1" &&
	printf 'ConsentDB %s\nSyslog no\n' "$(pg_consentdb "$1")" \
	    > "$tmp/$1.conf" &&
	"$OPTINCTL" -c "$tmp/$1.conf" init >/dev/null &&
	pg_sql "$1" "CREATE FUNCTION nap() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END \$\$" &&
	pg_sql "$1" "CREATE TRIGGER nap AFTER INSERT ON suppressions FOR EACH STATEMENT EXECUTE FUNCTION nap()"
}

# lost_wait_nap NAME - wait (bounded, 10 s) until a backend of database
# NAME sleeps in the trigger
lost_wait_nap() {
	i=0
	while [ $i -lt 100 ]; do
		n=$(pg_sql postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND wait_event = 'PgSleep'")
		[ "$n" = 1 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# lost_kill NAME - end the backends of copy-store on database NAME
lost_kill() {
	pg_sql postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$1' AND application_name = 'optin-milter'" >/dev/null
}

# lost_case LABEL FROM TO FAULT WHO - copy FROM to the PostgreSQL database
# TO (lost_target), and while the trigger sleeps: FAULT "kill" ends the
# backends on database WHO, "halt" stops the server and starts it again
# (WHO: the database found lost first, TO's, whose backend was busy).
# Then: 75, the last line of stderr names WHO's database, TO empty; the
# trigger dropped, the same copy works.
lost_case() {
	label=$1 from=$2 to=$3 fault=$4 who=$5
	lost_target "$to" || { bad "$label: target set up"; return; }
	"$OPTINCTL" -c "$conf" copy-store "$from" "$(pg_consentdb "$to")" \
	    >"$tmp/lost.out" 2>"$tmp/lost.err" &
	cpid=$!
	if lost_wait_nap "$to"; then
		case $fault in
		kill) lost_kill "$who" ;;
		halt) pg_halt; pg_resume || bad "$label: server back" ;;
		esac
	else
		bad "$label: the copy reached the trigger"
	fi
	wait "$cpid"
	rc=$?
	err=$(tail -n 1 "$tmp/lost.err")
	case $rc:$err in
	"75:optinctl: ConsentDB "*"dbname=$who: "*) ok ;;
	*) bad "$label: 75 and the database named" "rc $rc" \
	    "stderr: $(cat "$tmp/lost.err")" "stdout: $(cat "$tmp/lost.out")" ;;
	esac
	# what the server said as it ended the connection comes through
	# optinctl's log, named, not as libpq's raw "FATAL:  ..." line
	if grep -qv '^optinctl: ' "$tmp/lost.err"; then
		bad "$label: every stderr line optinctl's" \
		    "stderr: $(cat "$tmp/lost.err")"
	else ok; fi
	got=$(lost_rows "$to")
	[ "$got" = "0|0|0|0" ] && ok || bad "$label: target as it was" "got: $got"
	pg_sql "$to" "DROP TRIGGER nap ON suppressions" >/dev/null
	check "$label: the same copy again" 0 "$lost_want" \
	    copy-store "$from" "$(pg_consentdb "$to")"
}

# lost_cut LABEL MODE TO [SQL] - copy lost_src to PostgreSQL database TO
# (SQL run on it first) through pgcut.py MODE; sets rc, out, err (all of
# stderr)
lost_cut() {
	label=$1 mode=$2 to=$3
	pg_createdb "$to" &&
	printf 'ConsentDB %s\nSyslog no\n' "$(pg_consentdb "$to")" \
	    > "$tmp/$to.conf" &&
	"$OPTINCTL" -c "$tmp/$to.conf" init >/dev/null &&
	{ [ -z "${4-}" ] || pg_sql "$to" "$4" >/dev/null; } ||
	    bad "$label: target set up"
	rm -f "$tmp/cut.port"
	$PY "$top_srcdir/tests/lib/pgcut.py" "$tmp/cut.port" "$PG_PORT" \
	    "$mode" &
	cutpid=$!
	i=0
	while [ ! -s "$tmp/cut.port" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	run copy-store "$lost_src" "pgsql:host=127.0.0.1 port=$(cat "$tmp/cut.port") user=postgres dbname=$to sslmode=disable"
	kill "$cutpid" 2>/dev/null
	wait "$cutpid" 2>/dev/null
	cutpid=
}

. "$(dirname "$0")/../lib/pg.sh"
if ! pg_start; then
	bad "copy lost: PostgreSQL starts"
else
	# PostgreSQL as TO: its backend ended, the server stopped
	lost_case "copy lost: TO's backend ended" "$lost_src" lostto1 kill \
	    lostto1
	lost_case "copy lost: TO's server stopped" "$lost_src" lostto2 halt \
	    lostto2
	# PostgreSQL as FROM (lostto1 holds the copy now), and as TO
	lost_case "copy lost: FROM's backend ended" "$(pg_consentdb lostto1)" \
	    lostto3 kill lostto1
	lost_case "copy lost: FROM's server stopped" "$(pg_consentdb lostto1)" \
	    lostto4 halt lostto4

	# the COMMIT never reaches the server: 75, nothing copied (the
	# target counted again on a new connection, as for a lost answer)
	lost_cut "copy lost: COMMIT not sent" nocommit lostc1
	case $rc:$err in
	"75:optinctl: ConsentDB "*"dbname=lostc1 "*": commit: "*": nothing copied") ok ;;
	*) bad "copy lost: COMMIT not sent: 75" "rc $rc" "stderr: $err" ;;
	esac
	got=$(lost_rows lostc1)
	[ "$got" = "0|0|0|0" ] && ok ||
	    bad "copy lost: COMMIT not sent: target as it was" "got: $got"

	# the server goes away right after the commit: the copy is there,
	# and said so (it was 75, from the counts read after the commit, and
	# the same copy again 73: the target not empty)
	lost_cut "copy lost: server gone after COMMIT" gone lostc2
	got=$(lost_rows lostc2)
	[ "$got" = "3|2|1|3" ] && ok ||
	    bad "copy lost: server gone after COMMIT: every row" "got: $got"
	if [ "$rc" = 0 ] && [ "$out" = "$lost_want" ]; then ok; else
		bad "copy lost: server gone after COMMIT: 0 and the counts" \
		    "rc $rc" "stdout: $out" "stderr: $err"
	fi

	# the COMMIT's answer is lost, the server committed: the copy looks
	# again, finds every row there, and says so (it was 75 with every
	# row committed: running it again gave 73)
	lost_cut "copy lost: COMMIT's answer lost" noreply lostc3
	got=$(lost_rows lostc3)
	[ "$got" = "3|2|1|3" ] && ok ||
	    bad "copy lost: COMMIT's answer lost: every row" "got: $got"
	case $rc:$err in
	"0:optinctl: ConsentDB "*"dbname=lostc3 "*": the answer to COMMIT was lost; the target holds every row: the copy is done
optinctl: copied to "*) ok ;;
	*) bad "copy lost: COMMIT's answer lost: 0, and why" "rc $rc" \
	    "stdout: $out" "stderr: $err" ;;
	esac
	# the connection is lost while the server is still committing (a
	# deferred trigger sleeps 2 s in the COMMIT, as a slow disk or a
	# synchronous standby would): the copy waits for that transaction to
	# end (DBBusyTimeout) before it counts again.  It counted at once,
	# found nothing, said 75 "nothing copied", and then the rows appeared
	# (the same copy again: 73).
	lost_nap="CREATE FUNCTION nap() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END \$\$; CREATE CONSTRAINT TRIGGER nap AFTER INSERT ON suppressions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION nap()"
	saveconf=$conf
	sed 's/^DBBusyTimeout .*/DBBusyTimeout 10000/' "$saveconf" > "$tmp/slow.conf"
	conf=$tmp/slow.conf
	lost_cut "copy lost: cut while committing" early lostc4 "$lost_nap"
	conf=$saveconf
	case $rc:$err in
	"0:optinctl: ConsentDB "*"dbname=lostc4 "*": the answer to COMMIT was lost; the target holds every row: the copy is done
optinctl: copied to "*) ok ;;
	*) bad "copy lost: cut while committing: 0, and why" "rc $rc" \
	    "stdout: $out" "stderr: $err" ;;
	esac
	got=$(lost_rows lostc4)
	[ "$got" = "3|2|1|3" ] && ok ||
	    bad "copy lost: cut while committing: every row" "got: $got"
	# the same, the commit longer than DBBusyTimeout (300 ms): 75, and
	# the state unknown (it was "nothing copied", then every row there)
	lost_cut "copy lost: cut while committing, past DBBusyTimeout" early \
	    lostc5 "$lost_nap"
	case $rc:$err in
	"75:optinctl: ConsentDB "*"dbname=lostc5 "*"lock timeout: whether the copy was committed is unknown: count the target's rows before running it again") ok ;;
	*) bad "copy lost: cut while committing, past DBBusyTimeout: 75, unknown" \
	    "rc $rc" "stdout: $out" "stderr: $err" ;;
	esac
	# counts that differ (a trigger on the target drops the suppression
	# copied in): 70, the counts shown, and nothing committed (the check
	# ran after the commit: 70 with the rows left in the target)
	pg_createdb lostm &&
	printf 'ConsentDB %s\nSyslog no\n' "$(pg_consentdb lostm)" \
	    > "$tmp/lostm.conf" &&
	"$OPTINCTL" -c "$tmp/lostm.conf" init >/dev/null &&
	pg_sql lostm "CREATE FUNCTION drop_supp() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN DELETE FROM suppressions; RETURN NULL; END \$\$" &&
	pg_sql lostm "CREATE TRIGGER drop_supp AFTER INSERT ON suppressions FOR EACH STATEMENT EXECUTE FUNCTION drop_supp()" ||
	    bad "copy lost: mismatch: target set up"
	run copy-store "$lost_src" "$(pg_consentdb lostm)"
	case $rc:$out:$err in
	"70:"*"suppressions              1          0  MISMATCH"*":optinctl: copy-store: row counts differ; nothing copied") ok ;;
	*) bad "copy lost: mismatch: 70" "rc $rc" "stdout: $out" "stderr: $err" ;;
	esac
	got=$(lost_rows lostm)
	[ "$got" = "0|0|0|0" ] && ok ||
	    bad "copy lost: mismatch: nothing committed" "got: $got"

	# what the server says beside an answer (a trigger's RAISE WARNING,
	# as a server ending a connection says FATAL) comes through
	# optinctl's log, with the database named; a NOTICE only at debug
	# level.  libpq's default printed "WARNING:  ..." raw on stderr (a
	# daemon's stderr is /dev/null: lost)
	pg_createdb lostn &&
	printf 'ConsentDB %s\nSyslog no\n' "$(pg_consentdb lostn)" \
	    > "$tmp/lostn.conf" &&
	"$OPTINCTL" -c "$tmp/lostn.conf" init >/dev/null &&
	pg_sql lostn "CREATE FUNCTION say() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE NOTICE 'a notice'; RAISE WARNING 'lists written'; RETURN NULL; END \$\$" &&
	pg_sql lostn "CREATE TRIGGER say AFTER INSERT ON lists FOR EACH STATEMENT EXECUTE FUNCTION say()" ||
	    bad "copy lost: server notices: target set up"
	run copy-store "$lost_src" "$(pg_consentdb lostn)"
	case $rc:$err in
	*NOTICE*) bad "copy lost: server notices: no NOTICE below debug level" \
	    "stderr: $err" ;;
	"0:warning: ConsentDB "*"dbname=lostn: server WARNING: lists written
"*"optinctl: copied to "*) ok ;;
	*) bad "copy lost: server notices: 0, the WARNING in optinctl's log" \
	    "rc $rc" "stderr: $err" ;;
	esac
	# a warning per row (here 500 from one statement) is not one log line
	# each: ten a minute per connection, then one line saying so
	pg_createdb lostf &&
	printf 'ConsentDB %s\nSyslog no\n' "$(pg_consentdb lostf)" \
	    > "$tmp/lostf.conf" &&
	"$OPTINCTL" -c "$tmp/lostf.conf" init >/dev/null &&
	pg_sql lostf "CREATE FUNCTION say() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN FOR i IN 1..500 LOOP RAISE WARNING 'row %', i; END LOOP; RETURN NULL; END \$\$" &&
	pg_sql lostf "CREATE TRIGGER say AFTER INSERT ON lists FOR EACH STATEMENT EXECUTE FUNCTION say()" ||
	    bad "copy lost: server warning flood: target set up"
	run copy-store "$lost_src" "$(pg_consentdb lostf)"
	n=$(printf '%s\n' "$err" | grep -c 'server WARNING')
	case $rc:$n:$err in
	"0:10:"*"dbname=lostf: server WARNING: row 10
warning: ConsentDB "*"dbname=lostf: further server warnings on this connection are not logged for a minute
"*) ok ;;
	*) bad "copy lost: server warning flood: 10 lines, then one saying so" \
	    "rc $rc" "lines: $n" "stderr: $(printf '%s' "$err" | head -c 2000)" ;;
	esac

	pg_stop
fi
