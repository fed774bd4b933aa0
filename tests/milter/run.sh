#!/bin/sh
# run.sh - run every tests/milter/t-*.lua with miltertest against a fresh
# database, spool and key for each script.  A script's .log-re file, when
# present, holds a regular expression the filter's log must match.  Prints
# "miltertest: N passed, N failed" last.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
here=$top_srcdir/tests/milter
milter=$(cd "$top_builddir" && pwd)/optin-milter
pass=0
fail=0

if ! command -v miltertest >/dev/null 2>&1; then
	echo "miltertest not installed (apt-get install miltertest)"
	echo "miltertest: 0 passed, 1 failed"
	exit 1
fi

# setup DIR SCRIPT - database, spool, keys and config for one script
setup() {
	dir=$1; name=$2
	mkdir -p "$dir/quarantine" "$dir/sent"
	chmod 700 "$dir" "$dir/quarantine"
	cat "$top_srcdir/sql/schema.sql" "$top_srcdir"/sql/sqlite-[0-9]*.sql | sqlite3 "$dir/consent.db"
	sqlite3 "$dir/consent.db" < "$here/fixture.sql"
	chmod 600 "$dir/consent.db"
	(umask 077; printf '1 %s\n' "$(openssl rand -base64 32)" > "$dir/token.keys")
	cat > "$dir/fake-sendmail" <<EOS
#!/bin/sh
# records one re-submission: arguments, then the message
[ -e "$dir/sendmail-fails" ] && exit 75
n=\$(ls "$dir/sent" | wc -l)
{ echo "ARGS: \$*"; cat; } > "$dir/sent/\$n"
EOS
	chmod 755 "$dir/fake-sendmail"
	sed "s|@DIR@|$dir|g" "$here/base.conf" > "$dir/optin-milter.conf"
	if [ -f "$here/$name.conf" ]; then
		sed "s|@DIR@|$dir|g" "$here/$name.conf" >> "$dir/optin-milter.conf"
	fi
	if [ -f "$here/$name.setup" ]; then
		DIR=$dir . "$here/$name.setup"
	fi
}

for t in "$here"/t-*.lua; do
	name=$(basename "$t" .lua)
	dir=$(mktemp -d /tmp/optin-mt.XXXXXX)
	setup "$dir" "$name"
	if OPTIN_MILTER=$milter OPTIN_CONF=$dir/optin-milter.conf \
	    OPTIN_SOCK=$dir/milter.sock OPTIN_DIR=$dir OPTIN_SRC=$here \
	    timeout 60 miltertest -s "$t" > "$dir/out" 2>&1 &&
	    { [ ! -f "$here/$name.log-re" ] ||
	      grep -qE -f "$here/$name.log-re" "$dir/out" ||
	      { echo "log has no line matching $(cat "$here/$name.log-re")" >> "$dir/out"; false; }; }; then
		pass=$((pass + 1))
		echo "PASS: $name"
	else
		fail=$((fail + 1))
		echo "FAIL: $name"
		sed "s/^/    /" "$dir/out" | tail -25
	fi
	rm -rf "$dir"
done
echo "miltertest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
