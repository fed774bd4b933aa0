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
 * The reasons a quarantine row can carry, the one list of them: the
 * consent reasons that block (consent_reason_str(): suppressed, opted_out,
 * pending, no_consent), then the milter's own (resubmit_failed, ...).
 * quarantine_reason(i) is the i-th word (static), NULL past the last;
 * quarantine_reason_ok() says whether word is one of them (exact case).
 */
const char *quarantine_reason(size_t i);
bool quarantine_reason_ok(const char *word);

#endif
