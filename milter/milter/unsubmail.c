/*
 * unsubmail.c - unsubscribe requests by mail (unsubmail.h).
 *
 * The token is taken from the recipient as given at RCPT, not from the
 * normalised address: normalisation lower-cases the local part, and tokens
 * are case-sensitive base64url.  Every form the MTA delivers to that
 * mailbox counts (source route, root dot, quoted local part).  Tokens are
 * bearer credentials: they are never logged (unsubmail_mask, which masks
 * the personal bounce address's token too).
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "config.h"
#include "eom.h"
#include "kv.h"
#include "log.h"
#include "logaddr.h"
#include "session.h"
#include "spf.h"
#include "store.h"
#include "token.h"
#include "unsubmail.h"

/* mailbox - the mailbox of raw as the MTA will deliver to it: without <>,
 * source route and root dot, "unsubscribe+TOKEN"@example.com unquoted
 * (the same mailbox); its length, or -1 */
static int
mailbox(const char *raw, char *out, size_t outlen)
{
	char *q;
	int len = addr_path_mailbox(raw, out, outlen, NULL);

	if (len <= 0)
		return -1;
	if (out[0] == '"' && (q = strchr(out + 1, '"')) != NULL &&
	    q[1] == '@') {
		memmove(q, q + 1, strlen(q + 1) + 1);
		memmove(out, out + 1, strlen(out + 1) + 1);
		len -= 2;
	}
	if (len > 0 && out[len - 1] == '.')
		out[--len] = '\0';
	return len;
}

/* b64url - a byte of a token (base64url, token.h) */
static bool
b64url(char ch)
{
	return isalnum((unsigned char)ch) || ch == '-' || ch == '_';
}

/* token_find - where a token of template t sits anywhere in s (len
 * bytes), for text that is no mailbox: after the first text before %t, up
 * to the last text after it, or without that to the end of the base64url
 * run (case-insensitive); 0 with *off_r and *tlen_r set, or -1 (also when
 * t is NULL) */
static int
token_find(const char *t, const char *s, size_t len, size_t *off_r,
    size_t *tlen_r)
{
	const char *mark;
	size_t plen, slen, b = 0, e = len, i;
	bool found = false;

	if (t == NULL || (mark = strstr(t, "%t")) == NULL)
		return -1;
	plen = (size_t)(mark - t);
	slen = strlen(mark + 2);
	if (plen > 0) {
		while (b + plen <= len && strncasecmp(s + b, t, plen) != 0)
			b++;
		if (b + plen > len)
			return -1;
		b += plen;
	}
	for (i = b; slen > 0 && i + slen <= len; i++)
		if (strncasecmp(s + i, mark + 2, slen) == 0) {
			e = i;
			found = true;
		}
	if (plen == 0) {
		if (!found)
			return -1;
		for (b = e; b > 0 && b64url(s[b - 1]); b--)
			;
	} else if (!found)
		for (e = b; e < len && b64url(s[e]); e++)
			;
	*off_r = b;
	*tlen_r = e - b;
	return 0;
}

/* token_span - where the token sits in mailbox s (len bytes) per the
 * address template t (UnsubscribeMailto, BounceAddress: "%t" marks the
 * token; case-insensitive outside it): 0 with *off_r and *tlen_r set, or
 * -1 (also when t is NULL) */
static int
token_span(const char *t, const char *s, size_t len, size_t *off_r,
    size_t *tlen_r)
{
	const char *mark;
	size_t plen, slen;

	if (t == NULL || (mark = strstr(t, "%t")) == NULL)
		return -1;
	plen = (size_t)(mark - t);
	slen = strlen(mark + 2);
	if (len < plen + slen || strncasecmp(s, t, plen) != 0 ||
	    strncasecmp(s + len - slen, mark + 2, slen) != 0)
		return -1;
	*off_r = plen;
	*tlen_r = len - plen - slen;
	return 0;
}

/* token_of - the token in raw per the UnsubscribeMailto template; 0 or -1.
 * An empty token is still a request to this mailbox: a bad one. */
static int
token_of(const struct config *cfg, const char *raw, char *tok, size_t toklen)
{
	char box[TOKEN_MAX + 256];
	size_t off, tlen;
	int len;

	if ((len = mailbox(raw, box, sizeof(box))) < 0 ||
	    token_span(cfg->unsubscribe_mailto, box, (size_t)len, &off,
	    &tlen) < 0 || tlen >= toklen)
		return -1;
	memcpy(tok, box + off, tlen);
	tok[tlen] = '\0';
	return 0;
}

const char *
unsubmail_mask(const struct config *cfg, const char *addr, char *out,
    size_t outlen)
{
	char box[TOKEN_MAX + 256];
	const char *p;
	size_t off, tlen, n;
	int len;

	if (addr == NULL)
		return addr;
	if ((len = mailbox(addr, box, sizeof(box))) >= 0 &&
	    (token_span(cfg->unsubscribe_mailto, box, (size_t)len, &off,
	    &tlen) == 0 || token_span(cfg->bounce_address, box, (size_t)len,
	    &off, &tlen) == 0)) {
		snprintf(out, outlen, "%.*s[token]%s", (int)off, box,
		    box + off + tlen);
		return out;
	}
	/* no path the MTA would take (a broken <>, brackets left inside,
	 * text after it, quotes round it all): the text inside whatever
	 * brackets there are, with the token masked wherever it sits */
	p = addr + (addr[0] == '<');
	n = strlen(p);
	n -= n > 0 && p[n - 1] == '>';
	if (token_find(cfg->unsubscribe_mailto, p, n, &off, &tlen) < 0 &&
	    token_find(cfg->bounce_address, p, n, &off, &tlen) < 0)
		return addr;
	snprintf(out, outlen, "%.*s[token]%.*s", (int)off, p,
	    (int)(n - off - tlen), p + off + tlen);
	return out;
}

const char *
unsubmail_log_addr(const struct conn *c, const char *addr, char *out,
    size_t outlen)
{
	char tmp[LOGADDR_MAX], safe[ADDR_MAX + 1], box[ADDR_MAX * 2 + 1];
	const char *shown;

	if (c->rt->cfg->log_addresses != LOGADDR_YES) {
		snprintf(out, outlen, "%s", logaddr(c->rt->cfg->log_addresses,
		    c->rt->ring, addr, tmp));
		return out;
	}
	shown = unsubmail_mask(c->rt->cfg, addr ? addr : "", box, sizeof(box));
	if (shown != box && addr_path_mailbox(shown, box, sizeof(box),
	    NULL) >= 0)
		shown = box;
	snprintf(out, outlen, "<%s>", log_safe(shown, safe, sizeof(safe)));
	return out;
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

/* record - the opt-out for one request; STORE_*.  An erased person
 * (optinctl forget) stays erased: STORE_OK and nothing written (an old
 * token wrote the address back into subscriptions and consent_events),
 * also when the erasure runs meanwhile (store_begin_change). */
static enum store_status
record(struct conn *c, const struct token_info *info, const char *evidence,
    char *why, size_t whylen)
{
	struct consent_event ev = {
		.addr = info->addr, .list = info->list, .event = "opted_out",
		.source = "mailto", .evidence = evidence,
		.remote_addr = c->client_addr,
	};
	struct store_erasure er = { c->rt->erasure, c->rt->ring };
	enum store_status ss;
	bool tf;

	if (conn_store(c, &tf, why, whylen) == NULL)
		return STORE_TEMPFAIL;
	if ((ss = store_begin_change(c->st, why, whylen)) != STORE_OK)
		return ss;
	/* STORE_OK from store_erased: erased, nothing to write */
	ss = store_erased(c->st, &er, info->addr, NULL, why, whylen);
	if (ss == STORE_NOTFOUND)
		ss = store_set_status(c->st, info->addr, info->list,
		    SUB_OPTED_OUT, &ev, why, whylen);
	if (ss != STORE_OK) {
		store_rollback(c->st);
		return ss;
	}
	return store_commit(c->st, why, whylen);
}

/* spf_evidence - "spf=RESULT (explanation) " for the sending host, or ""
 * when SPF is not available; evaluated in the isolated helper (spf.h).
 * Returns the result word ("-" without SPF) for the log line, which
 * leaves the explanation out: libspf2 puts the sender's address in it. */
static const char *
spf_evidence(const struct conn *c, char *out, size_t outlen)
{
	char explain[300], comment[400];
	enum spf_result r;

	out[0] = '\0';
	if (c->rt->spf == NULL)
		return "-";
	r = spf_check_inbound(c->rt->spf, c->client_addr, c->helo,
	    c->msg.sender_raw, explain, sizeof(explain));
	/* the explanation may come from the sender's DNS: a comment whose
	 * parentheses are escaped (kv.h), so it cannot close early */
	snprintf(out, outlen, "spf=%s %s ", spf_result_str(r),
	    kv_comment(explain, comment, sizeof(comment)));
	return spf_result_str(r);
}

/* unbracket - path without one enclosing pair of angle brackets */
static const char *
unbracket(const char *path, char *out, size_t outlen)
{
	size_t n = strlen(path);

	if (n < 2 || path[0] != '<' || path[n - 1] != '>')
		return path;
	snprintf(out, outlen, "%.*s", (int)(n - 2), path + 1);
	return out;
}

bool
unsubmail_eom(struct conn *c, struct verdict *v)
{
	struct msg *m = &c->msg;
	struct token_info info;
	char evidence[900], why[300], from[300], spf[400], masked[300];
	char shown[LOGADDR_MAX], mf[310], val[3][1300], bare[300];
	const char *spf_word, *sender;
	size_t i, n = 0;
	enum store_status ss;

	if (!unsubmail_pending(c))
		return false;
	spf_word = spf_evidence(c, spf, sizeof(spf));
	/* the evidence is logged too: never a token in it */
	sender = unsubmail_mask(c->rt->cfg, m->sender_raw ? m->sender_raw :
	    "", masked, sizeof(masked));
	/* HELO and MAIL FROM are the client's words: each one value, never
	 * more fields (kv.h) */
	snprintf(mf, sizeof(mf), "%s%s%s", sender == masked ? "<" : "",
	    log_safe(sender, from, sizeof(from)), sender == masked ? ">" : "");
	snprintf(evidence, sizeof(evidence), "%sclient=%s helo=%s "
	    "mail_from=%s", spf, kv_value(c->client, val[0], sizeof(val[0])),
	    kv_value(c->helo, val[1], sizeof(val[1])),
	    kv_value(mf, val[2], sizeof(val[2])));
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
		/* the sender is the person: LogAddresses (logaddr.h), which
		 * puts the angle brackets of the path back itself */
		log_info("%s: unsubscribe source=mailto list=%s spf=%s "
		    "client=%s helo=%s mail_from=%s", m->qid, info.list,
		    spf_word, c->client, c->helo, logaddr(
		    c->rt->cfg->log_addresses, c->rt->ring, unbracket(sender,
		    bare, sizeof(bare)), shown));
	}
	if (n < m->nrcpt)
		return false;
	v->kind = VERDICT_DISCARD;
	v->rcode = NULL;
	return true;
}
