# t-stats.sh - optinctl stats (sourced by run.sh).

new_db stats
check "stats of an empty database" 0 "subscriptions
  (none)
suppressions
  (none)
quarantine
  (none)
events (last 24 hours)
  (none)
feedback
  (none)
live optin-milter: unavailable (MetricsAddress not set)
live optin-unsubd: unavailable (UnsubscribeMetricsAddress not set)" stats
for a in "subscribe a@example.com news" "subscribe b@example.com news" \
    "subscribe c@example.com promo" "unsubscribe d@example.com news" \
    "unsubscribe e@example.com --all" "forget f@example.com"; do
	"$OPTINCTL" -c "$conf" $a >/dev/null || bad "stats setup: $a"
done
sqlx "INSERT INTO consent_events (address, list_id, event, occurred_at) VALUES ('old@example.com', 'news', 'opted_in', 1000000000)" \
    "INSERT INTO quarantine (id, recipient, list_id, reason, spool_file, received_at, released_at) VALUES (1, 'x@example.com', 'news', 'no_consent', '20231114-000000-Q-x.eml', 1700000000, NULL)" \
    "INSERT INTO quarantine (id, recipient, list_id, reason, spool_file, received_at, released_at) VALUES (2, 'x@example.com', 'news', 'opted_out', '20231114-000000-Q-x.eml', 1700000000, 1700000500)"
check "stats" 0 "subscriptions
  news opted_in 2
  news opted_out 1
  promo pending 1
suppressions
  erased 1
  unsubscribed_all 1
quarantine
  no_consent held 1
  opted_out released 1
events (last 24 hours)
  erased 1
  opted_in 2
  opted_out 1
  pending 1
  suppressed 1
feedback
  (none)
live optin-milter: unavailable (MetricsAddress not set)
live optin-unsubd: unavailable (UnsubscribeMetricsAddress not set)" stats
check_json "stats --json" 0 \
    'd["subscriptions"] == {"news": {"opted_in": 2, "opted_out": 1}, "promo": {"pending": 1}} and d["suppressions"] == {"erased": 1, "unsubscribed_all": 1} and d["quarantine"] == {"no_consent": {"held": 1}, "opted_out": {"released": 1}} and d["events"] == {"erased": 1, "opted_in": 2, "opted_out": 1, "pending": 1, "suppressed": 1} and d["since"] > 1700000000 and d["live"]["optin-milter"] == {"address": None, "available": False, "why": "MetricsAddress not set"}' \
    stats --json
check_err "stats takes no arguments" 64 "usage: optinctl [-c FILE] [--json] stats" stats x
check "stats --help" 0 "usage: optinctl [-c FILE] [--json] stats
count subscriptions, suppressions, quarantine and recent events" stats --help

# every verb answers --help with its usage
for v in history export forget import export-list quarantine stats; do
	run $v --help
	case $(printf '%s\n' "$out" | head -1) in
	"usage: optinctl [-c FILE] [--json] $v" | "usage: optinctl [-c FILE] [--json] $v "*) first=yes ;;
	*) first=no ;;
	esac
	if [ "$rc" = 0 ] && [ $first = yes ]; then ok
	else bad "$v --help" "rc $rc" "out: $out"; fi
done
