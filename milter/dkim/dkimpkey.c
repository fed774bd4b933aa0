/*
 * dkimpkey.c - the DKIM key cache: libopendkim signs with the key parsed
 * once at load instead of parsing the PEM text again for every signature
 * (what and why: dkimsign.h "Key cache"; internal calls: dkim-private.h).
 *
 * libopendkim 2.11 has no call that takes a parsed key: dkim_eom() gives
 * the key text to OpenSSL's PEM_read_bio_PrivateKey() (or, for DER,
 * d2i_PrivateKey_bio()) through a memory BIO, on the calling thread.  This
 * file defines both functions.  A program that links it (the programs that
 * sign, through dkimsign.o) exports them, so the dynamic linker binds
 * libopendkim's calls to them.  When the calling thread is inside
 * dkimsign_keys()'s dkim_eom() (dkimpkey_enter) and the BIO holds exactly
 * the bytes of that key (compared in constant time), the parsed key is
 * returned; every other call goes on to OpenSSL's own function, found with
 * dlsym(RTLD_NEXT).
 *
 * Ownership: libopendkim frees the key it is handed when it frees the
 * handle (EVP_PKEY_free), so it gets a reference of its own
 * (EVP_PKEY_up_ref).  libopendkim 2.11.0~beta2 never frees an Ed25519 key
 * (upstream issue #30): the probe finds that out per algorithm
 * (ds->libfrees), and such a key is handed out without a new reference,
 * the signer keeping the only one; this is also why the Ed25519 leak of
 * 0.5 KB per signature is gone with the cache.
 *
 * Threads: the cache is the signer's keys, read-only after the probe; a
 * signer in use is kept alive by the milter's runtime reference count
 * (milter/milter/runtime.c), so a reload never frees a key being signed
 * with.  Which key a thread is signing with is thread-local.  OpenSSL
 * keeps the key's RSA blinding (on, as for any key) under its own lock;
 * nothing here turns it off.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "dkim-private.h"
#include "dkimsign.h"
#include "log.h"

typedef EVP_PKEY *pem_read_fn(BIO *, EVP_PKEY **, pem_password_cb *, void *);
typedef EVP_PKEY *d2i_read_fn(BIO *, EVP_PKEY **);

static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static pem_read_fn *real_pem;		/* OpenSSL's, set once */
static d2i_read_fn *real_d2i;
static int probe_idx = -1;		/* EVP_PKEY ex_data: probe marker */
static char probe_marker;

/* the calling thread's signature in progress (dkimpkey_enter) */
static __thread const struct dkimsign *tl_ds;
static __thread const struct dkey *tl_key;
static __thread unsigned long tl_hits;	/* keys handed out */
static __thread unsigned long tl_freed;	/* probe copies libopendkim freed */
static __thread EVP_PKEY *tl_copy;	/* the last probe copy handed out */

/* probe_free - ex_data free callback: a marked probe copy is freed. */
static void
probe_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr != &probe_marker)
		return;
	tl_freed++;
	if (parent == tl_copy)
		tl_copy = NULL;
}

/* real_resolve - find OpenSSL's own functions (pthread_once). */
static void
real_resolve(void)
{
	void *p;

	/* ISO C has no cast from void * to a function pointer: copy it */
	if ((p = dlsym(RTLD_NEXT, "PEM_read_bio_PrivateKey")) != NULL)
		memcpy(&real_pem, &p, sizeof real_pem);
	if ((p = dlsym(RTLD_NEXT, "d2i_PrivateKey_bio")) != NULL)
		memcpy(&real_d2i, &p, sizeof real_d2i);
	probe_idx = EVP_PKEY_get_ex_new_index(0, NULL, NULL, NULL,
	    probe_free);
}

/*
 * cached - the key to hand out for the bytes in bp, or NULL to let OpenSSL
 * parse them.  want/wantlen: the current key's PEM or DER.
 */
static EVP_PKEY *
cached(BIO *bp, const unsigned char *want, size_t wantlen)
{
	const struct dkey *k = tl_key;
	EVP_PKEY *pk;
	char *data;
	long n;

	if (k == NULL || tl_ds == NULL || bp == NULL ||
	    BIO_method_type(bp) != BIO_TYPE_MEM ||
	    (n = BIO_get_mem_data(bp, &data)) <= 0 || (size_t)n != wantlen ||
	    CRYPTO_memcmp(data, want, wantlen) != 0)
		return NULL;
	if (tl_ds->kc == KC_PROBE) {
		/* a marked copy: probe_free() tells when it is freed */
		if ((pk = EVP_PKEY_dup(k->pkey)) == NULL ||
		    EVP_PKEY_set_ex_data(pk, probe_idx, &probe_marker) != 1) {
			EVP_PKEY_free(pk);
			return NULL;
		}
		EVP_PKEY_free(tl_copy);		/* an earlier one kept */
		tl_copy = pk;
	} else {
		pk = k->pkey;
		if ((tl_ds->libfrees & k->bit) && EVP_PKEY_up_ref(pk) != 1)
			return NULL;
	}
	tl_hits++;
	return pk;
}

EVP_PKEY *
PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u)
{
	EVP_PKEY *pk;

	if (x == NULL && cb == NULL && tl_key != NULL &&
	    (pk = cached(bp, tl_key->pem, tl_key->pemlen)) != NULL)
		return pk;
	(void)pthread_once(&real_once, real_resolve);
	if (real_pem == NULL) {
		ERR_raise(ERR_LIB_PEM, ERR_R_UNSUPPORTED);
		return NULL;
	}
	return real_pem(bp, x, cb, u);
}

EVP_PKEY *
d2i_PrivateKey_bio(BIO *bp, EVP_PKEY **a)
{
	EVP_PKEY *pk;

	if (a == NULL && tl_key != NULL &&
	    (pk = cached(bp, tl_key->der, tl_key->derlen)) != NULL)
		return pk;
	(void)pthread_once(&real_once, real_resolve);
	if (real_d2i == NULL) {
		ERR_raise(ERR_LIB_ASN1, ERR_R_UNSUPPORTED);
		return NULL;
	}
	return real_d2i(bp, a);
}

void
dkimpkey_enter(const struct dkimsign *ds, const struct dkey *k)
{
	if (ds->kc == KC_OFF || k->pkey == NULL)
		return;
	tl_ds = ds;
	tl_key = k;
}

void
dkimpkey_leave(void)
{
	tl_ds = NULL;
	tl_key = NULL;
}

unsigned long
dkimpkey_hits(void)
{
	return tl_hits;
}

/*
 * probe_sign - sign the probe message with key ki in mode kc into *sig
 * (malloc'd).  *hit: whether the key came from the cache.  Returns 0 or
 * -1 with why[] filled.
 */
static int
probe_sign(struct dkimsign *ds, size_t ki, enum keycache kc, char **sig,
    bool *hit, char *why, size_t whylen)
{
	struct dkimsign_hdr h[4];
	struct dkimsign_result res;
	static const unsigned char body[] = "key cache probe\r\n";
	char from[300];
	unsigned long before = tl_hits;
	int rc;

	(void)snprintf(from, sizeof from, "<probe@%s>", ds->keys[ki].domain);
	h[0].name = "From";
	h[0].value = from;
	h[1].name = "To";
	h[1].value = from;
	h[2].name = "Subject";
	h[2].value = "optin-milter key cache probe";
	h[3].name = "Date";
	h[3].value = "Sat, 05 Dec 2026 00:00:00 +0000";
	ds->kc = kc;
	rc = dkimsign_keys(ds, &ki, 1, h, 4, body, sizeof body - 1, &res, why,
	    whylen);
	*hit = tl_hits != before;
	if (rc != 1)
		return -1;
	*sig = res.sig[0].value;	/* taken over */
	res.sig[0].value = NULL;
	dkimsign_result_free(&res);
	return 0;
}

/*
 * probe_key - the probe for key ki (dkim-private.h).  Returns 0 when the
 * cache works for it (ds->libfrees updated), 1 when it does not (reason
 * in why[]), -1 when libopendkim cannot sign with it at all.
 */
static int
probe_key(struct dkimsign *ds, size_t ki, char *why, size_t whylen)
{
	const struct dkey *k = &ds->keys[ki];
	char *slow = NULL, *copy = NULL, *fast = NULL;
	unsigned long freed;
	bool hit = false;
	int r, rc = 1;

	if (probe_sign(ds, ki, KC_OFF, &slow, &hit, why, whylen) != 0) {
		rc = -1;
		goto out;
	}
	freed = tl_freed;
	r = probe_sign(ds, ki, KC_PROBE, &copy, &hit, why, whylen);
	if (tl_copy != NULL) {
		/* libopendkim kept its key after dkim_free(): ours to free */
		EVP_PKEY_free(tl_copy);
		tl_copy = NULL;
	} else if (hit && tl_freed != freed)
		ds->libfrees |= k->bit;
	if (r != 0 || !hit) {
		if (!hit)
			why_set(why, whylen, "libopendkim does not call this "
			    "program's PEM_read_bio_PrivateKey (built or linked "
			    "differently)");
		goto out;
	}
	if (probe_sign(ds, ki, KC_ON, &fast, &hit, why, whylen) != 0 || !hit) {
		if (!hit)
			why_set(why, whylen, "the cached key was not used");
		goto out;
	}
	if (strcmp(slow, copy) != 0 || strcmp(slow, fast) != 0) {
		why_set(why, whylen, "a signature made with the cached key "
		    "differs from libopendkim's own");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	free(slow);
	free(copy);
	free(fast);
	return rc;
}

int
dkimpkey_probe(struct dkimsign *ds, char *why, size_t whylen)
{
	const char *env = getenv("OPTIN_DKIM_KEYCACHE");
	uint64_t fixed = 1;		/* any time: the same for all three */
	unsigned int done = 0;
	size_t i;
	int r;

	ds->kc = KC_OFF;
	ds->libfrees = 0;
	if (env != NULL && strcmp(env, "off") == 0) {
		log_info("DKIM key cache: off (OPTIN_DKIM_KEYCACHE=off): the "
		    "key is parsed for every signature");
		return 0;
	}
	(void)pthread_once(&real_once, real_resolve);
	if (real_pem == NULL || real_d2i == NULL || probe_idx < 0) {
		log_warnx("DKIM key cache: off: OpenSSL's key parsers are not "
		    "reachable with dlsym(RTLD_NEXT) (OpenSSL linked "
		    "statically?): the key is parsed for every signature");
		return 0;
	}
	/* one signing time for the three signatures of a probe (t=); the
	 * signer is not shared yet, and 0 gives the clock back */
	if (dkim_options(ds->lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME,
	    &fixed, sizeof fixed) != DKIM_STAT_OK) {
		why_set(why, whylen, "libopendkim: cannot fix the time");
		return -1;
	}
	r = 0;
	for (i = 0; i < ds->nkeys && r == 0; i++) {
		if (done & ds->keys[i].bit)
			continue;	/* one probe per algorithm */
		if ((r = probe_key(ds, i, why, whylen)) > 0)
			log_warnx("DKIM key cache: off (%s probe with %s): %s: "
			    "the key is parsed for every signature",
			    alg_name(ds->keys[i].bit), ds->keys[i].path, why);
		done |= ds->keys[i].bit;
	}
	fixed = 0;
	if (dkim_options(ds->lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME,
	    &fixed, sizeof fixed) != DKIM_STAT_OK) {
		why_set(why, whylen, "libopendkim: cannot unfix the time");
		return -1;
	}
	ds->kc = KC_OFF;
	if (r < 0)
		return -1;
	if (r > 0) {
		why_set(why, whylen, "%s", "");
		return 0;
	}
	ds->kc = KC_ON;
	/* debug: "optin-milter -n" stays silent on a good configuration */
	log_debug("DKIM key cache: on: %zu key%s parsed once (probe: same "
	    "signatures as libopendkim's own parsing; libopendkim releases "
	    "its RSA key: %s, its Ed25519 key: %s)", ds->nkeys,
	    ds->nkeys == 1 ? "" : "s", !(done & SIGALG_RSA) ? "-" :
	    (ds->libfrees & SIGALG_RSA) ? "yes" : "no",
	    !(done & SIGALG_ED25519) ? "-" :
	    (ds->libfrees & SIGALG_ED25519) ? "yes" : "no");
	return 0;
}
