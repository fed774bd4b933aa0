#!/bin/bash
# t-unsub-browser.sh - one-click unsubscribe in a real browser, end to end:
# a campaign goes through the real Postfix and optin-milter to the sink; the
# http URL from its List-Unsubscribe header is fetched 30 times with GET and
# 30 times with HEAD (a link scanner: the database must not change), then
# opened in headless Chromium (Debian's /usr/bin/chromium driven by
# playwright-core, tests/e2e/browser/unsub.js), which screenshots the page
# and presses "Unsubscribe from LIST".  Then the database must show the
# opt-out with a consent_events row (source web, the browser's user agent),
# and the next campaign to that address must be quarantined as opted_out.
# Then a page of another origin (http://evil.test, served inside the
# browser) posts "subscribe again" with the token and a fresh CSRF mark:
# 403, nothing changes; the preferences page's own button works.
#
# Needs chromium, node and npm (contrib/deps.sh); without them the test
# fails, it does not skip.  Runs "npm ci" in tests/e2e/browser when its
# node_modules is missing (npm registry).  Screenshots stay in the test's
# base directory (kept with E2E_KEEP=1, which also copies the page to
# tests/e2e/browser/last-unsubscribe.png; never commit it).

. "$(dirname "$0")/lib.sh"
e2e_init t-unsub-browser
. "$(dirname "$0")/optin-setup.sh"

BROWSER_DIR=$E2E_HERE/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
LISTNAME="Example News"

# ---------------------------------------------------------------- tools
optin_need_cmds node npm curl
if [ ! -x "$CHROMIUM" ]; then
	e2e_fail "chromium installed" "$CHROMIUM missing: run contrib/deps.sh"
	e2e_done
fi
optin_need_built "$OPTIN_MILTER" "$OPTINCTL" "$OPTIN_UNSUBD"
if [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ]; then
	e2e_log "npm ci in $BROWSER_DIR"
	if ! (cd "$BROWSER_DIR" && timeout 90 npm ci --no-audit --no-fund \
	    --loglevel=error) >"$PF_BASE/npm.log" 2>&1; then
		cat "$PF_BASE/npm.log" >&2
		e2e_fail "npm ci (playwright-core)" "see the npm output above"
		e2e_done
	fi
fi
e2e_ok "chromium, node and playwright-core present"

# ---------------------------------------------------------------- setup
optin_unsub_setup t-unsub-browser
UNSUBD_LOG=$PF_BASE/unsubd.log

optin_ctl init && optin_ctl list add news --name "$LISTNAME" &&
    optin_ctl subscribe ann@example.com news && optin_ctl token newkey
optin_ctl_ok $? "optinctl builds the database and the token key"
e2e_check_eq "token key file mode" "$(stat -c %a "$PF_BASE/token.keys")" 600

"$OPTIN_UNSUBD" -f -c "$CONF" >>"$UNSUBD_LOG" 2>&1 </dev/null &
UNSUBD_PID=$!
e2e_track_pid "$UNSUBD_PID"
if ! e2e_wait_port "$HTTP_PORT" 10; then
	cat "$UNSUBD_LOG" >&2
	e2e_fail "optin-unsubd listens on 127.0.0.1:$HTTP_PORT"
	e2e_done
fi
milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }
if [ "$(pf_sendmail_command)" != "/usr/sbin/sendmail -C $PF_BASE/conf -i" ]; then
	e2e_fail "SendmailCommand matches pf_sendmail_command" \
	    "$(pf_sendmail_command)"
fi
e2e_ok "optin-unsubd, milter, postfix and sink start"

# campaign N - a small campaign message from news@example.com to ann
campaign()
{
	local f=$PF_BASE/campaign$1.eml
	printf '%s\r\n' "From: Example Shop <news@example.com>" \
	    "To: Ann <ann@example.com>" "Subject: Example News $1" \
	    "Date: $(date -R)" \
	    "Message-ID: <browser-campaign-$1.$$@example.com>" \
	    "MIME-Version: 1.0" "Content-Type: text/plain; charset=utf-8" "" \
	    "Spring offers, issue $1." > "$f"
	pf_send news@example.com ann@example.com "$f" >/dev/null
}

# ---------------------------------------------------------------- campaign 1
campaign 1
e2e_check_eq "campaign 1 accepted by postfix" "$?" 0
pf_wait_empty 30
sink_wait_count 1 20
files=$(sink_find Subject "Example News 1")
e2e_check_eq "campaign 1 delivered once" "$(printf '%s' "$files" | grep -c .)" 1
f=$(printf '%s\n' "$files" | head -n 1)
if [ -z "$f" ]; then
	cat "$MILTER_LOG" >&2
	e2e_done
fi
LU=$(sink_header "$f" List-Unsubscribe)
e2e_log "List-Unsubscribe: $LU"
e2e_check_eq "List-Unsubscribe-Post" \
    "$(sink_header "$f" List-Unsubscribe-Post)" "List-Unsubscribe=One-Click"
# URL between <> ; white space inside the brackets is folding, not URL
URL=$(printf '%s' "$LU" | tr -d ' \t' | grep -o '<http[^>]*>' | head -n 1 |
    tr -d '<>')
case $URL in
http://127.0.0.1:$HTTP_PORT/u/?*)
	e2e_ok "List-Unsubscribe has the http URL" ;;
*)
	e2e_fail "List-Unsubscribe has the http URL" "got '$URL' from '$LU'"
	e2e_done ;;
esac

# ---------------------------------------------------------------- scanner
dump_before=$(db_dump "$DB")
codes=$PF_BASE/scanner.codes
: > "$codes"
for i in $(seq 30); do
	curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' \
	    -A "LinkScanner/$i (safe-links)" "$URL" >>"$codes"
	curl -s -o /dev/null --max-time 10 --head -w '%{http_code}\n' \
	    -A "LinkScanner/$i (preview)" "$URL" >>"$codes"
done
e2e_check_eq "link scanner: 30 GET and 30 HEAD answered 200" \
    "$(grep -cx 200 "$codes")" 60
e2e_check "link scanner: the database did not change" \
    test "$dump_before" = "$(db_dump "$DB")"
e2e_check_eq "link scanner: ann still opted in" \
    "$(optin_q "SELECT status FROM subscriptions WHERE address='ann@example.com' AND list_id='news'")" \
    opted_in

# ---------------------------------------------------------------- browser
OUT=$PF_BASE/browser
mkdir -p "$OUT"

# browser_run NAME [PHASE] - run unsub.js (PHASE: see there) with a time
# limit; its JSON in $OUT/NAME.json, which r reads from now on
browser_run()
{
	local rc
	RESULT=$OUT/$1.json
	timeout -k 5 90 node "$BROWSER_DIR/unsub.js" "$URL" "$LISTNAME" "$OUT" \
	    ${2:+"$2"} >"$RESULT" 2>"$OUT/$1.stderr"
	rc=$?
	# a browser left behind (node killed by the timeout): stop it by PID
	for d in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null < "$d/cmdline" | grep -qF -- "$OUT/profile-" &&
		    e2e_kill_pid "${d#/proc/}"
	done
	e2e_check_eq "browser run $1: exit status" "$rc" 0
	if [ ! -s "$RESULT" ]; then
		cat "$OUT/$1.stderr" >&2
		e2e_fail "browser run $1 printed its result"
		e2e_done
	fi
	if [ "$rc" != 0 ]; then
		e2e_log "browser error: $(cat "$RESULT")"
		tail -n 20 "$OUT/$1.stderr" >&2
	fi
}
browser_run result

# r PATH - one value of the browser's JSON result (dotted path)
r()
{
	"$PY" -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
	v = v.get(k) if isinstance(v, dict) else None
if isinstance(v, bool):
	v = "true" if v else "false"
elif isinstance(v, list):
	v = "\n".join(map(str, v))
print("" if v is None else v)' "$RESULT" "$1"
}

e2e_check_eq "browser: GET status" "$(r getStatus)" 200
e2e_check "browser: screenshot saved" test -s "$OUT/unsubscribe.png"
e2e_check "browser: phone-width screenshot saved" test -s "$OUT/phone.png"
e2e_check_eq "browser: page title" "$(r before.title)" "Unsubscribe"
e2e_check "browser: page names the list" \
    grep -qF "mailing list $LISTNAME." <<<"$(r before.text)"
e2e_check "browser: page names the organisation" \
    grep -qF "Example Shop" <<<"$(r before.text)"
e2e_check "browser: list button shown" \
    grep -qxF "Unsubscribe from $LISTNAME" <<<"$(r before.buttons)"
e2e_check "browser: everything button shown" \
    grep -qxF "Unsubscribe from everything" <<<"$(r before.buttons)"
e2e_check_eq "browser: style applied (CSP hash accepted)" "$(r before.styled)" true
e2e_check_eq "browser: no console errors (CSP, scripts)" "$(r consoleErrors)" ""
e2e_check_eq "browser: no horizontal overflow at 1024 px" \
    "$(r before.overflowX)" false
e2e_check_eq "browser: no horizontal overflow at 360 px" \
    "$(r phone.overflowX)" false
e2e_check_eq "browser: first Tab focuses the list button" \
    "$(r firstFocus)" "BUTTON Unsubscribe from $LISTNAME"
e2e_check "browser: no request leaves 127.0.0.1:$HTTP_PORT" \
    test -z "$(r requests | grep -v " http://127.0.0.1:$HTTP_PORT/")"
e2e_check_eq "browser: exactly one list button" "$(r buttonCount)" 1
# the page's form carries its CSRF mark (optin-unsubd(8), FORMS)
e2e_check "browser: form POST body is csrf=T.MAC&action=list" \
    grep -qxE 'csrf=[0-9]+\.[0-9a-f]{64}&action=list' <<<"$(r postBody)"
e2e_check_eq "browser: POST status" "$(r postStatus)" 200
e2e_check_eq "browser: no redirect after POST" "$(r afterUrl)" "$URL"
e2e_check_eq "browser: confirmation title" "$(r after.title)" \
    "You are unsubscribed"
e2e_check "browser: confirmation names the list" \
    grep -qF "You will receive no more mail from the list $LISTNAME." \
    <<<"$(r after.text)"
e2e_check "browser: confirmation screenshot saved" test -s "$OUT/confirmation.png"
UA=$(r before.userAgent)
e2e_log "user agent: $UA"
if [ "${E2E_KEEP:-0}" = 1 ] && [ -s "$OUT/unsubscribe.png" ]; then
	cp "$OUT/unsubscribe.png" "$BROWSER_DIR/last-unsubscribe.png"
	e2e_log "screenshots in $OUT, copy in $BROWSER_DIR/last-unsubscribe.png"
fi

# ---------------------------------------------------------------- database
e2e_check_eq "db: ann opted out of news" \
    "$(optin_q "SELECT status FROM subscriptions WHERE address='ann@example.com' AND list_id='news'")" \
    opted_out
e2e_check_eq "db: one opt-out event, source web, from 127.0.0.1" \
    "$(optin_q "SELECT count(*)||'|'||source||'|'||remote_addr FROM consent_events WHERE address='ann@example.com' AND list_id='news' AND event='opted_out' GROUP BY source, remote_addr")" \
    "1|web|127.0.0.1"
ev_ua=$(optin_q "SELECT user_agent FROM consent_events WHERE address='ann@example.com' AND list_id='news' AND event='opted_out'")
e2e_check "db: event user agent is the browser's (Chrome)" \
    grep -qE 'HeadlessChrome/|Chrome/' <<<"$ev_ua"
e2e_check_eq "db: event user agent equals navigator.userAgent" "$ev_ua" "$UA"
e2e_check_eq "db: no global suppression" \
    "$(optin_q "SELECT count(*) FROM suppressions WHERE address='ann@example.com'")" 0

# ---------------------------------------------------------------- campaign 2
campaign 2
e2e_check_eq "campaign 2 accepted by postfix" "$?" 0
pf_wait_empty 30
e2e_wait_for 10 test -n "$(optin_q "SELECT 1 FROM quarantine WHERE recipient='ann@example.com' AND reason='opted_out'")"
sleep 1
e2e_check_eq "campaign 2 not delivered" \
    "$(sink_find Subject "Example News 2" | grep -c .)" 0
e2e_check_eq "campaign 2 quarantined as opted_out" \
    "$(optin_q "SELECT count(*)||'|'||list_id FROM quarantine WHERE recipient='ann@example.com' AND reason='opted_out' GROUP BY list_id")" \
    "1|news"
spool=$(optin_q "SELECT spool_file FROM quarantine WHERE recipient='ann@example.com' AND reason='opted_out'")
case $spool in /*) ;; *) spool=$QDIR/$spool ;; esac
e2e_check "quarantined copy is campaign 2" grep -q "Example News 2" "$spool"
e2e_check_eq "only campaign 1 ever reached the sink" "$(sink_count)" 1

# ---------------------------------------------------------------- subscribe again
# Another site holding the token and a fresh CSRF mark posts "subscribe
# again" from the browser: refused.  The preferences' own button works.
browser_run resub resubscribe
e2e_check_eq "preferences: GET status" "$(r prefsStatus)" 200
e2e_check_eq "preferences: title" "$(r prefs.title)" "Your subscriptions"
e2e_check_eq "preferences: forms carry a CSRF mark" "$(r csrfShape)" true
e2e_check_eq "cross-site re-subscribe: refused" "$(r crossStatus)" 403
# (playwright does not report Sec-Fetch-Site; the server's log does)
e2e_check "cross-site re-subscribe: logged with the browser's headers" \
    grep -qE 'refused route=p action=opt_in reason=cross_site origin=http://evil.test fetch_site=cross-site ' \
    "$UNSUBD_LOG"
e2e_check_eq "preferences: one 'Subscribe again' button" \
    "$(r resubButtonCount)" 1
e2e_check "preferences: re-subscribe body" \
    grep -qxE 'csrf=[0-9]+\.[0-9a-f]{64}&list=news&action=opt_in' \
    <<<"$(r resubBody)"
e2e_check_eq "preferences: re-subscribe status" "$(r resubStatus)" 200
e2e_check "preferences: re-subscribe notice" \
    grep -qF "You are subscribed to that list again." <<<"$(r resubAfter.text)"
e2e_check "preferences: no request leaves 127.0.0.1:$HTTP_PORT" \
    test -z "$(r requests | grep -v " http://127.0.0.1:$HTTP_PORT/")"
e2e_check_eq "db: ann opted in again, once, by the browser" \
    "$(optin_q "SELECT status FROM subscriptions WHERE address='ann@example.com' AND list_id='news'")|$(optin_q "SELECT count(*)||'|'||source FROM consent_events WHERE address='ann@example.com' AND list_id='news' AND event='opted_in' AND source='web' GROUP BY source")" \
    "opted_in|1|web"
e2e_check_eq "db: the re-subscribe's user agent is the browser's" \
    "$(optin_q "SELECT user_agent FROM consent_events WHERE address='ann@example.com' AND event='opted_in' AND source='web'")" "$UA"

kill -0 "$UNSUBD_PID" 2>/dev/null
e2e_check_eq "optin-unsubd still running" "$?" 0
e2e_done
