/*
 * metrics.h - optin-milter's live counters, served in Prometheus text
 * format on MetricsAddress (prom.h; optin-milter(8) lists them).
 *
 * Per process, since start-up; lock-free (__atomic built-ins), so any
 * connection thread may count.  The hooks are one call each at the place
 * where the thing happens; counting is cheap and never fails, so it
 * happens whether MetricsAddress is set or not.
 */
#ifndef OPTIN_MILTER_METRICS_H
#define OPTIN_MILTER_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "consent.h"
#include "eom.h"
#include "spf.h"

/* The counters without labels. */
enum metric {
	METRIC_QUARANTINE_ROWS,		/* quarantine rows committed */
	METRIC_DB_ERRORS,		/* OnDBError applied (eom_db_error) */
	METRIC_SIGN_FAILURES,		/* signing failed or missed h= */
	METRIC_SPLIT_COPIES,		/* split copies re-submitted */
	METRIC_NCOUNTERS
};

/* Add n to counter k. */
void metrics_add(enum metric k, size_t n);

/* One message decision (the tally behind its log line): recipients by
 * consent reason, by_reason[CONSENT_NREASONS], and split copies
 * re-submitted. */
void metrics_decision(const size_t *by_reason, size_t resubmitted);

/* A message's verdict at end of message; kind is "campaign",
 * "transactional" or "unsubscribe" (static string). */
void metrics_message(const char *kind, enum verdict_kind verdict);

/* One outbound SPF preflight result. */
void metrics_spf(enum spf_result r);

/* One reload (SIGUSR1): whether it took, when it ended (wall clock) and
 * how long it took, in seconds. */
void metrics_reload(bool ok, double ended, double seconds);

/* A message begins (+1) or ends (-1): the in-flight gauge. */
void metrics_in_flight(int delta);

/*
 * Serve the counters on cfg->metrics_address when set (after daemon() and
 * the privilege drop; the address needs no root).  0 (also when unset), or
 * -1 logged.  The server lives until metrics_shutdown().  Main thread only.
 */
int metrics_serve(const struct config *cfg);
void metrics_shutdown(void);

#endif
