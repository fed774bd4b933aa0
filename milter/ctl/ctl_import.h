/*
 * ctl_import.h - optinctl import, private to milter/ctl: the seam between
 * the mapping of a CSV file's columns and rows (ctl_import_map.c, run by
 * the parser thread: no database) and the pipeline that applies the rows
 * (ctl_import.c, the database thread, with its duplicate-row table in
 * ctl_import_seen.c).
 *
 * A checked row (struct prow) keeps its strings in its batch's buffer, as
 * offsets (NOSTR: none), so that a batch moves between the threads as one
 * block.  A batch and its rows belong to one thread at a time.
 */
#ifndef OPTIN_CTL_IMPORT_H
#define OPTIN_CTL_IMPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "consent.h"
#include "config.h"
#include "csv.h"
#include "store.h"

#define SOURCE_MAX	64
#define EVIDENCE_MAX	1024
#define LIST_MAX	64

/*
 * How far another clock may be off: a consented_at may lie up to this far
 * ahead of the import (clock skew, and local times written without a zone,
 * read as UTC: up to 14 hours); later is a bad row.  For the same reason
 * two times closer than this are not known to be in order: a consented_at
 * undoes an opt-out only when it is later than the opt-out by more than
 * this.
 */
#define IMPORT_CLOCK_SKEW	86400

enum import_fmt { FMT_OPTIN, FMT_VTIGER };

/* Column indexes in the header; -1: absent. */
enum import_col {
	COL_ADDRESS, COL_LIST, COL_STATUS, COL_SOURCE, COL_CONSENTED,
	COL_EVIDENCE, COL_EMAIL, COL_EMAIL2, COL_OPTOUT, NCOLS
};

/* What the header row says, and the options that shape each row. */
struct import_map {
	const char *file;		/* as given, for messages */
	enum import_fmt fmt;
	int col[NCOLS];
	size_t ncols;			/* fields in the header */
	const char *list;		/* --list */
	const char *source;		/* --source, else the format's */
	const char *assume;		/* --assume-opt-in SOURCE */
	char assume_evidence[SOURCE_MAX + 32];
	time_t now;			/* when the import started */
};

#define NOSTR	UINT32_MAX
enum prow_kind { PROW_OK, PROW_BAD, PROW_SKIP };

/* A row checked by the parser thread, waiting for the database. */
struct prow {
	unsigned long line;
	enum prow_kind kind;
	enum sub_status status;
	unsigned flags;			/* STORE_IMPORT_* */
	time_t consented_at;		/* as written; 0: none */
	unsigned naddr;			/* 1 or 2 (Email, Secondary Email) */
	uint32_t addr[2], list, source, evidence;
	uint32_t msg;			/* PROW_BAD: the reason */
	uint64_t key;			/* optin: import_key(addr, list) */
};

#define BATCH_ROWS	4096

struct batch {
	struct prow row[BATCH_ROWS];
	size_t n;
	char *buf;			/* owned: the rows' strings */
	size_t len, cap;
	bool last;			/* no more batches after this one */
	int ioerr;			/* EX_IOERR or EX_OSERR: stop */
	char why[256];
};

/*
 * Find the columns of the header row rec and tell the format into m
 * (m->file, list, source and assume set by the caller).  Returns 0, or an
 * exit code after printing why on stderr: EX_DATAERR (65) for a header
 * that maps no address column (the message names the columns seen), a
 * column given twice or a missing status column; EX_USAGE (64) when the
 * options do not fit the file (no list, --assume-opt-in on an optin file).
 */
int import_map_header(struct import_map *m, const struct csv_record *rec);

/*
 * Check data row rec of the file described by m into r (r->line and
 * r->kind = PROW_OK set by the caller); strings go into b.  A bad row gets
 * PROW_BAD and its reason; a CRM contact without e-mail PROW_SKIP.  Pure:
 * no database, so that it runs on the parser thread.
 */
void import_map_row(const struct import_map *m, const struct csv_record *rec,
	    struct batch *b, struct prow *r);

/* The duplicate-row key of (addr, list): FNV-1a 64 of addr NUL list,
 * never 0.  Computed by the parser thread (prow.key) so that the database
 * thread only looks it up. */
uint64_t import_key(const char *addr, const char *list);

/* The duplicate-row table (ctl_import_seen.c): zero it to start. */
struct import_seen {
	struct seen *tab;		/* owned; NULL until the first row */
	size_t cap, n;			/* slots (a power of 2), used */
};

/*
 * Note the optin row r (r->key, r->line, r->status) in t: 0 when its
 * (address, list) is new, 1 when an earlier row had it in the same state,
 * -1 when in another (*line_r and *status_r then say the first row's line
 * and state), -2 out of memory.  XXX the 64-bit key stands for the pair:
 * two pairs with the same key would be taken for duplicates.
 */
int import_seen_add(struct import_seen *t, const struct prow *r,
	    unsigned long *line_r, enum sub_status *status_r);

/* Start loading the slot of key (a row import_seen_add() will see soon). */
void import_seen_prefetch(const struct import_seen *t, uint64_t key);

/* Free t's table; t is then empty (and may be used again). */
void import_seen_free(struct import_seen *t);

/* Copy s into b's buffer: its offset, or NOSTR when out of memory (then
 * b->ioerr is EX_OSERR). */
uint32_t import_batch_str(struct batch *b, const char *s);

/* Mark r bad for the reason given (printf format). */
void import_batch_bad(struct batch *b, struct prow *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Where an imported (address, list) stands afterwards, for the summary
 * (ctl_import_states.c): the state of its subscription, or what blocks all
 * campaign mail to it (an erased address, whose opt-out row is skipped; a
 * suppressed one, whatever the list says).  Every state but IMP_OPTED_IN
 * means no campaign mail on that list (DESIGN "Consent model").
 */
enum imp_state {
	IMP_OPTED_IN, IMP_PENDING, IMP_OPTED_OUT, IMP_SUPPRESSED, IMP_ERASED,
	IMP_NSTATES
};

/* Counts of imported pairs by enum imp_state; zero it to start. */
struct import_states {
	unsigned long n[IMP_NSTATES];
};

/* Count one pair left in subscription state now (SUB_NONE counts as
 * opted_out), its address suppressed or not. */
void import_states_count(struct import_states *st, enum sub_status now,
	    bool suppressed);

/* Take back one count of import_states_count(st, now, suppressed) (a pair
 * counted again in another state); never below 0. */
void import_states_uncount(struct import_states *st, enum sub_status now,
	    bool suppressed);

/*
 * Print the line that says how many of the counted pairs will not get
 * campaign mail, and why, with DESIGN's words (reasons with a count of 0
 * left out), on fp: "3 of 10 will not get campaign mail: 1 pending (double
 * opt-in not confirmed), 1 opted_out, 1 suppressed".  Prints nothing when
 * every counted pair is opted_in (or none was counted).
 */
void import_states_print(const struct import_states *st, FILE *fp);

/* Print the counts as the JSON member "states":{"opted_in":N,...} on fp. */
void import_states_json(const struct import_states *st, FILE *fp);

/*
 * The checkpointer of an import (ctl_import_ckpt.c): the import's writer
 * (STORE_BULK) runs no checkpoint itself; a thread of its own, on a
 * handle of its own, copies the committed log into the database file and
 * syncs it (store_wal_backfill) while the writer goes on writing.  Every
 * IMPORT_CKPT_DRAIN commits the writer waits for a checkpoint of all it
 * committed, with the write lock free, so that its next transaction starts
 * the log from its beginning: the log stays below that many transactions'
 * pages.  Used by the database thread alone; zero it before start.
 */
#define IMPORT_CKPT_DRAIN	16

struct import_ckpt {
	struct store *st;		/* owned: the checkpointer's handle */
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long asked, done;	/* commits asked for / checkpointed */
	bool running, stop;
	enum store_status ss;		/* the first failure, STORE_OK: none */
	char why[512];			/* rc's reason */
};

/* Start the checkpointer of cfg's database; 0 or an exit code after a
 * message (the caller runs no import then). */
int import_ckpt_start(struct import_ckpt *k, const struct config *cfg);

/* After the writer's commit number n (1, 2, ...): have it checkpointed;
 * every IMPORT_CKPT_DRAIN-th, wait until it is.  0 or the exit code of a
 * failed checkpoint (reported).  Nothing when not started. */
int import_ckpt_commit(struct import_ckpt *k, unsigned long n);

/* Stop the thread after a checkpoint of the last commit, and close its
 * handle; 0 or the exit code of a failed checkpoint (reported). */
int import_ckpt_stop(struct import_ckpt *k);

#endif
