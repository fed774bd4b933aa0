/*
 * fuzz_fbparse.c - libFuzzer target: arbitrary bytes as a bounce or
 * complaint report into fbparse_report() (GMime), then the report's status
 * and diagnostic into fbrules_classify()'s pure twin checks: every text
 * field must come back NUL-terminated within its array, with no control
 * characters, and ncand within FB_NCAND.
 *
 * Build by hand (not part of make check):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Imilter/feedback \
 *	tests/fuzz/fuzz_fbparse.c milter/feedback/fbparse.c \
 *	$(pkg-config --cflags --libs gmime-3.0) -o fuzz_fbparse
 *   ./fuzz_fbparse -max_total_time=60 -max_len=8192
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fbparse.h"

/* field_ok - NUL inside the array, no control character before it */
static void
field_ok(const char *s, size_t size)
{
	const char *nul = memchr(s, '\0', size);
	const char *p;

	if (nul == NULL)
		abort();
	for (p = s; p < nul; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

#define FIELD(r, f) field_ok((r)->f, sizeof((r)->f))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fb_report r;
	size_t i;

	fbparse_report((const char *)data, size, &r);
	if (r.type > FB_AUTO_REPLY || r.ncand > FB_NCAND)
		abort();
	FIELD(&r, action);
	FIELD(&r, status);
	FIELD(&r, final_rcpt);
	FIELD(&r, remote_mta);
	FIELD(&r, reporting_mta);
	FIELD(&r, diagnostic);
	FIELD(&r, arrival);
	FIELD(&r, feedback_type);
	FIELD(&r, orig_rcpt);
	FIELD(&r, subject);
	for (i = 0; i < r.ncand; i++)
		FIELD(&r, cand[i].text);
	(void)fbparse_type_str(r.type);
	return 0;
}
