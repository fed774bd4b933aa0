/*
 * http_conns.c - request deadlines of libmicrohttpd servers (http_conns.h).
 *
 * Each connection has a struct conn_ent in its socket context, linked into
 * the table from MHD_CONNECTION_NOTIFY_STARTED to _CLOSED.  libmicrohttpd
 * sends _CLOSED before it closes the socket, and the reaper shuts sockets
 * down only under the table's mutex, so it never touches a descriptor that
 * has been closed (and perhaps reused).
 */
#include "autoconf.h"

#include "http_conns.h"

#include <sys/socket.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "monotime.h"

struct conn_ent {
	MHD_socket fd;
	time_t deadline;		/* CLOCK_MONOTONIC seconds */
	bool busy;			/* being answered: no deadline */
	bool shut;			/* shut down already */
	struct conn_ent *prev, *next;	/* under the table's mutex */
};

struct http_conns {
	const char *key;		/* log prefix or NULL; static */
	unsigned secs;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* CLOCK_MONOTONIC: stop the reaper */
	pthread_t thread;
	bool stopping;			/* under mu */
	struct conn_ent *head;		/* under mu */
};

/* conns_reap - shut down every connection past its deadline */
static void
conns_reap(struct http_conns *t, time_t now)
{
	struct conn_ent *e;
	unsigned n = 0;

	for (e = t->head; e != NULL; e = e->next) {
		if (e->busy || e->shut || e->deadline > now)
			continue;
		(void)shutdown(e->fd, SHUT_RDWR);
		e->shut = true;
		n++;
	}
	if (n > 0)
		log_info("%s%sclosed %u connection%s that sent no complete "
		    "request within %u s", t->key ? t->key : "",
		    t->key ? ": " : "", n, n == 1 ? "" : "s", t->secs);
}

/* conns_main - the reaper: once a second until stopped */
static void *
conns_main(void *arg)
{
	struct http_conns *t = arg;
	struct timespec ts;

	(void)pthread_mutex_lock(&t->mu);
	while (!t->stopping) {
		mono_after(&ts, 1000);
		(void)pthread_cond_timedwait(&t->cv, &t->mu, &ts);
		if (!t->stopping)
			conns_reap(t, mono_s());
	}
	(void)pthread_mutex_unlock(&t->mu);
	return NULL;
}

struct http_conns *
http_conns_start(const char *key, unsigned request_secs, char *why,
    size_t whylen)
{
	struct http_conns *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	t->key = key;
	t->secs = request_secs;
	if (pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t);
		snprintf(why, whylen, "pthread_mutex_init failed");
		return NULL;
	}
	if (mono_cond_init(&t->cv) != 0) {
		(void)pthread_mutex_destroy(&t->mu);
		free(t);
		snprintf(why, whylen, "pthread_cond_init failed");
		return NULL;
	}
	if (pthread_create(&t->thread, NULL, conns_main, t) != 0) {
		(void)pthread_cond_destroy(&t->cv);
		(void)pthread_mutex_destroy(&t->mu);
		free(t);
		snprintf(why, whylen, "cannot start the deadline thread");
		return NULL;
	}
	return t;
}

void
http_conns_notify(void *cls, struct MHD_Connection *c,
    void **socket_context, enum MHD_ConnectionNotificationCode toe)
{
	struct http_conns *t = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn_ent *e = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL || (e = calloc(1, sizeof(*e))) == NULL)
			return;	/* out of memory: no deadline for this one */
		e->fd = ci->connect_fd;
		e->deadline = mono_s() + (time_t)t->secs;
		(void)pthread_mutex_lock(&t->mu);
		e->next = t->head;
		if (t->head != NULL)
			t->head->prev = e;
		t->head = e;
		(void)pthread_mutex_unlock(&t->mu);
		*socket_context = e;
		return;
	}
	if (e == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	(void)pthread_mutex_unlock(&t->mu);
	free(e);
	*socket_context = NULL;
}

void
http_conns_busy(struct http_conns *t, struct MHD_Connection *c,
    bool busy)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_ent *e;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (e = ci->socket_context) == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	e->busy = busy;
	if (!busy)
		e->deadline = mono_s() + (time_t)t->secs;
	(void)pthread_mutex_unlock(&t->mu);
}

void
http_conns_stop(struct http_conns **tp)
{
	struct http_conns *t;
	struct conn_ent *e, *next;

	if (tp == NULL || (t = *tp) == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	t->stopping = true;
	(void)pthread_cond_signal(&t->cv);
	(void)pthread_mutex_unlock(&t->mu);
	(void)pthread_join(t->thread, NULL);
	for (e = t->head; e != NULL; e = next) {	/* none, normally */
		next = e->next;
		free(e);
	}
	(void)pthread_cond_destroy(&t->cv);
	(void)pthread_mutex_destroy(&t->mu);
	free(t);
	*tp = NULL;
}
