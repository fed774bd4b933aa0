/*
 * malloctune.h - glibc malloc settings for the long-running daemons
 * (optin-milter, optin-unsubd).  One home: both call malloc_tune() first
 * thing in main(); optin-milter also calls thread_stack_tune().
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

/*
 * Thread stacks.  libmilter's worker pool starts a thread when every worker
 * is busy and lets it end when it is idle, so with a few dozen MTA
 * connections threads come and go all the time (through Postfix, 1.5
 * pthread_create per message).  glibc keeps the stacks of ended threads for
 * reuse, but only up to 40 MiB in all: with its default stack size (the
 * stack rlimit, 8 MiB) that is five stacks, and every other new thread
 * maps a fresh stack, takes page faults to touch it, and unmaps it at its
 * end.  thread_stack_tune() lowers the default stack size of threads
 * created without their own size to THREAD_STACK_SIZE (never raises it),
 * so that 40 stacks stay cached.  The deepest path of the milter (libmilter,
 * libopendkim, OpenSSL, SQLite, libspf2) uses far less: its largest local
 * buffers are a few KiB.  Call before any thread starts; glibc only; never
 * fails (a refused setting only costs speed).
 */
void thread_stack_tune(void);

#define THREAD_STACK_SIZE (1024 * 1024)

#endif
