/*
 * unsubd_writer.c - the writing thread of optin-unsubd (see
 * unsubd_writer.h): one queue, one store handle, one transaction per batch.
 *
 * Why one writer: SQLite has one writer at a time anyway.  Handlers that
 * each ran BEGIN IMMEDIATE held an HTTP thread while waiting for the lock
 * (so four POSTs on a locked database stalled every GET) and paid a commit
 * per opt-out; here the wait is the writer's alone and a commit covers
 * every opt-out queued meanwhile.
 *
 * Invariants: a job is in the queue from submit until the writer takes it;
 * the writer sets its outputs and JOB_DONE, then resumes its connection and
 * forgets it (the request may be freed right after).  The queue and the
 * stopping flag are under mu.
 */
#include "autoconf.h"

#include "unsubd_writer.h"
#include "unsubd-private.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "log.h"
#include "store.h"

struct unsubd_writer {
	const struct config *cfg;	/* borrowed */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;	/* under mu */
	bool stopping;			/* under mu */
	bool stopped;			/* under mu: the thread has ended */
	struct store *st;		/* owned; writer thread only */
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
	struct job *j;

	if (w->st == NULL && (w->st = store_open(w->cfg, STORE_DURABLE, &ss,
	    why, whylen)) == NULL)
		return ss;
	if ((ss = store_begin(w->st, why, whylen)) != STORE_OK)
		return ss;
	for (j = batch; j != NULL; j = j->next) {
		j->why[0] = '\0';
		j->ss = unsubd_act_apply(w->st, j, j->why, sizeof(j->why));
		if (j->ss != STORE_OK && j->ss != STORE_NOTFOUND) {
			snprintf(why, whylen, "%s", j->why);
			store_rollback(w->st);
			return j->ss;
		}
	}
	if ((ss = store_commit(w->st, why, whylen)) != STORE_OK)
		store_rollback(w->st);
	return ss;
}

/* writer_main - take a batch, apply it, resume its connections */
static void *
writer_main(void *arg)
{
	struct unsubd_writer *w = arg;
	struct job *batch, *j, *next;
	enum store_status ss;
	char why[256], safe[256];
	size_t n;

	while ((batch = writer_take(w, &n)) != NULL) {
		why[0] = '\0';
		ss = writer_apply(w, batch, why, sizeof(why));
		if (ss == STORE_OK)
			log_debug("write batch n=%zu committed", n);
		else {
			(void)log_safe(why, safe, sizeof(safe));
			if (ss == STORE_TEMPFAIL)
				log_warnx("write batch n=%zu rolled back, "
				    "answered 503: %s", n, safe);
			else
				log_err("write batch n=%zu rolled back, "
				    "answered 503: %s", n, safe);
		}
		for (j = batch; j != NULL; j = next) {
			next = j->next;
			j->next = NULL;
			if (ss != STORE_OK) {
				/* innocent or not, nothing of it was kept */
				j->ss = STORE_TEMPFAIL;
				snprintf(j->why, sizeof(j->why), "%s", why);
			}
			j->state = JOB_DONE;
			MHD_resume_connection(j->conn);	/* j is theirs now */
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
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		(void)pthread_cond_destroy(&w->cv);
		(void)pthread_mutex_destroy(&w->mu);
		free(w);
		snprintf(why, whylen, "cannot start the writer thread");
		return NULL;
	}
	return w;
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
	(void)pthread_join(w->thread, NULL);
	store_close(&w->st);
	(void)pthread_cond_destroy(&w->cv);
	(void)pthread_mutex_destroy(&w->mu);
	free(w);
	*wp = NULL;
}
