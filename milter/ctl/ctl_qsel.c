/*
 * ctl_qsel.c - the options of "optinctl quarantine" and the rows a subverb
 * acts on (ctl_qsel.h), in the manner of postsuper(1): several IDs, '-' for
 * IDs on standard input, ALL (never implied), or filters.
 *
 * An ID is a row number (digits only, as "quarantine list" prints in its
 * ID column) or an MTA queue ID (letters and digits, with at least one
 * letter; Postfix's short and long IDs both are): a queue ID names every
 * row of that message.  Filters go to the store as bound parameters of one
 * prepared statement (store_quarantine_ls); nothing here builds SQL.  All
 * IDs are checked before the store is asked, so a bad one in a long list
 * changes nothing.  Single-threaded.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "campaign.h"
#include "ctl_qsel.h"
#include "quarantine.h"

#define QID_MAX		64		/* longest queue ID taken */
#define STDIN_IDS_MAX	1000000		/* IDs read from '-' */

static const struct option q_opts[] = {
	{ "reason", required_argument, NULL, QOPT_REASON },
	{ "list", required_argument, NULL, QOPT_LIST },
	{ "sender", required_argument, NULL, QOPT_SENDER },
	{ "older-than", required_argument, NULL, QOPT_OLDER },
	{ "before", required_argument, NULL, QOPT_BEFORE },
	{ "all", no_argument, NULL, QOPT_ALL },
	{ "force", no_argument, NULL, QOPT_FORCE },
	{ NULL, 0, NULL, 0 }
};

/* bad_reason - refuse an unknown --reason, naming the known ones; 64 */
static int
bad_reason(const char *word)
{
	const char *r;
	size_t i;

	fputs("optinctl quarantine: unknown reason '", stderr);
	ctl_put_text(stderr, word);
	fputs("' (", stderr);
	for (i = 0; (r = quarantine_reason(i)) != NULL; i++)
		fprintf(stderr, "%s%s", i > 0 ? ", " : "", r);
	fputs(")\n", stderr);
	return EX_USAGE;
}

/* parse_date - "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC) into *t_r; a
 * date that does not exist (2023-02-30) is refused; 0 or -1 */
static int
parse_date(const char *s, time_t *t_r)
{
	struct tm tm, want, back;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 10 || s[4] != '-' || (end = strptime(s, "%Y-%m-%d",
	    &tm)) == NULL)
		return -1;
	if (*end == 'T') {
		if ((end = strptime(end + 1, "%H:%M:%S", &tm)) == NULL ||
		    strcmp(end, "Z") != 0)
			return -1;
	} else if (*end != '\0')
		return -1;
	want = tm;			/* timegm() normalises tm */
	if ((t = timegm(&tm)) == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_mday != want.tm_mday || back.tm_mon != want.tm_mon ||
	    back.tm_hour != want.tm_hour || back.tm_min != want.tm_min ||
	    back.tm_sec != want.tm_sec)
		return -1;
	*t_r = t;
	return 0;
}

/* set_before - the earlier of the cut-offs given.  A cut-off at or before
 * the epoch selects nothing: it becomes -1, since 0 is the store's "any"
 * (store_qfilter) and "--before 1970-01-01" selected every row. */
static void
set_before(struct qopts *o, time_t t)
{
	if (t <= 0)
		t = -1;
	if (o->f.before == 0 || t < o->f.before)
		o->f.before = t;
}

/* parse_one - one option ch with optarg; 0 or an exit code after printing */
static int
parse_one(int ch, struct qopts *o)
{
	char why[256];
	time_t t;
	long age;

	switch (ch) {
	case QOPT_REASON:
		if (!quarantine_reason_ok(optarg))
			return bad_reason(optarg);
		o->f.reason = optarg;
		break;
	case QOPT_LIST:
		if (ctl_list_arg("quarantine", "--list", optarg) != EX_OK)
			return EX_USAGE;
		o->f.list = optarg;
		break;
	case QOPT_SENDER:
		if (addr_normalize(optarg, o->sender, sizeof(o->sender), why,
		    sizeof(why)) < 0) {
			/* the null sender or a raw one: as given */
			snprintf(o->sender, sizeof(o->sender), "%s", optarg);
		}
		o->f.sender = o->sender;
		break;
	case QOPT_OLDER:
		if (ctl_parse_age(optarg, &age) < 0) {
			fprintf(stderr, "optinctl quarantine: bad --older-than "
			    "'%s' (e.g. 3600, 12h, 30d, 2w)\n", optarg);
			return EX_USAGE;
		}
		o->older = age;
		set_before(o, time(NULL) - age);
		break;
	case QOPT_BEFORE:
		if (parse_date(optarg, &t) < 0) {
			fputs("optinctl quarantine: bad --before '", stderr);
			ctl_put_text(stderr, optarg);
			fputs("' (a date, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, "
			    "UTC)\n", stderr);
			return EX_USAGE;
		}
		set_before(o, t);
		break;
	case QOPT_ALL:
		o->all = true;
		break;
	case QOPT_FORCE:
		o->force = true;
		break;
	}
	return 0;
}

int
qsel_parse(int argc, char **argv, unsigned allowed, struct qopts *o,
    int *first_r)
{
	int ch, rc, li;

	memset(o, 0, sizeof(*o));
	o->older = -1;
	opterr = 0;
	optind = 0;
	while ((li = -1, ch = getopt_long(argc, argv, ":", q_opts, &li)) !=
	    -1) {
		if (ch == ':') {
			fprintf(stderr, "optinctl quarantine: option '%s' "
			    "needs a value\n", argv[optind - 1]);
			return ctl_usage("quarantine");
		}
		/* a known option not taken here is named by its name:
		 * argv[optind - 1] is its value when it has one */
		if (ch != '?' && (allowed & QOPT(ch)) == 0 && li >= 0) {
			fprintf(stderr, "optinctl quarantine %s: unknown "
			    "option '--%s'\n", argv[0], q_opts[li].name);
			return ctl_usage("quarantine");
		}
		if (ch == '?' || (allowed & QOPT(ch)) == 0) {
			fprintf(stderr, "optinctl quarantine %s: unknown "
			    "option '%s'\n", argv[0], argv[optind - 1]);
			return ctl_usage("quarantine");
		}
		o->seen |= QOPT(ch);
		if ((rc = parse_one(ch, o)) != 0)
			return rc;
	}
	*first_r = optind;
	return 0;
}

int
qsel_bad_id(const char *verb, const char *word)
{
	fprintf(stderr, "optinctl quarantine %s: bad ID '", verb);
	ctl_put_text(stderr, word);
	fputs("' (a row number or a queue ID from quarantine list)\n", stderr);
	return EX_USAGE;
}

/* One ID: a row number, or a queue ID. */
struct qid {
	long long row;			/* 0: a queue ID */
	char *word;			/* owned */
};

/* id_parse - word as an ID into *id_r (word copied); -1 when it is
 * neither a row number nor a queue ID, -2 out of memory */
static int
id_parse(const char *word, struct qid *id_r)
{
	bool letter = false;
	size_t i;
	char *end;

	for (i = 0; word[i] != '\0'; i++) {
		if ((word[i] >= 'A' && word[i] <= 'Z') || (word[i] >= 'a' &&
		    word[i] <= 'z'))
			letter = true;
		else if (word[i] < '0' || word[i] > '9')
			return -1;
	}
	if (i == 0 || i > QID_MAX)
		return -1;
	id_r->row = 0;
	if (!letter) {
		if (word[0] == '0')
			return -1;
		errno = 0;
		id_r->row = strtoll(word, &end, 10);
		if (errno != 0)
			return -1;
	}
	return (id_r->word = strdup(word)) == NULL ? -2 : 0;
}

/* Growing list of IDs. */
struct qids {
	struct qid *v;			/* owned */
	size_t n;
	bool from_stdin;
};

/* ids_free - free the list */
static void
ids_free(struct qids *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].word);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ids_add - check and add word; EX_OK or an exit code after printing */
static int
ids_add(const char *verb, struct qids *l, const char *word)
{
	struct qid *v;
	int r;

	if (l->n >= STDIN_IDS_MAX) {
		fprintf(stderr, "optinctl quarantine %s: more than %d IDs\n",
		    verb, STDIN_IDS_MAX);
		return EX_USAGE;
	}
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL)
		goto nomem;
	l->v = v;
	if ((r = id_parse(word, &v[l->n])) == -1)
		return qsel_bad_id(verb, word);
	if (r < 0)
		goto nomem;
	l->n++;
	return EX_OK;
nomem:
	fprintf(stderr, "optinctl quarantine %s: out of memory\n", verb);
	return EX_OSERR;
}

/* ids_stdin - the IDs on standard input, white-space separated; a NUL
 * byte makes its word a bad ID (it used to end the word: "1\0junk" was
 * row 1), shown as '?' */
static int
ids_stdin(const char *verb, struct qids *l)
{
	char word[QID_MAX + 2];
	size_t len = 0;
	int ch, rc;

	if (l->from_stdin) {
		fprintf(stderr, "optinctl quarantine %s: '-' given twice\n",
		    verb);
		return EX_USAGE;
	}
	l->from_stdin = true;
	for (;;) {
		ch = getchar();
		if (ch == EOF || ch == ' ' || ch == '\t' || ch == '\n' ||
		    ch == '\r') {
			word[len] = '\0';
			if (len > 0 && (rc = ids_add(verb, l, word)) != EX_OK)
				return rc;
			len = 0;
			if (ch == EOF)
				break;
			continue;
		}
		if (len < sizeof(word) - 1)
			word[len++] = ch == '\0' ? '?' : (char)ch;
	}
	if (ferror(stdin)) {
		fprintf(stderr, "optinctl quarantine %s: standard input: %s\n",
		    verb, strerror(errno));
		return EX_IOERR;
	}
	return EX_OK;
}

/* collect - store_quarantine_ls callback: a deep copy of the row in the
 * set (1 stops when out of memory) */
static int
collect(const struct store_qrow *q, void *arg)
{
	struct qset *s = arg;
	const char *src[7] = { q->row.queue_id, q->row.message_id,
	    q->row.sender, q->row.recipient, q->row.list, q->row.reason,
	    q->row.spool_file };
	char *dup[7] = { NULL };
	struct store_qrow *v, *r;
	size_t i;

	if ((v = realloc(s->row, (s->n + 1) * sizeof(*v))) == NULL) {
		s->nomem = true;
		return 1;
	}
	s->row = v;
	for (i = 0; i < 7; i++)
		if (src[i] != NULL && (dup[i] = strdup(src[i])) == NULL)
			goto nomem;
	r = &v[s->n++];
	*r = *q;
	r->row.queue_id = dup[0];
	r->row.message_id = dup[1];
	r->row.sender = dup[2];
	r->row.recipient = dup[3];
	r->row.list = dup[4];
	r->row.reason = dup[5];
	r->row.spool_file = dup[6];
	return 0;
nomem:
	for (i = 0; i < 7; i++)
		free(dup[i]);
	s->nomem = true;
	return 1;
}

/* by_id - qsort order of rows */
static int
by_id(const void *a, const void *b)
{
	long long x = ((const struct store_qrow *)a)->id;
	long long y = ((const struct store_qrow *)b)->id;

	return x < y ? -1 : x > y;
}

/* ls - the rows f selects, added to s; EX_OK or an exit code */
static int
ls(struct ctl *c, const struct store_qfilter *f, struct qset *s)
{
	enum store_status rs;
	char why[512];

	rs = store_quarantine_ls(c->st, f, collect, s, why, sizeof(why));
	if (rs != STORE_OK)
		return ctl_fail(rs, why);
	return s->nomem ? EX_OSERR : EX_OK;
}

/* select_ids - the rows of each ID; the IDs without a row in s->missing */
static int
select_ids(struct ctl *c, const struct qids *l, bool held_only,
    struct qset *s)
{
	struct store_qfilter f;
	size_t i, n;
	char **v;
	int rc;

	for (i = 0; i < l->n; i++) {
		memset(&f, 0, sizeof(f));
		f.id = l->v[i].row;
		f.queue_id = l->v[i].row == 0 ? l->v[i].word : NULL;
		/* a row number is taken as named: release says why not */
		f.held_only = held_only && l->v[i].row == 0;
		n = s->n;
		if ((rc = ls(c, &f, s)) != EX_OK)
			return rc;
		if (s->n > n)
			continue;
		if ((v = realloc(s->missing, (s->nmissing + 1) *
		    sizeof(*v))) == NULL)
			return EX_OSERR;
		s->missing = v;
		if ((v[s->nmissing] = strdup(l->v[i].word)) == NULL)
			return EX_OSERR;
		s->nmissing++;
	}
	return EX_OK;
}

/* row_strs_free - free the strings collect() copied for r */
static void
row_strs_free(struct store_qrow *r)
{
	free((char *)r->row.queue_id);
	free((char *)r->row.message_id);
	free((char *)r->row.sender);
	free((char *)r->row.recipient);
	free((char *)r->row.list);
	free((char *)r->row.reason);
	free((char *)r->row.spool_file);
}

/* dedup - sort s by id and keep each row once */
static void
dedup(struct qset *s)
{
	size_t i, j;

	if (s->n < 2)
		return;
	qsort(s->row, s->n, sizeof(*s->row), by_id);
	for (i = 0, j = 1; j < s->n; j++) {
		if (s->row[j].id == s->row[i].id)
			row_strs_free(&s->row[j]);
		else
			s->row[++i] = s->row[j];
	}
	s->n = i + 1;
}

int
qsel_select(struct ctl *c, const char *verb, char **words, int nwords,
    const struct qopts *o, bool held_only, struct qset *s)
{
	struct qids l = { NULL, 0, false };
	struct store_qfilter f;
	bool all = nwords == 1 && strcmp(words[0], "ALL") == 0;
	bool filters = (o->seen & QOPT_FILTERS) != 0;
	int i, rc = EX_OK;

	memset(s, 0, sizeof(*s));
	if (nwords == 0 && !filters) {
		fprintf(stderr, "optinctl quarantine %s: name the rows: IDs, "
		    "'-' (IDs on standard input), a filter (--reason, --list, "
		    "--sender, --before, --older-than) or ALL\n", verb);
		return EX_USAGE;
	}
	if (nwords > 0 && filters && !all) {
		fprintf(stderr, "optinctl quarantine %s: IDs and filters do "
		    "not go together (filters select by themselves, or with "
		    "ALL)\n", verb);
		return EX_USAGE;
	}
	if (all || nwords == 0) {
		(void)ctl_store(c, 0);
		f = o->f;
		f.held_only = held_only;
		if ((rc = ls(c, &f, s)) == EX_OSERR)
			fprintf(stderr, "optinctl quarantine %s: out of "
			    "memory\n", verb);
		goto out;
	}
	for (i = 0; i < nwords && rc == EX_OK; i++) {
		if (strcmp(words[i], "ALL") == 0) {
			fprintf(stderr, "optinctl quarantine %s: ALL goes "
			    "alone\n", verb);
			rc = EX_USAGE;
		} else if (strcmp(words[i], "-") == 0)
			rc = ids_stdin(verb, &l);
		else
			rc = ids_add(verb, &l, words[i]);
	}
	if (rc != EX_OK)
		goto out;
	s->single = nwords == 1 && !l.from_stdin && l.v[0].row != 0;
	(void)ctl_store(c, 0);
	rc = select_ids(c, &l, held_only, s);
	if (rc == EX_OSERR)
		fprintf(stderr, "optinctl quarantine %s: out of memory\n",
		    verb);
	if (rc == EX_OK && s->single && s->nmissing == 1) {
		fprintf(stderr, "optinctl quarantine: no row %lld\n",
		    l.v[0].row);
		rc = EX_DATAERR;
	}
out:
	ids_free(&l);
	if (rc == EX_OK)
		dedup(s);
	return rc;
}

void
qset_free(struct qset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		row_strs_free(&s->row[i]);
	free(s->row);
	for (i = 0; i < s->nmissing; i++)
		free(s->missing[i]);
	free(s->missing);
	memset(s, 0, sizeof(*s));
}
