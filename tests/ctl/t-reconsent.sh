# t-reconsent.sh - no silent re-consent (sourced by run.sh; DESIGN "Consent
# model"): subscribe, confirm and import of a suppressed or erased address
# are refused with 65 and the reason, unless subscribe gives fresh
# evidence, which lifts the block and is recorded; status answers the same
# whoever runs it (root or the UserID account).

new_db recon

"$OPTINCTL" -c "$conf" subscribe eve@example.com promo >/dev/null	# pending
"$OPTINCTL" -c "$conf" unsubscribe eve@example.com --all >/dev/null
"$OPTINCTL" -c "$conf" subscribe fay@example.com news >/dev/null
"$OPTINCTL" -c "$conf" forget fay@example.com >/dev/null

# --- suppressed --------------------------------------------------------------

check_err "reconsent: subscribe of a suppressed address" 65 \
    "optinctl subscribe: eve@example.com is suppressed (unsubscribed_all): a new opt-in needs fresh consent evidence (--evidence TEXT)" \
    subscribe eve@example.com news
check_err "reconsent: an empty --evidence is none" 65 \
    "optinctl subscribe: eve@example.com is suppressed (unsubscribed_all): a new opt-in needs fresh consent evidence (--evidence TEXT)" \
    subscribe eve@example.com news --evidence ""
check_err "reconsent: confirm of a suppressed address" 65 \
    "optinctl confirm: eve@example.com is suppressed (unsubscribed_all): a new opt-in needs fresh consent evidence (--evidence TEXT)" \
    confirm eve@example.com promo
check_sql "reconsent: refusals wrote nothing" "1|promo|pending" \
    "SELECT count(*) || '|' || group_concat(list_id) || '|' || group_concat(status) FROM subscriptions WHERE address = 'eve@example.com'"
check_sql "reconsent: refusals wrote no event" 2 \
    "SELECT count(*) FROM consent_events WHERE address = 'eve@example.com'"
printf 'address,list,status\neve@example.com,news,opted_in\neve@example.com,crm,opted_out\n' > "$tmp/recon.csv"
check_both "reconsent: import of a suppressed address" 65 \
    "import $tmp/recon.csv: format=optin rows=2 added=1 changed=0 unchanged=0 kept=0 skipped=0 bad=1
1 of 1 will not get campaign mail: 1 suppressed" \
    "optinctl import: $tmp/recon.csv:2: eve@example.com is suppressed (unsubscribed_all): a new opt-in needs fresh consent evidence (--evidence TEXT): not imported (optinctl subscribe ADDR LIST --evidence TEXT lifts it)" \
    import "$tmp/recon.csv"
check_sql "reconsent: the import's opt-out row is written" "crm:opted_out,promo:pending" \
    "SELECT group_concat(list_id || ':' || status) FROM (SELECT * FROM subscriptions WHERE address = 'eve@example.com' ORDER BY list_id) AS x"

check_both "reconsent: subscribe with evidence lifts the suppression" 0 \
    "eve@example.com list=news state=opted_in" \
    "optinctl: note: eve@example.com is suppressed (unsubscribed_all): lifted with the evidence given" \
    subscribe eve@example.com news --evidence "double opt-in mail confirmed 2026-11-30"
check "reconsent: status after the lift" 0 "eve@example.com suppressed=no
  crm state=opted_out decision=opted_out
  news state=opted_in decision=deliver
  promo state=pending decision=pending
  (other lists) decision=no_consent" status eve@example.com
check_sql "reconsent: the lift and the opt-in are events with the evidence" \
    "unsuppressed|-|reason=unsubscribed_all; double opt-in mail confirmed 2026-11-30|optinctl user=$me
opted_in|news|double opt-in mail confirmed 2026-11-30|optinctl user=$me" \
    "SELECT event || '|' || coalesce(list_id, '-') || '|' || evidence || '|' || user_agent AS e FROM consent_events WHERE address = 'eve@example.com' AND id > (SELECT max(id) FROM consent_events WHERE event = 'suppressed') AND coalesce(list_id, '') <> 'crm' ORDER BY id"

# --- erased ------------------------------------------------------------------

check_both "reconsent: subscribe with evidence lifts the erasure" 0 \
    "fay@example.com list=news state=opted_in" \
    "optinctl: note: fay@example.com was erased (optinctl forget): lifted with the evidence given" \
    subscribe Fay@Example.com news --evidence "signed up again at the shop, ticket 77"
check_sql "reconsent: the erased hash is gone" 0 \
    "SELECT count(*) FROM suppressions WHERE reason = 'erased'"
check_sql "reconsent: the erase event stays, under the hash" 1 \
    "SELECT count(*) FROM consent_events WHERE event = 'erased' AND address LIKE 'erased:%'"
check_sql "reconsent: the lift of the erasure is an event" \
    "unsuppressed|reason=erased; signed up again at the shop, ticket 77" \
    "SELECT event || '|' || evidence FROM consent_events WHERE address = 'fay@example.com' AND event = 'unsuppressed'"
check "reconsent: status of the re-subscribed address" 0 "fay@example.com suppressed=no
  news state=opted_in decision=deliver
  (other lists) decision=no_consent" status fay@example.com

# --- status is the same whoever runs it --------------------------------------
# The daemons run as UserID and TokenKeyFile belongs to it (mode 0600), or
# to root.  optinctl run by root reads the key first and then becomes
# UserID; run by UserID it reads it directly.  Either way an erased address
# is found, or, where the key cannot be read, status fails instead of
# saying "not suppressed".

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	pdir=$tmp/privs
	mkdir -p "$pdir/q"
	chmod 711 "$tmp"
	(umask 077; printf '1 %s\n' "$(head -c 32 /dev/urandom | base64)" > "$pdir/keys")
	cat > "$pdir/conf" <<EOF
ConsentDB $pdir/consent.db
DBBusyTimeout 300
Syslog no
UserID nobody
TokenKeyFile $pdir/keys
ErasureKeyFile $pdir/erasure
QuarantineDir $pdir/q
EOF
	chown -R nobody "$pdir"
	chmod 700 "$pdir"
	"$OPTINCTL" -c "$pdir/conf" init >/dev/null 2>&1 &&
	"$OPTINCTL" -c "$pdir/conf" list add news >/dev/null 2>&1 &&
	"$OPTINCTL" -c "$pdir/conf" subscribe gus@example.com news >/dev/null 2>&1 &&
	"$OPTINCTL" -c "$pdir/conf" forget gus@example.com >/dev/null 2>&1 ||
	    bad "privs: set-up as root with UserID nobody"
	owner=$(stat -c %U "$pdir/consent.db")
	if [ "$owner" = nobody ]; then ok; else bad "privs: the database root made belongs to UserID" "owner $owner"; fi
	want="gus@example.com suppressed=erased
  (other lists) decision=suppressed"
	as_root=$("$OPTINCTL" -c "$pdir/conf" status gus@example.com 2>&1); rc_root=$?
	as_user=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$OPTINCTL" -c "$pdir/conf" status gus@example.com 2>&1); rc_user=$?
	if [ "$rc_root" = 0 ] && [ "$as_root" = "$want" ]; then ok
	else bad "privs: status as root (key of UserID)" "rc $rc_root" "$as_root"; fi
	if [ "$rc_user" = 0 ] && [ "$as_user" = "$want" ]; then ok
	else bad "privs: status as UserID (key of UserID)" "rc $rc_user" "$as_user"; fi
	# a key only root may read, in a directory UserID owns: OpenDKIM's
	# rule (secfile.h) refuses a key below a directory someone else
	# could swap it in, so root refuses it too; neither answers
	# "suppressed=no": both say they cannot tell (78)
	chown root "$pdir/keys" "$pdir/erasure"
	as_root=$("$OPTINCTL" -c "$pdir/conf" status gus@example.com 2>&1); rc_root=$?
	as_user=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$OPTINCTL" -c "$pdir/conf" status gus@example.com 2>&1); rc_user=$?
	case $as_root in
	"optinctl status: the database keeps erased addresses keyed with ErasureKeyFile: "*) root_says=yes ;;
	*) root_says=no ;;
	esac
	if [ "$rc_root" = 78 ] && [ "$root_says" = yes ]; then ok
	else bad "privs: status as root (key of root, in UserID's directory): fails" "rc $rc_root" "$as_root"; fi
	case $as_user in
	"optinctl status: the database keeps erased addresses keyed with ErasureKeyFile: "*"Permission denied") user_says=yes ;;
	*) user_says=no ;;
	esac
	if [ "$rc_user" = 78 ] && [ "$user_says" = yes ]
	then ok; else bad "privs: status as UserID (key of root): fails" "rc $rc_user" "$as_user"; fi
	chmod 700 "$tmp"
else
	echo "SKIP privs: status as root and as UserID (not root, or no user nobody)" >&2
fi
