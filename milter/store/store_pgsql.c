/*
 * store_pgsql.c - the PostgreSQL backend of the consent store (store.h,
 * store-private.h): its operations on the mail and one-click paths.  The
 * connection, the statement texts and transactions are in
 * store_pgsql_conn.c (store_pgsql.h); the quarantine rows and optinctl's
 * whole-database operations in store_pgsql_admin.c, feedback in
 * store_pgsql_fb.c, the split hand-over in store_pgsql_handover.c.
 *
 * One connection per handle, used by one thread at a time (the milter's
 * pool gives each connection thread its own handle).  Every statement that
 * touches data is a prepared statement with bound parameters.  Results are
 * read whole, so a callback may take its time.  Single changes run in a
 * transaction of their own, or in a savepoint inside the caller's (a
 * failed statement aborts a whole PostgreSQL transaction); a change that
 * is one statement (store_set_status) needs no savepoint.
 *
 * Concurrency: SQLite has one writer at a time (BEGIN IMMEDIATE); here
 * writers run at once under READ COMMITTED and every write is an upsert
 * (ON CONFLICT) or an insert, so two relays recording the same opt-out
 * both succeed and the row ends in one state.  An import reads the row it
 * may change with FOR UPDATE.  store_begin_read() is REPEATABLE READ: one
 * snapshot for a long read.
 *
 * The milter looks all recipients of a message up in one round trip
 * (store_lookup_set: P_LOOKUP_SET, the addresses as a text[] parameter).
 * XXX erasure: PostgreSQL keeps deleted row versions until VACUUM, and its
 * WAL; store_forget deletes the rows but has nothing like secure_delete.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pgsql.h"

/* pgsql_lookup_row - see store_pgsql.h */
enum store_status
pgsql_lookup_row(struct pg *p, const PGresult *res, int r,
    struct consent_row *row_r, bool *erased_r, char *name_r, size_t namelen,
    char *why, size_t whylen)
{
	const char *word;

	if (erased_r != NULL) {
		*erased_r = pgsql_col_bool(res, r, 2);
		word = pgsql_col(res, r, 3);
		snprintf(name_r, namelen, "%s", word != NULL ? word : "");
	}
	row_r->suppressed = pgsql_col_bool(res, r, 0);
	row_r->status = SUB_NONE;
	word = pgsql_col(res, r, 1);
	if (word != NULL && (row_r->status = store_status_parse(word)) ==
	    SUB_NONE) {
		snprintf(why, whylen, "ConsentDB %s: bad status in "
		    "subscriptions", p->name);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* lookup_run - suppression and subscription state in one statement:
 * P_LOOKUP, P_LOOKUP2 (also the suppression of addr_hash) or P_OPTOUT
 * (also whether addr_hash is suppressed, *erased_r, and the list's name
 * into name_r, namelen bytes, "" when none; erased_r and name_r only for
 * P_OPTOUT) */
static enum store_status
lookup_run(struct pg *p, enum pgsql_stmt i, const char *addr, const char *list,
    const char *addr_hash, struct consent_row *row_r, bool *erased_r,
    char *name_r, size_t namelen, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;

	res = i != P_LOOKUP ? pgsql_exec(p, i, "lookup", &rs, why, whylen,
	    "ttt", addr, list, addr_hash) : pgsql_exec(p, i, "lookup", &rs, why,
	    whylen, "tt", addr, list);
	if (res == NULL)
		return rs;
	rs = pgsql_lookup_row(p, res, 0, row_r, i == P_OPTOUT ? erased_r :
	    NULL, name_r, namelen, why, whylen);
	PQclear(res);
	return rs;
}

/* pg_lookup - suppression and subscription state of (addr, list) */
static enum store_status
pg_lookup(struct store *st, const char *addr, const char *list,
    struct consent_row *row_r, char *why, size_t whylen)
{
	return lookup_run((struct pg *)st, P_LOOKUP, addr, list, NULL, row_r,
	    NULL, NULL, 0, why, whylen);
}

/* pg_lookup2 - pg_lookup, also checking the suppression of addr_hash */
static enum store_status
pg_lookup2(struct store *st, const char *addr, const char *addr_hash,
    const char *list, struct consent_row *row_r, char *why, size_t whylen)
{
	return lookup_run((struct pg *)st, P_LOOKUP2, addr, list, addr_hash,
	    row_r, NULL, NULL, 0, why, whylen);
}

/* pg_optout_state - pg_lookup, erased? and the list's name at once */
static enum store_status
pg_optout_state(struct store *st, const char *addr, const char *form,
    const char *list, struct consent_row *row_r, bool *erased_r,
    char *name_r, size_t namelen, char *why, size_t whylen)
{
	return lookup_run((struct pg *)st, P_OPTOUT, addr, list, form, row_r,
	    erased_r, name_r, namelen, why, whylen);
}

/* array_make - the PostgreSQL array literal of the n strings of v: each
 * element quoted with '\\' and '"' escaped, NULL for a NULL string;
 * malloc'd, NULL when out of memory */
static char *
array_make(const char *const *v, size_t n)
{
	size_t len = 3, k = 0, i;
	const char *s;
	char *buf;

	for (i = 0; i < n; i++)
		len += v[i] != NULL ? 2 * strlen(v[i]) + 3 : 5;
	if ((buf = malloc(len)) == NULL)
		return NULL;
	buf[k++] = '{';
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf[k++] = ',';
		if (v[i] == NULL) {
			memcpy(buf + k, "NULL", 4);
			k += 4;
			continue;
		}
		buf[k++] = '"';
		for (s = v[i]; *s != '\0'; s++) {
			if (*s == '\\' || *s == '"')
				buf[k++] = '\\';
			buf[k++] = *s;
		}
		buf[k++] = '"';
	}
	buf[k++] = '}';
	buf[k] = '\0';
	assert(k < len);
	return buf;
}

/* pg_lookup_set - pg_lookup2 of n addresses in one statement */
static enum store_status
pg_lookup_set(struct store *st, const char *const *addrs,
    const char *const *forms, size_t n, const char *list,
    struct consent_row *rows_r, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs = STORE_OK;
	char *a = NULL, *f = NULL;
	PGresult *res;
	size_t i;

	if ((a = array_make(addrs, n)) == NULL ||
	    (f = array_make(forms, n)) == NULL) {
		snprintf(why, whylen, "ConsentDB %s: lookup: out of memory",
		    p->name);
		rs = STORE_TEMPFAIL;
		goto out;
	}
	if ((res = pgsql_exec(p, P_LOOKUP_SET, "lookup", &rs, why, whylen,
	    "ttt", a, f, list)) == NULL)
		goto out;
	if ((size_t)PQntuples(res) != n) {
		snprintf(why, whylen, "ConsentDB %s: lookup of %zu addresses "
		    "gave %d rows", p->name, n, PQntuples(res));
		rs = STORE_ERROR;
	}
	for (i = 0; rs == STORE_OK && i < n; i++)
		rs = pgsql_lookup_row(p, res, (int)i, &rows_r[i], NULL, NULL, 0,
		    why, whylen);
	PQclear(res);
out:
	free(a);
	free(f);
	return rs;
}

/* pg_begin - a read-write transaction (READ COMMITTED: writes upsert) */
static enum store_status
pg_begin(struct store *st, char *why, size_t whylen)
{
	return pgsql_begin((struct pg *)st, "BEGIN", why, whylen);
}

/*
 * The lock between an erasure and a write decided on what was read
 * (store_begin_change): ROW EXCLUSIVE, what any write of subscriptions
 * takes anyway, but taken before the reads; pg_forget takes SHARE ROW
 * EXCLUSIVE, which conflicts with it and with itself.  So an erasure
 * waits for the batches under way, and a batch that begins during an
 * erasure waits for it and then reads what it left.  Nothing else waits:
 * readers take ACCESS SHARE, and writers' ROW EXCLUSIVE do not conflict.
 */
static const char lock_change[] =
    "LOCK TABLE subscriptions IN ROW EXCLUSIVE MODE";
static const char lock_forget[] =
    "LOCK TABLE subscriptions IN SHARE ROW EXCLUSIVE MODE";

/* lock_run - one of the LOCK statements above */
static enum store_status
lock_run(struct pg *p, const char *sql, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;

	if ((res = pgsql_exec_sql(p, -1, "", sql, 0, NULL, "lock", &rs, why,
	    whylen)) == NULL)
		return rs;
	PQclear(res);
	return STORE_OK;
}

/* pg_begin_change - BEGIN and lock_change (store_begin_change) */
static enum store_status
pg_begin_change(struct store *st, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs;
	char ignore[1];

	if ((rs = pgsql_begin(p, "BEGIN", why, whylen)) != STORE_OK)
		return rs;
	if ((rs = lock_run(p, lock_change, why, whylen)) != STORE_OK)
		(void)pgsql_end(p, false, ignore, sizeof(ignore));
	return rs;
}

/* pg_begin_read - one snapshot for a long read (REPEATABLE READ) */
static enum store_status
pg_begin_read(struct store *st, char *why, size_t whylen)
{
	return pgsql_begin((struct pg *)st,
	    "BEGIN ISOLATION LEVEL REPEATABLE READ", why, whylen);
}

/* pg_commit - COMMIT; on failure roll back so the handle stays usable */
static enum store_status
pg_commit(struct store *st, char *why, size_t whylen)
{
	return pgsql_end((struct pg *)st, true, why, whylen);
}

/* pg_rollback - ROLLBACK, if a transaction is open */
static void
pg_rollback(struct store *st)
{
	char why[1];

	(void)pgsql_end((struct pg *)st, false, why, 0);
}

/* list_get - does list exist, is it double opt-in, and its name */
static enum store_status
list_get(struct pg *p, const char *list, bool *double_opt_in_r,
    char *name_r, size_t namelen, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;
	const char *n;

	if ((res = pgsql_exec(p, P_LIST_GET, "list", &rs, why, whylen, "t",
	    list)) == NULL)
		return rs;
	if (PQntuples(res) == 0) {
		snprintf(why, whylen, "no such list '%s'", list);
		rs = STORE_NOTFOUND;
	} else {
		if (double_opt_in_r != NULL)
			*double_opt_in_r = pgsql_col_bool(res, 0, 0);
		if (name_r != NULL) {
			n = pgsql_col(res, 0, 1);
			snprintf(name_r, namelen, "%s", n != NULL ? n : "");
		}
	}
	PQclear(res);
	return rs;
}

/* pg_list_exists - STORE_OK or STORE_NOTFOUND */
static enum store_status
pg_list_exists(struct store *st, const char *list, bool *double_opt_in_r,
    char *why, size_t whylen)
{
	return list_get((struct pg *)st, list, double_opt_in_r, NULL, 0, why,
	    whylen);
}

/* pg_list_name - the display name of one list */
static enum store_status
pg_list_name(struct store *st, const char *list, char *name_r,
    size_t namelen, char *why, size_t whylen)
{
	return list_get((struct pg *)st, list, NULL, name_r, namelen, why,
	    whylen);
}

/* pg_list_add - insert a list; an existing one is STORE_ERROR (ON
 * CONFLICT, so that a caller's transaction is not aborted) */
static enum store_status
pg_list_add(struct store *st, const char *list, const char *name,
    bool double_opt_in, char *why, size_t whylen)
{
	enum store_status rs;
	long long n = 0;

	rs = pgsql_run((struct pg *)st, P_LIST_ADD, "list add", &n, why, whylen,
	    "ttil", list, name, double_opt_in ? 1 : 0, (long long)time(NULL));
	if (rs == STORE_OK && n == 0) {
		snprintf(why, whylen, "list '%s' exists", list);
		rs = STORE_ERROR;
	}
	return rs;
}

/* pg_list_ls - every list with its subscription counts */
static enum store_status
pg_list_ls(struct store *st, store_list_fn *fn, void *ctx, char *why,
    size_t whylen)
{
	enum store_status rs = STORE_OK;
	struct store_list l;
	PGresult *res;
	int r;

	if ((res = pgsql_exec((struct pg *)st, P_LIST_LS, "list ls", &rs, why,
	    whylen, "")) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		l.list = pgsql_col(res, r, 0);
		l.name = pgsql_col(res, r, 1);
		l.double_opt_in = pgsql_col_bool(res, r, 2);
		l.created_at = (time_t)pgsql_col_ll(res, r, 3);
		l.opted_in = pgsql_col_ll(res, r, 4);
		l.pending = pgsql_col_ll(res, r, 5);
		l.opted_out = pgsql_col_ll(res, r, 6);
		if (fn(&l, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

/* event_add - append one consent_events row */
static enum store_status
event_add(struct pg *p, const char *addr, const char *list,
    const char *event, const char *evidence, const struct consent_event *ev,
    char *why, size_t whylen)
{
	return pgsql_run(p, P_EVENT_ADD, "consent event", NULL, why, whylen,
	    "tttttttl", addr, list, event, ev != NULL ? ev->source : NULL,
	    evidence, ev != NULL ? ev->remote_addr : NULL,
	    ev != NULL && ev->user_agent != NULL ? ev->user_agent :
	    p->base.agent, (long long)time(NULL));
}

/* pg_event_add - append one event, no state change */
static enum store_status
pg_event_add(struct store *st, const struct consent_event *ev, char *why,
    size_t whylen)
{
	return event_add((struct pg *)st, ev->addr, ev->list, ev->event,
	    ev->evidence, ev, why, whylen);
}

/* pg_unsuppress - delete the suppression of key and append the event */
static enum store_status
pg_unsuppress(struct store *st, const char *key,
    const struct consent_event *ev, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs, lrs;
	long long n = 0;
	bool own;

	if ((rs = pgsql_tx_enter(p, &own, why, whylen)) != STORE_OK)
		return rs;
	rs = pgsql_run(p, P_DEL_SUPP, "unsuppress", &n, why, whylen, "t",
	    key);
	if (rs == STORE_OK && n == 0) {
		snprintf(why, whylen, "no suppression to lift");
		rs = STORE_NOTFOUND;
	} else if (rs == STORE_OK)
		rs = event_add(p, ev != NULL && ev->addr != NULL ? ev->addr :
		    key, NULL, ev != NULL && ev->event != NULL ? ev->event :
		    "unsuppressed", ev != NULL ? ev->evidence : NULL, ev, why,
		    whylen);
	lrs = pgsql_tx_leave(p, own, rs == STORE_OK, why, whylen);
	return rs != STORE_OK ? rs : lrs;
}

/*
 * pg_checkpoint - nothing the server lets a client force: deleted row
 * versions stay in the table files until VACUUM and in the server's WAL
 * until it recycles its segments.  XXX: erasure on PostgreSQL relies on
 * the server's own VACUUM (autovacuum) and WAL retention; documented in
 * optinctl(8).
 */
static enum store_status
pg_checkpoint(struct store *st, char *why, size_t whylen)
{
	return STORE_OK;
}

/*
 * pg_sync - see store_sync: a transaction with a transaction id of its own
 * (txid_current() assigns one, so its commit writes a commit record) under
 * synchronous_commit on: its commit returns once the server has flushed
 * its WAL up to that record, and so every commit of any session (the
 * writer's, synchronous_commit off) that returned before it.
 */
static enum store_status
pg_sync(struct store *st, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs;
	PGresult *res;

	if (p->in_tx) {
		snprintf(why, whylen, "ConsentDB %s: sync inside a transaction",
		    p->name);
		return STORE_ERROR;
	}
	if ((res = pgsql_exec_sql(p, -1, "", "SELECT pg_catalog.txid_current()",
	    0, NULL, "sync", &rs, why, whylen)) == NULL)
		return rs;
	PQclear(res);
	return STORE_OK;
}

/* sub_write - upsert (addr, list) to status word and append its event */
static enum store_status
sub_write(struct pg *p, const char *addr, const char *list,
    const char *word, const struct consent_event *ev, const char *what,
    char *why, size_t whylen)
{
	enum store_status rs;

	if ((rs = pgsql_run(p, P_SUB_SET, what, NULL, why, whylen, "ttttl", addr,
	    list, word, ev != NULL ? ev->source : NULL,
	    (long long)time(NULL))) != STORE_OK)
		return rs;
	return event_add(p, addr, list, ev != NULL && ev->event != NULL ?
	    ev->event : word, ev != NULL ? ev->evidence : NULL, ev, why,
	    whylen);
}

/* pgsql_sub_set_vals - see store_pgsql.h */
void
pgsql_sub_set_vals(const struct pg *p, const char *addr, const char *list,
    const char *word, const struct consent_event *ev,
    char now[PGSQL_NUM_MAX], const char *vals[PGSQL_SUB_SET_NPARAM])
{
	snprintf(now, PGSQL_NUM_MAX, "%lld", (long long)time(NULL));
	vals[0] = addr;
	vals[1] = list;
	vals[2] = word;
	vals[3] = ev != NULL ? ev->source : NULL;
	vals[4] = ev != NULL && ev->event != NULL ? ev->event : word;
	vals[5] = ev != NULL ? ev->evidence : NULL;
	vals[6] = ev != NULL ? ev->remote_addr : NULL;
	vals[7] = ev != NULL && ev->user_agent != NULL ? ev->user_agent :
	    p->base.agent;
	vals[8] = now;
}

/* pgsql_sub_set_result - see store_pgsql.h */
enum store_status
pgsql_sub_set_result(const PGresult *res, int r, const char *list, char *why,
    size_t whylen)
{
	if (pgsql_col_ll(res, r, 0) != 0)
		return STORE_OK;
	snprintf(why, whylen, "no such list '%s'", list);
	return STORE_NOTFOUND;
}

/*
 * pg_set_status - upsert the subscription and its event in one statement
 * (P_SUB_SET_LISTED: one round trip, where a savepoint, the list check,
 * the upsert, the event and the release took five inside optin-unsubd's
 * batch).  One statement is atomic by itself: no savepoint inside the
 * caller's transaction, whose every user rolls it back on an error (on
 * PostgreSQL the error has aborted it); outside one, a transaction of its
 * own, so that a lost connection never runs the write twice.
 */
static enum store_status
pg_set_status(struct store *st, const char *addr, const char *list,
    enum sub_status status, const struct consent_event *ev, char *why,
    size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs, lrs;
	const char *vals[PGSQL_SUB_SET_NPARAM], *word;
	char now[PGSQL_NUM_MAX];
	PGresult *res;
	bool own = !p->in_tx;

	if ((word = store_status_settable(status, why, whylen)) == NULL)
		return STORE_ERROR;
	if (own && (rs = pgsql_begin(p, "BEGIN", why, whylen)) != STORE_OK)
		return rs;
	rs = STORE_OK;
	pgsql_sub_set_vals(p, addr, list, word, ev, now, vals);
	if ((res = pgsql_exec_sql(p, P_SUB_SET_LISTED,
	    pgsql_stmts[P_SUB_SET_LISTED].name,
	    pgsql_stmts[P_SUB_SET_LISTED].sql, PGSQL_SUB_SET_NPARAM, vals,
	    "set status", &rs, why, whylen)) != NULL) {
		rs = pgsql_sub_set_result(res, 0, list, why, whylen);
		PQclear(res);
	}
	if (!own)
		return rs;
	lrs = pgsql_end(p, rs == STORE_OK, why, whylen);
	return rs != STORE_OK ? rs : lrs;
}

/* pg_suppress - add a global suppression (first reason kept), an event */
static enum store_status
pg_suppress(struct store *st, const char *addr, const char *reason,
    const struct consent_event *ev, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	char evidence[64];
	enum store_status rs, lrs;
	bool own;

	if (!store_reason_check(reason, why, whylen))
		return STORE_ERROR;
	snprintf(evidence, sizeof(evidence), "reason=%s", reason);
	if ((rs = pgsql_tx_enter(p, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rs = pgsql_run(p, P_SUPPRESS, "suppress", NULL, why, whylen, "ttl",
	    addr, reason, (long long)time(NULL))) == STORE_OK)
		rs = event_add(p, addr, NULL, ev != NULL && ev->event != NULL ?
		    ev->event : "suppressed", ev != NULL &&
		    ev->evidence != NULL ? ev->evidence : evidence, ev, why,
		    whylen);
	lrs = pgsql_tx_leave(p, own, rs == STORE_OK, why, whylen);
	return rs != STORE_OK ? rs : lrs;
}

/* pg_suppression - the suppression row of addr, if any */
static enum store_status
pg_suppression(struct store *st, const char *addr, char *reason_r,
    size_t reasonlen, time_t *created_at_r, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;
	const char *reason;

	if ((res = pgsql_exec((struct pg *)st, P_SUPPRESSION, "suppression", &rs,
	    why, whylen, "t", addr)) == NULL)
		return rs;
	if (PQntuples(res) == 0)
		rs = STORE_NOTFOUND;
	else {
		reason = pgsql_col(res, 0, 0);
		if (reason_r != NULL && reasonlen > 0)
			snprintf(reason_r, reasonlen, "%s",
			    reason != NULL ? reason : "");
		if (created_at_r != NULL)
			*created_at_r = (time_t)pgsql_col_ll(res, 0, 1);
	}
	PQclear(res);
	return rs;
}

/* bad_row - a row that breaks the schema */
static enum store_status
bad_row(struct pg *p, PGresult *res, const char *table, char *why,
    size_t whylen)
{
	snprintf(why, whylen, "ConsentDB %s: bad row in %s", p->name, table);
	PQclear(res);
	return STORE_ERROR;
}

/* pg_subscriptions - every subscription row of addr */
static enum store_status
pg_subscriptions(struct store *st, const char *addr, store_sub_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs = STORE_OK;
	struct store_sub sub;
	PGresult *res;
	int r;

	if ((res = pgsql_exec(p, P_SUBS, "subscriptions", &rs, why, whylen, "t",
	    addr)) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		sub.list = pgsql_col(res, r, 0);
		sub.status = store_status_parse(pgsql_col(res, r, 1));
		if (sub.list == NULL || sub.status == SUB_NONE)
			return bad_row(p, res, "subscriptions", why, whylen);
		sub.source = pgsql_col(res, r, 2);
		sub.updated_at = (time_t)pgsql_col_ll(res, r, 3);
		if (fn(&sub, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

/* pg_import_set - one row of a bulk import (store.h); the row is read
 * FOR UPDATE so that its check and its change see the same state */
static enum store_status
pg_import_set(struct store *st, const char *addr, const char *list,
    enum sub_status status, unsigned flags, time_t consented_at,
    const struct consent_event *ev, enum sub_status *old_r,
    time_t *old_at_r, bool *changed_r, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs = STORE_OK;
	PGresult *res;
	const char *word;
	time_t old_at = 0;

	*changed_r = false;
	if ((word = store_status_settable(status, why, whylen)) == NULL)
		return STORE_ERROR;
	/* a dry run (a read-only handle) reads without the row lock, which
	 * a read-only transaction refuses */
	if ((res = pgsql_exec(p, (flags & STORE_IMPORT_DRY_RUN) != 0 ?
	    P_SUB_PEEK : P_SUB_GET, "import", &rs, why, whylen, "tt", addr,
	    list)) == NULL)
		return rs;
	*old_r = SUB_NONE;
	if (PQntuples(res) > 0) {
		if ((*old_r = store_status_parse(pgsql_col(res, 0, 0))) == SUB_NONE)
			return bad_row(p, res, "subscriptions", why, whylen);
		old_at = (time_t)pgsql_col_ll(res, 0, 1);
	}
	PQclear(res);
	if (old_at_r != NULL)
		*old_at_r = old_at;
	if (store_import_keeps(*old_r, old_at, status, flags, consented_at))
		return STORE_OK;
	*changed_r = true;
	if ((flags & STORE_IMPORT_DRY_RUN) != 0)
		return STORE_OK;
	return sub_write(p, addr, list, word, ev, "import", why, whylen);
}

/* pg_count - statement i with one text parameter; its first column */
static enum store_status
pg_count(struct pg *p, enum pgsql_stmt i, const char *arg, long long *n_r,
    char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;

	if ((res = pgsql_exec(p, i, pgsql_stmts[i].name, &rs, why, whylen, "t", arg))
	    == NULL)
		return rs;
	*n_r = pgsql_col_ll(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

/* pg_suppression_count - suppressions with one reason */
static enum store_status
pg_suppression_count(struct store *st, const char *reason, long long *n_r,
    char *why, size_t whylen)
{
	return pg_count((struct pg *)st, P_SUPP_COUNT, reason, n_r, why,
	    whylen);
}

/* pg_suppression_prefix - is there a suppression whose address starts
 * with prefix?  The range [prefix, prefix with its last octet + 1), as
 * the SQLite engine does. */
static enum store_status
pg_suppression_prefix(struct store *st, const char *prefix, bool *yes_r,
    char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	char upper[32];
	size_t len = strlen(prefix);
	PGresult *res;
	enum store_status rs;

	if (len == 0 || len >= sizeof(upper) ||
	    (unsigned char)prefix[len - 1] >= 0x7f) {
		snprintf(why, whylen, "suppression prefix: bad prefix");
		return STORE_ERROR;
	}
	memcpy(upper, prefix, len + 1);
	upper[len - 1] = (char)(upper[len - 1] + 1);
	if ((res = pgsql_exec(p, P_SUPP_PREFIX, "suppression prefix", &rs, why,
	    whylen, "tt", prefix, upper)) == NULL)
		return rs;
	*yes_r = PQntuples(res) == 1 && pgsql_col_ll(res, 0, 0) != 0;
	PQclear(res);
	return STORE_OK;
}

/* pg_spool_refs - quarantine rows naming one spool file */
static enum store_status
pg_spool_refs(struct store *st, const char *spool_file, long long *n_r,
    char *why, size_t whylen)
{
	return pg_count((struct pg *)st, P_SPOOL_REFS, spool_file, n_r, why,
	    whylen);
}

/* pg_events - every consent event of addr, oldest first */
static enum store_status
pg_events(struct store *st, const char *addr, store_event_fn *fn, void *ctx,
    char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	struct store_event e;
	PGresult *res;
	int r;

	if ((res = pgsql_exec((struct pg *)st, P_EVENTS, "events", &rs, why,
	    whylen, "t", addr)) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		e.id = pgsql_col_ll(res, r, 0);
		e.addr = pgsql_col(res, r, 1);
		e.list = pgsql_col(res, r, 2);
		e.event = pgsql_col(res, r, 3);
		e.source = pgsql_col(res, r, 4);
		e.evidence = pgsql_col(res, r, 5);
		e.remote_addr = pgsql_col(res, r, 6);
		e.user_agent = pgsql_col(res, r, 7);
		e.occurred_at = (time_t)pgsql_col_ll(res, r, 8);
		if (e.addr == NULL || e.event == NULL || fn(&e, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

/* pg_ever_opted_in - an "opted_in" or "confirmed" event for (addr, list) */
static enum store_status
pg_ever_opted_in(struct store *st, const char *addr, const char *list,
    bool *yes_r, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;

	if ((res = pgsql_exec((struct pg *)st, P_EVER_IN, "ever opted in", &rs,
	    why, whylen, "tt", addr, list)) == NULL)
		return rs;
	*yes_r = pgsql_col_bool(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

/* pg_forget - erase addr, keeping only the hashed suppression (store.h) */
static enum store_status
pg_forget(struct store *st, const char *addr, const char *addr_hash,
    const struct consent_event *ev, struct store_forget_counts *n_r,
    char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	struct store_forget_counts n = { 0 };
	enum store_status rs, lrs;
	bool own;

	if ((rs = pgsql_tx_enter(p, &own, why, whylen)) != STORE_OK)
		return rs;
	if ((rs = lock_run(p, lock_forget, why, whylen)) == STORE_OK &&
	    (rs = pgsql_run(p, P_DEL_SUBS, "forget", &n.subscriptions, why,
	    whylen, "t", addr)) == STORE_OK && (rs = pgsql_run(p, P_DEL_EVENTS,
	    "forget", &n.events, why, whylen, "t", addr)) == STORE_OK &&
	    (rs = pgsql_run(p, P_DEL_QROWS, "forget", &n.quarantine, why, whylen,
	    "t", addr)) == STORE_OK && (rs = pgsql_run(p, P_DEL_SUPP, "forget",
	    &n.suppressions, why, whylen, "t", addr)) == STORE_OK &&
	    (rs = pgsql_run(p, P_DEL_FEEDBACK, "forget", &n.feedback, why,
	    whylen, "t", addr)) == STORE_OK &&
	    (rs = pgsql_run(p, P_SUPPRESS, "forget", NULL, why, whylen, "ttl",
	    addr_hash, "erased", (long long)time(NULL))) == STORE_OK)
		rs = event_add(p, addr_hash, NULL, "erased", ev != NULL &&
		    ev->evidence != NULL ? ev->evidence : "reason=erased", ev,
		    why, whylen);
	lrs = pgsql_tx_leave(p, own, rs == STORE_OK, why, whylen);
	if (rs == STORE_OK)
		rs = lrs;
	if (rs == STORE_OK && n_r != NULL)
		*n_r = n;
	return rs;
}

/* pg_members - subscriptions of a list (or all lists) with addresses */
static enum store_status
pg_members(struct store *st, const char *list, bool opt_outs_only,
    store_member_fn *fn, void *ctx, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs = STORE_OK;
	struct store_member m;
	PGresult *res;
	int r;

	if ((res = pgsql_exec(p, P_MEMBERS, "members", &rs, why, whylen, "ti",
	    list, opt_outs_only ? 1 : 0)) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		m.addr = pgsql_col(res, r, 0);
		m.list = pgsql_col(res, r, 1);
		m.status = store_status_parse(pgsql_col(res, r, 2));
		m.source = pgsql_col(res, r, 3);
		m.updated_at = (time_t)pgsql_col_ll(res, r, 4);
		m.suppressed = pgsql_col_bool(res, r, 5);
		if (m.addr == NULL || m.list == NULL || m.status == SUB_NONE)
			return bad_row(p, res, "subscriptions", why, whylen);
		if (fn(&m, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

const struct store_backend store_pgsql_backend = {
	.name = "pgsql",
	.open = pgsql_open,
	.close = pgsql_close,
	.exists = pgsql_exists,
	.migrate = pgsql_migrate,
	.lookup = pg_lookup,
	.begin = pg_begin,
	.begin_change = pg_begin_change,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.list_exists = pg_list_exists,
	.list_name = pg_list_name,
	.list_add = pg_list_add,
	.list_ls = pg_list_ls,
	.set_status = pg_set_status,
	.suppress = pg_suppress,
	.suppression = pg_suppression,
	.subscriptions = pg_subscriptions,
	.quarantine_add = pgad_quarantine_add,
	.lookup2 = pg_lookup2,
	.optout_state = pg_optout_state,
	.lookup_set = pg_lookup_set,
	.optout_state_batch = pgsql_optout_state_batch,
	.set_status_batch = pgsql_set_status_batch,
	.begin_read = pg_begin_read,
	.import_set = pg_import_set,
	.suppression_count = pg_suppression_count,
	.events = pg_events,
	.ever_opted_in = pg_ever_opted_in,
	.forget = pg_forget,
	.suppression_prefix = pg_suppression_prefix,
	.event_add = pg_event_add,
	.unsuppress = pg_unsuppress,
	.checkpoint = pg_checkpoint,
	.sync = pg_sync,
	.quarantine_ls = pgad_quarantine_ls,
	.quarantine_released = pgad_quarantine_released,
	.quarantine_del = pgad_quarantine_del,
	.spool_refs = pg_spool_refs,
	.members = pg_members,
	.opt_out_addrs = pgad_opt_out_addrs,
	.stats = pgad_stats,
	.table_rows = pgad_table_rows,
	.table_put = pgad_table_put,
	.table_done = pgad_table_done,
	.table_count = pgad_table_count,
	.table_lock = pgad_table_lock,
	.handover_claim = pgho_handover_claim,
	.handover_set = pgho_handover_set,
	.handover_purge = pgho_handover_purge,
	.feedback_add = pgfb_feedback_add,
	.feedback_count = pgfb_feedback_count,
	.feedback_stats = pgfb_feedback_stats,
	.feedback_ls = pgfb_feedback_ls,
	.sent_add = pgfb_sent_add,
	.campaign_pause = pgfb_campaign_pause,
	.campaign_paused = pgfb_campaign_paused,
	.campaign_resume = pgfb_campaign_resume,
	.campaign_ls = pgfb_campaign_ls,
};
