#!/bin/sh
# run.sh - SPF checks (milter/spf/) against a real DNS server.
#
# Starts dnsmasq in a private network namespace (optin-spf-PID) serving
# tests/spf/example.test.conf on the namespace's 127.0.0.1, with
# /etc/netns/NS/resolv.conf pointing there, builds tests/spf/spf_probe.c
# and runs it inside the namespace, then every tests/spf/t-*.sh (optinctl
# dns; the milter's SPFCheck actions through miltertest).  DKIM keys and
# records for them come from setup-dkim.sh.  Needs root, iproute2, dnsmasq
# (Debian: dnsmasq-base), openssl and miltertest.  Run from the build
# directory after `make`.
# Prints "spf: N passed, N failed" last.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
here=$top_srcdir/tests/spf
helper=$(cd "$top_builddir" && pwd)/optin-spf-helper
ns=optin-spf-$$
tmp=
dns_pid=
pass=0
fail=0

finish() {
	echo "spf: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}

cleanup() {
	[ -n "$dns_pid" ] && kill "$dns_pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "/etc/netns/$ns"
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for tool in ip dnsmasq cc openssl miltertest sqlite3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$tool not installed (apt-get install iproute2" \
		    "dnsmasq-base gcc openssl miltertest sqlite3)"
		fail=1
		finish
	fi
done
if [ "$(id -u)" != 0 ]; then
	echo "needs root (ip netns)"
	fail=1
	finish
fi
if [ ! -x "$helper" ] || [ ! -f "$top_builddir/milter/spf/libspf.a" ]; then
	echo "build first: make"
	fail=1
	finish
fi

tmp=$(mktemp -d /tmp/optin-spf.XXXXXX)
chmod 755 "$tmp"

# DKIM keys and their published records for t-dns.sh (dnsmasq reads them).
if ! sh "$here/setup-dkim.sh" "$tmp" 2>"$tmp/dkim.err"; then
	echo "setup-dkim.sh failed:"
	cat "$tmp/dkim.err"
	fail=1
	finish
fi

# The probe: libspf.a holds the milter/spf objects, libutil.a log.o.
if ! cc -Wall -Wextra -I"$top_builddir" -I"$top_srcdir/milter/util" \
    -I"$top_srcdir/milter/core" -I"$top_srcdir/milter/spf" \
    -o "$tmp/spf_probe" "$here/spf_probe.c" "$top_builddir/milter/spf/libspf.a" \
    "$top_builddir/milter/core/libcore.a" "$top_builddir/milter/util/libutil.a" \
    -lspf2 -lpthread 2>"$tmp/cc.log"; then
	cat "$tmp/cc.log"
	fail=1
	finish
fi

ip netns add "$ns" || { fail=1; finish; }
ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
    > "/etc/netns/$ns/resolv.conf"

# down.example.test goes to a port nobody listens on: DNS failure.
ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null \
    --conf-file="$here/example.test.conf" --conf-file="$tmp/dkim.conf" \
    --no-resolv --no-hosts \
    --listen-address=127.0.0.1 --bind-interfaces --port=53 --user=nobody \
    --local-ttl=3 --server=/down.example.test/127.0.0.1#5399 \
    --pid-file= --log-facility="$tmp/dnsmasq.log" --log-queries \
    2>"$tmp/dnsmasq.err" &
dns_pid=$!

# Wait (at most 5 s) until dnsmasq answers.
i=0
while [ $i -lt 50 ]; do
	if ip netns exec "$ns" getent hosts host.example.test >/dev/null 2>&1; then
		break
	fi
	if ! kill -0 "$dns_pid" 2>/dev/null; then
		echo "dnsmasq did not start:"
		cat "$tmp/dnsmasq.err"
		fail=1
		finish
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ $i -eq 50 ]; then
	echo "dnsmasq does not answer"
	fail=1
	finish
fi

# The t-*.sh scripts (optinctl dns, the milter's SPFCheck actions) first,
# as the probe ends by stopping dnsmasq.  They run outside the namespace
# and enter it with "ip netns exec $SPF_NS"; they print "ok ..." or
# "not ok ..." lines, diagnostics on stderr.
for t in "$here"/t-*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	SPF_NS=$ns SPF_TMP=$tmp SPF_HERE=$(cd "$here" && pwd) \
	    SPF_BUILD=$(cd "$top_builddir" && pwd) \
	    SPF_SRC=$(cd "$top_srcdir" && pwd) \
	    timeout 120 sh "$t" > "$tmp/$name.out" 2> "$tmp/$name.err"
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) pass=$((pass + 1)) ;;
		*) fail=$((fail + 1)); echo "$name: $line" ;;
		esac
	done < "$tmp/$name.out"
	if [ $rc -ne 0 ]; then
		echo "$name exited with $rc:"
		tail -40 "$tmp/$name.err"
		fail=$((fail + 1))
	fi
	if [ "${SPF_TEST_VERBOSE:-}" ]; then
		cat "$tmp/$name.out" "$tmp/$name.err"
	fi
done

timeout 90 ip netns exec "$ns" "$tmp/spf_probe" "$helper" "$dns_pid" \
    > "$tmp/probe.out" 2> "$tmp/probe.err"
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) pass=$((pass + 1)) ;;
	*) fail=$((fail + 1)); echo "$line" ;;
	esac
done < "$tmp/probe.out"
if [ $rc -ne 0 ]; then
	echo "spf_probe exited with $rc:"
	cat "$tmp/probe.err"
	fail=$((fail + 1))
fi
if [ "${SPF_TEST_VERBOSE:-}" ]; then
	cat "$tmp/probe.out" "$tmp/probe.err"
fi

finish
