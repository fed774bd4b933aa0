#!/bin/bash
# tests/unsubd/run.sh - optin-unsubd over HTTP with curl (DESIGN "One-click
# unsubscribe (optin-unsubd)").
#
# Builds a private database with optinctl (init, list add, subscribe,
# unsubscribe, token issue), starts optin-unsubd -f on a free 127.0.0.1
# port, and checks every route and error status, the four RFC 8058 body
# forms (database state and consent_events after each), idempotence, the
# security headers and the CSP hash, that 50 GETs and HEADs (a link
# scanner) change nothing, that the pages' forms work only from the same
# origin with a fresh CSRF mark while one-click needs neither, that
# subscribing again gives pending on a double opt-in list and nothing while
# suppressed, that a slow client is cut off, 503 on a locked database, and
# a clean stop on SIGTERM.  Hostile clients: a repeated, folded or
# smuggling Content-Length, %00 and a raw NUL in the path are refused; a slowloris
# storm (tests/unsubd/slowstorm.py) no longer locks others out; GETs are
# answered while one-click POSTs wait on a write-locked database.  Group
# commit: concurrent one-click POSTs all get 200 and are all in the
# database; a failure inside a batch gives 503 to all of it, none applied.
# Erased, suppressed and list names at an opt-out: t-optout-state.sh.
#
# Needs curl and /usr/bin/python3 (OPTIN_STORE=pgsql: PostgreSQL, through
# tests/lib/db.sh); the expired-token test needs
# faketime (Debian package faketime) and is skipped without it.
# Last line: "unsubd: N passed, N failed"; exit 1 when N failed > 0.

set -u

top_builddir=${top_builddir:-.}
top_srcdir_t=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
UNSUBD=${UNSUBD:-$top_builddir/optin-unsubd}
OPTINCTL=${OPTINCTL:-$top_builddir/optinctl}
PY=/usr/bin/python3
TIMEOUT_IDLE=10		# UNSUBD_TIMEOUT in milter/unsubd/unsubd_http.h

pass=0
fail=0
skip=0
pid=
lockpid=

ok() { pass=$((pass + 1)); }
nok() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
skipped() { skip=$((skip + 1)); echo "SKIP: $*" >&2; }

# expect LABEL GOT WANT
expect() {
	if [ "$2" = "$3" ]; then ok; else nok "$1: got '$2', want '$3'"; fi
}

# expect_grep LABEL FILE PATTERN (extended regex, case-insensitive)
expect_grep() {
	if grep -Eqi -- "$3" "$2"; then ok; else nok "$1: no '$3' in $2"; fi
}

# expect_nogrep LABEL FILE PATTERN
expect_nogrep() {
	if grep -Eqi -- "$3" "$2"; then nok "$1: '$3' found in $2"; else ok; fi
}

finish() {
	echo "unsubd: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}

cleanup() {
	[ -n "$lockpid" ] && kill "$lockpid" 2>/dev/null
	[ -n "${LOCKDB_PID:-}" ] && kill "$LOCKDB_PID" 2>/dev/null
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
	fi
	db_stop
	[ -n "${tmp:-}" ] && [ -z "${KEEP:-}" ] && rm -rf "$tmp"
}
trap cleanup EXIT

. "$top_srcdir_t/tests/lib/db.sh"
. "$top_srcdir_t/tests/lib/lockdb.sh"
for tool in curl; do
	if ! command -v $tool >/dev/null; then
		echo "unsubd: $tool missing" >&2
		nok "$tool missing"
		finish
	fi
done
for bin in "$UNSUBD" "$OPTINCTL"; do
	if [ ! -x "$bin" ]; then
		nok "$bin not built"
		finish
	fi
done

tmp=$(mktemp -d /tmp/unsubd.XXXXXX) || exit 1
conf=$tmp/optin-milter.conf
db_start || { nok "PostgreSQL starts"; finish; }
db=$(db_new consent "$tmp")
log=$tmp/unsubd.log
H=$tmp/headers
B=$tmp/body

port=$($PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port

# Token key file: "ID BASE64-32-BYTE-KEY", mode 0600.
umask 077
printf '1 %s\n' "$(head -c 32 /dev/urandom | base64)" > "$tmp/keys"
cat > "$conf" <<EOF
ConsentDB $db
TokenKeyFile $tmp/keys
ErasureKeyFile $tmp/erasure
TokenLifetime 400d
UnsubscribeListen 127.0.0.1:$port
UnsubscribeURL $base/u/%t
UnsubscribeMailto unsubscribe+%t@example.com
PidFile $tmp/unsubd.pid
Syslog no
LogLevel debug
DBBusyTimeout 300
Organization Example Shop & Co
PrivacyURL https://shop.example/privacy
EOF
umask 022

ctl() { "$OPTINCTL" -c "$conf" "$@" >/dev/null 2>>"$tmp/ctl.err"; }
q() { db_sql "$db" "$1"; }
tok() { "$OPTINCTL" -c "$conf" token issue "$1" "$2" 2>>"$tmp/ctl.err" |
    tail -n 1; }

# --- database ---------------------------------------------------------
ctl init || { nok "optinctl init (see $tmp/ctl.err)"; cat "$tmp/ctl.err" >&2; finish; }
ctl list add news --name "News & offers"
ctl list add promo
ctl list add events
for a in ann form1 form2 form3 form4 form5 web1 web2 pref1; do
	ctl subscribe "$a@example.com" news
done
ctl subscribe ann@example.com promo
ctl subscribe pref1@example.com promo
ctl subscribe pref1@example.com events
# never opted in to events: only an opt-out on record
ctl unsubscribe nocon@example.com events
ctl subscribe nocon@example.com news
expect "database built" "$(q "SELECT count(*) FROM subscriptions")" 14

T_ANN=$(tok ann@example.com news)
if [ -z "$T_ANN" ]; then
	nok "optinctl token issue gave nothing"
	cat "$tmp/ctl.err" >&2
	finish
fi

# --- options ----------------------------------------------------------
out=$("$UNSUBD" -V 2>&1)
case $out in optin-unsubd\ *) ok ;; *) nok "-V printed '$out'" ;; esac
out=$("$UNSUBD" -n -c "$conf" 2>&1); rc=$?
expect "-n on a good config: exit" "$rc" 0
expect "-n on a good config: silent" "$out" ""
chmod 0644 "$tmp/keys"
"$UNSUBD" -n -c "$conf" >/dev/null 2>&1; rc=$?
expect "-n with a world-readable key file" "$rc" 78
chmod 0600 "$tmp/keys"
sed 's/^UnsubscribeListen .*/UnsubscribeListen 127.0.0.1/' "$conf" > "$tmp/bad.conf"
"$UNSUBD" -n -c "$tmp/bad.conf" >/dev/null 2>&1; rc=$?
expect "-n with UnsubscribeListen without a port" "$rc" 78

# start_unsubd CONF LOG URL - start optin-unsubd -f (PID in $pid) and wait
# up to 10 s until URL answers; sets up=yes or no
start_unsubd() {
	"$UNSUBD" -f -c "$1" 2>"$2" &
	pid=$!
	up=no
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 1 "$3/"; then up=yes; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
}

# --- start ------------------------------------------------------------
start_unsubd "$conf" "$log" "$base"
expect "daemon listens" "$up" yes
if [ "$up" != yes ]; then cat "$log" >&2; finish; fi
expect "pid file" "$(cat "$tmp/unsubd.pid" 2>/dev/null)" "$pid"

# req METHOD PATH [curl args...]: status code; headers in $H, body in $B
req() {
	local m=$1 p=$2
	shift 2
	if [ "$m" = HEAD ]; then
		curl -s --max-time 10 --head -D "$H" -o "$B" \
		    -w '%{http_code}' "$@" "$base$p"
	else
		curl -s --max-time 10 -X "$m" -D "$H" -o "$B" \
		    -w '%{http_code}' "$@" "$base$p"
	fi
}

# csrf_of ROUTE TOKEN: the CSRF mark of that page's forms (GET, no change)
csrf_of() {
	curl -s --max-time 10 "$base/$1/$2" |
	    grep -o 'name="csrf" value="[^"]*"' | head -n 1 |
	    sed 's/.*value="\([^"]*\)"/\1/'
}

# same_origin: what a browser sends with a form of our page: Sec-Fetch-Site
# and, since the pages say Referrer-Policy: no-referrer, "Origin: null"
SAME=(-H 'Sec-Fetch-Site: same-origin' -H 'Origin: null')

# headers_ok LABEL: the headers every response carries
headers_ok() {
	expect_grep "$1: Cache-Control" "$H" '^Cache-Control: no-store'
	expect_grep "$1: Referrer-Policy" "$H" '^Referrer-Policy: no-referrer'
	expect_grep "$1: CSP" "$H" "^Content-Security-Policy: default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*';.*form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	expect_grep "$1: nosniff" "$H" '^X-Content-Type-Options: nosniff'
	expect_grep "$1: X-Frame-Options" "$H" '^X-Frame-Options: DENY'
	expect_grep "$1: Content-Type" "$H" '^Content-Type: text/html; charset=utf-8'
	expect_nogrep "$1: no Set-Cookie" "$H" '^Set-Cookie'
	expect_nogrep "$1: no Location" "$H" '^Location'
}

# --- GET and HEAD -----------------------------------------------------
dump_before=$(db_dump "$db")
st=$(req GET "/u/$T_ANN" -A "unsubd-test/get")
expect "GET /u/TOKEN" "$st" 200
headers_ok "GET /u"
expect_grep "GET /u names the list" "$B" "<strong>News &amp; offers</strong>"
expect_grep "GET /u form posts to itself" "$B" "<form method=\"post\" action=\"/u/$T_ANN\">"
expect_grep "GET /u has the list button" "$B" 'name="action" value="list"'
expect_grep "GET /u has the everything button" "$B" 'name="action" value="all"'
expect_grep "GET /u links to preferences" "$B" "href=\"/p/$T_ANN\""
expect_grep "GET /u lang" "$B" '<html lang="en">'
expect_grep "GET /u viewport" "$B" 'name="viewport"'
expect_grep "GET /u organisation (escaped)" "$B" 'Example Shop &amp; Co'
expect_grep "GET /u privacy link" "$B" 'href="https://shop.example/privacy"'
expect_nogrep "GET /u no script" "$B" '<script|<img|<link|src='
expect_nogrep "GET /u no address" "$B" 'ann@example.com'
# The CSP hash must be the sha256 of the one <style> element.
csp_ok=$($PY - "$H" "$B" <<'EOF'
import base64, hashlib, re, sys
h = open(sys.argv[1], encoding="latin-1").read()
b = open(sys.argv[2], encoding="utf-8").read()
styles = re.findall(r"<style>(.*?)</style>", b, re.S)
m = re.search(r"style-src 'sha256-([^']+)'", h)
want = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
print("yes" if len(styles) == 1 and m and m.group(1) == want else "no")
EOF
)
expect "CSP hash matches the inline style" "$csp_ok" yes

st=$(req HEAD "/u/$T_ANN")
expect "HEAD /u/TOKEN" "$st" 200
headers_ok "HEAD /u"
expect_nogrep "HEAD /u has no body" "$B" '<html|<!DOCTYPE'

st=$(req GET "/p/$T_ANN")
expect "GET /p/TOKEN" "$st" 200
headers_ok "GET /p"
expect_grep "GET /p shows news by name" "$B" 'News &amp; offers'
expect_grep "GET /p shows promo" "$B" '<span class="list">promo</span>'
expect_grep "GET /p opt-out button" "$B" 'name="action" value="opt_out"'
expect_nogrep "GET /p no other person's list" "$B" '>events<'

# link scanner: 50 GETs and HEADs on both routes change nothing
T_PREF=$(tok pref1@example.com news)
for i in $(seq 50); do
	case $((i % 4)) in
	0) req GET "/u/$T_ANN" >/dev/null ;;
	1) req HEAD "/u/$T_ANN" >/dev/null ;;
	2) req GET "/p/$T_PREF" >/dev/null ;;
	3) req HEAD "/p/$T_ANN" >/dev/null ;;
	esac
done
dump_after=$(db_dump "$db")
if [ -n "$dump_before" ] && [ "$dump_before" = "$dump_after" ]; then ok; else
	nok "link scanner: 50 GET/HEAD changed the database"
fi

# --- one-click POST in the four body forms -----------------------------
# check_oneclick LABEL ADDR FORM
check_oneclick() {
	local label=$1 addr=$2 form=$3
	expect "$label: status" "$(q "SELECT status FROM subscriptions WHERE address='$addr' AND list_id='news'")" opted_out
	expect "$label: event" "$(q "SELECT source||'|'||remote_addr||'|'||user_agent FROM consent_events WHERE address='$addr' AND list_id='news' AND event='opted_out'")" "one-click|127.0.0.1|unsubd-test/$form"
	expect_grep "$label: evidence" <(q "SELECT evidence FROM consent_events WHERE address='$addr' AND event='opted_out'") "body=$form"
	expect_grep "$label: logged" "$log" "unsubscribe scope=list list=news .*source=one-click body=$form"
}

T=$(tok form1@example.com news)
st=$(req POST "/u/$T" -A unsubd-test/urlencoded -d 'List-Unsubscribe=One-Click')
expect "one-click urlencoded" "$st" 200
headers_ok "one-click POST"
expect_grep "one-click page" "$B" 'You are unsubscribed'
# the list's name comes with the write (read in the writer's transaction)
expect "one-click page names the list" "$(grep -c '^<p>You will receive no more mail from the list <strong>News &amp; offers</strong>\.</p>$' "$B")" 1
check_oneclick "one-click urlencoded" form1@example.com urlencoded
# a list without a name: its id
ctl subscribe label1@example.com promo
st=$(req POST "/u/$(tok label1@example.com promo)" -d 'List-Unsubscribe=One-Click')
expect "one-click, list without a name" "$st" 200
expect "one-click page names the list by its id" "$(grep -c '^<p>You will receive no more mail from the list <strong>promo</strong>\.</p>$' "$B")" 1
# idempotent: again, same answer, no second event
st=$(req POST "/u/$T" -A unsubd-test/urlencoded -d 'List-Unsubscribe=One-Click')
expect "one-click repeat" "$st" 200
expect "one-click repeat: one event" "$(q "SELECT count(*) FROM consent_events WHERE address='form1@example.com' AND event='opted_out'")" 1
expect "one-click repeat: state" "$(q "SELECT status FROM subscriptions WHERE address='form1@example.com' AND list_id='news'")" opted_out

# X-Forwarded-For from a local proxy is evidence, one value that cannot add
# fields (milter/util/kv.h): spaces, '=' and quotes stay inside the quotes
ctl subscribe xff@example.com news
T=$(tok xff@example.com news)
st=$(req POST "/u/$T" -A unsubd-test/urlencoded \
    -H 'X-Forwarded-For: 203.0.113.9 token_key=9 body="forged"' \
    -d 'List-Unsubscribe=One-Click')
expect "one-click behind a proxy" "$st" 200
expect "X-Forwarded-For evidence: exact" "$(q "SELECT evidence FROM consent_events WHERE address='xff@example.com' AND event='opted_out'" | sed 's/token_day=[0-9]*/token_day=D/')" \
    'scope=list body=urlencoded token_key=1 token_day=D forwarded_for="203.0.113.9 token_key=9 body=\"forged\""'

# an erased person stays erased: a one-click POST with a token issued before
# optinctl forget writes nothing back (it wrote the subscription and an
# opted_out event with the address in clear) and logs no address
ctl subscribe gone@example.com news
T=$(tok gone@example.com news)
ctl forget gone@example.com
st=$(req POST "/u/$T" -A unsubd-test/urlencoded -d 'List-Unsubscribe=One-Click')
expect "one-click after forget" "$st" 200
expect "one-click after forget: nothing written" "$(q "SELECT (SELECT count(*) FROM subscriptions WHERE address='gone@example.com') + (SELECT count(*) FROM consent_events WHERE address='gone@example.com')")" 0
expect_nogrep "one-click after forget: no address logged" "$log" "gone@example.com"
expect_grep "one-click after forget: logged as erased" "$log" "unsubscribe scope=list list=news addr=\(erased\) .*changed=no"

T=$(tok form2@example.com news)
st=$(req POST "/u/$T" -A unsubd-test/multipart -F 'List-Unsubscribe=One-Click')
expect "one-click multipart" "$st" 200
check_oneclick "one-click multipart" form2@example.com multipart

T=$(tok form3@example.com news)
st=$(req POST "/u/$T" -A unsubd-test/text -H 'Content-Type: text/plain' \
    --data-binary $'List-Unsubscribe=One-Click\r\n')
expect "one-click text/plain" "$st" 200
check_oneclick "one-click text/plain" form3@example.com text

T=$(tok form4@example.com news)
st=$(req POST "/u/$T" -A unsubd-test/empty -H 'Content-Length: 0')
expect "one-click empty body" "$st" 200
check_oneclick "one-click empty body" form4@example.com empty

T=$(tok form5@example.com news)
st=$(req POST "/u/$T" -A unsubd-test/bad -d 'foo=bar')
expect "POST with an unknown body" "$st" 400
expect "POST with an unknown body changes nothing" "$(q "SELECT status FROM subscriptions WHERE address='form5@example.com'")" opted_in

# --- the page's own form ----------------------------------------------
T=$(tok web1@example.com news)
st=$(req POST "/u/$T" -A unsubd-test/web "${SAME[@]}" \
    -d "action=list&csrf=$(csrf_of u "$T")")
expect "web action=list" "$st" 200
expect "web action=list: state" "$(q "SELECT status FROM subscriptions WHERE address='web1@example.com'")" opted_out
expect "web action=list: event" "$(q "SELECT source||'|'||remote_addr||'|'||user_agent FROM consent_events WHERE address='web1@example.com' AND event='opted_out'")" "web|127.0.0.1|unsubd-test/web"

T=$(tok web2@example.com news)
st=$(req POST "/u/$T" -A unsubd-test/web -H "Origin: $base" \
    -d "action=all&csrf=$(csrf_of u "$T")")
expect "web action=all" "$st" 200
expect_grep "web action=all page" "$B" 'no more list mail'
expect "web action=all: suppression" "$(q "SELECT reason FROM suppressions WHERE address='web2@example.com'")" unsubscribed_all
expect "web action=all: event source" "$(q "SELECT source FROM consent_events WHERE address='web2@example.com' AND event='suppressed'")" web
st=$(req GET "/u/$T")
expect_grep "GET /u after action=all says so" "$B" 'unsubscribed from everything'

# --- preferences ------------------------------------------------------
C_PREF=$(csrf_of p "$T_PREF")
expect "prefs page carries a CSRF mark" "${C_PREF:+yes}" yes
st=$(req POST "/p/$T_PREF" -A unsubd-test/prefs "${SAME[@]}" \
    -d "list=promo&action=opt_out&csrf=$C_PREF")
expect "prefs opt_out" "$st" 200
expect "prefs opt_out: state" "$(q "SELECT status FROM subscriptions WHERE address='pref1@example.com' AND list_id='promo'")" opted_out
expect "prefs opt_out: event" "$(q "SELECT source||'|'||remote_addr FROM consent_events WHERE address='pref1@example.com' AND list_id='promo' AND event='opted_out'")" "web|127.0.0.1"
expect "prefs opt_out: other lists untouched" "$(q "SELECT status FROM subscriptions WHERE address='pref1@example.com' AND list_id<>'promo' ORDER BY list_id" | paste -sd,)" "opted_in,opted_in"
expect_grep "prefs page offers opting back in" "$B" 'value="opt_in"'
st=$(req POST "/p/$T_PREF" -A unsubd-test/prefs "${SAME[@]}" \
    -d "list=promo&action=opt_in&csrf=$C_PREF")
expect "prefs opt_in after a prior opt-in" "$st" 200
expect "prefs opt_in: state" "$(q "SELECT status FROM subscriptions WHERE address='pref1@example.com' AND list_id='promo'")" opted_in
expect "prefs opt_in: event" "$(q "SELECT source FROM consent_events WHERE address='pref1@example.com' AND list_id='promo' AND event='opted_in' ORDER BY id DESC LIMIT 1")" web
# never invent consent: nocon was never opted in to events
T=$(tok nocon@example.com news)
st=$(req GET "/p/$T")
expect_nogrep "prefs: no opt-in button without a prior opt-in" "$B" 'value="opt_in"'
expect_grep "prefs: says not available" "$B" 'not available'
C=$(csrf_of p "$T")
st=$(req POST "/p/$T" "${SAME[@]}" -d "list=events&action=opt_in&csrf=$C")
expect "prefs opt_in without a prior opt-in" "$st" 403
expect "prefs opt_in refused: state" "$(q "SELECT status FROM subscriptions WHERE address='nocon@example.com' AND list_id='events'")" opted_out
st=$(req POST "/p/$T" "${SAME[@]}" -d "list=promo&action=opt_in&csrf=$C")
expect "prefs opt_in on a list never joined" "$st" 403
expect "prefs opt_in refused: no row" "$(q "SELECT count(*) FROM subscriptions WHERE address='nocon@example.com' AND list_id='promo'")" 0
st=$(req POST "/p/$T" -d 'list=news&action=explode')
expect "prefs bad action" "$st" 400

# --- forms from the pages: same origin and a fresh CSRF mark -------------
# A token in a forwarded mail must only ever reduce mail: the pages' forms
# need the same origin and the page's CSRF mark; one-click needs neither.
ctl list add letters --double-opt-in
ctl subscribe g1@example.com news
ctl subscribe g2@example.com promo
ctl unsubscribe g2@example.com promo
ctl subscribe d1@example.com letters
ctl confirm d1@example.com letters
ctl unsubscribe d1@example.com letters
ctl subscribe s1@example.com promo
ctl unsubscribe s1@example.com promo
ctl unsubscribe s1@example.com --all
expect "guard: g2 opted out of promo before" "$(q "SELECT status FROM subscriptions WHERE address='g2@example.com' AND list_id='promo'")" opted_out
expect "guard: d1 opted out of the double opt-in list before" "$(q "SELECT l.double_opt_in||'|'||s.status FROM subscriptions s JOIN lists l USING (list_id) WHERE s.address='d1@example.com'")" "1|opted_out"

# mint T TOKEN: a CSRF mark made at time T, as unsubd_guard.h describes it
# (HKDF-SHA256 of the newest key, info "optin csrf v1"; HMAC over "T.TOKEN")
mint() {
	$PY - "$tmp/keys" "$1" "$2" <<'PY'
import base64, hashlib, hmac, sys
line = [l for l in open(sys.argv[1]) if l.strip()][-1]
key = base64.b64decode(line.split()[1])
prk = hmac.new(b"", key, hashlib.sha256).digest()
sub = hmac.new(prk, b"optin csrf v1\x01", hashlib.sha256).digest()
t, token = sys.argv[2], sys.argv[3]
mac = hmac.new(sub, (t + "." + token).encode(), hashlib.sha256).hexdigest()
print(t + "." + mac)
PY
}

T_G2=$(tok g2@example.com promo)
C_G2=$(csrf_of p "$T_G2")
if [[ $C_G2 =~ ^[0-9]+\.[0-9a-f]{64}$ ]]; then ok; else
	nok "prefs page CSRF mark has the form T.MAC: '$C_G2'"
fi
g2_state() { q "SELECT status FROM subscriptions WHERE address='g2@example.com' AND list_id='promo'"; }
g2_events() { q "SELECT count(*) FROM consent_events WHERE address='g2@example.com'"; }
ev0=$(g2_events)
OPTIN="list=promo&action=opt_in"

# refused LABEL WANT-REASON CURL-ARGS...: 403, nothing changed, logged
refused() {
	local label=$1 reason=$2
	shift 2
	st=$(req POST "/p/$T_G2" -A unsubd-test/guard "$@")
	expect "$label: status" "$st" 403
	expect_grep "$label: page" "$B" 'Nothing was changed'
	expect "$label: state" "$(g2_state)" opted_out
	expect "$label: no event" "$(g2_events)" "$ev0"
	expect_grep "$label: logged" "$log" "refused route=p action=opt_in reason=$reason "
}
refused "cross-origin re-subscribe" cross_origin \
    -H 'Origin: https://evil.example' -d "$OPTIN&csrf=$C_G2"
refused "cross-site re-subscribe (Sec-Fetch-Site)" cross_site \
    -H 'Sec-Fetch-Site: cross-site' -H "Origin: $base" -d "$OPTIN&csrf=$C_G2"
refused "same-site re-subscribe" cross_site \
    -H 'Sec-Fetch-Site: same-site' -d "$OPTIN&csrf=$C_G2"
refused "opaque origin without Sec-Fetch-Site" cross_origin \
    -H 'Origin: null' -d "$OPTIN&csrf=$C_G2"
refused "cross-origin Referer" cross_origin \
    -H "Referer: https://evil.example/p/$T_G2" -d "$OPTIN&csrf=$C_G2"
refused "another port is another origin" cross_origin \
    -H "Origin: http://127.0.0.1:1" -d "$OPTIN&csrf=$C_G2"
refused "no origin at all" no_origin -d "$OPTIN&csrf=$C_G2"
refused "same origin without CSRF" csrf_missing "${SAME[@]}" -d "$OPTIN"
now=$(date +%s)
refused "same origin with a stale CSRF" csrf_stale "${SAME[@]}" \
    -d "$OPTIN&csrf=$(mint $((now - 7300)) "$T_G2")"
refused "same origin with a forged CSRF" csrf_bad "${SAME[@]}" \
    -d "$OPTIN&csrf=$now.$(printf '%064d' 0)"
refused "same origin with another token's CSRF" csrf_bad "${SAME[@]}" \
    -d "$OPTIN&csrf=$(csrf_of p "$T_PREF")"
refused "same origin with a CSRF from the future" csrf_bad "${SAME[@]}" \
    -d "$OPTIN&csrf=$(mint $((now + 600)) "$T_G2")"
# the reductions on the pages pass the same guard
T_G1=$(tok g1@example.com news)
st=$(req POST "/u/$T_G1" -H 'Origin: https://evil.example' \
    -d "action=all&csrf=$(csrf_of u "$T_G1")")
expect "cross-origin 'unsubscribe from everything'" "$st" 403
expect "cross-origin 'everything': no suppression" "$(q "SELECT count(*) FROM suppressions WHERE address='g1@example.com'")" 0
st=$(req POST "/p/$T_G1" -H 'Origin: https://evil.example' \
    -d "list=news&action=opt_out&csrf=$(csrf_of p "$T_G1")")
expect "cross-origin prefs opt_out" "$st" 403
expect "cross-origin prefs opt_out: state" "$(q "SELECT status FROM subscriptions WHERE address='g1@example.com'")" opted_in
# one-click needs neither: no Origin, or even another site's
st=$(req POST "/u/$T_G1" -A unsubd-test/oneclick -d 'List-Unsubscribe=One-Click')
expect "one-click without Origin or CSRF" "$st" 200
expect "one-click without Origin: opted out" "$(q "SELECT status FROM subscriptions WHERE address='g1@example.com'")" opted_out
expect "one-click without Origin: event" "$(q "SELECT source FROM consent_events WHERE address='g1@example.com' AND event='opted_out'")" one-click
st=$(req POST "/u/$T_G1" -H 'Origin: https://webmail.example' \
    -H 'Sec-Fetch-Site: cross-site' -d 'List-Unsubscribe=One-Click')
expect "one-click from another site's page" "$st" 200
# a fresh mark made as documented works, as does a Referer naming us
st=$(req POST "/p/$T_G2" -A unsubd-test/guard -H "Referer: $base/p/$T_G2" \
    -d "list=promo&action=opt_out&csrf=$(mint "$now" "$T_G2")")
expect "same-origin Referer, documented CSRF: accepted" "$st" 200
expect "same-origin Referer: nothing to change" "$(g2_events)" "$ev0"
st=$(req POST "/p/$T_G2" -A unsubd-test/guard "${SAME[@]}" -d "$OPTIN&csrf=$C_G2")
expect "same origin with a valid CSRF: re-subscribe" "$st" 200
expect "re-subscribe (single opt-in list): state" "$(g2_state)" opted_in
expect "re-subscribe: event" "$(q "SELECT event||'|'||source FROM consent_events WHERE address='g2@example.com' ORDER BY id DESC LIMIT 1")" "opted_in|web"
expect_grep "re-subscribe: logged" "$log" "preferences action=opt_in list=promo .*changed=yes state=opted_in status=200"

# double opt-in list: subscribing again through a token only gives pending
T_D1=$(tok d1@example.com letters)
st=$(req GET "/p/$T_D1")
expect_grep "double opt-in: page says a confirmation is needed" "$B" 'only after a confirmation'
C=$(csrf_of p "$T_D1")
st=$(req POST "/p/$T_D1" -A unsubd-test/doi "${SAME[@]}" \
    -d "list=letters&action=opt_in&csrf=$C")
expect "double opt-in re-subscribe" "$st" 200
expect "double opt-in re-subscribe: pending" "$(q "SELECT status FROM subscriptions WHERE address='d1@example.com' AND list_id='letters'")" pending
expect "double opt-in re-subscribe: event" "$(q "SELECT event||'|'||source||'|'||user_agent FROM consent_events WHERE address='d1@example.com' ORDER BY id DESC LIMIT 1")" "pending|web|unsubd-test/doi"
expect_grep "double opt-in re-subscribe: page" "$B" 'Waiting for your confirmation'
n=$(q "SELECT count(*) FROM consent_events WHERE address='d1@example.com'")
st=$(req POST "/p/$T_D1" "${SAME[@]}" -d "list=letters&action=opt_in&csrf=$C")
expect "double opt-in re-subscribe again: no change" "$st|$(q "SELECT count(*) FROM consent_events WHERE address='d1@example.com'")" "200|$n"
ctl confirm d1@example.com letters
expect "double opt-in: optinctl confirm gives opted_in" "$(q "SELECT status FROM subscriptions WHERE address='d1@example.com' AND list_id='letters'")" opted_in

# suppressed: no page can lift a global suppression
T_S1=$(tok s1@example.com promo)
st=$(req GET "/p/$T_S1")
expect_nogrep "suppressed: no opt-in button" "$B" 'value="opt_in"'
# (the page has no form here: take the mark of the token's /u/ page)
st=$(req POST "/p/$T_S1" "${SAME[@]}" \
    -d "list=promo&action=opt_in&csrf=$(csrf_of u "$T_S1")")
expect "suppressed re-subscribe" "$st" 403
expect_grep "suppressed re-subscribe: refused by the rule, not the guard" "$log" \
    "preferences action=opt_in list=promo addr=<s1@example.com> source=web changed=no state=opted_out status=403"
expect "suppressed re-subscribe: state and suppression" "$(q "SELECT s.status||'|'||p.reason FROM subscriptions s, suppressions p WHERE s.address='s1@example.com' AND p.address='s1@example.com'")" "opted_out|unsubscribed_all"

# --- errors -----------------------------------------------------------
bad=${T_ANN%?}
case ${T_ANN: -1} in A) bad=${bad}B ;; *) bad=${bad}A ;; esac
st=$(req GET "/u/$bad")
expect "tampered token" "$st" 400
headers_ok "400"
expect_nogrep "400 leaks nothing" "$B" 'ann@|news|promo|malformed|expired|key'
st=$(req POST "/u/$bad" -d 'List-Unsubscribe=One-Click')
expect "tampered token POST" "$st" 400
st=$(req GET "/p/short")
expect "garbage token" "$st" 400
st=$(req GET "/u/$(head -c 900 /dev/zero | tr '\0' A)")
expect "overlong token" "$st" 400
if command -v faketime >/dev/null; then
	T=$(faketime -f -500d "$OPTINCTL" -c "$conf" token issue ann@example.com news 2>/dev/null | tail -n 1)
	st=$(req GET "/u/$T")
	expect "expired token (400 with a page)" "$st" 400
	expect_grep "expired page asks for mail" "$B" 'mailto:unsubscribe\+'
	expect_grep "expired page title" "$B" 'expired'
	st=$(req POST "/u/$T" -d 'List-Unsubscribe=One-Click')
	expect "expired token POST" "$st" 400
	expect "expired token changes nothing" "$(q "SELECT status FROM subscriptions WHERE address='ann@example.com' AND list_id='news'")" opted_in
else
	skipped "expired token: faketime not installed"
fi

for p in / /x /u /u/ /p/ /u/a/b /uu/x; do
	st=$(req GET "$p")
	expect "GET $p" "$st" 404
done
headers_ok "404"
for m in PUT DELETE OPTIONS PATCH; do
	st=$(req $m "/u/$T_ANN")
	expect "$m /u/TOKEN" "$st" 405
	expect_grep "$m /u/TOKEN Allow" "$H" '^Allow: GET, HEAD, POST'
done
headers_ok "405"
head -c 9000 /dev/zero | tr '\0' a > "$tmp/big"
st=$(req POST "/u/$T_ANN" --data-binary @"$tmp/big")
expect "body over 8 KiB" "$st" 413
headers_ok "413"
st=$(req POST "/u/$T_ANN" -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big")
expect "chunked body over 8 KiB" "$st" 413
expect "413 changed nothing" "$(q "SELECT status FROM subscriptions WHERE address='ann@example.com' AND list_id='news'")" opted_in

# --- database locked: 503 with Retry-After -------------------------------
lock_db "$db" "$tmp/locked" || nok "lock holder did not start"
T=$(tok form5@example.com news)
st=$(req POST "/u/$T" -d 'List-Unsubscribe=One-Click')
expect "locked database" "$st" 503
expect_grep "503 Retry-After" "$H" '^Retry-After: [0-9]+'
unlock_db
st=$(req POST "/u/$T" -d 'List-Unsubscribe=One-Click')
expect "after the lock" "$st" 200

# --- slow client --------------------------------------------------------
slow=$($PY - "$port" "$TIMEOUT_IDLE" <<'EOF'
import socket, sys, time
port, idle = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /u/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
s.settimeout(idle + 10)
t0 = time.monotonic()
try:
	data = s.recv(4096)
	while data:
		data = s.recv(4096)
	dt = time.monotonic() - t0
	print("closed" if idle - 2 <= dt <= idle + 8 else "closed after %.1fs" % dt)
except socket.timeout:
	print("still open")
except ConnectionResetError:
	print("closed")
EOF
)
expect "slow client cut off after the idle timeout" "$slow" closed

# --- body framing and paths (request smuggling, truncation) -------------
# raw REQUEST-TEXT: the status code of the answer to bytes sent as they are
raw() {
	$PY - "$port" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
data = b""
try:
	while not data.endswith(b"</html>\n") and len(data) < 65536:
		d = s.recv(4096)
		if not d:
			break
		data += d
except OSError:
	pass
print(data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "none")
EOF
}
ctl subscribe smug1@example.com news
T=$(tok smug1@example.com news)
body='List-Unsubscribe=One-Click'
st=$(raw "POST /u/$T HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\nContent-Length: 26\r\n\r\n$body")
expect "repeated Content-Length" "$st" 400
st=$(raw "POST /u/$T HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 2\r\n 6\r\n\r\n$body")
expect "folded Content-Length" "$st" 400
st=$(raw "POST /u/$T HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n$body\r\n0\r\n\r\n")
expect "Content-Length with Transfer-Encoding" "$st" 400
st=$(raw "POST /u/$T%00junk HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\n$body")
expect "POST with %00 in the path" "$st" 400
st=$(req GET "/u/$T%00junk")
expect "GET with %00 in the path" "$st" 400
st=$(req GET "/p/$T%00")
expect "GET /p with %00 at the end of the path" "$st" 400
# a raw NUL byte (not %00): libmicrohttpd cuts the URL there
st=$(raw "POST /u/$T\x00junk HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\n$body")
expect "POST with a raw NUL in the request line" "$st" 400
st=$(raw "GET /p/$T\x00 HTTP/1.1\r\nHost: a\r\n\r\n")
expect "GET /p with a raw NUL at the end of the path" "$st" 400
expect_grep "raw NUL refusal logged" "$log" "bad request: NUL byte in the request line client=127.0.0.1"
expect "refused framing and paths changed nothing" "$(q "SELECT status FROM subscriptions WHERE address='smug1@example.com'")" opted_in
expect "refused framing and paths wrote no event" "$(q "SELECT count(*) FROM consent_events WHERE address='smug1@example.com' AND event='opted_out'")" 0
expect_grep "refusal logged" "$log" "bad request: repeated Content-Length client=127.0.0.1"
expect_grep "%00 refusal logged" "$log" "bad request: %00 in the path client=127.0.0.1"
st=$(raw "POST /u/$T HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\n$body")
expect "the same POST, framed once" "$st" 200
expect "the same POST, framed once: opted out" "$(q "SELECT status FROM subscriptions WHERE address='smug1@example.com'")" opted_out

# --- clean stop ---------------------------------------------------------
kill -TERM "$pid"
stopped=no
for _ in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then stopped=yes; break; fi
	sleep 0.1
done
expect "stops on SIGTERM" "$stopped" yes
wait "$pid"
expect "exit status after SIGTERM" "$?" 0
pid=
expect "pid file removed" "$(test -e "$tmp/unsubd.pid" && echo yes || echo no)" no
expect_nogrep "no token in the log" "$log" "$T_ANN"

# --- LogAddresses hash: keyed, the same in every program ---------------
# optin-unsubd logs the hash that optinctl export gives as "log_as" (one
# home, logaddr.h), keyed with the token key: not the plain address, not
# an unkeyed SHA-256 of it, and another key gives another hash.
port2=$($PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{ grep -v '^UnsubscribeListen\|^PidFile' "$conf"
  echo "UnsubscribeListen 127.0.0.1:$port2"
  echo "LogAddresses hash"; } > "$tmp/hash.conf"
log_as() {
	"$OPTINCTL" -c "$1" --json export "$2" 2>>"$tmp/ctl.err" |
	    $PY -c 'import json, sys; print(json.load(sys.stdin).get("log_as"))'
}
want=$(log_as "$tmp/hash.conf" web2@example.com)
case $want in
"<hash:"[0-9a-f]*">") ok ;;
*) nok "optinctl export log_as with LogAddresses hash: got '$want'" ;;
esac
unkeyed=$(printf '%s' web2@example.com | sha256sum | cut -c1-16)
expect "the log hash is not the unkeyed SHA-256" \
    "$(case $want in *"$unkeyed"*) echo unkeyed ;; *) echo keyed ;; esac)" keyed
umask 077
printf '1 %s\n' "$(head -c 32 /dev/urandom | base64)" > "$tmp/keys2"
umask 022
sed "s|^TokenKeyFile .*|TokenKeyFile $tmp/keys2|" "$tmp/hash.conf" > "$tmp/hash2.conf"
other=$(log_as "$tmp/hash2.conf" web2@example.com)
if [ -n "$other" ] && [ "$other" != "$want" ]; then ok; else
	nok "another key gives another log hash: '$other' and '$want'"; fi
start_unsubd "$tmp/hash.conf" "$tmp/hash.log" "http://127.0.0.1:$port2"
expect "LogAddresses hash: daemon listens" "$up" yes
T=$(tok web2@example.com news)
st=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' \
    -d 'List-Unsubscribe=One-Click' "http://127.0.0.1:$port2/u/$T")
expect "LogAddresses hash: one-click" "$st" 200
kill -TERM "$pid"
wait "$pid"
pid=
expect_grep "LogAddresses hash: the log names the keyed hash" "$tmp/hash.log" \
    "unsubscribe scope=list list=news addr=$want source=one-click"
expect_nogrep "LogAddresses hash: no address in the log" "$tmp/hash.log" "web2@"
expect_nogrep "LogAddresses hash: no unkeyed hash in the log" "$tmp/hash.log" "$unkeyed"

# --- hostile clients and group commit (a second daemon) -----------------
# DBBusyTimeout 20 s: writes wait for a lock held by another process;
# HTTPRequestTimeout 4 s: the slowloris and slow metrics clients below are
# cut off sooner than by the default 10 s.
port3=$($PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base3=http://127.0.0.1:$port3
mport3=$($PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{ grep -v '^UnsubscribeListen\|^PidFile\|^DBBusyTimeout' "$conf"
  echo "UnsubscribeListen 127.0.0.1:$port3"
  echo "UnsubscribeMetricsAddress 127.0.0.1:$mport3"
  echo "DBBusyTimeout 20000"
  echo "HTTPRequestTimeout 4s"; } > "$tmp/wait.conf"
log3=$tmp/wait.log
for i in $(seq 24); do ctl subscribe "gc$i@example.com" news; done
for i in $(seq 10); do ctl subscribe "bt$i@example.com" news; done
ctl subscribe lead@example.com news
ctl subscribe boom@example.com news
ctl subscribe reader@example.com news
T_READER=$(tok reader@example.com news)
start_unsubd "$tmp/wait.conf" "$log3" "$base3"
expect "second daemon listens" "$up" yes

# slowloris: 256 trickling connections from 8 addresses (the per-address
# limit each) must not lock a normal client out, and are cut off once
# their request is overdue (HTTPRequestTimeout: 4 s here, default 10)
rm -f "$tmp/storm.ready"
$PY "$top_srcdir_t/tests/unsubd/slowstorm.py" "$port3" "$tmp/storm.ready" 25 \
    > "$tmp/storm.out" 2>&1 &
stormpid=$!
for _ in $(seq 150); do [ -e "$tmp/storm.ready" ] && break; sleep 0.1; done
sleep 1
st=$(curl -s --max-time 20 -o "$B" -w '%{http_code}' "$base3/u/$T_READER")
expect "a normal client during a slowloris storm" "$st" 200
expect_grep "a normal client during a slowloris storm: the page" "$B" 'News &amp; offers'
wait "$stormpid"
expect "slowloris storm: every slow connection cut off" "$(cat "$tmp/storm.out")" "opened 256 closed_by_server 256"
expect_grep "slowloris storm: logged" "$log3" 'closed [0-9]+ connections? that sent no complete request within 4 s'

# one-click POSTs waiting on a write-locked database hold no HTTP thread:
# GETs are answered meanwhile; once the lock is gone every POST gets 200,
# the waiting ones in one transaction (group commit); 24 of the 32
# connections allowed per address, so that the GETs get in
for i in $(seq 24); do tok "gc$i@example.com" news > "$tmp/gc$i.tok"; done
lock_db "$db" "$tmp/locked"
posts=
for i in $(seq 24); do
	curl -s --max-time 40 -o /dev/null -w '%{http_code}\n' \
	    -A unsubd-test/gc -d 'List-Unsubscribe=One-Click' \
	    "$base3/u/$(cat "$tmp/gc$i.tok")" > "$tmp/gc$i.st" &
	posts="$posts $!"
done
sleep 1.5
st=$(curl -s --max-time 5 -o "$B" -w '%{http_code}' "$base3/u/$T_READER")
expect "GET /u while 24 POSTs wait on a locked database" "$st" 200
st=$(curl -s --max-time 5 -o "$B" -w '%{http_code}' "$base3/p/$T_READER")
expect "GET /p while 24 POSTs wait on a locked database" "$st" 200
expect_grep "GET /p while locked: the page" "$B" 'name="action" value="opt_out"'
unlock_db
wait $posts
expect "24 concurrent POSTs: all 200" "$(cat "$tmp"/gc*.st | sort | uniq -c | tr -s ' ')" " 24 200"
expect "24 concurrent POSTs: all opted out" "$(q "SELECT count(*) FROM subscriptions WHERE address LIKE 'gc%@example.com' AND list_id='news' AND status='opted_out'")" 24
expect "24 concurrent POSTs: one event each" "$(q "SELECT count(DISTINCT address)||'/'||count(*) FROM consent_events WHERE address LIKE 'gc%@example.com' AND event='opted_out' AND source='one-click' AND user_agent='unsubd-test/gc'")" 24/24
expect "24 concurrent POSTs: committed in batches, grouped" "$(sed -n 's/.*write batch n=\([0-9]*\) committed.*/\1/p' "$log3" | awk '{ n += $1; if ($1 > 1) b++ } END { print n "/" (b > 0 ? "grouped" : "one by one") }')" 24/grouped
# each answer only after a sync that covers its batch, one sync for all
# the batches committed while the one before it ran (unsubd_writer.c)
expect "24 concurrent POSTs: answered after syncs covering all 24" "$(sed -n 's/.*write sync batches=\([0-9]*\) n=\([0-9]*\) on disk.*/\1 \2/p' "$log3" | awk '{ b += $1; n += $2; s++ } END { print n "/" (s <= b ? "ok" : "more syncs than batches") }')" 24/ok
curl -s --max-time 5 "http://127.0.0.1:$mport3/metrics" > "$tmp/metrics3"
nb=$(sed -n 's/^optin_unsubd_write_batches_total{result="committed"} //p' "$tmp/metrics3")
ns=$(sed -n 's/^optin_unsubd_write_syncs_total{result="ok"} //p' "$tmp/metrics3")
expect "metrics: 24 jobs committed" "$(sed -n 's/^optin_unsubd_write_jobs_total{result="committed"} //p' "$tmp/metrics3")" 24
expect "metrics: grouped, in 1 to 23 batches, no more syncs than batches" "$([ "${nb:-0}" -ge 1 ] && [ "${nb:-0}" -le 23 ] && [ "${ns:-0}" -ge 1 ] && [ "${ns:-0}" -le "$nb" ] && echo yes)" yes
expect "metrics: nothing rolled back, no sync failed" "$(grep -c '^optin_unsubd_write_[a-z]*_total{result="\(rolled_back\|failed\)"} 0$' "$tmp/metrics3")" 3

# one address more than once in a batch (a user clicking twice, a link
# scanner beside the user): every POST 200, and one event per list, as
# when they come one by one.  The writer reads the opt-outs of a batch
# together (store_optout_state_batch), so an address already in the run
# starts the next run, which reads the first one's change.
tok dup@example.com news > "$tmp/dup.tok"
tok dup@example.com promo > "$tmp/dupp.tok"
dup_l0=$(wc -l < "$log3")
lock_db "$db" "$tmp/locked"
posts=
for t in dup dup dupp dup dupp; do
	curl -s --max-time 40 -o /dev/null -w '%{http_code}\n' \
	    -d 'List-Unsubscribe=One-Click' "$base3/u/$(cat "$tmp/$t.tok")" \
	    >> "$tmp/dup.st" &
	posts="$posts $!"
done
sleep 1.5
unlock_db
wait $posts
expect "one address 5 times in a batch: all 200" "$(sort "$tmp/dup.st" | uniq -c | tr -s ' ')" " 5 200"
expect "one address 5 times in a batch: one event per list" "$(q "SELECT count(*) FROM consent_events WHERE address='dup@example.com' AND event='opted_out' AND list_id='news'")/$(q "SELECT count(*) FROM consent_events WHERE address='dup@example.com' AND event='opted_out' AND list_id='promo'")" 1/1
expect "one address 5 times in a batch: opted out of both" "$(q "SELECT count(*) FROM subscriptions WHERE address='dup@example.com' AND status='opted_out'")" 2
tail -n +"$((dup_l0 + 1))" "$log3" > "$tmp/dup.log"
expect_grep "one address 5 times in a batch: grouped" "$tmp/dup.log" 'write batch n=[2-5] committed'

# the metrics endpoint (milter/util/prom_http.c, shared with optin-milter:
# tests/e2e/t-metrics.sh) against hostile clients
# (tests/lib/metrics_hostile.py): a raw NUL in the request target is 400,
# not /metrics; 8 idle connections that never send do not keep a scrape
# out, and are closed (PROM_TIMEOUT); 70 more, past the connection limit,
# make libmicrohttpd complain: debug lines, not warnings on stderr; 100
# slow clients (a header line every 3 s) are closed HTTPRequestTimeout
# (4 s here) after their accept, and a scrape waiting behind them gets its
# 200 (about 5 s); here the idle ones too are closed by that deadline,
# before the 5 s idle timeout, which tests/e2e/t-metrics.sh covers (6 s
# there)
$PY "$top_srcdir_t/tests/lib/metrics_hostile.py" "$mport3" > "$tmp/mhostile" 2>&1
expect "metrics: raw NUL in the target, 400; idle and slow clients keep no scrape out and are closed" \
    "$(cat "$tmp/mhostile")" "nul: HTTP/1.1 400 Bad Request
nul at end: HTTP/1.1 400 Bad Request
8 idle: HTTP/1.1 200 OK
idle closed: True
100 slow: HTTP/1.1 200 OK
slow closed: True"
# (this daemon has LogLevel debug)
expect "metrics: libmicrohttpd's messages are debug lines named by the key" \
    "$(grep -c '^warning: .*MetricsAddress' "$log3")|$(grep -c '^debug: UnsubscribeMetricsAddress: Server reached connection limit' "$log3" | sed 's/^[1-9][0-9]*$/some/')" "0|some"

# a failure inside a batch: every request of the batch gets 503, nothing
# of it is applied; the batch before it is not touched.  A trigger makes
# the failure, in each engine's syntax (on PostgreSQL the failing
# statement is the one of store_set_status since 1c1b68d: no savepoint,
# the error aborts the batch's transaction; this ran on SQLite only)
for i in $(seq 9); do tok "bt$i@example.com" news > "$tmp/bt$i.tok"; done
tok boom@example.com news > "$tmp/bt10.tok"
tok lead@example.com news > "$tmp/lead.tok"
if db_pgsql; then
	db_exec "$db" "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN IF NEW.address = 'boom@example.com' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END\$\$" \
	    "CREATE TRIGGER boom BEFORE INSERT ON consent_events FOR EACH ROW EXECUTE FUNCTION boom()"
else
	sqlite3 -cmd '.timeout 3000' "$db" "CREATE TRIGGER boom BEFORE INSERT ON consent_events WHEN NEW.address = 'boom@example.com' BEGIN SELECT RAISE(ABORT, 'boom'); END;"
fi
lock_db "$db" "$tmp/locked"
curl -s --max-time 40 -o /dev/null -w '%{http_code}' -d 'List-Unsubscribe=One-Click' \
    "$base3/u/$(cat "$tmp/lead.tok")" > "$tmp/lead.st" &
leadpid=$!
sleep 0.5		# the writer holds the lead's batch, waiting for the lock
posts=
for i in $(seq 10); do
	curl -s --max-time 40 -D "$tmp/bt$i.h" -o /dev/null -w '%{http_code}\n' \
	    -d 'List-Unsubscribe=One-Click' "$base3/u/$(cat "$tmp/bt$i.tok")" \
	    > "$tmp/bt$i.st" &
	posts="$posts $!"
done
sleep 1.5
unlock_db
wait $posts $leadpid
expect "batch before the failing one: 200" "$(cat "$tmp/lead.st")" 200
expect "batch before the failing one: applied" "$(q "SELECT status FROM subscriptions WHERE address='lead@example.com'")" opted_out
expect "failing batch: every request 503" "$(cat "$tmp"/bt*.st | sort | uniq -c | tr -s ' ')" " 10 503"
expect "failing batch: Retry-After" "$(cat "$tmp"/bt*.h | grep -c '^Retry-After: ')" 10
expect "failing batch: nothing applied" "$(q "SELECT count(*) FROM subscriptions WHERE (address LIKE 'bt%@example.com' OR address='boom@example.com') AND status='opted_out'")" 0
expect "failing batch: no event" "$(q "SELECT count(*) FROM consent_events WHERE (address LIKE 'bt%@example.com' OR address='boom@example.com') AND event='opted_out'")" 0
expect_grep "failing batch: logged" "$log3" 'write batch n=10 rolled back, answered 503: .*boom'
if db_pgsql; then
	db_exec "$db" "DROP TRIGGER boom ON consent_events"
else
	sqlite3 -cmd '.timeout 3000' "$db" "DROP TRIGGER boom"
fi
st=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -d 'List-Unsubscribe=One-Click' "$base3/u/$(cat "$tmp/bt1.tok")")
expect "after the failure: a retry gets 200" "$st" 200
expect "after the failure: applied" "$(q "SELECT status FROM subscriptions WHERE address='bt1@example.com'")" opted_out
kill -TERM "$pid"
wait "$pid"
pid=

# the sync to disk fails (EIO from fdatasync of the WAL: a shim, SQLite
# only): every request that sync covered gets 503 with Retry-After, never
# a 200; a retry gets 200 and the opt-out is there, with one event
if ! db_pgsql && cc -shared -fPIC -o "$tmp/failsync.so" \
    "$top_srcdir_t/tests/unsubd/failsync.c" -ldl 2>"$tmp/cc.err"; then
	for i in 0 1 2; do
		ctl subscribe "fs$i@example.com" news
		tok "fs$i@example.com" news > "$tmp/fs$i.tok"
	done
	FAILSYNC_FLAG=$tmp/failsync.flag LD_PRELOAD=$tmp/failsync.so \
	    start_unsubd "$tmp/wait.conf" "$tmp/failsync.log" "$base3"
	expect "failing sync: daemon listens" "$up" yes
	# one that syncs, so that the log's header is on disk (SQLite
	# syncs it in the commit that starts the log from its beginning)
	st=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' \
	    -d 'List-Unsubscribe=One-Click' "$base3/u/$(cat "$tmp/fs0.tok")")
	expect "failing sync: before the failure 200" "$st" 200
	: > "$tmp/failsync.flag"
	for i in 1 2; do
		curl -s --max-time 20 -D "$tmp/fs$i.h" -o /dev/null \
		    -w '%{http_code}\n' -d 'List-Unsubscribe=One-Click' \
		    "$base3/u/$(cat "$tmp/fs$i.tok")" > "$tmp/fs$i.st" &
		eval "fspid$i=\$!"
	done
	wait "$fspid1" "$fspid2"
	expect "failing sync: every request 503" "$(cat "$tmp"/fs1.st "$tmp"/fs2.st | tr '\n' ' ')" "503 503 "
	expect "failing sync: Retry-After" "$(cat "$tmp"/fs1.h "$tmp"/fs2.h | grep -c '^Retry-After: ')" 2
	# the syncer's fdatasync fails (or, when a checkpoint came between,
	# SQLite's own sync of a new log's header in the commit)
	expect_grep "failing sync: logged" "$tmp/failsync.log" 'write (sync batches=[0-9]+ n=[12] failed|batch n=[12] rolled back), answered 503: .*(fdatasync of .*-wal: Input/output error|COMMIT: disk I/O error)'
	expect "failing sync: no 200 logged but the first" "$(grep -c 'unsubscribe scope=list list=news .*source=one-click' "$tmp/failsync.log")" 1
	rm -f "$tmp/failsync.flag"
	for i in 1 2; do
		st=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' \
		    -d 'List-Unsubscribe=One-Click' "$base3/u/$(cat "$tmp/fs$i.tok")")
		expect "failing sync: retry $i gets 200" "$st" 200
	done
	expect "failing sync: opted out after the retries, one event each" "$(q "SELECT count(DISTINCT s.address)||'/'||count(*) FROM subscriptions s JOIN consent_events e ON e.address = s.address AND e.event = 'opted_out' WHERE s.address LIKE 'fs_@example.com' AND s.status = 'opted_out'")" 3/3
	kill -TERM "$pid"
	wait "$pid"
	pid=
elif ! db_pgsql; then
	skipped "failing sync: cannot build the shim: $(head -n 1 "$tmp/cc.err")"
fi
# the checkpointer (SQLite): one opt-out and then silence still reaches
# the database file itself, not only its log, within about STORE_TRIM_MS
# (1 s); the copy of the file alone, without the -wal beside it, says so
if ! db_pgsql; then
	ctl subscribe ck1@example.com news
	tok ck1@example.com news > "$tmp/ck1.tok"
	start_unsubd "$tmp/wait.conf" "$tmp/ckpt.log" "$base3"
	expect "checkpoint: daemon listens" "$up" yes
	st=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' \
	    -d 'List-Unsubscribe=One-Click' "$base3/u/$(cat "$tmp/ck1.tok")")
	expect "checkpoint: the opt-out answered" "$st" 200
	ckst=
	for _ in $(seq 50); do
		rm -f "$tmp/main-only.db"*
		cp "$db" "$tmp/main-only.db"
		ckst=$(sqlite3 "$tmp/main-only.db" "SELECT status FROM
		    subscriptions WHERE address = 'ck1@example.com'" 2>/dev/null)
		[ "$ckst" = opted_out ] && break
		sleep 0.1
	done
	expect "checkpoint: the opt-out is in the database file within 5 s" \
	    "$ckst" opted_out
	kill -TERM "$pid"
	wait "$pid"
	pid=
fi
# what an opt-out starts from (store_optout_state), on both engines; a
# file that does not parse would skip its checks unseen: a failure
if err=$(bash -n "$top_srcdir_t/tests/unsubd/t-optout-state.sh" 2>&1); then
	. "$top_srcdir_t/tests/unsubd/t-optout-state.sh"
else
	nok "t-optout-state.sh does not parse: $err"
fi
[ "$skip" -gt 0 ] && echo "($skip skipped)" >&2
finish
