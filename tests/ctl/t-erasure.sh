# t-erasure.sh - optinctl forget leaves the address in no byte of what the
# product keeps (sourced by run.sh; DESIGN "Consent model", Erasure): the
# database file, its -wal and -shm (kept alive by another connection, as
# the milter's), and every file of QuarantineDir, searched for the address
# in lower and upper case, as U-label and as A-label.  A reader holding a
# read transaction keeps the checkpoint from completing: forget then says
# so and exits 75, claiming nothing, and a second forget finishes.

new_db erase

ann_a=ann@xn--bcher-kva.example		# as stored (A-label)
ann_u=ann@bücher.example			# as a person writes it (U-label)
"$OPTINCTL" -c "$conf" subscribe "Ann@Bücher.example" news --evidence "form 3" >/dev/null
"$OPTINCTL" -c "$conf" subscribe "$ann_a" promo >/dev/null
"$OPTINCTL" -c "$conf" confirm "$ann_a" promo >/dev/null
"$OPTINCTL" -c "$conf" unsubscribe "$ann_a" news >/dev/null
"$OPTINCTL" -c "$conf" subscribe bob@example.com news >/dev/null

# spool files: ann's own; shared with bob; bob's only but naming ann (she
# was delivered, he was held); an orphan (no row); a temp file; one that
# names joann only, which must stay byte for byte
q=$qdir
printf 'Received: from crm by relay for <%s>;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\nTo: %s\r\n\r\nHi Ann\r\n' "$ann_a" "$ann_a" > "$q/20240101-000000-E1-own.eml"
printf 'To: Ann <ANN@bücher.example>, bob@example.com\r\nSubject: both\r\n\r\nwrite to ann@xn--bcher-kva.example.\r\n' > "$q/20240101-000000-E2-shared.eml"
printf 'To: bob@example.com\r\nCc: ANN@XN--BCHER-KVA.EXAMPLE\r\n\r\nb\r\n' > "$q/20240101-000000-E3-bob.eml"
printf 'To: <%s>\r\n\r\norphan\r\n' "$ann_u" > "$q/20240101-000000-E4-orphan.eml"
printf 'To: %s\r\n\r\nhalf-writ' "$ann_a" > "$q/.tmp-20240101-000000-E5-tmp.eml"
printf 'To: joann@xn--bcher-kva.example, xann@bücher.example, ann@xn--bcher-kva.example.org\r\n\r\nj\r\n' > "$q/20240101-000000-E6-joann.eml"
cp "$q/20240101-000000-E6-joann.eml" "$tmp/erase-joann.ref"
touch -d '2024-01-01 00:00:00' "$q/20240101-000000-E4-orphan.eml"
qrow 1 news@example.com "$ann_a" news opted_out 20240101-000000-E1-own.eml 1700000000
qrow 2 news@example.com "$ann_a" news opted_out 20240101-000000-E2-shared.eml 1700000000
qrow 3 news@example.com bob@example.com news no_consent 20240101-000000-E2-shared.eml 1700000000
qrow 4 news@example.com bob@example.com news no_consent 20240101-000000-E3-bob.eml 1700000000
qrow 5 news@example.com bob@example.com news no_consent 20240101-000000-E6-joann.eml 1700000000

# holder DB - another process with the database open, as the milter is:
# first inside a read transaction (a snapshot from before the forget)
# until $tmp/erase.release exists, then idle (no transaction) until
# $tmp/erase.stop exists, so that -wal and -shm stay; PID in $lockpid
rm -f "$tmp/erase.ready" "$tmp/erase.release" "$tmp/erase.idle" "$tmp/erase.stop"
$PY -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM subscriptions").fetchone()
open(sys.argv[2] + ".ready", "w").close()
for _ in range(300):
    if os.path.exists(sys.argv[2] + ".release"): break
    time.sleep(0.1)
c.execute("COMMIT")
open(sys.argv[2] + ".idle", "w").close()
for _ in range(300):
    if os.path.exists(sys.argv[2] + ".stop"): break
    time.sleep(0.1)' "$db" "$tmp/erase" &
lockpid=$!
i=0
while [ ! -e "$tmp/erase.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

# count FILE... - lines of the files that hold the address in any form:
# A-label and U-label, lower and upper case
count() {
	cat "$@" 2>/dev/null | LC_ALL=C.UTF-8 grep -a -c -i -F \
	    -e "$ann_a" -e "$ann_u" -e ANN@XN--BCHER-KVA.EXAMPLE -e ANN@BÜCHER.EXAMPLE
}

if [ -e "$tmp/erase.ready" ]; then ok; else bad "erasure: reader did not start"; fi
check_err "forget while a reader holds an old snapshot: 75, nothing claimed" 75 \
    "optinctl forget: ConsentDB $db: checkpoint could not complete: another connection holds a read transaction or the write lock (busy past DBBusyTimeout): deleted rows stay in the database file until one completes
optinctl forget: $ann_a is not erased yet: its rows are deleted, but copies remain (see above); run forget again" \
    forget "$ann_u"
n=$(count "$db")
if [ "$n" -gt 0 ]; then ok; else
	bad "the refused forget was right: the database file still held the address" "$n lines"; fi

touch "$tmp/erase.release"
i=0
while [ ! -e "$tmp/erase.idle" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "forget again, the reader gone" 0 \
    "erased $ann_a: subscriptions=0 events=0 quarantine=0 suppressions=0 spool_files=0 temp_files=0
$ann_a stays blocked (suppressed=erased, kept as a keyed hash)" \
    forget "ANN@xn--bcher-kva.example"
for f in "$db" "$db-wal" "$db-shm"; do
	if [ -e "$f" ]; then ok; else bad "erasure: $f exists (another connection is open)"; fi
	n=$(count "$f")
	if [ "$n" = 0 ]; then ok; else bad "erasure: no form of the address in $(basename "$f")" "$n lines"; fi
done
wal=$(stat -c %s "$db-wal")
if [ "$wal" = 0 ]; then ok; else bad "erasure: the WAL is empty after the checkpoint" "$wal bytes"; fi
touch "$tmp/erase.stop"
wait "$lockpid" 2>/dev/null
lockpid=

# the spool, file by file (joann's holds the address as a substring: it is
# compared byte for byte below)
for f in "$q"/* "$q"/.[!.]*; do
	[ -e "$f" ] || continue
	case $f in *-E6-joann.eml) continue ;; esac
	n=$(count "$f")
	if [ "$n" = 0 ]; then ok; else bad "erasure: no form of the address in $(basename "$f")" "$n lines"; fi
done
if [ ! -e "$q/20240101-000000-E1-own.eml" ]; then ok; else bad "erasure: ann's own spool file removed"; fi
if [ ! -e "$q/.tmp-20240101-000000-E5-tmp.eml" ]; then ok; else bad "erasure: the temp file naming ann removed"; fi
if [ "$(cat "$q/20240101-000000-E2-shared.eml")" = "$(printf 'To: Ann <erased@invalid>, bob@example.com\r\nSubject: both\r\n\r\nwrite to erased@invalid.\r')" ]
then ok; else bad "erasure: shared spool file rewritten for bob" "$(cat "$q/20240101-000000-E2-shared.eml")"; fi
if [ "$(cat "$q/20240101-000000-E3-bob.eml")" = "$(printf 'To: bob@example.com\r\nCc: erased@invalid\r\n\r\nb\r')" ]
then ok; else bad "erasure: bob's spool file rewritten" "$(cat "$q/20240101-000000-E3-bob.eml")"; fi
if [ "$(cat "$q/20240101-000000-E4-orphan.eml")" = "$(printf 'To: <erased@invalid>\r\n\r\norphan\r')" ] &&
    [ "$(stat -c '%a %Y' "$q/20240101-000000-E4-orphan.eml")" = "600 $(date -d '2024-01-01 00:00:00' +%s)" ]
then ok; else bad "erasure: orphan rewritten, mode 0600 and age kept" "$(stat -c '%a %Y' "$q/20240101-000000-E4-orphan.eml")"; fi
if cmp -s "$q/20240101-000000-E6-joann.eml" "$tmp/erase-joann.ref"; then ok
else bad "erasure: joann, xann and a longer domain left alone" "$(cat "$q/20240101-000000-E6-joann.eml")"; fi
if [ -z "$(ls -A "$q" | grep '^\.tmp')" ]; then ok; else bad "erasure: no temp file left" "$(ls -A "$q")"; fi
check_sql "erasure: bob's rows kept" "3,4,5" \
    "SELECT group_concat(id) FROM (SELECT id FROM quarantine ORDER BY id)"
check "erasure: status still blocked" 0 "$ann_a suppressed=erased
  (other lists) decision=suppressed" status "$ann_u"

# a read-only view of what is held: the rewritten file is shown as it is
run quarantine show 3
if [ "$rc" = 0 ] && printf '%s\n' "$out" | grep -q '^To: Ann <erased@invalid>, bob@example.com$'
then ok; else bad "erasure: quarantine show of the rewritten file" "rc $rc" "$out"; fi
