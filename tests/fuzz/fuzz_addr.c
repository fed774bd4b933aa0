/*
 * fuzz_addr.c - libFuzzer target: arbitrary bytes into addr_normalize()
 * and addr_from_header().  A normalised address must itself normalise to
 * the same text (idempotence), contain one '@' outside quotes at its end,
 * and be valid UTF-8 without control or invisible characters.
 *
 * Built and run by tests/fuzz/run.sh (clang, -fsanitize=fuzzer,address,
 * undefined).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[1024], out[ADDR_MAX + 1], again[ADDR_MAX + 1], why[256];
	size_t i, n;
	unsigned cp;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (addr_normalize(in, out, sizeof(out), why, sizeof(why)) == 0) {
		/* valid UTF-8, nothing invisible (U+0020 only quoted) */
		for (i = 0; out[i] != '\0'; i += n) {
			n = utf8_decode((const unsigned char *)out + i,
			    strlen(out + i), &cp);
			if (n == 0 || (cp != ' ' && utf8_invisible(cp)))
				abort();
		}
		if (addr_domain(out) == NULL)
			abort();
		if (addr_normalize(out, again, sizeof(again), why,
		    sizeof(why)) != 0 || strcmp(out, again) != 0)
			abort();
	} else if (why[0] == '\0')
		abort();	/* every error says why */
	(void)addr_from_header(in, out, sizeof(out), why, sizeof(why));
	return 0;
}
