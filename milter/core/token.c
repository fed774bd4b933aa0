/*
 * token.c - per-recipient unsubscribe tokens and the key rings they and the
 * marks come from (DESIGN "Unsubscribe headers and tokens"; contract in
 * token.h; the marks themselves are in mark.c).
 *
 * Construction (deterministic authenticated encryption with a synthetic IV,
 * so that a repeated nonce can only come from a repeated message):
 *
 *	subkeys	enc, iv = HKDF-SHA256(key, info "optin token enc",
 *		"optin token iv"), 32 bytes each; one more per mark purpose
 *		(mark_derive(), mark.h)
 *	header	version (1) || key id			(clear, AAD)
 *	plain	issue day (uint16, big-endian) || list length (1 byte) ||
 *		list || address
 *	nonce	first 12 bytes of HMAC-SHA256(iv, header || plain)
 *	token	base64url-nopad(header || nonce || AES-256-GCM(enc, nonce,
 *		AAD header, plain) || 16-byte tag)
 *
 * A 254-octet address and a 64-octet list give a 468-character token; the
 * longest plain text that fits TOKEN_MAX is 449 bytes (list + address at most
 * 446 octets).  Verification decodes strictly (no padding, no characters
 * outside the alphabet, canonical trailing bits), finds the key, decrypts and
 * authenticates, and then recomputes the synthetic nonce (CRYPTO_memcmp).
 *
 * Threads: a loaded ring is read-only; every call uses its own EVP contexts.
 * Ownership: the ring owns its subkeys and wipes them in token_ring_free().
 * The raw keys from the file are wiped as soon as the subkeys are derived.
 */
#include "autoconf.h"

#include "token.h"
#include "mark.h"
#include "secfile.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#define TOKEN_VERSION	1
#define KEY_LEN		32
#define HDR_LEN		2		/* version, key id */
#define NONCE_LEN	12
#define TAG_LEN		16
#define DAY_LEN		2
#define LIST_MAXLEN	(sizeof(((struct token_info *)0)->list) - 1)
#define ADDR_MAXLEN	(sizeof(((struct token_info *)0)->addr) - 1)
/* longest raw token whose base64url form fits TOKEN_MAX with its NUL */
#define RAW_MAX		(((TOKEN_MAX - 1) / 4) * 3 + ((TOKEN_MAX - 1) % 4 == 3 ? \
			    2 : (TOKEN_MAX - 1) % 4 == 2 ? 1 : 0))
#define PLAIN_MAX	(RAW_MAX - HDR_LEN - NONCE_LEN - TAG_LEN)
/* one-octet list, one-octet address */
#define PLAIN_MIN	(DAY_LEN + 1 + 1 + 1)
#define RAW_MIN		(HDR_LEN + NONCE_LEN + PLAIN_MIN + TAG_LEN)
#define KEYFILE_MAX	65536

struct token_key {
	unsigned id;				/* 1-255 */
	unsigned char enc[KEY_LEN];		/* AEAD subkey */
	unsigned char iv[KEY_LEN];		/* synthetic nonce subkey */
	unsigned char mark[MARK_NPURPOSES][KEY_LEN]; /* mark subkeys */
	/* keyed once in derive(), copied per token (owned; read-only after
	 * the load, so any thread may copy them): OpenSSL 3 fetches the
	 * algorithm and expands the key on every one-shot call */
	EVP_MAC_CTX *nonce_mac;			/* HMAC-SHA256 keyed with iv */
	EVP_CIPHER_CTX *aead;			/* AES-256-GCM keyed with enc */
};

struct token_ring {
	size_t n;				/* >= 1 */
	struct token_key *keys;			/* owned; keys[n-1] issues */
	unsigned char idx[256];			/* id -> index + 1, 0: none */
};

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_value - value of c in alphabet abc (64 characters), or -1 */
static int
b64_value(const char *abc, unsigned char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = memchr(abc, c, 64);
	return p == NULL ? -1 : (int)(p - abc);
}

/*
 * b64_decode - decode inlen characters of unpadded base64 in alphabet abc
 * into out (at most outmax bytes).  Strict: every character in the
 * alphabet, no '=', a length that is not 1 mod 4, and zero unused bits in
 * the last character (one encoding per byte string).  Returns the decoded
 * length or -1.
 */
static long
b64_decode(const char *abc, const char *in, size_t inlen, unsigned char *out,
    size_t outmax)
{
	size_t i, o, need;
	unsigned long acc;
	int v, bits;

	if (inlen % 4 == 1)
		return -1;
	need = inlen / 4 * 3 + (inlen % 4 == 0 ? 0 : inlen % 4 - 1);
	if (need > outmax)
		return -1;
	acc = 0;
	bits = 0;
	o = 0;
	for (i = 0; i < inlen; i++) {
		if ((v = b64_value(abc, (unsigned char)in[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	if (acc != 0)			/* non-canonical trailing bits */
		return -1;
	return (long)o;
}

/* b64url_encode - unpadded base64url of in into out (room checked by the
 * caller: 4 * inlen / 3 rounded up, plus NUL); returns the length */
static size_t
b64url_encode(const unsigned char *in, size_t inlen, char *out)
{
	size_t i, o;
	unsigned long acc;

	o = 0;
	for (i = 0; i + 3 <= inlen; i += 3) {
		acc = ((unsigned long)in[i] << 16) |
		    ((unsigned long)in[i + 1] << 8) | in[i + 2];
		out[o++] = b64url[(acc >> 18) & 63];
		out[o++] = b64url[(acc >> 12) & 63];
		out[o++] = b64url[(acc >> 6) & 63];
		out[o++] = b64url[acc & 63];
	}
	if (inlen - i == 1) {
		acc = (unsigned long)in[i] << 16;
		out[o++] = b64url[(acc >> 18) & 63];
		out[o++] = b64url[(acc >> 12) & 63];
	} else if (inlen - i == 2) {
		acc = ((unsigned long)in[i] << 16) |
		    ((unsigned long)in[i + 1] << 8);
		out[o++] = b64url[(acc >> 18) & 63];
		out[o++] = b64url[(acc >> 12) & 63];
		out[o++] = b64url[(acc >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* b64url_len - encoded length of n bytes without padding */
static size_t
b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* The algorithms, fetched once per process (never freed: they live as
 * long as OpenSSL's default library context). */
static EVP_MAC *alg_hmac;
static EVP_CIPHER *alg_gcm;
static pthread_once_t alg_once = PTHREAD_ONCE_INIT;

static void
alg_fetch(void)
{
	alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	alg_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

/* synth_nonce - nonce = HMAC-SHA256(k->iv, msg)[0..11]; 0 / -1 */
static int
synth_nonce(const struct token_key *k, const unsigned char *msg, size_t len,
    unsigned char nonce[NONCE_LEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	EVP_MAC_CTX *ctx;
	size_t maclen = 0;
	int rc = -1;

	if ((ctx = EVP_MAC_CTX_dup(k->nonce_mac)) == NULL)
		return -1;
	if (EVP_MAC_update(ctx, msg, len) == 1 &&
	    EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 &&
	    maclen >= NONCE_LEN) {
		memcpy(nonce, mac, NONCE_LEN);
		rc = 0;
	}
	EVP_MAC_CTX_free(ctx);
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/*
 * aead_run - AES-256-GCM over len bytes of in into out with key k->enc and
 * nonce, aad authenticated: with enc, encrypt and write the tag; without,
 * decrypt and check the tag (read).  0 / -1.
 */
static int
aead_run(const struct token_key *k, int enc, const unsigned char *nonce,
    const unsigned char *aad, size_t aadlen, const unsigned char *in,
    size_t len, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx;
	int outl, rc;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	rc = -1;
	if (EVP_CIPHER_CTX_copy(ctx, k->aead) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1 ||
	    EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1 ||
	    (size_t)outl != len ||
	    (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    tag) != 1) ||
	    EVP_CipherFinal_ex(ctx, out + outl, &outl) != 1 ||
	    (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    tag) != 1))
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* aead_seal - ct||tag = AES-256-GCM(k->enc, nonce, aad, pt); 0 / -1 */
static int
aead_seal(const struct token_key *k, const unsigned char *nonce,
    const unsigned char *aad, size_t aadlen, const unsigned char *pt,
    size_t ptlen, unsigned char *ct, unsigned char *tag)
{
	return aead_run(k, 1, nonce, aad, aadlen, pt, ptlen, ct, tag);
}

/* aead_open - pt = AES-256-GCM-decrypt(...) if the tag verifies; 0 / -1 */
static int
aead_open(const struct token_key *k, const unsigned char *nonce,
    const unsigned char *aad, size_t aadlen, const unsigned char *ct,
    size_t ctlen, const unsigned char *tag, unsigned char *pt)
{
	/* the tag is only read when decrypting */
	return aead_run(k, 0, nonce, aad, aadlen, ct, ctlen, pt,
	    (unsigned char *)tag);
}

/* derive - the subkeys of k from the raw key, and its keyed contexts;
 * 0 / -1 (what was made is freed by key_free) */
static int
derive(const unsigned char key[KEY_LEN], struct token_key *k)
{
	OSSL_PARAM params[2];
	unsigned p;

	if (mark_hkdf(key, KEY_LEN, "optin token enc", k->enc) < 0 ||
	    mark_hkdf(key, KEY_LEN, "optin token iv", k->iv) < 0)
		return -1;
	for (p = 0; p < MARK_NPURPOSES; p++)
		if (mark_derive(key, (enum mark_purpose)p, k->mark[p]) < 0)
			return -1;
	if (pthread_once(&alg_once, alg_fetch) != 0 || alg_hmac == NULL ||
	    alg_gcm == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((k->nonce_mac = EVP_MAC_CTX_new(alg_hmac)) == NULL ||
	    EVP_MAC_init(k->nonce_mac, k->iv, KEY_LEN, params) != 1)
		return -1;
	if ((k->aead = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(k->aead, alg_gcm, NULL, NULL, NULL, 1) != 1 ||
	    EVP_CIPHER_CTX_ctrl(k->aead, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(k->aead, NULL, NULL, k->enc, NULL, 1) != 1)
		return -1;
	return 0;
}

/* key_free - the keyed contexts of k (made by derive; NULL: none) */
static void
key_free(struct token_key *k)
{
	EVP_MAC_CTX_free(k->nonce_mac);
	k->nonce_mac = NULL;
	EVP_CIPHER_CTX_free(k->aead);
	k->aead = NULL;
}

/*
 * parse_line - parse one key file line (NUL-terminated, no newline) into
 * *id_r and key.  Returns 1 for a key, 0 for a blank or comment line, -1
 * with why[] filled (without the key text: it may be a secret).
 */
static int
parse_line(char *line, unsigned *id_r, unsigned char key[KEY_LEN],
    char *why, size_t whylen)
{
	unsigned char tmp[KEY_LEN + 3];
	char *p, *b;
	size_t blen, npad;
	unsigned long id;
	long n;

	p = line;
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	id = 0;
	if (*p < '0' || *p > '9' || *p == '0') {
		snprintf(why, whylen, "bad key id (expected 1-255)");
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		id = id * 10 + (unsigned long)(*p - '0');
		if (id > 255)
			break;
	}
	if (id < 1 || id > 255 || (*p != ' ' && *p != '\t')) {
		snprintf(why, whylen, "bad key id (expected 1-255 and a "
		    "space)");
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	b = p;
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r')
		p++;
	blen = (size_t)(p - b);
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p != '\0' && *p != '#') {
		snprintf(why, whylen, "text after the key");
		return -1;
	}
	if (blen == 0) {
		snprintf(why, whylen, "key missing after id %lu", id);
		return -1;
	}
	/* standard base64; the padding, if any, must be complete */
	npad = 0;
	while (npad < 2 && blen > 0 && b[blen - 1] == '=') {
		blen--;
		npad++;
	}
	if (npad > 0 && (blen + npad) % 4 != 0) {
		snprintf(why, whylen, "bad base64 key");
		return -1;
	}
	n = b64_decode(b64std, b, blen, tmp, sizeof(tmp));
	if (n < 0) {
		snprintf(why, whylen, "bad base64 key");
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -1;
	}
	if (n != KEY_LEN) {
		snprintf(why, whylen, "key is %ld bytes, expected %d", n,
		    KEY_LEN);
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -1;
	}
	memcpy(key, tmp, KEY_LEN);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	*id_r = (unsigned)id;
	return 1;
}

struct token_ring *
token_ring_load(const char *path, char *why, size_t whylen)
{
	struct token_ring *ring;
	struct token_key *k;
	unsigned char key[KEY_LEN];
	char lwhy[128];
	char *buf, *line, *nl;
	size_t len, lineno, cap;
	unsigned id;
	int r;

	if (path == NULL || *path == '\0') {
		snprintf(why, whylen, "no token key file given");
		return NULL;
	}
	/* a regular file without group/other bits, checked on the open
	 * descriptor */
	if ((buf = secfile_read(path, KEYFILE_MAX, &len, why, whylen)) == NULL)
		return NULL;
	if ((ring = calloc(1, sizeof(*ring))) == NULL) {
		snprintf(why, whylen, "%s: out of memory", path);
		goto fail;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(why, whylen, "%s: holds a NUL byte", path);
		goto fail;
	}
	cap = 0;
	lineno = 0;
	for (line = buf; line != NULL && *line != '\0'; line = nl) {
		lineno++;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		r = parse_line(line, &id, key, lwhy, sizeof(lwhy));
		if (r == 0)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "%s:%zu: %s", path, lineno, lwhy);
			goto fail;
		}
		if (ring->idx[id] != 0) {
			snprintf(why, whylen, "%s:%zu: duplicate key id %u",
			    path, lineno, id);
			goto fail;
		}
		if (ring->n == cap) {
			/* at most 255 keys: allocate once, no realloc of
			 * key material */
			cap = 255;
			if ((ring->keys = calloc(cap, sizeof(*k))) == NULL) {
				snprintf(why, whylen, "%s: out of memory",
				    path);
				goto fail;
			}
		}
		k = &ring->keys[ring->n];
		k->id = id;
		if (derive(key, k) < 0) {
			snprintf(why, whylen, "%s:%zu: key derivation failed",
			    path, lineno);
			goto fail;
		}
		ring->n++;
		ring->idx[id] = (unsigned char)ring->n;
	}
	if (ring->n == 0) {
		snprintf(why, whylen, "%s: no keys", path);
		goto fail;
	}
	OPENSSL_cleanse(key, sizeof(key));
	secfile_free(&buf, len);
	return ring;
fail:
	OPENSSL_cleanse(key, sizeof(key));
	secfile_free(&buf, len);
	token_ring_free(&ring);
	return NULL;
}

void
token_ring_free(struct token_ring **ringp)
{
	struct token_ring *ring;
	size_t i;

	if (ringp == NULL || (ring = *ringp) == NULL)
		return;
	if (ring->keys != NULL) {
		for (i = 0; i < 255; i++)	/* calloc'd: NULL where unused */
			key_free(&ring->keys[i]);
		OPENSSL_cleanse(ring->keys, 255 * sizeof(*ring->keys));
		free(ring->keys);
	}
	OPENSSL_cleanse(ring, sizeof(*ring));
	free(ring);
	*ringp = NULL;
}

int
token_issue(const struct token_ring *ring, const char *addr,
    const char *list, long issue_day, char *out, size_t outlen, char *why,
    size_t whylen)
{
	/* msg = header || plain, raw = header || nonce || ct || tag */
	unsigned char msg[HDR_LEN + PLAIN_MAX], raw[RAW_MAX];
	const struct token_key *k;
	size_t alen, llen, plen, rawlen;
	int rc;

	if (ring == NULL || ring->n == 0 || addr == NULL || list == NULL ||
	    out == NULL) {
		snprintf(why, whylen, "token_issue: missing argument");
		return -1;
	}
	alen = strlen(addr);
	llen = strlen(list);
	if (alen == 0 || alen > ADDR_MAXLEN) {
		snprintf(why, whylen, "address length %zu (1-%zu allowed)",
		    alen, ADDR_MAXLEN);
		return -1;
	}
	if (llen == 0 || llen > LIST_MAXLEN) {
		snprintf(why, whylen, "list length %zu (1-%zu allowed)", llen,
		    LIST_MAXLEN);
		return -1;
	}
	plen = DAY_LEN + 1 + llen + alen;
	if (plen > PLAIN_MAX) {
		snprintf(why, whylen, "address and list too long together "
		    "(%zu octets, at most %d)", llen + alen,
		    (int)(PLAIN_MAX - DAY_LEN - 1));
		return -1;
	}
	if (issue_day < 0 || issue_day > 0xffff) {
		snprintf(why, whylen, "issue day %ld out of range", issue_day);
		return -1;
	}
	rawlen = HDR_LEN + NONCE_LEN + plen + TAG_LEN;
	if (b64url_len(rawlen) + 1 > outlen) {
		snprintf(why, whylen, "token buffer too small (%zu, need %zu)",
		    outlen, b64url_len(rawlen) + 1);
		return -1;
	}
	k = &ring->keys[ring->n - 1];
	msg[0] = TOKEN_VERSION;
	msg[1] = (unsigned char)k->id;
	msg[2] = (unsigned char)(issue_day >> 8);
	msg[3] = (unsigned char)issue_day;
	msg[4] = (unsigned char)llen;
	memcpy(msg + 5, list, llen);
	memcpy(msg + 5 + llen, addr, alen);
	rc = -1;
	memcpy(raw, msg, HDR_LEN);
	if (synth_nonce(k, msg, HDR_LEN + plen, raw + HDR_LEN) < 0 ||
	    aead_seal(k, raw + HDR_LEN, msg, HDR_LEN, msg + HDR_LEN, plen,
	    raw + HDR_LEN + NONCE_LEN,
	    raw + HDR_LEN + NONCE_LEN + plen) < 0) {
		snprintf(why, whylen, "token encryption failed");
		goto out;
	}
	rc = (int)b64url_encode(raw, rawlen, out);
out:
	OPENSSL_cleanse(msg, sizeof(msg));
	return rc;
}

enum token_status
token_verify(const struct token_ring *ring, const char *token, long today,
    long lifetime_days, struct token_info *info_r)
{
	unsigned char raw[RAW_MAX], msg[HDR_LEN + PLAIN_MAX];
	unsigned char nonce[NONCE_LEN];
	const struct token_key *k;
	enum token_status st;
	size_t tlen, plen, llen, alen;
	unsigned char *plain;
	long n, day;

	if (info_r != NULL)
		memset(info_r, 0, sizeof(*info_r));
	if (ring == NULL || token == NULL)
		return TOKEN_MALFORMED;
	tlen = strnlen(token, TOKEN_MAX);
	if (tlen >= TOKEN_MAX || tlen < b64url_len(RAW_MIN))
		return TOKEN_MALFORMED;
	n = b64_decode(b64url, token, tlen, raw, sizeof(raw));
	if (n < (long)RAW_MIN)
		return TOKEN_MALFORMED;
	if (raw[0] != TOKEN_VERSION)
		return TOKEN_MALFORMED;
	if (ring->idx[raw[1]] == 0)
		return TOKEN_UNKNOWN_KEY;
	k = &ring->keys[ring->idx[raw[1]] - 1];
	plen = (size_t)n - HDR_LEN - NONCE_LEN - TAG_LEN;
	memcpy(msg, raw, HDR_LEN);
	plain = msg + HDR_LEN;
	st = TOKEN_BAD;
	if (aead_open(k, raw + HDR_LEN, raw, HDR_LEN,
	    raw + HDR_LEN + NONCE_LEN, plen, raw + HDR_LEN + NONCE_LEN + plen,
	    plain) < 0)
		goto out;
	/* the nonce must be the synthetic one: one token per (key, day,
	 * list, address), and a forger needs the iv subkey too */
	if (synth_nonce(k, msg, HDR_LEN + plen, nonce) < 0 ||
	    CRYPTO_memcmp(nonce, raw + HDR_LEN, NONCE_LEN) != 0)
		goto out;
	day = ((long)plain[0] << 8) | plain[1];
	llen = plain[2];
	if (llen == 0 || llen > LIST_MAXLEN || DAY_LEN + 1 + llen >= plen)
		goto out;
	alen = plen - DAY_LEN - 1 - llen;
	if (alen > ADDR_MAXLEN ||
	    memchr(plain + DAY_LEN + 1, '\0', llen + alen) != NULL)
		goto out;
	if (info_r != NULL) {
		memcpy(info_r->list, plain + DAY_LEN + 1, llen);
		info_r->list[llen] = '\0';
		memcpy(info_r->addr, plain + DAY_LEN + 1 + llen, alen);
		info_r->addr[alen] = '\0';
		info_r->key_id = k->id;
		info_r->issue_day = day;
	}
	if (lifetime_days > 0 && day + lifetime_days < today)
		st = TOKEN_EXPIRED;
	else
		st = TOKEN_OK;
out:
	OPENSSL_cleanse(msg, sizeof(msg));
	return st;
}

const char *
token_status_str(enum token_status s)
{
	switch (s) {
	case TOKEN_OK:
		return "ok";
	case TOKEN_MALFORMED:
		return "malformed";
	case TOKEN_UNKNOWN_KEY:
		return "unknown_key";
	case TOKEN_BAD:
		return "bad";
	case TOKEN_EXPIRED:
		return "expired";
	}
	return "bad";
}

long
token_day(long long t)
{
	long long d;

	d = t / 86400;
	if (t % 86400 < 0)		/* floor for times before 1970 */
		d--;
	return (long)d;
}

size_t
token_ring_size(const struct token_ring *ring)
{
	return ring == NULL ? 0 : ring->n;
}

const unsigned char *
token_ring_mark_key(const struct token_ring *ring, size_t i,
    enum mark_purpose p, unsigned *id_r)
{
	if (ring == NULL || i >= ring->n || (unsigned)p >= MARK_NPURPOSES)
		return NULL;
	if (id_r != NULL)
		*id_r = ring->keys[i].id;
	return ring->keys[i].mark[p];
}
