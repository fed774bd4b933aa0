/*
 * monotime.h - the monotonic clock (CLOCK_MONOTONIC) for deadlines and
 * timed waits that a change of the wall clock must not move.
 */
#ifndef OPTIN_MONOTIME_H
#define OPTIN_MONOTIME_H

#include <pthread.h>
#include <time.h>

/* Seconds on the monotonic clock (for deadlines counted in seconds). */
time_t mono_s(void);

/* *ts = the monotonic clock now plus ms milliseconds (ms >= 0): the
 * deadline for pthread_cond_timedwait() on a condition from
 * mono_cond_init(). */
void mono_after(struct timespec *ts, long ms);

/* Initialise *cv so that its timed waits count on the monotonic clock.
 * 0, or the error number of pthread_condattr_* / pthread_cond_init()
 * (then *cv is not initialised).  Destroy with pthread_cond_destroy(). */
int mono_cond_init(pthread_cond_t *cv);

#endif
