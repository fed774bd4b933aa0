#!/bin/bash
# demo.sh - the main job of optin-milter in one command, on a fresh Debian 12
# machine as root: installs what is missing, builds, then runs a real Postfix
# on 127.0.0.1 with the milter, optin-unsubd and a demo consent database
# (embedded SQLite), sends a small campaign, and prints what happened to each
# recipient.  One recipient then unsubscribes with one click and is held back
# on the next send.  Everything started here is stopped at the end.
# Environment: DEMO_KEEP=1 keeps the working directory for a look around.

cd "$(dirname "$0")" || exit 1
top=$(pwd)
contrib/deps.sh >/dev/null || { echo "demo: installing packages failed"; exit 1; }
contrib/build.sh || { echo "demo: the build failed"; exit 1; }

export top_srcdir=$top top_builddir=$top E2E_KEEP=${DEMO_KEEP:-}
: "${OPTIN_CORPUS:=$top/../shared/corpus}"
[ -d "$OPTIN_CORPUS" ] || OPTIN_CORPUS=$top/tests/data/demo
export OPTIN_CORPUS
. tests/e2e/lib.sh
. tests/e2e/optin-setup.sh
e2e_init demo 2>/dev/null

say() { printf '%s\n' "$*"; }
line() { printf '%s\n' "------------------------------------------------------------------------"; }
die() { say "demo: $*"; [ -n "${MILTER_LOG:-}" ] && tail -5 "$MILTER_LOG"; exit 1; }

UNSUB_PORT=$(e2e_free_port)
sink_start >/dev/null 2>&1 || die "the delivery sink did not start"
optin_setup "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem" "UnsubscribeListen 127.0.0.1:$UNSUB_PORT" \
    "Organization Example Shop" 2>/dev/null || die "consent database set-up failed"
CONF=$OPTIN_DIR/optin-milter.conf
# the one-click links point at the local optin-unsubd
sed -i "s|^UnsubscribeURL .*|UnsubscribeURL http://127.0.0.1:$UNSUB_PORT/u/%t|" "$CONF"
"$OPTIN_UNSUBD" -f -c "$CONF" >"$PF_BASE/unsubd.log" 2>&1 &
e2e_track_pid $!
milter_start "$CONF" 2>/dev/null || die "the milter did not start"
pf_start "$PF_BASE" "unix:$MILTER_SOCK" >/dev/null 2>&1 || die "Postfix did not start"
e2e_wait_port "$UNSUB_PORT" 10 || die "optin-unsubd did not start"
optin_records "$PF_BASE/records"

line
say "optin-milter demo: a private Postfix on 127.0.0.1:$PF_PORT with the milter,"
say "optin-unsubd for one-click unsubscribes, consent database (SQLite)
$OPTIN_DIR/consent.db"
line
# consent_table - each person's state on the list and global suppression
consent_table()
{
	local a st sup
	printf '  %-20s %-15s %s\n' "ADDRESS" "ON $LIST" "SUPPRESSED"
	for a in ann@example.com bob@example.com carol@example.com \
	    dave@example.com eve@example.com frank@example.com; do
		st=$(optin_sql "select status from subscriptions where address = '$a' and list_id = '$LIST'")
		sup=$(optin_sql "select reason from suppressions where address = '$a'")
		printf '  %-20s %-15s %s\n' "$a" "${st:-(never seen)}" "${sup:-no}"
	done
}

LIST=newsletter
say "Consent before the campaign (the campaign names list '$LIST'):"
consent_table

# outcome QID... - table of recipient -> delivered or quarantined (reason)
outcome()
{
	local msgid=$1 rcpts=$2 r f reason
	printf '  %-22s %s\n' "RECIPIENT" "OUTCOME"
	for r in $(echo "$rcpts" | tr ',' ' '); do
		f=$(for x in $(sink_find Message-ID "$msgid"); do
			sink_rcpts "$x" | grep -qix "$r" && echo "$x"; done)
		reason=$(optin_sql "select reason from quarantine where message_id = '$msgid' and recipient = lower('$r')")
		if [ -n "$f" ]; then
			printf '  %-22s delivered (its own copy, personal unsubscribe link)\n' "$r"
		elif [ -n "$reason" ]; then
			printf '  %-22s quarantined (%s)\n' "$r" "$reason"
		else
			printf '  %-22s NOT ACCOUNTED FOR\n' "$r"
		fi
	done
}

# send_campaign N SUBJECT RCPTS - the corpus newsletter with a fresh
# Message-ID and Subject
send_campaign()
{
	"$PY" - "$OPTIN_CORPUS/ours_newsletter_multipart.eml" "$1" "$2" \
	    > "$PF_BASE/campaign.$1" <<'EOP'
import re, sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
head, sep, body = d.partition(b"\n\n")
keep = [l for l in re.split(rb"\n(?![ \t])", head)
	if not re.match(rb"(?i)(message-id|subject):", l)]
keep.insert(0, b"Message-ID: <demo-%s@example.com>" % sys.argv[2].encode())
keep.insert(1, b"Subject: " + sys.argv[3].encode())
sys.stdout.buffer.write(b"\n".join(keep) + sep + body)
EOP
	pf_send news@example.com "$3" "$PF_BASE/campaign.$1" >/dev/null
	pf_wait_empty 60 >/dev/null 2>&1
}

RCPTS="ann@example.com,bob@example.com,carol@example.com,dave@example.com,eve@example.com,frank@example.com"
line
say "Campaign 1: 'November news' (a 15 KB multipart newsletter) from"
say "news@example.com to six recipients in one SMTP transaction:"
send_campaign 1 "November news" "$RCPTS"
outcome "<demo-1@example.com>" "$RCPTS"

ann=$(for x in $(sink_find Message-ID "<demo-1@example.com>"); do
	sink_rcpts "$x" | grep -qx ann@example.com && echo "$x"; done)
frank=$(for x in $(sink_find Message-ID "<demo-1@example.com>"); do
	sink_rcpts "$x" | grep -qx frank@example.com && echo "$x"; done)
line
say "Headers of ann's copy as delivered:"
if [ -n "$ann" ]; then
	sink_raw "$ann" | "$PY" -c 'import sys, email
m = email.message_from_binary_file(sys.stdin.buffer)
for h in ("From", "To", "Subject", "List-Id", "List-Unsubscribe",
          "List-Unsubscribe-Post", "DKIM-Signature"):
	for v in m.get_all(h) or []:
		v = " ".join(str(v).split())
		print("  %s: %s" % (h, v if len(v) < 150 else v[:147] + "..."))'
	if optin_verify "$PF_BASE/records" "$ann" 1; then
		say "  dkimpy (independent verifier): signature OK, covers List-Unsubscribe"
	else
		say "  dkimpy: signature FAILED"
	fi
fi

line
url=$(sink_header "$frank" List-Unsubscribe | sed -n 's/^<\(http[^>]*\)>.*/\1/p')
say "frank clicks one-click unsubscribe in his mail client (RFC 8058):"
say "  POST ${url%/u/*}/u/<token>  body List-Unsubscribe=One-Click"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data 'List-Unsubscribe=One-Click' "$url")
say "  answer: HTTP $code"
say "  frank on $LIST is now: $(optin_sql "select status from subscriptions where address = 'frank@example.com' and list_id = '$LIST'")"
say "  consent event: $(optin_sql "select event || ' source=' || source || ' from ' || remote_addr from consent_events where address = 'frank@example.com' order by id desc limit 1")"

line
say "Campaign 2: 'December news' to ann and frank"
send_campaign 2 "December news" "ann@example.com,frank@example.com"
outcome "<demo-2@example.com>" "ann@example.com,frank@example.com"

line
say "Milter log (one line per message decision):"
grep -E ': (campaign|quarantine|split)' "$MILTER_LOG" | sed 's/^/  /' | head -20
line
say "Quarantine: $(optin_sql 'select count(*) from quarantine') rows, spool files in $OPTIN_DIR/quarantine"
say "Stopping Postfix, the milter, optin-unsubd and the sink."
[ -n "${DEMO_KEEP:-}" ] && say "Kept: $PF_BASE"
exit 0
