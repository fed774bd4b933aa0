#!/usr/bin/python3
"""dkim_verify.py - verify DKIM signatures with dkimpy, an independent
verifier, for tests/unit/test_dkimsign.

Usage: dkim_verify.py RECORDS [N [FILE...]]   (no FILE: the message on stdin)

RECORDS is a file of DNS TXT records, one per line: "name<TAB>text"
(name like "sel._domainkey.example.com").  The first N DKIM-Signature
header fields of each message (default 1; the ones the test prepended) are
verified with dkimpy using only these records, never live DNS.
Prints per message "== NAME", one line per signature ("sig I: ok d=...
s=... a=..." or "sig I: FAIL ...") and "RESULT NAME ok" or "RESULT NAME
FAIL" (NAME is the file, or "-" for stdin).  Exits 0 only when every
message has at least N signatures and all N verify; 1 when one fails; 2 on
usage or setup errors.  Several files in one run save interpreter start-ups.
Run with /usr/bin/python3: Ed25519 needs Debian's python3-nacl.
"""

import re
import sys

try:
    import dkim
except ImportError as e:
    print("dkim_verify: dkimpy missing (apt install python3-dkim): %s" % e)
    sys.exit(2)


def load_records(path):
    recs = {}
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if not line or line.startswith(b"#"):
                continue
            name, _, txt = line.partition(b"\t")
            recs[name.strip().lower().rstrip(b".")] = txt.strip()
    return recs


def verify_msg(msg, want, dnsfunc):
    """Verify the first want signatures of msg; True when all pass."""
    d = dkim.DKIM(msg)
    nsig = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
    if nsig < want:
        print("dkim_verify: %d signature(s), want %d" % (nsig, want))
        return False
    bad = 0
    for i in range(want):
        d = dkim.DKIM(msg)
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
            err = ""
        except dkim.DKIMException as e:
            ok, err = False, str(e)
        sig = getattr(d, "signature_fields", None) or {}
        tags = " ".join("%s=%s" % (k, sig.get(k.encode(), b"?").decode(
            "ascii", "replace")) for k in ("d", "s", "a"))
        if ok:
            print("sig %d: ok %s" % (i, tags))
        else:
            bad += 1
            print("sig %d: FAIL %s %s" % (i, tags, re.sub(r"\s+", " ",
                                                          err)))
    return bad == 0


def main():
    if len(sys.argv) < 2:
        print("usage: dkim_verify.py RECORDS [N [FILE...]] < message")
        return 2
    want = int(sys.argv[2]) if len(sys.argv) >= 3 else 1
    recs = load_records(sys.argv[1])

    def dnsfunc(name, timeout=5):
        if isinstance(name, str):
            name = name.encode()
        return recs.get(name.lower().rstrip(b"."))

    files = sys.argv[3:] or ["-"]
    allok = True
    for f in files:
        if f == "-":
            msg = sys.stdin.buffer.read()
        else:
            with open(f, "rb") as fp:
                msg = fp.read()
        print("== %s" % f)
        ok = verify_msg(msg, want, dnsfunc)
        print("RESULT %s %s" % (f, "ok" if ok else "FAIL"))
        allok = allok and ok
    return 0 if allok else 1


if __name__ == "__main__":
    sys.exit(main())
