/*
 * test_dkimsign.c - DKIM signing (milter/dkim/dkimsign.c) checked by an
 * independent verifier: every signature made here is verified by dkimpy
 * (tests/unit/dkim_verify.py, run with /usr/bin/python3) against the DNS
 * records dkimsign_dns_records() prints, never live DNS.
 *
 * Keys are made at test time in a mkdtemp(3) directory (mode 0600):
 * RSA-2048 and Ed25519 with openssl genpkey, a weak RSA-1024, an encrypted
 * key, a 0644 copy, and an RSA key made by opendkim-genkey; nothing secret
 * is committed.  Corpus: $OPTIN_CORPUS, else $top_srcdir/tests/data/corpus
 * (top_srcdir is set by "make check"; "." when run by hand from the top).
 *
 * Single-threaded except t_threads, which signs from four threads at once.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

#include "config.h"
#include "dkimsign.h"
#include "dkimtest.h"


/* ------------------------------------------------------------------ */
/* tests */

/* corpus_sign - sign every corpus message with cfg and verify each
 * signature with dkimpy; a message without From must be refused. */
static void
corpus_sign(const struct config *cfg, size_t want_n, const char *want_alg0)
{
	struct dkimsign *ds;
	struct dkimsign_result res;
	struct msg m;
	char path[1400], why[512], **list;
	size_t n = 0, i, j, nb = 0, *which = NULL;
	int rc, failures = 0;
	bool has_from;

	assert_true(setup_ok);
	ds = signer(cfg);
	list = corpus_list(&n);
	if (list == NULL || n == 0)
		fail_msg("no corpus messages in %s (set OPTIN_CORPUS)", corpus);
	which = calloc(n, sizeof *which);
	assert_non_null(which);
	for (i = 0; i < n; i++) {
		if (!corpus_msg(list[i], &m)) {
			print_error("case '%s': cannot read or parse\n",
			    list[i]);
			failures++;
			msg_free(&m);
			continue;
		}
		has_from = false;
		for (j = 0; j < m.nh; j++)
			if (strcasecmp(m.h[j].name, "From") == 0)
				has_from = true;
		why[0] = '\0';
		rc = dkimsign_message(ds, has_from ? m.from : NULL, m.h, m.nh,
		    m.body, m.bodylen, &res, why, sizeof why);
		if (!has_from) {
			if (rc != -1 || res.n != 0) {
				print_error("case '%s': no From: got rc %d, "
				    "want -1\n", list[i], rc);
				failures++;
			}
		} else if (rc != 1 || res.n != want_n) {
			print_error("case '%s': got rc %d n %zu (%s), want rc "
			    "1 n %zu\n", list[i], rc, res.n, why, want_n);
			failures++;
		} else if (strcmp(res.sig[0].alg, want_alg0) != 0) {
			print_error("case '%s': got alg %s, want %s\n",
			    list[i], res.sig[0].alg, want_alg0);
			failures++;
		} else {
			msg_path(nb, path, sizeof path);
			if (msg_assemble(path, &res, m.h, m.nh, m.body,
			    m.bodylen))
				which[nb++] = i;
			else {
				print_error("case '%s': cannot write %s\n",
				    list[i], path);
				failures++;
			}
		}
		dkimsign_result_free(&res);
		msg_free(&m);
	}
	/* one dkimpy run for all signed messages */
	failures += verify_cases(nb, want_n, list, which);
	free(which);
	corpus_free(list);
	dkimsign_free(&ds);
	assert_null(ds);
	assert_int_equal(failures, 0);
}

/* the corpus signed with rsa-sha256 */
static void
t_corpus_rsa(void **state)
{
	struct config cfg;

	(void)state;
	cfg_single(&cfg, SIGALG_RSA, k_rsa, "rsa2026", NULL, NULL);
	corpus_sign(&cfg, 1, "rsa-sha256");
}

/* the corpus signed with ed25519-sha256 (RFC 8463) */
static void
t_corpus_ed25519(void **state)
{
	struct config cfg;

	(void)state;
	cfg_single(&cfg, SIGALG_ED25519, k_ed, "ed2026", NULL, NULL);
	corpus_sign(&cfg, 1, "ed25519-sha256");
}

/* the corpus signed twice ("both"); both signatures must verify */
static void
t_corpus_both(void **state)
{
	struct config cfg;

	(void)state;
	cfg_single(&cfg, SIGALG_BOTH, k_rsa, "rsa2026", k_ed, "ed2026");
	corpus_sign(&cfg, 2, "rsa-sha256");
}

/* a campaign as the milter leaves it: our headers added at the end */
static const struct dkimsign_hdr campaign_hdrs[] = {
	{ "Received", "from app.example.com by mx.example.com" },
	{ "From", "News <news@example.com>" },
	{ "To", "ann@example.net" },
	{ "Subject", "Our spring offers" },
	{ "Date", "Mon, 02 Mar 2026 10:00:00 +0000" },
	{ "Message-ID", "<c1@example.com>" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "text/plain; charset=utf-8" },
	{ "X-Campaign-ID", "spring" },
	{ "Feedback-ID", "spring:news:example" },
	{ "List-Id", "News <news.example.com>" },
	{ "List-Unsubscribe", "<https://unsub.example.com/u/TOKEN>,\n\t"
	    "<mailto:unsub@example.com?subject=unsubscribe>" },
	{ "List-Unsubscribe-Post", "List-Unsubscribe=One-Click" },
};
#define NCAMP (sizeof campaign_hdrs / sizeof campaign_hdrs[0])
static const unsigned char campaign_body[] = "Hello Ann,\r\n\r\nOffers.\r\n";

/* sign_campaign - sign the campaign message with cfg into res. */
static struct dkimsign *
sign_campaign(const struct config *cfg, struct dkimsign_result *res)
{
	struct dkimsign *ds;
	char why[512];
	int rc;

	ds = signer(cfg);
	rc = dkimsign_message(ds, "news@example.com", campaign_hdrs, NCAMP,
	    campaign_body, sizeof campaign_body - 1, res, why, sizeof why);
	if (rc != 1)
		fail_msg("dkimsign_message: rc %d: %s", rc, why);
	return ds;
}

/* h= and the other tags of what we sign, for each algorithm */
static void
t_signed_headers(void **state)
{
	static const struct {
		const char *label, *name;
		int want;	/* times in h= */
	} cases[] = {
		{ "from oversigned", "from", 2 },
		{ "list-unsubscribe oversigned", "list-unsubscribe", 2 },
		{ "list-unsubscribe-post oversigned", "list-unsubscribe-post",
		    2 },
		{ "to signed", "to", 1 },
		{ "subject signed", "subject", 1 },
		{ "date signed", "date", 1 },
		{ "message-id signed", "message-id", 1 },
		{ "mime-version signed", "mime-version", 1 },
		{ "content-type signed", "content-type", 1 },
		{ "list-id signed", "list-id", 1 },
		{ "feedback-id signed", "feedback-id", 1 },
		{ "cc absent, not listed", "cc", 0 },
		{ "reply-to absent, not listed", "reply-to", 0 },
		{ "received not signed", "received", 0 },
		{ "x-campaign-id not signed", "x-campaign-id", 0 },
	};
	static const enum cfg_sigalg algs[] = { SIGALG_RSA, SIGALG_BOTH };
	struct dkimsign_result res;
	struct dkimsign *ds;
	struct config cfg;
	char hl[2048], v[256], label[128];
	const char *out;
	size_t a, i, s;
	int got;

	(void)state;
	assert_true(setup_ok);
	for (a = 0; a < 2; a++) {
		cfg_single(&cfg, algs[a], k_rsa, "rsa2026", k_ed, "ed2026");
		ds = sign_campaign(&cfg, &res);
		assert_int_equal(res.n, algs[a] == SIGALG_BOTH ? 2 : 1);
		for (s = 0; s < res.n; s++) {
			const char *sig = res.sig[s].value;

			(void)snprintf(label, sizeof label, "%s",
			    res.sig[s].alg);
			assert_true(tag_value(sig, "h", hl, sizeof hl));
			for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
				got = h_count(hl, cases[i].name);
				if (got != cases[i].want)
					CASE_FAIL(cases[i].label, "%s: got %d "
					    "in h=%s, want %d", label, got, hl,
					    cases[i].want);
				if (dkimsign_covers(sig, cases[i].name) !=
				    (cases[i].want > 0))
					CASE_FAIL(cases[i].label, "%s: "
					    "dkimsign_covers disagrees", label);
			}
			if (tag_value(sig, "l", v, sizeof v))
				CASE_FAIL("no l=", "%s: got l=%s, want none",
				    label, v);
			if (!tag_value(sig, "c", v, sizeof v) ||
			    strcmp(v, "relaxed/relaxed") != 0)
				CASE_FAIL("c=", "%s: got %s, want "
				    "relaxed/relaxed", label, v);
			if (!tag_value(sig, "a", v, sizeof v) ||
			    strcmp(v, res.sig[s].alg) != 0)
				CASE_FAIL("a=", "%s: got a=%s", label, v);
			if (!tag_value(sig, "d", v, sizeof v) ||
			    strcmp(v, "example.com") != 0 ||
			    strcmp(res.sig[s].domain, "example.com") != 0)
				CASE_FAIL("d=", "%s: got %s", label, v);
			if (!tag_value(sig, "s", v, sizeof v) ||
			    strcmp(v, res.sig[s].selector) != 0 ||
			    strcmp(v, strcmp(label, "rsa-sha256") == 0 ?
			    "rsa2026" : "ed2026") != 0)
				CASE_FAIL("s=", "%s: got %s", label, v);
			if (strchr(sig, '\r') != NULL ||
			    strstr(sig, "\n\t") == NULL)
				CASE_FAIL("folding", "%s: want \"\\n\\t\" "
				    "folds, no CR: %s", label, sig);
		}
		if (!verify(&res, campaign_hdrs, NCAMP, campaign_body,
		    sizeof campaign_body - 1, res.n, &out))
			CASE_FAIL("campaign verifies", "%s", out);
		dkimsign_result_free(&res);
		assert_int_equal(res.n, 0);
		dkimsign_free(&ds);
	}
}

/* tampering with the signed headers after signing */
static void
t_tamper(void **state)
{
	enum op { NONE, REPLACE, ADD_TOP, ADD_END, DROP, BODY };
	static const struct {
		const char *label;
		enum op op;
		const char *name, *value;
		bool want_ok;
	} cases[] = {
		{ "unchanged", NONE, NULL, NULL, true },
		{ "unsigned header added", ADD_END, "X-Mailer", "x", true },
		{ "List-Unsubscribe changed", REPLACE, "List-Unsubscribe",
		    "<https://evil.example/u/1>", false },
		{ "second List-Unsubscribe at top", ADD_TOP,
		    "List-Unsubscribe", "<https://evil.example/u/2>", false },
		{ "second List-Unsubscribe at end", ADD_END,
		    "List-Unsubscribe", "<https://evil.example/u/3>", false },
		{ "second List-Unsubscribe-Post", ADD_END,
		    "List-Unsubscribe-Post", "List-Unsubscribe=One-Click",
		    false },
		{ "List-Unsubscribe-Post removed", DROP,
		    "List-Unsubscribe-Post", NULL, false },
		{ "second From added", ADD_TOP, "From", "evil@example.org",
		    false },
		{ "Subject changed", REPLACE, "Subject", "Other", false },
		{ "body changed", BODY, NULL, NULL, false },
	};
	static const unsigned char other_body[] = "Hello Bob,\r\n";
	static const enum cfg_sigalg algs[] = { SIGALG_RSA, SIGALG_ED25519 };
	struct dkimsign_hdr h[NCAMP + 1];
	struct dkimsign_result res;
	struct dkimsign *ds;
	struct config cfg;
	const unsigned char *body;
	const char *out;
	char path[256];
	size_t a, i, j, nh, blen;
	bool ok[sizeof cases / sizeof cases[0]];

	(void)state;
	assert_true(setup_ok);
	for (a = 0; a < 2; a++) {
		cfg_single(&cfg, algs[a], algs[a] == SIGALG_RSA ? k_rsa : k_ed,
		    "t2026", NULL, NULL);
		ds = sign_campaign(&cfg, &res);
		for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			nh = 0;
			body = campaign_body;
			blen = sizeof campaign_body - 1;
			if (cases[i].op == ADD_TOP) {
				h[nh].name = cases[i].name;
				h[nh++].value = cases[i].value;
			}
			for (j = 0; j < NCAMP; j++) {
				h[nh] = campaign_hdrs[j];
				if (cases[i].name != NULL &&
				    strcmp(h[nh].name, cases[i].name) == 0) {
					if (cases[i].op == DROP)
						continue;
					if (cases[i].op == REPLACE)
						h[nh].value = cases[i].value;
				}
				nh++;
			}
			if (cases[i].op == ADD_END) {
				h[nh].name = cases[i].name;
				h[nh++].value = cases[i].value;
			}
			if (cases[i].op == BODY) {
				body = other_body;
				blen = sizeof other_body - 1;
			}
			msg_path(i, path, sizeof path);
			assert_true(msg_assemble(path, &res, h, nh, body,
			    blen));
		}
		if (!verify_batch(i, 1, ok, &out))
			fail_msg("dkimpy did not run: %s", out);
		for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
			if (ok[i] != cases[i].want_ok)
				CASE_FAIL(cases[i].label, "%s: got %s, want "
				    "%s\n%s", res.sig[0].alg,
				    ok[i] ? "pass" : "fail",
				    cases[i].want_ok ? "pass" : "fail",
				    detail(out, i));
		dkimsign_result_free(&res);
		dkimsign_free(&ds);
	}
}

/* a message without From is refused */
static void
t_no_from(void **state)
{
	static const struct dkimsign_hdr h[] = {
		{ "To", "ann@example.net" }, { "Subject", "x" },
	};
	struct dkimsign_result res;
	struct dkimsign *ds;
	struct config cfg;
	char why[256] = "";
	int rc;

	(void)state;
	assert_true(setup_ok);
	cfg_single(&cfg, SIGALG_RSA, k_rsa, "rsa2026", NULL, NULL);
	ds = signer(&cfg);
	rc = dkimsign_message(ds, "news@example.com", h, 2,
	    (const unsigned char *)"x\r\n", 3, &res, why, sizeof why);
	if (rc != -1 || res.n != 0 || strstr(why, "From") == NULL)
		CASE_FAIL("no From", "got rc %d n %zu why '%s', want -1 and "
		    "a reason naming From", rc, res.n, why);
	dkimsign_free(&ds);
}

/* dkimsign_open errors: every reason names what is wrong */
static void
t_open_errors(void **state)
{
	enum kind { SINGLE, TABLES };
	struct {
		const char *label;
		enum kind kind;
		enum cfg_sigalg alg;
		const char *key, *edkey, *edsel;
		const char *keytable, *signtable;	/* texts */
		const char *want1, *want2;	/* substrings of why */
	} cases[] = {
		{ "weak 1024-bit RSA", SINGLE, SIGALG_RSA, k_weak, NULL, NULL,
		    NULL, NULL, k_weak, "1024" },
		{ "key mode 0644", SINGLE, SIGALG_RSA, k_open, NULL, NULL,
		    NULL, NULL, k_open, "0644" },
		{ "missing key", SINGLE, SIGALG_RSA, k_missing, NULL, NULL,
		    NULL, NULL, k_missing, NULL },
		{ "directory as key", SINGLE, SIGALG_RSA, tmpdir, NULL, NULL,
		    NULL, NULL, tmpdir, "regular" },
		{ "encrypted key", SINGLE, SIGALG_ED25519, k_enc, NULL, NULL,
		    NULL, NULL, k_enc, "unencrypted" },
		{ "ed25519 key for rsa-sha256", SINGLE, SIGALG_RSA, k_ed, NULL,
		    NULL, NULL, NULL, k_ed, "Ed25519" },
		{ "rsa key for ed25519-sha256", SINGLE, SIGALG_ED25519, k_rsa,
		    NULL, NULL, NULL, NULL, k_rsa, "RSA" },
		{ "both without KeyFileEd25519", SINGLE, SIGALG_BOTH, k_rsa,
		    NULL, NULL, NULL, NULL, "KeyFileEd25519", NULL },
		{ "both without SelectorEd25519", SINGLE, SIGALG_BOTH, k_rsa,
		    k_ed, NULL, NULL, NULL, "SelectorEd25519", NULL },
		{ "both with keys swapped", SINGLE, SIGALG_BOTH, k_ed, k_rsa,
		    "ed", NULL, NULL, k_ed, NULL },
		{ "KeyTable 0644 key", TABLES, SIGALG_RSA, NULL, NULL, NULL,
		    "k1 example.com:s1:%O\n", "*@example.com k1\n", k_open,
		    "0644" },
		{ "KeyTable weak key", TABLES, SIGALG_RSA, NULL, NULL, NULL,
		    "k1 example.com:s1:%W\n", "*@example.com k1\n", k_weak,
		    "1024" },
		{ "KeyTable inline key data", TABLES, SIGALG_RSA, NULL, NULL,
		    NULL, "k1 example.com:s1:MIIEvQIBADANBgkq\n",
		    "*@example.com k1\n", "inline", NULL },
		{ "KeyTable bad line", TABLES, SIGALG_RSA, NULL, NULL, NULL,
		    "k1 example.com\n", "*@example.com k1\n", "keytable:1",
		    NULL },
		{ "SigningTable unknown key", TABLES, SIGALG_RSA, NULL, NULL,
		    NULL, "k1 example.com:s1:%R\n", "*@example.com k2\n",
		    "'k2'", NULL },
		{ "file: wildcard needs refile:", TABLES, SIGALG_RSA, NULL,
		    NULL, NULL, "k1 example.com:s1:%R\n",
		    "news*@example.com k1\n", "refile:", NULL },
		{ "no key for the algorithm", TABLES, SIGALG_ED25519, NULL,
		    NULL, NULL, "k1 example.com:s1:%R\n", "example.com k1\n",
		    "ed25519-sha256", NULL },
	};
	struct dkimsign *ds;
	struct config cfg;
	char why[512], kt[128], st[128], ktext[512], *p;
	const char *sub;
	size_t i;

	(void)state;
	assert_true(setup_ok);
	(void)snprintf(kt, sizeof kt, "%s/keytable", tmpdir);
	(void)snprintf(st, sizeof st, "%s/signingtable", tmpdir);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].kind == SINGLE) {
			cfg_single(&cfg, cases[i].alg, cases[i].key, "s1",
			    cases[i].edkey, cases[i].edsel);
		} else {
			/* %R, %O, %W: good, 0644 and weak RSA key paths */
			ktext[0] = '\0';
			for (p = (char *)cases[i].keytable; *p != '\0'; p++) {
				if (*p == '%' && (p[1] == 'R' || p[1] == 'O' ||
				    p[1] == 'W')) {
					strcat(ktext, p[1] == 'R' ? k_rsa :
					    p[1] == 'O' ? k_open : k_weak);
					p++;
				} else
					strncat(ktext, p, 1);
			}
			assert_true(file_write(kt, ktext, strlen(ktext)));
			assert_true(file_write(st, cases[i].signtable,
			    strlen(cases[i].signtable)));
			memset(&cfg, 0, sizeof cfg);
			cfg.signing_algorithm = cases[i].alg;
			cfg.key_table = kt;
			cfg.signing_table = st;
		}
		why[0] = '\0';
		ds = dkimsign_open(&cfg, why, sizeof why);
		if (ds != NULL) {
			CASE_FAIL(cases[i].label, "got a signer, want NULL");
			dkimsign_free(&ds);
			continue;
		}
		sub = cases[i].want1;
		if (strstr(why, sub) == NULL && strcasestr(why, sub) == NULL)
			CASE_FAIL(cases[i].label, "got why '%s', want it to "
			    "name '%s'", why, sub);
		sub = cases[i].want2;
		if (sub != NULL && strstr(why, sub) == NULL)
			CASE_FAIL(cases[i].label, "got why '%s', want it to "
			    "name '%s'", why, sub);
		if (strstr(why, "MIIEvQ") != NULL)
			CASE_FAIL(cases[i].label, "key data in why: %s", why);
	}
	/* nothing configured: NULL and no error */
	memset(&cfg, 0, sizeof cfg);
	cfg.signing_algorithm = SIGALG_RSA;
	cfg.domain = (char *)"example.com";
	(void)snprintf(why, sizeof why, "junk");
	ds = dkimsign_open(&cfg, why, sizeof why);
	if (ds != NULL || why[0] != '\0')
		CASE_FAIL("not configured", "got %p why '%s', want NULL, ''",
		    (void *)ds, why);
	dkimsign_free(&ds);
	dkimsign_free(NULL);
}

/* KeyTable/SigningTable selection, including an opendkim-genkey key */
static void
t_tables(void **state)
{
	static const char *st_file =
	    "# OpenDKIM-style signing table\n"
	    "*@example.com      k-com\n"
	    "*@example.com      k-com-ed\n"
	    "ceo@example.com    k-ceo\n"
	    "example.org        k-org\n"
	    "Boss@Example.NET   k-boss\n";
	static const char *st_refile =
	    "news*@example.com  k-ceo\n"
	    "*@*.example.com    k-com\n"
	    "example.org        k-org\n";
	static const struct {
		const char *label;
		bool refile;
		enum cfg_sigalg alg;
		const char *from;
		int want_rc;
		const char *want_s0, *want_s1;	/* selectors */
	} cases[] = {
		{ "*@domain", false, SIGALG_RSA, "ann@example.com", 1, "kcom",
		    NULL },
		{ "*@domain, case", false, SIGALG_RSA, "Ann@EXAMPLE.com", 1,
		    "kcom", NULL },
		{ "*@domain both", false, SIGALG_BOTH, "ann@example.com", 1,
		    "kcom", "kcomed" },
		{ "*@domain ed25519", false, SIGALG_ED25519, "ann@example.com",
		    1, "kcomed", NULL },
		{ "address beats *@domain", false, SIGALG_RSA,
		    "ceo@example.com", 1, "kceo", NULL },
		{ "address + ed25519 from *@domain", false, SIGALG_BOTH,
		    "ceo@example.com", 1, "kceo", "kcomed" },
		{ "domain, opendkim-genkey key", false, SIGALG_RSA,
		    "x@example.org", 1, "gk", NULL },
		{ "exact address", false, SIGALG_RSA, "boss@example.net", 1,
		    "kboss", NULL },
		{ "other address in domain", false, SIGALG_RSA,
		    "other@example.net", 0, NULL, NULL },
		{ "subdomain not matched", false, SIGALG_RSA,
		    "ann@sub.example.com", 0, NULL, NULL },
		{ "no ed25519 key for domain", false, SIGALG_ED25519,
		    "x@example.org", 0, NULL, NULL },
		{ "no From address", false, SIGALG_RSA, NULL, 0, NULL, NULL },
		{ "angle brackets", false, SIGALG_RSA, "<x@example.org>", 1,
		    "gk", NULL },
		{ "refile prefix glob", true, SIGALG_RSA,
		    "news-letter@example.com", 1, "kceo", NULL },
		{ "refile subdomain glob", true, SIGALG_RSA,
		    "bob@a.b.example.com", 1, "kcom", NULL },
		{ "refile domain-only pattern", true, SIGALG_RSA,
		    "x@example.org", 1, "gk", NULL },
		{ "refile no match", true, SIGALG_RSA, "bob@example.com", 0,
		    NULL, NULL },
	};
	struct dkimsign_result res;
	struct dkimsign *ds = NULL;
	struct config cfg;
	char kt[128], st[128], ktext[2048], stpath[160], why[512];
	const char *out, *text;
	size_t i;
	int rc;
	bool cur_refile = false;

	(void)state;
	assert_true(setup_ok);
	(void)snprintf(kt, sizeof kt, "%s/keytable", tmpdir);
	(void)snprintf(st, sizeof st, "%s/signingtable", tmpdir);
	(void)snprintf(ktext, sizeof ktext,
	    "k-com     example.com:kcom:%s\n"
	    "k-com-ed  example.com:kcomed:%s\n"
	    "k-ceo     example.com:kceo:%s\n"
	    "k-org     example.org:gk:%s   # made by opendkim-genkey\n"
	    "k-boss    example.net:kboss:%s\n", k_rsa, k_ed, k_rsa2, k_gk,
	    k_rsa);
	assert_true(file_write(kt, ktext, strlen(ktext)));
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (ds == NULL || cfg.signing_algorithm != cases[i].alg ||
		    cur_refile != cases[i].refile) {
			dkimsign_free(&ds);
			cur_refile = cases[i].refile;
			text = cur_refile ? st_refile : st_file;
			assert_true(file_write(st, text, strlen(text)));
			(void)snprintf(stpath, sizeof stpath, "%s%s",
			    cur_refile ? "refile:" : "file:", st);
			memset(&cfg, 0, sizeof cfg);
			cfg.signing_algorithm = cases[i].alg;
			cfg.key_table = kt;
			cfg.signing_table = stpath;
			ds = signer(&cfg);
		}
		why[0] = '\0';
		rc = dkimsign_message(ds, cases[i].from, campaign_hdrs, NCAMP,
		    campaign_body, sizeof campaign_body - 1, &res, why,
		    sizeof why);
		if (rc != cases[i].want_rc) {
			CASE_FAIL(cases[i].label, "got rc %d (%s), want %d",
			    rc, why, cases[i].want_rc);
			continue;
		}
		if (rc != 1) {
			if (res.n != 0)
				CASE_FAIL(cases[i].label, "got n %zu, want 0",
				    res.n);
			continue;
		}
		if (res.n != (cases[i].want_s1 != NULL ? 2u : 1u) ||
		    strcmp(res.sig[0].selector, cases[i].want_s0) != 0 ||
		    (res.n == 2 && strcmp(res.sig[1].selector,
		    cases[i].want_s1) != 0))
			CASE_FAIL(cases[i].label, "got n %zu s=%s%s%s, want "
			    "s=%s%s%s", res.n, res.sig[0].selector,
			    res.n == 2 ? " s=" : "",
			    res.n == 2 ? res.sig[1].selector : "",
			    cases[i].want_s0, cases[i].want_s1 ? " s=" : "",
			    cases[i].want_s1 ? cases[i].want_s1 : "");
		else if (!verify(&res, campaign_hdrs, NCAMP, campaign_body,
		    sizeof campaign_body - 1, res.n, &out))
			CASE_FAIL(cases[i].label, "dkimpy: got failure, want "
			    "pass\n%s", out);
		dkimsign_result_free(&res);
	}
	dkimsign_free(&ds);
}

/* what rec_find() looks for and found */
struct rec_find {
	const char *name;
	char txt[2048];
	int n;
};

/* rec_find - dkimsign_dns_records callback: count the records and keep
 * the text of the one named rf->name. */
static void
rec_find(const char *name, const char *txt, void *arg)
{
	struct rec_find *rf = arg;

	rf->n++;
	if (strcmp(name, rf->name) == 0)
		(void)snprintf(rf->txt, sizeof rf->txt, "%s", txt);
}

/* genkey_p - the p= value of an opendkim-genkey .txt (quoted pieces). */
static bool
genkey_p(const char *path, char *out, size_t outlen)
{
	char *text, *p, *q, joined[4096];
	size_t o = 0;

	if ((text = file_read(path, NULL)) == NULL)
		return false;
	for (p = text; (p = strchr(p, '"')) != NULL; p = q + 1) {
		if ((q = strchr(p + 1, '"')) == NULL)
			break;
		if (o + (size_t)(q - p) >= sizeof joined)
			break;
		memcpy(joined + o, p + 1, (size_t)(q - p - 1));
		o += (size_t)(q - p - 1);
	}
	joined[o] = '\0';
	free(text);
	if ((p = strstr(joined, "p=")) == NULL)
		return false;
	(void)snprintf(out, outlen, "%.*s", (int)strcspn(p + 2, "; "), p + 2);
	return true;
}

/* the DNS records: format, and the same keys openssl/opendkim-genkey see */
static void
t_dns_records(void **state)
{
	struct {
		const char *label;
		enum cfg_sigalg alg;
		const char *key, *name, *want_prefix, *cmd;
	} cases[] = {
		{ "rsa", SIGALG_RSA, k_rsa, "rsa2026._domainkey.example.com",
		    "v=DKIM1; k=rsa; p=", "base64 -w0" },
		{ "ed25519", SIGALG_ED25519, k_ed,
		    "rsa2026._domainkey.example.com", "v=DKIM1; k=ed25519; p=",
		    "tail -c 32 | base64 -w0" },
		{ "opendkim-genkey", SIGALG_RSA, k_gk,
		    "rsa2026._domainkey.example.com", "v=DKIM1; k=rsa; p=",
		    NULL },
	};
	struct rec_find rf;
	struct dkimsign *ds;
	struct config cfg;
	char why[256], opath[128], want[1024], *got;
	size_t i;

	(void)state;
	assert_true(setup_ok);
	(void)snprintf(opath, sizeof opath, "%s/pub.b64", tmpdir);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cfg_single(&cfg, cases[i].alg, cases[i].key, "rsa2026", NULL,
		    NULL);
		ds = signer(&cfg);
		memset(&rf, 0, sizeof rf);
		rf.name = cases[i].name;
		assert_int_equal(dkimsign_dns_records(ds, rec_find, &rf, why,
		    sizeof why), 0);
		dkimsign_free(&ds);
		if (rf.n != 1 || strncmp(rf.txt, cases[i].want_prefix,
		    strlen(cases[i].want_prefix)) != 0) {
			CASE_FAIL(cases[i].label, "got %d records, '%s', want "
			    "1 starting '%s'", rf.n, rf.txt,
			    cases[i].want_prefix);
			continue;
		}
		if (cases[i].cmd != NULL) {
			/* the DER public key; Ed25519's raw key is its
			 * last 32 bytes */
			if (!run("openssl pkey -in '%s' -pubout -outform DER "
			    "2>/dev/null | %s > '%s'", cases[i].key,
			    cases[i].cmd, opath) ||
			    (got = file_read(opath, NULL)) == NULL) {
				CASE_FAIL(cases[i].label, "openssl failed");
				continue;
			}
			(void)snprintf(want, sizeof want, "%s", got);
			free(got);
		} else if (!genkey_p(k_gktxt, want, sizeof want)) {
			CASE_FAIL(cases[i].label, "cannot read %s", k_gktxt);
			continue;
		}
		if (strcmp(rf.txt + strlen(cases[i].want_prefix), want) != 0)
			CASE_FAIL(cases[i].label, "got p=%s, want p=%s",
			    rf.txt + strlen(cases[i].want_prefix), want);
	}
}

/* dkimsign_covers on signature texts as they come in */
static void
t_covers(void **state)
{
	static const struct {
		const char *label, *sig, *name;
		bool want;
	} cases[] = {
		{ "plain", "v=1; a=rsa-sha256; h=from:to:list-unsubscribe; "
		    "b=x", "list-unsubscribe", true },
		{ "case-insensitive", "h=From:List-Unsubscribe-Post",
		    "list-unsubscribe-post", true },
		{ "folded with spaces", "v=1; h = From : To :\n\t "
		    "List-Unsubscribe\r\n\t: Subject ; b=x",
		    "List-Unsubscribe", true },
		{ "last in h=, no ';'", "v=1; b=x; h=from:list-unsubscribe",
		    "LIST-UNSUBSCRIBE", true },
		{ "prefix is not a match", "h=from:list-unsubscribe-post",
		    "list-unsubscribe", false },
		{ "longer name is not a match", "h=from:list-unsubscribe",
		    "list-unsubscribe-post", false },
		{ "bh= is not h=", "bh=list-unsubscribe; h=from", 
		    "list-unsubscribe", false },
		{ "other tag value", "z=list-unsubscribe; h=from",
		    "list-unsubscribe", false },
		{ "absent", "v=1; h=from:to", "subject", false },
		{ "empty h=", "v=1; h=; b=x", "from", false },
		{ "no h=", "v=1; a=rsa-sha256", "from", false },
		{ "empty name", "h=from::to", "", false },
		{ "NULL sig", NULL, "from", false },
	};
	size_t i;
	bool got;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = dkimsign_covers(cases[i].sig, cases[i].name);
		if (got != cases[i].want)
			CASE_FAIL(cases[i].label, "got %d, want %d", got,
			    cases[i].want);
	}
}

/* one signer shared by threads */
struct thr {
	const struct dkimsign *ds;
	struct dkimsign_result last;
	int bad;
};

/* thr_sign - thread body: sign the campaign 25 times, keep the last. */
static void *
thr_sign(void *arg)
{
	struct thr *t = arg;
	struct dkimsign_result res;
	char why[256];
	int i;

	for (i = 0; i < 25; i++) {
		if (dkimsign_message(t->ds, "news@example.com", campaign_hdrs,
		    NCAMP, campaign_body, sizeof campaign_body - 1, &res, why,
		    sizeof why) != 1 || res.n != 2) {
			t->bad++;
			continue;
		}
		dkimsign_result_free(&t->last);
		t->last = res;
	}
	return NULL;
}

/* concurrent signing from four threads with one signer */
static void
t_threads(void **state)
{
	struct thr t[4];
	pthread_t tid[4];
	struct dkimsign *ds;
	struct config cfg;
	const char *out;
	size_t i;

	(void)state;
	assert_true(setup_ok);
	cfg_single(&cfg, SIGALG_BOTH, k_rsa, "rsa2026", k_ed, "ed2026");
	ds = signer(&cfg);
	memset(t, 0, sizeof t);
	for (i = 0; i < 4; i++) {
		t[i].ds = ds;
		assert_int_equal(pthread_create(&tid[i], NULL, thr_sign, &t[i]),
		    0);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	for (i = 0; i < 4; i++) {
		if (t[i].bad != 0)
			CASE_FAIL("threads", "thread %zu: %d failures", i,
			    t[i].bad);
		else if (!verify(&t[i].last, campaign_hdrs, NCAMP,
		    campaign_body, sizeof campaign_body - 1, 2, &out))
			CASE_FAIL("threads", "thread %zu: %s", i, out);
		dkimsign_result_free(&t[i].last);
	}
	dkimsign_free(&ds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_corpus_rsa),
		cmocka_unit_test(t_corpus_ed25519),
		cmocka_unit_test(t_corpus_both),
		cmocka_unit_test(t_signed_headers),
		cmocka_unit_test(t_tamper),
		cmocka_unit_test(t_no_from),
		cmocka_unit_test(t_open_errors),
		cmocka_unit_test(t_tables),
		cmocka_unit_test(t_dns_records),
		cmocka_unit_test(t_covers),
		cmocka_unit_test(t_threads),
	};

	return dkimtest_run("dkimsign", tests, sizeof tests / sizeof tests[0]);
}
