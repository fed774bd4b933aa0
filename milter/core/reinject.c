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

#include <ctype.h>
#include <stdio.h>
#include <string.h>

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
	ri->queued_as[0] = '\0';
	if (cfg->resubmit_address == NULL)
		return 0;
	ri->chan = smtpc_open(cfg->resubmit_address, HELO,
	    (int)cfg->resubmit_timeout, why, whylen);
	return ri->chan != NULL ? 0 : -1;
}

/* queued_as - the queue ID in a final reply's text as Postfix words it
 * ("250 2.0.0 Ok: queued as 4Z9VQ02ZtVz9v4"), else "": letters and
 * digits only, so a log line gets nothing else from the reply */
static void
queued_as(const char *text, char *out, size_t outlen)
{
	const char *p = strstr(text, "queued as ");
	size_t n = 0;

	if (p != NULL)
		for (p += 10; isalnum((unsigned char)p[n]) && n + 1 < outlen;
		    n++)
			out[n] = p[n];
	out[n] = '\0';
}

enum reinject_status
reinject_copy(struct reinject *ri, const char *sender, const char *rcpt,
    const struct iovec *iov, int iovcnt, char *why, size_t whylen)
{
	enum smtpc_status st;
	char tmp[300];

	ri->queued_as[0] = '\0';
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
		if (st == SMTPC_OK) {
			queued_as(smtpc_last_reply(ri->chan), ri->queued_as,
			    sizeof(ri->queued_as));
			return REINJECT_OK;
		}
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
