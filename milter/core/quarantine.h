/*
 * quarantine.h - durable quarantine spool (DESIGN "Message flow" step 3).
 *
 * A message is written to a temp file in QuarantineDir (umask 077), fsync'd,
 * renamed to its final name, and the directory fsync'd: when
 * quarantine_write() returns 0 the copy survives a crash, and only then may a
 * recipient be removed.  Spool names are "YYYYMMDD-HHMMSS-QUEUEID-RANDOM.eml",
 * made only of [A-Za-z0-9.-], so no name can escape the directory.
 */
#ifndef OPTIN_QUARANTINE_H
#define OPTIN_QUARANTINE_H

#include <stddef.h>
#include <stdbool.h>
#include <sys/uio.h>

#define QUARANTINE_NAME_MAX 96

/*
 * Write the pieces iov[0..iovcnt-1] (the message: headers, blank line, body)
 * durably into dir.  queue_id goes into the name (cleaned).  The final name
 * (relative to dir) is written to name_r.  Returns 0, or -1 with why[].
 */
int quarantine_write(const char *dir, const char *queue_id,
	    const struct iovec *iov, int iovcnt, char name_r[QUARANTINE_NAME_MAX],
	    char *why, size_t whylen);

/* Is name a valid spool name (no '/', no "..", only the allowed bytes)? */
bool quarantine_name_ok(const char *name);

/*
 * Remove spool file name (a name quarantine_write gave) from dir, when no
 * row names it: the rows were rolled back, or all of them existed already.
 * A file already gone is fine.  Returns 0, or -1 with why[] (bad name,
 * unlink error).
 */
int quarantine_remove(const char *dir, const char *name, char *why,
	    size_t whylen);

/*
 * The reasons a quarantine row can carry, the one list of them: the
 * consent reasons that block (consent_reason_str(): suppressed, opted_out,
 * pending, no_consent), then the milter's own (resubmit_failed, ...).
 * quarantine_reason(i) is the i-th word (static), NULL past the last;
 * quarantine_reason_ok() says whether word is one of them (exact case).
 */
const char *quarantine_reason(size_t i);
bool quarantine_reason_ok(const char *word);
/* Temp files: the spool write's, and the rewrite's of quarantine_scrub. */
#define QUARANTINE_TMP_PREFIX	".tmp-"

/* What quarantine_scrub() writes where an erased address stood: an
 * address that can never be delivered (RFC 2606 ".invalid"). */
#define QUARANTINE_ERASED	"erased@invalid"

/*
 * Does the file name of the directory dir (an open descriptor) hold one of
 * forms[0..nforms-1] (addresses, e.g. the A-label and U-label forms of
 * one) as a whole address?  Compared without regard to ASCII case; "whole"
 * means that the bytes around it cannot continue an address (so that
 * ann@example.com is not found in joann@example.com or
 * ann@example.com.evil).  The file is read as it is stored: an address in a
 * base64 or quoted-printable encoded body part is not found (XXX).  1 yes,
 * 0 no, -1 with why[] (not a regular file, unreadable).
 */
int quarantine_holds(int dfd, const char *name, const char *const *forms,
	    size_t nforms, char *why, size_t whylen);

/*
 * Rewrite the spool file name of dir without the person of forms (as
 * quarantine_holds() finds them): every occurrence, in headers and body,
 * becomes QUARANTINE_ERASED; everything else stays byte for byte.  Durable
 * as quarantine_write(): a temp file in dir, fsync, renamed over the
 * original, the directory fsync'd; mode 0600, the original's owner (when
 * run as root) and modification time are kept.  *changed_r is false when
 * the file holds none of forms (then it is not touched).  0, or -1 with
 * why[] (the original is left as it was).
 */
int quarantine_scrub(const char *dir, const char *name,
	    const char *const *forms, size_t nforms, bool *changed_r,
	    char *why, size_t whylen);

#endif
