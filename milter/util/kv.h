/*
 * kv.h - values in "key=value key=value" text (consent evidence, which is
 * also logged) written so that a value cannot add or change a field,
 * whatever bytes a peer sent (a HELO name, an X-Forwarded-For header, an
 * SPF explanation from a stranger's DNS).
 *
 * A value made only of "atom" bytes (printable ASCII except space, '=',
 * '"', '\\', '(' and ')') is written as it is, so ordinary values read as
 * before (helo=mx.example.net, client=mx.example.net[192.0.2.7]).  Any
 * other value becomes a quoted string in the manner of RFC 5322 section
 * 3.2.4: '"' and '\\' are escaped with '\\', bytes outside printable ASCII
 * as \xHH, and the empty value is "".  A reader splits fields at spaces
 * outside quotes.  Pure functions, thread-safe.
 */
#ifndef OPTIN_KV_H
#define OPTIN_KV_H

#include <stddef.h>

/*
 * Write value v (NULL: "") into out (outlen bytes, at least 3), encoded as
 * above and NUL-terminated; a value that does not fit is cut, never in the
 * middle of an escape and always with its closing quote.  Returns out.
 */
char *kv_value(const char *v, char *out, size_t outlen);

/*
 * Write v as a parenthesised comment (RFC 5322 section 3.2.2): "(" v ")"
 * with '(', ')' and '\\' escaped with '\\' and bytes outside printable
 * ASCII as \xHH, cut as kv_value() cuts.  Returns out.
 */
char *kv_comment(const char *v, char *out, size_t outlen);

#endif
