/*
 * addr.h - address normalisation: the only place that parses an address.
 *
 * DESIGN "Consent model": strip angle brackets and surrounding space; the
 * domain lower-cased and converted to its A-label (IDNA2008 with UTS #46
 * mapping, libidn2); the local part lower-cased (ASCII letters; XXX other
 * scripts compare byte for byte); no sub-address stripping.  An address that
 * cannot be parsed is an error, never a silent match.  Thread-safe.
 */
#ifndef OPTIN_ADDR_H
#define OPTIN_ADDR_H

#include <stddef.h>

/* RFC 5321 section 4.5.3.1: 64 octets local part, 255 domain, 254 path */
#define ADDR_MAX 320

/*
 * Normalise the address in (NUL-terminated, UTF-8 or ASCII, with or without
 * <>) into out (outlen bytes, ADDR_MAX+1 is always enough).  Returns 0, or -1
 * with why[] saying what is wrong (empty, no '@', empty local part, local part
 * over 64 octets, bad domain, IDNA error, control characters, ...).
 */
int addr_normalize(const char *in, char *out, size_t outlen, char *why,
	    size_t whylen);

/* Pointer to the domain part (after the last '@') of a normalised address,
 * or NULL if there is none.  Borrowed from addr. */
const char *addr_domain(const char *addr);

/*
 * The address of a From (or Sender, Reply-To) header value: the text in
 * the last <...>, else the value without comments; normalised into out as
 * addr_normalize() does.  Returns 0 or -1 with why[].  Groups and several
 * mailboxes are an error.
 */
int addr_from_header(const char *value, char *out, size_t outlen,
	    char *why, size_t whylen);

/*
 * The number of mailboxes in an address-list header value (From, Sender,
 * To; RFC 5322 section 3.4): mailboxes separated by commas, the members of
 * a group ("name: a@x, b@x;") counted, the group's name not; quoted
 * strings, quoted pairs and (nested) comments skipped; folds are white
 * space.  Counts what the text says without checking each address (that is
 * addr_from_header's job).  Returns the count (0 for an empty value or an
 * empty group), or -1 when quotes, comments, angle brackets or a group are
 * not closed.
 */
int addr_list_count(const char *value);

#endif
