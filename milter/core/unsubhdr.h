/*
 * unsubhdr.h - the List-Unsubscribe, List-Unsubscribe-Post and List-Id
 * header values (RFC 2369 section 3.2, RFC 8058 section 3, RFC 2919).
 *
 * Values are returned without the field name, folded with "\n\t" (libmilter
 * and Postfix turn it into CRLF TAB) so that no line is over 78 octets where
 * possible and the whole field stays under 998 octets; when the https and
 * mailto URIs together would not fit, the mailto URI is left out (the https
 * URI is what one-click needs).  Thread-safe.
 */
#ifndef OPTIN_UNSUBHDR_H
#define OPTIN_UNSUBHDR_H

#include <stddef.h>

/* The longest value unsubhdr_list_unsubscribe() writes, plus NUL. */
#define UNSUBHDR_MAX 998

/*
 * Expand one template (UnsubscribeURL, UnsubscribeMailto, BounceAddress):
 * %t becomes token, %% a '%'; what names the key in messages.  Returns the
 * length written to out (NUL-terminated), or -1 with why[] filled (bad
 * escape or character, does not fit in outlen).
 */
int unsubhdr_expand(const char *what, const char *t, const char *token,
	    char *out, size_t outlen, char *why, size_t whylen);

/*
 * Build the List-Unsubscribe value from url_template (UnsubscribeURL, may be
 * NULL) and mailto_template (UnsubscribeMailto, may be NULL), each with %t
 * replaced by token: "<https://...>, <mailto:...?subject=unsubscribe>".
 * At least one template must be given.  Returns the value length, or -1 with
 * why[] filled (no template, bad template, does not fit).
 */
int unsubhdr_list_unsubscribe(const char *url_template,
	    const char *mailto_template, const char *token, char *out,
	    size_t outlen, char *why, size_t whylen);

/* The List-Unsubscribe-Post value: "List-Unsubscribe=One-Click". */
const char *unsubhdr_post_value(void);

/* List-Id value "<list.domain>" into out; -1 if it does not fit or list
 * holds characters not allowed in a dot-atom. */
int unsubhdr_list_id(const char *list, const char *domain, char *out,
	    size_t outlen);

#endif
