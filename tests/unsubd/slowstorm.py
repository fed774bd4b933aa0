#!/usr/bin/python3
# tests/unsubd/slowstorm.py - a slowloris storm against optin-unsubd for
# tests/unsubd/run.sh.
#
#   slowstorm.py PORT READYFILE SECONDS
#
# Opens 32 connections from each of 127.0.0.2 .. 127.0.0.9 (256 in all:
# optin-unsubd's per-address limit from 8 addresses), sends the start of a
# request on each and then one more header byte per connection every
# second, so that no idle timeout ever fires.  Connections the server
# closes at once are opened again (40 rounds at most).  Creates READYFILE
# once they are open, runs for SECONDS (bounded), and prints
#   "opened N closed_by_server M"
# N: connections open at READYFILE; M: of those, the ones the server
# closed (EOF or reset) while they trickled.
import os
import socket
import sys
import time

port, ready, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
HELLO = b"GET /u/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def slow_conn(addr):
    """One trickling connection from addr, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((addr, 0))
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(HELLO)
        s.setblocking(False)
        return s
    except OSError:
        s.close()
        return None


def gone(s):
    """Has the server closed s?"""
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


# Like a real attacker, open again what the server closed at once (a
# full server accepts and closes), for a few rounds, until all 256 stay.
socks = [None] * 256
for _ in range(40):
    for i in range(256):
        if socks[i] is None:
            socks[i] = slow_conn("127.0.0.%d" % (2 + i // 32))
    time.sleep(0.3)
    for i in range(256):
        if socks[i] is not None and gone(socks[i]):
            socks[i].close()
            socks[i] = None
    if all(s is not None for s in socks):
        break
socks = [s for s in socks if s is not None]
opened = len(socks)
open(ready, "w").close()
closed = set()
end = time.monotonic() + secs
while time.monotonic() < end and len(closed) < opened:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        if gone(s):
            closed.add(i)
            continue
        try:
            s.send(b"a")
        except OSError:
            closed.add(i)
    time.sleep(1)
for s in socks:
    s.close()
print("opened %d closed_by_server %d" % (opened, len(closed)))
