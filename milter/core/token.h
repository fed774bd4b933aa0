/*
 * token.h - per-recipient unsubscribe tokens (DESIGN "Unsubscribe headers
 * and tokens"), optin-unsubd's CSRF marks, and the key rings of
 * TokenKeyFile and ErasureKeyFile, from which the marks of mark.h take
 * their subkeys.
 *
 * A token names recipient and list without a database lookup and reveals
 * neither: authenticated encryption (OpenSSL EVP AEAD) of (version, key id,
 * issue day, list, address), base64url without padding.  The key ring comes
 * from TokenKeyFile: one key a line, "ID BASE64KEY" (ID 1-255, 32-byte key);
 * the last line issues, all verify.  The file must be mode 0600 or stricter.
 * A loaded ring is read-only and may be shared by threads.
 */
#ifndef OPTIN_TOKEN_H
#define OPTIN_TOKEN_H

#include <stddef.h>
#include <stdbool.h>

#include "mark.h"

struct token_ring;		/* opaque */

/* Longest token token_issue() can produce for a valid address and list,
 * plus the NUL. */
#define TOKEN_MAX 640

enum token_status {
	TOKEN_OK = 0,
	TOKEN_MALFORMED,	/* not base64url, too short or too long */
	TOKEN_UNKNOWN_KEY,	/* key id not in the ring */
	TOKEN_BAD,		/* authentication failed: tampered */
	TOKEN_EXPIRED,		/* valid, but older than the lifetime */
};

struct token_info {
	char addr[321];		/* normalised recipient */
	char list[129];		/* list id */
	unsigned key_id;
	long issue_day;		/* days since the epoch (UTC) */
};

/*
 * Load the key ring from path.  The file must be a regular file of mode
 * 0600 or stricter (else refused).  NULL with why[] filled (file and line)
 * on failure.  Owned; free with token_ring_free().
 */
struct token_ring *token_ring_load(const char *path, char *why, size_t whylen);

/* Free a ring, wiping the keys; accepts NULL, sets *ringp to NULL. */
void token_ring_free(struct token_ring **ringp);

/*
 * Issue a token for (addr, list) on issue_day with the newest key into out
 * (outlen bytes; TOKEN_MAX is enough).  Returns the token length, or -1 with
 * why[] filled (address or list too long, buffer too small, crypto error).
 */
int token_issue(const struct token_ring *ring, const char *addr,
	    const char *list, long issue_day, char *out, size_t outlen,
	    char *why, size_t whylen);

/*
 * Verify token (NUL-terminated).  On TOKEN_OK and TOKEN_EXPIRED *info_r is
 * filled.  Expired: issue_day + lifetime_days < today.  lifetime_days <= 0
 * means no expiry.
 */
enum token_status token_verify(const struct token_ring *ring,
	    const char *token, long today, long lifetime_days,
	    struct token_info *info_r);

/* "ok", "malformed", "unknown_key", "bad", "expired". */
const char *token_status_str(enum token_status s);

/* Days since the epoch for time t (UTC). */
long token_day(long long t);

/* The number of keys of ring (0 for NULL). */
size_t token_ring_size(const struct token_ring *ring);

/*
 * The mark subkey of purpose p (MARK_KEY_LEN octets, mark_derive()) of key
 * i of ring: 0 is the first key of the file, token_ring_size() - 1 the
 * last, the one that issues.  *id_r (may be NULL) gets the key's id.
 * Borrowed from ring; NULL when i or p is out of range.  For mark.c.
 */
const unsigned char *token_ring_mark_key(const struct token_ring *ring,
	    size_t i, enum mark_purpose p, unsigned *id_r);

#endif
