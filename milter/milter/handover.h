/*
 * handover.h - a split copy is handed to the MTA at most once, and a
 * quarantine row written at most once, per message and recipient, however
 * often the MTA retries the message (DESIGN "Message flow"; issue 15 item 1).
 *
 * The MTA retries a message it did not accept (milter_content_timeout
 * reached while the copies were being re-submitted, the milter killed) under
 * a new queue ID, so the message is known by its key: a keyed hash (mark.h
 * MARK_HANDOVER, TokenKeyFile) of the envelope sender, Message-ID, Date,
 * list, campaign, a SHA-256 of the body and any internal marker the message
 * carries (a split copy or a released copy is another message than its
 * original).  Per (key, recipient) the consent store keeps a record
 * (store.h "Hand-over records"):
 *	claimed		written (committed) before the copy goes to
 *			SendmailCommand or the ResubmitAddress channel
 *			(claimed HANDOVER_BATCH at a time)
 *	done		after SendmailCommand exited 0, or the channel's
 *			250 after the final dot (marked per batch)
 *	quarantined	in the transaction that writes the quarantine row
 * A retry skips every recipient with a done or quarantined record, hands
 * over the others and keeps the kept recipient in the original.  A record
 * still claimed is ambiguous (the earlier attempt is still handing it over,
 * or died after SendmailCommand took the copy but before it was marked):
 * while it is younger than SplitHandoverWait the message is tempfailed; after
 * that the recipient's copy is quarantined with reason handover_unknown and
 * a warning names both queue IDs, so that nobody gets it twice and nobody is
 * lost without a trace (an admin releases it when the MTA's log shows the
 * earlier copy never went out).  Records are deleted by optinctl quarantine
 * purge once unchanged for STORE_HANDOVER_KEEP (7 days).  Per connection,
 * as eom.c.
 */
#ifndef OPTIN_HANDOVER_H
#define OPTIN_HANDOVER_H

#include <stdbool.h>

#include "mark.h"
#include "session.h"

/* What to do with one recipient's split copy (handover_claim). */
enum handover_go {
	HANDOVER_GO = 0,	/* claimed now: hand it over */
	HANDOVER_SKIP,		/* an earlier attempt handed it over or
				   quarantined it: nothing to do */
	HANDOVER_BUSY,		/* another attempt's young claim: tempfail */
	HANDOVER_UNKNOWN,	/* another attempt's old claim: quarantine
				   (reason handover_unknown) */
	HANDOVER_FAIL		/* store error: tempfail */
};

/*
 * The key of the message of c into key (64 hex digits).  0, or -1 when
 * there is no TokenKeyFile (then nothing is deduplicated: split needs the
 * key file anyway) or on a crypto error.
 */
int handover_key(struct conn *c, char key[MARK_HEX_MAX]);

/* Copies claimed, and marked done, per transaction over the
 * ResubmitAddress channel (with SendmailCommand one: a copy may take its
 * 60 s there): a crash holds at most this many copies as handover_unknown,
 * never sends one twice. */
#define HANDOVER_BATCH	64

/*
 * Claim the split copies to rcpts[0..n-1] (normalised; n at most
 * HANDOVER_BATCH) of the message key in ONE transaction (a commit per copy
 * cost more than the copy over the channel); go_r[i] says what to do with
 * each.  key NULL: all HANDOVER_GO.  A store error makes every one
 * HANDOVER_FAIL (logged).  Every outcome but HANDOVER_GO is logged with
 * the queue ID.
 */
void handover_claim_batch(struct conn *c, const char *key,
	    const char *const *rcpts, size_t n, enum handover_go *go_r);

/* The copies to rcpts[0..n-1] were handed over: mark them done in one
 * transaction.  A failure is logged; the claims then stay and a retry
 * treats them as ambiguous (never a second copy). */
void handover_done_batch(struct conn *c, const char *key,
	    const char *const *rcpts, size_t n);

/*
 * Inside the caller's open transaction, the record of a quarantine row for
 * rcpt: 1 write the row (no record yet, or this attempt's claim), 0 skip it
 * (an earlier attempt quarantined it or handed it over), -1 store error
 * (why filled).  key NULL: always 1.
 */
int handover_quarantine(struct conn *c, const char *key, const char *rcpt,
	    char *why, size_t whylen);

#endif
