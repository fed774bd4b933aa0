/*
 * logaddr.h - an address as LogAddresses wants it in a log line: the one
 * home for it, called by optin-milter, optin-unsubd and optinctl (DESIGN
 * "Consent model": erasure reaches the product's own logs only when they
 * hold no address).
 *
 *	LogAddresses yes	<ann@example.com>	(log_safe'd)
 *	LogAddresses hash	<hash:0123456789abcdef>	keyed, see below
 *	LogAddresses no		<hidden>
 *
 * The hash is the first 16 hex digits of HMAC-SHA256 under the log subkey
 * (mark.h MARK_LOG) of the newest TokenKeyFile key over the normalised
 * address (the raw text when it cannot be normalised): without the key it
 * cannot be reversed with a dictionary of addresses, and its own subkey
 * keeps it apart from the erased form of the same address (mark.h), so a
 * log line cannot be joined to an erased suppression.  The same address
 * gives the same hash in every program, until the newest key changes.
 * Without a key ring "hash" writes <hidden>.  The null sender (an empty
 * address, or NULL) is <> in every mode: it names nobody.  Thread-safe.
 */
#ifndef OPTIN_LOGADDR_H
#define OPTIN_LOGADDR_H

#include <stddef.h>

#include "addr.h"
#include "config.h"

struct token_ring;

/* Room for any result, with the NUL. */
#define LOGADDR_MAX	(ADDR_MAX + 3)

/*
 * Write addr (NULL or "": <>) as mode wants it into out and return out.  ring
 * may be NULL (then "hash" gives <hidden>).
 */
const char *logaddr(enum cfg_logaddr mode, const struct token_ring *ring,
	    const char *addr, char out[LOGADDR_MAX]);

#endif
