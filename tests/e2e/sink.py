#!/usr/bin/python3
# sink.py - SMTP sink for the end-to-end tests: accepts mail on 127.0.0.1 and
# stores each transaction as its own file, byte for byte as received.
#
# smtp-sink(1) from Postfix can dump transactions, but it rewrites line endings
# to LF and appends an empty line, so the body bytes a DKIM verifier needs are
# lost.  This sink keeps them: each file is
#
#   X-Sink-From: <sender>            (<> for the null sender)
#   X-Sink-Rcpt: <recipient>         (one line per accepted RCPT, in order)
#   X-Sink-Mail-Args: ...            (MAIL FROM parameters, only when present)
#   <the message exactly as received: CRLF line ends, dot-stuffing undone>
#
# The X-Sink lines end in CRLF too, so the whole file reads as one message.
# Files are named NNNNNN.msg (a counter), written to a temporary name and
# renamed when complete, before the 250 reply to the final dot: once the
# client has its 250 the file is there.
#
# Threads: one per connection (socketserver); a lock guards the counter.
# Knobs for failure tests: --reject-rcpt / --tempfail-rcpt REGEX answer RCPT
# with 550 / 450 for matching addresses; --reply-rcpt 'REGEX=REPLY' (may be
# repeated) answers with any scripted reply line.
#
# Usage: sink.py --dir DIR [--port N] [--portfile FILE] [--listen ADDR]
#        (port 0, the default, picks a free port and writes it to --portfile)

import argparse
import os
import re
import signal
import socketserver
import sys
import threading

MAXLINE = 1 << 20


class Sink(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, handler, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.seq = 0
        super().__init__(addr, handler)

    def next_name(self):
        with self.lock:
            self.seq += 1
            return "%06d.msg" % self.seq


def angle(arg):
    """Return the <address> part of a MAIL/RCPT argument and the rest."""
    arg = arg.strip()
    m = re.match(r"<([^>]*)>\s*(.*)$", arg)
    if m:
        return m.group(1), m.group(2)
    parts = arg.split(None, 1)
    return (parts[0] if parts else ""), (parts[1] if len(parts) > 1 else "")


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def reset(self):
        self.sender = None
        self.mail_args = ""
        self.rcpts = []

    def log(self, text):
        sys.stderr.write("sink: %s\n" % text)
        sys.stderr.flush()

    def handle(self):
        opts = self.server.opts
        self.reset()
        self.reply("220 sink.example.test ESMTP test sink")
        while True:
            line = self.rfile.readline(MAXLINE)
            if not line:
                return
            cmdline = line.rstrip(b"\r\n").decode("utf-8", "replace")
            verb = cmdline[:4].upper()
            rest = cmdline[4:]
            if verb == "EHLO":
                self.reply("250-sink.example.test")
                self.reply("250-PIPELINING")
                self.reply("250-SIZE 104857600")
                self.reply("250-8BITMIME")
                self.reply("250-SMTPUTF8")
                self.reply("250 ENHANCEDSTATUSCODES")
            elif verb == "HELO":
                self.reply("250 sink.example.test")
            elif verb == "MAIL" and rest.upper().startswith(" FROM:"):
                self.reset()
                self.sender, self.mail_args = angle(rest[6:])
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT" and rest.upper().startswith(" TO:"):
                if self.sender is None:
                    self.reply("503 5.5.1 Error: need MAIL command")
                    continue
                addr, _ = angle(rest[4:])
                scripted = [r for rx, r in opts.reply_rcpt
                            if re.search(rx, addr)]
                if scripted:
                    self.reply(scripted[0].replace("%a", addr))
                elif opts.reject_rcpt and re.search(opts.reject_rcpt, addr):
                    self.reply("550 5.1.1 <%s>: rejected by sink" % addr)
                elif opts.tempfail_rcpt and re.search(opts.tempfail_rcpt, addr):
                    self.reply("450 4.2.0 <%s>: deferred by sink" % addr)
                else:
                    self.rcpts.append(addr)
                    self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if not self.rcpts:
                    self.reply("554 5.5.1 Error: no valid recipients")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = self.read_data()
                if data is None:
                    return
                name = self.store(data)
                self.log("stored %s from=<%s> rcpt=%s" %
                         (name, self.sender, ",".join(self.rcpts)))
                self.reply("250 2.0.0 Ok: stored as %s" % name)
                self.reset()
            elif verb == "RSET":
                self.reset()
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")

    def read_data(self):
        out = []
        while True:
            line = self.rfile.readline(MAXLINE)
            if not line:
                return None
            if line == b".\r\n":
                return b"".join(out)
            if line.startswith(b"."):
                line = line[1:]
            out.append(line)

    def store(self, data):
        srv = self.server
        name = srv.next_name()
        head = "X-Sink-From: <%s>\r\n" % self.sender
        for r in self.rcpts:
            head += "X-Sink-Rcpt: <%s>\r\n" % r
        if self.mail_args:
            head += "X-Sink-Mail-Args: %s\r\n" % self.mail_args
        tmp = os.path.join(srv.opts.dir, ".tmp-" + name)
        with open(tmp, "wb") as f:
            f.write(head.encode("utf-8"))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(srv.opts.dir, name))
        return name


def main():
    ap = argparse.ArgumentParser(description="SMTP sink for e2e tests")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--portfile")
    ap.add_argument("--reject-rcpt")
    ap.add_argument("--tempfail-rcpt")
    # REGEX=REPLY: answer RCPT for matching addresses with REPLY (a whole
    # SMTP reply line, %a for the address); first match wins
    ap.add_argument("--reply-rcpt", action="append", default=[],
                    type=lambda v: tuple(v.split("=", 1)))
    opts = ap.parse_args()
    os.makedirs(opts.dir, exist_ok=True)
    srv = Sink((opts.listen, opts.port), Handler, opts)
    port = srv.server_address[1]
    if opts.portfile:
        tmp = opts.portfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, opts.portfile)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    sys.stderr.write("sink: listening on %s:%d, storing in %s\n" %
                     (opts.listen, port, opts.dir))
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
