/*
 * store_pgsql_handover.c - the hand-over records on PostgreSQL (store.h
 * "Hand-over records", schema step sql/pgsql/003-handover.sql): the three
 * operations.  The statements run unnamed (pgsql_exec_sql slot -1),
 * parameters bound as text.  One handle per thread, as the backend.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pgsql.h"


/* ho_exec - run sql with the n text parameters vals */
static PGresult *
ho_exec(struct store *st, const char *sql, int n, const char *const *vals,
    const char *what, enum store_status *rs_r, char *why, size_t whylen)
{
	return pgsql_exec_sql((struct pg *)st, -1, "", sql, n, vals, what,
	    rs_r, why, whylen);
}

enum store_status
pgho_handover_claim(struct store *st, const char *key, const char *recipient,
    enum store_handover_state state, const char *queue_id, time_t now,
    struct store_handover *old_r, char *why, size_t whylen)
{
	char at[24];
	const char *vals[5] = { key, recipient, store_handover_state_str(state),
	    queue_id, at };
	enum store_status rs = STORE_OK;
	PGresult *res;
	const char *q;

	snprintf(at, sizeof(at), "%lld", (long long)now);
	memset(old_r, 0, sizeof(*old_r));
	if ((res = ho_exec(st, "INSERT INTO handover (msg_key, recipient,"
	    " state, queue_id, claimed_at, updated_at) VALUES ($1, $2, $3, $4,"
	    " $5, $5) ON CONFLICT (msg_key, recipient) DO NOTHING RETURNING 1",
	    5, vals, "handover claim", &rs, why, whylen)) == NULL)
		return rs;
	if (PQntuples(res) == 1) {
		PQclear(res);
		return STORE_OK;
	}
	PQclear(res);
	if ((res = ho_exec(st, "SELECT state, queue_id, claimed_at, updated_at"
	    " FROM handover WHERE msg_key = $1 AND recipient = $2", 2, vals,
	    "handover get", &rs, why, whylen)) == NULL)
		return rs;
	if (PQntuples(res) == 1) {
		old_r->state = store_handover_state_parse(pgsql_col(res, 0,
		    0));
		q = pgsql_col(res, 0, 1);
		snprintf(old_r->queue_id, sizeof(old_r->queue_id), "%s",
		    q != NULL ? q : "");
		old_r->claimed_at = (time_t)pgsql_col_ll(res, 0, 2);
		old_r->updated_at = (time_t)pgsql_col_ll(res, 0, 3);
	}
	PQclear(res);
	return STORE_OK;
}

enum store_status
pgho_handover_set(struct store *st, const char *key, const char *recipient,
    enum store_handover_state state, time_t now, char *why, size_t whylen)
{
	char at[24];
	const char *vals[4] = { key, recipient, store_handover_state_str(state),
	    at };
	enum store_status rs = STORE_OK;
	PGresult *res;
	bool none;

	snprintf(at, sizeof(at), "%lld", (long long)now);
	if ((res = ho_exec(st, "UPDATE handover SET state = $3, updated_at ="
	    " $4::bigint WHERE msg_key = $1 AND recipient = $2", 4, vals,
	    "handover set", &rs, why, whylen)) == NULL)
		return rs;
	none = strcmp(PQcmdTuples(res), "0") == 0;
	PQclear(res);
	if (none) {
		snprintf(why, whylen, "no hand-over record");
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

enum store_status
pgho_handover_purge(struct store *st, time_t before, long long *n_r,
    char *why, size_t whylen)
{
	char at[24];
	const char *vals[1] = { at };
	enum store_status rs = STORE_OK;
	PGresult *res;

	snprintf(at, sizeof(at), "%lld", (long long)before);
	if ((res = ho_exec(st, "DELETE FROM handover WHERE updated_at <"
	    " $1::bigint", 1, vals, "handover purge", &rs, why, whylen)) ==
	    NULL)
		return rs;
	if (n_r != NULL)
		*n_r = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return STORE_OK;
}
