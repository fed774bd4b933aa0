/*
 * unsubd_metrics.h - optin-unsubd's live counters, served in Prometheus
 * text format on UnsubscribeMetricsAddress (prom.h; optin-unsubd(8) lists
 * them).  Its own address, not a path beside the pages: the pages sit
 * behind a reverse proxy on loopback, so "from loopback" would let the
 * internet read them.  Per process, since start-up, lock-free (__atomic);
 * any HTTP thread may count.
 */
#ifndef OPTIN_UNSUBD_METRICS_H
#define OPTIN_UNSUBD_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* One answer sent, by HTTP status (unsubd_respond). */
void unsubd_metrics_answer(unsigned status);

/* One unsubscribe applied: all (global) or one list; changed: it was not
 * in that state already. */
void unsubd_metrics_unsubscribe(bool all, bool changed);

/* The writer (unsubd_writer.c): one batch of n jobs committed (or rolled
 * back), one store_sync() of committed batches done (or failed). */
void unsubd_metrics_write_batch(bool committed, size_t n);
void unsubd_metrics_write_sync(bool ok);

/* Serve on cfg->unsubscribe_metrics_address when set (after the privilege
 * drop); 0 (also when unset) or -1 logged.  Main thread only. */
int unsubd_metrics_serve(const struct config *cfg);
void unsubd_metrics_shutdown(void);

#endif
