/*
 * store_batch.c - the batched operations of the consent store (store.h:
 * store_optout_state_batch, store_set_status_batch), for optin-unsubd's
 * writer, which applies every opt-out queued meanwhile in one
 * transaction.  An engine that can send many statements at once
 * (PostgreSQL: store_pgsql_batch.c) has its own; for the others (SQLite,
 * where a statement costs no round trip) they are the single operations
 * one after another.  The erasure rules stay here, as in store.c: the
 * engine checks the newest key's form, store_erased_after() the rest.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "store-private.h"
#include "utf8.h"

enum store_status
store_optout_state_batch(struct store *st, const struct store_erasure *e,
    struct store_optout *v, size_t n, char *why, size_t whylen)
{
	char (*form)[STORE_HASH_MAX];
	const char **forms;
	enum store_status rs = STORE_OK;
	size_t i;

	assert(v != NULL || n == 0);
	if (n == 0)
		return STORE_OK;
	form = calloc(n, sizeof(*form));
	forms = calloc(n, sizeof(*forms));
	if (form == NULL || forms == NULL) {
		snprintf(why, whylen, "opt-out state of %zu addresses: out of "
		    "memory", n);
		rs = STORE_TEMPFAIL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		assert(v[i].addr != NULL && v[i].list != NULL);
		assert(v[i].name_r != NULL && v[i].namelen > 0);
		forms[i] = store_erased_form(e, v[i].addr, form[i]) == 0 ?
		    form[i] : NULL;
		v[i].erased = false;
	}
	if (st->be->optout_state_batch != NULL)
		rs = st->be->optout_state_batch(st, v, forms, n, why, whylen);
	else
		for (i = 0; i < n && rs == STORE_OK; i++)
			rs = st->be->optout_state(st, v[i].addr, forms[i],
			    v[i].list, &v[i].row, &v[i].erased, v[i].name_r,
			    v[i].namelen, why, whylen);
	for (i = 0; i < n && rs == STORE_OK; i++) {
		(void)utf8_cut(v[i].name_r);	/* as store_list_name() */
		if (!v[i].erased)
			rs = store_erased_after(st, e, v[i].addr,
			    forms[i] != NULL, &v[i].erased, why, whylen);
	}
out:
	free(form);
	free(forms);
	return rs;
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
