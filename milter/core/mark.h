/*
 * mark.h - keyed marks: the one home of every MAC the programs make apart
 * from the token's own AEAD (DESIGN "Consent model", "Message flow").
 *
 * Each purpose has its own subkey, HKDF-SHA256 (RFC 5869) of a key with
 * the purpose's own info label (mark_label()), so a MAC made for one
 * purpose never verifies, and never looks up, as another (issue 10, 0c:
 * the kept form of an erased "address" must never be a release marker):
 *
 *	MARK_ERASURE	the kept form of an erased address (optinctl
 *			forget); key: ErasureKeyFile, which does not rotate
 *			with the token keys
 *	MARK_RELEASE	X-Optin-Release, a copy an admin released from
 *			quarantine; key: TokenKeyFile
 *	MARK_SPLIT	X-Optin-Split, a copy made by the split; TokenKeyFile
 *	MARK_LOG	the address hash of "LogAddresses hash"; TokenKeyFile
 *	MARK_LEGACY	before ErasureKeyFile, one subkey ("optin split
 *			mark") served the split marker, the erased form and
 *			the log hash.  Only used to find erased forms made
 *			then ("hmac:HEX"); never to make or accept a marker.
 *	MARK_CSRF	optin-unsubd's form marks (same-origin forms that
 *			change consent); key: TokenKeyFile
 *	MARK_HANDOVER	the key of a message that is stable across the MTA's
 *			retries (handover.h: who already got a split copy,
 *			who is already in quarantine); TokenKeyFile
 *
 * Both key files have the TokenKeyFile format and are loaded with
 * token_ring_load(): the last key makes a mark, every key verifies one.
 *
 * The release and split markers bind one message (mark_msg): its queue id
 * and quarantine row, envelope sender, recipient, list, Message-ID, a
 * SHA-256 of its body, and a time of issue and expiry, so that a marker
 * cannot be replayed on another message or after it expired.
 *
 * Comparisons are constant time (CRYPTO_memcmp).  Thread-safe: no state;
 * rings are read-only.
 */
#ifndef OPTIN_MARK_H
#define OPTIN_MARK_H

#include <stdbool.h>
#include <stddef.h>

struct token_ring;

enum mark_purpose {
	MARK_ERASURE = 0,
	MARK_RELEASE,
	MARK_SPLIT,
	MARK_LOG,
	MARK_LEGACY,
	MARK_CSRF,
	MARK_HANDOVER,
	MARK_NPURPOSES
};

#define MARK_KEY_LEN	32		/* subkey and input key, octets */
#define MARK_HEX_MAX	65		/* 64 hex digits and the NUL */

/* The HKDF info label of purpose p (static string). */
const char *mark_label(enum mark_purpose p);

/*
 * out = HKDF-SHA256(key of keylen octets, no salt, info), MARK_KEY_LEN
 * octets (RFC 5869; OpenSSL EVP_KDF "HKDF").  0 / -1.
 */
int mark_hkdf(const unsigned char *key, size_t keylen, const char *info,
	    unsigned char out[MARK_KEY_LEN]);

/* The subkey of purpose p of key (MARK_KEY_LEN octets) into sub; 0 / -1. */
int mark_derive(const unsigned char *key, enum mark_purpose p,
	    unsigned char sub[MARK_KEY_LEN]);

/*
 * Hex HMAC-SHA256 of purpose p over data (len octets) with the newest key
 * of ring into out.  MARK_ERASURE and MARK_LEGACY are refused here (they
 * have mark_erased()).  0 / -1 (NULL or empty ring, crypto error).
 */
int mark_make(const struct token_ring *ring, enum mark_purpose p,
	    const void *data, size_t len, char out[MARK_HEX_MAX]);

/* Does mac (64 hex digits) verify as mark_make(p, data) with any key of
 * ring?  Every key is tried, in constant time each. */
bool mark_check(const struct token_ring *ring, enum mark_purpose p,
	    const void *data, size_t len, const char *mac);

/*
 * Erased forms.  What optinctl forget keeps of an address (the address of
 * the "erased" suppression and event):
 *	"erased:" ID ":" 64 hex		HMAC(MARK_ERASURE subkey of the
 *					ErasureKeyFile key with that ID, addr)
 *	"hmac:" 64 hex			legacy: HMAC(MARK_LEGACY subkey of
 *					some TokenKeyFile key, addr)
 */
#define MARK_ERASED_PREFIX	"erased:"
#define MARK_LEGACY_PREFIX	"hmac:"
#define MARK_ERASED_MAX		80	/* "erased:255:" + 64 hex + NUL */

/*
 * The erased form of the normalised addr with key i of ring (0: first
 * line of the file ... token_ring_size() - 1: the last, which forget uses)
 * into out: with legacy false the current form from an ErasureKeyFile
 * ring, with legacy true the legacy form from a TokenKeyFile ring.
 * 0 / -1 (i out of range, crypto error).
 */
int mark_erased(const struct token_ring *ring, size_t i, bool legacy,
	    const char *addr, char out[MARK_ERASED_MAX]);

/* Release and split markers. */
#define MARK_QID_MAX		31	/* queue id: 1-31 of [A-Za-z0-9._-] */
#define MARK_LIST_MAX		64
#define MARK_RELEASE_LIFETIME	3600	/* seconds a release marker holds */
#define MARK_SPLIT_LIFETIME	3600	/* ... and a split marker */
#define MARK_LIFETIME_MAX	86400	/* longest accepted expires - issued */
#define MARK_CLOCK_SKEW		300	/* issued this far ahead is accepted */
#define MARK_VALUE_MAX		300	/* longest header value, with NUL */

/* What a release or split marker binds. */
struct mark_msg {
	/* carried in the header value (authenticated) */
	char qid[MARK_QID_MAX + 1];	/* queue id of the message marked */
	long long qrow;			/* quarantine row (release); 0 */
	char list[MARK_LIST_MAX + 1];
	long long issued, expires;	/* seconds since the epoch */
	/* taken from the message that carries it (borrowed) */
	const char *sender;		/* normalised envelope sender; NULL
					   or "" for <> */
	const char *rcpt;		/* normalised, the only recipient */
	const char *message_id;		/* Message-ID value; NULL: none */
	const void *body;		/* the body as the milter sees it */
	size_t bodylen;
};

enum mark_status {
	MARK_OK = 0,
	MARK_MALFORMED,		/* not "v=2; q=...; ...; mac=HEX" */
	MARK_BAD,		/* MAC fails: another message, purpose or key;
				   or issued in the future */
	MARK_EXPIRED,		/* valid for this message, but too late */
};

/* "ok", "malformed", "bad", "expired". */
const char *mark_status_str(enum mark_status s);

/*
 * The header value of a marker of purpose p (MARK_RELEASE or MARK_SPLIT)
 * for m into out (MARK_VALUE_MAX is enough):
 *	"v=2; q=QID; id=ROW; t=ISSUED; x=EXPIRES; list=LIST; mac=HEX"
 * Returns the length, or -1 with why[] filled (bad queue id or list,
 * expires not after issued, no key, buffer too small).
 */
int mark_msg_make(const struct token_ring *ring, enum mark_purpose p,
	    const struct mark_msg *m, char *out, size_t outlen, char *why,
	    size_t whylen);

/*
 * Verify the header value of a marker of purpose p against the message
 * described by m (sender, rcpt, message_id, body set by the caller) at
 * time now.  The fields carried in the value are written to m (also when
 * the result is not MARK_OK, as far as parsed).  The time is checked only
 * after the MAC: MARK_EXPIRED when now > expires.
 */
enum mark_status mark_msg_verify(const struct token_ring *ring,
	    enum mark_purpose p, const char *value, struct mark_msg *m,
	    long long now);

#endif
