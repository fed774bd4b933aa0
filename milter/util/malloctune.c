/*
 * malloctune.c - glibc malloc settings for the daemons (malloctune.h).
 */
#include "autoconf.h"

/* first a C library header: it defines __GLIBC__ (features.h); without
 * one, the #ifdef below was false and mallopt() was never called */
#include <stdlib.h>

#ifdef __GLIBC__
#include <malloc.h>
#include <pthread.h>
#endif

#include "malloctune.h"

void
malloc_tune(void)
{
#ifdef __GLIBC__
	/* setting the trim threshold also ends glibc's sliding mmap
	 * threshold, which would otherwise rise and fall with the largest
	 * block freed */
	(void)mallopt(M_TRIM_THRESHOLD, MALLOC_TUNE_KEEP);
#endif
}

void
thread_stack_tune(void)
{
#ifdef __GLIBC__
	pthread_attr_t a;
	size_t now;

	if (pthread_getattr_default_np(&a) != 0)
		return;
	if (pthread_attr_getstacksize(&a, &now) == 0 &&
	    now > THREAD_STACK_SIZE &&
	    pthread_attr_setstacksize(&a, THREAD_STACK_SIZE) == 0)
		(void)pthread_setattr_default_np(&a);
	(void)pthread_attr_destroy(&a);
#endif
}
