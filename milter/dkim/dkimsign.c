/*
 * dkimsign.c - DKIM signing with libopendkim (RFC 6376; Ed25519 RFC 8463);
 * contract in dkimsign.h.  Keys and tables are loaded by dkimkey.c; the
 * two files are the only ones that include <dkim.h> (via dkim-private.h).
 *
 * Keys are kept as unencrypted PKCS#8 PEM: libopendkim's dkim_sign() takes
 * a key that starts with "-----" as PEM and anything else as DER (base64
 * DER only when it starts "MII", which an Ed25519 key never does), so PEM is
 * the one form that works for both key types.  One DKIM_LIB per signer
 * carries the lists of signed and oversigned headers (DKIM_OPTS_SIGNHDRS,
 * DKIM_OPTS_OVERSIGNHDRS).
 *
 * Key selection: Domain/Selector/KeyFile (plus KeyFileEd25519 and
 * SelectorEd25519 for "both"), or OpenDKIM-compatible KeyTable and
 * SigningTable files (forms in dkimkey.c).  With SigningAlgorithm both, the
 * first matching RSA key and the first matching Ed25519 key each give a
 * signature (OpenDKIM MultipleSignatures).
 *
 * XXX libopendkim 2.11.0~beta2 (Debian 12) does not free the OpenSSL key
 * nor the 64-byte signature buffer of an Ed25519 signing handle in
 * dkim_free() (upstream OpenDKIM issue #30, fixed by PR #321 after that
 * release).  The buffer comes from lib_malloc() with the handle's memory
 * closure, which lists the handle's blocks: what is left after dkim_free()
 * is freed (mem_release).  The key leaks (about 0.5 KB per signature) only
 * when libopendkim parses it itself, that is with the key cache off
 * (dkimsign.h, dkimpkey.c) and once per Ed25519 key in the load probe.
 * rsa-sha256 does not leak.  Valgrind and LSan suppressions:
 * tests/data/dkim/.
 *
 * Threads: read-only after dkimsign_open().  dkimsign_message() makes its
 * own DKIM handles from the shared DKIM_LIB, as the opendkim milter does;
 * the shared header regex is only read (glibc regexec locks internally).
 *
 * Ownership: struct dkimsign owns keys, tables and the DKIM_LIB; key bytes
 * are wiped on free, and libopendkim's own copies of a key (one per DKIM
 * handle) are wiped too by the free function given to dkim_init().
 * Results own their signature strings.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "dkim-private.h"
#include "dkimsign.h"

#define SIG_PREFIX	"DKIM-Signature: "

/* DESIGN "DKIM": signed when present (libopendkim adds From if missing). */
static const char *sign_hdrs[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "List-Id",
	"List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID", "CFBL-Address",
	NULL
};

/* Listed once more than present, so no instance can be added later
 * (RFC 6376 section 8.15; RFC 8058 section 3 for the unsubscribe pair). */
static const char *over_hdrs[] = {
	"From", "List-Unsubscribe", "List-Unsubscribe-Post", NULL
};

/* alg_dkim - the libopendkim constant of a SIGALG_* bit. */
static dkim_alg_t
alg_dkim(unsigned int bit)
{
	return bit == SIGALG_ED25519 ? DKIM_SIGN_ED25519SHA256 :
	    DKIM_SIGN_RSASHA256;
}

/*
 * The blocks libopendkim allocated for one signing handle: the handle's
 * memory closure (dkim_sign's memclosure).  What is still listed after
 * dkim_free() the library leaked (2.11.0~beta2: the 64-byte signature
 * buffer of every Ed25519 handle), and mem_release() frees it.  A block
 * the list has no room for is just not tracked.
 */
struct memtrack {
	void **p;		/* owned array of live blocks */
	size_t n, cap;
};

/* mem_wipe_free - wipe a block (it may hold key material) and free it */
static void
mem_wipe_free(void *p)
{
#ifdef __GLIBC__
	OPENSSL_cleanse(p, malloc_usable_size(p));
#endif
	free(p);
}

/*
 * lib_malloc, lib_free - memory functions for libopendkim.  lib_free wipes
 * each block before freeing it: the library copies the private key into
 * every signing handle and frees it without clearing.  closure: NULL for
 * the library's own blocks, a struct memtrack for a signing handle's.
 */
static void *
lib_malloc(void *closure, size_t n)
{
	struct memtrack *mt = closure;
	void *p, **np;
	size_t cap;

	if ((p = malloc(n)) == NULL || mt == NULL)
		return p;
	if (mt->n == mt->cap) {
		cap = mt->cap == 0 ? 64 : 2 * mt->cap;
		if ((np = realloc(mt->p, cap * sizeof *np)) == NULL)
			return p;	/* untracked: freed by lib_free only */
		mt->p = np;
		mt->cap = cap;
	}
	mt->p[mt->n++] = p;
	return p;
}

static void
lib_free(void *closure, void *p)
{
	struct memtrack *mt = closure;
	size_t i;

	if (p == NULL)
		return;
	/* most blocks are freed last in, first out */
	for (i = mt != NULL ? mt->n : 0; i > 0; i--)
		if (mt->p[i - 1] == p) {
			mt->p[i - 1] = mt->p[--mt->n];
			break;
		}
	mem_wipe_free(p);
}

/* mem_release - after dkim_free(): free what libopendkim left of the
 * handle, and the list. */
static void
mem_release(struct memtrack *mt)
{
	size_t i;

	for (i = 0; i < mt->n; i++)
		mem_wipe_free(mt->p[i]);
	free(mt->p);
	memset(mt, 0, sizeof *mt);
}

/* lib_open - the DKIM_LIB with our flags and header lists.  Returns 0 or
 * -1 with why[] filled. */
static int
lib_open(struct dkimsign *ds, char *why, size_t whylen)
{
	unsigned int flags;

	if ((ds->lib = dkim_init(lib_malloc, lib_free)) == NULL) {
		why_set(why, whylen, "libopendkim: dkim_init failed");
		return -1;
	}
	if ((ds->algs & SIGALG_ED25519) &&
	    !dkim_libfeature(ds->lib, DKIM_FEATURE_ED25519)) {
		why_set(why, whylen, "libopendkim was built without Ed25519");
		return -1;
	}
	if (!dkim_libfeature(ds->lib, DKIM_FEATURE_OVERSIGN)) {
		why_set(why, whylen, "libopendkim was built without "
		    "oversigning");
		return -1;
	}
	flags = 0;
	if (dkim_options(ds->lib, DKIM_OP_GETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof flags) != DKIM_STAT_OK)
		flags = DKIM_LIBFLAGS_DEFAULT;
	/* bare LF in the body becomes CRLF, as it will on the wire */
	flags |= DKIM_LIBFLAGS_FIXCRLF;
	if (dkim_options(ds->lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof flags) != DKIM_STAT_OK ||
	    dkim_options(ds->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS,
	    sign_hdrs, sizeof(char **)) != DKIM_STAT_OK ||
	    dkim_options(ds->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
	    over_hdrs, sizeof(char **)) != DKIM_STAT_OK) {
		why_set(why, whylen, "libopendkim: cannot set signing options");
		return -1;
	}
	return 0;
}

struct dkimsign *
dkimsign_open(const struct config *cfg, char *why, size_t whylen)
{
	return dkimsign_reload(cfg, NULL, why, whylen);
}

struct dkimsign *
dkimsign_reload(const struct config *cfg, const struct dkimsign *prev,
    char *why, size_t whylen)
{
	struct dkimsign *ds;

	if (why != NULL && whylen > 0)
		*why = '\0';
	if (cfg->key_file == NULL && cfg->key_file_ed25519 == NULL &&
	    cfg->key_table == NULL && cfg->signing_table == NULL)
		return NULL;	/* no signing configured */
	if ((ds = calloc(1, sizeof *ds)) == NULL) {
		why_set(why, whylen, "out of memory");
		return NULL;
	}
	ds->prev = prev;
	if (dkimkey_load(ds, cfg, why, whylen) != 0 ||
	    lib_open(ds, why, whylen) != 0 ||
	    dkimpkey_probe(ds, why, whylen) != 0)
		goto fail;
	ds->prev = NULL;
	return ds;
fail:
	dkimsign_free(&ds);
	return NULL;
}

void
dkimsign_free(struct dkimsign **dsp)
{
	struct dkimsign *ds;
	size_t i;

	if (dsp == NULL || (ds = *dsp) == NULL)
		return;
	if (ds->lib != NULL)
		dkim_close(ds->lib);
	for (i = 0; i < ds->nkeys; i++)
		dkimkey_clear(&ds->keys[i]);
	free(ds->keys);
	for (i = 0; i < ds->npats; i++)
		free(ds->pats[i].pat);
	free(ds->pats);
	free(ds);
	*dsp = NULL;
}

/* glob_match - does s match pattern p ('*' = any run), both lower case? */
static bool
glob_match(const char *p, const char *s)
{
	const char *star = NULL, *ss = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			ss = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++ss;
		} else
			return false;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* spat_match - does SigningTable entry sp match addr (lower case; domain
 * points into it after '@', or NULL)? */
static bool
spat_match(const struct spat *sp, const char *addr, const char *domain)
{
	switch (sp->kind) {
	case SPAT_ADDR:
		return strcmp(sp->pat, addr) == 0;
	case SPAT_ANYLOCAL:
	case SPAT_DOMAIN:
		return domain != NULL && strcmp(sp->pat, domain) == 0;
	case SPAT_ANY:
		return true;
	case SPAT_GLOB:
		return glob_match(sp->pat, addr) || (domain != NULL &&
		    strchr(sp->pat, '@') == NULL &&
		    glob_match(sp->pat, domain));
	}
	return false;
}

/*
 * keys_pick - the keys (at most one per algorithm) for a message from
 * from_addr; returns how many were put in pick[].
 */
static size_t
keys_pick(const struct dkimsign *ds, const char *from_addr, size_t pick[2])
{
	static const enum spat_kind order[] = { SPAT_ADDR, SPAT_ANYLOCAL,
		SPAT_DOMAIN, SPAT_ANY };
	char addr[512], *domain;
	unsigned int have = 0, bit;
	size_t n = 0, o, i, len;
	const struct spat *sp;

	if (!ds->tables) {
		for (i = 0; i < ds->nkeys && n < 2; i++)
			pick[n++] = i;
		return n;
	}
	if (from_addr == NULL)
		return 0;
	while (*from_addr == '<' || isspace((unsigned char)*from_addr))
		from_addr++;
	len = strlen(from_addr);
	while (len > 0 && (from_addr[len - 1] == '>' ||
	    isspace((unsigned char)from_addr[len - 1])))
		len--;
	if (len == 0 || len >= sizeof addr)
		return 0;
	memcpy(addr, from_addr, len);
	addr[len] = '\0';
	lower(addr);
	if ((domain = strrchr(addr, '@')) != NULL)
		domain++;
	for (o = 0; o < (ds->refile ? 1 : sizeof order / sizeof order[0]);
	    o++) {
		for (i = 0; i < ds->npats; i++) {
			sp = &ds->pats[i];
			if ((!ds->refile && sp->kind != order[o]) ||
			    !spat_match(sp, addr, domain))
				continue;
			bit = ds->keys[sp->key].bit;
			if ((bit & ds->algs) == 0 || (bit & have) != 0)
				continue;
			have |= bit;
			pick[n++] = sp->key;
			if (have == ds->algs)
				return n;
		}
	}
	return n;
}

/*
 * hdr_build - "Name: value" into *bufp (grown as needed) with every bare
 * LF made CRLF, as libopendkim wants folded headers.  Returns the length or
 * -1 when out of memory.
 */
static long
hdr_build(const struct dkimsign_hdr *h, char **bufp, size_t *capp)
{
	const char *v = h->value != NULL ? h->value : "";
	size_t need, o, i;
	char *nb, last;

	need = strlen(h->name) + 2 + 2 * strlen(v) + 1;
	if (need > *capp) {
		if ((nb = realloc(*bufp, need)) == NULL)
			return -1;
		*bufp = nb;
		*capp = need;
	}
	o = strlen(h->name);
	memcpy(*bufp, h->name, o);
	(*bufp)[o++] = ':';
	if (*v != ' ' && *v != '\t')
		(*bufp)[o++] = ' ';
	last = '\0';
	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] == '\n' && last != '\r')
			(*bufp)[o++] = '\r';
		(*bufp)[o++] = v[i];
		last = v[i];
	}
	(*bufp)[o] = '\0';
	return (long)o;
}

/* sig_copy - the signature header value from libopendkim with its CRLF
 * folds made "\n" (the milter convention); malloc'd or NULL. */
static char *
sig_copy(const unsigned char *s, size_t len)
{
	char *out;
	size_t i, o = 0;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len && s[i] != '\0'; i++)
		if (s[i] != '\r')
			out[o++] = (char)s[i];
	out[o] = '\0';
	return out;
}

int
dkimsign_message(const struct dkimsign *ds, const char *from_addr,
    const struct dkimsign_hdr *hdrs, size_t nhdrs,
    const unsigned char *body, size_t bodylen,
    struct dkimsign_result *res_r, char *why, size_t whylen)
{
	size_t pick[2], n, i;

	memset(res_r, 0, sizeof *res_r);
	for (i = 0; i < nhdrs; i++)
		if (strcasecmp(hdrs[i].name, "From") == 0)
			break;
	if (i == nhdrs) {
		why_set(why, whylen, "no From header: not signing");
		return -1;
	}
	if ((n = keys_pick(ds, from_addr, pick)) == 0)
		return 0;
	return dkimsign_keys(ds, pick, n, hdrs, nhdrs, body, bodylen, res_r,
	    why, whylen);
}

int
dkimsign_keys(const struct dkimsign *ds, const size_t *pick, size_t n,
    const struct dkimsign_hdr *hdrs, size_t nhdrs,
    const unsigned char *body, size_t bodylen,
    struct dkimsign_result *res_r, char *why, size_t whylen)
{
	DKIM *dk[2] = { NULL, NULL };
	struct memtrack mt[2];
	DKIM_STAT st = DKIM_STAT_OK;
	const struct dkey *k;
	struct dkimsign_sig *sig;
	unsigned char *sh;
	size_t i, j, cap = 0, shlen;
	char *hbuf = NULL;
	const char *step = "";
	_Bool testkey;
	long hlen;
	int rc = -1;

	memset(res_r, 0, sizeof *res_r);
	memset(mt, 0, sizeof mt);
	for (j = 0; j < n; j++) {
		k = &ds->keys[pick[j]];
		dk[j] = dkim_sign(ds->lib, (const unsigned char *)"optin-milter",
		    &mt[j], k->pem, (const unsigned char *)k->selector,
		    (const unsigned char *)k->domain, DKIM_CANON_RELAXED,
		    DKIM_CANON_RELAXED, alg_dkim(k->bit), -1, &st);
		if (dk[j] == NULL) {
			why_set(why, whylen, "dkim_sign d=%s s=%s: %s",
			    k->domain, k->selector, dkim_getresultstr(st));
			goto out;
		}
	}
	for (i = 0; i < nhdrs; i++) {
		if ((hlen = hdr_build(&hdrs[i], &hbuf, &cap)) < 0) {
			why_set(why, whylen, "out of memory");
			goto out;
		}
		for (j = 0; j < n; j++)
			if ((st = dkim_header(dk[j], (unsigned char *)hbuf,
			    (size_t)hlen)) != DKIM_STAT_OK) {
				step = "dkim_header";
				goto liberr;
			}
	}
	for (j = 0; j < n; j++) {
		step = "dkim_eoh";
		if ((st = dkim_eoh(dk[j])) != DKIM_STAT_OK)
			goto liberr;
		/* dkim_body() only reads the buffer */
		step = "dkim_body";
		if (bodylen > 0 && (st = dkim_body(dk[j],
		    (unsigned char *)(uintptr_t)body, bodylen)) !=
		    DKIM_STAT_OK)
			goto liberr;
		/* libopendkim parses the key here: the key cache's moment */
		step = "dkim_eom";
		dkimpkey_enter(ds, &ds->keys[pick[j]]);
		st = dkim_eom(dk[j], &testkey);
		dkimpkey_leave();
		if (st != DKIM_STAT_OK)
			goto liberr;
		step = "dkim_getsighdr_d";
		if ((st = dkim_getsighdr_d(dk[j], strlen(SIG_PREFIX), &sh,
		    &shlen)) != DKIM_STAT_OK)
			goto liberr;
		k = &ds->keys[pick[j]];
		sig = &res_r->sig[j];
		if ((sig->value = sig_copy(sh, shlen)) == NULL) {
			why_set(why, whylen, "out of memory");
			goto out;
		}
		sig->alg = alg_name(k->bit);
		(void)snprintf(sig->domain, sizeof sig->domain, "%s",
		    k->domain);
		(void)snprintf(sig->selector, sizeof sig->selector, "%s",
		    k->selector);
		res_r->n++;
	}
	rc = 1;
	goto out;
liberr:
	{
		const char *e = dkim_geterror(dk[j]);

		why_set(why, whylen, "%s d=%s s=%s: %s%s%s", step,
		    ds->keys[pick[j]].domain, ds->keys[pick[j]].selector,
		    dkim_getresultstr(st), e != NULL ? ": " : "",
		    e != NULL ? e : "");
	}
out:
	for (j = 0; j < 2; j++) {
		if (dk[j] != NULL)
			(void)dkim_free(dk[j]);
		mem_release(&mt[j]);
	}
	free(hbuf);
	if (rc != 1)
		dkimsign_result_free(res_r);
	return rc;
}

void
dkimsign_result_free(struct dkimsign_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < 2; i++) {
		free(res->sig[i].value);
		res->sig[i].value = NULL;
	}
	res->n = 0;
}

/* is_fws - folding white space inside a tag list. */
static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool
dkimsign_covers(const char *sig, const char *name)
{
	const char *p, *t, *te, *v, *ve, *e, *s;
	size_t nlen;

	if (sig == NULL || name == NULL || (nlen = strlen(name)) == 0)
		return false;
	/* RFC 6376 section 3.2: tag-list = tag-spec *( ";" tag-spec ) */
	for (p = sig; *p != '\0'; p = *ve == ';' ? ve + 1 : ve) {
		ve = strchr(p, ';');
		if (ve == NULL)
			ve = p + strlen(p);
		for (t = p; t < ve && is_fws(*t); t++)
			;
		for (te = t; te < ve && *te != '=' && !is_fws(*te); te++)
			;
		for (v = te; v < ve && is_fws(*v); v++)
			;
		if (v == ve || *v != '=' || te - t != 1 || (*t != 'h' &&
		    *t != 'H'))
			continue;
		/* h= value: names separated by ':' with FWS around */
		for (s = v + 1; s < ve; s = e + 1) {
			while (s < ve && is_fws(*s))
				s++;
			for (e = s; e < ve && *e != ':'; e++)
				;
			t = e;
			while (t > s && is_fws(t[-1]))
				t--;
			if ((size_t)(t - s) == nlen &&
			    strncasecmp(s, name, nlen) == 0)
				return true;
			if (e == ve)
				break;
		}
	}
	return false;
}

int
dkimsign_dns_records(const struct dkimsign *ds,
    void (*fn)(const char *name, const char *txt, void *arg),
    void *arg, char *why, size_t whylen)
{
	char name[512];
	size_t i;
	int n;

	for (i = 0; i < ds->nkeys; i++) {
		n = snprintf(name, sizeof name, "%s._domainkey.%s",
		    ds->keys[i].selector, ds->keys[i].domain);
		if (n < 0 || (size_t)n >= sizeof name) {
			why_set(why, whylen, "key %s: record name too long",
			    ds->keys[i].name);
			return -1;
		}
		fn(name, ds->keys[i].txt, arg);
	}
	return 0;
}
