#!/usr/bin/python3
# pgcut.py - a TCP relay in front of a PostgreSQL server that cuts the
# connection at a client's COMMIT, for the tests of a connection lost at
# the end of a transaction (tests/ctl/t-copy-lost.sh).
#
# Usage: pgcut.py PORTFILE UPSTREAM_PORT MODE
#   Listens on 127.0.0.1 at a free port, written to PORTFILE once it
#   listens, and relays every connection to 127.0.0.1:UPSTREAM_PORT.  At
#   the first simple-protocol "COMMIT" a client sends (plain text: the
#   client must use sslmode=disable):
#     nocommit  the COMMIT is not passed on; both sides are closed (the
#               server rolls back)
#     noreply   the COMMIT is passed on and the server's reply read, but
#               not passed back; both sides are closed (the server has
#               committed, the client cannot know)
#     gone      the COMMIT and its answer are passed on, then both sides
#               are closed and no more connections accepted (the server
#               went away right after the commit)
#     early     the COMMIT is passed on and both sides closed at once,
#               before the server has answered (it may still be
#               committing when the client looks again)
#   Otherwise later connections are relayed as usual.  Exits after 120 s at the
#   latest (bounded: the suite also kills it by PID).

import os
import select
import socket
import sys
import threading
import time

COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"
READY = b"Z\x00\x00\x00\x05"	# ReadyForQuery: the answer is complete
cut = threading.Event()
gone = threading.Event()


def close(*socks):
    """close - shut sockets down, whatever their state"""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def serve(cli, upstream, mode):
    """serve - relay one client connection, both ways in one thread (the
    client waits for each answer, so the server's side is relayed before
    the client sends its COMMIT); cut it at the first COMMIT"""
    srv = socket.create_connection(("127.0.0.1", upstream), timeout=10)
    try:
        while True:
            r, _, _ = select.select([cli, srv], [], [], 60)
            if not r:
                break
            if srv in r:
                data = srv.recv(65536)
                if not data:
                    break
                cli.sendall(data)
            if cli in r:
                data = cli.recv(65536)
                if not data:
                    break
                if not cut.is_set() and COMMIT in data:
                    cut.set()
                    if mode == "early":
                        srv.sendall(data)
                    elif mode != "nocommit":
                        srv.sendall(data)
                        got = b""
                        while READY not in got:
                            more = srv.recv(65536)
                            if not more:
                                break
                            got += more
                        if mode == "gone":
                            cli.sendall(got)
                            gone.set()
                    break
                srv.sendall(data)
    except OSError:
        pass
    close(cli, srv)


def main():
    portfile, upstream, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode not in ("nocommit", "noreply", "gone", "early"):
        sys.exit("pgcut.py: bad mode " + mode)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.settimeout(1)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    end = time.time() + 120
    while time.time() < end:
        try:
            cli, _ = ls.accept()
        except socket.timeout:
            continue
        if gone.is_set():	# accepted meanwhile: closed at once
            close(cli)
            break
        threading.Thread(target=serve, args=(cli, upstream, mode),
                         daemon=True).start()
    ls.close()
    # gone: stay (refusing) until the suite kills us, bounded
    while time.time() < end:
        time.sleep(0.2)


main()
