/*
 * store-private.h - the backend interface behind store.h (Dovecot's
 * -private.h habit, Postfix's MILTER struct of function pointers).
 *
 * A backend defines one const struct store_backend and allocates its own
 * handle struct with struct store as the first member; store.c dispatches
 * through st->be.  Only store.c, the backends and the unit tests include
 * this file.  A handle is used by one thread at a time.
 */
#ifndef OPTIN_STORE_PRIVATE_H
#define OPTIN_STORE_PRIVATE_H

#include <limits.h>

#include "store.h"

struct store_backend {
	const char *name;		/* "sqlite", "pgsql" */

	/* target: ConsentDB without a scheme prefix */
	struct store *(*open)(const char *target, const struct config *cfg,
	    unsigned flags, enum store_status *st_r, char *why,
	    size_t whylen);
	void (*close)(struct store *st);	/* frees st */
	/* does the database exist (store_exists)? */
	enum store_status (*exists)(const char *target,
	    const struct config *cfg, char *why, size_t whylen);
	/* which permission on its files is lacking (store_access); NULL:
	 * none of its own (a server database) */
	enum store_access (*access)(const char *target, int *errno_r);

	enum store_status (*migrate)(struct store *st, int *from_r,
	    int *to_r, char *why, size_t whylen);
	enum store_status (*lookup)(struct store *st, const char *addr,
	    const char *list, struct consent_row *row_r, char *why,
	    size_t whylen);
	enum store_status (*begin)(struct store *st, char *why,
	    size_t whylen);
	/* NULL: begin (store_begin_change) */
	enum store_status (*begin_change)(struct store *st, char *why,
	    size_t whylen);
	enum store_status (*commit)(struct store *st, char *why,
	    size_t whylen);
	void (*rollback)(struct store *st);
	enum store_status (*list_exists)(struct store *st, const char *list,
	    bool *double_opt_in_r, char *why, size_t whylen);
	enum store_status (*list_name)(struct store *st, const char *list,
	    char *name_r, size_t namelen, char *why, size_t whylen);
	enum store_status (*list_add)(struct store *st, const char *list,
	    const char *name, bool double_opt_in, char *why, size_t whylen);
	enum store_status (*list_ls)(struct store *st, store_list_fn *fn,
	    void *ctx, char *why, size_t whylen);
	enum store_status (*set_status)(struct store *st, const char *addr,
	    const char *list, enum sub_status status,
	    const struct consent_event *ev, char *why, size_t whylen);
	enum store_status (*suppress)(struct store *st, const char *addr,
	    const char *reason, const struct consent_event *ev, char *why,
	    size_t whylen);
	enum store_status (*suppression)(struct store *st, const char *addr,
	    char *reason_r, size_t reasonlen, time_t *created_at_r,
	    char *why, size_t whylen);
	enum store_status (*subscriptions)(struct store *st, const char *addr,
	    store_sub_fn *fn, void *ctx, char *why, size_t whylen);
	enum store_status (*quarantine_add)(struct store *st,
	    const struct quarantine_row *row, long long *id_r, char *why,
	    size_t whylen);
	enum store_status (*lookup2)(struct store *st, const char *addr,
	    const char *addr_hash, const char *list,
	    struct consent_row *row_r, char *why, size_t whylen);
	/* lookup of (addr, list), is form suppressed (*erased_r; form may
	 * be NULL: no) and the list's display name into name_r ("" when it
	 * has none or is gone), in one statement: store_optout_state() */
	enum store_status (*optout_state)(struct store *st, const char *addr,
	    const char *form, const char *list, struct consent_row *row_r,
	    bool *erased_r, char *name_r, size_t namelen, char *why,
	    size_t whylen);
	/* lookup2 of n addresses at once (forms[i]: addr_hash of
	 * addrs[i], may be NULL); NULL: store.c calls lookup2 n times */
	enum store_status (*lookup_set)(struct store *st,
	    const char *const *addrs, const char *const *forms, size_t n,
	    const char *list, struct consent_row *rows_r, char *why,
	    size_t whylen);
	/* optout_state of the n opt-outs of v (forms[i]: the erased form
	 * of v[i].addr under the newest key, may be NULL: see
	 * optout_state); NULL: store_erased.c calls optout_state n times */
	enum store_status (*optout_state_batch)(struct store *st,
	    struct store_optout *v, const char *const *forms, size_t n,
	    char *why, size_t whylen);
	/* set_status of the n changes of v; NULL: set_status n times */
	enum store_status (*set_status_batch)(struct store *st,
	    struct store_status_change *v, size_t n, char *why,
	    size_t whylen);
	/* is there a suppression whose address starts with prefix? */
	enum store_status (*suppression_prefix)(struct store *st,
	    const char *prefix, bool *yes_r, char *why, size_t whylen);
	enum store_status (*begin_read)(struct store *st, char *why,
	    size_t whylen);
	enum store_status (*import_set)(struct store *st, const char *addr,
	    const char *list, enum sub_status status, unsigned flags,
	    time_t consented_at, const struct consent_event *ev,
	    enum sub_status *old_r, time_t *old_at_r, bool *changed_r,
	    char *why, size_t whylen);
	enum store_status (*suppression_count)(struct store *st,
	    const char *reason, long long *n_r, char *why, size_t whylen);
	enum store_status (*events)(struct store *st, const char *addr,
	    store_event_fn *fn, void *ctx, char *why, size_t whylen);
	enum store_status (*ever_opted_in)(struct store *st, const char *addr,
	    const char *list, bool *yes_r, char *why, size_t whylen);
	enum store_status (*forget)(struct store *st, const char *addr,
	    const char *addr_hash, const struct consent_event *ev,
	    struct store_forget_counts *n_r, char *why, size_t whylen);
	enum store_status (*quarantine_ls)(struct store *st,
	    const struct store_qfilter *f, store_qrow_fn *fn, void *ctx,
	    char *why, size_t whylen);
	enum store_status (*quarantine_released)(struct store *st,
	    long long id, time_t when, char *why, size_t whylen);
	enum store_status (*quarantine_del)(struct store *st, long long id,
	    char *why, size_t whylen);
	enum store_status (*spool_refs)(struct store *st,
	    const char *spool_file, long long *n_r, char *why,
	    size_t whylen);
	enum store_status (*members)(struct store *st, const char *list,
	    bool opt_outs_only, store_member_fn *fn, void *ctx, char *why,
	    size_t whylen);
	enum store_status (*opt_out_addrs)(struct store *st, const char *list,
	    store_addr_fn *fn, void *ctx, char *why, size_t whylen);
	enum store_status (*stats)(struct store *st, time_t since,
	    store_stat_fn *fn, void *ctx, char *why, size_t whylen);
	enum store_status (*event_add)(struct store *st,
	    const struct consent_event *ev, char *why, size_t whylen);
	enum store_status (*unsuppress)(struct store *st, const char *key,
	    const struct consent_event *ev, char *why, size_t whylen);
	enum store_status (*checkpoint)(struct store *st, char *why,
	    size_t whylen);
	/* NULL: commits are durable when they return, no log to trim */
	enum store_status (*sync)(struct store *st, char *why, size_t whylen);
	enum store_status (*wal_backfill)(struct store *st, char *why,
	    size_t whylen);
	/* tab: an entry of store_tables[] */
	enum store_status (*table_rows)(struct store *st,
	    const struct store_table *tab, store_row_fn *fn, void *ctx,
	    char *why, size_t whylen);
	/* store_table_put after the CHECK sets: *refused_r for a
	 * constraint or a column type the engine reports */
	enum store_status (*table_put)(struct store *st,
	    const struct store_table *tab, const char *const *vals,
	    bool *refused_r, char *why, size_t whylen);
	enum store_status (*table_done)(struct store *st,
	    const struct store_table *tab, char *why, size_t whylen);
	enum store_status (*table_count)(struct store *st,
	    const struct store_table *tab, long long *n_r, char *why,
	    size_t whylen);
	enum store_status (*table_lock)(struct store *st,
	    const struct store_table *tab, char *why, size_t whylen);
	/* feedback (schema version 2) */
	enum store_status (*feedback_add)(struct store *st,
	    const struct store_feedback *fb, long long *id_r, char *why,
	    size_t whylen);
	enum store_status (*feedback_count)(struct store *st,
	    const char *addr, const char *campaign, const char *kind,
	    time_t since, long long *n_r, char *why, size_t whylen);
	enum store_status (*feedback_stats)(struct store *st, time_t since,
	    store_fbstat_fn *fn, void *ctx, char *why, size_t whylen);
	enum store_status (*feedback_ls)(struct store *st, const char *addr,
	    time_t since, bool acted_only, store_fbrow_fn *fn, void *ctx,
	    char *why, size_t whylen);
	enum store_status (*sent_add)(struct store *st, const char *campaign,
	    const char *list, long long n, char *why, size_t whylen);
	enum store_status (*campaign_pause)(struct store *st,
	    const char *campaign, const char *reason, char *why,
	    size_t whylen);
	enum store_status (*campaign_paused)(struct store *st,
	    const char *campaign, char *reason_r, size_t reasonlen,
	    time_t *paused_at_r, char *why, size_t whylen);
	enum store_status (*campaign_resume)(struct store *st,
	    const char *campaign, char *why, size_t whylen);
	enum store_status (*campaign_ls)(struct store *st,
	    store_pause_fn *fn, void *ctx, char *why, size_t whylen);
	/* hand-over records (SQLite schema version 3) */
	enum store_status (*handover_claim)(struct store *st, const char *key,
	    const char *recipient, enum store_handover_state state,
	    const char *queue_id, time_t now, struct store_handover *old_r,
	    char *why, size_t whylen);
	enum store_status (*handover_set)(struct store *st, const char *key,
	    const char *recipient, enum store_handover_state state,
	    time_t now, char *why, size_t whylen);
	enum store_status (*handover_purge)(struct store *st, time_t before,
	    long long *n_r, char *why, size_t whylen);
	/* store_reads_begin() opens a read transaction (begin_read): true
	 * where that spares each statement its own (SQLite: the WAL locks
	 * and file checks of one), false where it would only add round
	 * trips (PostgreSQL) */
	bool group_reads;
};

/* What store.c knows of the legacy erased forms ("hmac:") of a database:
 * this version never writes one, so "none" stays true. */
enum store_legacy { STORE_LEGACY_UNKNOWN = 0, STORE_LEGACY_NONE,
	STORE_LEGACY_SOME };

/* Room for every remark of one open in full: the file's mode and the
 * schema version, each naming a ConsentDB of up to PATH_MAX bytes. */
#define STORE_WARNING_MAX	(2 * PATH_MAX + 256)

/* The common head of every backend handle (zeroed by the backend). */
struct store {
	const struct store_backend *be;	/* static */
	bool created;			/* this open created the database */
	int version;			/* schema version found (or made) */
	const char *agent;		/* borrowed (store_set_agent): the
					   user_agent of events that name
					   none */
	char warning[STORE_WARNING_MAX]; /* store_warning(); "" when none;
					   remarks joined by "; " */
	enum store_legacy legacy;	/* store.c's cache, see above */
};

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pgsql_backend;

/* store_global_init() of the SQLite engine (store_sqlite_open.c). */
void	store_sqlite_global_init(void);
/* store_bulk_memory() of the SQLite engine (store_sqlite_open.c). */
void	store_sqlite_bulk_memory(size_t bytes);

/* Rules every engine shares (store_rules.c). */

/* A status word of the schema, or SUB_NONE if unknown (or NULL). */
enum sub_status store_status_parse(const char *word);

/* The schema's word for a status a row can be set to; NULL with why
 * filled for SUB_NONE or a value out of range.  Static string. */
const char *store_status_settable(enum sub_status status, char *why,
	    size_t whylen);

/* Is reason one of the schema's suppression reasons?  false with why
 * filled when not. */
bool store_reason_check(const char *reason, char *why, size_t whylen);

/* Is kind one of the schema's feedback kinds?  false with why filled when
 * not.  (Our SQLite handles do not run the schema's CHECKs: sq_setup.) */
bool store_kind_check(const char *kind, char *why, size_t whylen);

/* Are the values of a row of tab (vals[], as store_table_put takes
 * them) in the schema's CHECK sets (subscription status, suppression
 * reason, feedback kind, the 0/1 columns)?  false with why naming the
 * table, the row's first column and the bad value when not.  (Our SQLite
 * handles do not run the schema's CHECKs: sq_setup.) */
bool store_row_check(const struct store_table *tab, const char *const *vals,
	    char *why, size_t whylen);

/* Does an import row leave the subscription as it is (store_import_set):
 * the state is already status, or the flags hold the change back? */
bool store_import_keeps(enum sub_status old, time_t old_at,
	    enum sub_status status, unsigned flags, time_t consented_at);

/*
 * The schema version check of every engine's open: st->version must lie
 * from STORE_SCHEMA_OLDEST to STORE_SCHEMA_VERSION, or be older with
 * STORE_MIGRATE in flags.  STORE_OK (when the version is older than
 * STORE_SCHEMA_VERSION and flags lack STORE_MIGRATE, the remark "run
 * optinctl migrate" added to st->warning after any remark already there,
 * once), else
 * STORE_ERROR with why naming the database (name, as store_mask() shows
 * it), the version found and the one this build knows.
 */
enum store_status store_version_check(struct store *st, const char *name,
	    unsigned flags, char *why, size_t whylen);

/* The store_tables[] entry of name, or NULL with why filled. */
const struct store_table *store_table_find(const char *name, char *why,
	    size_t whylen);

/* Into sql (len bytes): "INSERT INTO t (cols) VALUES (P1, ...)" with
 * parameters written as prefix and number ("?" SQLite, "$" PostgreSQL);
 * -1 when it does not fit. */
int store_table_insert_sql(const struct store_table *tab, char prefix,
	    char *sql, size_t len);

/* The PostgreSQL schema step to version `to`: sql/pgsql/NNN-*.sql (NNN =
 * to), compiled in from the file; NULL when there is none.  Static
 * string. */
const char *store_pgsql_step(int to);

/* The migration SQL to schema version `to` compiled into store_sqlite_open.c
 * (identical to sql/sqlite-NNN-*.sql); NULL when there is none. */
const char *store_sqlite_migration(int to);

/* The SQLite backend's connection of st and its error mapping, for the
 * feedback operations in store_sqlite_fb.c (a file of its own, so that
 * store_sqlite.c does not grow).  Busy/locked is STORE_TEMPFAIL. */
struct sqlite3;
struct sqlite3 *store_sqlite_db(struct store *st);
enum store_status store_sqlite_fail(struct store *st, int rc,
	    const char *what, char *why, size_t whylen);
/* Does stmt (prepared on store_sqlite_db(st)) have to be refused, the file
 * replaced or removed while open (sq_replaced: a statement that writes is
 * checked at once, a read as a lookup is)?  Then store_sqlite_fail says why. */
struct sqlite3_stmt;
bool store_sqlite_replaced(struct store *st, struct sqlite3_stmt *stmt);

/* store_sqlite_fb.c: the feedback operations of the SQLite backend, as
 * the members of the same name in struct store_backend. */
enum store_status sqfb_feedback_add(struct store *st,
	    const struct store_feedback *fb, long long *id_r, char *why,
	    size_t whylen);
enum store_status sqfb_feedback_count(struct store *st, const char *addr,
	    const char *campaign, const char *kind, time_t since,
	    long long *n_r, char *why, size_t whylen);
enum store_status sqfb_feedback_stats(struct store *st, time_t since,
	    store_fbstat_fn *fn, void *ctx, char *why, size_t whylen);
enum store_status sqfb_feedback_ls(struct store *st, const char *addr,
	    time_t since, bool acted_only, store_fbrow_fn *fn, void *ctx,
	    char *why, size_t whylen);
enum store_status sqfb_sent_add(struct store *st, const char *campaign,
	    const char *list, long long n, char *why, size_t whylen);
enum store_status sqfb_campaign_pause(struct store *st,
	    const char *campaign, const char *reason, char *why,
	    size_t whylen);
enum store_status sqfb_campaign_paused(struct store *st,
	    const char *campaign, char *reason_r, size_t reasonlen,
	    time_t *paused_at_r, char *why, size_t whylen);
enum store_status sqfb_campaign_resume(struct store *st,
	    const char *campaign, char *why, size_t whylen);
enum store_status sqfb_campaign_ls(struct store *st, store_pause_fn *fn,
	    void *ctx, char *why, size_t whylen);

/* store_sqlite_fb.c too: the hand-over operations of the SQLite
 * backend, as the members of the same name in struct store_backend. */
enum store_status sqho_handover_claim(struct store *st, const char *key,
	    const char *recipient, enum store_handover_state state,
	    const char *queue_id, time_t now, struct store_handover *old_r,
	    char *why, size_t whylen);
enum store_status sqho_handover_set(struct store *st, const char *key,
	    const char *recipient, enum store_handover_state state,
	    time_t now, char *why, size_t whylen);
enum store_status sqho_handover_purge(struct store *st, time_t before,
	    long long *n_r, char *why, size_t whylen);

/* The schema text compiled into store_sqlite_open.c (identical to
 * sql/schema.sql; the unit test compares them).  Static string. */
const char *store_sqlite_schema(void);

#endif
