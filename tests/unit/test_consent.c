/*
 * test_consent.c - the decision table of DESIGN "Consent model": deliver
 * only if not suppressed and opted_in.
 */
#include "autoconf.h"

#include <string.h>

#include "harness.h"
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_decide),
		cmocka_unit_test(t_words),
	};

	return HARNESS_RUN("consent", tests);
}
