/*
 * campaign.h - campaign or transactional, and which list (DESIGN "Message
 * flow" step 1).  Pure functions of envelope, headers and config; no I/O;
 * thread-safe.
 */
#ifndef OPTIN_CAMPAIGN_H
#define OPTIN_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* The internal header that marks a copy made by the split: a marker of
 * purpose MARK_SPLIT (mark.h) bound to the original queue id, sender,
 * recipient, list, Message-ID, body and a short lifetime. */
#define CAMPAIGN_SPLIT_HEADER "X-Optin-Split"

/* The internal header of a copy an admin released from quarantine with
 * "optinctl quarantine release": delivered to its one recipient without a
 * consent check.  A marker of purpose MARK_RELEASE bound to the quarantine
 * row, queue id, sender, recipient, list, Message-ID, body and a short
 * lifetime. */
#define CAMPAIGN_RELEASE_HEADER "X-Optin-Release"

#define CAMPAIGN_LIST_MAX 64

/*
 * Is the message a campaign by its envelope?  sender is the normalised
 * envelope sender (NULL for the null sender <>), auth_user the SASL login
 * (NULL when none).  Matches CampaignSenders ("user@domain" or "@domain",
 * case-insensitive) and CampaignAuthUsers.
 */
bool campaign_by_envelope(const struct config *cfg, const char *sender,
	    const char *auth_user);

/*
 * The list of a campaign: the ListHeader value (trimmed), else DefaultList.
 * Writes it to list_r and returns 0; -1 with why[] when there is none or it
 * is not a valid list id (campaign_list_ok).
 */
int campaign_list(const struct config *cfg, const char *list_header,
	    char list_r[CAMPAIGN_LIST_MAX + 1], char *why, size_t whylen);

/* Is name one of the internal headers (CampaignHeader, ListHeader, the split
 * marker) that StripInternalHeaders removes? */
bool campaign_internal_header(const struct config *cfg, const char *name);

/* Is s a valid list id: 1-64 of [A-Za-z0-9._-], the first a letter or a
 * digit (it appears in tokens and in List-Id: <LIST.domain>)?  The one
 * home of the syntax: the milter, optin-feedback and every optinctl verb
 * that takes a list use it. */
bool campaign_list_ok(const char *s);

#endif
