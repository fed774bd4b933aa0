/*
 * fuzz_unsubd_form.c - libFuzzer target: arbitrary POST bodies and
 * Content-Types into optin-unsubd's body parser (milter/unsubd/
 * unsubd_form.c) and arbitrary Origin, Referer and Host values into its
 * origin check (unsubd_guard.c), the two parts that read the internet's
 * text before a token has been looked at.
 *
 * Input: the first byte picks the Content-Type (one of five, the last a
 * fuzzed multipart boundary taken from the input's first line); the rest
 * is the body, copied to an exactly sized buffer so that ASan sees any
 * read past its end.  The fields must come out NUL-terminated and within
 * their buffers; the same input is also given to the origin check.
 *
 * Build by hand (tests/fuzz/run.sh does it):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Imilter/core \
 *	-Imilter/util -Imilter/unsubd tests/fuzz/fuzz_unsubd_form.c \
 *	milter/unsubd/unsubd_form.c milter/unsubd/unsubd_guard.c \
 *	milter/core/token.c milter/util/secfile.c -lcrypto -o fuzz_unsubd_form
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unsubd_form.h"
#include "unsubd_guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ctypes[] = {
		"application/x-www-form-urlencoded", "text/plain", NULL,
		"multipart/form-data; boundary=\"B\"",
	};
	struct unsubd_origin_hdrs h;
	struct unsubd_form f;
	char ctype[128], *body, *s, origin[UNSUBD_ORIGIN_MAX];
	const uint8_t *nl;
	size_t n;

	if (size == 0)
		return 0;
	n = size - 1;
	if (data[0] % 5 < 4)
		snprintf(ctype, sizeof(ctype), "%s",
		    ctypes[data[0] % 5] ? ctypes[data[0] % 5] : "");
	else {
		nl = memchr(data + 1, '\n', n);
		snprintf(ctype, sizeof(ctype), "multipart/form-data; "
		    "boundary=%.*s", (int)(nl ? nl - (data + 1) : 0),
		    (const char *)(data + 1));
	}
	if ((body = malloc(n ? n : 1)) == NULL)
		return 0;
	memcpy(body, data + 1, n);
	unsubd_form_parse(data[0] % 5 == 2 ? NULL : ctype, body, n, &f);
	if (strnlen(f.action, sizeof(f.action)) == sizeof(f.action) ||
	    strnlen(f.list, sizeof(f.list)) == sizeof(f.list) ||
	    strnlen(f.csrf, sizeof(f.csrf)) == sizeof(f.csrf))
		abort();
	(void)unsubd_body_str(f.kind);
	free(body);

	/* the same bytes as Origin, Referer and Host */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)unsubd_origin_of(s, origin, sizeof(origin));
	h.fetch_site = NULL;
	h.origin = s;
	h.referer = s;
	h.host = s + strnlen(s, size) / 2;
	(void)unsubd_guard_origin(&h, NULL);
	(void)unsubd_guard_origin(&h, "https://unsub.example.com");
	h.origin = NULL;
	(void)unsubd_guard_origin(&h, NULL);
	free(s);
	return 0;
}
