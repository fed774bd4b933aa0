/*
 * test_addr.c - address normalisation (DESIGN "Consent model").
 */
#include "autoconf.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_normalize),
		cmocka_unit_test(t_from_header),
		cmocka_unit_test(t_list_count),
		cmocka_unit_test(t_small_buffer),
		cmocka_unit_test(t_domain),
	};

	return HARNESS_RUN("addr", tests);
}
