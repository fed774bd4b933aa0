#!/usr/bin/python3
# tests/unsubd/slowstorm.py - a slowloris storm against optin-unsubd for
# tests/unsubd/run.sh.
#
#   slowstorm.py PORT READYFILE SECONDS
#
# Opens 32 connections from each of 127.0.0.2 .. 127.0.0.9 (256 in all:
# optin-unsubd's per-address limit from 8 addresses), sends the start of a
# request on each and then one more header byte per connection every
# second, so that no idle timeout ever fires.  Creates READYFILE once all
# are open, runs for SECONDS (bounded), and prints
#   "opened N closed_by_server M"
# M: connections the server closed (EOF or reset) while they trickled.
import os
import socket
import sys
import time

port, ready, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
socks = []
for a in range(2, 10):
    for _ in range(32):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.%d" % a, 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /u/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            s.setblocking(False)
            socks.append(s)
        except OSError:
            s.close()
opened = len(socks)
open(ready, "w").close()
closed = set()
end = time.monotonic() + secs
while time.monotonic() < end and len(closed) < opened:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        try:
            if s.recv(4096) == b"":
                closed.add(i)
                continue
        except BlockingIOError:
            pass
        except OSError:
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
