/*
 * store_sqlite.c - the SQLite backend of the consent store (store.h,
 * store-private.h).
 *
 * One handle per thread (the milter opens one per connection thread);
 * connections are opened with SQLITE_OPEN_NOMUTEX and must not be shared
 * without a lock.  Every statement is prepared once per handle, on first
 * use, with bound parameters, and reset right after use so that no read
 * transaction stays open between calls.  The lookup done per recipient is
 * one statement returning both the suppression and the subscription state.
 *
 * Settings per connection: WAL, synchronous=NORMAL, foreign_keys on (off,
 * with a 256 MiB page cache, for STORE_BULK), busy timeout DBBusyTimeout,
 * and secure_delete on every connection that may write: deleted content is
 * overwritten with zeros, whoever deletes it (a subscription rewritten by
 * the milter as well as a person erased by optinctl), so that a TRUNCATE
 * checkpoint (sq_checkpoint) leaves no old copy in any file.
 * A database that is busy, locked, unreadable or unopenable is
 * STORE_TEMPFAIL, never "not found" (STYLE.md section 4).
 * Single changes run in BEGIN IMMEDIATE (so that waiting for the write lock
 * goes through the busy handler), or in a savepoint when the caller holds a
 * transaction from store_begin().
 *
 * The schema text below is sql/schema.sql verbatim (tests/unit/test_store.c
 * compares the two); change both in the same commit, and only through a
 * numbered migration once released.
 */
#include "autoconf.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <sqlite3.h>

#include "config.h"
#include "store-private.h"

/* sql/schema.sql, verbatim */
static const char schema_sql[] =
	"-- schema.sql - optin-milter consent store, schema version 1.\n"
	"--\n"
	"-- DESIGN \"Consent model\".  Addresses are normalised (addr_normalize) before\n"
	"-- they reach the database; times are integer seconds since the epoch; state\n"
	"-- and reason words are DESIGN's exact words.  The text of this file is\n"
	"-- compiled into the programs (milter/store_sqlite.c, schema_sql[], kept\n"
	"-- identical and compared by tests/unit/test_store.c); later versions come as\n"
	"-- numbered migrations, never as edits to this file.\n"
	"\n"
	"CREATE TABLE lists (\n"
	"\tlist_id\t\tTEXT PRIMARY KEY NOT NULL,\n"
	"\tname\t\tTEXT,\n"
	"\tdouble_opt_in\tINTEGER NOT NULL DEFAULT 0 CHECK (double_opt_in IN (0, 1)),\n"
	"\tcreated_at\tINTEGER NOT NULL\n"
	");\n"
	"\n"
	"CREATE TABLE subscriptions (\n"
	"\taddress\t\tTEXT NOT NULL,\n"
	"\tlist_id\t\tTEXT NOT NULL REFERENCES lists (list_id),\n"
	"\tstatus\t\tTEXT NOT NULL\n"
	"\t\t\tCHECK (status IN ('pending', 'opted_in', 'opted_out')),\n"
	"\tsource\t\tTEXT,\n"
	"\tupdated_at\tINTEGER NOT NULL,\n"
	"\tPRIMARY KEY (address, list_id)\n"
	") WITHOUT ROWID;\n"
	"\n"
	"CREATE INDEX subscriptions_list ON subscriptions (list_id, status);\n"
	"\n"
	"-- Global suppression of campaign mail.  An erased person is kept only as a\n"
	"-- keyed hash of the address (reason 'erased').\n"
	"CREATE TABLE suppressions (\n"
	"\taddress\t\tTEXT PRIMARY KEY NOT NULL,\n"
	"\treason\t\tTEXT NOT NULL\n"
	"\t\t\tCHECK (reason IN ('unsubscribed_all', 'hard_bounce',\n"
	"\t\t\t    'complaint', 'erased', 'manual')),\n"
	"\tcreated_at\tINTEGER NOT NULL\n"
	") WITHOUT ROWID;\n"
	"\n"
	"-- Append-only proof of consent.  Rows are never changed; erasure may delete\n"
	"-- a person's rows (and keeps a hashed suppression instead).\n"
	"CREATE TABLE consent_events (\n"
	"\tid\t\tINTEGER PRIMARY KEY,\n"
	"\taddress\t\tTEXT NOT NULL,\n"
	"\tlist_id\t\tTEXT,\n"
	"\tevent\t\tTEXT NOT NULL,\n"
	"\tsource\t\tTEXT,\n"
	"\tevidence\tTEXT,\n"
	"\tremote_addr\tTEXT,\n"
	"\tuser_agent\tTEXT,\n"
	"\toccurred_at\tINTEGER NOT NULL\n"
	");\n"
	"\n"
	"CREATE INDEX consent_events_address ON consent_events (address, occurred_at);\n"
	"\n"
	"CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events\n"
	"BEGIN\n"
	"\tSELECT RAISE(ABORT, 'consent_events is append-only');\n"
	"END;\n"
	"\n"
	"-- One row per blocked recipient of a quarantined message; spool_file is\n"
	"-- relative to QuarantineDir and may be shared by several rows.\n"
	"CREATE TABLE quarantine (\n"
	"\tid\t\tINTEGER PRIMARY KEY,\n"
	"\tqueue_id\tTEXT,\n"
	"\tmessage_id\tTEXT,\n"
	"\tsender\t\tTEXT,\n"
	"\trecipient\tTEXT NOT NULL,\n"
	"\tlist_id\t\tTEXT,\n"
	"\treason\t\tTEXT NOT NULL,\n"
	"\tspool_file\tTEXT NOT NULL,\n"
	"\treceived_at\tINTEGER NOT NULL,\n"
	"\treleased_at\tINTEGER\n"
	");\n"
	"\n"
	"CREATE INDEX quarantine_recipient ON quarantine (recipient);\n"
	"CREATE INDEX quarantine_received ON quarantine (received_at);\n"
	"CREATE INDEX quarantine_spool ON quarantine (spool_file);\n"
	"\n"
	"PRAGMA user_version = 1;\n";

/*
 * Numbered migrations: migrations[i] takes the schema from version
 * migrations[i].to - 1 to .to, and its SQL ends by setting user_version.
 * Schema version 1 has none; the table ends with { 0, NULL }.
 */
static const struct {
	int to;
	const char *sql;
} migrations[] = {
	{ 0, NULL }
};

enum stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_LOOKUP,
	STMT_LIST_GET,
	STMT_LIST_ADD,
	STMT_LIST_LS,
	STMT_SUB_SET,
	STMT_EVENT_ADD,
	STMT_SUPPRESS,
	STMT_SUPPRESSION,
	STMT_SUBS,
	STMT_QUARANTINE_ADD,
	STMT_LOOKUP2,
	STMT_BEGIN_READ,
	STMT_SUB_GET,
	STMT_SUPP_COUNT,
	STMT_EVENTS,
	STMT_EVER_IN,
	STMT_DEL_SUBS,
	STMT_DEL_EVENTS,
	STMT_DEL_QROWS,
	STMT_DEL_SUPP,
	STMT_QLS,
	STMT_QREL,
	STMT_QDEL,
	STMT_SPOOL_REFS,
	STMT_MEMBERS,
	STMT_OPTOUT_ADDRS,
	STMT_STATS,
	STMT_COUNT
};

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_SAVEPOINT] = "SAVEPOINT store_op",
	[STMT_RELEASE] = "RELEASE store_op",
	[STMT_ROLLBACK_TO] = "ROLLBACK TO store_op",
	[STMT_LOOKUP] =
	    "SELECT EXISTS (SELECT 1 FROM suppressions WHERE address = ?1),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = ?1 AND list_id = ?2)",
	[STMT_LIST_GET] = "SELECT double_opt_in, name FROM lists WHERE list_id = ?1",
	[STMT_LIST_ADD] =
	    "INSERT INTO lists (list_id, name, double_opt_in, created_at)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[STMT_LIST_LS] =
	    "SELECT l.list_id, l.name, l.double_opt_in, l.created_at,"
	    " (SELECT count(*) FROM subscriptions s"
	    "  WHERE s.list_id = l.list_id AND s.status = 'opted_in'),"
	    " (SELECT count(*) FROM subscriptions s"
	    "  WHERE s.list_id = l.list_id AND s.status = 'pending'),"
	    " (SELECT count(*) FROM subscriptions s"
	    "  WHERE s.list_id = l.list_id AND s.status = 'opted_out')"
	    " FROM lists l ORDER BY l.list_id",
	[STMT_SUB_SET] =
	    "INSERT INTO subscriptions (address, list_id, status, source,"
	    " updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (address, list_id) DO UPDATE SET"
	    " status = excluded.status, source = excluded.source,"
	    " updated_at = excluded.updated_at",
	[STMT_EVENT_ADD] =
	    "INSERT INTO consent_events (address, list_id, event, source,"
	    " evidence, remote_addr, user_agent, occurred_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_SUPPRESS] =
	    "INSERT INTO suppressions (address, reason, created_at)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (address) DO NOTHING",
	[STMT_SUPPRESSION] =
	    "SELECT reason, created_at FROM suppressions WHERE address = ?1",
	[STMT_SUBS] =
	    "SELECT list_id, status, source, updated_at FROM subscriptions"
	    " WHERE address = ?1 ORDER BY list_id",
	[STMT_QUARANTINE_ADD] =
	    "INSERT INTO quarantine (queue_id, message_id, sender, recipient,"
	    " list_id, reason, spool_file, received_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_LOOKUP2] =
	    "SELECT EXISTS (SELECT 1 FROM suppressions"
	    " WHERE address IN (?1, ?3)),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = ?1 AND list_id = ?2)",
	[STMT_BEGIN_READ] = "BEGIN",
	[STMT_SUB_GET] =
	    "SELECT status, updated_at FROM subscriptions"
	    " WHERE address = ?1 AND list_id = ?2",
	[STMT_SUPP_COUNT] = "SELECT count(*) FROM suppressions WHERE reason = ?1",
	[STMT_EVENTS] =
	    "SELECT id, address, list_id, event, source, evidence,"
	    " remote_addr, user_agent, occurred_at FROM consent_events"
	    " WHERE address = ?1 ORDER BY occurred_at, id",
	[STMT_EVER_IN] =
	    "SELECT EXISTS (SELECT 1 FROM consent_events WHERE address = ?1"
	    " AND list_id = ?2 AND event IN ('opted_in', 'confirmed'))",
	[STMT_DEL_SUBS] = "DELETE FROM subscriptions WHERE address = ?1",
	[STMT_DEL_EVENTS] = "DELETE FROM consent_events WHERE address = ?1",
	[STMT_DEL_QROWS] = "DELETE FROM quarantine WHERE recipient = ?1",
	[STMT_DEL_SUPP] = "DELETE FROM suppressions WHERE address = ?1",
	[STMT_QLS] =
	    "SELECT id, queue_id, message_id, sender, recipient, list_id,"
	    " reason, spool_file, received_at, released_at FROM quarantine"
	    " WHERE (?1 = 0 OR id = ?1) AND (?2 IS NULL OR reason = ?2)"
	    " AND (?3 IS NULL OR list_id = ?3) AND (?4 IS NULL OR sender = ?4)"
	    " AND (?5 IS NULL OR recipient = ?5)"
	    " AND (?6 = 0 OR received_at < ?6)"
	    " AND (?7 = 0 OR released_at IS NULL) ORDER BY id",
	[STMT_QREL] = "UPDATE quarantine SET released_at = ?2 WHERE id = ?1",
	[STMT_QDEL] = "DELETE FROM quarantine WHERE id = ?1",
	[STMT_SPOOL_REFS] =
	    "SELECT count(*) FROM quarantine WHERE spool_file = ?1",
	[STMT_MEMBERS] =
	    "SELECT s.address, s.list_id, s.status, s.source, s.updated_at,"
	    " EXISTS (SELECT 1 FROM suppressions p"
	    " WHERE p.address = s.address) FROM subscriptions s"
	    " WHERE (?1 IS NULL OR s.list_id = ?1)"
	    " AND (?2 = 0 OR s.status = 'opted_out')"
	    " ORDER BY s.list_id, s.address",
	[STMT_OPTOUT_ADDRS] =
	    "SELECT address FROM subscriptions WHERE status = 'opted_out'"
	    " AND (?1 IS NULL OR list_id = ?1)"
	    " UNION SELECT address FROM suppressions WHERE reason <> 'erased'"
	    " ORDER BY 1",
	[STMT_STATS] =
	    "SELECT 1, 'subscriptions', list_id, status, count(*)"
	    " FROM subscriptions GROUP BY list_id, status"
	    " UNION ALL SELECT 2, 'suppressions', reason, NULL, count(*)"
	    " FROM suppressions GROUP BY reason"
	    " UNION ALL SELECT 3, 'quarantine', reason, CASE WHEN"
	    " released_at IS NULL THEN 'held' ELSE 'released' END, count(*)"
	    " FROM quarantine GROUP BY 3, 4"
	    " UNION ALL SELECT 4, 'events', event, NULL, count(*)"
	    " FROM consent_events WHERE occurred_at >= ?1 GROUP BY event"
	    " ORDER BY 1, 3, 4",
};

struct sq {
	struct store base;		/* first: store.c sees this */
	sqlite3 *db;			/* owned */
	sqlite3_stmt *stmt[STMT_COUNT];	/* owned, prepared on first use */
	char *path;			/* owned */
	long long busy_ms;		/* DBBusyTimeout */
	struct timespec busy_since;	/* sq_busy: when this wait began */
};

/* sq_kind - the store status for an SQLite result code */
static enum store_status
sq_kind(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return STORE_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
	case SQLITE_NOMEM:
	case SQLITE_PROTOCOL:
		return STORE_TEMPFAIL;
	default:
		return STORE_ERROR;
	}
}

/* sq_fail - fill why for a failed SQLite call and return its status */
static enum store_status
sq_fail(struct sq *s, int rc, const char *what, char *why, size_t whylen)
{
	const char *msg;

	msg = s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	snprintf(why, whylen, "ConsentDB %s: %s: %s", s->path, what, msg);
	return sq_kind(rc) == STORE_OK ? STORE_ERROR : sq_kind(rc);
}

/* stmt_get - the prepared statement i, prepared on first use */
static int
stmt_get(struct sq *s, enum stmt i, sqlite3_stmt **stp)
{
	int rc;

	if (s->stmt[i] == NULL) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	*stp = s->stmt[i];
	return SQLITE_OK;
}

/* stmt_done - reset a statement after use and drop its bindings */
static void
stmt_done(sqlite3_stmt *stmt)
{
	(void)sqlite3_reset(stmt);
	(void)sqlite3_clear_bindings(stmt);
}

/*
 * stmt_bindv - bind parameters 1..n of stmt from ap, one letter of types
 * each: 't' const char * (NULL binds NULL; the text must outlive the
 * statement's use), 'i' int, 'l' sqlite3_int64.
 */
static void
stmt_bindv(sqlite3_stmt *stmt, const char *types, va_list ap)
{
	int n;

	for (n = 1; types[n - 1] != '\0'; n++) {
		switch (types[n - 1]) {
		case 't':
			(void)sqlite3_bind_text(stmt, n, va_arg(ap,
			    const char *), -1, SQLITE_STATIC);
			break;
		case 'i':
			(void)sqlite3_bind_int(stmt, n, va_arg(ap, int));
			break;
		case 'l':
			(void)sqlite3_bind_int64(stmt, n, va_arg(ap,
			    sqlite3_int64));
			break;
		default:
			assert(!"stmt_bindv: bad type letter");
		}
	}
}

/* stmt_start - the prepared statement i with its parameters bound from
 * the arguments as stmt_bindv() reads types */
static int
stmt_start(struct sq *s, enum stmt i, sqlite3_stmt **stp, const char *types,
    ...)
{
	va_list ap;
	int rc;

	if ((rc = stmt_get(s, i, stp)) != SQLITE_OK)
		return rc;
	va_start(ap, types);
	stmt_bindv(*stp, types, ap);
	va_end(ap);
	return SQLITE_OK;
}

/* stmt_exec - run statement i once, parameters bound as stmt_start(), and
 * reset it; SQLITE_OK when it ran to completion, else the failing code */
static int
stmt_exec(struct sq *s, enum stmt i, const char *types, ...)
{
	sqlite3_stmt *stmt;
	va_list ap;
	int rc;

	if ((rc = stmt_get(s, i, &stmt)) != SQLITE_OK)
		return rc;
	va_start(ap, types);
	stmt_bindv(stmt, types, ap);
	va_end(ap);
	rc = sqlite3_step(stmt);
	stmt_done(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* rows_end - after a loop over the rows of stmt ended with rc: reset it;
 * STORE_OK when the loop saw every row (or stopped on purpose with rc set
 * to SQLITE_DONE), else the failure named what */
static enum store_status
rows_end(struct sq *s, sqlite3_stmt *stmt, int rc, const char *what,
    char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;

	if (rc != SQLITE_DONE)
		rs = sq_fail(s, rc, what, why, whylen);
	stmt_done(stmt);
	return rs;
}

/* bad_row - reset stmt after a row of table that breaks the schema */
static enum store_status
bad_row(struct sq *s, sqlite3_stmt *stmt, const char *table, char *why,
    size_t whylen)
{
	snprintf(why, whylen, "ConsentDB %s: bad row in %s", s->path, table);
	stmt_done(stmt);
	return STORE_ERROR;
}

/* sq_run - run the parameterless statement i to completion */
static enum store_status
sq_run(struct sq *s, enum stmt i, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_get(s, i, &stmt)) != SQLITE_OK)
		return sq_fail(s, rc, stmt_sql[i], why, whylen);
	rc = sqlite3_step(stmt);
	stmt_done(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sq_fail(s, rc, stmt_sql[i], why, whylen);
	return STORE_OK;
}

/*
 * sq_exec_script - run every statement of sql (open-time pragmas, the
 * schema, migrations: constant text, no data); *int_r (may be NULL) gets the
 * first column of the first row returned, if any.
 */
static int
sq_exec_script(struct sq *s, const char *sql, int *int_r)
{
	sqlite3_stmt *stmt;
	const char *tail;
	bool got = false;
	int rc;

	while (sql != NULL && *sql != '\0') {
		rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, &tail);
		if (rc != SQLITE_OK)
			return rc;
		sql = tail;
		if (stmt == NULL)	/* only space or comments left */
			break;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (int_r != NULL && !got) {
				*int_r = sqlite3_column_int(stmt, 0);
				got = true;
			}
		}
		(void)sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE)
			return rc;
	}
	return SQLITE_OK;
}

/* sq_tx_script - run a script inside BEGIN IMMEDIATE ... COMMIT */
static enum store_status
sq_tx_script(struct sq *s, const char *sql, const char *what, char *why,
    size_t whylen)
{
	enum store_status st;
	int rc;

	if ((st = sq_run(s, STMT_BEGIN, why, whylen)) != STORE_OK)
		return st;
	if ((rc = sq_exec_script(s, sql, NULL)) != SQLITE_OK) {
		st = sq_fail(s, rc, what, why, whylen);
		if (!sqlite3_get_autocommit(s->db))
			(void)sq_run(s, STMT_ROLLBACK, why, 0);
		return st;
	}
	if ((st = sq_run(s, STMT_COMMIT, why, whylen)) != STORE_OK) {
		if (!sqlite3_get_autocommit(s->db))
			(void)sq_run(s, STMT_ROLLBACK, why, 0);
		return st;
	}
	return STORE_OK;
}

/*
 * tx_enter - make the following changes atomic: BEGIN IMMEDIATE when no
 * transaction is open (*own_r true), else a savepoint inside the caller's.
 */
static enum store_status
tx_enter(struct sq *s, bool *own_r, char *why, size_t whylen)
{
	*own_r = sqlite3_get_autocommit(s->db) != 0;
	return sq_run(s, *own_r ? STMT_BEGIN : STMT_SAVEPOINT, why, whylen);
}

/*
 * tx_leave - commit (ok) or undo what tx_enter began.  After an error
 * SQLite may have rolled the whole transaction back already; then there is
 * nothing left to undo.
 */
static enum store_status
tx_leave(struct sq *s, bool own, bool ok, char *why, size_t whylen)
{
	enum store_status st;

	if (ok) {
		st = sq_run(s, own ? STMT_COMMIT : STMT_RELEASE, why, whylen);
		if (st == STORE_OK)
			return STORE_OK;
	} else
		st = STORE_OK;
	if (sqlite3_get_autocommit(s->db))
		return st;
	if (own)
		(void)sq_run(s, STMT_ROLLBACK, why, 0);
	else {
		(void)sq_run(s, STMT_ROLLBACK_TO, why, 0);
		(void)sq_run(s, STMT_RELEASE, why, 0);
	}
	return st;
}

/* sq_close - finalize every statement and close the connection */
static void
sq_close(struct store *st)
{
	struct sq *s = (struct sq *)st;
	size_t i;

	for (i = 0; i < STMT_COUNT; i++)
		(void)sqlite3_finalize(s->stmt[i]);
	(void)sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

/*
 * sq_busy - the busy handler: try again every BUSY_POLL_MS until
 * DBBusyTimeout has passed.  SQLite's own handler backs off to 100 ms
 * between tries, so a waiter kept missing the short gaps that a bulk
 * import leaves between its transactions (ctl_import.c) and waited out
 * the whole import; polling often finds the lock in any gap of a few
 * milliseconds.  A try is one lock call on the WAL index: cheap.
 */
#define BUSY_POLL_MS	1

static int
sq_busy(void *arg, int n)
{
	struct sq *s = arg;
	struct timespec now, nap = { 0, BUSY_POLL_MS * 1000000L };
	long long waited;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (n == 0)
		s->busy_since = now;
	waited = (long long)(now.tv_sec - s->busy_since.tv_sec) * 1000 +
	    (now.tv_nsec - s->busy_since.tv_nsec) / 1000000;
	if (waited >= s->busy_ms)
		return 0;
	(void)nanosleep(&nap, NULL);
	return 1;
}

/* sq_setup - per-connection settings, then check (or create) the schema */
static enum store_status
sq_setup(struct sq *s, const struct config *cfg, unsigned flags, char *why,
    size_t whylen)
{
	int rc, version = 0, ntables = 0;
	enum store_status st;

	s->busy_ms = cfg->db_busy_timeout;
	(void)sqlite3_busy_handler(s->db, s->busy_ms > 0 ? sq_busy : NULL, s);
	/* STORE_BULK: the caller checks lists itself; the per-row foreign
	 * key check would cost a third of an import */
	rc = sq_exec_script(s, (flags & STORE_BULK) != 0 ?
	    "PRAGMA foreign_keys = OFF; PRAGMA synchronous = NORMAL;"
	    " PRAGMA cache_size = -262144;" :
	    "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", NULL);
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "settings", why, whylen);
	if ((flags & STORE_READONLY) == 0) {
		rc = sq_exec_script(s, "PRAGMA journal_mode = WAL", NULL);
		if (rc != SQLITE_OK)
			return sq_fail(s, rc, "journal_mode WAL", why, whylen);
		/* erasure: freed cells and pages are zeroed (DESIGN
		 * "Consent model"); builds differ in the default */
		rc = sq_exec_script(s, "PRAGMA secure_delete = ON", NULL);
		if (rc != SQLITE_OK)
			return sq_fail(s, rc, "secure_delete", why, whylen);
	}
	if ((rc = sq_exec_script(s, "PRAGMA user_version", &version))
	    != SQLITE_OK)
		return sq_fail(s, rc, "schema version", why, whylen);
	if (version == 0) {
		rc = sq_exec_script(s, "SELECT count(*) FROM sqlite_master",
		    &ntables);
		if (rc != SQLITE_OK)
			return sq_fail(s, rc, "schema", why, whylen);
		if (ntables > 0) {
			snprintf(why, whylen, "ConsentDB %s: not an "
			    "optin-milter database (schema version 0)",
			    s->path);
			return STORE_ERROR;
		}
		if ((flags & STORE_CREATE) == 0 ||
		    (flags & STORE_READONLY) != 0) {
			snprintf(why, whylen, "ConsentDB %s: empty database "
			    "(create it with optinctl init)", s->path);
			return STORE_ERROR;
		}
		st = sq_tx_script(s, schema_sql, "create schema", why, whylen);
		if (st != STORE_OK)
			return st;
		s->base.created = true;
		version = STORE_SCHEMA_VERSION;
	}
	s->base.version = version;
	if (version == STORE_SCHEMA_VERSION ||
	    ((flags & STORE_MIGRATE) != 0 && version < STORE_SCHEMA_VERSION))
		return STORE_OK;
	snprintf(why, whylen, "ConsentDB %s: schema version %d, this build "
	    "knows version %d%s", s->path, version, STORE_SCHEMA_VERSION,
	    version < STORE_SCHEMA_VERSION ? " (run optinctl migrate)" : "");
	return STORE_ERROR;
}

/*
 * sq_open - open the database file path.  A missing file is STORE_TEMPFAIL
 * unless STORE_CREATE; a created file gets mode 0600 through umask 077
 * (umask is per process: creation is for optinctl and tests, not for the
 * threaded milter).  The directory is never created.
 */
static struct store *
sq_open(const char *path, const struct config *cfg, unsigned flags,
    enum store_status *st_r, char *why, size_t whylen)
{
	struct sq *s;
	struct stat sb;
	bool creating = false;
	mode_t old_umask = 0;
	int oflags, rc;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		*st_r = STORE_TEMPFAIL;
		snprintf(why, whylen, "ConsentDB %s: out of memory", path);
		return NULL;
	}
	s->base.be = &store_sqlite_backend;
	if (stat(path, &sb) < 0) {
		if (errno != ENOENT || (flags & STORE_CREATE) == 0 ||
		    (flags & STORE_READONLY) != 0) {
			*st_r = STORE_TEMPFAIL;
			if (errno == ENOENT)
				snprintf(why, whylen, "ConsentDB %s: no such "
				    "file (create it with optinctl init)",
				    path);
			else
				snprintf(why, whylen, "ConsentDB %s: %s", path,
				    strerror(errno));
			goto fail;
		}
		creating = true;
	} else if (!S_ISREG(sb.st_mode)) {
		*st_r = STORE_ERROR;
		snprintf(why, whylen, "ConsentDB %s: not a regular file",
		    path);
		goto fail;
	} else if ((sb.st_mode & 077) != 0)
		snprintf(s->base.warning, sizeof(s->base.warning), "%s has "
		    "mode %03o, should be 0600", path,
		    (unsigned)(sb.st_mode & 0777));

	oflags = SQLITE_OPEN_NOMUTEX | ((flags & STORE_READONLY) != 0 ?
	    SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
	if (creating) {
		oflags |= SQLITE_OPEN_CREATE;
		old_umask = umask(077);
	}
	rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		*st_r = sq_fail(s, rc, creating ? "cannot create" : "open",
		    why, whylen);
		goto fail;
	}
	*st_r = sq_setup(s, cfg, flags, why, whylen);
	if (*st_r != STORE_OK)
		goto fail;
	if (creating)
		(void)umask(old_umask);
	return &s->base;

fail:
	if (creating)
		(void)umask(old_umask);
	sq_close(&s->base);
	return NULL;
}

/* sq_exists - is there a file at path (store_exists)? */
static enum store_status
sq_exists(const char *path, const struct config *cfg, char *why,
    size_t whylen)
{
	struct stat sb;

	if (stat(path, &sb) == 0)
		return STORE_OK;
	snprintf(why, whylen, "ConsentDB %s: %s", path, strerror(errno));
	return errno == ENOENT ? STORE_NOTFOUND : STORE_TEMPFAIL;
}

/* sq_migrate - apply the migrations after the open version */
static enum store_status
sq_migrate(struct store *st, int *from_r, int *to_r, char *why,
    size_t whylen)
{
	struct sq *s = (struct sq *)st;
	enum store_status rs;
	size_t i;

	*from_r = *to_r = s->base.version;
	for (i = 0; migrations[i].sql != NULL; i++) {
		if (migrations[i].to != s->base.version + 1)
			continue;
		rs = sq_tx_script(s, migrations[i].sql, "migrate", why,
		    whylen);
		if (rs != STORE_OK)
			return rs;
		s->base.version = *to_r = migrations[i].to;
	}
	if (s->base.version != STORE_SCHEMA_VERSION) {
		snprintf(why, whylen, "ConsentDB %s: no migration from schema "
		    "version %d to %d", s->path, s->base.version,
		    STORE_SCHEMA_VERSION);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/*
 * lookup_run - suppression and subscription state in one statement:
 * STMT_LOOKUP, or STMT_LOOKUP2, which also checks the suppression of
 * addr_hash
 */
static enum store_status
lookup_run(struct sq *s, enum stmt i, const char *addr, const char *list,
    const char *addr_hash, struct consent_row *row_r, char *why,
    size_t whylen)
{
	sqlite3_stmt *stmt;
	const char *word;
	enum store_status rs = STORE_OK;
	int rc;

	if ((rc = stmt_start(s, i, &stmt, i == STMT_LOOKUP2 ? "ttt" : "tt",
	    addr, list, addr_hash)) != SQLITE_OK)
		return sq_fail(s, rc, "lookup", why, whylen);
	if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
		rs = sq_fail(s, rc, "lookup", why, whylen);
	else {
		row_r->suppressed = sqlite3_column_int(stmt, 0) != 0;
		row_r->status = SUB_NONE;
		word = (const char *)sqlite3_column_text(stmt, 1);
		if (word != NULL &&
		    (row_r->status = store_status_parse(word)) == SUB_NONE) {
			snprintf(why, whylen, "ConsentDB %s: bad status in "
			    "subscriptions", s->path);
			rs = STORE_ERROR;
		}
	}
	stmt_done(stmt);
	return rs;
}

/* sq_lookup - suppression and subscription state of (addr, list) */
static enum store_status
sq_lookup(struct store *st, const char *addr, const char *list,
    struct consent_row *row_r, char *why, size_t whylen)
{
	return lookup_run((struct sq *)st, STMT_LOOKUP, addr, list, NULL,
	    row_r, why, whylen);
}

/* sq_begin - BEGIN IMMEDIATE: take the write lock now, waiting as long as
 * the busy timeout allows */
static enum store_status
sq_begin(struct store *st, char *why, size_t whylen)
{
	return sq_run((struct sq *)st, STMT_BEGIN, why, whylen);
}

/* sq_commit - COMMIT; on failure roll back so the handle stays usable */
static enum store_status
sq_commit(struct store *st, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	enum store_status rs;

	rs = sq_run(s, STMT_COMMIT, why, whylen);
	if (rs != STORE_OK && !sqlite3_get_autocommit(s->db))
		(void)sq_run(s, STMT_ROLLBACK, why, 0);
	return rs;
}

/* sq_rollback - ROLLBACK, if a transaction is open */
static void
sq_rollback(struct store *st)
{
	struct sq *s = (struct sq *)st;
	char why[1];

	if (!sqlite3_get_autocommit(s->db))
		(void)sq_run(s, STMT_ROLLBACK, why, 0);
}

/* list_get - does list exist, is it double opt-in, and its display name
 * (into name_r when not NULL; "" when it has none) */
static enum store_status
list_get(struct sq *s, const char *list, bool *double_opt_in_r,
    char *name_r, size_t namelen, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs = STORE_OK;
	int rc;

	if ((rc = stmt_start(s, STMT_LIST_GET, &stmt, "t", list)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, "list", why, whylen);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (double_opt_in_r != NULL)
			*double_opt_in_r = sqlite3_column_int(stmt, 0) != 0;
		if (name_r != NULL) {
			const unsigned char *n = sqlite3_column_text(stmt, 1);

			snprintf(name_r, namelen, "%s", n != NULL ?
			    (const char *)n : "");
		}
	} else if (rc == SQLITE_DONE) {
		snprintf(why, whylen, "no such list '%s'", list);
		rs = STORE_NOTFOUND;
	} else
		rs = sq_fail(s, rc, "list", why, whylen);
	stmt_done(stmt);
	return rs;
}

/* sq_list_exists - STORE_OK or STORE_NOTFOUND */
static enum store_status
sq_list_exists(struct store *st, const char *list, bool *double_opt_in_r,
    char *why, size_t whylen)
{
	return list_get((struct sq *)st, list, double_opt_in_r, NULL, 0, why,
	    whylen);
}

/* sq_list_name - the display name of one list */
static enum store_status
sq_list_name(struct store *st, const char *list, char *name_r,
    size_t namelen, char *why, size_t whylen)
{
	return list_get((struct sq *)st, list, NULL, name_r, namelen, why,
	    whylen);
}

/* sq_list_add - insert a list; an existing one is STORE_ERROR */
static enum store_status
sq_list_add(struct store *st, const char *list, const char *name,
    bool double_opt_in, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	enum store_status rs = STORE_OK;
	int rc;

	if ((rc = stmt_start(s, STMT_LIST_ADD, &stmt, "ttil", list, name,
	    double_opt_in ? 1 : 0, (sqlite3_int64)time(NULL))) != SQLITE_OK)
		return sq_fail(s, rc, "list add", why, whylen);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_CONSTRAINT) {
		snprintf(why, whylen, "list '%s' exists", list);
		rs = STORE_ERROR;
	} else if (rc != SQLITE_DONE)
		rs = sq_fail(s, rc, "list add", why, whylen);
	stmt_done(stmt);
	return rs;
}

/* sq_list_ls - every list with its subscription counts */
static enum store_status
sq_list_ls(struct store *st, store_list_fn *fn, void *ctx, char *why,
    size_t whylen)
{
	struct sq *s = (struct sq *)st;
	struct store_list l;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_get(s, STMT_LIST_LS, &stmt)) != SQLITE_OK)
		return sq_fail(s, rc, "list ls", why, whylen);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		l.list = (const char *)sqlite3_column_text(stmt, 0);
		l.name = (const char *)sqlite3_column_text(stmt, 1);
		l.double_opt_in = sqlite3_column_int(stmt, 2) != 0;
		l.created_at = (time_t)sqlite3_column_int64(stmt, 3);
		l.opted_in = sqlite3_column_int64(stmt, 4);
		l.pending = sqlite3_column_int64(stmt, 5);
		l.opted_out = sqlite3_column_int64(stmt, 6);
		if (l.list == NULL || fn(&l, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return rows_end(s, stmt, rc, "list ls", why, whylen);
}

/* event_add - append one consent_events row (inside the caller's
 * transaction or savepoint); user_agent defaults to the handle's agent */
static int
event_add(struct sq *s, const char *addr, const char *list,
    const char *event, const char *evidence, const struct consent_event *ev)
{
	return stmt_exec(s, STMT_EVENT_ADD, "tttttttl", addr, list, event,
	    ev != NULL ? ev->source : NULL, evidence,
	    ev != NULL ? ev->remote_addr : NULL,
	    ev != NULL && ev->user_agent != NULL ? ev->user_agent :
	    s->base.agent, (sqlite3_int64)time(NULL));
}

/* sub_write - upsert the subscription (addr, list) to status word and
 * append its event; a failed upsert is named what */
static enum store_status
sub_write(struct sq *s, const char *addr, const char *list,
    const char *word, const struct consent_event *ev, const char *what,
    char *why, size_t whylen)
{
	int rc;

	rc = stmt_exec(s, STMT_SUB_SET, "ttttl", addr, list, word,
	    ev != NULL ? ev->source : NULL, (sqlite3_int64)time(NULL));
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, what, why, whylen);
	rc = event_add(s, addr, list, ev != NULL && ev->event != NULL ?
	    ev->event : word, ev != NULL ? ev->evidence : NULL, ev);
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "consent event", why, whylen);
	return STORE_OK;
}

/* sq_set_status - upsert the subscription and append its event, atomically */
static enum store_status
sq_set_status(struct store *st, const char *addr, const char *list,
    enum sub_status status, const struct consent_event *ev, char *why,
    size_t whylen)
{
	struct sq *s = (struct sq *)st;
	enum store_status rs, lrs;
	const char *word;
	bool own;

	if ((word = store_status_settable(status, why, whylen)) == NULL)
		return STORE_ERROR;
	if ((rs = tx_enter(s, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rs = list_get(s, list, NULL, NULL, 0, why, whylen)) == STORE_OK)
		rs = sub_write(s, addr, list, word, ev, "set status", why,
		    whylen);
	lrs = tx_leave(s, own, rs == STORE_OK, why, whylen);
	return rs != STORE_OK ? rs : lrs;
}

/* sq_suppress - add a global suppression (first reason kept) and an event */
static enum store_status
sq_suppress(struct store *st, const char *addr, const char *reason,
    const struct consent_event *ev, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	char evidence[64];
	enum store_status rs, lrs;
	bool own;
	int rc;

	if (!store_reason_check(reason, why, whylen))
		return STORE_ERROR;
	snprintf(evidence, sizeof(evidence), "reason=%s", reason);
	if ((rs = tx_enter(s, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rc = stmt_exec(s, STMT_SUPPRESS, "ttl", addr, reason,
	    (sqlite3_int64)time(NULL))) != SQLITE_OK)
		rs = sq_fail(s, rc, "suppress", why, whylen);
	else if ((rc = event_add(s, addr, NULL, ev != NULL &&
	    ev->event != NULL ? ev->event : "suppressed", ev != NULL &&
	    ev->evidence != NULL ? ev->evidence : evidence, ev)) != SQLITE_OK)
		rs = sq_fail(s, rc, "consent event", why, whylen);
	lrs = tx_leave(s, own, rs == STORE_OK, why, whylen);
	return rs != STORE_OK ? rs : lrs;
}

/* sq_suppression - the suppression row of addr, if any */
static enum store_status
sq_suppression(struct store *st, const char *addr, char *reason_r,
    size_t reasonlen, time_t *created_at_r, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	enum store_status rs = STORE_OK;
	const char *reason;
	int rc;

	if ((rc = stmt_start(s, STMT_SUPPRESSION, &stmt, "t", addr)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, "suppression", why, whylen);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		reason = (const char *)sqlite3_column_text(stmt, 0);
		if (reason_r != NULL && reasonlen > 0)
			snprintf(reason_r, reasonlen, "%s",
			    reason != NULL ? reason : "");
		if (created_at_r != NULL)
			*created_at_r = (time_t)sqlite3_column_int64(stmt, 1);
	} else if (rc == SQLITE_DONE)
		rs = STORE_NOTFOUND;
	else
		rs = sq_fail(s, rc, "suppression", why, whylen);
	stmt_done(stmt);
	return rs;
}

/* sq_subscriptions - every subscription row of addr */
static enum store_status
sq_subscriptions(struct store *st, const char *addr, store_sub_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	struct store_sub sub;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_start(s, STMT_SUBS, &stmt, "t", addr)) != SQLITE_OK)
		return sq_fail(s, rc, "subscriptions", why, whylen);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		sub.list = (const char *)sqlite3_column_text(stmt, 0);
		sub.status = store_status_parse((const char *)
		    sqlite3_column_text(stmt, 1));
		if (sub.list == NULL || sub.status == SUB_NONE)
			return bad_row(s, stmt, "subscriptions", why, whylen);
		sub.source = (const char *)sqlite3_column_text(stmt, 2);
		sub.updated_at = (time_t)sqlite3_column_int64(stmt, 3);
		if (fn(&sub, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return rows_end(s, stmt, rc, "subscriptions", why, whylen);
}

/* sq_quarantine_add - insert one quarantine row */
static enum store_status
sq_quarantine_add(struct store *st, const struct quarantine_row *row,
    long long *id_r, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	int rc;

	rc = stmt_exec(s, STMT_QUARANTINE_ADD, "tttttttl", row->queue_id,
	    row->message_id, row->sender, row->recipient, row->list,
	    row->reason, row->spool_file, (sqlite3_int64)
	    (row->received_at != 0 ? row->received_at : time(NULL)));
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "quarantine add", why, whylen);
	if (id_r != NULL)
		*id_r = sqlite3_last_insert_rowid(s->db);
	return STORE_OK;
}

/* sq_lookup2 - sq_lookup, also checking the suppression of addr_hash */
static enum store_status
sq_lookup2(struct store *st, const char *addr, const char *addr_hash,
    const char *list, struct consent_row *row_r, char *why, size_t whylen)
{
	return lookup_run((struct sq *)st, STMT_LOOKUP2, addr, list,
	    addr_hash, row_r, why, whylen);
}

/* sq_begin_read - BEGIN (deferred): a read snapshot, no write lock */
static enum store_status
sq_begin_read(struct store *st, char *why, size_t whylen)
{
	return sq_run((struct sq *)st, STMT_BEGIN_READ, why, whylen);
}

/*
 * sq_import_set - one row of a bulk import: read the state, and write the
 * subscription plus its event only when it changes (so that importing the
 * same file again writes nothing).  Runs in the caller's transaction.
 */
static enum store_status
sq_import_set(struct store *st, const char *addr, const char *list,
    enum sub_status status, unsigned flags, time_t consented_at,
    const struct consent_event *ev, enum sub_status *old_r,
    time_t *old_at_r, bool *changed_r, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	const char *word;
	time_t old_at = 0;
	int rc;

	*changed_r = false;
	if ((word = store_status_settable(status, why, whylen)) == NULL)
		return STORE_ERROR;
	if ((rc = stmt_start(s, STMT_SUB_GET, &stmt, "tt", addr, list)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, "import", why, whylen);
	rc = sqlite3_step(stmt);
	*old_r = SUB_NONE;
	if (rc == SQLITE_ROW) {
		*old_r = store_status_parse((const char *)
		    sqlite3_column_text(stmt, 0));
		if (*old_r == SUB_NONE)
			rc = SQLITE_CORRUPT;
		old_at = (time_t)sqlite3_column_int64(stmt, 1);
	}
	stmt_done(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, rc, "import", why, whylen);
	if (old_at_r != NULL)
		*old_at_r = old_at;
	if (store_import_keeps(*old_r, old_at, status, flags, consented_at))
		return STORE_OK;
	*changed_r = true;
	if ((flags & STORE_IMPORT_DRY_RUN) != 0)
		return STORE_OK;
	return sub_write(s, addr, list, word, ev, "import", why, whylen);
}

/* sq_count - run statement i with one text parameter; first column */
static enum store_status
sq_count(struct sq *s, enum stmt i, const char *arg, long long *n_r,
    char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_start(s, i, &stmt, "t", arg)) != SQLITE_OK)
		return sq_fail(s, rc, stmt_sql[i], why, whylen);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*n_r = sqlite3_column_int64(stmt, 0);
	stmt_done(stmt);
	if (rc != SQLITE_ROW)
		return sq_fail(s, rc, stmt_sql[i], why, whylen);
	return STORE_OK;
}

/* sq_suppression_count - suppressions with one reason */
static enum store_status
sq_suppression_count(struct store *st, const char *reason, long long *n_r,
    char *why, size_t whylen)
{
	return sq_count((struct sq *)st, STMT_SUPP_COUNT, reason, n_r, why,
	    whylen);
}

/* sq_spool_refs - quarantine rows naming one spool file */
static enum store_status
sq_spool_refs(struct store *st, const char *spool_file, long long *n_r,
    char *why, size_t whylen)
{
	return sq_count((struct sq *)st, STMT_SPOOL_REFS, spool_file, n_r,
	    why, whylen);
}

/* sq_events - every consent event of addr, oldest first */
static enum store_status
sq_events(struct store *st, const char *addr, store_event_fn *fn, void *ctx,
    char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	struct store_event e;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_start(s, STMT_EVENTS, &stmt, "t", addr)) != SQLITE_OK)
		return sq_fail(s, rc, "events", why, whylen);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		e.id = sqlite3_column_int64(stmt, 0);
		e.addr = (const char *)sqlite3_column_text(stmt, 1);
		e.list = (const char *)sqlite3_column_text(stmt, 2);
		e.event = (const char *)sqlite3_column_text(stmt, 3);
		e.source = (const char *)sqlite3_column_text(stmt, 4);
		e.evidence = (const char *)sqlite3_column_text(stmt, 5);
		e.remote_addr = (const char *)sqlite3_column_text(stmt, 6);
		e.user_agent = (const char *)sqlite3_column_text(stmt, 7);
		e.occurred_at = (time_t)sqlite3_column_int64(stmt, 8);
		if (e.addr == NULL || e.event == NULL || fn(&e, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return rows_end(s, stmt, rc, "events", why, whylen);
}

/* sq_ever_opted_in - an "opted_in" or "confirmed" event for (addr, list) */
static enum store_status
sq_ever_opted_in(struct store *st, const char *addr, const char *list,
    bool *yes_r, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_start(s, STMT_EVER_IN, &stmt, "tt", addr, list)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, "ever opted in", why, whylen);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*yes_r = sqlite3_column_int(stmt, 0) != 0;
	stmt_done(stmt);
	return rc == SQLITE_ROW ? STORE_OK : sq_fail(s, rc, "ever opted in",
	    why, whylen);
}

/* sq_delete - run the DELETE statement i for addr; *n_r rows deleted */
static int
sq_delete(struct sq *s, enum stmt i, const char *addr, long long *n_r)
{
	int rc;

	if ((rc = stmt_exec(s, i, "t", addr)) != SQLITE_OK)
		return rc;
	*n_r = sqlite3_changes(s->db);
	return SQLITE_OK;
}

/*
 * sq_forget - erase addr, keeping only the hashed suppression.  With
 * secure_delete (sq_setup) the freed cells are zeroed in the new pages;
 * until sq_checkpoint, which the caller runs after the commit, the
 * database file holds the pages from before and the WAL older frames.
 */
static enum store_status
sq_forget(struct store *st, const char *addr, const char *addr_hash,
    const struct consent_event *ev, struct store_forget_counts *n_r,
    char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	struct store_forget_counts n = { 0 };
	enum store_status rs, lrs;
	bool own;
	int rc;

	if ((rs = tx_enter(s, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rc = sq_delete(s, STMT_DEL_SUBS, addr, &n.subscriptions)) !=
	    SQLITE_OK || (rc = sq_delete(s, STMT_DEL_EVENTS, addr,
	    &n.events)) != SQLITE_OK || (rc = sq_delete(s, STMT_DEL_QROWS,
	    addr, &n.quarantine)) != SQLITE_OK || (rc = sq_delete(s,
	    STMT_DEL_SUPP, addr, &n.suppressions)) != SQLITE_OK ||
	    (rc = stmt_exec(s, STMT_SUPPRESS, "ttl", addr_hash, "erased",
	    (sqlite3_int64)time(NULL))) != SQLITE_OK)
		rs = sq_fail(s, rc, "forget", why, whylen);
	else if ((rc = event_add(s, addr_hash, NULL, "erased", ev != NULL &&
	    ev->evidence != NULL ? ev->evidence : "reason=erased", ev)) !=
	    SQLITE_OK)
		rs = sq_fail(s, rc, "consent event", why, whylen);
	lrs = tx_leave(s, own, rs == STORE_OK, why, whylen);
	if (rs == STORE_OK)
		rs = lrs;
	if (rs == STORE_OK && n_r != NULL)
		*n_r = n;
	return rs;
}

/* sq_quarantine_ls - the quarantine rows f selects */
static enum store_status
sq_quarantine_ls(struct store *st, const struct store_qfilter *f,
    store_qrow_fn *fn, void *ctx, char *why, size_t whylen)
{
	static const struct store_qfilter all = { 0 };
	struct sq *s = (struct sq *)st;
	struct store_qrow q;
	sqlite3_stmt *stmt;
	int rc;

	if (f == NULL)
		f = &all;
	if ((rc = stmt_start(s, STMT_QLS, &stmt, "lttttli",
	    (sqlite3_int64)f->id, f->reason, f->list, f->sender,
	    f->recipient, (sqlite3_int64)f->before, f->held_only ? 1 : 0)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, "quarantine", why, whylen);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		q.id = sqlite3_column_int64(stmt, 0);
		q.row.queue_id = (const char *)sqlite3_column_text(stmt, 1);
		q.row.message_id = (const char *)sqlite3_column_text(stmt, 2);
		q.row.sender = (const char *)sqlite3_column_text(stmt, 3);
		q.row.recipient = (const char *)sqlite3_column_text(stmt, 4);
		q.row.list = (const char *)sqlite3_column_text(stmt, 5);
		q.row.reason = (const char *)sqlite3_column_text(stmt, 6);
		q.row.spool_file = (const char *)sqlite3_column_text(stmt, 7);
		q.row.received_at = (time_t)sqlite3_column_int64(stmt, 8);
		q.released_at = (time_t)sqlite3_column_int64(stmt, 9);
		if (q.row.recipient == NULL || q.row.reason == NULL ||
		    q.row.spool_file == NULL || fn(&q, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return rows_end(s, stmt, rc, "quarantine", why, whylen);
}

/* sq_change_id - run UPDATE/DELETE statement i for row id; NOTFOUND when
 * no row changed */
static enum store_status
sq_change_id(struct sq *s, enum stmt i, long long id, time_t when,
    char *why, size_t whylen)
{
	int rc;

	/* STMT_QDEL has no second parameter */
	if ((rc = stmt_exec(s, i, i == STMT_QREL ? "ll" : "l",
	    (sqlite3_int64)id, (sqlite3_int64)when)) != SQLITE_OK)
		return sq_fail(s, rc, "quarantine", why, whylen);
	if (sqlite3_changes(s->db) == 0) {
		snprintf(why, whylen, "no quarantine row %lld", id);
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

/* sq_quarantine_released - set released_at of one row */
static enum store_status
sq_quarantine_released(struct store *st, long long id, time_t when,
    char *why, size_t whylen)
{
	return sq_change_id((struct sq *)st, STMT_QREL, id, when, why,
	    whylen);
}

/* sq_quarantine_del - delete one row */
static enum store_status
sq_quarantine_del(struct store *st, long long id, char *why, size_t whylen)
{
	return sq_change_id((struct sq *)st, STMT_QDEL, id, 0, why, whylen);
}

/* sq_members - subscriptions of a list (or all lists) with addresses */
static enum store_status
sq_members(struct store *st, const char *list, bool opt_outs_only,
    store_member_fn *fn, void *ctx, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	struct store_member m;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_start(s, STMT_MEMBERS, &stmt, "ti", list,
	    opt_outs_only ? 1 : 0)) != SQLITE_OK)
		return sq_fail(s, rc, "members", why, whylen);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		m.addr = (const char *)sqlite3_column_text(stmt, 0);
		m.list = (const char *)sqlite3_column_text(stmt, 1);
		m.status = store_status_parse((const char *)
		    sqlite3_column_text(stmt, 2));
		m.source = (const char *)sqlite3_column_text(stmt, 3);
		m.updated_at = (time_t)sqlite3_column_int64(stmt, 4);
		m.suppressed = sqlite3_column_int(stmt, 5) != 0;
		if (m.addr == NULL || m.list == NULL || m.status == SUB_NONE)
			return bad_row(s, stmt, "subscriptions", why, whylen);
		if (fn(&m, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return rows_end(s, stmt, rc, "members", why, whylen);
}

/* sq_opt_out_addrs - addresses opted out of list (or any) or suppressed */
static enum store_status
sq_opt_out_addrs(struct store *st, const char *list, store_addr_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	const char *addr;
	int rc;

	if ((rc = stmt_start(s, STMT_OPTOUT_ADDRS, &stmt, "t", list)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, "opt-outs", why, whylen);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		addr = (const char *)sqlite3_column_text(stmt, 0);
		if (addr == NULL || fn(addr, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return rows_end(s, stmt, rc, "opt-outs", why, whylen);
}

/* sq_stats - the counts of store_stats() in one statement */
static enum store_status
sq_stats(struct store *st, time_t since, store_stat_fn *fn, void *ctx,
    char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	struct store_stat t;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_start(s, STMT_STATS, &stmt, "l",
	    (sqlite3_int64)since)) != SQLITE_OK)
		return sq_fail(s, rc, "stats", why, whylen);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		t.group = (const char *)sqlite3_column_text(stmt, 1);
		t.key = (const char *)sqlite3_column_text(stmt, 2);
		t.key2 = (const char *)sqlite3_column_text(stmt, 3);
		t.n = sqlite3_column_int64(stmt, 4);
		if (t.group == NULL || t.key == NULL || fn(&t, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return rows_end(s, stmt, rc, "stats", why, whylen);
}

/* sq_event_add - append one event, no state change */
static enum store_status
sq_event_add(struct store *st, const struct consent_event *ev, char *why,
    size_t whylen)
{
	struct sq *s = (struct sq *)st;
	int rc;

	if ((rc = event_add(s, ev->addr, ev->list, ev->event, ev->evidence,
	    ev)) != SQLITE_OK)
		return sq_fail(s, rc, "consent event", why, whylen);
	return STORE_OK;
}

/* sq_unsuppress - delete the suppression of key and append the event */
static enum store_status
sq_unsuppress(struct store *st, const char *key,
    const struct consent_event *ev, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	enum store_status rs = STORE_OK, lrs;
	long long n = 0;
	bool own;
	int rc;

	if ((rs = tx_enter(s, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rc = sq_delete(s, STMT_DEL_SUPP, key, &n)) != SQLITE_OK)
		rs = sq_fail(s, rc, "unsuppress", why, whylen);
	else if (n == 0) {
		snprintf(why, whylen, "no suppression to lift");
		rs = STORE_NOTFOUND;
	} else if ((rc = event_add(s, ev != NULL && ev->addr != NULL ?
	    ev->addr : key, NULL, ev != NULL && ev->event != NULL ?
	    ev->event : "unsuppressed", ev != NULL ? ev->evidence : NULL,
	    ev)) != SQLITE_OK)
		rs = sq_fail(s, rc, "consent event", why, whylen);
	lrs = tx_leave(s, own, rs == STORE_OK, why, whylen);
	return rs != STORE_OK ? rs : lrs;
}

/*
 * sq_checkpoint - TRUNCATE checkpoint: every frame of the WAL into the
 * database file, then the WAL cut to zero bytes.  SQLITE_BUSY (after the
 * busy handler gave up) means a reader on an older snapshot, or a writer,
 * kept it from completing: the frames it needs stay in the WAL, and the
 * pages they replace, deleted rows among them, in the database file.
 */
static enum store_status
sq_checkpoint(struct store *st, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	int rc, nlog = -1, nckpt = -1;

	if (!sqlite3_get_autocommit(s->db)) {
		snprintf(why, whylen, "ConsentDB %s: checkpoint inside a "
		    "transaction", s->path);
		return STORE_ERROR;
	}
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, &nlog, &nckpt);
	if (rc == SQLITE_BUSY || (rc == SQLITE_OK && nlog != 0 &&
	    nlog != -1)) {
		snprintf(why, whylen, "ConsentDB %s: checkpoint could not "
		    "complete: another connection holds a read transaction "
		    "or the write lock (busy past DBBusyTimeout): deleted "
		    "rows stay in the database file until one completes",
		    s->path);
		return STORE_TEMPFAIL;
	}
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "checkpoint", why, whylen);
	return STORE_OK;
}

/* table_stmt_end - finalize a statement of its own after rc */
static enum store_status
table_stmt_end(struct sq *s, sqlite3_stmt *stmt, int rc, const char *what,
    char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		rs = sq_fail(s, rc, what, why, whylen);
	(void)sqlite3_finalize(stmt);
	return rs;
}

/* sq_table_rows - every row of one table as text (optinctl copy-store) */
static enum store_status
sq_table_rows(struct store *st, const struct store_table *tab,
    store_row_fn *fn, void *ctx, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	const char *vals[16];
	sqlite3_stmt *stmt;
	char sql[512];
	int rc, c;

	assert(tab->ncols <= 16);
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY 1, 2",
	    tab->cols, tab->name);
	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, tab->name, why, whylen);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (c = 0; c < tab->ncols; c++)
			vals[c] = (const char *)sqlite3_column_text(stmt, c);
		if (fn(vals, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return table_stmt_end(s, stmt, rc, tab->name, why, whylen);
}

/* sq_table_put - insert one row as it is (text binds to the columns'
 * affinity: numbers stay numbers) */
static enum store_status
sq_table_put(struct store *st, const struct store_table *tab,
    const char *const *vals, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	char sql[512];
	int rc, c;

	if (store_table_insert_sql(tab, '?', sql, sizeof(sql)) < 0) {
		snprintf(why, whylen, "copy %s: statement too long", tab->name);
		return STORE_ERROR;
	}
	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, tab->name, why, whylen);
	for (c = 0; c < tab->ncols; c++)
		(void)sqlite3_bind_text(stmt, c + 1, vals[c], -1,
		    SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	return table_stmt_end(s, stmt, rc, tab->name, why, whylen);
}

/* sq_table_done - nothing to do: INTEGER PRIMARY KEY continues by itself */
static enum store_status
sq_table_done(struct store *st, const struct store_table *tab, char *why,
    size_t whylen)
{
	return STORE_OK;
}

/* sq_table_count - the rows of one table */
static enum store_status
sq_table_count(struct store *st, const struct store_table *tab,
    long long *n_r, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	char sql[128];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tab->name);
	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, tab->name, why, whylen);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*n_r = sqlite3_column_int64(stmt, 0);
	return table_stmt_end(s, stmt, rc, tab->name, why, whylen);
}

const char *
store_sqlite_schema(void)
{
	return schema_sql;
}

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.exists = sq_exists,
	.migrate = sq_migrate,
	.lookup = sq_lookup,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.list_exists = sq_list_exists,
	.list_name = sq_list_name,
	.list_add = sq_list_add,
	.list_ls = sq_list_ls,
	.set_status = sq_set_status,
	.suppress = sq_suppress,
	.suppression = sq_suppression,
	.subscriptions = sq_subscriptions,
	.quarantine_add = sq_quarantine_add,
	.lookup2 = sq_lookup2,
	.begin_read = sq_begin_read,
	.import_set = sq_import_set,
	.suppression_count = sq_suppression_count,
	.events = sq_events,
	.ever_opted_in = sq_ever_opted_in,
	.forget = sq_forget,
	.quarantine_ls = sq_quarantine_ls,
	.quarantine_released = sq_quarantine_released,
	.quarantine_del = sq_quarantine_del,
	.spool_refs = sq_spool_refs,
	.members = sq_members,
	.opt_out_addrs = sq_opt_out_addrs,
	.stats = sq_stats,
	.event_add = sq_event_add,
	.unsuppress = sq_unsuppress,
	.checkpoint = sq_checkpoint,
	.table_rows = sq_table_rows,
	.table_put = sq_table_put,
	.table_done = sq_table_done,
	.table_count = sq_table_count,
};
