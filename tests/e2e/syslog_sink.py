#!/usr/bin/python3
# syslog_sink.py - a stand-in for the syslog daemon: bind a datagram unix
# socket at PATH (the test bind-mounts it on /dev/log in the milter's mount
# namespace) and append every datagram, as sent ("<PRI>Mmm dd hh:mm:ss
# ident[pid]: text"), one a line, to OUT.  Stops after LIFETIME seconds
# [300] or when its parent is gone.
# Usage: syslog_sink.py PATH OUT [LIFETIME]

import os
import socket
import sys
import time


def main():
    path, out = sys.argv[1], sys.argv[2]
    end = time.time() + (int(sys.argv[3]) if len(sys.argv) > 3 else 300)
    parent = os.getppid()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    s.settimeout(0.5)
    with open(out, "ab", 0) as f:
        while time.time() < end and os.getppid() == parent:
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            f.write(d.rstrip(b"\n") + b"\n")
    os.unlink(path)


if __name__ == "__main__":
    main()
