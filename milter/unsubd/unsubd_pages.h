/*
 * unsubd_pages.h - the HTML pages of optin-unsubd (DESIGN "One-click
 * unsubscribe").
 *
 * Every page is a complete HTML document with its CSS inline in one <style>
 * element; the Content-Security-Policy returned by unsubd_pages_csp() allows
 * exactly that style by its sha256 hash and nothing else (no scripts, no
 * images, no external resources).  Text from the database or the token (list
 * ids and names) is HTML-escaped; no page shows the recipient's address.
 *
 * A struct unsubd_pages is read-only after unsubd_pages_new() and may be
 * shared by threads.  Every unsubd_page_*() function returns an owned,
 * NUL-terminated string (free with free()) and its length in *len_r, or NULL
 * when memory ran out.
 */
#ifndef OPTIN_UNSUBD_PAGES_H
#define OPTIN_UNSUBD_PAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "consent.h"

struct config;
struct unsubd_pages;		/* opaque */

/* One subscription on the preferences page. */
struct unsubd_page_sub {
	const char *list;		/* list id (borrowed) */
	const char *name;		/* display name or NULL (borrowed) */
	enum sub_status status;
	bool can_opt_in;		/* a prior opted_in event exists */
	bool double_opt_in;		/* the list asks for a confirmation */
};

/* What unsubd_page_done() confirms. */
enum unsubd_done {
	UNSUBD_DONE_LIST,		/* opted out of one list */
	UNSUBD_DONE_ALL,		/* suppressed: everything */
};

/*
 * Prepare the pages for cfg (Organization, PrivacyURL, UnsubscribeMailto are
 * copied) and compute the CSP.  NULL with why[] filled on failure.
 */
struct unsubd_pages *unsubd_pages_new(const struct config *cfg, char *why,
	    size_t whylen);

/* Free; accepts NULL and *pp == NULL, sets *pp to NULL. */
void unsubd_pages_free(struct unsubd_pages **pp);

/* The Content-Security-Policy header value for every response. */
const char *unsubd_pages_csp(const struct unsubd_pages *p);

/*
 * GET /u/TOKEN: names list, says whether the address is subscribed
 * (status, suppressed; known false when the store could not be asked) and
 * offers "Unsubscribe" (action=list), "Unsubscribe from everything"
 * (action=all) and a link to /p/TOKEN.  csrf is the page's CSRF mark
 * (unsubd_guard.h), sent back with the form.
 */
char *unsubd_page_unsub(const struct unsubd_pages *p, const char *token,
	    const char *csrf, const char *list, bool known,
	    enum sub_status status, bool suppressed, size_t *len_r);

/* After a POST to /u/TOKEN: the opt-out of list (or of everything). */
char *unsubd_page_done(const struct unsubd_pages *p, const char *token,
	    const char *list, enum unsubd_done what, size_t *len_r);

/*
 * GET or POST /p/TOKEN: every subscription with its state and a button to
 * opt out (opted_in, pending) or back in (opted_out with can_opt_in, not
 * while suppressed; on a double opt-in list it says a confirmation is
 * needed).  csrf is the page's CSRF mark, sent back with every form.
 * notice (may be NULL) is a sentence shown above the list, e.g. the result
 * of the last change; it is escaped.
 */
char *unsubd_page_prefs(const struct unsubd_pages *p, const char *token,
	    const char *csrf, const struct unsubd_page_sub *subs, size_t nsubs,
	    bool suppressed, const char *notice, size_t *len_r);

/*
 * The link has expired: asks the person to confirm by mail to
 * UnsubscribeMailto (with token substituted for %t) when that is set.
 */
char *unsubd_page_expired(const struct unsubd_pages *p, const char *token,
	    size_t *len_r);

/*
 * A page for an error status (400 bad link or request, 403, 404, 405, 413,
 * 500, 503); it says nothing about the token or the store.
 */
char *unsubd_page_error(const struct unsubd_pages *p, int status,
	    size_t *len_r);

#endif
