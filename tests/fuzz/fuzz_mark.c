/*
 * fuzz_mark.c - libFuzzer target: arbitrary bytes into mark_msg_verify(),
 * the parser of the X-Optin-Release and X-Optin-Split header values that
 * arrive with any message.
 *
 * LLVMFuzzerInitialize loads the two-key ring of keyring.h.  Each input is
 * NUL-terminated and verified as both purposes; a random value must never
 * verify, and the fields read back must stay within their buffers.  Every
 * tenth input also makes a marker with the input as Message-ID and body
 * and checks that it verifies for that message only.
 *
 * Build by hand (not part of make check):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Imilter/util \
 *	-Imilter/core tests/fuzz/fuzz_mark.c milter/core/mark.c \
 *	milter/core/token.c milter/util/secfile.c -lcrypto -o fuzz_mark
 *   ./fuzz_mark -max_total_time=60 -max_len=1024
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mark.h"
#include "token.h"
#include "keyring.h"


/* fields_ok - the carried fields stay terminated within their buffers */
static void
fields_ok(const struct mark_msg *m)
{
	if (memchr(m->qid, '\0', sizeof(m->qid)) == NULL ||
	    memchr(m->list, '\0', sizeof(m->list)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, value[MARK_VALUE_MAX], why[256];
	struct mark_msg m, v;
	int p;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (p = MARK_RELEASE; p <= MARK_SPLIT; p++) {
		memset(&v, 0, sizeof(v));
		v.rcpt = "bob@example.com";
		if (mark_msg_verify(ring, (enum mark_purpose)p, s, &v,
		    1767225600LL) == MARK_OK)
			abort();	/* a forged MAC */
		fields_ok(&v);
	}
	if (size > 0 && data[0] % 10 == 0) {
		memset(&m, 0, sizeof(m));
		snprintf(m.qid, sizeof(m.qid), "Q1");
		snprintf(m.list, sizeof(m.list), "news");
		m.issued = 1767225600LL;
		m.expires = m.issued + 60;
		m.rcpt = "bob@example.com";
		m.message_id = s;
		m.body = data;
		m.bodylen = size;
		if (mark_msg_make(ring, MARK_RELEASE, &m, value,
		    sizeof(value), why, sizeof(why)) < 0)
			abort();
		v = m;
		if (mark_msg_verify(ring, MARK_RELEASE, value, &v,
		    m.issued) != MARK_OK ||
		    mark_msg_verify(ring, MARK_SPLIT, value, &v, m.issued) ==
		    MARK_OK)
			abort();
		v = m;
		v.bodylen = size - 1;
		if (mark_msg_verify(ring, MARK_RELEASE, value, &v,
		    m.issued) == MARK_OK)
			abort();
	}
	free(s);
	return 0;
}
