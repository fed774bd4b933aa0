/*
 * dmarc.c - DMARC record lookup (RFC 7489 §6.6.3), TXT records for
 * optinctl's DKIM check, the organisational domain and identifier
 * alignment (RFC 7489 §3.1); prototypes in spf.h.
 *
 * Lookups go through the DNS layer of the checker's outbound server
 * (chk->server->resolver: real DNS, or the test zone), in this process;
 * only TXT data is read, there is no SPF evaluation, so eval_mtx is not
 * taken.  The two domain functions need no checker.  Results go to caller
 * buffers; spf_txt_lookup() hands each record to its callback.
 */
#include "autoconf.h"

#include "spf-private.h"	/* first: the libspf2 prelude */

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* spf_dmarc_version - does txt start with the DMARC version tag?
 * RFC 7489 §6.4: "v" *WSP "=" *WSP "DMARC1", then ';', WSP or end */
static bool
spf_dmarc_version(const char *txt)
{
	if (*txt++ != 'v')
		return false;
	while (*txt == ' ' || *txt == '\t')
		txt++;
	if (*txt++ != '=')
		return false;
	while (*txt == ' ' || *txt == '\t')
		txt++;
	if (strncmp(txt, "DMARC1", 6) != 0)
		return false;
	txt += 6;
	return *txt == '\0' || *txt == ';' || *txt == ' ' || *txt == '\t';
}

/* spf_dmarc_at - the DMARC record at _dmarc.dom */
static enum spf_lookup
spf_dmarc_at(struct spf_checker *chk, const char *dom, char *record,
    size_t recordlen, char *why, size_t whylen)
{
	enum spf_lookup res = SPF_LOOKUP_NONE;
	SPF_dns_rr_t *rr;
	char name[300];
	int i, found = -1, count = 0;

	snprintf(name, sizeof(name), "_dmarc.%s", dom);
	rr = SPF_dns_lookup(chk->server->resolver, name, ns_t_txt, 0);
	switch (rr->herrno) {
	case NETDB_SUCCESS:
		for (i = 0; i < rr->num_rr; i++)
			if (spf_dmarc_version(rr->rr[i]->txt)) {
				found = i;
				count++;
			}
		if (count == 0)
			snprintf(why, whylen, "%s: no DMARC record", name);
		else if (count > 1) {
			snprintf(why, whylen, "%s: %d DMARC records", name,
			    count);
			res = SPF_LOOKUP_PERMERROR;
		} else if (strlen(rr->rr[found]->txt) >= recordlen) {
			snprintf(why, whylen, "%s: record longer than %zu "
			    "bytes", name, recordlen);
			res = SPF_LOOKUP_PERMERROR;
		} else {
			spf_clean(rr->rr[found]->txt, record, recordlen);
			res = SPF_LOOKUP_FOUND;
		}
		break;
	case HOST_NOT_FOUND:
	case NO_DATA:
		snprintf(why, whylen, "%s: no DMARC record", name);
		break;
	default:		/* RFC 7489 §6.6.3: DNS error, try later */
		snprintf(why, whylen, "%s: DNS error (%d)", name,
		    (int)rr->herrno);
		res = SPF_LOOKUP_TEMPERROR;
		break;
	}
	SPF_dns_rr_free(rr);
	return res;
}

enum spf_lookup
spf_dmarc_lookup(struct spf_checker *chk, const char *domain, char *record,
    size_t recordlen, char *found_at, size_t found_atlen, char *why,
    size_t whylen)
{
	char dom[256], org[256];
	enum spf_lookup res;
	const char *at = dom;

	if (record != NULL && recordlen > 0)
		record[0] = '\0';
	if (!spf_norm_domain(domain, dom, sizeof(dom))) {
		snprintf(why, whylen, "malformed domain");
		return SPF_LOOKUP_NONE;
	}
	res = spf_dmarc_at(chk, dom, record, recordlen, why, whylen);
	if (res == SPF_LOOKUP_NONE && spf_org_domain(dom, org, sizeof(org)) &&
	    strcmp(org, dom) != 0) {
		res = spf_dmarc_at(chk, org, record, recordlen, why, whylen);
		at = org;
	}
	if (res == SPF_LOOKUP_FOUND && found_at != NULL && found_atlen > 0)
		snprintf(found_at, found_atlen, "%s", at);
	return res;
}

enum spf_lookup
spf_txt_lookup(struct spf_checker *chk, const char *name,
    void (*fn)(const char *txt, void *arg), void *arg, char *why,
    size_t whylen)
{
	enum spf_lookup res = SPF_LOOKUP_NONE;
	SPF_dns_rr_t *rr;
	char dom[256], *txt, *p;
	size_t len;
	int i, n = 0;

	if (!spf_norm_domain(name, dom, sizeof(dom)) ||
	    strchr(name, '@') != NULL) {
		snprintf(why, whylen, "malformed DNS name");
		return SPF_LOOKUP_NONE;
	}
	rr = SPF_dns_lookup(chk->server->resolver, dom, ns_t_txt, 0);
	switch (rr->herrno) {
	case NETDB_SUCCESS:
		for (i = 0; i < rr->num_rr; i++) {
			len = strlen(rr->rr[i]->txt) + 1;
			if ((txt = malloc(len)) == NULL) {
				snprintf(why, whylen, "out of memory");
				res = SPF_LOOKUP_TEMPERROR;
				goto out;
			}
			/* keep whitespace whitespace (RFC 6376 §3.2 FWS)
			 * rather than '?' */
			memcpy(txt, rr->rr[i]->txt, len);
			for (p = txt; *p != '\0'; p++)
				if (*p == '\t' || *p == '\r' || *p == '\n')
					*p = ' ';
			spf_clean(txt, txt, len);
			fn(txt, arg);
			free(txt);
			n++;
		}
		if (n > 0)
			res = SPF_LOOKUP_FOUND;
		else
			snprintf(why, whylen, "%s: no TXT record", dom);
		break;
	case HOST_NOT_FOUND:
		snprintf(why, whylen, "%s: no such name", dom);
		break;
	case NO_DATA:
		snprintf(why, whylen, "%s: no TXT record", dom);
		break;
	default:
		snprintf(why, whylen, "%s: DNS error (%d)", dom,
		    (int)rr->herrno);
		res = SPF_LOOKUP_TEMPERROR;
		break;
	}
out:
	SPF_dns_rr_free(rr);
	return res;
}

bool
spf_org_domain(const char *domain, char *out, size_t outlen)
{
	char dom[256];
	const char *p;
	int dots = 0;

	if (!spf_norm_domain(domain, dom, sizeof(dom)) ||
	    strchr(domain, '@') != NULL)
		return false;
	for (p = dom + strlen(dom); p > dom; p--)
		if (p[-1] == '.' && ++dots == 2)
			break;
	if (strlen(p) >= outlen)
		return false;
	memcpy(out, p, strlen(p) + 1);
	return true;
}

bool
spf_aligned(const char *from_domain, const char *auth_domain, bool strict)
{
	char a[256], b[256];

	if (strict)
		return spf_norm_domain(from_domain, a, sizeof(a)) &&
		    spf_norm_domain(auth_domain, b, sizeof(b)) &&
		    strchr(from_domain, '@') == NULL &&
		    strchr(auth_domain, '@') == NULL && strcmp(a, b) == 0;
	return spf_org_domain(from_domain, a, sizeof(a)) &&
	    spf_org_domain(auth_domain, b, sizeof(b)) && strcmp(a, b) == 0;
}
