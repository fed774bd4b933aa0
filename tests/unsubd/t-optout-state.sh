# t-optout-state.sh - what an opt-out starts from (sourced by run.sh, with
# its helpers, after every daemon before it has stopped): the one read of
# store_optout_state() (erased?, the row, the list's name), seen over HTTP.
# An erased person stays erased whatever made the erased form (the newest
# ErasureKeyFile key, an older one, a legacy "hmac:" form of a token key),
# for one list and for scope=all: 200, nothing written, no address logged.
# The page names the list by its display name (escaped, cut to the page's
# room on a character boundary), else its id; a list gone since its token
# is 400 with nothing written.  A failing read
# (SQLite and PostgreSQL; PostgreSQL stopped) is 503 with nothing written
# and a retry works; erased forms kept while ErasureKeyFile is not set
# are 503 too (never a silent "not erased").

oo_conf=$tmp/oo.conf
oo_log=$tmp/oo.log
marks="$PY $top_srcdir_t/tests/milter/marks.py"

# nothing_of LABEL ADDR - no row of any table names ADDR
nothing_of() {
	expect "$1" "$(q "SELECT (SELECT count(*) FROM subscriptions WHERE address='$2') + (SELECT count(*) FROM consent_events WHERE address='$2') + (SELECT count(*) FROM suppressions WHERE address='$2')")" 0
}

# erased before the rotation of ErasureKeyFile (key 1), then key 2 added
for a in oldkey oldall newkey legacy; do ctl subscribe "$a@example.com" news; done
T_OLDKEY=$(tok oldkey@example.com news)
T_OLDALL=$(tok oldall@example.com news)
T_NEWKEY=$(tok newkey@example.com news)
T_LEGACY=$(tok legacy@example.com news)
ctl forget oldkey@example.com
ctl forget oldall@example.com
{ cat "$tmp/erasure"; printf '2 %s\n' "$(head -c 32 /dev/urandom | base64)"; } \
    > "$tmp/erasure2"
chmod 0600 "$tmp/erasure2"
sed "s|^ErasureKeyFile .*|ErasureKeyFile $tmp/erasure2|" "$conf" > "$oo_conf"
"$OPTINCTL" -c "$oo_conf" forget newkey@example.com >/dev/null 2>>"$tmp/ctl.err"
expect "erased forms of key 1 and key 2" "$(q "SELECT group_concat(substr(address, 1, 9), ' ') FROM (SELECT address FROM suppressions WHERE reason='erased' AND address LIKE 'erased:%' ORDER BY address) AS e")" \
    "erased:1: erased:1: erased:1: erased:2:"
# a legacy form ("hmac:", before ErasureKeyFile, token key 1), as a
# forget of an older version left it
leg=$($marks legacy "$tmp/keys" 1 legacy@example.com)
db_exec "$db" "DELETE FROM consent_events WHERE address='legacy@example.com'" \
    "DELETE FROM subscriptions WHERE address='legacy@example.com'" \
    "INSERT INTO suppressions (address, reason, created_at) VALUES ('$leg', 'erased', 1700000000)"

# suppressed (scope=all before), and lists whose names test the page
ctl subscribe supall@example.com news
ctl unsubscribe supall@example.com --all
T_SUPALL=$(tok supall@example.com news)
ctl list add html --name "<b>\"Tom's\" & Co</b>"
ctl list add long
ctl list add empty
ctl list add gone
ctl list add ctrl
ctl list add bad8
for l in html long empty ctrl bad8; do ctl subscribe "n-$l@example.com" "$l"; done
T_HTML=$(tok n-html@example.com html)
T_LONG=$(tok n-long@example.com long)
T_EMPTY=$(tok n-empty@example.com empty)
T_GONE=$(tok n-gone@example.com gone)
T_CTRL=$(tok n-ctrl@example.com ctrl)
T_BAD8=$(tok n-bad8@example.com bad8)
q "UPDATE lists SET name='A"$'\e'"[31mB"$'\a'"C"$'\302\233'"D"$'\302\205\303\251'"' WHERE list_id='ctrl'" >/dev/null
long=$($PY -c 'print("\u00e9" * 150)')		# 300 bytes of UTF-8
q "UPDATE lists SET name='$long' WHERE list_id='long'" >/dev/null
q "UPDATE lists SET name='' WHERE list_id='empty'" >/dev/null
q "DELETE FROM lists WHERE list_id='gone'" >/dev/null
ctl subscribe r1@example.com news
T_R1=$(tok r1@example.com news)

start_unsubd "$oo_conf" "$oo_log" "$base"
expect "optout state: daemon listens" "$up" yes

# one_click_erased LABEL TOKEN ADDR - 200, nothing written, logged as
# erased without the address
one_click_erased() {
	st=$(req POST "/u/$2" -d 'List-Unsubscribe=One-Click')
	expect "$1: 200" "$st" 200
	nothing_of "$1: nothing written" "$3"
	expect_nogrep "$1: no address logged" "$oo_log" "$3"
}
one_click_erased "erased with the newest key" "$T_NEWKEY" newkey@example.com
one_click_erased "erased with an older key" "$T_OLDKEY" oldkey@example.com
one_click_erased "erased in a legacy form" "$T_LEGACY" legacy@example.com
expect "erased: every one logged as such" "$(grep -c 'unsubscribe scope=list list=news addr=(erased) .*changed=no' "$oo_log")" 3
expect "legacy form kept" "$(q "SELECT count(*) FROM suppressions WHERE address='$leg'")" 1
# scope=all (the page's form) for a person erased with an older key
st=$(req POST "/u/$T_OLDALL" "${SAME[@]}" \
    -d "action=all&csrf=$(csrf_of u "$T_OLDALL")")
expect "scope=all, erased with an older key: 200" "$st" 200
nothing_of "scope=all, erased with an older key: nothing written" oldall@example.com
expect_grep "scope=all, erased: logged as erased" "$oo_log" 'unsubscribe scope=all list=news addr=\(erased\) .*changed=no'
# scope=all for a suppressed person: nothing new
st=$(req POST "/u/$T_SUPALL" "${SAME[@]}" \
    -d "action=all&csrf=$(csrf_of u "$T_SUPALL")")
expect "scope=all, suppressed: 200" "$st" 200
expect "scope=all, suppressed: one suppression, one event" "$(q "SELECT (SELECT reason FROM suppressions WHERE address='supall@example.com')||'|'||(SELECT count(*) FROM consent_events WHERE address='supall@example.com' AND event='suppressed')")" "unsubscribed_all|1"
expect_grep "scope=all, suppressed: unchanged" "$oo_log" 'unsubscribe scope=all list=news addr=<supall@example.com> .*changed=no'
# ...and one list still works for them
st=$(req POST "/u/$T_SUPALL" -d 'List-Unsubscribe=One-Click')
expect "one list, suppressed: opted out" "$st|$(q "SELECT status FROM subscriptions WHERE address='supall@example.com'")" "200|opted_out"

# the page names the list
st=$(req POST "/u/$T_HTML" -d 'List-Unsubscribe=One-Click')
expect "a name with HTML: escaped" "$st|$(grep -c '<strong>&lt;b&gt;&quot;Tom&#39;s&quot; &amp; Co&lt;/b&gt;</strong>' "$B")" "200|1"
# a name written with SQL that holds control bytes: U+FFFD on the page
st=$(req POST "/u/$T_CTRL" -d 'List-Unsubscribe=One-Click')
fffd=$($PY -c 'print("\ufffd")')
expect "a name with control bytes (C0 and C1): U+FFFD" "$st|$(grep -c "<strong>A$fffd\[31mB${fffd}C${fffd}D$fffd$($PY -c 'print("\u00e9")')</strong>" "$B")" "200|1"
# a name written with SQL that is not UTF-8 (SQLite keeps any bytes;
# PostgreSQL refuses them): each maximal invalid subpart is one U+FFFD
# (Unicode 15 §3.9), on the one-click answer and the page before it
if ! db_pgsql; then
	# A, lone 0xff, B, E2 82 cut short, C, overlong C0 AF, D, a surrogate
	# ED A0 80, E, F0 9F 98 cut short, then U+00E9
	q "UPDATE lists SET name=CAST(X'41ff42e28243c0af44eda08045f09f98c3a9' AS TEXT) WHERE list_id='bad8'" >/dev/null
	want="A${fffd}B${fffd}C$fffd${fffd}D$fffd$fffd${fffd}E$fffd$($PY -c 'print("\u00e9")')"
	for m in POST GET; do
		if [ $m = POST ]; then st=$(req POST "/u/$T_BAD8" -d 'List-Unsubscribe=One-Click')
		else st=$(req GET "/u/$T_BAD8"); fi
		expect "a name not UTF-8 ($m): U+FFFD, valid UTF-8" "$st|$($PY -c '
import re, sys
b = open(sys.argv[1], "rb").read()
try:
    b.decode("utf-8")
    print(re.search(rb"<strong>(.*?)</strong>", b).group(1).decode())
except UnicodeDecodeError as e:
    print("bad UTF-8: %s" % e)' "$B")" "200|$want"
	done
fi
st=$(req POST "/u/$T_EMPTY" -d 'List-Unsubscribe=One-Click')
expect "an empty name: the id" "$st|$(grep -c '<strong>empty</strong>' "$B")" "200|1"
st=$(req POST "/u/$T_LONG" -d 'List-Unsubscribe=One-Click')
expect "a name of 300 bytes: 200, opted out" "$st|$(q "SELECT status FROM subscriptions WHERE address='n-long@example.com'")" "200|opted_out"
expect "a name of 300 bytes: cut at a character, valid UTF-8" "$($PY -c '
import re, sys
b = open(sys.argv[1], "rb").read()
m = re.search(rb"<strong>(.*?)</strong>", b)
try:
    s = m.group(1).decode("utf-8")
    print("%d %s" % (len(s), "".join(sorted(set(s)))))
except UnicodeDecodeError as e:
    print("bad UTF-8: %s" % e)' "$B")" "127 $($PY -c 'print("\u00e9")')"
st=$(req GET "/u/$T_LONG")
expect "a name of 300 bytes: the page before, valid UTF-8" "$st|$($PY -c '
import sys
try:
    open(sys.argv[1], "rb").read().decode("utf-8")
    print("ok")
except UnicodeDecodeError as e:
    print("bad UTF-8: %s" % e)' "$B")" "200|ok"
st=$(req POST "/u/$T_GONE" -d 'List-Unsubscribe=One-Click')
expect "a list gone since its token: 400" "$st" 400
nothing_of "a list gone since its token: nothing written" n-gone@example.com

# a failing read (the table of erased forms gone): 503, nothing written,
# and a retry works once it is back
db_exec "$db" "ALTER TABLE suppressions RENAME TO suppressions_away"
st=$(req POST "/u/$T_R1" -d 'List-Unsubscribe=One-Click')
expect "read fails: 503" "$st" 503
expect "read fails: nothing written" "$(q "SELECT s.status||'|'||(SELECT count(*) FROM consent_events e WHERE e.address=s.address AND e.event='opted_out') FROM subscriptions s WHERE s.address='r1@example.com'")" "opted_in|0"
db_exec "$db" "ALTER TABLE suppressions_away RENAME TO suppressions"
st=$(req POST "/u/$T_R1" -d 'List-Unsubscribe=One-Click')
expect "read fails: the retry" "$st|$(q "SELECT status FROM subscriptions WHERE address='r1@example.com'")" "200|opted_out"
kill -TERM "$pid"
wait "$pid"
pid=

# erased forms kept while ErasureKeyFile is not set: 503, never a silent
# "not erased" (and so nothing written for anyone)
grep -v '^ErasureKeyFile' "$oo_conf" > "$tmp/oo-nokey.conf"
ctl subscribe r2@example.com news
T_R2=$(tok r2@example.com news)
start_unsubd "$tmp/oo-nokey.conf" "$tmp/oo-nokey.log" "$base"
expect "no ErasureKeyFile: daemon listens" "$up" yes
st=$(req POST "/u/$T_OLDKEY" -d 'List-Unsubscribe=One-Click')
expect "no ErasureKeyFile, an erased person: 503" "$st" 503
nothing_of "no ErasureKeyFile, an erased person: nothing written" oldkey@example.com
st=$(req POST "/u/$T_R2" -d 'List-Unsubscribe=One-Click')
expect "no ErasureKeyFile, anyone: 503" "$st" 503
expect "no ErasureKeyFile, anyone: nothing written" "$(q "SELECT status FROM subscriptions WHERE address='r2@example.com'")" opted_in
expect_grep "no ErasureKeyFile: logged why" "$tmp/oo-nokey.log" 'ErasureKeyFile, which is not loaded'
kill -TERM "$pid"
wait "$pid"
pid=

# PostgreSQL stopped mid-run: 503, nothing written; once it is back the
# retry is answered and in the database
if db_pgsql; then
	start_unsubd "$oo_conf" "$oo_log" "$base"
	pg_halt
	st=$(req POST "/u/$T_R2" -d 'List-Unsubscribe=One-Click')
	expect "PostgreSQL stopped: 503" "$st" 503
	pg_resume || nok "PostgreSQL starts again"
	expect "PostgreSQL stopped: nothing written" "$(q "SELECT status FROM subscriptions WHERE address='r2@example.com'")" opted_in
	st=$(req POST "/u/$T_R2" -d 'List-Unsubscribe=One-Click')
	expect "PostgreSQL back: the retry" "$st|$(q "SELECT status FROM subscriptions WHERE address='r2@example.com'")" "200|opted_out"
	kill -TERM "$pid"
	wait "$pid"
	pid=
fi
