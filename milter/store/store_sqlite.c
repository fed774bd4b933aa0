/*
 * store_sqlite.c - the SQLite backend of the consent store (store.h,
 * store-private.h): the helpers that run its statements, transactions,
 * and the operations on one address (lookups, lists, subscriptions,
 * suppressions, the import of one row); the backend table.
 *
 * The backend is five files sharing store_sqlite.h: store_sqlite_sql.c
 * (the statement texts), store_sqlite_open.c (open, close, settings,
 * schema and migrations), this file, store_sqlite_admin.c (quarantine
 * rows, event listing, forget, checkpoint, members, stats, copy-store)
 * and store_sqlite_fb.c (feedback).
 *
 * One handle per thread (the milter opens one per connection thread);
 * connections are opened with SQLITE_OPEN_NOMUTEX and must not be shared
 * without a lock.  Every statement is prepared once per handle, on first
 * use, with bound parameters, and reset right after use so that no read
 * transaction stays open between calls.  The lookup done per recipient is
 * one statement returning both the suppression and the subscription state.
 * A database that is busy, locked, unreadable or unopenable is
 * STORE_TEMPFAIL, never "not found" (STYLE.md section 4).
 * Single changes run in BEGIN IMMEDIATE (so that waiting for the write lock
 * goes through the busy handler), or in a savepoint when the caller holds a
 * transaction from store_begin().
 */
#include "autoconf.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "store_sqlite.h"

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
enum store_status
sq_fail(struct sq *s, int rc, const char *what, char *why, size_t whylen)
{
	char more[1600];
	const char *msg;

	if (s->replaced) {
		snprintf(why, whylen, "ConsentDB %s: %s: the file was "
		    "replaced or removed while open; restart the program to "
		    "open the new one", s->path, what);
		return STORE_TEMPFAIL;
	}
	msg = s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	sq_explain(s, rc, more, sizeof(more));
	snprintf(why, whylen, "ConsentDB %s: %s: %s%s", s->path, what, msg,
	    more);
	return sq_kind(rc) == STORE_OK ? STORE_ERROR : sq_kind(rc);
}

/* How long a lookup trusts that path still names our file (ms).  A
 * lookup writes nothing, so reading the old file a moment after it was
 * replaced only answers as of a moment before; writes check every time.
 * 90: the coarse clock moves in ticks of up to 10 ms (HZ 100), so the
 * trust lasts at most 100 ms, as optin-milter.conf(5) says. */
#define SQ_LOOKUP_RECHECK_MS	90

/* sq_seen_recently - was path found naming our file less than
 * SQ_LOOKUP_RECHECK_MS ago?  CLOCK_MONOTONIC_COARSE: no system call. */
static bool
sq_seen_recently(const struct sq *s, const struct timespec *now)
{
	long long ms = (long long)(now->tv_sec - s->seen_at.tv_sec) * 1000 +
	    (now->tv_nsec - s->seen_at.tv_nsec) / 1000000;

	return s->seen_at.tv_sec != 0 && ms >= 0 && ms < SQ_LOOKUP_RECHECK_MS;
}

/*
 * sq_replaced - does path still name the file this handle opened?  A
 * database replaced (mv new.db consent.db) or removed while we run would
 * otherwise take our writes into a file nobody will read again: an
 * opt-out answered 200 and lost.  Checked at the start of every
 * transaction (and every statement outside one): one stat() each; for a
 * lookup (lookup: STMT_LOOKUP or STMT_LOOKUP2 outside a transaction, one
 * per recipient of every message) at most once per SQ_LOOKUP_RECHECK_MS,
 * as a system call is a third of a lookup's time (BENCHMARKS.md "Session
 * 10").  Once replaced, the handle stays unusable (STORE_TEMPFAIL,
 * sq_fail says why); logged once.
 */
static bool
sq_replaced(struct sq *s, bool lookup)
{
	struct timespec now;
	struct stat sb;
	bool gone;

	if (s->replaced || s->ino == 0 || !sqlite3_get_autocommit(s->db))
		return s->replaced;
	(void)clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (lookup && sq_seen_recently(s, &now))
		return false;
	gone = stat(s->path, &sb) < 0;
	if (!gone && sb.st_dev == s->dev && sb.st_ino == s->ino) {
		s->seen_at = now;
		return false;
	}
	s->replaced = true;
	log_err("ConsentDB %s was replaced or removed while open (%s): "
	    "refusing to write to the old file; restart the program", s->path,
	    gone ? strerror(errno) : "another file is there now");
	return true;
}

/* stmt_get - the prepared statement i, prepared on first use; none when
 * the file was replaced (sq_replaced) */
static int
stmt_get(struct sq *s, enum stmt i, sqlite3_stmt **stp)
{
	int rc;

	if (sq_replaced(s, i == STMT_LOOKUP || i == STMT_LOOKUP2))
		return SQLITE_CANTOPEN;
	if (s->stmt[i] == NULL) {
		rc = sqlite3_prepare_v3(s->db, sq_stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	*stp = s->stmt[i];
	return SQLITE_OK;
}

/* stmt_done - reset a statement after use and drop its bindings */
void
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
int
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
int
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

/* sq_rows_end - after a loop over the rows of stmt ended with rc: reset it;
 * STORE_OK when the loop saw every row (or stopped on purpose with rc set
 * to SQLITE_DONE), else the failure named what */
enum store_status
sq_rows_end(struct sq *s, sqlite3_stmt *stmt, int rc, const char *what,
    char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;

	if (rc != SQLITE_DONE)
		rs = sq_fail(s, rc, what, why, whylen);
	stmt_done(stmt);
	return rs;
}

/* sq_bad_row - reset stmt after a row of table that breaks the schema */
enum store_status
sq_bad_row(struct sq *s, sqlite3_stmt *stmt, const char *table, char *why,
    size_t whylen)
{
	snprintf(why, whylen, "ConsentDB %s: bad row in %s", s->path, table);
	stmt_done(stmt);
	return STORE_ERROR;
}

/* sq_run - run the parameterless statement i to completion */
enum store_status
sq_run(struct sq *s, enum stmt i, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_get(s, i, &stmt)) != SQLITE_OK)
		return sq_fail(s, rc, sq_stmt_sql[i], why, whylen);
	rc = sqlite3_step(stmt);
	stmt_done(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sq_fail(s, rc, sq_stmt_sql[i], why, whylen);
	return STORE_OK;
}

/*
 * sq_tx_enter - make the following changes atomic: BEGIN IMMEDIATE when no
 * transaction is open (*own_r true), else a savepoint inside the caller's.
 */
enum store_status
sq_tx_enter(struct sq *s, bool *own_r, char *why, size_t whylen)
{
	if (s->undo_failed && sq_undo(s, why, whylen) != STORE_OK)
		return STORE_TEMPFAIL;
	*own_r = sqlite3_get_autocommit(s->db) != 0;
	return sq_run(s, *own_r ? STMT_BEGIN : STMT_SAVEPOINT, why, whylen);
}

/*
 * sq_tx_leave - commit (ok) or undo what sq_tx_enter began.  After an error
 * SQLite may have rolled the whole transaction back already; then there is
 * nothing left to undo.
 */
enum store_status
sq_tx_leave(struct sq *s, bool own, bool ok, char *why, size_t whylen)
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
		(void)sq_undo(s, why, 0);
	else {
		(void)sq_run(s, STMT_ROLLBACK_TO, why, 0);
		(void)sq_run(s, STMT_RELEASE, why, 0);
	}
	return st;
}

/*
 * lookup_run - suppression and subscription state in one statement:
 * STMT_LOOKUP, or STMT_LOOKUP2, which also checks the suppression of
 * addr_hash, or STMT_OPTOUT, which also tells whether addr_hash is
 * suppressed (*erased_r) and the list's name (name_r, namelen bytes, ""
 * when none); erased_r and name_r only for STMT_OPTOUT
 */
static enum store_status
lookup_run(struct sq *s, enum stmt i, const char *addr, const char *list,
    const char *addr_hash, struct consent_row *row_r, bool *erased_r,
    char *name_r, size_t namelen, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	const char *word;
	enum store_status rs = STORE_OK;
	int rc;

	if ((rc = stmt_start(s, i, &stmt, i != STMT_LOOKUP ? "ttt" : "tt",
	    addr, list, addr_hash)) != SQLITE_OK)
		return sq_fail(s, rc, "lookup", why, whylen);
	if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
		rs = sq_fail(s, rc, "lookup", why, whylen);
	else {
		if (i == STMT_OPTOUT) {
			*erased_r = sqlite3_column_int(stmt, 2) != 0;
			word = (const char *)sqlite3_column_text(stmt, 3);
			snprintf(name_r, namelen, "%s", word != NULL ? word :
			    "");
		}
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
	    row_r, NULL, NULL, 0, why, whylen);
}

/* sq_begin - BEGIN IMMEDIATE: take the write lock now, waiting as long as
 * the busy timeout allows */
static enum store_status
sq_begin(struct store *st, char *why, size_t whylen)
{
	return sq_run((struct sq *)st, STMT_BEGIN, why, whylen);
}

/* sq_commit - COMMIT; on failure roll back so the handle stays usable
 * (sq_undo: a ROLLBACK that fails too is logged, and later changes
 * tempfail until one works) */
static enum store_status
sq_commit(struct store *st, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	enum store_status rs;

	rs = sq_run(s, STMT_COMMIT, why, whylen);
	if (rs != STORE_OK)
		(void)sq_undo(s, why, 0);
	return rs;
}

/* sq_rollback - ROLLBACK, if a transaction is open */
static void
sq_rollback(struct store *st)
{
	char why[1];

	(void)sq_undo((struct sq *)st, why, 0);
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
	return sq_rows_end(s, stmt, rc, "list ls", why, whylen);
}

/* event_add - append one consent_events row (inside the caller's
 * transaction or savepoint); user_agent defaults to the handle's agent */
int
event_add(struct sq *s, const char *addr, const char *list,
    const char *event, const char *evidence, const struct consent_event *ev)
{
	return stmt_exec(s, STMT_EVENT_ADD, "tttttttl", addr, list, event,
	    ev != NULL ? ev->source : NULL, evidence,
	    ev != NULL ? ev->remote_addr : NULL,
	    ev != NULL && ev->user_agent != NULL ? ev->user_agent :
	    s->base.agent, (sqlite3_int64)time(NULL));
}

/* sub_event - append the event of the subscription (addr, list) set to
 * status word (ev->event and ev->evidence when given) */
static enum store_status
sub_event(struct sq *s, const char *addr, const char *list,
    const char *word, const struct consent_event *ev, char *why,
    size_t whylen)
{
	int rc;

	rc = event_add(s, addr, list, ev != NULL && ev->event != NULL ?
	    ev->event : word, ev != NULL ? ev->evidence : NULL, ev);
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "consent event", why, whylen);
	return STORE_OK;
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
	return sub_event(s, addr, list, word, ev, why, whylen);
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
	if ((rs = sq_tx_enter(s, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rs = list_get(s, list, NULL, NULL, 0, why, whylen)) == STORE_OK)
		rs = sub_write(s, addr, list, word, ev, "set status", why,
		    whylen);
	lrs = sq_tx_leave(s, own, rs == STORE_OK, why, whylen);
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
	if ((rs = sq_tx_enter(s, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rc = stmt_exec(s, STMT_SUPPRESS, "ttl", addr, reason,
	    (sqlite3_int64)time(NULL))) != SQLITE_OK)
		rs = sq_fail(s, rc, "suppress", why, whylen);
	else if ((rc = event_add(s, addr, NULL, ev != NULL &&
	    ev->event != NULL ? ev->event : "suppressed", ev != NULL &&
	    ev->evidence != NULL ? ev->evidence : evidence, ev)) != SQLITE_OK)
		rs = sq_fail(s, rc, "consent event", why, whylen);
	lrs = sq_tx_leave(s, own, rs == STORE_OK, why, whylen);
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
			return sq_bad_row(s, stmt, "subscriptions", why, whylen);
		sub.source = (const char *)sqlite3_column_text(stmt, 2);
		sub.updated_at = (time_t)sqlite3_column_int64(stmt, 3);
		if (fn(&sub, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return sq_rows_end(s, stmt, rc, "subscriptions", why, whylen);
}

/* sq_lookup2 - sq_lookup, also checking the suppression of addr_hash */
static enum store_status
sq_lookup2(struct store *st, const char *addr, const char *addr_hash,
    const char *list, struct consent_row *row_r, char *why, size_t whylen)
{
	return lookup_run((struct sq *)st, STMT_LOOKUP2, addr, list,
	    addr_hash, row_r, NULL, NULL, 0, why, whylen);
}

/* sq_optout_state - sq_lookup, erased? and the list's name at once */
static enum store_status
sq_optout_state(struct store *st, const char *addr, const char *form,
    const char *list, struct consent_row *row_r, bool *erased_r,
    char *name_r, size_t namelen, char *why, size_t whylen)
{
	return lookup_run((struct sq *)st, STMT_OPTOUT, addr, list, form,
	    row_r, erased_r, name_r, namelen, why, whylen);
}

/* sq_begin_read - BEGIN (deferred): a read snapshot, no write lock */
static enum store_status
sq_begin_read(struct store *st, char *why, size_t whylen)
{
	return sq_run((struct sq *)st, STMT_BEGIN_READ, why, whylen);
}

/*
 * import_add - sq_import_set's guess that the row is new: insert it unless
 * it exists.  SQLITE_OK with *added_r; the event is the caller's.
 */
static int
import_add(struct sq *s, const char *addr, const char *list,
    const char *word, const struct consent_event *ev, bool *added_r)
{
	int rc;

	rc = stmt_exec(s, STMT_SUB_ADD, "ttttl", addr, list, word,
	    ev != NULL ? ev->source : NULL, (sqlite3_int64)time(NULL));
	*added_r = rc == SQLITE_OK && sqlite3_changes(s->db) == 1;
	return rc;
}

/*
 * sq_import_set - one row of a bulk import: read the state, and write the
 * subscription plus its event only when it changes (so that importing the
 * same file again writes nothing).  Runs in the caller's transaction.
 * A row that does not exist is always written (store_import_keeps), so
 * while the rows are new (the last one was: a first import, or the new
 * part of a file) the insert comes first and the read only when the row
 * was there after all: one statement less per new row (BENCHMARKS.md).
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
	bool added;
	int rc;

	*changed_r = false;
	if ((word = store_status_settable(status, why, whylen)) == NULL)
		return STORE_ERROR;
	if (s->import_new && (flags & STORE_IMPORT_DRY_RUN) == 0) {
		if ((rc = import_add(s, addr, list, word, ev, &added)) !=
		    SQLITE_OK)
			return sq_fail(s, rc, "import", why, whylen);
		if (added) {
			*old_r = SUB_NONE;
			if (old_at_r != NULL)
				*old_at_r = 0;
			*changed_r = true;
			return sub_event(s, addr, list, word, ev, why, whylen);
		}
	}
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
	s->import_new = *old_r == SUB_NONE;
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
enum store_status
sq_count(struct sq *s, enum stmt i, const char *arg, long long *n_r,
    char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = stmt_start(s, i, &stmt, "t", arg)) != SQLITE_OK)
		return sq_fail(s, rc, sq_stmt_sql[i], why, whylen);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*n_r = sqlite3_column_int64(stmt, 0);
	stmt_done(stmt);
	if (rc != SQLITE_ROW)
		return sq_fail(s, rc, sq_stmt_sql[i], why, whylen);
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

/* sq_suppression_prefix - is there a suppression whose address starts
 * with prefix? */
static enum store_status
sq_suppression_prefix(struct store *st, const char *prefix, bool *yes_r,
    char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	char upper[32];
	size_t len = strlen(prefix);
	int rc;

	/* [prefix, prefix with its last octet + 1): every string that
	 * starts with prefix, in memcmp order (BINARY collation) */
	if (len == 0 || len >= sizeof(upper) ||
	    (unsigned char)prefix[len - 1] == 0xff) {
		snprintf(why, whylen, "suppression prefix: bad prefix");
		return STORE_ERROR;
	}
	memcpy(upper, prefix, len + 1);
	upper[len - 1] = (char)((unsigned char)upper[len - 1] + 1);
	if ((rc = stmt_start(s, STMT_SUPP_PREFIX, &stmt, "tt", prefix,
	    upper)) != SQLITE_OK)
		return sq_fail(s, rc, "suppression prefix", why, whylen);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*yes_r = sqlite3_column_int(stmt, 0) != 0;
	stmt_done(stmt);
	if (rc != SQLITE_ROW)
		return sq_fail(s, rc, "suppression prefix", why, whylen);
	return STORE_OK;
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
int
sq_delete(struct sq *s, enum stmt i, const char *addr, long long *n_r)
{
	int rc;

	if ((rc = stmt_exec(s, i, "t", addr)) != SQLITE_OK)
		return rc;
	*n_r = sqlite3_changes(s->db);
	return SQLITE_OK;
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

	if ((rs = sq_tx_enter(s, &own, why, whylen)) != STORE_OK)
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
	lrs = sq_tx_leave(s, own, rs == STORE_OK, why, whylen);
	return rs != STORE_OK ? rs : lrs;
}

struct sqlite3 *
store_sqlite_db(struct store *st)
{
	return ((struct sq *)st)->db;
}

bool
store_sqlite_replaced(struct store *st, sqlite3_stmt *stmt)
{
	return sq_replaced((struct sq *)st, sqlite3_stmt_readonly(stmt) != 0);
}

enum store_status
store_sqlite_fail(struct store *st, int rc, const char *what, char *why,
    size_t whylen)
{
	return sq_fail((struct sq *)st, rc, what, why, whylen);
}

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.exists = sq_exists,
	.access = sq_access,
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
	.optout_state = sq_optout_state,
	.suppression_prefix = sq_suppression_prefix,
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
	.sync = sq_sync,
	.wal_backfill = sq_wal_backfill,
	.table_rows = sq_table_rows,
	.table_put = sq_table_put,
	.table_done = sq_table_done,
	.table_count = sq_table_count,
	.table_lock = sq_table_lock,
	.feedback_add = sqfb_feedback_add,
	.feedback_count = sqfb_feedback_count,
	.feedback_stats = sqfb_feedback_stats,
	.feedback_ls = sqfb_feedback_ls,
	.sent_add = sqfb_sent_add,
	.campaign_pause = sqfb_campaign_pause,
	.campaign_paused = sqfb_campaign_paused,
	.campaign_resume = sqfb_campaign_resume,
	.campaign_ls = sqfb_campaign_ls,
	.handover_claim = sqho_handover_claim,
	.handover_set = sqho_handover_set,
	.handover_purge = sqho_handover_purge,
	.group_reads = true,
};

