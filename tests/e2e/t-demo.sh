#!/bin/bash
# t-demo.sh - the README's main command, demo.sh, on the tree under test
# (DEMO_NO_BUILD=1: no package check, no build): it must end with exit 0
# and print exactly these outcomes: campaign 1 delivers to the opted-in,
# quarantines the others with their reason and grace's copy bounces (550
# 5.1.1 at the receiving server); Postfix's DSN through the optin-feedback
# pipe suppresses grace (hard_bounce, by her bounce token), henry's ARF
# complaint opts him out (by the token of his copy), frank's one-click
# opts him out; campaign 2 holds all three back and the plain-words summary
# says so.  About a minute: the demo waits for the queue twice.  The corpus
# is named by a relative OPTIN_CORPUS; a missing one stops the demo at once.

. "$(dirname "$0")/lib.sh"
e2e_init t-demo

# a corpus that is not there: said at once, exit 1, nothing started (it
# ran on: a Python traceback, every recipient "NOT ACCOUNTED FOR", exit 0)
out=$PF_BASE/nocorpus.out
DEMO_NO_BUILD=1 OPTIN_CORPUS=$PF_BASE/nocorpus timeout 240 \
    bash "$E2E_TOP/demo.sh" > "$out" 2>&1
e2e_check_eq "no corpus: exit 1 and why, nothing else" "$? $(cat "$out")" \
    "1 demo: $PF_BASE/nocorpus/ours_newsletter_multipart.eml not found (OPTIN_CORPUS: a copy of tests/data/corpus)"

# a relative OPTIN_CORPUS names a directory from where demo.sh was started
# (demo.sh changes to its tree; it read the path from there)
cp -R "$OPTIN_CORPUS" "$PF_BASE/corpus"
out=$PF_BASE/demo.out
(cd "$PF_BASE" && DEMO_NO_BUILD=1 OPTIN_CORPUS=corpus timeout 240 \
    bash "$E2E_TOP/demo.sh") > "$out" 2>&1
rc=$?
e2e_check_eq "demo.sh exits 0" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/  | /' "$out" >&2

# block START N - the N lines from the line START on, trailing blanks cut
block() { grep -A"$(( $2 - 1 ))" -xF -- "$1" "$out" | sed 's/[[:space:]]*$//'; }

e2e_check_eq "campaign 1: every recipient accounted for" \
    "$(block "  RECIPIENT              OUTCOME" 9 | head -9)" \
"  RECIPIENT              OUTCOME
  ann@example.com        delivered (one copy for this recipient alone, personal unsubscribe link)
  bob@example.com        quarantined (opted_out)
  carol@example.com      quarantined (pending)
  dave@example.com       quarantined (no_consent)
  eve@example.com        quarantined (suppressed)
  frank@example.com      delivered (one copy for this recipient alone, personal unsubscribe link)
  grace@example.com      sent, refused by the receiving server (5.1.1): bounced
  henry@example.com      delivered (one copy for this recipient alone, personal unsubscribe link)"
e2e_check_eq "the bounce: a hard bounce by grace's token, she is suppressed" \
    "$(grep -E '^  (report|grace is now):' "$out" | head -2)" \
"  report: hard_bounce 5.1.1, identified by bounce_token
  grace is now: suppressed (hard_bounce)"
e2e_check_eq "the complaint: by the token of henry's copy, he is opted out" \
    "$(grep -E '^  (report|henry on newsletter is now):' "$out" | tail -2)" \
"  report: complaint about campaign november-news, identified by token:list_unsubscribe
  henry on newsletter is now: opted_out"
e2e_check_eq "the one-click: frank opted out" \
    "$(grep -E '^  (answer|frank on newsletter is now):' "$out")" \
"  answer: HTTP 200
  frank on newsletter is now: opted_out"
e2e_check_eq "campaign 2: the three held back, ann delivered" \
    "$(block "Campaign 2: 'December news' to ann, frank, grace and henry" 6)" \
"Campaign 2: 'December news' to ann, frank, grace and henry
  RECIPIENT              OUTCOME
  ann@example.com        delivered (one copy for this recipient alone, personal unsubscribe link)
  frank@example.com      quarantined (opted_out)
  grace@example.com      quarantined (suppressed)
  henry@example.com      quarantined (opted_out)"
e2e_check_eq "the summary in plain words" \
    "$(block "What changed the second send, in plain words:" 8)" \
"What changed the second send, in plain words:
  grace@example.com: her mailbox does not exist (bounce 5.1.1), so she is
    suppressed; campaign 2 held it back (suppressed)
  henry@example.com: he complained (ARF report), so he is opted out of
    newsletter; campaign 2 held it back (opted_out)
  frank@example.com: he clicked one-click unsubscribe, so he is opted out
    of newsletter; campaign 2 held it back (opted_out)
  ann@example.com: still opted in; campaign 2 delivered"
# the milter log: each message's lines together, both campaigns' decision
# lines, and each split copy under its original with its recipient
mlog=$(sed -n '/^Milter log, by queue ID/,/^-----/p' "$out")
e2e_check_eq "milter log: both campaigns' decision lines" \
    "$(echo "$mlog" | grep -cE '^  [0-9A-Z]+: campaign list=newsletter from=<news@example.com> ')" 2
e2e_check_eq "milter log: each copy named with its recipient" \
    "$(echo "$mlog" | sed -n 's/^    copy [0-9A-Z]* for \(.*\):$/\1/p' | sort | tr '\n' ' ')" \
    "frank@example.com grace@example.com henry@example.com "
e2e_check_eq "dkimpy verifies ann's copy" \
    "$(grep -c '^  dkimpy (independent verifier): signature OK' "$out")" 1
# the database and spool paths it printed are removed on exit: it says so
last=$(tail -n 1 "$out")
gone=${last#Removing }
gone=${gone%% *}
e2e_check_eq "the last line says the working directory goes, and how to keep it" \
    "$last" "Removing $gone (DEMO_KEEP=1 ./demo.sh keeps it for a look around)."
e2e_check "that directory is gone" sh -c "[ -n '$gone' ] && [ ! -e '$gone' ]"
e2e_check "nothing unaccounted for" sh -c "! grep -q 'NOT ACCOUNTED FOR' '$out'"
e2e_done
