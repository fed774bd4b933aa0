/*
 * metrics.c - optin-milter's counters and their Prometheus rendering
 * (metrics.h).  Every counter is a 64-bit integer changed with relaxed
 * __atomic operations: a scrape may see one counter a message ahead of
 * another, never a torn value.  The server (prom_http.c) renders in its
 * own thread.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "prom.h"

#define NKINDS		3		/* campaign, transactional, unsubscribe */
#define NVERDICTS	4		/* enum verdict_kind */
#define NSPF		(SPFR_PERMERROR + 1)

static const char *const kinds[NKINDS] = {
	"campaign", "transactional", "unsubscribe",
};
static const char *const verdicts[NVERDICTS] = {
	[VERDICT_ACCEPT] = "accepted", [VERDICT_DISCARD] = "discarded",
	[VERDICT_TEMPFAIL] = "tempfailed", [VERDICT_REJECT] = "rejected",
};

static unsigned long long counters[METRIC_NCOUNTERS];
static unsigned long long recipients[CONSENT_NREASONS];
static unsigned long long messages[NKINDS][NVERDICTS];
static unsigned long long spf_results[NSPF];
static unsigned long long reloads[2];		/* failed, ok */
static long long in_flight;
static double last_reload, last_reload_seconds;	/* under reload_lock */
static int reload_lock;				/* __atomic spin flag */
static double started;				/* written before threads */
static struct prom_server *server;		/* main thread */

#define ADD(x, n) __atomic_add_fetch(&(x), (n), __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void
metrics_add(enum metric k, size_t n)
{
	if ((unsigned)k < METRIC_NCOUNTERS)
		ADD(counters[k], (unsigned long long)n);
}

void
metrics_decision(const size_t *by_reason, size_t resubmitted)
{
	size_t r;

	if (resubmitted > 0)
		ADD(counters[METRIC_SPLIT_COPIES],
		    (unsigned long long)resubmitted);
	for (r = 0; r < CONSENT_NREASONS; r++)
		if (by_reason[r] > 0)
			ADD(recipients[r], (unsigned long long)by_reason[r]);
}

void
metrics_message(const char *kind, enum verdict_kind verdict)
{
	size_t k;

	for (k = 0; k < NKINDS; k++)
		if (strcmp(kinds[k], kind) == 0 && (unsigned)verdict <
		    NVERDICTS)
			ADD(messages[k][verdict], 1ULL);
}

void
metrics_spf(enum spf_result r)
{
	if ((unsigned)r < NSPF)
		ADD(spf_results[r], 1ULL);
}

void
metrics_reload(bool ok, double ended, double seconds)
{
	ADD(reloads[ok ? 1 : 0], 1ULL);
	/* two doubles that go together: one writer (the reload thread),
	 * a short spin against a reader in the middle */
	while (__atomic_test_and_set(&reload_lock, __ATOMIC_ACQUIRE))
		;
	last_reload = ended;
	last_reload_seconds = seconds;
	__atomic_clear(&reload_lock, __ATOMIC_RELEASE);
}

void
metrics_in_flight(int delta)
{
	ADD(in_flight, (long long)delta);
}

/* one - a family with one unlabelled sample */
static int
one(struct buf *b, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	return prom_family(b, name, type, help) | prom_sample(b, name, NULL,
	    v);
}

/* render - the whole exposition (prom_render_fn) */
static int
render(struct buf *b, void *arg)
{
	char labels[128];
	double ended, secs;
	long long fl;
	size_t i, j;
	int rc = 0;

	(void)arg;
	rc |= prom_family(b, "optin_recipients_total", "counter",
	    "Campaign recipients decided, by decision and consent reason.");
	for (i = 0; i < CONSENT_NREASONS; i++) {
		snprintf(labels, sizeof(labels), "decision=\"%s\",reason=\"%s\"",
		    i == CONSENT_DELIVER ? "allowed" : "blocked",
		    consent_reason_str((enum consent_reason)i));
		rc |= prom_sample(b, "optin_recipients_total", labels,
		    GET(recipients[i]));
	}
	rc |= prom_family(b, "optin_messages_total", "counter",
	    "Messages at end of message, by kind and outcome.");
	for (i = 0; i < NKINDS; i++)
		for (j = 0; j < NVERDICTS; j++) {
			snprintf(labels, sizeof(labels), "kind=\"%s\","
			    "outcome=\"%s\"", kinds[i], verdicts[j]);
			rc |= prom_sample(b, "optin_messages_total", labels,
			    GET(messages[i][j]));
		}
	rc |= one(b, "optin_quarantine_rows_total", "counter",
	    "Quarantine rows written (one per held recipient).",
	    GET(counters[METRIC_QUARANTINE_ROWS]));
	rc |= one(b, "optin_split_copies_total", "counter",
	    "Split copies re-submitted.", GET(counters[METRIC_SPLIT_COPIES]));
	rc |= one(b, "optin_db_errors_total", "counter",
	    "Messages handled as OnDBError says (database unavailable).",
	    GET(counters[METRIC_DB_ERRORS]));
	rc |= one(b, "optin_signing_failures_total", "counter",
	    "DKIM signing failures (message tempfailed).",
	    GET(counters[METRIC_SIGN_FAILURES]));
	rc |= prom_family(b, "optin_spf_results_total", "counter",
	    "Outbound SPF preflight results of campaign mail.");
	for (i = 0; i < NSPF; i++) {
		snprintf(labels, sizeof(labels), "result=\"%s\"",
		    spf_result_str((enum spf_result)i));
		rc |= prom_sample(b, "optin_spf_results_total", labels,
		    GET(spf_results[i]));
	}
	rc |= prom_family(b, "optin_reloads_total", "counter",
	    "Reloads (SIGUSR1), by result.");
	rc |= prom_sample(b, "optin_reloads_total", "result=\"ok\"",
	    GET(reloads[1]));
	rc |= prom_sample(b, "optin_reloads_total", "result=\"failed\"",
	    GET(reloads[0]));
	while (__atomic_test_and_set(&reload_lock, __ATOMIC_ACQUIRE))
		;
	ended = last_reload;
	secs = last_reload_seconds;
	__atomic_clear(&reload_lock, __ATOMIC_RELEASE);
	rc |= prom_family(b, "optin_last_reload_timestamp_seconds", "gauge",
	    "When the last reload ended (0: none yet).");
	rc |= prom_sample_f(b, "optin_last_reload_timestamp_seconds", NULL,
	    ended);
	rc |= prom_family(b, "optin_last_reload_duration_seconds", "gauge",
	    "How long the last reload took.");
	rc |= prom_sample_f(b, "optin_last_reload_duration_seconds", NULL,
	    secs);
	fl = GET(in_flight);
	rc |= one(b, "optin_messages_in_flight", "gauge",
	    "Messages between MAIL FROM and their end.",
	    fl > 0 ? (unsigned long long)fl : 0ULL);
	rc |= prom_family(b, "optin_start_time_seconds", "gauge",
	    "When this optin-milter process started.");
	rc |= prom_sample_f(b, "optin_start_time_seconds", NULL, started);
	return rc != 0 ? -1 : 0;
}

int
metrics_serve(const struct config *cfg)
{
	started = (double)time(NULL);
	server = prom_serve("MetricsAddress", cfg->metrics_address,
	    (unsigned)cfg->http_request_timeout, render, NULL);
	return server == NULL && cfg->metrics_address != NULL ? -1 : 0;
}

void
metrics_shutdown(void)
{
	prom_stop(&server);
}
