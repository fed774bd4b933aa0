/*
 * addr.h - address normalisation: the only place that parses an address.
 *
 * DESIGN "Consent model": strip angle brackets and surrounding space; the
 * domain lower-cased and converted to its A-label (IDNA2008 with UTS #46
 * mapping, libidn2); the local part lower-cased (ASCII letters; XXX other
 * scripts compare byte for byte); no sub-address stripping.  An address that
 * cannot be parsed is an error, never a silent match: so is one that is not
 * valid UTF-8 or holds a control or invisible character (utf8_invisible():
 * U+FEFF, zero-width characters, bidi controls, spaces other than U+0020,
 * ...), which would look like another address.  Thread-safe.
 */
#ifndef OPTIN_ADDR_H
#define OPTIN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5321 section 4.5.3.1: 64 octets local part, 255 domain, 254 path */
#define ADDR_MAX 320

/*
 * Normalise the address in (NUL-terminated, UTF-8 or ASCII, with or without
 * <>, a source route is dropped as addr_path_mailbox() does) into out
 * (outlen bytes, ADDR_MAX+1 is always enough).  Returns 0, or -1
 * with why[] saying what is wrong (empty, no '@', empty local part, local part
 * over 64 octets, bad domain, IDNA error, not UTF-8, "invisible character
 * U+200B in address", ...).
 */
int addr_normalize(const char *in, char *out, size_t outlen, char *why,
	    size_t whylen);

/*
 * RFC 5321 section 4.1.2: is the normalised addr (addr_normalize()) a
 * Mailbox: a Dot-string local part (atext atoms joined by single dots;
 * RFC 6531 UTF-8 allowed) or a Quoted-string (qtextSMTP and quoted-pairSMTP
 * only), '@', and a domain of LDH labels or an address literal?  Stricter
 * than addr_normalize(), which lets any printable text through quotes; for
 * optinctl forget.  0, or -1 with why[] saying what is wrong.
 */
int addr_mailbox_check(const char *addr, char *why, size_t whylen);

/*
 * The mailbox of an SMTP path (RFC 5321 section 4.1.2: Path = "<" [ A-d-l
 * ":" ] Mailbox ">"): in without surrounding space, one pair of <> and a
 * source route such as "@a.example,@b.example:", which section 3.3 says to
 * ignore and Postfix's smtpd drops.  Nothing else changes (case, quotes).
 * Copies it into out (outlen bytes); returns its length, or -1 when the
 * brackets do not balance or out is too small.  *bracketed_r, unless NULL,
 * says whether in had the <>.
 */
int addr_path_mailbox(const char *in, char *out, size_t outlen,
	    bool *bracketed_r);

/*
 * The A-label form of domain (NUL-terminated, UTF-8, no '@') into out
 * (outlen bytes; 256 is always enough), as addr_normalize() makes it: a
 * plain letter-digit-hyphen domain lower-cased without libidn2, unless
 * idn2_always (then always through libidn2: tests compare the two).
 * Returns 0, or -1 with why[].
 */
int addr_domain_ascii(const char *domain, bool idn2_always, char *out,
	    size_t outlen, char *why, size_t whylen);

/* Pointer to the domain part (after the last '@') of a normalised address,
 * or NULL if there is none.  Borrowed from addr. */
const char *addr_domain(const char *addr);

/*
 * The normalised addr with its domain as U-label (IDNA2008 to Unicode,
 * libidn2) into out (outlen bytes; ADDR_MAX * 4 + 1 is always enough), as
 * a person may have written it: for finding the address in text, such as
 * the headers of a spool file (optinctl forget).  An ASCII-only domain and
 * an address literal come back unchanged.  Returns 0, or -1 with why[].
 */
int addr_to_unicode(const char *addr, char *out, size_t outlen, char *why,
	    size_t whylen);

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
