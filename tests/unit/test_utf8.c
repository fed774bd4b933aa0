/*
 * test_utf8.c - the UTF-8 decoders of milter/util/utf8.c.
 *
 * Each case is a byte string and what utf8_decode_fffd() makes of it, one
 * step at a time, as "CP/LEN" in hex separated by spaces: an invalid
 * sequence is fffd with the length of its maximal subpart (Unicode 15
 * §3.9; the same cut as Python's and the WHATWG decoder's).  utf8_decode()
 * must agree: the same character where the step is valid, 0 where not.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "utf8.h"

static const struct {
	const char *label, *in, *want;
} cases[] = {
	{ "ascii", "Ab", "41/1 62/1" },
	{ "two bytes", "\xc3\xa9", "e9/2" },
	{ "three bytes", "\xe2\x82\xac", "20ac/3" },
	{ "four bytes", "\xf0\x9f\x98\x80", "1f600/4" },
	{ "a real U+FFFD", "\xef\xbf\xbd", "fffd/3" },
	{ "lone 0xff", "A\xff" "B", "41/1 fffd/1 42/1" },
	{ "stray continuation", "\x80\xbf", "fffd/1 fffd/1" },
	{ "C0 C1 never lead", "\xc0\xaf\xc1\xbf", "fffd/1 fffd/1 fffd/1 fffd/1" },
	{ "three bytes cut short", "\xe2\x82" "C", "fffd/2 43/1" },
	{ "three bytes at the end", "\xe2\x82", "fffd/2" },
	{ "four bytes cut short", "\xf0\x9f\x98" "E", "fffd/3 45/1" },
	{ "overlong E0", "\xe0\x80\xaf", "fffd/1 fffd/1 fffd/1" },
	{ "overlong F0", "\xf0\x8f\xbf\xbf", "fffd/1 fffd/1 fffd/1 fffd/1" },
	{ "surrogate", "\xed\xa0\x80", "fffd/1 fffd/1 fffd/1" },
	{ "last before surrogates", "\xed\x9f\xbf", "d7ff/3" },
	{ "above U+10FFFF", "\xf4\x90\x80\x80", "fffd/1 fffd/1 fffd/1 fffd/1" },
	{ "U+10FFFF", "\xf4\x8f\xbf\xbf", "10ffff/4" },
	{ "F5 and above", "\xf5\x80", "fffd/1 fffd/1" },
	{ "lead then lead", "\xe2\xc3\xa9", "fffd/1 e9/2" },
};

/* t_decode - every case, with utf8_decode() beside utf8_decode_fffd() */
static void
t_decode(void **state)
{
	const unsigned char *s;
	size_t i, len, k, n, nd;
	unsigned cp, cpd;
	char got[256];
	int w;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = (const unsigned char *)cases[i].in;
		len = strlen(cases[i].in);
		got[0] = '\0';
		w = 0;
		for (k = 0; k < len; k += n) {
			n = utf8_decode_fffd(s + k, len - k, &cp);
			w += snprintf(got + w, sizeof(got) - (size_t)w,
			    "%s%x/%zu", k > 0 ? " " : "", cp, n);
			cpd = 0;
			nd = utf8_decode(s + k, len - k, &cpd);
			/* valid: the same length and character; invalid: 0
			 * there, and U+FFFD */
			if (nd != 0 ? nd != n || cpd != cp : cp != UTF8_FFFD)
				CASE_FAIL(cases[i].label, "utf8_decode at "
				    "%zu: got %zu (U+%x), fffd %zu (U+%x)", k,
				    nd, cpd, n, cp);
		}
		if (strcmp(got, cases[i].want) != 0)
			CASE_FAIL(cases[i].label, "got \"%s\", want \"%s\"",
			    got, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_decode),
	};

	return HARNESS_RUN("utf8", tests);
}
