#!/usr/bin/python3
# send.py - the chaos run's SMTP client: sends N campaign messages through
# the relay the way a well-behaved bulk sender does, and writes a ledger of
# what the relay accepted, per recipient.
#
# Every message has its own Message-ID <chaos-SEED-N@test.example>, the
# envelope sender news@example.com, 1 to 6 recipients drawn (seeded) from
# the population file, and a body taken from a corpus template.  Several
# clients (threads) send at once, one SMTP connection per attempt.  A
# recipient answered 4xx (at RCPT or at the end of DATA, or a dropped
# connection before any reply to the final dot) is tried again later in a
# new transaction, up to --attempts times; 5xx is final.  --rate paces the
# first attempts (so a short run still spans several faults).  When 90% of
# the messages are settled (--calm-at), the file CALM (--calm) is created:
# the driver then stops its faults and heals the relay, and the retries go
# on until each recipient is accepted, refused, or out of attempts.  (Not
# at the end of the first attempts: while the milter is down the relay
# answers 451 at once, and a fast client is through its first attempts
# long before most mail went through.)
#
# Ledger (--ledger, JSON lines, one per message when it is settled):
#   {"mid": "<chaos-..>", "n": N, "rcpts": [...],
#    "accepted": {rcpt: attempt}, "refused": {rcpt: "5xx text"},
#    "gave_up": {rcpt: "last 4xx"}, "unknown": {rcpt: "why"},
#    "attempts": K}
# "unknown": the connection broke after the final dot was sent and before a
# reply came: the relay may or may not hold the message (not retried, so
# the client never causes a duplicate itself).
#
# Usage: send.py --port P --seed S --count N --people FILE --ledger FILE
#        --calm FILE [--calm-at 0.9] [--clients 4] [--attempts 40] [--rate R]
#        --templates F...

import argparse
import heapq
import json
import random
import re
import smtplib
import socket
import sys
import threading
import time


def load_templates(paths):
    """Message templates: header block and body, LF line ends, without
    Message-ID (each message gets its own)."""
    out = []
    for p in paths:
        d = open(p, "rb").read().replace(b"\r\n", b"\n")
        head, sep, body = d.partition(b"\n\n")
        lines = [l for l in re.split(rb"\n(?![ \t])", head)
                 if not l.lower().startswith(b"message-id:")]
        out.append((lines, body))
    return out


def build(tpl, mid):
    lines, body = tpl
    msg = b"\n".join([b"Message-ID: " + mid.encode()] + lines) + b"\n\n" + body
    msg = msg.replace(b"\n", b"\r\n")
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    return msg


class Sender:
    def __init__(self, o):
        self.o = o
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.heap = []          # (not_before, n)
        self.msgs = {}
        self.settled = 0
        self.inflight = 0
        self.ledger = open(o.ledger, "w")
        rnd = random.Random(o.seed)
        people = [l.split()[0] for l in open(o.people) if l.strip()]
        tpls = load_templates(o.templates)
        t0 = time.monotonic()
        for n in range(1, o.count + 1):
            k = rnd.choice([1, 1, 2, 3, 3, 4, 5, 6])
            rcpts = rnd.sample(people, k)
            mid = "<chaos-%d-%d@test.example>" % (o.seed, n)
            self.msgs[n] = {
                "mid": mid, "n": n, "rcpts": rcpts,
                "data": build(rnd.choice(tpls), mid),
                "todo": list(rcpts), "accepted": {}, "refused": {},
                "gave_up": {}, "unknown": {}, "attempts": 0,
                "last": "",
            }
            # --rate: first attempts paced, n-th at t0 + (n-1)/rate
            t = t0 + (n - 1) / o.rate if o.rate > 0 else 0.0
            heapq.heappush(self.heap, (t, n))

    def take(self):
        with self.cv:
            while True:
                if not self.heap:
                    if self.inflight == 0:
                        return None
                    self.cv.wait(0.5)
                    continue
                t, n = self.heap[0]
                now = time.monotonic()
                if t > now:
                    self.cv.wait(min(t - now, 0.5))
                    continue
                heapq.heappop(self.heap)
                self.inflight += 1
                return n

    def attempt(self, m):
        """One SMTP transaction for m's open recipients: returns
        (accepted, temp {rcpt: text}, perm {rcpt: text}, unknown)."""
        o = self.o
        todo = list(m["todo"])
        acc, temp, perm = [], {}, {}
        dot_sent = False
        try:
            s = smtplib.SMTP("127.0.0.1", o.port, timeout=o.timeout,
                             local_hostname="client.example.test")
            try:
                code, text = s.ehlo()
                if code != 250:
                    return [], dict.fromkeys(todo, "%d ehlo" % code), {}, None
                code, text = s.mail("news@example.com")
                if code != 250:
                    t = "%d %s" % (code, text.decode("utf-8", "replace"))
                    if code >= 500:
                        return [], {}, dict.fromkeys(todo, t), None
                    return [], dict.fromkeys(todo, t), {}, None
                ok = []
                for r in todo:
                    code, text = s.rcpt(r)
                    t = "%d %s" % (code, text.decode("utf-8", "replace"))
                    if code in (250, 251):
                        ok.append(r)
                    elif code >= 500:
                        perm[r] = t
                    else:
                        temp[r] = t
                if not ok:
                    s.rset()
                    return [], temp, perm, None
                code, text = s.docmd("DATA")
                if code != 354:
                    t = "%d %s" % (code, text.decode("utf-8", "replace"))
                    for r in ok:
                        (perm if code >= 500 else temp)[r] = t
                    return [], temp, perm, None
                data = re.sub(rb"(?m)^\.", b"..", m["data"])
                s.send(data + b".\r\n")
                dot_sent = True
                code, text = s.getreply()
                t = "%d %s" % (code, text.decode("utf-8", "replace"))
                if code == 250:
                    acc = ok
                else:
                    for r in ok:
                        (perm if code >= 500 else temp)[r] = t
                dot_sent = False
                try:
                    s.quit()
                except (smtplib.SMTPException, OSError):
                    pass
                return acc, temp, perm, None
            finally:
                s.close()
        except (smtplib.SMTPException, OSError, socket.timeout) as e:
            why = "%s: %s" % (type(e).__name__, e)
            if dot_sent:
                return acc, temp, perm, why
            rest = [r for r in todo if r not in perm]
            return [], dict.fromkeys(rest, why), perm, None

    def worker(self):
        o = self.o
        while True:
            n = self.take()
            if n is None:
                return
            m = self.msgs[n]
            m["attempts"] += 1
            acc, temp, perm, unknown = self.attempt(m)
            for r in acc:
                m["accepted"][r] = m["attempts"]
            m["refused"].update(perm)
            if unknown is not None:
                for r in m["todo"]:
                    if r not in m["refused"]:
                        m["unknown"][r] = unknown
                m["todo"] = []
            else:
                m["todo"] = [r for r in m["todo"] if r in temp]
                if temp:
                    m["last"] = next(iter(temp.values()))
            if m["todo"] and m["attempts"] >= o.attempts:
                for r in m["todo"]:
                    m["gave_up"][r] = m["last"]
                m["todo"] = []
            with self.cv:
                if m["todo"]:
                    delay = min(0.5 * m["attempts"], o.max_backoff)
                    heapq.heappush(self.heap,
                                   (time.monotonic() + delay, n))
                else:
                    rec = {k: m[k] for k in ("mid", "n", "rcpts", "accepted",
                                             "refused", "gave_up", "unknown",
                                             "attempts")}
                    self.ledger.write(json.dumps(rec) + "\n")
                    self.ledger.flush()
                    self.settled += 1
                    if self.settled == max(1, int(o.count * o.calm_at)):
                        open(o.calm, "w").close()
                self.inflight -= 1
                self.cv.notify_all()

    def run(self):
        ts = [threading.Thread(target=self.worker)
              for _ in range(self.o.clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.ledger.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--people", required=True)
    ap.add_argument("--ledger", required=True)
    ap.add_argument("--calm", required=True)
    ap.add_argument("--calm-at", type=float, default=0.9)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--attempts", type=int, default=40)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--max-backoff", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=0,
                    help="first attempts per second (0: as fast as it goes)")
    ap.add_argument("--templates", nargs="+", required=True)
    o = ap.parse_args()
    Sender(o).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
