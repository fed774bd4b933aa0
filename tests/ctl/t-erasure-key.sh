# t-erasure-key.sh - ErasureKeyFile (issue 10, items 0c and 3; sourced by
# run.sh): init creates it; an erased address stays erased after the token
# keys rotate; forget refuses what is not a mailbox and will not replace a
# lost key; legacy erased forms ("hmac:", made with a token key before
# ErasureKeyFile) are found with any token key, and a verb that cannot
# tell erased people refuses (78) instead of calling them strangers.

new_db ek
ekey=$tmp/ek.erasure
marks="$PY $here/../milter/marks.py"

# import_skips LABEL ADDR - an import of ADDR on news skips it (erased)
# import_refuses LABEL ADDR - an opt-in row of an erased address is a bad
# row (no silent re-consent, reconsent.h): exit 65, nothing imported
import_refuses() {
	printf 'address,list,status\n%s,news,opted_in\n' "$2" > "$tmp/ek.csv"
	check "$1" 65 \
	    "import $tmp/ek.csv: format=optin rows=1 added=0 changed=0 unchanged=0 kept=0 skipped=0 bad=1" \
	    import "$tmp/ek.csv"
}

if [ -f "$ekey" ] && [ "$(stat -c %a "$ekey")" = 600 ] &&
    [ "$(grep -c '^1 [A-Za-z0-9+/]*=*$' "$ekey")" = 1 ] &&
    [ "$(grep -vc '^#' "$ekey")" = 1 ]
then ok; else bad "init creates ErasureKeyFile, mode 0600, one key" "$(ls -l "$ekey" 2>&1)"; fi
check_json "init --json: key kept" 0 \
    'd["erasure_key_file"] == "'"$ekey"'" and d["erasure_key_created"] is False' \
    init --json

# forget, then two token key rotations: still erased
"$OPTINCTL" -c "$conf" subscribe ann@example.com news >/dev/null
"$OPTINCTL" -c "$conf" forget ann@example.com >/dev/null
check_sql "erased form is HMAC with ErasureKeyFile key 1" \
    "$($marks erased "$ekey" 1 ann@example.com)" \
    "SELECT address FROM suppressions WHERE reason = 'erased'"
"$OPTINCTL" -c "$conf" token newkey >/dev/null
"$OPTINCTL" -c "$conf" token newkey >/dev/null
check "status after two token rotations" 0 "ann@example.com suppressed=erased
  (other lists) decision=suppressed" status ann@example.com
check_json "export after two token rotations" 0 \
    'd["erased"] is True and [e["event"] for e in d["events"]] == ["erased"]' \
    export ann@example.com
import_refuses "import after two token rotations refuses the erased address" \
    ann@example.com

# only a mailbox is a person to erase
check_err "forget: bare quote inside a quoted local part" 65 \
    "optinctl forget: not a mailbox address: character not allowed in a quoted local part" \
    forget '"a"b"@example.com'
check_sql "nothing erased by the refused forget" 1 \
    "SELECT count(*) FROM suppressions WHERE reason = 'erased'"

# a lost ErasureKeyFile is not replaced; lookups refuse to guess
mv "$ekey" "$ekey.saved"
check_err "forget with ErasureKeyFile lost" 78 \
    "optinctl forget: ErasureKeyFile $ekey is missing, but the database keeps erased addresses keyed with it: restore it from a backup" \
    forget bob@example.com
run status ann@example.com
case $err in
"optinctl status: the database keeps erased addresses keyed with ErasureKeyFile: $ekey: "*)
	[ "$rc" = 78 ] && [ -z "$out" ] && ok || bad "status with ErasureKeyFile lost" "rc $rc" "out: $out";;
*)	bad "status with ErasureKeyFile lost" "rc $rc" "err: $err";;
esac
if [ ! -e "$ekey" ]; then ok; else bad "no new ErasureKeyFile made"; fi
mv "$ekey.saved" "$ekey"

# a legacy form from before ErasureKeyFile, made when token key 1 was the
# newest (now there are three)
sqlx "INSERT INTO suppressions VALUES ('$($marks legacy "$tmp/ek.keys" 1 dora@example.com)', 'erased', 1700000000)" \
    "INSERT INTO consent_events (address, event, source, evidence, occurred_at) VALUES ('$($marks legacy "$tmp/ek.keys" 1 dora@example.com)', 'erased', 'optinctl', 'reason=erased', 1700000000)"
check "status finds a legacy erased form" 0 "dora@example.com suppressed=erased
  (other lists) decision=suppressed" status dora@example.com
check "history finds the event under a legacy form" 0 \
    "2023-11-14T22:13:20Z - erased source=optinctl evidence=\"reason=erased\"" \
    history dora@example.com
import_refuses "import refuses a legacy erased address" dora@example.com
grep -v '^TokenKeyFile' "$conf" > "$tmp/ek-notoken.conf"
check_err "status: legacy forms need TokenKeyFile" 78 \
    "optinctl status: the database keeps erased addresses from before ErasureKeyFile, keyed with TokenKeyFile: TokenKeyFile is not set" \
    -c "$tmp/ek-notoken.conf" status dora@example.com
