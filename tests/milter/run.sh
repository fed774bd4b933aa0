#!/bin/bash
# run.sh - run every tests/milter/t-*.lua with miltertest against a fresh
# database, spool and key for each script.  A script's .log-re file, when
# present, holds a regular expression the filter's log must match.  Prints
# "miltertest: N passed, N failed" last.  Usage: run.sh [t-name ...]
# (default: all); MT_VERBOSE=1 shows the log of a passing script too.
# MT_JOBS scripts at a time [6]: each has its own directory (socket,
# database or PostgreSQL database mt_NAME, spool, log), and most of a
# script's time is libmilter's stop (its listener sees SIGTERM only at its
# next 5 s poll timeout), idle.  Outputs are printed whole, in the
# scripts' order, each PASS/FAIL line with the script's seconds.
# The database is on either engine (tests/lib/db.sh): SQLite files, or
# with OPTIN_STORE=pgsql one private PostgreSQL server (started here, as
# root) and a fresh database on it per script.  optinctl init creates the
# schema and fixture.sql (plain INSERTs both engines read) the data; a
# script reaches its database through OPTIN_DB (the ConsentDB value):
# common.lua's T.sql and the .setup files use tests/lib/db.sh.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
here=$top_srcdir/tests/milter
milter=$top_builddir/optin-milter
. "$top_srcdir/tests/lib/db.sh"
pass=0
fail=0

if ! command -v miltertest >/dev/null 2>&1; then
	echo "miltertest not installed (apt-get install miltertest)"
	echo "miltertest: 0 passed, 1 failed"
	exit 1
fi
if ! db_start; then
	echo "PostgreSQL did not start"
	echo "miltertest: 0 passed, 1 failed"
	exit 1
fi
trap db_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# setup DIR SCRIPT - database, spool, keys and config for one script;
# sets OPTIN_DB; 1 when the database could not be made
setup() {
	dir=$1; name=$2
	mkdir -p "$dir/quarantine" "$dir/sent"
	chmod 700 "$dir" "$dir/quarantine"
	if db_pgsql; then
		OPTIN_DB=$(db_new "mt_$(echo "$name" | tr -- - _)" "$dir")
	else
		OPTIN_DB=$(db_new consent "$dir")
	fi || return 1
	(umask 077; printf '1 %s\n' "$(openssl rand -base64 32)" > "$dir/token.keys")
	cat > "$dir/fake-sendmail" <<EOS
#!/bin/sh
# records one re-submission: arguments, then the message
[ -e "$dir/sendmail-fails" ] && exit 75
n=\$(ls "$dir/sent" | wc -l)
{ echo "ARGS: \$*"; cat; } > "$dir/sent/\$n"
EOS
	chmod 755 "$dir/fake-sendmail"
	sed -e "s|@DIR@|$dir|g" -e "s|@DB@|$OPTIN_DB|g" "$here/base.conf" \
	    > "$dir/optin-milter.conf"
	# the schema (base.conf only: a script's ErasureKeyFile is made when
	# its .setup says), then the data
	"$top_builddir/optinctl" -c "$dir/optin-milter.conf" init \
	    > "$dir/init.out" 2>&1 &&
	    db_load "$OPTIN_DB" "$here/fixture.sql" >> "$dir/init.out" 2>&1 ||
	    { cat "$dir/init.out"; return 1; }
	if [ -f "$here/$name.conf" ]; then
		sed "s|@DIR@|$dir|g" "$here/$name.conf" >> "$dir/optin-milter.conf"
	fi
	if [ -f "$here/$name.setup" ]; then
		DIR=$dir . "$here/$name.setup"
	fi
}

if [ $# -gt 0 ]; then
	scripts=""
	for t in "$@"; do
		scripts="$scripts $here/${t%.lua}.lua"
	done
else
	scripts=$(ls "$here"/t-*.lua)
fi
# run_one SCRIPT OUT - set up and run one script; its report to OUT, "0"
# (passed) or "1" to OUT.rc
run_one() {
	local t=$1 out=$2 name dir start rc=1
	name=$(basename "$t" .lua)
	start=$(date +%s)
	dir=$(mktemp -d /tmp/optin-mt.XXXXXX)
	if setup "$dir" "$name" > "$dir/out" 2>&1 &&
	    OPTIN_DB=$OPTIN_DB OPTIN_MILTER=$milter OPTIN_CONF=$dir/optin-milter.conf \
	    OPTIN_SOCK=$dir/milter.sock OPTIN_DIR=$dir OPTIN_SRC=$here \
	    timeout 60 miltertest -s "$t" >> "$dir/out" 2>&1 &&
	    ! left_running "$dir" >> "$dir/out" &&
	    { [ ! -f "$here/$name.log-re" ] ||
	      grep -qE -f "$here/$name.log-re" "$dir/out" ||
	      { echo "log has no line matching $(cat "$here/$name.log-re")" >> "$dir/out"; false; }; }; then
		rc=0
		echo "PASS: $name ($(( $(date +%s) - start )) s)"
		[ "${MT_VERBOSE:-0}" = 1 ] && sed "s/^/    /" "$dir/out"
	else
		echo "FAIL: $name ($(( $(date +%s) - start )) s)"
		sed "s/^/    /" "$dir/out" | tail -25
	fi > "$out"
	left_running "$dir" >/dev/null	# after a failure too
	rm -rf "$dir"
	echo $rc > "$out.rc"
}

# left_running DIR - did the script leave a filter of DIR running (one
# miltertest did not start, say a second mt.startfilter, or miltertest
# stopped by timeout)?  Each is stopped; true (and said) if there was one.
# miltertest stops its own filter at exit, which may take libmilter's
# 5 s poll: a filter still there after 10 s is left.
left_running() {
	local pids i=0
	while pids=$(pgrep -f -- "-c $1/optin-milter.conf") &&
	    [ "$i" -lt 20 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	[ -n "$pids" ] || return 1
	echo "a filter was left running (pid $(echo $pids)): stopped"
	kill $pids 2>/dev/null
	return 0
}

jobs_max=${MT_JOBS:-6}
case $jobs_max in ''|*[!0-9]*|0) jobs_max=1 ;; esac
outdir=$(mktemp -d /tmp/optin-mt-out.XXXXXX)
trap 'kill $(jobs -pr) 2>/dev/null; wait; rm -rf "$outdir"; db_stop' EXIT
n=0
for t in $scripts; do
	n=$((n + 1))
	while [ "$(jobs -pr | wc -l)" -ge "$jobs_max" ]; do
		wait -n
	done
	run_one "$t" "$outdir/$n" &
done
wait
i=0
for t in $scripts; do
	i=$((i + 1))
	if [ "$(cat "$outdir/$i.rc" 2>/dev/null)" = 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		[ -f "$outdir/$i.rc" ] ||
		    echo "FAIL: $(basename "$t" .lua) (not finished)"
	fi
	cat "$outdir/$i" 2>/dev/null
done
echo "miltertest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
