/*
 * addr.c - address normalisation (addr.h): the only place that parses an
 * address.
 *
 * The envelope address arrives as the MTA gives it ("<a@b>", maybe with
 * surrounding space); we do not parse RFC 5322 display names here.  The
 * domain goes through libidn2 (IDNA2008, UTS #46 non-transitional mapping,
 * which also lower-cases); a domain that is already an A-label is checked
 * the same way.  Address literals ("[192.0.2.1]") are accepted as they are.
 * Thread-safe: no state.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "addr.h"

#define LOCAL_MAX 64
#define DOMAIN_MAX 255

/* set_why - fill why with a message; returns -1 */
static int
set_why(char *why, size_t whylen, const char *msg)
{
	if (whylen > 0)
		snprintf(why, whylen, "%s", msg);
	return -1;
}

/* trim - bounds of s without surrounding space and one pair of <> */
static int
trim(const char *s, const char **start_r, size_t *len_r)
{
	const char *b = s, *e = s + strlen(s);

	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (b < e && *b == '<') {
		if (e[-1] != '>')
			return -1;
		b++;
		e--;
	} else if (b < e && e[-1] == '>')
		return -1;
	*start_r = b;
	*len_r = (size_t)(e - b);
	return 0;
}

/* local_ok - printable, no space or '@' outside quotes, no control bytes;
 * UTF-8 (RFC 6531) passes through */
static const char *
local_check(const char *l, size_t len)
{
	size_t i;
	bool quoted = len >= 2 && l[0] == '"' && l[len - 1] == '"';

	if (len == 0)
		return "empty local part";
	if (len > LOCAL_MAX)
		return "local part longer than 64 octets";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c < 0x20 || c == 0x7f)
			return "control character in local part";
		if (!quoted && (c == ' ' || c == '"' || c == '(' || c == ')'
		    || c == ',' || c == ':' || c == ';' || c == '<' ||
		    c == '>' || c == '[' || c == ']' || c == '\\' ||
		    c == '@'))
			return "character not allowed in an unquoted local part";
	}
	if (!quoted && (l[0] == '.' || l[len - 1] == '.' ||
	    memmem(l, len, "..", 2) != NULL))
		return "misplaced dot in local part";
	return NULL;
}

/* literal_ok - "192.0.2.1" or "IPv6:2001:db8::1" (len bytes) */
static bool
literal_ok(const char *s, size_t len)
{
	char tmp[64];
	unsigned char bin[16];

	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, bin) == 1;
	return inet_pton(AF_INET, tmp, bin) == 1;
}

/* domain_to_ascii - IDNA A-label of domain d (len bytes) into out; NULL or
 * a reason */
static const char *
domain_to_ascii(const char *d, size_t len, char *out, size_t outlen)
{
	char in[DOMAIN_MAX + 1];
	char *ascii = NULL;
	size_t i;
	int rc;

	if (len == 0)
		return "empty domain";
	if (len > DOMAIN_MAX)
		return "domain longer than 255 octets";
	memcpy(in, d, len);
	in[len] = '\0';
	if (in[0] == '[') {		/* address literal, RFC 5321 4.1.3 */
		if (in[len - 1] != ']' || len + 1 > outlen ||
		    !literal_ok(in + 1, len - 2))
			return "bad address literal";
		for (i = 0; i < len; i++)
			out[i] = (char)tolower((unsigned char)in[i]);
		out[len] = '\0';
		return NULL;
	}
	if (in[len - 1] == '.')		/* root dot: "a@example.com." */
		in[--len] = '\0';
	if (len == 0)
		return "empty domain";
	rc = idn2_to_ascii_8z(in, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK)
		return idn2_strerror(rc);
	if (strlen(ascii) + 1 > outlen || strlen(ascii) > DOMAIN_MAX) {
		idn2_free(ascii);
		return "domain too long";
	}
	for (i = 0; ascii[i] != '\0'; i++) {
		unsigned char c = (unsigned char)ascii[i];

		if (!isalnum(c) && c != '-' && c != '.') {
			idn2_free(ascii);
			return "character not allowed in a domain";
		}
		out[i] = (char)tolower(c);
	}
	out[i] = '\0';
	idn2_free(ascii);
	if (i == 0 || out[0] == '.' || out[i - 1] == '.' || strstr(out, "..") != NULL ||
	    strchr(out, '.') == NULL)
		return "domain needs at least two labels";
	return NULL;
}

int
addr_normalize(const char *in, char *out, size_t outlen, char *why,
    size_t whylen)
{
	const char *s, *at, *reason, *lstart;
	char domain[DOMAIN_MAX + 1];
	size_t len, llen, i;

	if (in == NULL || trim(in, &s, &len) < 0)
		return set_why(why, whylen, "unbalanced angle brackets");
	if (len == 0)
		return set_why(why, whylen, "empty address");
	for (at = NULL, i = 0; i < len; i++)
		if (s[i] == '@')
			at = s + i;
	if (at == NULL)
		return set_why(why, whylen, "no '@' in address");
	lstart = s;
	llen = (size_t)(at - s);
	if ((reason = local_check(s, llen)) != NULL)
		return set_why(why, whylen, reason);
	/* RFC 5321 section 4.1.2: "news"@x and news@x are the same mailbox
	 * when the quoted text is a plain dot-atom: use the plain form, so
	 * that quoting cannot dodge a CampaignSenders match or a lookup */
	if (llen > 2 && s[0] == '"' && s[llen - 1] == '"' &&
	    memchr(s + 1, '"', llen - 2) == NULL &&
	    local_check(s + 1, llen - 2) == NULL) {
		lstart = s + 1;
		llen -= 2;
	}
	if ((reason = domain_to_ascii(at + 1, (size_t)(s + len - at - 1),
	    domain, sizeof(domain))) != NULL)
		return set_why(why, whylen, reason);
	if (llen + 1 + strlen(domain) + 1 > outlen)
		return set_why(why, whylen, "address too long");
	for (i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)lstart[i];

		out[i] = (c < 0x80) ? (char)tolower(c) : (char)c;
	}
	out[llen] = '@';
	strcpy(out + llen + 1, domain);
	return 0;
}

const char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : NULL;
}

int
addr_from_header(const char *value, char *out, size_t outlen, char *why,
    size_t whylen)
{
	char tmp[ADDR_MAX + 3];
	const char *lt, *gt;
	size_t i, j, depth = 0;
	bool quoted = false;

	if ((lt = strrchr(value, '<')) != NULL) {
		if ((gt = strchr(lt, '>')) == NULL || (size_t)(gt - lt) >
		    ADDR_MAX)
			return set_why(why, whylen, "unbalanced angle brackets");
		memcpy(tmp, lt + 1, (size_t)(gt - lt - 1));
		tmp[gt - lt - 1] = '\0';
		return addr_normalize(tmp, out, outlen, why, whylen);
	}
	/* bare addr-spec, maybe with (comments) */
	for (i = j = 0; value[i] != '\0'; i++) {
		char c = value[i];

		if (c == '"')
			quoted = !quoted;
		if (!quoted && c == '(') {
			depth++;
			continue;
		}
		if (!quoted && c == ')' && depth > 0) {
			depth--;
			continue;
		}
		if (depth > 0 || c == '\r' || c == '\n')
			continue;
		if (!quoted && (c == ',' || c == ';'))
			return set_why(why, whylen, "more than one mailbox");
		if (j + 1 >= sizeof(tmp))
			return set_why(why, whylen, "address too long");
		tmp[j++] = c;
	}
	tmp[j] = '\0';
	return addr_normalize(tmp, out, outlen, why, whylen);
}

int
addr_list_count(const char *value)
{
	const char *p;
	int n = 0, depth = 0;
	bool quoted = false, angle = false, group = false, some = false;

	for (p = value; *p != '\0'; p++) {
		if (quoted || depth > 0) {
			if (*p == '\\' && p[1] != '\0')
				p++;	/* quoted-pair */
			else if (quoted && *p == '"')
				quoted = false;
			else if (!quoted && *p == '(')
				depth++;
			else if (!quoted && *p == ')')
				depth--;
			continue;
		}
		switch (*p) {
		case '"':
			quoted = some = true;
			break;
		case '(':
			depth++;
			break;
		case ')':
			return -1;
		case '<':
			if (angle)
				return -1;
			angle = some = true;
			break;
		case '>':
			if (!angle)
				return -1;
			angle = false;
			break;
		case ':':
			/* display-name ":" starts a group (not in a route) */
			if (angle)
				break;
			if (group)
				return -1;
			group = true;
			some = false;
			break;
		case ';':
			if (angle)
				break;
			if (!group)
				return -1;
			n += some;
			group = some = false;
			break;
		case ',':
			if (angle)
				break;
			n += some;
			some = false;
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break;
		default:
			some = true;
		}
	}
	if (quoted || depth > 0 || angle || group)
		return -1;
	return n + some;
}
