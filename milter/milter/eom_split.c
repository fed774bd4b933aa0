/*
 * eom_split.c - step 5 of the end-of-message decision (eom.c): re-submit
 * one copy per allowed person (reinject.h), each claimed in the store
 * first and marked done after (handover.h), so that a retry of the message
 * never sends one twice; a copy that fails is marked for quarantine.
 * Runs in the connection's thread; everything allocated is in the msg
 * arena.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

#include "addr.h"
#include "campaign.h"
#include "eom-private.h"
#include "feedbackhdr.h"
#include "handover.h"
#include "log.h"
#include "mark.h"
#include "marker.h"
#include "reinject.h"
#include "unsubmail.h"

/* skip_marker - msg_render filter: drop an old split marker */
static bool
skip_marker(const char *name, const void *arg)
{
	(void)arg;
	return strcasecmp(name, CAMPAIGN_SPLIT_HEADER) == 0;
}

/* mark_failed - hold recipient r's split copy with reason
 * (eom_split_failed) */
static void
mark_failed(struct rcpt *r, const char *reason, struct tally *t)
{
	r->reason = CONSENT_NREASONS;
	r->held = reason;
	t->resubmit_failed++;
}

bool
eom_split_failed(const struct rcpt *r)
{
	return r->reason == CONSENT_NREASONS;	/* marked by mark_failed */
}

/* envelope_rcpt - the recipient as the client gave it, without <> and
 * source route: the copy goes to exactly that mailbox (local parts may be
 * case-sensitive) */
static const char *
envelope_rcpt(struct msg *m, const struct rcpt *r)
{
	char box[ADDR_MAX * 2 + 1];
	char *copy = NULL;

	if (addr_path_mailbox(r->raw, box, sizeof(box), NULL) > 0)
		copy = arena_strdup(&m->arena, box);
	return copy != NULL ? copy : r->addr;
}

/* send_copy - hand recipient r's copy over (claimed: go), or mark it;
 * true when it was handed over (to be marked done) */
static bool
send_copy(struct conn *c, struct reinject *ri, struct rcpt *r,
    enum handover_go go, struct edits *e, struct tally *t)
{
	struct msg *m = &c->msg;
	char why[WHY], shown[ADDR_MAX + 40];
	char *marker, *from;
	struct iovec iov[3];
	enum reinject_status st = REINJECT_FAILED;
	int n;

	if (e->del_rcpt != NULL)
		e->del_rcpt[e->ndel_rcpt++] = r->del;
	if (go == HANDOVER_UNKNOWN)
		mark_failed(r, "handover_unknown", t);
	else if (go == HANDOVER_BUSY || go == HANDOVER_FAIL)
		t->busy++;
	if (go != HANDOVER_GO)
		return false;
	/* its own bounce address, as the kept copy's */
	if (fbhdr_sender(c, r->addr, fbhdr_campaign(c), &from) < 0)
		marker = NULL;
	else
		marker = marker_split(c, r->addr, from ? from : m->sender);
	if (marker == NULL ||
	    (n = msg_render(m, marker, skip_marker, NULL, iov)) < 0)
		snprintf(why, sizeof(why), "out of memory, no TokenKeyFile or "
		    "no bounce address");
	else
		st = reinject_copy(ri, from ? from : m->sender,
		    envelope_rcpt(m, r), iov, n, why, sizeof(why));
	if (st == REINJECT_OK) {
		t->resubmitted++;
		/* "as ID": the copy's own lines carry that queue ID */
		log_info("%s: split copy to=%s resubmitted%s%s", m->qid,
		    unsubmail_log_addr(c, r->addr, shown, sizeof(shown)),
		    ri->queued_as[0] != '\0' ? " as " : "", ri->queued_as);
		return true;
	}
	log_warnx("%s: split copy to=%s %s: %s", m->qid,
	    unsubmail_log_addr(c, r->addr, shown, sizeof(shown)),
	    st == REINJECT_UNKNOWN ? "maybe taken (held as handover_unknown, "
	    "not sent again)" : "failed", why);
	mark_failed(r, st == REINJECT_UNKNOWN ? "handover_unknown" :
	    "resubmit_failed", t);
	return false;
}

void
eom_split_copies(struct conn *c, size_t keep, struct edits *e, struct tally *t)
{
	struct msg *m = &c->msg;
	char why[WHY], shown[ADDR_MAX + 40], hkey[MARK_HEX_MAX];
	const char *key = handover_key(c, hkey) == 0 ? hkey : NULL;
	const char *addr[HANDOVER_BATCH], *done[HANDOVER_BATCH];
	enum handover_go go[HANDOVER_BATCH];
	size_t ix[HANDOVER_BATCH], i = 0, j, n, ndone;
	size_t batch = c->rt->cfg->resubmit_address ? HANDOVER_BATCH : 1;
	struct reinject ri;
	bool *dup;

	if ((dup = msg_same_person(m)) == NULL || reinject_open(&ri,
	    c->rt->cfg, m->qid, why, sizeof(why)) < 0) {
		log_warnx("%s: split: re-injection channel: %s: deferred, "
		    "nothing sent", m->qid, dup ? why : "out of memory");
		t->chan_down = true;
		return;
	}
	while (i < m->nrcpt) {
		for (n = 0; i < m->nrcpt && n < batch; i++) {
			struct rcpt *r = &m->rcpt[i];

			if (i == keep || r->unsub ||
			    r->reason != CONSENT_DELIVER)
				continue;
			if (dup[i]) {
				log_debug("%s: split copy to=%s: same person "
				    "as an earlier recipient, not sent twice",
				    m->qid, unsubmail_log_addr(c, r->addr,
				    shown, sizeof(shown)));
				continue;
			}
			ix[n] = i;
			addr[n++] = r->addr;
		}
		handover_claim_batch(c, key, addr, n, go);
		for (j = ndone = 0; j < n; j++)
			if (send_copy(c, &ri, &m->rcpt[ix[j]], go[j], e, t))
				done[ndone++] = addr[j];
		handover_done_batch(c, key, done, ndone);
	}
	reinject_close(&ri);
}
