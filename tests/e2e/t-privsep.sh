#!/bin/bash
# t-privsep.sh - the milter as its systemd unit runs it: started as root
# with only the unit's CapabilityBoundingSet and NoNewPrivileges (setpriv),
# dropping to UserID (issue 13, items 2 and 9):
#  - OpenDKIM's keys where they are: opendkim-genkey output in a directory
#    of an opendkim-like user (mode 0700, key 0600), named by KeyTable and
#    SigningTable; "optin-milter -n" as root exits 0 without a word; the
#    milter starts, signs, and dkimpy verifies with opendkim-genkey's own
#    record; a reload after the privilege drop, which can no longer read
#    that key, keeps it with a warning and still signs;
#  - the privilege drop keeps UserID's groups from /etc/group (postdrop):
#    a split campaign is re-submitted through Postfix's sendmail(1) although
#    NoNewPrivileges disables postdrop's set-group-ID bit;
#  - the SPF helper runs as nobody:nogroup without capabilities, and with
#    its credentials the database and the key files cannot be opened;
#  - a helper that dies after the privilege drop is not started again as
#    UserID (it would not be isolated): the unsubscribe by mail is still
#    recorded, with spf=temperror and the reason, and an error is logged;
#  - started as UserID itself, or with UserID nobody, the milter warns that
#    the helper is not isolated.
# Creates the system users optin-t-dkim and optin-t-milter (kept; the
# latter is put in the group postdrop).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/optin-setup.sh"
e2e_init t-privsep
optin_need_cmds setpriv unshare opendkim-genkey useradd
optin_need_built "$OPTIN_MILTER" "$OPTINCTL"
UNIT=$E2E_TOP/conf/optin-milter.service

# ensure_user NAME - a system user NAME with a group of its own
ensure_user()
{
	getent passwd "$1" >/dev/null ||
	    useradd --system --user-group --no-create-home \
	    --home-dir /nonexistent --shell /usr/sbin/nologin "$1" ||
	    getent passwd "$1" >/dev/null
}
ensure_user optin-t-dkim || { e2e_fail "user optin-t-dkim"; e2e_done; }
ensure_user optin-t-milter || { e2e_fail "user optin-t-milter"; e2e_done; }
id -nG optin-t-milter | tr ' ' '\n' | grep -qx postdrop ||
    usermod -aG postdrop optin-t-milter

# the unit's capability bounding set, as setpriv wants it
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z' 'a-z' |
    sed 's/cap_/+/g; s/ /,/g')
e2e_check "the unit starts the milter as root (no User=)" \
    sh -c "! grep -q '^User=' '$UNIT'"
e2e_check "the unit has NoNewPrivileges=yes" grep -qx 'NoNewPrivileges=yes' "$UNIT"

# --- set-up: OpenDKIM-style keys, database, config
D=$PF_BASE/dkimkeys
mkdir -m 0700 "$D"
chown optin-t-dkim:optin-t-dkim "$D"
setpriv --reuid=optin-t-dkim --regid=optin-t-dkim --init-groups \
    opendkim-genkey -b 2048 -D "$D" -d example.com -s s1 ||
    e2e_fail "opendkim-genkey as optin-t-dkim"
e2e_check_eq "key as opendkim-genkey made it: owner and mode" \
    "$(stat -c '%U %a' "$D/s1.private")" "optin-t-dkim 600"
"$PY" - "$D/s1.txt" > "$PF_BASE/records" <<'EOP'
import re, sys
t = open(sys.argv[1]).read()
print("s1._domainkey.example.com\t" + "".join(re.findall(r'"([^"]*)"', t)))
EOP
mkdir -p -m 0700 "$PF_BASE/optin"
printf 's1 example.com:s1:%s/s1.private\n' "$D" > "$PF_BASE/optin/key.table"
printf '*@example.com s1\n' > "$PF_BASE/optin/signing.table"
sink_start || { e2e_fail "sink starts"; e2e_done; }
optin_setup "UserID optin-t-milter" "KeyTable $PF_BASE/optin/key.table" \
    "SigningTable $PF_BASE/optin/signing.table" ||
    { e2e_fail "consent database set up"; e2e_done; }
K=$OPTIN_DIR
CONF=$K/optin-milter.conf
chown -R optin-t-milter:optin-t-milter "$K"
uid=$(id -u optin-t-milter) gid=$(id -g optin-t-milter)
pdgid=$(getent group postdrop | cut -d: -f3)
nuid=$(id -u nobody) ngid=$(id -g nobody)

# as_unit CMD... - run CMD as root the way the unit does
as_unit()
{
	setpriv --bounding-set="-all,$caps" --no-new-privs -- "$@"
}

out=$(as_unit "$OPTIN_MILTER" -n -c "$CONF" 2>&1); rc=$?
e2e_check_eq "-n as root with OpenDKIM's key: exit 0" "$rc" 0
e2e_check_eq "-n as root: no output" "$out" ""

# status_of PID FIELD - a field of /proc/PID/status, tabs as spaces
status_of()
{
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr '\t' ' ' |
	    sed 's/ *$//'
}

# helper_pid - the SPF helper started by the milter
helper_pid()
{
	local p
	for p in /proc/[0-9]*; do
		[ "$(status_of "${p#/proc/}" PPid 2>/dev/null)" = "$MILTER_PID" ] &&
		    [ "$(readlink "$p/exe" 2>/dev/null)" = "$E2E_BUILD/optin-spf-helper" ] &&
		    echo "${p#/proc/}"
	done
}

# --- the milter as the unit starts it
# Postfix's sendmail(1) and postdrop, run by a user other than root with
# -C (SendmailCommand of the private instance), accept that directory only
# when the default main.cf lists it in alternate_config_directories; this
# host's Postfix has no /etc/postfix/main.cf, so the milter gets one in a
# mount namespace of its own (the host's /etc/postfix stays as it is).
cp -a /etc/postfix "$PF_BASE/etc-postfix"
printf 'compatibility_level = 3.6\nalternate_config_directories = %s/conf\n' \
    "$PF_BASE" > "$PF_BASE/etc-postfix/main.cf"
cat > "$PF_BASE/milter-as-unit" <<EOS
#!/bin/sh
exec unshare --mount --propagation private sh -c 'mount --bind "\$0" /etc/postfix &&
    exec setpriv --bounding-set=-all,$caps --no-new-privs -- "\$@"' \\
    "$PF_BASE/etc-postfix" "$E2E_BUILD/optin-milter" "\$@"
EOS
chmod 0755 "$PF_BASE/milter-as-unit"
REAL_MILTER=$OPTIN_MILTER
OPTIN_MILTER=$PF_BASE/milter-as-unit
milter_start "$CONF" || { e2e_fail "milter starts as the unit does"; e2e_done; }
OPTIN_MILTER=$REAL_MILTER
pf_start "$PF_BASE" "unix:$MILTER_SOCK" || { e2e_fail "postfix starts"; e2e_done; }

e2e_check_eq "milter: uid after the drop" "$(status_of "$MILTER_PID" Uid)" "$uid $uid $uid $uid"
e2e_check_eq "milter: gid after the drop" "$(status_of "$MILTER_PID" Gid)" "$gid $gid $gid $gid"
e2e_check "milter: keeps the group postdrop of /etc/group" \
    sh -c "echo ' $(status_of "$MILTER_PID" Groups) ' | grep -q ' $pdgid '"
e2e_check_eq "milter: no capability left" \
    "$(status_of "$MILTER_PID" CapPrm) $(status_of "$MILTER_PID" CapEff)" \
    "0000000000000000 0000000000000000"
hp=$(helper_pid)
e2e_check "SPF helper running" test -n "$hp"
e2e_check_eq "SPF helper: uid nobody" "$(status_of "$hp" Uid)" "$nuid $nuid $nuid $nuid"
e2e_check_eq "SPF helper: gid nogroup" "$(status_of "$hp" Gid)" "$ngid $ngid $ngid $ngid"
e2e_check_eq "SPF helper: no other group" "$(status_of "$hp" Groups)" "$ngid"
e2e_check_eq "SPF helper: no capability, no new privileges" \
    "$(status_of "$hp" CapPrm) $(status_of "$hp" CapEff) $(status_of "$hp" NoNewPrivs)" \
    "0000000000000000 0000000000000000 1"
# as_helper CMD... - CMD with the helper's credentials
as_helper()
{
	setpriv --reuid="$nuid" --regid="$ngid" --groups="$ngid" -- "$@"
}
# the SQLite database is a file of UserID's; on PostgreSQL it is the
# server's, behind its own access rules (pg_hba.conf), not a file here
files="$K/token.keys $D/s1.private"
if db_pgsql; then
	e2e_log "skip: the database file check (PostgreSQL: no database file)"
else
	files="$K/consent.db $files"
fi
for f in $files; do
	e2e_check "SPF helper's credentials cannot open $(basename "$f")" \
	    sh -c "! setpriv --reuid=$nuid --regid=$ngid --groups=$ngid -- cat '$f' >/dev/null 2>&1"
done
# shellcheck disable=SC2086
e2e_check "... while root can (the files are there)" cat $files >/dev/null
e2e_check "UserID cannot open OpenDKIM's key: it was read as root" \
    sh -c "! setpriv --reuid=$uid --regid=$gid --init-groups -- cat '$D/s1.private' >/dev/null 2>&1"
e2e_check_eq "no warning about the helper's isolation" \
    "$(grep -c 'not isolated' "$MILTER_LOG")" 0

# --- signing with OpenDKIM's key; a split through sendmail(1)
msgf=$PF_BASE/campaign.eml
printf 'From: news@example.com\r\nTo: ann@example.com\r\nSubject: %s\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <p1@example.com>\r\n\r\nHello.\r\n' \
    "privsep one" > "$msgf"
pf_send news@example.com ann@example.com "$msgf" >/dev/null || e2e_fail "one: accepted"
sed 's/privsep one/privsep split/; s/<p1@/<p2@/' "$msgf" > "$PF_BASE/split.eml"
pf_send news@example.com ann@example.com,frank@example.com "$PF_BASE/split.eml" >/dev/null ||
    e2e_fail "split: accepted"
pf_wait_empty 60 || e2e_fail "queue empties"
f=$(sink_find Subject "privsep one")
e2e_check_eq "signed with OpenDKIM's key (d=, s=)" \
    "$(sink_header "$f" DKIM-Signature | tr -d ' \t' | tr ';' '\n' | grep -E '^(d|s)=' | tr '\n' ' ')" \
    "d=example.com s=s1 "
e2e_check "the signature verifies (dkimpy, opendkim-genkey's record)" \
    optin_verify "$PF_BASE/records" "$f" 1
e2e_check_eq "split under NoNewPrivileges: one copy each, re-submitted" \
    "$(sink_rcpts_by_header Subject 'privsep split' | tr '\n' ' ')" \
    "ann@example.com frank@example.com "
e2e_check_eq "split: no copy in quarantine" \
    "$(optin_sql 'SELECT count(*) FROM quarantine')" 0

# --- reload after the drop: OpenDKIM's key is kept, with a warning
kill -USR1 "$MILTER_PID"
e2e_wait_for 10 grep -q 'reload: done in' "$MILTER_LOG" ||
    e2e_fail "reload after the drop is done" "$(grep reload "$MILTER_LOG")"
e2e_check "reload: warns that the unreadable key is kept until a restart" \
    grep -qE "^warning: KeyTable $PF_BASE/optin/key.table:1: $D/s1.private: cannot open: Permission denied \\(as uid $uid\\): keeping the key read at start-up; restart to load a changed key file" "$MILTER_LOG"
sed 's/privsep one/privsep reloaded/; s/<p1@/<p3@/' "$msgf" > "$PF_BASE/reloaded.eml"
pf_send news@example.com ann@example.com "$PF_BASE/reloaded.eml" >/dev/null ||
    e2e_fail "after reload: accepted"
pf_wait_empty 30
e2e_check "after reload: still signed with OpenDKIM's key, verifies" \
    optin_verify "$PF_BASE/records" "$(sink_find Subject 'privsep reloaded')" 1

# --- the helper is never started again as UserID
# unsub ADDR - mail an unsubscribe for ADDR from the news list
unsub()
{
	local tok
	tok=$("$OPTINCTL" -c "$CONF" token issue "$1" news) || return 1
	printf 'From: %s\r\nTo: unsubscribe+%s@example.com\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n' \
	    "$1" "$tok" > "$PF_BASE/unsub.eml"
	pf_send "$1" "unsubscribe+$tok@example.com" "$PF_BASE/unsub.eml" >/dev/null
}
# evidence ADDR - the evidence of ADDR's last opt-out from news
evidence()
{
	optin_sql "SELECT evidence FROM consent_events WHERE address = '$1' AND list_id = 'news' AND event = 'opted_out' ORDER BY id DESC LIMIT 1"
}
unsub frank@example.com || e2e_fail "unsubscribe frank: accepted"
e2e_wait_for 20 test -n "$(evidence frank@example.com)"
e2e_check "helper alive: the opt-out's evidence has spf=pass" \
    sh -c "case '$(evidence frank@example.com)' in 'spf=pass '*) true;; *) false;; esac"
kill -KILL "$hp"
e2e_wait_for 10 sh -c "! kill -0 $hp 2>/dev/null || grep -q '^State:.*Z' /proc/$hp/status"
unsub hank@xn--bcher-kva.example || e2e_fail "unsubscribe hank: accepted"
e2e_wait_for 20 test -n "$(evidence hank@xn--bcher-kva.example)"
e2e_check_eq "helper gone: the opt-out is still recorded, with the reason" \
    "$(evidence hank@xn--bcher-kva.example | sed 's/) .*/)/')" \
    "spf=temperror (SPF helper gone; not started again as uid $uid, where it would not be isolated: restart optin-milter)"
e2e_check_eq "helper gone: none started again" "$(helper_pid)" ""
e2e_check "helper gone: an error says why" \
    grep -q "^error: spf: SPF helper gone; not started again as uid $uid" "$MILTER_LOG"
milter_stop

# --- started as UserID itself, or with UserID nobody: a warning
grep -v -e '^KeyTable' -e '^SigningTable' "$CONF" > "$PF_BASE/nokeys.conf"
mkdir -m 0700 "$PF_BASE/usock"
chown optin-t-milter "$PF_BASE/usock" "$PF_BASE/nokeys.conf"
# copies UserID may run (the checkout may be in a 0700 directory, /root);
# the milter starts the SPF helper found beside itself
install -m 0755 "$OPTIN_MILTER" "$E2E_BUILD/optin-spf-helper" "$PF_BASE/usock/"
setpriv --reuid="$uid" --regid="$gid" --init-groups -- \
    "$PF_BASE/usock/optin-milter" -f \
    -c "$PF_BASE/nokeys.conf" -p "local:$PF_BASE/usock/m.sock" \
    > "$PF_BASE/user.log" 2>&1 &
upid=$!
e2e_track_pid "$upid"
e2e_wait_for 10 grep -q 'starting' "$PF_BASE/user.log"
e2e_check "started as UserID: warns that the helper is not isolated" \
    grep -q "^warning: SPF: the helper runs as uid $uid, as optin-milter does: it is not isolated from the consent database and the keys" "$PF_BASE/user.log"
e2e_kill_pid "$upid"
sed 's/^UserID .*/UserID nobody/' "$PF_BASE/nokeys.conf" > "$PF_BASE/nobody.conf"
"$OPTIN_MILTER" -f -c "$PF_BASE/nobody.conf" -p "local:$PF_BASE/nobody.sock" \
    > "$PF_BASE/nobody.log" 2>&1 &
npid=$!
e2e_track_pid "$npid"
e2e_wait_for 10 grep -q 'starting' "$PF_BASE/nobody.log"
e2e_check "UserID nobody: warns that the helper is not isolated" \
    grep -q "^warning: SPF: UserID nobody is the SPF helper's user nobody: the helper is not isolated" "$PF_BASE/nobody.log"
e2e_kill_pid "$npid"
e2e_done
