/*
 * token.h - per-recipient unsubscribe tokens (DESIGN "Unsubscribe headers
 * and tokens"), the MAC of the internal split marker and optin-unsubd's
 * CSRF marks.
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

/*
 * MAC for the internal split marker header: hex HMAC-SHA256 with a key
 * derived from the newest key over data (len bytes) into out (65 bytes).
 * token_mark_check() accepts a MAC from any key of the ring, in constant
 * time.  Return 0 / -1 (token_mark) and true / false (token_mark_check).
 */
int token_mark(const struct token_ring *ring, const void *data, size_t len,
	    char out[65]);
bool token_mark_check(const struct token_ring *ring, const void *data,
	    size_t len, const char *mac);

/*
 * The same for optin-unsubd's CSRF marks on its forms, with a subkey of its
 * own (HKDF-SHA256 of each key, info "optin csrf v1"), so that no mark made
 * for one purpose is ever valid for another.  token_csrf_mark() uses the
 * newest key; token_csrf_check() accepts any key of the ring, in constant
 * time.  Thread-safe.
 * XXX to be folded into the one home for HMAC marks (core/mark.c).
 */
int token_csrf_mark(const struct token_ring *ring, const void *data,
	    size_t len, char out[65]);
bool token_csrf_check(const struct token_ring *ring, const void *data,
	    size_t len, const char *mac);

#endif
