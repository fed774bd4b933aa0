/*
 * test_store_optout.c - the consent store on either engine (store_fx.h),
 * part three: store_optout_state(), the one read an opt-out of optin-unsubd
 * starts from, against the three reads it replaces (store_list_name,
 * store_erased, store_lookup), with erased forms of the newest and of an
 * older ErasureKeyFile key (t_optout_state) and legacy forms of a token
 * key (t_optout_legacy).  The cases are listed in test_store.c's main.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#include "config.h"
#include "mark.h"
#include "store.h"
#include "store_fx.h"
#include "token.h"

/* Two erasure keys (the format of ErasureKeyFile); ring 1 has the first
 * only, as before a rotation. */
static const char key1[] = "1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
static const char key2[] = "2 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n";

/* ring - the keys of text, written to a 0600 file in f's directory */
static struct token_ring *
ring(struct fx *f, const char *name, const char *text)
{
	struct token_ring *r;
	char path[128], why[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	if ((r = token_ring_load(path, why, sizeof(why))) == NULL)
		CASE_FAIL("erasure keys", "%s", why);
	return r;
}

/* forget - erase addr with the newest key of e */
static void
forget(struct fx *f, const struct store_erasure *e, const char *addr)
{
	char form[STORE_HASH_MAX];

	assert_int_equal(store_erased_form(e, addr, form), 0);
	if (store_forget(f->st, addr, form, NULL, NULL, f->why,
	    sizeof(f->why)) != STORE_OK)
		CASE_FAIL("forget", "%s: %s", addr, f->why);
}

/* One address and list, and what store_optout_state must say. */
struct optout_case {
	const char *addr, *list;
	bool erased;
	bool suppressed;	/* when not erased */
	enum sub_status status;	/* when not erased */
	const char *name;
};

void
t_optout_state(void **state)
{
	static const struct optout_case cases[] = {
		{ "ann@example.com", "news", false, false, SUB_OPTED_IN,
		    "News" },
		{ "ann@example.com", "promo", false, false, SUB_NONE, "" },
		{ "bob@example.com", "news", false, true, SUB_OPTED_OUT,
		    "News" },
		{ "cy@example.com", "news", true, false, SUB_NONE, "News" },
		{ "dee@example.com", "promo", true, false, SUB_NONE, "" },
		{ "eve@example.com", "gone", false, false, SUB_NONE, "" },
		{ "nobody@example.com", "news", false, false, SUB_NONE,
		    "News" },
	};
	static const struct {
		const char *addr, *list;
		enum sub_status status;
	} rows[] = {
		{ "ann@example.com", "news", SUB_OPTED_IN },
		{ "bob@example.com", "news", SUB_OPTED_OUT },
		{ "cy@example.com", "news", SUB_OPTED_IN },
		{ "dee@example.com", "promo", SUB_OPTED_IN },
	};
	struct fx *f = *state;
	struct token_ring *old, *now;
	struct store_erasure e_old = { NULL, NULL }, e = { NULL, NULL };
	struct consent_row row, want;
	enum store_status rs;
	char name[64], want_name[64], both[sizeof(key1) + sizeof(key2)];
	bool erased;
	size_t i;

	snprintf(both, sizeof(both), "%s%s", key1, key2);
	old = ring(f, "erasure1", key1);
	now = ring(f, "erasure2", both);
	e_old.keys = old;
	e.keys = now;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (store_set_status(f->st, rows[i].addr, rows[i].list,
		    rows[i].status, NULL, f->why, sizeof(f->why)) != STORE_OK)
			CASE_FAIL("subscribe", "%s: %s", rows[i].addr, f->why);
	assert_int_equal(store_suppress(f->st, "bob@example.com", "complaint",
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	forget(f, &e, "cy@example.com");		/* newest key */
	forget(f, &e_old, "dee@example.com");	/* before the rotation */

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct optout_case *c = &cases[i];

		memset(&row, 0x55, sizeof(row));
		memset(name, 'x', sizeof(name));
		erased = !c->erased;
		rs = store_optout_state(f->st, &e, c->addr, c->list, &erased,
		    &row, name, sizeof(name), f->why, sizeof(f->why));
		if (rs != STORE_OK)
			CASE_FAIL("optout state", "%s %s: %s", c->addr,
			    c->list, f->why);
		if (erased != c->erased || strcmp(name, c->name) != 0)
			CASE_FAIL("optout state", "%s %s: erased %d name '%s',"
			    " want %d '%s'", c->addr, c->list, erased, name,
			    c->erased, c->name);
		/* the three reads it replaces say the same */
		assert_int_equal(store_erased(f->st, &e, c->addr, NULL,
		    f->why, sizeof(f->why)), c->erased ? STORE_OK :
		    STORE_NOTFOUND);
		want_name[0] = '\0';
		(void)store_list_name(f->st, c->list, want_name,
		    sizeof(want_name), f->why, sizeof(f->why));
		assert_string_equal(name, want_name);
		if (c->erased)
			continue;
		assert_int_equal(store_lookup(f->st, c->addr, c->list, &want,
		    f->why, sizeof(f->why)), STORE_OK);
		if (row.suppressed != c->suppressed ||
		    row.status != c->status ||
		    row.suppressed != want.suppressed ||
		    row.status != want.status)
			CASE_FAIL("optout state", "%s %s: suppressed %d status "
			    "%d, want %d %d", c->addr, c->list, row.suppressed,
			    (int)row.status, c->suppressed, (int)c->status);
	}

	/* a name longer than the caller's buffer is cut, NUL-terminated */
	assert_int_equal(store_list_add(f->st, "long", "A rather long name",
	    false, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_optout_state(f->st, &e, "ann@example.com",
	    "long", &erased, &row, name, 7, f->why, sizeof(f->why)),
	    STORE_OK);
	assert_string_equal(name, "A rath");
	/* ... and never inside a character: "\xc3\xa9" is one (the page
	 * that shows the name says charset=utf-8) */
	assert_int_equal(store_list_add(f->st, "utf8", "\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9", false, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_optout_state(f->st, &e, "ann@example.com",
	    "utf8", &erased, &row, name, 6, f->why, sizeof(f->why)),
	    STORE_OK);
	assert_string_equal(name, "\xc3\xa9\xc3\xa9");
	assert_int_equal(store_list_name(f->st, "utf8", name, 8, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_string_equal(name, "\xc3\xa9\xc3\xa9\xc3\xa9");

	/* without the key that made the newest form: never a silent "not
	 * erased" (store_erased's rule) */
	rs = store_optout_state(f->st, NULL, "cy@example.com", "news", &erased,
	    &row, name, sizeof(name), f->why, sizeof(f->why));
	assert_int_equal(rs, STORE_ERROR);
	token_ring_free(&old);
	token_ring_free(&now);
}

/* optout - store_optout_state of addr on news with e: its status, and
 * *erased_r */
static enum store_status
optout(struct fx *f, const struct store_erasure *e, const char *addr,
    bool *erased_r)
{
	struct consent_row row;
	char name[64];

	*erased_r = false;
	return store_optout_state(f->st, e, addr, "news", erased_r, &row,
	    name, sizeof(name), f->why, sizeof(f->why));
}

/*
 * A legacy form ("hmac:", made with a TokenKeyFile key before
 * ErasureKeyFile) and no ErasureKeyFile form yet: found after the
 * statement with the token keys; without them, or without ErasureKeyFile
 * while erased forms exist, never a silent "not erased".
 */
void
t_optout_legacy(void **state)
{
	struct fx *f = *state;
	struct token_ring *tokens, *erasure;
	struct store_erasure e = { NULL, NULL };
	enum store_status rs;
	char form[STORE_HASH_MAX];
	bool erased;

	tokens = ring(f, "tokens", key1);
	erasure = ring(f, "erasure", key2);
	/* nobody erased yet: no ErasureKeyFile is fine */
	assert_int_equal(optout(f, &e, "gus@example.com", &erased), STORE_OK);
	assert_false(erased);
	assert_int_equal(store_set_status(f->st, "fay@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(mark_erased(tokens, 0, true, "fay@example.com",
	    form), 0);
	assert_int_equal(store_forget(f->st, "fay@example.com", form, NULL,
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	/* a new handle: store.c remembers per handle whether legacy forms
	 * exist */
	store_close(&f->st);
	if ((f->st = store_open(f->cfg, 0, &rs, f->why, sizeof(f->why))) ==
	    NULL)
		CASE_FAIL("reopen", "%s", f->why);

	e.keys = erasure;
	e.legacy = tokens;
	assert_int_equal(optout(f, &e, "fay@example.com", &erased), STORE_OK);
	assert_true(erased);
	assert_int_equal(optout(f, &e, "gus@example.com", &erased), STORE_OK);
	assert_false(erased);
	e.legacy = NULL;
	assert_int_equal(optout(f, &e, "fay@example.com", &erased),
	    STORE_ERROR);
	assert_int_equal(optout(f, &e, "gus@example.com", &erased),
	    STORE_ERROR);

	/* an ErasureKeyFile form kept, ErasureKeyFile not loaded */
	e.legacy = tokens;
	assert_int_equal(store_erased_form(&e, "hal@example.com", form), 0);
	assert_int_equal(store_forget(f->st, "hal@example.com", form, NULL,
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	e.keys = NULL;
	assert_int_equal(optout(f, &e, "hal@example.com", &erased),
	    STORE_ERROR);
	assert_int_equal(optout(f, &e, "gus@example.com", &erased),
	    STORE_ERROR);
	token_ring_free(&tokens);
	token_ring_free(&erasure);
}
