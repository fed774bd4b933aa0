# t-erase-race.sh - optinctl forget while another optinctl run that read
# "not erased" has yet to write (sourced by run.sh; PostgreSQL only: on
# SQLite the write lock of store_begin serialises them).  The writer is
# stopped between its erased check and its write by tests/lib/pgpause.c
# (an LD_PRELOAD shim that waits at the first use of one prepared
# statement).  The forget must then either wait for it (exit 75 after
# DBBusyTimeout) or leave the address in no row once the writer finished:
# an erased person stays erased (DESIGN "Consent model", Erasure).

if db_pgsql && ! cc -shared -fPIC -I"$(pg_config --includedir)" \
    -o "$tmp/pgpause.so" "$top_srcdir/tests/lib/pgpause.c" -ldl; then
	bad "tests/lib/pgpause.c does not build: the erase races not run"
elif db_pgsql; then
new_db race

# race_check LABEL - forget ran while the writer was stopped ($frc): it
# waited (75) or no row names $zed; then forget again and none does
race_check() {
	n=$(sql "SELECT (SELECT count(*) FROM subscriptions WHERE address = '$zed') + (SELECT count(*) FROM consent_events WHERE address = '$zed') + (SELECT count(*) FROM suppressions WHERE address = '$zed') + (SELECT count(*) FROM feedback WHERE address = '$zed')")
	if [ "$frc" = 75 ] || { [ "$frc" = 0 ] && [ "$n" = 0 ]; }; then
		ok
	else
		bad "$1" "forget exit $frc; rows naming $zed after it: $n" \
		    "writer: $(cat "$tmp/race.out")"
	fi
	"$OPTINCTL" -c "$conf" forget "$zed" >/dev/null 2>&1
	check_sql "$1: erased after all" 0 "SELECT (SELECT count(*) FROM subscriptions WHERE address = '$zed') + (SELECT count(*) FROM consent_events WHERE address = '$zed')"
}

# race STMT LABEL OPTINCTL-ARGS... - subscribe $zed (a new address each
# time) to news, run optinctl ARGS stopped before its first use of the
# prepared statement STMT; forget $zed meanwhile
race() {
	stmt=$1 label=$2
	shift 2
	"$OPTINCTL" -c "$conf" subscribe "$zed" news >/dev/null 2>&1
	rm -f "$tmp/race.ready" "$tmp/race.go"
	LD_PRELOAD=$tmp/pgpause.so PGPAUSE_STMT=$stmt PGPAUSE_FILE=$tmp/race \
	    "$OPTINCTL" -c "$conf" "$@" >"$tmp/race.out" 2>&1 &
	rpid=$!
	i=0
	while [ ! -e "$tmp/race.ready" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -e "$tmp/race.ready" ] || bad "$label: the writer never paused"
	"$OPTINCTL" -c "$conf" forget "$zed" >/dev/null 2>&1
	frc=$?
	: > "$tmp/race.go"
	wait "$rpid"
	race_check "$label"
}

# import: the opt-out row of the address, read "not erased" row by row
zed=zed1@example.com
printf 'address,list,status\n%s,news,opted_out\n' "$zed" > "$tmp/race.csv"
race sub_get "forget during an import" import "$tmp/race.csv"
zed=zed2@example.com
printf 'address,list,status\n%s,crm,opted_in\n' "$zed" > "$tmp/race2.csv"
race sub_get "forget during an import of a new row" import "$tmp/race2.csv"
# subscribe and unsubscribe: the gate read, then the write (subscribe
# --evidence may write an erased address back: a new consent, on purpose)
zed=zed3@example.com
race sub_set_listed "forget during a subscribe" subscribe "$zed" crm
zed=zed5@example.com
race sub_set_listed "forget during an unsubscribe" unsubscribe "$zed" news
fi
