/*
 * store_erased.c - the erasure rules of the consent store's reads
 * (store.h): an erased person is found by the keyed hash optinctl forget
 * kept (store_erased_form), under every ErasureKeyFile key and, while the
 * database holds any, the legacy forms of the token keys; never a silent
 * "not erased" when forms exist that the keys at hand cannot make.  The
 * lookups that carry the newest key's form in their own statement
 * (store_lookup2, store_lookup_set, store_optout_state and its batch)
 * look for the older forms after it, here, in one place.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"
#include "token.h"
#include "utf8.h"

/* The newest key's erased forms of n addresses, as the engines take
 * them: v[i] the form of address i in buf[i], or NULL (no key). */
struct forms {
	char (*buf)[STORE_HASH_MAX];	/* owned */
	const char **v;			/* owned; entries point into buf */
};

/* forms_new - room for n forms; false with why ("WHAT of n NOUN: out of
 * memory") */
static bool
forms_new(struct forms *f, size_t n, const char *what, const char *noun,
    char *why, size_t whylen)
{
	f->buf = calloc(n, sizeof(*f->buf));
	f->v = calloc(n, sizeof(*f->v));
	if (f->buf != NULL && f->v != NULL)
		return true;
	free(f->buf);
	free(f->v);
	snprintf(why, whylen, "%s of %zu %s: out of memory", what, n, noun);
	return false;
}

/* forms_set - form i: the newest key's form of the normalised addr */
static void
forms_set(struct forms *f, const struct store_erasure *e, size_t i,
    const char *addr)
{
	assert(addr != NULL);
	f->v[i] = store_erased_form(e, addr, f->buf[i]) == 0 ? f->buf[i] :
	    NULL;
}

static void
forms_free(struct forms *f)
{
	free(f->buf);
	free(f->v);
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

/* erased_after - a lookup did not find the normalised addr erased by the
 * form it was given (first: the newest key's form was in it; false: none
 * was), or for store_lookup2 suppressed at all: is it erased under an
 * older key or a legacy form?  Sets *yes_r if so (leaves it alone if
 * not); errors as erased_search() */
static enum store_status
erased_after(struct store *st, const struct store_erasure *e,
    const char *addr, bool first, bool *yes_r, char *why, size_t whylen)
{
	enum store_status rs;

	switch (rs = erased_search(st, e, addr, first, NULL, why, whylen)) {
	case STORE_OK:
		*yes_r = true;
		return STORE_OK;
	case STORE_NOTFOUND:
		return STORE_OK;
	default:
		return rs;
	}
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
	return erased_after(st, e, addr, first, &row_r->suppressed, why,
	    whylen);
}

enum store_status
store_optout_state(struct store *st, const struct store_erasure *e,
    const char *addr, const char *list, bool *erased_r,
    struct consent_row *row_r, char *name_r, size_t namelen, char *why,
    size_t whylen)
{
	struct store_optout o;
	enum store_status rs;

	assert(addr != NULL && list != NULL && erased_r != NULL);
	assert(row_r != NULL && name_r != NULL && namelen > 0);
	/* a batch of one: the erasure rules of this read in one place */
	memset(&o, 0, sizeof(o));
	o.addr = addr;
	o.list = list;
	o.name_r = name_r;
	o.namelen = namelen;
	rs = store_optout_state_batch(st, e, &o, 1, why, whylen);
	*erased_r = o.erased;
	*row_r = o.row;
	return rs;
}

enum store_status
store_lookup_set(struct store *st, const char *const *addrs, size_t n,
    const struct store_erasure *e, const char *list,
    struct consent_row *rows_r, char *why, size_t whylen)
{
	struct forms f;
	enum store_status rs = STORE_OK;
	size_t i;

	assert((addrs != NULL && rows_r != NULL) || n == 0);
	assert(list != NULL);
	if (n == 0)
		return STORE_OK;
	if (!forms_new(&f, n, "consent lookup", "recipients", why,
	    whylen))
		return STORE_TEMPFAIL;
	for (i = 0; i < n; i++)
		forms_set(&f, e, i, addrs[i]);
	if (st->be->lookup_set != NULL)
		rs = st->be->lookup_set(st, addrs, f.v, n, list, rows_r, why,
		    whylen);
	else
		for (i = 0; i < n && rs == STORE_OK; i++)
			rs = st->be->lookup2(st, addrs[i], f.v[i], list,
			    &rows_r[i], why, whylen);
	for (i = 0; i < n && rs == STORE_OK; i++)
		if (!rows_r[i].suppressed)
			rs = erased_after(st, e, addrs[i], f.v[i] != NULL,
			    &rows_r[i].suppressed, why, whylen);
	forms_free(&f);
	return rs;
}

enum store_status
store_optout_state_batch(struct store *st, const struct store_erasure *e,
    struct store_optout *v, size_t n, char *why, size_t whylen)
{
	struct forms f;
	enum store_status rs = STORE_OK;
	size_t i;

	assert(v != NULL || n == 0);
	if (n == 0)
		return STORE_OK;
	if (!forms_new(&f, n, "opt-out state", "addresses", why,
	    whylen))
		return STORE_TEMPFAIL;
	for (i = 0; i < n; i++) {
		assert(v[i].list != NULL);
		assert(v[i].name_r != NULL && v[i].namelen > 0);
		forms_set(&f, e, i, v[i].addr);
		v[i].erased = false;
	}
	if (st->be->optout_state_batch != NULL)
		rs = st->be->optout_state_batch(st, v, f.v, n, why, whylen);
	else
		for (i = 0; i < n && rs == STORE_OK; i++)
			rs = st->be->optout_state(st, v[i].addr, f.v[i],
			    v[i].list, &v[i].row, &v[i].erased, v[i].name_r,
			    v[i].namelen, why, whylen);
	for (i = 0; i < n && rs == STORE_OK; i++) {
		(void)utf8_cut(v[i].name_r);	/* as store_list_name() */
		if (!v[i].erased)
			rs = erased_after(st, e, v[i].addr, f.v[i] != NULL,
			    &v[i].erased, why, whylen);
	}
	forms_free(&f);
	return rs;
}
