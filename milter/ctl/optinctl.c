/*
 * optinctl.c - main() of the admin CLI: global options, the verb table,
 * help, and the helpers every verb shares (ctl.h).
 *
 * optinctl [-c FILE] [--json] VERB [ARGS]; -c and --json may also follow
 * the verb (DESIGN "optinctl": every verb takes them); `optinctl help` and
 * `optinctl VERB --help` print usage.  Exit codes follow sysexits.h.
 * Single-threaded; the config and store handle live in struct ctl and are
 * released at the end of main().  Failed allocations exit EX_OSERR.
 */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "campaign.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "privdrop.h"
#include "store.h"
#include "token.h"
#include "utf8.h"

static const struct verb {
	const char *name;
	ctl_verb_fn *fn;		/* NULL: "help", handled here */
	const char *usage;		/* after "optinctl " */
	const char *help;		/* one line */
	bool config;			/* load the config first */
} verbs[] = {
	{ "help", NULL, "help [VERB]",
	    "show the verbs, or the usage of one", false },
	{ "init", ctl_init, "init",
	    "create the consent database (mode 0600) with its schema", true },
	{ "migrate", ctl_migrate, "migrate",
	    "bring the database schema to this build's version", true },
	{ "list", ctl_list,
	    "list add LIST [--name N] [--double-opt-in] | list ls",
	    "add a mailing list; show lists with subscription counts", true },
	{ "subscribe", ctl_subscribe,
	    "subscribe ADDR LIST [--source S] [--evidence E]",
	    "opt ADDR in to LIST (pending on a double opt-in list)", true },
	{ "confirm", ctl_confirm,
	    "confirm ADDR LIST [--source S] [--evidence E]",
	    "confirm a pending (double opt-in) subscription", true },
	{ "unsubscribe", ctl_unsubscribe,
	    "unsubscribe ADDR (LIST | --all) [--source S] [--evidence E]",
	    "opt ADDR out of LIST, or suppress all campaign mail to it",
	    true },
	{ "status", ctl_status, "status ADDR",
	    "show the lists of ADDR, their states and decisions", true },
	{ "token", ctl_token,
	    "token newkey | token issue ADDR LIST | token bounce ADDR LIST "
	    "[CAMPAIGN] | token check TOKEN",
	    "add a token key; issue or check an unsubscribe token; print a "
	    "bounce address", true },
	{ "history", ctl_history, "history ADDR",
	    "show the consent events of ADDR, oldest first", true },
	{ "export", ctl_export, "export ADDR",
	    "print all that is held on ADDR as JSON (subject access)", true },
	{ "forget", ctl_forget, "forget ADDR [--source S] [--evidence E]",
	    "erase ADDR, keeping a keyed-hash suppression so it stays "
	    "blocked", true },
	{ "import", ctl_import,
	    "import FILE.csv [--list L] [--source S] [--strict] [--dry-run] "
	    "[--assume-opt-in SOURCE]",
	    "import consent from CSV (optin columns or a Vtiger CRM export)",
	    true },
	{ "export-list", ctl_export_list,
	    "export-list (LIST | --opt-outs [LIST]) [--format vtiger|csv]",
	    "write a list, or the opt-outs, as CSV for the CRM", true },
	{ "quarantine", ctl_quarantine,
	    "quarantine list [FILTER...] [--all] | quarantine show ID | "
	    "quarantine release (ID... | - | ALL | FILTER...) [--force] | "
	    "quarantine delete (ID... | - | ALL | FILTER...) | "
	    "quarantine purge [--older-than AGE]; FILTER: --reason R, "
	    "--list L, --sender S, --before DATE, --older-than AGE",
	    "list, show, release, delete or purge quarantined messages",
	    true },
	{ "stats", ctl_stats, "stats",
	    "count subscriptions, suppressions, quarantine and recent "
	    "events", true },
	{ "copy-store", ctl_copy_store, "copy-store FROM TO",
	    "copy every row of the database FROM to the empty database TO "
	    "(SQLite and PostgreSQL, either way), counts checked", true },
	{ "feedback", ctl_feedback, "feedback [--since AGE]",
	    "bounces and complaints per list and campaign, rates, paused "
	    "campaigns, addresses acted on", true },
	{ "campaign", ctl_campaign, "campaign ls | campaign pause LIST "
	    "CAMPAIGN [--reason TEXT] | campaign resume CAMPAIGN",
	    "show paused campaigns; pause or resume one", true },
	{ "dns", ctl_dns, "dns [DOMAIN]",
	    "print the DKIM records to publish; with DOMAIN, check DKIM, "
	    "SPF and DMARC in DNS", true },
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

/* the configuration main() loaded: ctl_exit_code() asks about its
 * ConsentDB (one per process; borrowed from main's struct ctl) */
static const struct config *exit_cfg;

/* verb_find - the table entry for name, or NULL */
static const struct verb *
verb_find(const char *name)
{
	size_t i;

	for (i = 0; i < NVERBS; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

/* usage_all - the whole help text */
static void
usage_all(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: optinctl [-c FILE] [--json] VERB [ARGS]\n"
	    "       optinctl -h | --help | -V\n"
	    "       optinctl VERB --help\n\nverbs:\n");
	for (i = 0; i < NVERBS; i++)
		fprintf(fp, "  %s\n        %s\n", verbs[i].usage,
		    verbs[i].help);
	fprintf(fp, "\nexit codes: 0 ok, 64 usage, 65 bad data, 66 no input, "
	    "69 unavailable,\n70 internal, 73 can't create, 75 temporary "
	    "failure, 78 config\n");
}

/* usage_verb - one verb's usage and help line */
static void
usage_verb(FILE *fp, const struct verb *v)
{
	fprintf(fp, "usage: optinctl [-c FILE] [--json] %s\n%s\n", v->usage,
	    v->help);
}

int
ctl_list_arg(const char *verb, const char *arg, const char *value)
{
	if (campaign_list_ok(value))
		return EX_OK;
	fprintf(stderr, "optinctl %s: bad %s '", verb, arg);
	ctl_put_text(stderr, value);
	fprintf(stderr, "' (1 to %d letters, digits, '.', '_', '-', starting "
	    "with a letter or digit)\n", CAMPAIGN_LIST_MAX);
	return EX_USAGE;
}

int
ctl_usage(const char *verb)
{
	const struct verb *v;

	if ((v = verb_find(verb)) != NULL)
		fprintf(stderr, "usage: optinctl [-c FILE] [--json] %s\n",
		    v->usage);
	else
		usage_all(stderr);
	return EX_USAGE;
}

int
ctl_bad_option(const char *verb, int ch, char **argv)
{
	if (ch == ':')
		fprintf(stderr, "optinctl %s: option '%s' needs a value\n",
		    verb, argv[optind - 1]);
	else
		fprintf(stderr, "optinctl %s: unknown option '%s'\n", verb,
		    argv[optind - 1]);
	return ctl_usage(verb);
}

int
ctl_fail(enum store_status st, const char *why)
{
	fprintf(stderr, "optinctl: %s\n", why);
	return ctl_exit_code(st);
}

int
ctl_tx_end(struct ctl *c, enum store_status rs, char *why, size_t whylen)
{
	if (rs == STORE_OK)
		rs = store_commit(c->st, why, whylen);
	if (rs == STORE_OK)
		return EX_OK;
	store_rollback(c->st);
	return ctl_fail(rs, why);
}

bool
ctl_text_ok(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i, n;
	unsigned cp;

	if (len > max)
		return false;
	/* valid UTF-8 too: SQLite would store any bytes, PostgreSQL refuses
	 * them (a database error, where this is the user's); no control
	 * character, C0 or C1 (U+0080 to U+009F: U+009B is a terminal's CSI,
	 * U+0085 a line break) */
	for (i = 0; i < len; i += n)
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0 ||
		    utf8_control(cp))
			return false;
	return true;
}

const struct token_ring *
ctl_ring(struct ctl *c, char *why, size_t whylen)
{
	if (c->ring != NULL)
		return c->ring;
	if (c->cfg->token_key_file == NULL) {
		snprintf(why, whylen, "TokenKeyFile is not set");
		return NULL;
	}
	c->ring = token_ring_load(c->cfg->token_key_file, why, whylen);
	return c->ring;
}

/* erasure_load - the rings of c->er, once each, where their files are
 * set; what kept one from loading goes to c->er_why */
static void
erasure_load(struct ctl *c)
{
	if (c->erasure == NULL) {
		if (c->cfg->erasure_key_file == NULL)
			snprintf(c->er_why[0], sizeof(c->er_why[0]),
			    "ErasureKeyFile is not set");
		else
			c->erasure = token_ring_load(c->cfg->erasure_key_file,
			    c->er_why[0], sizeof(c->er_why[0]));
	}
	if (c->ring == NULL)
		(void)ctl_ring(c, c->er_why[1], sizeof(c->er_why[1]));
	c->er.keys = c->erasure;
	c->er.legacy = c->ring;
}

int
ctl_erased_form(struct ctl *c, const char *addr, char h[STORE_HASH_MAX],
    const char **hash_r)
{
	enum store_status rs;
	char why[512];

	*hash_r = NULL;
	if (c->none_erased)
		return EX_OK;
	/* ctl_erasure() exits 78 when the keys to tell are missing */
	rs = store_erased(c->st, ctl_erasure(c, "lookup"), addr, h, why,
	    sizeof(why));
	if (rs == STORE_OK)
		*hash_r = h;
	else if (rs != STORE_NOTFOUND)
		return ctl_fail(rs, why);
	return EX_OK;
}

int
ctl_refuse_erased(struct ctl *c, const char *verb, const char *addr,
    const char *what)
{
	char h[STORE_HASH_MAX];
	const char *hash;
	int rc;

	(void)ctl_store(c, 0);
	if ((rc = ctl_erased_form(c, addr, h, &hash)) != EX_OK)
		return rc;
	if (hash == NULL)
		return EX_OK;
	fprintf(stderr, "optinctl %s: %s was erased (optinctl forget): %s\n",
	    verb, addr, what);
	return EX_DATAERR;
}

int
ctl_need_list(struct ctl *c, const char *list)
{
	enum store_status rs;
	char why[512];

	rs = store_list_exists(ctl_store(c, 0), list, NULL, why, sizeof(why));
	if (rs == STORE_OK)
		return EX_OK;
	fprintf(stderr, "optinctl: %s\n", why);
	return rs == STORE_NOTFOUND ? EX_DATAERR : EX_TEMPFAIL;
}

int
ctl_erased_none(struct ctl *c, bool end)
{
	bool keyed = false, legacy = false;
	enum store_status rs;
	char why[512];

	c->none_erased = false;
	/* only where a transaction keeps other writers out: SQLite's one
	 * write lock (or a read snapshot).  On PostgreSQL (READ COMMITTED)
	 * another program's forget commits while ours runs: ask per
	 * address there */
	if (end || strcmp(store_engine(c->st), "sqlite") != 0)
		return EX_OK;
	rs = store_erased_kinds(c->st, &keyed, &legacy, why, sizeof(why));
	if (rs != STORE_OK)
		return ctl_fail(rs, why);
	c->none_erased = !keyed && !legacy;
	return EX_OK;
}

void
ctl_become_user(struct ctl *c)
{
	unsigned uid, gid;
	char why[512];

	if (c->dropped || c->cfg == NULL || c->cfg->user_id == NULL ||
	    getuid() != 0)
		return;
	c->dropped = true;
	if (privdrop_lookup(c->cfg->user_id, &uid, &gid, why, sizeof(why)) <
	    0) {
		fprintf(stderr, "optinctl: UserID: %s\n", why);
		exit(EX_CONFIG);
	}
	/* a ring only root may read is loaded now; one that belongs to
	 * UserID fails here ("neither root nor us") and loads after */
	if (c->cfg->token_key_file != NULL && c->ring == NULL)
		c->ring = token_ring_load(c->cfg->token_key_file, why,
		    sizeof(why));
	erasure_load(c);	/* ErasureKeyFile likewise */
	if (privdrop_to(c->cfg->user_id, why, sizeof(why)) < 0) {
		fprintf(stderr, "optinctl: UserID: %s\n", why);
		exit(EX_OSERR);
	}
}

/* agent_init - c->agent: who runs optinctl, for the events it writes:
 * the user of getuid(), and SUDO_USER when set (as sudo says; the uid is
 * what the system vouches for) */
static void
agent_init(struct ctl *c)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	char user[64], safe[64];

	if (pw != NULL && pw->pw_name != NULL)
		(void)log_safe(pw->pw_name, user, sizeof(user));
	else
		snprintf(user, sizeof(user), "uid:%lu",
		    (unsigned long)getuid());
	snprintf(c->agent, sizeof(c->agent), "optinctl user=%s", user);
	if (sudo != NULL && *sudo != '\0' && strchr(sudo, ' ') == NULL)
		snprintf(c->agent + strlen(c->agent), sizeof(c->agent) -
		    strlen(c->agent), " sudo_user=%s", log_safe(sudo, safe,
		    sizeof(safe)));
}

const struct store_erasure *
ctl_erasure(struct ctl *c, const char *verb)
{
	bool keyed = false, legacy = false;
	enum store_status rs;
	char why[512];

	erasure_load(c);
	if (c->er_checked)	/* once a run: the kinds do not change */
		return &c->er;
	rs = store_erased_kinds(c->st, &keyed, &legacy, why, sizeof(why));
	if (rs != STORE_OK)
		exit(ctl_fail(rs, why));
	if (keyed && c->erasure == NULL) {
		fprintf(stderr, "optinctl %s: the database keeps erased "
		    "addresses keyed with ErasureKeyFile: %s\n", verb,
		    c->er_why[0]);
		exit(EX_CONFIG);
	}
	if (legacy && c->ring == NULL) {
		fprintf(stderr, "optinctl %s: the database keeps erased "
		    "addresses from before ErasureKeyFile, keyed with "
		    "TokenKeyFile: %s\n", verb, c->er_why[1]);
		exit(EX_CONFIG);
	}
	c->er_checked = true;
	return &c->er;
}

int
ctl_erasure_ready(struct ctl *c, const char *verb, bool *created_r)
{
	const char *path = c->cfg->erasure_key_file;
	bool keyed = false, legacy = false;
	enum store_status rs;
	struct stat sb;
	char why[512];
	unsigned id;
	int ex;

	*created_r = false;
	if (path == NULL) {
		fprintf(stderr, "optinctl %s: ErasureKeyFile is not set: an "
		    "erased address is kept only as a hash keyed from it\n",
		    verb);
		return EX_CONFIG;
	}
	if (lstat(path, &sb) < 0 && errno == ENOENT) {
		/* a lost key must be restored: a new one would not find
		 * the people erased with the old one */
		rs = store_erased_kinds(c->st, &keyed, &legacy, why,
		    sizeof(why));
		if (rs != STORE_OK)
			return ctl_fail(rs, why);
		if (keyed) {
			fprintf(stderr, "optinctl %s: ErasureKeyFile %s is "
			    "missing, but the database keeps erased addresses "
			    "keyed with it: restore it from a backup\n", verb,
			    path);
			return EX_CONFIG;
		}
		if ((ex = ctl_keyfile_add(path, ERASURE_KEYFILE_HEADER, true,
		    &id, created_r)) != EX_OK)
			return ex;
	}
	erasure_load(c);
	if (c->erasure == NULL) {
		fprintf(stderr, "optinctl %s: %s\n", verb, c->er_why[0]);
		return EX_CONFIG;
	}
	return EX_OK;
}

int
ctl_parse_age(const char *s, long *secs_r)
{
	unsigned long long n;
	long unit = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (n > (unsigned long long)(100LL * 365 * 86400) / (unsigned long)unit)
		return -1;
	*secs_r = (long)n * unit;
	return 0;
}

void
ctl_put_text(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i, n;
	unsigned cp;

	if (s == NULL) {
		fputc('-', fp);
		return;
	}
	len = strlen(s);
	for (i = 0; i < len; i += n) {
		n = utf8_decode_fffd(p + i, len - i, &cp);
		if (utf8_control(cp))
			fputc('?', fp);
		else if (utf8_invisible(cp))
			fprintf(fp, "<U+%04X>", cp);
		else if (cp == UTF8_FFFD)
			fputs(UTF8_FFFD_STR, fp);
		else
			(void)fwrite(p + i, 1, n, fp);
	}
}

const char *
ctl_iso_time(time_t t, char buf[32])
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "-";
	return buf;
}

int
ctl_exit_for(const struct config *cfg, enum store_status st, bool open_failed)
{
	if ((st == STORE_TEMPFAIL || st == STORE_ERROR) && cfg != NULL) {
		switch (store_access(cfg, NULL)) {
		case STORE_ACCESS_READ:
			return EX_NOINPUT;
		case STORE_ACCESS_WRITE:
			return EX_CANTCREAT;
		case STORE_ACCESS_OK:
			break;
		}
	}
	switch (st) {
	case STORE_OK:
		return EX_OK;
	case STORE_NOTFOUND:
		return EX_DATAERR;
	case STORE_TEMPFAIL:
		return EX_TEMPFAIL;
	case STORE_ERROR:
		break;
	}
	return open_failed ? EX_UNAVAILABLE : EX_SOFTWARE;
}

int
ctl_exit_code(enum store_status st)
{
	return ctl_exit_for(exit_cfg, st, false);
}

struct store *
ctl_store(struct ctl *c, unsigned flags)
{
	enum store_status st = STORE_ERROR;
	char why[512];

	if (c->st != NULL)
		return c->st;
	ctl_become_user(c);
	c->st = store_open(c->cfg, flags, &st, why, sizeof(why));
	if (c->st != NULL) {
		store_set_agent(c->st, c->agent);
		ctl_store_warn(c->st);
		return c->st;
	}
	fprintf(stderr, "optinctl: %s\n", why);
	exit(ctl_open_exit(c->cfg, st, flags));
}

void
ctl_store_warn(const struct store *st)
{
	if (st != NULL && store_warning(st) != NULL)
		fprintf(stderr, "optinctl: warning: %s\n", store_warning(st));
}

int
ctl_open_exit(const struct config *cfg, enum store_status st, unsigned flags)
{
	char why[512];

	/* a missing database is "no input" here; for the milter it is a
	 * temporary failure (the mail stays queued) */
	if ((st == STORE_TEMPFAIL || (flags & STORE_CREATE) != 0) &&
	    store_exists(cfg, why, sizeof(why)) == STORE_NOTFOUND)
		return (flags & STORE_CREATE) != 0 ? EX_CANTCREAT : EX_NOINPUT;
	return ctl_exit_for(cfg, st, true);
}

const char *
ctl_addr(const char *addr, char out[321])
{
	char why[256], safe[128];

	if (addr_normalize(addr, out, ADDR_MAX + 1, why, sizeof(why)) == 0)
		return out;
	fprintf(stderr, "optinctl: bad address '%s': %s\n",
	    log_safe(addr, safe, sizeof(safe)), why);
	exit(EX_DATAERR);
}

void
ctl_json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i, n;
	unsigned cp;

	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	len = strlen(s);
	fputc('"', fp);
	for (i = 0; i < len; i += n) {
		n = utf8_decode_fffd(p + i, len - i, &cp);
		if (cp == '"' || cp == '\\')
			fprintf(fp, "\\%c", (int)cp);
		else if (cp == '\n')
			fputs("\\n", fp);
		else if (cp == '\t')
			fputs("\\t", fp);
		else if (cp == '\r')
			fputs("\\r", fp);
		else if (utf8_control(cp) || cp == UTF8_FFFD)
			fprintf(fp, "\\u%04x", cp);
		else
			(void)fwrite(p + i, 1, n, fp);
	}
	fputc('"', fp);
}

void
ctl_qrow_json_fields(const struct store_qrow *q)
{
	printf("\"id\":%lld,\"queue_id\":", q->id);
	ctl_json_str(stdout, q->row.queue_id);
	fputs(",\"message_id\":", stdout);
	ctl_json_str(stdout, q->row.message_id);
	fputs(",\"sender\":", stdout);
	ctl_json_str(stdout, q->row.sender);
	fputs(",\"recipient\":", stdout);
	ctl_json_str(stdout, q->row.recipient);
	fputs(",\"list\":", stdout);
	ctl_json_str(stdout, q->row.list);
	fputs(",\"reason\":", stdout);
	ctl_json_str(stdout, q->row.reason);
	fputs(",\"spool_file\":", stdout);
	ctl_json_str(stdout, q->row.spool_file);
	printf(",\"received_at\":%lld,\"released_at\":",
	    (long long)q->row.received_at);
	if (q->released_at != 0)
		printf("%lld", (long long)q->released_at);
	else
		fputs("null", stdout);
}

/*
 * take_globals - remove -c FILE / -cFILE and --json from argv[from..]
 * (up to a "--"), recording them in c; returns the new argc, or -1 after
 * printing an error (-c without a file).
 */
static int
take_globals(struct ctl *c, int argc, char **argv, int from)
{
	int i, j = from;

	for (i = from; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0) {
			c->json = true;
		} else if (strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "optinctl: -c needs a file "
				    "name\n");
				return -1;
			}
			c->cfg_file = argv[++i];
		} else if (strncmp(argv[i], "-c", 2) == 0 &&
		    argv[i][2] != '\0' && argv[i][2] != '-') {
			c->cfg_file = argv[i] + 2;
		} else
			argv[j++] = argv[i];
	}
	argv[j] = NULL;
	return j;
}

/* wants_help - is -h or --help among the verb's arguments (before "--") */
static bool
wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int
main(int argc, char **argv)
{
	struct ctl c = { 0 };
	const struct verb *v;
	int i, nerr = 0, rc;

	store_global_init();	/* before any thread and any store call */
	agent_init(&c);
	log_init("optinctl", false, true, LOG_LEVEL_WARNING, NULL);
	/* global options before the verb */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage_all(stdout);
			return EX_OK;
		} else if (strcmp(argv[i], "-V") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf("optinctl %s\n", PACKAGE_VERSION);
			return EX_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			c.json = true;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			c.cfg_file = argv[++i];
		} else if (strncmp(argv[i], "-c", 2) == 0 &&
		    argv[i][2] != '\0') {
			c.cfg_file = argv[i] + 2;
		} else {
			fprintf(stderr, "optinctl: unknown option '%s'\n",
			    argv[i]);
			usage_all(stderr);
			return EX_USAGE;
		}
	}
	if (i >= argc) {
		usage_all(stderr);
		return EX_USAGE;
	}
	argc -= i;
	argv += i;
	if ((v = verb_find(argv[0])) == NULL) {
		fprintf(stderr, "optinctl: unknown verb '%s' (see optinctl "
		    "help)\n", argv[0]);
		return EX_USAGE;
	}
	if ((argc = take_globals(&c, argc, argv, 1)) < 0)
		return EX_USAGE;
	if (v->fn == NULL) {		/* help [VERB] */
		const struct verb *w;

		if (argc == 1) {
			usage_all(stdout);
			return EX_OK;
		}
		if (argc != 2 || (w = verb_find(argv[1])) == NULL)
			return ctl_usage("help");
		usage_verb(stdout, w);
		return EX_OK;
	}
	if (wants_help(argc, argv)) {
		usage_verb(stdout, v);
		return EX_OK;
	}
	if (v->config) {
		c.cfg = config_load(c.cfg_file, stderr, &nerr);
		if (c.cfg == NULL) {
			fprintf(stderr, "optinctl: %d error%s in %s\n", nerr,
			    nerr == 1 ? "" : "s", c.cfg_file != NULL ?
			    c.cfg_file : CONFIG_DEFAULT_FILE);
			return EX_CONFIG;
		}
		log_init("optinctl", false, true, c.cfg->log_level < 1 ?
		    c.cfg->log_level : LOG_LEVEL_WARNING, NULL);
		exit_cfg = c.cfg;
	}
	rc = v->fn(&c, argc, argv);
	if (fflush(stdout) != 0 && rc == EX_OK) {
		fprintf(stderr, "optinctl: write error: %s\n",
		    strerror(errno));
		rc = EX_IOERR;
	}
	store_close(&c.st);
	token_ring_free(&c.ring);
	token_ring_free(&c.erasure);
	exit_cfg = NULL;
	config_free(&c.cfg);
	return rc;
}
