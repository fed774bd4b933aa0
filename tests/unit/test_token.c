/*
 * test_token.c - unit tests for token.c: round trips, tampering,
 * truncation, extension, key rotation, expiry and key file errors (the
 * marks made from the ring's subkeys: test_mark.c).  Key files live in a
 * mkdtemp() directory removed at the end; random data comes from a
 * fixed-seed generator (reproducible).
 */
#include "autoconf.h"

#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "token.h"

static char tmpdir[64];
static unsigned nfiles;
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

/* rnd - xorshift64*, fixed seed */
static unsigned long
rnd(unsigned long n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned long)((rng_state * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

/* keyfile - write text to a fresh file of mode mode; returns its path */
static const char *
keyfile(const char *text, mode_t mode)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/keys%u", tmpdir, nfiles++);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* key_b64 - a fresh random 32-byte key in standard base64 */
static void
key_b64(char out[45])
{
	unsigned char k[32];

	assert_int_equal(RAND_bytes(k, sizeof(k)), 1);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)out, k, 32), 44);
}

/* ring_text - load a ring from key file text (mode 0600) or fail */
static struct token_ring *
ring_text(const char *text)
{
	struct token_ring *r;
	char why[256];

	r = token_ring_load(keyfile(text, 0600), why, sizeof(why));
	if (r == NULL)
		fail_msg("ring load: %s", why);
	return r;
}

/* ring_new - a ring of one fresh key with id; its base64 into key */
static struct token_ring *
ring_new(unsigned id, char key[45])
{
	char text[128];

	key_b64(key);
	snprintf(text, sizeof(text), "%u %s\n", id, key);
	return ring_text(text);
}

/* issue - token_issue or fail */
static int
issue(const struct token_ring *r, const char *addr, const char *list,
    long day, char tok[TOKEN_MAX])
{
	char why[256];
	int n;

	n = token_issue(r, addr, list, day, tok, TOKEN_MAX, why, sizeof(why));
	if (n < 0)
		fail_msg("issue '%s' '%s': %s", addr, list, why);
	assert_int_equal((size_t)n, strlen(tok));
	return n;
}

static const char *const utf8[] = { "\xc3\xa9", "\xc3\xbc", "\xc3\x9f",
	"\xe6\x97\xa5", "\xe6\x9c\xac", "\xd0\xb6", "\xf0\x9f\x98\x80" };
static const char *const idn[] = { "xn--bcher-kva", "xn--mnchen-3ya",
	"xn--80ak6aa92e", "xn--fiqs8s", "xn--e1afmkfd" };
static const char atext_chars[] =
    "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~.";

/* random_addr - a random normalised-looking address; maxlen octets */
static void
random_addr(char *out, size_t maxlen)
{
	size_t llen, o, target, lab;
	const char *s;

	o = 0;
	llen = 1 + rnd(64);
	while (o < llen) {
		if (rnd(4) == 0) {
			s = utf8[rnd(sizeof(utf8) / sizeof(utf8[0]))];
			if (o + strlen(s) > llen)
				break;
			memcpy(out + o, s, strlen(s));
			o += strlen(s);
		} else
			out[o++] = atext_chars[rnd(sizeof(atext_chars) - 1)];
	}
	out[o++] = '@';
	/* domain: often short, sometimes up to maxlen */
	target = rnd(3) == 0 ? maxlen : o + 4 + rnd(40);
	if (target > maxlen)
		target = maxlen;
	while (o + 2 < target) {
		s = rnd(3) == 0 ? idn[rnd(sizeof(idn) / sizeof(idn[0]))] :
		    NULL;
		lab = s != NULL ? strlen(s) : 1 + rnd(20);
		if (o + lab + 1 > target) {
			s = NULL;
			lab = target - o - 1;
		}
		if (o > 0 && out[o - 1] != '@')
			out[o++] = '.';
		if (s != NULL) {
			memcpy(out + o, s, lab);
			o += lab;
		} else {
			while (lab-- > 0)
				out[o++] = "abcdefghijklmnopqrstuvwxyz0123456789"
				    [rnd(36)];
		}
	}
	if (out[o - 1] == '@' || out[o - 1] == '.')
		out[o++] = 'x';
	out[o] = '\0';
}

/* random_list - a random list id of 1..maxlen octets */
static void
random_list(char *out, size_t maxlen)
{
	size_t n, i;

	n = 1 + rnd(maxlen);
	for (i = 0; i < n; i++)
		out[i] = "abcdefghijklmnopqrstuvwxyz0123456789-._"[rnd(39)];
	out[n] = '\0';
}

static void
t_roundtrip_random(void **state)
{
	struct token_ring *r;
	struct token_info info;
	char key[45], addr[400], list[200], tok[TOKEN_MAX], tok2[TOKEN_MAX];
	enum token_status st;
	long day;
	int i, n, longest;

	(void)state;
	r = ring_new(7, key);
	longest = 0;
	for (i = 0; i < 10000; i++) {
		random_addr(addr, i % 10 == 0 ? 254 : 120);
		random_list(list, i % 7 == 0 ? 64 : 16);
		day = (long)rnd(65536);
		n = issue(r, addr, list, day, tok);
		if (n > longest)
			longest = n;
		st = token_verify(r, tok, day, 400, &info);
		if (st != TOKEN_OK)
			CASE_FAIL(addr, "got %s, want ok (list %s)",
			    token_status_str(st), list);
		if (strcmp(info.addr, addr) != 0 ||
		    strcmp(info.list, list) != 0 || info.key_id != 7 ||
		    info.issue_day != day)
			CASE_FAIL(addr, "got %s %s %u %ld, want %s %s 7 %ld",
			    info.addr, info.list, info.key_id, info.issue_day,
			    addr, list, day);
		/* deterministic: the same input gives the same token */
		if (i % 100 == 0) {
			issue(r, addr, list, day, tok2);
			assert_string_equal(tok, tok2);
		}
	}
	/* a 254-octet address with a 64-octet list is well inside TOKEN_MAX */
	memset(addr, 'a', 64);
	addr[64] = '@';
	memset(addr + 65, 'b', 189);
	addr[254] = '\0';
	memset(list, 'l', 64);
	list[64] = '\0';
	n = issue(r, addr, list, 20000, tok);
	assert_true(n < TOKEN_MAX);
	assert_true(longest <= n);
	assert_int_equal(token_verify(r, tok, 20000, 0, &info), TOKEN_OK);
	assert_string_equal(info.addr, addr);
	token_ring_free(&r);
	assert_null(r);
	token_ring_free(&r);		/* NULL is fine */
	token_ring_free(NULL);
}

static void
t_issue_limits(void **state)
{
	static const struct {
		const char *label;
		size_t alen, llen;
		long day;
		size_t outlen;
		bool ok;
	} cases[] = {
		{ "320 addr, 126 list (largest fitting)", 320, 126, 1,
		    TOKEN_MAX, true },
		{ "320 addr, 127 list (over TOKEN_MAX)", 320, 127, 1,
		    TOKEN_MAX, false },
		{ "254 addr, 128 list", 254, 128, 1, TOKEN_MAX, true },
		{ "list 129", 10, 129, 1, TOKEN_MAX, false },
		{ "addr 321", 321, 5, 1, TOKEN_MAX, false },
		{ "empty addr", 0, 5, 1, TOKEN_MAX, false },
		{ "empty list", 10, 0, 1, TOKEN_MAX, false },
		{ "day -1", 10, 5, -1, TOKEN_MAX, false },
		{ "day 65535", 10, 5, 65535, TOKEN_MAX, true },
		{ "day 65536", 10, 5, 65536, TOKEN_MAX, false },
		{ "buffer too small", 10, 5, 1, 20, false },
		/* 37 raw bytes: 50 characters */
		{ "buffer exact", 3, 1, 1, 50 + 1, true },
		{ "buffer one short", 3, 1, 1, 50, false },
	};
	struct token_ring *r;
	struct token_info info;
	char key[45], addr[400], list[200], tok[TOKEN_MAX], why[256];
	size_t i;
	int n;

	(void)state;
	r = ring_new(1, key);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(addr, 'a', cases[i].alen);
		addr[cases[i].alen] = '\0';
		if (cases[i].alen > 2)
			addr[cases[i].alen / 2] = '@';
		memset(list, 'n', cases[i].llen);
		list[cases[i].llen] = '\0';
		why[0] = '\0';
		n = token_issue(r, addr, list, cases[i].day, tok,
		    cases[i].outlen, why, sizeof(why));
		if ((n >= 0) != cases[i].ok)
			CASE_FAIL(cases[i].label, "got %d (%s), want %s", n,
			    why, cases[i].ok ? "a token" : "-1");
		if (n >= 0 && token_verify(r, tok, cases[i].day, 0, &info) !=
		    TOKEN_OK)
			CASE_FAIL(cases[i].label, "issued token does not "
			    "verify");
		if (n < 0 && why[0] == '\0')
			CASE_FAIL(cases[i].label, "why[] empty");
	}
	token_ring_free(&r);
}

static void
t_tamper_every_byte(void **state)
{
	static const char repl[] = "A_-0zQ";
	static const char *const addrs[][2] = {
		{ "ann@example.com", "news" },
		{ "j\xc3\xbcrgen@xn--bcher-kva.example", "offers.weekly" },
		{ "x@y", "l" },
	};
	struct token_ring *r;
	struct token_info info;
	char key[45], tok[TOKEN_MAX], bad[TOKEN_MAX];
	enum token_status st;
	size_t a, i, j, n;

	(void)state;
	r = ring_new(3, key);
	for (a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
		n = (size_t)issue(r, addrs[a][0], addrs[a][1], 1000, tok);
		for (i = 0; i < n; i++)
			for (j = 0; j < sizeof(repl) - 1; j++) {
				if (tok[i] == repl[j])
					continue;
				memcpy(bad, tok, n + 1);
				bad[i] = repl[j];
				st = token_verify(r, bad, 1000, 0, &info);
				if (st == TOKEN_OK || st == TOKEN_EXPIRED)
					CASE_FAIL(addrs[a][0], "position %zu "
					    "'%c': got %s, want rejection", i,
					    repl[j], token_status_str(st));
			}
		/* characters outside the base64url alphabet */
		for (i = 0; i < n; i += 7) {
			memcpy(bad, tok, n + 1);
			bad[i] = "+/=. \n"[i % 6];
			st = token_verify(r, bad, 1000, 0, &info);
			if (st != TOKEN_MALFORMED)
				CASE_FAIL(addrs[a][0], "position %zu: got %s, "
				    "want malformed", i, token_status_str(st));
		}
	}
	token_ring_free(&r);
}

static void
t_truncate_extend(void **state)
{
	struct token_ring *r;
	struct token_info info;
	char key[45], tok[TOKEN_MAX], bad[TOKEN_MAX + 16];
	enum token_status st;
	size_t i, n;

	(void)state;
	r = ring_new(9, key);
	n = (size_t)issue(r, "bob@example.org", "news", 500, tok);
	for (i = 0; i < n; i++) {
		memcpy(bad, tok, i);
		bad[i] = '\0';
		st = token_verify(r, bad, 500, 0, &info);
		if (st == TOKEN_OK || st == TOKEN_EXPIRED)
			CASE_FAIL("truncate", "length %zu: got %s", i,
			    token_status_str(st));
	}
	for (i = 1; i <= 12; i++) {
		memcpy(bad, tok, n);
		memset(bad + n, "AQgw"[i % 4], i);
		bad[n + i] = '\0';
		st = token_verify(r, bad, 500, 0, &info);
		if (st == TOKEN_OK || st == TOKEN_EXPIRED)
			CASE_FAIL("extend", "by %zu: got %s", i,
			    token_status_str(st));
	}
	/* padding, even where it would be correct, is refused */
	snprintf(bad, sizeof(bad), "%s=", tok);
	assert_int_equal(token_verify(r, bad, 500, 0, &info),
	    TOKEN_MALFORMED);
	snprintf(bad, sizeof(bad), "%s==", tok);
	assert_int_equal(token_verify(r, bad, 500, 0, &info),
	    TOKEN_MALFORMED);
	/* far too long */
	memset(bad, 'A', TOKEN_MAX + 8);
	bad[TOKEN_MAX + 8] = '\0';
	assert_int_equal(token_verify(r, bad, 500, 0, &info),
	    TOKEN_MALFORMED);
	assert_int_equal(token_verify(r, NULL, 500, 0, &info),
	    TOKEN_MALFORMED);
	assert_int_equal(token_verify(NULL, tok, 500, 0, &info),
	    TOKEN_MALFORMED);
	token_ring_free(&r);
}

/* b64url_dec - decode a token for the tests that rebuild one */
static size_t
b64url_dec(const char *in, unsigned char *out)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned long acc;
	size_t o;
	int bits;

	acc = 0;
	bits = 0;
	o = 0;
	for (; *in != '\0'; in++) {
		acc = (acc << 6) | (unsigned long)(strchr(abc, *in) - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	return o;
}

static void
b64url_enc(const unsigned char *in, size_t n, char *out)
{
	int len;
	char *p;

	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	out[len] = '\0';
	while (len > 0 && out[len - 1] == '=')
		out[--len] = '\0';
	for (p = out; *p != '\0'; p++)
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
}

static void
t_structure(void **state)
{
	struct token_ring *r;
	struct token_info info;
	unsigned char raw[TOKEN_MAX];
	char key[45], tok[TOKEN_MAX], bad[TOKEN_MAX];
	size_t n, len;
	char *p;

	(void)state;
	r = ring_new(5, key);
	len = (size_t)issue(r, "carol@example.net", "newsy", 42, tok);
	n = b64url_dec(tok, raw);
	assert_int_equal(raw[0], 1);		/* version */
	assert_int_equal(raw[1], 5);		/* key id */
	/* the token reveals neither address nor list */
	assert_null(memmem(raw, n, "carol", 5));
	assert_null(memmem(raw, n, "news", 4));

	raw[0] = 2;
	b64url_enc(raw, n, bad);
	assert_int_equal(token_verify(r, bad, 42, 0, &info), TOKEN_MALFORMED);
	raw[0] = 1;
	raw[1] = 6;
	b64url_enc(raw, n, bad);
	assert_int_equal(token_verify(r, bad, 42, 0, &info),
	    TOKEN_UNKNOWN_KEY);
	raw[1] = 5;
	b64url_enc(raw, n, bad);
	assert_string_equal(bad, tok);

	/* non-canonical last character: same bytes, unused bits set */
	assert_true(len % 4 != 0);
	memcpy(bad, tok, len + 1);
	p = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_", bad[len - 1]);
	assert_non_null(p);
	bad[len - 1] = p[1];			/* +1: a low bit set */
	assert_int_equal(token_verify(r, bad, 42, 0, &info),
	    TOKEN_MALFORMED);

	assert_int_equal(token_verify(r, "", 42, 0, &info), TOKEN_MALFORMED);
	assert_int_equal(token_verify(r, "AQ", 42, 0, &info),
	    TOKEN_MALFORMED);
	token_ring_free(&r);
}

static void
t_unknown_key_and_wrong_key(void **state)
{
	struct token_ring *r1, *r2, *r1b;
	struct token_info info;
	char k1[45], k2[45], k3[45], tok[TOKEN_MAX];

	(void)state;
	r1 = ring_new(1, k1);
	r2 = ring_new(2, k2);
	r1b = ring_new(1, k3);		/* same id, other key */
	issue(r1, "dave@example.com", "news", 10, tok);
	assert_int_equal(token_verify(r2, tok, 10, 0, &info),
	    TOKEN_UNKNOWN_KEY);
	assert_string_equal(info.addr, "");
	assert_int_equal(token_verify(r1b, tok, 10, 0, &info), TOKEN_BAD);
	assert_string_equal(info.addr, "");
	assert_int_equal(token_verify(r1, tok, 10, 0, NULL), TOKEN_OK);
	token_ring_free(&r1);
	token_ring_free(&r2);
	token_ring_free(&r1b);
}

static void
t_expiry(void **state)
{
	static const struct {
		const char *label;
		long issued, today, lifetime;
		enum token_status want;
	} cases[] = {
		{ "same day", 100, 100, 10, TOKEN_OK },
		{ "last valid day", 100, 110, 10, TOKEN_OK },
		{ "one day late", 100, 111, 10, TOKEN_EXPIRED },
		{ "long ago", 100, 5000, 400, TOKEN_EXPIRED },
		{ "no expiry (0)", 100, 50000, 0, TOKEN_OK },
		{ "no expiry (<0)", 100, 50000, -1, TOKEN_OK },
		{ "issued in the future", 200, 100, 10, TOKEN_OK },
	};
	struct token_ring *r;
	struct token_info info;
	char key[45], tok[TOKEN_MAX];
	enum token_status st;
	size_t i;

	(void)state;
	r = ring_new(4, key);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		issue(r, "eve@example.com", "promo", cases[i].issued, tok);
		st = token_verify(r, tok, cases[i].today, cases[i].lifetime,
		    &info);
		if (st != cases[i].want)
			CASE_FAIL(cases[i].label, "got %s, want %s",
			    token_status_str(st),
			    token_status_str(cases[i].want));
		/* info is filled for ok and expired */
		if (strcmp(info.addr, "eve@example.com") != 0 ||
		    strcmp(info.list, "promo") != 0 || info.key_id != 4 ||
		    info.issue_day != cases[i].issued)
			CASE_FAIL(cases[i].label, "info not filled: '%s' '%s' "
			    "%u %ld", info.addr, info.list, info.key_id,
			    info.issue_day);
	}
	token_ring_free(&r);
}

static void
t_rotation(void **state)
{
	struct token_ring *old, *cur;
	struct token_info info;
	char k1[45], k2[45], text[256], t1[TOKEN_MAX], t2[TOKEN_MAX];

	(void)state;
	old = ring_new(1, k1);
	key_b64(k2);
	snprintf(text, sizeof(text), "# rotated 2026-01-01\n1 %s\n\n"
	    "  2\t%s  \n", k1, k2);
	cur = ring_text(text);
	issue(old, "fay@example.com", "news", 300, t1);
	issue(cur, "fay@example.com", "news", 300, t2);
	assert_string_not_equal(t1, t2);
	assert_int_equal(token_verify(cur, t2, 300, 0, &info), TOKEN_OK);
	assert_int_equal(info.key_id, 2);		/* newest issues */
	assert_int_equal(token_verify(cur, t1, 300, 0, &info), TOKEN_OK);
	assert_int_equal(info.key_id, 1);		/* old still verifies */
	assert_string_equal(info.addr, "fay@example.com");
	assert_int_equal(token_verify(old, t2, 300, 0, &info),
	    TOKEN_UNKNOWN_KEY);
	token_ring_free(&old);
	token_ring_free(&cur);
}

static void
t_keyfile(void **state)
{
	/* K: a valid key, substituted at run time for "K" */
	static const struct {
		const char *label, *text;
		mode_t mode;
		const char *want;	/* substring of why; NULL: loads */
	} cases[] = {
		{ "one key", "1 K\n", 0600, NULL },
		{ "comments, blanks, CRLF", "# keys\n\n1 K\r\n  # x\n", 0600,
		    NULL },
		{ "no final newline", "1 K", 0600, NULL },
		{ "mode 0400", "1 K\n", 0400, NULL },
		{ "trailing comment", "1 K # old\n", 0600, NULL },
		{ "id 255", "255 K\n", 0600, NULL },
		{ "unpadded key", "1 U\n", 0600, NULL },
		{ "id 0", "0 K\n", 0600, ":1: bad key id" },
		{ "id 256", "# c\n256 K\n", 0600, ":2: bad key id" },
		{ "id 1000", "1000 K\n", 0600, ":1: bad key id" },
		{ "id letters", "ab K\n", 0600, ":1: bad key id" },
		{ "id negative", "-1 K\n", 0600, ":1: bad key id" },
		{ "id leading zero", "01 K\n", 0600, ":1: bad key id" },
		{ "no key", "1\n", 0600, ":1: bad key id" },
		{ "no key after space", "1 \n", 0600, ":1: key missing" },
		{ "bad base64", "1 K\n2 !!!!bm90IGJhc2U2NA==\n", 0600,
		    ":2: bad base64 key" },
		{ "url alphabet", "1 K\n2 -_-_\n", 0600, ":2: bad base64" },
		{ "short key", "1 AAAAAAAAAAAAAAAAAAAAAA==\n", 0600,
		    ":1: key is 16 bytes, expected 32" },
		{ "long key", "1 UAAAA\n", 0600, ":1: key is 35 bytes" },
		{ "broken padding", "1 AAAA=\n", 0600, ":1: bad base64" },
		{ "text after key", "1 K extra\n", 0600, ":1: text after" },
		{ "duplicate id", "3 K\n4 K\n3 K\n", 0600,
		    ":3: duplicate key id 3" },
		{ "no keys", "# nothing\n\n", 0600, ": no keys" },
		{ "empty file", "", 0600, ": no keys" },
		{ "mode 0644", "1 K\n", 0644, "mode 0644" },
		{ "mode 0640", "1 K\n", 0640, "mode 0640" },
		{ "mode 0601", "1 K\n", 0601, "mode 0601" },
	};
	struct token_ring *r;
	char key[45], text[512], why[256], path[128];
	const char *p, *f;
	size_t i, o;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		key_b64(key);
		o = 0;
		for (p = cases[i].text; *p != '\0'; p++) {
			if (*p == 'K') {
				memcpy(text + o, key, 44);
				o += 44;
			} else if (*p == 'U') {
				memcpy(text + o, key, 43);	/* no '=' */
				o += 43;
			} else
				text[o++] = *p;
		}
		text[o] = '\0';
		f = keyfile(text, cases[i].mode);
		snprintf(path, sizeof(path), "%s", f);
		why[0] = '\0';
		r = token_ring_load(path, why, sizeof(why));
		if (cases[i].want == NULL) {
			if (r == NULL)
				CASE_FAIL(cases[i].label, "got '%s', want a "
				    "ring", why);
		} else {
			if (r != NULL)
				CASE_FAIL(cases[i].label, "got a ring, want "
				    "'%s'", cases[i].want);
			else if (strstr(why, cases[i].want) == NULL ||
			    strstr(why, path) == NULL)
				CASE_FAIL(cases[i].label, "got '%s', want "
				    "'%s' and the file name", why,
				    cases[i].want);
			/* never a key in a message */
			if (strstr(why, key) != NULL ||
			    strstr(why, "bm90IGJhc2U2NA") != NULL)
				CASE_FAIL(cases[i].label, "key in '%s'", why);
		}
		token_ring_free(&r);
	}
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_null(token_ring_load(path, why, sizeof(why)));
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "No such file"));
	assert_null(token_ring_load(tmpdir, why, sizeof(why)));
	assert_null(token_ring_load(NULL, why, sizeof(why)));
}

static void
t_misc(void **state)
{
	static const struct {
		long long t;
		long want;
	} days[] = {
		{ 0, 0 }, { 86399, 0 }, { 86400, 1 }, { -1, -1 },
		{ -86400, -1 }, { -86401, -2 }, { 1767225600LL, 20454 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(days) / sizeof(days[0]); i++)
		if (token_day(days[i].t) != days[i].want)
			CASE_FAIL("token_day", "t=%lld: got %ld, want %ld",
			    days[i].t, token_day(days[i].t), days[i].want);
	assert_string_equal(token_status_str(TOKEN_OK), "ok");
	assert_string_equal(token_status_str(TOKEN_MALFORMED), "malformed");
	assert_string_equal(token_status_str(TOKEN_UNKNOWN_KEY),
	    "unknown_key");
	assert_string_equal(token_status_str(TOKEN_BAD), "bad");
	assert_string_equal(token_status_str(TOKEN_EXPIRED), "expired");
}

/* cleanup_tmp - remove the key files and the directory */
/*
 * Known answers: tokens of key id 9, key bytes 0..31, as the code before
 * the keyed contexts were kept (d257938) issued them.  Tokens are
 * deterministic, and links already sent must keep working.
 */
static const struct kat {
	const char *addr, *list;
	long day;
	const char *token;
} kats[] = {
	{ "alice@example.com", "news", 20000,
	  "AQnxXAVpJlJDu-7hbcxH8o1Dv8RYgRiNj6nu_w61v_6NdklwrkYlcLL1gJ_RMJev2FPEdpAs" },
	{ "b@x.org", "promo", 0,
	  "AQlwrMnOCtNrMx_Vrb8rRC0aV5w1dMkCQgdlPfFl0Ye_Pmfd5RBkuGUF5Qow" },
	{ "very.long.name+tag@sub.example.co.uk", "l", 65535,
	  "AQngPwJvTTb5W64NP8c0j1nezPO0OpR8OUtYLth3O8atEQDBni4dH0PkttsL_nbCvYvtH5y185Li3PkUYJxDweRKoVzx2A" },
};
#define KAT_KEYS	"9 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

/* kat_run - issue and verify every known answer n times; failures */
static unsigned
kat_run(const struct token_ring *r, unsigned n)
{
	struct token_info info;
	char tok[TOKEN_MAX], why[256];
	unsigned i, k, bad = 0;

	for (i = 0; i < n; i++)
		for (k = 0; k < sizeof(kats) / sizeof(kats[0]); k++) {
			if (token_issue(r, kats[k].addr, kats[k].list,
			    kats[k].day, tok, sizeof(tok), why,
			    sizeof(why)) < 0 || strcmp(tok, kats[k].token) != 0)
				bad++;
			if (token_verify(r, kats[k].token, kats[k].day, 1,
			    &info) != TOKEN_OK ||
			    strcmp(info.addr, kats[k].addr) != 0 ||
			    strcmp(info.list, kats[k].list) != 0 ||
			    info.issue_day != kats[k].day || info.key_id != 9)
				bad++;
		}
	return bad;
}

static void
t_known_answers(void **state)
{
	struct token_ring *r;
	struct token_info info;
	char tok[TOKEN_MAX], why[256];
	size_t k;

	(void)state;
	r = ring_text(KAT_KEYS);
	for (k = 0; k < sizeof(kats) / sizeof(kats[0]); k++) {
		assert_true(token_issue(r, kats[k].addr, kats[k].list,
		    kats[k].day, tok, sizeof(tok), why, sizeof(why)) > 0);
		if (strcmp(tok, kats[k].token) != 0)
			CASE_FAIL(kats[k].addr, "got %s, want %s", tok,
			    kats[k].token);
		assert_int_equal(token_verify(r, kats[k].token, kats[k].day, 1,
		    &info), TOKEN_OK);
		assert_string_equal(info.addr, kats[k].addr);
	}
	token_ring_free(&r);
}

/* One ring, its keyed contexts shared by threads that issue and verify
 * at once (optin-unsubd's handler threads, the milter's connections). */
struct kat_thread {
	const struct token_ring *r;
	unsigned bad;
};

static void *
kat_thread(void *arg)
{
	struct kat_thread *t = arg;

	t->bad = kat_run(t->r, 2000);
	return NULL;
}

static void
t_threads(void **state)
{
	struct kat_thread t[4];
	pthread_t th[4];
	struct token_ring *r;
	size_t i;

	(void)state;
	r = ring_text(KAT_KEYS);
	for (i = 0; i < 4; i++) {
		t[i].r = r;
		t[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, kat_thread,
		    &t[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (t[i].bad != 0)
			CASE_FAIL("thread", "%u of 12000 wrong", t[i].bad);
	}
	token_ring_free(&r);
}

static void
cleanup_tmp(void)
{
	char path[128];
	unsigned i;

	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/keys%u", tmpdir, i);
		(void)unlink(path);
	}
	(void)rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_roundtrip_random),
		cmocka_unit_test(t_issue_limits),
		cmocka_unit_test(t_tamper_every_byte),
		cmocka_unit_test(t_truncate_extend),
		cmocka_unit_test(t_structure),
		cmocka_unit_test(t_unknown_key_and_wrong_key),
		cmocka_unit_test(t_expiry),
		cmocka_unit_test(t_rotation),
		cmocka_unit_test(t_keyfile),
		cmocka_unit_test(t_misc),
		cmocka_unit_test(t_known_answers),
		cmocka_unit_test(t_threads),
	};
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_token.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = HARNESS_RUN("token", tests);
	cleanup_tmp();
	return rc;
}
