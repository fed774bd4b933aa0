/*
 * reinject.c - one split copy to the MTA by SendmailCommand or over the
 * ResubmitAddress channel (reinject.h).
 *
 * The channel is reconnected at most once per message: a lost connection
 * before a copy's final dot left nothing at the server (smtpc.h), so that
 * copy is sent again on the new connection; a second loss, or a failed
 * reconnect, fails this and every later copy (quarantined as
 * resubmit_failed: nothing lost, and nothing sent twice).
 */
#include "autoconf.h"

#include <stdio.h>

#include "log.h"
#include "reinject.h"
#include "resubmit.h"

#define HELO	"localhost"

int
reinject_open(struct reinject *ri, const struct config *cfg, const char *qid,
    char *why, size_t whylen)
{
	ri->cfg = cfg;
	ri->qid = qid;
	ri->chan = NULL;
	ri->reconnected = false;
	if (cfg->resubmit_address == NULL)
		return 0;
	ri->chan = smtpc_open(cfg->resubmit_address, HELO,
	    (int)cfg->resubmit_timeout, why, whylen);
	return ri->chan != NULL ? 0 : -1;
}

enum reinject_status
reinject_copy(struct reinject *ri, const char *sender, const char *rcpt,
    const struct iovec *iov, int iovcnt, char *why, size_t whylen)
{
	enum smtpc_status st;
	char tmp[300];

	if (ri->cfg->resubmit_address == NULL)
		return resubmit_message(ri->cfg->sendmail_command, sender, rcpt,
		    iov, iovcnt, why, whylen) == 0 ? REINJECT_OK :
		    REINJECT_FAILED;
	for (;;) {
		if (ri->chan == NULL) {
			snprintf(why, whylen, "re-injection channel %s is gone",
			    ri->cfg->resubmit_address);
			return REINJECT_FAILED;
		}
		st = smtpc_send(ri->chan, sender, rcpt, iov, iovcnt, why,
		    whylen);
		if (st == SMTPC_OK)
			return REINJECT_OK;
		if (st == SMTPC_REFUSED)
			return REINJECT_FAILED;	/* a dead channel after a
						   failed RSET: the next copy
						   sees SMTPC_LOST */
		if (st == SMTPC_UNKNOWN) {
			/* the next copy may use the one reconnect */
			smtpc_close(&ri->chan);
			if (!ri->reconnected) {
				ri->reconnected = true;
				ri->chan = smtpc_open(ri->cfg->resubmit_address,
				    HELO, (int)ri->cfg->resubmit_timeout, tmp,
				    sizeof(tmp));
			}
			return REINJECT_UNKNOWN;
		}
		/* SMTPC_LOST: nothing taken; reconnect once and go on */
		smtpc_close(&ri->chan);
		if (ri->reconnected)
			return REINJECT_FAILED;
		ri->reconnected = true;
		log_warnx("%s: re-injection channel %s lost (%s): "
		    "reconnecting", ri->qid, ri->cfg->resubmit_address, why);
		if ((ri->chan = smtpc_open(ri->cfg->resubmit_address, HELO,
		    (int)ri->cfg->resubmit_timeout, why, whylen)) == NULL)
			return REINJECT_FAILED;
	}
}

void
reinject_close(struct reinject *ri)
{
	smtpc_close(&ri->chan);
}
