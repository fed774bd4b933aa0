/*
 * ctl.h - optinctl's shared context and verb interface.
 *
 * optinctl.c holds main() and the verb table; each ctl_*.c file implements
 * one verb group.  A verb gets argv after the verb name (argv[0] is the verb),
 * prints human-readable text or, with c->json, JSON on stdout, errors on
 * stderr, and returns a sysexits.h code (DESIGN "optinctl").
 *
 * main() removes the global options -c FILE and --json wherever they stand
 * and answers -h/--help after the verb itself, so a verb sees neither.  The
 * config is loaded before a verb runs (config errors exit 78).
 *
 * Run as root with UserID set, optinctl reads the token key ring and then
 * becomes UserID before it opens the database (ctl_store, ctl_become_user),
 * as the daemons do: files it creates belong to UserID, and every answer
 * is the one UserID gets.  Every consent event it writes names the Unix
 * user who ran it (and SUDO_USER) as its user_agent (c->agent).
 */
#ifndef OPTIN_CTL_H
#define OPTIN_CTL_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "store.h"

struct config;

struct token_ring;

struct ctl {
	const char *cfg_file;		/* -c FILE or NULL (default) */
	struct config *cfg;		/* owned, loaded before the verb runs */
	struct store *st;		/* owned, opened by ctl_store() */
	struct token_ring *ring;	/* owned, loaded by ctl_ring() */
	struct token_ring *erasure;	/* owned, ErasureKeyFile's ring */
	struct store_erasure er;	/* borrows ring and erasure */
	char er_why[2][512];		/* why erasure, ring did not load */
	bool json;			/* --json */
	bool dropped;			/* ctl_become_user() ran */
	bool er_checked;		/* ctl_erasure() passed once */
	bool none_erased;		/* the open transaction saw no erased
					   form at all (ctl_erased_none) */
	char agent[160];		/* "optinctl user=U[ sudo_user=S]":
					   user_agent of every event */
};

typedef int ctl_verb_fn(struct ctl *c, int argc, char **argv);

/*
 * Open the store if not open yet (flags as store_open); on failure print
 * why and exit: EX_NOINPUT (66) when the database file does not exist, a
 * permission problem as ctl_exit_for(), EX_TEMPFAIL (75) when it is locked
 * or unreachable, else EX_UNAVAILABLE (69), e.g. for a schema of another
 * version.  What the admin should act on (store_warning: the file readable
 * by others, a schema to migrate) goes to stderr as "optinctl: warning:";
 * with STORE_MIGRATE the store makes no schema remark (migrate is the act),
 * the file's mode is still said.
 */
struct store *ctl_store(struct ctl *c, unsigned flags);

/* Print store_warning() of st (may be NULL), if any, on stderr as
 * "optinctl: warning: ...". */
void ctl_store_warn(const struct store *st);

/* Normalise addr or print "optinctl: bad address 'x': why" and exit 65. */
const char *ctl_addr(const char *addr, char out[321]);

/*
 * The exit code for a failed call (st) on the store ConsentDB of cfg
 * names, the one home of this mapping: a permission problem on its files
 * (store_access: not mended by retrying) is 66 (EX_NOINPUT) when a file
 * may not be read, 73 (EX_CANTCREAT) when one may not be written or
 * created; otherwise STORE_NOTFOUND 65 (EX_DATAERR), STORE_TEMPFAIL 75
 * (EX_TEMPFAIL, e.g. a lock held past DBBusyTimeout), STORE_ERROR 70
 * (EX_SOFTWARE); 0 for STORE_OK.  After a failed store_open, pass
 * open_failed: then STORE_ERROR is 69 (EX_UNAVAILABLE).
 */
int ctl_exit_for(const struct config *cfg, enum store_status st,
	    bool open_failed);
/*
 * The exit code for a store_open(cfg, flags) that failed with st, the one
 * home of it for every verb (ctl_store, init, copy-store): a database file
 * that is not there after the attempt is 73 (EX_CANTCREAT) with
 * STORE_CREATE (its directory is missing, say), 66 (EX_NOINPUT) without;
 * otherwise ctl_exit_for(cfg, st, true) (a file that is not a database
 * 69, as every other open).
 */
int ctl_open_exit(const struct config *cfg, enum store_status st,
	    unsigned flags);
/* ctl_exit_for() on the ConsentDB of optinctl's configuration. */
int ctl_exit_code(enum store_status st);

/* Print "usage: optinctl ... VERB USAGE" for verb on stderr; returns 64
 * (EX_USAGE) for "return ctl_usage(argv[0]);". */
int ctl_usage(const char *verb);

/*
 * Check value, the list id given as arg ("--list", "LIST") of verb, with
 * the one list-id syntax (campaign_list_ok, core/campaign.h; campaign
 * names share it): EX_OK, or 64 (EX_USAGE) after printing "optinctl VERB:
 * bad ARG 'VALUE' (1 to 64 letters, ...)".  Every verb that takes a list
 * from the command line calls it before the store is asked.
 */
int ctl_list_arg(const char *verb, const char *arg, const char *value);

/* For a getopt_long(":") loop: print why argv[optind - 1] was refused
 * ("option '-x' needs a value" when ch is ':', else "unknown option") as
 * "optinctl VERB: ..." on stderr and return ctl_usage(verb). */
int ctl_bad_option(const char *verb, int ch, char **argv);

/* Write s as a JSON string (quoted and escaped) to fp; NULL as null.
 * Control characters (C0, DEL, C1) as \u escapes, bytes that are not
 * UTF-8 as \ufffd (one per maximal subpart, utf8_decode_fffd): the output
 * is valid UTF-8 whatever a database holds.  Every JSON string of optinctl
 * goes through here. */
void ctl_json_str(FILE *fp, const char *s);

/* Print "optinctl: why" on stderr and return ctl_exit_code(st). */
int ctl_fail(enum store_status st, const char *why);

/* End the transaction of c->st begun with store_begin(): commit when rs
 * (the status of its last step) is STORE_OK, else, or when the commit
 * fails, roll back and ctl_fail() with why.  EX_OK or the exit code. */
int ctl_tx_end(struct ctl *c, enum store_status rs, char *why,
	    size_t whylen);

/* Is s printable text (valid UTF-8, no control characters: C0, DEL or
 * C1) of at most max bytes?  The same on both engines (PostgreSQL refuses invalid
 * UTF-8). */
bool ctl_text_ok(const char *s, size_t max);

/*
 * The TokenKeyFile ring, loaded on first use; NULL with why[] filled when
 * TokenKeyFile is not set or cannot be read.  Owned by c.
 */
const struct token_ring *ctl_ring(struct ctl *c, char *why, size_t whylen);

/*
 * The keys of erased forms (store.h): ErasureKeyFile's ring and, for the
 * legacy forms, TokenKeyFile's, each loaded where its key is set.  The
 * store must be open: when the database keeps erased forms that the keys
 * loaded cannot make, prints "optinctl VERB: ..." and exits 78, so that no
 * verb takes an erased person for a stranger.  Owned by c.
 */
const struct store_erasure *ctl_erasure(struct ctl *c, const char *verb);

/*
 * For a verb that runs many rows in one store transaction (import): ask
 * once whether the database keeps any erased form (store_erased_kinds);
 * while none, ctl_erased_form() answers "not erased" without a query per
 * address.  Only on SQLite, where the transaction keeps every other
 * writer out; elsewhere it changes nothing.  Call it at the start of
 * every transaction (another program may forget someone in between) and
 * with end set when the transaction is over (then every
 * ctl_erased_form() asks again).  EX_OK or the exit code of the store
 * failure (after a message).
 */
int ctl_erased_none(struct ctl *c, bool end);

/*
 * Is addr erased (the store must be open; store_erased() with
 * ctl_erasure())?  *hash_r is h, the erased form kept for it, when it is,
 * NULL when it is not.  When the keys to tell are missing, it prints why
 * and returns EX_CONFIG: an answer blind to erased people would differ
 * from one that sees them.  EX_OK otherwise.
 */
int ctl_erased_form(struct ctl *c, const char *addr, char h[STORE_HASH_MAX],
	    const char **hash_r);

/*
 * For a verb that hands out something personal to addr (token issue,
 * token bounce): opens the store (ctl_store) and asks ctl_erased_form().
 * An erased person gets nothing that names them again: prints
 * "optinctl VERB: ADDR was erased (optinctl forget): WHAT" and returns
 * EX_DATAERR.  EX_OK when addr is not erased; another exit code after a
 * message when the store cannot tell.
 */
int ctl_refuse_erased(struct ctl *c, const char *verb, const char *addr,
	    const char *what);

/*
 * For a verb that hands out something for list (token issue, token
 * bounce): opens the store (ctl_store) and asks whether list exists.
 * EX_OK when it does; "optinctl: no such list 'LIST'" and EX_DATAERR when
 * it does not (a token or bounce address for it would name nothing);
 * another exit code after a message when the store cannot tell.
 */
int ctl_need_list(struct ctl *c, const char *list);

/*
 * Run as root with UserID set: load the token key ring while root may
 * read it, then become UserID (privdrop_to) for good.  Once per run; a
 * failed drop exits EX_OSERR.  ctl_store() calls it; so does any verb
 * that touches the database or QuarantineDir without ctl_store().
 */
void ctl_become_user(struct ctl *c);

struct reconsent;

/*
 * The gate of every optinctl change that sets addr to status (subscribe,
 * confirm, import; reconsent.h): *r_r says what blocks an opt-in (filled
 * for opt-outs too).  An opt-out passes.  An opt-in or pending of an
 * erased or suppressed address is refused unless lift is true and
 * ev->evidence is non-empty: then the block is lifted, with its events.
 * EX_OK (go on), EX_DATAERR with the refusal in why[] (nothing printed),
 * or another exit code after printing why.  Inside the caller's store
 * transaction.
 */
int ctl_reconsent(struct ctl *c, const char *addr, enum sub_status status,
	    const struct consent_event *ev, bool lift, struct reconsent *r_r,
	    char *why, size_t whylen);

/*
 * ErasureKeyFile for init and forget (store open): when the file does not
 * exist, create it with one fresh key (*created_r), unless the database
 * keeps forms made with a key (a lost file is restored, not replaced); then
 * load it.  EX_OK, or an exit code after printing why.
 */
int ctl_erasure_ready(struct ctl *c, const char *verb, bool *created_r);

/* The first line of a new ErasureKeyFile. */
#define ERASURE_KEYFILE_HEADER "# optin-milter ErasureKeyFile: the keys of " \
	"erased addresses (optinctl forget); back it up with the database\n"

/*
 * ctl_token.c: append a fresh random 32-byte key with the next free id to
 * the key file path, creating it (mode 0600, header as its first line)
 * when missing; with only_create, do nothing to a file that exists.
 * *id_r gets the id, *created_r whether the file was made.  EX_OK, or an
 * exit code after printing "optinctl: PATH: why".
 */
int ctl_keyfile_add(const char *path, const char *header, bool only_create,
	    unsigned *id_r, bool *created_r);


/* What ctl_spool_remove() did with a spool file. */
struct spool_gone {
	bool removed;			/* it is gone: unlinked, or missing */
	bool missing;			/* it was gone already */
};

/*
 * Remove the spool file name from QuarantineDir when no quarantine row
 * names it any more (g_r->removed; g_r->missing too when there was no such
 * file: only removed && !missing counts a file really removed); the name
 * is checked with quarantine_name_ok() first.  EX_OK, or an exit code
 * after printing why.
 */
int ctl_spool_remove(struct ctl *c, const char *name,
	    struct spool_gone *g_r);

/* Parse an age or duration: a number with an optional unit s, m, h, d or
 * w (seconds without one); 0 and *secs_r, or -1. */
int ctl_parse_age(const char *s, long *secs_r);

/* Print the members of quarantine row q as JSON on stdout, without the
 * braces, so that a caller can add its own ("id", "queue_id", ...,
 * "released_at"). */
void ctl_qrow_json_fields(const struct store_qrow *q);

/* Write s to fp for a terminal: control characters (C0, DEL, C1) as '?',
 * other characters a reader cannot see or that reorder the text around
 * them (utf8_invisible: bidirectional overrides such as U+202E, zero-width
 * and odd spaces) as "<U+XXXX>", bytes that are not UTF-8 as U+FFFD (one
 * per maximal subpart), NULL as "-".  For stored text that reaches a
 * terminal (a list name written with SQL, a browser's User-Agent). */
void ctl_put_text(FILE *fp, const char *s);

/* t as "YYYY-MM-DDTHH:MM:SSZ" (UTC) in buf (21 bytes); "-" for 0. */
const char *ctl_iso_time(time_t t, char buf[32]);

/* ctl_consent.c: init, migrate, list, subscribe, confirm, unsubscribe,
 * status */
ctl_verb_fn ctl_init, ctl_migrate, ctl_list, ctl_subscribe, ctl_confirm,
	ctl_unsubscribe, ctl_status;
/* ctl_token.c: token newkey|issue|check */
ctl_verb_fn ctl_token;
/* ctl_dns.c: dns [DOMAIN] (DKIM records; DKIM, SPF and DMARC verdicts) */
ctl_verb_fn ctl_dns;
/* ctl_dsar.c: history, export, forget (data-subject rights) */
ctl_verb_fn ctl_history, ctl_export, ctl_forget;
/* ctl_import.c: import, export-list */
ctl_verb_fn ctl_import, ctl_export_list;
/* ctl_quarantine.c: quarantine list|show|release|delete|purge */
ctl_verb_fn ctl_quarantine;
/* ctl_stats.c: stats */
ctl_verb_fn ctl_stats;
/* ctl_copy.c: copy-store FROM TO (between engines) */
ctl_verb_fn ctl_copy_store;
/* ctl_feedback.c: feedback, campaign ls|resume */
ctl_verb_fn ctl_feedback, ctl_campaign;
/* ctl_feedback.c: one feedback row as a JSON object on stdout (optinctl
 * feedback --json, export) */
void ctl_fbrow_json(const struct store_fbrow *r);
/* ctl_feedback.c: "token bounce ADDR LIST [CAMPAIGN]": print the personal
 * bounce address (BounceAddress); an exit code */
int ctl_token_bounce(struct ctl *c, const char *addr, const char *list,
	    const char *campaign);

#endif
