# optin-setup.sh - shared set-up of the end-to-end tests that run the milter:
# a consent database with one person in each state, keys, and a milter
# config.  Sourced after lib.sh and e2e_init.
#
#	optin_setup [extra config lines]   writes $OPTIN_DIR/optin-milter.conf
#	optin_records                      DKIM TXT records for dkim_verify.py
#
# People on the lists "news", "newsletter" and "events" (the lists the
# corpus messages name; double opt-in):
#	ann@example.com, frank@example.com, gina@xn--bcher-kva.example,
#	hank@xn--bcher-kva.example: opted_in;  bob@example.com: opted_out;
#	carol@example.com: pending;  eve@example.com: suppressed (all);
#	dave@example.com: never seen (no_consent).

OPTIN_DIR=""

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
	cat > "$OPTIN_DIR/optin-milter.conf" <<EOC
Syslog no
LogLevel info
ConsentDB $OPTIN_DIR/consent.db
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
	done
	optin_db "$OPTIN_DIR/optin-milter.conf"
}

# optin_records FILE [CONF] - "name<TAB>text" DKIM records of the keys
optin_records()
{
	"$OPTINCTL" -c "${2:-$OPTIN_DIR/optin-milter.conf}" --json dns |
	    "$PY" -c 'import json, sys
for r in json.load(sys.stdin)["records"]:
	print("%s\t%s" % (r["name"], r["value"]))' > "$1"
}

# optin_sql QUERY - one query on the test database
optin_sql()
{
	sqlite3 "$OPTIN_DIR/consent.db" "$1"
}

# optin_verify RECORDS FILE N - the first N signatures of a stored message
# verify with dkimpy
optin_verify()
{
	sink_raw "$2" | "$PY" "$E2E_TOP/tests/unit/dkim_verify.py" "$1" \
	    "${3:-1}" >/dev/null 2>&1
}
