/*
 * fuzz_smtpc.c - libFuzzer target: the re-injection channel's SMTP client
 * (milter/core/smtpc.c) on bytes a server or a message may hold.
 *
 * Replies: smtpc_reply_len on arbitrary bytes returns -1, 0 or a length
 * within the input that ends in LF, with a code 200-599; taken off one at
 * a time the input ends.  Dot-stuffing: the input cut in two pieces and
 * stuffed must give the same bytes as in one piece, and undoing the
 * stuffing (drop the first dot of every line that starts with one) gives
 * the input back; no line of the output is a lone ".".
 *
 * Build by hand (not part of make check):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Imilter/util \
 *	-Imilter/core tests/fuzz/fuzz_smtpc.c milter/core/smtpc.c \
 *	milter/util/buf.c milter/util/log.c -o fuzz_smtpc
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

/* unstuff - out without the stuffed dots; must equal in[0..len-1] */
static void
unstuff(const struct buf *out, const uint8_t *in, size_t len)
{
	size_t i, k = 0;
	int bol = 1;

	for (i = 0; i < out->len; i++) {
		if (bol && out->data[i] == '.') {
			/* a stuffed line starts with two dots */
			if (i + 1 >= out->len || out->data[i + 1] != '.')
				abort();
			i++;
		}
		if (k >= len || out->data[i] != in[k])
			abort();
		k++;
		bol = out->data[i] == '\n';
	}
	if (k != len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf one = { NULL, 0, 0 }, two = { NULL, 0, 0 };
	size_t off = 0, cut = size > 0 ? data[0] % (size + 1) : 0;
	bool bol = true;
	long n;
	int code;

	while (off < size && (n = smtpc_reply_len((const char *)data + off,
	    size - off, &code)) > 0) {
		if ((size_t)n > size - off || data[off + n - 1] != '\n' ||
		    code < 200 || code > 599)
			abort();
		off += (size_t)n;
	}
	if (smtpc_dot_stuff(&one, data, size, &bol) < 0)
		return 0;
	bol = true;
	if (smtpc_dot_stuff(&two, data, cut, &bol) < 0 ||
	    smtpc_dot_stuff(&two, data + cut, size - cut, &bol) < 0)
		goto out;
	if (one.len != two.len || (one.len > 0 && memcmp(one.data, two.data,
	    one.len) != 0))
		abort();
	unstuff(&one, data, size);
out:
	buf_free(&one);
	buf_free(&two);
	return 0;
}
