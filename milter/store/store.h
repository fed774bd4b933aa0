/*
 * store.h - the consent store, any backend: SQLite (a file) or PostgreSQL
 * (a server shared by several relays), DESIGN "Scale-out".  Callers never
 * learn which one: what they need to know goes through this interface.
 *
 * One handle per thread: a handle is not shared without a lock.  Every
 * function returns STORE_TEMPFAIL when the database is unavailable or locked
 * past its busy timeout (never "not found"), STORE_ERROR for bad data or an
 * internal fault, with why[] filled.  Addresses given here are already
 * normalised (addr_normalize).  Times are seconds since the epoch.
 */
#ifndef OPTIN_STORE_H
#define OPTIN_STORE_H

#include <stddef.h>
#include <stdbool.h>
#include <time.h>

#include "consent.h"
#include "mark.h"

struct config;
struct store;			/* opaque */

enum store_status { STORE_OK, STORE_NOTFOUND, STORE_TEMPFAIL, STORE_ERROR };

#define STORE_CREATE	0x01	/* create the file and schema if missing */
#define STORE_READONLY	0x02
#define STORE_MIGRATE	0x04	/* accept an older schema (for store_migrate) */
#define STORE_BULK	0x08	/* bulk load: the caller checks that lists
				   exist (no foreign-key checks) and writes
				   only the schema's words (SQLite: no CHECK
				   constraints), big cache, no automatic
				   checkpoint: the caller runs them with
				   store_wal_backfill() on another handle */
#define STORE_DURABLE	0x10	/* a commit is on disk when it returns
				   (SQLite: synchronous=FULL; PostgreSQL
				   commits are durable anyway) */
#define STORE_SYNC_LATER 0x20	/* group commit across transactions: a
				   commit returns before it is on disk,
				   store_sync() puts it there (SQLite:
				   synchronous=NORMAL, no automatic
				   checkpoint; PostgreSQL: the session's
				   synchronous_commit off) */

/* The SQLite schema version this build knows (PRAGMA user_version);
 * PostgreSQL has its own (store_pgsql.h). */
#define STORE_SCHEMA_VERSION 4

/* The oldest schema version this build runs on without optinctl migrate:
 * version 4 only dropped an index (subscriptions by list), so a version 3
 * database works as it is, its writes slower, until it is migrated (with a
 * warning: store_warning()).  On PostgreSQL this lets every relay sharing
 * the database be upgraded before the one migrate. */
#define STORE_SCHEMA_OLDEST 3

/*
 * Process-wide settings of the store engines: call once at program start,
 * while the program has one thread and before any other store call.
 * SQLite: no memory statistics (SQLITE_CONFIG_MEMSTATUS off), so that an
 * allocation does not take SQLite's global mutex (a few per statement:
 * threads of the milter no longer serialise on it, and a bulk import
 * saves about a tenth of its time).  Calling it later is harmless and
 * changes nothing.
 */
void	store_global_init(void);

/*
 * Before a bulk import (STORE_BULK), instead of store_global_init()'s
 * plain malloc: SQLite's page cache in one block of about bytes (rounded
 * to whole pages; at most 256 MiB, the bulk connection's cache_size),
 * mapped on its own and marked for huge pages.  Filled one 4 KiB page at a
 * time from the C heap, a 256 MiB cache took one page fault per database
 * page, a fifth of an import's CPU time on this machine (BENCHMARKS.md
 * "Import: the page cache on huge pages").  A page that does not fit
 * (another page size, or the block full) still comes from malloc, and the
 * cache stops growing when the block is nearly full, so bytes is also the
 * cache's size.  Call while the program has one thread and before any
 * other store call (SQLITE_CONFIG_PAGECACHE); later, or when the memory
 * cannot be mapped, it changes nothing.  The block stays until the
 * process exits.  No effect on PostgreSQL.
 */
void	store_bulk_memory(size_t bytes);

/*
 * Open the store named by cfg (ConsentDB, DBBusyTimeout).  Without
 * STORE_CREATE a missing file or a schema of another version is an error.
 * NULL with why[] filled on failure; *st_r is the status kind.  why[] never
 * holds a password (ConsentDB is shown as store_mask() prints it).
 *
 * SQLite (ConsentDB is a path, optionally "sqlite:PATH"): a missing file
 * without STORE_CREATE is STORE_TEMPFAIL (the milter tempfails, mail stays
 * queued); a schema version outside STORE_SCHEMA_OLDEST to
 * STORE_SCHEMA_VERSION is STORE_ERROR naming both (with STORE_MIGRATE an
 * older one is accepted).  STORE_CREATE
 * creates the file with mode 0600 (it sets the process umask to 077 for a
 * moment: not for threaded callers) but never its directory.
 */
struct store *store_open(const struct config *cfg, unsigned flags,
	    enum store_status *st_r, char *why, size_t whylen);

/*
 * PostgreSQL (ConsentDB "postgresql://..." or "postgres://..." URI, or a
 * libpq conninfo after "pgsql:", "postgresql:" or "postgres:", or one that
 * starts "host=", "hostaddr=", "dbname=" or "service="): passwords, TLS
 * (sslmode) and ~/.pgpass / PGPASSFILE as libpq documents them.  The
 * database must exist; STORE_CREATE creates the schema in an empty one.  A
 * server that cannot be reached (or refuses us) is STORE_TEMPFAIL.  One
 * connection per handle; a lost connection is reset and the statement tried
 * once more (outside a transaction), else STORE_TEMPFAIL.  DBBusyTimeout is
 * the lock_timeout; a statement that takes longer than 4 times that (at
 * least 5 s) is cancelled: STORE_TEMPFAIL.
 */

/* Close; sets *stp to NULL.  Accepts NULL and *stp == NULL. */
void store_close(struct store **stp);

/*
 * Does the database ConsentDB names exist?  STORE_OK or STORE_NOTFOUND
 * (SQLite: no such file; PostgreSQL: the server says no such database),
 * STORE_TEMPFAIL when that cannot be told (server down), with why[] filled.
 * For optinctl, which reports a missing database as "no input"; the milter
 * tempfails whatever the reason.
 */
enum store_status store_exists(const struct config *cfg, char *why,
	    size_t whylen);

/*
 * Which permission on ConsentDB's files this process lacks, asked after a
 * failed store_open() or store call (for optinctl, which reports it apart
 * from a temporary failure: retrying does not mend it).  SQLite:
 * STORE_ACCESS_READ when the database, its -wal or its -shm exists and may
 * not be read; STORE_ACCESS_WRITE when one may not be written, or is
 * missing and the directory may not be written to create it (a read-only
 * file system included); the errno (EACCES, EPERM or EROFS) in *errno_r
 * (may be NULL).  STORE_ACCESS_OK otherwise, and always for PostgreSQL
 * (the server's refusals are its own).  Uses access(2): the real user.
 */
enum store_access { STORE_ACCESS_OK, STORE_ACCESS_READ, STORE_ACCESS_WRITE };
enum store_access store_access(const struct config *cfg, int *errno_r);

/* What an admin should act on about the database just opened, or NULL:
 * the file is readable by others (SQLite), the schema is older than
 * STORE_SCHEMA_VERSION (run optinctl migrate); both, joined by "; ", when
 * both hold, each naming the database in full.  One line; owned by st. */
const char *store_warning(const struct store *st);

/* ConsentDB as it may be shown in logs and errors: any password in a URI
 * (user:PASSWORD@) or conninfo (password=...) replaced by "***"; truncated
 * to outlen.  Thread-safe. */
void store_mask(const char *consent_db, char *out, size_t outlen);

/* The engine of an open store: "sqlite" or "pgsql".  Static string. */
const char *store_engine(const struct store *st);

/* Look up addr on list; fills *row_r (SUB_NONE when no row). */
enum store_status store_lookup(struct store *st, const char *addr,
	    const char *list, struct consent_row *row_r, char *why,
	    size_t whylen);

/* Did this store_open() create the database (STORE_CREATE)? */
bool store_created(const struct store *st);

/* The schema version of the open database. */
int store_version(const struct store *st);

/*
 * Apply the numbered migrations up to STORE_SCHEMA_VERSION (open with
 * STORE_MIGRATE); *from_r and *to_r get the versions before and after.
 */
enum store_status store_migrate(struct store *st, int *from_r, int *to_r,
	    char *why, size_t whylen);

/*
 * Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK).  Single changes
 * (store_set_status, store_suppress, ...) are atomic by themselves and nest
 * inside such a transaction.
 */
enum store_status store_begin(struct store *st, char *why, size_t whylen);
enum store_status store_commit(struct store *st, char *why, size_t whylen);
void store_rollback(struct store *st);

/*
 * store_begin, for a transaction that writes consent from what it read
 * (optin-unsubd's writer: erased?, then the opt-out): an erasure
 * (store_forget) never falls between its reads and its writes, which
 * would write the erased address back.  On PostgreSQL (READ COMMITTED:
 * each statement sees what committed before it began) it takes a lock
 * that store_forget waits for, after waiting for an erasure under way
 * (DBBusyTimeout at most, then STORE_TEMPFAIL); on SQLite the write lock
 * of store_begin does that already.  End it as store_begin's.
 */
enum store_status store_begin_change(struct store *st, char *why,
	    size_t whylen);

/* One consent event; fields may be NULL except addr and event. */
struct consent_event {
	const char *addr;
	const char *list;
	const char *event;	/* "opted_in", "opted_out", "pending",
				   "suppressed", "erased", ... */
	const char *source;	/* "optinctl", "one-click", "web", "mailto"... */
	const char *evidence;
	const char *remote_addr;
	const char *user_agent;
};

/* Does the list exist?  STORE_OK or STORE_NOTFOUND; double_opt_in_r may
 * be NULL. */
enum store_status store_list_exists(struct store *st, const char *list,
	    bool *double_opt_in_r, char *why, size_t whylen);

/* The display name of list into name_r (namelen bytes, a longer one cut
 * before a character it would split; "" when it has none): one row, for
 * pages that show it.  STORE_OK or STORE_NOTFOUND. */
enum store_status store_list_name(struct store *st, const char *list,
	    char *name_r, size_t namelen, char *why, size_t whylen);

/* Create a list (STORE_ERROR if it exists). */
enum store_status store_list_add(struct store *st, const char *list,
	    const char *name, bool double_opt_in, char *why, size_t whylen);

/*
 * Set the subscription (addr, list) to status and append the consent event
 * ev (ev->event defaults to the status word), in one transaction unless the
 * caller holds one.  The list must exist (STORE_NOTFOUND otherwise, and
 * nothing written; the caller's transaction goes on).  The event row takes
 * its address and list from addr and list (ev->addr and ev->list are
 * ignored here); ev may be NULL.  Any other failure inside the caller's
 * transaction is to be answered with store_rollback(): on PostgreSQL it
 * has aborted the transaction (one statement there, no savepoint).
 */
enum store_status store_set_status(struct store *st, const char *addr,
	    const char *list, enum sub_status status,
	    const struct consent_event *ev, char *why, size_t whylen);

/*
 * Add a global suppression with reason (DESIGN words) and an event, in one
 * transaction as store_set_status.  An existing suppression keeps its
 * reason and time; the event is written anyway.  The event row defaults to
 * event "suppressed" and evidence "reason=REASON"; its address is addr.
 */
enum store_status store_suppress(struct store *st, const char *addr,
	    const char *reason, const struct consent_event *ev, char *why,
	    size_t whylen);

/* A global suppression: STORE_OK with reason_r (reasonlen bytes) and
 * *created_at_r filled (either may be NULL/0), or STORE_NOTFOUND. */
enum store_status store_suppression(struct store *st, const char *addr,
	    char *reason_r, size_t reasonlen, time_t *created_at_r, char *why,
	    size_t whylen);

/* One list, as store_list_ls() reports it; strings borrowed for the call. */
struct store_list {
	const char *list;
	const char *name;		/* NULL when none */
	bool double_opt_in;
	time_t created_at;
	long long opted_in, pending, opted_out;	/* subscription counts */
};

/*
 * Callback of the iterators below: return 0 to go on, non-zero to stop.
 * It must not call store functions on the same handle.
 */
typedef int store_list_fn(const struct store_list *l, void *ctx);

/* Call fn for every list, ordered by list id. */
enum store_status store_list_ls(struct store *st, store_list_fn *fn,
	    void *ctx, char *why, size_t whylen);

/* One subscription of an address; strings borrowed for the call. */
struct store_sub {
	const char *list;
	enum sub_status status;		/* never SUB_NONE */
	const char *source;		/* NULL when none */
	time_t updated_at;
};

typedef int store_sub_fn(const struct store_sub *s, void *ctx);

/* Call fn for every subscription row of addr, ordered by list id. */
enum store_status store_subscriptions(struct store *st, const char *addr,
	    store_sub_fn *fn, void *ctx, char *why, size_t whylen);

/* One quarantine row (one per blocked recipient). */
struct quarantine_row {
	const char *queue_id;
	const char *message_id;
	const char *sender;
	const char *recipient;
	const char *list;
	const char *reason;	/* consent_reason_str() or "resubmit_failed" */
	const char *spool_file;	/* name relative to QuarantineDir */
	time_t received_at;
};

/* Insert one quarantine row; *id_r (may be NULL) gets its id. */
enum store_status store_quarantine_add(struct store *st,
	    const struct quarantine_row *row, long long *id_r, char *why,
	    size_t whylen);

/*
 * Erased people (optinctl forget).  An erased address is kept only as its
 * erased form (mark.h): "erased:ID:HEX", the MARK_ERASURE mark of the
 * normalised address with the ErasureKeyFile key ID, which does not change
 * when the token keys rotate.  Databases from before ErasureKeyFile hold
 * the legacy form "hmac:HEX" made with whatever TokenKeyFile key was the
 * newest then; those are found by trying every key of the token ring.
 * That form is the address of the suppression with reason "erased" and of
 * the one "erased" consent event.
 *
 * XXX a legacy form is found only while the token key it was made with is
 * still in TokenKeyFile: keep old token keys while such rows exist
 * (optinctl(8), forget).
 */
#define STORE_HASH_MAX		MARK_ERASED_MAX

struct token_ring;

/* The keys erased forms are made with; either may be NULL (not loaded).
 * Borrowed by the calls below. */
struct store_erasure {
	const struct token_ring *keys;		/* ErasureKeyFile */
	const struct token_ring *legacy;	/* TokenKeyFile: legacy forms */
};

/* The erased form optinctl forget keeps for the normalised addr now (the
 * newest ErasureKeyFile key) into out; 0, or -1 when e has no keys. */
int store_erased_form(const struct store_erasure *e, const char *addr,
	    char out[STORE_HASH_MAX]);

/*
 * Is the normalised addr erased?  STORE_OK with the form found in form_r
 * (may be NULL), STORE_NOTFOUND, or STORE_ERROR when the database holds
 * erased forms that e cannot make (ErasureKeyFile, or for legacy forms
 * TokenKeyFile, not loaded): never a silent "not erased".  e may be NULL
 * (no keys at all).
 */
enum store_status store_erased(struct store *st, const struct store_erasure *e,
	    const char *addr, char form_r[STORE_HASH_MAX], char *why,
	    size_t whylen);

/* Does the database keep erased forms made with an ErasureKeyFile key
 * (*keyed_r) and legacy forms (*legacy_r)? */
enum store_status store_erased_kinds(struct store *st, bool *keyed_r,
	    bool *legacy_r, char *why, size_t whylen);

/*
 * store_lookup, and the address counts as suppressed also when it is
 * erased (store_erased()): the lookup of the milter and of optinctl.  The
 * usual case (one ErasureKeyFile key, no legacy forms) is one statement.
 * Errors as store_erased().
 */
enum store_status store_lookup2(struct store *st, const char *addr,
	    const struct store_erasure *e, const char *list,
	    struct consent_row *row_r, char *why, size_t whylen);

/*
 * What an opt-out starts from, read at once: whether the normalised addr
 * is erased (*erased_r, as store_erased()), its row for list as
 * store_lookup() (row_r->suppressed: a suppression of addr itself; row_r
 * is undefined when *erased_r) and the list's display name into name_r
 * (namelen bytes, cut as store_list_name() cuts it; "" when the list has
 * none or does not exist).  In the usual case (one ErasureKeyFile key, no
 * legacy forms) one statement on either engine, where store_list_name(),
 * store_erased() and store_lookup() are three (on PostgreSQL three round
 * trips).  STORE_OK, or the errors of store_erased() and store_lookup();
 * the list's absence is no error.
 */
enum store_status store_optout_state(struct store *st,
	    const struct store_erasure *e, const char *addr, const char *list,
	    bool *erased_r, struct consent_row *row_r, char *name_r,
	    size_t namelen, char *why, size_t whylen);

/* One opt-out of store_optout_state_batch(): its inputs and, on success,
 * the outputs store_optout_state() gives. */
struct store_optout {
	const char *addr;		/* in: normalised, borrowed */
	const char *list;		/* in: borrowed */
	char *name_r;			/* in: the caller's buffer for the
					   list's name, namelen bytes (> 0) */
	size_t namelen;
	bool erased;			/* out */
	struct consent_row row;		/* out: undefined when erased */
};

/*
 * store_optout_state() of the n opt-outs of v, inside the caller's
 * transaction (the writer of optin-unsubd: one read for all the opt-outs
 * of a batch).  On PostgreSQL the statements go out together, one round
 * trip for up to STORE_PIPELINE_MAX of them (libpq pipeline mode;
 * outside a transaction one round trip each); on SQLite one statement
 * each.  The first failure ends it, with the errors of
 * store_optout_state() (v's outputs then undefined; on PostgreSQL the
 * transaction is aborted: store_rollback()).  n == 0 is STORE_OK.
 */
enum store_status store_optout_state_batch(struct store *st,
	    const struct store_erasure *e, struct store_optout *v, size_t n,
	    char *why, size_t whylen);

/* One change of store_set_status_batch(). */
struct store_status_change {
	const char *addr;		/* in: normalised, borrowed */
	const char *list;		/* in: borrowed */
	enum sub_status status;		/* in: as store_set_status() */
	const struct consent_event *ev;	/* in: borrowed, may be NULL */
	enum store_status rs;		/* out: STORE_OK, or STORE_NOTFOUND:
					   no such list, nothing written */
};

/*
 * store_set_status() of the n changes of v, in order, inside the caller's
 * transaction; no two of them may be for the same (addr, list).  On
 * PostgreSQL one round trip for up to STORE_PIPELINE_MAX of them, as
 * store_optout_state_batch().  STORE_OK when each change was written or
 * refused for its missing list (v[i].rs says which); any other failure
 * ends it with the errors of store_set_status(), and the caller rolls back
 * (store_rollback()).  n == 0 is STORE_OK.
 */
enum store_status store_set_status_batch(struct store *st,
	    struct store_status_change *v, size_t n, char *why, size_t whylen);

/* Statements sent together in one round trip by the _batch operations on
 * PostgreSQL: their results fit the socket buffers, so neither side waits
 * for the other to read. */
#define STORE_PIPELINE_MAX	64

/*
 * store_lookup2 for the n recipients of one message on one list: rows_r[i]
 * (n entries, the caller's) for the normalised addrs[i] (borrowed).  On
 * PostgreSQL one prepared statement for them all (one round trip; DESIGN
 * "Scale-out"), on SQLite one indexed read each.  The first failure ends
 * it: STORE_TEMPFAIL (database unavailable, or out of memory) or
 * STORE_ERROR as store_lookup2(), with why filled; rows_r is then
 * undefined.  n == 0 is STORE_OK.
 */
enum store_status store_lookup_set(struct store *st, const char *const *addrs,
	    size_t n, const struct store_erasure *e, const char *list,
	    struct consent_row *rows_r, char *why, size_t whylen);

/* A read transaction (BEGIN, deferred): a consistent view for a long
 * read-only run, without taking the write lock.  End it with
 * store_rollback() or store_commit(). */
enum store_status store_begin_read(struct store *st, char *why,
	    size_t whylen);

/*
 * The reads of one decision (the milter's pause check, list and consent
 * lookups of one message) in one snapshot where that is cheaper: on SQLite
 * a read transaction (BEGIN, deferred: the snapshot is taken at the first
 * read), so the statements share one set of WAL locks and file checks
 * instead of taking their own; on PostgreSQL nothing (each statement is
 * one round trip already, a transaction would add two).  Only reads may
 * run until store_reads_end(), which ends the transaction (it cannot fail:
 * nothing was written).  Never hold it across messages or any wait: a
 * change another process commits meanwhile is not seen until it ends.
 * store_reads_begin: STORE_OK, or STORE_TEMPFAIL / STORE_ERROR with why
 * filled (the database could not be read).
 */
enum store_status store_reads_begin(struct store *st, char *why,
	    size_t whylen);
void store_reads_end(struct store *st);

/*
 * Bulk import of one subscription, inside the caller's transaction (no
 * savepoint of its own: an error leaves the transaction to be rolled
 * back).  The list is not checked here.  Reads the current state (*old_r,
 * SUB_NONE when no row; *old_at_r its updated_at, may be NULL).  When it
 * differs from status, writes the subscription and one consent event (ev as
 * store_set_status), unless the flags hold it back:
 *	STORE_IMPORT_ONLY_NEW	only when there is no row at all
 *	STORE_IMPORT_KEEP_OPT_OUT  an opted_out row changes only when
 *				consented_at is later than its updated_at
 *	STORE_IMPORT_DRY_RUN	write nothing
 * *changed_r says whether it did (or, dry run, would) change.
 */
#define STORE_IMPORT_ONLY_NEW		0x01
#define STORE_IMPORT_KEEP_OPT_OUT	0x02
#define STORE_IMPORT_DRY_RUN		0x04
enum store_status store_import_set(struct store *st, const char *addr,
	    const char *list, enum sub_status status, unsigned flags,
	    time_t consented_at, const struct consent_event *ev,
	    enum sub_status *old_r, time_t *old_at_r, bool *changed_r,
	    char *why, size_t whylen);

/* How many suppressions have reason r. */
enum store_status store_suppression_count(struct store *st,
	    const char *reason, long long *n_r, char *why, size_t whylen);

/* One consent event as read back; strings borrowed for the call. */
struct store_event {
	long long id;
	const char *addr;
	const char *list;		/* NULL for global events */
	const char *event;
	const char *source;
	const char *evidence;
	const char *remote_addr;
	const char *user_agent;
	time_t occurred_at;
};

typedef int store_event_fn(const struct store_event *e, void *ctx);

/* Call fn for every consent event of addr, oldest first. */
enum store_status store_events(struct store *st, const char *addr,
	    store_event_fn *fn, void *ctx, char *why, size_t whylen);

/* Was addr ever opted in to list (an event "opted_in" or "confirmed")?
 * For re-subscribing without inventing consent (optin-unsubd). */
enum store_status store_ever_opted_in(struct store *st, const char *addr,
	    const char *list, bool *yes_r, char *why, size_t whylen);

/*
 * Erase addr: delete its subscriptions, consent events, quarantine rows
 * (recipient addr), feedback rows and suppression; add the suppression
 * addr_hash (its store_erased_form(); reason
 * "erased"; an existing one is kept) and one event "erased" whose address
 * is addr_hash, list NULL, source and evidence from ev (may be NULL).  One
 * transaction unless the caller holds one.  Counts of deleted rows in *n_r
 * (may be NULL).  Spool files are the caller's (store_spool_refs).
 */
struct store_forget_counts {
	long long subscriptions, events, quarantine, suppressions;
	long long feedback;	/* rows of table feedback (schema 2) naming
				   addr, or quoting it in their diagnostic */
};
enum store_status store_forget(struct store *st, const char *addr,
	    const char *addr_hash, const struct consent_event *ev,
	    struct store_forget_counts *n_r, char *why, size_t whylen);

/*
 * Make deleted rows unrecoverable from the database files: copy every
 * committed change into the main file and empty the write-ahead log
 * (SQLite: wal_checkpoint(TRUNCATE); every connection that writes runs
 * with secure_delete on, so deleted rows are zeroed in their pages).  Call
 * it outside a transaction, after store_forget().  STORE_TEMPFAIL when it
 * cannot complete within the busy timeout, mostly because another
 * connection holds a read transaction on an older snapshot: the pages the
 * deletions replaced then stay in the database file until a later
 * checkpoint, and why[] says so.
 */
enum store_status store_checkpoint(struct store *st, char *why,
	    size_t whylen);

/*
 * Put on disk every transaction that any handle of this process committed
 * on this store before the call: the durability that STORE_SYNC_LATER
 * leaves out of store_commit(), for all the commits since the last sync at
 * once.  Use a handle of its own in another thread, outside a
 * transaction, so that the writer commits its next transaction while this
 * one waits for the disk.
 *
 * SQLite: fdatasync(2) of the write-ahead log ("PATH-wal"), and of its
 * directory the first time (the log may be new).  PostgreSQL: a
 * transaction of its own with synchronous_commit on (its commit waits for
 * the server's WAL flush, which covers every commit before it).
 * STORE_TEMPFAIL with why[] when the sync fails (EIO, ENOSPC; the server
 * unreachable): the commits may not be on disk,
 * though other connections may already read them.
 */
enum store_status store_sync(struct store *st, char *why, size_t whylen);

/* How often the owner of a writer opened with STORE_SYNC_LATER runs
 * store_wal_backfill() on another handle (when anything was synced):
 * often enough that the log stays small, rarely enough that copying it is
 * a small part of the disk's work.  In milliseconds. */
#define STORE_TRIM_MS	1000

/*
 * A checkpoint now, for a writer opened with STORE_BULK or
 * STORE_SYNC_LATER, which runs none itself: SQLite: a PASSIVE checkpoint on st (a handle of its own, in
 * another thread, outside a transaction: it copies the log's committed
 * frames into the database file and syncs both while the writer goes on
 * appending; it never waits for the writer or readers).  Frames it cannot
 * copy yet (newer than its start, or still read by an older snapshot) are
 * left for the next call; once every frame is in the database file, the
 * writer's next transaction starts the log from its beginning.
 * PostgreSQL: nothing.  Errors: STORE_ERROR or STORE_TEMPFAIL with why[]
 * (I/O).
 */
enum store_status store_wal_backfill(struct store *st, char *why,
	    size_t whylen);

/*
 * Append one consent event: ev->addr and ev->event are required, the other
 * fields may be NULL (user_agent defaults to the handle's agent, see
 * store_set_agent).  For events that change no state, such as an admin's
 * action on a quarantined message.
 */
enum store_status store_event_add(struct store *st,
	    const struct consent_event *ev, char *why, size_t whylen);

/*
 * Lift the global suppression of key (an address, or the erased form of
 * one) and append the event ev (its address ev->addr, default key; event
 * default "unsuppressed"), in one transaction as store_set_status.
 * STORE_NOTFOUND, with nothing written, when key has no suppression.
 * Lifting needs fresh consent evidence: call it through reconsent_lift()
 * (reconsent.h), the one place that decides so.
 */
enum store_status store_unsuppress(struct store *st, const char *key,
	    const struct consent_event *ev, char *why, size_t whylen);

/*
 * Name who makes the changes through st, e.g. "optinctl user=root
 * sudo_user=ann": every consent event written through st whose user_agent
 * is NULL gets agent as its user_agent (an audit trail of admin actions).
 * agent is borrowed and must outlive st; NULL clears it.
 */
void store_set_agent(struct store *st, const char *agent);

/* A quarantine row as read back; strings borrowed for the call. */
struct store_qrow {
	long long id;
	struct quarantine_row row;
	time_t released_at;		/* 0: not released */
};

/* Which quarantine rows store_quarantine_ls() reports; zero: all.  Every
 * field is a bound parameter of one prepared statement (both engines):
 * equality only, no pattern ('%' and '_' are plain characters). */
struct store_qfilter {
	long long id;			/* 0: any */
	const char *queue_id;		/* the MTA queue ID; NULL: any */
	const char *reason;		/* NULL: any */
	const char *list;
	const char *sender;
	const char *recipient;
	time_t before;			/* received_at < before; 0: any */
	bool held_only;			/* leave out released rows */
};

typedef int store_qrow_fn(const struct store_qrow *q, void *ctx);

/* Call fn for every quarantine row that f selects (NULL: all), by id. */
enum store_status store_quarantine_ls(struct store *st,
	    const struct store_qfilter *f, store_qrow_fn *fn, void *ctx,
	    char *why, size_t whylen);

/* Mark row id released at when; STORE_NOTFOUND when there is no row. */
enum store_status store_quarantine_released(struct store *st, long long id,
	    time_t when, char *why, size_t whylen);

/* Delete row id; STORE_NOTFOUND when there is no row. */
enum store_status store_quarantine_del(struct store *st, long long id,
	    char *why, size_t whylen);

/* How many quarantine rows name spool_file. */
enum store_status store_spool_refs(struct store *st, const char *spool_file,
	    long long *n_r, char *why, size_t whylen);

/* One subscription of a list, with its address; strings borrowed. */
struct store_member {
	const char *addr;
	const char *list;
	enum sub_status status;
	const char *source;		/* NULL when none */
	time_t updated_at;
	bool suppressed;		/* the address has a suppression */
};

typedef int store_member_fn(const struct store_member *m, void *ctx);

/* Call fn for every subscription on list (NULL: every list), ordered by
 * list and address; opt_outs_only: only opted_out ones. */
enum store_status store_members(struct store *st, const char *list,
	    bool opt_outs_only, store_member_fn *fn, void *ctx, char *why,
	    size_t whylen);

typedef int store_addr_fn(const char *addr, void *ctx);

/* Call fn for every address that opted out of list (NULL: of any list) or
 * has a suppression other than "erased", once each, in order. */
enum store_status store_opt_out_addrs(struct store *st, const char *list,
	    store_addr_fn *fn, void *ctx, char *why, size_t whylen);

/* One count of store_stats(); strings borrowed for the call. */
struct store_stat {
	const char *group;	/* "subscriptions", "suppressions",
				   "quarantine", "events" */
	const char *key;	/* list, reason, or event word */
	const char *key2;	/* state (subscriptions), "held"/"released"
				   (quarantine), else NULL */
	long long n;
};

typedef int store_stat_fn(const struct store_stat *s, void *ctx);

/* Subscriptions per list and state, suppressions by reason, quarantine by
 * reason and held/released, events since `since` by event word; grouped
 * in that order, keys sorted. */
enum store_status store_stats(struct store *st, time_t since,
	    store_stat_fn *fn, void *ctx, char *why, size_t whylen);

/*
 * Raw rows, for copying a whole database between engines (optinctl
 * copy-store).  store_tables[] names the tables in an order that keeps
 * foreign keys satisfied, each with its columns in schema order; both
 * engines have exactly these.  Values travel as text (NULL is SQL NULL):
 * numbers in decimal, as the engines store them.
 */
struct store_table {
	const char *name;
	int ncols;
	const char *cols;		/* "list_id, name, ..." */
};
extern const struct store_table store_tables[];	/* ends with name NULL */

typedef int store_row_fn(const char *const *vals, void *ctx);

/* Call fn for every row of table (a store_tables[] name) by its first
 * column; vals[] borrowed for the call. */
enum store_status store_table_rows(struct store *st, const char *table,
	    store_row_fn *fn, void *ctx, char *why, size_t whylen);

/* May table (a store_tables[] name) hold the row vals: is every checked
 * column (status, reason, kind, 0/1 flags) inside the schema's CHECK set?
 * true, or false with why naming table, row and value (or the unknown
 * table).  No database is read. */
bool store_table_row_ok(const char *table, const char *const *vals,
	    char *why, size_t whylen);

/* Insert one row of table as it is (ids and times included).  A row the
 * schema refuses is STORE_ERROR with *refused_r set (refused_r may be
 * NULL) and why naming table and row: before the engine when
 * store_table_row_ok() refuses it, else when the engine reports a
 * constraint (SQLite SQLITE_CONSTRAINT, PostgreSQL SQLSTATE class 23:
 * a list the row names is missing, a key already there) or a value its
 * column's type refuses (PostgreSQL class 22: text that is not UTF-8, a
 * time that is no integer).  Any other failure leaves *refused_r false. */
enum store_status store_table_put(struct store *st, const char *table,
	    const char *const *vals, bool *refused_r, char *why,
	    size_t whylen);

/* After puts into table: let new ids follow the ones copied in. */
enum store_status store_table_done(struct store *st, const char *table,
	    char *why, size_t whylen);

/* The number of rows of table. */
enum store_status store_table_count(struct store *st, const char *table,
	    long long *n_r, char *why, size_t whylen);

/* Inside store_begin's transaction: wait (DBBusyTimeout at most, then
 * STORE_TEMPFAIL) until no other transaction can write table, such as one
 * whose COMMIT is still running after its connection was lost, and keep
 * it so until this transaction ends.  PostgreSQL: LOCK TABLE in SHARE
 * mode; SQLite: nothing more, store_begin holds the write lock. */
enum store_status store_table_lock(struct store *st, const char *table,
	    char *why, size_t whylen);

/*
 * Feedback: bounces and complaints (DESIGN "Feedback"; optin-feedback).
 * Kind words: "hard_bounce", "soft_bounce", "policy_bounce", "complaint",
 * "auto_reply", "unusable".
 */
struct store_feedback {
	const char *addr;	/* normalised; NULL: nobody identified */
	const char *list;	/* NULL when unknown */
	const char *campaign;	/* NULL when unknown */
	const char *kind;	/* one of the kind words */
	const char *status;	/* RFC 3463 code as reported, or NULL */
	const char *reporting_mta;
	const char *diagnostic;
	const char *arrival;	/* the report's Arrival-Date, as given */
	const char *identity;	/* how addr was found: "bounce_token",
				   "token", "dkim:DOMAIN", "address_only",
				   "none" */
	bool acted;		/* it changed consent */
	time_t received_at;	/* 0: now */
};

/* Record one report (a row of table feedback); *id_r may be NULL. */
enum store_status store_feedback_add(struct store *st,
	    const struct store_feedback *fb, long long *id_r, char *why,
	    size_t whylen);

/*
 * How many feedback rows of kind since `since` (received_at >= since) name
 * addr (when addr is not NULL) and campaign (when not NULL).  For
 * SoftBounceLimit (per address) and PolicyBounceLimit (per campaign).
 */
enum store_status store_feedback_count(struct store *st, const char *addr,
	    const char *campaign, const char *kind, time_t since,
	    long long *n_r, char *why, size_t whylen);

/* One count of store_feedback_stats(); strings borrowed for the call. */
struct store_fbstat {
	const char *list;	/* "" when unknown */
	const char *campaign;	/* "" when unknown */
	const char *kind;	/* a kind word, or "sent" (campaign_sent) */
	long long n;
};

typedef int store_fbstat_fn(const struct store_fbstat *s, void *ctx);

/* Counts of feedback rows (received_at >= since) by list, campaign and
 * kind, and the sent counts of campaign_sent; ordered by list, campaign,
 * kind. */
enum store_status store_feedback_stats(struct store *st, time_t since,
	    store_fbstat_fn *fn, void *ctx, char *why, size_t whylen);

/* One feedback row as read back; strings borrowed for the call. */
struct store_fbrow {
	long long id;
	struct store_feedback fb;
};

typedef int store_fbrow_fn(const struct store_fbrow *r, void *ctx);

/* Call fn for every feedback row that acted (acted_only) or every row,
 * received at or after since, naming addr (NULL: anyone), by id. */
enum store_status store_feedback_ls(struct store *st, const char *addr,
	    time_t since, bool acted_only, store_fbrow_fn *fn, void *ctx,
	    char *why, size_t whylen);

/* Add n copies sent to (campaign, list); for the milter. */
enum store_status store_sent_add(struct store *st, const char *campaign,
	    const char *list, long long n, char *why, size_t whylen);

/*
 * Pause campaign with reason (an existing pause keeps its reason and time).
 * The milter tempfails new copies of a paused campaign (store_campaign_
 * paused); "optinctl campaign resume" ends it.
 */
enum store_status store_campaign_pause(struct store *st, const char *campaign,
	    const char *reason, char *why, size_t whylen);

/* Has the engine of st the feedback tables (SQLite: yes; PostgreSQL: not
 * yet)?  Without them the feedback calls return STORE_ERROR. */
bool store_has_feedback(const struct store *st);

/* Is campaign paused?  STORE_OK with reason_r (reasonlen bytes, may be NULL)
 * and *paused_at_r (may be NULL) filled, or STORE_NOTFOUND; one indexed
 * read, for the milter at end of message. */
enum store_status store_campaign_paused(struct store *st,
	    const char *campaign, char *reason_r, size_t reasonlen,
	    time_t *paused_at_r, char *why, size_t whylen);

/* End the pause of campaign: STORE_OK, or STORE_NOTFOUND if not paused. */
enum store_status store_campaign_resume(struct store *st,
	    const char *campaign, char *why, size_t whylen);

/* One paused campaign; strings borrowed for the call. */
struct store_pause {
	const char *campaign;
	const char *reason;
	time_t paused_at;
};

typedef int store_pause_fn(const struct store_pause *p, void *ctx);

/* Call fn for every paused campaign, by name. */
enum store_status store_campaign_ls(struct store *st, store_pause_fn *fn,
	    void *ctx, char *why, size_t whylen);


/*
 * Hand-over records (schema version 3 on SQLite; sql/pgsql/handover.sql):
 * which recipient of a message already got a split copy, or a quarantine
 * row, so that the MTA's retry of the same message (a new queue ID) never
 * makes a second one (DESIGN "Message flow"; milter/milter/handover.h).
 * A record is keyed by (key, recipient): key is the message's keyed hash
 * (64 hex digits, mark.h MARK_HANDOVER), recipient the normalised address.
 */
enum store_handover_state {
	STORE_HANDOVER_NONE = 0,	/* no record (store_handover_claim) */
	STORE_HANDOVER_CLAIMED,		/* a copy is being handed over */
	STORE_HANDOVER_DONE,		/* SendmailCommand took it (exit 0) */
	STORE_HANDOVER_QUARANTINED	/* a quarantine row holds it */
};

/* What a record says; queue_id is the queue ID of the attempt that
 * claimed it. */
struct store_handover {
	enum store_handover_state state;
	char queue_id[32];
	time_t claimed_at, updated_at;
};

/*
 * Claim (key, recipient) with state (CLAIMED or QUARANTINED) at now for
 * the attempt queue_id: when there is no record it is written and
 * old_r->state is STORE_HANDOVER_NONE; when there is one nothing changes
 * and *old_r gets it.  Both are STORE_OK: the caller decides.  An atomic
 * insert (two attempts at once: one wins, the other sees its record).
 * Inside the caller's transaction when one is open, else committed at once.
 */
enum store_status store_handover_claim(struct store *st, const char *key,
	    const char *recipient, enum store_handover_state state,
	    const char *queue_id, time_t now, struct store_handover *old_r,
	    char *why, size_t whylen);

/* Set the state of the record (key, recipient) to state (DONE or
 * QUARANTINED) at now: STORE_OK, STORE_NOTFOUND when there is none. */
enum store_status store_handover_set(struct store *st, const char *key,
	    const char *recipient, enum store_handover_state state, time_t now,
	    char *why, size_t whylen);

/* Seconds a record is kept after its last change: longer than Postfix's
 * maximal_queue_lifetime (5 days by default), so that every retry finds it. */
#define STORE_HANDOVER_KEEP	(7 * 86400)

/* Delete the records last changed before `before`; *n_r (may be NULL)
 * gets how many.  For optinctl quarantine purge (now - STORE_HANDOVER_KEEP). */
enum store_status store_handover_purge(struct store *st, time_t before,
	    long long *n_r, char *why, size_t whylen);

/* "claimed", "done", "quarantined"; NULL for NONE or out of range. */
const char *store_handover_state_str(enum store_handover_state s);

/* The state of word, STORE_HANDOVER_NONE when it names none. */
enum store_handover_state store_handover_state_parse(const char *word);

#endif
