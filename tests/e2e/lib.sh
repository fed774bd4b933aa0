# lib.sh - end-to-end test harness: a private Postfix instance on loopback,
# an SMTP sink that stores every delivered message, and small assertions.
# Sourced by tests/e2e/t-*.sh (bash).  Runs as root (Postfix needs it).
#
# Everything lives under one base directory made with mktemp -d (PF_BASE):
# two scripts running at the same time never share a port, a queue or a file.
# Every process started here is stopped by PID from the EXIT trap that
# e2e_init installs (e2e_cleanup).  Set E2E_KEEP=1 to keep the base directory.
#
# Typical test:
#	. "$(dirname "$0")/lib.sh"
#	e2e_init t-example                      # PF_BASE, EXIT trap, counters
#	sink_start                              # SINK_PORT, SINK_DIR
#	pf_start "$PF_BASE" "unix:$PF_BASE/milter/milter.sock"   # or "" for none
#	qid=$(pf_send from@x.test to@y.test "$OPTIN_CORPUS/ours_crm_campaign_html.eml")
#	pf_wait_empty 30
#	e2e_check "arrived once" test "$(sink_find Subject 'Hello' | wc -l)" = 1
#	e2e_done                                # prints "t-example: N passed, N failed"
#
# Variables set for tests:
#	E2E_TOP		absolute source directory; E2E_BUILD build directory
#	OPTIN_CORPUS	corpus directory (default $E2E_TOP/tests/data/corpus)
#	OPTIN_MILTER, OPTINCTL, OPTIN_UNSUBD	the built programs
#	PY		/usr/bin/python3 (has python3-dkim and python3-nacl)
#	PF_BASE		base directory; PF_CONF its config_directory;
#	PF_QUEUE	queue_directory; PF_LOG the Postfix maillog file;
#	PF_PORT		smtpd port on 127.0.0.1; PF_MILTER milter spec in use
#	PF_MILTER_DIR	$PF_BASE/milter, mode 0755: put a milter's socket there
#	SINK_PORT, SINK_DIR (stored messages), SINK_LOG, SINK_PID
#	MILTER_SOCK, MILTER_PID, MILTER_LOG	set by milter_start
#	HOP_CONF, HOP_PORT, HOP_LOG	a second instance (next hop), hop_start
#
# Knobs (unset: the behaviour above):
#	E2E_TMPDIR	where e2e_init makes PF_BASE [/tmp]; Sendmail refuses a
#			milter socket below a world-writable directory
#	PF_CHROOT=y	pf_start keeps Debian's master.cf as shipped (smtpd,
#			cleanup, pickup, ... chrooted in the queue directory),
#			runs the private smtpd chrooted too, and prepares the
#			chroot as Debian's start-up does (pf_chroot_sync)

E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TOP=$(cd "${top_srcdir:-$E2E_HERE/../..}" && pwd)
E2E_BUILD=$(cd "${top_builddir:-$E2E_TOP}" && pwd)
OPTIN_CORPUS=${OPTIN_CORPUS:-$E2E_TOP/tests/data/corpus}
OPTIN_MILTER=$E2E_BUILD/optin-milter
OPTINCTL=$E2E_BUILD/optinctl
OPTIN_UNSUBD=$E2E_BUILD/optin-unsubd
PY=/usr/bin/python3
export OPTIN_CORPUS

E2E_NAME=${E2E_NAME:-$(basename "$0" .sh)}
E2E_PASS=0
E2E_FAIL=0
E2E_PIDS=""
PF_BASE=${PF_BASE:-}
PF_CONF=""
PF_QUEUE=""
PF_LOG=""
PF_PORT=""
PF_MILTER=""
PF_MILTER_DIR=""
SINK_PID=""
SINK_PORT=""
SINK_DIR=""
SINK_LOG=""
MILTER_PID=""
MILTER_SOCK=""
MILTER_LOG=""
HOP_CONF=""
HOP_QUEUE=""
HOP_PORT=""
HOP_LOG=""

# ---------------------------------------------------------------- basics

# e2e_log - print a progress line on stderr
e2e_log()
{
	echo "# $E2E_NAME: $*" >&2
}

# e2e_init [NAME] - make PF_BASE, install the EXIT trap, check we can run
e2e_init()
{
	[ -n "${1:-}" ] && E2E_NAME=$1
	if [ "$(id -u)" != 0 ]; then
		echo "$E2E_NAME: needs root (private Postfix instance)" >&2
		echo "$E2E_NAME: 0 passed, 1 failed"
		exit 1
	fi
	local c
	for c in postfix postconf postqueue swaks "$PY"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "$E2E_NAME: $c missing: run contrib/deps.sh" >&2
			echo "$E2E_NAME: 0 passed, 1 failed"
			exit 1
		fi
	done
	PF_BASE=$(mktemp -d "${E2E_TMPDIR:-/tmp}/optin-e2e.XXXXXX") || exit 1
	# Postfix daemons (user postfix) must reach the queue, the milter
	# socket directory and the log below this directory.
	chmod 0755 "$PF_BASE"
	PF_MILTER_DIR=$PF_BASE/milter
	mkdir -m 0755 "$PF_MILTER_DIR"
	trap e2e_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	e2e_log "base $PF_BASE"
}

# e2e_track_pid PID - stop PID (TERM, then KILL after 5 s) in e2e_cleanup
e2e_track_pid()
{
	E2E_PIDS="$E2E_PIDS $1"
}

# e2e_kill_pid PID - TERM, wait up to 5 s, then KILL; quiet if gone
e2e_kill_pid()
{
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# e2e_cleanup - stop Postfix, the sink and tracked PIDs; remove PF_BASE
e2e_cleanup()
{
	local pid
	pf_stop
	hop_stop
	sink_stop
	for pid in $E2E_PIDS; do
		e2e_kill_pid "$pid"
	done
	E2E_PIDS=""
	# a PostgreSQL of tests/lib/pg.sh, when the test started one
	if command -v pg_stop >/dev/null 2>&1; then
		pg_stop
	fi
	if [ -n "$PF_BASE" ] && [ -d "$PF_BASE" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ]; then
			e2e_log "kept $PF_BASE"
		else
			rm -rf "$PF_BASE"
		fi
	fi
}

# e2e_free_port - print a TCP port on 127.0.0.1 that is free right now
e2e_free_port()
{
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# e2e_listening PORT - true if something listens on 127.0.0.1:PORT (TCP);
# reads /proc/net/tcp, so it opens no connection (none reaches a milter)
e2e_listening()
{
	local hex
	hex=$(printf ':%04X ' "$1")
	awk -v p="$hex" '$4 == "0A" && index($2 " ", p) { f = 1 } END { exit !f }' \
	    /proc/net/tcp
}

# e2e_wait_port PORT TIMEOUT - wait until 127.0.0.1:PORT listens
e2e_wait_port()
{
	e2e_wait_for "${2:-10}" e2e_listening "$1"
}

# e2e_wait_socket PATH TIMEOUT - wait for a unix socket, then make it
# connectable for Postfix's cleanup and smtpd (user postfix): chmod 0666
e2e_wait_socket()
{
	local path=$1 n=$(( ${2:-10} * 10 )) i
	for i in $(seq "$n"); do
		if [ -S "$path" ]; then
			chmod 0666 "$path"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# e2e_wait_for TIMEOUT COMMAND... - run COMMAND every 0.2 s until it succeeds
e2e_wait_for()
{
	local n=$(( $1 * 5 )) i
	shift
	for i in $(seq "$n"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# ---------------------------------------------------------------- assertions

# e2e_ok LABEL / e2e_fail LABEL [WHY] - count one check
e2e_ok()
{
	E2E_PASS=$((E2E_PASS + 1))
	echo "ok - $1"
}

e2e_fail()
{
	E2E_FAIL=$((E2E_FAIL + 1))
	echo "not ok - $1${2:+: $2}"
}

# e2e_check LABEL COMMAND... - pass if COMMAND succeeds
e2e_check()
{
	local label=$1
	shift
	if "$@"; then
		e2e_ok "$label"
	else
		e2e_fail "$label" "failed: $*"
	fi
}

# e2e_check_eq LABEL GOT WANT - pass if the two strings are equal
e2e_check_eq()
{
	if [ "$2" = "$3" ]; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "got '$2', want '$3'"
	fi
}

# e2e_done - print the result line "NAME: N passed, N failed" and exit
e2e_done()
{
	if [ "$E2E_FAIL" -gt 0 ] && [ -n "$PF_LOG" ] && [ -f "$PF_LOG" ]; then
		echo "--- last lines of $PF_LOG" >&2
		tail -n 30 "$PF_LOG" >&2
	fi
	echo "$E2E_NAME: $E2E_PASS passed, $E2E_FAIL failed"
	[ "$E2E_FAIL" -eq 0 ]
	exit
}

# ---------------------------------------------------------------- sink

# sink_start [sink.py options] - start the SMTP sink on a free port;
# options: --reject-rcpt REGEX, --tempfail-rcpt REGEX
sink_start()
{
	local i
	SINK_DIR=$PF_BASE/sink
	SINK_LOG=$PF_BASE/sink.log
	mkdir -p "$SINK_DIR"
	rm -f "$PF_BASE/sink.port"
	"$PY" "$E2E_HERE/sink.py" --dir "$SINK_DIR" \
	    --portfile "$PF_BASE/sink.port" "$@" 2>>"$SINK_LOG" &
	SINK_PID=$!
	for i in $(seq 100); do
		[ -s "$PF_BASE/sink.port" ] && break
		sleep 0.1
	done
	if [ ! -s "$PF_BASE/sink.port" ]; then
		echo "$E2E_NAME: sink did not start" >&2
		cat "$SINK_LOG" >&2
		return 1
	fi
	SINK_PORT=$(cat "$PF_BASE/sink.port")
	e2e_log "sink on 127.0.0.1:$SINK_PORT pid $SINK_PID"
}

# sink_stop - stop the sink
sink_stop()
{
	[ -n "$SINK_PID" ] && e2e_kill_pid "$SINK_PID"
	SINK_PID=""
}

# sink_messages - list stored message files, oldest first, one a line
sink_messages()
{
	[ -d "$SINK_DIR" ] || return 0
	find "$SINK_DIR" -maxdepth 1 -name '*.msg' | sort
}

# sink_count - number of stored messages (SMTP transactions)
sink_count()
{
	sink_messages | wc -l
}

# sink_has_count N - true if at least N messages are stored
sink_has_count()
{
	[ "$(sink_count)" -ge "$1" ]
}

# sink_wait_count N TIMEOUT - wait until at least N messages are stored
sink_wait_count()
{
	e2e_wait_for "${2:-30}" sink_has_count "$1"
}

# sink_header FILE NAME - print each value of header NAME (case-insensitive,
# unfolded, CR removed) of a stored message, one a line; the X-Sink-*
# envelope lines count as headers too
sink_header()
{
	awk -v want="$(printf '%s' "$2" | tr 'A-Z' 'a-z')" '
	function flush() { if (cur == want) print val; cur = "" }
	{ sub(/\r$/, "") }
	/^$/ { flush(); done = 1; exit }
	/^[ \t]/ { if (cur != "") val = val $0; next }
	{
		flush()
		i = index($0, ":")
		if (i == 0) next
		cur = tolower(substr($0, 1, i - 1))
		val = substr($0, i + 1)
		sub(/^[ \t]+/, "", val)
	}
	END { if (!done) flush() }' "$1"
}

# sink_from FILE - envelope sender of a stored message, without <>
sink_from()
{
	sink_header "$1" X-Sink-From | sed 's/^<//; s/>$//'
}

# sink_rcpts FILE - envelope recipients of a stored message, without <>
sink_rcpts()
{
	sink_header "$1" X-Sink-Rcpt | sed 's/^<//; s/>$//'
}

# sink_raw FILE - the message bytes exactly as delivered (no X-Sink lines)
sink_raw()
{
	sink_raw_to - "$1"
}

# sink_raw_to DIR FILE... - sink_raw of each FILE into DIR/1.eml, 2.eml, ...
# (in their order), one interpreter for all; DIR "-": to stdout
sink_raw_to()
{
	"$PY" -c 'import os, sys
for i, f in enumerate(sys.argv[2:], 1):
	data = open(f, "rb").read()
	while data.startswith(b"X-Sink-"):
		data = data[data.index(b"\r\n") + 2:]
	if sys.argv[1] == "-":
		sys.stdout.buffer.write(data)
	else:
		with open(os.path.join(sys.argv[1], "%d.eml" % i), "wb") as out:
			out.write(data)' "$@"
}

# sink_body FILE - the body (after the first empty line) exactly as delivered
sink_body()
{
	sink_raw "$1" | "$PY" -c 'import sys
data = sys.stdin.buffer.read()
i = data.find(b"\r\n\r\n")
sys.stdout.buffer.write(data[i + 4:] if i >= 0 else b"")'
}

# sink_find NAME VALUE - list stored files whose header NAME equals VALUE
sink_find()
{
	local f
	for f in $(sink_messages); do
		if sink_header "$f" "$1" | grep -qxF -- "$2"; then
			echo "$f"
		fi
	done
}

# sink_rcpts_by_header NAME VALUE - envelope recipients that received a
# message whose header NAME equals VALUE, one a line per delivered copy, sorted
sink_rcpts_by_header()
{
	local f
	for f in $(sink_find "$1" "$2"); do
		sink_rcpts "$f"
	done | sort
}

# sink_files_for_rcpt ADDR - stored files delivered to envelope recipient ADDR
sink_files_for_rcpt()
{
	local f
	for f in $(sink_messages); do
		if sink_rcpts "$f" | grep -qixF -- "$1"; then
			echo "$f"
		fi
	done
}

# ---------------------------------------------------------------- milter

# milter_start CONF [options] - run $OPTIN_MILTER -f -c CONF in the
# background on MILTER_SOCK (unix socket under PF_MILTER_DIR), wait for the
# socket and make it connectable for Postfix; output in MILTER_LOG.
# Give Postfix the same socket: pf_start "$PF_BASE" "unix:$MILTER_SOCK"
milter_start()
{
	local conf=$1
	shift
	MILTER_SOCK=$PF_MILTER_DIR/milter.sock
	MILTER_LOG=$PF_BASE/milter.log
	rm -f "$MILTER_SOCK"
	"$OPTIN_MILTER" -f -c "$conf" -p "local:$MILTER_SOCK" "$@" \
	    >>"$MILTER_LOG" 2>&1 </dev/null &
	MILTER_PID=$!
	e2e_track_pid "$MILTER_PID"
	if ! e2e_wait_socket "$MILTER_SOCK" 10; then
		echo "$E2E_NAME: milter did not open $MILTER_SOCK" >&2
		cat "$MILTER_LOG" >&2
		return 1
	fi
	e2e_log "milter pid $MILTER_PID on $MILTER_SOCK"
}

# milter_stop - stop the milter started by milter_start
milter_stop()
{
	[ -n "${MILTER_PID:-}" ] && e2e_kill_pid "$MILTER_PID"
	MILTER_PID=""
}

# ---------------------------------------------------------------- postfix

# pf_milter_spec SPEC - Postfix form of a milter address: accepts Postfix
# forms (unix:/path, inet:host:port) and libmilter forms (local:/path,
# unix:/path, inet:port@host)
pf_milter_spec()
{
	case $1 in
	local:*)	echo "unix:${1#local:}" ;;
	inet:*@*)	local p=${1#inet:}; echo "inet:${p#*@}:${p%@*}" ;;
	*)		echo "$1" ;;
	esac
}

# pf_postconf 'key = value'... - set main.cf parameters (postconf -e)
pf_postconf()
{
	postconf -c "$PF_CONF" -e "$@"
}

# pf_start BASE MILTER [key=value ...] - configure and start a private
# Postfix under BASE (normally $PF_BASE) delivering everything to the sink.
# MILTER: milter address for smtpd_milters and non_smtpd_milters, or "".
# Extra main.cf settings may follow.  Needs sink_start first.
pf_start()
{
	local base=${1:-$PF_BASE} milter=${2:-}
	shift 2 2>/dev/null || shift $#
	if [ -z "$SINK_PORT" ]; then
		echo "$E2E_NAME: pf_start: call sink_start first" >&2
		return 1
	fi
	PF_BASE=$base
	PF_CONF=$base/conf
	PF_QUEUE=$base/queue
	PF_LOG=$base/postfix.log
	PF_PORT=$(e2e_free_port)
	mkdir -p -m 0755 "$PF_CONF" "$PF_QUEUE"
	chown root:root "$PF_QUEUE"
	: > "$PF_LOG"
	chmod 0644 "$PF_LOG"
	cat > "$PF_CONF/main.cf" <<EOF
# private test instance written by tests/e2e/lib.sh
compatibility_level = 3.6
config_directory = $PF_CONF
queue_directory = $PF_QUEUE
data_directory = $base/data
maillog_file = $PF_LOG
maillog_file_prefixes = $base
syslog_name = postfix-e2e
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.example.test
mydomain = example.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK_PORT
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_host_lookup = native
smtp_tls_security_level = none
smtpd_tls_security_level = none
disable_mime_output_conversion = yes
milter_default_action = tempfail
smtpd_milters =
non_smtpd_milters =
biff = no
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
delay_warning_time = 0
EOF
	cp /usr/share/postfix/master.cf.dist "$PF_CONF/master.cf"
	[ "${PF_CHROOT:-n}" = y ] || postconf -c "$PF_CONF" -F '*/*/chroot = n'
	postconf -c "$PF_CONF" -MX smtp/inet
	postconf -c "$PF_CONF" -M \
	    "127.0.0.1:$PF_PORT/inet = 127.0.0.1:$PF_PORT inet n - ${PF_CHROOT:-n} - - smtpd"
	# postlogd writes maillog_file; Debian's master.cf has it, make sure
	postconf -c "$PF_CONF" -M postlog/unix-dgram >/dev/null 2>&1 ||
	    postconf -c "$PF_CONF" -M \
	    'postlog/unix-dgram = postlog unix-dgram n - n - 1 postlogd'
	if [ -n "$milter" ]; then
		PF_MILTER=$(pf_milter_spec "$milter")
		pf_postconf "smtpd_milters = $PF_MILTER" \
		    "non_smtpd_milters = $PF_MILTER"
	else
		PF_MILTER=""
	fi
	[ $# -gt 0 ] && pf_postconf "$@"
	if [ "${PF_CHROOT:-n}" = y ] && ! pf_chroot_sync; then
		echo "$E2E_NAME: chroot set-up of $PF_QUEUE failed" >&2
		return 1
	fi
	if ! postfix -c "$PF_CONF" check >"$base/postfix-check.log" 2>&1; then
		echo "$E2E_NAME: postfix check failed" >&2
		cat "$base/postfix-check.log" "$PF_LOG" >&2
		return 1
	fi
	if ! postfix -c "$PF_CONF" start >"$base/postfix-start.log" 2>&1; then
		echo "$E2E_NAME: postfix start failed" >&2
		cat "$base/postfix-start.log" "$PF_LOG" >&2
		return 1
	fi
	if ! e2e_wait_port "$PF_PORT" 20; then
		echo "$E2E_NAME: postfix smtpd not listening on $PF_PORT" >&2
		cat "$PF_LOG" >&2
		return 1
	fi
	e2e_log "postfix on 127.0.0.1:$PF_PORT (master $(pf_master_pid))" \
	    "milter '${PF_MILTER:-none}'"
}

# pf_master_pid - PID of this instance's master, empty if not running
pf_master_pid()
{
	local pid
	[ -n "$PF_QUEUE" ] && [ -f "$PF_QUEUE/pid/master.pid" ] || return 0
	pid=$(tr -d ' \n' < "$PF_QUEUE/pid/master.pid")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
	return 0
}

# pf_reload - make a running instance reread main.cf and master.cf
pf_reload()
{
	postfix -c "$PF_CONF" reload >/dev/null 2>&1
}

# pf_set_milter MILTER - change smtpd_milters/non_smtpd_milters ("" = none)
# and reload; new connections and pickups use it
pf_set_milter()
{
	PF_MILTER=$(pf_milter_spec "${1:-}")
	pf_postconf "smtpd_milters = $PF_MILTER" "non_smtpd_milters = $PF_MILTER"
	pf_reload
}

# pf_stop - stop this instance (postfix stop; KILL after 15 s)
pf_stop()
{
	local pid i
	pid=$(pf_master_pid)
	[ -n "$pid" ] || return 0
	postfix -c "$PF_CONF" stop >/dev/null 2>&1
	for i in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# hop_start [key=value ...] - a second Postfix instance under $PF_BASE/hop
# that relays everything to the sink: the next hop after the instance
# pf_start starts, for tests of what survives a relay (give pf_start
# "relayhost = [127.0.0.1]:$HOP_PORT").  Extra main.cf settings may follow.
# Sets HOP_CONF, HOP_PORT, HOP_LOG; e2e_cleanup stops it.  Call after
# sink_start and before pf_start (it borrows pf_start and restores PF_*).
hop_start()
{
	local base=$PF_BASE conf=$PF_CONF queue=$PF_QUEUE log=$PF_LOG \
	    port=$PF_PORT milter=$PF_MILTER rc=0
	mkdir -m 0755 "$base/hop" || return 1
	pf_start "$base/hop" "" "myhostname = hop.example.test" "$@" || rc=1
	HOP_CONF=$PF_CONF HOP_QUEUE=$PF_QUEUE HOP_PORT=$PF_PORT HOP_LOG=$PF_LOG
	PF_BASE=$base PF_CONF=$conf PF_QUEUE=$queue PF_LOG=$log PF_PORT=$port
	PF_MILTER=$milter
	return $rc
}

# hop_stop - stop the instance hop_start started
hop_stop()
{
	local conf=$PF_CONF queue=$PF_QUEUE
	[ -n "$HOP_QUEUE" ] || return 0
	PF_CONF=$HOP_CONF PF_QUEUE=$HOP_QUEUE
	pf_stop
	PF_CONF=$conf PF_QUEUE=$queue
	HOP_QUEUE=""
}

# hop_wait_empty TIMEOUT - pf_wait_empty for the hop_start instance
hop_wait_empty()
{
	local queue=$PF_QUEUE conf=$PF_CONF rc
	PF_QUEUE=$HOP_QUEUE PF_CONF=$HOP_CONF
	pf_wait_empty "$@"
	rc=$?
	PF_QUEUE=$queue PF_CONF=$conf
	return $rc
}

# pf_flush - attempt delivery of all queued mail now
pf_flush()
{
	postqueue -c "$PF_CONF" -f >/dev/null 2>&1
}

# pf_queue_count - messages in the queue (maildrop, incoming, active,
# deferred, hold); counts files, so it works with Postfix stopped too.
# One find over the directories there are (pf_wait_empty asks five times
# a second: a find per directory was 15 processes a poll)
pf_queue_count()
{
	local d dirs=()
	for d in maildrop incoming active deferred hold; do
		[ -d "$PF_QUEUE/$d" ] && dirs+=("$PF_QUEUE/$d")
	done
	if [ ${#dirs[@]} -eq 0 ]; then
		echo 0
		return
	fi
	find "${dirs[@]}" -type f | wc -l
}

# pf_queue_list - postqueue -p output (for diagnostics)
pf_queue_list()
{
	postqueue -c "$PF_CONF" -p 2>&1
}

# pf_wait_empty TIMEOUT - wait until the queue is empty; 1 on timeout
# (then the queue listing goes to stderr)
pf_wait_empty()
{
	local n=$(( ${1:-30} * 5 )) i zero=0
	# two empty readings in a row: a file that the queue manager is
	# moving between directories (deferred -> active) can be missed by
	# one scan
	for i in $(seq "$n"); do
		if [ "$(pf_queue_count)" -eq 0 ]; then
			zero=$((zero + 1))
			[ "$zero" -ge 2 ] && return 0
		else
			zero=0
		fi
		sleep 0.2
	done
	echo "$E2E_NAME: queue not empty after ${1:-30}s:" >&2
	pf_queue_list >&2
	return 1
}

# pf_sendmail ARGS... - Postfix's sendmail(1) for this instance; message on
# stdin, e.g. pf_sendmail -i -f from@x.test to@y.test < msg
pf_sendmail()
{
	/usr/sbin/sendmail -C "$PF_CONF" "$@"
}

# pf_sendmail_command - the command line to give a program that submits
# through this instance (e.g. the milter's SendmailCommand)
pf_sendmail_command()
{
	echo "/usr/sbin/sendmail -C $PF_CONF -i"
}

# pf_swaks ARGS... - swaks against this instance's smtpd; transcript
# appended to $PF_BASE/swaks.log; returns swaks' exit status
pf_swaks()
{
	swaks --server "127.0.0.1:$PF_PORT" --helo client.example.test \
	    --timeout 60 "$@" >>"$PF_BASE/swaks.log" 2>&1
}

# pf_send FROM TO[,TO...] FILE [swaks options] - send FILE over SMTP byte
# for byte (LF becomes CRLF, nothing else changes: swaks' own data fix-up
# would add an empty line); prints the queue ID; returns swaks' status
pf_send()
{
	local from=$1 to=$2 file=$3 data rc
	shift 3
	data=$(mktemp "$PF_BASE/send.XXXXXX")
	"$PY" -c 'import sys
d = open(sys.argv[1], "rb").read()
d = d.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
if not d.endswith(b"\r\n"):
	d += b"\r\n"
lines = d.split(b"\r\n")[:-1]
out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
sys.stdout.buffer.write(out + b".")' "$file" > "$data"
	echo "=== pf_send from=$from to=$to file=$file" >>"$PF_BASE/swaks.log"
	swaks --server "127.0.0.1:$PF_PORT" --helo client.example.test \
	    --timeout 60 --from "$from" --to "$to" --no-data-fixup -n \
	    --data "@$data" "$@" >"$data.out" 2>&1
	rc=$?
	cat "$data.out" >>"$PF_BASE/swaks.log"
	sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$data.out" | tail -n 1
	rm -f "$data" "$data.out"
	return $rc
}

# pf_log_grep ERE - maillog lines matching ERE
pf_log_grep()
{
	grep -E -- "$1" "$PF_LOG"
}

# pf_log_has ERE - true if a maillog line matches ERE (quiet)
pf_log_has()
{
	grep -qE -- "$1" "$PF_LOG"
}

# pf_log_wait ERE TIMEOUT - wait until the maillog has a line matching ERE
pf_log_wait()
{
	e2e_wait_for "${2:-30}" grep -qE -- "$1" "$PF_LOG"
}

# ---------------------------------------------------------------- chroot

# pf_chroot_sync - prepare this instance's queue directory as a chroot the
# way Debian's Postfix start-up does, by running Debian's own script
# (/usr/lib/postfix/configure-instance.sh: copies etc/{services,hosts,
# resolv.conf,nsswitch.conf,...} and the NSS libraries) on PF_CONF.
# pf_start calls it when PF_CHROOT=y.
pf_chroot_sync()
{
	local script=/usr/lib/postfix/configure-instance.sh
	if [ ! -x "$script" ]; then
		echo "$E2E_NAME: $script missing (Debian's postfix package)" >&2
		return 1
	fi
	MAIL_CONFIG=$PF_CONF "$script" - >"$PF_BASE/chroot-sync.log" 2>&1 ||
	    { cat "$PF_BASE/chroot-sync.log" >&2; return 1; }
	[ -s "$PF_QUEUE/etc/services" ] && [ -s "$PF_QUEUE/etc/hosts" ]
}

# milter_start_spec SPEC CONF [options] - like milter_start, but the milter
# listens on SPEC as given (local:/path or inet:port@host, for instance the
# Socket a sample configuration documents) and the socket file is left as
# the milter made it (mode 0660, no chmod).  Sets MILTER_SOCK to the path
# (empty for inet:), MILTER_PID, MILTER_LOG.
milter_start_spec()
{
	local spec=$1 conf=$2
	shift 2
	MILTER_LOG=$PF_BASE/milter.log
	MILTER_SOCK=""
	case $spec in
	local:*|unix:*)	MILTER_SOCK=${spec#*:}; rm -f "$MILTER_SOCK" ;;
	esac
	"$OPTIN_MILTER" -f -c "$conf" -p "$spec" "$@" \
	    >>"$MILTER_LOG" 2>&1 </dev/null &
	MILTER_PID=$!
	e2e_track_pid "$MILTER_PID"
	if [ -n "$MILTER_SOCK" ]; then
		e2e_wait_for 10 test -S "$MILTER_SOCK"
	else
		local p=${spec#inet:}
		e2e_wait_port "${p%@*}" 10
	fi || {
		echo "$E2E_NAME: milter did not open $spec" >&2
		cat "$MILTER_LOG" >&2
		return 1
	}
	e2e_log "milter pid $MILTER_PID on $spec"
}
