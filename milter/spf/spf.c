/*
 * spf.c - SPF result words, the helpers the other pieces share
 * (spf-private.h), the outbound preflight with its TTL cache, the checker's
 * life cycle (new, free, stats) and the test zone loader (spf.h).
 *
 * Outbound: one SPF_server per checker (libspf2's server is not safe to
 * share between threads), used under eval_mtx; verdicts are cached per
 * domain under cache_mtx, for the TTL of the domain's TXT record, which a
 * separate res_nquery() reads (libspf2's resolver layer drops TTLs).
 * A thread that misses the cache waits for eval_mtx and then looks again,
 * so a burst of campaign mail for one domain costs one evaluation.
 *
 * Inbound verdicts are in spf_inbound.c (client) and spf_helper_server.c
 * (the helper program), DMARC and TXT lookups in dmarc.c.
 *
 * Threads: see spf.h.  Global state: libspf2's message handlers (set once
 * to route its warnings to log_debug) and nothing else.
 */
#include "autoconf.h"

#include "spf-private.h"	/* first: the libspf2 prelude */
#include <spf2/spf_dns_zone.h>

#include <ctype.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "monotime.h"

static const char *const spf_words[] = {
	[SPFR_NONE] = "none",
	[SPFR_NEUTRAL] = "neutral",
	[SPFR_PASS] = "pass",
	[SPFR_FAIL] = "fail",
	[SPFR_SOFTFAIL] = "softfail",
	[SPFR_TEMPERROR] = "temperror",
	[SPFR_PERMERROR] = "permerror",
};

const char *
spf_result_str(enum spf_result r)
{
	if ((size_t)r >= sizeof(spf_words) / sizeof(spf_words[0]))
		return "permerror";
	return spf_words[r];
}

bool
spf_result_parse(const char *s, enum spf_result *r_r)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(spf_words) / sizeof(spf_words[0]);
	    i++)
		if (strcasecmp(s, spf_words[i]) == 0) {
			*r_r = (enum spf_result)i;
			return true;
		}
	return false;
}

/* spf_rank - badness for "the worst result wins" (see spf.h) */
static int
spf_rank(enum spf_result r)
{
	switch (r) {
	case SPFR_PASS:
		return 0;
	case SPFR_NEUTRAL:
		return 1;
	case SPFR_NONE:
		return 2;
	case SPFR_SOFTFAIL:
		return 3;
	case SPFR_TEMPERROR:
		return 4;
	case SPFR_PERMERROR:
		return 5;
	case SPFR_FAIL:
		return 6;
	}
	return 5;
}

/* spf_clean - copy s into out with bytes outside printable ASCII as '?' */
void
spf_clean(const char *s, char *out, size_t outlen)
{
	if (out == NULL || outlen == 0)
		return;
	(void)log_safe(s, out, outlen);
}

/* spf_norm_domain - sender domain (or address) to a lower-case FQDN
 * without trailing dot; false when malformed (RFC 7208 §4.3: "none") */
bool
spf_norm_domain(const char *in, char *out, size_t outlen)
{
	const char *at;
	size_t len, i, label = 0;
	bool dot = false;

	if (in == NULL)
		return false;
	if ((at = strrchr(in, '@')) != NULL)
		in = at + 1;
	len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len >= outlen)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			dot = true;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else
			return false;
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return dot && label > 0;
}

/* spf_parse_ip - IPv4/IPv6 text (optional "IPv6:" prefix, brackets) */
bool
spf_parse_ip(const char *s, struct spf_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len;

	if (s == NULL)
		return false;
	if (*s == '[')
		s++;
	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	len = strlen(s);
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	if (len > 0 && buf[len - 1] == ']')
		buf[len - 1] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, &a->v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &a->v6) == 1)
		a->family = AF_INET6;
	else
		return false;
	(void)inet_ntop(a->family, a->family == AF_INET ? (void *)&a->v4 :
	    (void *)&a->v6, a->text, sizeof(a->text));
	return true;
}

/* spf_log_msg - route libspf2's warnings and notes to log_debug */
static void
spf_log_msg(const char *file, int line, const char *msg)
{
	char safe[256];

	(void)file;
	(void)line;
	log_debug("libspf2: %s", log_safe(msg, safe, sizeof(safe)));
}

/* spf_map - our result from a libspf2 response.  RFC 7208 §4.4: any DNS
 * error but NXDOMAIN is temperror, also where libspf2 says permerror. */
enum spf_result
spf_map(SPF_response_t *resp, SPF_errcode_t err)
{
	if (resp == NULL)
		return SPFR_TEMPERROR;
	if (err == SPF_E_DNS_ERROR ||
	    SPF_response_errcode(resp) == SPF_E_DNS_ERROR)
		return SPFR_TEMPERROR;
	switch (SPF_response_result(resp)) {
	case SPF_RESULT_PASS:
		return SPFR_PASS;
	case SPF_RESULT_FAIL:
		return SPFR_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return SPFR_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return SPFR_NEUTRAL;
	case SPF_RESULT_NONE:
		return SPFR_NONE;
	case SPF_RESULT_TEMPERROR:
		return SPFR_TEMPERROR;
	case SPF_RESULT_PERMERROR:
	case SPF_RESULT_INVALID:
	default:
		return SPFR_PERMERROR;
	}
}

/* spf_first_error - the first error message of a response, cleaned */
static void
spf_first_error(SPF_response_t *resp, char *out, size_t outlen)
{
	int i;

	out[0] = '\0';
	if (resp == NULL)
		return;
	for (i = 0; i < resp->errors_length; i++) {
		SPF_error_t *e = SPF_response_message(resp, i);

		if (e != NULL && SPF_error_errorp(e) &&
		    SPF_error_message(e) != NULL) {
			spf_clean(SPF_error_message(e), out, outlen);
			return;
		}
	}
}

/* spf_eval - evaluate domain for one address with srv; reason[] gets
 * libspf2's first error, if any */
static enum spf_result
spf_eval(SPF_server_t *srv, const struct spf_addr *ip, const char *domain,
    char *reason, size_t reasonlen)
{
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	SPF_errcode_t err;
	enum spf_result r;

	reason[0] = '\0';
	if ((req = SPF_request_new(srv)) == NULL) {
		snprintf(reason, reasonlen, "out of memory");
		return SPFR_TEMPERROR;
	}
	if (ip->family == AF_INET)
		err = SPF_request_set_ipv4(req, ip->v4);
	else
		err = SPF_request_set_ipv6(req, ip->v6);
	if (err == SPF_E_SUCCESS)
		err = SPF_request_set_helo_dom(req, domain);
	if (err == SPF_E_SUCCESS)
		err = SPF_request_set_env_from(req, domain);
	if (err != SPF_E_SUCCESS) {
		snprintf(reason, reasonlen, "%s", SPF_strerror(err));
		SPF_request_free(req);
		return SPFR_TEMPERROR;
	}
	err = SPF_request_query_mailfrom(req, &resp);
	r = spf_map(resp, err);
	spf_first_error(resp, reason, reasonlen);
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	return r;
}

/* spf_skip_name - offset after the (possibly compressed) name at p in a
 * DNS message of len bytes, or 0 when malformed */
static size_t
spf_skip_name(const unsigned char *m, size_t len, size_t p)
{
	while (p < len) {
		unsigned char c = m[p];

		if (c == 0)
			return p + 1;
		if ((c & 0xc0) == 0xc0)
			return p + 2 <= len ? p + 2 : 0;
		if ((c & 0xc0) != 0)
			return 0;
		p += 1 + (size_t)c;
	}
	return 0;
}

/* spf_ttl - TTL of domain's TXT records: >= 0 seconds, -1 when there is
 * none (NXDOMAIN, no data), -2 on DNS error */
static long
spf_ttl(struct spf_checker *chk, const char *domain)
{
	unsigned char ans[4096];
	struct __res_state rs;
	size_t len, p, i, qd, an;
	long ttl = -1;
	int n, herr;

	if (chk->zone != NULL) {
		SPF_dns_rr_t *rr = SPF_dns_lookup(chk->zone, domain, ns_t_txt,
		    0);

		if (rr->herrno == NETDB_SUCCESS && rr->num_rr > 0)
			ttl = (long)rr->ttl;
		else if (rr->herrno != HOST_NOT_FOUND && rr->herrno != NO_DATA)
			ttl = -2;
		SPF_dns_rr_free(rr);
		return ttl;
	}
	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0)
		return -2;
	n = res_nquery(&rs, domain, ns_c_in, ns_t_txt, ans, sizeof(ans));
	herr = rs.res_h_errno;
	res_nclose(&rs);
	if (n < 0)
		return herr == HOST_NOT_FOUND || herr == NO_DATA ? -1 : -2;
	len = (size_t)n < sizeof(ans) ? (size_t)n : sizeof(ans);
	if (len < 12)
		return -2;
	qd = (size_t)ans[4] << 8 | ans[5];
	an = (size_t)ans[6] << 8 | ans[7];
	p = 12;
	for (i = 0; i < qd && p != 0; i++)
		if ((p = spf_skip_name(ans, len, p)) != 0)
			p = p + 4 <= len ? p + 4 : 0;
	for (i = 0; i < an && p != 0; i++) {
		unsigned int type, rdlen;
		unsigned long t;

		if ((p = spf_skip_name(ans, len, p)) == 0 || p + 10 > len)
			break;
		type = (unsigned int)ans[p] << 8 | ans[p + 1];
		t = (unsigned long)ans[p + 4] << 24 | (unsigned long)ans[p + 5]
		    << 16 | (unsigned long)ans[p + 6] << 8 | ans[p + 7];
		rdlen = (unsigned int)ans[p + 8] << 8 | ans[p + 9];
		if (t > 0x7fffffffUL)	/* RFC 2181 §8 */
			t = 0;
		if (type == ns_t_txt && (ttl < 0 || (long)t < ttl))
			ttl = (long)t;
		p += 10 + rdlen;
		if (p > len)
			break;
	}
	return ttl;
}

/* spf_cache_get - cached verdict for domain, if fresh; counts a hit */
static bool
spf_cache_get(struct spf_checker *chk, const char *domain,
    enum spf_result *r_r, char *explain, size_t explainlen)
{
	time_t now = mono_s();
	bool hit = false;
	size_t i;

	pthread_mutex_lock(&chk->cache_mtx);
	for (i = 0; i < chk->ncache; i++) {
		struct spf_cache_ent *e = &chk->cache[i];

		if (strcmp(e->domain, domain) != 0 || e->expires <= now)
			continue;
		*r_r = e->result;
		if (explain != NULL && explainlen > 0)
			snprintf(explain, explainlen, "%s", e->explain);
		chk->stats.outbound_cache_hits++;
		hit = true;
		break;
	}
	pthread_mutex_unlock(&chk->cache_mtx);
	return hit;
}

/* spf_cache_put - remember a verdict for ttl seconds (0: don't); replaces
 * the same domain, an expired entry, or the one expiring first */
static void
spf_cache_put(struct spf_checker *chk, const char *domain,
    enum spf_result r, const char *explain, long ttl)
{
	time_t now = mono_s();
	struct spf_cache_ent *e = NULL;
	size_t i;

	if (ttl <= 0)
		return;
	if (ttl > SPF_CACHE_MAX_TTL)
		ttl = SPF_CACHE_MAX_TTL;
	pthread_mutex_lock(&chk->cache_mtx);
	for (i = 0; i < chk->ncache; i++)
		if (strcmp(chk->cache[i].domain, domain) == 0) {
			e = &chk->cache[i];
			break;
		}
	if (e == NULL && chk->ncache < SPF_CACHE_SIZE)
		e = &chk->cache[chk->ncache++];
	if (e == NULL) {
		e = &chk->cache[0];
		for (i = 1; i < chk->ncache; i++)
			if (chk->cache[i].expires < e->expires)
				e = &chk->cache[i];
	}
	snprintf(e->domain, sizeof(e->domain), "%s", domain);
	e->result = r;
	snprintf(e->explain, sizeof(e->explain), "%s", explain);
	e->expires = now + ttl;
	pthread_mutex_unlock(&chk->cache_mtx);
}

enum spf_result
spf_check_outbound(struct spf_checker *chk, const char *sender_domain,
    char *explain, size_t explainlen)
{
	char dom[256], reason[160], worst_reason[160] = "";
	char text[SPF_EXPLAIN_MAX];
	enum spf_result r, worst = SPFR_PASS;
	size_t i, worst_i = 0;
	long ttl;

	if (explain != NULL && explainlen > 0)
		explain[0] = '\0';
	if (!spf_norm_domain(sender_domain, dom, sizeof(dom))) {
		char safe[128];

		snprintf(explain, explainlen, "malformed sender domain '%s'",
		    log_safe(sender_domain, safe, sizeof(safe)));
		return SPFR_NONE;
	}
	if (chk->nip == 0) {
		snprintf(explain, explainlen, "no OutboundIP configured");
		return SPFR_NONE;
	}
	if (spf_cache_get(chk, dom, &r, explain, explainlen))
		return r;

	pthread_mutex_lock(&chk->eval_mtx);
	/* Another thread may have filled the cache while we waited. */
	if (spf_cache_get(chk, dom, &r, explain, explainlen)) {
		pthread_mutex_unlock(&chk->eval_mtx);
		return r;
	}
	for (i = 0; i < chk->nip; i++) {
		r = spf_eval(chk->server, &chk->ip[i], dom, reason,
		    sizeof(reason));
		if (i == 0 || spf_rank(r) > spf_rank(worst)) {
			worst = r;
			worst_i = i;
			memcpy(worst_reason, reason, sizeof(worst_reason));
		}
		/* DNS trouble hits every address alike: don't wait for it
		 * once per OutboundIP. */
		if (r == SPFR_TEMPERROR)
			break;
	}
	ttl = worst == SPFR_TEMPERROR ? -2 : spf_ttl(chk, dom);
	pthread_mutex_unlock(&chk->eval_mtx);

	if (worst == SPFR_PASS)
		snprintf(text, sizeof(text), "%s: pass for all %zu OutboundIP",
		    dom, chk->nip);
	else
		snprintf(text, sizeof(text), "%s: %s for OutboundIP %s%s%s",
		    dom, spf_result_str(worst), chk->ip[worst_i].text,
		    worst_reason[0] != '\0' ? ": " : "", worst_reason);
	if (worst == SPFR_TEMPERROR || ttl == -2)
		ttl = SPF_CACHE_ERR_TTL;
	else if (worst == SPFR_NONE || ttl == -1)
		ttl = SPF_CACHE_NEG_TTL;
	pthread_mutex_lock(&chk->cache_mtx);
	chk->stats.outbound_evals++;
	pthread_mutex_unlock(&chk->cache_mtx);
	spf_cache_put(chk, dom, worst, text, ttl);
	if (explain != NULL && explainlen > 0)
		snprintf(explain, explainlen, "%s", text);
	return worst;
}

/* spf_zone_load - build libspf2's zone layer from "NAME TYPE [DATA]" */
static SPF_dns_server_t *
spf_zone_load(const char *const *lines, char *why, size_t whylen)
{
	static const struct {
		const char *word;
		ns_type type;
		SPF_dns_stat_t herrno;	/* NETDB_SUCCESS: needs data */
	} types[] = {
		{ "TXT", ns_t_txt, NETDB_SUCCESS },
		{ "A", ns_t_a, NETDB_SUCCESS },
		{ "AAAA", ns_t_aaaa, NETDB_SUCCESS },
		{ "MX", ns_t_mx, NETDB_SUCCESS },
		{ "PTR", ns_t_ptr, NETDB_SUCCESS },
		{ "NXDOMAIN", ns_t_any, HOST_NOT_FOUND },
		{ "NODATA", ns_t_any, NO_DATA },
		{ "SERVFAIL", ns_t_any, TRY_AGAIN },
	};
	SPF_dns_server_t *zone;
	size_t i, j;

	if ((zone = SPF_dns_zone_new(NULL, "optin-zone", 0)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	for (i = 0; lines[i] != NULL; i++) {
		char name[256], word[16];
		const char *data;
		int off = 0;

		if (sscanf(lines[i], "%255s %15s %n", name, word, &off) < 2 ||
		    off == 0)
			goto bad;
		data = lines[i] + off;
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++)
			if (strcasecmp(word, types[j].word) == 0)
				break;
		if (j == sizeof(types) / sizeof(types[0]))
			goto bad;
		/* libspf2 aborts on data with an error type: check first. */
		if ((types[j].herrno == NETDB_SUCCESS) != (*data != '\0'))
			goto bad;
		if (SPF_dns_zone_add_str(zone, name, types[j].type,
		    types[j].herrno, types[j].herrno == NETDB_SUCCESS ? data :
		    NULL) != SPF_E_SUCCESS)
			goto bad;
	}
	return zone;
bad:
	snprintf(why, whylen, "zone line %zu: bad record '%s'", i + 1,
	    lines[i]);
	SPF_dns_free(zone);
	return NULL;
}

struct spf_checker *
spf_checker_new(const struct config *cfg, char *why, size_t whylen)
{
	return spf_checker_new_opts(cfg, NULL, why, whylen);
}

struct spf_checker *
spf_checker_new_opts(const struct config *cfg,
    const struct spf_options *opts, char *why, size_t whylen)
{
	static const struct spf_options defaults;
	struct spf_checker *chk;
	size_t i;

	if (opts == NULL)
		opts = &defaults;
	if ((chk = calloc(1, sizeof(*chk))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	chk->ctrl = -1;
	pthread_mutex_init(&chk->eval_mtx, NULL);
	pthread_mutex_init(&chk->cache_mtx, NULL);
	pthread_mutex_init(&chk->helper_mtx, NULL);
	chk->timeout_ms = opts->inbound_timeout_ms != 0 ?
	    opts->inbound_timeout_ms : SPF_INBOUND_TIMEOUT_MS;
	chk->no_helper = opts->no_helper;
	chk->helper_path = strdup(opts->helper_path != NULL ?
	    opts->helper_path : SPF_HELPER_PATH);
	chk->cache = calloc(SPF_CACHE_SIZE, sizeof(*chk->cache));
	if (chk->helper_path == NULL || chk->cache == NULL)
		goto oom;

	if (cfg != NULL && cfg->outbound_ip.n > 0) {
		chk->ip = calloc(cfg->outbound_ip.n, sizeof(*chk->ip));
		if (chk->ip == NULL)
			goto oom;
		for (i = 0; i < cfg->outbound_ip.n; i++) {
			char safe[64];

			if (!spf_parse_ip(cfg->outbound_ip.v[i], &chk->ip[i])) {
				snprintf(why, whylen, "OutboundIP: '%s' is not "
				    "an IPv4 or IPv6 address", log_safe(
				    cfg->outbound_ip.v[i], safe, sizeof(safe)));
				goto fail;
			}
		}
		chk->nip = cfg->outbound_ip.n;
	}

	SPF_warning_handler = spf_log_msg;
	SPF_info_handler = spf_log_msg;
	SPF_debug_handler = NULL;
	if (opts->zone != NULL) {
		if ((chk->zone = spf_zone_load(opts->zone, why, whylen)) ==
		    NULL)
			goto fail;
		chk->server = SPF_server_new_dns(chk->zone, 0);
	} else
		chk->server = SPF_server_new(SPF_DNS_RESOLV, 0);
	if (chk->server == NULL)
		goto oom;

	if (!chk->no_helper && spf_helper_start(chk, why, whylen) < 0)
		goto fail;
	return chk;
oom:
	snprintf(why, whylen, "out of memory");
fail:
	spf_checker_free(&chk);
	return NULL;
}

void
spf_checker_free(struct spf_checker **chkp)
{
	struct spf_checker *chk;

	if (chkp == NULL || (chk = *chkp) == NULL)
		return;
	spf_helper_stop(chk);
	if (chk->server != NULL)
		SPF_server_free(chk->server);
	if (chk->zone != NULL)
		SPF_dns_free(chk->zone);
	pthread_mutex_destroy(&chk->eval_mtx);
	pthread_mutex_destroy(&chk->cache_mtx);
	pthread_mutex_destroy(&chk->helper_mtx);
	free(chk->helper_path);
	free(chk->cache);
	free(chk->ip);
	free(chk);
	*chkp = NULL;
}

void
spf_checker_stats(struct spf_checker *chk, struct spf_stats *st_r)
{
	pthread_mutex_lock(&chk->cache_mtx);
	*st_r = chk->stats;
	pthread_mutex_unlock(&chk->cache_mtx);
	pthread_mutex_lock(&chk->helper_mtx);
	st_r->helper_pid = chk->helper_pid;
	pthread_mutex_unlock(&chk->helper_mtx);
}
