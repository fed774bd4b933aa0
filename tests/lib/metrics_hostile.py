#!/usr/bin/python3
"""metrics_hostile.py PORT - hostile clients against a metrics endpoint
(milter/util/prom_http.c, served by optin-milter and optin-unsubd).

Prints one line per check, for the caller to compare exactly:
  nul: STATUS LINE           GET /metrics\\0x (a raw NUL in the target)
  nul at end: STATUS LINE    GET /metrics\\0
  8 idle: STATUS LINE        a scrape while 8 connections never send
  idle closed: True|...      one of those is closed by the server (waited
                             for up to 30 s; PROM_TIMEOUT is 5 s)
Then opens 70 more connections (past the connection limit, so that
libmicrohttpd complains), closes them all and scrapes until one answers
200 again (at most 5 s), so the complaint is in the log when it exits.
Every socket has a timeout: the script ends.
"""
import socket
import sys
import time

port = int(sys.argv[1])
END = b"Host: x\r\nConnection: close\r\n\r\n"


def ask(line):
    """the status line of the answer to request line LINE"""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(line + END)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError as e:
        out += b"error " + str(e).encode()
    s.close()
    return out.split(b"\r\n")[0].decode()


print("nul:", ask(b"GET /metrics\0x HTTP/1.1\r\n"))
print("nul at end:", ask(b"GET /metrics\0 HTTP/1.1\r\n"))
idle = [socket.create_connection(("127.0.0.1", port)) for i in range(8)]
print("8 idle:", ask(b"GET /metrics HTTP/1.1\r\n"))
idle[0].settimeout(30)
try:
    print("idle closed:", idle[0].recv(100) == b"")
except OSError as e:
    print("idle closed: no,", e)
more = []
for i in range(70):
    try:
        more.append(socket.create_connection(("127.0.0.1", port),
                                             timeout=5))
    except OSError:
        pass
time.sleep(1)               # held open: the server accepts past its limit
for c in idle + more:
    c.close()
for i in range(50):
    try:
        if ask(b"GET /metrics HTTP/1.1\r\n").endswith("200 OK"):
            break
    except OSError:
        pass
    time.sleep(0.1)
