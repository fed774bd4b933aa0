/*
 * fuzz_token.c - libFuzzer target: arbitrary bytes into token_verify().
 *
 * LLVMFuzzerInitialize loads the two-key ring of keyring.h.  Each input is
 * NUL-terminated and verified; a result of ok or expired must decode to a
 * list and address without NUL and within struct token_info.  Every tenth
 * input is also fed through a round trip (issue, verify) with the input
 * bytes as list and address, to exercise the issue side.
 *
 * Build by hand (not part of make check):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Imilter \
 *	tests/fuzz/fuzz_token.c milter/core/token.c milter/core/mark.c \
 *	milter/util/secfile.c -lcrypto \
 *	-o fuzz_token
 *   ./fuzz_token -max_total_time=60 -max_len=1024
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "keyring.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_info info;
	enum token_status st;
	char *s, tok[TOKEN_MAX], why[256], *addr;
	size_t split;
	int n;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	st = token_verify(ring, s, 20000, 400, &info);
	if (st == TOKEN_OK || st == TOKEN_EXPIRED) {
		if (memchr(info.addr, '\0', sizeof(info.addr)) == NULL ||
		    memchr(info.list, '\0', sizeof(info.list)) == NULL ||
		    info.addr[0] == '\0' || info.list[0] == '\0' ||
		    (info.key_id != 1 && info.key_id != 2))
			abort();
	}
	if (size > 2 && data[0] % 10 == 0 && memchr(s, '\0', size) == NULL) {
		/* round trip: list = bytes 1..split, address = the rest */
		split = 1 + data[1] % (size - 2);
		s[split] = '\0';
		addr = s + split + 1;
		if (*addr != '\0') {
			n = token_issue(ring, addr, s + 1, 19990, tok,
			    sizeof(tok), why, sizeof(why));
			if (n >= 0) {
				st = token_verify(ring, tok, 20000, 400, &info);
				if (st != TOKEN_OK ||
				    strcmp(info.addr, addr) != 0 ||
				    strcmp(info.list, s + 1) != 0 ||
				    info.key_id != 2 || info.issue_day != 19990)
					abort();
			}
		}
	}
	free(s);
	return 0;
}
