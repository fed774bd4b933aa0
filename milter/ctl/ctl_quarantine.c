/*
 * ctl_quarantine.c - optinctl verb "quarantine": list, show, release,
 * delete and purge quarantined messages (DESIGN "optinctl", "Message flow"
 * step 3).
 *
 *	list [FILTER...] [--all]	the rows, with their queue IDs
 *	show ID			the row, the decision now, the spool headers
 *	release SEL [--force]	re-check consent (store_lookup2); refuse unless
 *				the decision is deliver or --force; re-inject
 *				with SendmailCommand or over ResubmitAddress
 *				(reinject.h) to the row's recipient from its
 *				sender; mark released
 *	delete SEL		the rows, and their spool files once
 *				unreferenced
 *	purge [--older-than AGE] rows older than AGE (QuarantineRetention),
 *				unreferenced spool files, and orphan spool
 *				files (no row) older than AGE
 *
 * SEL is row numbers or queue IDs, '-' (IDs on standard input), ALL or
 * FILTERs (--reason, --list, --sender, --before, --older-than): which rows
 * is ctl_qsel.c's business.  release and delete act on each row once, by
 * id, and end with exact counts unless one row number alone was given
 * (then they print as they always did).
 *
 * A row is one blocked recipient; rows of one message share its spool file,
 * which is removed only when no row names it.  release, delete and purge
 * write a consent event under the row's recipient ("quarantine_released",
 * "quarantine_deleted", "quarantine_purged"; evidence "id=N queue_id=Q
 * reason=R", with "decision=D forced=yes|no" for release), whose
 * user_agent names who ran optinctl (ctl.h): an admin's action on a
 * person's mail shows in that person's history and export.  Spool names come from the
 * database and are checked with quarantine_name_ok() before any path is
 * made from them, and files are opened with O_NOFOLLOW, so that nothing
 * outside QuarantineDir is read or removed.  Single-threaded.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "campaign.h"
#include "config.h"
#include "consent.h"
#include "ctl.h"
#include "ctl_qsel.h"
#include "mark.h"
#include "quarantine.h"
#include "reinject.h"
#include "store.h"
#include "token.h"

#define SPOOL_MAX	(64L * 1024 * 1024)	/* largest message released */
#define HEADERS_MAX	(256 * 1024)		/* header bytes shown */

struct qlist_ctx {
	const struct ctl *c;
	int n;
};

/* qid_text - the queue ID for a column: "-" when none, anything but
 * letters and digits as '?' (it came from the MTA) */
static const char *
qid_text(const char *qid, char buf[40])
{
	size_t i;

	if (qid == NULL || *qid == '\0')
		return "-";
	for (i = 0; qid[i] != '\0' && i < 39; i++)
		buf[i] = (qid[i] >= '0' && qid[i] <= '9') || (qid[i] >= 'A' &&
		    qid[i] <= 'Z') || (qid[i] >= 'a' && qid[i] <= 'z') ?
		    qid[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* qrow_text - one row as a text line */
static void
qrow_text(const struct store_qrow *q)
{
	char t[32], qid[40];

	printf("%-6lld %-12s %s %-15s %-12s <", q->id,
	    qid_text(q->row.queue_id, qid),
	    ctl_iso_time(q->row.received_at, t), q->row.reason,
	    q->row.list != NULL ? q->row.list : "-");
	ctl_put_text(stdout, q->row.sender != NULL ? q->row.sender : "");
	fputs("> <", stdout);
	ctl_put_text(stdout, q->row.recipient);
	fputc('>', stdout);
	if (q->released_at != 0)
		printf(" released=%s", ctl_iso_time(q->released_at, t));
	fputc('\n', stdout);
}

/* list_one - quarantine list: print one row */
static int
list_one(const struct store_qrow *q, void *arg)
{
	struct qlist_ctx *x = arg;

	if (x->c->json) {
		fputs(x->n > 0 ? ",{" : "{", stdout);
		ctl_qrow_json_fields(q);
		fputc('}', stdout);
	} else
		qrow_text(q);
	x->n++;
	return 0;
}

/* q_list - quarantine list [filters] */
static int
q_list(struct ctl *c, int argc, char **argv)
{
	struct qlist_ctx x = { c, 0 };
	enum store_status rs;
	struct qopts o;
	char why[512];
	int first, rc;

	if ((rc = qsel_parse(argc, argv, QOPT_FILTERS | QOPT(QOPT_ALL), &o,
	    &first)) != 0)
		return rc;
	if (first != argc)
		return ctl_usage("quarantine");
	o.f.held_only = !o.all;
	(void)ctl_store(c, STORE_READONLY);
	if (c->json)
		fputs("{\"quarantine\":[", stdout);
	else
		printf("%-6s %-12s %-20s %-15s %-12s %s\n", "ID", "QUEUE_ID",
		    "RECEIVED", "REASON", "LIST", "SENDER RECIPIENT");
	rs = store_quarantine_ls(c->st, &o.f, list_one, &x, why, sizeof(why));
	if (c->json)
		fputs("]}\n", stdout);
	return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
}

/*
 * read_spool - read the spool file name (checked) of QuarantineDir into a
 * malloc'd buffer; max bytes at most (headers_only: stop at the blank
 * line).  NULL after printing why; *exit_r the exit code.
 */
static char *
read_spool(const struct ctl *c, const char *name, long max,
    bool headers_only, size_t *len_r, int *exit_r)
{
	char path[4096], *buf = NULL, *p, *end;
	struct stat sb;
	size_t len = 0;
	ssize_t n;
	int fd;

	*exit_r = EX_DATAERR;
	if (!quarantine_name_ok(name)) {
		fprintf(stderr, "optinctl quarantine: bad spool file name in "
		    "the quarantine table: not opened\n");
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s",
	    c->cfg->quarantine_dir, name) >= sizeof(path)) {
		fprintf(stderr, "optinctl quarantine: path too long\n");
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fprintf(stderr, "optinctl quarantine: %s: %s\n", path,
		    strerror(errno));
		*exit_r = errno == ENOENT ? EX_NOINPUT : EX_IOERR;
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (!headers_only && sb.st_size > max)) {
		fprintf(stderr, "optinctl quarantine: %s: not a regular file "
		    "or larger than %ld bytes\n", path, max);
		goto fail;
	}
	if ((buf = malloc((size_t)max + 1)) == NULL) {
		*exit_r = EX_OSERR;
		goto fail;
	}
	while (len < (size_t)max) {
		n = read(fd, buf + len, (size_t)max - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "optinctl quarantine: %s: %s\n", path,
			    strerror(errno));
			*exit_r = EX_IOERR;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (headers_only) {
		/* up to the blank line, CRLF or LF */
		end = buf + len;
		for (p = buf; p < end; p++) {
			if (*p == '\n' && (p + 1 < end && (p[1] == '\n' ||
			    (p[1] == '\r' && p + 2 < end && p[2] == '\n')))) {
				len = (size_t)(p + 1 - buf);
				break;
			}
		}
		buf[len] = '\0';
	}
	(void)close(fd);
	*len_r = len;
	return buf;
fail:
	free(buf);
	(void)close(fd);
	return NULL;
}

/* decide_now - the consent decision for the row now; "none" if the row
 * has no list */
static int
decide_now(struct ctl *c, const struct store_qrow *q,
    enum consent_reason *r_r, bool *has_list_r)
{
	struct consent_row row;
	enum store_status rs;
	char why[512];

	*has_list_r = q->row.list != NULL;
	if (q->row.list == NULL)
		return EX_OK;
	rs = store_lookup2(c->st, q->row.recipient, ctl_erasure(c,
	    "quarantine"), q->row.list, &row, why, sizeof(why));
	if (rs != STORE_OK)
		return ctl_fail(rs, why);
	*r_r = consent_decide(&row);
	return EX_OK;
}

/* q_show - quarantine show ID */
static int
q_show(struct ctl *c, int argc, char **argv)
{
	enum consent_reason r = CONSENT_NO_CONSENT;
	const struct store_qrow *q;
	struct qset x;
	struct qopts o;
	char t[32], *hdr, *line, *nl;
	bool has_list;
	size_t len;
	int first, rc, hrc;

	if ((rc = qsel_parse(argc, argv, 0, &o, &first)) != 0)
		return rc;
	if (argc - first != 1)
		return ctl_usage("quarantine");
	if (argv[first][strspn(argv[first], "0123456789")] != '\0' ||
	    argv[first][0] < '1' || argv[first][0] > '9') {
		fprintf(stderr, "optinctl quarantine: bad ID '%s' (a row "
		    "number from quarantine list)\n", argv[first]);
		return EX_USAGE;
	}
	(void)ctl_store(c, STORE_READONLY);
	if ((rc = qsel_select(c, "show", argv + first, 1, &o, false, &x)) !=
	    EX_OK)
		goto out;
	q = &x.row[0];
	if ((rc = decide_now(c, q, &r, &has_list)) != EX_OK)
		goto out;
	hdr = read_spool(c, q->row.spool_file, HEADERS_MAX, true, &len, &hrc);
	if (c->json) {
		fputc('{', stdout);
		ctl_qrow_json_fields(q);
		fputs(",\"decision\":", stdout);
		ctl_json_str(stdout, has_list ? consent_reason_str(r) : NULL);
		fputs(",\"headers\":", stdout);
		ctl_json_str(stdout, hdr);
		fputs("}\n", stdout);
	} else {
		printf("id: %lld\nqueue_id: ", q->id);
		ctl_put_text(stdout, q->row.queue_id);
		fputs("\nmessage_id: ", stdout);
		ctl_put_text(stdout, q->row.message_id);
		fputs("\nsender: <", stdout);
		ctl_put_text(stdout, q->row.sender != NULL ? q->row.sender :
		    "");
		fputs(">\nrecipient: <", stdout);
		ctl_put_text(stdout, q->row.recipient);
		fputs(">\nlist: ", stdout);
		ctl_put_text(stdout, q->row.list);
		printf("\nreason: %s\ndecision now: %s\nreceived: %s\n",
		    q->row.reason, has_list ? consent_reason_str(r) : "-",
		    ctl_iso_time(q->row.received_at, t));
		printf("released: %s\nspool_file: %s\n",
		    ctl_iso_time(q->released_at, t), q->row.spool_file);
		if (hdr != NULL) {
			fputc('\n', stdout);
			for (line = hdr; *line != '\0'; line = nl + 1) {
				if ((nl = strchr(line, '\n')) == NULL)
					nl = line + strlen(line) - 1;
				else
					*nl = '\0';
				len = strlen(line);
				if (len > 0 && line[len - 1] == '\r')
					line[len - 1] = '\0';
				/* folded lines keep their leading space */
				ctl_put_text(stdout, line);
				fputc('\n', stdout);
			}
		}
	}
	/* a missing spool file is reported, the row is still shown */
	rc = hdr != NULL ? EX_OK : hrc;
	free(hdr);
out:
	qset_free(&x);
	return rc;
}

/* spool_body - the body of a spool file (msg_render: the headers, a blank
 * line, the body; CRLF line ends) and its length in *len_r */
static const char *
spool_body(const char *msg, size_t len, size_t *len_r)
{
	const char *p;

	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
		p = msg + 2;
	else if ((p = memmem(msg, len, "\r\n\r\n", 4)) != NULL)
		p += 4;
	else
		p = msg + len;
	*len_r = len - (size_t)(p - msg);
	return p;
}

/*
 * release_marker - the X-Optin-Release header line that tells the milter
 * an admin released this copy: without it the copy would pass the consent
 * check again and, forced, land back in quarantine.  A MARK_RELEASE marker
 * (mark.h) bound to this row, its message (spool msg, len bytes) and a
 * short lifetime; 0, or -1 with the reason printed.
 */
static int
release_marker(struct ctl *c, const struct store_qrow *q, const char *msg,
    size_t len, char *out, size_t outlen)
{
	const struct token_ring *ring;
	char why[512], value[MARK_VALUE_MAX];
	struct mark_msg mm;

	if (q->row.list == NULL) {
		out[0] = '\0';		/* no list: nothing to mark */
		return 0;
	}
	if (c->cfg->token_key_file == NULL) {
		fprintf(stderr, "optinctl quarantine release: TokenKeyFile is "
		    "needed to mark a released copy\n");
		return -1;
	}
	/* the ring of c: loaded before a drop to UserID (ctl_become_user) */
	if ((ring = ctl_ring(c, why, sizeof(why))) == NULL) {
		fprintf(stderr, "optinctl quarantine release: %s\n", why);
		return -1;
	}
	memset(&mm, 0, sizeof(mm));
	snprintf(mm.qid, sizeof(mm.qid), "%s", q->row.queue_id != NULL ?
	    q->row.queue_id : "");
	snprintf(mm.list, sizeof(mm.list), "%s", q->row.list);
	mm.qrow = q->id;
	mm.sender = q->row.sender;
	mm.rcpt = q->row.recipient;
	mm.message_id = q->row.message_id;
	mm.body = spool_body(msg, len, &mm.bodylen);
	mm.issued = (long long)time(NULL);
	mm.expires = mm.issued + MARK_RELEASE_LIFETIME;
	if (mark_msg_make(ring, MARK_RELEASE, &mm, value, sizeof(value), why,
	    sizeof(why)) < 0) {
		fprintf(stderr, "optinctl quarantine release: cannot mark the "
		    "copy: %s\n", why);
		return -1;
	}
	snprintf(out, outlen, "%s: %s\r\n", CAMPAIGN_RELEASE_HEADER, value);
	return 0;
}

/*
 * audit - the consent event of an admin's action on row q: event under its
 * recipient and list, evidence "id=N queue_id=Q reason=R" and extra (may be
 * NULL); who did it is the handle's agent (ctl.h).
 */
static enum store_status
audit(struct ctl *c, const struct store_qrow *q, const char *event,
    const char *extra, char *why, size_t whylen)
{
	struct consent_event ev = { 0 };
	char evidence[300];

	snprintf(evidence, sizeof(evidence), "id=%lld queue_id=%s reason=%s%s"
	    "%s", q->id, q->row.queue_id != NULL ? q->row.queue_id : "-",
	    q->row.reason, extra != NULL ? " " : "", extra != NULL ? extra :
	    "");
	ev.addr = q->row.recipient;
	ev.list = q->row.list;
	ev.event = event;
	ev.source = "optinctl";
	ev.evidence = evidence;
	return store_event_add(c->st, &ev, why, whylen);
}

/* How release and delete print a row: a line, a JSON object (one row
 * asked for with --json), nothing (several rows with --json: the summary
 * says it all). */
enum rowout { ROW_TEXT, ROW_JSON, ROW_NONE };

/*
 * release_row - send row q again (release ID [--force]): refused (65, why
 * printed) when already released, held for a line too long, or when the
 * recipient may not get it now, unless force.  Prints "released N to
 * <rcpt>" or the row's JSON object, as out says.  EX_OK, or an exit code after
 * printing why.
 */
static int
release_row(struct ctl *c, const struct store_qrow *q, bool force,
    enum rowout out)
{
	enum consent_reason r = CONSENT_NO_CONSENT;
	enum store_status rs;
	struct iovec iov[2];
	char why[512], t[32], *msg = NULL, marker[MARK_VALUE_MAX + 40];
	char extra[80];
	struct reinject ri;
	enum reinject_status st = REINJECT_FAILED;
	bool has_list, forced;
	size_t len;
	int rc;

	if (q->released_at != 0 && !force) {
		fprintf(stderr, "optinctl quarantine release: row %lld was "
		    "released at %s (--force sends it again)\n", q->id,
		    ctl_iso_time(q->released_at, t));
		return EX_DATAERR;
	}
	if (strcmp(q->row.reason, "line_too_long") == 0 && !force) {
		/* optin-milter.conf(5): such a copy is held again */
		fprintf(stderr, "optinctl quarantine release: row %lld: held "
		    "because a line is over 998 octets, which the relay would "
		    "break after signing: the milter would hold it again "
		    "(have the sender send it re-encoded; --force tries "
		    "anyway)\n", q->id);
		return EX_DATAERR;
	}
	if ((rc = decide_now(c, q, &r, &has_list)) != EX_OK)
		return rc;
	if ((!has_list || r != CONSENT_DELIVER) && !force) {
		fprintf(stderr, "optinctl quarantine release: row %lld: "
		    "recipient <%s> on list %s: %s (--force releases it "
		    "anyway)\n", q->id, q->row.recipient,
		    has_list ? q->row.list : "-", has_list ?
		    consent_reason_str(r) : "no list to check consent on");
		return EX_DATAERR;
	}
	if ((msg = read_spool(c, q->row.spool_file, SPOOL_MAX, false, &len,
	    &rc)) == NULL)
		return rc;
	if (release_marker(c, q, msg, len, marker, sizeof(marker)) < 0) {
		rc = EX_CONFIG;
		goto out;
	}
	iov[0].iov_base = marker;
	iov[0].iov_len = strlen(marker);
	iov[1].iov_base = msg;
	iov[1].iov_len = len;
	(void)signal(SIGPIPE, SIG_IGN);
	/* SendmailCommand, or the ResubmitAddress channel (reinject.h) */
	if (reinject_open(&ri, c->cfg, "optinctl", why, sizeof(why)) == 0)
		st = reinject_copy(&ri, q->row.sender != NULL ? q->row.sender :
		    "", q->row.recipient, iov, 2, why, sizeof(why));
	reinject_close(&ri);
	if (st != REINJECT_OK) {
		fprintf(stderr, "optinctl quarantine release: row %lld not "
		    "sent%s: %s\n", q->id, st == REINJECT_UNKNOWN ? " (or "
		    "maybe sent: the connection was lost after the end of "
		    "data; see the MTA's log)" : "", why);
		rc = st == REINJECT_UNKNOWN ? EX_TEMPFAIL : EX_UNAVAILABLE;
		goto out;
	}
	forced = !has_list || r != CONSENT_DELIVER;
	snprintf(extra, sizeof(extra), "decision=%s forced=%s", has_list ?
	    consent_reason_str(r) : "-", forced ? "yes" : "no");
	rs = store_begin(c->st, why, sizeof(why));
	if (rs == STORE_OK)
		rs = store_quarantine_released(c->st, q->id, time(NULL), why,
		    sizeof(why));
	if (rs == STORE_OK)
		rs = audit(c, q, "quarantine_released", extra, why,
		    sizeof(why));
	if (rs == STORE_OK)
		rs = store_commit(c->st, why, sizeof(why));
	if (rs != STORE_OK) {
		store_rollback(c->st);
		/* sent, but not marked: say so plainly */
		fprintf(stderr, "optinctl quarantine release: row %lld was "
		    "sent but could not be marked released: %s\n", q->id,
		    why);
		rc = ctl_exit_code(rs);
		goto out;
	}
	if (out == ROW_JSON) {
		printf("{\"id\":%lld,\"released\":true,\"recipient\":", q->id);
		ctl_json_str(stdout, q->row.recipient);
		fputs(",\"decision\":", stdout);
		ctl_json_str(stdout, has_list ? consent_reason_str(r) : NULL);
		printf(",\"forced\":%s}\n", forced ? "true" : "false");
	} else if (out == ROW_TEXT)
		printf("released %lld to <%s>%s\n", q->id, q->row.recipient,
		    forced ? " (forced)" : "");
	rc = EX_OK;
out:
	free(msg);
	return rc;
}

/* spool_note - how a row's spool file went, for a message */
static const char *
spool_note(const struct spool_gone *g)
{
	if (g->missing)
		return " (spool file missing)";
	return g->removed ? " (spool file removed)" : "";
}

/*
 * delete_row - delete row q (delete ID), with its audit event, then its
 * spool file once no row names it (*g_r says what became of it).  Prints
 * "deleted N[ (spool file removed|missing)]" or the row's JSON object, as
 * out says; *deleted_r once the row is gone.  EX_OK, or an exit code after
 * printing why (65 when the row was already gone, or its spool name is
 * bad).
 */
static int
delete_row(struct ctl *c, const struct store_qrow *q, enum rowout out,
    struct spool_gone *g_r, bool *deleted_r)
{
	enum store_status rs;
	char why[512];
	int rc;

	memset(g_r, 0, sizeof(*g_r));
	*deleted_r = false;
	rs = store_begin(c->st, why, sizeof(why));
	if (rs == STORE_OK)
		rs = store_quarantine_del(c->st, q->id, why, sizeof(why));
	if (rs == STORE_OK)
		rs = audit(c, q, "quarantine_deleted", NULL, why,
		    sizeof(why));
	if ((rc = ctl_tx_end(c, rs, why, sizeof(why))) != EX_OK)
		return rc;
	*deleted_r = true;
	rc = ctl_spool_remove(c, q->row.spool_file, g_r);
	if (out == ROW_JSON)
		printf("{\"id\":%lld,\"deleted\":true,\"spool_removed\":%s,"
		    "\"spool_missing\":%s}\n", q->id, g_r->removed &&
		    !g_r->missing ? "true" : "false", g_r->missing ? "true" :
		    "false");
	else if (out == ROW_TEXT)
		printf("deleted %lld%s\n", q->id, spool_note(g_r));
	return rc;
}

/* Row IDs, for a summary. */
struct idlist {
	long long *v;			/* owned */
	size_t n;
};

/* What release or delete did with the rows it selected. */
struct qtally {
	struct idlist done, refused, failed;
	size_t untried;			/* left after a database failure */
	size_t files, missing;		/* delete: spool files */
	bool nomem;
	int rc;				/* the first failure's exit code */
};

/* idl_add - note id in l (t->nomem when it cannot) */
static void
idl_add(struct qtally *t, struct idlist *l, long long id)
{
	long long *v;

	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		t->nomem = true;
		return;
	}
	l->v = v;
	v[l->n++] = id;
}

/* idl_print - ", N WORD: id id" (text) or ",\"key\":[id,id]" (json) */
static void
idl_print(bool json, const char *key, const char *word,
    const struct idlist *l)
{
	size_t i;

	if (json) {
		printf(",\"%s\":[", key);
		for (i = 0; i < l->n; i++)
			printf("%s%lld", i > 0 ? "," : "", l->v[i]);
		fputc(']', stdout);
		return;
	}
	if (l->n == 0)
		return;
	printf(", %zu %s:", l->n, word);
	for (i = 0; i < l->n; i++)
		printf(" %lld", l->v[i]);
}

/* missing_print - the IDs that selected no row, as idl_print */
static void
missing_print(bool json, const struct qset *s)
{
	size_t i;

	if (json) {
		fputs(",\"not_found\":[", stdout);
		for (i = 0; i < s->nmissing; i++) {
			if (i > 0)
				fputc(',', stdout);
			ctl_json_str(stdout, s->missing[i]);
		}
		fputc(']', stdout);
		return;
	}
	if (s->nmissing == 0)
		return;
	printf(", %zu not found:", s->nmissing);
	for (i = 0; i < s->nmissing; i++)
		printf(" %s", s->missing[i]);
}

/*
 * summary - the last line of a release or delete of several rows: "released
 * 3, 1 not found: q123, 1 refused: 7" (text) or one JSON object; returns
 * the exit code: 0 when every row named was done, else the first failure's
 * code, 65 when IDs were not found, 71 when out of memory.
 */
static int
summary(const struct ctl *c, bool release, const struct qset *s,
    const struct qtally *t)
{
	const char *verb = release ? "released" : "deleted";

	if (c->json) {
		printf("{\"%s\":%zu", verb, t->done.n);
		idl_print(true, "ids", NULL, &t->done);
		if (!release)
			printf(",\"spool_files\":%zu,\"missing_files\":%zu",
			    t->files, t->missing);
	} else {
		printf("%s %zu", verb, t->done.n);
		if (!release && (t->files > 0 || t->missing > 0))
			printf(" (%zu spool file%s removed, %zu missing)",
			    t->files, t->files == 1 ? "" : "s", t->missing);
	}
	missing_print(c->json, s);
	idl_print(c->json, "refused", "refused", &t->refused);
	idl_print(c->json, "failed", "failed", &t->failed);
	if (c->json)
		printf(",\"untried\":%zu}\n", t->untried);
	else if (t->untried > 0)
		printf(", %zu not tried\n", t->untried);
	else
		fputc('\n', stdout);
	if (t->nomem)
		return EX_OSERR;
	if (t->rc != EX_OK)
		return t->rc;
	return s->nmissing > 0 ? EX_DATAERR : EX_OK;
}

/*
 * q_act - quarantine release|delete (IDs | - | ALL | filters) [--force]:
 * each row selected once, in id order.  One row ID alone prints as before
 * (a line, or the row's JSON object) and exits with its code; anything
 * else adds the summary.  A database failure stops at that row: the rest
 * are counted "not tried".
 */
static int
q_act(struct ctl *c, int argc, char **argv, bool release)
{
	const char *verb = release ? "release" : "delete";
	struct qtally t;
	struct spool_gone g = { false, false };
	enum rowout out;
	bool deleted = false;
	struct qopts o;
	struct qset s;
	size_t i;
	int first, rc;

	memset(&t, 0, sizeof(t));
	if ((rc = qsel_parse(argc, argv, QOPT_FILTERS | (release ?
	    QOPT(QOPT_FORCE) : 0), &o, &first)) != 0)
		return rc;
	/* queue IDs, filters and ALL release the rows still held */
	if ((rc = qsel_select(c, verb, argv + first, argc - first, &o,
	    release, &s)) != EX_OK)
		goto out;
	out = !c->json ? ROW_TEXT : s.single ? ROW_JSON : ROW_NONE;
	for (i = 0; i < s.n; i++) {
		rc = release ? release_row(c, &s.row[i], o.force, out) :
		    delete_row(c, &s.row[i], out, &g, &deleted);
		if (!release) {
			t.files += g.removed && !g.missing ? 1 : 0;
			t.missing += g.missing ? 1 : 0;
		}
		if (rc == EX_OK || deleted)
			idl_add(&t, &t.done, s.row[i].id);
		else if (rc == EX_DATAERR && release)
			idl_add(&t, &t.refused, s.row[i].id);
		else
			idl_add(&t, &t.failed, s.row[i].id);
		if (rc != EX_OK && t.rc == EX_OK)
			t.rc = rc;
		if (rc == EX_TEMPFAIL || rc == EX_SOFTWARE) {
			t.untried = s.n - i - 1;
			break;
		}
	}
	rc = s.single ? t.rc : summary(c, release, &s, &t);
out:
	free(t.done.v);
	free(t.refused.v);
	free(t.failed.v);
	qset_free(&s);
	return rc;
}

/* q_release - quarantine release ... */
static int
q_release(struct ctl *c, int argc, char **argv)
{
	return q_act(c, argc, argv, true);
}

/* q_delete - quarantine delete ... */
static int
q_delete(struct ctl *c, int argc, char **argv)
{
	return q_act(c, argc, argv, false);
}

/* purge_orphans - remove spool files older than cutoff that no row names
 * (left by a crash between the spool write and the row insert); count in
 * *n_r */
static int
purge_orphans(struct ctl *c, time_t cutoff, size_t *n_r)
{
	struct dirent *de;
	struct stat sb;
	struct spool_gone g;
	size_t len;
	DIR *d;
	int rc = EX_OK, dfd;

	if ((d = opendir(c->cfg->quarantine_dir)) == NULL) {
		if (errno == ENOENT)
			return EX_OK;
		fprintf(stderr, "optinctl quarantine purge: %s: %s\n",
		    c->cfg->quarantine_dir, strerror(errno));
		return EX_IOERR;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (!quarantine_name_ok(de->d_name) || len < 5 ||
		    strcmp(de->d_name + len - 4, ".eml") != 0)
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode) || sb.st_mtime >= cutoff)
			continue;
		if ((rc = ctl_spool_remove(c, de->d_name, &g)) != EX_OK)
			break;
		if (g.removed && !g.missing)
			(*n_r)++;
	}
	(void)closedir(d);
	return rc;
}

/*
 * purge_rows - delete the rows of s in one transaction, each with its audit
 * event; gone[i] says whether row i was deleted (a row removed meanwhile
 * by another optinctl is not counted).  EX_OK or an exit code after
 * printing why; nothing is deleted then.
 */
static int
purge_rows(struct ctl *c, const struct qset *s, long age, bool *gone,
    size_t *n_r)
{
	enum store_status rs;
	char why[512], extra[40];
	size_t i;
	int rc;

	*n_r = 0;
	snprintf(extra, sizeof(extra), "older_than=%lds", age);
	rs = store_begin(c->st, why, sizeof(why));
	for (i = 0; rs == STORE_OK && i < s->n; i++) {
		rs = store_quarantine_del(c->st, s->row[i].id, why,
		    sizeof(why));
		if (rs == STORE_NOTFOUND) {
			rs = STORE_OK;
			continue;
		}
		if (rs == STORE_OK)
			rs = audit(c, &s->row[i], "quarantine_purged", extra,
			    why, sizeof(why));
		gone[i] = rs == STORE_OK;
	}
	/* the split hand-over records go after their own fixed time */
	if (rs == STORE_OK)
		rs = store_handover_purge(c->st, time(NULL) -
		    STORE_HANDOVER_KEEP, NULL, why, sizeof(why));
	if ((rc = ctl_tx_end(c, rs, why, sizeof(why))) != EX_OK)
		return rc;
	for (i = 0; i < s->n; i++)
		*n_r += gone[i] ? 1 : 0;
	return EX_OK;
}

/*
 * q_purge - quarantine purge [--older-than AGE]: the rows received before
 * now - AGE (QuarantineRetention), then their spool files once no row names
 * them, then orphan spool files.  Counts what was really removed: a row
 * whose spool file was already missing is counted as a row and reported
 * (warning on stderr, "missing_files"), not as a file removed.
 */
static int
q_purge(struct ctl *c, int argc, char **argv)
{
	static char *all[] = { "ALL" };
	struct spool_gone g;
	struct qopts o;
	struct qset s;
	size_t i, rows = 0, files = 0, missing = 0, orphans = 0;
	time_t cutoff;
	bool *gone = NULL;
	long age;
	int first, rc, rc2;

	if ((rc = qsel_parse(argc, argv, QOPT(QOPT_OLDER), &o, &first)) != 0)
		return rc;
	if (first != argc)
		return ctl_usage("quarantine");
	age = o.older >= 0 ? o.older : c->cfg->quarantine_retention;
	cutoff = time(NULL) - age;
	o.f.before = cutoff;
	if ((rc = qsel_select(c, "purge", all, 1, &o, false, &s)) != EX_OK)
		goto out;
	if (s.n > 0 && (gone = calloc(s.n, sizeof(*gone))) == NULL) {
		fprintf(stderr, "optinctl quarantine purge: out of memory\n");
		rc = EX_OSERR;
		goto out;
	}
	if ((rc = purge_rows(c, &s, age, gone, &rows)) != EX_OK)
		goto out;
	for (i = 0; i < s.n; i++) {
		if (!gone[i])
			continue;
		rc2 = ctl_spool_remove(c, s.row[i].row.spool_file, &g);
		if (rc2 != EX_OK && rc == EX_OK)
			rc = rc2;
		files += g.removed && !g.missing ? 1 : 0;
		if (g.missing) {
			missing++;
			fprintf(stderr, "optinctl quarantine purge: warning: "
			    "row %lld: spool file %s was already missing\n",
			    s.row[i].id, s.row[i].row.spool_file);
		}
	}
	rc2 = purge_orphans(c, cutoff, &orphans);
	if (rc2 != EX_OK && rc == EX_OK)
		rc = rc2;
	if (c->json)
		printf("{\"older_than\":%ld,\"rows\":%zu,\"spool_files\":%zu,"
		    "\"missing_files\":%zu,\"orphan_files\":%zu}\n", age, rows,
		    files, missing, orphans);
	else {
		printf("purged %zu row%s older than %lds, removed %zu spool "
		    "file%s and %zu orphan%s", rows, rows == 1 ? "" : "s",
		    age, files, files == 1 ? "" : "s", orphans,
		    orphans == 1 ? "" : "s");
		if (missing > 0)
			printf("; %zu spool file%s already missing", missing,
			    missing == 1 ? " was" : "s were");
		fputc('\n', stdout);
	}
out:
	free(gone);
	qset_free(&s);
	return rc;
}

int
ctl_quarantine(struct ctl *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct ctl *, int, char **);
	} sub[] = {
		{ "list", q_list }, { "ls", q_list }, { "show", q_show },
		{ "release", q_release }, { "delete", q_delete },
		{ "purge", q_purge },
	};
	size_t i;

	if (argc >= 2)
		for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
			if (strcmp(argv[1], sub[i].name) == 0)
				return sub[i].fn(c, argc - 1, argv + 1);
	return ctl_usage(argv[0]);
}
