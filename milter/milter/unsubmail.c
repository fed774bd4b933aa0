/*
 * unsubmail.c - unsubscribe requests by mail (unsubmail.h).
 *
 * The token is taken from the recipient as given at RCPT, not from the
 * normalised address: normalisation lower-cases the local part, and tokens
 * are case-sensitive base64url.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "eom.h"
#include "log.h"
#include "logaddr.h"
#include "session.h"
#include "spf.h"
#include "store.h"
#include "token.h"
#include "unsubmail.h"

/* token_of - the token in raw per the UnsubscribeMailto template; 0 or -1 */
static int
token_of(const struct config *cfg, const char *raw, char *tok, size_t toklen)
{
	const char *t = cfg->unsubscribe_mailto, *mark, *b, *e, *q;
	char plain[TOKEN_MAX + 256];
	size_t plen, slen, len;

	if (t == NULL || (mark = strstr(t, "%t")) == NULL)
		return -1;
	b = raw + strspn(raw, " \t<");
	e = b + strcspn(b, ">");
	/* "unsubscribe+TOKEN"@example.com is the same mailbox: unquote */
	if (*b == '"' && (q = memchr(b + 1, '"', (size_t)(e - b - 1))) != NULL &&
	    q[1] == '@' && (size_t)(e - b) < sizeof(plain)) {
		len = (size_t)(q - b - 1);
		memcpy(plain, b + 1, len);
		memcpy(plain + len, q + 1, (size_t)(e - q - 1));
		len += (size_t)(e - q - 1);
		plain[len] = '\0';
		b = plain;
		e = plain + len;
	}
	plen = (size_t)(mark - t);
	slen = strlen(mark + 2);
	len = (size_t)(e - b);
	/* an empty token is still a request to this mailbox: a bad one */
	if (len < plen + slen || strncasecmp(b, t, plen) != 0 ||
	    strncasecmp(e - slen, mark + 2, slen) != 0 ||
	    len - plen - slen >= toklen)
		return -1;
	memcpy(tok, b + plen, len - plen - slen);
	tok[len - plen - slen] = '\0';
	return 0;
}

bool
unsubmail_is_unsub(const struct conn *c, const char *raw)
{
	char tok[TOKEN_MAX];

	return c->rt->ring != NULL &&
	    token_of(c->rt->cfg, raw, tok, sizeof(tok)) == 0;
}

/* check - verify the token of raw; expired tokens count: the mail itself
 * is the confirmation DESIGN asks for */
static enum token_status
check(const struct conn *c, const char *raw, struct token_info *info)
{
	char tok[TOKEN_MAX];
	enum token_status ts;

	if (token_of(c->rt->cfg, raw, tok, sizeof(tok)) < 0)
		return TOKEN_MALFORMED;
	ts = token_verify(c->rt->ring, tok, token_day(time(NULL)),
	    c->rt->cfg->token_lifetime / 86400, info);
	return ts == TOKEN_EXPIRED ? TOKEN_OK : ts;
}

bool
unsubmail_rcpt(const struct conn *c, const char *raw, struct verdict *v)
{
	struct token_info info;
	enum token_status ts;

	if (!unsubmail_is_unsub(c, raw))
		return false;
	if ((ts = check(c, raw, &info)) != TOKEN_OK) {
		log_info("%s: reject stage=rcpt reason=bad_token (%s) client=%s",
		    c->msg.qid, token_status_str(ts), c->client);
		v->kind = VERDICT_REJECT;
		v->rcode = "550";
		v->xcode = "5.1.1";
		snprintf(v->text, sizeof(v->text), "unknown unsubscribe "
		    "address");
	}
	return true;
}

bool
unsubmail_pending(const struct conn *c)
{
	size_t i;

	for (i = 0; i < c->msg.nrcpt; i++)
		if (c->msg.rcpt[i].unsub)
			return true;
	return false;
}

/* record - the opt-out for one request; STORE_* */
static enum store_status
record(struct conn *c, const struct token_info *info, const char *evidence,
    char *why, size_t whylen)
{
	struct consent_event ev = {
		.addr = info->addr, .list = info->list, .event = "opted_out",
		.source = "mailto", .evidence = evidence,
		.remote_addr = c->client_addr,
	};
	bool tf;

	if (conn_store(c, &tf, why, whylen) == NULL)
		return STORE_TEMPFAIL;
	return store_set_status(c->st, info->addr, info->list, SUB_OPTED_OUT,
	    &ev, why, whylen);
}

/* spf_evidence - "spf=RESULT (explanation) " for the sending host, or ""
 * when SPF is not available; evaluated in the isolated helper (spf.h).
 * Returns the result word ("-" without SPF) for the log line, which
 * leaves the explanation out: libspf2 puts the sender's address in it. */
static const char *
spf_evidence(const struct conn *c, char *out, size_t outlen)
{
	char explain[300];
	enum spf_result r;

	out[0] = '\0';
	if (c->rt->spf == NULL)
		return "-";
	r = spf_check_inbound(c->rt->spf, c->client_addr, c->helo,
	    c->msg.sender_raw, explain, sizeof(explain));
	snprintf(out, outlen, "spf=%s (%s) ", spf_result_str(r), explain);
	return spf_result_str(r);
}

bool
unsubmail_eom(struct conn *c, struct verdict *v)
{
	struct msg *m = &c->msg;
	struct token_info info;
	char evidence[900], why[300], from[300], spf[400];
	char shown[LOGADDR_MAX];
	const char *spf_word;
	size_t i, n = 0;
	enum store_status ss;

	if (!unsubmail_pending(c))
		return false;
	spf_word = spf_evidence(c, spf, sizeof(spf));
	snprintf(evidence, sizeof(evidence), "%sclient=%s helo=%s "
	    "mail_from=%s", spf, c->client, c->helo, log_safe(m->sender_raw ?
	    m->sender_raw : "", from, sizeof(from)));
	for (i = 0; i < m->nrcpt; i++) {
		if (!m->rcpt[i].unsub)
			continue;
		n++;
		if (check(c, m->rcpt[i].raw, &info) != TOKEN_OK)
			continue;	/* refused at RCPT already */
		ss = record(c, &info, evidence, why, sizeof(why));
		if (ss == STORE_NOTFOUND) {
			log_warnx("%s: mailto unsubscribe for unknown list "
			    "%s: ignored", m->qid, info.list);
			continue;
		}
		if (ss != STORE_OK) {
			log_err("%s: mailto unsubscribe: %s", m->qid, why);
			eom_db_error(c, v);
			return true;
		}
		/* the sender is the person: LogAddresses (logaddr.h) */
		log_info("%s: unsubscribe source=mailto list=%s spf=%s "
		    "client=%s helo=%s mail_from=%s", m->qid, info.list,
		    spf_word, c->client, c->helo, logaddr(
		    c->rt->cfg->log_addresses, c->rt->ring, m->sender_raw,
		    shown));
	}
	if (n < m->nrcpt)
		return false;
	v->kind = VERDICT_DISCARD;
	v->rcode = NULL;
	return true;
}
