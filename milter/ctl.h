/*
 * ctl.h - optinctl's shared context and verb interface.
 *
 * optinctl.c holds main() and the verb table; each ctl_*.c file implements
 * one verb group.  A verb gets argv after the verb name (argv[0] is the verb),
 * prints human-readable text or, with c->json, JSON on stdout, errors on
 * stderr, and returns a sysexits.h code (DESIGN "optinctl").
 */
#ifndef OPTIN_CTL_H
#define OPTIN_CTL_H

#include <stdbool.h>

struct config;
struct store;

struct ctl {
	const char *cfg_file;		/* -c FILE or NULL (default) */
	struct config *cfg;		/* owned, loaded before the verb runs */
	struct store *st;		/* owned, opened by ctl_store() */
	bool json;			/* --json */
};

typedef int ctl_verb_fn(struct ctl *c, int argc, char **argv);

/* Open the store if not open yet (flags as store_open); on failure print
 * why and exit with EX_UNAVAILABLE (69) or EX_TEMPFAIL (75). */
struct store *ctl_store(struct ctl *c, unsigned flags);

/* Normalise addr or print "optinctl: bad address 'x': why" and exit 65. */
const char *ctl_addr(const char *addr, char out[321]);

/* ctl_consent.c: init, migrate, list, subscribe, confirm, unsubscribe,
 * status */
ctl_verb_fn ctl_init, ctl_list, ctl_subscribe, ctl_confirm,
	ctl_unsubscribe, ctl_status;
/* ctl_token.c: token newkey|issue|check; dns */
ctl_verb_fn ctl_token, ctl_dns;

#endif
