# t-quarantine.sh - optinctl quarantine list|show|release|delete|purge
# (sourced by run.sh).  Rows are written as the milter writes them; release
# goes through a fake SendmailCommand that records arguments and input.

new_db quar

sa=20231114-221320-Q1-aaaa.eml
printf 'From: News <news@example.com>\r\nTo: ann@example.com, bob@example.com\r\nSubject: Spring\r\n sale\r\n\r\nBody line\r\n' > "$qdir/$sa"
printf 'From: promo@example.com\r\nSubject: x\r\n\r\ny\r\n' > "$qdir/20991231-000000-Q3-bbbb.eml"
echo "not quarantine" > "$tmp/victim"
qrow 1 news@example.com ann@example.com news no_consent $sa 1700000000
qrow 2 news@example.com bob@example.com news pending $sa 1700000000
qrow 3 promo@example.com cy@example.com promo opted_out 20991231-000000-Q3-bbbb.eml 4102444800
qrow 4 news@example.com dee@example.com news no_consent ../victim 1700000000

# --- list ---------------------------------------------------------------------

hdr="ID     QUEUE_ID     RECEIVED             REASON          LIST         SENDER RECIPIENT"
r1="1      Q1           2023-11-14T22:13:20Z no_consent      news         <news@example.com> <ann@example.com>"
r2="2      Q2           2023-11-14T22:13:20Z pending         news         <news@example.com> <bob@example.com>"
r3="3      Q3           2100-01-01T00:00:00Z opted_out       promo        <promo@example.com> <cy@example.com>"
r4="4      Q4           2023-11-14T22:13:20Z no_consent      news         <news@example.com> <dee@example.com>"
check "quarantine list" 0 "$hdr
$r1
$r2
$r3
$r4" quarantine list
check "quarantine list --reason" 0 "$hdr
$r2" quarantine list --reason pending
check "quarantine list --reason resubmit_failed" 0 "$hdr" \
    quarantine list --reason resubmit_failed
for word in spam deliver No_Consent ''; do
	check_err "quarantine list --reason '$word'" 64 \
	    "optinctl quarantine: unknown reason '$word' (suppressed, opted_out, pending, no_consent, resubmit_failed, handover_unknown, line_too_long, no_signing_key)" \
	    quarantine list --reason "$word"
done
check "quarantine list --list" 0 "$hdr
$r3" quarantine list --list promo
check "quarantine list --sender (normalised)" 0 "$hdr
$r3" quarantine list --sender "<Promo@Example.COM>"
check "quarantine list --older-than" 0 "$hdr
$r1
$r2
$r4" quarantine list --older-than 1d
check_err "quarantine list bad age" 64 \
    "optinctl quarantine: bad --older-than '3x' (e.g. 3600, 12h, 30d, 2w)" \
    quarantine list --older-than 3x
check_json "quarantine list --json" 0 \
    '[(q["id"], q["recipient"], q["reason"], q["released_at"]) for q in d["quarantine"]] == [(1, "ann@example.com", "no_consent", None), (2, "bob@example.com", "pending", None), (3, "cy@example.com", "opted_out", None), (4, "dee@example.com", "no_consent", None)] and d["quarantine"][0]["spool_file"] == "'$sa'" and d["quarantine"][0]["received_at"] == 1700000000' \
    --json quarantine list

# --- show ---------------------------------------------------------------------

check "quarantine show" 0 "id: 1
queue_id: Q1
message_id: <m1@example.com>
sender: <news@example.com>
recipient: <ann@example.com>
list: news
reason: no_consent
decision now: no_consent
received: 2023-11-14T22:13:20Z
released: -
spool_file: $sa

From: News <news@example.com>
To: ann@example.com, bob@example.com
Subject: Spring
 sale" quarantine show 1
check_json "quarantine show --json" 0 \
    'd["id"] == 1 and d["decision"] == "no_consent" and d["headers"] == "From: News <news@example.com>\r\nTo: ann@example.com, bob@example.com\r\nSubject: Spring\r\n sale\r\n" and d["sender"] == "news@example.com"' \
    quarantine show 1 --json
run quarantine show 4
if [ "$rc" = 65 ] && [ "$err" = "optinctl quarantine: bad spool file name in the quarantine table: not opened" ] && \
    printf '%s\n' "$out" | grep -q '^spool_file: \.\./victim$'
then ok; else bad "quarantine show: a spool name that leaves the directory" "rc $rc" "err: $err"; fi
check_err "quarantine show unknown row" 65 "optinctl quarantine: no row 99" quarantine show 99
check_err "quarantine show bad id" 64 \
    "optinctl quarantine: bad ID '../1' (a row number from quarantine list)" quarantine show ../1

# --- release --------------------------------------------------------------------

rm -f "$tmp/sm.args" "$tmp/sm.in"
check_err "release: recipient not opted in" 65 \
    "optinctl quarantine release: row 1: recipient <ann@example.com> on list news: no_consent (--force releases it anyway)" \
    quarantine release 1
if [ ! -e "$tmp/sm.args" ]; then ok; else bad "refused release sent nothing"; fi
"$OPTINCTL" -c "$conf" subscribe ann@example.com news >/dev/null
check "release after opt-in" 0 "released 1 to <ann@example.com>" quarantine release 1
if [ "$(cat "$tmp/sm.args" 2>/dev/null)" = "-i
-f
news@example.com
--
ann@example.com" ] &&
    head -n 1 "$tmp/sm.in" | grep -qE "^X-Optin-Release: v=2; q=Q1; id=1; t=[0-9]+; x=[0-9]+; list=news; mac=[0-9a-f]{64}$(printf '\r')\$" &&
    [ "$(head -n 1 "$tmp/sm.in" | sed -E 's/.* t=([0-9]+); x=([0-9]+);.*/\2 \1/' | { read -r x t; echo $((x - t)); })" = 3600 ] &&
    tail -n +2 "$tmp/sm.in" | cmp -s - "$qdir/$sa"
then ok; else bad "release: SendmailCommand arguments, release marker and input" "$(cat "$tmp/sm.args")" "$(head -n 1 "$tmp/sm.in")"; fi
check_sql "release: row marked released" 1 \
    "SELECT CASE WHEN released_at >= $(($(date +%s) - 60)) THEN 1 ELSE 0 END FROM quarantine WHERE id = 1"
run quarantine release 1
if [ "$rc" = 65 ] && expr "$err" : 'optinctl quarantine release: row 1 was released at 20[0-9T:-]*Z (--force sends it again)$' >/dev/null
then ok; else bad "release twice" "rc $rc" "err: $err"; fi
check_json "release --force, --json" 0 \
    'd == {"id": 2, "released": True, "recipient": "bob@example.com", "decision": "no_consent", "forced": True}' \
    --json quarantine release 2 --force
if [ "$(sed -n 5p "$tmp/sm.args")" = bob@example.com ]; then ok
else bad "release --force: recipient" "$(cat "$tmp/sm.args")"; fi
FAKESM_RC=75 run quarantine release 3 --force
if [ "$rc" = 69 ] && [ "$err" = "optinctl quarantine release: row 3 not sent: $tmp/fakesm: exit status 75" ]
then ok; else bad "release: SendmailCommand fails" "rc $rc" "err: $err"; fi
check_sql "failed release: row not marked" - \
    "SELECT coalesce(CAST(released_at AS TEXT), '-') FROM quarantine WHERE id = 3"
rm -f "$tmp/sm.args"
check_err "release --force of a spool name that leaves the directory" 65 \
    "optinctl quarantine: bad spool file name in the quarantine table: not opened" \
    quarantine release 4 --force
if [ ! -e "$tmp/sm.args" ]; then ok; else bad "bad spool name: nothing sent"; fi
run quarantine list --all
if [ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | sed 's/released=20[0-9T:-]*Z/released=TIME/')" = "$hdr
$r1 released=TIME
$r2 released=TIME
$r3
$r4" ]; then ok; else bad "quarantine list --all shows released rows" "out: $out"; fi
check "quarantine list leaves released rows out" 0 "$hdr
$r3
$r4" quarantine list

# --- delete, purge ----------------------------------------------------------------

check "delete: spool file still named by another row" 0 "deleted 2" quarantine delete 2
if [ -e "$qdir/$sa" ]; then ok; else bad "shared spool file kept"; fi
check "delete: last row of a spool file" 0 "deleted 1 (spool file removed)" \
    quarantine delete 1
if [ ! -e "$qdir/$sa" ]; then ok; else bad "spool file removed with its last row"; fi
run quarantine delete 4
if [ "$rc" = 65 ] && [ "$out" = "deleted 4" ] && [ -e "$tmp/victim" ]; then ok
else bad "delete: a spool name outside the directory is not touched" "rc $rc" "out: $out"; fi
check_err "delete unknown row" 65 "optinctl quarantine: no row 4" quarantine delete 4

printf 'x\r\n\r\ny\r\n' > "$qdir/20200101-000000-Q5-cccc.eml"
qrow 5 news@example.com eve@example.com news no_consent 20200101-000000-Q5-cccc.eml 1577836800
printf 'orphan\r\n' > "$qdir/20200101-000000-Q6-dddd.eml"
printf 'recent orphan\r\n' > "$qdir/20990101-000000-Q7-eeee.eml"
echo keep > "$qdir/notes.txt"
touch -d 2020-01-01 "$qdir/20200101-000000-Q6-dddd.eml" "$qdir/notes.txt"
check "purge --older-than" 0 \
    "purged 1 row older than 86400s, removed 1 spool file and 1 orphan" \
    quarantine purge --older-than 1d
left=$(cd "$qdir" && ls | tr '\n' ' ')
if [ "$left" = "20990101-000000-Q7-eeee.eml 20991231-000000-Q3-bbbb.eml notes.txt " ]
then ok; else bad "purge: what is left" "$left"; fi
check_sql "purge: rows left" 3 "SELECT group_concat(id) FROM quarantine"
# the split hand-over records (optin-milter(8)) go a week after their last
# change, whatever --older-than says
now=$(date +%s)
sqlx "INSERT INTO handover VALUES ('k1', 'ann@example.com', 'done', 'Q1', 0, $((now - 8 * 86400))), ('k1', 'bob@example.com', 'claimed', 'Q1', 0, $((now - 6 * 86400))), ('k2', 'ann@example.com', 'quarantined', 'Q2', 0, $((now - 7 * 86400 - 60)))"
check "purge with QuarantineRetention" 0 \
    "purged 0 rows older than 2592000s, removed 0 spool files and 0 orphans" \
    quarantine purge
check_sql "purge: hand-over records younger than a week are kept" \
    "k1 bob@example.com claimed" \
    "SELECT group_concat(msg_key || ' ' || recipient || ' ' || state) FROM handover"
check_json "purge --json" 0 \
    'd == {"older_than": 3600, "rows": 0, "spool_files": 0, "missing_files": 0, "orphan_files": 0}' \
    --json quarantine purge --older-than 3600
qusage="usage: optinctl [-c FILE] [--json] quarantine list [FILTER...] [--all] | quarantine show ID | quarantine release (ID... | - | ALL | FILTER...) [--force] | quarantine delete (ID... | - | ALL | FILTER...) | quarantine purge [--older-than AGE]; FILTER: --reason R, --list L, --sender S, --before DATE, --older-than AGE"
check_err "quarantine without subverb" 64 \
    "$qusage" \
    quarantine
check_err "quarantine list --force" 64 \
    "optinctl quarantine list: unknown option '--force'
$qusage" \
    quarantine list --force
# an option not taken, with its value: named by the option, not the value
check_err "quarantine purge --reason X names --reason" 64 \
    "optinctl quarantine purge: unknown option '--reason'
$qusage" \
    quarantine purge --reason no_consent
check_err "quarantine show 1 --list news names --list" 64 \
    "optinctl quarantine show: unknown option '--list'
$qusage" \
    quarantine show 1 --list news

# --- rows held whole by the milter: line_too_long, no_signing_key ----------------

sl=20240101-000000-Q8-ffff.eml
printf 'From: news@example.com\r\nSubject: long\r\n\r\n%s\r\n' "$(head -c 1200 /dev/zero | tr '\0' x)" > "$qdir/$sl"
qrow 8 news@example.com ann@example.com news line_too_long $sl 1704067200
qrow 9 news@example.com ann@example.com news no_signing_key $sl 1704067200
check "quarantine list --reason line_too_long" 0 "$hdr
8      Q8           2024-01-01T00:00:00Z line_too_long   news         <news@example.com> <ann@example.com>" \
    quarantine list --reason line_too_long
rm -f "$tmp/sm.args"
check_err "release of a line_too_long row is refused" 65 \
    "optinctl quarantine release: row 8: held because a line is over 998 octets, which the relay would break after signing: the milter would hold it again (have the sender send it re-encoded; --force tries anyway)" \
    quarantine release 8
if [ ! -e "$tmp/sm.args" ]; then ok; else bad "line_too_long: nothing sent"; fi
check "release of a no_signing_key row" 0 "released 9 to <ann@example.com>" \
    quarantine release 9
check "release --force of a line_too_long row" 0 "released 8 to <ann@example.com>" \
    quarantine release 8 --force

# --- release over the ResubmitAddress channel: one SMTP transaction to the
# e2e sink (tests/e2e/sink.py), exact bytes: the release marker, then the
# spool file; nothing listening: not sent, not marked -----------------------

sc=20240102-000000-Q10-cccc.eml
printf 'From: News <news@example.com>\r\nSubject: channel\r\n\r\n.leading dot\r\n.\r\nend\r\n' > "$qdir/$sc"
qrow 10 news@example.com ann@example.com news no_consent $sc 1700000000
qrow 11 '' ann@example.com news no_consent $sc 1700000000
"$PY" "$top_srcdir/tests/e2e/sink.py" --dir "$tmp/chsink" \
    --portfile "$tmp/chsink.port" 2>"$tmp/chsink.log" &
sinkpid=$!
mkdir -p "$tmp/chsink"
for _ in $(seq 50); do [ -s "$tmp/chsink.port" ] && break; sleep 0.1; done
chconf=$conf
conf=$tmp/quar-channel.conf
{ cat "$chconf"; echo "ResubmitAddress inet:$(cat "$tmp/chsink.port")@127.0.0.1"; } > "$conf"
rm -f "$tmp/sm.args"
check "release over the channel" 0 "released 10 to <ann@example.com>" \
    quarantine release 10
check "release over the channel, null sender" 0 \
    "released 11 to <ann@example.com>" quarantine release 11
kill "$sinkpid" 2>/dev/null
wait "$sinkpid" 2>/dev/null
f1=$tmp/chsink/000001.msg
f2=$tmp/chsink/000002.msg
if [ ! -e "$tmp/sm.args" ] &&
    [ "$(head -n 2 "$f1" | tr -d '\r')" = "X-Sink-From: <news@example.com>
X-Sink-Rcpt: <ann@example.com>" ] &&
    [ "$(head -n 1 "$f2" | tr -d '\r')" = "X-Sink-From: <>" ] &&
    sed -n 3p "$f1" | grep -qE "^X-Optin-Release: v=2; q=Q10; id=10; t=[0-9]+; x=[0-9]+; list=news; mac=[0-9a-f]{64}$(printf '\r')\$" &&
    tail -n +4 "$f1" | cmp -s - "$qdir/$sc"
then ok; else bad "release over the channel: envelope, marker, exact bytes" \
    "$(head -n 3 "$f1" 2>/dev/null)" "$(head -n 1 "$f2" 2>/dev/null)"; fi
qrow 12 news@example.com ann@example.com news no_consent $sc 1700000000
run quarantine release 12
if [ "$rc" = 69 ] && expr "$err" : "optinctl quarantine release: row 12 not sent: inet:$(cat "$tmp/chsink.port")@127.0.0.1: connect: Connection refused\$" >/dev/null
then ok; else bad "release, channel down" "rc $rc" "err: $err"; fi
check_sql "release, channel down: row not marked" - \
    "SELECT coalesce(CAST(released_at AS TEXT), '-') FROM quarantine WHERE id = 12"
conf=$chconf
