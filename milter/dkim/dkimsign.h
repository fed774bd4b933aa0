/*
 * dkimsign.h - DKIM signing with libopendkim (RFC 6376; Ed25519 RFC 8463).
 * The only module that includes <dkim.h>.
 *
 * relaxed/relaxed, rsa-sha256 and/or ed25519-sha256, no l=.  Signed headers
 * (DESIGN "DKIM"): From, To, Cc, Subject, Date, Message-ID, Reply-To,
 * MIME-Version, Content-Type, Content-Transfer-Encoding, List-Id,
 * List-Unsubscribe, List-Unsubscribe-Post, Feedback-ID, CFBL-Address (RFC
 * 9477 section 3.2 wants it signed); From and both
 * List-Unsubscribe headers oversigned.  Keys come from Domain/Selector/KeyFile
 * (one key; KeyFileEd25519/SelectorEd25519 for the second of "both") or from
 * OpenDKIM-compatible KeyTable/SigningTable.  Keys are read at start-up (as
 * root, before the privilege drop) and again at each reload.
 *
 * Key cache (dkimpkey.c).  libopendkim 2.11 takes the key as text and
 * parses it again inside dkim_eom() for every signature (OpenSSL 3's
 * decoder, then RSA blinding set up for the fresh key): about two thirds of
 * the signing time.  It has no call that takes a parsed key, so the
 * programs that link dkimsign.o define OpenSSL's PEM_read_bio_PrivateKey()
 * and d2i_PrivateKey_bio() themselves, which the dynamic linker binds
 * libopendkim's calls to.  While dkimsign_message() is in dkim_eom() on a
 * thread, and the bytes to parse are exactly the key being signed with
 * (compared in constant time), they return the key parsed by
 * dkimsign_open() with a reference for libopendkim (EVP_PKEY_up_ref);
 * every other call, and every call outside signing, goes to OpenSSL's own
 * function (dlsym(RTLD_NEXT)).  canonicalisation, the header list and the
 * signature are still libopendkim's; RSA blinding stays on (OpenSSL's
 * default, shared by the threads under OpenSSL's lock).  dkimsign_open()
 * and dkimsign_reload() probe it: signatures through the cache must be the
 * same bytes as libopendkim's own parsing; the log says "DKIM key cache:
 * on" (debug) or, as a warning with the reason, "off" (libopendkim built
 * or linked so that it does not reach our functions, a static OpenSSL),
 * and then every signature is made as before.  OPTIN_DKIM_KEYCACHE=off in the environment
 * turns it off.  The probe also finds out whether libopendkim releases the
 * key it is handed (2.11.0~beta2 never releases an Ed25519 key: such a key
 * gets no extra reference, and its leak of 0.5 KB per signature is gone;
 * the 64-byte buffer it also leaks per Ed25519 signature is freed by
 * dkimsign.c after dkim_free()).
 *
 * Threads: a signer is read-only after dkimsign_open() and may be shared;
 * dkimsign_message() is thread-safe.  A signer must outlive the signatures
 * made with it (the milter's runtime reference count sees to that across
 * a reload): its parsed keys are lent to libopendkim during each one.
 */
#ifndef OPTIN_DKIMSIGN_H
#define OPTIN_DKIMSIGN_H

#include <stddef.h>
#include <stdbool.h>

struct config;
struct dkimsign;		/* opaque */

/* One header field as it will be delivered: name and value without the
 * colon; value as libmilter gives it (leading space optional). */
struct dkimsign_hdr {
	const char *name;
	const char *value;
};

/* A signature produced: the DKIM-Signature value (owned by the result) and
 * what the log line needs. */
struct dkimsign_sig {
	char *value;		/* owned: header value, folded with "\n\t" */
	const char *alg;	/* static: "rsa-sha256" or "ed25519-sha256" */
	char domain[256];	/* d= */
	char selector[64];	/* s= */
};

struct dkimsign_result {
	size_t n;			/* 0, 1 or 2 signatures */
	struct dkimsign_sig sig[2];
};

/*
 * Load keys and tables named by cfg and probe the key cache (above).  A
 * key file that is missing, unreadable, of a wrong type, or readable by
 * group or others is an error (why[] names the file), and so is a key
 * libopendkim cannot sign a probe message with.  Returns NULL without error (*why == 0) when no
 * signing is configured.  Owned; free with dkimsign_free().
 */
struct dkimsign *dkimsign_open(const struct config *cfg, char *why,
	    size_t whylen);

/*
 * Reload (optin-milter, SIGUSR1): as dkimsign_open(), except that a key file
 * that can no longer be opened for lack of permission (EACCES: it was read
 * as root at start-up, we run as UserID now) keeps the key that prev read
 * from the same path, and a warning in the log says that a restart is
 * needed to load a changed key.  prev (the signer in use; may be NULL) is
 * only read, during the call.
 */
struct dkimsign *dkimsign_reload(const struct config *cfg,
	    const struct dkimsign *prev, char *why, size_t whylen);

/* Free; accepts NULL, sets *dsp to NULL. */
void dkimsign_free(struct dkimsign **dsp);

/*
 * Sign a message.  from_domain selects the key (SigningTable is matched
 * against the From address, from_addr; with a single key the key's Domain
 * is used when from_domain is NULL or matches nothing).  hdrs[0..nhdrs-1] is
 * the final header list in order; body/bodylen the body as it will be sent
 * (CRLF line ends).  Fills *res_r (free with dkimsign_result_free).
 * Returns 1 signed, 0 no key for this From (nothing to do), -1 error with
 * why[] filled (no From header, library error).
 */
int dkimsign_message(const struct dkimsign *ds, const char *from_addr,
	    const struct dkimsign_hdr *hdrs, size_t nhdrs,
	    const unsigned char *body, size_t bodylen,
	    struct dkimsign_result *res_r, char *why, size_t whylen);

void dkimsign_result_free(struct dkimsign_result *res);

/*
 * Does the signature value sig list header name (case-insensitive) in h=?
 * Used at end of message: RFC 8058 section 3 needs both List-Unsubscribe
 * headers covered.
 */
bool dkimsign_covers(const char *sig, const char *name);

/* The DNS TXT record (value) to publish for each loaded key: calls fn with
 * "selector._domainkey.domain", the record text and arg. */
int dkimsign_dns_records(const struct dkimsign *ds,
	    void (*fn)(const char *name, const char *txt, void *arg),
	    void *arg, char *why, size_t whylen);

#endif
