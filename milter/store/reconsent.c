/*
 * reconsent.c - may a suppressed or erased address be opted in again, and
 * lift the block when fresh evidence is given (reconsent.h).
 *
 * optinctl subscribe, confirm and import call it before any change that
 * opts an address in, so that no path re-consents an erased or suppressed
 * person without evidence.  Uses only store.h; thread use as the store.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "reconsent.h"

enum store_status
reconsent_check(struct store *st, const char *addr, const char *addr_hash,
    struct reconsent *r_r, char *why, size_t whylen)
{
	enum store_status rs;

	memset(r_r, 0, sizeof(*r_r));
	rs = store_suppression(st, addr, r_r->reason, sizeof(r_r->reason),
	    NULL, why, whylen);
	if (rs != STORE_OK && rs != STORE_NOTFOUND)
		return rs;
	r_r->suppressed = rs == STORE_OK;
	if (addr_hash == NULL)
		return STORE_OK;
	rs = store_suppression(st, addr_hash, NULL, 0, NULL, why, whylen);
	if (rs != STORE_OK && rs != STORE_NOTFOUND)
		return rs;
	r_r->erased = rs == STORE_OK;
	return STORE_OK;
}

bool
reconsent_blocked(const struct reconsent *r)
{
	return r->suppressed || r->erased;
}

const char *
reconsent_str(const struct reconsent *r, const char *addr, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "%s%s%s%s%s%s", addr,
	    r->erased ? " was erased (optinctl forget)" : "",
	    r->erased && r->suppressed ? " and" : "",
	    r->suppressed ? " is suppressed (" : "",
	    r->suppressed ? r->reason : "", r->suppressed ? ")" : "");
	return out;
}

/* lift_one - lift the suppression key, recording reason and evidence in an
 * event under addr */
static enum store_status
lift_one(struct store *st, const char *addr, const char *key,
    const char *reason, const struct consent_event *ev, char *why,
    size_t whylen)
{
	struct consent_event e = *ev;
	char evidence[1200];

	snprintf(evidence, sizeof(evidence), "reason=%s; %s", reason,
	    ev->evidence);
	e.addr = addr;
	e.list = NULL;
	e.event = "unsuppressed";
	e.evidence = evidence;
	return store_unsuppress(st, key, &e, why, whylen);
}

enum store_status
reconsent_lift(struct store *st, const char *addr, const char *addr_hash,
    const struct reconsent *r, const struct consent_event *ev, char *why,
    size_t whylen)
{
	enum store_status rs = STORE_OK;

	if (ev == NULL || ev->evidence == NULL || ev->evidence[0] == '\0') {
		snprintf(why, whylen, "lifting a suppression needs fresh "
		    "consent evidence");
		return STORE_ERROR;
	}
	if (r->erased && addr_hash != NULL)
		rs = lift_one(st, addr, addr_hash, "erased", ev, why, whylen);
	if (rs == STORE_OK && r->suppressed)
		rs = lift_one(st, addr, addr, r->reason, ev, why, whylen);
	return rs;
}
