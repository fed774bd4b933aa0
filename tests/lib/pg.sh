# pg.sh - a private, throw-away PostgreSQL server for the test suites.
# Sourced (sh or bash).  Runs as root: the server runs as the "postgres"
# user that Debian's postgresql package creates (PostgreSQL refuses root).
#
#	pg_start		initdb into a new mktemp directory, start the
#				server on 127.0.0.1 at a free port (no other
#				address, no unix socket outside its directory);
#				sets PG_DIR, PG_PORT, PG_PID, PG_BASE (libpq
#				conninfo without dbname)
#	pg_createdb NAME	a fresh database (dropped first if there)
#	pg_consentdb NAME	the ConsentDB value for database NAME
#	pg_sql NAME SQL		run SQL on database NAME; rows as a|b|c
#	pg_halt			stop the server (fast shutdown), keep the data
#	pg_resume		start it again on the same port and data
#	pg_stop			stop it by PID and remove PG_DIR
#
# PG_FSYNC (off unless set): the server's fsync setting; "on" for figures
# that depend on durable commits (tests/bench one-click load).
# Authentication is "trust" on 127.0.0.1 only (a private cluster).  Every
# wait is bounded; the server is stopped by its PID (postmaster.pid), never
# by name.  Callers run pg_stop from their EXIT trap.

PG_DIR=""
PG_PORT=""
PG_PID=""
PG_BASE=""
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# pg_as_postgres CMD... - run CMD as the postgres user
pg_as_postgres()
{
	runuser -u postgres -- "$@"
}

# pg_free_port - a TCP port on 127.0.0.1 that is free right now
pg_free_port()
{
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# pg_start - initdb and start; 1 with a message on stderr on failure
pg_start()
{
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
		echo "pg.sh: no PostgreSQL server (apt-get install postgresql)" >&2
		return 1
	fi
	if ! id postgres >/dev/null 2>&1; then
		echo "pg.sh: no postgres user (apt-get install postgresql)" >&2
		return 1
	fi
	PG_DIR=$(mktemp -d /tmp/optin-pg.XXXXXX) || return 1
	chmod 0755 "$PG_DIR"
	chown postgres "$PG_DIR"
	if ! pg_as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust \
	    -U postgres -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		tail -n 20 "$PG_DIR/initdb.log" >&2
		return 1
	fi
	PG_PORT=$(pg_free_port)
	PG_BASE="host=127.0.0.1 port=$PG_PORT user=postgres"
	pg_resume
}

# pg_resume - start the server of PG_DIR on PG_PORT and wait for it
pg_resume()
{
	local i
	pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
	    -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=${PG_FSYNC:-off} -c max_connections=200" \
	    -w -t 60 start >/dev/null 2>&1
	for i in $(seq 100); do
		if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
			PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)
			return 0
		fi
		sleep 0.2
	done
	echo "pg.sh: server did not start:" >&2
	tail -n 20 "$PG_DIR/server.log" >&2
	return 1
}

# pg_halt - stop the server (SIGINT: fast shutdown) by PID, keep the data
pg_halt()
{
	local i
	[ -n "$PG_PID" ] || return 0
	kill -INT "$PG_PID" 2>/dev/null
	for i in $(seq 150); do
		kill -0 "$PG_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$PG_PID" 2>/dev/null && kill -KILL "$PG_PID" 2>/dev/null
	PG_PID=""
	return 0
}

# pg_stop - stop the server and remove its directory
pg_stop()
{
	pg_halt
	if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
		rm -rf "$PG_DIR"
	fi
	PG_DIR=""
	return 0
}

# pg_sql DB SQL - run SQL on database DB, unaligned rows "a|b|c"
pg_sql()
{
	PGCONNECT_TIMEOUT=10 PGOPTIONS="-c client_min_messages=warning" \
	    "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
	    -d "$PG_BASE dbname=$1" -c "$2"
}

# pg_createdb NAME - a fresh, empty database NAME
pg_createdb()
{
	pg_sql postgres "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" &&
	    pg_sql postgres "CREATE DATABASE \"$1\" TEMPLATE template0"
}

# pg_consentdb NAME - ConsentDB for database NAME (a libpq conninfo)
pg_consentdb()
{
	echo "pgsql:$PG_BASE dbname=$1"
}
