# t-audit.sh - an audit trail for admin actions (sourced by run.sh): every
# consent change made with optinctl, and quarantine release (with and
# without --force), delete and purge, write a consent event whose
# user_agent names the Unix user and SUDO_USER; export and history show
# them under the person concerned.

new_db audit

agent="optinctl user=$me"
SUDO_USER=alice "$OPTINCTL" -c "$conf" subscribe ann@example.com news >/dev/null
"$OPTINCTL" -c "$conf" subscribe bob@example.com news >/dev/null
SUDO_USER="bad name" "$OPTINCTL" -c "$conf" unsubscribe bob@example.com news >/dev/null
printf 'address,list,status\ncy@example.com,news,opted_in\n' > "$tmp/audit.csv"
SUDO_USER=carol "$OPTINCTL" -c "$conf" import "$tmp/audit.csv" >/dev/null
check_sql "audit: subscribe names the user and SUDO_USER" "opted_in|$agent sudo_user=alice" \
    "SELECT event || '|' || user_agent FROM consent_events WHERE address = 'ann@example.com'"
check_sql "audit: a SUDO_USER with a space is left out" "$agent" \
    "SELECT user_agent FROM consent_events WHERE address = 'bob@example.com' AND event = 'opted_out'"
check_sql "audit: import names them" "opted_in|import|$agent sudo_user=carol" \
    "SELECT event || '|' || source || '|' || user_agent FROM consent_events WHERE address = 'cy@example.com'"

# quarantine: ann may be mailed (released as is), dee may not (--force),
# one row deleted, three purged (the released ones among them)
printf 'To: ann@example.com\r\n\r\na\r\n' > "$qdir/20240101-000000-A1-a.eml"
printf 'To: dee@example.com\r\n\r\nd\r\n' > "$qdir/20240101-000000-A2-d.eml"
printf 'To: dee@example.com\r\n\r\ne\r\n' > "$qdir/20240101-000000-A3-e.eml"
printf 'To: dee@example.com\r\n\r\nf\r\n' > "$qdir/20240101-000000-A4-f.eml"
qrow 1 news@example.com ann@example.com news no_consent 20240101-000000-A1-a.eml 1700000000
qrow 2 news@example.com dee@example.com news no_consent 20240101-000000-A2-d.eml 1700000000
qrow 3 news@example.com dee@example.com news no_consent 20240101-000000-A3-e.eml 1700000000
qrow 4 news@example.com dee@example.com news no_consent 20240101-000000-A4-f.eml 1700000001
export SUDO_USER=alice
check "audit: release" 0 "released 1 to <ann@example.com>" \
    quarantine release 1
unset SUDO_USER
check "audit: release --force" 0 "released 2 to <dee@example.com> (forced)" \
    quarantine release 2 --force
check "audit: delete" 0 "deleted 3 (spool file removed)" quarantine delete 3
check "audit: purge" 0 \
    "purged 3 rows older than 60s, removed 3 spool files and 0 orphans" \
    quarantine purge --older-than 1m
check_sql "audit: release event, under the recipient" \
    "quarantine_released|news|optinctl|id=1 queue_id=Q1 reason=no_consent decision=deliver forced=no|$agent sudo_user=alice" \
    "SELECT event || '|' || list_id || '|' || source || '|' || evidence || '|' || user_agent FROM consent_events WHERE address = 'ann@example.com' AND event LIKE 'quarantine%' ORDER BY id LIMIT 1"
check_sql "audit: dee's events: forced release, delete, purge" \
    "quarantine_released|id=2 queue_id=Q2 reason=no_consent decision=no_consent forced=yes|$agent
quarantine_deleted|id=3 queue_id=Q3 reason=no_consent|$agent
quarantine_purged|id=2 queue_id=Q2 reason=no_consent older_than=60s|$agent
quarantine_purged|id=4 queue_id=Q4 reason=no_consent older_than=60s|$agent" \
    "SELECT event || '|' || evidence || '|' || user_agent AS e FROM consent_events WHERE address = 'dee@example.com' ORDER BY id"
check_json "audit: export shows the admin actions" 0 \
    '[(e["event"], e["user_agent"]) for e in d["events"]] == [("quarantine_released", "'"$agent"'"), ("quarantine_deleted", "'"$agent"'"), ("quarantine_purged", "'"$agent"'"), ("quarantine_purged", "'"$agent"'")] and d["quarantine"] == []' \
    export dee@example.com
run history dee@example.com
if [ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | sed -n 2p | sed 's/^20[0-9T:-]*Z /TIME /')" = "TIME news quarantine_deleted source=optinctl evidence=\"id=3 queue_id=Q3 reason=no_consent\" agent=\"$agent\"" ]
then ok; else bad "audit: history shows the admin actions" "rc $rc" "$out"; fi

# forget: the erase event names who erased
SUDO_USER=alice "$OPTINCTL" -c "$conf" forget dee@example.com >/dev/null
check_sql "audit: forget names the user" "$agent sudo_user=alice" \
    "SELECT user_agent FROM consent_events WHERE event = 'erased'"
