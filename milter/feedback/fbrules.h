/*
 * fbrules.h - what a bounce or complaint does to consent (DESIGN
 * "Feedback: bounces and complaints", RFC 3463, RFC 5965, RFC 9477).
 *
 * Identity comes only from tokens we issued (bounce.h): for a DSN the
 * envelope recipient (the personal bounce address), never its body; for a
 * complaint a token in the reported copy (Original-Mail-From, Return-Path,
 * List-Unsubscribe, Feedback-ID) or the envelope recipient.  A complaint
 * that names a person only by address acts only when it carries a valid
 * DKIM signature of a FeedbackTrustedDomains domain.  The campaign is the
 * token's; when the token carries none (List-Unsubscribe tokens), a
 * complaint takes it from the reported copy's Feedback-ID (a token there
 * for the same person and list, else its CAMPAIGN field when its LIST field
 * is the token's list); a report that no token vouches for has none.
 *
 * Classification of a failed delivery (fbrules_classify):
 *	policy_bounce	x.7.x, or text of a policy refusal (block lists,
 *			spam, reputation, ...): never suppresses a person;
 *			more than PolicyBounceLimit within PolicyBounceWindow
 *			pauses the campaign.
 *	hard_bounce	5.1.1, 5.1.2, 5.1.3, 5.1.6 refused at RCPT (not after
 *			DATA); Gmail's 5.2.1 when its text says the account
 *			is disabled or gone: suppressed at once.
 *	soft_bounce	every other 4.x.x and 5.x.x: SoftBounceLimit within
 *			SoftBounceWindow suppresses (hard_bounce).
 * Every report is recorded (table feedback) with its evidence; every change
 * of consent writes a consent event with that evidence.
 */
#ifndef OPTIN_FBRULES_H
#define OPTIN_FBRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "fbparse.h"
#include "store.h"

struct config;
struct token_ring;

/* The kind word (store.h) for a failed delivery with RFC 3463 status
 * (may be ""), diagnostic text and the after-DATA flag.  Pure. */
const char *fbrules_classify(const char *status, const char *diagnostic,
	    bool after_data);

/* What fbrules_apply() did, for the log line and the tests. */
struct fbrules_result {
	const char *kind;		/* kind word recorded */
	const char *action;		/* "suppressed", "opted_out",
					   "paused", "counted", "recorded" */
	char identity[300];		/* "bounce_token", "token:WHERE",
					   "dkim:DOMAIN", "address_only",
					   "none" */
	char addr[321];			/* "" when nobody */
	char list[65];
	char campaign[65];
	long long count;		/* soft or policy count in window */
};

/* The inputs of one run besides the report. */
struct fbrules_env {
	const struct config *cfg;
	const struct token_ring *ring;	/* NULL: no TokenKeyFile */
	const struct store_erasure *er;	/* keys of erased forms (store.h) */
	const char *rcpt;		/* -r envelope recipient, or NULL */
	const char *sender;		/* -f envelope sender, or NULL */
	const char *const *dkim_domains; /* domains with a valid signature
					   on the report; NULL-terminated */
	time_t now;
};

/*
 * Apply report r: record it and change consent as the rules say, all in
 * one transaction.  STORE_OK (consumed, *res filled), or STORE_TEMPFAIL /
 * STORE_ERROR with why[] (the caller keeps the message queued).
 */
enum store_status fbrules_apply(struct store *st,
	    const struct fbrules_env *env, const struct fb_report *r,
	    struct fbrules_result *res, char *why, size_t whylen);

#endif
