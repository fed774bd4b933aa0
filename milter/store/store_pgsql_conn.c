/*
 * store_pgsql_conn.c - the connection side of the PostgreSQL backend
 * (store_pgsql.h): connecting, the text of every prepared statement and
 * running it, transactions, the schema and its migrations.  The operations
 * of store.h are in store_pgsql.c.  DESIGN "Scale-out": several relays
 * share one server database, through libpq.
 *
 * One connection per handle, used by one thread at a time (the milter's
 * pool gives each connection thread its own handle).  Every statement that
 * touches data is a named prepared statement (PQprepare on first use on the
 * connection, then PQexecPrepared with text parameters); only constant text
 * (transaction control, the schema script, migrations) goes through
 * PQexec.  Results are read whole, so a callback may take its time.
 *
 * Failures: a server that cannot be reached, a lost connection, a lock
 * wait past lock_timeout (DBBusyTimeout), a statement past
 * statement_timeout, a serialization failure, a server that is shutting
 * down or out of resources are STORE_TEMPFAIL (SQLSTATE classes 08, 40, 53,
 * 57, 58, and 55P03), never "not found".  A connection found lost outside a
 * transaction is reset (PQreset) and the statement tried once more; inside
 * a transaction the transaction is lost: STORE_TEMPFAIL, and the handle is
 * reset on its next use.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "config.h"
#include "log.h"
#include "store-private.h"
#include "store_pgsql.h"

/*
 * The numbered steps of the schema, sql/pgsql/NNN-*.sql made into string
 * literals by Makefile.am (PGSQL_STEPS), in order: step `to` takes a
 * database of version to - 1 to version to and ends by setting
 * optin_schema.version.  A new database runs them all (pg_schema_create),
 * optinctl migrate those after its version (pgsql_migrate).
 */
static const struct {
	int to;
	const char *sql;
} steps[] = {
#include "schema_pgsql.h"
	{ 0, NULL }
};

const struct pgsql_stmt_text pgsql_stmts[P_COUNT] = {
	[P_SETTINGS] = { "settings",
	    "SELECT set_config('lock_timeout', $1, false),"
	    " set_config('statement_timeout', $2, false),"
	    " set_config('default_transaction_read_only', $3, false),"
	    " set_config('synchronous_commit', $4, false)" },
	[P_NTABLES] = { "ntables",
	    "SELECT count(*), count(*) FILTER (WHERE tablename ="
	    " 'optin_schema') FROM pg_catalog.pg_tables"
	    " WHERE schemaname = current_schema()" },
	[P_VERSION] = { "version", "SELECT max(version) FROM optin_schema" },
	[P_SCHEMA_LOCK] = { "schema_lock",
	    "SELECT pg_advisory_xact_lock(hashtext('optin-milter schema'))" },
	[P_LOOKUP] = { "lookup",
	    "SELECT EXISTS (SELECT 1 FROM suppressions WHERE address = $1),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = $1 AND list_id = $2)" },
	[P_LOOKUP2] = { "lookup2",
	    "SELECT EXISTS (SELECT 1 FROM suppressions"
	    " WHERE address IN ($1, $3::text)),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = $1 AND list_id = $2)" },
	/* P_LOOKUP's columns, then erased? ($3, may be NULL) and the list's
	 * name: store_optout_state() */
	[P_OPTOUT] = { "optout",
	    "SELECT EXISTS (SELECT 1 FROM suppressions WHERE address = $1),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = $1 AND list_id = $2),"
	    " EXISTS (SELECT 1 FROM suppressions WHERE address = $3::text),"
	    " (SELECT name FROM lists WHERE list_id = $2)" },
	[P_LIST_GET] = { "list_get",
	    "SELECT double_opt_in, name FROM lists WHERE list_id = $1" },
	[P_LIST_ADD] = { "list_add",
	    "INSERT INTO lists (list_id, name, double_opt_in, created_at)"
	    " VALUES ($1, $2, $3, $4) ON CONFLICT (list_id) DO NOTHING" },
	[P_LIST_LS] = { "list_ls",
	    "SELECT l.list_id, l.name, l.double_opt_in, l.created_at,"
	    " coalesce(c.n_in, 0), coalesce(c.n_pending, 0),"
	    " coalesce(c.n_out, 0) FROM lists l LEFT JOIN"
	    " (SELECT list_id,"
	    " count(*) FILTER (WHERE status = 'opted_in') AS n_in,"
	    " count(*) FILTER (WHERE status = 'pending') AS n_pending,"
	    " count(*) FILTER (WHERE status = 'opted_out') AS n_out"
	    " FROM subscriptions GROUP BY list_id) c"
	    " ON c.list_id = l.list_id ORDER BY l.list_id" },
	[P_SUB_SET] = { "sub_set",
	    "INSERT INTO subscriptions (address, list_id, status, source,"
	    " updated_at) VALUES ($1, $2, $3, $4, $5)"
	    " ON CONFLICT (address, list_id) DO UPDATE SET"
	    " status = excluded.status, source = excluded.source,"
	    " updated_at = excluded.updated_at" },
	/* store_set_status in one round trip: the list must exist ($2; the
	 * count is 0 when not, and nothing is written), the upsert, and its
	 * event ($5 the event word, $6-$8 evidence, address, agent; $9 the
	 * time) */
	[P_SUB_SET_LISTED] = { "sub_set_listed",
	    "WITH l AS (SELECT 1 FROM lists WHERE list_id = $2::text),"
	    " s AS (INSERT INTO subscriptions (address, list_id, status,"
	    " source, updated_at) SELECT $1::text, $2::text, $3::text,"
	    " $4::text, $9::bigint FROM l"
	    " ON CONFLICT (address, list_id) DO UPDATE SET"
	    " status = excluded.status, source = excluded.source,"
	    " updated_at = excluded.updated_at RETURNING 1),"
	    " e AS (INSERT INTO consent_events (address, list_id, event,"
	    " source, evidence, remote_addr, user_agent, occurred_at)"
	    " SELECT $1::text, $2::text, $5::text, $4::text, $6::text,"
	    " $7::text, $8::text, $9::bigint FROM s)"
	    " SELECT count(*) FROM l" },
	[P_EVENT_ADD] = { "event_add",
	    "INSERT INTO consent_events (address, list_id, event, source,"
	    " evidence, remote_addr, user_agent, occurred_at)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)" },
	[P_SUPPRESS] = { "suppress",
	    "INSERT INTO suppressions (address, reason, created_at)"
	    " VALUES ($1, $2, $3) ON CONFLICT (address) DO NOTHING" },
	[P_SUPPRESSION] = { "suppression",
	    "SELECT reason, created_at FROM suppressions WHERE address = $1" },
	[P_SUBS] = { "subs",
	    "SELECT list_id, status, source, updated_at FROM subscriptions"
	    " WHERE address = $1 ORDER BY list_id" },
	[P_QUARANTINE_ADD] = { "quarantine_add",
	    "INSERT INTO quarantine (queue_id, message_id, sender, recipient,"
	    " list_id, reason, spool_file, received_at)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id" },
	[P_SUB_GET] = { "sub_get",
	    "SELECT status, updated_at FROM subscriptions"
	    " WHERE address = $1 AND list_id = $2 FOR UPDATE" },
	[P_SUB_PEEK] = { "sub_peek",
	    "SELECT status, updated_at FROM subscriptions"
	    " WHERE address = $1 AND list_id = $2" },
	[P_SUPP_COUNT] = { "supp_count",
	    "SELECT count(*) FROM suppressions WHERE reason = $1" },
	/* COLLATE "C": byte order, so the range is exactly the prefix */
	[P_SUPP_PREFIX] = { "supp_prefix",
	    "SELECT count(*) FROM (SELECT 1 FROM suppressions WHERE "
	    "address >= $1 AND address < $2 LIMIT 1) AS x" },
	[P_EVENTS] = { "events",
	    "SELECT id, address, list_id, event, source, evidence,"
	    " remote_addr, user_agent, occurred_at FROM consent_events"
	    " WHERE address = $1 ORDER BY occurred_at, id" },
	[P_EVER_IN] = { "ever_in",
	    "SELECT EXISTS (SELECT 1 FROM consent_events WHERE address = $1"
	    " AND list_id = $2 AND event IN ('opted_in', 'confirmed'))" },
	[P_DEL_SUBS] = { "del_subs",
	    "DELETE FROM subscriptions WHERE address = $1" },
	[P_DEL_EVENTS] = { "del_events",
	    "DELETE FROM consent_events WHERE address = $1" },
	[P_DEL_QROWS] = { "del_qrows",
	    "DELETE FROM quarantine WHERE recipient = $1" },
	[P_DEL_SUPP] = { "del_supp",
	    "DELETE FROM suppressions WHERE address = $1" },
	[P_DEL_FEEDBACK] = { "del_feedback",
	    "DELETE FROM feedback WHERE address = $1" },
	[P_QLS] = { "qls",
	    "SELECT id, queue_id, message_id, sender, recipient, list_id,"
	    " reason, spool_file, received_at, released_at FROM quarantine"
	    " WHERE ($1::bigint = 0 OR id = $1)"
	    " AND ($2::text IS NULL OR reason = $2)"
	    " AND ($3::text IS NULL OR list_id = $3)"
	    " AND ($4::text IS NULL OR sender = $4)"
	    " AND ($5::text IS NULL OR recipient = $5)"
	    " AND ($6::bigint = 0 OR received_at < $6)"
	    " AND ($7::integer = 0 OR released_at IS NULL)"
	    " AND ($8::text IS NULL OR queue_id = $8) ORDER BY id" },
	[P_QREL] = { "qrel",
	    "UPDATE quarantine SET released_at = $2 WHERE id = $1" },
	[P_QDEL] = { "qdel", "DELETE FROM quarantine WHERE id = $1" },
	[P_SPOOL_REFS] = { "spool_refs",
	    "SELECT count(*) FROM quarantine WHERE spool_file = $1" },
	[P_MEMBERS] = { "members",
	    "SELECT s.address, s.list_id, s.status, s.source, s.updated_at,"
	    " EXISTS (SELECT 1 FROM suppressions p"
	    " WHERE p.address = s.address) FROM subscriptions s"
	    " WHERE ($1::text IS NULL OR s.list_id = $1)"
	    " AND ($2::integer = 0 OR s.status = 'opted_out')"
	    " ORDER BY s.list_id, s.address" },
	[P_OPTOUT_ADDRS] = { "optout_addrs",
	    "SELECT address FROM subscriptions WHERE status = 'opted_out'"
	    " AND ($1::text IS NULL OR list_id = $1)"
	    " UNION SELECT address FROM suppressions WHERE reason <> 'erased'"
	    " ORDER BY 1" },
	[P_STATS] = { "stats",
	    "SELECT 1, 'subscriptions', list_id, status, count(*)"
	    " FROM subscriptions GROUP BY list_id, status"
	    " UNION ALL SELECT 2, 'suppressions', reason, NULL, count(*)"
	    " FROM suppressions GROUP BY reason"
	    " UNION ALL SELECT 3, 'quarantine', reason, CASE WHEN"
	    " released_at IS NULL THEN 'held' ELSE 'released' END, count(*)"
	    " FROM quarantine GROUP BY 3, 4"
	    " UNION ALL SELECT 4, 'events', event, NULL, count(*)"
	    " FROM consent_events WHERE occurred_at >= $1 GROUP BY event"
	    " ORDER BY 1, 3, 4" },
	/* every recipient of a message in one round trip: $1 the
	 * addresses, $2 their erased forms (NULL: none), as arrays */
	[P_LOOKUP_SET] = { "lookup_set",
	    "SELECT EXISTS (SELECT 1 FROM suppressions s"
	    " WHERE s.address IN (a.addr, a.form)),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = a.addr AND list_id = $3)"
	    " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY"
	    " AS a(addr, form, i) ORDER BY a.i" },
	/* feedback (schema version 2), as store_sqlite_fb.c */
	[P_FB_ADD] = { "fb_add",
	    "INSERT INTO feedback (address, list_id, campaign, kind, status,"
	    " reporting_mta, diagnostic, arrival, identity, acted,"
	    " received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
	    " $11) RETURNING id" },
	[P_FB_COUNT] = { "fb_count",
	    "SELECT count(*) FROM feedback WHERE kind = $1"
	    " AND received_at >= $2 AND ($3::text IS NULL OR address = $3)"
	    " AND ($4::text IS NULL OR campaign = $4)" },
	[P_FB_STATS] = { "fb_stats",
	    "SELECT coalesce(list_id, ''), coalesce(campaign, ''), kind,"
	    " count(*) FROM feedback WHERE received_at >= $1"
	    " GROUP BY 1, 2, 3"
	    " UNION ALL SELECT list_id, campaign, 'sent', sent"
	    " FROM campaign_sent ORDER BY 1, 2, 3" },
	[P_FB_LS] = { "fb_ls",
	    "SELECT id, address, list_id, campaign, kind, status,"
	    " reporting_mta, diagnostic, arrival, identity, acted, received_at"
	    " FROM feedback WHERE received_at >= $1"
	    " AND ($2::integer = 0 OR acted = 1)"
	    " AND ($3::text IS NULL OR address = $3) ORDER BY id" },
	[P_SENT_ADD] = { "sent_add",
	    "INSERT INTO campaign_sent (campaign, list_id, sent)"
	    " VALUES ($1, $2, $3) ON CONFLICT (campaign, list_id) DO UPDATE"
	    " SET sent = campaign_sent.sent + excluded.sent" },
	[P_PAUSE] = { "pause",
	    "INSERT INTO campaign_pauses (campaign, reason, paused_at)"
	    " VALUES ($1, $2, $3) ON CONFLICT (campaign) DO NOTHING" },
	[P_PAUSED] = { "paused",
	    "SELECT reason, paused_at FROM campaign_pauses"
	    " WHERE campaign = $1" },
	[P_RESUME] = { "resume",
	    "DELETE FROM campaign_pauses WHERE campaign = $1" },
	[P_PAUSE_LS] = { "pause_ls",
	    "SELECT campaign, reason, paused_at FROM campaign_pauses"
	    " ORDER BY campaign" },
};

#define PG_MAXPARAM 12

/* pgsql_col - the text of row r, column c, or NULL for SQL NULL */
const char *
pgsql_col(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

/* pgsql_col_ll - row r, column c as a number (0 for NULL) */
long long
pgsql_col_ll(const PGresult *res, int r, int c)
{
	const char *v = pgsql_col(res, r, c);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/* pgsql_col_bool - row r, column c as a boolean ("t", or a non-zero number) */
bool
pgsql_col_bool(const PGresult *res, int r, int c)
{
	const char *v = pgsql_col(res, r, c);

	return v != NULL && (strcmp(v, "t") == 0 || strtoll(v, NULL, 10) != 0);
}

/* pg_kind - the store status of a failed result (NULL: no result) */
static enum store_status
pg_kind(const struct pg *p, const PGresult *res)
{
	static const char *const temporary[] = {
		"08", "40", "53", "57", "58", "55P03",
	};
	const char *state;
	size_t i;

	if (res == NULL || PQstatus(p->conn) != CONNECTION_OK)
		return STORE_TEMPFAIL;
	if ((state = PQresultErrorField(res, PG_DIAG_SQLSTATE)) == NULL)
		return STORE_TEMPFAIL;
	for (i = 0; i < sizeof(temporary) / sizeof(temporary[0]); i++)
		if (strncmp(state, temporary[i], strlen(temporary[i])) == 0)
			return STORE_TEMPFAIL;
	return STORE_ERROR;
}

/* pgsql_fail - see store_pgsql.h */
enum store_status
pgsql_fail(struct pg *p, PGresult *res, const char *what, char *why,
    size_t whylen)
{
	enum store_status rs = pg_kind(p, res);
	const char *msg, *state;
	size_t n;

	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(p->state, sizeof(p->state), "%s", state != NULL ? state : "");

	msg = res != NULL && *PQresultErrorMessage(res) != '\0' ?
	    PQresultErrorMessage(res) : PQerrorMessage(p->conn);
	n = strcspn(msg, "\n");
	snprintf(why, whylen, "ConsentDB %s: %s: %.*s", p->name, what,
	    (int)n, msg);
	PQclear(res);
	return rs;
}

/* pg_ok - did res succeed (rows, or a command)? */
static bool
pg_ok(const PGresult *res)
{
	ExecStatusType es = PQresultStatus(res);

	return res != NULL && (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK);
}

/* pg_settings - the timeouts (and read-only mode) of this connection */
static PGresult *
pg_settings(struct pg *p)
{
	const char *vals[4] = { p->lock_ms, p->stmt_ms,
		p->readonly ? "on" : "off", p->sync_later ? "off" : "on" };

	return PQexecParams(p->conn, pgsql_stmts[P_SETTINGS].sql, 4, NULL, vals,
	    NULL, NULL, 0);
}

/* pg_reset - reconnect a lost connection; true when it is back */
static bool
pg_reset(struct pg *p)
{
	PGresult *res;
	bool ok;

	PQreset(p->conn);
	p->prepared = 0;
	p->in_tx = false;
	if (PQstatus(p->conn) != CONNECTION_OK)
		return false;
	res = pg_settings(p);
	ok = pg_ok(res);
	PQclear(res);
	return ok;
}

/* pg_lost - is the connection gone, with no transaction of ours lost? */
static bool
pg_lost(const struct pg *p)
{
	return PQstatus(p->conn) == CONNECTION_BAD && !p->in_tx;
}

/*
 * pg_execv - run prepared statement i (prepared on first use) with the
 * parameters of ap, one letter of types each: 't' const char * (NULL is
 * SQL NULL), 'i' int, 'l' long long.  The result on success (the caller
 * clears it); NULL with *rs_r and why filled on failure.  A connection
 * found lost outside a transaction is reset and the statement run once
 * more.
 */
static PGresult *
pg_execv(struct pg *p, enum pgsql_stmt i, const char *what, enum store_status *rs_r,
    char *why, size_t whylen, const char *types, va_list ap)
{
	char buf[PG_MAXPARAM][24];
	const char *vals[PG_MAXPARAM];
	int n;

	for (n = 0; types[n] != '\0'; n++) {
		assert(n < PG_MAXPARAM);
		switch (types[n]) {
		case 't':
			vals[n] = va_arg(ap, const char *);
			break;
		case 'i':
			snprintf(buf[n], sizeof(buf[n]), "%d", va_arg(ap, int));
			vals[n] = buf[n];
			break;
		case 'l':
			snprintf(buf[n], sizeof(buf[n]), "%lld",
			    va_arg(ap, long long));
			vals[n] = buf[n];
			break;
		default:
			assert(!"pg_execv: bad type letter");
		}
	}
	return pgsql_exec_sql(p, (int)i, pgsql_stmts[i].name, pgsql_stmts[i].sql,
	    n, vals, what, rs_r, why, whylen);
}

PGresult *
pgsql_exec_sql(struct pg *p, int slot, const char *name, const char *sql,
    int n, const char *const *vals, const char *what,
    enum store_status *rs_r, char *why, size_t whylen)
{
	PGresult *res;
	int attempt;

	assert(slot < 64);
	for (attempt = 0;; attempt++) {
		res = NULL;
		if (slot < 0 || (p->prepared & (1ULL << slot)) == 0) {
			res = PQprepare(p->conn, name, sql, n, NULL);
			if (!pg_ok(res))
				goto failed;
			PQclear(res);
			if (slot >= 0)
				p->prepared |= 1ULL << slot;
		}
		res = PQexecPrepared(p->conn, name, n, vals, NULL, NULL, 0);
		if (pg_ok(res))
			return res;
failed:
		if (attempt == 0 && pg_lost(p)) {
			PQclear(res);
			if (pg_reset(p))
				continue;
			res = NULL;
		}
		*rs_r = pgsql_fail(p, res, what, why, whylen);
		return NULL;
	}
}

/* pgsql_prepare - see store_pgsql.h (no retry: the pipeline it is for
 * runs inside a transaction) */
enum store_status
pgsql_prepare(struct pg *p, enum pgsql_stmt i, const char *what, char *why,
    size_t whylen)
{
	PGresult *res;

	if ((p->prepared & (1ULL << i)) != 0)
		return STORE_OK;
	res = PQprepare(p->conn, pgsql_stmts[i].name, pgsql_stmts[i].sql, 0,
	    NULL);
	if (!pg_ok(res))
		return pgsql_fail(p, res, what, why, whylen);
	PQclear(res);
	p->prepared |= 1ULL << i;
	return STORE_OK;
}

/* pgsql_exec - pg_execv with the parameters as arguments */
PGresult *
pgsql_exec(struct pg *p, enum pgsql_stmt i, const char *what, enum store_status *rs_r,
    char *why, size_t whylen, const char *types, ...)
{
	PGresult *res;
	va_list ap;

	va_start(ap, types);
	res = pg_execv(p, i, what, rs_r, why, whylen, types, ap);
	va_end(ap);
	return res;
}

/* pgsql_run - pgsql_exec for a statement whose rows are not needed;
 * *n_r (may be NULL) gets the number of rows it changed */
enum store_status
pgsql_run(struct pg *p, enum pgsql_stmt i, const char *what, long long *n_r,
    char *why, size_t whylen, const char *types, ...)
{
	enum store_status rs = STORE_OK;
	PGresult *res;
	va_list ap;

	va_start(ap, types);
	res = pg_execv(p, i, what, &rs, why, whylen, types, ap);
	va_end(ap);
	if (res == NULL)
		return rs;
	if (n_r != NULL)
		*n_r = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return STORE_OK;
}

/*
 * pg_cmd - run constant text sql (transaction control, the schema, a
 * migration) with PQexec.  Outside a transaction a lost connection is
 * reset and the text run once more.  A COMMIT that the server turned into
 * a ROLLBACK (the transaction had failed) is STORE_ERROR.
 */
static enum store_status
pg_cmd(struct pg *p, const char *sql, const char *what, char *why,
    size_t whylen)
{
	PGresult *res;
	int attempt;

	for (attempt = 0;; attempt++) {
		res = PQexec(p->conn, sql);
		if (pg_ok(res))
			break;
		if (attempt == 0 && pg_lost(p)) {
			PQclear(res);
			if (pg_reset(p))
				continue;
			res = NULL;
		}
		return pgsql_fail(p, res, what, why, whylen);
	}
	if (strcmp(sql, "COMMIT") == 0 &&
	    strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		PQclear(res);
		snprintf(why, whylen, "ConsentDB %s: commit: the transaction "
		    "failed and was rolled back", p->name);
		return STORE_ERROR;
	}
	PQclear(res);
	return STORE_OK;
}

/* pgsql_begin - open a transaction with the BEGIN text sql */
enum store_status
pgsql_begin(struct pg *p, const char *sql, char *why, size_t whylen)
{
	enum store_status rs;

	if ((rs = pg_cmd(p, sql, "begin", why, whylen)) == STORE_OK)
		p->in_tx = true;
	return rs;
}

/* pgsql_end - COMMIT (ok) or ROLLBACK our transaction */
enum store_status
pgsql_end(struct pg *p, bool ok, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	char ignore[1];

	if (!p->in_tx)
		return STORE_OK;
	if (ok)
		rs = pg_cmd(p, "COMMIT", "commit", why, whylen);
	else if (PQstatus(p->conn) == CONNECTION_OK)
		(void)pg_cmd(p, "ROLLBACK", "rollback", ignore, 0);
	if (rs != STORE_OK && PQstatus(p->conn) == CONNECTION_OK &&
	    PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		(void)pg_cmd(p, "ROLLBACK", "rollback", ignore, 0);
	p->in_tx = false;
	return rs;
}

/* pgsql_tx_enter - make the following changes atomic: a transaction of our own
 * (*own_r true), or a savepoint inside the caller's */
enum store_status
pgsql_tx_enter(struct pg *p, bool *own_r, char *why, size_t whylen)
{
	*own_r = !p->in_tx;
	if (*own_r)
		return pgsql_begin(p, "BEGIN", why, whylen);
	return pg_cmd(p, "SAVEPOINT store_op", "savepoint", why, whylen);
}

/* pgsql_tx_leave - commit (ok) or undo what pgsql_tx_enter began */
enum store_status
pgsql_tx_leave(struct pg *p, bool own, bool ok, char *why, size_t whylen)
{
	enum store_status rs;
	char ignore[1];

	if (own)
		return pgsql_end(p, ok, why, whylen);
	if (ok && (rs = pg_cmd(p, "RELEASE SAVEPOINT store_op", "release",
	    why, whylen)) == STORE_OK)
		return STORE_OK;
	rs = ok ? rs : STORE_OK;
	(void)pg_cmd(p, "ROLLBACK TO SAVEPOINT store_op", "rollback", ignore,
	    0);
	(void)pg_cmd(p, "RELEASE SAVEPOINT store_op", "release", ignore, 0);
	return rs;
}

/* At most this many server warnings a minute go to the log per connection
 * (a trigger raising one per row of an import would be a line per row);
 * the rest at debug level, the count logged when the minute is over. */
#define PG_NOTICE_MAX	10

/* pg_notice_word - sev when it is one of the server's severity words, else
 * "NOTICE" (the text is the server's: it reaches the log as a word only) */
static const char *
pg_notice_word(const char *sev, bool *warn_r)
{
	static const char *const words[] = { "WARNING", "ERROR", "FATAL",
		"PANIC", "NOTICE", "INFO", "LOG", "DEBUG" };
	size_t i;

	for (i = 0; sev != NULL && i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(sev, words[i]) == 0) {
			*warn_r = i < 4;
			return words[i];
		}
	*warn_r = false;
	return "NOTICE";
}

/*
 * pg_notice - what the server says outside an answer (a NOTICE, or the
 * FATAL of a connection it ends: "terminating connection due to
 * administrator command") goes to our log, not raw to stderr as libpq's
 * default receiver prints it (a daemon's stderr is /dev/null): WARNING and
 * worse as a warning (PG_NOTICE_MAX a minute), the rest at debug level.
 * arg is the connection's struct pg_notes.
 */
static void
pg_notice(void *arg, const PGresult *res)
{
	struct pg_notes *pn = arg;
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *sev;
	char safe[512];
	time_t now;
	bool warn;

	sev = pg_notice_word(PQresultErrorField(res,
	    PG_DIAG_SEVERITY_NONLOCALIZED), &warn);
	(void)log_safe(msg != NULL ? msg : "", safe, sizeof(safe));
	if (warn) {
		now = time(NULL);
		if (now - pn->since >= 60 || now < pn->since) {
			if (pn->dropped > 0)
				log_warnx("ConsentDB %s: %u more server "
				    "warnings were not logged", pn->name,
				    pn->dropped);
			pn->since = now;
			pn->shown = pn->dropped = 0;
		}
		if (pn->shown < PG_NOTICE_MAX) {
			log_warnx("ConsentDB %s: server %s: %s", pn->name, sev,
			    safe);
			if (++pn->shown == PG_NOTICE_MAX)
				log_warnx("ConsentDB %s: further server "
				    "warnings on this connection are not "
				    "logged for a minute", pn->name);
			return;
		}
		pn->dropped++;
	}
	log_debug("ConsentDB %s: server %s: %s", pn->name, sev, safe);
}

/* pg_connect - a connection to target with our defaults (a connect
 * timeout, the program name; target's own settings win), its notices to
 * our log through pn (pn->name set; borrowed for the connection's life) */
static PGconn *
pg_connect(const char *target, struct pg_notes *pn)
{
	const char *const keys[] = { "connect_timeout",
		"fallback_application_name", "dbname", NULL };
	const char *vals[] = { "10", "optin-milter", target, NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);

	if (conn != NULL)
		(void)PQsetNoticeReceiver(conn, pg_notice, pn);
	return conn;
}

/* pgsql_close - close the connection and free the handle */
void
pgsql_close(struct store *st)
{
	struct pg *p = (struct pg *)st;

	PQfinish(p->conn);
	free(p);
}

/* pgsql_exists - does the server know the database (store_exists)? */
enum store_status
pgsql_exists(const char *target, const struct config *cfg, char *why,
    size_t whylen)
{
	char name[256];
	struct pg_notes pn = { name, 0, 0, 0 };
	PGconn *conn;
	const char *msg;
	enum store_status rs = STORE_OK;

	(void)cfg;
	store_mask(target, name, sizeof(name));
	conn = pg_connect(target, &pn);
	if (PQstatus(conn) != CONNECTION_OK) {
		msg = PQerrorMessage(conn);
		snprintf(why, whylen, "ConsentDB %s: %.*s", name,
		    (int)strcspn(msg, "\n"), msg);
		/* libpq reports the server's 3D000 only as text */
		rs = strstr(msg, "does not exist") != NULL ? STORE_NOTFOUND :
		    STORE_TEMPFAIL;
	}
	PQfinish(conn);
	return rs;
}

/* pg_schema_create - the schema in an empty database, in one
 * transaction under an advisory lock (two optinctl init at once) */
static enum store_status
pg_schema_create(struct pg *p, char *why, size_t whylen)
{
	enum store_status rs;
	PGresult *res;
	size_t i;
	bool empty;

	if ((rs = pgsql_begin(p, "BEGIN", why, whylen)) != STORE_OK)
		return rs;
	if ((rs = pgsql_run(p, P_SCHEMA_LOCK, "schema lock", NULL, why, whylen,
	    "")) != STORE_OK)
		goto out;
	if ((res = pgsql_exec(p, P_NTABLES, "schema", &rs, why, whylen, "")) ==
	    NULL)
		goto out;
	empty = pgsql_col_ll(res, 0, 0) == 0;
	PQclear(res);
	for (i = 0; empty && rs == STORE_OK && steps[i].sql != NULL; i++)
		rs = pg_cmd(p, steps[i].sql, "create schema", why, whylen);
	if (rs == STORE_OK && empty)
		p->base.created = true;
out:
	if (rs != STORE_OK) {
		(void)pgsql_end(p, false, why, 0);
		return rs;
	}
	return pgsql_end(p, true, why, whylen);
}

/* pg_setup - timeouts, then check (or create) the schema */
static enum store_status
pg_setup(struct pg *p, const struct config *cfg, unsigned flags, char *why,
    size_t whylen)
{
	enum store_status rs;
	PGresult *res;
	long long ntables, has_version;
	unsigned stmt_ms;
	int version = 0;

	stmt_ms = cfg->db_busy_timeout * 4 > 5000 ?
	    (unsigned)cfg->db_busy_timeout * 4 : 5000;
	snprintf(p->lock_ms, sizeof(p->lock_ms), "%u",
	    (unsigned)cfg->db_busy_timeout);
	snprintf(p->stmt_ms, sizeof(p->stmt_ms), "%u", stmt_ms);
	p->readonly = (flags & STORE_READONLY) != 0;
	p->sync_later = (flags & STORE_SYNC_LATER) != 0;
	res = pg_settings(p);
	if (!pg_ok(res))
		return pgsql_fail(p, res, "settings", why, whylen);
	PQclear(res);
	if ((res = pgsql_exec(p, P_NTABLES, "schema", &rs, why, whylen, "")) ==
	    NULL)
		return rs;
	ntables = pgsql_col_ll(res, 0, 0);
	has_version = pgsql_col_ll(res, 0, 1);
	PQclear(res);
	if (has_version > 0) {
		if ((res = pgsql_exec(p, P_VERSION, "schema version", &rs, why,
		    whylen, "")) == NULL)
			return rs;
		version = (int)pgsql_col_ll(res, 0, 0);
		PQclear(res);
	}
	if (version == 0) {
		if (ntables > 0) {
			snprintf(why, whylen, "ConsentDB %s: not an "
			    "optin-milter database (schema version 0)",
			    p->name);
			return STORE_ERROR;
		}
		if ((flags & STORE_CREATE) == 0 ||
		    (flags & STORE_READONLY) != 0) {
			snprintf(why, whylen, "ConsentDB %s: empty database "
			    "(create it with optinctl init)", p->name);
			return STORE_ERROR;
		}
		if ((rs = pg_schema_create(p, why, whylen)) != STORE_OK)
			return rs;
		if (!p->base.created)	/* made by someone else meanwhile */
			return pg_setup(p, cfg, flags & ~STORE_CREATE, why,
			    whylen);
		version = STORE_SCHEMA_VERSION;
	}
	p->base.version = version;
	return store_version_check(&p->base, p->name, flags, why, whylen);
}

/* pgsql_open - connect to target (a libpq URI or conninfo) */
struct store *
pgsql_open(const char *target, const struct config *cfg, unsigned flags,
    enum store_status *st_r, char *why, size_t whylen)
{
	struct pg *p;
	const char *msg;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		*st_r = STORE_TEMPFAIL;
		snprintf(why, whylen, "ConsentDB: out of memory");
		return NULL;
	}
	p->base.be = &store_pgsql_backend;
	store_mask(target, p->name, sizeof(p->name));
	p->notes.name = p->name;
	p->conn = pg_connect(target, &p->notes);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		msg = PQerrorMessage(p->conn);
		snprintf(why, whylen, "ConsentDB %s: cannot connect: %.*s",
		    p->name, (int)strcspn(msg, "\n"), msg);
		*st_r = STORE_TEMPFAIL;
		goto fail;
	}
	if ((*st_r = pg_setup(p, cfg, flags, why, whylen)) != STORE_OK)
		goto fail;
	return &p->base;
fail:
	pgsql_close(&p->base);
	return NULL;
}

/* pgsql_migrate - apply the migrations after the open version */
enum store_status
pgsql_migrate(struct store *st, int *from_r, int *to_r, char *why,
    size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs;
	size_t i;

	*from_r = *to_r = p->base.version;
	for (i = 0; steps[i].sql != NULL; i++) {
		if (steps[i].to != p->base.version + 1)
			continue;
		if ((rs = pgsql_begin(p, "BEGIN", why, whylen)) != STORE_OK)
			return rs;
		/* a failed step is rolled back and reported, never taken for
		 * done (a lock timeout of step 4's DROP INDEX included) */
		if ((rs = pg_cmd(p, steps[i].sql, "migrate", why, whylen)) !=
		    STORE_OK) {
			(void)pgsql_end(p, false, why, 0);
			return rs;
		}
		if ((rs = pgsql_end(p, true, why, whylen)) != STORE_OK)
			return rs;
		p->base.version = *to_r = steps[i].to;
	}
	if (p->base.version != STORE_SCHEMA_VERSION) {
		snprintf(why, whylen, "ConsentDB %s: no migration from schema "
		    "version %d to %d", p->name, p->base.version,
		    STORE_SCHEMA_VERSION);
		return STORE_ERROR;
	}
	return STORE_OK;
}

const char *
store_pgsql_step(int to)
{
	size_t i;

	for (i = 0; steps[i].sql != NULL; i++)
		if (steps[i].to == to)
			return steps[i].sql;
	return NULL;
}
