#!/usr/bin/python3
# smtp_raw.py - one SMTP transaction with every MAIL and RCPT argument sent
# exactly as given (swaks and smtplib put their own <> around addresses, so
# source routes, missing brackets and odd quoting cannot be sent with them).
#
# Usage: smtp_raw.py PORT MAIL-ARG FILE RCPT-ARG...
#   e.g. smtp_raw.py 2525 '<news@example.com>' msg.eml \
#            '<ann@example.com>' '<@relay.example:bob@example.com>'
# FILE is sent as DATA (LF made CRLF, dots stuffed).  The transcript goes
# to standard output ("> " client, "< " server); the last line is
# "result: queued QUEUEID", "result: refused CODE" or "result: no recipient".
# Exit 0 when the message was queued.

import socket
import sys


def main():
    port, mail, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    rcpts = sys.argv[4:]
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    r = s.makefile("rb")

    def reply():
        lines = []
        while True:
            line = r.readline().decode("utf-8", "replace").rstrip("\r\n")
            print("< " + line)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines[-1][:3], lines[-1]

    def cmd(text):
        print("> " + text)
        s.sendall(text.encode("utf-8") + b"\r\n")
        return reply()

    reply()
    cmd("EHLO client.example.test")
    cmd("MAIL FROM:" + mail)
    ok = sum(cmd("RCPT TO:" + a)[0] == "250" for a in rcpts)
    result = "result: no recipient"
    if ok and cmd("DATA")[0] == "354":
        data = open(path, "rb").read().replace(b"\r\n", b"\n")
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                       for l in lines)
        s.sendall(out + b".\r\n")
        code, last = reply()
        if code == "250" and "queued as " in last:
            result = "result: queued " + last.split("queued as ")[1].split()[0]
        else:
            result = "result: refused " + code
    cmd("QUIT")
    print(result)
    return 0 if result.startswith("result: queued") else 1


if __name__ == "__main__":
    sys.exit(main())
