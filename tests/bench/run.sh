#!/bin/bash
# run.sh - the optin-milter benchmarks (issue 7), one command:
#
#	tests/bench/run.sh		# everything, about 20 minutes
#	QUICK=1 tests/bench/run.sh	# smaller counts, one round, ~3 minutes
#	ONLY="relay store" tests/bench/run.sh	# some sections only
#
# Sections: relay (Postfix throughput: no milter / OpenDKIM / optin-milter,
# unix and inet sockets, Ed25519, both, half blocked, inet stall probe),
# store (consent lookups at 10,000,000 rows, warm, cold, while optin-unsubd
# writes; then warm on a private PostgreSQL, the same rows and lookups), import (optinctl import of 1,000,000 rows), unsub (wrk one-click
# load while the milter delivers, and the disk's fdatasync latency
# meanwhile: syncprobe.c), memory (RSS after 1,000 and 100,000
# messages, 100 SMTP sessions), profile (callgrind of both milters), sign
# (µs per DKIM signature, key cache on and off: sign.sh), split (one
# message to 1,000 and 10,000 recipients, sendmail(1) and the
# ResubmitAddress channel: split.sh).
# Sections store, import and unsub live in db.sh, sign in sign.sh, split
# in split.sh (each sourced here).
# Every figure is printed with its target and ratio; the table is also
# written to $BENCH_OUT (default /var/tmp/optin-bench-results.md).
# BENCHMARKS.md at the top of the tree has the method and the figures.
#
# Not part of the test suite.  Needs root (a private Postfix), the built
# programs (make), and Debian packages postfix, opendkim, opendkim-tools,
# miltertest, wrk, valgrind, sqlite3 (installed here when missing).
# Work files live in a 0700 directory under /var/tmp, keys in a 0700
# directory under /root (opendkim refuses a key below a world-writable
# directory such as /tmp or /var/tmp); both are removed at the end
# (BENCH_KEEP=1 keeps them).  Every process started here is stopped by PID.
#
# Tunables (environment): MSGS (5000), ROUNDS (3), SESSIONS (20),
# STORE_ROWS (10000000), IMPORT_ROWS (1000000), WRK_SECONDS (30),
# MEM_MSGS (100000), MEM_ED_MSGS (100000 Ed25519 messages for the RSS
# check; QUICK 20000), SIGN_N (2000), PROFILE_MSGS (300); BENCH_UNSUBD (the optin-unsubd
# binary to measure; default the tree's); BENCH_LIST_INDEX=1 (the relay's
# database gets back the index of subscriptions by list that schema
# version 4 dropped: before/after runs of one-click); BENCH_MILTER (the same for
# optin-milter, e.g. a build of the base commit copied aside); ENGINES
# ("sqlite pgsql"; "sqlite" alone skips PostgreSQL: the unsub section once
# per engine, and section engines: the relay's optin-unix set-up with
# ConsentDB on SQLite and on a private PostgreSQL with fsync on,
# tests/lib/pg.sh); UNSUB_PACES ("25 50 100 215": the unsub section again per
# engine with the relay sending a steady so many msgs/s instead of as fast
# as it can; 215 msgs/s is what the relay delivered when issue 14's
# baseline of 1,548 one-click POSTs/s was measured; "" skips them);
# STORE_PACE_MS (10: the store section's paced "while optin-unsubd
# writes", each of wrk's 16 connections waiting so long before a request,
# about the issue's 1,500 opt-outs/s); STORE_PACED_ROUNDS (3, QUICK 1:
# rounds of it, the target on their median p99);
# LOOKUP_WRAP (a command put before the store section's lookup tool
# while optin-unsubd writes, e.g. "chrt -f 10": the store's own share of
# the tail, without the wait for a CPU).  Relay section only: BENCH_MILTER_B (a second
# optin-milter binary, set-up optinB-unix in the same rounds: before and
# after in the same minutes), RELAY_SETUPS (only these set-up names, e.g.
# "odkim-unix optin-unix optinB-unix"), BENCH_TRACE (perf: perf stat of the
# milter per set-up; strace: strace -c -f, calls per message; strace-io:
# the milter's reads and writes; record: perf record -g; in $W/logs).

set -u
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	MSGS=${MSGS:-600}; ROUNDS=${ROUNDS:-1}; STORE_ROWS=${STORE_ROWS:-1000000}
	IMPORT_ROWS=${IMPORT_ROWS:-100000}; WRK_SECONDS=${WRK_SECONDS:-8}
	MEM_MSGS=${MEM_MSGS:-10000}; PROFILE_MSGS=${PROFILE_MSGS:-60}
	PROBE_MSGS=${PROBE_MSGS:-15}
	MEM_ED_MSGS=${MEM_ED_MSGS:-20000}; SIGN_N=${SIGN_N:-300}
else
	MSGS=${MSGS:-5000}; ROUNDS=${ROUNDS:-3}; STORE_ROWS=${STORE_ROWS:-10000000}
	IMPORT_ROWS=${IMPORT_ROWS:-1000000}; WRK_SECONDS=${WRK_SECONDS:-30}
	MEM_MSGS=${MEM_MSGS:-100000}; PROFILE_MSGS=${PROFILE_MSGS:-300}
	PROBE_MSGS=${PROBE_MSGS:-40}
	MEM_ED_MSGS=${MEM_ED_MSGS:-100000}; SIGN_N=${SIGN_N:-2000}
fi
SESSIONS=${SESSIONS:-20}
ONLY=${ONLY:-relay engines store import unsub memory profile sign split}
ENGINES=${ENGINES:-sqlite pgsql}
UNSUB_PACES=${UNSUB_PACES-25 50 100 215}
STORE_PACE_MS=${STORE_PACE_MS:-10}
STORE_PACED_ROUNDS=${STORE_PACED_ROUNDS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
BENCH_OUT=${BENCH_OUT:-/var/tmp/optin-bench-results.md}

E2E_NAME=bench
. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib.sh"
BENCH_HERE=$E2E_TOP/tests/bench
. "$BENCH_HERE/sign.sh"
. "$E2E_TOP/tests/lib/pg.sh"
. "$BENCH_HERE/split.sh"
. "$BENCH_HERE/db.sh"
MSG=$OPTIN_CORPUS/ours_newsletter_multipart.eml
FROM=news@shop.example.com
DOMAIN=shop.example.com
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------- helpers

say() { echo "# bench: $*" >&2; }
now() { date +%s.%N; }
# calc EXPR - floating point arithmetic (awk), printed with up to 4 decimals
calc()
{
	awk "BEGIN { v = $1; if (v >= 10000 || v <= -10000) printf \"%.0f\n\", v
	    else printf \"%.4g\n\", v }"
}
# fcmp EXPR - exit status of a floating-point comparison
fcmp() { awk "BEGIN { exit !($1) }"; }
# median V... - median of the numbers given
median()
{
	printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 }
	    END { if (NR == 0) { print "nan"; exit }
		  if (NR % 2) print v[(NR + 1) / 2];
		  else printf "%.4g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
in_only() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# result NAME VALUE TARGET RATIO MET - one figure: printed and tabled
RESULTS=""
result()
{
	printf '%-58s %12s  target %-18s ratio %-7s %s\n' "$1" "$2" "$3" \
	    "$4" "$5"
	RESULTS="$RESULTS| $1 | $2 | $3 | $4 | $5 |
"
}
# met OK_EXPR - "yes" or "NO"
met() { if fcmp "$1"; then echo yes; else echo NO; fi; }

# cpu_ticks PID - utime + stime of the whole process (all threads)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# vm KEY PID - a /proc/PID/status value in kB (VmRSS, VmHWM, Threads)
vm() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status" 2>/dev/null; }
# sys_busy - busy jiffies of the whole machine (all CPUs)
sys_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# pf_ticks - CPU jiffies of the test Postfix: its master (with the children
# it reaped) and every live child (smtpd, cleanup, qmgr, smtp, ...); the
# difference over a run is Postfix's own CPU, whatever else runs
pf_ticks()
{
	local m
	m=$(pf_master_pid)
	[ -n "$m" ] || { echo 0; return; }
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v m="$m" '
	    $1 == m { t += $14 + $15 + $16 + $17 }
	    $4 == m { t += $14 + $15 }
	    END { print t + 0 }'
}

need_pkg()
{
	local cmd=$1 pkg=$2
	command -v "$cmd" >/dev/null 2>&1 && return 0
	say "installing $pkg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" \
	    >/dev/null 2>&1
	command -v "$cmd" >/dev/null 2>&1
}

W=""
K=""
bench_cleanup()
{
	e2e_cleanup
	bench_pg_down
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "kept $W and $K"
		return
	fi
	[ -n "$W" ] && rm -rf "$W"
	[ -n "$K" ] && rm -rf "$K"
}

# ---------------------------------------------------------------- set-up

setup_all()
{
	local p
	for p in smtp-source:postfix opendkim:opendkim miltertest:miltertest \
	    wrk:wrk valgrind:valgrind sqlite3:sqlite3 openssl:openssl; do
		if ! need_pkg "${p%%:*}" "${p#*:}"; then
			echo "bench: ${p%%:*} missing (apt-get install ${p#*:})"
			exit 1
		fi
	done
	for p in "$OPTIN_MILTER" "$OPTIN_UNSUBD" "$E2E_BUILD/milter/store/libstore.a"; do
		if [ ! -e "$p" ]; then
			echo "bench: $p missing: run make first"
			exit 1
		fi
	done
	e2e_init bench
	trap bench_cleanup EXIT
	W=$(mktemp -d /var/tmp/optin-bench.XXXXXX) || exit 1
	K=$(mktemp -d /root/optin-bench-keys.XXXXXX) || exit 1
	chmod 0700 "$W" "$K"
	mkdir -p "$W/bin" "$W/logs" "$W/quarantine"
	chmod 0700 "$W/quarantine"
	say "work $W, keys $K, postfix base $PF_BASE"

	# copies of the programs: others may rebuild the tree during a run,
	# and every figure of one run must come from one build.
	cp "$OPTIN_MILTER" "$OPTIN_UNSUBD" "$E2E_BUILD"/milter/*/lib*.a \
	    "$W/bin/" || exit 1
	# BENCH_UNSUBD: another optin-unsubd binary (before/after runs)
	if [ -n "${BENCH_UNSUBD:-}" ]; then
		cp "$BENCH_UNSUBD" "$W/bin/optin-unsubd" || exit 1
	fi
	# BENCH_MILTER: another optin-milter binary (before/after runs)
	if [ -n "${BENCH_MILTER:-}" ]; then
		cp "$BENCH_MILTER" "$W/bin/optin-milter" || exit 1
	fi
	# BENCH_MILTER_B: a second one, set-up optinB-unix in the same rounds
	if [ -n "${BENCH_MILTER_B:-}" ]; then
		cp "$BENCH_MILTER_B" "$W/bin/optin-milter-b" || exit 1
	fi
	OPTIN_MILTER=$W/bin/optin-milter
	OPTIN_UNSUBD=$W/bin/optin-unsubd
	# BENCH_OPTINCTL: another build's optinctl, to compare imports
	OPTINCTL=${BENCH_OPTINCTL:-$OPTINCTL}
	if [ -x "$OPTINCTL" ]; then
		cp "$OPTINCTL" "$W/bin/optinctl" && OPTINCTL=$W/bin/optinctl
	fi
	BUILD="$(git -C "$E2E_TOP" log -1 --format='%h %cd' --date=format:'%Y-%m-%d %H:%M' 2>/dev/null)"
	git -C "$E2E_TOP" diff --quiet HEAD -- milter 2>/dev/null ||
	    BUILD="$BUILD, milter/ with uncommitted changes"
	[ -n "${BENCH_MILTER:-}" ] && BUILD="$BUILD; optin-milter: $BENCH_MILTER"
	[ -n "${BENCH_MILTER_B:-}" ] &&
	    BUILD="$BUILD; optinB-unix: $BENCH_MILTER_B"
	[ "${BENCH_LIST_INDEX:-0}" = 1 ] &&
	    BUILD="$BUILD; the relay's database with the list index"

	# the small C programs, built with the Makefile's flags
	for p in lookup tokens; do
		gcc -g -O2 -Wall -Wextra -Wformat=2 -Wno-unused-parameter \
		    -I"$E2E_BUILD" -I"$E2E_TOP/milter/util" -I"$E2E_TOP/milter/core" \
		    -I"$E2E_TOP/milter/store" -I"$E2E_TOP/milter/dkim" \
		    -I/usr/include/opendkim \
		    -o "$W/bin/$p" "$BENCH_HERE/$p.c" "$W/bin/libstore.a" \
		    "$W/bin/libdkim.a" "$W/bin/libspf.a" "$W/bin/libcore.a" \
		    "$W/bin/libutil.a" -lsqlite3 -lcrypto -lidn2 \
		    -lopendkim -lspf2 -lpq -lpthread || exit 1
	done
	gcc -g -O2 -Wall -Wextra -o "$W/bin/syncprobe" \
	    "$BENCH_HERE/syncprobe.c" || exit 1

	# keys: one RSA-2048 key shared by OpenDKIM and optin-milter
	(umask 077
	 openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$K/rsa.private" 2>/dev/null
	 openssl genpkey -algorithm ED25519 -out "$K/ed.private"
	 printf '1 %s\n' "$(openssl rand -base64 32)" > "$K/token.keys")

	# the relay database: list newsletter; recipients N"reader@example.net"
	# (smtp-source -N numbers them) opted in; N"half@example.net" opted in
	# for odd N only; w"N"@bench.example.net for the wrk tokens
	RELAY_DB=$W/relay.db
	# enough distinct tokens for 40,000 one-click POSTs a second: with
	# 8,000 a second (the first machine's rate) wrk ran out after 10 s on
	# a machine answering 26,000, and two thirds of the POSTs were
	# repeats (idempotent: no write)
	NTOK=$(( WRK_SECONDS * 40000 + 20000 ))
	local nread=$(( MSGS * 4 + 1000 ))
	[ "$nread" -lt $(( MEM_MSGS + 1000 )) ] && nread=$(( MEM_MSGS + 1000 ))
	[ "$nread" -lt $(( MEM_ED_MSGS + 1000 )) ] && nread=$(( MEM_ED_MSGS + 1000 ))
	cat "$E2E_TOP/sql/schema.sql" "$E2E_TOP"/sql/sqlite-[0-9]*.sql |
	    sqlite3 "$RELAY_DB"
	sqlite3 "$RELAY_DB" >/dev/null <<EOF
PRAGMA journal_mode = WAL;
BEGIN;
INSERT INTO lists VALUES ('newsletter', 'Newsletter', 0, 1700000000);
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c
    WHERE i < $nread)
INSERT INTO subscriptions SELECT i || 'reader@example.net', 'newsletter',
    'opted_in', 'bench', 1700000000 FROM c;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 2 FROM c
    WHERE i < $(( MSGS * 2 + 1000 )))
INSERT INTO subscriptions SELECT i || 'half@example.net', 'newsletter',
    'opted_in', 'bench', 1700000000 FROM c;
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c
    WHERE i < $NTOK - 1)
INSERT INTO subscriptions SELECT 'w' || i || '@bench.example.net',
    'newsletter', 'opted_in', 'bench', 1700000000 FROM c;
COMMIT;
EOF
	chmod 0600 "$RELAY_DB"
	[ "${BENCH_LIST_INDEX:-0}" = 1 ] && sqlite3 "$RELAY_DB" \
	    "CREATE INDEX subscriptions_list ON subscriptions (list_id, status)"

	conf_optin "$W/optin-rsa.conf" "$RELAY_DB" rsa
	conf_optin "$W/optin-ed.conf" "$RELAY_DB" ed
	conf_optin "$W/optin-both.conf" "$RELAY_DB" both
	cat > "$W/opendkim.conf" <<EOF
# OpenDKIM, signing only: same key, domain and canonicalization
Syslog			no
Mode			s
Domain			$DOMAIN
Selector		s2026
KeyFile			$K/rsa.private
Canonicalization	relaxed/relaxed
SignatureAlgorithm	rsa-sha256
OversignHeaders		From
InternalHosts		127.0.0.1
UMask			000
EOF
	local c
	for c in rsa ed both; do
		if ! "$OPTIN_MILTER" -n -c "$W/optin-$c.conf" \
		    >"$W/logs/check-$c.log" 2>&1; then
			echo "bench: optin-milter -n -c optin-$c.conf failed:"
			cat "$W/logs/check-$c.log"
			exit 1
		fi
	done
}

# conf_optin FILE DB rsa|ed|both - the milter's configuration
conf_optin()
{
	local f=$1 db=$2 kind=$3
	cat > "$f" <<EOF
Syslog			no
LogLevel		info
ConsentDB		$db
QuarantineDir		$W/quarantine
CampaignSenders		$FROM
DefaultList		newsletter
TokenKeyFile		$K/token.keys
UnsubscribeURL		https://unsub.example.com/u/%t
UnsubscribeMailto	unsubscribe+%t@$DOMAIN
ListIdDomain		lists.$DOMAIN
Domain			$DOMAIN
UnsubscribeListen	127.0.0.1:${UNSUB_PORT:-8025}
EOF
	case $kind in
	rsa)	printf 'Selector s2026\nKeyFile %s\nSigningAlgorithm rsa-sha256\n' \
		    "$K/rsa.private" >> "$f" ;;
	ed)	printf 'Selector e2026\nKeyFile %s\nSigningAlgorithm ed25519-sha256\n' \
		    "$K/ed.private" >> "$f" ;;
	both)	printf 'Selector s2026\nKeyFile %s\nSigningAlgorithm both\n' \
		    "$K/rsa.private" >> "$f"
		printf 'SelectorEd25519 e2026\nKeyFileEd25519 %s\n' \
		    "$K/ed.private" >> "$f" ;;
	esac
}

# ---------------------------------------------------------------- milters

MPID=""
MSPEC=""
# milter_up KIND SOCK - start optin-rsa|optin-ed|optin-both|odkim on
# unix|inet; sets MPID and MSPEC (the Postfix form)
milter_up()
{
	local kind=$1 sock=$2 spec port log=$W/logs/$1-$2.log
	if [ "$sock" = unix ]; then
		spec=local:$PF_MILTER_DIR/$kind.sock
		rm -f "$PF_MILTER_DIR/$kind.sock"
	else
		port=$(e2e_free_port)
		spec=inet:$port@127.0.0.1
	fi
	case $kind in
	odkim)	opendkim -f -x "$W/opendkim.conf" -p "$spec" >>"$log" 2>&1 \
		    </dev/null & ;;
	optinB-*) "$W/bin/optin-milter-b" -f -c "$W/optin-${kind#optinB-}.conf" \
		    -p "$spec" >>"$log" 2>&1 </dev/null & ;;
	optin-*) "$OPTIN_MILTER" -f -c "$W/$kind.conf" -p "$spec" >>"$log" \
		    2>&1 </dev/null & ;;
	esac
	MPID=$!
	e2e_track_pid "$MPID"
	if [ "$sock" = unix ]; then
		e2e_wait_socket "$PF_MILTER_DIR/$kind.sock" 20
	else
		e2e_wait_port "$port" 20
	fi || { echo "bench: $kind did not start"; cat "$log"; exit 1; }
	MSPEC=$(pf_milter_spec "$spec")
}

milter_down()
{
	[ -n "$MPID" ] && e2e_kill_pid "$MPID"
	MPID=""
}

# ---------------------------------------------------------------- relay

# sent_count - delivered messages so far (Postfix log, status=sent)
sent_count() { grep -c ' status=sent ' "$PF_LOG"; }

# relay_run NAME RCPT COUNT SESSIONS - send COUNT messages, wait until the
# queue is empty; sets RATE (msgs/s), CPU_MS (milter CPU ms per message),
# HWM (milter peak RSS, kB), SENT (delivered), SYS_MS (whole machine CPU
# ms per message), PF_MS (the test Postfix's CPU ms per message, pf_ticks)
relay_run()
{
	local name=$1 rcpt=$2 count=$3 sessions=$4 t0 t1 c0 c1 s0 s1 p0 p1 n0 rc
	n0=$(sent_count)
	c0=0; [ -n "$MPID" ] && c0=$(cpu_ticks "$MPID")
	s0=$(sys_busy)
	p0=$(pf_ticks)
	trace_start "$name"
	t0=$(now)
	smtp-source ${SRC_OPTS:-} -s "$sessions" -m "$count" -N -f "$FROM" \
	    -t "$rcpt" -F "$MSG" "127.0.0.1:$PF_PORT" \
	    >"$W/logs/source-$name.log" 2>&1
	rc=$?
	pf_wait_empty 600 >/dev/null 2>&1
	t1=$(now)
	trace_stop "$name" "$count"
	s1=$(sys_busy)
	p1=$(pf_ticks)
	c1=0; [ -n "$MPID" ] && c1=$(cpu_ticks "$MPID")
	RATE=$(calc "$count / ($t1 - $t0)")
	CPU_MS=$(calc "($c1 - $c0) * 1000 / $HZ / $count")
	SYS_MS=$(calc "($s1 - $s0) * 1000 / $HZ / $count")
	PF_MS=$(calc "($p1 - $p0) * 1000 / $HZ / $count")
	HWM=0; [ -n "$MPID" ] && HWM=$(vm VmHWM "$MPID")
	SENT=$(( $(sent_count) - n0 ))
	if [ "$rc" != 0 ]; then
		say "$name: smtp-source exit $rc: $(tail -n 2 \
		    "$W/logs/source-$name.log" | tr '\n' ' ')"
	fi
}

# trace_start NAME / trace_stop NAME COUNT - with BENCH_TRACE=perf or
# strace, `perf stat` (task clock, context switches, migrations, page
# faults) or `strace -c -f` attached to the milter for the run; the
# summary goes to $W/logs/trace-NAME.txt and, per message, to the output.
# strace-io (every read and write) and record (perf record -g, into
# $W/logs/perf-NAME.data) keep their files (BENCH_KEEP=1 keeps $W).
# strace slows the milter: never in the same run as the figures.
TRACE_PID=""
trace_start()
{
	TRACE_PID=""
	[ -n "${BENCH_TRACE:-}" ] && [ -n "$MPID" ] || return 0
	case $BENCH_TRACE in
	perf)	perf stat -e task-clock,context-switches,cpu-migrations,page-faults \
		    -p "$MPID" -o "$W/logs/trace-$1.txt" & ;;
	strace)	strace -c -f -p "$MPID" -o "$W/logs/trace-$1.txt" & ;;
	record)	perf record -F 1999 -g -p "$MPID" -o "$W/logs/perf-$1.data" \
		    2>"$W/logs/trace-$1.txt" & ;;
	strace-io) strace -f -e trace=read,writev,write -s 40 -p "$MPID" \
		    -o "$W/logs/trace-$1.txt" & ;;
	*)	return 0 ;;
	esac
	TRACE_PID=$!
	e2e_track_pid "$TRACE_PID"
	sleep 0.5
}
trace_stop()
{
	[ -n "$TRACE_PID" ] || return 0
	kill -INT "$TRACE_PID" 2>/dev/null
	wait "$TRACE_PID" 2>/dev/null
	TRACE_PID=""
	awk -v n="$2" -v name="$1" '
	    /task-clock|context-switches|cpu-migrations|page-faults/ {
		gsub(",", "", $1); printf "%s: %s %.3g per message\n", name, $2, $1 / n }
	    $NF ~ /^[a-z_0-9]+$/ && $(NF-1) ~ /^[0-9]+$/ && NF >= 5 {
		printf "%s: %s %.3g per message\n", name, $NF, $4 / n }' \
	    "$W/logs/trace-$1.txt" | while read -r l; do say "$l"; done
}

# probe NAME - per-message latency of one SMTP session (ms): a message
# that waits on Nagle + delayed ACK shows up as +40 ms or more
probe()
{
	local t0 t1
	t0=$(now)
	smtp-source -s 1 -m "$PROBE_MSGS" -N -f "$FROM" -t reader@example.net \
	    -F "$MSG" "127.0.0.1:$PF_PORT" >>"$W/logs/probe.log" 2>&1
	t1=$(now)
	PROBE_MS=$(calc "($t1 - $t0) * 1000 / $PROBE_MSGS")
	pf_wait_empty 120 >/dev/null 2>&1
}

# one set-up of the relay section: NAME MILTER SOCK RCPT
relay_setup()
{
	local name=$1 kind=$2 sock=$3 rcpt=$4 want
	if [ "$kind" = none ]; then
		MPID=""
		pf_set_milter ""
	else
		milter_up "$kind" "$sock"
		pf_set_milter "$MSPEC"
	fi
	sleep 1
	relay_run "$name" "$rcpt" "$MSGS" "$SESSIONS"
	want=$MSGS
	[ "$rcpt" = half@example.net ] && want=$(( MSGS / 2 ))
	PROBE_MS=""
	case $name in
	odkim-*|optin-unix|optin-inet) probe "$name" ;;
	esac
	printf '%s %s %s %s %s %s %s %s %s\n' "$name" "$RATE" "$CPU_MS" "$HWM" \
	    "$SENT" "$want" "$SYS_MS" "${PROBE_MS:--}" "$PF_MS" \
	    >> "$W/relay.txt"
	say "$(printf '%-14s %7.1f msgs/s  milter %6.3f ms/msg  peak %6s kB  sent %s/%s  machine %.2f ms/msg  postfix %.2f ms/msg  probe %s ms' \
	    "$name" "$RATE" "$CPU_MS" "$HWM" "$SENT" "$want" "$SYS_MS" \
	    "$PF_MS" "${PROBE_MS:--}")"
	milter_down
}

# col NAME FIELD - the values of one figure over the rounds
col() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$W/relay.txt"; }
# ratio_col A B - per-round ratios A/B of msgs/s (same round)
ratio_col()
{
	paste <(col "$1" 2) <(col "$2" 2) | awk '$2 > 0 { printf "%.4g\n", $1 / $2 }'
}

# relay_up - Postfix's smtp-sink as the next hop and the private Postfix
# (no milter yet), unless a section already started them
relay_up()
{
	[ -n "$PF_CONF" ] && return 0
	SINK_PORT=$(e2e_free_port)
	smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1024 \
	    >"$W/logs/smtp-sink.log" 2>&1 </dev/null &
	SINK_PID=$!
	e2e_wait_port "$SINK_PORT" 10 || { echo "bench: smtp-sink failed"; exit 1; }
	pf_start "$PF_BASE" "" || exit 1
}

section_relay()
{
	local r i n setups order s rsa_ms
	say "relay: $MSGS messages x $ROUNDS rounds, $SESSIONS sessions"
	RSA_SIGN_MS=$(openssl speed -seconds 2 rsa2048 2>/dev/null |
	    awk '/^rsa 2048 bits/ { printf "%.4f", 1000 / $6 }')
	ED_SIGN_MS=$(openssl speed -seconds 2 ed25519 2>/dev/null |
	    awk '/Ed25519/ { printf "%.4f", 1000 / $7 }')
	say "openssl speed: rsa2048 sign $RSA_SIGN_MS ms, ed25519 sign $ED_SIGN_MS ms"
	relay_up
	: > "$W/relay.txt"
	setups="none:none:-:reader odkim-unix:odkim:unix:reader
optin-unix:optin-rsa:unix:reader odkim-inet:odkim:inet:reader
optin-inet:optin-rsa:inet:reader optin-ed:optin-ed:unix:reader
optin-both:optin-both:unix:reader optin-half:optin-rsa:unix:half"
	[ -n "${BENCH_MILTER_B:-}" ] &&
	    setups="$setups optinB-unix:optinB-rsa:unix:reader"
	# RELAY_SETUPS: only these set-up names (e.g. "odkim-unix optin-unix")
	if [ -n "${RELAY_SETUPS:-}" ]; then
		setups=$(for s in $setups; do
			case " $RELAY_SETUPS " in *" ${s%%:*} "*) echo "$s" ;; esac
		done)
	fi
	n=$(echo "$setups" | wc -w)
	for r in $(seq "$ROUNDS"); do
		say "relay round $r of $ROUNDS"
		# rotate the order each round: no set-up always runs first
		order=$(echo $setups | tr ' ' '\n' | awk -v r="$r" -v n="$n" \
		    '{ a[NR] = $0 } END { for (i = 0; i < n; i++)
			print a[(i + r - 1) % n + 1] }')
		for s in $order; do
			IFS=: read -r name kind sock rc <<<"$s"
			relay_setup "$name" "$kind" "$sock" "$rc@example.net"
		done
	done
	pf_set_milter ""
	relay_report
}

relay_report()
{
	local none ou od oi odi ed both half v rcpu ecpu lat_u lat_i r
	echo
	echo "== relay throughput ($MSGS messages, $SESSIONS sessions," \
	    "medians of $ROUNDS rounds; ratios per round, then median)"
	for s in none odkim-unix optin-unix odkim-inet optin-inet optin-ed \
	    optin-both optin-half optinB-unix; do
		[ -n "$(col $s 2)" ] || continue
		v=$(median $(col $s 2))
		result "msgs/s $s" "$v" "-" "-" "info"
		if [ "$s" != none ]; then
			result "milter CPU ms/msg $s" "$(median $(col $s 3))" \
			    "-" "-" "info"
			result "milter peak RSS MiB $s" \
			    "$(calc "$(median $(col $s 4)) / 1024")" "-" "-" info
		fi
		result "machine CPU ms/msg $s" "$(median $(col $s 7))" "-" "-" info
		result "Postfix CPU ms/msg $s" "$(median $(col $s 9))" "-" "-" info
		if [ "$(median $(col $s 5))" != "$(median $(col $s 6))" ]; then
			result "delivered $s (of $(median $(col $s 6)))" \
			    "$(median $(col $s 5))" "all" "-" NO
		fi
	done
	r=$(median $(ratio_col optin-unix odkim-unix))
	result "optin / OpenDKIM msgs/s, unix socket" "$r" ">= 1.25x" "$r" \
	    "$(met "$r >= 1.25")"
	r=$(calc "$(median $(col optin-unix 3)) / $(median $(col odkim-unix 3))")
	result "optin / OpenDKIM milter CPU ms/msg, unix socket" "$r" \
	    "<= 0.5x" "$r" "$(met "$r <= 0.5")"
	if [ -n "$(col optinB-unix 2)" ]; then
		r=$(median $(ratio_col optinB-unix odkim-unix))
		result "optinB / OpenDKIM msgs/s, unix socket" "$r" ">= 1.25x" \
		    "$r" "$(met "$r >= 1.25")"
		r=$(calc "$(median $(col optinB-unix 3)) / $(median $(col odkim-unix 3))")
		result "optinB / OpenDKIM milter CPU ms/msg, unix socket" "$r" \
		    "<= 0.5x" "$r" "$(met "$r <= 0.5")"
		r=$(calc "$(median $(col optinB-unix 3)) / $(median $(col optin-unix 3))")
		result "optinB / optin milter CPU ms/msg (B over A, same rounds)" \
		    "$r" "-" "$r" info
	fi
	r=$(median $(ratio_col optin-inet odkim-inet))
	result "optin / OpenDKIM msgs/s, inet socket" "$r" ">= 2x" "$r" \
	    "$(met "$r >= 2")"
	r=$(median $(ratio_col odkim-unix none))
	result "OpenDKIM / no milter, unix (issue: 0.52x)" "$r" "-" "$r" info
	r=$(median $(ratio_col odkim-inet none))
	result "OpenDKIM / no milter, inet (issue: 0.30x)" "$r" "-" "$r" info
	r=$(median $(ratio_col optin-unix none))
	result "optin RSA / no milter, unix" "$r" ">= 0.65x" "$r" \
	    "$(met "$r >= 0.65")"
	r=$(median $(ratio_col optin-inet none))
	result "optin RSA / no milter, inet" "$r" ">= 0.65x" "$r" \
	    "$(met "$r >= 0.65")"
	r=$(median $(ratio_col optin-ed none))
	result "optin Ed25519 / no milter, unix" "$r" ">= 0.72x" "$r" \
	    "$(met "$r >= 0.72")"
	r=$(median $(ratio_col optin-both none))
	result "optin both signatures / no milter" "$r" "-" "$r" info
	r=$(median $(ratio_col optin-half none))
	result "optin half blocked / no milter" "$r" "-" "$r" info
	rcpu=$(median $(col optin-unix 3))
	r=$(calc "$rcpu / $RSA_SIGN_MS")
	result "optin RSA CPU ms/msg vs openssl rsa2048 sign ($RSA_SIGN_MS ms)" \
	    "$rcpu" "<= 1.5x sign" "$r" "$(met "$r <= 1.5")"
	r=$(calc "$(median $(col odkim-unix 3)) / $RSA_SIGN_MS")
	result "OpenDKIM CPU ms/msg vs rsa2048 sign" \
	    "$(median $(col odkim-unix 3))" "-" "$r" info
	ecpu=$(median $(col optin-ed 3))
	r=$(calc "$ecpu / 0.15")
	result "optin Ed25519 CPU ms/msg" "$ecpu" "<= 0.15 ms" "$r" \
	    "$(met "$ecpu <= 0.15")"
	for m in odkim optin; do
		lat_u=$(median $(col $m-unix 8))
		lat_i=$(median $(col $m-inet 8))
		r=$(calc "$lat_i / $lat_u")
		result "$m ms/msg one session: unix $lat_u, inet" "$lat_i" \
		    "inet <= unix+10" "$r" \
		    "$(if [ $m = odkim ]; then echo info; else
			met "$lat_i <= $lat_u + 10"; fi)"
	done
	result "both socket kinds measured" "yes" "yes" "-" yes
}

# ---------------------------------------------------------------- engines

# section_engines - the relay section's optin-unix set-up (MSGS messages,
# SESSIONS sessions, RSA) with ConsentDB on SQLite and on PostgreSQL, in
# the same minutes: ROUNDS rounds, the order swapped each round
section_engines()
{
	local r sqlite pg
	case " $ENGINES " in *" pgsql "*) ;; *) return 0 ;; esac
	echo
	echo "== relay throughput by engine ($MSGS messages, $SESSIONS sessions, optin-unix)"
	if ! bench_pg_relay; then
		result "relay on PostgreSQL" "skipped" "-" "-" info
		return
	fi
	relay_up
	: > "$W/relay.txt"
	for r in $(seq "$ROUNDS"); do
		if [ $(( r % 2 )) = 1 ]; then
			relay_setup optin-unix optin-rsa unix reader@example.net
			relay_setup optin-pg-unix optin-pg unix reader@example.net
		else
			relay_setup optin-pg-unix optin-pg unix reader@example.net
			relay_setup optin-unix optin-rsa unix reader@example.net
		fi
	done
	pf_set_milter ""
	sqlite=$(median $(col optin-unix 2))
	pg=$(median $(col optin-pg-unix 2))
	result "msgs/s optin-unix, ConsentDB SQLite" "$sqlite" "-" "-" info
	result "msgs/s optin-unix, ConsentDB PostgreSQL" "$pg" "-" \
	    "$(median $(ratio_col optin-pg-unix optin-unix))" info
	result "milter CPU ms/msg, SQLite / PostgreSQL" \
	    "$(median $(col optin-unix 3)) / $(median $(col optin-pg-unix 3))" \
	    "-" "-" info
	result "delivered, SQLite / PostgreSQL (of $(( MSGS * ROUNDS )) each)" \
	    "$(col optin-unix 5 | awk '{ n += $1 } END { print n }') / $(col optin-pg-unix 5 | awk '{ n += $1 } END { print n }')" \
	    "all" "-" info
}

# ---------------------------------------------------------------- memory

# mt_load SOCK FIRST COUNT STREAMS - drive the milter with miltertest;
# sets MT_SENT and MT_FAILED (messages not answered continue/accept)
MT_N=0
mt_load()
{
	local sock=$1 first=$2 count=$3 streams=$4 i per pids="" logs=""
	per=$(( count / streams ))
	for i in $(seq 0 $(( streams - 1 ))); do
		MT_N=$(( MT_N + 1 ))
		logs="$logs $W/logs/mt-load-$MT_N.log"
		BENCH_SOCK=$sock BENCH_MSG=$MSG BENCH_FROM="<$FROM>" \
		    BENCH_RCPT='%dreader@example.net' \
		    BENCH_FIRST=$(( first + i * per )) BENCH_COUNT=$per \
		    BENCH_PER_CONN=50 timeout 1200 miltertest \
		    -s "$BENCH_HERE/mt-load.lua" >"$W/logs/mt-load-$MT_N.log" 2>&1 &
		pids="$pids $!"
	done
	for i in $pids; do wait "$i"; done
	MT_SENT=$(cat $logs | sed -n 's/.*mt-load: sent=\([0-9]*\).*/\1/p' |
	    awk '{ n += $1 } END { print n + 0 }')
	MT_FAILED=$(( per * streams - MT_SENT ))
	MT_FAILED=$(( MT_FAILED + $(cat $logs | sed -n 's/.*failed=\([0-9]*\).*/\1/p' |
	    awk '{ n += $1 } END { print n + 0 }') ))
	if [ "$MT_FAILED" -gt 0 ]; then
		say "miltertest: $MT_FAILED of $(( per * streams )) messages failed:"
		tail -n 3 $logs >&2
	fi
}

section_memory()
{
	local r1 r2 hwm thr peak_thr t0 t1 sock=$PF_MILTER_DIR/optin-rsa.sock
	echo
	echo "== memory"
	milter_up optin-rsa unix
	mt_load "unix:$sock" 1 1000 2
	r1=$(vm VmRSS "$MPID")
	t0=$(now)
	mt_load "unix:$sock" 1001 $(( MEM_MSGS - 1000 )) 2
	t1=$(now)
	r2=$(vm VmRSS "$MPID")
	local fails=$MT_FAILED
	result "milter RSS MiB after 1,000 messages (miltertest)" \
	    "$(calc "$r1 / 1024")" "-" "-" info
	result "milter RSS MiB after $MEM_MSGS messages (miltertest, $(calc "($MEM_MSGS - 1000) / ($t1 - $t0)") msgs/s)" \
	    "$(calc "$r2 / 1024")" "growth <= 10%" "$(calc "$r2 / $r1")" \
	    "$(met "$r2 <= $r1 * 1.10 && $fails == 0")"
	milter_down
	# Ed25519 only: libopendkim 2.11.0~beta2 leaks the key of each
	# ed25519 signing handle that parses its key (tests/data/dkim/README);
	# with the key cache it parses none
	milter_up optin-ed unix
	sock=$PF_MILTER_DIR/optin-ed.sock
	mt_load "unix:$sock" 1 1000 2
	r1=$(vm VmRSS "$MPID")
	mt_load "unix:$sock" 1001 $(( MEM_ED_MSGS - 1000 )) 2
	r2=$(vm VmRSS "$MPID")
	result "Ed25519 milter RSS MiB after 1,000 -> $MEM_ED_MSGS messages ($MT_FAILED failed)" \
	    "$(calc "$r1 / 1024") -> $(calc "$r2 / 1024")" "growth <= 10%" \
	    "$(calc "$r2 / $r1")" "$(met "$r2 <= $r1 * 1.10 && $MT_FAILED == 0")"
	milter_down

	# 100 concurrent SMTP sessions through Postfix
	relay_up
	pf_postconf "default_process_limit = 150"
	milter_up optin-rsa unix
	pf_set_milter "$MSPEC"
	sleep 1
	peak_thr=0
	# -d: each session stays open for its 20 messages, so the milter
	# really has 100 connections at once
	( SRC_OPTS=-d relay_run mem100 reader@example.net 2000 100 ) &
	local lp=$!
	local peak_smtpd=0 ns mp
	mp=$(pf_master_pid)
	while kill -0 "$lp" 2>/dev/null; do
		thr=$(vm Threads "$MPID")
		[ "${thr:-0}" -gt "$peak_thr" ] && peak_thr=$thr
		ns=$(pgrep -c -P "$mp" smtpd)
		[ "${ns:-0}" -gt "$peak_smtpd" ] && peak_smtpd=$ns
		sleep 0.1
	done
	wait "$lp"
	hwm=$(vm VmHWM "$MPID")
	result "milter peak RSS MiB, 100 SMTP sessions (peak $peak_thr threads, $peak_smtpd smtpd)" \
	    "$(calc "$hwm / 1024")" "<= 32 MiB" "$(calc "$hwm / 1024 / 32")" \
	    "$(met "$hwm <= 32768")"
	milter_down
	pf_set_milter ""
	pf_postconf "default_process_limit = 100"
	pf_reload
}

# ---------------------------------------------------------------- profile

# cg_run KIND - callgrind on one milter driven by miltertest; prints the
# instructions per message and the top functions
cg_run()
{
	local kind=$1 sock out=$W/cg-$1.out spec pid i total
	sock=$PF_MILTER_DIR/cg-$kind.sock
	rm -f "$sock"
	case $kind in
	odkim)	valgrind --tool=callgrind --callgrind-out-file="$out" \
		    opendkim -f -x "$W/opendkim.conf" -p "local:$sock" \
		    >"$W/logs/cg-$kind.log" 2>&1 </dev/null & ;;
	*)	valgrind --tool=callgrind --callgrind-out-file="$out" \
		    "$OPTIN_MILTER" -f -c "$W/$kind.conf" -p "local:$sock" \
		    >"$W/logs/cg-$kind.log" 2>&1 </dev/null & ;;
	esac
	pid=$!
	e2e_track_pid "$pid"
	e2e_wait_socket "$sock" 60 || { echo "bench: callgrind $kind"; return 1; }
	mt_load "unix:$sock" 1 "$PROFILE_MSGS" 1
	e2e_kill_pid "$pid"
	[ "$MT_FAILED" = 0 ] || result "callgrind $kind: messages failed" \
	    "$MT_FAILED" "0" "-" NO
	total=$(callgrind_annotate "$out" 2>/dev/null |
	    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	result "callgrind $kind: instructions per message (incl. start-up / $PROFILE_MSGS)" \
	    "$(calc "$total / $PROFILE_MSGS / 1000000")M" "-" "-" info
	echo "-- $kind: top functions, inclusive, per message (millions of instructions)"
	callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
	    awk -v n="$PROFILE_MSGS" '/^ *[0-9,]+ \(/ && !/PROGRAM TOTALS/ {
		v = $1; gsub(",", "", v); $1 = ""; $2 = ""
		sub(/^ +/, ""); sub(/ \[.*$/, "")
		if (++k <= 28) printf "   %8.3f  %s\n", v / n / 1e6, $0 }'
	echo "-- $kind: top functions, self"
	callgrind_annotate "$out" 2>/dev/null |
	    awk -v n="$PROFILE_MSGS" '/^ *[0-9,]+ \(/ && !/PROGRAM TOTALS/ {
		v = $1; gsub(",", "", v); $1 = ""; $2 = ""
		sub(/^ +/, ""); sub(/ \[.*$/, "")
		if (++k <= 12) printf "   %8.3f  %s\n", v / n / 1e6, $0 }'
}

section_profile()
{
	echo
	echo "== profile (callgrind, $PROFILE_MSGS messages through miltertest)"
	cg_run optin-rsa
	cg_run odkim
	cg_run optin-ed
}

# ---------------------------------------------------------------- main

machine()
{
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
	    "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
	    "$(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "versions: $(postconf -d -h mail_version 2>/dev/null | sed 's/^/postfix /'), $(opendkim -V 2>/dev/null | head -n 1), $(sqlite3 --version | cut -d' ' -f1 | sed 's/^/sqlite /'), $(openssl version | cut -d' ' -f1-2)"
	echo "build: ${BUILD:-unknown}"
	echo "settings: QUICK=$QUICK MSGS=$MSGS ROUNDS=$ROUNDS SESSIONS=$SESSIONS STORE_ROWS=$STORE_ROWS IMPORT_ROWS=$IMPORT_ROWS WRK_SECONDS=$WRK_SECONDS MEM_MSGS=$MEM_MSGS MEM_ED_MSGS=$MEM_ED_MSGS SIGN_N=$SIGN_N PROFILE_MSGS=$PROFILE_MSGS"
}

T_START=$(now)
setup_all
machine
in_only relay && section_relay
in_only engines && section_engines
in_only store && section_store
in_only import && section_import
in_only unsub && section_unsub
in_only memory && section_memory
in_only profile && section_profile
in_only sign && section_sign
in_only split && section_split
{
	echo "# optin-milter benchmark results, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	machine
	echo
	echo "| figure | value | target | ratio | met? |"
	echo "| --- | --- | --- | --- | --- |"
	printf '%s' "$RESULTS"
} > "$BENCH_OUT"
echo
echo "bench: done in $(calc "$(now) - $T_START") s; table in $BENCH_OUT"
nmiss=$(printf '%s' "$RESULTS" | grep -c '| NO |')
echo "bench: $(printf '%s' "$RESULTS" | grep -c '| yes |') targets met, $nmiss not met"
