/*
 * store_rules.c - what every engine of the consent store decides the same
 * way (store-private.h): the schema's state and reason words, and the rule
 * an import row follows.  No state; thread-safe.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "store-private.h"

/* The schema's words for enum sub_status (the CHECK in subscriptions). */
static const char *const status_word[] = {
	[SUB_NONE] = NULL,
	[SUB_PENDING] = "pending",
	[SUB_OPTED_IN] = "opted_in",
	[SUB_OPTED_OUT] = "opted_out",
};
#define NSTATUS (sizeof(status_word) / sizeof(status_word[0]))

/* The schema's suppression reasons (the CHECK in suppressions). */
static const char *const reason_word[] = {
	"unsubscribed_all", "hard_bounce", "complaint", "erased", "manual",
};

enum sub_status
store_status_parse(const char *word)
{
	size_t i;

	for (i = 1; word != NULL && i < NSTATUS; i++)
		if (strcmp(word, status_word[i]) == 0)
			return (enum sub_status)i;
	return SUB_NONE;
}

const char *
store_status_settable(enum sub_status status, char *why, size_t whylen)
{
	if ((size_t)status >= NSTATUS || status_word[status] == NULL) {
		snprintf(why, whylen, "cannot set subscription status %d",
		    (int)status);
		return NULL;
	}
	return status_word[status];
}

bool
store_reason_check(const char *reason, char *why, size_t whylen)
{
	size_t i;

	for (i = 0; i < sizeof(reason_word) / sizeof(reason_word[0]); i++)
		if (strcmp(reason, reason_word[i]) == 0)
			return true;
	snprintf(why, whylen, "bad suppression reason '%.32s'", reason);
	return false;
}

bool
store_import_keeps(enum sub_status old, time_t old_at, enum sub_status status,
    unsigned flags, time_t consented_at)
{
	return old == status ||
	    ((flags & STORE_IMPORT_ONLY_NEW) != 0 && old != SUB_NONE) ||
	    ((flags & STORE_IMPORT_KEEP_OPT_OUT) != 0 &&
	    old == SUB_OPTED_OUT && consented_at <= old_at);
}
