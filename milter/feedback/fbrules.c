/*
 * fbrules.c - bounce classification and the consent changes of reports
 * (fbrules.h).  Consent changes go through store_suppress() and
 * store_set_status() only, which write the consent events.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "bounce.h"
#include "campaign.h"
#include "config.h"
#include "fbrules.h"
#include "kv.h"
#include "log.h"

#define TOKEN_RUN_MIN	40	/* shortest run of base64url worth trying */

/* Text of policy refusals: block lists, reputation, content (RFC 3463
 * puts most of these under x.7.x, but not every MTA does). */
static const char *const policy_words[] = {
	"spam", "block list", "blocklist", "blacklist", "denylist",
	"blocked", "reputation", "policy", "spamhaus", "barracuda",
	"rbl", "dnsbl", "not authorized", "unauthenticated", "dmarc",
	"rate limit", "too many", NULL
};

/* has_word - does text contain one of words (case-insensitive)? */
static bool
has_word(const char *text, const char *const *words)
{
	size_t i;

	for (i = 0; words[i] != NULL; i++)
		if (strcasestr(text, words[i]) != NULL)
			return true;
	return false;
}

/* code_in_text - an enhanced status code "c.s.d" in diagnostic text (for
 * DSNs without a usable Status field) into out (16 bytes) */
static void
code_in_text(const char *text, char out[16])
{
	const char *p;

	out[0] = '\0';
	for (p = text; *p != '\0'; p++) {
		size_t n;

		if ((*p != '4' && *p != '5') || p[1] != '.' ||
		    (p > text && !isspace((unsigned char)p[-1])))
			continue;
		n = 2 + strspn(p + 2, "0123456789");
		if (n == 2 || n > 5 || p[n] != '.')
			continue;
		n += 1 + strspn(p + n + 1, "0123456789");
		if (n < 5 || n > 9 || isdigit((unsigned char)p[n]))
			continue;
		memcpy(out, p, n);
		out[n] = '\0';
		return;
	}
}

const char *
fbrules_classify(const char *status, const char *diagnostic, bool after_data)
{
	static const char *const hard[] = { "5.1.1", "5.1.2", "5.1.3",
	    "5.1.6", NULL };
	static const char *const gone[] = { "disabled", "does not exist",
	    "no longer", "inactive", NULL };
	char code[16];
	size_t i;

	if (diagnostic == NULL)
		diagnostic = "";
	if (status != NULL && *status != '\0')
		snprintf(code, sizeof(code), "%s", status);
	else
		code_in_text(diagnostic, code);
	/* RFC 3463 class 2 is success: a "failed" report that says so
	 * contradicts itself and is never counted against anyone */
	if (code[0] == '2')
		return "unusable";
	/* policy first: a refusal for reputation never suppresses anyone */
	if (strncmp(code + 1, ".7.", 3) == 0 || has_word(diagnostic,
	    policy_words))
		return "policy_bounce";
	if (code[0] != '5')
		return "soft_bounce";
	for (i = 0; hard[i] != NULL; i++)
		if (strcmp(code, hard[i]) == 0)
			return after_data ? "soft_bounce" : "hard_bounce";
	/* Gmail answers 5.2.1 both for disabled accounts and for rate or
	 * quota trouble: only the text tells them apart */
	if (strcmp(code, "5.2.1") == 0 && !after_data &&
	    has_word(diagnostic, gone))
		return "hard_bounce";
	return "soft_bounce";
}

/* try_token - verify tok; fill res on success */
static bool
try_token(const struct fbrules_env *env, const char *tok,
    struct bounce_id *id)
{
	enum token_status ts;

	if (env->ring == NULL || *tok == '\0')
		return false;
	ts = bounce_verify(env->ring, tok, token_day(env->now),
	    env->cfg->token_lifetime / 86400, id);
	return ts == TOKEN_OK || ts == TOKEN_EXPIRED;
}

/* b64url - is c a base64url character? */
static bool
b64url(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

/*
 * find_token - a valid token in text: cut by the BounceAddress and
 * UnsubscribeMailto templates, else (scan) every run of base64url
 * characters long enough (List-Unsubscribe URLs, Feedback-ID fields).
 * The envelope recipient is not scanned: an address with text after the
 * token or on another domain is not one we issued.  The AEAD makes
 * trying any run safe: only tokens we issued verify.
 */
static bool
find_token(const struct fbrules_env *env, const char *text, bool scan,
    struct bounce_id *id)
{
	const char *tpl[2] = { env->cfg->bounce_address,
	    env->cfg->unsubscribe_mailto };
	char tok[TOKEN_MAX];
	const char *p = text;
	size_t i, n;

	for (i = 0; i < 2; i++)
		if (bounce_template_token(tpl[i], text, tok, sizeof(tok)) == 0 &&
		    try_token(env, tok, id))
			return true;
	while (scan && *p != '\0') {
		while (*p != '\0' && !b64url((unsigned char)*p))
			p++;
		for (n = 0; b64url((unsigned char)p[n]); n++)
			;
		if (n >= TOKEN_RUN_MIN && n < sizeof(tok)) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			if (try_token(env, tok, id))
				return true;
		}
		p += n;
	}
	return false;
}

/* cand_word - the identity word of a candidate's origin */
static const char *
cand_word(enum fb_cand_where w)
{
	switch (w) {
	case FB_CAND_MAIL_FROM: return "token:original_mail_from";
	case FB_CAND_RETURN_PATH: return "token:return_path";
	case FB_CAND_LIST_UNSUB: return "token:list_unsubscribe";
	default: return "token:feedback_id";
	}
}

/*
 * copy_campaign - the campaign of the reported copy into res->campaign, for
 * a person a token named when that token carries none (a List-Unsubscribe
 * token never does): the campaign of a token in the copy's Feedback-ID
 * ("CAMPAIGN:LIST:TOKEN:DOMAIN", feedbackhdr.h) for the same person and
 * list, else a Feedback-ID's CAMPAIGN field when its LIST field is the
 * token's list and CAMPAIGN is a valid id (campaign_list_ok).  A verified
 * token wins over every bare CAMPAIGN field, in whatever order the headers
 * come (a forged header before the copy's own names nothing); a Feedback-ID
 * whose token names someone else gives nothing.  Called only once a token
 * verified: a report no token vouches for names no campaign.
 */
static void
copy_campaign(const struct fbrules_env *env, const struct fb_report *r,
    struct fbrules_result *res)
{
	char camp[CAMPAIGN_LIST_MAX + 1], list[CAMPAIGN_LIST_MAX + 1];
	struct bounce_id id;
	const char *t, *c;
	size_t i, n, m;
	int pass;

	/* pass 0: the campaign a token carries; pass 1: bare fields */
	for (pass = 0; pass < 2; pass++)
	for (i = 0; i < r->ncand; i++) {
		if (r->cand[i].where != FB_CAND_FEEDBACK_ID)
			continue;
		t = r->cand[i].text;
		if (find_token(env, t, true, &id)) {
			if (strcmp(id.addr, res->addr) != 0 ||
			    strcmp(id.list, res->list) != 0)
				continue;
			if (id.campaign[0] != '\0') {
				snprintf(res->campaign, sizeof(res->campaign),
				    "%s", id.campaign);
				return;
			}
		}
		if (pass == 0)
			continue;
		t += strspn(t, " \t");
		n = strcspn(t, ":");
		if (t[n] != ':' || n == 0 || n > CAMPAIGN_LIST_MAX)
			continue;
		c = t + n + 1;
		m = strcspn(c, ":");
		if (c[m] != ':' || m > CAMPAIGN_LIST_MAX)
			continue;
		memcpy(camp, t, n);
		camp[n] = '\0';
		memcpy(list, c, m);
		list[m] = '\0';
		if (campaign_list_ok(camp) && strcmp(list, res->list) == 0) {
			snprintf(res->campaign, sizeof(res->campaign), "%s",
			    camp);
			return;
		}
	}
}

/* identify - who the report is about; fills res->identity, addr, list,
 * campaign; true when a token (or a trusted signature) names the person */
static bool
identify(const struct fbrules_env *env, const struct fb_report *r,
    struct fbrules_result *res)
{
	struct bounce_id id;
	char norm[321], why[128];
	size_t i;
	bool found = false;

	snprintf(res->identity, sizeof(res->identity), "none");
	/* the envelope recipient first: the personal bounce address */
	if (env->rcpt != NULL && find_token(env, env->rcpt, false, &id)) {
		snprintf(res->identity, sizeof(res->identity), "bounce_token");
		found = true;
	} else if (env->rcpt != NULL && env->rcpt[0] != '\0')
		/* never the address itself: it may hold a token */
		log_warnx("envelope recipient: not a BounceAddress or "
		    "UnsubscribeMailto address with a valid token (another "
		    "domain, text after the token, or a bad token): not used");
	/* a DSN is trusted for nothing else (DESIGN: not its body) */
	for (i = 0; !found && r->type == FB_ARF && i < r->ncand; i++) {
		if (find_token(env, r->cand[i].text, true, &id)) {
			snprintf(res->identity, sizeof(res->identity), "%s",
			    cand_word(r->cand[i].where));
			found = true;
		}
	}
	if (found) {
		snprintf(res->addr, sizeof(res->addr), "%s", id.addr);
		snprintf(res->list, sizeof(res->list), "%s", id.list);
		snprintf(res->campaign, sizeof(res->campaign), "%s",
		    id.campaign);
		if (res->campaign[0] == '\0' && r->type == FB_ARF)
			copy_campaign(env, r, res);
		return true;
	}
	if (r->type != FB_ARF || r->orig_rcpt[0] == '\0' ||
	    addr_normalize(r->orig_rcpt, norm, sizeof(norm), why,
	    sizeof(why)) != 0)
		return false;
	snprintf(res->addr, sizeof(res->addr), "%s", norm);
	snprintf(res->identity, sizeof(res->identity), "address_only");
	for (i = 0; env->dkim_domains != NULL && env->dkim_domains[i] != NULL;
	    i++) {
		if (cfg_list_has(&env->cfg->feedback_trusted_domains,
		    env->dkim_domains[i])) {
			snprintf(res->identity, sizeof(res->identity),
			    "dkim:%s", env->dkim_domains[i]);
			return true;
		}
	}
	return false;
}

/* evidence - the report's own words, for the consent event: each one
 * value that cannot add fields (kv.h), "-" when absent */
static void
evidence(const struct fb_report *r, const struct fbrules_result *res,
    const char *extra, char *out, size_t outlen)
{
	const char *src[5] = { r->status, r->reporting_mta, r->remote_mta,
		r->diagnostic, r->arrival };
	char val[5][600];
	size_t i;

	for (i = 0; i < 5; i++)
		(void)kv_value(src[i][0] ? src[i] : "-", val[i],
		    sizeof(val[i]));
	/* a long diagnostic is cut at outlen (the last fields with it) */
	if (snprintf(out, outlen, "feedback=%s identity=%s status=%s "
	    "reporting_mta=%s remote_mta=%s diagnostic=%s arrival=%s%s%s",
	    res->kind, res->identity, val[0], val[1], val[2], val[3], val[4],
	    extra[0] ? " " : "", extra) >= (int)outlen)
		log_debug("feedback evidence cut at %zu bytes", outlen - 1);
}

/* act - the consent change for an identified person; sets res->action */
static enum store_status
act(struct store *st, const struct fbrules_env *env,
    const struct fb_report *r, struct fbrules_result *res, bool *acted_r,
    char *why, size_t whylen)
{
	const struct config *cfg = env->cfg;
	struct consent_event ev = { .source = "optin-feedback" };
	char evid[2048], extra[128] = "";
	enum store_status rs;
	long long n = 0;
	const char *camp = res->campaign[0] ? res->campaign : NULL;

	*acted_r = false;
	res->action = "recorded";
	if (strcmp(res->kind, "soft_bounce") == 0) {
		rs = store_feedback_count(st, res->addr, NULL, "soft_bounce",
		    env->now - cfg->soft_bounce_window, &n, why, whylen);
		if (rs != STORE_OK)
			return rs;
		res->count = n + 1;
		res->action = "counted";
		if (res->count < cfg->soft_bounce_limit)
			return STORE_OK;
		snprintf(extra, sizeof(extra), "soft_bounces=%lld window=%lds",
		    res->count, cfg->soft_bounce_window);
	}
	if (strcmp(res->kind, "policy_bounce") == 0) {
		res->action = "counted";
		if (camp == NULL)
			return STORE_OK;
		rs = store_feedback_count(st, NULL, camp, "policy_bounce",
		    env->now - cfg->policy_bounce_window, &n, why, whylen);
		if (rs != STORE_OK)
			return rs;
		res->count = n + 1;
		if (res->count <= cfg->policy_bounce_limit)
			return STORE_OK;
		snprintf(extra, sizeof(extra), "policy_bounces: %lld refusals "
		    "within %lds (PolicyBounceLimit %ld)", res->count,
		    cfg->policy_bounce_window, cfg->policy_bounce_limit);
		res->action = "paused";
		/* never a person: the campaign waits for an admin */
		return store_campaign_pause(st, camp, extra, why, whylen);
	}
	if (strcmp(res->kind, "auto_reply") == 0 ||
	    strcmp(res->kind, "unusable") == 0)
		return STORE_OK;
	evidence(r, res, extra, evid, sizeof(evid));
	ev.evidence = evid;
	if (strcmp(res->kind, "complaint") == 0 && res->list[0] != '\0') {
		ev.event = "opted_out";
		rs = store_set_status(st, res->addr, res->list, SUB_OPTED_OUT,
		    &ev, why, whylen);
		if (rs != STORE_NOTFOUND) {
			res->action = "opted_out";
			*acted_r = rs == STORE_OK;
			return rs;
		}
		/* the list is gone: stop all campaign mail instead */
	}
	ev.event = "suppressed";
	rs = store_suppress(st, res->addr, strcmp(res->kind, "complaint") == 0 ?
	    "complaint" : "hard_bounce", &ev, why, whylen);
	res->action = "suppressed";
	*acted_r = rs == STORE_OK;
	return rs;
}

/* erased - forget res->addr when it was erased (store_erased(): its
 * erased form has the suppression "erased"): identity becomes "erased".
 * Without the keys to tell, STORE_ERROR: the report stays queued. */
static enum store_status
erased(struct store *st, const struct fbrules_env *env,
    struct fbrules_result *res, char *why, size_t whylen)
{
	enum store_status rs;

	rs = store_erased(st, env->er, res->addr, NULL, why, whylen);
	if (rs == STORE_NOTFOUND)
		return STORE_OK;
	if (rs == STORE_OK) {
		memset(res->addr, 0, sizeof(res->addr));
		snprintf(res->identity, sizeof(res->identity), "erased");
	}
	return rs;
}

/* kind_of - the kind word of the report as a whole */
static const char *
kind_of(const struct fb_report *r)
{
	switch (r->type) {
	case FB_DSN:
		if (strncasecmp(r->action, "failed", 6) != 0)
			return "unusable";	/* delayed, relayed, ... */
		if (r->delivered_too)
			return "unusable";	/* failed in part only */
		return fbrules_classify(r->status, r->diagnostic,
		    r->after_data);
	case FB_ARF:
		/* RFC 5965 section 7.3: abuse, fraud, virus are people
		 * complaining; not-spam, other and RFC 6591 auth-failure
		 * (DMARC reports) opt nobody out */
		if (strcasecmp(r->feedback_type, "abuse") == 0 ||
		    strcasecmp(r->feedback_type, "fraud") == 0 ||
		    strcasecmp(r->feedback_type, "virus") == 0)
			return "complaint";
		return "unusable";
	case FB_AUTO_REPLY:
		return "auto_reply";
	default:
		return "unusable";
	}
}

enum store_status
fbrules_apply(struct store *st, const struct fbrules_env *env,
    const struct fb_report *r, struct fbrules_result *res, char *why,
    size_t whylen)
{
	struct store_feedback fb = { 0 };
	enum store_status rs;
	bool trusted, acted = false;
	char diag[FB_TEXT + 160];

	memset(res, 0, sizeof(*res));
	res->kind = kind_of(r);
	trusted = identify(env, r, res);
	/* erased() reads before act() and the feedback row write: no
	 * erasure between (store_begin_change; PostgreSQL) */
	if ((rs = store_begin_change(st, why, whylen)) != STORE_OK)
		return rs;
	/* an erased person (optinctl forget) stays erased: a late report
	 * about them is recorded without the address */
	if (res->addr[0] != '\0' &&
	    (rs = erased(st, env, res, why, whylen)) != STORE_OK)
		goto fail;
	if (strcmp(res->identity, "erased") == 0)
		trusted = false;
	if (trusted)
		rs = act(st, env, r, res, &acted, why, whylen);
	else
		res->action = "recorded";
	if (rs == STORE_OK) {
		if (strcmp(res->identity, "erased") == 0)
			diag[0] = '\0';	/* it may quote the address */
		else if (r->type == FB_UNUSABLE)
			snprintf(diag, sizeof(diag), "%s", r->why);
		else if (strcmp(res->kind, "unusable") == 0 &&
		    r->type == FB_ARF)
			snprintf(diag, sizeof(diag), "feedback-type=%s",
			    r->feedback_type[0] ? r->feedback_type : "-");
		else if (strcmp(res->kind, "unusable") == 0)
			snprintf(diag, sizeof(diag), "action=%s%s %s",
			    r->action, r->delivered_too ? " (another "
			    "recipient of the copy: delivered)" : "",
			    r->diagnostic);
		else
			snprintf(diag, sizeof(diag), "%s", r->diagnostic);
		fb.addr = res->addr[0] ? res->addr : NULL;
		fb.list = res->list[0] ? res->list : NULL;
		fb.campaign = res->campaign[0] ? res->campaign : NULL;
		fb.kind = res->kind;
		fb.status = r->status[0] ? r->status : NULL;
		fb.reporting_mta = r->reporting_mta[0] ? r->reporting_mta :
		    NULL;
		fb.diagnostic = diag[0] ? diag : NULL;
		fb.arrival = r->arrival[0] ? r->arrival : NULL;
		fb.identity = res->identity;
		fb.acted = acted;
		fb.received_at = env->now;
		rs = store_feedback_add(st, &fb, NULL, why, whylen);
	}
fail:
	if (rs != STORE_OK) {
		store_rollback(st);
		return rs;
	}
	return store_commit(st, why, whylen);
}
