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

/* U+REPLACEMENT CHARACTER, what utf8_decode_fffd() gives for bytes that
 * are not UTF-8, and its UTF-8 form */
#define UTF8_FFFD	0xfffdU
#define UTF8_FFFD_STR	"\xef\xbf\xbd"

/*
 * Decode as utf8_decode(), but never fail: where the bytes at s are not
 * valid UTF-8, *cp_r is UTF8_FFFD and the length (1 to 3) is that of the
 * maximal subpart of the ill-formed sequence (Unicode 15 §3.9, "U+FFFD
 * Substitution of Maximal Subparts", as the WHATWG decoder and Python do):
 * a lone 0xff is one U+FFFD, E2 82 cut short one, the overlong C0 AF two,
 * the surrogate ED A0 80 three.  For a writer that must show any bytes as
 * valid UTF-8.
 */
size_t utf8_decode_fffd(const unsigned char *s, size_t len, unsigned *cp_r);

/* Offset of the first byte of s[0..len) that is not valid UTF-8, or len. */
size_t utf8_bad(const unsigned char *s, size_t len);

/*
 * Cut the NUL-terminated s before a character its end leaves incomplete
 * (a lead byte followed by fewer continuation bytes than it announces), as
 * snprintf() leaves one that it cut short; other bytes stay as they are.
 * Returns s.
 */
char *utf8_cut(char *s);

/* Is cp a control character: C0 (U+0000 to U+001F), DEL or C1 (U+0080 to
 * U+009F; U+009B is a terminal's CSI, U+0085 a line break)? */
bool utf8_control(unsigned cp);

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
