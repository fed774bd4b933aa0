#!/usr/bin/python3
"""milter_reply.py SOCKET QID SENDER RCPT - the milter's answer to end of
headers, for t-milter.sh.

miltertest shows only that a reply code came (SMFIR_REPLYCODE) at end of
headers; its code and text are kept for end of message only.  This client
speaks the milter protocol (version 6) over the unix socket SOCKET, plays
one campaign message up to end of headers and prints the answer to end of
headers on one line: "continue", "reply CODE XCODE TEXT" (SMFIR_REPLYCODE),
or the reply letter.  Exit 0, or 1 on a protocol error."""
import socket
import struct
import sys

SMFIP_NR = {  # no-reply flags of the protocol mask, per command
    b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
    b"L": 0x80, b"N": 0x40000,
}
SMFIP_NO = {b"C": 0x1, b"H": 0x2, b"M": 0x4, b"R": 0x8, b"L": 0x20,
            b"N": 0x40}


def send(s, cmd, data=b""):
    s.sendall(struct.pack("!I", len(data) + 1) + cmd + data)


def recv(s):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError("milter closed the connection")
            buf += chunk
        return buf
    n = struct.unpack("!I", exact(4))[0]
    pkt = exact(n)
    return pkt[:1], pkt[1:]


def reply(s):
    while True:
        cmd, data = recv(s)
        if cmd != b"p":  # progress
            return cmd, data


def main():
    path, qid, sender, rcpt = sys.argv[1:5]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    send(s, b"O", struct.pack("!III", 6, 0x1ff, 0x1fffff))
    cmd, data = recv(s)
    if cmd != b"O" or len(data) < 12:
        print("bad option negotiation: %r" % cmd)
        return 1
    proto = struct.unpack("!III", data[:12])[2]

    def step(cmd, data):
        """send one command; its reply, or None"""
        if proto & SMFIP_NO.get(cmd, 0):
            return None
        send(s, cmd, data)
        if proto & SMFIP_NR.get(cmd, 0):
            return None
        return reply(s)

    def z(*parts):
        return b"".join(p.encode() + b"\0" for p in parts)

    steps = [
        (b"C", b"app.example.net\0" + b"4" + struct.pack("!H", 25) +
         b"192.0.2.50\0"),
        (b"H", z("app.example.net")),
        (b"M", z("<%s>" % sender)),
        (b"R", z("<%s>" % rcpt)),
    ]
    headers = [("From", "News <news@example.com>"),
               ("To", "ann@example.com"), ("Subject", "November news"),
               ("X-Campaign-ID", "nov-2026")]
    for cmd, data in steps:
        if cmd == b"M":
            send(s, b"D", b"M" + z("i", qid))
        r = step(cmd, data)
        if r is not None and r[0] != b"c":
            print("%s answered %r" % (cmd.decode(), r))
            return 1
    for name, value in headers:
        r = step(b"L", z(name, " " + value))
        if r is not None and r[0] != b"c":
            print("header answered %r" % (r,))
            return 1
    r = step(b"N", b"")
    if r is None:
        print("no reply to end of headers (SMFIP_NR_EOH)")
        return 1
    if r[0] == b"c":
        print("continue")
    elif r[0] == b"y":
        print("reply " + r[1].rstrip(b"\0").decode("utf-8", "replace"))
    else:
        print(r[0].decode())
    send(s, b"A")
    send(s, b"Q")
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
