#!/bin/sh
# deps.sh - install every Debian package optin-milter needs to build, test
# and run its demo; installs only what is missing, non-interactively.
# Run as root on Debian 12.  Add packages to PACKAGES below.
# (tests/sendmail fetches Sendmail itself with apt-get download: its
# sendmail-bin conflicts with postfix; libwrap0 and m4 are what it needs.)
#
# Postfix is preseeded to "No configuration" so its install starts no system
# mail server; daemons are kept from starting during the install with a
# temporary policy-rc.d, and a Postfix master that our install started anyway
# is stopped.  A system Postfix that was configured before is left alone.

PACKAGES="
build-essential autoconf automake libtool pkg-config
libmilter-dev libopendkim-dev libspf2-dev libsqlite3-dev libssl-dev
libidn2-dev libmicrohttpd-dev libcmocka-dev libgmime-3.0-dev
postfix swaks miltertest opendkim opendkim-tools
sasl2-bin libsasl2-modules libsasl2-modules-db
libwrap0 m4
python3-dkim python3-nacl sqlite3
groff man-db openssl curl ca-certificates
chromium nodejs
dnsmasq-base iproute2 faketime clang libclang-rt-14-dev
dpkg-dev debhelper fakeroot lintian
postgresql libpq-dev
"

set -eu

missing=""
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case $st in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

# npm: Debian packages it apart from nodejs; a nodejs from elsewhere may
# bring its own (and conflict with Debian's npm), so ask only when missing.
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; run as root: apt-get install$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
postfix_was_installed=no
case " $missing " in
*" postfix "*) ;;
*) postfix_was_installed=yes ;;
esac
master_pid_file=/var/spool/postfix/pid/master.pid

# master_running - true if the system Postfix master runs
master_running()
{
	[ -f "$master_pid_file" ] &&
	    kill -0 "$(tr -d ' \n' < "$master_pid_file")" 2>/dev/null
}

master_before=no
master_running && master_before=yes
maincf_before=no
[ -e /etc/postfix/main.cf ] && maincf_before=yes

if [ "$postfix_was_installed" = no ]; then
	printf '%s\n' \
	    "postfix postfix/main_mailer_type select No configuration" \
	    "postfix postfix/mailname string $(hostname -f 2>/dev/null || hostname)" |
	    debconf-set-selections
fi

# Keep package scripts from starting daemons (postfix, opendkim) while we
# install; only if no policy is in place already, removed afterwards.
policy=/usr/sbin/policy-rc.d
our_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 0755 "$policy"
	our_policy=yes
fi
cleanup()
{
	[ "$our_policy" = yes ] && rm -f "$policy"
	return 0
}
trap cleanup EXIT

log=$(mktemp /tmp/optin-deps.XXXXXX)
apt_opts="-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
if ! apt-get -q -o DPkg::Lock::Timeout=600 update >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "deps: apt-get update failed (log $log)" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! apt-get install $apt_opts $missing >>"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "deps: apt-get install failed (log $log)" >&2
	exit 1
fi
rm -f "$log"

# A system Postfix master that this install started: stop it.  One that was
# configured (main.cf) before us is not ours to stop.
if [ "$master_before" = no ] && [ "$maincf_before" = no ] && master_running; then
	echo "deps: stopping the system Postfix our install started"
	postfix stop >/dev/null 2>&1 || kill "$(tr -d ' \n' < "$master_pid_file")" || true
fi

echo "deps: done"
