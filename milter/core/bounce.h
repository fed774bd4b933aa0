/*
 * bounce.h - personal bounce addresses (DESIGN "Feedback: bounces and
 * complaints", issue 12 item 1).
 *
 * Every campaign copy leaves with the envelope sender BounceAddress (e.g.
 * "bounce+%t@news.example.com") whose %t is a token of the same AEAD scheme
 * as the unsubscribe tokens (token.h).  The token's list field carries
 * "LIST" or "LIST/CAMPAIGN" (both of [A-Za-z0-9._-], 1-64 octets), so that a
 * DSN maps to recipient, list and campaign without trusting its body.  A
 * plain unsubscribe token (list only) is a valid bounce token without a
 * campaign.  Pure functions of their arguments; thread-safe.
 */
#ifndef OPTIN_BOUNCE_H
#define OPTIN_BOUNCE_H

#include <stddef.h>

#include "campaign.h"
#include "token.h"

/* Who a bounce token names. */
struct bounce_id {
	char addr[321];				/* normalised recipient */
	char list[CAMPAIGN_LIST_MAX + 1];
	char campaign[CAMPAIGN_LIST_MAX + 1];	/* "" when none */
	long issue_day;
};

/*
 * The token for (addr, list, campaign) issued on day with the newest key of
 * ring into out (TOKEN_MAX is enough).  campaign may be NULL or "".
 * Returns its length, or -1 with why[] filled (bad list or campaign id,
 * token_issue() failure).
 */
int bounce_token(const struct token_ring *ring, const char *addr,
	    const char *list, const char *campaign, long day, char *out,
	    size_t outlen, char *why, size_t whylen);

/*
 * The envelope sender for a campaign copy: template (BounceAddress) with %t
 * replaced by bounce_token().  Returns its length, or -1 with why[].
 */
int bounce_address(const char *template, const struct token_ring *ring,
	    const char *addr, const char *list, const char *campaign,
	    long day, char *out, size_t outlen, char *why, size_t whylen);

/*
 * Cut the token out of addr (an envelope address, with or without <>,
 * compared case-insensitively outside %t) per template (BounceAddress or
 * UnsubscribeMailto) into tok (toklen bytes).  0, or -1 when addr does not
 * have the template's shape (another domain, text after the closing '>').
 */
int bounce_template_token(const char *template, const char *addr, char *tok,
	    size_t toklen);

/*
 * Verify tok and fill *id_r.  Expired tokens count (TOKEN_EXPIRED is
 * returned, *id_r filled): the AEAD proves we issued it, and a bounce or a
 * complaint about an old copy is still about that person.  A token whose
 * list field is not "LIST" or "LIST/CAMPAIGN" is TOKEN_MALFORMED.
 */
enum token_status bounce_verify(const struct token_ring *ring,
	    const char *tok, long today, long lifetime_days,
	    struct bounce_id *id_r);

#endif
