/*
 * ctl_stats.c - optinctl verb "stats": subscriptions per list and state,
 * suppressions by reason, quarantined rows by reason (held and released),
 * consent events of the last 24 hours by event word (DESIGN
 * "optinctl"), and what optin-feedback recorded, by list and kind (all
 * time; "sent" when the milter counted copies).  Two read-only statements
 * (store_stats, store_feedback_stats); text or one JSON object.
 * Single-threaded.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "ctl.h"
#include "store.h"

#define STATS_WINDOW	(24 * 3600)	/* "events in the last 24 hours" */

static const char *const groups[] = {
	"subscriptions", "suppressions", "quarantine", "events", "feedback",
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

/* The counts, collected first so that every group is printed in order,
 * empty ones too. */
struct stat_item {
	size_t group;			/* index in groups[] */
	char *key, *key2;		/* owned; key2 may be NULL */
	long long n;
};

struct stats_ctx {
	struct stat_item *v;		/* owned */
	size_t n;
	bool nomem;
};

/* stat_add - store_stats callback: keep one count */
static int
stat_add(const struct store_stat *s, void *arg)
{
	struct stats_ctx *x = arg;
	struct stat_item *v, *it;
	size_t g;

	for (g = 0; g < NGROUPS; g++)
		if (strcmp(groups[g], s->group) == 0)
			break;
	if (g == NGROUPS)
		return 0;
	if ((v = realloc(x->v, (x->n + 1) * sizeof(*v))) == NULL)
		goto nomem;
	x->v = v;
	it = &v[x->n];
	it->group = g;
	it->n = s->n;
	it->key2 = NULL;
	if ((it->key = strdup(s->key)) == NULL)
		goto nomem;
	if (s->key2 != NULL && (it->key2 = strdup(s->key2)) == NULL) {
		free(it->key);
		goto nomem;
	}
	x->n++;
	return 0;
nomem:
	x->nomem = true;
	return 1;
}

/* fb_add - store_feedback_stats callback: one count per list and kind
 * (campaigns summed), as a store_stat of group "feedback" */
static int
fb_add(const struct store_fbstat *f, void *arg)
{
	struct stats_ctx *x = arg;
	struct store_stat s = { "feedback", f->list[0] ? f->list : "-",
	    f->kind, f->n };
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->v[i].group == NGROUPS - 1 &&
		    strcmp(x->v[i].key, s.key) == 0 &&
		    strcmp(x->v[i].key2, s.key2) == 0) {
			x->v[i].n += s.n;
			return 0;
		}
	return stat_add(&s, x);
}

/* item_cmp - qsort order of items: key, then key2 */
static int
item_cmp(const void *a, const void *b)
{
	const struct stat_item *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->key2 ? x->key2 : "",
	    y->key2 ? y->key2 : "");
}

/* print_text - the counts as text, one group after another */
static void
print_text(const struct stats_ctx *x)
{
	size_t g, i, shown;

	for (g = 0; g < NGROUPS; g++) {
		printf("%s%s\n", groups[g], g == 3 ? " (last 24 hours)" : "");
		for (i = 0, shown = 0; i < x->n; i++) {
			if (x->v[i].group != g)
				continue;
			fputs("  ", stdout);
			ctl_put_text(stdout, x->v[i].key);
			if (x->v[i].key2 != NULL) {
				fputc(' ', stdout);
				ctl_put_text(stdout, x->v[i].key2);
			}
			printf(" %lld\n", x->v[i].n);
			shown++;
		}
		if (shown == 0)
			printf("  (none)\n");
	}
}

/* print_json - {"group": {"key": n | {"key2": n, ...}}, ...}; the store
 * gives the items sorted by group, key, key2 */
static void
print_json(const struct stats_ctx *x, time_t since)
{
	const struct stat_item *it, *prev;
	size_t g, i, nk;

	printf("{\"since\":%lld", (long long)since);
	for (g = 0; g < NGROUPS; g++) {
		printf(",\"%s\":{", groups[g]);
		prev = NULL;
		nk = 0;
		for (i = 0; i < x->n; i++) {
			it = &x->v[i];
			if (it->group != g)
				continue;
			if (it->key2 == NULL) {
				fputs(nk++ > 0 ? "," : "", stdout);
				ctl_json_str(stdout, it->key);
				printf(":%lld", it->n);
				continue;
			}
			if (prev == NULL || strcmp(prev->key, it->key) != 0) {
				if (prev != NULL)
					fputc('}', stdout);
				fputs(nk++ > 0 ? "," : "", stdout);
				ctl_json_str(stdout, it->key);
				fputs(":{", stdout);
			} else
				fputc(',', stdout);
			ctl_json_str(stdout, it->key2);
			printf(":%lld", it->n);
			prev = it;
		}
		if (prev != NULL)
			fputc('}', stdout);
		fputc('}', stdout);
	}
	fputs("}\n", stdout);
}

int
ctl_stats(struct ctl *c, int argc, char **argv)
{
	struct stats_ctx x = { NULL, 0, false };
	enum store_status rs;
	time_t since;
	char why[512];
	size_t i, first_fb;

	if (argc != 1)
		return ctl_usage(argv[0]);
	(void)ctl_store(c, STORE_READONLY);
	since = time(NULL) - STATS_WINDOW;
	rs = store_stats(c->st, since, stat_add, &x, why, sizeof(why));
	first_fb = x.n;
	if (rs == STORE_OK && !x.nomem)
		rs = store_feedback_stats(c->st, 0, fb_add, &x, why,
		    sizeof(why));
	/* campaigns summed into list totals: sort those last items again */
	if (rs == STORE_OK && !x.nomem && x.n > first_fb)
		qsort(x.v + first_fb, x.n - first_fb, sizeof(x.v[0]), item_cmp);
	if (rs == STORE_OK && x.nomem) {
		snprintf(why, sizeof(why), "out of memory");
		rs = STORE_ERROR;
	}
	if (rs == STORE_OK) {
		if (c->json)
			print_json(&x, since);
		else
			print_text(&x);
	}
	for (i = 0; i < x.n; i++) {
		free(x.v[i].key);
		free(x.v[i].key2);
	}
	free(x.v);
	return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
}
