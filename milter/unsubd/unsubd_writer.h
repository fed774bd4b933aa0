/*
 * unsubd_writer.h - optin-unsubd's one writing thread: group commit of the
 * opt-outs and preference changes that the HTTP threads hand over.
 *
 * A handler that has a write to do suspends its connection
 * (MHD_suspend_connection) and submits the request's struct job; it never
 * waits for the database lock itself, so GETs stay answerable while writes
 * wait.  The writer takes every job queued so far (at most
 * UNSUBD_BATCH_MAX), applies them in one transaction (unsubd_act_apply),
 * commits with synchronous=FULL (STORE_DURABLE: the commit is on disk),
 * and only then resumes their connections: a 200 means the opt-out is
 * durable.  When anything of a batch fails (begin, a job, the commit),
 * the batch is rolled back and every job of it gets STORE_TEMPFAIL (503
 * with Retry-After): nothing of it is half-applied.
 *
 * Threads: submit from any thread; start and stop from one.
 */
#ifndef OPTIN_UNSUBD_WRITER_H
#define OPTIN_UNSUBD_WRITER_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct job;
struct unsubd_writer;		/* opaque */

#define UNSUBD_BATCH_MAX	512	/* jobs per transaction */

/* Start the thread (cfg borrowed, must outlive it); NULL with why[]. */
struct unsubd_writer *unsubd_writer_start(const struct config *cfg,
	    char *why, size_t whylen);

/*
 * Queue job; its connection (job->conn) must be suspended already.  The
 * writer sets job->state to JOB_DONE and resumes job->conn; from then on
 * it does not touch job.  false when the writer has stopped (job
 * untouched; the caller answers itself).
 */
bool unsubd_writer_submit(struct unsubd_writer *w, struct job *job);

/* Finish every queued job, stop and join the thread, close its store.
 * Accepts NULL; sets *wp to NULL. */
void unsubd_writer_stop(struct unsubd_writer **wp);

#endif
