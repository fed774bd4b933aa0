#!/bin/bash
# tests/startup/t-loud.sh - daemons that fail loudly (issue 15 item 5), with the
# real optin-milter and optin-unsubd binaries:
#  - a milter started while another one runs on the same socket and pid
#    file keeps both when the old one stops (exact pid in the pid file, the
#    socket answers), and removes both when it stops itself;
#  - daemon mode (no -f) exits with the start-up failure's code (73 for an
#    unwritable PidFile) and leaves no socket and no pid file; when start-up
#    succeeds the parent exits 0 after the pid file is written;
#  - root without UserID logs a warning;
#  - the consent database replaced under a running optin-unsubd: the
#    one-click POST gets 503 (not 200), the old and the new file are both
#    unchanged, and an error names the file.
# Runs as root (UserID nobody for the takeover case).  Every process it
# starts is stopped by PID.  Last line: "startup-loud: N passed, N failed" (run.sh adds it to its own).
set -u

top_builddir=${top_builddir:-.}
MILTER=$top_builddir/optin-milter
UNSUBD=$top_builddir/optin-unsubd
OPTINCTL=$top_builddir/optinctl
PY=/usr/bin/python3

pass=0
fail=0
pids=()

ok() { pass=$((pass + 1)); }
nok() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() {
	if [ "$2" = "$3" ]; then ok; else nok "$1: got '$2', want '$3'"; fi
}
finish() {
	echo "startup-loud: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}
# stop PID - TERM, wait up to 15 s (wait_for), then KILL
stop() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	wait_for gone "$1" || kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
gone() { ! kill -0 "$1" 2>/dev/null; }
cleanup() {
	local p
	for p in "${pids[@]}"; do stop "$p"; done
	[ -n "${tmp:-}" ] && [ -z "${KEEP:-}" ] && rm -rf "$tmp"
}
trap cleanup EXIT

for bin in "$MILTER" "$UNSUBD" "$OPTINCTL"; do
	[ -x "$bin" ] || { nok "$bin not built"; finish; }
done
case $MILTER in /*) ;; *) MILTER=$(pwd)/$MILTER UNSUBD=$(pwd)/$UNSUBD OPTINCTL=$(pwd)/$OPTINCTL ;; esac
if [ "$(id -u)" != 0 ]; then
	nok "runs as root (UserID nobody, root warning)"
	finish
fi

tmp=$(mktemp -d /tmp/optin-startup.XXXXXX) || exit 1
chmod 0755 "$tmp"
run=$tmp/run
mkdir "$run" "$tmp/quarantine"
umask 077
printf '1 %s\n' "$(head -c 32 /dev/urandom | base64)" > "$tmp/token.keys"
umask 022
sock=$run/milter.sock
pidf=$run/milter.pid
port=$($PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf=$tmp/optin-milter.conf
cat > "$conf" <<EOF
Syslog no
LogLevel info
ConsentDB $tmp/consent.db
QuarantineDir $tmp/quarantine
TokenKeyFile $tmp/token.keys
UnsubscribeURL http://127.0.0.1:$port/u/%t
UnsubscribeListen 127.0.0.1:$port
CampaignSenders news@example.com
DefaultList news
Socket local:$sock
PidFile $pidf
EOF
"$OPTINCTL" -c "$conf" init >/dev/null 2>&1 &&
    "$OPTINCTL" -c "$conf" list add news >/dev/null 2>&1 &&
    "$OPTINCTL" -c "$conf" subscribe ann@example.com news >/dev/null 2>&1 &&
    "$OPTINCTL" -c "$conf" subscribe bob@example.com news >/dev/null 2>&1 ||
    { nok "optinctl init"; finish; }
# UserID nobody: libmilter removes the socket at exit only when not root
sed 's/^PidFile .*/&\nUserID nobody/' "$conf" > "$tmp/nobody.conf"
chown -R nobody "$tmp/consent.db" "$run" "$tmp/quarantine"

# answers SOCKET - does a unix socket at SOCKET accept a connection?
answers() {
	$PY -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])' "$1" 2>/dev/null
}
# wait_for COMMAND... - up to 15 s until COMMAND succeeds
wait_for() {
	for _ in $(seq 150); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
pid_is() { [ "$(cat "$pidf" 2>/dev/null)" = "$1" ]; }

# --- 1. a successor keeps its socket and pid file ----------------------
"$MILTER" -f -c "$tmp/nobody.conf" 2>"$tmp/a.err" &
a=$!; pids+=("$a")
wait_for pid_is "$a" && wait_for answers "$sock" ||
    nok "first milter did not start: $(cat "$tmp/a.err")"
"$MILTER" -f -c "$tmp/nobody.conf" 2>"$tmp/b.err" &
b=$!; pids+=("$b")
wait_for pid_is "$b" || nok "second milter did not write its pid file"
sleep 0.5
stop "$a"
expect "after the old milter stopped: the pid file" "$(cat "$pidf" 2>/dev/null)" "$b"
if answers "$sock"; then ok; else nok "after the old milter stopped: $sock does not answer"; fi
kill -0 "$b" 2>/dev/null && ok || nok "second milter died: $(cat "$tmp/b.err")"
stop "$b"
expect "after the last milter stopped: socket and pid file" \
    "$(ls "$run")" ""

# --- 2. daemon mode: start-up failure is the exit code ----------------
sed "s|^PidFile .*|PidFile $tmp/no-such-dir/milter.pid|" "$conf" > "$tmp/badpid.conf"
timeout 30 "$MILTER" -c "$tmp/badpid.conf" >/dev/null 2>"$tmp/c.err"
expect "milter daemon, PidFile in a missing directory: exit" "$?" 73
if grep -q "PidFile: .*no-such-dir" "$tmp/c.err"; then ok; else
	nok "milter daemon: no PidFile error on stderr: $(cat "$tmp/c.err")"; fi
sleep 0.5
expect "milter daemon failed: nothing left in $run" "$(ls "$run")" ""

timeout 30 "$UNSUBD" -c "$tmp/badpid.conf" >/dev/null 2>"$tmp/d.err"
expect "unsubd daemon, PidFile in a missing directory: exit" "$?" 73
if grep -q "PidFile: .*no-such-dir" "$tmp/d.err"; then ok; else
	nok "unsubd daemon: no PidFile error on stderr: $(cat "$tmp/d.err")"; fi

# --- 3. daemon mode success; root without UserID warns ----------------
timeout 30 "$MILTER" -c "$conf" >/dev/null 2>"$tmp/e.err"
expect "milter daemon started: exit" "$?" 0
e=$(cat "$pidf" 2>/dev/null)
[ -n "$e" ] && pids+=("$e")
if [ -n "$e" ] && kill -0 "$e" 2>/dev/null; then ok; else
	nok "milter daemon: pid file '$e' names no running process"; fi
if answers "$sock"; then ok; else nok "milter daemon: $sock does not answer when the parent exits"; fi
if grep -q "running as root: set UserID" "$tmp/e.err"; then ok; else
	nok "root without UserID: no warning: $(cat "$tmp/e.err")"; fi
stop "$e"

# --- 4. the database replaced under optin-unsubd ----------------------
"$UNSUBD" -f -c "$conf" 2>"$tmp/u.err" &
u=$!; pids+=("$u")
up() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; }
wait_for up || nok "unsubd did not start: $(cat "$tmp/u.err")"
tok=$("$OPTINCTL" -c "$conf" token issue ann@example.com news 2>/dev/null | tail -n 1)
tob=$("$OPTINCTL" -c "$conf" token issue bob@example.com news 2>/dev/null | tail -n 1)
# bob first: the server's database handles are open when the file changes
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    --data 'List-Unsubscribe=One-Click' "http://127.0.0.1:$port/u/$tob")
expect "one-click POST before the replacement: status" "$code" 200
cp "$tmp/consent.db" "$tmp/new.db"
mv "$tmp/consent.db" "$tmp/old.db"
mv "$tmp/new.db" "$tmp/consent.db"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    --data 'List-Unsubscribe=One-Click' "http://127.0.0.1:$port/u/$tok")
expect "one-click POST after the database was replaced: status" "$code" 503
for f in old.db consent.db; do
	expect "after the replacement: state in $f" "$(sqlite3 "$tmp/$f" \
	    "SELECT status FROM subscriptions WHERE address='ann@example.com'")" \
	    opted_in
done
if grep -q "ConsentDB $tmp/consent.db was replaced or removed" "$tmp/u.err"; then ok; else
	nok "unsubd: no error about the replaced database: $(cat "$tmp/u.err")"; fi
stop "$u"
finish
