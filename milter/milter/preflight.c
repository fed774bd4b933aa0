/*
 * preflight.c - outbound SPF preflight of campaign mail (preflight.h).
 * Results are cached per domain inside spf.c, so this costs one DNS
 * evaluation per sender domain and TTL, not one per message.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "eom.h"
#include "log.h"
#include "metrics.h"
#include "preflight.h"
#include "session.h"
#include "spf.h"

bool
preflight_spf(const struct conn *c, struct verdict *v)
{
	const struct config *cfg = c->rt->cfg;
	const struct msg *m = &c->msg;
	char explain[200], bounce[ADDR_MAX + 1];
	const char *sender = m->sender, *at;
	enum spf_result r;

	/* campaign copies leave with the bounce address (feedbackhdr.h):
	 * its domain is the one the receiver checks */
	if (cfg->bounce_address != NULL &&
	    (at = strrchr(cfg->bounce_address, '@')) != NULL) {
		snprintf(bounce, sizeof(bounce), "bounce%s", at);
		sender = bounce;
	}
	if (c->rt->spf == NULL || cfg->spf_check == SPF_OFF ||
	    cfg->outbound_ip.n == 0 || sender == NULL)
		return false;
	r = spf_check_outbound(c->rt->spf, sender, explain,
	    sizeof(explain));
	metrics_spf(r);
	if (r == SPFR_PASS) {
		log_debug("%s: spf=pass %s", m->qid, explain);
		return false;
	}
	log_warnx("%s: spf=%s campaign %s domain does not authorise this "
	    "relay: %s", m->qid, spf_result_str(r), sender == bounce ?
	    "bounce address" : "sender", explain);
	if (cfg->spf_check != SPF_REJECT)
		return false;
	if (r == SPFR_TEMPERROR) {
		v->kind = VERDICT_TEMPFAIL;
		v->rcode = "451";
		v->xcode = "4.7.24";
		snprintf(v->text, sizeof(v->text), "SPF temporary error: %s",
		    explain);
	} else {
		v->kind = VERDICT_REJECT;
		v->rcode = "550";
		v->xcode = "5.7.23";
		snprintf(v->text, sizeof(v->text), "SPF %s: %s",
		    spf_result_str(r), explain);
	}
	/* the reply text goes to the client: no '%' (libmilter formats) */
	for (char *p = v->text; *p != '\0'; p++)
		if (*p == '%')
			*p = '?';
	return true;
}
