/*
 * eom.c - the end-of-message decision (eom.h).
 *
 * Order matters, so that nothing is lost and nothing is sent twice:
 *  1. look up every recipient (a store failure is OnDBError, nothing done);
 *  2. refuse what the configuration refuses (defer/reject, marker misuse);
 *  3. make the copy safe to sign (msgsafe.h: author fields, missing
 *     Message-ID and Date), build the personal headers and the signature
 *     of the kept copy (pure: a failure here still leaves everything
 *     untouched); a copy whose signature the relay would break, or that
 *     no key signs, is held whole in quarantine (line_too_long,
 *     no_signing_key), deferred or refused per the configuration;
 *  4. write the quarantine copy durably with one row per blocked recipient;
 *  5. re-submit split copies (eom_split.c, through reinject.h:
 *     SendmailCommand, or one SMTP connection to ResubmitAddress), claimed
 *     in the store first and marked done after, a batch per transaction
 *     (handover.h: a retry of the message never sends one twice, nor
 *     writes a quarantine row twice); a failed one goes to quarantine;
 *  6. only then list the recipients to remove.
 * The MTA does not report whether a removal matched anyone, so removals are
 * used only when their strings are known to match (removal_sure); else no
 * copy is kept: step 5 re-submits every allowed person's copy and the
 * message is discarded.  Mode monitor stops after step 3, with personal
 * headers only on a message with one recipient.
 * Runs in the connection's thread; everything allocated is in the msg arena.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "campaign.h"
#include "config.h"
#include "dkimsign.h"
#include "edits.h"
#include "eom.h"
#include "feedbackhdr.h"
#include "handover.h"
#include "log.h"
#include "mark.h"
#include "metrics.h"
#include "marker.h"
#include "msgsafe.h"
#include "quarantine.h"
#include "session.h"
#include "store.h"
#include "token.h"
#include "unsubhdr.h"
#include "unsubmail.h"

#include "eom-private.h"

static void
set_verdict(struct verdict *v, enum verdict_kind kind, const char *rcode,
    const char *xcode, const char *text)
{
	v->kind = kind;
	v->rcode = rcode;
	v->xcode = xcode;
	snprintf(v->text, sizeof(v->text), "%s", text ? text : "");
}

void
eom_db_error(const struct conn *c, struct verdict *v)
{
	metrics_add(METRIC_DB_ERRORS, 1);
	switch (c->rt->cfg->on_db_error) {
	case ONDBERR_ACCEPT:
		set_verdict(v, VERDICT_ACCEPT, NULL, NULL, NULL);
		break;
	case ONDBERR_REJECT:
		set_verdict(v, VERDICT_REJECT, "550", "5.3.0",
		    "consent database unavailable");
		break;
	default:
		set_verdict(v, VERDICT_TEMPFAIL, "451", "4.3.0",
		    "consent database unavailable, try again later");
	}
}

/* lookup_all - decide every recipient; 0, -1 on a store failure, -2 when
 * the list does not exist, 1 when the campaign is paused (v set; never
 * checked in monitor or for a release).  The recipients to look up go to
 * the store in one call (store_lookup_set: one round trip on PostgreSQL);
 * all these reads share one snapshot (store_reads_begin), taken at the
 * first and ended here, before anything is written: never held across
 * messages, so an opt-out committed before this message is seen. */
static int
lookup_all(struct conn *c, bool released, bool monitor, struct tally *t,
    struct verdict *v)
{
	struct msg *m = &c->msg;
	char why[WHY], shown[ADDR_MAX + 40];
	struct store_erasure er = { c->rt->erasure, c->rt->ring };
	struct consent_row *rows = NULL;
	const char **addrs = NULL;
	struct store *st;
	bool tempfail;
	size_t i, n = 0, k = 0;
	int rc = 0;

	if ((st = conn_store(c, &tempfail, why, sizeof(why))) == NULL) {
		log_err("%s: consent database: %s", m->qid, why);
		return -1;
	}
	if (store_reads_begin(st, why, sizeof(why)) != STORE_OK) {
		log_err("%s: consent database: %s", m->qid, why);
		return -1;
	}
	/* a paused campaign stays queued (an admin's release goes) */
	if (!monitor && !released && fbhdr_paused(c, fbhdr_campaign(c), v)) {
		rc = 1;
		goto out;
	}
	switch (store_list_exists(st, m->list, NULL, why, sizeof(why))) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		/* a typo in the list header must not send the whole
		 * campaign to quarantine: keep it queued, say why */
		log_warnx("%s: campaign names unknown list '%s' (create it with "
		    "optinctl list add, or fix %s)", m->qid, m->list,
		    c->rt->cfg->list_header);
		rc = -2;
		goto out;
	default:
		log_err("%s: consent database: %s", m->qid, why);
		rc = -1;
		goto out;
	}
	if (!released && m->nrcpt > 0) {
		rows = calloc(m->nrcpt, sizeof(*rows));
		addrs = calloc(m->nrcpt, sizeof(*addrs));
		if (rows == NULL || addrs == NULL) {
			log_err("%s: consent lookup: out of memory", m->qid);
			rc = -1;
			goto out;
		}
		for (i = 0; i < m->nrcpt; i++)
			if (!m->rcpt[i].unsub && m->rcpt[i].addr != NULL)
				addrs[n++] = m->rcpt[i].addr;
		/* an erased person stays suppressed (optinctl forget keeps
		 * only the erased form, ErasureKeyFile) */
		if (store_lookup_set(st, addrs, n, &er, m->list, rows, why,
		    sizeof(why)) != STORE_OK) {
			log_err("%s: consent lookup: %s", m->qid, why);
			rc = -1;
			goto out;
		}
	}
	for (i = 0; i < m->nrcpt; i++) {
		struct rcpt *r = &m->rcpt[i];

		if (r->unsub)
			continue;
		if (released) {
			/* an admin's forced release: no consent check */
			r->reason = CONSENT_DELIVER;
		} else if (r->addr == NULL) {
			/* never a silent match: held as no_consent */
			log_warnx("%s: recipient %s cannot be parsed: held "
			    "as no_consent", m->qid, unsubmail_log_addr(c,
			    r->raw, shown, sizeof(shown)));
			r->reason = CONSENT_NO_CONSENT;
		} else
			r->reason = consent_decide(&rows[k++]);
		t->by_reason[r->reason]++;
		if (r->reason == CONSENT_DELIVER)
			t->allowed++;
		else
			t->blocked++;
	}
out:
	store_reads_end(st);
	free(rows);
	free(addrs);
	return rc;
}

/* rcpt_replies - could the MTA answer each RCPT of this message?  Only
 * recipients in angle brackets came from an SMTP client (session.h) */
static bool
rcpt_replies(const struct msg *m)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].del == NULL)
			return false;
	return true;
}

/* first_allowed - index of the recipient kept in this copy */
static size_t
first_allowed(const struct msg *m)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++)
		if (!m->rcpt[i].unsub && m->rcpt[i].reason == CONSENT_DELIVER)
			return i;
	return m->nrcpt;
}

/* spool_drop - remove spool file name that no row names (the rows were
 * rolled back, or an earlier attempt wrote them all): it holds personal
 * data, and purge works from the rows */
static void
spool_drop(const struct config *cfg, const char *qid, const char *name)
{
	char why[WHY];

	if (quarantine_remove(cfg->quarantine_dir, name, why, sizeof(why)) < 0)
		log_err("%s: quarantine: %s", qid, why);
}

/* quarantine_rcpts - write the copy once and a row per recipient i for
 * which pick(i) holds; 0 or -1 */
static int
quarantine_rcpts(struct conn *c, bool (*pick)(const struct rcpt *),
    const char *fixed_reason)
{
	struct msg *m = &c->msg;
	const struct config *cfg = c->rt->cfg;
	char name[QUARANTINE_NAME_MAX], why[WHY], shown[ADDR_MAX + 40];
	char hkey[MARK_HEX_MAX];
	const char *key = handover_key(c, hkey) == 0 ? hkey : NULL;
	struct quarantine_row row;
	struct iovec iov[3];
	long long id;
	size_t i, nrows = 0;
	int n, ho;
	bool tf;

	if ((n = msg_render(m, NULL, NULL, NULL, iov)) < 0) {
		log_err("%s: quarantine: out of memory", m->qid);
		return -1;
	}
	if (quarantine_write(cfg->quarantine_dir, m->qid, iov, n, name, why,
	    sizeof(why)) < 0) {
		log_err("%s: quarantine: %s", m->qid, why);
		return -1;
	}
	if (conn_store(c, &tf, why, sizeof(why)) == NULL ||
	    store_begin(c->st, why, sizeof(why)) != STORE_OK) {
		log_err("%s: quarantine rows: %s", m->qid, why);
		spool_drop(cfg, m->qid, name);
		return -1;
	}
	for (i = 0; i < m->nrcpt; i++) {
		struct rcpt *r = &m->rcpt[i];

		if (!pick(r))
			continue;
		if ((ho = handover_quarantine(c, key, r->addr ? r->addr :
		    r->raw, why, sizeof(why))) == 0)
			continue;
		if (ho < 0) {
			store_rollback(c->st);
			log_err("%s: quarantine record: %s", m->qid, why);
			spool_drop(cfg, m->qid, name);
			return -1;
		}
		memset(&row, 0, sizeof(row));
		row.queue_id = m->qid;
		row.message_id = msg_header(m, "Message-ID");
		row.sender = m->sender ? m->sender : "";
		row.recipient = r->addr ? r->addr : r->raw;
		row.list = m->list;
		row.reason = fixed_reason ? fixed_reason : r->held ? r->held :
		    consent_reason_str(r->reason);
		row.spool_file = name;
		row.received_at = time(NULL);
		if (store_quarantine_add(c->st, &row, &id, why, sizeof(why))
		    != STORE_OK) {
			store_rollback(c->st);
			log_err("%s: quarantine row: %s", m->qid, why);
			spool_drop(cfg, m->qid, name);
			return -1;
		}
		nrows++;
		log_info("%s: quarantine to=%s list=%s reason=%s id=%lld "
		    "file=%s", m->qid, unsubmail_log_addr(c, row.recipient,
		    shown, sizeof(shown)), m->list, row.reason, id, name);
	}
	if (store_commit(c->st, why, sizeof(why)) != STORE_OK) {
		/* a commit that failed may still have landed (a server
		 * gone during COMMIT): its rows would name the file */
		log_err("%s: quarantine rows: %s (spool file %s kept)", m->qid,
		    why, name);
		return -1;
	}
	metrics_add(METRIC_QUARANTINE_ROWS, nrows);
	/* every row was written by an earlier attempt: no second copy */
	if (nrows == 0)
		spool_drop(cfg, m->qid, name);
	return 0;
}

static bool
pick_blocked(const struct rcpt *r)
{
	return !r->unsub && r->reason != CONSENT_DELIVER;
}

/* pick_held - every recipient that does not get this copy: blocked, or
 * allowed but held (hold_all) */
static bool
pick_held(const struct rcpt *r)
{
	return !r->unsub && (r->reason != CONSENT_DELIVER || r->held != NULL);
}

/* personal_headers - List-Unsubscribe, -Post and List-Id for rcpt, after
 * removing those the application set and the internal headers */
static int
personal_headers(struct conn *c, const char *rcpt, struct edits *e)
{
	const struct config *cfg = c->rt->cfg;
	struct msg *m = &c->msg;
	char token[TOKEN_MAX], lu[UNSUBHDR_MAX], lid[300], why[WHY];
	char *cfbl, *fbid;
	size_t i;

	if (edits_del_all(m, e, "List-Unsubscribe") < 0 ||
	    edits_del_all(m, e, "List-Unsubscribe-Post") < 0)
		return -1;
	/* the feedback loop's headers: ours or none (feedbackhdr.h) */
	if (fbhdr_enabled(c) && (edits_del_all(m, e, "CFBL-Address") < 0 ||
	    edits_del_all(m, e, "Feedback-ID") < 0 ||
	    fbhdr_values(c, rcpt, fbhdr_campaign(c), &cfbl, &fbid) < 0 ||
	    (cfbl != NULL && edits_add(e, "CFBL-Address", cfbl) < 0) ||
	    (fbid != NULL && edits_add(e, "Feedback-ID", fbid) < 0)))
		return -1;
	for (i = 0; cfg->strip_internal_headers && i < m->nhdr; i++) {
		const char *n = m->hdr[i].name;

		if (campaign_internal_header(cfg, n) && !edits_is_deleted(e, n, 1) &&
		    edits_del_all(m, e, n) < 0)
			return -1;
	}
	if (c->rt->ring != NULL && (cfg->unsubscribe_url != NULL ||
	    cfg->unsubscribe_mailto != NULL)) {
		if (token_issue(c->rt->ring, rcpt, m->list,
		    token_day(time(NULL)), token, sizeof(token), why,
		    sizeof(why)) < 0 ||
		    unsubhdr_list_unsubscribe(cfg->unsubscribe_url,
		    cfg->unsubscribe_mailto, token, lu, sizeof(lu), why,
		    sizeof(why)) < 0) {
			log_err("%s: List-Unsubscribe: %s", m->qid, why);
			return -1;
		}
		if (edits_add(e, "List-Unsubscribe",
		    arena_strdup(&m->arena, lu)) < 0)
			return -1;
		if (cfg->unsubscribe_url != NULL && edits_add(e,
		    "List-Unsubscribe-Post", arena_strdup(&m->arena,
		    unsubhdr_post_value())) < 0)
			return -1;
	}
	if (msg_header(m, "List-Id") == NULL && cfg->list_id_domain != NULL &&
	    unsubhdr_list_id(m->list, cfg->list_id_domain, lid,
	    sizeof(lid)) >= 0 &&
	    edits_add(e, "List-Id", arena_strdup(&m->arena, lid)) < 0)
		return -1;
	return 0;
}

/* sign - DKIM-sign the final header list (after edits); 1 signed, 0 not
 * (no signing configured, or no key for this From), -1 error */
static int
sign(struct conn *c, struct edits *e, struct tally *t, bool need_lu)
{
	struct msg *m = &c->msg;
	struct dkimsign_hdr *h;
	struct dkimsign_result res;
	char from[ADDR_MAX + 1], why[WHY];
	const char *fromv;
	size_t i, nh = 0, j;
	int rc, *seen;

	t->dkim = "none";
	if (c->rt->dkim == NULL)
		return 0;
	if ((h = arena_alloc(&m->arena, (m->nhdr + EDITS_MAX_ADD) *
	    sizeof(*h))) == NULL || (seen = arena_alloc(&m->arena,
	    m->nhdr * sizeof(int))) == NULL)
		return -1;
	for (i = 0; i < m->nhdr; i++) {
		/* occurrence number of this header among its name */
		seen[i] = 1;
		for (j = 0; j < i; j++)
			if (strcasecmp(m->hdr[j].name, m->hdr[i].name) == 0)
				seen[i]++;
		if (edits_is_deleted(e, m->hdr[i].name, seen[i]))
			continue;
		h[nh].name = m->hdr[i].name;
		h[nh++].value = m->hdr[i].value;
	}
	for (i = 0; i < e->nadd; i++) {
		h[nh].name = e->add[i].name;
		h[nh++].value = e->add[i].value;
	}
	fromv = msg_header(m, "From");
	if (fromv == NULL || addr_from_header(fromv, from, sizeof(from), why,
	    sizeof(why)) < 0)
		from[0] = '\0';
	memset(&res, 0, sizeof(res));
	rc = dkimsign_message(c->rt->dkim, from[0] ? from : NULL, h, nh,
	    m->body.data, m->body.len, &res, why, sizeof(why));
	if (rc < 0) {
		log_err("%s: DKIM signing failed: %s", m->qid, why);
		metrics_add(METRIC_SIGN_FAILURES, 1);
		return -1;
	}
	for (i = 0; rc > 0 && i < res.n && i < EDITS_MAX_SIG; i++) {
		if (need_lu && (!dkimsign_covers(res.sig[i].value,
		    "List-Unsubscribe") || !dkimsign_covers(res.sig[i].value,
		    "List-Unsubscribe-Post"))) {
			log_err("%s: DKIM signature does not cover the "
			    "List-Unsubscribe headers (RFC 8058 section 3)",
			    m->qid);
			metrics_add(METRIC_SIGN_FAILURES, 1);
			dkimsign_result_free(&res);
			return -1;
		}
		e->sig[e->nsig++] = arena_strdup(&m->arena, res.sig[i].value);
		snprintf(t->sigdesc + strlen(t->sigdesc), sizeof(t->sigdesc) -
		    strlen(t->sigdesc), "%sdkim=%s d=%s s=%s", i ? " " : "",
		    res.sig[i].alg, res.sig[i].domain, res.sig[i].selector);
	}
	dkimsign_result_free(&res);
	for (i = 0; i < e->nsig; i++)
		if (e->sig[i] == NULL)
			return -1;
	return rc > 0;
}

/*
 * removal_sure - will smfi_delrcpt remove exactly the recipients we name?
 * Only when every recipient came in angle brackets (its removal string is
 * known, session.h), parses, has a plain local part and no other recipient
 * has the same normalised address: Postfix removes every recipient whose
 * parsed form equals the one named, so two spellings of one mailbox
 * ("ann"@x and ann@x) would both go.  When this is false, nothing may rest
 * on smfi_delrcpt: the MTA would not say that it removed nothing.
 */
static bool
removal_sure(const struct msg *m)
{
	size_t i, j;

	for (i = 0; i < m->nrcpt; i++) {
		const struct rcpt *r = &m->rcpt[i];

		if (r->del == NULL || r->addr == NULL ||
		    strpbrk(r->addr, "\"\\") != NULL)
			return false;
		for (j = 0; j < i; j++)
			if (strcmp(m->rcpt[j].addr, r->addr) == 0)
				return false;
	}
	return true;
}

/* log_would_quarantine - Mode monitor: what enforce would have held */
static void
log_would_quarantine(struct conn *c)
{
	const struct msg *m = &c->msg;
	char shown[ADDR_MAX + 40];
	size_t i;

	for (i = 0; i < m->nrcpt; i++)
		if (pick_held(&m->rcpt[i]))
			log_info("%s: would quarantine to=%s list=%s reason=%s",
			    m->qid, unsubmail_log_addr(c, m->rcpt[i].addr ?
			    m->rcpt[i].addr : m->rcpt[i].raw, shown,
			    sizeof(shown)), m->list, m->rcpt[i].held ?
			    m->rcpt[i].held :
			    consent_reason_str(m->rcpt[i].reason));
}

/* log_decision - the one line per message (DESIGN "Message flow") */
static void
log_decision(struct conn *c, const struct tally *t, const char *outcome)
{
	const struct msg *m = &c->msg;
	char reasons[200] = "", shown[ADDR_MAX + 40];
	const char *from;
	size_t r, len = 0;

	for (r = CONSENT_SUPPRESSED; r < CONSENT_NREASONS; r++)
		if (t->by_reason[r] > 0)
			len += (size_t)snprintf(reasons + len, sizeof(reasons)
			    - len, "%s%s=%zu", len ? " " : " (",
			    consent_reason_str((enum consent_reason)r),
			    t->by_reason[r]);
	if (len > 0)
		snprintf(reasons + len, sizeof(reasons) - len, ")");
	metrics_decision(t->by_reason, t->resubmitted);
	/* a sender over ADDR_MAX octets has neither form (mlfi_envfrom):
	 * the text as given, which log_safe cuts; it logged from=<>, which
	 * reads as a null sender, the only one that is to */
	from = m->sender != NULL ? m->sender : m->sender_path != NULL ?
	    m->sender_path : m->sender_raw != NULL &&
	    strlen(m->sender_raw) > ADDR_MAX ? m->sender_raw : NULL;
	log_info("%s: %scampaign list=%s from=%s allowed=%zu quarantined=%zu%s"
	    "%s%s%s%s%s", m->qid, c->rt->cfg->mode == MODE_MONITOR ?
	    "would " : "", m->list, unsubmail_log_addr(c, from, shown,
	    sizeof(shown)), t->allowed, t->blocked + t->resubmit_failed +
	    t->held, reasons, t->resubmitted ? " split=yes" : "",
	    outcome[0] ? " " : "", outcome, t->sigdesc[0] ? " " : "",
	    t->sigdesc);
}

/* decide_monitor - Mode monitor: remove and quarantine nobody, log what
 * enforce would have done (the caller added personal headers only to a
 * copy with exactly one recipient: DESIGN "Message flow" item 6) */
static void
decide_monitor(struct conn *c, struct tally *t)
{
	const struct config *cfg = c->rt->cfg;
	struct msg *m = &c->msg;
	char outcome[80] = "";

	if (t->allowed > 1)
		snprintf(outcome, sizeof(outcome), "multi_recipient=%s",
		    cfg->multi_recipient == MULTI_SPLIT ? "split" :
		    cfg->multi_recipient == MULTI_DEFER ? "defer" : "reject");
	if (m->nrcpt > 1)
		snprintf(outcome + strlen(outcome), sizeof(outcome) -
		    strlen(outcome), "%spersonal_headers=none",
		    outcome[0] ? " " : "");
	log_would_quarantine(c);
	log_decision(c, t, outcome);
}

/* decide_transactional - sign when SignAll, else nothing; never sign the
 * ambiguous or what the relay would break, but never refuse transactional
 * mail for it either (DESIGN "Consent model": nothing blocks it) */
static void
decide_transactional(struct conn *c, struct edits *e, struct verdict *v)
{
	struct tally t = { 0 };
	char why[WHY];
	int rc;

	set_verdict(v, VERDICT_ACCEPT, NULL, NULL, NULL);
	if (!c->rt->cfg->sign_all)
		return;
	if (msgsafe_author(&c->msg, why, sizeof(why)) < 0)
		log_warnx("%s: transactional, not signed: %s", c->msg.qid,
		    why);
	else if ((rc = sign(c, e, &t, false)) < 0)
		set_verdict(v, VERDICT_TEMPFAIL, "451", "4.3.0",
		    "signing failed, try again later");
	else if (rc > 0 && msgsafe_breaks(&c->msg, e->sig[0], why,
	    sizeof(why))) {
		log_warnx("%s: transactional, not signed: %s (over %d): the "
		    "relay would break the signature", c->msg.qid, why,
		    MSGSAFE_LINE_MAX);
		e->nsig = 0;
	} else if (t.sigdesc[0])
		log_info("%s: transactional %s", c->msg.qid, t.sigdesc);
}

/*
 * hold_all - a copy that cannot go out safely (reason line_too_long or
 * no_signing_key): one spool file, one row per recipient, blocked ones
 * with their consent reason and allowed ones with reason, then discard:
 * reviewable, nothing lost, nothing sent unsafe.  Mode monitor only logs
 * it and lets the copy pass untouched.
 */
static void
hold_all(struct conn *c, struct edits *e, struct verdict *v,
    struct tally *t, const char *reason)
{
	struct msg *m = &c->msg;
	char outcome[64];
	size_t i;

	memset(e, 0, sizeof(*e));
	t->sigdesc[0] = '\0';		/* nothing is signed */
	for (i = 0; i < m->nrcpt; i++)
		if (!m->rcpt[i].unsub && m->rcpt[i].reason ==
		    CONSENT_DELIVER) {
			m->rcpt[i].held = reason;
			t->held++;
		}
	snprintf(outcome, sizeof(outcome), "held=%s", reason);
	if (c->rt->cfg->mode == MODE_MONITOR) {
		log_would_quarantine(c);
		log_decision(c, t, outcome);
		set_verdict(v, VERDICT_ACCEPT, NULL, NULL, NULL);
		return;
	}
	if (quarantine_rcpts(c, pick_held, NULL) < 0) {
		set_verdict(v, VERDICT_TEMPFAIL, "451", "4.3.0",
		    "local error in consent processing, try again later");
		return;
	}
	set_verdict(v, VERDICT_DISCARD, NULL, NULL, NULL);
	snprintf(outcome + strlen(outcome), sizeof(outcome) - strlen(outcome),
	    " discarded");
	log_decision(c, t, outcome);
}

/* from_domain - the From domain for the logs, or "?" */
static const char *
from_domain(const struct msg *m, char *out, size_t outlen)
{
	char why[WHY];
	const char *v = msg_header(m, "From"), *d;

	if (v == NULL || addr_from_header(v, out, outlen, why,
	    sizeof(why)) < 0 || (d = addr_domain(out)) == NULL)
		return "?";
	return d;
}

/*
 * no_key - OnNoSigningKey for a campaign copy no key signs: it is never
 * sent unsigned with one-click headers unless the admin says accept (RFC
 * 8058 section 4: the receiver needs them signed).  True when that made
 * the verdict.
 */
static bool
no_key(struct conn *c, struct edits *e, struct verdict *v, struct tally *t)
{
	const struct config *cfg = c->rt->cfg;
	struct msg *m = &c->msg;
	char addr[ADDR_MAX + 1];
	const char *d = from_domain(m, addr, sizeof(addr));

	switch (cfg->on_no_signing_key) {
	case ONNOKEY_ACCEPT:
		log_warnx("%s: no signing key for From domain %s: sent "
		    "unsigned (OnNoSigningKey accept)", m->qid, d);
		return false;
	case ONNOKEY_QUARANTINE:
		log_warnx("%s: no signing key for From domain %s: held "
		    "(OnNoSigningKey quarantine)", m->qid, d);
		hold_all(c, e, v, t, "no_signing_key");
		return true;
	case ONNOKEY_TEMPFAIL:
		break;
	}
	log_warnx("%s: no signing key for From domain %s: %s (OnNoSigningKey "
	    "tempfail)", m->qid, d, cfg->mode == MODE_MONITOR ?
	    "would be deferred, passed untouched" : "deferred");
	memset(e, 0, sizeof(*e));
	if (cfg->mode == MODE_MONITOR) {
		set_verdict(v, VERDICT_ACCEPT, NULL, NULL, NULL);
		log_decision(c, t, "deferred=no_signing_key");
		return true;
	}
	set_verdict(v, VERDICT_TEMPFAIL, "451", "4.3.5",
	    "no DKIM signing key for the From domain, try again later");
	log_decision(c, t, "deferred=no_signing_key");
	return true;
}

/* decide_campaign - see the file comment for the order of steps */
static void
decide_campaign(struct conn *c, struct edits *e, struct verdict *v)
{
	const struct config *cfg = c->rt->cfg;
	struct msg *m = &c->msg;
	bool monitor = cfg->mode == MODE_MONITOR, released;
	struct tally t = { 0 };
	char why[WHY], reply[160];
	size_t keep, i;
	int signed_ = 0;

	if (msgsafe_author(m, why, sizeof(why)) < 0) {
		/* RFC 5322 section 3.6: nothing can be signed or attributed.
		 * Permanent: the sender must fix it. */
		log_warnx("%s: campaign %s: %s", m->qid, monitor ?
		    "would be rejected, passed unsigned" : "rejected", why);
		snprintf(reply, sizeof(reply), "campaign message: %.120s",
		    why);
		if (monitor)
			set_verdict(v, VERDICT_ACCEPT, NULL, NULL, NULL);
		else
			set_verdict(v, VERDICT_REJECT, "550", "5.6.0", reply);
		return;
	}
	(void)marker_split_ok(c);		/* a split copy: its list */
	released = marker_release_ok(c);
	if (released)
		log_info("%s: released from quarantine by an admin: delivered "
		    "without a consent check", m->qid);
	switch (lookup_all(c, released, monitor, &t, v)) {
	case 0:
		break;
	case 1:
		return;
	case -2:
		set_verdict(v, VERDICT_TEMPFAIL, "451", "4.3.0",
		    "campaign names an unknown list, try again later");
		return;
	default:
		eom_db_error(c, v);
		return;
	}
	set_verdict(v, VERDICT_ACCEPT, NULL, NULL, NULL);
	if (t.allowed > 1 && !monitor && cfg->multi_recipient != MULTI_SPLIT) {
		/* a message whose recipients came without angle brackets
		 * came where no RCPT reply was possible (Postfix's sendmail(1)
		 * path): a 4xx would keep it in the maildrop queue for ever,
		 * so it is refused and Postfix returns it to the sender */
		if (cfg->multi_recipient == MULTI_DEFER && rcpt_replies(m))
			set_verdict(v, VERDICT_TEMPFAIL, "452", "4.5.3",
			    "one recipient per campaign message");
		else
			set_verdict(v, VERDICT_REJECT, "550", "5.5.3",
			    "one recipient per campaign message");
		log_decision(c, &t, v->kind == VERDICT_TEMPFAIL ?
		    "deferred=multi_recipient" : "rejected=multi_recipient");
		return;
	}
	keep = first_allowed(m);
	if (!monitor && keep < m->nrcpt && (t.blocked > 0 || t.allowed > 1 ||
	    unsubmail_pending(c)) && !removal_sure(m)) {
		/* the MTA might keep someone we remove: send every allowed
		 * person their own copy and drop this message as a whole */
		log_info("%s: recipients the MTA may not match on removal "
		    "(sendmail(1) submission or unusual address form): every "
		    "allowed copy re-submitted, this message discarded",
		    m->qid);
		keep = m->nrcpt;
	}
	/* Message-ID and Date before signing; split copies get the same */
	if (t.allowed > 0 && msgsafe_add_missing(c, e) < 0)
		goto tempfail;
	/* personal headers only when this copy has exactly one recipient
	 * (in monitor every recipient gets this copy) */
	if (keep < m->nrcpt && (!monitor || m->nrcpt == 1) &&
	    personal_headers(c, m->rcpt[keep].addr, e) < 0)
		goto tempfail;
	if (keep < m->nrcpt && (signed_ = sign(c, e, &t, e->nadd > 0 &&
	    cfg->unsubscribe_url != NULL)) < 0)
		goto tempfail;
	if (signed_ > 0 && msgsafe_breaks(m, e->sig[0], why, sizeof(why))) {
		/* Postfix's SMTP client would break it after we signed */
		log_warnx("%s: campaign with a %s (over %d): the relay would "
		    "break its signature: held as line_too_long", m->qid, why,
		    MSGSAFE_LINE_MAX);
		hold_all(c, e, v, &t, "line_too_long");
		return;
	}
	if (keep < m->nrcpt && signed_ == 0 && c->rt->dkim != NULL &&
	    no_key(c, e, v, &t))
		return;
	if (monitor) {
		decide_monitor(c, &t);
		return;
	}
	/* the personal bounce address (feedbackhdr.h); not in monitor */
	if (keep < m->nrcpt && fbhdr_sender(c, m->rcpt[keep].addr,
	    fbhdr_campaign(c), &e->from) < 0)
		goto tempfail;
	if ((e->del_rcpt = arena_alloc(&m->arena, (m->nrcpt + 1) *
	    sizeof(char *))) == NULL)
		goto tempfail;
	if (t.blocked > 0 && quarantine_rcpts(c, pick_blocked, NULL) < 0)
		goto tempfail;
	if (keep < m->nrcpt) {
		for (i = 0; i < m->nrcpt; i++)
			if (pick_blocked(&m->rcpt[i]))
				e->del_rcpt[e->ndel_rcpt++] = m->rcpt[i].del;
	} else
		e->del_rcpt = NULL;	/* discarded: nothing to remove */
	if (t.allowed > (keep < m->nrcpt ? 1U : 0U)) {
		eom_split_copies(c, keep, e, &t);
		/* the copies that went out are recorded as handed over: a
		 * retry after a tempfail here sends none of them again */
		if (t.resubmit_failed > 0 && quarantine_rcpts(c, eom_split_failed,
		    NULL) < 0)
			goto tempfail;
		if (t.busy > 0) {
			log_decision(c, &t, "deferred=split_in_progress");
			set_verdict(v, VERDICT_TEMPFAIL, "451", "4.3.0",
			    "split copies being handed over, try again later");
			goto untouched;
		}
		if (t.chan_down) {
			log_decision(c, &t, "deferred=resubmit_channel_down");
			set_verdict(v, VERDICT_TEMPFAIL, "451", "4.4.1",
			    "re-injection channel down, try again later");
			goto untouched;
		}
	}
	if (keep == m->nrcpt)
		set_verdict(v, VERDICT_DISCARD, NULL, NULL, NULL);
	else
		fbhdr_count_sent(c, fbhdr_campaign(c));
	log_decision(c, &t, keep == m->nrcpt ? "discarded" : "");
	return;
tempfail:
	set_verdict(v, VERDICT_TEMPFAIL, "451", "4.3.0",
	    "local error in consent processing, try again later");
untouched:
	e->ndel_rcpt = e->nadd = e->nsig = e->ndel_hdr = 0;
	e->from = NULL;
}

/* drop_unsub_rcpts - unsubscribe requests were handled by unsubmail.c:
 * they are not delivered with the rest */
static int
drop_unsub_rcpts(struct msg *m, struct edits *e)
{
	size_t i;

	if (e->del_rcpt == NULL && (e->del_rcpt = arena_alloc(&m->arena,
	    (m->nrcpt + 1) * sizeof(char *))) == NULL)
		return -1;
	/* XXX a transactional message from sendmail(1) gives no removal
	 * string that is known to work (session.h): the MTA may still
	 * deliver it to the unsubscribe mailbox; the request is recorded */
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].unsub)
			e->del_rcpt[e->ndel_rcpt++] = m->rcpt[i].del ?
			    m->rcpt[i].del : m->rcpt[i].raw;
	return 0;
}

void
eom_decide(struct conn *c, struct edits *e, struct verdict *v)
{
	memset(e, 0, sizeof(*e));
	if (c->msg.campaign)
		decide_campaign(c, e, v);
	else
		decide_transactional(c, e, v);
	if (v->kind == VERDICT_ACCEPT && (drop_unsub_rcpts(&c->msg, e) < 0 ||
	    msgsafe_edit_values(&c->msg, e) < 0))
		set_verdict(v, VERDICT_TEMPFAIL, "451", "4.3.0",
		    "out of memory, try again later");
}
