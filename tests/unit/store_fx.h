/*
 * store_fx.h - the fixture of the store unit tests (store_fx.c), shared by
 * test_store.c and test_store_fb.c.
 *
 * Each test works on a fresh database, with a config parsed from memory
 * (DBBusyTimeout BUSY_MS).  SQLite (default): a file in its own mktemp
 * directory.  PostgreSQL (pg_base set from OPTIN_PG by main): a database
 * created for the test and dropped after it.  A second, raw connection
 * (struct raw) plays "another process"; its SQL writes parameters as $1,
 * which both engines read.
 */
#ifndef OPTIN_STORE_FX_H
#define OPTIN_STORE_FX_H

#include <libpq-fe.h>
#include <sqlite3.h>

#define BUSY_MS 200

/* the schema version of the engine under test: one for both engines */
#define ENGINE_VERSION STORE_SCHEMA_VERSION

/* OPTIN_STORE=pgsql: the libpq conninfo (no dbname) of OPTIN_PG; NULL:
 * SQLite */
extern const char *pg_base;

struct fx {
	char dir[64];
	char db[512];		/* ConsentDB */
	char dbname[64];	/* PostgreSQL: the test's database */
	struct config *cfg;
	struct store *st;
	char why[512];
};

/* A config of ConsentDB path and DBBusyTimeout BUSY_MS (config_free). */
struct config *fx_config(const char *path);

/* cmocka setup: a struct fx with temp dir and config, no database yet
 * (PostgreSQL: an empty one); 0 or -1 */
int fx_setup(void **state);

/* fx_setup, plus a created store in f->st with lists news and promo
 * (double opt-in) */
int fx_setup_db(void **state);

/* cmocka teardown: close and remove everything of fx_setup */
int fx_teardown(void **state);

/* A second connection to the test's database, on either engine. */
struct raw {
	sqlite3 *sq;
	PGconn *pg;
};

/* Open one to f's database (asserts it opens); close it. */
struct raw raw_open(const struct fx *f);
void raw_close(struct raw *r);

/* Run sql (one or more statements); 0 when it succeeded. */
int raw_exec(struct raw *r, const char *sql);

/* The first column of the first row of sql, $1 bound to bind1 (may be
 * NULL); -1 on error; a PostgreSQL boolean "t" is 1. */
long long raw_int(struct raw *r, const char *sql, const char *bind1);

/* The cases of test_store_fb.c (feedback, lookup of a set, migration),
 * on fx_setup_db except t_migrate (fx_setup). */
void t_feedback(void **state);
void t_lookup_set(void **state);
void t_migrate(void **state);
void t_set_status_values(void **state);
void t_import_set(void **state);

/* test_store_optout.c, on fx_setup_db */
void t_optout_state(void **state);
void t_optout_legacy(void **state);
void t_optout_batch(void **state);
void t_forget_change(void **state);
void t_optout_batch_fault(void **state);

/* test_store_file.c, on fx_setup_db */
void t_replaced(void **state);
void t_replaced_side(void **state);

#endif
