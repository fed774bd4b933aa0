/*
 * test_feedback.c - unit tests for the bounce rules of optin-feedback
 * (fbrules_classify: RFC 3463 codes, policy text, after DATA, Gmail 5.2.1)
 * and for the personal bounce addresses of core/bounce.c (build, cut out
 * by the template, verify, tampered and foreign tokens).
 */
#include "autoconf.h"

#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounce.h"
#include "fbrules.h"
#include "token.h"

static void
t_classify(void **state)
{
	static const struct {
		const char *label, *status, *diag;
		bool after_data;
		const char *want;
	} cases[] = {
		{ "5.1.1 at RCPT", "5.1.1", "smtp; 550 5.1.1 user unknown",
		    false, "hard_bounce" },
		{ "5.1.2", "5.1.2", "Host or domain name not found", false,
		    "hard_bounce" },
		{ "5.1.3", "5.1.3", "bad address syntax", false, "hard_bounce" },
		{ "5.1.6", "5.1.6", "mailbox has moved", false, "hard_bounce" },
		{ "5.1.1 after DATA", "5.1.1", "550 5.1.1 unknown", true,
		    "soft_bounce" },
		{ "5.1.10 is not 5.1.1", "5.1.10", "550 5.1.10 null MX", false,
		    "soft_bounce" },
		{ "5.7.1", "5.7.1", "550 5.7.1 relaying denied", false,
		    "policy_bounce" },
		{ "2.0.0 with Action failed", "2.0.0", "smtp; 250 ok", false,
		    "unusable" },
		{ "4.7.0 greylisted", "4.7.0", "450 4.7.0 try later", false,
		    "policy_bounce" },
		{ "5.1.1 with block-list text", "5.1.1",
		    "550 5.1.1 blocked using zen.spamhaus.org", false,
		    "policy_bounce" },
		{ "5.0.0 spam text", "5.0.0", "554 rejected as spam", false,
		    "policy_bounce" },
		{ "4.2.2", "4.2.2", "452 4.2.2 mailbox full", false,
		    "soft_bounce" },
		{ "5.2.2 full", "5.2.2", "552 5.2.2 over quota", false,
		    "soft_bounce" },
		{ "gmail 5.2.1 disabled", "5.2.1", "550 5.2.1 The email "
		    "account that you tried to reach is disabled.", false,
		    "hard_bounce" },
		{ "gmail 5.2.1 rate", "5.2.1", "550 5.2.1 The user you are "
		    "trying to contact is receiving mail at a rate that "
		    "prevents additional messages", false, "soft_bounce" },
		{ "no Status, code in text", "", "smtp; 550 5.1.1 <a@b>: no "
		    "such user", false, "hard_bounce" },
		{ "no code at all", "", "550 no such user", false,
		    "soft_bounce" },
		{ "NULL diagnostic", "5.1.1", NULL, false, "hard_bounce" },
	};
	size_t i;
	const char *got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = fbrules_classify(cases[i].status, cases[i].diag,
		    cases[i].after_data);
		if (strcmp(got, cases[i].want) != 0)
			CASE_FAIL(cases[i].label, "got %s, want %s", got,
			    cases[i].want);
	}
}

/* ring_of - a ring from one key line */
static struct token_ring *
ring_of(const char *line)
{
	char path[] = "/tmp/test_feedback.XXXXXX", why[256];
	struct token_ring *r;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	r = token_ring_load(path, why, sizeof(why));
	unlink(path);
	assert_non_null(r);
	return r;
}

static void
t_bounce_address(void **state)
{
	struct token_ring *ring, *other;
	struct bounce_id id;
	char addr[1024], tok[TOKEN_MAX], why[256];
	const char *tpl = "bounce+%t@news.example.com";
	long day = 20000;

	(void)state;
	ring = ring_of("1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
	other = ring_of("1 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n");
	assert_true(bounce_address(tpl, ring, "ann@example.net", "news",
	    "spring", day, addr, sizeof(addr), why, sizeof(why)) > 0);
	assert_int_equal(strncmp(addr, "bounce+", 7), 0);
	/* cut out again, in <> and upper-case domain as MTAs may write it */
	{
		char in[1100];

		snprintf(in, sizeof(in), "<%.*s@NEWS.EXAMPLE.COM>",
		    (int)(strchr(addr, '@') - addr), addr);
		assert_int_equal(bounce_template_token(tpl, in, tok,
		    sizeof(tok)), 0);
	}
	assert_int_equal(bounce_verify(ring, tok, day, 400, &id), TOKEN_OK);
	assert_string_equal(id.addr, "ann@example.net");
	assert_string_equal(id.list, "news");
	assert_string_equal(id.campaign, "spring");
	/* expired still names the person */
	assert_int_equal(bounce_verify(ring, tok, day + 500, 400, &id),
	    TOKEN_EXPIRED);
	assert_string_equal(id.addr, "ann@example.net");
	/* another ring's key: not ours */
	assert_true(bounce_verify(other, tok, day, 400, &id) != TOKEN_OK);
	/* tampered */
	tok[10] = tok[10] == 'A' ? 'B' : 'A';
	assert_int_equal(bounce_verify(ring, tok, day, 400, &id), TOKEN_BAD);
	/* a plain unsubscribe token works, without a campaign */
	assert_true(token_issue(ring, "bob@example.net", "news", day, tok,
	    sizeof(tok), why, sizeof(why)) > 0);
	assert_int_equal(bounce_verify(ring, tok, day, 400, &id), TOKEN_OK);
	assert_string_equal(id.campaign, "");
	/* shapes refused */
	assert_int_equal(bounce_address(tpl, ring, "ann@example.net", "news",
	    "bad campaign", day, addr, sizeof(addr), why, sizeof(why)), -1);
	assert_int_equal(bounce_address("bounce@x", ring, "ann@example.net",
	    "news", NULL, day, addr, sizeof(addr), why, sizeof(why)), -1);
	assert_int_equal(bounce_template_token(tpl, "other+x@news.example.com",
	    tok, sizeof(tok)), -1);
	assert_int_equal(bounce_template_token(tpl, "bounce+@news.example.com",
	    tok, sizeof(tok)), -1);
	token_ring_free(&ring);
	token_ring_free(&other);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_classify),
		cmocka_unit_test(t_bounce_address),
	};

	return HARNESS_RUN("feedback", tests);
}
