/*
 * http_conns.h - a deadline for every request of a libmicrohttpd server
 * (optin-unsubd's pages, the metrics endpoint of prom_http.c): slow
 * clients (slowloris: headers or body trickled a byte at a time, which
 * libmicrohttpd 0.9.75's idle timeout never ends) cannot hold a connection
 * slot longer than the deadline, per request.
 *
 * A request's clock starts when its connection is accepted, or when the
 * previous request on it was answered (keep-alive); its headers and body
 * must have arrived within the deadline.  While a request is being
 * answered (from its last handler call until its response is sent, also
 * while it waits for the writer) the clock is stopped.  A connection past
 * its deadline is shut down (shutdown(2) of its socket, so libmicrohttpd
 * closes it in its own thread) by a thread that looks once a second.
 *
 * Threads: the callbacks run in libmicrohttpd's threads, the reaper in its
 * own; the table is under one mutex.
 */
#ifndef OPTIN_HTTP_CONNS_H
#define OPTIN_HTTP_CONNS_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct http_conns;		/* opaque */

/* Start the table and its reaper thread; NULL with why[] filled.
 * request_secs: the deadline of each request.  key: prefix of the log line
 * "closed N connections that sent no complete request within S s" (info;
 * a static string, the config key), or NULL for none. */
struct http_conns *http_conns_start(const char *key, unsigned request_secs,
	    char *why, size_t whylen);

/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the table): enter a
 * connection when it starts, remove it when it closes. */
void http_conns_notify(void *cls, struct MHD_Connection *c,
	    void **socket_context, enum MHD_ConnectionNotificationCode toe);

/* The request on c is complete and being answered (busy: clock stopped),
 * or has been answered (!busy: the next request's clock starts now). */
void http_conns_busy(struct http_conns *t, struct MHD_Connection *c,
	    bool busy);

/* Stop the reaper and free the table (after the server has stopped: no
 * connection left).  Accepts NULL; sets *tp to NULL. */
void http_conns_stop(struct http_conns **tp);

#endif
