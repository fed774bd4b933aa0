#!/bin/bash
# t-release.sh - optinctl quarantine release through the real Postfix
# (issue 5): a release is refused while the recipient has no consent; after
# consent is given it delivers; --force delivers anyway, marked so the
# milter does not hold it again; each delivered copy gets its unsubscribe
# header, and the row is marked released.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-release

sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup || { e2e_fail "consent database set up"; e2e_done; }
CONF=$OPTIN_DIR/optin-milter.conf
milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }
ctl() { "$OPTINCTL" -c "$CONF" "$@"; }

printf 'From: news@example.com\r\nSubject: held\r\nMessage-ID: <held-1@example.com>\r\n\r\nheld back\r\n' \
    > "$PF_BASE/m.eml"
pf_send news@example.com bob@example.com,carol@example.com "$PF_BASE/m.eml" >/dev/null
pf_wait_empty 30
e2e_check_eq "nothing delivered at first" "$(sink_count)" 0
bob=$(optin_sql "select id from quarantine where recipient = 'bob@example.com'")
carol=$(optin_sql "select id from quarantine where recipient = 'carol@example.com'")
e2e_check "two quarantine rows" test -n "$bob" -a -n "$carol"

ctl quarantine release "$carol" >/dev/null 2>&1
e2e_check_eq "release refused while carol is pending (exit 65)" "$?" 65
ctl confirm carol@example.com news >/dev/null
e2e_check_eq "release after carol confirms" \
    "$(ctl quarantine release "$carol")" "released $carol to <carol@example.com>"
ctl quarantine release "$bob" >/dev/null 2>&1
e2e_check_eq "release refused while bob is opted out" "$?" 65
e2e_check_eq "forced release of bob" \
    "$(ctl quarantine release "$bob" --force)" "released $bob to <bob@example.com> (forced)"
pf_wait_empty 60
sink_wait_count 2 30
files=$(sink_find Message-ID "<held-1@example.com>")
e2e_check_eq "both released copies delivered, one recipient each" \
    "$(for f in $files; do sink_rcpts "$f"; done | sort | tr '\n' ' ')" \
    "bob@example.com carol@example.com "
for f in $files; do
	e2e_check "$(sink_rcpts "$f"): List-Unsubscribe added" \
	    test -n "$(sink_header "$f" List-Unsubscribe)"
	e2e_check "$(sink_rcpts "$f"): release marker stripped" \
	    sh -c "! grep -qi '^X-Optin-Release' '$f'"
done
e2e_check_eq "no new quarantine rows" \
    "$(optin_sql "select count(*) from quarantine")" 2
e2e_check_eq "both rows marked released" \
    "$(optin_sql "select count(*) from quarantine where released_at is not null")" 2
e2e_check "milter logged the forced release" \
    grep -q "released from quarantine by an admin" "$MILTER_LOG"
e2e_done
