/*
 * bounce.c - personal bounce addresses: build and parse (bounce.h).
 *
 * The token is token_issue() over (addr, "LIST/CAMPAIGN"); the template is
 * expanded by unsubhdr_expand(), the one home of %t templates.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bounce.h"
#include "unsubhdr.h"

int
bounce_token(const struct token_ring *ring, const char *addr,
    const char *list, const char *campaign, long day, char *out,
    size_t outlen, char *why, size_t whylen)
{
	char field[2 * CAMPAIGN_LIST_MAX + 2];

	if (list == NULL || !campaign_list_ok(list)) {
		snprintf(why, whylen, "bad list id '%.64s'", list ? list : "");
		return -1;
	}
	if (campaign != NULL && *campaign != '\0') {
		if (!campaign_list_ok(campaign)) {
			snprintf(why, whylen, "bad campaign id '%.64s' "
			    "(expected 1-64 of A-Za-z0-9._-)", campaign);
			return -1;
		}
		snprintf(field, sizeof(field), "%s/%s", list, campaign);
	} else
		snprintf(field, sizeof(field), "%s", list);
	return token_issue(ring, addr, field, day, out, outlen, why, whylen);
}

int
bounce_address(const char *template, const struct token_ring *ring,
    const char *addr, const char *list, const char *campaign, long day,
    char *out, size_t outlen, char *why, size_t whylen)
{
	char tok[TOKEN_MAX];

	if (template == NULL || strstr(template, "%t") == NULL) {
		snprintf(why, whylen, "BounceAddress is not set or has no %%t");
		return -1;
	}
	if (bounce_token(ring, addr, list, campaign, day, tok, sizeof(tok),
	    why, whylen) < 0)
		return -1;
	return unsubhdr_expand("BounceAddress", template, tok, out, outlen,
	    why, whylen);
}

int
bounce_template_token(const char *template, const char *addr, char *tok,
    size_t toklen)
{
	const char *mark, *b, *e, *rest;
	size_t plen, slen, len;

	if (template == NULL || addr == NULL ||
	    (mark = strstr(template, "%t")) == NULL)
		return -1;
	b = addr + strspn(addr, " \t<");
	e = b + strcspn(b, ">");
	/* nothing but blanks after the address: "<bounce+T@d> junk" is not
	 * of the template's shape */
	rest = e + (*e == '>');
	if (rest[strspn(rest, " \t")] != '\0')
		return -1;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	plen = (size_t)(mark - template);
	slen = strlen(mark + 2);
	len = (size_t)(e - b);
	if (len <= plen + slen || strncasecmp(b, template, plen) != 0 ||
	    strncasecmp(e - slen, mark + 2, slen) != 0 ||
	    len - plen - slen >= toklen)
		return -1;
	memcpy(tok, b + plen, len - plen - slen);
	tok[len - plen - slen] = '\0';
	return 0;
}

enum token_status
bounce_verify(const struct token_ring *ring, const char *tok, long today,
    long lifetime_days, struct bounce_id *id_r)
{
	struct token_info ti;
	enum token_status ts;
	const char *slash;
	size_t llen;

	memset(id_r, 0, sizeof(*id_r));
	ts = token_verify(ring, tok, today, lifetime_days, &ti);
	if (ts != TOKEN_OK && ts != TOKEN_EXPIRED)
		return ts;
	slash = strchr(ti.list, '/');
	llen = slash != NULL ? (size_t)(slash - ti.list) : strlen(ti.list);
	if (llen == 0 || llen > CAMPAIGN_LIST_MAX)
		return TOKEN_MALFORMED;
	memcpy(id_r->list, ti.list, llen);
	id_r->list[llen] = '\0';
	if (!campaign_list_ok(id_r->list))
		return TOKEN_MALFORMED;
	if (slash != NULL) {
		if (strlen(slash + 1) > CAMPAIGN_LIST_MAX ||
		    !campaign_list_ok(slash + 1))
			return TOKEN_MALFORMED;
		strcpy(id_r->campaign, slash + 1);
	}
	snprintf(id_r->addr, sizeof(id_r->addr), "%s", ti.addr);
	id_r->issue_day = ti.issue_day;
	return ts;
}
