/*
 * dkimkey.c - DKIM keys and OpenDKIM-compatible tables for the signer
 * (dkimsign.h; shared internals in dkim-private.h).
 *
 * Every key file is read through secfile_read() (its ownership rule follows
 * OpenDKIM's dkimf_securefile, see secfile.c), checked (RSA of at least 2048
 * bits, or Ed25519; the type comes from the PEM) and kept re-encoded as
 * unencrypted PKCS#8 PEM (dkimsign.c says why), beside the parsed key and
 * its DER form for the key cache (dkimpkey.c).  optin-milter reads the keys
 * as root before the privilege drop, so it can use OpenDKIM's own keys
 * (Debian: /etc/dkimkeys, owner opendkim, mode 0600) where they are.  On a
 * reload (SIGUSR1, after the drop) such a key can no longer be opened: the
 * key read before is kept, and a warning says that a restart is needed to
 * load a changed key file (key_keep).
 *
 * Supported table forms:
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
 *
 * Threads: start-up and reload only (one thread); the result is read-only.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
#include "secfile.h"

#define KEY_MAXLEN	(64 * 1024)	/* bytes of a PEM key file */
#define RSA_MINBITS	2048		/* DESIGN "DKIM": rsa-sha256 >= 2048 */

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
 * key_keep - on a reload, the key file k->path cannot be opened for lack of
 * permission (why[] says so): take the key that ds->prev read from the same
 * path (as root, at start-up) and log that a restart is needed to change
 * it.  Returns 0, or -1 (why[] untouched) when there is no such key.
 */
static int
key_keep(const struct dkimsign *ds, struct dkey *k, const char *what,
    char *why, size_t whylen)
{
	const struct dkey *old = NULL;
	size_t i;

	for (i = 0; ds->prev != NULL && i < ds->prev->nkeys; i++)
		if (strcmp(ds->prev->keys[i].path, k->path) == 0)
			old = &ds->prev->keys[i];
	if (old == NULL)
		return -1;
	if ((k->pem = malloc(old->pemlen + 1)) == NULL ||
	    (k->der = malloc(old->derlen)) == NULL ||
	    (k->txt = strdup(old->txt)) == NULL ||
	    EVP_PKEY_up_ref(old->pkey) != 1) {
		why_set(why, whylen, "%s %s: out of memory", what,
		    k->path);
		return -1;
	}
	memcpy(k->pem, old->pem, old->pemlen + 1);
	k->pemlen = old->pemlen;
	memcpy(k->der, old->der, old->derlen);
	k->derlen = old->derlen;
	k->pkey = old->pkey;	/* shared, read-only: one more reference */
	k->bit = old->bit;
	log_warnx("%s %s (as uid %u): keeping the key read at start-up; "
	    "restart to load a changed key file", what, why,
	    (unsigned)geteuid());
	return 0;
}

/* key_der - k->der: pkey as unencrypted PKCS#8 DER, the bytes an
 * interposed d2i_PrivateKey_bio() recognises.  Returns 0 or -1. */
static int
key_der(struct dkey *k, EVP_PKEY *pkey)
{
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *p;
	int n;

	if ((p8 = EVP_PKEY2PKCS8(pkey)) == NULL)
		return -1;
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
	if (n > 0 && (k->der = malloc((size_t)n)) != NULL) {
		p = k->der;
		if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) == n)
			k->derlen = (size_t)n;
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	return k->derlen > 0 ? 0 : -1;
}

/*
 * key_load - read k->path, check it and fill k->bit, k->pem, k->der,
 * k->pkey and k->txt.
 * what names the setting for messages ("KeyFile", "KeyTable key 'x'").
 * Returns 0, or -1 with why[] filled.
 */
static int
key_load(const struct dkimsign *ds, struct dkey *k, const char *what,
    char *why, size_t whylen)
{
	EVP_PKEY *pkey = NULL;
	BIO *in = NULL, *out = NULL;
	char *buf = NULL, *pem;
	size_t len = 0;
	long n;
	int bits, rc = -1;

	if ((buf = secfile_read(k->path, KEY_MAXLEN, &len, why, whylen)) ==
	    NULL)
		return errno == EACCES ?
		    key_keep(ds, k, what, why, whylen) : -1;
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
	if (key_der(k, pkey) != 0) {
		why_set(why, whylen, "%s %s: cannot encode the key", what,
		    k->path);
		goto out;
	}
	k->pkey = pkey;		/* kept: the key cache (dkimpkey.c) */
	pkey = NULL;
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

void
dkimkey_clear(struct dkey *k)
{
	if (k->pem != NULL) {
		OPENSSL_cleanse(k->pem, k->pemlen);
		free(k->pem);
	}
	if (k->der != NULL) {
		OPENSSL_cleanse(k->der, k->derlen);
		free(k->der);
	}
	EVP_PKEY_free(k->pkey);
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
		dkimkey_clear(k);
		why_set(why, whylen, "out of memory");
		return -1;
	}
	if (key_load(ds, k, what, why, whylen) != 0) {
		dkimkey_clear(k);
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


int
dkimkey_load(struct dkimsign *ds, const struct config *cfg, char *why,
    size_t whylen)
{
	size_t i;
	bool any;

	ds->algs = cfg->signing_algorithm & SIGALG_BOTH;
	if (ds->algs == 0)
		ds->algs = SIGALG_RSA;
	if (cfg->key_table != NULL || cfg->signing_table != NULL) {
		ds->tables = true;
		if (cfg->key_file != NULL || cfg->key_file_ed25519 != NULL) {
			why_set(why, whylen, "KeyFile and KeyTable exclude each "
			    "other: use one of them");
			return -1;
		}
		if (cfg->key_table == NULL || cfg->signing_table == NULL) {
			why_set(why, whylen, "KeyTable and SigningTable must be "
			    "set together");
			return -1;
		}
		if (keytable_load(ds, cfg->key_table, why, whylen) != 0 ||
		    signtable_load(ds, cfg->signing_table, why, whylen) != 0)
			return -1;
		any = false;
		for (i = 0; i < ds->npats; i++)
			if (ds->keys[ds->pats[i].key].bit & ds->algs)
				any = true;
		if (!any) {
			why_set(why, whylen, "SigningTable %s: no entry names a "
			    "key for SigningAlgorithm %s", cfg->signing_table,
			    ds->algs == SIGALG_BOTH ? "both" :
			    alg_name(ds->algs));
			return -1;
		}
	} else if (single_load(ds, cfg, why, whylen) != 0)
		return -1;
	return 0;
}
