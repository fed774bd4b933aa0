/*
 * prom.h - the daemons' live counters in Prometheus text format
 * (exposition format 0.0.4), served over HTTP on a loopback address, and
 * read back by optinctl stats.
 *
 * Each program keeps its own counters (plain integers changed with
 * __atomic built-ins: lock-free, per process) and renders them with
 * prom_family()/prom_sample() when a scrape arrives.  The address
 * is loopback only: 127.0.0.0/8 or ::1, given as numbers, never a name;
 * anything else is refused, there is no override (the figures are for the
 * relay's own monitoring agent; a remote scraper goes through a proxy or
 * an SSH tunnel).  No personal data is ever a label.
 */
#ifndef OPTIN_PROM_H
#define OPTIN_PROM_H

#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"

#define PROM_PATH		"/metrics"
#define PROM_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/*
 * Parse spec, "IPv4:port" or "[IPv6]:port" with a loopback address and a
 * port 1-65535, into *ss (*sslen set).  0, or -1 with why[] saying what is
 * wrong (e.g. "'0.0.0.0:9100' is not a loopback address").  ss may be NULL
 * to check only.
 */
int prom_addr_parse(const char *spec, struct sockaddr_storage *ss,
	    socklen_t *sslen, char *why, size_t whylen);

/* Append "# HELP name help\n# TYPE name type\n" (type "counter" or
 * "gauge").  0, or -1 when out of memory. */
int prom_family(struct buf *out, const char *name, const char *type,
	    const char *help);
/* Append "name{labels} value\n"; labels is the text between the braces
 * (label="value",...) or NULL for none; label values must need no
 * escaping (words of DESIGN).  0 or -1 (out of memory). */
int prom_sample(struct buf *out, const char *name, const char *labels,
	    unsigned long long value);
/* The same with a floating-point value (times, durations). */
int prom_sample_f(struct buf *out, const char *name, const char *labels,
	    double value);

/*
 * GET http://spec/metrics and put the body (NUL-terminated) in *out,
 * waiting at most timeout_ms in all.  0; -1 with why[] filled when the
 * address is bad, nothing answers, or the answer is not 200.  Blocking;
 * for optinctl.
 */
int prom_fetch(const char *spec, int timeout_ms, struct buf *out,
	    char *why, size_t whylen);

/*
 * Walk the samples of text, a scraped body: for each line
 * "name{labels} value" call fn(name, labels, value, arg) with labels the
 * text between the braces ("" when none); comments and lines that do not
 * parse are skipped.  name and labels are only valid during the call.
 * Stops when fn returns non-zero and returns that, else 0.
 */
typedef int prom_sample_fn(const char *name, const char *labels,
	    double value, void *arg);
int prom_parse(const char *text, prom_sample_fn *fn, void *arg);

/* The HTTP side, prom_http.c (links libmicrohttpd). */
struct prom_server;
/* Append the whole exposition to out; 0 or -1 (out of memory).  Called in
 * the server's thread. */
typedef int prom_render_fn(struct buf *out, void *arg);

/*
 * Serve GET /metrics on spec (prom_addr_parse) from one thread of its
 * own, which blocks every signal; other paths get 404, other methods 405,
 * a NUL byte in the request line 400.  Idle connections are closed after
 * 5 s, and one whose request has not arrived whole request_secs (the
 * config's HTTPRequestTimeout) after the accept (or the previous answer)
 * too (http_conns.h); up to 64 at once.  libmicrohttpd's messages are
 * logged at debug level, prefixed with key (a static string: the config
 * key).
 * NULL with why[] filled when the address is bad or cannot be bound.
 * Owned by the caller; render and arg must outlive it.
 */
struct prom_server *prom_start(const char *key, const char *spec,
	    unsigned request_secs, prom_render_fn *render, void *arg,
	    char *why, size_t whylen);
/*
 * prom_start for a daemon's key: NULL without a word when spec is NULL
 * (not configured); else the server, with "metrics on http://spec/metrics"
 * logged, or NULL with "key: why" logged as an error.
 */
struct prom_server *prom_serve(const char *key, const char *spec,
	    unsigned request_secs, prom_render_fn *render, void *arg);
/* Stop serving; accepts NULL and *msp == NULL, sets *msp to NULL. */
void prom_stop(struct prom_server **msp);

#endif
