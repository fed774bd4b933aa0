/*
 * config.c - the configuration parser shared by all programs (config.h).
 *
 * One typed key table gives each key's name, type, default, limits and the
 * field it fills.  Parsing never stops at the first error: every bad line is
 * reported as "file:line: Key: why" and counted, and no config is returned
 * if any was found (STYLE.md section 6).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "campaign.h"
#include "config.h"
#include "log.h"
#include "prom.h"
#include "smtpc.h"

enum cfg_type { CFG_STR, CFG_BOOL, CFG_INT, CFG_DURATION, CFG_ENUM, CFG_LIST };

struct cfg_enum { const char *word; int value; };

struct cfg_key {
	const char *name;
	enum cfg_type type;
	const char *dflt;		/* NULL: unset */
	long min, max;			/* CFG_INT, CFG_DURATION */
	size_t off;			/* offsetof(struct config, field) */
	const struct cfg_enum *words;	/* CFG_ENUM, NULL-terminated */
};

#define CFG_OFF(f) offsetof(struct config, f)
#define DAYS(n) ((long)(n) * 86400L)

static const struct cfg_enum mode_words[] = {
	{ "enforce", MODE_ENFORCE }, { "monitor", MODE_MONITOR }, { NULL, 0 } };
static const struct cfg_enum multi_words[] = {
	{ "split", MULTI_SPLIT }, { "defer", MULTI_DEFER },
	{ "reject", MULTI_REJECT }, { NULL, 0 } };
static const struct cfg_enum ondberr_words[] = {
	{ "tempfail", ONDBERR_TEMPFAIL }, { "accept", ONDBERR_ACCEPT },
	{ "reject", ONDBERR_REJECT }, { NULL, 0 } };
static const struct cfg_enum onnokey_words[] = {
	{ "tempfail", ONNOKEY_TEMPFAIL }, { "quarantine", ONNOKEY_QUARANTINE },
	{ "accept", ONNOKEY_ACCEPT }, { NULL, 0 } };
static const struct cfg_enum logaddr_words[] = {
	{ "yes", LOGADDR_YES }, { "hash", LOGADDR_HASH }, { "no", LOGADDR_NO },
	{ NULL, 0 } };
static const struct cfg_enum spf_words[] = {
	{ "off", SPF_OFF }, { "warn", SPF_WARN }, { "reject", SPF_REJECT },
	{ NULL, 0 } };
static const struct cfg_enum sigalg_words[] = {
	{ "rsa-sha256", SIGALG_RSA }, { "ed25519-sha256", SIGALG_ED25519 },
	{ "both", SIGALG_BOTH }, { NULL, 0 } };
static const struct cfg_enum level_words[] = {
	{ "err", 0 }, { "error", 0 }, { "warning", 1 }, { "notice", 2 },
	{ "info", 2 }, { "debug", 3 }, { NULL, 0 } };

static const struct cfg_key keys[] = {
	{ "Socket", CFG_STR, "local:/run/optin-milter/optin-milter.sock", 0, 0, CFG_OFF(socket), NULL },
	{ "ConsentDB", CFG_STR, "/var/lib/optin-milter/consent.db", 0, 0, CFG_OFF(consent_db), NULL },
	{ "QuarantineDir", CFG_STR, "/var/spool/optin-milter/quarantine", 0, 0, CFG_OFF(quarantine_dir), NULL },
	{ "UserID", CFG_STR, NULL, 0, 0, CFG_OFF(user_id), NULL },
	{ "PidFile", CFG_STR, NULL, 0, 0, CFG_OFF(pid_file), NULL },
	{ "Syslog", CFG_BOOL, "yes", 0, 0, CFG_OFF(syslog), NULL },
	{ "SyslogFacility", CFG_STR, "mail", 0, 0, CFG_OFF(syslog_facility), NULL },
	{ "LogLevel", CFG_ENUM, "info", 0, 0, CFG_OFF(log_level), level_words },
	{ "CampaignSenders", CFG_LIST, NULL, 0, 0, CFG_OFF(campaign_senders), NULL },
	{ "CampaignAuthUsers", CFG_LIST, NULL, 0, 0, CFG_OFF(campaign_auth_users), NULL },
	{ "CampaignHeader", CFG_STR, "X-Campaign-ID", 0, 0, CFG_OFF(campaign_header), NULL },
	{ "ListHeader", CFG_STR, "X-Campaign-List", 0, 0, CFG_OFF(list_header), NULL },
	{ "DefaultList", CFG_STR, NULL, 0, 0, CFG_OFF(default_list), NULL },
	{ "StripInternalHeaders", CFG_BOOL, "yes", 0, 0, CFG_OFF(strip_internal_headers), NULL },
	{ "MultiRecipientCampaign", CFG_ENUM, "split", 0, 0, CFG_OFF(multi_recipient), multi_words },
	{ "SendmailCommand", CFG_STR, "/usr/sbin/sendmail -i", 0, 0, CFG_OFF(sendmail_command), NULL },
	{ "ResubmitAddress", CFG_STR, NULL, 0, 0, CFG_OFF(resubmit_address), NULL },
	{ "ResubmitTimeout", CFG_DURATION, "60s", 1, 3600, CFG_OFF(resubmit_timeout), NULL },
	{ "SplitHandoverWait", CFG_DURATION, "2m", 1, DAYS(1), CFG_OFF(split_handover_wait), NULL },
	{ "ListIdDomain", CFG_STR, NULL, 0, 0, CFG_OFF(list_id_domain), NULL },
	{ "Domain", CFG_STR, NULL, 0, 0, CFG_OFF(domain), NULL },
	{ "Selector", CFG_STR, NULL, 0, 0, CFG_OFF(selector), NULL },
	{ "KeyFile", CFG_STR, NULL, 0, 0, CFG_OFF(key_file), NULL },
	{ "SelectorEd25519", CFG_STR, NULL, 0, 0, CFG_OFF(selector_ed25519), NULL },
	{ "KeyFileEd25519", CFG_STR, NULL, 0, 0, CFG_OFF(key_file_ed25519), NULL },
	{ "KeyTable", CFG_STR, NULL, 0, 0, CFG_OFF(key_table), NULL },
	{ "SigningTable", CFG_STR, NULL, 0, 0, CFG_OFF(signing_table), NULL },
	{ "SigningAlgorithm", CFG_ENUM, "rsa-sha256", 0, 0, CFG_OFF(signing_algorithm), sigalg_words },
	{ "SignAll", CFG_BOOL, "no", 0, 0, CFG_OFF(sign_all), NULL },
	{ "OnNoSigningKey", CFG_ENUM, "tempfail", 0, 0, CFG_OFF(on_no_signing_key), onnokey_words },
	{ "UnsubscribeURL", CFG_STR, NULL, 0, 0, CFG_OFF(unsubscribe_url), NULL },
	{ "UnsubscribeMailto", CFG_STR, NULL, 0, 0, CFG_OFF(unsubscribe_mailto), NULL },
	{ "TokenKeyFile", CFG_STR, NULL, 0, 0, CFG_OFF(token_key_file), NULL },
	{ "ErasureKeyFile", CFG_STR, NULL, 0, 0, CFG_OFF(erasure_key_file), NULL },
	{ "TokenLifetime", CFG_DURATION, "400d", DAYS(1), DAYS(3650), CFG_OFF(token_lifetime), NULL },
	{ "OnDBError", CFG_ENUM, "tempfail", 0, 0, CFG_OFF(on_db_error), ondberr_words },
	{ "QuarantineRetention", CFG_DURATION, "30d", DAYS(1), DAYS(3650), CFG_OFF(quarantine_retention), NULL },
	{ "LogAddresses", CFG_ENUM, "yes", 0, 0, CFG_OFF(log_addresses), logaddr_words },
	{ "UnsubscribeListen", CFG_STR, "127.0.0.1:8025", 0, 0, CFG_OFF(unsubscribe_listen), NULL },
	{ "OutboundIP", CFG_LIST, NULL, 0, 0, CFG_OFF(outbound_ip), NULL },
	{ "SPFCheck", CFG_ENUM, "warn", 0, 0, CFG_OFF(spf_check), spf_words },
	{ "Mode", CFG_ENUM, "enforce", 0, 0, CFG_OFF(mode), mode_words },
	{ "DBBusyTimeout", CFG_INT, "5000", 0, 600000, CFG_OFF(db_busy_timeout), NULL },
	{ "Organization", CFG_STR, NULL, 0, 0, CFG_OFF(organization), NULL },
	{ "PrivacyURL", CFG_STR, NULL, 0, 0, CFG_OFF(privacy_url), NULL },
	{ "BounceAddress", CFG_STR, NULL, 0, 0, CFG_OFF(bounce_address), NULL },
	{ "SoftBounceLimit", CFG_INT, "5", 1, 1000, CFG_OFF(soft_bounce_limit), NULL },
	{ "SoftBounceWindow", CFG_DURATION, "30d", 3600, DAYS(365), CFG_OFF(soft_bounce_window), NULL },
	{ "PolicyBounceLimit", CFG_INT, "50", 1, 1000000, CFG_OFF(policy_bounce_limit), NULL },
	{ "PolicyBounceWindow", CFG_DURATION, "1h", 60, DAYS(7), CFG_OFF(policy_bounce_window), NULL },
	{ "FeedbackTrustedDomains", CFG_LIST, NULL, 0, 0, CFG_OFF(feedback_trusted_domains), NULL },
	{ "FeedbackMaxSize", CFG_INT, "20971520", 65536, 1073741824, CFG_OFF(feedback_max_size), NULL },
	{ "CFBLAddress", CFG_STR, NULL, 0, 0, CFG_OFF(cfbl_address), NULL },
	{ "DKIMQueryFile", CFG_STR, NULL, 0, 0, CFG_OFF(dkim_query_file), NULL },
	{ "MetricsAddress", CFG_STR, NULL, 0, 0, CFG_OFF(metrics_address), NULL },
	{ "UnsubscribeMetricsAddress", CFG_STR, NULL, 0, 0, CFG_OFF(unsubscribe_metrics_address), NULL },
	{ "HTTPRequestTimeout", CFG_DURATION, "10s", 1, 3600, CFG_OFF(http_request_timeout), NULL },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define CONFIG_MAX (1 << 20)	/* bytes: a config file is small */

struct parse {
	const char *name;	/* file name for messages */
	FILE *err;
	int nerrors;
	unsigned char seen[NKEYS];
	int line[NKEYS];	/* where each key was set; 0: default */
};

/* perr - report one error at name:line */
static void __attribute__((format(printf, 4, 5)))
perr(struct parse *p, int line, const char *key, const char *fmt, ...)
{
	va_list ap;

	p->nerrors++;
	if (p->err == NULL)
		return;
	if (line > 0)
		fprintf(p->err, "%s:%d: ", p->name, line);
	else
		fprintf(p->err, "%s: ", p->name);
	if (key != NULL)
		fprintf(p->err, "%s: ", key);
	va_start(ap, fmt);
	vfprintf(p->err, fmt, ap);
	va_end(ap);
	fputc('\n', p->err);
}

/* parse_bool - yes/no/true/false/1/0/on/off */
static int
parse_bool(const char *v, bool *b_r)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return (*b_r = true), 0;
		if (strcasecmp(v, no[i]) == 0)
			return (*b_r = false), 0;
	}
	return -1;
}

/* parse_number - a decimal number with an optional unit (s, m, h, d, w
 * when units is true), in seconds for durations */
static int
parse_number(const char *v, bool units, long *n_r)
{
	char *end;
	long long n, mul = 1;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || n > INT32_MAX)
		return -1;
	if (units && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return -1;
		}
		end++;
	}
	/* n * mul < 2^31 * 2^20: no overflow in long long; a 32-bit long
	 * may still not hold it */
	if (*end != '\0' || n * mul > LONG_MAX)
		return -1;
	*n_r = (long)(n * mul);
	return 0;
}

/* parse_list - split on commas and white space into an owned list */
static int
parse_list(const char *v, struct cfg_list *l)
{
	const char *p = v;
	size_t cap = 4;

	l->n = 0;
	if ((l->v = calloc(cap + 1, sizeof(char *))) == NULL)
		return -1;
	while (*p != '\0') {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == 0)
			break;
		if (l->n == cap) {
			char **nv = realloc(l->v, (cap * 2 + 1) * sizeof(char *));

			if (nv == NULL)
				return -1;
			l->v = nv;
			cap *= 2;
		}
		if ((l->v[l->n] = strndup(p, len)) == NULL)
			return -1;
		l->v[++l->n] = NULL;
		p += len;
	}
	return 0;
}

static void
list_free(struct cfg_list *l)
{
	size_t i;

	for (i = 0; l->v != NULL && i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* enum_words - "a, b or c" for a message */
static void
enum_words(const struct cfg_enum *w, char *out, size_t outlen)
{
	size_t len = 0;

	out[0] = '\0';
	for (; w->word != NULL && len < outlen; w++) {
		len += (size_t)snprintf(out + len, outlen - len, "%s%s",
		    len == 0 ? "" : (w[1].word == NULL ? " or " : ", "),
		    w->word);
	}
}

/* range_word - n (seconds when duration) as the config says it: a number,
 * or a duration in the largest of d, h, m, s that divides it ("1h", "2d") */
static void
range_word(long n, bool duration, char *out, size_t outlen)
{
	static const struct { long secs; char unit; } u[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	size_t i;

	if (!duration) {
		(void)snprintf(out, outlen, "%ld", n);
		return;
	}
	for (i = 0; n != 0 && n % u[i].secs != 0; i++)
		;
	(void)snprintf(out, outlen, "%ld%c", n / u[i].secs, u[i].unit);
}

/* set_value - convert v for key k into cfg; 0 or -1 (reported) */
static int
set_value(struct parse *p, int line, const struct cfg_key *k,
    const char *v, struct config *cfg)
{
	void *field = (char *)cfg + k->off;
	char expect[200], lo[24], hi[24];
	long n;
	bool b, dur;

	switch (k->type) {
	case CFG_STR:
		free(*(char **)field);
		if ((*(char **)field = strdup(v)) == NULL)
			return perr(p, line, k->name, "out of memory"), -1;
		return 0;
	case CFG_BOOL:
		if (parse_bool(v, &b) < 0)
			return perr(p, line, k->name, "bad value '%.100s' "
			    "(expected yes or no)", v), -1;
		*(bool *)field = b;
		return 0;
	case CFG_INT:
	case CFG_DURATION:
		dur = k->type == CFG_DURATION;
		if (parse_number(v, dur, &n) < 0 || n < k->min || n > k->max) {
			range_word(k->min, dur, lo, sizeof(lo));
			range_word(k->max, dur, hi, sizeof(hi));
			return perr(p, line, k->name, "bad value '%.100s' (expected "
			    "%s from %s to %s)", v, dur ? "a duration such as 30d, "
			    "12h, 5m or 90s," : "a number", lo, hi), -1;
		}
		*(long *)field = n;
		return 0;
	case CFG_ENUM:
		for (const struct cfg_enum *w = k->words; w->word; w++)
			if (strcasecmp(v, w->word) == 0)
				return (*(int *)field = w->value), 0;
		enum_words(k->words, expect, sizeof(expect));
		return perr(p, line, k->name, "bad value '%.100s' (expected %s)",
		    v, expect), -1;
	case CFG_LIST:
		list_free(field);
		if (parse_list(v, field) < 0)
			return perr(p, line, k->name, "out of memory"), -1;
		/* "CampaignSenders ,,," names nothing: a slip, not a choice */
		if (((struct cfg_list *)field)->n == 0)
			return perr(p, line, k->name, "bad value '%.100s' "
			    "(expected one or more entries, separated by commas "
			    "or spaces)", v), -1;
		return 0;
	}
	return -1;
}

static const struct cfg_key *
key_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == len &&
		    strncasecmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

/* parse_line - one line of the file; s is modified */
static void
parse_line(struct parse *p, int line, char *s, struct config *cfg)
{
	const struct cfg_key *k;
	char *name, *v, *end;
	size_t nlen;

	for (end = s; *end != '\0'; end++)
		if (*end == '#')
			break;
		else if ((unsigned char)*end < 0x20 && *end != '\t')
			return perr(p, line, NULL, "control character in line");
	*end = '\0';
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	name = s + strspn(s, " \t");
	if (*name == '\0')
		return;
	nlen = strcspn(name, " \t");
	v = name + nlen + strspn(name + nlen, " \t");
	if ((k = key_find(name, nlen)) == NULL) {
		name[nlen] = '\0';
		if (strlen(name) > 100)
			name[100] = '\0';
		return perr(p, line, name, "unknown key");
	}
	p->line[k - keys] = p->line[k - keys] ? p->line[k - keys] : line;
	if (p->seen[k - keys]++)
		return perr(p, line, k->name, "key given twice");
	if (*v == '\0')
		return perr(p, line, k->name, "no value");
	(void)set_value(p, line, k, v, cfg);
}

/* key_line - the line where key name was set (0: its default) */
static int
key_line(const struct parse *p, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return p->line[i];
	return 0;
}

/* dns_name_ok - letters, digits, '-', '_' (selectors) and inner dots */
static bool
dns_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' &&
		    !(s[i] == '.' && i > 0 && s[i + 1] != '.' && s[i + 1] != '\0'))
			return false;
	return i > 0 && i <= 253;
}

/* header_name_ok - RFC 5322 section 3.6.8 field name */
static bool
header_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == ':')
			return false;
	return i > 0;
}

/* template_ok - printable, no space, only %t and %% escapes */
static bool
template_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s <= ' ' || *s > '~')
			return false;
		if (*s == '%' && s[1] != 't' && s[1] != '%')
			return false;
		if (*s == '%')
			s++;
	}
	return true;
}

/* socket_ok - local:PATH, unix:PATH, /PATH, inet:PORT[@HOST], inet6:... */
static bool
socket_ok(const char *s)
{
	const char *port;
	char *end;
	long n;

	if (strncmp(s, "local:/", 7) == 0 || strncmp(s, "unix:/", 6) == 0 ||
	    s[0] == '/')
		return true;
	if (strncmp(s, "inet:", 5) == 0)
		port = s + 5;
	else if (strncmp(s, "inet6:", 6) == 0)
		port = s + 6;
	else
		return false;
	n = strtol(port, &end, 10);
	return end != port && n > 0 && n < 65536 && (*end == '\0' ||
	    (*end == '@' && end[1] != '\0'));
}

/* check_metrics - the metrics addresses are loopback only (prom.h),
 * and two daemons cannot serve on one */
static void
check_metrics(struct parse *p, const struct config *cfg)
{
	const char *const key[2] = { "MetricsAddress",
	    "UnsubscribeMetricsAddress" };
	const char *v[2] = { cfg->metrics_address,
	    cfg->unsubscribe_metrics_address };
	char why[256];
	size_t i;

	for (i = 0; i < 2; i++)
		if (v[i] != NULL && prom_addr_parse(v[i], NULL, NULL, why,
		    sizeof(why)) < 0)
			perr(p, key_line(p, key[i]), key[i], "%s", why);
	if (v[0] != NULL && v[1] != NULL && strcmp(v[0], v[1]) == 0)
		perr(p, key_line(p, key[1]), key[1], "'%.100s' is "
		    "MetricsAddress already (each daemon needs its own)", v[1]);
}

/* check_values - keys whose values have a shape: reported at their line */
static void
check_values(struct parse *p, const struct config *cfg)
{
	static const char *const facilities[] = { "mail", "daemon", "user",
	    "local0", "local1", "local2", "local3", "local4", "local5",
	    "local6", "local7", NULL };
	const struct { const char *key, *v; bool (*ok)(const char *);
	    const char *want; } shapes[] = {
		{ "Socket", cfg->socket, socket_ok, "local:/path, "
		    "inet:PORT@HOST or inet6:PORT@HOST" },
		{ "DefaultList", cfg->default_list, campaign_list_ok,
		    "1-64 of letters, digits, '.', '_', '-'" },
		{ "Domain", cfg->domain, dns_name_ok, "a domain name" },
		{ "ListIdDomain", cfg->list_id_domain, dns_name_ok,
		    "a domain name" },
		{ "Selector", cfg->selector, dns_name_ok, "a DNS label" },
		{ "SelectorEd25519", cfg->selector_ed25519, dns_name_ok,
		    "a DNS label" },
		{ "CampaignHeader", cfg->campaign_header, header_name_ok,
		    "a header field name" },
		{ "ListHeader", cfg->list_header, header_name_ok,
		    "a header field name" },
		{ "UnsubscribeURL", cfg->unsubscribe_url, template_ok,
		    "a URL without spaces; only %t and %% escapes" },
		{ "UnsubscribeMailto", cfg->unsubscribe_mailto, template_ok,
		    "an address without spaces; only %t and %% escapes" },
		{ "BounceAddress", cfg->bounce_address, template_ok,
		    "an address without spaces; only %t and %% escapes" },
	};
	unsigned char bin[16];
	char why[300];
	size_t i, j;
	bool known = false;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (shapes[i].v != NULL && !shapes[i].ok(shapes[i].v))
			perr(p, key_line(p, shapes[i].key), shapes[i].key,
			    "bad value '%.100s' (expected %s)", shapes[i].v,
			    shapes[i].want);
	for (i = 0; i < cfg->outbound_ip.n; i++)
		if (inet_pton(AF_INET, cfg->outbound_ip.v[i], bin) != 1 &&
		    inet_pton(AF_INET6, cfg->outbound_ip.v[i], bin) != 1)
			perr(p, key_line(p, "OutboundIP"), "OutboundIP",
			    "bad value '%.100s' (expected an IPv4 or IPv6 "
			    "address)", cfg->outbound_ip.v[i]);
	for (i = 0; i < cfg->campaign_senders.n; i++) {
		const char *e = cfg->campaign_senders.v[i], *at = strrchr(e, '@');

		if (at == NULL || at[1] == '\0' || !dns_name_ok(at + 1) ||
		    strchr(e, '@') != at)
			perr(p, key_line(p, "CampaignSenders"),
			    "CampaignSenders", "bad value '%.100s' (expected "
			    "user@domain or @domain)", e);
	}
	/* NULL only after an error on its own line ("no value") */
	for (j = 0; cfg->syslog_facility != NULL && facilities[j] != NULL; j++)
		known |= strcasecmp(cfg->syslog_facility, facilities[j]) == 0;
	if (!known && cfg->syslog_facility != NULL)
		perr(p, key_line(p, "SyslogFacility"), "SyslogFacility",
		    "bad value '%.100s' (expected mail, daemon, user or "
		    "local0..local7)", cfg->syslog_facility);
	check_metrics(p, cfg);
	if (cfg->resubmit_address != NULL && smtpc_addr_check(
	    cfg->resubmit_address, why, sizeof(why)) < 0)
		perr(p, key_line(p, "ResubmitAddress"), "ResubmitAddress",
		    "%s", why);
}

/* check_config - rules that join several keys */
static void
check_config(struct parse *p, const struct config *cfg)
{
	check_values(p, cfg);
	if ((cfg->key_file != NULL) != (cfg->domain != NULL && cfg->selector
	    != NULL) && cfg->key_table == NULL)
		perr(p, key_line(p, "KeyFile"), "KeyFile",
		    "KeyFile, Domain and Selector go together");
	if ((cfg->key_table != NULL) != (cfg->signing_table != NULL))
		perr(p, key_line(p, "KeyTable"), "KeyTable",
		    "KeyTable and SigningTable go together");
	if (cfg->signing_algorithm == SIGALG_BOTH && cfg->key_file != NULL &&
	    (cfg->key_file_ed25519 == NULL || cfg->selector_ed25519 == NULL))
		perr(p, key_line(p, "SigningAlgorithm"), "SigningAlgorithm",
		    "'both' with KeyFile needs "
		    "KeyFileEd25519 and SelectorEd25519");
	if (cfg->unsubscribe_url != NULL &&
	    strncmp(cfg->unsubscribe_url, "https://", 8) != 0 &&
	    strncmp(cfg->unsubscribe_url, "http://", 7) != 0)
		perr(p, key_line(p, "UnsubscribeURL"), "UnsubscribeURL",
		    "must start with https:// "
		    "(RFC 8058 section 3)");
	if (cfg->unsubscribe_url != NULL && strstr(cfg->unsubscribe_url,
	    "%t") == NULL)
		perr(p, key_line(p, "UnsubscribeURL"), "UnsubscribeURL",
		    "must contain %%t (the token)");
	if (cfg->unsubscribe_mailto != NULL && (strstr(cfg->unsubscribe_mailto,
	    "%t") == NULL || strchr(cfg->unsubscribe_mailto, '@') == NULL))
		perr(p, key_line(p, "UnsubscribeMailto"), "UnsubscribeMailto",
		    "must be an address with %%t");
	if (cfg->bounce_address != NULL && (strstr(cfg->bounce_address,
	    "%t") == NULL || strchr(cfg->bounce_address, '@') == NULL))
		perr(p, key_line(p, "BounceAddress"), "BounceAddress",
		    "must be an address with %%t");
	if (cfg->cfbl_address != NULL && (strchr(cfg->cfbl_address, '@') ==
	    NULL || strpbrk(cfg->cfbl_address, " \t<>;,\"") != NULL))
		perr(p, key_line(p, "CFBLAddress"), "CFBLAddress",
		    "bad value '%.100s' (expected a plain address)",
		    cfg->cfbl_address);
	if (cfg->bounce_address != NULL && cfg->token_key_file == NULL)
		perr(p, key_line(p, "BounceAddress"), "TokenKeyFile",
		    "needed by BounceAddress");
	if ((cfg->unsubscribe_url != NULL || cfg->unsubscribe_mailto != NULL)
	    && cfg->token_key_file == NULL)
		perr(p, key_line(p, "UnsubscribeURL"), "TokenKeyFile",
		    "needed by UnsubscribeURL and "
		    "UnsubscribeMailto");
}

struct config *
config_parse(const char *name, const char *text, FILE *err, int *nerrors_r)
{
	struct parse p = { .name = name, .err = err };
	struct config *cfg;
	char *copy, *s, *nl;
	int line = 0;
	size_t i;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->file = strdup(name)) == NULL ||
	    (copy = strdup(text)) == NULL) {
		config_free(&cfg);
		perr(&p, 0, NULL, "out of memory");
		*nerrors_r = p.nerrors;
		return NULL;
	}
	for (s = copy; s != NULL; s = nl) {
		if ((nl = strchr(s, '\n')) != NULL)
			*nl++ = '\0';
		if (nl == NULL && *s == '\0')
			break;
		if (nl != NULL && nl > s + 1 && nl[-2] == '\r')
			nl[-2] = '\0';
		parse_line(&p, ++line, s, cfg);
	}
	free(copy);
	for (i = 0; i < NKEYS; i++)
		if (!p.seen[i] && keys[i].dflt != NULL)
			(void)set_value(&p, 0, &keys[i], keys[i].dflt, cfg);
	check_config(&p, cfg);
	*nerrors_r = p.nerrors;
	if (p.nerrors > 0)
		config_free(&cfg);
	return cfg;
}

struct config *
config_load(const char *path, FILE *err, int *nerrors_r)
{
	struct config *cfg;
	char *text = NULL;
	size_t len = 0, cap = 0, n, nul, i;
	int line;
	struct stat sb;
	FILE *fp;

	if (path == NULL)
		path = CONFIG_DEFAULT_FILE;
	if ((fp = fopen(path, "r")) == NULL) {
		if (err != NULL)
			fprintf(err, "%s: cannot open: %s\n", path,
			    strerror(errno));
		*nerrors_r = 1;
		return NULL;
	}
	if (fstat(fileno(fp), &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > CONFIG_MAX) {
		if (err != NULL)
			fprintf(err, "%s: %s\n", path, S_ISREG(sb.st_mode) ?
			    "larger than 1 MiB" : "not a regular file");
		fclose(fp);
		*nerrors_r = 1;
		return NULL;
	}
	do {
		if (len + 4096 + 1 > cap) {
			char *nt = realloc(text, cap = cap * 2 + 8192);

			if (nt == NULL) {
				free(text);
				fclose(fp);
				*nerrors_r = 1;
				return NULL;
			}
			text = nt;
		}
		n = fread(text + len, 1, 4096, fp);
		len += n;
	} while (n > 0 && len <= CONFIG_MAX);
	if (ferror(fp) || len > CONFIG_MAX) {
		if (err != NULL)
			fprintf(err, "%s: read error or larger than 1 MiB\n",
			    path);
		free(text);
		fclose(fp);
		*nerrors_r = 1;
		return NULL;
	}
	fclose(fp);
	text[len] = '\0';
	if ((nul = strlen(text)) != len) {
		for (i = 0, line = 1; i < nul; i++)
			line += text[i] == '\n';
		if (err != NULL)
			fprintf(err, "%s:%d: NUL byte in line (a binary or "
			    "UTF-16 file?)\n", path, line);
		free(text);
		*nerrors_r = 1;
		return NULL;
	}
	cfg = config_parse(path, text, err, nerrors_r);
	free(text);
	return cfg;
}

void
config_free(struct config **cfgp)
{
	struct config *cfg;
	size_t i;

	if (cfgp == NULL || (cfg = *cfgp) == NULL)
		return;
	for (i = 0; i < NKEYS; i++) {
		void *field = (char *)cfg + keys[i].off;

		if (keys[i].type == CFG_STR)
			free(*(char **)field);
		else if (keys[i].type == CFG_LIST)
			list_free(field);
	}
	free(cfg->file);
	free(cfg);
	*cfgp = NULL;
}

bool
cfg_list_has(const struct cfg_list *list, const char *s)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (strcasecmp(list->v[i], s) == 0)
			return true;
	return false;
}

size_t
config_key_count(void)
{
	return NKEYS;
}

const char *
config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

struct config *
config_load_log(const char *path, const char *prefix, int *nerrors_r)
{
	struct config *cfg;
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *mem;

	if ((mem = open_memstream(&text, &len)) == NULL) {
		log_err("%s%s: out of memory", prefix, path ? path :
		    CONFIG_DEFAULT_FILE);
		*nerrors_r = 1;
		return NULL;
	}
	cfg = config_load(path, mem, nerrors_r);
	(void)fclose(mem);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		log_err("%s%s", prefix, line);
	free(text);
	return cfg;
}
