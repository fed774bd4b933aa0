/*
 * addr.c - address normalisation (addr.h): the only place that parses an
 * address.
 *
 * The envelope address arrives as the MTA gives it ("<a@b>", maybe with
 * surrounding space); we do not parse RFC 5322 display names here.  The
 * domain goes through libidn2 (IDNA2008, UTS #46 non-transitional mapping,
 * which also lower-cases); a domain that is already an A-label is checked
 * the same way.  A domain of plain letter-digit-hyphen labels (no A-label,
 * no hyphen at either end of a label or in its 3rd and 4th place, labels
 * of 1 to 63 octets, at most 253 in all) skips libidn2: for those its
 * result is only the lower-case form (UTS #46 maps A-Z to a-z and keeps
 * the rest), which ldh_lower() gives at a tenth of the cost;
 * tests/unit/test_addr.c compares both paths over many such domains.
 * Address literals ("[192.0.2.1]") are accepted as they are.
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
#include "utf8.h"

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

/* trim - bounds of s without surrounding space, one pair of <> and a
 * source route; *bracketed_r: were the <> there */
static int
trim(const char *s, const char **start_r, size_t *len_r, bool *bracketed_r)
{
	const char *b = s, *e = s + strlen(s), *colon;

	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*bracketed_r = b < e && *b == '<';
	if (*bracketed_r) {
		if (e - b < 2 || e[-1] != '>')
			return -1;
		b++;
		e--;
	} else if (b < e && e[-1] == '>')
		return -1;
	/* RFC 5321 section 4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">";
	 * section 3.3: the route SHOULD be ignored.  Postfix's smtpd drops
	 * everything up to the first ':' of a path that starts with '@'. */
	if (b < e && *b == '@' && (colon = memchr(b, ':', (size_t)(e - b)))
	    != NULL)
		b = colon + 1;
	*start_r = b;
	*len_r = (size_t)(e - b);
	return 0;
}

/*
 * text_check - the address (len bytes at s) is valid UTF-8 and holds no
 * control or invisible character (utf8_invisible): one that is not seen
 * would make an address that looks like another, or, in the domain,
 * vanish in the IDNA mapping (UTS #46 ignores U+200B and U+00AD) and
 * match another's address.  NULL, or the reason in buf.  XXX ZWJ and ZWNJ
 * are refused too, though some scripts use them inside words.
 */
static const char *
text_check(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t i = 0, n;
	unsigned cp;

	while (i < len) {
		n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (n == 0)
			return "address is not valid UTF-8";
		if (cp != ' ' && utf8_invisible(cp)) {
			snprintf(buf, buflen, "%s character U+%04X in "
			    "address", cp < 0x20 || (cp >= 0x7f && cp < 0xa0)
			    ? "control" : "invisible", cp);
			return buf;
		}
		i += n;
	}
	return NULL;
}

int
addr_path_mailbox(const char *in, char *out, size_t outlen,
    bool *bracketed_r)
{
	const char *s;
	size_t len;
	bool bracketed;

	if (in == NULL || trim(in, &s, &len, &bracketed) < 0 ||
	    len + 1 > outlen)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	if (bracketed_r != NULL)
		*bracketed_r = bracketed;
	return (int)len;
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

/*
 * ldh_lower - the lower-case form of domain in (len bytes, no root dot)
 * into ascii (DOMAIN_MAX + 1 bytes) when libidn2 would give exactly that:
 * every label 1 to 63 letters, digits and hyphens, no hyphen first or last,
 * none in the 3rd and 4th place (A-labels "xn--" and reserved forms, which
 * libidn2 must check), at most 253 octets; false otherwise.
 */
static bool
ldh_lower(const char *in, size_t len, char *ascii)
{
	size_t i, start = 0;
	unsigned char c;

	if (len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		c = i < len ? (unsigned char)in[i] : '.';
		if (c == '.') {
			if (i == start || i - start > 63 || in[start] == '-' ||
			    in[i - 1] == '-' || (i - start >= 4 &&
			    in[start + 2] == '-' && in[start + 3] == '-'))
				return false;
			start = i + 1;
			ascii[i] = '.';
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-')
			ascii[i] = (char)c;
		else if (c >= 'A' && c <= 'Z')
			ascii[i] = (char)(c - 'A' + 'a');
		else
			return false;
	}
	ascii[len] = '\0';
	return true;
}

/* domain_to_ascii - IDNA A-label of domain d (len bytes) into out, through
 * libidn2 always, or only when ldh_lower() cannot say; NULL or a reason */
static const char *
domain_to_ascii(const char *d, size_t len, bool idn2_always, char *out,
    size_t outlen)
{
	char fast[DOMAIN_MAX + 1];
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
	if (!idn2_always && ldh_lower(in, len, fast)) {
		if (len + 1 > outlen)
			return "domain too long";
		memcpy(out, fast, len + 1);
		i = len;
	} else {
		rc = idn2_to_ascii_8z(in, &ascii, IDN2_NFC_INPUT |
		    IDN2_NONTRANSITIONAL);
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
	}
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
	char domain[DOMAIN_MAX + 1], tbuf[64];
	size_t len, llen, i;
	bool bracketed;

	if (in == NULL || trim(in, &s, &len, &bracketed) < 0)
		return set_why(why, whylen, "unbalanced angle brackets");
	if (len == 0)
		return set_why(why, whylen, "empty address");
	if ((reason = text_check(s, len, tbuf, sizeof(tbuf))) != NULL)
		return set_why(why, whylen, reason);
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
	    false, domain, sizeof(domain))) != NULL)
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

int
addr_domain_ascii(const char *domain, bool idn2_always, char *out,
    size_t outlen, char *why, size_t whylen)
{
	const char *reason;

	reason = domain_to_ascii(domain, strlen(domain), idn2_always, out,
	    outlen);
	return reason != NULL ? set_why(why, whylen, reason) : 0;
}

int
addr_to_unicode(const char *addr, char *out, size_t outlen, char *why,
    size_t whylen)
{
	const char *d = addr_domain(addr);
	char *u = NULL;
	int rc;

	if (d == NULL)
		return set_why(why, whylen, "no '@' in address");
	if (*d == '[' || strstr(d, "xn--") == NULL) {
		if ((size_t)snprintf(out, outlen, "%s", addr) >= outlen)
			return set_why(why, whylen, "address too long");
		return 0;
	}
	if ((rc = idn2_to_unicode_8z8z(d, &u, 0)) != IDN2_OK) {
		if (whylen > 0)
			snprintf(why, whylen, "IDNA: %s", idn2_strerror(rc));
		return -1;
	}
	rc = snprintf(out, outlen, "%.*s%s", (int)(d - addr), addr, u);
	idn2_free(u);
	if (rc < 0 || (size_t)rc >= outlen)
		return set_why(why, whylen, "address too long");
	return 0;
}

/* atext - RFC 5321 atext, or an octet of UTF-8 (RFC 6531 section 3.3) */
static bool
atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

int
addr_mailbox_check(const char *addr, char *why, size_t whylen)
{
	const char *at, *p, *d;
	size_t llen, i;

	if (addr == NULL || (at = strrchr(addr, '@')) == NULL || at == addr)
		return set_why(why, whylen, "no local part and domain");
	llen = (size_t)(at - addr);
	if (addr[0] == '"') {
		/* Quoted-string: qtextSMTP or quoted-pairSMTP */
		if (llen < 2 || addr[llen - 1] != '"')
			return set_why(why, whylen, "unterminated quoted "
			    "local part");
		for (p = addr + 1; p < at - 1; p++) {
			unsigned char c = (unsigned char)*p;

			if (c == '\\') {
				if (p + 1 >= at - 1 || p[1] < 32 || p[1] > 126)
					return set_why(why, whylen, "bad "
					    "quoted pair in local part");
				p++;
			} else if (c == '"' || c < 32 || c == 127)
				return set_why(why, whylen, "character not "
				    "allowed in a quoted local part");
		}
	} else {
		/* Dot-string: Atom *("." Atom) */
		for (i = 0; i < llen; i++) {
			unsigned char c = (unsigned char)addr[i];

			if (c == '.' && i > 0 && i + 1 < llen &&
			    addr[i + 1] != '.')
				continue;
			if (!atext(c))
				return set_why(why, whylen, c == '.' ?
				    "misplaced dot in local part" : "character "
				    "not allowed in a local part");
		}
	}
	d = at + 1;
	if (*d == '[')
		return d[strlen(d) - 1] == ']' && literal_ok(d + 1,
		    strlen(d) - 2) ? 0 : set_why(why, whylen, "bad address "
		    "literal");
	/* LDH labels of 1-63 octets, no hyphen at either end */
	for (p = d; *p != '\0'; p = *p == '.' ? p + 1 : p) {
		size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");

		if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-' ||
		    (p[n] != '.' && p[n] != '\0'))
			return set_why(why, whylen, "bad domain label");
		p += n;
		if (*p == '.' && p[1] == '\0')
			return set_why(why, whylen, "bad domain label");
	}
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
