#!/usr/bin/python3
"""symlist.py - negotiate with the filter on a unix socket as an MTA
would (milter protocol 6, the SMFIC_OPTNEG packet) and print what it
asked for: "actions 0x..." then one "STAGE=NAMES" line per macro list
(SMFIM_* number), in the order sent.

  symlist.py SOCKET sym      offer every action, SMFIF_SETSYMLIST too
  symlist.py SOCKET nosym    offer every action but SMFIF_SETSYMLIST
"""
import socket
import struct
import sys

SMFIF_SETSYMLIST = 0x100


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise SystemExit("symlist.py: filter closed the connection")
        buf += chunk
    return buf


def main():
    path, mode = sys.argv[1], sys.argv[2]
    actions = 0x1FF if mode == "sym" else 0x1FF & ~SMFIF_SETSYMLIST
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    body = b"O" + struct.pack(">III", 6, actions, 0x1FFFFF)
    s.sendall(struct.pack(">I", len(body)) + body)
    (n,) = struct.unpack(">I", read_exact(s, 4))
    reply = read_exact(s, n)
    if reply[:1] != b"O" or n < 13:
        raise SystemExit("symlist.py: not an SMFIC_OPTNEG reply: %r" % reply)
    _, acts, _ = struct.unpack(">III", reply[1:13])
    print("actions 0x%x" % acts)
    rest = reply[13:]
    while rest:
        (where,) = struct.unpack(">I", rest[:4])
        end = rest.index(b"\0", 4)
        print("%d=%s" % (where, rest[4:end].decode()))
        rest = rest[end + 1:]
    s.close()


main()
