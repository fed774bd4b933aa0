# t-copy-store.sh - optinctl copy-store (sourced by run.sh): a SQLite
# database copied to a private PostgreSQL (tests/lib/pg.sh) and back, every
# row of every table compared column for column, counts printed, ids that
# go on after the copied ones (events, feedback), a non-empty target
# refused, passwords never shown.  Every table: the feedback tables of
# schema version 2 too.  First, without PostgreSQL: source rows outside the
# schema's CHECK sets refused, and a row naming a missing list.

# A source row outside the schema's CHECK sets (written by another program
# that skipped them) is refused before the target's engine, which does not
# run the CHECKs either (sq_setup): SQLite to SQLite, one bad row per
# CHECKed column; exit 65 (EX_DATAERR), the table, row and value named,
# nothing copied.  The row and value come from the source: control
# characters (a newline, an escape sequence) and other bytes outside
# printable ASCII print as '?' (log_safe), never raw on the terminal.
# TABLE|INSERT|STDERR
while IFS='|' read -r tab ins want; do
	new_db "copybad_$tab"
	$PY -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA ignore_check_constraints = ON")
c.execute(sys.argv[2])
c.commit()' "$db" "INSERT INTO $ins" || bad "copy-store: bad $tab: row"
	check_err "copy-store: bad $tab refused" 65 "optinctl: $want" \
	    copy-store "$db" "sqlite:$tmp/copybad_$tab.to.db"
	db=$tmp/copybad_$tab.to.db
	check_sql "copy-store: bad $tab: nothing copied" "0|0|0|0" \
	    "SELECT (SELECT count(*) FROM lists) || '|' || (SELECT count(*) FROM subscriptions) || '|' || (SELECT count(*) FROM suppressions) || '|' || (SELECT count(*) FROM feedback)"
done <<'EOF_BAD'
lists|lists VALUES ('odd', NULL, 7, 1)|lists row 'odd': bad double_opt_in '7'
subscriptions|subscriptions VALUES ('a@example.com', 'news', 'maybe', NULL, 1)|subscriptions row 'a@example.com': bad subscription status 'maybe'
suppressions|suppressions VALUES ('b@example.com', 'whim', 1)|suppressions row 'b@example.com': bad suppression reason 'whim'
feedback|feedback (id, kind, identity, received_at) VALUES (5, 'spam', 'none', 1)|feedback row '5': bad feedback kind 'spam'
acted|feedback (id, kind, identity, acted, received_at) VALUES (6, 'complaint', 'none', 2, 1)|feedback row '6': bad acted '2'
ctrl|subscriptions VALUES (printf('c@example.com%s[2J', char(10, 27)), 'news', printf('ma%sybe%s', char(13), char(233)), NULL, 1)|subscriptions row 'c@example.com??[2J': bad subscription status 'ma?ybe??'
EOF_BAD

# A row naming a list that is not there (written with foreign keys off)
# passes the CHECK sets; the target's engine refuses it: 65 too, the row
# named, nothing copied (it was 70, an internal error).  Again to
# PostgreSQL below.
new_db copyfk
$PY -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO subscriptions VALUES (\x27o@example.com\x27, \x27nolist\x27, \x27opted_in\x27, NULL, 1)")
c.commit()' "$db" || bad "copy-store: orphan row"
fksrc=$db
check_err "copy-store: a row naming a missing list refused" 65 \
    "optinctl: subscriptions row 'o@example.com': refused by the target: ConsentDB $tmp/copyfk.to.db: subscriptions: FOREIGN KEY constraint failed" \
    copy-store "$fksrc" "$tmp/copyfk.to.db"
db=$tmp/copyfk.to.db
check_sql "copy-store: a row naming a missing list: nothing copied" "0|0" \
    "SELECT (SELECT count(*) FROM lists) || '|' || (SELECT count(*) FROM subscriptions)"

. "$(dirname "$0")/../lib/pg.sh"
if ! pg_start; then
	bad "copy-store: PostgreSQL starts"
else
	new_db copysrc
	"$OPTINCTL" -c "$conf" list add weekly --name "Weekly, with 'quotes'" \
	    >/dev/null &&
	"$OPTINCTL" -c "$conf" subscribe ann@example.com news --source crm \
	    --evidence "form 7" >/dev/null &&
	"$OPTINCTL" -c "$conf" subscribe bob@example.com promo >/dev/null &&
	"$OPTINCTL" -c "$conf" unsubscribe cy@example.com --all >/dev/null &&
	"$OPTINCTL" -c "$conf" unsubscribe ann@example.com weekly >/dev/null &&
	"$OPTINCTL" -c "$conf" forget dee@example.com >/dev/null ||
	    bad "copy-store: source set up"
	qrow 7 news@example.com eve@example.com news no_consent q7.eml 1700000000
	qrow 9 news@example.com fay@example.com news opted_out q9.eml 1700000100
	sqlx "UPDATE quarantine SET released_at = 1700000200 WHERE id = 9"
	# the feedback tables (schema version 2), as optin-feedback and the
	# milter write them
	sqlx "INSERT INTO feedback (id, address, list_id, campaign, kind, status, reporting_mta, diagnostic, arrival, identity, acted, received_at) VALUES (3, 'ann@example.com', 'news', 'spring', 'hard_bounce', '5.1.1', 'dns; mx.example.net', 'smtp; 550 5.1.1 no such user', 'Mon, 1 Jan 2024 00:00:00 +0000', 'bounce_token', 1, 1700000300)" \
	    "INSERT INTO feedback (id, address, list_id, campaign, kind, identity, acted, received_at) VALUES (4, NULL, NULL, NULL, 'unusable', 'none', 0, 1700000400)" \
	    "INSERT INTO campaign_pauses VALUES ('spring', 'policy_bounce 3 of 10', 1700000500)" \
	    "INSERT INTO campaign_sent VALUES ('spring', 'news', 10), ('spring', 'promo', 4)"
	src=$db
	pg_createdb copy1 && pg_createdb copy2 || bad "copy-store: databases"
	pgdb=$(pg_consentdb copy1)

	check "copy-store: SQLite to PostgreSQL" 0 "TABLE                  FROM         TO
lists                     4          4
subscriptions             3          3
suppressions              2          2
consent_events            5          5
quarantine                2          2
feedback                  2          2
campaign_pauses           1          1
campaign_sent             2          2" copy-store "$src" "$pgdb"

	# every row, every column, the same on both sides (SQLite's integer
	# columns and PostgreSQL's bigint print alike)
	for t in "lists:list_id" "subscriptions:address, list_id" \
	    "suppressions:address" "consent_events:id" "quarantine:id" \
	    "feedback:id" "campaign_pauses:campaign" \
	    "campaign_sent:campaign, list_id"; do
		tab=${t%%:*} key=${t#*:}
		want=$($PY -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for r in c.execute("SELECT * FROM %s ORDER BY %s" % (sys.argv[2], sys.argv[3])):
    print("|".join("" if v is None else str(v) for v in r))' "$src" "$tab" "$key")
		got=$(pg_sql copy1 "SELECT * FROM $tab ORDER BY $key")
		if [ -n "$want" ] && [ "$got" = "$want" ]; then ok; else
			bad "copy-store: $tab rows" "got: $got" "want: $want"
		fi
	done

	check_err "copy-store: a target with rows is refused" 73 \
	    "optinctl: copy-store: the target is not empty (lists has 4 rows)" \
	    copy-store "$src" "$pgdb"

	# the copy is a working database: new ids follow the copied ones
	# the same token key: the copy holds an erased address (dee) as a keyed hash
	printf 'ConsentDB %s\nSyslog no\nTokenKeyFile %s\nErasureKeyFile %s\n' \
	    "$pgdb" "$tmp/copysrc.keys" "$tmp/copysrc.erasure" > "$tmp/pg.conf"
	"$OPTINCTL" -c "$tmp/pg.conf" subscribe gus@example.com news \
	    >/dev/null || bad "copy-store: subscribe on the copy"
	got=$(pg_sql copy1 "SELECT id FROM consent_events WHERE address = 'gus@example.com'")
	if [ "$got" = 6 ]; then ok; else
		bad "copy-store: next event id on the copy" "got: $got" "want: 6"
	fi
	got=$(pg_sql copy1 "INSERT INTO feedback (kind, identity, received_at) VALUES ('auto_reply', 'none', 1700000600) RETURNING id")
	if [ "$got" = 5 ]; then ok; else
		bad "copy-store: next feedback id on the copy" "got: $got" "want: 5"
	fi

	# and back to a new SQLite file: the same rows as PostgreSQL holds
	check_json "copy-store: PostgreSQL to SQLite (--json)" 0 \
	    'd["match"] and [(t["table"], t["from"], t["to"]) for t in d["tables"]] == [("lists", 4, 4), ("subscriptions", 4, 4), ("suppressions", 2, 2), ("consent_events", 6, 6), ("quarantine", 2, 2), ("feedback", 3, 3), ("campaign_pauses", 1, 1), ("campaign_sent", 2, 2)]' \
	    --json copy-store "$pgdb" "sqlite:$tmp/back.db"
	db=$tmp/back.db
	check_sql "copy-store: back: the list name" \
	    "Weekly, with 'quotes'" "SELECT name FROM lists WHERE list_id = 'weekly'"
	check_sql "copy-store: back: a released quarantine row" \
	    "9|fay@example.com|1700000100|1700000200" \
	    "SELECT id || '|' || recipient || '|' || received_at || '|' || released_at FROM quarantine WHERE id = 9"
	check_sql "copy-store: back: integers stay integers" "integer" \
	    "SELECT typeof(occurred_at) FROM consent_events WHERE id = 6"
	check_sql "copy-store: back: the evidence" "form 7" \
	    "SELECT evidence FROM consent_events WHERE address = 'ann@example.com' AND event = 'opted_in'"
	check_sql "copy-store: back: the feedback rows" "3|ann@example.com|spring|hard_bounce|5.1.1|smtp; 550 5.1.1 no such user|1|1700000300
4|||unusable|||0|1700000400
5|||auto_reply|||0|1700000600" \
	    "SELECT id, address, campaign, kind, status, diagnostic, acted, received_at FROM feedback ORDER BY id"
	check_sql "copy-store: back: pauses and sent counts" "spring|policy_bounce 3 of 10|1700000500
spring|news|10
spring|promo|4" \
	    "SELECT campaign, reason, paused_at FROM campaign_pauses UNION ALL SELECT * FROM (SELECT campaign, list_id, sent FROM campaign_sent ORDER BY list_id)"
	db=$src

	pg_createdb copyfk || bad "copy-store: database copyfk"
	run copy-store "$fksrc" "$(pg_consentdb copyfk)"
	case $rc:$err in
	"65:optinctl: subscriptions row 'o@example.com': refused by the target: ConsentDB "*": subscriptions: "*'violates foreign key constraint'*) ok ;;
	*) bad "copy-store to PostgreSQL: a row naming a missing list" "rc $rc" "$err" ;;
	esac
	got=$(pg_sql copyfk "SELECT count(*) FROM lists")
	[ "$got" = 0 ] && ok || bad "copy-store to PostgreSQL: nothing copied" "lists: $got"
	# rows SQLite kept that PostgreSQL's types refuse (SQLSTATE class 22,
	# data exception): text that is not UTF-8 (optinctl stored it before
	# ctl_text_ok checked UTF-8), a time that is no integer.  The row is
	# the source's, as for a constraint: 65, not an internal error (70)
	# TABLE|INSERT|ROW
	while IFS='|' read -r tab ins row; do
		new_db "copy22_$tab"
		$PY -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute(sys.argv[2])
c.commit()' "$db" "INSERT INTO $ins" || bad "copy-store: class 22 $tab: row"
		pg_createdb "copy22_$tab" || bad "copy-store: database copy22_$tab"
		run copy-store "$db" "$(pg_consentdb "copy22_$tab")"
		case $rc:$err in
		"65:optinctl: $row: refused by the target: ConsentDB "*) ok ;;
		*) bad "copy-store to PostgreSQL: $tab the types refuse" "rc $rc" "$err" ;;
		esac
		got=$(pg_sql "copy22_$tab" "SELECT count(*) FROM lists")
		[ "$got" = 0 ] && ok || bad "copy-store to PostgreSQL: $tab: nothing copied" "lists: $got"
	done <<'EOF_22'
lists|lists VALUES ('latin1', CAST(X'436166E9' AS TEXT), 0, 1)|lists row 'latin1'
suppressions|suppressions VALUES ('t@example.com', 'manual', 'soon')|suppressions row 't@example.com'
EOF_22
	db=$src

	check_err "copy-store: missing source" 66 \
	    "optinctl: ConsentDB $tmp/nosuch.db: no such file (create it with optinctl init)" \
	    copy-store "$tmp/nosuch.db" "$(pg_consentdb copy2)"
	# a target database that is not there: 73 as for init (it cannot be
	# created by copy-store; retrying does not mend it), not 75
	run copy-store "$src" \
	    "postgresql://postgres:s3cret@127.0.0.1:$PG_PORT/nosuch"
	case $rc:$err in
	*s3cret*) bad "copy-store: password shown" "$err" ;;
	"73:optinctl: ConsentDB postgresql://postgres:***@127.0.0.1:$PG_PORT/nosuch: cannot connect: "*'database "nosuch" does not exist') ok ;;
	*) bad "copy-store: no such PostgreSQL database" "rc $rc" "$err" ;;
	esac
	pg_stop
fi
