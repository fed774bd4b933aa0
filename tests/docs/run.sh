#!/bin/sh
# run.sh - checks of the admin documentation and sample configuration:
#  1. every key of the table in milter/core/config.c has an entry in
#     optin-milter.conf.5.in (a ".TP" followed by ".B Key" or ".BR Key ...")
#     and a line "Key value" or "#Key value" in conf/optin-milter.conf;
#  2. no key is documented there that the table does not know, the
#     defaults the documents show are the table's, and every number and
#     duration key's entry names its limits as its range error does;
#  3. "man --warnings -l" prints nothing for every milter/*.8.in and
#     milter/*.5.in after the Makefile's substitution (pages of 20 lines or
#     fewer are placeholders and skipped);
#  4. a copy of the sample config, with its paths moved to a temp dir that
#     holds a real database, token key file and RSA key, passes
#     "optin-milter -n" silently, and a bad line gives exit 78 and names
#     file:line and the key;
#  5. the Postfix snippet sets what DESIGN requires and names the socket
#     of the sample config (relative to Postfix's queue directory when it
#     is inside, for Debian's chroot), the Sendmail snippet names the
#     default socket, the systemd units pass "systemd-analyze verify"
#     (when installed);
#  6. the README's "Deploying" section names only what exists: each
#     "optinctl VERB [SUBVERB] [--option]" it shows is a verb of optinctl
#     ("optinctl help VERB" knows it, its usage has the subverb and every
#     option), each "optin-milter -X" an option of its usage, each
#     conf/FILE it names is shipped, each "systemctl
#     reload|restart UNIT" is a unit of conf/;
#  7. the CRM submission service of conf/postfix-master-crm.cf passes the
#     milter on the sample's socket with tempfail, and the applications'
#     submission service names no milter (postconf -P).
# Prints "docs: N passed, N failed" last.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
src=$(cd "$top_srcdir" && pwd)
milter=$(cd "$top_builddir" && pwd)/optin-milter
pass=0
fail=0

tmp=$(mktemp -d /tmp/optin-docs.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# keys_table - "Name default" per key of milter/core/config.c ("-" for NULL)
keys_table() {
	sed -n 's/^[[:space:]]*{ "\([A-Za-z0-9]*\)", CFG_[A-Z]*, \("[^"]*"\|NULL\),.*/\1 \2/p' \
	    "$src/milter/core/config.c" | sed 's/ NULL$/ -/; s/ "\(.*\)"$/ \1/'
}

# keys_man - key names of the ".TP" entries of the section-5 page
keys_man() {
	awk '/^\.TP/ { tp = 1; next }
	    tp && /^\.BR? / { n = $2; gsub(/"/, "", n); print n }
	    { tp = 0 }' "$src/milter/optin-milter.conf.5.in"
}

# man_entry KEY - text of KEY's entry, roff escapes for '-' and '\' undone
man_entry() {
	awk -v k="$1" '/^\.(TP|SH|SS)/ { if (on) exit; tp = /^\.TP/; next }
	    tp && /^\.BR? / { n = $2; gsub(/"/, "", n); if (n == k) on = 1 }
	    { tp = 0 } on { print }' "$src/milter/optin-milter.conf.5.in" |
	    sed 's/\\-/-/g; s/\\e/\\/g'
}

# keys_sample [#] - key names of "Key value" and "#Key value" lines; with
# "#" only the commented ones, with "" only the set ones (a key may show
# its default commented and be set on the next line)
keys_sample() {
	case ${1-x} in
	x) re='#\{0,1\}' ;;
	*) re=$1 ;;
	esac
	sed -n "s/^$re\\([A-Za-z][A-Za-z0-9]*\\)[[:space:]].*/\\1/p" \
	    "$src/conf/optin-milter.conf"
}

# ------------------------------------------------------------ 1, 2: keys
keys_table > "$tmp/table"
keys_man | sort > "$tmp/man"
keys_sample | sort -u > "$tmp/sample"
nkeys=$(wc -l < "$tmp/table")
if [ "$nkeys" -ge 30 ]; then ok; else bad "only $nkeys keys read from milter/core/config.c"; fi

while read -r key dflt; do
	if grep -qx "$key" "$tmp/man"; then ok
	else bad "$key: no entry in optin-milter.conf.5.in"; fi
	if grep -qx "$key" "$tmp/sample"; then ok
	else bad "$key: not in conf/optin-milter.conf"; fi
	# the sample shows the default as "#Key default" (or sets it)
	if [ "$dflt" != "-" ]; then
		if grep -qxF "#$key $dflt" "$src/conf/optin-milter.conf" ||
		    grep -qxF "$key $dflt" "$src/conf/optin-milter.conf"; then ok
		else bad "$key: conf/optin-milter.conf does not show default '$dflt'"; fi
		if man_entry "$key" | tr '\n' ' ' | grep -qF "$dflt"; then ok
		else bad "$key: optin-milter.conf.5.in does not show default '$dflt'"; fi
	else
		if man_entry "$key" | grep -q 'Default: unset'; then ok
		else bad "$key: optin-milter.conf.5.in does not say 'Default: unset'"; fi
	fi
done < "$tmp/table"

# the limits of every number and duration key head its entry as the range
# error says them (config.c range_word: "from 1s to 1h"), so the page and
# the message agree: '.BR HTTPRequestTimeout " (duration, 1s to 1h)"'
sed -n 's/^[[:space:]]*{ "\([A-Za-z0-9]*\)", CFG_\(INT\|DURATION\),.*/\1/p' \
    "$src/milter/core/config.c" > "$tmp/ranged"
while read -r key; do
	printf '%s 99999999999\n' "$key" > "$tmp/range.conf"
	want=$("$milter" -n -c "$tmp/range.conf" 2>&1 | sed -n \
	    "s/.*: $key: bad value .* from \([0-9a-z]*\) to \([0-9a-z]*\))\$/\1 to \2/p")
	if [ -n "$want" ] && grep -qE "^\.BR $key \" \([a-z]+, $want\)\"\$" \
	    "$src/milter/optin-milter.conf.5.in"; then ok
	else bad "$key: optin-milter.conf.5.in does not head its entry with its limits '${want:-?}' (\".BR $key \\\" (type, $want)\\\"\")"; fi
done < "$tmp/ranged"

cut -d' ' -f1 "$tmp/table" | sort > "$tmp/names"
keys_sample '#' | sort > "$tmp/sample-commented"
keys_sample '' | sort > "$tmp/sample-set"
for f in man sample-commented sample-set; do
	for key in $(sort "$tmp/$f" | uniq -d); do
		bad "$key: documented twice ($f)"
	done
	for key in $(comm -13 "$tmp/names" "$tmp/$f" | sort -u); do
		bad "$key: in the $f documentation but not in milter/core/config.c"
	done
	ok
done

# ------------------------------------------------------------ 3: man pages
subst() {
	sed -e 's|@sysconfdir[@]|/etc|g' -e 's|@localstatedir[@]|/var|g' \
	    -e 's|@sbindir[@]|/usr/sbin|g' -e 's|@VERSION[@]|0.0|g' "$1"
}
if ! command -v man >/dev/null 2>&1; then
	bad "man not installed (apt-get install man-db groff)"
else
	for page in "$src"/milter/*.8.in "$src"/milter/*.5.in; do
		[ -f "$page" ] || continue
		name=$(basename "$page" .in)
		if [ "$(wc -l < "$page")" -le 20 ]; then
			echo "skip: $name is a placeholder"
			continue
		fi
		subst "$page" > "$tmp/$name"
		if grep -q '@[a-zA-Z]*@' "$tmp/$name"; then
			bad "$name: unsubstituted placeholder: $(grep -o '@[a-zA-Z]*@' "$tmp/$name" | head -1)"
		fi
		out=$(MANWIDTH=80 timeout 60 man --warnings -l "$tmp/$name" 2>&1 >/dev/null)
		if [ -z "$out" ]; then ok
		else bad "$name: man --warnings:"; echo "$out" | head -10; fi
	done
fi

# ------------------------------------------------------------ 4: -n
if [ ! -x "$milter" ]; then
	bad "$milter not built"
else
	d=$tmp/run
	mkdir -p "$d/quarantine"
	chmod 700 "$d" "$d/quarantine"
	cat "$src/sql/schema.sql" "$src"/sql/sqlite-[0-9]*.sql | sqlite3 "$d/consent.db"
	(umask 077
	 printf '1 %s\n' "$(openssl rand -base64 32)" > "$d/token.keys"
	 printf '1 %s\n' "$(openssl rand -base64 32)" > "$d/erasure.keys"
	 openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$d/dkim.key" 2>/dev/null)
	chmod 600 "$d/consent.db" "$d/token.keys" "$d/erasure.keys" "$d/dkim.key"
	# the sample's paths and user, moved here; everything else as shipped
	sed -E '/^(UserID|PidFile|Socket|ConsentDB|QuarantineDir|TokenKeyFile|ErasureKeyFile|KeyFile|KeyFileEd25519|KeyTable|SigningTable|Syslog)[[:space:]]/d' \
	    "$src/conf/optin-milter.conf" > "$d/good.conf"
	cat >> "$d/good.conf" <<EOF
Syslog no
Socket local:$d/milter.sock
ConsentDB $d/consent.db
QuarantineDir $d/quarantine
TokenKeyFile $d/token.keys
ErasureKeyFile $d/erasure.keys
KeyFile $d/dkim.key
EOF
	out=$(timeout 60 "$milter" -n -c "$d/good.conf" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then ok
	else bad "optin-milter -n on the sample: exit $rc, output: $out"; fi

	cp "$d/good.conf" "$d/bad.conf"
	echo "Mode sometimes" >> "$d/bad.conf"
	line=$(wc -l < "$d/bad.conf")
	out=$(timeout 60 "$milter" -n -c "$d/bad.conf" 2>&1)
	rc=$?
	if [ $rc -eq 78 ]; then ok
	else bad "optin-milter -n with 'Mode sometimes': exit $rc, want 78"; fi
	case $out in
	*"$d/bad.conf:$line: Mode:"*) ok ;;
	*) bad "optin-milter -n with 'Mode sometimes' said: $out (want $d/bad.conf:$line: Mode: ...)" ;;
	esac

	# the sample as shipped parses; only its files (absent here) may fail
	out=$(timeout 60 "$milter" -n -c "$src/conf/optin-milter.conf" 2>&1)
	rc=$?
	if { [ $rc -eq 78 ] || [ $rc -eq 0 ]; } &&
	    ! echo "$out" | grep -q 'optin-milter\.conf:'; then ok
	else bad "optin-milter -n on the shipped sample: exit $rc: $out"; fi
fi

# ------------------------------------------------------------ 5: MTA, units
sock=$(keys_table | sed -n 's/^Socket local://p')
ssock=$(sed -n 's/^Socket[[:space:]]\{1,\}local:\([^[:space:]#]*\).*/\1/p' \
    "$src/conf/optin-milter.conf")
[ -n "$ssock" ] || ssock=$sock
# Postfix: relative to its queue directory when inside (Debian's chroot)
pfsock=${ssock#/var/spool/postfix/}
if grep -qx "smtpd_milters = unix:$pfsock" "$src/conf/postfix-main.cf"; then ok
else bad "conf/postfix-main.cf: smtpd_milters does not name unix:$pfsock"; fi
if grep -qF "S=local:$sock, F=T" "$src/conf/sendmail.mc"; then ok
else bad "conf/sendmail.mc: no S=local:$sock, F=T"; fi
if command -v postconf >/dev/null 2>&1; then
	mkdir -p "$tmp/pf"
	cp "$src/conf/postfix-main.cf" "$tmp/pf/main.cf"
	: > "$tmp/pf/master.cf"
	for want in "non_smtpd_milters = unix:$pfsock" \
	    "milter_default_action = tempfail" "milter_protocol = 6" \
	    "disable_mime_output_conversion = yes"; do
		got=$(postconf -c "$tmp/pf" -x "${want%% =*}" 2>&1)
		if [ "$got" = "$want" ]; then ok
		else bad "conf/postfix-main.cf: got '$got', want '$want'"; fi
	done
fi
for u in optin-milter optin-unsubd; do
	f=$src/conf/$u.service
	if grep -q "^ExecStart=.*/$u -f " "$f" && grep -q '^Type=simple' "$f"; then ok
	else bad "$u.service: want Type=simple and ExecStart=.../$u -f"; fi
	if command -v systemd-analyze >/dev/null 2>&1; then
		# checked against the binaries here, without the man: links
		sed -e "s|^ExecStart=[^ ]*/$u |ExecStart=$(dirname "$milter")/$u |" \
		    -e '/^Documentation=/d' "$f" > "$tmp/$u.service"
		out=$(timeout 60 systemd-analyze verify "$tmp/$u.service" 2>&1)
		if [ -z "$out" ]; then ok
		else bad "$u.service: systemd-analyze verify: $out"; fi
	fi
done
if grep -q '^RuntimeDirectory=optin-milter' "$src/conf/optin-milter.service" &&
    ! grep -q '^RuntimeDirectory=optin-milter' "$src/conf/optin-unsubd.service"
then ok
else bad "only optin-milter.service may own RuntimeDirectory=optin-milter"; fi

# ------------------------------------------------------------ 6: README
ctl=$(cd "$top_builddir" && pwd)/optinctl
awk '/^## Deploying/ { on = 1; next } on && /^## / { exit } on' \
    "$src/README.md" > "$tmp/deploying"
if [ "$(wc -l < "$tmp/deploying")" -ge 50 ]; then ok
else bad "README.md: no section '## Deploying' (or a short one)"; fi
if [ ! -x "$ctl" ]; then
	bad "$ctl not built"
else
	# "optinctl VERB WORD... --opt ..." as shown (inline code or a block)
	grep -o 'optinctl [^`]*' "$tmp/deploying" | sed 's/[[:space:]]*$//' |
	    sort -u > "$tmp/ctl-cmds"
	if [ -s "$tmp/ctl-cmds" ]; then ok
	else bad "README.md Deploying: no optinctl command found"; fi
	while read -r _ verb rest; do
		usage=$("$ctl" help "$verb" 2>&1)
		if [ $? -ne 0 ]; then
			bad "README.md Deploying: 'optinctl $verb': no such verb"
			continue
		fi
		ok
		# a subverb: the usage shows "VERB SUB" (token newkey, ...)
		sub=${rest%% *}
		if printf '%s\n' "$usage" | grep -q "[ |] *$verb [a-z]" &&
		    ! printf '%s\n' "$usage" | grep -qF "$verb $sub"; then
			bad "README.md Deploying: 'optinctl $verb $sub': the usage has no '$verb $sub'"
		fi
		for opt in $(printf '%s\n' "$rest" | grep -o -- '--[a-z-]*'); do
			if printf '%s\n' "$usage" | grep -qF -- "$opt"; then ok
			else bad "README.md Deploying: 'optinctl $verb ... $opt': not an option of $verb"; fi
		done
	done < "$tmp/ctl-cmds"
fi
# "optin-milter -X": an option its usage (-h) lists
if [ -x "$milter" ]; then
	"$milter" -h > "$tmp/milter-usage" 2>&1
	for opt in $(grep -o 'optin-milter -[A-Za-z]' "$tmp/deploying" |
	    sed 's/.* //' | sort -u); do
		if grep -q "^  $opt " "$tmp/milter-usage"; then ok
		else bad "README.md Deploying: 'optin-milter $opt': not an option of optin-milter"; fi
	done
fi
for f in $(grep -o 'conf/[A-Za-z0-9._-]*' "$tmp/deploying" | sort -u); do
	if [ -f "$src/$f" ]; then ok
	else bad "README.md Deploying: $f is not shipped"; fi
done
grep -o 'systemctl \(reload\|restart\) [a-z -]*' "$tmp/deploying" |
    cut -d' ' -f3- | tr ' ' '\n' | grep . | sort -u > "$tmp/units"
for u in $(cat "$tmp/units"); do
	if [ -f "$src/conf/$u.service" ]; then ok
	else bad "README.md Deploying: systemctl names $u, no conf/$u.service"; fi
done

# ------------------------------------------------------------ 7: CRM service
if command -v postconf >/dev/null 2>&1; then
	mkdir -p "$tmp/pfm"
	: > "$tmp/pfm/main.cf"
	cp "$src/conf/postfix-master-crm.cf" "$tmp/pfm/master.cf"
	postconf -c "$tmp/pfm" -P 2>&1 | grep -E '/(smtpd_milters|milter_default_action) =' |
	    sed 's/ *$//' > "$tmp/pfm/got"
	printf '%s\n' "127.0.0.1:2525/inet/milter_default_action = tempfail" \
	    "127.0.0.1:2525/inet/smtpd_milters = unix:$pfsock" \
	    "submission/inet/smtpd_milters =" > "$tmp/pfm/want"
	if cmp -s "$tmp/pfm/got" "$tmp/pfm/want"; then ok
	else bad "conf/postfix-master-crm.cf: postconf -P gives: $(cat "$tmp/pfm/got")"; fi
fi

# the corpus in the tree (tests/data/corpus) is a copy of the project's
# shared corpus: when that is beside the checkout, they must be the same
if [ -d "$src/../shared/corpus" ]; then
	if d=$(diff -r "$src/../shared/corpus" "$src/tests/data/corpus" 2>&1); then ok
	else bad "tests/data/corpus differs from ../shared/corpus (copy it): $(echo "$d" | head -n 3)"; fi
fi

echo "docs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
