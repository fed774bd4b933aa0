/*
 * store.c - the consent store's dispatch layer (store.h).
 *
 * store_open() picks the backend from ConsentDB (store_pick): a plain path
 * or "sqlite:PATH" is SQLite (store_sqlite.c); a postgresql:// URI or a
 * libpq conninfo is PostgreSQL (store_pgsql.c).  Every other function
 * forwards to the handle's backend.  No state of its own but a per-handle
 * cache of whether legacy erased forms exist; thread use as the backend
 * (one handle per thread).  The erased forms themselves are made in
 * mark.c; which of them to look for, and the refusal to answer "not
 * erased" without the keys to tell, are in store_erased.c.  store_mask()
 * is the one place that hides a password in ConsentDB.
 */
#include "autoconf.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "store-private.h"
#include "utf8.h"

/* ConsentDB forms that name PostgreSQL; strip: the prefix is not libpq's */
static const struct {
	const char *prefix;
	bool strip;
} pg_forms[] = {
	{ "postgresql://", false }, { "postgres://", false },
	{ "pgsql:", true }, { "postgresql:", true }, { "postgres:", true },
	{ "host=", false }, { "hostaddr=", false }, { "dbname=", false },
	{ "service=", false },
};

/* store_pick - the backend ConsentDB names, and its target (ConsentDB
 * without a scheme that is ours, not libpq's) */
static const struct store_backend *
store_pick(const char *consent_db, const char **target_r)
{
	size_t i, n;

	for (i = 0; i < sizeof(pg_forms) / sizeof(pg_forms[0]); i++) {
		n = strlen(pg_forms[i].prefix);
		if (strncasecmp(consent_db, pg_forms[i].prefix, n) == 0) {
			*target_r = pg_forms[i].strip ? consent_db + n :
			    consent_db;
			return &store_pgsql_backend;
		}
	}
	*target_r = consent_db;
	if (strncasecmp(consent_db, "sqlite:", 7) == 0)
		*target_r += 7;
	return &store_sqlite_backend;
}

void
store_global_init(void)
{
	store_sqlite_global_init();
}

void
store_bulk_memory(size_t bytes)
{
	store_sqlite_bulk_memory(bytes);
}

/* store_target - the backend and target of cfg, or NULL with why filled */
static const struct store_backend *
store_target(const struct config *cfg, const char **target_r, char *why,
    size_t whylen)
{
	assert(cfg != NULL);
	if (cfg->consent_db == NULL || *cfg->consent_db == '\0') {
		snprintf(why, whylen, "ConsentDB is not set");
		return NULL;
	}
	return store_pick(cfg->consent_db, target_r);
}

struct store *
store_open(const struct config *cfg, unsigned flags, enum store_status *st_r,
    char *why, size_t whylen)
{
	const struct store_backend *be;
	const char *target;

	assert(st_r != NULL);
	if ((be = store_target(cfg, &target, why, whylen)) == NULL) {
		*st_r = STORE_ERROR;
		return NULL;
	}
	return be->open(target, cfg, flags, st_r, why, whylen);
}

enum store_status
store_exists(const struct config *cfg, char *why, size_t whylen)
{
	const struct store_backend *be;
	const char *target;

	if ((be = store_target(cfg, &target, why, whylen)) == NULL)
		return STORE_ERROR;
	return be->exists(target, cfg, why, whylen);
}

enum store_access
store_access(const struct config *cfg, int *errno_r)
{
	const struct store_backend *be;
	const char *target;
	char why[256];

	if (errno_r != NULL)
		*errno_r = 0;
	if ((be = store_target(cfg, &target, why, sizeof(why))) == NULL ||
	    be->access == NULL)
		return STORE_ACCESS_OK;
	return be->access(target, errno_r);
}

const char *
store_warning(const struct store *st)
{
	return st->warning[0] != '\0' ? st->warning : NULL;
}

const char *
store_engine(const struct store *st)
{
	return st->be->name;
}

/* mask_value - the length of the conninfo value at p (quoted or bare) */
static size_t
mask_value(const char *p)
{
	size_t n = 0;

	if (*p == '\'') {
		for (n = 1; p[n] != '\0' && p[n] != '\''; n++)
			if (p[n] == '\\' && p[n + 1] != '\0')
				n++;
		return p[n] == '\'' ? n + 1 : n;
	}
	while (p[n] != '\0' && !isspace((unsigned char)p[n]) && p[n] != '&')
		n++;
	return n;
}

void
store_mask(const char *consent_db, char *out, size_t outlen)
{
	const char *p = consent_db, *auth, *at, *colon, *end, *v;
	size_t o = 0, n;

	if (outlen == 0)
		return;
#define PUT(s, len) do { \
	size_t l_ = (len); \
	if (l_ > outlen - 1 - o) \
		l_ = outlen - 1 - o; \
	memcpy(out + o, (s), l_); \
	o += l_; \
} while (0)
	/* URI user info: scheme://user:PASSWORD@host */
	if ((auth = strstr(p, "://")) != NULL) {
		auth += 3;
		end = auth + strcspn(auth, "/?");
		at = NULL;
		for (v = auth; v < end; v++)
			if (*v == '@')
				at = v;
		colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) :
		    NULL;
		if (colon != NULL) {
			PUT(p, (size_t)(colon + 1 - p));
			PUT("***", 3);
			p = at;
		}
	}
	/* password=VALUE in a conninfo or a URI query */
	while (*p != '\0') {
		if (strncasecmp(p, "password", 8) == 0 && (p == consent_db ||
		    strchr(" \t?&", p[-1]) != NULL)) {
			v = p + 8;
			while (*v == ' ' || *v == '\t')
				v++;
			if (*v == '=') {
				v++;
				while (*v == ' ' || *v == '\t')
					v++;
				PUT(p, (size_t)(v - p));
				PUT("***", 3);
				p = v + mask_value(v);
				continue;
			}
		}
		n = 1;
		PUT(p, n);
		p += n;
	}
#undef PUT
	out[o] = '\0';
}

void
store_close(struct store **stp)
{
	if (stp == NULL || *stp == NULL)
		return;
	(*stp)->be->close(*stp);
	*stp = NULL;
}

bool
store_created(const struct store *st)
{
	return st->created;
}

int
store_version(const struct store *st)
{
	return st->version;
}

enum store_status
store_migrate(struct store *st, int *from_r, int *to_r, char *why,
    size_t whylen)
{
	return st->be->migrate(st, from_r, to_r, why, whylen);
}

enum store_status
store_lookup(struct store *st, const char *addr, const char *list,
    struct consent_row *row_r, char *why, size_t whylen)
{
	assert(addr != NULL && list != NULL && row_r != NULL);
	return st->be->lookup(st, addr, list, row_r, why, whylen);
}

enum store_status
store_begin(struct store *st, char *why, size_t whylen)
{
	return st->be->begin(st, why, whylen);
}

enum store_status
store_begin_change(struct store *st, char *why, size_t whylen)
{
	if (st->be->begin_change == NULL)
		return st->be->begin(st, why, whylen);
	return st->be->begin_change(st, why, whylen);
}

enum store_status
store_commit(struct store *st, char *why, size_t whylen)
{
	return st->be->commit(st, why, whylen);
}

void
store_rollback(struct store *st)
{
	st->be->rollback(st);
}

enum store_status
store_list_exists(struct store *st, const char *list, bool *double_opt_in_r,
    char *why, size_t whylen)
{
	assert(list != NULL);
	return st->be->list_exists(st, list, double_opt_in_r, why, whylen);
}

enum store_status
store_list_name(struct store *st, const char *list, char *name_r,
    size_t namelen, char *why, size_t whylen)
{
	enum store_status rs;

	assert(list != NULL && name_r != NULL);
	if ((rs = st->be->list_name(st, list, name_r, namelen, why,
	    whylen)) == STORE_OK)
		(void)utf8_cut(name_r);	/* the engine cut it to namelen */
	return rs;
}

enum store_status
store_list_add(struct store *st, const char *list, const char *name,
    bool double_opt_in, char *why, size_t whylen)
{
	assert(list != NULL);
	return st->be->list_add(st, list, name, double_opt_in, why, whylen);
}

enum store_status
store_list_ls(struct store *st, store_list_fn *fn, void *ctx, char *why,
    size_t whylen)
{
	assert(fn != NULL);
	return st->be->list_ls(st, fn, ctx, why, whylen);
}

enum store_status
store_set_status(struct store *st, const char *addr, const char *list,
    enum sub_status status, const struct consent_event *ev, char *why,
    size_t whylen)
{
	assert(addr != NULL && list != NULL);
	return st->be->set_status(st, addr, list, status, ev, why, whylen);
}

enum store_status
store_set_status_batch(struct store *st, struct store_status_change *v,
    size_t n, char *why, size_t whylen)
{
	enum store_status rs = STORE_OK;
	size_t i;

	assert(v != NULL || n == 0);
	for (i = 0; i < n; i++) {
		assert(v[i].addr != NULL && v[i].list != NULL);
		if (store_status_settable(v[i].status, why, whylen) == NULL)
			return STORE_ERROR;
		v[i].rs = STORE_OK;
	}
	if (n > 0 && st->be->set_status_batch != NULL)
		return st->be->set_status_batch(st, v, n, why, whylen);
	for (i = 0; i < n; i++) {
		rs = st->be->set_status(st, v[i].addr, v[i].list, v[i].status,
		    v[i].ev, why, whylen);
		if (rs != STORE_OK && rs != STORE_NOTFOUND)
			return rs;
		v[i].rs = rs;
	}
	return STORE_OK;
}

enum store_status
store_suppress(struct store *st, const char *addr, const char *reason,
    const struct consent_event *ev, char *why, size_t whylen)
{
	assert(addr != NULL && reason != NULL);
	return st->be->suppress(st, addr, reason, ev, why, whylen);
}

enum store_status
store_suppression(struct store *st, const char *addr, char *reason_r,
    size_t reasonlen, time_t *created_at_r, char *why, size_t whylen)
{
	assert(addr != NULL);
	return st->be->suppression(st, addr, reason_r, reasonlen,
	    created_at_r, why, whylen);
}

enum store_status
store_subscriptions(struct store *st, const char *addr, store_sub_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	assert(addr != NULL && fn != NULL);
	return st->be->subscriptions(st, addr, fn, ctx, why, whylen);
}

enum store_status
store_quarantine_add(struct store *st, const struct quarantine_row *row,
    long long *id_r, char *why, size_t whylen)
{
	assert(row != NULL);
	return st->be->quarantine_add(st, row, id_r, why, whylen);
}

enum store_status
store_begin_read(struct store *st, char *why, size_t whylen)
{
	return st->be->begin_read(st, why, whylen);
}

enum store_status
store_reads_begin(struct store *st, char *why, size_t whylen)
{
	if (!st->be->group_reads)
		return STORE_OK;
	return st->be->begin_read(st, why, whylen);
}

void
store_reads_end(struct store *st)
{
	if (st->be->group_reads)
		st->be->rollback(st);
}

enum store_status
store_import_set(struct store *st, const char *addr, const char *list,
    enum sub_status status, unsigned flags, time_t consented_at,
    const struct consent_event *ev, enum sub_status *old_r, time_t *old_at_r,
    bool *changed_r, char *why, size_t whylen)
{
	assert(addr != NULL && list != NULL && old_r != NULL &&
	    changed_r != NULL);
	return st->be->import_set(st, addr, list, status, flags, consented_at,
	    ev, old_r, old_at_r, changed_r, why, whylen);
}

enum store_status
store_suppression_count(struct store *st, const char *reason,
    long long *n_r, char *why, size_t whylen)
{
	assert(reason != NULL && n_r != NULL);
	return st->be->suppression_count(st, reason, n_r, why, whylen);
}

enum store_status
store_events(struct store *st, const char *addr, store_event_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	assert(addr != NULL && fn != NULL);
	return st->be->events(st, addr, fn, ctx, why, whylen);
}

enum store_status
store_ever_opted_in(struct store *st, const char *addr, const char *list,
    bool *yes_r, char *why, size_t whylen)
{
	assert(addr != NULL && list != NULL && yes_r != NULL);
	return st->be->ever_opted_in(st, addr, list, yes_r, why, whylen);
}

enum store_status
store_forget(struct store *st, const char *addr, const char *addr_hash,
    const struct consent_event *ev, struct store_forget_counts *n_r,
    char *why, size_t whylen)
{
	assert(addr != NULL && addr_hash != NULL);
	return st->be->forget(st, addr, addr_hash, ev, n_r, why, whylen);
}

enum store_status
store_quarantine_ls(struct store *st, const struct store_qfilter *f,
    store_qrow_fn *fn, void *ctx, char *why, size_t whylen)
{
	assert(fn != NULL);
	return st->be->quarantine_ls(st, f, fn, ctx, why, whylen);
}

enum store_status
store_quarantine_released(struct store *st, long long id, time_t when,
    char *why, size_t whylen)
{
	return st->be->quarantine_released(st, id, when, why, whylen);
}

enum store_status
store_quarantine_del(struct store *st, long long id, char *why,
    size_t whylen)
{
	return st->be->quarantine_del(st, id, why, whylen);
}

enum store_status
store_spool_refs(struct store *st, const char *spool_file, long long *n_r,
    char *why, size_t whylen)
{
	assert(spool_file != NULL && n_r != NULL);
	return st->be->spool_refs(st, spool_file, n_r, why, whylen);
}

enum store_status
store_members(struct store *st, const char *list, bool opt_outs_only,
    store_member_fn *fn, void *ctx, char *why, size_t whylen)
{
	assert(fn != NULL);
	return st->be->members(st, list, opt_outs_only, fn, ctx, why, whylen);
}

enum store_status
store_opt_out_addrs(struct store *st, const char *list, store_addr_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	assert(fn != NULL);
	return st->be->opt_out_addrs(st, list, fn, ctx, why, whylen);
}

enum store_status
store_stats(struct store *st, time_t since, store_stat_fn *fn, void *ctx,
    char *why, size_t whylen)
{
	assert(fn != NULL);
	return st->be->stats(st, since, fn, ctx, why, whylen);
}

enum store_status
store_checkpoint(struct store *st, char *why, size_t whylen)
{
	return st->be->checkpoint(st, why, whylen);
}

enum store_status
store_sync(struct store *st, char *why, size_t whylen)
{
	return st->be->sync != NULL ? st->be->sync(st, why, whylen) :
	    STORE_OK;
}

enum store_status
store_wal_backfill(struct store *st, char *why, size_t whylen)
{
	return st->be->wal_backfill != NULL ? st->be->wal_backfill(st, why,
	    whylen) : STORE_OK;
}

enum store_status
store_event_add(struct store *st, const struct consent_event *ev, char *why,
    size_t whylen)
{
	assert(ev != NULL && ev->addr != NULL && ev->event != NULL);
	return st->be->event_add(st, ev, why, whylen);
}

enum store_status
store_unsuppress(struct store *st, const char *key,
    const struct consent_event *ev, char *why, size_t whylen)
{
	assert(key != NULL);
	return st->be->unsuppress(st, key, ev, why, whylen);
}

void
store_set_agent(struct store *st, const char *agent)
{
	st->agent = agent;
}

enum store_status
store_table_rows(struct store *st, const char *table, store_row_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	const struct store_table *tab;

	assert(fn != NULL);
	if ((tab = store_table_find(table, why, whylen)) == NULL)
		return STORE_ERROR;
	return st->be->table_rows(st, tab, fn, ctx, why, whylen);
}

bool
store_table_row_ok(const char *table, const char *const *vals, char *why,
    size_t whylen)
{
	const struct store_table *tab;

	assert(vals != NULL);
	return (tab = store_table_find(table, why, whylen)) != NULL &&
	    store_row_check(tab, vals, why, whylen);
}

enum store_status
store_table_put(struct store *st, const char *table, const char *const *vals,
    bool *refused_r, char *why, size_t whylen)
{
	const struct store_table *tab;
	enum store_status rs;
	bool refused = false;
	char msg[512], safe[128];

	assert(vals != NULL);
	if ((tab = store_table_find(table, why, whylen)) == NULL)
		rs = STORE_ERROR;
	else if (!store_row_check(tab, vals, why, whylen)) {
		refused = true;
		rs = STORE_ERROR;
	} else if ((rs = st->be->table_put(st, tab, vals, &refused, why,
	    whylen)) != STORE_OK && refused) {
		/* the engine's message names neither the row nor a value */
		snprintf(msg, sizeof(msg), "%s", why);
		snprintf(why, whylen, "%s row '%s': refused by the target: %s",
		    tab->name, log_safe(vals[0] != NULL ? vals[0] : "",
		    safe, sizeof(safe)), msg);
	}
	if (refused_r != NULL)
		*refused_r = refused;
	return rs;
}

enum store_status
store_table_done(struct store *st, const char *table, char *why,
    size_t whylen)
{
	const struct store_table *tab;

	if ((tab = store_table_find(table, why, whylen)) == NULL)
		return STORE_ERROR;
	return st->be->table_done(st, tab, why, whylen);
}

enum store_status
store_table_count(struct store *st, const char *table, long long *n_r,
    char *why, size_t whylen)
{
	const struct store_table *tab;

	assert(n_r != NULL);
	if ((tab = store_table_find(table, why, whylen)) == NULL)
		return STORE_ERROR;
	return st->be->table_count(st, tab, n_r, why, whylen);
}

enum store_status
store_table_lock(struct store *st, const char *table, char *why,
    size_t whylen)
{
	const struct store_table *tab;

	if ((tab = store_table_find(table, why, whylen)) == NULL)
		return STORE_ERROR;
	return st->be->table_lock(st, tab, why, whylen);
}

/* ---- feedback (schema version 2) ---- */

/*
 * no_feedback - an engine without the feedback tables (both engines have
 * them since schema version 2): a clear error, never a guess; the milter
 * maps it to OnDBError.
 */
static enum store_status
no_feedback(const struct store *st, char *why, size_t whylen)
{
	snprintf(why, whylen, "the %s store has no feedback tables yet "
	    "(bounces, complaints, campaign pauses)", st->be->name);
	return STORE_ERROR;
}

enum store_status
store_feedback_add(struct store *st, const struct store_feedback *fb,
    long long *id_r, char *why, size_t whylen)
{
	assert(fb != NULL && fb->kind != NULL && fb->identity != NULL);
	if (st->be->feedback_add == NULL)
		return no_feedback(st, why, whylen);
	if (!store_kind_check(fb->kind, why, whylen))
		return STORE_ERROR;
	return st->be->feedback_add(st, fb, id_r, why, whylen);
}

enum store_status
store_feedback_count(struct store *st, const char *addr,
    const char *campaign, const char *kind, time_t since, long long *n_r,
    char *why, size_t whylen)
{
	assert(kind != NULL && n_r != NULL);
	if (st->be->feedback_count == NULL)
		return no_feedback(st, why, whylen);
	return st->be->feedback_count(st, addr, campaign, kind, since, n_r,
	    why, whylen);
}

enum store_status
store_feedback_stats(struct store *st, time_t since, store_fbstat_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	assert(fn != NULL);
	if (st->be->feedback_stats == NULL)
		return no_feedback(st, why, whylen);
	return st->be->feedback_stats(st, since, fn, ctx, why, whylen);
}

enum store_status
store_feedback_ls(struct store *st, const char *addr, time_t since,
    bool acted_only, store_fbrow_fn *fn, void *ctx, char *why, size_t whylen)
{
	assert(fn != NULL);
	if (st->be->feedback_ls == NULL)
		return no_feedback(st, why, whylen);
	return st->be->feedback_ls(st, addr, since, acted_only, fn, ctx, why,
	    whylen);
}

enum store_status
store_sent_add(struct store *st, const char *campaign, const char *list,
    long long n, char *why, size_t whylen)
{
	assert(campaign != NULL && list != NULL);
	if (st->be->sent_add == NULL)
		return no_feedback(st, why, whylen);
	return st->be->sent_add(st, campaign, list, n, why, whylen);
}

enum store_status
store_campaign_pause(struct store *st, const char *campaign,
    const char *reason, char *why, size_t whylen)
{
	assert(campaign != NULL && reason != NULL);
	if (st->be->campaign_pause == NULL)
		return no_feedback(st, why, whylen);
	return st->be->campaign_pause(st, campaign, reason, why, whylen);
}

bool
store_has_feedback(const struct store *st)
{
	return st->be->campaign_paused != NULL;
}

enum store_status
store_campaign_paused(struct store *st, const char *campaign,
    char *reason_r, size_t reasonlen, time_t *paused_at_r, char *why,
    size_t whylen)
{
	assert(campaign != NULL);
	if (st->be->campaign_paused == NULL)
		return no_feedback(st, why, whylen);
	return st->be->campaign_paused(st, campaign, reason_r, reasonlen,
	    paused_at_r, why, whylen);
}

enum store_status
store_campaign_resume(struct store *st, const char *campaign, char *why,
    size_t whylen)
{
	assert(campaign != NULL);
	if (st->be->campaign_resume == NULL)
		return no_feedback(st, why, whylen);
	return st->be->campaign_resume(st, campaign, why, whylen);
}

enum store_status
store_campaign_ls(struct store *st, store_pause_fn *fn, void *ctx, char *why,
    size_t whylen)
{
	assert(fn != NULL);
	if (st->be->campaign_ls == NULL)
		return no_feedback(st, why, whylen);
	return st->be->campaign_ls(st, fn, ctx, why, whylen);
}

/* ---- hand-over records (SQLite schema version 3) ---- */

static const char *const handover_words[] = {
	[STORE_HANDOVER_CLAIMED] = "claimed",
	[STORE_HANDOVER_DONE] = "done",
	[STORE_HANDOVER_QUARANTINED] = "quarantined",
};

const char *
store_handover_state_str(enum store_handover_state s)
{
	if (s <= STORE_HANDOVER_NONE || s > STORE_HANDOVER_QUARANTINED)
		return NULL;
	return handover_words[s];
}

enum store_handover_state
store_handover_state_parse(const char *word)
{
	int s;

	for (s = STORE_HANDOVER_CLAIMED; word != NULL &&
	    s <= STORE_HANDOVER_QUARANTINED; s++)
		if (strcmp(word, handover_words[s]) == 0)
			return (enum store_handover_state)s;
	return STORE_HANDOVER_NONE;
}

/* no_handover - an engine without the hand-over table */
static enum store_status
no_handover(const struct store *st, char *why, size_t whylen)
{
	snprintf(why, whylen, "the %s store has no hand-over table",
	    st->be->name);
	return STORE_ERROR;
}

enum store_status
store_handover_claim(struct store *st, const char *key, const char *recipient,
    enum store_handover_state state, const char *queue_id, time_t now,
    struct store_handover *old_r, char *why, size_t whylen)
{
	assert(key != NULL && recipient != NULL && old_r != NULL);
	assert(state == STORE_HANDOVER_CLAIMED ||
	    state == STORE_HANDOVER_QUARANTINED);
	if (st->be->handover_claim == NULL)
		return no_handover(st, why, whylen);
	return st->be->handover_claim(st, key, recipient, state, queue_id, now,
	    old_r, why, whylen);
}

enum store_status
store_handover_set(struct store *st, const char *key, const char *recipient,
    enum store_handover_state state, time_t now, char *why, size_t whylen)
{
	assert(key != NULL && recipient != NULL);
	assert(state == STORE_HANDOVER_DONE ||
	    state == STORE_HANDOVER_QUARANTINED);
	if (st->be->handover_set == NULL)
		return no_handover(st, why, whylen);
	return st->be->handover_set(st, key, recipient, state, now, why,
	    whylen);
}

enum store_status
store_handover_purge(struct store *st, time_t before, long long *n_r,
    char *why, size_t whylen)
{
	if (st->be->handover_purge == NULL)
		return no_handover(st, why, whylen);
	return st->be->handover_purge(st, before, n_r, why, whylen);
}
