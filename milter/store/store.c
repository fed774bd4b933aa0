/*
 * store.c - the consent store's dispatch layer (store.h).
 *
 * store_open() picks the backend from ConsentDB: a plain path or
 * "sqlite:PATH" is SQLite (store_sqlite.c), the only backend built now
 * (DESIGN "Scale-out": PostgreSQL comes later behind the same interface).
 * Every other function forwards to the handle's backend.  No state of its
 * own but a per-handle cache of whether legacy erased forms exist; thread
 * use as the backend (one handle per thread).  The erased forms
 * themselves are made in mark.c; which of them to look for, and the
 * refusal to answer "not erased" without the keys to tell, are here.
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
store_erased_form(const struct store_erasure *e, const char *addr,
    char out[STORE_HASH_MAX])
{
	size_t n;

	assert(addr != NULL);
	if (e == NULL || (n = token_ring_size(e->keys)) == 0)
		return -1;
	return mark_erased(e->keys, n - 1, false, addr, out);
}

/*
 * erased_search - look for the erased forms of addr that e can make,
 * newest ErasureKeyFile key first (skipping it when skip_newest: the
 * caller looked it up already), then the legacy forms of every token key
 * when the database holds any.  STORE_OK with the form in form_r (may be
 * NULL), STORE_NOTFOUND, or STORE_ERROR when forms exist that e cannot
 * make.
 */
static enum store_status
erased_search(struct store *st, const struct store_erasure *e,
    const char *addr, bool skip_newest, char *form_r, char *why,
    size_t whylen)
{
	const struct token_ring *keys = e != NULL ? e->keys : NULL;
	const struct token_ring *legacy = e != NULL ? e->legacy : NULL;
	size_t nk = token_ring_size(keys), nl = token_ring_size(legacy), i;
	char form[STORE_HASH_MAX];
	enum store_status rs;
	bool yes = false, leg;
	int pass;

	if (nk == 0) {
		/* no ErasureKeyFile: fine only while nobody was erased
		 * with one (asked every time: forget may run meanwhile) */
		rs = st->be->suppression_prefix(st, MARK_ERASED_PREFIX, &yes,
		    why, whylen);
		if (rs != STORE_OK)
			return rs;
		if (yes) {
			snprintf(why, whylen, "the database keeps erased "
			    "addresses keyed with ErasureKeyFile, which is "
			    "not loaded: cannot tell who was erased");
			return STORE_ERROR;
		}
	}
	if (st->legacy == STORE_LEGACY_UNKNOWN) {
		rs = st->be->suppression_prefix(st, MARK_LEGACY_PREFIX, &yes,
		    why, whylen);
		if (rs != STORE_OK)
			return rs;
		st->legacy = yes ? STORE_LEGACY_SOME : STORE_LEGACY_NONE;
	}
	if (st->legacy == STORE_LEGACY_SOME && nl == 0) {
		snprintf(why, whylen, "the database keeps erased addresses "
		    "from before ErasureKeyFile, which need TokenKeyFile to "
		    "be recognised");
		return STORE_ERROR;
	}
	for (pass = 0; pass < 2; pass++) {
		leg = pass == 1;
		if (leg && st->legacy != STORE_LEGACY_SOME)
			break;
		i = leg ? nl : nk - (skip_newest && nk > 0 ? 1 : 0);
		while (i-- > 0) {
			if (mark_erased(leg ? legacy : keys, i, leg, addr,
			    form) < 0) {
				snprintf(why, whylen, "cannot compute the "
				    "erased form");
				return STORE_ERROR;
			}
			rs = st->be->suppression(st, form, NULL, 0, NULL, why,
			    whylen);
			if (rs == STORE_OK && form_r != NULL)
				memcpy(form_r, form, sizeof(form));
			if (rs != STORE_NOTFOUND)
				return rs;
		}
	}
	return STORE_NOTFOUND;
}

enum store_status
store_erased_kinds(struct store *st, bool *keyed_r, bool *legacy_r,
    char *why, size_t whylen)
{
	enum store_status rs;

	assert(keyed_r != NULL && legacy_r != NULL);
	rs = st->be->suppression_prefix(st, MARK_ERASED_PREFIX, keyed_r, why,
	    whylen);
	if (rs == STORE_OK)
		rs = st->be->suppression_prefix(st, MARK_LEGACY_PREFIX,
		    legacy_r, why, whylen);
	return rs;
}

enum store_status
store_erased(struct store *st, const struct store_erasure *e,
    const char *addr, char form_r[STORE_HASH_MAX], char *why, size_t whylen)
{
	assert(addr != NULL);
	return erased_search(st, e, addr, false, form_r, why, whylen);
}

enum store_status
store_lookup2(struct store *st, const char *addr,
    const struct store_erasure *e, const char *list,
    struct consent_row *row_r, char *why, size_t whylen)
{
	char form[STORE_HASH_MAX];
	enum store_status rs;
	bool first;

	assert(addr != NULL && list != NULL && row_r != NULL);
	/* the newest form in the same statement as the lookup itself */
	first = store_erased_form(e, addr, form) == 0;
	rs = st->be->lookup2(st, addr, first ? form : NULL, list, row_r, why,
	    whylen);
	if (rs != STORE_OK || row_r->suppressed)
		return rs;
	switch (rs = erased_search(st, e, addr, first, NULL, why, whylen)) {
	case STORE_OK:
		row_r->suppressed = true;
		return STORE_OK;
	case STORE_NOTFOUND:
		return STORE_OK;
	default:
		return rs;
	}
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
