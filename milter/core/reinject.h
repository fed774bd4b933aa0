/*
 * reinject.h - hand one split copy (optin-milter) or released copy
 * (optinctl quarantine release) back to the MTA, by the way the
 * configuration names (DESIGN "Message flow" item 2):
 *	ResubmitAddress set	one SMTP connection per message being split
 *				(smtpc.h): opened by reinject_open, one
 *				transaction per copy, reconnected once when
 *				it is lost before a copy's final dot
 *	else			SendmailCommand, one process per copy
 *				(resubmit.h)
 * One per message (or release run), in one thread; not shared.
 */
#ifndef OPTIN_REINJECT_H
#define OPTIN_REINJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "config.h"
#include "smtpc.h"

/* What became of one copy (reinject_copy). */
enum reinject_status {
	REINJECT_OK = 0,	/* handed over */
	REINJECT_FAILED,	/* not taken (refused, or the channel is gone
				   and could not be reopened): quarantine it
				   as resubmit_failed */
	REINJECT_UNKNOWN	/* the channel was lost after the final dot:
				   maybe taken; never send it again (hold it as
				   handover_unknown) */
};

struct reinject {
	const struct config *cfg;	/* borrowed from the runtime */
	const char *qid;		/* borrowed: for logs */
	struct smtpc *chan;		/* owned; NULL with SendmailCommand,
					   or once the channel is gone */
	bool reconnected;		/* the one reconnect is used */
	char queued_as[32];		/* after REINJECT_OK over the channel:
					   the copy's queue ID as the MTA's
					   reply gave it (Postfix: "queued as
					   ID"), else "" */
};

/*
 * Prepare ri for the copies of message qid (for logs; "optinctl" there).  With ResubmitAddress the
 * channel is connected now: -1 with why[] when it cannot be (nothing was
 * sent: the caller defers the message).  0 otherwise.
 */
int reinject_open(struct reinject *ri, const struct config *cfg,
	    const char *qid, char *why, size_t whylen);

/* Hand the copy iov[0..iovcnt-1] to rcpt from sender (NULL or "": the
 * null sender) over; why[] filled unless REINJECT_OK. */
enum reinject_status reinject_copy(struct reinject *ri, const char *sender,
	    const char *rcpt, const struct iovec *iov, int iovcnt, char *why,
	    size_t whylen);

/* QUIT and close the channel, if any.  Safe to call twice. */
void reinject_close(struct reinject *ri);

#endif
