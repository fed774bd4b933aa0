/*
 * dkimsign.c - DKIM signing with libopendkim (RFC 6376; Ed25519 RFC 8463);
 * contract in dkimsign.h.  The only file that includes <dkim.h>.
 *
 * dkimsign_open() reads every key once (as root, before privileges are
 * dropped) through secfile_read(), checks it (RSA of at least 2048 bits, or
 * Ed25519; the type comes from the PEM) and keeps it re-encoded as
 * unencrypted PKCS#8 PEM: libopendkim's dkim_sign() takes a key that starts
 * with "-----" as PEM and anything else as DER (base64 DER only when it
 * starts "MII", which an Ed25519 key never does), so PEM is the one form that
 * works for both key types.  One DKIM_LIB per signer carries the lists of
 * signed and oversigned headers (DKIM_OPTS_SIGNHDRS, DKIM_OPTS_OVERSIGNHDRS).
 *
 * Key selection: Domain/Selector/KeyFile (plus KeyFileEd25519 and
 * SelectorEd25519 for "both"), or OpenDKIM-compatible KeyTable and
 * SigningTable files.  Supported table forms:
 *   KeyTable      "name domain:selector:/absolute/path/to/key"
 *   SigningTable  "pattern name"; with "file:" or no prefix the patterns
 *                 "user@domain", "*@domain", "domain" and "*", tried in that
 *                 order of precedence (line order within one form); with
 *                 "refile:" '*' globs matched against the address (and,
 *                 for a pattern without '@', against the domain) in line
 *                 order.
 * XXX not supported: other dataset types (db:, ldap:, ...), inline key data
 * and "%" as domain in KeyTable, OpenDKIM's parent-domain lookups
 * (".example.com") in file: tables.
 * With SigningAlgorithm both, the first matching RSA key and the first
 * matching Ed25519 key each give a signature (OpenDKIM MultipleSignatures).
 *
 * XXX libopendkim 2.11.0~beta2 (Debian 12) does not free the OpenSSL key of
 * an Ed25519 signing handle in dkim_free(): about 0.5 KB stays allocated per
 * ed25519-sha256 signature (upstream OpenDKIM issue #30, fixed by PR #321
 * after that release).  rsa-sha256 does not leak.  Valgrind and LSan
 * suppressions: tests/data/dkim/.
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

#include <dkim.h>

#include "config.h"
#include "dkimsign.h"
#include "secfile.h"

#define KEY_MAXLEN	(64 * 1024)	/* bytes of a PEM key file */
#define RSA_MINBITS	2048		/* DESIGN "DKIM": rsa-sha256 >= 2048 */
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
};

/* why_set - format an error into why[]. */
static void __attribute__((format(printf, 3, 4)))
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
static const char *
alg_name(unsigned int bit)
{
	return bit == SIGALG_ED25519 ? "ed25519-sha256" : "rsa-sha256";
}

/* alg_dkim - the libopendkim constant of a SIGALG_* bit. */
static dkim_alg_t
alg_dkim(unsigned int bit)
{
	return bit == SIGALG_ED25519 ? DKIM_SIGN_ED25519SHA256 :
	    DKIM_SIGN_RSASHA256;
}

/*
 * lib_malloc, lib_free - memory functions for libopendkim.  lib_free wipes
 * each block before freeing it: the library copies the private key into
 * every signing handle and frees it without clearing.
 */
static void *
lib_malloc(void *closure, size_t n)
{
	(void)closure;
	return malloc(n);
}

static void
lib_free(void *closure, void *p)
{
	(void)closure;
	if (p == NULL)
		return;
#ifdef __GLIBC__
	OPENSSL_cleanse(p, malloc_usable_size(p));
#endif
	free(p);
}

/* key_nopass - passphrase callback: encrypted keys are refused instead of
 * prompting on a terminal. */
static int
key_nopass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* b64 - base64 of len bytes, no line breaks; malloc'd or NULL. */
static char *
b64(const unsigned char *p, size_t len)
{
	char *out;

	if (len > INT32_MAX / 2 || (out = malloc(4 * ((len + 2) / 3) + 1)) ==
	    NULL)
		return NULL;
	(void)EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/*
 * key_txt - the DNS TXT record of pkey: "v=DKIM1; k=rsa; p=" with the DER
 * SubjectPublicKeyInfo (as opendkim-genkey writes it), or "k=ed25519" with
 * the raw 32-byte public key (RFC 8463 section 4).  malloc'd or NULL.
 */
static char *
key_txt(EVP_PKEY *pkey, unsigned int bit)
{
	unsigned char raw[64], *der = NULL, *p;
	size_t rawlen = sizeof raw, tlen;
	char *enc = NULL, *txt = NULL;
	int n;

	if (bit == SIGALG_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1)
			return NULL;
		enc = b64(raw, rawlen);
	} else {
		if ((n = i2d_PUBKEY(pkey, NULL)) <= 0 ||
		    (der = malloc((size_t)n)) == NULL)
			return NULL;
		p = der;
		if (i2d_PUBKEY(pkey, &p) == n)
			enc = b64(der, (size_t)n);
		free(der);
	}
	if (enc == NULL)
		return NULL;
	tlen = strlen(enc) + 40;
	if ((txt = malloc(tlen)) != NULL)
		(void)snprintf(txt, tlen, "v=DKIM1; k=%s; p=%s",
		    bit == SIGALG_ED25519 ? "ed25519" : "rsa", enc);
	free(enc);
	return txt;
}

/*
 * key_load - read k->path, check it and fill k->bit, k->pem and k->txt.
 * what names the setting for messages ("KeyFile", "KeyTable key 'x'").
 * Returns 0, or -1 with why[] filled.
 */
static int
key_load(struct dkey *k, const char *what, char *why, size_t whylen)
{
	EVP_PKEY *pkey = NULL;
	BIO *in = NULL, *out = NULL;
	char *buf = NULL, *pem;
	size_t len = 0;
	long n;
	int bits, rc = -1;

	if ((buf = secfile_read(k->path, KEY_MAXLEN, &len, why, whylen)) ==
	    NULL)
		return -1;	/* why names the file */
	if ((in = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		why_set(why, whylen, "%s %s: out of memory", what, k->path);
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(in, NULL, key_nopass, NULL);
	if (pkey == NULL) {
		why_set(why, whylen, "%s %s: no unencrypted PEM private key in "
		    "the file", what, k->path);
		goto out;
	}
	switch (EVP_PKEY_base_id(pkey)) {
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_bits(pkey);
		if (bits < RSA_MINBITS) {
			why_set(why, whylen, "%s %s: RSA key of %d bits is too "
			    "weak, at least %d needed", what, k->path, bits,
			    RSA_MINBITS);
			goto out;
		}
		k->bit = SIGALG_RSA;
		break;
	case EVP_PKEY_ED25519:
		k->bit = SIGALG_ED25519;
		break;
	default:
		why_set(why, whylen, "%s %s: neither an RSA nor an Ed25519 key",
		    what, k->path);
		goto out;
	}
	/* secure-heap BIO: its buffer is cleansed when freed */
	if ((out = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(out, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || (n = BIO_get_mem_data(out, &pem)) <= 0 ||
	    (k->pem = malloc((size_t)n + 1)) == NULL ||
	    (k->txt = key_txt(pkey, k->bit)) == NULL) {
		why_set(why, whylen, "%s %s: cannot encode the key", what,
		    k->path);
		goto out;
	}
	memcpy(k->pem, pem, (size_t)n);
	k->pem[n] = '\0';
	k->pemlen = (size_t)n;
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	BIO_free(out);
	BIO_free(in);
	EVP_PKEY_free(pkey);
	secfile_free(&buf, len);
	return rc;
}

/* key_clear - wipe and free one key's fields. */
static void
key_clear(struct dkey *k)
{
	if (k->pem != NULL) {
		OPENSSL_cleanse(k->pem, k->pemlen);
		free(k->pem);
	}
	free(k->name);
	free(k->path);
	free(k->domain);
	free(k->selector);
	free(k->txt);
	memset(k, 0, sizeof *k);
}

/*
 * key_add - append a key named name (domain, selector, path) and load it.
 * Returns its index, or -1 with why[] filled.
 */
static long
key_add(struct dkimsign *ds, const char *name, const char *domain,
    const char *selector, const char *path, const char *what, char *why,
    size_t whylen)
{
	struct dkey *nk, *k;

	if ((nk = realloc(ds->keys, (ds->nkeys + 1) * sizeof *nk)) == NULL) {
		why_set(why, whylen, "out of memory");
		return -1;
	}
	ds->keys = nk;
	k = &ds->keys[ds->nkeys];
	memset(k, 0, sizeof *k);
	if ((k->name = strdup(name)) == NULL ||
	    (k->domain = strdup(domain)) == NULL ||
	    (k->selector = strdup(selector)) == NULL ||
	    (k->path = strdup(path)) == NULL) {
		key_clear(k);
		why_set(why, whylen, "out of memory");
		return -1;
	}
	if (key_load(k, what, why, whylen) != 0) {
		key_clear(k);
		return -1;
	}
	return (long)ds->nkeys++;
}

/*
 * single_load - keys from Domain/Selector/KeyFile (and KeyFileEd25519,
 * SelectorEd25519 for "both").  Returns 0 or -1 with why[] filled.
 */
static int
single_load(struct dkimsign *ds, const struct config *cfg, char *why,
    size_t whylen)
{
	const char *path[2], *sel[2], *what[2];
	unsigned int want[2];
	size_t n = 0, i;
	long ki;

	if (cfg->domain == NULL || *cfg->domain == '\0') {
		why_set(why, whylen, "signing keys are set but Domain is not");
		return -1;
	}
	if (ds->algs & SIGALG_RSA) {
		path[n] = cfg->key_file;
		sel[n] = cfg->selector;
		what[n] = "KeyFile";
		want[n++] = SIGALG_RSA;
	}
	if (ds->algs & SIGALG_ED25519) {
		if (ds->algs == SIGALG_ED25519 && cfg->key_file != NULL) {
			path[n] = cfg->key_file;
			sel[n] = cfg->selector;
			what[n] = "KeyFile";
		} else {
			path[n] = cfg->key_file_ed25519;
			sel[n] = cfg->selector_ed25519;
			if (sel[n] == NULL && ds->algs == SIGALG_ED25519)
				sel[n] = cfg->selector;
			what[n] = "KeyFileEd25519";
		}
		want[n++] = SIGALG_ED25519;
	}
	for (i = 0; i < n; i++) {
		if (path[i] == NULL || *path[i] == '\0') {
			why_set(why, whylen, "SigningAlgorithm %s needs %s",
			    ds->algs == SIGALG_BOTH ? "both" :
			    alg_name(want[i]), what[i]);
			return -1;
		}
		if (sel[i] == NULL || *sel[i] == '\0') {
			why_set(why, whylen, "%s %s: no selector (%s)", what[i],
			    path[i], strcmp(what[i], "KeyFile") == 0 ?
			    "Selector" : "SelectorEd25519");
			return -1;
		}
	}
	if (n == 2 && strcasecmp(sel[0], sel[1]) == 0) {
		why_set(why, whylen, "Selector and SelectorEd25519 are both "
		    "'%s': each key needs its own DNS record", sel[0]);
		return -1;
	}
	for (i = 0; i < n; i++) {
		ki = key_add(ds, what[i], cfg->domain, sel[i], path[i], what[i],
		    why, whylen);
		if (ki < 0)
			return -1;
		if (ds->keys[ki].bit != want[i]) {
			why_set(why, whylen, "%s %s: holds an %s key, but "
			    "SigningAlgorithm %s needs an %s key here", what[i],
			    path[i], ds->keys[ki].bit == SIGALG_RSA ? "RSA" :
			    "Ed25519", ds->algs == SIGALG_BOTH ? "both" :
			    alg_name(want[i]), want[i] == SIGALG_RSA ? "RSA" :
			    "Ed25519");
			return -1;
		}
	}
	return 0;
}

/*
 * table_path - the file of a table setting: "file:PATH", "PATH", or
 * "refile:PATH" when refile_ok (sets *refile_r).  NULL with why[] filled
 * for other dataset types.
 */
static const char *
table_path(const char *key, const char *spec, bool refile_ok,
    bool *refile_r, char *why, size_t whylen)
{
	const char *colon, *slash;

	*refile_r = false;
	if (strncmp(spec, "file:", 5) == 0)
		return spec + 5;
	if (refile_ok && strncmp(spec, "refile:", 7) == 0) {
		*refile_r = true;
		return spec + 7;
	}
	colon = strchr(spec, ':');
	slash = strchr(spec, '/');
	if (colon != NULL && (slash == NULL || colon < slash)) {
		why_set(why, whylen, "%s %s: table type not supported (use a "
		    "path, file:%s)", key, spec, refile_ok ? " or refile:" :
		    "");
		return NULL;
	}
	return spec;
}

/*
 * table_line - split a table line in place into its first field and the
 * rest (both trimmed; '#' starts a comment).  Returns 0 for a blank line,
 * 1 for a line with fields, -1 when there is a name but no value.
 */
static int
table_line(char *line, char **name_r, char **value_r)
{
	char *p, *e;

	if ((p = strchr(line, '#')) != NULL)
		*p = '\0';
	p = line;
	while (isspace((unsigned char)*p))
		p++;
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (*p == '\0')
		return 0;
	*name_r = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return -1;
	*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	*value_r = p;
	return 1;
}

/* lower - lower-case s in place; returns s. */
static char *
lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* has_space - does s contain white space? */
static bool
has_space(const char *s)
{
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s))
			return true;
	return false;
}

/* key_find - the index of the KeyTable key called name, or ds->nkeys */
static size_t
key_find(const struct dkimsign *ds, const char *name)
{
	size_t i;

	for (i = 0; i < ds->nkeys; i++)
		if (strcmp(ds->keys[i].name, name) == 0)
			break;
	return i;
}

/* One line of a table with fields: r, name and value as table_line()
 * gives them (value unset when r is -1).  0, or -1 with why[] filled. */
typedef int table_line_fn(struct dkimsign *ds, const char *file,
    size_t lineno, int r, char *name, char *value, char *why,
    size_t whylen);

/*
 * table_read - call fn for every line with fields of the table file named
 * by setting key, stopping at the first failure.  Returns 0 or -1 with
 * why[] filled.
 */
static int
table_read(struct dkimsign *ds, const char *key, const char *file,
    table_line_fn *fn, char *why, size_t whylen)
{
	char *line = NULL, *name = NULL, *value = NULL;
	size_t cap = 0, lineno = 0;
	FILE *fp;
	int r, rc = -1;

	if ((fp = fopen(file, "r")) == NULL) {
		why_set(why, whylen, "%s %s: %s", key, file, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, fp) > 0) {
		lineno++;
		if ((r = table_line(line, &name, &value)) == 0)
			continue;
		if (fn(ds, file, lineno, r, name, value, why, whylen) < 0)
			goto out;
	}
	if (ferror(fp)) {
		why_set(why, whylen, "%s %s: read error", key, file);
		goto out;
	}
	rc = 0;
out:
	free(line);
	(void)fclose(fp);
	return rc;
}

/* keytable_line - one KeyTable line "name domain:selector:/path": load the
 * key (table_line_fn) */
static int
keytable_line(struct dkimsign *ds, const char *file, size_t lineno, int r,
    char *name, char *val, char *why, size_t whylen)
{
	char *sel, *path, what[256];

	/* the value is not echoed: it might be inline key data */
	if (r < 0 || has_space(val) ||
	    (sel = strchr(val, ':')) == NULL ||
	    (path = strchr(sel + 1, ':')) == NULL) {
		why_set(why, whylen, "KeyTable %s:%zu: expected "
		    "\"name domain:selector:/path/to/key\"", file, lineno);
		return -1;
	}
	*sel++ = '\0';
	*path++ = '\0';
	if (*val == '\0' || *sel == '\0' || strcmp(val, "%") == 0) {
		why_set(why, whylen, "KeyTable %s:%zu: key '%s' needs a "
		    "domain and a selector (\"%%\" is not supported)", file,
		    lineno, name);
		return -1;
	}
	if (*path != '/') {
		why_set(why, whylen, "KeyTable %s:%zu: key '%s': give the key "
		    "as an absolute file path (inline key data is not "
		    "supported)", file, lineno, name);
		return -1;
	}
	if (key_find(ds, name) < ds->nkeys) {
		why_set(why, whylen, "KeyTable %s:%zu: key '%s' is listed "
		    "twice", file, lineno, name);
		return -1;
	}
	(void)snprintf(what, sizeof what, "KeyTable %s:%zu:", file, lineno);
	return key_add(ds, name, val, sel, path, what, why, whylen) < 0 ?
	    -1 : 0;
}

/*
 * keytable_load - read KeyTable lines "name domain:selector:/path" and load
 * each key.  Returns 0 or -1 with why[] filled.
 */
static int
keytable_load(struct dkimsign *ds, const char *spec, char *why,
    size_t whylen)
{
	const char *file;
	bool refile;

	if ((file = table_path("KeyTable", spec, false, &refile, why,
	    whylen)) == NULL)
		return -1;
	if (table_read(ds, "KeyTable", file, keytable_line, why, whylen) < 0)
		return -1;
	if (ds->nkeys == 0) {
		why_set(why, whylen, "KeyTable %s: no keys", file);
		return -1;
	}
	return 0;
}

/* spat_classify - classify a file: SigningTable pattern (lower case); sets
 * *pat_r to the part to compare.  -1 for unsupported wildcards. */
static int
spat_classify(char *pat, enum spat_kind *kind_r, char **pat_r)
{
	char *at;

	*pat_r = pat;
	if (strcmp(pat, "*") == 0) {
		*kind_r = SPAT_ANY;
		return 0;
	}
	at = strrchr(pat, '@');
	if (strncmp(pat, "*@", 2) == 0 && strchr(pat + 2, '*') == NULL &&
	    strchr(pat + 2, '@') == NULL && pat[2] != '\0') {
		*kind_r = SPAT_ANYLOCAL;
		*pat_r = pat + 2;
		return 0;
	}
	if (strchr(pat, '*') != NULL)
		return -1;
	if (at == NULL) {
		*kind_r = SPAT_DOMAIN;
		return 0;
	}
	if (at == pat || at[1] == '\0')
		return -1;
	*kind_r = SPAT_ADDR;
	return 0;
}

/* signtable_line - one SigningTable line "pattern keyname"
 * (table_line_fn) */
static int
signtable_line(struct dkimsign *ds, const char *file, size_t lineno, int r,
    char *pat, char *kname, char *why, size_t whylen)
{
	enum spat_kind kind;
	struct spat *np;
	char *cmp;
	size_t i;

	if (r < 0 || has_space(kname)) {
		why_set(why, whylen, "SigningTable %s:%zu: expected "
		    "\"pattern keyname\"", file, lineno);
		return -1;
	}
	if ((i = key_find(ds, kname)) == ds->nkeys) {
		why_set(why, whylen, "SigningTable %s:%zu: key name '%s' is "
		    "not in KeyTable", file, lineno, kname);
		return -1;
	}
	lower(pat);
	if (ds->refile) {
		kind = SPAT_GLOB;
		cmp = pat;
	} else if (spat_classify(pat, &kind, &cmp) != 0) {
		why_set(why, whylen, "SigningTable %s:%zu: pattern '%s' not "
		    "supported here (file: tables know user@domain, *@domain, "
		    "domain and *; use refile: for wildcards)", file, lineno,
		    pat);
		return -1;
	}
	if ((np = realloc(ds->pats, (ds->npats + 1) * sizeof *np)) == NULL) {
		why_set(why, whylen, "out of memory");
		return -1;
	}
	ds->pats = np;
	if ((np[ds->npats].pat = strdup(cmp)) == NULL) {
		why_set(why, whylen, "out of memory");
		return -1;
	}
	np[ds->npats].kind = kind;
	np[ds->npats].key = i;
	ds->npats++;
	return 0;
}

/*
 * signtable_load - read SigningTable lines "pattern keyname".  Returns 0 or
 * -1 with why[] filled.
 */
static int
signtable_load(struct dkimsign *ds, const char *spec, char *why,
    size_t whylen)
{
	const char *file;

	if ((file = table_path("SigningTable", spec, true, &ds->refile, why,
	    whylen)) == NULL)
		return -1;
	return table_read(ds, "SigningTable", file, signtable_line, why,
	    whylen);
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
	struct dkimsign *ds;
	size_t i;
	bool any;

	if (why != NULL && whylen > 0)
		*why = '\0';
	if (cfg->key_file == NULL && cfg->key_file_ed25519 == NULL &&
	    cfg->key_table == NULL && cfg->signing_table == NULL)
		return NULL;	/* no signing configured */
	if ((ds = calloc(1, sizeof *ds)) == NULL) {
		why_set(why, whylen, "out of memory");
		return NULL;
	}
	ds->algs = cfg->signing_algorithm & SIGALG_BOTH;
	if (ds->algs == 0)
		ds->algs = SIGALG_RSA;
	if (cfg->key_table != NULL || cfg->signing_table != NULL) {
		ds->tables = true;
		if (cfg->key_file != NULL || cfg->key_file_ed25519 != NULL) {
			why_set(why, whylen, "KeyFile and KeyTable exclude each "
			    "other: use one of them");
			goto fail;
		}
		if (cfg->key_table == NULL || cfg->signing_table == NULL) {
			why_set(why, whylen, "KeyTable and SigningTable must be "
			    "set together");
			goto fail;
		}
		if (keytable_load(ds, cfg->key_table, why, whylen) != 0 ||
		    signtable_load(ds, cfg->signing_table, why, whylen) != 0)
			goto fail;
		any = false;
		for (i = 0; i < ds->npats; i++)
			if (ds->keys[ds->pats[i].key].bit & ds->algs)
				any = true;
		if (!any) {
			why_set(why, whylen, "SigningTable %s: no entry names a "
			    "key for SigningAlgorithm %s", cfg->signing_table,
			    ds->algs == SIGALG_BOTH ? "both" :
			    alg_name(ds->algs));
			goto fail;
		}
	} else if (single_load(ds, cfg, why, whylen) != 0)
		goto fail;
	if (lib_open(ds, why, whylen) != 0)
		goto fail;
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
		key_clear(&ds->keys[i]);
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
	DKIM *dk[2] = { NULL, NULL };
	DKIM_STAT st = DKIM_STAT_OK;
	const struct dkey *k;
	struct dkimsign_sig *sig;
	unsigned char *sh;
	size_t pick[2], n, i, j, cap = 0, shlen;
	char *hbuf = NULL;
	const char *step = "";
	_Bool testkey;
	long hlen;
	int rc = -1;

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
	for (j = 0; j < n; j++) {
		k = &ds->keys[pick[j]];
		dk[j] = dkim_sign(ds->lib, (const unsigned char *)"optin-milter",
		    NULL, k->pem, (const unsigned char *)k->selector,
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
		step = "dkim_eom";
		if ((st = dkim_eom(dk[j], &testkey)) != DKIM_STAT_OK)
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
	for (j = 0; j < 2; j++)
		if (dk[j] != NULL)
			(void)dkim_free(dk[j]);
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
