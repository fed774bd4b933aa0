# db.sh - a test's consent database on either engine, for the suites that
# run on both (tests/ctl, tests/unsubd, tests/feedback, tests/e2e
# t-feedback.sh).  Sourced (sh or bash); sources tests/lib/pg.sh.
# OPTIN_STORE=pgsql: databases on one private PostgreSQL server
# (tests/lib/pg.sh) that db_start starts; otherwise SQLite files.  The
# functions that take DB take a ConsentDB value and read its engine from it
# ("pgsql:CONNINFO", "postgresql://...", "sqlite:PATH" or a path), so a
# test may use both engines at once (optinctl copy-store).
#
#	db_pgsql		true when the suite runs on PostgreSQL
#	db_start		PostgreSQL: start the server unless it runs;
#				0 or 1 (did not start, message on stderr)
#	db_stop			stop the server db_start started
#	db_new NAME DIR		print the ConsentDB value of a fresh, empty
#				database for NAME: DIR/NAME.db (not created),
#				or a new PostgreSQL database NAME
#	db_sql DB QUERY		the rows of QUERY, one line each, columns
#				joined by "|", NULL as ""
#	db_exec DB SQL...	run the statements in one transaction
#	db_load DB FILE		run the SQL script FILE (statements ended
#				by ";") in one transaction
#	db_set_version DB N	forge the schema version (SQLite PRAGMA
#				user_version, PostgreSQL optin_schema)
#	db_version DB		print the schema version
#	db_dump DB		print the whole database as SQL (to compare
#				before and after)
#	db_grep DB TEXT		print how many values of any column of any
#				table contain TEXT (erasure checks)
#
# Queries are written in the SQL both engines read (|| concatenation,
# count(*), coalesce, CASE, an alias on every subquery; no PRAGMA,
# typeof(), char(), IS NOT).  SQLite's group_concat(X[, SEP]) is there on
# PostgreSQL too: db_new defines it in each test database (DB_SHIM), a
# function, no table, so the store does not see it.

# (a missing file given to "." ends a POSIX shell: test first)
if [ -f "$(dirname "${BASH_SOURCE:-$0}")/../lib/pg.sh" ]; then
	. "$(dirname "${BASH_SOURCE:-$0}")/../lib/pg.sh"
else
	. "${top_srcdir:-.}/tests/lib/pg.sh"
fi
DB_STARTED=""

# SQLite's group_concat(X) and group_concat(X, SEP) as PostgreSQL aggregates
DB_SHIM='CREATE FUNCTION gc_step(acc text, v anyelement, sep text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN v IS NULL
THEN acc WHEN acc IS NULL THEN v::text ELSE acc || sep || v::text END $$;
CREATE FUNCTION gc_step(acc text, v anyelement) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT gc_step(acc, v, $c$,$c$) $$;
CREATE AGGREGATE group_concat(anyelement, text) (sfunc = gc_step,
stype = text);
CREATE AGGREGATE group_concat(anyelement) (sfunc = gc_step, stype = text);'

db_pgsql()
{
	[ "${OPTIN_STORE:-sqlite}" = pgsql ]
}

db_start()
{
	db_pgsql || return 0
	[ -n "$PG_PID" ] && return 0
	pg_start || return 1
	DB_STARTED=1
}

db_stop()
{
	[ -n "$DB_STARTED" ] || return 0
	pg_stop
	DB_STARTED=""
}

db_new()
{
	if db_pgsql; then
		pg_createdb "$1" >/dev/null &&
		    pg_sql "$1" "$DB_SHIM" >/dev/null || return 1
		pg_consentdb "$1"
	else
		rm -f "$2/$1.db" "$2/$1.db-wal" "$2/$1.db-shm"
		echo "$2/$1.db"
	fi
}

# db_psql DB ARGS... - psql on the PostgreSQL database of ConsentDB DB
db_psql()
{
	local target
	case $1 in
	pgsql:*) target=${1#pgsql:} ;;
	*) target=$1 ;;
	esac
	shift
	PGCONNECT_TIMEOUT=10 PGOPTIONS="-c client_min_messages=warning" \
	    "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$target" "$@"
}

db_sql()
{
	case $1 in
	pgsql:*|postgresql:*|postgres:*)
		db_psql "$1" -c "$2"
		return
		;;
	esac
	/usr/bin/python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
try:
    for r in c.execute(sys.argv[2]):
        print("|".join("" if v is None else str(v) for v in r))
    c.commit()	# a write is kept, as psql -c keeps it
except sqlite3.Error as e:
    sys.exit("db_sql: %s: %s" % (sys.argv[2], e))' "${1#sqlite:}" "$2"
}

db_exec()
{
	local db=$1 n
	shift
	case $db in
	pgsql:*|postgresql:*|postgres:*)
		n=$#
		while [ "$n" -gt 0 ]; do
			set -- "$@" -c "$1"
			shift
			n=$((n - 1))
		done
		db_psql "$db" -1 "$@" >/dev/null
		return
		;;
	esac
	/usr/bin/python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for q in sys.argv[2:]:
    c.execute(q)
c.commit()' "${db#sqlite:}" "$@"
}

db_load()
{
	case $1 in
	pgsql:*|postgresql:*|postgres:*)
		db_psql "$1" -1 -f "$2" >/dev/null
		return
		;;
	esac
	/usr/bin/python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
try:
    c.executescript("BEGIN;\n" + open(sys.argv[2]).read() + "\nCOMMIT;")
except sqlite3.Error as e:
    sys.exit("db_load: %s: %s" % (sys.argv[2], e))' "${1#sqlite:}" "$2"
}

db_set_version()
{
	case $1 in
	pgsql:*|postgresql:*|postgres:*)
		db_sql "$1" "UPDATE optin_schema SET version = $2" >/dev/null
		;;
	*)
		db_sql "$1" "PRAGMA user_version = $2" >/dev/null
		;;
	esac
}

db_version()
{
	case $1 in
	pgsql:*|postgresql:*|postgres:*)
		db_sql "$1" "SELECT max(version) FROM optin_schema"
		;;
	*)
		db_sql "$1" "PRAGMA user_version"
		;;
	esac
}

db_grep()
{
	local q
	case $1 in
	pgsql:*|postgresql:*|postgres:*)
		q=$(db_sql "$1" "SELECT string_agg(format('SELECT count(*) AS n FROM %I WHERE %I::text LIKE %L', table_name, column_name, '%' || \$t\$$2\$t\$ || '%'), ' UNION ALL ') FROM information_schema.columns WHERE table_schema = current_schema()") &&
		    db_sql "$1" "SELECT sum(n) FROM ($q) AS x"
		return
		;;
	esac
	/usr/bin/python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = 0
for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type = ?", ("table",)).fetchall():
    for col in c.execute("PRAGMA table_info(%s)" % t).fetchall():
        n += c.execute("SELECT count(*) FROM %s WHERE %s LIKE ?" % (t, col[1]), ("%" + sys.argv[2] + "%",)).fetchone()[0]
print(n)' "${1#sqlite:}" "$2"
}

db_dump()
{
	case $1 in
	pgsql:*|postgresql:*|postgres:*)
		# without the random key of \restrict (pg_dump since 15.14)
		PGCONNECT_TIMEOUT=10 "$PG_BIN/pg_dump" --no-owner -d "${1#pgsql:}" |
		    grep -v '^\\\(un\)\{0,1\}restrict '
		return
		;;
	esac
	/usr/bin/python3 -c '
import sqlite3, sys
for line in sqlite3.connect(sys.argv[1]).iterdump():
    print(line)' "${1#sqlite:}"
}
