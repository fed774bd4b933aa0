/*
 * test_addr.c - address normalisation (DESIGN "Consent model").
 */
#include "autoconf.h"

#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "addr.h"

static const struct {
	const char *label, *in, *want;	/* want NULL: parse error */
} cases[] = {
	{ "plain", "ann@example.com", "ann@example.com" },
	{ "angle brackets", "<ann@example.com>", "ann@example.com" },
	{ "surrounding space", "  <ann@example.com>\t", "ann@example.com" },
	{ "upper-case domain", "<ann@Example.COM>", "ann@example.com" },
	{ "upper-case local part", "ANN@example.com", "ann@example.com" },
	{ "idn domain", "bob@bücher.example", "bob@xn--bcher-kva.example" },
	{ "idn upper case", "bob@BÜCHER.example", "bob@xn--bcher-kva.example" },
	{ "a-label kept", "bob@xn--bcher-kva.example", "bob@xn--bcher-kva.example" },
	{ "sub-address kept", "ann+news@example.com", "ann+news@example.com" },
	{ "utf-8 local part", "jöran@example.com", "jöran@example.com" },
	{ "trailing root dot", "ann@example.com.", "ann@example.com" },
	{ "quoted local part", "\"a b\"@example.com", "\"a b\"@example.com" },
	{ "needless quotes dropped", "<\"News\"@example.com>", "news@example.com" },
	{ "quoted dot-atom", "\"a.b\"@example.com", "a.b@example.com" },
	{ "quoted, leading dot kept", "\".ab\"@example.com", "\".ab\"@example.com" },
	{ "address literal", "ann@[192.0.2.1]", "ann@[192.0.2.1]" },
	{ "ipv6 literal", "ann@[IPv6:2001:db8::1]", "ann@[ipv6:2001:db8::1]" },
	{ "bad literal", "ann@[\x01\x02]", NULL },
	{ "@ in local part", "@@@b.example", NULL },
	{ "two root dots", "ann@example.com..", NULL },
	{ "literal not an address", "ann@[example]", NULL },
	{ "last @ splits", "\"a@b\"@example.com", "\"a@b\"@example.com" },
	{ "no domain", "bob", NULL },
	{ "empty", "", NULL },
	{ "null sender", "<>", NULL },
	{ "empty local part", "@example.com", NULL },
	{ "empty domain", "ann@", NULL },
	{ "one label", "ann@localhost", NULL },
	{ "unbalanced bracket", "<ann@example.com", NULL },
	{ "stray bracket", "ann@example.com>", NULL },
	{ "space in local part", "a b@example.com", NULL },
	{ "double dot", "a..b@example.com", NULL },
	{ "leading dot", ".ab@example.com", NULL },
	{ "control character", "a\001b@example.com", NULL },
	{ "bad domain char", "ann@exa_mple.com", NULL },
	{ "domain double dot", "ann@example..com", NULL },
	{ "local part 65 octets",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
	  NULL },
	{ "local part 64 octets",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com" },
	{ "invalid idn", "ann@\xff\xfe.example", NULL },
	/* invisible characters: an address that looks like another */
	{ "BOM before the address", "\xef\xbb\xbf" "ann@example.com", NULL },
	{ "BOM in local part", "an\xef\xbb\xbfn@example.com", NULL },
	{ "zero-width space in local part", "an\xe2\x80\x8bn@example.com", NULL },
	{ "zero-width space in domain (UTS #46 drops it)",
	  "ann@exam\xe2\x80\x8bple.com", NULL },
	{ "soft hyphen in domain (UTS #46 drops it)",
	  "ann@exam\xc2\xadple.com", NULL },
	{ "word joiner", "ann\xe2\x81\xa0@example.com", NULL },
	{ "zero-width joiner", "a\xe2\x80\x8dnn@example.com", NULL },
	{ "right-to-left override", "\xe2\x80\xaemoc.elpmaxe@nna", NULL },
	{ "no-break space, quoted", "\"a\xc2\xa0" "b\"@example.com", NULL },
	{ "C1 control", "ann\xc2\x85@example.com", NULL },
	{ "tag character", "ann\xf3\xa0\x80\x81@example.com", NULL },
	{ "tab inside", "a\tnn@example.com", NULL },
	{ "invalid utf-8 in local part", "ann\xff@example.com", NULL },
	{ "overlong utf-8 in local part", "ann\xc0\xae@example.com", NULL },
	{ "visible non-ascii kept", "\xc3\xa5sa@b\xc3\xbc" "cher.example",
	  "\xc3\xa5sa@xn--bcher-kva.example" },
	{ "source route dropped", "<@relay.example:Bob@example.com>",
	    "bob@example.com" },
	{ "two-hop source route", "<@a.example,@b.example:bob@example.com.>",
	    "bob@example.com" },
	{ "route without brackets", "@relay.example:bob@example.com",
	    "bob@example.com" },
	{ "route to nothing", "<@relay.example:>", NULL },
	{ "colon in quoted local part", "<\"a:b\"@example.com>",
	    "\"a:b\"@example.com" },
	{ "bang path", "example.com!bob", NULL },
};

static const struct {
	const char *label, *in, *want;	/* want NULL: error */
	int bracketed;
} path_cases[] = {
	{ "plain", "<bob@example.com>", "bob@example.com", 1 },
	{ "no brackets", "bob@example.com.", "bob@example.com.", 0 },
	{ "case and quotes kept", " <\"Bob\"@Example.COM> ",
	    "\"Bob\"@Example.COM", 1 },
	{ "source route", "<@relay.example:bob@example.com>",
	    "bob@example.com", 1 },
	{ "two-hop route", "<@a.example,@b.example:bob@example.com>",
	    "bob@example.com", 1 },
	{ "route, no brackets", "@a.example:bob", "bob", 0 },
	{ "null path", "<>", "", 1 },
	{ "lone bracket", "<", NULL, 0 },
	{ "unbalanced", "<bob@example.com", NULL, 0 },
};

static void
t_normalize(void **state)
{
	char out[ADDR_MAX + 1], why[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		why[0] = '\0';
		rc = addr_normalize(cases[i].in, out, sizeof(out), why,
		    sizeof(why));
		if (cases[i].want == NULL) {
			if (rc == 0)
				CASE_FAIL(cases[i].label, "got '%s', want an "
				    "error", out);
			if (why[0] == '\0')
				CASE_FAIL(cases[i].label, "error without why");
		} else if (rc != 0)
			CASE_FAIL(cases[i].label, "got error '%s', want '%s'",
			    why, cases[i].want);
		else if (strcmp(out, cases[i].want) != 0)
			CASE_FAIL(cases[i].label, "got '%s', want '%s'", out,
			    cases[i].want);
	}
}

static const struct {
	const char *label, *in, *want;
} from_cases[] = {
	{ "display name", "News <news@Example.com>", "news@example.com" },
	{ "quoted name with <", "\"a <b>\" <news@example.com>", "news@example.com" },
	{ "bare address", "news@example.com", "news@example.com" },
	{ "comment", "news@example.com (The News)", "news@example.com" },
	{ "folded", "News\r\n <news@example.com>", "news@example.com" },
	{ "two mailboxes", "a@example.com, b@example.com", NULL },
	{ "no address", "undisclosed", NULL },
};

static void
t_from_header(void **state)
{
	char out[ADDR_MAX + 1], why[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(from_cases) / sizeof(from_cases[0]); i++) {
		int rc = addr_from_header(from_cases[i].in, out, sizeof(out),
		    why, sizeof(why));

		if (from_cases[i].want == NULL && rc == 0)
			CASE_FAIL(from_cases[i].label, "got '%s', want error",
			    out);
		if (from_cases[i].want != NULL && (rc != 0 ||
		    strcmp(out, from_cases[i].want) != 0))
			CASE_FAIL(from_cases[i].label, "got '%s', want '%s'",
			    rc == 0 ? out : why, from_cases[i].want);
	}
}

/* RFC 5322 section 3.4 address lists: how many mailboxes (-1: broken) */
static const struct {
	const char *label, *in;
	int want;
} count_cases[] = {
	{ "one bare", "news@example.com", 1 },
	{ "one with name", "News <news@example.com>", 1 },
	{ "two", "a@example.com, B <b@example.com>", 2 },
	{ "quoted comma", "\"Doe, John\" <j@example.com>", 1 },
	{ "unquoted comma in name", "Doe, John <j@example.com>", 2 },
	{ "comment with comma", "j@example.com (Doe, John)", 1 },
	{ "nested comment", "j@example.com (a (b, c) d)", 1 },
	{ "quoted pair", "\"a \\\" , b\" <j@example.com>", 1 },
	{ "folded list", "a@example.com,\r\n b@example.com", 2 },
	{ "empty list elements", "a@example.com, , b@example.com,", 2 },
	{ "empty", "", 0 },
	{ "only space", " \t", 0 },
	{ "empty group", "undisclosed-recipients:;", 0 },
	{ "group of two", "team: a@example.com, b@example.com;", 2 },
	{ "group and mailbox", "team: a@example.com;, c@example.com", 2 },
	{ "route colon", "<@relay.example:j@example.com>", 1 },
	{ "open quote", "\"Doe <j@example.com>", -1 },
	{ "open comment", "j@example.com (Doe", -1 },
	{ "stray close", "j@example.com )", -1 },
	{ "open angle", "Doe <j@example.com", -1 },
	{ "open group", "team: a@example.com", -1 },
};

static void
t_list_count(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(count_cases) / sizeof(count_cases[0]); i++) {
		int got = addr_list_count(count_cases[i].in);

		if (got != count_cases[i].want)
			CASE_FAIL(count_cases[i].label, "got %d, want %d", got,
			    count_cases[i].want);
	}
}

static void
t_path_mailbox(void **state)
{
	char out[ADDR_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		bool br = false;
		int rc = addr_path_mailbox(path_cases[i].in, out, sizeof(out),
		    &br);

		if (path_cases[i].want == NULL) {
			if (rc >= 0)
				CASE_FAIL(path_cases[i].label, "got '%s', "
				    "want an error", out);
		} else if (rc < 0)
			CASE_FAIL(path_cases[i].label, "got an error, want "
			    "'%s'", path_cases[i].want);
		else if (strcmp(out, path_cases[i].want) != 0 ||
		    (size_t)rc != strlen(out) ||
		    br != (path_cases[i].bracketed != 0))
			CASE_FAIL(path_cases[i].label, "got '%s' (%d, "
			    "bracketed %d), want '%s' (bracketed %d)", out,
			    rc, br, path_cases[i].want,
			    path_cases[i].bracketed);
	}
	assert_int_equal(addr_path_mailbox("<bob@example.com>", out, 5, NULL),
	    -1);
}

static void
t_small_buffer(void **state)
{
	char out[8], why[100];

	(void)state;
	assert_int_equal(addr_normalize("ann@example.com", out, sizeof(out),
	    why, sizeof(why)), -1);
}

static void
t_domain(void **state)
{
	(void)state;
	assert_string_equal(addr_domain("ann@example.com"), "example.com");
	assert_null(addr_domain("nodomain"));
}

static const struct {
	const char *label, *in, *want;
} unicode[] = {
	{ "A-label", "bob@xn--bcher-kva.example", "bob@bücher.example" },
	{ "ASCII domain", "ann@example.com", "ann@example.com" },
	{ "address literal", "ann@[192.0.2.1]", "ann@[192.0.2.1]" },
	{ "no domain", "ann", NULL },
};

static void
t_to_unicode(void **state)
{
	char out[ADDR_MAX * 4 + 1], why[100];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(unicode) / sizeof(unicode[0]); i++) {
		rc = addr_to_unicode(unicode[i].in, out, sizeof(out), why,
		    sizeof(why));
		if (unicode[i].want == NULL && rc != -1)
			CASE_FAIL(unicode[i].label, "got %s, want an error",
			    out);
		else if (unicode[i].want != NULL && (rc != 0 ||
		    strcmp(out, unicode[i].want) != 0))
			CASE_FAIL(unicode[i].label, "got %s, want %s",
			    rc == 0 ? out : why, unicode[i].want);
	}
}

/* addr_mailbox_check: what optinctl forget accepts as a person */
static void
t_mailbox(void **state)
{
	static const struct {
		const char *label, *in;
		int want;
	} mb[] = {
		{ "plain", "ann@example.com", 0 },
		{ "atext only, '|' included", "release|news|bob@example.com", 0 },
		{ "dots between atoms", "a.b.c@example.com", 0 },
		{ "utf-8", "jöran@xn--bcher-kva.example", 0 },
		{ "quoted with space", "\"a b\"@example.com", 0 },
		{ "quoted pair", "\"a\\\"b\"@example.com", 0 },
		{ "address literal", "ann@[192.0.2.1]", 0 },
		{ "ipv6 literal", "ann@[ipv6:2001:db8::1]", 0 },
		{ "bare quote inside quotes", "\"a\"b\"@example.com", -1 },
		{ "backslash at the end", "\"ab\\\"@example.com", -1 },
		{ "leading dot", ".ann@example.com", -1 },
		{ "double dot", "a..b@example.com", -1 },
		{ "not atext", "a,b@example.com", -1 },
		{ "no local part", "@example.com", -1 },
		{ "no at", "example.com", -1 },
		{ "hyphen at a label end", "ann@example-.com", -1 },
		{ "empty label", "ann@example..com", -1 },
		{ "upper case (not normalised)", "ann@Example.com", -1 },
		{ "bad literal", "ann@[300.0.2.1]", -1 },
	};
	char why[128];
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(mb) / sizeof(mb[0]); i++) {
		why[0] = '\0';
		got = addr_mailbox_check(mb[i].in, why, sizeof(why));
		if (got != mb[i].want)
			CASE_FAIL(mb[i].label, "got %d (%s), want %d", got, why,
			    mb[i].want);
		if (got < 0 && why[0] == '\0')
			CASE_FAIL(mb[i].label, "no reason given");
	}
}

/*
 * The ASCII fast path of the domain (ldh_lower in addr.c) must give what
 * libidn2 gives, byte for byte, error for error: edge cases, then 200,000
 * generated domains of letters (both cases), digits, hyphens and dots, with
 * labels around 63 and domains around 253 octets.
 */
static const char *const fast_edge[] = {
	"example.com", "EXAMPLE.COM", "Ex-Ample.Com", "a.b", "a-.b", "-a.b",
	"a--b.com", "ab--c.com", "xn--bcher-kva.example", "XN--BCHER-KVA.example",
	"xn--.com", "ab-.com", "a.b-", "a..b", ".a.b", "a.b.", "0.0", "1.2.3.4",
	"123.example", "a-b-c.d-e-f", "xn--zz.example", "xx--zz.example",
	"a.b.c.d.e.f.g.h.i.j.k.l", "Z9-9Z.ORG", "a_b.com", "a b.com",
};

/* fast_cmp - one domain through both paths; 0 if they agree */
static int
fast_cmp(const char *d)
{
	char out1[256], out2[256], why1[100], why2[100];
	int rc1, rc2;

	rc1 = addr_domain_ascii(d, false, out1, sizeof(out1), why1,
	    sizeof(why1));
	rc2 = addr_domain_ascii(d, true, out2, sizeof(out2), why2,
	    sizeof(why2));
	if (rc1 != rc2 || (rc1 == 0 && strcmp(out1, out2) != 0) ||
	    (rc1 != 0 && strcmp(why1, why2) != 0)) {
		CASE_FAIL(d, "got %d %s, want (libidn2) %d %s", rc1,
		    rc1 == 0 ? out1 : why1, rc2, rc2 == 0 ? out2 : why2);
		return -1;
	}
	return 0;
}

static void
t_ascii_fast(void **state)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789--..";
	char d[300];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i, k, len, lab;

	(void)state;
	for (i = 0; i < sizeof(fast_edge) / sizeof(fast_edge[0]); i++)
		(void)fast_cmp(fast_edge[i]);
	for (i = 0; i < 200000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* mostly short domains; some near the label and total limits */
		len = i % 50 == 0 ? 240 + x % 20 : 1 + x % 40;
		lab = i % 7 == 0 ? 60 + (x >> 8) % 6 : 0;
		for (k = 0; k < len; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			d[k] = lab != 0 && k != lab ? alpha[x % 62] :
			    lab != 0 ? '.' : alpha[x % (sizeof(alpha) - 1)];
		}
		d[len] = '\0';
		if (fast_cmp(d) != 0)
			break;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_normalize),
		cmocka_unit_test(t_from_header),
		cmocka_unit_test(t_path_mailbox),
		cmocka_unit_test(t_list_count),
		cmocka_unit_test(t_small_buffer),
		cmocka_unit_test(t_domain),
		cmocka_unit_test(t_to_unicode),
		cmocka_unit_test(t_mailbox),
		cmocka_unit_test(t_ascii_fast),
	};

	return HARNESS_RUN("addr", tests);
}
