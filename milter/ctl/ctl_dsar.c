/*
 * ctl_dsar.c - optinctl verbs for data-subject rights: history ADDR,
 * export ADDR (access: everything held on a person, as JSON) and forget ADDR
 * (erasure) (DESIGN "optinctl", "Consent model").
 *
 * forget deletes the person's subscriptions, consent events, suppression
 * and quarantine rows, and the spool files no other row names, and keeps
 * one suppression with reason "erased" whose address is the keyed hash of
 * the address (store_addr_hash, key from TokenKeyFile), plus one "erased"
 * event under that hash, so that the address stays blocked and a CRM
 * import cannot bring it back, while the plain address is held nowhere.
 * The lookups of history, export and status find the erased form too.
 *
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

#include "addr.h"
#include "config.h"
#include "consent.h"
#include "ctl.h"
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
 * into addr, set *hash_r to its erased form (or NULL, see
 * ctl_lookup_hash), and open a read snapshot of the store.  EX_OK, or an
 * exit code after printing why.
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
	*hash_r = ctl_lookup_hash(c, addr, h);
	(void)ctl_store(c, STORE_READONLY);
	if ((rs = store_begin_read(c->st, why, sizeof(why))) != STORE_OK)
		return ctl_fail(rs, why);
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
ctl_spool_remove(struct ctl *c, const char *name, bool *removed_r)
{
	char path[4096], why[512];
	enum store_status rs;
	long long refs = 0;

	*removed_r = false;
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
	if (unlink(path) < 0 && errno != ENOENT) {
		fprintf(stderr, "optinctl: cannot remove %s: %s\n", path,
		    strerror(errno));
		return EX_IOERR;
	}
	*removed_r = true;
	return EX_OK;
}

enum { OPT_SOURCE = 1, OPT_EVIDENCE };

static const struct option forget_opts[] = {
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "evidence", required_argument, NULL, OPT_EVIDENCE },
	{ NULL, 0, NULL, 0 }
};

int
ctl_forget(struct ctl *c, int argc, char **argv)
{
	struct person p = { c, 0, NULL, 0 };
	struct consent_event ev = { 0 };
	struct store_forget_counts n = { 0 };
	struct store_qfilter f = { 0 };
	char addr[ADDR_MAX + 1], h[STORE_HASH_MAX], why[512];
	enum store_status rs;
	size_t i, removed = 0, kept = 0;
	bool gone;
	int ch, rc = EX_OK, rc2;

	ev.source = "optinctl";
	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", forget_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_SOURCE:
			ev.source = optarg;
			break;
		case OPT_EVIDENCE:
			ev.evidence = optarg;
			break;
		default:
			return ctl_bad_option("forget", ch, argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage(argv[0]);
	if (*ev.source == '\0' || !ctl_text_ok(ev.source, SOURCE_MAX)) {
		fprintf(stderr, "optinctl forget: bad --source (1 to %d "
		    "printable characters)\n", SOURCE_MAX);
		return EX_DATAERR;
	}
	if (ev.evidence != NULL && !ctl_text_ok(ev.evidence, EVIDENCE_MAX)) {
		fprintf(stderr, "optinctl forget: bad --evidence (at most %d "
		    "printable characters)\n", EVIDENCE_MAX);
		return EX_DATAERR;
	}
	(void)ctl_addr(argv[optind], addr);
	/* the erase event must not hold the address it erases */
	if ((ev.evidence != NULL && strcasestr(ev.evidence, addr) != NULL) ||
	    strcasestr(ev.source, addr) != NULL) {
		fprintf(stderr, "optinctl forget: --source and --evidence "
		    "must not contain the address\n");
		return EX_DATAERR;
	}
	if (c->cfg->token_key_file == NULL) {
		fprintf(stderr, "optinctl forget: TokenKeyFile is not set: "
		    "the erased address is kept only as a hash keyed from "
		    "it\n");
		return EX_CONFIG;
	}
	if (ctl_addr_hash(c, addr, h, why, sizeof(why)) < 0) {
		fprintf(stderr, "optinctl forget: %s\n", why);
		return EX_UNAVAILABLE;
	}
	(void)ctl_store(c, 0);
	f.recipient = addr;
	rs = store_quarantine_ls(c->st, &f, spool_add, &p, why, sizeof(why));
	if (rs != STORE_OK) {
		spool_free(&p);
		return ctl_fail(rs, why);
	}
	rs = store_forget(c->st, addr, h, &ev, &n, why, sizeof(why));
	if (rs != STORE_OK) {
		spool_free(&p);
		return ctl_fail(rs, why);
	}
	for (i = 0; i < p.nspool; i++) {
		rc2 = ctl_spool_remove(c, p.spool[i], &gone);
		if (rc2 != EX_OK && rc == EX_OK)
			rc = rc2;
		if (gone)
			removed++;
		else
			kept++;
	}
	spool_free(&p);
	if (c->json) {
		fputs("{\"address\":", stdout);
		ctl_json_str(stdout, addr);
		printf(",\"erased\":true,\"suppression\":\"%s\","
		    "\"deleted\":{\"subscriptions\":%lld,\"events\":%lld,"
		    "\"quarantine\":%lld,\"suppressions\":%lld,"
		    "\"spool_files\":%zu},\"spool_files_kept\":%zu}\n", h,
		    n.subscriptions, n.events, n.quarantine, n.suppressions,
		    removed, kept);
	} else {
		printf("erased %s: subscriptions=%lld events=%lld "
		    "quarantine=%lld suppressions=%lld spool_files=%zu\n",
		    addr, n.subscriptions, n.events, n.quarantine,
		    n.suppressions, removed);
		if (kept > 0)
			printf("note: %zu spool file%s kept: other quarantine "
			    "rows name %s\n", kept, kept == 1 ? "" : "s",
			    kept == 1 ? "it" : "them");
		printf("%s stays blocked (suppressed=erased, kept as a keyed "
		    "hash)\n", addr);
	}
	return rc;
}
