/*
 * store_fx.c - the fixture of the store unit tests (test_store.c,
 * test_store_fb.c; store_fx.h): a fresh database per test on either
 * engine, and a second, raw connection to it.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "harness.h"

#include "config.h"
#include "store.h"
#include "store_fx.h"

const char *pg_base;

/* fx_config - a config for ConsentDB path */
struct config *
fx_config(const char *path)
{
	char text[1024];
	int nerr = 0;

	snprintf(text, sizeof(text), "ConsentDB %.900s\nDBBusyTimeout %d\n",
	    path, BUSY_MS);
	return config_parse("test_store", text, stderr, &nerr);
}

/* admin_exec - "VERB dbname" on the server's postgres database; 0 ok */
static int
admin_exec(const char *verb, const char *dbname)
{
	char conninfo[512], sql[160];
	PGconn *conn;
	PGresult *res;
	int rc;

	snprintf(conninfo, sizeof(conninfo), "%s dbname=postgres", pg_base);
	snprintf(sql, sizeof(sql), "%s \"%s\"%s", verb, dbname,
	    strncmp(verb, "DROP", 4) == 0 ? " WITH (FORCE)" : "");
	conn = PQconnectdb(conninfo);
	res = PQexec(conn, sql);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return rc;
}

/* fx_setup - temp dir, config, no database yet (PostgreSQL: an empty one) */
int
fx_setup(void **state)
{
	static int seq;
	struct fx *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/consent.db", f->dir);
	if (pg_base != NULL) {
		snprintf(f->dbname, sizeof(f->dbname), "optin_ut_%ld_%d",
		    (long)getpid(), ++seq);
		if (admin_exec("CREATE DATABASE", f->dbname) != 0)
			return -1;
		snprintf(f->db, sizeof(f->db), "pgsql:%s dbname=%s", pg_base,
		    f->dbname);
	}
	if ((f->cfg = fx_config(f->db)) == NULL)
		return -1;
	*state = f;
	return 0;
}

/* fx_setup_db - as fx_setup, plus a created store with lists news and promo
 * (double opt-in) */
int
fx_setup_db(void **state)
{
	struct fx *f;
	enum store_status st;

	if (fx_setup(state) != 0)
		return -1;
	f = *state;
	f->st = store_open(f->cfg, STORE_CREATE, &st, f->why, sizeof(f->why));
	if (f->st == NULL) {
		fprintf(stderr, "store_open: %s\n", f->why);
		return -1;
	}
	if (store_list_add(f->st, "news", "News", false, f->why,
	    sizeof(f->why)) != STORE_OK ||
	    store_list_add(f->st, "promo", NULL, true, f->why,
	    sizeof(f->why)) != STORE_OK)
		return -1;
	return 0;
}

/* fx_teardown - close and remove everything */
int
fx_teardown(void **state)
{
	struct fx *f = *state;
	char path[192];
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	size_t i;

	store_close(&f->st);
	config_free(&f->cfg);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s/consent.db%s", f->dir,
		    sfx[i]);
		(void)unlink(path);
	}
	(void)rmdir(f->dir);
	if (pg_base != NULL)
		(void)admin_exec("DROP DATABASE", f->dbname);
	free(f);
	return 0;
}

/* raw_open - a second connection to the database of f */
struct raw
raw_open(const struct fx *f)
{
	struct raw r = { NULL, NULL };
	char conninfo[512];

	if (pg_base != NULL) {
		snprintf(conninfo, sizeof(conninfo), "%s dbname=%s", pg_base,
		    f->dbname);
		r.pg = PQconnectdb(conninfo);
		assert_int_equal(PQstatus(r.pg), CONNECTION_OK);
	} else
		assert_int_equal(sqlite3_open_v2(f->db, &r.sq,
		    SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	return r;
}

/* raw_close - close it */
void
raw_close(struct raw *r)
{
	if (r->sq != NULL)
		sqlite3_close(r->sq);
	PQfinish(r->pg);
	r->sq = NULL;
	r->pg = NULL;
}

/* raw_exec - run sql (several statements for SQLite, one or more for
 * PostgreSQL); 0 when it succeeded */
int
raw_exec(struct raw *r, const char *sql)
{
	PGresult *res;
	int rc;

	if (r->sq != NULL)
		return sqlite3_exec(r->sq, sql, NULL, NULL, NULL) == SQLITE_OK ?
		    0 : -1;
	res = PQexec(r->pg, sql);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
	PQclear(res);
	return rc;
}

/* raw_int - first column of the first row of sql, $1 bound to bind1
 * (-1 on error; a PostgreSQL boolean "t" is 1) */
long long
raw_int(struct raw *r, const char *sql, const char *bind1)
{
	sqlite3_stmt *stmt;
	PGresult *res;
	long long v = -1;

	if (r->pg != NULL) {
		res = PQexecParams(r->pg, sql, bind1 != NULL ? 1 : 0, NULL,
		    &bind1, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) > 0)
			v = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 1 :
			    strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		return v;
	}
	if (sqlite3_prepare_v2(r->sq, sql, -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	if (bind1 != NULL)
		(void)sqlite3_bind_text(stmt, 1, bind1, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	(void)sqlite3_finalize(stmt);
	return v;
}

