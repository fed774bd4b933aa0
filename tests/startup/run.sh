#!/bin/bash
# run.sh - optin-milter start-up as an admin meets it: -n, -V, config
# errors naming file:line:key, key files that are missing, readable by
# others, below a group-writable directory or (accepted as root) of
# another user, the pid file, the privilege drop, reloads on SIGUSR1 and
# a clean stop on SIGTERM; then t-loud.sh (successors, daemon mode, a
# replaced database).
# Prints "startup: N passed, N failed" last.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
M=$(cd "$top_builddir" && pwd)/optin-milter
pass=0 fail=0
d=$(mktemp -d /tmp/optin-startup.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$d"' EXIT
chmod 755 "$d"

ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1${2:+: $2}"; }
# expect LABEL WANT_RC WANT_OUTPUT_RE -- command...
expect()
{
	local label=$1 rc=$2 re=$3 out got
	shift 4
	out=$("$@" 2>&1); got=$?
	if [ "$got" != "$rc" ]; then
		bad "$label" "exit $got, want $rc; output: $out"
	elif [ -z "$re" ] && [ -n "$out" ]; then
		bad "$label" "want no output, got: $out"
	elif [ -n "$re" ] && ! grep -qE -- "$re" <<<"$out"; then
		bad "$label" "output '$out' does not match '$re'"
	else
		ok "$label"
	fi
}

mkdir -m 700 "$d/q" "$d/keys"
cat "$top_srcdir/sql/schema.sql" "$top_srcdir"/sql/sqlite-[0-9]*.sql | sqlite3 "$d/consent.db"
chmod 600 "$d/consent.db"
(umask 077
printf '1 %s\n' "$(openssl rand -base64 32)" > "$d/keys/token"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$d/keys/rsa.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 \
    -out "$d/keys/weak.pem" 2>/dev/null)
base() {
	cat <<EOC
Syslog no
ConsentDB $d/consent.db
QuarantineDir $d/q
CampaignSenders news@example.com
DefaultList news
TokenKeyFile $d/keys/token
UnsubscribeURL https://unsub.example.com/u/%t
Domain example.com
Selector s1
EOC
}
{ base; echo "KeyFile $d/keys/rsa.pem"; } > "$d/good.conf"

expect "-V prints the version" 0 '^optin-milter [0-9]+\.[0-9]+' -- "$M" -V
expect "-n on a good config: silent, exit 0" 0 "" -- "$M" -n -c "$d/good.conf"
expect "unknown option: usage, exit 64" 64 'usage: optin-milter' -- "$M" -x
expect "missing config file: exit 78" 78 "$d/none.conf: cannot open" -- \
    "$M" -n -c "$d/none.conf"

{ base; echo "KeyFile $d/keys/rsa.pem"; echo "Mode sometimes"; echo "Bogus 1"; } > "$d/bad.conf"
expect "bad value names file:line:key" 78 "$d/bad.conf:11: Mode: bad value 'sometimes'" -- \
    "$M" -n -c "$d/bad.conf"
expect "every error reported, not just the first" 78 "$d/bad.conf:12: Bogus: unknown key" -- \
    "$M" -n -c "$d/bad.conf"

{ base; echo "KeyFile $d/keys/missing.pem"; } > "$d/nokey.conf"
expect "missing DKIM key: exit 78 naming it" 78 "missing.pem" -- "$M" -n -c "$d/nokey.conf"
cp "$d/keys/rsa.pem" "$d/keys/open.pem"; chmod 644 "$d/keys/open.pem"
{ base; echo "KeyFile $d/keys/open.pem"; } > "$d/openkey.conf"
expect "key readable by others: exit 78" 78 "open.pem.*(group|others|mode)" -- \
    "$M" -n -c "$d/openkey.conf"
mkdir -m 775 "$d/gw"
cp "$d/keys/rsa.pem" "$d/gw/rsa.pem"
{ base; echo "KeyFile $d/gw/rsa.pem"; } > "$d/gwkey.conf"
expect "key below a group-writable directory: exit 78 naming it" 78 \
    "$d/gw/rsa.pem: directory $d/gw is writable by group or others \(mode 0775\)" -- \
    "$M" -n -c "$d/gwkey.conf"
cp "$d/keys/rsa.pem" "$d/keys/other.pem"; chown nobody "$d/keys/other.pem"
{ base; echo "KeyFile $d/keys/other.pem"; } > "$d/otherkey.conf"
expect "key of another user (as OpenDKIM's), read as root: -n exit 0" 0 "" -- \
    "$M" -n -c "$d/otherkey.conf"
{ base; echo "KeyFile $d/keys/weak.pem"; } > "$d/weak.conf"
expect "RSA key under 2048 bits: exit 78" 78 "weak.pem" -- "$M" -n -c "$d/weak.conf"
chmod 644 "$d/keys/token"
expect "token key file readable by others: exit 78" 78 "TokenKeyFile" -- \
    "$M" -n -c "$d/good.conf"
chmod 600 "$d/keys/token"
sed "s|^ConsentDB .*|ConsentDB $d/nodb.db|" "$d/good.conf" > "$d/nodb.conf"
expect "missing database: exit 78" 78 "ConsentDB" -- "$M" -n -c "$d/nodb.conf"
{ cat "$d/good.conf"; echo "UserID nosuchuser-optin"; } > "$d/nouser.conf"
expect "unknown UserID: exit 78" 78 "UserID: unknown user 'nosuchuser-optin'" -- \
    "$M" -n -c "$d/nouser.conf"
expect "config that is a directory: exit 78" 78 "$d/q: not a regular file" -- \
    "$M" -n -c "$d/q"

# run it: pid file, privilege drop, SIGTERM
# the pid file's directory belongs to UserID (as /run/optin-milter would),
# so the unprivileged process can remove it at exit
mkdir -m 755 "$d/run"
chown -R nobody "$d/consent.db" "$d/q" "$d/run"
{ cat "$d/good.conf"; echo "PidFile $d/run/milter.pid"; echo "UserID nobody"; } > "$d/run.conf"
"$M" -f -c "$d/run.conf" -p "local:$d/milter.sock" > "$d/log" 2>&1 &
pid=$!
for _ in $(seq 50); do [ -S "$d/milter.sock" ] && break; sleep 0.1; done
if [ -S "$d/milter.sock" ]; then ok "socket created"; else bad "socket created" "$(cat "$d/log")"; fi
[ "$(cat "$d/run/milter.pid" 2>/dev/null)" = "$pid" ] && ok "pid file names the process" ||
    bad "pid file names the process"
uid=$(awk '/^Uid:/ { print $2 }' /proc/$pid/status 2>/dev/null)
[ "$uid" = "$(id -u nobody)" ] && ok "privileges dropped to UserID" ||
    bad "privileges dropped to UserID" "uid $uid"
mode=$(stat -c %a "$d/milter.sock" 2>/dev/null)
[ "$mode" = 660 ] && ok "socket mode 0660" || bad "socket mode 0660" "$mode"
# SIGUSR1 reloads; the running milter is nobody now: it can read the
# token key (given to it), not the DKIM key (root's, kept from start-up)
chown nobody "$d/keys" "$d/keys/token"
kill -USR1 "$pid"
for _ in $(seq 50); do grep -q 'reload: done in' "$d/log" && break; sleep 0.1; done
grep -qE '^reload: done in [0-9]+ ms: generation 2 replaces 1' "$d/log" &&
    ok "SIGUSR1: reload done and logged" || bad "SIGUSR1: reload done and logged" "$(cat "$d/log")"
grep -q "^warning: KeyFile $d/keys/rsa.pem: cannot open: Permission denied (as uid $(id -u nobody)): keeping the key read at start-up" "$d/log" &&
    ok "SIGUSR1: a key UserID cannot read is kept, with a warning" ||
    bad "SIGUSR1: a key UserID cannot read is kept, with a warning"
echo "Mode sometimes" >> "$d/run.conf"
kill -USR1 "$pid"
for _ in $(seq 50); do grep -q 'nothing changed' "$d/log" && break; sleep 0.1; done
grep -q "^error: reload: $d/run.conf:13: Mode: bad value 'sometimes'" "$d/log" &&
    grep -q '^error: reload: 1 error, nothing changed: still serving with generation 2' "$d/log" &&
    ok "SIGUSR1 with a bad config: logged, nothing changed" ||
    bad "SIGUSR1 with a bad config: logged, nothing changed" "$(cat "$d/log")"
kill -0 "$pid" 2>/dev/null && ok "still running after the reloads" || bad "still running after the reloads"
kill -TERM "$pid"
rc=""
for _ in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; rc=$?; break; fi
	sleep 0.1
done
[ "$rc" = 0 ] && ok "SIGTERM: clean exit 0" || bad "SIGTERM: clean exit 0" "rc '$rc'"
pid=""
[ ! -e "$d/run/milter.pid" ] && ok "pid file removed at exit" || bad "pid file removed at exit"
grep -q "optin-milter stopping" "$d/log" && ok "stop logged" || bad "stop logged"

# daemons that fail loudly (t-loud.sh): its counts are added to ours
loud=$(bash "$(dirname "$0")/t-loud.sh" | tail -n 1)
case $loud in
startup-loud:*passed*failed)
	set -- $loud
	pass=$((pass + $2)); fail=$((fail + $4)) ;;
*)	bad "t-loud.sh printed no result line" "$loud" ;;
esac

echo "startup: $pass passed, $fail failed"
[ "$fail" = 0 ]
