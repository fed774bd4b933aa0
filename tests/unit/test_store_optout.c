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

/* The addresses of t_optout_batch beyond the cases of t_optout_state:
 * more than two pipeline rounds on PostgreSQL (STORE_PIPELINE_MAX). */
#define BATCH_N		(2 * STORE_PIPELINE_MAX + 22)

/* batch_addr - address i of t_optout_batch's extra ones */
static void
batch_addr(char *out, size_t outlen, const char *prefix, size_t i)
{
	snprintf(out, outlen, "%s%zu@example.com", prefix, i);
}

/*
 * store_optout_state_batch says for each opt-out what store_optout_state
 * says, in order, across pipeline rounds, inside a transaction;
 * store_set_status_batch writes each change and its event, or answers
 * STORE_NOTFOUND for a list that is gone, item by item; a statement that
 * fails in the middle of a batch (a trigger, in the second round) fails
 * the whole of it, and after the rollback nothing of it is written and
 * the handle works.
 */
void
t_optout_batch(void **state)
{
	struct fx *f = *state;
	static char addrs[BATCH_N][64], names[BATCH_N][64];
	static struct store_optout v[BATCH_N];
	static struct store_status_change c[BATCH_N];
	struct token_ring *keys;
	struct store_erasure e = { NULL, NULL };
	struct consent_event ev;
	struct consent_row row;
	char name[64];
	bool erased;
	struct raw r;
	size_t i;

	keys = ring(f, "erasure", key1);
	e.keys = keys;
	for (i = 0; i < BATCH_N; i++) {
		batch_addr(addrs[i], sizeof(addrs[i]), "b", i);
		if (i % 3 != 2 && store_set_status(f->st, addrs[i], "news",
		    i % 3 == 0 ? SUB_OPTED_IN : SUB_OPTED_OUT, NULL, f->why,
		    sizeof(f->why)) != STORE_OK)
			CASE_FAIL("subscribe", "%s: %s", addrs[i], f->why);
	}
	assert_int_equal(store_suppress(f->st, addrs[4], "complaint", NULL,
	    f->why, sizeof(f->why)), STORE_OK);
	forget(f, &e, addrs[7]);

	/* the reads: each as store_optout_state says it */
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)), STORE_OK);
	memset(v, 0, sizeof(v));
	for (i = 0; i < BATCH_N; i++) {
		v[i].addr = addrs[i];
		v[i].list = i % 11 == 10 ? "gone" : i % 2 ? "news" : "promo";
		v[i].name_r = names[i];
		v[i].namelen = sizeof(names[i]);
	}
	if (store_optout_state_batch(f->st, &e, v, BATCH_N, f->why,
	    sizeof(f->why)) != STORE_OK)
		CASE_FAIL("optout state batch", "%s", f->why);
	for (i = 0; i < BATCH_N; i++) {
		if (store_optout_state(f->st, &e, v[i].addr, v[i].list,
		    &erased, &row, name, sizeof(name), f->why,
		    sizeof(f->why)) != STORE_OK)
			CASE_FAIL("optout state", "%s: %s", v[i].addr, f->why);
		if (erased != v[i].erased || strcmp(name, v[i].name_r) != 0 ||
		    (!erased && (row.suppressed != v[i].row.suppressed ||
		    row.status != v[i].row.status)))
			CASE_FAIL("optout state batch", "%zu %s %s: erased %d "
			    "'%s' %d %d, one by one %d '%s' %d %d", i,
			    v[i].addr, v[i].list, v[i].erased, v[i].name_r,
			    v[i].row.suppressed, (int)v[i].row.status, erased,
			    name, row.suppressed, (int)row.status);
	}
	assert_true(v[7].erased);
	assert_true(v[4].row.suppressed);
	assert_int_equal(v[3].row.status, SUB_OPTED_IN);	/* news */
	assert_int_equal(v[1].row.status, SUB_OPTED_OUT);
	assert_string_equal(v[1].name_r, "News");
	assert_string_equal(v[10].name_r, "");			/* gone */

	/* the writes: each written, or refused for its list alone */
	memset(&ev, 0, sizeof(ev));
	ev.source = "batch-test";
	ev.evidence = "scope=list";
	memset(c, 0, sizeof(c));
	for (i = 0; i < BATCH_N; i++) {
		c[i].addr = addrs[i];
		c[i].list = v[i].list;
		c[i].status = SUB_OPTED_OUT;
		c[i].ev = &ev;
		c[i].rs = STORE_ERROR;
	}
	if (store_set_status_batch(f->st, c, BATCH_N, f->why,
	    sizeof(f->why)) != STORE_OK)
		CASE_FAIL("set status batch", "%s", f->why);
	for (i = 0; i < BATCH_N; i++)
		if (c[i].rs != (i % 11 == 10 ? STORE_NOTFOUND : STORE_OK))
			CASE_FAIL("set status batch", "%zu %s: %d", i,
			    c[i].list, (int)c[i].rs);
	assert_int_equal(store_commit(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	r = raw_open(f);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM consent_events "
	    "WHERE source = $1 AND event = 'opted_out'", "batch-test"),
	    BATCH_N - BATCH_N / 11);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM subscriptions "
	    "WHERE address LIKE 'b%@example.com' AND status = 'opted_out' "
	    "AND source = $1", "batch-test"), BATCH_N - BATCH_N / 11);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM subscriptions "
	    "WHERE list_id = $1", "gone"), 0);

	/* a statement failing in the second round fails the batch */
	assert_int_equal(raw_exec(&r, pg_base != NULL ?
	    "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
	    "$$BEGIN IF NEW.address = 'c90@example.com' THEN RAISE "
	    "EXCEPTION 'boom'; END IF; RETURN NEW; END$$; "
	    "CREATE TRIGGER boom BEFORE INSERT ON consent_events FOR EACH "
	    "ROW EXECUTE FUNCTION boom()" :
	    "CREATE TRIGGER boom BEFORE INSERT ON consent_events WHEN "
	    "NEW.address = 'c90@example.com' BEGIN SELECT RAISE(ABORT, "
	    "'boom'); END"), 0);
	for (i = 0; i < BATCH_N; i++) {
		batch_addr(addrs[i], sizeof(addrs[i]), "c", i);
		c[i].list = "news";
	}
	ev.source = "batch-fail";
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_set_status_batch(f->st, c, BATCH_N, f->why,
	    sizeof(f->why)), STORE_ERROR);
	if (strstr(f->why, "boom") == NULL)
		CASE_FAIL("failing batch", "why: %s", f->why);
	store_rollback(f->st);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM consent_events "
	    "WHERE source = $1", "batch-fail"), 0);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM subscriptions "
	    "WHERE source = $1", "batch-fail"), 0);
	/* the handle goes on */
	assert_int_equal(store_set_status(f->st, "c1@example.com", "news",
	    SUB_OPTED_OUT, &ev, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(raw_int(&r, "SELECT count(*) FROM consent_events "
	    "WHERE source = $1", "batch-fail"), 1);
	raw_close(&r);

	/* outside a transaction: each its own, the same answers */
	v[0].addr = "c1@example.com";
	v[0].list = "news";
	assert_int_equal(store_optout_state_batch(f->st, &e, v, 1, f->why,
	    sizeof(f->why)), STORE_OK);
	assert_int_equal(v[0].row.status, SUB_OPTED_OUT);
	/* erased forms kept, ErasureKeyFile not loaded: never a silent
	 * "not erased" */
	v[0].addr = "c2@example.com";
	assert_int_equal(store_optout_state_batch(f->st, NULL, v, 1, f->why,
	    sizeof(f->why)), STORE_ERROR);
	token_ring_free(&keys);
}

/* fault_changes - c[0 .. BATCH_N-1]: addresses prefix0.. opted out of
 * news, with event ev */
static void
fault_changes(struct store_status_change *c, char (*addrs)[64],
    const char *prefix, const struct consent_event *ev)
{
	size_t i;

	memset(c, 0, BATCH_N * sizeof(*c));
	for (i = 0; i < BATCH_N; i++) {
		batch_addr(addrs[i], sizeof(addrs[i]), prefix, i);
		c[i].addr = addrs[i];
		c[i].list = "news";
		c[i].status = SUB_OPTED_OUT;
		c[i].ev = ev;
	}
}

/* fault_after - after a batch failed with want (and was rolled back):
 * nothing of source written, and the handle works, in a transaction
 * with a pipeline as outside one */
static void
fault_after(struct fx *f, struct raw *r, const char *what,
    enum store_status got, enum store_status want, const char *source)
{
	struct store_status_change c;
	struct consent_event ev;
	struct store_optout o;
	char name[64];

	if (got != want)
		CASE_FAIL(what, "got %d (%s), want %d", (int)got, f->why,
		    (int)want);
	store_rollback(f->st);
	if (raw_int(r, "SELECT count(*) FROM consent_events WHERE source = "
	    "$1", source) != 0)
		CASE_FAIL(what, "events of the failed batch written");
	memset(&ev, 0, sizeof(ev));
	ev.source = "after-fault";
	if (store_begin(f->st, f->why, sizeof(f->why)) != STORE_OK)
		CASE_FAIL(what, "begin after it: %s", f->why);
	memset(&o, 0, sizeof(o));
	o.addr = "after@example.com";
	o.list = "news";
	o.name_r = name;
	o.namelen = sizeof(name);
	if (store_optout_state_batch(f->st, NULL, &o, 1, f->why,
	    sizeof(f->why)) != STORE_OK)
		CASE_FAIL(what, "a read pipeline after it: %s", f->why);
	memset(&c, 0, sizeof(c));
	c.addr = "after@example.com";
	c.list = "news";
	c.status = SUB_OPTED_OUT;
	c.ev = &ev;
	if (store_set_status_batch(f->st, &c, 1, f->why, sizeof(f->why)) !=
	    STORE_OK || c.rs != STORE_OK)
		CASE_FAIL(what, "a write pipeline after it: %s", f->why);
	if (store_commit(f->st, f->why, sizeof(f->why)) != STORE_OK)
		CASE_FAIL(what, "commit after it: %s", f->why);
	if (raw_int(r, "SELECT count(*) FROM consent_events WHERE source = "
	    "$1", "after-fault") < 1)
		CASE_FAIL(what, "the write after it is not there");
	if (store_set_status(f->st, "after2@example.com", "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)) != STORE_OK)
		CASE_FAIL(what, "a statement outside a transaction after it: "
		    "%s", f->why);
}

/*
 * The pipelines of the batched operations on PostgreSQL when something
 * goes wrong in them: a row locked by another session (lock_timeout,
 * DBBusyTimeout), a read that fails in the second round, the backend
 * terminated in the middle of the write pipeline (by a trigger, at its
 * 91st statement) and before the read pipeline (by another session).
 * Each fails the batch with STORE_TEMPFAIL or STORE_ERROR, never half of
 * it written, and the handle works afterwards.
 */
void
t_optout_batch_fault(void **state)
{
	static const char kill_sql[] = "SELECT count(pg_terminate_backend(pid))"
	    " FROM pg_stat_activity WHERE datname = current_database()"
	    " AND pid <> pg_backend_pid()";
	struct fx *f = *state;
	static char addrs[BATCH_N][64], names[BATCH_N][64];
	static struct store_optout v[BATCH_N];
	static struct store_status_change c[BATCH_N];
	struct consent_event ev;
	enum store_status rs;
	struct raw r, lk;
	size_t i;

	if (pg_base == NULL)
		skip();
	memset(&ev, 0, sizeof(ev));
	r = raw_open(f);

	/* a row locked by another session: lock_timeout in round two */
	ev.source = "fault-lock";
	fault_changes(c, addrs, "l", &ev);
	assert_int_equal(store_set_status(f->st, addrs[90], "news",
	    SUB_OPTED_IN, NULL, f->why, sizeof(f->why)), STORE_OK);
	lk = raw_open(f);
	assert_int_equal(raw_exec(&lk, "BEGIN"), 0);
	assert_int_equal(raw_int(&lk, "SELECT count(*) FROM (SELECT 1 FROM "
	    "subscriptions WHERE address = $1 FOR UPDATE) x", addrs[90]), 1);
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)), STORE_OK);
	rs = store_set_status_batch(f->st, c, BATCH_N, f->why,
	    sizeof(f->why));
	assert_int_equal(raw_exec(&lk, "ROLLBACK"), 0);
	raw_close(&lk);
	fault_after(f, &r, "a locked row", rs, STORE_TEMPFAIL, "fault-lock");

	/* a read that fails in round two (a byte that is not UTF-8) */
	memset(v, 0, sizeof(v));
	for (i = 0; i < BATCH_N; i++) {
		batch_addr(addrs[i], sizeof(addrs[i]), "r", i);
		v[i].addr = addrs[i];
		v[i].list = "news";
		v[i].name_r = names[i];
		v[i].namelen = sizeof(names[i]);
	}
	addrs[70][0] = '\xff';
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)), STORE_OK);
	rs = store_optout_state_batch(f->st, NULL, v, BATCH_N, f->why,
	    sizeof(f->why));
	fault_after(f, &r, "a failing read", rs, STORE_ERROR, "fault-read");

	/* the backend terminated in the middle of the write pipeline */
	assert_int_equal(raw_exec(&r,
	    "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS "
	    "$$BEGIN IF NEW.address = 'k90@example.com' THEN PERFORM "
	    "pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(1); "
	    "END IF; RETURN NEW; END$$; "
	    "CREATE TRIGGER die BEFORE INSERT ON consent_events FOR EACH "
	    "ROW EXECUTE FUNCTION die()"), 0);
	ev.source = "fault-die";
	fault_changes(c, addrs, "k", &ev);
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)), STORE_OK);
	rs = store_set_status_batch(f->st, c, BATCH_N, f->why,
	    sizeof(f->why));
	fault_after(f, &r, "the backend gone in the write pipeline", rs,
	    STORE_TEMPFAIL, "fault-die");
	assert_int_equal(raw_exec(&r, "DROP TRIGGER die ON consent_events"),
	    0);

	/* the connection gone before the read pipeline */
	assert_int_equal(store_begin(f->st, f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(raw_int(&r, kill_sql, NULL), 1);
	usleep(100 * 1000);
	rs = store_optout_state_batch(f->st, NULL, v, BATCH_N / 2, f->why,
	    sizeof(f->why));
	fault_after(f, &r, "the connection gone before the read pipeline", rs,
	    STORE_TEMPFAIL, "fault-gone");
	raw_close(&r);
}

/* change_one - in st's open transaction: addr's opt-out state on news,
 * and its opt-out written unless erased; *erased_r */
static void
change_one(struct fx *f, struct store *st, const struct store_erasure *e,
    const char *addr, bool *erased_r)
{
	struct store_status_change c;
	struct store_optout o;
	char name[64];

	memset(&o, 0, sizeof(o));
	o.addr = addr;
	o.list = "news";
	o.name_r = name;
	o.namelen = sizeof(name);
	if (store_optout_state_batch(st, e, &o, 1, f->why, sizeof(f->why)) !=
	    STORE_OK)
		CASE_FAIL("change", "read %s: %s", addr, f->why);
	if ((*erased_r = o.erased))
		return;
	memset(&c, 0, sizeof(c));
	c.addr = addr;
	c.list = "news";
	c.status = SUB_OPTED_OUT;
	if (store_set_status_batch(st, &c, 1, f->why, sizeof(f->why)) !=
	    STORE_OK || c.rs != STORE_OK)
		CASE_FAIL("change", "write %s: %s", addr, f->why);
}

/*
 * An erasure never falls between an opt-out's read and its write
 * (store_begin_change): store_forget from another handle waits for the
 * open change (here past DBBusyTimeout: STORE_TEMPFAIL) and runs after
 * its commit; a change that begins while an erasure holds its lock waits
 * too; after the erasure the change reads the address as erased and
 * writes nothing, so no row names it.  (On PostgreSQL a forget that
 * committed between the two wrote nothing to stop the write: the
 * address came back into subscriptions and consent_events.)
 */
void
t_forget_change(void **state)
{
	static const char addr[] = "race@example.com";
	struct fx *f = *state;
	struct token_ring *keys;
	struct store_erasure e = { NULL, NULL };
	struct store *other;
	enum store_status rs;
	char form[STORE_HASH_MAX];
	bool erased;
	struct raw r;

	keys = ring(f, "erasure", key1);
	e.keys = keys;
	assert_int_equal(store_erased_form(&e, addr, form), 0);
	assert_int_equal(store_set_status(f->st, addr, "news", SUB_OPTED_IN,
	    NULL, f->why, sizeof(f->why)), STORE_OK);
	if ((other = store_open(f->cfg, 0, &rs, f->why, sizeof(f->why))) ==
	    NULL)
		CASE_FAIL("open", "%s", f->why);

	/* an erasure waits for the change under way */
	assert_int_equal(store_begin_change(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	change_one(f, f->st, &e, addr, &erased);
	assert_false(erased);
	assert_int_equal(store_forget(other, addr, form, NULL, NULL, f->why,
	    sizeof(f->why)), STORE_TEMPFAIL);
	assert_int_equal(store_commit(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	if (store_forget(other, addr, form, NULL, NULL, f->why,
	    sizeof(f->why)) != STORE_OK)
		CASE_FAIL("forget", "%s", f->why);

	/* the next change reads it erased and writes nothing */
	assert_int_equal(store_begin_change(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	change_one(f, f->st, &e, addr, &erased);
	assert_true(erased);
	assert_int_equal(store_commit(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	r = raw_open(f);
	assert_int_equal(raw_int(&r, "SELECT (SELECT count(*) FROM "
	    "subscriptions WHERE address = $1) + (SELECT count(*) FROM "
	    "consent_events WHERE address = $1)", addr), 0);

	/* a change waits for an erasure under way (its lock held here) */
	assert_int_equal(raw_exec(&r, pg_base != NULL ? "BEGIN; LOCK TABLE "
	    "subscriptions IN SHARE ROW EXCLUSIVE MODE" : "BEGIN IMMEDIATE"),
	    0);
	assert_int_equal(store_begin_change(f->st, f->why, sizeof(f->why)),
	    STORE_TEMPFAIL);
	assert_int_equal(raw_exec(&r, "ROLLBACK"), 0);
	/* and the handle goes on */
	assert_int_equal(store_begin_change(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	change_one(f, f->st, &e, "after@example.com", &erased);
	assert_int_equal(store_commit(f->st, f->why, sizeof(f->why)),
	    STORE_OK);
	raw_close(&r);
	store_close(&other);
	token_ring_free(&keys);
}
