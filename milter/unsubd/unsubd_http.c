/*
 * unsubd_http.c - request life cycle and routes of optin-unsubd (see
 * unsubd_http.h for the routes).
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
 * Rules kept here: a GET or HEAD never writes to the store (link scanners);
 * every change goes through store_set_status()/store_suppress(), which write
 * the consent event (source, remote address, user agent) in the same
 * transaction; error pages say nothing about the token or the store; no
 * response sets a cookie or redirects.  A token is never logged.
 *
 * Threads: handlers run in libmicrohttpd's thread pool; each thread has its
 * own store handle (pthread key, closed by the key's destructor when the
 * thread ends).  struct unsubd is read-only while the daemon runs, but for
 * its draining flag (atomic, set once by unsubd_http_quiesce).
 */
#include "autoconf.h"

#include "unsubd_http.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "config.h"
#include "consent.h"
#include "log.h"
#include "store.h"
#include "token.h"
#include "unsubd_pages.h"

/*
 * XXX store.h cannot yet tell whether an address was ever opted in to a
 * list (a consent event "opted_in"), which "subscribe again" needs so as
 * never to invent consent.  Proposed interface, declared weak so that the
 * program links until the store has it; without it nobody can opt back in
 * here.  *yes_r is true when such an event exists.
 */
enum store_status store_ever_opted_in(struct store *st, const char *addr,
	    const char *list, bool *yes_r, char *why, size_t whylen)
	    __attribute__((weak));

/* After this many dropped body bytes the connection is closed. */
#define BODY_DISCARD_MAX	(256 * 1024)
#define ALLOW_METHODS		"GET, HEAD, POST"

struct unsubd {
	struct MHD_Daemon *mhd;
	const struct config *cfg;	/* borrowed */
	const struct token_ring *ring;	/* borrowed */
	struct unsubd_pages *pages;	/* owned */
	pthread_key_t store_key;	/* per-thread struct store * */
	bool key_made;
	int draining;			/* __atomic: replaced by a reload */
	long lifetime_days;		/* TokenLifetime in days */
};

enum route { ROUTE_UNSUB, ROUTE_PREFS };

/* One request, in *req_cls from the first handler call to completion. */
struct req {
	enum route route;
	char token[TOKEN_MAX];
	char *body;			/* owned, NUL-terminated */
	size_t len;
	size_t dropped;			/* body bytes over the limit */
	bool too_large;
};

/* How a POST body arrived (logged, and kept as evidence). */
enum body_form { FORM_EMPTY, FORM_URLENCODED, FORM_MULTIPART, FORM_TEXT,
	FORM_OTHER };

static const char *const body_form_word[] = {
	"empty", "urlencoded", "multipart", "text", "other",
};

/* The fields of a POST body that matter. */
struct form {
	enum body_form kind;
	bool one_click;			/* List-Unsubscribe=One-Click */
	bool bad;			/* a field too long or unparsable */
	char action[16];
	char list[130];
};

/* Facts about the client of one request. */
struct client {
	char addr[64];			/* numeric address */
	char agent[256];		/* User-Agent, cleaned */
	char fwd[128];			/* X-Forwarded-For from a local proxy */
};

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

/* http_store - this thread's store handle, opened on first use */
static struct store *
http_store(struct unsubd *u, enum store_status *ss_r, char *why,
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

/* http_addr_log - the address as LogAddresses wants it in a log line */
static const char *
http_addr_log(const struct unsubd *u, const char *addr, char *out,
    size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char safe[330];

	switch (u->cfg->log_addresses) {
	case LOGADDR_NO:
		snprintf(out, outlen, "<redacted>");
		break;
	case LOGADDR_HASH:
		if (EVP_Digest(addr, strlen(addr), md, &mdlen, EVP_sha256(),
		    NULL) != 1)
			mdlen = 0;
		snprintf(out, outlen, "hash:");
		for (i = 0; i < mdlen && i < 8 && strlen(out) + 3 <= outlen;
		    i++)
			snprintf(out + strlen(out), outlen - strlen(out),
			    "%02x", md[i]);
		break;
	default:
		snprintf(out, outlen, "<%s>", log_safe(addr, safe,
		    sizeof(safe)));
		break;
	}
	return out;
}

/* http_client - numeric peer address, user agent, forwarded-for */
static void
http_client(struct MHD_Connection *c, struct client *cl)
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

/* http_respond - queue a page with the headers every response carries;
 * html is owned and freed by libmicrohttpd (NULL: out of memory) */
static enum MHD_Result
http_respond(struct unsubd *u, struct MHD_Connection *c, unsigned status,
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
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* http_error - answer status with its generic page */
static enum MHD_Result
http_error(struct unsubd *u, struct MHD_Connection *c, unsigned status)
{
	size_t len = 0;
	char *html = unsubd_page_error(u->pages, (int)status, &len);

	return http_respond(u, c, status, html, len);
}

/* http_store_error - answer a failed store call: 503 when temporary */
static enum MHD_Result
http_store_error(struct unsubd *u, struct MHD_Connection *c,
    enum store_status ss, const char *what, const char *why)
{
	char safe[256];

	log_safe(why, safe, sizeof(safe));
	if (ss == STORE_TEMPFAIL) {
		log_warnx("store unavailable op=%s: %s", what, safe);
		return http_error(u, c, MHD_HTTP_SERVICE_UNAVAILABLE);
	}
	log_err("store error op=%s: %s", what, safe);
	return http_error(u, c, MHD_HTTP_INTERNAL_SERVER_ERROR);
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

/* form_field - note one decoded field of a POST body */
static void
form_field(struct form *f, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	if (klen == 16 && strncasecmp(k, "List-Unsubscribe", 16) == 0) {
		/* RFC 8058 §3.1: the body is "List-Unsubscribe=One-Click" */
		if (vlen == 9 && strncasecmp(v, "One-Click", 9) == 0)
			f->one_click = true;
		else
			f->bad = true;
	} else if (klen == 6 && memcmp(k, "action", 6) == 0) {
		if (vlen >= sizeof(f->action))
			f->bad = true;
		else {
			memcpy(f->action, v, vlen);
			f->action[vlen] = '\0';
		}
	} else if (klen == 4 && memcmp(k, "list", 4) == 0) {
		if (vlen >= sizeof(f->list) || memchr(v, '\0', vlen) != NULL)
			f->bad = true;
		else {
			memcpy(f->list, v, vlen);
			f->list[vlen] = '\0';
		}
	}
	/* other fields are ignored */
}

/* hexval - value of hex digit c, or -1 */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* url_decode - decode %XX and '+' in place; returns the new length */
static size_t
url_decode(char *s, size_t n)
{
	size_t i, o;
	int hi, lo;

	for (i = o = 0; i < n; i++) {
		if (s[i] == '+')
			s[o++] = ' ';
		else if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			s[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			s[o++] = s[i];
	}
	return o;
}

/* form_urlencoded - parse k=v&k=v (decoded in place) */
static void
form_urlencoded(struct form *f, char *s, size_t n)
{
	size_t i = 0, j, e, eq, klen, vlen;

	while (i < n) {
		for (j = i; j < n && s[j] != '&'; j++)
			;
		/* tolerate a trailing CR LF some clients add */
		for (e = j; e > i && (s[e - 1] == '\r' || s[e - 1] == '\n');
		    e--)
			;
		for (eq = i; eq < e && s[eq] != '='; eq++)
			;
		if (eq < e) {
			klen = url_decode(s + i, eq - i);
			vlen = url_decode(s + eq + 1, e - eq - 1);
			form_field(f, s + i, klen, s + eq + 1, vlen);
		} else if (e > i)
			f->bad = true;
		i = j + 1;
	}
}

/* form_text - parse text/plain form lines k=v (no decoding) */
static void
form_text(struct form *f, char *s, size_t n)
{
	char *end = s + n, *nl, *eq, *e;

	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			nl = end;
		e = nl;
		while (e > s && (e[-1] == '\r' || e[-1] == ' ' ||
		    e[-1] == '\t'))
			e--;
		if (e > s) {
			eq = memchr(s, '=', (size_t)(e - s));
			if (eq != NULL)
				form_field(f, s, (size_t)(eq - s), eq + 1,
				    (size_t)(e - eq - 1));
			else
				f->bad = true;
		}
		s = nl < end ? nl + 1 : end;
	}
}

/* mp_boundary - the boundary parameter of a multipart Content-Type */
static bool
mp_boundary(const char *ctype, char *out, size_t outlen)
{
	const char *p = ctype, *e;
	size_t n;

	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			p++;
			e = strchr(p, '"');
		} else
			e = p + strcspn(p, "; \t");
		if (e == NULL)
			return false;
		n = (size_t)(e - p);
		if (n == 0 || n > 70 || n >= outlen)	/* RFC 2046 §5.1.1 */
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* mp_name - the name="..." of a part's headers [h, e) */
static bool
mp_name(const char *h, const char *e, const char **name_r, size_t *len_r)
{
	const char *p, *q;

	for (p = h; p + 6 <= e; p++) {
		if (strncasecmp(p, "name=\"", 6) != 0 ||
		    (p > h && p[-1] != ' ' && p[-1] != ';' && p[-1] != '\t'))
			continue;
		p += 6;
		if ((q = memchr(p, '"', (size_t)(e - p))) == NULL)
			return false;
		*name_r = p;
		*len_r = (size_t)(q - p);
		return true;
	}
	return false;
}

/* form_multipart - parse multipart/form-data with the given boundary */
static void
form_multipart(struct form *f, char *s, size_t n, const char *boundary)
{
	char delim[80];
	char *end = s + n, *p, *hend, *vend, *name;
	size_t dlen, nlen;

	dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	p = memmem(s, n, delim, dlen);
	while (p != NULL) {
		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return;			/* closing delimiter */
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p++;
		hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (hend == NULL)
			break;
		vend = memmem(hend + 4, (size_t)(end - hend - 4), delim,
		    dlen);
		if (vend == NULL)
			break;
		if (!mp_name(p, hend, (const char **)&name, &nlen))
			break;
		/* the CR LF before the delimiter belongs to it */
		if (vend - 2 >= hend + 4 && vend[-2] == '\r' &&
		    vend[-1] == '\n')
			form_field(f, name, nlen, hend + 4,
			    (size_t)(vend - 2 - (hend + 4)));
		else
			form_field(f, name, nlen, hend + 4,
			    (size_t)(vend - (hend + 4)));
		p = vend;
	}
	f->bad = true;
}

/* form_parse - which form the body has and its fields */
static void
form_parse(struct MHD_Connection *c, struct req *r, struct form *f)
{
	const char *ctype;
	char boundary[72];

	memset(f, 0, sizeof(*f));
	ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ctype == NULL)
		ctype = "";
	if (r->len == 0) {
		f->kind = FORM_EMPTY;
	} else if (strncasecmp(ctype, "application/x-www-form-urlencoded",
	    33) == 0) {
		f->kind = FORM_URLENCODED;
		form_urlencoded(f, r->body, r->len);
	} else if (strncasecmp(ctype, "multipart/form-data", 19) == 0) {
		f->kind = FORM_MULTIPART;
		if (mp_boundary(ctype, boundary, sizeof(boundary)))
			form_multipart(f, r->body, r->len, boundary);
		else
			f->bad = true;
	} else if (strncasecmp(ctype, "text/plain", 10) == 0) {
		f->kind = FORM_TEXT;
		form_text(f, r->body, r->len);
	} else {
		f->kind = FORM_OTHER;
		form_urlencoded(f, r->body, r->len);
	}
}

/* evidence - the evidence text of a consent event */
static void
evidence(char *out, size_t outlen, const char *what,
    const struct token_info *ti, const struct client *cl)
{
	snprintf(out, outlen, "%s token_key=%u token_day=%ld%s%s", what,
	    ti->key_id, ti->issue_day, cl->fwd[0] ? " forwarded_for=" : "",
	    cl->fwd);
}

/* A list id and, once found, its display name. */
struct list_name {
	const char *list;		/* borrowed */
	char name[256];
};

/* list_label - the display name of list, else its id (into ln->name) */
static const char *
list_label(struct store *st, const char *list, struct list_name *ln)
{
	char why[256];

	ln->list = list;
	ln->name[0] = '\0';
	if (st != NULL && store_list_name(st, list, ln->name,
	    sizeof(ln->name), why, sizeof(why)) != STORE_OK)
		ln->name[0] = '\0';
	if (ln->name[0] == '\0')
		snprintf(ln->name, sizeof(ln->name), "%s", list);
	return ln->name;
}

/* http_unsubscribe - opt addr out of the token's list, or of everything;
 * idempotent: nothing is written when the state is already there */
static enum MHD_Result
http_unsubscribe(struct unsubd *u, struct MHD_Connection *c, struct req *r,
    const struct token_info *ti, bool all, const char *source,
    const char *formword)
{
	struct consent_event ev;
	struct consent_row row;
	struct list_name ln;
	struct client cl;
	struct store *st;
	enum store_status ss;
	char why[256], evid[256], what[64], laddr[340];
	bool changed = false;
	size_t len = 0;
	char *html;

	http_client(c, &cl);
	if ((st = http_store(u, &ss, why, sizeof(why))) == NULL)
		return http_store_error(u, c, ss, "open", why);
	if ((ss = store_begin(st, why, sizeof(why))) != STORE_OK)
		return http_store_error(u, c, ss, "begin", why);
	memset(&row, 0, sizeof(row));
	ss = store_lookup(st, ti->addr, ti->list, &row, why, sizeof(why));
	if (ss != STORE_OK && ss != STORE_NOTFOUND)
		goto fail;
	snprintf(what, sizeof(what), "%s%s%s", all ?
	    "scope=all reason=unsubscribed_all" : "scope=list",
	    formword != NULL ? " body=" : "", formword != NULL ?
	    formword : "");
	evidence(evid, sizeof(evid), what, ti, &cl);
	memset(&ev, 0, sizeof(ev));
	ev.addr = ti->addr;
	ev.source = source;
	ev.evidence = evid;
	ev.remote_addr = cl.addr;
	ev.user_agent = cl.agent;
	if (all && !row.suppressed) {
		ev.event = "suppressed";
		ss = store_suppress(st, ti->addr, "unsubscribed_all", &ev, why,
		    sizeof(why));
		changed = true;
	} else if (!all && row.status != SUB_OPTED_OUT) {
		ev.list = ti->list;
		ev.event = "opted_out";
		ss = store_set_status(st, ti->addr, ti->list, SUB_OPTED_OUT,
		    &ev, why, sizeof(why));
		changed = true;
	} else
		ss = STORE_OK;
	if (ss == STORE_NOTFOUND) {
		/* the list is gone: say nothing more than for a bad link */
		store_rollback(st);
		log_warnx("unsubscribe list=%s: no such list client=%s",
		    ti->list, cl.addr);
		return http_error(u, c, MHD_HTTP_BAD_REQUEST);
	}
	if (ss != STORE_OK)
		goto fail;
	if ((ss = store_commit(st, why, sizeof(why))) != STORE_OK)
		goto fail;
	log_info("unsubscribe scope=%s list=%s addr=%s source=%s body=%s "
	    "changed=%s client=%s", all ? "all" : "list", ti->list,
	    http_addr_log(u, ti->addr, laddr, sizeof(laddr)), source,
	    formword != NULL ? formword : "-", changed ? "yes" : "no",
	    cl.addr);
	html = unsubd_page_done(u->pages, r->token, list_label(st, ti->list,
	    &ln), all ? UNSUBD_DONE_ALL : UNSUBD_DONE_LIST, &len);
	return http_respond(u, c, MHD_HTTP_OK, html, len);
fail:
	store_rollback(st);
	return http_store_error(u, c, ss, "unsubscribe", why);
}

/* Subscriptions collected for the preferences page. */
struct subs {
	struct unsubd_page_sub *v;	/* owned, strings owned */
	size_t n, cap;
	bool nomem;
};

/* subs_add - store_subscriptions() callback: copy one row */
static int
subs_add(const struct store_sub *s, void *arg)
{
	struct subs *ss = arg;
	struct unsubd_page_sub *nv, *e;

	if (ss->n == ss->cap) {
		size_t ncap = ss->cap ? ss->cap * 2 : 16;

		if (ncap > 10000 ||
		    (nv = realloc(ss->v, ncap * sizeof(*nv))) == NULL) {
			ss->nomem = true;
			return 1;
		}
		ss->v = nv;
		ss->cap = ncap;
	}
	e = &ss->v[ss->n];
	memset(e, 0, sizeof(*e));
	e->status = s->status;
	if ((e->list = strdup(s->list)) == NULL) {
		ss->nomem = true;
		return 1;
	}
	ss->n++;
	return 0;
}

/* subs_names - the display name of each collected list: one row each,
 * not a scan of every list with its counts */
static enum store_status
subs_names(struct store *st, struct subs *ss, char *why, size_t whylen)
{
	char name[256];
	enum store_status rs;
	size_t i;

	for (i = 0; i < ss->n; i++) {
		rs = store_list_name(st, ss->v[i].list, name, sizeof(name), why,
		    whylen);
		if (rs == STORE_NOTFOUND || (rs == STORE_OK && name[0] == '\0'))
			continue;
		if (rs != STORE_OK)
			return rs;
		if ((ss->v[i].name = strdup(name)) == NULL) {
			ss->nomem = true;
			return STORE_OK;
		}
	}
	return STORE_OK;
}

/* subs_free - free the collected rows */
static void
subs_free(struct subs *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++) {
		free((char *)ss->v[i].list);
		free((char *)ss->v[i].name);
	}
	free(ss->v);
	memset(ss, 0, sizeof(*ss));
}

/* subs_load - every subscription of addr with list names and whether it
 * may opt back in, and whether the address is suppressed */
static enum store_status
subs_load(struct store *st, const struct token_info *ti, struct subs *subs,
    bool *suppressed_r, char *why, size_t whylen)
{
	struct consent_row row;
	enum store_status ss;
	size_t i;

	subs_free(subs);
	memset(&row, 0, sizeof(row));
	ss = store_lookup(st, ti->addr, ti->list, &row, why, whylen);
	if (ss != STORE_OK && ss != STORE_NOTFOUND)
		return ss;
	*suppressed_r = row.suppressed;
	ss = store_subscriptions(st, ti->addr, subs_add, subs, why, whylen);
	if (ss == STORE_NOTFOUND)
		ss = STORE_OK;
	if (ss == STORE_OK && subs->n > 0)
		ss = subs_names(st, subs, why, whylen);
	for (i = 0; ss == STORE_OK && i < subs->n; i++) {
		if (subs->v[i].status != SUB_OPTED_OUT ||
		    store_ever_opted_in == NULL)
			continue;
		ss = store_ever_opted_in(st, ti->addr, subs->v[i].list,
		    &subs->v[i].can_opt_in, why, whylen);
		if (ss == STORE_NOTFOUND) {
			subs->v[i].can_opt_in = false;
			ss = STORE_OK;
		}
	}
	if (ss == STORE_OK && subs->nomem) {
		snprintf(why, whylen, "out of memory");
		ss = STORE_ERROR;
	}
	return ss;
}

/* subs_find - the row of list, or NULL */
static const struct unsubd_page_sub *
subs_find(const struct subs *ss, const char *list)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		if (strcmp(ss->v[i].list, list) == 0)
			return &ss->v[i];
	return NULL;
}

/* prefs_change - apply list/action of a POST to /p/ inside a transaction;
 * *notice_r says what happened, *status_r the HTTP status */
static enum store_status
prefs_change(struct unsubd *u, struct store *st, const struct token_info *ti,
    const struct form *f, const struct client *cl, const char **notice_r,
    unsigned *status_r, bool *changed_r, char *why, size_t whylen)
{
	const struct unsubd_page_sub *s;
	struct consent_event ev;
	struct subs subs = { 0 };
	enum store_status ss;
	char evid[256];
	bool suppressed = false, opt_in;

	*changed_r = false;
	*status_r = MHD_HTTP_OK;
	opt_in = strcmp(f->action, "opt_in") == 0;
	if ((ss = subs_load(st, ti, &subs, &suppressed, why, whylen)) !=
	    STORE_OK)
		goto out;
	s = subs_find(&subs, f->list);
	if (s == NULL) {
		*notice_r = "That list is not one of your subscriptions.";
		*status_r = MHD_HTTP_FORBIDDEN;
		goto out;
	}
	evidence(evid, sizeof(evid), opt_in ? "preferences action=opt_in" :
	    "preferences action=opt_out", ti, cl);
	memset(&ev, 0, sizeof(ev));
	ev.addr = ti->addr;
	ev.list = f->list;
	ev.source = "web";
	ev.evidence = evid;
	ev.remote_addr = cl->addr;
	ev.user_agent = cl->agent;
	if (!opt_in) {
		*notice_r = "You are unsubscribed from that list.";
		if (s->status == SUB_OPTED_OUT)
			goto out;
		ev.event = "opted_out";
		ss = store_set_status(st, ti->addr, f->list, SUB_OPTED_OUT,
		    &ev, why, whylen);
		*changed_r = true;
		goto out;
	}
	if (s->status == SUB_OPTED_IN) {
		*notice_r = "You are subscribed to that list.";
		goto out;
	}
	/* Never invent consent: only an address that was opted in to this
	 * list before may opt back in here, and not while suppressed. */
	if (s->status != SUB_OPTED_OUT || !s->can_opt_in || suppressed) {
		*notice_r = "Subscribing again to that list is not available "
		    "here.";
		*status_r = MHD_HTTP_FORBIDDEN;
		goto out;
	}
	ev.event = "opted_in";
	ss = store_set_status(st, ti->addr, f->list, SUB_OPTED_IN, &ev, why,
	    whylen);
	*changed_r = true;
	*notice_r = "You are subscribed to that list again.";
out:
	(void)u;
	subs_free(&subs);
	return ss;
}

/* http_prefs - GET (post == NULL) or POST /p/TOKEN */
static enum MHD_Result
http_prefs(struct unsubd *u, struct MHD_Connection *c, struct req *r,
    const struct token_info *ti, const struct form *post)
{
	struct subs subs = { 0 };
	struct client cl;
	struct store *st;
	enum store_status ss;
	const char *notice = NULL;
	unsigned status = MHD_HTTP_OK;
	bool suppressed = false, changed = false;
	char why[256], laddr[340], slist[140];
	enum MHD_Result ret;
	size_t len = 0;
	char *html;

	if ((st = http_store(u, &ss, why, sizeof(why))) == NULL)
		return http_store_error(u, c, ss, "open", why);
	if (post != NULL) {
		http_client(c, &cl);
		if ((ss = store_begin(st, why, sizeof(why))) != STORE_OK)
			return http_store_error(u, c, ss, "begin", why);
		ss = prefs_change(u, st, ti, post, &cl, &notice, &status,
		    &changed, why, sizeof(why));
		if (ss == STORE_OK)
			ss = store_commit(st, why, sizeof(why));
		if (ss != STORE_OK) {
			store_rollback(st);
			return http_store_error(u, c, ss, "preferences", why);
		}
		log_info("preferences action=%s list=%s addr=%s source=web "
		    "changed=%s status=%u client=%s", post->action,
		    log_safe(post->list, slist, sizeof(slist)),
		    http_addr_log(u, ti->addr, laddr, sizeof(laddr)),
		    changed ? "yes" : "no", status, cl.addr);
	}
	ss = subs_load(st, ti, &subs, &suppressed, why, sizeof(why));
	if (ss != STORE_OK) {
		subs_free(&subs);
		return http_store_error(u, c, ss, "subscriptions", why);
	}
	html = unsubd_page_prefs(u->pages, r->token, subs.v, subs.n,
	    suppressed, notice, &len);
	ret = http_respond(u, c, status, html, len);
	subs_free(&subs);
	return ret;
}

/* http_unsub_page - GET/HEAD /u/TOKEN: the page, read-only */
static enum MHD_Result
http_unsub_page(struct unsubd *u, struct MHD_Connection *c, struct req *r,
    const struct token_info *ti)
{
	struct consent_row row;
	struct list_name ln;
	struct store *st;
	enum store_status ss;
	bool known = false;
	char why[256];
	size_t len = 0;
	char *html;

	/* The state is shown when the store answers; the buttons work
	 * either way, so a store failure does not hide the page. */
	memset(&row, 0, sizeof(row));
	if ((st = http_store(u, &ss, why, sizeof(why))) != NULL) {
		ss = store_lookup(st, ti->addr, ti->list, &row, why,
		    sizeof(why));
		known = ss == STORE_OK;
	}
	html = unsubd_page_unsub(u->pages, r->token, list_label(st, ti->list,
	    &ln), known, row.status, row.suppressed, &len);
	return http_respond(u, c, MHD_HTTP_OK, html, len);
}

/* http_route - the complete request: verify the token, then dispatch */
static enum MHD_Result
http_route(struct unsubd *u, struct MHD_Connection *c, struct req *r,
    const char *method)
{
	struct token_info ti;
	enum token_status ts;
	struct form f;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	size_t len = 0;
	char *html;

	memset(&ti, 0, sizeof(ti));
	ts = token_verify(u->ring, r->token, token_day((long long)time(NULL)),
	    u->lifetime_days, &ti);
	if (ts == TOKEN_EXPIRED) {
		struct client cl;

		http_client(c, &cl);
		log_info("expired token route=%s method=%s client=%s",
		    r->route == ROUTE_UNSUB ? "u" : "p", method, cl.addr);
		/* 400 so that a one-click client knows nothing happened */
		html = unsubd_page_expired(u->pages, r->token, &len);
		return http_respond(u, c, MHD_HTTP_BAD_REQUEST, html, len);
	}
	if (ts != TOKEN_OK) {
		struct client cl;

		http_client(c, &cl);
		log_warnx("bad token reason=%s route=%s method=%s client=%s",
		    token_status_str(ts), r->route == ROUTE_UNSUB ? "u" : "p",
		    method, cl.addr);
		return http_error(u, c, MHD_HTTP_BAD_REQUEST);
	}
	if (!post) {
		if (r->route == ROUTE_UNSUB)
			return http_unsub_page(u, c, r, &ti);
		return http_prefs(u, c, r, &ti, NULL);
	}
	form_parse(c, r, &f);
	if (r->route == ROUTE_PREFS) {
		if (f.bad || f.list[0] == '\0' ||
		    (strcmp(f.action, "opt_out") != 0 &&
		    strcmp(f.action, "opt_in") != 0)) {
			log_warnx("preferences: bad request body=%s",
			    body_form_word[f.kind]);
			return http_error(u, c, MHD_HTTP_BAD_REQUEST);
		}
		return http_prefs(u, c, r, &ti, &f);
	}
	/* RFC 8058 one-click, in any of the forms clients send, or the
	 * page's own form (action=...): told apart by the body. */
	if (!f.bad && (f.kind == FORM_EMPTY || f.one_click))
		return http_unsubscribe(u, c, r, &ti, false, "one-click",
		    body_form_word[f.kind]);
	if (!f.bad && strcmp(f.action, "list") == 0)
		return http_unsubscribe(u, c, r, &ti, false, "web", NULL);
	if (!f.bad && strcmp(f.action, "all") == 0)
		return http_unsubscribe(u, c, r, &ti, true, "web", NULL);
	log_warnx("unsubscribe: bad request body=%s", body_form_word[f.kind]);
	return http_error(u, c, MHD_HTTP_BAD_REQUEST);
}

/* http_handler - libmicrohttpd access handler (see the file comment) */
static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct unsubd *u = cls;
	struct req *r = *req_cls;
	const char *cl;
	unsigned long long clen;
	size_t n, room;
	char *end, *nb;

	(void)version;
	if (r == NULL) {
		/* first call: headers only */
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		*req_cls = r;
		if (!route_parse(url, r))
			return http_error(u, c, MHD_HTTP_NOT_FOUND);
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return http_error(u, c, MHD_HTTP_METHOD_NOT_ALLOWED);
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			clen = strtoull(cl, &end, 10);
			if (end == cl || clen > UNSUBD_BODY_MAX)
				return http_error(u, c,
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
	if (r->too_large)
		return http_error(u, c, MHD_HTTP_CONTENT_TOO_LARGE);
	return http_route(u, c, r, method);
}

/* http_completed - free the request, however it ended */
static void
http_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *req_cls;

	(void)cls;
	(void)c;
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		log_debug("connection timed out");
	if (r == NULL)
		return;
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
	if ((u->pages = unsubd_pages_new(cfg, why, whylen)) == NULL)
		goto fail;
	if (pthread_key_create(&u->store_key, http_store_destroy) != 0) {
		snprintf(why, whylen, "pthread_key_create failed");
		goto fail;
	}
	u->key_made = true;
	u->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
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

	if (up == NULL || (u = *up) == NULL)
		return;
	if (u->mhd != NULL)
		MHD_stop_daemon(u->mhd);	/* joins the pool threads */
	if (u->key_made)
		(void)pthread_key_delete(u->store_key);
	unsubd_pages_free(&u->pages);
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
