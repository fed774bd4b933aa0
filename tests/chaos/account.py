#!/usr/bin/python3
# account.py - the chaos run's accounting: every recipient of every message
# the client sent ends in exactly one place, or the run fails.
#
# Reads
#   the client's ledger (send.py): per message the recipients the relay
#     accepted (250 to the final dot), refused (5xx), gave up on (4xx until
#     out of attempts) or left unknown (connection lost after the dot);
#   the population (ADDRESS STATE per line; STATE opted_in, opted_out,
#     pending, suppressed or no_consent);
#   the sink's files (tests/e2e/sink.py: X-Sink-Rcpt lines, Message-ID);
#   the quarantine table (`optinctl --json quarantine list --all`) and the
#     spool files its rows name;
#   the Postfix queue (`postqueue -j`, each entry's Message-ID by postcat).
#
# Per (message, recipient) with d deliveries, q quarantine rows, k queue
# entries, the categories are:
#   delivered once             opted in, d=1 q=0 k=0
#   quarantined once           blocked, q=1 with its state as reason, d=0 k=0
#   quarantined resubmit_failed  opted in, q=1 reason resubmit_failed or
#   (or handover_unknown)      handover_unknown (a split copy held because
#                              its hand-over's outcome is unknown), d=0 k=0
#   delivered once, copy held  opted in, d=1 and q=1 with reason
#   (handover_unknown)         handover_unknown: the milter died between
#                              handing the copy over and recording it, and
#                              the retry held its copy rather than send a
#                              second one (it must never be released)
#   still queued               d=0 q=0 k=1
#   refused to the client      not accepted (5xx, or 4xx until the client
#                              gave up; the client keeps it), d=q=k=0
# and the violations (each one fails the run):
#   LOST                       accepted, d=q=k=0
#   TWICE                      d+q+k > 1
#   WITHOUT CONSENT            blocked and d>0
#   WRONG REASON               a quarantine row whose reason is not the
#                              recipient's state (resubmit_failed and
#                              handover_unknown only for people opted in)
#   SENT THOUGH REFUSED        not accepted, yet d+q+k > 0
#   UNKNOWN OUTCOME            the client lost the connection after the dot
#   STRAY                      delivered/quarantined/queued for a message or
#                              recipient the client never sent
#   SPOOL MISSING              a quarantine row whose spool file is missing
# Spool files that no row names, and temporary files left, are counted and
# shown, not failed (a message the milter tempfailed after writing its spool
# file leaves one; the retry writes another).
#
# Prints one line per category with its count, then up to --show examples of
# each violation with the evidence (all of them to --details); writes the
# counts as JSON to --json.
# Exit 0 when there is no violation, 1 otherwise, 2 on a read error.
#
# Usage: account.py --ledger F --people F --sink DIR --optinctl PROG
#        --conf F --spool DIR --pfconf DIR [--count N] [--json F] [--show 10]
#        [--details F]

import argparse
import collections
import json
import os
import re
import subprocess
import sys

BLOCKED = ("opted_out", "pending", "suppressed", "no_consent")
# reasons for which a person who opted in may be held in quarantine: a
# split copy the MTA did not take, a hand-over whose outcome is unknown
OPTED_IN_HELD = ("resubmit_failed", "handover_unknown")


def headers(path, limit=65536):
    """(envelope recipients, Message-ID) of a stored sink file."""
    with open(path, "rb") as f:
        head = f.read(limit).split(b"\r\n\r\n", 1)[0]
    rcpts, mid = [], None
    for line in re.split(rb"\r\n(?![ \t])", head):
        name, _, val = line.partition(b":")
        name = name.strip().lower()
        val = re.sub(rb"\s+", b" ", val).strip().decode("utf-8", "replace")
        if name == b"x-sink-rcpt":
            rcpts.append(val.strip("<>").lower())
        elif name == b"message-id" and mid is None:
            mid = val
    return rcpts, mid


def sink_pairs(sink):
    out = collections.Counter()
    files = collections.defaultdict(list)
    for name in sorted(os.listdir(sink)):
        if not name.endswith(".msg"):
            continue
        rcpts, mid = headers(os.path.join(sink, name))
        for r in rcpts:
            out[(mid, r)] += 1
            files[(mid, r)].append(name)
    return out, files


def quarantine_rows(o):
    p = subprocess.run([o.optinctl, "-c", o.conf, "--json", "quarantine",
                        "list", "--all"], capture_output=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("optinctl quarantine list: exit %d: %s" %
                           (p.returncode, p.stderr.decode(errors="replace")))
    return json.loads(p.stdout)["quarantine"]


def queue_entries(o):
    """[(queue_id, queue_name, Message-ID, [recipients])]"""
    p = subprocess.run(["postqueue", "-c", o.pfconf, "-j"],
                       capture_output=True, timeout=300)
    out = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        e = json.loads(line)
        qid = e["queue_id"]
        c = subprocess.run(["postcat", "-c", o.pfconf, "-h", "-q", qid],
                           capture_output=True, timeout=60)
        m = re.search(rb"(?im)^message-id:\s*(<[^>]*>)", c.stdout)
        mid = m.group(1).decode("utf-8", "replace") if m else None
        rcpts = [r["address"].lower() for r in e.get("recipients", [])]
        out.append((qid, e.get("queue_name", "?"), mid, rcpts))
    return out


def main():
    ap = argparse.ArgumentParser()
    for a in ("ledger", "people", "sink", "optinctl", "conf", "spool",
              "pfconf"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--details", help="file for every violation")
    o = ap.parse_args()

    state = {}
    for line in open(o.people):
        if line.strip():
            a, s = line.split()[:2]
            state[a.lower()] = s
    ledger = {}
    for line in open(o.ledger):
        m = json.loads(line)
        ledger[m["mid"]] = m
    try:
        delivered, dfiles = sink_pairs(o.sink)
        rows = quarantine_rows(o)
        queue = queue_entries(o)
    except (OSError, RuntimeError, ValueError,
            subprocess.SubprocessError) as e:
        print("account: %s" % e)
        return 2

    quar = collections.defaultdict(list)
    spool_missing = []
    for r in rows:
        key = (r.get("message_id"), (r.get("recipient") or "").lower())
        quar[key].append(r)
        sp = r.get("spool_file")
        if not sp or not os.path.isfile(os.path.join(o.spool, sp)) or \
                os.path.getsize(os.path.join(o.spool, sp)) == 0:
            spool_missing.append("row %s %s %s spool=%s" % (
                r.get("id"), key[0], key[1], sp))
    queued = collections.defaultdict(list)
    for qid, qname, mid, rcpts in queue:
        for r in rcpts:
            queued[(mid, r)].append("%s(%s)" % (qid, qname))

    cats = collections.Counter()
    bad = collections.defaultdict(list)
    seen = set()
    missing_msgs = o.count - len(ledger) if o.count else 0
    for mid, m in sorted(ledger.items(), key=lambda kv: kv[1]["n"]):
        for r in m["rcpts"]:
            r = r.lower()
            key = (mid, r)
            seen.add(key)
            d, qs, k = delivered[key], quar[key], queued[key]
            total = d + len(qs) + len(k)
            st = state.get(r, "?")
            ev = "%s %s (%s): delivered=%d %s quarantined=%s queued=%s" % (
                mid, r, st, d, dfiles.get(key, []),
                [q.get("reason") for q in qs], k)
            if r in m["unknown"]:
                bad["UNKNOWN OUTCOME"].append(ev + " " + m["unknown"][r])
                continue
            if r not in m["accepted"]:
                if total:
                    bad["SENT THOUGH REFUSED"].append(
                        ev + " client got: " +
                        (m["refused"].get(r) or m["gave_up"].get(r, "")))
                else:
                    cats["refused to the client"] += 1
                continue
            if st in BLOCKED and d:
                bad["WITHOUT CONSENT"].append(ev)
            for q in qs:
                want = OPTED_IN_HELD if st == "opted_in" else (st,)
                if q.get("reason") not in want:
                    bad["WRONG REASON"].append(ev)
            if (total == 2 and d == 1 and not k and st == "opted_in" and
                    qs[0].get("reason") == "handover_unknown"):
                # killed between handing the copy over and recording it:
                # the retry held its copy instead of sending a second one
                # (optin-milter(8): such a row is never released blindly)
                cats["delivered once, copy held: handover_unknown"] += 1
                continue
            if total > 1:
                bad["TWICE"].append(ev + " accepted at attempt %d of %d" % (
                    m["accepted"][r], m["attempts"]))
            elif total == 0:
                bad["LOST"].append(ev)
            elif d:
                if st == "opted_in":
                    cats["delivered once"] += 1
            elif qs:
                if qs[0].get("reason") in OPTED_IN_HELD:
                    cats["quarantined " + qs[0]["reason"]] += 1
                else:
                    cats["quarantined once"] += 1
            else:
                cats["still queued"] += 1
    for src, what in ((delivered, "delivered"), (quar, "quarantined"),
                      (queued, "queued")):
        for key in src:
            if key not in seen and (src[key] if what == "delivered"
                                    else len(src[key])):
                bad["STRAY"].append("%s %s %s %s" % (
                    what, key[0], key[1],
                    dfiles.get(key, "") if what == "delivered" else src[key]))
    for s in spool_missing:
        bad["SPOOL MISSING"].append(s)

    # spool files no row names (a retried message writes a new one): not a
    # failure, shown so that leaks are seen
    named = {r.get("spool_file") for r in rows}
    orphans = [f for f in os.listdir(o.spool)
               if not f.startswith(".") and f not in named]
    tmps = [f for f in os.listdir(o.spool) if f.startswith(".tmp-")]

    nrc = sum(len(m["rcpts"]) for m in ledger.values())
    print("accounting: %d messages, %d recipients (ledger), %d sink files, "
          "%d quarantine rows, %d queue entries" % (
              len(ledger), nrc, len(os.listdir(o.sink)), len(rows),
              len(queue)))
    if missing_msgs:
        bad["NOT SETTLED BY THE CLIENT"].append(
            "%d messages missing from the ledger" % missing_msgs)
    for c in ("delivered once", "quarantined once",
              "quarantined resubmit_failed", "quarantined handover_unknown",
              "delivered once, copy held: handover_unknown", "still queued",
              "refused to the client"):
        print("  %-44s %d" % (c, cats[c]))
    for c in ("LOST", "TWICE", "WITHOUT CONSENT", "WRONG REASON",
              "SENT THOUGH REFUSED", "UNKNOWN OUTCOME", "STRAY",
              "SPOOL MISSING", "NOT SETTLED BY THE CLIENT"):
        print("  %-30s %d" % (c, len(bad[c])))
    print("  (spool files without a row: %d; temporary files left: %d)" %
          (len(orphans), len(tmps)))
    for c in sorted(bad):
        for e in bad[c][:o.show]:
            print("  %s: %s" % (c, e))
        if len(bad[c]) > o.show:
            print("  %s: ... %d more" % (c, len(bad[c]) - o.show))
    if o.details:
        with open(o.details, "w") as f:
            for c in sorted(bad):
                for e in bad[c]:
                    f.write("%s: %s\n" % (c, e))
    if o.json:
        res = dict(cats)
        res.update({c: len(v) for c, v in bad.items()})
        res["messages"] = len(ledger)
        res["recipients"] = nrc
        res["spool files without a row"] = len(orphans)
        with open(o.json, "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
    return 1 if any(bad.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
