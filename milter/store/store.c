/*
 * store.c - the consent store's dispatch layer (store.h).
 *
 * store_open() picks the backend from ConsentDB: a plain path or
 * "sqlite:PATH" is SQLite (store_sqlite.c), the only backend built now
 * (DESIGN "Scale-out": PostgreSQL comes later behind the same interface).
 * Every other function forwards to the handle's backend.  No state of its
 * own; thread use as the backend (one handle per thread).  store_addr_hash()
 * is the one place that defines the erased form of an address.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "store-private.h"
#include "token.h"

/* Schemes that name backends not built into this program. */
static const char *const unbuilt[] = { "pgsql:", "postgresql:", "postgres:" };

struct store *
store_open(const struct config *cfg, unsigned flags, enum store_status *st_r,
    char *why, size_t whylen)
{
	const char *target;
	size_t i;

	assert(cfg != NULL && st_r != NULL);
	target = cfg->consent_db;
	if (target == NULL || *target == '\0') {
		*st_r = STORE_ERROR;
		snprintf(why, whylen, "ConsentDB is not set");
		return NULL;
	}
	for (i = 0; i < sizeof(unbuilt) / sizeof(unbuilt[0]); i++) {
		if (strncasecmp(target, unbuilt[i], strlen(unbuilt[i])) == 0) {
			*st_r = STORE_ERROR;
			snprintf(why, whylen, "ConsentDB %s: this build has "
			    "no PostgreSQL backend", unbuilt[i]);
			return NULL;
		}
	}
	if (strncasecmp(target, "sqlite:", 7) == 0)
		target += 7;
	return store_sqlite_backend.open(target, cfg, flags, st_r, why,
	    whylen);
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
	assert(list != NULL && name_r != NULL);
	return st->be->list_name(st, list, name_r, namelen, why, whylen);
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

int
store_addr_hash(const struct token_ring *ring, const char *addr,
    char out[STORE_HASH_MAX])
{
	char mac[65];

	assert(addr != NULL);
	if (ring == NULL || token_mark(ring, addr, strlen(addr), mac) < 0)
		return -1;
	snprintf(out, STORE_HASH_MAX, "%s%s", STORE_HASH_PREFIX, mac);
	return 0;
}

enum store_status
store_lookup2(struct store *st, const char *addr, const char *addr_hash,
    const char *list, struct consent_row *row_r, char *why, size_t whylen)
{
	assert(addr != NULL && list != NULL && row_r != NULL);
	return st->be->lookup2(st, addr, addr_hash, list, row_r, why, whylen);
}

enum store_status
store_begin_read(struct store *st, char *why, size_t whylen)
{
	return st->be->begin_read(st, why, whylen);
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

/* ---- feedback (schema version 2) ---- */

enum store_status
store_feedback_add(struct store *st, const struct store_feedback *fb,
    long long *id_r, char *why, size_t whylen)
{
	assert(fb != NULL && fb->kind != NULL && fb->identity != NULL);
	return st->be->feedback_add(st, fb, id_r, why, whylen);
}

enum store_status
store_feedback_count(struct store *st, const char *addr,
    const char *campaign, const char *kind, time_t since, long long *n_r,
    char *why, size_t whylen)
{
	assert(kind != NULL && n_r != NULL);
	return st->be->feedback_count(st, addr, campaign, kind, since, n_r,
	    why, whylen);
}

enum store_status
store_feedback_stats(struct store *st, time_t since, store_fbstat_fn *fn,
    void *ctx, char *why, size_t whylen)
{
	assert(fn != NULL);
	return st->be->feedback_stats(st, since, fn, ctx, why, whylen);
}

enum store_status
store_feedback_ls(struct store *st, const char *addr, time_t since,
    bool acted_only, store_fbrow_fn *fn, void *ctx, char *why, size_t whylen)
{
	assert(fn != NULL);
	return st->be->feedback_ls(st, addr, since, acted_only, fn, ctx, why,
	    whylen);
}

enum store_status
store_sent_add(struct store *st, const char *campaign, const char *list,
    long long n, char *why, size_t whylen)
{
	assert(campaign != NULL && list != NULL);
	return st->be->sent_add(st, campaign, list, n, why, whylen);
}

enum store_status
store_campaign_pause(struct store *st, const char *campaign,
    const char *reason, char *why, size_t whylen)
{
	assert(campaign != NULL && reason != NULL);
	return st->be->campaign_pause(st, campaign, reason, why, whylen);
}

enum store_status
store_campaign_paused(struct store *st, const char *campaign,
    char *reason_r, size_t reasonlen, time_t *paused_at_r, char *why,
    size_t whylen)
{
	assert(campaign != NULL);
	return st->be->campaign_paused(st, campaign, reason_r, reasonlen,
	    paused_at_r, why, whylen);
}

enum store_status
store_campaign_resume(struct store *st, const char *campaign, char *why,
    size_t whylen)
{
	assert(campaign != NULL);
	return st->be->campaign_resume(st, campaign, why, whylen);
}

enum store_status
store_campaign_ls(struct store *st, store_pause_fn *fn, void *ctx, char *why,
    size_t whylen)
{
	assert(fn != NULL);
	return st->be->campaign_ls(st, fn, ctx, why, whylen);
}
