#!/bin/bash
# run.sh - the sendmail suite (issue 13, item 5): the milter behind a real
# Sendmail 8.17 (Debian's packages, fetched and unpacked by lib.sh), wired
# with conf/sendmail.mc as shipped.  Every corpus message is sent as
# campaign mail to a mix of people; asserts who received which copy (one
# recipient each: split copies re-submitted through Sendmail's submission
# program), the quarantine rows, the unsubscribe headers and their tokens,
# and that every signature verifies with dkimpy; transactional mail passes
# unchanged; a From display name with "." and "'" stays as signed (Sendmail
# quotes it unless conf/sendmail.mc sets confMUST_QUOTE_CHARS); a campaign
# submitted on the command line is split too; with the milter down, F=T
# keeps mail out (4xx) instead of sending it unchecked.
# As root; runs itself again in its own UTS and mount namespace (host name
# relay.example.test, private /dev/log), bounded by SM_TIMEOUT seconds
# [240].
# Last line: "sendmail: N passed, N failed".

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${SM_IN_NS:-}" ]; then
	why=""
	if [ "$(id -u)" != 0 ]; then
		why="needs root"
	elif ! unshare --uts --mount true 2>/dev/null; then
		why="unshare --uts --mount fails (no CAP_SYS_ADMIN?)"
	fi
	if [ -n "$why" ]; then
		echo "sendmail: $why" >&2
		echo "sendmail: 0 passed, 1 failed"
		exit 1
	fi
	SM_IN_NS=1 exec timeout -k 10 "${SM_TIMEOUT:-240}" \
	    unshare --uts --mount --propagation private bash "$0" "$@"
fi

. "$here/../e2e/lib.sh"
. "$here/../e2e/optin-setup.sh"
. "$here/lib.sh"
# Sendmail refuses a milter socket below world-writable /tmp
E2E_TMPDIR=/run
e2e_init sendmail
hostname relay.example.test
command -v m4 >/dev/null 2>&1 || { e2e_fail "m4 installed"; e2e_done; }

sm_fetch || { e2e_fail "real Sendmail fetched and unpacked"; e2e_done; }
sm_private_dev || { e2e_fail "private /dev with a log socket"; e2e_done; }
sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "Domain example.com" "Selector s2026" \
    "KeyFile $PF_BASE/optin/rsa.pem" ||
	{ e2e_fail "consent database set up"; e2e_done; }
CONF=$OPTIN_DIR/optin-milter.conf
# split copies go back through Sendmail's submission program (submit.cf)
sed -i "s|^SendmailCommand .*|SendmailCommand $(sm_command)|" "$CONF"
milter_start "$CONF" || { e2e_fail "milter starts"; e2e_done; }
sm_configure "local:$MILTER_SOCK" || { e2e_fail "sendmail.cf built"; e2e_done; }
sm_start || { e2e_fail "sendmail starts"; e2e_done; }
e2e_ok "sendmail, milter and sink start"
# pf_send speaks SMTP to 127.0.0.1:PF_PORT: here, Sendmail's port
PF_PORT=$SM_PORT
optin_records "$PF_BASE/records"

MIX="ann@example.com,bob@example.com,carol@example.com,dave@example.com,eve@example.com,FRANK@EXAMPLE.COM,gina@xn--bcher-kva.example"

# has_from FILE - true if the message in FILE has a From header
has_from()
{
	sed -n '/^\r\{0,1\}$/q; p' "$1" | grep -qi '^From:'
}

# a display name Sendmail quotes by default ("." and "'"), which broke the
# signature of the copy kept in the original message
QUOTE_FROM="From: O'Brien Garden Supplies Ltd. <news@example.com>"
printf '%s\r\nTo: reader@example.net\r\nSubject: quoting\r\nDate: Thu, 19 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n' \
    "$QUOTE_FROM" > "$PF_BASE/quote.eml"

# --- every corpus message as campaign mail over SMTP
n=0
sent=""
nofrom=""
for f in "$OPTIN_CORPUS"/*.eml "$OPTIN_CORPUS"/*.msg \
    "$OPTIN_CORPUS"/*.message "$OPTIN_CORPUS"/*.txt "$PF_BASE/quote.eml"; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	optin_stamp "$f" "sm-$n" > "$PF_BASE/msg.$n"
	if ! has_from "$f"; then
		# Sendmail adds no From to mail received over SMTP: the
		# milter refuses the campaign (DESIGN, Message flow 5)
		nofrom="$nofrom $n"
		pf_send news@example.com "$MIX" "$PF_BASE/msg.$n" >/dev/null
		e2e_check_eq "$(basename "$f"): no From, refused at end of data" \
		    "$(tail -n 4 "$PF_BASE/swaks.log" | sed -n 's/^<\*\* *//p')" \
		    "550 5.6.0 campaign message: no From field"
		continue
	fi
	if optin_two_from "$f"; then
		# two From fields: no signature could name one author
		nofrom="$nofrom $n"
		pf_send news@example.com "$MIX" "$PF_BASE/msg.$n" >/dev/null
		e2e_check_eq "$(basename "$f"): two From fields, refused at end of data" \
		    "$(tail -n 4 "$PF_BASE/swaks.log" | sed -n 's/^<\*\* *//p')" \
		    "550 5.6.0 campaign message: 2 From fields"
		continue
	fi
	sent="$sent $n:$(basename "$f")"
	pf_send news@example.com "$MIX" "$PF_BASE/msg.$n" >/dev/null ||
	    e2e_fail "$(basename "$f"): accepted over SMTP"
done
nmsg=$(echo $sent | wc -w)
e2e_check "corpus found" test "$nmsg" -ge 10

# --- a campaign submitted on the command line, as a CRM on the relay would
n=$((n + 1)); cl=$n
optin_stamp "$OPTIN_CORPUS/ours_newsletter_multipart.eml" "sm-$cl" \
    > "$PF_BASE/msg.$cl"
sm_submit -f news@example.com ann@example.com bob@example.com \
    hank@xn--bcher-kva.example dave@example.com frank@example.com \
    < "$PF_BASE/msg.$cl"
e2e_check "command-line submission accepted" test $? = 0

# --- transactional mail to someone who opted out of campaigns
pf_send billing@shop.example.com bob@example.com \
    "$OPTIN_CORPUS/ours_transactional_reset.eml" >/dev/null

want=$((nmsg * 3 + 3 + 1))
sm_wait_for 60 sink_has_count "$want" || e2e_fail "sink got $want messages"
sm_wait_empty 30 || e2e_fail "sendmail queues empty"

# index - one line per stored message, fields separated by "|": file,
# envelope sender, recipients (","), Message-ID, number of List-Unsubscribe
# headers, List-Unsubscribe-Post, internal headers left (0/1), token; and
# FILE.raw, the bytes as delivered.  One pass: this suite checks some fifty
# copies, and a process per check and copy is too slow on a busy machine.
index()
{
	"$PY" - "$SINK_DIR" <<'EOP'
import glob, re, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.msg")):
    d = open(f, "rb").read()
    env = {"from": "", "rcpt": []}
    while d.startswith(b"X-Sink-"):
        line, d = d.split(b"\r\n", 1)
        name, _, val = line.decode().partition(": ")
        val = val.strip("<>")
        if name == "X-Sink-From":
            env["from"] = val
        elif name == "X-Sink-Rcpt":
            env["rcpt"].append(val)
    open(f + ".raw", "wb").write(d)
    head = d.partition(b"\r\n\r\n")[0].decode("utf-8", "replace")
    fields = [re.sub(r"\r\n[ \t]+", " ", h) for h in
              re.split(r"\r\n(?![ \t])", head)]
    def get(n):
        return [h.split(":", 1)[1].strip() for h in fields
                if h.split(":", 1)[0].strip().lower() == n]
    lu = get("list-unsubscribe")
    tok = re.search(r"/u/([A-Za-z0-9_-]+)>", lu[0]) if lu else None
    internal = any(get(n) for n in
                   ("x-campaign-id", "x-campaign-list", "x-optin-split"))
    print("|".join([f, env["from"], ",".join(env["rcpt"]),
                    (get("message-id") or [""])[0], str(len(lu)),
                    (get("list-unsubscribe-post") or [""])[0],
                    str(int(internal)), tok.group(1) if tok else ""]))
EOP
}
index > "$PF_BASE/index"

# rcpts_of MSGID - recipients of the copies of MSGID, sorted, one line
rcpts_of()
{
	awk -F'|' -v m="$1" '$4 == m { print $3 }' "$PF_BASE/index" | sort |
	    tr '\n' ' '
}

# --- exact deliveries: the allowed ones, one copy each
for item in $sent; do
	e2e_check_eq "${item#*:}: delivered to the three allowed, one copy each" \
	    "$(rcpts_of "<sm-${item%%:*}@test.example>")" \
	    "FRANK@EXAMPLE.COM ann@example.com gina@xn--bcher-kva.example "
done
e2e_check_eq "command line: three single-recipient copies" \
    "$(rcpts_of "<sm-$cl@test.example>")" \
    "ann@example.com frank@example.com hank@xn--bcher-kva.example "
e2e_check_eq "every delivered message has one recipient" \
    "$(awk -F'|' '$3 ~ /,/ || $3 == ""' "$PF_BASE/index")" ""
e2e_check_eq "messages delivered in all" "$(sink_count)" "$want"
e2e_check_eq "nothing delivered without one From" \
    "$(for i in $nofrom; do rcpts_of "<sm-$i@test.example>"; done)" ""

qi=$(echo $sent | tr ' ' '\n' | sed -n 's/:quote\.eml$//p')
e2e_check_eq "From with . and ' delivered as submitted, in every copy" \
    "$(for f in $(awk -F'|' -v m="<sm-$qi@test.example>" '$4 == m { print $1 }' \
	"$PF_BASE/index"); do grep -m 1 '^From: ' "$f.raw" | tr -d '\r'; done |
	sort -u)" "$QUOTE_FROM"

# --- quarantine: one row per blocked recipient and message
e2e_check_eq "quarantine rows by reason" \
    "$(optin_sql "select reason, count(*) from quarantine group by reason order by reason" | tr '\n' ' ')" \
    "no_consent|$((nmsg + 1)) opted_out|$((nmsg + 1)) pending|$nmsg suppressed|$nmsg "
e2e_check_eq "quarantine: who, for the command-line message" \
    "$(optin_sql "select recipient || '=' || reason from quarantine where message_id = '<sm-$cl@test.example>' order by 1" | tr '\n' ' ')" \
    "bob@example.com=opted_out dave@example.com=no_consent "
first=$(echo $sent | cut -d: -f1)
e2e_check_eq "quarantine: who, for the first message sent" \
    "$(optin_sql "select recipient || '=' || reason from quarantine where message_id = '<sm-$first@test.example>' order by 1" | tr '\n' ' ')" \
    "bob@example.com=opted_out carol@example.com=pending dave@example.com=no_consent eve@example.com=suppressed "
e2e_check_eq "messages with quarantine rows: all but those refused" \
    "$(optin_sql "select count(distinct message_id) from quarantine")" \
    "$((nmsg + 1))"
e2e_check_eq "every quarantine row has its spool file" \
    "$(optin_spool_missing)" 0

# --- headers, tokens and signatures on every delivered campaign copy
grep -F '|news@example.com|' "$PF_BASE/index" > "$PF_BASE/campaign"
e2e_check_eq "campaign copies delivered" "$(wc -l < "$PF_BASE/campaign")" \
    $((nmsg * 3 + 3))
e2e_check_eq "copies without exactly our unsubscribe headers" \
    "$(awk -F'|' '$5 != 1 || $6 != "List-Unsubscribe=One-Click"' \
	"$PF_BASE/campaign" | wc -l)" 0
e2e_check_eq "copies with internal headers left" \
    "$(awk -F'|' '$7 != 0' "$PF_BASE/campaign" | wc -l)" 0
bad_tok=0
while IFS='|' read -r f _ rcpt mid _ _ _ tok; do
	i=${mid#<sm-}
	list=$(sed -n 's/^X-Campaign-List: *\([^ \r]*\).*/\1/p' \
	    "$PF_BASE/msg.${i%%@*}" | tr -d '\r')
	[ "$("$OPTINCTL" -c "$CONF" token check "$tok" 2>/dev/null |
	    sed -n 's/^recipient: //p; s/^list: //p; s/^status: //p' |
	    tr '\n' ' ')" = \
	    "$(printf '%s' "$rcpt" | tr A-Z a-z) ${list:-news} ok " ] ||
	    { bad_tok=$((bad_tok + 1)); echo "# token: $f" >&2; }
done < "$PF_BASE/campaign"
e2e_check_eq "tokens that do not name the recipient and list" "$bad_tok" 0
# shellcheck disable=SC2046
"$PY" "$E2E_TOP/tests/unit/dkim_verify.py" "$PF_BASE/records" 1 \
    $(cut -d'|' -f1 "$PF_BASE/campaign" | sed 's/$/.raw/') \
    > "$PF_BASE/verify.out" 2>&1
e2e_check_eq "copies whose DKIM signature fails dkimpy" \
    "$(grep -c '^RESULT .* FAIL$' "$PF_BASE/verify.out")" 0
e2e_check_eq "copies whose DKIM signature verifies" \
    "$(grep -c '^RESULT .* ok$' "$PF_BASE/verify.out")" $((nmsg * 3 + 3))

# --- transactional: unchanged below Sendmail's Received
tx=$(awk -F'|' '$2 == "billing@shop.example.com" { print $1 }' "$PF_BASE/index")
e2e_check_eq "transactional mail to an opted-out address delivered" \
    "$(awk -F'|' '$2 == "billing@shop.example.com" { print $3 }' \
	"$PF_BASE/index")" "bob@example.com"
if [ -n "$tx" ]; then
	e2e_check "transactional bytes unchanged below Received" "$PY" -c 'import re, sys
want = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
got = open(sys.argv[2], "rb").read()
sys.exit(0 if re.match(b"Received: .*\r\n(\t.*\r\n)*", got) and got.endswith(b"\r\n" + want) else 1)' \
	    "$OPTIN_CORPUS/ours_transactional_reset.eml" "$tx.raw"
fi

# --- the decision lines, with Sendmail's queue IDs
e2e_check_eq "decision lines for the SMTP campaigns" \
    "$(grep -cE '^[0-9A-Za-z]{14}: campaign list=[a-z]+ from=<news@example.com> allowed=3 quarantined=4 \(suppressed=1 opted_out=1 pending=1 no_consent=1\) split=yes dkim=rsa-sha256 d=example.com s=s2026$' "$MILTER_LOG")" \
    "$nmsg"
e2e_check "Sendmail logged the milter's quarantine (milter delrcpt)" \
    grep -q 'Milter (optin-milter) delete: rcpt <bob@example.com>' "$SM_LOG"

e2e_check_eq "Sendmail reached the milter every time" \
    "$(grep -c 'Milter (optin-milter): to error state' "$SM_LOG")" 0

# --- milter down: F=T tempfails instead of sending unchecked
milter_stop
before=$(sink_count)
pf_send news@example.com ann@example.com "$PF_BASE/msg.1" >/dev/null
rc=$?
e2e_check_eq "milter down: Sendmail's answer" \
    "$(tail -n 4 "$PF_BASE/swaks.log" | sed -n 's/^<\*\* *//p')" \
    "451 4.3.2 Please try again later"
e2e_check_eq "milter down: refused at MAIL FROM (swaks status 23)" "$rc" 23
sleep 2
e2e_check_eq "milter down: nothing delivered" "$(sink_count)" "$before"
e2e_check_eq "milter down: nothing queued" "$(sm_queue_count)" 0
e2e_done
