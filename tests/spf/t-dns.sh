#!/bin/sh
# t-dns.sh - "optinctl dns DOMAIN" against the test zone (run by run.sh,
# which exports SPF_NS, SPF_TMP, SPF_HERE, SPF_BUILD).  Keys and published
# DKIM records: setup-dkim.sh; SPF and DMARC records: example.test.conf.
#   example.test       DKIM matches (record split, space in p=), SPF pass
#                      for both OutboundIP, DMARC found, aligned: exit 0
#   news.example.test  parent domain's key, DMARC of the org domain: 0
#   other.test         DKIM differs, SPF fail, no DMARC: 65
#   pass.example.test  DKIM record missing: 65
#   news.strict.test   adkim=s and a key of d=strict.test: not aligned, 65
#   nodmarc.test       no key for the domain: 65
#   down.example.test  DNS down: every lookup temperror, 75
# plus --json for each (parsed by /usr/bin/python3), the record list
# without DOMAIN, no OutboundIP, and usage errors.
# Prints "ok LABEL" / "not ok LABEL" lines; diagnostics on stderr.
ns=$SPF_NS
k=$SPF_TMP/dkim
ctl=$SPF_BUILD/optinctl
py=/usr/bin/python3
d=$(mktemp -d /tmp/optin-spf-dns.XXXXXX) || exit 1
trap 'rm -rf "$d"' EXIT

cat > "$d/optin.conf" <<EOF
Syslog no
OutboundIP 192.0.2.1, 2001:db8::1
KeyTable $k/keytable
SigningTable $k/signingtable
EOF
grep -v '^OutboundIP' "$d/optin.conf" > "$d/noip.conf"

ok() { echo "ok $1"; }
not_ok() { echo "not ok $1"; }

# dns CONF ARGS... - run optinctl in the namespace: $d/out, $d/err, $rc
dns() {
	conf=$1
	shift
	ip netns exec "$ns" "$ctl" -c "$conf" "$@" > "$d/out" 2> "$d/err"
	rc=$?
}

# expect_rc LABEL WANT
expect_rc() {
	if [ "$rc" -eq "$2" ]; then
		ok "$1: exit $2"
	else
		not_ok "$1: exit $rc, want $2"
		sed 's/^/    /' "$d/out" "$d/err" >&2
	fi
}

# expect_text LABEL - $d/out equals $d/want
expect_text() {
	if diff -u "$d/want" "$d/out" >&2; then
		ok "$1: output"
	else
		not_ok "$1: output differs (diff on stderr)"
	fi
}

# publish NAME KEY - the "publish:" line for key file KEY.p
publish() {
	"$py" - "$1" "v=DKIM1; k=rsa; p=$(cat "$k/$2.p")" <<'EOF'
import sys
name, v = sys.argv[1], sys.argv[2]
parts = [v[i:i + 255] for i in range(0, len(v), 255)]
print('  publish: %s. IN TXT ( %s )' % (name, " ".join('"%s"' % p
    for p in parts)))
EOF
}

# json LABEL PYTHON-EXPR... - each expression, with j the parsed JSON and
# k the key directory, must be true
json() {
	label=$1
	shift
	if "$py" - "$d/out" "$k" "$@" <<'EOF' >&2
import json, sys
j = json.load(open(sys.argv[1]))
k = sys.argv[2]
def p(name):
    return open("%s/%s.p" % (k, name)).read().strip()
bad = [e for e in sys.argv[3:] if not eval(e)]
for e in bad:
    print("false: %s" % e)
print(json.dumps(j, indent=1)[:3000] if bad else "", end="")
sys.exit(1 if bad else 0)
EOF
	then
		ok "$label: json"
	else
		not_ok "$label: json"
	fi
}

# example.test: all fine
dns "$d/optin.conf" dns example.test
expect_rc "example.test" 0
{
	echo "domain: example.test"
	echo "dkim: s1._domainkey.example.test: matches"
	publish s1._domainkey.example.test ex
	echo "spf: 192.0.2.1: pass"
	echo "spf: 2001:db8::1: pass"
	echo "dmarc: found at _dmarc.example.test: v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
	echo "dmarc: dkim d=example.test aligned (relaxed)"
	echo "dmarc: spf example.test aligned (relaxed)"
	echo "result: ok"
} > "$d/want"
expect_text "example.test"
dns "$d/optin.conf" --json dns example.test.
expect_rc "example.test --json" 0
json "example.test" 'j["domain"] == "example.test"' \
    'len(j["dkim"]) == 1' \
    'j["dkim"][0]["name"] == "s1._domainkey.example.test"' \
    'j["dkim"][0]["domain"] == "example.test"' \
    'j["dkim"][0]["status"] == "matches"' \
    'j["dkim"][0]["value"] == "v=DKIM1; k=rsa; p=" + p("ex")' \
    'j["dkim"][0]["published"].replace(" ", "") == "v=DKIM1;k=rsa;p=" + p("ex")' \
    'j["dkim"][0]["published"] != j["dkim"][0]["value"]' \
    '[(s["ip"], s["result"]) for s in j["spf"]] == [("192.0.2.1", "pass"), ("2001:db8::1", "pass")]' \
    'j["dmarc"]["status"] == "found"' \
    'j["dmarc"]["record"] == "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"' \
    'j["dmarc"]["found_at"] == "example.test"' \
    'j["dmarc"]["policy"] == "reject"' \
    'j["dmarc"]["adkim"] == "r" and j["dmarc"]["aspf"] == "r"' \
    'j["dmarc"]["dkim_domain"] == "example.test" and j["dmarc"]["dkim_aligned"] is True' \
    'j["dmarc"]["spf_domain"] == "example.test" and j["dmarc"]["spf_aligned"] is True' \
    'j["result"] == "ok"'

# news.example.test: signed with the parent's key, org-domain DMARC
dns "$d/optin.conf" dns news.example.test
expect_rc "news.example.test" 0
{
	echo "domain: news.example.test"
	echo "dkim: s1._domainkey.example.test: matches"
	publish s1._domainkey.example.test ex
	echo "spf: 192.0.2.1: pass"
	echo "spf: 2001:db8::1: pass"
	echo "dmarc: found at _dmarc.example.test: v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
	echo "dmarc: dkim d=example.test aligned (relaxed)"
	echo "dmarc: spf news.example.test aligned (relaxed)"
	echo "result: ok"
} > "$d/want"
expect_text "news.example.test"

# other.test: another key published, SPF fail, no DMARC
dns "$d/optin.conf" dns other.test
expect_rc "other.test" 65
{
	echo "domain: other.test"
	echo "dkim: s1._domainkey.other.test: differs (the published p= is another key)"
	publish s1._domainkey.other.test other
	echo "  published: \"v=DKIM1; k=rsa; p=$(cat "$k/decoy.p")\""
	echo "spf: 192.0.2.1: fail (other.test: fail for OutboundIP 192.0.2.1)"
	echo "spf: 2001:db8::1: fail (other.test: fail for OutboundIP 2001:db8::1)"
	echo "dmarc: none (_dmarc.other.test: no DMARC record)"
	echo "dmarc: dkim d=other.test aligned (relaxed)"
	echo "dmarc: spf other.test aligned (relaxed)"
	echo "result: bad"
} > "$d/want"
expect_text "other.test"
dns "$d/optin.conf" --json dns other.test
expect_rc "other.test --json" 65
json "other.test" 'j["dkim"][0]["status"] == "differs"' \
    'j["dkim"][0]["value"] == "v=DKIM1; k=rsa; p=" + p("other")' \
    'j["dkim"][0]["published"] == "v=DKIM1; k=rsa; p=" + p("decoy")' \
    '[s["result"] for s in j["spf"]] == ["fail", "fail"]' \
    'j["dmarc"]["status"] == "none" and j["dmarc"]["record"] is None' \
    'j["result"] == "bad"'

# pass.example.test: the key's record is not published
dns "$d/optin.conf" dns pass.example.test
expect_rc "pass.example.test" 65
{
	echo "domain: pass.example.test"
	echo "dkim: s1._domainkey.pass.example.test: missing (s1._domainkey.pass.example.test: no such name)"
	publish s1._domainkey.pass.example.test miss
	echo "spf: 192.0.2.1: pass"
	echo "spf: 2001:db8::1: pass"
	echo "dmarc: found at _dmarc.example.test: v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
	echo "dmarc: dkim d=pass.example.test aligned (relaxed)"
	echo "dmarc: spf pass.example.test aligned (relaxed)"
	echo "result: bad"
} > "$d/want"
expect_text "pass.example.test"
dns "$d/optin.conf" --json dns pass.example.test
json "pass.example.test" 'j["dkim"][0]["status"] == "missing"' \
    'j["dkim"][0]["published"] is None' 'j["result"] == "bad"'

# news.strict.test: adkim=s, aspf=s; d=strict.test is not aligned
dns "$d/optin.conf" dns news.strict.test
expect_rc "news.strict.test" 65
{
	echo "domain: news.strict.test"
	echo "dkim: s1._domainkey.strict.test: matches"
	publish s1._domainkey.strict.test strict
	echo "spf: 192.0.2.1: pass"
	echo "spf: 2001:db8::1: pass"
	echo "dmarc: found at _dmarc.strict.test: v=DMARC1; p=quarantine; adkim=s; aspf=s"
	echo "dmarc: dkim d=strict.test not aligned (strict)"
	echo "dmarc: spf news.strict.test aligned (strict)"
	echo "result: bad"
} > "$d/want"
expect_text "news.strict.test"
dns "$d/optin.conf" --json dns news.strict.test
json "news.strict.test" 'j["dmarc"]["adkim"] == "s" and j["dmarc"]["aspf"] == "s"' \
    'j["dmarc"]["policy"] == "quarantine"' \
    'j["dmarc"]["dkim_domain"] == "strict.test" and j["dmarc"]["dkim_aligned"] is False' \
    'j["dmarc"]["spf_aligned"] is True' 'j["result"] == "bad"'

# nodmarc.test: no key for it
dns "$d/optin.conf" dns nodmarc.test
expect_rc "nodmarc.test" 65
if grep -qx "dkim: no key configured for nodmarc.test" "$d/out"; then
	ok "nodmarc.test: no key"
else
	not_ok "nodmarc.test: no key"
fi
dns "$d/optin.conf" --json dns nodmarc.test
json "nodmarc.test" 'j["dkim"] == []' 'j["dmarc"]["dkim_domain"] is None' \
    'j["dmarc"]["status"] == "none"' 'j["result"] == "bad"'

# down.example.test: the server for it does not answer
dns "$d/optin.conf" dns down.example.test
expect_rc "down.example.test" 75
if grep -q '^dkim: s1._domainkey.down.example.test: temperror (' "$d/out" &&
    grep -q '^spf: 192.0.2.1: temperror (' "$d/out" &&
    grep -q '^spf: 2001:db8::1: temperror (' "$d/out" &&
    grep -q '^dmarc: temperror (' "$d/out" &&
    grep -qx 'result: temperror' "$d/out"; then
	ok "down.example.test: temperror lines"
else
	not_ok "down.example.test: temperror lines"
	cat "$d/out" >&2
fi
dns "$d/optin.conf" --json dns down.example.test
json "down.example.test" 'j["dkim"][0]["status"] == "temperror"' \
    '[s["result"] for s in j["spf"]] == ["temperror", "temperror"]' \
    'j["dmarc"]["status"] == "temperror"' 'j["result"] == "temperror"'

# no OutboundIP: SPF not checked, which is not "fine"
dns "$d/noip.conf" dns example.test
expect_rc "no OutboundIP" 65
if grep -qx "spf: not checked: no OutboundIP configured" "$d/out"; then
	ok "no OutboundIP: said"
else
	not_ok "no OutboundIP: said"
fi

# without DOMAIN: every record to publish, no DNS
dns "$d/optin.conf" --json dns
expect_rc "records" 0
json "records" 'len(j["records"]) == 5' \
    'all(r["type"] == "TXT" for r in j["records"])' \
    '{r["name"]: r["value"] for r in j["records"]}["s1._domainkey.other.test"] == "v=DKIM1; k=rsa; p=" + p("other")'

# usage and bad domains
dns "$d/optin.conf" dns example.test extra
expect_rc "two arguments" 64
dns "$d/optin.conf" dns "exa mple.test"
expect_rc "bad domain" 65
