/*
 * quickack.h - no delayed-ACK stall on inet: milter sockets.
 *
 * The MTA writes a macro packet and then a command packet without waiting
 * for an answer in between; with Nagle's algorithm on the MTA's side the
 * command waits for our ACK of the macro, and Linux delays that ACK by
 * 40 ms on an interactive connection: measured through Postfix on loopback
 * TCP, 60 ms per message against 14 ms on a unix socket.  Once enabled,
 * every read(2) of an MTA connection that returns data is followed by
 * TCP_QUICKACK on that descriptor, which sends the pending ACK at once.
 * libmilter does its socket reads with read(2) and exposes no descriptor,
 * so read is interposed: sockread.c calls quickack_note() after every
 * read(2) of an MTA connection (a descriptor accept(2) returned) that
 * returned data; no other descriptor.  Thread-safe.
 */
#ifndef OPTIN_QUICKACK_H
#define OPTIN_QUICKACK_H

/* Enable the behaviour (call before serving; inet sockets only). */
void quickack_enable(void);

/* After a read(2) of fd returned data: TCP_QUICKACK on it when enabled
 * (called by the read interposer in sockread.c). */
void quickack_note(int fd);

#endif
