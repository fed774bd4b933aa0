/*
 * malloctune.h - glibc malloc settings for the long-running daemons
 * (optin-milter, optin-unsubd).  One home: both call malloc_tune() first
 * thing in main().
 *
 * glibc gives freed memory back to the kernel as soon as the free space at
 * the top of a heap passes M_TRIM_THRESHOLD (128 KiB by default): for a
 * daemon that allocates and frees the same amount for every request, that
 * is an madvise/brk per request, and on more than one CPU each such call
 * is a TLB shootdown (an IPI to every CPU running the process).  libmilter
 * runs every MTA connection in a thread of its own, so per-thread malloc
 * arenas fill and empty again with every message.  Measured in
 * BENCHMARKS.md: optin-unsubd 4.3x the one-click rate; the milter's figures
 * are in the section "Relay: native cost".
 */
#ifndef OPTIN_MALLOCTUNE_H
#define OPTIN_MALLOCTUNE_H

/* Keep up to MALLOC_TUNE_KEEP bytes of freed memory per heap instead of
 * returning it at once.  Call before any thread starts; a C library other
 * than glibc is left alone.  Never fails (a refused setting only costs
 * speed). */
void malloc_tune(void);

#define MALLOC_TUNE_KEEP (64 * 1024 * 1024)

#endif
