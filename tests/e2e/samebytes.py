#!/usr/bin/python3
"""samebytes.py - is a delivered copy byte for byte the submitted message,
apart from what the MTA and the milter may add or remove?  For
tests/e2e/t-samebytes.sh (DESIGN "Message flow" item 5).

Usage: samebytes.py [options] SUBMITTED DELIVERED
       samebytes.py --index SINKDIR

--index prints one line per message stored by sink.py and envelope
recipient: "MESSAGE-ID<TAB>RECIPIENT<TAB>FILE" (Message-ID unfolded, without
white space; recipient without <>), so that a test finds its copies with
one pass over the sink instead of one per message.

SUBMITTED is the message as handed to the MTA; it is compared in SMTP form:
every line end CRLF and a final CRLF added when missing (what pf_send puts
on the wire, and what Postfix's sendmail(1) makes of a file).  DELIVERED is
the message as stored by sink.py, with the X-Sink-* lines removed, or a
quarantine spool file.

Allowed differences:
  - at the top of DELIVERED, trace and signature fields the MTA or the
    milter put there (Received, DKIM-Signature), beyond the ones the
    submitted message itself starts with;
  - fields named with --removed are missing (the milter deletes them);
  - at the end of the header, fields named with --added (the milter adds
    them there), and From, Date, Message-ID when SUBMITTED has none (the
    MTA or the milter adds them).
  - fields Postfix drops from every message (message_drop_headers: Bcc,
    Content-Length, Resent-Bcc, Return-Path) are missing;
  - an empty line where the submitted header ends without one (Postfix
    cleanup inserts it).
Everything else - each header field's exact bytes, folds, tabs and empty
values included, the order of fields and every body octet - must be equal.  Prints "same" or the first difference; exits 0 when
equal, 1 when not, 2 on usage errors.
"""

import argparse
import os
import re
import sys

TOP = (b"received", b"dkim-signature")
MTA_ADDED = (b"from", b"date", b"message-id")
# Postfix's message_drop_headers default: removed from every message
MTA_DROPPED = (b"bcc", b"content-length", b"resent-bcc", b"return-path")


def crlf(data):
    """Line ends as SMTP sends them."""
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def split(data):
    """(header fields with their folds and CRLF, body).  The header ends at
    the empty line or at the first line that is not a field; the MTA puts
    an empty line there (Postfix cleanup does), so there is no separator
    to compare."""
    fields = []
    pos = 0
    field = re.compile(rb"[!-9;-~]+[ \t]*:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*")
    while True:
        m = field.match(data, pos)
        if m is None:
            break
        fields.append(m.group(0))
        pos = m.end()
    if data.startswith(b"\r\n", pos):
        pos += 2
    return fields, data[pos:]


def name(field):
    return field.split(b":", 1)[0].strip().lower()


def show(b):
    return repr(b[:160])


def index(sinkdir):
    """The --index listing of sinkdir."""
    for fn in sorted(os.listdir(sinkdir)):
        if not fn.endswith(".msg"):
            continue
        path = os.path.join(sinkdir, fn)
        data = open(path, "rb").read()
        rcpts, mid = [], b""
        fields, _ = split(data)
        for f in fields:
            n = name(f)
            v = b"".join(f.split(b":", 1)[1].split())
            if n == b"x-sink-rcpt":
                rcpts.append(v.strip(b"<>"))
            elif n == b"message-id" and not mid:
                mid = v
        for r in rcpts:
            sys.stdout.buffer.write(b"%s\t%s\t%s\n" % (mid, r,
                                                         path.encode()))
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--index":
        return index(sys.argv[2])
    ap = argparse.ArgumentParser()
    ap.add_argument("--removed", action="append", default=[])
    ap.add_argument("--added", action="append", default=[])
    ap.add_argument("submitted")
    ap.add_argument("delivered")
    o = ap.parse_args()
    removed = {n.lower().encode() for n in o.removed} | set(MTA_DROPPED)
    sub = crlf(open(o.submitted, "rb").read())
    dlv = open(o.delivered, "rb").read()
    sf, sbody = split(sub)
    df, dbody = split(dlv)
    subnames = {name(f) for f in sf}
    added = {n.lower().encode() for n in o.added}
    added |= {n for n in MTA_ADDED if n not in subnames}

    k = 0
    while k < len(sf) and name(sf[k]) in TOP:
        k += 1
    top = 0
    while top < len(df) and name(df[top]) in TOP:
        top += 1
    if top < k:
        print("delivered copy lost leading trace/signature fields")
        return 1
    df = df[top - k:]
    want = [f for f in sf if name(f) not in removed]
    for i, f in enumerate(want):
        if i >= len(df):
            print("field %d missing: %s" % (i, show(f)))
            return 1
        if df[i] != f:
            print("field %d differs:\n  want %s\n  got  %s" %
                  (i, show(f), show(df[i])))
            return 1
    for f in df[len(want):]:
        if name(f) not in added:
            print("unexpected field: %s" % show(f))
            return 1
    if sbody != dbody:
        i = next((j for j in range(min(len(sbody), len(dbody)))
                  if sbody[j] != dbody[j]), min(len(sbody), len(dbody)))
        print("body differs at octet %d of %d/%d:\n  want %s\n  got  %s" %
              (i, len(sbody), len(dbody), show(sbody[max(0, i - 20):]),
               show(dbody[max(0, i - 20):])))
        return 1
    print("same")
    return 0


if __name__ == "__main__":
    sys.exit(main())
