#!/bin/sh
# tests/ctl/run.sh - optinctl verbs of ctl_consent.c and main(): exact output
# and exit codes, --json parsed by Python, consent events read back with
# Python's sqlite3, a database locked by another process; then t-import.sh,
# t-dsar.sh, t-quarantine.sh, t-stats.sh, t-erasure-key.sh,
# t-copy-store.sh, t-copy-lost.sh and t-quarops.sh (sourced, same
# helpers) for the other verbs; CTL_TESTS="t-copy-lost.sh" runs only the
# files it names, after the checks of this file.
#
# Finds optinctl through $top_builddir (default "."); works in a mktemp
# directory; the one helper process it starts (the lock holder) is killed
# by PID on exit.  Last line: "optinctl: N passed, N failed".
#
# OPTIN_STORE=pgsql (tests/pgsql/run.sh): every database is a PostgreSQL
# database of one private server (tests/lib/db.sh); the checks of SQLite's
# own behaviour (file modes, WAL, the write lock) run on SQLite only.
# Tests read the database with sql/sqlx (db.sh: either engine), never with
# sqlite3 directly.

top_builddir=${top_builddir:-.}
OPTINCTL=$top_builddir/optinctl
PY=/usr/bin/python3

if [ ! -x "$OPTINCTL" ]; then
	echo "no $OPTINCTL (build first)" >&2
	echo "optinctl: 0 passed, 1 failed"
	exit 1
fi
case $OPTINCTL in /*) ;; *) OPTINCTL=$(pwd)/$OPTINCTL ;; esac

tmp=$(mktemp -d /tmp/optinctl-test.XXXXXX) || exit 1
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
. "$top_srcdir/tests/lib/db.sh"
lockpid=
cleanup() {
	if [ -n "$lockpid" ]; then kill "$lockpid" 2>/dev/null; fi
	# the relay of t-copy-lost.sh (tests/lib/pgcut.py)
	if [ -n "${cutpid:-}" ]; then kill "$cutpid" 2>/dev/null; fi
	# the PostgreSQL of db_start or t-copy-store.sh (tests/lib/pg.sh)
	pg_stop
	rm -rf "$tmp"
}
# lock_db DB - hold the write lock of DB from another process (PID in
# $lockpid) until unlock_db; returns non-zero if it did not start
lock_db() {
	rm -f "$tmp/locked"
	$PY -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(20)' "$1" "$tmp/locked" &
	lockpid=$!
	i=0
	while [ ! -e "$tmp/locked" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -e "$tmp/locked" ]
}
unlock_db() {
	kill "$lockpid" 2>/dev/null
	wait "$lockpid" 2>/dev/null
	lockpid=
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# events name who ran optinctl (user_agent "optinctl user=U[ sudo_user=S]"):
# the tests set SUDO_USER themselves where they want it
unset SUDO_USER
me=$(id -un)

if ! db_start; then
	echo "optinctl: 0 passed, 1 failed (PostgreSQL did not start)"
	exit 1
fi
db=$(db_new consent "$tmp")
conf=$tmp/optin-milter.conf
cat > "$conf" <<EOF
ConsentDB $db
DBBusyTimeout 300
Syslog no
EOF

pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL $1" >&2
	shift
	for line in "$@"; do echo "    $line" >&2; done
}

# run ARGS... - optinctl -c $conf ARGS; sets out, err, rc
run() {
	out=$("$OPTINCTL" -c "$conf" "$@" 2>"$tmp/stderr")
	rc=$?
	err=$(cat "$tmp/stderr")
}

# check LABEL WANT_RC WANT_STDOUT ARGS... - exact stdout and exit code
check() {
	label=$1 want_rc=$2 want_out=$3
	shift 3
	run "$@"
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
		ok
	else
		bad "$label" "args: $*" "rc got $rc, want $want_rc" \
		    "stdout got: $out" "stdout want: $want_out" "stderr: $err"
	fi
}

# check_err LABEL WANT_RC WANT_STDERR ARGS... - exit code, exact stderr,
# empty stdout
check_err() {
	label=$1 want_rc=$2 want_err=$3
	shift 3
	run "$@"
	if [ "$rc" = "$want_rc" ] && [ "$err" = "$want_err" ] && \
	    [ -z "$out" ]; then
		ok
	else
		bad "$label" "args: $*" "rc got $rc, want $want_rc" \
		    "stderr got: $err" "stderr want: $want_err" "stdout: $out"
	fi
}

# check_both LABEL WANT_RC WANT_STDOUT WANT_STDERR ARGS... - exit code,
# exact stdout and exact stderr
check_both() {
	label=$1 want_rc=$2 want_out=$3 want_err=$4
	shift 4
	run "$@"
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ] && \
	    [ "$err" = "$want_err" ]; then
		ok
	else
		bad "$label" "args: $*" "rc got $rc, want $want_rc" \
		    "stdout got: $out" "stdout want: $want_out" \
		    "stderr got: $err" "stderr want: $want_err"
	fi
}

# check_json LABEL WANT_RC PYEXPR ARGS... - stdout is one JSON object d
# for which the Python expression PYEXPR is true
check_json() {
	label=$1 want_rc=$2 expr=$3
	shift 3
	run "$@"
	if [ "$rc" = "$want_rc" ] && printf '%s' "$out" | $PY -c '
import json, sys
d = json.loads(sys.stdin.read())
sys.exit(0 if eval(sys.argv[1]) else 1)' "$expr" 2>"$tmp/pyerr"; then
		ok
	else
		bad "$label" "args: $*" "rc got $rc, want $want_rc" \
		    "stdout: $out" "want: $expr" "$(cat "$tmp/pyerr")" \
		    "stderr: $err"
	fi
}

# sql QUERY - the rows of QUERY on $db (either engine, db.sh)
sql() {
	db_sql "$db" "$1"
}

# sqlx QUERY... - run statements on $db and commit
sqlx() {
	db_exec "$db" "$@"
}

# qrow ID SENDER RCPT LIST REASON SPOOL RECEIVED - a quarantine row as the
# milter writes it
qrow() {
	sqlx "INSERT INTO quarantine (id, queue_id, message_id, sender, recipient, list_id, reason, spool_file, received_at) VALUES ($1, 'Q$1', '<m$1@example.com>', '$2', '$3', '$4', '$5', '$6', $7)"
}

# check_sql LABEL WANT QUERY
check_sql() {
	got=$(sql "$3")
	if [ "$got" = "$2" ]; then
		ok
	else
		bad "$1" "query: $3" "got: $got" "want: $2"
	fi
}

# --- before the database exists -------------------------------------------

if ! db_pgsql; then
check_err "status without database" 66 \
    "optinctl: ConsentDB $db: no such file (create it with optinctl init)" \
    status ann@example.com
printf 'ConsentDB %s/nodir/c.db\n' "$tmp" > "$tmp/nodir.conf"
check_err "init in a missing directory" 73 \
    "optinctl: ConsentDB $tmp/nodir/c.db: cannot create: unable to open database file (directory $tmp/nodir (to create c.db): No such file or directory)" \
    -c "$tmp/nodir.conf" init
if [ ! -e "$tmp/nodir" ]; then ok; else
	bad "init made no directory" "$tmp/nodir exists"; fi
fi

printf 'ConsentDB %s\nNoSuchKey 1\n' "$db" > "$tmp/bad.conf"
out=$("$OPTINCTL" -c "$tmp/bad.conf" status ann@example.com 2>"$tmp/stderr")
rc=$?
if [ "$rc" = 78 ] && grep -q "bad.conf:2: NoSuchKey" "$tmp/stderr"; then ok
else bad "config error" "rc got $rc, want 78" "stderr: $(cat "$tmp/stderr")"
fi

# --- init, migrate -------------------------------------------------------

check "init creates" 0 "created $db (schema version 4)" init
v=$(db_version "$db")
if [ "$v" = 4 ]; then ok; else bad "schema version" "got $v, want 4"; fi
if ! db_pgsql; then
	mode=$(stat -c %a "$db")
	if [ "$mode" = 600 ]; then ok; else
		bad "database mode" "got $mode, want 600"; fi
	check_sql "journal mode" wal "PRAGMA journal_mode"
fi
check "init again" 0 "$db: schema version 4, nothing to do" init
check_json "init --json" 0 \
    'd == {"database": "'"$db"'", "created": False, "version": 4}' \
    --json init
check "migrate" 0 "schema is at version 4" migrate
check_json "migrate --json" 0 'd == {"from": 4, "to": 4}' migrate --json
# optinctl(8) names every PostgreSQL step that migrate runs
for f in "$top_srcdir"/sql/pgsql/[0-9]*.sql; do
	n=$(basename "$f")
	f=$(printf '%s\n' "$n" | sed 's/-/\\\\-/')
	if grep -qx "\.IR $f ,\{0,1\})\{0,1\},\{0,1\}" "$top_srcdir/milter/optinctl.8.in"
	then ok; else bad "optinctl.8 names sql/pgsql/$n under migrate"; fi
done
# a database of version 2 gets the split hand-over records (sqlite-003)
# and loses the index of subscriptions by list (sqlite-004)
if ! db_pgsql; then
	sqlx "DROP TABLE handover"
	sqlx "CREATE INDEX subscriptions_list ON subscriptions (list_id, status)"
	sqlx "PRAGMA user_version = 2"
	check "migrate from version 2" 0 "migrated schema from version 2 to 4" migrate
	check_sql "migrate: hand-over table" "handover" \
	    "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table' AND name = 'handover'"
	check_sql "migrate: no list index" 0 \
	    "SELECT count(*) FROM sqlite_master WHERE name = 'subscriptions_list'"
	check_sql "migrate: version" 4 "PRAGMA user_version"
	# version 3 (the list index still there) is used as it is, with a
	# warning, until migrate drops the index; version 2 is refused
	sqlx "CREATE INDEX subscriptions_list ON subscriptions (list_id, status)"
	sqlx "PRAGMA user_version = 3"
	check "init on version 3" 0 "$db: schema version 3, nothing to do" init
	if [ "$err" = "optinctl: warning: ConsentDB $db: schema version 3, this build knows version 4 (run optinctl migrate)" ]
	then ok; else bad "init on version 3: warning" "stderr: $err"; fi
	check "list ls on version 3" 0 \
	    "LIST             DOI   OPTED_IN  PENDING OPTED_OUT  NAME" list ls
	# every verb warns, not only init
	if [ "$err" = "optinctl: warning: ConsentDB $db: schema version 3, this build knows version 4 (run optinctl migrate)" ]
	then ok; else bad "list ls on version 3: warning" "stderr: $err"; fi
	# the warning names a long path in full, and a file readable by
	# others does not hide it: both remarks, on one line
	v3dir=$tmp/$(printf 'v3%.0s' $(seq 100))
	mkdir "$v3dir"
	sqlx "VACUUM INTO '$v3dir/v3.db'"
	chmod 600 "$v3dir/v3.db"
	printf 'ConsentDB %s\nSyslog no\n' "$v3dir/v3.db" > "$tmp/v3.conf"
	w3="ConsentDB $v3dir/v3.db: schema version 3, this build knows version 4 (run optinctl migrate)"
	out=$("$OPTINCTL" -c "$tmp/v3.conf" init 2>"$tmp/stderr"); rc=$?
	if [ "$rc" = 0 ] && [ "$(cat "$tmp/stderr")" = "optinctl: warning: $w3" ]
	then ok; else bad "init on version 3, a long path: the whole warning" \
	    "rc $rc" "stderr: $(cat "$tmp/stderr")"; fi
	chmod 644 "$v3dir/v3.db"
	out=$("$OPTINCTL" -c "$tmp/v3.conf" init 2>"$tmp/stderr"); rc=$?
	if [ "$rc" = 0 ] && [ "$(cat "$tmp/stderr")" = "optinctl: warning: $v3dir/v3.db has mode 0644, should be 0600; $w3" ]
	then ok; else bad "init on version 3, mode 644: both warnings" \
	    "rc $rc" "stderr: $(cat "$tmp/stderr")"; fi
	# migrate is the act for the schema, not for the file's mode: a file
	# readable by others is still said (migrate said nothing at all)
	out=$("$OPTINCTL" -c "$tmp/v3.conf" migrate 2>"$tmp/stderr"); rc=$?
	if [ "$rc" = 0 ] && [ "$out" = "migrated schema from version 3 to 4" ] &&
	    [ "$(cat "$tmp/stderr")" = "optinctl: warning: $v3dir/v3.db has mode 0644, should be 0600" ]
	then ok; else bad "migrate on version 3, mode 644: the mode warning only" \
	    "rc $rc" "stdout: $out" "stderr: $(cat "$tmp/stderr")"; fi
	sqlx "PRAGMA user_version = 2"
	check_err "list ls on version 2" 69 \
	    "optinctl: ConsentDB $db: schema version 2, this build knows version 4 (run optinctl migrate)" \
	    list ls
	sqlx "PRAGMA user_version = 3"
	check "migrate from version 3" 0 "migrated schema from version 3 to 4" migrate
	if [ -z "$err" ]; then ok; else bad "migrate from version 3: no warning" "stderr: $err"; fi
	check_sql "migrate 3: no list index" 0 \
	    "SELECT count(*) FROM sqlite_master WHERE name = 'subscriptions_list'"
fi
if db_pgsql; then
	# version 3 on PostgreSQL: step 4's DROP INDEX needs subscriptions to
	# itself; a reader holding it past DBBusyTimeout makes migrate exit 75
	# with the reason and change nothing (it said "migrated" and exit 0)
	pgidx="SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'subscriptions_list'"
	sqlx "CREATE INDEX subscriptions_list ON subscriptions (list_id, status)"
	db_set_version "$db" 3
	PGAPPNAME=optin-test-reader db_psql "$db" -c "BEGIN; LOCK TABLE subscriptions IN ACCESS SHARE MODE; SELECT pg_sleep(30); COMMIT" >/dev/null 2>&1 &
	lockpid=$!
	i=0
	while [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'optin-test-reader' AND l.relation = 'subscriptions'::regclass AND l.granted")" != 1 ] &&
	    [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	check_err "migrate from version 3 while a reader holds subscriptions" 75 \
	    "optinctl: ConsentDB ${db#pgsql:}: migrate: ERROR:  canceling statement due to lock timeout" \
	    migrate
	check_sql "migrate refused: version" 3 "SELECT max(version) FROM optin_schema"
	check_sql "migrate refused: the list index stays" 1 "$pgidx"
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'optin-test-reader'" >/dev/null
	wait "$lockpid" 2>/dev/null
	lockpid=
	check "migrate from version 3, the reader gone" 0 \
	    "migrated schema from version 3 to 4" migrate
	check_sql "migrate 3: version" 4 "SELECT max(version) FROM optin_schema"
	check_sql "migrate 3: no list index" 0 "$pgidx"
fi
check_err "init takes no arguments" 64 \
    "usage: optinctl [-c FILE] [--json] init" init extra

# --- lists ---------------------------------------------------------------

check "list add" 0 "added list news" list add news --name "The News"
check "list add double opt-in" 0 "added list promo (double opt-in)" \
    list add promo --double-opt-in
check_json "list add --json" 0 \
    'd == {"list": "misc", "name": None, "double_opt_in": False}' \
    --json list add misc
check_err "list add existing" 65 "optinctl: list 'news' exists" \
    list add news
check_err "list add bad name" 64 \
    "optinctl list add: bad LIST 'a b' (1 to 64 letters, digits, '.', '_', '-', starting with a letter or digit)" \
    list add "a b"
check_err "list add without name" 64 \
    "usage: optinctl [-c FILE] [--json] list add LIST [--name N] [--double-opt-in] | list ls" \
    list add
check_err "list unknown option" 64 "optinctl list: unknown option '--bogus'
usage: optinctl [-c FILE] [--json] list add LIST [--name N] [--double-opt-in] | list ls" \
    list add x --bogus
check_err "list without subverb" 64 \
    "usage: optinctl [-c FILE] [--json] list add LIST [--name N] [--double-opt-in] | list ls" \
    list

# --- subscribe, confirm, unsubscribe -------------------------------------

check "subscribe" 0 "ann@example.com list=news state=opted_in" \
    subscribe "<Ann@Example.COM>" news --evidence "signup form 12"
check "subscribe double opt-in" 0 "ann@example.com list=promo state=pending" \
    subscribe ann@example.com promo --source crm
check_err "confirm not pending" 65 \
    "optinctl: ann@example.com is not pending on list news (state opted_in)" \
    confirm ann@example.com news
check_err "confirm never seen" 65 \
    "optinctl: bob@example.com is not pending on list news (state no_consent)" \
    confirm bob@example.com news
check "confirm" 0 "ann@example.com list=promo state=opted_in" \
    confirm ann@example.com promo --source web --evidence "link clicked"
check "subscribe again on double opt-in stays opted in" 0 \
    "ann@example.com list=promo state=opted_in" subscribe ann@example.com promo
check_json "subscribe --json" 0 \
    'd == {"address": "bob@example.com", "list": "promo", "state": "pending"}' \
    subscribe bob@example.com promo --json
check "subscribe, IDN domain" 0 \
    "cy@xn--bcher-kva.example list=news state=opted_in" \
    subscribe "cy@bücher.example" news
check_err "subscribe unknown list" 65 "optinctl: no such list 'nosuch'" \
    subscribe ann@example.com nosuch
check_err "subscribe bad address" 65 \
    "optinctl: bad address 'ann.example.com': no '@' in address" \
    subscribe ann.example.com news
check_err "subscribe missing list" 64 \
    "usage: optinctl [-c FILE] [--json] subscribe ADDR LIST [--source S] [--evidence E]" \
    subscribe ann@example.com
check_err "subscribe --source without value" 64 \
    "optinctl subscribe: option '--source' needs a value
usage: optinctl [-c FILE] [--json] subscribe ADDR LIST [--source S] [--evidence E]" \
    subscribe ann@example.com news --source
check_err "subscribe empty source" 65 \
    "optinctl subscribe: bad --source (1 to 64 printable characters)" \
    subscribe ann@example.com news --source ""
# text that is not UTF-8 is the user's error on both engines (PostgreSQL
# refused it as a database error, SQLite stored it)
check_err "subscribe --source not UTF-8" 65 \
    "optinctl subscribe: bad --source (1 to 64 printable characters)" \
    subscribe ann@example.com news --source "$(printf 'crm\351')"
check_err "subscribe --evidence not UTF-8" 65 \
    "optinctl subscribe: bad --evidence (at most 1024 printable characters)" \
    subscribe ann@example.com news --evidence "$(printf 'form \300\257')"
check_err "list add --name not UTF-8" 65 \
    "optinctl list: bad --name (at most 200 printable characters)" \
    list add latin1 --name "$(printf 'Caf\351')"
# C1 control characters are control characters too (U+009B is CSI to a
# terminal, U+0085 a line break): they were taken
check_err "subscribe --source with U+009B" 65 \
    "optinctl subscribe: bad --source (1 to 64 printable characters)" \
    subscribe ann@example.com news --source "$(printf 'crm\302\2332J')"
check_err "list add --name with U+0085" 65 \
    "optinctl list: bad --name (at most 200 printable characters)" \
    list add c1 --name "$(printf 'two\302\205lines')"

check "unsubscribe from a list" 0 "dee@example.com list=news state=opted_out" \
    unsubscribe dee@example.com news
check_json "unsubscribe --json" 0 \
    'd == {"address": "ann@example.com", "list": "news", "state": "opted_out"}' \
    unsubscribe ann@example.com news --json --source one-click
check_err "unsubscribe unknown list" 65 "optinctl: no such list 'gone'" \
    unsubscribe ann@example.com gone
check_err "unsubscribe list and --all" 64 \
    "usage: optinctl [-c FILE] [--json] unsubscribe ADDR (LIST | --all) [--source S] [--evidence E]" \
    unsubscribe ann@example.com news --all
"$OPTINCTL" -c "$conf" subscribe eve@example.com news >/dev/null
check "unsubscribe --all" 0 "eve@example.com suppressed=unsubscribed_all" \
    unsubscribe eve@example.com --all
check_json "unsubscribe --all --json" 0 \
    'd == {"address": "eve@example.com", "suppressed": True, "reason": "unsubscribed_all"}' \
    --json unsubscribe eve@example.com --all

# no silent re-consent: a subscription of a suppressed address is refused
# without fresh evidence (more in t-reconsent.sh)
check_err "subscribe suppressed" 65 \
    "optinctl subscribe: eve@example.com is suppressed (unsubscribed_all): a new opt-in needs fresh consent evidence (--evidence TEXT)" \
    subscribe eve@example.com promo

# --- status --------------------------------------------------------------

check "status" 0 "ann@example.com suppressed=no
  news state=opted_out decision=opted_out
  promo state=opted_in decision=deliver
  (other lists) decision=no_consent" status ANN@example.com
check "status pending" 0 "bob@example.com suppressed=no
  promo state=pending decision=pending
  (other lists) decision=no_consent" status bob@example.com
check "status suppressed" 0 "eve@example.com suppressed=unsubscribed_all
  news state=opted_in decision=suppressed
  (other lists) decision=suppressed" status eve@example.com
check "status never seen" 0 "zed@example.com suppressed=no
  (other lists) decision=no_consent" status zed@example.com
check_json "status --json" 0 \
    'd["address"] == "ann@example.com" and d["suppressed"] is False and d["suppression"] is None and [(l["list"], l["state"], l["decision"], l["source"]) for l in d["lists"]] == [("news", "opted_out", "opted_out", "one-click"), ("promo", "opted_in", "deliver", "optinctl")] and all(l["updated_at"] > 0 for l in d["lists"]) and d["other_lists_decision"] == "no_consent"' \
    status ann@example.com --json
check_json "status --json suppressed" 0 \
    'd["suppressed"] is True and d["suppression"]["reason"] == "unsubscribed_all" and d["suppression"]["created_at"] > 0 and d["lists"][0]["decision"] == "suppressed"' \
    --json status eve@example.com
check_json "status --json never seen" 0 \
    'd == {"address": "zed@example.com", "suppressed": False, "suppression": None, "lists": [], "other_lists_decision": "no_consent"}' \
    --json status zed@example.com
check_err "status bad address" 65 \
    "optinctl: bad address '@example.com': empty local part" \
    status @example.com

# --- list ls after the changes -------------------------------------------

check "list ls" 0 "LIST             DOI   OPTED_IN  PENDING OPTED_OUT  NAME
misc             no           0        0         0
news             no           2        0         2  The News
promo            yes          1        1         0" list ls
check_json "list ls --json" 0 \
    '[(l["list"], l["name"], l["double_opt_in"], l["opted_in"], l["pending"], l["opted_out"]) for l in d["lists"]] == [("misc", None, False, 0, 0, 0), ("news", "The News", False, 2, 0, 2), ("promo", None, True, 1, 1, 0)]' \
    list ls --json
# a name written with SQL that is not UTF-8 and holds control characters
# (SQLite keeps any bytes; PostgreSQL refuses invalid UTF-8): on a
# terminal a control character (ESC, U+009B) is '?', each maximal invalid
# subpart (lone 0xff; the surrogate ED A0 80, three) U+FFFD; --json is
# valid UTF-8 with \u escapes
if ! db_pgsql; then
	sqlx "INSERT INTO lists (list_id, name, double_opt_in, created_at) VALUES ('zbad', CAST(X'41ff421b43c29b44eda080c3a9' AS TEXT), 0, 1700000000)"
	fffd=$($PY -c 'print("\ufffd")')
	check "list ls, a name not UTF-8" 0 "LIST             DOI   OPTED_IN  PENDING OPTED_OUT  NAME
misc             no           0        0         0
news             no           2        0         2  The News
promo            yes          1        1         0
zbad             no           0        0         0  A${fffd}B?C?D$fffd$fffd$fffd$($PY -c 'print("\u00e9")')" list ls
	check_json "list ls --json, a name not UTF-8" 0 \
	    '[l["name"] for l in d["lists"] if l["list"] == "zbad"] == ["A\ufffdB\x1bC\x9bD\ufffd\ufffd\ufffd\u00e9"]' \
	    list ls --json
	run --json list ls
	if printf '%s' "$out" | $PY -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' 2>/dev/null; then
		ok
	else
		bad "list ls --json, a name not UTF-8: valid UTF-8" "stdout: $out"
	fi
	sqlx "DELETE FROM lists WHERE list_id = 'zbad'"
fi
# characters a reader cannot see or that reorder the text around them (a
# right-to-left override, a zero-width space) are named on a terminal, so
# that "Ann<U+202E>fdp.exe" does not show as "Annexe.pdf"
sqlx "INSERT INTO lists (list_id, name, double_opt_in, created_at) VALUES ('zbidi', '$($PY -c 'print("Ann\u202efdp.exe\u200b")')', 0, 1700000000)"
run list ls
case $out in
*"zbidi            no           0        0         0  Ann<U+202E>fdp.exe<U+200B>") ok ;;
*) bad "list ls, a name with U+202E and U+200B: named" "stdout: $out" ;;
esac
sqlx "DELETE FROM lists WHERE list_id = 'zbidi'"

# --- consent events ------------------------------------------------------

check_sql "events of ann" 5 \
    "SELECT count(*) FROM consent_events WHERE address = 'ann@example.com'"
check_sql "subscribe event" "opted_in|optinctl|signup form 12" \
    "SELECT event || '|' || source || '|' || evidence FROM consent_events WHERE address = 'ann@example.com' AND list_id = 'news' ORDER BY id LIMIT 1"
check_sql "confirm event" "confirmed|web|link clicked" \
    "SELECT event || '|' || source || '|' || evidence FROM consent_events WHERE address = 'ann@example.com' AND event = 'confirmed'"
check_sql "suppression event" "suppressed|optinctl|reason=unsubscribed_all" \
    "SELECT event || '|' || source || '|' || evidence FROM consent_events WHERE address = 'eve@example.com' AND list_id IS NULL ORDER BY id LIMIT 1"
check_sql "no event for refused changes" 0 \
    "SELECT count(*) FROM consent_events WHERE address = 'bob@example.com' AND list_id = 'news'"
check_sql "events have times" 0 \
    "SELECT count(*) FROM consent_events WHERE occurred_at < 1000000000"

# --- options and help ----------------------------------------------------

run -V
if [ "$rc" = 0 ] && expr "$out" : 'optinctl [0-9]' >/dev/null; then ok
else bad "-V" "rc $rc" "out: $out"; fi
check "verb --help" 0 "usage: optinctl [-c FILE] [--json] confirm ADDR LIST [--source S] [--evidence E]
confirm a pending (double opt-in) subscription" confirm --help
check "help VERB" 0 "usage: optinctl [-c FILE] [--json] status ADDR
show the lists of ADDR, their states and decisions" help status
check "token --help" 0 "usage: optinctl [-c FILE] [--json] token newkey | token issue ADDR LIST | token bounce ADDR LIST [CAMPAIGN] | token check TOKEN
add a token key; issue or check an unsubscribe token; print a bounce address" token --help
check_err "token issue for an unknown list" 65 "optinctl: no such list 'nosuchlist'" \
    token issue ann@example.com nosuchlist
run help
if [ "$rc" = 0 ] && printf '%s\n' "$out" | grep -q '^  unsubscribe ADDR (LIST | --all)' && \
    printf '%s\n' "$out" | grep -q '^  dns \[DOMAIN\]'; then ok
else bad "help" "rc $rc" "out: $out"; fi
out=$("$OPTINCTL" 2>"$tmp/stderr"); rc=$?
if [ "$rc" = 64 ] && [ -z "$out" ] && grep -q '^usage: optinctl' "$tmp/stderr"
then ok; else bad "no verb" "rc $rc"; fi
check_err "unknown verb" 64 "optinctl: unknown verb 'frobnicate' (see optinctl help)" \
    frobnicate
check_err "unknown global option" 64 "$(
	"$OPTINCTL" -h | sed '1i\
optinctl: unknown option '"'"'--frob'"'"'')" --frob status x@example.com
# -c after the verb works as well
out=$("$OPTINCTL" status zed@example.com -c "$conf" 2>&1); rc=$?
if [ "$rc" = 0 ] && [ "$out" = "zed@example.com suppressed=no
  (other lists) decision=no_consent" ]; then ok
else bad "-c after the verb" "rc $rc" "out: $out"; fi

# --- another schema version ----------------------------------------------

v7=$(db_new v7 "$tmp")
printf 'ConsentDB %s\n' "$v7" > "$tmp/v7.conf"
"$OPTINCTL" -c "$tmp/v7.conf" init >/dev/null && db_set_version "$v7" 7 ||
    bad "a database of schema version 7"
for verb in init status migrate; do
	if [ $verb = status ]; then set -- status ann@example.com; else set -- $verb; fi
	out=$("$OPTINCTL" -c "$tmp/v7.conf" "$@" 2>"$tmp/stderr"); rc=$?
	if [ "$rc" = 69 ] && [ "$(cat "$tmp/stderr")" = "optinctl: ConsentDB ${v7#pgsql:}: schema version 7, this build knows version 4" ]
	then ok; else bad "$verb on schema version 7" "rc got $rc, want 69" \
	    "stderr: $(cat "$tmp/stderr")"; fi
done
v=$(db_version "$v7")
if [ "$v" = 7 ]; then ok; else bad "version 7 left alone" "got $v"; fi

# --- a database locked by another process --------------------------------
# (SQLite's write lock; PostgreSQL's lock_timeout: tests/unit t_locked)

if ! db_pgsql; then

$PY -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(20)' "$db" "$tmp/locked" &
lockpid=$!
i=0
while [ ! -e "$tmp/locked" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -e "$tmp/locked" ]; then
	start=$(date +%s)
	check_err "subscribe, locked" 75 \
	    "optinctl: ConsentDB $db: BEGIN IMMEDIATE: database is locked (waited DBBusyTimeout, 300 ms, for the write lock another process holds)" \
	    subscribe ann@example.com news
	check_err "unsubscribe --all, locked" 75 \
	    "optinctl: ConsentDB $db: BEGIN IMMEDIATE: database is locked (waited DBBusyTimeout, 300 ms, for the write lock another process holds)" \
	    unsubscribe ann@example.com --all
	check_err "list add, locked" 75 \
	    "optinctl: ConsentDB $db: list add: database is locked (waited DBBusyTimeout, 300 ms, for the write lock another process holds)" \
	    list add later
	elapsed=$(( $(date +%s) - start ))
	if [ $elapsed -le 10 ]; then ok; else
		bad "locked: waited about the busy timeout" "took ${elapsed}s"; fi
	# readers are not blocked by a writer (WAL)
	check "status while locked" 0 "zed@example.com suppressed=no
  (other lists) decision=no_consent" status zed@example.com
else
	bad "lock holder did not start"
fi
kill "$lockpid" 2>/dev/null
wait "$lockpid" 2>/dev/null
lockpid=
fi
check "subscribe after the lock" 0 "ann@example.com list=news state=opted_in" \
    subscribe ann@example.com news

# new_db NAME - a fresh database $tmp/NAME.db with its config $conf (token
# key ring, quarantine directory $qdir, fake SendmailCommand $tmp/fakesm
# that records its arguments in $tmp/sm.args and its input in $tmp/sm.in
# and exits $FAKESM_RC) and the lists news, crm and promo (double opt-in)
new_db() {
	db=$(db_new "$1" "$tmp")
	conf=$tmp/$1.conf
	qdir=$tmp/$1.q
	mkdir -p "$qdir"
	cat > "$conf" <<EOF
ConsentDB $db
DBBusyTimeout 300
Syslog no
TokenKeyFile $tmp/$1.keys
ErasureKeyFile $tmp/$1.erasure
QuarantineDir $qdir
SendmailCommand $tmp/fakesm -i
EOF
	cat > "$tmp/fakesm" <<EOF
#!/bin/sh
printf '%s\n' "\$@" > "$tmp/sm.args"
cat > "$tmp/sm.in"
exit \${FAKESM_RC:-0}
EOF
	chmod 755 "$tmp/fakesm"
	"$OPTINCTL" -c "$conf" init >/dev/null &&
	"$OPTINCTL" -c "$conf" token newkey >/dev/null &&
	"$OPTINCTL" -c "$conf" list add news >/dev/null &&
	"$OPTINCTL" -c "$conf" list add crm >/dev/null &&
	"$OPTINCTL" -c "$conf" list add promo --double-opt-in >/dev/null ||
	    bad "new_db $1"
}

# --- a database that cannot be opened or written: which file and why -------
# (SQLite's files; as root: a read-only bind mount gives EROFS, and setpriv
# runs optinctl as nobody for EACCES; the same message is the daemons').
# Exit codes (ctl_exit_for): a permission problem is not temporary (a
# script that retries on 75 would retry for ever): a file that may not be
# read 66, one that may not be written or created (a read-only file system
# included) 73; a held lock stays 75 (above).  The daemons tempfail.

if ! db_pgsql && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    command -v setpriv >/dev/null; then
	ro=$tmp/ro
	mkdir "$ro" "$ro/d"
	chmod 0711 "$tmp"
	chmod 0755 "$ro"
	printf 'ConsentDB %s/d/c.db\nSyslog no\n' "$ro" > "$ro/c.conf"
	chmod 0644 "$ro/c.conf"
	"$OPTINCTL" -c "$ro/c.conf" init > /dev/null
	real=$OPTINCTL
	# wrappers: PROG run in a private mount namespace with the database
	# directory read-only, or as nobody
	cat > "$ro/romount.sh" <<EOS
#!/bin/sh
exec unshare --mount sh -c 'mount --bind -o ro "\$0" "\$0" && exec "\$@"' "$ro/d" "\$PROG" "\$@"
EOS
	printf '#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups "$PROG" "$@"\n' > "$ro/nobody.sh"
	chmod 0755 "$ro/romount.sh" "$ro/nobody.sh"
	saveconf=$conf
	conf=$ro/c.conf
	OPTINCTL="$ro/romount.sh"
	PROG=$real run status ann@example.com
	if [ "$rc" = 73 ] && [ "$err" = "optinctl: ConsentDB $ro/d/c.db: settings: unable to open database file ($ro/d/c.db: Read-only file system)" ]; then ok; else
		bad "read-only file system: the file and EROFS" "rc $rc" "stderr got: $err"; fi
	PROG=$(cd "$top_builddir" && pwd)/optin-milter run -n
	case $err in
	*"ConsentDB $ro/d/c.db: settings: unable to open database file ($ro/d/c.db: Read-only file system)"*) ok ;;
	*) bad "optin-milter -n on a read-only file system: the file and EROFS" "rc $rc" "stderr got: $err" ;;
	esac
	# a directory nobody may write: the -wal cannot be created there
	chown -R nobody "$ro/d"
	chmod 0555 "$ro/d"
	OPTINCTL="$ro/nobody.sh"
	PROG=$real run status ann@example.com
	if [ "$rc" = 73 ] && [ "$err" = "optinctl: ConsentDB $ro/d/c.db: settings: attempt to write a readonly database (directory $ro/d (to create c.db-wal): Permission denied)" ]; then ok; else
		bad "directory not writable: the directory and EACCES" "rc $rc" "stderr got: $err"; fi
	# a database file nobody may write: reading works, a change is 73
	chmod 0755 "$ro/d"
	chown root "$ro/d/c.db"
	chmod 0644 "$ro/d/c.db"
	PROG=$real run status ann@example.com
	modew="optinctl: warning: $ro/d/c.db has mode 0644, should be 0600"
	if [ "$rc" = 0 ] && [ "$err" = "$modew" ]; then ok; else
		bad "file not writable: status still reads (and warns of the mode)" "rc $rc" "stderr got: $err"; fi
	PROG=$real run list add promo2
	if [ "$rc" = 73 ] && [ "$err" = "$modew
optinctl: ConsentDB $ro/d/c.db: list add: attempt to write a readonly database ($ro/d/c.db: Permission denied)" ] && [ -z "$out" ]; then ok; else
		bad "file not writable: list add, the file and EACCES, 73" "rc $rc" "stderr got: $err" "stdout got: $out"; fi
	# a database file nobody may read
	chown nobody "$ro/d/c.db"
	chmod 0000 "$ro/d/c.db"
	PROG=$real run status ann@example.com
	if [ "$rc" = 66 ] && [ "$err" = "optinctl: ConsentDB $ro/d/c.db: open: unable to open database file ($ro/d/c.db: Permission denied)" ]; then ok; else
		bad "file not readable: the file and EACCES, 66" "rc $rc" "stderr got: $err"; fi
	OPTINCTL=$real
	conf=$saveconf
	chmod 0700 "$tmp"
fi

# copy-store opens its two databases as every verb opens ConsentDB
# (ctl_open_exit): a target that cannot be created (its directory is
# missing) is 73 as for init, not 75; a source that is not a database 69
if ! db_pgsql; then
	printf 'not a database\n' > "$tmp/junk.db"
	check_err "copy-store: target in a missing directory" 73 \
	    "optinctl: ConsentDB $tmp/nodir/x.db: cannot create: unable to open database file (directory $tmp/nodir (to create x.db): No such file or directory)" \
	    copy-store "$db" "$tmp/nodir/x.db"
	check_err "copy-store: a source that is not a database" 69 \
	    "optinctl: ConsentDB $tmp/junk.db: settings: file is not a database" \
	    copy-store "$tmp/junk.db" "$tmp/x.db"
	saveconf=$conf
	conf=$tmp/nodir.conf
	printf 'ConsentDB %s/nodir/x.db\nSyslog no\n' "$tmp" > "$conf"
	check_err "init: a missing directory" 73 \
	    "optinctl: ConsentDB $tmp/nodir/x.db: cannot create: unable to open database file (directory $tmp/nodir (to create x.db): No such file or directory)" \
	    init
	conf=$saveconf
	[ ! -e "$tmp/x.db" ] || bad "copy-store: no target made from a source that is not a database"
	# and warns of them as every verb does of ConsentDB: a source
	# readable by others
	$PY -c 'import sqlite3, sys
sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
	    "$db" "$tmp/m644.db" && chmod 0644 "$tmp/m644.db"
	run copy-store "$tmp/m644.db" "$tmp/x644.db"
	if [ "$rc" = 0 ] && [ "$err" = "optinctl: warning: $tmp/m644.db has mode 0644, should be 0600
optinctl: copied to $tmp/x644.db" ]; then ok; else
		bad "copy-store: a source readable by others is warned of" "rc $rc" "stderr got: $err"; fi
fi

# --- the other verbs: import/export-list, history/export/forget, quarantine,
# stats (each file sets up its own database and uses the helpers above)

# On PostgreSQL all but t-erasure.sh (SQLite's file bytes, WAL and
# checkpoint) and t-copy-store.sh (which uses both engines always).
here=$(dirname "$0")
tests="t-import.sh t-erase-race.sh t-dsar.sh t-quarantine.sh t-stats.sh t-reconsent.sh
    t-audit.sh t-erasure.sh t-erasure-key.sh t-copy-store.sh t-copy-lost.sh
    t-quarops.sh"
if db_pgsql; then
	tests=$(echo $tests | sed 's/t-erasure\.sh //; s/ t-copy-store\.sh//; s/ t-copy-lost\.sh//; s/ t-quarops\.sh//')
fi
# CTL_TESTS="t-a.sh ...": only those files after the checks above
tests=${CTL_TESTS:-$tests}
for t in $tests; do
	# a file that does not parse would skip its checks and count none
	# failed: a failure of its own
	if [ ! -f "$here/$t" ]; then
		bad "missing $here/$t"
	elif ! err=$(bash -n "$here/$t" 2>&1); then
		bad "$t does not parse" "$err"
	else
		. "$here/$t"
	fi
done

echo "optinctl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
