/*
 * eom-private.h - what eom.c and eom_split.c share: the tallies of one
 * message for its decision line, and step 5 of eom.c's order (the split
 * copies, eom_split.c).  Not for other files.
 */
#ifndef OPTIN_EOM_PRIVATE_H
#define OPTIN_EOM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "consent.h"
#include "eom.h"
#include "session.h"

#define WHY 512

/* per-message tallies for the log line */
struct tally {
	size_t allowed, blocked;
	size_t by_reason[CONSENT_NREASONS];
	size_t resubmitted, resubmit_failed;
	size_t busy;			/* split copies another attempt is
					   handing over (handover.h) */
	bool chan_down;			/* no ResubmitAddress channel: defer */
	size_t held;			/* allowed, but held (rcpt.held) */
	const char *dkim;		/* "rsa-sha256", "both", "none" */
	const char *d, *s;
	char sigdesc[160];
};

/*
 * Re-submit one copy per allowed person other than recipient keep
 * (m->nrcpt: every one) that no earlier attempt handed over (handover.h),
 * HANDOVER_BATCH claims per transaction over the channel (SendmailCommand:
 * one); failed and ambiguous ones are marked for quarantine
 * (eom_split_failed), those another attempt is handing over counted in
 * t->busy.  When the ResubmitAddress channel cannot be opened nothing is
 * claimed and t->chan_down is set (the message is deferred: nothing was
 * sent, nothing is lost).  When e->del_rcpt is set, each is listed for
 * removal.
 */
void eom_split_copies(struct conn *c, size_t keep, struct edits *e,
	    struct tally *t);

/* Was r's split copy marked failed by eom_split_copies (to quarantine)? */
bool eom_split_failed(const struct rcpt *r);

#endif
