/*
 * store_sqlite_fb.c - the feedback operations of the SQLite backend
 * (store.h "Feedback", schema version 2: tables feedback, campaign_pauses,
 * campaign_sent), and its split hand-over records (store.h "Hand-over
 * records", schema version 3: table handover).
 *
 * A file of its own beside store_sqlite.c (which is past its size): it
 * borrows the connection with store_sqlite_db() and maps errors with
 * store_sqlite_fail() (busy or locked past DBBusyTimeout: STORE_TEMPFAIL).
 * Statements are prepared per call (reports arrive one per process run),
 * except store_campaign_paused(): the milter asks it for every campaign
 * message, so it is the handle's kept statement STMT_PAUSED (parsing it
 * again was a third of SQLite's share of a message).  Bound parameters only.
 * One handle per thread, as the backend.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store-private.h"
#include "store_sqlite.h"

/* fb_prep - prepare sql on st's connection; refused (STORE_TEMPFAIL) once
 * the file was replaced, as stmt_get() refuses */
static enum store_status
fb_prep(struct store *st, const char *sql, sqlite3_stmt **stmt_r,
    const char *what, char *why, size_t whylen)
{
	int rc;

	rc = sqlite3_prepare_v2(store_sqlite_db(st), sql, -1, stmt_r, NULL);
	if (rc == SQLITE_OK && store_sqlite_replaced(st, *stmt_r)) {
		(void)sqlite3_finalize(*stmt_r);
		rc = SQLITE_CANTOPEN;
	}
	if (rc != SQLITE_OK)
		return store_sqlite_fail(st, rc, what, why, whylen);
	return STORE_OK;
}

/* fb_text - bind text (NULL binds NULL) */
static void
fb_text(sqlite3_stmt *stmt, int i, const char *s)
{
	(void)sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
}

/* fb_str - column i as text, "" for NULL */
static const char *
fb_str(sqlite3_stmt *stmt, int i)
{
	const char *s = (const char *)sqlite3_column_text(stmt, i);

	return s != NULL ? s : "";
}

/* fb_done - finalize stmt after a run that ended with rc (SQLITE_DONE:
 * fine) */
static enum store_status
fb_done(struct store *st, sqlite3_stmt *stmt, int rc, const char *what,
    char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;

	if (rc != SQLITE_DONE)
		rs = store_sqlite_fail(st, rc, what, why, whylen);
	(void)sqlite3_finalize(stmt);
	return rs;
}

enum store_status
sqfb_feedback_add(struct store *st, const struct store_feedback *fb,
    long long *id_r, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;
	int rc;

	rs = fb_prep(st, "INSERT INTO feedback (address, list_id, campaign,"
	    " kind, status, reporting_mta, diagnostic, arrival, identity,"
	    " acted, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
	    " ?9, ?10, ?11)", &stmt, "feedback add", why, whylen);
	if (rs != STORE_OK)
		return rs;
	fb_text(stmt, 1, fb->addr);
	fb_text(stmt, 2, fb->list);
	fb_text(stmt, 3, fb->campaign);
	fb_text(stmt, 4, fb->kind);
	fb_text(stmt, 5, fb->status);
	fb_text(stmt, 6, fb->reporting_mta);
	fb_text(stmt, 7, fb->diagnostic);
	fb_text(stmt, 8, fb->arrival);
	fb_text(stmt, 9, fb->identity);
	(void)sqlite3_bind_int(stmt, 10, fb->acted ? 1 : 0);
	(void)sqlite3_bind_int64(stmt, 11, fb->received_at != 0 ?
	    (sqlite3_int64)fb->received_at : (sqlite3_int64)time(NULL));
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE && id_r != NULL)
		*id_r = sqlite3_last_insert_rowid(store_sqlite_db(st));
	return fb_done(st, stmt, rc, "feedback add", why, whylen);
}

enum store_status
sqfb_feedback_count(struct store *st, const char *addr, const char *campaign,
    const char *kind, time_t since, long long *n_r, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;
	int rc;

	*n_r = 0;
	rs = fb_prep(st, "SELECT count(*) FROM feedback WHERE kind = ?1"
	    " AND received_at >= ?2 AND (?3 IS NULL OR address = ?3)"
	    " AND (?4 IS NULL OR campaign = ?4)", &stmt, "feedback count",
	    why, whylen);
	if (rs != STORE_OK)
		return rs;
	fb_text(stmt, 1, kind);
	(void)sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since);
	fb_text(stmt, 3, addr);
	fb_text(stmt, 4, campaign);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*n_r = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_DONE;
	}
	return fb_done(st, stmt, rc, "feedback count", why, whylen);
}

enum store_status
sqfb_feedback_stats(struct store *st, time_t since, store_fbstat_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	struct store_fbstat t;
	sqlite3_stmt *stmt;
	enum store_status rs;
	int rc;

	rs = fb_prep(st, "SELECT coalesce(list_id, ''), coalesce(campaign, ''),"
	    " kind, count(*) FROM feedback WHERE received_at >= ?1"
	    " GROUP BY 1, 2, 3"
	    " UNION ALL SELECT list_id, campaign, 'sent', sent"
	    " FROM campaign_sent ORDER BY 1, 2, 3", &stmt, "feedback stats",
	    why, whylen);
	if (rs != STORE_OK)
		return rs;
	(void)sqlite3_bind_int64(stmt, 1, (sqlite3_int64)since);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		t.list = fb_str(stmt, 0);
		t.campaign = fb_str(stmt, 1);
		t.kind = fb_str(stmt, 2);
		t.n = sqlite3_column_int64(stmt, 3);
		if (fn(&t, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return fb_done(st, stmt, rc, "feedback stats", why, whylen);
}

enum store_status
sqfb_feedback_ls(struct store *st, const char *addr, time_t since,
    bool acted_only, store_fbrow_fn *fn, void *ctx, char *why, size_t whylen)
{
	struct store_fbrow r;
	sqlite3_stmt *stmt;
	enum store_status rs;
	int rc;

	rs = fb_prep(st, "SELECT id, address, list_id, campaign, kind, status,"
	    " reporting_mta, diagnostic, arrival, identity, acted, received_at"
	    " FROM feedback WHERE received_at >= ?1 AND (?2 = 0 OR acted = 1)"
	    " AND (?3 IS NULL OR address = ?3) ORDER BY id", &stmt, "feedback list", why, whylen);
	if (rs != STORE_OK)
		return rs;
	(void)sqlite3_bind_int64(stmt, 1, (sqlite3_int64)since);
	(void)sqlite3_bind_int(stmt, 2, acted_only ? 1 : 0);
	fb_text(stmt, 3, addr);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.id = sqlite3_column_int64(stmt, 0);
		r.fb.addr = (const char *)sqlite3_column_text(stmt, 1);
		r.fb.list = (const char *)sqlite3_column_text(stmt, 2);
		r.fb.campaign = (const char *)sqlite3_column_text(stmt, 3);
		r.fb.kind = fb_str(stmt, 4);
		r.fb.status = (const char *)sqlite3_column_text(stmt, 5);
		r.fb.reporting_mta = (const char *)sqlite3_column_text(stmt, 6);
		r.fb.diagnostic = (const char *)sqlite3_column_text(stmt, 7);
		r.fb.arrival = (const char *)sqlite3_column_text(stmt, 8);
		r.fb.identity = fb_str(stmt, 9);
		r.fb.acted = sqlite3_column_int(stmt, 10) != 0;
		r.fb.received_at = (time_t)sqlite3_column_int64(stmt, 11);
		if (fn(&r, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return fb_done(st, stmt, rc, "feedback list", why, whylen);
}

enum store_status
sqfb_sent_add(struct store *st, const char *campaign, const char *list,
    long long n, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;

	rs = fb_prep(st, "INSERT INTO campaign_sent (campaign, list_id, sent)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (campaign, list_id) DO UPDATE"
	    " SET sent = sent + excluded.sent", &stmt, "sent add", why,
	    whylen);
	if (rs != STORE_OK)
		return rs;
	fb_text(stmt, 1, campaign);
	fb_text(stmt, 2, list);
	(void)sqlite3_bind_int64(stmt, 3, (sqlite3_int64)n);
	return fb_done(st, stmt, sqlite3_step(stmt), "sent add", why, whylen);
}

enum store_status
sqfb_campaign_pause(struct store *st, const char *campaign,
    const char *reason, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;

	rs = fb_prep(st, "INSERT INTO campaign_pauses (campaign, reason,"
	    " paused_at) VALUES (?1, ?2, ?3) ON CONFLICT (campaign) DO NOTHING",
	    &stmt, "campaign pause", why, whylen);
	if (rs != STORE_OK)
		return rs;
	fb_text(stmt, 1, campaign);
	fb_text(stmt, 2, reason);
	(void)sqlite3_bind_int64(stmt, 3, (sqlite3_int64)time(NULL));
	return fb_done(st, stmt, sqlite3_step(stmt), "campaign pause", why,
	    whylen);
}

enum store_status
sqfb_campaign_paused(struct store *st, const char *campaign, char *reason_r,
    size_t reasonlen, time_t *paused_at_r, char *why, size_t whylen)
{
	struct sq *s = (struct sq *)st;
	sqlite3_stmt *stmt;
	enum store_status rs;
	int rc;

	if ((rc = stmt_start(s, STMT_PAUSED, &stmt, "t", campaign)) !=
	    SQLITE_OK)
		return sq_fail(s, rc, "campaign paused", why, whylen);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (reason_r != NULL && reasonlen > 0)
			snprintf(reason_r, reasonlen, "%s", fb_str(stmt, 0));
		if (paused_at_r != NULL)
			*paused_at_r = (time_t)sqlite3_column_int64(stmt, 1);
		stmt_done(stmt);
		return STORE_OK;
	}
	rs = rc == SQLITE_DONE ? STORE_NOTFOUND :
	    sq_fail(s, rc, "campaign paused", why, whylen);
	stmt_done(stmt);
	return rs;
}

enum store_status
sqfb_campaign_resume(struct store *st, const char *campaign, char *why,
    size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;

	rs = fb_prep(st, "DELETE FROM campaign_pauses WHERE campaign = ?1",
	    &stmt, "campaign resume", why, whylen);
	if (rs != STORE_OK)
		return rs;
	fb_text(stmt, 1, campaign);
	rs = fb_done(st, stmt, sqlite3_step(stmt), "campaign resume", why,
	    whylen);
	if (rs == STORE_OK && sqlite3_changes(store_sqlite_db(st)) == 0) {
		snprintf(why, whylen, "campaign %s is not paused", campaign);
		return STORE_NOTFOUND;
	}
	return rs;
}

enum store_status
sqfb_campaign_ls(struct store *st, store_pause_fn *fn, void *ctx, char *why,
    size_t whylen)
{
	struct store_pause p;
	sqlite3_stmt *stmt;
	enum store_status rs;
	int rc;

	rs = fb_prep(st, "SELECT campaign, reason, paused_at FROM"
	    " campaign_pauses ORDER BY campaign", &stmt, "campaign list", why,
	    whylen);
	if (rs != STORE_OK)
		return rs;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		p.campaign = fb_str(stmt, 0);
		p.reason = fb_str(stmt, 1);
		p.paused_at = (time_t)sqlite3_column_int64(stmt, 2);
		if (fn(&p, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	return fb_done(st, stmt, rc, "campaign list", why, whylen);
}

/* ---- hand-over records (schema version 3) ---- */

/* ho_get - the record (key, recipient) into *h (NONE when there is none) */
static enum store_status
ho_get(struct store *st, const char *key, const char *recipient,
    struct store_handover *h, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;
	const char *q;
	int rc;

	memset(h, 0, sizeof(*h));
	rs = fb_prep(st, "SELECT state, queue_id, claimed_at, updated_at"
	    " FROM handover WHERE msg_key = ?1 AND recipient = ?2", &stmt,
	    "handover get", why, whylen);
	if (rs != STORE_OK)
		return rs;
	fb_text(stmt, 1, key);
	fb_text(stmt, 2, recipient);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		h->state = store_handover_state_parse((const char *)
		    sqlite3_column_text(stmt, 0));
		q = (const char *)sqlite3_column_text(stmt, 1);
		snprintf(h->queue_id, sizeof(h->queue_id), "%s", q ? q : "");
		h->claimed_at = (time_t)sqlite3_column_int64(stmt, 2);
		h->updated_at = (time_t)sqlite3_column_int64(stmt, 3);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		rs = store_sqlite_fail(st, rc, "handover get", why, whylen);
	(void)sqlite3_finalize(stmt);
	return rs;
}

enum store_status
sqho_handover_claim(struct store *st, const char *key, const char *recipient,
    enum store_handover_state state, const char *queue_id, time_t now,
    struct store_handover *old_r, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;

	rs = fb_prep(st, "INSERT INTO handover (msg_key, recipient, state,"
	    " queue_id, claimed_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5,"
	    " ?5) ON CONFLICT (msg_key, recipient) DO NOTHING", &stmt,
	    "handover claim", why, whylen);
	if (rs != STORE_OK)
		return rs;
	fb_text(stmt, 1, key);
	fb_text(stmt, 2, recipient);
	fb_text(stmt, 3, store_handover_state_str(state));
	fb_text(stmt, 4, queue_id);
	(void)sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
	rs = fb_done(st, stmt, sqlite3_step(stmt), "handover claim", why,
	    whylen);
	if (rs != STORE_OK)
		return rs;
	if (sqlite3_changes(store_sqlite_db(st)) == 1) {
		memset(old_r, 0, sizeof(*old_r));
		return STORE_OK;
	}
	return ho_get(st, key, recipient, old_r, why, whylen);
}

enum store_status
sqho_handover_set(struct store *st, const char *key, const char *recipient,
    enum store_handover_state state, time_t now, char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;

	rs = fb_prep(st, "UPDATE handover SET state = ?3, updated_at = ?4"
	    " WHERE msg_key = ?1 AND recipient = ?2", &stmt, "handover set",
	    why, whylen);
	if (rs != STORE_OK)
		return rs;
	fb_text(stmt, 1, key);
	fb_text(stmt, 2, recipient);
	fb_text(stmt, 3, store_handover_state_str(state));
	(void)sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
	rs = fb_done(st, stmt, sqlite3_step(stmt), "handover set", why,
	    whylen);
	if (rs != STORE_OK)
		return rs;
	if (sqlite3_changes(store_sqlite_db(st)) == 0) {
		snprintf(why, whylen, "no hand-over record");
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

enum store_status
sqho_handover_purge(struct store *st, time_t before, long long *n_r,
    char *why, size_t whylen)
{
	sqlite3_stmt *stmt;
	enum store_status rs;

	rs = fb_prep(st, "DELETE FROM handover WHERE updated_at < ?1", &stmt,
	    "handover purge", why, whylen);
	if (rs != STORE_OK)
		return rs;
	(void)sqlite3_bind_int64(stmt, 1, (sqlite3_int64)before);
	rs = fb_done(st, stmt, sqlite3_step(stmt), "handover purge", why,
	    whylen);
	if (rs != STORE_OK)
		return rs;
	if (n_r != NULL)
		*n_r = sqlite3_changes(store_sqlite_db(st));
	return STORE_OK;
}
