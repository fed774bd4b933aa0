/*
 * mark.c - keyed marks, one subkey per purpose (contract in mark.h).
 *
 * Subkeys: token_ring_load() derives, for every key of a file, one subkey
 * per purpose with mark_derive(): HKDF-SHA256(key, info mark_label(p)).
 * A mark is HMAC-SHA256 with that subkey, in lower-case hex.
 *
 * A message marker authenticates, with the subkey of its purpose, these
 * fields, each as a 4-octet big-endian length and its octets (so no field
 * can run into the next):
 *
 *	purpose label, queue id, quarantine row (decimal), list,
 *	issued, expires (decimal), envelope sender, recipient,
 *	SHA-256 of the Message-ID value (trimmed), SHA-256 of the body
 *
 * The header value names the fields it carries; those taken from the
 * message (sender, recipient, Message-ID, body) are not in it.
 *
 * Threads: no state; every call uses its own buffers.  Secrets: a subkey
 * is borrowed from its ring and never copied; MAC buffers are wiped.
 */
#include "autoconf.h"

#include "mark.h"
#include "token.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* HKDF info labels: one per purpose, never reused */
static const char *const labels[MARK_NPURPOSES] = {
	[MARK_ERASURE] = "optin-milter mark v2 erasure",
	[MARK_RELEASE] = "optin-milter mark v2 release",
	[MARK_SPLIT] = "optin-milter mark v2 split",
	[MARK_LOG] = "optin-milter mark v2 log",
	[MARK_LEGACY] = "optin split mark",
	[MARK_CSRF] = "optin csrf v1",	/* documented in optin-unsubd(8) */
	[MARK_HANDOVER] = "optin-milter mark v2 handover",
};

/* longest MAC input of a message marker: labels, queue id, row, list,
 * two times, two addresses, two digests, and ten lengths */
#define MSG_DATA_MAX	(40 + MARK_QID_MAX + 20 + MARK_LIST_MAX + 2 * 20 + \
			    2 * 330 + 2 * 32 + 10 * 4)

const char *
mark_label(enum mark_purpose p)
{
	return (unsigned)p < MARK_NPURPOSES ? labels[p] : NULL;
}

int
mark_hkdf(const unsigned char *key, size_t keylen, const char *info,
    unsigned char out[MARK_KEY_LEN])
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[4];
	int rc;

	if (key == NULL || info == NULL)
		return -1;
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return -1;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)key, keylen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, strlen(info));
	params[3] = OSSL_PARAM_construct_end();
	rc = EVP_KDF_derive(kctx, out, MARK_KEY_LEN, params) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(kctx);
	return rc;
}

int
mark_derive(const unsigned char *key, enum mark_purpose p,
    unsigned char sub[MARK_KEY_LEN])
{
	const char *label = mark_label(p);

	return label == NULL ? -1 : mark_hkdf(key, MARK_KEY_LEN, label, sub);
}

/* hmac_hex - hex HMAC-SHA256(sub, data) into out; 0 / -1 */
static int
hmac_hex(const unsigned char *sub, const void *data, size_t len,
    char out[MARK_HEX_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen, i;

	if (sub == NULL || HMAC(EVP_sha256(), sub, MARK_KEY_LEN,
	    data == NULL ? (const void *)"" : data, len, mac, &maclen) ==
	    NULL || maclen != 32)
		return -1;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

/* marker_purpose - may p make and check markers with mark_make()? */
static bool
marker_purpose(enum mark_purpose p)
{
	return p == MARK_RELEASE || p == MARK_SPLIT || p == MARK_LOG ||
	    p == MARK_CSRF || p == MARK_HANDOVER;
}

int
mark_make(const struct token_ring *ring, enum mark_purpose p,
    const void *data, size_t len, char out[MARK_HEX_MAX])
{
	size_t n = token_ring_size(ring);

	if (n == 0 || !marker_purpose(p) || (data == NULL && len > 0))
		return -1;
	return hmac_hex(token_ring_mark_key(ring, n - 1, p, NULL), data, len,
	    out);
}

bool
mark_check(const struct token_ring *ring, enum mark_purpose p,
    const void *data, size_t len, const char *mac)
{
	char want[MARK_HEX_MAX];
	size_t i, n = token_ring_size(ring);
	int ok;

	if (n == 0 || !marker_purpose(p) || mac == NULL ||
	    (data == NULL && len > 0) || strnlen(mac, MARK_HEX_MAX) != 64)
		return false;
	ok = 0;
	/* every key, no early exit */
	for (i = 0; i < n; i++) {
		if (hmac_hex(token_ring_mark_key(ring, i, p, NULL), data, len,
		    want) < 0)
			continue;
		ok |= CRYPTO_memcmp(want, mac, 64) == 0;
	}
	OPENSSL_cleanse(want, sizeof(want));
	return ok != 0;
}

int
mark_erased(const struct token_ring *ring, size_t i, bool legacy,
    const char *addr, char out[MARK_ERASED_MAX])
{
	const unsigned char *sub;
	char mac[MARK_HEX_MAX];
	unsigned id;

	if (addr == NULL || i >= token_ring_size(ring) ||
	    (sub = token_ring_mark_key(ring, i, legacy ? MARK_LEGACY :
	    MARK_ERASURE, &id)) == NULL ||
	    hmac_hex(sub, addr, strlen(addr), mac) < 0)
		return -1;
	if (legacy)
		snprintf(out, MARK_ERASED_MAX, "%s%s", MARK_LEGACY_PREFIX,
		    mac);
	else
		snprintf(out, MARK_ERASED_MAX, "%s%u:%s", MARK_ERASED_PREFIX,
		    id, mac);
	return 0;
}

const char *
mark_status_str(enum mark_status s)
{
	switch (s) {
	case MARK_OK:
		return "ok";
	case MARK_MALFORMED:
		return "malformed";
	case MARK_BAD:
		return "bad";
	case MARK_EXPIRED:
		return "expired";
	}
	return "bad";
}

/* Field encoder of a marker's MAC input. */
struct fields {
	unsigned char buf[MSG_DATA_MAX];
	size_t len;
	bool overflow;
};

/* put - append one field: 4-octet length, then the octets */
static void
put(struct fields *f, const void *data, size_t len)
{
	unsigned char *p;

	if (f->overflow || len > UINT32_MAX ||
	    sizeof(f->buf) - f->len < 4 + len) {
		f->overflow = true;
		return;
	}
	p = f->buf + f->len;
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	if (len > 0)
		memcpy(p + 4, data, len);
	f->len += 4 + len;
}

/* put_str - a string field; NULL is "" */
static void
put_str(struct fields *f, const char *s)
{
	put(f, s == NULL ? "" : s, s == NULL ? 0 : strlen(s));
}

/* put_num - a number as decimal text */
static void
put_num(struct fields *f, long long n)
{
	char num[24];

	put(f, num, (size_t)snprintf(num, sizeof(num), "%lld", n));
}

/* put_digest - SHA-256 of len octets of data (NULL: none) */
static void
put_digest(struct fields *f, const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	if (EVP_Digest(data == NULL ? (const void *)"" : data, len, md,
	    &mdlen, EVP_sha256(), NULL) != 1) {
		f->overflow = true;
		return;
	}
	put(f, md, mdlen);
}

/* msgid_trim - the Message-ID value without surrounding white space
 * (folding included): *len_r octets from the result */
static const char *
msgid_trim(const char *v, size_t *len_r)
{
	size_t len;

	if (v == NULL) {
		*len_r = 0;
		return "";
	}
	v += strspn(v, " \t\r\n");
	len = strlen(v);
	while (len > 0 && strchr(" \t\r\n", v[len - 1]) != NULL)
		len--;
	*len_r = len;
	return v;
}

/* msg_fields - the MAC input of a marker of purpose p for m; 0 / -1 */
static int
msg_fields(enum mark_purpose p, const struct mark_msg *m, struct fields *f)
{
	const char *id;
	size_t idlen;

	f->len = 0;
	f->overflow = false;
	put_str(f, mark_label(p));
	put_str(f, m->qid);
	put_num(f, m->qrow);
	put_str(f, m->list);
	put_num(f, m->issued);
	put_num(f, m->expires);
	put_str(f, m->sender);
	put_str(f, m->rcpt);
	id = msgid_trim(m->message_id, &idlen);
	put_digest(f, id, idlen);
	put_digest(f, m->body, m->body == NULL ? 0 : m->bodylen);
	return f->overflow ? -1 : 0;
}

/* token_ok - 1 to max octets of [A-Za-z0-9._-] */
static bool
token_ok(const char *s, size_t max)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789._-");

	return n > 0 && n <= max && s[n] == '\0';
}

int
mark_msg_make(const struct token_ring *ring, enum mark_purpose p,
    const struct mark_msg *m, char *out, size_t outlen, char *why,
    size_t whylen)
{
	struct fields f;
	char mac[MARK_HEX_MAX];
	int n;

	if (p != MARK_RELEASE && p != MARK_SPLIT) {
		snprintf(why, whylen, "not a message marker purpose");
		return -1;
	}
	if (!token_ok(m->qid, MARK_QID_MAX)) {
		snprintf(why, whylen, "queue id is not 1-%d of [A-Za-z0-9._-]",
		    MARK_QID_MAX);
		return -1;
	}
	if (!token_ok(m->list, MARK_LIST_MAX)) {
		snprintf(why, whylen, "list is not 1-%d of [A-Za-z0-9._-]",
		    MARK_LIST_MAX);
		return -1;
	}
	if (m->qrow < 0 || m->issued < 0 || m->expires <= m->issued ||
	    m->expires - m->issued > MARK_LIFETIME_MAX) {
		snprintf(why, whylen, "bad row or times");
		return -1;
	}
	if (msg_fields(p, m, &f) < 0 || mark_make(ring, p, f.buf, f.len,
	    mac) < 0) {
		OPENSSL_cleanse(&f, sizeof(f));
		snprintf(why, whylen, "no key, or addresses too long");
		return -1;
	}
	OPENSSL_cleanse(&f, sizeof(f));
	n = snprintf(out, outlen, "v=2; q=%s; id=%lld; t=%lld; x=%lld; "
	    "list=%s; mac=%s", m->qid, m->qrow, m->issued, m->expires,
	    m->list, mac);
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(why, whylen, "marker buffer too small");
		return -1;
	}
	return n;
}

/* parse_num - a decimal number of 1-18 digits; 0 / -1 */
static int
parse_num(const char *s, size_t len, long long *n_r)
{
	long long n = 0;
	size_t i;

	if (len == 0 || len > 18)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	*n_r = n;
	return 0;
}

/* parse_word - copy len octets of s into out (max + 1 bytes) if they are
 * a token_ok() word; 0 / -1 */
static int
parse_word(const char *s, size_t len, char *out, size_t max)
{
	if (len == 0 || len > max)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return token_ok(out, max) ? 0 : -1;
}

/*
 * parse_value - "v=2; q=...; id=...; t=...; x=...; list=...; mac=..." in
 * any order, each exactly once, white space (and folding) around the
 * separators; the carried fields into m, the MAC into mac.  0 / -1.
 */
static int
parse_value(const char *v, struct mark_msg *m, char mac[MARK_HEX_MAX])
{
	static const char *const keys[] = { "v", "q", "id", "t", "x", "list",
	    "mac" };
	const char *k, *val, *end;
	unsigned seen = 0, bit;
	size_t klen, vlen, i;
	int rc;

	for (;;) {
		v += strspn(v, " \t\r\n");
		if (*v == '\0')
			break;
		k = v;
		klen = strcspn(k, "=; \t\r\n");
		if (k[klen] != '=')
			return -1;
		val = k + klen + 1;
		vlen = strcspn(val, "; \t\r\n");
		end = val + vlen + strspn(val + vlen, " \t\r\n");
		if (*end != ';' && *end != '\0')
			return -1;
		v = *end == ';' ? end + 1 : end;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strlen(keys[i]) == klen &&
			    strncmp(keys[i], k, klen) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0]))
			return -1;
		bit = 1u << i;
		if (seen & bit)
			return -1;
		seen |= bit;
		switch (i) {
		case 0:
			rc = vlen == 1 && *val == '2' ? 0 : -1;
			break;
		case 1:
			rc = parse_word(val, vlen, m->qid, MARK_QID_MAX);
			break;
		case 2:
			rc = parse_num(val, vlen, &m->qrow);
			break;
		case 3:
			rc = parse_num(val, vlen, &m->issued);
			break;
		case 4:
			rc = parse_num(val, vlen, &m->expires);
			break;
		case 5:
			rc = parse_word(val, vlen, m->list, MARK_LIST_MAX);
			break;
		default:
			rc = vlen == 64 && strspn(val, "0123456789abcdef") >=
			    64 ? 0 : -1;
			if (rc == 0) {
				memcpy(mac, val, 64);
				mac[64] = '\0';
			}
		}
		if (rc < 0)
			return -1;
	}
	return seen == (1u << (sizeof(keys) / sizeof(keys[0]))) - 1 ? 0 : -1;
}

enum mark_status
mark_msg_verify(const struct token_ring *ring, enum mark_purpose p,
    const char *value, struct mark_msg *m, long long now)
{
	struct fields f;
	char mac[MARK_HEX_MAX];
	bool ok;

	m->qid[0] = m->list[0] = '\0';
	m->qrow = m->issued = m->expires = 0;
	if (value == NULL || (p != MARK_RELEASE && p != MARK_SPLIT) ||
	    strlen(value) >= 4 * MARK_VALUE_MAX ||
	    parse_value(value, m, mac) < 0)
		return MARK_MALFORMED;
	if (msg_fields(p, m, &f) < 0)
		return MARK_BAD;
	ok = mark_check(ring, p, f.buf, f.len, mac);
	OPENSSL_cleanse(&f, sizeof(f));
	if (!ok)
		return MARK_BAD;
	/* authenticated: only a key holder set these times */
	if (m->expires <= m->issued ||
	    m->expires - m->issued > MARK_LIFETIME_MAX ||
	    m->issued > now + MARK_CLOCK_SKEW)
		return MARK_BAD;
	return now > m->expires ? MARK_EXPIRED : MARK_OK;
}
