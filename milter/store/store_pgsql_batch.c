/*
 * store_pgsql_batch.c - the batched operations of the PostgreSQL backend
 * (store_optout_state_batch, store_set_status_batch: store.h), for
 * optin-unsubd's writer, and the pipeline they share.
 *
 * Why: the writer applies every opt-out queued meanwhile in one
 * transaction.  One statement after another, each opt-out cost two round
 * trips (its state, its change), and the writer waited for the server
 * between them while the HTTP threads queued more: at a few thousand
 * opt-outs a second that wait was most of the one-click p99 on
 * PostgreSQL (BENCHMARKS.md).  In libpq's pipeline mode the statements
 * of a batch go out together and their results come back together: one
 * round trip per STORE_PIPELINE_MAX statements, the same prepared
 * statements, the same transaction.
 *
 * Only inside a transaction: a failed statement aborts the rest of the
 * pipeline and the transaction, which the caller rolls back, so nothing
 * is half done and nothing is ever sent twice.  Outside one (no caller of
 * ours does that) each item runs alone as the single operation does.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_pgsql.h"

/* pipe_round - runs k0 .. k0 + m - 1 of pgsql_pipeline in one round trip;
 * every result is read (or the connection is gone) before it returns, so
 * the connection leaves pipeline mode */
static enum store_status
pipe_round(struct pg *p, enum pgsql_stmt i, const char *what, size_t k0,
    size_t m, int nparams, const char *const *vals, pgsql_row_fn *fn,
    void *arg, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	size_t k, got = 0, guard;
	PGresult *res;
	bool synced = false;

	if (PQenterPipelineMode(p->conn) != 1)
		return pgsql_fail(p, NULL, what, why, whylen);
	for (k = 0; k < m; k++)
		if (PQsendQueryPrepared(p->conn, pgsql_stmts[i].name, nparams,
		    vals + (k0 + k) * (size_t)nparams, NULL, NULL, 0) != 1) {
			rs = pgsql_fail(p, NULL, what, why, whylen);
			break;
		}
	if (PQpipelineSync(p->conn) != 1 && rs == STORE_OK)
		rs = pgsql_fail(p, NULL, what, why, whylen);
	/* each statement's result, then a NULL; the sync's at the end;
	 * bounded, and a lost connection ends it at once */
	for (guard = 0; !synced && guard < 3 * m + 4; guard++) {
		if ((res = PQgetResult(p->conn)) == NULL) {
			if (PQstatus(p->conn) != CONNECTION_OK)
				break;
			continue;
		}
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC:
			synced = true;
			PQclear(res);
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (rs == STORE_OK && got < m)
				rs = fn(p, res, k0 + got, arg, why, whylen);
			got++;
			PQclear(res);
			break;
		case PGRES_PIPELINE_ABORTED:	/* after the failure below */
			got++;
			PQclear(res);
			break;
		default:
			got++;
			if (rs == STORE_OK)
				rs = pgsql_fail(p, res, what, why, whylen);
			else
				PQclear(res);
			break;
		}
	}
	if (PQexitPipelineMode(p->conn) != 1 && rs == STORE_OK)
		rs = pgsql_fail(p, NULL, what, why, whylen);
	if (rs == STORE_OK && (!synced || got != m)) {
		snprintf(why, whylen, "ConsentDB %s: %s: %zu of %zu results",
		    p->name, what, got, m);
		rs = STORE_TEMPFAIL;
	}
	return rs;
}

enum store_status
pgsql_pipeline(struct pg *p, enum pgsql_stmt i, const char *what, size_t n,
    int nparams, const char *const *vals, pgsql_row_fn *fn, void *arg,
    char *why, size_t whylen)
{
	enum store_status rs;
	size_t k0, m;

	if (!p->in_tx) {
		snprintf(why, whylen, "ConsentDB %s: %s: a pipeline outside a "
		    "transaction", p->name, what);
		return STORE_ERROR;
	}
	if ((rs = pgsql_prepare(p, i, what, why, whylen)) != STORE_OK)
		return rs;
	for (k0 = 0; k0 < n; k0 += m) {
		m = n - k0 < STORE_PIPELINE_MAX ? n - k0 : STORE_PIPELINE_MAX;
		if ((rs = pipe_round(p, i, what, k0, m, nparams, vals, fn, arg,
		    why, whylen)) != STORE_OK)
			return rs;
	}
	return STORE_OK;
}

/* optout_row - pgsql_row_fn of P_OPTOUT: v[k]'s state */
static enum store_status
optout_row(struct pg *p, const PGresult *res, size_t k, void *arg, char *why,
    size_t whylen)
{
	struct store_optout *o = (struct store_optout *)arg + k;

	if (PQntuples(res) != 1) {
		snprintf(why, whylen, "ConsentDB %s: lookup gave %d rows",
		    p->name, PQntuples(res));
		return STORE_ERROR;
	}
	return pgsql_lookup_row(p, res, 0, &o->row, &o->erased, o->name_r,
	    o->namelen, why, whylen);
}

enum store_status
pgsql_optout_state_batch(struct store *st, struct store_optout *v,
    const char *const *forms, size_t n, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs = STORE_OK;
	const char **vals;
	size_t k;

	if (!p->in_tx) {
		for (k = 0; k < n && rs == STORE_OK; k++)
			rs = st->be->optout_state(st, v[k].addr, forms[k],
			    v[k].list, &v[k].row, &v[k].erased, v[k].name_r,
			    v[k].namelen, why, whylen);
		return rs;
	}
	if ((vals = calloc(n * 3, sizeof(*vals))) == NULL) {
		snprintf(why, whylen, "ConsentDB %s: lookup: out of memory",
		    p->name);
		return STORE_TEMPFAIL;
	}
	for (k = 0; k < n; k++) {
		vals[3 * k] = v[k].addr;
		vals[3 * k + 1] = v[k].list;
		vals[3 * k + 2] = forms[k];
	}
	rs = pgsql_pipeline(p, P_OPTOUT, "lookup", n, 3, vals, optout_row, v,
	    why, whylen);
	free(vals);
	return rs;
}

/* change_row - pgsql_row_fn of P_SUB_SET_LISTED: v[k] written, or its
 * list missing */
static enum store_status
change_row(struct pg *p, const PGresult *res, size_t k, void *arg, char *why,
    size_t whylen)
{
	struct store_status_change *c = (struct store_status_change *)arg + k;
	char ignore[128];

	if (PQntuples(res) != 1) {
		snprintf(why, whylen, "ConsentDB %s: set status gave %d rows",
		    p->name, PQntuples(res));
		return STORE_ERROR;
	}
	/* a missing list is the item's answer, not the batch's failure */
	c->rs = pgsql_sub_set_result(res, 0, c->list, ignore, sizeof(ignore));
	return STORE_OK;
}

enum store_status
pgsql_set_status_batch(struct store *st, struct store_status_change *v,
    size_t n, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs = STORE_OK;
	const char **vals;
	char (*now)[PGSQL_NUM_MAX];
	size_t k;

	if (!p->in_tx) {
		for (k = 0; k < n; k++) {
			rs = st->be->set_status(st, v[k].addr, v[k].list,
			    v[k].status, v[k].ev, why, whylen);
			if (rs != STORE_OK && rs != STORE_NOTFOUND)
				return rs;
			v[k].rs = rs;
		}
		return STORE_OK;
	}
	vals = calloc(n * PGSQL_SUB_SET_NPARAM, sizeof(*vals));
	now = calloc(n, sizeof(*now));
	if (vals == NULL || now == NULL) {
		snprintf(why, whylen, "ConsentDB %s: set status: out of "
		    "memory", p->name);
		rs = STORE_TEMPFAIL;
		goto out;
	}
	for (k = 0; k < n; k++)
		pgsql_sub_set_vals(p, v[k].addr, v[k].list,
		    store_status_settable(v[k].status, why, whylen), v[k].ev,
		    now[k], vals + k * PGSQL_SUB_SET_NPARAM);
	rs = pgsql_pipeline(p, P_SUB_SET_LISTED, "set status", n,
	    PGSQL_SUB_SET_NPARAM, vals, change_row, v, why, whylen);
out:
	free(vals);
	free(now);
	return rs;
}
