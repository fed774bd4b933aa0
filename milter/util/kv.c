/*
 * kv.c - encoding of values in key=value text (kv.h).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kv.h"

/* kv_atom - may byte c stand unquoted in a value? */
static bool
kv_atom(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("=\"\\()", c) == NULL;
}

/* kv_wrap - open, v with the bytes in special escaped by '\\' and the bytes
 * outside printable ASCII as \xHH, close; cut to fit outlen */
static char *
kv_wrap(const char *v, char open, const char *special, char close,
    char *out, size_t outlen)
{
	const unsigned char *p;
	char esc[5];
	size_t o = 0, n;

	if (outlen < 3) {
		if (outlen > 0)
			out[0] = '\0';
		return out;
	}
	out[o++] = open;
	for (p = (const unsigned char *)(v != NULL ? v : ""); *p != '\0';
	    p++) {
		if (*p < ' ' || *p >= 0x7f)
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02X", *p);
		else if (strchr(special, *p) != NULL) {
			esc[0] = '\\';
			esc[1] = (char)*p;
			n = 2;
		} else {
			esc[0] = (char)*p;
			n = 1;
		}
		if (o + n + 2 > outlen)		/* close and NUL */
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o++] = close;
	out[o] = '\0';
	return out;
}

char *
kv_value(const char *v, char *out, size_t outlen)
{
	const unsigned char *p;

	if (v != NULL && v[0] != '\0') {
		for (p = (const unsigned char *)v; kv_atom(*p); p++)
			;
		if (*p == '\0') {
			snprintf(out, outlen, "%s", v);
			return out;
		}
	}
	return kv_wrap(v, '"', "\"\\", '"', out, outlen);
}

char *
kv_comment(const char *v, char *out, size_t outlen)
{
	return kv_wrap(v, '(', "()\\", ')', out, outlen);
}
