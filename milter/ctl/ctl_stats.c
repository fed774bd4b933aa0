/*
 * ctl_stats.c - optinctl verb "stats": subscriptions per list and state,
 * suppressions by reason, quarantined rows by reason (held and released),
 * consent events of the last 24 hours by event word (DESIGN
 * "optinctl"), and what optin-feedback recorded, by list and kind (all
 * time; "sent" when the milter counted copies).  Two read-only statements
 * (store_stats, store_feedback_stats); text or one JSON object.
 * Then the live figures of the daemons, read from MetricsAddress and
 * UnsubscribeMetricsAddress (prom.h) when set: every counter since that
 * process started, beside the database figures; when a daemon cannot be
 * read, the output says so and why (the exit status stays 0: the database
 * figures are there).  Single-threaded.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "config.h"
#include "ctl.h"
#include "prom.h"
#include "store.h"

#define STATS_WINDOW	(24 * 3600)	/* "events in the last 24 hours" */
#define LIVE_TIMEOUT	3000		/* ms to read a daemon's metrics */

static const char *const groups[] = {
	"subscriptions", "suppressions", "quarantine", "events", "feedback",
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))
#define NLIVE 2

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

/* print_json - {"group": {"key": n | {"key2": n, ...}}, ...} without the
 * closing brace (the live part follows); the store gives the items sorted
 * by group, key, key2 */
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
}

/* The daemons whose live figures stats shows, and where they serve them. */
struct live {
	const char *daemon, *key;	/* "optin-milter", "MetricsAddress" */
	const char *addr;		/* borrowed from the config; NULL */
	struct buf body;		/* owned: the scrape */
	char why[256];			/* when body is not there */
	bool ok;
};

/* live_read - scrape one daemon, or say why not */
static void
live_read(struct live *l)
{
	if (l->addr == NULL)
		snprintf(l->why, sizeof(l->why), "%s not set", l->key);
	else
		l->ok = prom_fetch(l->addr, LIVE_TIMEOUT, &l->body, l->why,
		    sizeof(l->why)) == 0;
}

/* label_next - the next label="value" of a Prometheus label list at *pp:
 * name and unescaped value into the buffers; false at the end */
static bool
label_next(const char **pp, char *name, size_t namelen, char *val,
    size_t vallen)
{
	const char *p = *pp, *eq;
	size_t n = 0;

	while (*p == ',' || *p == ' ')
		p++;
	if ((eq = strchr(p, '=')) == NULL || eq[1] != '"' ||
	    (size_t)(eq - p) >= namelen)
		return false;
	memcpy(name, p, (size_t)(eq - p));
	name[eq - p] = '\0';
	for (p = eq + 2; *p != '\0' && *p != '"'; p++) {
		char ch = *p;

		if (ch == '\\' && p[1] != '\0')
			ch = *++p == 'n' ? '\n' : *p;
		if (n + 1 < vallen)
			val[n++] = ch;
	}
	val[n] = '\0';
	*pp = *p == '"' ? p + 1 : p;
	return true;
}

/* live_text - prom_parse callback: "  name label=value ... N", zero
 * values left out */
static int
live_text(const char *name, const char *labels, double v, void *arg)
{
	char k[128], val[256];
	int *shown = arg;

	if (v == 0)
		return 0;
	printf("  %s", name);
	while (label_next(&labels, k, sizeof(k), val, sizeof(val))) {
		printf(" %s=", k);
		ctl_put_text(stdout, val);
	}
	printf(" %.17g\n", v);
	(*shown)++;
	return 0;
}

/* live_json - prom_parse callback: {"name":..,"labels":{..},"value":N} */
static int
live_json(const char *name, const char *labels, double v, void *arg)
{
	char k[128], val[256];
	int *n = arg, nl = 0;

	fputs((*n)++ > 0 ? ",{\"name\":" : "{\"name\":", stdout);
	ctl_json_str(stdout, name);
	fputs(",\"labels\":{", stdout);
	while (label_next(&labels, k, sizeof(k), val, sizeof(val))) {
		fputs(nl++ > 0 ? "," : "", stdout);
		ctl_json_str(stdout, k);
		fputc(':', stdout);
		ctl_json_str(stdout, val);
	}
	printf("},\"value\":%.17g}", v);
	return 0;
}

/* print_live - the live part, text or the "live" member of the JSON */
static void
print_live(struct live *l, size_t n, bool json)
{
	size_t i;
	int k;

	if (json)
		fputs(",\"live\":{", stdout);
	for (i = 0; i < n; i++) {
		if (json) {
			printf("%s\"%s\":{\"address\":", i ? "," : "",
			    l[i].daemon);
			if (l[i].addr != NULL)
				ctl_json_str(stdout, l[i].addr);
			else
				fputs("null", stdout);
			printf(",\"available\":%s,", l[i].ok ? "true" :
			    "false");
			if (!l[i].ok) {
				fputs("\"why\":", stdout);
				ctl_json_str(stdout, l[i].why);
				fputs("}", stdout);
				continue;
			}
			fputs("\"metrics\":[", stdout);
			k = 0;
			(void)prom_parse((char *)l[i].body.data, live_json, &k);
			fputs("]}", stdout);
			continue;
		}
		if (!l[i].ok) {
			printf("live %s: unavailable (%s)\n", l[i].daemon,
			    l[i].why);
			continue;
		}
		printf("live %s (http://%s%s, since it started; zeros left "
		    "out)\n", l[i].daemon, l[i].addr, PROM_PATH);
		k = 0;
		(void)prom_parse((char *)l[i].body.data, live_text, &k);
		if (k == 0)
			printf("  (none)\n");
	}
	if (json)
		fputs("}", stdout);
}

int
ctl_stats(struct ctl *c, int argc, char **argv)
{
	struct stats_ctx x = { NULL, 0, false };
	struct live live[] = {
		{ "optin-milter", "MetricsAddress", c->cfg->metrics_address,
		    { NULL, 0, 0 }, "", false },
		{ "optin-unsubd", "UnsubscribeMetricsAddress",
		    c->cfg->unsubscribe_metrics_address, { NULL, 0, 0 }, "",
		    false },
	};
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
		for (i = 0; i < NLIVE; i++)
			live_read(&live[i]);
		if (c->json) {
			print_json(&x, since);
			print_live(live, NLIVE, true);
			fputs("}\n", stdout);
		} else {
			print_text(&x);
			print_live(live, NLIVE, false);
		}
	}
	for (i = 0; i < NLIVE; i++)
		buf_free(&live[i].body);
	for (i = 0; i < x.n; i++) {
		free(x.v[i].key);
		free(x.v[i].key2);
	}
	free(x.v);
	return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
}
