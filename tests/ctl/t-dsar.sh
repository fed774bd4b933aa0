# t-dsar.sh - optinctl history, export and forget (sourced by run.sh): the
# erased address stays blocked (status, quarantine release through
# store_lookup2, import, subscribe) and appears nowhere in the database
# files; t-erasure.sh checks every byte of the files and the spool.

new_db dsar

"$OPTINCTL" -c "$conf" subscribe ann@example.com news --evidence "form 7" >/dev/null
"$OPTINCTL" -c "$conf" subscribe ann@example.com promo --source crm >/dev/null
"$OPTINCTL" -c "$conf" unsubscribe ann@example.com --all >/dev/null
"$OPTINCTL" -c "$conf" subscribe bob@example.com news >/dev/null
printf 'To: ann@example.com, bob@example.com\r\nSubject: both\r\n\r\nx\r\n' > "$qdir/20240101-000000-Q1-shared.eml"
printf 'To: ann@example.com\r\nSubject: one\r\n\r\ny\r\n' > "$qdir/20240101-000000-Q3-own.eml"
qrow 1 news@example.com ann@example.com news suppressed 20240101-000000-Q1-shared.eml 1700000000
qrow 2 news@example.com bob@example.com news no_consent 20240101-000000-Q1-shared.eml 1700000000
qrow 3 news@example.com ann@example.com news suppressed 20240101-000000-Q3-own.eml 1700000000

# --- history, export ---------------------------------------------------------

run history ANN@example.com
if [ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | sed 's/^20[0-9T:-]*Z /TIME /')" = "TIME news opted_in source=optinctl evidence=\"form 7\" agent=\"optinctl user=$me\"
TIME promo pending source=crm agent=\"optinctl user=$me\"
TIME - suppressed source=optinctl evidence=\"reason=unsubscribed_all\" agent=\"optinctl user=$me\"" ]
then ok; else bad "history" "rc $rc" "out: $out" "err: $err"; fi
check_json "history --json" 0 \
    'd["address"] == "ann@example.com" and [(e["list"], e["event"], e["source"], e["evidence"]) for e in d["events"]] == [("news", "opted_in", "optinctl", "form 7"), ("promo", "pending", "crm", None), (None, "suppressed", "optinctl", "reason=unsubscribed_all")] and all(e["occurred_at"] > 0 for e in d["events"])' \
    history ann@example.com --json
check "history of an unknown address" 0 "no consent events for zed@example.com" \
    history zed@example.com
check_err "history without address" 64 "usage: optinctl [-c FILE] [--json] history ADDR" history
check_json "export" 0 \
    'd["address"] == "ann@example.com" and d["erased"] is False and d["suppression"]["reason"] == "unsubscribed_all" and [(s["list"], s["state"]) for s in d["subscriptions"]] == [("news", "opted_in"), ("promo", "pending")] and len(d["events"]) == 3 and [(q["id"], q["reason"], q["spool_file"], q["released_at"]) for q in d["quarantine"]] == [(1, "suppressed", "20240101-000000-Q1-shared.eml", None), (3, "suppressed", "20240101-000000-Q3-own.eml", None)] and d["exported_at"] > 0' \
    export ann@example.com
check_err "export bad address" 65 "optinctl: bad address 'ann': no '@' in address" \
    export ann

# --- forget ------------------------------------------------------------------

check_err "forget: evidence naming the address" 65 \
    "optinctl forget: --source and --evidence must not contain the address" \
    forget ann@example.com --evidence "request from Ann@Example.com"
printf 'ConsentDB %s\nSyslog no\n' "$db" > "$tmp/nokey.conf"
check_err "forget without ErasureKeyFile" 78 \
    "optinctl forget: ErasureKeyFile is not set: an erased address is kept only as a hash keyed from it" \
    -c "$tmp/nokey.conf" forget ann@example.com
check "forget" 0 "erased ann@example.com: subscriptions=2 events=3 quarantine=2 suppressions=1 spool_files=1 temp_files=0
rewritten without it: 1 spool file of other recipients (as erased@invalid)
ann@example.com stays blocked (suppressed=erased, kept as a keyed hash)" \
    forget ann@example.com --evidence "ticket 42"
if [ ! -e "$qdir/20240101-000000-Q3-own.eml" ] && [ "$(cat "$qdir/20240101-000000-Q1-shared.eml")" = "$(printf 'To: erased@invalid, bob@example.com\r\nSubject: both\r\n\r\nx\r')" ]
then ok; else bad "forget: own spool file removed, shared one rewritten without ann" "$(ls "$qdir")" "$(cat "$qdir/20240101-000000-Q1-shared.eml")"; fi
check "status after forget: still blocked" 0 "ann@example.com suppressed=erased
  (other lists) decision=suppressed" status ann@example.com
n=$(db_grep "$db" ann@example.com)
if [ "$n" = 0 ]; then ok; else bad "the plain address is in no row of any table" "$n values"; fi
n=$(cat "$db" "$db-wal" 2>/dev/null | grep -a -c 'ann@example\.com')
if [ "$n" = 0 ]; then ok; else bad "the plain address is in no byte of the database files" "$n lines"; fi
check_sql "the suppression is a keyed hash" "erased|1" \
    "SELECT reason || '|' || CASE WHEN address LIKE 'erased:1:%' AND length(address) = 73 AND lower(address) = address THEN 1 ELSE 0 END FROM suppressions WHERE reason = 'erased'"
check_sql "the erase event holds no address" "erased|-|optinctl|ticket 42|1" \
    "SELECT event || '|' || coalesce(list_id, '-') || '|' || source || '|' || evidence || '|' || CASE WHEN address LIKE 'erased:1:%' THEN 1 ELSE 0 END FROM consent_events WHERE event = 'erased'"
check_json "export after forget" 0 \
    'd["erased"] is True and d["suppression"]["reason"] == "erased" and d["subscriptions"] == [] and [e["event"] for e in d["events"]] == ["erased"] and d["quarantine"] == []' \
    export ann@example.com
run history ann@example.com
if [ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | sed 's/^20[0-9T:-]*Z /TIME /')" = "TIME - erased source=optinctl evidence=\"ticket 42\" agent=\"optinctl user=$me\"" ]
then ok; else bad "history after forget" "rc $rc" "out: $out"; fi

# nothing personal is handed out for an erased person again: no token, no
# bounce address (either would carry the address in clear text)
check_err "token issue for an erased address" 65 \
    "optinctl token issue: ann@example.com was erased (optinctl forget): no token is issued for it" \
    token issue Ann@Example.com news
{ cat "$conf"; printf 'BounceAddress bounce+%%t@relay.example\n'; } > "$tmp/dsar-b.conf"
check_err "token bounce for an erased address" 65 \
    "optinctl token bounce: ann@example.com was erased (optinctl forget): no bounce address is made for it" \
    -c "$tmp/dsar-b.conf" token bounce ann@example.com news
# a bounce address for a list that does not exist maps to nothing: refused
# as token issue refuses it
check_err "token bounce for an unknown list" 65 \
    "optinctl: no such list 'nosuchlist'" \
    -c "$tmp/dsar-b.conf" token bounce bob@example.com nosuchlist
run token issue bob@example.com news
if [ "$rc" = 0 ] && [ -n "$out" ]; then ok; else
	bad "token issue for a person not erased" "rc $rc" "err: $err"; fi

# an erased address does not come back through an import: refused (65),
# naming why; an opt-out row of it is skipped (the hash blocks it)
printf 'address,list,status\nAnn@Example.com,news,opted_in\ncarl@example.com,news,opted_in\nann@example.com,crm,opted_out\n' > "$tmp/dsar-a.csv"
check_both "import refuses an erased address" 65 \
    "import $tmp/dsar-a.csv: format=optin rows=3 added=1 changed=0 unchanged=0 kept=0 skipped=1 bad=1
1 of 2 will not get campaign mail: 1 erased" \
    "optinctl import: $tmp/dsar-a.csv:2: ann@example.com was erased (optinctl forget): a new opt-in needs fresh consent evidence (--evidence TEXT): not imported (optinctl subscribe ADDR LIST --evidence TEXT lifts it)" \
    import "$tmp/dsar-a.csv"
printf 'Email,Secondary Email,Email Opt Out\nann@example.com,dora@example.com,no\n' > "$tmp/dsar-v.csv"
check_both "vtiger import refuses an erased address" 65 \
    "import $tmp/dsar-v.csv: format=vtiger rows=1 added=1 changed=0 unchanged=0 kept=0 skipped=0 bad=1
1 of 1 will not get campaign mail: 1 pending (double opt-in not confirmed)" \
    "optinctl import: $tmp/dsar-v.csv:2: ann@example.com was erased (optinctl forget): a new opt-in needs fresh consent evidence (--evidence TEXT): not imported (optinctl subscribe ADDR LIST --evidence TEXT lifts it)" \
    import "$tmp/dsar-v.csv" --list news
check_sql "no subscription came back" 0 \
    "SELECT count(*) FROM subscriptions WHERE address = 'ann@example.com'"
check_err "import needs the key ring once someone is erased" 78 \
    "optinctl import: the database keeps erased addresses keyed with ErasureKeyFile: ErasureKeyFile is not set" \
    -c "$tmp/nokey.conf" import "$tmp/dsar-a.csv"

# a new subscription without evidence is refused and lifts nothing: the
# milter's lookup (store_lookup2, used by quarantine release) still says
# suppressed
check_err "subscribe of an erased address" 65 \
    "optinctl subscribe: ann@example.com was erased (optinctl forget): a new opt-in needs fresh consent evidence (--evidence TEXT)" \
    subscribe ann@example.com news
check "status: still erased" 0 "ann@example.com suppressed=erased
  (other lists) decision=suppressed" status ann@example.com
check_sql "no subscription row came back" 0 \
    "SELECT count(*) FROM subscriptions WHERE address = 'ann@example.com'"
printf 'To: ann@example.com\r\n\r\nz\r\n' > "$qdir/20240102-000000-Q4-new.eml"
qrow 4 news@example.com ann@example.com news suppressed 20240102-000000-Q4-new.eml 1700000000
check_err "release to an erased address is refused" 65 \
    "optinctl quarantine release: row 4: recipient <ann@example.com> on list news: suppressed (--force releases it anyway)" \
    quarantine release 4
check_json "forget --json" 0 \
    'd["address"] == "ann@example.com" and d["erased"] is True and d["suppression"].startswith("erased:1:") and d["deleted"] == {"subscriptions": 0, "events": 0, "quarantine": 1, "suppressions": 0, "spool_files": 1, "temp_files": 0} and d["rewritten"] == {"spool_files": 0}' \
    --json forget ann@example.com
check_sql "forget twice: one suppression" 1 \
    "SELECT count(*) FROM suppressions WHERE reason = 'erased'"
