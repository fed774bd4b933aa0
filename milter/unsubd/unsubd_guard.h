/*
 * unsubd_guard.h - what a form POST from optin-unsubd's own pages must show
 * before it changes anything: that it came from a page of this site (same
 * origin) and that it carries a fresh CSRF mark of that page's token.
 *
 * The RFC 8058 one-click POST (List-Unsubscribe=One-Click, or an empty
 * body) needs neither: mail clients send it without Origin or CSRF, and it
 * only ever reduces mail.  Everything else that a page posts (unsubscribe
 * buttons, preferences, subscribing again) passes both checks.
 *
 * Same origin: Sec-Fetch-Site, when the browser sends it, must be
 * "same-origin"; an Origin header (other than "null") or, without one, a
 * Referer must name the site's origin.  The pages are sent with
 * Referrer-Policy: no-referrer, so browsers post them with "Origin: null"
 * and no Referer: for them Sec-Fetch-Site is what decides.  A request with
 * none of these is refused.
 *
 * CSRF mark: "T.MAC", T the time it was made (seconds since the epoch,
 * decimal), MAC = hex token_csrf_mark() over "T.TOKEN" (TOKEN the page's
 * token).  Valid for UNSUBD_CSRF_LIFETIME seconds with any key of the ring.
 *
 * Pure functions of their arguments: thread-safe, nothing allocated.
 */
#ifndef OPTIN_UNSUBD_GUARD_H
#define OPTIN_UNSUBD_GUARD_H

#include <stdbool.h>
#include <stddef.h>

struct token_ring;

#define UNSUBD_CSRF_LIFETIME	7200	/* seconds a page's forms work */
#define UNSUBD_CSRF_SKEW	60	/* seconds a mark may be ahead */
#define UNSUBD_CSRF_MAX		96	/* longest mark, with its NUL */
#define UNSUBD_ORIGIN_MAX	300	/* longest origin, with its NUL */

enum unsubd_guard {
	UNSUBD_GUARD_OK = 0,
	UNSUBD_GUARD_CROSS_SITE,	/* Sec-Fetch-Site is not same-origin */
	UNSUBD_GUARD_CROSS_ORIGIN,	/* Origin or Referer names another
					   origin, or Origin is "null" */
	UNSUBD_GUARD_NO_ORIGIN,		/* nothing says where it came from */
	UNSUBD_GUARD_CSRF_MISSING,
	UNSUBD_GUARD_CSRF_STALE,	/* older than UNSUBD_CSRF_LIFETIME */
	UNSUBD_GUARD_CSRF_BAD,		/* malformed, forged, another token's,
					   or from the future */
};

/* The request headers the origin check reads; each may be NULL. */
struct unsubd_origin_hdrs {
	const char *fetch_site;		/* Sec-Fetch-Site */
	const char *origin;		/* Origin */
	const char *referer;		/* Referer */
	const char *host;		/* Host */
};

/* "ok", "cross_site", "cross_origin", "no_origin", "csrf_missing",
 * "csrf_stale", "csrf_bad" (the log's reason words).  Static strings. */
const char *unsubd_guard_str(enum unsubd_guard g);

/*
 * The origin of an absolute http or https URL (RFC 6454 §4), serialised
 * (§6.2): lower-case scheme and host, the port only when it is not the
 * scheme's default, e.g. "https://unsub.example.com".  false when url is
 * not such a URL (other scheme, user info, empty host, bad port) or the
 * origin does not fit outlen.
 */
bool unsubd_origin_of(const char *url, char *out, size_t outlen);

/*
 * The site's origin from UnsubscribeURL (url; NULL: none, out gets "")
 * into out (UNSUBD_ORIGIN_MAX bytes).  false with why[] filled when url
 * has no http or https origin or the token (%t) is part of it.
 */
bool unsubd_site_origin(const char *url, char *out, size_t outlen,
	    char *why, size_t whylen);

/*
 * Did the request come from a page of the site?  site is the site's
 * origin as unsubd_origin_of() gives it (from UnsubscribeURL); NULL or ""
 * compares the host and port of Origin or Referer with the Host header
 * instead (any scheme: behind a TLS proxy the scheme is not ours to see).
 */
enum unsubd_guard unsubd_guard_origin(const struct unsubd_origin_hdrs *h,
	    const char *site);

/*
 * Make the CSRF mark of token at time now into out (outlen bytes,
 * UNSUBD_CSRF_MAX is enough).  0, or -1 when it does not fit or the MAC
 * fails.
 */
int unsubd_csrf_make(const struct token_ring *ring, const char *token,
	    long long now, char *out, size_t outlen);

/* Check a CSRF mark (NULL or "": missing) for token at time now. */
enum unsubd_guard unsubd_csrf_check(const struct token_ring *ring,
	    const char *token, const char *csrf, long long now);

#endif
