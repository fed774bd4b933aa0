#!/bin/bash
# run.sh - the Debian package as an admin meets it (issue: "Run it like
# OpenDKIM"): builds it with dpkg-buildpackage -us -uc -b from a copy of the
# tracked tree, runs lintian (no error allowed), installs it with apt-get,
# and checks what the package promises:
#  - the three programs, the SPF helper, the man pages, the commented
#    /etc/optin-milter.conf (a conffile), the units and the purge timer;
#  - the system user and group optin-milter own /var/lib/optin-milter and
#    the quarantine spool, mode 0700;
#  - nothing is enabled or started (no unit in a .wants directory, no
#    optin-milter process), and the installed sample config is refused by
#    "optin-milter -n" (exit 78) until the admin edits it;
#  - the units restart on any exit and reload with SIGUSR1 (and pass
#    systemd-analyze verify when it is installed); the milter's unit
#    starts it as root with only the capabilities of the privilege drop,
#    and the user optin-milter is in the group postdrop;
#  - purge removes the database and the spool (personal data).
# Needs root, dpkg-dev, debhelper, lintian (contrib/deps.sh).  The package
# is purged again at the end, also on failure.
# Prints "pkg: N passed, N failed" last.
top_srcdir=${top_srcdir:-.}
src=$(cd "$top_srcdir" && pwd)
pass=0 fail=0
d=$(mktemp -d /tmp/optin-pkg.XXXXXX) || exit 1
installed=no

ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1${2:+: $2}"; }
check() { local label=$1; shift; if "$@" >/dev/null 2>&1; then ok "$label"; else bad "$label"; fi; }
finish()
{
	if [ "$installed" = yes ]; then
		dpkg -P optin-milter >/dev/null 2>&1
	fi
	rm -rf "$d"
	echo "pkg: $pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}
trap 'exit 1' HUP INT TERM

if [ "$(id -u)" != 0 ]; then
	bad "needs root (installs the package)"
	finish
fi
for c in dpkg-buildpackage dh lintian; do
	command -v "$c" >/dev/null || { bad "$c missing (contrib/deps.sh)"; finish; }
done
if dpkg-query -W -f='${Status}' optin-milter 2>/dev/null | grep -q installed; then
	bad "optin-milter is installed on this machine already: not touching it"
	finish
fi

# build from the tracked files only (what a clean clone has), plus the
# uncommitted changes of a working tree under test
mkdir "$d/src"
(cd "$src" && git ls-files -z 2>/dev/null | tar --null -T - -cf -) |
    tar -C "$d/src" -xf - 2>/dev/null
[ -f "$d/src/debian/control" ] || cp -a "$src/." "$d/src/"
if (cd "$d/src" && dpkg-buildpackage -us -uc -b) >"$d/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	bad "dpkg-buildpackage" "$(tail -n 20 "$d/build.log")"
	finish
fi
deb=$(ls "$d"/optin-milter_*.deb 2>/dev/null | head -n 1)
lintian "$d"/*.changes >"$d/lintian.log" 2>&1
if grep -q '^E: ' "$d/lintian.log"; then
	bad "lintian: no errors" "$(grep '^E: ' "$d/lintian.log")"
else
	ok "lintian: no errors ($(grep -c '^W: ' "$d/lintian.log") warnings)"
fi

contents=$(dpkg -c "$deb" | awk '{print $6}')
for f in ./usr/sbin/optin-milter ./usr/sbin/optinctl ./usr/sbin/optin-unsubd \
    ./usr/sbin/optin-feedback \
    ./usr/libexec/optin-milter/optin-spf-helper \
    ./usr/share/man/man8/optin-milter.8.gz ./usr/share/man/man8/optinctl.8.gz \
    ./usr/share/man/man8/optin-unsubd.8.gz ./usr/share/man/man8/optin-feedback.8.gz \
    ./usr/share/man/man5/optin-milter.conf.5.gz ./etc/optin-milter.conf \
    ./lib/systemd/system/optin-milter.service \
    ./lib/systemd/system/optin-unsubd.service \
    ./lib/systemd/system/optin-quarantine-purge.service \
    ./lib/systemd/system/optin-quarantine-purge.timer; do
	if grep -qxF "$f" <<<"$contents"; then ok "package holds ${f#.}"; else bad "package holds ${f#.}"; fi
done
check "/etc/optin-milter.conf is a conffile" \
    sh -c "dpkg-deb -e '$deb' '$d/ctl' && grep -qx /etc/optin-milter.conf '$d/ctl/conffiles'"

if DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb" >"$d/install.log" 2>&1; then
	installed=yes
	ok "apt-get install ./$(basename "$deb")"
else
	bad "install" "$(tail -n 20 "$d/install.log")"
	finish
fi
check "system group optin-milter" getent group optin-milter
check "system user optin-milter" getent passwd optin-milter
for dir in /var/lib/optin-milter /var/spool/optin-milter/quarantine; do
	got=$(stat -c '%U:%G %a' "$dir" 2>/dev/null)
	[ "$got" = "optin-milter:optin-milter 700" ] && ok "$dir optin-milter 0700" ||
	    bad "$dir optin-milter 0700" "got $got"
done
wants=$(ls /etc/systemd/system/*.wants/ 2>/dev/null | grep -c 'optin' || true)
[ "$wants" = 0 ] && ok "no unit enabled" || bad "no unit enabled" "$wants links"
# other test suites may run their own optin-milter: look for the packaged one
running=""
for e in /proc/[0-9]*/exe; do
	case $(readlink "$e" 2>/dev/null) in
	/usr/sbin/optin-milter|/usr/sbin/optin-unsubd) running="$running ${e%/exe}" ;;
	esac
done
[ -z "$running" ] && ok "nothing started" || bad "nothing started" "running:$running"
out=$(/usr/sbin/optin-milter -n -c /etc/optin-milter.conf 2>&1); rc=$?
[ "$rc" = 78 ] && ok "unconfigured sample refused by -n (78)" ||
    bad "unconfigured sample refused by -n" "exit $rc: $out"
man -w optinctl >/dev/null 2>&1 && ok "man optinctl" || bad "man optinctl"

for u in optin-milter optin-unsubd; do
	f=/lib/systemd/system/$u.service
	grep -qx 'Restart=always' "$f" && ok "$u: Restart=always" || bad "$u: Restart=always"
	grep -q '^ExecReload=.*-USR1' "$f" && ok "$u: ExecReload sends SIGUSR1" ||
	    bad "$u: ExecReload sends SIGUSR1"
done
# the milter starts as root (keys, socket, an SPF helper that becomes
# nobody), then drops to UserID; root keeps only what that needs
f=/lib/systemd/system/optin-milter.service
! grep -q '^User=' "$f" && ok "optin-milter: starts as root (no User=)" ||
    bad "optin-milter: starts as root (no User=)"
got=$(sed -n 's/^CapabilityBoundingSet=//p' "$f" | tr ' ' '\n' | sort | tr '\n' ' ')
[ "$got" = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_SETGID CAP_SETUID " ] &&
    ok "optin-milter: capabilities for the privilege drop only" ||
    bad "optin-milter: capabilities for the privilege drop only" "got '$got'"
! grep -q '^StateDirectory=' "$f" && ok "optin-milter: no StateDirectory= (would chown the database to root)" ||
    bad "optin-milter: no StateDirectory= (would chown the database to root)"
if getent group postdrop >/dev/null; then
	id -nG optin-milter | tr ' ' '\n' | grep -qx postdrop &&
	    ok "optin-milter is in the group postdrop" ||
	    bad "optin-milter is in the group postdrop" "$(id optin-milter)"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(systemd-analyze verify /lib/systemd/system/optin-*.service \
	    /lib/systemd/system/optin-*.timer 2>&1 | grep -i 'optin' | grep -v 'Unit is bound to inactive')
	[ -z "$out" ] && ok "systemd-analyze verify" || bad "systemd-analyze verify" "$out"
fi

touch /var/lib/optin-milter/consent.db
if dpkg -P optin-milter >"$d/purge.log" 2>&1; then
	installed=no
	ok "dpkg -P"
else
	bad "dpkg -P" "$(tail -n 5 "$d/purge.log")"
fi
[ ! -e /var/lib/optin-milter ] && [ ! -e /var/spool/optin-milter ] &&
    ok "purge removed the database and the spool" ||
    bad "purge removed the database and the spool"
[ ! -e /usr/sbin/optin-milter ] && ok "purge removed the programs" || bad "purge removed the programs"
finish
