/*
 * reconsent.h - no silent re-consent (DESIGN "Consent model"): the one place
 * that decides whether an address that was erased (optinctl forget) or is
 * globally suppressed may be opted in again, and that lifts the block when
 * it may.
 *
 * The rule: a change that opts an address in, or makes it pending, is
 * refused while the address is suppressed or its erased form (the keyed
 * hash of store_addr_hash) is, unless it carries fresh consent evidence;
 * with evidence, every such suppression is lifted and each lifting is
 * recorded as a consent event "unsuppressed" whose evidence names the
 * reason lifted ("reason=erased; EVIDENCE").  Opting out is never blocked.
 * Built on store.h alone, so it holds for every backend; one handle per
 * thread, as the store.
 */
#ifndef OPTIN_RECONSENT_H
#define OPTIN_RECONSENT_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

/* What blocks an opt-in of one address. */
struct reconsent {
	bool suppressed;		/* the address has a suppression */
	char reason[32];		/* ... with this reason (DESIGN word) */
	bool erased;			/* its erased form has one */
};

/*
 * Read what blocks an opt-in of the normalised addr: its suppression and
 * that of addr_hash (its store_addr_hash form; NULL when nobody was ever
 * erased, see ctl_erased_form).  STORE_OK with *r_r filled, or a store
 * failure with why[].
 */
enum store_status reconsent_check(struct store *st, const char *addr,
	    const char *addr_hash, struct reconsent *r_r, char *why,
	    size_t whylen);

/* Does r block an opt-in? */
bool reconsent_blocked(const struct reconsent *r);

/*
 * Why r blocks, for a message that names addr: "ADDR was erased (optinctl
 * forget)", "ADDR is suppressed (REASON)" or both joined by " and ".
 * Returns out (outlen bytes).
 */
const char *reconsent_str(const struct reconsent *r, const char *addr,
	    char *out, size_t outlen);

/*
 * Lift what r found, for an opt-in that carries fresh consent evidence:
 * ev->evidence must be non-empty (else STORE_ERROR: the caller refuses
 * first).  Deletes the suppression of addr and that of addr_hash
 * (store_unsuppress), each with the event "unsuppressed" under addr, with
 * ev's source and agent and the evidence "reason=REASON; EVIDENCE".  Runs
 * in the caller's transaction, or in its own.
 */
enum store_status reconsent_lift(struct store *st, const char *addr,
	    const char *addr_hash, const struct reconsent *r,
	    const struct consent_event *ev, char *why, size_t whylen);

#endif
