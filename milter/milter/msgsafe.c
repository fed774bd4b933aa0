/*
 * msgsafe.c - copies safe to sign, and as they came in (msgsafe.h).
 *
 * Why each rule: a signature the relay breaks (a body line, or a line of a
 * signed header, over 998 octets that Postfix's SMTP client breaks with
 * CRLF SP) or that covers an ambiguous author (no From,
 * two From fields, several mailboxes and no Sender) is worse than none: the
 * receiver sees a failed or a misleading DKIM result on mail that carries a
 * one-click unsubscribe.  A Message-ID or Date added by a later MTA is not
 * covered by our signature; adding them before signing gives exactly one of
 * each, signed.
 *
 * Threads: no state; everything allocated is in the msg arena.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "dkimsign.h"
#include "edits.h"
#include "eom.h"
#include "msgsafe.h"
#include "session.h"

int
msgsafe_author(const struct msg *m, char *why, size_t whylen)
{
	size_t nfrom = msg_header_count(m, "From"), nsender;
	int n, ns;

	if (nfrom == 0) {
		snprintf(why, whylen, "no From field");
		return -1;
	}
	if (nfrom > 1) {
		snprintf(why, whylen, "%zu From fields", nfrom);
		return -1;
	}
	n = addr_list_count(msg_header(m, "From"));
	if (n <= 0) {
		snprintf(why, whylen, n < 0 ? "From field cannot be parsed" :
		    "From field names no mailbox");
		return -1;
	}
	if (n == 1)
		return 0;
	/* RFC 5322 section 3.6.2: several authors need one Sender */
	nsender = msg_header_count(m, "Sender");
	if (nsender != 1) {
		snprintf(why, whylen, "From names %d mailboxes and there %s",
		    n, nsender == 0 ? "is no Sender field" :
		    "are several Sender fields");
		return -1;
	}
	if ((ns = addr_list_count(msg_header(m, "Sender"))) != 1) {
		snprintf(why, whylen, "From names %d mailboxes and Sender "
		    "names %s", n, ns < 0 ? "something unparseable" :
		    ns == 0 ? "none" : "several");
		return -1;
	}
	return 0;
}

/* longest_header_line - the longest physical line of field h: "Name:"
 * and the value up to the first fold, then each continuation line */
static size_t
longest_header_line(const struct msg *m, const struct hdr *h)
{
	const char *v = h->value, *nl;
	size_t len, longest;

	/* without SMFIP_HDR_LEADSPC the MTA ate one space after the colon */
	len = strlen(h->name) + 1 + (!m->leadspc && *v != ' ' && *v != '\t' &&
	    *v != '\0');
	longest = 0;
	for (;;) {
		nl = strchr(v, '\n');
		len += nl != NULL ? (size_t)(nl - v) : strlen(v);
		if (nl != NULL && nl > v && nl[-1] == '\r')
			len--;
		if (len > longest)
			longest = len;
		if (nl == NULL)
			return longest;
		v = nl + 1;
		len = 0;
	}
}

bool
msgsafe_breaks(const struct msg *m, const char *sig, char *why,
    size_t whylen)
{
	size_t i, len, worst = 0;
	const char *name = NULL;

	if (m->longest_line > MSGSAFE_LINE_MAX) {
		snprintf(why, whylen, "body line of %zu octets",
		    m->longest_line);
		return true;
	}
	for (i = 0; i < m->nhdr; i++)
		if ((len = longest_header_line(m, &m->hdr[i])) > worst &&
		    len > MSGSAFE_LINE_MAX &&
		    dkimsign_covers(sig, m->hdr[i].name)) {
			worst = len;
			name = m->hdr[i].name;
		}
	if (name == NULL)
		return false;
	snprintf(why, whylen, "header %.60s line of %zu octets", name, worst);
	return true;
}

/* id_domain - the domain for a Message-ID: the author's, else the
 * sender's, else this host's name */
static void
id_domain(const struct msg *m, char *out, size_t outlen)
{
	static const char *const fields[] = { "From", "Sender" };
	char addr[ADDR_MAX + 1], why[200];
	const char *v, *d;
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if ((v = msg_header(m, fields[i])) != NULL &&
		    addr_from_header(v, addr, sizeof(addr), why,
		    sizeof(why)) == 0 && (d = addr_domain(addr)) != NULL &&
		    *d != '\0' && *d != '[') {
			snprintf(out, outlen, "%s", d);
			return;
		}
	if (gethostname(out, outlen) < 0 || *out == '\0' ||
	    strchr(out, '.') == NULL)
		snprintf(out, outlen, "localhost.localdomain");
}

/* rfc5322_date - now as an RFC 5322 section 3.3 date-time in UTC, with
 * English names whatever the locale */
static void
rfc5322_date(time_t now, char *out, size_t outlen)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	(void)gmtime_r(&now, &tm);
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* add_one - queue header name: value and append its line to *lines */
static int
add_one(struct msg *m, struct edits *e, const char *name, const char *value,
    char *lines, size_t linelen)
{
	size_t used = strlen(lines);

	if (edits_add(e, name, arena_strdup(&m->arena, value)) < 0)
		return -1;
	snprintf(lines + used, linelen - used, "%s: %s\r\n", name, value);
	return 0;
}

int
msgsafe_add_missing(struct conn *c, struct edits *e)
{
	struct msg *m = &c->msg;
	char domain[256], value[400], lines[1000] = "", stamp[32];
	unsigned char rnd[8];
	time_t now = time(NULL);
	struct tm tm;
	int n = 0;

	if (msg_header_count(m, "Message-ID") == 0) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		id_domain(m, domain, sizeof(domain));
		(void)gmtime_r(&now, &tm);
		(void)strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		snprintf(value, sizeof(value), "<%s.%02x%02x%02x%02x%02x%02x"
		    "%02x%02x@%s>", stamp, rnd[0], rnd[1], rnd[2], rnd[3],
		    rnd[4], rnd[5], rnd[6], rnd[7], domain);
		if (add_one(m, e, "Message-ID", value, lines,
		    sizeof(lines)) < 0 || (m->added_msgid =
		    arena_strdup(&m->arena, value)) == NULL)
			return -1;
		n++;
	}
	if (msg_header_count(m, "Date") == 0) {
		rfc5322_date(now, value, sizeof(value));
		if (add_one(m, e, "Date", value, lines, sizeof(lines)) < 0)
			return -1;
		n++;
	}
	if (n > 0 && (m->added_hdrs = arena_strdup(&m->arena, lines)) ==
	    NULL)
		return -1;
	return n;
}

/* lead - value with one space in front unless it starts with white space */
static char *
lead(struct msg *m, char *value)
{
	size_t len;
	char *v;

	if (value == NULL || *value == ' ' || *value == '\t')
		return value;
	len = strlen(value);
	if ((v = arena_alloc(&m->arena, len + 2)) == NULL)
		return NULL;
	v[0] = ' ';
	memcpy(v + 1, value, len + 1);
	return v;
}

int
msgsafe_edit_values(struct msg *m, struct edits *e)
{
	size_t i;

	if (!m->leadspc)
		return 0;
	for (i = 0; i < e->nadd; i++)
		if ((e->add[i].value = lead(m, e->add[i].value)) == NULL)
			return -1;
	for (i = 0; i < e->nsig; i++)
		if ((e->sig[i] = lead(m, e->sig[i])) == NULL)
			return -1;
	return 0;
}
