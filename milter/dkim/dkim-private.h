/*
 * dkim-private.h - what dkimsign.c (signing) and dkimkey.c (keys and
 * OpenDKIM tables) share; not for other modules (dkimsign.h is the
 * interface).
 */
#ifndef OPTIN_DKIM_PRIVATE_H
#define OPTIN_DKIM_PRIVATE_H

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <dkim.h>
#include <openssl/evp.h>

#include "config.h"		/* SIGALG_* */
#include "dkimsign.h"

struct dkey {
	char *name;		/* owned: KeyTable name, or the config key */
	char *path;		/* owned: key file */
	char *domain;		/* owned: d= */
	char *selector;		/* owned: s= */
	unsigned int bit;	/* SIGALG_RSA or SIGALG_ED25519 */
	unsigned char *pem;	/* owned, secret: PKCS#8 PEM, NUL-terminated */
	size_t pemlen;
	char *txt;		/* owned: DNS TXT record text */
	EVP_PKEY *pkey;		/* one reference owned: the key parsed at
				 * load, handed to libopendkim (dkimpkey.c) */
	unsigned char *der;	/* owned, secret: the same key as PKCS#8 DER */
	size_t derlen;
};

/* The key cache of a signer (dkimpkey.c). */
enum keycache {
	KC_OFF,			/* libopendkim parses the PEM per signature */
	KC_ON,			/* the parsed key of struct dkey is handed out */
	KC_PROBE		/* start-up probe: a marked copy is handed out */
};

enum spat_kind { SPAT_ADDR, SPAT_ANYLOCAL, SPAT_DOMAIN, SPAT_ANY, SPAT_GLOB };

/* One SigningTable line. */
struct spat {
	enum spat_kind kind;
	char *pat;		/* owned, lower case; SPAT_ANYLOCAL: the domain */
	size_t key;		/* index into dkimsign.keys */
};

struct dkimsign {
	DKIM_LIB *lib;		/* owned; shared by all threads */
	unsigned int algs;	/* SIGALG_* bits wanted */
	struct dkey *keys;	/* owned */
	size_t nkeys;
	struct spat *pats;	/* owned; SigningTable, NULL with a single key */
	size_t npats;
	bool tables;		/* keys chosen through SigningTable */
	bool refile;		/* SigningTable patterns are globs */
	enum keycache kc;	/* set by dkimpkey_probe(), then read-only */
	unsigned int libfrees;	/* SIGALG_* bits: libopendkim releases the
				 * key it was handed (probed) */
	/* borrowed, while dkimsign_reload() loads keys only: the signer in
	 * use, whose keys stand in for files we may no longer read */
	const struct dkimsign *prev;
};

/* why_set - format an error into why[] (NULL or 0 bytes: nothing). */
static inline void __attribute__((format(printf, 3, 4)))
why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* alg_name - the a= word of a SIGALG_* bit. */
static inline const char *
alg_name(unsigned int bit)
{
	return bit == SIGALG_ED25519 ? "ed25519-sha256" : "rsa-sha256";
}

/* lower - lower-case s in place; returns s. */
static inline char *
lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/*
 * Fill ds->algs, ds->keys and ds->pats from cfg (Domain/Selector/KeyFile
 * or KeyTable/SigningTable), reading every key file.  With ds->prev set (a
 * reload), a key file that cannot be opened for lack of permission keeps
 * the key ds->prev read from the same path, with a warning in the log.
 * Returns 0, or -1 with why[] filled; the caller frees ds either way.
 */
int dkimkey_load(struct dkimsign *ds, const struct config *cfg, char *why,
	    size_t whylen);

/* Wipe and free one key's fields. */
void dkimkey_clear(struct dkey *k);

/*
 * Sign with the keys ds->keys[pick[0..n-1]] (n is 1 or 2): the body of
 * dkimsign_message() once the keys are chosen; same result and errors.
 */
int dkimsign_keys(const struct dkimsign *ds, const size_t *pick, size_t n,
	    const struct dkimsign_hdr *hdrs, size_t nhdrs,
	    const unsigned char *body, size_t bodylen,
	    struct dkimsign_result *res_r, char *why, size_t whylen);

/*
 * The key cache (dkimpkey.c; why and how: dkimsign.h "Key cache").
 *
 * dkimpkey_enter(ds, k) tells the calling thread's interposed
 * PEM_read_bio_PrivateKey() and d2i_PrivateKey_bio() that libopendkim is
 * about to parse key k of ds (call it just before dkim_eom());
 * dkimpkey_leave() ends that.  Nothing is handed out unless ds->kc is
 * KC_ON or KC_PROBE and the bytes given are exactly k's.
 */
void dkimpkey_enter(const struct dkimsign *ds, const struct dkey *k);
void dkimpkey_leave(void);

/*
 * The start-up probe: with each algorithm's first key, sign a fixed
 * message through libopendkim's own parser (KC_OFF), through the cache
 * with a marked copy of the key (KC_PROBE: proves the interposer is
 * reached and finds out whether libopendkim releases the key it gets),
 * and through the cache itself (KC_ON); the three signatures must be the
 * same bytes.  Sets ds->kc (KC_ON only when every step held) and
 * ds->libfrees, and logs the outcome (debug when active, a warning with
 * the reason when not).  The environment variable OPTIN_DKIM_KEYCACHE=off
 * skips the probe and leaves the cache off.  Returns 0, or -1 with why[]
 * filled when even libopendkim's own path cannot sign with a key.
 */
int dkimpkey_probe(struct dkimsign *ds, char *why, size_t whylen);

/* How many keys the calling thread was handed from a cache so far (for
 * the probe and the tests). */
unsigned long dkimpkey_hits(void);

#endif
