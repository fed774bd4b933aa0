#!/bin/bash
# t-signsafe.sh - never send a signature the relay will break, never sign
# the ambiguous (DESIGN "Message flow" item 5, issue 10), through a relay
# hop: the milter's Postfix relays to a second Postfix
# (always_add_missing_headers = yes, as many relays have) that delivers to
# the sink, and dkimpy verifies what arrives there.
#   - a campaign line over 998 octets, in the body or in a header the
#     signature covers, is held whole in quarantine (line_too_long) instead
#     of being signed and then broken by the relay; 998 octets, and a long
#     header the signature does not cover, go out and verify; transactional
#     mail (SignAll yes) with such a line goes out unsigned;
#   - a campaign without Message-ID and Date gets both from the milter,
#     signed, exactly one of each, the same in every copy;
#   - two From fields, or a From of two mailboxes without Sender: 550 5.6.0
#     over SMTP, a bounce through sendmail(1), nothing delivered;
#   - a From domain without a signing key: 451 4.3.5 (OnNoSigningKey
#     tempfail), nothing delivered.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-signsafe

sink_start || { e2e_fail "sink starts"; e2e_done; }
K=$PF_BASE/optin
optin_setup "KeyTable $K/keytable" "SigningTable $K/signingtable" \
    "SignAll yes" || { e2e_fail "consent database set up"; e2e_done; }
printf 'k1 example.com:s2026:%s\n' "$K/rsa.pem" > "$K/keytable"
printf '*@example.com k1\n' > "$K/signingtable"
milter_start "$OPTIN_DIR/optin-milter.conf" ||
	{ e2e_fail "milter starts"; e2e_done; }
hop_start "always_add_missing_headers = yes" ||
	{ e2e_fail "second postfix starts"; e2e_done; }
# the CRM is a remote client here: this Postfix adds no missing headers
pf_start "$PF_BASE" "unix:$MILTER_SOCK" "relayhost = [127.0.0.1]:$HOP_PORT" \
    "local_header_rewrite_clients =" || { e2e_fail "postfix starts"; e2e_done; }
optin_records "$PF_BASE/records"
M=$PF_BASE/msgs
mkdir -p "$M"

# msg NAME [FROM] - a message from stdin (the body, after the fields
# below) to $M/NAME; Subject names it, Message-ID and Date unless the body
# starts with fields of its own that replace them (see noids)
msg()
{
	{ printf 'From: %s\r\nTo: ann@example.com\r\nSubject: signsafe %s\r\n' \
	    "${2:-News <news@example.com>}" "$1"
	  case $1 in
	  noids*) ;;
	  *) printf 'Message-ID: <ss-%s@test.example>\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n' "$1" ;;
	  esac
	  cat; } > "$M/$1"
}
x() { head -c "$1" /dev/zero | tr '\0' "$2"; }

printf '\r\nHello.\r\n' | msg noids
printf '\r\nshort\r\n%s\r\nend\r\n' "$(x 999 b)" | msg body999
printf '\r\nshort\r\n%s\r\nend\r\n' "$(x 1200 b)" | msg body1200
printf 'Cc: <cc@example.com> (%s)\r\n\r\nbody\r\n' "$(x 976 c)" | msg header999
printf 'X-Long: %s\r\n\r\nbody\r\n' "$(x 1200 h)" | msg xlong1200
printf 'X-Long: %s\r\n %s\r\n\r\n%s\r\nend\r\n' "$(x 990 h)" "$(x 997 f)" \
    "$(x 998 b)" | msg legal998
printf 'Sender: news@example.com\r\n\r\ntwo authors\r\n' |
    msg twoauthors 'News <news@example.com>, Ann <ann@example.com>'
for n in twofrom twofrom-sm; do
	printf 'From: Other <other@example.com>\r\n\r\ntwo From fields\r\n' |
	    msg $n
done
printf '\r\nno Sender\r\n' |
    msg nosender 'news@example.com, ann@example.com'
printf '\r\nno key for this domain\r\n' | msg nokey 'News <news@other.example>'
printf '\r\n%s\r\n' "$(x 1200 t)" | msg tx-long 'Billing <billing@example.com>'
printf '\r\nyour invoice\r\n' | msg tx-ok 'Billing <billing@example.com>'

# reply_to_data - the server's refusal of the last pf_send, e.g.
# "550 5.6.0 ...", or "" when it accepted
reply_to_data()
{
	awk '/^=== pf_send/ { r = "" } /<\*\* / { r = $0 } END { print r }' \
	    "$PF_BASE/swaks.log" | sed 's/^ *<\*\* *//'
}

ALL=ann@example.com,bob@example.com,frank@example.com
for n in noids body999 body1200 header999 xlong1200 legal998 twoauthors; do
	pf_send news@example.com "$ALL" "$M/$n" >/dev/null ||
	    e2e_fail "$n accepted over SMTP"
done
for n in tx-long tx-ok; do
	pf_send billing@example.com bob@example.com "$M/$n" >/dev/null ||
	    e2e_fail "$n accepted over SMTP"
done
pf_send news@example.com "$ALL" "$M/twofrom" >/dev/null
e2e_check_eq "two From fields: refused over SMTP" "$(reply_to_data)" \
    "550 5.6.0 campaign message: 2 From fields"
pf_send news@example.com "$ALL" "$M/nosender" >/dev/null
e2e_check_eq "two mailboxes without Sender: refused over SMTP" \
    "$(reply_to_data)" \
    "550 5.6.0 campaign message: From names 2 mailboxes and there is no Sender field"
pf_send news@example.com "$ALL" "$M/nokey" >/dev/null
e2e_check_eq "no signing key: deferred over SMTP" "$(reply_to_data)" \
    "451 4.3.5 no DKIM signing key for the From domain, try again later"
pf_sendmail -i -f news@example.com ann@example.com < "$M/twofrom-sm"
pf_wait_empty 60 || e2e_fail "queue empties"
hop_wait_empty 60 || e2e_fail "second queue empties"

# rcpts_of NAME - envelope recipients of the copies of message NAME at the
# sink, sorted, on one line
rcpts_of()
{
	sink_rcpts_by_header Subject "signsafe $1" | tr '\n' ' '
}

# --- lines the relay would break: held, not signed and broken
for n in body999 body1200 header999; do
	e2e_check_eq "$n: nothing delivered" "$(rcpts_of $n)" ""
	e2e_check_eq "$n: held, everyone in one spool file" \
	    "$(optin_sql "select recipient || '=' || reason from quarantine where message_id = '<ss-$n@test.example>' order by 1" | tr '\n' ' ')" \
	    "ann@example.com=line_too_long bob@example.com=opted_out frank@example.com=line_too_long "
	e2e_check_eq "$n: one spool file" "$(optin_sql "select count(distinct spool_file) from quarantine where message_id = '<ss-$n@test.example>'")" 1
done
e2e_check "log says why" grep -qE \
    ': campaign with a header Cc line of 999 octets \(over 998\): the relay would break its signature: held as line_too_long$' \
    "$MILTER_LOG"
e2e_check_eq "998 octets: delivered to ann and frank" "$(rcpts_of legal998)" \
    "ann@example.com frank@example.com "
e2e_check_eq "a long header the signature does not cover: delivered" \
    "$(rcpts_of xlong1200)" "ann@example.com frank@example.com "

# --- every signature that arrived verifies after the hop
bad=""
signed=""
for f in $(sink_messages); do
	[ -n "$(sink_header "$f" DKIM-Signature)" ] && signed="$signed $f"
done
# shellcheck disable=SC2086
for f in $(optin_verify_bad "$PF_BASE/records" 1 $signed); do
	bad="$bad $(sink_header "$f" Subject | sed 's/^signsafe //')"
done
e2e_check_eq "copies whose signature fails after the hop" "$bad" ""
for n in legal998 xlong1200 noids twoauthors tx-ok; do
	e2e_check "$n: arrived signed" test -n "$(f=$(sink_find Subject "signsafe $n" | head -1); [ -n "$f" ] && sink_header "$f" DKIM-Signature)"
done
e2e_check_eq "two mailboxes with Sender: delivered" "$(rcpts_of twoauthors)" \
    "ann@example.com frank@example.com "

# --- transactional: never refused, not signed when the relay would break it
f=$(sink_find Subject "signsafe tx-long")
e2e_check_eq "transactional with a long line: delivered" "$(rcpts_of tx-long)" \
    "bob@example.com "
e2e_check_eq "transactional with a long line: not signed" \
    "$([ -n "$f" ] && sink_header "$f" DKIM-Signature | wc -l)" 0
e2e_check_eq "transactional, normal: delivered signed" \
    "$(f=$(sink_find Subject "signsafe tx-ok"); [ -n "$f" ] && sink_header "$f" DKIM-Signature | wc -l)" 1

# --- missing Message-ID and Date: ours, signed, one of each, every copy
files=$(sink_find Subject "signsafe noids")
e2e_check_eq "noids: delivered to ann and frank" "$(rcpts_of noids)" \
    "ann@example.com frank@example.com "
mids=""
for f in $files; do
	r=$(sink_rcpts "$f")
	e2e_check_eq "noids to $r: one Message-ID" "$(sink_header "$f" Message-ID | wc -l)" 1
	e2e_check_eq "noids to $r: one Date" "$(sink_header "$f" Date | wc -l)" 1
	h=$(sink_header "$f" DKIM-Signature | tr -d ' \t' | tr 'A-Z' 'a-z' |
	    sed -n 's/.*;h=\([^;]*\).*/\1/p')
	e2e_check "noids to $r: h= covers date" grep -qE '(^|:)date(:|$)' <<<"$h"
	e2e_check "noids to $r: h= covers message-id" \
	    grep -qE '(^|:)message-id(:|$)' <<<"$h"
	mids="$mids $(sink_header "$f" Message-ID)"
done
e2e_check "noids: the same Message-ID in every copy, from the From domain" \
    test "$(tr ' ' '\n' <<<"$mids" | grep -c '^<[0-9]*\.[0-9a-f]*@example\.com>$')" = 2 -a \
    "$(tr ' ' '\n' <<<"$mids" | sort -u | grep -c .)" = 1

# --- refused or deferred: nothing delivered, never signed
for n in twofrom nosender nokey twofrom-sm; do
	e2e_check_eq "$n: nothing delivered to a recipient" "$(rcpts_of $n)" ""
done
e2e_check "sendmail(1) with two From fields: bounced to the sender with 5.6.0" \
    grep -lq '5\.6\.0' $(sink_files_for_rcpt news@example.com) /dev/null
e2e_check_eq "refused messages: no quarantine rows" \
    "$(optin_sql "select count(*) from quarantine where message_id in ('<ss-twofrom@test.example>', '<ss-nosender@test.example>', '<ss-nokey@test.example>', '<ss-twofrom-sm@test.example>')")" 0
e2e_done
