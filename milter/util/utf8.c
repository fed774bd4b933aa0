/*
 * utf8.c - UTF-8 decoding and invisible code points (utf8.h).
 *
 * One decoder for every parser that takes text from outside (the CSV
 * reader, the address parser), so that they agree on what valid UTF-8 is,
 * and for every writer that shows stored text (optin-unsubd's pages,
 * optinctl's terminal and JSON output), so that they replace what is not.
 * No state; thread-safe.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "utf8.h"

/*
 * seq - the sequence at s[0..len) (len > 0) by the well-formed byte
 * sequences of Unicode 15 Table 3-7 (RFC 3629 with its ranges written out:
 * E0 A0..BF and F0 90..BF leave no room for overlong forms, ED 80..9F none
 * for surrogates, F4 80..8F none above U+10FFFF).  Returns its length with
 * *ok_r true and *cp_r set; or, with *ok_r false, the length of its
 * maximal subpart (§3.9, D93b): the longest start of a well-formed
 * sequence there, at least one byte.
 */
static size_t
seq(const unsigned char *s, size_t len, unsigned *cp_r, bool *ok_r)
{
	unsigned cp, lo = 0x80, hi = 0xbf;
	size_t n, k;

	*ok_r = false;
	if (s[0] < 0x80) {
		n = 1;
		cp = s[0];
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else
		return 1;
	for (k = 1; k < n; k++) {
		if (k >= len || s[k] < lo || s[k] > hi)
			return k;
		cp = (cp << 6) | (s[k] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*ok_r = true;
	*cp_r = cp;
	return n;
}

size_t
utf8_decode(const unsigned char *s, size_t len, unsigned *cp_r)
{
	bool ok;
	size_t n = seq(s, len, cp_r, &ok);

	return ok ? n : 0;
}

size_t
utf8_decode_fffd(const unsigned char *s, size_t len, unsigned *cp_r)
{
	bool ok;
	size_t n = seq(s, len, cp_r, &ok);

	if (!ok)
		*cp_r = UTF8_FFFD;
	return n;
}

size_t
utf8_bad(const unsigned char *s, size_t len)
{
	size_t i = 0, n;
	unsigned cp;

	while (i < len) {
		if ((n = utf8_decode(s + i, len - i, &cp)) == 0)
			return i;
		i += n;
	}
	return len;
}

char *
utf8_cut(char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = n, need;

	/* back over at most three continuation bytes to the lead byte */
	while (i > 0 && n - i < 3 && (u[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || u[i - 1] < 0xc2 || u[i - 1] > 0xf4)
		return s;
	need = u[i - 1] >= 0xf0 ? 4 : u[i - 1] >= 0xe0 ? 3 : 2;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
	return s;
}

bool
utf8_control(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

bool
utf8_invisible(unsigned cp)
{
	/* ranges in order; from Unicode 15 DerivedCoreProperties.txt
	 * (Default_Ignorable_Code_Point), the Cc, Zl and Zp categories and
	 * the Zs characters other than U+0020 */
	static const struct {
		unsigned lo, hi;
	} r[] = {
		{ 0x0000, 0x001f }, { 0x007f, 0x00a0 }, { 0x00ad, 0x00ad },
		{ 0x034f, 0x034f }, { 0x061c, 0x061c }, { 0x115f, 0x1160 },
		{ 0x1680, 0x1680 }, { 0x17b4, 0x17b5 }, { 0x180b, 0x180f },
		{ 0x2000, 0x200f }, { 0x2028, 0x202f }, { 0x205f, 0x206f },
		{ 0x3000, 0x3000 }, { 0x3164, 0x3164 }, { 0xfe00, 0xfe0f },
		{ 0xfeff, 0xfeff }, { 0xffa0, 0xffa0 }, { 0xfff0, 0xfffb },
		{ 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a },
		{ 0xe0000, 0xe0fff },
	};
	size_t i;

	for (i = 0; i < sizeof(r) / sizeof(r[0]) && r[i].lo <= cp; i++)
		if (cp <= r[i].hi)
			return true;
	return false;
}
