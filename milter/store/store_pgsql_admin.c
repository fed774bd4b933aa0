/*
 * store_pgsql_admin.c - the operations of the PostgreSQL backend that
 * optinctl and the quarantine use rather than the per-recipient path, as
 * store_sqlite_admin.c for SQLite: quarantine rows (add, list, release,
 * delete), opt-out addresses, statistics, and the table copy of optinctl
 * copy-store.  The statement texts are in pgsql_stmts[]
 * (store_pgsql_conn.c), prepared once per connection, bound parameters
 * only; copy-store builds its own per table (the table name is part of the
 * SQL, from the constant store_tables[]).  One handle per thread, as the
 * backend.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_pgsql.h"

/* pgad_quarantine_add - insert one quarantine row (RETURNING its id) */
enum store_status
pgad_quarantine_add(struct store *st, const struct quarantine_row *row,
    long long *id_r, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;

	if ((res = pgsql_exec((struct pg *)st, P_QUARANTINE_ADD,
	    "quarantine add", &rs, why, whylen, "tttttttl", row->queue_id,
	    row->message_id, row->sender, row->recipient, row->list,
	    row->reason, row->spool_file, (long long)(row->received_at != 0 ?
	    row->received_at : time(NULL)))) == NULL)
		return rs;
	if (id_r != NULL)
		*id_r = pgsql_col_ll(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

/* pgad_quarantine_ls - the quarantine rows f selects */
enum store_status
pgad_quarantine_ls(struct store *st, const struct store_qfilter *f,
    store_qrow_fn *fn, void *ctx, char *why, size_t whylen)
{
	static const struct store_qfilter all = { 0 };
	struct pg *p = (struct pg *)st;
	enum store_status rs = STORE_OK;
	struct store_qrow q;
	PGresult *res;
	int r;

	if (f == NULL)
		f = &all;
	if ((res = pgsql_exec(p, P_QLS, "quarantine", &rs, why, whylen,
	    "lttttlit", (long long)f->id, f->reason, f->list, f->sender,
	    f->recipient, (long long)f->before, f->held_only ? 1 : 0, f->queue_id)) ==
	    NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		q.id = pgsql_col_ll(res, r, 0);
		q.row.queue_id = pgsql_col(res, r, 1);
		q.row.message_id = pgsql_col(res, r, 2);
		q.row.sender = pgsql_col(res, r, 3);
		q.row.recipient = pgsql_col(res, r, 4);
		q.row.list = pgsql_col(res, r, 5);
		q.row.reason = pgsql_col(res, r, 6);
		q.row.spool_file = pgsql_col(res, r, 7);
		q.row.received_at = (time_t)pgsql_col_ll(res, r, 8);
		q.released_at = (time_t)pgsql_col_ll(res, r, 9);
		if (q.row.recipient == NULL || q.row.reason == NULL ||
		    q.row.spool_file == NULL || fn(&q, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

/* pg_change_id - the result of an UPDATE/DELETE of row id: NOTFOUND
 * when no row changed */
static enum store_status
pg_change_id(enum store_status rs, long long n, long long id, char *why,
    size_t whylen)
{
	if (rs == STORE_OK && n == 0) {
		snprintf(why, whylen, "no quarantine row %lld", id);
		return STORE_NOTFOUND;
	}
	return rs;
}

/* pgad_quarantine_released - set released_at of one row */
enum store_status
pgad_quarantine_released(struct store *st, long long id, time_t when,
    char *why, size_t whylen)
{
	enum store_status rs;
	long long n = 0;

	/* n is read after the run: two statements (the order in which a
	 * call's arguments are evaluated is unspecified) */
	rs = pgsql_run((struct pg *)st, P_QREL, "quarantine", &n, why, whylen,
	    "ll", id, (long long)when);
	return pg_change_id(rs, n, id, why, whylen);
}

/* pgad_quarantine_del - delete one row */
enum store_status
pgad_quarantine_del(struct store *st, long long id, char *why, size_t whylen)
{
	enum store_status rs;
	long long n = 0;

	rs = pgsql_run((struct pg *)st, P_QDEL, "quarantine", &n, why, whylen,
	    "l", id);
	return pg_change_id(rs, n, id, why, whylen);
}

/* pgad_opt_out_addrs - addresses opted out of list (or any) or suppressed */
enum store_status
pgad_opt_out_addrs(struct store *st, const char *list, store_addr_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;
	int r;

	if ((res = pgsql_exec((struct pg *)st, P_OPTOUT_ADDRS, "opt-outs", &rs,
	    why, whylen, "t", list)) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++)
		if (pgsql_col(res, r, 0) == NULL || fn(pgsql_col(res, r, 0), ctx) != 0)
			break;
	PQclear(res);
	return STORE_OK;
}

/* pgad_stats - the counts of store_stats() in one statement */
enum store_status
pgad_stats(struct store *st, time_t since, store_stat_fn *fn, void *ctx,
    char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	struct store_stat t;
	PGresult *res;
	int r;

	if ((res = pgsql_exec((struct pg *)st, P_STATS, "stats", &rs, why,
	    whylen, "l", (long long)since)) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		t.group = pgsql_col(res, r, 1);
		t.key = pgsql_col(res, r, 2);
		t.key2 = pgsql_col(res, r, 3);
		t.n = pgsql_col_ll(res, r, 4);
		if (t.group == NULL || t.key == NULL || fn(&t, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

/* pgad_table_rows - every row of one table as text (optinctl copy-store) */
enum store_status
pgad_table_rows(struct store *st, const struct store_table *tab,
    store_row_fn *fn, void *ctx, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	const char *vals[16];
	PGresult *res;
	char sql[512];
	int r, c;

	assert(tab->ncols <= 16);
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY 1, 2",
	    tab->cols, tab->name);
	if ((res = pgsql_exec_sql((struct pg *)st, -1, "", sql, 0, NULL,
	    tab->name, &rs, why, whylen)) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		for (c = 0; c < tab->ncols; c++)
			vals[c] = pgsql_col(res, r, c);
		if (fn(vals, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

/* pgad_table_put - insert one row as it is (a statement per table and
 * connection, in the bits after pgsql_stmts[]) */
enum store_status
pgad_table_put(struct store *st, const struct store_table *tab,
    const char *const *vals, bool *refused_r, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;
	char sql[512], name[48];

	if (store_table_insert_sql(tab, '$', sql, sizeof(sql)) < 0) {
		snprintf(why, whylen, "copy %s: statement too long", tab->name);
		return STORE_ERROR;
	}
	snprintf(name, sizeof(name), "copy_%s", tab->name);
	if ((res = pgsql_exec_sql((struct pg *)st, P_COUNT +
	    (int)(tab - store_tables), name, sql, tab->ncols, vals, tab->name,
	    &rs, why, whylen)) == NULL) {
		/* class 23, integrity constraint violation; class 22, data
		 * exception: a value the column's type refuses (text that is
		 * not UTF-8, a time that is no integer), which SQLite kept */
		*refused_r = strncmp(((struct pg *)st)->state, "23", 2) == 0 ||
		    strncmp(((struct pg *)st)->state, "22", 2) == 0;
		return rs;
	}
	PQclear(res);
	return STORE_OK;
}

/* table_run - run sql about tab, its answer not wanted */
static enum store_status
table_run(struct store *st, const struct store_table *tab, const char *sql,
    char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;

	if ((res = pgsql_exec_sql((struct pg *)st, -1, "", sql, 0, NULL,
	    tab->name, &rs, why, whylen)) == NULL)
		return rs;
	PQclear(res);
	return STORE_OK;
}

/* pgad_table_done - the identity of a table with ids continues after the
 * largest id copied in */
enum store_status
pgad_table_done(struct store *st, const struct store_table *tab, char *why,
    size_t whylen)
{
	char sql[256];

	if (strncmp(tab->cols, "id,", 3) != 0)
		return STORE_OK;
	snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_sequence("
	    "'%s', 'id'), (SELECT max(id) FROM %s))", tab->name, tab->name);
	return table_run(st, tab, sql, why, whylen);
}

/* pgad_table_count - the rows of one table */
enum store_status
pgad_table_count(struct store *st, const struct store_table *tab,
    long long *n_r, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tab->name);
	if ((res = pgsql_exec_sql((struct pg *)st, -1, "", sql, 0, NULL,
	    tab->name, &rs, why, whylen)) == NULL)
		return rs;
	*n_r = pgsql_col_ll(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

/* pgad_table_lock - SHARE mode: waits for every transaction that wrote
 * tab (lock_timeout), and blocks writers until ours ends */
enum store_status
pgad_table_lock(struct store *st, const struct store_table *tab, char *why,
    size_t whylen)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "LOCK TABLE %s IN SHARE MODE", tab->name);
	return table_run(st, tab, sql, why, whylen);
}
