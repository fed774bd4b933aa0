/*
 * unsubhdr.c - the List-Unsubscribe, List-Unsubscribe-Post and List-Id
 * header values (RFC 2369 section 3.2, RFC 8058 section 3, RFC 2919);
 * contract in unsubhdr.h.
 *
 * Templates (UnsubscribeURL, UnsubscribeMailto) know two escapes, "%t" (the
 * token) and "%%"; any other '%' sequence is an error, so that a typo is
 * found at the first message rather than published.  The two URIs are
 * always folded apart with "\n\t".  Size rule (RFC 5322 section 2.1.1):
 * the field name "List-Unsubscribe: ", the value and one extra octet for
 * each fold (CRLF is two octets on the wire) must stay under 998 octets,
 * which also keeps every physical line under 998.
 *
 * Threads: no state; thread-safe.  Memory: writes only to caller buffers.
 */
#include "autoconf.h"

#include "unsubhdr.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define FIELD_NAME	"List-Unsubscribe: "
#define FOLD		",\n\t"
#define MAILTO_QUERY	"?subject=unsubscribe"
/* the field with name and CRLF-folds must be shorter than this */
#define LINE_LIMIT	998
/* RFC 2919 section 2: a list id is at most 255 octets */
#define LISTID_MAX	255

/* uri_char - may c appear inside <...> of an RFC 2369 URI as we write it?
 * Printable ASCII without space, '<', '>', '"' and '\'. */
static bool
uri_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"' &&
	    c != '\\';
}

/*
 * expand - copy template t into out (outlen bytes) with "%t" replaced by
 * token and "%%" by '%'.  Returns the length, -1 for a bad template or
 * token (why[] filled) and -2 when out is too small.
 */
static long
expand(const char *what, const char *t, const char *token, char *out,
    size_t outlen, char *why, size_t whylen)
{
	size_t o, tlen;
	const char *p;

	tlen = strlen(token);
	o = 0;
	for (p = t; *p != '\0'; p++) {
		if (*p == '%') {
			if (p[1] == 't') {
				if (o + tlen >= outlen)
					return -2;
				memcpy(out + o, token, tlen);
				o += tlen;
				p++;
				continue;
			}
			if (p[1] == '%') {
				if (o + 1 >= outlen)
					return -2;
				out[o++] = '%';
				p++;
				continue;
			}
			snprintf(why, whylen, "%s template: bad escape '%%%.1s' "
			    "(only %%t and %%%% are allowed)", what,
			    p[1] != '\0' && uri_char((unsigned char)p[1]) ?
			    p + 1 : "?");
			return -1;
		}
		if (!uri_char((unsigned char)*p)) {
			snprintf(why, whylen, "%s template: character 0x%02x "
			    "not allowed", what, (unsigned char)*p);
			return -1;
		}
		if (o + 1 >= outlen)
			return -2;
		out[o++] = *p;
	}
	out[o] = '\0';
	return (long)o;
}

/* put - append s to out at *o, if it fits (outlen); false if it doesn't */
static bool
put(char *out, size_t outlen, size_t *o, const char *s)
{
	size_t n;

	n = strlen(s);
	if (*o + n >= outlen)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return true;
}

int
unsubhdr_expand(const char *what, const char *t, const char *token,
    char *out, size_t outlen, char *why, size_t whylen)
{
	long n = expand(what, t, token, out, outlen, why, whylen);

	if (n == -2)
		snprintf(why, whylen, "%s: expanded template does not fit in "
		    "%zu octets", what, outlen);
	return n < 0 ? -1 : (int)n;
}

int
unsubhdr_list_unsubscribe(const char *url_template,
    const char *mailto_template, const char *token, char *out, size_t outlen,
    char *why, size_t whylen)
{
	char https[UNSUBHDR_MAX + 1], mailto[UNSUBHDR_MAX + 1];
	size_t hlen, mlen, o, budget;
	const char *p, *m;
	long r;

	if (url_template == NULL && mailto_template == NULL) {
		snprintf(why, whylen, "no UnsubscribeURL or UnsubscribeMailto");
		return -1;
	}
	if (token == NULL || out == NULL || outlen == 0) {
		snprintf(why, whylen, "unsubhdr: missing argument");
		return -1;
	}
	for (p = token; *p != '\0'; p++)
		if (!uri_char((unsigned char)*p) || *p == '?' || *p == '%') {
			snprintf(why, whylen, "token holds a character not "
			    "allowed in a URI");
			return -1;
		}
	/* longest value allowed by the size rule, folds counted twice */
	budget = LINE_LIMIT - 1 - strlen(FIELD_NAME);

	hlen = 0;
	if (url_template != NULL) {
		if (strncasecmp(url_template, "https://", 8) != 0 &&
		    strncasecmp(url_template, "http://", 7) != 0) {
			snprintf(why, whylen, "URL template: must start with "
			    "https://");
			return -1;
		}
		r = expand("URL", url_template, token, https + 1,
		    sizeof(https) - 2, why, whylen);
		if (r == -1)
			return -1;
		if (r == -2)
			hlen = sizeof(https);		/* too long */
		else {
			https[0] = '<';
			https[r + 1] = '>';
			https[r + 2] = '\0';
			hlen = (size_t)r + 2;
		}
	}
	mlen = 0;
	if (mailto_template != NULL) {
		m = mailto_template;
		if (strncasecmp(m, "mailto:", 7) == 0)
			m += 7;
		if (strchr(m, '@') == NULL || *m == '@') {
			snprintf(why, whylen, "mailto template: not an address");
			return -1;
		}
		memcpy(mailto, "<mailto:", 8);
		r = expand("mailto", m, token, mailto + 8,
		    sizeof(mailto) - 8, why, whylen);
		if (r == -1)
			return -1;
		o = r < 0 ? 0 : (size_t)r + 8;
		/* RFC 8058 section 8.1 example; keep a query the admin
		 * wrote */
		if (r < 0 || (strchr(mailto, '?') == NULL &&
		    !put(mailto, sizeof(mailto), &o, MAILTO_QUERY)) ||
		    !put(mailto, sizeof(mailto), &o, ">"))
			mlen = sizeof(mailto);		/* too long */
		else
			mlen = o;
	}

	o = 0;
	out[0] = '\0';
	if (hlen > 0 && mlen > 0 &&
	    hlen + strlen(FOLD) + 1 + mlen <= budget) {
		if (!put(out, outlen, &o, https) || !put(out, outlen, &o,
		    FOLD) || !put(out, outlen, &o, mailto))
			goto small;
		return (int)o;
	}
	/* both do not fit: the https URI is the one one-click needs */
	if (hlen > 0) {
		if (hlen > budget) {
			snprintf(why, whylen, "List-Unsubscribe: URL too long "
			    "(field over %d octets)", LINE_LIMIT - 1);
			return -1;
		}
		if (!put(out, outlen, &o, https))
			goto small;
		return (int)o;
	}
	if (mlen > budget) {
		snprintf(why, whylen, "List-Unsubscribe: mailto too long "
		    "(field over %d octets)", LINE_LIMIT - 1);
		return -1;
	}
	if (!put(out, outlen, &o, mailto))
		goto small;
	return (int)o;
small:
	snprintf(why, whylen, "List-Unsubscribe: buffer too small");
	out[0] = '\0';
	return -1;
}

const char *
unsubhdr_post_value(void)
{
	return "List-Unsubscribe=One-Click";
}

/* atext - RFC 5322 section 3.2.3 atext */
static bool
atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* dot_atom_text - 1*atext *("." 1*atext) */
static bool
dot_atom_text(const char *s)
{
	const char *p;
	bool prev_dot;

	if (s == NULL || *s == '\0' || *s == '.')
		return false;
	prev_dot = false;
	for (p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (atext((unsigned char)*p))
			prev_dot = false;
		else
			return false;
	}
	return !prev_dot;
}

int
unsubhdr_list_id(const char *list, const char *domain, char *out,
    size_t outlen)
{
	int n;

	if (!dot_atom_text(list) || !dot_atom_text(domain) || out == NULL)
		return -1;
	if (strlen(list) + 1 + strlen(domain) > LISTID_MAX)
		return -1;
	n = snprintf(out, outlen, "<%s.%s>", list, domain);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return n;
}
