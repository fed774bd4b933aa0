/*
 * unsubd_metrics.c - optin-unsubd's counters and their Prometheus
 * rendering (unsubd_metrics.h).  64-bit counters changed with relaxed
 * __atomic operations; the server (prom_http.c) renders in its own thread.
 */
#include "autoconf.h"

#include <stdio.h>
#include <time.h>

#include "prom.h"
#include "unsubd_metrics.h"

#define NSTATUS 600			/* HTTP status codes 100-599 */

static unsigned long long answers[NSTATUS];
static unsigned long long unsubs[2][2];		/* [all][changed] */
static unsigned long long batches[2], batch_jobs[2];	/* [committed] */
static unsigned long long syncs[2];			/* [ok] */
static double started;				/* before threads */
static struct prom_server *server;		/* main thread */

#define ADD(x) __atomic_add_fetch(&(x), 1ULL, __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void
unsubd_metrics_answer(unsigned status)
{
	if (status >= 100 && status < NSTATUS)
		ADD(answers[status]);
}

void
unsubd_metrics_unsubscribe(bool all, bool changed)
{
	ADD(unsubs[all][changed]);
}

/* render - the whole exposition (prom_render_fn); statuses never sent are
 * left out, the usual ones always there */
void
unsubd_metrics_write_batch(bool committed, size_t n)
{
	ADD(batches[committed]);
	__atomic_add_fetch(&batch_jobs[committed], (unsigned long long)n,
	    __ATOMIC_RELAXED);
}

void
unsubd_metrics_write_sync(bool ok)
{
	ADD(syncs[ok]);
}

/* render_pair - a counter family of two samples, result="r0" and "r1" */
static int
render_pair(struct buf *b, const char *name, const char *help,
    const char *r0, const char *r1, unsigned long long v[2])
{
	char labels[64];
	int rc, i;

	rc = prom_family(b, name, "counter", help);
	for (i = 0; i < 2; i++) {
		snprintf(labels, sizeof(labels), "result=\"%s\"", i ? r1 : r0);
		rc |= prom_sample(b, name, labels, GET(v[i]));
	}
	return rc;
}

static int
render(struct buf *b, void *arg)
{
	static const unsigned usual[] = { 200, 400, 503 };
	char labels[64];
	unsigned long long n;
	size_t i, j;
	int rc = 0;
	bool show;

	(void)arg;
	rc |= prom_family(b, "optin_unsubd_unsubscribes_total", "counter",
	    "One-click and form unsubscribes, by scope and whether they "
	    "changed anything.");
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			snprintf(labels, sizeof(labels), "scope=\"%s\","
			    "changed=\"%s\"", i ? "all" : "list", j ? "yes" :
			    "no");
			rc |= prom_sample(b, "optin_unsubd_unsubscribes_total",
			    labels, GET(unsubs[i][j]));
		}
	rc |= prom_family(b, "optin_unsubd_answers_total", "counter",
	    "HTTP answers by status (503: database unavailable or "
	    "stopping).");
	for (i = 100; i < NSTATUS; i++) {
		n = GET(answers[i]);
		for (j = 0, show = n > 0; j < sizeof(usual) / sizeof(usual[0]);
		    j++)
			show |= usual[j] == i;
		if (!show)
			continue;
		snprintf(labels, sizeof(labels), "status=\"%zu\"", i);
		rc |= prom_sample(b, "optin_unsubd_answers_total", labels, n);
	}
	rc |= render_pair(b, "optin_unsubd_write_batches_total",
	    "Write transactions of the writer thread (group commit), by "
	    "result.", "rolled_back", "committed", batches);
	rc |= render_pair(b, "optin_unsubd_write_jobs_total",
	    "Opt-outs and preference changes in those transactions.",
	    "rolled_back", "committed", batch_jobs);
	rc |= render_pair(b, "optin_unsubd_write_syncs_total",
	    "Syncs to disk, each covering every batch committed before it, "
	    "by result.", "failed", "ok", syncs);
	rc |= prom_family(b, "optin_unsubd_start_time_seconds", "gauge",
	    "When this optin-unsubd process started.");
	rc |= prom_sample_f(b, "optin_unsubd_start_time_seconds", NULL,
	    started);
	return rc != 0 ? -1 : 0;
}

int
unsubd_metrics_serve(const struct config *cfg)
{
	started = (double)time(NULL);
	server = prom_serve("UnsubscribeMetricsAddress",
	    cfg->unsubscribe_metrics_address,
	    (unsigned)cfg->http_request_timeout, render, NULL);
	return server == NULL && cfg->unsubscribe_metrics_address != NULL ?
	    -1 : 0;
}

void
unsubd_metrics_shutdown(void)
{
	prom_stop(&server);
}
