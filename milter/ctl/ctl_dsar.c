/*
 * ctl_dsar.c - optinctl verbs for data-subject rights: history ADDR,
 * export ADDR (access: everything held on a person, as JSON) and forget ADDR
 * (erasure) (DESIGN "optinctl", "Consent model").
 *
 * forget deletes the person's subscriptions, consent events, suppression
 * and quarantine rows, and keeps one suppression with reason "erased" whose
 * address is the erased form of the address (store_erased_form: a keyed
 * hash with the ErasureKeyFile key, which forget creates when missing),
 * plus one "erased" event under it, so that the address stays blocked and
 * no subscribe or import brings it back without fresh evidence
 * (reconsent.h), while the plain address is held nowhere:
 *
 *	database	rows deleted with secure_delete on, then a TRUNCATE
 *			checkpoint (store_checkpoint); when a reader keeps it
 *			from completing, forget fails with 75 and claims
 *			nothing, and running it again finishes the job
 *	spool		the person's spool files that no other row names are
 *			removed; every other spool file, orphans included, is
 *			rewritten without the address (quarantine_scrub: the
 *			A-label and U-label forms, any ASCII case, become
 *			erased@invalid, in headers and body); temp files that
 *			hold it are removed (a temp file is never the only
 *			copy: the milter tempfails when its rename fails)
 *	logs		only LogAddresses hash or no keep it out (logaddr.h);
 *			syslog written before is out of reach
 *
 * The lookups of history, export and status find the erased form too.
 * Single-threaded; spool names are checked with quarantine_name_ok() before
 * a file in QuarantineDir is touched.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>

#include "addr.h"
#include "config.h"
#include "consent.h"
#include "ctl.h"
#include "logaddr.h"
#include "quarantine.h"
#include "store.h"

#define SOURCE_MAX	64
#define EVIDENCE_MAX	1024

/* Rows of one person, collected from the store callbacks. */
struct person {
	const struct ctl *c;
	int n;				/* items printed in the current array */
	char **spool;			/* owned: distinct spool file names */
	size_t nspool;
};

/*
 * person_begin - the verb takes exactly ADDR and no options: normalise it
 * into addr, open a read snapshot of the store, and set *hash_r to the
 * erased form kept of addr (store_erased), or NULL when it was not erased.
 * EX_OK, or an exit code after printing why.
 */
static int
person_begin(struct ctl *c, int argc, char **argv, char addr[ADDR_MAX + 1],
    char h[STORE_HASH_MAX], const char **hash_r)
{
	enum store_status rs;
	char why[512];

	if (argc != 2 || argv[1][0] == '-')
		return ctl_usage(argv[0]);
	(void)ctl_addr(argv[1], addr);
	(void)ctl_store(c, STORE_READONLY);
	if ((rs = store_begin_read(c->st, why, sizeof(why))) != STORE_OK)
		return ctl_fail(rs, why);
	rs = store_erased(c->st, ctl_erasure(c, argv[0]), addr, h, why,
	    sizeof(why));
	*hash_r = rs == STORE_OK ? h : NULL;
	if (rs != STORE_OK && rs != STORE_NOTFOUND) {
		store_rollback(c->st);
		return ctl_fail(rs, why);
	}
	return EX_OK;
}

/* json_event - one consent event as a JSON object */
static void
json_event(const struct store_event *e)
{
	printf("{\"id\":%lld,\"list\":", e->id);
	ctl_json_str(stdout, e->list);
	fputs(",\"event\":", stdout);
	ctl_json_str(stdout, e->event);
	fputs(",\"source\":", stdout);
	ctl_json_str(stdout, e->source);
	fputs(",\"evidence\":", stdout);
	ctl_json_str(stdout, e->evidence);
	fputs(",\"remote_addr\":", stdout);
	ctl_json_str(stdout, e->remote_addr);
	fputs(",\"user_agent\":", stdout);
	ctl_json_str(stdout, e->user_agent);
	printf(",\"occurred_at\":%lld}", (long long)e->occurred_at);
}

/* event_one - print one consent event (history, export) */
static int
event_one(const struct store_event *e, void *arg)
{
	struct person *p = arg;
	char t[32];

	if (p->c->json) {
		fputs(p->n > 0 ? "," : "", stdout);
		json_event(e);
	} else {
		printf("%s %s %s source=", ctl_iso_time(e->occurred_at, t),
		    e->list != NULL ? e->list : "-", e->event);
		ctl_put_text(stdout, e->source);
		if (e->evidence != NULL) {
			fputs(" evidence=\"", stdout);
			ctl_put_text(stdout, e->evidence);
			fputc('"', stdout);
		}
		if (e->remote_addr != NULL) {
			fputs(" remote=", stdout);
			ctl_put_text(stdout, e->remote_addr);
		}
		if (e->user_agent != NULL) {
			fputs(" agent=\"", stdout);
			ctl_put_text(stdout, e->user_agent);
			fputc('"', stdout);
		}
		fputc('\n', stdout);
	}
	p->n++;
	return 0;
}

/* person_events - print the consent events of addr, then those under its
 * erased form hash (may be NULL): an erased address has only its "erased"
 * event, under the hash */
static enum store_status
person_events(struct ctl *c, const char *addr, const char *hash,
    struct person *p, char *why, size_t whylen)
{
	enum store_status rs;

	rs = store_events(c->st, addr, event_one, p, why, whylen);
	if (rs == STORE_OK && hash != NULL)
		rs = store_events(c->st, hash, event_one, p, why, whylen);
	return rs;
}

int
ctl_history(struct ctl *c, int argc, char **argv)
{
	struct person p = { c, 0, NULL, 0 };
	char addr[ADDR_MAX + 1], h[STORE_HASH_MAX], why[512];
	enum store_status rs;
	const char *hash;
	int rc;

	if ((rc = person_begin(c, argc, argv, addr, h, &hash)) != EX_OK)
		return rc;
	if (c->json) {
		fputs("{\"address\":", stdout);
		ctl_json_str(stdout, addr);
		fputs(",\"events\":[", stdout);
	}
	rs = person_events(c, addr, hash, &p, why, sizeof(why));
	store_rollback(c->st);
	if (c->json)
		fputs("]}\n", stdout);
	else if (rs == STORE_OK && p.n == 0)
		printf("no consent events for %s\n", addr);
	return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
}

/* sub_one - one subscription as a JSON object (export) */
static int
sub_one(const struct store_sub *s, void *arg)
{
	struct person *p = arg;

	fputs(p->n > 0 ? "," : "", stdout);
	fputs("{\"list\":", stdout);
	ctl_json_str(stdout, s->list);
	printf(",\"state\":\"%s\",\"source\":", sub_status_str(s->status));
	ctl_json_str(stdout, s->source);
	printf(",\"updated_at\":%lld}", (long long)s->updated_at);
	p->n++;
	return 0;
}

/* fbrow_one - print one bounce or complaint report about the person
 * (export) */
static int
fbrow_one(const struct store_fbrow *r, void *arg)
{
	struct person *p = arg;

	fputs(p->n++ > 0 ? "," : "", stdout);
	ctl_fbrow_json(r);
	return 0;
}

/* qrow_one - print one quarantine row (export) */
static int
qrow_one(const struct store_qrow *q, void *arg)
{
	struct person *p = arg;

	fputs(p->n > 0 ? ",{" : "{", stdout);
	ctl_qrow_json_fields(q);
	fputc('}', stdout);
	p->n++;
	return 0;
}

/* print_suppression - "suppression": {...} or null for key */
static enum store_status
print_suppression(struct store *st, const char *key, bool *found_r,
    char *why, size_t whylen)
{
	enum store_status rs;
	char reason[32];
	time_t since = 0;

	rs = store_suppression(st, key, reason, sizeof(reason), &since, why,
	    whylen);
	if (rs == STORE_NOTFOUND) {
		*found_r = false;
		return STORE_OK;
	}
	if (rs != STORE_OK)
		return rs;
	*found_r = true;
	fputs("{\"reason\":", stdout);
	ctl_json_str(stdout, reason);
	printf(",\"created_at\":%lld}", (long long)since);
	return STORE_OK;
}

int
ctl_export(struct ctl *c, int argc, char **argv)
{
	struct person p = { c, 0, NULL, 0 };
	struct store_qfilter f = { 0 };
	char addr[ADDR_MAX + 1], h[STORE_HASH_MAX], why[512];
	char shown[LOGADDR_MAX];
	enum store_status rs;
	const char *hash;
	bool found = false, erased = false;
	bool json = c->json;
	int rc;

	if ((rc = person_begin(c, argc, argv, addr, h, &hash)) != EX_OK)
		return rc;
	c->json = true;			/* export is JSON always */
	fputs("{\"address\":", stdout);
	ctl_json_str(stdout, addr);
	/* how the product's own logs name this person (LogAddresses) */
	fputs(",\"log_as\":", stdout);
	ctl_json_str(stdout, logaddr(c->cfg->log_addresses, ctl_ring(c, why,
	    sizeof(why)), addr, shown));
	printf(",\"exported_at\":%lld,\"suppression\":", (long long)time(NULL));
	rs = print_suppression(c->st, addr, &found, why, sizeof(why));
	if (rs == STORE_OK && !found && hash != NULL) {
		rs = print_suppression(c->st, hash, &erased, why,
		    sizeof(why));
		found = erased;
	}
	if (rs != STORE_OK)
		goto out;
	if (!found)
		fputs("null", stdout);
	printf(",\"erased\":%s,\"subscriptions\":[", erased ? "true" :
	    "false");
	p.n = 0;
	rs = store_subscriptions(c->st, addr, sub_one, &p, why, sizeof(why));
	if (rs != STORE_OK)
		goto out;
	fputs("],\"events\":[", stdout);
	p.n = 0;
	rs = person_events(c, addr, hash, &p, why, sizeof(why));
	if (rs != STORE_OK)
		goto out;
	fputs("],\"quarantine\":[", stdout);
	p.n = 0;
	f.recipient = addr;
	rs = store_quarantine_ls(c->st, &f, qrow_one, &p, why, sizeof(why));
	if (rs != STORE_OK)
		goto out;
	fputs("],\"feedback\":[", stdout);
	p.n = 0;
	rs = store_feedback_ls(c->st, addr, 0, false, fbrow_one, &p, why,
	    sizeof(why));
	if (rs != STORE_OK)
		goto out;
	fputs("]}\n", stdout);
out:
	c->json = json;
	store_rollback(c->st);
	if (rs != STORE_OK) {
		fputs("\n", stdout);
		return ctl_fail(rs, why);
	}
	return EX_OK;
}

/* spool_add - quarantine_ls callback: remember a distinct spool name */
static int
spool_add(const struct store_qrow *q, void *arg)
{
	struct person *p = arg;
	char **v;
	size_t i;

	for (i = 0; i < p->nspool; i++)
		if (strcmp(p->spool[i], q->row.spool_file) == 0)
			return 0;
	if ((v = realloc(p->spool, (p->nspool + 1) * sizeof(*v))) == NULL)
		return 1;
	p->spool = v;
	if ((v[p->nspool] = strdup(q->row.spool_file)) == NULL)
		return 1;
	p->nspool++;
	return 0;
}

/* spool_free - free the collected names */
static void
spool_free(struct person *p)
{
	size_t i;

	for (i = 0; i < p->nspool; i++)
		free(p->spool[i]);
	free(p->spool);
	p->spool = NULL;
	p->nspool = 0;
}

int
ctl_spool_remove(struct ctl *c, const char *name, struct spool_gone *g_r)
{
	char path[4096], why[512];
	enum store_status rs;
	long long refs = 0;

	g_r->removed = g_r->missing = false;
	if (!quarantine_name_ok(name)) {
		fprintf(stderr, "optinctl: warning: bad spool file name in "
		    "the quarantine table, not touched\n");
		return EX_DATAERR;
	}
	if ((rs = store_spool_refs(c->st, name, &refs, why, sizeof(why))) !=
	    STORE_OK)
		return ctl_fail(rs, why);
	if (refs > 0)
		return EX_OK;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s",
	    c->cfg->quarantine_dir, name) >= sizeof(path))
		return EX_SOFTWARE;
	if (unlink(path) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "optinctl: cannot remove %s: %s\n",
			    path, strerror(errno));
			return EX_IOERR;
		}
		g_r->missing = true;
	}
	g_r->removed = true;
	return EX_OK;
}

/* What forget did in QuarantineDir. */
struct spool_counts {
	size_t removed;			/* the person's own files */
	size_t rewritten;		/* files of others, or orphans */
	size_t temps;			/* temp files removed */
};

/* dir_names - the names in QuarantineDir, read before any is changed
 * (renames during readdir may show a name twice or not at all); NULL with
 * *n_r 0 for a missing directory; -1 after printing why */
static int
dir_names(const struct ctl *c, char ***names_r, size_t *n_r)
{
	struct dirent *de;
	char **v;
	DIR *d;

	*names_r = NULL;
	*n_r = 0;
	if ((d = opendir(c->cfg->quarantine_dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "optinctl forget: %s: %s\n",
		    c->cfg->quarantine_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((v = realloc(*names_r, (*n_r + 1) * sizeof(*v))) == NULL ||
		    (v[*n_r] = strdup(de->d_name)) == NULL) {
			if (v != NULL)
				*names_r = v;
			(void)closedir(d);
			fprintf(stderr, "optinctl forget: out of memory\n");
			return -1;
		}
		*names_r = v;
		(*n_r)++;
	}
	(void)closedir(d);
	return 0;
}

/* temp_forget - remove the temp file name of dfd when it holds forms;
 * EX_OK or an exit code after printing why */
static int
temp_forget(const struct ctl *c, int dfd, const char *name,
    const char *const *forms, size_t nforms, struct spool_counts *n)
{
	char why[512];
	int held;

	if ((held = quarantine_holds(dfd, name, forms, nforms, why,
	    sizeof(why))) == 0)
		return EX_OK;
	if (held > 0 && unlinkat(dfd, name, 0) == 0) {
		n->temps++;
		return EX_OK;
	}
	if (held > 0 && errno == ENOENT)
		return EX_OK;		/* renamed or removed meanwhile */
	if (held < 0 && faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return EX_OK;
	fprintf(stderr, "optinctl forget: %s/%s: %s\n",
	    c->cfg->quarantine_dir, name, held < 0 ? why : strerror(errno));
	return EX_IOERR;
}

/*
 * spool_forget - QuarantineDir without the person of forms: every spool
 * file is searched, since rows of other people (or none, for an orphan)
 * may name a message that was also addressed to the person; one that holds
 * the person is rewritten without it (quarantine_scrub), a temp file that
 * holds it is removed.  EX_OK or the first failure's exit code (it goes on
 * with the other files).
 */
static int
spool_forget(const struct ctl *c, const char *const *forms, size_t nforms,
    struct spool_counts *n)
{
	char **names = NULL, why[512];
	size_t i, count = 0;
	bool changed;
	int dfd = -1, rc = EX_OK, rc2;

	if (dir_names(c, &names, &count) < 0)
		rc = EX_IOERR;
	else if (count > 0 && (dfd = open(c->cfg->quarantine_dir, O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "optinctl forget: %s: %s\n",
		    c->cfg->quarantine_dir, strerror(errno));
		rc = EX_IOERR;
	}
	for (i = 0; dfd >= 0 && i < count; i++) {
		rc2 = EX_OK;
		if (strncmp(names[i], QUARANTINE_TMP_PREFIX,
		    strlen(QUARANTINE_TMP_PREFIX)) == 0)
			rc2 = temp_forget(c, dfd, names[i], forms, nforms, n);
		else if (quarantine_name_ok(names[i])) {
			if (quarantine_scrub(c->cfg->quarantine_dir, names[i],
			    forms, nforms, &changed, why, sizeof(why)) < 0 &&
			    faccessat(dfd, names[i], F_OK,
			    AT_SYMLINK_NOFOLLOW) == 0) {
				fprintf(stderr, "optinctl forget: %s\n", why);
				rc2 = EX_IOERR;
			} else if (changed)
				n->rewritten++;
		}
		if (rc2 != EX_OK && rc == EX_OK)
			rc = rc2;
	}
	if (dfd >= 0)
		(void)close(dfd);
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}

enum { OPT_SOURCE = 1, OPT_EVIDENCE };

static const struct option forget_opts[] = {
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "evidence", required_argument, NULL, OPT_EVIDENCE },
	{ NULL, 0, NULL, 0 }
};

/* forget_args - options and ADDR of forget into ev and addr (with its
 * U-label form in uaddr); EX_OK or an exit code after printing why */
static int
forget_args(int argc, char **argv, struct consent_event *ev,
    char addr[ADDR_MAX + 1], char *uaddr, size_t ulen)
{
	char why[256];
	int ch;

	ev->source = "optinctl";
	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", forget_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_SOURCE:
			ev->source = optarg;
			break;
		case OPT_EVIDENCE:
			ev->evidence = optarg;
			break;
		default:
			return ctl_bad_option("forget", ch, argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage(argv[0]);
	if (*ev->source == '\0' || !ctl_text_ok(ev->source, SOURCE_MAX)) {
		fprintf(stderr, "optinctl forget: bad --source (1 to %d "
		    "printable characters)\n", SOURCE_MAX);
		return EX_DATAERR;
	}
	if (ev->evidence != NULL && !ctl_text_ok(ev->evidence, EVIDENCE_MAX)) {
		fprintf(stderr, "optinctl forget: bad --evidence (at most %d "
		    "printable characters)\n", EVIDENCE_MAX);
		return EX_DATAERR;
	}
	(void)ctl_addr(argv[optind], addr);
	/* only a mailbox: a string shaped like anything else (a marker's
	 * data, say) is no person to erase */
	if (addr_mailbox_check(addr, why, sizeof(why)) < 0) {
		fprintf(stderr, "optinctl forget: not a mailbox address: "
		    "%s\n", why);
		return EX_DATAERR;
	}
	if (addr_to_unicode(addr, uaddr, ulen, why, sizeof(why)) < 0)
		snprintf(uaddr, ulen, "%s", addr);
	/* the erase event must not hold the address it erases */
	if ((ev->evidence != NULL && (strcasestr(ev->evidence, addr) != NULL
	    || strcasestr(ev->evidence, uaddr) != NULL)) ||
	    strcasestr(ev->source, addr) != NULL ||
	    strcasestr(ev->source, uaddr) != NULL) {
		fprintf(stderr, "optinctl forget: --source and --evidence "
		    "must not contain the address\n");
		return EX_DATAERR;
	}
	return EX_OK;
}

/* forget_print - the result, once everything is done */
static void
forget_print(const struct ctl *c, const char *addr, const char *h,
    const struct store_forget_counts *n, const struct spool_counts *sp)
{
	if (c->json) {
		fputs("{\"address\":", stdout);
		ctl_json_str(stdout, addr);
		printf(",\"erased\":true,\"suppression\":\"%s\","
		    "\"deleted\":{\"subscriptions\":%lld,\"events\":%lld,"
		    "\"quarantine\":%lld,\"suppressions\":%lld,"
		    "\"spool_files\":%zu,\"temp_files\":%zu},"
		    "\"rewritten\":{\"spool_files\":%zu}}\n", h,
		    n->subscriptions, n->events, n->quarantine,
		    n->suppressions, sp->removed, sp->temps, sp->rewritten);
		return;
	}
	printf("erased %s: subscriptions=%lld events=%lld quarantine=%lld "
	    "suppressions=%lld spool_files=%zu temp_files=%zu\n", addr,
	    n->subscriptions, n->events, n->quarantine, n->suppressions,
	    sp->removed, sp->temps);
	if (sp->rewritten > 0)
		printf("rewritten without it: %zu spool file%s of other "
		    "recipients (as %s)\n", sp->rewritten, sp->rewritten == 1 ?
		    "" : "s", QUARANTINE_ERASED);
	printf("%s stays blocked (suppressed=erased, kept as a keyed "
	    "hash)\n", addr);
}

int
ctl_forget(struct ctl *c, int argc, char **argv)
{
	struct person p = { c, 0, NULL, 0 };
	struct consent_event ev = { 0 };
	struct store_forget_counts n = { 0 };
	struct spool_counts sp = { 0, 0, 0 };
	struct store_qfilter f = { 0 };
	char addr[ADDR_MAX + 1], uaddr[ADDR_MAX * 4 + 1];
	char h[STORE_HASH_MAX], why[512];
	const char *forms[2];
	enum store_status rs;
	size_t i;
	struct spool_gone gone;
	bool created;
	int rc, rc2;

	if ((rc = forget_args(argc, argv, &ev, addr, uaddr, sizeof(uaddr))) !=
	    EX_OK)
		return rc;
	(void)ctl_store(c, 0);
	if ((rc = ctl_erasure_ready(c, "forget", &created)) != EX_OK)
		return rc;
	if (created)
		fprintf(stderr, "optinctl forget: created ErasureKeyFile %s: "
		    "restart optin-milter so that it loads it (until then "
		    "it handles campaign mail as OnDBError says)\n",
		    c->cfg->erasure_key_file);
	if (store_erased_form(&c->er, addr, h) < 0) {
		fprintf(stderr, "optinctl forget: cannot compute the erased "
		    "form\n");
		return EX_SOFTWARE;
	}
	f.recipient = addr;
	rs = store_quarantine_ls(c->st, &f, spool_add, &p, why, sizeof(why));
	if (rs == STORE_OK)
		rs = store_forget(c->st, addr, h, &ev, &n, why, sizeof(why));
	if (rs != STORE_OK) {
		spool_free(&p);
		return ctl_fail(rs, why);
	}
	for (i = 0; i < p.nspool; i++) {
		rc2 = ctl_spool_remove(c, p.spool[i], &gone);
		if (rc2 != EX_OK && rc == EX_OK)
			rc = rc2;
		sp.removed += gone.removed ? 1 : 0;
	}
	spool_free(&p);
	forms[0] = addr;
	forms[1] = uaddr;
	rc2 = spool_forget(c, forms, strcmp(addr, uaddr) != 0 ? 2 : 1, &sp);
	if (rc2 != EX_OK && rc == EX_OK)
		rc = rc2;
	/* last, so that readers had the spool work's time to finish */
	if ((rs = store_checkpoint(c->st, why, sizeof(why))) != STORE_OK) {
		fprintf(stderr, "optinctl forget: %s\n", why);
		if (rc == EX_OK)
			rc = ctl_exit_code(rs);
	}
	if (rc != EX_OK) {
		fprintf(stderr, "optinctl forget: %s is not erased yet: its "
		    "rows are deleted, but copies remain (see above); run "
		    "forget again\n", addr);
		return rc;
	}
	forget_print(c, addr, h, &n, &sp);
	return EX_OK;
}
