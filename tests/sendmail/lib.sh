# shellcheck shell=bash
# lib.sh - a real Sendmail 8.17 for the sendmail suite (run.sh), beside
# tests/e2e/lib.sh, whose harness (PF_BASE, sink, milter, assertions) it
# uses.  Sourced after tests/e2e/lib.sh and e2e_init.
#
# Debian's sendmail-bin conflicts with postfix, so it is not installed: its
# packages are fetched with "apt-get download" and unpacked with "dpkg -x"
# into a cache (SM_CACHE), once per package version.  The daemon runs with
# its own sendmail.cf, built by m4 from a test .mc that includes
# conf/sendmail.mc as shipped (only the socket path moved); mail it relays
# goes to the sink through SMART_HOST.  Command-line submissions (the CRM,
# and the milter's split copies through SendmailCommand) go through a
# submit.cf (FEATURE(msp)), which hands them to the daemon over SMTP, as
# Debian's /usr/sbin/sendmail does with /etc/mail/submit.cf (which gets the
# line conf/sendmail.mc says to put into submit.mc as well).
#
# Sendmail refuses a milter socket below a world-writable directory such as
# /tmp (E2E_TMPDIR), waits 60 s at start for DNS unless its host name is a
# FQDN (run.sh runs in its own UTS namespace, host name relay.example.test),
# and logs only to syslog: sm_private_dev gives the suite's mount namespace
# a /dev whose log socket is read by a listener into SM_LOG.
#
#	sm_fetch		SM_ROOT, SM_BIN: the unpacked packages
#	sm_private_dev		/dev with a private log socket (SM_LOG)
#	sm_configure MILTER	SM_DIR with sendmail.cf and submit.cf
#	sm_start		the daemon on 127.0.0.1:SM_PORT (SM_PID)
#	sm_command		the submission command line (SendmailCommand)
#	sm_submit ARGS		submit a message on stdin, as a CRM would
#	sm_queue_count, sm_wait_empty TIMEOUT, sm_wait_for TIMEOUT CMD...
#
# Variables: SM_CACHE [/var/cache/optin-milter-tests/sendmail], SM_ROOT,
# SM_BIN, SM_DIR ($PF_BASE/sendmail, set by sm_configure), SM_PORT, SM_PID,
# SM_LOG.

SM_CACHE=${SM_CACHE:-/var/cache/optin-milter-tests/sendmail}
SM_PACKAGES="sendmail-bin sendmail-base sendmail-cf"
SM_ROOT=""
SM_BIN=""
SM_DIR=""
SM_PORT=""
SM_PID=""
SM_LOG=""

# sm_fetch - SM_ROOT: the packages of this Debian's candidate version,
# downloaded and unpacked into SM_CACHE unless there already; SM_BIN the
# sendmail binary.  1 with the reason on stderr when apt-get download,
# dpkg -x or a library the binary needs (libwrap0) fails.
sm_fetch()
{
	local version tmp p
	version=$(apt-cache show --no-all-versions sendmail-bin 2>/dev/null |
	    sed -n 's/^Version: //p' | head -n 1)
	if [ -z "$version" ]; then
		echo "$E2E_NAME: apt-cache knows no sendmail-bin (apt-get update?)" >&2
		return 1
	fi
	SM_ROOT=$SM_CACHE/$version
	SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
	if [ ! -x "$SM_BIN" ]; then
		mkdir -p "$SM_CACHE" || return 1
		tmp=$(mktemp -d "$SM_CACHE/.fetch.XXXXXX") || return 1
		if ! (cd "$tmp" && apt-get download $SM_PACKAGES) \
		    >"$tmp/download.log" 2>&1; then
			echo "$E2E_NAME: apt-get download $SM_PACKAGES failed:" >&2
			tail -n 5 "$tmp/download.log" >&2
			rm -rf "$tmp"
			return 1
		fi
		for p in "$tmp"/*.deb; do
			dpkg -x "$p" "$tmp/root" || {
				echo "$E2E_NAME: dpkg -x $p failed" >&2
				rm -rf "$tmp"
				return 1
			}
		done
		# another run may have unpacked the same version meanwhile
		mv -T "$tmp/root" "$SM_ROOT" 2>/dev/null || [ -x "$SM_BIN" ]
		rm -rf "$tmp"
		e2e_log "sendmail $version unpacked in $SM_ROOT"
	fi
	if [ ! -x "$SM_BIN" ]; then
		echo "$E2E_NAME: no $SM_BIN in sendmail-bin $version" >&2
		return 1
	fi
	if ldd "$SM_BIN" | grep -q 'not found'; then
		echo "$E2E_NAME: $SM_BIN lacks libraries (libwrap0: run" \
		    "contrib/deps.sh): $(ldd "$SM_BIN" | grep 'not found')" >&2
		return 1
	fi
}

# sm_private_dev - in this (private) mount namespace, replace /dev with a
# tmpfs holding the usual device nodes (bind mounts) and a "log" link to a
# datagram socket read by a listener that appends to SM_LOG: Sendmail's
# syslog lines.  The tmpfs is moved onto /dev, so nothing of it stays below
# PF_BASE for e2e_cleanup to remove.
sm_private_dev()
{
	local d=$PF_BASE/dev n
	SM_LOG=$PF_BASE/sendmail.log
	: > "$SM_LOG"
	"$PY" -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
out = open(sys.argv[2], "ab", buffering=0)
while True:
	out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")' \
	    "$PF_BASE/log.sock" "$SM_LOG" </dev/null 2>>"$SM_LOG" &
	e2e_track_pid $!
	e2e_wait_for 10 test -S "$PF_BASE/log.sock" || return 1
	mkdir -p "$d" &&
	mount -t tmpfs -o mode=0755,size=64k optin-dev "$d" || return 1
	for n in null zero full random urandom tty; do
		: > "$d/$n" && mount --bind "/dev/$n" "$d/$n" || return 1
	done
	ln -s /proc/self/fd "$d/fd"
	ln -s /proc/self/fd/0 "$d/stdin"
	ln -s /proc/self/fd/1 "$d/stdout"
	ln -s /proc/self/fd/2 "$d/stderr"
	ln -s "$PF_BASE/log.sock" "$d/log"
	mount --move "$d" /dev
}

# sm_configure MILTER - SM_DIR with the daemon's sendmail.cf (listening on
# a free SM_PORT, relaying everything to the sink, with conf/sendmail.mc
# included and its socket replaced by MILTER, a libmilter address such as
# local:/path) and submit.cf for command-line submissions.  Needs
# sink_start first.
sm_configure()
{
	local milter=$1 cf=$SM_ROOT/usr/share/sendmail/cf q
	SM_DIR=$(sm_dir)
	SM_PORT=$(e2e_free_port)
	mkdir -m 0755 "$SM_DIR" && mkdir -m 0700 "$SM_DIR/mqueue" || return 1
	# the submission program drops root for RunAsUser (it refuses root)
	mkdir -m 0770 "$SM_DIR/cmqueue" || return 1
	chown nobody:nogroup "$SM_DIR/cmqueue"
	printf '127.0.0.1 localhost relay.example.test\n' > "$SM_DIR/hosts"
	# no DNS: host names from the hosts file only
	printf 'hosts files\naliases files\n' > "$SM_DIR/service.switch"
	printf 'relay.example.test\n' > "$SM_DIR/local-host-names"
	: > "$SM_DIR/aliases"
	: > "$SM_DIR/helpfile"
	sed "s|local:/run/optin-milter/optin-milter.sock|$milter|" \
	    "$E2E_TOP/conf/sendmail.mc" > "$SM_DIR/optin-milter.m4"
	if ! grep -qF "S=$milter," "$SM_DIR/optin-milter.m4"; then
		echo "$E2E_NAME: conf/sendmail.mc does not name the default" \
		    "socket local:/run/optin-milter/optin-milter.sock" >&2
		return 1
	fi
	# what conf/sendmail.mc says to put into submit.mc as well
	grep "^define(\`confMUST_QUOTE_CHARS'" "$E2E_TOP/conf/sendmail.mc" \
	    > "$SM_DIR/submit-optin.m4"
	q="define(\`confSERVICE_SWITCH_FILE', \`$SM_DIR/service.switch')
define(\`confHOSTS_FILE', \`$SM_DIR/hosts')
define(\`confDOMAIN_NAME', \`relay.example.test')
define(\`confDONT_PROBE_INTERFACES', \`True')
define(\`confLOG_LEVEL', \`12')
dnl deliver at once however busy the machine: by default Sendmail only
dnl queues above a load average of 8 per CPU, and refuses mail above 12
define(\`confQUEUE_LA', \`10000')
define(\`confREFUSE_LA', \`10000')"
	cat > "$SM_DIR/sendmail.mc" <<EOF
divert(-1)
dnl written by tests/sendmail/lib.sh: a relay on 127.0.0.1:$SM_PORT
include(\`$cf/m4/cf.m4')
define(\`confCF_VERSION', \`optin-test')
OSTYPE(\`linux')
define(\`QUEUE_DIR', \`$SM_DIR/mqueue')
define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')
define(\`STATUS_FILE', \`$SM_DIR/sendmail.st')
define(\`HELP_FILE', \`$SM_DIR/helpfile')
define(\`ALIAS_FILE', \`$SM_DIR/aliases')
define(\`confCW_FILE', \`$SM_DIR/local-host-names')
$q
define(\`confTO_QUEUERETURN', \`1h')
define(\`SMART_HOST', \`[127.0.0.1]')
define(\`RELAY_MAILER_ARGS', \`TCP \$h $SINK_PORT')
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $SINK_PORT')
FEATURE(\`no_default_msa')
FEATURE(\`nocanonify')
FEATURE(\`accept_unresolvable_domains')
DAEMON_OPTIONS(\`Family=inet, Name=MTA-v4, Port=$SM_PORT, Addr=127.0.0.1')
include(\`$SM_DIR/optin-milter.m4')
MAILER(\`smtp')
EOF
	cat > "$SM_DIR/submit.mc" <<EOF
divert(-1)
dnl written by tests/sendmail/lib.sh: submissions to 127.0.0.1:$SM_PORT
include(\`$cf/m4/cf.m4')
define(\`confCF_VERSION', \`optin-test-submit')
define(\`__OSTYPE__', \`')
define(\`MSP_QUEUE_DIR', \`$SM_DIR/cmqueue')
define(\`confPID_FILE', \`$SM_DIR/sm-client.pid')
define(\`STATUS_FILE', \`$SM_DIR/sm-client.st')
$q
define(\`confRUN_AS_USER', \`nobody:nogroup')
define(\`RELAY_MAILER_ARGS', \`TCP \$h $SM_PORT')
include(\`$SM_DIR/submit-optin.m4')
FEATURE(\`msp', \`[127.0.0.1]')
EOF
	m4 "$SM_DIR/sendmail.mc" > "$SM_DIR/sendmail.cf" &&
	m4 "$SM_DIR/submit.mc" > "$SM_DIR/submit.cf" || {
		echo "$E2E_NAME: m4 failed on $SM_DIR/*.mc" >&2
		return 1
	}
}

# sm_start - run the daemon in the foreground (-bD) in the background, wait
# until it listens on SM_PORT; SM_PID; its output in $SM_DIR/daemon.out
sm_start()
{
	"$SM_BIN" -C "$SM_DIR/sendmail.cf" -bD >"$SM_DIR/daemon.out" 2>&1 \
	    </dev/null &
	SM_PID=$!
	e2e_track_pid "$SM_PID"
	if ! e2e_wait_port "$SM_PORT" 20; then
		echo "$E2E_NAME: sendmail not listening on $SM_PORT" >&2
		cat "$SM_DIR/daemon.out" "$SM_LOG" >&2
		return 1
	fi
	e2e_log "sendmail pid $SM_PID on 127.0.0.1:$SM_PORT"
}

# sm_dir - print SM_DIR, the directory sm_configure fills: $PF_BASE/sendmail
sm_dir()
{
	echo "$PF_BASE/sendmail"
}

# sm_command - the submission command line (the milter's SendmailCommand);
# known before sm_configure runs
sm_command()
{
	echo "$SM_BIN -C $(sm_dir)/submit.cf -i"
}

# sm_submit ARGS... - submit the message on stdin with sm_command, e.g.
# sm_submit -f news@example.com ann@example.com < msg
sm_submit()
{
	$(sm_command) "$@"
}

# sm_wait_for TIMEOUT COMMAND... - run COMMAND every 0.3 s until it
# succeeds, for at most TIMEOUT seconds of wall time
sm_wait_for()
{
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.3
	done
	"$@"
}

# sm_queue_count - messages in the daemon's and the submission queue
sm_queue_count()
{
	find "$SM_DIR/mqueue" "$SM_DIR/cmqueue" -name 'qf*' | wc -l
}

# sm_queues_empty - true if both queues are empty
sm_queues_empty()
{
	[ "$(sm_queue_count)" -eq 0 ]
}

# sm_wait_empty TIMEOUT - wait until both queues are empty (two readings, one
# a row); 1 on timeout, with the queue listing on stderr
sm_wait_empty()
{
	sm_wait_for "${1:-30}" sm_queues_empty && sm_queues_empty && return 0
	echo "$E2E_NAME: sendmail queues not empty after ${1:-30}s:" >&2
	"$SM_BIN" -C "$SM_DIR/sendmail.cf" -bp >&2
	"$SM_BIN" -C "$SM_DIR/submit.cf" -bp >&2
	return 1
}
