/*
 * store_pgsql_fb.c - the feedback operations of the PostgreSQL backend
 * (store.h "Feedback", schema version 2: tables feedback, campaign_pauses,
 * campaign_sent; sql/pgsql/002-feedback.sql).  The same rows and answers
 * as store_sqlite_fb.c; the statement texts are in pgsql_stmts[]
 * (store_pgsql_conn.c), prepared once per connection, bound parameters
 * only.  Each is one statement: outside a transaction it commits by itself,
 * inside the caller's it is part of it.  A file of its own so that
 * store_pgsql.c stays under its size.  One handle per thread, as the
 * backend.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_pgsql.h"

/* str - a column's text, "" for NULL */
static const char *
str(const PGresult *res, int r, int c)
{
	const char *s = pgsql_col(res, r, c);

	return s != NULL ? s : "";
}

enum store_status
pgfb_feedback_add(struct store *st, const struct store_feedback *fb,
    long long *id_r, char *why, size_t whylen)
{
	struct pg *p = (struct pg *)st;
	enum store_status rs = STORE_OK;
	PGresult *res;

	res = pgsql_exec(p, P_FB_ADD, "feedback add", &rs, why, whylen,
	    "tttttttttil", fb->addr, fb->list, fb->campaign, fb->kind,
	    fb->status, fb->reporting_mta, fb->diagnostic, fb->arrival,
	    fb->identity, fb->acted ? 1 : 0, (long long)(fb->received_at != 0 ?
	    fb->received_at : time(NULL)));
	if (res == NULL)
		return rs;
	if (id_r != NULL)
		*id_r = pgsql_col_ll(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

enum store_status
pgfb_feedback_count(struct store *st, const char *addr, const char *campaign,
    const char *kind, time_t since, long long *n_r, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;

	*n_r = 0;
	if ((res = pgsql_exec((struct pg *)st, P_FB_COUNT, "feedback count",
	    &rs, why, whylen, "tltt", kind, (long long)since, addr,
	    campaign)) == NULL)
		return rs;
	*n_r = pgsql_col_ll(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

enum store_status
pgfb_feedback_stats(struct store *st, time_t since, store_fbstat_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	struct store_fbstat t;
	PGresult *res;
	int r;

	if ((res = pgsql_exec((struct pg *)st, P_FB_STATS, "feedback stats",
	    &rs, why, whylen, "l", (long long)since)) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		t.list = str(res, r, 0);
		t.campaign = str(res, r, 1);
		t.kind = str(res, r, 2);
		t.n = pgsql_col_ll(res, r, 3);
		if (fn(&t, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

enum store_status
pgfb_feedback_ls(struct store *st, const char *addr, time_t since,
    bool acted_only, store_fbrow_fn *fn, void *ctx, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	struct store_fbrow f;
	PGresult *res;
	int r;

	if ((res = pgsql_exec((struct pg *)st, P_FB_LS, "feedback list", &rs,
	    why, whylen, "lit", (long long)since, acted_only ? 1 : 0,
	    addr)) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		memset(&f, 0, sizeof(f));
		f.id = pgsql_col_ll(res, r, 0);
		f.fb.addr = pgsql_col(res, r, 1);
		f.fb.list = pgsql_col(res, r, 2);
		f.fb.campaign = pgsql_col(res, r, 3);
		f.fb.kind = str(res, r, 4);
		f.fb.status = pgsql_col(res, r, 5);
		f.fb.reporting_mta = pgsql_col(res, r, 6);
		f.fb.diagnostic = pgsql_col(res, r, 7);
		f.fb.arrival = pgsql_col(res, r, 8);
		f.fb.identity = str(res, r, 9);
		f.fb.acted = pgsql_col_bool(res, r, 10);
		f.fb.received_at = (time_t)pgsql_col_ll(res, r, 11);
		if (fn(&f, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

enum store_status
pgfb_sent_add(struct store *st, const char *campaign, const char *list,
    long long n, char *why, size_t whylen)
{
	return pgsql_run((struct pg *)st, P_SENT_ADD, "sent add", NULL, why,
	    whylen, "ttl", campaign, list, n);
}

enum store_status
pgfb_campaign_pause(struct store *st, const char *campaign,
    const char *reason, char *why, size_t whylen)
{
	return pgsql_run((struct pg *)st, P_PAUSE, "campaign pause", NULL, why,
	    whylen, "ttl", campaign, reason, (long long)time(NULL));
}

enum store_status
pgfb_campaign_paused(struct store *st, const char *campaign, char *reason_r,
    size_t reasonlen, time_t *paused_at_r, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	PGresult *res;

	if ((res = pgsql_exec((struct pg *)st, P_PAUSED, "campaign paused",
	    &rs, why, whylen, "t", campaign)) == NULL)
		return rs;
	if (PQntuples(res) == 0)
		rs = STORE_NOTFOUND;
	else {
		if (reason_r != NULL && reasonlen > 0)
			snprintf(reason_r, reasonlen, "%s", str(res, 0, 0));
		if (paused_at_r != NULL)
			*paused_at_r = (time_t)pgsql_col_ll(res, 0, 1);
	}
	PQclear(res);
	return rs;
}

enum store_status
pgfb_campaign_resume(struct store *st, const char *campaign, char *why,
    size_t whylen)
{
	enum store_status rs;
	long long n = 0;

	rs = pgsql_run((struct pg *)st, P_RESUME, "campaign resume", &n, why,
	    whylen, "t", campaign);
	if (rs == STORE_OK && n == 0) {
		snprintf(why, whylen, "campaign %s is not paused", campaign);
		return STORE_NOTFOUND;
	}
	return rs;
}

enum store_status
pgfb_campaign_ls(struct store *st, store_pause_fn *fn, void *ctx, char *why,
    size_t whylen)
{
	enum store_status rs = STORE_OK;
	struct store_pause ps;
	PGresult *res;
	int r;

	if ((res = pgsql_exec((struct pg *)st, P_PAUSE_LS, "campaign list",
	    &rs, why, whylen, "")) == NULL)
		return rs;
	for (r = 0; r < PQntuples(res); r++) {
		ps.campaign = str(res, r, 0);
		ps.reason = str(res, r, 1);
		ps.paused_at = (time_t)pgsql_col_ll(res, r, 2);
		if (fn(&ps, ctx) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}
