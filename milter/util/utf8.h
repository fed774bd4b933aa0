/*
 * utf8.h - UTF-8 decoding and the code points a reader cannot see.
 *
 * Strict RFC 3629 decoding: no overlong forms, no surrogates, nothing
 * above U+10FFFF.  No state; thread-safe.
 */
#ifndef OPTIN_UTF8_H
#define OPTIN_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Decode the character at s[0..len) (len > 0): its length in bytes (1 to
 * 4) and *cp_r, or 0 when the bytes there are not valid UTF-8 (truncated,
 * overlong, a surrogate, above U+10FFFF, a stray continuation byte).
 */
size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp_r);

/* Offset of the first byte of s[0..len) that is not valid UTF-8, or len. */
size_t utf8_bad(const unsigned char *s, size_t len);

/*
 * Cut the NUL-terminated s before a character its end leaves incomplete
 * (a lead byte followed by fewer continuation bytes than it announces), as
 * snprintf() leaves one that it cut short; other bytes stay as they are.
 * Returns s.
 */
char *utf8_cut(char *s);

/*
 * Is cp a character a reader cannot see, or that changes how the text
 * around it is shown: C0 and C1 controls and DEL; spaces other than
 * U+0020 (no-break, en, em, ideographic, ...); line and paragraph
 * separators; zero-width characters, joiners and the byte order mark
 * U+FEFF; bidirectional marks, embeddings and isolates; soft hyphen,
 * fillers, variation selectors, tags and the other Default_Ignorable_Code
 * _Point characters of Unicode 15.  A name or address holding one looks
 * the same as one without it, and is not the same string.
 */
bool utf8_invisible(unsigned cp);

#endif
