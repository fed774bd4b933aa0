/*
 * ctl_import_map.c - optinctl import: the columns of the header row and
 * the check of each data row (ctl_import.h), on the parser thread: no
 * database, no shared state but the read-only struct import_map.
 *
 * Two input formats, told apart by the header row (names compared without
 * case and surrounding space):
 *
 * optin	address, status, and optionally list, source, consented_at,
 *		evidence (other columns are ignored).  The row's state is set
 *		as written, except that an opted_out subscription is changed
 *		back only by a row whose consented_at is later than the
 *		opt-out by more than IMPORT_CLOCK_SKEW (an old CRM file must
 *		not undo an unsubscribe); a consented_at further in the future
 *		than that is a bad row.
 * vtiger	a Vtiger CRM Contacts or Leads export: Primary Email (Vtiger 7
 *		Contacts) or Email, and Secondary Email, Email Opt Out.  Both
 *		addresses are the person's; "Email Opt Out" yes/1/true/on
 *		makes each address of the row opted_out; otherwise an
 *		address never seen becomes pending, or opted_in only with
 *		--assume-opt-in SOURCE (kept as the evidence), and an
 *		existing state is left alone (consent is never invented, an
 *		opt-out never undone).
 *
 * A header without an address column is an error naming its columns: a
 * label we do not know must not turn into every row skipped.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>

#include "addr.h"
#include "consent.h"
#include "csv.h"
#include "ctl.h"
#include "ctl_import.h"
#include "log.h"
#include "store.h"

static const struct {
	const char *name;
	enum import_fmt fmt;
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

/*
 * Other spellings of the columns, as the CRM writes them: Vtiger 7 labels
 * the address of a Contact "Primary Email" (a Lead's, and older versions',
 * "Email"), and its API and some versions the field names.
 */
static const struct {
	const char *label;
	enum import_col col;
} col_alias[] = {
	{ "primary email", COL_EMAIL },
	{ "secondaryemail", COL_EMAIL2 },
	{ "email opt-out", COL_OPTOUT },
	{ "emailoptout", COL_OPTOUT },
};

#define SHOWN_COLS	20	/* header columns named in an error */
#define SHOWN_NAME	60	/* bytes of each */
#define SHOWN_ADDR	100	/* bytes of a bad address shown */

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

/* col_find - the column a header name stands for, or NCOLS */
static enum import_col
col_find(const char *name)
{
	size_t k;

	for (k = 0; k < NCOLS; k++)
		if (strcasecmp(name, col_name[k].name) == 0)
			return (enum import_col)k;
	for (k = 0; k < sizeof(col_alias) / sizeof(col_alias[0]); k++)
		if (strcasecmp(name, col_alias[k].label) == 0)
			return col_alias[k].col;
	return NCOLS;
}

/* put_name - a header name for a message: quoted, cut at SHOWN_NAME
 * bytes (on a character boundary), control characters as '?' */
static void
put_name(FILE *fp, const char *name)
{
	char buf[SHOWN_NAME + 1];
	size_t n = strlen(name);

	if (n > SHOWN_NAME) {
		n = SHOWN_NAME;
		while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, name, n);
	buf[n] = '\0';
	fputc('\'', fp);
	ctl_put_text(fp, buf);
	fputs(n < strlen(name) ? "...'" : "'", fp);
}

/* no_address - report a header that maps no address column, naming the
 * columns it has; returns EX_DATAERR */
static int
no_address(const struct import_map *m, const struct csv_record *rec)
{
	size_t i;

	fprintf(stderr, "optinctl import: %s:%lu: no address column (want "
	    "'address', or Vtiger's 'Email' or 'Primary Email'); the header "
	    "has ", m->file, rec->line);
	for (i = 0; i < rec->nfields && i < SHOWN_COLS; i++) {
		fputs(i > 0 ? ", " : "", stderr);
		put_name(stderr, rec->field[i]);
	}
	if (rec->nfields > SHOWN_COLS)
		fprintf(stderr, " and %zu more", rec->nfields - SHOWN_COLS);
	fputc('\n', stderr);
	return EX_DATAERR;
}

int
import_map_header(struct import_map *m, const struct csv_record *rec)
{
	enum import_col k;
	size_t i;

	for (k = 0; k < NCOLS; k++)
		m->col[k] = -1;
	m->ncols = rec->nfields;
	for (i = 0; i < rec->nfields; i++) {
		if ((k = col_find(trim(rec->field[i]))) == NCOLS)
			continue;		/* other columns: ignored */
		if (m->col[k] >= 0) {
			fprintf(stderr, "optinctl import: %s:%lu: column %zu ",
			    m->file, rec->line, i + 1);
			put_name(stderr, rec->field[i]);
			fprintf(stderr, " repeats column %d ", m->col[k] + 1);
			put_name(stderr, rec->field[m->col[k]]);
			fputc('\n', stderr);
			return EX_DATAERR;
		}
		m->col[k] = (int)i;
	}
	if (m->col[COL_ADDRESS] >= 0) {
		m->fmt = FMT_OPTIN;
		if (m->col[COL_STATUS] < 0) {
			fprintf(stderr, "optinctl import: %s:%lu: no 'status' "
			    "column (pending, opted_in or opted_out)\n",
			    m->file, rec->line);
			return EX_DATAERR;
		}
		if (m->col[COL_LIST] < 0 && m->list == NULL) {
			fprintf(stderr, "optinctl import: %s: no 'list' "
			    "column: give --list\n", m->file);
			return EX_USAGE;
		}
		if (m->assume != NULL) {
			fprintf(stderr, "optinctl import: --assume-opt-in is "
			    "for CRM exports; this file has a 'status' "
			    "column\n");
			return EX_USAGE;
		}
		return 0;
	}
	/* a Vtiger file needs its main address column: without it (a
	 * label we do not know) most rows would be skipped in silence */
	if (m->col[COL_EMAIL] >= 0) {
		m->fmt = FMT_VTIGER;
		if (m->list == NULL && m->col[COL_LIST] < 0) {
			fprintf(stderr, "optinctl import: %s: a Vtiger export "
			    "names no list: give --list\n", m->file);
			return EX_USAGE;
		}
		if (m->col[COL_OPTOUT] < 0)
			fprintf(stderr, "optinctl import: %s: note: no 'Email "
			    "Opt Out' column: no address is opted out\n",
			    m->file);
		return 0;
	}
	return no_address(m, rec);
}

/* field - the trimmed value of column k in rec, or "" when absent */
static const char *
field(const struct import_map *m, const struct csv_record *rec,
    enum import_col k)
{
	if (m->col[k] < 0 || (size_t)m->col[k] >= rec->nfields)
		return "";
	return trim(rec->field[m->col[k]]);
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

/* --- rows: CSV fields, addresses, words; no database ------------------ */

uint32_t
import_batch_str(struct batch *b, const char *s)
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

void
import_batch_bad(struct batch *b, struct prow *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->kind = PROW_BAD;
	r->msg = import_batch_str(b, msg);
}

uint64_t
import_key(const char *addr, const char *list)
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

/* row_list - the row's list (its column, else --list), or NULL after
 * import_batch_bad() */
static const char *
row_list(const struct import_map *m, const struct csv_record *rec,
    struct batch *b, struct prow *r)
{
	const char *list;

	list = field(m, rec, COL_LIST);
	if (*list == '\0' && (list = m->list) == NULL) {
		import_batch_bad(b, r, "no list (empty 'list' and no --list)");
		return NULL;
	}
	if (strlen(list) > LIST_MAX) {
		import_batch_bad(b, r, "list name too long");
		return NULL;
	}
	return list;
}

/* prep_optin - check one row of an optin file into r */
static void
prep_optin(const struct import_map *m, const struct csv_record *rec,
    struct batch *b, struct prow *r)
{
	char addr[ADDR_MAX + 1], why[256], evid[EVIDENCE_MAX + 64], t[32];
	char safe[SHOWN_ADDR + 1];
	const char *raw, *list, *word, *source, *evidence, *cons;

	raw = field(m, rec, COL_ADDRESS);
	if (addr_normalize(raw, addr, sizeof(addr), why, sizeof(why)) < 0) {
		import_batch_bad(b, r, "bad address '%s': %s",
		    log_safe(raw, safe, sizeof(safe)), why);
		return;
	}
	if ((list = row_list(m, rec, b, r)) == NULL)
		return;
	word = field(m, rec, COL_STATUS);
	if (sub_status_parse(word, &r->status) < 0 || r->status == SUB_NONE) {
		import_batch_bad(b, r, "bad status '%.40s' (pending, "
		    "opted_in or opted_out)", word);
		return;
	}
	source = field(m, rec, COL_SOURCE);
	if (*source == '\0')
		source = m->source;
	if (!ctl_text_ok(source, SOURCE_MAX)) {
		import_batch_bad(b, r, "bad source (at most %d printable "
		    "characters)", SOURCE_MAX);
		return;
	}
	evidence = field(m, rec, COL_EVIDENCE);
	if (!ctl_text_ok(evidence, EVIDENCE_MAX)) {
		import_batch_bad(b, r, "bad evidence (at most %d printable "
		    "characters)", EVIDENCE_MAX);
		return;
	}
	cons = field(m, rec, COL_CONSENTED);
	r->consented_at = 0;
	if (*cons != '\0' && parse_time(cons, &r->consented_at) < 0) {
		import_batch_bad(b, r, "bad consented_at '%.40s' (ISO 8601 "
		    "or seconds since 1970)", cons);
		return;
	}
	/* a consent in the future is no consent: a file with 2099-01-01
	 * would undo every later opt-out, on every re-import */
	if (r->consented_at > m->now + IMPORT_CLOCK_SKEW) {
		import_batch_bad(b, r, "bad consented_at '%.40s': in the "
		    "future (more than %d hours after this host's clock)",
		    cons, IMPORT_CLOCK_SKEW / 3600);
		return;
	}
	/* an opted_out row changes back only with a later consent */
	r->flags = STORE_IMPORT_KEEP_OPT_OUT;
	r->naddr = 1;
	r->addr[0] = import_batch_str(b, addr);
	r->list = import_batch_str(b, list);
	r->key = import_key(addr, list);
	r->source = source == m->source ? NOSTR : import_batch_str(b, source);
	if (r->consented_at != 0) {
		snprintf(evid, sizeof(evid), "consented_at=%s%s%s",
		    ctl_iso_time(r->consented_at, t), *evidence != '\0' ?
		    "; " : "", evidence);
		r->evidence = import_batch_str(b, evid);
	} else if (*evidence != '\0')
		r->evidence = import_batch_str(b, evidence);
	else
		r->evidence = NOSTR;
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
prep_vtiger(const struct import_map *m, const struct csv_record *rec,
    struct batch *b, struct prow *r)
{
	char addr[2][ADDR_MAX + 1], why[256], safe[SHOWN_ADDR + 1];
	const char *raw[2], *list, *flag;
	int out, i, n = 0;

	raw[0] = field(m, rec, COL_EMAIL);
	raw[1] = field(m, rec, COL_EMAIL2);
	flag = field(m, rec, COL_OPTOUT);
	if ((out = opt_out_parse(flag)) < 0) {
		import_batch_bad(b, r, "bad Email Opt Out '%.40s' (yes/no, "
		    "1/0)", flag);
		return;
	}
	for (i = 0; i < 2; i++) {
		if (*raw[i] == '\0')
			continue;
		if (addr_normalize(raw[i], addr[n], sizeof(addr[n]), why,
		    sizeof(why)) < 0) {
			import_batch_bad(b, r, "bad %s '%s': %s", i == 0 ?
			    "Email" : "Secondary Email", log_safe(raw[i],
			    safe, sizeof(safe)), why);
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
	if ((list = row_list(m, rec, b, r)) == NULL)
		return;
	r->source = NOSTR;
	r->consented_at = 0;
	if (out) {
		/* an opt-out is always honoured */
		r->status = SUB_OPTED_OUT;
		r->flags = 0;
		r->evidence = import_batch_str(b, "Email Opt Out=yes");
	} else if (m->assume != NULL) {
		/* asserted by the operator; never over an opt-out */
		r->status = SUB_OPTED_IN;
		r->flags = STORE_IMPORT_KEEP_OPT_OUT;
		r->evidence = import_batch_str(b, m->assume_evidence);
	} else {
		/* no opt-out is not consent: pending, and only if new */
		r->status = SUB_PENDING;
		r->flags = STORE_IMPORT_ONLY_NEW;
		r->evidence = import_batch_str(b, "no opt-out in CRM");
	}
	r->naddr = (unsigned)n;
	r->list = import_batch_str(b, list);
	for (i = 0; i < n; i++)
		r->addr[i] = import_batch_str(b, addr[i]);
}

void
import_map_row(const struct import_map *m, const struct csv_record *rec,
    struct batch *b, struct prow *r)
{
	if (rec->nfields != m->ncols)
		import_batch_bad(b, r, "%zu field%s, the header has %zu",
		    rec->nfields, rec->nfields == 1 ? "" : "s", m->ncols);
	else if (m->fmt == FMT_OPTIN)
		prep_optin(m, rec, b, r);
	else
		prep_vtiger(m, rec, b, r);
}
