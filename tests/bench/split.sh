# split.sh - section "split" of tests/bench/run.sh (sourced by it; issue
# 14 item 5): one campaign message to SPLIT_SMALL (1,000) and SPLIT_BIG
# (10,000) opted-in recipients through the private Postfix, split by the
# milter with SendmailCommand (one sendmail(1) process per copy) and over
# the ResubmitAddress channel (one SMTP connection to an extra smtpd whose
# smtpd_milters name the milter).  Figures: seconds from the end of DATA to
# Postfix's 250 (the milter's end of message: every copy is handed over
# before it answers), ms per copy, milter CPU per copy, and that every
# recipient got exactly one copy (Postfix log, status=sent).  The 10,000
# run with sendmail(1) takes many minutes: it runs only with SPLIT_SLOW=1,
# otherwise the 1,000 figure is extrapolated (and said so).
#
# smtpd_recipient_limit is raised to 20,000 and milter_content_timeout to
# 1 hour for the run (defaults 1000 and 300 s: see optin-milter.conf(5)).

SPLIT_SMALL=${SPLIT_SMALL:-1000}
SPLIT_BIG=${SPLIT_BIG:-10000}

# split_send N ID - one message with Message-ID <ID@bench> from $FROM to
# N recipients s0..s(N-1)@split.example.net over SMTP to Postfix; prints
# "seconds-to-250 reply-code"
split_send()
{
	"$PY" - "$PF_PORT" "$FROM" "$1" "$2" "$MSG" <<'EOP'
import re, smtplib, sys, time
port, frm, n, mid, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
d = open(path, "rb").read().replace(b"\r\n", b"\n")
d = re.sub(rb"(?mi)^Message-ID:.*\n", b"", d, count=1)
d = b"Message-ID: <%s@bench>\n" % mid.encode() + d
s = smtplib.SMTP("127.0.0.1", int(port), timeout=7200)
s.ehlo("bench.example")
s.mail(frm)
for i in range(n):
	code, _ = s.rcpt("s%d@split.example.net" % i)
	if code != 250:
		print("rcpt %d refused: %d" % (i, code), file=sys.stderr)
t0 = time.monotonic()
code, msg = s.data(d.replace(b"\n", b"\r\n"))
t1 = time.monotonic()
s.quit()
print("%.3f %d" % (t1 - t0, code))
EOP
}

# split_delivered ID-LOG-OFFSET N - "total unique" status=sent lines to
# s*@split.example.net after line OFFSET of the Postfix log
split_delivered()
{
	tail -n +"$(( $1 + 1 ))" "$PF_LOG" |
	    sed -n 's/.* to=<\(s[0-9]*@split\.example\.net\)>.* status=sent .*/\1/p' |
	    sort | awk '{ n++; if ($0 != last) u++; last = $0 }
		END { printf "%d %d\n", n, u }'
}

# split_run NAME HOW N - the milter with SendmailCommand (HOW sendmail) or
# the channel (HOW channel), one message to N; records a line in
# $W/split.txt: name n eom_s ms_per_copy cpu_ms_per_copy total unique
split_run()
{
	local name=$1 how=$2 n=$3 conf=$W/optin-split.conf off c0 c1 out
	local eom code del tries
	conf_optin "$conf" "$RELAY_DB" rsa
	if [ "$how" = channel ]; then
		echo "ResubmitAddress inet:$SPLIT_CH_PORT@127.0.0.1" >> "$conf"
	else
		echo "SendmailCommand /usr/sbin/sendmail -C $PF_CONF -i" >> "$conf"
	fi
	cp "$conf" "$W/optin-split-$name.conf"
	milter_up "optin-split-$name" unix
	pf_set_milter "$MSPEC"
	sleep 1
	off=$(wc -l < "$PF_LOG")
	c0=$(cpu_ticks "$MPID")
	out=$(split_send "$n" "split-$name-$$")
	c1=$(cpu_ticks "$MPID")
	eom=${out% *}
	code=${out#* }
	for tries in $(seq 600); do
		pf_wait_empty 5 2>/dev/null && break
	done
	del=$(split_delivered "$off")
	echo "$name $n $eom $(calc "$eom * 1000 / ($n - 1)") $(calc "($c1 - $c0) * 1000 / $HZ / ($n - 1)") $del $code" >> "$W/split.txt"
	say "split $name: $n recipients, reply $code after $eom s, delivered (total unique) $del"
	milter_down
}

section_split()
{
	local f eom ms cpu tot uniq n small_sm small_ch big_ch
	echo
	echo "== split: one message to $SPLIT_SMALL and $SPLIT_BIG recipients"
	relay_up
	# the recipients, opted in (idempotent)
	sqlite3 "$RELAY_DB" >/dev/null <<EOF
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c
    WHERE i < $SPLIT_BIG - 1)
INSERT OR IGNORE INTO subscriptions SELECT 's' || i || '@split.example.net',
    'newsletter', 'opted_in', 'bench', 1700000000 FROM c;
EOF
	SPLIT_CH_PORT=$(e2e_free_port)
	pf_postconf "smtpd_recipient_limit = 20000" \
	    "milter_content_timeout = 3600s" "milter_command_timeout = 600s"
	postconf -c "$PF_CONF" -M "127.0.0.1:$SPLIT_CH_PORT/inet = 127.0.0.1:$SPLIT_CH_PORT inet n - n - - smtpd -o syslog_name=postfix-e2e/chan"
	pf_reload
	e2e_wait_port "$SPLIT_CH_PORT" 20 || { say "channel listener down"; return 1; }
	: > "$W/split.txt"
	split_run sendmail-small sendmail "$SPLIT_SMALL"
	split_run channel-small channel "$SPLIT_SMALL"
	[ "${SPLIT_SLOW:-0}" = 1 ] && split_run sendmail-big sendmail "$SPLIT_BIG"
	split_run channel-big channel "$SPLIT_BIG"
	while read -r f n eom ms cpu tot uniq code; do
		result "split $f: $n rcpts, s to the 250 (reply $code)" "$eom" \
		    "< 300 (content timeout)" "-" "$(met "$eom < 300")"
		result "split $f: ms per copy (milter CPU $cpu ms)" "$ms" "-" \
		    "-" "-"
		result "split $f: delivered total/unique of $n" "$tot/$uniq" \
		    "$n/$n" "-" "$(met "$tot == $n && $uniq == $n")"
	done < "$W/split.txt"
	small_sm=$(awk '$1 == "sendmail-small" { print $4 }' "$W/split.txt")
	small_ch=$(awk '$1 == "channel-small" { print $4 }' "$W/split.txt")
	big_ch=$(awk '$1 == "channel-big" { print $3 }' "$W/split.txt")
	if [ -n "$small_sm" ] && [ -n "$small_ch" ]; then
		result "split: per-copy cost sendmail / channel ($SPLIT_SMALL)" \
		    "$(calc "$small_sm / $small_ch")" "> 1" "-" \
		    "$(met "$small_sm > $small_ch")"
		[ "${SPLIT_SLOW:-0}" = 1 ] ||
		result "split sendmail-big: $SPLIT_BIG rcpts extrapolated from $SPLIT_SMALL (s)" \
		    "$(calc "$small_sm * ($SPLIT_BIG - 1) / 1000")" \
		    "< 300 (content timeout)" "-" \
		    "$(met "$small_sm * ($SPLIT_BIG - 1) / 1000 < 300")"
	fi
	[ -n "$big_ch" ] && say "channel, $SPLIT_BIG recipients: $big_ch s"
}
