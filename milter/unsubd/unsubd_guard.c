/*
 * unsubd_guard.c - same-origin check and CSRF marks for the forms of
 * optin-unsubd's pages (see unsubd_guard.h).
 *
 * Why both: a token in a forwarded mail lets anyone load the pages, so the
 * token alone must never do more than reduce mail.  The origin check stops
 * another site from driving a visitor's browser to post our forms; the
 * CSRF mark ties a post to a page this server made for that very token a
 * short while ago.  Neither is asked of RFC 8058 one-click (RFC 8058 §3.1:
 * the client posts without user interaction, cookies or a page).
 *
 * This file parses request headers (the internet's text): every parse is
 * bounded by the output size and rejects what it does not understand.
 * Threads: no state.
 */
#include "autoconf.h"

#include "unsubd_guard.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mark.h"
#include "token.h"

static const char *const guard_word[] = {
	[UNSUBD_GUARD_OK] = "ok",
	[UNSUBD_GUARD_CROSS_SITE] = "cross_site",
	[UNSUBD_GUARD_CROSS_ORIGIN] = "cross_origin",
	[UNSUBD_GUARD_NO_ORIGIN] = "no_origin",
	[UNSUBD_GUARD_CSRF_MISSING] = "csrf_missing",
	[UNSUBD_GUARD_CSRF_STALE] = "csrf_stale",
	[UNSUBD_GUARD_CSRF_BAD] = "csrf_bad",
};

const char *
unsubd_guard_str(enum unsubd_guard g)
{
	if ((unsigned)g >= sizeof(guard_word) / sizeof(guard_word[0]))
		return "unknown";
	return guard_word[g];
}

/* host_ok - n bytes of a host: no space, control, or delimiter */
static bool
host_ok(const char *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == 0x7f ||
		    strchr("\"<>\\^`{|}@/?#", h[i]) != NULL)
			return false;
	return n > 0;
}

bool
unsubd_origin_of(const char *url, char *out, size_t outlen)
{
	const char *scheme, *a, *end, *hend, *port = NULL;
	unsigned long pn = 0;
	unsigned defport;
	size_t hn, i, pl = 0;
	int n;

	if (url == NULL)
		return false;
	if (strncasecmp(url, "https://", 8) == 0) {
		scheme = "https";
		defport = 443;
		a = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		scheme = "http";
		defport = 80;
		a = url + 7;
	} else
		return false;
	end = a + strcspn(a, "/?#");
	if (a[0] == '[') {			/* IPv6 literal */
		if ((hend = memchr(a, ']', (size_t)(end - a))) == NULL)
			return false;
		hend++;
	} else
		for (hend = a; hend < end && *hend != ':'; hend++)
			;
	if (hend < end) {
		if (*hend != ':')
			return false;
		port = hend + 1;
		pl = (size_t)(end - port);
		if (pl > 5 || strspn(port, "0123456789") < pl)
			return false;
		for (i = 0; i < pl; i++)
			pn = pn * 10 + (unsigned long)(port[i] - '0');
		if (pl > 0 && (pn == 0 || pn > 65535))
			return false;
	}
	hn = (size_t)(hend - a);
	if (!host_ok(a, hn))
		return false;
	if (pl == 0 || pn == defport)
		n = snprintf(out, outlen, "%s://%.*s", scheme, (int)hn, a);
	else
		n = snprintf(out, outlen, "%s://%.*s:%lu", scheme, (int)hn, a,
		    pn);
	if (n < 0 || (size_t)n >= outlen)
		return false;
	for (i = strlen(scheme) + 3; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return true;
}

bool
unsubd_site_origin(const char *url, char *out, size_t outlen, char *why,
    size_t whylen)
{
	if (outlen > 0)
		out[0] = '\0';
	if (url == NULL)
		return true;
	if (!unsubd_origin_of(url, out, outlen) ||
	    strstr(out, "%t") != NULL) {
		snprintf(why, whylen, "UnsubscribeURL: '%s': no http or https "
		    "origin without %%t (needed to check that forms come from "
		    "the pages)", url);
		if (outlen > 0)
			out[0] = '\0';
		return false;
	}
	return true;
}

/* origin_matches - is url's origin the site's (or, without a site, the
 * Host header's, in url's scheme)? */
static bool
origin_matches(const char *url, const struct unsubd_origin_hdrs *h,
    const char *site)
{
	char got[UNSUBD_ORIGIN_MAX], want[UNSUBD_ORIGIN_MAX], hosturl[320];
	size_t sl;

	if (!unsubd_origin_of(url, got, sizeof(got)))
		return false;
	if (site != NULL && site[0] != '\0')
		return strcmp(got, site) == 0;
	if (h->host == NULL || strcspn(h->host, "/?#@") != strlen(h->host))
		return false;
	sl = (size_t)(strchr(got, ':') - got);	/* the scheme */
	if ((size_t)snprintf(hosturl, sizeof(hosturl), "%.*s://%s", (int)sl,
	    got, h->host) >= sizeof(hosturl) ||
	    !unsubd_origin_of(hosturl, want, sizeof(want)))
		return false;
	return strcmp(got, want) == 0;
}

enum unsubd_guard
unsubd_guard_origin(const struct unsubd_origin_hdrs *h, const char *site)
{
	bool fetch_same = false;

	/* Fetch metadata (W3C): set by the browser, never by a page */
	if (h->fetch_site != NULL) {
		if (strcasecmp(h->fetch_site, "same-origin") != 0)
			return UNSUBD_GUARD_CROSS_SITE;
		fetch_same = true;
	}
	if (h->origin != NULL && strcmp(h->origin, "null") != 0)
		return origin_matches(h->origin, h, site) ? UNSUBD_GUARD_OK :
		    UNSUBD_GUARD_CROSS_ORIGIN;
	/* Origin "null": what our own no-referrer pages post with, and what
	 * a sandboxed frame elsewhere posts with: only Sec-Fetch-Site tells
	 * them apart. */
	if (fetch_same)
		return UNSUBD_GUARD_OK;
	if (h->origin != NULL)
		return UNSUBD_GUARD_CROSS_ORIGIN;
	if (h->referer != NULL)
		return origin_matches(h->referer, h, site) ? UNSUBD_GUARD_OK :
		    UNSUBD_GUARD_CROSS_ORIGIN;
	return UNSUBD_GUARD_NO_ORIGIN;
}

/* csrf_data - "T.TOKEN" into out; false when it does not fit */
static bool
csrf_data(long long t, const char *token, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%lld.%s", t, token);

	return n > 0 && (size_t)n < outlen;
}

int
unsubd_csrf_make(const struct token_ring *ring, const char *token,
    long long now, char *out, size_t outlen)
{
	char data[TOKEN_MAX + 32], mac[65];
	int n;

	if (!csrf_data(now, token, data, sizeof(data)) ||
	    mark_make(ring, MARK_CSRF, data, strlen(data), mac) != 0)
		return -1;
	n = snprintf(out, outlen, "%lld.%s", now, mac);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

enum unsubd_guard
unsubd_csrf_check(const struct token_ring *ring, const char *token,
    const char *csrf, long long now)
{
	char data[TOKEN_MAX + 32];
	const char *mac;
	long long t = 0;
	size_t dn;

	if (csrf == NULL || csrf[0] == '\0')
		return UNSUBD_GUARD_CSRF_MISSING;
	dn = strspn(csrf, "0123456789");
	/* one spelling per mark: no leading zeros */
	if (dn == 0 || dn > 12 || csrf[dn] != '.' || (csrf[0] == '0' &&
	    dn > 1))
		return UNSUBD_GUARD_CSRF_BAD;
	mac = csrf + dn + 1;
	if (strlen(mac) != 64 || strspn(mac, "0123456789abcdef") != 64)
		return UNSUBD_GUARD_CSRF_BAD;
	t = strtoll(csrf, NULL, 10);
	if (t > now + UNSUBD_CSRF_SKEW ||
	    !csrf_data(t, token, data, sizeof(data)) ||
	    !mark_check(ring, MARK_CSRF, data, strlen(data), mac))
		return UNSUBD_GUARD_CSRF_BAD;
	if (now - t > UNSUBD_CSRF_LIFETIME)
		return UNSUBD_GUARD_CSRF_STALE;
	return UNSUBD_GUARD_OK;
}
