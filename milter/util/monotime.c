/*
 * monotime.c - the monotonic clock for deadlines and timed waits
 * (monotime.h).
 */
#include "autoconf.h"

#include "monotime.h"

time_t
mono_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void
mono_after(struct timespec *ts, long ms)
{
	(void)clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
mono_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int rc;

	if ((rc = pthread_condattr_init(&a)) != 0)
		return rc;
	if ((rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(cv, &a);
	(void)pthread_condattr_destroy(&a);
	return rc;
}
