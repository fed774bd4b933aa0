/*
 * unsubd_writer.c - the writing threads of optin-unsubd (see
 * unsubd_writer.h): one queue, one store handle, one transaction per batch;
 * a second thread with a handle of its own waits for the disk.
 *
 * Why one writer: SQLite has one writer at a time anyway.  Handlers that
 * each ran BEGIN IMMEDIATE held an HTTP thread while waiting for the lock
 * (so four POSTs on a locked database stalled every GET) and paid a commit
 * per opt-out; here the wait is the writer's alone and a commit covers
 * every opt-out queued meanwhile.
 *
 * Why a syncer: the commit of a batch no longer waits for fdatasync
 * (STORE_SYNC_LATER); the writer hands the committed batch to the syncer
 * and applies the next one while the disk works.  The syncer takes every
 * batch committed so far, calls store_sync() once for all of them (every
 * commit it covers had returned before the call) and only then resumes
 * their connections.  Measured under wrk: the writer's cycle was apply +
 * commit + fsync one after the other (BENCHMARKS.md).
 *
 * Why a checkpointer: the checkpoint that copies the log into the database
 * file (store_wal_backfill, once per STORE_TRIM_MS) takes tens of ms
 * at thousands of opt-outs per second; run by the syncer, it held back the
 * answer of every opt-out committed meanwhile (the one-click p99).  A
 * third thread with a handle of its own runs it, once per period in which
 * something was synced; the syncer never waits for it.
 *
 * Invariants: a job is in the queue from submit until the writer takes it;
 * from a successful commit until the syncer takes it, it is in the synced
 * list (`done'); whoever answers it sets its outputs and JOB_DONE, then
 * resumes its connection and forgets it (the request may be freed right
 * after).  Both lists and the flags are under mu.
 */
#include "autoconf.h"

#include "unsubd_writer.h"
#include "unsubd-private.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "log.h"
#include "monotime.h"
#include "store.h"
#include "unsubd_metrics.h"

struct unsubd_writer {
	const struct config *cfg;	/* borrowed */
	pthread_t thread, syncer, ckpt;
	bool syncer_started, ckpt_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* the writer's: jobs queued */
	pthread_cond_t sync_cv;		/* the syncer's: batches committed */
	pthread_cond_t ckpt_cv;		/* the checkpointer's: stop (CLOCK_MONOTONIC) */
	unsigned long syncs;		/* under mu: syncs done so far */
	bool ckpt_stop;			/* under mu: the checkpointer ends */
	struct job *head, *tail;	/* under mu: queued */
	struct job *done, *done_tail;	/* under mu: committed, not synced */
	size_t done_batches;		/* under mu: batches in done */
	bool stopping;			/* under mu */
	bool stopped;			/* under mu: the writer has ended */
	struct store *st;		/* owned; writer thread only */
	struct store *sync_st;		/* owned; syncer thread only */
	struct store *ckpt_st;		/* owned; checkpointer thread only */
};

/* writer_take - wait for jobs; the queued ones (up to UNSUBD_BATCH_MAX),
 * or NULL once stopping and empty */
static struct job *
writer_take(struct unsubd_writer *w, size_t *n_r)
{
	struct job *batch, *j;
	size_t n = 1;

	(void)pthread_mutex_lock(&w->mu);
	while (w->head == NULL && !w->stopping)
		(void)pthread_cond_wait(&w->cv, &w->mu);
	if ((batch = w->head) != NULL) {
		for (j = batch; j->next != NULL && n < UNSUBD_BATCH_MAX;
		    j = j->next)
			n++;
		w->head = j->next;
		if (w->head == NULL)
			w->tail = NULL;
		j->next = NULL;
	} else {
		n = 0;
		w->stopped = true;
		(void)pthread_cond_signal(&w->sync_cv);	/* may end too */
	}
	(void)pthread_mutex_unlock(&w->mu);
	*n_r = n;
	return batch;
}

/* writer_apply - the batch in one transaction; STORE_OK or why it failed
 * (then rolled back) */
static enum store_status
writer_apply(struct unsubd_writer *w, struct job *batch, char *why,
    size_t whylen)
{
	enum store_status ss = STORE_ERROR;

	if (w->st == NULL && (w->st = store_open(w->cfg, STORE_DURABLE |
	    STORE_SYNC_LATER, &ss, why, whylen)) == NULL)
		return ss;
	/* an erasure never between an opt-out's read and its write */
	if ((ss = store_begin_change(w->st, why, whylen)) != STORE_OK)
		return ss;
	if ((ss = unsubd_act_apply(w->st, batch, why, whylen)) != STORE_OK ||
	    (ss = store_commit(w->st, why, whylen)) != STORE_OK)
		store_rollback(w->st);
	return ss;
}

/* writer_answer - set the outcome of every job of the list from j and
 * resume their connections (after this, the jobs are not ours) */
static void
writer_answer(struct job *j, enum store_status ss, const char *why)
{
	struct job *next;

	for (; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		if (ss != STORE_OK) {
			/* innocent or not, nothing of it is confirmed */
			j->ss = STORE_TEMPFAIL;
			snprintf(j->why, sizeof(j->why), "%s", why);
		}
		j->state = JOB_DONE;
		MHD_resume_connection(j->conn);	/* j is theirs now */
	}
}

/* writer_main - take a batch, apply it, hand it to the syncer */
static void *
writer_main(void *arg)
{
	struct unsubd_writer *w = arg;
	struct job *batch, *last;
	enum store_status ss;
	char why[256], safe[256];
	size_t n;

	while ((batch = writer_take(w, &n)) != NULL) {
		why[0] = '\0';
		ss = writer_apply(w, batch, why, sizeof(why));
		unsubd_metrics_write_batch(ss == STORE_OK, n);
		if (ss != STORE_OK) {
			(void)log_safe(why, safe, sizeof(safe));
			if (ss == STORE_TEMPFAIL)
				log_warnx("write batch n=%zu rolled back, "
				    "answered 503: %s", n, safe);
			else
				log_err("write batch n=%zu rolled back, "
				    "answered 503: %s", n, safe);
			writer_answer(batch, ss, why);
			continue;
		}
		log_debug("write batch n=%zu committed", n);
		for (last = batch; last->next != NULL; last = last->next)
			;
		(void)pthread_mutex_lock(&w->mu);
		if (w->done_tail != NULL)
			w->done_tail->next = batch;
		else
			w->done = batch;
		w->done_tail = last;
		w->done_batches++;
		(void)pthread_cond_signal(&w->sync_cv);
		(void)pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

/* syncer_main - every batch committed so far on disk with one
 * store_sync(), then answered; ends once the writer has ended and
 * nothing is left */
static void *
syncer_main(void *arg)
{
	struct unsubd_writer *w = arg;
	struct job *list;
	enum store_status ss;
	char why[256], safe[256];
	size_t nb, n;
	struct job *j;

	for (;;) {
		(void)pthread_mutex_lock(&w->mu);
		while (w->done == NULL && !w->stopped)
			(void)pthread_cond_wait(&w->sync_cv, &w->mu);
		list = w->done;
		nb = w->done_batches;
		w->done = w->done_tail = NULL;
		w->done_batches = 0;
		(void)pthread_mutex_unlock(&w->mu);
		if (list == NULL)
			break;		/* stopped, all answered */
		for (n = 0, j = list; j != NULL; j = j->next)
			n++;
		why[0] = '\0';
		ss = STORE_OK;
		if (w->sync_st == NULL)
			w->sync_st = store_open(w->cfg, STORE_DURABLE, &ss, why,
			    sizeof(why));
		if (w->sync_st != NULL)
			ss = store_sync(w->sync_st, why, sizeof(why));
		unsubd_metrics_write_sync(ss == STORE_OK);
		if (ss == STORE_OK)
			log_debug("write sync batches=%zu n=%zu on disk", nb, n);
		else {
			/* committed, so readers may see them, but not known
			 * to be on disk: a retry finds them applied or
			 * applies them (idempotent) */
			(void)log_safe(why, safe, sizeof(safe));
			log_err("write sync batches=%zu n=%zu failed, answered "
			    "503: %s", nb, n, safe);
			ss = STORE_TEMPFAIL;
		}
		writer_answer(list, ss, why);
		(void)pthread_mutex_lock(&w->mu);
		w->syncs++;
		(void)pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

/* ckpt_main - the checkpoint the writer's handle leaves out: once per
 * STORE_TRIM_MS in which the syncer synced anything, on a handle of its
 * own (it syncs the log first, so it never copies what is not on disk);
 * ends at unsubd_writer_stop, after the syncer */
static void *
ckpt_main(void *arg)
{
	struct unsubd_writer *w = arg;
	unsigned long seen = 0, now;
	enum store_status ss = STORE_OK;
	struct timespec due;
	char why[256], safe[256];
	bool stop, none = false;

	for (;;) {
		mono_after(&due, STORE_TRIM_MS);	/* a clock set back
							   stops nothing */
		(void)pthread_mutex_lock(&w->mu);
		while (!w->ckpt_stop && pthread_cond_timedwait(&w->ckpt_cv,
		    &w->mu, &due) != ETIMEDOUT)
			;
		stop = w->ckpt_stop;
		now = w->syncs;
		(void)pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		if (now == seen || none)
			continue;	/* nothing new in the log, or no log */
		seen = now;
		why[0] = '\0';
		if (w->ckpt_st == NULL &&
		    (w->ckpt_st = store_open(w->cfg, STORE_DURABLE, &ss, why,
		    sizeof(why))) != NULL &&
		    strcmp(store_engine(w->ckpt_st), "sqlite") != 0) {
			/* PostgreSQL: the server keeps its own log */
			store_close(&w->ckpt_st);
			none = true;
			continue;
		}
		if (w->ckpt_st != NULL)
			ss = store_wal_backfill(w->ckpt_st, why, sizeof(why));
		if (ss != STORE_OK) {
			(void)log_safe(why, safe, sizeof(safe));
			log_warnx("write checkpoint: %s", safe);
		}
	}
	return NULL;
}

struct unsubd_writer *
unsubd_writer_start(const struct config *cfg, char *why, size_t whylen)
{
	struct unsubd_writer *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	w->cfg = cfg;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		snprintf(why, whylen, "pthread_mutex_init failed");
		return NULL;
	}
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		(void)pthread_mutex_destroy(&w->mu);
		free(w);
		snprintf(why, whylen, "pthread_cond_init failed");
		return NULL;
	}
	if (pthread_cond_init(&w->sync_cv, NULL) != 0) {
		(void)pthread_cond_destroy(&w->cv);
		(void)pthread_mutex_destroy(&w->mu);
		free(w);
		snprintf(why, whylen, "pthread_cond_init failed");
		return NULL;
	}
	if (mono_cond_init(&w->ckpt_cv) != 0) {
		(void)pthread_cond_destroy(&w->sync_cv);
		(void)pthread_cond_destroy(&w->cv);
		(void)pthread_mutex_destroy(&w->mu);
		free(w);
		snprintf(why, whylen, "pthread_cond_init failed");
		return NULL;
	}
	if (pthread_create(&w->syncer, NULL, syncer_main, w) != 0) {
		snprintf(why, whylen, "cannot start the syncer thread");
		goto fail;
	}
	w->syncer_started = true;
	if (pthread_create(&w->ckpt, NULL, ckpt_main, w) != 0) {
		snprintf(why, whylen, "cannot start the checkpoint thread");
		goto fail;
	}
	w->ckpt_started = true;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		snprintf(why, whylen, "cannot start the writer thread");
		goto fail;
	}
	return w;
fail:
	(void)pthread_mutex_lock(&w->mu);
	w->stopped = true;
	w->ckpt_stop = true;
	(void)pthread_cond_signal(&w->sync_cv);
	(void)pthread_cond_signal(&w->ckpt_cv);
	(void)pthread_mutex_unlock(&w->mu);
	if (w->syncer_started)
		(void)pthread_join(w->syncer, NULL);
	if (w->ckpt_started)
		(void)pthread_join(w->ckpt, NULL);
	store_close(&w->ckpt_st);
	(void)pthread_cond_destroy(&w->ckpt_cv);
	(void)pthread_cond_destroy(&w->sync_cv);
	(void)pthread_cond_destroy(&w->cv);
	(void)pthread_mutex_destroy(&w->mu);
	free(w);
	return NULL;
}

bool
unsubd_writer_submit(struct unsubd_writer *w, struct job *job)
{
	bool ok;

	(void)pthread_mutex_lock(&w->mu);
	if ((ok = !w->stopped)) {
		job->state = JOB_QUEUED;
		job->next = NULL;
		if (w->tail != NULL)
			w->tail->next = job;
		else
			w->head = job;
		w->tail = job;
		(void)pthread_cond_signal(&w->cv);
	}
	(void)pthread_mutex_unlock(&w->mu);
	return ok;
}

void
unsubd_writer_stop(struct unsubd_writer **wp)
{
	struct unsubd_writer *w;

	if (wp == NULL || (w = *wp) == NULL)
		return;
	(void)pthread_mutex_lock(&w->mu);
	w->stopping = true;
	(void)pthread_cond_signal(&w->cv);
	(void)pthread_mutex_unlock(&w->mu);
	(void)pthread_join(w->thread, NULL);	/* then the syncer ends */
	(void)pthread_join(w->syncer, NULL);
	(void)pthread_mutex_lock(&w->mu);
	w->ckpt_stop = true;
	(void)pthread_cond_signal(&w->ckpt_cv);
	(void)pthread_mutex_unlock(&w->mu);
	(void)pthread_join(w->ckpt, NULL);
	store_close(&w->st);
	store_close(&w->sync_st);
	store_close(&w->ckpt_st);
	(void)pthread_cond_destroy(&w->ckpt_cv);
	(void)pthread_cond_destroy(&w->sync_cv);
	(void)pthread_cond_destroy(&w->cv);
	(void)pthread_mutex_destroy(&w->mu);
	free(w);
	*wp = NULL;
}
