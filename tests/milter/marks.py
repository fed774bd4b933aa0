#!/usr/bin/python3
"""marks.py - the marks of milter/core/mark.c, written again from mark.h
for the tests: an independent maker of erased forms and of release and
split markers (also expired ones), so that a test can forge what an
attacker or an old version would have.

  marks.py erased  KEYFILE ID ADDR            "erased:ID:HEX"
  marks.py legacy  KEYFILE ID ADDR            "hmac:HEX" (before
                                               ErasureKeyFile)
  marks.py release KEYFILE ID QID ROW LIST ISSUED EXPIRES SENDER RCPT
                   MESSAGE-ID BODYFILE        the X-Optin-Release value
  marks.py split   ... as release, ROW 0      the X-Optin-Split value

KEYFILE has the TokenKeyFile format ("ID BASE64KEY" a line); ID picks
the key.  ISSUED and EXPIRES may be "now", "now+N" or "now-N" (seconds).
"""
import base64
import hashlib
import hmac
import struct
import sys
import time

LABELS = {
    "erasure": b"optin-milter mark v2 erasure",
    "release": b"optin-milter mark v2 release",
    "split": b"optin-milter mark v2 split",
    "legacy": b"optin split mark",
}


def key(path, kid):
    """the raw key with id kid from a key file"""
    for line in open(path):
        f = line.split()
        if len(f) >= 2 and not f[0].startswith("#") and f[0] == str(kid):
            return base64.b64decode(f[1])
    sys.exit("marks.py: no key %s in %s" % (kid, path))


def subkey(k, purpose):
    """HKDF-SHA256 (RFC 5869), no salt, 32 octets"""
    prk = hmac.new(b"\0" * 32, k, hashlib.sha256).digest()
    return hmac.new(prk, LABELS[purpose] + b"\x01", hashlib.sha256).digest()


def when(s):
    if s.startswith("now"):
        return int(time.time()) + (int(s[3:]) if len(s) > 3 else 0)
    return int(s)


def field(b):
    return struct.pack(">I", len(b)) + b


def marker(purpose, k, qid, row, lst, issued, expires, sender, rcpt,
           msgid, body):
    data = b"".join(field(x) for x in (
        LABELS[purpose], qid.encode(), str(row).encode(), lst.encode(),
        str(issued).encode(), str(expires).encode(), sender.encode(),
        rcpt.encode(),
        hashlib.sha256(msgid.strip(" \t\r\n").encode()).digest(),
        hashlib.sha256(body).digest()))
    mac = hmac.new(subkey(k, purpose), data, hashlib.sha256).hexdigest()
    return "v=2; q=%s; id=%s; t=%d; x=%d; list=%s; mac=%s" % (
        qid, row, issued, expires, lst, mac)


def main(a):
    if len(a) == 4 and a[0] in ("erased", "legacy"):
        purpose = "erasure" if a[0] == "erased" else "legacy"
        mac = hmac.new(subkey(key(a[1], a[2]), purpose), a[3].encode(),
                       hashlib.sha256).hexdigest()
        print("erased:%s:%s" % (a[2], mac) if a[0] == "erased"
              else "hmac:" + mac)
    elif len(a) == 12 and a[0] in ("release", "split"):
        body = open(a[11], "rb").read()
        print(marker(a[0], key(a[1], a[2]), a[3], a[4], a[5], when(a[6]),
                     when(a[7]), a[8], a[9], a[10], body))
    else:
        sys.exit(__doc__)


main(sys.argv[1:])
