/*
 * ctl_import.c - optinctl verbs "import FILE.csv" and "export-list" (DESIGN
 * "optinctl"; CSV reader in csv.c).
 *
 * Two input formats, told apart by the header row (names compared without
 * case and surrounding space):
 *
 * optin	address, status, and optionally list, source, consented_at,
 *		evidence (other columns are ignored).  The row's state is set
 *		as written, except that an opted_out subscription is changed
 *		back only by a row whose consented_at is later than the
 *		opt-out (an old CRM file must not undo an unsubscribe).
 * vtiger	a Vtiger CRM Contacts or Leads export: Email, Secondary Email,
 *		Email Opt Out.  "Email Opt Out" yes/1/true/on makes each
 *		address opted_out; otherwise an address never seen becomes
 *		pending, or opted_in only with --assume-opt-in SOURCE (kept as
 *		the evidence), and an existing state is left alone (consent is
 *		never invented, an opt-out never undone).
 *
 * The whole file is one transaction with one prepared read and one upsert
 * per row (store_import_set); a row whose state does not change writes
 * nothing, so importing the same file twice changes nothing the second
 * time.  Two threads: a parser thread reads the CSV and checks each row
 * (addresses normalised, words and times parsed: no database), handing
 * batches of rows to the main thread, which alone uses the store, in file
 * order.  Every change writes a consent event.  Bad rows are reported on
 * stderr with their line number and skipped; with --strict any bad row
 * rolls the whole import back; --dry-run rolls back always.  Addresses of
 * erased people (optinctl forget) are recognised by their keyed hash and
 * skipped.
 *
 * export-list writes a list (or all opt-outs) as CSV: Vtiger's columns by
 * default, for the CRM's import, or the optin columns (--format csv), which
 * this importer reads back unchanged.  Single-threaded.
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
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "consent.h"
#include "csv.h"
#include "ctl.h"
#include "store.h"

#define SOURCE_MAX	64
#define EVIDENCE_MAX	1024
#define LIST_MAX	64
#define JSON_ERRORS_MAX	1000	/* bad rows listed in --json output */

enum fmt { FMT_OPTIN, FMT_VTIGER };

/* Column indexes in the header; -1: absent. */
enum col {
	COL_ADDRESS, COL_LIST, COL_STATUS, COL_SOURCE, COL_CONSENTED,
	COL_EVIDENCE, COL_EMAIL, COL_EMAIL2, COL_OPTOUT, NCOLS
};

static const struct {
	const char *name;
	enum fmt fmt;
} col_name[NCOLS] = {
	[COL_ADDRESS] = { "address", FMT_OPTIN },
	[COL_LIST] = { "list", FMT_OPTIN },
	[COL_STATUS] = { "status", FMT_OPTIN },
	[COL_SOURCE] = { "source", FMT_OPTIN },
	[COL_CONSENTED] = { "consented_at", FMT_OPTIN },
	[COL_EVIDENCE] = { "evidence", FMT_OPTIN },
	[COL_EMAIL] = { "email", FMT_VTIGER },
	[COL_EMAIL2] = { "secondary email", FMT_VTIGER },
	[COL_OPTOUT] = { "email opt out", FMT_VTIGER },
};

/* A list seen in the file, checked once. */
struct known_list {
	char name[LIST_MAX + 1];
	bool exists;
};

/* One (address, list) seen in an optin file: duplicates must agree. */
struct seen {
	uint64_t hash;			/* 0: empty slot */
	unsigned long line;
	unsigned char status;
};

/*
 * A row checked by the parser thread, waiting for the database: strings are
 * offsets into its batch's buffer (NOSTR: none).
 */
#define NOSTR	UINT32_MAX
enum prow_kind { PROW_OK, PROW_BAD, PROW_SKIP };

struct prow {
	unsigned long line;
	enum prow_kind kind;
	enum sub_status status;
	unsigned flags;			/* STORE_IMPORT_* */
	time_t consented_at;
	unsigned naddr;			/* 1 or 2 (Email, Secondary Email) */
	uint32_t addr[2], list, source, evidence;
	uint32_t msg;			/* PROW_BAD: the reason */
};

#define BATCH_ROWS	4096
#define NBATCH		4		/* batches in flight */

struct batch {
	struct prow row[BATCH_ROWS];
	size_t n;
	char *buf;			/* owned: the rows' strings */
	size_t len, cap;
	bool last;			/* no more batches after this one */
	int ioerr;			/* EX_IOERR or EX_OSERR: stop */
	char why[256];
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
	const char *file;		/* as given, for messages */
	enum fmt fmt;
	int col[NCOLS];
	size_t ncols;			/* fields in the header */
	const char *list;		/* --list */
	const char *source;		/* --source */
	const char *assume;		/* --assume-opt-in SOURCE */
	char assume_evidence[SOURCE_MAX + 32];
	bool strict, dry_run;
	bool check_erased;		/* someone was erased: hash rows */
	struct csv *rd;			/* borrowed; the parser thread's */
	struct pipe pipe;

	struct known_list *lists;	/* owned */
	size_t nlists;
	struct seen *seen;		/* owned, open addressing */
	size_t seen_cap, seen_n;

	unsigned long rows, added, changed, unchanged, kept, skipped, bad;
	FILE *jerr;			/* --json: bad rows as JSON items */
	char *jerr_buf;
	size_t jerr_len;
};

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
	fprintf(stderr, "optinctl import: %s:%lu: %s\n", im->file, line, msg);
	if (im->jerr != NULL && im->bad < JSON_ERRORS_MAX) {
		fprintf(im->jerr, "%s{\"line\":%lu,\"reason\":",
		    im->bad > 0 ? "," : "", line);
		ctl_json_str(im->jerr, msg);
		fputc('}', im->jerr);
	}
	im->bad++;
}

/* trim - s without surrounding blanks, in place */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* map_header - find the columns and the format; 0 or an exit code */
static int
map_header(struct import *im, const struct csv_record *rec)
{
	size_t i, k;
	char *name;

	for (k = 0; k < NCOLS; k++)
		im->col[k] = -1;
	im->ncols = rec->nfields;
	for (i = 0; i < rec->nfields; i++) {
		name = trim(rec->field[i]);
		/* Vtiger labels vary a little: "Email Opt-Out" */
		if (strcasecmp(name, "email opt-out") == 0 ||
		    strcasecmp(name, "emailoptout") == 0)
			name = "email opt out";
		else if (strcasecmp(name, "secondaryemail") == 0)
			name = "secondary email";
		for (k = 0; k < NCOLS; k++)
			if (strcasecmp(name, col_name[k].name) == 0)
				break;
		if (k == NCOLS)
			continue;		/* other columns: ignored */
		if (im->col[k] >= 0) {
			fprintf(stderr, "optinctl import: %s:%lu: column '%s' "
			    "appears twice\n", im->file, rec->line,
			    col_name[k].name);
			return EX_DATAERR;
		}
		im->col[k] = (int)i;
	}
	if (im->col[COL_ADDRESS] >= 0) {
		im->fmt = FMT_OPTIN;
		if (im->col[COL_STATUS] < 0) {
			fprintf(stderr, "optinctl import: %s:%lu: no 'status' "
			    "column (pending, opted_in or opted_out)\n",
			    im->file, rec->line);
			return EX_DATAERR;
		}
		if (im->col[COL_LIST] < 0 && im->list == NULL) {
			fprintf(stderr, "optinctl import: %s: no 'list' "
			    "column: give --list\n", im->file);
			return EX_USAGE;
		}
		if (im->assume != NULL) {
			fprintf(stderr, "optinctl import: --assume-opt-in is "
			    "for CRM exports; this file has a 'status' "
			    "column\n");
			return EX_USAGE;
		}
		return 0;
	}
	if (im->col[COL_EMAIL] >= 0 || im->col[COL_EMAIL2] >= 0) {
		im->fmt = FMT_VTIGER;
		if (im->list == NULL && im->col[COL_LIST] < 0) {
			fprintf(stderr, "optinctl import: %s: a Vtiger export "
			    "names no list: give --list\n", im->file);
			return EX_USAGE;
		}
		if (im->col[COL_OPTOUT] < 0)
			fprintf(stderr, "optinctl import: %s: note: no 'Email "
			    "Opt Out' column: no address is opted out\n",
			    im->file);
		return 0;
	}
	fprintf(stderr, "optinctl import: %s:%lu: no 'address' column (nor "
	    "a Vtiger 'Email' column) in the header row\n", im->file,
	    rec->line);
	return EX_DATAERR;
}

/* field - the trimmed value of column k in rec, or "" when absent */
static const char *
field(const struct import *im, const struct csv_record *rec, enum col k)
{
	if (im->col[k] < 0 || (size_t)im->col[k] >= rec->nfields)
		return "";
	return trim(rec->field[im->col[k]]);
}

/* digits - n decimal digits at s into *v; false if not digits */
static bool
digits(const char *s, int n, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/*
 * parse_time - consented_at: seconds since the epoch, or ISO 8601
 * "YYYY-MM-DD", "YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM]" (UTC when
 * no zone is given).  0 and *t_r, or -1.  (No sscanf: it runs per row.)
 */
static int
parse_time(const char *s, time_t *t_r)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	unsigned y, mo, d, h = 0, mi = 0, se = 0, zh = 0, zm = 0;
	long long t;
	int sign = 0;
	char *end;

	if (*s >= '0' && *s <= '9' && strchr(s, '-') == NULL) {
		errno = 0;
		t = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0' || t <= 0)
			return -1;
		*t_r = (time_t)t;
		return 0;
	}
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d))
		return -1;
	s += 10;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		if (!digits(s + 1, 2, &h) || s[3] != ':' ||
		    !digits(s + 4, 2, &mi))
			return -1;
		s += 6;
		if (*s == ':') {
			if (!digits(s + 1, 2, &se))
				return -1;
			s += 3;
			if (*s == '.')		/* fractions: dropped */
				while (*++s >= '0' && *s <= '9')
					;
		}
		if (*s == 'Z' || *s == 'z')
			s++;
		else if (*s == '+' || *s == '-') {
			sign = *s == '-' ? -1 : 1;
			if (!digits(s + 1, 2, &zh) || s[3] != ':' ||
			    !digits(s + 4, 2, &zm))
				return -1;
			s += 6;
		}
	}
	if (*s != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60 || zh > 14 ||
	    zm > 59)
		return -1;
	if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 &&
	    y % 400 != 0)))
		return -1;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	t -= sign * (long long)(zh * 3600 + zm * 60);
	*t_r = (time_t)t;
	return 0;
}

/* --- the parser thread: CSV, addresses, words; no database ----------- */

/* b_str - copy s into the batch; its offset, or NOSTR when out of memory
 * (b->ioerr set) */
static uint32_t
b_str(struct batch *b, const char *s)
{
	size_t n = strlen(s) + 1, cap;
	uint32_t off;
	char *p;

	if (b->len + n > b->cap) {
		cap = b->cap == 0 ? 256 * 1024 : b->cap * 2;
		while (cap < b->len + n)
			cap *= 2;
		if (cap >= NOSTR || (p = realloc(b->buf, cap)) == NULL) {
			b->ioerr = EX_OSERR;
			return NOSTR;
		}
		b->buf = p;
		b->cap = cap;
	}
	off = (uint32_t)b->len;
	memcpy(b->buf + off, s, n);
	b->len += n;
	return off;
}

/* b_bad - the row is bad, for the reason given */
static void
b_bad(struct batch *b, struct prow *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
b_bad(struct batch *b, struct prow *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->kind = PROW_BAD;
	r->msg = b_str(b, msg);
}

/* row_list - the row's list (its column, else --list), or NULL after
 * b_bad() */
static const char *
row_list(const struct import *im, const struct csv_record *rec,
    struct batch *b, struct prow *r)
{
	const char *list;

	list = field(im, rec, COL_LIST);
	if (*list == '\0' && (list = im->list) == NULL) {
		b_bad(b, r, "no list (empty 'list' and no --list)");
		return NULL;
	}
	if (strlen(list) > LIST_MAX) {
		b_bad(b, r, "list name too long");
		return NULL;
	}
	return list;
}

/* prep_optin - check one row of an optin file into r */
static void
prep_optin(const struct import *im, const struct csv_record *rec,
    struct batch *b, struct prow *r)
{
	char addr[ADDR_MAX + 1], why[256], evid[EVIDENCE_MAX + 64], t[32];
	const char *raw, *list, *word, *source, *evidence, *cons;

	raw = field(im, rec, COL_ADDRESS);
	if (addr_normalize(raw, addr, sizeof(addr), why, sizeof(why)) < 0) {
		b_bad(b, r, "bad address '%.100s': %s", raw, why);
		return;
	}
	if ((list = row_list(im, rec, b, r)) == NULL)
		return;
	word = field(im, rec, COL_STATUS);
	if (sub_status_parse(word, &r->status) < 0 || r->status == SUB_NONE) {
		b_bad(b, r, "bad status '%.40s' (pending, opted_in or "
		    "opted_out)", word);
		return;
	}
	source = field(im, rec, COL_SOURCE);
	if (*source == '\0')
		source = im->source;
	if (!ctl_text_ok(source, SOURCE_MAX)) {
		b_bad(b, r, "bad source (at most %d printable characters)",
		    SOURCE_MAX);
		return;
	}
	evidence = field(im, rec, COL_EVIDENCE);
	if (!ctl_text_ok(evidence, EVIDENCE_MAX)) {
		b_bad(b, r, "bad evidence (at most %d printable characters)",
		    EVIDENCE_MAX);
		return;
	}
	cons = field(im, rec, COL_CONSENTED);
	r->consented_at = 0;
	if (*cons != '\0' && parse_time(cons, &r->consented_at) < 0) {
		b_bad(b, r, "bad consented_at '%.40s' (ISO 8601 or seconds "
		    "since 1970)", cons);
		return;
	}
	/* an opted_out row changes back only with a later consent */
	r->flags = STORE_IMPORT_KEEP_OPT_OUT;
	r->naddr = 1;
	r->addr[0] = b_str(b, addr);
	r->list = b_str(b, list);
	r->source = source == im->source ? NOSTR : b_str(b, source);
	if (r->consented_at != 0) {
		snprintf(evid, sizeof(evid), "consented_at=%s%s%s",
		    ctl_iso_time(r->consented_at, t), *evidence != '\0' ?
		    "; " : "", evidence);
		r->evidence = b_str(b, evid);
	} else
		r->evidence = *evidence != '\0' ? b_str(b, evidence) : NOSTR;
}

/* opt_out_parse - Vtiger's checkbox: 1 opted out, 0 not, -1 unknown */
static int
opt_out_parse(const char *s)
{
	static const char *const yes[] = { "1", "yes", "true", "on", "y" };
	static const char *const no[] = { "", "0", "no", "false", "off",
	    "n" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}

/* prep_vtiger - check one row of a Vtiger export into r */
static void
prep_vtiger(const struct import *im, const struct csv_record *rec,
    struct batch *b, struct prow *r)
{
	char addr[2][ADDR_MAX + 1], why[256];
	const char *raw[2], *list, *flag;
	int out, i, n = 0;

	raw[0] = field(im, rec, COL_EMAIL);
	raw[1] = field(im, rec, COL_EMAIL2);
	flag = field(im, rec, COL_OPTOUT);
	if ((out = opt_out_parse(flag)) < 0) {
		b_bad(b, r, "bad Email Opt Out '%.40s' (yes/no, 1/0)", flag);
		return;
	}
	for (i = 0; i < 2; i++) {
		if (*raw[i] == '\0')
			continue;
		if (addr_normalize(raw[i], addr[n], sizeof(addr[n]), why,
		    sizeof(why)) < 0) {
			b_bad(b, r, "bad %s '%.100s': %s", i == 0 ? "Email" :
			    "Secondary Email", raw[i], why);
			return;
		}
		if (n == 1 && strcmp(addr[0], addr[1]) == 0)
			continue;
		n++;
	}
	if (n == 0) {			/* a contact without e-mail */
		r->kind = PROW_SKIP;
		return;
	}
	if ((list = row_list(im, rec, b, r)) == NULL)
		return;
	r->source = NOSTR;
	r->consented_at = 0;
	if (out) {
		/* an opt-out is always honoured */
		r->status = SUB_OPTED_OUT;
		r->flags = 0;
		r->evidence = b_str(b, "Email Opt Out=yes");
	} else if (im->assume != NULL) {
		/* asserted by the operator; never over an opt-out */
		r->status = SUB_OPTED_IN;
		r->flags = STORE_IMPORT_KEEP_OPT_OUT;
		r->evidence = b_str(b, im->assume_evidence);
	} else {
		/* no opt-out is not consent: pending, and only if new */
		r->status = SUB_PENDING;
		r->flags = STORE_IMPORT_ONLY_NEW;
		r->evidence = b_str(b, "no opt-out in CRM");
	}
	r->naddr = (unsigned)n;
	r->list = b_str(b, list);
	for (i = 0; i < n; i++)
		r->addr[i] = b_str(b, addr[i]);
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
				b_bad(b, r, "%s", why);
			else if (rec.nfields != im->ncols)
				b_bad(b, r, "%zu field%s, the header has %zu",
				    rec.nfields, rec.nfields == 1 ? "" : "s",
				    im->ncols);
			else if (im->fmt == FMT_OPTIN)
				prep_optin(im, &rec, b, r);
			else
				prep_vtiger(im, &rec, b, r);
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

/* key_hash - FNV-1a 64 of addr NUL list; never 0 */
static uint64_t
key_hash(const char *addr, const char *list)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)addr; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ 0) * 0x100000001b3ULL;
	for (p = (const unsigned char *)list; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 29;
	return h != 0 ? h : 1;
}

/* seen_slot - the slot of hash h (found, or empty) */
static struct seen *
seen_slot(struct seen *tab, size_t cap, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	while (tab[i].hash != 0 && tab[i].hash != h)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

/*
 * seen_check - an optin row (addr, list, status) against the earlier rows
 * of the file: 0 new, 1 same as an earlier row (skip quietly), -1 conflict
 * (reported), -2 out of memory.  XXX a 64-bit hash stands for the pair:
 * two different pairs with the same hash would be taken for duplicates.
 */
static int
seen_check(struct import *im, const char *addr, const char *list,
    enum sub_status status, unsigned long line)
{
	struct seen *tab, *s;
	uint64_t h = key_hash(addr, list);
	size_t cap, i;

	if (im->seen_n * 2 >= im->seen_cap) {
		cap = im->seen_cap == 0 ? 1024 : im->seen_cap * 2;
		if ((tab = calloc(cap, sizeof(*tab))) == NULL)
			return -2;
		for (i = 0; i < im->seen_cap; i++)
			if (im->seen[i].hash != 0)
				*seen_slot(tab, cap, im->seen[i].hash) =
				    im->seen[i];
		free(im->seen);
		im->seen = tab;
		im->seen_cap = cap;
	}
	s = seen_slot(im->seen, im->seen_cap, h);
	if (s->hash == 0) {
		s->hash = h;
		s->line = line;
		s->status = (unsigned char)status;
		im->seen_n++;
		return 0;
	}
	if (s->status == (unsigned char)status)
		return 1;
	bad_row(im, line, "%s on list %s is %s on line %lu: conflicting "
	    "rows", addr, list, sub_status_str((enum sub_status)s->status),
	    s->line);
	return -1;
}

/* is_erased - is addr an erased person's; -1 on a store failure */
static int
is_erased(struct import *im, const char *addr, int *fatal_r)
{
	enum store_status rs;
	char why[512];

	if (!im->check_erased)
		return 0;
	rs = store_erased(im->c->st, &im->c->er, addr, NULL, why,
	    sizeof(why));
	if (rs == STORE_OK)
		return 1;
	if (rs == STORE_NOTFOUND)
		return 0;
	*fatal_r = ctl_fail(rs, why);
	return -1;
}

/* apply - set one (addr, list) and count what happened; 0 or an exit
 * code */
static int
apply(struct import *im, const char *addr, const char *list,
    const struct prow *r, const struct consent_event *ev)
{
	enum sub_status old;
	enum store_status rs;
	unsigned flags = r->flags;
	char why[512];
	bool changed;

	if (im->dry_run)
		flags |= STORE_IMPORT_DRY_RUN;
	rs = store_import_set(im->c->st, addr, list, r->status, flags,
	    r->consented_at, ev, &old, NULL, &changed, why, sizeof(why));
	if (rs != STORE_OK)
		return ctl_fail(rs, why);
	/* kept: the file says otherwise and the state is held (an opt-out
	 * mostly); a CRM row without opt-out agrees with any other state */
	if (changed) {
		if (old == SUB_NONE)
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
	const char *list;
	unsigned i;
	int fatal = 0, rc;

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
	if (im->fmt == FMT_OPTIN) {
		rc = seen_check(im, b->buf + r->addr[0], list, r->status,
		    r->line);
		if (rc != 0) {
			if (rc == 1)
				im->unchanged++;
			return rc == -2 ? EX_OSERR : 0;
		}
	}
	ev.source = r->source != NOSTR ? b->buf + r->source : im->source;
	ev.evidence = r->evidence != NOSTR ? b->buf + r->evidence : NULL;
	for (i = 0; i < r->naddr; i++) {
		if ((rc = is_erased(im, b->buf + r->addr[i], &fatal)) != 0) {
			if (rc < 0)
				return fatal;
			im->skipped++;
			continue;
		}
		if ((rc = apply(im, b->buf + r->addr[i], list, r, &ev)) != 0)
			return rc;
	}
	return 0;
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
		pthread_mutex_lock(&p->mu);
		while (p->nfull == 0)
			pthread_cond_wait(&p->cv, &p->mu);
		b = p->full[p->head];
		p->head = (p->head + 1) % NBATCH;
		p->nfull--;
		pthread_mutex_unlock(&p->mu);

		for (i = 0; i < b->n && rc == 0; i++)
			rc = apply_row(im, b, &b->row[i]);
		if (rc == 0 && b->ioerr != 0) {
			fprintf(stderr, "optinctl import: %s: %s\n", im->file,
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
	OPT_LIST = 1, OPT_SOURCE, OPT_STRICT, OPT_DRY, OPT_ASSUME,
	OPT_FORMAT, OPT_OPTOUTS
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
			im->list = optarg;
			break;
		case OPT_SOURCE:
			im->source = optarg;
			break;
		case OPT_STRICT:
			im->strict = true;
			break;
		case OPT_DRY:
			im->dry_run = true;
			break;
		case OPT_ASSUME:
			im->assume = optarg;
			break;
		default:
			return ctl_bad_option("import", ch, argv);
		}
	}
	*first_r = optind;
	if (argc - optind != 1)
		return ctl_usage("import");
	if (im->source != NULL && (*im->source == '\0' ||
	    !ctl_text_ok(im->source, SOURCE_MAX))) {
		fprintf(stderr, "optinctl import: bad --source (1 to %d "
		    "printable characters)\n", SOURCE_MAX);
		return EX_DATAERR;
	}
	if (im->assume != NULL && (*im->assume == '\0' ||
	    !ctl_text_ok(im->assume, SOURCE_MAX))) {
		fprintf(stderr, "optinctl import: bad --assume-opt-in (1 to "
		    "%d printable characters naming where consent was "
		    "given)\n", SOURCE_MAX);
		return EX_DATAERR;
	}
	if (im->assume != NULL)
		snprintf(im->assume_evidence, sizeof(im->assume_evidence),
		    "assumed opt-in: %s", im->assume);
	if (im->list != NULL && (*im->list == '\0' ||
	    strlen(im->list) > LIST_MAX)) {
		fprintf(stderr, "optinctl import: bad --list\n");
		return EX_DATAERR;
	}
	return 0;
}

/* import_summary - print the counts */
static void
import_summary(struct import *im, bool written)
{
	const char *fmt = im->fmt == FMT_OPTIN ? "optin" : "vtiger";

	if (im->c->json) {
		fputs("{\"file\":", stdout);
		ctl_json_str(stdout, im->file);
		printf(",\"format\":\"%s\",\"rows\":%lu,\"added\":%lu,"
		    "\"changed\":%lu,\"unchanged\":%lu,\"kept\":%lu,"
		    "\"skipped\":%lu,\"bad\":%lu,\"written\":%s,"
		    "\"bad_rows\":[", fmt, im->rows, im->added, im->changed,
		    im->unchanged, im->kept, im->skipped, im->bad,
		    written ? "true" : "false");
		if (im->jerr != NULL) {
			fflush(im->jerr);
			fwrite(im->jerr_buf, 1, im->jerr_len, stdout);
		}
		fputs("]}\n", stdout);
		return;
	}
	printf("import %s: format=%s rows=%lu added=%lu changed=%lu "
	    "unchanged=%lu kept=%lu skipped=%lu bad=%lu\n", im->file, fmt,
	    im->rows, im->added, im->changed, im->unchanged, im->kept,
	    im->skipped, im->bad);
	if (im->dry_run)
		printf("dry run: nothing written\n");
	else if (!written)
		printf("nothing written (--strict and %lu bad row%s)\n",
		    im->bad, im->bad == 1 ? "" : "s");
}

int
ctl_import(struct ctl *c, int argc, char **argv)
{
	struct import im = { 0 };
	struct csv_record rec;
	struct csv *rd = NULL;
	enum store_status rs;
	enum csv_status cs;
	long long nerased = 0;
	char why[512];
	bool in_tx = false, written = false;
	int fd = -1, first = 0, rc;

	im.c = c;
	if ((rc = import_opts_parse(&im, argc, argv, &first)) != 0)
		return rc;
	im.file = argv[first];
	if (strcmp(im.file, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(im.file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "optinctl import: %s: %s\n", im.file,
		    strerror(errno));
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	if ((rd = csv_open_fd(fd)) == NULL) {
		rc = EX_OSERR;
		goto out;
	}
	cs = csv_read(rd, &rec, why, sizeof(why));
	if (cs != CSV_RECORD) {
		if (cs == CSV_EOF)
			fprintf(stderr, "optinctl import: %s: empty file (no "
			    "header row)\n", im.file);
		else
			fprintf(stderr, "optinctl import: %s:%lu: header row: "
			    "%s\n", im.file, rec.line, why);
		rc = cs == CSV_IOERR ? EX_IOERR : EX_DATAERR;
		goto out;
	}
	if ((rc = map_header(&im, &rec)) != 0)
		goto out;
	if (im.source == NULL)
		im.source = im.fmt == FMT_VTIGER ? "vtiger" : "import";
	if (c->json && (im.jerr = open_memstream(&im.jerr_buf,
	    &im.jerr_len)) == NULL) {
		rc = EX_OSERR;
		goto out;
	}

	/* lists are checked once each here (list_ok): no per-row foreign
	 * key check */
	(void)ctl_store(c, im.dry_run ? STORE_READONLY : STORE_BULK);
	rs = im.dry_run ? store_begin_read(c->st, why, sizeof(why)) :
	    store_begin(c->st, why, sizeof(why));
	if (rs != STORE_OK) {
		rc = ctl_fail(rs, why);
		goto out;
	}
	in_tx = true;
	/* erased people stay out: hash each address only when there are
	 * some, and refuse when they cannot be recognised */
	rs = store_suppression_count(c->st, "erased", &nerased, why,
	    sizeof(why));
	if (rs != STORE_OK) {
		rc = ctl_fail(rs, why);
		goto out;
	}
	if (nerased > 0) {
		/* exits 78 when the keys to recognise them are missing */
		(void)ctl_erasure(c, "import");
		im.check_erased = true;
	}
	im.rd = rd;
	if ((rc = import_rows(&im)) != 0)
		goto out;
	if (im.dry_run || (im.strict && im.bad > 0)) {
		store_rollback(c->st);
	} else {
		rs = store_commit(c->st, why, sizeof(why));
		if (rs != STORE_OK) {
			rc = ctl_fail(rs, why);
			goto out;
		}
		written = true;
	}
	in_tx = false;
	import_summary(&im, written);
	rc = im.bad > 0 ? EX_DATAERR : EX_OK;
out:
	if (in_tx)
		store_rollback(c->st);
	if (im.jerr != NULL)
		fclose(im.jerr);
	free(im.jerr_buf);
	free(im.lists);
	free(im.seen);
	csv_free(&rd);
	if (fd > STDIN_FILENO)
		(void)close(fd);
	return rc;
}

/* --- export-list ------------------------------------------------------ */

static const struct option export_opts[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "opt-outs", no_argument, NULL, OPT_OPTOUTS },
	{ NULL, 0, NULL, 0 }
};

struct export_ctx {
	const struct ctl *c;
	bool vtiger;
	unsigned long n;
};

/* member_one - one subscription of the list */
static int
member_one(const struct store_member *m, void *arg)
{
	struct export_ctx *x = arg;
	char t[32];

	if (x->c->json) {
		fputs(x->n > 0 ? ",{\"address\":" : "{\"address\":", stdout);
		ctl_json_str(stdout, m->addr);
		fputs(",\"list\":", stdout);
		ctl_json_str(stdout, m->list);
		printf(",\"status\":\"%s\",\"source\":",
		    sub_status_str(m->status));
		ctl_json_str(stdout, m->source);
		printf(",\"updated_at\":%lld,\"suppressed\":%s}",
		    (long long)m->updated_at, m->suppressed ? "true" :
		    "false");
	} else if (x->vtiger) {
		csv_put(stdout, m->addr);
		printf(",%s\r\n", m->status == SUB_OPTED_OUT || m->suppressed ?
		    "1" : "0");
	} else {
		csv_put(stdout, m->addr);
		fputc(',', stdout);
		csv_put(stdout, m->list);
		printf(",%s,", sub_status_str(m->status));
		csv_put(stdout, m->source);
		printf(",%s\r\n", ctl_iso_time(m->updated_at, t));
	}
	x->n++;
	return 0;
}

/* optout_one - one opted-out or suppressed address (Vtiger format) */
static int
optout_one(const char *addr, void *arg)
{
	struct export_ctx *x = arg;

	if (x->c->json) {
		fputs(x->n > 0 ? "," : "", stdout);
		ctl_json_str(stdout, addr);
	} else {
		csv_put(stdout, addr);
		fputs(",1\r\n", stdout);
	}
	x->n++;
	return 0;
}

int
ctl_export_list(struct ctl *c, int argc, char **argv)
{
	struct export_ctx x = { c, true, 0 };
	const char *list = NULL;
	enum store_status rs;
	bool opt_outs = false;
	char why[512];
	int ch;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", export_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_FORMAT:
			if (strcmp(optarg, "vtiger") == 0)
				x.vtiger = true;
			else if (strcmp(optarg, "csv") == 0)
				x.vtiger = false;
			else {
				fprintf(stderr, "optinctl export-list: "
				    "--format is vtiger or csv\n");
				return EX_USAGE;
			}
			break;
		case OPT_OPTOUTS:
			opt_outs = true;
			break;
		default:
			return ctl_bad_option("export-list", ch, argv);
		}
	}
	if (argc - optind > 1 || (argc - optind == 0 && !opt_outs))
		return ctl_usage("export-list");
	if (argc - optind == 1)
		list = argv[optind];
	(void)ctl_store(c, STORE_READONLY);
	if (list != NULL) {
		rs = store_list_exists(c->st, list, NULL, why, sizeof(why));
		if (rs == STORE_NOTFOUND) {
			fprintf(stderr, "optinctl: no such list '%s'\n",
			    list);
			return EX_DATAERR;
		}
		if (rs != STORE_OK)
			return ctl_fail(rs, why);
	}
	if ((rs = store_begin_read(c->st, why, sizeof(why))) != STORE_OK)
		return ctl_fail(rs, why);
	if (c->json) {
		fputs("{\"list\":", stdout);
		ctl_json_str(stdout, list);
		printf(",\"opt_outs\":%s,\"%s\":[", opt_outs ? "true" :
		    "false", opt_outs && x.vtiger ? "addresses" :
		    "subscriptions");
	} else if (x.vtiger)
		fputs("Email,Email Opt Out\r\n", stdout);
	else
		fputs("address,list,status,source,updated_at\r\n", stdout);
	if (opt_outs && x.vtiger)
		rs = store_opt_out_addrs(c->st, list, optout_one, &x, why,
		    sizeof(why));
	else
		rs = store_members(c->st, list, opt_outs, member_one, &x, why,
		    sizeof(why));
	store_rollback(c->st);
	if (c->json)
		fputs("]}\n", stdout);
	return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
}
