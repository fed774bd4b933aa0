#!/bin/bash
# t-reload.sh - SIGUSR1 reloads optin-milter and optin-unsubd with mail and
# requests in flight (issue 13, item 1; DESIGN "Operations"):
#  - a sender keeps submitting campaign mail through the real Postfix while
#    the milter is sent SIGUSR1 six times, each time with DefaultList and
#    ListIdDomain changed together: every message is accepted (250, none
#    tempfailed) and delivered once, and each carries one whole
#    configuration (List-Id of one generation, never a mix);
#  - after a reload, new messages use the new DefaultList, ListIdDomain
#    and DKIM key (s=, verified by dkimpy);
#  - an SMTP session open across a reload: its message under way keeps the
#    old configuration, its next message (same session) gets the new one;
#  - a configuration with an error, or an unreadable token key file, is
#    logged and changes nothing: the milter goes on serving the old one;
#  - token key rotation: optinctl token newkey, reload optin-unsubd, then
#    the milter: old and new links both work (200); in the other order a
#    new link is 400 until optin-unsubd has reloaded (the documented
#    window);
#  - optin-unsubd: a request under way across its reload is answered with
#    the old configuration, the next one with the new;
#  - SIGHUP stops the milter (libmilter) with exit 0 and a log line.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-reload
optin_need_cmds curl openssl
optin_need_built "$OPTIN_MILTER" "$OPTIN_UNSUBD" "$OPTINCTL"

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem" || { e2e_fail "consent database set up"; e2e_done; }
K=$OPTIN_DIR
CONF=$K/optin-milter.conf
HTTP_PORT=$(e2e_free_port)
printf 'UnsubscribeListen 127.0.0.1:%s\nOrganization Old Shop\n' \
    "$HTTP_PORT" >> "$CONF"
(umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$K/rsa2027.pem" 2>/dev/null)

# conf_set KEY VALUE - set KEY in the config file (replace or append)
conf_set()
{
	if grep -q "^$1 " "$CONF"; then
		sed -i "s|^$1 .*|$1 $2|" "$CONF"
	else
		printf '%s %s\n' "$1" "$2" >> "$CONF"
	fi
}

# reloads LOG - number of reload outcomes logged so far
reloads()
{
	grep -cE 'reload: (done in|.*nothing changed)' "$1" 2>/dev/null
}

# reloads_over N LOG - more than N reload outcomes logged
reloads_over()
{
	[ "$(reloads "$2")" -gt "$1" ]
}

# reload NAME PID LOG - SIGUSR1 to PID, wait (10 s) until its outcome is
# logged; true when it was "done"
reload()
{
	local n
	n=$(reloads "$3")
	kill -USR1 "$2" || return 1
	e2e_wait_for 10 reloads_over "$n" "$3" || {
		e2e_log "$1: no reload logged"
		return 1
	}
	grep -E 'reload: (done in|.*nothing changed)' "$3" | tail -n 1 |
	    grep -q 'reload: done in'
}

# last_file_for SUBJECT - the stored message with that Subject
last_file_for()
{
	sink_find Subject "$1" | tail -n 1
}

# token_of FILE - the token in the List-Unsubscribe URL of a message
token_of()
{
	sink_header "$1" List-Unsubscribe | sed -n 's|.*/u/\([^>]*\)>.*|\1|p'
}

# http_code TOKEN - status of GET /u/TOKEN at optin-unsubd
http_code()
{
	curl -s -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$HTTP_PORT/u/$1"
}

# msg SUBJECT [LIST] - a campaign message file with that Subject
msg()
{
	local f=$PF_BASE/msg.$RANDOM$RANDOM
	{
		printf 'From: news@example.com\r\nTo: ann@example.com\r\n'
		printf 'Subject: %s\r\n' "$1"
		[ -n "${2:-}" ] && printf 'X-Campaign-List: %s\r\n' "$2"
		printf 'Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n'
		printf 'Message-ID: <%s@example.com>\r\n\r\nHello.\r\n' \
		    "$(echo "$1" | tr -c 'a-zA-Z0-9\n' -)"
	} > "$f"
	echo "$f"
}

# send SUBJECT - send a campaign message to ann; the swaks status
send()
{
	pf_send news@example.com ann@example.com "$(msg "$1")" >/dev/null
}

milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
UNSUBD_LOG=$PF_BASE/unsubd.log
"$OPTIN_UNSUBD" -f -c "$CONF" >>"$UNSUBD_LOG" 2>&1 </dev/null &
UNSUBD_PID=$!
e2e_track_pid "$UNSUBD_PID"
e2e_wait_port "$HTTP_PORT" 10 || { e2e_fail "optin-unsubd starts" "$(cat "$UNSUBD_LOG")"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }

# --- 1. reloads with mail in flight
N=30
(
	for i in $(seq "$N"); do
		send "flight $i"
		echo "$i $?"
	done > "$PF_BASE/flight.rc"
) &
sender=$!
sleep 1
for r in 1 2 3 4 5 6; do
	if [ $((r % 2)) = 1 ]; then
		conf_set DefaultList events
		conf_set ListIdDomain lists2.example.com
	else
		conf_set DefaultList news
		conf_set ListIdDomain lists.example.com
	fi
	reload milter "$MILTER_PID" "$MILTER_LOG" || e2e_fail "reload $r under load is done"
	sleep 0.7
done
wait "$sender"
e2e_check_eq "milter alive after 6 reloads" "$(kill -0 "$MILTER_PID" 2>/dev/null && echo yes)" yes
e2e_check_eq "every message in flight accepted (250)" \
    "$(awk '$2 != 0' "$PF_BASE/flight.rc" | wc -l) of $(wc -l < "$PF_BASE/flight.rc")" \
    "0 of $N"
pf_wait_empty 60 || e2e_fail "queue empties"
# one pass over the sink: "Subject|recipients|List-Id" per stored message
"$PY" - "$SINK_DIR" > "$PF_BASE/flight.got" <<'EOP'
import email, glob, sys
for path in sorted(glob.glob(sys.argv[1] + "/*.msg")):
    m = email.message_from_binary_file(open(path, "rb"))
    print("%s|%s|%s" % (m["Subject"], ",".join(m.get_all("X-Sink-Rcpt", [])),
                        m["List-Id"]))
EOP
want=$(for i in $(seq "$N"); do echo "flight $i|<ann@example.com>"; done | sort)
e2e_check_eq "every message in flight delivered once, to ann" \
    "$(grep '^flight ' "$PF_BASE/flight.got" | cut -d'|' -f1,2 | sort)" "$want"
e2e_check_eq "each message has one whole configuration" \
    "$(grep '^flight ' "$PF_BASE/flight.got" | cut -d'|' -f3 | sort -u |
    grep -v -e '^<news.lists.example.com>$' -e '^<events.lists2.example.com>$')" ""
e2e_check_eq "both configurations were used while sending" \
    "$(grep '^flight ' "$PF_BASE/flight.got" | cut -d'|' -f3 | sort -u | grep -c .)" 2
# (but the start-up warning that this test runs it as root without UserID)
e2e_check_eq "no error or warning logged by the milter" \
    "$(grep -E '^(error|warning):' "$MILTER_LOG" |
    grep -vc '^warning: running as root: set UserID')" 0
e2e_check_eq "no milter trouble in the Postfix log (milter-reject, warning)" \
    "$(pf_log_grep 'milter-reject|warning:.*milter' | wc -l)" 0
e2e_check "reloads logged with their duration and generation" \
    grep -qE 'reload: done in [0-9]+ ms: generation 7 replaces 6' "$MILTER_LOG"

# --- 2. after a reload: new DefaultList, ListIdDomain and DKIM key
conf_set DefaultList events
conf_set ListIdDomain lists2.example.com
conf_set Selector s2027
conf_set KeyFile "$K/rsa2027.pem"
reload milter "$MILTER_PID" "$MILTER_LOG" || e2e_fail "reload with a new key is done"
send "after reload" || e2e_fail "after reload: accepted"
pf_wait_empty 30
f=$(last_file_for "after reload")
e2e_check_eq "after reload: List-Id of the new DefaultList and ListIdDomain" \
    "$(sink_header "$f" List-Id)" "<events.lists2.example.com>"
optin_records "$PF_BASE/records.2027" "$CONF"
e2e_check_eq "after reload: signed with the new key (s=)" \
    "$(sink_header "$f" DKIM-Signature | tr -d ' \t' | tr ';' '\n' | sed -n 's/^s=//p')" s2027
e2e_check "after reload: the signature verifies (dkimpy)" \
    optin_verify "$PF_BASE/records.2027" "$f" 1

# --- 3. an SMTP session open across a reload
"$PY" - "$PF_PORT" "$PF_BASE" > "$PF_BASE/open.out" 2>&1 <<'EOP' &
import os, smtplib, sys, time
port, base = int(sys.argv[1]), sys.argv[2]
def msg(subject):
    return ("From: news@example.com\r\nTo: ann@example.com\r\n"
            "Subject: %s\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            "Message-ID: <%s@example.com>\r\n\r\nHello.\r\n"
            % (subject, subject.replace(" ", "-")))
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
s.ehlo("client.example.test")
print(s.mail("news@example.com"))
print(s.rcpt("ann@example.com"))
open(base + "/open.ready", "w").close()
for _ in range(300):
    if os.path.exists(base + "/open.go"):
        break
    time.sleep(0.1)
print(s.data(msg("open session 1")))
print(s.mail("news@example.com"))
print(s.rcpt("ann@example.com"))
print(s.data(msg("open session 2")))
s.quit()
EOP
py=$!
e2e_wait_for 20 test -e "$PF_BASE/open.ready" || e2e_fail "open session: MAIL and RCPT sent"
conf_set DefaultList newsletter
reload milter "$MILTER_PID" "$MILTER_LOG" || e2e_fail "reload during an open session is done"
touch "$PF_BASE/open.go"
wait "$py"
e2e_check_eq "open session: both messages accepted" \
    "$(grep -c "^(250, b'2.0.0 Ok: queued" "$PF_BASE/open.out")" 2
pf_wait_empty 30
e2e_check_eq "open session: the message under way keeps the old config" \
    "$(sink_header "$(last_file_for 'open session 1')" List-Id)" "<events.lists2.example.com>"
e2e_check_eq "open session: the next message gets the new config" \
    "$(sink_header "$(last_file_for 'open session 2')" List-Id)" "<newsletter.lists2.example.com>"

# --- 4. a bad configuration, a bad key file: logged, nothing changes
cp "$CONF" "$PF_BASE/good.conf"
conf_set Mode sometimes
conf_set DefaultList news
if reload milter "$MILTER_PID" "$MILTER_LOG"; then
	e2e_fail "bad config: reload refused"
else
	e2e_ok "bad config: reload refused"
fi
e2e_check "bad config: the error is logged with file, line and key" \
    grep -qE "error: reload: $CONF:[0-9]+: Mode: bad value 'sometimes'" "$MILTER_LOG"
e2e_check "bad config: logged that the old generation stays" \
    grep -qE 'reload: 1 error, nothing changed: still serving with generation 9' "$MILTER_LOG"
cp "$PF_BASE/good.conf" "$CONF"
conf_set DefaultList news
chmod 0644 "$K/token.keys"
if reload milter "$MILTER_PID" "$MILTER_LOG"; then
	e2e_fail "token key file readable by others: reload refused"
else
	e2e_ok "token key file readable by others: reload refused"
fi
e2e_check "bad key file: logged" \
    grep -qE 'error: reload: TokenKeyFile: .*token.keys: mode 0644' "$MILTER_LOG"
chmod 0600 "$K/token.keys"
send "after bad reloads" || e2e_fail "after bad reloads: accepted"
pf_wait_empty 30
e2e_check_eq "after bad reloads: still the old config (List-Id)" \
    "$(sink_header "$(last_file_for 'after bad reloads')" List-Id)" "<newsletter.lists2.example.com>"
e2e_check_eq "milter alive after bad reloads" "$(kill -0 "$MILTER_PID" 2>/dev/null && echo yes)" yes

# --- 5. token key rotation: optin-unsubd first, then the milter
t1=$(token_of "$(last_file_for 'after bad reloads')")
e2e_check_eq "before rotation: token with key 1" \
    "$("$OPTINCTL" -c "$CONF" --json token check "$t1" | sed -n 's/.*"key_id":\([0-9]*\).*/\1/p')" 1
"$OPTINCTL" -c "$CONF" token newkey >/dev/null || e2e_fail "optinctl token newkey"
reload unsubd "$UNSUBD_PID" "$UNSUBD_LOG" || e2e_fail "optin-unsubd reload is done"
reload milter "$MILTER_PID" "$MILTER_LOG" || e2e_fail "milter reload after newkey is done"
send "rotated" || e2e_fail "rotated: accepted"
pf_wait_empty 30
t2=$(token_of "$(last_file_for rotated)")
e2e_check_eq "after rotation: the milter issues with key 2" \
    "$("$OPTINCTL" -c "$CONF" --json token check "$t2" | sed -n 's/.*"key_id":\([0-9]*\).*/\1/p')" 2
e2e_check_eq "after rotation: a link issued before works (200)" "$(http_code "$t1")" 200
e2e_check_eq "after rotation: a new link works (200)" "$(http_code "$t2")" 200
"$OPTINCTL" -c "$CONF" token newkey >/dev/null || e2e_fail "optinctl token newkey (3)"
reload milter "$MILTER_PID" "$MILTER_LOG" || e2e_fail "milter reload before optin-unsubd is done"
send "wrong order" || e2e_fail "wrong order: accepted"
pf_wait_empty 30
t3=$(token_of "$(last_file_for 'wrong order')")
e2e_check_eq "milter reloaded first: its new link is 400 at optin-unsubd" \
    "$(http_code "$t3")" 400
reload unsubd "$UNSUBD_PID" "$UNSUBD_LOG" || e2e_fail "optin-unsubd reload (3) is done"
e2e_check_eq "... and 200 once optin-unsubd has reloaded" "$(http_code "$t3")" 200
e2e_check_eq "... while the oldest link still works" "$(http_code "$t1")" 200

# --- 6. optin-unsubd: a request under way across its reload
"$PY" - "$HTTP_PORT" "$t1" "$PF_BASE" > "$PF_BASE/http.out" 2>&1 <<'EOP' &
import os, socket, sys, time
port, token, base = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(("GET /u/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % token).encode())
open(base + "/http.ready", "w").close()
for _ in range(300):
    if os.path.exists(base + "/http.go"):
        break
    time.sleep(0.1)
s.sendall(b"\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if b"</html>" in body:
        break
print(data.decode("utf-8", "replace"))
EOP
py=$!
e2e_wait_for 20 test -e "$PF_BASE/http.ready" || e2e_fail "request under way: headers begun"
conf_set Organization "New Shop"
reload unsubd "$UNSUBD_PID" "$UNSUBD_LOG" || e2e_fail "optin-unsubd reload during a request is done"
touch "$PF_BASE/http.go"
wait "$py"
e2e_check "request under way: answered 200" grep -q '^HTTP/1.1 200' "$PF_BASE/http.out"
e2e_check "request under way: answered with the old configuration" \
    grep -q 'Old Shop' "$PF_BASE/http.out"
e2e_check "request under way: its connection is closed after it" \
    grep -qi '^Connection: close' "$PF_BASE/http.out"
e2e_check "the next request: the new configuration" \
    sh -c "curl -s 'http://127.0.0.1:$HTTP_PORT/u/$t1' | grep -q 'New Shop'"
echo 'Bogus 1' >> "$CONF"
if reload unsubd "$UNSUBD_PID" "$UNSUBD_LOG"; then
	e2e_fail "optin-unsubd: a bad config on reload is refused"
else
	e2e_ok "optin-unsubd: a bad config on reload is refused"
fi
e2e_check "optin-unsubd: logged, with file, line and key" \
    grep -qE "error: reload: $CONF:[0-9]+: Bogus: unknown key" "$UNSUBD_LOG"
e2e_check "optin-unsubd: logged that the old generation stays" \
    grep -q 'reload: nothing changed: still serving with generation 4' "$UNSUBD_LOG"
e2e_check "optin-unsubd: still serving" \
    sh -c "curl -s 'http://127.0.0.1:$HTTP_PORT/u/$t1' | grep -q 'New Shop'"

# --- 7. SIGHUP stops the milter (libmilter): exit 0, logged
kill -HUP "$MILTER_PID"
e2e_wait_for 10 sh -c "! kill -0 $MILTER_PID 2>/dev/null"
kill -KILL "$MILTER_PID" 2>/dev/null	# still there after 10 s: 137
wait "$MILTER_PID"
rc=$?
e2e_check_eq "SIGHUP: the milter stops with exit 0 (Restart=always restarts it)" "$rc" 0
e2e_check "SIGHUP: the stop is logged" grep -q 'optin-milter stopping' "$MILTER_LOG"
MILTER_PID=""
e2e_done
