/*
 * msgsafe.h - what goes out is what came in, and only what is safe to sign
 * is signed (DESIGN "Message flow" item 5).
 *
 * Checks and additions eom.c makes around signing a copy: the author
 * fields (RFC 5322 section 3.6.2), lines the relay would break after
 * signing (RFC 5322 section 2.1.1; Postfix smtp_line_length_limit), the
 * Message-ID and Date a campaign copy lacks (added before signing, so they
 * are signed and nobody adds others later), and the form of the header
 * values handed to the MTA (SMFIP_HDR_LEADSPC, mlfi.c).  Everything
 * allocated comes from the msg arena.  Runs in the connection's thread.
 */
#ifndef OPTIN_MSGSAFE_H
#define OPTIN_MSGSAFE_H

#include <stdbool.h>
#include <stddef.h>

struct conn;
struct edits;
struct msg;

/* RFC 5322 section 2.1.1: at most 998 octets a line, CRLF excluded. */
#define MSGSAFE_LINE_MAX 998

/*
 * Are the author fields of m fit to be signed and attributed?  Exactly one
 * From field naming at least one mailbox; more than one mailbox only with
 * exactly one Sender field naming exactly one mailbox (RFC 5322 sections
 * 3.6 and 3.6.2).  Returns 0, or -1 with why[] ("no From field", "2 From
 * fields", "From names 2 mailboxes and there is no Sender field", ...).
 */
int msgsafe_author(const struct msg *m, char *why, size_t whylen);

/*
 * Would the relay break signature sig (a DKIM-Signature value) of m?  It
 * would when a body line is over MSGSAFE_LINE_MAX octets (the body hash),
 * or a line of a header field that sig covers (h=): Postfix's SMTP client
 * breaks such a line with CRLF SP after we signed, so the signature fails
 * at the receiver.  Long lines of header fields the signature does not
 * cover break nothing.  Returns true with why[] naming the longest such
 * line ("body line of 1200 octets", "header Subject line of 1001 octets").
 */
bool msgsafe_breaks(const struct msg *m, const char *sig, char *why,
	    size_t whylen);

/*
 * Give a campaign copy the Message-ID and Date it lacks (RFC 5322 section
 * 3.6: Date is required, Message-ID should be there), so that exactly one
 * of each reaches the receiver and both are signed: queued as header
 * additions in e (before any other) and kept rendered in c->msg.added_hdrs
 * for the split copies, which must carry the same ones.  Message-ID is
 * <TIME.RANDOM@DOMAIN> with the From (else Sender) domain; Date is now, in
 * UTC.  Returns the number of fields added, or -1 (no room, out of memory,
 * no randomness).
 */
int msgsafe_add_missing(struct conn *c, struct edits *e);

/*
 * Shape the values in e (headers to add, signatures to insert) for the MTA:
 * with SMFIP_HDR_LEADSPC negotiated the MTA writes "Name:" and the value as
 * given, so each value gets the single space in front that "Name: value"
 * has.  Call last, after signing (relaxed canonicalisation does not see
 * the difference).  Returns 0, or -1 when out of memory.
 */
int msgsafe_edit_values(struct msg *m, struct edits *e);

#endif
