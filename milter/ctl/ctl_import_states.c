/*
 * ctl_import_states.c - the end of optinctl import's summary: how many of
 * the imported (address, list) pairs will not get campaign mail, and why
 * (issue 13 item 10).  The pipeline (ctl_import.c) counts each pair once,
 * in the state it is left in; this file names the states and prints them.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>

#include "consent.h"
#include "ctl_import.h"

/* DESIGN's words, in enum imp_state order */
static const char *const imp_state_word[IMP_NSTATES] = {
	"opted_in", "pending", "opted_out", "suppressed", "erased",
};

/* state_of - the bucket of a pair left in state now */
static enum imp_state
state_of(enum sub_status now, bool suppressed)
{
	if (suppressed)
		return IMP_SUPPRESSED;
	if (now == SUB_OPTED_IN)
		return IMP_OPTED_IN;
	if (now == SUB_PENDING)
		return IMP_PENDING;
	return IMP_OPTED_OUT;
}

void
import_states_count(struct import_states *st, enum sub_status now,
    bool suppressed)
{
	st->n[state_of(now, suppressed)]++;
}

void
import_states_uncount(struct import_states *st, enum sub_status now,
    bool suppressed)
{
	enum imp_state s = state_of(now, suppressed);

	if (st->n[s] > 0)
		st->n[s]--;
}

void
import_states_print(const struct import_states *st, FILE *fp)
{
	/* the reasons in the order they are printed */
	static const enum imp_state why[] = {
		IMP_PENDING, IMP_OPTED_OUT, IMP_SUPPRESSED, IMP_ERASED,
	};
	unsigned long total = 0, blocked;
	const char *sep = ": ";
	size_t i;

	for (i = 0; i < IMP_NSTATES; i++)
		total += st->n[i];
	blocked = total - st->n[IMP_OPTED_IN];
	if (blocked == 0)
		return;
	fprintf(fp, "%lu of %lu will not get campaign mail", blocked, total);
	for (i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
		if (st->n[why[i]] == 0)
			continue;
		fprintf(fp, "%s%lu %s%s", sep, st->n[why[i]],
		    imp_state_word[why[i]], why[i] == IMP_PENDING ?
		    " (double opt-in not confirmed)" : "");
		sep = ", ";
	}
	fputc('\n', fp);
}

void
import_states_json(const struct import_states *st, FILE *fp)
{
	int i;

	fputs("\"states\":{", fp);
	for (i = 0; i < IMP_NSTATES; i++)
		fprintf(fp, "%s\"%s\":%lu", i > 0 ? "," : "",
		    imp_state_word[i], st->n[i]);
	fputc('}', fp);
}
