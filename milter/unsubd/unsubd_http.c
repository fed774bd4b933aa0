/*
 * unsubd_http.c - request life cycle, responses and routing of optin-unsubd
 * (see unsubd_http.h for the routes; bodies are parsed by unsubd_form.c,
 * the routes' work is done in unsubd_act.c).
 *
 * Life cycle (libmicrohttpd, post_example.c): the first handler call for a
 * request sees only the headers and allocates a struct req in *req_cls;
 * unknown routes (404), wrong methods (405) and a Content-Length over
 * UNSUBD_BODY_MAX (413) are answered right there.  Body chunks are copied
 * into req->body up to UNSUBD_BODY_MAX; beyond that they are counted and
 * dropped (413 at the end, connection dropped after a hard cap).  The last
 * call (*upload_data_size == 0) routes the request.  http_completed() frees
 * the struct req, whatever happened.
 *
 * Rules kept here: only a POST reaches a route that writes (a GET or HEAD
 * never does: link scanners); only RFC 8058 one-click bodies skip the
 * guard (same origin and CSRF mark, unsubd_guard.h), every page form
 * passes it before any action runs; error pages say nothing about the
 * token or the store; no response sets a cookie or redirects.  A token is
 * never logged.
 *
 * Writes: a route that writes fills req->job and calls unsubd_submit(),
 * which suspends the connection and queues the job for the writer thread
 * (unsubd_writer.h); when the writer resumes the connection the handler is
 * called once more and answers from the job (unsubd_act_finish()).
 *
 * Hostile clients: the header checks of http_headers_bad() run on the
 * first call; http_unescape() keeps %00 in the path so that it is refused
 * instead of cutting the path short; http_conns.h bounds how long a
 * request may take to arrive; libmicrohttpd bounds connections (in all,
 * per address), idle time and memory per connection.
 *
 * Threads: handlers run in libmicrohttpd's thread pool; each thread has its
 * own store handle (pthread key, closed by the key's destructor when the
 * thread ends), for reads only.  struct unsubd is read-only while the
 * daemon runs, but for the writer's queue, the connection table and its
 * draining flag (atomic, set once by unsubd_http_quiesce).
 */
#include "autoconf.h"

#include "unsubd_http.h"
#include "unsubd_metrics.h"
#include "unsubd-private.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "config.h"
#include "httpuri.h"
#include "log.h"
#include "logaddr.h"
#include "store.h"
#include "token.h"
#include "http_conns.h"
#include "unsubd_guard.h"
#include "unsubd_pages.h"
#include "unsubd_writer.h"

_Static_assert(sizeof(((struct unsubd_form *)0)->csrf) >= UNSUBD_CSRF_MAX,
    "struct unsubd_form holds a CSRF mark");

/* After this many dropped body bytes the connection is closed. */
#define BODY_DISCARD_MAX	(256 * 1024)
#define ALLOW_METHODS		"GET, HEAD, POST"

/* http_mhd_log - libmicrohttpd's error messages into our log */
static void __attribute__((format(printf, 2, 0)))
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("microhttpd: %s", line);
}

/* http_store_destroy - pthread key destructor: close a thread's store */
static void
http_store_destroy(void *arg)
{
	struct store *st = arg;

	store_close(&st);
}

/* unsubd_store - this thread's store handle, opened on first use */
struct store *
unsubd_store(struct unsubd *u, enum store_status *ss_r, char *why,
    size_t whylen)
{
	struct store *st;

	if ((st = pthread_getspecific(u->store_key)) != NULL)
		return st;
	*ss_r = STORE_ERROR;
	st = store_open(u->cfg, 0, ss_r, why, whylen);
	if (st == NULL)
		return NULL;
	if (pthread_setspecific(u->store_key, st) != 0) {
		snprintf(why, whylen, "pthread_setspecific failed");
		store_close(&st);
		*ss_r = STORE_ERROR;
		return NULL;
	}
	return st;
}

/* unsubd_addr_log - the address as LogAddresses wants it in a log line
 * (logaddr.h: the one home, keyed with the token ring) */
const char *
unsubd_addr_log(const struct unsubd *u, const char *addr, char *out,
    size_t outlen)
{
	char tmp[LOGADDR_MAX];

	snprintf(out, outlen, "%s", logaddr(u->cfg->log_addresses, u->ring,
	    addr, tmp));
	return out;
}

/* unsubd_client - numeric peer address, user agent, forwarded-for */
void
unsubd_client(struct MHD_Connection *c, struct client *cl)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	const char *v;
	socklen_t salen;
	bool local = false;

	memset(cl, 0, sizeof(*cl));
	snprintf(cl->addr, sizeof(cl->addr), "unknown");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && (sa = ci->client_addr) != NULL) {
		salen = sa->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		if (getnameinfo(sa, salen, cl->addr, sizeof(cl->addr), NULL,
		    0, NI_NUMERICHOST) != 0)
			snprintf(cl->addr, sizeof(cl->addr), "unknown");
		if (sa->sa_family == AF_INET)
			local = (ntohl(((const struct sockaddr_in *)
			    (const void *)sa)->sin_addr.s_addr) >> 24) == 127;
		else if (sa->sa_family == AF_INET6)
			local = IN6_IS_ADDR_LOOPBACK(&((const struct
			    sockaddr_in6 *)(const void *)sa)->sin6_addr);
	}
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_USER_AGENT);
	(void)log_safe(v != NULL ? v : "", cl->agent, sizeof(cl->agent));
	/* Behind a reverse proxy on this host the peer is the proxy: keep
	 * what it says about the client as evidence, not as the address. */
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Forwarded-For");
	if (local && v != NULL)
		(void)log_safe(v, cl->fwd, sizeof(cl->fwd));
}

/* unsubd_respond - queue a page with the headers every response carries;
 * html is owned and freed by libmicrohttpd (NULL: out of memory) */
enum MHD_Result
unsubd_respond(struct unsubd *u, struct MHD_Connection *c, unsigned status,
    char *html, size_t len)
{
	static char fallback[] = "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>Error</title></head><body>"
	    "<p>Something went wrong. Nothing was changed.</p></body></html>\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;
	bool ok = true;

	if (html == NULL) {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		resp = MHD_create_response_from_buffer(strlen(fallback),
		    fallback, MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(len, html,
		    MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(html);
	}
	if (resp == NULL)
		return MHD_NO;
	ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/html; charset=utf-8") == MHD_YES;
	ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store") == MHD_YES;
	ok &= MHD_add_response_header(resp, "Referrer-Policy",
	    "no-referrer") == MHD_YES;
	/* replaced by a reload: no further request on this connection */
	if (__atomic_load_n(&u->draining, __ATOMIC_RELAXED))
		ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close") == MHD_YES;
	ok &= MHD_add_response_header(resp, "Content-Security-Policy",
	    unsubd_pages_csp(u->pages)) == MHD_YES;
	ok &= MHD_add_response_header(resp, "X-Content-Type-Options",
	    "nosniff") == MHD_YES;
	ok &= MHD_add_response_header(resp, "X-Frame-Options", "DENY") ==
	    MHD_YES;
	ok &= MHD_add_response_header(resp, "X-Robots-Tag", "noindex") ==
	    MHD_YES;
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    ALLOW_METHODS) == MHD_YES;
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		ok &= MHD_add_response_header(resp,
		    MHD_HTTP_HEADER_RETRY_AFTER, UNSUBD_RETRY_AFTER) ==
		    MHD_YES;
	if (!ok) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	unsubd_metrics_answer(status);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* unsubd_error - answer status with its generic page */
enum MHD_Result
unsubd_error(struct unsubd *u, struct MHD_Connection *c, unsigned status)
{
	size_t len = 0;
	char *html = unsubd_page_error(u->pages, (int)status, &len);

	return unsubd_respond(u, c, status, html, len);
}

/* unsubd_store_error - answer a failed store call: 503 when temporary */
enum MHD_Result
unsubd_store_error(struct unsubd *u, struct MHD_Connection *c,
    enum store_status ss, const char *what, const char *why)
{
	char safe[256];

	log_safe(why, safe, sizeof(safe));
	if (ss == STORE_TEMPFAIL) {
		log_warnx("store unavailable op=%s: %s", what, safe);
		return unsubd_error(u, c, MHD_HTTP_SERVICE_UNAVAILABLE);
	}
	log_err("store error op=%s: %s", what, safe);
	return unsubd_error(u, c, MHD_HTTP_INTERNAL_SERVER_ERROR);
}

/* unsubd_submit - suspend c and hand r->job to the writer */
enum MHD_Result
unsubd_submit(struct unsubd *u, struct MHD_Connection *c, struct req *r)
{
	r->job.conn = c;
	r->job.er = &u->er;
	MHD_suspend_connection(c);
	if (!unsubd_writer_submit(u->writer, &r->job)) {
		/* stopping: answer 503 when resumed */
		r->job.ss = STORE_TEMPFAIL;
		snprintf(r->job.why, sizeof(r->job.why), "shutting down");
		r->job.state = JOB_DONE;
		MHD_resume_connection(c);
	}
	return MHD_YES;
}

/* Counts of the request headers that frame the body. */
struct framing {
	unsigned clen, te;
	bool clen_bad, folded;
};

/* http_framing_count - MHD_get_connection_values() iterator */
static enum MHD_Result
http_framing_count(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing *f = cls;
	size_t n;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->clen++;
		n = value != NULL ? strlen(value) : 0;
		/* RFC 9110 §8.6: 1*DIGIT; a listed value is not */
		if (n == 0 || n > 19 || strspn(value, "0123456789") != n)
			f->clen_bad = true;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->te++;
	else if (strncasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH,
	    sizeof(MHD_HTTP_HEADER_CONTENT_LENGTH) - 1) == 0 ||
	    strncasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING,
	    sizeof(MHD_HTTP_HEADER_TRANSFER_ENCODING) - 1) == 0)
		/* libmicrohttpd 0.9.75 turns the folded "Content-Length:
		 * 2\r\n 6" into a header "Content-Length6: 2" and reads no
		 * body, where a proxy may read 26 bytes */
		f->folded = true;
	return MHD_YES;
}

/*
 * http_headers_bad - the reason to refuse the request's body framing, or
 * NULL: Content-Length repeated, not plain digits, folded over two lines
 * (RFC 9112 §5.2: obs-fold), or together with Transfer-Encoding (RFC 9112
 * §6.1, §6.3): a proxy and this server could read different bodies.
 */
static const char *
http_headers_bad(struct MHD_Connection *c)
{
	struct framing f = { 0, 0, false, false };

	(void)MHD_get_connection_values(c, MHD_HEADER_KIND,
	    http_framing_count, &f);
	if (f.clen > 1)
		return "repeated Content-Length";
	if (f.clen_bad)
		return "malformed Content-Length";
	if (f.folded)
		return "folded Content-Length or Transfer-Encoding";
	if (f.clen > 0 && f.te > 0)
		return "Content-Length with Transfer-Encoding";
	return NULL;
}

/*
 * http_unescape - MHD_OPTION_UNESCAPE_CALLBACK: decode %XY in place like
 * MHD_http_unescape(), but keep "%00" as it is: decoded, a NUL would cut
 * the path short ("/u/TOKEN%00junk" read as "/u/TOKEN"); kept, the
 * handler sees it and refuses the request.  Returns the new length.
 */
static size_t
http_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *rd = s, *wr = s;
	int hi, lo;

	(void)cls;
	(void)c;
	while (*rd != '\0') {
		if (rd[0] == '%' &&
		    (hi = unsubd_hexval((unsigned char)rd[1])) >= 0 &&
		    (lo = unsubd_hexval((unsigned char)rd[2])) >= 0 &&
		    (hi | lo) != 0) {
			*wr++ = (char)(hi * 16 + lo);
			rd += 3;
		} else
			*wr++ = *rd++;
	}
	*wr = '\0';
	return (size_t)(wr - s);
}

/*
 * A raw NUL byte in the request line ("POST /u/TOKEN\0junk HTTP/1.1"):
 * libmicrohttpd hands the handler the URL cut at the NUL, so the request
 * would be served as "/u/TOKEN".  The URI log callback sees the whole
 * line (http_uri_cut, httpuri.h); its result is the request's first
 * *req_cls: http_nul_line marks such a request for the handler, which
 * answers 400.
 */
static char http_nul_line;

/* http_uri_log - MHD_OPTION_URI_LOG_CALLBACK: &http_nul_line when a NUL
 * of the client's cut the URI short (http_uri_cut), else NULL */
static void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls;
	(void)c;
	return http_uri_cut(uri) ? &http_nul_line : NULL;
}

/* route_parse - "/u/TOKEN" or "/p/TOKEN" into r; false: no such route */
static bool
route_parse(const char *url, struct req *r)
{
	const char *tok;
	size_t n;

	if (url[0] != '/' || (url[1] != 'u' && url[1] != 'p') ||
	    url[2] != '/')
		return false;
	tok = url + 3;
	n = strlen(tok);
	if (n == 0 || strchr(tok, '/') != NULL)
		return false;
	r->route = url[1] == 'u' ? ROUTE_UNSUB : ROUTE_PREFS;
	if (n >= sizeof(r->token))
		n = sizeof(r->token) - 1; /* too long: token_verify says so */
	memcpy(r->token, tok, n);
	r->token[n] = '\0';
	if (strlen(tok) >= sizeof(r->token))
		r->token[0] = '!';	/* never valid */
	return true;
}

/*
 * http_guard - may this form POST from one of our pages change anything?
 * Same origin and a fresh CSRF mark of this token (unsubd_guard.h); a
 * refusal is logged with its reason.
 */
static bool
http_guard(struct unsubd *u, struct MHD_Connection *c, const struct req *r,
    const struct unsubd_form *f)
{
	struct unsubd_origin_hdrs h;
	enum unsubd_guard g;
	struct client cl;
	char sorigin[128], sfetch[32], saction[32];

	h.fetch_site = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Sec-Fetch-Site");
	h.origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	h.referer = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_REFERER);
	h.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	g = unsubd_guard_origin(&h, u->site_origin);
	if (g == UNSUBD_GUARD_OK)
		g = unsubd_csrf_check(u->ring, r->token, f->csrf,
		    (long long)time(NULL));
	if (g == UNSUBD_GUARD_OK)
		return true;
	unsubd_client(c, &cl);
	/* the Referer would carry a token: never logged */
	log_warnx("refused route=%s action=%s reason=%s origin=%s "
	    "fetch_site=%s client=%s", r->route == ROUTE_UNSUB ? "u" : "p",
	    log_safe(f->action, saction, sizeof(saction)),
	    unsubd_guard_str(g), h.origin != NULL ? log_safe(h.origin,
	    sorigin, sizeof(sorigin)) : "-", h.fetch_site != NULL ?
	    log_safe(h.fetch_site, sfetch, sizeof(sfetch)) : "-", cl.addr);
	return false;
}

/* http_route - the complete request: verify the token, then dispatch */
static enum MHD_Result
http_route(struct unsubd *u, struct MHD_Connection *c, struct req *r,
    const char *method)
{
	struct token_info ti;
	enum token_status ts;
	struct unsubd_form f;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	size_t len = 0;
	char *html;

	memset(&ti, 0, sizeof(ti));
	ts = token_verify(u->ring, r->token, token_day((long long)time(NULL)),
	    u->lifetime_days, &ti);
	if (ts == TOKEN_EXPIRED) {
		struct client cl;

		unsubd_client(c, &cl);
		log_info("expired token route=%s method=%s client=%s",
		    r->route == ROUTE_UNSUB ? "u" : "p", method, cl.addr);
		/* 400 so that a one-click client knows nothing happened */
		html = unsubd_page_expired(u->pages, r->token, &len);
		return unsubd_respond(u, c, MHD_HTTP_BAD_REQUEST, html, len);
	}
	if (ts != TOKEN_OK) {
		struct client cl;

		unsubd_client(c, &cl);
		log_warnx("bad token reason=%s route=%s method=%s client=%s",
		    token_status_str(ts), r->route == ROUTE_UNSUB ? "u" : "p",
		    method, cl.addr);
		return unsubd_error(u, c, MHD_HTTP_BAD_REQUEST);
	}
	if (!post) {
		if (r->route == ROUTE_UNSUB)
			return unsubd_act_unsub_page(u, c, r, &ti);
		return unsubd_act_prefs(u, c, r, &ti, NULL);
	}
	unsubd_form_parse(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE), r->body, r->len, &f);
	if (r->route == ROUTE_PREFS) {
		if (f.bad || f.list[0] == '\0' ||
		    (strcmp(f.action, "opt_out") != 0 &&
		    strcmp(f.action, "opt_in") != 0)) {
			log_warnx("preferences: bad request body=%s",
			    unsubd_body_str(f.kind));
			return unsubd_error(u, c, MHD_HTTP_BAD_REQUEST);
		}
		if (!http_guard(u, c, r, &f))
			return unsubd_error(u, c, MHD_HTTP_FORBIDDEN);
		return unsubd_act_prefs(u, c, r, &ti, &f);
	}
	/* RFC 8058 one-click, in any of the forms clients send: the token
	 * alone, since it only reduces mail.  The page's own form
	 * (action=...), told apart by the body, passes the guard. */
	if (!f.bad && (f.kind == UNSUBD_BODY_EMPTY || f.one_click))
		return unsubd_act_unsubscribe(u, c, r, &ti, false, "one-click",
		    unsubd_body_str(f.kind));
	if (!f.bad && (strcmp(f.action, "list") == 0 ||
	    strcmp(f.action, "all") == 0)) {
		if (!http_guard(u, c, r, &f))
			return unsubd_error(u, c, MHD_HTTP_FORBIDDEN);
		return unsubd_act_unsubscribe(u, c, r, &ti,
		    strcmp(f.action, "all") == 0, "web", NULL);
	}
	log_warnx("unsubscribe: bad request body=%s", unsubd_body_str(f.kind));
	return unsubd_error(u, c, MHD_HTTP_BAD_REQUEST);
}

/* http_handler - libmicrohttpd access handler (see the file comment) */
static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct unsubd *u = cls;
	struct req *r = *req_cls;
	struct client cli;
	const char *cl, *bad;
	unsigned long long clen;
	size_t n, room;
	char *end, *nb;

	(void)version;
	if (r == NULL || r == (struct req *)(void *)&http_nul_line) {
		/* first call: headers only */
		bad = r != NULL ? "NUL byte in the request line" : NULL;
		if ((r = calloc(1, sizeof(*r))) == NULL) {
			*req_cls = NULL;
			return MHD_NO;
		}
		*req_cls = r;
		if (bad != NULL || (bad = http_headers_bad(c)) != NULL ||
		    strstr(url, "%00") != NULL) {
			unsubd_client(c, &cli);
			log_warnx("bad request: %s client=%s", bad != NULL ?
			    bad : "%00 in the path", cli.addr);
			return unsubd_error(u, c, MHD_HTTP_BAD_REQUEST);
		}
		if (!route_parse(url, r))
			return unsubd_error(u, c, MHD_HTTP_NOT_FOUND);
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return unsubd_error(u, c, MHD_HTTP_METHOD_NOT_ALLOWED);
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			clen = strtoull(cl, &end, 10);
			if (end == cl || clen > UNSUBD_BODY_MAX)
				return unsubd_error(u, c,
				    MHD_HTTP_CONTENT_TOO_LARGE);
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		n = *upload_data_size;
		*upload_data_size = 0;
		if (r->too_large || r->len + n > UNSUBD_BODY_MAX) {
			r->too_large = true;
			r->dropped += n;
			return r->dropped > BODY_DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		room = r->len + n + 1;
		if ((nb = realloc(r->body, room)) == NULL)
			return MHD_NO;
		r->body = nb;
		memcpy(r->body + r->len, upload_data, n);
		r->len += n;
		r->body[r->len] = '\0';
		return MHD_YES;
	}
	/* the request is here: no arrival deadline while it is answered */
	http_conns_busy(u->conns, c, true);
	if (r->job.state == JOB_DONE)
		return unsubd_act_finish(u, c, r);
	if (r->job.state == JOB_QUEUED)
		return MHD_YES;		/* not resumed yet */
	if (r->too_large)
		return unsubd_error(u, c, MHD_HTTP_CONTENT_TOO_LARGE);
	return http_route(u, c, r, method);
}

/* http_completed - free the request, however it ended */
static void
http_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct unsubd *u = cls;
	struct req *r = *req_cls;

	/* the next request on this connection has its own deadline */
	http_conns_busy(u->conns, c, false);
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		log_debug("connection timed out");
	if (r == NULL || r == (struct req *)(void *)&http_nul_line) {
		*req_cls = NULL;
		return;
	}
	free(r->body);
	free(r);
	*req_cls = NULL;
}

struct unsubd *
unsubd_http_start(const struct config *cfg, const struct token_ring *ring,
    int listen_fd, char *why, size_t whylen)
{
	struct unsubd *u;

	if ((u = calloc(1, sizeof(*u))) == NULL) {
		snprintf(why, whylen, "out of memory");
		(void)close(listen_fd);
		return NULL;
	}
	u->cfg = cfg;
	u->ring = ring;
	u->lifetime_days = cfg->token_lifetime / 86400;
	/* the keys of erased forms: a request for an erased person writes
	 * nothing (unsubd_act_apply) */
	if (cfg->erasure_key_file != NULL && (u->erasure = token_ring_load(
	    cfg->erasure_key_file, why, whylen)) == NULL)
		goto fail;
	u->er.keys = u->erasure;
	u->er.legacy = ring;
	/* the site's origin, for the pages' forms (unsubd_guard.h) */
	if (!unsubd_site_origin(cfg->unsubscribe_url, u->site_origin,
	    sizeof(u->site_origin), why, whylen))
		goto fail;
	if ((u->pages = unsubd_pages_new(cfg, why, whylen)) == NULL)
		goto fail;
	if (pthread_key_create(&u->store_key, http_store_destroy) != 0) {
		snprintf(why, whylen, "pthread_key_create failed");
		goto fail;
	}
	u->key_made = true;
	if ((u->writer = unsubd_writer_start(cfg, why, whylen)) == NULL)
		goto fail;
	if ((u->conns = http_conns_start(NULL,
	    (unsigned)cfg->http_request_timeout, why,
	    whylen)) == NULL)
		goto fail;
	/* MHD_USE_ITC: a reload quiesces this server from another thread */
	u->mhd = MHD_start_daemon(MHD_USE_AUTO |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG | MHD_USE_ITC, 0, NULL, NULL, http_handler, u,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, u,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)UNSUBD_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)UNSUBD_CONN_LIMIT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)UNSUBD_PER_IP_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)UNSUBD_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)UNSUBD_MEMORY_LIMIT,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, u,
	    MHD_OPTION_NOTIFY_CONNECTION, http_conns_notify, u->conns,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, u,
	    MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, u,
	    MHD_OPTION_END);
	if (u->mhd == NULL) {
		snprintf(why, whylen, "cannot start the HTTP server "
		    "(libmicrohttpd)");
		goto fail;
	}
	return u;
fail:
	(void)close(listen_fd);
	unsubd_http_stop(&u);
	return NULL;
}

void
unsubd_http_stop(struct unsubd **up)
{
	struct unsubd *u;
	MHD_socket lfd = MHD_INVALID_SOCKET;

	if (up == NULL || (u = *up) == NULL)
		return;
	/* no new connections; then the writer finishes what is queued and
	 * resumes those connections; then the server stops */
	if (u->mhd != NULL)
		lfd = MHD_quiesce_daemon(u->mhd);	/* now ours */
	unsubd_writer_stop(&u->writer);
	if (u->mhd != NULL)
		MHD_stop_daemon(u->mhd);	/* joins the pool threads */
	if (lfd != MHD_INVALID_SOCKET)
		(void)close(lfd);
	http_conns_stop(&u->conns);
	if (u->key_made)
		(void)pthread_key_delete(u->store_key);
	unsubd_pages_free(&u->pages);
	token_ring_free(&u->erasure);
	free(u);
	*up = NULL;
}

int
unsubd_http_quiesce(struct unsubd *u)
{
	MHD_socket fd;

	__atomic_store_n(&u->draining, 1, __ATOMIC_RELAXED);
	fd = MHD_quiesce_daemon(u->mhd);
	return fd == MHD_INVALID_SOCKET ? -1 : (int)fd;
}

unsigned int
unsubd_http_connections(struct unsubd *u)
{
	const union MHD_DaemonInfo *di;

	di = MHD_get_daemon_info(u->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di != NULL ? di->num_connections : 0;
}
