/*
 * consent.h - the consent decision, computed from store rows.  No I/O.
 *
 * DESIGN "Consent model": deliver campaign mail to recipient R on list L only
 * if R is not suppressed and (R, L) is opted_in.  Otherwise the reason is
 * suppressed, opted_out, pending (double opt-in not confirmed) or no_consent
 * (never seen).  Thread-safe (pure functions).
 */
#ifndef OPTIN_CONSENT_H
#define OPTIN_CONSENT_H

#include <stdbool.h>

enum sub_status {
	SUB_NONE = 0,		/* no row: never seen on this list */
	SUB_PENDING,
	SUB_OPTED_IN,
	SUB_OPTED_OUT,
};

enum consent_reason {
	CONSENT_DELIVER = 0,
	CONSENT_SUPPRESSED,
	CONSENT_OPTED_OUT,
	CONSENT_PENDING,
	CONSENT_NO_CONSENT,
	CONSENT_NREASONS
};

/* What the store knows about one (address, list). */
struct consent_row {
	bool suppressed;		/* global suppression of campaign mail */
	enum sub_status status;		/* subscription on the list */
};

/* The decision for one recipient. */
enum consent_reason consent_decide(const struct consent_row *row);

/* DESIGN's exact words: "deliver", "suppressed", "opted_out", "pending",
 * "no_consent".  Static strings. */
const char *consent_reason_str(enum consent_reason r);

/* "none" (printed as "no_consent" by tools), "pending", "opted_in",
 * "opted_out".  Static strings. */
const char *sub_status_str(enum sub_status s);

/* Parse the words of sub_status_str(); returns 0 or -1 if unknown. */
int sub_status_parse(const char *s, enum sub_status *st_r);

#endif
