/*
 * test_store_fb.c - the consent store on either engine (store_fx.h), part
 * two: the feedback operations (schema version 2), the lookup of all the
 * recipients of a message at once (store_lookup_set) and the migration
 * from schema version 1.  The cases are listed in test_store.c's main.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#include "config.h"
#include "store.h"
#include "store_fx.h"

/* fb_collect - store_feedback_ls callback: "id addr kind acted|" lines */
static int
fb_collect(const struct store_fbrow *r, void *ctx)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%lld %s %s %s %s %d %lld|", r->id,
	    r->fb.addr != NULL ? r->fb.addr : "-", r->fb.kind,
	    r->fb.campaign != NULL ? r->fb.campaign : "-", r->fb.identity,
	    (int)r->fb.acted, (long long)r->fb.received_at);
	return 0;
}

/* stat_collect - store_feedback_stats callback: "list/campaign/kind=n|" */
static int
stat_collect(const struct store_fbstat *s, void *ctx)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s/%s/%s=%lld|", s->list, s->campaign,
	    s->kind, s->n);
	return 0;
}

/* pause_collect - store_campaign_ls callback: "campaign reason|" */
static int
pause_collect(const struct store_pause *p, void *ctx)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s %s|", p->campaign, p->reason);
	return 0;
}

/* t_feedback - every feedback operation, exact rows back */
void
t_feedback(void **state)
{
	static const struct {
		const char *addr, *campaign, *kind, *identity;
		bool acted;
		time_t at;
	} rows[] = {
		{ "ann@example.com", "c1", "hard_bounce", "bounce_token",
		    true, 1000 },
		{ "bob@example.com", "c1", "soft_bounce", "token", false,
		    2000 },
		{ "bob@example.com", "c1", "soft_bounce", "token", false,
		    3000 },
		{ NULL, NULL, "unusable", "none", false, 4000 },
		{ "bob@example.com", "c2", "policy_bounce", "address_only",
		    false, 5000 },
	};
	static const struct {
		const char *label, *addr, *campaign, *kind;
		time_t since;
		long long want;
	} counts[] = {
		{ "bob soft, all time", "bob@example.com", NULL,
		    "soft_bounce", 0, 2 },
		{ "bob soft, since 2500", "bob@example.com", NULL,
		    "soft_bounce", 2500, 1 },
		{ "c1 soft", NULL, "c1", "soft_bounce", 0, 2 },
		{ "c2 policy", NULL, "c2", "policy_bounce", 0, 1 },
		{ "ann complaint", "ann@example.com", NULL, "complaint", 0,
		    0 },
		{ "unusable, anyone", NULL, NULL, "unusable", 0, 1 },
	};
	struct fx *f = *state;
	struct store_feedback fb;
	char out[512], reason[64];
	long long id, n;
	time_t at = 0;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&fb, 0, sizeof(fb));
		fb.addr = rows[i].addr;
		fb.list = rows[i].addr != NULL ? "news" : NULL;
		fb.campaign = rows[i].campaign;
		fb.kind = rows[i].kind;
		fb.identity = rows[i].identity;
		fb.status = "5.1.1";
		fb.acted = rows[i].acted;
		fb.received_at = rows[i].at;
		if (store_feedback_add(f->st, &fb, &id, f->why,
		    sizeof(f->why)) != STORE_OK)
			CASE_FAIL("feedback add", "row %zu: %s", i, f->why);
		if (id != (long long)i + 1)
			CASE_FAIL("feedback add", "row %zu: id got %lld, want "
			    "%zu", i, id, i + 1);
	}
	fb.kind = "bored";
	assert_int_equal(store_feedback_add(f->st, &fb, NULL, f->why,
	    sizeof(f->why)), STORE_ERROR);
	/* the store's own check: its SQLite handles run no CHECK */
	assert_string_equal(f->why, "bad feedback kind 'bored'");

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		if (store_feedback_count(f->st, counts[i].addr,
		    counts[i].campaign, counts[i].kind, counts[i].since, &n,
		    f->why, sizeof(f->why)) != STORE_OK)
			CASE_FAIL(counts[i].label, "%s", f->why);
		if (n != counts[i].want)
			CASE_FAIL(counts[i].label, "got %lld, want %lld", n,
			    counts[i].want);
	}

	out[0] = '\0';
	assert_int_equal(store_feedback_ls(f->st, NULL, 0, false, fb_collect,
	    out, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(out, "1 ann@example.com hard_bounce c1 "
	    "bounce_token 1 1000|2 bob@example.com soft_bounce c1 token 0 "
	    "2000|3 bob@example.com soft_bounce c1 token 0 3000|4 - unusable "
	    "- none 0 4000|5 bob@example.com policy_bounce c2 address_only 0 "
	    "5000|");
	out[0] = '\0';
	assert_int_equal(store_feedback_ls(f->st, "bob@example.com", 2500,
	    false, fb_collect, out, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(out, "3 bob@example.com soft_bounce c1 token 0 "
	    "3000|5 bob@example.com policy_bounce c2 address_only 0 5000|");
	out[0] = '\0';
	assert_int_equal(store_feedback_ls(f->st, NULL, 0, true, fb_collect,
	    out, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(out, "1 ann@example.com hard_bounce c1 "
	    "bounce_token 1 1000|");

	/* sent counts add up; stats by list, campaign, kind */
	assert_int_equal(store_sent_add(f->st, "c1", "news", 10, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_int_equal(store_sent_add(f->st, "c1", "news", 5, f->why,
	    sizeof(f->why)), STORE_OK);
	out[0] = '\0';
	assert_int_equal(store_feedback_stats(f->st, 1500, stat_collect, out,
	    f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(out, "//unusable=1|news/c1/sent=15|"
	    "news/c1/soft_bounce=2|news/c2/policy_bounce=1|");

	/* pauses: the first reason stays; resume twice */
	assert_int_equal(store_campaign_paused(f->st, "c2", reason,
	    sizeof(reason), &at, f->why, sizeof(f->why)), STORE_NOTFOUND);
	assert_int_equal(store_campaign_pause(f->st, "c2", "policy 3/10",
	    f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_campaign_pause(f->st, "c2", "again", f->why,
	    sizeof(f->why)), STORE_OK);
	assert_int_equal(store_campaign_pause(f->st, "a0", "manual", f->why,
	    sizeof(f->why)), STORE_OK);
	assert_int_equal(store_campaign_paused(f->st, "c2", reason,
	    sizeof(reason), &at, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(reason, "policy 3/10");
	assert_true(at > 0);
	out[0] = '\0';
	assert_int_equal(store_campaign_ls(f->st, pause_collect, out, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_string_equal(out, "a0 manual|c2 policy 3/10|");
	assert_int_equal(store_campaign_resume(f->st, "c2", f->why,
	    sizeof(f->why)), STORE_OK);
	assert_int_equal(store_campaign_resume(f->st, "c2", f->why,
	    sizeof(f->why)), STORE_NOTFOUND);
	/* the kept statement, asked again after a row and after none */
	assert_int_equal(store_campaign_paused(f->st, "c2", reason,
	    sizeof(reason), &at, f->why, sizeof(f->why)), STORE_NOTFOUND);
	assert_int_equal(store_campaign_paused(f->st, "a0", reason,
	    sizeof(reason), &at, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(reason, "manual");
	assert_int_equal(store_campaign_paused(f->st, "a0", reason,
	    sizeof(reason), &at, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(f->why, "campaign c2 is not paused");
}

/* t_lookup_set - store_lookup_set gives what store_lookup2 gives, address
 * by address, in order, quotes and backslashes included */
void
t_lookup_set(void **state)
{
	static const char *const addrs[] = {
		"ann@example.com", "bob@example.com", "nobody@example.com",
		"\"a\\\"b,c\"@example.com", "eve@example.com",
		"ann@example.com", "{x}@example.com", "NULL@example.com",
	};
	static const struct {
		bool suppressed;
		enum sub_status status;
	} want[] = {
		{ false, SUB_OPTED_IN }, { false, SUB_OPTED_OUT },
		{ false, SUB_NONE }, { false, SUB_OPTED_IN },
		{ true, SUB_OPTED_IN }, { false, SUB_OPTED_IN },
		{ true, SUB_NONE }, { false, SUB_PENDING },
	};
	const size_t n = sizeof(addrs) / sizeof(addrs[0]);
	struct consent_row rows[sizeof(addrs) / sizeof(addrs[0])], one;
	struct fx *f = *state;
	size_t i;

	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "bob@example.com", "news",
	    SUB_OPTED_OUT, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, addrs[3], "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "eve@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_suppress(f->st, "eve@example.com", "manual",
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_suppress(f->st, "{x}@example.com", "manual",
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "NULL@example.com", "news",
	    SUB_PENDING, NULL, f->why, sizeof(f->why)), STORE_OK);

	memset(rows, 0xff, sizeof(rows));
	if (store_lookup_set(f->st, addrs, n, NULL, "news", rows, f->why,
	    sizeof(f->why)) != STORE_OK)
		CASE_FAIL("lookup set", "%s", f->why);
	for (i = 0; i < n; i++) {
		assert_int_equal(store_lookup2(f->st, addrs[i], NULL, "news",
		    &one, f->why, sizeof(f->why)), STORE_OK);
		if (rows[i].suppressed != want[i].suppressed ||
		    rows[i].status != want[i].status ||
		    one.suppressed != want[i].suppressed ||
		    one.status != want[i].status)
			CASE_FAIL(addrs[i], "set got %d/%d, one by one %d/%d, "
			    "want %d/%d", (int)rows[i].suppressed,
			    (int)rows[i].status, (int)one.suppressed,
			    (int)one.status, (int)want[i].suppressed,
			    (int)want[i].status);
	}
	/* another list: only the suppressions hold */
	assert_int_equal(store_lookup_set(f->st, addrs, n, NULL, "promo", rows,
	    f->why, sizeof(f->why)), STORE_OK);
	for (i = 0; i < n; i++)
		if (rows[i].status != SUB_NONE ||
		    rows[i].suppressed != want[i].suppressed)
			CASE_FAIL(addrs[i], "promo got %d/%d",
			    (int)rows[i].suppressed, (int)rows[i].status);
	assert_int_equal(store_lookup_set(f->st, NULL, 0, NULL, "news", NULL,
	    f->why, sizeof(f->why)), STORE_OK);
}

/* t_migrate - a version 1 database (no feedback tables, no hand-over
 * records) opens only with STORE_MIGRATE; store_migrate takes it to the
 * version this build knows, rows kept, and the feedback calls work */
void
t_migrate(void **state)
{
	struct fx *f = *state;
	enum store_status st;
	struct consent_row row;
	struct raw r;
	char want[128];
	long long n = -1;
	int from = 0, to = 0;

	f->st = store_open(f->cfg, STORE_CREATE, &st, f->why, sizeof(f->why));
	assert_non_null(f->st);
	assert_int_equal(store_list_add(f->st, "news", NULL, false, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	store_close(&f->st);
	r = raw_open(f);
	assert_int_equal(raw_exec(&r, pg_base != NULL ?
	    "DROP TABLE feedback, campaign_pauses, campaign_sent, handover;"
	    " UPDATE optin_schema SET version = 1" :
	    "DROP TABLE feedback; DROP TABLE campaign_pauses;"
	    " DROP TABLE campaign_sent; DROP TABLE handover;"
	    " PRAGMA user_version = 1"), 0);
	raw_close(&r);

	f->st = store_open(f->cfg, 0, &st, f->why, sizeof(f->why));
	assert_null(f->st);
	assert_int_equal(st, STORE_ERROR);
	snprintf(want, sizeof(want), "schema version 1, this build knows "
	    "version %d (run optinctl migrate)", STORE_SCHEMA_VERSION);
	if (strstr(f->why, want) == NULL)
		CASE_FAIL("version 1", "why got '%s'", f->why);
	f->st = store_open(f->cfg, STORE_MIGRATE, &st, f->why,
	    sizeof(f->why));
	assert_non_null(f->st);
	if (store_migrate(f->st, &from, &to, f->why, sizeof(f->why)) !=
	    STORE_OK)
		CASE_FAIL("migrate", "%s", f->why);
	assert_int_equal(from, 1);
	assert_int_equal(to, STORE_SCHEMA_VERSION);
	store_close(&f->st);
	f->st = store_open(f->cfg, 0, &st, f->why, sizeof(f->why));
	assert_non_null(f->st);
	assert_int_equal(store_version(f->st), STORE_SCHEMA_VERSION);
	assert_int_equal(store_lookup(f->st, "ann@example.com", "news", &row,
	    f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(row.status, SUB_OPTED_IN);
	assert_int_equal(store_sent_add(f->st, "c1", "news", 3, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_int_equal(store_feedback_count(f->st, NULL, "c1", "complaint",
	    0, &n, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(n, 0);
}

/*
 * t_set_status_values - store_set_status writes its event row's columns
 * exactly as given on both engines (PostgreSQL: one statement since
 * 1c1b68d): NULL stays NULL, "" stays "", long, non-ASCII and control
 * bytes pass unchanged, user_agent NULL is the handle's agent, event NULL
 * the status word; an unknown list writes nothing and leaves the caller's
 * transaction usable; on PostgreSQL another error is to be rolled back
 */
void
t_set_status_values(void **state)
{
	struct fx *f = *state;
	struct consent_event ev;
	struct raw db;
	static char lng[8001];
	long long t0 = (long long)time(NULL);

	memset(lng, 'x', sizeof(lng) - 1);
	store_set_agent(f->st, "optinctl (sudo_user=ann)");
	assert_int_equal(store_set_status(f->st, "a@example.com", "news",
	    SUB_OPTED_OUT, NULL, f->why, sizeof(f->why)), STORE_OK);
	memset(&ev, 0, sizeof(ev));
	ev.source = ev.evidence = ev.remote_addr = ev.user_agent = "";
	ev.event = "";
	assert_int_equal(store_set_status(f->st, "b@example.com", "news",
	    SUB_OPTED_IN, &ev, f->why, sizeof(f->why)), STORE_OK);
	ev.source = "w\xc3\xa9" "b"; ev.evidence = lng;
	ev.remote_addr = "a\tb\x01" "c'; --"; ev.user_agent = NULL;
	ev.event = NULL;
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	assert_int_equal(store_set_status(f->st, "c@example.com", "nosuch",
	    SUB_OPTED_OUT, &ev, f->why, sizeof(f->why)), STORE_NOTFOUND);
	assert_int_equal(store_set_status(f->st, "c@example.com", "news",
	    SUB_PENDING, &ev, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_commit(f->st, f->why, sizeof(f->why)),
	    STORE_OK);

	db = raw_open(f);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events",
	    NULL), 3);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE address = 'a@example.com' AND list_id = 'news' AND "
	    "event = 'opted_out' AND source IS NULL AND evidence IS NULL AND "
	    "remote_addr IS NULL AND user_agent = $1", "optinctl "
	    "(sudo_user=ann)"), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE address = 'b@example.com' AND event = '' AND source = '' "
	    "AND evidence = '' AND remote_addr = '' AND user_agent = ''",
	    NULL), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE address = 'c@example.com' AND event = 'pending' AND "
	    "source = $1 AND length(evidence) = 8000 AND user_agent = "
	    "'optinctl (sudo_user=ann)'", "w\xc3\xa9" "b"), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE remote_addr = $1", "a\tb\x01" "c'; --"), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM subscriptions "
	    "WHERE address = 'c@example.com' AND status = 'pending' AND "
	    "source = $1", "w\xc3\xa9" "b"), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM subscriptions "
	    "WHERE address = 'a@example.com' AND source IS NULL", NULL), 1);
	assert_true(raw_int(&db, "SELECT min(occurred_at) FROM "
	    "consent_events", NULL) >= t0);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events e "
	    "JOIN subscriptions s USING (address, list_id) WHERE "
	    "e.occurred_at <> s.updated_at", NULL), 0);
	raw_close(&db);
	store_set_agent(f->st, NULL);
	if (pg_base == NULL)
		return;
	/* PostgreSQL refuses a byte that is not UTF-8: inside the caller's
	 * transaction the error aborts it (no savepoint, store.h); the
	 * rollback undoes the earlier change and the handle goes on */
	ev.evidence = "\xff";
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	assert_int_equal(store_set_status(f->st, "d@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "e@example.com", "news",
	    SUB_OPTED_IN, &ev, f->why, sizeof(f->why)), STORE_ERROR);
	store_rollback(f->st);
	assert_int_equal(store_set_status(f->st, "e@example.com", "news",
	    SUB_OPTED_IN, &ev, f->why, sizeof(f->why)), STORE_ERROR);
	ev.evidence = "ok";
	assert_int_equal(store_set_status(f->st, "e@example.com", "news",
	    SUB_OPTED_IN, &ev, f->why, sizeof(f->why)), STORE_OK);
	db = raw_open(f);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM subscriptions "
	    "WHERE address IN ('d@example.com', 'e@example.com')", NULL), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE address IN ('d@example.com', 'e@example.com')", NULL), 1);
	raw_close(&db);
}

/*
 * t_import_set - store_import_set over new and existing rows in turns:
 * each row's old state, whether it changed, and what the store holds
 * after, with the flags.  On SQLite a new row is inserted first while the
 * rows before it were new (sq_import_set): a row that exists after a new
 * one must still be read, never overwritten or counted as new, and a dry
 * run writes nothing.
 */
void
t_import_set(void **state)
{
	static const struct {
		const char *addr;
		enum sub_status status;
		unsigned flags;
		enum sub_status old;
		bool changed;
		enum sub_status after;
	} rows[] = {
		{ "a@example.com", SUB_OPTED_IN, 0, SUB_NONE, true,
		    SUB_OPTED_IN },
		{ "b@example.com", SUB_OPTED_IN, 0, SUB_NONE, true,
		    SUB_OPTED_IN },
		{ "x@example.com", SUB_OPTED_IN, 0, SUB_OPTED_OUT, true,
		    SUB_OPTED_IN },
		{ "c@example.com", SUB_PENDING, 0, SUB_NONE, true,
		    SUB_PENDING },
		{ "y@example.com", SUB_OPTED_IN, STORE_IMPORT_KEEP_OPT_OUT,
		    SUB_OPTED_OUT, false, SUB_OPTED_OUT },
		{ "d@example.com", SUB_OPTED_IN, 0, SUB_NONE, true,
		    SUB_OPTED_IN },
		{ "e@example.com", SUB_OPTED_OUT, 0, SUB_NONE, true,
		    SUB_OPTED_OUT },
		{ "z@example.com", SUB_OPTED_IN, STORE_IMPORT_ONLY_NEW,
		    SUB_OPTED_OUT, false, SUB_OPTED_OUT },
		{ "f@example.com", SUB_OPTED_IN, 0, SUB_NONE, true,
		    SUB_OPTED_IN },
		{ "w@example.com", SUB_OPTED_IN, 0, SUB_OPTED_IN, false,
		    SUB_OPTED_IN },
		{ "g@example.com", SUB_OPTED_IN, 0, SUB_NONE, true,
		    SUB_OPTED_IN },
		{ "h@example.com", SUB_OPTED_IN, 0, SUB_NONE, true,
		    SUB_OPTED_IN },
		{ "i@example.com", SUB_OPTED_IN, STORE_IMPORT_DRY_RUN,
		    SUB_NONE, true, SUB_NONE },
		{ "v@example.com", SUB_OPTED_IN, STORE_IMPORT_DRY_RUN,
		    SUB_OPTED_OUT, true, SUB_OPTED_OUT },
	};
	static const char *const before[] = { "x@example.com",
	    "y@example.com", "z@example.com", "v@example.com" };
	struct fx *f = *state;
	struct consent_event ev;
	struct consent_row row;
	enum sub_status old;
	time_t old_at;
	bool changed;
	struct raw r;
	long long n = 0;
	size_t i;

	for (i = 0; i < sizeof(before) / sizeof(before[0]); i++)
		assert_int_equal(store_set_status(f->st, before[i], "news",
		    SUB_OPTED_OUT, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "w@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	memset(&ev, 0, sizeof(ev));
	ev.source = "import-test";
	ev.evidence = "row";
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)), STORE_OK);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		old = (enum sub_status)99;
		changed = !rows[i].changed;
		if (store_import_set(f->st, rows[i].addr, "news",
		    rows[i].status, rows[i].flags, 500, &ev, &old, &old_at,
		    &changed, f->why, sizeof(f->why)) != STORE_OK)
			CASE_FAIL("import", "%s: %s", rows[i].addr, f->why);
		if (old != rows[i].old || changed != rows[i].changed)
			CASE_FAIL("import", "%s: old %d changed %d, want %d %d",
			    rows[i].addr, (int)old, changed, (int)rows[i].old,
			    rows[i].changed);
		if (rows[i].old == SUB_NONE && old_at != 0)
			CASE_FAIL("import", "%s: old time %lld of no row",
			    rows[i].addr, (long long)old_at);
		if (changed && (rows[i].flags & STORE_IMPORT_DRY_RUN) == 0)
			n++;
	}
	assert_int_equal(store_commit(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(store_lookup(f->st, rows[i].addr, "news", &row,
		    f->why, sizeof(f->why)), STORE_OK);
		if (row.status != rows[i].after)
			CASE_FAIL("import", "%s: %d after, want %d",
			    rows[i].addr, (int)row.status,
			    (int)rows[i].after);
	}
	/* one event per row written, none for the rest */
	r = raw_open(f);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM consent_events "
	    "WHERE source = $1", "import-test"), n);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM consent_events "
	    "WHERE address = $1", "i@example.com"), 0);
	raw_close(&r);
}
