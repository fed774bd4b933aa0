/*
 * tokens.c - issue unsubscribe tokens in bulk for tests/bench/run.sh (the
 * wrk one-click load), with the project's own token_issue() (token.h).
 *
 * usage: tokens KEYFILE LIST FORMAT FIRST COUNT
 * FORMAT is a printf format with one %ld, the address of number i, e.g.
 * "w%ld@bench.example.net" or "u%08ld@example000.com" (then every address
 * i must fit that pattern; run.sh only uses the forms it generated).
 * For i = FIRST .. FIRST+COUNT-1 prints "i TOKEN" one a line.  Exit 0, or
 * 1 with a reason on stderr.  Single-threaded.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "token.h"

/* fmt_ok - FORMAT holds exactly one %ld and no other conversion */
static int
fmt_ok(const char *f)
{
	const char *p;
	int n = 0;

	for (p = f; (p = strchr(p, '%')) != NULL; p++) {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
		if (strncmp(p, "ld", 2) != 0)
			return 0;
		n++;
	}
	return n == 1;
}

/* FORMAT comes from the command line, checked by fmt_ok() */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* addr_of - the address of number i; "%03ld" style suffixes that depend
 * on i % 1000 are written by run.sh as the literal "%03M" (i % 1000) */
static void
addr_of(const char *fmt, long i, char *out, size_t outlen)
{
	char f2[200];
	const char *m = strstr(fmt, "%03M");

	if (m == NULL) {
		snprintf(out, outlen, fmt, i);
		return;
	}
	/* FORMAT "...%ld...%03M..." or "...%08ld...%03M..." */
	snprintf(f2, sizeof(f2), "%.*s%%03ld%s", (int)(m - fmt), fmt, m + 4);
	snprintf(out, outlen, f2, i, i % 1000);
}

int
main(int argc, char **argv)
{
	struct token_ring *ring;
	char why[300], tok[TOKEN_MAX], addr[200], plain[200];
	long first, count, i, day = token_day((long long)time(NULL));
	const char *m;

	if (argc != 6) {
		fprintf(stderr, "usage: tokens KEYFILE LIST FORMAT FIRST "
		    "COUNT\n");
		return 64;
	}
	/* check FORMAT without its "%03M" part */
	snprintf(plain, sizeof(plain), "%s", argv[3]);
	if ((m = strstr(plain, "%03M")) != NULL)
		memmove(plain + (m - plain), m + 4, strlen(m + 4) + 1);
	if (!fmt_ok(plain)) {
		fprintf(stderr, "tokens: FORMAT needs exactly one %%ld\n");
		return 64;
	}
	first = atol(argv[4]);
	count = atol(argv[5]);
	if ((ring = token_ring_load(argv[1], why, sizeof(why))) == NULL) {
		fprintf(stderr, "tokens: %s\n", why);
		return 1;
	}
	for (i = first; i < first + count; i++) {
		addr_of(argv[3], i, addr, sizeof(addr));
		if (token_issue(ring, addr, argv[2], day, tok, sizeof(tok),
		    why, sizeof(why)) < 0) {
			fprintf(stderr, "tokens: %s: %s\n", addr, why);
			token_ring_free(&ring);
			return 1;
		}
		printf("%ld %s\n", i, tok);
	}
	token_ring_free(&ring);
	return 0;
}
