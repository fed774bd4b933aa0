/*
 * consent.c - the consent decision (consent.h).  Pure functions.
 */
#include "autoconf.h"

#include <string.h>

#include "consent.h"

enum consent_reason
consent_decide(const struct consent_row *row)
{
	if (row->suppressed)
		return CONSENT_SUPPRESSED;
	switch (row->status) {
	case SUB_OPTED_IN:
		return CONSENT_DELIVER;
	case SUB_OPTED_OUT:
		return CONSENT_OPTED_OUT;
	case SUB_PENDING:
		return CONSENT_PENDING;
	case SUB_NONE:
		break;
	}
	return CONSENT_NO_CONSENT;
}

const char *
consent_reason_str(enum consent_reason r)
{
	static const char *const words[CONSENT_NREASONS] = {
		"deliver", "suppressed", "opted_out", "pending", "no_consent",
	};

	return (unsigned)r < CONSENT_NREASONS ? words[r] : "unknown";
}

static const char *const status_words[] = {
	"none", "pending", "opted_in", "opted_out",
};

const char *
sub_status_str(enum sub_status s)
{
	return (unsigned)s < 4 ? status_words[s] : "unknown";
}

int
sub_status_parse(const char *s, enum sub_status *st_r)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, status_words[i]) == 0)
			return (*st_r = (enum sub_status)i), 0;
	return -1;
}
