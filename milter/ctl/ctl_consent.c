/*
 * ctl_consent.c - optinctl verbs for the database and consent state:
 * init, migrate, list add|ls, subscribe, confirm, unsubscribe, status
 * (DESIGN "optinctl", "Consent model").
 *
 * Every change goes through the store with a consent event (source
 * "optinctl" unless --source says otherwise; user_agent names who ran
 * optinctl, ctl.h); read-then-write verbs run in one store transaction so
 * a concurrent change cannot slip in between.  An opt-in of an erased or
 * suppressed address passes ctl_reconsent() (reconsent.h): refused without
 * --evidence, lifted with it.
 * States and decisions are printed with DESIGN's words; a subscription that
 * does not exist is printed as "no_consent"; status also finds the
 * suppression of an erased address (its keyed hash, ctl_dsar.c).  Human
 * output on stdout is one line per fact, --json output one JSON object.
 * Single-threaded.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "addr.h"
#include "config.h"
#include "consent.h"
#include "ctl.h"
#include "log.h"
#include "reconsent.h"
#include "store.h"

#define SOURCE_MAX	64
#define EVIDENCE_MAX	1024
#define LIST_MAX	64
#define NAME_MAX_LEN	200

/* Options of the change verbs. */
struct opts {
	const char *source;	/* --source, default "optinctl" */
	const char *evidence;	/* --evidence */
	const char *name;	/* --name (list add) */
	bool all;		/* --all (unsubscribe) */
	bool double_opt_in;	/* --double-opt-in (list add) */
};

enum { OPT_SOURCE = 1, OPT_EVIDENCE, OPT_NAME, OPT_ALL, OPT_DOI };

static const struct option change_opts[] = {
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "evidence", required_argument, NULL, OPT_EVIDENCE },
	{ NULL, 0, NULL, 0 }
};

static const struct option unsub_opts[] = {
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "evidence", required_argument, NULL, OPT_EVIDENCE },
	{ "all", no_argument, NULL, OPT_ALL },
	{ NULL, 0, NULL, 0 }
};

static const struct option list_add_opts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ "double-opt-in", no_argument, NULL, OPT_DOI },
	{ NULL, 0, NULL, 0 }
};

static const struct option no_opts[] = {
	{ NULL, 0, NULL, 0 }
};

/*
 * parse_opts - getopt_long over argv (argv[0] is the verb); positional
 * arguments are moved to the end, *first_r is the index of the first.
 * Returns 0, or EX_USAGE/EX_DATAERR after printing why.
 */
static int
parse_opts(const char *verb, int argc, char **argv,
    const struct option *longopts, struct opts *o, int *first_r)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->source = "optinctl";
	opterr = 0;
	optind = 0;		/* GNU: start over, argv may be another's */
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_SOURCE:
			o->source = optarg;
			break;
		case OPT_EVIDENCE:
			o->evidence = optarg;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_ALL:
			o->all = true;
			break;
		case OPT_DOI:
			o->double_opt_in = true;
			break;
		default:
			return ctl_bad_option(verb, ch, argv);
		}
	}
	if (!ctl_text_ok(o->source, SOURCE_MAX) || *o->source == '\0') {
		fprintf(stderr, "optinctl %s: bad --source (1 to %d "
		    "printable characters)\n", verb, SOURCE_MAX);
		return EX_DATAERR;
	}
	if (o->evidence != NULL && !ctl_text_ok(o->evidence, EVIDENCE_MAX)) {
		fprintf(stderr, "optinctl %s: bad --evidence (at most %d "
		    "printable characters)\n", verb, EVIDENCE_MAX);
		return EX_DATAERR;
	}
	if (o->name != NULL && !ctl_text_ok(o->name, NAME_MAX_LEN)) {
		fprintf(stderr, "optinctl %s: bad --name (at most %d "
		    "printable characters)\n", verb, NAME_MAX_LEN);
		return EX_DATAERR;
	}
	*first_r = optind;
	return 0;
}

/* state_word - a subscription state as printed: DESIGN's word, and
 * "no_consent" for no row */
static const char *
state_word(enum sub_status s)
{
	return s == SUB_NONE ? "no_consent" : sub_status_str(s);
}

/* fail - print why and return the exit code of st */
static int
fail(enum store_status st, const char *why)
{
	fprintf(stderr, "optinctl: %s\n", why);
	return ctl_exit_code(st);
}

/* need_list - the list must exist: EX_OK, or an exit code after printing */
static int
need_list(struct store *st, const char *list, bool *doi_r)
{
	enum store_status rs;
	char why[512], safe[LIST_MAX + 8];

	rs = store_list_exists(st, list, doi_r, why, sizeof(why));
	if (rs == STORE_NOTFOUND) {
		fprintf(stderr, "optinctl: no such list '%s'\n",
		    log_safe(list, safe, sizeof(safe)));
		return EX_DATAERR;
	}
	return rs == STORE_OK ? EX_OK : fail(rs, why);
}

/* print_change - the result of a subscription change */
static void
print_change(const struct ctl *c, const char *addr, const char *list,
    enum sub_status s)
{
	if (c->json) {
		fputs("{\"address\":", stdout);
		ctl_json_str(stdout, addr);
		fputs(",\"list\":", stdout);
		ctl_json_str(stdout, list);
		printf(",\"state\":\"%s\"}\n", state_word(s));
	} else
		printf("%s list=%s state=%s\n", addr, list, state_word(s));
}

/* note_suppressed - tell that a subscription does not lift a suppression */
static void
note_suppressed(struct store *st, const char *addr)
{
	char reason[32], why[256];

	if (store_suppression(st, addr, reason, sizeof(reason), NULL, why,
	    sizeof(why)) == STORE_OK)
		fprintf(stderr, "optinctl: note: %s is suppressed (%s): "
		    "campaign mail to it stays blocked\n", addr, reason);
}

int
ctl_init(struct ctl *c, int argc, char **argv)
{
	enum store_status rs = STORE_ERROR;
	char why[512], name[512];
	bool made_key = false;
	int rc;

	if (argc != 1)
		return ctl_usage(argv[0]);
	store_mask(c->cfg->consent_db, name, sizeof(name));
	ctl_become_user(c);
	c->st = store_open(c->cfg, STORE_CREATE, &rs, why, sizeof(why));
	if (c->st == NULL) {
		fprintf(stderr, "optinctl: %s\n", why);
		return ctl_open_exit(c->cfg, rs, STORE_CREATE);
	}
	ctl_store_warn(c->st);
	/* the key of erased people exists before the milter starts, which
	 * reads it before dropping privileges */
	if (c->cfg->erasure_key_file != NULL &&
	    (rc = ctl_erasure_ready(c, "init", &made_key)) != EX_OK)
		return rc;
	if (c->json) {
		fputs("{\"database\":", stdout);
		ctl_json_str(stdout, name);
		printf(",\"created\":%s,\"version\":%d",
		    store_created(c->st) ? "true" : "false",
		    store_version(c->st));
		if (c->cfg->erasure_key_file != NULL) {
			fputs(",\"erasure_key_file\":", stdout);
			ctl_json_str(stdout, c->cfg->erasure_key_file);
			printf(",\"erasure_key_created\":%s",
			    made_key ? "true" : "false");
		}
		fputs("}\n", stdout);
	} else if (store_created(c->st))
		printf("created %s (schema version %d)\n", name,
		    store_version(c->st));
	else
		printf("%s: schema version %d, nothing to do\n", name,
		    store_version(c->st));
	if (made_key && !c->json)
		printf("created ErasureKeyFile %s\n",
		    c->cfg->erasure_key_file);
	return EX_OK;
}

int
ctl_migrate(struct ctl *c, int argc, char **argv)
{
	enum store_status rs;
	int from, to;
	char why[512];

	if (argc != 1)
		return ctl_usage(argv[0]);
	(void)ctl_store(c, STORE_MIGRATE);
	rs = store_migrate(c->st, &from, &to, why, sizeof(why));
	if (rs != STORE_OK)
		return fail(rs, why);
	if (c->json)
		printf("{\"from\":%d,\"to\":%d}\n", from, to);
	else if (from == to)
		printf("schema is at version %d\n", to);
	else
		printf("migrated schema from version %d to %d\n", from, to);
	return EX_OK;
}

struct ls_ctx {
	const struct ctl *c;
	int n;
};

/* ls_one - print one list of store_list_ls */
static int
ls_one(const struct store_list *l, void *arg)
{
	struct ls_ctx *x = arg;

	if (x->c->json) {
		fputs(x->n > 0 ? "," : "", stdout);
		fputs("{\"list\":", stdout);
		ctl_json_str(stdout, l->list);
		fputs(",\"name\":", stdout);
		ctl_json_str(stdout, l->name);
		printf(",\"double_opt_in\":%s,\"created_at\":%lld,"
		    "\"opted_in\":%lld,\"pending\":%lld,\"opted_out\":%lld}",
		    l->double_opt_in ? "true" : "false",
		    (long long)l->created_at, l->opted_in, l->pending,
		    l->opted_out);
	} else {
		printf("%-16s %-4s %9lld %8lld %9lld", l->list,
		    l->double_opt_in ? "yes" : "no", l->opted_in, l->pending,
		    l->opted_out);
		if (l->name != NULL) {
			fputs("  ", stdout);
			ctl_put_text(stdout, l->name);
		}
		putchar('\n');
	}
	x->n++;
	return 0;
}

/* list_add - list add LIST [--name N] [--double-opt-in] */
static int
list_add(struct ctl *c, int argc, char **argv)
{
	struct opts o;
	enum store_status rs;
	char why[512];
	const char *list;
	int first, rc;

	if ((rc = parse_opts("list", argc, argv, list_add_opts, &o,
	    &first)) != 0)
		return rc;
	if (argc - first != 1)
		return ctl_usage("list");
	list = argv[first];
	if ((rc = ctl_list_arg("list add", "LIST", list)) != EX_OK)
		return rc;
	(void)ctl_store(c, 0);
	if ((rs = store_list_exists(c->st, list, NULL, why, sizeof(why)))
	    == STORE_OK) {
		fprintf(stderr, "optinctl: list '%s' exists\n", list);
		return EX_DATAERR;
	} else if (rs != STORE_NOTFOUND)
		return fail(rs, why);
	rs = store_list_add(c->st, list, o.name, o.double_opt_in, why,
	    sizeof(why));
	if (rs != STORE_OK)
		return fail(rs, why);
	if (c->json) {
		fputs("{\"list\":", stdout);
		ctl_json_str(stdout, list);
		fputs(",\"name\":", stdout);
		ctl_json_str(stdout, o.name);
		printf(",\"double_opt_in\":%s}\n",
		    o.double_opt_in ? "true" : "false");
	} else
		printf("added list %s%s\n", list, o.double_opt_in ?
		    " (double opt-in)" : "");
	return EX_OK;
}

/* list_ls - list ls */
static int
list_ls(struct ctl *c, int argc, char **argv)
{
	struct ls_ctx x = { c, 0 };
	enum store_status rs;
	char why[512];

	if (argc != 1)
		return ctl_usage("list");
	(void)ctl_store(c, STORE_READONLY);
	if (c->json)
		fputs("{\"lists\":[", stdout);
	else
		printf("%-16s %-4s %9s %8s %9s  %s\n", "LIST", "DOI",
		    "OPTED_IN", "PENDING", "OPTED_OUT", "NAME");
	rs = store_list_ls(c->st, ls_one, &x, why, sizeof(why));
	if (c->json)
		fputs("]}\n", stdout);
	return rs == STORE_OK ? EX_OK : fail(rs, why);
}

int
ctl_list(struct ctl *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return list_add(c, argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "ls") == 0))
		return list_ls(c, argc - 1, argv + 1);
	return ctl_usage(argv[0]);
}

int
ctl_reconsent(struct ctl *c, const char *addr, enum sub_status status,
    const struct consent_event *ev, bool lift, struct reconsent *r_r,
    char *why, size_t whylen)
{
	char h[STORE_HASH_MAX], what[ADDR_MAX + 100];
	enum store_status rs;
	const char *hash;
	int rc;

	if ((rc = ctl_erased_form(c, addr, h, &hash)) != EX_OK)
		return rc;
	if ((rs = reconsent_check(c->st, addr, hash, r_r, why, whylen)) !=
	    STORE_OK)
		return ctl_fail(rs, why);
	if (status == SUB_OPTED_OUT || !reconsent_blocked(r_r))
		return EX_OK;
	(void)reconsent_str(r_r, addr, what, sizeof(what));
	if (!lift || ev->evidence == NULL || ev->evidence[0] == '\0') {
		snprintf(why, whylen, "%s: a new opt-in needs fresh consent "
		    "evidence (--evidence TEXT)", what);
		return EX_DATAERR;
	}
	if ((rs = reconsent_lift(c->st, addr, hash, r_r, ev, why, whylen)) !=
	    STORE_OK)
		return ctl_fail(rs, why);
	fprintf(stderr, "optinctl: note: %s: lifted with the evidence "
	    "given\n", what);
	return EX_OK;
}

/*
 * change - run one subscription change in a store transaction: read the
 * current state, let decide() pick the new one (or refuse with an exit
 * code), pass the opt-in gate (ctl_reconsent), write it with its event.
 */
typedef int change_fn(const char *addr, const char *list, bool doi,
    enum sub_status cur, enum sub_status *new_r, const char **event_r);

static int
change(struct ctl *c, const char *verb, const char *addr, const char *list,
    const struct opts *o, change_fn *decide)
{
	struct consent_event ev = { 0 };
	struct consent_row row;
	struct reconsent rc_block;
	enum store_status rs;
	enum sub_status s;
	char why[512];
	bool doi = false;
	int rc;

	(void)ctl_store(c, 0);
	/* the gate reads "erased?" before the write: no erasure between
	 * (store_begin_change; PostgreSQL) */
	if ((rs = store_begin_change(c->st, why, sizeof(why))) != STORE_OK)
		return fail(rs, why);
	if ((rc = need_list(c->st, list, &doi)) != EX_OK)
		goto out;
	rs = store_lookup(c->st, addr, list, &row, why, sizeof(why));
	if (rs != STORE_OK) {
		rc = fail(rs, why);
		goto out;
	}
	ev.addr = addr;
	ev.list = list;
	ev.source = o->source;
	ev.evidence = o->evidence;
	if ((rc = decide(addr, list, doi, row.status, &s, &ev.event)) !=
	    EX_OK)
		goto out;
	rc = ctl_reconsent(c, addr, s, &ev, true, &rc_block, why,
	    sizeof(why));
	if (rc == EX_DATAERR)
		fprintf(stderr, "optinctl %s: %s\n", verb, why);
	if (rc != EX_OK)
		goto out;
	rs = store_set_status(c->st, addr, list, s, &ev, why, sizeof(why));
	if (rs == STORE_OK)
		rs = store_commit(c->st, why, sizeof(why));
	if (rs != STORE_OK) {
		rc = fail(rs, why);
		goto out;
	}
	print_change(c, addr, list, s);
	if (s != SUB_OPTED_OUT)
		note_suppressed(c->st, addr);
	return EX_OK;
out:
	store_rollback(c->st);
	return rc;
}

/* decide_subscribe - opted_in, or pending on a double opt-in list unless
 * the address is opted in already */
static int
decide_subscribe(const char *addr, const char *list, bool doi,
    enum sub_status cur, enum sub_status *new_r, const char **event_r)
{
	*new_r = doi && cur != SUB_OPTED_IN ? SUB_PENDING : SUB_OPTED_IN;
	*event_r = NULL;	/* the state word */
	return EX_OK;
}

/* decide_confirm - pending to opted_in, nothing else */
static int
decide_confirm(const char *addr, const char *list, bool doi,
    enum sub_status cur, enum sub_status *new_r, const char **event_r)
{
	if (cur != SUB_PENDING) {
		fprintf(stderr, "optinctl: %s is not pending on list %s "
		    "(state %s)\n", addr, list, state_word(cur));
		return EX_DATAERR;
	}
	*new_r = SUB_OPTED_IN;
	*event_r = "confirmed";
	return EX_OK;
}

/* decide_unsubscribe - opted_out */
static int
decide_unsubscribe(const char *addr, const char *list, bool doi,
    enum sub_status cur, enum sub_status *new_r, const char **event_r)
{
	*new_r = SUB_OPTED_OUT;
	*event_r = NULL;
	return EX_OK;
}

/* change_verb - the shared body of subscribe and confirm: ADDR LIST */
static int
change_verb(struct ctl *c, int argc, char **argv, change_fn *decide)
{
	char addr[ADDR_MAX + 1];
	struct opts o;
	int first, rc;

	if ((rc = parse_opts(argv[0], argc, argv, change_opts, &o,
	    &first)) != 0)
		return rc;
	if (argc - first != 2)
		return ctl_usage(argv[0]);
	if ((rc = ctl_list_arg(argv[0], "LIST", argv[first + 1])) != EX_OK)
		return rc;
	(void)ctl_addr(argv[first], addr);
	return change(c, argv[0], addr, argv[first + 1], &o, decide);
}

int
ctl_subscribe(struct ctl *c, int argc, char **argv)
{
	return change_verb(c, argc, argv, decide_subscribe);
}

int
ctl_confirm(struct ctl *c, int argc, char **argv)
{
	return change_verb(c, argc, argv, decide_confirm);
}

int
ctl_unsubscribe(struct ctl *c, int argc, char **argv)
{
	struct consent_event ev = { 0 };
	char addr[ADDR_MAX + 1], reason[32], why[512];
	enum store_status rs;
	struct opts o;
	int first, rc;

	if ((rc = parse_opts(argv[0], argc, argv, unsub_opts, &o,
	    &first)) != 0)
		return rc;
	if (argc - first != (o.all ? 1 : 2))
		return ctl_usage(argv[0]);
	if (!o.all && (rc = ctl_list_arg(argv[0], "LIST", argv[first + 1])) !=
	    EX_OK)
		return rc;
	(void)ctl_addr(argv[first], addr);
	if (!o.all)
		return change(c, argv[0], addr, argv[first + 1], &o,
		    decide_unsubscribe);

	(void)ctl_store(c, 0);
	ev.addr = addr;
	ev.event = "suppressed";
	ev.source = o.source;
	ev.evidence = o.evidence;
	rs = store_suppress(c->st, addr, "unsubscribed_all", &ev, why,
	    sizeof(why));
	if (rs != STORE_OK)
		return fail(rs, why);
	/* an earlier suppression keeps its reason: show what holds */
	rs = store_suppression(c->st, addr, reason, sizeof(reason), NULL, why,
	    sizeof(why));
	if (rs != STORE_OK)
		return fail(rs, why);
	if (c->json) {
		fputs("{\"address\":", stdout);
		ctl_json_str(stdout, addr);
		fputs(",\"suppressed\":true,\"reason\":", stdout);
		ctl_json_str(stdout, reason);
		fputs("}\n", stdout);
	} else
		printf("%s suppressed=%s\n", addr, reason);
	return EX_OK;
}

struct status_ctx {
	const struct ctl *c;
	bool suppressed;
	int n;
};

/* status_one - print one subscription with its decision */
static int
status_one(const struct store_sub *s, void *arg)
{
	struct status_ctx *x = arg;
	struct consent_row row = { x->suppressed, s->status };
	const char *decision = consent_reason_str(consent_decide(&row));

	if (x->c->json) {
		fputs(x->n > 0 ? "," : "", stdout);
		fputs("{\"list\":", stdout);
		ctl_json_str(stdout, s->list);
		printf(",\"state\":\"%s\",\"decision\":\"%s\",\"source\":",
		    state_word(s->status), decision);
		ctl_json_str(stdout, s->source);
		printf(",\"updated_at\":%lld}", (long long)s->updated_at);
	} else
		printf("  %s state=%s decision=%s\n", s->list,
		    state_word(s->status), decision);
	x->n++;
	return 0;
}

int
ctl_status(struct ctl *c, int argc, char **argv)
{
	struct status_ctx x = { c, false, 0 };
	struct consent_row none = { false, SUB_NONE };
	char addr[ADDR_MAX + 1], reason[32], why[512], h[STORE_HASH_MAX] = "";
	enum store_status rs;
	time_t since = 0;
	struct opts o;
	int first, rc;

	if ((rc = parse_opts(argv[0], argc, argv, no_opts, &o, &first)) != 0)
		return rc;
	if (argc - first != 1)
		return ctl_usage(argv[0]);
	(void)ctl_addr(argv[first], addr);
	(void)ctl_store(c, STORE_READONLY);
	rs = store_suppression(c->st, addr, reason, sizeof(reason), &since,
	    why, sizeof(why));
	/* an erased address is suppressed under its erased form */
	if (rs == STORE_NOTFOUND)
		rs = store_erased(c->st, ctl_erasure(c, argv[0]), addr, h, why,
		    sizeof(why));
	if (rs == STORE_OK && h[0] != '\0')
		rs = store_suppression(c->st, h, reason, sizeof(reason),
		    &since, why, sizeof(why));
	if (rs != STORE_OK && rs != STORE_NOTFOUND)
		return fail(rs, why);
	x.suppressed = none.suppressed = rs == STORE_OK;
	if (c->json) {
		fputs("{\"address\":", stdout);
		ctl_json_str(stdout, addr);
		printf(",\"suppressed\":%s,\"suppression\":",
		    x.suppressed ? "true" : "false");
		if (x.suppressed) {
			fputs("{\"reason\":", stdout);
			ctl_json_str(stdout, reason);
			printf(",\"created_at\":%lld}", (long long)since);
		} else
			fputs("null", stdout);
		fputs(",\"lists\":[", stdout);
	} else
		printf("%s suppressed=%s\n", addr, x.suppressed ? reason :
		    "no");
	rs = store_subscriptions(c->st, addr, status_one, &x, why,
	    sizeof(why));
	if (c->json)
		printf("],\"other_lists_decision\":\"%s\"}\n",
		    consent_reason_str(consent_decide(&none)));
	else if (rs == STORE_OK)
		printf("  (other lists) decision=%s\n",
		    consent_reason_str(consent_decide(&none)));
	return rs == STORE_OK ? EX_OK : fail(rs, why);
}
