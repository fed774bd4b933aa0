/*
 * feedbackhdr.h - the milter's side of the feedback loop (DESIGN
 * "Feedback: bounces and complaints", issue 12 items 1, 3, 4): what a
 * campaign copy carries so that a bounce or a complaint about it maps back
 * to its recipient, list and campaign, and the checks the milter makes for
 * optin-feedback.
 *
 *  - the personal bounce address (BounceAddress, bounce.h) as the envelope
 *    sender of every single-recipient campaign copy, the kept one
 *    (smfi_chgfrom) and the split ones (sendmail -f);
 *  - "CFBL-Address: CFBLAddress; report=arf" (RFC 9477 section 3.1) and
 *    "Feedback-ID: CAMPAIGN:LIST:TOKEN:DOMAIN" on those copies; the ones the
 *    application set are removed by the caller (eom.c);
 *  - the campaign_sent count, once per copy where it is delivered;
 *  - the pause of a campaign (optin-feedback, "optinctl campaign pause"):
 *    its copies are kept queued with a 451.
 * Nothing here is done when BounceAddress and CFBLAddress are unset (the
 * feedback loop is not configured), so an engine without the feedback
 * tables (PostgreSQL) works as before.  Runs in the connection's thread;
 * strings returned are in the message arena.
 */
#ifndef OPTIN_FEEDBACKHDR_H
#define OPTIN_FEEDBACKHDR_H

#include <stdbool.h>

struct conn;
struct verdict;

/* Is the feedback loop configured (BounceAddress or CFBLAddress)? */
bool fbhdr_enabled(const struct conn *c);

/*
 * The campaign id of the message: its CampaignHeader value when it is
 * 1-64 of [A-Za-z0-9._-] (campaign_list_ok), else NULL (no header, or one
 * that cannot be carried in a token: counted and reported without a
 * campaign).  Borrowed from the message.
 */
const char *fbhdr_campaign(const struct conn *c);

/*
 * Pause check before anything is done to a campaign message (item 4).
 * Returns true with *v set when the message must not go on: 451 4.7.1
 * "campaign X paused: REASON (optinctl campaign resume X)" when
 * store_campaign_paused() says so, the OnDBError action when the store
 * cannot answer (also an engine without the feedback tables).  False (v
 * untouched) when not paused or when campaign is NULL.  Checked whether
 * the feedback loop is configured or not (an admin may pause a campaign by
 * hand: optinctl campaign pause), except on an engine without the pause
 * table when it is not.
 */
bool fbhdr_paused(struct conn *c, const char *campaign, struct verdict *v);

/*
 * The envelope sender of the copy to rcpt (normalised address): the
 * personal bounce address (bounce_address()) in the msg arena into *out,
 * or *out = NULL when BounceAddress is unset.  0, or -1 (logged: no key
 * ring, bad list or campaign, out of memory).
 */
int fbhdr_sender(struct conn *c, const char *rcpt, const char *campaign,
	    char **out);

/*
 * The header values for the copy to rcpt, in the msg arena: *cfbl the
 * CFBL-Address value when CFBLAddress is set, *fbid the Feedback-ID value
 * "CAMPAIGN:LIST:TOKEN:DOMAIN" (CAMPAIGN "" when none, TOKEN a bounce token
 * (bounce_token()), DOMAIN the From domain) when the loop is configured and
 * a key ring loaded; else NULL.  0, or -1 (logged).
 */
int fbhdr_values(struct conn *c, const char *rcpt, const char *campaign,
	    char **cfbl, char **fbid);

/*
 * Count one delivered copy of campaign (NULL: "") on the message's list
 * (store_sent_add).  A failure is logged and does not change the verdict:
 * the copy is on its way and the count is a statistic.
 */
void fbhdr_count_sent(struct conn *c, const char *campaign);

#endif
