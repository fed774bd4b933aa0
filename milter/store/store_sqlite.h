/*
 * store_sqlite.h - what the files of the SQLite backend share
 * (store_sqlite.c: statement table and helpers, transactions, the
 * operations on one address, the backend table; store_sqlite_open.c: open,
 * close, schema, migrations; store_sqlite_admin.c: quarantine rows,
 * events, forget, checkpoint, members, stats, copy-store).  Private to
 * milter/store/; store_sqlite_fb.c goes through store-private.h instead.
 *
 * A handle is used by one thread at a time.  Every function here that
 * takes why/whylen fills why (ConsentDB path: what: SQLite's message) on
 * failure; an SQLite code of busy, locked, I/O, full, out of memory or
 * cannot open maps to STORE_TEMPFAIL, any other failure to STORE_ERROR.
 */
#ifndef OPTIN_STORE_SQLITE_H
#define OPTIN_STORE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <sqlite3.h>

#include "store-private.h"

/* The prepared statements of a handle, by number (their text:
 * sq_stmt_sql[], store_sqlite_sql.c). */
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
	STMT_OPTOUT,
	STMT_BEGIN_READ,
	STMT_SUB_GET,
	STMT_SUPP_COUNT,
	STMT_EVENTS,
	STMT_EVER_IN,
	STMT_DEL_SUBS,
	STMT_DEL_EVENTS,
	STMT_DEL_QROWS,
	STMT_DEL_SUPP,
	STMT_DEL_FEEDBACK,
	STMT_QLS,
	STMT_QREL,
	STMT_QDEL,
	STMT_SPOOL_REFS,
	STMT_MEMBERS,
	STMT_OPTOUT_ADDRS,
	STMT_STATS,
	STMT_SUPP_PREFIX,
	STMT_PAUSED,
	STMT_SUB_ADD,
	STMT_COUNT
};

/* The text of each statement (store_sqlite_sql.c). */
extern const char *const sq_stmt_sql[STMT_COUNT];

/* One SQLite handle: struct store first, so that a struct store * from
 * sq_open is a struct sq *. */
struct sq {
	struct store base;		/* first: store.c sees this */
	sqlite3 *db;			/* owned */
	sqlite3_stmt *stmt[STMT_COUNT];	/* owned, prepared on first use */
	char *path;			/* owned */
	dev_t dev;			/* the file opened at path ... */
	ino_t ino;			/* ... (sq_replaced) */
	bool replaced;			/* path no longer names that file */
	struct timespec seen_at;	/* sq_replaced: when path last named
					   it (CLOCK_MONOTONIC_COARSE) */
	long long busy_ms;		/* DBBusyTimeout */
	struct timespec busy_since;	/* sq_busy: when this wait began */
	bool dir_synced;		/* sq_sync: the directory once */
	bool undo_failed;		/* a ROLLBACK failed (sq_undo) */
	bool import_new;		/* sq_import_set: the last row it
					   saw was new, so try the insert
					   first */
};


/* Statements and errors (store_sqlite.c) */

/* sq_explain - why a failed call rc of s failed, as far as SQLite or the
 * file system can tell, into out (" (...)", or "" when nothing more is
 * known): for a lock held past DBBusyTimeout how long it waited; for a file
 * that could not be opened, created or written the file (the database,
 * its -wal or -shm, or the directory they are created in) and the errno
 * (sqlite3_system_errno(), access(2)).  Thread-safe. */
void sq_explain(struct sq *s, int rc, char *out, size_t outlen);
/* sq_fail - fill why for the failed SQLite call what (result rc) and
 * return its status: STORE_TEMPFAIL or STORE_ERROR, never STORE_OK. */
enum store_status sq_fail(struct sq *s, int rc, const char *what, char *why,
	    size_t whylen);

/* stmt_start - statement i (prepared on first use, owned by s) into *stp,
 * parameters 1..n bound from the arguments, one letter of types each:
 * 't' const char * (NULL binds NULL; the text must outlive the use),
 * 'i' int, 'l' sqlite3_int64.  SQLITE_OK or the prepare's code.  The
 * caller steps it and ends with stmt_done(). */
int	stmt_start(struct sq *s, enum stmt i, sqlite3_stmt **stp,
	    const char *types, ...);

/* stmt_done - reset a statement after use and drop its bindings. */
void	stmt_done(sqlite3_stmt *stmt);

/* stmt_exec - run statement i once, parameters as stmt_start(), and reset
 * it; SQLITE_OK when it ran to completion, else the failing code. */
int	stmt_exec(struct sq *s, enum stmt i, const char *types, ...);

/* sq_run - run the parameterless statement i to completion. */
enum store_status sq_run(struct sq *s, enum stmt i, char *why,
	    size_t whylen);

/* sq_rows_end - after a loop over the rows of stmt ended with rc: reset
 * it; STORE_OK when the loop saw every row (or stopped on purpose with rc
 * set to SQLITE_DONE), else the failure, named what. */
enum store_status sq_rows_end(struct sq *s, sqlite3_stmt *stmt, int rc,
	    const char *what, char *why, size_t whylen);

/* sq_bad_row - reset stmt after a row of table that breaks the schema;
 * STORE_ERROR. */
enum store_status sq_bad_row(struct sq *s, sqlite3_stmt *stmt,
	    const char *table, char *why, size_t whylen);

/* sq_count - run statement i with one text parameter; its first column
 * into *n_r. */
enum store_status sq_count(struct sq *s, enum stmt i, const char *arg,
	    long long *n_r, char *why, size_t whylen);

/* sq_delete - run the DELETE statement i for addr; the rows deleted into
 * *n_r.  SQLITE_OK or the failing code. */
int	sq_delete(struct sq *s, enum stmt i, const char *addr,
	    long long *n_r);

/* event_add - append one consent_events row (inside the caller's
 * transaction or savepoint); source, remote_addr and user_agent from ev
 * (may be NULL), user_agent defaulting to the handle's agent.  SQLITE_OK
 * or the failing code. */
int	event_add(struct sq *s, const char *addr, const char *list,
	    const char *event, const char *evidence,
	    const struct consent_event *ev);

/* Transactions (store_sqlite.c) */

/* sq_undo - ROLLBACK the open transaction, if one is open
 * (store_sqlite_open.c).  A failed one is logged once, with SQLite's message, and remembered
 * (undo_failed): sq_tx_enter tries again first and tempfails until it
 * works, so that no change joins a transaction that is never committed.
 * STORE_OK, or STORE_TEMPFAIL with why[] filled (whylen may be 0). */
enum store_status sq_undo(struct sq *s, char *why, size_t whylen);
/* sq_tx_enter - make the following changes atomic: BEGIN IMMEDIATE when no
 * transaction is open (*own_r true), else a savepoint inside the
 * caller's. */
enum store_status sq_tx_enter(struct sq *s, bool *own_r, char *why,
	    size_t whylen);

/* sq_tx_leave - commit (ok) or undo what sq_tx_enter began; returns the
 * commit's failure, STORE_OK otherwise. */
enum store_status sq_tx_leave(struct sq *s, bool own, bool ok, char *why,
	    size_t whylen);

/* store_sqlite_open.c: the members of the same name in struct
 * store_backend (store-private.h). */
struct store *sq_open(const char *path, const struct config *cfg,
	    unsigned flags, enum store_status *st_r, char *why,
	    size_t whylen);
void	sq_close(struct store *st);
enum store_status sq_exists(const char *path, const struct config *cfg,
	    char *why, size_t whylen);
enum store_access sq_access(const char *path, int *errno_r);
enum store_status sq_migrate(struct store *st, int *from_r, int *to_r,
	    char *why, size_t whylen);

/* store_sqlite_admin.c: the members of the same name in struct
 * store_backend (store-private.h). */
enum store_status sq_quarantine_add(struct store *st,
	    const struct quarantine_row *row, long long *id_r, char *why,
	    size_t whylen);
enum store_status sq_spool_refs(struct store *st, const char *spool_file,
	    long long *n_r, char *why, size_t whylen);
enum store_status sq_events(struct store *st, const char *addr,
	    store_event_fn *fn, void *ctx, char *why, size_t whylen);
enum store_status sq_forget(struct store *st, const char *addr,
	    const char *addr_hash, const struct consent_event *ev,
	    struct store_forget_counts *n_r, char *why, size_t whylen);
enum store_status sq_quarantine_ls(struct store *st,
	    const struct store_qfilter *f, store_qrow_fn *fn, void *ctx,
	    char *why, size_t whylen);
enum store_status sq_quarantine_released(struct store *st, long long id,
	    time_t when, char *why, size_t whylen);
enum store_status sq_quarantine_del(struct store *st, long long id, char *why,
	    size_t whylen);
enum store_status sq_members(struct store *st, const char *list,
	    bool opt_outs_only, store_member_fn *fn, void *ctx, char *why,
	    size_t whylen);
enum store_status sq_opt_out_addrs(struct store *st, const char *list,
	    store_addr_fn *fn, void *ctx, char *why, size_t whylen);
enum store_status sq_stats(struct store *st, time_t since, store_stat_fn *fn,
	    void *ctx, char *why, size_t whylen);
enum store_status sq_checkpoint(struct store *st, char *why, size_t whylen);
enum store_status sq_sync(struct store *st, char *why, size_t whylen);
enum store_status sq_wal_backfill(struct store *st, char *why,
	    size_t whylen);
enum store_status sq_table_rows(struct store *st,
	    const struct store_table *tab, store_row_fn *fn, void *ctx,
	    char *why, size_t whylen);
enum store_status sq_table_put(struct store *st, const struct store_table *tab,
	    const char *const *vals, bool *refused_r, char *why,
	    size_t whylen);
enum store_status sq_table_done(struct store *st,
	    const struct store_table *tab, char *why, size_t whylen);
enum store_status sq_table_count(struct store *st,
	    const struct store_table *tab, long long *n_r, char *why,
	    size_t whylen);
enum store_status sq_table_lock(struct store *st,
	    const struct store_table *tab, char *why, size_t whylen);

#endif
