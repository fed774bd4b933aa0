/*
 * ctl_feedback.c - optinctl verbs about bounces and complaints (DESIGN
 * "Feedback: bounces and complaints"):
 *
 *	feedback [--since AGE]	per list and per campaign: sent, hard, soft
 *				and policy bounces, complaints, auto-replies,
 *				unusable reports, the complaint rate against
 *				the 0.1% / 0.3% thresholds; paused campaigns;
 *				the addresses feedback acted on
 *	campaign ls		paused campaigns
 *	campaign pause LIST CAMPAIGN [--reason TEXT]
 *				pause by hand, as PolicyBounceLimit does
 *				(exit 65 when paused already)
 *	campaign resume NAME	end a pause (exit 65 when not paused)
 *	token bounce ADDR LIST [CAMPAIGN]
 *				the personal bounce address (BounceAddress)
 *
 * Text, or one JSON object with --json.  Exit codes as every verb
 * (ctl.h).  Single-threaded.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "addr.h"
#include "bounce.h"
#include "config.h"
#include "ctl.h"
#include "token.h"

/* the kind words of store.h, and "sent", in the order printed */
static const char *const kinds[] = { "sent", "hard_bounce", "soft_bounce",
	"policy_bounce", "complaint", "auto_reply", "unusable" };
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* complaint-rate thresholds of the large mailbox providers: 0.1% is the
 * level to stay under, 0.3% the one never to reach */
#define RATE_WARN	0.001
#define RATE_OVER	0.003

struct fbgroup {
	char *list;		/* owned */
	char *campaign;		/* owned; NULL for a list total */
	long long n[NKINDS];
};

struct fbctx {
	struct fbgroup *v;	/* owned */
	size_t n;
	bool nomem;
};

/* group_get - the index of group (list, campaign), made on first use;
 * -1 when out of memory (indexes, as the array moves) */
static long
group_get(struct fbctx *x, const char *list, const char *campaign)
{
	struct fbgroup *g;
	size_t i;

	for (i = 0; i < x->n; i++)
		if (strcmp(x->v[i].list, list) == 0 && ((campaign == NULL &&
		    x->v[i].campaign == NULL) || (campaign != NULL &&
		    x->v[i].campaign != NULL &&
		    strcmp(x->v[i].campaign, campaign) == 0)))
			return (long)i;
	if ((g = realloc(x->v, (x->n + 1) * sizeof(*g))) == NULL)
		return -1;
	x->v = g;
	g = &x->v[x->n];
	memset(g, 0, sizeof(*g));
	g->list = strdup(list);
	g->campaign = campaign != NULL ? strdup(campaign) : NULL;
	if (g->list == NULL || (campaign != NULL && g->campaign == NULL)) {
		free(g->list);
		free(g->campaign);
		return -1;
	}
	return (long)x->n++;
}

/* fb_add - store_feedback_stats callback: add to the list's total and to
 * its campaign's */
static int
fb_add(const struct store_fbstat *s, void *ctx)
{
	struct fbctx *x = ctx;
	long g[2];
	size_t i, k;

	for (k = 0; k < NKINDS && strcmp(kinds[k], s->kind) != 0; k++)
		;
	if (k == NKINDS)
		return 0;
	g[0] = group_get(x, s->list, NULL);
	g[1] = s->campaign[0] != '\0' ? group_get(x, s->list, s->campaign) :
	    g[0];
	if (g[0] < 0 || g[1] < 0) {
		x->nomem = true;
		return 1;
	}
	for (i = 0; i < (g[0] == g[1] ? 1u : 2u); i++)
		x->v[g[i]].n[k] += s->n;
	return 0;
}

/* rate_level - "ok", "warn" (at or over 0.1%), "over" (at or over 0.3%),
 * or "unknown" without a sent count */
static const char *
rate_level(const struct fbgroup *g, double *rate_r)
{
	*rate_r = g->n[0] > 0 ? (double)g->n[4] / (double)g->n[0] : 0;
	if (g->n[0] == 0)
		return "unknown";
	return *rate_r >= RATE_OVER ? "over" : *rate_r >= RATE_WARN ?
	    "warn" : "ok";
}

/* print_groups - the list totals (campaigns == false) or the campaigns */
static void
print_groups(struct ctl *c, const struct fbctx *x, bool campaigns)
{
	const char *lvl;
	double rate;
	size_t i, k;
	bool first = true;

	for (i = 0; i < x->n; i++) {
		const struct fbgroup *g = &x->v[i];

		if ((g->campaign != NULL) != campaigns)
			continue;
		lvl = rate_level(g, &rate);
		if (c->json) {
			printf("%s{", first ? "" : ",");
			if (campaigns) {
				printf("\"campaign\":");
				ctl_json_str(stdout, g->campaign);
				printf(",");
			}
			printf("\"list\":");
			ctl_json_str(stdout, g->list[0] ? g->list : NULL);
			for (k = 0; k < NKINDS; k++)
				printf(",\"%s\":%lld", kinds[k], g->n[k]);
			if (g->n[0] > 0)
				printf(",\"complaint_rate\":%.6f", rate);
			else
				printf(",\"complaint_rate\":null");
			printf(",\"complaint_level\":\"%s\"}", lvl);
		} else {
			if (campaigns) {
				printf("campaign ");
				ctl_put_text(stdout, g->campaign);
				printf(" list ");
			} else
				printf("list ");
			ctl_put_text(stdout, g->list[0] ? g->list : NULL);
			printf(":");
			for (k = 0; k < NKINDS; k++)
				printf(" %s=%lld", kinds[k], g->n[k]);
			if (g->n[0] > 0)
				printf(" complaint_rate=%.3f%% (%s)\n",
				    rate * 100, lvl);
			else
				printf(" complaint_rate=- (no sent count)\n");
		}
		first = false;
	}
}

/* pause_print - store_campaign_ls callback */
static int
pause_print(const struct store_pause *p, void *ctx)
{
	struct ctl *c = ctx;
	char t[32];
	static bool first = true;

	if (c->json) {
		printf("%s{\"campaign\":", first ? "" : ",");
		ctl_json_str(stdout, p->campaign);
		printf(",\"reason\":");
		ctl_json_str(stdout, p->reason);
		printf(",\"paused_at\":\"%s\"}", ctl_iso_time(p->paused_at, t));
	} else {
		printf("paused ");
		ctl_put_text(stdout, p->campaign);
		printf(" since %s: ", ctl_iso_time(p->paused_at, t));
		ctl_put_text(stdout, p->reason);
		printf("\n");
	}
	first = false;
	return 0;
}

void
ctl_fbrow_json(const struct store_fbrow *r)
{
	char t[32];

	printf("{\"address\":");
	ctl_json_str(stdout, r->fb.addr);
	printf(",\"list\":");
	ctl_json_str(stdout, r->fb.list);
	printf(",\"campaign\":");
	ctl_json_str(stdout, r->fb.campaign);
	printf(",\"kind\":\"%s\",\"status\":", r->fb.kind);
	ctl_json_str(stdout, r->fb.status);
	printf(",\"reporting_mta\":");
	ctl_json_str(stdout, r->fb.reporting_mta);
	printf(",\"diagnostic\":");
	ctl_json_str(stdout, r->fb.diagnostic);
	printf(",\"arrival\":");
	ctl_json_str(stdout, r->fb.arrival);
	printf(",\"identity\":");
	ctl_json_str(stdout, r->fb.identity);
	printf(",\"acted\":%s,\"received_at\":\"%s\"}",
	    r->fb.acted ? "true" : "false",
	    ctl_iso_time(r->fb.received_at, t));
}

/* acted_print - store_feedback_ls callback: who feedback acted on */
static int
acted_print(const struct store_fbrow *r, void *ctx)
{
	struct ctl *c = ctx;
	char t[32];
	static bool first = true;

	if (c->json) {
		fputs(first ? "" : ",", stdout);
		ctl_fbrow_json(r);
	} else {
		printf("acted ");
		ctl_put_text(stdout, r->fb.addr);
		printf(" kind=%s list=", r->fb.kind);
		ctl_put_text(stdout, r->fb.list);
		printf(" campaign=");
		ctl_put_text(stdout, r->fb.campaign);
		printf(" status=");
		ctl_put_text(stdout, r->fb.status);
		printf(" identity=");
		ctl_put_text(stdout, r->fb.identity);
		printf(" at %s\n", ctl_iso_time(r->fb.received_at, t));
	}
	first = false;
	return 0;
}

int
ctl_feedback(struct ctl *c, int argc, char **argv)
{
	struct fbctx x = { NULL, 0, false };
	enum store_status rs;
	long age = 0;
	time_t since = 0;
	char why[512];
	size_t i;
	bool sent = false;

	if (argc == 3 && strcmp(argv[1], "--since") == 0) {
		if (ctl_parse_age(argv[2], &age) < 0)
			return ctl_usage(argv[0]);
		since = time(NULL) - age;
	} else if (argc != 1)
		return ctl_usage(argv[0]);
	(void)ctl_store(c, STORE_READONLY);
	rs = store_feedback_stats(c->st, since, fb_add, &x, why, sizeof(why));
	if (rs == STORE_OK && x.nomem) {
		snprintf(why, sizeof(why), "out of memory");
		rs = STORE_ERROR;
	}
	for (i = 0; i < x.n; i++)
		sent |= x.v[i].n[0] > 0;
	if (rs == STORE_OK) {
		if (c->json)
			printf("{\"lists\":[");
		print_groups(c, &x, false);
		if (c->json)
			printf("],\"campaigns\":[");
		print_groups(c, &x, true);
		if (c->json)
			printf("],\"paused\":[");
		rs = store_campaign_ls(c->st, pause_print, c, why,
		    sizeof(why));
	}
	if (rs == STORE_OK) {
		if (c->json)
			printf("],\"acted\":[");
		rs = store_feedback_ls(c->st, NULL, since, true, acted_print, c,
		    why, sizeof(why));
	}
	if (rs == STORE_OK) {
		if (c->json)
			printf("],\"sent_counted\":%s}\n", sent ? "true" :
			    "false");
		else if (!sent)
			printf("note: no sent counts recorded yet (the milter "
			    "does not count copies yet): rates unknown\n");
	}
	for (i = 0; i < x.n; i++) {
		free(x.v[i].list);
		free(x.v[i].campaign);
	}
	free(x.v);
	return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
}

/*
 * campaign_pause - campaign pause LIST CAMPAIGN [--reason TEXT]: the same
 * pause as PolicyBounceLimit's (store_campaign_pause), made by hand; the
 * pause row is its record: the reason says an admin made it, on which
 * list, who ran optinctl (c->agent) and why, paused_at when.  Exit 65 when
 * the list does not exist or the campaign is paused already (its pause is
 * kept as it was).
 */
static int
campaign_pause(struct ctl *c, int argc, char **argv)
{
	const char *list, *camp, *text = NULL;
	char why[512], reason[400], t[32], old[200];
	enum store_status rs;
	time_t since = 0;
	int rc;

	if (argc == 6 && strcmp(argv[4], "--reason") == 0)
		text = argv[5];
	else if (argc != 4)
		return ctl_usage(argv[0]);
	list = argv[2];
	camp = argv[3];
	if (ctl_list_arg("campaign pause", "LIST", list) != EX_OK ||
	    ctl_list_arg("campaign pause", "CAMPAIGN", camp) != EX_OK)
		return EX_USAGE;
	if (text != NULL && (text[0] == '\0' || !ctl_text_ok(text, 120) ||
	    strpbrk(text, "%") != NULL)) {
		fprintf(stderr, "optinctl campaign pause: bad --reason (1 to "
		    "120 printable characters, no '%%')\n");
		return EX_USAGE;
	}
	snprintf(reason, sizeof(reason), "paused by an admin%s%s (list=%s; "
	    "%s)", text != NULL ? ": " : "", text != NULL ? text : "", list,
	    c->agent);
	(void)ctl_store(c, 0);
	if ((rs = store_begin(c->st, why, sizeof(why))) != STORE_OK)
		return ctl_fail(rs, why);
	rs = store_list_exists(c->st, list, NULL, why, sizeof(why));
	if (rs == STORE_NOTFOUND) {
		store_rollback(c->st);
		fprintf(stderr, "optinctl campaign pause: no such list '%s'\n",
		    list);
		return EX_DATAERR;
	}
	if (rs == STORE_OK) {
		rs = store_campaign_paused(c->st, camp, old, sizeof(old),
		    &since, why, sizeof(why));
		if (rs == STORE_OK) {
			store_rollback(c->st);
			fprintf(stderr, "optinctl campaign pause: %s is paused "
			    "already, since %s: ", camp, ctl_iso_time(since,
			    t));
			ctl_put_text(stderr, old);
			fputc('\n', stderr);
			return EX_DATAERR;
		}
		if (rs == STORE_NOTFOUND)
			rs = store_campaign_pause(c->st, camp, reason, why,
			    sizeof(why));
	}
	if ((rc = ctl_tx_end(c, rs, why, sizeof(why))) != EX_OK)
		return rc;
	if (c->json) {
		printf("{\"campaign\":");
		ctl_json_str(stdout, camp);
		printf(",\"list\":");
		ctl_json_str(stdout, list);
		printf(",\"paused\":true,\"reason\":");
		ctl_json_str(stdout, reason);
		printf("}\n");
	} else {
		printf("paused %s: ", camp);
		ctl_put_text(stdout, reason);
		printf("\n");
	}
	return EX_OK;
}

int
ctl_campaign(struct ctl *c, int argc, char **argv)
{
	enum store_status rs;
	char why[512];

	if (argc == 2 && strcmp(argv[1], "ls") == 0) {
		(void)ctl_store(c, STORE_READONLY);
		if (c->json)
			printf("[");
		rs = store_campaign_ls(c->st, pause_print, c, why,
		    sizeof(why));
		if (rs == STORE_OK && c->json)
			printf("]\n");
		return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
	}
	if (argc >= 2 && strcmp(argv[1], "pause") == 0)
		return campaign_pause(c, argc, argv);
	if (argc == 3 && strcmp(argv[1], "resume") == 0) {
		if (ctl_list_arg("campaign resume", "CAMPAIGN", argv[2]) !=
		    EX_OK)
			return EX_USAGE;
		(void)ctl_store(c, 0);
		rs = store_campaign_resume(c->st, argv[2], why, sizeof(why));
		if (rs != STORE_OK)
			return ctl_fail(rs, why);
		if (c->json) {
			printf("{\"campaign\":");
			ctl_json_str(stdout, argv[2]);
			printf(",\"resumed\":true}\n");
		} else {
			printf("resumed ");
			ctl_put_text(stdout, argv[2]);
			printf("\n");
		}
		return EX_OK;
	}
	return ctl_usage(argv[0]);
}

int
ctl_token_bounce(struct ctl *c, const char *raw, const char *list,
    const char *campaign)
{
	char addr[321], out[1024], why[256];
	const struct token_ring *ring;
	int ex;

	if (ctl_list_arg("token bounce", "LIST", list) != EX_OK)
		return EX_USAGE;
	(void)ctl_addr(raw, addr);
	if (c->cfg->bounce_address == NULL) {
		fprintf(stderr, "optinctl: BounceAddress is not set in %s\n",
		    c->cfg->file);
		return EX_CONFIG;
	}
	/* as token issue: a bounce address for no list maps to nothing */
	if ((ex = ctl_need_list(c, list)) != EX_OK)
		return ex;
	if ((ex = ctl_refuse_erased(c, "token bounce", addr,
	    "no bounce address is made for it")) != EX_OK)
		return ex;
	if ((ring = ctl_ring(c, why, sizeof(why))) == NULL) {
		fprintf(stderr, "optinctl: %s\n", why);
		return EX_CONFIG;
	}
	if (bounce_address(c->cfg->bounce_address, ring, addr, list, campaign,
	    token_day((long long)time(NULL)), out, sizeof(out), why,
	    sizeof(why)) < 0) {
		fprintf(stderr, "optinctl: %s\n", why);
		return EX_DATAERR;
	}
	if (c->json) {
		printf("{\"address\":");
		ctl_json_str(stdout, out);
		printf("}\n");
	} else
		printf("%s\n", out);
	return EX_OK;
}
