#!/bin/bash
# demo.sh - the main job of optin-milter in one command, on a fresh Debian 12
# machine as root: installs what is missing, builds, then runs a real Postfix
# on 127.0.0.1 with the milter, optin-unsubd and a demo consent database
# (embedded SQLite), sends a small campaign, and prints what happened to each
# recipient.  Then three things happen that change the next send: one
# recipient's mailbox does not exist (the receiving server answers 550
# 5.1.1; Postfix's own bounce comes back through the optin-feedback pipe and
# suppresses the address), one complains (an ARF report, RFC 5965, of the
# copy he got, to the feedback-loop address) and one unsubscribes with one
# click.  The second campaign holds all three back, and the summary says
# why.  Everything started here is stopped at the end.
# Environment: DEMO_KEEP=1 keeps the working directory for a look around;
# DEMO_NO_BUILD=1 skips the package check and the build (tests/e2e/t-demo.sh,
# which runs the demo on the tree it tests); OPTIN_CORPUS another copy of
# tests/data/corpus (relative: from where demo.sh was started).

# made absolute before the cd below, which would give it another meaning
case ${OPTIN_CORPUS:-} in
''|/*) ;;
*) OPTIN_CORPUS=$PWD/$OPTIN_CORPUS ;;
esac
cd "$(dirname "$0")" || exit 1
top=$(pwd)
: "${OPTIN_CORPUS:=$top/tests/data/corpus}"
# before the build and Postfix: without it every recipient is "NOT
# ACCOUNTED FOR" a minute later
if [ ! -f "$OPTIN_CORPUS/ours_newsletter_multipart.eml" ]; then
	echo "demo: $OPTIN_CORPUS/ours_newsletter_multipart.eml not found (OPTIN_CORPUS: a copy of tests/data/corpus)"
	exit 1
fi
if [ -z "${DEMO_NO_BUILD:-}" ]; then
	# quiet, but a first run says what it installs (minutes)
	contrib/deps.sh | sed -n 's/^deps: installing:/demo: installing Debian packages (a few minutes):/p'
	[ "${PIPESTATUS[0]}" = 0 ] ||
	    { echo "demo: installing packages failed"; exit 1; }
	contrib/build.sh || { echo "demo: the build failed"; exit 1; }
fi

export top_srcdir=${top_srcdir:-$top} top_builddir=${top_builddir:-$top}
export E2E_KEEP=${DEMO_KEEP:-}
export OPTIN_CORPUS
. tests/e2e/lib.sh
. tests/e2e/optin-setup.sh
e2e_init demo 2>/dev/null

say() { printf '%s\n' "$*"; }
line() { printf '%s\n' "------------------------------------------------------------------------"; }
die() { say "demo: $*"; [ -n "${MILTER_LOG:-}" ] && tail -5 "$MILTER_LOG"; exit 1; }

UNSUB_PORT=$(e2e_free_port)
# the "remote" receiving server: grace's mailbox does not exist
sink_start --reply-rcpt '^grace@=550 5.1.1 <%a>: Recipient address rejected: User unknown in virtual mailbox table' \
    >/dev/null 2>&1 || die "the delivery sink did not start"
optin_setup "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem" "UnsubscribeListen 127.0.0.1:$UNSUB_PORT" \
    "Organization Example Shop" "BounceAddress bounce+%t@news.example.com" \
    "CFBLAddress fbl@news.example.com" 2>/dev/null ||
    die "consent database set-up failed"
CONF=$OPTIN_DIR/optin-milter.conf
# the one-click links point at the local optin-unsubd
sed -i "s|^UnsubscribeURL .*|UnsubscribeURL http://127.0.0.1:$UNSUB_PORT/u/%t|" "$CONF"
for a in grace@example.com henry@example.com; do
	"$OPTINCTL" -c "$CONF" subscribe $a newsletter --source demo >/dev/null &&
	"$OPTINCTL" -c "$CONF" confirm $a newsletter >/dev/null ||
	    die "subscribing $a failed"
done
# bounces and complaints reach optin-feedback through a pipe(8) service
optin_feedback_prepare || die "optin-feedback set-up failed"
"$OPTIN_UNSUBD" -f -c "$CONF" >"$PF_BASE/unsubd.log" 2>&1 &
e2e_track_pid $!
milter_start "$CONF" 2>/dev/null || die "the milter did not start"
pf_start "$PF_BASE" "unix:$MILTER_SOCK" >/dev/null 2>&1 || die "Postfix did not start"
optin_feedback_route news.example.com || die "the optin-feedback service failed"
e2e_wait_port "$UNSUB_PORT" 10 || die "optin-unsubd did not start"
optin_records "$PF_BASE/records"

line
say "optin-milter demo: a private Postfix on 127.0.0.1:$PF_PORT with the milter,"
say "optin-unsubd for one-click unsubscribes, optin-feedback for bounces and"
say "complaints, consent database (SQLite) $OPTIN_DIR/consent.db"
line
# consent_table - each person's state on the list and global suppression
consent_table()
{
	local a st sup
	printf '  %-20s %-15s %s\n' "ADDRESS" "ON $LIST" "SUPPRESSED"
	for a in $PEOPLE; do
		st=$(optin_sql "select status from subscriptions where address = '$a' and list_id = '$LIST'")
		sup=$(optin_sql "select reason from suppressions where address = '$a'")
		printf '  %-20s %-15s %s\n' "$a" "${st:-(never seen)}" "${sup:-no}"
	done
}

LIST=newsletter
PEOPLE="ann@example.com bob@example.com carol@example.com dave@example.com
eve@example.com frank@example.com grace@example.com henry@example.com"
say "Consent before the campaign (the campaign names list '$LIST'):"
consent_table

# outcome QID... - table of recipient -> delivered or quarantined (reason)
outcome()
{
	local msgid=$1 rcpts=$2 r f reason dsn
	printf '  %-22s %s\n' "RECIPIENT" "OUTCOME"
	for r in $(echo "$rcpts" | tr ',' ' '); do
		f=$(for x in $(sink_find Message-ID "$msgid"); do
			sink_rcpts "$x" | grep -qix "$r" && echo "$x"; done)
		reason=$(optin_sql "select reason from quarantine where message_id = '$msgid' and recipient = lower('$r')")
		dsn=$(optin_sql "select status from feedback where address = lower('$r') and kind = 'hard_bounce' limit 1")
		if [ -n "$f" ]; then
			printf '  %-22s delivered (one copy for this recipient alone, personal unsubscribe link)\n' "$r"
		elif [ -n "$reason" ]; then
			printf '  %-22s quarantined (%s)\n' "$r" "$reason"
		elif [ -n "$dsn" ]; then
			printf '  %-22s sent, refused by the receiving server (%s): bounced\n' "$r" "$dsn"
		else
			printf '  %-22s NOT ACCOUNTED FOR\n' "$r"
		fi
	done
}

# send_campaign N SUBJECT RCPTS - the corpus newsletter with a fresh
# Message-ID, the Subject, a campaign ID made of it ("November news":
# november-news) and the To: of a bulk send
send_campaign()
{
	"$PY" - "$OPTIN_CORPUS/ours_newsletter_multipart.eml" "$1" "$2" \
	    > "$PF_BASE/campaign.$1" <<'EOP'
import re, sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
head, sep, body = d.partition(b"\n\n")
keep = [l for l in re.split(rb"\n(?![ \t])", head)
	if not re.match(rb"(?i)(message-id|subject|to|x-campaign-id):", l)]
subject = sys.argv[3].encode()
keep.insert(0, b"Message-ID: <demo-%s@example.com>" % sys.argv[2].encode())
keep.insert(1, b"Subject: " + subject)
keep.insert(2, b"To: undisclosed-recipients:;")
keep.insert(3, b"X-Campaign-ID: " + subject.lower().replace(b" ", b"-"))
sys.stdout.buffer.write(b"\n".join(keep) + sep + body)
EOP
	pf_send news@example.com "$3" "$PF_BASE/campaign.$1" >/dev/null
	pf_wait_empty 60 >/dev/null 2>&1
}

# fb_has ADDR KIND - has optin-feedback recorded a report of KIND for ADDR?
fb_has()
{
	[ -n "$(optin_sql "select 1 from feedback where address = '$1' and kind = '$2'")" ]
}

# copy_of MSGID RCPT - the sink's file of RCPT's copy of MSGID
copy_of()
{
	local x
	for x in $(sink_find Message-ID "$1"); do
		sink_rcpts "$x" | grep -qix "$2" && echo "$x"
	done
}

RCPTS=$(echo $PEOPLE | tr ' ' ',')
line
say "Campaign 1: 'November news' (a 15 KB multipart newsletter) from"
say "news@example.com to eight recipients in one SMTP transaction:"
send_campaign 1 "November news" "$RCPTS"
e2e_wait_for 60 fb_has grace@example.com hard_bounce
outcome "<demo-1@example.com>" "$RCPTS"

ann=$(copy_of "<demo-1@example.com>" ann@example.com)
frank=$(copy_of "<demo-1@example.com>" frank@example.com)
henry=$(copy_of "<demo-1@example.com>" henry@example.com)
line
say "Headers of ann's copy as delivered:"
if [ -n "$ann" ]; then
	sink_raw "$ann" | "$PY" -c 'import sys, email
m = email.message_from_binary_file(sys.stdin.buffer)
for h in ("From", "To", "Subject", "List-Id", "List-Unsubscribe",
          "List-Unsubscribe-Post", "CFBL-Address", "Feedback-ID",
          "DKIM-Signature"):
	for v in m.get_all(h) or []:
		v = " ".join(str(v).split())
		print("  %s: %s" % (h, v if len(v) < 150 else v[:147] + "..."))'
	if optin_verify "$PF_BASE/records" "$ann" 1; then
		say "  dkimpy (independent verifier): signature OK, covers List-Unsubscribe"
	else
		say "  dkimpy: signature FAILED"
	fi
	say "  envelope sender (personal bounce address): $(sink_from "$ann" | sed 's/+[A-Za-z0-9_-]*@/+[token]@/')"
fi

line
say "grace's mailbox does not exist: the receiving server answered 550 5.1.1."
say "Postfix sent its bounce (DSN, RFC 3464) to grace's personal bounce address"
say "bounce+[token]@news.example.com, which the transport map hands to"
say "optin-feedback (a pipe(8) service); the token names grace and the list:"
say "  report: $(optin_sql "select kind || ' ' || status || ', identified by ' || identity from feedback where address = 'grace@example.com'")"
say "  grace is now: suppressed ($(optin_sql "select reason from suppressions where address = 'grace@example.com'"))"

line
say "henry marks the newsletter as spam; his mailbox provider sends a complaint"
say "(an ARF report, RFC 5965, with the copy he got) to the CFBL-Address"
say "fbl@news.example.com, which goes to optin-feedback too:"
if [ -n "$henry" ]; then
	{ cat <<EOF
From: <fbl@provider.example>
To: <fbl@news.example.com>
Subject: complaint about a message from news@example.com
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf"

--arf
Content-Type: text/plain

This is an abuse report for a message received from 127.0.0.1.

--arf
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: DemoProviderFBL/1.0
Version: 1
Source-IP: 127.0.0.1

--arf
Content-Type: message/rfc822

EOF
	sink_raw "$henry" | tr -d '\r'
	printf '\n--arf--\n'; } > "$PF_BASE/arf.eml"
	pf_send fbl@provider.example fbl@news.example.com "$PF_BASE/arf.eml" >/dev/null
	e2e_wait_for 60 fb_has henry@example.com complaint
fi
say "  report: $(optin_sql "select kind || ' about campaign ' || coalesce(campaign, '-') || ', identified by ' || identity from feedback where address = 'henry@example.com'")"
say "  henry on $LIST is now: $(optin_sql "select status from subscriptions where address = 'henry@example.com' and list_id = '$LIST'")"

line
url=$(sink_header "$frank" List-Unsubscribe | sed -n 's/^<\(http[^>]*\)>.*/\1/p')
say "frank clicks one-click unsubscribe in his mail client (RFC 8058):"
say "  POST ${url%/u/*}/u/[token]  body List-Unsubscribe=One-Click"
say "  (http only because this demo runs on loopback: a real UnsubscribeURL is"
say "  https, as RFC 8058 requires and mailbox providers check)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data 'List-Unsubscribe=One-Click' "$url")
say "  answer: HTTP $code"
say "  frank on $LIST is now: $(optin_sql "select status from subscriptions where address = 'frank@example.com' and list_id = '$LIST'")"
say "  consent event: $(optin_sql "select event || ' source=' || source || ' from ' || remote_addr from consent_events where address = 'frank@example.com' order by id desc limit 1")"

line
R2="ann@example.com,frank@example.com,grace@example.com,henry@example.com"
say "Campaign 2: 'December news' to ann, frank, grace and henry"
send_campaign 2 "December news" "$R2"
outcome "<demo-2@example.com>" "$R2"

line
say "Consent after both campaigns:"
consent_table

line
say "What changed the second send, in plain words:"
# said ADDR - what campaign 2 did for ADDR
said()
{
	local r
	r=$(optin_sql "select reason from quarantine where message_id = '<demo-2@example.com>' and recipient = '$1'")
	if [ -n "$r" ]; then echo "held it back ($r)"
	elif [ -n "$(copy_of "<demo-2@example.com>" "$1")" ]; then echo "delivered"
	else echo "NOT ACCOUNTED FOR"; fi
}
say "  grace@example.com: her mailbox does not exist (bounce 5.1.1), so she is"
say "    suppressed; campaign 2 $(said grace@example.com)"
say "  henry@example.com: he complained (ARF report), so he is opted out of"
say "    $LIST; campaign 2 $(said henry@example.com)"
say "  frank@example.com: he clicked one-click unsubscribe, so he is opted out"
say "    of $LIST; campaign 2 $(said frank@example.com)"
say "  ann@example.com: still opted in; campaign 2 $(said ann@example.com)"

line
say "Milter log, by queue ID: a line per quarantined recipient, one per split"
say "copy sent, and its decision; each copy has its own queue ID and lines,"
say "shown under the original with the recipient Postfix delivered it to (the"
say "first allowed recipient, ann, stays in the original).  from= is the"
say "envelope sender a message came in with: the original's is the CRM's;"
say "the milter gives it ann's personal bounce address at the end of the"
say "message, as each copy gets its recipient's (tokens shown as [token]):"
# each message's lines together, a split copy's under its original
grep -E ': (campaign|quarantine|split)' "$MILTER_LOG" | awk -v pflog="$PF_LOG" '
{ q = $1; sub(/:$/, "", q)
  if (!(q in seen)) { seen[q] = 1; order[++n] = q }
  lines[q] = lines[q] "  " $0 "\n"
  if ($2 == "split" && $3 == "copy" && $4 == "of") parent[q] = $5 }
END {
  for (i = 1; i <= n; i++) {
    q = order[i]
    if (q in parent) continue
    printf "%s", lines[q]
    for (j = 1; j <= n; j++) {
      c = order[j]
      if (!(c in parent) || parent[c] != q) continue
      to = ""
      while (to == "" && (getline l < pflog) > 0)
        if (index(l, " " c ": to=<") > 0) {
          to = l; sub(/.* to=</, "", to); sub(/>.*/, "", to) }
      close(pflog)
      printf "    copy %s for %s:\n", c, to != "" ? to : "?"
      gsub(/\n  /, "\n      ", lines[c])
      printf "      %s", substr(lines[c], 3)
    }
  } }' | head -40
line
say "Quarantine: $(optin_sql 'select count(*) from quarantine') rows, spool files in $OPTIN_DIR/quarantine"
say "optinctl feedback (bounces and complaints per list and campaign):"
"$OPTINCTL" -c "$CONF" feedback 2>&1 | sed 's/^/  /' | head -12
say "  (complaint_rate: ok under 0.1%, warn from 0.1%, over from 0.3%, the"
say "  rates mailbox providers hold bulk senders to; optinctl(8) feedback)"
line
say "Stopping Postfix, the milter, optin-unsubd and the sink."
# the paths printed above are gone on exit unless kept: say which
if [ -n "${DEMO_KEEP:-}" ]; then
	say "Kept: $PF_BASE"
else
	say "Removing $PF_BASE (DEMO_KEEP=1 ./demo.sh keeps it for a look around)."
fi
exit 0
