/*
 * unsubmail.h - unsubscribe requests by mail (DESIGN "Message flow" step 2,
 * UnsubscribeMailto): mail to the unsubscribe address carries the token in
 * its local part.  The token is checked at RCPT (bad token: 550 5.1.1); the
 * opt-out is recorded at end of message with source "mailto" and the SPF
 * verdict of the sending host as evidence, and the request is discarded.
 */
#ifndef OPTIN_UNSUBMAIL_H
#define OPTIN_UNSUBMAIL_H

#include <stdbool.h>

struct config;
struct conn;
struct verdict;

/*
 * addr (raw, with or without <>, even broken ones, or normalised) for a
 * log line: when it is an UnsubscribeMailto or BounceAddress address, a
 * copy in out (outlen bytes) with the token replaced by "[token]" and
 * without <>; when it holds one in any other text (brackets or quotes
 * left round it, text after it), that text so masked; else addr itself.  A token lets anyone change that person's subscriptions (or
 * report a bounce for them): never log one.
 */
const char *unsubmail_mask(const struct config *cfg, const char *addr,
	    char *out, size_t outlen);

/*
 * addr (raw or normalised; NULL logs as "") as LogAddresses wants it in a
 * log line of c (logaddr.h), never with an unsubscribe token
 * (unsubmail_mask), a raw one without its <>; written to out (outlen
 * bytes, ADDR_MAX + 40 is enough), which is returned.
 */
const char *unsubmail_log_addr(const struct conn *c, const char *addr,
	    char *out, size_t outlen);

/* Is raw (a RCPT argument) addressed to the unsubscribe mailbox? */
bool unsubmail_is_unsub(const struct conn *c, const char *raw);

/*
 * At RCPT: when raw is an unsubscribe address, check its token; true with
 * *v set to a 550 5.1.1 reject when the token is bad, true with *v left
 * alone when it is good, false when raw is not an unsubscribe address.
 */
bool unsubmail_rcpt(const struct conn *c, const char *raw, struct verdict *v);

/* Does the current message have unsubscribe recipients? */
bool unsubmail_pending(const struct conn *c);

/*
 * At end of message: record the opt-out of every unsubscribe recipient.
 * Returns true when the message is finished here (*v: discard when every
 * recipient was an unsubscribe request, tempfail when the store failed),
 * false when other recipients remain to be decided as usual.
 */
bool unsubmail_eom(struct conn *c, struct verdict *v);

#endif
