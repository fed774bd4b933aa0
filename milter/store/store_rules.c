/*
 * store_rules.c - what every engine of the consent store decides the same
 * way (store-private.h): the schema's state and reason words, the rule an
 * import row follows, and the tables and columns that a copy between
 * engines moves.  No state; thread-safe.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store-private.h"

/* The schema's words for enum sub_status (the CHECK in subscriptions). */
static const char *const status_word[] = {
	[SUB_NONE] = NULL,
	[SUB_PENDING] = "pending",
	[SUB_OPTED_IN] = "opted_in",
	[SUB_OPTED_OUT] = "opted_out",
	NULL				/* the end of status_word + 1 */
};
#define NSTATUS (sizeof(status_word) / sizeof(status_word[0]) - 1)

/* The schema's suppression reasons (the CHECK in suppressions). */
static const char *const reason_word[] = {
	"unsubscribed_all", "hard_bounce", "complaint", "erased", "manual",
	NULL
};

/* The schema's feedback kinds (the CHECK in feedback, sqlite-002). */
static const char *const kind_word[] = {
	"hard_bounce", "soft_bounce", "policy_bounce", "complaint",
	"auto_reply", "unusable", NULL
};

/* word_check - is w one of words (NULL-terminated)?  false with why
 * "bad WHAT 'w'" when not; w is another program's bytes (a copied row, a
 * report): log_safe, so no control character reaches a terminal or log */
static bool
word_check(const char *const *words, const char *what, const char *w,
    char *why, size_t whylen)
{
	char safe[33];			/* the first 32 bytes of w */
	size_t i;

	for (i = 0; w != NULL && words[i] != NULL; i++)
		if (strcmp(w, words[i]) == 0)
			return true;
	snprintf(why, whylen, "bad %s '%s'", what,
	    log_safe(w != NULL ? w : "", safe, sizeof(safe)));
	return false;
}

/* The values of the schema's 0/1 columns (lists.double_opt_in,
 * feedback.acted), as rows travel in a copy: text. */
static const char *const flag_word[] = { "0", "1", NULL };

/*
 * The columns of store_tables[] that the schema CHECKs, by table and
 * column index, each with its words.  Our SQLite handles skip the CHECKs
 * (sq_setup), so a row copied in is checked here (store_row_check).
 */
static const struct {
	const char *table;
	int col;
	const char *const *words;
	const char *what;
} checked_col[] = {
	{ "lists", 2, flag_word, "double_opt_in" },
	{ "subscriptions", 2, status_word + 1, "subscription status" },
	{ "suppressions", 1, reason_word, "suppression reason" },
	{ "feedback", 4, kind_word, "feedback kind" },
	{ "feedback", 10, flag_word, "acted" },
};

bool
store_row_check(const struct store_table *tab, const char *const *vals,
    char *why, size_t whylen)
{
	char bad[128], row[65];		/* row: the first 64 bytes of vals[0] */
	size_t i;

	for (i = 0; i < sizeof(checked_col) / sizeof(checked_col[0]); i++) {
		if (strcmp(checked_col[i].table, tab->name) != 0 ||
		    word_check(checked_col[i].words, checked_col[i].what,
		    vals[checked_col[i].col], bad, sizeof(bad)))
			continue;
		/* the source's bytes, as word_check's */
		snprintf(why, whylen, "%s row '%s': %s", tab->name,
		    log_safe(vals[0] != NULL ? vals[0] : "", row, sizeof(row)),
		    bad);
		return false;
	}
	return true;
}

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
	return word_check(reason_word, "suppression reason", reason, why,
	    whylen);
}

bool
store_kind_check(const char *kind, char *why, size_t whylen)
{
	return word_check(kind_word, "feedback kind", kind, why, whylen);
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

/* Both schemas (sql/schema.sql and sql/sqlite-NNN-*.sql, sql/pgsql/NNN-*.sql),
 * parents first. */
const struct store_table store_tables[] = {
	{ "lists", 4, "list_id, name, double_opt_in, created_at" },
	{ "subscriptions", 5,
	    "address, list_id, status, source, updated_at" },
	{ "suppressions", 3, "address, reason, created_at" },
	{ "consent_events", 9, "id, address, list_id, event, source, "
	    "evidence, remote_addr, user_agent, occurred_at" },
	{ "quarantine", 10, "id, queue_id, message_id, sender, recipient, "
	    "list_id, reason, spool_file, received_at, released_at" },
	/* schema version 2: feedback */
	{ "feedback", 12, "id, address, list_id, campaign, kind, status, "
	    "reporting_mta, diagnostic, arrival, identity, acted, received_at" },
	{ "campaign_pauses", 3, "campaign, reason, paused_at" },
	{ "campaign_sent", 3, "campaign, list_id, sent" },
	{ NULL, 0, NULL }
};

const struct store_table *
store_table_find(const char *name, char *why, size_t whylen)
{
	size_t i;

	for (i = 0; store_tables[i].name != NULL; i++)
		if (strcmp(store_tables[i].name, name) == 0)
			return &store_tables[i];
	snprintf(why, whylen, "no table '%.40s' in the consent store", name);
	return NULL;
}

int
store_table_insert_sql(const struct store_table *tab, char prefix,
    char *sql, size_t len)
{
	size_t n;
	int i, w;

	w = snprintf(sql, len, "INSERT INTO %s (%s) VALUES (", tab->name,
	    tab->cols);
	if (w < 0 || (size_t)w >= len)
		return -1;
	n = (size_t)w;
	for (i = 1; i <= tab->ncols; i++) {
		w = snprintf(sql + n, len - n, "%s%c%d", i > 1 ? ", " : "",
		    prefix, i);
		if (w < 0 || (size_t)w >= len - n)
			return -1;
		n += (size_t)w;
	}
	if (n + 2 > len)
		return -1;
	memcpy(sql + n, ")", 2);
	return 0;
}

enum store_status
store_version_check(struct store *st, const char *name, unsigned flags,
    char *why, size_t whylen)
{
	char msg[PATH_MAX + 128];
	size_t n;

	if (st->version >= STORE_SCHEMA_OLDEST &&
	    st->version <= STORE_SCHEMA_VERSION) {
		/* with STORE_MIGRATE the caller is migrating: no remark
		 * asking for it (the file's mode, if remarked, stays) */
		if (st->version == STORE_SCHEMA_VERSION ||
		    (flags & STORE_MIGRATE) != 0)
			return STORE_OK;
		/* after the remark of the file's mode, if any: one remark
		 * must not hide the other */
		snprintf(msg, sizeof(msg), "ConsentDB %s: schema version %d, "
		    "this build knows version %d (run optinctl migrate)", name,
		    st->version, STORE_SCHEMA_VERSION);
		if (strstr(st->warning, msg) == NULL) {
			n = strlen(st->warning);
			snprintf(st->warning + n, sizeof(st->warning) - n,
			    "%s%s", n > 0 ? "; " : "", msg);
		}
		return STORE_OK;
	}
	if ((flags & STORE_MIGRATE) != 0 &&
	    st->version < STORE_SCHEMA_VERSION)
		return STORE_OK;
	snprintf(why, whylen, "ConsentDB %s: schema version %d, this build "
	    "knows version %d%s", name, st->version, STORE_SCHEMA_VERSION,
	    st->version < STORE_SCHEMA_VERSION ? " (run optinctl migrate)" :
	    "");
	return STORE_ERROR;
}
