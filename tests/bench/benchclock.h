/*
 * benchclock.h - the clock and the order of latencies shared by the
 * benchmark's C tools (lookup.c, syncprobe.c): header-only, so that each
 * tool stays one file for run.sh to compile.
 */
#ifndef OPTIN_BENCHCLOCK_H
#define OPTIN_BENCHCLOCK_H

#include <stdint.h>
#include <time.h>

/* now_ns - monotonic clock in nanoseconds */
static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* cmp_u32 - qsort order for latencies held as uint32_t */
static inline int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

#endif
