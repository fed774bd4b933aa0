/*
 * test_store_file.c - the consent store, part four: an SQLite file
 * replaced under an open handle (sq_replaced in store_sqlite.c).  A write
 * is refused at once (it would go into a file nobody reads again); a
 * lookup trusts the file for at most 100 ms since it was last found at
 * the path, then is refused too.  The case is listed in test_store.c's
 * main; it skips on PostgreSQL (no file).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#include "config.h"
#include "store.h"
#include "store_fx.h"

/* nap_ms - sleep ms milliseconds */
static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* replace - put a copy of f's database at its path (mv new.db db), the
 * old file kept beside it */
static void
replace(const struct fx *f)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.new' && mv '%s' '%s.old' && "
	    "mv '%s.new' '%s'", f->db, f->db, f->db, f->db, f->db, f->db);
	assert_int_equal(system(cmd), 0);
}

void
t_replaced(void **state)
{
	struct fx *f = *state;
	struct consent_row row;
	struct store *w;
	enum store_status ss;

	if (pg_base != NULL)
		skip();
	/* a second handle that writes, as optin-unsubd's writer does */
	w = store_open(f->cfg, 0, &ss, f->why, sizeof(f->why));
	assert_non_null(w);
	assert_int_equal(store_lookup(f->st, "ann@example.com", "news", &row,
	    f->why, sizeof(f->why)), STORE_OK);
	assert_int_equal(store_lookup(w, "ann@example.com", "news", &row,
	    f->why, sizeof(f->why)), STORE_OK);
	replace(f);

	/* a write: refused at once, whenever the file was last seen */
	if (store_set_status(w, "ann@example.com", "news", SUB_OPTED_IN, NULL,
	    f->why, sizeof(f->why)) != STORE_TEMPFAIL)
		CASE_FAIL("write after the file was replaced",
		    "want STORE_TEMPFAIL");
	if (strstr(f->why, "replaced") == NULL)
		CASE_FAIL("write after the file was replaced", "why '%s'",
		    f->why);

	/* a lookup: answered from the old file for at most 100 ms (not
	 * asserted: the machine may be slower), refused after */
	(void)store_lookup(f->st, "ann@example.com", "news", &row, f->why,
	    sizeof(f->why));
	nap_ms(150);
	if (store_lookup(f->st, "ann@example.com", "news", &row, f->why,
	    sizeof(f->why)) != STORE_TEMPFAIL)
		CASE_FAIL("lookup 150 ms after the file was replaced",
		    "want STORE_TEMPFAIL");
	store_close(&w);
}

/* t_replaced_side - the milter's session handle looks a recipient up, then
 * writes its hand-over record and the campaign's sent count; optin-feedback
 * records a report.  Those writes (store_sqlite_fb.c) take the connection
 * past stmt_get(): they must be refused after a replacement too, even right
 * after a lookup found the file at the path. */
void
t_replaced_side(void **state)
{
	struct fx *f = *state;
	struct store_feedback fb = { .addr = "ann@example.com",
		.list = "news", .kind = "hard_bounce", .identity = "none" };
	struct store_handover old;
	struct consent_row row;

	if (pg_base != NULL)
		skip();
	assert_int_equal(store_lookup(f->st, "ann@example.com", "news", &row,
	    f->why, sizeof(f->why)), STORE_OK);
	replace(f);
	if (store_handover_claim(f->st, "k1", "ann@example.com",
	    STORE_HANDOVER_CLAIMED, "Q1", time(NULL), &old, f->why,
	    sizeof(f->why)) != STORE_TEMPFAIL)
		CASE_FAIL("hand-over claim after the file was replaced",
		    "want STORE_TEMPFAIL");
	if (store_sent_add(f->st, "c1", "news", 1, f->why,
	    sizeof(f->why)) != STORE_TEMPFAIL)
		CASE_FAIL("sent count after the file was replaced",
		    "want STORE_TEMPFAIL");
	if (store_feedback_add(f->st, &fb, NULL, f->why,
	    sizeof(f->why)) != STORE_TEMPFAIL)
		CASE_FAIL("feedback after the file was replaced",
		    "want STORE_TEMPFAIL");
	if (strstr(f->why, "replaced") == NULL)
		CASE_FAIL("feedback after the file was replaced", "why '%s'",
		    f->why);
}
