#!/bin/bash
# t-metrics.sh - monitoring like a mature daemon (issue 13, item 6), through
# the real Postfix:
#  - the syslog lines say their severity as Postfix's do: "warning: " at
#    LOG_WARNING, "error: " at LOG_ERR, nothing at info, where the queue ID
#    comes first (the milter runs in a mount namespace whose /dev/log is
#    syslog_sink.py);
#  - MetricsAddress serves Prometheus text (0.0.4) with exact counters after
#    one campaign message to seven people (3 allowed, 4 held, 2 split
#    copies that come back and are decided again), one transactional
#    message, one campaign naming an unknown list, a failed and a good
#    reload; a non-loopback address is refused with file, line and key;
#  - optin-unsubd serves its own on UnsubscribeMetricsAddress: one-click
#    unsubscribes and answers by status;
#  - optinctl stats shows those live figures beside the database ones
#    (text and --json), and says when the live part is unavailable.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-metrics
optin_need_cmds unshare mount

MPORT=$(e2e_free_port)
UPORT=$(e2e_free_port)
HPORT=$(e2e_free_port)
# the milter in its own mount namespace: /dev is a fresh tmpfs with the
# usual devices bound in, and /dev/log is the sink's socket
"$PY" "$E2E_HERE/syslog_sink.py" "$PF_BASE/syslog.sock" "$PF_BASE/syslog" \
    300 &
e2e_track_pid $!
e2e_wait_socket "$PF_BASE/syslog.sock" 10 || { e2e_fail "syslog sink"; e2e_done; }
REAL_MILTER=$OPTIN_MILTER
OPTIN_MILTER=$PF_BASE/milter-ns.sh
cat > "$OPTIN_MILTER" <<'EOS'
#!/bin/sh
# milter-ns.sh BASE PROGRAM ARGS - PROGRAM with BASE/syslog.sock as /dev/log
base=$1
shift
exec unshare --mount --propagation private sh -c '
base=$1; shift
mkdir -p "$base/olddev" && mount --rbind /dev "$base/olddev" &&
mount -t tmpfs -o mode=0755 tmpfs /dev || exit 71
for n in null zero full random urandom tty; do
	touch "/dev/$n" && mount --bind "$base/olddev/$n" "/dev/$n" || exit 71
done
touch /dev/log && mount --bind "$base/syslog.sock" /dev/log || exit 71
exec "$@"' sh "$base" "$@"
EOS
chmod 0755 "$OPTIN_MILTER"
# milter_start runs "$OPTIN_MILTER" -f -c ...: put BASE and the program first
cat > "$PF_BASE/milter-wrap.sh" <<EOS
#!/bin/sh
exec "$OPTIN_MILTER" "$PF_BASE" "$REAL_MILTER" "\$@"
EOS
chmod 0755 "$PF_BASE/milter-wrap.sh"
OPTIN_MILTER=$PF_BASE/milter-wrap.sh

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "MetricsAddress 127.0.0.1:$MPORT" \
    "UnsubscribeMetricsAddress 127.0.0.1:$UPORT" \
    "UnsubscribeListen 127.0.0.1:$HPORT" "HTTPRequestTimeout 6s" ||
    { e2e_fail "consent database set up"; e2e_done; }
CONF=$OPTIN_DIR/optin-milter.conf
sed -i 's/^Syslog no$/Syslog yes/' "$CONF"
cp "$CONF" "$CONF.good"

# --- a metrics address that is not loopback is refused, where and why
sed 's/^UnsubscribeMetricsAddress .*/UnsubscribeMetricsAddress 192.0.2.1:9101/' \
    "$CONF" > "$OPTIN_DIR/remote.conf"
line=$(grep -n '^UnsubscribeMetricsAddress' "$OPTIN_DIR/remote.conf" | cut -d: -f1)
out=$("$REAL_MILTER" -n -c "$OPTIN_DIR/remote.conf" 2>&1)
e2e_check_eq "-n: non-loopback UnsubscribeMetricsAddress exits 78" "$?" 78
e2e_check_eq "-n: says file, line, key and why" "$out" \
    "$OPTIN_DIR/remote.conf:$line: UnsubscribeMetricsAddress: '192.0.2.1:9101' is not a loopback address (metrics are served on 127.0.0.0/8 or ::1 only)"

milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" ||
    { e2e_fail "postfix starts"; e2e_done; }
e2e_wait_port "$MPORT" 10 || e2e_fail "metrics port opens"
e2e_ok "postfix, milter (syslog to the sink, metrics on $MPORT) and sink start"

# scrape - the body of GET /metrics; also checks the content type
scrape()
{
	"$PY" - "$MPORT" <<'EOP'
import sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                           timeout=10)
sys.stdout.write(r.headers["Content-Type"] + "\n" + r.read().decode())
EOP
}

# metric 'NAME{LABELS}' - its value in the last scrape
metric()
{
	awk -v n="$1" '$1 == n { print $2 }' "$PF_BASE/scrape"
}

# --- traffic
msg()
{
	printf '%s\r\n' "From: <news@example.com>" "To: you" "Subject: $1" \
	    "Date: $(date -R)" "Message-ID: <$1@test.example>" ${2:+"$2"} "" \
	    "text of $1" > "$PF_BASE/$1.eml"
}
msg m1
pf_send news@example.com "ann@example.com,frank@example.com,hank@xn--bcher-kva.example,bob@example.com,carol@example.com,dave@example.com,eve@example.com" \
    "$PF_BASE/m1.eml" >/dev/null || e2e_fail "campaign m1 accepted"
printf '%s\r\n' "From: <billing@shop.example.com>" "To: bob" "Subject: t1" \
    "Message-ID: <t1@test.example>" "" "your invoice" > "$PF_BASE/t1.eml"
pf_send billing@shop.example.com bob@example.com "$PF_BASE/t1.eml" \
    >/dev/null || e2e_fail "transactional t1 accepted"
msg u1 "X-Campaign-List: nosuch"
"$PY" "$E2E_HERE/smtp_raw.py" "$PF_PORT" "<news@example.com>" \
    "$PF_BASE/u1.eml" "<ann@example.com>" > "$PF_BASE/u1.smtp" 2>&1
e2e_check_eq "campaign for an unknown list: 451 to the client" \
    "$(tail -n 1 "$PF_BASE/u1.smtp")" "result: refused 451"
pf_wait_empty 60 || e2e_fail "queue empties"
e2e_check_eq "m1: one copy each to the three allowed" \
    "$(for f in $(sink_find Message-ID "<m1@test.example>"); do sink_rcpts "$f"; done | sort | paste -sd' ' -)" \
    "ann@example.com frank@example.com hank@xn--bcher-kva.example"

# --- reloads: one that fails (unknown key), one that takes
echo "NoSuchKey 1" >> "$CONF"
kill -USR1 "$MILTER_PID"
e2e_wait_for 20 grep -q 'error: reload: ' "$PF_BASE/syslog" ||
    e2e_fail "failed reload logged"
cp "$CONF.good" "$CONF"
kill -USR1 "$MILTER_PID"
e2e_wait_for 20 grep -q 'reload: done in' "$PF_BASE/syslog" ||
    e2e_fail "reload logged"

scrape > "$PF_BASE/scrape" || e2e_fail "scrape answers 200"
e2e_check_eq "content type: Prometheus text 0.0.4" \
    "$(head -n 1 "$PF_BASE/scrape")" "text/plain; version=0.0.4; charset=utf-8"
while read -r name want; do
	e2e_check_eq "$name" "$(metric "$name")" "$want"
done <<'EOW'
optin_recipients_total{decision="allowed",reason="deliver"} 5
optin_recipients_total{decision="blocked",reason="suppressed"} 1
optin_recipients_total{decision="blocked",reason="opted_out"} 1
optin_recipients_total{decision="blocked",reason="pending"} 1
optin_recipients_total{decision="blocked",reason="no_consent"} 1
optin_messages_total{kind="campaign",outcome="accepted"} 3
optin_messages_total{kind="campaign",outcome="tempfailed"} 1
optin_messages_total{kind="campaign",outcome="discarded"} 0
optin_messages_total{kind="transactional",outcome="accepted"} 1
optin_quarantine_rows_total 4
optin_split_copies_total 2
optin_db_errors_total 0
optin_signing_failures_total 0
optin_reloads_total{result="ok"} 1
optin_reloads_total{result="failed"} 1
optin_messages_in_flight 0
EOW
e2e_check_eq "quarantine rows in the database" \
    "$(optin_sql "select count(*) from quarantine")" 4
ts=$(metric optin_last_reload_timestamp_seconds)
e2e_check "last reload time is now" "$PY" -c \
    "import sys, time; sys.exit(abs(time.time() - $ts) > 120)"
e2e_check "last reload duration is given" "$PY" -c \
    "import sys; sys.exit(not 0 < $(metric optin_last_reload_duration_seconds) < 60)"
e2e_check_eq "404 beside /metrics" "$("$PY" -c "
import urllib.request, urllib.error
try:
	urllib.request.urlopen('http://127.0.0.1:$MPORT/other', timeout=10)
except urllib.error.HTTPError as e:
	print(e.code)")" 404
# hostile clients (milter/util/prom_http.c, tests/lib/metrics_hostile.py):
# a raw NUL in the request target is 400, not /metrics; 8 idle connections
# that never send keep no scrape out and are closed; 70 more (past the
# connection limit) make libmicrohttpd complain: a debug line, not a
# warning in syslog per connection (checked below); 100 slow clients (a
# header line every 3 s) are closed HTTPRequestTimeout (6 s here, not the
# default 10: the idle ones are still closed first, by the 5 s idle
# timeout) after their accept, and a scrape waiting behind them gets its
# 200 (about 7 s)
e2e_check_eq "metrics: raw NUL 400, idle and slow clients keep no scrape out and are closed" \
    "$("$PY" "$E2E_TOP/tests/lib/metrics_hostile.py" "$MPORT")" \
    "nul: HTTP/1.1 400 Bad Request
nul at end: HTTP/1.1 400 Bad Request
8 idle: HTTP/1.1 200 OK
idle closed: True
100 slow: HTTP/1.1 200 OK
slow closed: True"
e2e_check "metrics: the slow clients' closing logged with HTTPRequestTimeout" \
    grep -qE 'MetricsAddress: closed [0-9]+ connections? that sent no complete request within 6 s' "$PF_BASE/syslog"

# --- optin-unsubd: two one-click POSTs for frank (the second changes
# nothing), one bad link
"$OPTIN_UNSUBD" -f -c "$CONF" >> "$PF_BASE/unsubd.log" 2>&1 </dev/null &
e2e_track_pid $!
e2e_wait_port "$UPORT" 10 || e2e_fail "unsubd metrics port opens"
e2e_wait_port "$HPORT" 10 || e2e_fail "unsubd opens"
tok=$("$OPTINCTL" -c "$CONF" token issue frank@example.com news)
codes=$("$PY" - "$HPORT" "$tok" <<'EOP'
import sys, urllib.request, urllib.error
def code(path, data):
    try:
        return urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%s%s" % (sys.argv[1], path), data=data),
            timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code
one = b"List-Unsubscribe=One-Click"
print(code("/u/" + sys.argv[2], one), code("/u/" + sys.argv[2], one),
      code("/u/AAAAnot-a-token", None))
EOP
)
e2e_check_eq "unsubd: 200, 200, 400" "$codes" "200 200 400"
"$PY" -c "import urllib.request
print(urllib.request.urlopen('http://127.0.0.1:$UPORT/metrics', timeout=10).read().decode())" \
    > "$PF_BASE/scrape.unsubd"
while read -r name want; do
	e2e_check_eq "unsubd: $name" "$(awk -v n="$name" '$1 == n { print $2 }' \
	    "$PF_BASE/scrape.unsubd")" "$want"
done <<'EOW'
optin_unsubd_unsubscribes_total{scope="list",changed="yes"} 1
optin_unsubd_unsubscribes_total{scope="list",changed="no"} 1
optin_unsubd_unsubscribes_total{scope="all",changed="yes"} 0
optin_unsubd_answers_total{status="200"} 2
optin_unsubd_answers_total{status="400"} 1
optin_unsubd_answers_total{status="503"} 0
EOW

# --- syslog: severity words as Postfix writes them, the queue ID first
# after them (mail facility: <19> err, <20> warning, <22> info)
pid=$MILTER_PID
e2e_check "syslog: warning: QUEUEID: ... at LOG_WARNING" grep -qE \
    "^<20>.* optin-milter\[$pid\]: warning: [0-9A-F]+: campaign names unknown list 'nosuch' " \
    "$PF_BASE/syslog"
e2e_check "syslog: error: ... at LOG_ERR" grep -qE \
    "^<19>.* optin-milter\[$pid\]: error: reload: 1 error, nothing changed" \
    "$PF_BASE/syslog"
e2e_check "syslog: info lines have no word, the queue ID first" grep -qE \
    "^<22>.* optin-milter\[$pid\]: [0-9A-F]+: campaign list=news from=<news@example.com> allowed=3 quarantined=4 " \
    "$PF_BASE/syslog"
e2e_check_eq "syslog: no warning or error line without its word" \
    "$(grep -E '^<(19|20)>' "$PF_BASE/syslog" | grep -vcE 'optin-milter\[[0-9]+\]: (warning|error): ')" 0
e2e_check_eq "syslog: no warning from libmicrohttpd (debug only)" \
    "$(grep -cE '^<(19|20)>.*MetricsAddress' "$PF_BASE/syslog")" 0
e2e_check "stderr: the same words" grep -qE \
    "^warning: [0-9A-F]+: campaign names unknown list 'nosuch' " "$MILTER_LOG"

# --- optinctl stats: live figures beside the database figures
out=$("$OPTINCTL" -c "$CONF" stats)
e2e_check_eq "stats: exit 0" "$?" 0
e2e_check_eq "stats: live part of optin-milter" \
    "$(printf '%s\n' "$out" | sed -n '/^live optin-milter/,$p' | grep -E '^live|recipients|quarantine_rows|split|reloads_total|messages_total|unsubd_(unsub|answers)')" \
    "live optin-milter (http://127.0.0.1:$MPORT/metrics, since it started; zeros left out)
  optin_recipients_total decision=allowed reason=deliver 5
  optin_recipients_total decision=blocked reason=suppressed 1
  optin_recipients_total decision=blocked reason=opted_out 1
  optin_recipients_total decision=blocked reason=pending 1
  optin_recipients_total decision=blocked reason=no_consent 1
  optin_messages_total kind=campaign outcome=accepted 3
  optin_messages_total kind=campaign outcome=tempfailed 1
  optin_messages_total kind=transactional outcome=accepted 1
  optin_quarantine_rows_total 4
  optin_split_copies_total 2
  optin_reloads_total result=ok 1
  optin_reloads_total result=failed 1
live optin-unsubd (http://127.0.0.1:$UPORT/metrics, since it started; zeros left out)
  optin_unsubd_unsubscribes_total scope=list changed=no 1
  optin_unsubd_unsubscribes_total scope=list changed=yes 1
  optin_unsubd_answers_total status=200 2
  optin_unsubd_answers_total status=400 1"
e2e_check "stats: the database figures are still there" grep -q \
    '^quarantine$' <(printf '%s\n' "$out")
json=$("$OPTINCTL" -c "$CONF" --json stats)
e2e_check_eq "stats --json: live counters and the database's" "$("$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
m = d["live"]["optin-milter"]
v = {(x["name"], tuple(sorted(x["labels"].items()))): x["value"]
     for x in m["metrics"]}
print(m["available"], m["address"],
      v[("optin_recipients_total", (("decision", "allowed"), ("reason", "deliver")))],
      v[("optin_recipients_total", (("decision", "blocked"), ("reason", "opted_out")))],
      v[("optin_quarantine_rows_total", ())],
      d["live"]["optin-unsubd"]["available"],
      d["live"]["optin-unsubd"]["address"] == "127.0.0.1:%s" % sys.argv[2],
      sum(d["quarantine"].get("opted_out", {}).values()) if isinstance(d["quarantine"].get("opted_out"), dict) else d["quarantine"].get("opted_out"))
' "$json" "$UPORT")" "True 127.0.0.1:$MPORT 5 1 4 True True 1"

# --- with the milter gone, stats says the live part is unavailable
milter_stop
out=$("$OPTINCTL" -c "$CONF" stats)
e2e_check_eq "stats, milter stopped: exit 0" "$?" 0
e2e_check_eq "stats, milter stopped: live part unavailable, and why" \
    "$(printf '%s\n' "$out" | grep '^live optin-milter')" \
    "live optin-milter: unavailable (127.0.0.1:$MPORT: Connection refused)"
sed -i '/^MetricsAddress/d' "$CONF"
e2e_check_eq "stats, no MetricsAddress: says so" \
    "$("$OPTINCTL" -c "$CONF" stats | grep '^live optin-milter')" \
    "live optin-milter: unavailable (MetricsAddress not set)"
e2e_done
