# t-quarops.sh - the quarantine handled like postqueue/postsuper, campaign
# pause by hand, and list ids checked by every verb (sourced by run.sh; issue
# 13 item 7, issue 12).  Exact output, exit codes and rows left.
#
#   quarantine list shows the queue ID; --before DATE
#   release/delete take several IDs (row numbers or queue IDs), '-' (IDs on
#   standard input), ALL (never implied) or filters, and end with exact
#   counts ("released 1, 2 not found: 99 q123, 1 refused: 2")
#   purge counts only the spool files it removed, and reports the missing
#   campaign pause LIST CAMPAIGN [--reason TEXT]
#   --list/LIST with '%', '_', a space or nothing: 64, naming the argument

new_db qops

# qrowq ID QUEUE_ID SENDER RECIPIENT LIST REASON SPOOL RECEIVED_AT
qrowq() {
	sqlx "INSERT INTO quarantine (id, queue_id, message_id, sender, recipient, list_id, reason, spool_file, received_at) VALUES ($1, '$2', '<m$1@example.com>', '$3', '$4', '$5', '$6', '$7', $8)"
}
f1=20231114-221320-4AbC1-aaaa.eml
f2=20240309-160000-4XyZ2-bbbb.eml
f3=20240703-094640-5EEE-cccc.eml
f4=20241027-033320-6FFF-dddd.eml	# never written: a missing spool file
printf 'From: news@example.com\r\nSubject: a\r\n\r\na\r\n' > "$qdir/$f1"
printf 'From: promo@example.com\r\nSubject: b\r\n\r\nb\r\n' > "$qdir/$f2"
printf 'From: news@example.com\r\nSubject: c\r\n\r\nc\r\n' > "$qdir/$f3"
qrowq 1 4AbC1 news@example.com ann@example.com news no_consent $f1 1700000000
qrowq 2 4AbC1 news@example.com bob@example.com news pending $f1 1700000000
qrowq 3 4XyZ2 promo@example.com cy@example.com promo opted_out $f2 1710000000
qrowq 4 4XyZ2 promo@example.com dee@example.com promo no_consent $f2 1710000000
qrowq 5 5EEE news@example.com eve@example.com news no_consent $f3 1720000000
qrowq 6 6FFF news@example.com fay@example.com news suppressed $f4 1730000000

# --- list: the queue ID, --before ----------------------------------------------

check "qops: list shows the queue ID" 0 \
"ID     QUEUE_ID     RECEIVED             REASON          LIST         SENDER RECIPIENT
1      4AbC1        2023-11-14T22:13:20Z no_consent      news         <news@example.com> <ann@example.com>
5      5EEE         2024-07-03T09:46:40Z no_consent      news         <news@example.com> <eve@example.com>" \
    quarantine list --reason no_consent --list news --before 2025-01-01 --sender news@example.com --older-than 1d
check_json "qops: list --json has queue_id" 0 \
    '[(q["id"], q["queue_id"]) for q in d["quarantine"]] == [(1, "4AbC1"), (2, "4AbC1"), (3, "4XyZ2"), (4, "4XyZ2"), (5, "5EEE"), (6, "6FFF")]' \
    --json quarantine list
check_json "qops: list --before a date (UTC, strictly before)" 0 \
    '[q["id"] for q in d["quarantine"]] == [1, 2]' \
    --json quarantine list --before 2024-03-09T16:00:00Z
check_json "qops: list --before, filters combined" 0 \
    '[q["id"] for q in d["quarantine"]] == [1, 5]' \
    --json quarantine list --before 2024-10-01 --reason no_consent --list news
for d in 2024-02-30 2024-01-01T00:00:00 24-01-01 yesterday ''; do
	check_err "qops: list --before '$d'" 64 \
	    "optinctl quarantine: bad --before '$d' (a date, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)" \
	    quarantine list --before "$d"
done

# --- release: several IDs, queue IDs, filters, ALL -------------------------------

check_err "qops: release names no rows" 64 \
    "optinctl quarantine release: name the rows: IDs, '-' (IDs on standard input), a filter (--reason, --list, --sender, --before, --older-than) or ALL" \
    quarantine release
check_err "qops: IDs and a filter" 64 \
    "optinctl quarantine release: IDs and filters do not go together (filters select by themselves, or with ALL)" \
    quarantine release 1 --list news
check_err "qops: ALL with IDs" 64 \
    "optinctl quarantine delete: ALL goes alone" quarantine delete ALL 1
check_err "qops: a bad ID" 64 \
    "optinctl quarantine release: bad ID '../x' (a row number or a queue ID from quarantine list)" \
    quarantine release 1 ../x
"$OPTINCTL" -c "$conf" subscribe ann@example.com news >/dev/null
check_both "qops: release 1 2 99 q123" 65 \
"released 1 to <ann@example.com>
released 1, 2 not found: 99 q123, 1 refused: 2" \
    "optinctl quarantine release: row 2: recipient <bob@example.com> on list news: no_consent (--force releases it anyway)" \
    quarantine release 1 2 99 q123
check_sql "qops: only row 1 released" 1 \
    "SELECT group_concat(id) FROM quarantine WHERE released_at IS NOT NULL"
check "qops: release a queue ID: its rows still held" 0 \
"released 2 to <bob@example.com> (forced)
released 1" quarantine release 4AbC1 --force
check "qops: release --list --reason" 0 \
"released 4 to <dee@example.com> (forced)
released 1" quarantine release --list promo --reason no_consent --force
check "qops: release --sender (normalised), held rows only" 0 \
"released 3 to <cy@example.com> (forced)
released 1" quarantine release --sender '<Promo@Example.COM>' --force
check_json "qops: release ALL --json: the held rows, refused" 65 \
    'd == {"released": 0, "ids": [], "not_found": [], "refused": [5, 6], "failed": [], "untried": 0}' \
    --json quarantine release ALL
check_sql "qops: released rows" "1,2,3,4" \
    "SELECT group_concat(id) FROM quarantine WHERE released_at IS NOT NULL"
FAKESM_RC=75 run quarantine release 5 6 --force
if [ "$rc" = 69 ] && [ "$out" = "released 0, 2 failed: 5 6" ]; then ok
else bad "qops: SendmailCommand fails for each" "rc $rc" "out: $out" "err: $err"; fi

# --- delete: '-' (IDs on standard input), filters ----------------------------------

printf '5\n../6\n' > "$tmp/ids"
run quarantine delete - < "$tmp/ids"
if [ "$rc" = 64 ] && [ "$err" = "optinctl quarantine delete: bad ID '../6' (a row number or a queue ID from quarantine list)" ] && [ -z "$out" ]
then ok; else bad "qops: a bad ID on stdin" "rc $rc" "out: $out" "err: $err"; fi
check_sql "qops: a bad ID deletes nothing" 6 "SELECT count(*) FROM quarantine"
printf '5 6\n\n4AbC1\t1\n' > "$tmp/ids"
run quarantine delete - < "$tmp/ids"
if [ "$rc" = 0 ] && [ "$out" = "deleted 1
deleted 2 (spool file removed)
deleted 5 (spool file removed)
deleted 6 (spool file missing)
deleted 4 (2 spool files removed, 1 missing)" ] && [ -z "$err" ]
then ok; else bad "qops: delete - (each row once)" "rc $rc" "out: $out" "err: $err"; fi
check_sql "qops: rows left" "3,4" "SELECT group_concat(id) FROM quarantine"
if [ ! -e "$qdir/$f1" ] && [ ! -e "$qdir/$f3" ] && [ -e "$qdir/$f2" ]; then ok
else bad "qops: spool files after delete -" "$(ls "$qdir")"; fi
check_sql "qops: one quarantine_deleted event per row" \
    "ann@example.com 1,bob@example.com 2,eve@example.com 5,fay@example.com 6" \
    "SELECT group_concat(address || ' ' || substr(evidence, 4, 1), ',') FROM (SELECT * FROM consent_events WHERE event = 'quarantine_deleted' ORDER BY id)"
# a NUL byte on stdin is part of its word, not its end ("3\0junk" was row 3)
printf '3\0junk\n' > "$tmp/ids"
run quarantine delete - < "$tmp/ids"
if [ "$rc" = 64 ] && [ "$err" = "optinctl quarantine delete: bad ID '3?junk' (a row number or a queue ID from quarantine list)" ] && [ -z "$out" ]
then ok; else bad "qops: a NUL byte in an ID on stdin" "rc $rc" "out: $out" "err: $err"; fi
# a cut-off at the epoch selects nothing (it was 0, the store's "any": every
# row was deleted)
check "qops: delete --before 1970-01-01 deletes nothing" 0 "deleted 0" \
    quarantine delete --before 1970-01-01
check_json "qops: list --before the epoch lists nothing" 0 \
    'd["quarantine"] == []' --json quarantine list --before 1970-01-01T00:00:00Z
check_sql "qops: rows left after the epoch cut-off" "3,4" \
    "SELECT group_concat(id) FROM quarantine"
check_json "qops: delete --before --json" 0 \
    'd == {"deleted": 2, "ids": [3, 4], "spool_files": 1, "missing_files": 0, "not_found": [], "refused": [], "failed": [], "untried": 0}' \
    --json quarantine delete --before 2025-01-01
check "qops: delete ALL of nothing" 0 "deleted 0" quarantine delete ALL

# --- purge: what was really removed ------------------------------------------------

f7=20200101-000000-Q7-gggg.eml
printf 'x\r\n\r\ny\r\n' > "$qdir/$f7"
qrowq 7 Q7 news@example.com gil@example.com news no_consent $f7 1577836800
qrowq 8 Q8 news@example.com hal@example.com news no_consent 20200101-000000-Q8-hhhh.eml 1577836800
check_both "qops: purge counts a missing spool file apart" 0 \
    "purged 2 rows older than 86400s, removed 1 spool file and 0 orphans; 1 spool file was already missing" \
    "optinctl quarantine purge: warning: row 8: spool file 20200101-000000-Q8-hhhh.eml was already missing" \
    quarantine purge --older-than 1d
check_sql "qops: purge left no rows" 0 "SELECT count(*) FROM quarantine"

# --- campaign pause -----------------------------------------------------------------

preason="paused by an admin: complaints from a provider (list=news; optinctl user=$me)"
check "qops: campaign pause" 0 "paused spring: $preason" \
    campaign pause news spring --reason 'complaints from a provider'
check_sql "qops: the pause row" "spring|$preason|1" \
    "SELECT campaign || '|' || reason || '|' || (paused_at >= strftime('%s', 'now') - 60) FROM campaign_pauses"
check_json "qops: campaign ls shows it" 0 \
    'len(d) == 1 and d[0]["campaign"] == "spring" and d[0]["reason"] == "'"$preason"'"' \
    --json campaign ls
run campaign pause news spring
if [ "$rc" = 65 ] && expr "$err" : "optinctl campaign pause: spring is paused already, since 20[0-9T:-]*Z: $preason\$" >/dev/null
then ok; else bad "qops: pause twice keeps the first" "rc $rc" "err: $err"; fi
check "qops: campaign pause without a reason, --json" 0 \
    "{\"campaign\":\"autumn\",\"list\":\"crm\",\"paused\":true,\"reason\":\"paused by an admin (list=crm; optinctl user=$me)\"}" \
    --json campaign pause crm autumn
check_err "qops: pause on a list that does not exist" 65 \
    "optinctl campaign pause: no such list 'nolist'" campaign pause nolist spring2
check_err "qops: pause a bad campaign name" 64 \
    "optinctl campaign pause: bad CAMPAIGN 'spr ing' (1 to 64 letters, digits, '.', '_', '-', starting with a letter or digit)" \
    campaign pause news 'spr ing'
check_err "qops: pause with an empty reason" 64 \
    "optinctl campaign pause: bad --reason (1 to 120 printable characters, no '%')" \
    campaign pause news spring3 --reason ''
check "qops: campaign resume" 0 "resumed spring" campaign resume spring
check_sql "qops: pauses left" autumn "SELECT group_concat(campaign) FROM campaign_pauses"

# --- list ids: one syntax, every verb -------------------------------------------------

nev=$(sql "SELECT count(*) FROM consent_events")
printf 'address,list,status\nann@example.com,news,opted_in\n' > "$tmp/qops.csv"
long=$(printf 'l%.0s' $(seq 65))
for v in '%' '_' ' news' '' "$long"; do
	why="(1 to 64 letters, digits, '.', '_', '-', starting with a letter or digit)"
	check_err "qops: quarantine list --list '$v'" 64 \
	    "optinctl quarantine: bad --list '$v' $why" quarantine list --list "$v"
	check_err "qops: quarantine delete --list '$v'" 64 \
	    "optinctl quarantine: bad --list '$v' $why" quarantine delete --list "$v"
	check_err "qops: import --list '$v'" 64 \
	    "optinctl import: bad --list '$v' $why" import "$tmp/qops.csv" --list "$v"
	for verb in subscribe confirm unsubscribe; do
		check_err "qops: $verb LIST '$v'" 64 \
		    "optinctl $verb: bad LIST '$v' $why" $verb ann@example.com "$v"
	done
	check_err "qops: list add '$v'" 64 \
	    "optinctl list add: bad LIST '$v' $why" list add "$v"
	check_err "qops: export-list '$v'" 64 \
	    "optinctl export-list: bad LIST '$v' $why" export-list "$v"
	check_err "qops: token issue LIST '$v'" 64 \
	    "optinctl token issue: bad LIST '$v' $why" token issue ann@example.com "$v"
	check_err "qops: campaign pause '$v'" 64 \
	    "optinctl campaign pause: bad LIST '$v' $why" campaign pause "$v" spring
done
for v in 'news%' '_news' '.x' 'a b'; do
	check_err "qops: subscribe LIST '$v'" 64 \
	    "optinctl subscribe: bad LIST '$v' $why" subscribe ann@example.com "$v"
done
check_sql "qops: bad list ids wrote nothing" "$nev" "SELECT count(*) FROM consent_events"
check_sql "qops: no list made" "crm,news,promo" "SELECT group_concat(list_id) FROM (SELECT list_id FROM lists ORDER BY list_id)"

# --- the same selection on PostgreSQL (store_pgsql: the filters and the queue
# ID are bound parameters there too) ---------------------------------------------

# a server of its own (t-copy-store.sh stops its one)
command -v pg_start >/dev/null 2>&1 || . "$here/../lib/pg.sh"
if ! pg_start; then
	bad "qops: PostgreSQL starts"
elif pg_createdb qops; then
	pgconf=$tmp/qops-pg.conf
	mkdir -p "$tmp/qops-pg.q"
	printf 'ConsentDB %s\nSyslog no\nTokenKeyFile %s\nErasureKeyFile %s\nQuarantineDir %s\nSendmailCommand %s -i\n' \
	    "$(pg_consentdb qops)" "$tmp/qops.keys" "$tmp/qops.erasure" \
	    "$tmp/qops-pg.q" "$tmp/fakesm" > "$pgconf"
	"$OPTINCTL" -c "$pgconf" init >/dev/null &&
	"$OPTINCTL" -c "$pgconf" list add news >/dev/null || bad "qops: pg init"
	for r in "1,'4AbC1','ann@example.com','news','no_consent',1700000000" \
	    "2,'4AbC1','bob@example.com','news','pending',1700000000" \
	    "3,'4XyZ2','cy@example.com','promo','opted_out',1710000000" \
	    "4,'5EEE','dee@example.com','news','no_consent',1720000000"; do
		pg_sql qops "INSERT INTO quarantine (id, queue_id, message_id, sender, recipient, list_id, reason, spool_file, received_at) SELECT i, q, '<m>', 'news@example.com', rc, l, rs, 'f' || i || '.eml', t FROM (VALUES ($r)) AS v(i, q, rc, l, rs, t)" ||
		    bad "qops: pg row $r"
	done
	conf_sqlite=$conf
	conf=$pgconf
	check_json "qops: pg list --before --reason --list" 0 \
	    '[q["id"] for q in d["quarantine"]] == [1]' \
	    --json quarantine list --before 2024-07-01 --reason no_consent --list news
	check_json "qops: pg list --sender --reason" 0 \
	    '[q["id"] for q in d["quarantine"]] == [1, 4]' \
	    --json quarantine list --sender News@Example.com --reason no_consent
	check "qops: pg delete a queue ID and an unknown one" 65 \
"deleted 1 (spool file missing)
deleted 2 (spool file missing)
deleted 2 (0 spool files removed, 2 missing), 1 not found: 4abc1" \
	    quarantine delete 4AbC1 4abc1
	check "qops: pg delete --list" 0 "deleted 3 (spool file missing)
deleted 1 (0 spool files removed, 1 missing)" quarantine delete --list promo
	printf 'From: news@example.com\r\n\r\nx\r\n' > "$tmp/qops-pg.q/f4.eml"
	check "qops: pg release --force" 0 "released 4 to <dee@example.com> (forced)" \
	    quarantine release 4 --force
	got=$(pg_sql qops "SELECT released_at > 0 FROM quarantine WHERE id = 4")
	if [ "$got" = t ]; then ok; else bad "qops: pg row marked released" "got: $got"; fi
	conf=$conf_sqlite
	got=$(pg_sql qops "SELECT string_agg(id::text, ',') FROM quarantine")
	if [ "$got" = 4 ]; then ok; else bad "qops: pg rows left" "got: $got"; fi
	pg_stop
else
	bad "qops: pg database"
	pg_stop
fi
