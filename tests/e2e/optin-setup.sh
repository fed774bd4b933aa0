# optin-setup.sh - shared set-up of the end-to-end tests that run the milter:
# a consent database with one person in each state, keys, and a milter
# config.  Sourced after lib.sh and e2e_init.
#
#	optin_setup [extra config lines]   writes $OPTIN_DIR/optin-milter.conf
#	optin_start [extra config lines]   sink, optin_setup, milter, Postfix
#	optin_records                      DKIM TXT records for dkim_verify.py
#	optin_token_rcpt, optin_bad_tokens who a copy's token names
#	optin_two_from FILE                the milter refuses FILE (two From)
#	optin_stamp FILE ID                a copy with Message-ID <ID@test.example>
#	optin_spool_missing                quarantine rows without their file
#	optin_feedback_prepare [lines]     optin-feedback's config, as nobody
#	optin_feedback_route DOMAIN        bounces and complaints to DOMAIN
#	                                   reach it through pipe(8)
#
# The unsubscribe tests (t-unsub-*.sh) build their own small database and
# run optin-unsubd; they share:
#	optin_need_cmds CMD...             the commands installed, or stop
#	optin_need_built PROG...           the programs built, or stop
#	optin_unsub_setup NAME             $CONF, $DB, $QDIR, $HTTP_PORT; sink
#	optin_ctl ARGS, optin_q SQL        optinctl on $CONF; a query on $DB
#	optin_ctl_ok RC LABEL              report a chain of optin_ctl calls
#
# Engine: OPTIN_STORE=pgsql puts the consent database on a private
# PostgreSQL (tests/lib/pg.sh, started on first use, stopped by e2e_cleanup)
# in a fresh database per test (OPTIN_PG_SERVER, a libpq conninfo without
# dbname: on that running server instead, which the caller stops;
# tests/pgsql/run.sh); otherwise it is the SQLite file
# $OPTIN_DIR/consent.db (the unsubscribe tests: $PF_BASE/consent.db).
# optin_consentdb gives the ConsentDB value, optin_sql and optin_q query
# whichever it is (db_sql of tests/lib/db.sh); no e2e script runs sqlite3.
#
# People on the lists "news", "newsletter" and "events" (the lists the
# corpus messages name; double opt-in):
#	ann@example.com, frank@example.com, gina@xn--bcher-kva.example,
#	hank@xn--bcher-kva.example: opted_in;  bob@example.com: opted_out;
#	carol@example.com: pending;  eve@example.com: suppressed (all);
#	dave@example.com: never seen (no_consent).

. "$E2E_TOP/tests/lib/db.sh"
OPTIN_DIR=""
OPTIN_PGDB=""

OPTIN_CONSENTDB=""

# optin_consentdb PATH - set OPTIN_CONSENTDB to the ConsentDB to use: PATH
# (SQLite), or with OPTIN_STORE=pgsql a fresh database on the private
# PostgreSQL (started here, in this shell: not in a $(...) subshell)
optin_consentdb()
{
	OPTIN_CONSENTDB=$1
	[ "${OPTIN_STORE:-sqlite}" = pgsql ] || return 0
	if [ -z "$OPTIN_PGDB" ]; then
		if [ -n "${OPTIN_PG_SERVER:-}" ]; then
			# a server of the caller's, shared: a database per test
			PG_BASE=$OPTIN_PG_SERVER
			OPTIN_PGDB=optin_e2e_$(echo "$E2E_NAME" | tr -- - _)
		else
			pg_start || return 1
			OPTIN_PGDB=optin_e2e
		fi
		pg_createdb "$OPTIN_PGDB" || return 1
	fi
	OPTIN_CONSENTDB=$(pg_consentdb "$OPTIN_PGDB")
}

# optin_keys DIR - token key, RSA-2048 and Ed25519 signing keys, mode 0600
optin_keys()
{
	local d=$1
	(umask 077
	printf '1 %s\n' "$(openssl rand -base64 32)" > "$d/token.keys"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$d/rsa.pem" 2>/dev/null
	openssl genpkey -algorithm ED25519 -out "$d/ed25519.pem" 2>/dev/null)
}

# optin_db CONF - the consent database of the header comment
optin_db()
{
	local c=$1 a l
	"$OPTINCTL" -c "$c" init >/dev/null || return 1
	for l in news newsletter events; do
		"$OPTINCTL" -c "$c" list add $l --double-opt-in >/dev/null ||
		    return 1
		for a in ann@example.com frank@example.com gina@bücher.example \
		    hank@xn--bcher-kva.example bob@example.com eve@example.com; do
			"$OPTINCTL" -c "$c" subscribe "$a" $l --source e2e \
			    >/dev/null &&
			"$OPTINCTL" -c "$c" confirm "$a" $l >/dev/null ||
			    return 1
		done
		"$OPTINCTL" -c "$c" subscribe carol@example.com $l >/dev/null &&
		"$OPTINCTL" -c "$c" unsubscribe bob@example.com $l >/dev/null ||
		    return 1
	done
	"$OPTINCTL" -c "$c" unsubscribe eve@example.com --all >/dev/null
}

# optin_setup [config lines...] - directory, keys, database and config
optin_setup()
{
	OPTIN_DIR=$PF_BASE/optin
	mkdir -p -m 0700 "$OPTIN_DIR" "$OPTIN_DIR/quarantine"
	optin_keys "$OPTIN_DIR"
	optin_consentdb "$OPTIN_DIR/consent.db" || return 1
	cat > "$OPTIN_DIR/optin-milter.conf" <<EOC
Syslog no
LogLevel info
ConsentDB $OPTIN_CONSENTDB
QuarantineDir $OPTIN_DIR/quarantine
CampaignSenders news@example.com
DefaultList news
TokenKeyFile $OPTIN_DIR/token.keys
UnsubscribeURL https://unsub.example.com/u/%t
UnsubscribeMailto unsubscribe+%t@example.com
ListIdDomain lists.example.com
SendmailCommand /usr/sbin/sendmail -C $PF_BASE/conf -i
SPFCheck off
EOC
	local l
	for l in "$@"; do
		printf '%s\n' "$l" >> "$OPTIN_DIR/optin-milter.conf"
		# optinctl run as root with UserID becomes that user, as the
		# daemons do: the directory and its files are UserID's
		case $l in
		"UserID "*) chown -R "${l#UserID }" "$OPTIN_DIR" ;;
		esac
	done
	optin_db "$OPTIN_DIR/optin-milter.conf"
}

# optin_start [config lines...] - the usual start of a test: the sink,
# optin_setup with these lines, the milter and Postfix (smtpd_milters and
# non_smtpd_milters); on a failure, count it and stop
optin_start()
{
	sink_start || { e2e_fail "sink starts"; e2e_done; }
	optin_setup "$@" || { e2e_fail "consent database set up"; e2e_done; }
	milter_start "$OPTIN_DIR/optin-milter.conf" ||
		{ e2e_fail "milter starts"; e2e_done; }
	pf_start "$PF_BASE" "unix:$MILTER_SOCK" ||
		{ e2e_fail "postfix starts"; e2e_done; }
}

# optin_records FILE [CONF] - "name<TAB>text" DKIM records of the keys
optin_records()
{
	"$OPTINCTL" -c "${2:-$OPTIN_DIR/optin-milter.conf}" --json dns |
	    "$PY" -c 'import json, sys
for r in json.load(sys.stdin)["records"]:
	print("%s\t%s" % (r["name"], r["value"]))' > "$1"
}

# optin_sql QUERY - one query on the test database (either engine; rows
# as a|b)
optin_sql()
{
	db_sql "$OPTIN_CONSENTDB" "$1"
}

# optin_verify RECORDS FILE N - the first N signatures of a stored message
# verify with dkimpy
optin_verify()
{
	sink_raw "$2" | "$PY" "$E2E_TOP/tests/unit/dkim_verify.py" "$1" \
	    "${3:-1}" >/dev/null 2>&1
}

# optin_verify_bad RECORDS N FILE... - the stored messages FILE... that
# fail optin_verify RECORDS FILE N (fewer than N signatures, one that
# dkimpy does not verify, or no verdict at all), one a line, in their
# order: one dkimpy run for all of them (its import alone is 0.7 s of CPU,
# once per message before)
optin_verify_bad()
{
	local recs=$1 n=$2 dir ok i f
	shift 2
	[ $# -gt 0 ] || return 0
	dir=$(mktemp -d "$PF_BASE/verify.XXXXXX")
	sink_raw_to "$dir" "$@"
	ok=" $("$PY" "$E2E_TOP/tests/unit/dkim_verify.py" "$recs" "$n" \
	    $(seq -f "$dir/%g.eml" "$#") 2>/dev/null |
	    sed -n "s|^RESULT $dir/\([0-9]*\)\.eml ok\$|\1|p" | tr '\n' ' ')"
	rm -rf "$dir"
	i=0
	for f in "$@"; do
		i=$((i + 1))
		case $ok in *" $i "*) ;; *) echo "$f" ;; esac
	done
}

# optin_token_rcpt FILE [CONF] - the recipient that the List-Unsubscribe
# token of stored message FILE names (optinctl token check), or nothing
optin_token_rcpt()
{
	local tok
	tok=$(sink_header "$1" List-Unsubscribe |
	    sed -n 's|.*/u/\([A-Za-z0-9_-]*\)>.*|\1|p')
	[ -n "$tok" ] || return 0
	"$OPTINCTL" -c "${2:-$OPTIN_DIR/optin-milter.conf}" --json token check \
	    "$tok" 2>/dev/null | "$PY" -c 'import json, sys
print(json.load(sys.stdin)["recipient"])' 2>/dev/null
}

# optin_bad_tokens [CONF] - one line per stored message that has a
# List-Unsubscribe but not exactly one recipient whose (lower-cased)
# address its token names: "Message-ID: recipients -> token's recipient"
optin_bad_tokens()
{
	local f rcpts who
	for f in $(sink_messages); do
		[ -n "$(sink_header "$f" List-Unsubscribe)" ] || continue
		rcpts=$(sink_rcpts "$f" | tr 'A-Z\n' 'a-z ' | sed 's/ $//')
		who=$(optin_token_rcpt "$f" "$@")
		[ "$rcpts" = "$who" ] ||
		    echo "$(sink_header "$f" Message-ID): $rcpts -> $who"
	done
}

# optin_two_from FILE - true when message FILE has more than one From
# field: the milter refuses such a campaign (550 5.6.0, t-signsafe.sh), so
# the corpus tests that expect delivery leave it out
optin_two_from()
{
	[ "$(tr -d '\r' < "$1" | sed '/^$/q' | grep -ci '^from:')" -gt 1 ]
}

# optin_need_cmds CMD... - fail the test and stop unless every CMD is
# installed
optin_need_cmds()
{
	local c
	for c in "$@"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			e2e_fail "$c installed" "missing: run contrib/deps.sh"
			e2e_done
		fi
	done
}

# optin_need_built PROG... - fail the test and stop unless every program
# PROG (a path) is built
optin_need_built()
{
	local b
	for b in "$@"; do
		if [ ! -x "$b" ]; then
			e2e_fail "$(basename "$b") built" "$b missing: run make"
			e2e_done
		fi
	done
}

# optin_unsub_setup NAME - for the unsubscribe test NAME: sets CONF, DB (the
# ConsentDB, either engine) and QDIR (made) under $PF_BASE and a free HTTP_PORT for optin-unsubd, starts
# the sink (or fails the test and stops), and writes $CONF.  The milter's
# SendmailCommand needs PF_CONF, which pf_start sets; the path is known in
# advance, so the config is written first.
optin_unsub_setup()
{
	CONF=$PF_BASE/optin.conf
	optin_consentdb "$PF_BASE/consent.db" ||
	    { e2e_fail "consent database made"; e2e_done; }
	DB=$OPTIN_CONSENTDB
	QDIR=$PF_BASE/quarantine
	HTTP_PORT=$(e2e_free_port)
	mkdir -m 0700 "$QDIR"
	sink_start || { e2e_fail "sink starts"; e2e_done; }
	cat > "$CONF" <<EOC
# written by tests/e2e/$1.sh
ConsentDB $DB
QuarantineDir $QDIR
CampaignSenders news@example.com
DefaultList news
TokenKeyFile $PF_BASE/token.keys
UnsubscribeURL http://127.0.0.1:$HTTP_PORT/u/%t
UnsubscribeMailto unsubscribe+%t@example.com
UnsubscribeListen 127.0.0.1:$HTTP_PORT
SendmailCommand /usr/sbin/sendmail -C $PF_BASE/conf -i
SPFCheck off
Syslog no
LogLevel debug
Organization Example Shop
PrivacyURL https://example.com/privacy
EOC
}

# optin_ctl ARGS - optinctl with $CONF, its output appended to
# $PF_BASE/ctl.log
optin_ctl()
{
	"$OPTINCTL" -c "$CONF" "$@" >>"$PF_BASE/ctl.log" 2>&1
}

# optin_ctl_ok RC LABEL - after a chain of optin_ctl calls that ended with
# status RC: e2e_ok LABEL, or show ctl.log, fail LABEL and stop
optin_ctl_ok()
{
	if [ "$1" -eq 0 ]; then
		e2e_ok "$2"
	else
		cat "$PF_BASE/ctl.log" >&2
		e2e_fail "$2"
		e2e_done
	fi
}

# optin_q SQL - one query on $DB (SQLite: waiting up to 5 s for a lock)
optin_q()
{
	db_sql "$DB" "$1"
}

# optin_stamp FILE ID - print a copy of the message in FILE (LF line ends)
# whose Message-ID is <ID@test.example>, so each delivered copy can be
# traced; every other header and the body are kept
optin_stamp()
{
	"$PY" - "$1" "$2" <<'EOP'
import re, sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
head, sep, body = d.partition(b"\n\n")
lines = [l for l in re.split(rb"\n(?![ \t])", head)
	 if not l.lower().startswith(b"message-id:")]
lines.insert(0, b"Message-ID: <%s@test.example>" % sys.argv[2].encode())
sys.stdout.buffer.write(b"\n".join(lines) + sep + body)
EOP
}

# optin_spool_missing - print how many quarantine rows name a spool file
# that is missing or empty in $OPTIN_DIR/quarantine
optin_spool_missing()
{
	local s missing=0
	for s in $(optin_sql "select distinct spool_file from quarantine"); do
		[ -s "$OPTIN_DIR/quarantine/$s" ] || missing=$((missing + 1))
	done
	echo "$missing"
}

# optin_feedback_prepare [feedback.conf lines...] - after optin_setup and
# before the milter starts: the optin-feedback pipe(8) service runs as
# "nobody" (pipe(8) refuses root).  That user gets the database directory
# and a copy of the token key of its own (a key file must belong to its
# reader or root, mode 0600; and a key below a directory someone else owns
# is refused, OpenDKIM's rule; root, the milter here, reads a key of any
# owner).  Its config, $FBDIR/feedback.conf, has the milter's
# token-carrying addresses (BounceAddress, UnsubscribeURL,
# UnsubscribeMailto) and then the lines given.  The program itself is
# copied there too: "nobody" may not reach the build tree (a checkout in
# /root or in a mktemp -d directory is 0700).  Sets FEEDBACK and FBDIR.
optin_feedback_prepare()
{
	local l
	FBDIR=$PF_BASE/feedback
	FEEDBACK=$FBDIR/optin-feedback
	chmod 0711 "$PF_BASE"
	chown -R nobody "$OPTIN_DIR"
	mkdir -p -m 0755 "$FBDIR"
	install -m 0755 "$E2E_BUILD/optin-feedback" "$FEEDBACK" || return 1
	install -m 0600 -o nobody "$OPTIN_DIR/token.keys" "$FBDIR/token.keys" ||
	    return 1
	{
		printf 'Syslog no\nConsentDB %s\nTokenKeyFile %s\n' \
		    "$OPTIN_CONSENTDB" "$FBDIR/token.keys"
		grep -E '^(BounceAddress|UnsubscribeURL|UnsubscribeMailto)[[:space:]]' \
		    "$OPTIN_DIR/optin-milter.conf"
		for l in "$@"; do
			printf '%s\n' "$l"
		done
	} > "$FBDIR/feedback.conf"
	chmod 0644 "$FBDIR/feedback.conf"
}

# optin_feedback_route DOMAIN - after pf_start: bounce@DOMAIN and
# fbl@DOMAIN (any +extension) go to the optin-feedback service of
# conf/postfix-master-feedback.cf and conf/postfix-transport-feedback, with
# test paths; reloads Postfix
optin_feedback_route()
{
	pf_postconf "transport_maps = inline:{ bounce@$1=optin-feedback: , fbl@$1=optin-feedback: }" \
	    "recipient_delimiter = +" "relay_domains = $1" || return 1
	postconf -c "$PF_CONF" -M "optin-feedback/unix = optin-feedback unix - n n - 4 pipe flags=Rq user=nobody argv=$FEEDBACK -c $FBDIR/feedback.conf -f \${sender} -r \${recipient}" ||
	    return 1
	pf_reload
}

# optin_channel PORT - after pf_start: one more smtpd on 127.0.0.1:PORT
# (syslog name postfix-e2e/chan) with the instance's smtpd_milters, for the
# milter's ResubmitAddress inet:PORT@127.0.0.1 (split copies over one SMTP
# connection); reloads Postfix and waits for the port
optin_channel()
{
	postconf -c "$PF_CONF" -M "127.0.0.1:$1/inet = 127.0.0.1:$1 inet n - n - - smtpd -o syslog_name=postfix-e2e/chan" &&
	pf_reload && e2e_wait_port "$1" 20
}

# optin_delivered ID - the recipients of every delivered copy of the
# message whose Message-ID is <ID@test.example> (optin_stamp), sorted, one
# line
optin_delivered()
{
	sink_rcpts_by_header Message-ID "<$1@test.example>" | tr '\n' ' '
}

# optin_quarantined ID - that message's quarantine rows as
# recipient=reason, sorted, one line
optin_quarantined()
{
	optin_sql "select recipient || '=' || reason from quarantine where message_id = '<$1@test.example>' order by 1" |
	    tr '\n' ' '
}
