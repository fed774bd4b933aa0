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
Last, 100 slow clients, each sending one header line every 3 s (never
idle long enough for PROM_TIMEOUT), while a scraper keeps asking:
  100 slow: STATUS LINE      the first answer the scraper got (200 once
                             the first slow ones are closed, after
                             the server's HTTPRequestTimeout, 10 s by
                             default; it gives up at 20 s)
  slow closed: True|...      the first slow client was closed by the server
Every socket has a timeout: the script ends (in about 15 s).
"""
import socket
import sys
import threading
import time

port = int(sys.argv[1])
END = b"Host: x\r\nConnection: close\r\n\r\n"


def ask(line, wait=10):
    """the status line of the answer to request line LINE"""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
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


def served_again():
    """scrape until one answers 200 (at most 5 s): the server is back"""
    for i in range(50):
        try:
            if ask(b"GET /metrics HTTP/1.1\r\n").endswith("200 OK"):
                return
        except OSError:
            pass
        time.sleep(0.1)


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
served_again()

# --- 100 slow clients: a header line every 3 s each, for up to 20 s
slow = []
for i in range(100):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"GET /metrics HTTP/1.1\r\n")
        slow.append(c)
    except OSError:
        pass
got = []


def scraper():
    """ask until a 200 comes back, for at most 20 s (one wait may last
    that long: the request sits in the listen queue until a slot frees)"""
    end = time.monotonic() + 20
    last = "no answer"
    while time.monotonic() < end:
        try:
            last = ask(b"GET /metrics HTTP/1.1\r\n",
                       max(end - time.monotonic(), 0.1))
        except OSError as e:
            last = "error " + str(e)
        if last.endswith("200 OK"):
            break
        time.sleep(0.2)
    got.append(last)


t = threading.Thread(target=scraper)
t.start()
n = 0
while t.is_alive():
    t.join(3)
    n += 1
    for c in slow:
        try:
            c.sendall(b"X-Slow-%d: 1\r\n" % n)
        except OSError:
            pass
print("100 slow:", got[0])
slow[0].settimeout(5)
try:
    print("slow closed:", slow[0].recv(100) == b"")
except ConnectionResetError:
    print("slow closed: True")      # our later lines met the closed socket
except OSError as e:
    print("slow closed: no,", e)
for c in slow:
    c.close()
served_again()
