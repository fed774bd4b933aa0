/*
 * store.h - the consent store, any backend (SQLite now; PostgreSQL later
 * behind the same interface, DESIGN "Scale-out").
 *
 * One handle per thread: a handle is not shared without a lock.  Every
 * function returns STORE_TEMPFAIL when the database is unavailable or locked
 * past its busy timeout (never "not found"), STORE_ERROR for bad data or an
 * internal fault, with why[] filled.  Addresses given here are already
 * normalised (addr_normalize).  Times are seconds since the epoch.
 */
#ifndef OPTIN_STORE_H
#define OPTIN_STORE_H

#include <stddef.h>
#include <stdbool.h>
#include <time.h>

#include "consent.h"

struct config;
struct store;			/* opaque */

enum store_status { STORE_OK, STORE_NOTFOUND, STORE_TEMPFAIL, STORE_ERROR };

#define STORE_CREATE	0x01	/* create the file and schema if missing */
#define STORE_READONLY	0x02
#define STORE_MIGRATE	0x04	/* accept an older schema (for store_migrate) */

/* The schema version this build knows (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 1

/*
 * Open the store named by cfg (ConsentDB, DBBusyTimeout).  Without
 * STORE_CREATE a missing file or a schema of another version is an error.
 * NULL with why[] filled on failure; *st_r is the status kind.
 *
 * SQLite (ConsentDB is a path, optionally "sqlite:PATH"): a missing file
 * without STORE_CREATE is STORE_TEMPFAIL (the milter tempfails, mail stays
 * queued); a schema version other than STORE_SCHEMA_VERSION is STORE_ERROR
 * naming both (with STORE_MIGRATE an older one is accepted).  STORE_CREATE
 * creates the file with mode 0600 (it sets the process umask to 077 for a
 * moment: not for threaded callers) but never its directory.
 */
struct store *store_open(const struct config *cfg, unsigned flags,
	    enum store_status *st_r, char *why, size_t whylen);

/* Close; sets *stp to NULL.  Accepts NULL and *stp == NULL. */
void store_close(struct store **stp);

/* Look up addr on list; fills *row_r (SUB_NONE when no row). */
enum store_status store_lookup(struct store *st, const char *addr,
	    const char *list, struct consent_row *row_r, char *why,
	    size_t whylen);

/* Did this store_open() create the database (STORE_CREATE)? */
bool store_created(const struct store *st);

/* The schema version of the open database. */
int store_version(const struct store *st);

/*
 * Apply the numbered migrations up to STORE_SCHEMA_VERSION (open with
 * STORE_MIGRATE); *from_r and *to_r get the versions before and after.
 */
enum store_status store_migrate(struct store *st, int *from_r, int *to_r,
	    char *why, size_t whylen);

/*
 * Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK).  Single changes
 * (store_set_status, store_suppress, ...) are atomic by themselves and nest
 * inside such a transaction.
 */
enum store_status store_begin(struct store *st, char *why, size_t whylen);
enum store_status store_commit(struct store *st, char *why, size_t whylen);
void store_rollback(struct store *st);

/* One consent event; fields may be NULL except addr and event. */
struct consent_event {
	const char *addr;
	const char *list;
	const char *event;	/* "opted_in", "opted_out", "pending",
				   "suppressed", "erased", ... */
	const char *source;	/* "optinctl", "one-click", "web", "mailto"... */
	const char *evidence;
	const char *remote_addr;
	const char *user_agent;
};

/* Does the list exist?  STORE_OK or STORE_NOTFOUND; double_opt_in_r may
 * be NULL. */
enum store_status store_list_exists(struct store *st, const char *list,
	    bool *double_opt_in_r, char *why, size_t whylen);

/* Create a list (STORE_ERROR if it exists). */
enum store_status store_list_add(struct store *st, const char *list,
	    const char *name, bool double_opt_in, char *why, size_t whylen);

/*
 * Set the subscription (addr, list) to status and append the consent event
 * ev (ev->event defaults to the status word), in one transaction unless the
 * caller holds one.  The list must exist (STORE_NOTFOUND otherwise).  The
 * event row takes its address and list from addr and list (ev->addr and
 * ev->list are ignored here); ev may be NULL.
 */
enum store_status store_set_status(struct store *st, const char *addr,
	    const char *list, enum sub_status status,
	    const struct consent_event *ev, char *why, size_t whylen);

/*
 * Add a global suppression with reason (DESIGN words) and an event, in one
 * transaction as store_set_status.  An existing suppression keeps its
 * reason and time; the event is written anyway.  The event row defaults to
 * event "suppressed" and evidence "reason=REASON"; its address is addr.
 */
enum store_status store_suppress(struct store *st, const char *addr,
	    const char *reason, const struct consent_event *ev, char *why,
	    size_t whylen);

/* A global suppression: STORE_OK with reason_r (reasonlen bytes) and
 * *created_at_r filled (either may be NULL/0), or STORE_NOTFOUND. */
enum store_status store_suppression(struct store *st, const char *addr,
	    char *reason_r, size_t reasonlen, time_t *created_at_r, char *why,
	    size_t whylen);

/* One list, as store_list_ls() reports it; strings borrowed for the call. */
struct store_list {
	const char *list;
	const char *name;		/* NULL when none */
	bool double_opt_in;
	time_t created_at;
	long long opted_in, pending, opted_out;	/* subscription counts */
};

/*
 * Callback of the iterators below: return 0 to go on, non-zero to stop.
 * It must not call store functions on the same handle.
 */
typedef int store_list_fn(const struct store_list *l, void *ctx);

/* Call fn for every list, ordered by list id. */
enum store_status store_list_ls(struct store *st, store_list_fn *fn,
	    void *ctx, char *why, size_t whylen);

/* One subscription of an address; strings borrowed for the call. */
struct store_sub {
	const char *list;
	enum sub_status status;		/* never SUB_NONE */
	const char *source;		/* NULL when none */
	time_t updated_at;
};

typedef int store_sub_fn(const struct store_sub *s, void *ctx);

/* Call fn for every subscription row of addr, ordered by list id. */
enum store_status store_subscriptions(struct store *st, const char *addr,
	    store_sub_fn *fn, void *ctx, char *why, size_t whylen);

/* One quarantine row (one per blocked recipient). */
struct quarantine_row {
	const char *queue_id;
	const char *message_id;
	const char *sender;
	const char *recipient;
	const char *list;
	const char *reason;	/* consent_reason_str() or "resubmit_failed" */
	const char *spool_file;	/* name relative to QuarantineDir */
	time_t received_at;
};

/* Insert one quarantine row; *id_r (may be NULL) gets its id. */
enum store_status store_quarantine_add(struct store *st,
	    const struct quarantine_row *row, long long *id_r, char *why,
	    size_t whylen);

#endif
