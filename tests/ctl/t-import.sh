# t-import.sh - optinctl import and export-list (sourced by run.sh, which
# has the helpers check, check_err, check_json, check_sql, new_db, lock_db).
# Exact summaries and error lines with their line numbers; events read back.

new_db imp
f=$tmp/imp

# --- a well-formed file: BOM, CRLF, quoted fields --------------------------

printf '\357\273\277address,list,status,source,consented_at,evidence\r\n' > "$f-a.csv"
printf 'ann@example.com,news,opted_in,crm,2024-03-01T10:00:00Z,"form 12, page 2"\r\n' >> "$f-a.csv"
printf '"Bob@Example.COM",news,pending,,,\r\n' >> "$f-a.csv"
printf 'cy@example.com,promo,opted_out,,,"said ""stop"""\r\n' >> "$f-a.csv"
printf 'dee@b\303\274cher.example,news,opted_in,,1700000000,\r\n' >> "$f-a.csv"
check "import: BOM, CRLF, quotes" 0 \
    "import $f-a.csv: format=optin rows=4 added=4 changed=0 unchanged=0 kept=0 skipped=0 bad=0
2 of 4 will not get campaign mail: 1 pending (double opt-in not confirmed), 1 opted_out" \
    import "$f-a.csv"
check_sql "import: event with consented_at and evidence" \
    "opted_in|crm|consented_at=2024-03-01T10:00:00Z; form 12, page 2" \
    "SELECT event || '|' || source || '|' || evidence FROM consent_events WHERE address = 'ann@example.com'"
check_sql "import: default source, no evidence" "pending|import|-" \
    "SELECT event || '|' || source || '|' || coalesce(evidence, '-') FROM consent_events WHERE address = 'bob@example.com'"
check_sql "import: doubled quotes" 'said "stop"' \
    "SELECT evidence FROM consent_events WHERE address = 'cy@example.com'"
check_sql "import: IDN address, epoch consented_at" \
    "news|consented_at=2023-11-14T22:13:20Z" \
    "SELECT list_id || '|' || evidence FROM consent_events WHERE address = 'dee@xn--bcher-kva.example'"
nev=$(sql "SELECT count(*) FROM consent_events")
check "re-import changes nothing" 0 \
    "import $f-a.csv: format=optin rows=4 added=0 changed=0 unchanged=4 kept=0 skipped=0 bad=0
2 of 4 will not get campaign mail: 1 pending (double opt-in not confirmed), 1 opted_out" \
    import "$f-a.csv"
check_sql "re-import wrote no event" "$nev" "SELECT count(*) FROM consent_events"
tr -d '\r' < "$f-a.csv" | tail -c +4 > "$f-lf.csv"
check "same rows with LF and no BOM: unchanged" 0 \
    "import $f-lf.csv: format=optin rows=4 added=0 changed=0 unchanged=4 kept=0 skipped=0 bad=0
2 of 4 will not get campaign mail: 1 pending (double opt-in not confirmed), 1 opted_out" \
    import "$f-lf.csv"

# --- malformed rows: each reported with its line, the good ones imported --

cat > "$f-b.csv" <<'EOF'
address,list,status
ok1@example.com,news,opted_in
ok2@example.com,news
not-an-address,news,opted_in
ok3@example.com,nosuch,opted_in
ok4@example.com,news,subscribed
ok5@example.com,news,opted_in,x
"ok6@example.com",news,"pend"ing
ok7@example.com,news,opted_in
"ok8@example.com,news,opted_in
ok9@example.com,news,opted_in
EOF
run import "$f-b.csv"
want_err="optinctl import: $f-b.csv:3: 2 fields, the header has 3
optinctl import: $f-b.csv:4: bad address 'not-an-address': no '@' in address
optinctl import: $f-b.csv:5: no such list 'nosuch'
optinctl import: $f-b.csv:6: bad status 'subscribed' (pending, opted_in or opted_out)
optinctl import: $f-b.csv:7: 4 fields, the header has 3
optinctl import: $f-b.csv:8: text after the closing quote of a field
optinctl import: $f-b.csv:10: quoted field opened on line 10 is never closed (the rest of the input, to line 11, is skipped)"
want_out="import $f-b.csv: format=optin rows=9 added=2 changed=0 unchanged=0 kept=0 skipped=0 bad=7"
if [ "$rc" = 65 ] && [ "$out" = "$want_out" ] && [ "$err" = "$want_err" ]; then ok
else bad "import: malformed rows" "rc $rc" "out: $out" "err: $err" "want err: $want_err"; fi
check_sql "import: good rows of a bad file kept" "ok1@example.com ok7@example.com" \
    "SELECT group_concat(address, ' ') FROM (SELECT address FROM subscriptions WHERE address LIKE 'ok%' ORDER BY address) AS x"
check_json "import --json lists bad rows" 65 \
    'd["rows"] == 9 and d["bad"] == 7 and d["written"] is True and d["bad_rows"][0] == {"line": 3, "reason": "2 fields, the header has 3"} and len(d["bad_rows"]) == 7 and d["unchanged"] == 2' \
    --json import "$f-b.csv"

# --- invisible characters: a BOM only at the very start; no address with
# an invisible or control character (it looks like another's address) -----

printf 'address,list,status\nbm1@example.com,news,opted_in\n' > "$f-bom1.csv"
# two files joined: the second one's BOM and header; a BOM before a row
{ cat "$f-bom1.csv"; printf '\357\273\277address,list,status\n\357\273\277bm2@example.com,news,opted_in\n'
  printf 'bm\342\200\2133@example.com,news,opted_in\nbm4@exam\342\200\213ple.com,news,opted_in\n'
  printf 'bm5@example.com\302\240,news,opted_in\n'; } > "$f-bom.csv"
run import "$f-bom.csv"
want_err=$(printf '%s\n' \
    "optinctl import: $f-bom.csv:3: byte order mark (U+FEFF) in field 1: allowed only at the start of the file" \
    "optinctl import: $f-bom.csv:4: byte order mark (U+FEFF) in field 1: allowed only at the start of the file" \
    "optinctl import: $f-bom.csv:5: bad address 'bm???3@example.com': invisible character U+200B in address" \
    "optinctl import: $f-bom.csv:6: bad address 'bm4@exam???ple.com': invisible character U+200B in address" \
    "optinctl import: $f-bom.csv:7: bad address 'bm5@example.com??': invisible character U+00A0 in address")
if [ "$rc" = 65 ] && [ "$out" = "import $f-bom.csv: format=optin rows=6 added=1 changed=0 unchanged=0 kept=0 skipped=0 bad=5" ] && \
    [ "$err" = "$want_err" ]
then ok; else bad "import: BOM mid-file, invisible characters" "rc $rc" "out: $out" "err: $err" "want err: $want_err"; fi
check_sql "import: only the visible address imported" "bm1@example.com" \
    "SELECT group_concat(address, ' ') FROM subscriptions WHERE address LIKE 'bm%' OR address LIKE '%bm%'"
check_err "subscribe: an address with a BOM" 65 \
    "optinctl: bad address '???ann@example.com': invisible character U+FEFF in address" \
    subscribe "$(printf '\357\273\277')ann@example.com" news

# --- --strict, --dry-run ---------------------------------------------------

printf 'address,list,status\ns1@example.com,news,opted_in\nbad,news,opted_in\n' > "$f-c.csv"
check "import --strict refuses all" 65 \
    "import $f-c.csv: format=optin rows=2 added=1 changed=0 unchanged=0 kept=0 skipped=0 bad=1
nothing written (--strict and 1 bad row)" import "$f-c.csv" --strict
check_sql "--strict wrote nothing" 0 \
    "SELECT count(*) FROM subscriptions WHERE address = 's1@example.com'"
check "import --dry-run" 65 \
    "import $f-c.csv: format=optin rows=2 added=1 changed=0 unchanged=0 kept=0 skipped=0 bad=1
dry run: nothing written" import --dry-run "$f-c.csv"
check_sql "--dry-run wrote nothing" 0 \
    "SELECT count(*) FROM consent_events WHERE address = 's1@example.com'"
check "import --dry-run of a good file" 0 \
    "import $f-a.csv: format=optin rows=4 added=0 changed=0 unchanged=4 kept=0 skipped=0 bad=0
2 of 4 will not get campaign mail: 1 pending (double opt-in not confirmed), 1 opted_out
dry run: nothing written" import "$f-a.csv" --dry-run

# --- duplicates, opt-outs kept ----------------------------------------------

printf 'address,list,status\ndup@example.com,news,opted_in\ndup@example.com,news,opted_in\nDUP@example.com,news,opted_out\n' > "$f-d.csv"
run import "$f-d.csv"
if [ "$rc" = 65 ] && [ "$out" = "import $f-d.csv: format=optin rows=3 added=1 changed=1 unchanged=1 kept=0 skipped=0 bad=1
1 of 1 will not get campaign mail: 1 opted_out" ] && \
    [ "$err" = "optinctl import: $f-d.csv:4: dup@example.com on list news is opted_in on line 2: conflicting rows (the opt-out is applied)" ]
then ok; else bad "import: conflicting duplicates" "rc $rc" "out: $out" "err: $err"; fi
check_sql "import: a conflicting opt-out wins" "opted_out" \
    "SELECT status FROM subscriptions WHERE address = 'dup@example.com' AND list_id = 'news'"
printf 'address,list,status\nzig@example.com,news,opted_in\nzig@example.com,news,pending\n' > "$f-z.csv"
run import "$f-z.csv"
if [ "$rc" = 65 ] && [ "$out" = "import $f-z.csv: format=optin rows=2 added=1 changed=0 unchanged=0 kept=0 skipped=0 bad=1" ] && \
    [ "$err" = "optinctl import: $f-z.csv:3: zig@example.com on list news is opted_in on line 2: conflicting rows" ]
then ok; else bad "import: a conflict without opt-out: the first row stands" "rc $rc" "out: $out" "err: $err"; fi
printf 'address,list,status,consented_at\ncy@example.com,promo,opted_in,2020-01-01\n' > "$f-e.csv"
check "import: an old consent does not undo an opt-out" 0 \
    "import $f-e.csv: format=optin rows=1 added=0 changed=0 unchanged=0 kept=1 skipped=0 bad=0
1 of 1 will not get campaign mail: 1 opted_out" \
    import "$f-e.csv"

# --- consented_at: never in the future; a later opt-out always wins ----------
# (cy is opted_out on promo since the first import, a moment ago)

now=$(date +%s)
printf 'address,list,status,consented_at\ncy@example.com,promo,opted_in,%s\n' \
    $((now + 7200)) > "$f-e2.csv"
check "import: a consent within the clock skew is no proof of a later one" 0 \
    "import $f-e2.csv: format=optin rows=1 added=0 changed=0 unchanged=0 kept=1 skipped=0 bad=0
1 of 1 will not get campaign mail: 1 opted_out" \
    import "$f-e2.csv"
# an opt-out two hours ago and a consent dated 23 hours ahead (within the
# skew allowed for future dates): the future date counts as now, so the
# opt-out stands
sqlx "UPDATE subscriptions SET updated_at = $((now - 7200)) WHERE address = 'cy@example.com' AND list_id = 'promo'"
printf 'address,list,status,consented_at\ncy@example.com,promo,opted_in,%s\n' \
    $((now + 23 * 3600)) > "$f-e4.csv"
check "import: a consent dated ahead never outranks a recent opt-out" 0 \
    "import $f-e4.csv: format=optin rows=1 added=0 changed=0 unchanged=0 kept=1 skipped=0 bad=0
1 of 1 will not get campaign mail: 1 opted_out" \
    import "$f-e4.csv"
cat > "$f-fut.csv" <<EOF
address,list,status,consented_at
cy@example.com,promo,opted_in,2099-01-01
cy@example.com,promo,opted_in,9999-12-31T23:59:59Z
fut@example.com,promo,opted_in,$((now + 2 * 86400))
EOF
run import "$f-fut.csv"
if [ "$rc" = 65 ] && [ "$out" = "import $f-fut.csv: format=optin rows=3 added=0 changed=0 unchanged=0 kept=0 skipped=0 bad=3" ] && \
    [ "$err" = "optinctl import: $f-fut.csv:2: bad consented_at '2099-01-01': in the future (more than 24 hours after this host's clock)
optinctl import: $f-fut.csv:3: bad consented_at '9999-12-31T23:59:59Z': in the future (more than 24 hours after this host's clock)
optinctl import: $f-fut.csv:4: bad consented_at '$((now + 2 * 86400))': in the future (more than 24 hours after this host's clock)" ]
then ok; else bad "import: a consent in the future is a bad row" "rc $rc" "out: $out" "err: $err"; fi
run import "$f-fut.csv"
if [ "$rc" = 65 ] && [ "$out" = "import $f-fut.csv: format=optin rows=3 added=0 changed=0 unchanged=0 kept=0 skipped=0 bad=3" ]
then ok; else bad "import: a future consent, imported again" "rc $rc" "out: $out" "err: $err"; fi
check_sql "a future consent undid no opt-out, added nobody" \
    "cy@example.com|opted_out|0" \
    "SELECT address || '|' || status || '|' || (SELECT count(*) FROM subscriptions WHERE address = 'fut@example.com') FROM subscriptions WHERE address = 'cy@example.com' AND list_id = 'promo'"
check_sql "a future consent wrote no event" 0 \
    "SELECT count(*) FROM consent_events WHERE address IN ('cy@example.com', 'fut@example.com') AND event = 'opted_in'"
# an opt-out four days ago; a consent two days ago is later by more than the
# skew: it undoes it
sqlx "UPDATE subscriptions SET updated_at = $((now - 4 * 86400)) WHERE address = 'cy@example.com' AND list_id = 'promo'"
printf 'address,list,status,consented_at\ncy@example.com,promo,opted_in,%s\n' \
    $((now - 2 * 86400)) > "$f-e3.csv"
check "import: a later consent does" 0 \
    "import $f-e3.csv: format=optin rows=1 added=0 changed=1 unchanged=0 kept=0 skipped=0 bad=0" \
    import "$f-e3.csv"
check_sql "cy is opted in again" opted_in \
    "SELECT status FROM subscriptions WHERE address = 'cy@example.com' AND list_id = 'promo'"
# then cy opts out again: importing the same file once more changes nothing
"$OPTINCTL" -c "$conf" unsubscribe cy@example.com promo >/dev/null
check "import: an old file again never undoes a later opt-out" 0 \
    "import $f-e3.csv: format=optin rows=1 added=0 changed=0 unchanged=0 kept=1 skipped=0 bad=0
1 of 1 will not get campaign mail: 1 opted_out" \
    import "$f-e3.csv"
check_sql "cy stays opted out" opted_out \
    "SELECT status FROM subscriptions WHERE address = 'cy@example.com' AND list_id = 'promo'"

# --- Vtiger CRM export ------------------------------------------------------

cat > "$f-v.csv" <<'EOF'
"Contact Id","First Name","Last Name","Email","Secondary Email","Email Opt Out","Do Not Call"
12x1,Ann,A,vt1@example.com,,No,0
12x2,Bob,B,vt2@example.com,vt2b@example.com,Yes,0
12x3,Cy,C,,,No,0
12x4,Dee,D,VT1@example.com,,1,0
12x5,Eve,E,vt5@example.com,,perhaps,0
12x6,"Fay, F.",F,"vt6@example.com",,0,0
EOF
run import "$f-v.csv" --list crm
if [ "$rc" = 65 ] && [ "$out" = "import $f-v.csv: format=vtiger rows=6 added=4 changed=1 unchanged=0 kept=0 skipped=1 bad=1
5 of 5 will not get campaign mail: 2 pending (double opt-in not confirmed), 3 opted_out" ] && \
    [ "$err" = "optinctl import: $f-v.csv:6: bad Email Opt Out 'perhaps' (yes/no, 1/0)" ]
then ok; else bad "import vtiger" "rc $rc" "out: $out" "err: $err"; fi
check_sql "vtiger: no opt-out is pending, never opted_in" \
    "vt1@example.com|opted_out vt2@example.com|opted_out vt2b@example.com|opted_out vt6@example.com|pending" \
    "SELECT group_concat(address || '|' || status, ' ') FROM (SELECT * FROM subscriptions WHERE list_id = 'crm' ORDER BY address) AS x"
check_sql "vtiger: opt-out event" "opted_out|vtiger|Email Opt Out=yes" \
    "SELECT event || '|' || source || '|' || evidence FROM consent_events WHERE address = 'vt2b@example.com'"
check "vtiger: re-import changes nothing" 65 \
    "import $f-v.csv: format=vtiger rows=6 added=0 changed=0 unchanged=4 kept=1 skipped=1 bad=1
5 of 5 will not get campaign mail: 1 pending (double opt-in not confirmed), 4 opted_out" \
    import "$f-v.csv" --list crm
check "vtiger --assume-opt-in: never over an opt-out" 65 \
    "import $f-v.csv: format=vtiger rows=6 added=0 changed=1 unchanged=3 kept=1 skipped=1 bad=1
4 of 5 will not get campaign mail: 4 opted_out" \
    import "$f-v.csv" --list crm --assume-opt-in "web form 2019" --source crm-sync
check_sql "vtiger --assume-opt-in: evidence" "opted_in|crm-sync|assumed opt-in: web form 2019" \
    "SELECT event || '|' || source || '|' || evidence FROM consent_events WHERE address = 'vt6@example.com' ORDER BY id DESC LIMIT 1"
check_err "vtiger without --list" 64 \
    "optinctl import: $f-v.csv: a Vtiger export names no list: give --list" \
    import "$f-v.csv"
check_err "--assume-opt-in on an optin file" 64 \
    "optinctl import: --assume-opt-in is for CRM exports; this file has a 'status' column" \
    import "$f-a.csv" --assume-opt-in x

# Vtiger 7: a Contact's address is "Primary Email"; the opt-out box 1/0,
# yes/no, on/off in any case; Secondary Email is the same person's other
# address and the row's opt-out holds for both (own list: export-list crm
# below shows the rows above)
"$OPTINCTL" -c "$conf" list add v7 >/dev/null
cat > "$f-v7.csv" <<'EOF'
"Salutation","First Name","Last Name","Primary Email","Secondary Email","Email Opt Out","Assigned To"
Ms.,Ann,A,v7a@example.com,,0,admin
Mr.,Bob,B,v7b@example.com,v7b2@example.com,1,admin
,Cy,C,v7c@example.com,,yes,admin
,Dee,D,v7d@example.com,,NO,admin
,Eve,E,v7e@example.com,v7e2@example.com,On,admin
,Fay,F,v7f@example.com,,off,admin
,Gus,G,,v7g2@example.com,0,admin
,Hal,H,,,1,admin
EOF
check "import vtiger 7: Primary Email" 0 \
    "import $f-v7.csv: format=vtiger rows=8 added=9 changed=0 unchanged=0 kept=0 skipped=1 bad=0
9 of 9 will not get campaign mail: 4 pending (double opt-in not confirmed), 5 opted_out" \
    import "$f-v7.csv" --list v7
check_sql "vtiger 7: every address, the row's opt-out for both" \
    "v7a@example.com|pending v7b2@example.com|opted_out v7b@example.com|opted_out v7c@example.com|opted_out v7d@example.com|pending v7e2@example.com|opted_out v7e@example.com|opted_out v7f@example.com|pending v7g2@example.com|pending" \
    "SELECT group_concat(address || '|' || status, ' ') FROM (SELECT * FROM subscriptions WHERE address LIKE 'v7%' ORDER BY address) AS x"
check_sql "vtiger 7: opt-out events" \
    "v7b2@example.com|opted_out|vtiger|Email Opt Out=yes" \
    "SELECT address || '|' || event || '|' || source || '|' || evidence FROM consent_events WHERE address = 'v7b2@example.com'"
# API field names, and a Lead export of older versions ("Email")
printf 'email,secondaryemail,emailoptout\nv7h@example.com,,1\n' > "$f-v7api.csv"
check "import vtiger field names" 0 \
    "import $f-v7api.csv: format=vtiger rows=1 added=1 changed=0 unchanged=0 kept=0 skipped=0 bad=0
1 of 1 will not get campaign mail: 1 opted_out" \
    import "$f-v7api.csv" --list v7
# a header that maps no address column is an error naming what it has,
# never rows skipped in silence
printf '"First Name","Primary E-mail","Secondary Email","Email Opt Out"\nAnn,v7x@example.com,,0\n' > "$f-v7bad.csv"
check_err "import: a header without a known address column" 65 \
    "optinctl import: $f-v7bad.csv:1: no address column (want 'address', or Vtiger's 'Email' or 'Primary Email'); the header has 'First Name', 'Primary E-mail', 'Secondary Email', 'Email Opt Out'" \
    import "$f-v7bad.csv" --list v7
check_sql "nothing imported from it" 0 \
    "SELECT count(*) FROM subscriptions WHERE address = 'v7x@example.com'"
printf 'Email,Primary Email\nv7y@example.com,v7y@example.com\n' > "$f-v7dup.csv"
check_err "import: two address columns" 65 \
    "optinctl import: $f-v7dup.csv:1: column 2 'Primary Email' repeats column 1 'Email'" \
    import "$f-v7dup.csv" --list v7

# --- files that cannot be imported ------------------------------------------

check_err "import: no such file" 66 \
    "optinctl import: $f-none.csv: No such file or directory" import "$f-none.csv"
: > "$f-empty.csv"
check_err "import: empty file" 65 \
    "optinctl import: $f-empty.csv: empty file (no header row)" import "$f-empty.csv"
printf 'name,phone\nx,1\n' > "$f-h.csv"
check_err "import: no address column" 65 \
    "optinctl import: $f-h.csv:1: no address column (want 'address', or Vtiger's 'Email' or 'Primary Email'); the header has 'name', 'phone'" \
    import "$f-h.csv"
printf 'address,status\nx@example.com,opted_in\n' > "$f-nl.csv"
check_err "import: no list" 64 "optinctl import: $f-nl.csv: no 'list' column: give --list" \
    import "$f-nl.csv"
check "import: --list for a file without list column" 0 \
    "import $f-nl.csv: format=optin rows=1 added=1 changed=0 unchanged=0 kept=0 skipped=0 bad=0" \
    import "$f-nl.csv" --list news
check_err "import: no file" 64 \
    "usage: optinctl [-c FILE] [--json] import FILE.csv [--list L] [--source S] [--strict] [--dry-run] [--assume-opt-in SOURCE]" \
    import

# --- export-list ------------------------------------------------------------

"$OPTINCTL" -c "$conf" unsubscribe zz@example.com --all >/dev/null
run export-list crm
if [ "$rc" = 0 ] && [ "$(printf '%s' "$out" | tr -d '\r')" = "Email,Email Opt Out
vt1@example.com,1
vt2@example.com,1
vt2b@example.com,1
vt6@example.com,0" ] && [ "$(printf '%s\n' "$out" | grep -c "$(printf '\r')\$")" = 5 ]
then ok; else bad "export-list (vtiger, CRLF)" "rc $rc" "out: $out"; fi
run export-list --opt-outs crm
if [ "$rc" = 0 ] && [ "$(printf '%s' "$out" | tr -d '\r')" = "Email,Email Opt Out
vt1@example.com,1
vt2@example.com,1
vt2b@example.com,1
zz@example.com,1" ]; then ok; else bad "export-list --opt-outs" "rc $rc" "out: $out"; fi
run export-list crm --format csv
if [ "$rc" = 0 ] && [ "$(printf '%s' "$out" | tr -d '\r' | sed 's/,20[0-9T:-]*Z$/,TIME/')" = "address,list,status,source,updated_at
vt1@example.com,crm,opted_out,vtiger,TIME
vt2@example.com,crm,opted_out,vtiger,TIME
vt2b@example.com,crm,opted_out,vtiger,TIME
vt6@example.com,crm,opted_in,crm-sync,TIME" ]; then ok
else bad "export-list --format csv" "rc $rc" "out: $out"; fi
printf '%s\n' "$out" > "$f-x.csv"
check "export-list --format csv imports back unchanged" 0 \
    "import $f-x.csv: format=optin rows=4 added=0 changed=0 unchanged=4 kept=0 skipped=0 bad=0
3 of 4 will not get campaign mail: 3 opted_out" \
    import "$f-x.csv"
"$OPTINCTL" -c "$conf" export-list crm > "$f-y.csv"
check "export-list (vtiger) imports back unchanged" 0 \
    "import $f-y.csv: format=vtiger rows=4 added=0 changed=0 unchanged=4 kept=0 skipped=0 bad=0
3 of 4 will not get campaign mail: 3 opted_out" \
    import "$f-y.csv" --list crm
check_json "export-list --json" 0 \
    '[(s["address"], s["status"], s["suppressed"]) for s in d["subscriptions"]] == [("vt1@example.com", "opted_out", False), ("vt2@example.com", "opted_out", False), ("vt2b@example.com", "opted_out", False), ("vt6@example.com", "opted_in", False)]' \
    --json export-list crm
check_err "export-list unknown list" 65 "optinctl: no such list 'nosuch'" \
    export-list nosuch
check_err "export-list bad format" 64 "optinctl export-list: --format is vtiger or csv" \
    export-list crm --format xml

# --- spreadsheet-safe export: a cell that starts like a formula gets a ' in
# front and quotes (OWASP); import takes exactly that ' off again -----------

"$OPTINCTL" -c "$conf" list add fx >/dev/null
"$OPTINCTL" -c "$conf" subscribe '=1+1@example.com' fx \
    --source '=HYPERLINK("http://evil.example","x")' >/dev/null
"$OPTINCTL" -c "$conf" subscribe -- '-x@example.com' fx >/dev/null
"$OPTINCTL" -c "$conf" subscribe "'=y@example.com" fx >/dev/null
run export-list fx
want=$(printf '%s\r\n' 'Email,Email Opt Out' "\"''=y@example.com\",0" \
    "\"'-x@example.com\",0" "\"'=1+1@example.com\",0")
if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then ok
else bad "export-list: formulas neutralised (vtiger)" "rc $rc" "out: $out" "want: $want"; fi
printf '%s\n' "$out" > "$f-fx-v.csv"
check "export-list: neutralised vtiger file imports back unchanged" 0 \
    "import $f-fx-v.csv: format=vtiger rows=3 added=0 changed=0 unchanged=3 kept=0 skipped=0 bad=0" \
    import "$f-fx-v.csv" --list fx
run export-list fx --format csv
want="address,list,status,source,updated_at
\"''=y@example.com\",fx,opted_in,optinctl,TIME
\"'-x@example.com\",fx,opted_in,optinctl,TIME
\"'=1+1@example.com\",fx,opted_in,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",TIME"
if [ "$rc" = 0 ] && [ "$(printf '%s' "$out" | tr -d '\r' | sed 's/,20[0-9T:-]*Z$/,TIME/')" = "$want" ]; then ok
else bad "export-list --format csv: formulas neutralised" "rc $rc" "out: $out" "want: $want"; fi
printf '%s\n' "$out" > "$f-fx.csv"
check "export-list: neutralised csv file imports back unchanged" 0 \
    "import $f-fx.csv: format=optin rows=3 added=0 changed=0 unchanged=3 kept=0 skipped=0 bad=0" \
    import "$f-fx.csv"
check_sql "round trip: the same addresses, no ' added or lost" \
    "'=y@example.com -x@example.com =1+1@example.com" \
    "SELECT group_concat(address, ' ') FROM (SELECT address FROM subscriptions WHERE list_id = 'fx' ORDER BY address) AS x"

# --- a locked database -------------------------------------------------------

if db_pgsql; then
	:	# SQLite's write lock (PostgreSQL: tests/unit t_locked)
elif lock_db "$db"; then
	check_err "import, locked" 75 \
	    "optinctl: ConsentDB $db: BEGIN IMMEDIATE: database is locked (waited DBBusyTimeout, 300 ms, for the write lock another process holds)" \
	    import "$f-a.csv"
	check "import --dry-run while locked" 0 \
	    "import $f-a.csv: format=optin rows=4 added=0 changed=0 unchanged=4 kept=0 skipped=0 bad=0
2 of 4 will not get campaign mail: 1 pending (double opt-in not confirmed), 1 opted_out
dry run: nothing written" import "$f-a.csv" --dry-run
else
	bad "lock holder did not start"
fi
unlock_db 2>/dev/null

# (on PostgreSQL only with OPTIN_PG_FULL=1: minutes on a busy machine)
if ! db_pgsql || [ -n "${OPTIN_PG_FULL:-}" ]; then
# --- long imports: bounded transactions, progress on a terminal --------------

# 200,000 rows: other writers get the database between the import's
# transactions.  The subscribes below wait up to 10 s for the lock (the
# machine may be loaded); what shows that they got in between is the order
# of the consent events: some of theirs lie between the import's first and
# last (one transaction for the whole import would put all of them before
# or after)
new_db big
sed 's/^DBBusyTimeout .*/DBBusyTimeout 10000/' "$conf" > "$tmp/big-wait.conf"
awk 'BEGIN { print "address,list,status"
    for (i = 0; i < 200000; i++) printf "b%06d@big.example,news,opted_in\n", i }' \
    > "$tmp/big.csv"
"$OPTINCTL" -c "$conf" import "$tmp/big.csv" >"$tmp/big.out" 2>"$tmp/big.err" &
ipid=$!
sleep 0.2
n=0 nok=0
: > "$tmp/loop.err"
while [ "$n" -lt 40 ] && kill -0 "$ipid" 2>/dev/null; do
	if "$OPTINCTL" -c "$tmp/big-wait.conf" subscribe "loop$n@example.com" \
	    news >/dev/null 2>>"$tmp/loop.err"; then
		nok=$((nok + 1))
	fi
	n=$((n + 1))
done
wait "$ipid"
irc=$?
between=$(sql "SELECT count(*) FROM consent_events WHERE address LIKE 'loop%' AND id > (SELECT min(id) FROM consent_events WHERE address LIKE 'b%') AND id < (SELECT max(id) FROM consent_events WHERE address LIKE 'b%')")
if [ "$irc" = 0 ] && [ "$nok" = "$n" ] && [ "$between" -ge 2 ] &&
    [ "$(cat "$tmp/big.out")" = "import $tmp/big.csv: format=optin rows=200000 added=200000 changed=0 unchanged=0 kept=0 skipped=0 bad=0" ]; then
	ok
else
	bad "import: other writers get in between its transactions" \
	    "import exit $irc, $nok of $n subscribes ok, $between written between the import's first and last row" \
	    "out: $(cat "$tmp/big.out")" "loop stderr: $(head -n 3 "$tmp/loop.err")"
fi
check_sql "import: every row and every subscribe written" \
    "200000 $n $n" \
    "SELECT (SELECT count(*) FROM subscriptions WHERE address LIKE 'b%' AND status = 'opted_in') || ' ' || (SELECT count(*) FROM subscriptions WHERE address LIKE 'loop%' AND status = 'opted_in') || ' ' || (SELECT count(*) FROM consent_events WHERE address LIKE 'loop%')"

# progress on a terminal: rows, percent, rows/s, time left; overwritten in
# place and cleared before the summary.  Rows that are added (200,000 take
# about a second): the same file again, all unchanged, can end within the
# first refresh (PROGRESS_MS, 250 ms) and show none
awk 'BEGIN { print "address,list,status"
    for (i = 0; i < 200000; i++) printf "x%06d@big.example,news,opted_in\n", i }' \
    > "$tmp/bigp.csv"
script -q -e -c "'$OPTINCTL' -c '$conf' import '$tmp/bigp.csv'" /dev/null \
    > "$tmp/pty.out" 2>&1
prc=$?
psumline="import $tmp/bigp.csv: format=optin rows=200000 added=200000 changed=0 unchanged=0 kept=0 skipped=0 bad=0"
sumline="import $tmp/big.csv: format=optin rows=200000 added=0 changed=0 unchanged=200000 kept=0 skipped=0 bad=0"
prog=$(tr '\r' '\n' < "$tmp/pty.out" | grep -c '^.\[Koptinctl import: [0-9]* rows ([0-9]*%), [0-9]* rows/s, [0-9]*:[0-9][0-9] left$')
last=$(tr '\r' '\n' < "$tmp/pty.out" | grep -v '^$' | tail -n 1)
if [ "$prc" = 0 ] && [ "$prog" -ge 1 ] && [ "$last" = "$(printf '\033[K')$psumline" ]; then
	ok
else
	bad "import: progress line on a terminal" "exit $prc, $prog progress lines" \
	    "last line: $last" "output: $(head -c 300 "$tmp/pty.out" | od -c | head -n 5)"
fi
# --json counts the transactions: 200,000 rows never fit in one of 25 ms
check_json "import --json: bounded transactions counted" 0 \
    'd["rows"] == 200000 and d["unchanged"] == 200000 and d["transactions"] >= 2 and d["longest_transaction_ms"] >= 0' \
    --json import "$tmp/big.csv"
# quiet when stderr is no terminal, and with --json on a terminal
run import "$tmp/big.csv"
if [ "$rc" = 0 ] && [ "$out" = "$sumline" ] && [ -z "$err" ]; then ok
else bad "import: no progress without a terminal" "rc $rc" "out: $out" "err: $err"; fi
script -q -e -c "'$OPTINCTL' -c '$conf' --json import '$tmp/big.csv' >/dev/null" \
    /dev/null > "$tmp/pty.out" 2>&1
if [ "$?" = 0 ] && [ ! -s "$tmp/pty.out" ]; then ok
else bad "import --json: no progress on a terminal" "$(head -c 200 "$tmp/pty.out")"; fi

# an import that stops half-way (a database error on line 40,002) keeps
# what it committed and says exactly up to which line; run again, it
# finishes and changes none of the rows already written
new_db stop
awk 'BEGIN { print "address,list,status"
    for (i = 0; i < 50000; i++) printf "s%06d@stop.example,news,opted_in\n", i }' \
    > "$tmp/stop.csv"
sqlx "CREATE TRIGGER boom BEFORE INSERT ON subscriptions WHEN NEW.address = 's040000@stop.example' BEGIN SELECT RAISE(ABORT, 'boom'); END"
run import "$tmp/stop.csv"
upto=$(printf '%s\n' "$err" | sed -n 's/.*stopped after 40001 rows: rows up to line \([0-9]*\) are written.*/\1/p')
want_err="optinctl: ConsentDB $db: import: boom
optinctl import: $tmp/stop.csv: stopped after 40001 rows: rows up to line $upto are written, later ones are not (import the file again to finish: written rows do not change)"
if [ "$rc" != 0 ] && [ -z "$out" ] && [ -n "$upto" ] && [ "$upto" -gt 1 ] &&
    [ "$upto" -le 40001 ] && [ "$err" = "$want_err" ]; then ok
else bad "import: stopped half-way, says where" "rc $rc" "out: $out" "err: $err"; fi
check_sql "import: exactly the rows up to that line are written" \
    "$(( ${upto:-1} - 1 )) $(( ${upto:-1} - 1 ))" \
    "SELECT (SELECT count(*) FROM subscriptions) || ' ' || (SELECT count(*) FROM consent_events)"
sqlx "DROP TRIGGER boom"
check "import again after a stop: finishes, written rows unchanged" 0 \
    "import $tmp/stop.csv: format=optin rows=50000 added=$(( 50000 - ${upto:-1} + 1 )) changed=0 unchanged=$(( ${upto:-1} - 1 )) kept=0 skipped=0 bad=0" \
    import "$tmp/stop.csv"

# --strict: the whole file is checked before the first row is written, also
# from standard input (copied first); a good file is then written in full
cp "$tmp/stop.csv" "$tmp/strict.csv"
echo 'bad-address,news,opted_in' >> "$tmp/strict.csv"
new_db strict
run import - --strict < "$tmp/strict.csv"
if [ "$rc" = 65 ] && [ "$out" = "import -: format=optin rows=50001 added=50000 changed=0 unchanged=0 kept=0 skipped=0 bad=1
nothing written (--strict and 1 bad row)" ] &&
    [ "$err" = "optinctl import: -:50002: bad address 'bad-address': no '@' in address" ]; then ok
else bad "import - --strict: bad last row, nothing written" "rc $rc" "out: $out" "err: $err"; fi
check_sql "import --strict: nothing written" 0 "SELECT count(*) FROM subscriptions"
check "import - --strict of a good file" 0 \
    "import -: format=optin rows=50000 added=50000 changed=0 unchanged=0 kept=0 skipped=0 bad=0" \
    import - --strict < "$tmp/stop.csv"
check_sql "import --strict: all written" 50000 "SELECT count(*) FROM subscriptions"
fi

# --- the summary says how many will not get campaign mail, and why: each
# imported (address, list) counted once, in the state it is left in -------

new_db states
"$OPTINCTL" -c "$conf" subscribe kept@example.com news >/dev/null &&
"$OPTINCTL" -c "$conf" unsubscribe kept@example.com news >/dev/null &&
"$OPTINCTL" -c "$conf" unsubscribe sup@example.com --all >/dev/null &&
"$OPTINCTL" -c "$conf" subscribe gone@example.com crm >/dev/null &&
"$OPTINCTL" -c "$conf" forget gone@example.com >/dev/null ||
    bad "import states: set-up"
cat > "$f-st.csv" <<'EOF2'
address,list,status
in@example.com,news,opted_in
in@example.com,news,opted_in
pend@example.com,promo,pending
out@example.com,news,opted_out
kept@example.com,news,opted_in
sup@example.com,crm,opted_out
gone@example.com,crm,opted_out
in2@example.com,crm,opted_in
EOF2
check "import: who will not get campaign mail, and why" 0 \
    "import $f-st.csv: format=optin rows=8 added=5 changed=0 unchanged=1 kept=1 skipped=1 bad=0
5 of 7 will not get campaign mail: 1 pending (double opt-in not confirmed), 2 opted_out, 1 suppressed, 1 erased" \
    import "$f-st.csv"
check_json "import --json: the states" 0 \
    'd["states"] == {"opted_in": 2, "pending": 1, "opted_out": 2, "suppressed": 1, "erased": 1}' \
    --json import "$f-st.csv"
printf 'address,list,status\nin@example.com,news,opted_in\n' > "$f-st2.csv"
check "import: all opted in, no campaign-mail line" 0 \
    "import $f-st2.csv: format=optin rows=1 added=0 changed=0 unchanged=1 kept=0 skipped=0 bad=0" \
    import "$f-st2.csv"

# --- input that comes slowly (a CRM export piped in): the import never
# waits for its next rows holding the write lock, and a forget that runs
# meanwhile holds for the rows after it --------------------------------------

new_db slow
"$OPTINCTL" -c "$conf" subscribe slowgone@example.com news >/dev/null ||
    bad "slow input: set-up"
rm -f "$tmp/slow.fifo"
mkfifo "$tmp/slow.fifo"
"$OPTINCTL" -c "$conf" import - < "$tmp/slow.fifo" > "$tmp/slow.out" \
    2> "$tmp/slow.err" &
ipid=$!
exec 7> "$tmp/slow.fifo"
printf 'address,list,status\nslow1@example.com,news,opted_in\n' >&7
# the first row is written while the pipe stays open (at most 10 s)
i=0
while [ "$(sql "SELECT count(*) FROM subscriptions WHERE address = 'slow1@example.com'")" != 1 ] &&
    [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check_sql "slow input: rows read so far are written" 1 \
    "SELECT count(*) FROM subscriptions WHERE address = 'slow1@example.com'"
# another writer gets the database while the import waits (DBBusyTimeout
# 300 ms), and an erasure too
check "slow input: another writer is not kept waiting" 0 \
    "other@example.com list=news state=opted_in" \
    subscribe other@example.com news
run forget slowgone@example.com
if [ "$rc" = 0 ]; then ok
else bad "slow input: forget meanwhile" "rc $rc" "out: $out" "err: $err"; fi
printf 'slow2@example.com,news,opted_in\nslowgone@example.com,news,opted_in\n' >&7
exec 7>&-
wait "$ipid"
irc=$?
if [ "$irc" = 65 ] &&
    [ "$(cat "$tmp/slow.out")" = "import -: format=optin rows=3 added=2 changed=0 unchanged=0 kept=0 skipped=0 bad=1" ] &&
    [ "$(cat "$tmp/slow.err")" = "optinctl import: -:4: slowgone@example.com was erased (optinctl forget): a new opt-in needs fresh consent evidence (--evidence TEXT): not imported (optinctl subscribe ADDR LIST --evidence TEXT lifts it)" ]
then ok
else bad "slow input: the erased address after the forget is refused" \
	"exit $irc" "out: $(cat "$tmp/slow.out")" "err: $(cat "$tmp/slow.err")"; fi
check_sql "slow input: exactly the rows and the subscribe written" \
    "other@example.com|opted_in slow1@example.com|opted_in slow2@example.com|opted_in" \
    "SELECT group_concat(address || '|' || status, ' ') FROM (SELECT address, status FROM subscriptions ORDER BY address) AS x"
rm -f "$tmp/slow.fifo"

# --- duplicates far apart: the duplicate-row table grows (65,536 slots,
# then twice as many at 70%) and still knows the first rows -----------------

if ! db_pgsql || [ -n "${OPTIN_PG_FULL:-}" ]; then
new_db dupbig
awk 'BEGIN { print "address,list,status"
    for (i = 0; i < 60000; i++) printf "d%06d@dup.example,news,opted_in\n", i
    print "d000000@dup.example,news,opted_in"
    print "d000001@dup.example,news,opted_out"
    print "d059999@dup.example,promo,opted_out" }' > "$tmp/dupbig.csv"
run import "$tmp/dupbig.csv"
if [ "$rc" = 65 ] &&
    [ "$out" = "import $tmp/dupbig.csv: format=optin rows=60003 added=60001 changed=1 unchanged=1 kept=0 skipped=0 bad=1
2 of 60001 will not get campaign mail: 2 opted_out" ] &&
    [ "$err" = "optinctl import: $tmp/dupbig.csv:60003: d000001@dup.example on list news is opted_in on line 3: conflicting rows (the opt-out is applied)" ]
then ok
else bad "import: duplicates 60,000 rows apart" "rc $rc" "out: $out" "err: $err"; fi
check_sql "import: duplicates far apart, states" "59999 1" \
    "SELECT (SELECT count(*) FROM subscriptions WHERE list_id = 'news' AND status = 'opted_in') || ' ' || (SELECT count(*) FROM subscriptions WHERE list_id = 'promo' AND status = 'opted_out')"
fi

# --- when the import exits, its rows are in the database file itself: its
# checkpointer copied and synced the last commit (ctl_import_ckpt.c), even
# while another connection keeps the log open (no close checkpoints it
# then).  The file alone, copied without its -wal, has every row ----------

if ! db_pgsql; then
new_db ckpt
rm -f "$tmp/held"
$PY -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("SELECT count(*) FROM lists").fetchall()
open(sys.argv[2], "w").close()
time.sleep(20)' "$db" "$tmp/held" &
holdpid=$!
i=0
while [ ! -e "$tmp/held" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
printf 'address,list,status\nc1@ckpt.example,news,opted_in\nc2@ckpt.example,promo,opted_out\nc3@ckpt.example,crm,pending\n' > "$tmp/ckpt.csv"
check "import while another connection holds the log open" 0 \
    "import $tmp/ckpt.csv: format=optin rows=3 added=3 changed=0 unchanged=0 kept=0 skipped=0 bad=0
2 of 3 will not get campaign mail: 1 pending (double opt-in not confirmed), 1 opted_out" \
    import "$tmp/ckpt.csv"
cp "$db" "$tmp/ckpt-file.db"
got=$(sqlite3 "$tmp/ckpt-file.db" "SELECT group_concat(address || '|' || list_id || '|' || status, ' ') FROM (SELECT * FROM subscriptions ORDER BY address); SELECT count(*) FROM consent_events WHERE address LIKE '%@ckpt.example'" 2>&1)
want="c1@ckpt.example|news|opted_in c2@ckpt.example|promo|opted_out c3@ckpt.example|crm|pending
3"
if [ "$got" = "$want" ]; then ok
else bad "import: the rows are in the database file when it exits" \
	"want: $want" "got: $got"; fi
kill "$holdpid" 2>/dev/null
wait "$holdpid" 2>/dev/null
fi

# --- a database far larger than the import's page cache (one block of
# 4 bytes per byte of the file, at least 16 MiB: store_bulk_memory), rows
# in no order: pages are evicted and read again, and every row still reads
# the state written by the rows before it.  300,000 rows exist; the file
# opts 20,000 of them out in a scattered order, adds 20,000 new ones, and
# says again for 2,000 of the first what a row 20,000 lines earlier said
# (repeats, skipped), then once more the other way (conflicts, bad) -------

if ! db_pgsql; then
new_db cache
sqlite3 "$db" "BEGIN; WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 299999) INSERT INTO subscriptions SELECT printf('p%06d@cache.example', i), 'news', 'opted_in', 'seed', 1700000000 FROM c; COMMIT;"
awk 'BEGIN { print "address,list,status"
    for (i = 0; i < 20000; i++) {
	printf "p%06d@cache.example,news,opted_out\n", (i * 7919) % 300000
	printf "n%06d@cache.example,news,opted_in\n", (i * 7919) % 20000
    }
    for (i = 0; i < 2000; i++)
	printf "p%06d@cache.example,news,opted_out\n", (i * 7919) % 300000
    for (i = 0; i < 2000; i++)
	printf "n%06d@cache.example,news,opted_out\n", (i * 7919) % 20000
}' > "$tmp/cache.csv"
run import "$tmp/cache.csv"
if [ "$rc" = 65 ] &&
    [ "$(printf '%s\n' "$out" | head -n 1)" = "import $tmp/cache.csv: format=optin rows=44000 added=20000 changed=22000 unchanged=2000 kept=0 skipped=0 bad=2000" ] &&
    [ "$(printf '%s\n' "$err" | grep -c 'is opted_in on line [0-9]*: conflicting rows (the opt-out is applied)$')" = 2000 ] &&
    [ "$(printf '%s\n' "$err" | head -n 1)" = "optinctl import: $tmp/cache.csv:42002: n000000@cache.example on list news is opted_in on line 3: conflicting rows (the opt-out is applied)" ]
then ok
else bad "import: a database larger than the page cache, rows in no order" \
	"rc $rc" "out: $out" "err: $(printf '%s\n' "$err" | head -n 3)"; fi
check_sql "import: larger than the page cache, states and events" \
    "280000 20000 18000 2000 42000" \
    "SELECT (SELECT count(*) FROM subscriptions WHERE address LIKE 'p%' AND status = 'opted_in') || ' ' || (SELECT count(*) FROM subscriptions WHERE address LIKE 'p%' AND status = 'opted_out') || ' ' || (SELECT count(*) FROM subscriptions WHERE address LIKE 'n%' AND status = 'opted_in') || ' ' || (SELECT count(*) FROM subscriptions WHERE address LIKE 'n%' AND status = 'opted_out') || ' ' || (SELECT count(*) FROM consent_events WHERE address LIKE '%@cache.example')"
check_sql "import: the scattered opt-outs are the rows of the file" \
    "p000000@cache.example p000018@cache.example p000029@cache.example" \
    "SELECT group_concat(address, ' ') FROM (SELECT address FROM subscriptions WHERE address LIKE 'p%' AND status = 'opted_out' ORDER BY address LIMIT 3)"
fi

# --- new and existing rows in turns: on SQLite a row is inserted first while
# the row before it was new (sq_import_set); an existing row after a new one
# is still read and changed only as the rules say, the same address twice
# (new, then existing) and on two lists, one event per row written ---------

printf 'address,list,status\nt1@turns.example,news,opted_out\nt2@turns.example,news,opted_in\nt3@turns.example,crm,pending\n' > "$tmp/turns-pre.csv"
"$OPTINCTL" -c "$conf" import "$tmp/turns-pre.csv" >/dev/null
{ printf 'address,list,status\n'
  printf '%s\n' n1@turns.example,news,opted_in t1@turns.example,news,opted_in \
    n2@turns.example,news,pending t2@turns.example,news,opted_in \
    n3@turns.example,news,opted_in t3@turns.example,crm,opted_in \
    n3@turns.example,crm,opted_in n4@turns.example,news,opted_in \
    n4@turns.example,news,opted_in n5@turns.example,news,opted_in \
    n5@turns.example,news,opted_out t2@turns.example,crm,opted_out; } \
    > "$tmp/turns.csv"
check "import: new and existing rows in turns" 65 \
    "import $tmp/turns.csv: format=optin rows=12 added=7 changed=2 unchanged=2 kept=1 skipped=0 bad=1
4 of 10 will not get campaign mail: 1 pending (double opt-in not confirmed), 3 opted_out" \
    import "$tmp/turns.csv"
check_sql "import: rows in turns, the states" \
    "n1:news:opted_in n2:news:pending n3:crm:opted_in n3:news:opted_in n4:news:opted_in n5:news:opted_out t1:news:opted_out t2:crm:opted_out t2:news:opted_in t3:crm:opted_in" \
    "SELECT group_concat(a, ' ') FROM (SELECT replace(address, '@turns.example', '') || ':' || list_id || ':' || status AS a FROM subscriptions WHERE address LIKE '%@turns.example' ORDER BY address, list_id) AS x"
check_sql "import: rows in turns, one event per row written" \
    "n1:news:opted_in n2:news:pending n3:news:opted_in t3:crm:opted_in n3:crm:opted_in n4:news:opted_in n5:news:opted_in n5:news:opted_out t2:crm:opted_out" \
    "SELECT group_concat(a, ' ') FROM (SELECT replace(address, '@turns.example', '') || ':' || list_id || ':' || event AS a FROM consent_events WHERE address LIKE '%@turns.example' AND source = 'import' ORDER BY id LIMIT 100 OFFSET 3) AS x"
check "import: rows in turns again: nothing written" 65 \
    "import $tmp/turns.csv: format=optin rows=12 added=0 changed=0 unchanged=10 kept=2 skipped=0 bad=1
4 of 10 will not get campaign mail: 1 pending (double opt-in not confirmed), 3 opted_out" \
    import "$tmp/turns.csv"
check_sql "import: rows in turns again, no event" 12 \
    "SELECT count(*) FROM consent_events WHERE address LIKE '%@turns.example'"
