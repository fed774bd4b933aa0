/*
 * ctl_qsel.h - which quarantine rows an optinctl quarantine subverb acts on:
 * its options (filters), and the rows named by IDs, by '-' (IDs read from
 * standard input, like "postsuper -d -"), by a filter or by ALL.
 * Single-threaded; everything returned is owned by the caller.
 */
#ifndef CTL_QSEL_H
#define CTL_QSEL_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "ctl.h"
#include "store.h"

/* The options of the quarantine subverbs; QOPT(o) is the bit of one in the
 * allowed and seen masks. */
enum {
	QOPT_REASON = 1, QOPT_LIST, QOPT_SENDER, QOPT_OLDER, QOPT_BEFORE,
	QOPT_ALL, QOPT_FORCE
};
#define QOPT(o)		(1u << (o))
/* the options that select rows */
#define QOPT_FILTERS	(QOPT(QOPT_REASON) | QOPT(QOPT_LIST) | \
	QOPT(QOPT_SENDER) | QOPT(QOPT_OLDER) | QOPT(QOPT_BEFORE))

/* Options after a subverb.  f.list and f.reason point into argv. */
struct qopts {
	struct store_qfilter f;
	long older;			/* --older-than, seconds; -1: unset */
	bool all, force;		/* --all, --force */
	unsigned seen;			/* QOPT() of each option given */
	char sender[ADDR_MAX + 1];	/* f.sender, normalised */
};

/*
 * Parse the options after the subverb argv[0]: only those in allowed (QOPT
 * bits).  --list must be a list id (campaign_list_ok), --reason one of
 * quarantine_reason(), --older-than an age, --before a date (YYYY-MM-DD or
 * YYYY-MM-DDTHH:MM:SSZ, UTC); --older-than and --before both set f.before
 * (the earlier wins).  0 with *first_r the index of the first operand, or
 * an exit code (64) after printing why, naming the option.
 */
int qsel_parse(int argc, char **argv, unsigned allowed, struct qopts *o,
	    int *first_r);

/* Rows selected, each once, by id; the words that selected nothing. */
struct qset {
	struct store_qrow *row;		/* owned, strings owned */
	size_t n;
	char **missing;			/* owned: IDs that matched no row */
	size_t nmissing;
	bool single;			/* one row ID was given, nothing else */
	bool nomem;			/* a copy failed */
};

/*
 * The rows of "quarantine VERB" named by words[0..nwords) and o: row
 * numbers, queue IDs (every row of that message), '-' (the same, read
 * from standard input, white-space separated), ALL, or filters (not mixed
 * with IDs).  Nothing at all is a usage error: ALL must be explicit.  Rows
 * found by a queue ID, a filter or ALL leave out released ones when
 * held_only.  Every ID is checked before the store is asked.  EX_OK, or an
 * exit code after printing why; s is to be freed with qset_free() either
 * way.
 */
int qsel_select(struct ctl *c, const char *verb, char **words, int nwords,
	    const struct qopts *o, bool held_only, struct qset *s);

/* Free what s holds; s can be used again. */
void qset_free(struct qset *s);

/* Print "optinctl quarantine VERB: ..." for a bad ID and return 64. */
int qsel_bad_id(const char *verb, const char *word);

#endif
