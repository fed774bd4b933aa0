/*
 * feedbackhdr.c - bounce address, CFBL-Address, Feedback-ID, sent counts
 * and the pause check of campaign copies (feedbackhdr.h).
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "bounce.h"
#include "campaign.h"
#include "config.h"
#include "eom.h"
#include "feedbackhdr.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "token.h"

#define WHY 512

bool
fbhdr_enabled(const struct conn *c)
{
	return c->rt->cfg->bounce_address != NULL ||
	    c->rt->cfg->cfbl_address != NULL;
}

const char *
fbhdr_campaign(const struct conn *c)
{
	const char *v = msg_header(&c->msg, c->rt->cfg->campaign_header);

	return v != NULL && campaign_list_ok(v) ? v : NULL;
}

bool
fbhdr_paused(struct conn *c, const char *campaign, struct verdict *v)
{
	const struct msg *m = &c->msg;
	char reason[200], why[WHY];
	struct store *st;
	bool tf;

	if (campaign == NULL)
		return false;
	if ((st = conn_store(c, &tf, why, sizeof(why))) == NULL) {
		if (!fbhdr_enabled(c))
			return false;	/* the consent lookup reports it */
		log_err("%s: consent database: %s", m->qid, why);
		eom_db_error(c, v);
		return true;
	}
	/* checked whether or not the feedback loop is configured (an admin
	 * may pause a campaign by hand: optinctl campaign pause), unless
	 * neither it nor the engine's pause table exists */
	if (!fbhdr_enabled(c) && !store_has_feedback(st))
		return false;
	reason[0] = '\0';
	switch (store_campaign_paused(st, campaign, reason, sizeof(reason),
	    NULL, why, sizeof(why))) {
	case STORE_NOTFOUND:
		return false;
	case STORE_OK:
		break;
	default:
		/* a store that cannot say whether the campaign is paused
		 * must not send it */
		log_err("%s: campaign %s pause check: %s", m->qid, campaign,
		    why);
		eom_db_error(c, v);
		return true;
	}
	/* the reply text goes to the client: no '%' (libmilter formats) */
	for (char *p = reason; *p != '\0'; p++)
		if (*p == '%' || *p == '\r' || *p == '\n')
			*p = '?';
	v->kind = VERDICT_TEMPFAIL;
	v->rcode = "451";
	v->xcode = "4.7.1";
	snprintf(v->text, sizeof(v->text), "campaign %s paused: %s (optinctl "
	    "campaign resume %s)", campaign, reason[0] ? reason : "paused",
	    campaign);
	log_info("%s: campaign list=%s campaign=%s paused (%s): kept queued",
	    m->qid, m->list, campaign, reason);
	return true;
}

int
fbhdr_sender(struct conn *c, const char *rcpt, const char *campaign,
    char **out)
{
	struct msg *m = &c->msg;
	char buf[ADDR_MAX + 1], why[WHY];

	*out = NULL;
	if (c->rt->cfg->bounce_address == NULL)
		return 0;
	if (c->rt->ring == NULL) {
		log_err("%s: BounceAddress: no TokenKeyFile loaded", m->qid);
		return -1;
	}
	if (bounce_address(c->rt->cfg->bounce_address, c->rt->ring, rcpt,
	    m->list, campaign, token_day(time(NULL)), buf, sizeof(buf), why,
	    sizeof(why)) < 0) {
		log_err("%s: BounceAddress: %s", m->qid, why);
		return -1;
	}
	if ((*out = arena_strdup(&m->arena, buf)) == NULL)
		return -1;
	return 0;
}

int
fbhdr_values(struct conn *c, const char *rcpt, const char *campaign,
    char **cfbl, char **fbid)
{
	const struct config *cfg = c->rt->cfg;
	struct msg *m = &c->msg;
	char tok[TOKEN_MAX], from[ADDR_MAX + 1], line[TOKEN_MAX + 400];
	char why[WHY];
	const char *fromv = msg_header(m, "From"), *dom;

	*cfbl = *fbid = NULL;
	if (!fbhdr_enabled(c))
		return 0;
	if (cfg->cfbl_address != NULL) {
		/* RFC 9477 section 3.1: the address, then report=arf */
		snprintf(line, sizeof(line), "%s; report=arf",
		    cfg->cfbl_address);
		if ((*cfbl = arena_strdup(&m->arena, line)) == NULL)
			return -1;
	}
	if (c->rt->ring == NULL)
		return 0;
	if (bounce_token(c->rt->ring, rcpt, m->list, campaign,
	    token_day(time(NULL)), tok, sizeof(tok), why, sizeof(why)) < 0) {
		log_err("%s: Feedback-ID: %s", m->qid, why);
		return -1;
	}
	if (fromv == NULL || addr_from_header(fromv, from, sizeof(from), why,
	    sizeof(why)) < 0 || (dom = addr_domain(from)) == NULL)
		dom = "";
	snprintf(line, sizeof(line), "%s:%s:%s:%s", campaign ? campaign : "",
	    m->list, tok, dom);
	if ((*fbid = arena_strdup(&m->arena, line)) == NULL)
		return -1;
	return 0;
}

void
fbhdr_count_sent(struct conn *c, const char *campaign)
{
	const struct msg *m = &c->msg;
	char why[WHY];
	struct store *st;
	bool tf;

	if (!fbhdr_enabled(c))
		return;
	if ((st = conn_store(c, &tf, why, sizeof(why))) == NULL ||
	    store_sent_add(st, campaign ? campaign : "", m->list, 1, why,
	    sizeof(why)) != STORE_OK)
		log_warnx("%s: sent count of campaign %s not recorded: %s",
		    m->qid, campaign ? campaign : "(none)", why);
}
