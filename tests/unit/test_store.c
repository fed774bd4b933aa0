/*
 * test_store.c - the consent store (store.h) on either engine.
 *
 * Each test works on a fresh database, with a config parsed from memory
 * (DBBusyTimeout 200 ms so that lock tests are quick).  SQLite (default): a
 * file in its own mktemp directory.  PostgreSQL (OPTIN_STORE=pgsql, with
 * OPTIN_PG the libpq conninfo of a server without dbname, as
 * tests/lib/pg.sh sets it up): a database created for the test and dropped
 * after it.  A second, raw connection (struct raw) plays "another process":
 * it holds locks, reads rows back and forges schema versions; its SQL
 * writes parameters as $1, which both engines read.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "harness.h"

#include "config.h"
#include "store-private.h"
#include "store.h"

#include "store_fx.h"
#include "store_sqlite.h"

/* ms_since - milliseconds since t0 */
static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* read_file - the text of top_srcdir/name (malloc'd) */
static char *
read_file(const char *name)
{
	const char *top = getenv("top_srcdir");
	char path[1024], *text;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/%s",
	    top != NULL && *top != '\0' ? top : ".", name);
	if ((fp = fopen(path, "r")) == NULL)
		CASE_FAIL("schema file", "cannot open %s: %s", path,
		    strerror(errno));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return text;
}

/* t_schema_file - the compiled-in schemas are the files under sql/ */
static void
t_schema_file(void **state)
{
	const struct {
		const char *file, *text;
	} cases[] = {
		{ "sql/schema.sql", store_sqlite_schema() },
		{ "sql/sqlite-002-feedback.sql", store_sqlite_migration(2) },
		{ "sql/pgsql/001-schema.sql", store_pgsql_step(1) },
		{ "sql/pgsql/002-feedback.sql", store_pgsql_step(2) },
		{ "sql/sqlite-003-handover.sql", store_sqlite_migration(3) },
		{ "sql/pgsql/003-handover.sql", store_pgsql_step(3) },
		{ "sql/sqlite-004-listindex.sql", store_sqlite_migration(4) },
		{ "sql/pgsql/004-listindex.sql", store_pgsql_step(4) },
	};
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		text = read_file(cases[i].file);
		if (cases[i].text == NULL || strcmp(text, cases[i].text) != 0)
			CASE_FAIL(cases[i].file, "the text compiled in "
			    "differs from the file");
		free(text);
	}
	/* one version for both engines: the last step of each is it */
	if (store_pgsql_step(STORE_SCHEMA_VERSION) == NULL ||
	    store_pgsql_step(STORE_SCHEMA_VERSION + 1) != NULL)
		CASE_FAIL("pgsql steps", "the last step is not version %d",
		    STORE_SCHEMA_VERSION);
	if (store_sqlite_migration(STORE_SCHEMA_VERSION + 1) != NULL)
		CASE_FAIL("sqlite steps", "a migration past version %d",
		    STORE_SCHEMA_VERSION);
}

/* t_create - STORE_CREATE makes the schema (version 2 on both engines;
 * SQLite: a 0600 WAL file) */
static void
t_create(void **state)
{
	struct fx *f = *state;
	enum store_status st;
	struct stat sb;
	struct raw r;

	f->st = store_open(f->cfg, STORE_CREATE, &st, f->why, sizeof(f->why));
	if (f->st == NULL)
		CASE_FAIL("create", "got NULL (%s), want a store", f->why);
	assert_true(store_created(f->st));
	assert_int_equal(store_version(f->st), ENGINE_VERSION);
	assert_string_equal(store_engine(f->st), pg_base != NULL ? "pgsql" :
	    "sqlite");
	if (pg_base == NULL) {
		assert_int_equal(stat(f->db, &sb), 0);
		if ((sb.st_mode & 07777) != 0600)
			CASE_FAIL("create", "mode got %o, want 600",
			    (unsigned)(sb.st_mode & 07777));
	}
	store_close(&f->st);
	assert_null(f->st);

	/* again, existing: not created, same version */
	f->st = store_open(f->cfg, STORE_CREATE, &st, f->why, sizeof(f->why));
	assert_non_null(f->st);
	assert_false(store_created(f->st));
	store_close(&f->st);
	f->st = store_open(f->cfg, 0, &st, f->why, sizeof(f->why));
	assert_non_null(f->st);
	assert_int_equal(store_exists(f->cfg, f->why, sizeof(f->why)),
	    STORE_OK);

	r = raw_open(f);
	if (pg_base != NULL) {
		assert_int_equal(raw_int(&r, "SELECT version FROM optin_schema",
		    NULL), STORE_SCHEMA_VERSION);
		assert_int_equal(raw_int(&r, "SELECT count(*) FROM pg_tables "
		    "WHERE schemaname = current_schema() AND tablename IN "
		    "('lists', 'subscriptions', 'suppressions', "
		    "'consent_events', 'quarantine', 'feedback', "
		    "'campaign_pauses', 'campaign_sent')", NULL), 8);
		/* schema step 4: no index of subscriptions by list */
		assert_int_equal(raw_int(&r, "SELECT count(*) FROM pg_indexes "
		    "WHERE schemaname = current_schema() AND indexname = "
		    "'subscriptions_list'", NULL), 0);
		raw_close(&r);
		return;
	}
	assert_int_equal(raw_int(&r, "PRAGMA user_version", NULL),
	    STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name IN ('lists', 'subscriptions', "
	    "'suppressions', 'consent_events', 'quarantine')", NULL), 5);
	/* schema version 4: no index of subscriptions by list */
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'subscriptions_list'", NULL), 0);
	raw_close(&r);
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *stmt;

		assert_int_equal(sqlite3_open_v2(f->db, &db,
		    SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode",
		    -1, &stmt, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(stmt,
		    0), "wal");
		sqlite3_finalize(stmt);
		sqlite3_close(db);
		/* the store's handles skip the CHECKs (sq_setup); another
		 * writer of the file still gets them */
		assert_int_equal(sqlite3_open_v2(f->db, &db,
		    SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "INSERT INTO suppressions "
		    "VALUES ('x@example.com', 'bored', 0)", NULL, NULL, NULL),
		    SQLITE_CONSTRAINT);
		sqlite3_close(db);
	}
}

/* t_missing - no database: STORE_TEMPFAIL from open saying so, and
 * STORE_NOTFOUND from store_exists(); SQLite makes no directory */
static void
t_missing(void **state)
{
	struct fx *f = *state;
	struct config *cfg;
	enum store_status st = STORE_OK;
	char path[1024];
	struct stat sb;

	if (pg_base != NULL) {
		snprintf(path, sizeof(path), "pgsql:%s dbname=%s_none",
		    pg_base, f->dbname);
		cfg = fx_config(path);
		assert_non_null(cfg);
		assert_null(store_open(cfg, STORE_CREATE, &st, f->why,
		    sizeof(f->why)));
		if (st != STORE_TEMPFAIL)
			CASE_FAIL("no database", "status got %d, want "
			    "STORE_TEMPFAIL", (int)st);
		if (strstr(f->why, "does not exist") == NULL)
			CASE_FAIL("no database", "why got '%s', want 'does "
			    "not exist'", f->why);
		assert_int_equal(store_exists(cfg, f->why, sizeof(f->why)),
		    STORE_NOTFOUND);
		config_free(&cfg);
		/* an empty database without STORE_CREATE */
		assert_null(store_open(f->cfg, 0, &st, f->why,
		    sizeof(f->why)));
		assert_int_equal(st, STORE_ERROR);
		assert_non_null(strstr(f->why, "optinctl init"));
		return;
	}
	f->st = store_open(f->cfg, 0, &st, f->why, sizeof(f->why));
	assert_null(f->st);
	if (st != STORE_TEMPFAIL)
		CASE_FAIL("missing file", "status got %d, want STORE_TEMPFAIL",
		    (int)st);
	if (strstr(f->why, "no such file") == NULL)
		CASE_FAIL("missing file", "why got '%s', want 'no such file'",
		    f->why);
	assert_int_equal(stat(f->db, &sb), -1);
	assert_int_equal(store_exists(f->cfg, f->why, sizeof(f->why)),
	    STORE_NOTFOUND);

	/* STORE_CREATE never creates the directory */
	snprintf(path, sizeof(path), "%s/nodir/consent.db", f->dir);
	cfg = fx_config(path);
	assert_non_null(cfg);
	st = STORE_OK;
	f->st = store_open(cfg, STORE_CREATE, &st, f->why, sizeof(f->why));
	assert_null(f->st);
	assert_int_not_equal(st, STORE_OK);
	snprintf(path, sizeof(path), "%s/nodir", f->dir);
	assert_int_equal(stat(path, &sb), -1);
	config_free(&cfg);
}

/* t_version - another schema version is STORE_ERROR naming both */
static void
t_version(void **state)
{
	struct fx *f = *state;
	enum store_status st;
	struct raw r;
	char want[32];

	f->st = store_open(f->cfg, STORE_CREATE, &st, f->why, sizeof(f->why));
	assert_non_null(f->st);
	store_close(&f->st);
	r = raw_open(f);
	assert_int_equal(raw_exec(&r, pg_base != NULL ?
	    "UPDATE optin_schema SET version = 7" : "PRAGMA user_version = 7"),
	    0);
	raw_close(&r);

	f->st = store_open(f->cfg, 0, &st, f->why, sizeof(f->why));
	assert_null(f->st);
	if (st != STORE_ERROR)
		CASE_FAIL("version 7", "status got %d, want STORE_ERROR",
		    (int)st);
	snprintf(want, sizeof(want), "version %d", ENGINE_VERSION);
	if (strstr(f->why, "version 7") == NULL ||
	    strstr(f->why, want) == NULL)
		CASE_FAIL("version 7", "why got '%s', want both versions",
		    f->why);
	/* STORE_CREATE does not touch it either, nor STORE_MIGRATE */
	f->st = store_open(f->cfg, STORE_CREATE | STORE_MIGRATE, &st, f->why,
	    sizeof(f->why));
	assert_null(f->st);
	assert_int_equal(st, STORE_ERROR);

	/* a foreign database (tables, version 0) */
	r = raw_open(f);
	assert_int_equal(raw_exec(&r, pg_base != NULL ?
	    "DROP TABLE optin_schema" : "PRAGMA user_version = 0"), 0);
	raw_close(&r);
	f->st = store_open(f->cfg, STORE_CREATE, &st, f->why, sizeof(f->why));
	assert_null(f->st);
	assert_int_equal(st, STORE_ERROR);
	assert_non_null(strstr(f->why, "not an optin-milter database"));
}

/* t_lookup - every state, table driven */
static void
t_lookup(void **state)
{
	static const struct {
		const char *label, *addr, *list;
		bool want_suppressed;
		enum sub_status want_status;
	} cases[] = {
		{ "opted in", "ann@example.com", "news", false, SUB_OPTED_IN },
		{ "opted out", "bob@example.com", "news", false,
		    SUB_OPTED_OUT },
		{ "pending", "cy@example.com", "promo", false, SUB_PENDING },
		{ "never seen", "dee@example.com", "news", false, SUB_NONE },
		{ "other list", "ann@example.com", "promo", false, SUB_NONE },
		{ "suppressed and opted in", "eve@example.com", "news", true,
		    SUB_OPTED_IN },
		{ "suppressed, no row", "eve@example.com", "promo", true,
		    SUB_NONE },
		{ "unknown list", "ann@example.com", "nosuch", false,
		    SUB_NONE },
	};
	struct fx *f = *state;
	struct consent_row row;
	enum store_status st;
	size_t i;

	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "bob@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "bob@example.com", "news",
	    SUB_OPTED_OUT, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "cy@example.com", "promo",
	    SUB_PENDING, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "eve@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_suppress(f->st, "eve@example.com",
	    "unsubscribed_all", NULL, f->why, sizeof(f->why)), STORE_OK);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&row, 0xff, sizeof(row));
		st = store_lookup(f->st, cases[i].addr, cases[i].list, &row,
		    f->why, sizeof(f->why));
		if (st != STORE_OK)
			CASE_FAIL(cases[i].label, "status got %d (%s), want "
			    "STORE_OK", (int)st, f->why);
		if (row.suppressed != cases[i].want_suppressed)
			CASE_FAIL(cases[i].label, "suppressed got %d, want %d",
			    (int)row.suppressed,
			    (int)cases[i].want_suppressed);
		if (row.status != cases[i].want_status)
			CASE_FAIL(cases[i].label, "status got %d, want %d",
			    (int)row.status, (int)cases[i].want_status);
	}
}

/* t_events - each change writes its consent_events row, atomically */
static void
t_events(void **state)
{
	struct fx *f = *state;
	struct consent_event ev = { .event = NULL, .source = "web",
		.evidence = "form 7", .remote_addr = "192.0.2.7",
		.user_agent = "test/1" };
	struct raw db;
	char reason[32];
	time_t t = 0;

	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, &ev, f->why, sizeof(f->why)), STORE_OK);
	ev.event = "confirmed";
	assert_int_equal(store_set_status(f->st, "ann@example.com", "promo",
	    SUB_OPTED_IN, &ev, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_suppress(f->st, "ann@example.com", "complaint",
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	/* a second suppression keeps the first reason, adds an event */
	assert_int_equal(store_suppress(f->st, "ann@example.com", "manual",
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_suppression(f->st, "ann@example.com", reason,
	    sizeof(reason), &t, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(reason, "complaint");
	assert_true(t > 0);
	assert_int_equal(store_suppression(f->st, "bob@example.com", reason,
	    sizeof(reason), &t, f->why, sizeof(f->why)), STORE_NOTFOUND);
	/* bad reason, unknown list: nothing written */
	assert_int_equal(store_suppress(f->st, "bob@example.com", "bored",
	    NULL, f->why, sizeof(f->why)), STORE_ERROR);
	assert_int_equal(store_set_status(f->st, "bob@example.com", "nosuch",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_NOTFOUND);
	assert_non_null(strstr(f->why, "nosuch"));
	assert_int_equal(store_set_status(f->st, "bob@example.com", "news",
	    SUB_NONE, NULL, f->why, sizeof(f->why)), STORE_ERROR);

	db = raw_open(f);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE address = $1", "ann@example.com"), 4);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE address = $1", "bob@example.com"), 0);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE address = 'ann@example.com' AND list_id = 'news' AND "
	    "event = 'opted_in' AND source = 'web' AND evidence = 'form 7' "
	    "AND remote_addr = '192.0.2.7' AND user_agent = 'test/1' AND "
	    "occurred_at > 0", NULL), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE list_id = 'promo' AND event = 'confirmed'", NULL), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events "
	    "WHERE list_id IS NULL AND event = 'suppressed' AND "
	    "evidence = 'reason=complaint'", NULL), 1);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM subscriptions "
	    "WHERE address = $1 AND source = 'web'", "ann@example.com"), 2);
	/* append-only: UPDATE refused, DELETE (erasure) allowed */
	assert_int_not_equal(raw_exec(&db, "UPDATE consent_events SET "
	    "event = 'x'"), 0);
	assert_int_equal(raw_exec(&db, "DELETE FROM consent_events WHERE "
	    "address = 'ann@example.com'"), 0);
	raw_close(&db);
}

/* t_transaction - changes nest in store_begin and roll back with it */
static void
t_transaction(void **state)
{
	struct fx *f = *state;
	struct consent_row row;
	struct raw db;

	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	/* a failing change inside leaves the earlier one alone */
	assert_int_equal(store_set_status(f->st, "ann@example.com", "nosuch",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_NOTFOUND);
	assert_int_equal(store_lookup(f->st, "ann@example.com", "news", &row,
	    f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(row.status, SUB_OPTED_IN);
	store_rollback(f->st);
	assert_int_equal(store_lookup(f->st, "ann@example.com", "news", &row,
	    f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(row.status, SUB_NONE);

	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	assert_int_equal(store_set_status(f->st, "bob@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_suppress(f->st, "bob@example.com", "manual",
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_commit(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	db = raw_open(f);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM consent_events",
	    NULL), 2);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM subscriptions",
	    NULL), 1);
	raw_close(&db);
}

/*
 * t_locked - a writer elsewhere: writes tempfail after the busy timeout
 * (PostgreSQL: lock_timeout), lookups go on (WAL; MVCC); a lock that
 * keeps readers out tempfails lookups too
 */
static void
t_locked(void **state)
{
	struct fx *f = *state;
	struct consent_row row;
	struct timespec t0;
	enum store_status st;
	struct raw db;
	long ms;

	db = raw_open(f);
	assert_int_equal(raw_exec(&db, pg_base != NULL ? "BEGIN; LOCK TABLE "
	    "subscriptions IN SHARE MODE" : "BEGIN IMMEDIATE"), 0);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	st = store_set_status(f->st, "ann@example.com", "news", SUB_OPTED_IN,
	    NULL, f->why, sizeof(f->why));
	ms = ms_since(&t0);
	if (st != STORE_TEMPFAIL)
		CASE_FAIL("write locked", "status got %d (%s), want "
		    "STORE_TEMPFAIL", (int)st, f->why);
	if (ms < BUSY_MS / 2 || ms > BUSY_MS + 2000)
		CASE_FAIL("write locked", "waited %ld ms, want about %d", ms,
		    BUSY_MS);
	st = store_lookup(f->st, "ann@example.com", "news", &row, f->why,
	    sizeof(f->why));
	if (st != STORE_OK)
		CASE_FAIL("read under a writer", "status got %d (%s), want "
		    "STORE_OK", (int)st, f->why);
	/* SQLite: BEGIN IMMEDIATE waits for the write lock itself */
	if (pg_base == NULL)
		assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)),
		    STORE_TEMPFAIL);
	assert_int_equal(raw_exec(&db, "ROLLBACK"), 0);

	/* the handle works again once the lock is gone */
	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);

	/* an exclusive lock keeps readers out as well (SQLite: taken while
	 * no one else has the file open) */
	store_close(&f->st);
	assert_int_equal(raw_exec(&db, pg_base != NULL ? "BEGIN; LOCK TABLE "
	    "suppressions IN ACCESS EXCLUSIVE MODE" :
	    "PRAGMA locking_mode = EXCLUSIVE; "
	    "BEGIN EXCLUSIVE; INSERT INTO suppressions VALUES "
	    "('x@example.com', 'manual', 1)"), 0);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	f->st = store_open(f->cfg, 0, &st, f->why, sizeof(f->why));
	if (f->st == NULL) {
		if (st != STORE_TEMPFAIL)
			CASE_FAIL("open locked", "status got %d (%s), want "
			    "STORE_TEMPFAIL", (int)st, f->why);
	} else {
		st = store_lookup(f->st, "ann@example.com", "news", &row,
		    f->why, sizeof(f->why));
		if (st != STORE_TEMPFAIL)
			CASE_FAIL("read locked", "status got %d (%s), want "
			    "STORE_TEMPFAIL", (int)st, f->why);
	}
	ms = ms_since(&t0);
	if (ms > BUSY_MS * 3 + 2000)
		CASE_FAIL("read locked", "waited %ld ms, want about %d", ms,
		    BUSY_MS);
	raw_close(&db);
}

/* list_cb - collect "list:doi:in/pending/out" */
static int
list_cb(const struct store_list *l, void *ctx)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s:%d:%lld/%lld/%lld;", l->list,
	    (int)l->double_opt_in, l->opted_in, l->pending, l->opted_out);
	return 0;
}

/* sub_cb - collect "list=status" */
static int
sub_cb(const struct store_sub *s, void *ctx)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s=%d,%s;", s->list, (int)s->status,
	    s->source != NULL ? s->source : "-");
	return 0;
}

/* t_lists - list add/exists/ls and the subscription iterator */
static void
t_lists(void **state)
{
	struct fx *f = *state;
	struct consent_event ev = { .source = "crm" };
	char out[256] = "";
	bool doi = false;

	assert_int_equal(store_list_add(f->st, "news", NULL, false, f->why,
	    sizeof(f->why)), STORE_ERROR);
	assert_non_null(strstr(f->why, "exists"));
	assert_int_equal(store_list_exists(f->st, "promo", &doi, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_true(doi);
	assert_int_equal(store_list_exists(f->st, "news", &doi, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_false(doi);
	assert_int_equal(store_list_exists(f->st, "nosuch", NULL, f->why,
	    sizeof(f->why)), STORE_NOTFOUND);
	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, &ev, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "ann@example.com", "promo",
	    SUB_PENDING, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status(f->st, "bob@example.com", "news",
	    SUB_OPTED_OUT, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_list_ls(f->st, list_cb, out, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_string_equal(out, "news:0:1/0/1;promo:1:0/1/0;");
	out[0] = '\0';
	assert_int_equal(store_subscriptions(f->st, "ann@example.com", sub_cb,
	    out, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(out, "news=2,crm;promo=1,-;");
	out[0] = '\0';
	assert_int_equal(store_subscriptions(f->st, "dee@example.com", sub_cb,
	    out, f->why, sizeof(f->why)), STORE_OK);
	assert_string_equal(out, "");
}

/* t_quarantine - rows get increasing ids */
static void
t_quarantine(void **state)
{
	struct fx *f = *state;
	struct quarantine_row row = { .queue_id = "4XyZ1",
		.message_id = "<m1@example.com>", .sender = "news@example.com",
		.recipient = "bob@example.com", .list = "news",
		.reason = "opted_out", .spool_file = "4XyZ1.eml",
		.received_at = 1700000000 };
	long long id1 = 0, id2 = 0;
	struct raw db;

	assert_int_equal(store_quarantine_add(f->st, &row, &id1, f->why,
	    sizeof(f->why)), STORE_OK);
	row.recipient = "cy@example.com";
	row.reason = "no_consent";
	row.received_at = 0;
	assert_int_equal(store_quarantine_add(f->st, &row, &id2, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_true(id1 > 0 && id2 > id1);
	db = raw_open(f);
	assert_int_equal(raw_int(&db, "SELECT received_at FROM quarantine "
	    "WHERE recipient = $1", "bob@example.com"), 1700000000);
	assert_true(raw_int(&db, "SELECT received_at FROM quarantine "
	    "WHERE recipient = $1", "cy@example.com") > 1700000000);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM quarantine "
	    "WHERE released_at IS NULL", NULL), 2);
	raw_close(&db);
}

/* t_mask - store_mask hides passwords in every ConsentDB form */
static void
t_mask(void **state)
{
	static const struct { const char *label, *in, *want; } cases[] = {
		{ "sqlite path", "/var/lib/optin-milter/consent.db",
		    "/var/lib/optin-milter/consent.db" },
		{ "uri, password", "postgresql://optin:s3cret@db.example/consent",
		    "postgresql://optin:***@db.example/consent" },
		{ "uri, no password", "postgres://optin@db/consent?sslmode=verify-full",
		    "postgres://optin@db/consent?sslmode=verify-full" },
		{ "uri, query password",
		    "postgresql://db/consent?user=u&password=s3cret&sslmode=require",
		    "postgresql://db/consent?user=u&password=***&sslmode=require" },
		{ "conninfo", "host=db password=s3cret dbname=consent",
		    "host=db password=*** dbname=consent" },
		{ "conninfo, quoted", "pgsql:host=db password = 'a b\\' c' user=u",
		    "pgsql:host=db password = *** user=u" },
		{ "not a keyword", "host=db mypassword=x",
		    "host=db mypassword=x" },
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		store_mask(cases[i].in, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			CASE_FAIL(cases[i].label, "got '%s', want '%s'", out,
			    cases[i].want);
	}
	store_mask("postgresql://u:s3cret@h/d", out, 12);
	assert_string_equal(out, "postgresql:");
}

/* t_backend_name - ConsentDB picks the engine; a PostgreSQL server that
 * does not answer is STORE_TEMPFAIL, its password never in why */
static void
t_backend_name(void **state)
{
	static const char *const down[] = {
		"postgresql://optin:s3cret@127.0.0.1:1/consent",
		"pgsql:host=127.0.0.1 port=1 password=s3cret dbname=consent",
		"host=127.0.0.1 port=1 password=s3cret dbname=consent",
	};
	struct fx *f = *state;
	struct config *cfg;
	enum store_status st;
	char path[192];
	size_t i;

	for (i = 0; i < sizeof(down) / sizeof(down[0]); i++) {
		cfg = fx_config(down[i]);
		assert_non_null(cfg);
		st = STORE_OK;
		assert_null(store_open(cfg, 0, &st, f->why, sizeof(f->why)));
		if (st != STORE_TEMPFAIL)
			CASE_FAIL(down[i], "status got %d (%s), want "
			    "STORE_TEMPFAIL", (int)st, f->why);
		if (strstr(f->why, "s3cret") != NULL ||
		    strstr(f->why, "***") == NULL ||
		    strstr(f->why, "cannot connect") == NULL)
			CASE_FAIL(down[i], "why got '%s', want the password "
			    "masked", f->why);
		config_free(&cfg);
	}
	snprintf(path, sizeof(path), "sqlite:%s/consent.db", f->dir);
	cfg = fx_config(path);
	assert_non_null(cfg);
	f->st = store_open(cfg, STORE_CREATE, &st, f->why, sizeof(f->why));
	assert_non_null(f->st);
	assert_string_equal(store_engine(f->st), "sqlite");
	config_free(&cfg);
}

/*
 * t_reconnect - PostgreSQL: the server ends our connection (as a restart
 * does); the next call resets it and succeeds.  Inside a transaction the
 * loss is STORE_TEMPFAIL (never a guess), and the handle works afterwards.
 */
static void
t_reconnect(void **state)
{
	static const char kill_sql[] = "SELECT count(pg_terminate_backend(pid))"
	    " FROM pg_stat_activity WHERE datname = current_database()"
	    " AND pid <> pg_backend_pid()";
	struct fx *f = *state;
	struct consent_row row;
	struct raw db;

	if (pg_base == NULL)
		skip();
	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	db = raw_open(f);
	assert_int_equal(raw_int(&db, kill_sql, NULL), 1);
	if (store_lookup(f->st, "ann@example.com", "news", &row, f->why,
	    sizeof(f->why)) != STORE_OK)
		CASE_FAIL("after a lost connection", "got %s, want STORE_OK",
		    f->why);
	assert_int_equal(row.status, SUB_OPTED_IN);

	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	assert_int_equal(store_set_status(f->st, "bob@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(raw_int(&db, kill_sql, NULL), 1);
	if (store_set_status(f->st, "cy@example.com", "news", SUB_OPTED_IN,
	    NULL, f->why, sizeof(f->why)) != STORE_TEMPFAIL)
		CASE_FAIL("lost inside a transaction", "want STORE_TEMPFAIL");
	store_rollback(f->st);
	assert_int_equal(store_lookup(f->st, "bob@example.com", "news", &row,
	    f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(row.status, SUB_NONE);
	assert_int_equal(raw_int(&db, "SELECT count(*) FROM subscriptions",
	    NULL), 1);
	raw_close(&db);
}

/* deny_rollback - an SQLite authorizer that refuses ROLLBACK (setting one
 * expires the prepared statements: the next ROLLBACK is prepared again) */
static int
deny_rollback(void *arg, int action, const char *a, const char *b,
    const char *c, const char *d)
{
	(void)arg;
	(void)b;
	(void)c;
	(void)d;
	return action == SQLITE_TRANSACTION && a != NULL &&
	    strcmp(a, "ROLLBACK") == 0 ? SQLITE_DENY : SQLITE_OK;
}

/* deny_commit_rollback - an SQLite authorizer that refuses COMMIT and
 * ROLLBACK */
static int
deny_commit_rollback(void *arg, int action, const char *a, const char *b,
    const char *c, const char *d)
{
	return action == SQLITE_TRANSACTION && a != NULL &&
	    strcmp(a, "COMMIT") == 0 ? SQLITE_DENY :
	    deny_rollback(arg, action, a, b, c, d);
}

/*
 * undo_fails - a change in a transaction, then, with deny as the
 * authorizer, store_commit (by_commit) or store_rollback: the ROLLBACK
 * fails and is logged once, with SQLite's message; no later change joins
 * the transaction it left open (it would never be committed): changes
 * tempfail until a ROLLBACK works, then commit as usual.
 */
static void
undo_fails(struct fx *f, int (*deny)(void *, int, const char *,
    const char *, const char *, const char *), bool by_commit)
{
	enum store_status during;
	char got[2048], want[2048];
	sqlite3 *db;
	struct raw r;
	FILE *cap;
	size_t n;
	int saved;

	db = ((struct sq *)f->st)->db;
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	assert_int_equal(store_set_status(f->st, "ann@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	(void)sqlite3_set_authorizer(db, deny, NULL);
	/* the log goes to stderr: catch it around the calls */
	assert_non_null(cap = tmpfile());
	(void)fflush(stderr);
	saved = dup(2);
	assert_int_equal(dup2(fileno(cap), 2), 2);
	if (!by_commit)
		store_rollback(f->st);
	else if (store_commit(f->st, f->why, sizeof(f->why)) == STORE_OK)
		CASE_FAIL("a refused COMMIT", "got STORE_OK");
	during = store_set_status(f->st, "bob@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why));
	store_rollback(f->st);
	(void)fflush(stderr);
	(void)dup2(saved, 2);
	(void)close(saved);
	rewind(cap);
	n = fread(got, 1, sizeof(got) - 1, cap);
	got[n] = '\0';
	(void)fclose(cap);
	snprintf(want, sizeof(want), "error: ConsentDB %s: ROLLBACK: not "
	    "authorized (ROLLBACK failed; the transaction stays open and "
	    "changes tempfail until a ROLLBACK works)\n", f->db);
	if (strcmp(got, want) != 0)
		CASE_FAIL("failed ROLLBACK: one log line", "got '%s', want "
		    "'%s'", got, want);
	if (during != STORE_TEMPFAIL)
		CASE_FAIL("a change while the transaction is stuck", "got %d, "
		    "want STORE_TEMPFAIL (%s)", (int)during, f->why);
	(void)sqlite3_set_authorizer(db, NULL, NULL);
	if (store_set_status(f->st, "cy@example.com", "news", SUB_OPTED_IN,
	    NULL, f->why, sizeof(f->why)) != STORE_OK)
		CASE_FAIL("a change once ROLLBACK works", "got %s, want "
		    "STORE_OK", f->why);
	r = raw_open(f);
	if (raw_int(&r, "SELECT count(*) FROM subscriptions WHERE address = "
	    "'cy@example.com'", NULL) != 1 || raw_int(&r, "SELECT count(*) "
	    "FROM subscriptions", NULL) != 1)
		CASE_FAIL("committed rows", "want cy only (ann rolled back, "
		    "bob refused)");
	raw_close(&r);
}

/* t_rollback_fails - undo_fails on store_rollback.  SQLite only (the
 * authorizer is SQLite's). */
static void
t_rollback_fails(void **state)
{
	if (pg_base != NULL)
		skip();
	undo_fails(*state, deny_rollback, false);
}

/* t_commit_rollback_fails - undo_fails on store_commit: the ROLLBACK
 * after the failed COMMIT (sq_commit) is handled the same way */
static void
t_commit_rollback_fails(void **state)
{
	if (pg_base != NULL)
		skip();
	undo_fails(*state, deny_commit_rollback, true);
}

/* store_table_row_ok: the schema's CHECK sets, without a database */
static void
t_table_row_ok(void **state)
{
	const char *list_ok[] = { "news", NULL, "1", "1" };
	const char *list_bad[] = { "odd", NULL, "7", "1" };
	const char *sub_bad[] = { "a@example.com", "news", "maybe", NULL, "1" };
	const char *sub_ok[] = { "a@example.com", "news", "opted_out", NULL,
	    "1" };
	const char *supp_bad[] = { "b@example.com", "whim", "1" };
	const char *fb_bad[] = { "6", NULL, NULL, NULL, "complaint", NULL, NULL,
	    NULL, NULL, "none", "2", "1" };
	/* a source's bytes, not ours: no control character reaches why */
	const char *sub_ctrl[] = { "c@example.com\n\033[2J", "news",
	    "ma\rybe\xc3\xa9", NULL, "1" };
	char why[256];

	(void)state;
	assert_true(store_table_row_ok("lists", list_ok, why, sizeof(why)));
	assert_true(store_table_row_ok("subscriptions", sub_ok, why,
	    sizeof(why)));
	assert_false(store_table_row_ok("lists", list_bad, why, sizeof(why)));
	assert_string_equal(why, "lists row 'odd': bad double_opt_in '7'");
	assert_false(store_table_row_ok("subscriptions", sub_bad, why,
	    sizeof(why)));
	assert_string_equal(why, "subscriptions row 'a@example.com': bad "
	    "subscription status 'maybe'");
	assert_false(store_table_row_ok("suppressions", supp_bad, why,
	    sizeof(why)));
	assert_string_equal(why, "suppressions row 'b@example.com': bad "
	    "suppression reason 'whim'");
	assert_false(store_table_row_ok("feedback", fb_bad, why, sizeof(why)));
	assert_string_equal(why, "feedback row '6': bad acted '2'");
	assert_false(store_table_row_ok("subscriptions", sub_ctrl, why,
	    sizeof(why)));
	assert_string_equal(why, "subscriptions row 'c@example.com??[2J': bad "
	    "subscription status 'ma?ybe?" "?'");
	assert_false(store_table_row_ok("nosuch", list_ok, why, sizeof(why)));
	assert_non_null(strstr(why, "nosuch"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_schema_file),
		cmocka_unit_test(t_mask),
		cmocka_unit_test_setup_teardown(t_create, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(t_missing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(t_version, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(t_lookup, fx_setup_db, fx_teardown),
		cmocka_unit_test_setup_teardown(t_events, fx_setup_db, fx_teardown),
		cmocka_unit_test_setup_teardown(t_transaction, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_locked, fx_setup_db, fx_teardown),
		cmocka_unit_test_setup_teardown(t_lists, fx_setup_db, fx_teardown),
		cmocka_unit_test_setup_teardown(t_quarantine, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_backend_name, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_reconnect, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_rollback_fails, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_commit_rollback_fails,
		    fx_setup_db, fx_teardown),
		cmocka_unit_test_setup_teardown(t_feedback, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_optout_state, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_optout_legacy, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_optout_batch, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_forget_change, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_optout_batch_fault,
		    fx_setup_db, fx_teardown),
		cmocka_unit_test_setup_teardown(t_replaced, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_replaced_side, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_lookup_set, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_set_status_values,
		    fx_setup_db, fx_teardown),
		cmocka_unit_test_setup_teardown(t_import_set, fx_setup_db,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(t_migrate, fx_setup,
		    fx_teardown),
		cmocka_unit_test(t_table_row_ok),
	};
	const char *engine = getenv("OPTIN_STORE");

	if (engine != NULL && strcmp(engine, "pgsql") == 0) {
		if ((pg_base = getenv("OPTIN_PG")) == NULL) {
			fprintf(stderr, "OPTIN_STORE=pgsql needs OPTIN_PG\n");
			printf("store: 0 passed, 1 failed\n");
			return 1;
		}
		return HARNESS_RUN("store-pgsql", tests);
	}
	return HARNESS_RUN("store", tests);
}
