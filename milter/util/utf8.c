/*
 * utf8.c - UTF-8 decoding and invisible code points (utf8.h).
 *
 * One decoder for every parser that takes text from outside (the CSV
 * reader, the address parser), so that they agree on what valid UTF-8 is.
 * No state; thread-safe.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "utf8.h"

size_t
utf8_decode(const unsigned char *s, size_t len, unsigned *cp_r)
{
	unsigned cp, min;
	size_t n, k;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 1;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 2;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 3;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n >= len)
		return 0;
	for (k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n + 1;
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
