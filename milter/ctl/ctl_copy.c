/*
 * ctl_copy.c - optinctl copy-store FROM TO: copy a whole consent database
 * between engines (SQLite to PostgreSQL, and back; DESIGN "Scale-out").
 *
 * FROM and TO are ConsentDB values (a path, "sqlite:PATH", a postgresql://
 * URI or a libpq conninfo); DBBusyTimeout comes from the config.  FROM is
 * read in one snapshot (store_begin_read); TO is created if empty (schema
 * of this build) and must hold no rows (else EX_CANTCREAT); every table is
 * copied row for row, ids and times included (store_table_rows/put), in
 * one transaction on TO.  A source row the schema refuses (outside its
 * CHECK sets, or naming a list that is not there: written by a program
 * that skipped the checks; or a value PostgreSQL's column type refuses,
 * as text that is not UTF-8; store_table_put) stops the copy with
 * EX_DATAERR, nothing copied.  Then the rows of each table are
 * counted on both sides, still in TO's transaction and FROM's snapshot:
 * when a count differs nothing is committed and the exit is EX_SOFTWARE;
 * else TO commits, exit 0.  A connection lost before the commit (a
 * PostgreSQL statement is run again only outside a transaction,
 * store_pgsql_conn.c) is EX_TEMPFAIL with nothing copied.  A commit that
 * fails for a temporary reason may have been done all the same (a lost
 * answer), or may still be under way on the server: TO is counted again
 * once that transaction has ended, and the message says which
 * (copy_settle).
 * Passwords in FROM and TO are never printed (store_mask).
 */
#include "autoconf.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "ctl.h"
#include "store.h"

#define COPY_MAXTABLES	16	/* store_tables[] has 8 */

/* copy_open - open consent_db with flags under cfg's DBBusyTimeout; NULL
 * after printing why, *ex_r the exit code */
static struct store *
copy_open(const struct ctl *c, const char *consent_db, unsigned flags,
    int *ex_r)
{
	struct config *cfg;
	enum store_status st = STORE_ERROR;
	struct store *s;
	char text[2048], why[1024];
	int nerr = 0;

	if (strchr(consent_db, '\n') != NULL || snprintf(text, sizeof(text),
	    "ConsentDB %s\nDBBusyTimeout %ld\n", consent_db,
	    c->cfg->db_busy_timeout) >= (int)sizeof(text) ||
	    (cfg = config_parse("copy-store", text, stderr, &nerr)) == NULL) {
		fprintf(stderr, "optinctl: copy-store: bad database name\n");
		*ex_r = EX_USAGE;
		return NULL;
	}
	s = store_open(cfg, flags, &st, why, sizeof(why));
	if (s == NULL) {
		fprintf(stderr, "optinctl: %s\n", why);
		*ex_r = ctl_open_exit(cfg, st, flags);
	} else
		ctl_store_warn(s);	/* FROM or TO: readable by others, ... */
	config_free(&cfg);
	return s;
}

struct copy_ctx {
	struct store *to;
	const char *table;
	long long n;
	enum store_status st;
	bool bad_row;			/* x->st: the schema refused the row */
	char why[1024];
};

/* copy_row - put one row of FROM into TO; stop at the first failure */
static int
copy_row(const char *const *vals, void *arg)
{
	struct copy_ctx *x = arg;

	x->st = store_table_put(x->to, x->table, vals, &x->bad_row, x->why,
	    sizeof(x->why));
	if (x->st != STORE_OK)
		return 1;
	x->n++;
	return 0;
}

/* copy_empty - EX_OK when every table of to is empty; else the exit code
 * after printing why (EX_CANTCREAT: a copy never mixes with old rows) */
static int
copy_empty(struct store *to)
{
	enum store_status st;
	char why[1024];
	long long n;
	size_t i;

	for (i = 0; store_tables[i].name != NULL; i++) {
		if ((st = store_table_count(to, store_tables[i].name, &n, why,
		    sizeof(why))) != STORE_OK)
			return ctl_fail(st, why);
		if (n != 0) {
			fprintf(stderr, "optinctl: copy-store: the target is "
			    "not empty (%s has %lld rows)\n",
			    store_tables[i].name, n);
			return EX_CANTCREAT;
		}
	}
	return EX_OK;
}

/* copy_tables - every table of from into to, in to's transaction;
 * *bad_row_r set when a row of from was refused (store_table_row_ok) */
static enum store_status
copy_tables(struct store *from, struct store *to, bool *bad_row_r,
    char *why, size_t whylen)
{
	struct copy_ctx x;
	enum store_status st;
	size_t i;

	for (i = 0; store_tables[i].name != NULL; i++) {
		memset(&x, 0, sizeof(x));
		x.to = to;
		x.table = store_tables[i].name;
		st = store_table_rows(from, x.table, copy_row, &x, why, whylen);
		if (st == STORE_OK && x.st != STORE_OK) {
			snprintf(why, whylen, "%s", x.why);
			st = x.st;
			*bad_row_r = x.bad_row;
		}
		if (st == STORE_OK)
			st = store_table_done(to, x.table, why, whylen);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

/* copy_count - the rows of every table on both sides, nf[i] in from, nt[i]
 * in to: inside the copy's transaction and snapshot, so that the counts
 * are of what is about to be committed (not of a source that moved on,
 * nor read from a server gone after the commit) */
static enum store_status
copy_count(struct store *from, struct store *to, long long *nf,
    long long *nt, char *why, size_t whylen)
{
	enum store_status st;
	size_t i;

	for (i = 0; store_tables[i].name != NULL; i++) {
		assert(i < COPY_MAXTABLES);
		if ((st = store_table_count(from, store_tables[i].name, &nf[i],
		    why, whylen)) != STORE_OK ||
		    (st = store_table_count(to, store_tables[i].name, &nt[i],
		    why, whylen)) != STORE_OK)
			return st;
	}
	return STORE_OK;
}

/* copy_same - do the counts of copy_count match, table by table? */
static bool
copy_same(const long long *nf, const long long *nt)
{
	size_t i;

	for (i = 0; store_tables[i].name != NULL; i++)
		if (nf[i] != nt[i])
			return false;
	return true;
}

/* copy_print - print the counts of copy_count, a mismatch marked */
static void
copy_print(const struct ctl *c, const long long *nf, const long long *nt)
{
	size_t i;

	if (c->json)
		fputs("{\"tables\":[", stdout);
	else
		printf("%-16s %10s %10s\n", "TABLE", "FROM", "TO");
	for (i = 0; store_tables[i].name != NULL; i++) {
		if (c->json)
			printf("%s{\"table\":\"%s\",\"from\":%lld,\"to\":%lld}",
			    i > 0 ? "," : "", store_tables[i].name, nf[i],
			    nt[i]);
		else
			printf("%-16s %10lld %10lld%s\n", store_tables[i].name,
			    nf[i], nt[i], nf[i] == nt[i] ? "" : "  MISMATCH");
	}
	if (c->json)
		printf("],\"match\":%s}\n", copy_same(nf, nt) ? "true" :
		    "false");
}

/*
 * copy_settle - TO's commit failed for a reason that may be temporary
 * (st, why): a lost connection, whose COMMIT may have been done all the
 * same, the answer lost, or may still be running on the server.  Count TO
 * again (a new connection), in a transaction that first waits until no
 * other can write the tables (store_table_lock: the lost one has ended):
 * every count as copied (nt), the commit went through: STORE_OK after
 * saying so; all empty: nothing copied, st; else, or when TO cannot be
 * counted: its state unknown, said so.  *ex_r the exit code when not
 * STORE_OK.
 */
static enum store_status
copy_settle(struct store *to, const long long *nt, enum store_status st,
    const char *why, int *ex_r)
{
	char why2[1024];
	long long n;
	bool all = true, none = true;
	size_t i;

	if (store_begin(to, why2, sizeof(why2)) != STORE_OK)
		goto unknown;
	for (i = 0; store_tables[i].name != NULL; i++) {
		if (store_table_lock(to, store_tables[i].name, why2,
		    sizeof(why2)) != STORE_OK ||
		    store_table_count(to, store_tables[i].name, &n, why2,
		    sizeof(why2)) != STORE_OK) {
			store_rollback(to);
			goto unknown;
		}
		all = all && n == nt[i];
		none = none && n == 0;
	}
	store_rollback(to);
	if (all) {
		fprintf(stderr, "optinctl: %s: the answer to COMMIT was lost; "
		    "the target holds every row: the copy is done\n", why);
		return STORE_OK;
	}
	if (none) {
		fprintf(stderr, "optinctl: %s: nothing copied\n", why);
		*ex_r = ctl_exit_code(st);
		return st;
	}
	fprintf(stderr, "optinctl: %s: the target holds other rows than were "
	    "copied (written by someone else?): check it\n", why);
	*ex_r = EX_SOFTWARE;
	return st;
unknown:
	fprintf(stderr, "optinctl: %s; %s: whether the copy was committed is "
	    "unknown: count the target's rows before running it again\n", why,
	    why2);
	*ex_r = EX_TEMPFAIL;
	return st;
}

int
ctl_copy_store(struct ctl *c, int argc, char **argv)
{
	struct store *from = NULL, *to = NULL;
	enum store_status st;
	long long nf[COPY_MAXTABLES], nt[COPY_MAXTABLES];
	char why[1024], name[512];
	bool bad_row = false, same;
	int ex = EX_OK;

	if (argc != 3)
		return ctl_usage(argv[0]);
	if ((from = copy_open(c, argv[1], STORE_READONLY, &ex)) == NULL)
		goto out;
	if ((to = copy_open(c, argv[2], STORE_CREATE, &ex)) == NULL ||
	    (ex = copy_empty(to)) != EX_OK)
		goto out;
	if ((st = store_begin_read(from, why, sizeof(why))) != STORE_OK ||
	    (st = store_begin(to, why, sizeof(why))) != STORE_OK) {
		ex = ctl_fail(st, why);
		goto out;
	}
	st = copy_tables(from, to, &bad_row, why, sizeof(why));
	if (st == STORE_OK)
		st = copy_count(from, to, nf, nt, why, sizeof(why));
	same = st == STORE_OK && copy_same(nf, nt);
	if (same)
		st = store_commit(to, why, sizeof(why));
	else
		store_rollback(to);
	store_rollback(from);
	if (bad_row) {
		fprintf(stderr, "optinctl: %s\n", why);
		ex = EX_DATAERR;
		goto out;
	}
	if (same && st == STORE_TEMPFAIL &&
	    (st = copy_settle(to, nt, st, why, &ex)) != STORE_OK)
		goto out;
	if (st != STORE_OK) {
		ex = ctl_fail(st, why);
		goto out;
	}
	copy_print(c, nf, nt);
	if (!same) {
		fprintf(stderr, "optinctl: copy-store: row counts differ; "
		    "nothing copied\n");
		ex = EX_SOFTWARE;
		goto out;
	}
	if (!c->json) {
		store_mask(argv[2], name, sizeof(name));
		fprintf(stderr, "optinctl: copied to %s\n", name);
	}
out:
	store_close(&from);
	store_close(&to);
	return ex;
}
