/*
 * store_sqlite_open.c - opening and closing a connection of the SQLite
 * backend (store_sqlite.h): the settings per connection, the schema text,
 * its creation and check, and the numbered migrations; why a call failed
 * (sq_explain) and the handle after a failed ROLLBACK (sq_undo).
 *
 * Settings per connection: WAL, synchronous=NORMAL (FULL with
 * STORE_DURABLE: the WAL is synced at each commit), foreign_keys on (off,
 * with a 256 MiB page cache and no CHECK constraints, for STORE_BULK),
 * busy timeout DBBusyTimeout, and secure_delete on every connection that
 * may write: deleted content is overwritten with zeros, whoever deletes it
 * (a subscription rewritten by the milter as well as a person erased by
 * optinctl), so that a TRUNCATE checkpoint (sq_checkpoint) leaves no old
 * copy in any file.
 * A missing, unreadable or unopenable database is STORE_TEMPFAIL, never
 * "not found" (STYLE.md section 4).
 *
 * The schema text below is sql/schema.sql verbatim, and each migration its
 * sql/sqlite-NNN-*.sql (tests/unit/test_store.c compares them); change both
 * in the same commit, and only through a numbered migration once released.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "log.h"
#include "store_sqlite.h"

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
 * Each is sql/sqlite-NNN-*.sql verbatim; the table ends with { 0, NULL }.
 * A new database gets schema_sql, then every migration.
 */
static const struct {
	int to;
	const char *sql;
} migrations[] = {
	{ 2,
	    "-- sqlite-002-feedback.sql - schema version 1 -> 2: bounces and complaints\n"
	    "-- (DESIGN \"Feedback: bounces and complaints\").  Compiled into\n"
	    "-- milter/store/store_sqlite.c (migrations[]; tests/unit/test_store.c\n"
	    "-- compares the two).\n"
	    "--\n"
	    "-- feedback: one row per report optin-feedback read, acted on or not.\n"
	    "-- address is NULL when the report named nobody we could trust; kind is\n"
	    "-- hard_bounce, soft_bounce, policy_bounce, complaint, auto_reply or\n"
	    "-- unusable; acted says whether it changed consent.  The evidence columns are\n"
	    "-- the report's own words (reporting MTA, RFC 3463 status, diagnostic text,\n"
	    "-- arrival date) and are never trusted for identity.\n"
	    "CREATE TABLE feedback (\n"
	    "	id		INTEGER PRIMARY KEY,\n"
	    "	address		TEXT,\n"
	    "	list_id		TEXT,\n"
	    "	campaign	TEXT,\n"
	    "	kind		TEXT NOT NULL\n"
	    "			CHECK (kind IN ('hard_bounce', 'soft_bounce',\n"
	    "			    'policy_bounce', 'complaint', 'auto_reply',\n"
	    "			    'unusable')),\n"
	    "	status		TEXT,\n"
	    "	reporting_mta	TEXT,\n"
	    "	diagnostic	TEXT,\n"
	    "	arrival		TEXT,\n"
	    "	identity	TEXT NOT NULL,\n"
	    "	acted		INTEGER NOT NULL DEFAULT 0 CHECK (acted IN (0, 1)),\n"
	    "	received_at	INTEGER NOT NULL\n"
	    ");\n"
	    "\n"
	    "CREATE INDEX feedback_address ON feedback (address, kind, received_at);\n"
	    "CREATE INDEX feedback_campaign ON feedback (campaign, kind, received_at);\n"
	    "\n"
	    "-- Campaigns paused by too many policy refusals, until optinctl campaign\n"
	    "-- resume deletes the row.\n"
	    "CREATE TABLE campaign_pauses (\n"
	    "	campaign	TEXT PRIMARY KEY NOT NULL,\n"
	    "	reason		TEXT NOT NULL,\n"
	    "	paused_at	INTEGER NOT NULL\n"
	    ") WITHOUT ROWID;\n"
	    "\n"
	    "-- Copies sent per campaign and list (the milter adds to it; the base of the\n"
	    "-- bounce and complaint rates).\n"
	    "CREATE TABLE campaign_sent (\n"
	    "	campaign	TEXT NOT NULL,\n"
	    "	list_id		TEXT NOT NULL,\n"
	    "	sent		INTEGER NOT NULL DEFAULT 0,\n"
	    "	PRIMARY KEY (campaign, list_id)\n"
	    ") WITHOUT ROWID;\n"
	    "\n"
	    "PRAGMA user_version = 2;\n"
	},
	{ 3,
	    "-- sqlite-003-handover.sql - schema version 2 -> 3: a split copy is handed\n"
	    "-- to the MTA at most once (DESIGN \"Message flow\", issue 15 item 1).\n"
	    "-- Compiled into milter/store/store_sqlite_open.c (migrations[];\n"
	    "-- tests/unit/test_store.c compares the two).\n"
	    "--\n"
	    "-- handover: one row per (message, recipient).  msg_key is the keyed hash of\n"
	    "-- the message that stays the same when the MTA retries it under a new queue\n"
	    "-- ID (handover.h); state 'claimed' is written before a split copy goes to\n"
	    "-- SendmailCommand, 'done' after it exited 0, 'quarantined' in the same\n"
	    "-- transaction as the recipient's quarantine row.  optinctl quarantine purge\n"
	    "-- deletes rows not updated for STORE_HANDOVER_KEEP (7 days).\n"
	    "CREATE TABLE handover (\n"
	    "	msg_key		TEXT NOT NULL,\n"
	    "	recipient	TEXT NOT NULL,\n"
	    "	state		TEXT NOT NULL\n"
	    "			CHECK (state IN ('claimed', 'done', 'quarantined')),\n"
	    "	queue_id	TEXT,\n"
	    "	claimed_at	INTEGER NOT NULL,\n"
	    "	updated_at	INTEGER NOT NULL,\n"
	    "	PRIMARY KEY (msg_key, recipient)\n"
	    ") WITHOUT ROWID;\n"
	    "\n"
	    "CREATE INDEX handover_updated ON handover (updated_at);\n"
	    "\n"
	    "PRAGMA user_version = 3;\n"
	},
	{ 4,
	    "-- sqlite-004-listindex.sql - schema version 3 -> 4: no index of\n"
	    "-- subscriptions by (list_id, status) (issue 14 item 4).  Compiled into\n"
	    "-- milter/store/store_sqlite_open.c (migrations[]; tests/unit/test_store.c\n"
	    "-- compares the two).\n"
	    "--\n"
	    "-- Every write of consent paid for it: an imported pair is one more b-tree\n"
	    "-- insert, an opt-out moves the pair's entry from one leaf to another.\n"
	    "-- Nothing on the mail or one-click path reads by list; only optinctl list\n"
	    "-- ls and stats counted with it, and they now read the table itself.\n"
	    "DROP INDEX IF EXISTS subscriptions_list;\n"
	    "\n"
	    "PRAGMA user_version = 4;\n"
	},
	{ 0, NULL }
};

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
		(void)sq_undo(s, why, 0);
		return st;
	}
	if ((st = sq_run(s, STMT_COMMIT, why, whylen)) != STORE_OK) {
		(void)sq_undo(s, why, 0);
		return st;
	}
	return STORE_OK;
}

/* sq_close - finalize every statement and close the connection */
void
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

/*
 * store_sqlite_global_init - SQLITE_CONFIG_MEMSTATUS off.  With it on
 * (the default), every sqlite3_malloc() and free takes the global
 * SQLITE_MUTEX_STATIC_MEM to count bytes that nothing here reads
 * (sqlite3_memory_used, the soft heap limit); perf showed that mutex at
 * 5% of a bulk import.  sqlite3_config() must come before
 * sqlite3_initialize(): later it returns SQLITE_MISUSE and changes
 * nothing, which is harmless.
 */
void
store_sqlite_global_init(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* The bulk connection's cache_size (sq_setup), and the page size the
 * block is cut for (the schema's default; other sizes use malloc). */
#define BULK_CACHE_MAX	(256UL * 1024 * 1024)
#define BULK_PAGE	4096

/*
 * store_sqlite_bulk_memory - SQLITE_CONFIG_PAGECACHE with a block of its
 * own, marked MADV_HUGEPAGE: the kernel then faults it in 2 MiB at a time
 * (with THP "defrag=madvise", the common default, memory not so marked
 * gets huge pages only when a free one happens to be at hand).  SQLite
 * writes a free-list link into every slot at sqlite3_initialize(), so the
 * whole block is touched at once: the caller sizes it to the work.
 */
void
store_sqlite_bulk_memory(size_t bytes)
{
	int hdr = 0, sz, n;
	size_t len;
	void *p;

	if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK ||
	    hdr <= 0)
		return;
	sz = (BULK_PAGE + hdr + 7) & ~7;
	if (bytes > BULK_CACHE_MAX)
		bytes = BULK_CACHE_MAX;
	if ((n = (int)(bytes / (size_t)sz)) < 16)
		return;
	len = (size_t)n * (size_t)sz;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	/* SQLITE_MISUSE once SQLite is initialised: nothing changed */
	if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, p, sz, n) != SQLITE_OK)
		(void)munmap(p, len);
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
	 * key check would cost a third of an import.
	 * Every handle: no CHECK constraints.  A CHECK "IN (3 or more
	 * words)" builds a temporary b-tree (OP_OpenEphemeral) at every run
	 * of the statement: 40% of the instructions of an imported row, and
	 * of optin-unsubd's opt-out 10-15% of the writer's CPU (BENCHMARKS.md,
	 * session 7).  The store writes only the schema's words, checked
	 * before (store_status_settable, store_reason_check,
	 * store_kind_check; hand-over states are constants); other writers
	 * of the file (sqlite3, scripts) still get the schema's CHECKs */
	rc = sq_exec_script(s, "PRAGMA synchronous = NORMAL;"
	    " PRAGMA ignore_check_constraints = ON;", NULL);
	if (rc == SQLITE_OK)
		rc = sq_exec_script(s, (flags & STORE_BULK) != 0 ?
		    "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -262144;" :
		    "PRAGMA foreign_keys = ON;", NULL);
	if (rc == SQLITE_OK && (flags & STORE_DURABLE) != 0 &&
	    (flags & STORE_SYNC_LATER) == 0)
		rc = sq_exec_script(s, "PRAGMA synchronous = FULL", NULL);
	/* STORE_SYNC_LATER: store_sync() syncs and checkpoints, in the
	 * thread that waits for the disk instead of the one that commits;
	 * STORE_BULK: store_wal_backfill() checkpoints, the same way */
	if (rc == SQLITE_OK && (flags & (STORE_SYNC_LATER | STORE_BULK)) != 0)
		rc = sq_exec_script(s, "PRAGMA wal_autocheckpoint = 0", NULL);
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
		s->base.version = 1;
		if ((st = sq_migrate(&s->base, &version, &version, why,
		    whylen)) != STORE_OK)
			return st;
		version = STORE_SCHEMA_VERSION;
	}
	s->base.version = version;
	return store_version_check(&s->base, s->path, flags, why, whylen);
}

/*
 * sq_open - open the database file path.  A missing file is STORE_TEMPFAIL
 * unless STORE_CREATE; a created file gets mode 0600 through umask 077
 * (umask is per process: creation is for optinctl and tests, not for the
 * threaded milter).  The directory is never created.
 */
struct store *
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
		    "mode %04o, should be 0600", path,
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
	/* the file now open, for sq_replaced() */
	if (stat(path, &sb) == 0) {
		s->dev = sb.st_dev;
		s->ino = sb.st_ino;
	}
	if (creating)
		(void)umask(old_umask);
	return &s->base;

fail:
	if (creating)
		(void)umask(old_umask);
	sq_close(&s->base);
	return NULL;
}

/*
 * sq_culprit - the file SQLite needs and cannot have, into out: the
 * database, its -wal or -shm (read and write), or, for one that does not
 * exist (yet), the directory it is in or is created in.  Returns the
 * errno access(2) gives, or 0 when all look usable (then out is "");
 * *write_r (may be NULL): true when it is writing that is refused (the
 * file reads, or the directory), false when reading is.
 */
#define SQ_CULPRIT_MAX	1400

static int
sq_culprit(const char *path, char *out, size_t outlen, bool *write_r)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char f[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	size_t i;

	out[0] = '\0';
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
		if (access(f, R_OK | W_OK) == 0)
			continue;
		if (errno != ENOENT) {
			snprintf(out, outlen, "%.1024s", f);
			if (write_r != NULL)
				*write_r = access(f, R_OK) == 0;
			return errno;
		}
		if ((slash = strrchr(path, '/')) == NULL)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == path)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path),
			    path);
		if (access(dir, W_OK | X_OK) < 0) {
			snprintf(out, outlen, "directory %.1024s (to create "
			    "%.255s)", dir, f + (slash != NULL ? slash - path +
			    1 : 0));
			if (write_r != NULL)
				*write_r = true;
			return errno;
		}
		if (i == 0) {
			snprintf(out, outlen, "%.1024s", f);
			return ENOENT;
		}
	}
	return 0;
}

void
sq_explain(struct sq *s, int rc, char *out, size_t outlen)
{
	char file[SQ_CULPRIT_MAX];
	int err = 0, ext = rc;

	out[0] = '\0';
	if (s->db != NULL) {
		ext = sqlite3_extended_errcode(s->db);
		err = sqlite3_system_errno(s->db);
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
		/* DBBusyTimeout: sq_busy() polled that long for the lock */
		if (s->busy_ms > 0)
			snprintf(out, outlen, " (waited DBBusyTimeout, %lld "
			    "ms, for the write lock another process holds)",
			    s->busy_ms);
		else
			snprintf(out, outlen, " (another process holds the "
			    "write lock; DBBusyTimeout is 0: no wait)");
		return;
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_AUTH:
		break;
	default:
		return;
	}
	{
		int cerr = sq_culprit(s->path, file, sizeof(file), NULL);

		if (cerr != 0)
			snprintf(out, outlen, " (%.*s: %s)", SQ_CULPRIT_MAX,
			    file, strerror(cerr));
		else if (err != 0)
			snprintf(out, outlen, " (%s; SQLite code %d)",
			    strerror(err), ext);
		else if (ext != (rc & 0xff))
			snprintf(out, outlen, " (SQLite code %d)", ext);
	}
}

/* sq_access - the permission on the database's files this process lacks
 * (store_access), from sq_culprit */
enum store_access
sq_access(const char *path, int *errno_r)
{
	char file[SQ_CULPRIT_MAX];
	bool writing = false;
	int err;

	err = sq_culprit(path, file, sizeof(file), &writing);
	if (err != EACCES && err != EPERM && err != EROFS)
		return STORE_ACCESS_OK;
	if (errno_r != NULL)
		*errno_r = err;
	return writing ? STORE_ACCESS_WRITE : STORE_ACCESS_READ;
}

/* sq_undo - ROLLBACK the open transaction; a failure is logged once and
 * remembered (store_sqlite.h) */
enum store_status
sq_undo(struct sq *s, char *why, size_t whylen)
{
	char msg[600];

	if (sqlite3_get_autocommit(s->db) ||
	    sq_run(s, STMT_ROLLBACK, msg, sizeof(msg)) == STORE_OK ||
	    sqlite3_get_autocommit(s->db)) {
		s->undo_failed = false;
		return STORE_OK;
	}
	if (!s->undo_failed)
		log_err("%s (ROLLBACK failed; the transaction stays open "
		    "and changes tempfail until a ROLLBACK works)", msg);
	s->undo_failed = true;
	snprintf(why, whylen, "%s", msg);
	return STORE_TEMPFAIL;
}

/* sq_exists - is there a file at path (store_exists)? */
enum store_status
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
enum store_status
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

const char *
store_sqlite_schema(void)
{
	return schema_sql;
}

const char *
store_sqlite_migration(int to)
{
	size_t i;

	for (i = 0; migrations[i].sql != NULL; i++)
		if (migrations[i].to == to)
			return migrations[i].sql;
	return NULL;
}
