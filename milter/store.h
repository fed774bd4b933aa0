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

/* The schema version this build knows (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 1

/*
 * Open the store named by cfg (ConsentDB, DBBusyTimeout).  Without
 * STORE_CREATE a missing file or a schema of another version is an error.
 * NULL with why[] filled on failure; *st_r is the status kind.
 */
struct store *store_open(const struct config *cfg, unsigned flags,
	    enum store_status *st_r, char *why, size_t whylen);

/* Close; sets *stp to NULL.  Accepts NULL and *stp == NULL. */
void store_close(struct store **stp);

/* Look up addr on list; fills *row_r (SUB_NONE when no row). */
enum store_status store_lookup(struct store *st, const char *addr,
	    const char *list, struct consent_row *row_r, char *why,
	    size_t whylen);

/* Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK). */
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

/* Does the list exist?  STORE_OK or STORE_NOTFOUND. */
enum store_status store_list_exists(struct store *st, const char *list,
	    bool *double_opt_in_r, char *why, size_t whylen);

/* Create a list (STORE_ERROR if it exists). */
enum store_status store_list_add(struct store *st, const char *list,
	    const char *name, bool double_opt_in, char *why, size_t whylen);

/*
 * Set the subscription (addr, list) to status and append the consent event
 * ev (ev->event defaults to the status word), in one transaction unless the
 * caller holds one.  The list must exist (STORE_NOTFOUND otherwise).
 */
enum store_status store_set_status(struct store *st, const char *addr,
	    const char *list, enum sub_status status,
	    const struct consent_event *ev, char *why, size_t whylen);

/* Add a global suppression with reason (DESIGN words) and an event. */
enum store_status store_suppress(struct store *st, const char *addr,
	    const char *reason, const struct consent_event *ev, char *why,
	    size_t whylen);

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
