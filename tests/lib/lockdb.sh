# lockdb.sh - hold a consent database's write lock from another process,
# for the test suites' "database locked" cases.  Sourced (sh or bash).
#
#	lock_db DB FLAG		SQLite: BEGIN IMMEDIATE on DB in a python3
#				process (held up to 30 s); PostgreSQL (DB a
#				"pgsql:" ConsentDB, tests/lib/db.sh): a psql
#				session holding EXCLUSIVE locks on the tables
#				that consent changes write (readers go on);
#				waits up to 10 s until it holds the lock
#				(FLAG, a file path, appears); sets
#				LOCKDB_PID; false when it never did
#	unlock_db		end that process by its PID (PostgreSQL: and
#				its server session)
#
# Callers kill LOCKDB_PID from their EXIT trap when it is set.

lock_db() {
	rm -f "$2"
	case $1 in
	pgsql:*)
		LOCKDB_DB=$1
		db_psql "$1" -c "SET application_name = 'optin-lockdb'" \
		    -c "BEGIN" -c "LOCK TABLE subscriptions, suppressions, consent_events IN EXCLUSIVE MODE" \
		    -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
		LOCKDB_PID=$!
		_i=0
		while [ $_i -lt 100 ]; do
			if [ "$(db_sql "$1" "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid WHERE a.application_name = 'optin-lockdb' AND l.mode = 'ExclusiveLock' AND l.relation = 'subscriptions'::regclass")" = 1 ]; then
				: > "$2"
				return 0
			fi
			sleep 0.1; _i=$((_i + 1))
		done
		return 1
		;;
	esac
	/usr/bin/python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(30)' "$1" "$2" &
	LOCKDB_PID=$!
	_i=0
	while [ ! -e "$2" ] && [ $_i -lt 100 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	[ -e "$2" ]
}

unlock_db() {
	[ -n "${LOCKDB_PID:-}" ] || return 0
	if [ -n "${LOCKDB_DB:-}" ]; then
		db_sql "$LOCKDB_DB" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'optin-lockdb'" >/dev/null
		LOCKDB_DB=
	fi
	kill "$LOCKDB_PID" 2>/dev/null
	wait "$LOCKDB_PID" 2>/dev/null
	LOCKDB_PID=
}
