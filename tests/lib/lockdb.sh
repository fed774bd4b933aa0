# lockdb.sh - hold a SQLite database's write lock from another process, for
# the test suites' "database locked" cases.  Sourced (sh or bash).
#
#	lock_db DB FLAG		BEGIN IMMEDIATE on DB in a python3 process
#				(held up to 30 s); waits up to 10 s until it
#				holds the lock (FLAG, a file path, appears);
#				sets LOCKDB_PID; false when it never did
#	unlock_db		end that process by its PID
#
# Callers kill LOCKDB_PID from their EXIT trap when it is set.

lock_db() {
	rm -f "$2"
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
	kill "$LOCKDB_PID" 2>/dev/null
	wait "$LOCKDB_PID" 2>/dev/null
	LOCKDB_PID=
}
