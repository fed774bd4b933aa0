/*
 * ctl_import_ckpt.c - the checkpointer of optinctl import (ctl_import.h).
 *
 * Why a thread: with SQLite's automatic checkpoint the import's writer
 * copied the log into the database file itself, inside every few commits:
 * reading the frames back, writing them again and two fdatasync(2) calls,
 * about a third of its wall time (perf trace of 1,000,000 rows: 262
 * fdatasync, 81,360 pread, half of 272,026 pwrite), while the parser
 * thread waited for it most of the time.  Here that work runs beside the
 * writer, on the other core, and the writer only appends to the log.
 *
 * A checkpoint never waits for the writer, and the writer never waits for
 * a checkpoint but every IMPORT_CKPT_DRAIN commits (and at the end): then
 * it waits, outside its transaction (the write lock free for others), for
 * one that covers all it committed, so that its next transaction can
 * start the log from its beginning and the log does not grow with the
 * import.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "ctl_import.h"

/* ckpt_main - checkpoint whenever a commit asks for one; until stopped */
static void *
ckpt_main(void *arg)
{
	struct import_ckpt *k = arg;
	enum store_status ss;
	unsigned long want;
	char why[sizeof(k->why)];

	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (k->done == k->asked && !k->stop)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->done == k->asked)
			break;
		want = k->asked;
		pthread_mutex_unlock(&k->mu);
		ss = store_wal_backfill(k->st, why, sizeof(why));
		pthread_mutex_lock(&k->mu);
		if (ss != STORE_OK && k->ss == STORE_OK) {
			k->ss = ss;
			memcpy(k->why, why, sizeof(k->why));
		}
		/* frames left (a reader of an older snapshot, another
		 * connection's checkpoint): the next commit asks again */
		k->done = want;
		pthread_cond_broadcast(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

int
import_ckpt_start(struct import_ckpt *k, const struct config *cfg)
{
	enum store_status ss = STORE_ERROR;
	char why[512];

	if ((k->st = store_open(cfg, 0, &ss, why, sizeof(why))) == NULL)
		return ctl_fail(ss, why);
	(void)pthread_mutex_init(&k->mu, NULL);
	(void)pthread_cond_init(&k->cv, NULL);
	k->ss = STORE_OK;
	if (pthread_create(&k->tid, NULL, ckpt_main, k) != 0) {
		fprintf(stderr, "optinctl import: cannot start a thread\n");
		(void)import_ckpt_stop(k);
		return EX_OSERR;
	}
	k->running = true;
	return 0;
}

/* ckpt_status - the first failure of the checkpointer, reported once;
 * call with k->mu held */
static int
ckpt_status(struct import_ckpt *k)
{
	int rc;

	if (k->ss == STORE_OK)
		return 0;
	rc = ctl_fail(k->ss, k->why);
	k->ss = STORE_OK;
	return rc;
}

int
import_ckpt_commit(struct import_ckpt *k, unsigned long n)
{
	int rc;

	if (!k->running)
		return 0;
	pthread_mutex_lock(&k->mu);
	k->asked = n;
	pthread_cond_broadcast(&k->cv);
	if (n % IMPORT_CKPT_DRAIN == 0)
		while (k->done < n)
			pthread_cond_wait(&k->cv, &k->mu);
	rc = ckpt_status(k);
	pthread_mutex_unlock(&k->mu);
	return rc;
}

int
import_ckpt_stop(struct import_ckpt *k)
{
	int rc = 0;

	if (k->running) {
		pthread_mutex_lock(&k->mu);
		k->stop = true;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->mu);
		(void)pthread_join(k->tid, NULL);
		k->running = false;
		rc = ckpt_status(k);
	}
	if (k->st != NULL) {
		(void)pthread_cond_destroy(&k->cv);
		(void)pthread_mutex_destroy(&k->mu);
		store_close(&k->st);
	}
	return rc;
}
