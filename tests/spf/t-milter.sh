#!/bin/sh
# t-milter.sh - the milter's outbound SPF preflight under SPFCheck warn and
# reject (issue 6 item 4), run by run.sh (which exports SPF_NS, SPF_HERE,
# SPF_BUILD, SPF_SRC).  For each mode: a fresh consent database
# (sql/schema.sql + tests/milter/fixture.sql), spool and token key, a
# config made from tests/milter/base.conf, optin-milter started inside the
# DNS namespace with its log on stderr to a file, then spf-actions.lua
# through miltertest; under reject also milter_reply.py for the code and
# text of each answer.  Mode bounce is reject with BounceAddress at
# fail.example.test: the bounce domain is checked, not the sender's (issue
# 12).  Prints "ok LABEL" / "not ok LABEL" lines.
ns=$SPF_NS
milter=$SPF_BUILD/optin-milter
mtdir=$SPF_SRC/tests/milter
d=$(mktemp -d /tmp/optin-spf-mt.XXXXXX) || exit 1
chmod 755 "$d"
mpid=

cleanup() {
	if [ -n "$mpid" ]; then
		kill "$mpid" 2>/dev/null
		wait "$mpid" 2>/dev/null
	fi
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# DOMAIN=RESULT for the reply checks; spf-actions.lua has the same list
cases="pass.example.test=pass fail.example.test=fail
soft.example.test=softfail neutral.example.test=neutral
none.example.test=none absent.example.test=none
syntax.example.test=permerror many.example.test=permerror
v6.example.test=fail down.example.test=temperror"
senders=
for c in $cases; do
	senders="$senders${senders:+, }@${c%%=*}"
done

# setup DIR MODE - database, spool, key and config
setup() {
	dir=$1
	mkdir -p "$dir/quarantine"
	chmod 700 "$dir/quarantine"
	cat "$SPF_SRC/sql/schema.sql" "$SPF_SRC"/sql/sqlite-[0-9]*.sql |
	    sqlite3 "$dir/consent.db" &&
	    sqlite3 "$dir/consent.db" < "$mtdir/fixture.sql" || return 1
	chmod 600 "$dir/consent.db"
	(umask 077; printf '1 %s\n' "$(openssl rand -base64 32)" \
	    > "$dir/token.keys")
	printf '#!/bin/sh\nexit 75\n' > "$dir/fake-sendmail"
	chmod 755 "$dir/fake-sendmail"
	sed -e "s|@DIR@|$dir|g" -e "s|@DB@|$dir/consent.db|g" -e '/^CampaignSenders/d' "$mtdir/base.conf" \
	    > "$dir/optin-milter.conf"
	cat >> "$dir/optin-milter.conf" <<EOF
CampaignSenders $senders
SPFCheck $(if [ "$2" = bounce ]; then echo reject; else echo "$2"; fi)
OutboundIP 192.0.2.1, 2001:db8::1
EOF
	if [ "$2" = bounce ]; then
		echo "BounceAddress bounce+%t@fail.example.test" \
		    >> "$dir/optin-milter.conf"
	fi
}

for mode in warn reject bounce; do
	dir=$d/$mode
	mkdir -p "$dir"
	if ! setup "$dir" "$mode"; then
		echo "not ok $mode: setup"
		continue
	fi
	ip netns exec "$ns" "$milter" -f -c "$dir/optin-milter.conf" \
	    -p "unix:$dir/milter.sock" 2> "$dir/log" &
	mpid=$!
	i=0
	while [ $i -lt 100 ] && [ ! -S "$dir/milter.sock" ]; do
		kill -0 "$mpid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -S "$dir/milter.sock" ]; then
		echo "not ok $mode: milter starts"
		cat "$dir/log" >&2
		kill "$mpid" 2>/dev/null
		wait "$mpid" 2>/dev/null
		mpid=
		continue
	fi
	# bounce: whatever the sender's domain says, the bounce domain's fail
	[ "$mode" = bounce ] && for sd in pass fail; do
		got=$(timeout 30 /usr/bin/python3 "$SPF_HERE/milter_reply.py" \
		    "$dir/milter.sock" "PYB$sd" "news@$sd.example.test" \
		    ann@example.com)
		explain=$(sed -n "s/.*PYB$sd: spf=fail campaign bounce address domain does not authorise this relay: //p" \
		    "$dir/log" | head -1)
		case $explain in
		*fail.example.test*) ;;
		*) explain="(no log line naming fail.example.test)" ;;
		esac
		if [ "$got" = "reply 550 5.7.23 SPF fail: $explain" ]; then
			echo "ok bounce: sender at $sd.example.test, bounce domain checked"
		else
			echo "not ok bounce: sender at $sd.example.test: answer '$got', log '$explain'"
		fi
	done
	rc=0
	if [ "$mode" != bounce ]; then
		OPTIN_SRC=$mtdir OPTIN_SOCK=$dir/milter.sock \
		    OPTIN_LOG=$dir/log SPF_MODE=$mode timeout 60 \
		    miltertest -s "$SPF_HERE/spf-actions.lua" > "$dir/mt.out" 2>&1
		rc=$?
		grep -E '^(not )?ok ' "$dir/mt.out"
	fi
	if [ $rc -ne 0 ]; then
		echo "not ok $mode: miltertest exited with $rc"
		cat "$dir/mt.out" >&2
	fi
	# under reject, the code and text of each answer to end of headers:
	# 550 5.7.23 "SPF RESULT: EXPLAIN", 451 4.7.24 for temperror, where
	# EXPLAIN is what the log line for the same message says
	[ "$mode" = reject ] && for c in $cases; do
		domain=${c%%=*}
		r=${c#*=}
		qid=PY${domain%%.*}
		got=$(timeout 30 /usr/bin/python3 "$SPF_HERE/milter_reply.py" \
		    "$dir/milter.sock" "$qid" "news@$domain" ann@example.com)
		explain=$(sed -n "s/.*$qid: spf=$r campaign sender domain does not authorise this relay: //p" \
		    "$dir/log" | head -1)
		case $r in
		pass) want="continue" ;;
		temperror) want="reply 451 4.7.24 SPF temporary error: $explain" ;;
		*) want="reply 550 5.7.23 SPF $r: $explain" ;;
		esac
		if [ "$r" != pass ] && [ -z "$explain" ]; then
			echo "not ok reject $r ($domain): no log line for $qid"
		elif [ "$got" = "$want" ]; then
			echo "ok reject $r ($domain): answer $(echo "$want" | cut -d" " -f2-3)"
		else
			echo "not ok reject $r ($domain): answer '$got', want '$want'"
		fi
	done
	if kill -0 "$mpid" 2>/dev/null; then
		echo "ok $mode: milter still running"
	else
		echo "not ok $mode: milter died"
	fi
	kill "$mpid" 2>/dev/null
	wait "$mpid" 2>/dev/null
	mpid=
	if [ "${SPF_TEST_VERBOSE:-}" ]; then
		cat "$dir/log" >&2
	fi
done
