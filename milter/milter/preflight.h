/*
 * preflight.h - outbound SPF preflight of campaign mail (DESIGN "SPF"):
 * does the envelope sender domain's SPF authorise OutboundIP?  When
 * BounceAddress is set, campaign copies leave with the bounce address
 * (feedbackhdr.h), so its domain is the one checked.
 */
#ifndef OPTIN_PREFLIGHT_H
#define OPTIN_PREFLIGHT_H

#include <stdbool.h>

struct conn;
struct verdict;

/*
 * Check the campaign of c (called at end of headers).  SPFCheck warn: logs
 * any result but pass and returns false.  SPFCheck reject: returns true
 * with *v set to 550 5.7.23 naming domain and address for a result other
 * than pass, or 451 4.7.24 for temperror (DNS trouble never rejects).
 * Returns false (nothing to do) when SPF is off or OutboundIP is unset.
 */
bool preflight_spf(const struct conn *c, struct verdict *v);

#endif
