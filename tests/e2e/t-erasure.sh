#!/bin/bash
# t-erasure.sh - erasure and the internal markers through a real Postfix
# (issue 10, items 3 and 0c):
#  1. optinctl forget, then "optinctl token newkey" twice and a restart of
#     the milter: a CRM import does not bring the erased person back, and
#     she is held as suppressed (the erased form is keyed with
#     ErasureKeyFile, which init created);
#  2. the erased form of the crafted "address" release|news|bob@example.com
#     sent as an X-Optin-Release marker does not deliver to bob, who opted
#     out of news: checked and held;
#  3. the marker of a real forced release, on another message to bob, is
#     not honoured either: checked and held.
# Exact recipients per message and exact quarantine rows.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-erasure

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "ErasureKeyFile $PF_BASE/optin/erasure.keys" ||
	{ e2e_fail "consent database set up"; e2e_done; }
CONF=$OPTIN_DIR/optin-milter.conf
ctl() { "$OPTINCTL" -c "$CONF" "$@"; }
# released copies pass through this wrapper, which keeps the last one
cat > "$PF_BASE/keep-sendmail" <<EOS
#!/bin/sh
tee "$PF_BASE/released.eml" | /usr/sbin/sendmail -C $PF_BASE/conf "\$@"
EOS
chmod 755 "$PF_BASE/keep-sendmail"
sed -i "s|^SendmailCommand .*|SendmailCommand $PF_BASE/keep-sendmail -i|" "$CONF"
e2e_check_eq "init created ErasureKeyFile, mode 0600, one key" \
    "$(stat -c %a "$OPTIN_DIR/erasure.keys") $(grep -c '^1 ' "$OPTIN_DIR/erasure.keys")" \
    "600 1"
milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }

# msg FILE MESSAGE-ID [HEADER] - a small campaign message
msg()
{
	{ printf 'From: News <news@example.com>\r\nTo: you@example.com\r\n'
	  printf 'Subject: news\r\nMessage-ID: %s\r\n' "$2"
	  [ -n "${3:-}" ] && printf '%s\r\n' "$3"
	  printf '\r\nbody of %s\r\n' "$2"; } > "$1"
}

# held MESSAGE-ID - its quarantine rows, "recipient=reason" one a line
held()
{
	optin_sql "select recipient || '=' || reason from quarantine where message_id = '$1' order by recipient"
}

# --- 1. erased, token keys rotated twice, milter restarted --------------------
e2e_check_eq "forget ann" "$(ctl forget ann@example.com | head -n 1)" \
    "erased ann@example.com: subscriptions=3 events=6 quarantine=0 suppressions=0 spool_files=0 temp_files=0"
ann_form=$(optin_sql "select address from suppressions where reason = 'erased'")
e2e_check "ann is kept as erased:1:HEX" \
    grep -qxE 'erased:1:[0-9a-f]{64}' <<<"$ann_form"
ctl token newkey >/dev/null && ctl token newkey >/dev/null
e2e_check_eq "token keys rotated twice" "$(grep -c '^[0-9]' "$OPTIN_DIR/token.keys")" 3
milter_stop
milter_start "$CONF" || { e2e_fail "milter restarts"; e2e_done; }
# the CRM's next sync still lists ann as opted in
printf 'address,list,status\nann@example.com,news,opted_in\n' > "$PF_BASE/crm.csv"
# (a bad row: no silent re-consent without fresh evidence)
e2e_check_eq "the CRM import refuses erased ann" \
    "$(ctl import "$PF_BASE/crm.csv" 2>/dev/null)" \
    "import $PF_BASE/crm.csv: format=optin rows=1 added=0 changed=0 unchanged=0 kept=0 skipped=0 bad=1"
msg "$PF_BASE/m1" "<er-1@example.com>"
pf_send news@example.com ann@example.com,frank@example.com "$PF_BASE/m1" >/dev/null
pf_wait_empty 60
sink_wait_count 1 30
e2e_check_eq "after rotation and restart: only frank receives" \
    "$(sink_rcpts_by_header Message-ID '<er-1@example.com>' | tr '\n' ' ')" \
    "frank@example.com "
e2e_check_eq "ann held as suppressed" "$(held '<er-1@example.com>')" \
    "ann@example.com=suppressed"

# --- 2. the erased form of "release|news|bob@example.com" as a marker ---------
ctl forget 'release|news|bob@example.com' >/dev/null
form=$(optin_sql "select address from suppressions where reason = 'erased' and address <> '$ann_form'")
mac=${form##*:}
e2e_check "crafted string erased" grep -qxE '[0-9a-f]{64}' <<<"$mac"
now=$(date +%s)
msg "$PF_BASE/a1" "<attack-1@example.com>" "X-Optin-Release: list=news; mac=$mac"
msg "$PF_BASE/a2" "<attack-2@example.com>" \
    "X-Optin-Release: v=2; q=A1; id=1; t=$now; x=$((now + 600)); list=news; mac=$mac"
pf_send news@example.com bob@example.com "$PF_BASE/a1" >/dev/null
pf_send news@example.com bob@example.com "$PF_BASE/a2" >/dev/null
pf_wait_empty 60
e2e_check_eq "old-form marker from the erased form: not delivered" \
    "$(sink_rcpts_by_header Message-ID '<attack-1@example.com>')" ""
e2e_check_eq "old-form marker: bob held as opted_out" \
    "$(held '<attack-1@example.com>')" "bob@example.com=opted_out"
e2e_check_eq "v=2 marker with the erased form's MAC: not delivered" \
    "$(sink_rcpts_by_header Message-ID '<attack-2@example.com>')" ""
e2e_check_eq "v=2 marker: bob held as opted_out" \
    "$(held '<attack-2@example.com>')" "bob@example.com=opted_out"

# --- 3. a real release marker replayed on another message --------------------
msg "$PF_BASE/h1" "<held-1@example.com>"
pf_send news@example.com bob@example.com "$PF_BASE/h1" >/dev/null
pf_wait_empty 60
id=$(optin_sql "select id from quarantine where message_id = '<held-1@example.com>'")
e2e_check_eq "forced release" "$(ctl quarantine release "$id" --force)" \
    "released $id to <bob@example.com> (forced)"
pf_wait_empty 60
sink_wait_count 2 30
e2e_check_eq "the released copy is delivered to bob" \
    "$(sink_rcpts_by_header Message-ID '<held-1@example.com>')" "bob@example.com"
marker=$(head -n 1 "$PF_BASE/released.eml" | tr -d '\r')
e2e_check "the released copy carried a bound marker" grep -qE \
    "^X-Optin-Release: v=2; q=[0-9A-Za-z]+; id=$id; t=[0-9]+; x=[0-9]+; list=news; mac=[0-9a-f]{64}\$" \
    <<<"$marker"
msg "$PF_BASE/h2" "<held-2@example.com>" "$marker"
pf_send news@example.com bob@example.com "$PF_BASE/h2" >/dev/null
pf_wait_empty 60
e2e_check_eq "replayed release marker: not delivered" \
    "$(sink_rcpts_by_header Message-ID '<held-2@example.com>')" ""
e2e_check_eq "replayed release marker: bob held as opted_out" \
    "$(held '<held-2@example.com>')" "bob@example.com=opted_out"
e2e_check "milter logged the refused marker" \
    grep -q "X-Optin-Release header not valid here (bad): ignored" "$MILTER_LOG"
e2e_check_eq "delivered in all: frank's and bob's released copy" "$(sink_count)" 2
e2e_check_eq "quarantine rows in all" \
    "$(optin_sql "select message_id || '=' || recipient || '=' || reason || '=' || CASE WHEN released_at IS NULL THEN 0 ELSE 1 END from quarantine order by id")" \
    "<er-1@example.com>=ann@example.com=suppressed=0
<attack-1@example.com>=bob@example.com=opted_out=0
<attack-2@example.com>=bob@example.com=opted_out=0
<held-1@example.com>=bob@example.com=opted_out=1
<held-2@example.com>=bob@example.com=opted_out=0"
e2e_done
