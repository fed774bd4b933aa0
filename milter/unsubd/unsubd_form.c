/*
 * unsubd_form.c - the POST bodies of optin-unsubd, parsed (see
 * unsubd_form.h).
 *
 * This file faces the internet and knows nothing of the server: a body and
 * its Content-Type go in, the fields that matter come out.  Every parser
 * works on (pointer, length), never reads past len and never needs a NUL
 * after the body; the urlencoded parser decodes in place.  Fuzzed by
 * tests/fuzz/fuzz_unsubd_form.c.
 *
 * Threads: no state; safe from any thread.
 */
#include "autoconf.h"

#include "unsubd_form.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const body_word[] = {
	"empty", "urlencoded", "multipart", "text", "other",
};

/* field_copy - copy a field's value into dst (dstlen bytes); a value too
 * long for it or holding a NUL makes the body bad */
static void
field_copy(struct unsubd_form *f, char *dst, size_t dstlen, const char *v,
    size_t vlen)
{
	if (vlen >= dstlen || memchr(v, '\0', vlen) != NULL) {
		f->bad = true;
		return;
	}
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}

/* form_field - note one decoded field of a POST body */
static void
form_field(struct unsubd_form *f, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	if (klen == 16 && strncasecmp(k, "List-Unsubscribe", 16) == 0) {
		/* RFC 8058 §3.1: the body is "List-Unsubscribe=One-Click" */
		if (vlen == 9 && strncasecmp(v, "One-Click", 9) == 0)
			f->one_click = true;
		else
			f->bad = true;
	} else if (klen == 6 && memcmp(k, "action", 6) == 0)
		field_copy(f, f->action, sizeof(f->action), v, vlen);
	else if (klen == 4 && memcmp(k, "list", 4) == 0)
		field_copy(f, f->list, sizeof(f->list), v, vlen);
	else if (klen == 4 && memcmp(k, "csrf", 4) == 0)
		field_copy(f, f->csrf, sizeof(f->csrf), v, vlen);
	/* other fields are ignored */
}

/* unsubd_hexval - value of hex digit c, or -1 */
int
unsubd_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* url_decode - decode %XX and '+' in place; returns the new length */
static size_t
url_decode(char *s, size_t n)
{
	size_t i, o;
	int hi, lo;

	for (i = o = 0; i < n; i++) {
		if (s[i] == '+')
			s[o++] = ' ';
		else if (s[i] == '%' && i + 2 < n &&
		    (hi = unsubd_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = unsubd_hexval((unsigned char)s[i + 2])) >= 0) {
			s[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			s[o++] = s[i];
	}
	return o;
}

/* form_urlencoded - parse k=v&k=v (decoded in place) */
static void
form_urlencoded(struct unsubd_form *f, char *s, size_t n)
{
	size_t i = 0, j, e, eq, klen, vlen;

	while (i < n) {
		for (j = i; j < n && s[j] != '&'; j++)
			;
		/* tolerate a trailing CR LF some clients add */
		for (e = j; e > i && (s[e - 1] == '\r' || s[e - 1] == '\n');
		    e--)
			;
		for (eq = i; eq < e && s[eq] != '='; eq++)
			;
		if (eq < e) {
			klen = url_decode(s + i, eq - i);
			vlen = url_decode(s + eq + 1, e - eq - 1);
			form_field(f, s + i, klen, s + eq + 1, vlen);
		} else if (e > i)
			f->bad = true;
		i = j + 1;
	}
}

/* form_text - parse text/plain form lines k=v (no decoding) */
static void
form_text(struct unsubd_form *f, char *s, size_t n)
{
	char *end = s + n, *nl, *eq, *e;

	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			nl = end;
		e = nl;
		while (e > s && (e[-1] == '\r' || e[-1] == ' ' ||
		    e[-1] == '\t'))
			e--;
		if (e > s) {
			eq = memchr(s, '=', (size_t)(e - s));
			if (eq != NULL)
				form_field(f, s, (size_t)(eq - s), eq + 1,
				    (size_t)(e - eq - 1));
			else
				f->bad = true;
		}
		s = nl < end ? nl + 1 : end;
	}
}

/* mp_boundary - the boundary parameter of a multipart Content-Type */
static bool
mp_boundary(const char *ctype, char *out, size_t outlen)
{
	const char *p = ctype, *e;
	size_t n;

	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			p++;
			e = strchr(p, '"');
		} else
			e = p + strcspn(p, "; \t");
		if (e == NULL)
			return false;
		n = (size_t)(e - p);
		if (n == 0 || n > 70 || n >= outlen)	/* RFC 2046 §5.1.1 */
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* mp_name - the name="..." of a part's headers [h, e) */
static bool
mp_name(const char *h, const char *e, const char **name_r, size_t *len_r)
{
	const char *p, *q;

	for (p = h; p + 6 <= e; p++) {
		if (strncasecmp(p, "name=\"", 6) != 0 ||
		    (p > h && p[-1] != ' ' && p[-1] != ';' && p[-1] != '\t'))
			continue;
		p += 6;
		if ((q = memchr(p, '"', (size_t)(e - p))) == NULL)
			return false;
		*name_r = p;
		*len_r = (size_t)(q - p);
		return true;
	}
	return false;
}

/* form_multipart - parse multipart/form-data with the given boundary */
static void
form_multipart(struct unsubd_form *f, char *s, size_t n, const char *boundary)
{
	char delim[80];
	char *end = s + n, *p, *hend, *vend, *name;
	size_t dlen, nlen;

	dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	p = memmem(s, n, delim, dlen);
	while (p != NULL) {
		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return;			/* closing delimiter */
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p++;
		hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (hend == NULL)
			break;
		vend = memmem(hend + 4, (size_t)(end - hend - 4), delim,
		    dlen);
		if (vend == NULL)
			break;
		if (!mp_name(p, hend, (const char **)&name, &nlen))
			break;
		/* the CR LF before the delimiter belongs to it */
		if (vend - 2 >= hend + 4 && vend[-2] == '\r' &&
		    vend[-1] == '\n')
			form_field(f, name, nlen, hend + 4,
			    (size_t)(vend - 2 - (hend + 4)));
		else
			form_field(f, name, nlen, hend + 4,
			    (size_t)(vend - (hend + 4)));
		p = vend;
	}
	f->bad = true;
}


void
unsubd_form_parse(const char *ctype, char *body, size_t len,
    struct unsubd_form *f)
{
	char boundary[72];

	memset(f, 0, sizeof(*f));
	if (ctype == NULL)
		ctype = "";
	if (len == 0) {
		f->kind = UNSUBD_BODY_EMPTY;
	} else if (strncasecmp(ctype, "application/x-www-form-urlencoded",
	    33) == 0) {
		f->kind = UNSUBD_BODY_URLENCODED;
		form_urlencoded(f, body, len);
	} else if (strncasecmp(ctype, "multipart/form-data", 19) == 0) {
		f->kind = UNSUBD_BODY_MULTIPART;
		if (mp_boundary(ctype, boundary, sizeof(boundary)))
			form_multipart(f, body, len, boundary);
		else
			f->bad = true;
	} else if (strncasecmp(ctype, "text/plain", 10) == 0) {
		f->kind = UNSUBD_BODY_TEXT;
		form_text(f, body, len);
	} else {
		f->kind = UNSUBD_BODY_OTHER;
		form_urlencoded(f, body, len);
	}
}

const char *
unsubd_body_str(enum unsubd_body kind)
{
	if ((unsigned)kind >= sizeof(body_word) / sizeof(body_word[0]))
		return "other";
	return body_word[kind];
}
