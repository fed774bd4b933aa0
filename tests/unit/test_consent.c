/*
 * test_consent.c - the decision table of DESIGN "Consent model": deliver
 * only if not suppressed and opted_in; the list-id syntax every program
 * checks a list with (campaign_list_ok).
 */
#include "autoconf.h"

#include <string.h>

#include "harness.h"
#include "campaign.h"
#include "consent.h"

static const struct {
	const char *label;
	bool suppressed;
	enum sub_status status;
	enum consent_reason want;
} cases[] = {
	{ "opted in", false, SUB_OPTED_IN, CONSENT_DELIVER },
	{ "opted out", false, SUB_OPTED_OUT, CONSENT_OPTED_OUT },
	{ "pending double opt-in", false, SUB_PENDING, CONSENT_PENDING },
	{ "never seen", false, SUB_NONE, CONSENT_NO_CONSENT },
	{ "suppressed and opted in", true, SUB_OPTED_IN, CONSENT_SUPPRESSED },
	{ "suppressed and opted out", true, SUB_OPTED_OUT, CONSENT_SUPPRESSED },
	{ "suppressed and pending", true, SUB_PENDING, CONSENT_SUPPRESSED },
	{ "suppressed, never seen", true, SUB_NONE, CONSENT_SUPPRESSED },
};

static void
t_decide(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct consent_row row = { cases[i].suppressed, cases[i].status };
		enum consent_reason got = consent_decide(&row);

		if (got != cases[i].want)
			CASE_FAIL(cases[i].label, "got %s, want %s",
			    consent_reason_str(got),
			    consent_reason_str(cases[i].want));
	}
}

static void
t_words(void **state)
{
	enum sub_status st;

	(void)state;
	assert_string_equal(consent_reason_str(CONSENT_DELIVER), "deliver");
	assert_string_equal(consent_reason_str(CONSENT_SUPPRESSED), "suppressed");
	assert_string_equal(consent_reason_str(CONSENT_OPTED_OUT), "opted_out");
	assert_string_equal(consent_reason_str(CONSENT_PENDING), "pending");
	assert_string_equal(consent_reason_str(CONSENT_NO_CONSENT), "no_consent");
	assert_string_equal(sub_status_str(SUB_OPTED_IN), "opted_in");
	assert_int_equal(sub_status_parse("opted_out", &st), 0);
	assert_int_equal(st, SUB_OPTED_OUT);
	assert_int_equal(sub_status_parse("subscribed", &st), -1);
}

/* t_list_ok - campaign_list_ok: 1-64 of [A-Za-z0-9._-], first a letter or
 * a digit; no SQL wildcard, space or empty word passes */
static void
t_list_ok(void **state)
{
	static const struct { const char *label, *in; bool want; } lcases[] = {
		{ "plain", "news", true },
		{ "dots, dash, underscore", "news.2026_spring-a", true },
		{ "digit first", "2026news", true },
		{ "64 characters",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  true },
		{ "65 characters",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  false },
		{ "empty", "", false },
		{ "percent", "%", false },
		{ "underscore alone", "_", false },
		{ "underscore first", "_news", false },
		{ "dot first", ".news", false },
		{ "dash first", "-news", false },
		{ "space", "a b", false },
		{ "leading space", " news", false },
		{ "percent inside", "ne%s", false },
		{ "non-ascii", "n\xc3\xa9ws", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lcases) / sizeof(lcases[0]); i++) {
		bool got = campaign_list_ok(lcases[i].in);

		if (got != lcases[i].want)
			CASE_FAIL(lcases[i].label, "got %d, want %d", got,
			    lcases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_decide),
		cmocka_unit_test(t_words),
		cmocka_unit_test(t_list_ok),
	};

	return HARNESS_RUN("consent", tests);
}
