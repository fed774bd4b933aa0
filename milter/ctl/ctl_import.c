/*
 * ctl_import.c - optinctl verb "import FILE.csv" (DESIGN "optinctl"): the
 * pipeline that reads, checks and applies the rows of a CSV file.  The
 * formats and the check of each row are in ctl_import_map.c, the CSV
 * reader in csv.c, export-list in ctl_export.c.
 *
 * Rows are applied in bounded transactions: one is committed when it has
 * been open IMPORT_TX_MS, then the write lock stays free for
 * IMPORT_PAUSE_MS, so that the milter (quarantine rows), optin-unsubd
 * (one-click answers) and other optinctl runs get it in between; a long
 * import never holds the database for more than a few tens of
 * milliseconds; nor while it waits for input (a slow pipe): what it has is
 * committed first.  Per row: the suppression read of the opt-in gate (no
 * erased-form query while nobody is erased: ctl_erased_none, asked per
 * transaction), one prepared read and, on a change, one upsert and one
 * event (store_import_set); a row whose state does not change writes
 * nothing, so importing the same file twice changes nothing the second
 * time, and an import that stopped half-way (an I/O or database error) can
 * simply be run again: it says on which line it stopped and up to which
 * line its rows are written.  --strict checks the whole file first (a pass
 * that writes nothing, in a read transaction: no write lock) and applies
 * it only when no row is bad; standard input is copied to a temporary file
 * for that.  --dry-run is that check alone.
 *
 * Two threads: a parser thread reads the CSV and checks each row
 * (import_map_row: addresses normalised, words and times parsed: no
 * database; the duplicate-row key hashed too), handing batches of rows to
 * the main thread, which alone uses the store, in file order.  Every change
 * writes a consent event.  Bad rows are reported on stderr with their line
 * number and skipped.  Every address passes the opt-in gate (ctl_reconsent,
 * reconsent.h): an opt-in or pending row of an erased or suppressed
 * address is a bad row (no silent re-consent: optinctl subscribe
 * --evidence lifts the block); an opt-out row of an erased address is
 * skipped (the hash blocks it).
 *
 * On a terminal (stderr a TTY, no --json) a progress line shows rows,
 * percent of the file, rows/s and the time left.  The summary ends with
 * how many imported (address, list) pairs will not get campaign mail, by
 * the state each is left in (ctl_import_states.c).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "consent.h"
#include "csv.h"
#include "ctl.h"
#include "ctl_import.h"
#include "reconsent.h"
#include "store.h"

#define JSON_ERRORS_MAX	1000	/* bad rows listed in --json output */
#define NBATCH		4		/* batches in flight */
#define IMPORT_TX_MS	25		/* commit a transaction this old */
#define IMPORT_PAUSE_MS	2		/* then leave the write lock free */
#define TICK_ROWS	64		/* look at the clock every so many */
#define PROGRESS_MS	250		/* terminal progress line refresh */
#define SEEN_AHEAD	8		/* rows prefetched ahead */
/* SQLite's page cache (store_bulk_memory): 4 bytes per byte of the file
 * (a row of the bench's file, 70 bytes, leaves about 300 bytes of
 * database pages: its subscription, its event and their indexes), at
 * least 16 MiB; 64 MiB when reading a pipe */
#define IMPORT_CACHE_PER_BYTE	4
#define IMPORT_CACHE_MIN	(16UL * 1024 * 1024)
#define IMPORT_CACHE_PIPE	(64UL * 1024 * 1024)

/* A list seen in the file, checked once. */
struct known_list {
	char name[LIST_MAX + 1];
	bool exists;
};

/* The hand-over between the parser thread and the database thread. */
struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *full[NBATCH];	/* FIFO of parsed batches */
	size_t nfull, head;
	struct batch *free[NBATCH];	/* batches to fill */
	size_t nfree;
	bool stop;			/* the consumer gave up */
};

struct import {
	struct ctl *c;
	struct import_map m;		/* read-only once the rows start */
	bool strict, dry_run;
	struct csv *rd;			/* borrowed; the parser thread's */
	struct pipe pipe;
	int fd;				/* borrowed: the input */
	off_t size;			/* a regular file's size; 0: unknown */

	bool check_only;		/* this pass writes nothing */
	bool in_tx;
	long long tx_start;		/* ms, mono_ms() */
	unsigned long done_line;	/* rows up to here are committed */
	unsigned long last_line;	/* the last row applied */
	bool tx_rows;			/* rows applied in the open one */
	unsigned long ntx;		/* transactions committed */
	long long tx_max;		/* longest write transaction, ms */

	bool progress, shown;		/* progress line on stderr (a TTY) */
	const char *phase;		/* "checking" or NULL */
	long long t0, shown_at;		/* ms */

	struct known_list *lists;	/* owned */
	size_t nlists;
	struct import_seen seen;	/* owned: optin rows seen */
	struct import_ckpt ckpt;	/* owned: the checkpointer */

	unsigned long rows, added, changed, unchanged, kept, skipped, bad;
	struct import_states states;	/* pairs by resulting state */
	FILE *jerr;			/* --json: bad rows as JSON items */
	char *jerr_buf;
	size_t jerr_len;
};

/* mono_ms - a monotonic clock in milliseconds */
static long long
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* progress_clear - take the progress line off the terminal */
static void
progress_clear(struct import *im)
{
	if (im->shown) {
		fputs("\r\033[K", stderr);
		im->shown = false;
	}
}

/*
 * progress_show - the progress line: rows, percent of the file read (by
 * the parser thread: the kernel's offset of the input), rows/s and the
 * time left; overwritten in place (CR, erase to the end of the line).
 */
static void
progress_show(struct import *im, long long now)
{
	double secs = (double)(now - im->t0) / 1000, frac = 0;
	off_t pos;
	long left;

	im->shown_at = now;
	if (secs <= 0)
		return;
	if (im->size > 0 && (pos = lseek(im->fd, 0, SEEK_CUR)) > 0)
		frac = (double)pos / (double)im->size;
	fprintf(stderr, "\r\033[Koptinctl import: %s%s%lu rows",
	    im->phase != NULL ? im->phase : "", im->phase != NULL ? ": " : "",
	    im->rows);
	if (frac > 0 && frac <= 1) {
		left = (long)(secs * (1 - frac) / frac + 0.5);
		fprintf(stderr, " (%d%%), %.0f rows/s, %ld:%02ld left",
		    (int)(frac * 100), im->rows / secs, left / 60, left % 60);
	} else
		fprintf(stderr, ", %.0f rows/s", im->rows / secs);
	fflush(stderr);
	im->shown = true;
}

/* bad_row - report one bad row: stderr always, and the JSON list */
static void
bad_row(struct import *im, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
bad_row(struct import *im, unsigned long line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	progress_clear(im);
	/* the message quotes the file: no control character reaches the
	 * terminal */
	fprintf(stderr, "optinctl import: %s:%lu: ", im->m.file, line);
	ctl_put_text(stderr, msg);
	fputc('\n', stderr);
	if (im->jerr != NULL && im->bad < JSON_ERRORS_MAX) {
		fprintf(im->jerr, "%s{\"line\":%lu,\"reason\":",
		    im->bad > 0 ? "," : "", line);
		ctl_json_str(im->jerr, msg);
		fputc('}', im->jerr);
	}
	im->bad++;
}


/* pipe_get_free - a batch to fill, or NULL when the consumer stopped */
static struct batch *
pipe_get_free(struct pipe *p)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&p->mu);
	while (p->nfree == 0 && !p->stop)
		pthread_cond_wait(&p->cv, &p->mu);
	if (!p->stop)
		b = p->free[--p->nfree];
	pthread_mutex_unlock(&p->mu);
	return b;
}

/* pipe_put_full - hand a filled batch over */
static void
pipe_put_full(struct pipe *p, struct batch *b)
{
	pthread_mutex_lock(&p->mu);
	p->full[(p->head + p->nfull) % NBATCH] = b;
	p->nfull++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* parse_main - the parser thread: fill batches until the input ends */
static void *
parse_main(void *arg)
{
	struct import *im = arg;
	struct csv_record rec;
	enum csv_status cs;
	struct prow *r;
	struct batch *b;
	char why[256];
	bool done = false;

	while (!done && (b = pipe_get_free(&im->pipe)) != NULL) {
		b->n = 0;
		b->len = 0;
		b->last = false;
		b->ioerr = 0;
		while (b->n < BATCH_ROWS && b->ioerr == 0) {
			/* input from a pipe that may wait: hand on the rows
			 * read so far first (they are committed while the
			 * database thread waits, import_rows) */
			if (b->n > 0 && im->size == 0 && !csv_ready(im->rd))
				break;
			cs = csv_read(im->rd, &rec, why, sizeof(why));
			if (cs == CSV_EOF) {
				done = true;
				break;
			}
			if (cs == CSV_IOERR) {
				b->ioerr = EX_IOERR;
				snprintf(b->why, sizeof(b->why), "%s", why);
				break;
			}
			r = &b->row[b->n++];
			r->line = rec.line;
			r->kind = PROW_OK;
			if (cs == CSV_BAD)
				import_batch_bad(b, r, "%s", why);
			else
				import_map_row(&im->m, &rec, b, r);
		}
		if (b->ioerr == EX_OSERR)
			snprintf(b->why, sizeof(b->why), "out of memory");
		b->last = done || b->ioerr != 0;
		pipe_put_full(&im->pipe, b);
		if (b->ioerr != 0)
			break;
	}
	return NULL;
}

/* --- the database thread ---------------------------------------------- */

/* list_ok - does list exist (asked once per list); false after reporting
 * the row; *fatal_r set on a store failure */
static bool
list_ok(struct import *im, const char *list, unsigned long line,
    int *fatal_r)
{
	struct known_list *v;
	enum store_status rs;
	char why[512];
	size_t i;

	for (i = 0; i < im->nlists; i++)
		if (strcmp(im->lists[i].name, list) == 0)
			break;
	if (i == im->nlists) {
		rs = store_list_exists(im->c->st, list, NULL, why,
		    sizeof(why));
		if (rs != STORE_OK && rs != STORE_NOTFOUND) {
			*fatal_r = ctl_fail(rs, why);
			return false;
		}
		if ((v = realloc(im->lists, (im->nlists + 1) * sizeof(*v))) ==
		    NULL) {
			*fatal_r = EX_OSERR;
			return false;
		}
		im->lists = v;
		snprintf(v[i].name, sizeof(v[i].name), "%s", list);
		v[i].exists = rs == STORE_OK;
		im->nlists++;
	}
	if (!im->lists[i].exists) {
		bad_row(im, line, "no such list '%s'", list);
		return false;
	}
	return true;
}

/*
 * seen_check - an optin row r (addr, list) against the earlier rows of
 * the file: 0 new, 1 same as an earlier row (skip quietly), -1 conflict
 * (reported; *first_r is the earlier row's status), -2 out of memory.
 * A conflicting opt-out is still applied by the caller: whoever said no
 * anywhere in the file is not mailed.
 */
static int
seen_check(struct import *im, const char *addr, const char *list,
    const struct prow *r, enum sub_status *first_r)
{
	enum sub_status first;
	unsigned long line;
	int rc;

	rc = import_seen_add(&im->seen, r, &line, &first);
	if (rc == -1)
		bad_row(im, r->line, "%s on list %s is %s on line %lu: "
		    "conflicting rows%s", addr, list, sub_status_str(first),
		    line, r->status == SUB_OPTED_OUT ? " (the opt-out is "
		    "applied)" : "");
	*first_r = first;
	return rc;
}

/* apply - set one (addr, list) and count what happened and the state it
 * is left in (suppressed: the address has a global suppression); again:
 * the pair was counted by an earlier row of the file that said *again
 * (that count is taken back); 0 or an exit code */
static int
apply(struct import *im, const char *addr, const char *list,
    const struct prow *r, const struct consent_event *ev, bool suppressed,
    const enum sub_status *again)
{
	enum sub_status old, now;
	enum store_status rs;
	unsigned flags = r->flags;
	time_t after = 0;
	char why[512];
	bool changed;

	if (im->dry_run)
		flags |= STORE_IMPORT_DRY_RUN;
	/* two times closer than the clock skew are not known to be in
	 * order: only a consent clearly after an opt-out undoes it; and a
	 * consent dated ahead of this host's clock counts as now, so the
	 * skew allowed for future dates never outranks a recent opt-out */
	if (r->consented_at != 0)
		after = (r->consented_at < im->m.now ? r->consented_at :
		    im->m.now) - IMPORT_CLOCK_SKEW;
	rs = store_import_set(im->c->st, addr, list, r->status, flags, after,
	    ev, &old, NULL, &changed, why, sizeof(why));
	if (rs != STORE_OK)
		return ctl_fail(rs, why);
	now = changed || old == SUB_NONE ? r->status : old;
	/* the earlier row left the pair in old (as written) or, in a dry
	 * run that wrote nothing, in what it said */
	if (again != NULL)
		import_states_uncount(&im->states, im->dry_run ||
		    old == SUB_NONE ? *again : old, suppressed);
	import_states_count(&im->states, now, suppressed);
	/* kept: the file says otherwise and the state is held (an opt-out
	 * mostly); a CRM row without opt-out agrees with any other state */
	if (changed) {
		if (old == SUB_NONE && again == NULL)
			im->added++;
		else
			im->changed++;
	} else if (old == r->status || ((flags & STORE_IMPORT_ONLY_NEW) != 0
	    && old != SUB_OPTED_OUT))
		im->unchanged++;
	else
		im->kept++;
	return 0;
}

/* apply_row - one checked row, in file order; 0 or an exit code (fatal) */
static int
apply_row(struct import *im, const struct batch *b, const struct prow *r)
{
	struct consent_event ev = { 0 };
	struct reconsent blk;
	enum sub_status first = SUB_NONE;
	const char *list;
	char why[600];
	unsigned i;
	int fatal = 0, rc;
	bool conflict_optout = false;

	im->rows++;
	if (r->kind == PROW_BAD) {
		bad_row(im, r->line, "%s", r->msg != NOSTR ? b->buf + r->msg :
		    "out of memory");
		return 0;
	}
	if (r->kind == PROW_SKIP) {
		im->skipped++;
		return 0;
	}
	list = b->buf + r->list;
	if (!list_ok(im, list, r->line, &fatal))
		return fatal;
	if (im->m.fmt == FMT_OPTIN) {
		rc = seen_check(im, b->buf + r->addr[0], list, r, &first);
		if (rc == -1 && r->status == SUB_OPTED_OUT)
			conflict_optout = true;
		else if (rc != 0) {
			if (rc == 1)
				im->unchanged++;
			return rc == -2 ? EX_OSERR : 0;
		}
	}
	ev.source = r->source != NOSTR ? b->buf + r->source : im->m.source;
	ev.evidence = r->evidence != NOSTR ? b->buf + r->evidence : NULL;
	for (i = 0; i < r->naddr; i++) {
		rc = ctl_reconsent(im->c, b->buf + r->addr[i], r->status, &ev,
		    false, &blk, why, sizeof(why));
		if (rc == EX_DATAERR) {
			bad_row(im, r->line, "%s: not imported (optinctl "
			    "subscribe ADDR LIST --evidence TEXT lifts it)",
			    why);
			continue;
		}
		if (rc != EX_OK)
			return rc;
		if (blk.erased) {	/* an opt-out: the hash blocks it */
			im->skipped++;
			im->states.n[IMP_ERASED]++;
			continue;
		}
		if ((rc = apply(im, b->buf + r->addr[i], list, r, &ev,
		    blk.suppressed, conflict_optout ? &first : NULL)) != 0)
			return rc;
	}
	return 0;
}

/* tx_commit - commit the open write transaction and note how long it
 * held the write lock; 0 or an exit code */
static int
tx_commit(struct import *im)
{
	enum store_status rs;
	char why[512];
	long long held;

	if ((rs = store_commit(im->c->st, why, sizeof(why))) != STORE_OK)
		return ctl_fail(rs, why);
	im->in_tx = false;
	if (!im->tx_rows)		/* it waited for the first rows */
		return 0;
	im->tx_rows = false;
	im->ntx++;
	if ((held = mono_ms() - im->tx_start) > im->tx_max)
		im->tx_max = held;
	return 0;
}

/* tx_begin - begin a write transaction, and ask whether anyone is erased
 * (optinctl forget may have run while the lock was free); 0 or an exit
 * code */
static int
tx_begin(struct import *im)
{
	enum store_status rs;
	char why[512];

	/* no erasure between a row's "erased?" and its write */
	if ((rs = store_begin_change(im->c->st, why, sizeof(why))) !=
	    STORE_OK)
		return ctl_fail(rs, why);
	im->in_tx = true;
	im->tx_start = mono_ms();
	return ctl_erased_none(im->c, false);
}

/* tx_end - commit the open write transaction: the rows applied so far
 * are written, then handed to the checkpointer; 0 or an exit code */
static int
tx_end(struct import *im)
{
	int rc;

	if ((rc = tx_commit(im)) != 0)
		return rc;
	im->done_line = im->last_line;
	return import_ckpt_commit(&im->ckpt, im->ntx);
}

/*
 * chunk_next - commit the open transaction, leave the write lock free for
 * IMPORT_PAUSE_MS and begin the next one; 0 or an exit code
 */
static int
chunk_next(struct import *im)
{
	struct timespec pause = { 0, IMPORT_PAUSE_MS * 1000000L };
	int rc;

	if ((rc = tx_end(im)) != 0)
		return rc;
	(void)nanosleep(&pause, NULL);
	return tx_begin(im);
}

/*
 * import_tick - every TICK_ROWS rows: refresh the progress line, and end
 * a transaction that is IMPORT_TX_MS old; 0 or an exit code
 */
static int
import_tick(struct import *im)
{
	long long now = mono_ms();

	if (im->progress && now - im->shown_at >= PROGRESS_MS)
		progress_show(im, now);
	if (!im->check_only && now - im->tx_start >= IMPORT_TX_MS)
		return chunk_next(im);
	return 0;
}

/* pipe_idle - has the parser no batch ready? */
static bool
pipe_idle(struct pipe *p)
{
	bool idle;

	pthread_mutex_lock(&p->mu);
	idle = p->nfull == 0;
	pthread_mutex_unlock(&p->mu);
	return idle;
}

/*
 * import_rows - run the parser thread and apply its batches in order;
 * 0 or an exit code.  The parser reads, splits and checks rows (the costly
 * IDNA work of addr_normalize among it) while this thread writes the
 * previous batch: one core each.
 */
static int
import_rows(struct import *im)
{
	struct batch *all[NBATCH] = { NULL }, *b;
	struct pipe *p = &im->pipe;
	pthread_t tid;
	size_t i;
	bool last = false;
	int rc = 0;

	for (i = 0; i < NBATCH; i++)
		if ((all[i] = calloc(1, sizeof(*all[i]))) == NULL) {
			rc = EX_OSERR;
			goto out;
		}
	memset(p, 0, sizeof(*p));	/* a pass may come before */
	(void)pthread_mutex_init(&p->mu, NULL);
	(void)pthread_cond_init(&p->cv, NULL);
	for (i = 0; i < NBATCH; i++)
		p->free[p->nfree++] = all[i];
	if (pthread_create(&tid, NULL, parse_main, im) != 0) {
		fprintf(stderr, "optinctl import: cannot start a thread\n");
		rc = EX_OSERR;
		goto out_sync;
	}
	while (!last) {
		/* the parser is behind (input from a slow pipe, a loaded
		 * machine): never wait for it holding the write lock */
		if (rc == 0 && !im->check_only && im->in_tx && pipe_idle(p))
			rc = tx_end(im);
		pthread_mutex_lock(&p->mu);
		while (p->nfull == 0)
			pthread_cond_wait(&p->cv, &p->mu);
		b = p->full[p->head];
		p->head = (p->head + 1) % NBATCH;
		p->nfull--;
		pthread_mutex_unlock(&p->mu);

		if (rc == 0 && !im->check_only && !im->in_tx)
			rc = tx_begin(im);
		for (i = 0; i < b->n && rc == 0; i++) {
			if (i + SEEN_AHEAD < b->n)
				import_seen_prefetch(&im->seen,
				    b->row[i + SEEN_AHEAD].key);
			rc = apply_row(im, b, &b->row[i]);
			im->last_line = b->row[i].line;
			im->tx_rows = true;
			/* --strict checked every row: one that turns bad now
			 * (the database changed meanwhile) stops the import */
			if (rc == 0 && im->strict && !im->check_only &&
			    im->bad > 0)
				rc = EX_DATAERR;
			if (rc == 0 && im->rows % TICK_ROWS == 0)
				rc = import_tick(im);
		}
		if (rc == 0 && b->ioerr != 0) {
			fprintf(stderr, "optinctl import: %s: %s\n", im->m.file,
			    b->why);
			rc = b->ioerr;
		}
		last = b->last;
		pthread_mutex_lock(&p->mu);
		p->free[p->nfree++] = b;
		if (rc != 0) {
			p->stop = true;
			last = true;
		}
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	(void)pthread_join(tid, NULL);
out_sync:
	(void)pthread_cond_destroy(&p->cv);
	(void)pthread_mutex_destroy(&p->mu);
out:
	for (i = 0; i < NBATCH; i++) {
		if (all[i] != NULL)
			free(all[i]->buf);
		free(all[i]);
	}
	return rc;
}

enum {
	OPT_LIST = 1, OPT_SOURCE, OPT_STRICT, OPT_DRY, OPT_ASSUME
};

static const struct option import_opts[] = {
	{ "list", required_argument, NULL, OPT_LIST },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "dry-run", no_argument, NULL, OPT_DRY },
	{ "assume-opt-in", required_argument, NULL, OPT_ASSUME },
	{ NULL, 0, NULL, 0 }
};

/* import_opts_parse - options of import; 0 and *first_r or an exit code */
static int
import_opts_parse(struct import *im, int argc, char **argv, int *first_r)
{
	int ch;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", import_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_LIST:
			im->m.list = optarg;
			break;
		case OPT_SOURCE:
			im->m.source = optarg;
			break;
		case OPT_STRICT:
			im->strict = true;
			break;
		case OPT_DRY:
			im->dry_run = true;
			break;
		case OPT_ASSUME:
			im->m.assume = optarg;
			break;
		default:
			return ctl_bad_option("import", ch, argv);
		}
	}
	*first_r = optind;
	if (argc - optind != 1)
		return ctl_usage("import");
	if (im->m.source != NULL && (*im->m.source == '\0' ||
	    !ctl_text_ok(im->m.source, SOURCE_MAX))) {
		fprintf(stderr, "optinctl import: bad --source (1 to %d "
		    "printable characters)\n", SOURCE_MAX);
		return EX_DATAERR;
	}
	if (im->m.assume != NULL && (*im->m.assume == '\0' ||
	    !ctl_text_ok(im->m.assume, SOURCE_MAX))) {
		fprintf(stderr, "optinctl import: bad --assume-opt-in (1 to "
		    "%d printable characters naming where consent was "
		    "given)\n", SOURCE_MAX);
		return EX_DATAERR;
	}
	if (im->m.assume != NULL)
		snprintf(im->m.assume_evidence, sizeof(im->m.assume_evidence),
		    "assumed opt-in: %s", im->m.assume);
	if (im->m.list != NULL && ctl_list_arg("import", "--list",
	    im->m.list) != EX_OK)
		return EX_USAGE;
	return 0;
}

/* import_summary - print the counts */
static void
import_summary(struct import *im, bool written)
{
	const char *fmt = im->m.fmt == FMT_OPTIN ? "optin" : "vtiger";

	if (im->c->json) {
		fputs("{\"file\":", stdout);
		ctl_json_str(stdout, im->m.file);
		printf(",\"format\":\"%s\",\"rows\":%lu,\"added\":%lu,"
		    "\"changed\":%lu,\"unchanged\":%lu,\"kept\":%lu,"
		    "\"skipped\":%lu,\"bad\":%lu,\"written\":%s,"
		    "\"transactions\":%lu,\"longest_transaction_ms\":%lld,",
		    fmt, im->rows, im->added, im->changed,
		    im->unchanged, im->kept, im->skipped, im->bad,
		    written ? "true" : "false", im->ntx, im->tx_max);
		import_states_json(&im->states, stdout);
		fputs(",\"bad_rows\":[", stdout);
		if (im->jerr != NULL) {
			fflush(im->jerr);
			fwrite(im->jerr_buf, 1, im->jerr_len, stdout);
		}
		fputs("]}\n", stdout);
		return;
	}
	printf("import %s: format=%s rows=%lu added=%lu changed=%lu "
	    "unchanged=%lu kept=%lu skipped=%lu bad=%lu\n", im->m.file, fmt,
	    im->rows, im->added, im->changed, im->unchanged, im->kept,
	    im->skipped, im->bad);
	if (written || im->dry_run)
		import_states_print(&im->states, stdout);
	if (im->dry_run)
		printf("dry run: nothing written\n");
	else if (!written)
		printf("nothing written (--strict and %lu bad row%s)\n",
		    im->bad, im->bad == 1 ? "" : "s");
}

/*
 * spool_input - copy the non-seekable input fd (a pipe) to an unlinked
 * temporary file, for --strict's two passes; its descriptor, or -1 after
 * a message (*rc_r the exit code)
 */
static int
spool_input(struct import *im, int fd, int *rc_r)
{
	char buf[65536];
	FILE *tmp;
	ssize_t n;
	int out = -1;

	if ((tmp = tmpfile()) == NULL) {
		fprintf(stderr, "optinctl import: --strict: temporary file: "
		    "%s\n", strerror(errno));
		*rc_r = EX_CANTCREAT;
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fwrite(buf, 1, (size_t)n, tmp) != (size_t)n) {
			fprintf(stderr, "optinctl import: %s: %s: %s\n",
			    im->m.file, n < 0 ? "read" : "temporary file",
			    strerror(errno));
			*rc_r = n < 0 ? EX_IOERR : EX_CANTCREAT;
			goto out;
		}
	}
	if (fflush(tmp) != 0 || (out = dup(fileno(tmp))) < 0 ||
	    lseek(out, 0, SEEK_SET) != 0) {
		fprintf(stderr, "optinctl import: --strict: temporary file: "
		    "%s\n", strerror(errno));
		*rc_r = EX_CANTCREAT;
		if (out >= 0)
			(void)close(out);
		out = -1;
	}
out:
	(void)fclose(tmp);
	return out;
}

/* open_reader - a reader of im->fd from its start, past the header row
 * (into *rec); 0 or an exit code after a message */
static int
open_reader(struct import *im, struct csv **rd_r, struct csv_record *rec)
{
	enum csv_status cs;
	char why[512];

	csv_free(rd_r);
	if ((*rd_r = csv_open_fd(im->fd)) == NULL)
		return EX_OSERR;
	cs = csv_read(*rd_r, rec, why, sizeof(why));
	if (cs == CSV_RECORD)
		return 0;
	if (cs == CSV_EOF)
		fprintf(stderr, "optinctl import: %s: empty file (no header "
		    "row)\n", im->m.file);
	else
		fprintf(stderr, "optinctl import: %s:%lu: header row: %s\n",
		    im->m.file, rec->line, why);
	return cs == CSV_IOERR ? EX_IOERR : EX_DATAERR;
}

/* erased_ready - when erased people are kept as keyed hashes, load the
 * key that recognises them; 0 or an exit code */
static int
erased_ready(struct import *im)
{
	enum store_status rs;
	long long nerased = 0;
	char why[512];

	rs = store_suppression_count(im->c->st, "erased", &nerased, why,
	    sizeof(why));
	if (rs != STORE_OK)
		return ctl_fail(rs, why);
	/* exits 78 when the keys to recognise them are missing */
	if (nerased > 0)
		(void)ctl_erasure(im->c, "import");
	return 0;
}

/* import_reset - forget the counts of a checking pass */
static void
import_reset(struct import *im)
{
	im->rows = im->added = im->changed = im->unchanged = im->kept = 0;
	im->skipped = im->bad = 0;
	memset(&im->states, 0, sizeof(im->states));
	import_seen_free(&im->seen);
}

/*
 * import_pass - read every row of rd and apply it: in one read
 * transaction, writing nothing, when im->check_only; else in bounded
 * write transactions (import_tick).  0 or an exit code; a pass that
 * stops says up to which line its rows are written.
 */
static int
import_pass(struct import *im, struct csv *rd)
{
	enum store_status rs;
	char why[512];
	int rc;

	im->t0 = im->shown_at = im->tx_start = mono_ms();
	im->rd = rd;
	im->last_line = im->done_line = 0;
	/* a check runs in one read transaction, writes in bounded ones
	 * (import_rows).  Each asks once whether anyone is erased
	 * (ctl_erased_none): when nobody is, no query per address */
	rs = im->check_only ? store_begin_read(im->c->st, why, sizeof(why)) :
	    store_begin_change(im->c->st, why, sizeof(why));
	if (rs != STORE_OK)
		return ctl_fail(rs, why);
	im->in_tx = true;
	if ((rc = ctl_erased_none(im->c, false)) == 0)
		rc = import_rows(im);
	(void)ctl_erased_none(im->c, true);
	progress_clear(im);
	if (rc == 0 && !im->check_only && im->in_tx)
		rc = tx_end(im);
	if (im->in_tx)
		store_rollback(im->c->st);
	im->in_tx = false;
	if (rc != 0 && !im->check_only && im->done_line > 0)
		fprintf(stderr, "optinctl import: %s: stopped after %lu "
		    "row%s: rows up to line %lu are written, later ones are "
		    "not (import the file again to finish: written rows do "
		    "not change)\n", im->m.file, im->rows, im->rows == 1 ?
		    "" : "s", im->done_line);
	else if (rc != 0 && !im->check_only)
		fprintf(stderr, "optinctl import: %s: stopped after %lu "
		    "row%s: nothing written\n", im->m.file, im->rows,
		    im->rows == 1 ? "" : "s");
	return rc;
}

int
ctl_import(struct ctl *c, int argc, char **argv)
{
	struct import im = { 0 };
	struct csv_record rec;
	struct csv *rd = NULL;
	struct stat sb;
	bool written = false;
	int fd = -1, first = 0, rc;

	im.c = c;
	if ((rc = import_opts_parse(&im, argc, argv, &first)) != 0)
		return rc;
	im.m.file = argv[first];
	im.m.now = time(NULL);
	if (strcmp(im.m.file, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(im.m.file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "optinctl import: %s: %s\n", im.m.file,
		    strerror(errno));
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	/* --strict reads the file twice: a pipe is copied first */
	if (im.strict && !im.dry_run && lseek(fd, 0, SEEK_CUR) < 0) {
		int sfd = spool_input(&im, fd, &rc);

		if (sfd < 0)
			goto out;
		if (fd > STDIN_FILENO)
			(void)close(fd);
		fd = sfd;
	}
	im.fd = fd;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		im.size = sb.st_size;
	im.progress = !c->json && isatty(STDERR_FILENO);
	if ((rc = open_reader(&im, &rd, &rec)) != 0)
		goto out;
	if ((rc = import_map_header(&im.m, &rec)) != 0)
		goto out;
	if (im.m.source == NULL)
		im.m.source = im.m.fmt == FMT_VTIGER ? "vtiger" : "import";
	if (c->json && (im.jerr = open_memstream(&im.jerr_buf,
	    &im.jerr_len)) == NULL) {
		rc = EX_OSERR;
		goto out;
	}

	/* the bulk connection's page cache on huge pages, sized to the file
	 * (a pipe: IMPORT_CACHE_PIPE); before the first store call.  Not for
	 * --dry-run: its connection keeps SQLite's small default cache, and
	 * the block is cleared whole when SQLite starts */
	if (!im.dry_run)
		store_bulk_memory(im.size <= 0 ? IMPORT_CACHE_PIPE :
		    (size_t)im.size * IMPORT_CACHE_PER_BYTE <
		    IMPORT_CACHE_MIN ? IMPORT_CACHE_MIN :
		    (size_t)im.size * IMPORT_CACHE_PER_BYTE);
	/* lists are checked once each here (list_ok): no per-row foreign
	 * key check */
	(void)ctl_store(c, im.dry_run ? STORE_READONLY : STORE_BULK);
	if (!im.dry_run && (rc = import_ckpt_start(&im.ckpt, c->cfg)) != 0)
		goto out;
	if ((rc = erased_ready(&im)) != 0)
		goto out;
	/* --strict: every row checked before the first is written */
	im.check_only = im.dry_run || im.strict;
	im.phase = im.strict && !im.dry_run ? "checking" : NULL;
	if ((rc = import_pass(&im, rd)) != 0)
		goto out;
	if (im.strict && !im.dry_run && im.bad == 0) {
		if (lseek(fd, 0, SEEK_SET) != 0) {
			fprintf(stderr, "optinctl import: %s: %s\n",
			    im.m.file, strerror(errno));
			rc = EX_IOERR;
			goto out;
		}
		if ((rc = open_reader(&im, &rd, &rec)) != 0)
			goto out;
		import_reset(&im);
		im.check_only = false;
		im.phase = NULL;
		if ((rc = import_pass(&im, rd)) != 0)
			goto out;
	}
	/* the last commit copied into the database file and synced */
	if ((rc = import_ckpt_stop(&im.ckpt)) != 0)
		goto out;
	written = !im.check_only;
	import_summary(&im, written);
	rc = im.bad > 0 ? EX_DATAERR : EX_OK;
out:
	(void)import_ckpt_stop(&im.ckpt);	/* reported */
	if (im.jerr != NULL)
		fclose(im.jerr);
	free(im.jerr_buf);
	free(im.lists);
	import_seen_free(&im.seen);
	csv_free(&rd);
	if (fd > STDIN_FILENO)
		(void)close(fd);
	return rc;
}
