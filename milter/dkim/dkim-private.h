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

#include "config.h"		/* SIGALG_* */

struct dkey {
	char *name;		/* owned: KeyTable name, or the config key */
	char *path;		/* owned: key file */
	char *domain;		/* owned: d= */
	char *selector;		/* owned: s= */
	unsigned int bit;	/* SIGALG_RSA or SIGALG_ED25519 */
	unsigned char *pem;	/* owned, secret: PKCS#8 PEM, NUL-terminated */
	size_t pemlen;
	char *txt;		/* owned: DNS TXT record text */
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

#endif
