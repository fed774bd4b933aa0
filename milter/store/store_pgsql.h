/*
 * store_pgsql.h - what the two files of the PostgreSQL backend share
 * (store_pgsql_conn.c: connection, statements, transactions, schema;
 * store_pgsql.c: the operations of store.h).  Private to milter/store/.
 * A handle is used by one thread at a time.
 */
#ifndef OPTIN_STORE_PGSQL_H
#define OPTIN_STORE_PGSQL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "store-private.h"

/* The prepared statements, by number (their text: pgsql_stmts[]). */
enum pgsql_stmt {
	P_SETTINGS,
	P_NTABLES,
	P_VERSION,
	P_SCHEMA_LOCK,
	P_LOOKUP,
	P_LOOKUP2,
	P_OPTOUT,
	P_LIST_GET,
	P_LIST_ADD,
	P_LIST_LS,
	P_SUB_SET,
	P_SUB_SET_LISTED,
	P_EVENT_ADD,
	P_SUPPRESS,
	P_SUPPRESSION,
	P_SUBS,
	P_QUARANTINE_ADD,
	P_SUB_GET,
	P_SUB_PEEK,
	P_SUPP_COUNT,
	P_SUPP_PREFIX,
	P_EVENTS,
	P_EVER_IN,
	P_DEL_SUBS,
	P_DEL_EVENTS,
	P_DEL_QROWS,
	P_DEL_SUPP,
	P_DEL_FEEDBACK,
	P_QLS,
	P_QREL,
	P_QDEL,
	P_SPOOL_REFS,
	P_MEMBERS,
	P_OPTOUT_ADDRS,
	P_STATS,
	P_LOOKUP_SET,
	P_FB_ADD,
	P_FB_COUNT,
	P_FB_STATS,
	P_FB_LS,
	P_SENT_ADD,
	P_PAUSE,
	P_PAUSED,
	P_RESUME,
	P_PAUSE_LS,
	P_COUNT
};

struct pgsql_stmt_text {
	const char *name;	/* prepared statement name */
	const char *sql;
};
extern const struct pgsql_stmt_text pgsql_stmts[P_COUNT];

/* pg_notice's state for one connection: the name it logs under, the
 * server warnings logged in the minute from since, and those not logged */
struct pg_notes {
	const char *name;		/* ConsentDB, password masked */
	time_t since;
	unsigned shown, dropped;
};

/* A handle. */
struct pg {
	struct store base;		/* first: store.c sees this */
	PGconn *conn;			/* owned */
	unsigned long long prepared;	/* bit i: pgsql_stmts[i] prepared on conn */
	bool in_tx;			/* a transaction of ours is open */
	char lock_ms[16], stmt_ms[16];	/* timeouts set on each connection */
	bool readonly;
	bool sync_later;		/* STORE_SYNC_LATER: synchronous_commit
					   off; store_sync() waits */
	char name[256];			/* ConsentDB, password masked */
	struct pg_notes notes;		/* for pg_notice, on conn */
	char state[6];			/* SQLSTATE of the last failure ("" if
					   none was given) */
};

/*
 * Run prepared statement i (prepared on the connection on first use) with
 * parameters from the arguments, one letter of types each: 't' const char *
 * (NULL is SQL NULL), 'i' int, 'l' long long.  The result on success (the
 * caller PQclear()s it); NULL with *rs_r and why ("ConsentDB NAME: what:
 * message") filled on failure.  A connection found lost outside a
 * transaction is reset and the statement run once more.
 */
PGresult *pgsql_exec(struct pg *p, enum pgsql_stmt i, const char *what,
	    enum store_status *rs_r, char *why, size_t whylen,
	    const char *types, ...);

/* The same for a statement not in pgsql_stmts[]: sql under name, prepared
 * once per connection and remembered in bit slot of the handle
 * (P_COUNT..63), or with slot -1 prepared unnamed for this one run. */
PGresult *pgsql_exec_sql(struct pg *p, int slot, const char *name,
	    const char *sql, int n, const char *const *vals, const char *what,
	    enum store_status *rs_r, char *why, size_t whylen);

/* pgsql_exec for a statement whose rows are not needed; *n_r (may be
 * NULL) gets the number of rows it changed. */
enum store_status pgsql_run(struct pg *p, enum pgsql_stmt i,
	    const char *what, long long *n_r, char *why, size_t whylen,
	    const char *types, ...);

/* Open a transaction with the constant BEGIN text sql. */
enum store_status pgsql_begin(struct pg *p, const char *sql, char *why,
	    size_t whylen);

/* COMMIT (ok) or ROLLBACK the open transaction; a failed COMMIT rolls
 * back, so the handle stays usable.  STORE_OK when none is open. */
enum store_status pgsql_end(struct pg *p, bool ok, char *why,
	    size_t whylen);

/* Make the following changes atomic: a transaction of our own (*own_r),
 * or a savepoint inside the caller's; pgsql_tx_leave() commits (ok) or
 * undoes it. */
enum store_status pgsql_tx_enter(struct pg *p, bool *own_r, char *why,
	    size_t whylen);
enum store_status pgsql_tx_leave(struct pg *p, bool own, bool ok,
	    char *why, size_t whylen);

/* store_pgsql_admin.c: the quarantine rows and the whole-database
 * operations of optinctl, as the members of the same name in struct
 * store_backend. */
enum store_status pgad_quarantine_add(struct store *st,
	    const struct quarantine_row *row, long long *id_r, char *why,
	    size_t whylen);
enum store_status pgad_quarantine_ls(struct store *st,
	    const struct store_qfilter *f, store_qrow_fn *fn, void *ctx,
	    char *why, size_t whylen);
enum store_status pgad_quarantine_released(struct store *st, long long id,
	    time_t when, char *why, size_t whylen);
enum store_status pgad_quarantine_del(struct store *st, long long id,
	    char *why, size_t whylen);
enum store_status pgad_opt_out_addrs(struct store *st, const char *list,
	    store_addr_fn *fn, void *ctx, char *why, size_t whylen);
enum store_status pgad_stats(struct store *st, time_t since,
	    store_stat_fn *fn, void *ctx, char *why, size_t whylen);
enum store_status pgad_table_rows(struct store *st,
	    const struct store_table *tab, store_row_fn *fn, void *ctx,
	    char *why, size_t whylen);
enum store_status pgad_table_put(struct store *st,
	    const struct store_table *tab, const char *const *vals,
	    bool *refused_r, char *why, size_t whylen);
enum store_status pgad_table_done(struct store *st,
	    const struct store_table *tab, char *why, size_t whylen);
enum store_status pgad_table_count(struct store *st,
	    const struct store_table *tab, long long *n_r, char *why,
	    size_t whylen);
enum store_status pgad_table_lock(struct store *st,
	    const struct store_table *tab, char *why, size_t whylen);

/* store_pgsql_fb.c: the feedback operations (schema version 2), as the
 * members of the same name in struct store_backend. */
enum store_status pgfb_feedback_add(struct store *st,
	    const struct store_feedback *fb, long long *id_r, char *why,
	    size_t whylen);
enum store_status pgfb_feedback_count(struct store *st, const char *addr,
	    const char *campaign, const char *kind, time_t since,
	    long long *n_r, char *why, size_t whylen);
enum store_status pgfb_feedback_stats(struct store *st, time_t since,
	    store_fbstat_fn *fn, void *ctx, char *why, size_t whylen);
enum store_status pgfb_feedback_ls(struct store *st, const char *addr,
	    time_t since, bool acted_only, store_fbrow_fn *fn, void *ctx,
	    char *why, size_t whylen);
enum store_status pgfb_sent_add(struct store *st, const char *campaign,
	    const char *list, long long n, char *why, size_t whylen);
enum store_status pgfb_campaign_pause(struct store *st,
	    const char *campaign, const char *reason, char *why,
	    size_t whylen);
enum store_status pgfb_campaign_paused(struct store *st,
	    const char *campaign, char *reason_r, size_t reasonlen,
	    time_t *paused_at_r, char *why, size_t whylen);
enum store_status pgfb_campaign_resume(struct store *st,
	    const char *campaign, char *why, size_t whylen);
enum store_status pgfb_campaign_ls(struct store *st, store_pause_fn *fn,
	    void *ctx, char *why, size_t whylen);
/* store_pgsql_handover.c: the hand-over operations (schema version 3,
 * sql/pgsql/003-handover.sql), as the members of the same name in struct
 * store_backend. */
enum store_status pgho_handover_claim(struct store *st, const char *key,
	    const char *recipient, enum store_handover_state state,
	    const char *queue_id, time_t now, struct store_handover *old_r,
	    char *why, size_t whylen);
enum store_status pgho_handover_set(struct store *st, const char *key,
	    const char *recipient, enum store_handover_state state,
	    time_t now, char *why, size_t whylen);
enum store_status pgho_handover_purge(struct store *st, time_t before,
	    long long *n_r, char *why, size_t whylen);

/* The backend's open, close, exists and migrate (store-private.h). */
struct store *pgsql_open(const char *target, const struct config *cfg,
	    unsigned flags, enum store_status *st_r, char *why,
	    size_t whylen);
void pgsql_close(struct store *st);
enum store_status pgsql_exists(const char *target,
	    const struct config *cfg, char *why, size_t whylen);
enum store_status pgsql_migrate(struct store *st, int *from_r, int *to_r,
	    char *why, size_t whylen);

/* Row r, column c of res: its text (NULL for SQL NULL, borrowed from
 * res), as a number (0 for NULL), as a boolean ("t" or non-zero). */
const char *pgsql_col(const PGresult *res, int r, int c);
long long pgsql_col_ll(const PGresult *res, int r, int c);
bool pgsql_col_bool(const PGresult *res, int r, int c);

/* A number as a parameter's text: room for a long long and its NUL. */
#define PGSQL_NUM_MAX		24

/* The parameters of P_SUB_SET_LISTED (store_set_status). */
#define PGSQL_SUB_SET_NPARAM	9

/* P_SUB_SET_LISTED's parameters into vals[] for the subscription (addr,
 * list) set to status word with event ev (may be NULL; its event word
 * defaults to word, its user agent to the handle's), stamped now (the
 * caller's buffer, filled here).  Every pointer is borrowed. */
void pgsql_sub_set_vals(const struct pg *p, const char *addr,
	    const char *list, const char *word, const struct consent_event *ev,
	    char now[PGSQL_NUM_MAX], const char *vals[PGSQL_SUB_SET_NPARAM]);

/* Row r of a P_SUB_SET_LISTED result: STORE_OK (written), or
 * STORE_NOTFOUND with why naming the missing list (nothing written). */
enum store_status pgsql_sub_set_result(const PGresult *res, int r,
	    const char *list, char *why, size_t whylen);

/* Row r of a P_LOOKUP, P_LOOKUP2, P_LOOKUP_SET or P_OPTOUT result into
 * *row_r; for P_OPTOUT (erased_r not NULL) also whether the erased form
 * is suppressed and the list's name (into name_r, namelen bytes, "" when
 * none).  STORE_ERROR for a status word the schema does not know. */
enum store_status pgsql_lookup_row(struct pg *p, const PGresult *res, int r,
	    struct consent_row *row_r, bool *erased_r, char *name_r,
	    size_t namelen, char *why, size_t whylen);

/* Fill why for a failed call ("ConsentDB NAME: what: message"; res may be
 * NULL: the connection's message), clear res, return its status
 * (STORE_TEMPFAIL for a lost connection, a timeout or a lock; else
 * STORE_ERROR). */
enum store_status pgsql_fail(struct pg *p, PGresult *res, const char *what,
	    char *why, size_t whylen);

/* Prepare statement i on the connection unless it is already. */
enum store_status pgsql_prepare(struct pg *p, enum pgsql_stmt i,
	    const char *what, char *why, size_t whylen);

/* store_pgsql_batch.c: the batched operations (store-private.h) and the
 * pipeline they share. */

/* Reads row r of the result of run k (of pgsql_pipeline's n); arg is the
 * caller's.  STORE_OK, or a failure that ends the pipeline. */
typedef enum store_status pgsql_row_fn(struct pg *p, const PGresult *res,
	    size_t k, void *arg, char *why, size_t whylen);

/*
 * Run prepared statement i n times, run k with the nparams values from
 * vals[k * nparams] (borrowed), inside the open transaction, sending
 * STORE_PIPELINE_MAX runs at a time in one round trip (libpq pipeline
 * mode); fn reads each run's result, in order.  The first failure (a
 * statement's, or fn's) ends it with its status; the transaction is then
 * aborted (pgsql_end(p, false, ...)).  STORE_ERROR when no transaction
 * is open.
 */
enum store_status pgsql_pipeline(struct pg *p, enum pgsql_stmt i,
	    const char *what, size_t n, int nparams, const char *const *vals,
	    pgsql_row_fn *fn, void *arg, char *why, size_t whylen);

enum store_status pgsql_optout_state_batch(struct store *st,
	    struct store_optout *v, const char *const *forms, size_t n,
	    char *why, size_t whylen);
enum store_status pgsql_set_status_batch(struct store *st,
	    struct store_status_change *v, size_t n, char *why,
	    size_t whylen);

#endif
