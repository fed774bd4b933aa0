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
 */
#ifndef OPTIN_CTL_H
#define OPTIN_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include "store.h"

struct config;

struct ctl {
	const char *cfg_file;		/* -c FILE or NULL (default) */
	struct config *cfg;		/* owned, loaded before the verb runs */
	struct store *st;		/* owned, opened by ctl_store() */
	bool json;			/* --json */
};

typedef int ctl_verb_fn(struct ctl *c, int argc, char **argv);

/*
 * Open the store if not open yet (flags as store_open); on failure print
 * why and exit: EX_NOINPUT (66) when the database file does not exist,
 * EX_TEMPFAIL (75) when it is locked or unreachable, else EX_UNAVAILABLE
 * (69), e.g. for a schema of another version.
 */
struct store *ctl_store(struct ctl *c, unsigned flags);

/* Normalise addr or print "optinctl: bad address 'x': why" and exit 65. */
const char *ctl_addr(const char *addr, char out[321]);

/* The exit code for a failed store call: STORE_NOTFOUND 65 (EX_DATAERR),
 * STORE_TEMPFAIL 75 (EX_TEMPFAIL), STORE_ERROR 70 (EX_SOFTWARE); 0 for
 * STORE_OK. */
int ctl_exit_code(enum store_status st);

/* Print "usage: optinctl ... VERB USAGE" for verb on stderr; returns 64
 * (EX_USAGE) for "return ctl_usage(argv[0]);". */
int ctl_usage(const char *verb);

/* Write s as a JSON string (quoted and escaped) to fp; NULL as null. */
void ctl_json_str(FILE *fp, const char *s);

/* ctl_consent.c: init, migrate, list, subscribe, confirm, unsubscribe,
 * status */
ctl_verb_fn ctl_init, ctl_migrate, ctl_list, ctl_subscribe, ctl_confirm,
	ctl_unsubscribe, ctl_status;
/* ctl_token.c: token newkey|issue|check; dns */
ctl_verb_fn ctl_token, ctl_dns;

#endif
