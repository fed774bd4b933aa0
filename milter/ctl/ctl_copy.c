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
 * EX_DATAERR, nothing copied.  Afterwards the rows of each table
 * are counted on both sides: exit 0 only when every count matches, else
 * EX_SOFTWARE.  Passwords in FROM and TO are never printed (store_mask).
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "ctl.h"
#include "store.h"

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

/* copy_check - count every table on both sides and print the counts;
 * EX_OK when all match */
static int
copy_check(const struct ctl *c, struct store *from, struct store *to)
{
	long long nf, nt;
	char why[1024];
	bool same = true;
	size_t i;

	if (c->json)
		fputs("{\"tables\":[", stdout);
	else
		printf("%-16s %10s %10s\n", "TABLE", "FROM", "TO");
	for (i = 0; store_tables[i].name != NULL; i++) {
		if (store_table_count(from, store_tables[i].name, &nf, why,
		    sizeof(why)) != STORE_OK || store_table_count(to,
		    store_tables[i].name, &nt, why, sizeof(why)) != STORE_OK) {
			fprintf(stderr, "optinctl: %s\n", why);
			return EX_TEMPFAIL;
		}
		same = same && nf == nt;
		if (c->json)
			printf("%s{\"table\":\"%s\",\"from\":%lld,\"to\":%lld}",
			    i > 0 ? "," : "", store_tables[i].name, nf, nt);
		else
			printf("%-16s %10lld %10lld%s\n", store_tables[i].name,
			    nf, nt, nf == nt ? "" : "  MISMATCH");
	}
	if (c->json)
		printf("],\"match\":%s}\n", same ? "true" : "false");
	if (!same) {
		fprintf(stderr, "optinctl: copy-store: row counts differ\n");
		return EX_SOFTWARE;
	}
	return EX_OK;
}

int
ctl_copy_store(struct ctl *c, int argc, char **argv)
{
	struct store *from = NULL, *to = NULL;
	enum store_status st;
	char why[1024], name[512];
	bool bad_row = false;
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
		st = store_commit(to, why, sizeof(why));
	else
		store_rollback(to);
	store_rollback(from);
	if (bad_row) {
		fprintf(stderr, "optinctl: %s\n", why);
		ex = EX_DATAERR;
		goto out;
	}
	if (st != STORE_OK) {
		ex = ctl_fail(st, why);
		goto out;
	}
	ex = copy_check(c, from, to);
	if (ex == EX_OK && !c->json) {
		store_mask(argv[2], name, sizeof(name));
		fprintf(stderr, "optinctl: copied to %s\n", name);
	}
out:
	store_close(&from);
	store_close(&to);
	return ex;
}
