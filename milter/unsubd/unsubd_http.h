/*
 * unsubd_http.h - optin-unsubd's HTTP server: request life cycle and routes
 * (DESIGN "One-click unsubscribe (optin-unsubd)").
 *
 * Routes:
 *   POST /u/TOKEN   RFC 8058 one-click (body List-Unsubscribe=One-Click as
 *                   urlencoded, multipart, text/plain, or empty): the token
 *                   alone; or the page's form (action=list|all&csrf=M)
 *                   past the guard (unsubd_guard.h): opt out, 200,
 *                   idempotent
 *   GET|HEAD /u/TOKEN   the page with the buttons; never changes state
 *   GET|HEAD /p/TOKEN   preferences: every list of the address
 *   POST /p/TOKEN   list=L&action=opt_out|opt_in&csrf=M past the guard;
 *                   opt_in gives pending on a double opt-in list
 * Anything else: 404; other methods on those routes: 405 with Allow; a
 * form that fails the guard: 403.
 *
 * Refused with 400 before any route: a Content-Length that is repeated,
 * folded or not plain digits, or sent with Transfer-Encoding (RFC 9112
 * §6.3: request smuggling); %00 anywhere in the path.
 *
 * Threads: libmicrohttpd runs the handlers in a pool of UNSUBD_THREADS
 * threads (epoll where there is one); each opens its own store handle on
 * first use (pthread key, closed when the thread ends) and only reads.
 * Every write goes to the one writer thread (unsubd_writer.h) with the
 * connection suspended, so a locked database never holds an HTTP thread.
 * Each request must arrive within the config's HTTPRequestTimeout
 * (http_conns.h).
 * The config and token ring are borrowed read-only and must outlive the
 * server.
 */
#ifndef OPTIN_UNSUBD_HTTP_H
#define OPTIN_UNSUBD_HTTP_H

#include <stddef.h>

struct config;
struct token_ring;
struct unsubd;			/* opaque */

/* Limits (see optin-unsubd(8)). */
#define UNSUBD_BODY_MAX		8192	/* request body bytes, else 413 */
#define UNSUBD_THREADS		4	/* handler threads */
#define UNSUBD_CONN_LIMIT	1000	/* concurrent connections */
#define UNSUBD_PER_IP_LIMIT	32	/* concurrent connections per address */
#define UNSUBD_TIMEOUT		10	/* idle seconds before a connection is
					   closed */
#define UNSUBD_MEMORY_LIMIT	(64 * 1024)	/* per connection */
#define UNSUBD_RETRY_AFTER	"60"	/* seconds, with 503 */

/*
 * Serve on listen_fd (bound and listening; the server owns it from now on,
 * also on failure).  cfg and ring are borrowed.  Returns the running server,
 * or NULL with why[] filled.
 */
struct unsubd *unsubd_http_start(const struct config *cfg,
	    const struct token_ring *ring, int listen_fd, char *why,
	    size_t whylen);

/* Stop serving (waits for the handler threads), close the listening
 * socket and every store handle.  Accepts NULL; sets *up to NULL. */
void unsubd_http_stop(struct unsubd **up);

/*
 * Reload (SIGUSR1): another server has started on a duplicate of the
 * listening socket; this one stops accepting (MHD_quiesce_daemon), answers
 * each further response with "Connection: close" and finishes the requests
 * under way with its own config and key ring.  Returns its listening
 * socket, which the caller closes after unsubd_http_stop(), or -1.
 */
int unsubd_http_quiesce(struct unsubd *u);

/* Connections the server holds open (0: a quiesced server is idle). */
unsigned int unsubd_http_connections(struct unsubd *u);

#endif
