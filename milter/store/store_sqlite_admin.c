/*
 * store_sqlite_admin.c - the operations of the SQLite backend that
 * optinctl and the quarantine use rather than the per-recipient path
 * (store_sqlite.h): quarantine rows (add, list, release, delete, spool
 * references), the consent events of an address, erasure (forget) and the
 * TRUNCATE checkpoint after it, members and opt-out addresses of a list,
 * statistics, and the table copy of optinctl copy-store.
 *
 * Statements come from the table in store_sqlite.c, run through its
 * helpers; copy-store prepares its own per call (the table name is part
 * of the SQL, from the constant store_tables[]).  One handle per thread,
 * as the backend.
 */
#include "autoconf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_sqlite.h"

/* sq_quarantine_add - insert one quarantine row */
enum store_status
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

/* sq_spool_refs - quarantine rows naming one spool file */
enum store_status
sq_spool_refs(struct store *st, const char *spool_file, long long *n_r,
    char *why, size_t whylen)
{
	return sq_count((struct sq *)st, STMT_SPOOL_REFS, spool_file, n_r,
	    why, whylen);
}

/* sq_events - every consent event of addr, oldest first */
enum store_status
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
	return sq_rows_end(s, stmt, rc, "events", why, whylen);
}

/*
 * sq_forget - erase addr, keeping only the hashed suppression.  With
 * secure_delete (sq_setup) the freed cells are zeroed in the new pages;
 * until sq_checkpoint, which the caller runs after the commit, the
 * database file holds the pages from before and the WAL older frames.
 */
enum store_status
sq_forget(struct store *st, const char *addr, const char *addr_hash,
    const struct consent_event *ev, struct store_forget_counts *n_r,
    char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	struct store_forget_counts n = { 0 };
	enum store_status rs, lrs;
	bool own;
	int rc;

	if ((rs = sq_tx_enter(s, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rc = sq_delete(s, STMT_DEL_SUBS, addr, &n.subscriptions)) !=
	    SQLITE_OK || (rc = sq_delete(s, STMT_DEL_EVENTS, addr,
	    &n.events)) != SQLITE_OK || (rc = sq_delete(s, STMT_DEL_QROWS,
	    addr, &n.quarantine)) != SQLITE_OK || (rc = sq_delete(s,
	    STMT_DEL_SUPP, addr, &n.suppressions)) != SQLITE_OK ||
	    (rc = sq_delete(s, STMT_DEL_FEEDBACK, addr, &n.feedback)) !=
	    SQLITE_OK || (rc = stmt_exec(s, STMT_SUPPRESS, "ttl", addr_hash, "erased",
	    (sqlite3_int64)time(NULL))) != SQLITE_OK)
		rs = sq_fail(s, rc, "forget", why, whylen);
	else if ((rc = event_add(s, addr_hash, NULL, "erased", ev != NULL &&
	    ev->evidence != NULL ? ev->evidence : "reason=erased", ev)) !=
	    SQLITE_OK)
		rs = sq_fail(s, rc, "consent event", why, whylen);
	lrs = sq_tx_leave(s, own, rs == STORE_OK, why, whylen);
	if (rs == STORE_OK)
		rs = lrs;
	if (rs == STORE_OK && n_r != NULL)
		*n_r = n;
	return rs;
}

/* sq_quarantine_ls - the quarantine rows f selects */
enum store_status
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
	if ((rc = stmt_start(s, STMT_QLS, &stmt, "lttttlit",
	    (sqlite3_int64)f->id, f->reason, f->list, f->sender,
	    f->recipient, (sqlite3_int64)f->before, f->held_only ? 1 : 0, f->queue_id)) !=
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
	return sq_rows_end(s, stmt, rc, "quarantine", why, whylen);
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
enum store_status
sq_quarantine_released(struct store *st, long long id, time_t when,
    char *why, size_t whylen)
{
	return sq_change_id((struct sq *)st, STMT_QREL, id, when, why,
	    whylen);
}

/* sq_quarantine_del - delete one row */
enum store_status
sq_quarantine_del(struct store *st, long long id, char *why, size_t whylen)
{
	return sq_change_id((struct sq *)st, STMT_QDEL, id, 0, why, whylen);
}

/* sq_members - subscriptions of a list (or all lists) with addresses */
enum store_status
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
			return sq_bad_row(s, stmt, "subscriptions", why, whylen);
		if (fn(&m, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return sq_rows_end(s, stmt, rc, "members", why, whylen);
}

/* sq_opt_out_addrs - addresses opted out of list (or any) or suppressed */
enum store_status
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
	return sq_rows_end(s, stmt, rc, "opt-outs", why, whylen);
}

/* sq_stats - the counts of store_stats() in one statement */
enum store_status
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
	return sq_rows_end(s, stmt, rc, "stats", why, whylen);
}

/*
 * sq_checkpoint - TRUNCATE checkpoint: every frame of the WAL into the
 * database file, then the WAL cut to zero bytes.  SQLITE_BUSY (after the
 * busy handler gave up) means a reader on an older snapshot, or a writer,
 * kept it from completing: the frames it needs stay in the WAL, and the
 * pages they replace, deleted rows among them, in the database file.
 */
enum store_status
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

/* sync_path - fdatasync (fsync for a directory) of path; 0 or errno */
static int
sync_path(const char *path, bool dir)
{
	int fd, rc = 0;

	if ((fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC))
	    < 0)
		return errno;
	if ((dir ? fsync(fd) : fdatasync(fd)) != 0)
		rc = errno;
	(void)close(fd);
	return rc;
}

/*
 * sq_sync - the WAL file on disk (see store_sync): a commit in WAL mode
 * with synchronous=NORMAL has written its frames to PATH-wal without
 * syncing; fdatasync(2) of that file, from any descriptor, puts them on
 * disk (and a crash recovers every commit whose frames are there).  The
 * WAL file keeps its inode while this handle is open (SQLite deletes it
 * only when the last connection closes).
 */
enum store_status
sq_sync(struct store *st, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	char wal[4096], dir[4096];
	int err;

	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", s->path) >=
	    sizeof(wal)) {
		snprintf(why, whylen, "ConsentDB %s: path too long", s->path);
		return STORE_ERROR;
	}
	if (!s->dir_synced) {
		snprintf(dir, sizeof(dir), "%s", s->path);
		if ((err = sync_path(dirname(dir), true)) != 0) {
			snprintf(why, whylen, "ConsentDB %s: fsync of its "
			    "directory: %s", s->path, strerror(err));
			return STORE_TEMPFAIL;
		}
		s->dir_synced = true;
	}
	if ((err = sync_path(wal, false)) != 0) {
		snprintf(why, whylen, "ConsentDB %s: fdatasync of %s: %s",
		    s->path, wal, strerror(err));
		return STORE_TEMPFAIL;
	}
	return STORE_OK;
}

/* sq_wal_backfill - see store_wal_backfill: PASSIVE checkpoint now
 * (SQLITE_BUSY: another connection's checkpoint runs; frames are left) */
enum store_status
sq_wal_backfill(struct store *st, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	int rc;

	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
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
enum store_status
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
enum store_status
sq_table_put(struct store *st, const struct store_table *tab,
    const char *const *vals, bool *refused_r, char *why, size_t whylen)
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
	*refused_r = (rc & 0xff) == SQLITE_CONSTRAINT;
	return table_stmt_end(s, stmt, rc, tab->name, why, whylen);
}

/* sq_table_done - nothing to do: INTEGER PRIMARY KEY continues by itself */
enum store_status
sq_table_done(struct store *st, const struct store_table *tab, char *why,
    size_t whylen)
{
	return STORE_OK;
}

/* sq_table_count - the rows of one table */
enum store_status
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

/* sq_table_lock - nothing to do: sq_begin's BEGIN IMMEDIATE waited for
 * the write lock and holds it for the whole database */
enum store_status
sq_table_lock(struct store *st, const struct store_table *tab, char *why,
    size_t whylen)
{
	(void)st;
	(void)tab;
	(void)why;
	(void)whylen;
	return STORE_OK;
}
