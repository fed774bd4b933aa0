/*
 * ctl_quarantine.c - optinctl verb "quarantine": list, show, release,
 * delete and purge quarantined messages (DESIGN "optinctl", "Message flow"
 * step 3).
 *
 *	list [--reason R] [--list L] [--sender S] [--older-than AGE] [--all]
 *	show ID			the row, the decision now, the spool headers
 *	release ID [--force]	re-check consent (store_lookup2); refuse unless
 *				the decision is deliver or --force; re-inject
 *				with SendmailCommand (resubmit_message) to the
 *				row's recipient from its sender; mark released
 *	delete ID		the row, and its spool file once unreferenced
 *	purge [--older-than AGE] rows older than AGE (QuarantineRetention),
 *				unreferenced spool files, and orphan spool
 *				files (no row) older than AGE
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
#include "mark.h"
#include "quarantine.h"
#include "resubmit.h"
#include "store.h"
#include "token.h"

#define SPOOL_MAX	(64L * 1024 * 1024)	/* largest message released */
#define HEADERS_MAX	(256 * 1024)		/* header bytes shown */

enum {
	OPT_REASON = 1, OPT_LIST, OPT_SENDER, OPT_OLDER, OPT_ALL, OPT_FORCE
};

static const struct option q_opts[] = {
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "list", required_argument, NULL, OPT_LIST },
	{ "sender", required_argument, NULL, OPT_SENDER },
	{ "older-than", required_argument, NULL, OPT_OLDER },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ NULL, 0, NULL, 0 }
};

/* Options of the subverbs; which are allowed is checked per subverb. */
struct qopts {
	struct store_qfilter f;
	long older;			/* --older-than, seconds; -1: unset */
	bool all, force;
	unsigned seen;			/* bit per OPT_* given */
	char sender[ADDR_MAX + 1];
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

/* parse - options after the subverb; argv[0] is the subverb.  Returns 0
 * and *first_r, or an exit code after printing why. */
static int
parse(int argc, char **argv, unsigned allowed, struct qopts *o,
    int *first_r)
{
	char why[256];
	int ch;

	memset(o, 0, sizeof(*o));
	o->older = -1;
	o->f.held_only = true;
	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", q_opts, NULL)) != -1) {
		if (ch == ':') {
			fprintf(stderr, "optinctl quarantine: option '%s' "
			    "needs a value\n", argv[optind - 1]);
			return ctl_usage("quarantine");
		}
		if (ch == '?' || (allowed & (1u << ch)) == 0) {
			fprintf(stderr, "optinctl quarantine %s: unknown "
			    "option '%s'\n", argv[0], argv[optind - 1]);
			return ctl_usage("quarantine");
		}
		o->seen |= 1u << ch;
		switch (ch) {
		case OPT_REASON:
			if (!quarantine_reason_ok(optarg))
				return bad_reason(optarg);
			o->f.reason = optarg;
			break;
		case OPT_LIST:
			o->f.list = optarg;
			break;
		case OPT_SENDER:
			if (addr_normalize(optarg, o->sender,
			    sizeof(o->sender), why, sizeof(why)) < 0) {
				/* the null sender or a raw one: as given */
				snprintf(o->sender, sizeof(o->sender), "%s",
				    optarg);
			}
			o->f.sender = o->sender;
			break;
		case OPT_OLDER:
			if (ctl_parse_age(optarg, &o->older) < 0) {
				fprintf(stderr, "optinctl quarantine: bad "
				    "--older-than '%s' (e.g. 3600, 12h, 30d, "
				    "2w)\n", optarg);
				return EX_USAGE;
			}
			break;
		case OPT_ALL:
			o->all = true;
			o->f.held_only = false;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		}
	}
	*first_r = optind;
	return 0;
}

/* parse_id - a row id: a positive decimal number */
static int
parse_id(const char *s, long long *id_r)
{
	char *end;

	if (*s < '1' || *s > '9')
		return -1;
	errno = 0;
	*id_r = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

struct qlist_ctx {
	const struct ctl *c;
	int n;
	struct store_qrow *copy;	/* for get_row: one row, owned */
	char *strs[8];			/* its strings, owned */
};

/* qrow_text - one row as a text line */
static void
qrow_text(const struct store_qrow *q)
{
	char t[32];

	printf("%-6lld %s %-15s %-12s <", q->id,
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
	struct qlist_ctx x = { c, 0, NULL, { NULL } };
	enum store_status rs;
	struct qopts o;
	char why[512];
	int first, rc;

	if ((rc = parse(argc, argv, 1u << OPT_REASON | 1u << OPT_LIST |
	    1u << OPT_SENDER | 1u << OPT_OLDER | 1u << OPT_ALL, &o, &first))
	    != 0)
		return rc;
	if (first != argc)
		return ctl_usage("quarantine");
	if (o.older >= 0)
		o.f.before = time(NULL) - o.older;
	(void)ctl_store(c, STORE_READONLY);
	if (c->json)
		fputs("{\"quarantine\":[", stdout);
	else
		printf("%-6s %-20s %-15s %-12s %s\n", "ID", "RECEIVED",
		    "REASON", "LIST", "SENDER RECIPIENT");
	rs = store_quarantine_ls(c->st, &o.f, list_one, &x, why, sizeof(why));
	if (c->json)
		fputs("]}\n", stdout);
	return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
}

/* copy_row - get_row callback: deep copy of the one row (x->n: 1 done,
 * -1 out of memory) */
static int
copy_row(const struct store_qrow *q, void *arg)
{
	struct qlist_ctx *x = arg;
	const char *src[7] = { q->row.queue_id, q->row.message_id,
	    q->row.sender, q->row.recipient, q->row.list, q->row.reason,
	    q->row.spool_file };
	size_t i;

	x->n = -1;
	for (i = 0; i < 7; i++)
		if (src[i] != NULL && (x->strs[i] = strdup(src[i])) == NULL)
			return 1;
	if ((x->copy = calloc(1, sizeof(*x->copy))) == NULL)
		return 1;
	x->copy->id = q->id;
	x->copy->released_at = q->released_at;
	x->copy->row.received_at = q->row.received_at;
	x->copy->row.queue_id = x->strs[0];
	x->copy->row.message_id = x->strs[1];
	x->copy->row.sender = x->strs[2];
	x->copy->row.recipient = x->strs[3];
	x->copy->row.list = x->strs[4];
	x->copy->row.reason = x->strs[5];
	x->copy->row.spool_file = x->strs[6];
	x->n = 1;
	return 1;			/* one row is enough */
}

/* row_free - free what copy_row made */
static void
row_free(struct qlist_ctx *x)
{
	size_t i;

	for (i = 0; i < 8; i++) {
		free(x->strs[i]);
		x->strs[i] = NULL;
	}
	free(x->copy);
	x->copy = NULL;
}

/* get_row - the row id (in x->copy, owned by x), or an exit code after
 * printing why */
static int
get_row(struct ctl *c, const char *arg, struct qlist_ctx *x)
{
	struct store_qfilter f = { 0 };
	enum store_status rs;
	char why[512];

	if (parse_id(arg, &f.id) < 0) {
		fprintf(stderr, "optinctl quarantine: bad ID '%s' (a row "
		    "number from quarantine list)\n", arg);
		return EX_USAGE;
	}
	x->n = 0;
	rs = store_quarantine_ls(c->st, &f, copy_row, x, why, sizeof(why));
	if (rs != STORE_OK || x->n != 1) {
		row_free(x);
		if (rs != STORE_OK)
			return ctl_fail(rs, why);
		if (x->n == 0) {
			fprintf(stderr, "optinctl quarantine: no row %lld\n",
			    f.id);
			return EX_DATAERR;
		}
		fprintf(stderr, "optinctl quarantine: out of memory\n");
		return EX_OSERR;
	}
	return EX_OK;
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

/*
 * one_row - the start of show, release and delete: the options allowed,
 * exactly one ID, the store opened with store_flags (as ctl_store) and the
 * row copied into x.  EX_OK, or an exit code after printing why.
 */
static int
one_row(struct ctl *c, int argc, char **argv, unsigned allowed,
    unsigned store_flags, struct qopts *o, struct qlist_ctx *x)
{
	int first, rc;

	if ((rc = parse(argc, argv, allowed, o, &first)) != 0)
		return rc;
	if (argc - first != 1)
		return ctl_usage("quarantine");
	(void)ctl_store(c, store_flags);
	return get_row(c, argv[first], x);
}

/* q_show - quarantine show ID */
static int
q_show(struct ctl *c, int argc, char **argv)
{
	struct qlist_ctx x = { c, 0, NULL, { NULL } };
	enum consent_reason r = CONSENT_NO_CONSENT;
	const struct store_qrow *q;
	struct qopts o;
	char t[32], *hdr, *line, *nl;
	bool has_list;
	size_t len;
	int rc, hrc;

	if ((rc = one_row(c, argc, argv, 0, STORE_READONLY, &o, &x)) !=
	    EX_OK)
		return rc;
	q = x.copy;
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
	row_free(&x);
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

/* q_release - quarantine release ID [--force] */
static int
q_release(struct ctl *c, int argc, char **argv)
{
	struct qlist_ctx x = { c, 0, NULL, { NULL } };
	enum consent_reason r = CONSENT_NO_CONSENT;
	const struct store_qrow *q;
	enum store_status rs;
	struct iovec iov[2];
	struct qopts o;
	char why[512], t[32], *msg = NULL, marker[MARK_VALUE_MAX + 40];
	char extra[80];
	bool has_list, forced;
	size_t len;
	int rc;

	if ((rc = one_row(c, argc, argv, 1u << OPT_FORCE, 0, &o, &x)) !=
	    EX_OK)
		return rc;
	q = x.copy;
	if (q->released_at != 0 && !o.force) {
		fprintf(stderr, "optinctl quarantine release: row %lld was "
		    "released at %s (--force sends it again)\n", q->id,
		    ctl_iso_time(q->released_at, t));
		rc = EX_DATAERR;
		goto out;
	}
	if (strcmp(q->row.reason, "line_too_long") == 0 && !o.force) {
		/* optin-milter.conf(5): such a copy is held again */
		fprintf(stderr, "optinctl quarantine release: row %lld: held "
		    "because a line is over 998 octets, which the relay would "
		    "break after signing: the milter would hold it again "
		    "(have the sender send it re-encoded; --force tries "
		    "anyway)\n", q->id);
		rc = EX_DATAERR;
		goto out;
	}
	if ((rc = decide_now(c, q, &r, &has_list)) != EX_OK)
		goto out;
	if ((!has_list || r != CONSENT_DELIVER) && !o.force) {
		fprintf(stderr, "optinctl quarantine release: row %lld: "
		    "recipient <%s> on list %s: %s (--force releases it "
		    "anyway)\n", q->id, q->row.recipient,
		    has_list ? q->row.list : "-", has_list ?
		    consent_reason_str(r) : "no list to check consent on");
		rc = EX_DATAERR;
		goto out;
	}
	if ((msg = read_spool(c, q->row.spool_file, SPOOL_MAX, false, &len,
	    &rc)) == NULL)
		goto out;
	if (release_marker(c, q, msg, len, marker, sizeof(marker)) < 0) {
		rc = EX_CONFIG;
		goto out;
	}
	iov[0].iov_base = marker;
	iov[0].iov_len = strlen(marker);
	iov[1].iov_base = msg;
	iov[1].iov_len = len;
	(void)signal(SIGPIPE, SIG_IGN);
	if (resubmit_message(c->cfg->sendmail_command, q->row.sender !=
	    NULL ? q->row.sender : "", q->row.recipient, iov, 2, why,
	    sizeof(why)) < 0) {
		fprintf(stderr, "optinctl quarantine release: row %lld not "
		    "sent: %s\n", q->id, why);
		rc = EX_UNAVAILABLE;
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
	if (c->json) {
		printf("{\"id\":%lld,\"released\":true,\"recipient\":", q->id);
		ctl_json_str(stdout, q->row.recipient);
		fputs(",\"decision\":", stdout);
		ctl_json_str(stdout, has_list ? consent_reason_str(r) : NULL);
		printf(",\"forced\":%s}\n", forced ? "true" : "false");
	} else
		printf("released %lld to <%s>%s\n", q->id, q->row.recipient,
		    forced ? " (forced)" : "");
	rc = EX_OK;
out:
	free(msg);
	row_free(&x);
	return rc;
}

/* q_delete - quarantine delete ID */
static int
q_delete(struct ctl *c, int argc, char **argv)
{
	struct qlist_ctx x = { c, 0, NULL, { NULL } };
	enum store_status rs;
	struct qopts o;
	char why[512];
	bool removed = false;
	int rc;

	if ((rc = one_row(c, argc, argv, 0, 0, &o, &x)) != EX_OK)
		return rc;
	rs = store_begin(c->st, why, sizeof(why));
	if (rs == STORE_OK)
		rs = store_quarantine_del(c->st, x.copy->id, why, sizeof(why));
	if (rs == STORE_OK)
		rs = audit(c, x.copy, "quarantine_deleted", NULL, why,
		    sizeof(why));
	if (rs == STORE_OK)
		rs = store_commit(c->st, why, sizeof(why));
	if (rs != STORE_OK) {
		store_rollback(c->st);
		rc = ctl_fail(rs, why);
		goto out;
	}
	rc = ctl_spool_remove(c, x.copy->row.spool_file, &removed);
	if (c->json)
		printf("{\"id\":%lld,\"deleted\":true,\"spool_removed\":%s}\n",
		    x.copy->id, removed ? "true" : "false");
	else
		printf("deleted %lld%s\n", x.copy->id, removed ?
		    " (spool file removed)" : "");
out:
	row_free(&x);
	return rc;
}

/* Rows to purge, collected before anything is deleted: what the spool
 * removal and the audit events need. */
struct purge_ctx {
	struct store_qrow *row;		/* owned; strings owned */
	size_t n;
	bool nomem;
};

/* purge_add - store_quarantine_ls callback: remember one row */
static int
purge_add(const struct store_qrow *q, void *arg)
{
	struct purge_ctx *x = arg;
	struct store_qrow *v, *r;

	if ((v = realloc(x->row, (x->n + 1) * sizeof(*v))) == NULL)
		goto nomem;
	x->row = v;
	r = &v[x->n];
	memset(r, 0, sizeof(*r));
	r->id = q->id;
	if ((r->row.spool_file = strdup(q->row.spool_file)) == NULL ||
	    (r->row.recipient = strdup(q->row.recipient)) == NULL ||
	    (r->row.reason = strdup(q->row.reason)) == NULL ||
	    (q->row.list != NULL && (r->row.list = strdup(q->row.list)) ==
	    NULL) || (q->row.queue_id != NULL && (r->row.queue_id =
	    strdup(q->row.queue_id)) == NULL)) {
		x->n++;			/* freed with the others */
		goto nomem;
	}
	x->n++;
	return 0;
nomem:
	x->nomem = true;
	return 1;
}

/* purge_free - free what purge_add kept */
static void
purge_free(struct purge_ctx *x)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		free((char *)x->row[i].row.spool_file);
		free((char *)x->row[i].row.recipient);
		free((char *)x->row[i].row.reason);
		free((char *)x->row[i].row.list);
		free((char *)x->row[i].row.queue_id);
	}
	free(x->row);
	x->row = NULL;
	x->n = 0;
}

/* purge_orphans - remove spool files older than cutoff that no row names
 * (left by a crash between the spool write and the row insert); count in
 * *n_r */
static int
purge_orphans(struct ctl *c, time_t cutoff, size_t *n_r)
{
	struct dirent *de;
	struct stat sb;
	size_t len;
	bool removed;
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
		if ((rc = ctl_spool_remove(c, de->d_name, &removed)) !=
		    EX_OK)
			break;
		if (removed)
			(*n_r)++;
	}
	(void)closedir(d);
	return rc;
}

/* q_purge - quarantine purge [--older-than AGE] */
static int
q_purge(struct ctl *c, int argc, char **argv)
{
	struct purge_ctx x = { NULL, 0, false };
	enum store_status rs;
	struct qopts o;
	char why[512], extra[40];
	size_t i, files = 0, orphans = 0;
	time_t cutoff;
	long age;
	bool removed;
	int first, rc = EX_OK, rc2;

	if ((rc = parse(argc, argv, 1u << OPT_OLDER, &o, &first)) != 0)
		return rc;
	if (first != argc)
		return ctl_usage("quarantine");
	age = o.older >= 0 ? o.older : c->cfg->quarantine_retention;
	cutoff = time(NULL) - age;
	o.f.before = cutoff;
	o.f.held_only = false;
	(void)ctl_store(c, 0);
	if ((rs = store_begin(c->st, why, sizeof(why))) != STORE_OK)
		return ctl_fail(rs, why);
	rs = store_quarantine_ls(c->st, &o.f, purge_add, &x, why,
	    sizeof(why));
	if (rs == STORE_OK && x.nomem) {
		snprintf(why, sizeof(why), "out of memory");
		rs = STORE_ERROR;
	}
	snprintf(extra, sizeof(extra), "older_than=%lds", age);
	for (i = 0; rs == STORE_OK && i < x.n; i++) {
		rs = store_quarantine_del(c->st, x.row[i].id, why,
		    sizeof(why));
		if (rs == STORE_OK)
			rs = audit(c, &x.row[i], "quarantine_purged", extra,
			    why, sizeof(why));
	}
	/* the split hand-over records go after their own fixed time */
	if (rs == STORE_OK)
		rs = store_handover_purge(c->st, time(NULL) -
		    STORE_HANDOVER_KEEP, NULL, why, sizeof(why));
	if (rs == STORE_OK)
		rs = store_commit(c->st, why, sizeof(why));
	if (rs != STORE_OK) {
		store_rollback(c->st);
		rc = ctl_fail(rs, why);
		goto out;
	}
	for (i = 0; i < x.n; i++) {
		rc2 = ctl_spool_remove(c, x.row[i].row.spool_file, &removed);
		if (rc2 != EX_OK && rc == EX_OK)
			rc = rc2;
		files += removed ? 1 : 0;
	}
	rc2 = purge_orphans(c, cutoff, &orphans);
	if (rc2 != EX_OK && rc == EX_OK)
		rc = rc2;
	if (c->json)
		printf("{\"older_than\":%ld,\"rows\":%zu,\"spool_files\":%zu,"
		    "\"orphan_files\":%zu}\n", age, x.n, files, orphans);
	else
		printf("purged %zu row%s older than %lds, removed %zu spool "
		    "file%s and %zu orphan%s\n", x.n, x.n == 1 ? "" : "s",
		    age, files, files == 1 ? "" : "s", orphans,
		    orphans == 1 ? "" : "s");
out:
	purge_free(&x);
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
