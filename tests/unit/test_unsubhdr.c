/*
 * test_unsubhdr.c - unit tests for unsubhdr.c: List-Unsubscribe values
 * (https, mailto, both, folding, the 998-octet limit), bad templates,
 * List-Unsubscribe-Post and List-Id.
 */
#include "autoconf.h"

#include "harness.h"

#include <stdbool.h>
#include <string.h>

#include "unsubhdr.h"

#define TOK "AQHWRrUFWJ9RxbFcNrboeQF9tp6n0Af0xPkW-Pt4xoCq_t1Y"

/* check_lines - the field "List-Unsubscribe: " + value, with "\n" sent as
 * CRLF, is under 998 octets and every physical line is too */
static bool
check_lines(const char *v)
{
	size_t line, total;
	const char *p;

	line = strlen("List-Unsubscribe: ");
	total = line;
	for (p = v; *p != '\0'; p++) {
		if (*p == '\n') {
			if (line > 998 || p[1] != '\t')
				return false;
			line = 0;
			total += 2;
			continue;
		}
		line++;
		total++;
	}
	return line <= 998 && total < 998;
}

static void
t_list_unsubscribe(void **state)
{
	static const struct {
		const char *label, *url, *mailto, *token;
		const char *want;	/* NULL: -1 */
	} cases[] = {
		{ "https only", "https://unsub.example.com/u/%t", NULL, TOK,
		    "<https://unsub.example.com/u/" TOK ">" },
		{ "mailto only", NULL, "unsubscribe+%t@example.com", TOK,
		    "<mailto:unsubscribe+" TOK
		    "@example.com?subject=unsubscribe>" },
		{ "both, folded", "https://unsub.example.com/u/%t",
		    "unsubscribe+%t@example.com", TOK,
		    "<https://unsub.example.com/u/" TOK ">,\n\t"
		    "<mailto:unsubscribe+" TOK
		    "@example.com?subject=unsubscribe>" },
		{ "mailto: prefix kept once", NULL,
		    "mailto:u+%t@example.com", "abc",
		    "<mailto:u+abc@example.com?subject=unsubscribe>" },
		{ "mailto with own query", NULL,
		    "u+%t@example.com?subject=stop", "abc",
		    "<mailto:u+abc@example.com?subject=stop>" },
		{ "http and %%", "http://127.0.0.1:8025/u/%t?x=100%%", NULL,
		    "abc", "<http://127.0.0.1:8025/u/abc?x=100%>" },
		{ "token twice", "https://e.example/%t/%t", NULL, "ab",
		    "<https://e.example/ab/ab>" },
		{ "HTTPS upper case scheme", "HTTPS://E.EXAMPLE/%t", NULL, "a",
		    "<HTTPS://E.EXAMPLE/a>" },
		{ "no template", NULL, NULL, TOK, NULL },
		{ "bad escape %s", "https://e.example/%s", NULL, TOK, NULL },
		{ "bad escape at end", "https://e.example/%", NULL, TOK, NULL },
		{ "bad escape in mailto", "https://e.example/%t", "u+%x@e.example",
		    TOK, NULL },
		{ "not http", "ftp://e.example/%t", NULL, TOK, NULL },
		{ "space in url", "https://e.example/ %t", NULL, TOK, NULL },
		{ "angle bracket", "https://e.example/>%t", NULL, TOK, NULL },
		{ "mailto without @", NULL, "unsubscribe+%t", TOK, NULL },
		{ "mailto starting @", NULL, "@example.com", TOK, NULL },
		{ "newline in mailto", NULL, "u+%t@e.example\n", TOK, NULL },
		{ "non-ASCII in url", "https://b\xc3\xbc.example/%t", NULL, TOK,
		    NULL },
		{ "bad token char", "https://e.example/%t", NULL, "a b", NULL },
		{ "token with '?'", NULL, "u+%t@e.example", "a?b", NULL },
	};
	char out[UNSUBHDR_MAX], why[256];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		n = unsubhdr_list_unsubscribe(cases[i].url, cases[i].mailto,
		    cases[i].token, out, sizeof(out), why, sizeof(why));
		if (cases[i].want == NULL) {
			if (n != -1)
				CASE_FAIL(cases[i].label, "got %d '%s', want -1",
				    n, out);
			else if (why[0] == '\0')
				CASE_FAIL(cases[i].label, "why[] empty");
			continue;
		}
		if (n < 0)
			CASE_FAIL(cases[i].label, "got -1 (%s), want '%s'",
			    why, cases[i].want);
		else if (strcmp(out, cases[i].want) != 0 ||
		    (size_t)n != strlen(out))
			CASE_FAIL(cases[i].label, "got '%s' (%d), want '%s'",
			    out, n, cases[i].want);
		else if (!check_lines(out))
			CASE_FAIL(cases[i].label, "line limits broken");
	}
}

/* t_limits - giant tokens: both URIs, then https alone, then nothing */
static void
t_limits(void **state)
{
	static const char url[] = "https://unsub.example.com/u/%t";
	static const char mailto[] = "unsubscribe+%t@example.com";
	char tok[2000], out[UNSUBHDR_MAX], small[40], why[256];
	size_t tlen, hlen, mlen, fixed;
	int n;

	(void)state;
	hlen = strlen("<https://unsub.example.com/u/>");
	mlen = strlen("<mailto:unsubscribe+@example.com?subject=unsubscribe>");
	/* field name, ",", CRLF TAB: under 998 octets in all */
	fixed = strlen("List-Unsubscribe: ") + hlen + 1 + 2 + 1 + mlen;
	for (tlen = 300; tlen < sizeof(tok); tlen++) {
		memset(tok, 'A', tlen);
		tok[tlen] = '\0';
		n = unsubhdr_list_unsubscribe(url, mailto, tok, out,
		    sizeof(out), why, sizeof(why));
		if (fixed + 2 * tlen <= 997) {
			if (n < 0 || strstr(out, "mailto:") == NULL)
				CASE_FAIL("both fit", "tlen %zu: got %d", tlen,
				    n);
		} else if (strlen("List-Unsubscribe: ") + hlen + tlen <= 997) {
			if (n < 0 || strstr(out, "mailto:") != NULL ||
			    strncmp(out, "<https://", 9) != 0)
				CASE_FAIL("https alone", "tlen %zu: got %d",
				    tlen, n);
		} else if (n != -1 || why[0] == '\0')
			CASE_FAIL("nothing fits", "tlen %zu: got %d", tlen, n);
		if (n >= 0 && !check_lines(out))
			CASE_FAIL("line limits", "tlen %zu", tlen);
		if (n >= 0 && (size_t)n >= UNSUBHDR_MAX)
			CASE_FAIL("UNSUBHDR_MAX", "tlen %zu: %d", tlen, n);
	}
	/* mailto alone never falls back */
	memset(tok, 'A', 960);
	tok[960] = '\0';
	assert_int_equal(unsubhdr_list_unsubscribe(NULL, mailto, tok, out,
	    sizeof(out), why, sizeof(why)), -1);
	/* a caller buffer too small is an error, not a cut value */
	assert_int_equal(unsubhdr_list_unsubscribe(url, NULL, TOK, small,
	    sizeof(small), why, sizeof(why)), -1);
	assert_string_equal(small, "");
}

static void
t_post(void **state)
{
	(void)state;
	assert_string_equal(unsubhdr_post_value(),
	    "List-Unsubscribe=One-Click");
}

static void
t_list_id(void **state)
{
	static const struct {
		const char *label, *list, *domain;
		size_t outlen;
		const char *want;	/* NULL: -1 */
	} cases[] = {
		{ "plain", "news", "lists.example.com", 64,
		    "<news.lists.example.com>" },
		{ "dots and atext", "weekly.offers+de_2026", "example.com", 64,
		    "<weekly.offers+de_2026.example.com>" },
		{ "atext specials", "a!#$%&'*+-/=?^_`{|}~z", "example.org", 64,
		    "<a!#$%&'*+-/=?^_`{|}~z.example.org>" },
		{ "exact fit", "n", "e.x", 8, "<n.e.x>" },
		{ "one short", "n", "e.x", 7, NULL },
		{ "space", "my news", "example.com", 64, NULL },
		{ "angle bracket", "news>", "example.com", 64, NULL },
		{ "leading dot", ".news", "example.com", 64, NULL },
		{ "trailing dot", "news.", "example.com", 64, NULL },
		{ "double dot", "a..b", "example.com", 64, NULL },
		{ "at sign", "a@b", "example.com", 64, NULL },
		{ "comma", "a,b", "example.com", 64, NULL },
		{ "quote", "a\"b", "example.com", 64, NULL },
		{ "non-ASCII", "nachrichten-\xc3\xbc", "example.com", 64,
		    NULL },
		{ "control", "a\tb", "example.com", 64, NULL },
		{ "empty list", "", "example.com", 64, NULL },
		{ "NULL list", NULL, "example.com", 64, NULL },
		{ "NULL domain", "news", NULL, 64, NULL },
		{ "bad domain", "news", "exa mple.com", 64, NULL },
	};
	char out[300];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = unsubhdr_list_id(cases[i].list, cases[i].domain, out,
		    cases[i].outlen);
		if (cases[i].want == NULL) {
			if (n != -1)
				CASE_FAIL(cases[i].label, "got %d, want -1", n);
		} else if (n < 0 || strcmp(out, cases[i].want) != 0 ||
		    (size_t)n != strlen(cases[i].want))
			CASE_FAIL(cases[i].label, "got %d '%s', want '%s'", n,
			    n < 0 ? "" : out, cases[i].want);
	}
	/* RFC 2919: at most 255 octets */
	{
		char list[300];

		memset(list, 'a', 243);
		list[243] = '\0';
		assert_int_equal(unsubhdr_list_id(list, "example.com", out,
		    sizeof(out)), 257);		/* 243 + 1 + 11 + <> */
		list[244] = '\0';
		list[243] = 'a';
		assert_int_equal(unsubhdr_list_id(list, "example.com", out,
		    sizeof(out)), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_list_unsubscribe),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_post),
		cmocka_unit_test(t_list_id),
	};

	return HARNESS_RUN("unsubhdr", tests);
}
