/*
 * test_dkimkey.c - the DKIM key cache (milter/dkim/dkimpkey.c): libopendkim
 * signs with the key parsed at load.  Signatures made through the cache
 * must be the same bytes as those libopendkim makes parsing the key itself
 * (OPTIN_DKIM_KEYCACHE=off), for RSA-2048 and Ed25519 (both deterministic;
 * the signing time is fixed with DKIM_OPTS_FIXEDTIME), on the corpus, from
 * several threads at once, across a reload; dkimpy verifies them.  The
 * interposed PEM_read_bio_PrivateKey() / d2i_PrivateKey_bio() are called
 * directly too: the cached key only for its own bytes while a signature
 * is in progress, OpenSSL's own parser for anything else.
 *
 * Leak check (documented, not in make check: about a minute):
 *   valgrind --leak-check=full --num-callers=40 \
 *     --errors-for-leak-kinds=definite --error-exitcode=1 \
 *     --suppressions=tests/data/dkim/libopendkim.supp \
 *     tests/unit/test_dkimkey
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "harness.h"

#include "config.h"
#include "dkim-private.h"
#include "dkimsign.h"
#include "dkimtest.h"

#define FIXED_TIME	1764892800	/* 2025-12-05 00:00:00 UTC */
#define NTHREADS	4
#define NROUNDS		20

/* open_kc - a signer with the key cache on or off, signing time fixed. */
static struct dkimsign *
open_kc(const struct config *cfg, bool on)
{
	struct dkimsign *ds;
	uint64_t t = FIXED_TIME;

	if (on)
		(void)unsetenv("OPTIN_DKIM_KEYCACHE");
	else
		(void)setenv("OPTIN_DKIM_KEYCACHE", "off", 1);
	ds = signer(cfg);
	(void)unsetenv("OPTIN_DKIM_KEYCACHE");
	assert_int_equal(dkim_options(ds->lib, DKIM_OP_SETOPT,
	    DKIM_OPTS_FIXEDTIME, &t, sizeof t), DKIM_STAT_OK);
	assert_int_equal(ds->kc, on ? KC_ON : KC_OFF);
	return ds;
}

/* same_sigs - the cache's signatures equal libopendkim's own, one by one. */
static bool
same_sigs(const struct dkimsign_result *a, const struct dkimsign_result *b,
    const char *label)
{
	size_t i;

	if (a->n != b->n) {
		print_error("case '%s': got %zu signatures, want %zu\n", label,
		    a->n, b->n);
		return false;
	}
	for (i = 0; i < a->n; i++)
		if (strcmp(a->sig[i].value, b->sig[i].value) != 0) {
			print_error("case '%s': signature %zu differs:\n"
			    "cache: %s\nown:   %s\n", label, i,
			    a->sig[i].value, b->sig[i].value);
			return false;
		}
	return true;
}

/*
 * corpus_same - sign every corpus message with a From through the cache
 * and without it: same bytes, the cache used once per signature, and
 * dkimpy verifies every cached signature.
 */
static void
corpus_same(const struct config *cfg, size_t want_n)
{
	struct dkimsign *fast, *slow;
	struct dkimsign_result rf, rs;
	struct msg m;
	char path[1400], why[512], **list;
	size_t n = 0, i, nb = 0, *which;
	unsigned long hits;
	int failures = 0;

	assert_true(setup_ok);
	fast = open_kc(cfg, true);
	slow = open_kc(cfg, false);
	list = corpus_list(&n);
	if (list == NULL || n < 3)
		fail_msg("fewer than 3 corpus messages in %s", corpus);
	which = calloc(n, sizeof *which);
	assert_non_null(which);
	for (i = 0; i < n; i++) {
		if (!corpus_msg(list[i], &m))
			CASE_FAIL(list[i], "cannot read or parse");
		if (m.from[0] == '\0') {	/* no From: not signed */
			msg_free(&m);
			continue;
		}
		hits = dkimpkey_hits();
		if (dkimsign_message(fast, m.from, m.h, m.nh, m.body,
		    m.bodylen, &rf, why, sizeof why) != 1 ||
		    dkimpkey_hits() - hits != want_n ||
		    dkimsign_message(slow, m.from, m.h, m.nh, m.body,
		    m.bodylen, &rs, why, sizeof why) != 1 ||
		    dkimpkey_hits() - hits != want_n) {
			print_error("case '%s': got %s, cache used %lu times, "
			    "want %zu signatures from the cache\n", list[i],
			    why, dkimpkey_hits() - hits, want_n);
			failures++;
		} else if (!same_sigs(&rf, &rs, list[i]))
			failures++;
		else {
			msg_path(nb, path, sizeof path);
			if (msg_assemble(path, &rf, m.h, m.nh, m.body,
			    m.bodylen))
				which[nb++] = i;
		}
		dkimsign_result_free(&rf);
		dkimsign_result_free(&rs);
		msg_free(&m);
	}
	if (nb < 3)
		fail_msg("only %zu corpus messages signed", nb);
	failures += verify_cases(nb, want_n, list, which);
	free(which);
	corpus_free(list);
	dkimsign_free(&fast);
	dkimsign_free(&slow);
	assert_int_equal(failures, 0);
}

/* the corpus through the cache and without it: RSA-2048, Ed25519 (RFC
 * 8463), both signatures on each message */
static void
t_corpus(void **state)
{
	static const struct {
		enum cfg_sigalg alg;
		bool ed_only;
		size_t n;
	} cases[] = {
		{ SIGALG_RSA, false, 1 },
		{ SIGALG_ED25519, true, 1 },
		{ SIGALG_BOTH, false, 2 },
	};
	struct config cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].ed_only)
			cfg_single(&cfg, cases[i].alg, k_ed, "ed2026", NULL,
			    NULL);
		else
			cfg_single(&cfg, cases[i].alg, k_rsa, "rsa2026", k_ed,
			    "ed2026");
		corpus_same(&cfg, cases[i].n);
	}
}

static const struct dkimsign_hdr thr_hdrs[] = {
	{ "From", "News <news@example.com>" },
	{ "To", "ann@example.net" },
	{ "Subject", "Threads" },
	{ "Date", "Sat, 05 Dec 2026 06:00:00 +0000" },
	{ "Message-ID", "<thr@example.com>" },
};
#define NTHR_HDRS (sizeof thr_hdrs / sizeof thr_hdrs[0])
static const unsigned char thr_body[] = "Hello from a thread.\r\n";

struct thr {
	const struct dkimsign *ds;
	const struct dkimsign_result *want;
	unsigned long hits;		/* keys the cache gave this thread */
	int bad;
};

/* thr_sign - thread body: sign NROUNDS times, each must equal want. */
static void *
thr_sign(void *arg)
{
	struct thr *t = arg;
	struct dkimsign_result res;
	unsigned long h0 = dkimpkey_hits();
	char why[256];
	int i;

	for (i = 0; i < NROUNDS; i++) {
		if (dkimsign_message(t->ds, "news@example.com", thr_hdrs,
		    NTHR_HDRS, thr_body, sizeof thr_body - 1, &res, why,
		    sizeof why) != 1 || !same_sigs(&res, t->want, "thread"))
			t->bad++;
		dkimsign_result_free(&res);
	}
	t->hits = dkimpkey_hits() - h0;
	return NULL;
}

/* several threads sign at once with one signer's cached keys */
static void
t_threads(void **state)
{
	struct thr t[NTHREADS];
	pthread_t tid[NTHREADS];
	struct dkimsign *fast, *slow;
	struct dkimsign_result want;
	struct config cfg;
	const char *out;
	char why[256];
	size_t i;

	(void)state;
	assert_true(setup_ok);
	cfg_single(&cfg, SIGALG_BOTH, k_rsa, "rsa2026", k_ed, "ed2026");
	fast = open_kc(&cfg, true);
	slow = open_kc(&cfg, false);
	assert_int_equal(dkimsign_message(slow, "news@example.com", thr_hdrs,
	    NTHR_HDRS, thr_body, sizeof thr_body - 1, &want, why, sizeof why),
	    1);
	assert_true(verify(&want, thr_hdrs, NTHR_HDRS, thr_body,
	    sizeof thr_body - 1, 2, &out));
	memset(t, 0, sizeof t);
	for (i = 0; i < NTHREADS; i++) {
		t[i].ds = fast;
		t[i].want = &want;
		assert_int_equal(pthread_create(&tid[i], NULL, thr_sign, &t[i]),
		    0);
	}
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	for (i = 0; i < NTHREADS; i++)
		if (t[i].bad != 0 || t[i].hits != 2 * NROUNDS)
			CASE_FAIL("threads", "thread %zu: got %d differing "
			    "signatures and %lu cached keys, want 0 and %d", i,
			    t[i].bad, t[i].hits, 2 * NROUNDS);
	dkimsign_result_free(&want);
	dkimsign_free(&fast);
	dkimsign_free(&slow);
}

/* a reload (the key file unchanged) signs the same; the old signer can
 * be freed while the new one is in use */
static void
t_reload(void **state)
{
	struct dkimsign *a, *b;
	struct dkimsign_result ra, rb;
	struct config cfg;
	char why[256];
	uint64_t t = FIXED_TIME;

	(void)state;
	assert_true(setup_ok);
	cfg_single(&cfg, SIGALG_BOTH, k_rsa, "rsa2026", k_ed, "ed2026");
	a = open_kc(&cfg, true);
	assert_int_equal(dkimsign_message(a, "news@example.com", thr_hdrs,
	    NTHR_HDRS, thr_body, sizeof thr_body - 1, &ra, why, sizeof why), 1);
	b = dkimsign_reload(&cfg, a, why, sizeof why);
	if (b == NULL)
		fail_msg("dkimsign_reload: %s", why);
	assert_int_equal(b->kc, KC_ON);
	assert_int_equal(dkim_options(b->lib, DKIM_OP_SETOPT,
	    DKIM_OPTS_FIXEDTIME, &t, sizeof t), DKIM_STAT_OK);
	dkimsign_free(&a);
	assert_int_equal(dkimsign_message(b, "news@example.com", thr_hdrs,
	    NTHR_HDRS, thr_body, sizeof thr_body - 1, &rb, why, sizeof why), 1);
	assert_true(same_sigs(&rb, &ra, "reload"));
	dkimsign_result_free(&ra);
	dkimsign_result_free(&rb);
	dkimsign_free(&b);
}

/* mem_bio - a memory BIO over p (caller frees). */
static BIO *
mem_bio(const void *p, size_t len)
{
	BIO *b = BIO_new_mem_buf(p, (int)len);

	assert_non_null(b);
	return b;
}

/* case table: what the interposed parsers return */
struct icase {
	const char *label;
	int what;		/* 0 own PEM, 1 own DER, 2 other key's PEM,
				 * 3 own PEM one byte changed, 4 own PEM with
				 * a password callback */
	bool inside;		/* between dkimpkey_enter and _leave */
	int want;		/* 0 the cached key, 1 a new key, 3 not
				 * the cached key (a new one or NULL) */
};

static const struct icase icases[] = {
	{ "own PEM, signing", 0, true, 0 },
	{ "own DER, signing", 1, true, 0 },
	{ "own PEM, not signing", 0, false, 1 },
	{ "own DER, not signing", 1, false, 1 },
	{ "other key's PEM, signing", 2, true, 1 },
	{ "own PEM changed, signing", 3, true, 3 },
	{ "own PEM, password callback", 4, true, 1 },
};

/* nopass - a password callback that refuses */
static int
nopass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* the interposed parsers, case by case (RSA and Ed25519 keys) */
static void
t_interposer(void **state)
{
	struct dkimsign *ds;
	struct config cfg;
	const struct dkey *k;
	unsigned char *pem;
	char *other;
	size_t i, j, olen;
	EVP_PKEY *pk;
	BIO *b;
	int got;

	(void)state;
	assert_true(setup_ok);
	cfg_single(&cfg, SIGALG_BOTH, k_rsa, "rsa2026", k_ed, "ed2026");
	ds = open_kc(&cfg, true);
	assert_int_equal(ds->nkeys, 2);
	other = file_read(k_rsa2, &olen);
	assert_non_null(other);
	for (j = 0; j < ds->nkeys; j++) {
		k = &ds->keys[j];
		pem = malloc(k->pemlen);
		assert_non_null(pem);
		memcpy(pem, k->pem, k->pemlen);
		pem[k->pemlen / 2] ^= 1;
		for (i = 0; i < sizeof icases / sizeof icases[0]; i++) {
			const struct icase *c = &icases[i];

			b = c->what == 1 ? mem_bio(k->der, k->derlen) :
			    c->what == 2 ? mem_bio(other, olen) :
			    c->what == 3 ? mem_bio(pem, k->pemlen) :
			    mem_bio(k->pem, k->pemlen);
			if (c->inside)
				dkimpkey_enter(ds, k);
			pk = c->what == 1 ? d2i_PrivateKey_bio(b, NULL) :
			    PEM_read_bio_PrivateKey(b, NULL,
			    c->what == 4 ? nopass : NULL, NULL);
			dkimpkey_leave();
			got = pk == NULL ? 2 : pk == k->pkey ? 0 : 1;
			ERR_clear_error();
			if (c->want == 3 ? got == 0 : got != c->want)
				CASE_FAIL(c->label, "%s key: got %d, want %d "
				    "(0 cached, 1 parsed, 2 none)",
				    alg_name(k->bit), got, c->want);
			/* a key we were given a reference to is ours */
			if (pk != NULL && (pk != k->pkey ||
			    (ds->libfrees & k->bit)))
				EVP_PKEY_free(pk);
			BIO_free(b);
		}
		free(pem);
	}
	/* libopendkim 2.11 releases RSA keys; the probe saw it */
	assert_true(ds->libfrees & SIGALG_RSA);
	free(other);
	dkimsign_free(&ds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_corpus),
		cmocka_unit_test(t_threads),
		cmocka_unit_test(t_reload),
		cmocka_unit_test(t_interposer),
	};

	return dkimtest_run("dkimkey", tests, sizeof tests / sizeof tests[0]);
}
