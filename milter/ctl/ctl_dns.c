/*
 * ctl_dns.c - optinctl verb "dns" (DESIGN "SPF", "DKIM", "optinctl").
 *
 *	dns		print the DKIM TXT records to publish for every
 *			configured key (no DNS query)
 *	dns DOMAIN	for mail From DOMAIN with envelope sender domain
 *			DOMAIN: (a) the DKIM record of each key the milter
 *			would sign with, and whether the record published at
 *			selector._domainkey.D matches it (p= compared with
 *			whitespace removed); (b) the SPF verdict of DOMAIN for
 *			every OutboundIP; (c) the DMARC record and whether
 *			DKIM (d=) and SPF (DOMAIN) align with the From domain
 *			(RFC 7489 §3.1, relaxed unless adkim=s / aspf=s)
 *
 * Output: text, or one JSON object with --json.  Exit codes (sysexits.h):
 * 0 every check is fine; 65 (EX_DATAERR) a check is bad: no key for
 * DOMAIN, DKIM record missing or different, SPF not "pass" for some
 * OutboundIP or no OutboundIP, no or several DMARC records, DKIM or SPF
 * not aligned; 75 (EX_TEMPFAIL) nothing bad but a DNS lookup failed
 * (temperror); 64 usage; 78 a key or table that cannot be loaded.  A bad
 * verdict wins over a temporary one: it needs the admin either way.
 *
 * DNS goes through spf.h (the only file that includes libspf2): a checker
 * without helper per OutboundIP, so that each address gets its own verdict
 * (spf_check_outbound() reports the worst only).
 * Single-threaded tool; all state lives in struct dns_report.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "config.h"
#include "ctl.h"
#include "dkimsign.h"
#include "log.h"
#include "spf.h"

#define DNS_DOMAINKEY	"._domainkey."

enum dns_dkim {
	DNS_DKIM_MATCHES,	/* a published record has the same p= */
	DNS_DKIM_DIFFERS,	/* DKIM records published, none the same */
	DNS_DKIM_MISSING,	/* no DKIM record at the name */
	DNS_DKIM_TEMPERROR	/* DNS failure */
};

static const char *const dns_dkim_words[] = {
	[DNS_DKIM_MATCHES] = "matches",
	[DNS_DKIM_DIFFERS] = "differs",
	[DNS_DKIM_MISSING] = "missing",
	[DNS_DKIM_TEMPERROR] = "temperror",
};

/* One configured DKIM key, as dkimsign_dns_records() gives it. */
struct dns_key {
	char *name;			/* owned: selector._domainkey.domain */
	char *txt;			/* owned: the record to publish */
	const char *domain;		/* d=, points into name */
	bool chosen;			/* would sign mail From DOMAIN */
	enum dns_dkim state;
	char *published;		/* owned: matching or first DKIM
					 * record found, or NULL */
	char why[256];
};

/* The SPF verdict for one OutboundIP. */
struct dns_spf {
	const char *ip;			/* borrowed from the config */
	enum spf_result r;
	char explain[512];
};

struct dns_report {
	struct ctl *c;			/* borrowed */
	char domain[256];		/* DOMAIN, lower case, no final dot */
	struct dns_key *keys;		/* owned, nkeys */
	size_t nkeys, keycap;
	size_t nchosen;
	struct dns_spf *spf;		/* owned, one per OutboundIP */
	size_t nspf;
	enum spf_lookup dmarc;
	char dmarc_record[1024], dmarc_at[256], dmarc_why[256];
	char policy[32];
	bool adkim_strict, aspf_strict;
	bool dkim_aligned, spf_aligned;
	const char *dkim_d;		/* d= judged for alignment, or NULL */
	bool bad, temp;			/* a bad / temporary verdict seen */
};

/* dns_oom - a failed allocation ends the tool (STYLE.md §5) */
static void __attribute__((noreturn))
dns_oom(void)
{
	fprintf(stderr, "optinctl: out of memory\n");
	exit(EX_OSERR);
}

/* dns_strdup - strdup or exit */
static char *
dns_strdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		dns_oom();
	return p;
}

/* dns_put_zone - print one TXT record in zone-file form, with strings of
 * at most 255 octets (RFC 1035 §3.3) */
static void
dns_put_zone(FILE *fp, const char *name, const char *txt)
{
	size_t i, n;

	fprintf(fp, "%s. IN TXT (", name);
	for (i = 0; i == 0 || txt[i] != '\0';) {
		fputs(" \"", fp);
		for (n = 0; n < 255 && txt[i] != '\0'; i++, n++) {
			if (txt[i] == '"' || txt[i] == '\\')
				fputc('\\', fp);
			fputc(txt[i], fp);
		}
		fputc('"', fp);
		if (txt[i] == '\0')
			break;
	}
	fputs(" )\n", fp);
}

/* dns_key_add - dkimsign_dns_records() callback: remember one key */
static void
dns_key_add(const char *name, const char *txt, void *arg)
{
	struct dns_report *rep = arg;
	struct dns_key *k;
	const char *p;

	if (rep->nkeys == rep->keycap) {
		size_t cap = rep->keycap == 0 ? 4 : rep->keycap * 2;
		struct dns_key *nk = realloc(rep->keys, cap * sizeof(*nk));

		if (nk == NULL)
			dns_oom();
		rep->keys = nk;
		rep->keycap = cap;
	}
	k = &rep->keys[rep->nkeys++];
	memset(k, 0, sizeof(*k));
	k->name = dns_strdup(name);
	k->txt = dns_strdup(txt);
	p = strstr(k->name, DNS_DOMAINKEY);
	k->domain = p != NULL ? p + strlen(DNS_DOMAINKEY) : k->name;
}

/* dns_report_free - release what the report owns */
static void
dns_report_free(struct dns_report *rep)
{
	size_t i;

	for (i = 0; i < rep->nkeys; i++) {
		free(rep->keys[i].name);
		free(rep->keys[i].txt);
		free(rep->keys[i].published);
	}
	free(rep->keys);
	free(rep->spf);
	rep->keys = NULL;
	rep->spf = NULL;
	rep->nkeys = rep->nspf = 0;
}

/* dns_parent_of - is parent equal to domain or a parent domain of it? */
static bool
dns_parent_of(const char *parent, const char *domain)
{
	size_t pl = strlen(parent), dl = strlen(domain);

	if (pl == 0 || pl > dl)
		return false;
	if (strcasecmp(domain + dl - pl, parent) != 0)
		return false;
	return pl == dl || domain[dl - pl - 1] == '.';
}

/*
 * dns_choose - mark the keys the milter would sign mail From DOMAIN with:
 * keys of d=DOMAIN, else keys of a parent domain, else (Domain/KeyFile
 * set-up: one key signs all mail) every key.  XXX SigningTable patterns
 * are not consulted: a table that maps DOMAIN to a key of an unrelated
 * domain is not followed.
 */
static void
dns_choose(struct dns_report *rep)
{
	size_t i, pass;

	/* pass 0: d=DOMAIN; 1: a parent domain; 2: the one KeyFile key */
	for (pass = 0; pass < 3 && rep->nchosen == 0; pass++) {
		if (pass == 2 && rep->c->cfg->key_file == NULL)
			break;
		for (i = 0; i < rep->nkeys; i++) {
			const char *d = rep->keys[i].domain;

			if ((pass == 0 && strcasecmp(d, rep->domain) == 0) ||
			    (pass == 1 && dns_parent_of(d, rep->domain)) ||
			    pass == 2) {
				rep->keys[i].chosen = true;
				rep->nchosen++;
			}
		}
	}
}

/*
 * dns_tag - find tag in a DKIM or DMARC tag list ("a=b; c=d", RFC 6376
 * §3.2); true when present.  With out, its value goes there, surrounding
 * whitespace trimmed; with nows all whitespace inside is dropped too
 * (base64 in p=, RFC 6376 §3.6.1).  False also when out is too small.
 */
static bool
dns_tag(const char *list, const char *tag, bool nows, char *out,
    size_t outlen)
{
	const char *p = list, *name, *name_end, *v, *end;
	size_t o;

	while (*p != '\0') {
		while (isspace((unsigned char)*p))
			p++;
		name = p;
		while (*p != '\0' && *p != '=' && *p != ';')
			p++;
		name_end = p;
		while (name_end > name && isspace((unsigned char)name_end[-1]))
			name_end--;
		if (*p != '=') {
			if (*p == ';')
				p++;
			continue;
		}
		v = ++p;
		while (*p != '\0' && *p != ';')
			p++;
		end = p;
		if (*p == ';')
			p++;
		if ((size_t)(name_end - name) != strlen(tag) ||
		    strncasecmp(name, tag, strlen(tag)) != 0)
			continue;
		if (out == NULL)
			return true;
		while (v < end && isspace((unsigned char)*v))
			v++;
		while (end > v && isspace((unsigned char)end[-1]))
			end--;
		for (o = 0; v < end; v++) {
			if (nows && isspace((unsigned char)*v))
				continue;
			if (o + 1 >= outlen)
				return false;
			out[o++] = *v;
		}
		out[o] = '\0';
		return true;
	}
	return false;
}

/* dns_is_dkim - does a TXT record look like a DKIM key record?  RFC 6376
 * §3.6.1: v= is optional but first when present; p= is required */
static bool
dns_is_dkim(const char *txt)
{
	char v[16];

	while (isspace((unsigned char)*txt))
		txt++;
	if (dns_tag(txt, "v", false, v, sizeof(v)))
		return *txt == 'v' && strcmp(v, "DKIM1") == 0;
	return dns_tag(txt, "p", false, NULL, 0);
}

struct dns_txt_arg {
	struct dns_key *k;
	const char *want_p;		/* p= of the record to publish */
	char *got_p;			/* scratch, gotlen bytes */
	size_t gotlen;
	bool dkim_seen, matched;
};

/* dns_txt_seen - spf_txt_lookup() callback: compare one published record */
static void
dns_txt_seen(const char *txt, void *arg)
{
	struct dns_txt_arg *a = arg;

	if (a->matched || !dns_is_dkim(txt))
		return;
	if (dns_tag(txt, "p", true, a->got_p, a->gotlen) &&
	    strcmp(a->got_p, a->want_p) == 0) {
		a->matched = true;
		free(a->k->published);
		a->k->published = dns_strdup(txt);
		return;
	}
	if (!a->dkim_seen)
		a->k->published = dns_strdup(txt);
	a->dkim_seen = true;
}

/* dns_check_dkim - look up the published record of each chosen key */
static void
dns_check_dkim(struct dns_report *rep, struct spf_checker *chk)
{
	struct dns_txt_arg a;
	enum spf_lookup lr;
	struct dns_key *k;
	size_t i, len;
	char *want;

	for (i = 0; i < rep->nkeys; i++) {
		k = &rep->keys[i];
		if (!k->chosen)
			continue;
		len = strlen(k->txt) + 1;
		if ((want = malloc(len)) == NULL ||
		    (a.got_p = malloc(4096)) == NULL)
			dns_oom();
		if (!dns_tag(k->txt, "p", true, want, len))
			want[0] = '\0';
		a.k = k;
		a.want_p = want;
		a.gotlen = 4096;
		a.dkim_seen = a.matched = false;
		lr = spf_txt_lookup(chk, k->name, dns_txt_seen, &a, k->why,
		    sizeof(k->why));
		if (lr == SPF_LOOKUP_TEMPERROR) {
			k->state = DNS_DKIM_TEMPERROR;
			rep->temp = true;
		} else if (a.matched)
			k->state = DNS_DKIM_MATCHES;
		else if (a.dkim_seen) {
			k->state = DNS_DKIM_DIFFERS;
			snprintf(k->why, sizeof(k->why), "the published p= is "
			    "another key");
			rep->bad = true;
		} else {
			k->state = DNS_DKIM_MISSING;
			if (lr == SPF_LOOKUP_FOUND)
				snprintf(k->why, sizeof(k->why), "%s: no DKIM "
				    "record among its TXT records", k->name);
			rep->bad = true;
		}
		free(want);
		free(a.got_p);
	}
	if (rep->nchosen == 0)
		rep->bad = true;
}

/* dns_check_spf - the SPF verdict of DOMAIN for each OutboundIP, each with
 * a checker of its own; 0, or -1 after printing why (EX_CONFIG) */
static int
dns_check_spf(struct dns_report *rep)
{
	const struct config *cfg = rep->c->cfg;
	struct spf_options opts = { .no_helper = true };
	struct spf_checker *chk;
	struct config one;
	char *v[2], why[512];
	size_t i;

	if (cfg->outbound_ip.n == 0) {
		rep->bad = true;
		return 0;
	}
	if ((rep->spf = calloc(cfg->outbound_ip.n, sizeof(*rep->spf))) ==
	    NULL)
		dns_oom();
	for (i = 0; i < cfg->outbound_ip.n; i++) {
		/* the checker reads (and copies) only outbound_ip */
		one = *cfg;
		v[0] = cfg->outbound_ip.v[i];
		v[1] = NULL;
		one.outbound_ip.n = 1;
		one.outbound_ip.v = v;
		if ((chk = spf_checker_new_opts(&one, &opts, why,
		    sizeof(why))) == NULL) {
			fprintf(stderr, "optinctl: %s\n", why);
			return -1;
		}
		rep->spf[i].ip = cfg->outbound_ip.v[i];
		rep->spf[i].r = spf_check_outbound(chk, rep->domain,
		    rep->spf[i].explain, sizeof(rep->spf[i].explain));
		spf_checker_free(&chk);
		rep->nspf++;
		if (rep->spf[i].r == SPFR_TEMPERROR)
			rep->temp = true;
		else if (rep->spf[i].r != SPFR_PASS)
			rep->bad = true;
	}
	return 0;
}

/* dns_check_dmarc - the DMARC record and identifier alignment */
static void
dns_check_dmarc(struct dns_report *rep, struct spf_checker *chk)
{
	char val[16];
	size_t i;

	rep->dmarc = spf_dmarc_lookup(chk, rep->domain, rep->dmarc_record,
	    sizeof(rep->dmarc_record), rep->dmarc_at, sizeof(rep->dmarc_at),
	    rep->dmarc_why, sizeof(rep->dmarc_why));
	if (rep->dmarc == SPF_LOOKUP_TEMPERROR)
		rep->temp = true;
	else if (rep->dmarc != SPF_LOOKUP_FOUND)
		rep->bad = true;
	if (rep->dmarc == SPF_LOOKUP_FOUND) {
		if (!dns_tag(rep->dmarc_record, "p", false, rep->policy,
		    sizeof(rep->policy)))
			rep->policy[0] = '\0';
		rep->adkim_strict = dns_tag(rep->dmarc_record, "adkim", false,
		    val, sizeof(val)) && strcasecmp(val, "s") == 0;
		rep->aspf_strict = dns_tag(rep->dmarc_record, "aspf", false,
		    val, sizeof(val)) && strcasecmp(val, "s") == 0;
	}
	/* Without a record the RFC defaults (relaxed) are shown. */
	for (i = 0; i < rep->nkeys; i++) {
		if (!rep->keys[i].chosen)
			continue;
		if (rep->dkim_d == NULL)
			rep->dkim_d = rep->keys[i].domain;
		if (spf_aligned(rep->domain, rep->keys[i].domain,
		    rep->adkim_strict)) {
			rep->dkim_d = rep->keys[i].domain;
			rep->dkim_aligned = true;
			break;
		}
	}
	/* The envelope sender domain is DOMAIN itself. */
	rep->spf_aligned = spf_aligned(rep->domain, rep->domain,
	    rep->aspf_strict);
	if ((rep->dkim_d != NULL && !rep->dkim_aligned) || !rep->spf_aligned)
		rep->bad = true;
}

/* dns_lookup_word - printed form of a DMARC lookup outcome */
static const char *
dns_lookup_word(enum spf_lookup l)
{
	switch (l) {
	case SPF_LOOKUP_FOUND:
		return "found";
	case SPF_LOOKUP_NONE:
		return "none";
	case SPF_LOOKUP_TEMPERROR:
		return "temperror";
	case SPF_LOOKUP_PERMERROR:
		return "permerror";
	}
	return "?";
}

/* dns_result_word - overall verdict: "ok", "bad" or "temperror" */
static const char *
dns_result_word(const struct dns_report *rep)
{
	return rep->bad ? "bad" : rep->temp ? "temperror" : "ok";
}

/* dns_print_text - the report for a person */
static void
dns_print_text(const struct dns_report *rep)
{
	const struct dns_key *k;
	size_t i;

	printf("domain: %s\n", rep->domain);
	if (rep->nchosen == 0)
		printf("dkim: no key configured for %s\n", rep->domain);
	for (i = 0; i < rep->nkeys; i++) {
		k = &rep->keys[i];
		if (!k->chosen)
			continue;
		printf("dkim: %s: %s", k->name, dns_dkim_words[k->state]);
		if (k->state != DNS_DKIM_MATCHES && k->why[0] != '\0')
			printf(" (%s)", k->why);
		printf("\n  publish: ");
		dns_put_zone(stdout, k->name, k->txt);
		if (k->state == DNS_DKIM_DIFFERS && k->published != NULL)
			printf("  published: \"%s\"\n", k->published);
	}
	if (rep->c->cfg->outbound_ip.n == 0)
		printf("spf: not checked: no OutboundIP configured\n");
	for (i = 0; i < rep->nspf; i++) {
		printf("spf: %s: %s", rep->spf[i].ip,
		    spf_result_str(rep->spf[i].r));
		if (rep->spf[i].r != SPFR_PASS)
			printf(" (%s)", rep->spf[i].explain);
		printf("\n");
	}
	if (rep->dmarc == SPF_LOOKUP_FOUND)
		printf("dmarc: found at _dmarc.%s: %s\n", rep->dmarc_at,
		    rep->dmarc_record);
	else
		printf("dmarc: %s (%s)\n", dns_lookup_word(rep->dmarc),
		    rep->dmarc_why);
	if (rep->dkim_d != NULL)
		printf("dmarc: dkim d=%s %saligned (%s)\n", rep->dkim_d,
		    rep->dkim_aligned ? "" : "not ",
		    rep->adkim_strict ? "strict" : "relaxed");
	printf("dmarc: spf %s %saligned (%s)\n", rep->domain,
	    rep->spf_aligned ? "" : "not ",
	    rep->aspf_strict ? "strict" : "relaxed");
	printf("result: %s\n", dns_result_word(rep));
}

/* dns_print_json - the report as one JSON object */
static void
dns_print_json(const struct dns_report *rep)
{
	const struct dns_key *k;
	bool first = true;
	size_t i;

	printf("{\"domain\":");
	ctl_json_str(stdout, rep->domain);
	printf(",\"dkim\":[");
	for (i = 0; i < rep->nkeys; i++) {
		k = &rep->keys[i];
		if (!k->chosen)
			continue;
		printf("%s{\"name\":", first ? "" : ",");
		first = false;
		ctl_json_str(stdout, k->name);
		printf(",\"domain\":");
		ctl_json_str(stdout, k->domain);
		printf(",\"value\":");
		ctl_json_str(stdout, k->txt);
		printf(",\"status\":\"%s\",\"published\":",
		    dns_dkim_words[k->state]);
		ctl_json_str(stdout, k->published);
		printf(",\"detail\":");
		ctl_json_str(stdout, k->state == DNS_DKIM_MATCHES ||
		    k->why[0] == '\0' ? NULL : k->why);
		printf("}");
	}
	printf("],\"spf\":[");
	for (i = 0; i < rep->nspf; i++) {
		printf("%s{\"ip\":", i > 0 ? "," : "");
		ctl_json_str(stdout, rep->spf[i].ip);
		printf(",\"result\":\"%s\",\"explain\":",
		    spf_result_str(rep->spf[i].r));
		ctl_json_str(stdout, rep->spf[i].explain);
		printf("}");
	}
	printf("],\"dmarc\":{\"status\":\"%s\",\"record\":",
	    dns_lookup_word(rep->dmarc));
	ctl_json_str(stdout, rep->dmarc == SPF_LOOKUP_FOUND ?
	    rep->dmarc_record : NULL);
	printf(",\"found_at\":");
	ctl_json_str(stdout, rep->dmarc == SPF_LOOKUP_FOUND ?
	    rep->dmarc_at : NULL);
	printf(",\"policy\":");
	ctl_json_str(stdout, rep->policy[0] != '\0' ? rep->policy : NULL);
	printf(",\"detail\":");
	ctl_json_str(stdout, rep->dmarc == SPF_LOOKUP_FOUND ? NULL :
	    rep->dmarc_why);
	printf(",\"adkim\":\"%s\",\"aspf\":\"%s\",\"dkim_domain\":",
	    rep->adkim_strict ? "s" : "r", rep->aspf_strict ? "s" : "r");
	ctl_json_str(stdout, rep->dkim_d);
	printf(",\"dkim_aligned\":%s,\"spf_domain\":",
	    rep->dkim_aligned ? "true" : "false");
	ctl_json_str(stdout, rep->domain);
	printf(",\"spf_aligned\":%s},\"result\":\"%s\"}\n",
	    rep->spf_aligned ? "true" : "false", dns_result_word(rep));
}

/* dns_domain_ok - normalise DOMAIN into out: LDH labels (and '_'), lower
 * case, no final dot; false when it is not a domain name */
static bool
dns_domain_ok(const char *in, char *out, size_t outlen)
{
	size_t len = strlen(in), i, label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len >= outlen || len > 253)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++label > 63)
				return false;
		} else
			return false;
		out[i] = (char)tolower(ch);
	}
	out[len] = '\0';
	return label > 0;
}

/* dns_check - "dns DOMAIN" */
static int
dns_check(struct ctl *c, const char *domain)
{
	struct spf_options opts = { .no_helper = true };
	struct dns_report rep;
	struct spf_checker *chk = NULL;
	struct dkimsign *ds;
	char why[512], safe[128];
	int ex = EX_CONFIG;

	memset(&rep, 0, sizeof(rep));
	rep.c = c;
	if (!dns_domain_ok(domain, rep.domain, sizeof(rep.domain))) {
		fprintf(stderr, "optinctl: '%s' is not a domain name\n",
		    log_safe(domain, safe, sizeof(safe)));
		return EX_DATAERR;
	}
	why[0] = '\0';
	if ((ds = dkimsign_open(c->cfg, why, sizeof(why))) == NULL &&
	    why[0] != '\0') {
		fprintf(stderr, "optinctl: %s\n", why);
		return EX_CONFIG;
	}
	if (ds != NULL && dkimsign_dns_records(ds, dns_key_add, &rep, why,
	    sizeof(why)) < 0) {
		fprintf(stderr, "optinctl: %s\n", why);
		goto out;
	}
	dkimsign_free(&ds);		/* the records are copied */
	dns_choose(&rep);
	/* DKIM and DMARC lookups: a checker without OutboundIP */
	if ((chk = spf_checker_new_opts(NULL, &opts, why, sizeof(why))) ==
	    NULL) {
		fprintf(stderr, "optinctl: %s\n", why);
		goto out;
	}
	dns_check_dkim(&rep, chk);
	if (dns_check_spf(&rep) < 0)
		goto out;
	dns_check_dmarc(&rep, chk);
	if (c->json)
		dns_print_json(&rep);
	else
		dns_print_text(&rep);
	ex = rep.bad ? EX_DATAERR : rep.temp ? EX_TEMPFAIL : EX_OK;
out:
	spf_checker_free(&chk);
	dkimsign_free(&ds);
	dns_report_free(&rep);
	return ex;
}

struct dns_list {
	const struct ctl *c;
	size_t n;			/* records printed */
};

/* dns_list_record - dkimsign_dns_records() callback for "dns": print one
 * record to publish */
static void
dns_list_record(const char *name, const char *txt, void *arg)
{
	struct dns_list *d = arg;

	if (d->c->json) {
		printf("%s{\"name\":", d->n > 0 ? "," : "");
		ctl_json_str(stdout, name);
		printf(",\"type\":\"TXT\",\"value\":");
		ctl_json_str(stdout, txt);
		printf("}");
	} else
		dns_put_zone(stdout, name, txt);
	d->n++;
}

/* dns_list - "dns": every record to publish, no DNS query */
static int
dns_list(struct ctl *c)
{
	struct dkimsign *ds;
	struct dns_list d = { c, 0 };
	char why[512];
	int rc;

	why[0] = '\0';
	if ((ds = dkimsign_open(c->cfg, why, sizeof(why))) == NULL) {
		if (why[0] == '\0')
			fprintf(stderr, "optinctl: no DKIM key configured "
			    "(Domain, Selector, KeyFile or KeyTable)\n");
		else
			fprintf(stderr, "optinctl: %s\n", why);
		return EX_CONFIG;
	}
	if (c->json)
		printf("{\"records\":[");
	rc = dkimsign_dns_records(ds, dns_list_record, &d, why, sizeof(why));
	dkimsign_free(&ds);
	if (c->json)
		printf("]}\n");
	if (rc < 0) {
		fprintf(stderr, "optinctl: %s\n", why);
		return EX_CONFIG;
	}
	return EX_OK;
}

int
ctl_dns(struct ctl *c, int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && (argv[1][0] == '\0' ||
	    argv[1][0] == '-'))) {
		fprintf(stderr, "usage: optinctl dns [DOMAIN]\n");
		return EX_USAGE;
	}
	return argc == 2 ? dns_check(c, argv[1]) : dns_list(c);
}
