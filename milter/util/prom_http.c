/*
 * prom_http.c - GET /metrics over HTTP with libmicrohttpd (prom.h).
 *
 * One polling thread, short timeouts, room for more connections than a
 * scraper ever opens: a scrape is one small GET from the local monitoring
 * agent, and an idle client that never sends must not keep it out (it
 * is closed after PROM_TIMEOUT; until then PROM_CONN_LIMIT - 1 others
 * still get in).  The idle timeout is all libmicrohttpd 0.9.75 times: a
 * client that sends a header line every few seconds would hold its slot
 * for ever, so each request also has request_secs seconds (the config's
 * HTTPRequestTimeout, default 10) from the accept (or the previous
 * answer) to arrive whole (http_conns.h, as for optin-unsubd's pages).  A
 * NUL byte in the request line is a 400 (the handler would see the URL
 * cut at it: "/metrics\0x" as "/metrics").
 * libmicrohttpd's own messages (a client that went away, the connection
 * limit) are debug lines of our log, never stderr.  The threads (MHD's,
 * the deadline reaper) are started with every signal blocked, so SIGTERM
 * and SIGUSR1 keep going to the threads that take them (libmilter's
 * signal thread, the reload thread).
 * Ownership: the server owns its MHD daemon and its deadline table; each
 * answer is rendered into a fresh buffer that MHD frees.
 */
#include "autoconf.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "http_conns.h"
#include "httpuri.h"
#include "log.h"
#include "prom.h"

#define PROM_CONN_LIMIT	64
#define PROM_TIMEOUT		5	/* seconds a connection may stay idle */

struct prom_server {
	struct MHD_Daemon *mhd;		/* owned */
	struct http_conns *conns;	/* owned: request deadlines */
	const char *key;		/* config key, for the log; static */
	prom_render_fn *render;
	void *arg;			/* borrowed from the caller */
};

/* answer_text - queue a small static answer */
static enum MHD_Result
answer_text(struct MHD_Connection *conn, unsigned int status,
    const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(r, "Content-Type", "text/plain");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, "Allow", "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * The first *req_cls of a request, set by prom_uri_log: a request line
 * whose URI a NUL of the client's cut short, or a sound one.
 */
static char req_nul, req_new;

/* prom_uri_log - MHD_OPTION_URI_LOG_CALLBACK: &req_nul when a NUL of the
 * client's cut the URI short (http_uri_cut), else &req_new */
static void *
prom_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	return http_uri_cut(uri) ? &req_nul : &req_new;
}

/* prom_handler - MHD access handler: /metrics, rendered anew */
static enum MHD_Result
prom_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **req_cls)
{
	struct prom_server *ms = cls;
	struct MHD_Response *r;
	struct buf b = { NULL, 0, 0 };
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	if (*req_cls == &req_nul) {
		http_conns_busy(ms->conns, conn, true);
		return answer_text(conn, MHD_HTTP_BAD_REQUEST,
		    "bad request\n");
	}
	if (*req_cls == &req_new) {	/* headers only: wait for the rest */
		*req_cls = ms;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0;	/* a body is ignored */
		return MHD_YES;
	}
	/* the request is here: no deadline while it is answered */
	http_conns_busy(ms->conns, conn, true);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	if (strcmp(url, PROM_PATH) != 0)
		return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	if (ms->render(&b, ms->arg) < 0 || buf_puts(&b, "") < 0) {
		buf_free(&b);
		return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n");
	}
	r = MHD_create_response_from_buffer(b.len, b.data,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		buf_free(&b);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, "Content-Type", PROM_CONTENT_TYPE);
	(void)MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* prom_completed - MHD_OPTION_NOTIFY_COMPLETED: the next request on this
 * connection has its own deadline */
static void
prom_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct prom_server *ms = cls;

	(void)req_cls;
	(void)toe;
	http_conns_busy(ms->conns, conn, false);
}

/* mhd_log - libmicrohttpd's own complaints go to our log, at debug level:
 * they are about single connections (a scraper that went away, the
 * connection limit), and a failed start is reported by prom_start */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct prom_server *ms = cls;
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("%s: %s", ms->key, line);
}

struct prom_server *
prom_start(const char *key, const char *spec, unsigned request_secs,
    prom_render_fn *render, void *arg, char *why, size_t whylen)
{
	struct prom_server *ms;
	struct sockaddr_storage ss;
	socklen_t sslen;
	sigset_t all, old;

	if (prom_addr_parse(spec, &ss, &sslen, why, whylen) < 0)
		return NULL;
	if ((ms = calloc(1, sizeof(*ms))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	ms->key = key;
	ms->render = render;
	ms->arg = arg;
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	if ((ms->conns = http_conns_start(key, request_secs, why,
	    whylen)) == NULL) {
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
		free(ms);
		return NULL;
	}
	ms->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, prom_handler, ms,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, ms,
	    MHD_OPTION_URI_LOG_CALLBACK, prom_uri_log, ms,
	    MHD_OPTION_NOTIFY_CONNECTION, http_conns_notify, ms->conns,
	    MHD_OPTION_NOTIFY_COMPLETED, prom_completed, ms,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)PROM_CONN_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)PROM_TIMEOUT,
	    MHD_OPTION_END);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ms->mhd == NULL) {
		snprintf(why, whylen, "cannot serve on '%s' (address in use?)",
		    spec);
		http_conns_stop(&ms->conns);
		free(ms);
		return NULL;
	}
	return ms;
}

struct prom_server *
prom_serve(const char *key, const char *spec, unsigned request_secs,
    prom_render_fn *render, void *arg)
{
	struct prom_server *ms;
	char why[256];

	if (spec == NULL)
		return NULL;
	if ((ms = prom_start(key, spec, request_secs, render, arg, why,
	    sizeof(why))) == NULL)
		log_err("%s: %s", key, why);
	else
		log_info("metrics on http://%s%s", spec, PROM_PATH);
	return ms;
}

void
prom_stop(struct prom_server **msp)
{
	struct prom_server *ms;

	if (msp == NULL || (ms = *msp) == NULL)
		return;
	MHD_stop_daemon(ms->mhd);
	http_conns_stop(&ms->conns);	/* after: no connection left */
	free(ms);
	*msp = NULL;
}
